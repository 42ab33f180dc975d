/*  A host's clock against the aggregator's, over time (see mpp_net.h).
 *
 *  Why readings over time and not one offset: a host's clock can be
 *  stepped (NTP, an administrator) or drift while a long job runs, and one
 *  offset measured at the start then puts everything after the change
 *  beside the wrong moments of the other hosts.  With a reading every few
 *  seconds each time stamp is moved by the offset of its own moment.
 */
#include "mpp_net.h"

#include <stdlib.h>
#include <string.h>

/*  A reading whose error is this many times its better neighbour's (and
 *  above S_NOISE_FLOOR_NS) is passed over when a better one is at hand:
 *  on a loaded machine one round trip in many is held up for tens of
 *  milliseconds, and interpolating towards it would bend the line. */
#define S_NOISE_FACTOR 4
#define S_NOISE_FLOOR_NS 1000000LL

typedef struct {
    int64_t at_ns;
    int64_t offset_ns;
    int64_t err_ns;
} s_reading_t;

struct mpp_clockfit {
    s_reading_t *r;
    size_t n, cap;
};

mpp_clockfit_t *
mpp_clockfit_new(void)
{
    return calloc(1, sizeof(mpp_clockfit_t));
}

void
mpp_clockfit_destroy(mpp_clockfit_t **self_p)
{
    if (self_p != NULL && *self_p != NULL) {
        free((*self_p)->r);
        free(*self_p);
        *self_p = NULL;
    }
}

/* Keeps every other reading, the last one always. */
static void
s_thin(mpp_clockfit_t *self)
{
    size_t k = 0;
    for (size_t i = 0; i < self->n; i++) {
        if (i % 2 == 0 || i + 1 == self->n) {
            self->r[k++] = self->r[i];
        }
    }
    self->n = k;
}

int
mpp_clockfit_add(mpp_clockfit_t *self, int64_t at_ns, int64_t offset_ns,
                 int64_t err_ns)
{
    if (err_ns < 0) {
        return MPP_EINVAL;
    }
    if (self->n >= MPP_CLOCKFIT_MAX) {
        s_thin(self);
    }
    if (mpp_grow((void **)&self->r, &self->cap, self->n + 1,
                 sizeof(*self->r)) != 0) {
        return MPP_ENOMEM;
    }
    /* Readings come nearly in order (several runs of a host interleave):
     * an insertion from the end is short. */
    size_t i = self->n;
    while (i > 0 && self->r[i - 1].at_ns > at_ns) {
        i--;
    }
    memmove(&self->r[i + 1], &self->r[i], (self->n - i) * sizeof(*self->r));
    self->r[i] = (s_reading_t){at_ns, offset_ns, err_ns};
    self->n++;
    return 0;
}

size_t
mpp_clockfit_count(const mpp_clockfit_t *self)
{
    return self->n;
}

/*  Whether reading i is noise beside its neighbours: much worse than the
 *  better of the two readings next to it. */
static bool
s_noisy(const mpp_clockfit_t *self, size_t i)
{
    int64_t best = INT64_MAX;
    if (i > 0 && self->r[i - 1].err_ns < best) {
        best = self->r[i - 1].err_ns;
    }
    if (i + 1 < self->n && self->r[i + 1].err_ns < best) {
        best = self->r[i + 1].err_ns;
    }
    int64_t e = self->r[i].err_ns;
    return best != INT64_MAX && e > S_NOISE_FLOOR_NS &&
           e > S_NOISE_FACTOR * best;
}

/* The index of the last reading kept at or before at_ns, or -1. */
static ptrdiff_t
s_before(const mpp_clockfit_t *self, int64_t at_ns)
{
    size_t lo = 0, hi = self->n; /* the first with at > at_ns is in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->r[mid].at_ns <= at_ns) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    ptrdiff_t i = (ptrdiff_t)lo - 1;
    while (i >= 0 && s_noisy(self, (size_t)i)) {
        i--;
    }
    return i;
}

/* The index of the first reading kept after at_ns, or -1. */
static ptrdiff_t
s_after(const mpp_clockfit_t *self, ptrdiff_t before, int64_t at_ns)
{
    for (size_t i = before < 0 ? 0 : (size_t)before; i < self->n; i++) {
        if (self->r[i].at_ns > at_ns && !s_noisy(self, i)) {
            return (ptrdiff_t)i;
        }
    }
    return -1;
}

bool
mpp_clockfit_at(const mpp_clockfit_t *self, int64_t at_ns,
                int64_t *offset_ns, int64_t *err_ns)
{
    if (self->n == 0) {
        return false;
    }
    ptrdiff_t a = s_before(self, at_ns);
    ptrdiff_t b = s_after(self, a, at_ns);
    if (a < 0 && b < 0) {
        /* Every reading is noise beside another: a host of two readings,
         * one much worse.  The better one stands. */
        a = self->r[0].err_ns <= self->r[self->n - 1].err_ns
                ? 0
                : (ptrdiff_t)self->n - 1;
    }
    if (a < 0 || b < 0) {
        const s_reading_t *r = &self->r[a < 0 ? b : a];
        *offset_ns = r->offset_ns;
        *err_ns = r->err_ns;
        return true;
    }
    const s_reading_t *x = &self->r[a], *y = &self->r[b];
    /* at_ns lies in [x.at, y.at), and y.at > x.at. */
    double f = (double)(at_ns - x->at_ns) / (double)(y->at_ns - x->at_ns);
    *offset_ns = x->offset_ns +
                 (int64_t)(f * (double)(y->offset_ns - x->offset_ns));
    *err_ns = x->err_ns > y->err_ns ? x->err_ns : y->err_ns;
    return true;
}

bool
mpp_clockfit_range(const mpp_clockfit_t *self, int64_t *first_ns,
                   int64_t *last_ns, int64_t *max_err_ns)
{
    bool any = false;
    for (size_t i = 0; i < self->n; i++) {
        if (self->n > 1 && s_noisy(self, i)) {
            continue;
        }
        if (!any) {
            *first_ns = self->r[i].offset_ns;
            *max_err_ns = self->r[i].err_ns;
        }
        any = true;
        *last_ns = self->r[i].offset_ns;
        if (self->r[i].err_ns > *max_err_ns) {
            *max_err_ns = self->r[i].err_ns;
        }
    }
    if (!any && self->n > 0) {
        int64_t err;
        (void)mpp_clockfit_at(self, self->r[0].at_ns, first_ns, &err);
        *last_ns = *first_ns;
        *max_err_ns = err;
        any = true;
    }
    return any;
}

void
mpp_clock_reading(int64_t t1, int64_t t2, int64_t rtt_ns, int64_t *at_ns,
                  int64_t *offset_ns, int64_t *err_ns)
{
    *at_ns = t1 + rtt_ns / 2;
    *offset_ns = t2 - *at_ns;
    *err_ns = rtt_ns / 2;
}
