/*  The agent (src/agent/mpp_agent.h) at the edges of a run, against a PULL
 *  socket of the test (agent_fixture.h): garbage in the directory, an
 *  exec that replaces a process's image, and the launcher hurrying the
 *  agent while processes still run or have just died. */
#include "agent_fixture.h"

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
    MPP_RUN(garbage_in_the_directory_is_counted_and_the_rest_stands);
    MPP_RUN(an_exec_ends_the_old_images_file_before_the_new_one_speaks);
    MPP_RUN(hurry_stops_at_once_with_a_process_still_running);
    MPP_RUN(a_hurried_last_look_gives_a_dead_process_its_bye);
    return mpp_test_done(argc, argv);
}
