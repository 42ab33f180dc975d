/*  The shared mapping and its allocator; see mpp_shm.h. */
#include "mpp_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A block's header: what mpp_shm_free needs, and a check that the
 * pointer it is given is one of ours. */
#define S_BLOCK_MAGIC 0x6d70626bu /* "mpbk" */
#define S_BLOCK_HDR 16u

typedef struct {
    uint32_t magic;
    uint32_t cls;
    uint64_t next; /* offset of the next free block while on a list */
} s_block_t;

/*  Pages of a sparse file are allocated when first written, and a write
 *  to a shared mapping that finds the file system full is a SIGBUS in
 *  the profiled program.  So the allocator hands out only memory whose
 *  pages were allocated beforehand (posix_fallocate), in steps of this
 *  size: a full file system then fails an allocation, which the core
 *  counts as a dropped event, and never a store. */
#define S_COMMIT_STEP ((uint64_t)256 * 1024)

struct mpp_shm {
    unsigned char *base;
    uint64_t reserve;
    uint64_t committed; /* bytes of the file known to be allocated */
    char *path;         /* NULL once the memory is private */
};

/* Allocates the file's pages below `upto`; false when they cannot be. */
static bool
s_commit_fd(mpp_shm_t *self, int fd, uint64_t upto)
{
    upto = (upto + S_COMMIT_STEP - 1) / S_COMMIT_STEP * S_COMMIT_STEP;
    if (upto > self->reserve) {
        upto = self->reserve;
    }
    if (upto <= self->committed) {
        return true;
    }
    if (posix_fallocate(fd, (off_t)self->committed,
                        (off_t)(upto - self->committed)) != 0) {
        return false;
    }
    self->committed = upto;
    return true;
}

/*  The same through the path: the process keeps no descriptor, so a
 *  commit opens the file for the moment (a cold path, once per step). */
static bool
s_commit(mpp_shm_t *self, uint64_t upto)
{
    if (upto <= self->committed) {
        return true;
    }
    if (self->path == NULL) {
        return false;
    }
    int fd = open(self->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = s_commit_fd(self, fd, upto);
    close(fd);
    return ok;
}

/* The header's size rounded up to the block alignment. */
static uint64_t
s_first_block(void)
{
    return (sizeof(mpp_shm_hdr_t) + 15u) & ~(uint64_t)15u;
}

/*  Opens `path` exclusively, sizes it sparse, commits its first pages and
 *  maps it.  The descriptor is closed before returning: the mapping
 *  keeps the file. */
static void *
s_map_new_file(mpp_shm_t *self, const char *path, uint64_t reserve,
               int *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    void *p = MAP_FAILED;
    self->committed = 0;
    errno = ENOSPC;
    if (ftruncate(fd, (off_t)reserve) == 0 &&
        s_commit_fd(self, fd, s_first_block())) {
        p = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_NORESERVE, fd, 0);
    }
    *err = p == MAP_FAILED ? -errno : 0;
    close(fd);
    if (p == MAP_FAILED) {
        unlink(path);
        return NULL;
    }
    return p;
}

mpp_shm_t *
mpp_shm_create(const char *path, uint64_t reserve, int *err)
{
    *err = MPP_ENOMEM;
    if (reserve < s_first_block() + 4096 || reserve > ((uint64_t)1 << 40)) {
        *err = MPP_EINVAL;
        return NULL;
    }
    mpp_shm_t *self = calloc(1, sizeof(*self));
    if (self == NULL || (self->path = strdup(path)) == NULL) {
        free(self);
        return NULL;
    }
    self->reserve = reserve;
    self->base = s_map_new_file(self, path, reserve, err);
    if (self->base == NULL) {
        free(self->path);
        free(self);
        return NULL;
    }
    mpp_shm_hdr_t *h = mpp_shm_hdr(self);
    memcpy(h->magic, MPP_SHM_MAGIC, sizeof(MPP_SHM_MAGIC));
    h->layout = MPP_SHM_LAYOUT;
    h->hdr_size = (uint32_t)sizeof(*h);
    h->base = (uint64_t)(uintptr_t)self->base;
    h->reserve = reserve;
    h->used = s_first_block();
    h->pid = (int64_t)getpid();
    *err = 0;
    return self;
}

void
mpp_shm_destroy(mpp_shm_t **self_p)
{
    mpp_shm_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    munmap(self->base, self->reserve);
    free(self->path);
    free(self);
    *self_p = NULL;
}

mpp_shm_hdr_t *
mpp_shm_hdr(const mpp_shm_t *self)
{
    return (mpp_shm_hdr_t *)(void *)self->base;
}

const char *
mpp_shm_path(const mpp_shm_t *self)
{
    return self->path;
}

uint64_t
mpp_shm_used(const mpp_shm_t *self)
{
    return mpp_shm_hdr(self)->used;
}

void
mpp_shm_set_root(mpp_shm_t *self, const void *root)
{
    mpp_shm_hdr(self)->root = (uint64_t)(uintptr_t)root;
}

bool
mpp_shm_ack(const mpp_shm_t *self, uint64_t *ack)
{
    const mpp_shm_hdr_t *h = mpp_shm_hdr(self);
    uint64_t v = __atomic_load_n(&h->ack, __ATOMIC_ACQUIRE);
    uint64_t check = __atomic_load_n(&h->ack_check, __ATOMIC_ACQUIRE);
    /* A zeroed header (no acknowledgment yet) fails the check too. */
    if (check != ~v) {
        return false;
    }
    *ack = v;
    return true;
}

bool
mpp_shm_shared(const mpp_shm_t *self)
{
    return self->path != NULL;
}

/* The smallest class whose blocks hold n bytes past the block header, or
 * MPP_SHM_CLASSES when none does. */
static uint32_t
s_class_of(size_t n)
{
    if (n > ((size_t)1 << (MPP_SHM_MIN_SHIFT + MPP_SHM_CLASSES - 1)) -
                S_BLOCK_HDR) {
        return MPP_SHM_CLASSES;
    }
    size_t need = n + S_BLOCK_HDR;
    uint32_t cls = 0;
    while (((size_t)1 << (MPP_SHM_MIN_SHIFT + cls)) < need) {
        cls++;
    }
    return cls;
}

static size_t
s_class_size(uint32_t cls)
{
    return (size_t)1 << (MPP_SHM_MIN_SHIFT + cls);
}

void *
mpp_shm_alloc(mpp_shm_t *self, size_t n)
{
    uint32_t cls = s_class_of(n);
    if (n == 0 || cls >= MPP_SHM_CLASSES) {
        return NULL;
    }
    mpp_shm_hdr_t *h = mpp_shm_hdr(self);
    s_block_t *b;
    if (h->free_head[cls] != 0) {
        b = (s_block_t *)(void *)(self->base + h->free_head[cls]);
        h->free_head[cls] = b->next;
    }
    else {
        size_t size = s_class_size(cls);
        if (h->used > self->reserve || self->reserve - h->used < size ||
            !s_commit(self, h->used + size)) {
            return NULL;
        }
        b = (s_block_t *)(void *)(self->base + h->used);
        h->used += size;
    }
    b->magic = S_BLOCK_MAGIC;
    b->cls = cls;
    b->next = 0;
    return (unsigned char *)b + S_BLOCK_HDR;
}

void *
mpp_shm_calloc(mpp_shm_t *self, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        return NULL;
    }
    void *p = mpp_shm_alloc(self, n);
    if (p != NULL) {
        /* A recycled block holds what its last owner left. */
        memset(p, 0, n);
    }
    return p;
}

static s_block_t *
s_block(void *p)
{
    return (s_block_t *)(void *)((unsigned char *)p - S_BLOCK_HDR);
}

void
mpp_shm_free(mpp_shm_t *self, void *p)
{
    if (p == NULL) {
        return;
    }
    s_block_t *b = s_block(p);
    if (b->magic != S_BLOCK_MAGIC || b->cls >= MPP_SHM_CLASSES) {
        /* Not a live block of ours: leaking it is the safe choice. */
        return;
    }
    mpp_shm_hdr_t *h = mpp_shm_hdr(self);
    b->magic = 0;
    b->next = h->free_head[b->cls];
    h->free_head[b->cls] = (uint64_t)((unsigned char *)b - self->base);
}

void *
mpp_shm_realloc(mpp_shm_t *self, void *p, size_t n)
{
    if (p == NULL) {
        return mpp_shm_alloc(self, n);
    }
    if (n == 0) {
        mpp_shm_free(self, p);
        return NULL;
    }
    s_block_t *b = s_block(p);
    if (b->magic != S_BLOCK_MAGIC || b->cls >= MPP_SHM_CLASSES) {
        return NULL;
    }
    size_t have = s_class_size(b->cls) - S_BLOCK_HDR;
    if (n <= have) {
        return p;
    }
    void *q = mpp_shm_alloc(self, n);
    if (q != NULL) {
        memcpy(q, p, have);
        mpp_shm_free(self, p);
    }
    return q;
}

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

/*  Copies the part in use into a new file at `path`; returns its
 *  descriptor or a negative code. */
static int
s_copy_to_file(mpp_shm_t *self, const char *path, uint64_t len)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    uint64_t done = 0;
    int rc = ftruncate(fd, (off_t)self->reserve) == 0 ? 0 : -errno;
    /* The copy allocates its own pages (a full file system fails the
     * write); only the rest of the step is committed after it, so no page
     * is zeroed only to be overwritten. */
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
    if (rc == 0 && !s_commit_fd(self, fd, len)) {
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
    uint64_t len = mpp_shm_hdr(self)->used;
    char *copy = path != NULL ? strdup(path) : NULL;
    int fd = copy != NULL ? s_copy_to_file(self, path, len) : MPP_ENOMEM;
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

/* ---- memory that may live in a mapping -------------------------------- */

void *
mpp_mem_alloc(mpp_shm_t *shm, size_t n)
{
    return shm != NULL ? mpp_shm_alloc(shm, n) : malloc(n);
}

void *
mpp_mem_calloc(mpp_shm_t *shm, size_t count, size_t size)
{
    return shm != NULL ? mpp_shm_calloc(shm, count, size)
                       : calloc(count, size);
}

void *
mpp_mem_realloc(mpp_shm_t *shm, void *p, size_t n)
{
    return shm != NULL ? mpp_shm_realloc(shm, p, n) : realloc(p, n);
}

void
mpp_mem_free(mpp_shm_t *shm, void *p)
{
    if (shm != NULL) {
        mpp_shm_free(shm, p);
    }
    else {
        free(p);
    }
}

char *
mpp_mem_strdup(mpp_shm_t *shm, const char *s)
{
    if (s == NULL || shm == NULL) {
        return s != NULL ? strdup(s) : NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = mpp_mem_alloc(shm, n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

int
mpp_mem_grow(mpp_shm_t *shm, void **arr, size_t *cap, size_t need,
             size_t elem)
{
    if (shm == NULL) {
        return mpp_grow(arr, cap, need, elem);
    }
    size_t ncap;
    if (need <= *cap) {
        return 0;
    }
    if (mpp_grow_cap(*cap, need, elem, &ncap) != 0) {
        return MPP_ENOMEM;
    }
    void *p = mpp_shm_realloc(shm, *arr, ncap * elem);
    if (p == NULL) {
        return MPP_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- for readers ------------------------------------------------------ */

int
mpp_shm_check_hdr(const mpp_shm_hdr_t *hdr, uint64_t file_size)
{
    if (memcmp(hdr->magic, MPP_SHM_MAGIC, sizeof(MPP_SHM_MAGIC)) != 0) {
        return MPP_EFORMAT;
    }
    if (hdr->layout != MPP_SHM_LAYOUT) {
        return MPP_EVERSION;
    }
    if (hdr->hdr_size != sizeof(*hdr) || hdr->used < s_first_block() ||
        hdr->used > hdr->reserve || hdr->reserve > file_size) {
        return MPP_ECORRUPT;
    }
    return 0;
}

int
mpp_shm_offset(const mpp_shm_hdr_t *hdr, uint64_t ptr, uint64_t len,
               uint64_t *off)
{
    uint64_t o = ptr - hdr->base; /* wraps for a pointer below the base */
    uint64_t end;
    if (ptr < hdr->base || o < s_first_block() ||
        __builtin_add_overflow(o, len, &end) || end > hdr->used) {
        return MPP_ECORRUPT;
    }
    *off = o;
    return 0;
}
