/*  The text report, printed at the end of `run` and saved as report.txt.
 *  It leads with what a person can act on (where the time went, the
 *  leading cost, its top call site and a hint), then the tables: processes,
 *  time per process and per thread, the top call sites per category, the
 *  function table exactly as pstats prints it, and integrity problems.
 *  Every line but the pstats rows stays within S_WIDTH columns.
 */
#include "mpp_report_priv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#define S_TEXT_LIMIT 30 /* function rows when opts->limit is 0 */
#define S_SITE_ROWS 10  /* rows per call-site table */
#define S_WIDTH 100     /* columns of every line we lay out */
#define S_NAME_COLS 60  /* longest name in a headline */

/* ---- safe text ---------------------------------------------------------- */

/*  Names come from the profiled program: invalid UTF-8 becomes U+FFFD and
 *  control characters '?', so a name can neither garble the terminal nor
 *  differ from what pstats shows. */
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

/* Safe text, "?" for a name never given. */
static void
s_txt(FILE *out, const char *text)
{
    text = text ? text : "?";
    s_txt_n(out, text, strlen(text));
}

/* pstats.func_std_string: builtins ("~", 0) as {name}, else
 * file:line(name), so our rows equal the ones pstats prints. */
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

size_t
mpp_rep_clip(char *buf, size_t size, const char *text, size_t cols)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "?");
    size_t n = strlen((const char *)p), len = 0, used = 0, i = 0;
    bool valid;
    /* Count first, so we know whether the ellipsis is needed. */
    size_t total = 0;
    for (size_t k; i < n; i += k, total++) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
    }
    size_t keep = total > cols ? (cols ? cols - 1 : 0) : total;
    i = 0;
    for (size_t k; i < n && used < keep; i += k, used++) {
        k = mpp_utf8_seq(p + i, n - i, &valid);
        const char *rep = NULL;
        size_t rlen = k;
        if (!valid) {
            rep = "\xef\xbf\xbd";
            rlen = 3;
        }
        else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
            rep = "?";
            rlen = 1;
        }
        if (len + rlen + 4 > size) {
            break;
        }
        memcpy(buf + len, rep ? (const unsigned char *)rep : p + i, rlen);
        len += rlen;
    }
    if (total > cols && cols > 0 && len + 4 <= size) {
        memcpy(buf + len, "\xe2\x80\xa6", 3); /* U+2026 */
        len += 3;
        used++;
    }
    if (size > 0) {
        buf[len < size ? len : size - 1] = '\0';
    }
    return used;
}

/* Characters (code points) of safe UTF-8 text. */
static size_t
s_cols(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        n += (*p & 0xc0) != 0x80;
    }
    return n;
}

/* Safe text in a column of `cols` characters, clipped or padded. */
static void
s_col(FILE *out, const char *text, size_t cols)
{
    char buf[4 * S_WIDTH + 4];
    size_t used = mpp_rep_clip(buf, sizeof(buf), text, cols);
    fputs(buf, out);
    for (; used < cols; used++) {
        fputc(' ', out);
    }
}

void
mpp_rep_short_func(char *buf, size_t size, const mpp_func_t *f, bool line)
{
    size_t n = strlen(f->name);
    if (strcmp(f->file, "~") == 0 && f->line == 0) {
        if (n >= 2 && f->name[0] == '<' && f->name[n - 1] == '>') {
            snprintf(buf, size, "{%.*s}", (int)(n - 2), f->name + 1);
        }
        else {
            snprintf(buf, size, "%s", f->name);
        }
        return;
    }
    const char *base = strrchr(f->file, '/');
    base = base ? base + 1 : f->file;
    if (line) {
        snprintf(buf, size, "%s:%" PRId32 "(%s)", base, f->line, f->name);
    }
    else {
        snprintf(buf, size, "%s:%s", base, f->name);
    }
}

const char *
mpp_rep_site_via(const mpp_session_t *s, const mpp_rep_site_t *site)
{
    if (site->callee >= s->nfuncs) {
        return "?";
    }
    const mpp_rep_root_t *r = mpp_rep_root(&s->funcs[site->callee]);
    return r ? r->label : s->funcs[site->callee].name;
}

/* "1.62 s", "15 ms", "240 us": headlines are read, not parsed, so three
 * significant digits at most. */
static void
s_fmt_secs(char *buf, size_t size, double sec)
{
    double mag = sec < 0 ? -sec : sec;
    if (mag == 0) {
        snprintf(buf, size, "0 s");
    }
    else if (mag >= 100) {
        snprintf(buf, size, "%.0f s", sec);
    }
    else if (mag >= 0.9995) {
        snprintf(buf, size, "%.*f s", mag >= 9.95 ? 1 : 2, sec);
    }
    else if (mag >= 0.0009995) {
        snprintf(buf, size, "%.0f ms", sec * 1e3);
    }
    else {
        snprintf(buf, size, "%.0f us", sec * 1e6);
    }
}

/* "240.0 MB", in decimal units as pipe and network sizes are. */
static void
s_fmt_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (bytes < 1000) {
        snprintf(buf, size, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1000;
    size_t u = 0;
    while (v >= 999.95 && u + 1 < MPP_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

static double
s_sec(int64_t ns)
{
    return (double)ns / 1e9;
}

void
mpp_rep_para(FILE *out, const char *text, int indent)
{
    size_t col = 0;
    const char *p = text;
    for (; *p == ' '; p++, col++) {
        fputc(' ', out);
    }
    size_t lead = col;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char word[4 * S_WIDTH + 4];
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        size_t w = s_cols(word);
        if (col > (size_t)indent && col + 1 + w > S_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = (size_t)indent;
        }
        else if (col > lead) {
            fputc(' ', out);
            col++;
        }
        for (char *q = word; *q; q++) {
            *q = *q == MPP_REP_NBSP[0] ? ' ' : *q;
        }
        fputs(word, out);
        col += w;
        p += n;
        while (*p == ' ') {
            p++;
        }
        lead = 0;
    }
    fputc('\n', out);
}

/* ---- the lines a person acts on ----------------------------------------- */

static const char *const s_cat_short[MPP_CAT_COUNT] = {
    "pickle", "unpickle", "lock wait", "IPC wait", "start-up",
};

static const char *const s_hint[MPP_CAT_COUNT] = {
    "Hint: send less per task: pass indices or file names rather than large "
    "objects, return only what the parent needs, raise chunksize, or share "
    "memory (multiprocessing.shared_memory).",
    "Hint: send less per task: pass indices or file names rather than large "
    "objects, return only what the parent needs, raise chunksize, or share "
    "memory (multiprocessing.shared_memory).",
    "Hint: threads queue on a shared lock (see the lock-wait sites below): "
    "hold shared locks for less time, or give each worker its own state.",
    "Hint: processes wait for data to move through pipes: give each task "
    "more work (a larger chunksize), and check for tasks of uneven size "
    "that leave workers idle.",
    "Hint: start workers once and reuse them (one Pool for all batches); "
    "fork and forkserver start faster than spawn.",
};

const char *
mpp_rep_hint(int cat)
{
    return cat >= 0 && cat < MPP_CAT_COUNT ? s_hint[cat] : NULL;
}

/* "22%", "<1%" for a little more than nothing. */
static void
s_pct(char *buf, size_t size, int64_t part, int64_t whole)
{
    double p = whole > 0 ? 100.0 * (double)part / (double)whole : 0;
    if (part > 0 && p < 0.5) {
        snprintf(buf, size, "<1%%");
    }
    else {
        snprintf(buf, size, "%.0f%%", p);
    }
}

/* Appends to a fixed buffer; output beyond its end is dropped. */
static void
s_add(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 < size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, size - n, fmt, ap);
        va_end(ap);
    }
}

/* Makes an item of a paragraph unbreakable. */
static void
s_nbsp(char *item)
{
    for (; *item; item++) {
        *item = *item == ' ' ? MPP_REP_NBSP[0] : *item;
    }
}

static void
s_txt_where(const mpp_rep_time_t *tm, ssize_t proc, FILE *out)
{
    char line[1024], item[128], pct[16], sec[32], bytes[32];
    fprintf(out, "\nWhere the time went (%s, %.3f thread-seconds):\n",
            proc < 0 ? "all processes" : "this process", s_sec(tm->thread_ns));
    s_pct(pct, sizeof(pct), tm->thread_ns - tm->cat_ns, tm->thread_ns);
    snprintf(item, sizeof(item), "compute %s", pct);
    s_nbsp(item);
    snprintf(line, sizeof(line), "  %s", item);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        const mpp_catval_t *cv = &tm->cat[c];
        s_pct(pct, sizeof(pct), (int64_t)cv->ns, tm->thread_ns);
        s_fmt_secs(sec, sizeof(sec), s_sec((int64_t)cv->ns));
        s_fmt_bytes(bytes, sizeof(bytes), cv->bytes);
        snprintf(item, sizeof(item), "%s %s", s_cat_short[c], pct);
        if (cv->ns > 0) {
            s_add(item, sizeof(item), " (%s%s%s)", sec,
                  cv->bytes ? ", " : "", cv->bytes ? bytes : "");
        }
        s_nbsp(item);
        s_add(line, sizeof(line), ", %s", item);
    }
    mpp_rep_para(out, line, 2);
}

/* "pool.py:_handle_tasks → ForkingPickler.dumps (480 calls, 240.0 MB)" */
static void
s_site_phrase(const mpp_session_t *s, const mpp_rep_site_t *site, char *buf,
              size_t size)
{
    char fn[512], caller[4 * S_NAME_COLS + 4], bytes[32];
    mpp_rep_short_func(fn, sizeof(fn), &s->funcs[site->caller], false);
    mpp_rep_clip(caller, sizeof(caller), fn, S_NAME_COLS);
    s_fmt_bytes(bytes, sizeof(bytes), site->bytes);
    snprintf(buf, size, "%s \xe2\x86\x92 %s (%" PRIu64 " call%s%s%s)", caller,
             mpp_rep_site_via(s, site), site->count,
             site->count == 1 ? "" : "s", site->bytes ? ", " : "",
             site->bytes ? bytes : "");
}

/* One paragraph about waiting left out of the leading cost, if any. */
static void
s_idle_wait(FILE *out, int64_t ns, const char *fmt)
{
    char line[512], sec[32];
    if (ns <= 0) {
        return;
    }
    s_fmt_secs(sec, sizeof(sec), s_sec(ns));
    snprintf(line, sizeof(line), fmt, sec);
    mpp_rep_para(out, line, 2);
}

static int
s_txt_lead(const mpp_session_t *s, const mpp_rep_time_t *tm, ssize_t proc,
           FILE *out)
{
    char line[1024], sec[32], phrase[768];
    int c = tm->lead_cat;
    if (c < 0) {
        fputs("Leading cost: none measured; no time went to pickling, "
              "locks, IPC or start-up.\n",
              out);
    }
    else {
        mpp_rep_sites_t sites;
        int rc = mpp_rep_sites(s, proc, true, &sites);
        if (rc != 0) {
            mpp_rep_sites_free(&sites);
            return rc;
        }
        s_fmt_secs(sec, sizeof(sec), s_sec(tm->lead_ns[c]));
        snprintf(line, sizeof(line),
                 "Leading cost: %s \xe2\x80\x94 %s in %" PRIu32 " process%s",
                 mpp_rep_cat_title(c), sec, tm->lead_procs[c],
                 tm->lead_procs[c] == 1 ? "" : "es");
        int other = c == MPP_CAT_PICKLE     ? MPP_CAT_UNPICKLE
                    : c == MPP_CAT_UNPICKLE ? MPP_CAT_PICKLE
                                            : -1;
        if (other >= 0 && tm->lead_ns[other] > 0) {
            s_fmt_secs(sec, sizeof(sec),
                       s_sec(tm->lead_ns[c] + tm->lead_ns[other]));
            s_add(line, sizeof(line), " (with %s: %s of serialisation)",
                  mpp_rep_cat_title(other), sec);
        }
        if (sites.first[c] < sites.first[c + 1]) {
            s_site_phrase(s, &sites.site[sites.first[c]], phrase,
                          sizeof(phrase));
            s_add(line, sizeof(line), "; top site: %s", phrase);
        }
        mpp_rep_sites_free(&sites);
        mpp_rep_para(out, line, 2);
    }
    s_idle_wait(out, tm->pipe_wait_ns,
                "The workers waited %s on pipes (starved of tasks or "
                "blocked sending results): idle while another process "
                "works, so not counted as the leading cost either.");
    s_idle_wait(out, tm->main_wait_ns,
                "The main process waited %s (lock and IPC wait, all its "
                "threads) for its workers: idle while they work, so not "
                "counted as the leading cost.");
    if (c >= 0) {
        mpp_rep_para(out, mpp_rep_hint(c), 2);
    }
    return 0;
}

/* ---- tables ------------------------------------------------------------- */

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
    s_txt(out, mpp_rep_python(s) ? mpp_rep_python(s) : "unknown");
    fprintf(out, ", wall %.3f s, exit status %" PRId32 "\n",
            s_sec(s->wall_ns), s->exit_status);
    fprintf(out,
            "  %zu process%s, %" PRIu64 " function calls (%" PRIu64
            " primitive calls)\n",
            s->nprocs, s->nprocs == 1 ? "" : "es", v->total_calls, pcalls);
}

static void
s_txt_processes(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    fprintf(out, "\nProcesses\n%8s %8s  %-20s %-10s %9s %9s %10s %7s  %s\n",
            "pid", "ppid", "name", "start", "wall s", "cpu s", "calls",
            "threads", "exit");
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        char exit[32];
        mpp_rep_exit_str(p, exit, sizeof(exit));
        fprintf(out, "%8" PRId64 " %8" PRId64 "  ", p->pid, p->ppid);
        s_col(out, p->name, 20);
        fputc(' ', out);
        s_col(out, p->start_method, 10);
        fprintf(out, " %9.3f %9.3f %10" PRIu64 " %7zu  %s\n",
                s_sec(p->wall_ns), s_sec(p->cpu_ns), mpp_proc_calls(p),
                p->nthreads, exit);
    }
}

/* compute and the five categories, in seconds. */
static void
s_txt_cat_cols(FILE *out, int64_t thread_ns, const mpp_catval_t *cat)
{
    fprintf(out, " %8.3f", s_sec(thread_ns - mpp_rep_cat_ns(cat)));
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, " %8.3f", s_sec((int64_t)cat[c].ns));
    }
    fputc('\n', out);
}

static void
s_txt_cat_heads(FILE *out)
{
    fprintf(out, " %8s %8s %8s %8s %8s %8s\n", "compute", "pickle",
            "unpickle", "lock", "IPC", "start-up");
}

static void
s_txt_proc_time(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    fputs("\nTime per process (thread-seconds; lock = lock wait, "
          "IPC = IPC wait)\n",
          out);
    fprintf(out, "%7s  %-20s %9s", "pid", "name", "thread-s");
    s_txt_cat_heads(out);
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t cat[MPP_CAT_COUNT];
        int64_t ns = mpp_rep_proc_thread_ns(p);
        mpp_proc_cats(p, cat);
        fprintf(out, "%7" PRId64 "  ", p->pid);
        s_col(out, p->name, 20);
        fprintf(out, " %9.3f", s_sec(ns));
        s_txt_cat_cols(out, ns, cat);
    }
}

static void
s_txt_threads(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    fputs("\nThreads (seconds)\n", out);
    fprintf(out, "%7s  %-26s %10s", "pid", "thread", "calls");
    s_txt_cat_heads(out);
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        for (size_t j = 0; j < p->nthreads && (proc < 0 || (size_t)proc == i);
             j++) {
            const mpp_thread_t *t = &p->threads[j];
            fprintf(out, "%7" PRId64 "  ", p->pid);
            s_col(out, t->name, 26);
            fprintf(out, " %10" PRIu64, mpp_rep_thread_calls(t));
            s_txt_cat_cols(out, mpp_rep_thread_ns(t), t->cat);
        }
    }
}

static const char *const s_site_title[MPP_CAT_COUNT] = {
    "Top pickling sites (function \xe2\x86\x92 pickler; time includes "
    "callees; bytes as measured)",
    "Top unpickling sites (function \xe2\x86\x92 unpickler; time includes "
    "callees)",
    "Top lock-wait sites (function that waited, on which lock type; "
    "time includes callees)",
    "Top IPC-wait sites (function \xe2\x86\x92 pipe operation; time "
    "includes callees)",
    NULL,
};

static void
s_txt_site_rows(const mpp_session_t *s, const mpp_rep_sites_t *sites, int c,
                FILE *out)
{
    size_t first = sites->first[c], end = sites->first[c + 1];
    fprintf(out, "%9s %10s %9s  %-22s %-8s  %s\n", "seconds", "calls",
            "bytes", c == MPP_CAT_LOCK_WAIT ? "lock type" : "via",
            "process", "function");
    for (size_t i = first; i < end && i - first < S_SITE_ROWS; i++) {
        const mpp_rep_site_t *site = &sites->site[i];
        const mpp_rep_root_t *r =
            site->callee < s->nfuncs ? mpp_rep_root(&s->funcs[site->callee])
                                     : NULL;
        char bytes[32] = "-", procs[32], fn[512], clip[4 * S_WIDTH + 4];
        if (site->bytes) {
            s_fmt_bytes(bytes, sizeof(bytes), site->bytes);
        }
        if (site->npids == 1) {
            snprintf(procs, sizeof(procs), "%" PRId64, site->pids[0]);
        }
        else {
            snprintf(procs, sizeof(procs), "%zu procs", site->npids);
        }
        fprintf(out, "%9.3f %10" PRIu64 " %9s  ", s_sec(site->ns),
                site->count, bytes);
        s_col(out, r && r->what ? r->what : mpp_rep_site_via(s, site),
                    22);
        fputc(' ', out);
        s_col(out, procs, 8);
        fputs("  ", out);
        mpp_rep_short_func(fn, sizeof(fn), &s->funcs[site->caller], true);
        mpp_rep_clip(clip, sizeof(clip), fn, S_WIDTH - 65);
        fprintf(out, "%s\n", clip);
    }
    if (end - first > S_SITE_ROWS) {
        fprintf(out, "  ... %zu more\n", end - first - S_SITE_ROWS);
    }
}

/* Lock waits and pickling always, as the issue asks; the other two only
 * when they happened. */
static int
s_txt_sites(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    static const int order[] = {MPP_CAT_LOCK_WAIT, MPP_CAT_PICKLE,
                                MPP_CAT_UNPICKLE, MPP_CAT_IPC_WAIT};
    mpp_rep_sites_t sites;
    int rc = mpp_rep_sites(s, proc, false, &sites);
    for (size_t k = 0; k < MPP_ARRAY_SIZE(order) && rc == 0; k++) {
        int c = order[k];
        bool any = sites.first[c] < sites.first[c + 1];
        if (!any && (c == MPP_CAT_UNPICKLE || c == MPP_CAT_IPC_WAIT)) {
            continue;
        }
        fprintf(out, "\n%s\n", s_site_title[c]);
        if (any) {
            s_txt_site_rows(s, &sites, c, out);
        }
        else {
            fputs("  none measured\n", out);
        }
    }
    mpp_rep_sites_free(&sites);
    return rc;
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
s_txt_functions(const mpp_rep_row_t *rows, size_t nrows, size_t limit,
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
        lost += mpp_rep_proc_lost(&s->procs[i]);
    }
    if (in->rejected == 0 && in->seq_gaps == 0 && in->processes_lost == 0 &&
        in->dropped_events == 0 && lost == 0) {
        return;
    }
    char line[2048], name[4 * 40 + 4];
    snprintf(line, sizeof(line),
             "Integrity: %" PRIu64 " messages, %" PRIu64 " rejected, %" PRIu64
             " sequence gaps, %" PRIu64 " dropped events, %" PRIu64
             " processes lost",
             in->messages, in->rejected, in->seq_gaps, in->dropped_events,
             in->processes_lost > lost ? in->processes_lost : (uint64_t)lost);
    const char *sep = " (ended without final data:";
    for (size_t i = 0; i < s->nprocs; i++) {
        if (mpp_rep_proc_lost(&s->procs[i])) {
            mpp_rep_clip(name, sizeof(name), s->procs[i].name, 40);
            s_nbsp(name);
            s_add(line, sizeof(line), "%s %" PRId64 MPP_REP_NBSP "%s", sep,
                  s->procs[i].pid, name);
            sep = ",";
        }
    }
    s_add(line, sizeof(line), "%s", lost ? ")" : "");
    fputc('\n', out);
    mpp_rep_para(out, line, 2);
}

int
mpp_report_text(const mpp_session_t *s, const mpp_report_opts_t *o,
                FILE *out)
{
    mpp_rep_t r;
    int rc = mpp_rep_begin(&r, s, o, S_TEXT_LIMIT, out);
    if (rc != 0) {
        return rc;
    }
    ssize_t proc = r.o.proc;
    s_txt_header(s, r.v, out);
    s_txt_where(&r.tm, proc, out);
    rc = s_txt_lead(s, &r.tm, proc, out);
    if (rc == 0) {
        s_txt_processes(s, proc, out);
        s_txt_proc_time(s, proc, out);
        s_txt_threads(s, proc, out);
        rc = s_txt_sites(s, proc, out);
    }
    if (rc == 0) {
        s_txt_functions(r.rows, r.nrows, r.limit, r.o.sort, proc, out);
        s_txt_integrity(s, out);
    }
    return mpp_rep_end(&r, rc, out);
}
