/*  The hash functions of mpprof, in one place so that every table spreads
 *  its keys the same, well-understood way instead of each unit carrying its
 *  own copy of the constants.
 *
 *  - mpp_hash_bytes / mpp_hash_str: 64-bit FNV-1a over bytes, for text keys
 *    (file and function names, the pstats string table).  Its low bits are
 *    weak for short keys, so a table that masks the hash should finish it
 *    with mpp_hash_mix64, or at least fold the high bits down.
 *  - mpp_hash_mix64: MurmurHash3's 64-bit finalizer, for integer keys that
 *    are small, dense or packed pairs (function indexes, caller<<32|callee):
 *    a plain multiply leaves those nearly linear, which clusters under
 *    linear probing.
 *  - mpp_hash_fib: Fibonacci hashing (one multiply by 2^64/phi), for keys
 *    whose high bits carry the entropy once multiplied, such as aligned
 *    pointers; take the top bits of the result, not the bottom ones.
 *
 *  None of these is keyed: they are for tables, not for anything an
 *  adversary must not be able to collide.  Tables fed from the wire must
 *  therefore bound their size by other means (see the aggregator).
 */
#ifndef MPP_HASH_H
#define MPP_HASH_H

#include <stddef.h>
#include <stdint.h>

/*  FNV's published 64-bit offset basis.  The hashes this header replaced
 *  started from 1469598103934665603, the basis with its last digit lost:
 *  it hashes no worse, but it is not FNV-1a and does not match the test
 *  vectors. */
#define MPP_HASH_FNV_BASIS UINT64_C(14695981039346656037)
#define MPP_HASH_FNV_PRIME UINT64_C(1099511628211)
#define MPP_HASH_GOLDEN UINT64_C(0x9E3779B97F4A7C15)

/* Continues an FNV-1a hash `h` over n bytes; start from MPP_HASH_FNV_BASIS. */
static inline uint64_t
mpp_hash_bytes_from(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * MPP_HASH_FNV_PRIME;
    }
    return h;
}

/* Continues an FNV-1a hash `h` over a NUL-terminated string. */
static inline uint64_t
mpp_hash_str_from(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h = (h ^ *p) * MPP_HASH_FNV_PRIME;
    }
    return h;
}

static inline uint64_t
mpp_hash_bytes(const void *data, size_t n)
{
    return mpp_hash_bytes_from(MPP_HASH_FNV_BASIS, data, n);
}

static inline uint64_t
mpp_hash_str(const char *s)
{
    return mpp_hash_str_from(MPP_HASH_FNV_BASIS, s);
}

static inline uint64_t
mpp_hash_mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xFF51AFD7ED558CCD);
    k ^= k >> 33;
    k *= UINT64_C(0xC4CEB9FE1A85EC53);
    k ^= k >> 33;
    return k;
}

static inline uint64_t
mpp_hash_fib(uint64_t k)
{
    return k * MPP_HASH_GOLDEN;
}

#endif
