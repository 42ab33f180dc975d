/*  Output writers, checked against their real consumers: each test builds
 *  a session by hand with known numbers, writes a file, and runs
 *  check_writers.py on it (pstats.Stats, marshal, callgrind_annotate,
 *  json.loads), giving it the expected values as JSON.
 */
#include "mpp_obuf.h"
#include "mpp_output.h"
#include "mpp_report_priv.h"
#include "mpp_sort.h"
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
/* pstats keeps undecodable bytes as surrogate escapes, as fsdecode does. */
#define S_BAD "\"/src/app/main.py\", 50, \"bad\\udcff\\udcfename\""
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

/* Runs the checker; paths come from s_path, so they need no quoting.
 * `extra` is an optional fourth argument. */
static void
s_check_x(const char *kind, const char *file, const char *expect,
          const char *extra)
{
    const char *py = getenv("MPPROF_PYTHON");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s '%s' %s '%s' '%s'%s%s%s",
             py ? py : "python3", s_checker(), kind, file, expect,
             extra ? " '" : "", extra ? extra : "", extra ? "'" : "");
    int st = system(cmd);
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == MPP_TEST_SKIP_STATUS) {
        MPP_SKIP("%s: a consumer is missing (see above)", kind);
    }
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        MPP_FAIL("checker failed (%d): %s", st, cmd);
    }
}

static void
s_check(const char *kind, const char *file, const char *expect)
{
    s_check_x(kind, file, expect, NULL);
}

enum { S_PSTATS, S_PSTATS_V2, S_CALLGRIND, S_PARTS, S_TEXT, S_JSON };

static int
s_write(int kind, const mpp_session_t *s, const mpp_report_opts_t *o,
        const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    mpp_view_t *v = mpp_view_new(s, o ? o->proc : -1);
    ASSERT(v != NULL);
    int rc = kind == S_PSTATS      ? mpp_pstats_write(s, v, f)
             : kind == S_PSTATS_V2 ? mpp_pstats_write_v2(s, v, f)
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

/*  A tiny dict, byte for byte: what marshal.dumps(stats, 2) writes, and
 *  the version-4 form with references profile.prof uses.  It covers a
 *  long (2**40 + 5 calls), non-ASCII text, a caller entry and binary
 *  floats.  Both files load to the same stats. */
MPP_TEST(marshal_bytes)
{
    static const unsigned char want_v2[] = {
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
    /* Tuples ')' and ASCII strings 'z' with 1-byte lengths; 0x80 flags an
     * object as referenced later, numbered in the order the flagged
     * objects start: 0 the key of f, 1 "a.py", 2 "f", 3 the key of g,
     * 4 "~", 5 "<é>"; the caller entry is 'r' 0, the key of f. */
    static const unsigned char want[] = {
        '{', ')' | 0x80, 3, 'z' | 0x80, 4, 'a', '.', 'p', 'y', 'i', 1, 0, 0,
        0, 'z' | 0x80, 1, 'f', ')', 5, 'i', 7, 0, 0, 0, 'l', 3, 0, 0, 0, 5,
        0, 0, 0, 0, 4, 'g', 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 'g', 0, 0, 0, 0, 0,
        0, 0xf8, 0x3f, '{', '0', ')' | 0x80, 3, 'z' | 0x80, 1, '~', 'i', 0, 0,
        0, 0, 'u' | 0x80, 4, 0, 0, 0, '<', 0xc3, 0xa9, '>', ')', 5, 'i', 1, 0,
        0, 0, 'i', 1, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, 'g', 0, 0, 0, 0,
        0, 0, 0, 0, '{', 'r', 0, 0, 0, 0, ')', 4, 'i', 1, 0, 0, 0, 'i', 1, 0,
        0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, 'g', 0, 0, 0, 0, 0, 0, 0, 0, '0',
        '0'};
    mpp_session_t *s = mpp_session_new();
    uint32_t f = s_fn(s, "a.py", 1, "f");
    uint32_t g = s_fn(s, "~", 0, "<\xc3\xa9>");
    mpp_thread_t *t = s_thread(mpp_session_proc(s, 1, true), 1, "T");
    s_stat(t, f, (1ULL << 40) + 5, 7, 500 * MS, 1500 * MS);
    s_stat(t, g, 1, 1, 0, 0);
    s_edge(t, f, g, 1, 1, 0, 0);

    const char *plain = s_path("tiny-v2.prof");
    ASSERT_EQ(s_write(S_PSTATS_V2, s, NULL, plain), 0);
    size_t len;
    const char *got = s_slurp(plain, &len);
    ASSERT_EQ(len, sizeof(want_v2));
    ASSERT(memcmp(got, want_v2, len) == 0);
    const char *path = s_path("tiny.prof");
    ASSERT_EQ(s_write(S_PSTATS, s, NULL, path), 0);
    got = s_slurp(path, &len);
    ASSERT_EQ(len, sizeof(want));
    ASSERT(memcmp(got, want, len) == 0);
    s_write_text(s_path("tiny.json"),
                 "{\"functions\": ["
                 "[\"a.py\", 1, \"f\", 7, 1099511627781, 500000000, "
                 "1500000000, [], false], "
                 "[\"~\", 0, \"<\\u00e9>\", 1, 1, 0, 0, "
                 "[[\"a.py\", 1, \"f\", 1, 1, 0, 0]], false]]}");
    s_check("pstats", plain, s_path("tiny.json"));
    s_check_x("pstats", path, s_path("tiny.json"), plain);
    mpp_session_destroy(&s);
}

/*  The references on a larger dict, against the version-2 dump of the
 *  same view: callers written before their own entry (a higher id calls a
 *  lower one) and after it, recursion, a caller never seen called (left
 *  out), a path of 300 ASCII characters (TYPE_ASCII, 4-byte length)
 *  shared by two functions, a long non-ASCII name, invalid UTF-8, a name
 *  repeated in several files, an empty name, negative and 64-bit
 *  numbers, and for one process alone. */
MPP_TEST(marshal_refs)
{
    char longpath[301], longname[400];
    memset(longpath, 'p', 300);
    longpath[0] = '/';
    longpath[300] = '\0';
    longname[0] = '\0';
    for (int i = 0; i < 60; i++) {
        strcat(longname, "\xc3\xa9t\xc3\xa9"); /* 5 bytes each */
    }
    mpp_session_t *s = mpp_session_new();
    uint32_t f[12];
    f[0] = s_fn(s, longpath, 1, "run");
    f[1] = s_fn(s, longpath, 9, "step");
    f[2] = s_fn(s, "/a/b.py", 3, "run");
    f[3] = s_fn(s, "/a/c.py", 4, "run");
    f[4] = s_fn(s, "/a/c.py", 5, longname);
    f[5] = s_fn(s, "/a/c.py", 6, "bad\xff\xfename");
    f[6] = s_fn(s, "~", 0, "<built-in method builtins.len>");
    f[7] = s_fn(s, "/a/d.py", -1, "");
    f[8] = s_fn(s, "/a/d.py", 7, "never");
    f[9] = s_fn(s, "/a/b.py", 30, "rec");
    f[10] = s_fn(s, "/a/b.py", 31, "big");
    f[11] = s_fn(s, "/a/b.py", 32, "late");
    mpp_proc_t *p = mpp_session_proc(s, 1, true);
    mpp_thread_t *t = s_thread(p, 1, "T");
    for (int i = 0; i < 12; i++) {
        if (i != 8) {
            s_stat(t, f[i], 2 + (uint64_t)i, 1 + (uint64_t)i,
                   (int64_t)i * MS + 7, (int64_t)i * 3 * MS + 11);
        }
    }
    s_stat(t, f[10], 5000000000ULL, 4000000000ULL, -5, 1LL << 40);
    s_edge(t, f[11], f[0], 1, 1, MS, 2 * MS);  /* caller before its entry */
    s_edge(t, f[0], f[1], 2, 2, MS, MS);
    s_edge(t, f[0], f[2], 1, 1, MS, MS);
    s_edge(t, f[1], f[2], 1, 1, MS, MS);
    s_edge(t, f[2], f[6], 3, 3, 10, 10);
    s_edge(t, f[3], f[6], 3, 3, 10, 10);
    s_edge(t, f[4], f[6], 3, 3, 10, 10);
    s_edge(t, f[5], f[4], 1, 1, MS, MS);
    s_edge(t, f[7], f[5], 1, 1, MS, MS);
    s_edge(t, f[8], f[7], 1, 1, MS, MS);      /* never called: left out */
    s_edge(t, f[9], f[9], 4, 1, MS, 3 * MS);  /* recursion */
    s_edge(t, f[10], f[9], 1, 1, MS, 4 * MS);
    s_edge(t, f[11], f[10], 5000000000ULL, 1, MS, 5 * MS);
    p = mpp_session_proc(s, 2, true);
    t = s_thread(p, 1, "T");
    s_stat(t, f[2], 1, 1, MS, MS);
    s_stat(t, f[6], 1, 1, MS, MS);
    s_edge(t, f[2], f[6], 1, 1, MS, MS);

    ASSERT_EQ(s_write(S_PSTATS, s, NULL, s_path("refs.prof")), 0);
    ASSERT_EQ(s_write(S_PSTATS_V2, s, NULL, s_path("refs-v2.prof")), 0);
    s_check_x("pstats", s_path("refs.prof"), "-", s_path("refs-v2.prof"));
    mpp_report_opts_t o = {MPP_SORT_CUMULATIVE, 0, 1};
    ASSERT_EQ(s_write(S_PSTATS, s, &o, s_path("refs1.prof")), 0);
    ASSERT_EQ(s_write(S_PSTATS_V2, s, &o, s_path("refs1-v2.prof")), 0);
    s_check_x("pstats", s_path("refs1.prof"), "-", s_path("refs1-v2.prof"));
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
    ASSERT_EQ(s_write(S_PSTATS_V2, s, NULL, s_path("profile-v2.prof")), 0);
    s_check("pstats", s_path("profile-v2.prof"), s_path("stats.exp"));
    s_check_x("pstats", s_path("profile.prof"), s_path("stats.exp"),
              s_path("profile-v2.prof"));
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
                 "\"s\\udced\\udca0\\udc80|\\udcc0\\udcaf|\\udce2\\udc82\", "
                 "2, 2, "
                 "2000000, 2000000, [], false]]}");
    s_check("pstats", s_path("esc.prof"), s_path("esc.pexp"));
    ASSERT_EQ(s_write(S_PSTATS_V2, s, NULL, s_path("esc-v2.prof")), 0);
    s_check_x("pstats", s_path("esc.prof"), s_path("esc.pexp"),
              s_path("esc-v2.prof"));
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
    /* Thread time: 0.800000010 + 0.030 + 2.200 s.  The main process's
     * lock wait and the worker's pipe wait are idle time, so serialisation
     * (15 + 40 ms) leads over start-up (50 ms), named by its larger half. */
    ASSERT(strstr(txt, "\nWhere the time went (all processes, 3.030 "
                       "thread-seconds):\n  compute 87%, pickle <1% (15 ms, "
                       "1.0 kB), unpickle 1% (40 ms, 2.0 kB), lock wait 7% "
                       "(200 ms),\n  IPC wait 3% (100 ms), start-up 2% "
                       "(50 ms)\nLeading cost: unpickling \xe2\x80\x94 40 ms "
                       "in 1 process (with pickling: 55 ms of serialisation)"
                       "\nThe workers waited 100 ms on pipes "));
    ASSERT(strstr(txt, "\nThe main process waited 200 ms "));
    ASSERT(strstr(txt, "(multiprocessing.shared_memory).\n\nProcesses\n"));
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
                       "processes (with unpickling: 127 ms of "
                       "serialisation); top site:\n  pool.py:_handle_tasks "
                       "\xe2\x86\x92 ForkingPickler.dumps (4 calls, "
                       "4.0 kB)\nThe workers waited 80 ms on pipes "));
    ASSERT(strstr(txt, "\nThe main process waited 1.62 s "));
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

/* ---- the writers' building blocks --------------------------------------- */

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Decimal numbers as printf writes them, and the buffer across flushes. */
MPP_TEST(obuf)
{
    static const uint64_t u[] = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000,
                                 4294967295ULL, 4294967296ULL,
                                 9999999999999999999ULL,
                                 10000000000000000000ULL, UINT64_MAX};
    static const int64_t i[] = {0, -1, 1, -9, -10, 10, INT32_MIN, INT32_MAX,
                                INT64_MAX, INT64_MIN, INT64_MIN + 1};
    char got[32], want[32];
    for (size_t k = 0; k < MPP_ARRAY_SIZE(u) + 1000; k++) {
        uint64_t v = k < MPP_ARRAY_SIZE(u) ? u[k] : s_rand() >> (k % 64);
        *mpp_ob_fmt_u64(got, v) = '\0';
        snprintf(want, sizeof(want), "%" PRIu64, v);
        ASSERT_STREQ(got, want);
    }
    for (size_t k = 0; k < MPP_ARRAY_SIZE(i) + 1000; k++) {
        int64_t v = k < MPP_ARRAY_SIZE(i) ? i[k]
                                          : (int64_t)(s_rand() >> (k % 64)) *
                                                (k % 2 ? -1 : 1);
        *mpp_ob_fmt_i64(got, v) = '\0';
        snprintf(want, sizeof(want), "%" PRId64, v);
        ASSERT_STREQ(got, want);
    }

    /* Several MB of mixed items, some larger than half the buffer, must
     * come out exactly as stdio writes them. */
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = open_memstream(&a, &na), *fb = open_memstream(&b, &nb);
    ASSERT(fa != NULL && fb != NULL);
    mpp_obuf_t ob;
    ASSERT_EQ(mpp_ob_init(&ob, fa), 0);
    size_t bigsize = MPP_OB_SIZE / 2 + 17;
    char *big = malloc(bigsize);
    ASSERT(big != NULL);
    for (size_t k = 0; k < bigsize; k++) {
        big[k] = (char)('a' + k % 26);
    }
    for (int k = 0; k < 200000; k++) {
        uint64_t v = s_rand();
        switch (v % 7) {
        case 0:
            mpp_ob_u64(&ob, v >> 7);
            fprintf(fb, "%" PRIu64, v >> 7);
            break;
        case 1:
            mpp_ob_i64(&ob, -(int64_t)(v >> 9));
            fprintf(fb, "%" PRId64, -(int64_t)(v >> 9));
            break;
        case 2:
            mpp_ob_c(&ob, '\n');
            fputc('\n', fb);
            break;
        case 3:
            mpp_ob_str(&ob, "fl=(");
            fputs("fl=(", fb);
            break;
        case 4:
            if (k % 1000 == 4) {
                mpp_ob_put(&ob, big, bigsize);
                fwrite(big, 1, bigsize, fb);
            }
            break;
        case 5: {
            /* A reservation filled in part. */
            char *at = mpp_ob_room(&ob, 64);
            memcpy(at, "calls=", 6);
            ob.p = mpp_ob_fmt_u64(at + 6, v % 1000);
            fprintf(fb, "calls=%" PRIu64, v % 1000);
            break;
        }
        default:
            mpp_ob_put(&ob, big, v % 300);
            fwrite(big, 1, v % 300, fb);
            break;
        }
        if (k == 100000) {
            /* The FILE written directly between a flush and a put. */
            mpp_ob_flush(&ob);
            fputs("<direct>", fa);
            fputs("<direct>", fb);
        }
    }
    mpp_ob_fini(&ob);
    mpp_ob_fini(&ob); /* twice is harmless */
    ASSERT_EQ(fclose(fa), 0);
    ASSERT_EQ(fclose(fb), 0);
    ASSERT(na > 4 * MPP_OB_SIZE);
    ASSERT_EQ(na, nb);
    ASSERT(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    free(big);
}

static int
s_kv_ref_cmp(const void *a, const void *b)
{
    const mpp_kv_t *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->val < y->val ? -1 : x->val > y->val; /* val = first order */
}

/* The radix sort is a stable sort by key, whatever bytes the keys use. */
MPP_TEST(radix_sort)
{
    static const size_t sizes[] = {0, 1, 2, 63, 64, 65, 1000, 100000};
    static const int shifts[] = {0, 8, 20, 40, 56};
    for (size_t si = 0; si < MPP_ARRAY_SIZE(sizes); si++) {
        for (size_t hi = 0; hi < MPP_ARRAY_SIZE(shifts); hi++) {
            size_t n = sizes[si];
            mpp_kv_t *kv = malloc((n + 1) * sizeof(*kv));
            mpp_kv_t *tmp = malloc((n + 1) * sizeof(*tmp));
            mpp_kv_t *ref = malloc((n + 1) * sizeof(*ref));
            ASSERT(kv && tmp && ref);
            for (size_t k = 0; k < n; k++) {
                /* Few distinct keys in some runs, so that stability shows;
                 * some bytes constant in others. */
                uint64_t r = s_rand();
                kv[k].key = hi % 2 ? (r % 37) << shifts[hi]
                                   : (r >> shifts[hi]) | 0x0000ff0000000000ULL;
                kv[k].val = k;
            }
            memcpy(ref, kv, n * sizeof(*kv));
            qsort(ref, n, sizeof(*ref), s_kv_ref_cmp);
            mpp_sort_kv(kv, tmp, n);
            for (size_t k = 0; k < n; k++) {
                ASSERT(kv[k].key == ref[k].key && kv[k].val == ref[k].val);
            }
            free(kv);
            free(tmp);
            free(ref);
        }
    }
    ASSERT_EQ(mpp_bit_width(0), 0);
    ASSERT_EQ(mpp_bit_width(1), 1);
    ASSERT_EQ(mpp_bit_width(5), 3);
    ASSERT_EQ(mpp_bit_width(UINT32_MAX), 32);
    ASSERT_EQ(mpp_bit_width(UINT64_MAX), 64);
}

/*  The first `limit` rows of the report are the first rows of the full
 *  ranking, for every sort, with many ties on the sort keys (decided by
 *  file, line and name). */
MPP_TEST(rows_limit)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *t = s_thread(mpp_session_proc(s, 1, true), 1, "T");
    for (int i = 0; i < 3000; i++) {
        char file[32], name[32];
        snprintf(file, sizeof(file), "/m/f%d.py", (int)(s_rand() % 40));
        snprintf(name, sizeof(name), "g%d", (int)(s_rand() % 50));
        int64_t f = mpp_session_intern(s, file, (int32_t)(s_rand() % 5),
                                       name);
        ASSERT(f >= 0);
        uint64_t nc = s_rand() % 4; /* some never called: no row */
        s_stat(t, (uint32_t)f, nc, nc, (int64_t)(s_rand() % 3),
               (int64_t)(s_rand() % 4));
    }
    mpp_view_t *v = mpp_view_new(s, -1);
    ASSERT(v != NULL);
    for (int sort = 0; sort < 3; sort++) {
        size_t nall, n;
        mpp_rep_row_t *all = mpp_rep_rows(s, v, (mpp_sort_t)sort, 0, &nall);
        ASSERT(all != NULL && nall > 1000);
        static const size_t limits[] = {1, 2, 30, 999, 5000};
        for (size_t li = 0; li < MPP_ARRAY_SIZE(limits); li++) {
            mpp_rep_row_t *top =
                mpp_rep_rows(s, v, (mpp_sort_t)sort, limits[li], &n);
            ASSERT(top != NULL);
            ASSERT_EQ(n, nall);
            size_t shown = limits[li] < nall ? limits[li] : nall;
            for (size_t k = 0; k < shown; k++) {
                ASSERT(top[k].fn == all[k].fn);
                ASSERT(memcmp(&top[k].cost, &all[k].cost,
                              sizeof(top[k].cost)) == 0);
                ASSERT_EQ(top[k].nprocs, all[k].nprocs);
            }
            free(top);
        }
        free(all);
    }
    mpp_view_destroy(&v);
    mpp_session_destroy(&s);
}

/*  callgrind names over many files: file ids in name order whatever order
 *  the functions came in, names shared within a file marked with their
 *  line (three of them, and a name repeated in other files unmarked), in
 *  the merged file and in every part, as the consumers read them. */
MPP_TEST(callgrind_names)
{
    mpp_session_t *s = mpp_session_new();
    mpp_thread_t *th[2] = {s_thread(mpp_session_proc(s, 1, true), 1, "T"),
                           s_thread(mpp_session_proc(s, 2, true), 1, "T")};
    char *exp = malloc(1 << 20);
    ASSERT(exp != NULL);
    size_t len = (size_t)snprintf(exp, 64, "{\"pids\": [1, 2], "
                                           "\"functions\": [");
    for (int i = 0; i < 1500; i++) {
        char file[32], name[32];
        int fileno = (int)((i * 7919) % 700); /* files interleaved */
        snprintf(file, sizeof(file), "/app/z%03d.py", fileno);
        /* In every file a function "run" at up to three lines; others
         * unique in their file. */
        int line = i % 3 == 0 ? 10 + i % 9 : 100 + i;
        snprintf(name, sizeof(name), i % 3 == 0 ? "run" : "f%d", i);
        int64_t before = (int64_t)s->nfuncs;
        int64_t f = mpp_session_intern(s, file, line, name);
        ASSERT(f >= 0);
        if (f < before) {
            continue; /* the same function again */
        }
        s_stat(th[i % 2], (uint32_t)f, 1, 1, 1000 + i, 1000 + i);
        len += (size_t)snprintf(exp + len, 256,
                                "%s[\"%s\", %d, \"%s\", 1, 1, %d, %d, [], "
                                "false]",
                                f ? ", " : "", file, line, name, 1000 + i,
                                1000 + i);
    }
    snprintf(exp + len, 8, "]}");
    s_write_text(s_path("names.exp"), exp);
    free(exp);
    ASSERT_EQ(s_write(S_CALLGRIND, s, NULL, s_path("names.cg")), 0);
    s_check("callgrind", s_path("names.cg"), s_path("names.exp"));
    ASSERT_EQ(s_write(S_PARTS, s, NULL, s_path("names.parts")), 0);
    s_check("parts", s_path("names.parts"), s_path("names.exp"));
    size_t n;
    const char *cg = s_slurp(s_path("names.cg"), &n);
    ASSERT(n < 65535); /* all of it read */
    ASSERT(strstr(cg, "fl=(1) /app/z000.py\n") != NULL);
    ASSERT(strstr(cg, "fl=(700) /app/z699.py\n") != NULL);
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    s_tmpdir();
    MPP_RUN(marshal_bytes);
    MPP_RUN(marshal_refs);
    MPP_RUN(pstats_empty);
    MPP_RUN(pstats_consumer);
    MPP_RUN(callgrind_consumer);
    MPP_RUN(json_report);
    MPP_RUN(escaping);
    MPP_RUN(text_report);
    MPP_RUN(sites);
    MPP_RUN(find_proc);
    MPP_RUN(obuf);
    MPP_RUN(radix_sort);
    MPP_RUN(rows_limit);
    MPP_RUN(callgrind_names);
    int rc = mpp_test_done(argc, argv);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
    if (getenv("MPPROF_KEEP") == NULL && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s_dir);
    }
    return rc;
}
