/*  Layouts of the core's records that live in the shared mapping and that
 *  the host's agent must read back (src/agent/mpp_shmread.c): the
 *  function registry and the span buffer.  Their units (mpp_funcs.c,
 *  mpp_cats.c) still own them; they are declared here only so that a
 *  reader built from the same tree agrees on every field's offset.
 *  Nothing outside those two units and the agent's reader may touch
 *  them.
 */
#ifndef MPP_LAYOUT_H
#define MPP_LAYOUT_H

#include "mpp_internal.h"

/* ---- the function registry (mpp_funcs.c) ------------------------------- */

typedef struct {
    char *file;
    char *name;
    int32_t line;
    uint8_t tag;  /* MPP_TAG_* */
    uint8_t mark; /* MPP_MARK_* */
} mpp_fdef_t;

typedef struct {
    const void *key; /* NULL marks an empty slot */
    uint32_t fid;
} mpp_fslot_t;

/*  The registry itself, its definitions and their strings live where the
 *  core's tables do (mpp_shm.h), since a reader needs them to name what
 *  the tables count; the key index and delivery states stay private. */
struct mpp_funcs {
    struct mpp_shm *shm; /* NULL: private memory */
    mpp_fdef_t *defs;    /* indexed by id */
    uint8_t *state;      /* delivery state per id (private memory) */
    uint32_t ndefs;
    size_t capdefs;
    mpp_fslot_t *slots; /* key -> id, power-of-two size, linear probing */
    size_t nslots;
    size_t nkeys;
    size_t mem; /* bytes of strings; arrays are counted from their caps */
    /* (file, line, name) -> id, so that code objects made anew for one
     * function (exec, cloudpickle) count as that function (private). */
    uint32_t *labels; /* ids, MPP_NOFID for empty; power-of-two size */
    size_t nlabels;
};

/* ---- the span buffer (mpp_cats.c) -------------------------------------- */

#define MPP_SPANS_CAP 1024

/*  One span.  `seq` is the span's number plus one, written last: 0 while
 *  the slot is being (re)written, so a reader that finds another number
 *  than the one it expects there knows the span it wanted was
 *  overwritten, and counts it lost rather than reading a mix. */
typedef struct {
    uint64_t tid;
    int64_t start; /* clock ticks */
    int64_t dur;
    uint64_t bytes;
    uint32_t fid;
    uint8_t cat;
    uint64_t seq;
} mpp_span_rec_t;

/*  One buffer per core, shared by its threads: only a thread holding the
 *  GIL (or the exit path, alone) touches it.  A ring of fixed size: span
 *  number k (from 0, per incarnation) goes to span[k % MPP_SPANS_CAP],
 *  and `total` counts every span ever pushed, so a burst costs spans,
 *  never memory.
 *
 *  When the agent reads the mapping the writer never waits for anyone:
 *  it overwrites the oldest span, and the reader, which remembers the
 *  total it consumed, counts the spans overwritten before it read them
 *  as dropped.  `sent` is the total the core's own DATA carried (a
 *  core with a sink): without the agent (private memory) a span that
 *  would overwrite one not sent yet is dropped instead, and with it the
 *  core's DATA carries the newest ring's worth.  `out` is that DATA's
 *  scratch, in private memory: no reader needs it, and a fork child
 *  would only copy it. */
struct mpp_spans {
    struct mpp_shm *shm; /* where this buffer lives; NULL: private */
    int64_t min;         /* ticks */
    uint64_t total;
    uint64_t sent;
    mpp_wspan_t *out; /* MPP_SPANS_CAP of them */
    mpp_span_rec_t span[MPP_SPANS_CAP];
};

#endif
