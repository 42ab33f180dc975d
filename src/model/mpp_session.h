/*  The session model: everything known about one profiled run, as the
 *  aggregator builds it from messages (src/aggregator/mpp_apply.c) and as
 *  the session file stores it.
 *  Output writers read it, usually through a view (mpp_view_t), which sums
 *  it over all processes and threads or over one process.
 *
 *  These structs are plain data on purpose: the writers walk them directly.
 *  Only the functions declared here add processes, threads, functions,
 *  stats and edges, so the indexes stay consistent with the arrays.
 */
#ifndef MPP_SESSION_H
#define MPP_SESSION_H

#include "mpp_internal.h"

typedef struct mpp_map mpp_map_t; /* uint64 key -> uint32 value, private */

/* A function, interned once per session; its index is its id. */
typedef struct {
    char *file; /* "~" for builtins */
    int32_t line;
    char *name;
} mpp_func_t;

typedef struct {
    uint32_t func;
    mpp_cost_t cost;
} mpp_fstat_t;

typedef struct {
    uint32_t caller;
    uint32_t callee;
    mpp_cost_t cost; /* the callee's time when called from caller */
} mpp_edge_t;

typedef struct {
    uint32_t cat;
    uint32_t func; /* session function id, UINT32_MAX if unknown */
    int64_t start_ns;
    int64_t dur_ns;
    uint64_t bytes;
} mpp_span_t;

typedef struct {
    uint64_t tid;
    char *name;
    mpp_fstat_t *stats;
    size_t nstats, capstats;
    mpp_edge_t *edges;
    size_t nedges, capedges;
    mpp_catval_t cat[MPP_CAT_COUNT];
    /* The thread's CPU time (its CPU clock, read by the collector at
     * category boundaries, about every 10 ms of its events and at its
     * end) and the part of it inside category intervals,
     * 0 <= cpu_cat_ns <= cpu_ns; unknown without has_cpu (an older
     * collector or session file). */
    bool has_cpu;
    int64_t cpu_ns;
    int64_t cpu_cat_ns;
    mpp_span_t *spans;
    size_t nspans, capspans;
    /* Made on the first stat or edge, so a thread that has none (one a
     * frame only names) costs its struct and nothing more. */
    mpp_map_t *stat_ix; /* func -> index in stats */
    mpp_map_t *edge_ix; /* caller << 32 | callee -> index in edges */
} mpp_thread_t;

typedef struct {
    int64_t pid;
    int64_t ppid;
    /* Where the process ran, as its agent named the host, and its rank
     * when the launcher gave one (MPI, Slurm): NULL and false for a run
     * on one host, whose processes all ran where the report is made.
     * A process is known by host, pid and start time. */
    char *host;
    bool ranked;
    int64_t rank;
    char *worker; /* a Dask worker's name (--name), or NULL */
    /* What was added to the host's times to put them on the collector's
     * clock, and how wrong that may be (clocked: measured). */
    bool clocked;
    int64_t clock_offset_ns;
    int64_t clock_err_ns;
    char *name;         /* multiprocessing name, e.g. "ForkPoolWorker-2" */
    char *start_method; /* main | fork | spawn | forkserver | exec */
    char *python;
    char **argv;
    size_t argc;
    int64_t start_ns; /* CLOCK_REALTIME */
    int64_t wall_ns;
    int64_t cpu_ns;
    uint64_t dropped; /* events the collector could not record */
    uint64_t mem_bytes;
    uint64_t messages;
    uint64_t next_seq; /* the seq expected next */
    bool hello;
    uint32_t exit_kind; /* mpp_exit_kind_t */
    int32_t exit_code;
    mpp_thread_t *threads;
    size_t nthreads, capthreads;
    mpp_map_t *thread_ix; /* tid -> index in threads, private */
    /* The process's own function ids (wire fids) -> session function ids,
     * UINT32_MAX for none: an array for the ids below nfid_dense, a map
     * for the others.  The aggregator fills both (mpp_apply.c) and sizes
     * them by the definitions received; the model only frees them. */
    uint32_t *fid_dense;
    size_t nfid_dense;
    size_t nfid_defs; /* definitions received */
    mpp_map_t *fid_ix;
} mpp_proc_t;

typedef struct {
    uint64_t messages;
    uint64_t rejected;
    uint64_t seq_gaps;
    uint64_t processes_lost;
    uint64_t dropped_events;
    /* Connections whose handshake failed (mpprof collect: a wrong server
     * key, or no encryption where it is required). */
    uint64_t refused;
} mpp_integrity_t;

typedef struct {
    char *mpprof_version;
    char *python;
    char **command;
    size_t ncommand;
    int64_t start_ns; /* CLOCK_REALTIME */
    int64_t wall_ns;
    int32_t exit_status; /* as `mpprof run` exits: code, or 128+signal */
    mpp_integrity_t integrity;
    mpp_func_t *funcs;
    size_t nfuncs, capfuncs;
    mpp_proc_t *procs;
    size_t nprocs, capprocs;
    mpp_map_t *func_ix; /* hash of (file, line, name) -> chain, private */
    /* Set by `mpprof collect` before anything arrives: files of Python's
     * own library and of installed packages are interned by module
     * (mpp_apply.c), so the same file merges across hosts whose install
     * prefixes differ.  Not stored: the names are. */
    bool by_module;
} mpp_session_t;

mpp_session_t *mpp_session_new(void);
void mpp_session_destroy(mpp_session_t **self_p);

/* Sets the command (copied). Returns 0 or MPP_ENOMEM. */
int mpp_session_set_command(mpp_session_t *self, char *const *argv,
                            size_t argc);

/* Returns the id of (file, line, name), adding it if new, or MPP_ENOMEM. */
int64_t mpp_session_intern(mpp_session_t *self, const char *file,
                           int32_t line, const char *name);

/* Replaces a process's argv with a copy.  Returns 0 or MPP_ENOMEM (the
 * old argv is then kept). */
int mpp_proc_set_argv(mpp_proc_t *proc, const char *const *argv,
                      size_t argc);

/* Finds the process with `pid`; adds one when `create`. NULL if absent or
 * out of memory.  Pointers are invalidated by the next added process. */
mpp_proc_t *mpp_session_proc(mpp_session_t *self, int64_t pid, bool create);

/* Index of the newest process with `pid` on `host` (NULL: none named),
 * or -1: pids are per host, so two hosts may both have a pid 42. */
ssize_t mpp_session_proc_index_on(const mpp_session_t *self,
                                  const char *host, int64_t pid);

/*  Keeps only the processes for which keep(proc, arg) is true, in their
 *  order, and frees the others.  Returns how many are kept. */
size_t mpp_session_keep(mpp_session_t *self,
                        bool (*keep)(const mpp_proc_t *proc, void *arg),
                        void *arg);

/* Appends a new process even if `pid` is known: with pid reuse, a new
 * incarnation is a different process.  NULL when out of memory. */
mpp_proc_t *mpp_session_add_proc(mpp_session_t *self, int64_t pid);

/* Index of the newest process with `pid`, or -1. */
ssize_t mpp_session_proc_index(const mpp_session_t *self, int64_t pid);

/* Same for threads of a process (a hash lookup, so a process may have
 * many).  Pointers are invalidated by the next added thread. */
mpp_thread_t *mpp_proc_thread(mpp_proc_t *proc, uint64_t tid, bool create);

/* Replace (set) or accumulate (add) one function's or edge's cost. */
int mpp_thread_set_stat(mpp_thread_t *t, uint32_t func, const mpp_cost_t *c);
int mpp_thread_set_edge(mpp_thread_t *t, uint32_t caller, uint32_t callee,
                        const mpp_cost_t *c);
int mpp_thread_add_span(mpp_thread_t *t, const mpp_span_t *span);

/* Total calls of a process, summed over its threads. */
uint64_t mpp_proc_calls(const mpp_proc_t *proc);

/* Category totals of a process, summed over its threads. */
void mpp_proc_cats(const mpp_proc_t *proc, mpp_catval_t out[MPP_CAT_COUNT]);

/*  A view: the session summed over all processes (proc < 0) or over one.
 *  Arrays are indexed by session function id. */
typedef struct {
    size_t nfuncs;
    mpp_cost_t *func;  /* per function, summed */
    uint32_t *nprocs;  /* processes in which the function was called */
    mpp_edge_t *edges; /* summed, sorted by (callee, caller) */
    size_t nedges;
    mpp_catval_t cat[MPP_CAT_COUNT];
    uint64_t total_calls;
    int64_t total_tt_ns;
} mpp_view_t;

mpp_view_t *mpp_view_new(const mpp_session_t *session, ssize_t proc);
void mpp_view_destroy(mpp_view_t **self_p);

const char *mpp_cat_name(mpp_cat_t cat);     /* "pickle", "lock_wait", ... */
const char *mpp_exit_kind_name(uint32_t kind); /* "ok", "exit", ... */

#endif
