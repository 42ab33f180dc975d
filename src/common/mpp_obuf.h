/*  A large output buffer in front of a FILE, for the writers of big files
 *  (pstats, callgrind, report tables, the session file): bytes and decimal
 *  numbers are put straight into memory and reach stdio in 256 KiB
 *  fwrite calls, instead of one fputc/fwrite/fprintf call per item.
 *
 *  Errors stay where the writers and mpp_outdir look for them: a short
 *  fwrite sets the FILE's error flag (and leaves the cause for fflush to
 *  report again), so writers still end with `ferror(out) ? -EIO : 0`
 *  after mpp_ob_fini.  Whatever was put before mpp_ob_fini reaches the
 *  FILE in order; the FILE may be written directly between an
 *  mpp_ob_flush and the next put.
 */
#ifndef MPP_OBUF_H
#define MPP_OBUF_H

#include <stdio.h>
#include <string.h>

#include "mpp_internal.h"

#define MPP_OB_SIZE (256u * 1024u)
/* The most one reservation may ask for: room for any number and then
 * some, far below the buffer size. */
#define MPP_OB_MAXRES 4096u

typedef struct {
    FILE *out;
    char *buf;
    char *p;   /* next free byte */
    char *end; /* buf + MPP_OB_SIZE */
} mpp_obuf_t;

/* Returns 0 or MPP_ENOMEM. */
static inline int
mpp_ob_init(mpp_obuf_t *b, FILE *out)
{
    b->out = out;
    b->buf = malloc(MPP_OB_SIZE);
    b->p = b->buf;
    b->end = b->buf ? b->buf + MPP_OB_SIZE : NULL;
    return b->buf ? 0 : MPP_ENOMEM;
}

static inline void
mpp_ob_flush(mpp_obuf_t *b)
{
    if (b->p > b->buf) {
        fwrite(b->buf, 1, (size_t)(b->p - b->buf), b->out);
        b->p = b->buf;
    }
}

/* Flushes and frees; safe on a buffer whose init failed. */
static inline void
mpp_ob_fini(mpp_obuf_t *b)
{
    if (b->buf != NULL) {
        mpp_ob_flush(b);
        free(b->buf);
        b->buf = b->p = b->end = NULL;
    }
}

/* Room for `n` (<= MPP_OB_MAXRES) more bytes; returns where they go. */
static inline char *
mpp_ob_room(mpp_obuf_t *b, size_t n)
{
    if ((size_t)(b->end - b->p) < n) {
        mpp_ob_flush(b);
    }
    return b->p;
}

static inline void
mpp_ob_put(mpp_obuf_t *b, const void *data, size_t n)
{
    if ((size_t)(b->end - b->p) < n) {
        mpp_ob_flush(b);
        if (n > MPP_OB_SIZE / 2) {
            fwrite(data, 1, n, b->out);
            return;
        }
    }
    memcpy(b->p, data, n);
    b->p += n;
}

static inline void
mpp_ob_c(mpp_obuf_t *b, char c)
{
    if (b->p == b->end) {
        mpp_ob_flush(b);
    }
    *b->p++ = c;
}

static inline void
mpp_ob_str(mpp_obuf_t *b, const char *s)
{
    mpp_ob_put(b, s, strlen(s));
}

/*  Decimal digits of v at `at`, which has room for 20; returns the end.
 *  Two digits per step from a table, as printf("%" PRIu64) would print. */
static inline char *
mpp_ob_fmt_u64(char *at, uint64_t v)
{
    static const char pairs[201] =
        "000102030405060708091011121314151617181920212223242526272829"
        "303132333435363738394041424344454647484950515253545556575859"
        "606162636465666768697071727374757677787980818283848586878889"
        "90919293949596979899";
    char tmp[20];
    char *q = tmp + sizeof(tmp);
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, pairs + 2 * v, 2);
    }
    else {
        *--q = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - q);
    memcpy(at, q, n);
    return at + n;
}

/* The same for a signed value, as "%" PRId64 prints it. */
static inline char *
mpp_ob_fmt_i64(char *at, int64_t v)
{
    if (v < 0) {
        *at++ = '-';
        return mpp_ob_fmt_u64(at, 0 - (uint64_t)v);
    }
    return mpp_ob_fmt_u64(at, (uint64_t)v);
}

static inline void
mpp_ob_u64(mpp_obuf_t *b, uint64_t v)
{
    b->p = mpp_ob_fmt_u64(mpp_ob_room(b, 20), v);
}

static inline void
mpp_ob_i64(mpp_obuf_t *b, int64_t v)
{
    b->p = mpp_ob_fmt_i64(mpp_ob_room(b, 21), v);
}

#endif
