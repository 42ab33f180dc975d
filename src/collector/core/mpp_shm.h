/*  The shared mapping that will hold a profiled process's live state
 *  (issue 12): a file in the session directory, mapped MAP_SHARED, in
 *  which the core allocates its tables the way it now uses malloc.
 *
 *  Why a file and not messages: what a process counted must stay
 *  readable after it dies however it dies (SIGKILL included), and a
 *  profiled process must need no socket, thread, descriptor or signal
 *  handler to hand it over.  The host's agent reads the file; the process
 *  only writes memory.
 *
 *  Why the writer's own pointers inside: the hot path then keeps its
 *  direct pointers (no base-plus-offset arithmetic per event).  The
 *  header records the address at which the writer mapped the file, so a
 *  reader turns any pointer found inside into a file offset by
 *  subtracting that base, and checks it against the file's size before
 *  using it (mpp_shm_offset).  A reader trusts nothing in the file: a
 *  process killed mid-write, or a hostile process of the session, can
 *  leave anything there.
 *
 *  Layout: the header at offset 0, then blocks.  Each block starts with a
 *  16-byte block header giving its size class (a power of two, header
 *  included) and a magic word, and the allocator keeps one free list per
 *  class, linked through the freed blocks.  Growing arrays double, so
 *  power-of-two classes waste at most half of what they hold, and a freed
 *  array's block serves the next array of that size.
 *
 *  Address space: the whole reserve is mapped at creation, but the file
 *  is sparse and lives on a memory file system where possible, so only
 *  the pages written cost memory, and no growth (which would need a
 *  descriptor kept open) ever happens.  An allocation past the reserve
 *  fails like malloc; the core counts the event it could not record.
 *
 *  Fork: a child inherits the parent's MAP_SHARED mapping, and must never
 *  write it.  It moves to a file of its own at once, at the same
 *  addresses, so every pointer it holds stays valid
 *  (mpp_shm_fork_prepare and what follows it, below).
 *
 *  Only one thread at a time calls the allocator (the core runs under the
 *  GIL); nothing here is async-signal-safe.
 */
#ifndef MPP_SHM_H
#define MPP_SHM_H

#include "mpp_internal.h"

#define MPP_SHM_MAGIC "mppshm1"
/* 2: the agent's acknowledgment words in the header, the root's count of
 * ended threads and CPU time, the span buffer as a ring.
 * 3: the threads' CPU time (mpp_tstate.h), the test clock's CPU reading. */
#define MPP_SHM_LAYOUT 3
/* Size classes 2^4 .. 2^(4 + MPP_SHM_CLASSES - 1) bytes. */
#define MPP_SHM_MIN_SHIFT 4
#define MPP_SHM_CLASSES 27
/* What a process reserves unless told otherwise: address space only. */
#define MPP_SHM_RESERVE_DEFAULT ((uint64_t)1 << 30)

/*  The header at offset 0.  Fixed-width fields only, so a reader built
 *  separately agrees on it; `base` and `root` are the writer's
 *  addresses. */
typedef struct {
    char magic[8];    /* MPP_SHM_MAGIC, NUL-terminated */
    uint32_t layout;  /* MPP_SHM_LAYOUT */
    uint32_t hdr_size; /* sizeof(mpp_shm_hdr_t) */
    uint64_t base;    /* where the writer mapped offset 0 */
    uint64_t reserve; /* bytes the writer mapped (the file's size) */
    uint64_t used;    /* every block lies below this offset */
    int64_t pid;      /* the writing process */
    uint64_t root;    /* the core's root record, 0 until set */
    uint64_t free_head[MPP_SHM_CLASSES]; /* offsets, 0 = empty list */
    uint32_t fork_gate; /* futex: the parent waits here while a fork
                           child copies the state (mpp_shm_fork_*) */
    uint32_t pad_;
    /* The only words a reader writes (mpp_shmread_ack): the highest end
     * serial of a thread (mpp_shm_root.h, `ended`) whose final numbers
     * the agent has delivered, and its complement, written together in
     * one pwrite.  The writer takes the pair only when they agree (a torn
     * or stray write does not), and never beyond the threads that have
     * ended, so no value can make it free more than it may. */
    uint64_t ack;
    uint64_t ack_check; /* ~ack */
} mpp_shm_hdr_t;

#define MPP_SHM_ACK_OFFSET offsetof(mpp_shm_hdr_t, ack)

typedef struct mpp_shm mpp_shm_t;

/*  Creates `path` (it must not exist; mode 0600), sizes it to `reserve`
 *  bytes (sparse), maps it and closes the descriptor.  Returns NULL with
 *  a negative code in *err on failure (nothing is left behind then). */
mpp_shm_t *mpp_shm_create(const char *path, uint64_t reserve, int *err);

/*  Unmaps the file; the file itself stays for the agent, which removes
 *  it.  Pointers into the mapping are invalid afterwards. */
void mpp_shm_destroy(mpp_shm_t **self_p);

/* The header; the mapping's first byte. */
mpp_shm_hdr_t *mpp_shm_hdr(const mpp_shm_t *self);
const char *mpp_shm_path(const mpp_shm_t *self);

/*  malloc's contract inside the mapping: NULL when the reserve is spent
 *  or n is 0 (so is mpp_shm_realloc(self, p, 0), which frees p).  Blocks
 *  are 16-byte aligned.  calloc's memory is zero. */
void *mpp_shm_alloc(mpp_shm_t *self, size_t n);
void *mpp_shm_calloc(mpp_shm_t *self, size_t count, size_t size);
void *mpp_shm_realloc(mpp_shm_t *self, void *p, size_t n);
void mpp_shm_free(mpp_shm_t *self, void *p);

/* Bytes of the file in use (header, blocks, free blocks included). */
uint64_t mpp_shm_used(const mpp_shm_t *self);

/* Records the core's root record for readers. */
void mpp_shm_set_root(mpp_shm_t *self, const void *root);

/*  The agent's acknowledgment (the header's `ack`) into *ack; false when
 *  there is none yet, or its check word does not agree.  The value is
 *  the agent's: bound it before use. */
bool mpp_shm_ack(const mpp_shm_t *self, uint64_t *ack);

/*  True when a reader outside this process can see the mapping: it is a
 *  file (a fork child that could make none keeps private memory). */
bool mpp_shm_shared(const mpp_shm_t *self);

/*  Fork.  A child inherits the parent's MAP_SHARED mapping, whose
 *  contents the parent would go on changing as soon as fork() returns (a
 *  table it grows gets a new block, and the private indexes those tables
 *  point to are the parent's own, not the child's), so the child must
 *  copy the state as it was at the fork, and the parent waits for that:
 *
 *    mpp_shm_fork_prepare   in the parent before fork(): closes the gate
 *    mpp_shm_fork_parent    in the parent after fork(): waits until the
 *                           child has copied (bounded: MPP_SHM_GATE_MS)
 *    mpp_shm_fork_child     in the child at once (atfork): copies the
 *                           state into a new file `path` (0600, must not
 *                           exist), opens the gate, and maps the file at
 *                           the same addresses.  Returns 0; 1 when no
 *                           file could be made and the copy sits in
 *                           private memory there instead (nothing
 *                           outlives the process then); or a negative
 *                           code when the parent stopped waiting first,
 *                           or nothing worked: the child then still has
 *                           its parent's mapping and must never write it.
 *
 *  Copying in the child costs the parent only the wait, where a copy in
 *  the parent would cost it page faults on every fork.  Every pointer
 *  the child holds stays valid.  Forks that exec at once without these
 *  handlers (vfork, posix_spawn) never meet them.  A test may call
 *  mpp_shm_fork_child without prepare: the gate is then open already. */
#define MPP_SHM_GATE_MS 1000
void mpp_shm_fork_prepare(mpp_shm_t *self);
void mpp_shm_fork_parent(mpp_shm_t *self);
int mpp_shm_fork_child(mpp_shm_t *self, const char *path);

/* ---- memory that may live in a mapping -------------------------------- */

/*  The core's units allocate what a reader needs (thread tables, function
 *  definitions, spans) through these: inside the mapping when the core
 *  has one, from the C library when it has none (unit tests, and every
 *  process until the agent reads mappings).  A block goes back to where
 *  it came from, so one owner keeps one `shm` for its whole life. */
void *mpp_mem_alloc(mpp_shm_t *shm, size_t n);
void *mpp_mem_calloc(mpp_shm_t *shm, size_t count, size_t size);
void *mpp_mem_realloc(mpp_shm_t *shm, void *p, size_t n);
void mpp_mem_free(mpp_shm_t *shm, void *p);
char *mpp_mem_strdup(mpp_shm_t *shm, const char *s);
/* mpp_grow (mpp_internal.h) from the same source. */
int mpp_mem_grow(mpp_shm_t *shm, void **arr, size_t *cap, size_t need,
                 size_t elem);

/* ---- for readers ------------------------------------------------------ */

/*  Checks a header read from a file of `file_size` bytes: magic, layout,
 *  sizes, `used` within the file.  Returns 0, MPP_EFORMAT (not a
 *  mapping of ours), MPP_EVERSION or MPP_ECORRUPT. */
int mpp_shm_check_hdr(const mpp_shm_hdr_t *hdr, uint64_t file_size);

/*  The file offset of `len` bytes at writer address `ptr`, when they lie
 *  wholly inside the part in use and past the header; else returns
 *  MPP_ECORRUPT.  Overflow-safe for any input. */
int mpp_shm_offset(const mpp_shm_hdr_t *hdr, uint64_t ptr, uint64_t len,
                   uint64_t *off);

#endif
