/*  Each host of a session across hosts, once the collection has ended:
 *  its summary line and the alignment of its clock (see mpp_net.h and
 *  mpp_netagg_priv.h). */
#include "mpp_netagg_priv.h"

#include <inttypes.h>
#include <string.h>

void
mpp_netagg_hosts(const mpp_netagg_t *self, FILE *out)
{
    const mpp_session_t *s = self->session;
    for (size_t i = 0; i < self->nhosts; i++) {
        const mpp_nethost_t *h = &self->hosts[i];
        size_t procs = 0, runs = 0, ended = 0;
        int64_t lo = INT64_MAX, hi = -1;
        for (size_t k = 0; k < s->nprocs; k++) {
            procs += s->procs[k].host != NULL &&
                     strcmp(s->procs[k].host, h->host) == 0;
        }
        for (size_t k = 0; k < self->nruns; k++) {
            const mpp_netrun_t *r = &self->runs[k];
            if (strcmp(r->host, h->host) != 0) {
                continue;
            }
            runs++;
            ended += r->ended;
            if (r->ranked) {
                lo = r->rank < lo ? r->rank : lo;
                hi = r->rank > hi ? r->rank : hi;
            }
        }
        fprintf(out, "mpprof: host %s: %zu process%s, %zu run%s (%zu "
                "ended)", h->host, procs, procs == 1 ? "" : "es", runs,
                runs == 1 ? "" : "s", ended);
        if (hi >= 0) {
            fprintf(out, ", ranks %" PRId64 "-%" PRId64, lo, hi);
        }
        int64_t first, last, err;
        if (mpp_clockfit_range(h->fit, &first, &last, &err)) {
            size_t nr = mpp_clockfit_count(h->fit);
            fprintf(out, "; clock %+.3f ms from this one", (double)first / 1e6);
            if (nr > 1) {
                fprintf(out, " at the first of %zu readings, %+.3f ms at "
                        "the last", nr, (double)last / 1e6);
            }
            fprintf(out, ", +/- %.3f ms (half the round trip)\n",
                    (double)err / 1e6);
        }
        else if (h->offset_err_ns >= 0) {
            fprintf(out, "; clock %+.3f ms from this one, +/- %.3f ms "
                    "(round trip)\n", (double)h->offset_ns / 1e6,
                    (double)h->offset_err_ns / 1e6);
        }
        else {
            fprintf(out, "; clock offset at most %+.3f ms (one-way only, "
                    "so including the delivery)\n",
                    (double)h->min_delta_ns / 1e6);
        }
    }
}

/*  Moves a time stamp of the host's clock onto ours: by the offset of
 *  its moment when readings came in while it streamed, else by the one
 *  best reading. */
static int64_t
s_aligned(const mpp_nethost_t *h, int64_t t)
{
    int64_t off = h->offset_ns, err;
    if (mpp_clockfit_count(h->fit) > 0) {
        (void)mpp_clockfit_at(h->fit, t, &off, &err);
    }
    return mpp_add_sat_i64(t, off);
}

void
mpp_netagg_align_clocks(const mpp_netagg_t *self)
{
    mpp_session_t *s = self->session;
    for (size_t i = 0; i < self->nhosts; i++) {
        const mpp_nethost_t *h = &self->hosts[i];
        int64_t first, last, max_err;
        bool fitted = mpp_clockfit_range(h->fit, &first, &last, &max_err);
        if (h->offset_err_ns < 0 && !fitted) {
            continue;
        }
        for (size_t k = 0; k < s->nprocs; k++) {
            mpp_proc_t *p = &s->procs[k];
            if (p->host == NULL || strcmp(p->host, h->host) != 0 ||
                p->clocked) {
                continue;
            }
            /* The process states the offset at its start and the
             * largest error of its host's readings. */
            int64_t start = s_aligned(h, p->start_ns);
            p->clocked = true;
            p->clock_offset_ns = start - p->start_ns;
            p->clock_err_ns = fitted ? max_err : h->offset_err_ns;
            p->start_ns = start;
            for (size_t t = 0; t < p->nthreads; t++) {
                mpp_thread_t *th = &p->threads[t];
                for (size_t j = 0; j < th->nspans; j++) {
                    th->spans[j].start_ns =
                        s_aligned(h, th->spans[j].start_ns);
                }
            }
        }
    }
}
