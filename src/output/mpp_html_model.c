/*  The model of report.html (see mpp_html.c): what the page's pictures
 *  need beyond the `report --json` document -- the processes with their
 *  threads and spans, each process's call graph (stats, caller -> callee
 *  edges and roots) and the functions they name -- written as the
 *  "model" of the page's JSON document, within the page's budgets.
 *  Names are escaped here as JSON only; mpp_html.c's stream makes every
 *  '<' harmless on the way into the page.
 */
#include "mpp_output.h"
#include "mpp_output_priv.h"
#include "mpp_report_priv.h" /* mpp_rep_json_str: the one JSON escaper */
#include "mpp_obuf.h"        /* mpp_ob_fmt_*: printf's digits, faster */

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

/* What the model is written with. */
typedef struct {
    const mpp_session_t *s;
    uint32_t *ids;   /* session function id -> model id, or UINT32_MAX */
    uint32_t *order; /* model id -> session function id */
    uint32_t nids;
    int64_t *inc;    /* per session function: the time its callers explain */
    /* The process at hand, summed over its threads (see s_proc_sum). */
    mpp_cost_t *acc; /* per session function, zero outside `touched` */
    uint8_t *seen;   /* per session function: in `touched` */
    uint32_t *touched;
    size_t ntouched;
    mpp_edge_t *edges; /* its edges, one per (caller, callee) */
    size_t nedges, capedges;
    int64_t *times;  /* the first pass's row times, for the floor */
    size_t ntimes, captimes;
    int64_t span_floor, row_floor; /* the shortest span, least row kept */
    uint64_t spans_dropped, rows_dropped;
} s_model_t;

/* The model's id of a session function, given on its first use. */
static uint32_t
s_id(s_model_t *m, uint32_t f)
{
    if (m->ids[f] == UINT32_MAX) {
        m->ids[f] = m->nids;
        m->order[m->nids++] = f;
    }
    return m->ids[f];
}

/*  The least of the `budget` largest of n times (which it reorders): the
 *  floor of what a budget keeps, everything as large being kept, so a few
 *  more than `budget` may be when times are equal.  INT64_MIN when all
 *  fit.  Quickselect, in linear time on average: pages of 64 processes
 *  have a million rows to choose from. */
static int64_t
s_floor(int64_t *v, size_t n, size_t budget)
{
    if (n <= budget) {
        return INT64_MIN;
    }
    size_t lo = 0, hi = n - 1, k = budget - 1; /* k-th largest, from 0 */
    uint64_t seed = n;
    while (lo < hi) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int64_t pivot = v[lo + (seed >> 33) % (hi - lo + 1)];
        /* Three parts: larger than the pivot, equal, smaller. */
        size_t a = lo, i = lo, b = hi + 1;
        while (i < b) {
            if (v[i] > pivot) {
                int64_t x = v[a];
                v[a++] = v[i];
                v[i++] = x;
            }
            else if (v[i] < pivot) {
                int64_t x = v[--b];
                v[b] = v[i];
                v[i] = x;
            }
            else {
                i++;
            }
        }
        if (k < a) {
            hi = a - 1;
        }
        else if (k >= b) {
            lo = b;
        }
        else {
            return pivot;
        }
    }
    return v[k];
}

/* The floor of the span budget, over every span.  0 or MPP_ENOMEM. */
static int
s_span_floor(s_model_t *m)
{
    const mpp_session_t *s = m->s;
    size_t n = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        for (size_t k = 0; k < s->procs[i].nthreads; k++) {
            n += s->procs[i].threads[k].nspans;
        }
    }
    m->span_floor = INT64_MIN;
    if (n <= MPP_HTML_MAX_SPANS) {
        return 0;
    }
    int64_t *v = malloc(n * sizeof(*v));
    if (v == NULL) {
        return MPP_ENOMEM;
    }
    n = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        for (size_t k = 0; k < s->procs[i].nthreads; k++) {
            const mpp_thread_t *t = &s->procs[i].threads[k];
            for (size_t j = 0; j < t->nspans; j++) {
                v[n++] = t->spans[j].dur_ns;
            }
        }
    }
    m->span_floor = s_floor(v, n, MPP_HTML_MAX_SPANS);
    free(v);
    return 0;
}

/* Rows of less than a microsecond cannot be drawn and are never kept. */
#define S_ROW_MIN_NS 1000

static int
s_cmp_edge(const void *a, const void *b)
{
    const mpp_edge_t *x = a, *y = b;
    if (x->caller != y->caller) {
        return x->caller < y->caller ? -1 : 1;
    }
    return x->callee < y->callee ? -1 : x->callee > y->callee;
}

/*  Process i's functions and edges summed over its threads, as its view
 *  (mpp_view_new) has them, into m->acc, m->touched and m->edges; ids
 *  beyond the session's functions are skipped, as the view skips them.
 *  Not the view itself: it allocates and clears arrays of every function
 *  of the session, which a page of 64 processes would do 64 times.
 *  Returns 0 or MPP_ENOMEM. */
static int
s_proc_sum(s_model_t *m, const mpp_proc_t *p)
{
    size_t n = m->s->nfuncs;
    m->ntouched = 0;
    m->nedges = 0;
    for (size_t k = 0; k < p->nthreads; k++) {
        const mpp_thread_t *t = &p->threads[k];
        for (size_t j = 0; j < t->nstats; j++) {
            const mpp_fstat_t *st = &t->stats[j];
            if (st->func >= n) {
                continue;
            }
            if (!m->seen[st->func]) {
                m->seen[st->func] = 1;
                m->touched[m->ntouched++] = st->func;
            }
            mpp_cost_add(&m->acc[st->func], &st->cost);
        }
        for (size_t j = 0; j < t->nedges; j++) {
            const mpp_edge_t *e = &t->edges[j];
            if (e->caller >= n || e->callee >= n) {
                continue;
            }
            if (m->nedges == m->capedges) {
                size_t cap = m->capedges ? 2 * m->capedges : 1024;
                mpp_edge_t *v = realloc(m->edges, cap * sizeof(*v));
                if (v == NULL) {
                    return MPP_ENOMEM;
                }
                m->edges = v;
                m->capedges = cap;
            }
            m->edges[m->nedges++] = *e;
        }
    }
    /* A thread holds one edge per pair; several threads may hold the
     * same pair, summed here. */
    if (p->nthreads > 1 && m->nedges > 1) {
        qsort(m->edges, m->nedges, sizeof(*m->edges), s_cmp_edge);
        size_t u = 0;
        for (size_t k = 1; k < m->nedges; k++) {
            if (m->edges[k].caller == m->edges[u].caller &&
                m->edges[k].callee == m->edges[u].callee) {
                mpp_cost_add(&m->edges[u].cost, &m->edges[k].cost);
            }
            else {
                m->edges[++u] = m->edges[k];
            }
        }
        m->nedges = u + 1;
    }
    return 0;
}

/*  One row of a process's call graph: in the first pass (out NULL) its
 *  time goes to m->times, for the floor of the row budget; in the second,
 *  the row is written when the budget keeps it (a stat: func, ncalls,
 *  tottime, cumtime; an edge: caller, callee, cumtime; a root: func, the
 *  time left), and counted when not.  Returns 0 or MPP_ENOMEM. */
enum { S_STAT, S_EDGE, S_ROOT };

static int
s_row(s_model_t *m, FILE *out, bool *first, int kind, uint32_t func,
      uint32_t callee, const mpp_cost_t *c)
{
    if (c->ct_ns < S_ROW_MIN_NS) {
        return 0;
    }
    if (out == NULL) {
        if (m->ntimes == m->captimes) {
            size_t cap = m->captimes ? 2 * m->captimes : 4096;
            int64_t *v = realloc(m->times, cap * sizeof(*v));
            if (v == NULL) {
                return MPP_ENOMEM;
            }
            m->times = v;
            m->captimes = cap;
        }
        m->times[m->ntimes++] = c->ct_ns;
        return 0;
    }
    if (c->ct_ns < m->row_floor) {
        m->rows_dropped++;
        return 0;
    }
    /* One fwrite of digits formatted here: rows are most of the page, and
     * three fprintf calls a row were most of its cost (every process's
     * functions and edges make rows). */
    char row[4 * 22];
    char *q = row;
    if (!*first) {
        *q++ = ',';
    }
    q = mpp_ob_fmt_u64(q, s_id(m, func));
    if (kind == S_STAT) {
        *q++ = ',';
        q = mpp_ob_fmt_u64(q, c->ncalls);
        *q++ = ',';
        q = mpp_ob_fmt_i64(q, s_us(c->tt_ns));
    }
    else if (kind == S_EDGE) {
        *q++ = ',';
        q = mpp_ob_fmt_u64(q, s_id(m, callee));
    }
    *q++ = ',';
    q = mpp_ob_fmt_i64(q, s_us(c->ct_ns));
    fwrite(row, 1, (size_t)(q - row), out);
    *first = false;
    return 0;
}

/*  Process i's call graph, summed over its threads: "stats", "edges" and
 *  "roots" (see s_row for the two passes).  Its roots are the functions
 *  whose cumulative time is more than their callers explain (by 1%, and
 *  by a microsecond at least, so that rounding makes no root), with the
 *  time left; a recursive call explains nothing, its time being inside
 *  the outer call's.  Returns 0 or MPP_ENOMEM. */
static int
s_graph(s_model_t *m, size_t i, FILE *out)
{
    int rc = s_proc_sum(m, &m->s->procs[i]);
    bool first = true;
    if (out != NULL) {
        fputs(", \"stats\": [", out);
    }
    for (size_t k = 0; k < m->ntouched && rc == 0; k++) {
        uint32_t f = m->touched[k];
        rc = s_row(m, out, &first, S_STAT, f, 0, &m->acc[f]);
    }
    if (out != NULL) {
        fputs("], \"edges\": [", out);
        first = true;
    }
    for (size_t k = 0; k < m->nedges && rc == 0; k++) {
        const mpp_edge_t *e = &m->edges[k];
        rc = s_row(m, out, &first, S_EDGE, e->caller, e->callee, &e->cost);
        if (e->caller != e->callee) {
            m->inc[e->callee] = mpp_add_sat_i64(m->inc[e->callee],
                                                e->cost.ct_ns);
        }
    }
    if (out != NULL) {
        fputs("], \"roots\": [", out);
        first = true;
    }
    for (size_t k = 0; k < m->ntouched && rc == 0; k++) {
        uint32_t f = m->touched[k];
        int64_t ct = m->acc[f].ct_ns, rest = ct - m->inc[f];
        if (ct > 0 && rest > ct / 100) {
            mpp_cost_t c = {.ct_ns = rest};
            rc = s_row(m, out, &first, S_ROOT, f, 0, &c);
        }
    }
    if (out != NULL) {
        fputc(']', out);
    }
    for (size_t k = 0; k < m->nedges; k++) {
        m->inc[m->edges[k].callee] = 0;
    }
    for (size_t k = 0; k < m->ntouched; k++) {
        m->acc[m->touched[k]] = (mpp_cost_t){0};
        m->seen[m->touched[k]] = 0;
    }
    return rc;
}

/*  The floor of the row budget: the first pass over every process's call
 *  graph.  Summing a process's threads again to write it costs less than
 *  keeping a million rows in memory.  Returns 0 or MPP_ENOMEM. */
static int
s_row_floor(s_model_t *m)
{
    int rc = 0;
    m->ntimes = 0;
    for (size_t i = 0; i < m->s->nprocs && rc == 0; i++) {
        rc = s_graph(m, i, NULL);
    }
    m->row_floor = rc == 0 ? s_floor(m->times, m->ntimes, MPP_HTML_MAX_ROWS)
                           : INT64_MIN;
    free(m->times);
    m->times = NULL;
    m->ntimes = m->captimes = 0;
    return rc;
}

/* The spans of one thread kept under the floor; counts those left out. */
static void
s_spans(FILE *out, s_model_t *m, const mpp_thread_t *t)
{
    bool first = true;
    fputs(", \"spans\": [", out);
    for (size_t i = 0; i < t->nspans; i++) {
        const mpp_span_t *sp = &t->spans[i];
        if (sp->dur_ns < m->span_floor) {
            m->spans_dropped++;
            continue;
        }
        int cat = sp->cat < MPP_CAT_COUNT ? (int)sp->cat : -1;
        long long func =
            sp->func < m->s->nfuncs ? (long long)s_id(m, sp->func) : -1;
        fprintf(out, "%s%d,%lld,%" PRId64 ",%" PRId64 ",%" PRIu64,
                first ? "" : ",", cat, func, s_rel_us(m->s, sp->start_ns),
                s_us(sp->dur_ns > 0 ? sp->dur_ns : 0), sp->bytes);
        first = false;
    }
    fputc(']', out);
}

static int
s_proc(FILE *out, s_model_t *m, size_t i)
{
    const mpp_session_t *s = m->s;
    const mpp_proc_t *p = &s->procs[i];
    fprintf(out, "{\"pid\": %" PRId64 ", \"ppid\": %" PRId64
            ", \"parent\": %zd, \"name\": ", p->pid, p->ppid, s_parent(s, i));
    mpp_rep_json_str(out, mpp_rep_proc_label(s, p));
    fprintf(out, ", \"start_us\": %" PRId64 ", \"wall_us\": %" PRId64
            ", \"exit\": ", s_rel_us(s, p->start_ns),
            s_us(p->wall_ns > 0 ? p->wall_ns : 0));
    char exit[32];
    mpp_rep_exit_str(p, exit, sizeof(exit));
    mpp_rep_json_str(out, exit);
    /* Where it ran, in a session across hosts (null on one host): the
     * timeline groups its lanes by host and names each. */
    fputs(", \"host\": ", out);
    if (p->host != NULL) {
        mpp_rep_json_str(out, p->host);
    }
    else {
        fputs("null", out);
    }
    if (p->ranked) {
        fprintf(out, ", \"rank\": %" PRId64, p->rank);
    }
    else {
        fputs(", \"rank\": null", out);
    }
    fputs(", \"threads\": [", out);
    for (size_t k = 0; k < p->nthreads; k++) {
        const mpp_thread_t *t = &p->threads[k];
        fprintf(out, "%s{\"tid\": %" PRIu32 ", \"name\": ", k ? ", " : "",
                MPP_TID_KERNEL(t->tid));
        mpp_rep_json_str(out, t->name);
        s_spans(out, m, t);
        fputc('}', out);
    }
    fputc(']', out);
    int rc = s_graph(m, i, out);
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
s_model_body(FILE *out, s_model_t *m)
{
    const mpp_session_t *s = m->s;
    int rc = s_span_floor(m);
    if (rc == 0) {
        rc = s_row_floor(m);
    }
    if (rc != 0) {
        return rc;
    }
    fprintf(out, "{\"wall_us\": %" PRId64 ", \"cats\": [",
            s_us(s->wall_ns > 0 ? s->wall_ns : 0));
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, "%s\"%s\"", c ? ", " : "", mpp_catalog_cat(c)->name);
    }
    fputs("],\n \"procs\": [", out);
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        fputs(i ? ",\n  " : "\n  ", out);
        rc = s_proc(out, m, i);
    }
    fputs("],\n \"funcs\": [", out);
    for (uint32_t k = 0; k < m->nids; k++) {
        const mpp_func_t *fn = &s->funcs[m->order[k]];
        fputs(k ? ",\n  [" : "\n  [", out);
        /* "?" for a name the wire did not give, as trace.json says. */
        mpp_rep_json_str(out, fn->file ? fn->file : "?");
        fprintf(out, ", %" PRId32 ", ", fn->line);
        mpp_rep_json_str(out, fn->name ? fn->name : "?");
        fprintf(out, ", %d]", s_func_cat(fn));
    }
    fprintf(out, "],\n \"functions_limit\": %u, \"spans_dropped\": %" PRIu64
            ", \"rows_dropped\": %" PRIu64 "}", MPP_HTML_MAX_FUNCS,
            m->spans_dropped, m->rows_dropped);
    return rc;
}

int
mpp_html_model(FILE *out, const mpp_session_t *s)
{
    size_t n = s->nfuncs ? s->nfuncs : 1;
    s_model_t m = {
        .s = s,
        .ids = malloc(n * sizeof(uint32_t)),
        .order = malloc(n * sizeof(uint32_t)),
        .inc = calloc(n, sizeof(int64_t)),
        .acc = calloc(n, sizeof(mpp_cost_t)),
        .seen = calloc(n, 1),
        .touched = malloc(n * sizeof(uint32_t)),
    };
    int rc = MPP_ENOMEM;
    if (m.ids != NULL && m.order != NULL && m.inc != NULL &&
        m.acc != NULL && m.seen != NULL &&
        m.touched != NULL) {
        memset(m.ids, 0xff, n * sizeof(uint32_t));
        rc = s_model_body(out, &m);
    }
    free(m.ids);
    free(m.order);
    free(m.inc);
    free(m.acc);
    free(m.seen);
    free(m.touched);
    free(m.edges);
    return rc;
}
