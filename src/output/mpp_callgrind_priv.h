/*  Private to the callgrind writer (mpp_callgrind.c): the category events
 *  and their costs per function and per call, which mpp_callgrind_cats.c
 *  computes from the session's spans (see mpp_callgrind.c's opening
 *  comment for what is charged where). */
#ifndef MPP_CALLGRIND_PRIV_H
#define MPP_CALLGRIND_PRIV_H

#include "mpp_session.h"

/* The events after time, in mpp_cat_t order, and their long names. */
extern const char *const mpp_cg_cat_event[MPP_CAT_COUNT][2];

/* A cost per category, for one function or one call. */
typedef struct {
    uint64_t ns[MPP_CAT_COUNT];
} mpp_cg_cats_t;

/* What the edges into one function add up to: their inclusive time and
 * their calls, to share the function's category cost among them. */
typedef struct {
    uint64_t ct;
    uint64_t calls;
} mpp_cg_in_t;

/* Costs and lines are unsigned in the format. */
static inline uint64_t
mpp_cg_ns(int64_t ns)
{
    return ns > 0 ? (uint64_t)ns : 0;
}

/* A function the view saw called: the only ones the file names. */
static inline bool
mpp_cg_present(const mpp_view_t *v, uint32_t f)
{
    return f < v->nfuncs && v->func[f].ncalls > 0;
}

/*  The category cost of each function of the view: the spans of the
 *  processes it holds (all when proc < 0), each on its function, and the
 *  inclusive time of the edges into each function, to share it among
 *  them.  Both arrays are NULL when the view has no span on a function it
 *  saw called, which is the common case and costs nothing then.
 *  Returns 0 or MPP_ENOMEM. */
int mpp_cg_cats(const mpp_session_t *s, const mpp_view_t *v, ssize_t proc,
                mpp_cg_cats_t **cats_p, mpp_cg_in_t **in_p);

/*  The share of the callee's category cost one edge carries: its part of
 *  the inclusive time of all edges into the callee, or of their calls
 *  when none took measurable time. */
void mpp_cg_edge_cats(const mpp_cg_cats_t *callee, const mpp_cg_in_t *in,
                      const mpp_edge_t *ed, mpp_cg_cats_t *out);

/* The category columns of a cost line, up to the last that is not 0,
 * each after a space; trailing zeros may be left out in the format.
 * Returns the end of what it wrote (at most 21 bytes per category). */
char *mpp_cg_fmt_cats(char *at, const mpp_cg_cats_t *c);

#endif
