/*  The session model (see mpp_session.h). */
#include "mpp_session.h"
#include "mpp_catalog.h"
#include "mpp_hash.h"
#include "mpp_map.h"
#include "mpp_sort.h"

#include <string.h>

/* The names are the category catalog's (src/common/mpp_catalog.c). */
const char *
mpp_cat_name(mpp_cat_t cat)
{
    return mpp_catalog_cat((int)cat)->name;
}

const char *
mpp_exit_kind_name(uint32_t kind)
{
    static const char *const names[] = {"running", "ok", "exit", "signal",
                                        "lost"};
    return kind < MPP_ARRAY_SIZE(names) ? names[kind] : "?";
}

mpp_session_t *
mpp_session_new(void)
{
    mpp_session_t *self = calloc(1, sizeof(*self));
    if (self == NULL) {
        return NULL;
    }
    self->func_ix = mpp_map_new();
    self->mpprof_version = mpp_strdup(MPPROF_VERSION_STRING);
    if (self->func_ix == NULL || self->mpprof_version == NULL) {
        mpp_session_destroy(&self);
    }
    return self;
}

static void
s_thread_fini(mpp_thread_t *t)
{
    free(t->name);
    free(t->stats);
    free(t->edges);
    free(t->spans);
    mpp_map_destroy(&t->stat_ix);
    mpp_map_destroy(&t->edge_ix);
}

static void
s_proc_fini(mpp_proc_t *p)
{
    free(p->host);
    free(p->worker);
    free(p->name);
    free(p->start_method);
    free(p->python);
    for (size_t i = 0; i < p->argc; i++) {
        free(p->argv[i]);
    }
    free(p->argv);
    for (size_t i = 0; i < p->nthreads; i++) {
        s_thread_fini(&p->threads[i]);
    }
    free(p->threads);
    mpp_map_destroy(&p->thread_ix);
    free(p->fid_dense);
    mpp_map_destroy(&p->fid_ix);
}

void
mpp_session_destroy(mpp_session_t **self_p)
{
    if (self_p == NULL || *self_p == NULL) {
        return;
    }
    mpp_session_t *self = *self_p;
    free(self->mpprof_version);
    free(self->python);
    for (size_t i = 0; i < self->ncommand; i++) {
        free(self->command[i]);
    }
    free(self->command);
    for (size_t i = 0; i < self->nfuncs; i++) {
        free(self->funcs[i].file);
        free(self->funcs[i].name);
    }
    free(self->funcs);
    for (size_t i = 0; i < self->nprocs; i++) {
        s_proc_fini(&self->procs[i]);
    }
    free(self->procs);
    mpp_map_destroy(&self->func_ix);
    free(self);
    *self_p = NULL;
}

/* Copies a string vector; on failure frees what it made. */
static int
s_copy_argv(char ***dst, size_t *dstc, const char *const *src, size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL) {
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(src[i] ? src[i] : "");
        if (v[i] == NULL) {
            while (i-- > 0) {
                free(v[i]);
            }
            free(v);
            return MPP_ENOMEM;
        }
    }
    for (size_t i = 0; i < *dstc; i++) {
        free((*dst)[i]);
    }
    free(*dst);
    *dst = v;
    *dstc = n;
    return 0;
}

int
mpp_proc_set_argv(mpp_proc_t *proc, const char *const *argv, size_t argc)
{
    return s_copy_argv(&proc->argv, &proc->argc, argv, argc);
}

int
mpp_session_set_command(mpp_session_t *self, char *const *argv, size_t argc)
{
    return s_copy_argv(&self->command, &self->ncommand,
                       (const char *const *)argv, argc);
}

/*  FNV-1a over file, a separator byte, and name, with the line mixed in:
 *  the key of the intern table (collisions probe on, see below). */
static uint64_t
s_func_hash(const char *file, int32_t line, const char *name)
{
    static const unsigned char sep = 0xff;
    uint64_t h = mpp_hash_str(file);
    h = mpp_hash_bytes_from(h, &sep, 1);
    h = mpp_hash_str_from(h, name);
    return h ^ mpp_hash_fib((uint32_t)line);
}

int64_t
mpp_session_intern(mpp_session_t *self, const char *file, int32_t line,
                   const char *name)
{
    file = file ? file : "";
    name = name ? name : "";
    /* Hash collisions probe the next key: no deletions, so this finds
     * every earlier insertion. */
    for (uint64_t key = s_func_hash(file, line, name);; key++) {
        uint32_t ix;
        if (!mpp_map_get(self->func_ix, key, &ix)) {
            break;
        }
        const mpp_func_t *f = &self->funcs[ix];
        if (f->line == line && strcmp(f->file, file) == 0 &&
            strcmp(f->name, name) == 0) {
            return ix;
        }
    }
    if (self->nfuncs >= UINT32_MAX - 1 ||
        mpp_grow((void **)&self->funcs, &self->capfuncs, self->nfuncs + 1,
                 sizeof(*self->funcs)) != 0) {
        return MPP_ENOMEM;
    }
    mpp_func_t *f = &self->funcs[self->nfuncs];
    f->file = strdup(file);
    f->name = strdup(name);
    f->line = line;
    if (f->file == NULL || f->name == NULL) {
        free(f->file);
        free(f->name);
        return MPP_ENOMEM;
    }
    uint64_t key = s_func_hash(file, line, name);
    uint32_t ignored;
    while (mpp_map_get(self->func_ix, key, &ignored)) {
        key++;
    }
    if (mpp_map_put(self->func_ix, key, (uint32_t)self->nfuncs) != 0) {
        free(f->file);
        free(f->name);
        return MPP_ENOMEM;
    }
    return (int64_t)self->nfuncs++;
}

ssize_t
mpp_session_proc_index(const mpp_session_t *self, int64_t pid)
{
    /* Newest first: with pid reuse the live incarnation is the last one. */
    for (size_t i = self->nprocs; i-- > 0;) {
        if (self->procs[i].pid == pid) {
            return (ssize_t)i;
        }
    }
    return -1;
}

ssize_t
mpp_session_proc_index_on(const mpp_session_t *self, const char *host,
                          int64_t pid)
{
    for (size_t i = self->nprocs; i-- > 0;) {
        const mpp_proc_t *p = &self->procs[i];
        if (p->pid != pid) {
            continue;
        }
        if (host == NULL ? p->host == NULL
                         : p->host != NULL && strcmp(p->host, host) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

size_t
mpp_session_keep(mpp_session_t *self,
                 bool (*keep)(const mpp_proc_t *proc, void *arg), void *arg)
{
    size_t k = 0;
    for (size_t i = 0; i < self->nprocs; i++) {
        if (keep(&self->procs[i], arg)) {
            if (k != i) {
                self->procs[k] = self->procs[i];
            }
            k++;
        }
        else {
            s_proc_fini(&self->procs[i]);
        }
    }
    self->nprocs = k;
    return k;
}

mpp_proc_t *
mpp_session_proc(mpp_session_t *self, int64_t pid, bool create)
{
    ssize_t ix = mpp_session_proc_index(self, pid);
    if (ix >= 0) {
        return &self->procs[ix];
    }
    return create ? mpp_session_add_proc(self, pid) : NULL;
}

mpp_proc_t *
mpp_session_add_proc(mpp_session_t *self, int64_t pid)
{
    if (mpp_grow((void **)&self->procs, &self->capprocs, self->nprocs + 1,
                 sizeof(*self->procs)) != 0) {
        return NULL;
    }
    mpp_proc_t *p = &self->procs[self->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

mpp_thread_t *
mpp_proc_thread(mpp_proc_t *proc, uint64_t tid, bool create)
{
    uint32_t ix;
    if (proc->thread_ix != NULL && mpp_map_get(proc->thread_ix, tid, &ix)) {
        return &proc->threads[ix];
    }
    if (!create || proc->nthreads >= UINT32_MAX) {
        return NULL;
    }
    if (proc->thread_ix == NULL && (proc->thread_ix = mpp_map_new()) == NULL) {
        return NULL;
    }
    if (mpp_grow((void **)&proc->threads, &proc->capthreads,
                 proc->nthreads + 1, sizeof(*proc->threads)) != 0 ||
        mpp_map_put(proc->thread_ix, tid, (uint32_t)proc->nthreads) != 0) {
        return NULL;
    }
    mpp_thread_t *t = &proc->threads[proc->nthreads++];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    return t;
}

/* Makes *ix on first use (see mpp_thread_t). */
static int
s_lazy_map(mpp_map_t **ix)
{
    if (*ix == NULL && (*ix = mpp_map_new()) == NULL) {
        return MPP_ENOMEM;
    }
    return 0;
}

int
mpp_thread_set_stat(mpp_thread_t *t, uint32_t func, const mpp_cost_t *c)
{
    uint32_t ix;
    if (s_lazy_map(&t->stat_ix) != 0) {
        return MPP_ENOMEM;
    }
    if (mpp_map_get(t->stat_ix, func, &ix)) {
        t->stats[ix].cost = *c;
        return 0;
    }
    if (mpp_grow((void **)&t->stats, &t->capstats, t->nstats + 1,
                 sizeof(*t->stats)) != 0 ||
        mpp_map_put(t->stat_ix, func, (uint32_t)t->nstats) != 0) {
        return MPP_ENOMEM;
    }
    t->stats[t->nstats].func = func;
    t->stats[t->nstats].cost = *c;
    t->nstats++;
    return 0;
}

int
mpp_thread_set_edge(mpp_thread_t *t, uint32_t caller, uint32_t callee,
                    const mpp_cost_t *c)
{
    uint64_t key = (uint64_t)caller << 32 | callee;
    uint32_t ix;
    if (s_lazy_map(&t->edge_ix) != 0) {
        return MPP_ENOMEM;
    }
    if (mpp_map_get(t->edge_ix, key, &ix)) {
        t->edges[ix].cost = *c;
        return 0;
    }
    if (mpp_grow((void **)&t->edges, &t->capedges, t->nedges + 1,
                 sizeof(*t->edges)) != 0 ||
        mpp_map_put(t->edge_ix, key, (uint32_t)t->nedges) != 0) {
        return MPP_ENOMEM;
    }
    mpp_edge_t *e = &t->edges[t->nedges++];
    e->caller = caller;
    e->callee = callee;
    e->cost = *c;
    return 0;
}

int
mpp_thread_add_span(mpp_thread_t *t, const mpp_span_t *span)
{
    if (mpp_grow((void **)&t->spans, &t->capspans, t->nspans + 1,
                 sizeof(*t->spans)) != 0) {
        return MPP_ENOMEM;
    }
    t->spans[t->nspans++] = *span;
    return 0;
}

uint64_t
mpp_proc_calls(const mpp_proc_t *proc)
{
    uint64_t n = 0;
    for (size_t i = 0; i < proc->nthreads; i++) {
        const mpp_thread_t *t = &proc->threads[i];
        for (size_t j = 0; j < t->nstats; j++) {
            n += t->stats[j].cost.ncalls;
        }
    }
    return n;
}

void
mpp_proc_cats(const mpp_proc_t *proc, mpp_catval_t out[MPP_CAT_COUNT])
{
    memset(out, 0, sizeof(mpp_catval_t) * MPP_CAT_COUNT);
    for (size_t i = 0; i < proc->nthreads; i++) {
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            out[c].ns += proc->threads[i].cat[c].ns;
            out[c].count += proc->threads[i].cat[c].count;
            out[c].bytes += proc->threads[i].cat[c].bytes;
        }
    }
}

/*  Adds one process's threads into the view, except their edges, which
 *  mpp_view_new merges afterwards; it counts them in *nedges and tracks
 *  the largest caller.  `seen` holds, per function, the stamp of the last
 *  process in which it counted, so nprocs counts processes, not threads. */
static void
s_view_add_proc(mpp_view_t *v, const mpp_proc_t *p, uint32_t *seen,
                uint32_t stamp, size_t *nedges, uint32_t *maxcaller)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            v->cat[c].ns += t->cat[c].ns;
            v->cat[c].count += t->cat[c].count;
            v->cat[c].bytes += t->cat[c].bytes;
        }
        for (size_t j = 0; j < t->nstats; j++) {
            const mpp_fstat_t *s = &t->stats[j];
            if (s->func >= v->nfuncs) {
                continue;
            }
            mpp_cost_add(&v->func[s->func], &s->cost);
            v->total_calls += s->cost.ncalls;
            v->total_tt_ns = mpp_add_sat_i64(v->total_tt_ns, s->cost.tt_ns);
            if (seen[s->func] != stamp && s->cost.ncalls > 0) {
                seen[s->func] = stamp;
                v->nprocs[s->func]++;
            }
        }
        for (size_t j = 0; j < t->nedges; j++) {
            uint32_t c = t->edges[j].caller;
            *maxcaller = c > *maxcaller ? c : *maxcaller;
        }
        *nedges += t->nedges;
    }
}

/*  The edges of the selected processes, summed per (caller, callee) and
 *  sorted by (callee, caller): every edge is sorted by that key (a stable
 *  radix sort, linear in the edges), then runs of one key are summed. */
static int
s_view_edges(mpp_view_t *v, const mpp_session_t *session, ssize_t proc,
             size_t nedges, uint32_t maxcaller)
{
    if (nedges == 0) {
        return 0;
    }
    mpp_kv_t *kv = malloc(nedges * sizeof(*kv));
    mpp_kv_t *tmp = malloc(nedges * sizeof(*tmp));
    if (kv == NULL || tmp == NULL) {
        free(kv);
        free(tmp);
        return MPP_ENOMEM;
    }
    unsigned cbits = mpp_bit_width(maxcaller);
    size_t k = 0;
    for (size_t i = 0; i < session->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &session->procs[i];
        for (size_t j = 0; j < p->nthreads; j++) {
            const mpp_thread_t *t = &p->threads[j];
            for (size_t e = 0; e < t->nedges; e++) {
                const mpp_edge_t *ed = &t->edges[e];
                kv[k].key = (uint64_t)ed->callee << cbits | ed->caller;
                kv[k].val = (uint64_t)(uintptr_t)ed;
                k++;
            }
        }
    }
    mpp_sort_kv(kv, tmp, nedges);
    free(tmp);
    size_t unique = 1;
    for (size_t i = 1; i < nedges; i++) {
        unique += kv[i].key != kv[i - 1].key;
    }
    v->edges = malloc(unique * sizeof(*v->edges));
    if (v->edges == NULL) {
        free(kv);
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < nedges; i++) {
        const mpp_edge_t *ed = (const mpp_edge_t *)(uintptr_t)kv[i].val;
        if (i > 0 && kv[i].key == kv[i - 1].key) {
            mpp_cost_add(&v->edges[v->nedges - 1].cost, &ed->cost);
        }
        else {
            v->edges[v->nedges++] = *ed;
        }
    }
    free(kv);
    return 0;
}

mpp_view_t *
mpp_view_new(const mpp_session_t *session, ssize_t proc)
{
    mpp_view_t *v = calloc(1, sizeof(*v));
    size_t n = session->nfuncs;
    uint32_t *seen = calloc(n ? n : 1, sizeof(*seen));
    int rc = MPP_ENOMEM;
    if (v == NULL || seen == NULL) {
        goto done;
    }
    v->nfuncs = n;
    v->func = calloc(n ? n : 1, sizeof(*v->func));
    v->nprocs = calloc(n ? n : 1, sizeof(*v->nprocs));
    if (v->func == NULL || v->nprocs == NULL) {
        goto done;
    }
    size_t nedges = 0;
    uint32_t maxcaller = 0;
    for (size_t i = 0; i < session->nprocs; i++) {
        if (proc < 0 || (size_t)proc == i) {
            s_view_add_proc(v, &session->procs[i], seen, (uint32_t)i + 1,
                            &nedges, &maxcaller);
        }
    }
    rc = s_view_edges(v, session, proc, nedges, maxcaller);
done:
    free(seen);
    if (rc != 0) {
        mpp_view_destroy(&v);
    }
    return v;
}

void
mpp_view_destroy(mpp_view_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->func);
        free((*self_p)->nprocs);
        free((*self_p)->edges);
        free(*self_p);
        *self_p = NULL;
    }
}
