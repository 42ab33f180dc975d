/*  Small helpers shared by the launcher, aggregator and writers. */
#include "mpp_internal.h"

#include <string.h>

int
mpp_grow_cap(size_t cap, size_t need, size_t elem, size_t *ncap)
{
    size_t n = cap ? cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) {
            return MPP_ENOMEM;
        }
        n *= 2;
    }
    *ncap = n;
    return 0;
}

int
mpp_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    if (need <= *cap) {
        return 0;
    }
    if (mpp_grow_cap(*cap, need, elem, &ncap) != 0) {
        return MPP_ENOMEM;
    }
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL) {
        return MPP_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

char *
mpp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Checks one UTF-8 sequence the way Python's decoder with
 * errors="replace" does, so every writer replaces the same bytes. */
size_t
mpp_utf8_seq(const unsigned char *p, size_t n, bool *valid)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, k;
    *valid = c < 0x80;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    }
    else {
        return 1;
    }
    for (k = 1; k < len && k < n; k++) {
        if (p[k] < (k == 1 ? lo : 0x80) || p[k] > (k == 1 ? hi : 0xbf)) {
            break;
        }
    }
    *valid = k == len;
    return k;
}
