/*  Tests of src/common: error names and texts, the hash helper, the clock
 *  readers and the map. */
#include "mpp_hash.h"
#include "mpp_internal.h"
#include "mpp_map.h"

#include "mpp_test.h"

#include <errno.h>

/*  Issue 9, item 5: mpp_err_name returned "ERRNO" for every errno value,
 *  against its documentation. */
MPP_TEST(err_name)
{
    ASSERT_STR_EQ(mpp_err_name(MPP_OK), "OK");
    ASSERT_STR_EQ(mpp_err_name(MPP_EPROTO), "EPROTO");
    ASSERT_STR_EQ(mpp_err_name(MPP_ENOMEM), "ENOMEM");
    ASSERT_STR_EQ(mpp_err_name(MPP_EUSAGE), "EUSAGE");
    ASSERT_STR_EQ(mpp_err_name(-ENOENT), "ENOENT");
    ASSERT_STR_EQ(mpp_err_name(-EACCES), "EACCES");
    ASSERT_STR_EQ(mpp_err_name(-ENOMEM), "ENOMEM");
    ASSERT_STR_EQ(mpp_err_name(-EPIPE), "EPIPE");
    ASSERT_STR_EQ(mpp_err_name(-900), "ERRNO"); /* no such errno */
    ASSERT_STR_EQ(mpp_err_name(5), "UNKNOWN");
    ASSERT_STR_EQ(mpp_err_name(MPP__EFIRST), "UNKNOWN");
}

MPP_TEST(strerror)
{
    ASSERT_STR_EQ(mpp_strerror(MPP_OK), "success");
    ASSERT_STR_EQ(mpp_strerror(MPP_ETOKEN), "message from a foreign session");
    ASSERT_STR_EQ(mpp_strerror(-ENOENT), strerror(ENOENT));
    ASSERT_STR_EQ(mpp_strerror(7), "unknown error");
}

/* FNV-1a's published 64-bit test vectors, and the helpers built on it. */
MPP_TEST(hash)
{
    ASSERT_EQ(mpp_hash_str(""), UINT64_C(0xcbf29ce484222325));
    ASSERT_EQ(mpp_hash_str("a"), UINT64_C(0xaf63dc4c8601ec8c));
    ASSERT_EQ(mpp_hash_str("foobar"), UINT64_C(0x85944171f73967e8));
    ASSERT_EQ(mpp_hash_bytes("foobar", 6), mpp_hash_str("foobar"));
    ASSERT_EQ(mpp_hash_str_from(mpp_hash_str("foo"), "bar"),
              mpp_hash_str("foobar"));
    ASSERT_EQ(mpp_hash_bytes_from(mpp_hash_str("foo"), "bar", 3),
              mpp_hash_str("foobar"));
    /* The finalizer is a bijection that moves 0 nowhere and spreads
     * neighbours apart. */
    ASSERT_EQ(mpp_hash_mix64(0), 0);
    ASSERT_NE(mpp_hash_mix64(1) & 0xffff, mpp_hash_mix64(2) & 0xffff);
    ASSERT_EQ(mpp_hash_fib(1), MPP_HASH_GOLDEN);
}

MPP_TEST(clock)
{
    int64_t a = mpp_clock_mono_ns();
    int64_t b = mpp_clock_now_ns(CLOCK_MONOTONIC);
    ASSERT_LE(a, b);
    ASSERT_GT(a, 0);
    /* The realtime clock is after 2020 on any machine that runs this. */
    ASSERT_GT(mpp_clock_real_ns(), INT64_C(1577836800) * 1000000000);
    /* The older names still read the same clocks. */
    ASSERT_LE(b, mpp_now_mono_ns());
}

MPP_TEST(map)
{
    mpp_map_t *m = mpp_map_new();
    ASSERT(m != NULL);
    uint32_t v = 0;
    ASSERT(!mpp_map_get(m, 0, &v));
    for (uint64_t k = 0; k < 10000; k++) {
        ASSERT_EQ(mpp_map_put(m, k * 7919, (uint32_t)k), 0);
    }
    ASSERT_EQ(mpp_map_put(m, UINT64_MAX, 5), 0);
    ASSERT_EQ(mpp_map_size(m), 10001);
    for (uint64_t k = 0; k < 10000; k++) {
        ASSERT(mpp_map_get(m, k * 7919, &v));
        ASSERT_EQ(v, k);
    }
    ASSERT(mpp_map_get(m, UINT64_MAX, &v) && v == 5);
    ASSERT(!mpp_map_get(m, 1, &v));
    mpp_map_destroy(&m);
    ASSERT(m == NULL);
}

/* The inverse of mpp_hash_mix64, to make up keys with chosen hashes. */
static uint64_t
s_unmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0x9cb4b2f8129337db);
    h ^= h >> 33;
    h *= UINT64_C(0x4f74430c22a54005);
    h ^= h >> 33;
    return h;
}

/*  Keys come from the wire, and without a seed a sender could make up
 *  keys whose hashes share their low bits, so that every insertion walks
 *  every earlier one: 100,000 such keys took minutes.  With the seed they
 *  spread like any others. */
MPP_TEST(map_resists_flooding)
{
    enum { N = 100000 };
    ASSERT_EQ(mpp_hash_mix64(s_unmix64(12345)), 12345);
    mpp_map_t *m = mpp_map_new();
    ASSERT(m != NULL);
    double t0 = (double)mpp_clock_mono_ns() / 1e9;
    for (uint64_t i = 0; i < N; i++) {
        ASSERT_EQ(mpp_map_put(m, s_unmix64(i << 24), (uint32_t)i), 0);
    }
    double dt = (double)mpp_clock_mono_ns() / 1e9 - t0;
    ASSERT_EQ(mpp_map_size(m), N);
    uint32_t v;
    ASSERT(mpp_map_get(m, s_unmix64((uint64_t)(N - 1) << 24), &v));
    ASSERT_EQ(v, N - 1);
    mpp_map_destroy(&m);
    ASSERT_LT(dt, 2.0);
}

int
main(int argc, char **argv)
{
    MPP_RUN(err_name);
    MPP_RUN(strerror);
    MPP_RUN(hash);
    MPP_RUN(clock);
    MPP_RUN(map);
    MPP_RUN(map_resists_flooding);
    return mpp_test_done(argc, argv);
}
