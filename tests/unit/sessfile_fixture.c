/*  The helpers of sessfile_fixture.h. */
#include "sessfile_fixture.h"

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

mpp_cost_t
mpp_sf_cost(uint64_t n, int64_t t)
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

mpp_session_t *
mpp_sf_build(void)
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
    s->integrity = (mpp_integrity_t){120, 3, 2, 1, UINT64_MAX, 7};

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
    mpp_cost_t c = mpp_sf_cost(1, 3000000000);
    ASSERT_EQ(mpp_thread_set_stat(t, 0, &c), 0);
    c = mpp_sf_cost(1000, 900000);
    ASSERT_EQ(mpp_thread_set_stat(t, 1, &c), 0);
    ASSERT_EQ(mpp_thread_set_edge(t, 0, 1, &c), 0);
    c = mpp_sf_cost(UINT64_MAX, INT64_MIN / 2);
    ASSERT_EQ(mpp_thread_set_edge(t, 1, 1, &c), 0);
    for (int k = 0; k < MPP_CAT_COUNT; k++) {
        t->cat[k] = (mpp_catval_t){1000u * (k + 1), (uint64_t)k,
                                   UINT64_MAX - (uint64_t)k};
    }
    s_span(t, MPP_CAT_PICKLE, 1, INT64_C(1700000000200000000), 1500, 4096);
    s_span(t, MPP_CAT_LOCK_WAIT, UINT32_MAX, -1, INT64_MAX, 0);
    /* Its CPU time is known; the next thread's is not (an older file). */
    t->has_cpu = true;
    t->cpu_ns = 2900000000;
    t->cpu_cat_ns = 1500;
    t = s_thread(p, 140000000000002, NULL); /* e.g. the result handler */
    c = mpp_sf_cost(7, 70);
    ASSERT_EQ(mpp_thread_set_stat(t, 2, &c), 0);
    t->cat[MPP_CAT_IPC_WAIT] = (mpp_catval_t){123456789, 3, 0};

    /* A worker: the same function as in the parent, the same tid. */
    p = s_add_proc(s, 200);
    p->ppid = 100;
    p->name = s_dup("ForkPoolWorker-1");
    p->start_method = s_dup("fork");
    /* Labelled as in a multi-host session; the parent has no label. */
    p->host = s_dup("node-2");
    p->ranked = true;
    p->rank = 3;
    p->worker = s_dup("tcp-worker-1");
    p->clocked = true;
    p->clock_offset_ns = -1234567;
    p->clock_err_ns = 89;
    p->argv = s_strv(NULL, 0); /* known to be empty, not unknown */
    p->hello = true;
    p->exit_kind = MPP_EXIT_SIGNAL;
    p->exit_code = 15;
    t = s_thread(p, 140000000000001, "MainThread");
    c = mpp_sf_cost(250, 500000);
    ASSERT_EQ(mpp_thread_set_stat(t, 1, &c), 0);
    c = mpp_sf_cost(250, 400000);
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
    ASSERT(a->has_cpu == b->has_cpu);
    ASSERT(a->cpu_ns == b->cpu_ns && a->cpu_cat_ns == b->cpu_cat_ns);
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
    s_same_str(a->host, b->host);
    ASSERT(a->ranked == b->ranked && a->rank == b->rank);
    s_same_str(a->worker, b->worker);
    ASSERT(a->clocked == b->clocked);
    ASSERT(a->clock_offset_ns == b->clock_offset_ns);
    ASSERT(a->clock_err_ns == b->clock_err_ns);
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

void
mpp_sf_same_session(const mpp_session_t *a, const mpp_session_t *b)
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
    ASSERT(a->integrity.refused == b->integrity.refused);
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

char *
mpp_sf_write(const mpp_session_t *s, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    ASSERT(f != NULL);
    ASSERT_EQ(mpp_sessfile_write(s, f), 0);
    ASSERT_EQ(fclose(f), 0);
    return buf;
}

int
mpp_sf_parse(const void *data, size_t len, mpp_session_t **out)
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

void
mpp_sf_raw_init(mpp_sf_raw_t *r, uint32_t version)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&r->sb, MPP_SESSFILE_MAGIC, MPP_SESSFILE_MAGIC_LEN);
    msgpack_pack_uint32(&r->pk, version);
}

void
mpp_sf_key(mpp_sf_raw_t *r, const char *k)
{
    msgpack_pack_str_with_body(&r->pk, k, strlen(k));
}

int
mpp_sf_raw_parse(mpp_sf_raw_t *r, mpp_session_t **out)
{
    int rc = mpp_sf_parse(r->sb.data, r->sb.size, out);
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

int
mpp_sf_raw_rc(mpp_sf_raw_t *r)
{
    mpp_session_t *s;
    int rc = mpp_sf_raw_parse(r, &s);
    mpp_session_destroy(&s);
    return rc;
}
