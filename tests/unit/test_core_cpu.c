/*  Compute is measured (issue 13): a thread's CPU clock, read by the
 *  collector core at category boundaries, periodically and at batches,
 *  goes through the wire (or the shared mapping and the agent's reader)
 *  and the aggregator into the session, where the report splits the
 *  thread's time outside categories into compute (its CPU time outside
 *  categories) and other wait (the rest).
 *
 *  Ground truth: the core's test clock (every read advances 1000 ns)
 *  times the events, and the thread CPU clock is injected (the test
 *  clock's fake_cpu, mpp_clock.h), so every number is exact.
 */
#include "shmread_fixture.h"

#include "mpp_aggregator.h"
#include "mpp_cats.h"
#include "mpp_report_priv.h"

/* The injected reading of every thread's CPU clock, in ns. */
static void
s_cpu(mpp_core_t *core, int64_t ns)
{
    mpp_core_hot(core)->clock.fake_cpu = ns;
}

/*  Time passing between events: `n` reads of the test clock. */
static void
s_pass(mpp_core_t *core, int n)
{
    for (int i = 0; i < n; i++) {
        (void)mpp_clock_read(&mpp_core_hot(core)->clock);
    }
}

/* Events this far apart are never near enough to skip a read. */
#define GAP ((int)(MPP_TS_CPU_NEAR_NS / STEP) + 10)
#define US 1000

/*  work [ acquire ] with CPU time known inside and outside the lock wait,
 *  each part GAP + 1 steps (31 us) of the event clock long:
 *
 *    event            thread CPU clock
 *    call work        0
 *    call acquire     20 us  (20 on a CPU outside categories)
 *    return acquire   25 us  (5 on a CPU inside the lock wait)
 *    return work      40 us  (15 more outside; read by the next batch)
 *
 *  The thread's time is 93 us, 31 of it lock wait: 62 outside
 *  categories, of which 35 on a CPU (compute) and 27 off it (other
 *  wait). */
#define PART ((int64_t)(GAP + 1) * STEP)

static mpp_tstate_t *
s_scenario(mpp_core_t *core, uint32_t *work_p)
{
    s_cpu(core, 0);
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "w.py", "work");
    uint32_t acquire =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    ASSERT_EQ(t->cpu_ns, -1); /* not read yet: unknown */
    s_call(core, t, work);
    ASSERT_EQ(t->cpu_ns, -1); /* a call of an untagged function reads none */
    s_pass(core, GAP);
    s_cpu(core, 20 * US);
    s_call(core, t, acquire); /* into the lock wait: read */
    ASSERT_EQ(t->cpu_ns, 20 * US);
    ASSERT_EQ(t->cpu_cat_ns, 0);
    s_pass(core, GAP);
    s_cpu(core, 25 * US);
    s_ret(core, t); /* out of it: read, and the first periodic read */
    ASSERT_EQ(t->cpu_ns, 25 * US);
    ASSERT_EQ(t->cpu_cat_ns, 5 * US);
    s_pass(core, GAP);
    s_cpu(core, 40 * US);
    s_ret(core, t); /* 10 ms of events have not passed: no read */
    ASSERT_EQ(t->cpu_ns, 25 * US);
    int64_t cpu, cat;
    ASSERT(mpp_tstate_cpu(t, &cpu, &cat));
    ASSERT_EQ(cpu, 25 * US);
    ASSERT_EQ(cat, 5 * US);
    *work_p = work;
    return t;
}

/* Feeds every message the core sent to the aggregator, as frames. */
static mpp_session_t *
s_ingest(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_NOT_NULL(s);
    for (size_t i = 0; i < S.n; i++) {
        mpp_buf_t buf;
        mpp_buf_init(&buf);
        ASSERT_EQ(mpp_wire_encode(&S.msg[i], &buf), 0);
        ASSERT_EQ(mpp_ingest_frame(s, TOKEN, buf.data, buf.len), 0);
        mpp_buf_fini(&buf);
    }
    return s;
}

static const mpp_thread_t *
s_thread(const mpp_session_t *s, uint64_t tid, const mpp_proc_t **p)
{
    ASSERT_EQ(s->nprocs, 1u);
    *p = &s->procs[0];
    for (size_t i = 0; i < (*p)->nthreads; i++) {
        if ((*p)->threads[i].tid == tid) {
            return &(*p)->threads[i];
        }
    }
    MPP_FAIL("no thread %llu", (unsigned long long)tid);
}

MPP_TEST(compute_and_other_wait_are_measured_through_the_wire)
{
    mpp_core_t *core = s_core("fork");
    uint32_t work;
    mpp_tstate_t *t = s_scenario(core, &work);
    ASSERT_EQ(mpp_core_flush(core), 0); /* the batch reads every thread */
    ASSERT_EQ(t->cpu_ns, 40 * US);
    const mpp_msg_t *m = s_last(MPP_MSG_DATA);
    ASSERT_EQ(m->nthreads, 1u);
    ASSERT(m->threads[0].has_cpu);
    ASSERT_EQ(m->threads[0].cpu_ns, 40 * US);
    ASSERT_EQ(m->threads[0].cpu_cat_ns, 5 * US);
    ASSERT_EQ(m->threads[0].cat[MPP_CAT_LOCK_WAIT].ns, (uint64_t)PART);

    /* A batch with nothing new sends nothing; CPU time alone is news. */
    size_t n = S.n;
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(S.n, n);
    s_cpu(core, 41 * US);
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(S.n, n + 1);
    ASSERT_EQ(s_last(MPP_MSG_DATA)->threads[0].cpu_ns, 41 * US);
    ASSERT_EQ(s_last(MPP_MSG_DATA)->threads[0].nstats, 0u);
    s_cpu(core, 40 * US); /* a clock going back is not believed */
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(S.n, n + 1);
    ASSERT_EQ(t->cpu_ns, 41 * US);

    mpp_session_t *s = s_ingest();
    const mpp_proc_t *p;
    const mpp_thread_t *st = s_thread(s, 100, &p);
    ASSERT(st->has_cpu);
    ASSERT_EQ(st->cpu_ns, 41 * US);
    ASSERT_EQ(st->cpu_cat_ns, 5 * US);
    ASSERT_EQ(mpp_rep_thread_ns(p, st), 3 * PART);

    /* The process's CPU time is what its thread's clock shows: nothing
     * unattributed.  (The DATA's own figure is the real process clock,
     * which the test clock's events have nothing to do with.)  62 us
     * outside categories: 36 on a CPU, 26 off it. */
    s->procs[0].cpu_ns = 41 * US;
    mpp_rep_rest_t rest;
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, 36 * US);
    ASSERT_EQ(rest.other_wait_ns, 2 * PART - 36 * US);
    ASSERT_EQ(rest.idle_ns, 0);
    mpp_rep_proc_rest(s, p, false, &rest);
    ASSERT_EQ(rest.compute_ns, 36 * US);
    ASSERT_EQ(rest.other_wait_ns, 2 * PART - 36 * US);

    /* CPU time the process used that no thread clock shows fills the
     * off-CPU rest in proportion when the process was killed (a thread
     * killed after its last read): half of it here.  A process that
     * recorded its own end read its clocks when the program was over,
     * and what it used after that was finalization: no thread's. */
    int64_t off = 2 * PART - 36 * US;
    s->procs[0].cpu_ns = 41 * US + off / 2;
    s->procs[0].exit_kind = MPP_EXIT_OK;
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, 36 * US);
    s->procs[0].exit_kind = MPP_EXIT_CODE;
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, 36 * US);
    s->procs[0].exit_kind = MPP_EXIT_LOST;
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, 36 * US + off / 2);
    ASSERT_EQ(rest.other_wait_ns, off - off / 2);
    s->procs[0].cpu_ns = 41 * US + 5 * off; /* and never beyond the rest */
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, 2 * PART);
    ASSERT_EQ(rest.other_wait_ns, 0);

    /* Unknown CPU time (an older session file): the estimate, the
     * process's CPU time over the thread's time less lock waits: half. */
    mpp_thread_t *wt = &s->procs[0].threads[0];
    wt->has_cpu = false;
    s->procs[0].cpu_ns = PART;
    mpp_rep_thread_rest(s, p, st, false, &rest);
    ASSERT_EQ(rest.compute_ns, PART);
    ASSERT_EQ(rest.other_wait_ns, PART);
    mpp_session_destroy(&s);
    (void)work;
    s_core_end(&core);
}

/*  Boundaries near the last read read no clock: a loop of short lock
 *  calls counts their time as on a CPU inside the lock wait, and the
 *  next boundary far enough from the last read reads again. */
MPP_TEST(near_boundaries_read_no_clock)
{
    mpp_core_t *core = s_core("fork");
    uint32_t work;
    mpp_tstate_t *t = s_scenario(core, &work);
    uint32_t acquire =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_pass(core, GAP);
    s_call(core, t, work);
    s_cpu(core, 50 * US);
    s_call(core, t, acquire); /* far from the last read: reads */
    ASSERT_EQ(t->cpu_ns, 50 * US);
    s_cpu(core, 1000 * US); /* would show if it were read */
    s_ret(core, t);          /* 1 us later: no read, 1 us inside */
    s_call(core, t, acquire); /* 2 us after the read, 1 us outside */
    s_ret(core, t);           /* 3 us after: 1 us more inside */
    ASSERT_EQ(t->cpu_ns, 50 * US);
    ASSERT_EQ(t->cpu_cat_ns, (5 + 2) * US);
    ASSERT_EQ(t->cpu_since, 53 * US);
    s_pass(core, GAP);
    s_cpu(core, 60 * US);
    s_call(core, t, acquire); /* far again: reads, 7 us outside */
    ASSERT_EQ(t->cpu_ns, 60 * US);
    ASSERT_EQ(t->cpu_since, 60 * US);
    ASSERT_EQ(t->cpu_cat_ns, 7 * US);
    s_pass(core, GAP);
    s_cpu(core, 61 * US);
    s_ret(core, t);
    ASSERT_EQ(t->cpu_cat_ns, 8 * US);
    s_ret(core, t);
    s_core_end(&core);
}

/*  The periodic read: a thread that never crosses a category boundary
 *  has its clock read once 10 ms of its events have passed, at the
 *  first return after that, and not before. */
MPP_TEST(periodic_read_every_ten_ms_of_events)
{
    mpp_core_t *core = s_core("fork");
    s_cpu(core, 5);
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "w.py", "f");
    s_call(core, t, f);
    s_ret(core, t); /* the first return reads */
    ASSERT_EQ(t->cpu_ns, 5);
    int64_t first = mpp_clock_peek(&mpp_core_hot(core)->clock);
    s_cpu(core, 9000);
    /* 2 reads per pair; the next read is due at first + 10 ms. */
    int64_t pairs = MPP_TS_CPU_PERIOD_NS / (2 * STEP);
    for (int64_t i = 0; i < pairs - 1; i++) {
        s_call(core, t, f);
        s_ret(core, t);
        ASSERT_EQ(t->cpu_ns, 5);
    }
    s_call(core, t, f);
    s_ret(core, t);
    ASSERT_EQ(mpp_clock_peek(&mpp_core_hot(core)->clock),
              first + MPP_TS_CPU_PERIOD_NS);
    ASSERT_EQ(t->cpu_ns, 9000);
    ASSERT_EQ(t->cpu_cat_ns, 0);
    s_core_end(&core);
}

/*  The exit: the last batch reads every thread; a thread's end reads its
 *  clock too, and its numbers merged into the ended threads' table keep
 *  it. */
MPP_TEST(end_of_thread_and_process_read_the_clock)
{
    mpp_core_t *core = s_core("fork");
    uint32_t work;
    mpp_tstate_t *t = s_scenario(core, &work);
    s_cpu(core, 45 * US);
    mpp_tstate_t *x = mpp_core_add_thread(core, 101, "X");
    s_call(core, x, work);
    s_cpu(core, 46 * US);
    s_ret(core, x); /* first return: read */
    ASSERT_EQ(x->cpu_ns, 46 * US);
    s_cpu(core, 47 * US);
    mpp_core_release_thread(core, x);
    const mpp_tstate_t *past = NULL;
    for (size_t i = 0; (past = mpp_core_table(core, i)) != NULL; i++) {
        if (past != t) {
            break;
        }
    }
    ASSERT_NOT_NULL(past);
    int64_t cpu, cat;
    ASSERT(mpp_tstate_cpu(past, &cpu, &cat));
    ASSERT_EQ(cpu, 47 * US);
    ASSERT_EQ(cat, 0);
    s_cpu(core, 50 * US);
    mpp_core_finish(core, MPP_EXIT_OK, 0);
    ASSERT_EQ(t->cpu_ns, 50 * US);
    mpp_session_t *s = s_ingest();
    const mpp_proc_t *p;
    const mpp_thread_t *st = s_thread(s, 100, &p);
    ASSERT(st->has_cpu);
    ASSERT_EQ(st->cpu_ns, 50 * US);
    ASSERT_EQ(st->cpu_cat_ns, 5 * US);
    const mpp_thread_t *sx = s_thread(s, 101 | (1ull << 32), &p);
    ASSERT(sx->has_cpu);
    ASSERT_EQ(sx->cpu_ns, 47 * US);
    mpp_session_destroy(&s);
    s_core_end(&core);
}

/*  Through the mapping: the agent's reader carries the same numbers,
 *  and a process that died inside the lock wait has the CPU time since
 *  the interval began (to its last read) counted inside it. */
MPP_TEST(agent_reads_the_cpu_time_from_the_mapping)
{
    s_setup();
    mpp_core_t *core = s_core("fork");
    uint32_t work;
    mpp_tstate_t *t = s_scenario(core, &work);
    uint32_t acquire =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_pass(core, GAP);
    s_cpu(core, 40 * US);
    s_call(core, t, acquire); /* into the wait: read */
    ASSERT_EQ(t->cpu_ns, 40 * US);
    s_cpu(core, 40 * US + 500);
    ASSERT_EQ(mpp_core_flush(core), 0); /* 500 ns inside so far */
    ASSERT_EQ(t->cpu_ns, 40 * US + 500);

    size_t len;
    unsigned char *b = s_bytes(getpid(), false, &len);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    int64_t now = mpp_clock_peek(&mpp_core_hot(core)->clock) + 10 * STEP;
    ASSERT_EQ(mpp_shmread_final(r, b, len, now, MPP_EXIT_SIGNAL, 9, &out), 0);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    size_t n = s_decode(&out, msg);
    ASSERT(n >= 2u);
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < msg[i].nthreads; j++) {
            const mpp_wthread_t *w = &msg[i].threads[j];
            if (w->tid == 100) {
                ASSERT(w->has_cpu);
                ASSERT_EQ(w->cpu_ns, 40 * US + 500);
                ASSERT_EQ(w->cpu_cat_ns, 5 * US + 500);
                seen = true;
            }
        }
    }
    ASSERT(seen);
    s_clear(msg, n);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    free(b);

    /* A forged table: CPU fields that contradict each other are
     * clamped, never trusted beyond the total. */
    mpp_tstate_t f = *t;
    f.cpu_ns = 100;
    f.cpu_cat_ns = INT64_MAX - 5;
    int64_t cpu, cat;
    ASSERT(mpp_tstate_cpu(&f, &cpu, &cat));
    ASSERT_EQ(cpu, 100);
    ASSERT_EQ(cat, 100);
    f.cpu_since = -3;
    ASSERT(!mpp_tstate_cpu(&f, &cpu, &cat));
    s_ret(core, t);
    s_teardown(&core);
}

/*  A multiprocessing helper (the resource tracker, the fork server) runs
 *  `-c "from multiprocessing.X import main; main(...)"`: its start-up
 *  goes on through the -c code's imports, CPU time that would otherwise
 *  be its compute (25-55 ms of a helper that then only waits), and ends
 *  when the -c code calls main().  A main() inside the imports does not
 *  end it; in any other process a main() ends nothing and <module> does.
 *  Each event reads the test clock once: start-up is 6 steps here. */
MPP_TEST(helper_startup_runs_until_its_main)
{
    s_helper_main = true;
    mpp_core_t *core = s_core("exec");
    s_helper_main = false;
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t mod = s_fn(core, "<string>", "<module>");
    uint32_t imp = s_fn(core, "<frozen importlib._bootstrap>",
                        "_find_and_load");
    uint32_t inner = s_fn(core, "/usr/lib/python3/dist-packages/x.py", "main");
    uint32_t served = s_fn(
        core, "/usr/lib/python3.11/multiprocessing/resource_tracker.py",
        "main");
    mpp_catval_t cat[MPP_CAT_COUNT];
    s_call(core, t, mod);
    s_call(core, t, imp);
    s_call(core, t, inner);
    s_ret(core, t);
    s_ret(core, t);
    mpp_cats_fill((const struct mpp_core *)core, t, cat);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].count, 1u);
    s_call(core, t, served);
    s_ret(core, t);
    s_ret(core, t);
    mpp_cats_fill((const struct mpp_core *)core, t, cat);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].ns, (uint64_t)(6 * STEP));
    s_core_end(&core);

    /* The same calls in a program: <module> ends start-up at once. */
    core = s_core("main");
    t = mpp_core_add_thread(core, 100, "MainThread");
    mod = s_fn(core, "t.py", "<module>");
    served = s_fn(core, "t.py", "main");
    s_call(core, t, mod);
    s_call(core, t, served);
    s_ret(core, t);
    s_ret(core, t);
    mpp_cats_fill((const struct mpp_core *)core, t, cat);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].ns, (uint64_t)STEP);
    s_core_end(&core);
}

/*  The program over (its exit handlers have run), the core reads every
 *  clock for the last time: what finalization uses next (freeing every
 *  object) changes no thread's CPU time, whatever the clock says at the
 *  process's end. */
MPP_TEST(final_reading_ends_the_threads_cpu_time)
{
    mpp_core_t *core = s_core("fork");
    uint32_t work;
    mpp_tstate_t *t = s_scenario(core, &work);
    s_cpu(core, 45 * US);
    mpp_core_cpu_final(core);
    ASSERT_EQ(t->cpu_ns, 45 * US);
    s_cpu(core, 90 * US); /* finalization on a CPU */
    s_pass(core, GAP);
    s_call(core, t, work); /* a __del__ the hook still sees */
    s_ret(core, t);
    mpp_core_finish(core, MPP_EXIT_OK, 0);
    ASSERT_EQ(t->cpu_ns, 45 * US);
    int64_t cpu, cat;
    ASSERT(mpp_tstate_cpu(t, &cpu, &cat));
    ASSERT_EQ(cpu, 45 * US);
    ASSERT_EQ(cat, 5 * US);
    s_core_end(&core);
}

int
main(int argc, char **argv)
{
    (void)s_stat; /* the fixture's helpers this file does not need */
    (void)s_edge;
    (void)s_wire_calls;
    (void)s_agent_ack;
    (void)s_ack_fd;
    (void)s_threads;
    (void)s_wstat;
    (void)s_wedge;
    (void)s_nstats;
    (void)s_cost_eq;
    (void)s_read;
    MPP_RUN(compute_and_other_wait_are_measured_through_the_wire);
    MPP_RUN(near_boundaries_read_no_clock);
    MPP_RUN(periodic_read_every_ten_ms_of_events);
    MPP_RUN(end_of_thread_and_process_read_the_clock);
    MPP_RUN(final_reading_ends_the_threads_cpu_time);
    MPP_RUN(agent_reads_the_cpu_time_from_the_mapping);
    MPP_RUN(helper_startup_runs_until_its_main);
    return mpp_test_done(argc, argv);
}
