/*  The aggregator thread (see mpp_launcher.h).
 *
 *  While the target runs, the thread blocks in zmq_poll on the PULL socket
 *  and on a wake-up pipe, and hands every frame to mpp_ingest_frame.  It
 *  is the only user of the session until it is joined, so the session
 *  needs no lock.  Once told that the target has ended, it keeps
 *  receiving from the processes that are still streaming (no BYE yet and
 *  still alive), bounded in time, then drains the socket once more.
 */
#include "mpp_aggregator.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_MS 1000000LL                 /* nanoseconds per millisecond */
#define S_RCVHWM 100000                /* frames queued before dropping */
#define S_TICK_MS 50                   /* liveness checks while draining */
#define S_STRAGGLER_NS (10000 * S_MS)  /* longest wait after the target */
#define S_QUIET_NS (2000 * S_MS)       /* silence that ends the wait when
                                        * the rest ended without a BYE */
#define S_DRAIN_MS 50                  /* last look for in-flight frames */
#define S_DRAIN_MAX_NS (1000 * S_MS)
#define S_EXPECT_MAX_NS (10000 * S_MS) /* longest wait for frames a sender
                                        * said it sent */
#define S_BATCH 1024                   /* frames per poll round */

struct mpp_agg {
    void *ctx;
    void *sock;
    char token[MPP_TOKEN_LEN + 1];
    mpp_session_t *session;
    pthread_t thread;
    bool started;
    bool joined;
    int wake[2]; /* main -> thread: 'e' target ended, 'h' hurry */
    int done[2]; /* thread -> main: one byte when the thread stops */
    /* Live counts (mpp_agg_live): written by the thread only, read by
     * any.  `live_seq` is odd while they are being written, so a reader
     * that sees it change or odd reads again (a seqlock). */
    bool live;
    bool live_dirty;     /* frames came since the last publication */
    int64_t live_due_ns; /* the earliest time of the next one */
    atomic_uint live_seq;
    _Atomic uint64_t live_procs, live_ended, live_calls;
    /* Frames received and accepted, and how many a sender that has
     * finished says it handed over (mpp_agg_expect): the final drain goes
     * on until the first reaches the second, not just until the socket is
     * quiet. */
    _Atomic uint64_t received, expected;
    /* Set by mpp_agg_expect: the sender that reported is the only one
     * (the launcher's agent), so once its frames are in, none can be in
     * flight and the final drain need not wait for any. */
    atomic_bool sole_sender;
};

static int
s_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof(value));
}

mpp_agg_t *
mpp_agg_new(const char *endpoint, const char *token, mpp_session_t *session,
            int *err)
{
    mpp_agg_t *self = calloc(1, sizeof(*self));
    /* One byte over the wire limit, so that a frame just too big still
     * reaches mpp_ingest_frame and is counted as rejected; ZeroMQ drops a
     * larger one unread, with its sender's connection. */
    int64_t maxmsg = (int64_t)MPP_WIRE_MAX_MSG + 1;

    *err = MPP_ENOMEM;
    if (self == NULL) {
        return NULL;
    }
    self->wake[0] = self->wake[1] = self->done[0] = self->done[1] = -1;
    if (strlen(token) != MPP_TOKEN_LEN) {
        *err = MPP_EINVAL;
        goto fail;
    }
    memcpy(self->token, token, MPP_TOKEN_LEN + 1);
    self->session = session;
    if (pipe2(self->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pipe2(self->done, O_CLOEXEC | O_NONBLOCK) != 0) {
        *err = -errno;
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    if (self->ctx == NULL) {
        *err = -zmq_errno();
        goto fail;
    }
    /* Closing must never wait for peers: nothing we hold is worth it. */
    zmq_ctx_set(self->ctx, ZMQ_BLOCKY, 0);
    self->sock = zmq_socket(self->ctx, ZMQ_PULL);
    if (self->sock == NULL ||
        s_set_int(self->sock, ZMQ_LINGER, 0) != 0 ||
        s_set_int(self->sock, ZMQ_RCVHWM, S_RCVHWM) != 0 ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &maxmsg,
                       sizeof(maxmsg)) != 0 ||
        zmq_bind(self->sock, endpoint) != 0) {
        *err = -zmq_errno();
        goto fail;
    }
    *err = 0;
    return self;
fail:
    mpp_agg_destroy(&self);
    return NULL;
}

/*  Receives what is queued, at most S_BATCH frames so the wake-up pipe is
 *  looked at in between.  Returns the number of frames. */
static int
s_recv_batch(mpp_agg_t *self)
{
    int n = 0;
    while (n < S_BATCH) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        /* Only accepted frames count against what the agent says it
         * sent: a frame another process of the session sent (rejected)
         * must not stand in for one of the agent's still in flight, or
         * the final drain stops before that one arrives (a BYE missed,
         * the process taken for lost: test_hostile, once). */
        if (mpp_ingest_frame(self->session, self->token, zmq_msg_data(&msg),
                             zmq_msg_size(&msg)) == 0) {
            atomic_fetch_add(&self->received, 1);
        }
        zmq_msg_close(&msg);
        n++;
    }
    return n;
}

/*  True when `pid` may still send something: it exists and is not a
 *  zombie.  A zombie has run its last line, and so has a pid that is
 *  gone. */
static bool
s_alive(int64_t pid)
{
    char path[64], buf[512];

    if (pid <= 0 || pid > INT_MAX) {
        return false;
    }
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        return false;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno != ENOENT;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return true;
    }
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may itself hold ") ", so the state is
     * found after the last parenthesis. */
    const char *rp = strrchr(buf, ')');
    return !(rp != NULL && rp[1] == ' ' && rp[2] == 'Z');
}

/*  Decides whether the wait for stragglers is over: nobody is streaming
 *  any more, and either everybody said BYE or the socket has been quiet
 *  long enough for anything in flight from the dead to have arrived. */
static bool
s_stragglers_done(const mpp_agg_t *self, int64_t quiet_ns)
{
    const mpp_session_t *s = self->session;
    bool all_bye = true;

    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        if (!mpp_ingest_streaming(p)) {
            continue;
        }
        all_bye = false;
        if (s_alive(p->pid)) {
            return false;
        }
    }
    return all_bye || quiet_ns >= S_QUIET_NS;
}

/* Reads the commands sent by the main thread. */
static void
s_read_wake(mpp_agg_t *self, bool *ended, bool *hurry)
{
    char cmd[16];
    ssize_t n;
    while ((n = read(self->wake[0], cmd, sizeof(cmd))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            *ended = *ended || cmd[i] == 'e' || cmd[i] == 'h';
            *hurry = *hurry || cmd[i] == 'h';
        }
    }
}

/* One last look for frames that were in flight, bounded in time. */
static void
s_final_drain(mpp_agg_t *self)
{
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int64_t start = mpp_clock_mono_ns();

    /* A quiet socket is not proof that all is in: frames a sender handed
     * to ZeroMQ may still be on their way through the I/O threads (seen
     * on a loaded machine under ASan), so the count it reported is
     * awaited first, bounded. */
    for (;;) {
        int64_t now = mpp_clock_mono_ns();
        bool owed = atomic_load(&self->received) < atomic_load(&self->expected);
        if (now - start >= (owed ? S_EXPECT_MAX_NS : S_DRAIN_MAX_NS)) {
            break;
        }
        bool all_in = !owed && atomic_load(&self->sole_sender);
        int n = zmq_poll(&item, 1, all_in ? 0 : S_DRAIN_MS);
        if (n < 0 && zmq_errno() != EINTR) {
            break;
        }
        if ((n <= 0 || s_recv_batch(self) == 0) && !owed) {
            break;
        }
    }
}

/*  Publishes the live counts when frames came since the last time and
 *  MPP_AGG_LIVE_MS has passed.  Returns the poll timeout (ms) after which
 *  a pending publication is due, or -1 when none is pending. */
static int
s_live_publish(mpp_agg_t *self, int64_t now)
{
    if (!self->live || !self->live_dirty) {
        return -1;
    }
    if (now < self->live_due_ns) {
        return (int)((self->live_due_ns - now + S_MS - 1) / S_MS);
    }
    const mpp_session_t *s = self->session;
    uint64_t ended = 0, calls = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        ended += !mpp_ingest_streaming(&s->procs[i]);
        calls += mpp_proc_calls(&s->procs[i]);
    }
    atomic_fetch_add(&self->live_seq, 1);
    atomic_store(&self->live_procs, (uint64_t)s->nprocs);
    atomic_store(&self->live_ended, ended);
    atomic_store(&self->live_calls, calls);
    atomic_fetch_add(&self->live_seq, 1);
    self->live_dirty = false;
    self->live_due_ns = now + MPP_AGG_LIVE_MS * S_MS;
    return -1;
}

void
mpp_agg_track_live(mpp_agg_t *self)
{
    self->live = true;
}

void
mpp_agg_live(mpp_agg_t *self, mpp_agg_live_t *out)
{
    for (;;) {
        unsigned seq = atomic_load(&self->live_seq);
        out->procs = atomic_load(&self->live_procs);
        out->ended = atomic_load(&self->live_ended);
        out->calls = atomic_load(&self->live_calls);
        if (!(seq & 1) && seq == atomic_load(&self->live_seq)) {
            return;
        }
        sched_yield();
    }
}

static void *
s_thread_main(void *arg)
{
    mpp_agg_t *self = arg;
    zmq_pollitem_t items[2] = {
        {self->sock, 0, ZMQ_POLLIN, 0},
        {NULL, self->wake[0], ZMQ_POLLIN, 0},
    };
    bool ended = false, hurry = false;
    int64_t ended_ns = 0, last_msg_ns = mpp_clock_mono_ns();

    int live_ms = -1;
    for (;;) {
        int timeout = ended ? S_TICK_MS : -1;
        if (live_ms >= 0 && (timeout < 0 || live_ms < timeout)) {
            timeout = live_ms;
        }
        int n = zmq_poll(items, 2, timeout);
        if (n < 0 && zmq_errno() != EINTR) {
            break;
        }
        int64_t now = mpp_clock_mono_ns();
        if (n > 0 && (items[0].revents & ZMQ_POLLIN) &&
            s_recv_batch(self) > 0) {
            last_msg_ns = now;
            self->live_dirty = true;
        }
        live_ms = s_live_publish(self, now);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            bool was_ended = ended;
            s_read_wake(self, &ended, &hurry);
            if (ended && !was_ended) {
                ended_ns = now;
            }
        }
        if (!ended) {
            continue;
        }
        if (hurry || now - ended_ns >= S_STRAGGLER_NS ||
            s_stragglers_done(self, now - last_msg_ns)) {
            break;
        }
    }
    s_final_drain(self);
    ssize_t w;
    do {
        w = write(self->done[1], "d", 1);
    } while (w < 0 && errno == EINTR);
    return NULL;
}

int
mpp_agg_start(mpp_agg_t *self)
{
    int rc = pthread_create(&self->thread, NULL, s_thread_main, self);
    if (rc != 0) {
        return -rc;
    }
    self->started = true;
    return 0;
}

static void
s_send(mpp_agg_t *self, char cmd)
{
    ssize_t w;
    do {
        w = write(self->wake[1], &cmd, 1);
    } while (w < 0 && errno == EINTR);
}

void
mpp_agg_target_ended(mpp_agg_t *self)
{
    s_send(self, 'e');
}

void
mpp_agg_expect(mpp_agg_t *self, uint64_t frames)
{
    atomic_fetch_add(&self->expected, frames);
    atomic_store(&self->sole_sender, true);
}

void
mpp_agg_hurry(mpp_agg_t *self)
{
    s_send(self, 'h');
}

int
mpp_agg_done_fd(const mpp_agg_t *self)
{
    return self->done[0];
}

void
mpp_agg_join(mpp_agg_t *self)
{
    if (self->started && !self->joined) {
        pthread_join(self->thread, NULL);
        self->joined = true;
    }
}

static void
s_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void
mpp_agg_destroy(mpp_agg_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_agg_t *self = *self_p;
    if (self->started && !self->joined) {
        mpp_agg_hurry(self);
        mpp_agg_join(self);
    }
    if (self->sock != NULL) {
        zmq_close(self->sock);
    }
    if (self->ctx != NULL) {
        zmq_ctx_term(self->ctx);
    }
    s_close(&self->wake[0]);
    s_close(&self->wake[1]);
    s_close(&self->done[0]);
    s_close(&self->done[1]);
    free(self);
    *self_p = NULL;
}
