/*  The agent (src/agent/mpp_agent.h) against a PULL socket of the test,
 *  as the aggregator would hold it: processes forked here write real
 *  mappings with the collector core (real clock) into a temporary map
 *  directory, and the test decodes what the agent sends.  A process that
 *  SIGKILLs itself mid-call, one that starts after the agent and ends
 *  normally, a reused pid, and garbage in the directory.  Times are only
 *  bounded generously; counts are exact. */
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

static void
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

static void
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
static void
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

static size_t
s_count(int64_t pid, uint32_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < R.n; i++) {
        n += R.msg[i].pid == pid && R.msg[i].type == type;
    }
    return n;
}

/* Receives until `pid`'s BYE is in, within `ms`. */
static void
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
static const mpp_msg_t *
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
static mpp_cost_t
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

static mpp_cost_t
s_cost(int64_t pid, const char *name)
{
    return s_cost_in(pid, name, 0, R.n);
}

/* A core with the real clock and its mapping in s_dir, as a profiled
 * process has. */
static mpp_core_t *
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

static mpp_agent_t *
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
static void
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
static int
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
static int64_t
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

MPP_TEST(sigkilled_process_gives_its_counts_and_a_bye_at_its_death)
{
    s_setup();
    mpp_agent_t *a = s_agent();
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int64_t entered = s_inside_f_after_g(1000);
        (void)!write(pipefd[1], &entered, sizeof(entered));
        usleep(300 * 1000); /* inside f, seen live by the agent */
        int64_t killing = mpp_clock_mono_ns();
        (void)!write(pipefd[1], &killing, sizeof(killing));
        raise(SIGKILL);
        _exit(1);
    }
    close(pipefd[1]);
    int64_t entered = 0;
    ASSERT_EQ(read(pipefd[0], &entered, sizeof(entered)),
              (ssize_t)sizeof(entered));
    /* Not reaped until its BYE is in: the status is then readable on any
     * kernel with pidfds, from /proc while it is a zombie. */
    s_recv_bye(pid, 60000);
    int64_t bye_ns = mpp_clock_mono_ns();
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    const mpp_msg_t *bye = s_stream(pid);
    ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_SIGNAL);
    ASSERT_EQ(bye->exit_code, SIGKILL);
    ASSERT_EQ(s_count(pid, MPP_MSG_HELLO), 1u);
    mpp_cost_t g = s_cost(pid, "g");
    mpp_cost_t f = s_cost(pid, "f");
    ASSERT_EQ(g.ncalls, 1000u);
    ASSERT_EQ(f.ncalls, 1u);
    /* f was open at the death: it ends then, not before its 300 ms and
     * not after the BYE was seen here. */
    ASSERT_GE(f.ct_ns, 300 * S_MS);
    ASSERT_LE(f.ct_ns, bye_ns - entered);
    ASSERT_GE(f.tt_ns, f.ct_ns - g.ct_ns);
    /* How late the agent saw the death (a pidfd wakes it at once; the
     * polled fallback at the next interval), bounded generously. */
    int64_t killing = 0;
    ASSERT_EQ(read(pipefd[0], &killing, sizeof(killing)),
              (ssize_t)sizeof(killing));
    close(pipefd[0]);
    int64_t late = entered + f.ct_ns - killing;
    printf("# death seen %.3f ms after the kill\n", (double)late / 1e6);
    ASSERT_GE(late, -S_MS); /* f started a little after `entered` */
    /* Without pidfds (valgrind has none) the agent polls /proc at each
     * interval, which a loaded machine under valgrind stretches to
     * seconds. */
    int probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
    bool have_pidfd = probe >= 0;
    if (have_pidfd) {
        close(probe);
    }
    ASSERT_LE(late, (have_pidfd ? 2000 : 20000) * S_MS);
    s_end(&a, 0, 0, 60000);
    ASSERT(s_stream(pid) == bye); /* still nothing after it */
    ASSERT_EQ(s_files_of(pid), 0); /* removed after its BYE */
    mpp_agent_counts_t c;
    mpp_agent_counts(a, &c);
    ASSERT_EQ(c.files, 1u);
    ASSERT_EQ(c.frames, (uint64_t)R.n);
    ASSERT_EQ(c.corrupt, 0u);
    ASSERT_EQ(c.unreadable, 0u);
    ASSERT_EQ(c.unsent, 0u);
    ASSERT_EQ(c.lost, 0u);
    mpp_agent_destroy(&a);
    ASSERT_NULL(a);
    s_teardown();
}

/* A process forked after the agent started that records its own end. */
static pid_t
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

MPP_TEST(file_made_after_start_is_read_and_a_normal_end_gives_one_bye)
{
    s_setup();
    mpp_agent_t *a = s_agent();
    pid_t pid = s_worker(10, 3, 200);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    s_end(&a, 0, 0, 60000);
    const mpp_msg_t *bye = s_stream(pid);
    ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(bye->exit_code, 3);
    ASSERT_EQ(s_cost(pid, "g").ncalls, 10u);
    /* Seen while it ran: more than the one read its end would give. */
    ASSERT_GE(s_count(pid, MPP_MSG_DATA), 1u);
    ASSERT_EQ(s_files_of(pid), 0);
    mpp_agent_counts_t c;
    mpp_agent_counts(a, &c);
    ASSERT_EQ(c.files, 1u);
    ASSERT_EQ(c.lost, 0u);
    ASSERT_EQ(c.unreadable, 0u);
    mpp_agent_destroy(&a);
    s_teardown();
}

/*  A file whose process is gone and whose pid now belongs to a process
 *  that started later: this process's own mapping, its root's pid
 *  rewritten to a child forked after it, under the child's pid. */
static void
s_reused_pid(bool as_target)
{
    s_setup();
    mpp_core_t *core = s_real_core();
    mpp_tstate_t *t = mpp_core_add_thread(core, 1, "MainThread");
    uint32_t g = s_fn(core, "w.py", "g");
    for (int i = 0; i < 7; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    usleep(100 * 1000); /* the child starts well after this root */
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    char old[4096] = "", neu[4096];
    DIR *d = opendir(s_dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == 'p') {
            snprintf(old, sizeof(old), "%s/%s", s_dir, e->d_name);
        }
    }
    closedir(d);
    ASSERT(old[0] != '\0');
    int fd = open(old, O_RDWR);
    ASSERT_GE(fd, 0);
    mpp_shm_hdr_t hdr;
    ASSERT_EQ(pread(fd, &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(mpp_shm_root_t), &off),
              0);
    int64_t cpid = child;
    ASSERT_EQ(pwrite(fd, &cpid, sizeof(cpid),
                     (off_t)(off + offsetof(mpp_shm_root_t, pid))),
              (ssize_t)sizeof(cpid));
    close(fd);
    snprintf(neu, sizeof(neu), "%s/p%lld-1.mpp", s_dir, (long long)child);
    ASSERT_EQ(rename(old, neu), 0);

    mpp_agent_t *a = s_agent();
    /* As the launcher would say of a target reaped before the kernel
     * could tell the agent: killed by SIGTERM. */
    s_end(&a, as_target ? child : 0, as_target ? SIGTERM : 0, 60000);
    const mpp_msg_t *bye = s_stream(child);
    mpp_agent_counts_t c;
    mpp_agent_counts(a, &c);
    if (as_target) {
        ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_SIGNAL);
        ASSERT_EQ(bye->exit_code, SIGTERM);
        ASSERT_EQ(c.lost, 0u);
    }
    else {
        /* Nothing is known of how the file's process ended. */
        ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_LOST);
        ASSERT_EQ(c.lost, 1u);
    }
    ASSERT_EQ(s_cost(child, "g").ncalls, 7u);
    /* The living child was never waited for. */
    ASSERT_EQ(kill(child, 0), 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    mpp_agent_destroy(&a);
    mpp_core_destroy(&core);
    s_teardown();
}

MPP_TEST(a_reused_pid_is_not_taken_for_the_files_process)
{
    s_reused_pid(false);
}

/*  The same file said to be the target's: its status, which only the
 *  launcher knew, is the one that goes out. */
MPP_TEST(the_launchers_status_serves_a_target_the_kernel_did_not_name)
{
    s_reused_pid(true);
}

MPP_TEST(garbage_in_the_directory_is_counted_and_the_rest_stands)
{
    s_setup();
    char path[4096];
    /* Not a mapping, under the name of a living process (this one). */
    snprintf(path, sizeof(path), "%s/p%lld-1.mpp", s_dir, (long long)getpid());
    FILE *fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fputs("not a mapping at all", fp);
    fclose(fp);
    /* A header cut short, under a pid that cannot exist. */
    snprintf(path, sizeof(path), "%s/p2147483647-2.mpp", s_dir);
    fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fputs(MPP_SHM_MAGIC, fp);
    fclose(fp);
    /* A header that claims 2 GiB in use of a sparse 4 GiB file: never
     * copied (every read would move gigabytes of zeros). */
    snprintf(path, sizeof(path), "%s/p%lld-5.mpp", s_dir, (long long)getpid());
    int hfd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(hfd, 0);
    mpp_shm_hdr_t hdr;
    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.magic, MPP_SHM_MAGIC, sizeof(MPP_SHM_MAGIC));
    hdr.layout = MPP_SHM_LAYOUT;
    hdr.hdr_size = (uint32_t)sizeof(hdr);
    hdr.base = 1ULL << 40;
    hdr.reserve = 4ULL << 30;
    hdr.used = 2ULL << 30;
    hdr.pid = getpid();
    ASSERT_EQ(ftruncate(hfd, (off_t)hdr.reserve), 0);
    ASSERT_EQ(pwrite(hfd, &hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    close(hfd);
    /* A FIFO and a link must not be opened (a FIFO would block). */
    snprintf(path, sizeof(path), "%s/p%lld-3.mpp", s_dir, (long long)getpid());
    ASSERT_EQ(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/p%lld-4.mpp", s_dir, (long long)getpid());
    ASSERT_EQ(symlink("/dev/zero", path), 0);
    snprintf(path, sizeof(path), "%s/notours.txt", s_dir);
    fp = fopen(path, "w");
    ASSERT_NOT_NULL(fp);
    fclose(fp);

    mpp_agent_t *a = s_agent();
    pid_t pid = s_worker(4, 0, 100);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    s_end(&a, 0, 0, 60000);
    const mpp_msg_t *bye = s_stream(pid);
    ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_OK);
    ASSERT_EQ(s_cost(pid, "g").ncalls, 4u);
    mpp_agent_counts_t c;
    mpp_agent_counts(a, &c);
    ASSERT_EQ(c.files, 1u);
    ASSERT_EQ(c.unreadable, 3u);
    /* Nothing was sent for the garbage. */
    for (size_t i = 0; i < R.n; i++) {
        ASSERT_EQ(R.msg[i].pid, (int64_t)pid);
    }
    mpp_agent_destroy(&a);
    s_teardown();
}

/*  An exec: the same living process makes a new file (here, a second
 *  core in this process).  The old image's file, which recorded no end,
 *  says everything, BYE included, before the new one's HELLO, since the
 *  aggregator tells incarnations of a pid apart only by their order; its
 *  open frame ends when the new file was made. */
MPP_TEST(an_exec_ends_the_old_images_file_before_the_new_one_speaks)
{
    s_setup();
    mpp_agent_t *a = s_agent();
    int64_t pid = getpid();
    mpp_core_t *old = s_real_core();
    mpp_tstate_t *t = mpp_core_add_thread(old, 1, "MainThread");
    uint32_t f = s_fn(old, "w.py", "f");
    int64_t entered = mpp_clock_mono_ns();
    s_call(old, t, f); /* os.execv, say: never returns */
    int64_t until = mpp_clock_mono_ns() + 60000 * S_MS;
    while (s_count(pid, MPP_MSG_DATA) == 0 && mpp_clock_mono_ns() < until) {
        s_recv(50);
    }
    ASSERT_EQ(s_count(pid, MPP_MSG_HELLO), 1u);
    usleep(100 * 1000);
    int64_t before_new = mpp_clock_mono_ns();
    mpp_core_t *neu = s_real_core();
    int64_t after_new = mpp_clock_mono_ns();
    mpp_tstate_t *t2 = mpp_core_add_thread(neu, 1, "MainThread");
    uint32_t g = s_fn(neu, "w.py", "g");
    for (int i = 0; i < 3; i++) {
        s_call(neu, t2, g);
        s_ret(neu, t2);
    }
    mpp_core_finish(neu, MPP_EXIT_CODE, 2);
    until = mpp_clock_mono_ns() + 60000 * S_MS;
    while (s_count(pid, MPP_MSG_BYE) < 2 && mpp_clock_mono_ns() < until) {
        s_recv(50);
    }
    s_end(&a, 0, 0, 60000);
    ASSERT_EQ(s_count(pid, MPP_MSG_HELLO), 2u);
    ASSERT_EQ(s_count(pid, MPP_MSG_BYE), 2u);
    /* The old stream, whole, then the new one. */
    size_t second = 0, k = 0;
    const mpp_msg_t *bye[2] = {NULL, NULL};
    uint64_t seq = 0;
    for (size_t i = 0; i < R.n; i++) {
        const mpp_msg_t *m = &R.msg[i];
        if (m->type == MPP_MSG_HELLO && i > 0) {
            ASSERT_NOT_NULL(bye[0]);
            second = i;
            seq = 0;
        }
        ASSERT_EQ(m->seq, seq);
        seq++;
        if (m->type == MPP_MSG_BYE) {
            ASSERT_LT(k, 2u);
            bye[k++] = m;
        }
    }
    ASSERT_GT(second, 0u);
    ASSERT(bye[0] < &R.msg[second]);
    ASSERT_EQ(bye[0]->exit_kind, (uint32_t)MPP_EXIT_OK);
    ASSERT_EQ(bye[1]->exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(bye[1]->exit_code, 2);
    mpp_cost_t cf = s_cost_in(pid, "f", 0, second);
    ASSERT_EQ(cf.ncalls, 1u);
    ASSERT_GE(cf.ct_ns, before_new - entered);
    ASSERT_LE(cf.ct_ns, after_new - entered);
    ASSERT_EQ(s_cost_in(pid, "g", second, R.n).ncalls, 3u);
    mpp_agent_destroy(&a);
    (void)f;
    (void)g;
    mpp_core_destroy(&neu);
    mpp_core_destroy(&old);
    s_teardown();
}

MPP_TEST(hurry_stops_at_once_with_a_process_still_running)
{
    s_setup();
    mpp_agent_t *a = s_agent();
    pid_t pid = s_worker(3, 0, 60 * 1000);
    /* Its first reads. */
    int64_t until = mpp_clock_mono_ns() + 60000 * S_MS;
    while (s_count(pid, MPP_MSG_DATA) == 0 && mpp_clock_mono_ns() < until) {
        s_recv(50);
    }
    ASSERT_EQ(s_count(pid, MPP_MSG_HELLO), 1u);
    mpp_agent_target_ended(a, 0, 0);
    mpp_agent_hurry(a);
    s_end(&a, 0, 0, 5000);
    ASSERT_EQ(s_count(pid, MPP_MSG_BYE), 0u); /* it is still running */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mpp_agent_destroy(&a);
    s_teardown();
}

/*  A hurry can stop the loop before it has seen a death its pidfd already
 *  tells: the last look must still give that process its final read
 *  (open frames closed, a BYE), not one more live read.  Hurried before
 *  it starts, the agent meets the file and the death in one round. */
MPP_TEST(a_hurried_last_look_gives_a_dead_process_its_bye)
{
    s_setup();
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        (void)s_inside_f_after_g(10);
        raise(SIGKILL);
        _exit(1);
    }
    /* Dead but not reaped: its pidfd is readable and its status known. */
    siginfo_t si;
    ASSERT_EQ(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    int err = 0;
    mpp_agent_t *a = mpp_agent_new(s_dir, s_endpoint, TOKEN, S_INTERVAL_MS,
                                   &err);
    ASSERT_NOT_NULL(a);
    mpp_agent_hurry(a);
    ASSERT_EQ(mpp_agent_start(a), 0);
    s_end(&a, 0, 0, 60000);
    ASSERT_EQ(s_count(pid, MPP_MSG_BYE), 1u);
    const mpp_msg_t *bye = s_stream(pid);
    ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_SIGNAL);
    ASSERT_EQ(s_cost(pid, "f").ncalls, 1u);
    ASSERT_EQ(s_cost(pid, "g").ncalls, 10u);
    ASSERT_EQ(waitpid(pid, NULL, 0), pid);
    mpp_agent_destroy(&a);
    s_teardown();
}

int
main(int argc, char **argv)
{
    (void)s_stat; /* the fixture's helpers this file does not need */
    (void)s_edge;
    (void)s_wire_calls;
    (void)s_core;
    (void)s_core_end;
    (void)s_last;
    MPP_RUN(sigkilled_process_gives_its_counts_and_a_bye_at_its_death);
    MPP_RUN(file_made_after_start_is_read_and_a_normal_end_gives_one_bye);
    MPP_RUN(the_launchers_status_serves_a_target_the_kernel_did_not_name);
    MPP_RUN(a_reused_pid_is_not_taken_for_the_files_process);
    MPP_RUN(garbage_in_the_directory_is_counted_and_the_rest_stands);
    MPP_RUN(an_exec_ends_the_old_images_file_before_the_new_one_speaks);
    MPP_RUN(hurry_stops_at_once_with_a_process_still_running);
    MPP_RUN(a_hurried_last_look_gives_a_dead_process_its_bye);
    return mpp_test_done(argc, argv);
}
