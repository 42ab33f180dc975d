/*  `mpprof collect`: a standalone aggregator for runs on several hosts
 *  (see mpp_launcher.h and src/net/mpp_net.h).
 *
 *  It binds a TCP endpoint (loopback unless told otherwise), prints the
 *  join string as the first line on stdout and writes it to a 0600 file,
 *  merges what the joined runs' agents send, and writes the usual
 *  outputs when told to stop: a signal (Ctrl-C), --expect N runs ended,
 *  or --idle seconds without a message.  The report lists the processes
 *  host by host, and a line per host says what arrived from it.
 */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpp_clock.h"
#include "mpp_net.h"

#define S_MS 1000000LL
#define S_TICK_MS 200
/* After the last expected run ended, the grace before stopping. */
#define S_SETTLE_NS (300 * S_MS)

typedef struct {
    const char *outdir;
    const char *bind;
    const char *join_file;
    long expect; /* 0: none */
    long idle_s; /* 0: none */
    bool insecure;
    bool quiet;
} s_opts_t;

static int
s_parse(int argc, char **argv, s_opts_t *o)
{
    const char *expect = NULL, *idle = NULL;
    int m;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((m = mpp_cli_value(argc, argv, &i, "-o", "--output",
                               &o->outdir)) ||
            (m = mpp_cli_value(argc, argv, &i, NULL, "--bind", &o->bind)) ||
            (m = mpp_cli_value(argc, argv, &i, NULL, "--join-file",
                               &o->join_file)) ||
            (m = mpp_cli_value(argc, argv, &i, NULL, "--expect", &expect)) ||
            (m = mpp_cli_value(argc, argv, &i, NULL, "--idle", &idle))) {
            if (m < 0) {
                return 2;
            }
        }
        else if (strcmp(a, "--insecure") == 0) {
            o->insecure = true;
        }
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        }
        else {
            char line[256];
            snprintf(line, sizeof(line), "unknown %s '%.200s' for collect",
                     a[0] == '-' ? "option" : "argument", a);
            return mpp_cli_usage_error(line);
        }
    }
    if (expect != NULL && !mpp_cli_long(expect, 1, 1000000, &o->expect)) {
        return mpp_cli_usage_error("--expect needs a number of runs (1 or "
                                   "more)");
    }
    if (idle != NULL && !mpp_cli_long(idle, 1, 86400 * 365, &o->idle_s)) {
        return mpp_cli_usage_error("--idle needs whole seconds (1 or more)");
    }
    if (strncmp(o->bind, "tcp://", 6) != 0) {
        return mpp_cli_usage_error("--bind needs a tcp:// endpoint, such as "
                                   "tcp://127.0.0.1:0");
    }
    if (o->outdir[0] == '\0' || o->join_file[0] == '\0') {
        return mpp_cli_usage_error("--output and --join-file need a name");
    }
    return 0;
}

/*  Writes the join string to `path`, readable by its owner only: it holds
 *  the token.  Written under a temporary name and renamed, so a reader
 *  never sees half of it. */
static int
s_write_join(const char *path, const char *join)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0) {
        return MPP_ENOMEM;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && fchmod(fd, 0600) != 0) {
        rc = -errno;
    }
    size_t len = strlen(join);
    if (rc == 0 && (write(fd, join, len) != (ssize_t)len ||
                    write(fd, "\n", 1) != 1)) {
        rc = -EIO;
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Blocks the stopping signals and reads them from a descriptor. */
static int
s_signals(sigset_t *saved)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, saved) != 0) {
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*  Receives until a stop condition holds.  Returns what stopped it, for
 *  the note. */
static const char *
s_loop(mpp_netagg_t *agg, const s_opts_t *o, int sigfd)
{
    int64_t start = mpp_clock_mono_ns();
    int64_t all_ended_ns = 0;
    for (;;) {
        bool sig = false;
        int rc = mpp_netagg_step(agg, S_TICK_MS, sigfd, &sig);
        if (rc < 0) {
            return "an error while receiving";
        }
        if (sig) {
            /* Consumed, so that it does not end mpprof when the mask is
             * restored: the outputs are still to be written. */
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            }
            return "a signal";
        }
        mpp_netagg_counts_t c;
        mpp_netagg_counts(agg, &c);
        int64_t now = mpp_clock_mono_ns();
        int64_t last = c.last_ns > 0 ? c.last_ns : start;
        if (o->expect > 0 && c.runs_ended >= (uint64_t)o->expect) {
            if (all_ended_ns == 0) {
                all_ended_ns = now;
            }
            /* Each run's messages came before its end on its own
             * connection; the wait is for nothing but a moment's grace,
             * and other traffic (a flood) does not extend it. */
            if (now - all_ended_ns >= S_SETTLE_NS) {
                return "the expected runs' end";
            }
        }
        if (o->idle_s > 0 && now - last >= o->idle_s * 1000 * S_MS) {
            return "the idle timeout";
        }
    }
}

/* Processes of one host together, in their order otherwise. */
static void
s_group_by_host(mpp_session_t *s)
{
    for (size_t i = 1; i < s->nprocs; i++) {
        mpp_proc_t p = s->procs[i];
        const char *h = p.host != NULL ? p.host : "";
        size_t j = i;
        while (j > 0) {
            const char *o = s->procs[j - 1].host;
            if (strcmp(o != NULL ? o : "", h) <= 0) {
                break;
            }
            s->procs[j] = s->procs[j - 1];
            j--;
        }
        s->procs[j] = p;
    }
}

/* The session-wide fields a run would have set. */
static void
s_finish_session(mpp_session_t *s, mpp_netagg_t *agg, int64_t start_real)
{
    mpp_netagg_counts_t c;
    mpp_netagg_counts(agg, &c);
    const char *cmd = mpp_netagg_first_command(agg);
    char *argv[] = {(char *)(cmd != NULL ? cmd : "(no run joined)")};
    (void)mpp_session_set_command(s, argv, 1);
    for (size_t i = 0; i < s->nprocs && s->python == NULL; i++) {
        if (s->procs[i].python != NULL) {
            s->python = strdup(s->procs[i].python);
        }
    }
    s->start_ns = start_real;
    s->wall_ns = c.first_ns > 0 ? c.last_ns - c.first_ns : 0;
    s->exit_status = c.exit_status;
    s->integrity.refused = c.refused;
    mpp_netagg_align_clocks(agg);
    mpp_ingest_finish(s, -1, 0, stderr);
    s_group_by_host(s);
}

static int
s_write(const s_opts_t *o, mpp_session_t *s)
{
    if (s->nprocs == 0) {
        mpp_say("no valid profile data was received (%" PRIu64
                " messages rejected); nothing was written",
                s->integrity.rejected);
        return 1;
    }
    int rc = mpp_outdir_create(o->outdir);
    if (rc != 0) {
        mpp_say("cannot create output directory '%s': %s", o->outdir,
                mpp_strerror(rc));
        return 1;
    }
    mpp_view_t *view = mpp_view_new(s, -1);
    if (view == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return 1;
    }
    mpp_outputs_t c = {.s = s, .v = view,
                       .ro = {.sort = MPP_SORT_CUMULATIVE, .proc = -1}};
    const char *failed;
    bool renaming;
    rc = mpp_outdir_write_all(o->outdir, &c, &failed, &renaming);
    if (rc != 0) {
        mpp_say("cannot write %s/%s: %s", o->outdir, failed,
                mpp_strerror(rc));
    }
    else if (!o->quiet) {
        mpp_report_text(s, &c.ro, stderr);
        mpp_say("profile written to %s", o->outdir);
    }
    mpp_view_destroy(&view);
    return rc != 0;
}

int
mpp_collect_main(int argc, char **argv)
{
    s_opts_t o = {.outdir = "mpprof-out", .bind = "tcp://127.0.0.1:0",
                  .join_file = "mpprof.join"};
    int status = s_parse(argc, argv, &o);
    if (status != 0) {
        return status;
    }
    int rc = mpp_outdir_check(o.outdir);
    if (rc != 0) {
        mpp_say("cannot write to output directory '%s': %s", o.outdir,
                mpp_strerror(rc));
        return 2;
    }
    sigset_t saved;
    int sigfd = s_signals(&saved);
    if (sigfd < 0) {
        mpp_say("cannot set up signal handling: %s", strerror(errno));
        return 2;
    }
    mpp_session_t *s = mpp_session_new();
    if (s != NULL) {
        s->by_module = true;
    }
    mpp_netagg_opts_t no = {.bind = o.bind, .insecure = o.insecure};
    mpp_netagg_t *agg = s != NULL ? mpp_netagg_new(&no, s, &rc) : NULL;
    if (agg == NULL) {
        if (rc == MPP_EINVAL) {
            mpp_say("this libzmq has no CURVE encryption; on a network you "
                    "trust, --insecure uses plain TCP");
        }
        else {
            mpp_say("cannot listen on %s: %s", o.bind,
                    mpp_strerror(s == NULL ? MPP_ENOMEM : rc));
        }
        status = 2;
        goto out;
    }
    const char *join = mpp_netagg_join_string(agg);
    if ((rc = s_write_join(o.join_file, join)) != 0) {
        mpp_say("cannot write the join string to '%s': %s", o.join_file,
                mpp_strerror(rc));
        status = 2;
        goto out;
    }
    printf("%s\n", join);
    fflush(stdout);
    if (!o.quiet) {
        mpp_say("collecting; join with: mpprof run --join @%s ... (stop "
                "with Ctrl-C%s)", o.join_file,
                o.expect > 0 ? " or after the expected runs" : "");
    }
    int64_t start_real = mpp_clock_real_ns();
    const char *why = s_loop(agg, &o, sigfd);
    int64_t t0 = mpp_clock_mono_ns();
    s_finish_session(s, agg, start_real);
    int64_t t1 = mpp_clock_mono_ns();
    status = s_write(&o, s);
    int64_t t2 = mpp_clock_mono_ns();
    mpp_netagg_counts_t c;
    mpp_netagg_counts(agg, &c);
    if (!o.quiet) {
        mpp_netagg_hosts(agg, stderr);
    }
    mpp_say("stopped on %s: %" PRIu64 " run%s joined, %" PRIu64
            " ended; %" PRIu64 " connection%s refused, %" PRIu64
            " message%s rejected", why, c.runs_joined,
            c.runs_joined == 1 ? "" : "s", c.runs_ended, c.refused,
            c.refused == 1 ? "" : "s", s->integrity.rejected,
            s->integrity.rejected == 1 ? "" : "s");
    /* The figures bench/hosts.py reads. */
    mpp_say("received %" PRIu64 " messages (%.1f MB) from %zu processes; "
            "closing the session took %.3f s, writing the outputs %.3f s",
            c.messages, (double)c.bytes / 1e6, s->nprocs,
            (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9);
out:
    mpp_netagg_destroy(&agg);
    mpp_session_destroy(&s);
    close(sigfd);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return status;
}

/* ---- report --host / --rank ------------------------------------------- */

typedef struct {
    const char *host;
    long rank;
} s_sel_t;

static bool
s_selected(const mpp_proc_t *p, void *arg)
{
    const s_sel_t *sel = arg;
    if (sel->host != NULL) {
        /* A one-host session's processes ran on the host of the run. */
        char here[256];
        const char *h = p->host;
        if (h == NULL) {
            mpp_host_name(here, sizeof(here));
            h = here;
        }
        if (strcmp(h, sel->host) != 0) {
            return false;
        }
    }
    return sel->rank < 0 || (p->ranked && p->rank == sel->rank);
}

size_t
mpp_select_procs(mpp_session_t *s, const char *host, long rank)
{
    s_sel_t sel = {host, rank};
    return mpp_session_keep(s, s_selected, &sel);
}
