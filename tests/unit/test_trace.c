/*  trace.json (mpp_trace.c) and the category events of the callgrind
 *  files (mpp_callgrind.c), on a session built by hand whose spans are
 *  known.  The files are checked by their real consumers through
 *  check_writers.py: json.loads for the trace (a process per pid, thread
 *  names, slices per category adding up to the spans, escaped names read
 *  back as written), callgrind_annotate for the callgrind files (it must
 *  parse them, and its per-event totals must be the spans').
 */
#include "writers_fixture.h"

#include <errno.h>

/* Adds a span to a thread; the session starts at S_T0. */
#define S_T0 1700000000000000000LL

static void
s_span(mpp_thread_t *t, mpp_cat_t cat, uint32_t func, int64_t start_ms,
       int64_t dur_ns, uint64_t bytes)
{
    mpp_span_t sp = {
        .cat = cat,
        .func = func,
        .start_ns = S_T0 + start_ms * MS,
        .dur_ns = dur_ns,
        .bytes = bytes,
    };
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

/*  A parent whose task thread pickles (3 ms + 4 ms, through dumps called
 *  from one caller) and waits on a lock (2 ms), and whose names need
 *  escaping; a worker that unpickles (5 ms) and has a start-up span no
 *  function is known for (7 ms); a second incarnation of the worker's
 *  pid, which must get a track of its own. */
static mpp_session_t *
s_build(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    s->start_ns = S_T0;
    s->wall_ns = 100 * MS;
    char *cmd[] = {"script.py"};
    ASSERT_EQ(mpp_session_set_command(s, cmd, 1), 0);
    uint32_t mod = mpp_wf_fn(s, "/app/main.py", 1, "<module>");
    uint32_t task = mpp_wf_fn(s, "/py/pool.py", 528, "_handle_tasks");
    uint32_t dumps = mpp_wf_fn(s, "/py/reduction.py", 51, "dumps");
    uint32_t acq = mpp_wf_fn(s, "~", 0, "<method 'acquire' of lock>");
    uint32_t odd = mpp_wf_fn(s, "/x/q\"uote\\d.py", 3,
                             "tab\there\nnl\x01|\xc3\xa9|\xed\xa0\x80");
    uint32_t loads = mpp_wf_fn(s, "/py/reduction.py", 60, "loads");

    mpp_proc_t *p = mpp_wf_proc(s, 100, 1, "Main\"Process\n", "main",
                                90 * MS, 80 * MS, MPP_EXIT_OK, 0);
    p->start_ns = S_T0 - 2 * MS; /* before the session: ts < 0 */
    mpp_thread_t *t = mpp_wf_thread(p, 100, "MainThread");
    mpp_wf_stat(t, mod, 1, 1, 10 * MS, 90 * MS);
    mpp_wf_stat(t, odd, 1, 1, MS, MS);
    mpp_wf_stat(t, acq, 1, 1, 2 * MS, 2 * MS);
    mpp_wf_edge(t, mod, odd, 1, 1, MS, MS);
    mpp_wf_edge(t, mod, acq, 1, 1, 2 * MS, 2 * MS);
    s_span(t, MPP_CAT_LOCK_WAIT, acq, 10, 2 * MS, 0);
    t = mpp_wf_thread(p, 101, "Thread-1 (_handle_tasks)");
    mpp_wf_stat(t, task, 1, 1, MS, 8 * MS);
    mpp_wf_stat(t, dumps, 2, 2, 7 * MS, 7 * MS);
    mpp_wf_edge(t, task, dumps, 2, 2, 7 * MS, 7 * MS);
    s_span(t, MPP_CAT_PICKLE, dumps, 20, 3 * MS, 1000);
    s_span(t, MPP_CAT_PICKLE, dumps, 30, 4 * MS, 2000);

    mpp_proc_t *w = mpp_wf_proc(s, 200, 100, "ForkPoolWorker-1", "fork",
                                50 * MS, 40 * MS, MPP_EXIT_OK, 0);
    w->start_ns = S_T0 + 5 * MS;
    t = mpp_wf_thread(w, 200, "MainThread");
    mpp_wf_stat(t, loads, 1, 1, 5 * MS, 5 * MS);
    s_span(t, MPP_CAT_UNPICKLE, loads, 40, 5 * MS, 3000);
    s_span(t, MPP_CAT_STARTUP, UINT32_MAX, 5, 7 * MS, 0);
    /* An IPC wait inside a lock wait: 10 ms of span, 7 ms its own, which
     * is what callgrind charges to acquire; the IPC wait has no function,
     * so the callgrind files do not see it. */
    mpp_wf_stat(t, acq, 1, 1, 10 * MS, 10 * MS);
    s_span(t, MPP_CAT_LOCK_WAIT, acq, 20, 10 * MS, 0);
    s_span(t, MPP_CAT_IPC_WAIT, UINT32_MAX, 22, 3 * MS, 64);

    /* pid 200 again, after the first ended: a new incarnation. */
    mpp_proc_t *w2 = mpp_session_add_proc(s, 200);
    ASSERT(w2 != NULL);
    w2->ppid = 100;
    w2->name = strdup("ForkPoolWorker-2");
    w2->start_ns = S_T0 + 60 * MS;
    w2->wall_ns = 10 * MS;
    t = mpp_wf_thread(w2, 200, "MainThread");
    mpp_wf_stat(t, loads, 1, 1, MS, MS);
    return s;
}

static void
s_write_trace(const mpp_session_t *s, const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_trace_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);
}

/* What check_writers.py trace checks; slices are in microseconds. */
static const char s_expect_trace[] =
    "{\"processes\": {\"100\": \"Main\\\"Process\\n\","
    "                 \"200\": \"ForkPoolWorker-1\","
    "                 \"4294967496\": \"ForkPoolWorker-2\"},"
    " \"threads\": [[100, 101, \"Thread-1 (_handle_tasks)\"]],"
    " \"slices_us\": {\"pickle\": 7000, \"unpickle\": 5000,"
    "                \"lock_wait\": 12000, \"ipc_wait\": 3000,"
    "                \"startup\": 7000},"
    " \"self_us\": {\"pickle\": 7000, \"unpickle\": 5000,"
    "             \"lock_wait\": 9000, \"ipc_wait\": 3000,"
    "             \"startup\": 7000},"
    " \"slice_counts\": {\"pickle\": 2, \"unpickle\": 1, \"lock_wait\": 3,"
    "                   \"ipc_wait\": 1, \"startup\": 1},"
    " \"bytes\": {\"pickle\": 3000, \"unpickle\": 3000,"
    "            \"ipc_wait\": 64},"
    " \"lifetimes_us\": {\"100\": [-2000, 90000], \"200\": [5000, 50000]},"
    " \"functions\": [\"/x/q\\\"uote\\\\d.py:3(tab\\there\\nnl\\u0001|"
    "\\u00e9|\\ufffd\\ufffd\\ufffd)\"]}";

MPP_TEST(trace_consumer)
{
    mpp_session_t *s = s_build();
    /* The escaped function needs a span to be named in the trace. */
    mpp_thread_t *t = mpp_proc_thread(&s->procs[0], 100, false);
    ASSERT(t != NULL);
    s_span(t, MPP_CAT_LOCK_WAIT, 4, 50, 0, 0); /* "odd": zero length */
    const char *path = mpp_wf_path("trace.json");
    s_write_trace(s, path);
    mpp_wf_write_text(mpp_wf_path("trace.exp"), s_expect_trace);
    mpp_wf_check("trace", path, mpp_wf_path("trace.exp"));

    size_t len;
    const char *text = mpp_wf_slurp(path, &len);
    /* Exact microseconds from nanoseconds, and the escapes themselves. */
    ASSERT(strstr(text, "\"ts\": -2000.000, \"dur\": 90000.000") != NULL);
    ASSERT(strstr(text, "Main\\\"Process\\n") != NULL);
    ASSERT(strstr(text, "nl\\u0001|\xc3\xa9|\\ufffd") != NULL);
    ASSERT(strstr(text, "\"displayTimeUnit\": \"ms\"") != NULL);
    mpp_session_destroy(&s);
}

MPP_TEST(trace_empty)
{
    /* A session with no process is still a loadable trace. */
    mpp_session_t *s = mpp_session_new();
    const char *path = mpp_wf_path("empty.json");
    s_write_trace(s, path);
    mpp_wf_write_text(mpp_wf_path("empty.exp"), "{\"processes\": {}}");
    mpp_wf_check("trace", path, mpp_wf_path("empty.exp"));
    ASSERT_EQ(mpp_trace_write(NULL, stdout), MPP_EINVAL);
    mpp_session_destroy(&s);
}

MPP_TEST(trace_write_error)
{
    /* A stream that fails says so rather than leaving half a file. */
    mpp_session_t *s = s_build();
    FILE *f = fopen("/dev/full", "wb");
    if (f == NULL) {
        MPP_SKIP("no /dev/full");
    }
    setvbuf(f, NULL, _IONBF, 0);
    ASSERT_EQ(mpp_trace_write(s, f), -EIO);
    fclose(f);
    mpp_session_destroy(&s);
}

/*  Category events: the spans' own times on the functions that hold them
 *  (dumps 7 ms of Pickle, loads 5 ms of Unpickle, acquire 2 + 7 ms of
 *  LockWait: 10 ms less the IPC wait inside) and on the edges into them;
 *  the start-up span has no function and appears nowhere. */
MPP_TEST(callgrind_categories)
{
    mpp_session_t *s = s_build();
    const char *out = mpp_wf_path("cats.out");
    const char *parts = mpp_wf_path("cats.parts");
    ASSERT_EQ(mpp_wf_write(MPP_WF_CALLGRIND, s, NULL, out), 0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_PARTS, s, NULL, parts), 0);

    size_t len;
    const char *cg = mpp_wf_slurp(out, &len);
    ASSERT(strstr(cg, "events: ns Pickle Unpickle LockWait IpcWait "
                      "Startup\n") != NULL);
    /* Self: time, then Pickle; trailing zero events left out. */
    ASSERT(strstr(cg, "\nfn=(3)\n51 7000000 7000000\n") != NULL);
    ASSERT(strstr(cg, "fn=(6) loads\n60 6000000 0 5000000\n") != NULL);
    ASSERT(strstr(cg, "\n0 12000000 0 0 9000000\n") != NULL);
    /* The one edge into acquire that the view has: all of it. */
    ASSERT(strstr(cg, "calls=1 0\n1 2000000 0 0 9000000\n") != NULL);
    /* The one edge into dumps carries all of its Pickle cost. */
    ASSERT(strstr(cg, "cfn=(3) dumps\ncalls=2 51\n528 7000000 7000000\n") !=
           NULL);
    /* A function without category cost keeps its two-number line. */
    ASSERT(strstr(cg, "fn=(2) _handle_tasks\n528 1000000\n") != NULL);

    const char *want = "{\"ns\": 37000000, \"Pickle\": 7000000,"
                       " \"Unpickle\": 5000000, \"LockWait\": 9000000,"
                       " \"IpcWait\": 0, \"Startup\": 0}";
    mpp_wf_write_text(mpp_wf_path("cats.exp"), want);
    mpp_wf_check("cgcats", out, mpp_wf_path("cats.exp"));
    /* callgrind_annotate reads only the last part of a parts file: it
     * must parse it and list the events; the costs are checked here. */
    mpp_wf_write_text(mpp_wf_path("parts.exp"),
                      "{\"events\": [\"ns\", \"Pickle\", \"Unpickle\","
                      " \"LockWait\", \"IpcWait\", \"Startup\"]}");
    mpp_wf_check("cgcats", parts, mpp_wf_path("parts.exp"));
    cg = mpp_wf_slurp(parts, &len);
    ASSERT(strstr(cg, "part: 1\n") != NULL);
    ASSERT(strstr(cg, "summary: 21000000 7000000 0 2000000\n") != NULL);
    ASSERT(strstr(cg, "summary: 15000000 0 5000000 7000000\n") != NULL);
    ASSERT(strstr(cg, "summary: 1000000\n") != NULL);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(trace_consumer);
    MPP_RUN(trace_empty);
    MPP_RUN(trace_write_error);
    MPP_RUN(callgrind_categories);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
