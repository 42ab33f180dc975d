/*  What every report starts from: the function rows ranked like
 *  pstats.sort_stats, process lookup, and the begin/end pair around each
 *  report.  Thread time and process roles are in mpp_report_time.c, call
 *  sites in mpp_report_sites.c.
 */
#include "mpp_report_priv.h"

#include <errno.h>
#include <string.h>

/* ---- function rows ------------------------------------------------------ */

/* Ties fall back to (file, line, name) so the order is deterministic. */
static int
s_by_key(const mpp_rep_row_t *x, const mpp_rep_row_t *y)
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

static int
s_by_cumulative(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    MPP_REP_DESC(x->cost.ct_ns, y->cost.ct_ns);
    MPP_REP_DESC(x->cost.tt_ns, y->cost.tt_ns);
    return s_by_key(x, y);
}

static int
s_by_tottime(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    MPP_REP_DESC(x->cost.tt_ns, y->cost.tt_ns);
    MPP_REP_DESC(x->cost.ct_ns, y->cost.ct_ns);
    return s_by_key(x, y);
}

static int
s_by_calls(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    MPP_REP_DESC(x->cost.ncalls, y->cost.ncalls);
    MPP_REP_DESC(x->cost.ct_ns, y->cost.ct_ns);
    return s_by_key(x, y);
}

typedef int (*s_row_cmp_t)(const void *, const void *);

/*  Moves the row at `i` of a heap down to its place; the heap's root is
 *  the row that ranks last (the largest by `cmp`). */
static void
s_sift(mpp_rep_row_t *h, size_t n, size_t i, s_row_cmp_t cmp)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, big = i;
        if (l < n && cmp(&h[l], &h[big]) > 0) {
            big = l;
        }
        if (r < n && cmp(&h[r], &h[big]) > 0) {
            big = r;
        }
        if (big == i) {
            return;
        }
        mpp_rep_row_t t = h[i];
        h[i] = h[big];
        h[big] = t;
        i = big;
    }
}

mpp_rep_row_t *
mpp_rep_rows(const mpp_session_t *s, const mpp_view_t *v, mpp_sort_t sort,
             size_t limit, size_t *nrows)
{
    size_t n = v->nfuncs < s->nfuncs ? v->nfuncs : s->nfuncs, k = 0;
    s_row_cmp_t cmp = sort == MPP_SORT_TOTTIME ? s_by_tottime
                      : sort == MPP_SORT_CALLS ? s_by_calls
                                               : s_by_cumulative;
    size_t total = 0;
    for (size_t f = 0; f < n; f++) {
        total += v->func[f].ncalls > 0;
    }
    /* The order is total (ties fall back to the function's key, which is
     * unique), so the first `limit` rows of a full sort are exactly the
     * `limit` smallest: kept in a heap while scanning, then sorted. */
    size_t keep = limit && limit < total ? limit : total;
    mpp_rep_row_t *rows = malloc((keep ? keep : 1) * sizeof(*rows));
    if (rows == NULL) {
        return NULL;
    }
    bool heap = keep < total;
    for (size_t f = 0; f < n; f++) {
        if (v->func[f].ncalls == 0) {
            continue;
        }
        mpp_rep_row_t row = {&s->funcs[f], v->func[f], v->nprocs[f]};
        if (k < keep) {
            rows[k++] = row;
            if (heap && k == keep) {
                for (size_t i = keep / 2; i-- > 0;) {
                    s_sift(rows, keep, i, cmp);
                }
            }
        }
        else if (cmp(&row, &rows[0]) < 0) {
            rows[0] = row;
            s_sift(rows, keep, 0, cmp);
        }
    }
    qsort(rows, k, sizeof(*rows), cmp);
    *nrows = total;
    return rows;
}

/* ---- process lookup ----------------------------------------------------- */

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
    /* A name that happens to be all digits still matches by name: the
     * name every output shows (a helper's, "forkserver"), then the one
     * multiprocessing gave it. */
    for (size_t i = 0; i < s->nprocs; i++) {
        const char *label = mpp_rep_proc_label(s, &s->procs[i]);
        if (label != NULL && strcmp(label, spec) == 0) {
            return (ssize_t)i;
        }
    }
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].name && strcmp(s->procs[i].name, spec) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

/* ---- what every report starts from ------------------------------------ */

int
mpp_rep_begin(mpp_rep_t *r, const mpp_session_t *s,
              const mpp_report_opts_t *o, size_t default_limit, FILE *out)
{
    const mpp_report_opts_t def = {MPP_SORT_CUMULATIVE, 0, -1};
    memset(r, 0, sizeof(*r));
    r->o = o ? *o : def;
    if (s == NULL || out == NULL ||
        (r->o.proc >= 0 && (size_t)r->o.proc >= s->nprocs)) {
        return MPP_EINVAL;
    }
    r->limit = r->o.limit ? r->o.limit : default_limit;
    r->v = mpp_view_new(s, r->o.proc);
    r->rows = r->v ? mpp_rep_rows(s, r->v, r->o.sort, r->limit, &r->nrows)
                   : NULL;
    if (r->rows == NULL) {
        mpp_view_destroy(&r->v);
        return MPP_ENOMEM;
    }
    mpp_rep_time(s, r->o.proc, &r->tm);
    return 0;
}

int
mpp_rep_end(mpp_rep_t *r, int rc, FILE *out)
{
    free(r->rows);
    r->rows = NULL;
    mpp_view_destroy(&r->v);
    return rc ? rc : ferror(out) ? -EIO : 0;
}
