/*  Output writers and readers: pstats, callgrind, the session file and the
 *  text/JSON report.  They know the session model and stdio, nothing of
 *  ZeroMQ or Python.  Each writer streams to a FILE the caller opened (the
 *  caller handles temp-file + rename) and returns 0 or a negative MPP_E*
 *  code; on error the caller discards the file. */
#ifndef MPP_OUTPUT_H
#define MPP_OUTPUT_H

#include <stdio.h>

#include "mpp_session.h"

/* pstats marshal of the view (all processes merged when built with -1).
 * Returns MPP_EINVAL when the view has no function at all, because
 * pstats.Stats refuses an empty dict. */
int mpp_pstats_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out);

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

#endif
