/*  Unit tests of the collector core (src/collector/core), pure C: no
 *  Python, no ZeroMQ.  The core runs with its test clock (every read
 *  advances 1000 ns), so times are asserted exactly, and with a sink that
 *  encodes every message with the wire format and decodes it back, as the
 *  aggregator would, so the tests read what would have gone out.  Events
 *  are fed the way the profile hook feeds them: one clock read each.
 *
 *  Regression drivers for issue 9: item 1 (the DATA scratch array and a
 *  thread without changes after eight with), item 3 (ended threads are
 *  sent, then freed), item 4 (a kernel thread id that comes back).  Fork,
 *  the registry and the shared mapping are test_core_fork.c's.
 */
#include "core_fixture.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpp_cats.h"
#include "mpp_shm.h"
#include "mpp_shm_root.h"

/* ---- stacks and tables ------------------------------------------------ */

/*  clocktree.py's tree (tests/integration/test_collector.py TestClock):
 *  top calls mid (which calls leaf twice), leaf, rec(2).  The numbers
 *  are cProfile's with the same clock. */
MPP_TEST(exact_times_and_recursion)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t top = s_fn(core, "c.py", "top");
    uint32_t mid = s_fn(core, "c.py", "mid");
    uint32_t leaf = s_fn(core, "c.py", "leaf");
    uint32_t rec = s_fn(core, "c.py", "rec");

    s_call(core, t, top);
    s_call(core, t, mid);
    s_call(core, t, leaf);
    s_ret(core, t);
    s_call(core, t, leaf);
    s_ret(core, t);
    s_ret(core, t);
    s_call(core, t, leaf);
    s_ret(core, t);
    for (int i = 0; i < 3; i++) {
        s_call(core, t, rec);
    }
    for (int i = 0; i < 3; i++) {
        s_ret(core, t);
    }
    s_ret(core, t);
    ASSERT(mpp_tstate_idle(t));

    static const struct {
        uint64_t cc, nc;
        int64_t tt, ct;
    } want[] = {{1, 1, 4, 15}, {1, 1, 3, 5}, {3, 3, 3, 3}, {1, 3, 5, 5}};
    uint32_t fids[] = {top, mid, leaf, rec};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(fids); i++) {
        const mpp_ts_stat_t *s = s_stat(t, fids[i]);
        ASSERT_NOT_NULL(s);
        ASSERT_EQ(s->cost.pcalls, want[i].cc);
        ASSERT_EQ(s->cost.ncalls, want[i].nc);
        ASSERT_EQ(s->cost.tt_ns, want[i].tt * STEP);
        ASSERT_EQ(s->cost.ct_ns, want[i].ct * STEP);
        ASSERT_EQ(s->level, 0u);
    }
    /* rec -> rec: its first call is not recursive for the edge. */
    const mpp_ts_edge_t *e = s_edge(t, rec, rec);
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(e->cost.ncalls, 2u);
    ASSERT_EQ(e->cost.pcalls, 1u);
    ASSERT_EQ(e->cost.tt_ns, 3 * STEP);
    ASSERT_EQ(e->cost.ct_ns, 3 * STEP);
    ASSERT_EQ(s_edge(t, top, leaf)->cost.ncalls, 1u);
    ASSERT_EQ(s_edge(t, mid, leaf)->cost.ncalls, 2u);
    ASSERT_NULL(s_edge(t, leaf, top));
    s_core_end(&core);
}

/* Many functions, callers and a deep stack: the index, the edge hash and
 * the stack grow, and every count stays exact. */
MPP_TEST(tables_grow)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    enum { N = 2000, DEPTH = 3000 };
    static uint32_t fid[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        fid[i] = s_fn(core, "g.py", name);
    }
    /* Every function calls every 7th next one: N * 2 edges. */
    for (int i = 0; i < N; i++) {
        s_call(core, t, fid[i]);
        s_call(core, t, fid[(i + 7) % N]);
        s_ret(core, t);
        s_call(core, t, fid[(i + 11) % N]);
        s_ret(core, t);
        s_ret(core, t);
    }
    ASSERT_EQ(t->nstats, (uint32_t)N);
    ASSERT_EQ(t->nedges, (uint32_t)(2 * N));
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(s_stat(t, fid[i])->cost.ncalls, 3u);
        ASSERT_EQ(s_edge(t, fid[i], fid[(i + 7) % N])->cost.ncalls, 1u);
    }
    for (int d = 0; d < DEPTH; d++) {
        s_call(core, t, fid[0]);
    }
    ASSERT_EQ(t->depth, (uint32_t)DEPTH);
    for (int d = 0; d < DEPTH; d++) {
        s_ret(core, t);
    }
    const mpp_ts_stat_t *s = s_stat(t, fid[0]);
    ASSERT_EQ(s->cost.ncalls, 3u + DEPTH);
    ASSERT_EQ(s->cost.pcalls, 3u + 1);
    ASSERT_EQ(mpp_core_dropped(core), 0u);
    s_core_end(&core);
}

/* A return with nothing of ours on the stack is ignored by the hook; a
 * frame without a function id is pushed but not accounted. */
MPP_TEST(unknown_frames)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "u.py", "f");
    ASSERT(mpp_tstate_idle(t));
    s_call(core, t, MPP_NOFID);
    s_call(core, t, f);
    s_ret(core, t);
    s_ret(core, t);
    ASSERT(mpp_tstate_idle(t));
    ASSERT_EQ(t->nstats, 1u);
    ASSERT_EQ(t->nedges, 0u);
    ASSERT_EQ(s_stat(t, f)->cost.ct_ns, STEP);
    s_core_end(&core);
}

/* ---- categories ------------------------------------------------------- */

MPP_TEST(categories_exclusive_with_bytes)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "w.py", "work");
    uint32_t dumps = s_fn(
        core, "/usr/lib/python3.11/multiprocessing/reduction.py", "dumps");
    uint32_t cdumps = s_fn(core, "~", "<built-in method _pickle.dumps>");
    uint32_t acquire =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    uint32_t send =
        s_fn(core, "/usr/lib/python3.11/multiprocessing/connection.py",
             "_send_bytes");

    /* work [ dumps [ _pickle.dumps [ acquire ] ] ] send */
    uint64_t payload = 4096;
    uint64_t sent = 100;
    s_call(core, t, work);    /* 1 */
    s_call(core, t, dumps);   /* 2: pickle on */
    s_call(core, t, cdumps);  /* 3: same: nothing */
    s_call(core, t, acquire); /* 4: lock wait */
    s_ret(core, t);           /* 5: pickle again */
    s_ret(core, t);           /* 6 */
    mpp_tstate_leave_ex(t, mpp_clock_read(&mpp_core_hot(core)->clock),
                        &payload); /* 7: pickle off */
    mpp_tstate_enter_ex(t, send, mpp_clock_read(&mpp_core_hot(core)->clock),
                        &sent); /* 8: ipc on */
    s_ret(core, t);             /* 9: ipc off */
    s_ret(core, t);             /* 10 */

    mpp_catval_t cat[MPP_CAT_COUNT];
    mpp_cats_fill((const struct mpp_core *)core, t, cat);
    ASSERT_EQ(cat[MPP_CAT_PICKLE].ns, (uint64_t)4 * STEP); /* 2-4, 5-7 */
    ASSERT_EQ(cat[MPP_CAT_PICKLE].count, 1u);
    ASSERT_EQ(cat[MPP_CAT_PICKLE].bytes, payload);
    ASSERT_EQ(cat[MPP_CAT_LOCK_WAIT].ns, (uint64_t)STEP);
    ASSERT_EQ(cat[MPP_CAT_LOCK_WAIT].count, 1u);
    ASSERT_EQ(cat[MPP_CAT_IPC_WAIT].ns, (uint64_t)STEP);
    ASSERT_EQ(cat[MPP_CAT_IPC_WAIT].bytes, sent);
    ASSERT_EQ(cat[MPP_CAT_UNPICKLE].ns, 0u);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].count, 0u); /* a fork child */
    ASSERT(mpp_cats_dirty(t));
    s_core_end(&core);
}

/* Intervals at least span_min_us long become spans, carried once. */
MPP_TEST(spans)
{
    s_span_min_us = 2; /* two steps of the test clock */
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "s.py", "work");
    uint32_t acquire =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_call(core, t, work);
    s_call(core, t, acquire); /* one step: too short */
    s_ret(core, t);
    s_call(core, t, acquire); /* three steps */
    s_call(core, t, work);
    s_ret(core, t);
    s_ret(core, t);
    s_ret(core, t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *m = s_last(MPP_MSG_DATA);
    ASSERT_EQ(m->nspans, 1u);
    ASSERT_EQ(m->spans[0].cat, (uint32_t)MPP_CAT_LOCK_WAIT);
    ASSERT_EQ(m->spans[0].dur_ns, 3 * STEP);
    ASSERT_EQ(m->spans[0].fid, work); /* what ran when it began */
    ASSERT_EQ(m->spans[0].tid, t->tid);
    s_call(core, t, work);
    s_ret(core, t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(s_last(MPP_MSG_DATA)->nspans, 0u);
    s_core_end(&core);
}

/* The main thread of a program starts in start-up, which the script's
 * <module> (with nothing of ours below it) ends. */
MPP_TEST(startup_ends_at_module)
{
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *other = mpp_core_add_thread(core, 101, "Thread-1");
    uint32_t mod = s_fn(core, "t.py", "<module>");
    s_call(core, t, mod);
    s_ret(core, t);
    mpp_catval_t cat[MPP_CAT_COUNT];
    mpp_cats_fill((const struct mpp_core *)core, t, cat);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].count, 1u);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].ns, (uint64_t)STEP);
    mpp_cats_fill((const struct mpp_core *)core, other, cat);
    ASSERT_EQ(cat[MPP_CAT_STARTUP].count, 0u);
    s_core_end(&core);
}

/* ---- batches ----------------------------------------------------------- */

MPP_TEST(batches_carry_changes_once)
{
    mpp_core_t *core = s_core("fork");
    ASSERT_EQ(S.n, 1u);
    ASSERT_EQ(S.msg[0].type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_STREQ(S.msg[0].start_method, "fork");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t a = s_fn(core, "b.py", "a");
    uint32_t b = s_fn(core, "b.py", "b");
    s_call(core, t, a);
    s_ret(core, t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *m = &S.msg[1];
    ASSERT_EQ(m->type, (uint32_t)MPP_MSG_DATA);
    ASSERT_EQ(m->seq, 1u);
    ASSERT_EQ(m->nfuncs, 1u);
    ASSERT_STREQ(m->funcs[0].name, "a");
    ASSERT_EQ(m->nthreads, 1u);
    ASSERT_EQ(m->threads[0].tid, 100u);
    ASSERT_STREQ(m->threads[0].name, "MainThread");
    ASSERT_EQ(m->threads[0].nstats, 1u);
    ASSERT_EQ(m->threads[0].stats[0].cost.ct_ns, STEP);

    /* Nothing changed: nothing sent. */
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(S.n, 2u);

    /* A refused batch is carried, definitions included, by the next. */
    s_call(core, t, b);
    s_ret(core, t);
    S.refuse = 1;
    ASSERT_LT(mpp_core_flush(core), 0);
    ASSERT_EQ(S.n, 2u);
    s_call(core, t, a);
    s_ret(core, t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    m = &S.msg[2];
    ASSERT_EQ(m->seq, 2u); /* no gap for the refused one */
    ASSERT_EQ(m->nfuncs, 1u);
    ASSERT_STREQ(m->funcs[0].name, "b");
    ASSERT_EQ(m->threads[0].nstats, 2u);
    ASSERT_EQ(s_wire_calls(a), 2u);
    ASSERT_EQ(s_wire_calls(b), 1u);

    /* The end: open frames closed, last DATA, BYE, sink closed. */
    s_call(core, t, a);
    mpp_core_finish(core, MPP_EXIT_CODE, 3);
    ASSERT_EQ(s_wire_calls(a), 3u);
    const mpp_msg_t *bye = s_last(MPP_MSG_BYE);
    ASSERT_EQ(bye->exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(bye->exit_code, 3);
    ASSERT_EQ(S.closes, 1);
    ASSERT(mpp_core_hot(core)->hot & MPP_CORE_DONE);
    size_t n = S.n;
    mpp_core_finish(core, MPP_EXIT_OK, 0);
    ASSERT_EQ(S.n, n);

    /* An exec that failed: a new incarnation, from zero. */
    mpp_core_restart(core);
    ASSERT_EQ(S.msg[n].type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_EQ(S.msg[n].seq, 0u);
    ASSERT_EQ(t->nstats, 0u);
    s_core_end(&core);
}

/*  Issue 9, item 1: seven busy threads and the main one (eight with
 *  changes at every batch, so the scratch array holds exactly 8), an idle
 *  thread after them without changes, and a short thread that has ended.
 *  The array was sized for the threads with changes and written for
 *  every thread: one slot past its end.  ASan and valgrind see it. */
MPP_TEST(item1_batch_with_a_clean_thread_after_eight)
{
    mpp_core_t *core = s_core("fork");
    uint32_t spin = s_fn(core, "o.py", "spin");
    uint32_t wait = s_fn(core, "o.py", "wait");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *busy[7];
    for (int i = 0; i < 7; i++) {
        busy[i] = mpp_core_add_thread(core, 101 + (uint32_t)i, "busy");
    }
    mpp_tstate_t *idle = mpp_core_add_thread(core, 108, "idle");
    s_call(core, idle, wait); /* stays in the call, without changes */
    mpp_tstate_t *shortt = mpp_core_add_thread(core, 109, "short");
    s_call(core, shortt, spin);
    s_ret(core, shortt);
    mpp_core_release_thread(core, shortt);
    /* Two threads with changes: the scratch array gets its first 8. */
    ASSERT_EQ(mpp_core_flush(core), 0);
    ASSERT_EQ(s_last(MPP_MSG_DATA)->nthreads, 2u);

    for (int round = 0; round < 4; round++) {
        s_call(core, main_t, spin);
        s_ret(core, main_t);
        for (int i = 0; i < 7; i++) {
            s_call(core, busy[i], spin);
            s_ret(core, busy[i]);
        }
        ASSERT_EQ(mpp_core_flush(core), 0);
        const mpp_msg_t *m = s_last(MPP_MSG_DATA);
        ASSERT_EQ(m->nthreads, 8u);
        ASSERT_EQ(m->threads[0].tid, 100u);
        for (int i = 0; i < 7; i++) {
            ASSERT_EQ(MPP_TID_KERNEL(m->threads[1 + i].tid),
                      101u + (uint32_t)i);
        }
    }
    ASSERT_EQ(s_wire_calls(spin), 4u * 8 + 1);
    mpp_core_info_t info;
    mpp_core_info(core, &info);
    if (s_agent_ack(1)) {
        /* In a mapping the ended thread waits for the agent, which has
         * now read it: the next cold point frees it. */
        ASSERT_EQ(info.threads, 10u);
        ASSERT_EQ(mpp_core_flush(core), 0);
        mpp_core_info(core, &info);
    }
    ASSERT_EQ(info.threads, 9u); /* main, busy, idle; the short one freed */
    s_core_end(&core);
}

/*  Issue 9, item 3: ended threads are delivered and freed, and the core
 *  does not grow with them.  After MPP_CORE_ENDED_MAX of them the batch
 *  is due at once; in a mapping, the agent's acknowledgment frees them
 *  instead, here every 32 threads (test_shmread has the reader's side). */
MPP_TEST(item3_ended_threads_are_freed)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "r.py", "work");
    uint32_t run = s_fn(core, "r.py", "run");
    s_call(core, main_t, run);
    s_ret(core, main_t);
    /* A first round, so the batch scratch and the merged table of ended
     * threads reach their size. */
    int total = 0;
    for (int round = 0; round < 2; round++) {
        size_t mem_before = mpp_core_mem(core);
        for (int i = 0; i < 1000; i++) {
            mpp_tstate_t *t =
                mpp_core_add_thread(core, 200 + (uint32_t)i, "Thread");
            ASSERT_NOT_NULL(t);
            s_call(core, t, run);
            s_call(core, t, work);
            if (i % 3 == 0) {
                /* Ends with frames open: they are closed at its end. */
                mpp_core_release_thread(core, t);
            }
            else {
                s_ret(core, t);
                s_ret(core, t);
                mpp_core_release_thread(core, t);
            }
            total++;
            if (s_shm_dir != NULL && (i + 1) % 32 == 0) {
                /* The core's own batch first, which frees nothing here:
                 * it is the wire's copy this test counts. */
                ASSERT_EQ(mpp_core_flush(core), 0);
                ASSERT(s_agent_ack((uint64_t)total));
            }
            /* The hook's flush, when it is due. */
            if (mpp_core_hot(core)->deadline == INT64_MIN) {
                ASSERT_EQ((i + 1) % 32, 0);
                ASSERT_EQ(mpp_core_flush(core), 0);
            }
            mpp_core_info_t info;
            mpp_core_info(core, &info);
            ASSERT_LE(info.threads, 1u + 32);
        }
        ASSERT_EQ(mpp_core_flush(core), 0);
        if (s_agent_ack((uint64_t)total)) {
            ASSERT_EQ(mpp_core_flush(core), 0);
        }
        mpp_core_info_t info;
        mpp_core_info(core, &info);
        ASSERT_EQ(info.threads, 1u);
        if (round == 1) {
            ASSERT_EQ(mpp_core_mem(core), mem_before);
        }
        ASSERT_EQ(s_wire_calls(work), (uint64_t)total);
    }
    /* Their numbers stay for snapshots, in one merged table. */
    const mpp_tstate_t *past = mpp_core_table(core, 1);
    ASSERT_NOT_NULL(past);
    ASSERT_NULL(mpp_core_table(core, 2));
    ASSERT_EQ(s_stat(past, work)->cost.ncalls, (uint64_t)total);
    ASSERT_EQ(s_edge(past, run, work)->cost.ncalls, (uint64_t)total);
    ASSERT_EQ(s_stat(past, work)->cost.ct_ns, (int64_t)total * STEP);
    ASSERT_PTR_EQ(mpp_core_table(core, 0), main_t);
    s_core_end(&core);
}

/*  Issue 9, item 4: the kernel gives a new thread the id of one that
 *  ended.  Each keeps its own identity on the wire, so neither replaces
 *  the other's counts. */
MPP_TEST(item4_reused_kernel_tid)
{
    mpp_core_t *core = s_core("fork");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    ASSERT_EQ(main_t->tid, 100u); /* the first reads as the kernel's id */
    uint32_t work = s_fn(core, "x.py", "work");
    uint64_t seen[3];
    for (int k = 0; k < 3; k++) {
        mpp_tstate_t *t = mpp_core_add_thread(core, 777, "Thread");
        seen[k] = t->tid;
        for (int i = 0; i <= k; i++) {
            s_call(core, t, work);
            s_ret(core, t);
        }
        mpp_core_release_thread(core, t);
        if (k == 1) {
            ASSERT_EQ(mpp_core_flush(core), 0);
        }
    }
    ASSERT_EQ(mpp_core_flush(core), 0);
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(MPP_TID_KERNEL(seen[k]), 777u);
        for (int j = 0; j < k; j++) {
            ASSERT_NE(seen[k], seen[j]);
        }
    }
    ASSERT_EQ(s_wire_calls(work), 1u + 2 + 3);
    s_core_end(&core);
}

int
main(int argc, char **argv)
{
    MPP_RUN(exact_times_and_recursion);
    MPP_RUN(tables_grow);
    MPP_RUN(unknown_frames);
    MPP_RUN(categories_exclusive_with_bytes);
    MPP_RUN(spans);
    MPP_RUN(startup_ends_at_module);
    MPP_RUN(batches_carry_changes_once);
    MPP_RUN(item1_batch_with_a_clean_thread_after_eight);
    MPP_RUN(item3_ended_threads_are_freed);
    MPP_RUN(item4_reused_kernel_tid);
    return mpp_test_done(argc, argv);
}
