/*  Unit tests of the collector core (src/collector/core) around fork, the
 *  function registry and the shared mapping (issue 12), pure C, with the
 *  test clock and the recording sink of core_fixture.h, as test_core.c.
 *
 *  Regression driver for issue 9, item 7 (memory count after a failed
 *  registration).
 */
#include "core_fixture.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpp_cats.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"

/* ---- fork and registry ------------------------------------------------- */

MPP_TEST(fork_keeps_the_forking_thread)
{
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *other = mpp_core_add_thread(core, 101, "Thread-1");
    uint32_t f = s_fn(core, "k.py", "f");
    s_call(core, other, f);
    s_call(core, main_t, f);
    ASSERT_EQ(mpp_core_flush(core), 0);
    mpp_core_release_thread(core, other); /* ends before the fork */

    /* What the atfork handler does, then the next event's reset. */
    mpp_core_note_fork(core);
    size_t n = S.n;
    mpp_core_after_fork(core, main_t);
    ASSERT_EQ(S.abandons, 1);
    const mpp_msg_t *hello = &S.msg[n];
    ASSERT_EQ(hello->type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_EQ(hello->seq, 0u);
    ASSERT_STREQ(hello->start_method, "fork");
    ASSERT_EQ(MPP_TID_SERIAL(main_t->tid), 0u);
    ASSERT_EQ(main_t->ktid, (uint32_t)syscall(SYS_gettid));
    ASSERT_EQ(main_t->depth, 0u);
    mpp_core_info_t info;
    mpp_core_info(core, &info);
    ASSERT_EQ(info.threads, 1u);
    /* The ended thread was the parent's: forgotten, numbers and all. */
    ASSERT_EQ(mpp_core_table(core, 1)->nstats, 0u);
    /* The child's numbers start from zero; definitions are sent again. */
    s_call(core, main_t, f);
    s_ret(core, main_t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *m = s_last(MPP_MSG_DATA);
    ASSERT_EQ(m->seq, 1u);
    ASSERT_EQ(m->nfuncs, 1u);
    ASSERT_EQ(m->threads[0].stats[0].cost.ncalls, 1u);
    s_core_end(&core);
}

/*  A real fork, with the core's own at-fork and on_exit handlers: the
 *  child's first event starts its incarnation, and exit() sends its last
 *  batch and BYE.  This is the code that runs in every fork worker,
 *  checked under ASan and valgrind without Python (issue 9: the
 *  multi-process suites cannot preload a sanitizer safely). */
MPP_TEST(fork_child_with_exit_handler)
{
    s_own_process = true;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, t, f); /* open across the fork */
    ASSERT_EQ(mpp_core_flush(core), 0);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        s_frame_fd = fds[1];
        /* What the hook does at the child's first event. */
        ASSERT(mpp_core_hot(core)->hot & MPP_CORE_FORKED);
        mpp_core_after_fork(core, t);
        s_call(core, t, g);
        s_ret(core, t);
        exit(7); /* on_exit: last DATA and BYE */
    }
    close(fds[1]);
    mpp_msg_t got[8];
    size_t n = 0;
    static char frame[1 << 16];
    uint32_t len;
    while (read(fds[0], &len, sizeof(len)) == (ssize_t)sizeof(len)) {
        ASSERT_LT(n, MPP_ARRAY_SIZE(got));
        ASSERT_LE(len, sizeof(frame));
        ASSERT_EQ(read(fds[0], frame, len), (ssize_t)len);
        ASSERT_EQ(mpp_wire_decode(frame, len, &got[n]), 0);
        n++;
    }
    close(fds[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 7);

    ASSERT_EQ(n, 3u); /* HELLO, DATA, BYE */
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(got[i].pid, (int64_t)pid);
        ASSERT_EQ(got[i].seq, (uint64_t)i);
    }
    ASSERT_EQ(got[0].type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_STREQ(got[0].start_method, "fork");
    ASSERT_EQ(got[0].ppid, (int64_t)getpid());
    ASSERT_EQ(got[1].type, (uint32_t)MPP_MSG_DATA);
    ASSERT_EQ(got[1].nthreads, 1u);
    /* The child's numbers start at the fork: g, not the open f. */
    ASSERT_EQ(got[1].threads[0].nstats, 1u);
    ASSERT_EQ(got[1].threads[0].stats[0].fid, g);
    ASSERT_EQ(got[1].threads[0].stats[0].cost.ncalls, 1u);
    ASSERT_EQ(got[2].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_EQ(got[2].exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(got[2].exit_code, 7);
    for (size_t i = 0; i < n; i++) {
        mpp_msg_clear(&got[i]);
    }
    /* The parent goes on: its core still has f open. */
    ASSERT_EQ(t->depth, 1u);
    (void)f;
}

/* ---- the shared mapping (issue 12) ------------------------------------- */

/*  The thread table `t` of process `pid` as a reader finds it in that
 *  process's mapping file under `dir`: through the header's base, with
 *  every offset checked.  Returns the file's bytes (to free) and fills
 *  *copy and *stats (pointing into the bytes). */
static unsigned char *
s_read_table(const char *dir, pid_t pid, const mpp_tstate_t *t,
             mpp_tstate_t *copy, const mpp_ts_stat_t **stats,
             mpp_shm_root_t *root)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)pid);
    DIR *d = opendir(dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    char path[4096] = "";
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    ASSERT(path[0] != '\0');
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    mpp_shm_hdr_t hdr;
    ASSERT_EQ(fread(&hdr, sizeof(hdr), 1, f), 1u);
    ASSERT_EQ(mpp_shm_check_hdr(&hdr, hdr.reserve), 0);
    ASSERT_EQ(hdr.pid, (int64_t)pid);
    unsigned char *bytes = malloc(hdr.used);
    ASSERT_NOT_NULL(bytes);
    rewind(f);
    ASSERT_EQ(fread(bytes, 1, hdr.used, f), (size_t)hdr.used);
    fclose(f);
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(*root), &off), 0);
    memcpy(root, bytes + off, sizeof(*root));
    ASSERT_EQ(root->gen % 2, 0u);
    ASSERT_EQ(root->pid, (int64_t)pid);
    /* The root's thread list holds `t`. */
    ASSERT_EQ(root->nthreads, 1u);
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)root->threads,
                             sizeof(void *), &off),
              0);
    uint64_t first;
    memcpy(&first, bytes + off, sizeof(first));
    ASSERT_EQ(first, (uint64_t)(uintptr_t)t);
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)t, sizeof(*t), &off),
              0);
    memcpy(copy, bytes + off, sizeof(*copy));
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)copy->stats,
                             copy->nstats * sizeof(mpp_ts_stat_t), &off),
              0);
    *stats = (const mpp_ts_stat_t *)(const void *)(bytes + off);
    return bytes;
}

/*  With a mapping, a thread's table and numbers are in the file as they
 *  are written, with no message sent; a fork child moves to a file of
 *  its own before it counts anything, and the parent's stays as it was. */
MPP_TEST(tables_live_in_the_shared_mapping)
{
    char dir[] = "/tmp/mpp-test-core-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    s_shm_dir = dir;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    for (int i = 0; i < 3; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    s_call(core, t, f); /* open across the fork */

    mpp_tstate_t copy;
    const mpp_ts_stat_t *stats;
    mpp_shm_root_t root;
    unsigned char *bytes =
        s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_STREQ(root.start_method, "main");
    ASSERT_STREQ(root.name, "MainProcess");
    ASSERT_EQ(root.argc, 2u);
    ASSERT_EQ(root.exit_kind, (uint32_t)MPP_EXIT_RUNNING);
    ASSERT_EQ(copy.nstats, 2u);
    ASSERT_EQ(copy.depth, 1u);
    ASSERT_EQ(stats[0].fid, g);
    ASSERT_EQ(stats[0].cost.ncalls, 3u);
    ASSERT_EQ(stats[0].cost.tt_ns, 3 * MPP_TEST_CLOCK_STEP_NS);
    ASSERT_EQ(stats[1].fid, f);
    ASSERT_EQ(stats[1].cost.ncalls, 1u);
    free(bytes);

    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        mpp_core_note_fork(core); /* the atfork handler's part */
        mpp_core_after_fork(core, t);
        if (mpp_core_hot(core)->hot & MPP_CORE_DONE) {
            _exit(3);
        }
        s_call(core, t, g);
        s_ret(core, t);
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    /* The child's file: numbers from the fork on, g once. */
    bytes = s_read_table(dir, pid, t, &copy, &stats, &root);
    ASSERT_STREQ(root.start_method, "fork");
    ASSERT_EQ(root.ppid, (int64_t)getpid());
    ASSERT_EQ(copy.nstats, 1u);
    ASSERT_EQ(stats[0].fid, g);
    ASSERT_EQ(stats[0].cost.ncalls, 1u);
    free(bytes);
    /* The parent's file and memory: untouched by the child. */
    bytes = s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_EQ(copy.nstats, 2u);
    ASSERT_EQ(stats[0].cost.ncalls, 3u);
    ASSERT_EQ(stats[1].cost.ncalls, 1u);
    ASSERT_EQ(t->depth, 1u);
    free(bytes);

    /* The end as the process records it, its open frame closed. */
    mpp_core_finish(core, MPP_EXIT_CODE, 5);
    bytes = s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_EQ(root.exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(root.exit_code, 5);
    ASSERT_EQ(copy.depth, 0u);
    ASSERT_GT(stats[1].cost.ct_ns, 0);
    free(bytes);

    s_core_end(&core);
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == 'p') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    ASSERT_EQ(rmdir(dir), 0);
}

/* Issue 9, item 7: a registration that fails half-way counts nothing. */
MPP_TEST(item7_failed_add_leaves_memory_count)
{
    mpp_funcs_t *funcs = mpp_funcs_new(NULL);
    ASSERT_NOT_NULL(funcs);
    ASSERT_EQ(mpp_funcs_add(funcs, "a.py", 1, "a"), 0u);
    size_t mem = mpp_funcs_mem(funcs);
    s_strdup_fail = 1; /* the file's copy works, the name's fails */
    ASSERT_EQ(mpp_funcs_add(funcs, "a-much-longer-file-name.py", 2, "b"),
              MPP_NOFID);
    s_strdup_fail = -1;
    ASSERT_EQ(mpp_funcs_mem(funcs), mem);
    ASSERT_EQ(mpp_funcs_count(funcs), 1u);
    ASSERT_EQ(mpp_funcs_add(funcs, "b.py", 2, "b"), 1u);
    mpp_funcs_destroy(&funcs);
    ASSERT_NULL(funcs);
}

int
main(int argc, char **argv)
{
    MPP_RUN(fork_keeps_the_forking_thread);
    MPP_RUN(fork_child_with_exit_handler);
    MPP_RUN(item7_failed_add_leaves_memory_count);
    MPP_RUN(tables_live_in_the_shared_mapping);
    return mpp_test_done(argc, argv);
}
