/*  The analysis the text and JSON reports and `compare` share: function
 *  ranking, thread time, process roles, category roots and call sites
 *  (terms defined in mpp_report_priv.h), and process lookup.
 */
#include "mpp_report_priv.h"
#include "mpp_map.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* ---- category roots and wrappers ---------------------------------------- */

#define S_MP "multiprocessing/"

/*  Roots by category.  Builtins carry cProfile's labels exactly; Python
 *  functions match by file suffix and name, whatever the install prefix.
 *  Lock types are named as the user made them: threading.Lock is a
 *  _thread.lock, and every multiprocessing Lock, RLock, Semaphore and
 *  Condition is a _multiprocessing.SemLock underneath. */
static const mpp_rep_root_t s_roots[] = {
    {MPP_CAT_LOCK_WAIT, "~", "<method 'acquire' of '_thread.lock' objects>",
     "Lock.acquire", "threading.Lock"},
    {MPP_CAT_LOCK_WAIT, "~", "<method '__enter__' of '_thread.lock' objects>",
     "with Lock", "threading.Lock"},
    {MPP_CAT_LOCK_WAIT, "~", "<method 'acquire' of '_thread.RLock' objects>",
     "RLock.acquire", "threading.RLock"},
    {MPP_CAT_LOCK_WAIT, "~",
     "<method '__enter__' of '_thread.RLock' objects>", "with RLock",
     "threading.RLock"},
    {MPP_CAT_LOCK_WAIT, "~",
     "<method 'acquire' of '_multiprocessing.SemLock' objects>",
     "SemLock.acquire", "multiprocessing lock"},
    {MPP_CAT_LOCK_WAIT, "~",
     "<method '__enter__' of '_multiprocessing.SemLock' objects>",
     "with SemLock", "multiprocessing lock"},
    {MPP_CAT_LOCK_WAIT, "threading.py", "wait", "Condition.wait",
     "threading.Condition"},
    {MPP_CAT_PICKLE, S_MP "reduction.py", "dumps", "ForkingPickler.dumps",
     NULL},
    {MPP_CAT_PICKLE, "~", "<method 'dump' of '_pickle.Pickler' objects>",
     "Pickler.dump", NULL},
    {MPP_CAT_PICKLE, "~", "<built-in method _pickle.dumps>", "pickle.dumps",
     NULL},
    {MPP_CAT_PICKLE, "~", "<built-in method _pickle.dump>", "pickle.dump",
     NULL},
    {MPP_CAT_UNPICKLE, "~", "<built-in method _pickle.loads>", "pickle.loads",
     NULL},
    {MPP_CAT_UNPICKLE, "~", "<built-in method _pickle.load>", "pickle.load",
     NULL},
    {MPP_CAT_UNPICKLE, "~", "<method 'load' of '_pickle.Unpickler' objects>",
     "Unpickler.load", NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "_recv_bytes",
     "Connection._recv_bytes", NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "_send_bytes",
     "Connection._send_bytes", NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "_recv", "Connection._recv",
     NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "_send", "Connection._send",
     NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "poll", "Connection.poll",
     NULL},
    {MPP_CAT_IPC_WAIT, S_MP "connection.py", "wait", "connection.wait",
     NULL},
};

/* Wrappers: (file suffix, name) of the plumbing a site is lifted through. */
static const char *const s_wrappers[][2] = {
    {S_MP "connection.py", "send"},
    {S_MP "connection.py", "recv"},
    {S_MP "connection.py", "send_bytes"},
    {S_MP "connection.py", "recv_bytes"},
    {S_MP "connection.py", "recv_bytes_into"},
    {S_MP "queues.py", "put"},
    {S_MP "queues.py", "get"},
    {S_MP "queues.py", "put_nowait"},
    {S_MP "queues.py", "get_nowait"},
    {S_MP "queues.py", "empty"},
    {S_MP "connection.py", "_poll"},
    {S_MP "synchronize.py", "__enter__"},
    {S_MP "pool.py", "get"},
    {S_MP "pool.py", "wait"},
    {"threading.py", "__enter__"},
    {"threading.py", "_acquire_restore"},
    {"threading.py", "_is_owned"},
    {"threading.py", "_wait_for_tstate_lock"},
};

/* `file` is `suffix` or ends in "/" + suffix. */
static bool
s_file_is(const char *file, const char *suffix)
{
    size_t n = strlen(file), k = strlen(suffix);
    return n >= k && strcmp(file + n - k, suffix) == 0 &&
           (n == k || file[n - k - 1] == '/');
}

/* Builtins' file, "~"; the first character is checked inline so that
 * most functions, which no root or wrapper name starts like, cost no
 * call at all. */
static bool
s_is_builtin(const char *file)
{
    return file[0] == '~' && file[1] == '\0';
}

const mpp_rep_root_t *
mpp_rep_root(const mpp_func_t *f)
{
    bool builtin = s_is_builtin(f->file);
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_roots); i++) {
        const mpp_rep_root_t *r = &s_roots[i];
        if (r->name[0] == f->name[0] && strcmp(r->name, f->name) == 0 &&
            (s_is_builtin(r->file) ? builtin
                                   : s_file_is(f->file, r->file))) {
            return r;
        }
    }
    return NULL;
}

static bool
s_is_wrapper(const mpp_func_t *f)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_wrappers); i++) {
        if (s_wrappers[i][1][0] == f->name[0] &&
            strcmp(s_wrappers[i][1], f->name) == 0 &&
            s_file_is(f->file, s_wrappers[i][0])) {
            return true;
        }
    }
    return false;
}

const char *
mpp_rep_cat_title(int cat)
{
    static const char *const titles[MPP_CAT_COUNT] = {
        "pickling", "unpickling", "lock wait", "IPC wait", "start-up",
    };
    return cat >= 0 && cat < MPP_CAT_COUNT ? titles[cat] : "?";
}

bool
mpp_rep_is_wait(int cat)
{
    return cat == MPP_CAT_LOCK_WAIT || cat == MPP_CAT_IPC_WAIT;
}

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

#define S_DESC(a, b)                                                          \
    do {                                                                      \
        if ((a) != (b)) {                                                     \
            return (a) > (b) ? -1 : 1;                                        \
        }                                                                     \
    } while (0)

static int
s_by_cumulative(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
    S_DESC(x->cost.tt_ns, y->cost.tt_ns);
    return s_by_key(x, y);
}

static int
s_by_tottime(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    S_DESC(x->cost.tt_ns, y->cost.tt_ns);
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
    return s_by_key(x, y);
}

static int
s_by_calls(const void *a, const void *b)
{
    const mpp_rep_row_t *x = a, *y = b;
    S_DESC(x->cost.ncalls, y->cost.ncalls);
    S_DESC(x->cost.ct_ns, y->cost.ct_ns);
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

/* ---- processes and threads ---------------------------------------------- */

/* "ok", "exit:N", "signal:N" or "lost"; no BYE at all counts as lost. */
void
mpp_rep_exit_str(const mpp_proc_t *p, char *buf, size_t size)
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

bool
mpp_rep_proc_lost(const mpp_proc_t *p)
{
    return p->exit_kind == MPP_EXIT_LOST || p->exit_kind == MPP_EXIT_RUNNING;
}

uint64_t
mpp_rep_thread_calls(const mpp_thread_t *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->nstats; i++) {
        n += t->stats[i].cost.ncalls;
    }
    return n;
}

/* The session's Python version, else the first one a process reported. */
const char *
mpp_rep_python(const mpp_session_t *s)
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

int64_t
mpp_rep_cat_ns(const mpp_catval_t cat[MPP_CAT_COUNT])
{
    int64_t ns = 0;
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        ns += (int64_t)cat[c].ns;
    }
    return ns;
}

int64_t
mpp_rep_thread_ns(const mpp_thread_t *t)
{
    int64_t tt = 0, cat = mpp_rep_cat_ns(t->cat);
    for (size_t i = 0; i < t->nstats; i++) {
        tt += t->stats[i].cost.tt_ns;
    }
    return tt > cat ? tt : cat;
}

int64_t
mpp_rep_proc_thread_ns(const mpp_proc_t *p)
{
    int64_t ns = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        ns += mpp_rep_thread_ns(&p->threads[i]);
    }
    return ns;
}

bool
mpp_rep_is_main(const mpp_proc_t *p)
{
    return p->start_method != NULL && strcmp(p->start_method, "main") == 0;
}

/*  The fork server's children inherit its command line, so only a process
 *  not itself started by the fork server counts as the server.  The
 *  semaphore tracker is the resource tracker's name before Python 3.8. */
bool
mpp_rep_is_helper(const mpp_proc_t *p)
{
    bool forked = p->start_method != NULL &&
                  strcmp(p->start_method, "forkserver") == 0;
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = p->argv[i];
        if (a != NULL && (strstr(a, "resource_tracker") != NULL ||
                          strstr(a, "semaphore_tracker") != NULL ||
                          (!forked && strstr(a, "forkserver") != NULL))) {
            return true;
        }
    }
    return false;
}

bool
mpp_rep_is_worker(const mpp_proc_t *p)
{
    return !mpp_rep_is_main(p) && !mpp_rep_is_helper(p);
}

static bool
s_selected(ssize_t proc, size_t i)
{
    return proc < 0 || (size_t)proc == i;
}

static bool
s_has_workers(const mpp_session_t *s, ssize_t proc)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s_selected(proc, i) && mpp_rep_is_worker(&s->procs[i])) {
            return true;
        }
    }
    return false;
}

void
mpp_rep_time(const mpp_session_t *s, ssize_t proc, mpp_rep_time_t *out)
{
    memset(out, 0, sizeof(*out));
    out->has_workers = s_has_workers(s, proc);
    for (size_t i = 0; i < s->nprocs; i++) {
        if (!s_selected(proc, i)) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t pc[MPP_CAT_COUNT];
        bool main_idle = out->has_workers && mpp_rep_is_main(p);
        mpp_proc_cats(p, pc);
        out->thread_ns += mpp_rep_proc_thread_ns(p);
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            out->cat[c].ns += pc[c].ns;
            out->cat[c].count += pc[c].count;
            out->cat[c].bytes += pc[c].bytes;
            if (main_idle && mpp_rep_is_wait(c)) {
                out->main_wait_ns += (int64_t)pc[c].ns;
            }
            else if (out->has_workers && c == MPP_CAT_IPC_WAIT) {
                out->pipe_wait_ns += (int64_t)pc[c].ns;
            }
            else {
                out->lead_ns[c] += (int64_t)pc[c].ns;
                out->lead_procs[c] += pc[c].ns > 0;
            }
        }
    }
    out->cat_ns = mpp_rep_cat_ns(out->cat);
    out->lead_cat = -1;
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        int lead = out->lead_cat;
        /* Between the two halves of serialisation, the larger names it. */
        if (out->lead_ns[c] > 0 &&
            (lead < 0 ||
             mpp_rep_lead_rank(out, c) > mpp_rep_lead_rank(out, lead) ||
             (mpp_rep_lead_rank(out, c) == mpp_rep_lead_rank(out, lead) &&
              out->lead_ns[c] > out->lead_ns[lead]))) {
            out->lead_cat = c;
        }
    }
}

/*  Pickling in one place is paid again as unpickling in another, and a
 *  slow pickler shows up in its peers as waits; so the two halves of
 *  serialisation rank together against the other costs. */
int64_t
mpp_rep_lead_rank(const mpp_rep_time_t *tm, int cat)
{
    if (cat == MPP_CAT_PICKLE || cat == MPP_CAT_UNPICKLE) {
        return tm->lead_ns[MPP_CAT_PICKLE] + tm->lead_ns[MPP_CAT_UNPICKLE];
    }
    return tm->lead_ns[cat];
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
    S_DESC(x->ns, y->ns);
    S_DESC(x->count, y->count);
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
        st->root[f] = mpp_rep_root(&s->funcs[f]);
        st->wrap[f] = st->root[f] == NULL && s_is_wrapper(&s->funcs[f]);
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
    bool workers = s_has_workers(s, proc);
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        const mpp_proc_t *p = &s->procs[i];
        bool skip = skip_main_waits && workers && mpp_rep_is_main(p);
        if (!s_selected(proc, i)) {
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
    /* A name that happens to be all digits still matches by name. */
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
