/*  Messages: what the core hands its sink (HELLO, DATA, BYE), built from
 *  the tables in scratch arrays that are reused from batch to batch, so a
 *  batch allocates only when it is larger than every one before it. */
#include "mpp_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "mpp_cats.h"
#include "mpp_core_priv.h"

struct mpp_batch {
    mpp_wthread_t *threads;
    size_t capthreads;
    mpp_wstat_t *stats;
    size_t capstats;
    mpp_wedge_t *edges;
    size_t capedges;
    mpp_wfunc_t *funcs;
    size_t capfuncs;
};

mpp_batch_t *
mpp_batch_new(void)
{
    return calloc(1, sizeof(mpp_batch_t));
}

void
mpp_batch_destroy(mpp_batch_t **self_p)
{
    mpp_batch_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    free(self->threads);
    free(self->stats);
    free(self->edges);
    free(self->funcs);
    free(self);
    *self_p = NULL;
}

size_t
mpp_batch_mem(const mpp_batch_t *self)
{
    return sizeof(*self) + self->capthreads * sizeof(*self->threads) +
           self->capstats * sizeof(*self->stats) +
           self->capedges * sizeof(*self->edges) +
           self->capfuncs * sizeof(*self->funcs);
}

static void
s_msg_init(const mpp_core_t *core, mpp_msg_t *msg, mpp_msg_type_t type)
{
    memset(msg, 0, sizeof(*msg));
    msg->version = MPP_WIRE_VERSION;
    msg->token = core->token;
    msg->pid = core->pid;
    msg->seq = core->seq;
    msg->type = type;
}

static void
s_msg_times(const mpp_core_t *core, mpp_msg_t *msg)
{
    msg->wall_ns = mpp_clock_now_ns(CLOCK_MONOTONIC) - core->start_mono_ns;
    msg->cpu_ns = mpp_clock_now_ns(CLOCK_PROCESS_CPUTIME_ID);
    msg->dropped = mpp_core_dropped(core);
}

/*  Hands one message to the sink, opening it first if needed.  The
 *  sequence number advances only when the message is queued, so one that
 *  never left leaves no gap for the aggregator to count. */
static int
s_send(mpp_core_t *core, const mpp_msg_t *msg)
{
    if (!core->sink_open) {
        if (core->sink_failed) {
            return -ENOTCONN;
        }
        /* A fork child opens a channel of its own on its first message. */
        if (core->sink.open(core->sink.ctx, NULL) < 0) {
            core->sink_failed = true;
            return -ENOTCONN;
        }
        core->sink_open = true;
    }
    int rc = core->sink.send(core->sink.ctx, msg);
    if (rc < 0) {
        core->send_failures++;
        return rc;
    }
    core->seq++;
    core->messages++;
    return 0;
}

int
mpp_batch_hello(mpp_core_t *core)
{
    /* Nothing is sent when the agent reads the mapping: it makes every
     * message from what it finds there (!mpp_core_has_sink). */
    if (core->hello_sent || !mpp_core_has_sink(core)) {
        return 0;
    }
    mpp_msg_t msg;
    s_msg_init(core, &msg, MPP_MSG_HELLO);
    msg.ppid = core->ppid;
    msg.start_method = core->start_method;
    msg.name = core->name;
    msg.python = core->python;
    msg.argv = (const char **)core->argv;
    msg.argc = core->argc;
    msg.start_ns = core->start_ns;
    int rc = s_send(core, &msg);
    if (rc == 0) {
        core->hello_sent = true;
    }
    return rc;
}

int
mpp_batch_bye(mpp_core_t *core, mpp_exit_kind_t kind, int32_t code)
{
    if (!mpp_core_has_sink(core)) {
        return 0;
    }
    int rc = mpp_batch_hello(core);
    if (rc < 0) {
        return rc;
    }
    mpp_msg_t msg;
    s_msg_init(core, &msg, MPP_MSG_BYE);
    msg.exit_kind = kind;
    msg.exit_code = code;
    s_msg_times(core, &msg);
    return s_send(core, &msg);
}

static mpp_cost_t
s_cost_ns(const mpp_core_t *core, const mpp_cost_t *ticks)
{
    mpp_cost_t cost = *ticks;
    cost.tt_ns = mpp_clock_ns(&core->h.clock, ticks->tt_ns);
    cost.ct_ns = mpp_clock_ns(&core->h.clock, ticks->ct_ns);
    return cost;
}

static void
s_take_def(mpp_core_t *core, uint32_t fid, size_t *nfuncs)
{
    mpp_batch_t *b = core->batch;
    if (mpp_funcs_take(core->h.funcs, fid)) {
        mpp_funcs_get(core->h.funcs, fid, &b->funcs[(*nfuncs)++]);
    }
}

/* Whether a thread goes into the batch, and with how many entries. */
static bool
s_thread_dirty(const mpp_tstate_t *t, size_t *ns, size_t *ne)
{
    *ns = 0;
    *ne = 0;
    for (uint32_t j = 0; j < t->nstats; j++) {
        *ns += t->stats[j].dirty;
    }
    for (uint32_t j = 0; j < t->nedges; j++) {
        *ne += t->edges[j].dirty;
    }
    return *ns + *ne > 0 || mpp_cats_dirty(t);
}

/* Fills one thread's entry (its arrays start at *ws and *we). */
static void
s_fill_thread(mpp_core_t *core, const mpp_tstate_t *t, mpp_wthread_t *w,
              mpp_wstat_t **ws, mpp_wedge_t **we, size_t *nfuncs)
{
    memset(w, 0, sizeof(*w));
    w->tid = t->tid;
    w->name = t->name;
    w->stats = *ws;
    w->edges = *we;
    mpp_cats_fill(core, t, w->cat);
    w->has_cpu = mpp_tstate_cpu(t, &w->cpu_ns, &w->cpu_cat_ns);
    for (uint32_t j = 0; j < t->nstats; j++) {
        const mpp_ts_stat_t *s = &t->stats[j];
        if (s->dirty) {
            mpp_wstat_t *out = (*ws)++;
            out->fid = s->fid;
            out->cost = s_cost_ns(core, &s->cost);
            s_take_def(core, s->fid, nfuncs);
        }
    }
    for (uint32_t j = 0; j < t->nedges; j++) {
        const mpp_ts_edge_t *e = &t->edges[j];
        if (e->dirty) {
            mpp_wedge_t *out = (*we)++;
            out->caller = t->stats[e->caller - 1].fid;
            out->callee = t->stats[e->callee - 1].fid;
            out->cost = s_cost_ns(core, &e->cost);
            s_take_def(core, out->caller, nfuncs);
            s_take_def(core, out->callee, nfuncs);
        }
    }
    w->nstats = (size_t)(*ws - w->stats);
    w->nedges = (size_t)(*we - w->edges);
}

static void
s_mark_sent(mpp_core_t *core)
{
    for (size_t i = 0; i < core->nthreads; i++) {
        mpp_tstate_t *t = core->threads[i];
        for (uint32_t j = 0; j < t->nstats; j++) {
            t->stats[j].dirty = false;
        }
        for (uint32_t j = 0; j < t->nedges; j++) {
            t->edges[j].dirty = false;
        }
    }
    mpp_cats_sent(core);
    core->name_sent = true;
    mpp_core_drop_ended(core);
}

int
mpp_batch_data(mpp_core_t *core, bool always)
{
    if (!mpp_core_has_sink(core)) {
        return 0;
    }
    mpp_batch_t *b = core->batch;
    size_t nthreads = 0;
    size_t nstats = 0;
    size_t nedges = 0;

    for (size_t i = 0; i < core->nthreads; i++) {
        size_t ns;
        size_t ne;
        if (s_thread_dirty(core->threads[i], &ns, &ne)) {
            nthreads++;
            nstats += ns;
            nedges += ne;
        }
    }
    size_t nspans = mpp_cats_pending(core);
    if (!always && nthreads == 0 && nspans == 0 && core->name_sent) {
        /* Ended threads without changes have nothing left to send. */
        mpp_core_drop_ended(core);
        return 0;
    }
    int rc = mpp_batch_hello(core);
    if (rc < 0) {
        return rc;
    }
    if (mpp_grow((void **)&b->threads, &b->capthreads, nthreads,
                 sizeof(*b->threads)) < 0 ||
        mpp_grow((void **)&b->stats, &b->capstats, nstats, sizeof(*b->stats)) <
            0 ||
        mpp_grow((void **)&b->edges, &b->capedges, nedges, sizeof(*b->edges)) <
            0 ||
        mpp_grow((void **)&b->funcs, &b->capfuncs,
                 nstats + 2 * nedges + nspans, sizeof(*b->funcs)) < 0) {
        return MPP_ENOMEM;
    }

    mpp_clock_calibrate(&core->h.clock);
    size_t nfuncs = 0;
    size_t wt = 0;
    mpp_wstat_t *ws = b->stats;
    mpp_wedge_t *we = b->edges;
    for (size_t i = 0; i < core->nthreads; i++) {
        const mpp_tstate_t *t = core->threads[i];
        size_t ns;
        size_t ne;
        /* Only the threads counted above get a slot: the array holds
         * exactly that many (issue 9, item 1). */
        if (s_thread_dirty(t, &ns, &ne)) {
            s_fill_thread(core, t, &b->threads[wt++], &ws, &we, &nfuncs);
        }
    }
    const mpp_wspan_t *spans = mpp_cats_spans(core, &nspans);
    for (size_t i = 0; i < nspans; i++) {
        if (spans[i].fid != MPP_NOFID) {
            s_take_def(core, spans[i].fid, &nfuncs);
        }
    }

    mpp_msg_t msg;
    s_msg_init(core, &msg, MPP_MSG_DATA);
    msg.name = core->name;
    s_msg_times(core, &msg);
    msg.mem_bytes = mpp_core_mem(core);
    msg.funcs = b->funcs;
    msg.nfuncs = nfuncs;
    msg.threads = b->threads;
    msg.nthreads = wt;
    msg.spans = (mpp_wspan_t *)spans;
    msg.nspans = nspans;
    rc = s_send(core, &msg);
    mpp_funcs_settle(core->h.funcs, b->funcs, nfuncs, rc == 0);
    if (rc == 0) {
        s_mark_sent(core);
    }
    return rc;
}
