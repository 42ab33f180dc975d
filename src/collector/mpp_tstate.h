/*  Per-thread profile tables: the call stack, one stat per function and one
 *  per caller->callee edge, with exactly cProfile's arithmetic.
 *
 *  A call counts at once (so a process killed mid-call still shows it);
 *  times are added when the frame returns.  A call is primitive when no
 *  frame of the same function is on this thread's stack, which a recursion
 *  level per function tracks; each edge keeps its own level the same way.
 *  Own time ("tottime") always accumulates; cumulative time only when the
 *  outermost frame of the function (or edge) returns, so recursion counts
 *  once.
 *
 *  The hot path (enter/leave) is inline and allocates nothing: the stack
 *  grows only when it reaches a new maximum depth, and the stat and edge
 *  arrays only when a new function or edge appears on this thread.  Stats
 *  are found by function id through a dense index array; edges through a
 *  small open-addressing table keyed by the pair of stat indexes.  When an
 *  allocation fails the event is counted as dropped and the stack stays
 *  balanced.
 *
 *  Only the thread that owns the tables (holding the GIL) calls these,
 *  or, once no other thread can run, the exit path.
 */
#ifndef MPP_TSTATE_H
#define MPP_TSTATE_H

#include "mpp_internal.h"
#include "mpp_clock.h"
#include "mpp_funcs.h"

typedef struct {
    int64_t t0;    /* clock at entry */
    int64_t sub;   /* time spent in callees so far */
    uint32_t stat; /* 1-based index into stats, 0 when not accounted */
    uint32_t edge; /* 1-based index into edges, 0 without a caller */
} mpp_ts_frame_t;

typedef struct {
    mpp_cost_t cost;
    uint32_t fid;
    uint32_t level; /* frames of this function now on the stack */
    bool dirty;     /* changed since the last DATA that went out */
} mpp_ts_stat_t;

typedef struct {
    mpp_cost_t cost;
    uint32_t caller; /* 1-based stat indexes */
    uint32_t callee;
    uint32_t level; /* frames of this edge now on the stack */
    bool dirty;
} mpp_ts_edge_t;

struct mpp_core;

typedef struct mpp_tstate {
    /* Touched by every event. */
    mpp_ts_frame_t *stack;
    uint32_t depth;
    uint32_t capstack;
    uint32_t lost; /* frames not pushed since a push failed */
    uint32_t nslot;
    uint32_t *slot; /* function id -> 1-based index into stats */
    mpp_ts_stat_t *stats;
    uint32_t nstats;
    uint32_t capstats;
    mpp_ts_edge_t *edges;
    uint32_t nedges;
    uint32_t capedges;
    uint32_t *ehash; /* 1-based indexes into edges, 0 = empty */
    uint32_t emask;  /* size of ehash minus one */

    /* Cold. */
    uint64_t dropped; /* events lost to allocation failures */
    struct mpp_core *core;
    uint64_t tid; /* native thread id */
    char *name;   /* threading name when the thread was first seen */
    bool has_ref; /* a Python object (the hook's argument) points here */
    bool orphan;  /* forgotten by the core after a fork; see mpp_core.c */
} mpp_tstate_t;

/* Returns NULL when out of memory.  `name` is copied. */
mpp_tstate_t *mpp_tstate_new(struct mpp_core *core, uint64_t tid,
                             const char *name);
void mpp_tstate_destroy(mpp_tstate_t **self_p);

/* Forgets every number and the stack, keeping the memory (fork child). */
void mpp_tstate_clear(mpp_tstate_t *self);

/* Closes every open frame at `now`, like cProfile's flush_unmatched. */
void mpp_tstate_unwind(mpp_tstate_t *self, int64_t now);

size_t mpp_tstate_mem(const mpp_tstate_t *self);

/* Cold paths of the inline functions below. */
bool mpp_tstate_make_room(mpp_tstate_t *self);
uint32_t mpp_tstate_add_stat(mpp_tstate_t *self, uint32_t fid);
uint32_t mpp_tstate_add_edge(mpp_tstate_t *self, uint32_t caller,
                             uint32_t callee);

static inline uint32_t
mpp_ts_edge_hash(uint32_t caller, uint32_t callee)
{
    uint64_t key = ((uint64_t)caller << 32) | callee;
    return (uint32_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}

/* The 1-based index of the edge caller->callee, added if new; 0 if that
 * fails. */
static inline uint32_t
mpp_tstate_edge(mpp_tstate_t *self, uint32_t caller, uint32_t callee)
{
    uint32_t h = mpp_ts_edge_hash(caller, callee) & self->emask;
    for (;;) {
        uint32_t ei = self->ehash[h];
        if (ei == 0) {
            return mpp_tstate_add_edge(self, caller, callee);
        }
        const mpp_ts_edge_t *e = &self->edges[ei - 1];
        if (e->caller == caller && e->callee == callee) {
            return ei;
        }
        h = (h + 1) & self->emask;
    }
}

/* True when a return would be ignored: nothing of ours is on the stack
 * (profiling started below the returning frame). */
static inline bool
mpp_tstate_idle(const mpp_tstate_t *self)
{
    return self->depth == 0 && self->lost == 0;
}

/*  A call of function `fid` (MPP_NOFID when it could not be registered;
 *  the frame is then pushed but not accounted) at time `now`. */
static inline void
mpp_tstate_enter(mpp_tstate_t *self, uint32_t fid, int64_t now)
{
    uint32_t si = 0;
    uint32_t ei = 0;

    if (MPP_UNLIKELY(self->depth == self->capstack || self->lost > 0) &&
        !mpp_tstate_make_room(self)) {
        return;
    }
    if (MPP_LIKELY(fid != MPP_NOFID)) {
        si = fid < self->nslot ? self->slot[fid] : 0;
        if (MPP_UNLIKELY(si == 0)) {
            si = mpp_tstate_add_stat(self, fid);
        }
    }
    if (MPP_LIKELY(si != 0)) {
        mpp_ts_stat_t *s = &self->stats[si - 1];
        s->cost.ncalls++;
        if (s->level++ == 0) {
            s->cost.pcalls++;
        }
        s->dirty = true;
        if (self->depth > 0 && self->stack[self->depth - 1].stat != 0) {
            ei = mpp_tstate_edge(self, self->stack[self->depth - 1].stat, si);
            if (MPP_LIKELY(ei != 0)) {
                mpp_ts_edge_t *e = &self->edges[ei - 1];
                e->cost.ncalls++;
                if (e->level++ == 0) {
                    e->cost.pcalls++;
                }
                e->dirty = true;
            }
        }
    }
    mpp_ts_frame_t *f = &self->stack[self->depth++];
    f->t0 = now;
    f->sub = 0;
    f->stat = si;
    f->edge = ei;
}

/* The return of the innermost frame at time `now`.  The caller checks
 * mpp_tstate_idle() first. */
static inline void
mpp_tstate_leave(mpp_tstate_t *self, int64_t now)
{
    if (MPP_UNLIKELY(self->lost > 0)) {
        self->lost--;
        return;
    }
    mpp_ts_frame_t *f = &self->stack[--self->depth];
    int64_t total = now - f->t0;
    int64_t own = total - f->sub;
    if (self->depth > 0) {
        self->stack[self->depth - 1].sub += total;
    }
    if (f->stat != 0) {
        mpp_ts_stat_t *s = &self->stats[f->stat - 1];
        s->cost.tt_ns += own;
        if (--s->level == 0) {
            s->cost.ct_ns += total;
        }
        s->dirty = true;
    }
    if (f->edge != 0) {
        mpp_ts_edge_t *e = &self->edges[f->edge - 1];
        e->cost.tt_ns += own;
        if (--e->level == 0) {
            e->cost.ct_ns += total;
        }
        e->dirty = true;
    }
}

#endif
