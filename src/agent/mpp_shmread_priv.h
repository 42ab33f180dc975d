/*  Private to the mapping reader (mpp_shmread.c, mpp_shmread_tables.c):
 *  the state of one read and the checked access to its bytes.  See
 *  mpp_shmread.h for what is checked and why. */
#ifndef MPP_SHMREAD_PRIV_H
#define MPP_SHMREAD_PRIV_H

#include "mpp_shmread.h"

#include <string.h>

#include "mpp_layout.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"
#include "mpp_tstate.h"

/* What the previous DATA carried for one entry, in the file's ticks. */
typedef struct {
    uint32_t fid; /* for edges: the caller's fid */
    uint32_t fid2;
    mpp_cost_t cost;
    bool valid;
    /* The value changed but went out in no message: the definition it
     * names was not whole in a live copy (s_take_def).  A later read
     * sends it whether or not it changes again. */
    bool unsent;
} s_prev_t;

/* One thread's values as last sent, by the thread's wire id. */
typedef struct {
    uint64_t tid;
    s_prev_t *stats;
    uint32_t nstats;
    s_prev_t *edges;
    uint32_t nedges;
    mpp_catval_t cat[MPP_CAT_COUNT];
    bool has_cpu;
    int64_t cpu_ns;
    int64_t cpu_cat_ns;
} s_thread_t;

enum { F_UNSENT = 0, F_TAKEN = 1, F_SENT = 2 };

struct mpp_shmread {
    char *token;
    uint64_t seq; /* of the next message; from 0 per incarnation */
    int64_t pid;
    bool hello_sent;
    bool done;
    uint64_t corrupt;
    char name[MPP_SHM_ROOT_NAME]; /* last name a message carried */
    uint8_t *fstate;              /* F_* per function id */
    uint32_t nfstate;
    uint64_t spans_seen; /* the span ring's total at the last DATA */
    uint64_t spans_lost; /* spans overwritten before a read got them */
    /* The root's count of ended threads in the last good live read, and
     * what mpp_shmread_ack last wrote (mpp_shm_root.h). */
    uint64_t ack_due;
    uint64_t ack_written;
    bool ack_any;   /* ack_due holds a read's value */
    int64_t cpu_ns; /* the best CPU time given by mpp_shmread_set_cpu_ns */
    s_thread_t *threads; /* sorted by tid */
    size_t nthreads;
};

/* One read: the input and what the DATA message is being built from. */
typedef struct {
    mpp_shmread_t *r;
    const unsigned char *b;
    size_t len;
    uint64_t budget; /* bytes that arrays may still claim */
    mpp_shm_hdr_t hdr;
    mpp_shm_root_t root;
    bool final;
    /* Nothing in the file moves any more: a final read, or the process
     * recorded its end.  Only then is a part that does not read whole
     * damage rather than a copy torn by the writer (s_take_def). */
    bool settled;
    /* What this live read left for a later one (a torn definition, a
     * table regrown past the copy): the writer must then not be told it
     * may free ended threads. */
    size_t held;
    int64_t now;      /* ticks: cats running, spans, unwinding */
    int64_t real_now; /* CLOCK_REALTIME at `now` */
    uint32_t nfuncs;
    mpp_fdef_t *defs_ptr;
    int64_t span_min;
    mpp_wthread_t *wt;
    size_t nwt;
    mpp_wfunc_t *wf;
    size_t nwf;
    size_t capwf;
    mpp_wspan_t *ws;
    size_t nws;
    size_t capws;
    s_thread_t *next; /* the new per-thread records */
    size_t nnext;
    uint64_t spans_total; /* the ring's total as this read found it */
    uint64_t spans_lost;  /* of the spans new to this read, overwritten */
} s_ctx_t;

/* ---- checked access to the bytes --------------------------------------- */

static inline void
s_bad(s_ctx_t *c)
{
    c->r->corrupt++;
}

/* Copies `len` bytes at writer address `ptr`; false when they are not
 * wholly inside the bytes read. */
static inline bool
s_get(const s_ctx_t *c, uint64_t ptr, uint64_t len, void *dst)
{
    uint64_t off;
    if (len == 0) {
        return true;
    }
    if (mpp_shm_offset(&c->hdr, ptr, len, &off) < 0 || off > c->len ||
        len > c->len - off) {
        return false;
    }
    memcpy(dst, c->b + off, (size_t)len);
    return true;
}

/*  Claims an array of n elements of `size` at `ptr` against the budget;
 *  false (nothing claimed) when it does not fit. */
static inline bool
s_claim(s_ctx_t *c, uint64_t ptr, uint64_t n, size_t size)
{
    uint64_t off;
    if (n == 0) {
        return true; /* an empty array may have no block at all */
    }
    if (n > c->len / size) {
        return false;
    }
    uint64_t bytes = n * size;
    if (bytes > c->budget || mpp_shm_offset(&c->hdr, ptr, bytes, &off) < 0 ||
        off > c->len || bytes > c->len - off) {
        return false;
    }
    c->budget -= bytes;
    return true;
}

/* A string inside the bytes, NUL-terminated within them; else NULL. */
static inline const char *
s_str(const s_ctx_t *c, const void *ptr)
{
    uint64_t off;
    if (ptr == NULL ||
        mpp_shm_offset(&c->hdr, (uint64_t)(uintptr_t)ptr, 1, &off) < 0 ||
        off >= c->len) {
        return NULL;
    }
    size_t room = c->len - (size_t)off;
    if (room > 65536) {
        room = 65536;
    }
    const char *s = (const char *)c->b + off;
    return memchr(s, 0, room) != NULL ? s : NULL;
}

/* ---- time -------------------------------------------------------------- */

/* Ticks to ns without trusting the rate (mpp_clock_ns, clamped). */
static inline int64_t
s_ns(const s_ctx_t *c, int64_t ticks)
{
    const mpp_clock_t *k = &c->root.clock;
    if (k->kind != MPP_CLOCK_TSC) {
        return ticks;
    }
    double v = (double)ticks * k->ns_per_tick;
    if (!(v < 9.0e18 && v > -9.0e18)) {
        return v > 0 ? INT64_MAX : INT64_MIN;
    }
    return (int64_t)v;
}

/* a - b and a + b with wrapping: forged values must not overflow. */
static inline int64_t
s_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline int64_t
s_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* a + b, stuck at UINT64_MAX: counts built from forged values. */
static inline uint64_t
s_sat_add(uint64_t a, uint64_t b)
{
    return a + b >= a ? a + b : UINT64_MAX;
}

/* ---- mpp_shmread_tables.c ---------------------------------------------- */

int64_t mpp_sr_ticks_at(const s_ctx_t *c, bool have_mono, int64_t mono);
/* The registry's count and definitions, checked. */
void mpp_sr_registry(s_ctx_t *c);
/* Marks the definitions of this message sent, or unsent again. */
void mpp_sr_settle_defs(s_ctx_t *c, bool sent);
/* Every thread's changes into c->wt; 0 or MPP_ENOMEM. */
int mpp_sr_threads(s_ctx_t *c);
/*  New spans of the ring at `ptr` into c->ws; c->spans_total and
 *  c->spans_lost say where it stood and what was missed. */
void mpp_sr_spans(s_ctx_t *c, uint64_t ptr);
void mpp_sr_threads_free(s_thread_t *t, size_t n);

#endif
