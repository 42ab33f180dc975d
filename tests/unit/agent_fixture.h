/*  What the agent's tests share (test_agent.c, test_agent_end.c): a PULL
 *  socket of the test, as the aggregator would hold it, a temporary map
 *  directory, forked writers with the collector core (real clock), and
 *  the messages the agent sent, decoded, in order. */
#ifndef AGENT_FIXTURE_H
#define AGENT_FIXTURE_H

#include "core_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "mpp_agent.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"

#define S_MS 1000000LL
#define S_INTERVAL_MS 20

static char s_dir[64];
static char s_endpoint[128];
static void *s_ctx;
static void *s_pull;

/* Every message received, decoded, in order. */
static struct {
    mpp_msg_t msg[1024];
    size_t n;
} R;

__attribute__((unused)) static void
s_setup(void)
{
    snprintf(s_dir, sizeof(s_dir), "/tmp/mpp-test-agent-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(s_dir));
    snprintf(s_endpoint, sizeof(s_endpoint), "ipc://%s/agg.sock", s_dir);
    s_ctx = zmq_ctx_new();
    ASSERT_NOT_NULL(s_ctx);
    s_pull = zmq_socket(s_ctx, ZMQ_PULL);
    ASSERT_NOT_NULL(s_pull);
    int linger = 0;
    zmq_setsockopt(s_pull, ZMQ_LINGER, &linger, sizeof(linger));
    ASSERT_EQ(zmq_bind(s_pull, s_endpoint), 0);
}

__attribute__((unused)) static void
s_teardown(void)
{
    zmq_close(s_pull);
    zmq_ctx_term(s_ctx);
    for (size_t i = 0; i < R.n; i++) {
        mpp_msg_clear(&R.msg[i]);
    }
    R.n = 0;
    DIR *d = opendir(s_dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", s_dir, e->d_name);
        if (e->d_name[0] != '.') {
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(s_dir);
}

/* Receives for up to `ms` milliseconds, or until nothing comes for a
 * poll round once `quick`. */
__attribute__((unused)) static void
s_recv(int ms)
{
    int64_t until = mpp_clock_mono_ns() + ms * S_MS;
    for (;;) {
        int64_t left = (until - mpp_clock_mono_ns()) / S_MS;
        if (left <= 0) {
            return;
        }
        zmq_pollitem_t it = {s_pull, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)left) <= 0) {
            continue;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s_pull, ZMQ_DONTWAIT) >= 0) {
            ASSERT_LT(R.n, MPP_ARRAY_SIZE(R.msg));
            ASSERT_EQ(mpp_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m),
                                      &R.msg[R.n]),
                      0);
            ASSERT_STREQ(R.msg[R.n].token, TOKEN);
            R.n++;
        }
        zmq_msg_close(&m);
    }
}

__attribute__((unused)) static size_t
s_count(int64_t pid, uint32_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++) {
        n += R.msg[i].pid == pid && R.msg[i].type == type;
    }
    return n;
}

/* Receives until `pid`'s BYE is in, within `ms`. */
__attribute__((unused)) static void
s_recv_bye(int64_t pid, int ms)
{
    int64_t until = mpp_clock_mono_ns() + ms * S_MS;
    while (s_count(pid, MPP_MSG_BYE) == 0 && mpp_clock_mono_ns() < until) {
        s_recv(50);
    }
    ASSERT_EQ(s_count(pid, MPP_MSG_BYE), 1u);
}

/*  `pid`'s messages form one stream: HELLO with seq 0, seq without a
 *  gap, exactly one BYE and nothing after it.  Returns the BYE. */
__attribute__((unused)) static const mpp_msg_t *
s_stream(int64_t pid)
{
    uint64_t seq = 0;
    const mpp_msg_t *bye = NULL;
    for (size_t i = 0; i < R.n; i++) {
        const mpp_msg_t *m = &R.msg[i];
        if (m->pid != pid) {
            continue;
        }
        ASSERT_NULL(bye); /* nothing after the BYE */
        ASSERT_EQ(m->seq, seq);
        ASSERT_EQ(m->type == MPP_MSG_HELLO, seq == 0);
        seq++;
        if (m->type == MPP_MSG_BYE) {
            bye = m;
        }
    }
    ASSERT_NOT_NULL(bye);
    return bye;
}

/* The last cost of function `name` in `pid`'s DATA messages among
 * R.msg[from, to). */
__attribute__((unused)) static mpp_cost_t
s_cost_in(int64_t pid, const char *name, size_t from, size_t to)
{
    uint32_t fid = UINT32_MAX;
    mpp_cost_t c = {0, 0, 0, 0};
    for (size_t i = from; i < to; i++) {
        const mpp_msg_t *m = &R.msg[i];
        if (m->pid != pid || m->type != MPP_MSG_DATA) {
            continue;
        }
        for (size_t k = 0; k < m->nfuncs; k++) {
            if (strcmp(m->funcs[k].name, name) == 0) {
                fid = m->funcs[k].fid;
            }
        }
        for (size_t t = 0; t < m->nthreads; t++) {
            for (size_t k = 0; k < m->threads[t].nstats; k++) {
                if (m->threads[t].stats[k].fid == fid) {
                    c = m->threads[t].stats[k].cost;
                }
            }
        }
    }
    ASSERT_NE(fid, UINT32_MAX);
    return c;
}

__attribute__((unused)) static mpp_cost_t
s_cost(int64_t pid, const char *name)
{
    return s_cost_in(pid, name, 0, R.n);
}

/* A core with the real clock and its mapping in s_dir, as a profiled
 * process has. */
__attribute__((unused)) static mpp_core_t *
s_real_core(void)
{
    static const char *const argv[] = {"python3", "t.py"};
    mpp_core_cfg_t cfg = {
        .token = TOKEN, .interval_ms = 100, .ppid = getppid(),
        .start_method = "fork", .python = "3.11.7", .argv = argv, .argc = 2,
        .name = "Worker", .shm_dir = s_dir,
        .sink = {.open = s_open, .send = s_send, .close = s_close,
                 .abandon = s_abandon},
    };
    mpp_core_t *core = mpp_core_new(&cfg);
    ASSERT_NOT_NULL(core);
    const char *err = NULL;
    ASSERT_EQ(mpp_core_start(core, &err), 0);
    return core;
}

__attribute__((unused)) static mpp_agent_t *
s_agent(void)
{
    int err = 0;
    mpp_agent_t *a = mpp_agent_new(s_dir, s_endpoint, TOKEN, S_INTERVAL_MS,
                                   &err);
    ASSERT_EQ(err, 0);
    ASSERT_NOT_NULL(a);
    ASSERT_EQ(mpp_agent_start(a), 0);
    return a;
}

/* Ends the agent the launcher's way and takes in what it sent last. */
__attribute__((unused)) static void
s_end(mpp_agent_t **a, int64_t target, int ws, int within_ms)
{
    mpp_agent_target_ended(*a, target, ws);
    struct pollfd p = {mpp_agent_done_fd(*a), POLLIN, 0};
    int64_t t0 = mpp_clock_mono_ns();
    while (poll(&p, 1, 0) == 0) {
        s_recv(20);
        ASSERT_LT(mpp_clock_mono_ns() - t0, within_ms * S_MS);
    }
    mpp_agent_join(*a);
    s_recv(100);
}

/* The files of `pid` left in s_dir. */
__attribute__((unused)) static int
s_files_of(int64_t pid)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)pid);
    DIR *d = opendir(s_dir);
    ASSERT_NOT_NULL(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    }
    closedir(d);
    return n;
}

/*  In a forked writer: a profiled main thread that enters w.py's f and,
 *  inside it, calls g `calls` times; f stays open.  Returns when f was
 *  entered. */
__attribute__((unused)) static int64_t
s_inside_f_after_g(int calls)
{
    mpp_core_t *core = s_real_core();
    mpp_tstate_t *t = mpp_core_add_thread(core, (uint32_t)getpid(),
                                          "MainThread");
    uint32_t f = s_fn(core, "w.py", "f");
    uint32_t g = s_fn(core, "w.py", "g");
    int64_t entered = mpp_clock_mono_ns();
    s_call(core, t, f);
    for (int i = 0; i < calls; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    return entered;
}

/* A process forked after the agent started that records its own end. */
__attribute__((unused)) static pid_t
s_worker(int calls, int exit_code, int live_ms)
{
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        usleep(100 * 1000);
        mpp_core_t *core = s_real_core();
        mpp_tstate_t *t = mpp_core_add_thread(core, (uint32_t)getpid(),
                                              "MainThread");
        uint32_t g = s_fn(core, "w.py", "g");
        for (int i = 0; i < calls; i++) {
            s_call(core, t, g);
            s_ret(core, t);
        }
        usleep((useconds_t)live_ms * 1000u);
        mpp_core_finish(core, exit_code ? MPP_EXIT_CODE : MPP_EXIT_OK,
                        exit_code);
        _exit(exit_code);
    }
    return pid;
}

#endif
