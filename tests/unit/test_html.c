/*  report.html (mpp_html.c) on sessions built by hand.  The page is
 *  checked by check_writers.py html, which reads it as a browser's parser
 *  does (html.parser: script and style text ends at the first "</script"
 *  or "</style"), so a name that broke out of the data element would show
 *  as a script element of its own; the data element must be JSON whose
 *  report is exactly `report --json`'s.  That the page renders is
 *  tests/integration/test_html.py's part (headless Chromium).
 */
#include "writers_fixture.h"

#include <errno.h>

#define S_T0 1700000000000000000LL
#define S_EVIL "</script><script>alert(1)</script>"

static void
s_span(mpp_thread_t *t, mpp_cat_t cat, uint32_t func, int64_t start_ns,
       int64_t dur_ns, uint64_t bytes)
{
    mpp_span_t sp = {
        .cat = cat,
        .func = func,
        .start_ns = S_T0 + start_ns,
        .dur_ns = dur_ns,
        .bytes = bytes,
    };
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

/* The whole file, however large (mpp_wf_slurp stops at 64 KiB). */
static char *
s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (cap - n < 65536) {
            cap = cap ? 2 * cap : 1 << 17;
            buf = realloc(buf, cap + 1);
            ASSERT(buf != NULL);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void
s_write(const mpp_session_t *s, const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_html_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);
}

/* report --json of every process, as the page holds it. */
static void
s_write_json(const mpp_session_t *s, const char *path)
{
    mpp_report_opts_t ro = {.sort = MPP_SORT_CUMULATIVE,
                            .limit = MPP_HTML_MAX_FUNCS, .proc = -1};
    ASSERT_EQ(mpp_wf_write(MPP_WF_JSON, s, &ro, path), 0);
}

/*  A parent whose function, file, process, thread and command are named
 *  to end the data element ("</script>", "<!--"), with a pickling span in
 *  that function and a lock wait; a forked worker with an unpickling span
 *  and a start-up span of no known function. */
static mpp_session_t *
s_hostile(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    s->start_ns = S_T0;
    s->wall_ns = 100 * MS;
    char *cmd[] = {"x.py", "</script><!--", "</SCRIPT >"};
    ASSERT_EQ(mpp_session_set_command(s, cmd, 3), 0);
    uint32_t mod = mpp_wf_fn(s, "/app/<!--main.py", 1, "<module>");
    uint32_t evil = mpp_wf_fn(s, "/app/</script>.py", 7, S_EVIL);
    uint32_t acq = mpp_wf_fn(s, "~", 0, "<method 'acquire' of lock>");
    uint32_t loads = mpp_wf_fn(s, "/py/reduction.py", 60, "loads");

    mpp_proc_t *p = mpp_wf_proc(s, 100, 1, "</script>Main", "main", 90 * MS,
                                80 * MS, MPP_EXIT_OK, 0);
    p->start_ns = S_T0;
    mpp_thread_t *t = mpp_wf_thread(p, 100, "<b>MainThread</b>");
    mpp_wf_stat(t, mod, 1, 1, 10 * MS, 90 * MS);
    mpp_wf_stat(t, evil, 2, 2, 30 * MS, 40 * MS);
    mpp_wf_stat(t, acq, 1, 1, 2 * MS, 2 * MS);
    mpp_wf_edge(t, mod, evil, 2, 2, 30 * MS, 40 * MS);
    mpp_wf_edge(t, mod, acq, 1, 1, 2 * MS, 2 * MS);
    s_span(t, MPP_CAT_PICKLE, evil, 20 * MS, 3 * MS, 1000);
    s_span(t, MPP_CAT_LOCK_WAIT, acq, 30 * MS, 2 * MS, 0);

    mpp_proc_t *w = mpp_wf_proc(s, 200, 100, "ForkPoolWorker-1", "fork",
                                50 * MS, 40 * MS, MPP_EXIT_SIGNAL, 9);
    w->start_ns = S_T0 + 5 * MS;
    t = mpp_wf_thread(w, 200, "MainThread");
    mpp_wf_stat(t, loads, 1, 1, 5 * MS, 5 * MS);
    s_span(t, MPP_CAT_UNPICKLE, loads, 40 * MS, 5 * MS, 3000);
    s_span(t, MPP_CAT_STARTUP, UINT32_MAX, 5 * MS, 7 * MS, 0);
    return s;
}

MPP_TEST(html_hostile_names)
{
    mpp_session_t *s = s_hostile();
    const char *page = mpp_wf_path("hostile.html");
    const char *json = mpp_wf_path("hostile.json");
    s_write(s, page);
    s_write_json(s, json);
    mpp_wf_write_text(
        mpp_wf_path("hostile.exp"),
        "{\"names\": [\"" S_EVIL "\", \"<module>\", \"loads\"],"
        " \"report\": {\"command\": [\"x.py\", \"</script><!--\","
        "                          \"</SCRIPT >\"],"
        "             \"processes\": [{\"name\": \"</script>Main\"},"
        "                            {\"name\": \"ForkPoolWorker-1\","
        "                             \"exit\": \"signal:9\"}]},"
        " \"spans_us\": {\"pickle\": 3000, \"lock_wait\": 2000,"
        "              \"unpickle\": 5000, \"startup\": 7000},"
        " \"spans_kept\": 4, \"spans_dropped\": 0, \"shortest_us\": 2000,"
        " \"roots\": {\"100\": {\"<module>\": 90000},"
        "             \"200\": {\"loads\": 5000}},"
        " \"rows_kept\": 8, \"rows_dropped\": 0}");
    mpp_wf_check_x("html", page, mpp_wf_path("hostile.exp"), json);

    /* The names are there, escaped, and nowhere as markup. */
    size_t len;
    char *text = s_read(page, &len);
    ASSERT(strstr(text, "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>")
           != NULL);
    ASSERT(strstr(text, "alert(1)</script>") == NULL);
    ASSERT(strstr(text, "\\u003c!--main.py") != NULL);
    ASSERT(strstr(text, "\\u003c/SCRIPT >") != NULL);
    free(text);
    mpp_session_destroy(&s);
}

/* The main fixture (recursion, a lost process, a builtin called more
 * than 2**31 times, invalid UTF-8): the page's report is report --json's,
 * the model consistent with it. */
MPP_TEST(html_fixture)
{
    mpp_session_t *s = mpp_wf_build();
    const char *page = mpp_wf_path("fixture.html");
    const char *json = mpp_wf_path("fixture.json");
    s_write(s, page);
    s_write_json(s, json);
    /* Process 100's two threads both call work -> __init__: one edge of
     * 50 + 5 ms; the recursive fact -> fact stays an edge of its own. */
    mpp_wf_write_text(mpp_wf_path("fixture.exp"),
                      "{\"names\": [\"fact\", \"work\", \"_bootstrap\"],"
                      " \"edges\": {\"100\": {\"<module>>fact\": 500000,"
                      "                       \"fact>fact\": 400000,"
                      "                       \"<module>><method 'acquire' of"
                      " '_thread.lock' objects>\": 200000,"
                      "                       \"<module>>work\": 200000,"
                      "                       \"work>__init__\": 55000,"
                      "                       \"bad\\ufffd\\ufffdname>work\":"
                      " 25000}}}");
    mpp_wf_check_x("html", page, mpp_wf_path("fixture.exp"), json);
    mpp_session_destroy(&s);
}

/*  More spans than a page carries: the longest MPP_HTML_MAX_SPANS are
 *  kept and the rest counted.  Durations are all different (1, 2, ... us),
 *  so which are kept is known: the shortest kept is the one of rank
 *  MPP_HTML_MAX_SPANS from the longest. */
MPP_TEST(html_span_budget)
{
    const size_t extra = 7, n = MPP_HTML_MAX_SPANS + extra;
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    s->start_ns = S_T0;
    s->wall_ns = 1000 * MS;
    uint32_t f = mpp_wf_fn(s, "/app/a.py", 1, "dumps");
    mpp_proc_t *p = mpp_wf_proc(s, 10, 1, "MainProcess", "main", 1000 * MS,
                                900 * MS, MPP_EXIT_OK, 0);
    p->start_ns = S_T0;
    mpp_thread_t *t = mpp_wf_thread(p, 10, "MainThread");
    mpp_wf_stat(t, f, n, n, 10 * MS, 10 * MS);
    int64_t total_us = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t us = (int64_t)(n - i); /* the longest first, to mix */
        s_span(t, MPP_CAT_PICKLE, f, (int64_t)i * 1000, us * 1000, 0);
        if (i < MPP_HTML_MAX_SPANS) {
            total_us += us;
        }
    }
    const char *page = mpp_wf_path("budget.html");
    s_write(s, page);
    char exp[256];
    snprintf(exp, sizeof(exp),
             "{\"spans_us\": {\"pickle\": %" PRId64 "}, \"spans_kept\": %u,"
             " \"spans_dropped\": %zu, \"shortest_us\": %zu}",
             total_us, MPP_HTML_MAX_SPANS, extra, extra + 1);
    mpp_wf_write_text(mpp_wf_path("budget.exp"), exp);
    mpp_wf_check("html", page, mpp_wf_path("budget.exp"));
    mpp_session_destroy(&s);
}

/*  More call-graph rows than a page carries: the MPP_HTML_MAX_ROWS with
 *  the most time are kept, the rest counted; rows under a microsecond are
 *  never kept nor counted.  Here functions are called from nowhere, for
 *  1, 2, ... us each, so each has a stat and a root row of its time: the
 *  rows kept are the two of each of the longest MPP_HTML_MAX_ROWS / 2. */
MPP_TEST(html_row_budget)
{
    const size_t extra = 5, n = MPP_HTML_MAX_ROWS / 2 + extra;
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    s->start_ns = S_T0;
    s->wall_ns = 1000 * MS;
    mpp_proc_t *p = mpp_wf_proc(s, 10, 1, "MainProcess", "main", 1000 * MS,
                                900 * MS, MPP_EXIT_OK, 0);
    mpp_thread_t *t = mpp_wf_thread(p, 10, "MainThread");
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%zu", i);
        uint32_t f = mpp_wf_fn(s, "/app/a.py", (int32_t)i + 1, name);
        int64_t ns = (int64_t)(i + 1) * 1000;
        mpp_wf_stat(t, f, 1, 1, ns, ns);
    }
    uint32_t tiny = mpp_wf_fn(s, "/app/a.py", 0, "tiny");
    mpp_wf_stat(t, tiny, 1, 1, 999, 999);
    const char *page = mpp_wf_path("rows.html");
    s_write(s, page);
    char exp[160];
    snprintf(exp, sizeof(exp),
             "{\"rows_kept\": %u, \"rows_dropped\": %zu}",
             MPP_HTML_MAX_ROWS, 2 * extra);
    mpp_wf_write_text(mpp_wf_path("rows.exp"), exp);
    mpp_wf_check("html", page, mpp_wf_path("rows.exp"));
    size_t len;
    char *text = s_read(page, &len);
    /* The least kept row is the one of rank MPP_HTML_MAX_ROWS. */
    char want[64];
    snprintf(want, sizeof(want), ",1,%zu,%zu", extra + 1, extra + 1);
    ASSERT(strstr(text, want) != NULL);
    snprintf(want, sizeof(want), ",1,%zu,%zu,", extra, extra);
    ASSERT(strstr(text, want) == NULL);
    ASSERT(strstr(text, "\"tiny\"") == NULL);
    free(text);
    mpp_session_destroy(&s);
}

/*  compare --html: the parallel run's page with the compare document
 *  (its numbers checked as compare --json's are) and the baseline's
 *  report; the hostile session is the parallel run, its names stay
 *  escaped. */
MPP_TEST(html_compare)
{
    mpp_session_t *base = mpp_wf_build();
    mpp_session_t *par = s_hostile();
    base->start_ns = S_T0;
    const char *page = mpp_wf_path("compare.html");
    FILE *f = fopen(page, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_html_write_compare(base, par, f), 0);
    ASSERT_EQ(fclose(f), 0);
    mpp_wf_write_text(
        mpp_wf_path("compare.exp"),
        "{\"names\": [\"" S_EVIL "\"],"
        " \"compare\": {\"baseline\": {\"processes\": 3},"
        "              \"parallel\": {\"processes\": 2, \"workers\": 1}},"
        " \"baseline\": {\"command\": [\"script.py\", \"--n\", \"4\"]}}");
    mpp_wf_check("html", page, mpp_wf_path("compare.exp"));
    ASSERT_EQ(mpp_html_write_compare(NULL, par, stdout), MPP_EINVAL);
    ASSERT_EQ(mpp_html_write_compare(base, par, NULL), MPP_EINVAL);
    /* A run that never finished has no speedup: no page. */
    par->wall_ns = 0;
    f = fopen(mpp_wf_path("nowall.html"), "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_html_write_compare(base, par, f), MPP_EINVAL);
    fclose(f);
    mpp_session_destroy(&base);
    mpp_session_destroy(&par);
}

MPP_TEST(html_empty)
{
    /* A session with no process is still a page. */
    mpp_session_t *s = mpp_session_new();
    const char *page = mpp_wf_path("empty.html");
    s_write(s, page);
    mpp_wf_write_text(mpp_wf_path("empty.exp"),
                      "{\"report\": {\"processes\": []}}");
    mpp_wf_check("html", page, mpp_wf_path("empty.exp"));
    ASSERT_EQ(mpp_html_write(NULL, stdout), MPP_EINVAL);
    ASSERT_EQ(mpp_html_write(s, NULL), MPP_EINVAL);
    mpp_session_destroy(&s);
}

MPP_TEST(html_write_error)
{
    /* A stream that fails says so rather than leaving half a page. */
    mpp_session_t *s = s_hostile();
    FILE *f = fopen("/dev/full", "wb");
    if (f == NULL) {
        MPP_SKIP("no /dev/full");
    }
    setvbuf(f, NULL, _IONBF, 0);
    ASSERT_EQ(mpp_html_write(s, f), -EIO);
    fclose(f);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(html_hostile_names);
    MPP_RUN(html_fixture);
    MPP_RUN(html_span_budget);
    MPP_RUN(html_row_budget);
    MPP_RUN(html_compare);
    MPP_RUN(html_empty);
    MPP_RUN(html_write_error);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
