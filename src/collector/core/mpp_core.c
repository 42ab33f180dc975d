/*  The process-wide collector core: construction, incarnations (start,
 *  fork, finish, restart); see mpp_core.h.  Threads are mpp_core_threads.c's,
 *  messages are built in mpp_batch.c, the process's handlers live in
 *  mpp_exit.c. */
#include "mpp_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mpp_cats.h"
#include "mpp_core_priv.h"

/*  When the process really started, so wall time includes interpreter
 *  startup: field 22 of /proc/self/stat is the start in clock ticks since
 *  boot.  Falls back to now. */
static void
s_process_start(int64_t *real_ns, int64_t *mono_ns)
{
    int64_t now_real = mpp_clock_real_ns();
    int64_t now_mono = mpp_clock_now_ns(CLOCK_MONOTONIC);
    int64_t now_boot = mpp_clock_now_ns(CLOCK_BOOTTIME);
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

/*  The name of this incarnation's mapping in shm_dir: the pid and the
 *  time it is made, so that neither a reused pid nor a new image under
 *  the same pid (an exec) meets an older file.  Returns 0 or a negative
 *  code. */
static int
s_shm_path(const mpp_core_t *self, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/p%lld-%lld.mpp", self->shm_dir,
                     (long long)self->pid, (long long)mpp_clock_mono_ns());
    return n > 0 && (size_t)n < size ? 0 : MPP_EINVAL;
}

static int
s_open_shm(mpp_core_t *self)
{
    char path[4096];
    int rc = s_shm_path(self, path, sizeof(path));
    if (rc == 0) {
        self->shm = mpp_shm_create(path, MPP_SHM_RESERVE_DEFAULT, &rc);
    }
    return rc;
}

mpp_core_t *
mpp_core_new(const mpp_core_cfg_t *cfg)
{
    mpp_core_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->pid = getpid();
    s_process_start(&self->start_ns, &self->start_mono_ns);
    if (cfg->shm_dir != NULL) {
        /* Without its mapping (no room in the directory, say) the core
         * keeps its tables in private memory: the sink still carries
         * them. */
        self->shm_dir = mpp_strdup(cfg->shm_dir);
        if (self->shm_dir == NULL) {
            goto fail;
        }
        (void)s_open_shm(self);
    }
    self->h.funcs = mpp_funcs_new(self->shm);
    self->batch = mpp_batch_new();
    /* The merged table of ended threads has no core: it is never in
     * start-up and its functions carry no category tags. */
    self->past = mpp_tstate_new(NULL, 0, "ended threads");
    self->token = mpp_strdup(cfg->token ? cfg->token : "");
    self->python = mpp_strdup(cfg->python ? cfg->python : "?");
    self->name = mpp_strdup(cfg->name ? cfg->name : "MainProcess");
    self->argv = calloc(cfg->argc + 1, sizeof(*self->argv));
    if (self->h.funcs == NULL || self->batch == NULL || self->past == NULL ||
        self->token == NULL || self->python == NULL || self->name == NULL ||
        self->argv == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < cfg->argc; i++) {
        self->argv[i] = mpp_strdup(cfg->argv[i] ? cfg->argv[i] : "");
        if (self->argv[i] == NULL) {
            goto fail;
        }
        self->argc++;
    }
    mpp_clock_init(&self->h.clock, cfg->test_clock, cfg->allow_tsc);
    self->spans = mpp_spans_new(&self->h.clock, cfg->span_min_us, self->shm);
    if (self->spans == NULL) {
        goto fail;
    }
    self->sink = cfg->sink;
    self->measure = cfg->measure;
    self->own_process = cfg->own_process;
    self->ppid = cfg->ppid;
    self->start_method = cfg->start_method ? cfg->start_method : "main";
    self->is_forkserver = cfg->is_forkserver;
    self->helper_main = cfg->helper_main;
    self->interval_ns =
        (int64_t)(cfg->interval_ms > 0 ? cfg->interval_ms : 100) * 1000000;
    self->h.deadline = INT64_MAX;
    if (self->shm != NULL && mpp_root_create(self) != 0) {
        goto fail;
    }
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
    mpp_mem_free(self->shm, self->threads);
    mpp_tstate_destroy(&self->past);
    if (self->sink_open && self->sink.close != NULL) {
        (void)self->sink.close(self->sink.ctx);
    }
    mpp_batch_destroy(&self->batch);
    mpp_spans_destroy(&self->spans);
    mpp_funcs_destroy(&self->h.funcs);
    for (size_t i = 0; i < self->argc; i++) {
        free(self->argv[i]);
    }
    free(self->argv);
    free(self->token);
    free(self->python);
    free(self->name);
    mpp_shm_destroy(&self->shm);
    free(self->shm_dir);
    free(self);
    *self_p = NULL;
}

static bool s_close_sink(mpp_core_t *self);

bool
mpp_core_has_sink(const mpp_core_t *self)
{
    return self->sink.send != NULL;
}

static void
s_set_deadline(mpp_core_t *self)
{
    self->h.deadline = mpp_clock_peek(&self->h.clock) +
                       mpp_clock_ticks(&self->h.clock, self->interval_ns);
}

int
mpp_core_start(mpp_core_t *self, const char **err)
{
    const char *why = NULL;
    if (!mpp_core_has_sink(self)) {
        if (self->shm == NULL) {
            *err = "cannot create the shared mapping the agent reads";
            return MPP_EINVAL;
        }
    }
    else if (self->sink.open(self->sink.ctx, &why) < 0) {
        *err = why ? why : "cannot open the channel to the aggregator";
        return MPP_EINVAL;
    }
    else {
        self->sink_open = true;
    }
    if (self->own_process) {
        int rc = mpp_exit_register(self, err);
        if (rc < 0) {
            (void)s_close_sink(self);
            return rc;
        }
    }
    /* From here on nothing fails: HELLO is retried until it is out. */
    s_set_deadline(self);
    (void)mpp_batch_hello(self);
    return 0;
}

/* ---- incarnations ------------------------------------------------------ */

void
mpp_core_fork_prepare(mpp_core_t *self)
{
    if (self->shm != NULL) {
        mpp_shm_fork_prepare(self->shm);
    }
}

void
mpp_core_fork_parent(mpp_core_t *self)
{
    if (self->shm != NULL) {
        mpp_shm_fork_parent(self->shm);
    }
}

void
mpp_core_note_fork(mpp_core_t *self)
{
    self->fork_pid = getpid();
    /* The child's life starts at the fork: the copy below is its work. */
    self->fork_real_ns = mpp_clock_real_ns();
    self->fork_mono_ns = mpp_clock_now_ns(CLOCK_MONOTONIC);
    /* First, before anything in this process can write the mapping. */
    self->fork_detached = true;
    if (self->shm != NULL) {
        char path[4096];
        int64_t pid = self->pid;
        self->pid = self->fork_pid; /* the file carries the child's pid */
        self->fork_detached =
            s_shm_path(self, path, sizeof(path)) == 0 &&
            mpp_shm_fork_child(self->shm, path) >= 0;
        self->pid = pid;
        if (self->fork_detached) {
            /* Until the child's first event starts its incarnation, its
             * file must not show the parent's identity and numbers. */
            mpp_root_forked(self, self->fork_pid,
                            self->is_forkserver ? "forkserver" : "fork");
        }
    }
    self->h.hot |= MPP_CORE_FORKED;
}

/* Numbers of the ended threads belong to the incarnation that ends. */
static void
s_clear_past(mpp_core_t *self)
{
    mpp_core_drop_ended_upto(self, UINT64_MAX);
    mpp_tstate_clear(self->past);
    self->past_dropped = 0;
}

void
mpp_core_after_fork(mpp_core_t *self, mpp_tstate_t *current)
{
    if (!(self->h.hot & MPP_CORE_FORKED)) {
        return;
    }
    self->ppid = self->pid;
    self->pid = self->fork_pid;
    /* The fork server's children are the workers of the forkserver start
     * method; anyone else's are plain fork children. */
    self->start_method = self->is_forkserver ? "forkserver" : "fork";
    self->is_forkserver = false;
    self->helper_main = false;
    self->cpu_final = false;
    self->start_ns = self->fork_real_ns;
    self->start_mono_ns = self->fork_mono_ns;

    if (self->sink_open && self->sink.abandon != NULL) {
        self->sink.abandon(self->sink.ctx);
    }
    self->sink_open = false;
    if (self->shm != NULL) {
        /* A child that could not detach from its parent's mapping has it
         * still, and must write nothing: it is not profiled. */
        if (!self->fork_detached) {
            self->h.hot = MPP_CORE_DONE;
            return;
        }
    }
    self->sink_failed = false;
    self->hello_sent = false;
    self->name_sent = false;
    self->seq = 0;
    self->messages = 0;
    self->send_failures = 0;
    mpp_funcs_unsend_all(self->h.funcs);
    mpp_spans_clear(self->spans);
    s_clear_past(self);

    /* Only the forking thread exists in the child; it is the first thread
     * of the new incarnation.  A forgotten thread whose object may still
     * be released later is left for that release to free. */
    size_t kept = 0;
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_t *t = self->threads[i];
        if (t == current) {
            mpp_tstate_clear(t);
            t->ktid = (uint32_t)syscall(SYS_gettid);
            t->tid = t->ktid;
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
    self->serial = kept;

    self->h.hot &= ~(MPP_CORE_FORKED | MPP_CORE_DONE);
    mpp_root_sync(self);
    s_set_deadline(self);
    (void)mpp_batch_hello(self);
}

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
    mpp_root_sync(self);
}

/*  Every running thread's CPU clock, read at a batch: a thread that has
 *  been inside one C function since its last event shows what it used. */
static void
s_read_cpu(mpp_core_t *self)
{
    for (size_t i = 0; i < self->nthreads; i++) {
        if (!self->threads[i]->ended) {
            mpp_cats_cpu_read(self->threads[i]);
        }
    }
}

void
mpp_core_cpu_final(mpp_core_t *self)
{
    mpp_core_after_fork(self, NULL);
    s_read_cpu(self);
    self->cpu_final = true;
}

int
mpp_core_flush(mpp_core_t *self)
{
    /* Callers that know the current thread reset before calling; this
     * one must not send under the parent's identity either way. */
    mpp_core_after_fork(self, NULL);
    if (self->h.hot & MPP_CORE_DONE) {
        return 0;
    }
    s_set_deadline(self);
    mpp_core_free_acked(self);
    s_read_cpu(self);
    if (!mpp_core_has_sink(self)) {
        /* No batch: the agent reads the tables where they are.  What it
         * cannot see there is refreshed here, at the same pace. */
        mpp_clock_calibrate(&self->h.clock);
        mpp_root_sync(self); /* the clock's calibration, dropped events */
        return 0;
    }
    int rc = mpp_batch_data(self, false);
    mpp_root_sync(self); /* the clock's calibration, dropped events */
    return rc;
}

/* Closes the sink; true when its delivery wait ran out. */
static bool
s_close_sink(mpp_core_t *self)
{
    bool expired = false;
    if (self->sink_open) {
        expired = self->sink.close(self->sink.ctx);
        self->sink_open = false;
    }
    return expired;
}

void
mpp_core_finish(mpp_core_t *self, mpp_exit_kind_t kind, int32_t exit_code)
{
    mpp_core_after_fork(self, NULL);
    if (self->h.hot & MPP_CORE_DONE) {
        return;
    }
    self->h.hot |= MPP_CORE_DONE;

    int64_t now = mpp_clock_read(&self->h.clock);
    for (size_t i = 0; i < self->nthreads; i++) {
        if (!self->threads[i]->ended) {
            mpp_tstate_unwind(self->threads[i], now);
        }
    }
    mpp_root_end(self, kind, exit_code);
    (void)mpp_batch_data(self, true);
    (void)mpp_batch_bye(self, kind, exit_code);
    if (s_close_sink(self)) {
        fprintf(stderr,
                "mpprof: warning: no aggregator took the profile of pid %lld "
                "%s; it may be lost\n",
                (long long)self->pid,
                self->sink.where ? self->sink.where : "in time");
    }
}

void
mpp_core_disconnect(mpp_core_t *self)
{
    mpp_core_after_fork(self, NULL);
    if (self->h.hot & MPP_CORE_DONE) {
        return;
    }
    (void)mpp_batch_data(self, false);
    (void)s_close_sink(self);
    /* The next message opens the sink again. */
    self->sink_failed = false;
}

void
mpp_core_restart(mpp_core_t *self)
{
    if (!(self->h.hot & MPP_CORE_DONE)) {
        return;
    }
    s_clear_past(self);
    for (size_t i = 0; i < self->nthreads; i++) {
        mpp_tstate_t *t = self->threads[i];
        mpp_tstate_clear(t);
        /* Unlike a fork, an exec that failed leaves the threads' CPU
         * clocks running: they count from here, or not at all. */
        int64_t v = mpp_clock_thread_cpu_ns(&self->h.clock, t->ktid);
        t->cpu_base = v >= 0 ? v : -1;
    }
    mpp_funcs_unsend_all(self->h.funcs);
    self->sink_failed = false;
    self->hello_sent = false;
    self->name_sent = false;
    self->seq = 0;
    self->start_ns = mpp_clock_real_ns();
    self->start_mono_ns = mpp_clock_now_ns(CLOCK_MONOTONIC);
    self->h.hot &= ~MPP_CORE_DONE;
    if (self->root != NULL) {
        self->root->exit_kind = MPP_EXIT_RUNNING;
    }
    mpp_root_sync(self);
    s_set_deadline(self);
    (void)mpp_batch_hello(self);
}

/* ---- introspection ----------------------------------------------------- */

size_t
mpp_core_mem(const mpp_core_t *self)
{
    size_t mem = sizeof(*self) + mpp_funcs_mem(self->h.funcs) +
                 mpp_batch_mem(self->batch) +
                 self->capthreads * sizeof(*self->threads) +
                 mpp_tstate_mem(self->past);
    if (self->sink.mem != NULL) {
        mem += self->sink.mem(self->sink.ctx);
    }
    for (size_t i = 0; i < self->nthreads; i++) {
        mem += mpp_tstate_mem(self->threads[i]);
    }
    return mem;
}

uint64_t
mpp_core_dropped(const mpp_core_t *self)
{
    /* An ended thread's count moved to past_dropped when it ended. */
    uint64_t dropped = self->past_dropped;
    for (size_t i = 0; i < self->nthreads; i++) {
        if (!self->threads[i]->ended) {
            dropped += self->threads[i]->dropped;
        }
    }
    return dropped;
}

void
mpp_core_info(const mpp_core_t *self, mpp_core_info_t *out)
{
    out->pid = self->pid;
    out->ppid = self->ppid;
    out->start_method = self->start_method;
    out->name = self->name;
    out->seq = self->seq;
    out->messages = self->messages;
    out->send_failures = self->send_failures;
    out->dropped = mpp_core_dropped(self);
    out->functions = mpp_funcs_count(self->h.funcs);
    out->threads = self->nthreads;
    out->done = (self->h.hot & MPP_CORE_DONE) != 0;
}

const mpp_tstate_t *
mpp_core_table(const mpp_core_t *self, size_t i)
{
    /* Ended threads are in `past` already; skip their own tables. */
    for (size_t k = 0; k < self->nthreads; k++) {
        if (self->threads[k]->ended) {
            continue;
        }
        if (i-- == 0) {
            return self->threads[k];
        }
    }
    return i == 0 ? self->past : NULL;
}
