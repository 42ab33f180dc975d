/*  Tests of the shared mapping (src/collector/core/mpp_shm.c): what a
 *  writer allocates is what a separate reader finds in the file through
 *  the header's base; a fork child writes its own file and never its
 *  parent's; the reader's checks refuse any pointer outside the part in
 *  use. */
#include "mpp_shm.h"

#include "mpp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Each test runs in its own process: a directory per process. */
static char s_dir[64];

static const char *
s_path(const char *name)
{
    static char path[128];
    if (s_dir[0] == '\0') {
        snprintf(s_dir, sizeof(s_dir), "/tmp/mpp-test-shm-XXXXXX");
        ASSERT(mkdtemp(s_dir) != NULL);
    }
    snprintf(path, sizeof(path), "%s/%s", s_dir, name);
    return path;
}

/* Removes what the test made; the names are the tests' own. */
static void
s_cleanup(void)
{
    static const char *const names[] = {"a", "b", "c", "parent", "child"};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(names); i++) {
        unlink(s_path(names[i]));
    }
    rmdir(s_dir);
}

/* The whole file, as a reader would take it. */
static unsigned char *
s_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    ASSERT(fd >= 0);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    unsigned char *buf = malloc((size_t)st.st_size);
    ASSERT(buf != NULL);
    ASSERT_EQ(pread(fd, buf, (size_t)st.st_size, 0), (ssize_t)st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

MPP_TEST(create_sets_a_header_a_reader_accepts)
{
    int err = 1;
    mpp_shm_t *shm = mpp_shm_create(s_path("a"), 1 << 20, &err);
    ASSERT(shm != NULL);
    ASSERT_EQ(err, 0);
    size_t len;
    unsigned char *file = s_read_file(s_path("a"), &len);
    ASSERT_EQ(len, (size_t)(1 << 20));
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, file, sizeof(hdr));
    ASSERT_EQ(mpp_shm_check_hdr(&hdr, len), 0);
    ASSERT_EQ(hdr.pid, (int64_t)getpid());
    ASSERT_EQ(hdr.base, (uint64_t)(uintptr_t)mpp_shm_hdr(shm));
    /* The file is private to its owner. */
    struct stat st;
    ASSERT_EQ(stat(s_path("a"), &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600u);
    /* It must not exist already. */
    ASSERT(mpp_shm_create(s_path("a"), 1 << 20, &err) == NULL);
    ASSERT_EQ(err, -EEXIST);
    free(file);
    mpp_shm_destroy(&shm);
    ASSERT(shm == NULL);
    s_cleanup();
}

/*  Pointers stored inside the mapping lead a reader, through the
 *  header's base, to exactly what the writer wrote. */
MPP_TEST(reader_follows_writer_pointers)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("b"), 1 << 20, &err);
    ASSERT(shm != NULL);
    char **root = mpp_shm_calloc(shm, 3, sizeof(char *));
    ASSERT(root != NULL);
    for (int i = 0; i < 3; i++) {
        root[i] = mpp_shm_alloc(shm, 32);
        ASSERT(root[i] != NULL);
        snprintf(root[i], 32, "string %d", i);
    }
    mpp_shm_set_root(shm, root);

    size_t len;
    unsigned char *file = s_read_file(s_path("b"), &len);
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, file, sizeof(hdr));
    ASSERT_EQ(mpp_shm_check_hdr(&hdr, len), 0);
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, 3 * sizeof(uint64_t), &off), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t p;
        memcpy(&p, file + off + 8 * (size_t)i, sizeof(p));
        uint64_t soff;
        ASSERT_EQ(mpp_shm_offset(&hdr, p, 9, &soff), 0);
        char want[16];
        snprintf(want, sizeof(want), "string %d", i);
        ASSERT_STR_EQ((const char *)file + soff, want);
    }
    free(file);
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  Blocks are aligned and disjoint; a freed block serves the next
 *  request of its class; realloc keeps the contents; the reserve is a
 *  hard limit that fails like malloc. */
MPP_TEST(allocator)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("c"), 1 << 16, &err);
    ASSERT(shm != NULL);
    unsigned char *a = mpp_shm_alloc(shm, 100);
    unsigned char *b = mpp_shm_alloc(shm, 100);
    ASSERT(a != NULL && b != NULL);
    ASSERT_EQ((uintptr_t)a % 16, 0u);
    ASSERT(b >= a + 100 || a >= b + 100);
    memset(a, 0xAB, 100);
    memset(b, 0xCD, 100);
    mpp_shm_free(shm, a);
    unsigned char *c = mpp_shm_alloc(shm, 90); /* same class as a */
    ASSERT(c == a);
    c = mpp_shm_calloc(shm, 1, 60); /* recycled memory comes zeroed too */
    for (size_t i = 0; i < 60; i++) {
        ASSERT_EQ(c[i], 0);
    }
    unsigned char *d = mpp_shm_realloc(shm, b, 1000);
    ASSERT(d != NULL);
    for (size_t i = 0; i < 100; i++) {
        ASSERT_EQ(d[i], 0xCD);
    }
    ASSERT(mpp_shm_alloc(shm, 0) == NULL);
    ASSERT(mpp_shm_alloc(shm, (size_t)1 << 40) == NULL);
    /* Spend the reserve: it ends with NULL, never past the file. */
    size_t got = 0;
    while (mpp_shm_alloc(shm, 1000) != NULL) {
        got++;
        ASSERT_LE(mpp_shm_used(shm), (uint64_t)(1 << 16));
    }
    ASSERT_GT(got, 30u);
    mpp_shm_free(shm, d);
    ASSERT(mpp_shm_alloc(shm, 1000) == d); /* freed memory is reused */
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  A fork child has the state as it was at the fork, whatever the parent
 *  writes afterwards, then moves to a file of its own at the same
 *  addresses: what it writes is in its file, the parent's file keeps the
 *  parent's value, and the child's file starts as a copy of the
 *  parent's at the fork. */
MPP_TEST(fork_child_writes_its_own_file)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("parent"), 1 << 20, &err);
    ASSERT(shm != NULL);
    uint64_t *counter = mpp_shm_calloc(shm, 1, sizeof(*counter));
    *counter = 41;
    mpp_shm_set_root(shm, counter);
    mpp_shm_fork_prepare(shm);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        /* Later than the parent's 42 (below), as it may well be: the
         * copy prepare took is the state at the fork. */
        usleep(100000);
        int rc = mpp_shm_fork_child(shm, s_path("child"));
        if (rc != 0 || *counter != 41) {
            _exit(1);
        }
        *counter = 1000; /* the child's own count */
        uint64_t *more = mpp_shm_alloc(shm, 8);
        _exit(more != NULL && mpp_shm_hdr(shm)->pid == getpid() ? 0 : 2);
    }
    mpp_shm_fork_parent(shm);
    *counter = 42; /* the parent moves on at once */
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(*counter, 42u);

    size_t len;
    unsigned char *file = s_read_file(s_path("child"), &len);
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, file, sizeof(hdr));
    ASSERT_EQ(mpp_shm_check_hdr(&hdr, len), 0);
    ASSERT_EQ(hdr.pid, (int64_t)pid);
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, 8, &off), 0);
    uint64_t v;
    memcpy(&v, file + off, sizeof(v));
    ASSERT_EQ(v, 1000u);
    ASSERT_GT(hdr.used, mpp_shm_used(shm)); /* the child's extra block */
    free(file);
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  calloc does not write a block carved from the part never used (the
 *  span ring's pages then stay untouched until spans fill them), so that
 *  part must read as zeros, in a fork child's copy too: the copy stops
 *  at `used`, whatever lies beyond it in the parent's file. */
MPP_TEST(fresh_blocks_are_zero_in_a_fork_child)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("parent"), 1 << 20, &err);
    ASSERT(shm != NULL);
    uint64_t *counter = mpp_shm_calloc(shm, 1, sizeof(*counter));
    ASSERT(counter != NULL);
    mpp_shm_set_root(shm, counter);
    /* Bytes past `used` that no allocation made: a stray store. */
    unsigned char *past = (unsigned char *)mpp_shm_hdr(shm) + mpp_shm_used(shm);
    memset(past, 0xAB, 4096);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (mpp_shm_fork_child(shm, s_path("child")) != 0) {
            _exit(1);
        }
        unsigned char *p = mpp_shm_calloc(shm, 1, 4000);
        if (p == NULL || p < past) {
            _exit(2);
        }
        for (size_t i = 0; i < 4000; i++) {
            if (p[i] != 0) {
                _exit(3);
            }
        }
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  The child copies from its parent's file (not through the mapping), but
 *  only from that file: one that took its name meanwhile (a process of
 *  the session may write the directory) is not copied, the mapping is. */
MPP_TEST(fork_child_copies_its_parents_file_and_no_other)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("parent"), 1 << 20, &err);
    ASSERT(shm != NULL);
    uint64_t *counter = mpp_shm_calloc(shm, 64, sizeof(*counter));
    for (int i = 0; i < 64; i++) {
        counter[i] = 41 + (uint64_t)i;
    }
    mpp_shm_set_root(shm, counter);
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            /* Another file of the same size under the parent's name. */
            int fd = open(s_path("a"), O_RDWR | O_CREAT | O_TRUNC, 0600);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(ftruncate(fd, 1 << 20), 0);
            unsigned char junk[4096];
            memset(junk, 0xA5, sizeof(junk));
            ASSERT_EQ(pwrite(fd, junk, sizeof(junk), 0),
                      (ssize_t)sizeof(junk));
            close(fd);
            char from[128];
            snprintf(from, sizeof(from), "%s", s_path("a"));
            ASSERT_EQ(rename(from, s_path("parent")), 0);
        }
        unlink(s_path("child"));
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            if (mpp_shm_fork_child(shm, s_path("child")) != 0) {
                _exit(1);
            }
            for (int i = 0; i < 64; i++) {
                if (counter[i] != 41 + (uint64_t)i) {
                    _exit(2);
                }
            }
            _exit(mpp_shm_hdr(shm)->pid == getpid() ? 0 : 3);
        }
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
        size_t len;
        unsigned char *file = s_read_file(s_path("child"), &len);
        mpp_shm_hdr_t hdr;
        memcpy(&hdr, file, sizeof(hdr));
        ASSERT_EQ(mpp_shm_check_hdr(&hdr, len), 0);
        ASSERT_EQ(hdr.used, mpp_shm_used(shm));
        uint64_t off;
        ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, 64 * 8, &off), 0);
        ASSERT_EQ(memcmp(file + off, counter, 64 * 8), 0);
        free(file);
    }
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  Without a file of its own (no room, no directory) a fork child keeps
 *  its copy in private memory at the same addresses: still never the
 *  parent's file. */
MPP_TEST(fork_child_without_a_file_goes_private)
{
    int err;
    mpp_shm_t *shm = mpp_shm_create(s_path("parent"), 1 << 20, &err);
    ASSERT(shm != NULL);
    uint64_t *counter = mpp_shm_calloc(shm, 1, sizeof(*counter));
    *counter = 41;
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (mpp_shm_fork_child(shm, "/nonexistent-dir/child") != 1 ||
            *counter != 41) {
            _exit(1);
        }
        *counter = 1000;
        _exit(mpp_shm_alloc(shm, 8) != NULL ? 0 : 2);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(*counter, 41u);
    mpp_shm_destroy(&shm);
    s_cleanup();
}

/*  On a file system that fills up, an allocation fails and every byte
 *  handed out stays writable: a store into a shared mapping whose page
 *  the file system cannot provide would be a SIGBUS in the profiled
 *  program.  A 1 MiB tmpfs in a mount namespace of this test's own
 *  (root only; skipped elsewhere). */
MPP_TEST(full_file_system_fails_allocations_not_stores)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        MPP_SKIP("needs root for a mount namespace");
    }
    char dir[] = "/tmp/mpp-test-tmpfs-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    ASSERT_EQ(mount("tmpfs", dir, "tmpfs", 0, "size=1m"), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/m", dir);
    int err;
    mpp_shm_t *shm = mpp_shm_create(path, (uint64_t)64 << 20, &err);
    ASSERT(shm != NULL);
    size_t got = 0;
    unsigned char *p;
    while ((p = mpp_shm_alloc(shm, 4000)) != NULL) {
        memset(p, 0xAA, 4000); /* a SIGBUS here fails the test */
        got++;
    }
    /* 4096-byte blocks in 1 MiB, less the header's and the last step's
     * share. */
    ASSERT_GT(got, 150u);
    ASSERT_LE(got, 256u);
    mpp_shm_destroy(&shm);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

/* The reader's checks, on headers and pointers a hostile file can hold. */
MPP_TEST(reader_refuses_what_lies_outside)
{
    mpp_shm_hdr_t h;
    memset(&h, 0, sizeof(h));
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 20), MPP_EFORMAT);
    memcpy(h.magic, MPP_SHM_MAGIC, sizeof(MPP_SHM_MAGIC));
    h.layout = MPP_SHM_LAYOUT + 1;
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 20), MPP_EVERSION);
    h.layout = MPP_SHM_LAYOUT;
    h.hdr_size = sizeof(h);
    h.base = 0x7f0000000000u;
    h.reserve = 1 << 20;
    h.used = 4096;
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 20), 0);
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 19), MPP_ECORRUPT); /* truncated */
    h.used = h.reserve + 1;
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 20), MPP_ECORRUPT);
    h.used = 4;
    ASSERT_EQ(mpp_shm_check_hdr(&h, 1 << 20), MPP_ECORRUPT);
    h.used = 4096;

    uint64_t off = 7;
    ASSERT_EQ(mpp_shm_offset(&h, h.base + 1024, 16, &off), 0);
    ASSERT_EQ(off, 1024u);
    ASSERT_EQ(mpp_shm_offset(&h, h.base + 4096 - 16, 16, &off), 0);
    ASSERT_EQ(mpp_shm_offset(&h, h.base + 4096 - 15, 16, &off),
              MPP_ECORRUPT);
    ASSERT_EQ(mpp_shm_offset(&h, h.base - 1, 1, &off), MPP_ECORRUPT);
    ASSERT_EQ(mpp_shm_offset(&h, 0, 1, &off), MPP_ECORRUPT);
    ASSERT_EQ(mpp_shm_offset(&h, h.base, 8, &off), MPP_ECORRUPT); /* hdr */
    ASSERT_EQ(mpp_shm_offset(&h, h.base + 1024, UINT64_MAX, &off),
              MPP_ECORRUPT);
    ASSERT_EQ(mpp_shm_offset(&h, UINT64_MAX, 2, &off), MPP_ECORRUPT);
}

int
main(int argc, char **argv)
{
    MPP_RUN(create_sets_a_header_a_reader_accepts);
    MPP_RUN(reader_follows_writer_pointers);
    MPP_RUN(allocator);
    MPP_RUN(fork_child_writes_its_own_file);
    MPP_RUN(fresh_blocks_are_zero_in_a_fork_child);
    MPP_RUN(fork_child_copies_its_parents_file_and_no_other);
    MPP_RUN(fork_child_without_a_file_goes_private);
    MPP_RUN(full_file_system_fails_allocations_not_stores);
    MPP_RUN(reader_refuses_what_lies_outside);
    return mpp_test_done(argc, argv);
}
