/*  Load imbalance from one run: how long workers sat idle while a peer
 *  of theirs still worked (the terms are defined at mpp_rep_imb_t in
 *  mpp_report_priv.h).  `compare` has an imbalance of its own, measured
 *  against a baseline; this one needs none, so the report can name it.
 */
#include "mpp_report_priv.h"

#include <stdlib.h>
#include <string.h>

/* One worker of the selection: its parent, life and time split. */
typedef struct {
    int64_t ppid;
    int64_t start_ns;
    int64_t end_ns;
    int64_t busy_ns;
    int64_t wait_ns;
} s_worker_t;

static int
s_by_parent_start(const void *a, const void *b)
{
    const s_worker_t *x = a, *y = b;
    if (x->ppid != y->ppid) {
        return x->ppid < y->ppid ? -1 : 1;
    }
    if (x->start_ns != y->start_ns) {
        return x->start_ns < y->start_ns ? -1 : 1;
    }
    return 0;
}

/*  Busy and waiting time of one worker.  Start-up is neither: it is a
 *  cost of its own (a spawn child's start-up is most of its life, and
 *  workers started one after another by a busy machine would otherwise
 *  look unequal when their tasks are not).  Lock and IPC waits and idle
 *  time are waiting: a Pool worker waits for its next task in
 *  SimpleQueue.get, on the queue's lock or in the pipe's read. */
static void
s_worker(const mpp_session_t *s, const mpp_proc_t *p, s_worker_t *w)
{
    mpp_rep_rest_t rest;
    int64_t thread = 0, startup = 0, waits = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        thread += mpp_rep_thread_ns(p, t);
        startup += (int64_t)t->cat[MPP_CAT_STARTUP].ns;
        waits += (int64_t)(t->cat[MPP_CAT_LOCK_WAIT].ns +
                           t->cat[MPP_CAT_IPC_WAIT].ns);
    }
    mpp_rep_proc_rest(s, p, true, &rest);
    waits += rest.idle_ns;
    int64_t busy = thread - startup - waits;
    w->ppid = p->ppid;
    w->start_ns = p->start_ns;
    w->end_ns = p->start_ns + (p->wall_ns > 0 ? p->wall_ns : 0);
    w->busy_ns = busy > 0 ? busy : 0;
    w->wait_ns = waits > 0 ? waits : 0;
}

/* One gang: workers [first, end) of the sorted array. */
static void
s_gang(const s_worker_t *w, size_t first, size_t end, mpp_rep_imb_t *out)
{
    if (end - first < 2) {
        return;
    }
    int64_t busiest = 0;
    for (size_t i = first; i < end; i++) {
        busiest = w[i].busy_ns > busiest ? w[i].busy_ns : busiest;
    }
    for (size_t i = first; i < end; i++) {
        int64_t gap = busiest - w[i].busy_ns;
        int64_t idle = gap < w[i].wait_ns ? gap : w[i].wait_ns;
        out->ns += idle;
        out->procs += idle > 0;
        out->capacity_ns += w[i].busy_ns + w[i].wait_ns;
    }
}

void
mpp_rep_imbalance(const mpp_session_t *s, ssize_t proc, mpp_rep_imb_t *out)
{
    memset(out, 0, sizeof(*out));
    s_worker_t *w = calloc(s->nprocs > 0 ? s->nprocs : 1, sizeof(*w));
    size_t n = 0;
    if (w == NULL) {
        return; /* out of memory: no imbalance claimed */
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        /* A worker that runs a pool of its own is busy with its leaves'
         * work while it waits for them: its peers (if any) are not idle
         * because of it, nor is it idle, so it is left out. */
        /* An image that exec'd is the start of the worker it became,
         * not a peer of its own. */
        if (mpp_rep_selected(proc, i) &&
            mpp_rep_role_of(s, p) == MPP_REP_WORKER &&
            !mpp_rep_exec_replaced(s, p) && !mpp_rep_is_pool_parent(s, p)) {
            s_worker(s, p, &w[n++]);
        }
    }
    qsort(w, n, sizeof(*w), s_by_parent_start);
    /* Sorted by parent, then start: a gang ends at a new parent or at a
     * worker that starts after every earlier one of the gang ended. */
    size_t first = 0;
    int64_t end = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == first || (w[i].ppid == w[first].ppid && w[i].start_ns < end)) {
            end = i == first || w[i].end_ns > end ? w[i].end_ns : end;
            continue;
        }
        s_gang(w, first, i, out);
        first = i;
        end = w[i].end_ns;
    }
    s_gang(w, first, n, out);
    free(w);
}
