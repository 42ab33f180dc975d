/*  The collector's function registry; see mpp_funcs.h. */
#include "mpp_funcs.h"

#include <string.h>

#include "mpp_cats.h"
#include "mpp_hash.h"
#include "mpp_layout.h"
#include "mpp_shm.h"

enum { S_UNSENT = 0, S_TAKEN = 1, S_SENT = 2 };

/* The layouts a reader shares (mpp_layout.h). */
typedef mpp_fdef_t s_def_t;
typedef mpp_fslot_t s_slot_t;

static inline size_t
s_hash(const void *key, size_t mask)
{
    /* Pointers are aligned, so the low bits carry nothing; a Fibonacci
     * multiply spreads the rest. */
    return (size_t)(mpp_hash_fib((uint64_t)(uintptr_t)key) >> 32) & mask;
}

mpp_funcs_t *
mpp_funcs_new(mpp_shm_t *shm)
{
    mpp_funcs_t *self = mpp_mem_calloc(shm, 1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->shm = shm;
    self->nslots = 256;
    self->slots = calloc(self->nslots, sizeof(*self->slots));
    self->nlabels = 256;
    self->labels = malloc(self->nlabels * sizeof(*self->labels));
    if (self->labels != NULL) {
        memset(self->labels, 0xff, self->nlabels * sizeof(*self->labels));
    }
    if (self->slots == NULL || self->labels == NULL) {
        free(self->slots);
        free(self->labels);
        mpp_mem_free(shm, self);
        return NULL;
    }
    return self;
}

void
mpp_funcs_destroy(mpp_funcs_t **self_p)
{
    mpp_funcs_t *self = *self_p;
    if (self == NULL) {
        return;
    }
    mpp_shm_t *shm = self->shm;
    for (uint32_t i = 0; i < self->ndefs; i++) {
        mpp_mem_free(shm, self->defs[i].file);
        mpp_mem_free(shm, self->defs[i].name);
    }
    mpp_mem_free(shm, self->defs);
    free(self->state);
    free(self->slots);
    free(self->labels);
    mpp_mem_free(shm, self);
    *self_p = NULL;
}

static size_t
s_label_hash(const char *file, int32_t line, const char *name, size_t mask)
{
    uint64_t h = mpp_hash_str_from(MPP_HASH_FNV_BASIS, file);
    h = mpp_hash_bytes_from(h, &line, sizeof(line));
    h = mpp_hash_str_from(h, name);
    return (size_t)mpp_hash_mix64(h) & mask;
}

/* The slot of the label's id in `labels`, or of the empty slot where it
 * goes. */
static size_t
s_label_slot(const mpp_funcs_t *self, const uint32_t *labels, size_t n,
             const char *file, int32_t line, const char *name)
{
    size_t mask = n - 1;
    size_t i = s_label_hash(file, line, name, mask);
    for (;; i = (i + 1) & mask) {
        uint32_t fid = labels[i];
        if (fid == MPP_NOFID) {
            return i;
        }
        const s_def_t *def = &self->defs[fid];
        if (def->line == line && strcmp(def->name, name) == 0 &&
            strcmp(def->file, file) == 0) {
            return i;
        }
    }
}

/* Makes room for one more label (load under one half).  0 or ENOMEM. */
static int
s_labels_reserve(mpp_funcs_t *self)
{
    if (2 * ((size_t)self->ndefs + 1) <= self->nlabels) {
        return 0;
    }
    size_t n = self->nlabels * 2;
    uint32_t *labels = malloc(n * sizeof(*labels));
    if (labels == NULL) {
        return MPP_ENOMEM;
    }
    memset(labels, 0xff, n * sizeof(*labels));
    for (uint32_t fid = 0; fid < self->ndefs; fid++) {
        const s_def_t *def = &self->defs[fid];
        labels[s_label_slot(self, labels, n, def->file, def->line,
                            def->name)] = fid;
    }
    free(self->labels);
    self->labels = labels;
    self->nlabels = n;
    return 0;
}

uint32_t
mpp_funcs_add(mpp_funcs_t *self, const char *file, int32_t line,
              const char *name)
{
    file = file ? file : "?";
    name = name ? name : "?";
    if (self->ndefs == MPP_NOFID || s_labels_reserve(self) < 0) {
        return MPP_NOFID;
    }
    /* One id per label: cumulative numbers of two ids with one label
     * would otherwise overwrite each other wherever they merge. */
    size_t slot = s_label_slot(self, self->labels, self->nlabels, file, line,
                               name);
    if (self->labels[slot] != MPP_NOFID) {
        return self->labels[slot];
    }
    size_t cap = self->capdefs;
    if (mpp_mem_grow(self->shm, (void **)&self->defs, &cap, self->ndefs + 1,
                     sizeof(*self->defs)) < 0) {
        return MPP_NOFID;
    }
    /* Both arrays share one capacity, so grow the second to match. */
    if (cap != self->capdefs) {
        uint8_t *state = realloc(self->state, cap);
        if (state == NULL) {
            /* defs keeps its larger block; capdefs still describes state,
             * so the next call simply retries. */
            return MPP_NOFID;
        }
        self->state = state;
        self->capdefs = cap;
    }
    s_def_t *def = &self->defs[self->ndefs];
    def->file = mpp_mem_strdup(self->shm, file);
    def->name = mpp_mem_strdup(self->shm, name);
    if (def->file == NULL || def->name == NULL) {
        mpp_mem_free(self->shm, def->file);
        mpp_mem_free(self->shm, def->name);
        return MPP_NOFID;
    }
    /* Counted once both copies exist, so a failure leaves no trace. */
    self->mem += strlen(def->file) + 1 + strlen(def->name) + 1;
    def->line = line;
    mpp_cats_classify(def->file, def->name, &def->tag, &def->mark);
    self->state[self->ndefs] = S_UNSENT;
    self->labels[slot] = self->ndefs;
    return self->ndefs++;
}

uint32_t
mpp_funcs_find(const mpp_funcs_t *self, const void *key)
{
    size_t mask = self->nslots - 1;
    for (size_t i = s_hash(key, mask);; i = (i + 1) & mask) {
        const s_slot_t *slot = &self->slots[i];
        if (slot->key == key) {
            return slot->fid;
        }
        if (slot->key == NULL) {
            return MPP_NOFID;
        }
    }
}

static void
s_insert(s_slot_t *slots, size_t nslots, const void *key, uint32_t fid)
{
    size_t mask = nslots - 1;
    size_t i = s_hash(key, mask);
    while (slots[i].key != NULL && slots[i].key != key) {
        i = (i + 1) & mask;
    }
    slots[i].key = key;
    slots[i].fid = fid;
}

int
mpp_funcs_bind(mpp_funcs_t *self, const void *key, uint32_t fid)
{
    /* Keep the load under one half so probes stay short. */
    if (2 * (self->nkeys + 1) > self->nslots) {
        size_t nslots = self->nslots * 2;
        s_slot_t *slots = calloc(nslots, sizeof(*slots));
        if (slots == NULL) {
            return MPP_ENOMEM;
        }
        for (size_t i = 0; i < self->nslots; i++) {
            if (self->slots[i].key != NULL) {
                s_insert(slots, nslots, self->slots[i].key,
                         self->slots[i].fid);
            }
        }
        free(self->slots);
        self->slots = slots;
        self->nslots = nslots;
    }
    s_insert(self->slots, self->nslots, key, fid);
    self->nkeys++;
    return 0;
}

uint32_t
mpp_funcs_count(const mpp_funcs_t *self)
{
    return self->ndefs;
}

void
mpp_funcs_get(const mpp_funcs_t *self, uint32_t fid, mpp_wfunc_t *out)
{
    const s_def_t *def = &self->defs[fid];
    out->fid = fid;
    out->line = def->line;
    out->file = def->file;
    out->name = def->name;
}

uint8_t
mpp_funcs_tag(const mpp_funcs_t *self, uint32_t fid)
{
    return fid < self->ndefs ? self->defs[fid].tag : 0;
}

uint8_t
mpp_funcs_mark(const mpp_funcs_t *self, uint32_t fid)
{
    return fid < self->ndefs ? self->defs[fid].mark : 0;
}

bool
mpp_funcs_take(mpp_funcs_t *self, uint32_t fid)
{
    if (self->state[fid] != S_UNSENT) {
        return false;
    }
    self->state[fid] = S_TAKEN;
    return true;
}

void
mpp_funcs_settle(mpp_funcs_t *self, const mpp_wfunc_t *taken, size_t n,
                 bool sent)
{
    for (size_t i = 0; i < n; i++) {
        self->state[taken[i].fid] = sent ? S_SENT : S_UNSENT;
    }
}

void
mpp_funcs_unsend_all(mpp_funcs_t *self)
{
    if (self->ndefs > 0) {
        memset(self->state, S_UNSENT, self->ndefs);
    }
}

size_t
mpp_funcs_mem(const mpp_funcs_t *self)
{
    return sizeof(*self) + self->mem +
           self->capdefs * (sizeof(*self->defs) + 1) +
           self->nslots * sizeof(*self->slots) +
           self->nlabels * sizeof(*self->labels);
}
