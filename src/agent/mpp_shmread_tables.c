/*  The mapping reader's tables: the registry, thread tables (checked,
 *  copied, closed at death, compared with what went out before) and
 *  spans; see mpp_shmread.h. */
#include "mpp_shmread_priv.h"

#include <stdlib.h>

void
mpp_sr_threads_free(s_thread_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].stats);
        free(t[i].edges);
    }
    free(t);
}

/*  `now` in the file's ticks: CLOCK_MONOTONIC `mono` (the test clock has
 *  no relation to real time, so its caller passes ticks), or for a live
 *  read the clock's current reading, as mpp_clock_peek gives it. */
int64_t
mpp_sr_ticks_at(const s_ctx_t *c, bool have_mono, int64_t mono)
{
    const mpp_clock_t *k = &c->root.clock;
    if (k->kind == MPP_CLOCK_TEST) {
        return have_mono ? mono : k->fake_now;
    }
    if (!have_mono) {
        return mpp_clock_peek(k);
    }
    if (k->kind == MPP_CLOCK_TSC) {
        double t = (double)s_sub(mono, k->mono0) / k->ns_per_tick;
        if (!(t < 9.0e18 && t > -9.0e18)) {
            return (int64_t)k->tsc0;
        }
        return s_add((int64_t)k->tsc0, (int64_t)t);
    }
    return mono;
}

/* ---- the registry and function definitions ----------------------------- */

void
mpp_sr_registry(s_ctx_t *c)
{
    struct mpp_funcs f;
    c->nfuncs = 0;
    if (c->root.funcs == NULL) {
        return;
    }
    if (!s_get(c, (uint64_t)(uintptr_t)c->root.funcs, sizeof(f), &f) ||
        f.ndefs >= MPP_WIRE_MAX_FUNCS ||
        !s_claim(c, (uint64_t)(uintptr_t)f.defs, f.ndefs, sizeof(mpp_fdef_t))) {
        s_bad(c);
        c->held += !c->settled; /* a table regrown past a live copy */
        return;
    }
    c->nfuncs = f.ndefs;
    c->defs_ptr = f.defs;
}

/*  Adds the definition of `fid` to the message unless some message has
 *  carried it; false for an id the registry does not hold.
 *
 *  A live copy is not one moment of the file: the writer may have added
 *  a definition, counted in the registry as copied, whose strings lie
 *  past the bytes the copy took.  Such a definition is left for a later
 *  read (false here, and the caller keeps what names it for that read
 *  too): sent with "?" for its names it would be taken as sent for good,
 *  and the function's counts would stay under "?" (test_hosts, MPI).  A
 *  settled file does not change any more: what does not read then is
 *  damage, and the function is named "?". */
static bool
s_take_def(s_ctx_t *c, uint32_t fid)
{
    mpp_shmread_t *r = c->r;
    if (fid >= c->nfuncs) {
        return false;
    }
    if (fid < r->nfstate && r->fstate[fid] != F_UNSENT) {
        return true;
    }
    if (fid >= r->nfstate) {
        /* Bounded: nfuncs is claimed against the bytes read. */
        uint8_t *s = realloc(r->fstate, c->nfuncs);
        if (s == NULL) {
            return false;
        }
        memset(s + r->nfstate, F_UNSENT, c->nfuncs - r->nfstate);
        r->fstate = s;
        r->nfstate = c->nfuncs;
    }
    mpp_fdef_t d;
    mpp_wfunc_t *w = &c->wf[c->nwf];
    if (c->nwf == c->capwf) {
        return false; /* cannot happen: capwf counts every reference */
    }
    bool whole =
        s_get(c, (uint64_t)(uintptr_t)(c->defs_ptr + fid), sizeof(d), &d);
    const char *file = whole ? s_str(c, d.file) : NULL;
    const char *name = whole ? s_str(c, d.name) : NULL;
    if (file == NULL || name == NULL) {
        s_bad(c); /* torn (counted apart by the agent) or damaged */
        if (!c->settled) {
            return false;
        }
    }
    w->fid = fid;
    w->file = file != NULL ? file : "?";
    w->name = name != NULL ? name : "?";
    w->line = whole ? d.line : 0;
    r->fstate[fid] = F_TAKEN;
    c->nwf++;
    return true;
}

void
mpp_sr_settle_defs(s_ctx_t *c, bool sent)
{
    for (size_t i = 0; i < c->nwf; i++) {
        c->r->fstate[c->wf[i].fid] = sent ? F_SENT : F_UNSENT;
    }
}

/* ---- threads ----------------------------------------------------------- */

typedef struct {
    uint64_t tid;
    uint64_t ptr;
} s_tref_t;

static int
s_cmp_tref(const void *a, const void *b)
{
    uint64_t x = ((const s_tref_t *)a)->tid;
    uint64_t y = ((const s_tref_t *)b)->tid;
    return x < y ? -1 : x > y;
}

static int
s_cmp_thread(const void *key, const void *elem)
{
    uint64_t x = *(const uint64_t *)key;
    uint64_t y = ((const s_thread_t *)elem)->tid;
    return x < y ? -1 : x > y;
}

static inline uint8_t
s_cur(const mpp_tstate_t *t)
{
    return t->cat_depth > 0 ? t->cat_stack[t->cat_depth - 1].cat : t->cat_base;
}

/* mpp_cats.c's s_charge on a private copy. */
static void
s_charge(mpp_tstate_t *t, int64_t now)
{
    uint8_t k = s_cur(t);
    if (k != MPP_CAT_NONE && now > t->cat_since) {
        t->cat[k].ns += (uint64_t)s_sub(now, t->cat_since);
    }
    t->cat_since = now;
}

static void
s_span(s_ctx_t *c, uint64_t tid, const mpp_span_rec_t *s)
{
    if (c->nws == c->capws) {
        return;
    }
    mpp_wspan_t *w = &c->ws[c->nws++];
    w->tid = tid;
    w->cat = s->cat;
    w->fid = s->fid;
    w->start_ns = s_sub(c->real_now, s_ns(c, s_sub(c->now, s->start)));
    w->dur_ns = s_ns(c, s->dur);
    w->bytes = s->bytes;
}

/*  mpp_tstate_unwind on private copies: every open frame returns at
 *  c->now, with mpp_tstate_leave's arithmetic, and every category
 *  interval a frame opened ends with it, as mpp_cats_leave ends it. */
static void
s_unwind(s_ctx_t *c, mpp_tstate_t *t, mpp_ts_stat_t *st, mpp_ts_edge_t *ed)
{
    mpp_ts_frame_t *fr = NULL;
    uint32_t depth = t->depth;
    if (depth > 0 && s_claim(c, (uint64_t)(uintptr_t)t->stack, depth,
                             sizeof(*fr)) &&
        (fr = malloc((size_t)depth * sizeof(*fr))) != NULL) {
        s_get(c, (uint64_t)(uintptr_t)t->stack, (uint64_t)depth * sizeof(*fr),
              fr);
    }
    else if (depth > 0) {
        s_bad(c);
        depth = 0;
    }
    int64_t now = c->now;
    while (depth > 0) {
        mpp_ts_frame_t *f = &fr[--depth];
        int64_t total = s_sub(now, f->t0);
        int64_t own = s_sub(total, f->sub);
        if (depth > 0) {
            fr[depth - 1].sub = s_add(fr[depth - 1].sub, total);
        }
        if (f->stat != 0 && f->stat <= t->nstats) {
            mpp_ts_stat_t *s = &st[f->stat - 1];
            s->cost.tt_ns = s_add(s->cost.tt_ns, own);
            if (--s->level == 0) {
                s->cost.ct_ns = s_add(s->cost.ct_ns, total);
            }
        }
        if (f->edge != 0 && f->edge <= t->nedges) {
            mpp_ts_edge_t *e = &ed[f->edge - 1];
            e->cost.tt_ns = s_add(e->cost.tt_ns, own);
            if (--e->level == 0) {
                e->cost.ct_ns = s_add(e->cost.ct_ns, total);
            }
        }
        /* A forged bool may hold any byte: read it as one. */
        unsigned char opened;
        memcpy(&opened, &f->cat, 1);
        if (opened != 0 && t->cat_depth > 0) {
            mpp_ts_catlevel_t *l = &t->cat_stack[t->cat_depth - 1];
            s_charge(t, now);
            t->cat_depth--;
            mpp_span_rec_t rec = {.start = l->start,
                                  .dur = s_sub(now, l->start),
                                  .bytes = l->bytes,
                                  .fid = l->fid,
                                  .cat = l->cat};
            if (rec.dur >= c->span_min &&
                (rec.fid == MPP_NOFID || s_take_def(c, rec.fid))) {
                s_span(c, t->tid, &rec);
            }
        }
    }
    free(fr);
    t->cat_depth = 0; /* mpp_cats_thread_unwind */
    s_charge(t, now);
    if (t->cat_base == MPP_CAT_STARTUP) {
        /* A start-up cut short by the death is an interval too. */
        mpp_span_rec_t rec = {.start = t->startup_start,
                              .dur = s_sub(now, t->startup_start),
                              .fid = MPP_NOFID,
                              .cat = MPP_CAT_STARTUP};
        t->cat_base = MPP_CAT_NONE;
        if (rec.dur >= c->span_min) {
            s_span(c, t->tid, &rec);
        }
    }
}

/* Category state that cannot index anything it should not. */
static bool
s_cats_ok(const mpp_tstate_t *t)
{
    if (t->cat_depth > MPP_TS_CATS_DEPTH ||
        (t->cat_base != MPP_CAT_NONE && t->cat_base >= MPP_CAT_COUNT)) {
        return false;
    }
    for (uint32_t i = 0; i < t->cat_depth; i++) {
        if (t->cat_stack[i].cat >= MPP_CAT_COUNT) {
            return false;
        }
    }
    return true;
}

static bool
s_changed(const s_thread_t *p, uint32_t j, bool edge, const s_prev_t *now)
{
    const s_prev_t *a = edge ? p->edges : p->stats;
    uint32_t n = edge ? p->nedges : p->nstats;
    return j >= n || !a[j].valid || a[j].unsent || a[j].fid != now->fid ||
           a[j].fid2 != now->fid2 ||
           memcmp(&a[j].cost, &now->cost, sizeof(now->cost)) != 0;
}

static mpp_cost_t
s_cost_ns(const s_ctx_t *c, mpp_cost_t k)
{
    k.tt_ns = s_ns(c, k.tt_ns);
    k.ct_ns = s_ns(c, k.ct_ns);
    return k;
}

/*  One thread: copies and checks its tables, closes its frames for a
 *  final read, and adds what changed to the message.  Returns false only
 *  when out of memory. */
static bool
s_thread(s_ctx_t *c, const mpp_tstate_t *src)
{
    mpp_tstate_t t = *src;
    s_thread_t *nt = &c->next[c->nnext];
    mpp_wthread_t *w = &c->wt[c->nwt];
    memset(nt, 0, sizeof(*nt));
    memset(w, 0, sizeof(*w));
    if (!s_claim(c, (uint64_t)(uintptr_t)t.stats, t.nstats, sizeof(mpp_ts_stat_t)) ||
        !s_claim(c, (uint64_t)(uintptr_t)t.edges, t.nedges, sizeof(mpp_ts_edge_t))) {
        s_bad(c);
        c->held += !c->settled; /* torn, or the thread's end is not read */
        return true;
    }
    if (!s_cats_ok(&t)) {
        s_bad(c);
        t.cat_depth = 0;
        t.cat_base = MPP_CAT_NONE;
    }
    mpp_ts_stat_t *st = malloc((size_t)t.nstats * sizeof(*st) + 1);
    mpp_ts_edge_t *ed = malloc((size_t)t.nedges * sizeof(*ed) + 1);
    /* Not zeroed: the loops below write every entry, `valid` false for
     * one they reject. */
    nt->stats = malloc(((size_t)t.nstats + 1) * sizeof(s_prev_t));
    nt->edges = malloc(((size_t)t.nedges + 1) * sizeof(s_prev_t));
    w->stats = malloc((size_t)t.nstats * sizeof(mpp_wstat_t) + 1);
    w->edges = malloc((size_t)t.nedges * sizeof(mpp_wedge_t) + 1);
    if (st == NULL || ed == NULL || nt->stats == NULL || nt->edges == NULL ||
        w->stats == NULL || w->edges == NULL) {
        free(st);
        free(ed);
        free(nt->stats);
        free(nt->edges);
        free(w->stats);
        free(w->edges);
        return false;
    }
    s_get(c, (uint64_t)(uintptr_t)t.stats, (uint64_t)t.nstats * sizeof(*st), st);
    s_get(c, (uint64_t)(uintptr_t)t.edges, (uint64_t)t.nedges * sizeof(*ed), ed);
    nt->tid = t.tid;
    nt->nstats = t.nstats;
    nt->nedges = t.nedges;
    c->nnext++;
    /* Before the unwind, which ends the category the CPU time was last
     * read in. */
    w->has_cpu = mpp_tstate_cpu(&t, &w->cpu_ns, &w->cpu_cat_ns);
    if (c->final) {
        s_unwind(c, &t, st, ed);
    }
    const s_thread_t *p =
        c->r->nthreads == 0
            ? NULL
            : bsearch(&t.tid, c->r->threads, c->r->nthreads,
                      sizeof(s_thread_t), s_cmp_thread);
    static const s_thread_t none;
    if (p == NULL) {
        p = &none;
    }
    for (uint32_t j = 0; j < t.nstats; j++) {
        if (st[j].fid >= c->nfuncs) {
            s_bad(c);
            c->held += !c->settled; /* defined after the registry's copy */
            nt->stats[j] = (s_prev_t){.valid = false};
            continue;
        }
        s_prev_t v = {.fid = st[j].fid, .cost = st[j].cost, .valid = true};
        nt->stats[j] = v;
        if (!s_changed(p, j, false, &v)) {
            continue;
        }
        if (s_take_def(c, v.fid)) {
            w->stats[w->nstats++] =
                (mpp_wstat_t){.fid = v.fid, .cost = s_cost_ns(c, v.cost)};
        }
        else {
            nt->stats[j].unsent = true;
            c->held++;
        }
    }
    for (uint32_t j = 0; j < t.nedges; j++) {
        uint32_t a = ed[j].caller;
        uint32_t b = ed[j].callee;
        if (a == 0 || a > t.nstats || b == 0 || b > t.nstats ||
            !nt->stats[a - 1].valid || !nt->stats[b - 1].valid) {
            s_bad(c);
            nt->edges[j] = (s_prev_t){.valid = false};
            continue;
        }
        s_prev_t v = {.fid = nt->stats[a - 1].fid,
                      .fid2 = nt->stats[b - 1].fid,
                      .cost = ed[j].cost,
                      .valid = true};
        nt->edges[j] = v;
        if (!s_changed(p, j, true, &v)) {
            continue;
        }
        if (s_take_def(c, v.fid) && s_take_def(c, v.fid2)) {
            w->edges[w->nedges++] = (mpp_wedge_t){
                .caller = v.fid, .callee = v.fid2, .cost = s_cost_ns(c, v.cost)};
        }
        else {
            nt->edges[j].unsent = true;
            c->held++;
        }
    }
    /* mpp_cats_fill: the interval running now counts up to `now`. */
    uint8_t cur = s_cur(&t);
    int64_t running = 0;
    if (cur != MPP_CAT_NONE && c->now > t.cat_since) {
        running = s_sub(c->now, t.cat_since);
    }
    for (int k = 0; k < MPP_CAT_COUNT; k++) {
        int64_t ticks = s_add((int64_t)t.cat[k].ns, k == cur ? running : 0);
        w->cat[k].ns = (uint64_t)s_ns(c, ticks);
        w->cat[k].count = t.cat[k].count;
        w->cat[k].bytes = t.cat[k].bytes;
    }
    memcpy(nt->cat, w->cat, sizeof(nt->cat));
    nt->has_cpu = w->has_cpu;
    nt->cpu_ns = w->cpu_ns;
    nt->cpu_cat_ns = w->cpu_cat_ns;
    bool cats = p == &none || memcmp(p->cat, w->cat, sizeof(w->cat)) != 0 ||
                p->has_cpu != w->has_cpu || p->cpu_ns != w->cpu_ns ||
                p->cpu_cat_ns != w->cpu_cat_ns;
    free(st);
    free(ed);
    if (w->nstats + w->nedges == 0 && !cats) {
        free(w->stats);
        free(w->edges);
        memset(w, 0, sizeof(*w));
        return true;
    }
    w->tid = t.tid;
    w->name = s_str(c, t.name);
    c->nwt++;
    return true;
}

/*  The thread list: each table once (a forged list may repeat one, or
 *  give two the same id), in tid order.  Returns 0 or MPP_ENOMEM. */
int
mpp_sr_threads(s_ctx_t *c)
{
    uint32_t n = c->root.nthreads;
    uint64_t list = (uint64_t)(uintptr_t)c->root.threads;
    if (n == 0) {
        return 0;
    }
    if (!s_claim(c, list, n, sizeof(uint64_t))) {
        s_bad(c);
        return 0;
    }
    s_tref_t *refs = malloc((size_t)n * sizeof(*refs));
    mpp_tstate_t *ts = malloc((size_t)n * sizeof(*ts));
    c->next = calloc(n, sizeof(*c->next));
    c->wt = calloc(n, sizeof(*c->wt));
    if (refs == NULL || ts == NULL || c->next == NULL || c->wt == NULL) {
        free(refs);
        free(ts);
        return MPP_ENOMEM;
    }
    size_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t ptr = 0;
        s_get(c, list + (uint64_t)i * sizeof(ptr), sizeof(ptr), &ptr);
        if (c->budget < sizeof(mpp_tstate_t) ||
            !s_get(c, ptr, sizeof(mpp_tstate_t), &ts[m])) {
            s_bad(c);
            c->held += !c->settled;
            continue;
        }
        c->budget -= sizeof(mpp_tstate_t);
        refs[m] = (s_tref_t){.tid = ts[m].tid, .ptr = m};
        m++;
    }
    qsort(refs, m, sizeof(*refs), s_cmp_tref);
    c->capws += MPP_TS_CATS_DEPTH * m;
    c->ws = malloc((c->capws + 1) * sizeof(*c->ws)); /* see s_run */
    int rc = c->ws == NULL ? MPP_ENOMEM : 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        if ((i > 0 && refs[i].tid == refs[i - 1].tid) ||
            (i + 1 < m && refs[i].tid == refs[i + 1].tid)) {
            s_bad(c); /* which of them is the thread is unknowable */
            continue;
        }
        if (!s_thread(c, &ts[refs[i].ptr])) {
            rc = MPP_ENOMEM;
        }
    }
    free(refs);
    free(ts);
    return rc;
}

/* ---- spans ------------------------------------------------------------- */

/*  The span ring (mpp_layout.h) numbers every span; this reader took
 *  those below its previous total.  The new ones are those from there to
 *  the ring's total now, of which only the last MPP_SPANS_CAP can still
 *  be there; a slot whose number is not the one expected was overwritten
 *  (or is being written) since the total was copied.  Both count as
 *  lost.  A total below the previous one means the writer started over
 *  (a new incarnation in this file): everything is new then. */
void
mpp_sr_spans(s_ctx_t *c, uint64_t ptr)
{
    struct mpp_spans h;
    size_t head = offsetof(struct mpp_spans, span);
    c->spans_total = c->r->spans_seen;
    if (ptr == 0) {
        return;
    }
    if (!s_get(c, ptr, head, &h) ||
        !s_claim(c, ptr + head, MPP_SPANS_CAP, sizeof(mpp_span_rec_t))) {
        s_bad(c);
        return;
    }
    c->span_min = h.min;
    uint64_t from = h.total >= c->r->spans_seen ? c->r->spans_seen : 0;
    if (h.total - from > MPP_SPANS_CAP) {
        c->spans_lost = s_sat_add(c->spans_lost, h.total - from - MPP_SPANS_CAP);
        from = h.total - MPP_SPANS_CAP;
    }
    c->spans_total = h.total;
    for (uint64_t i = from; i < h.total; i++) {
        mpp_span_rec_t s = {0};
        s_get(c, ptr + head + (i % MPP_SPANS_CAP) * sizeof(s), sizeof(s),
              &s);
        if (s.seq != i + 1) {
            c->spans_lost = s_sat_add(c->spans_lost, 1);
            continue;
        }
        bool tid_ok = c->nnext > 0 &&
                      bsearch(&s.tid, c->next, c->nnext, sizeof(s_thread_t),
                              s_cmp_thread) != NULL;
        if (!tid_ok || s.cat >= MPP_CAT_COUNT) {
            s_bad(c);
            continue;
        }
        if (s.fid != MPP_NOFID && !s_take_def(c, s.fid)) {
            if (!c->settled) {
                /* Its function's definition was torn: this span and
                 * those after it wait for the next read, in order. */
                c->spans_total = i;
                c->held++;
                break;
            }
            s_bad(c);
            continue;
        }
        s_span(c, s.tid, &s);
    }
}
