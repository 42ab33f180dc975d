/*  Tests of the session file: a lossless round trip of a hand-built
 *  session, the reader's answers to cut, corrupted and foreign files,
 *  loading from a path, and the views of a session.  What the reader
 *  accepts in hand-made files is in test_sessfile_reader.c.
 */
#include "sessfile_fixture.h"

#include <errno.h>
#include <unistd.h>

MPP_TEST(roundtrip)
{
    mpp_session_t *s = mpp_sf_build(), *t = NULL;
    size_t len;
    char *buf = mpp_sf_write(s, &len);
    ASSERT(len > MPP_SESSFILE_MAGIC_LEN &&
           memcmp(buf, MPP_SESSFILE_MAGIC, MPP_SESSFILE_MAGIC_LEN) == 0);
    ASSERT_EQ(mpp_sf_parse(buf, len, &t), 0);
    mpp_sf_same_session(s, t);
    /* Pid reuse: both incarnations of pid 100 are kept, in order. */
    ASSERT_EQ(t->procs[0].pid, 100);
    ASSERT_EQ(t->procs[2].pid, 100);
    ASSERT_EQ(t->procs[2].exit_kind, MPP_EXIT_LOST);
    /* Writing the copy gives the same bytes. */
    size_t len2;
    char *buf2 = mpp_sf_write(t, &len2);
    ASSERT_EQ(len2, len);
    ASSERT(memcmp(buf, buf2, len) == 0);
    free(buf2);
    free(buf);
    mpp_session_destroy(&t);
    mpp_session_destroy(&s);
    ASSERT(s == NULL && t == NULL);
}

MPP_TEST(roundtrip_empty)
{
    mpp_session_t *s = mpp_session_new(), *t = NULL;
    ASSERT(s != NULL);
    free(s->mpprof_version);
    s->mpprof_version = NULL; /* NULL survives as NULL */
    size_t len;
    char *buf = mpp_sf_write(s, &len);
    ASSERT_EQ(mpp_sf_parse(buf, len, &t), 0);
    mpp_sf_same_session(s, t);
    ASSERT(t->command == NULL && t->mpprof_version == NULL);
    free(buf);
    mpp_session_destroy(&t);
    mpp_session_destroy(&s);
}

MPP_TEST(every_truncation)
{
    mpp_session_t *s = mpp_sf_build(), *t;
    size_t len;
    char *buf = mpp_sf_write(s, &len);
    for (size_t n = 0; n < len; n++) {
        int rc = mpp_sf_parse(buf, n, &t);
        if (rc != MPP_ETRUNC && rc != MPP_ECORRUPT) {
            MPP_FAIL("cut at %zu of %zu: %s", n, len, mpp_err_name(rc));
        }
    }
    /* A cut file always reads as cut: every byte before the cut is
     * right, so the reader only ever runs out. */
    for (size_t n = 0; n < len; n++) {
        ASSERT_EQ(mpp_sf_parse(buf, n, &t), MPP_ETRUNC);
    }
    free(buf);
    mpp_session_destroy(&s);
}

MPP_TEST(corruption_never_crashes)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90,
                                     0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                     0xc3, 0xc4, 0xc7, 0xcb, 0xcc, 0xcf,
                                     0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc,
                                     0xdd, 0xde, 0xdf, 0xe0, 0xff};
    mpp_session_t *s = mpp_sf_build(), *t;
    size_t len, ok = 0, bad = 0;
    char *buf = mpp_sf_write(s, &len);
    char *copy = malloc(len);
    ASSERT(copy != NULL);
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v <= MPP_ARRAY_SIZE(values); v++) {
            memcpy(copy, buf, len);
            copy[i] = v < MPP_ARRAY_SIZE(values) ? (char)values[v]
                                                : (char)(buf[i] ^ 0x01);
            int rc = mpp_sf_parse(copy, len, &t);
            if (rc == 0) {
                /* Whatever was accepted is a consistent session: it
                 * writes and reads back. */
                size_t n2;
                char *b2 = mpp_sf_write(t, &n2);
                mpp_session_t *u;
                ASSERT_EQ(mpp_sf_parse(b2, n2, &u), 0);
                mpp_sf_same_session(t, u);
                mpp_session_destroy(&u);
                free(b2);
                mpp_session_destroy(&t);
                ok++;
            }
            else {
                ASSERT(rc == MPP_ETRUNC || rc == MPP_ECORRUPT ||
                       rc == MPP_EFORMAT || rc == MPP_EVERSION);
                bad++;
            }
        }
    }
    fprintf(stderr, "   %zu corruptions read, %zu rejected\n", ok, bad);
    free(copy);
    free(buf);
    mpp_session_destroy(&s);
}

MPP_TEST(foreign_files)
{
    mpp_session_t *t;
    ASSERT_EQ(mpp_sf_parse("", 0, &t), MPP_ETRUNC);
    ASSERT_EQ(mpp_sf_parse("MPPROF", 6, &t), MPP_ETRUNC);
    ASSERT_EQ(mpp_sf_parse("MPPROF\0", 7, &t), MPP_ETRUNC);
    ASSERT_EQ(mpp_sf_parse(MPP_SESSFILE_MAGIC, MPP_SESSFILE_MAGIC_LEN, &t),
              MPP_ETRUNC);
    ASSERT_EQ(mpp_sf_parse("XYZ", 3, &t), MPP_EFORMAT);
    ASSERT_EQ(mpp_sf_parse("MPPROF\r\n\x01\x80", 10, &t), MPP_EFORMAT);
    ASSERT_EQ(mpp_sf_parse("{\"json\": true}", 14, &t), MPP_EFORMAT);
    ASSERT_EQ(mpp_sessfile_parse(NULL, 0, &t), MPP_ETRUNC);
    ASSERT(t == NULL);

    mpp_sf_raw_t r;
    mpp_sf_raw_init(&r, 99);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_EVERSION);
    mpp_sf_raw_init(&r, 0);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_EVERSION);
    msgpack_sbuffer_init(&r.sb);
    msgpack_sbuffer_write(&r.sb,
                          MPP_SESSFILE_MAGIC "\xa1"
                                             "1",
                          MPP_SESSFILE_MAGIC_LEN + 2);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);

    /* The smallest valid file, then with a byte after the document. */
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(mpp_sf_raw_rc(&r), 0);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 0);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
    mpp_sf_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_array(&r.pk, 0);
    ASSERT_EQ(mpp_sf_raw_rc(&r), MPP_ECORRUPT);
}

MPP_TEST(load)
{
    char dir[] = "/tmp/mpp_test_sessfile_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char file[sizeof(dir) + 32];
    snprintf(file, sizeof(file), "%s/session.mpprof", dir);
    mpp_session_t *s = mpp_sf_build(), *t;

    ASSERT_EQ(mpp_sessfile_load(dir, &t), -ENOENT);
    ASSERT(t == NULL);
    FILE *f = fopen(file, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_sessfile_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);

    ASSERT_EQ(mpp_sessfile_load(dir, &t), 0);
    mpp_sf_same_session(s, t);
    mpp_session_destroy(&t);
    ASSERT_EQ(mpp_sessfile_load(file, &t), 0);
    mpp_sf_same_session(s, t);
    mpp_session_destroy(&t);

    ASSERT_EQ(mpp_sessfile_load("/nonexistent/mpprof/x", &t), -ENOENT);
    ASSERT_EQ(mpp_sessfile_load("/dev/null", &t), MPP_EFORMAT);
    f = fopen(file, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(mpp_sessfile_load(file, &t), MPP_ETRUNC);

    ASSERT_EQ(unlink(file), 0);
    ASSERT_EQ(rmdir(dir), 0);
    mpp_session_destroy(&s);
}

/* ---- views ------------------------------------------------------------ */

static uint64_t s_rng = 88172645463325252ULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/*  A view, against sums done the slow way: every edge of the selected
 *  processes looked up in a list, costs summed per (caller, callee), the
 *  list ordered by (callee, caller); per function summed costs and the
 *  processes that called it.  Threads and processes share edges, a
 *  process has the same pid as another, and ids go up to 2^20. */
MPP_TEST(view_sums)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    for (int i = 0; i < 400; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", i);
        ASSERT_EQ(mpp_session_intern(s, "/a.py", i, name), i);
    }
    for (int p = 0; p < 5; p++) {
        mpp_proc_t *proc = mpp_session_add_proc(s, p == 4 ? 100 : 100 + p);
        ASSERT(proc != NULL);
        for (uint64_t th = 0; th < 3; th++) {
            mpp_thread_t *t = mpp_proc_thread(proc, th, true);
            ASSERT(t != NULL);
            for (int k = 0; k < 300; k++) {
                uint32_t f = (uint32_t)(s_rand() % 400);
                mpp_cost_t c =
                    mpp_sf_cost(s_rand() % 3, (int64_t)(s_rand() % 99));
                ASSERT_EQ(mpp_thread_set_stat(t, f, &c), 0);
                uint32_t a = (uint32_t)(s_rand() % 60), b;
                b = k % 5 == 0 ? (uint32_t)(s_rand() % (1u << 20))
                               : (uint32_t)(s_rand() % 60);
                c = mpp_sf_cost(1 + s_rand() % 5,
                                (int64_t)(s_rand() % 1000) - 10);
                ASSERT_EQ(mpp_thread_set_edge(t, a, b, &c), 0);
            }
            t->cat[th % MPP_CAT_COUNT].ns += 7 * (th + 1);
        }
    }
    for (ssize_t sel = -1; sel < (ssize_t)s->nprocs; sel++) {
        mpp_view_t *v = mpp_view_new(s, sel);
        ASSERT(v != NULL);
        /* Expected edges, found by linear search. */
        mpp_edge_t *want = calloc(5 * 3 * 300, sizeof(*want));
        size_t nwant = 0;
        mpp_cost_t *fsum = calloc(400, sizeof(*fsum));
        uint32_t *fprocs = calloc(400, sizeof(*fprocs));
        uint64_t calls = 0, cat0 = 0;
        ASSERT(want && fsum && fprocs);
        for (size_t p = 0; p < s->nprocs; p++) {
            if (sel >= 0 && (size_t)sel != p) {
                continue;
            }
            uint8_t seen[400] = {0};
            for (size_t th = 0; th < s->procs[p].nthreads; th++) {
                const mpp_thread_t *t = &s->procs[p].threads[th];
                cat0 += t->cat[0].ns;
                for (size_t k = 0; k < t->nstats; k++) {
                    uint32_t f = t->stats[k].func;
                    mpp_cost_add(&fsum[f], &t->stats[k].cost);
                    calls += t->stats[k].cost.ncalls;
                    if (t->stats[k].cost.ncalls > 0 && !seen[f]) {
                        seen[f] = 1;
                        fprocs[f]++;
                    }
                }
                for (size_t k = 0; k < t->nedges; k++) {
                    const mpp_edge_t *e = &t->edges[k];
                    size_t j = 0;
                    while (j < nwant && (want[j].caller != e->caller ||
                                         want[j].callee != e->callee)) {
                        j++;
                    }
                    if (j == nwant) {
                        want[nwant++] = *e;
                    }
                    else {
                        mpp_cost_add(&want[j].cost, &e->cost);
                    }
                }
            }
        }
        /* Insertion sort by (callee, caller). */
        for (size_t i = 1; i < nwant; i++) {
            mpp_edge_t x = want[i];
            size_t j = i;
            while (j > 0 && (want[j - 1].callee > x.callee ||
                             (want[j - 1].callee == x.callee &&
                              want[j - 1].caller > x.caller))) {
                want[j] = want[j - 1];
                j--;
            }
            want[j] = x;
        }
        ASSERT_EQ(v->nedges, nwant);
        ASSERT(memcmp(v->edges, want, nwant * sizeof(*want)) == 0);
        ASSERT_EQ(v->nfuncs, 400);
        ASSERT(memcmp(v->func, fsum, 400 * sizeof(*fsum)) == 0);
        ASSERT(memcmp(v->nprocs, fprocs, 400 * sizeof(*fprocs)) == 0);
        ASSERT_EQ(v->total_calls, calls);
        ASSERT_EQ(v->cat[0].ns, cat0);
        free(want);
        free(fsum);
        free(fprocs);
        mpp_view_destroy(&v);
    }
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    MPP_RUN(view_sums);
    MPP_RUN(roundtrip);
    MPP_RUN(roundtrip_empty);
    MPP_RUN(every_truncation);
    MPP_RUN(corruption_never_crashes);
    MPP_RUN(foreign_files);
    MPP_RUN(load);
    return mpp_test_done(argc, argv);
}
