/*  The verdict both reports print (issue 13), on sessions built by hand
 *  so that the right answer is known: one process, roles, and load
 *  imbalance by construction.
 */
#include "mpp_report_priv.h"
#include "writers_fixture.h"

#include <string.h>


/*  A process of one thread: <module> with `tt` of own time, start-up
 *  `su` timed from the exec, `lock` of lock wait inside <module>. */
static mpp_proc_t *
s_one(mpp_session_t *s, int64_t pid, const char *method, int64_t wall,
      int64_t cpu, int64_t tt, int64_t su, int64_t lock)
{
    mpp_proc_t *p = mpp_wf_proc(s, pid, pid == 300 ? 1 : 300,
                                pid == 300 ? "MainProcess" : "Process-1",
                                method, wall, cpu, MPP_EXIT_OK, 0);
    mpp_thread_t *t = mpp_wf_thread(p, 1, "MainThread");
    uint32_t mod = mpp_wf_fn(s, "/app/v.py", 1, "<module>");
    mpp_wf_stat(t, mod, 1, 1, tt, tt);
    t->cat[MPP_CAT_STARTUP] = (mpp_catval_t){(uint64_t)su, 1, 0};
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){(uint64_t)lock, 1, 0};
    return p;
}

static void
s_verdict_of(const mpp_session_t *s, mpp_rep_verdict_t *vd)
{
    mpp_rep_time_t tm;
    mpp_rep_time(s, -1, &tm);
    mpp_rep_verdict(&tm, vd);
}

/* The text report's lines before the process table: the verdict's. */
static char *
s_head(const mpp_session_t *s, const char *name)
{
    size_t len;
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path(name)), 0);
    char *txt = mpp_wf_slurp(mpp_wf_path(name), &len);
    char *end = strstr(txt, "\n\nProcesses");
    ASSERT(end != NULL);
    *end = '\0';
    return txt;
}

/*  One process: compute leads however long start-up took, as long as the
 *  program computed longer (issue 13: a 99%-compute script was told
 *  "start-up, 83 ms" and to reuse its workers); when start-up is most of
 *  a trivial script it leads, but no hint speaks of workers or pools. */
MPP_TEST(verdict_single)
{
    mpp_session_t *s = mpp_session_new();
    s_one(s, 300, "main", 1200 * MS, 1100 * MS, 1000 * MS, 83 * MS, 0);
    mpp_rep_verdict_t vd;
    s_verdict_of(s, &vd);
    ASSERT_EQ(vd.lead, MPP_REP_LEAD_COMPUTE);
    ASSERT(strcmp(vd.name, "compute") == 0);
    ASSERT(!vd.parallel);
    ASSERT(vd.hint == NULL);
    ASSERT_EQ(vd.ns, 1000 * MS);
    char *head = s_head(s, "v1.txt");
    ASSERT(strstr(head, "\nLeading cost: compute \xe2\x80\x94 1.00 s in 1 "
                        "process (92% of"));
    ASSERT(strstr(head, "Hint:") == NULL);
    ASSERT(strstr(head, "worker") == NULL);
    ASSERT(strstr(head, "Pool") == NULL);
    size_t len;
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("v1.json")), 0);
    const char *js = mpp_wf_slurp(mpp_wf_path("v1.json"), &len);
    ASSERT(strstr(js, "\"verdict\": {\"leading\": \"compute\", \"seconds\": "
                      "1.0, \"share\": 0.9"));
    ASSERT(strstr(js, "\"parallel\": false, \"hint\": null}"));
    ASSERT(strstr(js, "\"role\": \"main\", \"host\": \""));
    ASSERT(strstr(js, "\"rank\": null"));
    mpp_session_destroy(&s);

    /* A trivial script: start-up is most of it, and leads, without a
     * hint (start workers once... is advice for a parallel program). */
    s = mpp_session_new();
    s_one(s, 300, "main", 150 * MS, 130 * MS, 10 * MS, 120 * MS, 0);
    s_verdict_of(s, &vd);
    ASSERT_EQ(vd.lead, MPP_CAT_STARTUP);
    ASSERT(strcmp(vd.name, "startup") == 0);
    ASSERT(!vd.parallel && vd.hint == NULL);
    head = s_head(s, "v2.txt");
    ASSERT(strstr(head, "\nLeading cost: start-up"));
    ASSERT(strstr(head, "Hint:") == NULL && strstr(head, "worker") == NULL);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("v2.json")), 0);
    js = mpp_wf_slurp(mpp_wf_path("v2.json"), &len);
    ASSERT(strstr(js, "\"verdict\": {\"leading\": \"startup\", "));
    ASSERT(strstr(js, "\"parallel\": false, \"hint\": null}"));
    mpp_session_destroy(&s);

    /* Threads queueing on a lock: the hint speaks of threads. */
    s = mpp_session_new();
    s_one(s, 300, "main", 1200 * MS, 300 * MS, 1000 * MS, 50 * MS,
          800 * MS);
    s_verdict_of(s, &vd);
    ASSERT_EQ(vd.lead, MPP_CAT_LOCK_WAIT);
    ASSERT(!vd.parallel && vd.hint != NULL);
    ASSERT(strstr(vd.hint, "thread") != NULL);
    ASSERT(strstr(vd.hint, "worker") == NULL);
    head = s_head(s, "v3.txt");
    ASSERT(strstr(head, "\nLeading cost: lock wait"));
    ASSERT(strstr(head, "own state.") != NULL);
    ASSERT(strstr(head, "worker") == NULL);
    mpp_session_destroy(&s);

    /* No time at all: "none". */
    s = mpp_session_new();
    (void)mpp_wf_proc(s, 300, 1, "MainProcess", "main", 0, 0, MPP_EXIT_OK,
                      0);
    s_verdict_of(s, &vd);
    ASSERT_EQ(vd.lead, -1);
    ASSERT(strcmp(vd.name, "none") == 0 && vd.hint == NULL);
    mpp_session_destroy(&s);
}

static void
s_argv(mpp_proc_t *p, const char *code)
{
    const char *argv[] = {"/usr/bin/python3", "-c", code};
    ASSERT_EQ(mpp_proc_set_argv(p, argv, 3), 0);
}

/*  Roles: the process the launcher started is the main one; the resource
 *  tracker and the fork server (by their command lines) are helpers; the
 *  fork server's children inherit its command line and are workers.  The
 *  collector labels the server "forkserver" as it does its children (seen
 *  in a real run): only the parent tells them apart. */
MPP_TEST(roles)
{
    mpp_session_t *s = mpp_session_new();
    s_one(s, 300, "main", 1200 * MS, 300 * MS, 1000 * MS, 50 * MS, 0);
    mpp_proc_t *p = s_one(s, 301, "spawn", 1000 * MS, MS, 990 * MS, 0, 0);
    s_argv(p, "from multiprocessing.resource_tracker import main;main(5)");
    p = s_one(s, 302, "forkserver", 1000 * MS, MS, 990 * MS, 0, 0);
    s_argv(p, "from multiprocessing.forkserver import main; main(7, 8, "
              "['__main__'], **{'sys_path': []})");
    for (int64_t pid = 303; pid <= 305; pid++) {
        p = s_one(s, pid, "forkserver", 900 * MS, 800 * MS, 850 * MS, 0, 0);
        p->ppid = 302;
        s_argv(p, "from multiprocessing.forkserver import main; main(7, 8, "
                  "['__main__'], **{'sys_path': []})");
    }
    static const char *const want[] = {"main", "helper", "helper",
                                       "worker", "worker", "worker"};
    ASSERT_EQ(s->nprocs, MPP_ARRAY_SIZE(want));
    for (size_t i = 0; i < s->nprocs; i++) {
        ASSERT(strcmp(mpp_rep_role_name(mpp_rep_role_of(s, &s->procs[i])),
                      want[i]) == 0);
    }
    mpp_rep_verdict_t vd;
    s_verdict_of(s, &vd);
    ASSERT(vd.parallel);
    ASSERT_EQ(vd.lead, MPP_REP_LEAD_COMPUTE);
    /* The helpers were off the CPU: idle, not compute. */
    for (size_t i = 1; i <= 2; i++) {
        mpp_rep_rest_t rest;
        mpp_rep_proc_rest(s, &s->procs[i], true, &rest);
        ASSERT(rest.compute_ns <= 2 * MS && rest.idle_ns > 900 * MS);
    }
    /* compare counts the three workers, not the server. */
    s->wall_ns = 1200 * MS;
    mpp_compare_t cmp;
    ASSERT_EQ(mpp_compare_compute(s, s, &cmp), 0);
    ASSERT_EQ(cmp.workers, 3);
    size_t len;
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("roles.json")),
              0);
    const char *js = mpp_wf_slurp(mpp_wf_path("roles.json"), &len);
    const char *at = js;
    for (size_t i = 0; i < s->nprocs; i++) {
        char key[64];
        snprintf(key, sizeof(key), "\"role\": \"%s\", \"host\": ", want[i]);
        at = strstr(at, key);
        ASSERT(at != NULL);
        at += strlen(key);
        ASSERT(strncmp(at, "null", 4) == 0 || at[0] == '"');
        ASSERT(strstr(at, ", \"rank\": null, ") != NULL);
    }
    ASSERT(strstr(js, "\"parallel\": true, "));
    mpp_session_destroy(&s);
}

/*  A worker of main process 300 for the imbalance cases: thread time
 *  `tt` of which `su` start-up and `ipc` IPC wait (a Pool worker waiting
 *  for its next task), living from `start` for `wall`. */
static void
s_worker(mpp_session_t *s, int64_t pid, int64_t ppid, int64_t start,
         int64_t wall, int64_t tt, int64_t su, int64_t ipc)
{
    mpp_proc_t *p = s_one(s, pid, "fork", wall, tt - ipc, tt, su, 0);
    p->ppid = ppid;
    p->start_ns = start;
    p->threads[0].cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){(uint64_t)ipc, 1, 0};
}

/*  The main process waits for two workers; both live 1.2 s and work
 *  `a` and `b` of it after a 20 ms start-up, waiting the rest. */
static mpp_session_t *
s_gang(int64_t a, int64_t b, int64_t b_start, int64_t b_ppid)
{
    mpp_session_t *s = mpp_session_new();
    mpp_proc_t *m = s_one(s, 300, "main", 2600 * MS, 100 * MS, 2500 * MS,
                          50 * MS, 2300 * MS);
    m->start_ns = 0;
    s_worker(s, 301, 300, 10 * MS, 1200 * MS, 1150 * MS, 20 * MS,
             1130 * MS - a);
    s_worker(s, 302, b_ppid, b_start, 1200 * MS, 1150 * MS, 20 * MS,
             1130 * MS - b);
    return s;
}

/*  Load imbalance: one worker busy 1.08 s, the other 0.23 s and idle
 *  0.85 s of the time its peer still worked, 38% of the workers' 2.26 s:
 *  imbalance leads, with compute behind it.  Balanced workers, workers
 *  whose lives do not overlap and workers of different parents show
 *  none. */
MPP_TEST(verdict_imbalance)
{
    mpp_session_t *s = s_gang(1080 * MS, 230 * MS, 10 * MS, 300);
    mpp_rep_time_t tm;
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.imb.ns, 850 * MS);
    ASSERT_EQ(tm.imb.capacity_ns, 2260 * MS);
    ASSERT_EQ(tm.imb.procs, 1);
    mpp_rep_verdict_t vd;
    mpp_rep_verdict(&tm, &vd);
    ASSERT_EQ(vd.lead, MPP_REP_LEAD_IMBALANCE);
    ASSERT(strcmp(vd.name, "imbalance") == 0);
    ASSERT_EQ(vd.ns, 850 * MS);
    ASSERT(vd.parallel && vd.hint != NULL);
    ASSERT(strstr(vd.hint, "imap_unordered") != NULL);
    char *head = s_head(s, "imb.txt");
    ASSERT(strstr(head, "\nLeading cost: load imbalance \xe2\x80\x94 850 ms "
                        "in 1 worker (38% of the workers' time)"));
    size_t len;
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("imb.json")), 0);
    const char *js = mpp_wf_slurp(mpp_wf_path("imb.json"), &len);
    ASSERT(strstr(js, "\"verdict\": {\"leading\": \"imbalance\", "
                      "\"seconds\": 0.85, "));
    ASSERT(strstr(js, "\"imbalance\": {\"seconds\": 0.85, \"workers_s\": "
                      "2.26, \"workers\": 1}"));
    mpp_session_destroy(&s);

    /* Idle a tenth of the workers' time: compute leads. */
    s = s_gang(1080 * MS, 860 * MS, 10 * MS, 300);
    s_verdict_of(s, &vd);
    ASSERT_EQ(vd.lead, MPP_REP_LEAD_COMPUTE);
    mpp_session_destroy(&s);

    /* The second worker starts once the first has ended: two gangs. */
    s = s_gang(1080 * MS, 230 * MS, 1300 * MS, 300);
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.imb.ns, 0);
    mpp_session_destroy(&s);

    /* Workers of different parents are not compared. */
    s = s_gang(1080 * MS, 230 * MS, 10 * MS, 299);
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.imb.ns, 0);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(verdict_single);
    MPP_RUN(roles);
    MPP_RUN(verdict_imbalance);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
