/*  The process-wide collector: identity, threads, batching, fork and exit.
 *
 *  One core exists per process and lives until the process ends: Python's
 *  finalization must not free it, because the on_exit handler sends the
 *  final DATA and BYE after finalization.  Nothing here calls Python, so
 *  every path works at that point too; what only Python knows (the
 *  multiprocessing process name, the current thread) is handed in.
 *
 *  Fork: a pthread_atfork child handler only records the new pid and the
 *  time and raises MPP_CORE_FORKED; the next event (or any entry point)
 *  then calls mpp_core_after_fork(), which starts a new incarnation.
 */
#ifndef MPP_CORE_H
#define MPP_CORE_H

#include "mpp_internal.h"

#include <signal.h>

#include "mpp_clock.h"
#include "mpp_funcs.h"
#include "mpp_sender.h"
#include "mpp_tstate.h"

/* Bits of mpp_core_t.hot, which the hook tests at every event. */
#define MPP_CORE_FORKED 0x1u /* a fork happened and the reset is pending */
#define MPP_CORE_DONE 0x2u   /* BYE sent: events are ignored from now on */

typedef struct {
    const char *endpoint;
    const char *token;
    int interval_ms;
    int linger_ms;
    bool test_clock; /* MPPROF_TEST_CLOCK=1 */
    bool allow_tsc;  /* false with MPPROF_CLOCK=mono */
    int64_t ppid;
    const char *start_method; /* main | spawn | forkserver | exec */
    bool is_forkserver;       /* this is multiprocessing's fork server */
    const char *python;       /* "3.11.7" */
    const char *const *argv;
    size_t argc;
    const char *name; /* multiprocessing process name */
} mpp_core_cfg_t;

/*  The fields above the line are read by the hook at every event; the
 *  rest belongs to mpp_core.c. */
typedef struct mpp_core {
    unsigned hot;      /* MPP_CORE_* */
    int64_t deadline;  /* next periodic DATA, in event clock ticks */
    mpp_clock_t clock; /* tables hold its ticks; see mpp_clock_ns() */
    mpp_funcs_t *funcs;
    /* ------------------------------------------------------------------ */
    mpp_tstate_t **threads;
    size_t nthreads;
    size_t capthreads;
    mpp_sender_t *sender;
    mpp_buf_t buf; /* encoded message, reused */

    /* Scratch arrays for building a DATA message, reused. */
    mpp_wthread_t *wthreads;
    size_t capwthreads;
    mpp_wstat_t *wstats;
    size_t capwstats;
    mpp_wedge_t *wedges;
    size_t capwedges;
    mpp_wfunc_t *wfuncs;
    size_t capwfuncs;

    /* Identity of this incarnation. */
    char *endpoint;
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
    int64_t start_ns;      /* CLOCK_REALTIME at process start (or fork) */
    int64_t start_mono_ns; /* CLOCK_MONOTONIC at the same moment */
    int64_t interval_ns;
    int linger_ms;

    /* Delivery. */
    uint64_t seq;
    bool hello_sent;
    bool sender_failed; /* could not create a socket: stop trying */
    uint64_t messages;
    uint64_t send_failures; /* EAGAIN or other send errors */
    uint64_t encode_failures;

    /* Written by the atfork child handler, read by mpp_core_after_fork. */
    int64_t fork_pid;
    int64_t fork_real_ns;
    int64_t fork_mono_ns;
} mpp_core_t;

/* Returns NULL when out of memory.  Every string in cfg is copied. */
mpp_core_t *mpp_core_new(const mpp_core_cfg_t *cfg);

/*  Frees a core that was never started, or whose start failed.  A started
 *  core is referred to by the exit and fork handlers and is never freed. */
void mpp_core_destroy(mpp_core_t **self_p);

/*  Connects, sends HELLO and registers the fork and exit handlers.  After
 *  this the core must live until the process ends.  Returns 0, or a
 *  negative code with a static description in *err. */
int mpp_core_start(mpp_core_t *self, const char **err);

/*  A table for a thread seen for the first time; NULL when out of memory.
 *  The caller links it to the Python object passed to the hook and calls
 *  mpp_core_release_thread() when that object dies. */
mpp_tstate_t *mpp_core_add_thread(mpp_core_t *self, uint64_t tid,
                                  const char *name);
void mpp_core_release_thread(mpp_core_t *self, mpp_tstate_t *thread);

/*  Starts the new incarnation after a fork if one is pending: numbers
 *  zeroed, definitions unsent, every thread but `current` (may be NULL)
 *  forgotten, the parent's socket abandoned, HELLO sent from the new pid.
 *  Cheap when no fork is pending. */
void mpp_core_after_fork(mpp_core_t *self, mpp_tstate_t *current);

/*  While the collector's Python-level handler has SIGTERM: puts a C
 *  handler in front of Python's that makes sure the Python handler really
 *  runs (a signal landing just before the main thread blocks in C would
 *  otherwise be stuck), or else ends the process with the default action
 *  after 5 s.  Call from the main thread.  Returns false when SIGTERM is
 *  not handled by Python right now. */
bool mpp_core_sigterm_install(void);

/* Stops the re-sending once the Python handler runs or Python exits. */
void mpp_core_sigterm_disarm(void);

/*  In a fork child, from an at-fork callback (after Python's own signal
 *  reset): a new timer for this thread, and a SIGTERM that arrived before
 *  the reset is sent again. */
void mpp_core_sigterm_after_fork(void);

/* Updates the process name carried by DATA; NULL is ignored. */
void mpp_core_set_name(mpp_core_t *self, const char *name);

/*  Sends a DATA message with what changed since the last one, and sets
 *  the next deadline.  Returns 0 or a negative code. */
int mpp_core_flush(mpp_core_t *self);

/*  The end of this incarnation: closes open frames on every thread, sends
 *  the final DATA and BYE, and closes the socket waiting at most the
 *  linger time (one warning line on stderr when that ran out).  Events are
 *  ignored afterwards.  Safe to call more than once. */
void mpp_core_finish(mpp_core_t *self, mpp_exit_kind_t kind,
                     int32_t exit_code);

/*  From now until the process ends, SIGTERM, SIGINT and SIGHUP whose
 *  action is the default are held: the first one is recorded, reported in
 *  BYE, and takes its default action once the final batch is out; a
 *  second one takes effect at once.  Parents often signal children that
 *  are already exiting (Pool.terminate() and workers that just got their
 *  stop sentinel), and Python drops its handlers early in finalization, so
 *  without this the default action would cut the last batch off.  Call it
 *  when Python no longer handles these signals itself. */
void mpp_core_hold_signals(void);

/*  Flushes what changed and closes the socket (waiting at most the linger
 *  time); the next message opens a new one.  For code about to close
 *  every descriptor, ZeroMQ's among them. */
void mpp_core_disconnect(mpp_core_t *self);

/*  After mpp_core_finish, when the process goes on after all (an exec that
 *  failed): a new incarnation under the same pid, numbers from zero, HELLO
 *  again.  Every thread keeps its (now empty) tables. */
void mpp_core_restart(mpp_core_t *self);

/* Bytes of memory the collector holds. */
size_t mpp_core_mem(const mpp_core_t *self);

/* Events dropped so far, all threads included. */
uint64_t mpp_core_dropped(const mpp_core_t *self);

#endif
