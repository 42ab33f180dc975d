/*  `mpprof run`: validate, set up the session, spawn the target, wait for
 *  it and its stragglers, write the outputs (see mpp_launcher.h).
 *
 *  Every failure before the target starts is one line and status 2 (127
 *  when the interpreter cannot be executed), and leaves nothing behind:
 *  the output directory is only created once there is something to put
 *  in it.  After the target has run, its exit status is what mpprof
 *  returns, unless the target succeeded and writing the profile failed.
 */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mpp_agent.h"

#define S_SOCK_NAME "agg.sock"
/* The longest wait for the target's orphans, as for the aggregator's
 * stragglers. */
#define S_ORPHANS_NS (10000 * 1000000LL)

typedef struct {
    const mpp_run_opts_t *o;
    mpp_pyenv_t py;
    mpp_session_t *session;
    mpp_sigs_t sigs;
    char *sessdir;   /* private 0700 directory holding the socket */
    char *endpoint;  /* "ipc://<sessdir>/agg.sock" */
    char *sockpath;  /* "<sessdir>/agg.sock" */
    char *mapdir;    /* the collectors' mappings (mpp_shm.h), or NULL */
    char token[MPP_TOKEN_LEN + 1];
    mpp_agg_t *agg;
    mpp_agent_t *agent; /* reads the mappings in mapdir; NULL without */
    mpp_runjoin_t *join; /* --join: the aggregator is elsewhere */
    mpp_status_t *status; /* the live line on a terminal, or NULL */
    char **envp;
    char **argv;
    pid_t pid;
    int wait_status;
} s_run_t;

/* ---- before the target ------------------------------------------------ */

static int
s_validate(s_run_t *r)
{
    const mpp_run_opts_t *o = r->o;
    if (o->kind == MPP_TARGET_SCRIPT) {
        int fd = open(o->command[0], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            mpp_say("cannot open script '%s': %s", o->command[0],
                    strerror(errno));
            return 2;
        }
        close(fd);
    }
    /* A joined run writes no profile of its own: the collector does. */
    if (o->join != NULL) {
        /* Said before anything is set up: the collectors of a joined run
         * cannot reach another host themselves, only the agent reading
         * their mappings can. */
        const char *maps = getenv("MPPROF_MAPS");
        if (maps != NULL && strcmp(maps, "0") == 0) {
            mpp_say("--join needs the shared mappings, which MPPROF_MAPS=0 "
                    "turns off: unset it");
            return 2;
        }
        r->join = mpp_runjoin_new(o->join, o->command, o->ncommand);
        return r->join == NULL ? 2 : mpp_pyenv_probe(&r->py, o->python);
    }
    int rc = mpp_outdir_check(o->outdir);
    if (rc != 0) {
        mpp_say("cannot write to output directory '%s': %s", o->outdir,
                mpp_strerror(rc));
        return 2;
    }
    return mpp_pyenv_probe(&r->py, o->python);
}

/*  Fills `out` with 32 random hex characters.  The token only has to be
 *  unguessable by other local users, who cannot reach the 0700 session
 *  directory anyway; it mainly keeps strays from other sessions out. */
static int
s_make_token(char out[MPP_TOKEN_LEN + 1])
{
    unsigned char raw[MPP_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    if (got < sizeof(raw)) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
        if (fd >= 0) {
            close(fd);
        }
        if (n != (ssize_t)sizeof(raw)) {
            return -EIO;
        }
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

/*  Makes the private session directory under $TMPDIR, or /tmp when
 *  TMPDIR is unset or so long that the socket path would not fit in a
 *  sockaddr_un. */
static int
s_make_sessdir(s_run_t *r)
{
    const char *bases[] = {getenv("TMPDIR"), "/tmp"};
    size_t limit = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    int rc = -ENOENT;
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bases); i++) {
        const char *base = bases[i];
        if (base == NULL || base[0] != '/' ||
            strlen(base) + sizeof("/mpprof-XXXXXX/" S_SOCK_NAME) > limit) {
            continue;
        }
        char *tmpl = NULL;
        if (asprintf(&tmpl, "%s/mpprof-XXXXXX", base) < 0) {
            return MPP_ENOMEM;
        }
        if (mkdtemp(tmpl) != NULL) {
            r->sessdir = tmpl;
            if (asprintf(&r->endpoint, "ipc://%s/" S_SOCK_NAME, tmpl) < 0) {
                r->endpoint = NULL;
                return MPP_ENOMEM;
            }
            return 0;
        }
        rc = -errno;
        free(tmpl);
    }
    return rc;
}

static void
s_remove_sessdir(s_run_t *r)
{
    if (r->sessdir == NULL) {
        return;
    }
    char *sock = NULL;
    if (asprintf(&sock, "%s/" S_SOCK_NAME, r->sessdir) >= 0) {
        unlink(sock);
        free(sock);
    }
    rmdir(r->sessdir);
    free(r->sessdir);
    r->sessdir = NULL;
}

/*  A private directory for the collectors' shared mappings, which the
 *  agent reads (issue 12): on /dev/shm when there is one, since a mapping
 *  on a disk file system would have its pages written back to the disk;
 *  else in the session directory.  Without one (MPPROF_MAPS=0, or nowhere
 *  to make it) the collectors stream to the aggregator over ZeroMQ, as
 *  mpprof 0.1 did. */
static void
s_make_mapdir(s_run_t *r)
{
    const char *maps = getenv("MPPROF_MAPS");
    if (maps != NULL && strcmp(maps, "0") == 0) {
        return;
    }
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
        access("/dev/shm", W_OK | X_OK) == 0) {
        char *tmpl = strdup("/dev/shm/mpprof-XXXXXX");
        if (tmpl != NULL && mkdtemp(tmpl) != NULL) {
            r->mapdir = tmpl;
            return;
        }
        free(tmpl);
    }
    char *dir = NULL;
    if (asprintf(&dir, "%s/maps", r->sessdir) >= 0 && mkdir(dir, 0700) == 0) {
        r->mapdir = dir;
        return;
    }
    free(dir);
}

static void
s_remove_mapdir(s_run_t *r)
{
    if (r->mapdir != NULL) {
        mpp_remove_path(r->mapdir);
        free(r->mapdir);
        r->mapdir = NULL;
    }
}

/*  The target's argv: the interpreter, its options, then the program.
 *  A script whose name starts with '-' is put after "--", or Python would
 *  take it for one of its own options.  An interpreter run around its
 *  wrapper gets its path as argv[0], as the wrapper's exec would give. */
static char **
s_make_argv(const mpp_run_opts_t *o, const mpp_pyenv_t *py)
{
    char **argv = calloc(o->npyopts + o->ncommand + 3, sizeof(*argv));
    size_t k = 0;
    if (argv != NULL) {
        argv[k++] = py->environ != NULL ? py->path : (char *)o->python;
        for (size_t j = 0; j < o->npyopts; j++) {
            argv[k++] = o->pyopts[j];
        }
        if (o->kind == MPP_TARGET_SCRIPT && o->command[0][0] == '-') {
            argv[k++] = "--";
        }
        memcpy(argv + k, o->command, o->ncommand * sizeof(*argv));
    }
    return argv;
}

/*  A joined run: no aggregator here, the agent streams to the one the
 *  join string names.  It needs the mappings, since the collectors
 *  cannot reach another host themselves. */
static int
s_setup_join(s_run_t *r)
{
    int rc;
    if (r->mapdir == NULL) {
        mpp_say("--join needs the shared mappings, and no directory for "
                "them could be made in /dev/shm or %s", r->sessdir);
        return 2;
    }
    r->agent = mpp_runjoin_agent(r->join, r->mapdir, r->o->interval_ms, &rc);
    if (r->agent == NULL || (rc = mpp_agent_start(r->agent)) != 0) {
        mpp_say("cannot stream to %s: %s", mpp_runjoin_endpoint(r->join),
                mpp_strerror(rc));
        return 2;
    }
    r->envp = mpp_pyenv_environ(&r->py, mpp_runjoin_endpoint(r->join),
                                r->token, r->o->interval_ms, r->mapdir);
    if (r->envp == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    return 0;
}

static int
s_setup(s_run_t *r)
{
    int rc;
    r->session = mpp_session_new();
    r->argv = s_make_argv(r->o, &r->py);
    if (r->session == NULL || r->argv == NULL ||
        mpp_session_set_command(r->session, r->o->command,
                                r->o->ncommand) != 0 ||
        (r->session->python = strdup(r->py.version)) == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    /* Signals first, so that every thread started below inherits the
     * blocked mask. */
    if ((rc = mpp_sigs_init(&r->sigs)) != 0) {
        mpp_say("cannot set up signal handling: %s", mpp_strerror(rc));
        return 2;
    }
    if ((rc = s_make_token(r->token)) != 0 ||
        (rc = s_make_sessdir(r)) != 0) {
        mpp_say("cannot create a session directory: %s", mpp_strerror(rc));
        return 2;
    }
    /* The witness is forked before the aggregator starts any thread.
     * Without one, every signal from another process is passed on. */
    s_make_mapdir(r);
    if (asprintf(&r->sockpath, "%s/" S_SOCK_NAME, r->sessdir) >= 0) {
        /* The mappings first: the fallback puts them in the sessdir. */
        const char *files[] = {r->sockpath, r->sessdir, NULL, NULL};
        if (r->mapdir != NULL) {
            files[0] = r->mapdir;
            files[1] = r->sockpath;
            files[2] = r->sessdir;
        }
        (void)mpp_witness_start(&r->sigs.witness, &r->sigs.handled, files);
    }
    else {
        r->sockpath = NULL;
    }
    /* Descendants orphaned before their collector said a word are still
     * found and waited for (mpp_orphans.c).  Without it they are only
     * missed if they start right before their parent exits. */
    (void)mpp_orphans_adopt();
    if (r->join != NULL) {
        return s_setup_join(r);
    }
    r->agg = mpp_agg_new(r->endpoint, r->token, r->session, &rc);
    if (r->agg != NULL && mpp_status_wanted(STDERR_FILENO, r->o->quiet)) {
        mpp_agg_track_live(r->agg);
    }
    if (r->agg == NULL || (rc = mpp_agg_start(r->agg)) != 0) {
        mpp_say("cannot listen on %s: %s", r->endpoint, mpp_strerror(rc));
        return 2;
    }
    /* The agent after the aggregator, whose socket it connects to. */
    if (r->mapdir != NULL) {
        r->agent = mpp_agent_new(r->mapdir, r->endpoint, r->token,
                                 r->o->interval_ms, &rc);
        if (r->agent == NULL || (rc = mpp_agent_start(r->agent)) != 0) {
            mpp_say("cannot watch %s: %s", r->mapdir, mpp_strerror(rc));
            return 2;
        }
    }
    r->envp = mpp_pyenv_environ(&r->py, r->endpoint, r->token,
                                r->o->interval_ms, r->mapdir);
    if (r->envp == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 2;
    }
    return 0;
}

/* ---- the target and its stragglers ------------------------------------ */

static int
s_run_target(s_run_t *r)
{
    /* The child keeps the terminal's process group: a Ctrl-C reaches it
     * directly, exactly as when Python runs without mpprof. */
    mpp_spawn_opts_t so = {
        .path = r->py.path, .argv = r->argv, .envp = r->envp,
        .stdout_fd = -1, .stderr_fd = -1, .sigmask = &r->sigs.saved,
    };
    int64_t t0 = mpp_now_mono_ns();
    r->session->start_ns = mpp_now_real_ns();
    int rc;
    if (r->agg != NULL && mpp_status_wanted(STDERR_FILENO, r->o->quiet)) {
        /* Without it the run goes on as it would off a terminal. */
        r->status = mpp_status_start(STDERR_FILENO, r->agg, t0, &rc);
    }
    rc = mpp_spawn(&so, &r->pid);
    if (rc != 0) {
        mpp_status_stop(&r->status);
        mpp_say("cannot run '%s': %s", r->o->python, mpp_strerror(rc));
        return 127;
    }
    rc = mpp_wait_target(&r->sigs, r->pid, &r->wait_status);
    r->session->wall_ns = mpp_now_mono_ns() - t0;
    if (rc == 0) {
        mpp_orphans_wait(&r->sigs, S_ORPHANS_NS);
    }
    if (rc != 0) {
        mpp_status_stop(&r->status);
        mpp_say("cannot wait for the target: %s", mpp_strerror(rc));
        return 2;
    }
    r->session->exit_status = mpp_exit_status(r->wait_status);
    return 0;
}

/*  Waits until `done_fd` is readable; a new signal (a second Ctrl-C)
 *  calls hurry(arg) and the wait goes on for the (short) rest.  Returns
 *  true when it hurried. */
static bool
s_wait_done(s_run_t *r, int done_fd, void (*hurry)(void *), void *arg)
{
    bool hurried = false;
    for (;;) {
        struct pollfd pfd[2] = {
            {done_fd, POLLIN, 0},
            {r->sigs.fd, POLLIN, 0},
        };
        int n = poll(pfd, 2, -1);
        if (n < 0 && errno != EINTR) {
            break;
        }
        if (n > 0 && pfd[0].revents != 0) {
            break;
        }
        if (n > 0 && pfd[1].revents != 0 && mpp_sigs_drain(&r->sigs) > 0) {
            hurry(arg);
            hurried = true;
        }
    }
    return hurried;
}

static void
s_agg_hurry(void *agg)
{
    mpp_agg_hurry(agg);
}

static void
s_agent_hurry(void *agent)
{
    mpp_agent_hurry(agent);
}

/*  What the agent could not read goes into the note only when there was
 *  some: the rest of the profile stands.  Processes whose end nobody
 *  could tell count as lost, as those that never said BYE do. */
static void
s_agent_note(s_run_t *r)
{
    mpp_agent_counts_t c;
    mpp_agent_counts(r->agent, &c);
    r->session->integrity.processes_lost += c.lost;
    if (c.corrupt > 0 || c.unreadable > 0 || c.unsent > 0) {
        fprintf(stderr,
                "mpprof: note: the processes' state files had %" PRIu64
                " damaged record%s, %" PRIu64 " file%s could not be read "
                "at all, %" PRIu64 " message%s could not be sent; the rest "
                "of the profile stands\n",
                c.corrupt, c.corrupt == 1 ? "" : "s", c.unreadable,
                c.unreadable == 1 ? "" : "s", c.unsent,
                c.unsent == 1 ? "" : "s");
    }
}

/*  Lets the agent read the last of the processes' mappings, then the
 *  aggregator collect the stragglers.  Each bounds its own wait; a new
 *  signal (a second Ctrl-C) cuts it short. */
static void
s_collect(s_run_t *r)
{
    bool hurried = false;
    if (r->join != NULL) {
        mpp_agent_target_ended(r->agent, r->pid, r->wait_status);
        (void)s_wait_done(r, mpp_agent_done_fd(r->agent), s_agent_hurry,
                          r->agent);
        mpp_agent_join(r->agent);
        mpp_runjoin_end(r->join, &r->agent, r->session->exit_status,
                        r->o->quiet);
        return;
    }
    if (r->agent != NULL) {
        /* The launcher reaped the target: its status serves when the
         * kernel could not tell the agent. */
        mpp_agent_target_ended(r->agent, r->pid, r->wait_status);
        hurried = s_wait_done(r, mpp_agent_done_fd(r->agent),
                              s_agent_hurry, r->agent);
        mpp_agent_join(r->agent);
        mpp_agent_counts_t c;
        mpp_agent_counts(r->agent, &c);
        mpp_agg_expect(r->agg, c.frames);
    }
    mpp_agg_target_ended(r->agg);
    /* With the agent, nothing else sends (a collector with a map
     * directory has no socket): what it sent is all there will be, and
     * the aggregator's own straggler wait would only add its 10 s for a
     * process the agent already gave up on.  So it just drains.  Without
     * the agent, one Ctrl-C still cuts the wait short. */
    if (hurried || r->agent != NULL) {
        mpp_agg_hurry(r->agg);
    }
    (void)s_wait_done(r, mpp_agg_done_fd(r->agg), s_agg_hurry, r->agg);
    mpp_agg_join(r->agg);
    /* The line goes before the first word mpprof writes after the run. */
    mpp_status_stop(&r->status);
    mpp_ingest_finish(r->session, r->pid, r->wait_status, stderr);
    if (r->agent != NULL) {
        s_agent_note(r);
    }
}

/* ---- outputs ---------------------------------------------------------- */

/*  Writes every file (see mpp_outdir_write_all) and says why on failure.
 *  Returns 0 on success, else 1. */
static int
s_commit_outputs(const mpp_outputs_t *c, const char *dir)
{
    const char *failed;
    bool renaming;
    int rc = mpp_outdir_write_all(dir, c, &failed, &renaming);
    if (rc == 0) {
        return 0;
    }
    if (renaming) {
        mpp_say("cannot write %s/%s: %s", dir, failed, mpp_strerror(rc));
        return 1;
    }
    /* pstats refuses an empty profile; say why in user terms. */
    const char *why = rc == MPP_EINVAL && c->v->total_calls == 0
                          ? "no function calls were recorded"
                          : mpp_strerror(rc);
    mpp_say("cannot write %s/%s: %s; nothing was written", dir, failed, why);
    return 1;
}

/* Returns 0 when every file was written, else 1 (the failure said). */
static int
s_write_outputs(s_run_t *r)
{
    const mpp_session_t *s = r->session;
    const char *dir = r->o->outdir;
    struct stat st;
    int rc;

    if (s->nprocs == 0) {
        if (s->integrity.rejected > 0) {
            mpp_say("no valid profile data was received (%" PRIu64
                    " messages rejected); nothing was written",
                    s->integrity.rejected);
        }
        else {
            mpp_say("no profile data was received from the target "
                    "(is it a Python program?); nothing was written");
        }
        return 1;
    }
    bool existed = stat(dir, &st) == 0;
    if ((rc = mpp_outdir_create(dir)) != 0) {
        mpp_say("cannot create output directory '%s': %s", dir,
                mpp_strerror(rc));
        return 1;
    }
    mpp_view_t *view = mpp_view_new(s, -1);
    mpp_outputs_t c = {
        .s = s, .v = view,
        .ro = {.sort = MPP_SORT_CUMULATIVE, .limit = 0, .proc = -1}};
    if (view == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 1;
    }
    int failed = s_commit_outputs(&c, dir);
    if (failed && !existed) {
        /* Only if it is still empty: a directory we made for nothing. */
        rmdir(dir);
    }
    /* -q leaves stderr to the target and to real problems. */
    if (!r->o->quiet) {
        mpp_report_text(s, &c.ro, stderr);
    }
    if (!r->o->quiet && !failed) {
        size_t n = strlen(dir);
        mpp_say("profile written to %s%s (profile.prof, callgrind.out, "
                "session.mpprof, report.txt, report.html, trace.json)", dir,
                n && dir[n - 1] == '/' ? "" : "/");
    }
    mpp_view_destroy(&view);
    return failed;
}

/* ---- the sequence ----------------------------------------------------- */

static void
s_cleanup(s_run_t *r)
{
    mpp_status_stop(&r->status);
    mpp_agent_destroy(&r->agent);
    mpp_agg_destroy(&r->agg);
    mpp_runjoin_destroy(&r->join);
    s_remove_mapdir(r);
    s_remove_sessdir(r);
    free(r->endpoint);
    free(r->sockpath);
    mpp_sigs_fini(&r->sigs);
    mpp_env_free(&r->envp);
    free(r->argv);
    mpp_session_destroy(&r->session);
    mpp_pyenv_fini(&r->py);
}

int
mpp_run(const mpp_run_opts_t *o)
{
    s_run_t r = {.o = o, .sigs = {.fd = -1, .witness = {-1, -1, -1}}};
    int status = s_validate(&r);
    if (status == 0) {
        status = s_setup(&r);
    }
    if (status == 0) {
        status = s_run_target(&r);
    }
    if (status == 0) {
        s_collect(&r);
        status = r.session->exit_status;
        if (r.join == NULL && s_write_outputs(&r) != 0 && status == 0) {
            status = 1;
        }
    }
    s_cleanup(&r);
    return status;
}
