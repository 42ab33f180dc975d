/*  `mpprof compare`: two sessions built by hand with known walls,
 *  categories and CPU times, every number checked exactly, the JSON
 *  checked by check_writers.py (json.loads, design.md keys, the parts
 *  adding up to the gap) and the text for its verdict.
 */
#include "mpp_report_priv.h"
#include "mpp_test.h"

#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000LL /* nanoseconds */
#define S_RED "/usr/lib/python3.11/multiprocessing/reduction.py"
#define S_ACQ "<method 'acquire' of '_thread.lock' objects>"

/* ---- helpers ------------------------------------------------------------ */

static char s_dir[512];

static mpp_proc_t *
s_proc(mpp_session_t *s, int64_t pid, const char *method, int64_t cpu)
{
    mpp_proc_t *p = mpp_session_proc(s, pid, true);
    ASSERT(p != NULL);
    p->start_method = strdup(method);
    p->wall_ns = s->wall_ns;
    p->cpu_ns = cpu;
    p->exit_kind = MPP_EXIT_OK;
    return p;
}

static mpp_thread_t *
s_thread(mpp_proc_t *p, uint64_t tid)
{
    mpp_thread_t *t = mpp_proc_thread(p, tid, true);
    ASSERT(t != NULL);
    return t;
}

static void
s_cat(mpp_thread_t *t, mpp_cat_t cat, int64_t ms)
{
    t->cat[cat] = (mpp_catval_t){(uint64_t)(ms * MS), 1, 0};
}

static void
s_stat(mpp_session_t *s, mpp_thread_t *t, const char *file, int32_t line,
       const char *name, uint64_t calls, int64_t tt_ms)
{
    int64_t f = mpp_session_intern(s, file, line, name);
    ASSERT(f >= 0);
    mpp_cost_t c = {calls, calls, tt_ms * MS, tt_ms * MS};
    ASSERT_EQ(mpp_thread_set_stat(t, (uint32_t)f, &c), 0);
}

static void
s_argv(mpp_proc_t *p, const char *a0, const char *a1, const char *a2)
{
    const char *v[] = {a0, a1, a2};
    p->argv = calloc(3, sizeof(char *));
    ASSERT(p->argv != NULL);
    for (size_t i = 0; i < 3; i++) {
        p->argv[i] = strdup(v[i]);
    }
    p->argc = 3;
}

/*  The serial run: 6 s in one process; its lock wait is the main
 *  process's, so it is not counted. */
static mpp_session_t *
s_build_base(void)
{
    mpp_session_t *s = mpp_session_new();
    char *argv[] = {"base.py"};
    ASSERT_EQ(mpp_session_set_command(s, argv, 1), 0);
    s->wall_ns = 6000 * MS;
    mpp_thread_t *t = s_thread(s_proc(s, 1, "main", 5900 * MS), 1);
    s_cat(t, MPP_CAT_LOCK_WAIT, 100);
    s_cat(t, MPP_CAT_STARTUP, 40);
    s_stat(s, t, "/app/main.py", 10, "work", 100, 5500);
    s_stat(s, t, "/app/main.py", 1, "<module>", 1, 300);
    return s;
}

/*  The Pool run: 2 s; the parent waits (1.9 s lock, 1.8 s IPC) and pickles
 *  (0.2 s); four uneven workers (CPU 1.8, 1.5, 1.4, 1.0 s); a resource
 *  tracker that waits 1.9 s. */
static mpp_session_t *
s_build_par(void)
{
    static const int64_t cpu[] = {1800, 1500, 1400, 1000};
    static const int64_t ipc[] = {40, 120, 200, 280};
    static const int64_t lock[] = {0, 40, 0, 80};
    mpp_session_t *s = mpp_session_new();
    char *argv[] = {"pool.py", "--n", "4"};
    ASSERT_EQ(mpp_session_set_command(s, argv, 3), 0);
    s->wall_ns = 2000 * MS;
    mpp_proc_t *p = s_proc(s, 10, "main", 400 * MS);
    mpp_thread_t *t = s_thread(p, 1);
    s_cat(t, MPP_CAT_LOCK_WAIT, 1900);
    s_cat(t, MPP_CAT_STARTUP, 40);
    s_stat(s, t, "/app/main.py", 1, "<module>", 1, 100);
    s_stat(s, t, "~", 0, S_ACQ, 50, 1900);
    t = s_thread(p, 2);
    s_cat(t, MPP_CAT_PICKLE, 200);
    s_stat(s, t, S_RED, 51, "dumps", 100, 200);
    t = s_thread(p, 3);
    s_cat(t, MPP_CAT_IPC_WAIT, 1800);
    s_cat(t, MPP_CAT_UNPICKLE, 40);
    for (int w = 0; w < 4; w++) {
        t = s_thread(s_proc(s, 11 + w, "fork", cpu[w] * MS), 1);
        s_cat(t, MPP_CAT_PICKLE, 20);
        s_cat(t, MPP_CAT_UNPICKLE, 40);
        s_cat(t, MPP_CAT_STARTUP, 20);
        s_cat(t, MPP_CAT_IPC_WAIT, ipc[w]);
        s_cat(t, MPP_CAT_LOCK_WAIT, lock[w]);
        s_stat(s, t, "/app/main.py", 10, "work", 25, 1400);
    }
    p = s_proc(s, 15, "spawn", 10 * MS);
    s_argv(p, "python3", "-c",
           "from multiprocessing.resource_tracker import main;main(7)");
    s_cat(s_thread(p, 1), MPP_CAT_IPC_WAIT, 1900);
    return s;
}

/* check_writers.py sits next to this file; MPPROF_SRC overrides. */
static void
s_check(const char *kind, const char *file, const char *expect)
{
    char checker[1024], cmd[4096];
    const char *src = getenv("MPPROF_SRC"), *py = getenv("MPPROF_PYTHON");
    if (src != NULL) {
        snprintf(checker, sizeof(checker), "%s/tests/unit/check_writers.py",
                 src);
    }
    else {
        const char *slash = strrchr(__FILE__, '/');
        int n = slash ? (int)(slash - __FILE__ + 1) : 0;
        snprintf(checker, sizeof(checker), "%.*scheck_writers.py", n,
                 __FILE__);
    }
    snprintf(cmd, sizeof(cmd), "%s '%s' %s '%s' '%s'", py ? py : "python3",
             checker, kind, file, expect);
    int st = system(cmd);
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == MPP_TEST_SKIP_STATUS) {
        MPP_SKIP("%s: a consumer is missing (see above)", kind);
    }
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        MPP_FAIL("checker failed (%d): %s", st, cmd);
    }
}

static char *
s_path(const char *name)
{
    static char paths[4][640];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof(paths[0]), "%s/%s", s_dir, name);
    return p;
}

typedef int (*s_writer_t)(const mpp_session_t *, const mpp_session_t *,
                          FILE *);

/* Writes with `fn` into `name`; returns the contents (static buffer). */
static const char *
s_write(s_writer_t fn, const mpp_session_t *b, const mpp_session_t *p,
        const char *name)
{
    static char buf[1 << 16];
    FILE *f = fopen(s_path(name), "w+b");
    ASSERT(f != NULL);
    ASSERT_EQ(fn(b, p, f), 0);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    ASSERT_EQ(fclose(f), 0);
    return buf;
}

/* ---- tests -------------------------------------------------------------- */

/*  Every number, exactly: the inputs are chosen so that each part is an
 *  exact multiple of the ideal, making each result the double nearest its
 *  decimal; only "other" is a sum of doubles. */
MPP_TEST(numbers)
{
    mpp_session_t *b = s_build_base(), *p = s_build_par();
    mpp_compare_t c;
    ASSERT_EQ(mpp_compare_compute(b, p, &c), 0);
    ASSERT(c.base_wall_s == 6.0 && c.par_wall_s == 2.0);
    ASSERT_EQ(c.base_procs, 1);
    ASSERT_EQ(c.par_procs, 6);
    ASSERT_EQ(c.workers, 4); /* not the main one, not the tracker */
    ASSERT(c.speedup == 3.0 && c.ideal_speedup == 4.0);
    ASSERT(c.efficiency == 0.75);
    ASSERT(c.gap_s == 0.5);
    /* (parallel - baseline) / 4, lock and IPC waits of workers only:
     * pickle (200 + 4*20) / 4 ms, unpickle (40 + 4*40) / 4, lock
     * (0+40+0+80) / 4, IPC (40+120+200+280) / 4, start-up (40 + 4*20 - 40)
     * / 4. */
    ASSERT(c.lost_s[MPP_LOST_PICKLE] == 0.07);
    ASSERT(c.lost_s[MPP_LOST_UNPICKLE] == 0.05);
    ASSERT(c.lost_s[MPP_LOST_LOCK_WAIT] == 0.03);
    ASSERT(c.lost_s[MPP_LOST_IPC_WAIT] == 0.16);
    ASSERT(c.lost_s[MPP_LOST_STARTUP] == 0.02);
    /* Short of the busiest (1.8 s): 0, 0.3, 0.4, 0.8 s; less own waits
     * 0.04, 0.16, 0.2, 0.36 s: 0 + 0.14 + 0.2 + 0.44 = 0.78, / 4. */
    ASSERT(c.lost_s[MPP_LOST_IMBALANCE] == 0.195);
    double sum = 0;
    for (int k = 0; k < MPP_LOST_OTHER; k++) {
        sum += c.lost_s[k];
    }
    /* 2000 worker-ms lost; the parts above take 2100; -100 / 4. */
    ASSERT(c.lost_s[MPP_LOST_OTHER] == -0.025);
    ASSERT(fabs(sum + c.lost_s[MPP_LOST_OTHER] - c.gap_s) < 1e-9);
    ASSERT(c.excluded_wait_s == 5.6); /* 1.9 + 1.8 + 1.9 */
    ASSERT_STREQ(mpp_lost_name(MPP_LOST_IMBALANCE), "imbalance");
    ASSERT_STREQ(mpp_lost_name(MPP_LOST_COUNT), "?");
    mpp_session_destroy(&b);
    mpp_session_destroy(&p);
}

MPP_TEST(json)
{
    mpp_session_t *b = s_build_base(), *p = s_build_par();
    s_write(mpp_compare_json, b, p, "compare.json");
    FILE *f = fopen(s_path("compare.exp"), "w");
    ASSERT(f != NULL);
    fputs("{\"baseline\": {\"wall_s\": 6.0, \"processes\": 1, "
            "\"command\": [\"base.py\"]}, \"parallel\": {\"wall_s\": 2.0, "
            "\"processes\": 6, \"workers\": 4, \"command\": [\"pool.py\", "
            "\"--n\", \"4\"]}, \"speedup\": 3.0, \"ideal_speedup\": 4.0, "
            "\"efficiency\": 0.75, \"gap_s\": 0.5, \"lost_s\": {\"pickle\": "
            "0.07, \"unpickle\": 0.05, \"lock_wait\": 0.03, \"ipc_wait\": "
            "0.16, \"startup\": 0.02, \"imbalance\": 0.195, \"other\": "
            "-0.025}, \"excluded_wait_s\": 5.6, \"functions\": ["
            "{\"file\": \"~\", \"line\": 0, \"name\": \"" S_ACQ "\", "
            "\"baseline_s\": 0.0, \"parallel_s\": 1.9, \"delta_s\": 1.9, "
            "\"baseline_calls\": 0, \"parallel_calls\": 50, \"category\": "
            "\"lock_wait\"}, "
            "{\"name\": \"<module>\", \"baseline_s\": 0.3, \"parallel_s\": "
            "0.1, \"delta_s\": -0.2, \"category\": null}, "
            "{\"file\": \"" S_RED "\", \"name\": \"dumps\", \"delta_s\": "
            "0.2, \"category\": \"pickle\"}, "
            "{\"name\": \"work\", \"baseline_s\": 5.5, \"parallel_s\": 5.6, "
            "\"delta_s\": 0.1, \"baseline_calls\": 100, \"parallel_calls\": "
            "100}]}",
          f);
    ASSERT_EQ(fclose(f), 0);
    s_check("compare", s_path("compare.json"), s_path("compare.exp"));
    mpp_session_destroy(&b);
    mpp_session_destroy(&p);
}

MPP_TEST(text)
{
    mpp_session_t *b = s_build_base(), *p = s_build_par();
    const char *txt = s_write(mpp_compare_text, b, p, "compare.txt");
    ASSERT(strstr(txt, "mpprof compare\n  baseline: base.py (1 process), "
                       "wall 6.000 s\n  parallel: pool.py --n 4 (6 "
                       "processes, 4 workers), wall 2.000 s\n\n"));
    ASSERT(strstr(txt, "Speedup 3.00x of ideal 4.00x (efficiency 75%); "
                       "0.500 s lost vs ideal (1.500 s wall):\n  pickling "
                       "0.070 s, unpickling 0.050 s, lock wait 0.030 s, "
                       "IPC wait 0.160 s, start-up 0.020 s,\n  imbalance "
                       "0.195 s, other -0.025 s\n"));
    ASSERT(strstr(txt, "\nLargest loss: imbalance (0.195 s of 0.500 s).\n"
                       "Hint: tasks are uneven"));
    ASSERT(strstr(txt, "\n\"other\" is negative: the parts overlap"));
    ASSERT(strstr(txt, "\nNot counted: the main process and helpers "
                       "waited 5.600 thread-s"));
    ASSERT(strstr(txt, "How these are computed: workers are"));
    ASSERT(strstr(txt, "  baseline   parallel      delta  function\n"
                       "     0.000      1.900     +1.900  [lock_wait] "
                       "{method 'acquire' of '_thread.lock' objects}\n"
                       "     0.300      0.100     -0.200  main.py:1(<module>)"
                       "\n     0.000      0.200     +0.200  [pickle] "
                       "reduction.py:51(dumps)\n     5.500      5.600     "
                       "+0.100  main.py:10(work)\n"));
    for (const char *l = txt; *l;) {
        const char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        if (n > 100 || (n > 0 && l[n - 1] == ' ')) {
            MPP_FAIL("bad line: %.*s", (int)n, l);
        }
        l += n + (end != NULL);
    }
    mpp_session_destroy(&b);
    mpp_session_destroy(&p);
}

/* A parallel run faster than ideal, and one with no worker at all. */
MPP_TEST(edges)
{
    mpp_session_t *b = s_build_base(), *p = mpp_session_new();
    mpp_compare_t c;
    p->wall_ns = 1000 * MS;
    s_proc(p, 1, "main", 900 * MS);
    ASSERT_EQ(mpp_compare_compute(b, p, &c), 0);
    ASSERT_EQ(c.workers, 1); /* at least one */
    ASSERT(c.speedup == 6.0 && c.efficiency == 6.0);
    ASSERT(c.gap_s == -5.0);
    ASSERT(c.lost_s[MPP_LOST_STARTUP] == -0.04); /* the baseline's */
    ASSERT(c.lost_s[MPP_LOST_IMBALANCE] == 0.0);
    ASSERT(c.lost_s[MPP_LOST_OTHER] == -4.96);
    const char *txt = s_write(mpp_compare_text, b, p, "fast.txt");
    ASSERT(strstr(txt, "5.000 s gained vs ideal"));
    ASSERT(strstr(txt, "No loss: the parallel run met or beat"));
    ASSERT(strstr(txt, "has no worker process"));
    ASSERT(strstr(txt, "is negative") == NULL);
    ASSERT(strstr(txt, "  none changed\n") == NULL);
    s_write(mpp_compare_json, b, p, "fast.json");
    FILE *f = fopen(s_path("fast.exp"), "w");
    ASSERT(f != NULL);
    fputs("{\"parallel\": {\"workers\": 1}, \"gap_s\": -5.0}", f);
    ASSERT_EQ(fclose(f), 0);
    s_check("compare", s_path("fast.json"), s_path("fast.exp"));

    /* No wall time: no speedup to compute. */
    p->wall_ns = 0;
    ASSERT_EQ(mpp_compare_compute(b, p, &c), MPP_EINVAL);
    FILE *null = fopen("/dev/null", "w");
    ASSERT_EQ(mpp_compare_text(b, p, null), MPP_EINVAL);
    ASSERT_EQ(mpp_compare_json(p, b, null), MPP_EINVAL);
    ASSERT_EQ(mpp_compare_json(NULL, b, null), MPP_EINVAL);
    ASSERT_EQ(mpp_compare_text(b, b, NULL), MPP_EINVAL);
    fclose(null);
    mpp_session_destroy(&b);
    mpp_session_destroy(&p);
}

/*  Who is a worker: the fork server's children share its command line
 *  but were started by it, so only the server itself is a helper. */
MPP_TEST(roles)
{
    mpp_session_t *s = mpp_session_new();
    s->wall_ns = MS;
    const char *fs = "from multiprocessing.forkserver import main; main(3)";
    mpp_proc_t *p = s_proc(s, 1, "main", 0);
    ASSERT(mpp_rep_is_main(p) && !mpp_rep_is_worker(p));
    s_argv(p = s_proc(s, 2, "spawn", 0), "python3", "-c", fs);
    ASSERT(mpp_rep_is_helper(p) && !mpp_rep_is_worker(p));
    s_argv(p = s_proc(s, 3, "forkserver", 0), "python3", "-c", fs);
    ASSERT(!mpp_rep_is_helper(p) && mpp_rep_is_worker(p));
    s_argv(p = s_proc(s, 4, "spawn", 0), "python3", "-c",
           "from multiprocessing.semaphore_tracker import main;main(5)");
    ASSERT(mpp_rep_is_helper(p));
    s_argv(p = s_proc(s, 5, "exec", 0), "python3", "child.py", "x");
    ASSERT(mpp_rep_is_worker(p));
    p = s_proc(s, 6, "fork", 0);
    ASSERT(mpp_rep_is_worker(p));
    mpp_proc_t *none = mpp_session_proc(s, 7, true);
    ASSERT(mpp_rep_is_worker(none)); /* never said hello */
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR");
    snprintf(s_dir, sizeof(s_dir), "%s/mpp-compare-XXXXXX",
             base ? base : "/tmp");
    ASSERT(mkdtemp(s_dir) != NULL);
    MPP_RUN(numbers);
    MPP_RUN(json);
    MPP_RUN(text);
    MPP_RUN(edges);
    MPP_RUN(roles);
    int rc = mpp_test_done(argc, argv);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
    if (getenv("MPPROF_KEEP") == NULL && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s_dir);
    }
    return rc;
}
