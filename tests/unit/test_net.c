/*  Tests of the net room (src/net): the join string, the envelope on
 *  untrusted bytes, and processes keyed by host as well as pid when
 *  frames from two hosts reach one session (mpp_ingest_frame_from). */
#include "mpp_net.h"

#include "mpp_test.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN "0123456789abcdef0123456789abcdef"
#define KEY64 "00112233445566778899aabbccddeeff" \
              "00112233445566778899aabbccddeeff"

MPP_TEST(join_round_trip)
{
    mpp_join_t j, back;
    const char *why;
    char buf[512];
    ASSERT_EQ(mpp_join_parse("mpprof1,tcp://10.0.0.1:4242," KEY64 "," TOKEN,
                             &j, &why), 0);
    ASSERT(j.secure);
    ASSERT_STREQ(j.endpoint, "tcp://10.0.0.1:4242");
    ASSERT_EQ(j.key[1], 0x11);
    ASSERT_EQ(j.key[31], 0xff);
    ASSERT_STREQ(j.token, TOKEN);
    ASSERT(mpp_join_format(&j, buf, sizeof(buf)) > 0);
    ASSERT_STREQ(buf, "mpprof1,tcp://10.0.0.1:4242," KEY64 "," TOKEN);
    ASSERT_EQ(mpp_join_parse(buf, &back, &why), 0);
    ASSERT_EQ(memcmp(&j, &back, sizeof(j)), 0);
    ASSERT_EQ(mpp_join_parse("mpprof1,tcp://h:1,insecure," TOKEN, &j, &why),
              0);
    ASSERT(!j.secure);
    /* Too small a buffer is an error, never a cut string. */
    ASSERT_EQ(mpp_join_format(&back, buf, 20), MPP_EINVAL);
}

MPP_TEST(join_rejects)
{
    static const char *const bad[] = {
        "",
        "mpprof2,tcp://h:1,insecure," TOKEN,
        "mpprof1,ipc:///tmp/s,insecure," TOKEN,
        "mpprof1,,insecure," TOKEN,
        "mpprof1,tcp://h:1,insecur," TOKEN,
        "mpprof1,tcp://h:1," KEY64 "0," TOKEN,             /* 65 hex */
        "mpprof1,tcp://h:1,zz" KEY64 "," TOKEN,
        "mpprof1,tcp://h:1,insecure," TOKEN "0",
        "mpprof1,tcp://h:1,insecure,0123456789abcdef0123456789abcdeg",
        "mpprof1,tcp://h:1,insecure," TOKEN ",extra",
        "mpprof1,tcp://h:1,insecure",
    };
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bad); i++) {
        mpp_join_t j;
        const char *why = NULL;
        ASSERT_EQ(mpp_join_parse(bad[i], &j, &why), MPP_EINVAL);
        ASSERT(why != NULL);
    }
    mpp_join_t j;
    const char *why;
    ASSERT(mpp_join_parse("@/nonexistent/join", &j, &why) < 0);
}

static mpp_envelope_t
s_env(int kind)
{
    mpp_envelope_t e = {.kind = kind, .ranked = true, .rank = 7,
                        .sent_ns = 123456789, .status = 3};
    strcpy(e.token, TOKEN);
    strcpy(e.host, "node-1");
    strcpy(e.run, "0123456789abcdef");
    strcpy(e.what, "job.py --n 3");
    strcpy(e.worker, "w-1");
    strcpy(e.main_dir, "/home/a/./job");
    strcpy(e.main_realdir, "/srv/real/job");
    return e;
}

MPP_TEST(envelope_round_trip)
{
    mpp_envelope_t e = s_env(MPP_ENV_END), back;
    void *data;
    size_t len;
    ASSERT_EQ(mpp_envelope_encode(&e, &data, &len), 0);
    ASSERT_EQ(mpp_envelope_decode(data, len, &back), 0);
    ASSERT_EQ(memcmp(&e, &back, sizeof(e)), 0);
    /* Every cut and every flipped byte is refused or decodes sanely. */
    for (size_t n = 0; n < len; n++) {
        ASSERT_EQ(mpp_envelope_decode(data, n, &back), MPP_EPROTO);
    }
    unsigned char *b = data;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char)(1u << bit);
            if (mpp_envelope_decode(b, len, &back) == 0) {
                ASSERT(strlen(back.host) > 0 &&
                       strlen(back.run) == MPP_NET_RUN_LEN);
                ASSERT(back.kind >= MPP_ENV_DATA && back.kind <= MPP_ENV_CLOCK);
            }
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    free(data);
    /* A host with a control character never reaches a report. */
    e.host[2] = '\n';
    ASSERT_EQ(mpp_envelope_encode(&e, &data, &len), 0);
    ASSERT_EQ(mpp_envelope_decode(data, len, &back), MPP_EPROTO);
    free(data);
}

static int
s_feed(mpp_session_t *s, const mpp_origin_t *o, int64_t pid, uint64_t seq,
       uint32_t type, int64_t start_ns)
{
    static mpp_wfunc_t funcs[] = {{0, 10, "/app/job.py", "work"}};
    static mpp_wstat_t stats[] = {{0, {5, 5, 500, 500}}};
    static mpp_wthread_t threads[] = {
        {.tid = 1, .name = "MainThread", .stats = stats, .nstats = 1}};
    mpp_msg_t m = {.version = MPP_WIRE_VERSION, .token = TOKEN, .pid = pid,
                   .seq = seq, .type = type, .ppid = 1,
                   .start_method = "main", .start_ns = start_ns};
    if (type == MPP_MSG_DATA) {
        m.funcs = funcs;
        m.nfuncs = 1;
        m.threads = threads;
        m.nthreads = 1;
    }
    if (type == MPP_MSG_BYE) {
        m.exit_kind = MPP_EXIT_OK;
    }
    mpp_buf_t b;
    mpp_buf_init(&b);
    ASSERT_EQ(mpp_wire_encode(&m, &b), 0);
    int rc = mpp_ingest_frame_from(s, TOKEN, o, b.data, b.len);
    mpp_buf_fini(&b);
    return rc;
}

MPP_TEST(same_pid_two_hosts)
{
    mpp_session_t *s = mpp_session_new();
    mpp_origin_t a = {.host = "a", .ranked = true, .rank = 0};
    mpp_origin_t b = {.host = "b", .ranked = true, .rank = 1};
    /* The same pid and even the same start time on two hosts: two
     * processes, each with its own counts and labels. */
    ASSERT_EQ(s_feed(s, &a, 42, 0, MPP_MSG_HELLO, 1000), 0);
    ASSERT_EQ(s_feed(s, &b, 42, 0, MPP_MSG_HELLO, 1000), 0);
    ASSERT_EQ(s_feed(s, &a, 42, 1, MPP_MSG_DATA, 1000), 0);
    ASSERT_EQ(s_feed(s, &b, 42, 1, MPP_MSG_DATA, 1000), 0);
    ASSERT_EQ(s_feed(s, &b, 42, 2, MPP_MSG_BYE, 1000), 0);
    ASSERT_EQ(s->nprocs, 2);
    ASSERT_EQ(s->integrity.rejected, 0);
    ASSERT_EQ(s->integrity.seq_gaps, 0);
    ssize_t ia = mpp_session_proc_index_on(s, "a", 42);
    ssize_t ib = mpp_session_proc_index_on(s, "b", 42);
    ASSERT(ia >= 0 && ib >= 0 && ia != ib);
    ASSERT_STREQ(s->procs[ia].host, "a");
    ASSERT_EQ(s->procs[ia].rank, 0);
    ASSERT_STREQ(s->procs[ib].host, "b");
    ASSERT(s->procs[ib].ranked && s->procs[ib].rank == 1);
    ASSERT_EQ(mpp_proc_calls(&s->procs[ia]), 5);
    ASSERT_EQ(mpp_proc_calls(&s->procs[ib]), 5);
    ASSERT(mpp_ingest_streaming(&s->procs[ia]));
    ASSERT(!mpp_ingest_streaming(&s->procs[ib]));
    /* A replay is judged within its own host. */
    ASSERT_EQ(s_feed(s, &a, 42, 1, MPP_MSG_DATA, 1000), MPP_EREPLAY);
    /* This host's frames (no origin) are a third host. */
    ASSERT_EQ(s_feed(s, NULL, 42, 0, MPP_MSG_HELLO, 1000), 0);
    ASSERT_EQ(s->nprocs, 3);
    ASSERT(s->procs[2].host == NULL && !s->procs[2].ranked);
    mpp_session_destroy(&s);
}

static bool
s_keep_b(const mpp_proc_t *p, void *arg)
{
    (void)arg;
    return p->host != NULL && strcmp(p->host, "b") == 0;
}

MPP_TEST(keep_by_host)
{
    mpp_session_t *s = mpp_session_new();
    mpp_origin_t a = {.host = "a"}, b = {.host = "b"};
    ASSERT_EQ(s_feed(s, &a, 1, 0, MPP_MSG_HELLO, 1), 0);
    ASSERT_EQ(s_feed(s, &b, 2, 0, MPP_MSG_HELLO, 1), 0);
    ASSERT_EQ(s_feed(s, &a, 3, 0, MPP_MSG_HELLO, 1), 0);
    ASSERT_EQ(s_feed(s, &b, 4, 0, MPP_MSG_HELLO, 1), 0);
    ASSERT_EQ(mpp_session_keep(s, s_keep_b, NULL), 2);
    ASSERT_EQ(s->nprocs, 2);
    ASSERT_EQ(s->procs[0].pid, 2);
    ASSERT_EQ(s->procs[1].pid, 4);
    mpp_session_destroy(&s);
}

/*  The estimator: a clock 5 ms behind, stepped 3 s at host time 10 s,
 *  read every second.  Each moment gets its own offset, a drift between
 *  readings is interpolated, and a round trip held up (error 40 ms among
 *  0.1 ms ones) is passed over. */
MPP_TEST(clockfit_follows_a_step)
{
    const int64_t S = 1000000000LL, MS = 1000000LL;
    mpp_clockfit_t *f = mpp_clockfit_new();
    int64_t off, err, first, last, max;
    ASSERT(f != NULL);
    ASSERT(!mpp_clockfit_at(f, 0, &off, &err));
    ASSERT_EQ(mpp_clockfit_add(f, 0, 0, -1), MPP_EINVAL);
    /* Out of order, as two runs of one host may send them. */
    for (int64_t t = 20; t >= 0; t--) {
        int64_t o = t < 10 ? 5 * MS : 5 * MS - 3 * S;
        int64_t at = t < 10 ? t * S : t * S + 3 * S;
        ASSERT_EQ(mpp_clockfit_add(f, at, o, MS / 10), 0);
    }
    /* A held-up reading that says the clock moved by 1 s. */
    ASSERT_EQ(mpp_clockfit_add(f, 5 * S + S / 2, 1 * S, 40 * MS), 0);
    ASSERT_EQ(mpp_clockfit_count(f), 22);
    ASSERT(mpp_clockfit_at(f, 5 * S + S / 2, &off, &err));
    ASSERT_EQ(off, 5 * MS);
    ASSERT_EQ(err, MS / 10);
    ASSERT(mpp_clockfit_at(f, -7 * S, &off, &err));
    ASSERT_EQ(off, 5 * MS);
    ASSERT(mpp_clockfit_at(f, 16 * S, &off, &err));
    ASSERT_EQ(off, 5 * MS - 3 * S);
    ASSERT(mpp_clockfit_at(f, 99 * S, &off, &err));
    ASSERT_EQ(off, 5 * MS - 3 * S);
    ASSERT(mpp_clockfit_range(f, &first, &last, &max));
    ASSERT_EQ(first, 5 * MS);
    ASSERT_EQ(last, 5 * MS - 3 * S);
    ASSERT_EQ(max, MS / 10);
    mpp_clockfit_destroy(&f);
    ASSERT(f == NULL);

    /* A drift of 1 ms per second: halfway between readings, half. */
    f = mpp_clockfit_new();
    ASSERT_EQ(mpp_clockfit_add(f, 0, 0, 10), 0);
    ASSERT_EQ(mpp_clockfit_add(f, 2 * S, 2 * MS, 20), 0);
    ASSERT(mpp_clockfit_at(f, S, &off, &err));
    ASSERT_EQ(off, MS);
    ASSERT_EQ(err, 20);
    /* Thinning keeps the whole span of the readings. */
    for (int64_t i = 3; i < MPP_CLOCKFIT_MAX + 10; i++) {
        ASSERT_EQ(mpp_clockfit_add(f, i * S, i * MS, 10), 0);
    }
    ASSERT(mpp_clockfit_count(f) <= MPP_CLOCKFIT_MAX);
    ASSERT(mpp_clockfit_range(f, &first, &last, &max));
    ASSERT_EQ(first, 0);
    ASSERT_EQ(last, (MPP_CLOCKFIT_MAX + 9) * MS);
    mpp_clockfit_destroy(&f);
}

/*  A reading's arithmetic, and the ack that echoes what it answers. */
MPP_TEST(clock_reading_and_ack_echo)
{
    int64_t at, off, err, real, echo;
    int kind;
    /* Sent at 1000 on our clock, answered at 5600 on theirs, back 200
     * later: at our 1100 theirs read 5600. */
    mpp_clock_reading(1000, 5600, 200, &at, &off, &err);
    ASSERT_EQ(at, 1100);
    ASSERT_EQ(off, 4500);
    ASSERT_EQ(err, 100);
    uint8_t ack[MPP_ACK_LEN];
    mpp_ack_encode(MPP_ENV_CLOCK, -123456789012345LL, 987654321098765LL,
                   ack);
    ASSERT_EQ(mpp_ack_decode(ack, sizeof(ack), &kind, &real, &echo), 0);
    ASSERT_EQ(kind, MPP_ENV_CLOCK);
    ASSERT_EQ(real, -123456789012345LL);
    ASSERT_EQ(echo, 987654321098765LL);
    ASSERT_EQ(mpp_ack_decode(ack, sizeof(ack) - 8, &kind, &real, &echo),
              MPP_EPROTO);
}

/*  Files named by module in a session across hosts: the run's own under
 *  either of its main directories, the standard library and installed
 *  packages by their place in them; anything else, and a directory that
 *  only starts with the main one's name, keeps its path. */
MPP_TEST(names_by_module)
{
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"/home/a/./job/job.py", "<main>/job.py"},
        {"/srv/real/job/pkg/util.py", "<main>/pkg/util.py"},
        {"/home/a/./jobs/other.py", "/home/a/./jobs/other.py"},
        {"/elsewhere/x.py", "/elsewhere/x.py"},
        {"/opt/py/lib/python3.11/multiprocessing/pool.py",
         "<stdlib>/multiprocessing/pool.py"},
        {"/home/a/./job/.venv/lib/python3.11/site-packages/foo/bar.py",
         "<site>/foo/bar.py"},
        {"/usr/lib/python3/dist-packages/foo/baz.py", "<site>/foo/baz.py"},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    mpp_wfunc_t funcs[N];
    mpp_wstat_t stats[N];
    for (uint32_t i = 0; i < N; i++) {
        funcs[i] = (mpp_wfunc_t){i, 1, (char *)cases[i].file, "f"};
        stats[i] = (mpp_wstat_t){i, {1, 1, 10, 10}};
    }
    mpp_wthread_t th = {.tid = 1, .name = "MainThread", .stats = stats,
                        .nstats = N};
    mpp_msg_t m = {.version = MPP_WIRE_VERSION, .token = TOKEN, .pid = 9,
                   .seq = 0, .type = MPP_MSG_DATA, .funcs = funcs,
                   .nfuncs = N, .threads = &th, .nthreads = 1};
    mpp_origin_t o = {.host = "h",
                      .main_dirs = {"/home/a/./job", "/srv/real/job"}};
    mpp_session_t *s = mpp_session_new();
    s->by_module = true;
    mpp_buf_t b;
    mpp_buf_init(&b);
    ASSERT_EQ(mpp_wire_encode(&m, &b), 0);
    ASSERT_EQ(mpp_ingest_frame_from(s, TOKEN, &o, b.data, b.len), 0);
    mpp_buf_fini(&b);
    ASSERT_EQ(s->nfuncs, N);
    for (size_t i = 0; i < N; i++) {
        ASSERT_STREQ(s->funcs[i].file, cases[i].want);
    }
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    MPP_RUN(join_round_trip);
    MPP_RUN(join_rejects);
    MPP_RUN(envelope_round_trip);
    MPP_RUN(same_pid_two_hosts);
    MPP_RUN(keep_by_host);
    MPP_RUN(names_by_module);
    MPP_RUN(clockfit_follows_a_step);
    MPP_RUN(clock_reading_and_ack_echo);
    return mpp_test_done(argc, argv);
}
