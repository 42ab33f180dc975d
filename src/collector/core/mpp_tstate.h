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
 *  are found by function id through a dense index array.  Each stat
 *  remembers the edge last used to call it, so a function called from the
 *  same place again (loops, recursion: nearly every call) finds its edge
 *  with one compare; only a change of caller probes the open-addressing
 *  table keyed by the pair of stat indexes.  When an allocation fails the
 *  event is counted as dropped and the stack stays balanced.
 *
 *  Categories (pickle, lock wait, ...; see mpp_cats.h) cost untagged
 *  functions one predictable branch per event: a stat carries its
 *  function's tag, and only a tagged call (or the return of a frame that
 *  switched category) takes the cold path in mpp_cats.c.
 *
 *  Only the thread that owns the tables (holding the GIL) calls these,
 *  or, once no other thread can run, the exit path.
 */
#ifndef MPP_TSTATE_H
#define MPP_TSTATE_H

#include "mpp_internal.h"
#include "mpp_clock.h"
#include "mpp_funcs.h"
#include "mpp_hash.h"

typedef struct {
    int64_t t0;    /* clock at entry */
    int64_t sub;   /* time spent in callees so far */
    uint32_t stat; /* 1-based index into stats, 0 when not accounted */
    uint32_t edge; /* 1-based index into edges, 0 without a caller */
    bool cat;      /* this frame opened a category interval */
} mpp_ts_frame_t;

typedef struct {
    mpp_cost_t cost;
    uint32_t fid;
    uint32_t level; /* frames of this function now on the stack */
    uint32_t edge;  /* 1-based index of the edge last used to call it */
    uint8_t tag;    /* MPP_TAG_* of the function, 0 for most */
    bool dirty;     /* changed since the last DATA that went out */
} mpp_ts_stat_t;

typedef struct {
    mpp_cost_t cost;
    uint32_t caller; /* 1-based stat indexes */
    uint32_t callee;
    uint32_t level; /* frames of this edge now on the stack */
    bool dirty;
} mpp_ts_edge_t;

/* The longest a thread's events go without a read of its CPU clock. */
#define MPP_TS_CPU_PERIOD_NS 10000000
/*  A category boundary this soon after the last read reads no clock: the
 *  thread is taken to have been on a CPU since (it ran the code between),
 *  so a loop of uncontended lock calls reads about once per this much of
 *  its time, not twice per call. */
#define MPP_TS_CPU_NEAR_NS 20000

/* Category interval nesting deeper than this stays in the outer one. */
#define MPP_TS_CATS_DEPTH 16
#define MPP_CAT_NONE 0xFF

/* One open category interval: what a switching frame opened. */
typedef struct {
    int64_t start;  /* clock at entry */
    uint64_t bytes; /* measured while it was open */
    uint32_t fid;   /* function running when it began, or MPP_NOFID */
    uint8_t cat;
} mpp_ts_catlevel_t;

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
    /* Clock ticks: the next periodic read of the CPU clock is due (one
     * compare per return; see the CPU fields below). */
    int64_t cpu_next;

    /* Categories: touched only by tagged calls; see mpp_cats.c. */
    uint8_t cat_base;      /* MPP_CAT_STARTUP while start-up lasts, or NONE */
    uint8_t cat_depth;     /* open intervals in cat_stack */
    bool cat_dirty;        /* cat changed since the last DATA that went out */
    bool startup_by_run;   /* only multiprocessing's run() ends start-up */
    int64_t cat_since;     /* clock when the current category last began */
    int64_t startup_start; /* clock at process start, for the span */
    mpp_catval_t cat[MPP_CAT_COUNT]; /* ns are clock ticks here */
    mpp_ts_catlevel_t cat_stack[MPP_TS_CATS_DEPTH];

    /*  CPU time (mpp_cats.c), in nanoseconds of the thread's CPU clock
     *  (mpp_clock_thread_cpu_ns), counted from the thread's start in this
     *  incarnation (a fork child's from the fork).  The clock is read
     *  where it is cheap: when the current category changes, when a
     *  return finds the event clock past cpu_next (about every
     *  MPP_TS_CPU_PERIOD_NS of a thread's events), at every batch or
     *  flush, and at the thread's and the process's end; never per
     *  event (a boundary within MPP_TS_CPU_NEAR_NS of the last read
     *  counts that time as on a CPU instead of reading).  cpu_ns is the
     *  reading at the last read, cpu_cat_ns the part of it spent inside
     *  category intervals that have closed, and cpu_since the reading
     *  when the current one (if any) began; so what was on a CPU outside
     *  every category is cpu_ns minus mpp_tstate_cpu's `cat`.  cpu_ns < 0:
     *  unknown (never read, or the clock cannot be read).  cpu_sent is
     *  what the core's last DATA carried. */
    int64_t cpu_ns;
    int64_t cpu_cat_ns;
    int64_t cpu_since;
    int64_t cpu_sent;
    int64_t cpu_base; /* the clock's reading where cpu_ns counts from */
    int64_t cpu_at;   /* event clock ticks at the last read */

    /* Cold. */
    uint64_t dropped; /* events lost to allocation failures */
    struct mpp_core *core;
    uint64_t tid;  /* identity on the wire; see mpp_core.h */
    uint32_t ktid; /* the kernel's thread id */
    char *name;    /* threading name when the thread was first seen */
    bool has_ref;  /* the hook's argument object points here */
    bool orphan;   /* forgotten by the core after a fork; see mpp_core.c */
    bool ended;    /* the thread has ended; its last batch is pending */
    /* With a mapping read by the agent: when the thread ended (clock
     * ticks) and its end serial (mpp_shm_root.h); 0 while it runs. */
    int64_t end_ticks;
    uint64_t end_serial;
} mpp_tstate_t;

/*  Returns NULL when out of memory.  `name` is copied.  A table without
 *  a core gets no stack until it sees an event. */
mpp_tstate_t *mpp_tstate_new(struct mpp_core *core, uint64_t tid,
                             const char *name);
void mpp_tstate_destroy(mpp_tstate_t **self_p);

/*  The thread has ended and its stack is empty: frees what only events
 *  need (the stack, the function index, the edge hash), keeping the
 *  numbers until they are sent. */
void mpp_tstate_shrink(mpp_tstate_t *self);

/*  Adds every number of `src` into `dst`, function by function and edge
 *  by edge (the merged table of ended threads; its counts of dropped
 *  events are the caller's).  Returns 0, or MPP_ENOMEM when some entries
 *  could not be added. */
int mpp_tstate_merge(mpp_tstate_t *dst, const mpp_tstate_t *src);

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

/*  Category work of a tagged call and of the return of a frame that
 *  opened an interval (mpp_cats.c).  `frame` is the runtime's frame of
 *  the call and `retval` the value a function returns, or NULL; both are
 *  opaque here and only handed to the core's measure callbacks. */
void mpp_cats_enter(mpp_tstate_t *self, mpp_ts_frame_t *f, uint8_t tag,
                    int64_t now, void *frame);
void mpp_cats_leave(mpp_tstate_t *self, mpp_ts_frame_t *f, int64_t now,
                    void *retval);
/*  The periodic read of the thread's CPU clock, due at cpu_next; and a
 *  read from anywhere in the process (a batch, the end: by the thread's
 *  kernel id, so the thread need not be the one running). */
void mpp_cats_cpu_tick(mpp_tstate_t *self, int64_t now);
void mpp_cats_cpu_read(mpp_tstate_t *self);

/*  A thread's CPU time so far, from its fields as they stand (the
 *  collector's own, or a reader's copy of them, which may be forged):
 *  false when unknown; else *cpu is its CPU time and *cat the part of
 *  it inside category intervals, the one open now included, with
 *  0 <= *cat <= *cpu whatever the fields hold. */
static inline bool
mpp_tstate_cpu(const mpp_tstate_t *t, int64_t *cpu, int64_t *cat)
{
    int64_t total = t->cpu_ns, in = t->cpu_cat_ns, since = t->cpu_since;
    if (total < 0 || in < 0 || since < 0) {
        return false;
    }
    bool open = t->cat_depth > 0 || t->cat_base != MPP_CAT_NONE;
    if (open && total > since) {
        int64_t run = total - since; /* both >= 0: no overflow */
        in = in > INT64_MAX - run ? INT64_MAX : in + run;
    }
    *cpu = total;
    *cat = in < total ? in : total;
    return true;
}

/*  Stat indexes are small dense integers, and a multiplicative hash of
 *  the packed pair is nearly linear in them, which clusters under linear
 *  probing; a full 64-bit finalizer (MurmurHash3's) spreads them.  Only
 *  cache misses (a new caller of a function) come here. */
static inline uint32_t
mpp_ts_edge_hash(uint32_t caller, uint32_t callee)
{
    return (uint32_t)mpp_hash_mix64(((uint64_t)caller << 32) | callee);
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
 *  the frame is then pushed but not accounted) at time `now`; `frame`
 *  is the runtime's frame of a Python function (opaque), else NULL. */
#if defined(__GNUC__) || defined(__clang__)
#define MPP_TS_INLINE static inline __attribute__((always_inline))
#else
#define MPP_TS_INLINE static inline
#endif

/*  The body of both enters below: `edges` is a constant, so each copy
 *  has only its own work, and the 3.11 hook's path is what it was. */
MPP_TS_INLINE void
mpp_tstate_enter_body(mpp_tstate_t *self, uint32_t fid, int64_t now,
                      void *frame, const bool edges)
{
    uint32_t si = 0;
    uint32_t ei = 0;
    uint8_t tag = 0;

    if (MPP_UNLIKELY(self->depth == self->capstack || self->lost > 0) &&
        !mpp_tstate_make_room(self)) {
        return;
    }
    /* MPP_NOFID is never below nslot, so it needs no test of its own:
     * it takes the cold path, which gives it no stat. */
    si = fid < self->nslot ? self->slot[fid] : 0;
    if (MPP_UNLIKELY(si == 0)) {
        si = mpp_tstate_add_stat(self, fid);
    }
    if (MPP_LIKELY(si != 0)) {
        mpp_ts_stat_t *s = &self->stats[si - 1];
        s->cost.ncalls++;
        if (s->level++ == 0) {
            s->cost.pcalls++;
        }
        s->dirty = true;
        tag = s->tag;
        uint32_t caller;
        if (edges && self->depth > 0 &&
            (caller = self->stack[self->depth - 1].stat) != 0) {
            ei = s->edge;
            if (MPP_UNLIKELY(ei == 0 ||
                             self->edges[ei - 1].caller != caller)) {
                ei = mpp_tstate_edge(self, caller, si);
                s->edge = ei;
            }
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
    f->cat = false;
    if (MPP_UNLIKELY(tag != 0)) {
        mpp_cats_enter(self, f, tag, now, frame);
    }
}

/*  Inlined at every use: a call would cost a tenth of the work itself. */
MPP_TS_INLINE void
mpp_tstate_enter_ex(mpp_tstate_t *self, uint32_t fid, int64_t now, void *frame)
{
    mpp_tstate_enter_body(self, fid, now, frame, true);
}

/*  Fast mode's enter of a Python function: no caller->callee edge, which
 *  saves a third of the table work per call; functions, times and
 *  categories stay exact.  Its frames have no edge, so leaves skip it. */
static inline void
mpp_tstate_enter_flat(mpp_tstate_t *self, uint32_t fid, int64_t now,
                      void *frame)
{
    mpp_tstate_enter_body(self, fid, now, frame, false);
}

static inline void
mpp_tstate_enter(mpp_tstate_t *self, uint32_t fid, int64_t now)
{
    mpp_tstate_enter_ex(self, fid, now, NULL);
}

/* The return of the innermost frame at time `now`; `retval` is what a
 * Python function returns (opaque), else NULL.  The caller checks
 * mpp_tstate_idle() first. */
static inline void
mpp_tstate_leave_ex(mpp_tstate_t *self, int64_t now, void *retval)
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
    if (MPP_UNLIKELY(f->cat)) {
        mpp_cats_leave(self, f, now, retval);
    }
    if (MPP_UNLIKELY(now >= self->cpu_next)) {
        mpp_cats_cpu_tick(self, now);
    }
}

static inline void
mpp_tstate_leave(mpp_tstate_t *self, int64_t now)
{
    mpp_tstate_leave_ex(self, now, NULL);
}

#endif
