/*  The process-wide collector; see mpp_core.h. */
#include "mpp_core.h"
#include "mpp_cats.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A queue this deep absorbs minutes of batches from a stalled aggregator;
 * every batch is cumulative, so older ones are only ever superseded. */
#define S_SNDHWM 10000

/*  pthread_atfork handlers receive no argument, so the child handler finds
 *  the core through this pointer.  It is set once, by mpp_core_start(),
 *  and the core is never freed afterwards. */
static mpp_core_t *s_atfork_core;

static int64_t
s_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  When the process really started, so wall time includes interpreter
 *  startup: field 22 of /proc/self/stat is the start in clock ticks since
 *  boot.  Falls back to now. */
static void
s_process_start(int64_t *real_ns, int64_t *mono_ns)
{
    int64_t now_real = s_clock_ns(CLOCK_REALTIME);
    int64_t now_mono = s_clock_ns(CLOCK_MONOTONIC);
    int64_t now_boot = s_clock_ns(CLOCK_BOOTTIME);
    *real_ns = now_real;
    *mono_ns = now_mono;

    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL) {
        return;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses; fields resume
     * after the last ')'. */
    char *p = strrchr(buf, ')');
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (p == NULL || ticks_per_s <= 0) {
        return;
    }
    /* p[1] is the space before field 3; step to the one before 22. */
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (p == NULL) {
            return;
        }
    }
    unsigned long long ticks = strtoull(p + 1, NULL, 10);
    int64_t age = now_boot - (int64_t)(ticks * 1000000000ULL /
                                       (unsigned long long)ticks_per_s);
    if (age > 0 && age < now_boot) {
        *real_ns = now_real - age;
        *mono_ns = now_mono - age;
    }
}

/* ---- construction ------------------------------------------------------ */

mpp_core_t *
mpp_core_new(const mpp_core_cfg_t *cfg)
{
    mpp_core_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    mpp_buf_init(&self->buf);
    self->funcs = mpp_funcs_new();
    self->endpoint = mpp_strdup(cfg->endpoint);
    self->token = mpp_strdup(cfg->token);
    self->python = mpp_strdup(cfg->python ? cfg->python : "?");
    self->name = mpp_strdup(cfg->name ? cfg->name : "MainProcess");
    self->argv = calloc(cfg->argc + 1, sizeof(*self->argv));
    if (self->funcs == NULL || self->endpoint == NULL || self->token == NULL ||
        self->python == NULL || self->name == NULL || self->argv == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < cfg->argc; i++) {
        self->argv[i] = mpp_strdup(cfg->argv[i] ? cfg->argv[i] : "");
        if (self->argv[i] == NULL) {
            goto fail;
        }
        self->argc++;
    }
    mpp_clock_init(&self->clock, cfg->test_clock, cfg->allow_tsc);
    self->pid = getpid();
    self->ppid = cfg->ppid;
    self->start_method = cfg->start_method ? cfg->start_method : "main";
    self->is_forkserver = cfg->is_forkserver;
    self->interval_ns =
        (int64_t)(cfg->interval_ms > 0 ? cfg->interval_ms : 100) * 1000000;
    self->linger_ms = cfg->linger_ms >= 0 ? cfg->linger_ms : 0;
    s_process_start(&self->start_ns, &self->start_mono_ns);
    self->deadline = INT64_MAX;
    return self;

fail:
    mpp_core_destroy(&self);
    return NULL;
}

void
mpp_core_destroy(mpp_core_t **self_p)
{
    mpp_core_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_destroy(&self->threads[i]);
    }
    free(self->threads);
    mpp_sender_destroy(&self->sender);
    mpp_buf_fini(&self->buf);
    free(self->wthreads);
    free(self->wstats);
    free(self->wedges);
    free(self->wfuncs);
    mpp_funcs_destroy(&self->funcs);
    for (size_t i = 0; i < self->argc; i++) {
        free(self->argv[i]);
    }
    free(self->argv);
    free(self->endpoint);
    free(self->token);
    free(self->python);
    free(self->name);
    free(self);
    *self_p = NULL;
}

/* ---- messages ---------------------------------------------------------- */

static void
s_set_deadline(mpp_core_t *self)
{
    self->deadline = mpp_clock_peek(&self->clock) +
                     mpp_clock_ticks(&self->clock, self->interval_ns);
}

static mpp_cost_t
s_cost_ns(const mpp_core_t *self, const mpp_cost_t *ticks)
{
    mpp_cost_t cost = *ticks;
    cost.tt_ns = mpp_clock_ns(&self->clock, ticks->tt_ns);
    cost.ct_ns = mpp_clock_ns(&self->clock, ticks->ct_ns);
    return cost;
}

static void
s_msg_init(const mpp_core_t *self, mpp_msg_t *msg, mpp_msg_type_t type)
{
    memset(msg, 0, sizeof(*msg));
    msg->version = MPP_WIRE_VERSION;
    msg->token = self->token;
    msg->pid = self->pid;
    msg->seq = self->seq;
    msg->type = type;
}

static void
s_msg_times(const mpp_core_t *self, mpp_msg_t *msg)
{
    msg->wall_ns = s_clock_ns(CLOCK_MONOTONIC) - self->start_mono_ns;
    msg->cpu_ns = s_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    msg->dropped = mpp_core_dropped(self);
}

/*  Encodes and queues one message.  The sequence number advances only
 *  when the message is queued, so one that never left leaves no gap for
 *  the aggregator to count. */
static int
s_send(mpp_core_t *self, const mpp_msg_t *msg)
{
    if (self->sender == NULL) {
        if (self->sender_failed) {
            return -ENOTCONN;
        }
        /* A fork child opens its own context on its first message. */
        self->sender =
            mpp_sender_new(self->endpoint, self->linger_ms, S_SNDHWM, NULL);
        if (self->sender == NULL) {
            self->sender_failed = true;
            return -ENOTCONN;
        }
    }
    self->buf.len = 0;
    int rc = mpp_wire_encode(msg, &self->buf);
    if (rc < 0) {
        self->encode_failures++;
        return rc;
    }
    rc = mpp_sender_send(self->sender, self->buf.data, self->buf.len);
    if (rc < 0) {
        self->send_failures++;
        return rc;
    }
    self->seq++;
    self->messages++;
    return 0;
}

/* HELLO opens every incarnation; until it is out, it is retried before
 * any other message. */
static int
s_ensure_hello(mpp_core_t *self)
{
    if (self->hello_sent) {
        return 0;
    }
    mpp_msg_t msg;
    s_msg_init(self, &msg, MPP_MSG_HELLO);
    msg.ppid = self->ppid;
    msg.start_method = self->start_method;
    msg.name = self->name;
    msg.python = self->python;
    msg.argv = (const char **)self->argv;
    msg.argc = self->argc;
    msg.start_ns = self->start_ns;
    int rc = s_send(self, &msg);
    if (rc == 0) {
        self->hello_sent = true;
    }
    return rc;
}

static void
s_take_def(mpp_core_t *self, uint32_t fid, size_t *nfuncs)
{
    if (mpp_funcs_take(self->funcs, fid)) {
        mpp_funcs_get(self->funcs, fid, &self->wfuncs[(*nfuncs)++]);
    }
}

/*  Sends what changed since the last DATA that went out: the dirty stats
 *  and edges of every thread, plus the definitions they refer to that this
 *  incarnation has not sent yet.  Dirty flags are cleared only once the
 *  message is queued; if it is not, the next DATA carries it all again. */
static int
s_send_data(mpp_core_t *self, bool always)
{
    size_t nthreads = 0;
    size_t nstats = 0;
    size_t nedges = 0;

    for (size_t i = 0; i < self->nthreads; i++) {
        const mpp_tstate_t *t = self->threads[i];
        size_t ns = 0;
        size_t ne = 0;
        for (uint32_t j = 0; j < t->nstats; j++) {
            ns += t->stats[j].dirty;
        }
        for (uint32_t j = 0; j < t->nedges; j++) {
            ne += t->edges[j].dirty;
        }
        if (ns + ne > 0 || mpp_cats_dirty(t)) {
            nthreads++;
            nstats += ns;
            nedges += ne;
        }
    }
    size_t nspans = mpp_cats_pending(self);
    if (!always && nthreads == 0 && nspans == 0 && self->name_sent) {
        return 0;
    }
    int rc = s_ensure_hello(self);
    if (rc < 0) {
        return rc;
    }
    if (mpp_grow((void **)&self->wthreads, &self->capwthreads, nthreads,
                 sizeof(*self->wthreads)) < 0 ||
        mpp_grow((void **)&self->wstats, &self->capwstats, nstats,
                 sizeof(*self->wstats)) < 0 ||
        mpp_grow((void **)&self->wedges, &self->capwedges, nedges,
                 sizeof(*self->wedges)) < 0 ||
        mpp_grow((void **)&self->wfuncs, &self->capwfuncs,
                 nstats + 2 * nedges + nspans, sizeof(*self->wfuncs)) < 0) {
        return MPP_ENOMEM;
    }

    mpp_clock_calibrate(&self->clock);
    size_t nfuncs = 0;
    mpp_wthread_t *wt = self->wthreads;
    mpp_wstat_t *ws = self->wstats;
    mpp_wedge_t *we = self->wedges;
    for (size_t i = 0; i < self->nthreads; i++) {
        const mpp_tstate_t *t = self->threads[i];
        mpp_wthread_t *w = wt;
        memset(w, 0, sizeof(*w));
        w->tid = t->tid;
        w->name = t->name;
        w->stats = ws;
        w->edges = we;
        mpp_cats_fill(self, t, w->cat);
        for (uint32_t j = 0; j < t->nstats; j++) {
            const mpp_ts_stat_t *s = &t->stats[j];
            if (s->dirty) {
                ws->fid = s->fid;
                ws->cost = s_cost_ns(self, &s->cost);
                ws++;
                s_take_def(self, s->fid, &nfuncs);
            }
        }
        for (uint32_t j = 0; j < t->nedges; j++) {
            const mpp_ts_edge_t *e = &t->edges[j];
            if (e->dirty) {
                we->caller = t->stats[e->caller - 1].fid;
                we->callee = t->stats[e->callee - 1].fid;
                we->cost = s_cost_ns(self, &e->cost);
                s_take_def(self, we->caller, &nfuncs);
                s_take_def(self, we->callee, &nfuncs);
                we++;
            }
        }
        w->nstats = (size_t)(ws - w->stats);
        w->nedges = (size_t)(we - w->edges);
        if (w->nstats + w->nedges > 0 || mpp_cats_dirty(t)) {
            wt++;
        }
    }
    const mpp_wspan_t *spans = mpp_cats_spans(self, &nspans);
    for (size_t i = 0; i < nspans; i++) {
        if (spans[i].fid != MPP_NOFID) {
            s_take_def(self, spans[i].fid, &nfuncs);
        }
    }

    mpp_msg_t msg;
    s_msg_init(self, &msg, MPP_MSG_DATA);
    msg.name = self->name;
    s_msg_times(self, &msg);
    msg.mem_bytes = mpp_core_mem(self);
    msg.funcs = self->wfuncs;
    msg.nfuncs = nfuncs;
    msg.threads = self->wthreads;
    msg.nthreads = (size_t)(wt - self->wthreads);
    msg.spans = (mpp_wspan_t *)spans;
    msg.nspans = nspans;
    rc = s_send(self, &msg);
    mpp_funcs_settle(self->funcs, self->wfuncs, nfuncs, rc == 0);
    if (rc == 0) {
        for (size_t i = 0; i < self->nthreads; i++) {
            mpp_tstate_t *t = self->threads[i];
            for (uint32_t j = 0; j < t->nstats; j++) {
                t->stats[j].dirty = false;
            }
            for (uint32_t j = 0; j < t->nedges; j++) {
                t->edges[j].dirty = false;
            }
        }
        mpp_cats_sent(self);
        self->name_sent = true;
    }
    return rc;
}

/* ---- fork and exit ----------------------------------------------------- */

static void
s_set_action(int signum, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(signum, &sa, NULL);
}

/*  SIGTERM, while the collector's Python-level handler has it.
 *
 *  A Python-level handler runs only when the main thread gets back to the
 *  interpreter.  A signal that lands just before the main thread blocks in
 *  C (a worker taking the queue's lock, say) trips Python's flag but
 *  interrupts nothing, and the process then waits forever: where the
 *  default action would have ended it, Pool.terminate() would hang.  And
 *  in a fork child Python drops a signal that arrives before its
 *  after-fork reset.  So a C handler sits in front of Python's: it passes
 *  each SIGTERM on, then re-sends it to the main thread every 100 ms with
 *  a timer, which interrupts any blocking call, until the Python handler
 *  runs and disarms it; after 5 s without that, it ends the process with
 *  the default action, as if there were no profiler.  A handler the user
 *  installs later replaces both, as it should.
 *
 *  Signal and atfork handlers receive no argument: this state is static. */
#define S_TERM_RETRY_NS 100000000L
#define S_TERM_RETRIES 50

static void (*s_term_python)(int); /* Python's C-level handler */
static timer_t s_term_timer;       /* re-sends to the main thread */
static volatile sig_atomic_t s_term_timer_ok;
static volatile sig_atomic_t s_term_retries;
static volatile sig_atomic_t s_term_pid; /* who last received one */

static void
s_term_handler(int signum)
{
    int saved_errno = errno;

    s_term_pid = (sig_atomic_t)getpid();
    s_term_python(signum);
    if (s_term_timer_ok) {
        if (++s_term_retries > S_TERM_RETRIES) {
            s_set_action(signum, SIG_DFL);
            raise(signum);
        }
        struct itimerspec again;
        memset(&again, 0, sizeof(again));
        again.it_value.tv_nsec = S_TERM_RETRY_NS;
        timer_settime(s_term_timer, 0, &again, NULL);
    }
    errno = saved_errno;
}

/* A timer that sends SIGTERM to the calling thread. */
static bool
s_term_timer_create(void)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGTERM;
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
#endif
    s_term_retries = 0;
    s_term_timer_ok = timer_create(CLOCK_MONOTONIC, &sev, &s_term_timer) == 0;
    return s_term_timer_ok;
}

bool
mpp_core_sigterm_install(void)
{
    struct sigaction cur;
    if (sigaction(SIGTERM, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
        cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN ||
        cur.sa_handler == s_term_handler || !s_term_timer_create()) {
        return false;
    }
    /* Same flags and mask as Python's (SA_ONSTACK among them). */
    struct sigaction ours = cur;
    ours.sa_handler = s_term_handler;
    s_term_python = cur.sa_handler;
    return sigaction(SIGTERM, &ours, NULL) == 0;
}

void
mpp_core_sigterm_disarm(void)
{
    if (s_term_timer_ok) {
        /* Cleared first, so a SIGTERM arriving now does not re-arm it. */
        s_term_timer_ok = 0;
        struct itimerspec off;
        memset(&off, 0, sizeof(off));
        timer_settime(s_term_timer, 0, &off, NULL);
    }
}

void
mpp_core_sigterm_after_fork(void)
{
    struct sigaction cur;
    if (s_term_python == NULL || sigaction(SIGTERM, NULL, &cur) != 0 ||
        cur.sa_handler != s_term_handler) {
        return;
    }
    /* Timers do not survive fork: this thread gets its own. */
    s_term_timer_create();
    if (s_term_pid == (sig_atomic_t)getpid()) {
        /* It arrived before Python's after-fork reset dropped it. */
        kill(getpid(), SIGTERM);
    }
}

/*  Runs in the child, inside fork(), possibly from a signal handler: only
 *  async-signal-safe work (getpid, clock_gettime, plain stores). */
static void
s_atfork_child(void)
{
    s_term_timer_ok = 0;
    mpp_core_t *self = s_atfork_core;
    if (self == NULL) {
        return;
    }
    self->fork_pid = getpid();
    self->fork_real_ns = s_clock_ns(CLOCK_REALTIME);
    self->fork_mono_ns = s_clock_ns(CLOCK_MONOTONIC);
    self->hot |= MPP_CORE_FORKED;
}

static void
s_register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, s_atfork_child);
}

/*  Signal handlers receive no argument either: the exit hold keeps the
 *  signal it deferred here. */
static volatile sig_atomic_t s_held_signal;

static const int s_holdable[] = {SIGTERM, SIGINT, SIGHUP};

static void
s_hold_handler(int signum)
{
    if (s_held_signal != 0) {
        /* A second signal: whoever sends it will not wait any longer. */
        s_set_action(signum, SIG_DFL);
        raise(signum);
        return;
    }
    s_held_signal = signum;
}

void
mpp_core_hold_signals(void)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_holdable); i++) {
        struct sigaction old;
        if (sigaction(s_holdable[i], NULL, &old) == 0 &&
            !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
            s_set_action(s_holdable[i], s_hold_handler);
        }
    }
}

/*  glibc calls this from exit(), after Python's finalization, with the
 *  exit status.  It is inherited by fork children and dropped by exec,
 *  which is exactly the set of processes whose core this is. */
static void
s_on_exit(int status, void *arg)
{
    mpp_core_t *self = arg;
    /* The parent sees only the low byte, as with exit(256) == exit(0). */
    int32_t code = status & 0xff;

    mpp_core_sigterm_disarm();
    mpp_core_hold_signals();
    if (s_held_signal != 0) {
        mpp_core_finish(self, MPP_EXIT_SIGNAL, s_held_signal);
    }
    else {
        mpp_core_finish(self, code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE, code);
    }
    if (s_held_signal != 0) {
        /* End as the signal would have ended the process without us. */
        int signum = s_held_signal;
        s_set_action(signum, SIG_DFL);
        raise(signum);
    }
}

int
mpp_core_start(mpp_core_t *self, const char **err)
{
    /* pthread_once needs no argument either: the flag is its own static. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    const char *why = NULL;

    if (s_atfork_core != NULL) {
        *err = "a collector is already running in this process";
        return MPP_EINVAL;
    }
    self->sender =
        mpp_sender_new(self->endpoint, self->linger_ms, S_SNDHWM, &why);
    if (self->sender == NULL) {
        *err = why ? why : "cannot create the ZeroMQ socket";
        return MPP_EINVAL;
    }
    /* From the first successful registration on, the core must outlive
     * the process, so nothing below may fail after it. */
    if (pthread_once(&once, s_register_atfork) != 0 ||
        on_exit(s_on_exit, self) != 0) {
        mpp_sender_destroy(&self->sender);
        *err = "cannot register the exit handler";
        return MPP_ENOMEM;
    }
    s_atfork_core = self;
    s_set_deadline(self);
    (void)s_ensure_hello(self);
    return 0;
}

void
mpp_core_after_fork(mpp_core_t *self, mpp_tstate_t *current)
{
    if (!(self->hot & MPP_CORE_FORKED)) {
        return;
    }
    self->ppid = self->pid;
    self->pid = self->fork_pid;
    /* The fork server's children are the workers of the forkserver start
     * method; anyone else's are plain fork children. */
    self->start_method = self->is_forkserver ? "forkserver" : "fork";
    self->is_forkserver = false;
    self->start_ns = self->fork_real_ns;
    self->start_mono_ns = self->fork_mono_ns;

    mpp_sender_abandon(&self->sender);
    self->sender_failed = false;
    self->hello_sent = false;
    self->name_sent = false;
    self->seq = 0;
    self->messages = 0;
    self->send_failures = 0;
    self->encode_failures = 0;
    mpp_funcs_unsend_all(self->funcs);

    /* Only the forking thread exists in the child.  A forgotten thread
     * whose Python object may still be released later is left for that
     * release to free (see mpp_core_release_thread). */
    size_t kept = 0;
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_t *t = self->threads[i];
        if (t == current) {
            mpp_tstate_clear(t);
            t->tid = (uint64_t)syscall(SYS_gettid);
            self->threads[kept++] = t;
        }
        else if (t->has_ref) {
            t->orphan = true;
        }
        else {
            mpp_tstate_destroy(&t);
        }
    }
    self->nthreads = kept;

    self->hot &= ~(MPP_CORE_FORKED | MPP_CORE_DONE);
    s_set_deadline(self);
    (void)s_ensure_hello(self);
}

/* ---- threads ----------------------------------------------------------- */

mpp_tstate_t *
mpp_core_add_thread(mpp_core_t *self, uint64_t tid, const char *name)
{
    if (mpp_grow((void **)&self->threads, &self->capthreads,
                 self->nthreads + 1, sizeof(*self->threads)) < 0) {
        return NULL;
    }
    mpp_tstate_t *t = mpp_tstate_new(self, tid, name);
    if (t == NULL) {
        return NULL;
    }
    t->has_ref = true;
    self->threads[self->nthreads++] = t;
    return t;
}

void
mpp_core_release_thread(mpp_core_t *self, mpp_tstate_t *thread)
{
    if (thread->orphan) {
        mpp_tstate_destroy(&thread);
        return;
    }
    thread->has_ref = false;
    /* The thread is ending.  Frames it still has open (its profile
     * function was replaced mid-call, say) end now, not at exit.  Its
     * numbers stay until the process ends. */
    if (!(self->hot & (MPP_CORE_FORKED | MPP_CORE_DONE)) &&
        !mpp_tstate_idle(thread)) {
        mpp_tstate_unwind(thread, mpp_clock_read(&self->clock));
    }
}

/* ---- the rest of the interface ----------------------------------------- */

void
mpp_core_set_name(mpp_core_t *self, const char *name)
{
    if (name == NULL || strcmp(name, self->name) == 0) {
        return;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        return;
    }
    free(self->name);
    self->name = copy;
    self->name_sent = false;
}

int
mpp_core_flush(mpp_core_t *self)
{
    /* Callers that know the current thread reset before calling; this
     * one must not send under the parent's identity either way. */
    mpp_core_after_fork(self, NULL);
    if (self->hot & MPP_CORE_DONE) {
        return 0;
    }
    s_set_deadline(self);
    return s_send_data(self, false);
}

void
mpp_core_finish(mpp_core_t *self, mpp_exit_kind_t kind, int32_t exit_code)
{
    mpp_core_after_fork(self, NULL);
    if (self->hot & MPP_CORE_DONE) {
        return;
    }
    self->hot |= MPP_CORE_DONE;

    int64_t now = mpp_clock_read(&self->clock);
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_unwind(self->threads[i], now);
    }
    (void)s_send_data(self, true);
    if (s_ensure_hello(self) == 0) {
        mpp_msg_t msg;
        s_msg_init(self, &msg, MPP_MSG_BYE);
        msg.exit_kind = kind;
        msg.exit_code = exit_code;
        s_msg_times(self, &msg);
        (void)s_send(self, &msg);
    }
    if (mpp_sender_destroy(&self->sender)) {
        fprintf(stderr,
                "mpprof: warning: no aggregator took the profile of pid %lld "
                "at %s within %d ms; it may be lost\n",
                (long long)self->pid, self->endpoint, self->linger_ms);
    }
}

void
mpp_core_disconnect(mpp_core_t *self)
{
    mpp_core_after_fork(self, NULL);
    if (self->hot & MPP_CORE_DONE) {
        return;
    }
    (void)s_send_data(self, false);
    (void)mpp_sender_destroy(&self->sender);
}

void
mpp_core_restart(mpp_core_t *self)
{
    if (!(self->hot & MPP_CORE_DONE)) {
        return;
    }
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_clear(self->threads[i]);
    }
    mpp_funcs_unsend_all(self->funcs);
    self->sender_failed = false;
    self->hello_sent = false;
    self->name_sent = false;
    self->seq = 0;
    self->start_ns = s_clock_ns(CLOCK_REALTIME);
    self->start_mono_ns = s_clock_ns(CLOCK_MONOTONIC);
    self->hot &= ~MPP_CORE_DONE;
    s_set_deadline(self);
    (void)s_ensure_hello(self);
}

size_t
mpp_core_mem(const mpp_core_t *self)
{
    size_t mem = sizeof(*self) + mpp_funcs_mem(self->funcs) + self->buf.cap +
                 self->capthreads * sizeof(*self->threads) +
                 self->capwthreads * sizeof(*self->wthreads) +
                 self->capwstats * sizeof(*self->wstats) +
                 self->capwedges * sizeof(*self->wedges) +
                 self->capwfuncs * sizeof(*self->wfuncs);
    for (size_t i = 0; i < self->nthreads; i++) {
        mem += mpp_tstate_mem(self->threads[i]);
    }
    return mem;
}

uint64_t
mpp_core_dropped(const mpp_core_t *self)
{
    uint64_t dropped = 0;
    for (size_t i = 0; i < self->nthreads; i++) {
        dropped += self->threads[i]->dropped;
    }
    return dropped;
}
