/*  Private header of the launcher: the `mpprof` executable, which parses the
 *  command line, spawns the target, runs the aggregator and writes the
 *  outputs.  It never links libpython, so it works whatever Python the
 *  target uses.
 *
 *  Units:
 *    mpp_main.c    command line, subcommands, --help, --version, `report`
 *    mpp_run.c     the `run` sequence, from validation to exit status
 *    mpp_spawn.c   path lookup, spawning, signal forwarding, waiting
 *    mpp_witness.c tells group signals from those aimed at mpprof alone
 *    mpp_pyenv.c   the target Python: probe, pyshim, environment
 *    mpp_agg.c     the aggregator thread: ZeroMQ PULL socket, stragglers
 *    mpp_ingest.c  frame validation and merging, without sockets (tested)
 *    mpp_outdir.c  output directory checks and the atomic writing of the
 *                  output files
 */
#ifndef MPP_LAUNCHER_H
#define MPP_LAUNCHER_H

#include <signal.h>
#include <stdio.h>

#include "mpp_output.h"
#include "mpp_session.h"

/* ---- mpp_run.c -------------------------------------------------------- */

typedef enum {
    MPP_TARGET_SCRIPT,
    MPP_TARGET_MODULE,
    MPP_TARGET_CODE
} mpp_target_kind_t;

typedef struct {
    const char *outdir;   /* default "mpprof-out" */
    const char *python;   /* default "python3", looked up in PATH */
    int interval_ms;      /* collector flush interval */
    bool quiet;           /* no report nor summary line on stderr */
    mpp_target_kind_t kind;
    char **command;       /* what follows the options: the script and its
                           * arguments, or "-m"/"-c", its value and the
                           * arguments; borrowed from main's argv */
    size_t ncommand;
} mpp_run_opts_t;

/* Runs `mpprof run` and returns the process exit status. */
int mpp_run(const mpp_run_opts_t *opts);

/* ---- mpp_spawn.c ------------------------------------------------------ */

/*  Finds `name` as execvp would: as is when it contains a slash, else in
 *  PATH.  Returns a malloc'd path in *out, or a negative errno. */
int mpp_find_program(const char *name, char **out);

typedef struct {
    const char *path;       /* the executable, already looked up */
    char *const *argv;
    char *const *envp;      /* NULL: the current environment */
    int stdout_fd;          /* -1: inherited */
    int stderr_fd;          /* -1: inherited */
    const sigset_t *sigmask; /* the child's signal mask; NULL: unchanged */
} mpp_spawn_opts_t;

/*  Starts a process.  Returns 0 and its pid once exec has succeeded, or
 *  the negated errno of the failed exec (the child is then reaped). */
int mpp_spawn(const mpp_spawn_opts_t *opts, pid_t *pid);

/* ---- mpp_witness.c ---------------------------------------------------- */

/*  A child in mpprof's process group that tells a signal sent to the
 *  whole group from one sent to mpprof alone (see mpp_witness.c). */
typedef struct {
    pid_t pid; /* -1 when there is none */
    int cmd;   /* mpprof -> witness */
    int ack;   /* witness -> mpprof */
} mpp_witness_t;

/*  Starts the witness for the signals in `watched`, which the caller has
 *  blocked.  Should mpprof die without stopping it, it removes the paths
 *  in the NULL-terminated `files` (or NULL), in order.  Must run before
 *  the launcher starts any thread.  Returns 0 or a negated errno (there
 *  is then no witness). */
int mpp_witness_start(mpp_witness_t *w, const sigset_t *watched,
                      const char *const *files);

/*  True when the witness has `signo` pending: it went to the whole
 *  process group.  False when it did not, or when nobody can tell. */
bool mpp_witness_saw(const mpp_witness_t *w, int signo);

/* Has the witness discard its pending signals; waits for it, bounded. */
void mpp_witness_clear(mpp_witness_t *w);

/* Ends and reaps the witness. */
void mpp_witness_stop(mpp_witness_t *w);

/*  Signals that mpprof receives instead of dying from them: they are
 *  blocked in every thread and read from a signalfd. */
typedef struct {
    int fd;            /* signalfd, -1 when not set up */
    sigset_t handled;  /* the blocked set */
    sigset_t saved;    /* the mask before, for children */
    mpp_witness_t witness;
} mpp_sigs_t;

int mpp_sigs_init(mpp_sigs_t *sigs);
void mpp_sigs_fini(mpp_sigs_t *sigs);

/*  Waits for `pid`, forwarding SIGINT, SIGTERM, SIGHUP and SIGQUIT that
 *  another process sent to mpprof alone; one sent to the whole process
 *  group or by the terminal reached the target already.  Returns 0 and
 *  the wait status. */
int mpp_wait_target(mpp_sigs_t *sigs, pid_t pid, int *status);

/*  Reads pending signals without blocking; returns how many were
 *  received (SIGCHLD and SIGPIPE do not count). */
int mpp_sigs_drain(mpp_sigs_t *sigs);

/* The exit status of a shell for a wait status: code, or 128+signal. */
int mpp_exit_status(int wait_status);

/* ---- mpp_pyenv.c ------------------------------------------------------ */

typedef struct {
    char *path;        /* the interpreter, looked up in PATH */
    char *ext_suffix;  /* ".cpython-311-x86_64-linux-gnu.so" */
    char *version;     /* "3.11.7" */
    char *pyshim;      /* absolute directory to put first in PYTHONPATH */
} mpp_pyenv_t;

/*  Checks that `python` runs and that a collector for its ABI exists.
 *  Prints one line on failure and returns the exit status to use (2, or
 *  127 when the interpreter cannot be run); 0 on success. */
int mpp_pyenv_probe(mpp_pyenv_t *env, const char *python);
void mpp_pyenv_fini(mpp_pyenv_t *env);

/*  Builds the target's environment: the current one with PYTHONPATH,
 *  MPPROF_ENDPOINT, MPPROF_SESSION, MPPROF_INTERVAL_MS and MPPROF_PYSHIM
 *  set.  Returns a NULL-terminated array freed by mpp_env_free. */
char **mpp_pyenv_environ(const mpp_pyenv_t *env, const char *endpoint,
                         const char *token, int interval_ms);
void mpp_env_free(char ***envp);

/* ---- mpp_ingest.c ----------------------------------------------------- */

/*  Validates one raw frame from the socket and merges it into `s`.
 *  Counts s->integrity.messages, .rejected and .seq_gaps.  Returns 0 when
 *  the frame was applied, else why it was rejected: MPP_EPROTO,
 *  MPP_EVERSION, MPP_ETOOBIG, MPP_ETOKEN, MPP_EREPLAY or MPP_ENOMEM.  It
 *  never trusts the frame, whatever its content. */
int mpp_ingest_frame(mpp_session_t *s, const char *token, const void *data,
                     size_t len);

/*  True when the process's last incarnation has not said BYE yet. */
bool mpp_ingest_streaming(const mpp_proc_t *p);

/*  Closes the session once nothing more will arrive: every process still
 *  without a BYE is marked ended (the target with its wait status, others
 *  MPP_EXIT_LOST) and counted in processes_lost; dropped events are
 *  summed.  Names them on `note` in one line.  Returns how many. */
size_t mpp_ingest_finish(mpp_session_t *s, int64_t target_pid,
                         int wait_status, FILE *note);

/* ---- mpp_agg.c -------------------------------------------------------- */

typedef struct mpp_agg mpp_agg_t;

/*  Binds a PULL socket at `endpoint` ("ipc://...") for messages carrying
 *  `token`.  The session belongs to the aggregator thread from
 *  mpp_agg_start until mpp_agg_join returns.  Returns NULL and sets *err
 *  (negated errno) on failure. */
mpp_agg_t *mpp_agg_new(const char *endpoint, const char *token,
                       mpp_session_t *session, int *err);

/* Starts the thread.  Returns 0 or a negated errno. */
int mpp_agg_start(mpp_agg_t *self);

/*  Tells the thread that the target has ended: it then waits, bounded,
 *  for the processes that are still streaming, and stops. */
void mpp_agg_target_ended(mpp_agg_t *self);

/* Asks the thread to stop waiting for stragglers at once. */
void mpp_agg_hurry(mpp_agg_t *self);

/* A descriptor that becomes readable when the thread has stopped. */
int mpp_agg_done_fd(const mpp_agg_t *self);

/* Waits for the thread; the session is the caller's again afterwards. */
void mpp_agg_join(mpp_agg_t *self);

/* Stops and joins the thread if needed, closes the socket. */
void mpp_agg_destroy(mpp_agg_t **self_p);

/* ---- mpp_outdir.c ----------------------------------------------------- */

/*  Checks, without leaving anything behind, that `dir` exists as a
 *  writable directory or can be created.  Returns 0 or a negated errno. */
int mpp_outdir_check(const char *dir);

/* Creates `dir` and its missing parents.  Returns 0 or a negated errno. */
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
 *  profile.prof, callgrind.out, callgrind.parts, session.mpprof and
 *  report.txt.  Each is staged as dir/.name.tmpXXXXXX and synced, then
 *  all are renamed into place and the directory is synced: either the
 *  whole new profile appears or, when a file cannot be staged (a full
 *  disk, say), the directory keeps whatever an earlier run left there,
 *  byte for byte.  Returns 0, or a negative code (the writer's, or a
 *  negated errno: a full disk says ENOSPC, not EIO) with *failed naming
 *  the file and *renaming true when every file was staged but renaming
 *  that one failed (the files renamed before it are complete and stay). */
int mpp_outdir_write_all(const char *dir, const mpp_outputs_t *out,
                         const char **failed, bool *renaming);

/* ---- helpers shared by the units -------------------------------------- */

/* Prints "mpprof: " and the formatted message, one line, on stderr. */
void mpp_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
