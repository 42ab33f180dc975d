/*  The report's processes and threads: exit strings, thread time, and
 *  where the time went (terms defined in mpp_report_priv.h; process roles
 *  are in mpp_report_roles.c).
 */
#include "mpp_report_priv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

bool
mpp_rep_is_wait(int cat)
{
    return cat == MPP_CAT_LOCK_WAIT || cat == MPP_CAT_IPC_WAIT;
}

/* "ok", "exit:N", "signal:N" or "lost"; no BYE at all counts as lost. */
void
mpp_rep_exit_str(const mpp_proc_t *p, char *buf, size_t size)
{
    switch (p->exit_kind) {
    case MPP_EXIT_OK:
        snprintf(buf, size, "ok");
        break;
    case MPP_EXIT_CODE:
        snprintf(buf, size, "exit:%" PRId32, p->exit_code);
        break;
    case MPP_EXIT_SIGNAL:
        snprintf(buf, size, "signal:%" PRId32, p->exit_code);
        break;
    default:
        snprintf(buf, size, "lost");
        break;
    }
}

bool
mpp_rep_proc_lost(const mpp_proc_t *p)
{
    return p->exit_kind == MPP_EXIT_LOST || p->exit_kind == MPP_EXIT_RUNNING;
}

mpp_cost_t
mpp_rep_thread_cost(const mpp_thread_t *t)
{
    mpp_cost_t sum = {0};
    for (size_t i = 0; i < t->nstats; i++) {
        mpp_cost_add(&sum, &t->stats[i].cost);
    }
    return sum;
}

/* The session's Python version, else the first one a process reported. */
const char *
mpp_rep_python(const mpp_session_t *s)
{
    if (s->python != NULL) {
        return s->python;
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].python != NULL) {
            return s->procs[i].python;
        }
    }
    return NULL;
}

int64_t
mpp_rep_cat_ns(const mpp_catval_t cat[MPP_CAT_COUNT])
{
    int64_t ns = 0;
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        ns += (int64_t)cat[c].ns;
    }
    return ns;
}

/*  Whether a process is a fork child (fork, or forked by the fork server):
 *  it inherits its parent's stack and hook, so its start-up, counted from
 *  the fork, is all time the hook measured. */
static bool
s_forked(const mpp_proc_t *p)
{
    return p->start_method != NULL &&
           (strcmp(p->start_method, "fork") == 0 ||
            strcmp(p->start_method, "forkserver") == 0);
}

/*  Start-up is counted from the exec (or fork), but the hook measures
 *  function time only once the collector has started, late in the
 *  interpreter's own start-up; so a process started by exec has start-up
 *  no function time holds.  The model does not say when the hook started,
 *  but the thread that started up lived as long as its process, so what
 *  its functions' time leaves of the process's wall time bounds that
 *  part from above: the unseen start-up is the smaller of the two.  The
 *  bound is off only by the start-up the hook saw (a few milliseconds
 *  between the collector's start and the program's first line) or by the
 *  unseen time after the program's last frame, whichever is less. */
int64_t
mpp_rep_startup_unseen_ns(const mpp_proc_t *p, const mpp_thread_t *t)
{
    int64_t su = (int64_t)t->cat[MPP_CAT_STARTUP].ns;
    if (su <= 0 || s_forked(p)) {
        return 0;
    }
    int64_t rest = p->wall_ns - mpp_rep_thread_cost(t).tt_ns;
    return rest <= 0 ? 0 : rest < su ? rest : su;
}

int64_t
mpp_rep_thread_ns(const mpp_proc_t *p, const mpp_thread_t *t)
{
    int64_t tt = mpp_rep_thread_cost(t).tt_ns + mpp_rep_startup_unseen_ns(p, t);
    int64_t cat = mpp_rep_cat_ns(t->cat);
    return tt > cat ? tt : cat;
}

int64_t
mpp_rep_proc_thread_ns(const mpp_proc_t *p)
{
    int64_t ns = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        ns += mpp_rep_thread_ns(p, &p->threads[i]);
    }
    return ns;
}

/*  The share of a process's time outside lock and IPC waits that was on
 *  a CPU (see mpp_rep_rest_t); 1 when the CPU time is unknown.  (The CPU
 *  time less start-up and pickling would credit those with all of it,
 *  but under load a worker's start-up is partly runnable, not running:
 *  a fork Pool's workers came out with 0.43 s of compute for 0.6 s of
 *  CPU-bound tasks.) */
static double
s_cpu_share(const mpp_proc_t *p)
{
    int64_t busy = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        busy += mpp_rep_thread_ns(p, t) -
                (int64_t)t->cat[MPP_CAT_LOCK_WAIT].ns -
                (int64_t)t->cat[MPP_CAT_IPC_WAIT].ns;
    }
    if (p->cpu_ns <= 0 || busy <= 0 || p->cpu_ns >= busy) {
        return 1.0;
    }
    return (double)p->cpu_ns / (double)busy;
}

static bool
s_idles(const mpp_session_t *s, const mpp_proc_t *p, bool parallel)
{
    mpp_rep_role_t role = mpp_rep_role_of(s, p);
    return role == MPP_REP_HELPER ||
           (parallel && mpp_rep_waits_for_workers(s, p, true));
}

/*  A process's start-up on a CPU, thread by thread.  Measured where the
 *  thread's CPU clock is known: the collector's first reading (at the
 *  end of start-up, or at a category's boundary inside it) holds all the
 *  CPU time since the thread began, so its CPU time inside categories,
 *  less pickling and unpickling (on a CPU as far as the profile knows;
 *  lock and IPC waits are off it), is start-up's, within its length.
 *  Elsewhere the process's share of its time on a CPU. */
static int64_t
s_startup_on_ns(const mpp_proc_t *p)
{
    int64_t on = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        int64_t su = (int64_t)t->cat[MPP_CAT_STARTUP].ns;
        if (su <= 0) {
            continue;
        }
        int64_t v;
        if (t->has_cpu) {
            v = t->cpu_cat_ns - (int64_t)t->cat[MPP_CAT_PICKLE].ns -
                (int64_t)t->cat[MPP_CAT_UNPICKLE].ns;
            v = v < 0 ? 0 : v > su ? su : v;
        }
        else {
            v = (int64_t)((double)su * s_cpu_share(p) + 0.5);
        }
        on = on > INT64_MAX - v ? INT64_MAX : on + v;
    }
    return on;
}

/*  The share of a process's time outside categories that was on a CPU.
 *  A helper (the fork server, the resource tracker) waits for requests
 *  all its life but its start-up, which is where its CPU time goes:
 *  loading the interpreter and its modules.  Spread evenly over its life,
 *  that CPU time made seconds of waiting look like 0.1-0.2 s of compute
 *  (issue 13), so a helper's CPU time counts for its start-up first, as
 *  if all of that were on a CPU, and only what is left for the rest of
 *  its life.  Where part of the start-up was off a CPU (a busy machine),
 *  this takes a little of the helper's compute for idle: a helper's
 *  compute is a lower bound. */
static double
s_rest_share(const mpp_session_t *s, const mpp_proc_t *p)
{
    double share = s_cpu_share(p);
    if (mpp_rep_role_of(s, p) != MPP_REP_HELPER) {
        return share;
    }
    int64_t rest = 0, left = p->cpu_ns;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        rest += mpp_rep_thread_ns(p, t) - mpp_rep_cat_ns(t->cat);
        left -= (int64_t)t->cat[MPP_CAT_STARTUP].ns;
    }
    if (p->cpu_ns <= 0 || rest <= 0) {
        return share; /* no CPU time known, or nothing to split */
    }
    double after = left > 0 ? (double)left / (double)rest : 0.0;
    return after < share ? after : share;
}

/*  How a process's time outside categories splits (see mpp_rep_rest_t):
 *  measured, each thread's CPU time outside categories plus `extra`, the
 *  share of its off-CPU rest that the CPU time no thread's clock shows
 *  fills; or, with no thread's CPU time known, the estimated `share` of
 *  its rest. */
typedef struct {
    bool measured;
    bool idle;
    double share;
    double extra;
} s_split_t;

static int64_t
s_rest_ns(const mpp_proc_t *p, const mpp_thread_t *t)
{
    int64_t rest = mpp_rep_thread_ns(p, t) - mpp_rep_cat_ns(t->cat);
    return rest > 0 ? rest : 0;
}

/* A thread's measured CPU time outside categories, within its rest. */
static int64_t
s_on_ns(const mpp_proc_t *p, const mpp_thread_t *t)
{
    if (!t->has_cpu) {
        return 0;
    }
    int64_t rest = s_rest_ns(p, t);
    int64_t on = t->cpu_ns - t->cpu_cat_ns;
    return on < 0 ? 0 : on > rest ? rest : on;
}

static void
s_split(const mpp_session_t *s, const mpp_proc_t *p, bool parallel,
        s_split_t *out)
{
    memset(out, 0, sizeof(*out));
    out->idle = s_idles(s, p, parallel);
    int64_t clocks = 0, off = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        /* Sums that stop at INT64_MAX: a session may come from hostile
         * frames or files. */
        if (t->has_cpu) {
            out->measured = true;
            int64_t c = t->cpu_ns > 0 ? t->cpu_ns : 0;
            clocks = clocks > INT64_MAX - c ? INT64_MAX : clocks + c;
        }
        int64_t o = s_rest_ns(p, t) - s_on_ns(p, t);
        off = off > INT64_MAX - o ? INT64_MAX : off + o;
    }
    if (!out->measured) {
        out->share = s_rest_share(s, p);
        return;
    }
    /* A process that recorded its own end read every clock once its
     * program was over: what it used after that (the interpreter's
     * finalization freeing every object, after a fork a copy-on-write
     * fault per page: 30-40 ms in a fork server) is no thread's time.
     * Only a process ended otherwise (killed, lost, still running) has
     * work that no clock has shown yet. */
    bool self_ended = p->exit_kind == MPP_EXIT_OK ||
                      p->exit_kind == MPP_EXIT_CODE;
    int64_t unseen = p->cpu_ns > clocks ? p->cpu_ns - clocks : 0;
    if (unseen > 0 && off > 0 && !self_ended) {
        out->extra = unseen >= off ? 1.0 : (double)unseen / (double)off;
    }
}

static void
s_thread_rest(const mpp_proc_t *p, const mpp_thread_t *t,
              const s_split_t *sp, mpp_rep_rest_t *out)
{
    int64_t rest = s_rest_ns(p, t);
    int64_t on;
    if (sp->measured) {
        on = s_on_ns(p, t);
        on += (int64_t)((double)(rest - on) * sp->extra + 0.5);
    }
    else {
        on = (int64_t)((double)rest * sp->share + 0.5);
    }
    on = on < 0 ? 0 : on > rest ? rest : on;
    out->compute_ns += on;
    if (sp->idle) {
        out->idle_ns += rest - on;
    }
    else {
        out->other_wait_ns += rest - on;
    }
}

void
mpp_rep_thread_rest(const mpp_session_t *s, const mpp_proc_t *p,
                    const mpp_thread_t *t, bool parallel, mpp_rep_rest_t *out)
{
    s_split_t sp;
    s_split(s, p, parallel, &sp);
    memset(out, 0, sizeof(*out));
    s_thread_rest(p, t, &sp, out);
}

void
mpp_rep_proc_rest(const mpp_session_t *s, const mpp_proc_t *p, bool parallel,
                  mpp_rep_rest_t *out)
{
    s_split_t sp;
    s_split(s, p, parallel, &sp);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < p->nthreads; i++) {
        s_thread_rest(p, &p->threads[i], &sp, out);
    }
}

/* ---- waiting on a queue's read lock ------------------------------------ */

enum {
    S_QGET = 1,   /* a queue's get: a wrapper with the lock-wait category */
    S_LROOT = 2,  /* a lock-wait root */
    S_LPLAIN = 4, /* a plain wrapper (no category) */
    S_LPATH = 8   /* in this thread, a plain wrapper calling a lock root */
};

/*  The catalog's reading of one function, for s_queue_wait_ns. */
static uint8_t
s_qflag(const mpp_catalog_entry_t *e)
{
    bool lock = e->cat == MPP_CAT_LOCK_WAIT;
    if (e->role == MPP_ROLE_WRAPPER) {
        return lock ? S_QGET : e->cat < 0 ? S_LPLAIN : 0;
    }
    return e->role == MPP_ROLE_ROOT && lock ? S_LROOT : 0;
}

/*  The lock wait a process spent entering a multiprocessing queue's read
 *  lock in the queue's get: the calls a get made to a lock root, directly
 *  or through a plain wrapper that calls one in the same thread (3.11's
 *  `with self._rlock` goes through synchronize.py's __enter__), never
 *  more than the process's lock wait.  A Pool worker between tasks waits
 *  there while the peer holding the lock waits in the pipe for the next
 *  task: the wait of a worker starved of tasks, like that peer's IPC
 *  wait, not contention over shared data (issue 13: in Pools of three
 *  workers or more, idle workers' read-lock wait led the verdict). */
static int64_t
s_queue_wait_ns(const mpp_proc_t *p, uint8_t *fl, size_t nfuncs)
{
    int64_t ns = 0, lock = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        lock += (int64_t)t->cat[MPP_CAT_LOCK_WAIT].ns;
        for (int pass = 0; pass < 3; pass++) {
            for (size_t k = 0; k < t->nedges; k++) {
                const mpp_edge_t *e = &t->edges[k];
                if (e->caller >= nfuncs || e->callee >= nfuncs) {
                    continue;
                }
                uint8_t from = fl[e->caller], to = fl[e->callee];
                if (pass == 0 && (from & S_LPLAIN) && (to & S_LROOT)) {
                    fl[e->caller] |= S_LPATH;
                }
                else if (pass == 1 && (from & S_QGET) &&
                         (to & (S_LROOT | S_LPATH))) {
                    ns += e->cost.ct_ns;
                }
                else if (pass == 2) {
                    fl[e->caller] &= (uint8_t)~S_LPATH;
                }
            }
        }
    }
    return ns < lock ? ns : lock;
}

void
mpp_rep_time(const mpp_session_t *s, ssize_t proc, mpp_rep_time_t *out)
{
    memset(out, 0, sizeof(*out));
    out->has_workers = mpp_rep_has_workers(s, proc);
    out->parallel = mpp_rep_has_workers(s, -1);
    out->manager = mpp_rep_has_manager(s);
    /* NULL when out of memory: then no lock wait is taken for a queue's. */
    uint8_t *qflags =
        out->has_workers ? mpp_rep_func_flags(s, s_qflag) : NULL;
    mpp_rep_move_t mv;
    if (!out->parallel || mpp_rep_moving(s, &mv) != 0) {
        memset(&mv, 0, sizeof(mv)); /* nothing moved, or no memory to tell */
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        if (!mpp_rep_selected(proc, i)) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t pc[MPP_CAT_COUNT];
        bool main_idle = mpp_rep_waits_for_workers(s, p, out->has_workers);
        bool helper = mpp_rep_role_of(s, p) == MPP_REP_HELPER;
        mpp_rep_rest_t rest;
        mpp_proc_cats(p, pc);
        mpp_rep_proc_rest(s, p, out->parallel, &rest);
        out->pool_parents += mpp_rep_is_pool_parent(s, p);
        out->rest.compute_ns += rest.compute_ns;
        out->rest.idle_ns += rest.idle_ns;
        out->rest.other_wait_ns += rest.other_wait_ns;
        out->compute_procs += rest.compute_ns > 0;
        out->thread_ns += mpp_rep_proc_thread_ns(p);
        out->startup_on_ns += s_startup_on_ns(p);
        int64_t qwait = qflags != NULL && !main_idle
                            ? s_queue_wait_ns(p, qflags, s->nfuncs)
                            : 0;
        bool moved = pc[MPP_CAT_PICKLE].ns > 0 || pc[MPP_CAT_UNPICKLE].ns > 0;
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            int64_t ns = (int64_t)pc[c].ns;
            out->cat[c].ns += pc[c].ns;
            out->cat[c].count += pc[c].count;
            out->cat[c].bytes += pc[c].bytes;
            /* A transfer's part of the waits is moving data, wherever
             * the rest of the wait goes. */
            int64_t *taken = c == MPP_CAT_IPC_WAIT && mv.ipc_ns != NULL
                                 ? &out->transfer_ns
                             : c == MPP_CAT_LOCK_WAIT && mv.lock_ns != NULL
                                 ? &out->behind_ns
                                 : NULL;
            if (taken != NULL) {
                int64_t m = c == MPP_CAT_IPC_WAIT ? mv.ipc_ns[i] : mv.lock_ns[i];
                m = m < ns ? m : ns;
                *taken += m;
                ns -= m;
                moved = moved || m > 0;
            }
            if (main_idle && mpp_rep_is_wait(c)) {
                out->main_wait_ns += ns;
                continue;
            }
            if (helper && mpp_rep_is_wait(c)) {
                out->helper_wait_ns += ns;
                continue;
            }
            if (out->has_workers && c == MPP_CAT_IPC_WAIT) {
                out->pipe_wait_ns += ns;
                continue;
            }
            if (c == MPP_CAT_LOCK_WAIT) {
                qwait = qwait < ns ? qwait : ns;
                out->pipe_wait_ns += qwait;
                ns -= qwait;
            }
            out->lead_ns[c] += ns;
            out->lead_procs[c] += ns > 0;
        }
        out->move_procs += moved;
    }
    free(qflags);
    mpp_rep_moving_free(&mv);
    mpp_rep_imbalance(s, proc, &out->imb);
    out->cat_ns = mpp_rep_cat_ns(out->cat);
    out->lead_cat = -1;
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        int lead = out->lead_cat;
        /* Between the two halves of serialisation, the larger names it. */
        if (out->lead_ns[c] > 0 &&
            (lead < 0 ||
             mpp_rep_lead_rank(out, c) > mpp_rep_lead_rank(out, lead) ||
             (mpp_rep_lead_rank(out, c) == mpp_rep_lead_rank(out, lead) &&
              out->lead_ns[c] > out->lead_ns[lead]))) {
            out->lead_cat = c;
        }
    }
}

/*  Pickling in one place is paid again as unpickling in another, and
 *  the bytes between them pass through a pipe while peers queue behind
 *  the transfer: moving data is one cost, so pickling, unpickling, the
 *  transfers and the waits behind them (mpp_rep_move_t) rank together
 *  against the other costs.
 *
 *  Start-up ranks by its part on a CPU (startup_on_ns), not its length.
 *  It is timed from the exec or fork, and processes started together
 *  (a Pool's workers, a batch of Processes) then compete for the CPUs
 *  while they import, so its length grows with the machine's load and
 *  the number of processes started at once, while compute, which it
 *  competes with, is on-CPU time, and load imbalance is idle time that a
 *  busy machine does not lengthen (issue 13: a spawn Pool with one task
 *  20 times longer than the others led with start-up on a loaded
 *  machine, 1.30 s of start-up against 0.90 s of imbalance). */
int64_t
mpp_rep_lead_rank(const mpp_rep_time_t *tm, int cat)
{
    if (cat == MPP_CAT_PICKLE || cat == MPP_CAT_UNPICKLE) {
        return tm->lead_ns[MPP_CAT_PICKLE] + tm->lead_ns[MPP_CAT_UNPICKLE] +
               tm->transfer_ns + tm->behind_ns;
    }
    if (cat == MPP_CAT_STARTUP) {
        return tm->startup_on_ns < tm->lead_ns[cat] ? tm->startup_on_ns
                                                    : tm->lead_ns[cat];
    }
    return tm->lead_ns[cat];
}

bool
mpp_rep_moving_data(const mpp_rep_time_t *tm)
{
    int parts = (tm->lead_ns[MPP_CAT_PICKLE] > 0) +
                (tm->lead_ns[MPP_CAT_UNPICKLE] > 0) +
                (tm->transfer_ns + tm->behind_ns > 0);
    return parts >= 2;
}

/* Keys of the design's "verdict.leading". */
static const char *
s_lead_name(const mpp_rep_time_t *tm, int lead)
{
    if (lead == MPP_REP_LEAD_COMPUTE) {
        return "compute";
    }
    if (lead == MPP_REP_LEAD_IMBALANCE) {
        return "imbalance";
    }
    if (lead < 0) {
        return "none";
    }
    if ((lead == MPP_CAT_PICKLE || lead == MPP_CAT_UNPICKLE) &&
        mpp_rep_moving_data(tm)) {
        return "serialisation";
    }
    return mpp_catalog_cat(lead)->name;
}

/*  The share of the workers' capacity that imbalance must take to lead
 *  over compute (see mpp_rep_verdict): one fifth. */
#define S_IMB_FAIR_DIV 5

/*  Compute competes with the leading cost on equal terms: a program that
 *  spent its time computing has its answer there, whatever it paid for
 *  start-up or pickling.
 *
 *  Imbalance cannot compete with compute so: in a gang of n workers the
 *  idle time is at most n - 1 times the busiest worker's busy time, and
 *  that worker computes as long, so with two workers one task 20 times
 *  longer than the others still leaves compute ahead.  Yet compute is
 *  the work the program asked for, which no advice about workers makes
 *  smaller, while imbalance is capacity the program paid for and lost.
 *  So imbalance leads when it exceeds every cost the leading cost weighs
 *  (it is then the largest loss) and it is a fair share of the capacity,
 *  at least a fifth of the workers' time: the parallel part then ran at
 *  four fifths of its speed or less, which splitting long tasks can win
 *  back.  A well-balanced pool idles far less than that: its workers end
 *  within one task of each other, a small part of a run of several tasks
 *  each (3 workers of 2 tasks each on a loaded 2-core machine: 5-9% of
 *  their time, against 40% for two workers and one task 20 times longer
 *  than the 3 others). */
void
mpp_rep_verdict(const mpp_rep_time_t *tm, mpp_rep_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    out->parallel = tm->parallel;
    out->lead = tm->lead_cat;
    out->ns = tm->lead_cat >= 0 ? mpp_rep_lead_rank(tm, tm->lead_cat) : 0;
    if (tm->imb.ns > out->ns && tm->imb.capacity_ns > 0 &&
        tm->imb.ns >= tm->imb.capacity_ns / S_IMB_FAIR_DIV) {
        out->lead = MPP_REP_LEAD_IMBALANCE;
        out->ns = tm->imb.ns;
    }
    else if (tm->rest.compute_ns > 0 && tm->rest.compute_ns >= out->ns) {
        out->lead = MPP_REP_LEAD_COMPUTE;
        out->ns = tm->rest.compute_ns;
    }
    out->name = s_lead_name(tm, out->lead);
    out->share = tm->thread_ns > 0 ? (double)out->ns / (double)tm->thread_ns
                                   : 0.0;
    /* A Manager's proxies wait on their server in IPC: round trips that
     * a program with workers would have hidden among the pool's waits. */
    out->hint = out->lead == MPP_REP_LEAD_COMPUTE ? NULL
                : out->lead == MPP_CAT_IPC_WAIT && tm->manager
                    ? mpp_rep_manager_hint()
                    : mpp_rep_hint(out->lead, out->parallel);
}
