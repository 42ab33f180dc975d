/*  The report: a text summary for people (printed at the end of `run` and
 *  saved as report.txt) and the `report --json` document whose keys
 *  design.md fixes.  Both read a view (all processes, or the one chosen
 *  with opts->proc) and share the function ranking below.
 */
#include "mpp_output.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define S_TEXT_LIMIT 30 /* function rows when opts->limit is 0 */

/* ---- shared helpers ---------------------------------------------------- */

/* One function row of the report; qsort needs everything in the row. */
typedef struct {
    const mpp_func_t *fn;
    mpp_cost_t cost;
    uint32_t nprocs;
} s_row_t;

/* Ties fall back to (file, line, name) so the order is deterministic. */
static int
s_by_key(const s_row_t *x, const s_row_t *y)
{
    int c = strcmp(x->fn->file, y->fn->file);
    if (c != 0) {
        return c;
    }
    if (x->fn->line != y->fn->line) {
        return x->fn->line < y->fn->line ? -1 : 1;
    }
    return strcmp(x->fn->name, y->fn->name);
}

#define S_DESC(a, b)                                                          \
    do {                                                                      \
        if ((a) != (b)) {                                                     \
            return (a) > (b) ? -1 : 1;                                        \
        }                                                                     \
    } while (0)

static int
s_by_cumulative(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
    S_DESC(x->cost.tt_ns, y->cost.tt_ns);
    return s_by_key(x, y);
}

static int
s_by_tottime(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    S_DESC(x->cost.tt_ns, y->cost.tt_ns);
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
    return s_by_key(x, y);
}

static int
s_by_calls(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    S_DESC(x->cost.ncalls, y->cost.ncalls);
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
    return s_by_key(x, y);
}

/*  The functions the view saw called, ranked by `sort`.  Returns NULL on
 *  allocation failure; *nrows may be 0. */
static s_row_t *
s_rows(const mpp_session_t *s, const mpp_view_t *v, mpp_sort_t sort,
       size_t *nrows)
{
    size_t n = v->nfuncs < s->nfuncs ? v->nfuncs : s->nfuncs, k = 0;
    s_row_t *rows = malloc((n ? n : 1) * sizeof(*rows));
    if (rows == NULL) {
        return NULL;
    }
    for (size_t f = 0; f < n; f++) {
        if (v->func[f].ncalls > 0) {
            rows[k].fn = &s->funcs[f];
            rows[k].cost = v->func[f];
            rows[k].nprocs = v->nprocs[f];
            k++;
        }
    }
    qsort(rows, k, sizeof(*rows),
          sort == MPP_SORT_TOTTIME ? s_by_tottime
          : sort == MPP_SORT_CALLS ? s_by_calls
                                   : s_by_cumulative);
    *nrows = k;
    return rows;
}

/* "ok", "exit:N", "signal:N" or "lost"; no BYE at all counts as lost. */
static void
s_exit_str(const mpp_proc_t *p, char *buf, size_t size)
{
    switch (p->exit_kind) {
    case MPP_EXIT_OK:
        snprintf(buf, size, "ok");
        break;
    case MPP_EXIT_CODE:
        snprintf(buf, size, "exit:%" PRId32, p->exit_code);
        break;
    case MPP_EXIT_SIGNAL:
        snprintf(buf, size, "signal:%" PRId32, p->exit_code);
        break;
    default:
        snprintf(buf, size, "lost");
        break;
    }
}

static bool
s_proc_lost(const mpp_proc_t *p)
{
    return p->exit_kind == MPP_EXIT_LOST || p->exit_kind == MPP_EXIT_RUNNING;
}

static uint64_t
s_thread_calls(const mpp_thread_t *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->nstats; i++) {
        n += t->stats[i].cost.ncalls;
    }
    return n;
}

/* The session's Python version, else the first one a process reported. */
static const char *
s_python(const mpp_session_t *s)
{
    if (s->python != NULL) {
        return s->python;
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].python != NULL) {
            return s->procs[i].python;
        }
    }
    return NULL;
}

/* ---- text -------------------------------------------------------------- */

/*  Prints untrusted text (names come from the profiled program): invalid
 *  UTF-8 becomes U+FFFD and control characters '?', so a name can neither
 *  garble the terminal nor differ from what pstats shows. */
static void
s_txt_n(FILE *out, const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    bool valid;
    for (size_t i = 0, k; i < n; i += k) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (!valid) {
            fputs("\xef\xbf\xbd", out);
        }
        else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
            fputc('?', out);
        }
        else {
            fwrite(p + i, 1, k, out);
        }
    }
}

static void
s_txt(FILE *out, const char *text)
{
    text = text ? text : "?";
    s_txt_n(out, text, strlen(text));
}

/* Left-aligned text in a column of `width` bytes (at least). */
static void
s_txt_col(FILE *out, const char *text, int width)
{
    const char *t = text ? text : "?";
    s_txt(out, t);
    for (int i = (int)strlen(t); i < width; i++) {
        fputc(' ', out);
    }
}

static double
s_sec(int64_t ns)
{
    return (double)ns / 1e9;
}

/* pstats.func_std_string: builtins ("~", 0) as {name}, else file:line(f). */
static void
s_txt_func(FILE *out, const mpp_func_t *f)
{
    size_t n = strlen(f->name);
    if (strcmp(f->file, "~") == 0 && f->line == 0) {
        if (n >= 2 && f->name[0] == '<' && f->name[n - 1] == '>') {
            fputc('{', out);
            s_txt_n(out, f->name + 1, n - 2);
            fputc('}', out);
        }
        else {
            s_txt(out, f->name);
        }
        return;
    }
    s_txt(out, f->file);
    fprintf(out, ":%" PRId32 "(", f->line);
    s_txt(out, f->name);
    fputc(')', out);
}

static void
s_txt_header(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    uint64_t pcalls = 0;
    for (size_t f = 0; f < v->nfuncs; f++) {
        pcalls += v->func[f].pcalls;
    }
    fprintf(out, "mpprof %s:", s->mpprof_version ? s->mpprof_version
                                                 : MPPROF_VERSION_STRING);
    for (size_t i = 0; i < s->ncommand; i++) {
        fputc(' ', out);
        s_txt(out, s->command[i]);
    }
    fputs("\n  python ", out);
    s_txt(out, s_python(s) ? s_python(s) : "unknown");
    fprintf(out, ", wall %.3f s, exit status %" PRId32 "\n",
            s_sec(s->wall_ns), s->exit_status);
    fprintf(out,
            "  %zu process%s, %" PRIu64 " function calls (%" PRIu64
            " primitive calls)\n",
            s->nprocs, s->nprocs == 1 ? "" : "es", v->total_calls, pcalls);
}

static void
s_txt_categories(const mpp_session_t *s, const mpp_view_t *v, ssize_t proc,
                 FILE *out)
{
    int64_t wall = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc < 0 || (size_t)proc == i) {
            wall += s->procs[i].wall_ns > 0 ? s->procs[i].wall_ns : 0;
        }
    }
    fprintf(out,
            "\nWhere the time went (%s, %% of %.3f s summed process "
            "wall time)\n",
            proc < 0 ? "all processes" : "this process", s_sec(wall));
    fprintf(out, "  %-12s %10s %7s %10s %12s\n", "category", "seconds", "%",
            "count", "bytes");
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        const mpp_catval_t *cv = &v->cat[c];
        double pct = wall > 0 ? 100.0 * (double)cv->ns / (double)wall : 0;
        fprintf(out, "  %-12s %10.3f %6.1f%% %10" PRIu64 " %12" PRIu64 "\n",
                mpp_cat_name((mpp_cat_t)c), s_sec((int64_t)cv->ns), pct,
                cv->count, cv->bytes);
    }
}

static void
s_txt_processes(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    fprintf(out, "\nProcesses\n%8s %8s  %-20s %-10s %9s %9s %12s %7s  %s\n",
            "pid", "ppid", "name", "start", "wall s", "cpu s", "calls",
            "threads", "exit");
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        char exit[32];
        s_exit_str(p, exit, sizeof(exit));
        fprintf(out, "%8" PRId64 " %8" PRId64 "  ", p->pid, p->ppid);
        s_txt_col(out, p->name, 20);
        fputc(' ', out);
        s_txt_col(out, p->start_method, 10);
        fprintf(out, " %9.3f %9.3f %12" PRIu64 " %7zu  %s\n",
                s_sec(p->wall_ns), s_sec(p->cpu_ns), mpp_proc_calls(p),
                p->nthreads, exit);
    }
}

static const char *
s_sort_name(mpp_sort_t sort)
{
    return sort == MPP_SORT_TOTTIME ? "internal time"
           : sort == MPP_SORT_CALLS ? "call count"
                                    : "cumulative time";
}

/* The function table exactly as pstats.print_stats lays it out. */
static void
s_txt_functions(const s_row_t *rows, size_t nrows, size_t limit,
                mpp_sort_t sort, ssize_t proc, FILE *out)
{
    size_t shown = nrows < limit ? nrows : limit;
    fprintf(out, "\nFunctions (%s), ordered by %s",
            proc < 0 ? "all processes merged" : "this process",
            s_sort_name(sort));
    if (shown < nrows) {
        fprintf(out, "; %zu of %zu shown", shown, nrows);
    }
    fputs("\n\n   ncalls  tottime  percall  cumtime  percall "
          "filename:lineno(function)\n",
          out);
    for (size_t i = 0; i < shown; i++) {
        const mpp_cost_t *c = &rows[i].cost;
        char calls[48];
        if (c->ncalls != c->pcalls) {
            snprintf(calls, sizeof(calls), "%" PRIu64 "/%" PRIu64, c->ncalls,
                     c->pcalls);
        }
        else {
            snprintf(calls, sizeof(calls), "%" PRIu64, c->ncalls);
        }
        fprintf(out, "%9s %8.3f ", calls, s_sec(c->tt_ns));
        if (c->ncalls > 0) {
            fprintf(out, "%8.3f ", s_sec(c->tt_ns) / (double)c->ncalls);
        }
        else {
            fputs("         ", out);
        }
        fprintf(out, "%8.3f ", s_sec(c->ct_ns));
        if (c->pcalls > 0) {
            fprintf(out, "%8.3f ", s_sec(c->ct_ns) / (double)c->pcalls);
        }
        else {
            fputs("         ", out);
        }
        s_txt_func(out, rows[i].fn);
        fputc('\n', out);
    }
}

/* Said only when something was lost, so a clean run stays quiet. */
static void
s_txt_integrity(const mpp_session_t *s, FILE *out)
{
    const mpp_integrity_t *in = &s->integrity;
    size_t lost = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        lost += s_proc_lost(&s->procs[i]);
    }
    if (in->rejected == 0 && in->seq_gaps == 0 && in->processes_lost == 0 &&
        in->dropped_events == 0 && lost == 0) {
        return;
    }
    fprintf(out,
            "\nIntegrity: %" PRIu64 " messages, %" PRIu64 " rejected, %" PRIu64
            " sequence gaps, %" PRIu64 " dropped events, %" PRIu64
            " processes lost",
            in->messages, in->rejected, in->seq_gaps, in->dropped_events,
            in->processes_lost > lost ? in->processes_lost : (uint64_t)lost);
    const char *sep = " (ended without final data:";
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s_proc_lost(&s->procs[i])) {
            fprintf(out, "%s %" PRId64 " ", sep, s->procs[i].pid);
            s_txt(out, s->procs[i].name);
            sep = ",";
        }
    }
    fputs(lost ? ")\n" : "\n", out);
}

int
mpp_report_text(const mpp_session_t *s, const mpp_report_opts_t *o,
                FILE *out)
{
    mpp_report_opts_t def = {MPP_SORT_CUMULATIVE, 0, -1};
    o = o ? o : &def;
    if (s == NULL || out == NULL ||
        (o->proc >= 0 && (size_t)o->proc >= s->nprocs)) {
        return MPP_EINVAL;
    }
    mpp_view_t *v = mpp_view_new(s, o->proc);
    size_t nrows = 0;
    s_row_t *rows = v ? s_rows(s, v, o->sort, &nrows) : NULL;
    if (rows == NULL) {
        mpp_view_destroy(&v);
        return MPP_ENOMEM;
    }
    s_txt_header(s, v, out);
    s_txt_categories(s, v, o->proc, out);
    s_txt_processes(s, o->proc, out);
    s_txt_functions(rows, nrows, o->limit ? o->limit : S_TEXT_LIMIT, o->sort,
                    o->proc, out);
    s_txt_integrity(s, out);
    free(rows);
    mpp_view_destroy(&v);
    return ferror(out) ? -EIO : 0;
}

/* ---- JSON -------------------------------------------------------------- */

/*  A JSON string: quotes, backslashes and control characters escaped,
 *  invalid UTF-8 as \ufffd, so json.loads accepts any name.  NULL is
 *  written as null. */
static void
s_json_str(FILE *out, const char *text)
{
    if (text == NULL) {
        fputs("null", out);
        return;
    }
    const unsigned char *p = (const unsigned char *)text;
    size_t n = strlen(text);
    fputc('"', out);
    bool valid;
    for (size_t i = 0, k; i < n; i += k) {
        unsigned char c = p[i];
        k = mpp_utf8_seq(p + i, n - i, &valid);
        if (!valid) {
            fputs("\\ufffd", out);
        }
        else if (k > 1) {
            fwrite(p + i, 1, k, out);
        }
        else if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        }
        else if (c == '\n') {
            fputs("\\n", out);
        }
        else if (c == '\t') {
            fputs("\\t", out);
        }
        else if (c == '\r') {
            fputs("\\r", out);
        }
        else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        }
        else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

/*  Seconds printed from the integer nanoseconds, so the decimal is exact
 *  and json.loads gives the same float as ns / 1e9 in Python. */
static void
s_json_secs(FILE *out, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    char frac[16];
    snprintf(frac, sizeof(frac), "%09" PRIu64, mag % 1000000000u);
    for (int i = 8; i > 0 && frac[i] == '0'; i--) {
        frac[i] = '\0';
    }
    fprintf(out, "%s%" PRIu64 ".%s", ns < 0 ? "-" : "", mag / 1000000000u,
            frac);
}

static void
s_json_cats(FILE *out, const mpp_catval_t cat[MPP_CAT_COUNT])
{
    fputc('{', out);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, "%s\"%s_s\": ", c ? ", " : "",
                mpp_cat_name((mpp_cat_t)c));
        s_json_secs(out, (int64_t)cat[c].ns);
    }
    fputc('}', out);
}

/* Extra key "thread_list": "threads" is already the count. */
static void
s_json_threads(FILE *out, const mpp_proc_t *p)
{
    fputs(", \"thread_list\": [", out);
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        fprintf(out, "%s{\"tid\": %" PRIu64 ", \"name\": ", i ? ", " : "",
                t->tid);
        s_json_str(out, t->name);
        fprintf(out, ", \"calls\": %" PRIu64 ", \"categories\": ",
                s_thread_calls(t));
        s_json_cats(out, t->cat);
        fputc('}', out);
    }
    fputc(']', out);
}

static void
s_json_proc(FILE *out, const mpp_proc_t *p)
{
    mpp_catval_t cat[MPP_CAT_COUNT];
    char exit[32];
    mpp_proc_cats(p, cat);
    s_exit_str(p, exit, sizeof(exit));
    fprintf(out, "{\"pid\": %" PRId64 ", \"ppid\": %" PRId64 ", \"name\": ",
            p->pid, p->ppid);
    s_json_str(out, p->name);
    fputs(", \"start_method\": ", out);
    s_json_str(out, p->start_method);
    fputs(", \"wall_s\": ", out);
    s_json_secs(out, p->wall_ns);
    fputs(", \"cpu_s\": ", out);
    s_json_secs(out, p->cpu_ns);
    fprintf(out,
            ", \"exit\": \"%s\", \"calls\": %" PRIu64 ", \"threads\": %zu"
            ", \"dropped_events\": %" PRIu64 ", \"categories\": ",
            exit, mpp_proc_calls(p), p->nthreads, p->dropped);
    s_json_cats(out, cat);
    s_json_threads(out, p);
    fputc('}', out);
}

static void
s_json_func(FILE *out, const s_row_t *r)
{
    fputs("{\"file\": ", out);
    s_json_str(out, r->fn->file);
    fprintf(out, ", \"line\": %" PRId32 ", \"name\": ", r->fn->line);
    s_json_str(out, r->fn->name);
    fprintf(out, ", \"ncalls\": %" PRIu64 ", \"pcalls\": %" PRIu64,
            r->cost.ncalls, r->cost.pcalls);
    fputs(", \"tottime_s\": ", out);
    s_json_secs(out, r->cost.tt_ns);
    fputs(", \"cumtime_s\": ", out);
    s_json_secs(out, r->cost.ct_ns);
    fprintf(out, ", \"processes\": %" PRIu32 "}", r->nprocs);
}

static void
s_json_top(FILE *out, const mpp_session_t *s)
{
    fputs("{\n  \"mpprof_version\": ", out);
    s_json_str(out, s->mpprof_version ? s->mpprof_version
                                      : MPPROF_VERSION_STRING);
    fputs(",\n  \"python\": ", out);
    s_json_str(out, s_python(s));
    fputs(",\n  \"command\": [", out);
    for (size_t i = 0; i < s->ncommand; i++) {
        fputs(i ? ", " : "", out);
        s_json_str(out, s->command[i]);
    }
    fputs("],\n  \"wall_s\": ", out);
    s_json_secs(out, s->wall_ns);
    fprintf(out, ",\n  \"exit_status\": %" PRId32, s->exit_status);
}

/* Functions are all listed unless opts->limit asks for fewer. */
int
mpp_report_json(const mpp_session_t *s, const mpp_report_opts_t *o,
                FILE *out)
{
    mpp_report_opts_t def = {MPP_SORT_CUMULATIVE, 0, -1};
    o = o ? o : &def;
    if (s == NULL || out == NULL ||
        (o->proc >= 0 && (size_t)o->proc >= s->nprocs)) {
        return MPP_EINVAL;
    }
    mpp_view_t *v = mpp_view_new(s, o->proc);
    size_t nrows = 0;
    s_row_t *rows = v ? s_rows(s, v, o->sort, &nrows) : NULL;
    if (rows == NULL) {
        mpp_view_destroy(&v);
        return MPP_ENOMEM;
    }
    size_t shown = o->limit && o->limit < nrows ? o->limit : nrows;
    const mpp_integrity_t *in = &s->integrity;

    s_json_top(out, s);
    fputs(",\n  \"processes\": [", out);
    bool first = true;
    for (size_t i = 0; i < s->nprocs; i++) {
        if (o->proc < 0 || (size_t)o->proc == i) {
            fputs(first ? "\n    " : ",\n    ", out);
            s_json_proc(out, &s->procs[i]);
            first = false;
        }
    }
    fputs(first ? "],\n  \"categories\": " : "\n  ],\n  \"categories\": ",
          out);
    s_json_cats(out, v->cat);
    fputs(",\n  \"functions\": [", out);
    for (size_t i = 0; i < shown; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        s_json_func(out, &rows[i]);
    }
    fputs(shown ? "\n  ],\n" : "],\n", out);
    fprintf(out,
            "  \"integrity\": {\"messages\": %" PRIu64
            ", \"rejected\": %" PRIu64 ", \"seq_gaps\": %" PRIu64
            ", \"processes_lost\": %" PRIu64
            ", \"dropped_events\": %" PRIu64 "}\n}\n",
            in->messages, in->rejected, in->seq_gaps, in->processes_lost,
            in->dropped_events);
    free(rows);
    mpp_view_destroy(&v);
    return ferror(out) ? -EIO : 0;
}

/* ---- process lookup ---------------------------------------------------- */

ssize_t
mpp_report_find_proc(const mpp_session_t *s, const char *spec)
{
    if (s == NULL || spec == NULL || *spec == '\0') {
        return -1;
    }
    bool decimal = true;
    for (const char *p = spec; *p; p++) {
        decimal = decimal && *p >= '0' && *p <= '9';
    }
    if (decimal && strlen(spec) <= 18) {
        ssize_t ix = mpp_session_proc_index(s, strtoll(spec, NULL, 10));
        if (ix >= 0) {
            return ix;
        }
    }
    /* A name that happens to be all digits still matches by name. */
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].name && strcmp(s->procs[i].name, spec) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}
