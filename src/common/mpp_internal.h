/*  The one private header every unit in src/ includes: system headers, the
 *  public headers, and small helpers shared by all units. */
#ifndef MPP_INTERNAL_H
#define MPP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "mpprof/mpprof.h"
#include "mpprof/wire.h"

#include "mpp_clock.h"

#define MPP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Grows *arr (of elements of size elem) so it holds at least `need`. */
int mpp_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* The capacity mpp_grow moves to (doubling from 8): MPP_ENOMEM when it
 * would overflow.  For allocators other than realloc. */
int mpp_grow_cap(size_t cap, size_t need, size_t elem, size_t *ncap);

/* strdup that returns NULL for NULL. */
char *mpp_strdup(const char *s);

/* Length of the UTF-8 sequence at p (n > 0 bytes); *valid says whether it
 * is well-formed, else the length is the invalid part one U+FFFD replaces. */
size_t mpp_utf8_seq(const unsigned char *p, size_t n, bool *valid);

/* The clocks in nanoseconds live in mpp_clock.h.  These two older names
 * stay for the launcher and the collector's sender, which still use them;
 * new code calls mpp_clock_mono_ns / mpp_clock_real_ns. */
#define mpp_now_mono_ns() mpp_clock_mono_ns()
#define mpp_now_real_ns() mpp_clock_real_ns()

/*  a + b, clamped to int64's range.  Times come from the wire, where any
 *  process of the session can claim INT64_MAX nanoseconds; summing such
 *  claims must not be signed overflow, which is undefined behaviour. */
static inline int64_t
mpp_add_sat_i64(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

/* Counts are unsigned and wrap (defined); times saturate. */
static inline void
mpp_cost_add(mpp_cost_t *dst, const mpp_cost_t *src)
{
    dst->ncalls += src->ncalls;
    dst->pcalls += src->pcalls;
    dst->tt_ns = mpp_add_sat_i64(dst->tt_ns, src->tt_ns);
    dst->ct_ns = mpp_add_sat_i64(dst->ct_ns, src->ct_ns);
}

#endif
