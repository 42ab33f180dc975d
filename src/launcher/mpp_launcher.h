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
 *    mpp_status.c  the live status line on a terminal while `run` works
 *    mpp_collect.c `collect`: the aggregator for runs on several hosts
 *    mpp_runjoin.c `run --join`: the run's side of it
 *    mpp_runform.c the forms of `run`'s command: python3 [OPTS] ...,
 *                  console scripts (mpp_runform.h)

 *  The aggregator (src/aggregator/) and the output directory writer
 *  (src/output/mpp_outdir.h) are rooms of their own that this one drives.
 */
#ifndef MPP_LAUNCHER_H
#define MPP_LAUNCHER_H

#include <signal.h>
#include <stdio.h>

#include "mpp_aggregator.h"
#include "mpp_outdir.h"

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
    const char *join;     /* --join: stream to `mpprof collect`, NULL */
    mpp_target_kind_t kind;
    char **pyopts;        /* options for the interpreter, put before the
                           * program (`mpprof run python3 -u job.py`) */
    size_t npyopts;
    char **command;       /* what follows the options: the script and its
                           * arguments, or "-m"/"-c", its value and the
                           * arguments; borrowed from main's argv */
    size_t ncommand;
} mpp_run_opts_t;

/* Runs `mpprof run` and returns the process exit status. */
int mpp_run(const mpp_run_opts_t *opts);

/* ---- mpp_collect.c --------------------------------------------------- */

/* `mpprof collect ...`: returns the exit status. */
int mpp_collect_main(int argc, char **argv);

/*  Keeps the processes of `host` (NULL: any) and of `rank` (< 0: any) in
 *  a loaded session (`report --host/--rank`).  Returns how many. */
size_t mpp_select_procs(mpp_session_t *s, const char *host, long rank);

/* ---- mpp_runjoin.c ---------------------------------------------------- */

typedef struct mpp_runjoin mpp_runjoin_t;
struct mpp_agent;

/*  Parses --join's value.  Prints one line and returns NULL when it is
 *  not a join string (or a readable @FILE holding one). */
mpp_runjoin_t *mpp_runjoin_new(const char *text, char *const *command,
                               size_t ncommand);

/* The aggregator's endpoint, for the target's environment. */
const char *mpp_runjoin_endpoint(const mpp_runjoin_t *self);

/*  The agent for `mapdir`, linked to the aggregator, which is told the
 *  run has joined.  Returns NULL and sets *err on failure. */
struct mpp_agent *mpp_runjoin_agent(mpp_runjoin_t *self, const char *mapdir,
                                    int interval_ms, int *err);

/*  After the agent's thread has been joined: tells the aggregator the
 *  run ended with `exit_status`, and closes the link, waiting a bounded
 *  time for what is queued.  The agent is destroyed. */
void mpp_runjoin_end(mpp_runjoin_t *self, struct mpp_agent **agent,
                     int exit_status, bool quiet);

void mpp_runjoin_destroy(mpp_runjoin_t **self_p);

/* ---- mpp_main.c: the command line's helpers, for mpp_collect.c -------- */

/* As s_opt_value in mpp_main.c: 1 matched, 0 another option, -1 error. */
int mpp_cli_value(int argc, char **argv, int *i, const char *shortopt,
                  const char *longopt, const char **value);
bool mpp_cli_long(const char *s, long min, long max, long *out);
/* Prints the line and the pointer to --help; returns 2. */
int mpp_cli_usage_error(const char *what);

/* ---- mpp_status.c ----------------------------------------------------- */

typedef struct mpp_status mpp_status_t;

/*  Whether a status line belongs on `fd`: a terminal, and not -q. */
bool mpp_status_wanted(int fd, bool quiet);

/*  Formats the line for `elapsed_ns` and the counts `l` into buf, at
 *  most `width` characters (and cap - 1).  Returns its length. */
size_t mpp_status_format(char *buf, size_t cap, size_t width,
                         int64_t elapsed_ns, const mpp_agg_live_t *l);

/*  Starts a thread that redraws the line on `fd` a few times a second
 *  from mpp_agg_live(agg), timing from `t0_ns` (monotonic).  Returns
 *  NULL and sets *err (MPP_ENOMEM or a negated errno) on failure. */
mpp_status_t *mpp_status_start(int fd, mpp_agg_t *agg, int64_t t0_ns,
                               int *err);

/*  Stops the thread and clears the line, so that what is written next
 *  starts on a clean line.  NULL is allowed. */
void mpp_status_stop(mpp_status_t **self_p);

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

/*  Removes `path`: a file, or a directory with the files directly in it
 *  (what the session's directories hold).  Errors are ignored: it cleans
 *  up, best effort, in the witness too. */
void mpp_remove_path(const char *path);

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

/* ---- mpp_orphans.c ---------------------------------------------------- */

/*  Makes mpprof the parent of every descendant whose own parent ends
 *  (PR_SET_CHILD_SUBREAPER), before the target starts.  Returns 0 or a
 *  negated errno. */
int mpp_orphans_adopt(void);

/*  After the target: waits until no child of mpprof runs but the witness
 *  (the orphans adopted meanwhile), reaping those that end, for at most
 *  `limit_ns`, or until a new signal arrives. */
void mpp_orphans_wait(mpp_sigs_t *sigs, int64_t limit_ns);

/* The exit status of a shell for a wait status: code, or 128+signal. */
int mpp_exit_status(int wait_status);

/* ---- mpp_pyenv.c ------------------------------------------------------ */

typedef struct {
    char *path;        /* the interpreter, looked up in PATH; the real one
                        * when that is a wrapper script (mpp_pyenv.c) */
    char **environ;    /* the wrapper's environment for it, else NULL */
    char *ext_suffix;  /* ".cpython-311-x86_64-linux-gnu.so" */
    char *version;     /* "3.11.7" */
    char *pyshim;      /* absolute directory to put first in PYTHONPATH */
} mpp_pyenv_t;

/*  Checks that `python` runs and that a collector for its ABI exists.
 *  Prints one line on failure and returns the exit status to use (2, or
 *  127 when the interpreter cannot be run); 0 on success. */
int mpp_pyenv_probe(mpp_pyenv_t *env, const char *python);
void mpp_pyenv_fini(mpp_pyenv_t *env);

/*  Builds the target's environment: the current one (or the wrapper's,
 *  see mpp_pyenv_t) with PYTHONPATH, MPPROF_ENDPOINT, MPPROF_SESSION,
 *  MPPROF_INTERVAL_MS and MPPROF_PYSHIM set, and MPPROF_SHM_DIR when
 *  `shm_dir` is not NULL (else any inherited one is dropped).  Returns a
 *  NULL-terminated array freed by mpp_env_free. */
char **mpp_pyenv_environ(const mpp_pyenv_t *env, const char *endpoint,
                         const char *token, int interval_ms,
                         const char *shm_dir);
void mpp_env_free(char ***envp);

/* ---- helpers shared by the units -------------------------------------- */

/* Prints "mpprof: " and the formatted message, one line, on stderr. */
void mpp_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The usage lines and the rest of --help (mpp_help.c). */
extern const char mpp_cli_usage_text[];
extern const char mpp_cli_help_text[];

#endif
