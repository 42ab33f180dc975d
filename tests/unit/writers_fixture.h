/*  Shared by the tests of the output writers (test_writers.c) and of the
 *  reports (test_report.c): building sessions by hand, the main fixture
 *  session, and running check_writers.py, which checks a written file
 *  with its real consumer (pstats.Stats, marshal, callgrind_annotate,
 *  json.loads) against expected values given as JSON.
 */
#ifndef MPP_WRITERS_FIXTURE_H
#define MPP_WRITERS_FIXTURE_H

#include "mpp_output.h"
#include "mpp_report.h"
#include "mpp_test.h"

#define MS 1000000LL /* nanoseconds */

/* ---- building a session by hand ----------------------------------------- */

uint32_t mpp_wf_fn(mpp_session_t *s, const char *file, int32_t line,
                   const char *name);
void mpp_wf_stat(mpp_thread_t *t, uint32_t f, uint64_t nc, uint64_t pc,
                 int64_t tt, int64_t ct);
void mpp_wf_edge(mpp_thread_t *t, uint32_t a, uint32_t b, uint64_t nc,
                 uint64_t pc, int64_t tt, int64_t ct);
mpp_proc_t *mpp_wf_proc(mpp_session_t *s, int64_t pid, int64_t ppid,
                        const char *name, const char *method, int64_t wall,
                        int64_t cpu, uint32_t exit_kind, int32_t code);
mpp_thread_t *mpp_wf_thread(mpp_proc_t *p, uint64_t tid, const char *name);

/*  The main fixture.  Process 100 runs a recursive fact(), a builtin, and
 *  work() (which calls one of two same-named __init__ methods) from its
 *  main thread and from a second thread; worker 101 calls work() from
 *  _bootstrap and a builtin more than 2**31 times; worker 102 was lost
 *  before sending data. */
mpp_session_t *mpp_wf_build(void);

/* A deterministic xorshift sequence, the same in every run. */
uint64_t mpp_wf_rand(void);

/* ---- files and the checker ---------------------------------------------- */

/* Makes the test directory (call first in main) and, in mpp_wf_done,
 * removes it unless MPPROF_KEEP is set; mpp_wf_done returns rc. */
void mpp_wf_tmpdir(void);
int mpp_wf_done(int rc);

/* A path in the test directory; the last eight stay valid. */
char *mpp_wf_path(const char *name);
void mpp_wf_write_text(const char *path, const char *text);

/* The contents of a file (at most 64 KiB), valid until the next call. */
char *mpp_wf_slurp(const char *path, size_t *len);

enum {
    MPP_WF_PSTATS,
    MPP_WF_PSTATS_V2,
    MPP_WF_CALLGRIND,
    MPP_WF_PARTS,
    MPP_WF_TEXT,
    MPP_WF_JSON
};

/* Writes a file of one kind (MPP_WF_*) of `s`, for the view of o->proc
 * (or all); returns the writer's code. */
int mpp_wf_write(int kind, const mpp_session_t *s, const mpp_report_opts_t *o,
                 const char *path);

/*  Runs check_writers.py KIND FILE EXPECT [EXTRA]; fails the test when it
 *  fails and skips it when a consumer is missing. */
void mpp_wf_check_x(const char *kind, const char *file, const char *expect,
                    const char *extra);
void mpp_wf_check(const char *kind, const char *file, const char *expect);

/*  Every line the report lays out fits in 100 characters; only the
 *  function table, which must equal pstats' own rows, may be longer. */
void mpp_wf_check_width(const char *txt);

#endif
