/*  The pstats writer: a marshal dump of the dict that cProfile builds,
 *
 *    {(file, line, name): (cc, nc, tt, ct, {caller_key: (nc, cc, tt, ct)})}
 *
 *  written by hand so no Python is needed.  Only the type codes of marshal
 *  version 2 appear (dict, tuple, unicode, 32-bit int, long, binary float,
 *  and no object references), so every Python 3 loads the file, and the
 *  bytes equal what marshal.dumps(stats, 2) would produce for the same
 *  dict.  Note the swapped first two fields inside the callers dict: that
 *  is how cProfile stores them and how pstats prints them.
 */
#include "mpp_output.h"

#include <errno.h>
#include <string.h>

/* marshal type codes (Python/marshal.c). */
#define S_TYPE_NULL '0'
#define S_TYPE_INT 'i'
#define S_TYPE_LONG 'l'
#define S_TYPE_BINARY_FLOAT 'g'
#define S_TYPE_UNICODE 'u'
#define S_TYPE_TUPLE '('
#define S_TYPE_DICT '{'

/* marshal stores longs as base-2**15 digits. */
#define S_LONG_SHIFT 15
#define S_LONG_MASK 0x7fffu

/* UTF-8 encoding of U+FFFD, the replacement for bytes that are not UTF-8. */
static const char s_replacement[3] = {'\xef', '\xbf', '\xbd'};

static void
s_w_u32(FILE *out, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                          (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    fwrite(b, 1, sizeof(b), out);
}

/*  An integer of magnitude `mag`, negative when `neg`.  marshal uses the
 *  4-byte form whenever the value fits a signed 32-bit int and otherwise
 *  the minimal run of 15-bit digits (a zero top digit is refused on load
 *  as "unnormalized"). */
static void
s_w_int(FILE *out, uint64_t mag, bool neg)
{
    if (mag <= (neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX)) {
        fputc(S_TYPE_INT, out);
        s_w_u32(out, neg ? (uint32_t)(0u - (uint32_t)mag) : (uint32_t)mag);
        return;
    }
    int32_t ndigits = 0;
    for (uint64_t m = mag; m != 0; m >>= S_LONG_SHIFT) {
        ndigits++;
    }
    fputc(S_TYPE_LONG, out);
    s_w_u32(out, (uint32_t)(neg ? -ndigits : ndigits));
    for (uint64_t m = mag; m != 0; m >>= S_LONG_SHIFT) {
        fputc((int)(m & 0xff), out);
        fputc((int)((m & S_LONG_MASK) >> 8), out);
    }
}

static void
s_w_uint(FILE *out, uint64_t v)
{
    s_w_int(out, v, false);
}

static void
s_w_sint(FILE *out, int64_t v)
{
    s_w_int(out, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

/* Seconds as a binary float, little-endian IEEE 754 whatever the host. */
static void
s_w_seconds(FILE *out, int64_t ns)
{
    double d = (double)ns / 1e9;
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    fputc(S_TYPE_BINARY_FLOAT, out);
    for (int i = 0; i < 8; i++) {
        fputc((int)((bits >> (8 * i)) & 0xff), out);
    }
}

/*  A str.  The length prefix counts encoded bytes, so a first pass sizes
 *  the text with every invalid part replaced by U+FFFD; an undecodable
 *  name would otherwise make the whole file unloadable. */
static int
s_w_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), len = 0;
    bool valid;
    for (size_t i = 0; i < n;) {
        size_t k = mpp_utf8_seq(p + i, n - i, &valid);
        len += valid ? k : sizeof(s_replacement);
        i += k;
    }
    if (len > INT32_MAX) {
        return MPP_ETOOBIG;
    }
    fputc(S_TYPE_UNICODE, out);
    s_w_u32(out, (uint32_t)len);
    for (size_t i = 0, k; i < n; i += k) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (valid) {
            fwrite(p + i, 1, k, out);
        }
        else {
            fwrite(s_replacement, 1, sizeof(s_replacement), out);
        }
    }
    return 0;
}

static void
s_w_tuple(FILE *out, uint32_t n)
{
    fputc(S_TYPE_TUPLE, out);
    s_w_u32(out, n);
}

static int
s_w_key(FILE *out, const mpp_func_t *f)
{
    int rc;
    s_w_tuple(out, 3);
    if ((rc = s_w_str(out, f->file)) != 0) {
        return rc;
    }
    s_w_sint(out, f->line);
    return s_w_str(out, f->name);
}

/* A function appears in the dict only when the view saw it called. */
static bool
s_present(const mpp_view_t *v, uint32_t f)
{
    return f < v->nfuncs && v->func[f].ncalls > 0;
}

/*  Writes the callers dict of `callee` from the edges at [*cursor, ...),
 *  which the view sorts by callee.  Callers that are not keys of the
 *  stats dict themselves (never seen called, e.g. a frame entered before
 *  profiling began) are left out: cProfile never produces them and
 *  pyprof2calltree looks every caller up as a key. */
static int
s_w_callers(FILE *out, const mpp_session_t *s, const mpp_view_t *v,
            uint32_t callee, size_t *cursor)
{
    int rc;
    while (*cursor < v->nedges && v->edges[*cursor].callee < callee) {
        (*cursor)++;
    }
    fputc(S_TYPE_DICT, out);
    for (; *cursor < v->nedges && v->edges[*cursor].callee == callee;
         (*cursor)++) {
        const mpp_edge_t *e = &v->edges[*cursor];
        if (!s_present(v, e->caller) || e->caller >= s->nfuncs) {
            continue;
        }
        if ((rc = s_w_key(out, &s->funcs[e->caller])) != 0) {
            return rc;
        }
        s_w_tuple(out, 4);
        s_w_uint(out, e->cost.ncalls);
        s_w_uint(out, e->cost.pcalls);
        s_w_seconds(out, e->cost.tt_ns);
        s_w_seconds(out, e->cost.ct_ns);
    }
    fputc(S_TYPE_NULL, out);
    return 0;
}

int
mpp_pstats_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    if (s == NULL || v == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    size_t n = v->nfuncs < s->nfuncs ? v->nfuncs : s->nfuncs;
    bool any = false;
    for (uint32_t f = 0; f < n && !any; f++) {
        any = s_present(v, f);
    }
    if (!any) {
        return MPP_EINVAL;
    }
    size_t cursor = 0;
    int rc;
    fputc(S_TYPE_DICT, out);
    for (uint32_t f = 0; f < n; f++) {
        if (!s_present(v, f)) {
            continue;
        }
        const mpp_cost_t *c = &v->func[f];
        if ((rc = s_w_key(out, &s->funcs[f])) != 0) {
            return rc;
        }
        s_w_tuple(out, 5);
        s_w_uint(out, c->pcalls);
        s_w_uint(out, c->ncalls);
        s_w_seconds(out, c->tt_ns);
        s_w_seconds(out, c->ct_ns);
        if ((rc = s_w_callers(out, s, v, f, &cursor)) != 0) {
            return rc;
        }
    }
    fputc(S_TYPE_NULL, out);
    return ferror(out) ? -EIO : 0;
}
