/*  What the agent needs from a writer that runs no batches of its own
 *  (src/agent/mpp_shmread.h, src/collector/core/mpp_shm_root.h): ended
 *  threads stay in the mapping, final numbers and all, until the agent
 *  acknowledges them, and the mapping stays bounded however many threads
 *  come and go; an acknowledgment frees nothing that ended after the
 *  snapshot it was given for, and no value in its words frees more than
 *  the threads that ended; spans form a ring whose overwritten spans the
 *  reader counts as dropped; the process's CPU time comes from the
 *  process or, when larger, from the agent; a fork child's file shows
 *  nothing of its parent before the child's first event.  No test here calls
 *  mpp_core_flush: cold points alone must do. */
#include "shmread_fixture.h"

#include <fcntl.h>
#include <time.h>

#include "mpp_core_priv.h"
#include "mpp_layout.h"

/* The latest ncalls per (thread, function) over every DATA decoded, as
 * the aggregator merges them. */
typedef struct {
    uint64_t tid[2048];
    uint32_t fid[2048];
    uint64_t calls[2048];
    size_t n;
} s_tally_t;

static void
s_tally(s_tally_t *tl, const mpp_msg_t *m)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        const mpp_wthread_t *w = &m->threads[i];
        for (size_t j = 0; j < w->nstats; j++) {
            size_t k = 0;
            while (k < tl->n &&
                   (tl->tid[k] != w->tid || tl->fid[k] != w->stats[j].fid)) {
                k++;
            }
            if (k == tl->n) {
                ASSERT_LT(tl->n, MPP_ARRAY_SIZE(tl->tid));
                tl->tid[k] = w->tid;
                tl->fid[k] = w->stats[j].fid;
                tl->n++;
            }
            tl->calls[k] = w->stats[j].cost.ncalls;
        }
    }
}

static uint64_t
s_tally_calls(const s_tally_t *tl, uint32_t fid)
{
    uint64_t total = 0;
    for (size_t k = 0; k < tl->n; k++) {
        total += tl->fid[k] == fid ? tl->calls[k] : 0;
    }
    return total;
}

/* The header's `used` of this process's file. */
static uint64_t
s_used(void)
{
    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    mpp_shm_hdr_t hdr;
    memcpy(&hdr, b, sizeof(hdr));
    free(b);
    return hdr.used;
}

/* The thread `tid` in a message, or NULL. */
static const mpp_wthread_t *
s_wthread(const mpp_msg_t *m, uint64_t tid)
{
    for (size_t i = 0; i < m->nthreads; i++) {
        if (m->threads[i].tid == tid) {
            return &m->threads[i];
        }
    }
    return NULL;
}

MPP_TEST(ended_threads_wait_for_the_ack_and_the_mapping_stays_bounded)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t run = s_fn(core, "r.py", "run");
    uint32_t work = s_fn(core, "r.py", "work");
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    int fd = s_ack_fd();
    static s_tally_t tl;
    memset(&tl, 0, sizeof(tl));
    enum { ROUNDS = 8, PER_ROUND = 50 };
    uint64_t used[ROUNDS];
    uint64_t expect = 0;
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            mpp_tstate_t *t =
                mpp_core_add_thread(core, 200 + (uint32_t)i, "Thread");
            ASSERT_NOT_NULL(t);
            if (i == 0) {
                /* The first cold point after the last round's ack freed
                 * every thread it covered. */
                ASSERT_EQ(s_threads(core), 2u);
            }
            s_call(core, t, run);
            for (int k = 0; k <= i % 3; k++) {
                s_call(core, t, work);
                if (i % 4 != 0 || k < i % 3) {
                    s_ret(core, t);
                }
            }
            expect += (uint64_t)(i % 3) + 1;
            /* Ends with frames open when i % 4 == 0: closed at its end. */
            mpp_core_release_thread(core, t);
        }
        /* Nothing acknowledged them yet: all are there. */
        ASSERT_EQ(s_threads(core), 1u + PER_ROUND);
        size_t n = s_read(r, msg);
        for (size_t m = 0; m < n; m++) {
            s_tally(&tl, &msg[m]);
        }
        s_clear(msg, n);
        ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
        /* Freed at a cold point, not by the write itself. */
        ASSERT_EQ(s_threads(core), 1u + PER_ROUND);
        used[round] = s_used();
    }
    ASSERT_EQ(s_tally_calls(&tl, work), expect);
    ASSERT_EQ(s_tally_calls(&tl, run), (uint64_t)ROUNDS * PER_ROUND);
    /* The freed tables' blocks serve the next round's. */
    ASSERT_EQ(used[ROUNDS - 1], used[2]);
    ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
    /* Nothing new to acknowledge: no write, no error. */
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
    close(fd);
    mpp_shmread_destroy(&r);
    (void)main_t;
    s_teardown(&core);
}

MPP_TEST(a_thread_ending_between_reads_is_read_with_its_final_numbers)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    mpp_tstate_t *t = mpp_core_add_thread(core, 101, "T");
    uint32_t f = s_fn(core, "p.py", "f");
    uint32_t g = s_fn(core, "p.py", "g");
    s_call(core, main_t, f);
    s_ret(core, main_t);
    s_call(core, t, f);
    s_call(core, t, g);
    s_ret(core, t);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    int fd = s_ack_fd();
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    const mpp_wthread_t *w = s_wthread(&msg[1], t->tid);
    ASSERT_NOT_NULL(w);
    s_clear(msg, 2);
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0); /* nothing has ended: 0 */

    /* More work, then the end with f still open. */
    uint64_t tid = t->tid;
    for (int i = 0; i < 2; i++) {
        s_call(core, t, g);
        s_ret(core, t);
    }
    mpp_core_release_thread(core, t);
    mpp_core_t *c = core;
    ASSERT_EQ(s_read(r, msg), 1u);
    const mpp_msg_t *m = &msg[0];
    ASSERT_NOT_NULL(s_wthread(m, tid));
    /* Exactly the table's final numbers (it is still in the mapping). */
    const mpp_ts_stat_t *sf = s_stat(t, f);
    const mpp_ts_stat_t *sg = s_stat(t, g);
    ASSERT_EQ(sf->cost.ncalls, 1u);
    ASSERT_GT(sf->cost.ct_ns, 0);
    ASSERT_EQ(sg->cost.ncalls, 3u);
    ASSERT_EQ(t->depth, 0u);
    ASSERT(t->ended);
    ASSERT_EQ(t->end_serial, 1u);
    s_cost_eq(&s_wstat(m, f)->cost, &sf->cost);
    s_cost_eq(&s_wstat(m, g)->cost, &sg->cost);
    s_clear(msg, 1);

    /* Another thread ends after that snapshot, before its ack: the ack
     * covers t only. */
    mpp_tstate_t *u = mpp_core_add_thread(c, 102, "U");
    s_call(c, u, g);
    s_ret(c, u);
    uint64_t utid = u->tid;
    mpp_core_release_thread(c, u);
    ASSERT_EQ(s_threads(c), 3u); /* cold points, but no ack yet */
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
    mpp_tstate_t *v = mpp_core_add_thread(c, 103, "V"); /* a cold point */
    ASSERT_EQ(s_threads(c), 3u); /* main, U (not acknowledged), V */
    ASSERT(u->ended);
    ASSERT_EQ(u->end_serial, 2u);
    ASSERT_EQ(s_read(r, msg), 1u);
    ASSERT_EQ(s_wstat(&msg[0], g)->cost.ncalls, 1u);
    ASSERT_NOT_NULL(s_wthread(&msg[0], utid));
    ASSERT_NULL(s_wthread(&msg[0], tid)); /* gone from the file */
    s_clear(msg, 1);
    ASSERT_EQ(mpp_shmread_ack(r, fd), 0);
    mpp_core_release_thread(c, v);
    /* V ended after the last snapshot: it stays; U is freed. */
    ASSERT_EQ(s_threads(c), 2u);
    ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
    close(fd);
    mpp_shmread_destroy(&r);
    s_teardown(&core);
}

/*  Without an agent acknowledging (gone, or slower than the threads), the
 *  mapping still stays bounded: the oldest ended tables go unread, and
 *  their calls count as dropped events. */
MPP_TEST(without_acks_the_oldest_ended_threads_go_as_dropped_events)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    enum { EXTRA = 10, CALLS = 2 };
    uint64_t used_at_max = 0;
    for (int i = 0; i < MPP_CORE_UNACKED_MAX + EXTRA; i++) {
        mpp_tstate_t *t = mpp_core_add_thread(core, 1000 + (uint32_t)i, "T");
        for (int k = 0; k < CALLS; k++) {
            s_call(core, t, f);
            s_ret(core, t);
        }
        mpp_core_release_thread(core, t);
        if (i == MPP_CORE_UNACKED_MAX) {
            used_at_max = s_used(); /* the list has its largest size */
        }
    }
    ASSERT_EQ(s_threads(core), 1u + MPP_CORE_UNACKED_MAX);
    /* The tables freed serve the next ones: no growth past the cap. */
    ASSERT_EQ(s_used(), used_at_max);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(msg[1].dropped, (uint64_t)EXTRA * CALLS);
    uint64_t calls = 0;
    for (size_t i = 0; i < msg[1].nthreads; i++) {
        for (size_t j = 0; j < msg[1].threads[i].nstats; j++) {
            calls += msg[1].threads[i].stats[j].cost.ncalls;
        }
    }
    ASSERT_EQ(calls, (uint64_t)MPP_CORE_UNACKED_MAX * CALLS);
    s_clear(msg, 2);
    mpp_shmread_destroy(&r);
    (void)main_t;
    s_teardown(&core);
}

/* Writes the agent's two words as a hostile process might. */
static void
s_write_ack(int fd, uint64_t ack, uint64_t check)
{
    uint64_t words[2] = {ack, check};
    ASSERT_EQ(pwrite(fd, words, sizeof(words), MPP_SHM_ACK_OFFSET),
              (ssize_t)sizeof(words));
}

MPP_TEST(no_ack_value_frees_a_running_thread)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *main_t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    mpp_tstate_t *a = mpp_core_add_thread(core, 101, "A");
    s_call(core, a, f);
    s_ret(core, a);
    mpp_core_release_thread(core, a);
    int fd = s_ack_fd();
    /* Words that disagree (a torn or stray write): ignored. */
    s_write_ack(fd, UINT64_MAX, UINT64_MAX);
    mpp_tstate_t *b = mpp_core_add_thread(core, 102, "B");
    ASSERT_EQ(s_threads(core), 3u);
    s_write_ack(fd, 1, 1);
    mpp_core_release_thread(core, mpp_core_add_thread(core, 104, "D"));
    ASSERT_EQ(s_threads(core), 4u); /* main, A, B, D */
    /* Agreeing words far past every serial: only the ended ones go. */
    s_write_ack(fd, UINT64_MAX, ~UINT64_MAX);
    s_call(core, b, f);
    mpp_tstate_t *c = mpp_core_add_thread(core, 103, "C");
    ASSERT_EQ(s_threads(core), 3u); /* main, B, C */
    /* Backwards: nothing breaks, nothing more is freed. */
    s_write_ack(fd, 0, ~(uint64_t)0);
    mpp_core_release_thread(core, c);
    ASSERT_EQ(s_threads(core), 3u); /* C ended: it waits */
    s_ret(core, b);
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(s_wstat(&msg[1], f)->cost.ncalls, 1u); /* B's call */
    s_clear(msg, 2);
    ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
    mpp_shmread_destroy(&r);
    close(fd);
    (void)main_t;
    s_teardown(&core);
}

MPP_TEST(span_ring_counts_what_was_overwritten_as_dropped)
{
    s_setup();
    s_span_min_us = 1; /* one step of the test clock */
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t work = s_fn(core, "p.py", "work");
    uint32_t acq =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_call(core, t, work);
    enum { EXTRA = 100 };
    for (int i = 0; i < MPP_SPANS_CAP + EXTRA; i++) {
        s_call(core, t, acq);
        s_ret(core, t);
    }
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(msg[1].nspans, (size_t)MPP_SPANS_CAP);
    ASSERT_EQ(msg[1].dropped, (uint64_t)EXTRA);
    /* The newest were kept: the last is the latest interval. */
    ASSERT_EQ(msg[1].spans[MPP_SPANS_CAP - 1].dur_ns, STEP);
    ASSERT_EQ(s_wstat(&msg[1], acq)->cost.ncalls,
              (uint64_t)MPP_SPANS_CAP + EXTRA);
    s_clear(msg, 2);

    /* Ten more: ten spans, nothing more dropped; then one whose slot a
     * reader finds mid-write (number 0) counts as dropped too. */
    for (int i = 0; i < 10; i++) {
        s_call(core, t, acq);
        s_ret(core, t);
    }
    ASSERT_EQ(s_read(r, msg), 1u);
    ASSERT_EQ(msg[0].nspans, 10u);
    ASSERT_EQ(msg[0].dropped, (uint64_t)EXTRA);
    s_clear(msg, 1);
    s_call(core, t, acq);
    s_ret(core, t);
    size_t len;
    unsigned char *b = s_bytes(getpid(), true, &len);
    mpp_shm_hdr_t hdr;
    mpp_shm_root_t root;
    memcpy(&hdr, b, sizeof(hdr));
    uint64_t off;
    ASSERT_EQ(mpp_shm_offset(&hdr, hdr.root, sizeof(root), &off), 0);
    memcpy(&root, b + off, sizeof(root));
    struct mpp_spans sh;
    ASSERT_EQ(mpp_shm_offset(&hdr, (uint64_t)(uintptr_t)root.spans, sizeof(sh),
                             &off),
              0);
    memcpy(&sh, b + off, offsetof(struct mpp_spans, span));
    ASSERT_EQ(sh.total, (uint64_t)MPP_SPANS_CAP + EXTRA + 11);
    size_t slot = off + offsetof(struct mpp_spans, span) +
                  ((sh.total - 1) % MPP_SPANS_CAP) * sizeof(mpp_span_rec_t) +
                  offsetof(mpp_span_rec_t, seq);
    memset(b + slot, 0, sizeof(uint64_t));
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_read(r, b, len, &out), 0);
    ASSERT_EQ(s_decode(&out, msg), 1u);
    ASSERT_EQ(msg[0].nspans, 0u);
    ASSERT_EQ(msg[0].dropped, (uint64_t)EXTRA + 1);
    s_clear(msg, 1);
    mpp_shmread_out_fini(&out);
    free(b);
    ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
    mpp_shmread_destroy(&r);
    /* MPP_SHMREAD_SEEDS=dir: a wrapped ring, an ended thread waiting for
     * its ack and a lock wait running make fuzz_shmread's third seed. */
    const char *seeds = getenv("MPP_SHMREAD_SEEDS");
    if (seeds != NULL) {
        /* A thread CPU clock that reads: the seed holds CPU times. */
        mpp_core_hot(core)->clock.fake_cpu = 12345;
        mpp_tstate_t *x = mpp_core_add_thread(core, 101, "X");
        s_call(core, x, work);
        s_call(core, x, acq);
        s_ret(core, x);
        mpp_core_release_thread(core, x);
        s_call(core, t, acq);
        b = s_bytes(getpid(), true, &len);
        char path[4096];
        snprintf(path, sizeof(path), "%s/ring_ended.bin", seeds);
        FILE *sf = fopen(path, "wb");
        ASSERT_NOT_NULL(sf);
        ASSERT_EQ(fwrite(b, 1, len, sf), len);
        fclose(sf);
        free(b);
        s_ret(core, t);
    }
    s_ret(core, t);
    s_span_min_us = 0;
    s_teardown(&core);
}

/* CPU time of this process in ns. */
static int64_t
s_cpu_now(void)
{
    struct timespec ts;
    ASSERT_EQ(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

MPP_TEST(cpu_time_from_the_process_or_the_agent_whichever_is_larger)
{
    s_setup();
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t f = s_fn(core, "p.py", "f");
    s_call(core, t, f);
    s_ret(core, t);
    int64_t before = s_cpu_now();
    mpp_tstate_t *u = mpp_core_add_thread(core, 101, "U"); /* cold point */
    int64_t after = s_cpu_now();
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_GE(msg[1].cpu_ns, before);
    ASSERT_LE(msg[1].cpu_ns, after);
    s_clear(msg, 2);

    /* The agent saw more (the process ran on after its last cold point
     * and was killed): the final DATA and BYE carry the agent's. */
    int64_t seen = after + 5000000000LL;
    mpp_shmread_set_cpu_ns(r, seen);
    mpp_shmread_set_cpu_ns(r, 1); /* smaller: ignored */
    size_t len;
    unsigned char *b = s_bytes(getpid(), false, &len);
    mpp_shmread_out_t out;
    mpp_shmread_out_init(&out);
    ASSERT_EQ(mpp_shmread_final(r, b, len, 0, MPP_EXIT_SIGNAL, 9, &out), 0);
    size_t n = s_decode(&out, msg);
    ASSERT_EQ(n, 2u);
    ASSERT_EQ(msg[0].cpu_ns, seen);
    ASSERT_EQ(msg[1].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_EQ(msg[1].cpu_ns, seen);
    s_clear(msg, n);
    free(b);
    mpp_shmread_destroy(&r);

    /* The process's own end record: its CPU time at the end. */
    mpp_core_release_thread(core, u);
    before = s_cpu_now();
    mpp_core_finish(core, MPP_EXIT_CODE, 0);
    after = s_cpu_now();
    r = mpp_shmread_new(TOKEN);
    ASSERT_EQ(s_read(r, msg), 3u);
    ASSERT_EQ(msg[2].type, (uint32_t)MPP_MSG_BYE);
    ASSERT_GE(msg[2].cpu_ns, before);
    ASSERT_LE(msg[2].cpu_ns, after);
    ASSERT_EQ(msg[1].cpu_ns, msg[2].cpu_ns);
    s_clear(msg, 3);
    mpp_shmread_out_fini(&out);
    mpp_shmread_destroy(&r);
    s_teardown(&core);
}

/*  A fork child read before its first event (or killed before it): its
 *  file names the child, and none of the parent's numbers or spans. */
MPP_TEST(a_fork_child_before_its_first_event_shows_nothing_of_its_parent)
{
    s_setup();
    s_span_min_us = 1;
    mpp_core_t *core = s_core("main");
    mpp_tstate_t *t = mpp_core_add_thread(core, 100, "MainThread");
    uint32_t g = s_fn(core, "p.py", "g");
    uint32_t acq =
        s_fn(core, "~", "<method 'acquire' of '_thread.lock' objects>");
    s_call(core, t, g);
    s_call(core, t, acq);
    s_ret(core, t);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        mpp_core_note_fork(core); /* the atfork handler, then death */
        _exit(0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    size_t len;
    unsigned char *b = s_bytes(pid, true, &len);
    mpp_msg_t msg[MPP_SHMREAD_MAXMSG];
    for (int final = 0; final < 2; final++) {
        mpp_shmread_t *r = mpp_shmread_new(TOKEN);
        mpp_shmread_out_t out;
        mpp_shmread_out_init(&out);
        ASSERT_EQ(
            final ? mpp_shmread_final(r, b, len, 0, MPP_EXIT_SIGNAL, 9, &out)
                  : mpp_shmread_read(r, b, len, &out),
            0);
        size_t n = s_decode(&out, msg);
        ASSERT_GE(n, 1u);
        ASSERT_EQ(msg[0].type, (uint32_t)MPP_MSG_HELLO);
        ASSERT_EQ(msg[0].pid, (int64_t)pid);
        ASSERT_EQ(msg[0].ppid, (int64_t)getpid());
        ASSERT_STREQ(msg[0].start_method, "fork");
        for (size_t i = 1; i < n; i++) {
            ASSERT_EQ(msg[i].nthreads, 0u);
            ASSERT_EQ(msg[i].nspans, 0u);
            ASSERT_EQ(msg[i].dropped, 0u);
        }
        ASSERT_EQ(n, final ? 3u : 1u);
        s_clear(msg, n);
        ASSERT_EQ(mpp_shmread_corrupt(r), 0u);
        mpp_shmread_out_fini(&out);
        mpp_shmread_destroy(&r);
    }
    free(b);
    char path[4096];
    s_path(pid, path, sizeof(path));
    unlink(path);
    /* The parent's own file still shows its span and numbers. */
    mpp_shmread_t *r = mpp_shmread_new(TOKEN);
    ASSERT_EQ(s_read(r, msg), 2u);
    ASSERT_EQ(msg[1].nspans, 1u);
    ASSERT_EQ(s_wstat(&msg[1], g)->cost.ncalls, 1u);
    s_clear(msg, 2);
    mpp_shmread_destroy(&r);
    s_ret(core, t);
    s_span_min_us = 0;
    s_teardown(&core);
}

int
main(int argc, char **argv)
{
    (void)s_edge; /* the fixtures' helpers this file does not need */
    (void)s_wire_calls;
    (void)s_agent_ack;
    (void)s_wedge;
    (void)s_nstats;
    (void)s_last;
    MPP_RUN(ended_threads_wait_for_the_ack_and_the_mapping_stays_bounded);
    MPP_RUN(a_thread_ending_between_reads_is_read_with_its_final_numbers);
    MPP_RUN(no_ack_value_frees_a_running_thread);
    MPP_RUN(without_acks_the_oldest_ended_threads_go_as_dropped_events);
    MPP_RUN(span_ring_counts_what_was_overwritten_as_dropped);
    MPP_RUN(cpu_time_from_the_process_or_the_agent_whichever_is_larger);
    MPP_RUN(a_fork_child_before_its_first_event_shows_nothing_of_its_parent);
    return mpp_test_done(argc, argv);
}
