/*  The agent (src/agent/mpp_agent.h) against a PULL socket of the test
 *  (agent_fixture.h): a process that SIGKILLs itself mid-call, one that
 *  starts after the agent and ends normally, and a reused pid.  Times are
 *  only bounded generously; counts are exact.  Garbage, exec and the
 *  launcher's hurry are test_agent_end.c's. */
#include "agent_fixture.h"

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

int
main(int argc, char **argv)
{
    MPP_RUN(sigkilled_process_gives_its_counts_and_a_bye_at_its_death);
    MPP_RUN(file_made_after_start_is_read_and_a_normal_end_gives_one_bye);
    MPP_RUN(the_launchers_status_serves_a_target_the_kernel_did_not_name);
    MPP_RUN(a_reused_pid_is_not_taken_for_the_files_process);
    return mpp_test_done(argc, argv);
}
