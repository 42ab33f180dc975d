/*  A stable LSD radix sort of (key, value) pairs by key, for the view and
 *  the writers: edges sorted by (callee, caller) or (caller, callee) in
 *  linear time, where qsort's comparisons dominated. */
#ifndef MPP_SORT_H
#define MPP_SORT_H

#include <string.h>

#include "mpp_internal.h"

typedef struct {
    uint64_t key;
    uint64_t val;
} mpp_kv_t;

/*  Header-only, so that every unit that uses it (the session model, also
 *  built alone into the fuzz targets, and the writers) links without
 *  another source file. */

/* Bits needed to hold v: 0 for 0, 1 for 1, 3 for 5, ... */
static inline unsigned
mpp_bit_width(uint64_t v)
{
    unsigned n = 0;
    while (v != 0) {
        n++;
        v >>= 1;
    }
    return n;
}

/* Small inputs: insertion sort, stable too. */
static inline void
mpp_sort_kv_insertion_(mpp_kv_t *kv, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        mpp_kv_t x = kv[i];
        size_t j = i;
        while (j > 0 && kv[j - 1].key > x.key) {
            kv[j] = kv[j - 1];
            j--;
        }
        kv[j] = x;
    }
}

/*  Sorts kv[0..n) by key, keeping the order of equal keys.  tmp has room
 *  for n pairs; the result is in kv.  Only the bytes in which the keys
 *  differ cost a pass. */
static inline void
mpp_sort_kv(mpp_kv_t *kv, mpp_kv_t *tmp, size_t n)
{
    if (n < 64) {
        mpp_sort_kv_insertion_(kv, n);
        return;
    }
    /* One counting pass for all eight bytes. */
    enum { nb = 8 };
    size_t count[nb][256];
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < n; i++) {
        uint64_t k = kv[i].key;
        for (size_t b = 0; b < nb; b++) {
            count[b][(k >> (8 * b)) & 0xff]++;
        }
    }
    mpp_kv_t *src = kv, *dst = tmp;
    for (size_t b = 0; b < nb; b++) {
        size_t *c = count[b];
        /* A byte all keys share orders nothing. */
        if (c[(src[0].key >> (8 * b)) & 0xff] == n) {
            continue;
        }
        size_t sum = 0;
        for (size_t d = 0; d < 256; d++) {
            size_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++) {
            dst[c[(src[i].key >> (8 * b)) & 0xff]++] = src[i];
        }
        mpp_kv_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != kv) {
        memcpy(kv, src, n * sizeof(*kv));
    }
}

#endif

