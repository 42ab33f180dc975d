/*  The harness of test_core.c: a collector core with its test clock and
 *  a sink that encodes every message with the wire format and decodes it
 *  back, as the aggregator would, so tests read what would have gone out;
 *  events fed the way the profile hook feeds them (one clock read each);
 *  lookups in tables and in the messages received.  Included by
 *  test_core.c alone, so its helpers are static.
 */
#ifndef CORE_FIXTURE_H
#define CORE_FIXTURE_H

#include "mpp_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mpp_core.h"
#include "mpp_funcs.h"
#include "mpp_shm.h"
#include "mpp_tstate.h"

#define TOKEN "0123456789abcdef0123456789abcdef"
#define STEP MPP_TEST_CLOCK_STEP_NS

/*  strdup as the core sees it: the n-th call from when s_strdup_fail is
 *  set (0 = the next one) fails, as it would out of memory. */
static int s_strdup_fail = -1;

char *
strdup(const char *s)
{
    if (s_strdup_fail >= 0 && s_strdup_fail-- == 0) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy != NULL) {
        memcpy(copy, s, n);
    }
    return copy;
}

/* The cores' span threshold; 0 is the core's default. */
static int64_t s_span_min_us;
/* Cores register the process's fork and exit handlers, as in Python. */
static bool s_own_process;
/* Cores are multiprocessing helpers (mpp_core_cfg_t.helper_main). */
static bool s_helper_main;
/*  When not -1, every message received is also written to this file
 *  descriptor as a 4-byte length and its wire encoding, so a parent can
 *  read what a forked child sent. */
static int s_frame_fd = -1;

/* ---- the recording sink ----------------------------------------------- */

#define S_MAXMSG 512

static struct {
    mpp_msg_t msg[S_MAXMSG];
    size_t n;
    int refuse; /* sends to refuse from now on */
    int opens;
    int closes;
    int abandons;
} S;

static int
s_open(void *ctx, const char **err)
{
    (void)ctx;
    (void)err;
    S.opens++;
    return 0;
}

static int
s_send(void *ctx, const mpp_msg_t *msg)
{
    (void)ctx;
    if (S.refuse > 0) {
        S.refuse--;
        return -EAGAIN;
    }
    ASSERT_LT(S.n, (size_t)S_MAXMSG);
    mpp_buf_t buf;
    mpp_buf_init(&buf);
    ASSERT_EQ(mpp_wire_encode(msg, &buf), 0);
    ASSERT_EQ(mpp_wire_decode(buf.data, buf.len, &S.msg[S.n]), 0);
    if (s_frame_fd >= 0) {
        uint32_t len = (uint32_t)buf.len;
        ASSERT_EQ(write(s_frame_fd, &len, sizeof(len)), (ssize_t)sizeof(len));
        ASSERT_EQ(write(s_frame_fd, buf.data, buf.len), (ssize_t)buf.len);
    }
    mpp_buf_fini(&buf);
    S.n++;
    return 0;
}

static bool
s_close(void *ctx)
{
    (void)ctx;
    S.closes++;
    return false;
}

static void
s_abandon(void *ctx)
{
    (void)ctx;
    S.abandons++;
}

static uint64_t
s_ret_bytes(void *ctx, void *retval)
{
    (void)ctx;
    return retval != NULL ? *(const uint64_t *)retval : 0;
}

static uint64_t
s_arg_bytes(void *ctx, void *frame)
{
    (void)ctx;
    return frame != NULL ? *(const uint64_t *)frame : 0;
}

/*  With MPP_TEST_CORE_SHM set to a directory, every core keeps its tables
 *  in a shared mapping there (mpp_shm.h), so the whole suite runs a second
 *  time on that allocator (ctest's unit.test_core_shm); a test may also
 *  set s_shm_dir itself. */
static const char *s_shm_dir;

__attribute__((unused)) static mpp_core_t *
s_core(const char *start_method)
{
    if (s_shm_dir == NULL) {
        s_shm_dir = getenv("MPP_TEST_CORE_SHM");
    }
    static const char *const argv[] = {"python3", "t.py"};
    mpp_core_cfg_t cfg = {
        .token = TOKEN,
        .interval_ms = 100,
        .test_clock = true,
        .ppid = 1,
        .start_method = start_method,
        .python = "3.11.7",
        .argv = argv,
        .argc = 2,
        .name = "MainProcess",
        .span_min_us = s_span_min_us,
        .own_process = s_own_process,
        .helper_main = s_helper_main,
        .shm_dir = s_shm_dir,
        .sink = {.open = s_open,
                 .send = s_send,
                 .close = s_close,
                 .abandon = s_abandon},
        .measure = {.ret_bytes = s_ret_bytes, .arg_bytes = s_arg_bytes},
    };
    mpp_core_t *core = mpp_core_new(&cfg);
    ASSERT_NOT_NULL(core);
    const char *err = NULL;
    ASSERT_EQ(mpp_core_start(core, &err), 0);
    return core;
}

/* Removes this process's mapping files from s_shm_dir. */
static void
s_shm_cleanup(void)
{
    if (s_shm_dir == NULL) {
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)getpid());
    DIR *d = opendir(s_shm_dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", s_shm_dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

/*  What the agent does once it has delivered every thread that ended up
 *  to end serial `upto` (mpp_shmread_ack): writes the pair of words into
 *  this process's mapping file.  False when the cores have no mapping.
 *  Marked unused: most files that include this harness have no use for
 *  it. */
__attribute__((unused)) static bool
s_agent_ack(uint64_t upto)
{
    if (s_shm_dir == NULL) {
        return false;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)getpid());
    DIR *d = opendir(s_shm_dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    int done = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", s_shm_dir, e->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint64_t words[2] = {upto, ~upto};
        ASSERT_EQ(pwrite(fd, words, sizeof(words), MPP_SHM_ACK_OFFSET),
                  (ssize_t)sizeof(words));
        close(fd);
        done++;
    }
    closedir(d);
    ASSERT_EQ(done, 1);
    return true;
}

__attribute__((unused)) static void
s_core_end(mpp_core_t **core)
{
    mpp_core_destroy(core);
    s_shm_cleanup();
    for (size_t i = 0; i < S.n; i++) {
        mpp_msg_clear(&S.msg[i]);
    }
    S.n = 0;
}

static uint32_t
s_fn(mpp_core_t *core, const char *file, const char *name)
{
    uint32_t fid = mpp_funcs_add(mpp_core_hot(core)->funcs, file, 1, name);
    ASSERT_NE(fid, MPP_NOFID);
    return fid;
}

/* One event, one clock read, as the hook does it. */
static void
s_call(mpp_core_t *core, mpp_tstate_t *t, uint32_t fid)
{
    mpp_tstate_enter(t, fid, mpp_clock_read(&mpp_core_hot(core)->clock));
}

static void
s_ret(mpp_core_t *core, mpp_tstate_t *t)
{
    mpp_tstate_leave(t, mpp_clock_read(&mpp_core_hot(core)->clock));
}

/* The stat of `fid` in `t`'s table, or NULL. */
__attribute__((unused)) static const mpp_ts_stat_t *
s_stat(const mpp_tstate_t *t, uint32_t fid)
{
    for (uint32_t i = 0; i < t->nstats; i++) {
        if (t->stats[i].fid == fid) {
            return &t->stats[i];
        }
    }
    return NULL;
}

__attribute__((unused)) static const mpp_ts_edge_t *
s_edge(const mpp_tstate_t *t, uint32_t caller, uint32_t callee)
{
    for (uint32_t i = 0; i < t->nedges; i++) {
        const mpp_ts_edge_t *e = &t->edges[i];
        if (t->stats[e->caller - 1].fid == caller &&
            t->stats[e->callee - 1].fid == callee) {
            return e;
        }
    }
    return NULL;
}

/*  ncalls of `fid` over every DATA received, merged as the aggregator
 *  merges: the last value per (thread id, function) counts. */
__attribute__((unused)) static uint64_t
s_wire_calls(uint32_t fid)
{
    uint64_t tids[4096];
    uint64_t calls[4096];
    size_t n = 0;
    for (size_t m = 0; m < S.n; m++) {
        const mpp_msg_t *msg = &S.msg[m];
        for (size_t i = 0; i < msg->nthreads; i++) {
            const mpp_wthread_t *w = &msg->threads[i];
            for (size_t j = 0; j < w->nstats; j++) {
                if (w->stats[j].fid != fid) {
                    continue;
                }
                size_t k = 0;
                while (k < n && tids[k] != w->tid) {
                    k++;
                }
                if (k == n) {
                    ASSERT_LT(n, MPP_ARRAY_SIZE(tids));
                    tids[n++] = w->tid;
                }
                calls[k] = w->stats[j].cost.ncalls;
            }
        }
    }
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        total += calls[k];
    }
    return total;
}

__attribute__((unused)) static const mpp_msg_t *
s_last(uint32_t type)
{
    for (size_t m = S.n; m-- > 0;) {
        if (S.msg[m].type == type) {
            return &S.msg[m];
        }
    }
    MPP_FAIL("no message of type %u", type);
}

#endif
