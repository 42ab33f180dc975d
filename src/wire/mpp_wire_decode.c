/*  The wire decoder: strict decoding of the messages described in
 *  mpprof/wire.h, on bytes any process of the session may have made up.
 *  It does not use msgpack-c, which only the encoder (mpp_wire_encode.c)
 *  still uses: the msgpack cursor of mpp_mpcur.h reads every value.
 *
 *  Decoding happens in three steps:
 *
 *   1. s_prescan walks the raw bytes once without allocating.  It checks
 *      that the input is exactly one complete msgpack document, that no
 *      container claims more elements than the remaining bytes could hold,
 *      and that nesting stays shallow.  The arena of step 3 is sized from
 *      the element counts, so without this step a 5-byte frame claiming
 *      2^32 elements would ask for ~100 GB; after it, the arena is never
 *      more than a small multiple of the frame size.
 *   2. No object tree is built: the cursor reads one value at a time
 *      straight from the bytes, classifying numbers as msgpack does.  A
 *      tree cost an allocation per object and about 24 times the frame
 *      size in memory, for every frame a hostile sender makes up.
 *   3. s_msg walks the bytes against the schema twice with the same code:
 *      first to validate and measure, then, with one arena allocation of
 *      the measured size, to fill the message.  Every pointer in the
 *      decoded message points into that arena, so mpp_msg_clear is a single
 *      free and decoding costs no allocation per element.
 *
 *  The decoder checks the shape and the ranges a value can have on its
 *  own; what a value means for the session (is this function id one the
 *  process defined?) is the aggregator's to check.
 */
#include "mpp_mpcur.h"

#include <string.h>

/* The schema needs 6 levels; the slack lets later versions nest deeper
 * while keeping s_prescan's stack of open containers small. */
#define MPP_WIRE_MAX_DEPTH 16

/* ---- decoder, step 1: structural pre-scan ----------------------------- */

/*  Checks that [data, data+len) holds exactly one complete document whose
 *  element counts are bounded by its size: every object needs at least
 *  one byte, so the objects announced but not yet started may never
 *  outnumber the bytes left. */
static int
s_prescan(const uint8_t *p, size_t len)
{
    mpp_mpcur_t c = {p, p + len};
    uint64_t open[MPP_WIRE_MAX_DEPTH]; /* elements left per open container */
    int depth = 0;
    uint64_t pending = 1; /* objects announced but not yet started */

    for (;;) {
        uint64_t children;
        if (mpp_mpcur_next(&c, &children) != 0) {
            return MPP_EPROTO;
        }
        pending--;
        if (children > 0) {
            pending += children;
            if (depth == MPP_WIRE_MAX_DEPTH ||
                pending > mpp_mpcur_left(&c)) {
                return MPP_EPROTO;
            }
            open[depth++] = children;
            continue;
        }
        /* A complete object: it may complete its enclosing containers. */
        for (;;) {
            if (depth == 0) {
                return c.p == c.end ? 0 : MPP_EPROTO;
            }
            if (--open[depth - 1] > 0) {
                break;
            }
            depth--;
        }
    }
}

/* ---- decoder, step 3: schema walk ------------------------------------- */

typedef struct {
    char *base; /* the arena; NULL while measuring */
    size_t used;
} s_arena_t;

/*  Reserves n bytes aligned to `align` (a power of two).  While measuring
 *  it returns NULL and callers write to a scratch object instead, which is
 *  what lets one walker serve both passes. */
static void *
s_take(s_arena_t *a, size_t n, size_t align)
{
    size_t off = (a->used + align - 1) & ~(align - 1);
    a->used = off + n;
    return a->base ? a->base + off : NULL;
}

/*  Copies a msgpack string into the arena as a C string, so it must not
 *  contain NUL.  With nil_ok a nil yields NULL. */
static int
s_str(s_arena_t *a, mpp_mpcur_t *c, size_t max, bool nil_ok, const char **v)
{
    const char *p;
    size_t n;
    *v = NULL;
    if (mpp_mpcur_cstr(c, nil_ok, &p, &n) != 0 || n > max) {
        return MPP_EPROTO;
    }
    if (p == NULL) {
        return 0;
    }
    char *s = s_take(a, n + 1, 1);
    if (s != NULL) {
        if (n > 0) {
            memcpy(s, p, n);
        }
        s[n] = '\0';
        *v = s;
    }
    return 0;
}

/* An array of exactly n elements (a row of a table). */
static int
s_row(mpp_mpcur_t *c, uint32_t n)
{
    uint32_t count;
    if (mpp_mpcur_array(c, &count) != 0 || count != n) {
        return MPP_EPROTO;
    }
    return 0;
}

static int
s_cats(mpp_mpcur_t *c, mpp_catval_t cat[MPP_CAT_COUNT])
{
    if (s_row(c, MPP_CAT_COUNT) != 0) {
        return MPP_EPROTO;
    }
    for (int i = 0; i < MPP_CAT_COUNT; i++) {
        if (s_row(c, 3) != 0 || mpp_mpcur_u64(c, &cat[i].ns) != 0 ||
            mpp_mpcur_u64(c, &cat[i].count) != 0 ||
            mpp_mpcur_u64(c, &cat[i].bytes) != 0) {
            return MPP_EPROTO;
        }
    }
    return 0;
}

/* Reads one element of a table into *row; returns 0 or MPP_EPROTO. */
typedef int (*s_row_fn)(s_arena_t *a, mpp_mpcur_t *c, void *row);

/*  Room for one element of any table: the measuring pass has no arena to
 *  read elements into, so it reads each into this and forgets it. */
typedef union {
    const char *str;
    mpp_wfunc_t func;
    mpp_wstat_t stat;
    mpp_wedge_t edge;
    mpp_wthread_t thread;
    mpp_wspan_t span;
} s_scratch_t;

/*  Reads an array whose elements fn reads into `size` bytes each, and
 *  stores them in the arena.  Returns the elements (NULL while measuring)
 *  and sets *n to their count and *rc to 0, or sets *rc to MPP_EPROTO.
 *  Inline, so that fn is a direct call in the hot loops. */
static inline void *
s_table(s_arena_t *a, mpp_mpcur_t *c, size_t size, size_t align,
        s_row_fn fn, size_t *n, int *rc)
{
    uint32_t count;
    *rc = MPP_EPROTO;
    if (mpp_mpcur_array(c, &count) != 0) {
        return NULL;
    }
    char *v = s_take(a, count * size, align);
    s_scratch_t scratch;
    for (uint32_t i = 0; i < count; i++) {
        if (fn(a, c, v ? v + i * size : (void *)&scratch) != 0) {
            return NULL;
        }
    }
    *n = count;
    *rc = 0;
    return v;
}

/* s_table for elements of a type. */
#define S_TABLE(a, c, type, fn, n, rc)                                        \
    s_table((a), (c), sizeof(type), _Alignof(type), (fn), (n), (rc))

static int
s_arg(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    return s_str(a, c, MPP_WIRE_MAX_STR, false, row);
}

static int
s_func(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    mpp_wfunc_t *f = row;
    if (s_row(c, 4) != 0 || mpp_mpcur_u32(c, &f->fid) != 0 ||
        s_str(a, c, MPP_WIRE_MAX_STR, false, &f->file) != 0 ||
        mpp_mpcur_i32(c, &f->line) != 0 ||
        s_str(a, c, MPP_WIRE_MAX_STR, false, &f->name) != 0) {
        return MPP_EPROTO;
    }
    return 0;
}

/*  A stat row and an edge row: the function ids (one for a stat, caller
 *  and callee for an edge), then the four cost columns. */
static inline int
s_cost_row(mpp_mpcur_t *c, uint32_t *const *fids, uint32_t nfids,
           mpp_cost_t *cost)
{
    if (s_row(c, nfids + 4) != 0) {
        return MPP_EPROTO;
    }
    for (uint32_t i = 0; i < nfids; i++) {
        if (mpp_mpcur_u32(c, fids[i]) != 0) {
            return MPP_EPROTO;
        }
    }
    return mpp_mpcur_cost(c, cost) != 0 ? MPP_EPROTO : 0;
}

static int
s_stat(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    mpp_wstat_t *s = row;
    uint32_t *const fids[] = {&s->fid};
    (void)a;
    return s_cost_row(c, fids, 1, &s->cost);
}

static int
s_edge(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    mpp_wedge_t *e = row;
    uint32_t *const fids[] = {&e->caller, &e->callee};
    (void)a;
    return s_cost_row(c, fids, 2, &e->cost);
}

static int
s_thread(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    mpp_wthread_t *t = row;
    uint32_t n;
    int rc;
    /* Five columns, or seven with the CPU time (0 <= in categories <=
     * all of it). */
    if (mpp_mpcur_array(c, &n) != 0 || (n != 5 && n != 7) ||
        mpp_mpcur_u64(c, &t->tid) != 0 ||
        s_str(a, c, MPP_WIRE_MAX_STR, true, &t->name) != 0) {
        return MPP_EPROTO;
    }
    t->stats = S_TABLE(a, c, mpp_wstat_t, s_stat, &t->nstats, &rc);
    if (rc == 0) {
        t->edges = S_TABLE(a, c, mpp_wedge_t, s_edge, &t->nedges, &rc);
    }
    if (rc == 0) {
        rc = s_cats(c, t->cat);
    }
    t->has_cpu = false;
    t->cpu_ns = 0;
    t->cpu_cat_ns = 0;
    if (rc == 0 && n == 7) {
        if (mpp_mpcur_i64(c, &t->cpu_ns) != 0 ||
            mpp_mpcur_i64(c, &t->cpu_cat_ns) != 0 || t->cpu_cat_ns < 0 ||
            t->cpu_ns < t->cpu_cat_ns) {
            return MPP_EPROTO;
        }
        t->has_cpu = true;
    }
    return rc;
}

static int
s_span(s_arena_t *a, mpp_mpcur_t *c, void *row)
{
    mpp_wspan_t *s = row;
    (void)a;
    if (s_row(c, 6) != 0 || mpp_mpcur_u64(c, &s->tid) != 0 ||
        mpp_mpcur_u32(c, &s->cat) != 0 || s->cat >= MPP_CAT_COUNT ||
        mpp_mpcur_u32(c, &s->fid) != 0 ||
        mpp_mpcur_i64(c, &s->start_ns) != 0 ||
        mpp_mpcur_i64(c, &s->dur_ns) != 0 ||
        mpp_mpcur_u64(c, &s->bytes) != 0) {
        return MPP_EPROTO;
    }
    return 0;
}

/* Body keys, and the message types each belongs to (bit 1 << type). */
typedef enum {
    K_PPID,
    K_START_METHOD,
    K_NAME,
    K_PYTHON,
    K_ARGV,
    K_START_NS,
    K_WALL_NS,
    K_CPU_NS,
    K_DROPPED,
    K_MEM,
    K_FUNCS,
    K_THREADS,
    K_SPANS,
    K_EXIT_KIND,
    K_EXIT_CODE
} s_key_t;

#define T_HELLO (1u << MPP_MSG_HELLO)
#define T_DATA (1u << MPP_MSG_DATA)
#define T_BYE (1u << MPP_MSG_BYE)

static const struct {
    const char *name;
    unsigned types;
} s_keys[] = {
    [K_PPID] = {"ppid", T_HELLO},
    [K_START_METHOD] = {"start_method", T_HELLO},
    [K_NAME] = {"name", T_HELLO | T_DATA},
    [K_PYTHON] = {"python", T_HELLO},
    [K_ARGV] = {"argv", T_HELLO},
    [K_START_NS] = {"start_ns", T_HELLO},
    [K_WALL_NS] = {"wall_ns", T_DATA | T_BYE},
    [K_CPU_NS] = {"cpu_ns", T_DATA | T_BYE},
    [K_DROPPED] = {"dropped", T_DATA | T_BYE},
    [K_MEM] = {"mem", T_DATA},
    [K_FUNCS] = {"funcs", T_DATA},
    [K_THREADS] = {"threads", T_DATA},
    [K_SPANS] = {"spans", T_DATA},
    [K_EXIT_KIND] = {"exit_kind", T_BYE},
    [K_EXIT_CODE] = {"exit_code", T_BYE},
};

/*  The index of the key k (n bytes), or -1 for a key this version does
 *  not know for type. */
static int
s_key_find(const char *k, size_t n, uint32_t type)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_keys); i++) {
        if ((s_keys[i].types & (1u << type)) &&
            strlen(s_keys[i].name) == n &&
            memcmp(k, s_keys[i].name, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Reads one body field; s_body reports any failure as MPP_EPROTO. */
static int
s_field(s_arena_t *a, s_key_t key, mpp_mpcur_t *c, mpp_msg_t *m)
{
    const size_t max = MPP_WIRE_MAX_STR;
    int rc;
    switch (key) {
    case K_PPID:
        return mpp_mpcur_i64(c, &m->ppid);
    case K_START_METHOD:
        return s_str(a, c, max, false, &m->start_method);
    case K_NAME:
        return s_str(a, c, max, false, &m->name);
    case K_PYTHON:
        return s_str(a, c, max, false, &m->python);
    case K_ARGV:
        m->argv = S_TABLE(a, c, const char *, s_arg, &m->argc, &rc);
        return rc;
    case K_START_NS:
        return mpp_mpcur_i64(c, &m->start_ns);
    case K_WALL_NS:
        return mpp_mpcur_i64(c, &m->wall_ns);
    case K_CPU_NS:
        return mpp_mpcur_i64(c, &m->cpu_ns);
    case K_DROPPED:
        return mpp_mpcur_u64(c, &m->dropped);
    case K_MEM:
        return mpp_mpcur_u64(c, &m->mem_bytes);
    case K_FUNCS:
        m->funcs = S_TABLE(a, c, mpp_wfunc_t, s_func, &m->nfuncs, &rc);
        return rc;
    case K_THREADS:
        m->threads =
            S_TABLE(a, c, mpp_wthread_t, s_thread, &m->nthreads, &rc);
        return rc;
    case K_SPANS:
        m->spans = S_TABLE(a, c, mpp_wspan_t, s_span, &m->nspans, &rc);
        return rc;
    case K_EXIT_KIND:
        if (mpp_mpcur_u32(c, &m->exit_kind) != 0 ||
            m->exit_kind > MPP_EXIT_LOST) {
            return MPP_EPROTO;
        }
        return 0;
    case K_EXIT_CODE:
        return mpp_mpcur_i32(c, &m->exit_code);
    }
    return MPP_EPROTO;
}

static int
s_body(s_arena_t *a, mpp_mpcur_t *c, mpp_msg_t *m)
{
    uint32_t n;
    if (mpp_mpcur_map(c, &n) != 0) {
        return MPP_EPROTO;
    }
    uint32_t seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *key;
        size_t nkey;
        if (mpp_mpcur_str(c, &key, &nkey) != 0) {
            return MPP_EPROTO;
        }
        int k = s_key_find(key, nkey, m->type);
        if (k < 0) {
            /* a later version's field */
            if (mpp_mpcur_skip(c) != 0) {
                return MPP_EPROTO;
            }
            continue;
        }
        /* A repeated key would make the two passes disagree on nothing
         * but would waste arena space; it is never sent, so refuse it. */
        if (seen & (1u << k)) {
            return MPP_EPROTO;
        }
        seen |= 1u << k;
        if (s_field(a, (s_key_t)k, c, m) != 0) {
            return MPP_EPROTO;
        }
    }
    return 0;
}

static int
s_msg(s_arena_t *a, mpp_mpcur_t *c, mpp_msg_t *m)
{
    uint32_t n;
    const char *magic;
    size_t nmagic;
    uint64_t version;
    if (mpp_mpcur_array(c, &n) != 0 || n < 2) {
        return MPP_EPROTO;
    }
    if (mpp_mpcur_str(c, &magic, &nmagic) != 0 ||
        nmagic != strlen(MPP_WIRE_MAGIC) ||
        memcmp(magic, MPP_WIRE_MAGIC, nmagic) != 0) {
        return MPP_EPROTO;
    }
    /* The version is checked before the shape of the rest, so a later
     * version with a different layout is reported as what it is. */
    if (mpp_mpcur_u64(c, &version) != 0 || version != MPP_WIRE_VERSION) {
        return MPP_EVERSION;
    }
    m->version = MPP_WIRE_VERSION;
    if (n != 7 || s_str(a, c, MPP_WIRE_MAX_TOKEN, false, &m->token) != 0 ||
        mpp_mpcur_i64(c, &m->pid) != 0 || mpp_mpcur_u64(c, &m->seq) != 0 ||
        mpp_mpcur_u32(c, &m->type) != 0 || m->type < MPP_MSG_HELLO ||
        m->type > MPP_MSG_BYE) {
        return MPP_EPROTO;
    }
    return s_body(a, c, m);
}

int
mpp_wire_decode(const void *data, size_t len, mpp_msg_t *out)
{
    if (out == NULL) {
        return MPP_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (len > MPP_WIRE_MAX_MSG) {
        return MPP_ETOOBIG;
    }
    if (data == NULL) {
        return len == 0 ? MPP_EPROTO : MPP_EINVAL;
    }
    int rc = s_prescan(data, len);
    if (rc != 0) {
        return rc;
    }
    const uint8_t *p = data;
    s_arena_t arena = {NULL, 0};
    mpp_msg_t measured;
    memset(&measured, 0, sizeof(measured));
    mpp_mpcur_t c = {p, p + len};
    rc = s_msg(&arena, &c, &measured);
    if (rc == 0) {
        /* malloc(0) may return NULL; one spare byte keeps the empty
         * arrays of a message non-NULL and the arena owned. */
        arena.base = malloc(arena.used + 1);
        arena.used = 0;
        c.p = p;
        if (arena.base == NULL) {
            rc = MPP_ENOMEM;
        }
        else if ((rc = s_msg(&arena, &c, out)) == 0) {
            out->arena_ = arena.base;
        }
        else {
            free(arena.base);
        }
    }
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void
mpp_msg_clear(mpp_msg_t *msg)
{
    if (msg != NULL) {
        free(msg->arena_);
        memset(msg, 0, sizeof(*msg));
    }
}
