/*  What the session file reader accepts and refuses in hand-made files:
 *  ids and duplicates it must reject, keys and columns of later writers it
 *  must skip, and counts larger than the file can hold.
 */
#include "sessfile_fixture.h"

/* Packs {"funcs": [[file, line, name] * n]} with the given functions. */
static void
s_pack_funcs(mpp_sf_raw_t *r, int n, const char *const *names)
{
    mpp_sf_key(r, "funcs");
    msgpack_pack_array(&r->pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_array(&r->pk, 3);
        mpp_sf_key(r, "f.py");
        msgpack_pack_int32(&r->pk, 1);
        mpp_sf_key(r, names[i]);
    }
}

/* A file with one process with one thread whose stats name `func`. */
static int
s_with_stat(uint32_t func, int dup_tid, int dup_stat)
{
    static const char *const names[] = {"a", "b"};
    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 2);
    s_pack_funcs(&r, 2, names);
    mpp_sf_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    mpp_sf_key(&r, "pid");
    msgpack_pack_int64(&r.pk, 1);
    mpp_sf_key(&r, "threads");
    msgpack_pack_array(&r.pk, dup_tid ? 2 : 1);
    for (int i = 0; i < (dup_tid ? 2 : 1); i++) {
        msgpack_pack_map(&r.pk, 2);
        mpp_sf_key(&r, "tid");
        msgpack_pack_uint64(&r.pk, 5);
        mpp_sf_key(&r, "stats");
        msgpack_pack_array(&r.pk, dup_stat ? 2 : 1);
        for (int j = 0; j < (dup_stat ? 2 : 1); j++) {
            msgpack_pack_array(&r.pk, 5);
            msgpack_pack_uint32(&r.pk, func);
            for (int k = 0; k < 4; k++) {
                msgpack_pack_uint32(&r.pk, 1);
            }
        }
    }
    return mpp_sf_raw_rc(&r);
}

MPP_TEST(validation)
{
    ASSERT_EQ(s_with_stat(1, 0, 0), 0);
    ASSERT_EQ(s_with_stat(2, 0, 0), MPP_ECORRUPT); /* no such function */
    ASSERT_EQ(s_with_stat(UINT32_MAX, 0, 0), MPP_ECORRUPT);
    ASSERT_EQ(s_with_stat(1, 1, 0), MPP_ECORRUPT); /* same tid twice */
    ASSERT_EQ(s_with_stat(1, 0, 1), MPP_ECORRUPT); /* same stat twice */

    /* The same function twice in the table. */
    static const char *const twice[] = {"a", "a"};
    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_pack_funcs(&r, 2, twice);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);

    /* A repeated key. */
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 2);
    mpp_sf_key(&r, "wall_ns");
    msgpack_pack_int64(&r.pk, 1);
    mpp_sf_key(&r, "wall_ns");
    msgpack_pack_int64(&r.pk, 2);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);

    /* A process whose first key is not its pid. */
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    mpp_sf_key(&r, "ppid");
    msgpack_pack_int64(&r.pk, 1);
    mpp_sf_key(&r, "pid");
    msgpack_pack_int64(&r.pk, 2);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);

    /* Wrong types and ranges. */
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "exit_status");
    msgpack_pack_int64(&r.pk, (int64_t)INT32_MAX + 1);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "integrity");
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "rejected");
    msgpack_pack_int64(&r.pk, -1);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "python");
    msgpack_pack_str_with_body(&r.pk, "3\0", 2);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "command");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_int32(&r.pk, 1);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "start_ns");
    msgpack_pack_double(&r.pk, 1.5);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
}

/*  A file with one thread whose "cpu" is `n` values from `v` (n < 0: no
 *  "cpu" key, as an older writer's file); *out gets the thread read (its
 *  arrays are gone: only its plain fields may be looked at). */
static int
s_with_cpu(int n, const int64_t *v, mpp_thread_t *out)
{
    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    mpp_sf_key(&r, "pid");
    msgpack_pack_int64(&r.pk, 1);
    mpp_sf_key(&r, "threads");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, n < 0 ? 1 : 2);
    mpp_sf_key(&r, "tid");
    msgpack_pack_uint64(&r.pk, 5);
    if (n >= 0) {
        mpp_sf_key(&r, "cpu");
        msgpack_pack_array(&r.pk, (size_t)n);
        for (int i = 0; i < n; i++) {
            msgpack_pack_int64(&r.pk, v[i]);
        }
    }
    mpp_session_t *s = NULL;
    int rc = mpp_sf_raw_parse(&r, &s);
    if (rc == 0) {
        ASSERT_EQ(s->nprocs, 1u);
        ASSERT_EQ(s->procs[0].nthreads, 1u);
        *out = s->procs[0].threads[0];
    }
    mpp_session_destroy(&s);
    return rc;
}

/*  A thread's CPU time: [cpu_ns, cpu_cat_ns] under "cpu"; absent means
 *  unknown, and values that contradict each other are corruption. */
MPP_TEST(thread_cpu)
{
    mpp_thread_t t;
    const int64_t ok[] = {900, 100, 5};
    ASSERT_EQ(s_with_cpu(2, ok, &t), 0);
    ASSERT(t.has_cpu);
    ASSERT_EQ(t.cpu_ns, 900);
    ASSERT_EQ(t.cpu_cat_ns, 100);
    ASSERT_EQ(s_with_cpu(-1, ok, &t), 0);
    ASSERT(!t.has_cpu);
    ASSERT_EQ(s_with_cpu(1, ok, &t), MPP_ECORRUPT);
    ASSERT_EQ(s_with_cpu(3, ok, &t), MPP_ECORRUPT);
    const int64_t over[] = {900, 901};
    ASSERT_EQ(s_with_cpu(2, over, &t), MPP_ECORRUPT);
    const int64_t neg[] = {-2, -3};
    ASSERT_EQ(s_with_cpu(2, neg, &t), MPP_ECORRUPT);
}

/* Later writers may add keys and columns; this reader skips them. */
MPP_TEST(extensions_are_skipped)
{
    static const char *const names[] = {"a"};
    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 4);
    mpp_sf_key(&r, "future");
    msgpack_pack_map(&r.pk, 2);
    msgpack_pack_array(&r.pk, 3);
    msgpack_pack_double(&r.pk, 1.0);
    msgpack_pack_bin_with_body(&r.pk, "\0\1\2", 3);
    msgpack_pack_ext_with_body(&r.pk, "\5", 1, 7);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_true(&r.pk);
    msgpack_pack_float(&r.pk, 2.0f);
    s_pack_funcs(&r, 1, names);
    mpp_sf_key(&r, "python");
    mpp_sf_key(&r, "3.13.0");
    mpp_sf_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 3);
    mpp_sf_key(&r, "pid");
    msgpack_pack_int64(&r.pk, -42);
    mpp_sf_key(&r, "cgroup");
    mpp_sf_key(&r, "/user.slice");
    mpp_sf_key(&r, "threads");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    mpp_sf_key(&r, "tid");
    msgpack_pack_uint64(&r.pk, 9);
    mpp_sf_key(&r, "stats");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 7); /* two extra columns */
    msgpack_pack_uint32(&r.pk, 0);
    msgpack_pack_uint32(&r.pk, 3);
    msgpack_pack_uint32(&r.pk, 2);
    msgpack_pack_int64(&r.pk, -10);
    msgpack_pack_int64(&r.pk, 10);
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    mpp_sf_key(&r, "extra");
    mpp_session_t *s;
    ASSERT_EQ(mpp_sf_raw_parse(&r, &s), 0);
    ASSERT_STREQ(s->python, "3.13.0");
    ASSERT_EQ(s->nprocs, 1);
    ASSERT_EQ(s->procs[0].pid, -42);
    ASSERT(s->procs[0].name == NULL && s->procs[0].argv == NULL);
    ASSERT_EQ(s->procs[0].nthreads, 1);
    const mpp_thread_t *t = &s->procs[0].threads[0];
    ASSERT_EQ(t->tid, 9);
    ASSERT_EQ(t->nstats, 1);
    ASSERT_EQ(t->stats[0].cost.ncalls, 3);
    ASSERT_EQ(t->stats[0].cost.tt_ns, -10);
    mpp_session_destroy(&s);
}

MPP_TEST(huge_counts)
{
    static const char *const bombs[] = {
        "\xdf\xff\xff\xff\xff",
        "\xdd\xff\xff\xff\xff",
        "\x81\xa5" "funcs" "\xdd\xff\xff\xff\xff\x90",
        "\x81\xa6" "future" "\xdf\xff\xff\xff\xff\x90",
        "\x81\xa6" "python" "\xdb\xff\xff\xff\xff" "abc",
        "\x81\xa6" "future" "\xc9\xff\xff\xff\xff\x01" "abc",
    };
    static const size_t lens[] = {5, 5, 13, 14, 16, 17};
    /* The top level must be a map, so an array there is just wrong. */
    static const int want[] = {MPP_ETRUNC, MPP_ECORRUPT, MPP_ETRUNC,
                               MPP_ETRUNC, MPP_ETRUNC, MPP_ETRUNC};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bombs); i++) {
        mpp_sf_raw_t r;
        mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
        msgpack_sbuffer_write(&r.sb, bombs[i], lens[i]);
        ASSERT_EQ(mpp_sf_raw_rc(&r), want[i]);
    }
    /* Deep nesting in a skipped value costs no stack. */
    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    mpp_sf_key(&r, "future");
    for (int i = 0; i < 200000; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_sf_raw_rc(&r), 0);
}

int
main(int argc, char **argv)
{
    MPP_RUN(validation);
    MPP_RUN(thread_cpu);
    MPP_RUN(extensions_are_skipped);
    MPP_RUN(huge_counts);
    return mpp_test_done(argc, argv);
}
