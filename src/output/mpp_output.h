/*  Output writers and readers: pstats, callgrind and the session file
 *  (the reports people read are declared in report/mpp_report.h).  They
 *  know the session model and stdio, nothing of ZeroMQ or Python.  Each
 *  writer streams to a FILE the caller opened (the caller handles
 *  temp-file + rename) and returns 0 or a negative MPP_E* code; on error
 *  the caller discards the file. */
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

/* trace.json: the Chrome trace event format (Perfetto, chrome://tracing),
 * a track per process and thread, process lifetimes and category spans
 * as slices (see mpp_trace.c). */
#define MPP_TRACE_NAME "trace.json" /* in an output directory */
int mpp_trace_write(const mpp_session_t *s, FILE *out);

/* report.html: one self-contained page (no network) with the verdict,
 * where the time went per process, a process timeline, a flame graph of
 * the merged call tree and the function and process tables; the profile
 * is one JSON document inside it (see mpp_html.c). */
#define MPP_HTML_NAME "report.html" /* in an output directory */
/* What a page carries at most (see mpp_html.c): the spans, the longest
 * (a timeline cannot show more on one screen); the stats and edges of
 * the processes' call graphs, those with the most time; the functions of
 * the table, those with the most cumulative time. */
#define MPP_HTML_MAX_SPANS 200000u
#define MPP_HTML_MAX_ROWS 200000u
#define MPP_HTML_MAX_FUNCS 5000u
int mpp_html_write(const mpp_session_t *s, FILE *out);

/* The same page for `compare BASELINE PARALLEL --html`: the parallel
 * run's, with the two runs side by side and the lost time as a picture.
 * MPP_EINVAL as mpp_compare_compute when a run has no wall time. */
int mpp_html_write_compare(const mpp_session_t *base,
                           const mpp_session_t *par, FILE *out);

/* The lossless session file: magic "MPPROF\0\n", version, then msgpack. */
#define MPP_SESSFILE_MAGIC "MPPROF\0\n"
#define MPP_SESSFILE_MAGIC_LEN (sizeof(MPP_SESSFILE_MAGIC) - 1)
#define MPP_SESSFILE_VERSION 1
#define MPP_SESSFILE_NAME "session.mpprof" /* in an output directory */
int mpp_sessfile_write(const mpp_session_t *s, FILE *out);

/* Reads a session file from memory.  On failure returns MPP_EFORMAT (not
 * an mpprof file), MPP_EVERSION, MPP_ETRUNC, MPP_ECORRUPT or MPP_ENOMEM and
 * sets *out to NULL.  Never trusts a count beyond what `len` can hold. */
int mpp_sessfile_parse(const void *data, size_t len, mpp_session_t **out);

/* Reads PATH, which may be a session file or an output directory holding
 * session.mpprof. Negative errno values for I/O errors. */
int mpp_sessfile_load(const char *path, mpp_session_t **out);

#endif
