/*  Tests of the session file: a lossless round trip of a hand-built
 *  session, and the reader's answers to cut, corrupted and foreign files. */
#include "mpp_output.h"
#include "mpp_test.h"

#include <errno.h>
#include <msgpack.h>
#include <unistd.h>

#define MAGIC_LEN (sizeof(MPP_SESSFILE_MAGIC) - 1)

/* ---- building a session by hand ----------------------------------------- */

static char *
s_dup(const char *s)
{
    char *d = strdup(s);
    ASSERT(d != NULL);
    return d;
}

static char **
s_strv(const char *const *v, size_t n)
{
    char **a = calloc(n ? n : 1, sizeof(*a));
    ASSERT(a != NULL);
    for (size_t i = 0; i < n; i++) {
        a[i] = s_dup(v[i]);
    }
    return a;
}

static mpp_cost_t
s_cost(uint64_t n, int64_t t)
{
    mpp_cost_t c = {n, n > 0 ? n - 1 : 0, t, 2 * t};
    return c;
}

/* Adds a process even when its pid is taken, as pid reuse requires. */
static mpp_proc_t *
s_add_proc(mpp_session_t *s, int64_t pid)
{
    if (mpp_session_proc_index(s, pid) < 0) {
        mpp_proc_t *p = mpp_session_proc(s, pid, true);
        ASSERT(p != NULL);
        return p;
    }
    ASSERT_EQ(mpp_grow((void **)&s->procs, &s->capprocs, s->nprocs + 1,
                       sizeof(*s->procs)), 0);
    mpp_proc_t *p = &s->procs[s->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

static mpp_thread_t *
s_thread(mpp_proc_t *p, uint64_t tid, const char *name)
{
    mpp_thread_t *t = mpp_proc_thread(p, tid, true);
    ASSERT(t != NULL);
    t->name = name ? s_dup(name) : NULL;
    return t;
}

static void
s_span(mpp_thread_t *t, uint32_t cat, uint32_t func, int64_t start,
       int64_t dur, uint64_t bytes)
{
    mpp_span_t sp = {cat, func, start, dur, bytes};
    ASSERT_EQ(mpp_thread_add_span(t, &sp), 0);
}

static mpp_session_t *
s_build(void)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    static const char *const cmd[] = {"script_mp.py", "--workers", "4",
                                      "\xc3\xa9"};
    ASSERT_EQ(mpp_session_set_command(s, (char *const *)cmd, 4), 0);
    s->python = s_dup("3.11.7");
    s->start_ns = INT64_C(1700000000123456789);
    s->wall_ns = 3200000000;
    s->exit_status = 130;
    s->integrity = (mpp_integrity_t){120, 3, 2, 1, UINT64_MAX};

    int64_t f0 = mpp_session_intern(s, "/app/script_mp.py", 10, "main");
    int64_t f1 = mpp_session_intern(s, "/app/script_mp.py", 20, "work");
    int64_t f2 = mpp_session_intern(s, "~", 0, "<built-in method sleep>");
    int64_t f3 = mpp_session_intern(s, "", INT32_MIN, "");
    ASSERT(f0 == 0 && f1 == 1 && f2 == 2 && f3 == 3);

    /* The parent. */
    mpp_proc_t *p = s_add_proc(s, 100);
    static const char *const argv[] = {"script_mp.py", "--workers", "4"};
    p->ppid = 99;
    p->name = s_dup("MainProcess");
    p->start_method = s_dup("main");
    p->python = s_dup("3.11.7");
    p->argv = s_strv(argv, 3);
    p->argc = 3;
    p->start_ns = INT64_C(1700000000123456789);
    p->wall_ns = 3100000000;
    p->cpu_ns = 1100000000;
    p->dropped = 5;
    p->mem_bytes = 1u << 30;
    p->messages = 33;
    p->next_seq = 33;
    p->hello = true;
    p->exit_kind = MPP_EXIT_OK;
    p->exit_code = 0;
    mpp_thread_t *t = s_thread(p, 140000000000001, "MainThread");
    mpp_cost_t c = s_cost(1, 3000000000);
    ASSERT_EQ(mpp_thread_set_stat(t, 0, &c), 0);
    c = s_cost(1000, 900000);
    ASSERT_EQ(mpp_thread_set_stat(t, 1, &c), 0);
    ASSERT_EQ(mpp_thread_set_edge(t, 0, 1, &c), 0);
    c = s_cost(UINT64_MAX, INT64_MIN / 2);
    ASSERT_EQ(mpp_thread_set_edge(t, 1, 1, &c), 0);
    for (int k = 0; k < MPP_CAT_COUNT; k++) {
        t->cat[k] = (mpp_catval_t){1000u * (k + 1), (uint64_t)k,
                                   UINT64_MAX - (uint64_t)k};
    }
    s_span(t, MPP_CAT_PICKLE, 1, INT64_C(1700000000200000000), 1500, 4096);
    s_span(t, MPP_CAT_LOCK_WAIT, UINT32_MAX, -1, INT64_MAX, 0);
    t = s_thread(p, 140000000000002, NULL); /* e.g. the result handler */
    c = s_cost(7, 70);
    ASSERT_EQ(mpp_thread_set_stat(t, 2, &c), 0);
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){123456789, 3, 0};

    /* A worker: the same function as in the parent, the same tid. */
    p = s_add_proc(s, 200);
    p->ppid = 100;
    p->name = s_dup("ForkPoolWorker-1");
    p->start_method = s_dup("fork");
    p->argv = s_strv(NULL, 0); /* known to be empty, not unknown */
    p->hello = true;
    p->exit_kind = MPP_EXIT_SIGNAL;
    p->exit_code = 15;
    t = s_thread(p, 140000000000001, "MainThread");
    c = s_cost(250, 500000);
    ASSERT_EQ(mpp_thread_set_stat(t, 1, &c), 0);
    c = s_cost(250, 400000);
    ASSERT_EQ(mpp_thread_set_stat(t, 3, &c), 0);
    ASSERT_EQ(mpp_thread_set_edge(t, 3, 1, &c), 0);
    s_span(t, MPP_CAT_UNPICKLE, 3, 5, 6, 7);
    s_span(t, MPP_CAT_STARTUP, 0, 8, 9, 10);

    /* The pid of the parent, reused by a later, lost process. */
    p = s_add_proc(s, 100);
    p->ppid = -1;
    p->exit_kind = MPP_EXIT_LOST;
    p->exit_code = -1;
    p->messages = 1;
    p->next_seq = UINT64_MAX;
    t = s_thread(p, 0, "");

    /* A process that never said anything. */
    p = s_add_proc(s, INT64_MIN);
    ASSERT_EQ(s->nprocs, 4);
    return s;
}

/* ---- deep comparison ---------------------------------------------------- */

static void
s_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        ASSERT(a == NULL && b == NULL);
    }
    else {
        ASSERT_STREQ(a, b);
    }
}

static void
s_same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
    ASSERT((a == NULL) == (b == NULL));
    ASSERT_EQ(na, nb);
    for (size_t i = 0; i < na; i++) {
        ASSERT_STREQ(a[i], b[i]);
    }
}

static void
s_same_cost(const mpp_cost_t *a, const mpp_cost_t *b)
{
    ASSERT(a->ncalls == b->ncalls && a->pcalls == b->pcalls);
    ASSERT(a->tt_ns == b->tt_ns && a->ct_ns == b->ct_ns);
}

static void
s_same_thread(const mpp_thread_t *a, const mpp_thread_t *b)
{
    ASSERT(a->tid == b->tid);
    s_same_str(a->name, b->name);
    for (int k = 0; k < MPP_CAT_COUNT; k++) {
        ASSERT(a->cat[k].ns == b->cat[k].ns);
        ASSERT(a->cat[k].count == b->cat[k].count);
        ASSERT(a->cat[k].bytes == b->cat[k].bytes);
    }
    ASSERT_EQ(a->nstats, b->nstats);
    for (size_t i = 0; i < a->nstats; i++) {
        ASSERT_EQ(a->stats[i].func, b->stats[i].func);
        s_same_cost(&a->stats[i].cost, &b->stats[i].cost);
    }
    ASSERT_EQ(a->nedges, b->nedges);
    for (size_t i = 0; i < a->nedges; i++) {
        ASSERT_EQ(a->edges[i].caller, b->edges[i].caller);
        ASSERT_EQ(a->edges[i].callee, b->edges[i].callee);
        s_same_cost(&a->edges[i].cost, &b->edges[i].cost);
    }
    ASSERT_EQ(a->nspans, b->nspans);
    for (size_t i = 0; i < a->nspans; i++) {
        const mpp_span_t *x = &a->spans[i], *y = &b->spans[i];
        ASSERT(x->cat == y->cat && x->func == y->func);
        ASSERT(x->start_ns == y->start_ns && x->dur_ns == y->dur_ns);
        ASSERT(x->bytes == y->bytes);
    }
    /* The private indexes work on the copy: a set replaces, not adds. */
    if (b->nstats > 0) {
        mpp_thread_t *w = (mpp_thread_t *)b;
        mpp_cost_t c = b->stats[0].cost;
        ASSERT_EQ(mpp_thread_set_stat(w, b->stats[0].func, &c), 0);
        ASSERT_EQ(w->nstats, a->nstats);
    }
}

static void
s_same_proc(const mpp_proc_t *a, const mpp_proc_t *b)
{
    ASSERT(a->pid == b->pid && a->ppid == b->ppid);
    s_same_str(a->name, b->name);
    s_same_str(a->start_method, b->start_method);
    s_same_str(a->python, b->python);
    s_same_strv(a->argv, a->argc, b->argv, b->argc);
    ASSERT(a->start_ns == b->start_ns);
    ASSERT(a->wall_ns == b->wall_ns && a->cpu_ns == b->cpu_ns);
    ASSERT(a->dropped == b->dropped && a->mem_bytes == b->mem_bytes);
    ASSERT(a->messages == b->messages && a->next_seq == b->next_seq);
    ASSERT(a->hello == b->hello);
    ASSERT(a->exit_kind == b->exit_kind && a->exit_code == b->exit_code);
    ASSERT_EQ(a->nthreads, b->nthreads);
    for (size_t i = 0; i < a->nthreads; i++) {
        s_same_thread(&a->threads[i], &b->threads[i]);
    }
}

static void
s_same_session(const mpp_session_t *a, const mpp_session_t *b)
{
    s_same_str(a->mpprof_version, b->mpprof_version);
    s_same_str(a->python, b->python);
    s_same_strv(a->command, a->ncommand, b->command, b->ncommand);
    ASSERT(a->start_ns == b->start_ns && a->wall_ns == b->wall_ns);
    ASSERT(a->exit_status == b->exit_status);
    ASSERT(a->integrity.messages == b->integrity.messages);
    ASSERT(a->integrity.rejected == b->integrity.rejected);
    ASSERT(a->integrity.seq_gaps == b->integrity.seq_gaps);
    ASSERT(a->integrity.processes_lost == b->integrity.processes_lost);
    ASSERT(a->integrity.dropped_events == b->integrity.dropped_events);
    ASSERT_EQ(a->nfuncs, b->nfuncs);
    for (size_t i = 0; i < a->nfuncs; i++) {
        ASSERT_STREQ(a->funcs[i].file, b->funcs[i].file);
        ASSERT_STREQ(a->funcs[i].name, b->funcs[i].name);
        ASSERT_EQ(a->funcs[i].line, b->funcs[i].line);
        /* The copy's intern index knows every function. */
        ASSERT_EQ(mpp_session_intern((mpp_session_t *)b, a->funcs[i].file,
                                     a->funcs[i].line, a->funcs[i].name),
                  (int64_t)i);
    }
    ASSERT_EQ(a->nprocs, b->nprocs);
    for (size_t i = 0; i < a->nprocs; i++) {
        s_same_proc(&a->procs[i], &b->procs[i]);
    }
}

/* ---- helpers ----------------------------------------------------------- */

static char *
s_write(const mpp_session_t *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_sessfile_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);
    return buf;
}

/* Parses exactly len bytes from a heap copy, so ASan sees any overread. */
static int
s_parse(const void *data, size_t len, mpp_session_t **out)
{
    char *copy = malloc(len ? len : 1);
    ASSERT(copy != NULL);
    memcpy(copy, data, len);
    int rc = mpp_sessfile_parse(copy, len, out);
    free(copy);
    if (rc != 0) {
        ASSERT(*out == NULL);
    }
    else {
        ASSERT(*out != NULL);
    }
    return rc;
}

/* A hand-made file: magic and version, then whatever the test packs. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_raw_t;

static void
s_raw_init(s_raw_t *r, uint32_t version)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&r->sb, MPP_SESSFILE_MAGIC, MAGIC_LEN);
    msgpack_pack_uint32(&r->pk, version);
}

static void
s_key(s_raw_t *r, const char *k)
{
    msgpack_pack_str_with_body(&r->pk, k, strlen(k));
}

static int
s_raw_parse(s_raw_t *r, mpp_session_t **out)
{
    int rc = s_parse(r->sb.data, r->sb.size, out);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

static int
s_raw_rc(s_raw_t *r)
{
    mpp_session_t *s;
    int rc = s_raw_parse(r, &s);
    mpp_session_destroy(&s);
    return rc;
}

/* ---- tests ------------------------------------------------------------- */

MPP_TEST(roundtrip)
{
    mpp_session_t *s = s_build(), *t = NULL;
    size_t len;
    char *buf = s_write(s, &len);
    ASSERT(len > MAGIC_LEN && memcmp(buf, MPP_SESSFILE_MAGIC, MAGIC_LEN) == 0);
    ASSERT_EQ(s_parse(buf, len, &t), 0);
    s_same_session(s, t);
    /* Pid reuse: both incarnations of pid 100 are kept, in order. */
    ASSERT_EQ(t->procs[0].pid, 100);
    ASSERT_EQ(t->procs[2].pid, 100);
    ASSERT_EQ(t->procs[2].exit_kind, MPP_EXIT_LOST);
    /* Writing the copy gives the same bytes. */
    size_t len2;
    char *buf2 = s_write(t, &len2);
    ASSERT_EQ(len2, len);
    ASSERT(memcmp(buf, buf2, len) == 0);
    free(buf2);
    free(buf);
    mpp_session_destroy(&t);
    mpp_session_destroy(&s);
    ASSERT(s == NULL && t == NULL);
}

MPP_TEST(roundtrip_empty)
{
    mpp_session_t *s = mpp_session_new(), *t = NULL;
    ASSERT(s != NULL);
    free(s->mpprof_version);
    s->mpprof_version = NULL; /* NULL survives as NULL */
    size_t len;
    char *buf = s_write(s, &len);
    ASSERT_EQ(s_parse(buf, len, &t), 0);
    s_same_session(s, t);
    ASSERT(t->command == NULL && t->mpprof_version == NULL);
    free(buf);
    mpp_session_destroy(&t);
    mpp_session_destroy(&s);
}

MPP_TEST(every_truncation)
{
    mpp_session_t *s = s_build(), *t;
    size_t len;
    char *buf = s_write(s, &len);
    for (size_t n = 0; n < len; n++) {
        int rc = s_parse(buf, n, &t);
        if (rc != MPP_ETRUNC && rc != MPP_ECORRUPT) {
            MPP_FAIL("cut at %zu of %zu: %s", n, len, mpp_err_name(rc));
        }
    }
    /* A cut file always reads as cut: every byte before the cut is
     * right, so the reader only ever runs out. */
    for (size_t n = 0; n < len; n++) {
        ASSERT_EQ(s_parse(buf, n, &t), MPP_ETRUNC);
    }
    free(buf);
    mpp_session_destroy(&s);
}

MPP_TEST(corruption_never_crashes)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90,
                                     0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                     0xc3, 0xc4, 0xc7, 0xcb, 0xcc, 0xcf,
                                     0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc,
                                     0xdd, 0xde, 0xdf, 0xe0, 0xff};
    mpp_session_t *s = s_build(), *t;
    size_t len, ok = 0, bad = 0;
    char *buf = s_write(s, &len);
    char *copy = malloc(len);
    ASSERT(copy != NULL);
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v <= MPP_ARRAY_SIZE(values); v++) {
            memcpy(copy, buf, len);
            copy[i] = v < MPP_ARRAY_SIZE(values) ? (char)values[v]
                                                : (char)(buf[i] ^ 0x01);
            int rc = s_parse(copy, len, &t);
            if (rc == 0) {
                /* Whatever was accepted is a consistent session: it
                 * writes and reads back. */
                size_t n2;
                char *b2 = s_write(t, &n2);
                mpp_session_t *u;
                ASSERT_EQ(s_parse(b2, n2, &u), 0);
                s_same_session(t, u);
                mpp_session_destroy(&u);
                free(b2);
                mpp_session_destroy(&t);
                ok++;
            }
            else {
                ASSERT(rc == MPP_ETRUNC || rc == MPP_ECORRUPT ||
                       rc == MPP_EFORMAT || rc == MPP_EVERSION);
                bad++;
            }
        }
    }
    fprintf(stderr, "   %zu corruptions read, %zu rejected\n", ok, bad);
    free(copy);
    free(buf);
    mpp_session_destroy(&s);
}

MPP_TEST(foreign_files)
{
    mpp_session_t *t;
    ASSERT_EQ(s_parse("", 0, &t), MPP_ETRUNC);
    ASSERT_EQ(s_parse("MPPROF", 6, &t), MPP_ETRUNC);
    ASSERT_EQ(s_parse("MPPROF\0", 7, &t), MPP_ETRUNC);
    ASSERT_EQ(s_parse(MPP_SESSFILE_MAGIC, MAGIC_LEN, &t), MPP_ETRUNC);
    ASSERT_EQ(s_parse("XYZ", 3, &t), MPP_EFORMAT);
    ASSERT_EQ(s_parse("MPPROF\r\n\x01\x80", 10, &t), MPP_EFORMAT);
    ASSERT_EQ(s_parse("{\"json\": true}", 14, &t), MPP_EFORMAT);
    ASSERT_EQ(mpp_sessfile_parse(NULL, 0, &t), MPP_ETRUNC);
    ASSERT(t == NULL);

    s_raw_t r;
    s_raw_init(&r, 99);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_rc(&r), MPP_EVERSION);
    s_raw_init(&r, 0);
    ASSERT_EQ(s_raw_rc(&r), MPP_EVERSION);
    msgpack_sbuffer_init(&r.sb);
    msgpack_sbuffer_write(&r.sb, MPP_SESSFILE_MAGIC "\xa1" "1", MAGIC_LEN + 2);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);

    /* The smallest valid file, then with a byte after the document. */
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 0);
    ASSERT_EQ(s_raw_rc(&r), 0);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 0);
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_array(&r.pk, 0);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
}

/* Packs {"funcs": [[file, line, name] * n]} with the given functions. */
static void
s_pack_funcs(s_raw_t *r, int n, const char *const *names)
{
    s_key(r, "funcs");
    msgpack_pack_array(&r->pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        msgpack_pack_array(&r->pk, 3);
        s_key(r, "f.py");
        msgpack_pack_int32(&r->pk, 1);
        s_key(r, names[i]);
    }
}

/* A file with one process with one thread whose stats name `func`. */
static int
s_with_stat(uint32_t func, int dup_tid, int dup_stat)
{
    static const char *const names[] = {"a", "b"};
    s_raw_t r;
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 2);
    s_pack_funcs(&r, 2, names);
    s_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    s_key(&r, "pid");
    msgpack_pack_int64(&r.pk, 1);
    s_key(&r, "threads");
    msgpack_pack_array(&r.pk, dup_tid ? 2 : 1);
    for (int i = 0; i < (dup_tid ? 2 : 1); i++) {
        msgpack_pack_map(&r.pk, 2);
        s_key(&r, "tid");
        msgpack_pack_uint64(&r.pk, 5);
        s_key(&r, "stats");
        msgpack_pack_array(&r.pk, dup_stat ? 2 : 1);
        for (int j = 0; j < (dup_stat ? 2 : 1); j++) {
            msgpack_pack_array(&r.pk, 5);
            msgpack_pack_uint32(&r.pk, func);
            for (int k = 0; k < 4; k++) {
                msgpack_pack_uint32(&r.pk, 1);
            }
        }
    }
    return s_raw_rc(&r);
}

MPP_TEST(validation)
{
    ASSERT_EQ(s_with_stat(1, 0, 0), 0);
    ASSERT_EQ(s_with_stat(2, 0, 0), MPP_ECORRUPT); /* no such function */
    ASSERT_EQ(s_with_stat(UINT32_MAX, 0, 0), MPP_ECORRUPT);
    ASSERT_EQ(s_with_stat(1, 1, 0), MPP_ECORRUPT); /* same tid twice */
    ASSERT_EQ(s_with_stat(1, 0, 1), MPP_ECORRUPT); /* same stat twice */

    /* The same function twice in the table. */
    static const char *const twice[] = {"a", "a"};
    s_raw_t r;
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_pack_funcs(&r, 2, twice);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);

    /* A repeated key. */
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 2);
    s_key(&r, "wall_ns");
    msgpack_pack_int64(&r.pk, 1);
    s_key(&r, "wall_ns");
    msgpack_pack_int64(&r.pk, 2);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);

    /* A process whose first key is not its pid. */
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    s_key(&r, "ppid");
    msgpack_pack_int64(&r.pk, 1);
    s_key(&r, "pid");
    msgpack_pack_int64(&r.pk, 2);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);

    /* Wrong types and ranges. */
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "exit_status");
    msgpack_pack_int64(&r.pk, (int64_t)INT32_MAX + 1);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "integrity");
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "rejected");
    msgpack_pack_int64(&r.pk, -1);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "python");
    msgpack_pack_str_with_body(&r.pk, "3\0", 2);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "command");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_int32(&r.pk, 1);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "start_ns");
    msgpack_pack_double(&r.pk, 1.5);
    ASSERT_EQ(s_raw_rc(&r), MPP_ECORRUPT);
}

/* Later writers may add keys and columns; this reader skips them. */
MPP_TEST(extensions_are_skipped)
{
    static const char *const names[] = {"a"};
    s_raw_t r;
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 4);
    s_key(&r, "future");
    msgpack_pack_map(&r.pk, 2);
    msgpack_pack_array(&r.pk, 3);
    msgpack_pack_double(&r.pk, 1.0);
    msgpack_pack_bin_with_body(&r.pk, "\0\1\2", 3);
    msgpack_pack_ext_with_body(&r.pk, "\5", 1, 7);
    msgpack_pack_nil(&r.pk);
    msgpack_pack_true(&r.pk);
    msgpack_pack_float(&r.pk, 2.0f);
    s_pack_funcs(&r, 1, names);
    s_key(&r, "python");
    s_key(&r, "3.13.0");
    s_key(&r, "procs");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 3);
    s_key(&r, "pid");
    msgpack_pack_int64(&r.pk, -42);
    s_key(&r, "cgroup");
    s_key(&r, "/user.slice");
    s_key(&r, "threads");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_map(&r.pk, 2);
    s_key(&r, "tid");
    msgpack_pack_uint64(&r.pk, 9);
    s_key(&r, "stats");
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_array(&r.pk, 7); /* two extra columns */
    msgpack_pack_uint32(&r.pk, 0);
    msgpack_pack_uint32(&r.pk, 3);
    msgpack_pack_uint32(&r.pk, 2);
    msgpack_pack_int64(&r.pk, -10);
    msgpack_pack_int64(&r.pk, 10);
    msgpack_pack_array(&r.pk, 1);
    msgpack_pack_nil(&r.pk);
    s_key(&r, "extra");
    mpp_session_t *s;
    ASSERT_EQ(s_raw_parse(&r, &s), 0);
    ASSERT_STREQ(s->python, "3.13.0");
    ASSERT_EQ(s->nprocs, 1);
    ASSERT_EQ(s->procs[0].pid, -42);
    ASSERT(s->procs[0].name == NULL && s->procs[0].argv == NULL);
    ASSERT_EQ(s->procs[0].nthreads, 1);
    const mpp_thread_t *t = &s->procs[0].threads[0];
    ASSERT_EQ(t->tid, 9);
    ASSERT_EQ(t->nstats, 1);
    ASSERT_EQ(t->stats[0].cost.ncalls, 3);
    ASSERT_EQ(t->stats[0].cost.tt_ns, -10);
    mpp_session_destroy(&s);
}

MPP_TEST(huge_counts)
{
    static const char *const bombs[] = {
        "\xdf\xff\xff\xff\xff",
        "\xdd\xff\xff\xff\xff",
        "\x81\xa5" "funcs" "\xdd\xff\xff\xff\xff\x90",
        "\x81\xa6" "future" "\xdf\xff\xff\xff\xff\x90",
        "\x81\xa6" "python" "\xdb\xff\xff\xff\xff" "abc",
        "\x81\xa6" "future" "\xc9\xff\xff\xff\xff\x01" "abc",
    };
    static const size_t lens[] = {5, 5, 13, 14, 16, 17};
    /* The top level must be a map, so an array there is just wrong. */
    static const int want[] = {MPP_ETRUNC, MPP_ECORRUPT, MPP_ETRUNC,
                               MPP_ETRUNC, MPP_ETRUNC, MPP_ETRUNC};
    for (size_t i = 0; i < MPP_ARRAY_SIZE(bombs); i++) {
        s_raw_t r;
        s_raw_init(&r, MPP_SESSFILE_VERSION);
        msgpack_sbuffer_write(&r.sb, bombs[i], lens[i]);
        ASSERT_EQ(s_raw_rc(&r), want[i]);
    }
    /* Deep nesting in a skipped value costs no stack. */
    s_raw_t r;
    s_raw_init(&r, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&r.pk, 1);
    s_key(&r, "future");
    for (int i = 0; i < 200000; i++) {
        msgpack_pack_array(&r.pk, 1);
    }
    msgpack_pack_nil(&r.pk);
    ASSERT_EQ(s_raw_rc(&r), 0);
}

MPP_TEST(load)
{
    char dir[] = "/tmp/mpp_test_sessfile_XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char file[sizeof(dir) + 32];
    snprintf(file, sizeof(file), "%s/session.mpprof", dir);
    mpp_session_t *s = s_build(), *t;

    ASSERT_EQ(mpp_sessfile_load(dir, &t), -ENOENT);
    ASSERT(t == NULL);
    FILE *f = fopen(file, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_sessfile_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);

    ASSERT_EQ(mpp_sessfile_load(dir, &t), 0);
    s_same_session(s, t);
    mpp_session_destroy(&t);
    ASSERT_EQ(mpp_sessfile_load(file, &t), 0);
    s_same_session(s, t);
    mpp_session_destroy(&t);

    ASSERT_EQ(mpp_sessfile_load("/nonexistent/mpprof/x", &t), -ENOENT);
    ASSERT_EQ(mpp_sessfile_load("/dev/null", &t), MPP_EFORMAT);
    f = fopen(file, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(mpp_sessfile_load(file, &t), MPP_ETRUNC);

    ASSERT_EQ(unlink(file), 0);
    ASSERT_EQ(rmdir(dir), 0);
    mpp_session_destroy(&s);
}

/* ---- views ------------------------------------------------------------ */

static uint64_t s_rng = 88172645463325252ULL;

static uint64_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/*  A view, against sums done the slow way: every edge of the selected
 *  processes looked up in a list, costs summed per (caller, callee), the
 *  list ordered by (callee, caller); per function summed costs and the
 *  processes that called it.  Threads and processes share edges, a
 *  process has the same pid as another, and ids go up to 2^20. */
MPP_TEST(view_sums)
{
    mpp_session_t *s = mpp_session_new();
    ASSERT(s != NULL);
    for (int i = 0; i < 400; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", i);
        ASSERT_EQ(mpp_session_intern(s, "/a.py", i, name), i);
    }
    for (int p = 0; p < 5; p++) {
        mpp_proc_t *proc = mpp_session_add_proc(s, p == 4 ? 100 : 100 + p);
        ASSERT(proc != NULL);
        for (uint64_t th = 0; th < 3; th++) {
            mpp_thread_t *t = mpp_proc_thread(proc, th, true);
            ASSERT(t != NULL);
            for (int k = 0; k < 300; k++) {
                uint32_t f = (uint32_t)(s_rand() % 400);
                mpp_cost_t c = s_cost(s_rand() % 3, (int64_t)(s_rand() % 99));
                ASSERT_EQ(mpp_thread_set_stat(t, f, &c), 0);
                uint32_t a = (uint32_t)(s_rand() % 60), b;
                b = k % 5 == 0 ? (uint32_t)(s_rand() % (1u << 20))
                               : (uint32_t)(s_rand() % 60);
                c = s_cost(1 + s_rand() % 5, (int64_t)(s_rand() % 1000) - 10);
                ASSERT_EQ(mpp_thread_set_edge(t, a, b, &c), 0);
            }
            t->cat[th % MPP_CAT_COUNT].ns += 7 * (th + 1);
        }
    }
    for (ssize_t sel = -1; sel < (ssize_t)s->nprocs; sel++) {
        mpp_view_t *v = mpp_view_new(s, sel);
        ASSERT(v != NULL);
        /* Expected edges, found by linear search. */
        mpp_edge_t *want = calloc(5 * 3 * 300, sizeof(*want));
        size_t nwant = 0;
        mpp_cost_t *fsum = calloc(400, sizeof(*fsum));
        uint32_t *fprocs = calloc(400, sizeof(*fprocs));
        uint64_t calls = 0, cat0 = 0;
        ASSERT(want && fsum && fprocs);
        for (size_t p = 0; p < s->nprocs; p++) {
            if (sel >= 0 && (size_t)sel != p) {
                continue;
            }
            uint8_t seen[400] = {0};
            for (size_t th = 0; th < s->procs[p].nthreads; th++) {
                const mpp_thread_t *t = &s->procs[p].threads[th];
                cat0 += t->cat[0].ns;
                for (size_t k = 0; k < t->nstats; k++) {
                    uint32_t f = t->stats[k].func;
                    mpp_cost_add(&fsum[f], &t->stats[k].cost);
                    calls += t->stats[k].cost.ncalls;
                    if (t->stats[k].cost.ncalls > 0 && !seen[f]) {
                        seen[f] = 1;
                        fprocs[f]++;
                    }
                }
                for (size_t k = 0; k < t->nedges; k++) {
                    const mpp_edge_t *e = &t->edges[k];
                    size_t j = 0;
                    while (j < nwant && (want[j].caller != e->caller ||
                                         want[j].callee != e->callee)) {
                        j++;
                    }
                    if (j == nwant) {
                        want[nwant++] = *e;
                    }
                    else {
                        mpp_cost_add(&want[j].cost, &e->cost);
                    }
                }
            }
        }
        /* Insertion sort by (callee, caller). */
        for (size_t i = 1; i < nwant; i++) {
            mpp_edge_t x = want[i];
            size_t j = i;
            while (j > 0 && (want[j - 1].callee > x.callee ||
                             (want[j - 1].callee == x.callee &&
                              want[j - 1].caller > x.caller))) {
                want[j] = want[j - 1];
                j--;
            }
            want[j] = x;
        }
        ASSERT_EQ(v->nedges, nwant);
        ASSERT(memcmp(v->edges, want, nwant * sizeof(*want)) == 0);
        ASSERT_EQ(v->nfuncs, 400);
        ASSERT(memcmp(v->func, fsum, 400 * sizeof(*fsum)) == 0);
        ASSERT(memcmp(v->nprocs, fprocs, 400 * sizeof(*fprocs)) == 0);
        ASSERT_EQ(v->total_calls, calls);
        ASSERT_EQ(v->cat[0].ns, cat0);
        free(want);
        free(fsum);
        free(fprocs);
        mpp_view_destroy(&v);
    }
    mpp_session_destroy(&s);
}

int
main(int argc, char **argv)
{
    MPP_RUN(view_sums);
    MPP_RUN(roundtrip);
    MPP_RUN(roundtrip_empty);
    MPP_RUN(every_truncation);
    MPP_RUN(corruption_never_crashes);
    MPP_RUN(foreign_files);
    MPP_RUN(validation);
    MPP_RUN(extensions_are_skipped);
    MPP_RUN(huge_counts);
    MPP_RUN(load);
    return mpp_test_done(argc, argv);
}
