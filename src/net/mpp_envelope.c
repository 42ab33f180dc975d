/*  The envelope (see mpp_net.h): who sent the message behind it.
 *
 *  It is decoded with the same bounded cursor as the wire messages,
 *  since anyone who can reach the port can send anything.
 */
#include "mpp_net.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "mpp_mpcur.h"

#define S_MAGIC "mpp-agent"
#define S_VERSION 1
#define S_FIELDS 15
#define S_FIELDS_CLOCK 13 /* up to the clock fields and the worker */
#define S_FIELDS_MIN 10   /* before the clock fields */
#define S_ACK_MAGIC "mppack"

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
mpp_envelope_encode(const mpp_envelope_t *e, void **data, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, S_FIELDS);
    s_pack_str(&pk, S_MAGIC);
    msgpack_pack_uint32(&pk, S_VERSION);
    msgpack_pack_uint32(&pk, (uint32_t)e->kind);
    s_pack_str(&pk, e->token);
    s_pack_str(&pk, e->host);
    if (e->ranked) {
        msgpack_pack_int64(&pk, e->rank);
    }
    else {
        msgpack_pack_nil(&pk);
    }
    s_pack_str(&pk, e->run);
    msgpack_pack_int64(&pk, e->sent_ns);
    msgpack_pack_int32(&pk, e->status);
    s_pack_str(&pk, e->what);
    msgpack_pack_int64(&pk, e->offset_ns);
    msgpack_pack_int64(&pk, e->offset_err_ns);
    s_pack_str(&pk, e->worker);
    s_pack_str(&pk, e->main_dir);
    s_pack_str(&pk, e->main_realdir);
    if (sb.data == NULL) {
        return MPP_ENOMEM;
    }
    *data = sb.data;
    *len = sb.size;
    return 0;
}

/*  A string into a fixed field: at most cap - 1 bytes, no NUL; `clean`
 *  also refuses control characters (names that end up in reports). */
static bool
s_str(mpp_mpcur_t *c, char *field, size_t cap, bool clean)
{
    const char *s;
    size_t n;
    if (mpp_mpcur_cstr(c, false, &s, &n) != 0 || n >= cap) {
        return false;
    }
    for (size_t i = 0; clean && i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return false;
        }
    }
    memcpy(field, s, n);
    field[n] = '\0';
    return true;
}

int
mpp_envelope_decode(const void *data, size_t len, mpp_envelope_t *e)
{
    mpp_mpcur_t c = {data, (const uint8_t *)data + len};
    char magic[16];
    uint32_t n;
    uint64_t version, kind;
    int64_t rank, status;

    memset(e, 0, sizeof(*e));
    if (mpp_mpcur_array(&c, &n) != 0 || n < S_FIELDS_MIN ||
        !s_str(&c, magic, sizeof(magic), true) ||
        strcmp(magic, S_MAGIC) != 0 ||
        mpp_mpcur_uint(&c, UINT32_MAX, &version) != 0 ||
        version != S_VERSION ||
        mpp_mpcur_uint(&c, MPP_ENV_CLOCK, &kind) != 0 || kind == 0 ||
        !s_str(&c, e->token, sizeof(e->token), true) ||
        !s_str(&c, e->host, sizeof(e->host), true) || e->host[0] == '\0') {
        return MPP_EPROTO;
    }
    e->kind = (int)kind;
    e->ranked = !mpp_mpcur_nil(&c);
    if (e->ranked) {
        if (mpp_mpcur_int(&c, 0, INT32_MAX, &rank) != 0) {
            return MPP_EPROTO;
        }
        e->rank = rank;
    }
    if (!s_str(&c, e->run, sizeof(e->run), true) ||
        strlen(e->run) != MPP_NET_RUN_LEN ||
        mpp_mpcur_i64(&c, &e->sent_ns) != 0 ||
        mpp_mpcur_int(&c, INT32_MIN, INT32_MAX, &status) != 0 ||
        !s_str(&c, e->what, sizeof(e->what), false)) {
        return MPP_EPROTO;
    }
    e->status = (int32_t)status;
    e->offset_err_ns = -1;
    if (n >= S_FIELDS_CLOCK &&
        (mpp_mpcur_i64(&c, &e->offset_ns) != 0 ||
         mpp_mpcur_int(&c, -1, INT64_MAX, &e->offset_err_ns) != 0 ||
         !s_str(&c, e->worker, sizeof(e->worker), true))) {
        return MPP_EPROTO;
    }
    if (n >= S_FIELDS &&
        (!s_str(&c, e->main_dir, sizeof(e->main_dir), false) ||
         !s_str(&c, e->main_realdir, sizeof(e->main_realdir), false))) {
        return MPP_EPROTO;
    }
    return 0;
}

static void
s_put64(uint8_t *out, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)((uint64_t)v >> (8 * i));
    }
}

static int64_t
s_get64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return (int64_t)v;
}

void
mpp_ack_encode(int kind, int64_t real_ns, int64_t echo_ns,
               uint8_t out[MPP_ACK_LEN])
{
    memcpy(out, S_ACK_MAGIC, 6);
    out[6] = (uint8_t)kind;
    s_put64(out + 7, real_ns);
    s_put64(out + 15, echo_ns);
}

int
mpp_ack_decode(const void *data, size_t len, int *kind, int64_t *real_ns,
               int64_t *echo_ns)
{
    const uint8_t *b = data;
    if (len != MPP_ACK_LEN || memcmp(b, S_ACK_MAGIC, 6) != 0) {
        return MPP_EPROTO;
    }
    *kind = b[6];
    *real_ns = s_get64(b + 7);
    *echo_ns = s_get64(b + 15);
    return 0;
}
