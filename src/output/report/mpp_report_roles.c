/*  Process roles (see mpp_report_priv.h): the main process, workers and
 *  helpers, told apart by start method and command line, and which
 *  processes wait for workers of their own.
 */
#include "mpp_report_priv.h"

#include <string.h>

bool
mpp_rep_is_main(const mpp_proc_t *p)
{
    return p->start_method != NULL && strcmp(p->start_method, "main") == 0;
}

/*  Whether argv names the fork server's module: the server's command
 *  line, which the children it forks inherit.  The module, not the word:
 *  a program may take "forkserver" as an argument (as the collector
 *  tells the server apart). */
static bool
s_forkserver_argv(const mpp_proc_t *p)
{
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = p->argv[i];
        if (a != NULL && strstr(a, "multiprocessing.forkserver") != NULL) {
            return true;
        }
    }
    return false;
}

/*  The resource tracker (the semaphore tracker before Python 3.8), by its
 *  command line. */
static bool
s_tracker(const mpp_proc_t *p)
{
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = p->argv[i];
        if (a != NULL &&
            (strstr(a, "multiprocessing.resource_tracker") != NULL ||
             strstr(a, "multiprocessing.semaphore_tracker") != NULL)) {
            return true;
        }
    }
    return false;
}

/*  A Manager's server process, by the name multiprocessing gives it: its
 *  class's name, a dash and a number ("SyncManager-1",
 *  "SharedMemoryManager-2"; a subclass of BaseManager is named after
 *  itself, and by custom "...Manager").  It serves requests all its life
 *  and waits between them, like the other helpers. */
static bool
s_manager(const mpp_proc_t *p)
{
    const char *dash = p->name != NULL ? strrchr(p->name, '-') : NULL;
    if (dash == NULL || dash[1] == '\0' ||
        strspn(dash + 1, "0123456789") != strlen(dash + 1)) {
        return false;
    }
    static const char suffix[] = "Manager";
    size_t k = sizeof(suffix) - 1, n = (size_t)(dash - p->name);
    return n >= k && memcmp(dash - k, suffix, k) == 0;
}

/*  Without the session: the fork server's children inherit its command
 *  line, so only a process not itself started by the fork server counts
 *  as the server.  (The collector labels the server "forkserver" too, so
 *  this takes it for a child: the report uses mpp_rep_role_of.) */
bool
mpp_rep_is_helper(const mpp_proc_t *p)
{
    bool forked = p->start_method != NULL &&
                  strcmp(p->start_method, "forkserver") == 0;
    return s_tracker(p) || s_manager(p) || (!forked && s_forkserver_argv(p));
}

bool
mpp_rep_is_worker(const mpp_proc_t *p)
{
    return !mpp_rep_is_main(p) && !mpp_rep_is_helper(p);
}

/* ---- incarnations ------------------------------------------------------ */

/*  A pid names more than one process record when a process exec's (loky
 *  starts its workers and its resource tracker by fork, then exec: the
 *  image before the exec and the one after are two records of one pid)
 *  and when the kernel reuses a pid after a process ended.  So a pid is
 *  never looked up alone: a parent is the record of that pid alive when
 *  the child started, and an image that exec'd has the role of the one
 *  it became (issue 13: loky's pids came twice, and the images before
 *  the exec counted as workers of their own).
 *
 *  Times are the session clock's.  An exec'd image's start is its
 *  process's, which the kernel keeps in clock ticks from the fork, so
 *  the same as the image before it to within a tick: S_SLACK_NS. */
#define S_SLACK_NS (20 * 1000 * 1000)

static int64_t
s_end(const mpp_proc_t *p)
{
    return p->start_ns + (p->wall_ns > 0 ? p->wall_ns : 0);
}

/*  The record that took over from `p` by exec, or NULL: a later record
 *  of the same pid that started before `p` ended.  A process whose pid
 *  the kernel reused starts after the earlier one ended, which it must
 *  have for the pid to be free. */
static const mpp_proc_t *
s_exec_next(const mpp_session_t *s, const mpp_proc_t *p)
{
    if (p < s->procs || p >= s->procs + s->nprocs) {
        return NULL; /* not a record of this session */
    }
    for (size_t j = (size_t)(p - s->procs) + 1; j < s->nprocs; j++) {
        const mpp_proc_t *q = &s->procs[j];
        if (q->pid == p->pid && !mpp_rep_is_main(q) &&
            q->start_ns <= s_end(p) + S_SLACK_NS) {
            return q;
        }
    }
    return NULL;
}

const mpp_proc_t *
mpp_rep_image(const mpp_session_t *s, const mpp_proc_t *p)
{
    /* Each step moves to a later record, so this ends. */
    for (const mpp_proc_t *q = p; s != NULL && q != NULL;
         q = s_exec_next(s, p)) {
        p = q;
    }
    return p;
}

bool
mpp_rep_exec_replaced(const mpp_session_t *s, const mpp_proc_t *p)
{
    return s != NULL && !mpp_rep_is_main(p) && s_exec_next(s, p) != NULL;
}

/*  The parent of `c`: of the records of c's ppid alive when c started,
 *  the one that ended first (a child forked before an exec belongs to
 *  the image before it; any later one, to the image the exec made);
 *  without one alive then, the newest record of that pid. */
const mpp_proc_t *
mpp_rep_parent(const mpp_session_t *s, const mpp_proc_t *c)
{
    const mpp_proc_t *best = NULL;
    for (size_t i = 0; s != NULL && i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        if (p != c && p->pid == c->ppid &&
            p->start_ns <= c->start_ns + S_SLACK_NS &&
            c->start_ns <= s_end(p) + S_SLACK_NS &&
            (best == NULL || s_end(p) < s_end(best))) {
            best = p;
        }
    }
    if (best == NULL && s != NULL) {
        ssize_t up = mpp_session_proc_index(s, c->ppid);
        best = up >= 0 && &s->procs[up] != c ? &s->procs[up] : NULL;
    }
    return best;
}

/*  With the session: a process with the fork server's command line is
 *  the server unless its parent has that command line too (then the
 *  server forked it: a worker), whatever start method the collector
 *  gave it (it labels the server and its children alike).  An image
 *  that exec'd has the role of the image it became. */
mpp_rep_role_t
mpp_rep_role_of(const mpp_session_t *s, const mpp_proc_t *p)
{
    if (mpp_rep_is_main(p)) {
        return MPP_REP_MAIN;
    }
    p = mpp_rep_image(s, p);
    if (s_tracker(p) || s_manager(p)) {
        return MPP_REP_HELPER;
    }
    if (s_forkserver_argv(p)) {
        const mpp_proc_t *up = mpp_rep_parent(s, p);
        bool child = up != NULL ? s_forkserver_argv(up)
                                : !mpp_rep_is_helper(p);
        return child ? MPP_REP_WORKER : MPP_REP_HELPER;
    }
    return MPP_REP_WORKER;
}

const char *
mpp_rep_role_name(mpp_rep_role_t role)
{
    return role == MPP_REP_MAIN     ? "main"
           : role == MPP_REP_HELPER ? "helper"
                                    : "worker";
}

/*  The fork server and the resource tracker start as fresh interpreters,
 *  so multiprocessing calls both "MainProcess", like the program itself;
 *  a helper that kept that default is named by what it is. */
const char *
mpp_rep_proc_label(const mpp_session_t *s, const mpp_proc_t *p)
{
    if (p->name == NULL || strcmp(p->name, "MainProcess") != 0 ||
        s == NULL || mpp_rep_role_of(s, p) != MPP_REP_HELPER) {
        return p->name;
    }
    return s_tracker(mpp_rep_image(s, p)) ? "resource_tracker" : "forkserver";
}

/*  Whether a worker is the parent of workers of its own (the middle
 *  process of a nested pool).  Only workers count as its children: the
 *  fork server's children have it, a helper, for their parent. */
bool
mpp_rep_is_pool_parent(const mpp_session_t *s, const mpp_proc_t *p)
{
    if (s == NULL || mpp_rep_role_of(s, p) != MPP_REP_WORKER) {
        return false;
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *c = &s->procs[i];
        if (c != p && c->ppid == p->pid && mpp_rep_parent(s, c) == p &&
            mpp_rep_role_of(s, c) == MPP_REP_WORKER) {
            return true;
        }
    }
    return false;
}

/*  A process that waits for workers of its own waits for work they do:
 *  the main process of a parallel program, and a worker running a pool
 *  of its own at any depth of nesting (issue 13: a nested pool's middle
 *  process idling in Pool.map was reported as lock wait). */
bool
mpp_rep_waits_for_workers(const mpp_session_t *s, const mpp_proc_t *p,
                          bool has_workers)
{
    return (has_workers && mpp_rep_is_main(p)) || mpp_rep_is_pool_parent(s, p);
}

bool
mpp_rep_has_manager(const mpp_session_t *s)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s_manager(&s->procs[i])) {
            return true;
        }
    }
    return false;
}

bool
mpp_rep_has_workers(const mpp_session_t *s, ssize_t proc)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        if (mpp_rep_selected(proc, i) &&
            mpp_rep_role_of(s, &s->procs[i]) == MPP_REP_WORKER) {
            return true;
        }
    }
    return false;
}
