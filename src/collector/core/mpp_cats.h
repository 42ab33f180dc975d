/*  Categories: where a thread's time went among pickling, unpickling,
 *  lock wait, IPC wait and start-up, measured on every thread.
 *
 *  Exclusive: each nanosecond of a thread counts at most once, to the
 *  innermost category it is in.  A thread has a current category (or
 *  none) and the clock reading at which it became current; entering a
 *  function tagged with another category charges the time since then to
 *  the current one and switches, and that frame's return charges again and
 *  switches back.  The open intervals form a small stack beside the call
 *  stack, one entry per switching frame.  A function tagged with the
 *  category already current (a dumps inside ForkingPickler.dumps) changes
 *  nothing, and an untagged one (a reducer, a selector under
 *  Connection.poll) stays in whatever category its caller is in.
 *
 *  Functions are tagged once, when the registry first sees them
 *  (mpp_cats_classify), and each thread's stat keeps a copy of the tag, so
 *  the hot path spends one predictable branch on untagged functions; the
 *  times come from the clock readings the hook takes anyway.
 *
 *  count is the number of entries into a category from outside it; bytes
 *  are what ForkingPickler.dumps returned and what Connection._send_bytes
 *  and _recv_bytes moved (the outermost interval only).
 *
 *  Start-up runs from the process start (kernel start time, or the fork)
 *  to the first line of the program: the main script's <module> (the one
 *  Python runs with nothing of ours on the stack, or runpy's for -m), or
 *  for multiprocessing children Process.run (what _bootstrap calls).  It
 *  is the main thread's outermost category, so an unpickle during
 *  start-up still counts as unpickling.  A child of a plain os.fork has
 *  no start-up.
 *
 *  Spans: an interval lasting at least the core's span_min_us (default
 *  1000) microseconds becomes a span, kept in a fixed-size per-core ring
 *  (under the GIL, so the threads share it; mpp_layout.h).  Without the
 *  agent, a span waits there until the core's next DATA carries it, and
 *  spans that find it full are counted as dropped events; when the agent
 *  reads the mapping, the newest spans overwrite the oldest, and the
 *  agent counts those it missed.
 */
#ifndef MPP_CATS_H
#define MPP_CATS_H

#include "mpp_internal.h"

#include "mpp_clock.h"

struct mpp_core;
struct mpp_tstate;

/* A function's tag: its category plus one (0: none) and what the cold
 * path must do for it. */
#define MPP_TAG_CAT 0x07u       /* category + 1 */
#define MPP_TAG_BYTES_RET 0x08u /* the return value's size is bytes moved */
#define MPP_TAG_BYTES_ARG 0x10u /* the argument `buf` is bytes moved */
#define MPP_TAG_RUN 0x20u       /* named run: may end start-up */
#define MPP_TAG_MODULE 0x40u    /* a <module>: may end start-up */
#define MPP_TAG_MAIN 0x80u      /* named main: may end a helper's start-up */
#define MPP_TAG_PHASE (MPP_TAG_RUN | MPP_TAG_MODULE | MPP_TAG_MAIN)

/* Marks: functions whose presence on the stack tells a phase apart.  The
 * registry holds them; they cost the hot path nothing. */
#define MPP_MARK_RUNCODE 1   /* runpy._run_code: runs the -m module */
#define MPP_MARK_BOOTSTRAP 2 /* BaseProcess._bootstrap: calls run() */
#define MPP_MARK_LAUNCH 3    /* where multiprocessing forks a child */

/*  The span buffer of a core: intervals at least `min_us` long (<= 0: the
 *  default) are kept, in `shm` when not NULL (mpp_shm.h).
 *  mpp_spans_clear forgets them (a fork child's are its parent's). */
typedef struct mpp_spans mpp_spans_t;
struct mpp_shm;
mpp_spans_t *mpp_spans_new(const mpp_clock_t *clock, int64_t min_us,
                           struct mpp_shm *shm);
void mpp_spans_destroy(mpp_spans_t **self_p);
void mpp_spans_clear(mpp_spans_t *self);
size_t mpp_spans_mem(const mpp_spans_t *self);

/* The tag and mark of a function, from its file ("~" for C functions) and
 * name, as the registry stores them. */
void mpp_cats_classify(const char *file, const char *name, uint8_t *tag,
                       uint8_t *mark);

/* For mpp_tstate.c: a new thread (the process's first one starts in
 * start-up); forgetting everything (fork child: a multiprocessing child
 * starts in start-up again); the end of every open frame. */
void mpp_cats_thread_init(struct mpp_tstate *t);
void mpp_cats_thread_reset(struct mpp_tstate *t);
void mpp_cats_thread_unwind(struct mpp_tstate *t, int64_t now);

/*  For building a DATA message (mpp_batch.c).  A thread is dirty when its
 *  categories changed since the last DATA that went out or it is inside
 *  one now, or its CPU time moved.  mpp_cats_fill gives its values in
 *  nanoseconds, the interval now running included.  mpp_cats_spans converts the waiting spans
 *  (*n of them; the array lives until the next call) and mpp_cats_sent,
 *  once the message is queued, forgets them and the dirty flags. */
bool mpp_cats_dirty(const struct mpp_tstate *t);
void mpp_cats_fill(const struct mpp_core *core, const struct mpp_tstate *t,
                   mpp_catval_t out[MPP_CAT_COUNT]);
size_t mpp_cats_pending(const struct mpp_core *core);
const mpp_wspan_t *mpp_cats_spans(const struct mpp_core *core, size_t *n);
void mpp_cats_sent(struct mpp_core *core);

#endif
