/*  Category roots, wrappers and call sites (terms defined in
 *  mpp_report_priv.h).  Which functions are roots and wrappers is the
 *  category catalog's to say (src/common/mpp_catalog.c); this finds the
 *  sites they make in the edges and spans of every thread.
 */
#include "mpp_report_priv.h"
#include "mpp_map.h"

#include <string.h>

/* ---- category roots and wrappers ---------------------------------------- */

const mpp_rep_root_t *
mpp_rep_root(const mpp_func_t *f)
{
    const mpp_catalog_entry_t *e = mpp_catalog_find(f->file, f->name);
    return e != NULL && e->role == MPP_ROLE_ROOT ? e : NULL;
}

bool
mpp_rep_is_wrapper(const mpp_func_t *f)
{
    const mpp_catalog_entry_t *e = mpp_catalog_find(f->file, f->name);
    return e != NULL && e->role == MPP_ROLE_WRAPPER;
}

uint8_t *
mpp_rep_func_flags(const mpp_session_t *s,
                   uint8_t (*flag)(const mpp_catalog_entry_t *e))
{
    uint8_t *fl = calloc(s->nfuncs ? s->nfuncs : 1, 1);
    for (size_t f = 0; fl != NULL && f < s->nfuncs; f++) {
        const mpp_catalog_entry_t *e =
            mpp_catalog_find(s->funcs[f].file, s->funcs[f].name);
        fl[f] = e != NULL ? flag(e) : 0;
    }
    return fl;
}

/* ---- call sites --------------------------------------------------------- */

#define S_END UINT32_MAX      /* the end of a list of edges */
#define S_BUSY (UINT32_MAX - 1) /* a lift in progress: a cycle */
#define S_LIFT_MAX 8            /* wrapper levels a site is lifted through */

/* A site of one thread, remembered so its spans can find it. */
typedef struct {
    uint32_t cat, caller, orig, callee;
    uint64_t count;
    size_t gix; /* index in mpp_rep_sites_t.site */
} s_tsite_t;

typedef struct {
    const mpp_session_t *s;
    mpp_rep_sites_t *out;
    const mpp_rep_root_t **root; /* per function */
    uint8_t *wrap;               /* per function */
    bool any_wrap;               /* some function is a wrapper */
    mpp_map_t *ix[MPP_CAT_COUNT];
    /* This thread's callers of each function: callee -> first edge, then
     * next[edge] until S_END; and the lifts done so far. */
    mpp_map_t *callers;
    uint32_t *next;
    size_t capnext;
    mpp_map_t *lifted;
    s_tsite_t *ts;
    size_t nts, capts;
} s_sites_t;

static int
s_site_get(s_sites_t *st, uint32_t cat, uint32_t caller, uint32_t callee,
           int64_t pid, size_t *gix)
{
    mpp_rep_sites_t *out = st->out;
    uint64_t key = (uint64_t)caller << 32 | callee;
    uint32_t ix;
    if (!mpp_map_get(st->ix[cat], key, &ix)) {
        if (out->n >= UINT32_MAX ||
            mpp_grow((void **)&out->site, &out->cap, out->n + 1,
                     sizeof(*out->site)) != 0 ||
            mpp_map_put(st->ix[cat], key, (uint32_t)out->n) != 0) {
            return MPP_ENOMEM;
        }
        ix = (uint32_t)out->n++;
        memset(&out->site[ix], 0, sizeof(out->site[ix]));
        out->site[ix].cat = cat;
        out->site[ix].caller = caller;
        out->site[ix].callee = callee;
    }
    mpp_rep_site_t *site = &out->site[ix];
    if (site->npids == 0 || site->pids[site->npids - 1] != pid) {
        if (mpp_grow((void **)&site->pids, &site->cappids, site->npids + 1,
                     sizeof(*site->pids)) != 0) {
            return MPP_ENOMEM;
        }
        site->pids[site->npids++] = pid;
    }
    *gix = ix;
    return 0;
}

/*  The function a site at `f` is lifted to: through a wrapper to the one
 *  function all its callers (lifted in turn) come down to; the wrapper
 *  itself when they differ, so no call is attributed to a guess.  Results
 *  are remembered per thread, which also bounds the work on odd graphs,
 *  and a cycle of wrappers stops at the wrapper. */
static uint32_t
s_lift_at(s_sites_t *st, const mpp_thread_t *t, uint32_t f, int depth)
{
    uint32_t ix, to = MPP_REP_NOFUNC;
    if (depth >= S_LIFT_MAX || f >= st->s->nfuncs || !st->wrap[f] ||
        !mpp_map_get(st->callers, f, &ix)) {
        return f;
    }
    if (mpp_map_get(st->lifted, f, &to)) {
        return to == S_BUSY ? f : to;
    }
    if (mpp_map_put(st->lifted, f, S_BUSY) != 0) {
        return f; /* out of memory: no lift, still a right answer */
    }
    for (to = MPP_REP_NOFUNC; ix != S_END; ix = st->next[ix]) {
        uint32_t c = s_lift_at(st, t, t->edges[ix].caller, depth + 1);
        if (to != MPP_REP_NOFUNC && c != to) {
            to = f;
            break;
        }
        to = c;
    }
    /* A failed put leaves S_BUSY, which later reads take as "no lift". */
    (void)mpp_map_put(st->lifted, f, to);
    return to;
}

static uint32_t
s_lift(s_sites_t *st, const mpp_thread_t *t, uint32_t f)
{
    return s_lift_at(st, t, f, 0);
}

static int
s_thread_callers(s_sites_t *st, const mpp_thread_t *t)
{
    mpp_map_destroy(&st->callers);
    mpp_map_destroy(&st->lifted);
    if ((st->callers = mpp_map_new()) == NULL ||
        (st->lifted = mpp_map_new()) == NULL ||
        mpp_grow((void **)&st->next, &st->capnext, t->nedges + 1,
                 sizeof(*st->next)) != 0) {
        return MPP_ENOMEM;
    }
    /* Only a wrapper's callers are ever looked up (s_lift_at). */
    for (size_t i = 0; i < t->nedges && i < S_BUSY && st->any_wrap; i++) {
        const mpp_edge_t *e = &t->edges[i];
        uint32_t head;
        if (e->caller == e->callee || e->caller >= st->s->nfuncs ||
            e->callee >= st->s->nfuncs || !st->wrap[e->callee]) {
            continue;
        }
        st->next[i] = mpp_map_get(st->callers, e->callee, &head) ? head
                                                                  : S_END;
        if (mpp_map_put(st->callers, e->callee, (uint32_t)i) != 0) {
            return MPP_ENOMEM;
        }
    }
    return 0;
}

/* A root reached from another root of its category is nested: the outer
 * call already counts its time. */
static bool
s_nested(const s_sites_t *st, uint32_t caller, uint32_t cat)
{
    return caller < st->s->nfuncs && st->root[caller] != NULL &&
           (uint32_t)st->root[caller]->cat == cat;
}

static int
s_thread_edges(s_sites_t *st, const mpp_thread_t *t, int64_t pid,
               bool skip_waits)
{
    st->nts = 0;
    for (size_t i = 0; i < t->nedges; i++) {
        const mpp_edge_t *e = &t->edges[i];
        const mpp_rep_root_t *r =
            e->callee < st->s->nfuncs ? st->root[e->callee] : NULL;
        if (r == NULL || e->caller >= st->s->nfuncs ||
            (skip_waits && mpp_rep_is_wait(r->cat))) {
            continue;
        }
        uint32_t cat = (uint32_t)r->cat;
        uint32_t caller = s_lift(st, t, e->caller);
        size_t gix;
        if (s_nested(st, caller, cat)) {
            continue;
        }
        if (s_site_get(st, cat, caller, e->callee, pid, &gix) != 0 ||
            mpp_grow((void **)&st->ts, &st->capts, st->nts + 1,
                     sizeof(*st->ts)) != 0) {
            return MPP_ENOMEM;
        }
        st->out->site[gix].count += e->cost.ncalls;
        st->out->site[gix].ns += e->cost.ct_ns;
        st->ts[st->nts++] = (s_tsite_t){cat, caller, e->caller, e->callee,
                                        e->cost.ncalls, gix};
    }
    return 0;
}

/*  A span names the function running when it began: the caller of the
 *  root, or the root itself, depending on where the collector noticed.
 *  Either way it joins this thread's edge site with the most calls that
 *  fits; a span of a root that no edge reached is left out (its bytes
 *  stay in the category totals). */
static int
s_thread_spans(s_sites_t *st, const mpp_thread_t *t, int64_t pid,
               bool skip_waits)
{
    for (size_t i = 0; i < t->nspans; i++) {
        const mpp_span_t *sp = &t->spans[i];
        uint32_t f = sp->func;
        if (sp->cat >= MPP_CAT_COUNT || sp->cat == MPP_CAT_STARTUP ||
            f >= st->s->nfuncs || (skip_waits && mpp_rep_is_wait(sp->cat))) {
            continue;
        }
        bool is_root = st->root[f] != NULL;
        const s_tsite_t *best = NULL;
        for (size_t k = 0; k < st->nts; k++) {
            const s_tsite_t *ts = &st->ts[k];
            bool fits = is_root ? ts->callee == f
                                : ts->orig == f || ts->caller == f;
            if (ts->cat == sp->cat && fits &&
                (best == NULL || ts->count > best->count)) {
                best = ts;
            }
        }
        if (best != NULL) {
            st->out->site[best->gix].bytes += sp->bytes;
            continue;
        }
        uint32_t caller = s_lift(st, t, f);
        size_t gix;
        if (is_root || s_nested(st, caller, sp->cat)) {
            continue;
        }
        if (s_site_get(st, sp->cat, caller, MPP_REP_NOFUNC, pid, &gix) != 0) {
            return MPP_ENOMEM;
        }
        mpp_rep_site_t *site = &st->out->site[gix];
        site->count++;
        site->ns += sp->dur_ns;
        site->bytes += sp->bytes;
    }
    return 0;
}

static int
s_site_cmp(const void *a, const void *b)
{
    const mpp_rep_site_t *x = a, *y = b;
    if (x->cat != y->cat) {
        return x->cat < y->cat ? -1 : 1;
    }
    MPP_REP_DESC(x->ns, y->ns);
    MPP_REP_DESC(x->count, y->count);
    if (x->caller != y->caller) {
        return x->caller < y->caller ? -1 : 1;
    }
    return x->callee < y->callee ? -1 : x->callee > y->callee;
}

static int
s_sites_init(s_sites_t *st, const mpp_session_t *s, mpp_rep_sites_t *out)
{
    size_t n = s->nfuncs ? s->nfuncs : 1;
    st->s = s;
    st->out = out;
    st->root = calloc(n, sizeof(*st->root));
    st->wrap = calloc(n, 1);
    if (st->root == NULL || st->wrap == NULL) {
        return MPP_ENOMEM;
    }
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        if ((st->ix[c] = mpp_map_new()) == NULL) {
            return MPP_ENOMEM;
        }
    }
    for (size_t f = 0; f < s->nfuncs; f++) {
        /* One catalog lookup per function answers both questions. */
        const mpp_catalog_entry_t *e =
            mpp_catalog_find(s->funcs[f].file, s->funcs[f].name);
        st->root[f] = e != NULL && e->role == MPP_ROLE_ROOT ? e : NULL;
        st->wrap[f] = e != NULL && e->role == MPP_ROLE_WRAPPER;
        st->any_wrap = st->any_wrap || st->wrap[f];
    }
    return 0;
}

static void
s_sites_fini(s_sites_t *st)
{
    free(st->root);
    free(st->wrap);
    free(st->ts);
    free(st->next);
    mpp_map_destroy(&st->callers);
    mpp_map_destroy(&st->lifted);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        mpp_map_destroy(&st->ix[c]);
    }
}

int
mpp_rep_sites(const mpp_session_t *s, ssize_t proc, bool skip_main_waits,
              mpp_rep_sites_t *out)
{
    s_sites_t st = {0};
    memset(out, 0, sizeof(*out));
    int rc = s_sites_init(&st, s, out);
    bool workers = mpp_rep_has_workers(s, proc);
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        const mpp_proc_t *p = &s->procs[i];
        bool skip = skip_main_waits &&
                    mpp_rep_waits_for_workers(s, p, workers);
        if (!mpp_rep_selected(proc, i)) {
            continue;
        }
        for (size_t j = 0; j < p->nthreads && rc == 0; j++) {
            const mpp_thread_t *t = &p->threads[j];
            if ((rc = s_thread_callers(&st, t)) == 0 &&
                (rc = s_thread_edges(&st, t, p->pid, skip)) == 0) {
                rc = s_thread_spans(&st, t, p->pid, skip);
            }
        }
    }
    s_sites_fini(&st);
    if (rc != 0) {
        return rc;
    }
    if (out->n > 1) {
        qsort(out->site, out->n, sizeof(*out->site), s_site_cmp);
    }
    /* first[c] is the first site of category c or later. */
    size_t k = 0;
    for (uint32_t c = 0; c <= MPP_CAT_COUNT; c++) {
        while (k < out->n && out->site[k].cat < c) {
            k++;
        }
        out->first[c] = k;
    }
    return 0;
}

void
mpp_rep_sites_free(mpp_rep_sites_t *sites)
{
    for (size_t i = 0; i < sites->n; i++) {
        free(sites->site[i].pids);
    }
    free(sites->site);
    memset(sites, 0, sizeof(*sites));
}

/* The callee of a site as people know it, "?" when only spans know it. */
const char *
mpp_rep_site_via(const mpp_session_t *s, const mpp_rep_site_t *site)
{
    if (site->callee >= s->nfuncs) {
        return "?";
    }
    const mpp_rep_root_t *r = mpp_rep_root(&s->funcs[site->callee]);
    return r ? r->label : s->funcs[site->callee].name;
}
