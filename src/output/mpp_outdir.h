/*  The output directory: checks that it can be written, and writes every
 *  output file into it atomically (staged, synced, renamed).
 */
#ifndef MPP_OUTDIR_H
#define MPP_OUTDIR_H

#include "mpp_output.h"
#include "mpp_report.h"

/* ---- mpp_outdir.c ----------------------------------------------------- */

/*  Checks, without leaving anything behind, that `dir` exists as a
 *  writable directory or can be created.  Returns 0, a negated errno or
 *  MPP_ENOMEM. */
int mpp_outdir_check(const char *dir);

/* Creates `dir` and its missing parents.  Returns 0, a negated errno or
 * MPP_ENOMEM. */
int mpp_outdir_create(const char *dir);

/* What the files of an output directory are written from. */
typedef struct {
    const mpp_session_t *s;
    const mpp_view_t *v;  /* the session's merged view */
    mpp_report_opts_t ro; /* report.txt's options */
    /* When not NULL, called with each file's name once it is staged, then
     * with NULL once all are in place: bench_agg times the steps. */
    void (*step)(void *arg, const char *name);
    void *step_arg;
} mpp_outputs_t;

/*  Writes every file of an output directory into `dir`, which exists:
 *  profile.prof, callgrind.out, callgrind.parts, session.mpprof,
 *  trace.json, report.html and report.txt.  Each is staged as dir/.name.tmpXXXXXX (mode 0666 less the
 *  umask) and synced, then all are renamed into place and the directory
 *  is synced: either the whole new profile appears or, when a file cannot
 *  be staged (a full disk, say), the directory keeps whatever an earlier
 *  run left there, byte for byte.  Returns 0, or a negative code (the
 *  writer's, or a negated errno: a full disk says ENOSPC, not EIO) with
 *  *failed naming
 *  the file and *renaming true when every file was staged but renaming
 *  that one failed (the files renamed before it are complete and stay). */
int mpp_outdir_write_all(const char *dir, const mpp_outputs_t *out,
                         const char **failed, bool *renaming);

#endif
