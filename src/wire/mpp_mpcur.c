/*  The msgpack cursor shared by the wire decoder and the session file
 *  reader (see mpp_mpcur.h). */
#include "mpp_mpcur.h"

#include <string.h>

static uint64_t
s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Takes n bytes, or fails with MPP_ETRUNC when the bytes end first. */
static int
s_take(mpp_mpcur_t *c, size_t n, const uint8_t **bytes)
{
    if (mpp_mpcur_left(c) < n) {
        return MPP_ETRUNC;
    }
    *bytes = c->p;
    c->p += n;
    return 0;
}

/* Reads a big-endian length, count or number field of n bytes. */
static int
s_field(mpp_mpcur_t *c, size_t n, uint64_t *v)
{
    const uint8_t *b;
    int rc = s_take(c, n, &b);
    if (rc == 0) {
        *v = s_be(b, n);
    }
    return rc;
}

int
mpp_mpcur_next(mpp_mpcur_t *c, uint64_t *children)
{
    const uint8_t *b;
    int rc = s_take(c, 1, &b);
    if (rc != 0) {
        return rc;
    }
    uint8_t h = *b;
    size_t lenbytes = 0; /* size of a length or count field */
    uint64_t skip = 0;   /* payload bytes that follow the header */
    uint64_t extra = 0;  /* payload bytes beyond the length field's value */
    int kind = 0;        /* what the length field counts: 0 payload bytes,
                          * 1 array elements, 2 map pairs */

    *children = 0;
    if (h <= 0x7f || h >= 0xe0 || h == 0xc0 || h == 0xc2 || h == 0xc3) {
        return 0;
    }
    if (h <= 0x8f) {
        *children = 2u * (h & 0x0f);
        return 0;
    }
    if (h <= 0x9f) {
        *children = h & 0x0f;
        return 0;
    }
    if (h <= 0xbf) {
        skip = h & 0x1f;
    }
    else {
        switch (h) {
        case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
            lenbytes = (size_t)1 << (h - 0xc4);
            break;
        case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32: length, type, data */
            lenbytes = (size_t)1 << (h - 0xc7);
            extra = 1;
            break;
        case 0xca: /* float 32 */
            skip = 4;
            break;
        case 0xcb: /* float 64 */
            skip = 8;
            break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
            skip = (uint64_t)1 << (h - 0xcc);
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: /* int 8..64 */
            skip = (uint64_t)1 << (h - 0xd0);
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext */
            skip = 1 + ((uint64_t)1 << (h - 0xd4));
            break;
        case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
            lenbytes = (size_t)1 << (h - 0xd9);
            break;
        case 0xdc: case 0xdd: /* array 16/32 */
            lenbytes = (size_t)2 << (h - 0xdc);
            kind = 1;
            break;
        case 0xde: case 0xdf: /* map 16/32 */
            lenbytes = (size_t)2 << (h - 0xde);
            kind = 2;
            break;
        default: /* 0xc1 is never used */
            return MPP_ECORRUPT;
        }
    }
    if (lenbytes > 0) {
        uint64_t n;
        if ((rc = s_field(c, lenbytes, &n)) != 0) {
            return rc;
        }
        if (kind == 0) {
            skip = n + extra;
        }
        else {
            *children = kind == 2 ? 2 * n : n;
        }
    }
    if (skip > mpp_mpcur_left(c)) {
        return MPP_ETRUNC;
    }
    c->p += skip;
    return 0;
}

int
mpp_mpcur_skip(mpp_mpcur_t *c)
{
    uint64_t todo = 1;
    while (todo > 0) {
        uint64_t children;
        int rc = mpp_mpcur_next(c, &children);
        if (rc != 0) {
            return rc;
        }
        todo = todo - 1 + children;
        if (todo > mpp_mpcur_left(c)) {
            return MPP_ETRUNC;
        }
    }
    return 0;
}

/*  Reads any integer.  *neg tells a negative value (held in *v as two's
 *  complement) from a positive one, so callers can range-check both. */
static int
s_integer(mpp_mpcur_t *c, uint64_t *v, bool *neg)
{
    const uint8_t *b;
    int rc = s_take(c, 1, &b);
    if (rc != 0) {
        return rc;
    }
    uint8_t h = *b;
    *neg = false;
    if (h <= 0x7f) {
        *v = h;
        return 0;
    }
    if (h >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)h;
        *neg = true;
        return 0;
    }
    if (h >= 0xcc && h <= 0xcf) {
        return s_field(c, (size_t)1 << (h - 0xcc), v);
    }
    if (h >= 0xd0 && h <= 0xd3) {
        size_t n = (size_t)1 << (h - 0xd0);
        if ((rc = s_field(c, n, v)) != 0) {
            return rc;
        }
        /* Sign-extend the n-byte two's complement value. */
        if (n < 8 && (*v >> (8 * n - 1)) & 1) {
            *v |= UINT64_MAX << (8 * n);
        }
        *neg = (int64_t)*v < 0;
        return 0;
    }
    return MPP_ECORRUPT;
}

int
mpp_mpcur_uint(mpp_mpcur_t *c, uint64_t max, uint64_t *v)
{
    uint64_t u;
    bool neg;
    int rc = s_integer(c, &u, &neg);
    if (rc != 0) {
        return rc;
    }
    if (neg || u > max) {
        return MPP_ECORRUPT;
    }
    *v = u;
    return 0;
}

int
mpp_mpcur_int(mpp_mpcur_t *c, int64_t min, int64_t max, int64_t *v)
{
    uint64_t u;
    bool neg;
    int rc = s_integer(c, &u, &neg);
    if (rc != 0) {
        return rc;
    }
    if (neg ? (int64_t)u < min : u > (uint64_t)max) {
        return MPP_ECORRUPT;
    }
    *v = (int64_t)u;
    return 0;
}

int
mpp_mpcur_u64(mpp_mpcur_t *c, uint64_t *v)
{
    return mpp_mpcur_uint(c, UINT64_MAX, v);
}

int
mpp_mpcur_u32(mpp_mpcur_t *c, uint32_t *v)
{
    uint64_t x = 0;
    int rc = mpp_mpcur_uint(c, UINT32_MAX, &x);
    *v = (uint32_t)x;
    return rc;
}

int
mpp_mpcur_i64(mpp_mpcur_t *c, int64_t *v)
{
    return mpp_mpcur_int(c, INT64_MIN, INT64_MAX, v);
}

int
mpp_mpcur_i32(mpp_mpcur_t *c, int32_t *v)
{
    int64_t x = 0;
    int rc = mpp_mpcur_int(c, INT32_MIN, INT32_MAX, &x);
    *v = (int32_t)x;
    return rc;
}

int
mpp_mpcur_bool(mpp_mpcur_t *c, bool *v)
{
    const uint8_t *b;
    int rc = s_take(c, 1, &b);
    if (rc != 0) {
        return rc;
    }
    if (*b != 0xc2 && *b != 0xc3) {
        return MPP_ECORRUPT;
    }
    *v = *b == 0xc3;
    return 0;
}

/*  The encodings of a number in [0, INT64_MAX] that the writers use for
 *  counts and times (a positive fixint, uint 8 to 64), read in place;
 *  false, with nothing consumed, for anything else, which then takes the
 *  careful way.  A process's tables are mostly these numbers, four per
 *  cost, and the aggregator decodes every one of them twice. */
static inline bool
s_quick(mpp_mpcur_t *c, uint64_t *v)
{
    if (c->p >= c->end) {
        return false;
    }
    uint8_t h = *c->p;
    if (h <= 0x7f) {
        *v = h;
        c->p++;
        return true;
    }
    if (h < 0xcc || h > 0xcf) {
        return false;
    }
    size_t n = (size_t)1 << (h - 0xcc);
    if (mpp_mpcur_left(c) <= n) {
        return false;
    }
    uint64_t x = s_be(c->p + 1, n);
    if (x > (uint64_t)INT64_MAX) {
        return false;
    }
    *v = x;
    c->p += 1 + n;
    return true;
}

int
mpp_mpcur_cost(mpp_mpcur_t *c, mpp_cost_t *cost)
{
    uint64_t v[4];
    const uint8_t *at = c->p;
    if (s_quick(c, &v[0]) && s_quick(c, &v[1]) && s_quick(c, &v[2]) &&
        s_quick(c, &v[3])) {
        cost->ncalls = v[0];
        cost->pcalls = v[1];
        cost->tt_ns = (int64_t)v[2];
        cost->ct_ns = (int64_t)v[3];
        return 0;
    }
    c->p = at;
    int rc;
    if ((rc = mpp_mpcur_u64(c, &cost->ncalls)) != 0 ||
        (rc = mpp_mpcur_u64(c, &cost->pcalls)) != 0 ||
        (rc = mpp_mpcur_i64(c, &cost->tt_ns)) != 0 ||
        (rc = mpp_mpcur_i64(c, &cost->ct_ns)) != 0) {
        return rc;
    }
    return 0;
}

bool
mpp_mpcur_nil(mpp_mpcur_t *c)
{
    if (c->p < c->end && *c->p == 0xc0) {
        c->p++;
        return true;
    }
    return false;
}

static int
s_container(mpp_mpcur_t *c, bool map, uint32_t *n)
{
    const uint8_t *b;
    int rc = s_take(c, 1, &b);
    if (rc != 0) {
        return rc;
    }
    uint8_t fix = map ? 0x80 : 0x90, b16 = map ? 0xde : 0xdc;
    uint64_t v;
    if ((*b & 0xf0) == fix) {
        v = *b & 0x0f;
    }
    else if (*b == b16 || *b == b16 + 1) {
        if ((rc = s_field(c, *b == b16 ? 2 : 4, &v)) != 0) {
            return rc;
        }
    }
    else {
        return MPP_ECORRUPT;
    }
    if ((map ? 2 * v : v) > mpp_mpcur_left(c)) {
        return MPP_ETRUNC;
    }
    *n = (uint32_t)v;
    return 0;
}

int
mpp_mpcur_array(mpp_mpcur_t *c, uint32_t *n)
{
    return s_container(c, false, n);
}

int
mpp_mpcur_map(mpp_mpcur_t *c, uint32_t *n)
{
    return s_container(c, true, n);
}

int
mpp_mpcur_str(mpp_mpcur_t *c, const char **s, size_t *n)
{
    const uint8_t *b;
    int rc = s_take(c, 1, &b);
    if (rc != 0) {
        return rc;
    }
    uint64_t len;
    if (*b >= 0xa0 && *b <= 0xbf) {
        len = *b & 0x1f;
    }
    else if (*b >= 0xd9 && *b <= 0xdb) {
        if ((rc = s_field(c, (size_t)1 << (*b - 0xd9), &len)) != 0) {
            return rc;
        }
    }
    else {
        return MPP_ECORRUPT;
    }
    if ((rc = s_take(c, len, &b)) != 0) {
        return rc;
    }
    *s = (const char *)b;
    *n = len;
    return 0;
}

int
mpp_mpcur_cstr(mpp_mpcur_t *c, bool nil_ok, const char **s, size_t *n)
{
    *s = NULL;
    *n = 0;
    if (nil_ok && mpp_mpcur_nil(c)) {
        return 0;
    }
    int rc = mpp_mpcur_str(c, s, n);
    if (rc == 0 && memchr(*s, '\0', *n) != NULL) {
        rc = MPP_ECORRUPT;
    }
    return rc;
}
