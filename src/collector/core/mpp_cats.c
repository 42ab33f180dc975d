/*  Categories: the cold path of tagged calls, spans; see mpp_cats.h.
 *  Bytes are measured by the core's measure callbacks (the collector
 *  module's, which know Python objects); nothing here does. */
#include "mpp_internal.h"

#include <string.h>
#include <time.h>

#include "mpp_cats.h"
#include "mpp_core_priv.h"
#include "mpp_layout.h"
#include "mpp_shm.h"

/* ---- spans ---------------------------------------------------------------
 */

/* The span buffer's layout is shared with readers (mpp_layout.h). */
#define S_SPANS MPP_SPANS_CAP
#define S_SPAN_MIN_US_DEFAULT 1000

typedef mpp_span_rec_t s_span_t;

mpp_spans_t *
mpp_spans_new(const mpp_clock_t *clock, int64_t min_us,
              struct mpp_shm *shm)
{
    /* Of the slots only their numbers must start at 0.  In a mapping,
     * calloc is that without a write: a block carved fresh is zero
     * already (mpp_shm_calloc), and the ring's pages stay untouched until
     * spans fill them.  In private memory, the numbers are written below. */
    mpp_spans_t *self = shm != NULL ? mpp_shm_calloc(shm, 1, sizeof(*self))
                                    : malloc(sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->shm = shm;
    self->out = malloc(S_SPANS * sizeof(*self->out));
    if (self->out == NULL) {
        mpp_mem_free(shm, self);
        return NULL;
    }
    if (min_us <= 0 || min_us > INT64_MAX / 1000) {
        min_us = S_SPAN_MIN_US_DEFAULT;
    }
    self->min = mpp_clock_ticks(clock, min_us * 1000);
    self->total = 0;
    self->sent = 0;
    /* 0: the slot is empty (a recycled block may hold anything). */
    for (size_t i = 0; shm == NULL && i < S_SPANS; i++) {
        self->span[i].seq = 0;
    }
    return self;
}

void
mpp_spans_destroy(mpp_spans_t **self_p)
{
    if (*self_p != NULL) {
        free((*self_p)->out);
        mpp_mem_free((*self_p)->shm, *self_p);
    }
    *self_p = NULL;
}

void
mpp_spans_clear(mpp_spans_t *self)
{
    /* The slots written so far hold the numbers 1..total, which the new
     * incarnation hands out again: a reader must not take the parent's
     * span in a slot for the child's. */
    uint64_t used = self->total < S_SPANS ? self->total : S_SPANS;
    for (uint64_t i = 0; i < used; i++) {
        self->span[i].seq = 0;
    }
    self->total = 0;
    self->sent = 0;
}

/* Pushed but not carried by the core's own DATA yet, at most a ring. */
static uint64_t
s_unsent(const mpp_spans_t *b)
{
    uint64_t n = b->total - b->sent;
    return n < S_SPANS ? n : S_SPANS;
}

size_t
mpp_spans_mem(const mpp_spans_t *self)
{
    return sizeof(*self) + S_SPANS * sizeof(*self->out);
}

static void
s_span_push(mpp_tstate_t *t, uint8_t cat, uint32_t fid, int64_t start,
            int64_t dur, uint64_t bytes)
{
    mpp_spans_t *b = t->core->spans;
    if (dur < b->min) {
        return;
    }
    /* The agent reads a ring it never resets (mpp_layout.h); the core's
     * own DATA must not lose what it has not sent. */
    bool ring = b->shm != NULL && mpp_shm_shared(b->shm);
    if (!ring && b->total - b->sent >= S_SPANS) {
        t->dropped++;
        return;
    }
    s_span_t *r = &b->span[b->total % S_SPANS];
    /* The slot reads as empty before any field changes, and gets its
     * number only once they all have; then the total moves. */
    __atomic_store_n(&r->seq, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    r->tid = t->tid;
    r->start = start;
    r->dur = dur;
    r->bytes = bytes;
    r->fid = fid;
    r->cat = cat;
    __atomic_store_n(&r->seq, b->total + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&b->total, b->total + 1, __ATOMIC_RELEASE);
}

/* ---- the per-thread state ------------------------------------------------
 */

static inline uint8_t
s_cur(const mpp_tstate_t *t)
{
    return t->cat_depth > 0 ? t->cat_stack[t->cat_depth - 1].cat : t->cat_base;
}

/* ---- CPU time ------------------------------------------------------------
 */

/*  Reads the thread's CPU clock into cpu_ns; false when it cannot be read
 *  (the test clock without an injected value, a thread that has ended). */
static bool
s_cpu_read(mpp_tstate_t *t, int64_t now)
{
    if (t->core == NULL || t->cpu_base < 0 || t->core->cpu_final) {
        return false;
    }
    int64_t v = mpp_clock_thread_cpu_ns(&t->core->h.clock, t->ktid);
    if (v < 0) {
        return false;
    }
    v = v > t->cpu_base ? v - t->cpu_base : 0;
    /* The clock never goes back; a reading that seems to is kept out. */
    if (v > t->cpu_ns) {
        t->cpu_ns = v;
    }
    t->cpu_at = now;
    return true;
}

void
mpp_cats_cpu_read(mpp_tstate_t *t)
{
    if (t->core != NULL) {
        (void)s_cpu_read(t, mpp_clock_peek(&t->core->h.clock));
    }
}

void
mpp_cats_cpu_tick(mpp_tstate_t *t, int64_t now)
{
    (void)s_cpu_read(t, now);
    t->cpu_next =
        t->core != NULL
            ? now + mpp_clock_ticks(&t->core->h.clock, MPP_TS_CPU_PERIOD_NS)
            : INT64_MAX;
}

/*  The thread goes into or out of every category (`inside` says which it
 *  was) at `now`: the CPU time since the last such change goes to the
 *  categories if it was inside them.  Within MPP_TS_CPU_NEAR_NS of the
 *  last read the clock is not read: the time since counts as on a CPU.
 *  cpu_since may then run ahead of the next reading, by the part of that
 *  time that was not (a short wait inside a category, say); that part is
 *  counted inside categories, never more than the reading, and the next
 *  change starts again from the reading. */
static void
s_cpu_switch(mpp_tstate_t *t, bool inside, int64_t now)
{
    int64_t v;
    if (t->core == NULL) {
        return;
    }
    int64_t near =
        mpp_clock_ticks(&t->core->h.clock, MPP_TS_CPU_NEAR_NS);
    if (t->cpu_ns >= 0 && now >= t->cpu_at && now - t->cpu_at < near) {
        v = t->cpu_ns + mpp_clock_ns(&t->core->h.clock, now - t->cpu_at);
    }
    else if (s_cpu_read(t, now)) {
        v = t->cpu_ns;
    }
    else {
        return;
    }
    if (inside && v > t->cpu_since) {
        t->cpu_cat_ns += v - t->cpu_since;
    }
    t->cpu_since = v;
}

/*  Charges the time since the last switch to the current category; with
 *  `cpu`, the switch takes the thread into or out of every category, and
 *  its CPU clock is read. */
static inline void
s_charge(mpp_tstate_t *t, int64_t now, bool cpu)
{
    uint8_t c = s_cur(t);
    if (c != MPP_CAT_NONE && now > t->cat_since) {
        t->cat[c].ns += (uint64_t)(now - t->cat_since);
        t->cat_dirty = true;
    }
    t->cat_since = now;
    if (cpu) {
        s_cpu_switch(t, c != MPP_CAT_NONE, now);
    }
}

/* The clock reading at the CLOCK_MONOTONIC time `mono_ns` (in the past). */
static int64_t
s_ticks_at(const mpp_core_t *core, int64_t mono_ns)
{
    int64_t now = mpp_clock_peek(&core->h.clock);
    if (core->h.clock.kind == MPP_CLOCK_TEST) {
        return now; /* the test clock has no relation to real time */
    }
    int64_t age = mpp_clock_mono_ns() - mono_ns;
    return now - mpp_clock_ticks(&core->h.clock, age > 0 ? age : 0);
}

static void
s_startup_begin(mpp_tstate_t *t, int64_t start, bool by_run)
{
    t->cat_base = MPP_CAT_STARTUP;
    t->cat_since = start;
    t->startup_start = start;
    t->startup_by_run = by_run;
    t->cat[MPP_CAT_STARTUP].count = 1;
    t->cat_dirty = true;
}

static void
s_startup_end(mpp_tstate_t *t, int64_t now)
{
    if (t->cat_depth == 0) {
        s_charge(t, now, true);
    }
    t->cat_base = MPP_CAT_NONE;
    s_span_push(t, MPP_CAT_STARTUP, MPP_NOFID, t->startup_start,
                now - t->startup_start, 0);
    if (t->core != NULL) {
        /* The process has its multiprocessing name by now: the next event
         * refreshes it (and, with a sink, sends), so that a worker killed
         * before its first regular flush is still named as it was. */
        mpp_core_hot(t->core)->deadline = INT64_MIN;
    }
}

static void
s_clear(mpp_tstate_t *t)
{
    t->cat_base = MPP_CAT_NONE;
    t->cat_depth = 0;
    t->cat_dirty = false;
    t->startup_by_run = false;
    t->cat_since = 0;
    t->startup_start = 0;
    memset(t->cat, 0, sizeof(t->cat));
    /* A thread's CPU clock starts with the thread, a fork child's with
     * the fork: both count from 0.  The first read makes it known; the
     * first return reads it. */
    t->cpu_next = t->core != NULL ? INT64_MIN : INT64_MAX;
    t->cpu_ns = -1;
    t->cpu_cat_ns = 0;
    t->cpu_since = 0;
    t->cpu_sent = -1;
    t->cpu_base = 0;
    t->cpu_at = 0;
}

void
mpp_cats_thread_init(mpp_tstate_t *t)
{
    mpp_core_t *core = t->core;

    s_clear(t);
    if (core == NULL) {
        return;
    }
    /* The first thread of a process is its main thread, where start-up
     * happens.  A fork child's start-up is decided by the reset instead;
     * the fork server itself starts like any program. */
    bool forked = core->start_method != NULL && !core->is_forkserver &&
                  (strcmp(core->start_method, "fork") == 0 ||
                   strcmp(core->start_method, "forkserver") == 0);
    if (core->serial == 0 && !forked && !(core->h.hot & MPP_CORE_DONE)) {
        bool spawned = core->start_method != NULL &&
                       strcmp(core->start_method, "spawn") == 0;
        s_startup_begin(t, s_ticks_at(core, core->start_mono_ns), spawned);
    }
}

static uint8_t
s_frame_mark(const mpp_tstate_t *t, uint32_t depth)
{
    const mpp_ts_frame_t *f = &t->stack[depth];
    if (f->stat == 0) {
        return 0;
    }
    return mpp_funcs_mark(t->core->h.funcs, t->stats[f->stat - 1].fid);
}

void
mpp_cats_thread_reset(mpp_tstate_t *t)
{
    mpp_core_t *core = t->core;
    bool mp_child = false;

    /* In a fork child the stack still shows the parent's frames up to the
     * fork: multiprocessing's own fork means a Process will run. */
    if (core != NULL && (core->h.hot & MPP_CORE_FORKED)) {
        for (uint32_t d = 0; d < t->depth && !mp_child; d++) {
            mp_child = s_frame_mark(t, d) == MPP_MARK_LAUNCH;
        }
    }
    s_clear(t);
    if (mp_child) {
        s_startup_begin(t, s_ticks_at(core, core->fork_mono_ns), true);
    }
}

void
mpp_cats_thread_unwind(mpp_tstate_t *t, int64_t now)
{
    /* The frames are closed; what is left is start-up, if still on.  A
     * start-up that never ended (a worker terminated before it ran) is
     * still an interval on the timeline, as long as the time it charged. */
    bool inside = s_cur(t) != MPP_CAT_NONE;
    t->cat_depth = 0;
    s_charge(t, now, false);
    /* The thread's or the process's end: always a reading (or the last
     * one, for a thread that is gone). */
    (void)s_cpu_read(t, now);
    if (inside && t->cpu_ns > t->cpu_since) {
        t->cpu_cat_ns += t->cpu_ns - t->cpu_since;
    }
    if (inside && t->cpu_ns >= 0) {
        t->cpu_since = t->cpu_ns;
    }
    if (t->cat_base == MPP_CAT_STARTUP && t->core != NULL) {
        t->cat_base = MPP_CAT_NONE;
        s_span_push(t, MPP_CAT_STARTUP, MPP_NOFID, t->startup_start,
                    now - t->startup_start, 0);
    }
}

/* ---- the cold path of the hook ------------------------------------------ */

/*  A call of a function named run or <module>: the end of start-up when
 *  it is the first line of the program.  On any other thread, or once
 *  start-up is over, the function loses the tag for this thread. */
static void
s_startup_check(mpp_tstate_t *t, mpp_ts_frame_t *f, uint8_t tag, int64_t now)
{
    if (t->cat_base != MPP_CAT_STARTUP) {
        if (f->stat != 0) {
            t->stats[f->stat - 1].tag &= (uint8_t)~MPP_TAG_PHASE;
        }
        return;
    }
    /* The frame is pushed: depth - 1 is it, depth - 2 its caller. */
    uint32_t depth = t->depth;
    uint8_t caller = depth >= 2 ? s_frame_mark(t, depth - 2) : 0;
    bool helper = t->core != NULL && t->core->helper_main;
    bool end;
    if (helper) {
        /* A helper's -c code imports its module, then calls its main():
         * the imports are start-up too (issue 13: they made 25-55 ms of
         * a helper's compute); main() called from the -c code ends it,
         * or called first of all when the shim put the hook in only as
         * main() began (pyshim's _mpprof_defer). */
        end = (tag & MPP_TAG_MAIN) && depth <= 2;
    }
    else if (tag & MPP_TAG_MAIN) {
        end = false;
    }
    else if (tag & MPP_TAG_RUN) {
        end = caller == MPP_MARK_BOOTSTRAP;
    }
    else {
        /* A script or -c runs with nothing of ours below it; -m through
         * runpy's _run_code, then exec(). */
        uint8_t above = depth >= 3 ? s_frame_mark(t, depth - 3) : 0;
        end =
            !t->startup_by_run && (depth == 1 || caller == MPP_MARK_RUNCODE ||
                                   above == MPP_MARK_RUNCODE);
    }
    if (end) {
        s_startup_end(t, now);
    }
}

void
mpp_cats_enter(mpp_tstate_t *t, mpp_ts_frame_t *f, uint8_t tag, int64_t now,
               void *frame)
{
    if (tag & MPP_TAG_PHASE) {
        s_startup_check(t, f, tag, now);
    }
    unsigned c = tag & MPP_TAG_CAT;
    if (c == 0) {
        return;
    }
    c -= 1;
    uint8_t cur = s_cur(t);
    if (c == cur || t->cat_depth == MPP_TS_CATS_DEPTH) {
        return; /* nested in its own category: the outer call counts */
    }
    s_charge(t, now, cur == MPP_CAT_NONE);
    uint32_t fid = MPP_NOFID;
    if (t->depth >= 2 && t->stack[t->depth - 2].stat != 0) {
        fid = t->stats[t->stack[t->depth - 2].stat - 1].fid;
    }
    uint64_t bytes = 0;
    const mpp_measure_t *m = &t->core->measure;
    if ((tag & MPP_TAG_BYTES_ARG) && frame != NULL && m->arg_bytes != NULL) {
        bytes = m->arg_bytes(m->ctx, frame);
    }
    t->cat_stack[t->cat_depth++] = (mpp_ts_catlevel_t){
        .start = now,
        .bytes = bytes,
        .fid = fid,
        .cat = (uint8_t)c,
    };
    t->cat[c].count++;
    t->cat[c].bytes += bytes;
    t->cat_dirty = true;
    f->cat = true;
}

void
mpp_cats_leave(mpp_tstate_t *t, mpp_ts_frame_t *f, int64_t now, void *retval)
{
    if (t->cat_depth == 0) {
        return;
    }
    mpp_ts_catlevel_t *level = &t->cat_stack[t->cat_depth - 1];
    const mpp_measure_t *m = &t->core->measure;
    if (retval != NULL && f->stat != 0 && m->ret_bytes != NULL &&
        (t->stats[f->stat - 1].tag & MPP_TAG_BYTES_RET)) {
        uint64_t bytes = m->ret_bytes(m->ctx, retval);
        level->bytes += bytes;
        t->cat[level->cat].bytes += bytes;
    }
    s_charge(t, now, t->cat_depth == 1 && t->cat_base == MPP_CAT_NONE);
    t->cat_depth--;
    s_span_push(t, level->cat, level->fid, level->start, now - level->start,
                level->bytes);
}

/* ---- DATA messages -------------------------------------------------------
 */

bool
mpp_cats_dirty(const mpp_tstate_t *t)
{
    return t->cat_dirty || s_cur(t) != MPP_CAT_NONE ||
           t->cpu_ns != t->cpu_sent;
}

void
mpp_cats_fill(const mpp_core_t *core, const mpp_tstate_t *t,
              mpp_catval_t out[MPP_CAT_COUNT])
{
    uint8_t cur = s_cur(t);
    int64_t running = 0;
    if (cur != MPP_CAT_NONE) {
        int64_t now = mpp_clock_peek(&core->h.clock);
        running = now > t->cat_since ? now - t->cat_since : 0;
    }
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        int64_t ticks = (int64_t)t->cat[c].ns + (c == cur ? running : 0);
        out[c].ns = (uint64_t)mpp_clock_ns(&core->h.clock, ticks);
        out[c].count = t->cat[c].count;
        out[c].bytes = t->cat[c].bytes;
    }
}

size_t
mpp_cats_pending(const mpp_core_t *core)
{
    return (size_t)s_unsent(core->spans);
}

const mpp_wspan_t *
mpp_cats_spans(const mpp_core_t *core, size_t *n)
{
    mpp_spans_t *b = core->spans;
    int64_t real = mpp_clock_real_ns();
    int64_t now = mpp_clock_peek(&core->h.clock);
    uint64_t count = s_unsent(b);
    for (uint64_t i = 0; i < count; i++) {
        const s_span_t *s = &b->span[(b->total - count + i) % S_SPANS];
        mpp_wspan_t *w = &b->out[i];
        w->tid = s->tid;
        w->cat = s->cat;
        w->fid = s->fid;
        w->start_ns = real - mpp_clock_ns(&core->h.clock, now - s->start);
        w->dur_ns = mpp_clock_ns(&core->h.clock, s->dur);
        w->bytes = s->bytes;
    }
    *n = (size_t)count;
    return b->out;
}

void
mpp_cats_sent(mpp_core_t *core)
{
    core->spans->sent = core->spans->total;
    for (size_t i = 0; i < core->nthreads; i++) {
        core->threads[i]->cat_dirty = false;
        core->threads[i]->cpu_sent = core->threads[i]->cpu_ns;
    }
}
