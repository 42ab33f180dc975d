/*  The collector core's threads: tables added as threads appear, ended
 *  threads kept until their numbers are delivered (by the core's own
 *  batch, or read by the agent from the mapping and acknowledged), then
 *  freed; see mpp_core.h and mpp_shm_root.h. */
#include "mpp_internal.h"

#include <string.h>

#include "mpp_core_priv.h"

bool
mpp_core_agent_reads(const mpp_core_t *self)
{
    return self->shm != NULL && mpp_shm_shared(self->shm);
}

/*  Compacts the list in place inside one root update: a reader copying
 *  the list meanwhile sees gen move and copies again. */
void
mpp_core_drop_ended_upto(mpp_core_t *self, uint64_t upto)
{
    size_t kept = 0;
    size_t dropped = 0;
    for (size_t i = 0; i < self->nthreads; i++) {
        const mpp_tstate_t *t = self->threads[i];
        dropped += t->ended && t->end_serial <= upto;
    }
    if (dropped == 0) {
        return;
    }
    mpp_root_begin(self);
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_t *t = self->threads[i];
        if (t->ended && t->end_serial <= upto) {
            mpp_tstate_destroy(&t);
        }
        else {
            self->threads[kept++] = t;
        }
    }
    self->nthreads = kept;
    self->nended -= dropped;
    mpp_root_commit(self);
}

/*  The agent's word is bounded by the threads that have ended, so no
 *  value it holds frees a running one. */
void
mpp_core_free_acked(mpp_core_t *self)
{
    uint64_t ack;
    if (self->nended == 0 || !mpp_core_agent_reads(self) ||
        !mpp_shm_ack(self->shm, &ack)) {
        return;
    }
    if (ack > self->ended_total) {
        ack = self->ended_total;
    }
    if (ack == self->acked) {
        return;
    }
    self->acked = ack;
    mpp_core_drop_ended_upto(self, ack);
}

/*  Frees the ended threads up to end serial `upto` that the agent has
 *  not acknowledged, counting their calls as dropped events: the numbers
 *  are lost, and the profile says so. */
static void
s_drop_unread(mpp_core_t *self, uint64_t upto)
{
    for (size_t i = 0; i < self->nthreads; i++) {
        const mpp_tstate_t *t = self->threads[i];
        if (!t->ended || t->end_serial > upto) {
            continue;
        }
        for (uint32_t j = 0; j < t->nstats; j++) {
            self->past_dropped += t->stats[j].cost.ncalls;
        }
    }
    mpp_core_drop_ended_upto(self, upto);
}

mpp_tstate_t *
mpp_core_add_thread(mpp_core_t *self, uint32_t ktid, const char *name)
{
    mpp_core_free_acked(self);
    if (mpp_mem_grow(self->shm, (void **)&self->threads, &self->capthreads,
                     self->nthreads + 1, sizeof(*self->threads)) < 0) {
        return NULL;
    }
    /* The serial makes the identity unique even when the kernel hands
     * this thread the id of one that ended (issue 9, item 4). */
    uint64_t tid = ((uint64_t)self->serial << 32) | ktid;
    mpp_tstate_t *t = mpp_tstate_new(self, tid, name);
    if (t == NULL) {
        return NULL;
    }
    self->serial++;
    t->ktid = ktid;
    t->has_ref = true;
    self->threads[self->nthreads++] = t;
    mpp_root_sync(self);
    return t;
}

/* Removes threads[i] from the list, keeping the order of the rest. */
static void
s_remove(mpp_core_t *self, size_t i)
{
    mpp_root_begin(self);
    memmove(&self->threads[i], &self->threads[i + 1],
            (self->nthreads - i - 1) * sizeof(*self->threads));
    self->nthreads--;
    mpp_root_commit(self);
}

static void
s_forget(mpp_core_t *self, mpp_tstate_t *thread)
{
    for (size_t i = 0; i < self->nthreads; i++) {
        if (self->threads[i] == thread) {
            s_remove(self, i);
            return;
        }
    }
}

void
mpp_core_release_thread(mpp_core_t *self, mpp_tstate_t *thread)
{
    if (thread->orphan) {
        mpp_tstate_destroy(&thread);
        return;
    }
    thread->has_ref = false;
    if (self->h.hot & MPP_CORE_FORKED) {
        /* The fork child's reset, still pending, frees it (it no longer
         * has a reference). */
        return;
    }
    if (self->h.hot & MPP_CORE_DONE) {
        /* The final batch is out: nothing of it is pending. */
        s_forget(self, thread);
        mpp_tstate_destroy(&thread);
        return;
    }
    /* Frames it still has open (its profile function was replaced
     * mid-call, say) end now, not at exit. */
    if (!mpp_tstate_idle(thread)) {
        mpp_tstate_unwind(thread, mpp_clock_read(&self->h.clock));
    }
    else {
        mpp_cats_cpu_read(thread); /* its CPU time at its end */
    }
    (void)mpp_tstate_merge(self->past, thread);
    self->past_dropped += thread->dropped;
    mpp_tstate_shrink(thread);
    /* The mark, the serial and the root's count in one update: a reader
     * whose snapshot counts this thread as ended has its final numbers. */
    mpp_root_begin(self);
    thread->end_ticks = mpp_clock_peek(&self->h.clock);
    thread->end_serial = ++self->ended_total;
    thread->ended = true;
    self->nended++;
    mpp_root_commit(self);
    if (mpp_core_agent_reads(self)) {
        /* The agent frees it by acknowledging; no batch is needed. */
        mpp_core_free_acked(self);
        if (self->nended > MPP_CORE_UNACKED_MAX) {
            s_drop_unread(self, self->ended_total - MPP_CORE_UNACKED_MAX);
        }
    }
    else if (!mpp_core_has_sink(self)) {
        /* No sink and no file (a fork child that could make none): no
         * one will read it, and no batch will free it. */
        mpp_core_drop_ended_upto(self, UINT64_MAX);
    }
    else if (self->nended >= MPP_CORE_ENDED_MAX) {
        /* Due now: the next event on any thread sends the batch. */
        self->h.deadline = INT64_MIN;
    }
}

void
mpp_core_drop_ended(mpp_core_t *self)
{
    if (self->nended == 0) {
        return;
    }
    if (mpp_core_agent_reads(self)) {
        /* Queued to the sink is not read by the agent. */
        mpp_core_free_acked(self);
        return;
    }
    mpp_core_drop_ended_upto(self, UINT64_MAX);
}
