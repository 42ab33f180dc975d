/*  The helpers of writers_fixture.h. */
#include "writers_fixture.h"

#include <sys/wait.h>
#include <unistd.h>

uint32_t
mpp_wf_fn(mpp_session_t *s, const char *file, int32_t line, const char *name)
{
    int64_t f = mpp_session_intern(s, file, line, name);
    ASSERT(f >= 0);
    return (uint32_t)f;
}

void
mpp_wf_stat(mpp_thread_t *t, uint32_t f, uint64_t nc, uint64_t pc, int64_t tt,
       int64_t ct)
{
    mpp_cost_t c = {nc, pc, tt, ct};
    ASSERT_EQ(mpp_thread_set_stat(t, f, &c), 0);
}

void
mpp_wf_edge(mpp_thread_t *t, uint32_t a, uint32_t b, uint64_t nc, uint64_t pc,
       int64_t tt, int64_t ct)
{
    mpp_cost_t c = {nc, pc, tt, ct};
    ASSERT_EQ(mpp_thread_set_edge(t, a, b, &c), 0);
}

mpp_proc_t *
mpp_wf_proc(mpp_session_t *s, int64_t pid, int64_t ppid, const char *name,
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

mpp_thread_t *
mpp_wf_thread(mpp_proc_t *p, uint64_t tid, const char *name)
{
    mpp_thread_t *t = mpp_proc_thread(p, tid, true);
    ASSERT(t != NULL);
    t->name = strdup(name);
    return t;
}

/*  The main fixture (see writers_fixture.h).  The numbers add up the way
 *  cProfile's do (cumtime = tottime + the callees' edge cumtimes). */
mpp_session_t *
mpp_wf_build(void)
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

    uint32_t mod = mpp_wf_fn(s, "/src/app/main.py", 1, "<module>");
    uint32_t fact = mpp_wf_fn(s, "/src/app/main.py", 10, "fact");
    uint32_t acq = mpp_wf_fn(s, "~", 0,
                        "<method 'acquire' of '_thread.lock' objects>");
    uint32_t work = mpp_wf_fn(s, "/src/app/work.py", 5, "work");
    uint32_t init1 = mpp_wf_fn(s, "/src/app/work.py", 20, "__init__");
    uint32_t init2 = mpp_wf_fn(s, "/src/app/work.py", 40, "__init__");
    uint32_t boot =
        mpp_wf_fn(s, "/usr/lib/python3.11/multiprocessing/process.py", 108,
                  "_bootstrap");
    uint32_t len = mpp_wf_fn(s, "~", 0, "<built-in method builtins.len>");
    uint32_t bad = mpp_wf_fn(s, "/src/app/main.py", 50, "bad\xff\xfename");
    uint32_t idle = mpp_wf_fn(s, "/src/app/main.py", 60, "idle");

    mpp_proc_t *a = mpp_wf_proc(s, 100, 1, "MainProcess", "main", 2000 * MS,
                           1500 * MS, MPP_EXIT_OK, 0);
    mpp_thread_t *t = mpp_wf_thread(a, 1, "MainThread");
    mpp_wf_stat(t, mod, 1, 1, 100000007, 1000000021);
    mpp_wf_stat(t, fact, 5, 1, 300 * MS, 500000011);
    mpp_wf_stat(t, acq, 3, 3, 200000003, 200000003);
    mpp_wf_stat(t, work, 2, 2, 150 * MS, 200 * MS);
    mpp_wf_stat(t, init1, 2, 2, 50 * MS, 50 * MS);
    mpp_wf_edge(t, mod, fact, 1, 1, 60 * MS, 500000011);
    mpp_wf_edge(t, fact, fact, 4, 1, 240 * MS, 400 * MS);
    mpp_wf_edge(t, mod, acq, 3, 3, 200000003, 200000003);
    mpp_wf_edge(t, mod, work, 2, 2, 150 * MS, 200 * MS);
    mpp_wf_edge(t, work, init1, 2, 2, 50 * MS, 50 * MS);
    t->cat[MPP_CAT_LOCK_WAIT] = (mpp_catval_t){200000003, 3, 0};
    t = mpp_wf_thread(a, 2, "Thread-1");
    mpp_wf_stat(t, bad, 1, 1, 5 * MS, 30 * MS);
    mpp_wf_stat(t, work, 1, 1, 20 * MS, 25 * MS);
    mpp_wf_stat(t, init1, 1, 1, 5 * MS, 5 * MS);
    mpp_wf_edge(t, bad, work, 1, 1, 20 * MS, 25 * MS);
    mpp_wf_edge(t, work, init1, 1, 1, 5 * MS, 5 * MS);
    t->cat[MPP_CAT_PICKLE] = (mpp_catval_t){15 * MS, 2, 1000};

    mpp_proc_t *b = mpp_wf_proc(s, 101, 100, "ForkPoolWorker-1", "fork",
                           1500 * MS, 1000 * MS, MPP_EXIT_SIGNAL, 9);
    t = mpp_wf_thread(b, 7, "MainThread");
    mpp_wf_stat(t, boot, 1, 1, 100 * MS, 700 * MS);
    mpp_wf_stat(t, work, 3, 3, 300 * MS, 600 * MS);
    mpp_wf_stat(t, init2, 3, 3, 300 * MS, 300 * MS);
    mpp_wf_stat(t, len, 3000000000u, 3000000000u, 1500 * MS, 1500 * MS);
    mpp_wf_stat(t, idle, 0, 0, 0, 0);
    mpp_wf_edge(t, boot, work, 3, 3, 300 * MS, 600 * MS);
    mpp_wf_edge(t, work, init2, 3, 3, 300 * MS, 300 * MS);
    mpp_wf_edge(t, idle, len, 5, 5, 1000, 1000);
    t->cat[MPP_CAT_UNPICKLE] = (mpp_catval_t){40 * MS, 4, 2000};
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){100 * MS, 10, 0};
    t->cat[MPP_CAT_STARTUP] = (mpp_catval_t){50 * MS, 1, 0};

    mpp_wf_proc(s, 102, 100, "ForkPoolWorker-2", "fork", 0, 0, MPP_EXIT_RUNNING,
           0);
    return s;
}

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

void
mpp_wf_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(s_dir, sizeof(s_dir), "%s/mpp-writers-XXXXXX",
             base ? base : "/tmp");
    ASSERT(mkdtemp(s_dir) != NULL);
}

char *
mpp_wf_path(const char *name)
{
    static char paths[8][640];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof(paths[0]), "%s/%s", s_dir, name);
    return p;
}

void
mpp_wf_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
}

/* Runs the checker; paths come from mpp_wf_path, so they need no quoting.
 * `extra` is an optional fourth argument. */
void
mpp_wf_check_x(const char *kind, const char *file, const char *expect,
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

void
mpp_wf_check(const char *kind, const char *file, const char *expect)
{
    mpp_wf_check_x(kind, file, expect, NULL);
}

int
mpp_wf_write(int kind, const mpp_session_t *s, const mpp_report_opts_t *o,
        const char *path)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    mpp_view_t *v = mpp_view_new(s, o ? o->proc : -1);
    ASSERT(v != NULL);
    int rc = kind == MPP_WF_PSTATS      ? mpp_pstats_write(s, v, f)
             : kind == MPP_WF_PSTATS_V2 ? mpp_pstats_write_v2(s, v, f)
             : kind == MPP_WF_CALLGRIND ? mpp_callgrind_write(s, v, f)
             : kind == MPP_WF_PARTS     ? mpp_callgrind_write_parts(s, f)
             : kind == MPP_WF_TEXT      ? mpp_report_text(s, o, f)
                                   : mpp_report_json(s, o, f);
    mpp_view_destroy(&v);
    ASSERT_EQ(fclose(f), 0);
    return rc;
}

char *
mpp_wf_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

void
mpp_wf_check_width(const char *txt)
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

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

uint64_t
mpp_wf_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

int
mpp_wf_done(int rc)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
    if (getenv("MPPROF_KEEP") == NULL && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", s_dir);
    }
    return rc;
}
