/*  The core's state, shared by the core's own units (mpp_core.c,
 *  mpp_core_threads.c, mpp_batch.c, mpp_cats.c, mpp_tstate.c,
 *  mpp_exit.c, mpp_root.c) and by nobody else: the collector module sees
 *  only mpp_core.h. */
#ifndef MPP_CORE_PRIV_H
#define MPP_CORE_PRIV_H

#include "mpp_core.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"

/* Ended threads waiting for their batch beyond this make the next event
 * send it, whatever the interval.  Each holds a few KiB of numbers, so a
 * program that starts and ends threads quickly stays within ~100 KiB. */
#define MPP_CORE_ENDED_MAX 32

/*  With the agent reading the mapping, ended threads wait for its
 *  acknowledgment, which a live agent gives within its read interval.
 *  Beyond this many waiting (an agent gone, or threads ending faster
 *  than it reads), the oldest are freed unread and their calls counted
 *  as dropped events, so that the mapping stays bounded (a few KiB per
 *  table: some MiB at most). */
#define MPP_CORE_UNACKED_MAX 4096

typedef struct mpp_batch mpp_batch_t;

struct mpp_core {
    mpp_core_hot_t h; /* first: mpp_core_hot() casts the core to it */

    mpp_tstate_t **threads; /* live threads, then ended ones not yet sent */
    size_t nthreads;
    size_t capthreads;
    size_t nended;      /* of threads, those whose thread has ended */
    uint32_t serial;    /* identities handed out in this incarnation */
    mpp_tstate_t *past; /* merged numbers of ended threads (snapshots) */
    /* Threads ended so far, which numbers their end serials, and the
     * agent's acknowledgment last acted on (mpp_shm_root.h). */
    uint64_t ended_total;
    uint64_t acked;
    uint64_t past_dropped;

    /* The shared mapping holding the tables, or NULL (private memory). */
    mpp_shm_t *shm;
    char *shm_dir;
    mpp_shm_root_t *root; /* in shm; NULL without one */

    mpp_sink_t sink;
    bool sink_open;
    bool sink_failed; /* could not open: stop trying until disconnect */
    mpp_measure_t measure;
    mpp_batch_t *batch;
    struct mpp_spans *spans; /* mpp_cats.h */

    /* Identity of this incarnation. */
    char *token;
    char *python;
    char **argv;
    size_t argc;
    char *name;
    bool name_sent;
    int64_t pid;
    int64_t ppid;
    const char *start_method; /* static string */
    bool is_forkserver;
    bool helper_main; /* see mpp_core_cfg_t */
    bool own_process;
    int64_t start_ns;      /* CLOCK_REALTIME at process start (or fork) */
    int64_t start_mono_ns; /* CLOCK_MONOTONIC at the same moment */
    int64_t interval_ns;

    /* Delivery. */
    uint64_t seq;
    bool hello_sent;
    uint64_t messages;
    uint64_t send_failures;

    /* The threads' CPU clocks were read for the last time
     * (mpp_core_cpu_final): what the interpreter's finalization uses
     * after that is outside every thread's measured time. */
    bool cpu_final;

    /* Written by mpp_core_note_fork, read by mpp_core_after_fork. */
    bool fork_detached; /* the child's state is its own (mpp_shm.h) */
    int64_t fork_pid;
    int64_t fork_real_ns;
    int64_t fork_mono_ns;
};

/* ---- mpp_batch.c: messages ---------------------------------------------- */

mpp_batch_t *mpp_batch_new(void);
void mpp_batch_destroy(mpp_batch_t **self_p);
size_t mpp_batch_mem(const mpp_batch_t *self);

/* HELLO opens every incarnation; until it is out, it is retried before
 * any other message.  Returns 0 or a negative code. */
int mpp_batch_hello(mpp_core_t *core);

/*  DATA with what changed since the last DATA that went out: the dirty
 *  stats, edges and categories of every thread, ended ones included, the
 *  spans, and the definitions they refer to that were not sent yet.
 *  Dirty flags are cleared, and ended threads freed, only once the
 *  message is queued; if it is not, the next DATA carries it all again.
 *  Without `always`, nothing is sent when nothing changed. */
int mpp_batch_data(mpp_core_t *core, bool always);

int mpp_batch_bye(mpp_core_t *core, mpp_exit_kind_t kind, int32_t code);

/* ---- mpp_core_threads.c: for mpp_batch.c and mpp_core.c ----------------- */

/*  The ended threads' last numbers have just been queued: frees them,
 *  unless an agent reads the mapping, which says itself when it has
 *  read them (mpp_core_free_acked). */
void mpp_core_drop_ended(mpp_core_t *core);

/*  Frees the ended threads whose end serial is at most `upto`
 *  (UINT64_MAX: every one, whatever delivered them). */
void mpp_core_drop_ended_upto(mpp_core_t *core, uint64_t upto);

/*  A cold point's cheap check: when the agent acknowledged more ended
 *  threads than last time (mpp_shm.h, `ack`), frees them. */
void mpp_core_free_acked(mpp_core_t *core);

/*  True when this core's tables are in a file the host's agent can read
 *  (a mapping that is a file: a fork child that could make none keeps
 *  private memory): ended threads then wait for the agent's
 *  acknowledgment and spans form a ring (mpp_shm_root.h, mpp_layout.h),
 *  with no need of the core's own batches.  Whether the core also has a
 *  sink is another question (mpp_core_has_sink): a test's core may have
 *  both. */
bool mpp_core_agent_reads(const mpp_core_t *core);

/* ---- mpp_root.c: the mapping's root record (mpp_shm_root.h) ------------ */

/*  Makes the root record of a core with a mapping.  Returns 0 or
 *  MPP_ENOMEM.  mpp_root_sync brings it up to date (a no-op without a
 *  mapping); mpp_root_end records how this incarnation ended. */
int mpp_root_create(mpp_core_t *core);
void mpp_root_sync(mpp_core_t *core);
/*  mpp_root_sync in two halves, for changes to what the root points to
 *  (the thread list compacted in place): begin makes gen odd, commit
 *  copies the core's fields and makes it even again. */
void mpp_root_begin(mpp_core_t *core);
void mpp_root_commit(mpp_core_t *core);
/*  In a fork child that has a file of its own, at once (atfork): the
 *  root names the child (`pid`, started by `method` at the fork) and
 *  shows no threads and no spans until mpp_core_after_fork starts the
 *  incarnation, so a reader, even the final one of a child killed
 *  before its first event, never takes the parent's numbers for the
 *  child's.  Async-signal-safe. */
void mpp_root_forked(mpp_core_t *core, int64_t pid, const char *method);
void mpp_root_end(mpp_core_t *core, uint32_t kind, int32_t code);

/* ---- mpp_exit.c: process-wide handlers ---------------------------------- */

/*  Registers the fork and exit handlers for `core`, once per process.
 *  Returns 0, or a negative code with a static description in *err;
 *  nothing is registered then. */
int mpp_exit_register(mpp_core_t *core, const char **err);

#endif
