/*  Tests of the wire decoder's reading of each part of a message, on
 *  hand-made messages the encoder would never write: the magic and the
 *  version, the envelope's types, every encoding msgpack allows for a
 *  number, each body field's type and range, and table rows. */
#include "wire_fixture.h"

/* ---- hand-made messages ------------------------------------------------ */

/* A BYE body whose exit_code is `code`, packed by the given callback. */
static int
s_bye_with(void (*pack)(msgpack_packer *pk))
{
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "exit_code");
    pack(&r.pk);
    return mpp_wt_raw_decode(&r);
}

static void
s_pk_int32_max(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, INT32_MAX);
}

static void
s_pk_int32_over(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, (int64_t)INT32_MAX + 1);
}

static void
s_pk_int32_under(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, (int64_t)INT32_MIN - 1);
}

static void
s_pk_float(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}

static void
s_pk_str(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "1", 1);
}

MPP_TEST(wrong_magic_and_version)
{
    mpp_msg_t in = mpp_wt_bye(), out;
    mpp_buf_t b;
    mpp_wt_encode(&in, &b);
    char *p = memchr(b.data, 'p', b.len);
    ASSERT(p != NULL);
    p[1] = 'q'; /* "mqp" */
    ASSERT_EQ(mpp_wt_decode_buf(&b, &out), MPP_EPROTO);
    mpp_buf_fini(&b);

    mpp_wt_raw_t r;
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    mpp_wt_raw_str(&r, "MPP");
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);

    mpp_wt_raw_head(&r, 7, 2, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EVERSION);
    mpp_wt_raw_head(&r, 7, 0, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EVERSION);
    /* A later version may change the layout, and is still EVERSION. */
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 2);
    mpp_wt_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 9);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EVERSION);
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 3);
    mpp_wt_raw_str(&r, "mpp");
    msgpack_pack_int64(&r.pk, -1);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EVERSION);
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 2);
    mpp_wt_raw_str(&r, "mpp");
    mpp_wt_raw_str(&r, "1");
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EVERSION);
    /* The right version with the wrong shape is malformed. */
    mpp_wt_raw_head(&r, 8, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 1);
    mpp_wt_raw_str(&r, "mpp");
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
}

MPP_TEST(envelope_types)
{
    mpp_wt_raw_t r;
    /* Minimal valid message: every body key is optional. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_wt_raw_decode(&r), 0);
    for (uint32_t type = 0; type < 6; type += 4) {
        mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, type);
        msgpack_pack_map(&r.pk, 0);
        ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    }
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_array(&r.pk, 0); /* body must be a map */
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);

    /* Negative seq (unsigned) is refused; negative pid (signed) is not. */
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    mpp_wt_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 1);
    mpp_wt_raw_str(&r, TOKEN);
    msgpack_pack_int64(&r.pk, -7);
    msgpack_pack_int64(&r.pk, -1);
    msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);

    /* Token: a string of at most 64 bytes without NUL. */
    const char *tokens[] = {
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
    };
    for (int i = 0; i < 2; i++) {
        mpp_wt_raw_init(&r);
        msgpack_pack_array(&r.pk, 7);
        mpp_wt_raw_str(&r, "mpp");
        msgpack_pack_uint32(&r.pk, 1);
        mpp_wt_raw_str(&r, tokens[i]);
        msgpack_pack_int64(&r.pk, -7);
        msgpack_pack_uint64(&r.pk, 1);
        msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
        msgpack_pack_map(&r.pk, 0);
        ASSERT_EQ(mpp_wt_raw_decode(&r), i == 0 ? 0 : MPP_EPROTO);
    }
    mpp_wt_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    mpp_wt_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 1);
    msgpack_pack_str_with_body(&r.pk, "ab\0cd", 5);
    msgpack_pack_int64(&r.pk, 1);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
}

/*  A BYE whose body is {key: value}, the value given as raw bytes, so
 *  that encodings msgpack's packer never picks (a small number in 8
 *  bytes, a non-negative number in a signed form) can be tried.  On
 *  success *out holds the message (cleared by the caller). */
static int
s_bye_raw(const char *key, const void *value, size_t n, mpp_msg_t *out)
{
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, key);
    msgpack_sbuffer_write(&r.sb, value, n);
    int rc = mpp_wire_decode(r.sb.data, r.sb.size, out);
    if (rc != 0) {
        ASSERT(mpp_wt_is_zero(out));
    }
    msgpack_sbuffer_destroy(&r.sb);
    return rc;
}

/*  The decoder reads numbers straight from the bytes and must classify
 *  them as msgpack-c does: any encoding of a value >= 0, signed or not,
 *  is a non-negative integer; sizes follow the format byte. */
MPP_TEST(number_encodings)
{
    static const struct {
        const char *key;
        unsigned char bytes[9];
        size_t n;
        int rc;
        int64_t want; /* exit_code or wall_ns; dropped as uint64 */
    } cases[] = {
        {"exit_code", {0x05}, 1, 0, 5},
        {"exit_code", {0xff}, 1, 0, -1},               /* negative fixint */
        {"exit_code", {0xe0}, 1, 0, -32},
        {"exit_code", {0xcc, 0xff}, 2, 0, 255},        /* uint 8 */
        {"exit_code", {0xcd, 0x01, 0x00}, 3, 0, 256},  /* uint 16 */
        {"exit_code", {0xce, 0x7f, 0xff, 0xff, 0xff}, 5, 0, INT32_MAX},
        {"exit_code", {0xce, 0x80, 0, 0, 0}, 5, MPP_EPROTO, 0},
        {"exit_code", {0xcf, 0, 0, 0, 0, 0, 0, 0, 9}, 9, 0, 9}, /* uint 64 */
        {"exit_code", {0xd0, 0x80}, 2, 0, -128},       /* int 8 */
        {"exit_code", {0xd0, 0x05}, 2, 0, 5},          /* int 8, >= 0 */
        {"exit_code", {0xd1, 0xff, 0x7f}, 3, 0, -129}, /* int 16 */
        {"exit_code", {0xd1, 0x7f, 0xff}, 3, 0, 32767},
        {"exit_code", {0xd2, 0x80, 0, 0, 0}, 5, 0, INT32_MIN},
        {"exit_code", {0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
         9, MPP_EPROTO, 0},                            /* INT32_MIN - 1 */
        {"exit_code", {0xd3, 0, 0, 0, 0, 0, 0, 0, 3}, 9, 0, 3},
        {"exit_code", {0xca, 0x3f, 0x80, 0, 0}, 5, MPP_EPROTO, 0}, /* float */
        {"exit_code", {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 9, MPP_EPROTO, 0},
        {"exit_code", {0xc0}, 1, MPP_EPROTO, 0},       /* nil */
        {"exit_code", {0xc3}, 1, MPP_EPROTO, 0},       /* true */
        {"exit_code", {0xc4, 0x01, 0x31}, 3, MPP_EPROTO, 0}, /* bin "1" */
        {"exit_code", {0xd4, 0x01, 0x05}, 3, MPP_EPROTO, 0}, /* fixext 1 */
        {"exit_code", {0xc1}, 1, MPP_EPROTO, 0},       /* never used */
        {"wall_ns", {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, 0, INT64_MIN},
        {"wall_ns", {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
         9, 0, INT64_MAX},
        {"wall_ns", {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9, MPP_EPROTO, 0},
        {"dropped", {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
         9, 0, -1},                                    /* UINT64_MAX */
        {"dropped", {0xd0, 0x7f}, 2, 0, 127},
        {"dropped", {0xd0, 0xff}, 2, MPP_EPROTO, 0},
        {"dropped", {0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
         9, MPP_EPROTO, 0},
    };
    for (size_t i = 0; i < MPP_ARRAY_SIZE(cases); i++) {
        mpp_msg_t m;
        int rc = s_bye_raw(cases[i].key, cases[i].bytes, cases[i].n, &m);
        if (rc != cases[i].rc) {
            MPP_FAIL("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        }
        if (rc != 0) {
            continue;
        }
        int64_t got = strcmp(cases[i].key, "exit_code") == 0 ? m.exit_code
                      : strcmp(cases[i].key, "wall_ns") == 0
                          ? m.wall_ns
                          : (int64_t)m.dropped;
        if (got != cases[i].want) {
            MPP_FAIL("case %zu: %lld, want %lld", i, (long long)got,
                     (long long)cases[i].want);
        }
        mpp_msg_clear(&m);
    }
    /* Strings in every length form; str 16/32 holding a short text. */
    static const unsigned char name8[] = {0xd9, 0x02, 'o', 'k'};
    static const unsigned char name16[] = {0xda, 0x00, 0x02, 'o', 'k'};
    static const unsigned char name32[] = {0xdb, 0, 0, 0, 0x02, 'o', 'k'};
    static const unsigned char *names[] = {name8, name16, name32};
    static const size_t nlen[] = {sizeof(name8), sizeof(name16),
                                  sizeof(name32)};
    for (int i = 0; i < 3; i++) {
        mpp_wt_raw_t r;
        mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
        msgpack_pack_map(&r.pk, 1);
        mpp_wt_raw_str(&r, "name");
        msgpack_sbuffer_write(&r.sb, (const char *)names[i], nlen[i]);
        mpp_msg_t m;
        ASSERT_EQ(mpp_wire_decode(r.sb.data, r.sb.size, &m), 0);
        ASSERT_STREQ(m.name, "ok");
        mpp_msg_clear(&m);
        msgpack_sbuffer_destroy(&r.sb);
    }
    /* Unknown keys are stepped over whatever they hold, including
     * containers in their 16- and 32-bit forms, binary and extensions. */
    static const unsigned char junk[] = {
        0xdc, 0x00, 0x03,                   /* array 16 of 3: */
        0xde, 0x00, 0x01, 0xa1, 'k', 0x90,  /*   {"k": []} */
        0xc5, 0x00, 0x02, 0x00, 0x00,       /*   bin 16 */
        0xc7, 0x02, 0x05, 0xaa, 0xbb,       /*   ext 8 */
    };
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 3);
    mpp_wt_raw_str(&r, "later");
    msgpack_sbuffer_write(&r.sb, (const char *)junk, sizeof(junk));
    mpp_wt_raw_str(&r, "exit_code");
    msgpack_pack_int32(&r.pk, -3);
    mpp_wt_raw_str(&r, "name"); /* a HELLO and DATA key, not a BYE one */
    msgpack_pack_array(&r.pk, 2);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_double(&r.pk, 2.5);
    mpp_msg_t m;
    ASSERT_EQ(mpp_wire_decode(r.sb.data, r.sb.size, &m), 0);
    ASSERT_EQ(m.exit_code, -3);
    ASSERT(m.name == NULL);
    mpp_msg_clear(&m);
    msgpack_sbuffer_destroy(&r.sb);
}

MPP_TEST(field_types)
{
    ASSERT_EQ(s_bye_with(s_pk_int32_max), 0);
    ASSERT_EQ(s_bye_with(s_pk_int32_over), MPP_EPROTO);
    ASSERT_EQ(s_bye_with(s_pk_int32_under), MPP_EPROTO);
    ASSERT_EQ(s_bye_with(s_pk_float), MPP_EPROTO);
    ASSERT_EQ(s_bye_with(s_pk_str), MPP_EPROTO);

    mpp_wt_raw_t r;
    /* Negative value for an unsigned field. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "dropped");
    msgpack_pack_int64(&r.pk, -1);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    /* exit_kind beyond the known kinds. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "exit_kind");
    msgpack_pack_uint32(&r.pk, 9);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    /* A non-string key. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, 1);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    /* A repeated key. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 2);
    mpp_wt_raw_str(&r, "dropped");
    msgpack_pack_uint32(&r.pk, 1);
    mpp_wt_raw_str(&r, "dropped");
    msgpack_pack_uint32(&r.pk, 2);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);

    /* Unknown keys, and keys of another type, are skipped whatever they
     * hold. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 4);
    mpp_wt_raw_str(&r, "future");
    msgpack_pack_array(&r.pk, 2);
    msgpack_pack_map(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_double(&r.pk, 2.5);
    msgpack_pack_bin_with_body(&r.pk, "\0\1", 2);
    mpp_wt_raw_str(&r, "funcs"); /* a DATA key in a HELLO */
    mpp_wt_raw_str(&r, "not even an array");
    mpp_wt_raw_str(&r, "exit_code");
    msgpack_pack_nil(&r.pk);
    mpp_wt_raw_str(&r, "name");
    mpp_wt_raw_str(&r, "Proc");
    mpp_msg_t out;
    ASSERT_EQ(mpp_wire_decode(r.sb.data, r.sb.size, &out), 0);
    ASSERT_STREQ(out.name, "Proc");
    ASSERT(out.funcs == NULL);
    mpp_msg_clear(&out);
    msgpack_sbuffer_destroy(&r.sb);

    /* Strings: the longest allowed, one byte more, and one with a NUL. */
    char *s = malloc(MPP_WIRE_MAX_STR + 2);
    ASSERT(s != NULL);
    memset(s, 'a', MPP_WIRE_MAX_STR + 1);
    s[MPP_WIRE_MAX_STR + 1] = '\0';
    for (int extra = 0; extra < 2; extra++) {
        mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
        msgpack_pack_map(&r.pk, 1);
        mpp_wt_raw_str(&r, "python");
        msgpack_pack_str_with_body(&r.pk, s, MPP_WIRE_MAX_STR + extra);
        ASSERT_EQ(mpp_wt_raw_decode(&r), extra ? MPP_EPROTO : 0);
    }
    free(s);
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "argv");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_str_with_body(&r.pk, "a\0", 2);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
    /* Binary is not a string. */
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "python");
    msgpack_pack_bin_with_body(&r.pk, "3", 1);
    ASSERT_EQ(mpp_wt_raw_decode(&r), MPP_EPROTO);
}

/* Packs a DATA message with one function row and one thread, with the
 * given values for the function's fid and line and the thread's number of
 * category triples. */
static int
s_data_with(int64_t fid, int64_t line, int ncats, int64_t span_cat)
{
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 3);
    mpp_wt_raw_str(&r, "funcs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 4);
    msgpack_pack_int64(&r.pk, fid);
    mpp_wt_raw_str(&r, "f.py");
    msgpack_pack_int64(&r.pk, line);
    mpp_wt_raw_str(&r, "f");
    mpp_wt_raw_str(&r, "threads");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 5);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_array(&r.pk, 0);
    msgpack_pack_array(&r.pk, 0);
    msgpack_pack_array(&r.pk, (size_t)ncats);
    for (int c = 0; c < ncats; c++) {
        msgpack_pack_array(&r.pk, 3);
        msgpack_pack_uint64(&r.pk, 1);
        msgpack_pack_uint64(&r.pk, 2);
        msgpack_pack_uint64(&r.pk, 3);
    }
    mpp_wt_raw_str(&r, "spans");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 6);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_int64(&r.pk, span_cat);
    msgpack_pack_uint64(&r.pk, 0);
    msgpack_pack_int64(&r.pk, 0);
    msgpack_pack_int64(&r.pk, 0);
    msgpack_pack_uint64(&r.pk, 0);
    return mpp_wt_raw_decode(&r);
}

MPP_TEST(table_fields)
{
    ASSERT_EQ(s_data_with(0, 1, MPP_CAT_COUNT, 0), 0);
    ASSERT_EQ(s_data_with(UINT32_MAX, INT32_MIN, MPP_CAT_COUNT,
                          MPP_CAT_COUNT - 1), 0);
    ASSERT_EQ(s_data_with((int64_t)UINT32_MAX + 1, 1, MPP_CAT_COUNT, 0),
              MPP_EPROTO);
    ASSERT_EQ(s_data_with(-1, 1, MPP_CAT_COUNT, 0), MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, (int64_t)INT32_MAX + 1, MPP_CAT_COUNT, 0),
              MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, (int64_t)INT32_MIN - 1, MPP_CAT_COUNT, 0),
              MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, 1, MPP_CAT_COUNT - 1, 0), MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, 1, MPP_CAT_COUNT + 1, 0), MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, 1, 0, 0), MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, 1, MPP_CAT_COUNT, MPP_CAT_COUNT), MPP_EPROTO);
    ASSERT_EQ(s_data_with(0, 1, MPP_CAT_COUNT, -1), MPP_EPROTO);
}

/*  A DATA message with one thread row of `ncols` columns: the five of
 *  every row, then CPU values from `cpu` (as many as the row has beyond
 *  five).  *out gets the decoded message when it decodes. */
static int
s_thread_cols(int ncols, const int64_t *cpu, mpp_msg_t *out)
{
    mpp_wt_raw_t r;
    mpp_wt_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 1);
    mpp_wt_raw_str(&r, "threads");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, (size_t)ncols);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_array(&r.pk, 0);
    msgpack_pack_array(&r.pk, 0);
    msgpack_pack_array(&r.pk, MPP_CAT_COUNT);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        msgpack_pack_array(&r.pk, 3);
        msgpack_pack_uint64(&r.pk, 1);
        msgpack_pack_uint64(&r.pk, 2);
        msgpack_pack_uint64(&r.pk, 3);
    }
    for (int i = 5; i < ncols; i++) {
        msgpack_pack_int64(&r.pk, cpu[i - 5]);
    }
    int rc = mpp_wire_decode(r.sb.data, r.sb.size, out);
    msgpack_sbuffer_destroy(&r.sb);
    return rc;
}

/*  A thread's CPU time: seven columns with it, five without (unknown);
 *  no other count, and never less than its part inside categories or
 *  below zero. */
MPP_TEST(thread_cpu_columns)
{
    mpp_msg_t m;
    const int64_t ok[] = {900, 100, 7};
    ASSERT_EQ(s_thread_cols(7, ok, &m), 0);
    ASSERT(m.threads[0].has_cpu);
    ASSERT_EQ(m.threads[0].cpu_ns, 900);
    ASSERT_EQ(m.threads[0].cpu_cat_ns, 100);
    mpp_msg_clear(&m);
    ASSERT_EQ(s_thread_cols(5, ok, &m), 0);
    ASSERT(!m.threads[0].has_cpu);
    mpp_msg_clear(&m);
    const int64_t all_in[] = {900, 900};
    ASSERT_EQ(s_thread_cols(7, all_in, &m), 0);
    ASSERT(m.threads[0].has_cpu);
    mpp_msg_clear(&m);
    ASSERT_EQ(s_thread_cols(6, ok, &m), MPP_EPROTO);
    ASSERT_EQ(s_thread_cols(8, ok, &m), MPP_EPROTO);
    const int64_t more_in[] = {900, 901};
    ASSERT_EQ(s_thread_cols(7, more_in, &m), MPP_EPROTO);
    const int64_t neg_in[] = {900, -1};
    ASSERT_EQ(s_thread_cols(7, neg_in, &m), MPP_EPROTO);
    const int64_t neg[] = {-5, -6};
    ASSERT_EQ(s_thread_cols(7, neg, &m), MPP_EPROTO);
    /* The encoder refuses what the decoder would. */
    mpp_wthread_t t = {.tid = 1, .has_cpu = true, .cpu_ns = 5,
                       .cpu_cat_ns = 6};
    mpp_msg_t d = {.token = TOKEN, .type = MPP_MSG_DATA, .threads = &t,
                   .nthreads = 1};
    mpp_buf_t buf;
    mpp_buf_init(&buf);
    ASSERT_EQ(mpp_wire_encode(&d, &buf), MPP_EINVAL);
    t.cpu_cat_ns = 5;
    ASSERT_EQ(mpp_wire_encode(&d, &buf), 0);
    mpp_buf_fini(&buf);
}

int
main(int argc, char **argv)
{
    MPP_RUN(thread_cpu_columns);
    MPP_RUN(wrong_magic_and_version);
    MPP_RUN(envelope_types);
    MPP_RUN(field_types);
    MPP_RUN(table_fields);
    MPP_RUN(number_encodings);
    return mpp_test_done(argc, argv);
}
