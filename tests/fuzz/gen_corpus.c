/*  Writes the seed corpora of the fuzz targets:
 *
 *      gen_corpus DIR      creates DIR/wire/, DIR/sessfile/ and DIR/ingest/
 *                          seeds
 *
 *  Seeds are small on purpose (libFuzzer mutates them best that way) and
 *  cover each message type, each part of the session file and whole
 *  multi-process sessions as fuzz_ingest reads them, plus a few
 *  broken inputs that take the decoders down their error paths.  The
 *  output is checked into tests/fuzz/corpus/; rerun this after a format
 *  change. */
#include "mpp_output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_dir;
static int s_failed;

static void
s_save(const char *sub, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", s_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        s_failed = 1;
    }
}

/* Encodes m and saves it whole, and also cut to `cut` bytes if nonzero. */
static void
s_save_msg(const char *name, const mpp_msg_t *m, size_t cut)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    if (mpp_wire_encode(m, &b) != 0) {
        fprintf(stderr, "%s: encode failed\n", name);
        s_failed = 1;
        return;
    }
    s_save("wire", name, b.data, b.len);
    if (cut > 0 && cut < b.len) {
        char cname[256];
        snprintf(cname, sizeof(cname), "cut_%s", name);
        s_save("wire", cname, b.data, cut);
    }
    mpp_buf_fini(&b);
}

#define TOKEN "0123456789abcdef0123456789abcdef"

static void
s_wire(void)
{
    static const char *argv[] = {"script.py", "-n", "4"};
    mpp_msg_t hello = {
        .token = TOKEN, .pid = 1234, .type = MPP_MSG_HELLO, .ppid = 1000,
        .start_method = "fork", .python = "3.11.7", .argv = argv, .argc = 3,
        .start_ns = 1700000000000000000, .name = "ForkPoolWorker-1",
    };
    s_save_msg("hello.bin", &hello, 20);

    mpp_wfunc_t funcs[] = {
        {0, 3, "/app/script.py", "work"},
        {1, 0, "~", "<built-in method time.sleep>"},
        {2, 40, "/usr/lib/python3.11/multiprocessing/pool.py", "worker"},
    };
    mpp_wstat_t stats[] = {
        {0, {100, 100, 5000000, 9000000}},
        {1, {100, 100, 4000000, 4000000}},
        {2, {1, 1, 10000, 9500000}},
    };
    mpp_wedge_t edges[] = {
        {2, 0, {100, 100, 5000000, 9000000}},
        {0, 1, {100, 100, 4000000, 4000000}},
    };
    mpp_wthread_t threads[2] = {
        {.tid = 140001, .name = "MainThread", .stats = stats, .nstats = 3,
         .edges = edges, .nedges = 2},
        {.tid = 140002, .name = NULL, .stats = stats + 1, .nstats = 1},
    };
    threads[0].cat[MPP_CAT_PICKLE] = (mpp_catval_t){1500, 2, 512};
    threads[0].cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){900000, 7, 0};
    threads[1].cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){42, 1, 0};
    threads[0].has_cpu = true; /* seven columns; the other has five */
    threads[0].cpu_ns = 9000000;
    threads[0].cpu_cat_ns = 901500;
    mpp_wspan_t spans[] = {
        {140001, MPP_CAT_PICKLE, 0, 1700000000000100000, 1500, 512},
        {140002, MPP_CAT_LOCK_WAIT, 1, 1700000000000200000, 42, 0},
    };
    mpp_msg_t data = {
        .token = TOKEN, .pid = 1234, .seq = 1, .type = MPP_MSG_DATA,
        .name = "ForkPoolWorker-1", .wall_ns = 12000000, .cpu_ns = 11000000,
        .dropped = 0, .mem_bytes = 12345678, .funcs = funcs, .nfuncs = 3,
        .threads = threads, .nthreads = 2, .spans = spans, .nspans = 2,
    };
    s_save_msg("data.bin", &data, 200);
    mpp_msg_t empty = {.token = TOKEN, .pid = 1, .seq = 7,
                       .type = MPP_MSG_DATA};
    s_save_msg("data_empty.bin", &empty, 0);
    mpp_msg_t bye = {
        .token = TOKEN, .pid = 1234, .seq = 2, .type = MPP_MSG_BYE,
        .exit_kind = MPP_EXIT_SIGNAL, .exit_code = 15, .wall_ns = 13000000,
        .cpu_ns = 11500000, .dropped = 3,
    };
    s_save_msg("bye.bin", &bye, 0);

    /* Broken on purpose: another version, a foreign magic, a count far
     * beyond the data, trailing bytes. */
    static const char v2[] = "\x97\xa3mpp\x02\xa0\x01\x00\x03\x80";
    s_save("wire", "bad_version.bin", v2, sizeof(v2) - 1);
    static const char magic[] = "\x97\xa3zmq\x01\xa0\x01\x00\x03\x80";
    s_save("wire", "bad_magic.bin", magic, sizeof(magic) - 1);
    static const char bomb[] = "\x97\xa3mpp\x01\xa0\x01\x00\x02\x81\xa5"
                               "funcs\xdd\xff\xff\xff\xff";
    s_save("wire", "huge_count.bin", bomb, sizeof(bomb) - 1);
    static const char trail[] = "\x97\xa3mpp\x01\xa0\x01\x00\x03\x80\xc0";
    s_save("wire", "trailing.bin", trail, sizeof(trail) - 1);
}

static void
s_sessfile_save(const char *name, const mpp_session_t *s, size_t cut)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL || mpp_sessfile_write(s, f) != 0 || fclose(f) != 0) {
        fprintf(stderr, "%s: write failed\n", name);
        s_failed = 1;
        free(buf);
        return;
    }
    s_save("sessfile", name, buf, len);
    if (cut > 0 && cut < len) {
        char cname[256];
        snprintf(cname, sizeof(cname), "cut_%s", name);
        s_save("sessfile", cname, buf, cut);
    }
    free(buf);
}

static void
s_sessfile(void)
{
    mpp_session_t *s = mpp_session_new();
    if (s == NULL) {
        s_failed = 1;
        return;
    }
    s_sessfile_save("empty.mpprof", s, 0);

    static char *const cmd[] = {"script.py", "-n", "2"};
    mpp_session_set_command(s, cmd, 3);
    s->python = strdup("3.11.7");
    s->wall_ns = 2000000000;
    s->integrity.messages = 9;
    int64_t f0 = mpp_session_intern(s, "/app/script.py", 3, "work");
    int64_t f1 = mpp_session_intern(s, "~", 0, "<built-in method sleep>");
    for (int i = 0; i < 2 && f0 >= 0 && f1 >= 0; i++) {
        mpp_proc_t *p = mpp_session_proc(s, 100 + i, true);
        if (p == NULL) {
            break;
        }
        p->ppid = i ? 100 : 1;
        p->name = strdup(i ? "ForkPoolWorker-1" : "MainProcess");
        p->start_method = strdup(i ? "fork" : "main");
        p->hello = true;
        p->exit_kind = MPP_EXIT_OK;
        p->messages = p->next_seq = 3;
        mpp_thread_t *t = mpp_proc_thread(p, 140001, true);
        if (t == NULL) {
            break;
        }
        t->name = strdup("MainThread");
        mpp_cost_t c = {10, 10, 1000, 2000};
        mpp_thread_set_stat(t, (uint32_t)f0, &c);
        mpp_thread_set_stat(t, (uint32_t)f1, &c);
        mpp_thread_set_edge(t, (uint32_t)f0, (uint32_t)f1, &c);
        t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){500, 1, 64};
        /* The worker's CPU time is known, the parent's is not. */
        t->has_cpu = i == 1;
        t->cpu_ns = i == 1 ? 1500 : 0;
        t->cpu_cat_ns = i == 1 ? 400 : 0;
        mpp_span_t sp = {MPP_CAT_PICKLE, (uint32_t)f0, 1700000000000000000,
                         500, 64};
        mpp_thread_add_span(t, &sp);
    }
    s_sessfile_save("small.mpprof", s, 100);
    mpp_session_destroy(&s);

    static const char v99[] = "MPPROF\0\n\x63\x80";
    s_save("sessfile", "version99.mpprof", v99, sizeof(v99) - 1);
    static const char magic[] = "MPPROF\0\r\x01\x80";
    s_save("sessfile", "bad_magic.mpprof", magic, sizeof(magic) - 1);
    static const char bomb[] = "MPPROF\0\n\x01\x81\xa5"
                               "funcs\xdd\xff\xff\xff";
    s_save("sessfile", "huge_count.mpprof", bomb, sizeof(bomb) - 1);
}

/* ---- ingest: whole sessions, frame by frame ----------------------------- */

/*  Appends m to `out` as fuzz_ingest reads frames: a 2-byte little-endian
 *  length, then the frame. */
static void
s_frame(mpp_buf_t *out, const mpp_msg_t *m)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    if (mpp_wire_encode(m, &b) != 0 || b.len > 0xffff) {
        fprintf(stderr, "ingest: encode failed\n");
        s_failed = 1;
        mpp_buf_fini(&b);
        return;
    }
    unsigned char len[2] = {(unsigned char)(b.len & 0xff),
                            (unsigned char)(b.len >> 8)};
    if (mpp_buf_append(out, len, 2) != 0 ||
        mpp_buf_append(out, b.data, b.len) != 0) {
        s_failed = 1;
    }
    mpp_buf_fini(&b);
}

static void
s_save_session(const char *name, mpp_buf_t *b)
{
    s_save("ingest", name, b->data, b->len);
    mpp_buf_fini(b);
}

static mpp_msg_t
s_hello(int64_t pid, int64_t ppid, const char *method, const char *name,
        int64_t start_ns)
{
    static const char *argv[] = {"script.py", "-n", "4"};
    return (mpp_msg_t){
        .token = TOKEN, .pid = pid, .seq = 0, .type = MPP_MSG_HELLO,
        .ppid = ppid, .start_method = method, .python = "3.11.7",
        .argv = argv, .argc = 3, .start_ns = start_ns, .name = name,
    };
}

static mpp_msg_t
s_bye(int64_t pid, uint64_t seq, uint32_t kind, int32_t code)
{
    return (mpp_msg_t){
        .token = TOKEN, .pid = pid, .seq = seq, .type = MPP_MSG_BYE,
        .exit_kind = kind, .exit_code = code, .wall_ns = 90000000,
        .cpu_ns = 80000000, .dropped = 0,
    };
}

static mpp_msg_t
s_data(int64_t pid, uint64_t seq, const char *name, mpp_wfunc_t *funcs,
       size_t nfuncs, mpp_wthread_t *threads, size_t nthreads,
       mpp_wspan_t *spans, size_t nspans)
{
    return (mpp_msg_t){
        .token = TOKEN, .pid = pid, .seq = seq, .type = MPP_MSG_DATA,
        .name = name, .wall_ns = 50000000 * (int64_t)seq,
        .cpu_ns = 40000000 * (int64_t)seq, .mem_bytes = 1 << 20,
        .funcs = funcs, .nfuncs = nfuncs, .threads = threads,
        .nthreads = nthreads, .spans = spans, .nspans = nspans,
    };
}

/*  One process, two threads, definitions spread over two DATA messages
 *  (the second defines what is new since the first), spans, a BYE. */
static void
s_ingest_one(void)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    mpp_msg_t m = s_hello(1234, 1, "main", "MainProcess", 1700000000000000000);
    s_frame(&b, &m);

    mpp_wfunc_t f1[] = {
        {0, 1, "/app/script.py", "<module>"},
        {1, 3, "/app/script.py", "work"},
        {2, 0, "~", "<built-in method time.sleep>"},
    };
    mpp_wstat_t st1[] = {
        {0, {1, 1, 1000, 9000}},
        {1, {4, 4, 3000, 8000}},
        {2, {4, 4, 5000, 5000}},
    };
    mpp_wedge_t ed1[] = {
        {0, 1, {4, 4, 3000, 8000}},
        {1, 2, {4, 4, 5000, 5000}},
    };
    mpp_wstat_t st1b[] = {{1, {2, 2, 100, 200}}};
    mpp_wthread_t th1[] = {
        {.tid = 140001, .name = "MainThread", .stats = st1, .nstats = 3,
         .edges = ed1, .nedges = 2},
        {.tid = 140002, .name = "Thread-1", .stats = st1b, .nstats = 1},
    };
    th1[0].cat[MPP_CAT_PICKLE] = (mpp_catval_t){1500, 2, 512};
    th1[1].cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){4200, 1, 0};
    th1[0].has_cpu = true;
    th1[0].cpu_ns = 7000;
    th1[0].cpu_cat_ns = 1500;
    mpp_wspan_t sp1[] = {
        {140001, MPP_CAT_PICKLE, 1, 1700000000000100000, 1500, 512},
        {140002, MPP_CAT_LOCK_WAIT, MPP_WIRE_MAX_FUNCS, 1700000000000200000,
         4200, 0},
    };
    m = s_data(1234, 1, "MainProcess", f1, 3, th1, 2, sp1, 2);
    s_frame(&b, &m);

    /* Recursion, a new function, the same thread again with totals. */
    mpp_wfunc_t f2[] = {{3, 20, "/app/script.py", "fib"}};
    mpp_wstat_t st2[] = {
        {1, {8, 8, 6000, 30000}},
        {3, {177, 1, 20000, 20000}},
    };
    mpp_wedge_t ed2[] = {
        {1, 3, {1, 1, 100, 20000}},
        {3, 3, {176, 0, 19900, 19900}},
    };
    mpp_wthread_t th2[] = {
        {.tid = 140001, .name = "MainThread", .stats = st2, .nstats = 2,
         .edges = ed2, .nedges = 2},
    };
    th2[0].cat[MPP_CAT_PICKLE] = (mpp_catval_t){3000, 4, 1024};
    th2[0].has_cpu = true;
    th2[0].cpu_ns = 25000;
    th2[0].cpu_cat_ns = 3000;
    m = s_data(1234, 2, "MainProcess", f2, 1, th2, 1, NULL, 0);
    s_frame(&b, &m);
    m = s_bye(1234, 3, MPP_EXIT_OK, 0);
    s_frame(&b, &m);
    s_save_session("one_process.bin", &b);
}

/*  A parent and its pool: a fork child keeps the parent's function ids and
 *  defines only those it uses (high ids, few definitions), a spawn child
 *  numbers its own, one worker is killed (no BYE), and a pid comes back as
 *  a new process. */
static void
s_ingest_pool(void)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    mpp_msg_t m = s_hello(1000, 1, "main", "MainProcess", 1700000000000000000);
    s_frame(&b, &m);
    mpp_wfunc_t fp[] = {
        {0, 1, "/app/pool.py", "<module>"},
        {1, 40, "/usr/lib/python3.11/multiprocessing/pool.py", "map"},
        {2, 0, "~", "<method 'acquire' of '_thread.lock' objects>"},
        {3, 9, "/app/pool.py", "square"},
        {4, 0, "~", "<built-in function loads>"},
    };
    mpp_wstat_t sp[] = {
        {0, {1, 1, 100, 900000}},
        {1, {1, 1, 200, 899000}},
        {2, {3, 3, 898000, 898000}},
    };
    mpp_wedge_t ep[] = {
        {0, 1, {1, 1, 200, 899000}},
        {1, 2, {3, 3, 898000, 898000}},
    };
    mpp_wthread_t tp[] = {
        {.tid = 7000, .name = "MainThread", .stats = sp, .nstats = 3,
         .edges = ep, .nedges = 2},
    };
    tp[0].cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){898000, 3, 0};
    mpp_wspan_t spp[] = {
        {7000, MPP_CAT_LOCK_WAIT, 2, 1700000000000300000, 898000, 0},
    };
    m = s_data(1000, 1, "MainProcess", fp, 3, tp, 1, spp, 1);
    s_frame(&b, &m);

    for (int64_t pid = 1001; pid <= 1002; pid++) {
        m = s_hello(pid, 1000, "fork", pid == 1001 ? "ForkPoolWorker-1"
                                                   : "ForkPoolWorker-2",
                    1700000000000050000 + pid);
        s_frame(&b, &m);
        mpp_wfunc_t fc[] = {{3, 9, "/app/pool.py", "square"},
                            {4, 0, "~", "<built-in function loads>"},
                            {40000, 7, "/app/big.py", "helper"}};
        mpp_wstat_t sc[] = {
            {3, {5, 5, 500, 500}},
            {4, {5, 5, 300, 300}},
            {40000, {1, 1, 10, 10}},
        };
        mpp_wedge_t ec[] = {{40000, 3, {5, 5, 500, 500}}};
        mpp_wthread_t tc[] = {
            {.tid = (uint64_t)pid * 10, .name = "MainThread", .stats = sc,
             .nstats = 3, .edges = ec, .nedges = 1},
            {.tid = (uint64_t)pid * 10 + 1, .name = "Thread-2",
             .stats = sc + 1, .nstats = 1},
        };
        tc[0].cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){300, 5, 640};
        tc[1].cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){5000, 2, 0};
        mpp_wspan_t sc_sp[] = {
            {(uint64_t)pid * 10, MPP_CAT_UNPICKLE, 4, 1700000000000400000,
             300, 640},
            {(uint64_t)pid * 10 + 1, MPP_CAT_IPC_WAIT, MPP_WIRE_MAX_FUNCS,
             1700000000000500000, 5000, 0},
        };
        m = s_data(pid, 1, NULL, fc, 3, tc, 2, sc_sp, 2);
        s_frame(&b, &m);
        if (pid == 1001) {
            m = s_bye(pid, 2, MPP_EXIT_OK, 0);
            s_frame(&b, &m);
        }
    }

    /* pid 1001 again, as another process: seq 0, its own start time. */
    m = s_hello(1001, 1000, "spawn", "SpawnProcess-3", 1700000000000900000);
    s_frame(&b, &m);
    mpp_wfunc_t fs[] = {{0, 1, "/app/pool.py", "<module>"}};
    mpp_wstat_t ss[] = {{0, {1, 1, 700, 700}}};
    mpp_wthread_t ts[] = {
        {.tid = 9100, .name = "MainThread", .stats = ss, .nstats = 1},
    };
    ts[0].cat[MPP_CAT_STARTUP] = (mpp_catval_t){60000, 1, 0};
    mpp_wspan_t sps[] = {
        {9100, MPP_CAT_STARTUP, MPP_WIRE_MAX_FUNCS, 1700000000000900000,
         60000, 0},
    };
    m = s_data(1001, 1, "SpawnProcess-3", fs, 1, ts, 1, sps, 1);
    s_frame(&b, &m);
    m = s_bye(1001, 2, MPP_EXIT_CODE, 3);
    s_frame(&b, &m);

    mpp_wfunc_t fp2[] = {{5, 50, "/app/pool.py", "report"}};
    mpp_wstat_t sp2[] = {{3, {0, 0, 0, 0}}, {5, {1, 1, 50, 50}}};
    mpp_wthread_t tp2[] = {
        {.tid = 7000, .name = "MainThread", .stats = sp2, .nstats = 2},
    };
    m = s_data(1000, 2, "MainProcess", fp2, 1, tp2, 1, NULL, 0);
    s_frame(&b, &m);
    m = s_bye(1000, 3, MPP_EXIT_OK, 0);
    s_frame(&b, &m);
    s_save_session("pool.bin", &b);
}

/*  What a hostile process of the session sends, between honest frames: a
 *  forged function id, a foreign token, a replay, a gap, entries naming
 *  functions and threads never defined, an exec'd image. */
static void
s_ingest_hostile(void)
{
    mpp_buf_t b;
    mpp_buf_init(&b);
    mpp_msg_t m = s_hello(2000, 1, "main", "MainProcess", 1700000000000000000);
    s_frame(&b, &m);
    mpp_wfunc_t evil[] = {{0xFFFFFFF0u, 1, "/x.py", "x"}};
    mpp_wstat_t es[] = {{0xFFFFFFF0u, {1, 1, 1, 1}}};
    mpp_wthread_t et[] = {{.tid = 1, .stats = es, .nstats = 1}};
    m = s_data(2000, 1, NULL, evil, 1, et, 1, NULL, 0);
    s_frame(&b, &m);
    m.token = "0123456789abcdef0123456789abcdeF";
    s_frame(&b, &m);

    mpp_wfunc_t ok[] = {{0, 1, "/x.py", "f"}};
    mpp_wstat_t os[] = {{0, {2, 2, INT64_MAX, INT64_MAX}},
                        {9, {1, 1, 1, 1}}};
    mpp_wedge_t oe[] = {{0, 0, {1, 0, 5, 5}}, {0, 9, {1, 1, 1, 1}}};
    mpp_wthread_t ot[] = {{.tid = 2, .stats = os, .nstats = 2,
                           .edges = oe, .nedges = 2}};
    mpp_wspan_t osp[] = {{3, MPP_CAT_PICKLE, 0, -5, -7, UINT64_MAX}};
    m = s_data(2000, 1, "x", ok, 1, ot, 1, osp, 1);
    s_frame(&b, &m);
    s_frame(&b, &m); /* replay */
    m.seq = 5;       /* gap */
    s_frame(&b, &m);
    m = s_bye(2000, 6, MPP_EXIT_OK, 0);
    s_frame(&b, &m);
    /* The process exec'd another Python: same pid, start method exec. */
    m = s_hello(2000, 2000, "exec", "MainProcess", 1700000000000000000);
    s_frame(&b, &m);
    m = s_data(2000, 1, "x", ok, 1, ot, 1, NULL, 0);
    s_frame(&b, &m);
    s_save_session("hostile.bin", &b);
}

static void
s_ingest(void)
{
    s_ingest_one();
    s_ingest_pool();
    s_ingest_hostile();
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    s_dir = argv[1];
    char path[4096];
    const char *subs[] = {"", "/wire", "/sessfile", "/ingest"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s%s", s_dir, subs[i]);
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            perror(path);
            return 1;
        }
    }
    s_wire();
    s_sessfile();
    s_ingest();
    return s_failed;
}
