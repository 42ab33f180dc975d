/*  `mpprof run --join JOIN`: the run profiles its process tree as ever,
 *  and its agent streams to the aggregator of `mpprof collect`, on this
 *  host or another, instead of one of its own (see mpp_launcher.h).
 *
 *  Every message the agent sends goes behind an envelope naming this
 *  host, the rank the launcher gave (mpirun, srun) and a random run id;
 *  the aggregator is told when the run joins and when it has ended, so
 *  that `collect --expect N` knows when everything is in.
 */
#include "mpp_launcher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpp_agent.h"
#include "mpp_clock.h"
#include "mpp_net.h"

/* How long the end of a run waits for its queued messages to leave and
 * for the aggregator to confirm its end, when the aggregator is slow or
 * gone: then the run ends anyway. */
#define S_LINGER_MS 10000
/* Closing after that waits only a moment more: a confirmed end means
 * everything before it arrived, and without one the wait is over. */
#define S_CLOSE_LINGER_MS 1000
/* The wait for the ack of a JOIN before the target starts: one round trip
 * on any network, and a bounded delay when the aggregator is away. */
#define S_JOIN_ACK_MS 1000
/* How often the end is sent again while no ack comes. */
#define S_END_RETRY_MS 1000
/* How often the clock is read while the run streams (mpp_clockprobe):
 * often enough that a clock stepped or drifting meanwhile is followed
 * within a second, at a few small messages a second. */
#define S_CLOCK_PERIOD_MS 1000

struct mpp_runjoin {
    mpp_join_t join;
    mpp_envelope_t env;
    mpp_clockprobe_t *probe;
};

/*  A Dask worker's name, from its command line: `dask-worker ... --name
 *  N`, `dask worker ...`, `python -m distributed.cli.dask_worker ...`.
 *  Dask itself says it nowhere a launcher could read. */
static void
s_dask_worker(char *const *cmd, size_t n, char *out, size_t cap)
{
    bool dask = false;
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(cmd[i], '/');
        base = base != NULL ? base + 1 : cmd[i];
        dask = dask || strstr(cmd[i], "dask_worker") != NULL ||
               strstr(cmd[i], "dask-worker") != NULL ||
               (strcmp(base, "dask") == 0 && i + 1 < n &&
                strcmp(cmd[i + 1], "worker") == 0);
    }
    for (size_t i = 0; dask && i < n; i++) {
        const char *name = NULL;
        if (strcmp(cmd[i], "--name") == 0 && i + 1 < n) {
            name = cmd[i + 1];
        }
        else if (strncmp(cmd[i], "--name=", 7) == 0) {
            name = cmd[i] + 7;
        }
        if (name != NULL) {
            snprintf(out, cap, "%s", name);
        }
    }
    /* The aggregator refuses control characters in a name. */
    for (char *c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
}

/*  Where the run's own files are (see mpp_envelope_t.main_dir): what
 *  Python names the main script's directory, the working directory
 *  joined with the script's path up to its last slash, as it is (Python
 *  3.11 to 3.15 name "./job.py" "/cwd/./job.py"); for -m and -c the
 *  working directory.  And the same resolved, as sys.path[0] is. */
static void
s_main_dirs(char *const *cmd, size_t n, mpp_envelope_t *e)
{
    char cwd[MPP_NET_MAX_WHAT + 1];
    if (n == 0 || getcwd(cwd, sizeof(cwd)) == NULL) {
        return;
    }
    const char *script = cmd[0][0] != '-' ? cmd[0] : NULL;
    const char *slash = script != NULL ? strrchr(script, '/') : NULL;
    int len;
    if (slash == NULL) {
        len = snprintf(e->main_dir, sizeof(e->main_dir), "%s", cwd);
    }
    else if (script[0] == '/') {
        len = snprintf(e->main_dir, sizeof(e->main_dir), "%.*s",
                       (int)(slash - script), script);
    }
    else {
        len = snprintf(e->main_dir, sizeof(e->main_dir), "%s/%.*s", cwd,
                       (int)(slash - script), script);
    }
    /* "/" (a script at the root) would claim every file: none then. */
    if (len <= 1 || (size_t)len >= sizeof(e->main_dir)) {
        e->main_dir[0] = '\0';
        return;
    }
    char *real = realpath(e->main_dir, NULL);
    if (real != NULL && strlen(real) > 1 && strcmp(real, e->main_dir) != 0 &&
        strlen(real) < sizeof(e->main_realdir)) {
        memcpy(e->main_realdir, real, strlen(real) + 1);
    }
    free(real);
}

mpp_runjoin_t *
mpp_runjoin_new(const char *text, char *const *command, size_t ncommand)
{
    mpp_runjoin_t *self = calloc(1, sizeof(*self));
    const char *why = NULL;
    if (self == NULL) {
        mpp_say("%s", mpp_strerror(MPP_ENOMEM));
        return NULL;
    }
    int rc = mpp_join_parse(text, &self->join, &why);
    if (rc != 0) {
        if (rc == MPP_EINVAL) {
            mpp_say("--join: %s", why);
        }
        else {
            mpp_say("--join: %s '%s': %s", why, text + 1, mpp_strerror(rc));
        }
        free(self);
        return NULL;
    }
    mpp_envelope_t *e = &self->env;
    memcpy(e->token, self->join.token, sizeof(self->join.token));
    mpp_host_name(e->host, sizeof(e->host));
    e->ranked = mpp_host_rank(&e->rank);
    e->offset_err_ns = -1;
    s_dask_worker(command, ncommand, e->worker, sizeof(e->worker));
    s_main_dirs(command, ncommand, e);
    if (mpp_random_hex(e->run, MPP_NET_RUN_LEN / 2) != 0) {
        mpp_say("cannot make a run id: no random numbers");
        free(self);
        return NULL;
    }
    /* The command as one line, for the aggregator's report. */
    size_t used = 0;
    for (size_t i = 0; i < ncommand && used + 1 < sizeof(e->what); i++) {
        int n = snprintf(e->what + used, sizeof(e->what) - used, "%s%s",
                         i ? " " : "", command[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
    return self;
}

const char *
mpp_runjoin_endpoint(const mpp_runjoin_t *self)
{
    return self->join.endpoint;
}

/* Sends an envelope of `kind` on its own. */
static int
s_control(mpp_runjoin_t *self, mpp_agent_t *agent, int kind)
{
    void *data = NULL;
    size_t len = 0;
    self->env.kind = kind;
    self->env.sent_ns = mpp_clock_real_ns();
    int rc = mpp_envelope_encode(&self->env, &data, &len);
    if (rc == 0) {
        rc = mpp_agent_send_control(agent, data, len);
    }
    free(data);
    return rc;
}

/*  Waits, until `deadline` (monotonic), for the ack of `kind`; acks of
 *  other kinds (a JOIN answered late) are passed over, and so are, when
 *  `echo` is not NULL, acks of an envelope sent at another time than
 *  *echo (an earlier JOIN answered late, whose round trip would be
 *  measured short).  Returns true with the aggregator's time in
 *  *real_ns. */
static bool
s_wait_ack(mpp_agent_t *agent, int kind, const int64_t *echo,
           int64_t deadline, int64_t *real_ns)
{
    for (;;) {
        int64_t left = deadline - mpp_clock_mono_ns();
        if (left <= 0) {
            return false;
        }
        uint8_t buf[64];
        int got, k;
        int64_t e;
        got = mpp_agent_recv_control(agent, buf, sizeof(buf),
                                     (int)((left + 999999) / 1000000));
        if (got == -ETIMEDOUT || (got < 0 && got != -EINTR && got != -EAGAIN)) {
            return false;
        }
        if (got > 0 &&
            mpp_ack_decode(buf, (size_t)got, &k, real_ns, &e) == 0 &&
            k == kind && (echo == NULL || e == *echo)) {
            return true;
        }
    }
}

/*  One clock reading: a JOIN (which counts once however often it is
 *  sent) and its ack.  The aggregator's clock read t2 while ours went
 *  from t1 to t3: offset t2 - (t1 + t3) / 2, wrong by at most half the
 *  round trip.  The reading goes to the aggregator as a CLOCK, and the
 *  best one so far into the envelope (for an aggregator that reads no
 *  CLOCK). */
static void
s_clock(mpp_runjoin_t *self, mpp_agent_t *agent, int timeout_ms)
{
    int64_t t2, m1 = mpp_clock_mono_ns();
    if (s_control(self, agent, MPP_ENV_JOIN) != 0) {
        return;
    }
    int64_t t1 = self->env.sent_ns;
    if (!s_wait_ack(agent, MPP_ENV_JOIN, &t1, m1 + timeout_ms * 1000000LL,
                    &t2)) {
        return;
    }
    int64_t at, off, err;
    mpp_clock_reading(t1, t2, mpp_clock_mono_ns() - m1, &at, &off, &err);
    mpp_envelope_t keep = self->env;
    self->env.sent_ns = at;
    self->env.offset_ns = off;
    self->env.offset_err_ns = err;
    self->env.kind = MPP_ENV_CLOCK;
    void *data = NULL;
    size_t len = 0;
    if (mpp_envelope_encode(&self->env, &data, &len) == 0) {
        (void)mpp_agent_send_control(agent, data, len);
    }
    free(data);
    self->env = keep;
    if (self->env.offset_err_ns < 0 || err < self->env.offset_err_ns) {
        self->env.offset_ns = off;
        self->env.offset_err_ns = err;
    }
}

mpp_agent_t *
mpp_runjoin_agent(mpp_runjoin_t *self, const char *mapdir, int interval_ms,
                  int *err)
{
    void *prefix = NULL;
    size_t plen = 0;
    self->env.kind = MPP_ENV_DATA;
    /* The envelope of the data messages is made once: its send time is
     * the run's start, which the aggregator does not use for clocks. */
    self->env.sent_ns = mpp_clock_real_ns();
    if ((*err = mpp_envelope_encode(&self->env, &prefix, &plen)) != 0) {
        return NULL;
    }
    mpp_agent_link_t link = {
        .server_key = self->join.secure ? self->join.key : NULL,
        .prefix = prefix, .prefix_len = plen, .linger_ms = S_CLOSE_LINGER_MS,
    };
    mpp_agent_t *agent = mpp_agent_new_link(mapdir, self->join.endpoint,
                                            self->join.token, interval_ms,
                                            &link, err);
    free(prefix);
    if (agent != NULL) {
        /* Joined even when no ack comes in time: the JOIN stays queued. */
        s_clock(self, agent, S_JOIN_ACK_MS);
        /* The data messages carry the reading too, so that a run cut
         * off before its end still has its clock aligned. */
        self->env.kind = MPP_ENV_DATA;
        if (self->env.offset_err_ns >= 0 &&
            mpp_envelope_encode(&self->env, &prefix, &plen) == 0) {
            (void)mpp_agent_set_prefix(agent, prefix, plen);
            free(prefix);
        }
        /* Without the readings while it streams, the run's clock is
         * still aligned by those at its start and end. */
        int perr;
        self->probe = mpp_clockprobe_new(&self->join, &self->env,
                                         S_CLOCK_PERIOD_MS, &perr);
    }
    return agent;
}

void
mpp_runjoin_end(mpp_runjoin_t *self, mpp_agent_t **agent, int exit_status,
                bool quiet)
{
    mpp_agent_counts_t c;
    mpp_agent_counts(*agent, &c);
    self->env.status = exit_status;
    int64_t deadline = mpp_clock_mono_ns() + S_LINGER_MS * 1000000LL;
    mpp_clockprobe_destroy(&self->probe);
    /* A last clock reading, at the end. */
    s_clock(self, *agent, S_JOIN_ACK_MS);
    /* The end, until the aggregator confirms it: messages on one
     * connection arrive in order, so everything before it is in too.
     * ZeroMQ alone would not say so when a connection was re-made just
     * before closing. */
    bool confirmed = false;
    int64_t real;
    while (!confirmed && mpp_clock_mono_ns() < deadline) {
        int64_t next = mpp_clock_mono_ns() + S_END_RETRY_MS * 1000000LL;
        if (s_control(self, *agent, MPP_ENV_END) == 0) {
            /* Any END's ack confirms it, a late one too. */
            confirmed = s_wait_ack(*agent, MPP_ENV_END, NULL,
                                   next < deadline ? next : deadline, &real);
        }
        else {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    mpp_agent_destroy(agent);
    if (!confirmed || c.unsent > 0) {
        mpp_say("note: %llu message%s could not be sent to %s%s",
                (unsigned long long)c.unsent, c.unsent == 1 ? "" : "s",
                self->join.endpoint,
                !confirmed ? ", and it did not confirm the end of the run"
                           : "");
    }
    else if (!quiet) {
        mpp_say("profile streamed to %s (%llu messages, host %s)",
                self->join.endpoint, (unsigned long long)c.frames,
                self->env.host);
    }
}

void
mpp_runjoin_destroy(mpp_runjoin_t **self_p)
{
    if (self_p != NULL && *self_p != NULL) {
        mpp_clockprobe_destroy(&(*self_p)->probe);
        free(*self_p);
        *self_p = NULL;
    }
}
