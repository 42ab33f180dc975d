/*  Tests of the wire codec: round trips of every message type, encoding
 *  limits, and the decoder on broken input of every kind it can meet on
 *  the aggregator's socket (prefixes, flipped bytes, garbage, counts and
 *  nesting out of proportion, oversize frames) and at the aggregator's
 *  load.  The decoder's reading of each field is in test_wire_decode.c. */
#include "wire_fixture.h"

/* ---- round trips -------------------------------------------------------- */

MPP_TEST(roundtrip_hello)
{
    mpp_msg_t in = mpp_wt_hello(), out;
    mpp_buf_t b;
    mpp_wt_encode(&in, &b);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    ASSERT_EQ(out.version, MPP_WIRE_VERSION);
    ASSERT_STREQ(out.token, TOKEN);
    ASSERT_EQ(out.pid, 4242);
    ASSERT_EQ(out.seq, 0);
    ASSERT_EQ(out.type, MPP_MSG_HELLO);
    ASSERT_EQ(out.ppid, -1);
    ASSERT_STREQ(out.start_method, "spawn");
    ASSERT_STREQ(out.python, "3.11.7");
    ASSERT_STREQ(out.name, "SpawnPoolWorker-3");
    ASSERT(out.start_ns == INT64_C(1700000000123456789));
    ASSERT_EQ(out.argc, MPP_WT_ARGC);
    for (size_t i = 0; i < out.argc; i++) {
        ASSERT_STREQ(out.argv[i], mpp_wt_argv[i]);
    }
    /* Fields of other types come back zeroed. */
    ASSERT_EQ(out.wall_ns, 0);
    ASSERT_EQ(out.exit_kind, 0);
    ASSERT(out.funcs == NULL && out.threads == NULL && out.spans == NULL);
    ASSERT(out.arena_ != NULL);
    mpp_msg_clear(&out);
    ASSERT(mpp_wt_is_zero(&out));
    mpp_msg_clear(&out); /* clearing twice is harmless */

    /* Absent optional fields stay absent; an empty argv stays non-NULL. */
    in.start_method = in.python = in.name = NULL;
    in.argc = 0;
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&in, &b), 0);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    ASSERT(out.start_method == NULL && out.python == NULL);
    ASSERT(out.name == NULL);
    ASSERT(out.argv != NULL);
    ASSERT_EQ(out.argc, 0);
    mpp_msg_clear(&out);
    in.argv = NULL;
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&in, &b), 0);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    ASSERT(out.argv == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

MPP_TEST(roundtrip_data)
{
    mpp_msg_t in = mpp_wt_data(), out;
    mpp_buf_t b;
    mpp_wt_encode(&in, &b);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    mpp_wt_check_data(&in, &out);
    mpp_msg_clear(&out);

    /* A DATA message with nothing new still decodes, with empty tables. */
    mpp_msg_t empty = {.token = TOKEN, .pid = 3, .seq = 1,
                       .type = MPP_MSG_DATA};
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&empty, &b), 0);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    ASSERT_EQ(out.nfuncs + out.nthreads + out.nspans, 0);
    ASSERT(out.name == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

MPP_TEST(roundtrip_bye)
{
    mpp_msg_t in = mpp_wt_bye(), out;
    mpp_buf_t b;
    mpp_wt_encode(&in, &b);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    ASSERT_STREQ(out.token, "");
    ASSERT_EQ(out.pid, 1);
    ASSERT_EQ(out.seq, 12);
    ASSERT_EQ(out.type, MPP_MSG_BYE);
    ASSERT_EQ(out.exit_kind, MPP_EXIT_SIGNAL);
    ASSERT_EQ(out.exit_code, -15);
    ASSERT(out.wall_ns == INT64_MAX);
    ASSERT(out.cpu_ns == INT64_MIN);
    ASSERT(out.dropped == UINT64_MAX);
    ASSERT(out.name == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

/* Appending keeps what the buffer held; a failed encode leaves it alone. */
MPP_TEST(encode_appends_and_rejects)
{
    mpp_msg_t a = mpp_wt_hello(), bye = mpp_wt_bye(), out;
    mpp_buf_t b;
    mpp_wt_encode(&a, &b);
    size_t first = b.len;
    ASSERT_EQ(mpp_wire_encode(&bye, &b), 0);
    ASSERT_EQ(mpp_wire_decode(b.data, first, &out), 0);
    ASSERT_EQ(out.type, MPP_MSG_HELLO);
    mpp_msg_clear(&out);
    ASSERT_EQ(mpp_wire_decode(b.data + first, b.len - first, &out), 0);
    ASSERT_EQ(out.type, MPP_MSG_BYE);
    mpp_msg_clear(&out);
    /* Two documents in one frame are trailing bytes. */
    ASSERT_EQ(mpp_wire_decode(b.data, b.len, &out), MPP_EPROTO);
    ASSERT(mpp_wt_is_zero(&out));

    size_t len = b.len;
    mpp_msg_t bad = mpp_wt_bye();
    bad.token = NULL;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = mpp_wt_bye();
    bad.type = 0;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad.type = 4;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = mpp_wt_bye();
    bad.token = "0123456789abcdef0123456789abcdef0123456789abcdef"
                "0123456789abcdef!"; /* 65 bytes */
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = mpp_wt_bye();
    bad.exit_kind = MPP_EXIT_LOST + 1;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = mpp_wt_data();
    mpp_wspan_t span = {.cat = MPP_CAT_COUNT};
    bad.spans = &span;
    bad.nspans = 1;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = mpp_wt_data();
    bad.funcs = NULL;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    ASSERT_EQ(b.len, len);
    ASSERT_EQ(mpp_wire_encode(NULL, &b), MPP_EINVAL);
    mpp_buf_fini(&b);
}

/* Over-long strings are cut, on a UTF-8 boundary, to what decodes. */
MPP_TEST(encode_truncates_long_strings)
{
    size_t n = MPP_WIRE_MAX_STR + 100;
    char *s = malloc(n + 1);
    ASSERT(s != NULL);
    s[0] = 'x'; /* so the two-byte characters straddle the limit */
    for (size_t i = 1; i + 1 < n; i += 2) {
        s[i] = '\xc3';
        s[i + 1] = '\xa9';
    }
    s[n - 1] = 'y';
    s[n] = '\0';
    mpp_msg_t in = mpp_wt_hello(), out;
    in.python = s;
    mpp_buf_t b;
    mpp_wt_encode(&in, &b);
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
    size_t got = strlen(out.python);
    ASSERT(got <= MPP_WIRE_MAX_STR && got >= MPP_WIRE_MAX_STR - 1);
    ASSERT(((unsigned char)out.python[got - 1] & 0xc0) == 0x80);
    ASSERT(memcmp(out.python, s, got) == 0);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
    free(s);
}

/* ---- broken input ------------------------------------------------------- */

MPP_TEST(every_prefix_fails)
{
    mpp_msg_t msgs[3] = {mpp_wt_hello(), mpp_wt_data(), mpp_wt_bye()};
    for (int k = 0; k < 3; k++) {
        mpp_buf_t b;
        mpp_wt_encode(&msgs[k], &b);
        for (size_t len = 0; len < b.len; len++) {
            /* A heap copy of exactly len bytes lets ASan catch any read
             * past the end. */
            char *copy = malloc(len ? len : 1);
            ASSERT(copy != NULL);
            memcpy(copy, b.data, len);
            mpp_msg_t out;
            int rc = mpp_wire_decode(copy, len, &out);
            if (rc != MPP_EPROTO) {
                MPP_FAIL("message %d, prefix %zu of %zu: %s", k, len, b.len,
                         mpp_err_name(rc));
            }
            ASSERT(mpp_wt_is_zero(&out));
            free(copy);
        }
        mpp_buf_fini(&b);
    }
}

MPP_TEST(byte_flips_never_crash)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90,
                                     0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                     0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf,
                                     0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc,
                                     0xdd, 0xde, 0xdf, 0xe0, 0xff};
    mpp_msg_t msgs[3] = {mpp_wt_hello(), mpp_wt_data(), mpp_wt_bye()};
    size_t ok = 0, bad = 0;
    for (int k = 0; k < 3; k++) {
        mpp_buf_t b;
        mpp_wt_encode(&msgs[k], &b);
        char *copy = malloc(b.len);
        ASSERT(copy != NULL);
        for (size_t i = 0; i < b.len; i++) {
            for (size_t v = 0; v <= MPP_ARRAY_SIZE(values); v++) {
                memcpy(copy, b.data, b.len);
                copy[i] = v < MPP_ARRAY_SIZE(values)
                              ? (char)values[v]
                              : (char)(b.data[i] ^ 0x01);
                mpp_msg_t out;
                int rc = mpp_wire_decode(copy, b.len, &out);
                if (rc == 0) {
                    ok++;
                    ASSERT(out.token != NULL);
                    mpp_msg_clear(&out);
                }
                else {
                    bad++;
                    ASSERT(rc == MPP_EPROTO || rc == MPP_EVERSION);
                    ASSERT(mpp_wt_is_zero(&out));
                }
            }
        }
        free(copy);
        mpp_buf_fini(&b);
    }
    fprintf(stderr, "   %zu flips decoded, %zu rejected\n", ok, bad);
    ASSERT(ok > 0 && bad > 0);
}

MPP_TEST(garbage)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 97);
        uint8_t *buf = malloc(len ? len : 1);
        ASSERT(buf != NULL);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        /* Often start like a message so the walk gets further in. */
        if (len > 5 && round % 2) {
            memcpy(buf, "\x97\xa3mpp\x01", 6);
        }
        mpp_msg_t out;
        int rc = mpp_wire_decode(buf, len, &out);
        if (rc == 0) {
            mpp_msg_clear(&out);
        }
        else {
            ASSERT(mpp_wt_is_zero(&out));
        }
        free(buf);
    }
    mpp_msg_t out;
    ASSERT_EQ(mpp_wire_decode(NULL, 0, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("", 0, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\xc1", 1, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\x01", 1, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\x90", 1, &out), MPP_EPROTO);
}

/* Counts in headers are never trusted: these must fail at once, without
 * the decoder allocating anything sized from them. */
MPP_TEST(huge_counts_fail_fast)
{
    static const char *const bombs[] = {
        "\xdd\xff\xff\xff\xff",         /* array of 2^32-1 */
        "\xdf\xff\xff\xff\xff",         /* map of 2^32-1 */
        "\xdc\xff\xff",                 /* array of 65535 */
        "\xdb\xff\xff\xff\xff" "abc",   /* str of 4 GB */
        "\xc6\xff\xff\xff\xff" "abc",   /* bin of 4 GB */
        "\xc9\xff\xff\xff\xff\x01" "a", /* ext of 4 GB */
    };
    static const size_t lens[] = {5, 5, 3, 8, 8, 7};
    double t0 = mpp_wt_now();
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bombs); i++) {
        mpp_msg_t out;
        ASSERT_EQ(mpp_wire_decode(bombs[i], lens[i], &out), MPP_EPROTO);
    }
    /* The same inside a valid envelope, where the walk gets deep. */
    const char *keys[] = {"funcs", "threads", "spans"};
    for (int i = 0; i < 3; i++) {
        for (int map = 0; map < 2; map++) {
            mpp_wt_raw_t r;
            mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
            msgpack_pack_map(&r.pk, 1);
            mpp_wt_raw_str(&r, keys[i]);
            msgpack_sbuffer_write(&r.sb, map ? "\xdf" : "\xdd", 1);
            msgpack_sbuffer_write(&r.sb, "\xff\xff\xff\xff", 4);
            msgpack_pack_array(&r.pk, 0);
            ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
        }
    }
    /* 2^32-1 elements with the bytes present for only a few. */
    mpp_wt_raw_t r;
    mpp_wt_raw_init(&r);
    msgpack_sbuffer_write(&r.sb, "\xdd\xff\xff\xff\xff", 5);
    for (int i = 0; i < 1000; i++) {
        msgpack_pack_nil(&r.pk);
    }
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    double dt = mpp_wt_now() - t0;
    ASSERT(dt < 1.0);
}

MPP_TEST(deep_nesting)
{
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "future");
    for (int i = 0; i < 100000; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    /* A little nesting in an unknown key is fine. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "future");
    for (int i = 0; i < 8; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_wt_raw_decode(&r), 0);
}

MPP_TEST(oversize)
{
    /* calloc of this size costs nothing until touched, and the decoder
     * must refuse it before touching it. */
    size_t len = (size_t)MPP_WIRE_MAX_MSG + 1;
    char *big = calloc(1, len);
    ASSERT(big != NULL);
    mpp_msg_t out;
    double t0 = mpp_wt_now();
    ASSERT_EQ(mpp_wire_decode(big, len, &out), MPP_ETOOBIG);
    ASSERT(mpp_wt_is_zero(&out));
    ASSERT(mpp_wt_now() - t0 < 0.1);
    free(big);
}

/* The aggregator's load: 64 processes, 5000 functions each. */
MPP_TEST(decode_speed)
{
    enum { NF = 5000, NE = 10000, NPROC = 64 };
    mpp_wfunc_t *funcs = calloc(NF, sizeof(*funcs));
    mpp_wstat_t *stats = calloc(NF, sizeof(*stats));
    mpp_wedge_t *edges = calloc(NE, sizeof(*edges));
    char (*names)[48] = calloc(NF, sizeof(*names));
    ASSERT(funcs && stats && edges && names);
    for (uint32_t i = 0; i < NF; i++) {
        snprintf(names[i], sizeof(names[i]), "function_number_%u", i);
        funcs[i] = (mpp_wfunc_t){i, (int32_t)(i * 7 + 1),
                                 "/usr/lib/python3.11/site-packages/pkg/m.py",
                                 names[i]};
        stats[i] = (mpp_wstat_t){i, {i * 13u, i * 13u, i * 1000003,
                                     i * 2000003}};
    }
    for (uint32_t i = 0; i < NE; i++) {
        edges[i] = (mpp_wedge_t){i % NF, (i * 7) % NF,
                                 {i, i, i * 1000003, i * 1000005}};
    }
    mpp_wthread_t t = {.tid = 140000000000001, .name = "MainThread",
                       .stats = stats, .nstats = NF,
                       .edges = edges, .nedges = NE};
    mpp_msg_t m = {.token = TOKEN, .pid = 1000, .type = MPP_MSG_DATA,
                   .name = "ForkPoolWorker-1", .funcs = funcs,
                   .nfuncs = NF, .threads = &t, .nthreads = 1};
    mpp_buf_t b;
    mpp_wt_encode(&m, &b);
    double t0 = mpp_wt_now();
    for (int p = 0; p < NPROC; p++) {
        mpp_msg_t out;
        ASSERT_EQ(mpp_wt_decode_buf(&b, &out), 0);
        ASSERT_EQ(out.nfuncs, NF);
        ASSERT_EQ(out.threads[0].nedges, NE);
        mpp_msg_clear(&out);
    }
    double dt = mpp_wt_now() - t0;
    fprintf(stderr, "   %d x %zu-byte DATA (%d funcs, %d edges): %.3f s\n",
            NPROC, b.len, NF, NE, dt);
    mpp_buf_fini(&b);
    free(funcs);
    free(stats);
    free(edges);
    free(names);
}

int
main(int argc, char **argv)
{
    MPP_RUN(roundtrip_hello);
    MPP_RUN(roundtrip_data);
    MPP_RUN(roundtrip_bye);
    MPP_RUN(encode_appends_and_rejects);
    MPP_RUN(encode_truncates_long_strings);
    MPP_RUN(every_prefix_fails);
    MPP_RUN(byte_flips_never_crash);
    MPP_RUN(garbage);
    MPP_RUN(huge_counts_fail_fast);
    MPP_RUN(deep_nesting);
    MPP_RUN(oversize);
    MPP_RUN(decode_speed);
    return mpp_test_done(argc, argv);
}
