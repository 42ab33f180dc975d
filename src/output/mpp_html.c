/*  The HTML writer: report.html, one self-contained page that opens
 *  offline in any browser.  The page is the template html/report.html
 *  with html/report.css and its JS (util, timeline, flame and report.js)
 *  inline (embedded at build time by cmake/mpp_embed.cmake, so the page
 *  code has one source of truth in the repository) and the profile as
 *  one JSON document in a <script type="application/json"
 *  id="mpprof-data"> element:
 *
 *    {"report": the `report --json` document with its first
 *               MPP_HTML_MAX_FUNCS functions by cumulative time, so that
 *               the verdict, the bars of "where the time went" and both
 *               tables show the very numbers report.txt prints;
 *     "model":  what the pictures need beyond it:
 *       {"wall_us", "cats": [category names, mpp_cat_t order],
 *        "procs": [{"pid", "ppid", "parent" (index, or -1), "name",
 *                   "start_us", "wall_us", "exit",
 *                   "threads": [{"tid", "name",
 *                                "spans": [cat, func, start_us, dur_us,
 *                                          bytes, ...]}],
 *                   "stats": [func, ncalls, tottime_us, cumtime_us, ...],
 *                   "edges": [caller, callee, cumtime_us, ...],
 *                   "roots": [func, us, ...]}],
 *        "funcs": [[file, line, name, cat], ...] (cat: the catalog
 *                 category the function starts, or -1),
 *        "functions_limit", "spans_dropped", "rows_dropped"}}
 *
 *  The page of `mpprof compare BASELINE PARALLEL --html` is the parallel
 *  run's, with two more keys: "compare", the `compare --json` document,
 *  and "baseline": {"report": the baseline's report}; the page then
 *  shows the two runs side by side and the lost time as a picture.
 *
 *  Functions are numbered in the model by their first use (only those
 *  the model uses are listed).  Processes are in the session's order,
 *  which is the order of the report's "processes".  Times are whole
 *  microseconds since the session's start: finer than a screen shows,
 *  and half the size of nanoseconds.  A process's roots are the
 *  functions whose cumulative time its caller -> callee edges do not
 *  explain (a thread's first frame, a module), with the time left: the
 *  tops of its flame graph, found here from every edge, before any is
 *  left out.
 *
 *  Names come from the profiled program, which may call a function
 *  "</script><script>...".  Inside a script element only "</script" ends
 *  the element (and "<!--" can change how the rest is read), so every '<'
 *  of the document is written as the JSON escape \u003c.  That is safe
 *  because '<' can only appear inside JSON strings, where the escape reads
 *  back as the same character.  The template itself holds no data.
 *
 *  Size: the page must stay usable with thousands of functions and 64
 *  processes.  Rows that round to no time are left out (they cannot be
 *  drawn); of the rest, at most MPP_HTML_MAX_ROWS stats, edges and roots
 *  are kept, the ones with the most time, and at most MPP_HTML_MAX_SPANS
 *  spans, the longest; "rows_dropped" and "spans_dropped" count the
 *  others.  A frame they would have drawn is thinner than a pixel unless
 *  the graph is zoomed far into a small part.
 */
#include "mpp_output.h"
#include "mpp_output_priv.h"
#include "mpp_report_priv.h"

#include "mpp_html_assets.h" /* generated: mpp_html_page, _css, _js_* */

#include <errno.h>
#include <string.h>
/*  The data element's content goes through this stream, which writes
 *  every '<' as \u003c (see the top of this file) on its way to the
 *  page: the document is never held in memory whole, and no writer of it
 *  needs to know about the escape. */
static ssize_t
s_lt_write(void *cookie, const char *buf, size_t n)
{
    FILE *out = cookie;
    size_t from = 0;
    const char *lt;
    while ((lt = memchr(buf + from, '<', n - from)) != NULL) {
        size_t i = (size_t)(lt - buf);
        if (fwrite(buf + from, 1, i - from, out) != i - from ||
            fputs("\\u003c", out) == EOF) {
            return 0;
        }
        from = i + 1;
    }
    /* A short count is how stdio learns of a failed write. */
    return fwrite(buf + from, 1, n - from, out) == n - from ? (ssize_t)n : 0;
}

/*  The document: the run's report and model, and for `compare` the
 *  `compare --json` document and the baseline's report beside them. */
static int
s_data(FILE *out, const mpp_session_t *s, const mpp_session_t *base)
{
    cookie_io_functions_t io = {.write = s_lt_write};
    FILE *doc = fopencookie(out, "w", io);
    if (doc == NULL) {
        return MPP_ENOMEM;
    }
    mpp_report_opts_t ro = {.sort = MPP_SORT_CUMULATIVE,
                            .limit = MPP_HTML_MAX_FUNCS, .proc = -1};
    fputs("{\"report\": ", doc);
    int rc = mpp_report_json(s, &ro, doc);
    if (rc == 0) {
        fputs(",\n\"model\": ", doc);
        rc = mpp_html_model(doc, s);
    }
    if (rc == 0 && base != NULL) {
        fputs(",\n\"compare\": ", doc);
        rc = mpp_compare_json(base, s, doc);
    }
    if (rc == 0 && base != NULL) {
        fputs(",\n\"baseline\": {\"report\": ", doc);
        rc = mpp_report_json(base, &ro, doc);
        fputc('}', doc);
    }
    fputs("}\n", doc);
    if (fflush(doc) != 0 && rc == 0) {
        rc = -EIO;
    }
    if (ferror(doc) && rc == 0) {
        rc = -EIO;
    }
    fclose(doc);
    return rc;
}

/* The page code the template's markers name, as embedded. */
static const struct {
    const char *name;
    const char *text;
    size_t len;
} s_assets[] = {
#define S_ASSET(name, array) {name, array, sizeof(array) - 1}
    S_ASSET("css", mpp_html_css),
    S_ASSET("js_util", mpp_html_js_util),
    S_ASSET("js_timeline", mpp_html_js_timeline),
    S_ASSET("js_flame", mpp_html_js_flame),
    S_ASSET("js_report", mpp_html_js_report),
#undef S_ASSET
};

/* Writes the asset named by the n characters at `name`; MPP_EINVAL for
 * a name the template should not hold. */
static int
s_asset(FILE *out, const char *name, size_t n)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_assets); i++) {
        if (strlen(s_assets[i].name) == n &&
            strncmp(s_assets[i].name, name, n) == 0) {
            fwrite(s_assets[i].text, 1, s_assets[i].len, out);
            return 0;
        }
    }
    return MPP_EINVAL;
}

/*  Writes the template, replacing each marker line <!--mpprof:NAME--> by
 *  what it names: an asset or the data.  The markers are the template's own,
 *  so an unknown one is a bug in the repository: MPP_EINVAL. */
static int
s_page(const mpp_session_t *s, const mpp_session_t *base, FILE *out)
{
    static const char mark[] = "<!--mpprof:";
    const char *at = mpp_html_page;
    int rc = 0;
    while (rc == 0 && *at != '\0') {
        const char *m = strstr(at, mark);
        if (m == NULL) {
            fputs(at, out);
            break;
        }
        fwrite(at, 1, (size_t)(m - at), out);
        const char *name = m + sizeof(mark) - 1;
        const char *end = strstr(name, "-->");
        if (end == NULL) {
            return MPP_EINVAL;
        }
        size_t n = (size_t)(end - name);
        if (n == 4 && strncmp(name, "data", n) == 0) {
            rc = s_data(out, s, base);
        }
        else {
            rc = s_asset(out, name, n);
        }
        at = end + 3;
    }
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}

int
mpp_html_write(const mpp_session_t *s, FILE *out)
{
    if (s == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    return s_page(s, NULL, out);
}

int
mpp_html_write_compare(const mpp_session_t *base, const mpp_session_t *par,
                       FILE *out)
{
    if (base == NULL || par == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    return s_page(par, base, out);
}
