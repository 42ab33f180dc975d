/*  Private to the report and compare writers (mpp_report*.c,
 *  mpp_compare.c): the analysis they share and the helpers of each output
 *  format.
 *
 *  Terms used throughout:
 *
 *  - Thread time.  The model has no thread wall time, so a thread's time
 *    is the sum of its functions' own times (everything the profile hook
 *    saw, as cProfile's total) plus the start-up before the hook started
 *    (mpp_rep_startup_unseen_ns), and at least the sum of its categories.
 *    Every category but start-up is entered by a call the hook sees, so
 *    it lies inside the functions' time; start-up begins at the exec, so
 *    only its later part does.  "Thread-seconds" are these summed over
 *    threads; percentages of "where the time went" use them as the
 *    denominator.  Thread time outside the five categories (time the
 *    hook measured that no category claims) is compute, idle or other
 *    wait: see mpp_rep_rest_t.
 *
 *  - Category roots.  Functions whose call starts a category and ends a
 *    call site (lock.acquire, ForkingPickler.dumps, Connection._recv_bytes,
 *    ...): the ROOT entries of the category catalog (mpp_catalog.h).  A
 *    call site is a caller -> root edge; its time is the edge's cumulative
 *    time, its count the edge's calls.
 *
 *  - Wrappers.  Thin multiprocessing/threading plumbing (Connection.send,
 *    SimpleQueue.get, ApplyResult.wait, ...) between the user's function
 *    and a root: the catalog's WRAPPER entries.  A site's caller is lifted
 *    through a wrapper to the wrapper's caller when, in that thread, all
 *    the wrapper's callers (lifted in turn) are one function, so the site
 *    names pool.py:_handle_tasks rather than connection.py:send; with
 *    several the split is unknown and the wrapper stays the site.  The
 *    catalog's OUTER entries (queue.Queue.get) are neither: they stay the
 *    caller of the sites beneath them.
 */
#ifndef MPP_REPORT_PRIV_H
#define MPP_REPORT_PRIV_H

#include <stdio.h>

#include "mpp_catalog.h"
#include "mpp_report.h"

#define MPP_REP_NOFUNC UINT32_MAX

/* Orders two numbers, the larger first, in a qsort comparison. */
#define MPP_REP_DESC(a, b)                                                    \
    do {                                                                      \
        if ((a) != (b)) {                                                     \
            return (a) > (b) ? -1 : 1;                                        \
        }                                                                     \
    } while (0)

/* ---- function rows (mpp_report.c) -------------------------------------- */

/* One function row; the rows are ranked like pstats.sort_stats. */
typedef struct {
    const mpp_func_t *fn;
    mpp_cost_t cost;
    uint32_t nprocs;
} mpp_rep_row_t;

/* The functions the view saw called, ranked by `sort`: the first `limit`
 * of them (all when 0).  *nrows is how many there are in all, which may be
 * more than the array holds, or 0.  NULL when out of memory. */
mpp_rep_row_t *mpp_rep_rows(const mpp_session_t *s, const mpp_view_t *v,
                            mpp_sort_t sort, size_t limit, size_t *nrows);

/* ---- processes, threads and time (mpp_report_time.c) ------------------ */

void mpp_rep_exit_str(const mpp_proc_t *p, char *buf, size_t size);
bool mpp_rep_proc_lost(const mpp_proc_t *p);
const char *mpp_rep_python(const mpp_session_t *s);

/* Sum of the category times of one thread or process. */
int64_t mpp_rep_cat_ns(const mpp_catval_t cat[MPP_CAT_COUNT]);

/* A thread's functions' costs summed: its calls and its own time. */
mpp_cost_t mpp_rep_thread_cost(const mpp_thread_t *t);

/* The part of a thread's start-up before the hook measured anything (see
 * mpp_report_time.c); 0 for threads without start-up and fork children. */
int64_t mpp_rep_startup_unseen_ns(const mpp_proc_t *p, const mpp_thread_t *t);

/* Thread time as defined above; for a process, summed over threads. */
int64_t mpp_rep_thread_ns(const mpp_proc_t *p, const mpp_thread_t *t);
int64_t mpp_rep_proc_thread_ns(const mpp_proc_t *p);

/*  Process roles, as `compare` counts workers: the main process is the
 *  one the launcher started (start_method "main"); helpers are the
 *  multiprocessing resource tracker, a Manager's server process and the
 *  fork server itself (not the children it forks, which inherit its
 *  command line); every other
 *  process is a worker.  The collector gives the fork server and its
 *  children the same start method and command line, so only their
 *  parents tell them apart: mpp_rep_role_of, with the session, is the
 *  role the reports use; the mpp_rep_is_* functions judge a process
 *  alone (a fork server labelled "forkserver" counts as a worker). */
/*  A process's name in every output: p->name, but "forkserver" or
 *  "resource_tracker" for a helper multiprocessing left "MainProcess";
 *  NULL for a process that has no name. */
const char *mpp_rep_proc_label(const mpp_session_t *s, const mpp_proc_t *p);
bool mpp_rep_is_main(const mpp_proc_t *p);
bool mpp_rep_is_helper(const mpp_proc_t *p);
bool mpp_rep_is_worker(const mpp_proc_t *p);

typedef enum { MPP_REP_MAIN, MPP_REP_WORKER, MPP_REP_HELPER } mpp_rep_role_t;

mpp_rep_role_t mpp_rep_role_of(const mpp_session_t *s, const mpp_proc_t *p);
const char *mpp_rep_role_name(mpp_rep_role_t role);

/* Whether process `i` is in the selection `proc` (all when proc < 0). */
static inline bool
mpp_rep_selected(ssize_t proc, size_t i)
{
    return proc < 0 || (size_t)proc == i;
}

/* Whether the selection holds a worker process. */
bool mpp_rep_has_workers(const mpp_session_t *s, ssize_t proc);
/* Whether the program ran a Manager (its server process, a helper). */
bool mpp_rep_has_manager(const mpp_session_t *s);

/*  Records of one pid (mpp_report_roles.c): an exec makes a new record
 *  of the same process, and the kernel may reuse a pid.  mpp_rep_parent
 *  is the record of c's parent alive when c started (NULL if none);
 *  mpp_rep_image is the record `p` became by exec (p itself if none);
 *  mpp_rep_exec_replaced tells whether p exec'd into a later record, so
 *  that it and its successor count as one process. */
const mpp_proc_t *mpp_rep_parent(const mpp_session_t *s, const mpp_proc_t *c);
const mpp_proc_t *mpp_rep_image(const mpp_session_t *s, const mpp_proc_t *p);
bool mpp_rep_exec_replaced(const mpp_session_t *s, const mpp_proc_t *p);

/*  What a thread's time outside the five categories was: compute (on a
 *  CPU), idle (off it, waiting for work another process does) or other
 *  wait (off it, for no reason the profile knows).
 *
 *  Compute is measured: the collector reads each thread's CPU clock at
 *  category boundaries, periodically and at its end, so a thread's
 *  compute is its CPU time less the CPU time inside categories, within
 *  [0, its time outside categories].  CPU time the process used that no
 *  thread's clock shows (a thread killed after its last read) is on-CPU
 *  time of its threads too, and goes to their off-CPU rest in
 *  proportion; in a process that recorded its own end (exit status ok
 *  or a code) the clocks were read once its program was over, and the
 *  rest is finalization, outside every thread's time.  Where no thread's CPU
 *  time is known (a session file of an older collector) the split is
 *  the old estimate: the process's CPU time over its thread time less
 *  lock and IPC waits (which are off-CPU) is the share of the rest of
 *  each thread's time that was on a CPU.  The off-CPU rest is idle in a helper (the fork server and the resource tracker
 *  wait for requests) and in the main process of a parallel program (it
 *  waits for its workers, e.g. in os.waitpid, which no category claims);
 *  elsewhere it is other wait (a thread blocked in C, or runnable on a
 *  busy machine).  The three add up to thread time less the categories
 *  exactly. */
typedef struct {
    int64_t compute_ns;
    int64_t idle_ns;
    int64_t other_wait_ns;
} mpp_rep_rest_t;

/* The split of a process, summed over its threads, or of one thread of
 * it; `parallel` as in mpp_rep_verdict_t. */
void mpp_rep_proc_rest(const mpp_session_t *s, const mpp_proc_t *p,
                       bool parallel, mpp_rep_rest_t *out);
void mpp_rep_thread_rest(const mpp_session_t *s, const mpp_proc_t *p,
                         const mpp_thread_t *t, bool parallel,
                         mpp_rep_rest_t *out);

/*  Whether a worker runs workers of its own (the middle process of a
 *  nested pool), and whether a process's lock and IPC waits are idle
 *  because it waits for its workers: the main process when the view
 *  holds workers (has_workers), or a pool parent. */
bool mpp_rep_is_pool_parent(const mpp_session_t *s, const mpp_proc_t *p);
bool mpp_rep_waits_for_workers(const mpp_session_t *s, const mpp_proc_t *p,
                               bool has_workers);

/*  Load imbalance (mpp_report_imbalance.c), from one run's workers.
 *
 *  A worker's busy time is its thread time less its start-up, its lock
 *  and IPC waits and its idle time: what it spent on tasks (computing,
 *  pickling, and the off-CPU time no category explains, such as being
 *  runnable on a busy machine).  Its waits are the rest of its thread
 *  time after start-up.  Workers are compared within a gang: the workers
 *  of one parent whose lives overlap in time (one pool, or one batch of
 *  Processes; pools run one after the other make gangs of their own).
 *  In a gang of two or more, a worker's imbalance is how much less busy
 *  it was than the busiest worker, but never more than it waited: idle
 *  while a peer still worked, and not time before it started or after it
 *  ended.  ns is that summed over the gangs' workers; capacity_ns is the
 *  gangs' busy and waiting time, all the workers could have worked. */
typedef struct {
    int64_t ns;
    int64_t capacity_ns;
    uint32_t procs; /* workers with imbalance */
} mpp_rep_imb_t;

void mpp_rep_imbalance(const mpp_session_t *s, ssize_t proc,
                       mpp_rep_imb_t *out);

/* True for the waiting categories (lock wait, IPC wait). */
bool mpp_rep_is_wait(int cat);

/*  Where the time went, over all processes (proc < 0) or one.
 *  main_wait_ns is the lock and IPC wait of the main process when the
 *  view also holds workers, and of every worker running a pool of its own
 *  (mpp_rep_waits_for_workers): the parent waiting for results while
 *  workers compute, which is idle rather than lost, so the leading cost
 *  leaves it out.  pipe_wait_ns is the IPC wait of the other processes when there
 *  are workers, and their lock wait on a multiprocessing queue's read lock
 *  in the queue's get: a worker starved of tasks (in the pipe's read, or
 *  queued behind the peer that is), or blocked sending results to a busy
 *  parent, waits for a cost paid elsewhere (usually serialisation), so it
 *  is idle too and left out as well.  Waits for any other lock held by a
 *  peer stay in: they are the contention itself.  lead_cat is the category
 *  with the most time once those are left out, or -1 when no category has
 *  any time. */
/*  Moving data between processes (mpp_report_moving.c), from the spans
 *  of every thread of the session: a transfer is a send and a receive of
 *  the same number of bytes in two processes of one host, for as long as
 *  both were in them (before, the receiver waited for the message to
 *  begin; after, the sender waited for a reader).  ipc_ns[i] is the IPC
 *  wait of process i that was transfer, as sender or receiver; lock_ns[i]
 *  the lock wait of worker i behind a sibling's transfer (queued on a
 *  queue's read lock while a sibling received a task through it, or on
 *  its write lock while one sent a result), its own receives cut out.
 *  Only waits of at least the collector's span length (1 ms) are spans,
 *  so small messages move no data here. */
typedef struct {
    int64_t *ipc_ns;  /* per process of the session */
    int64_t *lock_ns; /* per process of the session */
    uint32_t transfers;
} mpp_rep_move_t;

/* Returns 0 or MPP_ENOMEM (then `out` holds nothing to free). */
int mpp_rep_moving(const mpp_session_t *s, mpp_rep_move_t *out);
void mpp_rep_moving_free(mpp_rep_move_t *m);

typedef struct {
    int64_t thread_ns;
    int64_t cat_ns;
    mpp_catval_t cat[MPP_CAT_COUNT];
    int64_t main_wait_ns;
    int64_t pipe_wait_ns;
    int64_t lead_ns[MPP_CAT_COUNT];    /* cat[c].ns less main waits */
    uint32_t lead_procs[MPP_CAT_COUNT]; /* processes with lead_ns[c] > 0 */
    int lead_cat;
    /* Moving data (mpp_rep_move_t): the transfers' IPC wait at both ends
     * and the lock wait queued behind them, taken out of the buckets
     * above and ranked with pickling and unpickling; move_procs is the
     * number of processes with any of the four. */
    int64_t transfer_ns;
    int64_t behind_ns;
    uint32_t move_procs;
    bool has_workers;
    bool parallel;          /* the program (not the selection) had workers */
    bool manager;           /* the program ran a Manager */
    /* Lock and IPC wait of helpers (a Manager's server between requests,
     * the fork server): waiting for work, so never the leading cost. */
    int64_t helper_wait_ns;
    /* Start-up on a CPU, from each thread's CPU clock (its CPU time
     * inside categories less pickling and unpickling, within start-up's
     * length), or where none is known each process's start-up times its
     * share of time on a CPU; what the leading cost weighs start-up by
     * (mpp_rep_lead_rank). */
    int64_t startup_on_ns;
    mpp_rep_rest_t rest;    /* compute, idle, other wait of the selection */
    mpp_rep_imb_t imb;      /* load imbalance of the selection's workers */
    uint32_t compute_procs; /* processes with compute */
    uint32_t pool_parents;  /* workers running workers of their own */
} mpp_rep_time_t;

void mpp_rep_time(const mpp_session_t *s, ssize_t proc, mpp_rep_time_t *out);

/* Whether moving data had at least two of its parts (pickling,
 * unpickling, transfers with the waits behind them): its verdict is then
 * "serialisation", and the text report names it moving data. */
bool mpp_rep_moving_data(const mpp_rep_time_t *tm);

/* The weight a category's time has when choosing the leading cost. */
int64_t mpp_rep_lead_rank(const mpp_rep_time_t *tm, int cat);

/*  The verdict both reports print: what the time went to most, of
 *  compute and the costs the leading cost weighs (mpp_rep_time_t: idle
 *  waits left out; pickling and unpickling ranked together).
 *
 *  lead is MPP_REP_LEAD_COMPUTE, MPP_REP_LEAD_IMBALANCE (mpp_rep_imb_t;
 *  when it leads is told at mpp_rep_verdict), a category (mpp_cat_t),
 *  or -1 when no time was measured; name is the design's key ("serialisation" when
 *  both halves had time).  share is ns over the thread time.  A program
 *  that ran no worker is not parallel, and its hint never speaks of
 *  workers. */
#define MPP_REP_LEAD_COMPUTE MPP_CAT_COUNT
#define MPP_REP_LEAD_IMBALANCE (MPP_CAT_COUNT + 1)
typedef struct {
    int lead;
    const char *name;
    int64_t ns;
    double share;
    bool parallel;
    const char *hint; /* one sentence without "Hint: ", or NULL */
} mpp_rep_verdict_t;

void mpp_rep_verdict(const mpp_rep_time_t *tm, mpp_rep_verdict_t *out);

/* ---- what every report starts from (mpp_report.c) ---------------------- */

/* What the text and JSON reports start from. */
typedef struct {
    mpp_report_opts_t o; /* the caller's options, or the defaults */
    size_t limit;        /* o.limit, else the format's default (0: all) */
    mpp_view_t *v;       /* the view of o.proc */
    mpp_rep_row_t *rows; /* its first `limit` rows (see mpp_rep_rows) */
    size_t nrows;        /* how many rows there are in all */
    mpp_rep_time_t tm;   /* where the time went in o.proc */
} mpp_rep_t;

/*  Checks the arguments of a report function (o may be NULL) and fills
 *  r.  Returns 0, or MPP_EINVAL or MPP_ENOMEM with nothing to free. */
int mpp_rep_begin(mpp_rep_t *r, const mpp_session_t *s,
                  const mpp_report_opts_t *o, size_t default_limit,
                  FILE *out);

/*  Frees what mpp_rep_begin made.  Returns rc, else -EIO when `out` has
 *  seen a write error, else 0: what the report function returns. */
int mpp_rep_end(mpp_rep_t *r, int rc, FILE *out);

/* ---- category roots and call sites (mpp_report_sites.c) ---------------- */

/* A root is a catalog entry of role MPP_ROLE_ROOT. */
typedef mpp_catalog_entry_t mpp_rep_root_t;

/* The root `f` is, or NULL: the catalog's entry when it is a ROOT. */
const mpp_rep_root_t *mpp_rep_root(const mpp_func_t *f);

/* Whether `f` is a wrapper sites are lifted through (the catalog's
 * WRAPPER entries, whether or not they have a category). */
bool mpp_rep_is_wrapper(const mpp_func_t *f);

/* flag(entry) of every function the catalog knows, 0 for the others, in
 * an array by session function id; NULL when out of memory. */
uint8_t *mpp_rep_func_flags(const mpp_session_t *s,
                            uint8_t (*flag)(const mpp_catalog_entry_t *e));

/*  A call site of a category: caller -> root, merged over threads and
 *  processes.  callee is MPP_REP_NOFUNC for a site only spans know of.
 *  Count and time come from edges (spans only when no edge matches);
 *  bytes come from spans, the only carrier of sizes. */
typedef struct {
    uint32_t cat;
    uint32_t caller;
    uint32_t callee;
    uint64_t count;
    int64_t ns;
    uint64_t bytes;
    int64_t *pids; /* ascending order of first appearance */
    size_t npids, cappids;
} mpp_rep_site_t;

/* Sites grouped by category, each group ordered by time, most first:
 * group c is site[first[c]] .. site[first[c + 1] - 1]. */
typedef struct {
    mpp_rep_site_t *site;
    size_t n, cap;
    size_t first[MPP_CAT_COUNT + 1];
} mpp_rep_sites_t;

/*  Collects the sites of all processes (proc < 0) or one.  With
 *  skip_main_waits, lock and IPC waits of the main process are left out
 *  when workers exist, as for the leading cost.  Returns 0 or
 *  MPP_ENOMEM; *out must be freed with mpp_rep_sites_free either way. */
int mpp_rep_sites(const mpp_session_t *s, ssize_t proc, bool skip_main_waits,
                  mpp_rep_sites_t *out);
void mpp_rep_sites_free(mpp_rep_sites_t *sites);

/* The callee of a site as people know it, "?" when only spans know it. */
const char *mpp_rep_site_via(const mpp_session_t *s,
                             const mpp_rep_site_t *site);

/* ---- text helpers (mpp_report_fmt.c) ----------------------------------- */

#define MPP_REP_WIDTH 100 /* columns of every line the text outputs lay out */

/*  Safe text: names come from the profiled program, so invalid UTF-8
 *  becomes U+FFFD and control characters '?'; a name can neither garble
 *  the terminal nor differ from what pstats shows.  NULL prints "?". */
void mpp_rep_txt(FILE *out, const char *text);

/* A function as pstats.func_std_string prints it: builtins ("~", 0) as
 * {name}, else file:line(name); safe text. */
void mpp_rep_txt_func(FILE *out, const mpp_func_t *f);

/*  Writes safe text into buf, at most `cols` characters (code points),
 *  ending in an ellipsis when cut; buf must hold 4 * cols + 4 bytes.
 *  Returns the characters written. */
size_t mpp_rep_clip(char *buf, size_t size, const char *text, size_t cols);

/* Safe text in a column of `cols` (<= MPP_REP_WIDTH) characters, clipped
 * or padded. */
void mpp_rep_col(FILE *out, const char *text, size_t cols);

/*  A short function name for tables: "pool.py:528(_handle_tasks)", the
 *  directory dropped, or "{built-in method ...}"; with line false,
 *  "pool.py:_handle_tasks".  Not yet made safe: pass it to mpp_rep_clip. */
void mpp_rep_short_func(char *buf, size_t size, const mpp_func_t *f,
                        bool line);

/*  Prints safe text as a paragraph: words wrap before column 100 and
 *  continuation lines are indented by `indent` spaces; leading spaces
 *  stay.  MPP_REP_NBSP joins words that must stay on one line (safe text
 *  never holds it: control characters become '?'); mpp_rep_nbsp turns
 *  the spaces of an item into it. */
#define MPP_REP_NBSP "\x1f"
void mpp_rep_para(FILE *out, const char *text, int indent);
void mpp_rep_nbsp(char *item);

/* Appends to a fixed buffer; output beyond its end is dropped. */
void mpp_rep_add(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline double
mpp_rep_sec(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Numbers for people: "1.62 s", "15 ms", "240 us" (three significant
 * digits at most); "240.0 MB" (decimal units, as pipe sizes are); "22%",
 * "<1%" for a little more than nothing. */
void mpp_rep_fmt_secs(char *buf, size_t size, double sec);
void mpp_rep_fmt_bytes(char *buf, size_t size, uint64_t bytes);
void mpp_rep_pct(char *buf, size_t size, int64_t part, int64_t whole);

/* ---- the text report (mpp_report_text.c) ------------------------------- */

/* A one-sentence hint for a leading category, or NULL; `parallel` as in
 * mpp_rep_verdict_t. */
const char *mpp_rep_hint(int cat, bool parallel);
/* The hint for IPC wait when the program ran a Manager. */
const char *mpp_rep_manager_hint(void);

/* ---- JSON helpers (mpp_report_fmt.c) ----------------------------------- */

/* A JSON string; NULL as null; invalid UTF-8 as \ufffd. */
void mpp_rep_json_str(FILE *out, const char *text);

/* Seconds from integer nanoseconds, printed exactly. */
void mpp_rep_json_secs(FILE *out, int64_t ns);

/* The shortest decimal that reads back as the same double; null when the
 * number is not finite (JSON has no NaN). */
void mpp_rep_json_num(FILE *out, double x);

#endif
