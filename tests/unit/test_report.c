/*  The text and JSON reports, checked against their real consumers and
 *  exact expectations: the main fixture session of writers_fixture.h, a
 *  Pool run for the call sites of each category, and the ranking of
 *  function rows.
 */
#include "mpp_report_priv.h"
#include "writers_fixture.h"

/* The JSON report of mpp_wf_build(): a subset of the document, in order. */
#define S_NOCATS                                                              \
    "{\"pickle_s\": 0.0, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.0, "         \
    "\"ipc_wait_s\": 0.0, \"startup_s\": 0.0}"
#define S_PROC_B                                                              \
    "{\"pid\": 101, \"ppid\": 100, \"name\": \"ForkPoolWorker-1\", "          \
    "\"start_method\": \"fork\", \"wall_s\": 1.5, \"cpu_s\": 1.0, "           \
    "\"exit\": \"signal:9\", \"calls\": 3000000007, \"threads\": 1, "         \
    "\"categories\": {\"pickle_s\": 0.0, \"unpickle_s\": 0.04, "              \
    "\"lock_wait_s\": 0.0, \"ipc_wait_s\": 0.1, \"startup_s\": 0.05}, "       \
    "\"thread_list\": [{\"tid\": 7, \"name\": \"MainThread\", "               \
    "\"calls\": 3000000007}]}"
#define S_JFN(file, line, name, nc, pc, tt, ct, np)                           \
    "{\"file\": \"" file "\", \"line\": " #line ", \"name\": \"" name         \
    "\", \"ncalls\": " #nc ", \"pcalls\": " #pc ", \"tottime_s\": " #tt       \
    ", \"cumtime_s\": " #ct ", \"processes\": " #np "}"
#define S_LEN_ROW                                                             \
    S_JFN("~", 0, "<built-in method builtins.len>", 3000000000, 3000000000,  \
          1.5, 1.5, 1)
static const char s_expect_json[] =
    "{\"mpprof_version\": \"" MPPROF_VERSION_STRING "\", "
    "\"python\": \"3.11.7\", \"command\": [\"script.py\", \"--n\", \"4\"], "
    "\"wall_s\": 2.5, \"exit_status\": 0, \"processes\": ["
    "{\"pid\": 100, \"ppid\": 1, \"name\": \"MainProcess\", "
    "\"start_method\": \"main\", \"wall_s\": 2.0, \"cpu_s\": 1.5, "
    "\"exit\": \"ok\", \"calls\": 16, \"threads\": 2, \"categories\": "
    "{\"pickle_s\": 0.015, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.200000003,"
    " \"ipc_wait_s\": 0.0, \"startup_s\": 0.0}, \"thread_list\": ["
    "{\"tid\": 1, \"name\": \"MainThread\", \"calls\": 13}, "
    "{\"tid\": 2, \"name\": \"Thread-1\", \"calls\": 3, \"categories\": "
    "{\"pickle_s\": 0.015, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.0, "
    "\"ipc_wait_s\": 0.0, \"startup_s\": 0.0}}]}, " S_PROC_B ", "
    "{\"pid\": 102, \"ppid\": 100, \"name\": \"ForkPoolWorker-2\", "
    "\"exit\": \"lost\", \"calls\": 0, \"threads\": 0, "
    "\"wall_s\": 0.0, \"categories\": " S_NOCATS "}], "
    "\"categories\": {\"pickle_s\": 0.015, \"unpickle_s\": 0.04, "
    "\"lock_wait_s\": 0.200000003, \"ipc_wait_s\": 0.1, \"startup_s\": 0.05},"
    " \"functions\": [" S_LEN_ROW ", "
    S_JFN("/src/app/main.py", 1, "<module>", 1, 1, 0.100000007, 1.000000021,
          1) ", "
    S_JFN("/src/app/work.py", 5, "work", 6, 6, 0.47, 0.825, 2) ", "
    S_JFN("/usr/lib/python3.11/multiprocessing/process.py", 108,
          "_bootstrap", 1, 1, 0.1, 0.7, 1) ", "
    S_JFN("/src/app/main.py", 10, "fact", 5, 1, 0.3, 0.500000011, 1) ", "
    S_JFN("/src/app/work.py", 40, "__init__", 3, 3, 0.3, 0.3, 1) ", "
    S_JFN("~", 0, "<method 'acquire' of '_thread.lock' objects>", 3, 3,
          0.200000003, 0.200000003, 1) ", "
    S_JFN("/src/app/work.py", 20, "__init__", 3, 3, 0.055, 0.055, 1) ", "
    S_JFN("/src/app/main.py", 50, "bad\\ufffd\\ufffdname", 1, 1, 0.005,
          0.03, 1)
    "], \"integrity\": {\"messages\": 12, \"rejected\": 2, \"seq_gaps\": 1, "
    "\"processes_lost\": 1}}";

/* Process 101 alone, by own time, three rows. */
static const char s_expect_json_b[] =
    "{\"wall_s\": 2.5, \"processes\": [" S_PROC_B "], \"categories\": "
    "{\"pickle_s\": 0.0, \"unpickle_s\": 0.04, \"lock_wait_s\": 0.0, "
    "\"ipc_wait_s\": 0.1, \"startup_s\": 0.05}, \"functions\": [" S_LEN_ROW
    ", " S_JFN("/src/app/work.py", 5, "work", 3, 3, 0.3, 0.6, 1) ", "
    S_JFN("/src/app/work.py", 40, "__init__", 3, 3, 0.3, 0.3, 1) "]}";

MPP_TEST(json_report)
{
    mpp_session_t *s = mpp_wf_build();
    mpp_wf_write_text(mpp_wf_path("report.exp"), s_expect_json);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("report.json")),
              0);
    mpp_wf_check("json", mpp_wf_path("report.json"), mpp_wf_path("report.exp"));

    mpp_report_opts_t o = {MPP_SORT_TOTTIME, 3, 1};
    mpp_wf_write_text(mpp_wf_path("report_b.exp"), s_expect_json_b);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, &o, mpp_wf_path("report_b.json")),
              0);
    mpp_wf_check("json", mpp_wf_path("report_b.json"),
                 mpp_wf_path("report_b.exp"));

    o.proc = 3;
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, &o, mpp_wf_path("bad.json")),
              MPP_EINVAL);
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, &o, mpp_wf_path("bad.txt")),
              MPP_EINVAL);
    mpp_session_destroy(&s);
}

/* Names the program chose: quotes, escapes, control bytes, bad UTF-8. */
MPP_TEST(text_report)
{
    mpp_session_t *s = mpp_wf_build();
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("report.txt")), 0);
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("profile.prof")), 0);
    mpp_wf_check("text", mpp_wf_path("report.txt"),
                 mpp_wf_path("profile.prof"));
    size_t len;
    const char *txt = mpp_wf_slurp(mpp_wf_path("report.txt"), &len);
    ASSERT(strstr(txt, "mpprof " MPPROF_VERSION_STRING
                       ": script.py --n 4\n  python 3.11.7, wall 2.500 s, "
                       "exit status 0\n  3 processes, 3000000023 function "
                       "calls (3000000019 primitive calls)\n"));
    ASSERT(strstr(txt, "      5/1    0.300    0.060    0.500    0.500 "
                       "/src/app/main.py:10(fact)\n"));
    ASSERT(strstr(txt, "3000000000    1.500    0.000    1.500    0.000 "
                       "{built-in method builtins.len}\n"));
    /* Thread time: 0.800000010 + 0.030 + 2.200 s.  The worker was on a
     * CPU for 1 s of its 2.05 s outside lock and IPC waits, so of its
     * 2.01 s outside categories 0.957 s is compute and the rest other
     * wait; the main process's CPU time covers all of its.  Compute
     * (1.57 s) leads: issue 13's verdict.  (Before it, serialisation led
     * with 55 ms while 87% of the time was compute.) */
    ASSERT(strstr(txt, "\nWhere the time went (all processes, 3.030 "
                       "thread-seconds):\n  compute 52%, pickle <1% (15 ms, "
                       "1.0 kB), unpickle 1% (40 ms, 2.0 kB), lock wait 7% "
                       "(200 ms),\n  IPC wait 3% (100 ms), start-up 2% "
                       "(50 ms), other wait 35% (1.05 s)\nLeading cost: "
                       "compute \xe2\x80\x94 1.57 s in 2 processes (52% of "
                       "the thread time): the program's own work, on a\n  "
                       "CPU, more than any overhead measured.\nThe workers "
                       "waited 100 ms on pipes "));
    ASSERT(strstr(txt, "\nThe main process waited 200 ms "));
    ASSERT(strstr(txt, "for its workers: idle while they\n  work, so not "
                       "counted as the leading cost.\n\nProcesses\n"));
    ASSERT(strstr(txt, "     101      100  ForkPoolWorker-1     fork       "
                       "    1.500     1.000 3000000007       1  "
                       "signal:9\n"));
    ASSERT(strstr(txt, "  lost\n"));
    ASSERT(strstr(txt, "    100  MainProcess              0.830    0.615    "
                       "0.015    0.000    0.200    0.000    0.000\n"));
    ASSERT(strstr(txt, "    100  Thread-1                            3    "
                       "0.015    0.015    0.000    0.000    0.000    "
                       "0.000\n"));
    ASSERT(strstr(txt, "    0.200          3         -  threading.Lock     "
                       "    100       main.py:1(<module>)\n\nTop pickling "
                       "sites (function \xe2\x86\x92 pickler; time includes "
                       "callees; bytes as measured)\n  none measured\n"));
    ASSERT(strstr(txt, "\nIntegrity: 12 messages, 2 rejected, 1 sequence "
                       "gaps, 0 dropped events, 1 processes lost (ended\n  "
                       "without final data: 102 ForkPoolWorker-2)\n"));
    mpp_wf_check_width(txt);

    /* A limit and one process. */
    mpp_report_opts_t o = {MPP_SORT_CALLS, 2, 0};
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, &o, mpp_wf_path("report_a.txt")), 0);
    txt = mpp_wf_slurp(mpp_wf_path("report_a.txt"), &len);
    ASSERT(strstr(txt, "ordered by call count; 2 of 6 shown\n"));
    ASSERT(strstr(txt, "ForkPoolWorker-1") == NULL);
    ASSERT(strstr(txt, ")\n      5/1    0.300 "));
    /* Alone, the main process computed most of its time (615 of 830 ms,
     * its CPU time covering it), which leads before its 200 ms of lock
     * wait (that led before issue 13). */
    ASSERT(strstr(txt, "\nWhere the time went (this process, 0.830 "
                       "thread-seconds):\n"));
    ASSERT(strstr(txt, "\nLeading cost: compute \xe2\x80\x94 615 ms in 1 "
                       "process (74% of the thread time)"));
    mpp_wf_check_width(txt);
    ASSERT(strstr(txt, "(fact)\n        3    0.170    0.057    0.225    "
                       "0.075 /src/app/work.py:5(work)\n\n"));
    mpp_session_destroy(&s);
}

/*  A Pool run as the collector reports it: the parent's main thread
 *  waits in map(), its task thread pickles and its result thread reads;
 *  two workers read tasks and write results through SimpleQueue; a
 *  resource tracker idles.  Sites are found through the multiprocessing
 *  wrappers (Connection.send, SimpleQueue.get, ApplyResult.get/wait).
 *  Spans carry bytes; one names the wrapper, one the root, one a function
 *  with no edge at all. */
#define S_LIB "/usr/lib/python3.11/"
#define S_MPL S_LIB "multiprocessing/"

typedef struct {
    uint32_t main, map, get, wait, ewait, cwait, acq, tasks, send, dumps,
        pdump, sendb, results, recv, recvb_, loads, worker, qget, qput, sem,
        recvbytes, helper, save, work, sync;
} s_pool_fns_t;

static s_pool_fns_t
s_pool_fns(mpp_session_t *s)
{
    s_pool_fns_t f;
    f.main = mpp_wf_fn(s, "/app/main.py", 5, "main");
    f.map = mpp_wf_fn(s, S_MPL "pool.py", 362, "map");
    f.get = mpp_wf_fn(s, S_MPL "pool.py", 767, "get");
    f.wait = mpp_wf_fn(s, S_MPL "pool.py", 764, "wait");
    f.ewait = mpp_wf_fn(s, S_LIB "threading.py", 611, "wait");
    f.cwait = mpp_wf_fn(s, S_LIB "threading.py", 295, "wait");
    f.acq =
        mpp_wf_fn(s, "~", 0, "<method 'acquire' of '_thread.lock' objects>");
    f.tasks = mpp_wf_fn(s, S_MPL "pool.py", 528, "_handle_tasks");
    f.send = mpp_wf_fn(s, S_MPL "connection.py", 202, "send");
    f.dumps = mpp_wf_fn(s, S_MPL "reduction.py", 51, "dumps");
    f.pdump =
        mpp_wf_fn(s, "~", 0, "<method 'dump' of '_pickle.Pickler' objects>");
    f.sendb = mpp_wf_fn(s, S_MPL "connection.py", 414, "_send_bytes");
    f.results = mpp_wf_fn(s, S_MPL "pool.py", 579, "_handle_results");
    f.recv = mpp_wf_fn(s, S_MPL "connection.py", 246, "recv");
    f.recvb_ = mpp_wf_fn(s, S_MPL "connection.py", 429, "_recv_bytes");
    f.loads = mpp_wf_fn(s, "~", 0, "<built-in method _pickle.loads>");
    f.worker = mpp_wf_fn(s, S_MPL "pool.py", 114, "worker");
    f.qget = mpp_wf_fn(s, S_MPL "queues.py", 364, "get");
    f.qput = mpp_wf_fn(s, S_MPL "queues.py", 373, "put");
    f.sem = mpp_wf_fn(s, "~", 0,
                 "<method '__enter__' of '_multiprocessing.SemLock' objects>");
    f.recvbytes = mpp_wf_fn(s, S_MPL "connection.py", 208, "recv_bytes");
    f.helper = mpp_wf_fn(s, "/app/main.py", 40, "helper");
    f.save = mpp_wf_fn(s, "/app/main.py", 30, "custom_save");
    f.work = mpp_wf_fn(s, "/app/main.py", 20, "work");
    f.sync = mpp_wf_fn(s, S_MPL "synchronize.py", 94, "__enter__");
    return f;
}

static void
s_span(mpp_thread_t *t, uint32_t cat, uint32_t func, int64_t dur,
       uint64_t bytes)
{
    mpp_span_t sp = {cat, func, 1700000000000000000LL, dur, bytes};
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

/* One worker: `lock` ms on the queue's lock, 40 ms reading, `dumps` ms
 * pickling results. */
static void
s_pool_worker(mpp_session_t *s, const s_pool_fns_t *f, int64_t pid,
              int64_t lock, int64_t dumps, bool helper)
{
    char name[32];
    snprintf(name, sizeof(name), "ForkPoolWorker-%d", (int)(pid - 200));
    mpp_proc_t *p = mpp_wf_proc(s, pid, 200, name, "fork", 1000 * MS, 700 * MS,
                           MPP_EXIT_OK, 0);
    mpp_thread_t *t = mpp_wf_thread(p, 1, "MainThread");
    mpp_wf_stat(t, f->worker, 1, 1, 5 * MS, 700 * MS);
    mpp_wf_stat(t, f->work, 2, 2, 500 * MS, 500 * MS);
    mpp_wf_edge(t, f->worker, f->qget, 3, 3, 3 * MS, 80 * MS);
    mpp_wf_edge(t, f->qget, f->sync, 3, 3, 0, lock * MS);
    mpp_wf_edge(t, f->sync, f->sem, helper ? 3 : 5, 3, lock * MS, lock * MS);
    mpp_wf_edge(t, f->qget, f->recvbytes, 3, 3, MS, 41 * MS);
    mpp_wf_edge(t, f->recvbytes, f->recvb_, 3, 3, 40 * MS, 40 * MS);
    mpp_wf_edge(t, f->qget, f->loads, 2, 2, 6 * MS, 6 * MS);
    mpp_wf_edge(t, f->worker, f->work, 2, 2, 500 * MS, 500 * MS);
    mpp_wf_edge(t, f->worker, f->qput, 2, 2, MS, 12 * MS);
    mpp_wf_edge(t, f->qput, f->dumps, helper ? 3 : 2, 2, MS, dumps * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){(uint64_t)lock * MS, 3, 0};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){40 * MS, 3, 0};
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){6 * MS, 2, 500};
    t->cat[MPP_CAT_PICKLE] =
        (mpp_catval_t){(uint64_t)(dumps + 2 * helper) * MS, 3, 364};
    if (helper) {
        /* A second caller keeps SimpleQueue.put as the site; a span with
         * no edge makes a site of its own. */
        mpp_wf_edge(t, f->helper, f->qput, 1, 1, MS, 5 * MS);
        s_span(t, MPP_CAT_PICKLE, f->qput, 4 * MS, 300);
        s_span(t, MPP_CAT_PICKLE, f->save, 2 * MS, 64);
    }
    else {
        /* Two wrappers that both come down to worker(): still lifted. */
        mpp_wf_edge(t, f->qput, f->sync, 2, 2, 0, 0);
        s_span(t, MPP_CAT_PICKLE, f->qput, 4 * MS, 200);
    }
}

static mpp_session_t *
s_build_pool(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    char *argv[] = {"pool.py"};
    ASSERT_EQ(mpp_session_set_command(s, argv, 1), 0);
    s->wall_ns = 1100 * MS;
    s_pool_fns_t f = s_pool_fns(s);

    mpp_proc_t *p = mpp_wf_proc(s, 200, 1, "MainProcess", "main", 1100 * MS,
                           300 * MS, MPP_EXIT_OK, 0);
    mpp_thread_t *t = mpp_wf_thread(p, 1, "MainThread");
    mpp_wf_stat(t, f.main, 1, 1, 100 * MS, 1000 * MS);
    mpp_wf_stat(t, f.acq, 2, 2, 900 * MS, 900 * MS);
    mpp_wf_edge(t, f.main, f.map, 1, 1, MS, 900 * MS);
    mpp_wf_edge(t, f.map, f.get, 1, 1, MS, 900 * MS);
    mpp_wf_edge(t, f.get, f.wait, 1, 1, MS, 900 * MS);
    mpp_wf_edge(t, f.wait, f.ewait, 1, 1, MS, 900 * MS);
    mpp_wf_edge(t, f.ewait, f.cwait, 1, 1, MS, 900 * MS);
    mpp_wf_edge(t, f.cwait, f.acq, 2, 2, 900 * MS, 900 * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){900 * MS, 2, 0};

    t = mpp_wf_thread(p, 2, "Thread-2 (_handle_tasks)");
    mpp_wf_stat(t, f.tasks, 1, 1, 10 * MS, 110 * MS);
    mpp_wf_stat(t, f.pdump, 4, 4, 70 * MS, 70 * MS);
    mpp_wf_edge(t, f.tasks, f.send, 4, 4, MS, 100 * MS);
    mpp_wf_edge(t, f.send, f.dumps, 4, 4, 10 * MS, 80 * MS);
    mpp_wf_edge(t, f.dumps, f.pdump, 4, 4, 70 * MS, 70 * MS);
    mpp_wf_edge(t, f.send, f.sendb, 4, 4, 20 * MS, 20 * MS);
    t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){80 * MS, 4, 4000};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){20 * MS, 4, 0};
    for (int i = 0; i < 3; i++) {
        s_span(t, MPP_CAT_PICKLE, f.send, 20 * MS, 1000);
    }
    s_span(t, MPP_CAT_PICKLE, f.dumps, 20 * MS, 1000);

    t = mpp_wf_thread(p, 3, "Thread-3 (_handle_results)");
    mpp_wf_stat(t, f.results, 1, 1, 5 * MS, 713 * MS);
    mpp_wf_stat(t, f.recvb_, 5, 5, 700 * MS, 700 * MS);
    mpp_wf_edge(t, f.results, f.recv, 5, 5, MS, 708 * MS);
    mpp_wf_edge(t, f.recv, f.recvb_, 5, 5, 700 * MS, 700 * MS);
    mpp_wf_edge(t, f.recv, f.loads, 4, 4, 8 * MS, 8 * MS);
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){700 * MS, 5, 0};
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){8 * MS, 4, 900};

    s_pool_worker(s, &f, 201, 30, 15, true);
    s_pool_worker(s, &f, 202, 10, 10, false);
    p = mpp_wf_proc(s, 203, 200, "resource_tracker", "spawn", 1100 * MS, MS,
               MPP_EXIT_OK, 0);
    char *targv[] = {"python3", "-c",
                     "from multiprocessing.resource_tracker import main"};
    p->argv = calloc(3, sizeof(char *));
    for (size_t i = 0; i < 3; i++) {
        p->argv[i] = strdup(targv[i]);
    }
    p->argc = 3;
    return s;
}

#define S_SITE(file, line, name, pids, count, secs, bytes, via)               \
    "{\"file\": \"" file "\", \"line\": " #line ", \"name\": \"" name         \
    "\", \"process_pids\": " pids ", \"count\": " #count                      \
    ", \"seconds\": " #secs ", \"bytes\": " #bytes ", \"via\": " via "}"
#define S_POOL S_MPL "pool.py"

static const char s_expect_sites[] =
    "{\"thread_s\": 2.818, \"categories\": {\"pickle_s\": 0.107, "
    "\"unpickle_s\": 0.02, \"lock_wait_s\": 0.94, \"ipc_wait_s\": 0.8, "
    "\"startup_s\": 0.0}, \"sites\": {\"lock_wait\": ["
    S_SITE(S_POOL, 362, "map", "[200]", 1, 0.9, 0, "\"Condition.wait\"") ", "
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 8, 0.04, 0,
           "\"with SemLock\"")
    "], \"pickle\": ["
    S_SITE(S_POOL, 528, "_handle_tasks", "[200]", 4, 0.08, 4000,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE(S_MPL "queues.py", 373, "put", "[201]", 3, 0.015, 300,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE(S_POOL, 114, "worker", "[202]", 2, 0.01, 200,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE("/app/main.py", 30, "custom_save", "[201]", 1, 0.002, 64, "null")
    "], \"unpickle\": ["
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 4, 0.012, 0,
           "\"pickle.loads\"") ", "
    S_SITE(S_POOL, 579, "_handle_results", "[200]", 4, 0.008, 0,
           "\"pickle.loads\"")
    "], \"ipc_wait\": ["
    S_SITE(S_POOL, 579, "_handle_results", "[200]", 5, 0.7, 0,
           "\"Connection._recv_bytes\"") ", "
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 6, 0.08, 0,
           "\"Connection._recv_bytes\"") ", "
    S_SITE(S_POOL, 528, "_handle_tasks", "[200]", 4, 0.02, 0,
           "\"Connection._send_bytes\"")
    "]}}";

MPP_TEST(sites)
{
    mpp_session_t *s = s_build_pool();
    mpp_wf_write_text(mpp_wf_path("sites.exp"), s_expect_sites);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("sites.json")), 0);
    mpp_wf_check("json", mpp_wf_path("sites.json"), mpp_wf_path("sites.exp"));
    size_t len;
    const char *txt = mpp_wf_slurp(mpp_wf_path("sites.json"), &len);
    ASSERT(strstr(txt, "\"lock_type\": \"threading.Condition\""));
    ASSERT(strstr(txt, "\"lock_type\": \"multiprocessing lock\""));

    /* One process: only its own sites. */
    mpp_report_opts_t o = {MPP_SORT_CUMULATIVE, 0, 1};
    mpp_wf_write_text(mpp_wf_path("sites_a.exp"),
                 "{\"sites\": {\"lock_wait\": ["
                 S_SITE(S_POOL, 114, "worker", "[201]", 3, 0.03, 0,
                        "\"with SemLock\"")
                 "], \"pickle\": ["
                 S_SITE(S_MPL "queues.py", 373, "put", "[201]", 3, 0.015,
                        300, "\"ForkingPickler.dumps\"") ", "
                 S_SITE("/app/main.py", 30, "custom_save", "[201]", 1,
                        0.002, 64, "null")
                 "]}}");
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, &o, mpp_wf_path("sites_a.json")), 0);
    mpp_wf_check("json", mpp_wf_path("sites_a.json"),
                 mpp_wf_path("sites_a.exp"));

    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("sites.txt")), 0);
    txt = mpp_wf_slurp(mpp_wf_path("sites.txt"), &len);
    mpp_wf_check_width(txt);
    /* The workers computed (2 x 0.5 s in work()), which leads. */
    ASSERT(strstr(txt, "\nLeading cost: compute \xe2\x80\x94 951 ms in 3 "
                       "processes (34% of the thread time)"));
    ASSERT(strstr(txt, "\nHint: ") == NULL);
    /* Workers that were off the CPU for all but 5 ms computed nothing to
     * speak of, and the parent's waits (0.9 + 0.02 + 0.7 s) are idle, so
     * pickling in the parent and both workers leads; the workers' waits
     * in SimpleQueue.get, 80 ms in the pipe and 40 ms on its read lock,
     * are idle too.  Pickling and unpickling are moving data; no span
     * shows a transfer. */
    s->procs[1].cpu_ns = s->procs[2].cpu_ns = 5 * MS;
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("sites_b.txt")),
              0);
    txt = mpp_wf_slurp(mpp_wf_path("sites_b.txt"), &len);
    mpp_wf_check_width(txt);
    ASSERT(strstr(txt, "\nLeading cost: moving data \xe2\x80\x94 127 ms in 3 "
                       "processes: pickling 107 ms, unpickling 20 ms; top "
                       "site:\n  pool.py:_handle_tasks "
                       "\xe2\x86\x92 ForkingPickler.dumps (4 calls, "
                       "4.0 kB)\nThe workers waited 120 ms on pipes and "
                       "their queues' read locks ("));
    ASSERT(strstr(txt, "\nThe main process waited 1.62 s "));
    ASSERT(strstr(txt, "\nHint: send less per task"));
    ASSERT(strstr(txt, "    0.900          1         -  threading.Condition"
                       "    200       pool.py:362(map)\n    0.040       "
                       "   8         -  multiprocessing lock   2 procs   "
                       "pool.py:114(worker)\n"));
    ASSERT(strstr(txt, "    0.080          4    4.0 kB  ForkingPickler.dumps"
                       "   200       pool.py:528(_handle_tasks)\n"));
    ASSERT(strstr(txt, "    0.002          1      64 B  ?                 "
                       "     201       main.py:30(custom_save)\n"));
    ASSERT(strstr(txt, "\nTop IPC-wait sites "));
    ASSERT(strstr(txt, "    200  Thread-3 (_handle_results)          6    "
                       "0.000    0.000    0.008    0.000    0.700    "
                       "0.000\n"));
    mpp_session_destroy(&s);
}

MPP_TEST(find_proc)
{
    mpp_session_t *s = mpp_wf_build();
    ASSERT_EQ(mpp_report_find_proc(s, "101"), 1);
    ASSERT_EQ(mpp_report_find_proc(s, "MainProcess"), 0);
    ASSERT_EQ(mpp_report_find_proc(s, "ForkPoolWorker-2"), 2);
    ASSERT_EQ(mpp_report_find_proc(s, "999"), -1);
    ASSERT_EQ(mpp_report_find_proc(s, "ForkPoolWorker"), -1);
    ASSERT_EQ(mpp_report_find_proc(s, ""), -1);
    ASSERT_EQ(mpp_report_find_proc(s, NULL), -1);
    free(s->procs[2].name);
    s->procs[2].name = strdup("42");
    ASSERT_EQ(mpp_report_find_proc(s, "42"), 2); /* no pid 42: by name */
    mpp_session_destroy(&s);
}

/*  The first `limit` rows of the report are the first rows of the full
 *  ranking, for every sort, with many ties on the sort keys (decided by
 *  file, line and name). */
MPP_TEST(rows_limit)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *t = mpp_wf_thread(mpp_session_proc(s, 1, true), 1, "T");
    for (int i = 0; i < 3000; i++) {
        char file[32], name[32];
        snprintf(file, sizeof(file), "/m/f%d.py", (int)(mpp_wf_rand() % 40));
        snprintf(name, sizeof(name), "g%d", (int)(mpp_wf_rand() % 50));
        int64_t f = mpp_session_intern(s, file, (int32_t)(mpp_wf_rand() % 5),
                                       name);
        ASSERT(f >= 0);
        uint64_t nc = mpp_wf_rand() % 4; /* some never called: no row */
        mpp_wf_stat(t, (uint32_t)f, nc, nc, (int64_t)(mpp_wf_rand() % 3),
               (int64_t)(mpp_wf_rand() % 4));
    }
    mpp_view_t *v = mpp_view_new(s, -1);
    ASSERT(v != NULL);
    for (int sort = 0; sort < 3; sort++) {
        size_t nall, n;
        mpp_rep_row_t *all = mpp_rep_rows(s, v, (mpp_sort_t)sort, 0, &nall);
        ASSERT(all != NULL && nall > 1000);
        static const size_t limits[] = {1, 2, 30, 999, 5000};
        for (size_t li = 0; li < MPP_ARRAY_SIZE(limits); li++) {
            mpp_rep_row_t *top =
                mpp_rep_rows(s, v, (mpp_sort_t)sort, limits[li], &n);
            ASSERT(top != NULL);
            ASSERT_EQ(n, nall);
            size_t shown = limits[li] < nall ? limits[li] : nall;
            for (size_t k = 0; k < shown; k++) {
                ASSERT(top[k].fn == all[k].fn);
                ASSERT(memcmp(&top[k].cost, &all[k].cost,
                              sizeof(top[k].cost)) == 0);
                ASSERT_EQ(top[k].nprocs, all[k].nprocs);
            }
            free(top);
        }
        free(all);
    }
    mpp_view_destroy(&v);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(json_report);
    MPP_RUN(text_report);
    MPP_RUN(sites);
    MPP_RUN(find_proc);
    MPP_RUN(rows_limit);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
