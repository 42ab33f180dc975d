/*  Per-thread profile tables: the cold paths; see mpp_tstate.h. */
#include "mpp_tstate.h"

#include <string.h>

#include "mpp_cats.h"
#include "mpp_core_priv.h"

#define S_STACK_START 256
#define S_EHASH_START 64

/*  Where a table's numbers live: in its core's shared mapping, if the
 *  core has one, so that they outlive the process; the indexes that only
 *  events need (slot, ehash) stay private.  A table without a core (the
 *  merged one of ended threads) lives in private memory. */
static mpp_shm_t *
s_shm(const mpp_tstate_t *t)
{
    return t->core != NULL ? t->core->shm : NULL;
}

mpp_tstate_t *
mpp_tstate_new(struct mpp_core *core, uint64_t tid, const char *name)
{
    mpp_shm_t *shm = core != NULL ? core->shm : NULL;
    mpp_tstate_t *self = mpp_mem_calloc(shm, 1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->core = core;
    self->tid = tid;
    self->name = mpp_mem_strdup(shm, name ? name : "?");
    /* A table without a core sees no events (the merged table of ended
     * threads): its stack would only be memory held for nothing. */
    uint32_t capstack = core != NULL ? S_STACK_START : 0;
    self->stack =
        capstack ? mpp_mem_alloc(shm, capstack * sizeof(*self->stack)) : NULL;
    self->ehash = calloc(S_EHASH_START, sizeof(*self->ehash));
    if (self->name == NULL || (capstack && self->stack == NULL) ||
        self->ehash == NULL) {
        mpp_tstate_destroy(&self);
        return NULL;
    }
    self->capstack = capstack;
    self->emask = S_EHASH_START - 1;
    mpp_cats_thread_init(self);
    return self;
}

void
mpp_tstate_destroy(mpp_tstate_t **self_p)
{
    mpp_tstate_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    mpp_shm_t *shm = s_shm(self);
    mpp_mem_free(shm, self->stack);
    free(self->slot);
    mpp_mem_free(shm, self->stats);
    mpp_mem_free(shm, self->edges);
    free(self->ehash);
    mpp_mem_free(shm, self->name);
    mpp_mem_free(shm, self);
    *self_p = NULL;
}

void
mpp_tstate_clear(mpp_tstate_t *self)
{
    /* First, while the stack still shows what the thread was doing. */
    mpp_cats_thread_reset(self);
    /* The indexes start over small rather than zeroed at their size: in
     * a fork child (this is its reset) zeroing them wrote every page of
     * them, each a copy-on-write fault; a process of a few thousand
     * functions and edges had a dozen. */
    free(self->slot);
    self->slot = NULL;
    self->nslot = 0;
    uint32_t *ehash = NULL;
    if (self->emask + 1 > S_EHASH_START &&
        (ehash = calloc(S_EHASH_START, sizeof(*ehash))) != NULL) {
        free(self->ehash);
        self->ehash = ehash;
        self->emask = S_EHASH_START - 1;
    }
    else if (self->ehash != NULL) {
        memset(self->ehash, 0,
               ((size_t)self->emask + 1) * sizeof(*self->ehash));
    }
    self->nstats = 0;
    self->nedges = 0;
    self->depth = 0;
    self->lost = 0;
    self->dropped = 0;
}

void
mpp_tstate_unwind(mpp_tstate_t *self, int64_t now)
{
    self->lost = 0;
    while (self->depth > 0) {
        mpp_tstate_leave(self, now);
    }
    mpp_cats_thread_unwind(self, now);
}

size_t
mpp_tstate_mem(const mpp_tstate_t *self)
{
    return sizeof(*self) + strlen(self->name) + 1 +
           (size_t)self->capstack * sizeof(*self->stack) +
           (size_t)self->nslot * sizeof(*self->slot) +
           (size_t)self->capstats * sizeof(*self->stats) +
           (size_t)self->capedges * sizeof(*self->edges) +
           (self->ehash != NULL
                ? ((size_t)self->emask + 1) * sizeof(*self->ehash)
                : 0);
}

void
mpp_tstate_shrink(mpp_tstate_t *self)
{
    /* Only an empty stack may go: a frame still open would be closed
     * against memory that is no longer there. */
    if (self->depth > 0 || self->lost > 0) {
        return;
    }
    mpp_mem_free(s_shm(self), self->stack);
    free(self->slot);
    free(self->ehash);
    self->stack = NULL;
    self->slot = NULL;
    self->ehash = NULL;
    self->capstack = 0;
    self->nslot = 0;
    self->emask = 0;
}

int
mpp_tstate_merge(mpp_tstate_t *dst, const mpp_tstate_t *src)
{
    int rc = 0;
    for (uint32_t i = 0; i < src->nstats; i++) {
        const mpp_ts_stat_t *s = &src->stats[i];
        uint32_t si = s->fid < dst->nslot ? dst->slot[s->fid] : 0;
        if (si == 0 && (si = mpp_tstate_add_stat(dst, s->fid)) == 0) {
            rc = MPP_ENOMEM;
            continue;
        }
        mpp_cost_add(&dst->stats[si - 1].cost, &s->cost);
    }
    for (uint32_t i = 0; i < src->nedges; i++) {
        const mpp_ts_edge_t *e = &src->edges[i];
        uint32_t fc = src->stats[e->caller - 1].fid;
        uint32_t fe = src->stats[e->callee - 1].fid;
        uint32_t dc = fc < dst->nslot ? dst->slot[fc] : 0;
        uint32_t de = fe < dst->nslot ? dst->slot[fe] : 0;
        uint32_t ei = dc && de ? mpp_tstate_edge(dst, dc, de) : 0;
        if (ei == 0) {
            rc = MPP_ENOMEM;
            continue;
        }
        mpp_cost_add(&dst->edges[ei - 1].cost, &e->cost);
    }
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        dst->cat[c].ns += src->cat[c].ns;
        dst->cat[c].count += src->cat[c].count;
        dst->cat[c].bytes += src->cat[c].bytes;
    }
    int64_t cpu, cat;
    if (mpp_tstate_cpu(src, &cpu, &cat)) {
        /* The merged table is never inside a category: all of it is
         * closed. */
        dst->cpu_ns = (dst->cpu_ns > 0 ? dst->cpu_ns : 0) + cpu;
        dst->cpu_cat_ns += cat;
        dst->cpu_since = dst->cpu_ns;
    }
    return rc;
}

bool
mpp_tstate_make_room(mpp_tstate_t *self)
{
    /* Once a push failed, every deeper call is lost too, so the returns
     * that follow can be matched by counting alone. */
    if (self->lost > 0) {
        self->lost++;
        return false;
    }
    size_t cap = self->capstack;
    if (cap >= UINT32_MAX / 2 ||
        mpp_mem_grow(s_shm(self), (void **)&self->stack, &cap, cap + 1,
                     sizeof(*self->stack)) < 0) {
        self->lost = 1;
        self->dropped++;
        return false;
    }
    self->capstack = (uint32_t)cap;
    return true;
}

uint32_t
mpp_tstate_add_stat(mpp_tstate_t *self, uint32_t fid)
{
    /* A function that could not be registered is pushed unaccounted. */
    if (fid == MPP_NOFID) {
        return 0;
    }
    if (fid >= self->nslot) {
        /* Size the index for the ids that exist by now, not just this
         * one, so it grows a few times in a thread's life, not per id. */
        size_t nslot = self->nslot ? self->nslot : 64;
        while (nslot <= fid) {
            nslot *= 2;
        }
        uint32_t *slot = NULL;
        if (nslot <= UINT32_MAX) {
            slot = realloc(self->slot, nslot * sizeof(*slot));
        }
        if (slot == NULL) {
            self->dropped++;
            return 0;
        }
        memset(slot + self->nslot, 0, (nslot - self->nslot) * sizeof(*slot));
        self->slot = slot;
        self->nslot = (uint32_t)nslot;
    }
    size_t cap = self->capstats;
    if (mpp_mem_grow(s_shm(self), (void **)&self->stats, &cap,
                     (size_t)self->nstats + 1, sizeof(*self->stats)) < 0) {
        self->dropped++;
        return 0;
    }
    self->capstats = (uint32_t)cap;
    mpp_ts_stat_t *s = &self->stats[self->nstats];
    memset(s, 0, sizeof(*s));
    s->fid = fid;
    s->tag = self->core != NULL ? mpp_funcs_tag(self->core->h.funcs, fid) : 0;
    self->slot[fid] = ++self->nstats;
    return self->nstats;
}

static void
s_ehash_put(uint32_t *ehash, uint32_t emask, const mpp_ts_edge_t *e,
            uint32_t ei)
{
    uint32_t h = mpp_ts_edge_hash(e->caller, e->callee) & emask;
    while (ehash[h] != 0) {
        h = (h + 1) & emask;
    }
    ehash[h] = ei;
}

uint32_t
mpp_tstate_add_edge(mpp_tstate_t *self, uint32_t caller, uint32_t callee)
{
    /* Keep the hash at most half full; rebuild it at twice the size. */
    if (2 * ((size_t)self->nedges + 1) > (size_t)self->emask + 1) {
        size_t size = 2 * ((size_t)self->emask + 1);
        uint32_t *ehash = NULL;
        if (size <= UINT32_MAX) {
            ehash = calloc(size, sizeof(*ehash));
        }
        if (ehash == NULL) {
            self->dropped++;
            return 0;
        }
        for (uint32_t i = 0; i < self->nedges; i++) {
            s_ehash_put(ehash, (uint32_t)(size - 1), &self->edges[i], i + 1);
        }
        free(self->ehash);
        self->ehash = ehash;
        self->emask = (uint32_t)(size - 1);
    }
    size_t cap = self->capedges;
    if (mpp_mem_grow(s_shm(self), (void **)&self->edges, &cap,
                     (size_t)self->nedges + 1, sizeof(*self->edges)) < 0) {
        self->dropped++;
        return 0;
    }
    self->capedges = (uint32_t)cap;
    mpp_ts_edge_t *e = &self->edges[self->nedges];
    memset(e, 0, sizeof(*e));
    e->caller = caller;
    e->callee = callee;
    s_ehash_put(self->ehash, self->emask, e, ++self->nedges);
    return self->nedges;
}
