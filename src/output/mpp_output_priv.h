/*  Private to the writers of src/output: what more than one of them
 *  needs from the session model. */
#ifndef MPP_OUTPUT_PRIV_H
#define MPP_OUTPUT_PRIV_H

#include <stdio.h>

#include "mpp_session.h"

/*  Each span of a thread's own time, indexed like t->spans: its duration
 *  less that of the spans directly inside it on the same thread.  The
 *  model keeps spans as whole intervals (a lock wait holds the IPC wait
 *  inside it), while the category totals are exclusive (that IPC wait
 *  counts once, as IPC wait); own times are what add up to the totals.
 *  Returns a malloc'd array (never NULL for a thread without spans), or
 *  NULL when out of memory.  In mpp_trace.c. */
int64_t *mpp_span_self_ns(const mpp_thread_t *t);

/*  The "model" of report.html's JSON document: processes, threads,
 *  spans, call graphs and functions, within the page's budgets (see
 *  mpp_html.c).  Returns 0 or MPP_ENOMEM.  In mpp_html_model.c. */
int mpp_html_model(FILE *out, const mpp_session_t *s);

#endif
