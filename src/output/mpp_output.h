/*  Output writers and readers: pstats, callgrind, the session file and the
 *  text/JSON report.  They know the session model and stdio, nothing of
 *  ZeroMQ or Python.  Each writer streams to a FILE the caller opened (the
 *  caller handles temp-file + rename) and returns 0 or a negative MPP_E*
 *  code; on error the caller discards the file. */
#ifndef MPP_OUTPUT_H
#define MPP_OUTPUT_H

#include <stdio.h>

#include "mpp_session.h"

/* pstats marshal of the view (all processes merged when built with -1),
 * marshal version 4 with object references (Python 3.4+).  Returns
 * MPP_EINVAL when the view has no function at all, because pstats.Stats
 * refuses an empty dict. */
int mpp_pstats_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out);

/* The same dict in marshal version 2, without references: what
 * marshal.dumps(stats, 2) writes.  Loads equal to mpp_pstats_write's. */
int mpp_pstats_write_v2(const mpp_session_t *s, const mpp_view_t *v,
                        FILE *out);

/* callgrind format, every process merged into one part. */
int mpp_callgrind_write(const mpp_session_t *s, const mpp_view_t *v,
                        FILE *out);

/* callgrind format, one part per process (pid:, part:, cmd:). */
int mpp_callgrind_write_parts(const mpp_session_t *s, FILE *out);

/* The lossless session file: magic "MPPROF\0\n", version, then msgpack. */
#define MPP_SESSFILE_MAGIC "MPPROF\0\n"
#define MPP_SESSFILE_VERSION 1
int mpp_sessfile_write(const mpp_session_t *s, FILE *out);

/* Reads a session file from memory.  On failure returns MPP_EFORMAT (not
 * an mpprof file), MPP_EVERSION, MPP_ETRUNC, MPP_ECORRUPT or MPP_ENOMEM and
 * sets *out to NULL.  Never trusts a count beyond what `len` can hold. */
int mpp_sessfile_parse(const void *data, size_t len, mpp_session_t **out);

/* Reads PATH, which may be a session file or an output directory holding
 * session.mpprof. Negative errno values for I/O errors. */
int mpp_sessfile_load(const char *path, mpp_session_t **out);

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
