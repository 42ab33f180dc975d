/*  The shared mapping and its allocator; see mpp_shm.h.  Fork is
 *  mpp_shm_fork.c's. */
#include "mpp_shm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
#define S_COMMIT_PAGE ((uint64_t)4096)

void
mpp_shm_note_file(mpp_shm_t *self, int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        self->dev = st.st_dev;
        self->ino = st.st_ino;
    }
}

bool
mpp_shm_commit_fd(mpp_shm_t *self, int fd, uint64_t upto, bool exact)
{
    uint64_t step = exact ? S_COMMIT_PAGE : S_COMMIT_STEP;
    upto = (upto + step - 1) / step * step;
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
    bool ok = mpp_shm_commit_fd(self, fd, upto, false);
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
        mpp_shm_commit_fd(self, fd, s_first_block(), false)) {
        p = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_NORESERVE, fd, 0);
    }
    *err = p == MAP_FAILED ? -errno : 0;
    mpp_shm_note_file(self, fd);
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

/*  mpp_shm_alloc, telling in *fresh whether the block was carved from
 *  the part never used: nothing below `used` is ever handed back above
 *  it, and the file's pages past `used` were never written (a new file
 *  is sparse, a fork child's copy stops at `used`), so such a block
 *  reads as zeros. */
static void *
s_alloc(mpp_shm_t *self, size_t n, bool *fresh)
{
    uint32_t cls = s_class_of(n);
    *fresh = false;
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
        *fresh = true;
    }
    b->magic = S_BLOCK_MAGIC;
    b->cls = cls;
    b->next = 0;
    return (unsigned char *)b + S_BLOCK_HDR;
}

void *
mpp_shm_alloc(mpp_shm_t *self, size_t n)
{
    bool fresh;
    return s_alloc(self, n, &fresh);
}

void *
mpp_shm_calloc(mpp_shm_t *self, size_t count, size_t size)
{
    size_t n;
    bool fresh;
    if (__builtin_mul_overflow(count, size, &n)) {
        return NULL;
    }
    void *p = s_alloc(self, n, &fresh);
    if (p != NULL && !fresh) {
        /* A recycled block holds what its last owner left; a fresh one
         * is zero already, and writing it would only cost a page fault
         * per page in every process that starts (the span ring alone is
         * twelve pages). */
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
