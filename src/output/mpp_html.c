/*  The HTML writer: report.html, one self-contained page that opens
 *  offline in any browser.  The page is the template html/report.html
 *  with html/report.css and html/report.js inline (embedded at build time
 *  by cmake/mpp_embed.cmake, so the page code has one source of truth in
 *  the repository) and the profile as one JSON document in a
 *  <script type="application/json" id="mpprof-data"> element:
 *
 *    {"report": the `report --json` document (every function), so that
 *               the verdict, the bars of "where the time went" and both
 *               tables show the very numbers report.txt prints;
 *     "model":  what the pictures need beyond it:
 *       {"wall_us", "cats": [category names, mpp_cat_t order],
 *        "funcs": [[file, line, name, cat], ...] (session ids; cat is
 *                 the catalog category the function starts, or -1),
 *        "procs": [{"pid", "ppid", "parent" (index, or -1), "name",
 *                   "start_us", "wall_us", "exit",
 *                   "threads": [{"tid", "name",
 *                                "spans": [cat, func, start_us, dur_us,
 *                                          bytes, ...]}],
 *                   "stats": [func, ncalls, tottime_us, cumtime_us, ...],
 *                   "edges": [caller, callee, ncalls, cumtime_us, ...]}],
 *        "spans_dropped": n}}
 *
 *  Processes are in the session's order, which is the order of the
 *  report's "processes".  Times are whole microseconds since the
 *  session's start: finer than a screen can show, and half the size of
 *  nanoseconds.
 *
 *  Names come from the profiled program, which may call a function
 *  "</script><script>...".  Inside a script element only "</script" ends
 *  the element (and "<!--" can change how the rest is read), so every '<'
 *  of the document is written as the JSON escape \u003c.  That is safe
 *  because '<' can only appear inside JSON strings, where the escape reads
 *  back as the same character.  The template itself holds no data.
 *
 *  Size: the page must stay usable with thousands of functions and 64
 *  processes.  Edges and stats that round to no time are left out (they
 *  cannot be drawn), and at most MPP_HTML_MAX_SPANS spans are kept, the
 *  longest ones; the number left out is "spans_dropped".
 */
#include "mpp_output.h"
#include "mpp_report_priv.h" /* mpp_rep_json_str: the one JSON escaper */

#include "mpp_html_assets.h" /* generated: mpp_html_page, _css, _js */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Whole microseconds from nanoseconds, rounded toward zero. */
static int64_t
s_us(int64_t ns)
{
    return ns / 1000;
}

/* ns since the session's start, saturated (times come from the wire). */
static int64_t
s_rel_us(const mpp_session_t *s, int64_t ns)
{
    return s_us(mpp_add_sat_i64(ns, s->start_ns == INT64_MIN ? 0
                                                             : -s->start_ns));
}

/* The index of the process that started process i: the process with its
 * ppid that started last before it, or -1. */
static ssize_t
s_parent(const mpp_session_t *s, size_t i)
{
    const mpp_proc_t *p = &s->procs[i];
    ssize_t best = -1;
    for (size_t k = 0; k < s->nprocs; k++) {
        const mpp_proc_t *q = &s->procs[k];
        if (k == i || q->pid != p->ppid || q->start_ns > p->start_ns) {
            continue;
        }
        if (best < 0 || q->start_ns >= s->procs[best].start_ns) {
            best = (ssize_t)k;
        }
    }
    return best;
}

static int
s_cmp_desc_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*  The shortest span that is kept: INT64_MIN when every span fits in the
 *  budget, else the duration of the budget's last span when ordered
 *  longest first (spans as long as it are all kept, so a few more than
 *  the budget may be).  Returns 0 or MPP_ENOMEM. */
static int
s_span_floor(const mpp_session_t *s, int64_t *floor_ns)
{
    size_t n = 0;
    *floor_ns = INT64_MIN;
    for (size_t i = 0; i < s->nprocs; i++) {
        for (size_t k = 0; k < s->procs[i].nthreads; k++) {
            n += s->procs[i].threads[k].nspans;
        }
    }
    if (n <= MPP_HTML_MAX_SPANS) {
        return 0;
    }
    int64_t *dur = malloc(n * sizeof(*dur));
    if (dur == NULL) {
        return MPP_ENOMEM;
    }
    size_t j = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        for (size_t k = 0; k < s->procs[i].nthreads; k++) {
            const mpp_thread_t *t = &s->procs[i].threads[k];
            for (size_t m = 0; m < t->nspans; m++) {
                dur[j++] = t->spans[m].dur_ns;
            }
        }
    }
    qsort(dur, n, sizeof(*dur), s_cmp_desc_i64);
    *floor_ns = dur[MPP_HTML_MAX_SPANS - 1];
    free(dur);
    return 0;
}

/* The spans of one thread kept under the floor; counts those left out. */
static void
s_spans(FILE *out, const mpp_session_t *s, const mpp_thread_t *t,
        int64_t floor_ns, uint64_t *dropped)
{
    bool first = true;
    fputs(", \"spans\": [", out);
    for (size_t i = 0; i < t->nspans; i++) {
        const mpp_span_t *sp = &t->spans[i];
        if (sp->dur_ns < floor_ns) {
            (*dropped)++;
            continue;
        }
        int cat = sp->cat < MPP_CAT_COUNT ? (int)sp->cat : -1;
        long long func = sp->func < s->nfuncs ? (long long)sp->func : -1;
        fprintf(out, "%s%d,%lld,%" PRId64 ",%" PRId64 ",%" PRIu64,
                first ? "" : ",", cat, func, s_rel_us(s, sp->start_ns),
                s_us(sp->dur_ns > 0 ? sp->dur_ns : 0), sp->bytes);
        first = false;
    }
    fputc(']', out);
}

/*  The process's functions and caller -> callee edges, merged over its
 *  threads (its view), in whole microseconds; rows that round to no time
 *  are left out, since a picture cannot show them and a page with
 *  thousands of functions in 64 processes would carry them 64 times. */
static int
s_tree(FILE *out, const mpp_session_t *s, size_t i)
{
    mpp_view_t *v = mpp_view_new(s, (ssize_t)i);
    if (v == NULL) {
        return MPP_ENOMEM;
    }
    bool first = true;
    fputs(", \"stats\": [", out);
    for (size_t f = 0; f < v->nfuncs; f++) {
        const mpp_cost_t *c = &v->func[f];
        if (c->ncalls == 0 && c->ct_ns < 1000) {
            continue;
        }
        fprintf(out, "%s%zu,%" PRIu64 ",%" PRId64 ",%" PRId64,
                first ? "" : ",", f, c->ncalls, s_us(c->tt_ns),
                s_us(c->ct_ns));
        first = false;
    }
    first = true;
    fputs("], \"edges\": [", out);
    for (size_t k = 0; k < v->nedges; k++) {
        const mpp_edge_t *e = &v->edges[k];
        if (e->cost.ct_ns < 1000) {
            continue;
        }
        fprintf(out, "%s%" PRIu32 ",%" PRIu32 ",%" PRIu64 ",%" PRId64,
                first ? "" : ",", e->caller, e->callee, e->cost.ncalls,
                s_us(e->cost.ct_ns));
        first = false;
    }
    fputc(']', out);
    mpp_view_destroy(&v);
    return 0;
}

static int
s_proc(FILE *out, const mpp_session_t *s, size_t i, int64_t floor_ns,
       uint64_t *dropped)
{
    const mpp_proc_t *p = &s->procs[i];
    fprintf(out, "{\"pid\": %" PRId64 ", \"ppid\": %" PRId64
            ", \"parent\": %zd, \"name\": ", p->pid, p->ppid, s_parent(s, i));
    mpp_rep_json_str(out, p->name);
    fprintf(out, ", \"start_us\": %" PRId64 ", \"wall_us\": %" PRId64
            ", \"exit\": ", s_rel_us(s, p->start_ns),
            s_us(p->wall_ns > 0 ? p->wall_ns : 0));
    char exit[32];
    mpp_rep_exit_str(p, exit, sizeof(exit));
    mpp_rep_json_str(out, exit);
    fputs(", \"threads\": [", out);
    for (size_t k = 0; k < p->nthreads; k++) {
        const mpp_thread_t *t = &p->threads[k];
        fprintf(out, "%s{\"tid\": %" PRIu32 ", \"name\": ", k ? ", " : "",
                MPP_TID_KERNEL(t->tid));
        mpp_rep_json_str(out, t->name);
        s_spans(out, s, t, floor_ns, dropped);
        fputc('}', out);
    }
    fputc(']', out);
    int rc = s_tree(out, s, i);
    fputc('}', out);
    return rc;
}

/* The category a function starts, from the catalog, or -1. */
static int
s_func_cat(const mpp_func_t *f)
{
    const mpp_catalog_entry_t *e =
        mpp_catalog_find(f->file ? f->file : "", f->name ? f->name : "");
    return e != NULL && e->cat >= 0 && e->cat < MPP_CAT_COUNT ? e->cat : -1;
}

static int
s_model(FILE *out, const mpp_session_t *s)
{
    int64_t floor_ns;
    uint64_t dropped = 0;
    int rc = s_span_floor(s, &floor_ns);
    if (rc != 0) {
        return rc;
    }
    fprintf(out, "{\"wall_us\": %" PRId64 ", \"cats\": [",
            s_us(s->wall_ns > 0 ? s->wall_ns : 0));
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, "%s\"%s\"", c ? ", " : "", mpp_catalog_cat(c)->name);
    }
    fputs("],\n \"funcs\": [", out);
    for (size_t f = 0; f < s->nfuncs; f++) {
        const mpp_func_t *fn = &s->funcs[f];
        fputs(f ? ",\n  [" : "\n  [", out);
        mpp_rep_json_str(out, fn->file);
        fprintf(out, ", %" PRId32 ", ", fn->line);
        mpp_rep_json_str(out, fn->name);
        fprintf(out, ", %d]", s_func_cat(fn));
    }
    fputs("],\n \"procs\": [", out);
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        rc = s_proc(out, s, i, floor_ns, &dropped);
    }
    fprintf(out, "],\n \"spans_dropped\": %" PRIu64 "}", dropped);
    return rc;
}

/*  The data element's content: the document, with every '<' escaped (see
 *  the top of this file).  Built in memory first, because a writer must
 *  fail before it writes half a page. */
static int
s_data(FILE *out, const mpp_session_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL) {
        return MPP_ENOMEM;
    }
    mpp_report_opts_t ro = {.sort = MPP_SORT_CUMULATIVE, .proc = -1};
    fputs("{\"report\": ", mem);
    int rc = mpp_report_json(s, &ro, mem);
    if (rc == 0) {
        fputs(",\n\"model\": ", mem);
        rc = s_model(mem, s);
        fputs("}\n", mem);
    }
    if (fclose(mem) != 0 && rc == 0) {
        rc = MPP_ENOMEM;
    }
    if (rc == 0 && buf == NULL) {
        rc = MPP_ENOMEM;
    }
    for (size_t i = 0, from = 0; rc == 0 && i <= len; i++) {
        if (i == len || buf[i] == '<') {
            fwrite(buf + from, 1, i - from, out);
            if (i < len) {
                fputs("\\u003c", out);
            }
            from = i + 1;
        }
    }
    free(buf);
    return rc;
}

/*  Writes the template, replacing each marker line <!--mpprof:NAME--> by
 *  what it names: css, js or data.  The markers are the template's own,
 *  so an unknown one is a bug in the repository: MPP_EINVAL. */
int
mpp_html_write(const mpp_session_t *s, FILE *out)
{
    static const char mark[] = "<!--mpprof:";
    if (s == NULL || out == NULL) {
        return MPP_EINVAL;
    }
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
        if (n == 3 && strncmp(name, "css", n) == 0) {
            fwrite(mpp_html_css, 1, sizeof(mpp_html_css) - 1, out);
        }
        else if (n == 2 && strncmp(name, "js", n) == 0) {
            fwrite(mpp_html_js, 1, sizeof(mpp_html_js) - 1, out);
        }
        else if (n == 4 && strncmp(name, "data", n) == 0) {
            rc = s_data(out, s);
        }
        else {
            rc = MPP_EINVAL;
        }
        at = end + 3;
    }
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}
