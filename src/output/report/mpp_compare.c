/*  `mpprof compare BASELINE PARALLEL`: the speedup against the ideal one,
 *  the wall time lost against the ideal split into parts, and the
 *  functions whose own time changed most.  The definitions are in
 *  mpp_report.h and are repeated in the text output, because a number
 *  nobody can interpret helps nobody.
 */
#include "mpp_report_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#define S_FUNC_ROWS 10 /* functions whose time changed most */

_Static_assert(MPP_LOST_IMBALANCE == (int)MPP_CAT_COUNT &&
                   MPP_LOST_LOCK_WAIT == (int)MPP_CAT_LOCK_WAIT,
               "the first parts of mpp_lost_t follow mpp_cat_t");

/* The parts past the categories; the first MPP_CAT_COUNT parts are the
 * categories, named by the catalog. */
static const char *const s_lost_extra[MPP_LOST_COUNT - MPP_CAT_COUNT] = {
    "imbalance", "other",
};

const char *
mpp_lost_name(mpp_lost_t part)
{
    if ((unsigned)part < MPP_CAT_COUNT) {
        return mpp_catalog_cat((int)part)->name;
    }
    return (unsigned)part < MPP_LOST_COUNT ? s_lost_extra[part - MPP_CAT_COUNT]
                                           : "?";
}

/* People's name of a part: "lock wait", "imbalance". */
static const char *
s_lost_title(int part)
{
    return part < MPP_CAT_COUNT ? mpp_catalog_cat(part)->title
                                : mpp_lost_name((mpp_lost_t)part);
}

/* ---- the numbers -------------------------------------------------------- */

/*  A worker, told apart from the fork server by its parent; an image
 *  that exec'd into a worker is that worker (whose CPU time, the
 *  kernel's, holds the image's), so it counts once. */
static bool
s_worker(const mpp_session_t *s, const mpp_proc_t *p)
{
    return mpp_rep_role_of(s, p) == MPP_REP_WORKER &&
           !mpp_rep_exec_replaced(s, p);
}

/*  Category nanoseconds that count as lost capacity: everything, except
 *  lock and IPC waits outside worker processes, which go to *excluded. */
static void
s_counted(const mpp_session_t *s, int64_t cat[MPP_CAT_COUNT],
          int64_t *excluded)
{
    memset(cat, 0, sizeof(int64_t) * MPP_CAT_COUNT);
    *excluded = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t pc[MPP_CAT_COUNT];
        mpp_proc_cats(p, pc);
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            if (mpp_rep_is_wait(c) && !s_worker(s, p)) {
                *excluded += (int64_t)pc[c].ns;
            }
            else {
                cat[c] += (int64_t)pc[c].ns;
            }
        }
    }
}

/*  Worker-nanoseconds idle while the busiest worker still ran and not
 *  already counted as that worker's own lock or IPC wait. */
static int64_t
s_imbalance_ns(const mpp_session_t *s)
{
    int64_t busiest = 0, idle = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        if (s_worker(s, p) && p->cpu_ns > busiest) {
            busiest = p->cpu_ns;
        }
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t pc[MPP_CAT_COUNT];
        if (!s_worker(s, p)) {
            continue;
        }
        mpp_proc_cats(p, pc);
        int64_t gap = busiest - (p->cpu_ns > 0 ? p->cpu_ns : 0);
        int64_t waits = (int64_t)(pc[MPP_CAT_LOCK_WAIT].ns +
                                  pc[MPP_CAT_IPC_WAIT].ns);
        idle += gap > waits ? gap - waits : 0;
    }
    return idle;
}

int
mpp_compare_compute(const mpp_session_t *base, const mpp_session_t *par,
                    mpp_compare_t *out)
{
    if (base == NULL || par == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    if (base->wall_ns <= 0 || par->wall_ns <= 0) {
        return MPP_EINVAL;
    }
    for (size_t i = 0; i < par->nprocs; i++) {
        out->workers += s_worker(par, &par->procs[i]);
    }
    out->workers = out->workers ? out->workers : 1;
    out->base_procs = base->nprocs;
    out->par_procs = par->nprocs;
    out->base_wall_s = (double)base->wall_ns / 1e9;
    out->par_wall_s = (double)par->wall_ns / 1e9;
    out->speedup = (double)base->wall_ns / (double)par->wall_ns;
    out->ideal_speedup = (double)out->workers;
    out->efficiency = out->speedup / out->ideal_speedup;

    /*  The accounting is done in integer worker-nanoseconds, where "other"
     *  makes the parts add up to the gap exactly; each is then divided by
     *  the ideal once, so the seconds add up to gap_s within rounding. */
    int64_t w = (int64_t)out->workers;
    int64_t bc[MPP_CAT_COUNT], pc[MPP_CAT_COUNT], bex, pex;
    int64_t part[MPP_LOST_COUNT], gap = w * par->wall_ns - base->wall_ns;
    s_counted(base, bc, &bex);
    s_counted(par, pc, &pex);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        part[c] = pc[c] - bc[c];
    }
    part[MPP_LOST_IMBALANCE] = s_imbalance_ns(par);
    part[MPP_LOST_OTHER] = gap;
    for (int k = 0; k < MPP_LOST_OTHER; k++) {
        part[MPP_LOST_OTHER] -= part[k];
    }
    for (int k = 0; k < MPP_LOST_COUNT; k++) {
        out->lost_s[k] = (double)part[k] / out->ideal_speedup / 1e9;
    }
    out->gap_s = (double)gap / out->ideal_speedup / 1e9;
    out->excluded_wait_s = (double)pex / 1e9;
    return 0;
}

/* ---- the functions whose time changed ----------------------------------- */

typedef struct {
    const mpp_func_t *fn;
    int64_t base_ns, par_ns;
    uint64_t base_calls, par_calls;
} s_delta_t;

static int
s_key_cmp(const mpp_func_t *x, const mpp_func_t *y)
{
    int c = strcmp(x->file, y->file);
    if (c == 0 && x->line != y->line) {
        c = x->line < y->line ? -1 : 1;
    }
    return c ? c : strcmp(x->name, y->name);
}

static int
s_by_key(const void *a, const void *b)
{
    return s_key_cmp(((const s_delta_t *)a)->fn, ((const s_delta_t *)b)->fn);
}

static int64_t
s_abs_delta(const s_delta_t *d)
{
    int64_t x = d->par_ns - d->base_ns;
    return x < 0 ? -x : x;
}

static int
s_by_change(const void *a, const void *b)
{
    const s_delta_t *x = a, *y = b;
    if (s_abs_delta(x) != s_abs_delta(y)) {
        return s_abs_delta(x) > s_abs_delta(y) ? -1 : 1;
    }
    return s_key_cmp(x->fn, y->fn);
}

/* One session's functions that ran, sorted by (file, line, name). */
static s_delta_t *
s_side(const mpp_session_t *s, bool parallel, size_t *n)
{
    mpp_view_t *v = mpp_view_new(s, -1);
    s_delta_t *d = v ? calloc(v->nfuncs ? v->nfuncs : 1, sizeof(*d)) : NULL;
    *n = 0;
    for (size_t f = 0; d != NULL && f < v->nfuncs; f++) {
        if (v->func[f].ncalls == 0 && v->func[f].tt_ns == 0) {
            continue;
        }
        s_delta_t *r = &d[(*n)++];
        r->fn = &s->funcs[f];
        *(parallel ? &r->par_ns : &r->base_ns) = v->func[f].tt_ns;
        *(parallel ? &r->par_calls : &r->base_calls) = v->func[f].ncalls;
    }
    mpp_view_destroy(&v);
    if (d != NULL) {
        qsort(d, *n, sizeof(*d), s_by_key);
    }
    return d;
}

/*  Joins the two sides by (file, line, name), since each session numbers
 *  its functions itself, and keeps the S_FUNC_ROWS largest changes. */
static s_delta_t *
s_deltas(const mpp_session_t *base, const mpp_session_t *par, size_t *nout)
{
    size_t nb, np, i = 0, j = 0, k = 0;
    s_delta_t *b = s_side(base, false, &nb), *p = s_side(par, true, &np);
    s_delta_t *d = b && p ? calloc(nb + np + 1, sizeof(*d)) : NULL;
    while (d != NULL && (i < nb || j < np)) {
        int c = i == nb ? 1 : j == np ? -1 : s_key_cmp(b[i].fn, p[j].fn);
        s_delta_t r = c <= 0 ? b[i] : p[j];
        if (c == 0) {
            r.par_ns = p[j].par_ns;
            r.par_calls = p[j].par_calls;
        }
        i += c <= 0;
        j += c >= 0;
        if (r.par_ns != r.base_ns) {
            d[k++] = r;
        }
    }
    free(b);
    free(p);
    if (d != NULL) {
        qsort(d, k, sizeof(*d), s_by_change);
    }
    *nout = k < S_FUNC_ROWS ? k : S_FUNC_ROWS;
    return d;
}

/* Writes one format's document from the numbers and the changes. */
typedef void (*s_doc_fn)(FILE *out, const mpp_session_t *base,
                         const mpp_session_t *par, const mpp_compare_t *cmp,
                         const s_delta_t *d, size_t n);

/*  Both formats print the same: the numbers, then the functions whose
 *  time changed most. */
static int
s_write(const mpp_session_t *base, const mpp_session_t *par, FILE *out,
        s_doc_fn doc)
{
    mpp_compare_t cmp;
    int rc = mpp_compare_compute(base, par, &cmp);
    if (rc != 0 || out == NULL) {
        return rc ? rc : MPP_EINVAL;
    }
    size_t n;
    s_delta_t *d = s_deltas(base, par, &n);
    if (d == NULL) {
        return MPP_ENOMEM;
    }
    doc(out, base, par, &cmp, d, n);
    free(d);
    return ferror(out) ? -EIO : 0;
}

static const char *
s_func_cat(const mpp_func_t *f)
{
    const mpp_rep_root_t *r = mpp_rep_root(f);
    return r ? mpp_catalog_cat(r->cat)->name : NULL;
}

/* ---- JSON --------------------------------------------------------------- */

static void
s_json_side(FILE *out, const char *key, const mpp_session_t *s,
            const mpp_compare_t *cmp, bool parallel)
{
    fprintf(out, "  \"%s\": {\"wall_s\": ", key);
    mpp_rep_json_secs(out, s->wall_ns);
    fprintf(out, ", \"processes\": %zu", s->nprocs);
    if (parallel) {
        fprintf(out, ", \"workers\": %zu", cmp->workers);
    }
    fputs(", \"command\": [", out);
    for (size_t i = 0; i < s->ncommand; i++) {
        fputs(i ? ", " : "", out);
        mpp_rep_json_str(out, s->command[i]);
    }
    fputs("]},\n", out);
}

static void
s_json_funcs(FILE *out, const s_delta_t *d, size_t n)
{
    fputs(",\n  \"functions\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n    {\"file\": " : "\n    {\"file\": ", out);
        mpp_rep_json_str(out, d[i].fn->file);
        fprintf(out, ", \"line\": %" PRId32 ", \"name\": ", d[i].fn->line);
        mpp_rep_json_str(out, d[i].fn->name);
        fputs(", \"baseline_s\": ", out);
        mpp_rep_json_secs(out, d[i].base_ns);
        fputs(", \"parallel_s\": ", out);
        mpp_rep_json_secs(out, d[i].par_ns);
        fputs(", \"delta_s\": ", out);
        mpp_rep_json_secs(out, d[i].par_ns - d[i].base_ns);
        fprintf(out,
                ", \"baseline_calls\": %" PRIu64
                ", \"parallel_calls\": %" PRIu64 ", \"category\": ",
                d[i].base_calls, d[i].par_calls);
        mpp_rep_json_str(out, s_func_cat(d[i].fn));
        fputc('}', out);
    }
    fputs(n ? "\n  ]" : "]", out);
}

static void
s_json_doc(FILE *out, const mpp_session_t *base, const mpp_session_t *par,
           const mpp_compare_t *cmp, const s_delta_t *d, size_t n)
{
    fputs("{\n", out);
    s_json_side(out, "baseline", base, cmp, false);
    s_json_side(out, "parallel", par, cmp, true);
    static const char *const keys[] = {"speedup", "ideal_speedup",
                                       "efficiency", "gap_s"};
    const double vals[] = {cmp->speedup, cmp->ideal_speedup, cmp->efficiency,
                           cmp->gap_s};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(keys); i++) {
        fprintf(out, "%s\"%s\": ", i ? ", " : "  ", keys[i]);
        mpp_rep_json_num(out, vals[i]);
    }
    fputs(",\n  \"lost_s\": {", out);
    for (int k = 0; k < MPP_LOST_COUNT; k++) {
        fprintf(out, "%s\"%s\": ", k ? ", " : "", mpp_lost_name((mpp_lost_t)k));
        mpp_rep_json_num(out, cmp->lost_s[k]);
    }
    fputs("},\n  \"excluded_wait_s\": ", out);
    mpp_rep_json_num(out, cmp->excluded_wait_s);
    s_json_funcs(out, d, n);
    fputs("\n}\n", out);
}

int
mpp_compare_json(const mpp_session_t *base, const mpp_session_t *par,
                 FILE *out)
{
    return s_write(base, par, out, s_json_doc);
}

/* ---- text --------------------------------------------------------------- */

static void
s_txt_side(FILE *out, const char *label, const mpp_session_t *s,
           const mpp_compare_t *cmp, bool parallel)
{
    char cmd[256] = "", buf[4 * 40 + 4];
    for (size_t i = 0, n = 0; i < s->ncommand && n + 1 < sizeof(cmd); i++) {
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s%s", i ? " " : "",
                              s->command[i]);
    }
    mpp_rep_clip(buf, sizeof(buf), s->ncommand ? cmd : "?", 40);
    fprintf(out, "  %s %s (%zu process%s", label, buf, s->nprocs,
            s->nprocs == 1 ? "" : "es");
    if (parallel) {
        fprintf(out, ", %zu worker%s", cmp->workers,
                cmp->workers == 1 ? "" : "s");
    }
    fprintf(out, "), wall %.3f s\n", (double)s->wall_ns / 1e9);
}

/* Rounding noise (the parts are sums of doubles) must not print "-0.000". */
static double
s_tidy(double x)
{
    return fabs(x) < 5e-4 ? 0.0 : x;
}

static void
s_txt_summary(FILE *out, const mpp_compare_t *cmp)
{
    char line[1024];
    size_t n = (size_t)snprintf(
        line, sizeof(line),
        "Speedup %.2fx of ideal %.2fx (efficiency %.0f%%); %.3f s %s vs "
        "ideal (%.3f s wall):",
        cmp->speedup, cmp->ideal_speedup, 100 * cmp->efficiency,
        fabs(s_tidy(cmp->gap_s)), cmp->gap_s < 0 ? "gained" : "lost",
        cmp->base_wall_s / cmp->ideal_speedup);
    for (int k = 0; k < MPP_LOST_COUNT && n < sizeof(line); k++) {
        char item[64];
        snprintf(item, sizeof(item), "%s %.3f s%s", s_lost_title(k),
                 s_tidy(cmp->lost_s[k]), k + 1 < MPP_LOST_COUNT ? "," : "");
        mpp_rep_nbsp(item);
        n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", item);
    }
    mpp_rep_para(out, line, 2);
}

static void
s_txt_verdict(FILE *out, const mpp_compare_t *cmp, bool no_workers)
{
    char line[512];
    int top = -1;
    if (no_workers) {
        mpp_rep_para(out, "The parallel run has no worker process (only the "
                          "main one and helpers), so the ideal is taken as "
                          "1.", 2);
    }
    for (int k = 0; k < MPP_LOST_COUNT; k++) {
        const double *l = cmp->lost_s;
        if (l[k] > 0 && (top < 0 || l[k] > l[top])) {
            top = k;
        }
    }
    if (cmp->gap_s <= 0) {
        mpp_rep_para(out, "No loss: the parallel run met or beat the ideal "
                          "speedup (less total work, or warmer caches).", 2);
    }
    else if (top < 0 || top == MPP_LOST_OTHER) {
        mpp_rep_para(out, "Most of the loss is in no measured part: look "
                          "for serial work in the parent and for functions "
                          "that got slower (below), e.g. from more "
                          "processes than free CPUs.", 2);
    }
    else {
        snprintf(line, sizeof(line), "Largest loss: %s (%.3f s of %.3f s).",
                 s_lost_title(top), cmp->lost_s[top], cmp->gap_s);
        mpp_rep_para(out, line, 2);
        mpp_rep_para(out, top == MPP_LOST_IMBALANCE
                              ? "Hint: tasks are uneven: use smaller chunks "
                                "(chunksize) or imap_unordered so that idle "
                                "workers pick up the remaining work."
                              : mpp_rep_hint(top, true),
                     2);
    }
    if (cmp->gap_s > 0 && cmp->lost_s[MPP_LOST_OTHER] < 0) {
        mpp_rep_para(out, "\"other\" is negative: the parts overlap, e.g. "
                          "workers wait for tasks (IPC wait) while the "
                          "parent pickles them (pickling).", 2);
    }
    if (cmp->excluded_wait_s > 0) {
        snprintf(line, sizeof(line),
                 "Not counted: the main process and helpers waited %.3f "
                 "thread-s for locks and IPC while the workers ran.",
                 cmp->excluded_wait_s);
        mpp_rep_para(out, line, 2);
    }
}

static const char s_definitions[] =
    "How these are computed: workers are the processes other than the main "
    "one and multiprocessing helpers (resource tracker, fork server), and "
    "the ideal speedup is their number. Lost = parallel wall - baseline "
    "wall / ideal. Each category = (its thread-seconds in the parallel run "
    "- in the baseline) / ideal, lock and IPC waits counted in workers "
    "only. Imbalance = the CPU time each worker is short of the busiest "
    "one, less what its own waits already count, / ideal. Other = the "
    "rest, so the parts add up to the loss.";

static void
s_txt_funcs(FILE *out, const s_delta_t *d, size_t n)
{
    fputs("\nFunctions whose own time changed most (tottime summed over "
          "processes, seconds)\n",
          out);
    fprintf(out, "%10s %10s %10s  %s\n", "baseline", "parallel", "delta",
            "function");
    for (size_t i = 0; i < n; i++) {
        char fn[512];
        const char *cat = s_func_cat(d[i].fn);
        mpp_rep_short_func(fn, sizeof(fn), d[i].fn, true);
        fprintf(out, "%10.3f %10.3f %+10.3f  ", (double)d[i].base_ns / 1e9,
                (double)d[i].par_ns / 1e9,
                (double)(d[i].par_ns - d[i].base_ns) / 1e9);
        char tag[32] = "", clip[4 * MPP_REP_WIDTH + 4];
        if (cat != NULL) {
            snprintf(tag, sizeof(tag), "[%s] ", cat);
        }
        mpp_rep_clip(clip, sizeof(clip), fn, MPP_REP_WIDTH - 34 - strlen(tag));
        fprintf(out, "%s%s\n", tag, clip);
    }
    if (n == 0) {
        fputs("  none changed\n", out);
    }
}

static void
s_txt_doc(FILE *out, const mpp_session_t *base, const mpp_session_t *par,
          const mpp_compare_t *cmp, const s_delta_t *d, size_t n)
{
    fprintf(out, "mpprof compare\n");
    s_txt_side(out, "baseline:", base, cmp, false);
    s_txt_side(out, "parallel:", par, cmp, true);
    fputc('\n', out);
    s_txt_summary(out, cmp);
    size_t workers = 0;
    for (size_t i = 0; i < par->nprocs; i++) {
        workers += s_worker(par, &par->procs[i]);
    }
    s_txt_verdict(out, cmp, workers == 0);
    fputc('\n', out);
    mpp_rep_para(out, s_definitions, 2);
    s_txt_funcs(out, d, n);
}

int
mpp_compare_text(const mpp_session_t *base, const mpp_session_t *par,
                 FILE *out)
{
    return s_write(base, par, out, s_txt_doc);
}
