/*  Linear probing with a separate occupancy byte, so every key value,
 *  zero included, can be stored. */
#include "mpp_map.h"
#include "mpp_hash.h"

#include <string.h>

struct mpp_map {
    uint64_t *keys;
    uint32_t *values;
    uint8_t *used;
    size_t cap; /* power of two */
    size_t size;
};

static inline size_t
s_hash(uint64_t key)
{
    return (size_t)mpp_hash_mix64(key);
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
    size_t i = s_hash(key) & mask;
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
