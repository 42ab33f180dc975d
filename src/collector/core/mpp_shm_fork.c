/*  Fork for the shared mapping: the parent waits at a gate in the header
 *  while the child copies the state into a file of its own; see
 *  mpp_shm.h. */
#include "mpp_shm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Gate values: open, closed for a fork, given up by the parent. */
enum { S_GATE_OPEN = 0, S_GATE_CLOSED = 1, S_GATE_ABANDONED = 2 };

void
mpp_shm_fork_prepare(mpp_shm_t *self)
{
    __atomic_store_n(&mpp_shm_hdr(self)->fork_gate, S_GATE_CLOSED,
                     __ATOMIC_SEQ_CST);
}

void
mpp_shm_fork_parent(mpp_shm_t *self)
{
    uint32_t *gate = &mpp_shm_hdr(self)->fork_gate;
    int64_t deadline = mpp_clock_mono_ns() + MPP_SHM_GATE_MS * 1000000LL;
    for (;;) {
        if (__atomic_load_n(gate, __ATOMIC_ACQUIRE) != S_GATE_CLOSED) {
            return;
        }
        int64_t left = deadline - mpp_clock_mono_ns();
        if (left <= 0) {
            /* The child is stuck or gone: it must not copy what this
             * process is about to change. */
            uint32_t want = S_GATE_CLOSED;
            (void)__atomic_compare_exchange_n(gate, &want, S_GATE_ABANDONED,
                                              false, __ATOMIC_SEQ_CST,
                                              __ATOMIC_SEQ_CST);
            return;
        }
        struct timespec ts = {(time_t)(left / 1000000000),
                              (long)(left % 1000000000)};
        /* Not FUTEX_PRIVATE: the child waking us is another process. */
        (void)syscall(SYS_futex, gate, FUTEX_WAIT, S_GATE_CLOSED, &ts, NULL,
                      0);
    }
}

/*  The child's side of the gate, on the parent's mapping (before this
 *  process maps anything else there).  True when the parent was still
 *  waiting, so the copy just taken is the state at the fork. */
static bool
s_open_gate(mpp_shm_t *self)
{
    uint32_t *gate = &mpp_shm_hdr(self)->fork_gate;
    uint32_t want = S_GATE_CLOSED;
    if (__atomic_compare_exchange_n(gate, &want, S_GATE_OPEN, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        (void)syscall(SYS_futex, gate, FUTEX_WAKE, INT32_MAX, NULL, NULL,
                      0);
        return true;
    }
    return want == S_GATE_OPEN; /* no prepare (tests): nobody waits */
}

/*  The file this process maps (the parent's, in a fork child) open for
 *  reading, when it has one and no other file took its name; else -1.
 *
 *  Why the file and not the mapping: fork copies no page table entries
 *  of a shared file mapping, so each page of the parent's state a child
 *  reads through it is a page fault (with fault-around, 16 pages mapped
 *  at a time), and every page mapped must be unmapped again when the
 *  child's own file takes the range.  Read from the file instead, the
 *  child maps nothing of its parent's but the header page of the fork
 *  gate, and the copy (sendfile) stays in the kernel: per fork of a
 *  430-490 KiB state the child's extra CPU went from about 1.6 to 0.8 ms
 *  on a 2-core VM (bench_fork, medians of 6 runs). */
static int
s_open_own_file(const mpp_shm_t *self)
{
    int in = self->path != NULL ? open(self->path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (in >= 0 && (fstat(in, &st) != 0 || st.st_dev != self->dev ||
                    st.st_ino != self->ino)) {
        close(in);
        in = -1;
    }
    return in;
}

/* The header's `used`, from the file `in` when open, else the mapping. */
static uint64_t
s_used_of(const mpp_shm_t *self, int in)
{
    uint64_t used;
    if (in < 0 || pread(in, &used, sizeof(used),
                        (off_t)offsetof(mpp_shm_hdr_t, used)) !=
                      (ssize_t)sizeof(used)) {
        used = mpp_shm_hdr(self)->used;
    }
    return used < self->reserve ? used : self->reserve;
}

/*  Copies the first `len` bytes of the file `in` (or none when it is -1)
 *  to `fd` with sendfile; returns how many were copied, from 0, so that
 *  the caller copies the rest from the mapping. */
static uint64_t
s_copy_file(int in, int fd, uint64_t len)
{
    if (in < 0) {
        return 0;
    }
    off_t off = 0;
    while ((uint64_t)off < len) {
        ssize_t k = sendfile(fd, in, &off, (size_t)(len - (uint64_t)off));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break; /* the output's offset is the input's: resumable */
        }
    }
    return (uint64_t)off;
}

/*  Copies the part in use (`len` bytes, from the file `in` if open)
 *  into a new file at `path`; returns its descriptor or a negative
 *  code. */
static int
s_copy_to_file(mpp_shm_t *self, const char *path, uint64_t len, int in)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    uint64_t done = 0;
    int rc = ftruncate(fd, (off_t)self->reserve) == 0 ? 0 : -errno;
    /* The copy allocates its own pages (a full file system fails the
     * write); only the rest of the step is committed after it, so no page
     * is zeroed only to be overwritten.  File to file in the kernel
     * (s_open_own_file says why), the mapping only for what that did
     * not copy. */
    if (rc == 0) {
        done = s_copy_file(in, fd, len);
    }
    while (rc == 0 && done < len) {
        ssize_t w = pwrite(fd, self->base + done, (size_t)(len - done),
                           (off_t)done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        rc = w > 0 ? 0 : w == 0 ? -EIO : -errno;
        done += w > 0 ? (uint64_t)w : 0;
    }
    uint64_t committed = self->committed;
    self->committed = done;
    /* Only the pages the copy filled: a fork child that lives a moment
     * (most do) never grows, and the commit step's rest was 48 pages
     * allocated, zeroed and freed again per child of a 330 KiB state.  A
     * child that grows commits its next step as it allocates. */
    if (rc == 0 && !mpp_shm_commit_fd(self, fd, len, true)) {
        rc = -ENOSPC;
    }
    if (rc != 0) {
        self->committed = committed;
        close(fd);
        unlink(path);
        return rc;
    }
    return fd;
}

int
mpp_shm_fork_child(mpp_shm_t *self, const char *path)
{
    int in = s_open_own_file(self);
    uint64_t len = s_used_of(self, in);
    char *copy = path != NULL ? strdup(path) : NULL;
    int fd = copy != NULL ? s_copy_to_file(self, path, len, in) : MPP_ENOMEM;
    if (in >= 0) {
        close(in);
    }
    void *keep = NULL;
    if (fd < 0 && (keep = malloc((size_t)len)) != NULL) {
        memcpy(keep, self->base, (size_t)len);
    }
    if (!s_open_gate(self) || (fd < 0 && keep == NULL)) {
        /* Too late, or no copy at all: the parent's mapping stays, and
         * this process must never write it. */
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(copy);
        free(keep);
        return fd < 0 && keep == NULL ? MPP_ENOMEM : MPP_EINVAL;
    }
    int rc = 0;
    if (fd >= 0 &&
        mmap(self->base, self->reserve, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd,
             0) != MAP_FAILED) {
        mpp_shm_note_file(self, fd);
        close(fd);
        free(self->path);
        self->path = copy;
    }
    else {
        /* No file: the same contents in private memory at the same
         * addresses, so the child stays profiled through the sink.  A
         * failed MAP_FIXED of the file may have unmapped the range
         * already (mmap(2)), so nothing is read from it then. */
        free(copy);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            return MPP_ENOMEM;
        }
        void *p = keep == NULL ? MAP_FAILED
                               : mmap(self->base, self->reserve,
                                      PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS |
                                          MAP_NORESERVE | MAP_FIXED,
                                      -1, 0);
        if (p == MAP_FAILED) {
            free(keep);
            return MPP_ENOMEM;
        }
        memcpy(self->base, keep, (size_t)len);
        free(keep);
        free(self->path);
        self->path = NULL;
        self->committed = self->reserve; /* private pages need no commit */
        rc = 1;
    }
    mpp_shm_hdr(self)->pid = (int64_t)getpid();
    mpp_shm_hdr(self)->fork_gate = S_GATE_OPEN;
    return rc;
}
