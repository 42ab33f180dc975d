/*  The collector core: one per profiled process, pure C.
 *
 *  It owns the per-thread tables (mpp_tstate.h), the function registry
 *  (mpp_funcs.h) and the categories (mpp_cats.h), and turns them into
 *  messages (mpp_msg_t, include/mpprof/wire.h) that it hands to a sink.
 *  It knows neither Python nor the transport: what only Python can do
 *  (measure the bytes of an object, name a function or the process) is
 *  done by the collector module, which passes results in or supplies
 *  callbacks, and where messages go is the sink's business (ZeroMQ today,
 *  a shared mapping next).  So the core is unit-tested without libpython
 *  (tests/unit/test_core.c).
 *
 *  One core exists per process and lives until the process ends: Python's
 *  finalization must not free it, because the on_exit handler sends the
 *  final DATA and BYE after finalization.  Nothing here calls Python, so
 *  every path works at that point too.
 *
 *  Fork: a pthread_atfork child handler only records the new pid and the
 *  time and raises MPP_CORE_FORKED; the next event (or any entry point)
 *  then calls mpp_core_after_fork(), which starts a new incarnation.
 *
 *  Threads: each table gets an identity of its own, unique within the
 *  process incarnation, which is what DATA carries as the thread id: the
 *  kernel's thread id in the low 32 bits and a serial number in the high
 *  32 (0 for the first thread, so the main thread's id reads as the
 *  kernel's).  The kernel reuses thread ids; the serial keeps two threads
 *  that had the same id apart.  A thread that has ended is sent with the
 *  next batch and then freed; when the host's agent reads the core's
 *  mapping, it stays there instead until the agent acknowledges it has
 *  read it (mpp_shm_root.h), and is freed at the next cold point.  Its
 *  numbers stay in one merged table for snapshots.
 *
 *  The core's state is opaque except for mpp_core_hot_t, which the hook
 *  reads at every event.
 */
#ifndef MPP_CORE_H
#define MPP_CORE_H

#include "mpp_internal.h"

#include "mpp_clock.h"
#include "mpp_funcs.h"
#include "mpp_tstate.h"

/* Bits of mpp_core_hot_t.hot, which the hook tests at every event. */
#define MPP_CORE_FORKED 0x1u /* a fork happened and the reset is pending */
#define MPP_CORE_DONE 0x2u   /* BYE sent: events are ignored from now on */

typedef struct mpp_core mpp_core_t;

/* What the hook reads at every event; the first member of the core. */
typedef struct {
    unsigned hot;      /* MPP_CORE_* */
    int64_t deadline;  /* next batch is due, in clock ticks */
    mpp_clock_t clock; /* tables hold its ticks; see mpp_clock_ns() */
    mpp_funcs_t *funcs;
} mpp_core_hot_t;

static inline mpp_core_hot_t *
mpp_core_hot(mpp_core_t *core)
{
    return (mpp_core_hot_t *)(void *)core;
}

/*  Where messages go.  The core opens the sink before its first message
 *  (and again after mpp_core_disconnect), sends each message at most once
 *  and never blocks on it: send returns 0 once the message is queued, or
 *  a negative code when it was not (the core then sends what it held
 *  again with the next batch, which is cumulative).  close waits at most
 *  the sink's own bound for delivery and returns true when that ran out.
 *  abandon, in a fork child, forgets the parent's channel without
 *  touching it; mem counts the sink's own memory in the core's.  The
 *  message and everything it points to are borrowed for the duration of
 *  send. */
typedef struct {
    void *ctx;
    const char *where; /* "at <endpoint> within <n> ms", for a warning */
    int (*open)(void *ctx, const char **err);
    int (*send)(void *ctx, const mpp_msg_t *msg);
    bool (*close)(void *ctx);
    void (*abandon)(void *ctx);
    size_t (*mem)(const void *ctx); /* bytes it holds; may be NULL */
} mpp_sink_t;

/*  What only the language runtime can measure: the bytes moved by a call
 *  of a category function (mpp_cats.h), from its return value or from its
 *  argument `buf` in the frame that starts.  Both get the opaque pointers
 *  the hook passed to mpp_tstate_enter_ex/leave_ex and must not fail;
 *  either may be NULL (nothing is measured). */
typedef struct {
    void *ctx;
    uint64_t (*ret_bytes)(void *ctx, void *retval);
    uint64_t (*arg_bytes)(void *ctx, void *frame);
} mpp_measure_t;

typedef struct {
    const char *token;
    int interval_ms;
    bool test_clock; /* MPPROF_TEST_CLOCK=1 */
    bool allow_tsc;  /* false with MPPROF_CLOCK=mono */
    int64_t ppid;
    const char *start_method; /* main | spawn | forkserver | exec */
    bool is_forkserver;       /* this is multiprocessing's fork server */
    /* A multiprocessing helper run as `-c "from ... import main;
     * main(...)"` (the fork server, the resource tracker): its start-up
     * goes on through the -c code's imports until main() is called. */
    bool helper_main;
    const char *python;       /* "3.11.7" */
    const char *const *argv;
    size_t argc;
    const char *name;    /* multiprocessing process name */
    int64_t span_min_us; /* shortest category interval kept as a span;
                            0: the default, 1000 */
    /* A directory for the shared mapping that holds the tables
     * (mpp_shm.h), named p<pid>-<start>.mpp; NULL keeps them in private
     * memory.  A fork child moves to a mapping of its own there. */
    const char *shm_dir;
    /*  Where messages go.  A sink without `send` (all members zero) means
     *  the core sends nothing at all: the host's agent reads its mapping
     *  (src/agent/), so the process needs no socket, no thread and no
     *  signal handler.  The core then refuses to start without a mapping
     *  in shm_dir, since nothing else could carry its numbers. */
    mpp_sink_t sink;
    mpp_measure_t measure;
    /* Register the process's exit and fork handlers at start (the
     * collector does; unit tests drive those paths themselves). */
    bool own_process;
} mpp_core_cfg_t;

/* Returns NULL when out of memory.  Every string in cfg is copied. */
mpp_core_t *mpp_core_new(const mpp_core_cfg_t *cfg);

/*  Frees a core that was never started, or whose start failed, or (in
 *  unit tests) one started without own_process.  A core started with
 *  own_process is referred to by the exit and fork handlers and is never
 *  freed. */
void mpp_core_destroy(mpp_core_t **self_p);

/*  Opens the sink, sends HELLO and, with own_process, registers the fork
 *  and exit handlers.  Nothing can fail after the first message has gone
 *  out.  Returns 0, or a negative code with a static description in *err. */
int mpp_core_start(mpp_core_t *self, const char **err);

/*  A table for a thread seen for the first time (kernel id `ktid`); NULL
 *  when out of memory.  The caller links it to the object passed to the
 *  hook and calls mpp_core_release_thread() when the thread ends. */
mpp_tstate_t *mpp_core_add_thread(mpp_core_t *self, uint32_t ktid,
                                  const char *name);

/*  The thread ends: frames it still has open end now, its numbers go out
 *  with the next batch, and its table is freed once they have.  When many
 *  ended threads are waiting, the next event sends the batch at once, so
 *  their memory stays bounded however fast threads come and go.  With
 *  the agent reading the mapping, no batch is involved: the table is
 *  marked ended and freed at a cold point (a thread starting or ending,
 *  a flush) once the agent's acknowledgment covers it. */
void mpp_core_release_thread(mpp_core_t *self, mpp_tstate_t *thread);

/*  Starts the new incarnation after a fork if one is pending: numbers
 *  zeroed, definitions unsent, every thread but `current` (may be NULL)
 *  forgotten, the parent's channel abandoned, HELLO sent from the new pid.
 *  Cheap when no fork is pending. */
void mpp_core_after_fork(mpp_core_t *self, mpp_tstate_t *current);

/*  Fork, for the atfork handlers (and for tests around their own fork()):
 *  prepare in the parent before, parent in the parent after, note_fork in
 *  the child at once.  With a shared mapping, prepare copies the state as
 *  it is at the fork and note_fork puts that copy in the child's private
 *  memory (mpp_shm.h), so the child never writes its parent's mapping;
 *  both allocate, so they are not async-signal-safe then.  note_fork also
 *  records the new pid and the time.  A test may skip prepare: the child
 *  then copies the mapping as it finds it. */
void mpp_core_fork_prepare(mpp_core_t *self);
void mpp_core_fork_parent(mpp_core_t *self);
void mpp_core_note_fork(mpp_core_t *self);

/* Updates the process name carried by DATA; NULL is ignored. */
void mpp_core_set_name(mpp_core_t *self, const char *name);

/*  Sends a DATA message with what changed since the last one, and sets
 *  the next deadline.  Returns 0 or a negative code. */
int mpp_core_flush(mpp_core_t *self);

/*  Reads every thread's CPU clock for the last time: the program is over
 *  (its exit handlers have run) and what the interpreter's finalization
 *  uses next (freeing every object: after a fork, a copy-on-write fault
 *  per page) lies outside every thread's measured time, so it must not
 *  count as any thread's compute.  A fork child reads again. */
void mpp_core_cpu_final(mpp_core_t *self);

/*  The end of this incarnation: closes open frames on every thread, sends
 *  the final DATA and BYE, and closes the sink (one warning line on
 *  stderr when its delivery wait ran out).  Events are ignored afterwards.
 *  Safe to call more than once. */
void mpp_core_finish(mpp_core_t *self, mpp_exit_kind_t kind,
                     int32_t exit_code);

/*  Flushes what changed and closes the sink; the next message opens it
 *  again.  For code about to close every descriptor. */
void mpp_core_disconnect(mpp_core_t *self);

/*  After mpp_core_finish, when the process goes on after all (an exec that
 *  failed): a new incarnation under the same pid, numbers from zero, HELLO
 *  again.  Every thread keeps its (now empty) tables. */
void mpp_core_restart(mpp_core_t *self);

/* False when the core sends nothing and the host's agent reads its
 * mapping instead (a sink without `send`, see mpp_core_cfg_t). */
bool mpp_core_has_sink(const mpp_core_t *self);

/* Bytes of memory the core holds. */
size_t mpp_core_mem(const mpp_core_t *self);

/* Events dropped so far, all threads included. */
uint64_t mpp_core_dropped(const mpp_core_t *self);

/* The core's own counters, for introspection. */
typedef struct {
    int64_t pid;
    int64_t ppid;
    const char *start_method;
    const char *name;
    uint64_t seq;
    uint64_t messages;
    uint64_t send_failures;
    uint64_t dropped;
    uint32_t functions;
    size_t threads; /* tables held: live threads and ended ones not sent */
    bool done;
} mpp_core_info_t;

void mpp_core_info(const mpp_core_t *self, mpp_core_info_t *out);

/*  The tables whose numbers make up this incarnation's profile, for
 *  snapshots: the i-th, or NULL past the last.  Ended threads appear
 *  merged into one table. */
const mpp_tstate_t *mpp_core_table(const mpp_core_t *self, size_t i);

#endif
