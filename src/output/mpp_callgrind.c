/*  The callgrind writer, for KCachegrind, QCacheGrind, callgrind_annotate
 *  and gprof2dot.  Costs are nanoseconds with `positions: line`; a
 *  function's own cost line carries its first line and its self time, and
 *  each caller -> callee edge becomes a call with the edge's inclusive
 *  time.  Python gives no call-site line, so calls are placed on the
 *  caller's first line, as pyprof2calltree does.
 *
 *  Categories (issue 14) are extra events after the time: Pickle,
 *  Unpickle, LockWait, IpcWait and Startup, in nanoseconds.  The model
 *  keeps category totals per thread only, and per function nothing but
 *  the spans: intervals of at least MPPROF_SPAN_MIN_US (1 ms by default),
 *  each naming the function whose call entered the category
 *  (ForkingPickler.dumps, lock.acquire, Connection._recv_bytes, ...).  So
 *  a span's own time (its duration less the spans nested in it, as the
 *  categories are exclusive: mpp_output_priv.h) is that function's self
 *  cost in its category, and
 *  the call edges into the function share it in proportion to their
 *  inclusive time (exact when it has one caller, as most category entry
 *  points do in a thread).  Edges further up carry no category cost: the
 *  model has no call tree to say which of a caller's callers it belongs
 *  to, and an estimate there would look like a measurement.  Spans whose
 *  function is unknown (start-up before the first frame) and intervals
 *  shorter than a span appear in no function; the report's totals hold
 *  them.  Cost lines omit trailing zero events, as the format allows, so
 *  a function without category cost keeps its two-number line.
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
#include "mpp_hash.h"
#include "mpp_obuf.h"
#include "mpp_output.h"
#include "mpp_callgrind_priv.h"
#include "mpp_output_priv.h"
#include "mpp_sort.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Ids and names shared by every part of one file. */
typedef struct {
    const mpp_session_t *s;
    mpp_obuf_t ob;
    uint32_t *file_id;  /* per function: id of its file, from 1 */
    uint32_t nfiles;
    uint8_t *clash;     /* per function: name shared in its file */
    uint8_t *fl_done;   /* per file id: defined in the current part */
    uint8_t *fn_done;   /* per function: defined in the current part */
} s_cg_t;

/* A distinct file: its text and, once sorted, its id. */
typedef struct {
    const char *text; /* NULL: free slot */
    uint64_t hash;
    uint32_t id;
} s_file_t;

/* Text keys are masked into tables, so FNV-1a is finished with a mix. */
static uint64_t
s_hash(const char *text)
{
    return mpp_hash_mix64(mpp_hash_str(text));
}

static int
s_by_text(const void *a, const void *b)
{
    const s_file_t *const *x = a, *const *y = b;
    return strcmp((*x)->text, (*y)->text);
}

static int
s_by_name(const void *a, const void *b, void *ctx)
{
    const mpp_session_t *s = ctx;
    const mpp_kv_t *x = a, *y = b;
    return strcmp(s->funcs[x->val].name, s->funcs[y->val].name);
}

static void
s_cg_fini(s_cg_t *cg)
{
    free(cg->file_id);
    free(cg->clash);
    free(cg->fl_done);
    free(cg->fn_done);
    mpp_ob_fini(&cg->ob);
}

/*  The distinct files of the session in a hash table (kept at most half
 *  full, so it stays as small as the set of files), each function's slot
 *  in it in slot[].  Consecutive functions usually share a file, which
 *  then costs one strcmp. */
static int
s_cg_files(const mpp_session_t *s, s_file_t **tab_p, size_t *cap_p,
           size_t *nfiles_p, uint32_t *slot)
{
    size_t cap = 256, nfiles = 0;
    s_file_t *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL) {
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < s->nfuncs; i++) {
        const char *file = s->funcs[i].file;
        if (i > 0 && strcmp(file, tab[slot[i - 1]].text) == 0) {
            slot[i] = slot[i - 1];
            continue;
        }
        if ((nfiles + 1) * 2 > cap) {
            s_file_t *t = calloc(2 * cap, sizeof(*t));
            if (t == NULL) {
                free(tab);
                return MPP_ENOMEM;
            }
            for (size_t j = 0; j < cap; j++) {
                if (tab[j].text != NULL) {
                    size_t k = tab[j].hash & (2 * cap - 1);
                    while (t[k].text != NULL) {
                        k = (k + 1) & (2 * cap - 1);
                    }
                    t[k] = tab[j];
                    tab[j].id = (uint32_t)k; /* where it went */
                }
            }
            /* Earlier functions point at old slots: move them along. */
            for (size_t j = 0; j < i; j++) {
                slot[j] = tab[slot[j]].id;
            }
            free(tab);
            tab = t;
            cap *= 2;
        }
        uint64_t h = s_hash(file);
        size_t k = h & (cap - 1);
        while (tab[k].text != NULL &&
               (tab[k].hash != h || strcmp(tab[k].text, file) != 0)) {
            k = (k + 1) & (cap - 1);
        }
        if (tab[k].text == NULL) {
            tab[k] = (s_file_t){file, h, 0};
            nfiles++;
        }
        slot[i] = (uint32_t)k;
    }
    *tab_p = tab;
    *cap_p = cap;
    *nfiles_p = nfiles;
    return 0;
}

/*  Numbers the distinct files in strcmp order and marks the names that
 *  repeat within a file, over every function of the session so that a
 *  function keeps the same name in the merged file and in every part.
 *  Only the distinct files are sorted by text; repeated names are found
 *  by sorting (file id, hash of the name) keys, then comparing the names
 *  within each run of equal keys. */
static int
s_cg_number(s_cg_t *cg, const mpp_session_t *s)
{
    size_t n = s->nfuncs, cap = 0, nfiles = 0;
    s_file_t *tab = NULL, **order = NULL;
    uint32_t *slot = malloc((n ? n : 1) * sizeof(*slot));
    mpp_kv_t *kv = malloc((n ? n : 1) * sizeof(*kv));
    mpp_kv_t *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    int rc = MPP_ENOMEM;
    if (slot == NULL || kv == NULL || tmp == NULL ||
        s_cg_files(s, &tab, &cap, &nfiles, slot) != 0) {
        goto done;
    }
    order = malloc((nfiles ? nfiles : 1) * sizeof(*order));
    if (order == NULL) {
        goto done;
    }
    for (size_t j = 0, k = 0; j < cap; j++) {
        if (tab[j].text != NULL) {
            order[k++] = &tab[j];
        }
    }
    qsort(order, nfiles, sizeof(*order), s_by_text);
    for (size_t k = 0; k < nfiles; k++) {
        order[k]->id = (uint32_t)k + 1;
    }
    cg->nfiles = (uint32_t)nfiles;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = tab[slot[i]].id;
        cg->file_id[i] = id;
        kv[i].key = (uint64_t)id << 32 | (uint32_t)s_hash(s->funcs[i].name);
        kv[i].val = i;
    }
    mpp_sort_kv(kv, tmp, n);
    for (size_t i = 0, end; i < n; i = end) {
        for (end = i + 1; end < n && kv[end].key == kv[i].key; end++) {
        }
        /* Equal hashes in one file: sort the run by name, then equal
         * neighbours clash. */
        if (end - i > 2) {
            qsort_r(kv + i, end - i, sizeof(*kv), s_by_name, (void *)s);
        }
        for (size_t a = i; a + 1 < end; a++) {
            if (s_by_name(&kv[a], &kv[a + 1], (void *)s) == 0) {
                cg->clash[kv[a].val] = 1;
                cg->clash[kv[a + 1].val] = 1;
            }
        }
    }
    rc = 0;
done:
    free(slot);
    free(kv);
    free(tmp);
    free(order);
    free(tab);
    return rc;
}

static int
s_cg_init(s_cg_t *cg, const mpp_session_t *s, FILE *out)
{
    size_t n = s->nfuncs;
    memset(cg, 0, sizeof(*cg));
    cg->s = s;
    cg->file_id = calloc(n ? n : 1, sizeof(*cg->file_id));
    cg->clash = calloc(n ? n : 1, 1);
    cg->fn_done = calloc(n ? n : 1, 1);
    cg->fl_done = calloc(n + 1, 1);
    if (cg->file_id == NULL || cg->clash == NULL || cg->fn_done == NULL ||
        cg->fl_done == NULL || mpp_ob_init(&cg->ob, out) != 0 ||
        s_cg_number(cg, s) != 0) {
        s_cg_fini(cg);
        return MPP_ENOMEM;
    }
    return 0;
}

/* Writes a name on one line: callgrind has no escapes, so line breaks
 * become spaces, and an empty name would read as an id reference. */
static void
s_cg_text(mpp_obuf_t *ob, const char *text)
{
    if (text == NULL || *text == '\0') {
        mpp_ob_str(ob, "???");
        return;
    }
    for (const char *p = text; *p;) {
        size_t k = strcspn(p, "\n\r");
        mpp_ob_put(ob, p, k);
        p += k;
        if (*p) {
            mpp_ob_c(ob, ' ');
            p++;
        }
    }
}

/* "spec=(id)", then " name" the first time in a part, then a newline. */
static void
s_cg_ref(s_cg_t *cg, const char *spec, uint32_t id, uint8_t *done,
         const char *text, const int32_t *line)
{
    mpp_obuf_t *ob = &cg->ob;
    size_t k = strlen(spec);
    char *at = mpp_ob_room(ob, k + 24);
    memcpy(at, spec, k);
    at += k;
    *at++ = '=';
    *at++ = '(';
    at = mpp_ob_fmt_u64(at, id);
    *at++ = ')';
    ob->p = at;
    if (!*done) {
        *done = 1;
        mpp_ob_c(ob, ' ');
        s_cg_text(ob, text);
        if (line != NULL) {
            at = mpp_ob_room(ob, 24);
            *at++ = ':';
            ob->p = mpp_ob_fmt_i64(at, *line);
        }
    }
    mpp_ob_c(ob, '\n');
}

static void
s_cg_file(s_cg_t *cg, const char *spec, uint32_t f)
{
    uint32_t id = cg->file_id[f];
    s_cg_ref(cg, spec, id, &cg->fl_done[id], cg->s->funcs[f].file, NULL);
}

static void
s_cg_func(s_cg_t *cg, const char *spec, uint32_t f)
{
    const mpp_func_t *fn = &cg->s->funcs[f];
    s_cg_ref(cg, spec, f + 1, &cg->fn_done[f], fn->name,
             cg->clash[f] ? &fn->line : NULL);
}

static int32_t
s_line(const mpp_func_t *f)
{
    return f->line > 0 ? f->line : 0;
}

/*  The view's edges (sorted by callee, caller) in (caller, callee) order,
 *  as indexes into v->edges; NULL when out of memory. */
static uint32_t *
s_by_caller(const mpp_view_t *v)
{
    size_t n = v->nedges;
    uint32_t *ix = malloc((n ? n : 1) * sizeof(*ix));
    mpp_kv_t *kv = malloc((n ? n : 1) * sizeof(*kv));
    mpp_kv_t *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    if (ix == NULL || kv == NULL || tmp == NULL || n > UINT32_MAX) {
        free(ix);
        ix = NULL;
    }
    else {
        uint32_t maxcallee = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t c = v->edges[i].callee;
            maxcallee = c > maxcallee ? c : maxcallee;
        }
        unsigned bits = mpp_bit_width(maxcallee);
        for (size_t i = 0; i < n; i++) {
            kv[i].key = (uint64_t)v->edges[i].caller << bits |
                        v->edges[i].callee;
            kv[i].val = i;
        }
        mpp_sort_kv(kv, tmp, n);
        for (size_t i = 0; i < n; i++) {
            ix[i] = (uint32_t)kv[i].val;
        }
    }
    free(kv);
    free(tmp);
    return ix;
}

/*  The functions to visit for the view of process `proc` (all when < 0),
 *  ascending: for one process only those its threads have stats for, so
 *  a part costs what its process holds rather than the whole session.
 *  Sets *nlist; returns NULL with *nlist = SIZE_MAX to mean every
 *  function, and NULL with *nlist = 0 when out of memory. */
static uint32_t *
s_candidates(const mpp_session_t *s, const mpp_view_t *v, ssize_t proc,
             size_t *nlist)
{
    *nlist = SIZE_MAX;
    if (proc < 0) {
        return NULL;
    }
    const mpp_proc_t *p = &s->procs[proc];
    size_t total = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        total += p->threads[i].nstats;
    }
    if (total >= v->nfuncs / 4) {
        return NULL; /* as cheap to scan them all */
    }
    uint32_t *list = malloc((total ? total : 1) * sizeof(*list));
    mpp_kv_t *kv = malloc((total ? total : 1) * sizeof(*kv));
    mpp_kv_t *tmp = malloc((total ? total : 1) * sizeof(*tmp));
    if (list == NULL || kv == NULL || tmp == NULL) {
        free(list);
        free(kv);
        free(tmp);
        *nlist = 0;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        for (size_t j = 0; j < t->nstats; j++) {
            kv[k].key = t->stats[j].func;
            kv[k++].val = 0;
        }
    }
    mpp_sort_kv(kv, tmp, k);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if ((i == 0 || kv[i].key != kv[i - 1].key) &&
            mpp_cg_present(v, (uint32_t)kv[i].key)) {
            list[m++] = (uint32_t)kv[i].key;
        }
    }
    free(kv);
    free(tmp);
    *nlist = m;
    return list;
}

/*  The body of one part: every function the view saw called, with its
 *  self cost and its calls.  Edges touching a function that was never
 *  seen called are left out, as in the pstats file.  `proc` is the
 *  process the view holds, or -1 for all. */
static int
s_cg_body(s_cg_t *cg, const mpp_view_t *v, ssize_t proc)
{
    const mpp_session_t *s = cg->s;
    mpp_obuf_t *ob = &cg->ob;
    size_t n = v->nfuncs < s->nfuncs ? v->nfuncs : s->nfuncs;
    size_t nlist;
    uint32_t *list = s_candidates(s, v, proc, &nlist);
    uint32_t *order = s_by_caller(v);
    if (order == NULL || (list == NULL && nlist == 0)) {
        free(list);
        free(order);
        return MPP_ENOMEM;
    }
    if (list == NULL) {
        nlist = n;
    }
    mpp_cg_cats_t *cats = NULL;
    mpp_cg_in_t *in = NULL;
    if (mpp_cg_cats(s, v, proc, &cats, &in) != 0) {
        free(list);
        free(order);
        return MPP_ENOMEM;
    }
    memset(cg->fl_done, 0, cg->nfiles + 1);
    memset(cg->fn_done, 0, s->nfuncs);

    uint64_t summary = 0;
    mpp_cg_cats_t cat_sum = {{0}};
    for (size_t i = 0; i < nlist; i++) {
        uint32_t f = list ? list[i] : (uint32_t)i;
        if (!mpp_cg_present(v, f)) {
            continue;
        }
        summary += mpp_cg_ns(v->func[f].tt_ns);
        for (int c = 0; cats != NULL && c < MPP_CAT_COUNT; c++) {
            cat_sum.ns[c] += cats[f].ns[c];
        }
    }
    mpp_ob_str(ob, "summary: ");
    mpp_ob_u64(ob, summary);
    ob->p = mpp_cg_fmt_cats(mpp_ob_room(ob, 24 * MPP_CAT_COUNT), &cat_sum);
    mpp_ob_c(ob, '\n');

    size_t e = 0;
    for (size_t i = 0; i < nlist; i++) {
        uint32_t f = list ? list[i] : (uint32_t)i;
        if (f >= n || !mpp_cg_present(v, f)) {
            continue;
        }
        const mpp_func_t *fn = &s->funcs[f];
        mpp_ob_c(ob, '\n');
        s_cg_file(cg, "fl", f);
        s_cg_func(cg, "fn", f);
        char *at = mpp_ob_room(ob, 48 + 24 * MPP_CAT_COUNT);
        at = mpp_ob_fmt_i64(at, s_line(fn));
        *at++ = ' ';
        at = mpp_ob_fmt_u64(at, mpp_cg_ns(v->func[f].tt_ns));
        if (cats != NULL) {
            at = mpp_cg_fmt_cats(at, &cats[f]);
        }
        *at++ = '\n';
        ob->p = at;
        while (e < v->nedges && v->edges[order[e]].caller < f) {
            e++;
        }
        for (; e < v->nedges && v->edges[order[e]].caller == f; e++) {
            const mpp_edge_t *ed = &v->edges[order[e]];
            uint32_t callee = ed->callee;
            if (!mpp_cg_present(v, callee)) {
                continue;
            }
            s_cg_file(cg, "cfl", callee);
            s_cg_func(cg, "cfn", callee);
            at = mpp_ob_room(ob, 96 + 24 * MPP_CAT_COUNT);
            memcpy(at, "calls=", 6);
            at = mpp_ob_fmt_u64(at + 6, ed->cost.ncalls);
            *at++ = ' ';
            at = mpp_ob_fmt_i64(at, s_line(&s->funcs[callee]));
            *at++ = '\n';
            at = mpp_ob_fmt_i64(at, s_line(fn));
            *at++ = ' ';
            at = mpp_ob_fmt_u64(at, mpp_cg_ns(ed->cost.ct_ns));
            if (cats != NULL) {
                mpp_cg_cats_t ec;
                mpp_cg_edge_cats(&cats[callee], &in[callee], ed, &ec);
                at = mpp_cg_fmt_cats(at, &ec);
            }
            *at++ = '\n';
            ob->p = at;
        }
    }
    free(list);
    free(order);
    free(cats);
    free(in);
    return 0;
}

/* The lines every file starts with; `cmd:` once, since KCachegrind calls
 * a second, different one an error. */
static void
s_cg_header(const mpp_session_t *s, mpp_obuf_t *ob)
{
    mpp_ob_str(ob, "# callgrind format\nversion: 1\ncreator: mpprof ");
    s_cg_text(ob, s->mpprof_version ? s->mpprof_version
                                    : MPPROF_VERSION_STRING);
    mpp_ob_c(ob, '\n');
    if (s->ncommand > 0) {
        mpp_ob_str(ob, "cmd:");
        for (size_t i = 0; i < s->ncommand; i++) {
            mpp_ob_c(ob, ' ');
            s_cg_text(ob, s->command[i]);
        }
        mpp_ob_c(ob, '\n');
    }
}

/* The per-part header lines; `events:` must come once in every part. */
static void
s_cg_events(mpp_obuf_t *ob)
{
    mpp_ob_str(ob, "positions: line\nevent: ns : Nanoseconds\n");
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        mpp_ob_str(ob, "event: ");
        mpp_ob_str(ob, mpp_cg_cat_event[c][0]);
        mpp_ob_str(ob, " : ");
        mpp_ob_str(ob, mpp_cg_cat_event[c][1]);
        mpp_ob_c(ob, '\n');
    }
    mpp_ob_str(ob, "events: ns");
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        mpp_ob_c(ob, ' ');
        mpp_ob_str(ob, mpp_cg_cat_event[c][0]);
    }
    mpp_ob_c(ob, '\n');
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
    s_cg_header(s, &cg.ob);
    s_cg_events(&cg.ob);
    rc = s_cg_body(&cg, v, -1);
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
    mpp_obuf_t *ob = &cg.ob;
    s_cg_header(s, ob);
    if (s->nprocs == 0) {
        s_cg_events(ob);
        mpp_ob_str(ob, "summary: 0\n");
    }
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        const mpp_proc_t *p = &s->procs[i];
        mpp_view_t *v = mpp_view_new(s, (ssize_t)i);
        if (v == NULL) {
            rc = MPP_ENOMEM;
            break;
        }
        mpp_ob_str(ob, i ? "\npart: " : "part: ");
        mpp_ob_u64(ob, i + 1);
        mpp_ob_str(ob, "\npid: ");
        mpp_ob_i64(ob, p->pid);
        mpp_ob_str(ob, "\ndesc: Trigger: ");
        s_cg_text(ob, p->name ? p->name : "process");
        mpp_ob_str(ob, " (pid ");
        mpp_ob_i64(ob, p->pid);
        mpp_ob_str(ob, ", ppid ");
        mpp_ob_i64(ob, p->ppid);
        mpp_ob_str(ob, ", ");
        s_cg_text(ob, p->start_method ? p->start_method : "unknown");
        mpp_ob_str(ob, ")\n");
        s_cg_events(ob);
        rc = s_cg_body(&cg, v, (ssize_t)i);
        mpp_view_destroy(&v);
    }
    s_cg_fini(&cg);
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}
