/*  Output writers, checked against their real consumers: each test builds
 *  a session by hand with known numbers, writes a file, and runs
 *  check_writers.py on it (pstats.Stats, marshal, callgrind_annotate,
 *  json.loads), giving it the expected values as JSON.
 */
#include "mpp_output.h"
#include "mpp_test.h"

#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000LL /* nanoseconds */

/* ---- helpers ------------------------------------------------------------ */

static uint32_t
s_fn(mpp_session_t *s, const char *file, int32_t line, const char *name)
{
    int64_t f = mpp_session_intern(s, file, line, name);
    ASSERT(f >= 0);
    return (uint32_t)f;
}

static void
s_stat(mpp_thread_t *t, uint32_t f, uint64_t nc, uint64_t pc, int64_t tt,
       int64_t ct)
{
    mpp_cost_t c = {nc, pc, tt, ct};
    ASSERT_EQ(mpp_thread_set_stat(t, f, &c), 0);
}

static void
s_edge(mpp_thread_t *t, uint32_t a, uint32_t b, uint64_t nc, uint64_t pc,
       int64_t tt, int64_t ct)
{
    mpp_cost_t c = {nc, pc, tt, ct};
    ASSERT_EQ(mpp_thread_set_edge(t, a, b, &c), 0);
}

static mpp_proc_t *
s_proc(mpp_session_t *s, int64_t pid, int64_t ppid, const char *name,
       const char *method, int64_t wall, int64_t cpu, uint32_t exit_kind,
       int32_t code)
{
    mpp_proc_t *p = mpp_session_proc(s, pid, true);
    ASSERT(p != NULL);
    p->ppid = ppid;
    p->name = strdup(name);
    p->start_method = strdup(method);
    p->python = strdup("3.11.7");
    p->wall_ns = wall;
    p->cpu_ns = cpu;
    p->exit_kind = exit_kind;
    p->exit_code = code;
    return p;
}

static mpp_thread_t *
s_thread(mpp_proc_t *p, uint64_t tid, const char *name)
{
    mpp_thread_t *t = mpp_proc_thread(p, tid, true);
    ASSERT(t != NULL);
    t->name = strdup(name);
    return t;
}

/*  The main fixture.  Process 100 runs a recursive fact(), a builtin, and
 *  work() (which calls one of two same-named __init__ methods) from its
 *  main thread and from a second thread; worker 101 calls work() from
 *  _bootstrap and a builtin more than 2**31 times; worker 102 was lost
 *  before sending data.  The numbers add up the way cProfile's do
 *  (cumtime = tottime + the callees' edge cumtimes). */
static mpp_session_t *
s_build(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    char *argv[] = {"script.py", "--n", "4"};
    ASSERT_EQ(mpp_session_set_command(s, argv, 3), 0);
    s->python = strdup("3.11.7");
    s->wall_ns = 2500 * MS;
    s->exit_status = 0;
    s->integrity.messages = 12;
    s->integrity.rejected = 2;
    s->integrity.seq_gaps = 1;
    s->integrity.processes_lost = 1;

    uint32_t mod = s_fn(s, "/src/app/main.py", 1, "<module>");
    uint32_t fact = s_fn(s, "/src/app/main.py", 10, "fact");
    uint32_t acq = s_fn(s, "~", 0,
                        "<method 'acquire' of '_thread.lock' objects>");
    uint32_t work = s_fn(s, "/src/app/work.py", 5, "work");
    uint32_t init1 = s_fn(s, "/src/app/work.py", 20, "__init__");
    uint32_t init2 = s_fn(s, "/src/app/work.py", 40, "__init__");
    uint32_t boot = s_fn(s, "/usr/lib/python3.11/multiprocessing/process.py",
                         108, "_bootstrap");
    uint32_t len = s_fn(s, "~", 0, "<built-in method builtins.len>");
    uint32_t bad = s_fn(s, "/src/app/main.py", 50, "bad\xff\xfename");
    uint32_t idle = s_fn(s, "/src/app/main.py", 60, "idle");

    mpp_proc_t *a = s_proc(s, 100, 1, "MainProcess", "main", 2000 * MS,
                           1500 * MS, MPP_EXIT_OK, 0);
    mpp_thread_t *t = s_thread(a, 1, "MainThread");
    s_stat(t, mod, 1, 1, 100000007, 1000000021);
    s_stat(t, fact, 5, 1, 300 * MS, 500000011);
    s_stat(t, acq, 3, 3, 200000003, 200000003);
    s_stat(t, work, 2, 2, 150 * MS, 200 * MS);
    s_stat(t, init1, 2, 2, 50 * MS, 50 * MS);
    s_edge(t, mod, fact, 1, 1, 60 * MS, 500000011);
    s_edge(t, fact, fact, 4, 1, 240 * MS, 400 * MS);
    s_edge(t, mod, acq, 3, 3, 200000003, 200000003);
    s_edge(t, mod, work, 2, 2, 150 * MS, 200 * MS);
    s_edge(t, work, init1, 2, 2, 50 * MS, 50 * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){200000003, 3, 0};
    t = s_thread(a, 2, "Thread-1");
    s_stat(t, bad, 1, 1, 5 * MS, 30 * MS);
    s_stat(t, work, 1, 1, 20 * MS, 25 * MS);
    s_stat(t, init1, 1, 1, 5 * MS, 5 * MS);
    s_edge(t, bad, work, 1, 1, 20 * MS, 25 * MS);
    s_edge(t, work, init1, 1, 1, 5 * MS, 5 * MS);
    t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){15 * MS, 2, 1000};

    mpp_proc_t *b = s_proc(s, 101, 100, "ForkPoolWorker-1", "fork",
                           1500 * MS, 1000 * MS, MPP_EXIT_SIGNAL, 9);
    t = s_thread(b, 7, "MainThread");
    s_stat(t, boot, 1, 1, 100 * MS, 700 * MS);
    s_stat(t, work, 3, 3, 300 * MS, 600 * MS);
    s_stat(t, init2, 3, 3, 300 * MS, 300 * MS);
    s_stat(t, len, 3000000000u, 3000000000u, 1500 * MS, 1500 * MS);
    s_stat(t, idle, 0, 0, 0, 0);
    s_edge(t, boot, work, 3, 3, 300 * MS, 600 * MS);
    s_edge(t, work, init2, 3, 3, 300 * MS, 300 * MS);
    s_edge(t, idle, len, 5, 5, 1000, 1000);
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){40 * MS, 4, 2000};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){100 * MS, 10, 0};
    t->cat[MPP_CAT_STARTUP] = (mpp_catval_t){50 * MS, 1, 0};

    s_proc(s, 102, 100, "ForkPoolWorker-2", "fork", 0, 0, MPP_EXIT_RUNNING,
           0);
    return s;
}

/* Expected merged stats of s_build() (see check_writers.py for the shape).
 * idle never ran, so it and its edge to len are absent. */
#define S_MOD "\"/src/app/main.py\", 1, \"<module>\""
#define S_FACT "\"/src/app/main.py\", 10, \"fact\""
#define S_WORK "\"/src/app/work.py\", 5, \"work\""
#define S_BAD "\"/src/app/main.py\", 50, \"bad\\ufffd\\ufffdname\""
#define S_BOOT                                                                \
    "\"/usr/lib/python3.11/multiprocessing/process.py\", 108, \"_bootstrap\""
static const char s_expect_stats[] =
    "{\"pids\": [100, 101, 102], \"functions\": ["
    "[" S_MOD ", 1, 1, 100000007, 1000000021, [], false],"
    "[" S_FACT ", 1, 5, 300000000, 500000011, [[" S_MOD
    ", 1, 1, 60000000, 500000011], [" S_FACT
    ", 4, 1, 240000000, 400000000]], true],"
    "[\"~\", 0, \"<method 'acquire' of '_thread.lock' objects>\", 3, 3, "
    "200000003, 200000003, [[" S_MOD ", 3, 3, 200000003, 200000003]], false],"
    "[" S_WORK ", 6, 6, 470000000, 825000000, [[" S_MOD
    ", 2, 2, 150000000, 200000000], [" S_BAD ", 1, 1, 20000000, 25000000], ["
    S_BOOT ", 3, 3, 300000000, 600000000]], false],"
    "[\"/src/app/work.py\", 20, \"__init__\", 3, 3, 55000000, 55000000, [["
    S_WORK ", 3, 3, 55000000, 55000000]], false],"
    "[\"/src/app/work.py\", 40, \"__init__\", 3, 3, 300000000, 300000000, [["
    S_WORK ", 3, 3, 300000000, 300000000]], false],"
    "[" S_BOOT ", 1, 1, 100000000, 700000000, [], false],"
    "[\"~\", 0, \"<built-in method builtins.len>\", 3000000000, 3000000000, "
    "1500000000, 1500000000, [], false],"
    "[" S_BAD ", 1, 1, 5000000, 30000000, [], false]]}";

/* The JSON report of s_build(): a subset of the document, in order. */
#define S_NOCATS                                                              \
    "{\"pickle_s\": 0.0, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.0, "         \
    "\"ipc_wait_s\": 0.0, \"startup_s\": 0.0}"
#define S_PROC_B                                                              \
    "{\"pid\": 101, \"ppid\": 100, \"name\": \"ForkPoolWorker-1\", "          \
    "\"start_method\": \"fork\", \"wall_s\": 1.5, \"cpu_s\": 1.0, "           \
    "\"exit\": \"signal:9\", \"calls\": 3000000007, \"threads\": 1, "         \
    "\"categories\": {\"pickle_s\": 0.0, \"unpickle_s\": 0.04, "              \
    "\"lock_wait_s\": 0.0, \"ipc_wait_s\": 0.1, \"startup_s\": 0.05}, "       \
    "\"thread_list\": [{\"tid\": 7, \"name\": \"MainThread\", "               \
    "\"calls\": 3000000007}]}"
#define S_JFN(file, line, name, nc, pc, tt, ct, np)                           \
    "{\"file\": \"" file "\", \"line\": " #line ", \"name\": \"" name         \
    "\", \"ncalls\": " #nc ", \"pcalls\": " #pc ", \"tottime_s\": " #tt       \
    ", \"cumtime_s\": " #ct ", \"processes\": " #np "}"
#define S_LEN_ROW                                                             \
    S_JFN("~", 0, "<built-in method builtins.len>", 3000000000, 3000000000,  \
          1.5, 1.5, 1)
static const char s_expect_json[] =
    "{\"mpprof_version\": \"" MPPROF_VERSION_STRING "\", "
    "\"python\": \"3.11.7\", \"command\": [\"script.py\", \"--n\", \"4\"], "
    "\"wall_s\": 2.5, \"exit_status\": 0, \"processes\": ["
    "{\"pid\": 100, \"ppid\": 1, \"name\": \"MainProcess\", "
    "\"start_method\": \"main\", \"wall_s\": 2.0, \"cpu_s\": 1.5, "
    "\"exit\": \"ok\", \"calls\": 16, \"threads\": 2, \"categories\": "
    "{\"pickle_s\": 0.015, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.200000003,"
    " \"ipc_wait_s\": 0.0, \"startup_s\": 0.0}, \"thread_list\": ["
    "{\"tid\": 1, \"name\": \"MainThread\", \"calls\": 13}, "
    "{\"tid\": 2, \"name\": \"Thread-1\", \"calls\": 3, \"categories\": "
    "{\"pickle_s\": 0.015, \"unpickle_s\": 0.0, \"lock_wait_s\": 0.0, "
    "\"ipc_wait_s\": 0.0, \"startup_s\": 0.0}}]}, " S_PROC_B ", "
    "{\"pid\": 102, \"ppid\": 100, \"name\": \"ForkPoolWorker-2\", "
    "\"exit\": \"lost\", \"calls\": 0, \"threads\": 0, "
    "\"wall_s\": 0.0, \"categories\": " S_NOCATS "}], "
    "\"categories\": {\"pickle_s\": 0.015, \"unpickle_s\": 0.04, "
    "\"lock_wait_s\": 0.200000003, \"ipc_wait_s\": 0.1, \"startup_s\": 0.05},"
    " \"functions\": [" S_LEN_ROW ", "
    S_JFN("/src/app/main.py", 1, "<module>", 1, 1, 0.100000007, 1.000000021,
          1) ", "
    S_JFN("/src/app/work.py", 5, "work", 6, 6, 0.47, 0.825, 2) ", "
    S_JFN("/usr/lib/python3.11/multiprocessing/process.py", 108,
          "_bootstrap", 1, 1, 0.1, 0.7, 1) ", "
    S_JFN("/src/app/main.py", 10, "fact", 5, 1, 0.3, 0.500000011, 1) ", "
    S_JFN("/src/app/work.py", 40, "__init__", 3, 3, 0.3, 0.3, 1) ", "
    S_JFN("~", 0, "<method 'acquire' of '_thread.lock' objects>", 3, 3,
          0.200000003, 0.200000003, 1) ", "
    S_JFN("/src/app/work.py", 20, "__init__", 3, 3, 0.055, 0.055, 1) ", "
    S_JFN("/src/app/main.py", 50, "bad\\ufffd\\ufffdname", 1, 1, 0.005,
          0.03, 1)
    "], \"integrity\": {\"messages\": 12, \"rejected\": 2, \"seq_gaps\": 1, "
    "\"processes_lost\": 1}}";

/* Process 101 alone, by own time, three rows. */
static const char s_expect_json_b[] =
    "{\"wall_s\": 2.5, \"processes\": [" S_PROC_B "], \"categories\": "
    "{\"pickle_s\": 0.0, \"unpickle_s\": 0.04, \"lock_wait_s\": 0.0, "
    "\"ipc_wait_s\": 0.1, \"startup_s\": 0.05}, \"functions\": [" S_LEN_ROW
    ", " S_JFN("/src/app/work.py", 5, "work", 3, 3, 0.3, 0.6, 1) ", "
    S_JFN("/src/app/work.py", 40, "__init__", 3, 3, 0.3, 0.3, 1) "]}";

static char s_dir[512];

/* check_writers.py sits next to this file; MPPROF_SRC overrides. */
static const char *
s_checker(void)
{
    static char path[1024];
    const char *src = getenv("MPPROF_SRC");
    if (src != NULL) {
        snprintf(path, sizeof(path), "%s/tests/unit/check_writers.py", src);
    }
    else {
        const char *slash = strrchr(__FILE__, '/');
        int n = slash ? (int)(slash - __FILE__ + 1) : 0;
        snprintf(path, sizeof(path), "%.*scheck_writers.py", n, __FILE__);
    }
    return path;
}

static void
s_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(s_dir, sizeof(s_dir), "%s/mpp-writers-XXXXXX",
             base ? base : "/tmp");
    ASSERT(mkdtemp(s_dir) != NULL);
}

static char *
s_path(const char *name)
{
    static char paths[8][640];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", s_dir, name);
    return p;
}

static void
s_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
}

/* Runs the checker; paths come from s_path, so they need no quoting. */
static void
s_check(const char *kind, const char *file, const char *expect)
{
    const char *py = getenv("MPPROF_PYTHON");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s '%s' %s '%s' '%s'", py ? py : "python3",
             s_checker(), kind, file, expect);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        MPP_FAIL("checker failed (%d): %s", st, cmd);
    }
}

enum { S_PSTATS, S_CALLGRIND, S_PARTS, S_TEXT, S_JSON };

static int
s_write(int kind, const mpp_session_t *s, const mpp_report_opts_t *o,
        const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    mpp_view_t *v = mpp_view_new(s, o ? o->proc : -1);
    ASSERT(v != NULL);
    int rc = kind == S_PSTATS      ? mpp_pstats_write(s, v, f)
             : kind == S_CALLGRIND ? mpp_callgrind_write(s, v, f)
             : kind == S_PARTS     ? mpp_callgrind_write_parts(s, f)
             : kind == S_TEXT      ? mpp_report_text(s, o, f)
                                   : mpp_report_json(s, o, f);
    mpp_view_destroy(&v);
    ASSERT_EQ(fclose(f), 0);
    return rc;
}

static char *
s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/*  Every line the report lays out fits in 100 characters; only the
 *  function table, which must equal pstats' own rows, may be longer. */
static void
s_check_width(const char *txt)
{
    bool table = false;
    for (const char *line = txt; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line), cols = 0;
        for (size_t i = 0; i < n; i++) {
            cols += ((unsigned char)line[i] & 0xc0) != 0x80;
        }
        if (strncmp(line, "   ncalls  tottime", 18) == 0) {
            table = true;
        }
        else if (n == 0) {
            table = false;
        }
        if (!table && cols > 100) {
            MPP_FAIL("line of %zu characters: %.*s", cols, (int)n, line);
        }
        if (n > 0 && line[n - 1] == ' ') {
            MPP_FAIL("trailing space: %.*s", (int)n, line);
        }
        line += n + (end != NULL);
    }
}

/* ---- tests -------------------------------------------------------------- */

/*  A tiny dict, byte for byte: what marshal.dumps(stats, 2) writes.  It
 *  covers a long (2**40 + 5 calls), non-ASCII text, a caller entry and
 *  binary floats. */
MPP_TEST(marshal_bytes)
{
    static const unsigned char want[] = {
        '{', '(', 3, 0, 0, 0, 'u', 4, 0, 0, 0, 'a', '.', 'p', 'y', 'i', 1, 0,
        0, 0, 'u', 1, 0, 0, 0, 'f', '(', 5, 0, 0, 0, 'i', 7, 0, 0, 0, 'l', 3,
        0, 0, 0, 5, 0, 0, 0, 0, 4, 'g', 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 'g', 0,
        0, 0, 0, 0, 0, 0xf8, 0x3f, '{', '0', '(', 3, 0, 0, 0, 'u', 1, 0, 0,
        0, '~', 'i', 0, 0, 0, 0, 'u', 4, 0, 0, 0, '<', 0xc3, 0xa9, '>', '(',
        5, 0, 0, 0, 'i', 1, 0, 0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '{', '(', 3, 0, 0, 0, 'u', 4, 0,
        0, 0, 'a', '.', 'p', 'y', 'i', 1, 0, 0, 0, 'u', 1, 0, 0, 0, 'f', '(',
        4, 0, 0, 0, 'i', 1, 0, 0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '0', '0'};
    mpp_session_t *s = mpp_session_new();
    uint32_t f = s_fn(s, "a.py", 1, "f");
    uint32_t g = s_fn(s, "~", 0, "<\xc3\xa9>");
    mpp_thread_t *t = s_thread(mpp_session_proc(s, 1, true), 1, "T");
    s_stat(t, f, (1ULL << 40) + 5, 7, 500 * MS, 1500 * MS);
    s_stat(t, g, 1, 1, 0, 0);
    s_edge(t, f, g, 1, 1, 0, 0);

    const char *path = s_path("tiny.prof");
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, path), 0);
    size_t len;
    const char *got = s_slurp(path, &len);
    ASSERT_EQ(len, sizeof(want));
    ASSERT(memcmp(got, want, len) == 0);
    s_write_text(s_path("tiny.json"),
                 "{\"functions\": ["
                 "[\"a.py\", 1, \"f\", 7, 1099511627781, 500000000, "
                 "1500000000, [], false], "
                 "[\"~\", 0, \"<\\u00e9>\", 1, 1, 0, 0, "
                 "[[\"a.py\", 1, \"f\", 1, 1, 0, 0]], false]]}");
    s_check("pstats", path, s_path("tiny.json"));
    mpp_session_destroy(&s);
}

/* pstats.Stats refuses an empty dict, so an empty view is an error. */
MPP_TEST(pstats_empty)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("empty.prof")), MPP_EINVAL);
    mpp_thread_t *t = s_thread(mpp_session_proc(s, 1, true), 1, "T");
    s_stat(t, s_fn(s, "a.py", 1, "never"), 0, 0, 0, 0);
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("empty.prof")), MPP_EINVAL);
    /* The other writers still produce valid (empty) files. */
    ASSERT_EQ(s_write(S_CALLGRIND, s, NULL, s_path("empty.cg")), 0);
    ASSERT_EQ(s_write(S_PARTS, s, NULL, s_path("empty.parts")), 0);
    ASSERT_EQ(s_write(S_JSON, s, NULL, s_path("empty.json")), 0);
    ASSERT_EQ(s_write(S_TEXT, s, NULL, s_path("empty.txt")), 0);
    s_write_text(s_path("empty.exp"), "{\"pids\": [1], \"functions\": []}");
    s_check("callgrind", s_path("empty.cg"), s_path("empty.exp"));
    s_check("parts", s_path("empty.parts"), s_path("empty.exp"));
    s_write_text(s_path("empty.jexp"), "{\"functions\": []}");
    s_check("json", s_path("empty.json"), s_path("empty.jexp"));
    mpp_session_destroy(&s);
}

MPP_TEST(pstats_consumer)
{
    mpp_session_t *s = s_build();
    s_write_text(s_path("stats.exp"), s_expect_stats);
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("profile.prof")), 0);
    s_check("pstats", s_path("profile.prof"), s_path("stats.exp"));
    mpp_session_destroy(&s);
}

MPP_TEST(callgrind_consumer)
{
    mpp_session_t *s = s_build();
    s_write_text(s_path("stats.exp"), s_expect_stats);
    ASSERT_EQ(s_write(S_CALLGRIND, s, NULL, s_path("callgrind.out")), 0);
    s_check("callgrind", s_path("callgrind.out"), s_path("stats.exp"));
    ASSERT_EQ(s_write(S_PARTS, s, NULL, s_path("callgrind.parts")), 0);
    s_check("parts", s_path("callgrind.parts"), s_path("stats.exp"));

    size_t len;
    const char *cg = s_slurp(s_path("callgrind.out"), &len);
    ASSERT(strstr(cg, "# callgrind format\nversion: 1\ncreator: mpprof "
                      MPPROF_VERSION_STRING "\ncmd: script.py --n 4\n"));
    ASSERT(strstr(cg, "events: ns\nsummary: 3030000010\n"));
    ASSERT(strstr(cg, "__init__:20\n") && strstr(cg, "__init__:40\n"));
    ASSERT(strstr(cg, "calls=3000000000") == NULL); /* idle -> len */
    mpp_session_destroy(&s);
}

MPP_TEST(json_report)
{
    mpp_session_t *s = s_build();
    s_write_text(s_path("report.exp"), s_expect_json);
    ASSERT_EQ(s_write(S_JSON, s, NULL, s_path("report.json")), 0);
    s_check("json", s_path("report.json"), s_path("report.exp"));

    mpp_report_opts_t o = {MPP_SORT_TOTTIME, 3, 1};
    s_write_text(s_path("report_b.exp"), s_expect_json_b);
    ASSERT_EQ(s_write(S_JSON, s, &o, s_path("report_b.json")), 0);
    s_check("json", s_path("report_b.json"), s_path("report_b.exp"));

    o.proc = 3;
    ASSERT_EQ(s_write(S_JSON, s, &o, s_path("bad.json")), MPP_EINVAL);
    ASSERT_EQ(s_write(S_TEXT, s, &o, s_path("bad.txt")), MPP_EINVAL);
    mpp_session_destroy(&s);
}

/* Names the program chose: quotes, escapes, control bytes, bad UTF-8. */
MPP_TEST(escaping)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *t = s_thread(mpp_session_proc(s, 5, true), 1, "T\"1");
    s_stat(t, s_fn(s, "/x/q\"uote\\d.py", 3, "tab\there\nnl\x01\x7f"), 1, 1,
           MS, MS);
    s_stat(t, s_fn(s, "/x/\xc3\xa9.py", 1, "s\xed\xa0\x80|\xc0\xaf|\xe2\x82"),
           2, 2, 2 * MS, 2 * MS);
    ASSERT_EQ(s_write(S_JSON, s, NULL, s_path("esc.json")), 0);
    s_write_text(s_path("esc.exp"),
                 "{\"processes\": [{\"name\": null, \"thread_list\": "
                 "[{\"name\": \"T\\\"1\"}]}], \"functions\": ["
                 "{\"file\": \"/x/\\u00e9.py\", \"name\": "
                 "\"s\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\"}, "
                 "{\"file\": \"/x/q\\\"uote\\\\d.py\", "
                 "\"name\": \"tab\\there\\nnl\\u0001\\u007f\"}]}");
    s_check("json", s_path("esc.json"), s_path("esc.exp"));
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("esc.prof")), 0);
    s_write_text(s_path("esc.pexp"),
                 "{\"functions\": [[\"/x/q\\\"uote\\\\d.py\", 3, "
                 "\"tab\\there\\nnl\\u0001\\u007f\", 1, 1, 1000000, 1000000, "
                 "[], false], [\"/x/\\u00e9.py\", 1, "
                 "\"s\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\", 2, 2, "
                 "2000000, 2000000, [], false]]}");
    s_check("pstats", s_path("esc.prof"), s_path("esc.pexp"));
    ASSERT_EQ(s_write(S_TEXT, s, NULL, s_path("esc.txt")), 0);
    size_t len;
    const char *txt = s_slurp(s_path("esc.txt"), &len);
    ASSERT(strstr(txt, "/x/q\"uote\\d.py:3(tab?here?nl?\?)\n"));
    ASSERT(strstr(txt, "(s\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"));
    ASSERT(strchr(txt, '\x01') == NULL);
    ASSERT_EQ(s_write(S_CALLGRIND, s, NULL, s_path("esc.cg")), 0);
    const char *cg = s_slurp(s_path("esc.cg"), &len);
    ASSERT(strstr(cg, "fn=(1) tab\there nl\x01\x7f\n"));
    mpp_session_destroy(&s);
}

MPP_TEST(text_report)
{
    mpp_session_t *s = s_build();
    ASSERT_EQ(s_write(S_TEXT, s, NULL, s_path("report.txt")), 0);
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("profile.prof")), 0);
    s_check("text", s_path("report.txt"), s_path("profile.prof"));
    size_t len;
    const char *txt = s_slurp(s_path("report.txt"), &len);
    ASSERT(strstr(txt, "mpprof " MPPROF_VERSION_STRING
                       ": script.py --n 4\n  python 3.11.7, wall 2.500 s, "
                       "exit status 0\n  3 processes, 3000000023 function "
                       "calls (3000000019 primitive calls)\n"));
    ASSERT(strstr(txt, "      5/1    0.300    0.060    0.500    0.500 "
                       "/src/app/main.py:10(fact)\n"));
    ASSERT(strstr(txt, "3000000000    1.500    0.000    1.500    0.000 "
                       "{built-in method builtins.len}\n"));
    /* Thread time: 0.800000010 + 0.030 + 2.200 s; the main process's
     * lock wait is idle time, so IPC wait leads. */
    ASSERT(strstr(txt, "\nWhere the time went (all processes, 3.030 "
                       "thread-seconds):\n  compute 87%, pickle <1% (15 ms, "
                       "1.0 kB), unpickle 1% (40 ms, 2.0 kB), lock wait 7% "
                       "(200 ms),\n  IPC wait 3% (100 ms), start-up 2% "
                       "(50 ms)\nLeading cost: IPC wait \xe2\x80\x94 100 ms "
                       "in 1 process\nThe main process waited 200 ms "));
    ASSERT(strstr(txt, "\n  and check for tasks of uneven size that leave "
                       "workers idle.\n\nProcesses\n"));
    ASSERT(strstr(txt, "     101      100  ForkPoolWorker-1     fork       "
                       "    1.500     1.000 3000000007       1  "
                       "signal:9\n"));
    ASSERT(strstr(txt, "  lost\n"));
    ASSERT(strstr(txt, "    100  MainProcess              0.830    0.615    "
                       "0.015    0.000    0.200    0.000    0.000\n"));
    ASSERT(strstr(txt, "    100  Thread-1                            3    "
                       "0.015    0.015    0.000    0.000    0.000    "
                       "0.000\n"));
    ASSERT(strstr(txt, "    0.200          3         -  threading.Lock     "
                       "    100       main.py:1(<module>)\n\nTop pickling "
                       "sites (function \xe2\x86\x92 pickler; time includes "
                       "callees; bytes as measured)\n  none measured\n"));
    ASSERT(strstr(txt, "\nIntegrity: 12 messages, 2 rejected, 1 sequence "
                       "gaps, 0 dropped events, 1 processes lost (ended\n  "
                       "without final data: 102 ForkPoolWorker-2)\n"));
    s_check_width(txt);

    /* A limit and one process. */
    mpp_report_opts_t o = {MPP_SORT_CALLS, 2, 0};
    ASSERT_EQ(s_write(S_TEXT, s, &o, s_path("report_a.txt")), 0);
    txt = s_slurp(s_path("report_a.txt"), &len);
    ASSERT(strstr(txt, "ordered by call count; 2 of 6 shown\n"));
    ASSERT(strstr(txt, "ForkPoolWorker-1") == NULL);
    ASSERT(strstr(txt, ")\n      5/1    0.300 "));
    /* Alone, the main process's own lock wait is its leading cost. */
    ASSERT(strstr(txt, "\nWhere the time went (this process, 0.830 "
                       "thread-seconds):\n"));
    ASSERT(strstr(txt, "\nLeading cost: lock wait \xe2\x80\x94 200 ms in 1 "
                       "process; top site: main.py:<module> \xe2\x86\x92 "
                       "Lock.acquire (3 calls)\n"));
    s_check_width(txt);
    ASSERT(strstr(txt, "(fact)\n        3    0.170    0.057    0.225    "
                       "0.075 /src/app/work.py:5(work)\n\n"));
    mpp_session_destroy(&s);
}

/*  A Pool run as the collector reports it: the parent's main thread
 *  waits in map(), its task thread pickles and its result thread reads;
 *  two workers read tasks and write results through SimpleQueue; a
 *  resource tracker idles.  Sites are found through the multiprocessing
 *  wrappers (Connection.send, SimpleQueue.get, ApplyResult.get/wait).
 *  Spans carry bytes; one names the wrapper, one the root, one a function
 *  with no edge at all. */
#define S_LIB "/usr/lib/python3.11/"
#define S_MPL S_LIB "multiprocessing/"

typedef struct {
    uint32_t main, map, get, wait, ewait, cwait, acq, tasks, send, dumps,
        pdump, sendb, results, recv, recvb_, loads, worker, qget, qput, sem,
        recvbytes, helper, save, work, sync;
} s_pool_fns_t;

static s_pool_fns_t
s_pool_fns(mpp_session_t *s)
{
    s_pool_fns_t f;
    f.main = s_fn(s, "/app/main.py", 5, "main");
    f.map = s_fn(s, S_MPL "pool.py", 362, "map");
    f.get = s_fn(s, S_MPL "pool.py", 767, "get");
    f.wait = s_fn(s, S_MPL "pool.py", 764, "wait");
    f.ewait = s_fn(s, S_LIB "threading.py", 611, "wait");
    f.cwait = s_fn(s, S_LIB "threading.py", 295, "wait");
    f.acq = s_fn(s, "~", 0, "<method 'acquire' of '_thread.lock' objects>");
    f.tasks = s_fn(s, S_MPL "pool.py", 528, "_handle_tasks");
    f.send = s_fn(s, S_MPL "connection.py", 202, "send");
    f.dumps = s_fn(s, S_MPL "reduction.py", 51, "dumps");
    f.pdump = s_fn(s, "~", 0, "<method 'dump' of '_pickle.Pickler' objects>");
    f.sendb = s_fn(s, S_MPL "connection.py", 414, "_send_bytes");
    f.results = s_fn(s, S_MPL "pool.py", 579, "_handle_results");
    f.recv = s_fn(s, S_MPL "connection.py", 246, "recv");
    f.recvb_ = s_fn(s, S_MPL "connection.py", 429, "_recv_bytes");
    f.loads = s_fn(s, "~", 0, "<built-in method _pickle.loads>");
    f.worker = s_fn(s, S_MPL "pool.py", 114, "worker");
    f.qget = s_fn(s, S_MPL "queues.py", 364, "get");
    f.qput = s_fn(s, S_MPL "queues.py", 373, "put");
    f.sem = s_fn(s, "~", 0,
                 "<method '__enter__' of '_multiprocessing.SemLock' objects>");
    f.recvbytes = s_fn(s, S_MPL "connection.py", 208, "recv_bytes");
    f.helper = s_fn(s, "/app/main.py", 40, "helper");
    f.save = s_fn(s, "/app/main.py", 30, "custom_save");
    f.work = s_fn(s, "/app/main.py", 20, "work");
    f.sync = s_fn(s, S_MPL "synchronize.py", 94, "__enter__");
    return f;
}

static void
s_span(mpp_thread_t *t, uint32_t cat, uint32_t func, int64_t dur,
       uint64_t bytes)
{
    mpp_span_t sp = {cat, func, 1700000000000000000LL, dur, bytes};
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

/* One worker: `lock` ms on the queue's lock, 40 ms reading, `dumps` ms
 * pickling results. */
static void
s_pool_worker(mpp_session_t *s, const s_pool_fns_t *f, int64_t pid,
              int64_t lock, int64_t dumps, bool helper)
{
    char name[32];
    snprintf(name, sizeof(name), "ForkPoolWorker-%d", (int)(pid - 200));
    mpp_proc_t *p = s_proc(s, pid, 200, name, "fork", 1000 * MS, 700 * MS,
                           MPP_EXIT_OK, 0);
    mpp_thread_t *t = s_thread(p, 1, "MainThread");
    s_stat(t, f->worker, 1, 1, 5 * MS, 700 * MS);
    s_stat(t, f->work, 2, 2, 500 * MS, 500 * MS);
    s_edge(t, f->worker, f->qget, 3, 3, 3 * MS, 80 * MS);
    s_edge(t, f->qget, f->sync, 3, 3, 0, lock * MS);
    s_edge(t, f->sync, f->sem, helper ? 3 : 5, 3, lock * MS, lock * MS);
    s_edge(t, f->qget, f->recvbytes, 3, 3, MS, 41 * MS);
    s_edge(t, f->recvbytes, f->recvb_, 3, 3, 40 * MS, 40 * MS);
    s_edge(t, f->qget, f->loads, 2, 2, 6 * MS, 6 * MS);
    s_edge(t, f->worker, f->work, 2, 2, 500 * MS, 500 * MS);
    s_edge(t, f->worker, f->qput, 2, 2, MS, 12 * MS);
    s_edge(t, f->qput, f->dumps, helper ? 3 : 2, 2, MS, dumps * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){(uint64_t)lock * MS, 3, 0};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){40 * MS, 3, 0};
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){6 * MS, 2, 500};
    t->cat[MPP_CAT_PICKLE] =
        (mpp_catval_t){(uint64_t)(dumps + 2 * helper) * MS, 3, 364};
    if (helper) {
        /* A second caller keeps SimpleQueue.put as the site; a span with
         * no edge makes a site of its own. */
        s_edge(t, f->helper, f->qput, 1, 1, MS, 5 * MS);
        s_span(t, MPP_CAT_PICKLE, f->qput, 4 * MS, 300);
        s_span(t, MPP_CAT_PICKLE, f->save, 2 * MS, 64);
    }
    else {
        /* Two wrappers that both come down to worker(): still lifted. */
        s_edge(t, f->qput, f->sync, 2, 2, 0, 0);
        s_span(t, MPP_CAT_PICKLE, f->qput, 4 * MS, 200);
    }
}

static mpp_session_t *
s_build_pool(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    char *argv[] = {"pool.py"};
    ASSERT_EQ(mpp_session_set_command(s, argv, 1), 0);
    s->wall_ns = 1100 * MS;
    s_pool_fns_t f = s_pool_fns(s);

    mpp_proc_t *p = s_proc(s, 200, 1, "MainProcess", "main", 1100 * MS,
                           300 * MS, MPP_EXIT_OK, 0);
    mpp_thread_t *t = s_thread(p, 1, "MainThread");
    s_stat(t, f.main, 1, 1, 100 * MS, 1000 * MS);
    s_stat(t, f.acq, 2, 2, 900 * MS, 900 * MS);
    s_edge(t, f.main, f.map, 1, 1, MS, 900 * MS);
    s_edge(t, f.map, f.get, 1, 1, MS, 900 * MS);
    s_edge(t, f.get, f.wait, 1, 1, MS, 900 * MS);
    s_edge(t, f.wait, f.ewait, 1, 1, MS, 900 * MS);
    s_edge(t, f.ewait, f.cwait, 1, 1, MS, 900 * MS);
    s_edge(t, f.cwait, f.acq, 2, 2, 900 * MS, 900 * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){900 * MS, 2, 0};

    t = s_thread(p, 2, "Thread-2 (_handle_tasks)");
    s_stat(t, f.tasks, 1, 1, 10 * MS, 110 * MS);
    s_stat(t, f.pdump, 4, 4, 70 * MS, 70 * MS);
    s_edge(t, f.tasks, f.send, 4, 4, MS, 100 * MS);
    s_edge(t, f.send, f.dumps, 4, 4, 10 * MS, 80 * MS);
    s_edge(t, f.dumps, f.pdump, 4, 4, 70 * MS, 70 * MS);
    s_edge(t, f.send, f.sendb, 4, 4, 20 * MS, 20 * MS);
    t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){80 * MS, 4, 4000};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){20 * MS, 4, 0};
    for (int i = 0; i < 3; i++) {
        s_span(t, MPP_CAT_PICKLE, f.send, 20 * MS, 1000);
    }
    s_span(t, MPP_CAT_PICKLE, f.dumps, 20 * MS, 1000);

    t = s_thread(p, 3, "Thread-3 (_handle_results)");
    s_stat(t, f.results, 1, 1, 5 * MS, 713 * MS);
    s_stat(t, f.recvb_, 5, 5, 700 * MS, 700 * MS);
    s_edge(t, f.results, f.recv, 5, 5, MS, 708 * MS);
    s_edge(t, f.recv, f.recvb_, 5, 5, 700 * MS, 700 * MS);
    s_edge(t, f.recv, f.loads, 4, 4, 8 * MS, 8 * MS);
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){700 * MS, 5, 0};
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){8 * MS, 4, 900};

    s_pool_worker(s, &f, 201, 30, 15, true);
    s_pool_worker(s, &f, 202, 10, 10, false);
    p = s_proc(s, 203, 200, "resource_tracker", "spawn", 1100 * MS, MS,
               MPP_EXIT_OK, 0);
    char *targv[] = {"python3", "-c",
                     "from multiprocessing.resource_tracker import main"};
    p->argv = calloc(3, sizeof(char *));
    for (size_t i = 0; i < 3; i++) {
        p->argv[i] = strdup(targv[i]);
    }
    p->argc = 3;
    return s;
}

#define S_SITE(file, line, name, pids, count, secs, bytes, via)               \
    "{\"file\": \"" file "\", \"line\": " #line ", \"name\": \"" name         \
    "\", \"process_pids\": " pids ", \"count\": " #count                      \
    ", \"seconds\": " #secs ", \"bytes\": " #bytes ", \"via\": " via "}"
#define S_POOL S_MPL "pool.py"

static const char s_expect_sites[] =
    "{\"thread_s\": 2.818, \"categories\": {\"pickle_s\": 0.107, "
    "\"unpickle_s\": 0.02, \"lock_wait_s\": 0.94, \"ipc_wait_s\": 0.8, "
    "\"startup_s\": 0.0}, \"sites\": {\"lock_wait\": ["
    S_SITE(S_POOL, 362, "map", "[200]", 1, 0.9, 0, "\"Condition.wait\"") ", "
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 8, 0.04, 0,
           "\"with SemLock\"")
    "], \"pickle\": ["
    S_SITE(S_POOL, 528, "_handle_tasks", "[200]", 4, 0.08, 4000,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE(S_MPL "queues.py", 373, "put", "[201]", 3, 0.015, 300,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE(S_POOL, 114, "worker", "[202]", 2, 0.01, 200,
           "\"ForkingPickler.dumps\"") ", "
    S_SITE("/app/main.py", 30, "custom_save", "[201]", 1, 0.002, 64, "null")
    "], \"unpickle\": ["
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 4, 0.012, 0,
           "\"pickle.loads\"") ", "
    S_SITE(S_POOL, 579, "_handle_results", "[200]", 4, 0.008, 0,
           "\"pickle.loads\"")
    "], \"ipc_wait\": ["
    S_SITE(S_POOL, 579, "_handle_results", "[200]", 5, 0.7, 0,
           "\"Connection._recv_bytes\"") ", "
    S_SITE(S_POOL, 114, "worker", "[201, 202]", 6, 0.08, 0,
           "\"Connection._recv_bytes\"") ", "
    S_SITE(S_POOL, 528, "_handle_tasks", "[200]", 4, 0.02, 0,
           "\"Connection._send_bytes\"")
    "]}}";

MPP_TEST(sites)
{
    mpp_session_t *s = s_build_pool();
    s_write_text(s_path("sites.exp"), s_expect_sites);
    ASSERT_EQ(s_write(S_JSON, s, NULL, s_path("sites.json")), 0);
    s_check("json", s_path("sites.json"), s_path("sites.exp"));
    size_t len;
    const char *txt = s_slurp(s_path("sites.json"), &len);
    ASSERT(strstr(txt, "\"lock_type\": \"threading.Condition\""));
    ASSERT(strstr(txt, "\"lock_type\": \"multiprocessing lock\""));

    /* One process: only its own sites. */
    mpp_report_opts_t o = {MPP_SORT_CUMULATIVE, 0, 1};
    s_write_text(s_path("sites_a.exp"),
                 "{\"sites\": {\"lock_wait\": ["
                 S_SITE(S_POOL, 114, "worker", "[201]", 3, 0.03, 0,
                        "\"with SemLock\"")
                 "], \"pickle\": ["
                 S_SITE(S_MPL "queues.py", 373, "put", "[201]", 3, 0.015,
                        300, "\"ForkingPickler.dumps\"") ", "
                 S_SITE("/app/main.py", 30, "custom_save", "[201]", 1,
                        0.002, 64, "null")
                 "]}}");
    ASSERT_EQ(s_write(S_JSON, s, &o, s_path("sites_a.json")), 0);
    s_check("json", s_path("sites_a.json"), s_path("sites_a.exp"));

    ASSERT_EQ(s_write(S_TEXT, s, NULL, s_path("sites.txt")), 0);
    txt = s_slurp(s_path("sites.txt"), &len);
    s_check_width(txt);
    /* The parent's waits (0.9 + 0.02 + 0.7 s) are idle, so pickling in
     * the parent and both workers leads. */
    ASSERT(strstr(txt, "\nLeading cost: pickling \xe2\x80\x94 107 ms in 3 "
                       "processes; top site: pool.py:_handle_tasks "
                       "\xe2\x86\x92\n  ForkingPickler.dumps (4 calls, "
                       "4.0 kB)\nThe main process waited 1.62 s "));
    ASSERT(strstr(txt, "\nHint: send less per task"));
    ASSERT(strstr(txt, "    0.900          1         -  threading.Condition"
                       "    200       pool.py:362(map)\n    0.040       "
                       "   8         -  multiprocessing lock   2 procs   "
                       "pool.py:114(worker)\n"));
    ASSERT(strstr(txt, "    0.080          4    4.0 kB  ForkingPickler.dumps"
                       "   200       pool.py:528(_handle_tasks)\n"));
    ASSERT(strstr(txt, "    0.002          1      64 B  ?                 "
                       "     201       main.py:30(custom_save)\n"));
    ASSERT(strstr(txt, "\nTop IPC-wait sites "));
    ASSERT(strstr(txt, "    200  Thread-3 (_handle_results)          6    "
                       "0.000    0.000    0.008    0.000    0.700    "
                       "0.000\n"));
    mpp_session_destroy(&s);
}

MPP_TEST(find_proc)
{
    mpp_session_t *s = s_build();
    ASSERT_EQ(mpp_report_find_proc(s, "101"), 1);
    ASSERT_EQ(mpp_report_find_proc(s, "MainProcess"), 0);
    ASSERT_EQ(mpp_report_find_proc(s, "ForkPoolWorker-2"), 2);
    ASSERT_EQ(mpp_report_find_proc(s, "999"), -1);
    ASSERT_EQ(mpp_report_find_proc(s, "ForkPoolWorker"), -1);
    ASSERT_EQ(mpp_report_find_proc(s, ""), -1);
    ASSERT_EQ(mpp_report_find_proc(s, NULL), -1);
    free(s->procs[2].name);
    s->procs[2].name = strdup("42");
    ASSERT_EQ(mpp_report_find_proc(s, "42"), 2); /* no pid 42: by name */
    mpp_session_destroy(&s);
}

int
main(void)
{
    s_tmpdir();
    MPP_RUN(marshal_bytes);
    MPP_RUN(pstats_empty);
    MPP_RUN(pstats_consumer);
    MPP_RUN(callgrind_consumer);
    MPP_RUN(json_report);
    MPP_RUN(escaping);
    MPP_RUN(text_report);
    MPP_RUN(sites);
    MPP_RUN(find_proc);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
    if (getenv("MPPROF_KEEP") == NULL && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s_dir);
    }
    return mpp_test_done();
}
