/*  Shared by the wire codec's tests (test_wire.c, test_wire_decode.c): the
 *  sample messages, comparing a decoded message with what was encoded, and
 *  packing hand-made messages with msgpack-c. */
#include "wire_fixture.h"

double
mpp_wt_now(void)
{
    return (double)mpp_clock_mono_ns() / 1e9;
}

int
mpp_wt_decode_buf(const mpp_buf_t *b, mpp_msg_t *m)
{
    return mpp_wire_decode(b->data, b->len, m);
}

/* True when every byte of the message is zero, as after a failed decode. */
int
mpp_wt_is_zero(const mpp_msg_t *m)
{
    static const mpp_msg_t zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

void
mpp_wt_check_cost(const mpp_cost_t *a, const mpp_cost_t *b)
{
    ASSERT(a->ncalls == b->ncalls);
    ASSERT(a->pcalls == b->pcalls);
    ASSERT(a->tt_ns == b->tt_ns);
    ASSERT(a->ct_ns == b->ct_ns);
}

/* ---- sample messages --------------------------------------------------- */

const char *mpp_wt_argv[MPP_WT_ARGC] = {"script.py", "--flag", "",
                                        "\xc3\xa9t\xc3\xa9"};

mpp_msg_t
mpp_wt_hello(void)
{
    mpp_msg_t m = {
        .token = TOKEN,
        .pid = 4242,
        .seq = 0,
        .type = MPP_MSG_HELLO,
        .ppid = -1,
        .start_method = "spawn",
        .python = "3.11.7",
        .argv = mpp_wt_argv,
        .argc = MPP_WT_ARGC,
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

mpp_msg_t
mpp_wt_data(void)
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
    /* The first thread's CPU time is known (seven columns), the
     * second's is not (five, as an older collector sends). */
    s_threads[0].has_cpu = true;
    s_threads[0].cpu_ns = INT64_C(900000000123);
    s_threads[0].cpu_cat_ns = 5000;
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

mpp_msg_t
mpp_wt_bye(void)
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

void
mpp_wt_encode(const mpp_msg_t *m, mpp_buf_t *b)
{
    mpp_buf_init(b);
    ASSERT_EQ(mpp_wire_encode(m, b), 0);
    ASSERT(b->len > 0);
}

void
mpp_wt_check_data(const mpp_msg_t *in, const mpp_msg_t *out)
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
        ASSERT(b->has_cpu == a->has_cpu);
        if (a->has_cpu) {
            ASSERT_EQ(b->cpu_ns, a->cpu_ns);
            ASSERT_EQ(b->cpu_cat_ns, a->cpu_cat_ns);
        }
        ASSERT_EQ(b->nstats, a->nstats);
        for (size_t j = 0; j < a->nstats; j++) {
            ASSERT(b->stats[j].fid == a->stats[j].fid);
            mpp_wt_check_cost(&b->stats[j].cost, &a->stats[j].cost);
        }
        ASSERT_EQ(b->nedges, a->nedges);
        for (size_t j = 0; j < a->nedges; j++) {
            ASSERT(b->edges[j].caller == a->edges[j].caller);
            ASSERT(b->edges[j].callee == a->edges[j].callee);
            mpp_wt_check_cost(&b->edges[j].cost, &a->edges[j].cost);
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

void
mpp_wt_raw_init(mpp_wt_raw_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

void
mpp_wt_raw_str(mpp_wt_raw_t *r, const char *s)
{
    msgpack_pack_str_with_body(&r->pk, s, strlen(s));
}

/* Packs the envelope up to the body: the caller packs the body next. */
void
mpp_wt_raw_head(mpp_wt_raw_t *r, size_t nelems, uint32_t version,
                uint32_t type)
{
    mpp_wt_raw_init(r);
    msgpack_pack_array(&r->pk, nelems);
    mpp_wt_raw_str(r, "mpp");
    msgpack_pack_uint32(&r->pk, version);
    mpp_wt_raw_str(r, TOKEN);
    msgpack_pack_int64(&r->pk, 7);
    msgpack_pack_uint64(&r->pk, 0);
    msgpack_pack_uint32(&r->pk, type);
}

int
mpp_wt_raw_decode(mpp_wt_raw_t *r)
{
    mpp_msg_t out;
    int rc = mpp_wire_decode(r->sb.data, r->sb.size, &out);
    if (rc == 0) {
        mpp_msg_clear(&out);
    }
    else {
        ASSERT(mpp_wt_is_zero(&out));
    }
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}
