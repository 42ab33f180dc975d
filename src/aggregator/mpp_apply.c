/*  Applying a decoded message to the session model (see mpp_aggregator.h).
 *
 *  This is where wire function ids become session function ids: every
 *  process numbers its functions itself (densely from 0; a fork child keeps
 *  its parent's numbers), so each process record carries a map from its
 *  fids to the session's interned functions.
 *
 *  A frame is hostile until proven otherwise, and the numbers in it must
 *  never size memory by themselves.  The map grows with the definitions a
 *  process has sent, not with the values of its ids (see s_bind_fid): one
 *  definition with fid 0xFFFFFFF0 costs one entry, not a 2^32 array
 *  (issue 9, item 2).  Ids beyond MPP_WIRE_MAX_FUNCS, which no
 *  collector can have handed out, reject the whole frame before anything
 *  of it is applied; entries that name a function or thread the process
 *  never defined are skipped one by one, as a lost definition would make
 *  them, since they cost nothing.
 */
#include "mpp_aggregator.h"
#include "mpp_map.h"

#include <string.h>

int
mpp_apply_check(const mpp_msg_t *m)
{
    if (m->type != MPP_MSG_DATA) {
        return 0;
    }
    for (size_t i = 0; i < m->nfuncs; i++) {
        if (m->funcs[i].fid >= MPP_WIRE_MAX_FUNCS) {
            return MPP_ETOOBIG;
        }
    }
    return 0;
}

static int
s_set_str(char **dst, const char *src)
{
    if (src == NULL) {
        return 0;
    }
    char *s = strdup(src);
    if (s == NULL) {
        return MPP_ENOMEM;
    }
    free(*dst);
    *dst = s;
    return 0;
}

/*  Ids below this many plus twice the definitions received go into the
 *  process's array, the others into its map.  A process numbers its
 *  functions densely from 0, so its own definitions all land in the array
 *  (the fast path); a fork child, which keeps its parent's numbering and
 *  defines only the functions it calls, puts its high ids in the map.
 *  Either way the memory follows the definitions, not the ids. */
#define S_DENSE_SLACK 4096

static int
s_bind_fid(mpp_proc_t *p, uint32_t fid, uint32_t func)
{
    p->nfid_defs++;
    if (fid >= p->nfid_dense &&
        (size_t)fid < S_DENSE_SLACK + 2 * p->nfid_defs) {
        size_t n = p->nfid_dense ? p->nfid_dense : 64;
        while (n <= fid) {
            n *= 2;
        }
        uint32_t *d = realloc(p->fid_dense, n * sizeof(*d));
        if (d == NULL) {
            return MPP_ENOMEM;
        }
        memset(d + p->nfid_dense, 0xff, (n - p->nfid_dense) * sizeof(*d));
        p->fid_dense = d;
        p->nfid_dense = n;
    }
    if (fid < p->nfid_dense) {
        p->fid_dense[fid] = func;
        return 0;
    }
    if (p->fid_ix == NULL && (p->fid_ix = mpp_map_new()) == NULL) {
        return MPP_ENOMEM;
    }
    return mpp_map_put(p->fid_ix, fid, func);
}

/*  The session function of a process's fid, or UINT32_MAX if undefined.
 *  An id bound in the map before the array grew over it is still found
 *  there; a later binding goes to the array, which wins. */
static uint32_t
s_lookup_fid(const mpp_proc_t *p, uint32_t fid)
{
    uint32_t func;
    if (fid < p->nfid_dense && p->fid_dense[fid] != UINT32_MAX) {
        return p->fid_dense[fid];
    }
    if (p->fid_ix != NULL && mpp_map_get(p->fid_ix, fid, &func)) {
        return func;
    }
    return UINT32_MAX;
}

static int
s_apply_thread(mpp_proc_t *p, const mpp_wthread_t *wt)
{
    int rc = 0;
    mpp_thread_t *t = mpp_proc_thread(p, wt->tid, true);
    if (t == NULL) {
        return MPP_ENOMEM;
    }
    if (wt->name && (rc = s_set_str(&t->name, wt->name)) != 0) {
        return rc;
    }
    memcpy(t->cat, wt->cat, sizeof(t->cat));
    if (wt->has_cpu) {
        /* Cumulative, like the categories; a message without it (an
         * older collector) leaves what is known. */
        t->has_cpu = true;
        t->cpu_ns = wt->cpu_ns;
        t->cpu_cat_ns = wt->cpu_cat_ns;
    }
    for (size_t i = 0; i < wt->nstats; i++) {
        uint32_t f = s_lookup_fid(p, wt->stats[i].fid);
        if (f == UINT32_MAX) {
            rc = MPP_EPROTO;
            continue;
        }
        if (mpp_thread_set_stat(t, f, &wt->stats[i].cost) != 0) {
            return MPP_ENOMEM;
        }
    }
    for (size_t i = 0; i < wt->nedges; i++) {
        uint32_t a = s_lookup_fid(p, wt->edges[i].caller);
        uint32_t b = s_lookup_fid(p, wt->edges[i].callee);
        if (a == UINT32_MAX || b == UINT32_MAX) {
            rc = MPP_EPROTO;
            continue;
        }
        if (mpp_thread_set_edge(t, a, b, &wt->edges[i].cost) != 0) {
            return MPP_ENOMEM;
        }
    }
    return rc;
}

/*  A span belongs to a thread the process has sent (in this message or an
 *  earlier one): the collector sends a thread whose categories changed
 *  with the spans that changed them.  A span naming any other thread is
 *  skipped rather than making an empty thread for it, so that 7 bytes of
 *  frame cannot buy a thread record each. */
static int
s_apply_spans(mpp_proc_t *p, const mpp_msg_t *m)
{
    int rc = 0;
    for (size_t i = 0; i < m->nspans; i++) {
        const mpp_wspan_t *ws = &m->spans[i];
        mpp_thread_t *t = mpp_proc_thread(p, ws->tid, false);
        if (t == NULL) {
            rc = MPP_EPROTO;
            continue;
        }
        mpp_span_t s = {
            .cat = ws->cat < MPP_CAT_COUNT ? ws->cat : 0,
            .func = s_lookup_fid(p, ws->fid),
            .start_ns = ws->start_ns,
            .dur_ns = ws->dur_ns,
            .bytes = ws->bytes,
        };
        if (mpp_thread_add_span(t, &s) != 0) {
            return MPP_ENOMEM;
        }
    }
    return rc;
}

/*  The name of `file` by module, for a session across hosts, where the
 *  same file sits under different prefixes: a file in an installed
 *  package ("/usr/lib/python3/dist-packages/distributed/worker.py",
 *  ".../site-packages/numpy/core/x.py") becomes
 *  "<site>/distributed/worker.py", a file of Python's own library
 *  (".../lib/python3.11/multiprocessing/pool.py") "<stdlib>/
 *  multiprocessing/pool.py", a file of the run's own, under the main
 *  script's directory on its host (`dirs`, from the run's envelope),
 *  "<main>/job.py" or "<main>/helpers/util.py", which is how Python
 *  imports them (that directory first on sys.path); anything else keeps
 *  its path.  This is the only place that names files so: the pstats,
 *  callgrind, session and report outputs all take the names it makes.
 *  The names still end as before, so the category catalog (which
 *  matches ends of paths) finds them.  Returns `file` or buf. */
static const char *
s_by_module(const char *file, const char *const dirs[2], char *buf,
            size_t cap)
{
    static const char *const site[] = {"/site-packages/", "/dist-packages/"};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(site); i++) {
        const char *at = strstr(file, site[i]);
        if (at != NULL) {
            int n = snprintf(buf, cap, "<site>/%s", at + strlen(site[i]));
            return n > 0 && (size_t)n < cap ? buf : file;
        }
    }
    /* ".../lib/python3.N/<rest>": the last one, for nested prefixes. */
    const char *lib = NULL;
    for (const char *at = strstr(file, "/lib/python3.");
         at != NULL; at = strstr(at + 1, "/lib/python3.")) {
        lib = at;
    }
    const char *rest = lib != NULL ? strchr(lib + 13, '/') : NULL;
    if (rest != NULL) {
        int n = snprintf(buf, cap, "<stdlib>%s", rest);
        return n > 0 && (size_t)n < cap ? buf : file;
    }
    for (int i = 0; i < 2; i++) {
        size_t len = dirs[i] != NULL ? strlen(dirs[i]) : 0;
        /* The directory's own name, then a separator, then the file. */
        if (len > 0 && strncmp(file, dirs[i], len) == 0 &&
            (file[len] == '/' || dirs[i][len - 1] == '/')) {
            const char *below = file + len + (file[len] == '/');
            if (*below != '\0') {
                int n = snprintf(buf, cap, "<main>/%s", below);
                return n > 0 && (size_t)n < cap ? buf : file;
            }
        }
    }
    return file;
}

static int
s_apply_data(mpp_session_t *self, mpp_proc_t *p, const mpp_msg_t *m,
             const mpp_origin_t *origin)
{
    int rc = 0;
    char buf[MPP_WIRE_MAX_STR + 16];
    static const char *const none[2] = {NULL, NULL};
    const char *const *dirs = origin != NULL ? origin->main_dirs : none;
    for (size_t i = 0; i < m->nfuncs; i++) {
        const mpp_wfunc_t *wf = &m->funcs[i];
        const char *file = self->by_module
                               ? s_by_module(wf->file, dirs, buf, sizeof(buf))
                               : wf->file;
        int64_t f = mpp_session_intern(self, file, wf->line, wf->name);
        if (f < 0 || s_bind_fid(p, wf->fid, (uint32_t)f) != 0) {
            return MPP_ENOMEM;
        }
    }
    for (size_t i = 0; i < m->nthreads; i++) {
        int r = s_apply_thread(p, &m->threads[i]);
        if (r == MPP_ENOMEM) {
            return r;
        }
        rc = rc ? rc : r;
    }
    int r = s_apply_spans(p, m);
    return r == MPP_ENOMEM ? r : rc ? rc : r;
}

int
mpp_apply_msg(mpp_session_t *self, mpp_proc_t *p, const mpp_msg_t *m,
              const mpp_origin_t *origin)
{
    int rc = 0;
    p->messages++;
    switch (m->type) {
    case MPP_MSG_HELLO:
        p->hello = true;
        p->ppid = m->ppid;
        p->start_ns = m->start_ns;
        if ((rc = s_set_str(&p->start_method, m->start_method)) != 0 ||
            (rc = s_set_str(&p->python, m->python)) != 0 ||
            (rc = s_set_str(&p->name, m->name)) != 0) {
            return rc;
        }
        if (m->argv && (rc = mpp_proc_set_argv(p, m->argv, m->argc)) != 0) {
            return rc;
        }
        break;
    case MPP_MSG_DATA:
        if ((rc = s_set_str(&p->name, m->name)) != 0) {
            return rc;
        }
        p->wall_ns = m->wall_ns;
        p->cpu_ns = m->cpu_ns;
        p->dropped = m->dropped;
        p->mem_bytes = m->mem_bytes;
        rc = s_apply_data(self, p, m, origin);
        break;
    case MPP_MSG_BYE:
        p->wall_ns = m->wall_ns;
        p->cpu_ns = m->cpu_ns;
        p->dropped = m->dropped;
        p->exit_kind = m->exit_kind;
        p->exit_code = m->exit_code;
        break;
    default:
        return MPP_EPROTO;
    }
    return rc;
}
