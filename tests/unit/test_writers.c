/*  The output writers (pstats, callgrind) and their building blocks (the
 *  buffered writer, the radix sort), checked against their real consumers:
 *  each test builds a session by hand with known numbers, writes a file,
 *  and runs check_writers.py on it (pstats.Stats, marshal,
 *  callgrind_annotate), giving it the expected values as JSON.  The
 *  reports are tested in test_report.c.
 */
#include "mpp_obuf.h"
#include "mpp_sort.h"
#include "writers_fixture.h"

/* ---- the writers -------------------------------------------------------- */

/* Expected merged stats of mpp_wf_build() (see check_writers.py for the shape).
 * idle never ran, so it and its edge to len are absent. */
#define S_MOD "\"/src/app/main.py\", 1, \"<module>\""
#define S_FACT "\"/src/app/main.py\", 10, \"fact\""
#define S_WORK "\"/src/app/work.py\", 5, \"work\""
/* pstats keeps undecodable bytes as surrogate escapes, as fsdecode does. */
#define S_BAD "\"/src/app/main.py\", 50, \"bad\\udcff\\udcfename\""
#define S_BOOT                                                                \
    "\"/usr/lib/python3.11/multiprocessing/process.py\", 108, \"_bootstrap\""
static const char s_expect_stats[] =
    "{\"pids\": [100, 101, 102], \"functions\": ["
    "[" S_MOD ", 1, 1, 100000007, 1000000021, [], false],"
    "[" S_FACT ", 1, 5, 300000000, 500000011, [[" S_MOD
    ", 1, 1, 60000000, 500000011], [" S_FACT
    ", 4, 1, 240000000, 400000000]], true],"
    "[\"~\", 0, \"<method 'acquire' of '_thread.lock' objects>\", 3, 3, "
    "200000003, 200000003, [[" S_MOD ", 3, 3, 200000003, 200000003]], false],"
    "[" S_WORK ", 6, 6, 470000000, 825000000, [[" S_MOD
    ", 2, 2, 150000000, 200000000], [" S_BAD ", 1, 1, 20000000, 25000000], ["
    S_BOOT ", 3, 3, 300000000, 600000000]], false],"
    "[\"/src/app/work.py\", 20, \"__init__\", 3, 3, 55000000, 55000000, [["
    S_WORK ", 3, 3, 55000000, 55000000]], false],"
    "[\"/src/app/work.py\", 40, \"__init__\", 3, 3, 300000000, 300000000, [["
    S_WORK ", 3, 3, 300000000, 300000000]], false],"
    "[" S_BOOT ", 1, 1, 100000000, 700000000, [], false],"
    "[\"~\", 0, \"<built-in method builtins.len>\", 3000000000, 3000000000, "
    "1500000000, 1500000000, [], false],"
    "[" S_BAD ", 1, 1, 5000000, 30000000, [], false]]}";

/*  A tiny dict, byte for byte: what marshal.dumps(stats, 2) writes, and
 *  the version-4 form with references profile.prof uses.  It covers a
 *  long (2**40 + 5 calls), non-ASCII text, a caller entry and binary
 *  floats.  Both files load to the same stats. */
MPP_TEST(marshal_bytes)
{
    static const unsigned char want_v2[] = {
        '{', '(', 3, 0, 0, 0, 'u', 4, 0, 0, 0, 'a', '.', 'p', 'y', 'i', 1, 0,
        0, 0, 'u', 1, 0, 0, 0, 'f', '(', 5, 0, 0, 0, 'i', 7, 0, 0, 0, 'l', 3,
        0, 0, 0, 5, 0, 0, 0, 0, 4, 'g', 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 'g', 0,
        0, 0, 0, 0, 0, 0xf8, 0x3f, '{', '0', '(', 3, 0, 0, 0, 'u', 1, 0, 0,
        0, '~', 'i', 0, 0, 0, 0, 'u', 4, 0, 0, 0, '<', 0xc3, 0xa9, '>', '(',
        5, 0, 0, 0, 'i', 1, 0, 0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '{', '(', 3, 0, 0, 0, 'u', 4, 0,
        0, 0, 'a', '.', 'p', 'y', 'i', 1, 0, 0, 0, 'u', 1, 0, 0, 0, 'f', '(',
        4, 0, 0, 0, 'i', 1, 0, 0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '0', '0'};
    /* Tuples ')' and ASCII strings 'z' with 1-byte lengths; 0x80 flags an
     * object as referenced later, numbered in the order the flagged
     * objects start: 0 the key of f, 1 "a.py", 2 "f", 3 the key of g,
     * 4 "~", 5 "<é>"; the caller entry is 'r' 0, the key of f. */
    static const unsigned char want[] = {
        '{', ')' | 0x80, 3, 'z' | 0x80, 4, 'a', '.', 'p', 'y', 'i', 1, 0, 0,
        0, 'z' | 0x80, 1, 'f', ')', 5, 'i', 7, 0, 0, 0, 'l', 3, 0, 0, 0, 5,
        0, 0, 0, 0, 4, 'g', 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 'g', 0, 0, 0, 0, 0,
        0, 0xf8, 0x3f, '{', '0', ')' | 0x80, 3, 'z' | 0x80, 1, '~', 'i', 0, 0,
        0, 0, 'u' | 0x80, 4, 0, 0, 0, '<', 0xc3, 0xa9, '>', ')', 5, 'i', 1, 0,
        0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, 'g', 0, 0, 0, 0,
        0, 0, 0, 0, '{', 'r', 0, 0, 0, 0, ')', 4, 'i', 1, 0, 0, 0, 'i', 1, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '0',
        '0'};
    mpp_session_t *s = mpp_session_new();
    uint32_t f = mpp_wf_fn(s, "a.py", 1, "f");
    uint32_t g = mpp_wf_fn(s, "~", 0, "<\xc3\xa9>");
    mpp_thread_t *t = mpp_wf_thread(mpp_session_proc(s, 1, true), 1, "T");
    mpp_wf_stat(t, f, (1ULL << 40) + 5, 7, 500 * MS, 1500 * MS);
    mpp_wf_stat(t, g, 1, 1, 0, 0);
    mpp_wf_edge(t, f, g, 1, 1, 0, 0);

    const char *plain = mpp_wf_path("tiny-v2.prof");
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS_V2, s, NULL, plain), 0);
    size_t len;
    const char *got = mpp_wf_slurp(plain, &len);
    ASSERT_EQ(len, sizeof(want_v2));
    ASSERT(memcmp(got, want_v2, len) == 0);
    const char *path = mpp_wf_path("tiny.prof");
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, NULL, path), 0);
    got = mpp_wf_slurp(path, &len);
    ASSERT_EQ(len, sizeof(want));
    ASSERT(memcmp(got, want, len) == 0);
    mpp_wf_write_text(mpp_wf_path("tiny.json"),
                 "{\"functions\": ["
                 "[\"a.py\", 1, \"f\", 7, 1099511627781, 500000000, "
                 "1500000000, [], false], "
                 "[\"~\", 0, \"<\\u00e9>\", 1, 1, 0, 0, "
                 "[[\"a.py\", 1, \"f\", 1, 1, 0, 0]], false]]}");
    mpp_wf_check("pstats", plain, mpp_wf_path("tiny.json"));
    mpp_wf_check_x("pstats", path, mpp_wf_path("tiny.json"), plain);
    mpp_session_destroy(&s);
}

/*  The references on a larger dict, against the version-2 dump of the
 *  same view: callers written before their own entry (a higher id calls a
 *  lower one) and after it, recursion, a caller never seen called (left
 *  out), a path of 300 ASCII characters (TYPE_ASCII, 4-byte length)
 *  shared by two functions, a long non-ASCII name, invalid UTF-8, a name
 *  repeated in several files, an empty name, negative and 64-bit
 *  numbers, and for one process alone. */
MPP_TEST(marshal_refs)
{
    char longpath[301], longname[400];
    memset(longpath, 'p', 300);
    longpath[0] = '/';
    longpath[300] = '\0';
    longname[0] = '\0';
    for (int i = 0; i < 60; i++) {
        strcat(longname, "\xc3\xa9t\xc3\xa9"); /* 5 bytes each */
    }
    mpp_session_t *s = mpp_session_new();
    uint32_t f[12];
    f[0] = mpp_wf_fn(s, longpath, 1, "run");
    f[1] = mpp_wf_fn(s, longpath, 9, "step");
    f[2] = mpp_wf_fn(s, "/a/b.py", 3, "run");
    f[3] = mpp_wf_fn(s, "/a/c.py", 4, "run");
    f[4] = mpp_wf_fn(s, "/a/c.py", 5, longname);
    f[5] = mpp_wf_fn(s, "/a/c.py", 6, "bad\xff\xfename");
    f[6] = mpp_wf_fn(s, "~", 0, "<built-in method builtins.len>");
    f[7] = mpp_wf_fn(s, "/a/d.py", -1, "");
    f[8] = mpp_wf_fn(s, "/a/d.py", 7, "never");
    f[9] = mpp_wf_fn(s, "/a/b.py", 30, "rec");
    f[10] = mpp_wf_fn(s, "/a/b.py", 31, "big");
    f[11] = mpp_wf_fn(s, "/a/b.py", 32, "late");
    mpp_proc_t *p = mpp_session_proc(s, 1, true);
    mpp_thread_t *t = mpp_wf_thread(p, 1, "T");
    for (int i = 0; i < 12; i++) {
        if (i != 8) {
            mpp_wf_stat(t, f[i], 2 + (uint64_t)i, 1 + (uint64_t)i,
                   (int64_t)i * MS + 7, (int64_t)i * 3 * MS + 11);
        }
    }
    mpp_wf_stat(t, f[10], 5000000000ULL, 4000000000ULL, -5, 1LL << 40);
    mpp_wf_edge(t, f[11], f[0], 1, 1, MS,
                2 * MS); /* caller before its entry */
    mpp_wf_edge(t, f[0], f[1], 2, 2, MS, MS);
    mpp_wf_edge(t, f[0], f[2], 1, 1, MS, MS);
    mpp_wf_edge(t, f[1], f[2], 1, 1, MS, MS);
    mpp_wf_edge(t, f[2], f[6], 3, 3, 10, 10);
    mpp_wf_edge(t, f[3], f[6], 3, 3, 10, 10);
    mpp_wf_edge(t, f[4], f[6], 3, 3, 10, 10);
    mpp_wf_edge(t, f[5], f[4], 1, 1, MS, MS);
    mpp_wf_edge(t, f[7], f[5], 1, 1, MS, MS);
    mpp_wf_edge(t, f[8], f[7], 1, 1, MS, MS);      /* never called: left out */
    mpp_wf_edge(t, f[9], f[9], 4, 1, MS, 3 * MS);  /* recursion */
    mpp_wf_edge(t, f[10], f[9], 1, 1, MS, 4 * MS);
    mpp_wf_edge(t, f[11], f[10], 5000000000ULL, 1, MS, 5 * MS);
    p = mpp_session_proc(s, 2, true);
    t = mpp_wf_thread(p, 1, "T");
    mpp_wf_stat(t, f[2], 1, 1, MS, MS);
    mpp_wf_stat(t, f[6], 1, 1, MS, MS);
    mpp_wf_edge(t, f[2], f[6], 1, 1, MS, MS);

    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("refs.prof")),
              0);
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PSTATS_V2, s, NULL, mpp_wf_path("refs-v2.prof")),
        0);
    mpp_wf_check_x("pstats", mpp_wf_path("refs.prof"), "-",
                   mpp_wf_path("refs-v2.prof"));
    mpp_report_opts_t o = {MPP_SORT_CUMULATIVE, 0, 1};
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, &o, mpp_wf_path("refs1.prof")), 0);
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PSTATS_V2, s, &o, mpp_wf_path("refs1-v2.prof")),
        0);
    mpp_wf_check_x("pstats", mpp_wf_path("refs1.prof"), "-",
                   mpp_wf_path("refs1-v2.prof"));
    mpp_session_destroy(&s);
}

/* pstats.Stats refuses an empty dict, so an empty view is an error. */
MPP_TEST(pstats_empty)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("empty.prof")),
              MPP_EINVAL);
    mpp_thread_t *t = mpp_wf_thread(mpp_session_proc(s, 1, true), 1, "T");
    mpp_wf_stat(t, mpp_wf_fn(s, "a.py", 1, "never"), 0, 0, 0, 0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("empty.prof")),
              MPP_EINVAL);
    /* The other writers still produce valid (empty) files. */
    ASSERT_EQ(mpp_wf_write(MPP_WF_CALLGRIND, s, NULL, mpp_wf_path("empty.cg")),
              0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_PARTS, s, NULL, mpp_wf_path("empty.parts")),
              0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("empty.json")), 0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("empty.txt")), 0);
    mpp_wf_write_text(mpp_wf_path("empty.exp"),
                      "{\"pids\": [1], \"functions\": []}");
    mpp_wf_check("callgrind", mpp_wf_path("empty.cg"),
                 mpp_wf_path("empty.exp"));
    mpp_wf_check("parts", mpp_wf_path("empty.parts"), mpp_wf_path("empty.exp"));
    mpp_wf_write_text(mpp_wf_path("empty.jexp"), "{\"functions\": []}");
    mpp_wf_check("json", mpp_wf_path("empty.json"), mpp_wf_path("empty.jexp"));
    mpp_session_destroy(&s);
}

MPP_TEST(pstats_consumer)
{
    mpp_session_t *s = mpp_wf_build();
    mpp_wf_write_text(mpp_wf_path("stats.exp"), s_expect_stats);
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("profile.prof")), 0);
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS_V2, s, NULL,
                           mpp_wf_path("profile-v2.prof")),
              0);
    mpp_wf_check("pstats", mpp_wf_path("profile-v2.prof"),
                 mpp_wf_path("stats.exp"));
    mpp_wf_check_x("pstats", mpp_wf_path("profile.prof"),
                   mpp_wf_path("stats.exp"), mpp_wf_path("profile-v2.prof"));
    mpp_session_destroy(&s);
}

MPP_TEST(callgrind_consumer)
{
    mpp_session_t *s = mpp_wf_build();
    mpp_wf_write_text(mpp_wf_path("stats.exp"), s_expect_stats);
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_CALLGRIND, s, NULL, mpp_wf_path("callgrind.out")),
        0);
    mpp_wf_check("callgrind", mpp_wf_path("callgrind.out"),
                 mpp_wf_path("stats.exp"));
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PARTS, s, NULL, mpp_wf_path("callgrind.parts")),
        0);
    mpp_wf_check("parts", mpp_wf_path("callgrind.parts"),
                 mpp_wf_path("stats.exp"));

    size_t len;
    const char *cg = mpp_wf_slurp(mpp_wf_path("callgrind.out"), &len);
    ASSERT(strstr(cg, "# callgrind format\nversion: 1\ncreator: mpprof "
                      MPPROF_VERSION_STRING "\ncmd: script.py --n 4\n"));
    ASSERT(strstr(cg, "events: ns Pickle Unpickle LockWait IpcWait Startup\n"
                      "summary: 3030000010\n"));
    ASSERT(strstr(cg, "__init__:20\n") && strstr(cg, "__init__:40\n"));
    ASSERT(strstr(cg, "calls=3000000000") == NULL); /* idle -> len */
    mpp_session_destroy(&s);
}

MPP_TEST(escaping)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *t = mpp_wf_thread(mpp_session_proc(s, 5, true), 1, "T\"1");
    mpp_wf_stat(t,
                mpp_wf_fn(s, "/x/q\"uote\\d.py", 3, "tab\there\nnl\x01\x7f"),
                1, 1, MS, MS);
    mpp_wf_stat(
        t,
        mpp_wf_fn(s, "/x/\xc3\xa9.py", 1, "s\xed\xa0\x80|\xc0\xaf|\xe2\x82"),
        2, 2, 2 * MS, 2 * MS);
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, NULL, mpp_wf_path("esc.json")), 0);
    mpp_wf_write_text(mpp_wf_path("esc.exp"),
                 "{\"processes\": [{\"name\": null, \"thread_list\": "
                 "[{\"name\": \"T\\\"1\"}]}], \"functions\": ["
                 "{\"file\": \"/x/\\u00e9.py\", \"name\": "
                 "\"s\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\"}, "
                 "{\"file\": \"/x/q\\\"uote\\\\d.py\", "
                 "\"name\": \"tab\\there\\nnl\\u0001\\u007f\"}]}");
    mpp_wf_check("json", mpp_wf_path("esc.json"), mpp_wf_path("esc.exp"));
    ASSERT_EQ(mpp_wf_write(MPP_WF_PSTATS, s, NULL, mpp_wf_path("esc.prof")), 0);
    mpp_wf_write_text(mpp_wf_path("esc.pexp"),
                 "{\"functions\": [[\"/x/q\\\"uote\\\\d.py\", 3, "
                 "\"tab\\there\\nnl\\u0001\\u007f\", 1, 1, 1000000, 1000000, "
                 "[], false], [\"/x/\\u00e9.py\", 1, "
                 "\"s\\udced\\udca0\\udc80|\\udcc0\\udcaf|\\udce2\\udc82\", "
                 "2, 2, "
                 "2000000, 2000000, [], false]]}");
    mpp_wf_check("pstats", mpp_wf_path("esc.prof"), mpp_wf_path("esc.pexp"));
    ASSERT_EQ(
        mpp_wf_write(MPP_WF_PSTATS_V2, s, NULL, mpp_wf_path("esc-v2.prof")),
        0);
    mpp_wf_check_x("pstats", mpp_wf_path("esc.prof"), mpp_wf_path("esc.pexp"),
              mpp_wf_path("esc-v2.prof"));
    ASSERT_EQ(mpp_wf_write(MPP_WF_TEXT, s, NULL, mpp_wf_path("esc.txt")), 0);
    size_t len;
    const char *txt = mpp_wf_slurp(mpp_wf_path("esc.txt"), &len);
    ASSERT(strstr(txt, "/x/q\"uote\\d.py:3(tab?here?nl?\?)\n"));
    ASSERT(strstr(txt, "(s\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"));
    ASSERT(strchr(txt, '\x01') == NULL);
    ASSERT_EQ(mpp_wf_write(MPP_WF_CALLGRIND, s, NULL, mpp_wf_path("esc.cg")),
              0);
    const char *cg = mpp_wf_slurp(mpp_wf_path("esc.cg"), &len);
    ASSERT(strstr(cg, "fn=(1) tab\there nl\x01\x7f\n"));
    mpp_session_destroy(&s);
}

/* ---- the writers' building blocks --------------------------------------- */
/* Decimal numbers as printf writes them, and the buffer across flushes. */
MPP_TEST(obuf)
{
    static const uint64_t u[] = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000,
                                 4294967295ULL, 4294967296ULL,
                                 9999999999999999999ULL,
                                 10000000000000000000ULL, UINT64_MAX};
    static const int64_t i[] = {0, -1, 1, -9, -10, 10, INT32_MIN, INT32_MAX,
                                INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char got[32], want[32];
    for (size_t k = 0; k < MPP_ARRAY_SIZE(u) + 1000; k++) {
        uint64_t v = k < MPP_ARRAY_SIZE(u) ? u[k] : mpp_wf_rand() >> (k % 64);
        *mpp_ob_fmt_u64(got, v) = '\0';
        snprintf(want, sizeof(want), "%" PRIu64, v);
        ASSERT_STREQ(got, want);
    }
    for (size_t k = 0; k < MPP_ARRAY_SIZE(i) + 1000; k++) {
        int64_t v =
            k < MPP_ARRAY_SIZE(i)
                ? i[k]
                : (int64_t)(mpp_wf_rand() >> (k % 64)) * (k % 2 ? -1 : 1);
        *mpp_ob_fmt_i64(got, v) = '\0';
        snprintf(want, sizeof(want), "%" PRId64, v);
        ASSERT_STREQ(got, want);
    }

    /* Several MB of mixed items, some larger than half the buffer, must
     * come out exactly as stdio writes them. */
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = open_memstream(&a, &na), *fb = open_memstream(&b, &nb);
    ASSERT(fa != NULL && fb != NULL);
    mpp_obuf_t ob;
    ASSERT_EQ(mpp_ob_init(&ob, fa), 0);
    size_t bigsize = MPP_OB_SIZE / 2 + 17;
    char *big = malloc(bigsize);
    ASSERT(big != NULL);
    for (size_t k = 0; k < bigsize; k++) {
        big[k] = (char)('a' + k % 26);
    }
    for (int k = 0; k < 200000; k++) {
        uint64_t v = mpp_wf_rand();
        switch (v % 7) {
        case 0:
            mpp_ob_u64(&ob, v >> 7);
            fprintf(fb, "%" PRIu64, v >> 7);
            break;
        case 1:
            mpp_ob_i64(&ob, -(int64_t)(v >> 9));
            fprintf(fb, "%" PRId64, -(int64_t)(v >> 9));
            break;
        case 2:
            mpp_ob_c(&ob, '\n');
            fputc('\n', fb);
            break;
        case 3:
            mpp_ob_str(&ob, "fl=(");
            fputs("fl=(", fb);
            break;
        case 4:
            if (k % 1000 == 4) {
                mpp_ob_put(&ob, big, bigsize);
                fwrite(big, 1, bigsize, fb);
            }
            break;
        case 5: {
            /* A reservation filled in part. */
            char *at = mpp_ob_room(&ob, 64);
            memcpy(at, "calls=", 6);
            ob.p = mpp_ob_fmt_u64(at + 6, v % 1000);
            fprintf(fb, "calls=%" PRIu64, v % 1000);
            break;
        }
        default:
            mpp_ob_put(&ob, big, v % 300);
            fwrite(big, 1, v % 300, fb);
            break;
        }
        if (k == 100000) {
            /* The FILE written directly between a flush and a put. */
            mpp_ob_flush(&ob);
            fputs("<direct>", fa);
            fputs("<direct>", fb);
        }
    }
    mpp_ob_fini(&ob);
    mpp_ob_fini(&ob); /* twice is harmless */
    ASSERT_EQ(fclose(fa), 0);
    ASSERT_EQ(fclose(fb), 0);
    ASSERT(na > 4 * MPP_OB_SIZE);
    ASSERT_EQ(na, nb);
    ASSERT(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    free(big);
}

static int
s_kv_ref_cmp(const void *a, const void *b)
{
    const mpp_kv_t *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->val < y->val ? -1 : x->val > y->val; /* val = first order */
}

/* The radix sort is a stable sort by key, whatever bytes the keys use. */
MPP_TEST(radix_sort)
{
    static const size_t sizes[] = {0, 1, 2, 63, 64, 65, 1000, 100000};
    static const int shifts[] = {0, 8, 20, 40, 56};
    for (size_t si = 0; si < MPP_ARRAY_SIZE(sizes); si++) {
        for (size_t hi = 0; hi < MPP_ARRAY_SIZE(shifts); hi++) {
            size_t n = sizes[si];
            mpp_kv_t *kv = malloc((n + 1) * sizeof(*kv));
            mpp_kv_t *tmp = malloc((n + 1) * sizeof(*tmp));
            mpp_kv_t *ref = malloc((n + 1) * sizeof(*ref));
            ASSERT(kv && tmp && ref);
            for (size_t k = 0; k < n; k++) {
                /* Few distinct keys in some runs, so that stability shows;
                 * some bytes constant in others. */
                uint64_t r = mpp_wf_rand();
                kv[k].key = hi % 2 ? (r % 37) << shifts[hi]
                                   : (r >> shifts[hi]) | 0x0000ff0000000000ULL;
                kv[k].val = k;
            }
            memcpy(ref, kv, n * sizeof(*kv));
            qsort(ref, n, sizeof(*ref), s_kv_ref_cmp);
            mpp_sort_kv(kv, tmp, n);
            for (size_t k = 0; k < n; k++) {
                ASSERT(kv[k].key == ref[k].key && kv[k].val == ref[k].val);
            }
            free(kv);
            free(tmp);
            free(ref);
        }
    }
    ASSERT_EQ(mpp_bit_width(0), 0);
    ASSERT_EQ(mpp_bit_width(1), 1);
    ASSERT_EQ(mpp_bit_width(5), 3);
    ASSERT_EQ(mpp_bit_width(UINT32_MAX), 32);
    ASSERT_EQ(mpp_bit_width(UINT64_MAX), 64);
}

/*  callgrind names over many files: file ids in name order whatever order
 *  the functions came in, names shared within a file marked with their
 *  line (three of them, and a name repeated in other files unmarked), in
 *  the merged file and in every part, as the consumers read them. */
MPP_TEST(callgrind_names)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *th[2] = {mpp_wf_thread(mpp_session_proc(s, 1, true), 1, "T"),
                           mpp_wf_thread(mpp_session_proc(s, 2, true), 1, "T")};
    char *exp = malloc(1 << 20);
    ASSERT(exp != NULL);
    size_t len = (size_t)snprintf(exp, 64, "{\"pids\": [1, 2], "
                                           "\"functions\": [");
    for (int i = 0; i < 1500; i++) {
        char file[32], name[32];
        int fileno = (int)((i * 7919) % 700); /* files interleaved */
        snprintf(file, sizeof(file), "/app/z%03d.py", fileno);
        /* In every file a function "run" at up to three lines; others
         * unique in their file. */
        int line = i % 3 == 0 ? 10 + i % 9 : 100 + i;
        snprintf(name, sizeof(name), i % 3 == 0 ? "run" : "f%d", i);
        int64_t before = (int64_t)s->nfuncs;
        int64_t f = mpp_session_intern(s, file, line, name);
        ASSERT(f >= 0);
        if (f < before) {
            continue; /* the same function again */
        }
        mpp_wf_stat(th[i % 2], (uint32_t)f, 1, 1, 1000 + i, 1000 + i);
        len += (size_t)snprintf(exp + len, 256,
                                "%s[\"%s\", %d, \"%s\", 1, 1, %d, %d, [], "
                                "false]",
                                f ? ", " : "", file, line, name, 1000 + i,
                                1000 + i);
    }
    snprintf(exp + len, 8, "]}");
    mpp_wf_write_text(mpp_wf_path("names.exp"), exp);
    free(exp);
    ASSERT_EQ(mpp_wf_write(MPP_WF_CALLGRIND, s, NULL, mpp_wf_path("names.cg")),
              0);
    mpp_wf_check("callgrind", mpp_wf_path("names.cg"),
                 mpp_wf_path("names.exp"));
    ASSERT_EQ(mpp_wf_write(MPP_WF_PARTS, s, NULL, mpp_wf_path("names.parts")),
              0);
    mpp_wf_check("parts", mpp_wf_path("names.parts"), mpp_wf_path("names.exp"));
    size_t n;
    const char *cg = mpp_wf_slurp(mpp_wf_path("names.cg"), &n);
    ASSERT(n < 65535); /* all of it read */
    ASSERT(strstr(cg, "fl=(1) /app/z000.py\n") != NULL);
    ASSERT(strstr(cg, "fl=(700) /app/z699.py\n") != NULL);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(marshal_bytes);
    MPP_RUN(marshal_refs);
    MPP_RUN(pstats_empty);
    MPP_RUN(pstats_consumer);
    MPP_RUN(callgrind_consumer);
    MPP_RUN(escaping);
    MPP_RUN(obuf);
    MPP_RUN(radix_sort);
    MPP_RUN(callgrind_names);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
