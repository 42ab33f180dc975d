/*  The pstats writer: a marshal dump of the dict that cProfile builds,
 *
 *    {(file, line, name): (cc, nc, tt, ct, {caller_key: (nc, cc, tt, ct)})}
 *
 *  written by hand so no Python is needed.  Note the swapped first two
 *  fields inside the callers dict: that is how cProfile stores them and
 *  how pstats prints them.
 *
 *  profile.prof uses marshal version 4 (Python 3.4+, which every supported
 *  Python reads): every key tuple and every distinct string is written
 *  once, flagged FLAG_REF, and later occurrences are a TYPE_REF to it, so
 *  a function's key costs 5 bytes each time it appears as a caller and a
 *  module's path is spelled once for all its functions.  Short ASCII
 *  strings and tuples use the 1-byte-length forms.  marshal numbers
 *  references in the order the flagged objects start (a tuple before its
 *  items), which is the order they are written here.  The loaded dict is
 *  equal, key for key and value for value, to the version-2 dump that
 *  mpp_pstats_write_v2 writes: only type codes of version 2 (dict, tuple,
 *  unicode, 32-bit int, long, binary float, no references), byte for byte
 *  what marshal.dumps(stats, 2) produces for the same dict.
 */
#include "mpp_hash.h"
#include "mpp_obuf.h"
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
#define S_TYPE_REF 'r'          /* version 3 */
#define S_TYPE_ASCII 'a'        /* version 4 */
#define S_TYPE_SHORT_ASCII 'z'  /* version 4 */
#define S_TYPE_SMALL_TUPLE ')'  /* version 4 */
#define S_FLAG_REF 0x80         /* version 3 */

/* marshal stores longs as base-2**15 digits. */
#define S_LONG_SHIFT 15
#define S_LONG_MASK 0x7fffu

/*  Bytes that are not UTF-8 (a file name on a non-UTF-8 file system) are
 *  written as the lone surrogates U+DC80..U+DCFF, which marshal reads back
 *  with "surrogatepass": the key then equals os.fsdecode(path), as in a
 *  profile cProfile wrote.  Each byte becomes three. */
#define S_ESCAPED_LEN 3

static void
s_put_escaped(mpp_obuf_t *ob, unsigned char byte)
{
    unsigned code = 0xdc00u + byte;
    char e[S_ESCAPED_LEN] = {(char)0xed, (char)(0x80 | ((code >> 6) & 0x3f)),
                             (char)(0x80 | (code & 0x3f))};
    mpp_ob_put(ob, e, sizeof(e));
}

/* A string already written, found again by content. */
typedef struct {
    const char *s; /* NULL: free slot */
    uint64_t hash;
    uint32_t ref;
} s_str_t;

typedef struct {
    mpp_obuf_t ob;
    bool refs;         /* version 4 with references, else version 2 */
    uint32_t nrefs;    /* references defined so far */
    uint32_t *key_ref; /* per function: its key tuple's reference + 1 */
    s_str_t *str;      /* open addressing, power-of-two size */
    size_t strcap, nstr;
} s_ps_t;

static inline void
s_put_u32(char *at, uint32_t v)
{
    at[0] = (char)(v & 0xff);
    at[1] = (char)((v >> 8) & 0xff);
    at[2] = (char)((v >> 16) & 0xff);
    at[3] = (char)(v >> 24);
}

/* A type byte followed by a 4-byte little-endian value. */
static void
s_w_code_u32(s_ps_t *w, int code, uint32_t v)
{
    char *at = mpp_ob_room(&w->ob, 5);
    at[0] = (char)code;
    s_put_u32(at + 1, v);
    w->ob.p += 5;
}

/*  An integer of magnitude `mag`, negative when `neg`.  marshal uses the
 *  4-byte form whenever the value fits a signed 32-bit int and otherwise
 *  the minimal run of 15-bit digits (a zero top digit is refused on load
 *  as "unnormalized"). */
static void
s_w_int(s_ps_t *w, uint64_t mag, bool neg)
{
    if (mag <= (neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX)) {
        s_w_code_u32(w, S_TYPE_INT,
                     neg ? (uint32_t)(0u - (uint32_t)mag) : (uint32_t)mag);
        return;
    }
    int32_t ndigits = 0;
    for (uint64_t m = mag; m != 0; m >>= S_LONG_SHIFT) {
        ndigits++;
    }
    s_w_code_u32(w, S_TYPE_LONG, (uint32_t)(neg ? -ndigits : ndigits));
    char *at = mpp_ob_room(&w->ob, 2 * (size_t)ndigits);
    for (uint64_t m = mag; m != 0; m >>= S_LONG_SHIFT) {
        *at++ = (char)(m & 0xff);
        *at++ = (char)((m & S_LONG_MASK) >> 8);
    }
    w->ob.p = at;
}

static void
s_w_uint(s_ps_t *w, uint64_t v)
{
    s_w_int(w, v, false);
}

static void
s_w_sint(s_ps_t *w, int64_t v)
{
    s_w_int(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

/* Seconds as a binary float, little-endian IEEE 754 whatever the host. */
static void
s_w_seconds(s_ps_t *w, int64_t ns)
{
    double d = (double)ns / 1e9;
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    char *at = mpp_ob_room(&w->ob, 9);
    at[0] = S_TYPE_BINARY_FLOAT;
    for (int i = 0; i < 8; i++) {
        at[1 + i] = (char)((bits >> (8 * i)) & 0xff);
    }
    w->ob.p += 9;
}

/*  The text of a str: its bytes when they are valid UTF-8, else with every
 *  invalid byte escaped as above (raw, it would make the whole file
 *  unloadable).  *len is the encoded length, which
 *  the length prefix counts; *ascii says the text is all ASCII. */
static void
s_str_size(const unsigned char *p, size_t n, size_t *len, bool *ascii)
{
    size_t i = 0;
    while (i < n && p[i] < 0x80) {
        i++;
    }
    *ascii = i == n;
    *len = i;
    bool valid;
    for (size_t k; i < n; i += k) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        *len += valid ? k : k * S_ESCAPED_LEN;
    }
}

static void
s_str_text(s_ps_t *w, const unsigned char *p, size_t n, bool ascii)
{
    if (ascii) {
        mpp_ob_put(&w->ob, p, n);
        return;
    }
    bool valid;
    for (size_t i = 0, k; i < n; i += k) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (valid) {
            mpp_ob_put(&w->ob, p + i, k);
        }
        else {
            for (size_t j = 0; j < k; j++) {
                s_put_escaped(&w->ob, p[i + j]);
            }
        }
    }
}

/* Text keys are masked into the table, so FNV-1a is finished with a mix. */
static uint64_t
s_hash(const unsigned char *p, size_t n)
{
    return mpp_hash_mix64(mpp_hash_bytes(p, n));
}

/*  The slot of text `s` (hash h) in the string table: its entry, or the
 *  free slot where it goes.  NULL when the table cannot grow. */
static s_str_t *
s_str_slot(s_ps_t *w, const char *s, uint64_t h)
{
    if ((w->nstr + 1) * 2 > w->strcap) {
        size_t ncap = w->strcap ? w->strcap * 2 : 1024;
        s_str_t *t = calloc(ncap, sizeof(*t));
        if (t == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < w->strcap; i++) {
            if (w->str[i].s != NULL) {
                size_t j = w->str[i].hash & (ncap - 1);
                while (t[j].s != NULL) {
                    j = (j + 1) & (ncap - 1);
                }
                t[j] = w->str[i];
            }
        }
        free(w->str);
        w->str = t;
        w->strcap = ncap;
    }
    size_t mask = w->strcap - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        s_str_t *e = &w->str[j];
        if (e->s == NULL || (e->hash == h && strcmp(e->s, s) == 0)) {
            return e;
        }
    }
}

/*  A str.  With references, a text written before is a reference to it,
 *  and a new one is flagged and remembered. */
static int
s_w_str(s_ps_t *w, const char *s)
{
    s = s ? s : "";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), len;
    bool ascii;
    int flag = 0;
    if (w->refs) {
        uint64_t h = s_hash(p, n);
        s_str_t *e = s_str_slot(w, s, h);
        if (e == NULL) {
            return MPP_ENOMEM;
        }
        if (e->s != NULL) {
            s_w_code_u32(w, S_TYPE_REF, e->ref);
            return 0;
        }
        *e = (s_str_t){s, h, w->nrefs++};
        w->nstr++;
        flag = S_FLAG_REF;
    }
    s_str_size(p, n, &len, &ascii);
    if (len > INT32_MAX) {
        return MPP_ETOOBIG;
    }
    if (w->refs && ascii && len < 256) {
        char *at = mpp_ob_room(&w->ob, 2);
        at[0] = (char)(S_TYPE_SHORT_ASCII | flag);
        at[1] = (char)len;
        w->ob.p += 2;
    }
    else {
        s_w_code_u32(w, (w->refs && ascii ? S_TYPE_ASCII : S_TYPE_UNICODE) |
                            flag,
                     (uint32_t)len);
    }
    s_str_text(w, p, n, ascii);
    return 0;
}

static void
s_w_tuple(s_ps_t *w, uint32_t n, int flag)
{
    if (w->refs) {
        char *at = mpp_ob_room(&w->ob, 2);
        at[0] = (char)(S_TYPE_SMALL_TUPLE | flag);
        at[1] = (char)n;
        w->ob.p += 2;
    }
    else {
        s_w_code_u32(w, S_TYPE_TUPLE, n);
    }
}

/* The key of function `f`; with references, written once. */
static int
s_w_key(s_ps_t *w, const mpp_session_t *s, uint32_t f)
{
    int rc, flag = 0;
    if (w->refs) {
        if (w->key_ref[f] != 0) {
            s_w_code_u32(w, S_TYPE_REF, w->key_ref[f] - 1);
            return 0;
        }
        /* A tuple's reference comes before its items'. */
        w->key_ref[f] = ++w->nrefs;
        flag = S_FLAG_REF;
    }
    const mpp_func_t *fn = &s->funcs[f];
    s_w_tuple(w, 3, flag);
    if ((rc = s_w_str(w, fn->file)) != 0) {
        return rc;
    }
    s_w_sint(w, fn->line);
    return s_w_str(w, fn->name);
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
s_w_callers(s_ps_t *w, const mpp_session_t *s, const mpp_view_t *v,
            uint32_t callee, size_t *cursor)
{
    int rc;
    while (*cursor < v->nedges && v->edges[*cursor].callee < callee) {
        (*cursor)++;
    }
    mpp_ob_c(&w->ob, S_TYPE_DICT);
    for (; *cursor < v->nedges && v->edges[*cursor].callee == callee;
         (*cursor)++) {
        const mpp_edge_t *e = &v->edges[*cursor];
        if (!s_present(v, e->caller) || e->caller >= s->nfuncs) {
            continue;
        }
        if ((rc = s_w_key(w, s, e->caller)) != 0) {
            return rc;
        }
        s_w_tuple(w, 4, 0);
        s_w_uint(w, e->cost.ncalls);
        s_w_uint(w, e->cost.pcalls);
        s_w_seconds(w, e->cost.tt_ns);
        s_w_seconds(w, e->cost.ct_ns);
    }
    mpp_ob_c(&w->ob, S_TYPE_NULL);
    return 0;
}

static int
s_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out, bool refs)
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
    s_ps_t w = {.refs = refs};
    int rc = mpp_ob_init(&w.ob, out);
    if (rc == 0 && refs && (w.key_ref = calloc(n, sizeof(*w.key_ref))) == NULL) {
        rc = MPP_ENOMEM;
    }
    size_t cursor = 0;
    if (rc == 0) {
        mpp_ob_c(&w.ob, S_TYPE_DICT);
    }
    for (uint32_t f = 0; f < n && rc == 0; f++) {
        if (!s_present(v, f)) {
            continue;
        }
        const mpp_cost_t *c = &v->func[f];
        if ((rc = s_w_key(&w, s, f)) != 0) {
            break;
        }
        s_w_tuple(&w, 5, 0);
        s_w_uint(&w, c->pcalls);
        s_w_uint(&w, c->ncalls);
        s_w_seconds(&w, c->tt_ns);
        s_w_seconds(&w, c->ct_ns);
        rc = s_w_callers(&w, s, v, f, &cursor);
    }
    if (rc == 0) {
        mpp_ob_c(&w.ob, S_TYPE_NULL);
    }
    mpp_ob_fini(&w.ob);
    free(w.key_ref);
    free(w.str);
    return rc ? rc : ferror(out) ? -EIO : 0;
}

int
mpp_pstats_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    return s_write(s, v, out, true);
}

int
mpp_pstats_write_v2(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    return s_write(s, v, out, false);
}
