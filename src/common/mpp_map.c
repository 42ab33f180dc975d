/*  Linear probing with a separate occupancy byte, so every key value,
 *  zero included, can be stored.
 *
 *  Keys often come from the wire (function ids, thread ids), chosen by
 *  whoever sent the frame, and the finalizer is a public bijection: a
 *  sender could compute a million keys that all land in one slot and make
 *  every insertion walk them all.  So keys are xored with a seed drawn
 *  from the kernel once per process before they are hashed; nothing
 *  outside the process can see it, and nothing iterates a map, so no
 *  output depends on it. */
#include "mpp_map.h"
#include "mpp_hash.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

struct mpp_map {
    uint64_t *keys;
    uint32_t *values;
    uint8_t *used;
    size_t cap; /* power of two */
    size_t size;
    uint64_t seed;
};

/*  The process's seed.  Two threads that race here may draw two seeds;
 *  that is harmless, since each map keeps the one it was made with. */
static uint64_t
s_seed(void)
{
    static _Atomic uint64_t seed;
    uint64_t v = atomic_load_explicit(&seed, memory_order_relaxed);
    if (v != 0) {
        return v;
    }
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        /* Early boot without entropy: the clock and where the stack is
         * still differ from one run to the next. */
        v = mpp_hash_mix64((uint64_t)mpp_clock_mono_ns() ^
                           (uint64_t)(uintptr_t)&v);
    }
    v |= 1; /* never 0, which means "not drawn yet" */
    atomic_store_explicit(&seed, v, memory_order_relaxed);
    return v;
}

static inline size_t
s_hash(const mpp_map_t *self, uint64_t key)
{
    return (size_t)mpp_hash_mix64(key ^ self->seed);
}

static int
s_alloc(mpp_map_t *self, size_t cap)
{
    self->keys = calloc(cap, sizeof(*self->keys));
    self->values = calloc(cap, sizeof(*self->values));
    self->used = calloc(cap, 1);
    if (!self->keys || !self->values || !self->used) {
        free(self->keys);
        free(self->values);
        free(self->used);
        return MPP_ENOMEM;
    }
    self->cap = cap;
    self->size = 0;
    return 0;
}

mpp_map_t *
mpp_map_new(void)
{
    mpp_map_t *self = calloc(1, sizeof(*self));
    if (self != NULL) {
        self->seed = s_seed();
    }
    if (self && s_alloc(self, 16) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
mpp_map_destroy(mpp_map_t **self_p)
{
    if (self_p && *self_p) {
        mpp_map_t *self = *self_p;
        free(self->keys);
        free(self->values);
        free(self->used);
        free(self);
        *self_p = NULL;
    }
}

static size_t
s_find(const mpp_map_t *self, uint64_t key)
{
    size_t mask = self->cap - 1;
    size_t i = s_hash(self, key) & mask;
    while (self->used[i] && self->keys[i] != key) {
        i = (i + 1) & mask;
    }
    return i;
}

bool
mpp_map_get(const mpp_map_t *self, uint64_t key, uint32_t *value)
{
    size_t i = s_find(self, key);
    if (!self->used[i]) {
        return false;
    }
    *value = self->values[i];
    return true;
}

int
mpp_map_put(mpp_map_t *self, uint64_t key, uint32_t value)
{
    if ((self->size + 1) * 4 > self->cap * 3) {
        mpp_map_t old = *self;
        if (s_alloc(self, old.cap * 2) != 0) {
            *self = old;
            return MPP_ENOMEM;
        }
        for (size_t i = 0; i < old.cap; i++) {
            if (old.used[i]) {
                size_t j = s_find(self, old.keys[i]);
                self->used[j] = 1;
                self->keys[j] = old.keys[i];
                self->values[j] = old.values[i];
                self->size++;
            }
        }
        free(old.keys);
        free(old.values);
        free(old.used);
    }
    size_t i = s_find(self, key);
    if (!self->used[i]) {
        self->used[i] = 1;
        self->keys[i] = key;
        self->size++;
    }
    self->values[i] = value;
    return 0;
}

size_t
mpp_map_size(const mpp_map_t *self)
{
    return self->size;
}
