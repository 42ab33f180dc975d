/*  The wire codec: msgpack encoding and strict decoding of the messages
 *  described in mpprof/wire.h.
 *
 *  Decoding happens in three steps:
 *
 *   1. s_prescan walks the raw bytes once without allocating.  It checks
 *      that the input is exactly one complete msgpack document, that no
 *      container claims more elements than the remaining bytes could hold,
 *      and that nesting stays shallow.  msgpack-c allocates the element
 *      array of a container as soon as it reads its header, so without this
 *      step a 5-byte frame claiming 2^32 elements would ask for ~100 GB.
 *      After it, msgpack-c never allocates more than a small multiple of
 *      the frame size.
 *   2. msgpack_unpack_next builds the object tree (strings still point into
 *      the frame).
 *   3. s_msg walks the tree against the schema twice with the same code:
 *      first to validate and measure, then, with one arena allocation of
 *      the measured size, to fill the message.  Every pointer in the
 *      decoded message points into that arena, so mpp_msg_clear is a single
 *      free and decoding costs no allocation per element.
 */
#include "mpp_internal.h"

#include <msgpack.h>
#include <string.h>

/* The schema needs 6 levels; the slack lets later versions nest deeper
 * while staying well below msgpack-c's own limit of 32, which it reports
 * as an out-of-memory error we could not tell from a real one. */
#define MPP_WIRE_MAX_DEPTH 16

/* ---- byte buffer ----------------------------------------------------- */

void
mpp_buf_init(mpp_buf_t *buf)
{
    memset(buf, 0, sizeof(*buf));
}

void
mpp_buf_fini(mpp_buf_t *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

int
mpp_buf_append(mpp_buf_t *buf, const void *data, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (len > SIZE_MAX - buf->len ||
        mpp_grow((void **)&buf->data, &buf->cap, buf->len + len, 1) != 0) {
        return MPP_ENOMEM;
    }
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

/* ---- encoder ----------------------------------------------------------- */

/*  The packer's sink.  It remembers the first failure and ignores every
 *  later write, so the encoder can pack a whole message and check for an
 *  error once at the end instead of after each of hundreds of calls. */
typedef struct {
    mpp_buf_t *out;
    int err;
} s_sink_t;

static int
s_sink_write(void *data, const char *bytes, size_t len)
{
    s_sink_t *sink = data;
    if (sink->err == 0) {
        sink->err = mpp_buf_append(sink->out, bytes, len);
    }
    return sink->err;
}

/*  Packs a C string.  Strings longer than the decoder accepts are cut at a
 *  UTF-8 character boundary rather than failing the whole message: one
 *  absurdly long argument or function name must not cost a process its
 *  profile.  NULL packs as "" because the session model treats both the
 *  same. */
static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > MPP_WIRE_MAX_STR) {
        n = MPP_WIRE_MAX_STR;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    msgpack_pack_str_with_body(pk, s ? s : "", n);
}

static void
s_pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
}

static void
s_pack_cost(msgpack_packer *pk, const mpp_cost_t *c)
{
    msgpack_pack_uint64(pk, c->ncalls);
    msgpack_pack_uint64(pk, c->pcalls);
    msgpack_pack_int64(pk, c->tt_ns);
    msgpack_pack_int64(pk, c->ct_ns);
}

/* True when an array of n elements at p cannot be encoded. */
static bool
s_bad_vec(const void *p, size_t n)
{
    return n > UINT32_MAX || (n > 0 && p == NULL);
}

static int
s_check(const mpp_msg_t *m)
{
    if (m->token == NULL || strlen(m->token) > MPP_WIRE_MAX_TOKEN) {
        return MPP_EINVAL;
    }
    switch (m->type) {
    case MPP_MSG_HELLO:
        return m->argv && m->argc > UINT32_MAX ? MPP_EINVAL : 0;
    case MPP_MSG_BYE:
        return m->exit_kind > MPP_EXIT_LOST ? MPP_EINVAL : 0;
    case MPP_MSG_DATA:
        break;
    default:
        return MPP_EINVAL;
    }
    if (s_bad_vec(m->funcs, m->nfuncs) ||
        s_bad_vec(m->threads, m->nthreads) ||
        s_bad_vec(m->spans, m->nspans)) {
        return MPP_EINVAL;
    }
    for (size_t i = 0; i < m->nthreads; i++) {
        const mpp_wthread_t *t = &m->threads[i];
        if (s_bad_vec(t->stats, t->nstats) ||
            s_bad_vec(t->edges, t->nedges)) {
            return MPP_EINVAL;
        }
    }
    for (size_t i = 0; i < m->nspans; i++) {
        if (m->spans[i].cat >= MPP_CAT_COUNT) {
            return MPP_EINVAL;
        }
    }
    return 0;
}

static void
s_pack_hello(msgpack_packer *pk, const mpp_msg_t *m)
{
    msgpack_pack_map(pk, 2 + (m->start_method != NULL) + (m->name != NULL) +
                             (m->python != NULL) + (m->argv != NULL));
    s_pack_key(pk, "ppid");
    msgpack_pack_int64(pk, m->ppid);
    s_pack_key(pk, "start_ns");
    msgpack_pack_int64(pk, m->start_ns);
    if (m->start_method) {
        s_pack_key(pk, "start_method");
        s_pack_str(pk, m->start_method);
    }
    if (m->name) {
        s_pack_key(pk, "name");
        s_pack_str(pk, m->name);
    }
    if (m->python) {
        s_pack_key(pk, "python");
        s_pack_str(pk, m->python);
    }
    if (m->argv) {
        s_pack_key(pk, "argv");
        msgpack_pack_array(pk, m->argc);
        for (size_t i = 0; i < m->argc; i++) {
            s_pack_str(pk, m->argv[i]);
        }
    }
}

static void
s_pack_thread(msgpack_packer *pk, const mpp_wthread_t *t)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint64(pk, t->tid);
    if (t->name) {
        s_pack_str(pk, t->name);
    }
    else {
        msgpack_pack_nil(pk);
    }
    msgpack_pack_array(pk, t->nstats);
    for (size_t i = 0; i < t->nstats; i++) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint32(pk, t->stats[i].fid);
        s_pack_cost(pk, &t->stats[i].cost);
    }
    msgpack_pack_array(pk, t->nedges);
    for (size_t i = 0; i < t->nedges; i++) {
        msgpack_pack_array(pk, 6);
        msgpack_pack_uint32(pk, t->edges[i].caller);
        msgpack_pack_uint32(pk, t->edges[i].callee);
        s_pack_cost(pk, &t->edges[i].cost);
    }
    msgpack_pack_array(pk, MPP_CAT_COUNT);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, t->cat[c].ns);
        msgpack_pack_uint64(pk, t->cat[c].count);
        msgpack_pack_uint64(pk, t->cat[c].bytes);
    }
}

static void
s_pack_data(msgpack_packer *pk, const mpp_msg_t *m)
{
    msgpack_pack_map(pk, 7 + (m->name != NULL));
    if (m->name) {
        s_pack_key(pk, "name");
        s_pack_str(pk, m->name);
    }
    s_pack_key(pk, "wall_ns");
    msgpack_pack_int64(pk, m->wall_ns);
    s_pack_key(pk, "cpu_ns");
    msgpack_pack_int64(pk, m->cpu_ns);
    s_pack_key(pk, "dropped");
    msgpack_pack_uint64(pk, m->dropped);
    s_pack_key(pk, "mem");
    msgpack_pack_uint64(pk, m->mem_bytes);

    s_pack_key(pk, "funcs");
    msgpack_pack_array(pk, m->nfuncs);
    for (size_t i = 0; i < m->nfuncs; i++) {
        const mpp_wfunc_t *f = &m->funcs[i];
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint32(pk, f->fid);
        s_pack_str(pk, f->file);
        msgpack_pack_int32(pk, f->line);
        s_pack_str(pk, f->name);
    }

    s_pack_key(pk, "threads");
    msgpack_pack_array(pk, m->nthreads);
    for (size_t i = 0; i < m->nthreads; i++) {
        s_pack_thread(pk, &m->threads[i]);
    }

    s_pack_key(pk, "spans");
    msgpack_pack_array(pk, m->nspans);
    for (size_t i = 0; i < m->nspans; i++) {
        const mpp_wspan_t *s = &m->spans[i];
        msgpack_pack_array(pk, 6);
        msgpack_pack_uint64(pk, s->tid);
        msgpack_pack_uint32(pk, s->cat);
        msgpack_pack_uint32(pk, s->fid);
        msgpack_pack_int64(pk, s->start_ns);
        msgpack_pack_int64(pk, s->dur_ns);
        msgpack_pack_uint64(pk, s->bytes);
    }
}

static void
s_pack_bye(msgpack_packer *pk, const mpp_msg_t *m)
{
    msgpack_pack_map(pk, 5);
    s_pack_key(pk, "exit_kind");
    msgpack_pack_uint32(pk, m->exit_kind);
    s_pack_key(pk, "exit_code");
    msgpack_pack_int32(pk, m->exit_code);
    s_pack_key(pk, "wall_ns");
    msgpack_pack_int64(pk, m->wall_ns);
    s_pack_key(pk, "cpu_ns");
    msgpack_pack_int64(pk, m->cpu_ns);
    s_pack_key(pk, "dropped");
    msgpack_pack_uint64(pk, m->dropped);
}

int
mpp_wire_encode(const mpp_msg_t *msg, mpp_buf_t *out)
{
    if (msg == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    int rc = s_check(msg);
    if (rc != 0) {
        return rc;
    }
    size_t start = out->len;
    s_sink_t sink = {.out = out, .err = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sink, s_sink_write);

    msgpack_pack_array(&pk, 7);
    s_pack_key(&pk, MPP_WIRE_MAGIC);
    msgpack_pack_uint32(&pk, MPP_WIRE_VERSION);
    s_pack_str(&pk, msg->token);
    msgpack_pack_int64(&pk, msg->pid);
    msgpack_pack_uint64(&pk, msg->seq);
    msgpack_pack_uint32(&pk, msg->type);
    switch (msg->type) {
    case MPP_MSG_HELLO:
        s_pack_hello(&pk, msg);
        break;
    case MPP_MSG_DATA:
        s_pack_data(&pk, msg);
        break;
    default:
        s_pack_bye(&pk, msg);
        break;
    }
    /* The receiver would drop an oversize frame unread; saying so here
     * lets the sender split its batch instead. */
    rc = sink.err;
    if (rc == 0 && out->len - start > MPP_WIRE_MAX_MSG) {
        rc = MPP_ETOOBIG;
    }
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

/* ---- decoder, step 1: structural pre-scan ----------------------------- */

static uint64_t
s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*  Reads the header of one msgpack object at *pp.  Sets *skip to the bytes
 *  of payload that follow the header (string, binary and extension bodies,
 *  fixed-size numbers) and *children to the objects it contains (maps
 *  count keys and values).  Returns 0, or MPP_EPROTO for a cut-off header
 *  or the reserved byte 0xc1. */
static int
s_head(const uint8_t **pp, const uint8_t *end, uint64_t *skip,
       uint64_t *children)
{
    const uint8_t *p = *pp;
    uint8_t b = *p++;
    size_t lenbytes = 0; /* size of a length or count field */
    uint64_t extra = 0;  /* payload bytes beyond the length field */
    int kind = 0;        /* 0 payload, 1 array, 2 map */

    *skip = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        *pp = p;
        return 0;
    }
    if (b <= 0x8f) {
        *children = 2u * (b & 0x0f);
        *pp = p;
        return 0;
    }
    if (b <= 0x9f) {
        *children = b & 0x0f;
        *pp = p;
        return 0;
    }
    if (b <= 0xbf) {
        *skip = b & 0x1f;
        *pp = p;
        return 0;
    }
    switch (b) {
    case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
        lenbytes = (size_t)1 << (b - 0xc4);
        break;
    case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32: length, type, data */
        lenbytes = (size_t)1 << (b - 0xc7);
        extra = 1;
        break;
    case 0xca: /* float 32 */
        *skip = 4;
        break;
    case 0xcb: /* float 64 */
        *skip = 8;
        break;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
        *skip = (uint64_t)1 << (b - 0xcc);
        break;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: /* int 8..64 */
        *skip = (uint64_t)1 << (b - 0xd0);
        break;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext */
        *skip = 1 + ((uint64_t)1 << (b - 0xd4));
        break;
    case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
        lenbytes = (size_t)1 << (b - 0xd9);
        break;
    case 0xdc: case 0xdd: /* array 16/32 */
        lenbytes = (size_t)2 << (b - 0xdc);
        kind = 1;
        break;
    case 0xde: case 0xdf: /* map 16/32 */
        lenbytes = (size_t)2 << (b - 0xde);
        kind = 2;
        break;
    default: /* 0xc1 is never used */
        return MPP_EPROTO;
    }
    if (lenbytes > 0) {
        if ((size_t)(end - p) < lenbytes) {
            return MPP_EPROTO;
        }
        uint64_t n = s_be(p, lenbytes);
        p += lenbytes;
        if (kind == 0) {
            *skip = n + extra;
        }
        else {
            *children = kind == 2 ? 2 * n : n;
        }
    }
    *pp = p;
    return 0;
}

/*  Checks that [data, data+len) holds exactly one complete document that
 *  msgpack-c can build within a bounded amount of memory: every object
 *  needs at least one byte, so the objects announced but not yet started
 *  may never outnumber the bytes left. */
static int
s_prescan(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t open[MPP_WIRE_MAX_DEPTH]; /* elements left per open container */
    int depth = 0;
    uint64_t pending = 1; /* objects announced but not yet started */

    for (;;) {
        if (p >= end) {
            return MPP_EPROTO;
        }
        uint64_t skip, children;
        int rc = s_head(&p, end, &skip, &children);
        if (rc != 0) {
            return rc;
        }
        pending--;
        if (skip > (uint64_t)(end - p)) {
            return MPP_EPROTO;
        }
        p += skip;
        if (children > 0) {
            pending += children;
            if (depth == MPP_WIRE_MAX_DEPTH ||
                pending > (uint64_t)(end - p)) {
                return MPP_EPROTO;
            }
            open[depth++] = children;
            continue;
        }
        /* A complete object: it may complete its enclosing containers. */
        for (;;) {
            if (depth == 0) {
                return p == end ? 0 : MPP_EPROTO;
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

static int
s_uint(const msgpack_object *o, uint64_t max, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) {
        return MPP_EPROTO;
    }
    *v = o->via.u64;
    return 0;
}

static int
s_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)max) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= min) {
        *v = o->via.i64;
        return 0;
    }
    return MPP_EPROTO;
}

static int
s_u64(const msgpack_object *o, uint64_t *v)
{
    return s_uint(o, UINT64_MAX, v);
}

static int
s_u32(const msgpack_object *o, uint32_t *v)
{
    uint64_t x = 0;
    int rc = s_uint(o, UINT32_MAX, &x);
    *v = (uint32_t)x;
    return rc;
}

static int
s_i64(const msgpack_object *o, int64_t *v)
{
    return s_int(o, INT64_MIN, INT64_MAX, v);
}

static int
s_i32(const msgpack_object *o, int32_t *v)
{
    int64_t x = 0;
    int rc = s_int(o, INT32_MIN, INT32_MAX, &x);
    *v = (int32_t)x;
    return rc;
}

/*  Copies a msgpack string into the arena as a C string, so it must not
 *  contain NUL.  With nil_ok a nil yields NULL. */
static int
s_str(s_arena_t *a, const msgpack_object *o, size_t max, bool nil_ok,
      const char **v)
{
    *v = NULL;
    if (nil_ok && o->type == MSGPACK_OBJECT_NIL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max) {
        return MPP_EPROTO;
    }
    size_t n = o->via.str.size;
    if (n > 0 && memchr(o->via.str.ptr, '\0', n) != NULL) {
        return MPP_EPROTO;
    }
    char *s = s_take(a, n + 1, 1);
    if (s != NULL) {
        if (n > 0) {
            memcpy(s, o->via.str.ptr, n);
        }
        s[n] = '\0';
        *v = s;
    }
    return 0;
}

/* An array of any length; its elements go to *items. */
static int
s_array(const msgpack_object *o, const msgpack_object **items, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return MPP_EPROTO;
    }
    *items = o->via.array.ptr;
    *n = o->via.array.size;
    return 0;
}

/* An array of exactly n elements (a row of a table). */
static int
s_row(const msgpack_object *o, size_t n, const msgpack_object **items)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n) {
        return MPP_EPROTO;
    }
    *items = o->via.array.ptr;
    return 0;
}

static int
s_cost(const msgpack_object *f, mpp_cost_t *c)
{
    if (s_u64(&f[0], &c->ncalls) != 0 || s_u64(&f[1], &c->pcalls) != 0 ||
        s_i64(&f[2], &c->tt_ns) != 0 || s_i64(&f[3], &c->ct_ns) != 0) {
        return MPP_EPROTO;
    }
    return 0;
}

static int
s_argv(s_arena_t *a, const msgpack_object *o, mpp_msg_t *m)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    const char **v = s_take(a, n * sizeof(*v), _Alignof(const char *));
    for (size_t i = 0; i < n; i++) {
        const char *scratch;
        if (s_str(a, &it[i], MPP_WIRE_MAX_STR, false,
                  v ? &v[i] : &scratch) != 0) {
            return MPP_EPROTO;
        }
    }
    m->argv = v;
    m->argc = n;
    return 0;
}

static int
s_funcs(s_arena_t *a, const msgpack_object *o, mpp_msg_t *m)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wfunc_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wfunc_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wfunc_t scratch, *f = v ? &v[i] : &scratch;
        const msgpack_object *c;
        if (s_row(&it[i], 4, &c) != 0 || s_u32(&c[0], &f->fid) != 0 ||
            s_str(a, &c[1], MPP_WIRE_MAX_STR, false, &f->file) != 0 ||
            s_i32(&c[2], &f->line) != 0 ||
            s_str(a, &c[3], MPP_WIRE_MAX_STR, false, &f->name) != 0) {
            return MPP_EPROTO;
        }
    }
    m->funcs = v;
    m->nfuncs = n;
    return 0;
}

static int
s_stats(s_arena_t *a, const msgpack_object *o, mpp_wthread_t *t)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wstat_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wstat_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wstat_t scratch, *s = v ? &v[i] : &scratch;
        const msgpack_object *c;
        if (s_row(&it[i], 5, &c) != 0 || s_u32(&c[0], &s->fid) != 0 ||
            s_cost(&c[1], &s->cost) != 0) {
            return MPP_EPROTO;
        }
    }
    t->stats = v;
    t->nstats = n;
    return 0;
}

static int
s_edges(s_arena_t *a, const msgpack_object *o, mpp_wthread_t *t)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wedge_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wedge_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wedge_t scratch, *e = v ? &v[i] : &scratch;
        const msgpack_object *c;
        if (s_row(&it[i], 6, &c) != 0 || s_u32(&c[0], &e->caller) != 0 ||
            s_u32(&c[1], &e->callee) != 0 || s_cost(&c[2], &e->cost) != 0) {
            return MPP_EPROTO;
        }
    }
    t->edges = v;
    t->nedges = n;
    return 0;
}

static int
s_cats(const msgpack_object *o, mpp_catval_t cat[MPP_CAT_COUNT])
{
    const msgpack_object *it;
    if (s_row(o, MPP_CAT_COUNT, &it) != 0) {
        return MPP_EPROTO;
    }
    for (int i = 0; i < MPP_CAT_COUNT; i++) {
        const msgpack_object *c;
        if (s_row(&it[i], 3, &c) != 0 || s_u64(&c[0], &cat[i].ns) != 0 ||
            s_u64(&c[1], &cat[i].count) != 0 ||
            s_u64(&c[2], &cat[i].bytes) != 0) {
            return MPP_EPROTO;
        }
    }
    return 0;
}

static int
s_threads(s_arena_t *a, const msgpack_object *o, mpp_msg_t *m)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wthread_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wthread_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wthread_t scratch, *t = v ? &v[i] : &scratch;
        const msgpack_object *c;
        if (s_row(&it[i], 5, &c) != 0 || s_u64(&c[0], &t->tid) != 0 ||
            s_str(a, &c[1], MPP_WIRE_MAX_STR, true, &t->name) != 0 ||
            s_stats(a, &c[2], t) != 0 || s_edges(a, &c[3], t) != 0 ||
            s_cats(&c[4], t->cat) != 0) {
            return MPP_EPROTO;
        }
    }
    m->threads = v;
    m->nthreads = n;
    return 0;
}

static int
s_spans(s_arena_t *a, const msgpack_object *o, mpp_msg_t *m)
{
    const msgpack_object *it;
    size_t n;
    if (s_array(o, &it, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wspan_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wspan_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wspan_t scratch, *s = v ? &v[i] : &scratch;
        const msgpack_object *c;
        if (s_row(&it[i], 6, &c) != 0 || s_u64(&c[0], &s->tid) != 0 ||
            s_u32(&c[1], &s->cat) != 0 || s->cat >= MPP_CAT_COUNT ||
            s_u32(&c[2], &s->fid) != 0 || s_i64(&c[3], &s->start_ns) != 0 ||
            s_i64(&c[4], &s->dur_ns) != 0 || s_u64(&c[5], &s->bytes) != 0) {
            return MPP_EPROTO;
        }
    }
    m->spans = v;
    m->nspans = n;
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

/* The key's index, or -1 for a key this version does not know for type. */
static int
s_key_find(const msgpack_object *k, uint32_t type)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_keys); i++) {
        size_t n = strlen(s_keys[i].name);
        if ((s_keys[i].types & (1u << type)) && k->via.str.size == n &&
            memcmp(k->via.str.ptr, s_keys[i].name, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int
s_field(s_arena_t *a, s_key_t key, const msgpack_object *v, mpp_msg_t *m)
{
    const size_t max = MPP_WIRE_MAX_STR;
    switch (key) {
    case K_PPID:
        return s_i64(v, &m->ppid);
    case K_START_METHOD:
        return s_str(a, v, max, false, &m->start_method);
    case K_NAME:
        return s_str(a, v, max, false, &m->name);
    case K_PYTHON:
        return s_str(a, v, max, false, &m->python);
    case K_ARGV:
        return s_argv(a, v, m);
    case K_START_NS:
        return s_i64(v, &m->start_ns);
    case K_WALL_NS:
        return s_i64(v, &m->wall_ns);
    case K_CPU_NS:
        return s_i64(v, &m->cpu_ns);
    case K_DROPPED:
        return s_u64(v, &m->dropped);
    case K_MEM:
        return s_u64(v, &m->mem_bytes);
    case K_FUNCS:
        return s_funcs(a, v, m);
    case K_THREADS:
        return s_threads(a, v, m);
    case K_SPANS:
        return s_spans(a, v, m);
    case K_EXIT_KIND:
        if (s_u32(v, &m->exit_kind) != 0 || m->exit_kind > MPP_EXIT_LOST) {
            return MPP_EPROTO;
        }
        return 0;
    case K_EXIT_CODE:
        return s_i32(v, &m->exit_code);
    }
    return MPP_EPROTO;
}

static int
s_body(s_arena_t *a, const msgpack_object *o, mpp_msg_t *m)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        return MPP_EPROTO;
    }
    uint32_t seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            return MPP_EPROTO;
        }
        int k = s_key_find(&kv->key, m->type);
        if (k < 0) {
            continue; /* a later version's field */
        }
        /* A repeated key would make the two passes disagree on nothing
         * but would waste arena space; it is never sent, so refuse it. */
        if (seen & (1u << k)) {
            return MPP_EPROTO;
        }
        seen |= 1u << k;
        if (s_field(a, (s_key_t)k, &kv->val, m) != 0) {
            return MPP_EPROTO;
        }
    }
    return 0;
}

static int
s_msg(s_arena_t *a, const msgpack_object *top, mpp_msg_t *m)
{
    if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size < 2) {
        return MPP_EPROTO;
    }
    const msgpack_object *f = top->via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_STR ||
        f[0].via.str.size != strlen(MPP_WIRE_MAGIC) ||
        memcmp(f[0].via.str.ptr, MPP_WIRE_MAGIC, f[0].via.str.size) != 0) {
        return MPP_EPROTO;
    }
    /* The version is checked before the shape of the rest, so a later
     * version with a different layout is reported as what it is. */
    if (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        f[1].via.u64 != MPP_WIRE_VERSION) {
        return MPP_EVERSION;
    }
    m->version = MPP_WIRE_VERSION;
    if (top->via.array.size != 7 ||
        s_str(a, &f[2], MPP_WIRE_MAX_TOKEN, false, &m->token) != 0 ||
        s_i64(&f[3], &m->pid) != 0 || s_u64(&f[4], &m->seq) != 0 ||
        s_u32(&f[5], &m->type) != 0 || m->type < MPP_MSG_HELLO ||
        m->type > MPP_MSG_BYE) {
        return MPP_EPROTO;
    }
    return s_body(a, &f[6], m);
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

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&up, data, len, &off);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = MPP_ENOMEM;
    }
    else if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = MPP_EPROTO;
    }
    else {
        s_arena_t arena = {NULL, 0};
        mpp_msg_t measured;
        memset(&measured, 0, sizeof(measured));
        rc = s_msg(&arena, &up.data, &measured);
        if (rc == 0) {
            /* malloc(0) may return NULL; one spare byte keeps the empty
             * arrays of a message non-NULL and the arena owned. */
            arena.base = malloc(arena.used + 1);
            arena.used = 0;
            if (arena.base == NULL) {
                rc = MPP_ENOMEM;
            }
            else if ((rc = s_msg(&arena, &up.data, out)) == 0) {
                out->arena_ = arena.base;
            }
            else {
                free(arena.base);
            }
        }
    }
    msgpack_unpacked_destroy(&up);
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
