/*  The callgrind writer, for KCachegrind, QCacheGrind, callgrind_annotate
 *  and gprof2dot.  Costs are nanoseconds with `positions: line`; a
 *  function's own cost line carries its first line and its self time, and
 *  each caller -> callee edge becomes a call with the edge's inclusive
 *  time.  Python gives no call-site line, so calls are placed on the
 *  caller's first line, as pyprof2calltree does.
 *
 *  Reader behaviour this file is shaped by (see peers.md 4a):
 *  - KCachegrind forgets the called file after every call cost line, so
 *    every cfn= gets its own cfl= first.
 *  - KCachegrind clears name compression at each new part, so every part
 *    defines its ids again on first use.
 *  - A function's identity is its name plus its file, so two functions
 *    of the same name in one file (two __init__ methods) would merge;
 *    such names get ":<line>" appended.
 */
#include "mpp_output.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Ids and names shared by every part of one file. */
typedef struct {
    const mpp_session_t *s;
    FILE *out;
    uint32_t *file_id;  /* per function: id of its file, from 1 */
    uint32_t nfiles;
    uint8_t *clash;     /* per function: name shared in its file */
    uint8_t *fl_done;   /* per file id: defined in the current part */
    uint8_t *fn_done;   /* per function: defined in the current part */
} s_cg_t;

/* A function as s_cg_init sorts it; qsort has no context argument. */
typedef struct {
    const char *file;
    const char *name;
    uint32_t ix;
} s_fkey_t;

static int
s_by_file_name(const void *a, const void *b)
{
    const s_fkey_t *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

static void
s_cg_fini(s_cg_t *cg)
{
    free(cg->file_id);
    free(cg->clash);
    free(cg->fl_done);
    free(cg->fn_done);
}

/*  Numbers the distinct files and marks clashing names, over every
 *  function of the session so that a function keeps the same name in the
 *  merged file and in every part. */
static int
s_cg_init(s_cg_t *cg, const mpp_session_t *s, FILE *out)
{
    size_t n = s->nfuncs;
    s_fkey_t *order = malloc((n ? n : 1) * sizeof(*order));
    memset(cg, 0, sizeof(*cg));
    cg->s = s;
    cg->out = out;
    cg->file_id = calloc(n ? n : 1, sizeof(*cg->file_id));
    cg->clash = calloc(n ? n : 1, 1);
    cg->fn_done = calloc(n ? n : 1, 1);
    cg->fl_done = calloc(n + 1, 1);
    if (order == NULL || cg->file_id == NULL || cg->clash == NULL ||
        cg->fn_done == NULL || cg->fl_done == NULL) {
        free(order);
        s_cg_fini(cg);
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].file = s->funcs[i].file;
        order[i].name = s->funcs[i].name;
        order[i].ix = (uint32_t)i;
    }
    qsort(order, n, sizeof(*order), s_by_file_name);
    for (size_t i = 0; i < n; i++) {
        bool same_file =
            i > 0 && strcmp(order[i - 1].file, order[i].file) == 0;
        cg->file_id[order[i].ix] = same_file ? cg->nfiles : ++cg->nfiles;
        if (same_file && strcmp(order[i - 1].name, order[i].name) == 0) {
            cg->clash[order[i].ix] = 1;
            cg->clash[order[i - 1].ix] = 1;
        }
    }
    free(order);
    return 0;
}

/* Writes a name on one line: callgrind has no escapes, so line breaks
 * become spaces, and an empty name would read as an id reference. */
static void
s_cg_text(FILE *out, const char *text)
{
    if (text == NULL || *text == '\0') {
        fputs("???", out);
        return;
    }
    for (const char *p = text; *p; p++) {
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
    }
}

static void
s_cg_file(s_cg_t *cg, const char *spec, uint32_t f)
{
    uint32_t id = cg->file_id[f];
    fprintf(cg->out, "%s=(%" PRIu32 ")", spec, id);
    if (!cg->fl_done[id]) {
        cg->fl_done[id] = 1;
        fputc(' ', cg->out);
        s_cg_text(cg->out, cg->s->funcs[f].file);
    }
    fputc('\n', cg->out);
}

static void
s_cg_func(s_cg_t *cg, const char *spec, uint32_t f)
{
    const mpp_func_t *fn = &cg->s->funcs[f];
    fprintf(cg->out, "%s=(%" PRIu32 ")", spec, f + 1);
    if (!cg->fn_done[f]) {
        cg->fn_done[f] = 1;
        fputc(' ', cg->out);
        s_cg_text(cg->out, fn->name);
        if (cg->clash[f]) {
            fprintf(cg->out, ":%" PRId32, fn->line);
        }
    }
    fputc('\n', cg->out);
}

/* Costs and lines are unsigned in the format. */
static uint64_t
s_ns(int64_t ns)
{
    return ns > 0 ? (uint64_t)ns : 0;
}

static int32_t
s_line(const mpp_func_t *f)
{
    return f->line > 0 ? f->line : 0;
}

static bool
s_present(const mpp_view_t *v, uint32_t f)
{
    return f < v->nfuncs && v->func[f].ncalls > 0;
}

static int
s_by_caller(const void *a, const void *b)
{
    const mpp_edge_t *x = a, *y = b;
    if (x->caller != y->caller) {
        return x->caller < y->caller ? -1 : 1;
    }
    if (x->callee != y->callee) {
        return x->callee < y->callee ? -1 : 1;
    }
    return 0;
}

/*  The body of one part: every function the view saw called, with its
 *  self cost and its calls.  Edges touching a function that was never
 *  seen called are left out, as in the pstats file. */
static int
s_cg_body(s_cg_t *cg, const mpp_view_t *v)
{
    const mpp_session_t *s = cg->s;
    size_t n = v->nfuncs < s->nfuncs ? v->nfuncs : s->nfuncs;
    mpp_edge_t *edges = malloc((v->nedges ? v->nedges : 1) * sizeof(*edges));
    if (edges == NULL) {
        return MPP_ENOMEM;
    }
    if (v->nedges > 0) {
        memcpy(edges, v->edges, v->nedges * sizeof(*edges));
        qsort(edges, v->nedges, sizeof(*edges), s_by_caller);
    }
    memset(cg->fl_done, 0, cg->nfiles + 1);
    memset(cg->fn_done, 0, s->nfuncs);

    uint64_t summary = 0;
    for (uint32_t f = 0; f < n; f++) {
        summary += s_present(v, f) ? s_ns(v->func[f].tt_ns) : 0;
    }
    fprintf(cg->out, "summary: %" PRIu64 "\n", summary);

    size_t e = 0;
    for (uint32_t f = 0; f < n; f++) {
        if (!s_present(v, f)) {
            continue;
        }
        const mpp_func_t *fn = &s->funcs[f];
        fputc('\n', cg->out);
        s_cg_file(cg, "fl", f);
        s_cg_func(cg, "fn", f);
        fprintf(cg->out, "%" PRId32 " %" PRIu64 "\n", s_line(fn),
                s_ns(v->func[f].tt_ns));
        while (e < v->nedges && edges[e].caller < f) {
            e++;
        }
        for (; e < v->nedges && edges[e].caller == f; e++) {
            uint32_t callee = edges[e].callee;
            if (!s_present(v, callee)) {
                continue;
            }
            s_cg_file(cg, "cfl", callee);
            s_cg_func(cg, "cfn", callee);
            fprintf(cg->out,
                    "calls=%" PRIu64 " %" PRId32 "\n%" PRId32 " %" PRIu64
                    "\n",
                    edges[e].cost.ncalls, s_line(&s->funcs[callee]),
                    s_line(fn), s_ns(edges[e].cost.ct_ns));
        }
    }
    free(edges);
    return 0;
}

/* The lines every file starts with; `cmd:` once, since KCachegrind calls
 * a second, different one an error. */
static void
s_cg_header(const mpp_session_t *s, FILE *out)
{
    fputs("# callgrind format\nversion: 1\ncreator: mpprof ", out);
    s_cg_text(out, s->mpprof_version ? s->mpprof_version
                                     : MPPROF_VERSION_STRING);
    fputc('\n', out);
    if (s->ncommand > 0) {
        fputs("cmd:", out);
        for (size_t i = 0; i < s->ncommand; i++) {
            fputc(' ', out);
            s_cg_text(out, s->command[i]);
        }
        fputc('\n', out);
    }
}

/* The per-part header lines; `events:` must come once in every part. */
static void
s_cg_events(FILE *out)
{
    fputs("positions: line\nevent: ns : Nanoseconds\nevents: ns\n", out);
}

int
mpp_callgrind_write(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    if (s == NULL || v == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    s_cg_t cg;
    int rc = s_cg_init(&cg, s, out);
    if (rc != 0) {
        return rc;
    }
    s_cg_header(s, out);
    s_cg_events(out);
    rc = s_cg_body(&cg, v);
    s_cg_fini(&cg);
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}

/*  One part per process, numbered from 1, with `pid:` so KCachegrind's
 *  parts overview can show processes alone or summed.  The process name
 *  goes in a Trigger description, the one `desc:` KCachegrind displays. */
int
mpp_callgrind_write_parts(const mpp_session_t *s, FILE *out)
{
    if (s == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    s_cg_t cg;
    int rc = s_cg_init(&cg, s, out);
    if (rc != 0) {
        return rc;
    }
    s_cg_header(s, out);
    if (s->nprocs == 0) {
        s_cg_events(out);
        fputs("summary: 0\n", out);
    }
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        const mpp_proc_t *p = &s->procs[i];
        mpp_view_t *v = mpp_view_new(s, (ssize_t)i);
        if (v == NULL) {
            rc = MPP_ENOMEM;
            break;
        }
        fprintf(out, "%spart: %zu\npid: %" PRId64 "\ndesc: Trigger: ",
                i ? "\n" : "", i + 1, p->pid);
        s_cg_text(out, p->name ? p->name : "process");
        fprintf(out, " (pid %" PRId64 ", ppid %" PRId64 ", ", p->pid,
                p->ppid);
        s_cg_text(out, p->start_method ? p->start_method : "unknown");
        fputs(")\n", out);
        s_cg_events(out);
        rc = s_cg_body(&cg, v);
        mpp_view_destroy(&v);
    }
    s_cg_fini(&cg);
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}
