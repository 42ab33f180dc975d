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

typedef struct {
    uint64_t tid;
    int64_t start; /* clock ticks */
    int64_t dur;
    uint64_t bytes;
    uint32_t fid;
    uint8_t cat;
} mpp_span_rec_t;

/*  One buffer per core, shared by its threads: only a thread holding the
 *  GIL (or the exit path, alone) touches it.  Fixed size, so a burst of
 *  spans costs dropped events, never memory.  `n` goes back to 0 when the
 *  core's own DATA has carried the spans. */
struct mpp_spans {
    struct mpp_shm *shm; /* where this buffer lives; NULL: private */
    int64_t min;         /* ticks */
    size_t n;
    mpp_span_rec_t span[MPP_SPANS_CAP];
    mpp_wspan_t out[MPP_SPANS_CAP];
};

#endif
