/*  Unit tests of the collector core (src/collector/core), pure C: no
 *  Python, no ZeroMQ.  The core runs with its test clock (every read
 *  advances 1000 ns), so times are asserted exactly, and with a sink that
 *  encodes every message with the wire format and decodes it back, as the
 *  aggregator would, so the tests read what would have gone out.  Events
 *  are fed the way the profile hook feeds them: one clock read each.
 *
 *  Regression drivers for issue 9: item 1 (the DATA scratch array and a
 *  thread without changes after eight with), item 3 (ended threads are
 *  sent, then freed), item 4 (a kernel thread id that comes back), item 7
 *  (memory count after a failed registration).
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

/* ---- fork and registry ------------------------------------------------- */

MPP_TEST(fork_keeps_the_forking_thread)
{
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *other = mpp_core_add_thread(core, 101, "Thread-1");
    uint32_t f = s_fn(core, "k.py", "f");
    s_call(core, other, f);
    s_call(core, main_t, f);
    ASSERT_EQ(mpp_core_flush(core), 0);
    mpp_core_release_thread(core, other); /* ends before the fork */

    /* What the atfork handler does, then the next event's reset. */
    mpp_core_note_fork(core);
    size_t n = S.n;
    mpp_core_after_fork(core, main_t);
    ASSERT_EQ(S.abandons, 1);
    const mpp_msg_t *hello = &S.msg[n];
    ASSERT_EQ(hello->type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_EQ(hello->seq, 0u);
    ASSERT_STREQ(hello->start_method, "fork");
    ASSERT_EQ(MPP_TID_SERIAL(main_t->tid), 0u);
    ASSERT_EQ(main_t->ktid, (uint32_t)syscall(SYS_gettid));
    ASSERT_EQ(main_t->depth, 0u);
    mpp_core_info_t info;
    mpp_core_info(core, &info);
    ASSERT_EQ(info.threads, 1u);
    /* The ended thread was the parent's: forgotten, numbers and all. */
    ASSERT_EQ(mpp_core_table(core, 1)->nstats, 0u);
    /* The child's numbers start from zero; definitions are sent again. */
    s_call(core, main_t, f);
    s_ret(core, main_t);
    ASSERT_EQ(mpp_core_flush(core), 0);
    const mpp_msg_t *m = s_last(MPP_MSG_DATA);
    ASSERT_EQ(m->seq, 1u);
    ASSERT_EQ(m->nfuncs, 1u);
    ASSERT_EQ(m->threads[0].stats[0].cost.ncalls, 1u);
    s_core_end(&core);
}

/*  A real fork, with the core's own at-fork and on_exit handlers: the
 *  child's first event starts its incarnation, and exit() sends its last
 *  batch and BYE.  This is the code that runs in every fork worker,
 *  checked under ASan and valgrind without Python (issue 9: the
 *  multi-process suites cannot preload a sanitizer safely). */
MPP_TEST(fork_child_with_exit_handler)
{
    s_own_process = true;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, t, f); /* open across the fork */
    ASSERT_EQ(mpp_core_flush(core), 0);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        s_frame_fd = fds[1];
        /* What the hook does at the child's first event. */
        ASSERT(mpp_core_hot(core)->hot & MPP_CORE_FORKED);
        mpp_core_after_fork(core, t);
        s_call(core, t, g);
        s_ret(core, t);
        exit(7); /* on_exit: last DATA and BYE */
    }
    close(fds[1]);
    mpp_msg_t got[8];
    size_t n = 0;
    static char frame[1 << 16];
    uint32_t len;
    while (read(fds[0], &len, sizeof(len)) == (ssize_t)sizeof(len)) {
        ASSERT_LT(n, MPP_ARRAY_SIZE(got));
        ASSERT_LE(len, sizeof(frame));
        ASSERT_EQ(read(fds[0], frame, len), (ssize_t)len);
        ASSERT_EQ(mpp_wire_decode(frame, len, &got[n]), 0);
        n++;
    }
    close(fds[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 7);

    ASSERT_EQ(n, 3u); /* HELLO, DATA, BYE */
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(got[i].pid, (int64_t)pid);
        ASSERT_EQ(got[i].seq, (uint64_t)i);
    }
    ASSERT_EQ(got[0].type, (uint32_t)MPP_MSG_HELLO);
    ASSERT_STREQ(got[0].start_method, "fork");
    ASSERT_EQ(got[0].ppid, (int64_t)getpid());
    ASSERT_EQ(got[1].type, (uint32_t)MPP_MSG_DATA);
    ASSERT_EQ(got[1].nthreads, 1u);
    /* The child's numbers start at the fork: g, not the open f. */
    ASSERT_EQ(got[1].threads[0].nstats, 1u);
    ASSERT_EQ(got[1].threads[0].stats[0].fid, g);
    ASSERT_EQ(got[1].threads[0].stats[0].cost.ncalls, 1u);
    ASSERT_EQ(got[2].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_EQ(got[2].exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(got[2].exit_code, 7);
    for (size_t i = 0; i < n; i++) {
        mpp_msg_clear(&got[i]);
    }
    /* The parent goes on: its core still has f open. */
    ASSERT_EQ(t->depth, 1u);
    (void)f;
}

/* ---- the shared mapping (issue 12) ------------------------------------- */

/*  The thread table `t` of process `pid` as a reader finds it in that
 *  process's mapping file under `dir`: through the header's base, with
 *  every offset checked.  Returns the file's bytes (to free) and fills
 *  *copy and *stats (pointing into the bytes). */
static unsigned char *
s_read_table(const char *dir, pid_t pid, const mpp_tstate_t *t,
             mpp_tstate_t *copy, const mpp_ts_stat_t **stats,
             mpp_shm_root_t *root)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)pid);
    DIR *d = opendir(dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    char path[4096] = "";
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    ASSERT(path[0] != '\0');
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    mpp_shm_hdr_t hdr;
    ASSERT_EQ(fread(&hdr, sizeof(hdr), 1, f), 1u);
    ASSERT_EQ(mpp_shm_check_hdr(&hdr, hdr.reserve), 0);
    ASSERT_EQ(hdr.pid, (int64_t)pid);
    unsigned char *bytes = malloc(hdr.used);
    ASSERT_NOT_NULL(bytes);
    rewind(f);
    ASSERT_EQ(fread(bytes, 1, hdr.used, f), (size_t)hdr.used);
    fclose(f);
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(*root), &off), 0);
    memcpy(root, bytes + off, sizeof(*root));
    ASSERT_EQ(root->gen % 2, 0u);
    ASSERT_EQ(root->pid, (int64_t)pid);
    /* The root's thread list holds `t`. */
    ASSERT_EQ(root->nthreads, 1u);
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)root->threads,
                             sizeof(void *), &off),
              0);
    uint64_t first;
    memcpy(&first, bytes + off, sizeof(first));
    ASSERT_EQ(first, (uint64_t)(uintptr_t)t);
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)t, sizeof(*t), &off),
              0);
    memcpy(copy, bytes + off, sizeof(*copy));
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)copy->stats,
                             copy->nstats * sizeof(mpp_ts_stat_t), &off),
              0);
    *stats = (const mpp_ts_stat_t *)(const void *)(bytes + off);
    return bytes;
}

/*  With a mapping, a thread's table and numbers are in the file as they
 *  are written, with no message sent; a fork child moves to a file of
 *  its own before it counts anything, and the parent's stays as it was. */
MPP_TEST(tables_live_in_the_shared_mapping)
{
    char dir[] = "/tmp/mpp-test-core-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    s_shm_dir = dir;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    for (int i = 0; i < 3; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    s_call(core, t, f); /* open across the fork */

    mpp_tstate_t copy;
    const mpp_ts_stat_t *stats;
    mpp_shm_root_t root;
    unsigned char *bytes =
        s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_STREQ(root.start_method, "main");
    ASSERT_STREQ(root.name, "MainProcess");
    ASSERT_EQ(root.argc, 2u);
    ASSERT_EQ(root.exit_kind, (uint32_t)MPP_EXIT_RUNNING);
    ASSERT_EQ(copy.nstats, 2u);
    ASSERT_EQ(copy.depth, 1u);
    ASSERT_EQ(stats[0].fid, g);
    ASSERT_EQ(stats[0].cost.ncalls, 3u);
    ASSERT_EQ(stats[0].cost.tt_ns, 3 * MPP_TEST_CLOCK_STEP_NS);
    ASSERT_EQ(stats[1].fid, f);
    ASSERT_EQ(stats[1].cost.ncalls, 1u);
    free(bytes);

    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        mpp_core_note_fork(core); /* the atfork handler's part */
        mpp_core_after_fork(core, t);
        if (mpp_core_hot(core)->hot & MPP_CORE_DONE) {
            _exit(3);
        }
        s_call(core, t, g);
        s_ret(core, t);
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    /* The child's file: numbers from the fork on, g once. */
    bytes = s_read_table(dir, pid, t, &copy, &stats, &root);
    ASSERT_STREQ(root.start_method, "fork");
    ASSERT_EQ(root.ppid, (int64_t)getpid());
    ASSERT_EQ(copy.nstats, 1u);
    ASSERT_EQ(stats[0].fid, g);
    ASSERT_EQ(stats[0].cost.ncalls, 1u);
    free(bytes);
    /* The parent's file and memory: untouched by the child. */
    bytes = s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_EQ(copy.nstats, 2u);
    ASSERT_EQ(stats[0].cost.ncalls, 3u);
    ASSERT_EQ(stats[1].cost.ncalls, 1u);
    ASSERT_EQ(t->depth, 1u);
    free(bytes);

    /* The end as the process records it, its open frame closed. */
    mpp_core_finish(core, MPP_EXIT_CODE, 5);
    bytes = s_read_table(dir, getpid(), t, &copy, &stats, &root);
    ASSERT_EQ(root.exit_kind, (uint32_t)MPP_EXIT_CODE);
    ASSERT_EQ(root.exit_code, 5);
    ASSERT_EQ(copy.depth, 0u);
    ASSERT_GT(stats[1].cost.ct_ns, 0);
    free(bytes);

    s_core_end(&core);
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == 'p') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    ASSERT_EQ(rmdir(dir), 0);
}

/* Issue 9, item 7: a registration that fails half-way counts nothing. */
MPP_TEST(item7_failed_add_leaves_memory_count)
{
    mpp_funcs_t *funcs = mpp_funcs_new(NULL);
    ASSERT_NOT_NULL(funcs);
    ASSERT_EQ(mpp_funcs_add(funcs, "a.py", 1, "a"), 0u);
    size_t mem = mpp_funcs_mem(funcs);
    s_strdup_fail = 1; /* the file's copy works, the name's fails */
    ASSERT_EQ(mpp_funcs_add(funcs, "a-much-longer-file-name.py", 2, "b"),
              MPP_NOFID);
    s_strdup_fail = -1;
    ASSERT_EQ(mpp_funcs_mem(funcs), mem);
    ASSERT_EQ(mpp_funcs_count(funcs), 1u);
    ASSERT_EQ(mpp_funcs_add(funcs, "b.py", 2, "b"), 1u);
    mpp_funcs_destroy(&funcs);
    ASSERT_NULL(funcs);
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
    MPP_RUN(fork_keeps_the_forking_thread);
    MPP_RUN(fork_child_with_exit_handler);
    MPP_RUN(item7_failed_add_leaves_memory_count);
    MPP_RUN(tables_live_in_the_shared_mapping);
    return mpp_test_done(argc, argv);
}
