/*  Moving data between processes (issue 13): the pipe transfers of
 *  payloads and the waits they cause in other workers, found in the spans
 *  of every thread (the terms are defined at mpp_rep_move_t in
 *  mpp_report_priv.h).
 *
 *  A span of IPC wait with bytes is one end of a message: the sender's
 *  Connection._send_bytes or the receiver's _recv_bytes.  Neither end's
 *  span is the transfer alone: a receiver waits in its read for the
 *  message to begin (a worker starved of tasks), and a sender of more
 *  than a pipe holds blocks until some reader comes.  The transfer is
 *  when both were in it: the overlap of a send and a receive of the same
 *  number of bytes in two processes.
 */
#include "mpp_internal.h"
#include "mpp_report_priv.h"

#include <stdlib.h>
#include <string.h>

/* What a function is to this analysis (catalog entries) and, per thread,
 * which of those its calls reach. */
enum {
    S_SEND_ROOT = 1,  /* an IPC root measuring its argument: a send */
    S_RECV_ROOT = 2,  /* an IPC root measuring its result: a receive */
    S_QGET = 4,       /* a queue's get (a lock-wait wrapper) */
    S_CALLS_SEND = 8, /* in this thread, calls a send root */
    S_CALLS_RECV = 16,
    S_CALLS_QGET = 32,
    S_QPUT = 64,   /* a queue's put (SimpleQueue's takes its write lock) */
    S_IN_PUT = 128 /* in this thread, called by a queue's put */
};

/* One end of a message: a span of IPC wait that moved bytes. */
typedef struct {
    int64_t t0, t1;
    uint64_t bytes;
    size_t proc;
    bool used;
} s_end_t;

/* A transfer: when both ends were in it. */
typedef struct {
    int64_t t0, t1;
    size_t sender, receiver;
} s_xfer_t;

typedef struct {
    int64_t t0, t1;
} s_ival_t;

typedef struct {
    const mpp_session_t *s;
    uint8_t *fl;
    s_end_t *send, *recv;
    size_t nsend, nrecv, capsend, caprecv;
    s_xfer_t *xfer;
    size_t nxfer;
    int64_t max_xfer_ns; /* the longest transfer, for the searches */
} s_move_t;

/*  Spans come from the session file too, which anyone may hand to
 *  `mpprof report`: one that no clock could have made (negative, or so
 *  late or long that the arithmetic below would overflow) is left out. */
#define S_SPAN_MAX (INT64_MAX / 4)

static bool
s_span_ok(const mpp_span_t *sp)
{
    return sp->start_ns >= 0 && sp->start_ns <= S_SPAN_MAX && sp->dur_ns > 0 &&
           sp->dur_ns <= S_SPAN_MAX;
}

static uint8_t
s_flag(const mpp_catalog_entry_t *e)
{
    if (e->role == MPP_ROLE_ROOT && e->cat == MPP_CAT_IPC_WAIT) {
        return e->bytes == MPP_BYTES_ARG   ? S_SEND_ROOT
               : e->bytes == MPP_BYTES_RET ? S_RECV_ROOT
                                           : 0;
    }
    if (e->role == MPP_ROLE_WRAPPER && e->cat == MPP_CAT_LOCK_WAIT) {
        return S_QGET;
    }
    return e->role == MPP_ROLE_WRAPPER && strcmp(e->name, "put") == 0 &&
                   strstr(e->file, "queues.py") != NULL
               ? S_QPUT
               : 0;
}

/* Marks (or with on == false, unmarks) the callers in thread t of the
 * roots and wrappers s_flags found. */
static void
s_mark_callers(uint8_t *fl, size_t nfuncs, const mpp_thread_t *t, bool on)
{
    for (size_t k = 0; k < t->nedges; k++) {
        const mpp_edge_t *e = &t->edges[k];
        if (e->caller >= nfuncs || e->callee >= nfuncs) {
            continue;
        }
        uint8_t to = fl[e->callee], mark = 0;
        mark |= (to & S_SEND_ROOT) ? S_CALLS_SEND : 0;
        mark |= (to & S_RECV_ROOT) ? S_CALLS_RECV : 0;
        mark |= (to & S_QGET) ? S_CALLS_QGET : 0;
        if (on) {
            fl[e->caller] |= mark;
            fl[e->callee] |= (fl[e->caller] & S_QPUT) ? S_IN_PUT : 0;
        }
        else {
            fl[e->caller] &=
                (uint8_t) ~(S_CALLS_SEND | S_CALLS_RECV | S_CALLS_QGET);
            fl[e->callee] &= (uint8_t)~S_IN_PUT;
        }
    }
}

static int
s_push_end(s_end_t **v, size_t *n, size_t *cap, const s_end_t *end)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        s_end_t *nv = realloc(*v, c * sizeof(*nv));
        if (nv == NULL) {
            return MPP_ENOMEM;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = *end;
    return 0;
}

/*  A span names the caller of its root, or the root itself (see
 *  mpp_report_sites.c): a send when that function is a send root or
 *  calls one in this thread and no receive root, and the reverse. */
static int
s_direction(const uint8_t *fl, uint32_t f)
{
    uint8_t m = fl[f];
    bool send = (m & S_SEND_ROOT) || (m & S_CALLS_SEND);
    bool recv = (m & S_RECV_ROOT) || (m & S_CALLS_RECV);
    return send == recv ? 0 : send ? 1 : -1;
}

static int
s_collect_ends(s_move_t *mv)
{
    const mpp_session_t *s = mv->s;
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        for (size_t j = 0; j < p->nthreads; j++) {
            const mpp_thread_t *t = &p->threads[j];
            s_mark_callers(mv->fl, s->nfuncs, t, true);
            int rc = 0;
            for (size_t k = 0; rc == 0 && k < t->nspans; k++) {
                const mpp_span_t *sp = &t->spans[k];
                if (sp->cat != MPP_CAT_IPC_WAIT || sp->bytes == 0 ||
                    sp->func >= s->nfuncs || !s_span_ok(sp)) {
                    continue;
                }
                s_end_t end = {sp->start_ns, sp->start_ns + sp->dur_ns,
                               sp->bytes, i, false};
                int dir = s_direction(mv->fl, sp->func);
                if (dir > 0) {
                    rc = s_push_end(&mv->send, &mv->nsend, &mv->capsend, &end);
                }
                else if (dir < 0) {
                    rc = s_push_end(&mv->recv, &mv->nrecv, &mv->caprecv, &end);
                }
            }
            s_mark_callers(mv->fl, s->nfuncs, t, false);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int
s_by_bytes_start(const void *a, const void *b)
{
    const s_end_t *x = a, *y = b;
    MPP_REP_DESC(y->bytes, x->bytes);
    MPP_REP_DESC(y->t0, x->t0);
    return 0;
}

static int
s_xfer_by_start(const void *a, const void *b)
{
    const s_xfer_t *x = a, *y = b;
    MPP_REP_DESC(y->t0, x->t0);
    return 0;
}

static bool
s_same_host(const mpp_proc_t *a, const mpp_proc_t *b)
{
    return (a->host == NULL && b->host == NULL) ||
           (a->host != NULL && b->host != NULL &&
            strcmp(a->host, b->host) == 0);
}

/*  Pairs each send with the receive of as many bytes, in another process
 *  of its host, that overlaps it most; each receive serves one send. */
static int
s_match(s_move_t *mv)
{
    if (mv->nsend == 0 || mv->nrecv == 0) {
        return 0; /* nothing sent, or nothing received: no transfer */
    }
    qsort(mv->send, mv->nsend, sizeof(*mv->send), s_by_bytes_start);
    qsort(mv->recv, mv->nrecv, sizeof(*mv->recv), s_by_bytes_start);
    mv->xfer = malloc((mv->nsend ? mv->nsend : 1) * sizeof(*mv->xfer));
    if (mv->xfer == NULL) {
        return MPP_ENOMEM;
    }
    size_t r = 0;
    for (size_t i = 0; i < mv->nsend; i++) {
        const s_end_t *snd = &mv->send[i];
        while (r < mv->nrecv && mv->recv[r].bytes < snd->bytes) {
            r++;
        }
        s_end_t *best = NULL;
        int64_t best_ov = 0;
        for (size_t k = r; k < mv->nrecv && mv->recv[k].bytes == snd->bytes &&
                           mv->recv[k].t0 < snd->t1;
             k++) {
            s_end_t *rcv = &mv->recv[k];
            int64_t a = rcv->t0 > snd->t0 ? rcv->t0 : snd->t0;
            int64_t b = rcv->t1 < snd->t1 ? rcv->t1 : snd->t1;
            if (!rcv->used && rcv->proc != snd->proc && b - a > best_ov &&
                s_same_host(&mv->s->procs[rcv->proc],
                            &mv->s->procs[snd->proc])) {
                best = rcv;
                best_ov = b - a;
            }
        }
        if (best != NULL) {
            best->used = true;
            int64_t a = best->t0 > snd->t0 ? best->t0 : snd->t0;
            mv->xfer[mv->nxfer++] =
                (s_xfer_t){a, a + best_ov, snd->proc, best->proc};
            mv->max_xfer_ns =
                best_ov > mv->max_xfer_ns ? best_ov : mv->max_xfer_ns;
        }
    }
    if (mv->nxfer > 1) {
        qsort(mv->xfer, mv->nxfer, sizeof(*mv->xfer), s_xfer_by_start);
    }
    return 0;
}

/* ---- waits behind a transfer -------------------------------------------- */

/* An interval of a thread's timeline, [t0, t1). */
typedef struct {
    int64_t t0, t1;
} s_ivl_t;

static int
s_by_start(const void *a, const void *b)
{
    int64_t x = ((const s_ivl_t *)a)->t0, y = ((const s_ivl_t *)b)->t0;
    return (x > y) - (x < y);
}

/*  How much of [a, b) the disjoint sorted intervals `v` cover: a binary
 *  search for the first that ends after a, then a walk.  Each lock wait
 *  had scanned every span of its thread for every transfer it overlapped,
 *  quadratic in a long worker's spans. */
static int64_t
s_covered(const s_ivl_t *v, size_t n, int64_t a, int64_t b)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].t1 <= a) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    int64_t in = 0;
    for (size_t k = lo; k < n && v[k].t0 < b; k++) {
        int64_t x = v[k].t0 > a ? v[k].t0 : a;
        int64_t y = v[k].t1 < b ? v[k].t1 : b;
        in += y > x ? y - x : 0;
    }
    return in;
}

/*  The part of [w0, w1) that transfers of process q's siblings covered
 *  and q's own IPC spans of thread t did not: a worker queued on a
 *  queue's lock while a sibling moved a payload through that queue.  A
 *  wait in a queue's get (`get`) is behind a sibling receiving a task
 *  (it holds the read lock); a wait in a queue's put is behind a sibling
 *  sending (a result, under the queue's write lock).  A queue's get
 *  also holds the process's own receive, which is no wait on a peer. */
static int64_t
s_behind(const s_move_t *mv, size_t q, const s_ivl_t *own, size_t nown,
         int64_t w0, int64_t w1, bool get)
{
    const mpp_proc_t *me = &mv->s->procs[q];
    /* The first transfer that may end after w0. */
    size_t lo = 0, hi = mv->nxfer;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mv->xfer[mid].t0 < w0 - mv->max_xfer_ns) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    int64_t ns = 0, done = w0;
    for (size_t i = lo; i < mv->nxfer && mv->xfer[i].t0 < w1; i++) {
        const s_xfer_t *x = &mv->xfer[i];
        size_t peer = get ? x->receiver : x->sender;
        const mpp_proc_t *pp = &mv->s->procs[peer];
        if (peer == q || x->sender == q || x->receiver == q ||
            pp->ppid != me->ppid || !s_same_host(pp, me) ||
            mpp_rep_role_of(mv->s, pp) != MPP_REP_WORKER) {
            continue;
        }
        int64_t a = x->t0 > done ? x->t0 : done;
        int64_t b = x->t1 < w1 ? x->t1 : w1;
        if (a < b) {
            ns += b - a - s_covered(own, nown, a, b);
        }
        done = b > done ? b : done;
    }
    return ns;
}

/*  The thread's own IPC waits as disjoint intervals sorted by start, in
 *  *out (malloc'd; NULL when there are none).  Returns how many, or -1
 *  when out of memory. */
static ssize_t
s_own_ipc(const mpp_thread_t *t, s_ivl_t **out)
{
    *out = NULL;
    size_t n = 0;
    for (size_t k = 0; k < t->nspans; k++) {
        n += t->spans[k].cat == MPP_CAT_IPC_WAIT && s_span_ok(&t->spans[k]);
    }
    if (n == 0) {
        return 0;
    }
    s_ivl_t *v = malloc(n * sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    n = 0;
    for (size_t k = 0; k < t->nspans; k++) {
        const mpp_span_t *sp = &t->spans[k];
        if (sp->cat == MPP_CAT_IPC_WAIT && s_span_ok(sp)) {
            v[n++] = (s_ivl_t){sp->start_ns, sp->start_ns + sp->dur_ns};
        }
    }
    qsort(v, n, sizeof(*v), s_by_start);
    size_t m = 0; /* merged: overlapping or touching intervals become one */
    for (size_t k = 1; k < n; k++) {
        if (v[k].t0 <= v[m].t1) {
            v[m].t1 = v[k].t1 > v[m].t1 ? v[k].t1 : v[m].t1;
        }
        else {
            v[++m] = v[k];
        }
    }
    *out = v;
    return (ssize_t)(m + 1);
}

static int
s_queued(const s_move_t *mv, int64_t *lock_ns)
{
    const mpp_session_t *s = mv->s;
    for (size_t q = 0; mv->nxfer > 0 && q < s->nprocs; q++) {
        const mpp_proc_t *p = &s->procs[q];
        if (mpp_rep_role_of(s, p) != MPP_REP_WORKER) {
            continue;
        }
        for (size_t j = 0; j < p->nthreads; j++) {
            const mpp_thread_t *t = &p->threads[j];
            s_ivl_t *own = NULL;
            ssize_t nown = -2; /* made at the first wait that needs it */
            s_mark_callers(mv->fl, s->nfuncs, t, true);
            for (size_t k = 0; k < t->nspans; k++) {
                const mpp_span_t *sp = &t->spans[k];
                if (sp->cat != MPP_CAT_LOCK_WAIT || !s_span_ok(sp)) {
                    continue;
                }
                /* Other lock waits (a lock of the program's) are not
                 * behind a transfer, whatever ran meanwhile. */
                uint8_t m = sp->func < s->nfuncs ? mv->fl[sp->func] : 0;
                bool get = (m & (S_QGET | S_CALLS_QGET)) != 0;
                if (!get && (m & (S_QPUT | S_IN_PUT)) == 0) {
                    continue;
                }
                if (nown == -2 && (nown = s_own_ipc(t, &own)) < 0) {
                    s_mark_callers(mv->fl, s->nfuncs, t, false);
                    return MPP_ENOMEM;
                }
                int64_t ns = s_behind(mv, q, own, (size_t)nown, sp->start_ns,
                                      sp->start_ns + sp->dur_ns, get);
                lock_ns[q] = mpp_add_sat_i64(lock_ns[q], ns);
            }
            free(own);
            s_mark_callers(mv->fl, s->nfuncs, t, false);
        }
    }
    return 0;
}

int
mpp_rep_moving(const mpp_session_t *s, mpp_rep_move_t *out)
{
    memset(out, 0, sizeof(*out));
    s_move_t mv = {.s = s};
    size_t n = s->nprocs ? s->nprocs : 1;
    out->ipc_ns = calloc(n, sizeof(*out->ipc_ns));
    out->lock_ns = calloc(n, sizeof(*out->lock_ns));
    mv.fl = mpp_rep_func_flags(s, s_flag);
    int rc = out->ipc_ns == NULL || out->lock_ns == NULL || mv.fl == NULL
                 ? MPP_ENOMEM
                 : s_collect_ends(&mv);
    rc = rc == 0 ? s_match(&mv) : rc;
    if (rc == 0) {
        for (size_t i = 0; i < mv.nxfer; i++) {
            const s_xfer_t *x = &mv.xfer[i];
            out->ipc_ns[x->sender] =
                mpp_add_sat_i64(out->ipc_ns[x->sender], x->t1 - x->t0);
            out->ipc_ns[x->receiver] =
                mpp_add_sat_i64(out->ipc_ns[x->receiver], x->t1 - x->t0);
        }
        out->transfers = (uint32_t)mv.nxfer;
        rc = s_queued(&mv, out->lock_ns);
    }
    free(mv.fl);
    free(mv.send);
    free(mv.recv);
    free(mv.xfer);
    if (rc != 0) {
        mpp_rep_moving_free(out);
    }
    return rc;
}

void
mpp_rep_moving_free(mpp_rep_move_t *m)
{
    free(m->ipc_ns);
    free(m->lock_ns);
    memset(m, 0, sizeof(*m));
}
