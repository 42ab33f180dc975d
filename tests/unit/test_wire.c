/*  Tests of the wire codec: round trips of every message type, and the
 *  decoder's behaviour on every kind of broken input it can meet on the
 *  aggregator's socket. */
#include "mpp_internal.h"
#include "mpp_test.h"

#include <msgpack.h>
#include <time.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

static double
s_now(void)
{
    return (double)mpp_clock_mono_ns() / 1e9;
}

static int
s_decode_buf(const mpp_buf_t *b, mpp_msg_t *m)
{
    return mpp_wire_decode(b->data, b->len, m);
}

/* True when every byte of the message is zero, as after a failed decode. */
static int
s_is_zero(const mpp_msg_t *m)
{
    static const mpp_msg_t zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

static void
s_check_cost(const mpp_cost_t *a, const mpp_cost_t *b)
{
    ASSERT(a->ncalls == b->ncalls);
    ASSERT(a->pcalls == b->pcalls);
    ASSERT(a->tt_ns == b->tt_ns);
    ASSERT(a->ct_ns == b->ct_ns);
}

/* ---- sample messages --------------------------------------------------- */

static const char *s_argv[] = {"script.py", "--flag", "", "\xc3\xa9t\xc3\xa9"};

static mpp_msg_t
s_hello(void)
{
    mpp_msg_t m = {
        .token = TOKEN,
        .pid = 4242,
        .seq = 0,
        .type = MPP_MSG_HELLO,
        .ppid = -1,
        .start_method = "spawn",
        .python = "3.11.7",
        .argv = s_argv,
        .argc = MPP_ARRAY_SIZE(s_argv),
        .start_ns = INT64_C(1700000000123456789),
        .name = "SpawnPoolWorker-3",
        /* Fields of other types must be ignored by the encoder. */
        .wall_ns = 99,
        .exit_kind = 77,
    };
    return m;
}

static mpp_wfunc_t s_funcs[] = {
    {0, 10, "/app/script.py", "work"},
    {1, 0, "~", "<built-in method time.sleep>"},
    {UINT32_MAX, INT32_MAX, "/x.py", "big"},
    {7, -1, "", ""},
};

static mpp_wstat_t s_stats0[] = {
    {0, {1000, 900, 5000000, 7000000}},
    {1, {UINT64_MAX, 0, INT64_MAX, INT64_MIN}},
};

static mpp_wedge_t s_edges0[] = {
    {0, 1, {1000, 1000, 2000000, 2000000}},
    {UINT32_MAX, 0, {1, 1, -5, 0}},
    {7, 7, {3, 1, 10, 20}},
};

static mpp_wstat_t s_stats1[] = {
    {7, {1, 1, 1, 1}},
};

static mpp_wthread_t s_threads[2];

static mpp_wspan_t s_spans[] = {
    {1, MPP_CAT_PICKLE, 0, INT64_C(1700000000000000000), 1500, 4096},
    {UINT64_MAX, MPP_CAT_STARTUP, UINT32_MAX, -3, 0, 0},
    {2, MPP_CAT_IPC_WAIT, 1, 5, INT64_MAX, UINT64_MAX},
};

static mpp_msg_t
s_data(void)
{
    memset(s_threads, 0, sizeof(s_threads));
    s_threads[0].tid = 1;
    s_threads[0].name = "MainThread";
    s_threads[0].stats = s_stats0;
    s_threads[0].nstats = MPP_ARRAY_SIZE(s_stats0);
    s_threads[0].edges = s_edges0;
    s_threads[0].nedges = MPP_ARRAY_SIZE(s_edges0);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        s_threads[0].cat[c].ns = 1000u * (c + 1);
        s_threads[0].cat[c].count = (uint64_t)c;
        s_threads[0].cat[c].bytes = UINT64_MAX - (uint64_t)c;
    }
    s_threads[1].tid = UINT64_MAX;
    s_threads[1].name = NULL; /* unnamed: sent as nil */
    s_threads[1].stats = s_stats1;
    s_threads[1].nstats = MPP_ARRAY_SIZE(s_stats1);
    s_threads[1].cat[MPP_CAT_LOCK_WAIT].ns = 123456789;
    s_threads[1].cat[MPP_CAT_LOCK_WAIT].count = 3;
    mpp_msg_t m = {
        .token = TOKEN,
        .pid = INT64_MIN,
        .seq = UINT64_MAX,
        .type = MPP_MSG_DATA,
        .name = "MainProcess",
        .wall_ns = 3200000000,
        .cpu_ns = -1,
        .dropped = 17,
        .mem_bytes = UINT64_MAX,
        .funcs = s_funcs,
        .nfuncs = MPP_ARRAY_SIZE(s_funcs),
        .threads = s_threads,
        .nthreads = 2,
        .spans = s_spans,
        .nspans = MPP_ARRAY_SIZE(s_spans),
        .ppid = 5, /* HELLO-only: ignored */
    };
    return m;
}

static mpp_msg_t
s_bye(void)
{
    mpp_msg_t m = {
        .token = "",
        .pid = 1,
        .seq = 12,
        .type = MPP_MSG_BYE,
        .exit_kind = MPP_EXIT_SIGNAL,
        .exit_code = -15,
        .wall_ns = INT64_MAX,
        .cpu_ns = INT64_MIN,
        .dropped = UINT64_MAX,
        .name = "ignored",
    };
    return m;
}

static void
s_encode(const mpp_msg_t *m, mpp_buf_t *b)
{
    mpp_buf_init(b);
    ASSERT_EQ(mpp_wire_encode(m, b), 0);
    ASSERT(b->len > 0);
}

/* ---- round trips -------------------------------------------------------- */

MPP_TEST(roundtrip_hello)
{
    mpp_msg_t in = s_hello(), out;
    mpp_buf_t b;
    s_encode(&in, &b);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    ASSERT_EQ(out.version, MPP_WIRE_VERSION);
    ASSERT_STREQ(out.token, TOKEN);
    ASSERT_EQ(out.pid, 4242);
    ASSERT_EQ(out.seq, 0);
    ASSERT_EQ(out.type, MPP_MSG_HELLO);
    ASSERT_EQ(out.ppid, -1);
    ASSERT_STREQ(out.start_method, "spawn");
    ASSERT_STREQ(out.python, "3.11.7");
    ASSERT_STREQ(out.name, "SpawnPoolWorker-3");
    ASSERT(out.start_ns == INT64_C(1700000000123456789));
    ASSERT_EQ(out.argc, MPP_ARRAY_SIZE(s_argv));
    for (size_t i = 0; i < out.argc; i++) {
        ASSERT_STREQ(out.argv[i], s_argv[i]);
    }
    /* Fields of other types come back zeroed. */
    ASSERT_EQ(out.wall_ns, 0);
    ASSERT_EQ(out.exit_kind, 0);
    ASSERT(out.funcs == NULL && out.threads == NULL && out.spans == NULL);
    ASSERT(out.arena_ != NULL);
    mpp_msg_clear(&out);
    ASSERT(s_is_zero(&out));
    mpp_msg_clear(&out); /* clearing twice is harmless */

    /* Absent optional fields stay absent; an empty argv stays non-NULL. */
    in.start_method = in.python = in.name = NULL;
    in.argc = 0;
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&in, &b), 0);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    ASSERT(out.start_method == NULL && out.python == NULL);
    ASSERT(out.name == NULL);
    ASSERT(out.argv != NULL);
    ASSERT_EQ(out.argc, 0);
    mpp_msg_clear(&out);
    in.argv = NULL;
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&in, &b), 0);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    ASSERT(out.argv == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

static void
s_check_data(const mpp_msg_t *in, const mpp_msg_t *out)
{
    ASSERT_STREQ(out->token, in->token);
    ASSERT(out->pid == in->pid);
    ASSERT(out->seq == in->seq);
    ASSERT_EQ(out->type, MPP_MSG_DATA);
    ASSERT_STREQ(out->name, in->name);
    ASSERT(out->wall_ns == in->wall_ns);
    ASSERT(out->cpu_ns == in->cpu_ns);
    ASSERT(out->dropped == in->dropped);
    ASSERT(out->mem_bytes == in->mem_bytes);
    ASSERT_EQ(out->ppid, 0);
    ASSERT_EQ(out->nfuncs, in->nfuncs);
    for (size_t i = 0; i < in->nfuncs; i++) {
        ASSERT(out->funcs[i].fid == in->funcs[i].fid);
        ASSERT(out->funcs[i].line == in->funcs[i].line);
        ASSERT_STREQ(out->funcs[i].file, in->funcs[i].file);
        ASSERT_STREQ(out->funcs[i].name, in->funcs[i].name);
    }
    ASSERT_EQ(out->nthreads, in->nthreads);
    for (size_t i = 0; i < in->nthreads; i++) {
        const mpp_wthread_t *a = &in->threads[i], *b = &out->threads[i];
        ASSERT(a->tid == b->tid);
        if (a->name == NULL) {
            ASSERT(b->name == NULL);
        }
        else {
            ASSERT_STREQ(b->name, a->name);
        }
        ASSERT_EQ(b->nstats, a->nstats);
        for (size_t j = 0; j < a->nstats; j++) {
            ASSERT(b->stats[j].fid == a->stats[j].fid);
            s_check_cost(&b->stats[j].cost, &a->stats[j].cost);
        }
        ASSERT_EQ(b->nedges, a->nedges);
        for (size_t j = 0; j < a->nedges; j++) {
            ASSERT(b->edges[j].caller == a->edges[j].caller);
            ASSERT(b->edges[j].callee == a->edges[j].callee);
            s_check_cost(&b->edges[j].cost, &a->edges[j].cost);
        }
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            ASSERT(b->cat[c].ns == a->cat[c].ns);
            ASSERT(b->cat[c].count == a->cat[c].count);
            ASSERT(b->cat[c].bytes == a->cat[c].bytes);
        }
    }
    ASSERT_EQ(out->nspans, in->nspans);
    for (size_t i = 0; i < in->nspans; i++) {
        const mpp_wspan_t *a = &in->spans[i], *b = &out->spans[i];
        ASSERT(a->tid == b->tid);
        ASSERT(a->cat == b->cat);
        ASSERT(a->fid == b->fid);
        ASSERT(a->start_ns == b->start_ns);
        ASSERT(a->dur_ns == b->dur_ns);
        ASSERT(a->bytes == b->bytes);
    }
}

MPP_TEST(roundtrip_data)
{
    mpp_msg_t in = s_data(), out;
    mpp_buf_t b;
    s_encode(&in, &b);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    s_check_data(&in, &out);
    mpp_msg_clear(&out);

    /* A DATA message with nothing new still decodes, with empty tables. */
    mpp_msg_t empty = {.token = TOKEN, .pid = 3, .seq = 1,
                       .type = MPP_MSG_DATA};
    b.len = 0;
    ASSERT_EQ(mpp_wire_encode(&empty, &b), 0);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    ASSERT_EQ(out.nfuncs + out.nthreads + out.nspans, 0);
    ASSERT(out.name == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

MPP_TEST(roundtrip_bye)
{
    mpp_msg_t in = s_bye(), out;
    mpp_buf_t b;
    s_encode(&in, &b);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    ASSERT_STREQ(out.token, "");
    ASSERT_EQ(out.pid, 1);
    ASSERT_EQ(out.seq, 12);
    ASSERT_EQ(out.type, MPP_MSG_BYE);
    ASSERT_EQ(out.exit_kind, MPP_EXIT_SIGNAL);
    ASSERT_EQ(out.exit_code, -15);
    ASSERT(out.wall_ns == INT64_MAX);
    ASSERT(out.cpu_ns == INT64_MIN);
    ASSERT(out.dropped == UINT64_MAX);
    ASSERT(out.name == NULL);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
}

/* Appending keeps what the buffer held; a failed encode leaves it alone. */
MPP_TEST(encode_appends_and_rejects)
{
    mpp_msg_t a = s_hello(), bye = s_bye(), out;
    mpp_buf_t b;
    s_encode(&a, &b);
    size_t first = b.len;
    ASSERT_EQ(mpp_wire_encode(&bye, &b), 0);
    ASSERT_EQ(mpp_wire_decode(b.data, first, &out), 0);
    ASSERT_EQ(out.type, MPP_MSG_HELLO);
    mpp_msg_clear(&out);
    ASSERT_EQ(mpp_wire_decode(b.data + first, b.len - first, &out), 0);
    ASSERT_EQ(out.type, MPP_MSG_BYE);
    mpp_msg_clear(&out);
    /* Two documents in one frame are trailing bytes. */
    ASSERT_EQ(mpp_wire_decode(b.data, b.len, &out), MPP_EPROTO);
    ASSERT(s_is_zero(&out));

    size_t len = b.len;
    mpp_msg_t bad = s_bye();
    bad.token = NULL;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = s_bye();
    bad.type = 0;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad.type = 4;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = s_bye();
    bad.token = "0123456789abcdef0123456789abcdef0123456789abcdef"
                "0123456789abcdef!"; /* 65 bytes */
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = s_bye();
    bad.exit_kind = MPP_EXIT_LOST + 1;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = s_data();
    mpp_wspan_t span = {.cat = MPP_CAT_COUNT};
    bad.spans = &span;
    bad.nspans = 1;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    bad = s_data();
    bad.funcs = NULL;
    ASSERT_EQ(mpp_wire_encode(&bad, &b), MPP_EINVAL);
    ASSERT_EQ(b.len, len);
    ASSERT_EQ(mpp_wire_encode(NULL, &b), MPP_EINVAL);
    mpp_buf_fini(&b);
}

/* Over-long strings are cut, on a UTF-8 boundary, to what decodes. */
MPP_TEST(encode_truncates_long_strings)
{
    size_t n = MPP_WIRE_MAX_STR + 100;
    char *s = malloc(n + 1);
    ASSERT(s != NULL);
    s[0] = 'x'; /* so the two-byte characters straddle the limit */
    for (size_t i = 1; i + 1 < n; i += 2) {
        s[i] = '\xc3';
        s[i + 1] = '\xa9';
    }
    s[n - 1] = 'y';
    s[n] = '\0';
    mpp_msg_t in = s_hello(), out;
    in.python = s;
    mpp_buf_t b;
    s_encode(&in, &b);
    ASSERT_EQ(s_decode_buf(&b, &out), 0);
    size_t got = strlen(out.python);
    ASSERT(got <= MPP_WIRE_MAX_STR && got >= MPP_WIRE_MAX_STR - 1);
    ASSERT(((unsigned char)out.python[got - 1] & 0xc0) == 0x80);
    ASSERT(memcmp(out.python, s, got) == 0);
    mpp_msg_clear(&out);
    mpp_buf_fini(&b);
    free(s);
}

/* ---- broken input ------------------------------------------------------- */

MPP_TEST(every_prefix_fails)
{
    mpp_msg_t msgs[3] = {s_hello(), s_data(), s_bye()};
    for (int k = 0; k < 3; k++) {
        mpp_buf_t b;
        s_encode(&msgs[k], &b);
        for (size_t len = 0; len < b.len; len++) {
            /* A heap copy of exactly len bytes lets ASan catch any read
             * past the end. */
            char *copy = malloc(len ? len : 1);
            ASSERT(copy != NULL);
            memcpy(copy, b.data, len);
            mpp_msg_t out;
            int rc = mpp_wire_decode(copy, len, &out);
            if (rc != MPP_EPROTO) {
                MPP_FAIL("message %d, prefix %zu of %zu: %s", k, len, b.len,
                         mpp_err_name(rc));
            }
            ASSERT(s_is_zero(&out));
            free(copy);
        }
        mpp_buf_fini(&b);
    }
}

MPP_TEST(byte_flips_never_crash)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90,
                                     0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                     0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf,
                                     0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc,
                                     0xdd, 0xde, 0xdf, 0xe0, 0xff};
    mpp_msg_t msgs[3] = {s_hello(), s_data(), s_bye()};
    size_t ok = 0, bad = 0;
    for (int k = 0; k < 3; k++) {
        mpp_buf_t b;
        s_encode(&msgs[k], &b);
        char *copy = malloc(b.len);
        ASSERT(copy != NULL);
        for (size_t i = 0; i < b.len; i++) {
            for (size_t v = 0; v <= MPP_ARRAY_SIZE(values); v++) {
                memcpy(copy, b.data, b.len);
                copy[i] = v < MPP_ARRAY_SIZE(values)
                              ? (char)values[v]
                              : (char)(b.data[i] ^ 0x01);
                mpp_msg_t out;
                int rc = mpp_wire_decode(copy, b.len, &out);
                if (rc == 0) {
                    ok++;
                    ASSERT(out.token != NULL);
                    mpp_msg_clear(&out);
                }
                else {
                    bad++;
                    ASSERT(rc == MPP_EPROTO || rc == MPP_EVERSION);
                    ASSERT(s_is_zero(&out));
                }
            }
        }
        free(copy);
        mpp_buf_fini(&b);
    }
    fprintf(stderr, "   %zu flips decoded, %zu rejected\n", ok, bad);
    ASSERT(ok > 0 && bad > 0);
}

MPP_TEST(garbage)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 97);
        uint8_t *buf = malloc(len ? len : 1);
        ASSERT(buf != NULL);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        /* Often start like a message so the walk gets further in. */
        if (len > 5 && round % 2) {
            memcpy(buf, "\x97\xa3mpp\x01", 6);
        }
        mpp_msg_t out;
        int rc = mpp_wire_decode(buf, len, &out);
        if (rc == 0) {
            mpp_msg_clear(&out);
        }
        else {
            ASSERT(s_is_zero(&out));
        }
        free(buf);
    }
    mpp_msg_t out;
    ASSERT_EQ(mpp_wire_decode(NULL, 0, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("", 0, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\xc1", 1, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\x01", 1, &out), MPP_EPROTO);
    ASSERT_EQ(mpp_wire_decode("\x90", 1, &out), MPP_EPROTO);
}

/* ---- hand-made messages ------------------------------------------------ */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_raw_t;

static void
s_raw_init(s_raw_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

static void
s_raw_str(s_raw_t *r, const char *s)
{
    msgpack_pack_str_with_body(&r->pk, s, strlen(s));
}

/* Packs the envelope up to the body: the caller packs the body next. */
static void
s_raw_head(s_raw_t *r, size_t nelems, uint32_t version, uint32_t type)
{
    s_raw_init(r);
    msgpack_pack_array(&r->pk, nelems);
    s_raw_str(r, "mpp");
    msgpack_pack_uint32(&r->pk, version);
    s_raw_str(r, TOKEN);
    msgpack_pack_int64(&r->pk, 7);
    msgpack_pack_uint64(&r->pk, 0);
    msgpack_pack_uint32(&r->pk, type);
}

static int
s_raw_decode(s_raw_t *r)
{
    mpp_msg_t out;
    int rc = mpp_wire_decode(r->sb.data, r->sb.size, &out);
    if (rc == 0) {
        mpp_msg_clear(&out);
    }
    else {
        ASSERT(s_is_zero(&out));
    }
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

/* A BYE body whose exit_code is `code`, packed by the given callback. */
static int
s_bye_with(void (*pack)(msgpack_packer *pk))
{
    s_raw_t r;
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "exit_code");
    pack(&r.pk);
    return s_raw_decode(&r);
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
    mpp_msg_t in = s_bye(), out;
    mpp_buf_t b;
    s_encode(&in, &b);
    char *p = memchr(b.data, 'p', b.len);
    ASSERT(p != NULL);
    p[1] = 'q'; /* "mqp" */
    ASSERT_EQ(s_decode_buf(&b, &out), MPP_EPROTO);
    mpp_buf_fini(&b);

    s_raw_t r;
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    s_raw_str(&r, "MPP");
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);

    s_raw_head(&r, 7, 2, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_decode(&r), MPP_EVERSION);
    s_raw_head(&r, 7, 0, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_decode(&r), MPP_EVERSION);
    /* A later version may change the layout, and is still EVERSION. */
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 2);
    s_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 9);
    ASSERT_EQ(s_raw_decode(&r), MPP_EVERSION);
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 3);
    s_raw_str(&r, "mpp");
    msgpack_pack_int64(&r.pk, -1);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_decode(&r), MPP_EVERSION);
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 2);
    s_raw_str(&r, "mpp");
    s_raw_str(&r, "1");
    ASSERT_EQ(s_raw_decode(&r), MPP_EVERSION);
    /* The right version with the wrong shape is malformed. */
    s_raw_head(&r, 8, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 1);
    s_raw_str(&r, "mpp");
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
}

MPP_TEST(envelope_types)
{
    s_raw_t r;
    /* Minimal valid message: every body key is optional. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_decode(&r), 0);
    for (uint32_t type = 0; type < 6; type += 4) {
        s_raw_head(&r, 7, MPP_WIRE_VERSION, type);
        msgpack_pack_map(&r.pk, 0);
        ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    }
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_array(&r.pk, 0); /* body must be a map */
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);

    /* Negative seq (unsigned) is refused; negative pid (signed) is not. */
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    s_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 1);
    s_raw_str(&r, TOKEN);
    msgpack_pack_int64(&r.pk, -7);
    msgpack_pack_int64(&r.pk, -1);
    msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);

    /* Token: a string of at most 64 bytes without NUL. */
    const char *tokens[] = {
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
    };
    for (int i = 0; i < 2; i++) {
        s_raw_init(&r);
        msgpack_pack_array(&r.pk, 7);
        s_raw_str(&r, "mpp");
        msgpack_pack_uint32(&r.pk, 1);
        s_raw_str(&r, tokens[i]);
        msgpack_pack_int64(&r.pk, -7);
        msgpack_pack_uint64(&r.pk, 1);
        msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
        msgpack_pack_map(&r.pk, 0);
        ASSERT_EQ(s_raw_decode(&r), i == 0 ? 0 : MPP_EPROTO);
    }
    s_raw_init(&r);
    msgpack_pack_array(&r.pk, 7);
    s_raw_str(&r, "mpp");
    msgpack_pack_uint32(&r.pk, 1);
    msgpack_pack_str_with_body(&r.pk, "ab\0cd", 5);
    msgpack_pack_int64(&r.pk, 1);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
}

/*  A BYE whose body is {key: value}, the value given as raw bytes, so
 *  that encodings msgpack's packer never picks (a small number in 8
 *  bytes, a non-negative number in a signed form) can be tried.  On
 *  success *out holds the message (cleared by the caller). */
static int
s_bye_raw(const char *key, const void *value, size_t n, mpp_msg_t *out)
{
    s_raw_t r;
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, key);
    msgpack_sbuffer_write(&r.sb, value, n);
    int rc = mpp_wire_decode(r.sb.data, r.sb.size, out);
    if (rc != 0) {
        ASSERT(s_is_zero(out));
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
        s_raw_t r;
        s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
        msgpack_pack_map(&r.pk, 1);
        s_raw_str(&r, "name");
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
    s_raw_t r;
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 3);
    s_raw_str(&r, "later");
    msgpack_sbuffer_write(&r.sb, (const char *)junk, sizeof(junk));
    s_raw_str(&r, "exit_code");
    msgpack_pack_int32(&r.pk, -3);
    s_raw_str(&r, "name"); /* a HELLO and DATA key, not a BYE one */
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

    s_raw_t r;
    /* Negative value for an unsigned field. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "dropped");
    msgpack_pack_int64(&r.pk, -1);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    /* exit_kind beyond the known kinds. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "exit_kind");
    msgpack_pack_uint32(&r.pk, 9);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    /* A non-string key. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, 1);
    msgpack_pack_uint32(&r.pk, 1);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    /* A repeated key. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_BYE);
    msgpack_pack_map(&r.pk, 2);
    s_raw_str(&r, "dropped");
    msgpack_pack_uint32(&r.pk, 1);
    s_raw_str(&r, "dropped");
    msgpack_pack_uint32(&r.pk, 2);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);

    /* Unknown keys, and keys of another type, are skipped whatever they
     * hold. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 4);
    s_raw_str(&r, "future");
    msgpack_pack_array(&r.pk, 2);
    msgpack_pack_map(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_double(&r.pk, 2.5);
    msgpack_pack_bin_with_body(&r.pk, "\0\1", 2);
    s_raw_str(&r, "funcs"); /* a DATA key in a HELLO */
    s_raw_str(&r, "not even an array");
    s_raw_str(&r, "exit_code");
    msgpack_pack_nil(&r.pk);
    s_raw_str(&r, "name");
    s_raw_str(&r, "Proc");
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
        s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
        msgpack_pack_map(&r.pk, 1);
        s_raw_str(&r, "python");
        msgpack_pack_str_with_body(&r.pk, s, MPP_WIRE_MAX_STR + extra);
        ASSERT_EQ(s_raw_decode(&r), extra ? MPP_EPROTO : 0);
    }
    free(s);
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "argv");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_str_with_body(&r.pk, "a\0", 2);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    /* Binary is not a string. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_HELLO);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "python");
    msgpack_pack_bin_with_body(&r.pk, "3", 1);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
}

/* Packs a DATA message with one function row and one thread, with the
 * given values for the function's fid and line and the thread's number of
 * category triples. */
static int
s_data_with(int64_t fid, int64_t line, int ncats, int64_t span_cat)
{
    s_raw_t r;
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 3);
    s_raw_str(&r, "funcs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 4);
    msgpack_pack_int64(&r.pk, fid);
    s_raw_str(&r, "f.py");
    msgpack_pack_int64(&r.pk, line);
    s_raw_str(&r, "f");
    s_raw_str(&r, "threads");
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
    s_raw_str(&r, "spans");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 6);
    msgpack_pack_uint64(&r.pk, 1);
    msgpack_pack_int64(&r.pk, span_cat);
    msgpack_pack_uint64(&r.pk, 0);
    msgpack_pack_int64(&r.pk, 0);
    msgpack_pack_int64(&r.pk, 0);
    msgpack_pack_uint64(&r.pk, 0);
    return s_raw_decode(&r);
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

/* Counts in headers are never trusted: these must fail at once, without
 * msgpack-c allocating anything sized from them. */
MPP_TEST(huge_counts_fail_fast)
{
    static const char *const bombs[] = {
        "\xdd\xff\xff\xff\xff",         /* array of 2^32-1 */
        "\xdf\xff\xff\xff\xff",         /* map of 2^32-1 */
        "\xdc\xff\xff",                 /* array of 65535 */
        "\xdb\xff\xff\xff\xff" "abc",   /* str of 4 GB */
        "\xc6\xff\xff\xff\xff" "abc",   /* bin of 4 GB */
        "\xc9\xff\xff\xff\xff\x01" "a", /* ext of 4 GB */
    };
    static const size_t lens[] = {5, 5, 3, 8, 8, 7};
    double t0 = s_now();
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bombs); i++) {
        mpp_msg_t out;
        ASSERT_EQ(mpp_wire_decode(bombs[i], lens[i], &out), MPP_EPROTO);
    }
    /* The same inside a valid envelope, where the walk gets deep. */
    const char *keys[] = {"funcs", "threads", "spans"};
    for (int i = 0; i < 3; i++) {
        for (int map = 0; map < 2; map++) {
            s_raw_t r;
            s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
            msgpack_pack_map(&r.pk, 1);
            s_raw_str(&r, keys[i]);
            msgpack_sbuffer_write(&r.sb, map ? "\xdf" : "\xdd", 1);
            msgpack_sbuffer_write(&r.sb, "\xff\xff\xff\xff", 4);
            msgpack_pack_array(&r.pk, 0);
            ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
        }
    }
    /* 2^32-1 elements with the bytes present for only a few. */
    s_raw_t r;
    s_raw_init(&r);
    msgpack_sbuffer_write(&r.sb, "\xdd\xff\xff\xff\xff", 5);
    for (int i = 0; i < 1000; i++) {
        msgpack_pack_nil(&r.pk);
    }
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    double dt = s_now() - t0;
    ASSERT(dt < 1.0);
}

MPP_TEST(deep_nesting)
{
    s_raw_t r;
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "future");
    for (int i = 0; i < 100000; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_decode(&r), MPP_EPROTO);
    /* A little nesting in an unknown key is fine. */
    s_raw_head(&r, 7, MPP_WIRE_VERSION, MPP_MSG_DATA);
    msgpack_pack_map(&r.pk, 1);
    s_raw_str(&r, "future");
    for (int i = 0; i < 8; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_decode(&r), 0);
}

MPP_TEST(oversize)
{
    /* calloc of this size costs nothing until touched, and the decoder
     * must refuse it before touching it. */
    size_t len = (size_t)MPP_WIRE_MAX_MSG + 1;
    char *big = calloc(1, len);
    ASSERT(big != NULL);
    mpp_msg_t out;
    double t0 = s_now();
    ASSERT_EQ(mpp_wire_decode(big, len, &out), MPP_ETOOBIG);
    ASSERT(s_is_zero(&out));
    ASSERT(s_now() - t0 < 0.1);
    free(big);
}

/* The aggregator's load: 64 processes, 5000 functions each. */
MPP_TEST(decode_speed)
{
    enum { NF = 5000, NE = 10000, NPROC = 64 };
    mpp_wfunc_t *funcs = calloc(NF, sizeof(*funcs));
    mpp_wstat_t *stats = calloc(NF, sizeof(*stats));
    mpp_wedge_t *edges = calloc(NE, sizeof(*edges));
    char (*names)[48] = calloc(NF, sizeof(*names));
    ASSERT(funcs && stats && edges && names);
    for (uint32_t i = 0; i < NF; i++) {
        snprintf(names[i], sizeof(names[i]), "function_number_%u", i);
        funcs[i] = (mpp_wfunc_t){i, (int32_t)(i * 7 + 1),
                                 "/usr/lib/python3.11/site-packages/pkg/m.py",
                                 names[i]};
        stats[i] = (mpp_wstat_t){i, {i * 13u, i * 13u, i * 1000003,
                                     i * 2000003}};
    }
    for (uint32_t i = 0; i < NE; i++) {
        edges[i] = (mpp_wedge_t){i % NF, (i * 7) % NF,
                                 {i, i, i * 1000003, i * 1000005}};
    }
    mpp_wthread_t t = {.tid = 140000000000001, .name = "MainThread",
                       .stats = stats, .nstats = NF,
                       .edges = edges, .nedges = NE};
    mpp_msg_t m = {.token = TOKEN, .pid = 1000, .type = MPP_MSG_DATA,
                   .name = "ForkPoolWorker-1", .funcs = funcs,
                   .nfuncs = NF, .threads = &t, .nthreads = 1};
    mpp_buf_t b;
    s_encode(&m, &b);
    double t0 = s_now();
    for (int p = 0; p < NPROC; p++) {
        mpp_msg_t out;
        ASSERT_EQ(s_decode_buf(&b, &out), 0);
        ASSERT_EQ(out.nfuncs, NF);
        ASSERT_EQ(out.threads[0].nedges, NE);
        mpp_msg_clear(&out);
    }
    double dt = s_now() - t0;
    fprintf(stderr, "   %d x %zu-byte DATA (%d funcs, %d edges): %.3f s\n",
            NPROC, b.len, NF, NE, dt);
    mpp_buf_fini(&b);
    free(funcs);
    free(stats);
    free(edges);
    free(names);
}

int
main(int argc, char **argv)
{
    MPP_RUN(roundtrip_hello);
    MPP_RUN(roundtrip_data);
    MPP_RUN(roundtrip_bye);
    MPP_RUN(encode_appends_and_rejects);
    MPP_RUN(encode_truncates_long_strings);
    MPP_RUN(every_prefix_fails);
    MPP_RUN(byte_flips_never_crash);
    MPP_RUN(garbage);
    MPP_RUN(wrong_magic_and_version);
    MPP_RUN(envelope_types);
    MPP_RUN(field_types);
    MPP_RUN(table_fields);
    MPP_RUN(huge_counts_fail_fast);
    MPP_RUN(deep_nesting);
    MPP_RUN(oversize);
    MPP_RUN(number_encodings);
    MPP_RUN(decode_speed);
    return mpp_test_done(argc, argv);
}
