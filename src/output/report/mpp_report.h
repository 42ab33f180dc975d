/*  The reports people read: the text report (`run`'s summary and
 *  report.txt), `report --json`, and `mpprof compare`.  They know the
 *  session model and stdio, nothing of the file writers, ZeroMQ or
 *  Python.  Each writes to a FILE the caller opened and returns 0 or a
 *  negative MPP_E* code (-EIO when the stream failed).
 */
#ifndef MPP_REPORT_H
#define MPP_REPORT_H

#include <stdio.h>

#include "mpp_session.h"

typedef enum {
    MPP_SORT_CUMULATIVE,
    MPP_SORT_TOTTIME,
    MPP_SORT_CALLS
} mpp_sort_t;

typedef struct {
    mpp_sort_t sort;
    size_t limit;       /* function rows; 0 = the default (30) */
    ssize_t proc;       /* process index, or -1 for all */
} mpp_report_opts_t;

/* Resolves "PID" or a process name ("ForkPoolWorker-2", "MainProcess") to
 * a process index; -1 if none matches. */
ssize_t mpp_report_find_proc(const mpp_session_t *s, const char *spec);

int mpp_report_text(const mpp_session_t *s, const mpp_report_opts_t *o,
                    FILE *out);
int mpp_report_json(const mpp_session_t *s, const mpp_report_opts_t *o,
                    FILE *out);

/*  `mpprof compare BASELINE PARALLEL`: why the parallel run is not
 *  `workers` times faster than the baseline.
 *
 *    speedup    = baseline wall / parallel wall (the sessions' wall_ns)
 *    workers    = processes of the parallel run that are neither the main
 *                 process (start_method "main") nor a multiprocessing
 *                 helper (argv names the resource tracker, or the fork
 *                 server when not itself forked by it); at least 1
 *    ideal      = workers;  efficiency = speedup / ideal
 *    gap_s      = parallel wall - baseline wall / ideal
 *
 *  The gap is ideal * gap_s lost worker-seconds, split into wall-second
 *  parts that always add up to gap_s exactly:
 *
 *    category   = (its thread-seconds in the parallel run - in the
 *                 baseline) / ideal.  Lock and IPC waits count only in
 *                 worker processes: the main process and helpers wait
 *                 while the workers run, which is idle, not lost (their
 *                 waits are reported as excluded_wait_s).
 *    imbalance  = sum over workers of (busiest worker's CPU time - this
 *                 worker's CPU time - the part of that its own lock and
 *                 IPC waits already cover, never below 0) / ideal
 *    other      = gap_s - all the parts above; negative means the parts
 *                 overlap (nothing is clamped).
 *
 *  The sums are done in integer worker-nanoseconds, where the parts add
 *  up to the gap exactly; as seconds they do within rounding.
 */
typedef enum {
    MPP_LOST_PICKLE,    /* the first five follow mpp_cat_t */
    MPP_LOST_UNPICKLE,
    MPP_LOST_LOCK_WAIT,
    MPP_LOST_IPC_WAIT,
    MPP_LOST_STARTUP,
    MPP_LOST_IMBALANCE,
    MPP_LOST_OTHER,
    MPP_LOST_COUNT
} mpp_lost_t;

typedef struct {
    double base_wall_s;
    double par_wall_s;
    size_t base_procs;
    size_t par_procs;
    size_t workers;
    double speedup;
    double ideal_speedup;
    double efficiency;
    double gap_s;
    double lost_s[MPP_LOST_COUNT];
    double excluded_wait_s; /* parallel run's waits outside workers */
} mpp_compare_t;

/* The numbers above.  MPP_EINVAL when a session has no wall time (a run
 * that never finished), since no speedup can be computed. */
int mpp_compare_compute(const mpp_session_t *base, const mpp_session_t *par,
                        mpp_compare_t *out);

/* The same, written for people or as the `compare --json` document of
 * design.md, plus the functions whose own time changed most. */
int mpp_compare_text(const mpp_session_t *base, const mpp_session_t *par,
                     FILE *out);
int mpp_compare_json(const mpp_session_t *base, const mpp_session_t *par,
                     FILE *out);

/* The key of each part in "lost_s": "pickle", ..., "other". */
const char *mpp_lost_name(mpp_lost_t part);

#endif
