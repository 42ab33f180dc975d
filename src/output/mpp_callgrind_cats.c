/*  The callgrind writer's category costs (mpp_callgrind_priv.h): a
 *  span's own time on its function, shared by the calls into it. */
#include "mpp_callgrind_priv.h"

#include <stdlib.h>

#include "mpp_obuf.h"
#include "mpp_output_priv.h"

/* The events after time, in mpp_cat_t order: callgrind names are
 * identifiers, so the catalog's names ("lock_wait") are not used. */
const char *const mpp_cg_cat_event[MPP_CAT_COUNT][2] = {
    {"Pickle", "Pickling (ns)"},      {"Unpickle", "Unpickling (ns)"},
    {"LockWait", "Lock wait (ns)"},   {"IpcWait", "IPC wait (ns)"},
    {"Startup", "Start-up (ns)"},
};

/* A cost per category, for one function or one call. */
typedef struct {
    uint64_t ns[MPP_CAT_COUNT];
} s_cats_t;

/* What the edges into one function add up to: their inclusive time and
 * their calls, to share the function's category cost among them. */
typedef struct {
    uint64_t ct;
    uint64_t calls;
} s_in_t;

int
mpp_cg_cats(const mpp_session_t *s, const mpp_view_t *v, ssize_t proc,
            mpp_cg_cats_t **cats_p, mpp_cg_in_t **in_p)
{
    mpp_cg_cats_t *cats = NULL;
    mpp_cg_in_t *in = NULL;
    *cats_p = NULL;
    *in_p = NULL;
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        for (size_t k = 0; k < p->nthreads; k++) {
            const mpp_thread_t *t = &p->threads[k];
            if (t->nspans == 0) {
                continue;
            }
            int64_t *self = mpp_span_self_ns(t);
            if (self == NULL) {
                free(cats);
                return MPP_ENOMEM;
            }
            for (size_t j = 0; j < t->nspans; j++) {
                const mpp_span_t *sp = &t->spans[j];
                if (sp->cat >= MPP_CAT_COUNT || self[j] <= 0 ||
                    !mpp_cg_present(v, sp->func)) {
                    continue;
                }
                if (cats == NULL &&
                    (cats = calloc(v->nfuncs, sizeof(*cats))) == NULL) {
                    free(self);
                    return MPP_ENOMEM;
                }
                uint64_t *c = &cats[sp->func].ns[sp->cat];
                uint64_t d = (uint64_t)self[j];
                *c = *c > UINT64_MAX - d ? UINT64_MAX : *c + d;
            }
            free(self);
        }
    }
    if (cats == NULL) {
        return 0;
    }
    in = calloc(v->nfuncs, sizeof(*in));
    if (in == NULL) {
        free(cats);
        return MPP_ENOMEM;
    }
    for (size_t e = 0; e < v->nedges; e++) {
        const mpp_edge_t *ed = &v->edges[e];
        if (mpp_cg_present(v, ed->caller) && mpp_cg_present(v, ed->callee)) {
            in[ed->callee].ct += mpp_cg_ns(ed->cost.ct_ns);
            in[ed->callee].calls += ed->cost.ncalls;
        }
    }
    *cats_p = cats;
    *in_p = in;
    return 0;
}

/* The edges into one callee are few, so the division per edge costs
 * nothing that matters. */
void
mpp_cg_edge_cats(const mpp_cg_cats_t *callee, const mpp_cg_in_t *in,
                 const mpp_edge_t *ed, mpp_cg_cats_t *out)
{
    uint64_t part = in->ct > 0 ? mpp_cg_ns(ed->cost.ct_ns) : ed->cost.ncalls;
    uint64_t whole = in->ct > 0 ? in->ct : in->calls;
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        if (whole == 0) {
            out->ns[c] = 0;
            continue;
        }
#ifdef __SIZEOF_INT128__
        /* Exact: part <= whole, so the quotient fits. */
        out->ns[c] =
            (uint64_t)((unsigned __int128)callee->ns[c] * part / whole);
#else
        out->ns[c] = (uint64_t)((long double)callee->ns[c] * part / whole);
#endif
    }
}

char *
mpp_cg_fmt_cats(char *at, const mpp_cg_cats_t *c)
{
    int last = -1;
    for (int k = 0; k < MPP_CAT_COUNT; k++) {
        last = c->ns[k] ? k : last;
    }
    for (int k = 0; k <= last; k++) {
        *at++ = ' ';
        at = mpp_ob_fmt_u64(at, c->ns[k]);
    }
    return at;
}

