/*  Aggregator throughput: how long the launcher takes, after a large
 *  multiprocess run, to decode and merge every frame and then to write
 *  every output file.
 *
 *      bench_agg [--procs N] [--funcs N] [--edges N] [--threads N]
 *                [--shared] [--dir DIR]
 *
 *  Builds N processes (default 64), each a HELLO, one DATA defining
 *  --funcs functions (default 5000) with a stat for every function in
 *  every thread (default 2 threads) and --edges caller->callee edges per
 *  process (default 10000, spread over the threads), and a BYE.  By
 *  default every process has its own functions (distinct files), so the
 *  session interns N * funcs functions: the worst case for the merge and
 *  the writers.  --shared gives all processes the same functions, as the
 *  workers of one Pool have.
 *
 *  The frames are encoded with mpp_wire_encode first (not timed against
 *  the target), then timed:
 *    decode    mpp_wire_decode + mpp_msg_clear of every frame alone, for
 *              the decoder's throughput;
 *    ingest    mpp_ingest_frame of every frame into a new session (decode,
 *              validation and merge: what the aggregator thread does);
 *    outputs   what `mpprof run` does at the end: the merged view, then
 *              mpp_outdir_write_all into a temporary directory, which
 *              stages profile.prof, callgrind.out, callgrind.parts,
 *              session.mpprof, report.html and report.txt (temp file, fsync; each
 *              file's time), then renames them and syncs the directory
 *              (DIRSYNC_S).
 *  The target is on ingest + outputs.  Output: one "KEY value" per line
 *  (bench/bench.py reads them), times in seconds.
 */
#include "mpp_aggregator.h"
#include "mpp_outdir.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

static double
s_now(void)
{
    return (double)mpp_clock_mono_ns() * 1e-9;
}

static void
s_die(const char *what, int rc)
{
    fprintf(stderr, "bench_agg: %s: %s\n", what, mpp_strerror(rc));
    exit(1);
}

typedef struct {
    size_t procs;
    size_t funcs;
    size_t edges;
    size_t threads;
    bool shared;
    const char *dir;
} s_opts_t;

typedef struct {
    mpp_buf_t *frames;
    size_t nframes;
    size_t bytes;
} s_frames_t;

static void
s_add_frame(s_frames_t *fr, const mpp_msg_t *m)
{
    mpp_buf_t *b = &fr->frames[fr->nframes];
    mpp_buf_init(b);
    int rc = mpp_wire_encode(m, b);
    if (rc != 0) {
        s_die("encode", rc);
    }
    fr->bytes += b->len;
    fr->nframes++;
}

/* The messages of process `p`: HELLO, DATA, BYE. */
static void
s_encode_proc(const s_opts_t *o, s_frames_t *fr, size_t p)
{
    static const char *argv[] = {"python3", "-c", "work()"};
    int64_t pid = 1000 + (int64_t)p;
    char name[48];
    snprintf(name, sizeof(name), p == 0 ? "MainProcess" : "ForkPoolWorker-%zu",
             p);
    mpp_msg_t m = {
        .version = MPP_WIRE_VERSION,
        .token = TOKEN,
        .pid = pid,
        .type = MPP_MSG_HELLO,
        .ppid = p == 0 ? 1 : 1000,
        .start_method = p == 0 ? "main" : "fork",
        .python = "3.11.7",
        .argv = argv,
        .argc = MPP_ARRAY_SIZE(argv),
        .start_ns = 1700000000000000000 + (int64_t)p * 1000,
        .name = name,
    };
    s_add_frame(fr, &m);

    /* DATA: the definitions, then per thread a stat for every function
     * and its share of the edges. */
    mpp_wfunc_t *funcs = calloc(o->funcs, sizeof(*funcs));
    char *names = malloc(o->funcs * 64);
    char *files = malloc(o->funcs * 64);
    mpp_wthread_t *threads = calloc(o->threads, sizeof(*threads));
    if (!funcs || !names || !files || !threads) {
        s_die("setup", MPP_ENOMEM);
    }
    for (size_t i = 0; i < o->funcs; i++) {
        char *fn = files + i * 64, *nm = names + i * 64;
        /* 50 functions per module. */
        if (o->shared) {
            snprintf(fn, 64, "/app/pkg/module_%04zu.py", i / 50);
        }
        else {
            snprintf(fn, 64, "/app/p%03zu/module_%04zu.py", p, i / 50);
        }
        snprintf(nm, 64, "function_%zu", i);
        funcs[i] = (mpp_wfunc_t){(uint32_t)i, (int32_t)(10 + 20 * (i % 50)),
                                 fn, nm};
    }
    size_t per_thread = (o->edges + o->threads - 1) / o->threads;
    for (size_t t = 0; t < o->threads; t++) {
        mpp_wthread_t *th = &threads[t];
        th->tid = (uint64_t)pid * 16 + t;
        th->name = t == 0 ? "MainThread" : "Thread-1";
        th->stats = calloc(o->funcs, sizeof(*th->stats));
        th->edges = calloc(per_thread, sizeof(*th->edges));
        if (!th->stats || !th->edges) {
            s_die("setup", MPP_ENOMEM);
        }
        for (size_t i = 0; i < o->funcs; i++) {
            uint64_t n = 1 + (i * 7 + t) % 97;
            int64_t tt = (int64_t)(n * (1000 + i % 300));
            th->stats[i] = (mpp_wstat_t){
                (uint32_t)i, {n, n - (i % 3 == 0 ? n / 2 : 0), tt, tt * 3}};
        }
        th->nstats = o->funcs;
        size_t ne = 0;
        for (size_t k = 0; k < per_thread &&
                           t * per_thread + k < o->edges; k++) {
            /* Distinct pairs: for a given k the caller is k mod funcs and
             * the callee steps with k / funcs. */
            size_t caller = k % o->funcs;
            size_t callee = (caller * 31 + 1 + k / o->funcs + t) % o->funcs;
            uint64_t n = 1 + k % 13;
            th->edges[ne++] = (mpp_wedge_t){
                (uint32_t)caller, (uint32_t)callee,
                {n, n, (int64_t)n * 500, (int64_t)n * 1500}};
        }
        th->nedges = ne;
        for (int c = 0; c < MPP_CAT_COUNT; c++) {
            th->cat[c] = (mpp_catval_t){1000u * (unsigned)c, (unsigned)c, 0};
        }
    }
    m = (mpp_msg_t){
        .version = MPP_WIRE_VERSION,
        .token = TOKEN,
        .pid = pid,
        .seq = 1,
        .type = MPP_MSG_DATA,
        .name = name,
        .wall_ns = 2000000000,
        .cpu_ns = 1500000000,
        .mem_bytes = 1 << 20,
        .funcs = funcs,
        .nfuncs = o->funcs,
        .threads = threads,
        .nthreads = o->threads,
    };
    s_add_frame(fr, &m);
    for (size_t t = 0; t < o->threads; t++) {
        free(threads[t].stats);
        free(threads[t].edges);
    }
    free(threads);
    free(funcs);
    free(names);
    free(files);

    m = (mpp_msg_t){
        .version = MPP_WIRE_VERSION,
        .token = TOKEN,
        .pid = pid,
        .seq = 2,
        .type = MPP_MSG_BYE,
        .wall_ns = 2100000000,
        .cpu_ns = 1600000000,
        .exit_kind = MPP_EXIT_OK,
    };
    s_add_frame(fr, &m);
}

/* bench.py's key for an output file's time; with _S cut, its size's. */
static const char *
s_key(const char *name)
{
    static const char *const keys[][2] = {
        {"profile.prof", "PSTATS_S"},     {"callgrind.out", "CALLGRIND_S"},
        {"callgrind.parts", "PARTS_S"},   {"session.mpprof", "SESSION_S"},
        {"report.txt", "REPORT_S"},       {"report.html", "HTML_S"},
    };
    for (size_t i = 0; i < MPP_ARRAY_SIZE(keys); i++) {
        if (strcmp(keys[i][0], name) == 0) {
            return keys[i][1];
        }
    }
    return NULL;
}

/*  The steps of mpp_outdir_write_all as it reports them: each file's
 *  name and staging time, then the renames and the directory sync. */
typedef struct {
    double last; /* when the previous step ended */
    const char *name[16];
    double secs[16];
    size_t n;
    double t_sync;
} s_steps_t;

static void
s_step(void *arg, const char *name)
{
    s_steps_t *st = arg;
    double now = s_now();
    if (name == NULL) {
        st->t_sync = now - st->last;
    }
    else if (st->n < MPP_ARRAY_SIZE(st->name)) {
        st->name[st->n] = name;
        st->secs[st->n++] = now - st->last;
    }
    st->last = now;
}

static size_t
s_num(const char *arg, const char *opt)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg ? arg : "", &end, 10);
    if (arg == NULL || errno || *end || v == 0) {
        fprintf(stderr, "bench_agg: %s needs a positive number\n", opt);
        exit(2);
    }
    return (size_t)v;
}

static off_t
s_file_size(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

int
main(int argc, char **argv)
{
    s_opts_t o = {.procs = 64, .funcs = 5000, .edges = 10000, .threads = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--procs") == 0) {
            o.procs = s_num(v, a), i++;
        }
        else if (strcmp(a, "--funcs") == 0) {
            o.funcs = s_num(v, a), i++;
        }
        else if (strcmp(a, "--edges") == 0) {
            o.edges = s_num(v, a), i++;
        }
        else if (strcmp(a, "--threads") == 0) {
            o.threads = s_num(v, a), i++;
        }
        else if (strcmp(a, "--shared") == 0) {
            o.shared = true;
        }
        else if (strcmp(a, "--dir") == 0 && v != NULL) {
            o.dir = v, i++;
        }
        else {
            fprintf(stderr, "usage: bench_agg [--procs N] [--funcs N] "
                            "[--edges N] [--threads N] [--shared] "
                            "[--dir DIR]\n");
            return 2;
        }
    }

    /* The outputs go to --dir, else to a new directory under $TMPDIR
     * that is removed at the end. */
    static char tmpdir[4096];
    const char *dir = o.dir;
    if (dir == NULL) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof(tmpdir), "%s/mpprof-bench-agg-XXXXXX",
                 base && *base ? base : "/tmp");
        dir = mkdtemp(tmpdir);
        if (dir == NULL) {
            perror("bench_agg: mkdtemp");
            return 1;
        }
    }

    /* ---- encode (setup) ---- */
    s_frames_t fr = {calloc(3 * o.procs, sizeof(mpp_buf_t)), 0, 0};
    if (fr.frames == NULL) {
        s_die("setup", MPP_ENOMEM);
    }
    double t0 = s_now();
    for (size_t p = 0; p < o.procs; p++) {
        s_encode_proc(&o, &fr, p);
    }
    double t_encode = s_now() - t0;

    /* ---- decode alone ---- */
    t0 = s_now();
    for (size_t i = 0; i < fr.nframes; i++) {
        mpp_msg_t m;
        int rc = mpp_wire_decode(fr.frames[i].data, fr.frames[i].len, &m);
        if (rc != 0) {
            s_die("decode", rc);
        }
        mpp_msg_clear(&m);
    }
    double t_decode = s_now() - t0;

    /* ---- decode + validate + merge ---- */
    mpp_session_t *s = mpp_session_new();
    char *cmd[] = {"python3", "bench.py"};
    if (s == NULL || mpp_session_set_command(s, cmd, 2) != 0 ||
        (s->python = strdup("3.11.7")) == NULL) {
        s_die("session", MPP_ENOMEM);
    }
    s->start_ns = 1700000000000000000;
    t0 = s_now();
    for (size_t i = 0; i < fr.nframes; i++) {
        int rc = mpp_ingest_frame(s, TOKEN, fr.frames[i].data,
                                  fr.frames[i].len);
        if (rc != 0) {
            s_die("ingest", rc);
        }
    }
    mpp_ingest_finish(s, 1000, 0, NULL);
    double t_ingest = s_now() - t0;
    s->wall_ns = 2200000000;
    s->exit_status = 0;

    /* ---- outputs ---- */
    double t_out0 = s_now();
    t0 = t_out0;
    mpp_view_t *view = mpp_view_new(s, -1);
    if (view == NULL) {
        s_die("view", MPP_ENOMEM);
    }
    double t_view = s_now() - t0;
    s_steps_t steps = {.last = s_now()};
    mpp_outputs_t c = {
        .s = s, .v = view,
        .ro = {.sort = MPP_SORT_CUMULATIVE, .limit = 0, .proc = -1},
        .step = s_step, .step_arg = &steps};
    const char *failed;
    bool renaming;
    int rc = mpp_outdir_write_all(dir, &c, &failed, &renaming);
    if (rc != 0) {
        s_die(failed, rc);
    }
    double t_outputs = s_now() - t_out0;

    printf("PROCS %zu\nFUNCS_PER_PROC %zu\nEDGES_PER_PROC %zu\n"
           "THREADS_PER_PROC %zu\nSHARED %d\n",
           o.procs, o.funcs, o.edges, o.threads, o.shared ? 1 : 0);
    printf("SESSION_FUNCS %zu\n", s->nfuncs);
    printf("FRAMES %zu\nFRAME_BYTES %zu\n", fr.nframes, fr.bytes);
    printf("ENCODE_S %.6f\n", t_encode);
    printf("DECODE_S %.6f\n", t_decode);
    printf("DECODE_MB_PER_S %.1f\n", (double)fr.bytes / 1e6 / t_decode);
    printf("DECODE_MSG_PER_S %.1f\n", (double)fr.nframes / t_decode);
    printf("INGEST_S %.6f\n", t_ingest);
    printf("INGEST_MB_PER_S %.1f\n", (double)fr.bytes / 1e6 / t_ingest);
    printf("VIEW_S %.6f\n", t_view);
    for (size_t i = 0; i < steps.n; i++) {
        const char *key = s_key(steps.name[i]);
        if (key != NULL) {
            printf("%s %.6f\n", key, steps.secs[i]);
            printf("%.*s_BYTES %lld\n", (int)(strlen(key) - 2), key,
                   (long long)s_file_size(dir, steps.name[i]));
        }
    }
    printf("DIRSYNC_S %.6f\n", steps.t_sync);
    printf("OUTPUTS_S %.6f\n", t_outputs);
    printf("TOTAL_S %.6f\n", t_ingest + t_outputs);

    if (s->integrity.rejected != 0 || s->nprocs != o.procs) {
        fprintf(stderr, "bench_agg: %llu frames rejected, %zu processes\n",
                (unsigned long long)s->integrity.rejected, s->nprocs);
        return 1;
    }
    mpp_view_destroy(&view);
    mpp_session_destroy(&s);
    for (size_t i = 0; i < fr.nframes; i++) {
        mpp_buf_fini(&fr.frames[i]);
    }
    free(fr.frames);
    if (o.dir == NULL) {
        for (size_t i = 0; i < steps.n; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, steps.name[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    return 0;
}
