/*  Tests of the live status line's numbers and text: the aggregator's
 *  live counts (mpp_agg_live) against frames pushed to its socket, and
 *  the line's formatting (src/launcher/mpp_status.c, compiled in). */
#include "mpp_launcher.h"

#include "mpp_test.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define TOKEN "0123456789abcdef0123456789abcdef"
#define S_PID 0x7ffffff0LL

static mpp_wfunc_t s_funcs[] = {
    {0, 10, "/app/script.py", "work"},
    {1, 0, "~", "<built-in method time.sleep>"},
};

/* Calls per process: the sum of the stats' ncalls. */
static mpp_wstat_t s_stats[] = {
    {0, {5, 5, 3000, 9000}},
    {1, {7, 7, 6000, 6000}},
};

static mpp_wthread_t s_threads[] = {
    {.tid = 1, .name = "MainThread", .stats = s_stats, .nstats = 2},
};

static void
s_push(void *sock, int64_t pid, uint64_t seq, uint32_t type)
{
    mpp_msg_t m = {
        .version = MPP_WIRE_VERSION, .token = TOKEN, .pid = pid,
        .seq = seq, .type = type, .ppid = 1, .start_method = "fork",
        .python = "3.11.7", .start_ns = 1000, .name = "Worker",
        .wall_ns = 5, .cpu_ns = 4,
    };
    if (type == MPP_MSG_DATA) {
        m.funcs = s_funcs;
        m.nfuncs = MPP_ARRAY_SIZE(s_funcs);
        m.threads = s_threads;
        m.nthreads = MPP_ARRAY_SIZE(s_threads);
    }
    if (type == MPP_MSG_BYE) {
        m.exit_kind = MPP_EXIT_OK;
    }
    mpp_buf_t b;
    mpp_buf_init(&b);
    ASSERT_EQ(mpp_wire_encode(&m, &b), 0);
    ASSERT_EQ(zmq_send(sock, b.data, b.len, 0), (int)b.len);
    mpp_buf_fini(&b);
}

/* Waits (5 s at most) until the live counts are `want`. */
static bool
s_wait_live(mpp_agg_t *agg, const mpp_agg_live_t *want, mpp_agg_live_t *got)
{
    for (int i = 0; i < 500; i++) {
        mpp_agg_live(agg, got);
        if (memcmp(got, want, sizeof(*got)) == 0) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

/*  Runs an aggregator, pushes HELLO and DATA for three processes and BYE
 *  for one.  With tracking, the counts reach (3, 1, 3 * 12); without,
 *  they stay zero even though every frame was applied. */
static void
s_live(bool track)
{
    char dir[] = "/tmp/mpptest-live-XXXXXX", endpoint[128];
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s/agg.sock", dir);
    mpp_session_t *s = mpp_session_new();
    int err;
    mpp_agg_t *agg = mpp_agg_new(endpoint, TOKEN, s, &err);
    ASSERT(agg != NULL);
    if (track) {
        mpp_agg_track_live(agg);
    }
    ASSERT_EQ(mpp_agg_start(agg), 0);
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 1000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    ASSERT_EQ(zmq_connect(push, endpoint), 0);
    /* Pids above any pid_max in use, so no such process is alive. */
    for (int64_t pid = S_PID; pid < S_PID + 3; pid++) {
        s_push(push, pid, 0, MPP_MSG_HELLO);
        s_push(push, pid, 1, MPP_MSG_DATA);
    }
    s_push(push, S_PID + 1, 2, MPP_MSG_BYE);
    uint64_t per_proc = 0;
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_stats); i++) {
        per_proc += s_stats[i].cost.ncalls;
    }
    mpp_agg_live_t want = {3, 1, 3 * per_proc}, got;
    if (track && !s_wait_live(agg, &want, &got)) {
        MPP_FAIL("live counts %" PRIu64 " %" PRIu64 " %" PRIu64
                 ", not %" PRIu64 " %" PRIu64 " %" PRIu64,
                 got.procs, got.ended, got.calls, want.procs, want.ended,
                 want.calls);
    }
    if (!track) {
        /* Untracked, nothing shows when the frames have arrived, and a
         * thread told of the end before any came would stop at once.
         * One second is plenty for them even under valgrind; once they
         * came, the two processes without a BYE (dead pids) keep the
         * thread receiving until 2 s of silence. */
        usleep(1000000);
    }
    mpp_agg_target_ended(agg);
    if (track) {
        mpp_agg_hurry(agg);
    }
    mpp_agg_join(agg);
    /* Every frame arrived: the session has them all. */
    ASSERT_EQ(s->nprocs, 3u);
    if (!track) {
        mpp_agg_live(agg, &got);
        ASSERT_EQ(got.procs + got.ended + got.calls, 0u);
    }
    zmq_close(push);
    zmq_ctx_term(ctx);
    mpp_agg_destroy(&agg);
    mpp_session_destroy(&s);
    rmdir(dir);
}

MPP_TEST(live_counts)
{
    s_live(true);
}

MPP_TEST(live_untracked)
{
    s_live(false);
}

/* The calls are written with a comma every three digits from the right;
 * without the commas they are the number. */
MPP_TEST(format_calls)
{
    uint64_t v = 1;
    for (int i = 0; i < 20; i++, v = v * 10 + (uint64_t)(i % 10)) {
        mpp_agg_live_t l = {.procs = 1, .calls = v};
        char line[256], plain[64], digits[64];
        mpp_status_format(line, sizeof(line), 200, 0, &l);
        const char *c = strstr(line, "calls: ");
        ASSERT(c != NULL);
        c += strlen("calls: ");
        size_t k = 0, len = strlen(c);
        for (size_t j = 0; j < len; j++) {
            if (c[j] == ',') {
                /* Three digits follow each comma, to the end or the
                 * next comma. */
                ASSERT((len - j - 1) % 4 == 3);
                continue;
            }
            plain[k++] = c[j];
        }
        plain[k] = '\0';
        snprintf(digits, sizeof(digits), "%" PRIu64, v);
        ASSERT_STR_EQ(plain, digits);
    }
}

MPP_TEST(format_counts_and_width)
{
    mpp_agg_live_t l = {.procs = 5, .ended = 2, .calls = 0};
    char line[256], cut[256];
    size_t n = mpp_status_format(line, sizeof(line), 200, 1260000000, &l);
    ASSERT_EQ(n, strlen(line));
    ASSERT(strstr(line, " 1.3 s ") != NULL);
    ASSERT(strstr(line, " 3 alive, 2 finished ") != NULL);
    /* A narrower terminal gets the start of the same line. */
    for (size_t w = 1; w < n; w += 7) {
        ASSERT_EQ(mpp_status_format(cut, sizeof(cut), w, 1260000000, &l), w);
        ASSERT_EQ(strncmp(cut, line, w), 0);
        ASSERT_EQ(strlen(cut), w);
    }
    /* More ended than known (numbers of different moments) is clamped. */
    l.ended = 9;
    mpp_status_format(line, sizeof(line), 200, 0, &l);
    ASSERT(strstr(line, " 0 alive, 5 finished ") != NULL);
}

int
main(int argc, char **argv)
{
    MPP_RUN(live_counts);
    MPP_RUN(live_untracked);
    MPP_RUN(format_calls);
    MPP_RUN(format_counts_and_width);
    return mpp_test_done(argc, argv);
}
