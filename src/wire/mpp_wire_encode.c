/*  The wire encoder: msgpack encoding of the messages described in
 *  mpprof/wire.h, with msgpack-c's packer.  It runs in every profiled
 *  process (through the collector), so it packs straight into a growable
 *  buffer and checks for an error once per message.  The decoder, which
 *  runs in the aggregator on untrusted bytes, is mpp_wire_decode.c.
 */
#include "mpp_mppack.h"

#include <msgpack.h>
#include <string.h>

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
    mpp_buf_t *out = sink->out;
    /* The packer writes one small item at a time (a type byte, a number
     * of at most 8 bytes): where it fits, it is copied here without two
     * calls per item, which were most of the agent's cost of encoding a
     * process's tables. */
    if (sink->err == 0 && len > 0 && len <= 16 && out->cap - out->len >= len) {
        char *to = out->data + out->len;
        for (size_t i = 0; i < len; i++) {
            to[i] = bytes[i];
        }
        out->len += len;
        return 0;
    }
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

/* Packs an optional string field: its key and value, nothing for NULL. */
static void
s_pack_opt(msgpack_packer *pk, const char *key, const char *value)
{
    if (value != NULL) {
        mpp_pack_key(pk, key);
        s_pack_str(pk, value);
    }
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
            s_bad_vec(t->edges, t->nedges) ||
            (t->has_cpu && (t->cpu_cat_ns < 0 || t->cpu_ns < t->cpu_cat_ns))) {
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
    mpp_pack_key(pk, "ppid");
    msgpack_pack_int64(pk, m->ppid);
    mpp_pack_key(pk, "start_ns");
    msgpack_pack_int64(pk, m->start_ns);
    s_pack_opt(pk, "start_method", m->start_method);
    s_pack_opt(pk, "name", m->name);
    s_pack_opt(pk, "python", m->python);
    if (m->argv) {
        mpp_pack_key(pk, "argv");
        msgpack_pack_array(pk, m->argc);
        for (size_t i = 0; i < m->argc; i++) {
            s_pack_str(pk, m->argv[i]);
        }
    }
}

static void
s_pack_thread(msgpack_packer *pk, const mpp_wthread_t *t)
{
    msgpack_pack_array(pk, t->has_cpu ? 7 : 5);
    msgpack_pack_uint64(pk, t->tid);
    if (t->name) {
        s_pack_str(pk, t->name);
    }
    else {
        msgpack_pack_nil(pk);
    }
    msgpack_pack_array(pk, t->nstats);
    for (size_t i = 0; i < t->nstats; i++) {
        mpp_pack_stat(pk, t->stats[i].fid, &t->stats[i].cost);
    }
    msgpack_pack_array(pk, t->nedges);
    for (size_t i = 0; i < t->nedges; i++) {
        mpp_pack_edge(pk, t->edges[i].caller, t->edges[i].callee,
                      &t->edges[i].cost);
    }
    mpp_pack_cats(pk, t->cat);
    if (t->has_cpu) {
        msgpack_pack_int64(pk, t->cpu_ns);
        msgpack_pack_int64(pk, t->cpu_cat_ns);
    }
}

/* The process's totals so far, which DATA and BYE both carry. */
static void
s_pack_totals(msgpack_packer *pk, const mpp_msg_t *m)
{
    mpp_pack_key(pk, "wall_ns");
    msgpack_pack_int64(pk, m->wall_ns);
    mpp_pack_key(pk, "cpu_ns");
    msgpack_pack_int64(pk, m->cpu_ns);
    mpp_pack_key(pk, "dropped");
    msgpack_pack_uint64(pk, m->dropped);
}

static void
s_pack_data(msgpack_packer *pk, const mpp_msg_t *m)
{
    msgpack_pack_map(pk, 7 + (m->name != NULL));
    s_pack_opt(pk, "name", m->name);
    s_pack_totals(pk, m);
    mpp_pack_key(pk, "mem");
    msgpack_pack_uint64(pk, m->mem_bytes);

    mpp_pack_key(pk, "funcs");
    msgpack_pack_array(pk, m->nfuncs);
    for (size_t i = 0; i < m->nfuncs; i++) {
        const mpp_wfunc_t *f = &m->funcs[i];
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint32(pk, f->fid);
        s_pack_str(pk, f->file);
        msgpack_pack_int32(pk, f->line);
        s_pack_str(pk, f->name);
    }

    mpp_pack_key(pk, "threads");
    msgpack_pack_array(pk, m->nthreads);
    for (size_t i = 0; i < m->nthreads; i++) {
        s_pack_thread(pk, &m->threads[i]);
    }

    mpp_pack_key(pk, "spans");
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
    mpp_pack_key(pk, "exit_kind");
    msgpack_pack_uint32(pk, m->exit_kind);
    mpp_pack_key(pk, "exit_code");
    msgpack_pack_int32(pk, m->exit_code);
    s_pack_totals(pk, m);
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
    mpp_pack_key(&pk, MPP_WIRE_MAGIC);
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
