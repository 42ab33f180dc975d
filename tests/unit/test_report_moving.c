/*  Moving data as one cost (issue 13), on a Pool built by hand so that
 *  every part is known: the parent pickles a task and sends it, a worker
 *  receives and unpickles it, and its sibling queues on the task queue's
 *  read lock meanwhile.  The transfer is when send and receive overlap.
 */
#include "mpp_report_priv.h"
#include "writers_fixture.h"

#include <string.h>

#define MP "/usr/lib/python3.11/multiprocessing/"
#define TASK_BYTES 4000000u

typedef struct {
    uint32_t handle, send, send_b, dumps;    /* the parent's task thread */
    uint32_t worker, get, recv, recv_b, loads; /* a worker */
} s_fns_t;

static void
s_span(mpp_thread_t *t, int cat, uint32_t func, int64_t t0, int64_t t1,
       uint64_t bytes)
{
    mpp_span_t sp = {(uint32_t)cat, func, t0, t1 - t0, bytes};
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

static void
s_cat(mpp_thread_t *t, int cat, int64_t ns)
{
    t->cat[cat] = (mpp_catval_t){(uint64_t)ns, 1, 0};
}

/*  A Pool worker's thread: its loop's get through recv_bytes, `ipc` of
 *  IPC wait, `lock` of lock wait and `unpickle` of unpickling. */
static mpp_thread_t *
s_worker(mpp_session_t *s, const s_fns_t *f, int64_t pid, int64_t ppid,
         int64_t ipc, int64_t lock, int64_t unpickle)
{
    mpp_proc_t *p = mpp_wf_proc(s, pid, ppid, "ForkPoolWorker", "fork",
                                1000 * MS, 10 * MS + unpickle, MPP_EXIT_OK, 0);
    p->start_ns = 0;
    mpp_thread_t *t = mpp_wf_thread(p, 1, "MainThread");
    mpp_wf_stat(t, f->worker, 1, 1, 10 * MS, 10 * MS + ipc + lock + unpickle);
    mpp_wf_stat(t, f->get, 1, 1, lock, lock + ipc);
    mpp_wf_stat(t, f->recv, 1, 1, 0, ipc);
    mpp_wf_stat(t, f->recv_b, 1, 1, ipc, ipc);
    mpp_wf_stat(t, f->loads, 1, 1, unpickle, unpickle);
    mpp_wf_edge(t, f->worker, f->get, 1, 1, lock, lock + ipc);
    mpp_wf_edge(t, f->get, f->recv, 1, 1, 0, ipc);
    mpp_wf_edge(t, f->recv, f->recv_b, 1, 1, ipc, ipc);
    mpp_wf_edge(t, f->worker, f->loads, 1, 1, unpickle, unpickle);
    s_cat(t, MPP_CAT_IPC_WAIT, ipc);
    s_cat(t, MPP_CAT_LOCK_WAIT, lock);
    s_cat(t, MPP_CAT_UNPICKLE, unpickle);
    return t;
}

/*  The parent (300) pickles for 400 ms and sends 4 MB over [100, 400)
 *  ms; worker 301 waits in its receive from 50 ms, takes the message by
 *  420 ms and unpickles it for 250 ms; worker 302 queues on the read lock
 *  over [60, 500), less a 30 ms IPC wait of its own at [350, 380), and
 *  another of its threads waits on a lock of the program's; worker 303, of another parent, waits on a lock at the same time.
 *  `recv_at` moves 301's receive. */
static mpp_session_t *
s_pool(int64_t recv_at)
{
    mpp_session_t *s = mpp_session_new();
    s_fns_t f = {
        .handle = mpp_wf_fn(s, MP "pool.py", 528, "_handle_tasks"),
        .send = mpp_wf_fn(s, MP "connection.py", 202, "send"),
        .send_b = mpp_wf_fn(s, MP "connection.py", 405, "_send_bytes"),
        .dumps = mpp_wf_fn(s, MP "reduction.py", 48, "dumps"),
        .worker = mpp_wf_fn(s, MP "pool.py", 97, "worker"),
        .get = mpp_wf_fn(s, MP "queues.py", 364, "get"),
        .recv = mpp_wf_fn(s, MP "connection.py", 208, "recv_bytes"),
        .recv_b = mpp_wf_fn(s, MP "connection.py", 429, "_recv_bytes"),
        .loads = mpp_wf_fn(s, "~", 0, "<built-in method loads>"),
    };
    mpp_proc_t *m = mpp_wf_proc(s, 300, 1, "MainProcess", "main", 1000 * MS,
                                450 * MS, MPP_EXIT_OK, 0);
    m->start_ns = 0;
    mpp_thread_t *mt = mpp_wf_thread(m, 1, "MainThread");
    uint32_t mod = mpp_wf_fn(s, "/app/job.py", 1, "<module>");
    mpp_wf_stat(mt, mod, 1, 1, 800 * MS, 800 * MS);
    s_cat(mt, MPP_CAT_LOCK_WAIT, 780 * MS);
    mpp_thread_t *tt = mpp_wf_thread(m, 2, "Thread-2 (_handle_tasks)");
    mpp_wf_stat(tt, f.handle, 1, 1, 10 * MS, 710 * MS);
    mpp_wf_stat(tt, f.dumps, 2, 2, 400 * MS, 400 * MS);
    mpp_wf_stat(tt, f.send, 2, 2, 0, 300 * MS);
    mpp_wf_stat(tt, f.send_b, 2, 2, 300 * MS, 300 * MS);
    mpp_wf_edge(tt, f.handle, f.dumps, 2, 2, 400 * MS, 400 * MS);
    mpp_wf_edge(tt, f.handle, f.send, 2, 2, 0, 300 * MS);
    mpp_wf_edge(tt, f.send, f.send_b, 2, 2, 300 * MS, 300 * MS);
    s_cat(tt, MPP_CAT_PICKLE, 400 * MS);
    s_cat(tt, MPP_CAT_IPC_WAIT, 300 * MS);
    s_span(tt, MPP_CAT_IPC_WAIT, f.send, 100 * MS, 400 * MS, TASK_BYTES);
    /* A send nobody received: no transfer. */
    s_span(tt, MPP_CAT_IPC_WAIT, f.send, 600 * MS, 602 * MS, TASK_BYTES + 1);

    mpp_thread_t *w1 = s_worker(s, &f, 301, 300, 370 * MS, 10 * MS, 250 * MS);
    s_span(w1, MPP_CAT_LOCK_WAIT, f.worker, recv_at - 10 * MS,
           recv_at + 380 * MS, 0);
    s_span(w1, MPP_CAT_IPC_WAIT, f.recv, recv_at, recv_at + 370 * MS,
           TASK_BYTES);
    mpp_thread_t *w2 = s_worker(s, &f, 302, 300, 30 * MS, 400 * MS, 0);
    s_span(w2, MPP_CAT_LOCK_WAIT, f.worker, 60 * MS, 500 * MS, 0);
    s_span(w2, MPP_CAT_IPC_WAIT, f.recv, 350 * MS, 380 * MS, 0);
    /* A wait for a lock of the program's, in another thread of 302 during
     * the transfer: contention, not a wait behind the transfer. */
    mpp_thread_t *w2b = mpp_wf_thread(&s->procs[s->nprocs - 1], 2, "Thread-1");
    uint32_t work = mpp_wf_fn(s, "/app/job.py", 20, "work");
    mpp_wf_stat(w2b, work, 1, 1, 300 * MS, 300 * MS);
    s_span(w2b, MPP_CAT_LOCK_WAIT, work, 100 * MS, 400 * MS, 0);
    mpp_thread_t *w3 = s_worker(s, &f, 303, 299, 0, 300 * MS, 0);
    s_span(w3, MPP_CAT_LOCK_WAIT, f.worker, 100 * MS, 400 * MS, 0);
    return s;
}

static char *
s_written(int kind, const mpp_session_t *s, const char *name)
{
    size_t len;
    ASSERT_EQ(mpp_wf_write(kind, s, NULL, mpp_wf_path(name)), 0);
    return mpp_wf_slurp(mpp_wf_path(name), &len);
}

/*  Both ends overlap over [100, 400): 300 ms each; 302 queued behind it
 *  for 270 ms; with 400 ms of pickling and 250 ms of unpickling, moving
 *  data is 1.52 s and leads. */
MPP_TEST(moving_data)
{
    mpp_session_t *s = s_pool(50 * MS);
    mpp_rep_move_t mv;
    ASSERT_EQ(mpp_rep_moving(s, &mv), 0);
    ASSERT_EQ(mv.transfers, 1);
    int64_t want_ipc[] = {300 * MS, 300 * MS, 0, 0};
    int64_t want_lock[] = {0, 0, 270 * MS, 0};
    for (size_t i = 0; i < 4; i++) {
        ASSERT_EQ(mv.ipc_ns[i], want_ipc[i]);
        ASSERT_EQ(mv.lock_ns[i], want_lock[i]);
    }
    mpp_rep_moving_free(&mv);
    ASSERT(mv.ipc_ns == NULL);

    mpp_rep_time_t tm;
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.transfer_ns, 600 * MS);
    ASSERT_EQ(tm.behind_ns, 270 * MS);
    ASSERT_EQ(tm.move_procs, 3);
    mpp_rep_verdict_t vd;
    mpp_rep_verdict(&tm, &vd);
    ASSERT(strcmp(vd.name, "serialisation") == 0);
    ASSERT_EQ(vd.ns, 1520 * MS);
    ASSERT(vd.hint != NULL && strstr(vd.hint, "send less") != NULL);

    char *txt = s_written(MPP_WF_TEXT, s, "move.txt");
    ASSERT(strstr(txt, "\nLeading cost: moving data \xe2\x80\x94 1.52 s in 3 "
                       "processes: pickling 400 ms, unpickling 250 ms, pipe\n"
                       "  transfers (both ends) 600 ms, workers queued "
                       "behind transfers 270 ms"));
    /* What moved is not idle as well: the workers' pipe waits are 301's
     * 70 ms before the send began and 302's 30 ms of its own. */
    ASSERT(strstr(txt, "The workers waited 100 ms on pipes"));
    char *js = s_written(MPP_WF_JSON, s, "move.json");
    ASSERT(strstr(js, "\"verdict\": {\"leading\": \"serialisation\", "
                      "\"seconds\": 1.52, "));
    ASSERT(strstr(js, "\"moving_data\": {\"pickle_s\": 0.4, \"unpickle_s\": "
                      "0.25, \"transfer_s\": 0.6, \"queued_s\": 0.27}"));
    mpp_session_destroy(&s);

    /* The receive begins after the send ended (another message): no
     * transfer and nobody queued behind one; pickling and unpickling are
     * still moving data, but the workers' 710 ms of lock wait is now
     * contention, and leads. */
    s = s_pool(450 * MS);
    mpp_rep_time(s, -1, &tm);
    ASSERT_EQ(tm.transfer_ns, 0);
    ASSERT_EQ(tm.behind_ns, 0);
    ASSERT(mpp_rep_moving_data(&tm));
    ASSERT_EQ(mpp_rep_lead_rank(&tm, MPP_CAT_UNPICKLE), 650 * MS);
    mpp_rep_verdict(&tm, &vd);
    ASSERT(strcmp(vd.name, "lock_wait") == 0);
    ASSERT_EQ(vd.ns, 710 * MS);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    mpp_wf_tmpdir();
    MPP_RUN(moving_data);
    return mpp_wf_done(mpp_test_done(argc, argv));
}
