/*  The wire codec: msgpack encoding and strict decoding of the messages
 *  described in mpprof/wire.h.
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
 *   2. No object tree is built: a cursor (s_read) reads one object header
 *      at a time straight from the bytes, classifying numbers as msgpack-c
 *      does.  A tree cost an allocation per object and about 24 times the
 *      frame size in memory, for every frame a hostile sender makes up.
 *   3. s_msg walks the bytes against the schema twice with the same code:
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

/* ---- decoder, step 2: a cursor over the checked bytes ----------------- */

/*  The object kinds, as msgpack-c classifies them: a signed encoding of a
 *  value >= 0 is a positive integer too. */
typedef enum {
    O_NIL,
    O_BOOL,
    O_POS,
    O_NEG,
    O_FLOAT,
    O_STR,
    O_BIN,
    O_EXT,
    O_ARRAY,
    O_MAP
} s_otype_t;

/*  One object's header.  Scalars carry their value, strings their body;
 *  for arrays and maps `u` is the element (pair) count and the cursor
 *  stops at the first element. */
typedef struct {
    s_otype_t type;
    uint64_t u;        /* O_POS value; O_STR length; O_ARRAY/O_MAP count */
    int64_t i;         /* O_NEG value */
    const uint8_t *ptr; /* O_STR body */
} s_obj_t;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_cur_t;

/*  Reads one object header at the cursor and steps over its payload.
 *  The prescan has checked the whole document already, so the bounds
 *  checks here only keep the cursor honest. */
static int
s_read(s_cur_t *c, s_obj_t *o)
{
    const uint8_t *p = c->p;
    size_t left = (size_t)(c->end - p);
    if (left == 0) {
        return MPP_EPROTO;
    }
    uint8_t b = *p++;
    left--;
    size_t n = 0; /* bytes of a length, count or number field */
    o->ptr = NULL;
    if (b <= 0x7f) {
        o->type = O_POS;
        o->u = b;
    }
    else if (b >= 0xe0) {
        o->type = O_NEG;
        o->i = (int8_t)b;
    }
    else if (b <= 0x8f) {
        o->type = O_MAP;
        o->u = b & 0x0f;
    }
    else if (b <= 0x9f) {
        o->type = O_ARRAY;
        o->u = b & 0x0f;
    }
    else if (b <= 0xbf) {
        o->type = O_STR;
        o->u = b & 0x1f;
    }
    else {
        switch (b) {
        case 0xc0:
            o->type = O_NIL;
            break;
        case 0xc2: case 0xc3:
            o->type = O_BOOL;
            break;
        case 0xc4: case 0xc5: case 0xc6: /* bin 8/16/32 */
            o->type = O_BIN;
            n = (size_t)1 << (b - 0xc4);
            break;
        case 0xc7: case 0xc8: case 0xc9: /* ext 8/16/32 */
            o->type = O_EXT;
            n = (size_t)1 << (b - 0xc7);
            break;
        case 0xca: case 0xcb: /* float 32/64 */
            o->type = O_FLOAT;
            n = b == 0xca ? 4 : 8;
            break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: /* uint 8..64 */
            o->type = O_POS;
            n = (size_t)1 << (b - 0xcc);
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: /* int 8..64 */
            o->type = O_NEG;
            n = (size_t)1 << (b - 0xd0);
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext */
            o->type = O_EXT;
            o->u = 1 + ((uint64_t)1 << (b - 0xd4));
            break;
        case 0xd9: case 0xda: case 0xdb: /* str 8/16/32 */
            o->type = O_STR;
            n = (size_t)1 << (b - 0xd9);
            break;
        case 0xdc: case 0xdd: /* array 16/32 */
            o->type = O_ARRAY;
            n = (size_t)2 << (b - 0xdc);
            break;
        case 0xde: case 0xdf: /* map 16/32 */
            o->type = O_MAP;
            n = (size_t)2 << (b - 0xde);
            break;
        default: /* 0xc1 is never used */
            return MPP_EPROTO;
        }
        if (left < n) {
            return MPP_EPROTO;
        }
        if (n > 0) {
            uint64_t v = s_be(p, n);
            p += n;
            left -= n;
            switch (o->type) {
            case O_POS:
                o->u = v;
                break;
            case O_NEG: {
                /* Sign-extend the n-byte two's complement value. */
                int64_t x = n == 8 ? (int64_t)v
                                   : (int64_t)(v ^ ((uint64_t)1 << (8 * n - 1))) -
                                         ((int64_t)1 << (8 * n - 1));
                if (x >= 0) {
                    o->type = O_POS;
                    o->u = (uint64_t)x;
                }
                else {
                    o->i = x;
                }
                break;
            }
            case O_FLOAT:
                break;
            case O_EXT:
                o->u = v + 1; /* the type byte, then the data */
                break;
            default: /* lengths and counts */
                o->u = v;
                break;
            }
        }
    }
    /* Payloads: string, binary and extension bodies. */
    if (o->type == O_STR || o->type == O_BIN || o->type == O_EXT) {
        if (o->u > left) {
            return MPP_EPROTO;
        }
        o->ptr = p;
        p += o->u;
    }
    c->p = p;
    return 0;
}

/* Steps over one whole object, containers included. */
static int
s_skip(s_cur_t *c)
{
    uint64_t pending = 1;
    while (pending > 0) {
        uint64_t skip, children;
        if (c->p >= c->end || s_head(&c->p, c->end, &skip, &children) != 0 ||
            skip > (uint64_t)(c->end - c->p)) {
            return MPP_EPROTO;
        }
        c->p += skip;
        pending += children - 1;
    }
    return 0;
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
s_uint(s_cur_t *c, uint64_t max, uint64_t *v)
{
    s_obj_t o;
    if (s_read(c, &o) != 0 || o.type != O_POS || o.u > max) {
        return MPP_EPROTO;
    }
    *v = o.u;
    return 0;
}

static int
s_int(s_cur_t *c, int64_t min, int64_t max, int64_t *v)
{
    s_obj_t o;
    if (s_read(c, &o) != 0) {
        return MPP_EPROTO;
    }
    if (o.type == O_POS && o.u <= (uint64_t)max) {
        *v = (int64_t)o.u;
        return 0;
    }
    if (o.type == O_NEG && o.i >= min) {
        *v = o.i;
        return 0;
    }
    return MPP_EPROTO;
}

static int
s_u64(s_cur_t *c, uint64_t *v)
{
    return s_uint(c, UINT64_MAX, v);
}

static int
s_u32(s_cur_t *c, uint32_t *v)
{
    uint64_t x = 0;
    int rc = s_uint(c, UINT32_MAX, &x);
    *v = (uint32_t)x;
    return rc;
}

static int
s_i64(s_cur_t *c, int64_t *v)
{
    return s_int(c, INT64_MIN, INT64_MAX, v);
}

static int
s_i32(s_cur_t *c, int32_t *v)
{
    int64_t x = 0;
    int rc = s_int(c, INT32_MIN, INT32_MAX, &x);
    *v = (int32_t)x;
    return rc;
}

/*  Copies a msgpack string into the arena as a C string, so it must not
 *  contain NUL.  With nil_ok a nil yields NULL. */
static int
s_str(s_arena_t *a, s_cur_t *c, size_t max, bool nil_ok, const char **v)
{
    s_obj_t o;
    *v = NULL;
    if (s_read(c, &o) != 0) {
        return MPP_EPROTO;
    }
    if (nil_ok && o.type == O_NIL) {
        return 0;
    }
    if (o.type != O_STR || o.u > max) {
        return MPP_EPROTO;
    }
    size_t n = (size_t)o.u;
    if (n > 0 && memchr(o.ptr, '\0', n) != NULL) {
        return MPP_EPROTO;
    }
    char *s = s_take(a, n + 1, 1);
    if (s != NULL) {
        if (n > 0) {
            memcpy(s, o.ptr, n);
        }
        s[n] = '\0';
        *v = s;
    }
    return 0;
}

/* An array of any length; the cursor moves to its first element. */
static int
s_array(s_cur_t *c, size_t *n)
{
    s_obj_t o;
    if (s_read(c, &o) != 0 || o.type != O_ARRAY) {
        return MPP_EPROTO;
    }
    *n = (size_t)o.u;
    return 0;
}

/* An array of exactly n elements (a row of a table). */
static int
s_row(s_cur_t *c, size_t n)
{
    s_obj_t o;
    if (s_read(c, &o) != 0 || o.type != O_ARRAY || o.u != n) {
        return MPP_EPROTO;
    }
    return 0;
}

static int
s_cost(s_cur_t *c, mpp_cost_t *cost)
{
    if (s_u64(c, &cost->ncalls) != 0 || s_u64(c, &cost->pcalls) != 0 ||
        s_i64(c, &cost->tt_ns) != 0 || s_i64(c, &cost->ct_ns) != 0) {
        return MPP_EPROTO;
    }
    return 0;
}

static int
s_argv(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    const char **v = s_take(a, n * sizeof(*v), _Alignof(const char *));
    for (size_t i = 0; i < n; i++) {
        const char *scratch;
        if (s_str(a, c, MPP_WIRE_MAX_STR, false, v ? &v[i] : &scratch) !=
            0) {
            return MPP_EPROTO;
        }
    }
    m->argv = v;
    m->argc = n;
    return 0;
}

static int
s_funcs(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wfunc_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wfunc_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wfunc_t scratch, *f = v ? &v[i] : &scratch;
        if (s_row(c, 4) != 0 || s_u32(c, &f->fid) != 0 ||
            s_str(a, c, MPP_WIRE_MAX_STR, false, &f->file) != 0 ||
            s_i32(c, &f->line) != 0 ||
            s_str(a, c, MPP_WIRE_MAX_STR, false, &f->name) != 0) {
            return MPP_EPROTO;
        }
    }
    m->funcs = v;
    m->nfuncs = n;
    return 0;
}

static int
s_stats(s_arena_t *a, s_cur_t *c, mpp_wthread_t *t)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wstat_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wstat_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wstat_t scratch, *s = v ? &v[i] : &scratch;
        if (s_row(c, 5) != 0 || s_u32(c, &s->fid) != 0 ||
            s_cost(c, &s->cost) != 0) {
            return MPP_EPROTO;
        }
    }
    t->stats = v;
    t->nstats = n;
    return 0;
}

static int
s_edges(s_arena_t *a, s_cur_t *c, mpp_wthread_t *t)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wedge_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wedge_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wedge_t scratch, *e = v ? &v[i] : &scratch;
        if (s_row(c, 6) != 0 || s_u32(c, &e->caller) != 0 ||
            s_u32(c, &e->callee) != 0 || s_cost(c, &e->cost) != 0) {
            return MPP_EPROTO;
        }
    }
    t->edges = v;
    t->nedges = n;
    return 0;
}

static int
s_cats(s_cur_t *c, mpp_catval_t cat[MPP_CAT_COUNT])
{
    if (s_row(c, MPP_CAT_COUNT) != 0) {
        return MPP_EPROTO;
    }
    for (int i = 0; i < MPP_CAT_COUNT; i++) {
        if (s_row(c, 3) != 0 || s_u64(c, &cat[i].ns) != 0 ||
            s_u64(c, &cat[i].count) != 0 || s_u64(c, &cat[i].bytes) != 0) {
            return MPP_EPROTO;
        }
    }
    return 0;
}

static int
s_threads(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wthread_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wthread_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wthread_t scratch, *t = v ? &v[i] : &scratch;
        if (s_row(c, 5) != 0 || s_u64(c, &t->tid) != 0 ||
            s_str(a, c, MPP_WIRE_MAX_STR, true, &t->name) != 0 ||
            s_stats(a, c, t) != 0 || s_edges(a, c, t) != 0 ||
            s_cats(c, t->cat) != 0) {
            return MPP_EPROTO;
        }
    }
    m->threads = v;
    m->nthreads = n;
    return 0;
}

static int
s_spans(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    size_t n;
    if (s_array(c, &n) != 0) {
        return MPP_EPROTO;
    }
    mpp_wspan_t *v = s_take(a, n * sizeof(*v), _Alignof(mpp_wspan_t));
    for (size_t i = 0; i < n; i++) {
        mpp_wspan_t scratch, *s = v ? &v[i] : &scratch;
        if (s_row(c, 6) != 0 || s_u64(c, &s->tid) != 0 ||
            s_u32(c, &s->cat) != 0 || s->cat >= MPP_CAT_COUNT ||
            s_u32(c, &s->fid) != 0 || s_i64(c, &s->start_ns) != 0 ||
            s_i64(c, &s->dur_ns) != 0 || s_u64(c, &s->bytes) != 0) {
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
s_key_find(const s_obj_t *k, uint32_t type)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_keys); i++) {
        size_t n = strlen(s_keys[i].name);
        if ((s_keys[i].types & (1u << type)) && k->u == n &&
            memcmp(k->ptr, s_keys[i].name, n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int
s_field(s_arena_t *a, s_key_t key, s_cur_t *c, mpp_msg_t *m)
{
    const size_t max = MPP_WIRE_MAX_STR;
    switch (key) {
    case K_PPID:
        return s_i64(c, &m->ppid);
    case K_START_METHOD:
        return s_str(a, c, max, false, &m->start_method);
    case K_NAME:
        return s_str(a, c, max, false, &m->name);
    case K_PYTHON:
        return s_str(a, c, max, false, &m->python);
    case K_ARGV:
        return s_argv(a, c, m);
    case K_START_NS:
        return s_i64(c, &m->start_ns);
    case K_WALL_NS:
        return s_i64(c, &m->wall_ns);
    case K_CPU_NS:
        return s_i64(c, &m->cpu_ns);
    case K_DROPPED:
        return s_u64(c, &m->dropped);
    case K_MEM:
        return s_u64(c, &m->mem_bytes);
    case K_FUNCS:
        return s_funcs(a, c, m);
    case K_THREADS:
        return s_threads(a, c, m);
    case K_SPANS:
        return s_spans(a, c, m);
    case K_EXIT_KIND:
        if (s_u32(c, &m->exit_kind) != 0 || m->exit_kind > MPP_EXIT_LOST) {
            return MPP_EPROTO;
        }
        return 0;
    case K_EXIT_CODE:
        return s_i32(c, &m->exit_code);
    }
    return MPP_EPROTO;
}

static int
s_body(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    s_obj_t o;
    if (s_read(c, &o) != 0 || o.type != O_MAP) {
        return MPP_EPROTO;
    }
    uint32_t seen = 0;
    for (uint64_t i = 0; i < o.u; i++) {
        s_obj_t key;
        if (s_read(c, &key) != 0 || key.type != O_STR) {
            return MPP_EPROTO;
        }
        int k = s_key_find(&key, m->type);
        if (k < 0) {
            /* a later version's field */
            if (s_skip(c) != 0) {
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
s_msg(s_arena_t *a, s_cur_t *c, mpp_msg_t *m)
{
    s_obj_t top, magic, version;
    if (s_read(c, &top) != 0 || top.type != O_ARRAY || top.u < 2) {
        return MPP_EPROTO;
    }
    if (s_read(c, &magic) != 0 || magic.type != O_STR ||
        magic.u != strlen(MPP_WIRE_MAGIC) ||
        memcmp(magic.ptr, MPP_WIRE_MAGIC, magic.u) != 0) {
        return MPP_EPROTO;
    }
    /* The version is checked before the shape of the rest, so a later
     * version with a different layout is reported as what it is. */
    if (s_read(c, &version) != 0 || version.type != O_POS ||
        version.u != MPP_WIRE_VERSION) {
        return MPP_EVERSION;
    }
    m->version = MPP_WIRE_VERSION;
    if (top.u != 7 || s_str(a, c, MPP_WIRE_MAX_TOKEN, false, &m->token) != 0 ||
        s_i64(c, &m->pid) != 0 || s_u64(c, &m->seq) != 0 ||
        s_u32(c, &m->type) != 0 || m->type < MPP_MSG_HELLO ||
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
    s_cur_t c = {p, p + len};
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
