/*  The agent thread (see mpp_agent.h): the poll loop, the directory, and
 *  the ZeroMQ socket.  What is done with one file lives in
 *  mpp_agent_file.c; what the kernel says about a process in
 *  mpp_aproc.c.
 *
 *  The thread is the only user of the file table, the reader state and
 *  the socket from mpp_agent_start until it stops; the counters are
 *  atomics so that mpp_agent_counts may be called at any time.
 */
#include "mpp_agent_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <zmq.h>

#define S_MS 1000000LL
/* The aggregator's straggler limit (mpp_agg.c), so that the agent never
 * waits for a process longer than the aggregator would have. */
#define S_STRAGGLER_NS (10000 * S_MS)
#define S_SNDHWM 100000    /* frames queued before a send blocks */
#define S_SNDTIMEO_MS 2000 /* longest a blocked send waits */
#define S_LINGER_MS 2000   /* longest closing waits for delivery */
#define S_DEFAULT_INTERVAL_MS 100

static int
s_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof(value));
}

mpp_agent_t *
mpp_agent_new(const char *mapdir, const char *endpoint, const char *token,
              int interval_ms, int *err)
{
    return mpp_agent_new_link(mapdir, endpoint, token, interval_ms, NULL, err);
}

mpp_agent_t *
mpp_agent_new_link(const char *mapdir, const char *endpoint, const char *token,
                   int interval_ms, const mpp_agent_link_t *link, int *err)
{
    mpp_agent_t *self = calloc(1, sizeof(*self));
    *err = MPP_ENOMEM;
    if (self == NULL) {
        return NULL;
    }
    self->wake[0] = self->wake[1] = self->done[0] = self->done[1] = -1;
    self->ino = -1;
    mpp_shmread_out_init(&self->out);
    if (mapdir == NULL || endpoint == NULL || token == NULL ||
        strlen(token) > MPP_WIRE_MAX_TOKEN) {
        *err = MPP_EINVAL;
        goto fail;
    }
    self->interval_ns =
        (interval_ms > 0 ? interval_ms : S_DEFAULT_INTERVAL_MS) * S_MS;
    self->first_live_ns = MPP_AGENT_FIRST_LIVE_TICKS * self->interval_ns;
    if (self->first_live_ns > MPP_AGENT_NEWFILE_GRACE_NS / 2) {
        self->first_live_ns = MPP_AGENT_NEWFILE_GRACE_NS / 2;
    }
    self->dir = strdup(mapdir);
    self->token = strdup(token);
    if (self->dir == NULL || self->token == NULL) {
        goto fail;
    }
    if (pipe2(self->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pipe2(self->done, O_CLOEXEC | O_NONBLOCK) != 0) {
        *err = -errno;
        goto fail;
    }
    /* Without inotify (no instance left, say) the agent still finds every
     * file at the next interval: the watch only makes it sooner.  New
     * names only: a file is read at its tick or its process's death, so
     * its writes do not matter here, and IN_CLOSE_WRITE woke the agent
     * for each of its own reads too (it opens files read-write, for the
     * acknowledgement). */
    self->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (self->ino >= 0 &&
        inotify_add_watch(self->ino, mapdir,
                          IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
        close(self->ino);
        self->ino = -1;
    }
    self->ctx = zmq_ctx_new();
    if (self->ctx == NULL) {
        *err = -zmq_errno();
        goto fail;
    }
    /* A link's DEALER sends as a PUSH does, and can hear the acks. */
    self->sock = zmq_socket(self->ctx, link != NULL ? ZMQ_DEALER : ZMQ_PUSH);
    /* The aggregator is in this process: a send only blocks when it has
     * stopped reading, and then for a bounded time, as does closing. */
    if (self->sock == NULL ||
        s_set_int(self->sock, ZMQ_LINGER, S_LINGER_MS) != 0 ||
        s_set_int(self->sock, ZMQ_SNDHWM, S_SNDHWM) != 0 ||
        s_set_int(self->sock, ZMQ_SNDTIMEO, S_SNDTIMEO_MS) != 0) {
        *err = -zmq_errno();
        goto fail;
    }
    if (link != NULL && (*err = mpp_agent_link(self, link)) != 0) {
        goto fail;
    }
    if (zmq_connect(self->sock, endpoint) != 0) {
        *err = -zmq_errno();
        goto fail;
    }
    *err = 0;
    return self;
fail:
    mpp_agent_destroy(&self);
    return NULL;
}

/* ---- sending ----------------------------------------------------------- */

bool
mpp_agent_send(mpp_agent_t *self, const mpp_shmread_out_t *out)
{
    bool all = true;
    for (size_t i = 0; i < out->n; i++) {
        const mpp_buf_t *b = &out->frame[i];
        /* The aggregator drops the connection of a sender whose frame is
         * over its limit, and what was queued behind it: never send one. */
        if (b->len > MPP_WIRE_MAX_MSG) {
            atomic_fetch_add(&self->n.unsent, 1);
            all = false;
            continue;
        }
        int rc = 0;
        /* The envelope and the message travel as one multipart message:
         * ZeroMQ delivers both parts or neither. */
        if (self->prefix_len > 0) {
            do {
                rc = zmq_send(self->sock, self->prefix, self->prefix_len,
                              ZMQ_SNDMORE);
            } while (rc < 0 && zmq_errno() == EINTR);
        }
        while (rc >= 0 &&
               (rc = zmq_send(self->sock, b->data, b->len, 0)) < 0 &&
               zmq_errno() == EINTR) {
        }
        if (rc < 0) {
            atomic_fetch_add(&self->n.unsent, 1);
            all = false;
        }
        else {
            atomic_fetch_add(&self->n.frames, 1);
        }
    }
    return all;
}

/* ---- the directory ----------------------------------------------------- */

/*  Parses "p<pid>-<mono>.mpp", the only names the core gives its files
 *  (mpp_core.c, s_shm_path); anything else in the directory is not ours
 *  and is left alone. */
static bool
s_parse_name(const char *name, int64_t *pid, int64_t *mono)
{
    long long a, b;
    int end = 0;
    if (name[0] != 'p' || name[1] < '0' || name[1] > '9' ||
        sscanf(name, "p%lld-%lld.mpp%n", &a, &b, &end) != 2 ||
        name[end] != '\0' || end == 0 || a <= 0 || b < 0) {
        return false;
    }
    *pid = a;
    *mono = b;
    return true;
}

static mpp_afile_t *
s_find(const mpp_agent_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfiles; i++) {
        if (strcmp(self->files[i]->name, name) == 0) {
            return self->files[i];
        }
    }
    return NULL;
}

/*  Takes in the file `name` when it is one of ours and not seen before;
 *  false only when out of memory. */
static bool
s_take(mpp_agent_t *self, const char *name, int64_t now)
{
    int64_t pid, mono;
    if (!s_parse_name(name, &pid, &mono) || s_find(self, name) != NULL) {
        return true;
    }
    if (self->nfiles == self->capfiles &&
        mpp_grow((void **)&self->files, &self->capfiles, self->nfiles + 1,
                 sizeof(*self->files)) != 0) {
        return false;
    }
    mpp_afile_t *f = mpp_afile_new(self, name, pid, mono, now);
    if (f == NULL) {
        return false;
    }
    self->files[self->nfiles++] = f;
    return true;
}

/*  Sorts the files taken in since `first_new` oldest first (a handful at a
 *  time: insertion sort), so an exec'd process's older file comes first,
 *  and gives those already dead their final read.  A living process is
 *  not read at first sight, which found a fork child still holding its
 *  parent's copy (unborn) and copied it for nothing, but at a tick once
 *  it has lived a while (s_pass) or at its death, which comes first:
 *  most children are short (issue 12). */
static void
s_settle_new(mpp_agent_t *self, size_t first_new, int64_t now)
{
    for (size_t i = first_new + 1; i < self->nfiles; i++) {
        mpp_afile_t *f = self->files[i];
        size_t j = i;
        while (j > first_new && self->files[j - 1]->name_mono > f->name_mono) {
            self->files[j] = self->files[j - 1];
            j--;
        }
        self->files[j] = f;
    }
    for (size_t i = first_new; i < self->nfiles; i++) {
        if (self->files[i]->dead) {
            mpp_afile_read(self, self->files[i], now);
        }
    }
}

/*  Lists the directory and takes in every file not seen before: at each
 *  tick, and when inotify cannot say what was made (no watch, or its
 *  queue overflowed). */
static void
s_scan(mpp_agent_t *self, int64_t now)
{
    DIR *d = opendir(self->dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    size_t first_new = self->nfiles;
    while ((e = readdir(d)) != NULL) {
        if ((e->d_type == DT_REG || e->d_type == DT_UNKNOWN) &&
            !s_take(self, e->d_name, now)) {
            break;
        }
    }
    closedir(d);
    s_settle_new(self, first_new, now);
}

/*  Empties the inotify queue and takes in the files its events name: one
 *  listing of the directory per new file was a fifth of the agent's time
 *  per fork child (issue 12).  True when the directory must be listed
 *  instead (the queue overflowed). */
static bool
s_drain_inotify(mpp_agent_t *self, int64_t now)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool overflow = false;
    size_t first_new = self->nfiles;
    ssize_t n;
    while ((n = read(self->ino, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0;
             off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev =
                (const struct inotify_event *)(buf + off);
            off += (ssize_t)sizeof(*ev) + ev->len;
            if (off > n) {
                break;
            }
            if (ev->mask & IN_Q_OVERFLOW) {
                overflow = true;
            }
            else if (ev->len > 0 && !(ev->mask & IN_ISDIR) &&
                     memchr(ev->name, '\0', ev->len) != NULL &&
                     !s_take(self, ev->name, now)) {
                overflow = true; /* out of memory: the tick lists again */
            }
        }
    }
    s_settle_new(self, first_new, now);
    return overflow;
}

/*  Drops the files that are finished: their BYE went out (or there is
 *  nothing more to read in them), so the file goes too.  A file that
 *  cannot be removed stays in the table, so it is not taken again. */
static void
s_sweep(mpp_agent_t *self)
{
    size_t k = 0;
    for (size_t i = 0; i < self->nfiles; i++) {
        mpp_afile_t *f = self->files[i];
        if (f->finished && !f->kept) {
            char path[4096];
            int n = snprintf(path, sizeof(path), "%s/%s", self->dir, f->name);
            if (n > 0 && (size_t)n < sizeof(path) &&
                (unlink(path) == 0 || errno == ENOENT)) {
                mpp_afile_destroy(self, &f);
                continue;
            }
            f->kept = true;
            mpp_afile_release(self, f);
        }
        self->files[k++] = f;
    }
    self->nfiles = k;
}

/* ---- the loop ---------------------------------------------------------- */

/*  True when nothing is left to wait for after the target's end: every
 *  file that was ever read is finished, and every one that never was is
 *  either dead or older than the grace a starting process needs to write
 *  its root (a garbage file must not hold the run up). */
static bool
s_all_finished(const mpp_agent_t *self, int64_t now)
{
    for (size_t i = 0; i < self->nfiles; i++) {
        const mpp_afile_t *f = self->files[i];
        if (f->finished) {
            continue;
        }
        if (f->parsed || f->dead ||
            now - f->first_seen_ns < MPP_AGENT_NEWFILE_GRACE_NS) {
            return false;
        }
    }
    return true;
}

static void
s_read_wake(mpp_agent_t *self, bool *ended, bool *hurry)
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

/*  The poll set: the wake-up pipe, inotify, then the pidfd of every
 *  process not known to be dead; `who` maps the pidfds back to files. */
static size_t
s_pollset(mpp_agent_t *self)
{
    size_t need = self->nfiles + 2;
    if (need > self->cappoll) {
        size_t cap = self->cappoll;
        if (mpp_grow((void **)&self->pfd, &cap, need, sizeof(*self->pfd)) !=
                0 ||
            mpp_grow((void **)&self->who, &self->cappoll, need,
                     sizeof(*self->who)) != 0) {
            need = self->cappoll < 2 ? 0 : self->cappoll;
        }
    }
    if (need < 2) {
        return 0;
    }
    size_t n = 0;
    self->pfd[n++] = (struct pollfd){self->wake[0], POLLIN, 0};
    self->pfd[n++] = (struct pollfd){self->ino, POLLIN, 0};
    for (size_t i = 0; i < self->nfiles && n < self->cappoll; i++) {
        mpp_afile_t *f = self->files[i];
        if (f->pidfd >= 0 && !f->dead && !f->finished) {
            self->who[n] = f;
            self->pfd[n++] = (struct pollfd){f->pidfd, POLLIN, 0};
        }
    }
    return n;
}

/*  Marks dead every process whose pidfd says it has ended although the
 *  loop has not seen it yet: a hurried last look must give an ended
 *  process its final read (its open frames closed, its BYE), not one
 *  more live read. */
static void
s_note_deaths(mpp_agent_t *self, int64_t now)
{
    for (size_t i = 0; i < self->nfiles; i++) {
        mpp_afile_t *f = self->files[i];
        if (f->pidfd < 0 || f->dead || f->finished) {
            continue;
        }
        struct pollfd p = {f->pidfd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            mpp_afile_died(self, f, now);
        }
    }
}

/*  One read of every file that is not finished; at ticks (`all` false)
 *  not of a living process known for less than first_live_ns, whose
 *  death will get it read.  That wait is never longer than half the
 *  grace of a new file (s_all_finished): a living process not yet read
 *  past that grace would count as a garbage file, and the agent could
 *  end before it with a long --interval. */
static void
s_pass(mpp_agent_t *self, int64_t now, bool all)
{
    for (size_t i = 0; i < self->nfiles; i++) {
        mpp_afile_t *f = self->files[i];
        bool young = now - f->first_seen_ns < self->first_live_ns;
        if (f->finished || (!all && !f->dead && young)) {
            continue;
        }
        mpp_afile_read(self, f, now);
    }
}

static void *
s_thread_main(void *arg)
{
    mpp_agent_t *self = arg;
    bool ended = false, hurry = false;
    /* A name for top, perf and /proc/<pid>/task (at most 15 bytes). */
    (void)pthread_setname_np(pthread_self(), "mpprof-agent");
    int64_t ended_ns = 0;
    int64_t next_tick = mpp_clock_mono_ns();

    for (;;) {
        int64_t now = mpp_clock_mono_ns();
        int timeout = 0;
        if (next_tick > now) {
            timeout = (int)((next_tick - now + S_MS - 1) / S_MS);
        }
        size_t np = s_pollset(self);
        int n = np > 0 ? poll(self->pfd, np, timeout) : 0;
        if (np == 0) {
            usleep((useconds_t)timeout * 1000u); /* out of memory: tick */
        }
        if (n < 0 && errno != EINTR) {
            break;
        }
        now = mpp_clock_mono_ns();
        if (n > 0 && (self->pfd[0].revents & POLLIN)) {
            bool was = ended;
            s_read_wake(self, &ended, &hurry);
            if (ended && !was) {
                ended_ns = now;
                self->ended = true;
                mpp_afile_settle_held(self, now);
            }
        }
        /* Deaths first: a pid that died and was reused since must not be
         * taken for an exec of the same process by the scan below. */
        for (size_t i = 2; n > 0 && i < np; i++) {
            if (self->pfd[i].revents != 0) {
                mpp_afile_died(self, self->who[i], now);
            }
        }
        bool scan = now >= next_tick;
        if (n > 0 && self->ino >= 0 && (self->pfd[1].revents & POLLIN)) {
            scan = s_drain_inotify(self, now) || scan;
        }
        if (scan) {
            s_scan(self, now);
        }
        if (now >= next_tick) {
            s_pass(self, now, false);
            next_tick += self->interval_ns;
            if (next_tick <= now) {
                next_tick = now + self->interval_ns;
            }
        }
        s_sweep(self);
        if (hurry || (ended && (now - ended_ns >= S_STRAGGLER_NS ||
                                s_all_finished(self, now)))) {
            break;
        }
    }
    /* The last look: files made since, and whatever is still open. */
    int64_t now = mpp_clock_mono_ns();
    self->ended = true;
    s_scan(self, now);
    s_note_deaths(self, now);
    s_pass(self, now, true);
    mpp_afile_settle_held(self, now);
    s_sweep(self);
    for (size_t i = 0; i < self->nfiles; i++) {
        mpp_afile_release(self, self->files[i]);
    }
    /* Closing here, not in destroy, so that every frame has reached the
     * aggregator (bounded by the linger) once the done byte is seen.  A
     * link's socket stays for the run's last word (the launcher's). */
    if (!self->remote) {
        zmq_close(self->sock);
        self->sock = NULL;
        zmq_ctx_term(self->ctx);
        self->ctx = NULL;
    }
    ssize_t w;
    do {
        w = write(self->done[1], "d", 1);
    } while (w < 0 && errno == EINTR);
    return NULL;
}

int
mpp_agent_start(mpp_agent_t *self)
{
    int rc = pthread_create(&self->thread, NULL, s_thread_main, self);
    if (rc != 0) {
        return -rc;
    }
    self->started = true;
    return 0;
}

static void
s_cmd(mpp_agent_t *self, char cmd)
{
    ssize_t w;
    do {
        w = write(self->wake[1], &cmd, 1);
    } while (w < 0 && errno == EINTR);
}

void
mpp_agent_target_ended(mpp_agent_t *self, int64_t pid, int wait_status)
{
    /* Stored before the byte is written: the pipe orders them for the
     * thread that reads the byte. */
    atomic_store(&self->target_ws, wait_status);
    atomic_store(&self->target_pid, pid);
    s_cmd(self, 'e');
}

void
mpp_agent_hurry(mpp_agent_t *self)
{
    s_cmd(self, 'h');
}

int
mpp_agent_done_fd(const mpp_agent_t *self)
{
    return self->done[0];
}

void
mpp_agent_join(mpp_agent_t *self)
{
    if (self->started && !self->joined) {
        pthread_join(self->thread, NULL);
        self->joined = true;
    }
}

void
mpp_agent_counts(const mpp_agent_t *self, mpp_agent_counts_t *out)
{
    out->files = atomic_load(&self->n.files);
    out->frames = atomic_load(&self->n.frames);
    out->corrupt = atomic_load(&self->n.corrupt);
    out->torn = atomic_load(&self->n.torn);
    out->unreadable = atomic_load(&self->n.unreadable);
    out->unsent = atomic_load(&self->n.unsent);
    out->lost = atomic_load(&self->n.lost);
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
mpp_agent_destroy(mpp_agent_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_agent_t *self = *self_p;
    if (self->started && !self->joined) {
        mpp_agent_hurry(self);
        mpp_agent_join(self);
    }
    for (size_t i = 0; i < self->nfiles; i++) {
        mpp_afile_destroy(self, &self->files[i]);
    }
    free(self->files);
    free(self->pfd);
    free(self->who);
    mpp_shmread_out_fini(&self->out);
    free(self->rbuf);
    if (self->sock != NULL) {
        zmq_close(self->sock);
    }
    if (self->ctx != NULL) {
        zmq_ctx_term(self->ctx);
    }
    s_close(&self->ino);
    s_close(&self->wake[0]);
    s_close(&self->wake[1]);
    s_close(&self->done[0]);
    s_close(&self->done[1]);
    free(self->dir);
    free(self->token);
    free(self->prefix);
    free(self);
    *self_p = NULL;
}
