/*  The verdict's reading of processes and waits (issue 13's leftovers),
 *  on sessions built by hand so that the right answer is known:
 *
 *  - records of one pid: an image that exec'd (loky's fork, then exec)
 *    has the role of the image it became and counts once; a parent is
 *    the record of its pid alive when the child started, not a later
 *    process the kernel gave the same pid;
 *  - a Pool worker's wait on its task queue's read lock is idle, while a
 *    wait on a lock the program shares stays lock wait;
 *  - start-up ranks by its time on a CPU.
 */
#include "mpp_report_priv.h"
#include "writers_fixture.h"

#include <stdlib.h>
#include <string.h>

#define S_MPL "/usr/lib/python3.11/multiprocessing/"
#define S_TRACKER "from multiprocessing.resource_tracker import main;main(5)"
#define S_FSERVER "from multiprocessing.forkserver import main; main(7, 8)"

/*  A new record (even for a known pid) of one thread, living from
 *  `start` for `wall`, with `tt` of own time in <module>. */
static mpp_proc_t *
s_rec(mpp_session_t *s, int64_t pid, int64_t ppid, const char *method,
      int64_t start, int64_t wall, int64_t cpu, int64_t tt)
{
    mpp_proc_t *p = mpp_session_add_proc(s, pid);
    ASSERT(p != NULL);
    p->ppid = ppid;
    p->name = strdup(pid == 300 ? "MainProcess" : "Process");
    p->start_method = strdup(method);
    p->start_ns = start;
    p->wall_ns = wall;
    p->cpu_ns = cpu;
    p->exit_kind = MPP_EXIT_OK;
    mpp_thread_t *t = mpp_wf_thread(p, 1, "MainThread");
    uint32_t mod = mpp_wf_fn(s, "/app/r.py", 1, "<module>");
    mpp_wf_stat(t, mod, 1, 1, tt, tt);
    return p;
}

static void
s_argv(mpp_proc_t *p, const char *code)
{
    const char *argv[] = {"/usr/bin/python3", "-c", code};
    ASSERT_EQ(mpp_proc_set_argv(p, argv, 3), 0);
}

static const char *
s_role(const mpp_session_t *s, size_t i)
{
    return mpp_rep_role_name(mpp_rep_role_of(s, &s->procs[i]));
}

/*  loky's processes: each is forked (a record with the parent's command
 *  line), then exec's (a second record of the same pid, from the same
 *  kernel start).  The resource tracker's first image is a helper like
 *  the tracker, a worker's first image is that worker, and compare
 *  counts two workers, not four. */
MPP_TEST(exec_images)
{
    mpp_session_t *s = mpp_session_new();
    s->wall_ns = 3000 * MS;
    s_rec(s, 300, 1, "main", 0, 3000 * MS, 900 * MS, 2900 * MS);
    /* The tracker: 20 ms as a fork image, then the exec'd tracker, whose
     * start is the kernel's (the fork's) to within a clock tick. */
    s_rec(s, 301, 300, "fork", 100 * MS, 20 * MS, 15 * MS, 18 * MS);
    mpp_proc_t *tr = s_rec(s, 301, 300, "exec", 95 * MS, 2800 * MS, 50 * MS,
                           2700 * MS);
    s_argv(tr, S_TRACKER);
    for (int64_t pid = 302; pid <= 303; pid++) {
        s_rec(s, pid, 300, "fork", 200 * MS, 60 * MS, 20 * MS, 50 * MS);
        s_rec(s, pid, 300, "exec", 200 * MS, 2500 * MS, 2000 * MS,
              2400 * MS);
    }
    static const char *const want[] = {"main",   "helper", "helper",
                                       "worker", "worker", "worker",
                                       "worker"};
    ASSERT_EQ(s->nprocs, MPP_ARRAY_SIZE(want));
    for (size_t i = 0; i < s->nprocs; i++) {
        ASSERT(strcmp(s_role(s, i), want[i]) == 0);
    }
    ASSERT(mpp_rep_exec_replaced(s, &s->procs[1]));
    ASSERT(!mpp_rep_exec_replaced(s, &s->procs[2]));
    ASSERT(mpp_rep_image(s, &s->procs[3]) == &s->procs[4]);
    ASSERT(!mpp_rep_exec_replaced(s, &s->procs[0]));
    mpp_compare_t cmp;
    ASSERT_EQ(mpp_compare_compute(s, s, &cmp), 0);
    ASSERT_EQ(cmp.workers, 2);
    mpp_session_destroy(&s);
}

/*  The kernel reuses a pid: the fork server 310 ends at 1 s, and a later
 *  process gets pid 310 at 2 s.  A child of the server started at 0.5 s
 *  has the server for its parent (a worker: the server forked it), not
 *  the later process, which the newest record of the pid would be. */
MPP_TEST(reused_pid_parent)
{
    mpp_session_t *s = mpp_session_new();
    s_rec(s, 300, 1, "main", 0, 3000 * MS, 900 * MS, 2900 * MS);
    mpp_proc_t *srv = s_rec(s, 310, 300, "forkserver", 10 * MS, 990 * MS,
                            5 * MS, 980 * MS);
    s_argv(srv, S_FSERVER);
    mpp_proc_t *kid = s_rec(s, 311, 310, "forkserver", 500 * MS, 400 * MS,
                            390 * MS, 400 * MS);
    s_argv(kid, S_FSERVER);
    s_rec(s, 310, 300, "spawn", 2000 * MS, 500 * MS, 400 * MS, 450 * MS);
    ASSERT(mpp_rep_parent(s, &s->procs[2]) == &s->procs[1]);
    ASSERT(strcmp(s_role(s, 1), "helper") == 0);
    ASSERT(strcmp(s_role(s, 2), "worker") == 0);
    ASSERT(strcmp(s_role(s, 3), "worker") == 0);
    /* Two records of 310, neither an exec of the other. */
    ASSERT(!mpp_rep_exec_replaced(s, &s->procs[1]));
    mpp_session_destroy(&s);
}

/*  Two workers of main 300, each 1 s of thread time with `lock` of lock
 *  wait entered through `via` (SimpleQueue.get's `with self._rlock`, or
 *  the program's own function holding a shared Lock) and 100 ms of CPU. */
static mpp_session_t *
s_lock_pool(const char *via_file, const char *via_name, int64_t lock)
{
    mpp_session_t *s = mpp_session_new();
    s_rec(s, 300, 1, "main", 0, 1200 * MS, 100 * MS, 200 * MS);
    uint32_t worker = mpp_wf_fn(s, S_MPL "pool.py", 114, "worker");
    uint32_t via = mpp_wf_fn(s, via_file, 364, via_name);
    uint32_t sync = mpp_wf_fn(s, S_MPL "synchronize.py", 94, "__enter__");
    uint32_t sem = mpp_wf_fn(s, "~", 0,
                             "<method '__enter__' of "
                             "'_multiprocessing.SemLock' objects>");
    for (int64_t pid = 301; pid <= 302; pid++) {
        mpp_proc_t *p =
            s_rec(s, pid, 300, "fork", 10 * MS, 1000 * MS, 100 * MS, 0);
        mpp_thread_t *t = &p->threads[0];
        mpp_wf_stat(t, worker, 1, 1, 1000 * MS - lock, 1000 * MS);
        mpp_wf_edge(t, worker, via, 3, 3, 0, lock);
        mpp_wf_edge(t, via, sync, 3, 3, 0, lock);
        mpp_wf_edge(t, sync, sem, 3, 3, lock, lock);
        t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){(uint64_t)lock, 3, 0};
    }
    return s;
}

/*  The same 800 ms of lock wait in each worker: on the task queue's read
 *  lock (queues.py's get) it is the wait of workers starved of tasks,
 *  idle, and compute leads; under the program's own function it is
 *  contention, and lock wait leads. */
MPP_TEST(queue_read_lock)
{
    mpp_session_t *s = s_lock_pool(S_MPL "queues.py", "get", 800 * MS);
    mpp_rep_time_t tm;
    mpp_rep_verdict_t vd;
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.pipe_wait_ns, 1600 * MS);
    ASSERT_EQ(tm.lead_ns[MPP_CAT_LOCK_WAIT], 0);
    mpp_rep_verdict(&tm, &vd);
    ASSERT_EQ(vd.lead, MPP_REP_LEAD_COMPUTE);
    mpp_session_destroy(&s);

    s = s_lock_pool("/app/r.py", "update", 800 * MS);
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.pipe_wait_ns, 0);
    ASSERT_EQ(tm.lead_ns[MPP_CAT_LOCK_WAIT], 1600 * MS);
    mpp_rep_verdict(&tm, &vd);
    ASSERT_EQ(vd.lead, MPP_CAT_LOCK_WAIT);
    ASSERT_EQ(vd.ns, 1600 * MS);
    mpp_session_destroy(&s);
}

/*  Start-up weighs its time on a CPU: a spawn worker 1 s long, all of it
 *  start-up but on a CPU a quarter of the time (a busy machine), weighs
 *  250 ms, and the JSON's verdict says so while its categories keep the
 *  measured second; with its thread's CPU clock known, the clock says. */
MPP_TEST(startup_on_cpu)
{
    mpp_session_t *s = mpp_session_new();
    s_rec(s, 300, 1, "main", 0, 1100 * MS, 60 * MS, 60 * MS);
    mpp_proc_t *w = s_rec(s, 301, 300, "spawn", 0, 1000 * MS, 250 * MS,
                          1000 * MS);
    w->threads[0].cat[MPP_CAT_STARTUP] = (mpp_catval_t){1000 * MS, 1, 0};
    mpp_rep_time_t tm;
    mpp_rep_verdict_t vd;
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.startup_on_ns, 250 * MS);
    ASSERT_EQ(tm.lead_ns[MPP_CAT_STARTUP], 1000 * MS);
    mpp_rep_verdict(&tm, &vd);
    ASSERT_EQ(vd.lead, MPP_CAT_STARTUP);
    ASSERT_EQ(vd.ns, 250 * MS);
    size_t len;
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("su.json")), 0);
    const char *js = mpp_wf_slurp(mpp_wf_path("su.json"), &len);
    ASSERT(strstr(js, "\"verdict\": {\"leading\": \"startup\", \"seconds\": "
                      "0.25, "));
    ASSERT(strstr(js, "\"startup_s\": 1.0, "));
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("su.txt")), 0);
    const char *txt = mpp_wf_slurp(mpp_wf_path("su.txt"), &len);
    ASSERT(strstr(txt, "Leading cost: start-up \xe2\x80\x94 1.00 s in 1 "
                       "process (250 ms of it on a CPU)"));

    /* The thread's CPU clock known: 220 ms of CPU inside categories, of
     * which 40 ms pickling, leaves 180 ms for start-up, whatever the
     * process's share says; clocks that read more than start-up lasted
     * count its length. */
    mpp_thread_t *t = &w->threads[0];
    t->has_cpu = true;
    t->cpu_ns = 240 * MS;
    t->cpu_cat_ns = 220 * MS;
    t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){40 * MS, 1, 0};
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.startup_on_ns, 180 * MS);
    t->cpu_cat_ns = 1300 * MS;
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.startup_on_ns, 1000 * MS);
    mpp_session_destroy(&s);
}

/*  Helpers are named by what they are: the fork server and the resource
 *  tracker start as fresh interpreters, which multiprocessing calls
 *  "MainProcess" like the program itself.  The fork server's children,
 *  which inherit its command line, keep their own names, and so does a
 *  Python the program ran itself (also "MainProcess"). */
MPP_TEST(helpers_named_by_what_they_are)
{
    mpp_session_t *s = mpp_session_new();
    s->wall_ns = 3000 * MS;
    s_rec(s, 300, 1, "main", 0, 3000 * MS, 900 * MS, 2900 * MS);
    mpp_proc_t *tr = s_rec(s, 301, 300, "exec", 95 * MS, 2800 * MS,
                           50 * MS, 2700 * MS);
    s_argv(tr, S_TRACKER);
    mpp_proc_t *fs = s_rec(s, 302, 300, "forkserver", 100 * MS, 2800 * MS,
                           60 * MS, 2700 * MS);
    s_argv(fs, S_FSERVER);
    mpp_proc_t *w = s_rec(s, 303, 302, "forkserver", 200 * MS, 2000 * MS,
                          1900 * MS, 1950 * MS);
    s_argv(w, S_FSERVER);
    free(w->name);
    w->name = strdup("ForkServerPoolWorker-1");
    mpp_proc_t *sub = s_rec(s, 304, 300, "exec", 200 * MS, 100 * MS,
                            90 * MS, 95 * MS);
    free(sub->name);
    sub->name = strdup("MainProcess");
    for (size_t i = 1; i < 3; i++) {
        free(s->procs[i].name);
        s->procs[i].name = strdup("MainProcess");
    }
    static const char *const want[] = {"MainProcess", "resource_tracker",
                                       "forkserver", "ForkServerPoolWorker-1",
                                       "MainProcess"};
    ASSERT_EQ(s->nprocs, MPP_ARRAY_SIZE(want));
    for (size_t i = 0; i < s->nprocs; i++) {
        ASSERT(strcmp(mpp_rep_proc_label(s, &s->procs[i]), want[i]) == 0);
    }
    mpp_session_destroy(&s);
}

/*  A Manager's server process is a helper, by the name multiprocessing
 *  gives it (its class's name, a dash, a number); names that only look
 *  alike are workers. */
MPP_TEST(manager_servers_are_helpers)
{
    static const struct {
        const char *name;
        const char *role;
    } want[] = {
        {"SyncManager-1", "helper"},  {"SharedMemoryManager-12", "helper"},
        {"SlowManager-3", "helper"},  {"Manager-1", "helper"},
        {"SyncManager-", "worker"},   {"SyncManager-1a", "worker"},
        {"ManagerProcess-1", "worker"}, {"ForkPoolWorker-1", "worker"},
    };
    mpp_session_t *s = mpp_session_new();
    s_rec(s, 300, 1, "main", 0, 3000 * MS, 900 * MS, 2900 * MS);
    for (size_t i = 0; i < MPP_ARRAY_SIZE(want); i++) {
        mpp_proc_t *p = s_rec(s, 301 + (int64_t)i, 300, "fork", 100 * MS,
                              100 * MS, 10 * MS, 90 * MS);
        free(p->name);
        p->name = strdup(want[i].name);
    }
    for (size_t i = 0; i < MPP_ARRAY_SIZE(want); i++) {
        ASSERT(strcmp(s_role(s, i + 1), want[i].role) == 0);
        ASSERT(strcmp(mpp_rep_proc_label(s, &s->procs[i + 1]),
                      want[i].name) == 0);
    }
    ASSERT(mpp_rep_has_manager(s));
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(exec_images);
    MPP_RUN(reused_pid_parent);
    MPP_RUN(queue_read_lock);
    MPP_RUN(startup_on_cpu);
    MPP_RUN(helpers_named_by_what_they_are);
    MPP_RUN(manager_servers_are_helpers);
    return mpp_wf_done(mpp_test_done(argc, argv));
}

