/*  Tests of the aggregator's frame validation and merging (mpp_ingest.c,
 *  mpp_apply.c), without sockets: good frames, foreign tokens, replays,
 *  gaps, garbage, truncated frames, new incarnations of a pid, hostile
 *  numbers that must not size memory, and the end-of-run bookkeeping. */
#include "mpp_aggregator.h"

#include "mpp_test.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN "0123456789abcdef0123456789abcdef"
#define OTHER "0123456789abcdef0123456789abcdeF"

static mpp_wfunc_t s_funcs[] = {
    {0, 10, "/app/script.py", "work"},
    {1, 0, "~", "<built-in method time.sleep>"},
};

static mpp_wstat_t s_stats[] = {
    {0, {3, 3, 3000, 9000}},
    {1, {3, 3, 6000, 6000}},
};

static mpp_wedge_t s_edges[] = {
    {0, 1, {3, 3, 6000, 6000}},
};

static mpp_wthread_t s_threads[] = {
    {.tid = 1, .name = "MainThread", .stats = s_stats, .nstats = 2,
     .edges = s_edges, .nedges = 1},
};

static mpp_msg_t
s_msg(int64_t pid, uint64_t seq, uint32_t type)
{
    mpp_msg_t m = {
        .version = MPP_WIRE_VERSION,
        .token = TOKEN,
        .pid = pid,
        .seq = seq,
        .type = type,
        .ppid = 1,
        .start_method = "fork",
        .python = "3.11.7",
        .start_ns = 1000,
        .name = "Worker",
        .wall_ns = 5,
        .cpu_ns = 4,
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
    return m;
}

/* Encodes `m` and feeds it to the ingest unit. */
static int
s_feed(mpp_session_t *s, const mpp_msg_t *m)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    ASSERT_EQ(mpp_wire_encode(m, &b), 0);
    int rc = mpp_ingest_frame(s, TOKEN, b.data, b.len);
    mpp_buf_fini(&b);
    return rc;
}

static int
s_feed3(mpp_session_t *s, int64_t pid, uint64_t seq, uint32_t type)
{
    mpp_msg_t m = s_msg(pid, seq, type);
    return s_feed(s, &m);
}

MPP_TEST(good_frames)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), 0);
    ASSERT_EQ(s_feed3(s, 100, 2, MPP_MSG_BYE), 0);
    ASSERT_EQ(s->integrity.messages, 3);
    ASSERT_EQ(s->integrity.rejected, 0);
    ASSERT_EQ(s->integrity.seq_gaps, 0);
    ASSERT_EQ(s->nprocs, 1);
    mpp_proc_t *p = mpp_session_proc(s, 100, false);
    ASSERT(p != NULL);
    ASSERT_EQ(p->next_seq, 3);
    ASSERT_EQ(p->exit_kind, MPP_EXIT_OK);
    ASSERT(!mpp_ingest_streaming(p));
    ASSERT_EQ(mpp_proc_calls(p), 6);
    mpp_session_destroy(&s);
}

MPP_TEST(foreign_token)
{
    mpp_session_t *s = mpp_session_new();
    mpp_msg_t m = s_msg(100, 0, MPP_MSG_HELLO);
    m.token = OTHER;
    ASSERT_EQ(s_feed(s, &m), MPP_ETOKEN);
    m.token = TOKEN "0"; /* right prefix, wrong length */
    ASSERT_EQ(s_feed(s, &m), MPP_ETOKEN);
    m.token = "";
    ASSERT_EQ(s_feed(s, &m), MPP_ETOKEN);
    ASSERT_EQ(s->integrity.messages, 3);
    ASSERT_EQ(s->integrity.rejected, 3);
    ASSERT_EQ(s->nprocs, 0);
    mpp_session_destroy(&s);
}

MPP_TEST(replay)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), 0);
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), MPP_EREPLAY);
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_DATA), MPP_EREPLAY);
    /* A replayed HELLO repeats the recorded start time. */
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), MPP_EREPLAY);
    ASSERT_EQ(s->integrity.rejected, 3);
    ASSERT_EQ(s->integrity.seq_gaps, 0);
    ASSERT_EQ(mpp_proc_calls(mpp_session_proc(s, 100, false)), 6);
    mpp_session_destroy(&s);
}

MPP_TEST(gap)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 100, 4, MPP_MSG_DATA), 0);
    ASSERT_EQ(s->integrity.seq_gaps, 3);
    ASSERT_EQ(s_feed3(s, 100, 5, MPP_MSG_BYE), 0);
    ASSERT_EQ(s->integrity.seq_gaps, 3);
    /* A lost HELLO: the first message of a pid may be anything. */
    ASSERT_EQ(s_feed3(s, 200, 2, MPP_MSG_DATA), 0);
    ASSERT_EQ(s->integrity.seq_gaps, 5);
    ASSERT_EQ(s->integrity.rejected, 0);
    ASSERT_EQ(s->nprocs, 2);
    mpp_session_destroy(&s);
}

MPP_TEST(garbage)
{
    static const unsigned char junk[][8] = {
        {0}, {0xc1}, {0x93, 0xa3, 'm', 'p', 'p'}, {0xff, 0xff, 0xff, 0xff},
        {0xdd, 0xff, 0xff, 0xff, 0xff}, {0x97, 0xa3, 'x', 'x', 'x'},
    };
    mpp_session_t *s = mpp_session_new();
    for (size_t i = 0; i < MPP_ARRAY_SIZE(junk); i++) {
        ASSERT(mpp_ingest_frame(s, TOKEN, junk[i], sizeof(junk[i])) < 0);
    }
    ASSERT(mpp_ingest_frame(s, TOKEN, "", 0) < 0);
    ASSERT_EQ(mpp_ingest_frame(s, TOKEN, "", (size_t)MPP_WIRE_MAX_MSG + 1),
              MPP_ETOOBIG);
    ASSERT_EQ(s->integrity.messages, MPP_ARRAY_SIZE(junk) + 2);
    ASSERT_EQ(s->integrity.rejected, MPP_ARRAY_SIZE(junk) + 2);
    ASSERT_EQ(s->nprocs, 0);

    /* Random bytes: never accepted, never a crash. */
    unsigned seed = 12345;
    unsigned char buf[256];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            buf[i] = (unsigned char)rand_r(&seed);
        }
        ASSERT(mpp_ingest_frame(s, TOKEN, buf, n) < 0);
    }
    ASSERT_EQ(s->nprocs, 0);
    mpp_session_destroy(&s);
}

MPP_TEST(truncated)
{
    mpp_session_t *s = mpp_session_new();
    mpp_msg_t m = s_msg(100, 0, MPP_MSG_DATA);
    mpp_buf_t b;
    mpp_buf_init(&b);
    ASSERT_EQ(mpp_wire_encode(&m, &b), 0);
    for (size_t n = 0; n < b.len; n++) {
        ASSERT(mpp_ingest_frame(s, TOKEN, b.data, n) < 0);
    }
    ASSERT_EQ(s->integrity.rejected, b.len);
    ASSERT_EQ(s->nprocs, 0);
    /* The whole frame, then with a trailing byte. */
    ASSERT_EQ(mpp_ingest_frame(s, TOKEN, b.data, b.len), 0);
    ASSERT_EQ(mpp_buf_append(&b, "", 1), 0);
    ASSERT(mpp_ingest_frame(s, TOKEN, b.data, b.len) < 0);
    mpp_buf_fini(&b);
    mpp_session_destroy(&s);
}

MPP_TEST(bad_fields)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 0, 0, MPP_MSG_HELLO), MPP_EPROTO);
    ASSERT_EQ(s_feed3(s, -1, 0, MPP_MSG_HELLO), MPP_EPROTO);
    ASSERT_EQ(s_feed3(s, INT64_C(1) << 40, 0, MPP_MSG_HELLO), MPP_EPROTO);
    ASSERT_EQ(s_feed3(s, 100, UINT64_MAX, MPP_MSG_DATA), MPP_EPROTO);
    ASSERT_EQ(s->integrity.rejected, 4);
    ASSERT_EQ(s->nprocs, 0);
    mpp_session_destroy(&s);
}

MPP_TEST(new_incarnation)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), 0);
    ASSERT_EQ(s_feed3(s, 100, 2, MPP_MSG_BYE), 0);
    /* The pid comes back as another process: it starts at seq 0 again
     * with its own start time, and streams until its own BYE. */
    mpp_msg_t m = s_msg(100, 0, MPP_MSG_HELLO);
    m.start_ns = 2000;
    ASSERT_EQ(s_feed(s, &m), 0);
    mpp_proc_t *p = mpp_session_proc(s, 100, false);
    ASSERT(mpp_ingest_streaming(p));
    ASSERT_EQ(p->start_ns, 2000);
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), 0);
    ASSERT_EQ(s->integrity.rejected, 0);
    ASSERT_EQ(s->integrity.seq_gaps, 0);
    mpp_session_destroy(&s);
}

/* Reads what was written to `f` back as a string (caller frees). */
static char *
s_slurp(FILE *f)
{
    long n = ftell(f);
    char *text = calloc((size_t)n + 1, 1);
    rewind(f);
    ASSERT(fread(text, 1, (size_t)n, f) == (size_t)n);
    return text;
}

MPP_TEST(finish)
{
    mpp_session_t *s = mpp_session_new();
    /* 100: the target, no BYE; 101: said BYE; 102, 103: no BYE. */
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 101, 0, MPP_MSG_HELLO), 0);
    ASSERT_EQ(s_feed3(s, 101, 1, MPP_MSG_BYE), 0);
    ASSERT_EQ(s_feed3(s, 102, 0, MPP_MSG_HELLO), 0);
    mpp_msg_t m = s_msg(103, 0, MPP_MSG_DATA);
    m.name = "Bad\nName";
    ASSERT_EQ(s_feed(s, &m), 0);
    FILE *note = tmpfile();
    ASSERT(note != NULL);
    /* Wait status of a process killed by SIGKILL. */
    ASSERT_EQ(mpp_ingest_finish(s, 100, SIGKILL, note), 3);
    ASSERT_EQ(s->integrity.processes_lost, 3);
    ASSERT_EQ(mpp_session_proc(s, 100, false)->exit_kind, MPP_EXIT_SIGNAL);
    ASSERT_EQ(mpp_session_proc(s, 100, false)->exit_code, SIGKILL);
    ASSERT_EQ(mpp_session_proc(s, 101, false)->exit_kind, MPP_EXIT_OK);
    ASSERT_EQ(mpp_session_proc(s, 102, false)->exit_kind, MPP_EXIT_LOST);
    char *text = s_slurp(note);
    fclose(note);
    ASSERT(strstr(text, "3 processes") != NULL);
    ASSERT(strstr(text, "pid 100 (Worker), pid 102 (Worker), pid 103 "
                        "(Bad?Name)\n") != NULL);
    ASSERT(strchr(text, '\n') == text + strlen(text) - 1);
    free(text);
    /* Nothing left to mark the second time. */
    ASSERT_EQ(mpp_ingest_finish(s, 100, 0, NULL), 0);
    ASSERT_EQ(s->integrity.processes_lost, 3);
    mpp_session_destroy(&s);
}

/*  Caps this test process's address space at what it uses now plus
 *  `extra` bytes, so an allocation blow-up fails at once (as MPP_ENOMEM)
 *  instead of swapping for a minute.  Relative to the current size, so it
 *  also works under ASan (whose shadow is reserved up front) and valgrind. */
static void
s_cap_memory(size_t extra)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    ASSERT(f != NULL);
    ASSERT(fscanf(f, "%ld", &pages) == 1);
    fclose(f);
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + extra;
    struct rlimit rl = {cap, cap};
    ASSERT_EQ(setrlimit(RLIMIT_AS, &rl), 0);
}

/*  Issue 9, item 2: one small DATA frame defining function id 0xFFFFFFF0
 *  made the aggregator grow and zero a 2^32-entry map (16 GiB, 85 s).  Now
 *  the frame is rejected whole and counted, and nothing of it is applied,
 *  not even the valid definition before the forged one. */
MPP_TEST(hostile_fid)
{
    s_cap_memory((size_t)256 << 20);
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_feed3(s, 100, 0, MPP_MSG_HELLO), 0);

    mpp_wfunc_t funcs[] = {
        {7, 1, "/app/ok.py", "fine"},
        {0xFFFFFFF0u, 1, "/app/evil.py", "evil"},
    };
    mpp_wstat_t stats[] = {{0xFFFFFFF0u, {1, 1, 10, 10}}};
    mpp_wthread_t threads[] = {{.tid = 1, .stats = stats, .nstats = 1}};
    mpp_msg_t m = s_msg(100, 1, MPP_MSG_DATA);
    m.funcs = funcs + 1;
    m.nfuncs = 1;
    m.threads = threads;
    m.nthreads = 1;
    m.nspans = 0;
    ASSERT_EQ(s_feed(s, &m), MPP_ETOOBIG);
    m.funcs = funcs;
    m.nfuncs = 2;
    ASSERT_EQ(s_feed(s, &m), MPP_ETOOBIG);
    ASSERT_EQ(s->integrity.messages, 3);
    ASSERT_EQ(s->integrity.rejected, 2);
    ASSERT_EQ(s->nfuncs, 0);
    mpp_proc_t *p = mpp_session_proc(s, 100, false);
    ASSERT_EQ(p->messages, 1);
    ASSERT_EQ(p->next_seq, 1);
    ASSERT_EQ(p->nthreads, 0);

    /* The same seq, honest, is still welcome, and counts no gap. */
    ASSERT_EQ(s_feed3(s, 100, 1, MPP_MSG_DATA), 0);
    ASSERT_EQ(s->integrity.seq_gaps, 0);
    ASSERT_EQ(s->integrity.rejected, 2);
    ASSERT_EQ(mpp_proc_calls(p), 6);
    mpp_session_destroy(&s);
}

/*  Function ids are the process's own, not the session's: a fork child
 *  keeps its parent's numbering and may define only a few high ids.  Any
 *  id below MPP_WIRE_MAX_FUNCS is fine and costs one map entry; a stat or
 *  edge that names an id never defined is skipped, whatever its value. */
MPP_TEST(sparse_fids)
{
    s_cap_memory((size_t)256 << 20);
    mpp_session_t *s = mpp_session_new();
    mpp_wfunc_t funcs[] = {
        {MPP_WIRE_MAX_FUNCS - 1, 5, "/app/a.py", "high"},
        {40000, 6, "/app/a.py", "mid"},
    };
    mpp_wstat_t stats[] = {
        {MPP_WIRE_MAX_FUNCS - 1, {2, 2, 20, 30}},
        {40000, {1, 1, 10, 10}},
        {0xFFFFFFF0u, {5, 5, 50, 50}}, /* never defined: skipped */
    };
    mpp_wedge_t edges[] = {
        {MPP_WIRE_MAX_FUNCS - 1, 40000, {1, 1, 10, 10}},
        {40000, UINT32_MAX, {1, 1, 10, 10}}, /* skipped */
    };
    mpp_wthread_t threads[] = {{.tid = 9, .stats = stats, .nstats = 3,
                                .edges = edges, .nedges = 2}};
    mpp_msg_t m = s_msg(200, 0, MPP_MSG_DATA);
    m.funcs = funcs;
    m.nfuncs = 2;
    m.threads = threads;
    m.nthreads = 1;
    ASSERT_EQ(s_feed(s, &m), 0);
    ASSERT_EQ(s->integrity.rejected, 0);
    ASSERT_EQ(s->nfuncs, 2);
    mpp_proc_t *p = mpp_session_proc(s, 200, false);
    ASSERT_EQ(mpp_proc_calls(p), 3);
    ASSERT_EQ(p->threads[0].nedges, 1);

    /* MPP_WIRE_MAX_FUNCS itself is one too many. */
    funcs[0].fid = MPP_WIRE_MAX_FUNCS;
    m.seq = 1;
    ASSERT_EQ(s_feed(s, &m), MPP_ETOOBIG);
    ASSERT_EQ(s->integrity.rejected, 1);
    mpp_session_destroy(&s);
}

/*  A process's own ids go to an array, ids far above its definitions to a
 *  map; an id the array grows over later is still found in the map, and a
 *  later definition of it wins. */
MPP_TEST(fids_dense_and_sparse)
{
    enum { N = 6000 };
    mpp_session_t *s = mpp_session_new();
    mpp_wfunc_t high = {N, 1, "/app/b.py", "first"};
    mpp_wstat_t hs = {N, {1, 1, 1, 1}};
    mpp_wthread_t ht = {.tid = 1, .stats = &hs, .nstats = 1};
    mpp_msg_t m = s_msg(400, 0, MPP_MSG_DATA);
    m.funcs = &high;
    m.nfuncs = 1;
    m.threads = &ht;
    m.nthreads = 1;
    ASSERT_EQ(s_feed(s, &m), 0);
    mpp_proc_t *p = mpp_session_proc(s, 400, false);
    ASSERT(p->nfid_dense <= N); /* N went to the map */

    mpp_wfunc_t *funcs = calloc(N, sizeof(*funcs));
    mpp_wstat_t *stats = calloc(N + 1, sizeof(*stats));
    char (*names)[16] = calloc(N, sizeof(*names));
    ASSERT(funcs != NULL && stats != NULL && names != NULL);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "f%u", i);
        funcs[i] = (mpp_wfunc_t){i, 2, "/app/b.py", names[i]};
        stats[i] = (mpp_wstat_t){i, {2, 2, 2, 2}};
    }
    stats[N] = (mpp_wstat_t){N, {3, 3, 3, 3}};
    mpp_wthread_t t = {.tid = 1, .stats = stats, .nstats = N + 1};
    m.seq = 1;
    m.funcs = funcs;
    m.nfuncs = N;
    m.threads = &t;
    ASSERT_EQ(s_feed(s, &m), 0);
    p = mpp_session_proc(s, 400, false);
    ASSERT(p->nfid_dense > N); /* the array now covers N too */
    ASSERT_EQ(p->nfid_dense, 8192);
    ASSERT_EQ(mpp_proc_calls(p), 2 * N + 3);

    /* N defined again, as another function: the new one counts. */
    mpp_wfunc_t again = {N, 3, "/app/b.py", "second"};
    m.seq = 2;
    m.funcs = &again;
    m.nfuncs = 1;
    m.threads = &ht;
    hs.cost.ncalls = 5;
    ASSERT_EQ(s_feed(s, &m), 0);
    p = mpp_session_proc(s, 400, false);
    const mpp_thread_t *th = &p->threads[0];
    int64_t second = mpp_session_intern(s, "/app/b.py", 3, "second");
    ASSERT_EQ(th->stats[th->nstats - 1].func, second);
    ASSERT_EQ(th->stats[th->nstats - 1].cost.ncalls, 5);
    ASSERT_EQ(s->integrity.rejected, 0);
    free(funcs);
    free(stats);
    free(names);
    mpp_session_destroy(&s);
}

/*  A span belongs to a thread the process has sent; one that names any
 *  other thread is skipped instead of making a thread record for 7 bytes
 *  of frame.  Many threads stay cheap to find. */
MPP_TEST(spans_need_threads)
{
    s_cap_memory((size_t)256 << 20);
    mpp_session_t *s = mpp_session_new();
    enum { NT = 20000 };
    mpp_wthread_t *threads = calloc(NT, sizeof(*threads));
    mpp_wspan_t *spans = calloc(NT, sizeof(*spans));
    ASSERT(threads != NULL && spans != NULL);
    for (size_t i = 0; i < NT; i++) {
        threads[i].tid = 1000 + i;
        spans[i] = (mpp_wspan_t){.tid = 1000 + i + NT / 2, .cat = 1,
                                 .fid = 0, .start_ns = 5, .dur_ns = 7};
    }
    mpp_msg_t m = s_msg(300, 0, MPP_MSG_DATA);
    m.threads = threads;
    m.nthreads = NT;
    m.spans = spans;
    m.nspans = NT;
    ASSERT_EQ(s_feed(s, &m), 0);
    mpp_proc_t *p = mpp_session_proc(s, 300, false);
    ASSERT_EQ(p->nthreads, NT);
    size_t nspans = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        nspans += p->threads[i].nspans;
        ASSERT_EQ(p->threads[i].nspans, i >= NT / 2 ? 1 : 0);
    }
    ASSERT_EQ(nspans, NT / 2);
    ASSERT(mpp_proc_thread(p, 1000 + NT - 1, false) == &p->threads[NT - 1]);
    ASSERT(mpp_proc_thread(p, 1000 + NT, false) == NULL);
    free(threads);
    free(spans);
    mpp_session_destroy(&s);
}

/*  Times come from the wire, so their sums must survive any claim: two
 *  processes each saying INT64_MAX ns sum to INT64_MAX in the view, not
 *  to a negative number (and not to signed overflow, which is undefined
 *  behaviour that fuzz_ingest's UBSan stops on). */
MPP_TEST(view_times_saturate)
{
    mpp_session_t *s = mpp_session_new();
    mpp_wfunc_t funcs[] = {{0, 1, "/app/a.py", "f"}};
    mpp_wstat_t stats[] = {{0, {1, 1, INT64_MAX, INT64_MAX}}};
    mpp_wedge_t edges[] = {{0, 0, {1, 0, INT64_MAX, INT64_MAX}}};
    mpp_wthread_t threads[] = {{.tid = 1, .stats = stats, .nstats = 1,
                                .edges = edges, .nedges = 1}};
    for (int64_t pid = 100; pid < 102; pid++) {
        mpp_msg_t m = s_msg(pid, 0, MPP_MSG_DATA);
        m.funcs = funcs;
        m.nfuncs = 1;
        m.threads = threads;
        m.nthreads = 1;
        ASSERT_EQ(s_feed(s, &m), 0);
    }
    mpp_view_t *v = mpp_view_new(s, -1);
    ASSERT(v != NULL);
    ASSERT_EQ(v->nfuncs, 1);
    ASSERT_EQ(v->func[0].ncalls, 2);
    ASSERT_EQ(v->func[0].tt_ns, INT64_MAX);
    ASSERT_EQ(v->func[0].ct_ns, INT64_MAX);
    ASSERT_EQ(v->total_tt_ns, INT64_MAX);
    ASSERT_EQ(v->nedges, 1);
    ASSERT_EQ(v->edges[0].cost.tt_ns, INT64_MAX);
    mpp_view_destroy(&v);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    MPP_RUN(good_frames);
    MPP_RUN(foreign_token);
    MPP_RUN(replay);
    MPP_RUN(gap);
    MPP_RUN(garbage);
    MPP_RUN(truncated);
    MPP_RUN(bad_fields);
    MPP_RUN(new_incarnation);
    MPP_RUN(hostile_fid);
    MPP_RUN(sparse_fids);
    MPP_RUN(fids_dense_and_sparse);
    MPP_RUN(spans_need_threads);
    MPP_RUN(view_times_saturate);
    MPP_RUN(finish);
    return mpp_test_done(argc, argv);
}
