/*  libFuzzer target for what the aggregator does with frames that decode
 *  cleanly: validation against the session, applying them to the model,
 *  and the merged views the writers read.
 *
 *  The input is a sequence of frames, each a 2-byte little-endian length
 *  and that many bytes (the last one takes what is left when the length
 *  overshoots).  All frames go, in order, into one session through
 *  mpp_ingest_frame with the session token the seeds use, so a mutated
 *  session keeps most of its messages valid and reaches deep into the
 *  model.  Then the session is closed as the launcher closes it, and a view
 *  of all processes and one of each process are built and checked.
 *
 *  Besides "no crash, no leak, no undefined behaviour" (and, with
 *  -rss_limit_mb and -malloc_limit_mb, no allocation out of proportion to
 *  the input), it checks the model's invariants: integrity counts add up,
 *  every stat and edge names an interned function, a thread is found by
 *  its tid, a view's totals are the sums of its parts and its edges are
 *  sorted and unique. */
#include "mpp_aggregator.h"
#include "mpp_map.h"

#include <string.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_CHECK(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            __builtin_trap();                                                 \
        }                                                                     \
    } while (0)

static void
s_check_proc(const mpp_session_t *s, mpp_proc_t *p)
{
    S_CHECK(p->pid > 0);
    for (size_t i = 0; i < p->nthreads; i++) {
        mpp_thread_t *t = &p->threads[i];
        S_CHECK(mpp_proc_thread(p, t->tid, false) == t);
        /* Each function once per thread: its index entry points back. */
        for (size_t j = 0; j < t->nstats; j++) {
            uint32_t ix;
            S_CHECK(t->stats[j].func < s->nfuncs);
            S_CHECK(mpp_map_get(t->stat_ix, t->stats[j].func, &ix) && ix == j);
        }
        for (size_t j = 0; j < t->nedges; j++) {
            S_CHECK(t->edges[j].caller < s->nfuncs);
            S_CHECK(t->edges[j].callee < s->nfuncs);
        }
        for (size_t j = 0; j < t->nspans; j++) {
            S_CHECK(t->spans[j].cat < MPP_CAT_COUNT);
            S_CHECK(t->spans[j].func == UINT32_MAX ||
                    t->spans[j].func < s->nfuncs);
        }
    }
}

static void
s_check_view(const mpp_session_t *s, ssize_t proc)
{
    mpp_view_t *v = mpp_view_new(s, proc);
    if (v == NULL) {
        return; /* out of memory is allowed, if unlikely here */
    }
    S_CHECK(v->nfuncs == s->nfuncs);
    uint64_t calls = 0;
    for (size_t i = 0; i < v->nfuncs; i++) {
        calls += v->func[i].ncalls;
        S_CHECK(v->nprocs[i] <= s->nprocs);
    }
    S_CHECK(calls == v->total_calls);
    for (size_t i = 0; i < v->nedges; i++) {
        const mpp_edge_t *e = &v->edges[i];
        S_CHECK(e->caller < v->nfuncs && e->callee < v->nfuncs);
        if (i > 0) {
            const mpp_edge_t *d = &v->edges[i - 1];
            S_CHECK(d->callee < e->callee ||
                    (d->callee == e->callee && d->caller < e->caller));
        }
    }
    mpp_view_destroy(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpp_session_t *s = mpp_session_new();
    if (s == NULL) {
        return 0;
    }
    uint64_t frames = 0;
    uint64_t failed = 0;
    while (size >= 2) {
        size_t n = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
        n = n < size ? n : size;
        int rc = mpp_ingest_frame(s, TOKEN, data, n);
        S_CHECK(rc <= 0);
        failed += rc != 0;
        frames++;
        data += n;
        size -= n;
    }
    S_CHECK(s->integrity.messages == frames);
    S_CHECK(s->integrity.rejected == failed);

    int64_t target = s->nprocs > 0 ? s->procs[0].pid : 1;
    size_t lost = mpp_ingest_finish(s, target, 0, NULL);
    S_CHECK(lost <= s->nprocs);
    S_CHECK(s->integrity.processes_lost == lost);
    for (size_t i = 0; i < s->nprocs; i++) {
        S_CHECK(!mpp_ingest_streaming(&s->procs[i]));
        s_check_proc(s, &s->procs[i]);
    }
    s_check_view(s, -1);
    for (size_t i = 0; i < s->nprocs && i < 4; i++) {
        s_check_view(s, (ssize_t)i);
    }
    mpp_session_destroy(&s);
    return 0;
}
