/*  Reads the session file's document (layout in mpp_sessfile_priv.h)
 *  into a session.  The reader does not build a msgpack object tree: a
 *  session of many processes holds millions of table cells, and a tree
 *  would cost about ten times the file size.  It reads the bytes with the
 *  msgpack cursor of mpp_mpcur.h instead, which also tells a file that
 *  ends early (MPP_ETRUNC) from one that holds something unexpected
 *  (MPP_ECORRUPT), and never trusts a count beyond what the bytes left
 *  can hold.
 */
#include "mpp_sessfile_priv.h"

#include <string.h>

/*  Reads a string as a new C string (which therefore may not hold NUL).
 *  With nil_ok a nil gives NULL. */
static int
s_rd_strdup(mpp_mpcur_t *r, bool nil_ok, char **out)
{
    const char *s;
    size_t n;
    *out = NULL;
    int rc = mpp_mpcur_cstr(r, nil_ok, &s, &n);
    if (rc != 0 || s == NULL) {
        return rc;
    }
    char *d = malloc(n + 1);
    if (d == NULL) {
        return MPP_ENOMEM;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    *out = d;
    return 0;
}

/*  Reads the next map key and returns its index in `keys`, or -1 for a
 *  key this version does not know (its value is then skipped by the
 *  caller).  A key repeated in one map is corruption: no writer makes
 *  one, and accepting it could merge or double data. */
static int
s_rd_key(mpp_mpcur_t *r, const char *const *keys, size_t nkeys, uint32_t *seen,
         int *ix)
{
    const char *k;
    size_t n;
    int rc = mpp_mpcur_str(r, &k, &n);
    if (rc != 0) {
        return rc;
    }
    *ix = -1;
    for (size_t i = 0; i < nkeys; i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0) {
            if (*seen & (1u << i)) {
                return MPP_ECORRUPT;
            }
            *seen |= 1u << i;
            *ix = (int)i;
            break;
        }
    }
    return 0;
}

/*  Reads a row header: an array of at least `min` columns.  Returns the
 *  number of extra columns the caller must skip. */
static int
s_rd_row(mpp_mpcur_t *r, uint32_t min, uint32_t *extra)
{
    uint32_t n;
    int rc = mpp_mpcur_array(r, &n);
    if (rc != 0) {
        return rc;
    }
    if (n < min) {
        return MPP_ECORRUPT;
    }
    *extra = n - min;
    return 0;
}

static int
s_rd_skip_n(mpp_mpcur_t *r, uint32_t n)
{
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = mpp_mpcur_skip(r);
    }
    return rc;
}

/* Reads [str]|nil into a new vector; *v stays NULL for nil. */
static int
s_rd_strv(mpp_mpcur_t *r, char ***v, size_t *count)
{
    *v = NULL;
    *count = 0;
    if (mpp_mpcur_nil(r)) {
        return 0;
    }
    uint32_t n;
    int rc = mpp_mpcur_array(r, &n);
    if (rc != 0) {
        return rc;
    }
    /* n is bounded by the bytes left, so this stays proportionate. */
    char **a = calloc(n ? n : 1, sizeof(*a));
    if (a == NULL) {
        return MPP_ENOMEM;
    }
    size_t i = 0;
    for (; i < n && rc == 0; i++) {
        rc = s_rd_strdup(r, false, &a[i]);
    }
    if (rc != 0) {
        for (size_t j = 0; j < n; j++) {
            free(a[j]);
        }
        free(a);
        return rc;
    }
    *v = a;
    *count = n;
    return 0;
}

static void
s_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* Replaces a string field with one read from the file. */
static int
s_rd_set_str(mpp_mpcur_t *r, char **field)
{
    char *s;
    int rc = s_rd_strdup(r, true, &s);
    if (rc == 0) {
        free(*field);
        *field = s;
    }
    return rc;
}

static int
s_rd_set_strv(mpp_mpcur_t *r, char ***field, size_t *count)
{
    char **v;
    size_t n;
    int rc = s_rd_strv(r, &v, &n);
    if (rc == 0) {
        s_strv_free(*field, *count);
        *field = v;
        *count = n;
    }
    return rc;
}

static int
s_rd_cats(mpp_mpcur_t *r, mpp_thread_t *t)
{
    uint32_t n = 0, extra;
    int rc = mpp_mpcur_array(r, &n);
    if (rc != 0) {
        return rc;
    }
    if (n != MPP_CAT_COUNT) {
        return MPP_ECORRUPT;
    }
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        if ((rc = s_rd_row(r, 3, &extra)) != 0 ||
            (rc = mpp_mpcur_u64(r, &t->cat[c].ns)) != 0 ||
            (rc = mpp_mpcur_u64(r, &t->cat[c].count)) != 0 ||
            (rc = mpp_mpcur_u64(r, &t->cat[c].bytes)) != 0 ||
            (rc = s_rd_skip_n(r, extra)) != 0) {
            return rc;
        }
    }
    return 0;
}

static int
s_rd_stats(mpp_mpcur_t *r, mpp_thread_t *t)
{
    uint32_t n = 0, extra;
    int rc = mpp_mpcur_array(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        mpp_cost_t c;
        uint32_t func;
        if ((rc = s_rd_row(r, 5, &extra)) != 0 ||
            (rc = mpp_mpcur_u32(r, &func)) != 0 ||
            (rc = mpp_mpcur_cost(r, &c)) != 0 ||
            (rc = s_rd_skip_n(r, extra)) != 0) {
            break;
        }
        size_t before = t->nstats;
        if ((rc = mpp_thread_set_stat(t, func, &c)) == 0 &&
            t->nstats == before) {
            rc = MPP_ECORRUPT; /* the same function twice */
        }
    }
    return rc;
}

static int
s_rd_edges(mpp_mpcur_t *r, mpp_thread_t *t)
{
    uint32_t n = 0, extra;
    int rc = mpp_mpcur_array(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        mpp_cost_t c;
        uint32_t caller, callee;
        if ((rc = s_rd_row(r, 6, &extra)) != 0 ||
            (rc = mpp_mpcur_u32(r, &caller)) != 0 ||
            (rc = mpp_mpcur_u32(r, &callee)) != 0 ||
            (rc = mpp_mpcur_cost(r, &c)) != 0 ||
            (rc = s_rd_skip_n(r, extra)) != 0) {
            break;
        }
        size_t before = t->nedges;
        if ((rc = mpp_thread_set_edge(t, caller, callee, &c)) == 0 &&
            t->nedges == before) {
            rc = MPP_ECORRUPT; /* the same edge twice */
        }
    }
    return rc;
}

static int
s_rd_spans(mpp_mpcur_t *r, mpp_thread_t *t)
{
    uint32_t n = 0, extra;
    int rc = mpp_mpcur_array(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        mpp_span_t s;
        if ((rc = s_rd_row(r, 5, &extra)) != 0 ||
            (rc = mpp_mpcur_u32(r, &s.cat)) != 0 ||
            (rc = mpp_mpcur_u32(r, &s.func)) != 0 ||
            (rc = mpp_mpcur_i64(r, &s.start_ns)) != 0 ||
            (rc = mpp_mpcur_i64(r, &s.dur_ns)) != 0 ||
            (rc = mpp_mpcur_u64(r, &s.bytes)) != 0 ||
            (rc = s_rd_skip_n(r, extra)) != 0) {
            break;
        }
        rc = s.cat < MPP_CAT_COUNT ? mpp_thread_add_span(t, &s)
                                   : MPP_ECORRUPT;
    }
    return rc;
}

static const char *const s_thread_keys[] = {"tid",   "name",  "cats",
                                            "stats", "edges", "spans",
                                            "cpu"};

/* A thread's CPU time: [cpu_ns, cpu_cat_ns], 0 <= cpu_cat_ns <= cpu_ns. */
static int
s_rd_cpu(mpp_mpcur_t *r, mpp_thread_t *t)
{
    uint32_t n;
    int rc = mpp_mpcur_array(r, &n);
    if (rc != 0) {
        return rc;
    }
    if (n != 2) {
        return MPP_ECORRUPT;
    }
    /* A cut file reads as cut (MPP_ETRUNC), not as corrupt. */
    if ((rc = mpp_mpcur_i64(r, &t->cpu_ns)) != 0 ||
        (rc = mpp_mpcur_i64(r, &t->cpu_cat_ns)) != 0) {
        return rc;
    }
    if (t->cpu_cat_ns < 0 || t->cpu_ns < t->cpu_cat_ns) {
        return MPP_ECORRUPT;
    }
    t->has_cpu = true;
    return 0;
}

static int
s_rd_thread(mpp_mpcur_t *r, mpp_proc_t *p)
{
    uint32_t n, seen = 0;
    int ix, rc = mpp_mpcur_map(r, &n);
    if (rc != 0) {
        return rc;
    }
    /* The tid must come first: it names the thread to fill. */
    uint64_t tid;
    if (n == 0) {
        return MPP_ECORRUPT;
    }
    if ((rc = s_rd_key(r, s_thread_keys, MPP_ARRAY_SIZE(s_thread_keys), &seen,
                       &ix)) != 0) {
        return rc;
    }
    if (ix != 0) {
        return MPP_ECORRUPT;
    }
    if ((rc = mpp_mpcur_u64(r, &tid)) != 0) {
        return rc;
    }
    size_t before = p->nthreads;
    mpp_thread_t *t = mpp_proc_thread(p, tid, true);
    if (t == NULL) {
        return MPP_ENOMEM;
    }
    if (p->nthreads == before) {
        return MPP_ECORRUPT; /* the same thread twice */
    }
    for (uint32_t i = 1; i < n; i++) {
        if ((rc = s_rd_key(r, s_thread_keys, MPP_ARRAY_SIZE(s_thread_keys), &seen,
                       &ix)) != 0) {
            return rc;
        }
        switch (ix) {
        case 1:
            rc = s_rd_set_str(r, &t->name);
            break;
        case 2:
            rc = s_rd_cats(r, t);
            break;
        case 3:
            rc = s_rd_stats(r, t);
            break;
        case 4:
            rc = s_rd_edges(r, t);
            break;
        case 5:
            rc = s_rd_spans(r, t);
            break;
        case 6:
            rc = s_rd_cpu(r, t);
            break;
        default:
            rc = mpp_mpcur_skip(r);
            break;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static const char *const s_proc_keys[] = {
    "pid",      "ppid",     "name",      "start_method", "python",
    "argv",     "start_ns", "wall_ns",   "cpu_ns",       "dropped",
    "mem_bytes", "messages", "next_seq", "hello",        "exit_kind",
    "exit_code", "threads",  "host",     "rank",     "clock",
    "worker",
};

static int
s_rd_proc_field(mpp_mpcur_t *r, int ix, mpp_proc_t *p)
{
    uint32_t n;
    int rc;
    switch (ix) {
    case 1:
        return mpp_mpcur_i64(r, &p->ppid);
    case 2:
        return s_rd_set_str(r, &p->name);
    case 3:
        return s_rd_set_str(r, &p->start_method);
    case 4:
        return s_rd_set_str(r, &p->python);
    case 5:
        return s_rd_set_strv(r, &p->argv, &p->argc);
    case 6:
        return mpp_mpcur_i64(r, &p->start_ns);
    case 7:
        return mpp_mpcur_i64(r, &p->wall_ns);
    case 8:
        return mpp_mpcur_i64(r, &p->cpu_ns);
    case 9:
        return mpp_mpcur_u64(r, &p->dropped);
    case 10:
        return mpp_mpcur_u64(r, &p->mem_bytes);
    case 11:
        return mpp_mpcur_u64(r, &p->messages);
    case 12:
        return mpp_mpcur_u64(r, &p->next_seq);
    case 13:
        return mpp_mpcur_bool(r, &p->hello);
    case 14:
        if ((rc = mpp_mpcur_u32(r, &p->exit_kind)) == 0 &&
            p->exit_kind > MPP_EXIT_LOST) {
            rc = MPP_ECORRUPT;
        }
        return rc;
    case 15:
        return mpp_mpcur_i32(r, &p->exit_code);
    case 16:
        if ((rc = mpp_mpcur_array(r, &n)) != 0) {
            return rc;
        }
        for (uint32_t i = 0; i < n && rc == 0; i++) {
            rc = s_rd_thread(r, p);
        }
        return rc;
    case 17:
        return s_rd_set_str(r, &p->host);
    case 18:
        /* nil: no rank (a run on one host, or no launcher said one). */
        p->ranked = !mpp_mpcur_nil(r);
        return p->ranked ? mpp_mpcur_int(r, 0, INT32_MAX, &p->rank) : 0;
    case 19:
        /* nil, or [offset_ns, err_ns]: the clock alignment applied. */
        if (mpp_mpcur_nil(r)) {
            return 0;
        }
        p->clocked = true;
        if ((rc = mpp_mpcur_array(r, &n)) != 0) {
            return rc;
        }
        if (n != 2) {
            return MPP_ECORRUPT;
        }
        if ((rc = mpp_mpcur_i64(r, &p->clock_offset_ns)) != 0) {
            return rc;
        }
        return mpp_mpcur_int(r, 0, INT64_MAX, &p->clock_err_ns);
    case 20:
        return s_rd_set_str(r, &p->worker);
    default:
        return mpp_mpcur_skip(r);
    }
}

static int
s_rd_proc(mpp_mpcur_t *r, mpp_session_t *s)
{
    uint32_t n, seen = 0;
    int ix, rc = mpp_mpcur_map(r, &n);
    if (rc != 0) {
        return rc;
    }
    /* The pid must come first: it names the process to fill. */
    if (n == 0) {
        return MPP_ECORRUPT;
    }
    const size_t nkeys = MPP_ARRAY_SIZE(s_proc_keys);
    int64_t pid;
    if ((rc = s_rd_key(r, s_proc_keys, nkeys, &seen, &ix)) != 0) {
        return rc;
    }
    if (ix != 0) {
        return MPP_ECORRUPT;
    }
    if ((rc = mpp_mpcur_i64(r, &pid)) != 0) {
        return rc;
    }
    mpp_proc_t *p = mpp_session_add_proc(s, pid);
    if (p == NULL) {
        return MPP_ENOMEM;
    }
    for (uint32_t i = 1; i < n; i++) {
        if ((rc = s_rd_key(r, s_proc_keys, nkeys, &seen, &ix)) != 0 ||
            (rc = s_rd_proc_field(r, ix, p)) != 0) {
            return rc;
        }
    }
    return 0;
}

static const char *const s_integrity_keys[] = {
    "messages", "rejected", "seq_gaps", "processes_lost", "dropped_events",
    "refused",
};

static int
s_rd_integrity(mpp_mpcur_t *r, mpp_integrity_t *in)
{
    uint64_t *fields[] = {&in->messages, &in->rejected, &in->seq_gaps,
                          &in->processes_lost, &in->dropped_events,
                          &in->refused};
    uint32_t n = 0, seen = 0;
    int ix, rc = mpp_mpcur_map(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if ((rc = s_rd_key(r, s_integrity_keys, 6, &seen, &ix)) == 0) {
            rc = ix < 0 ? mpp_mpcur_skip(r) : mpp_mpcur_u64(r, fields[ix]);
        }
    }
    return rc;
}

static int
s_rd_funcs(mpp_mpcur_t *r, mpp_session_t *s)
{
    uint32_t n = 0, extra;
    int rc = mpp_mpcur_array(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const char *file, *name;
        size_t nfile, nname;
        int32_t line;
        if ((rc = s_rd_row(r, 3, &extra)) != 0 ||
            (rc = mpp_mpcur_str(r, &file, &nfile)) != 0 ||
            (rc = mpp_mpcur_i32(r, &line)) != 0 ||
            (rc = mpp_mpcur_str(r, &name, &nname)) != 0 ||
            (rc = s_rd_skip_n(r, extra)) != 0) {
            break;
        }
        if (memchr(file, '\0', nfile) != NULL ||
            memchr(name, '\0', nname) != NULL) {
            rc = MPP_ECORRUPT;
            break;
        }
        /* intern wants C strings; one buffer holds both. */
        char *buf = malloc(nfile + nname + 2);
        if (buf == NULL) {
            rc = MPP_ENOMEM;
            break;
        }
        memcpy(buf, file, nfile);
        buf[nfile] = '\0';
        memcpy(buf + nfile + 1, name, nname);
        buf[nfile + 1 + nname] = '\0';
        size_t before = s->nfuncs;
        int64_t id = mpp_session_intern(s, buf, line, buf + nfile + 1);
        free(buf);
        if (id < 0) {
            rc = (int)id;
        }
        else if ((size_t)id != before) {
            rc = MPP_ECORRUPT; /* the same function twice */
        }
    }
    return rc;
}

static const char *const s_session_keys[] = {
    "mpprof_version", "python",    "command", "start_ns", "wall_ns",
    "exit_status",    "integrity", "funcs",   "procs",
};

static int
s_rd_session(mpp_mpcur_t *r, mpp_session_t *s)
{
    const size_t nkeys = MPP_ARRAY_SIZE(s_session_keys);
    uint32_t n = 0, m = 0, seen = 0;
    int ix, rc = mpp_mpcur_map(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if ((rc = s_rd_key(r, s_session_keys, nkeys, &seen, &ix)) != 0) {
            break;
        }
        switch (ix) {
        case 0:
            rc = s_rd_set_str(r, &s->mpprof_version);
            break;
        case 1:
            rc = s_rd_set_str(r, &s->python);
            break;
        case 2:
            rc = s_rd_set_strv(r, &s->command, &s->ncommand);
            break;
        case 3:
            rc = mpp_mpcur_i64(r, &s->start_ns);
            break;
        case 4:
            rc = mpp_mpcur_i64(r, &s->wall_ns);
            break;
        case 5:
            rc = mpp_mpcur_i32(r, &s->exit_status);
            break;
        case 6:
            rc = s_rd_integrity(r, &s->integrity);
            break;
        case 7:
            rc = s_rd_funcs(r, s);
            break;
        case 8:
            if ((rc = mpp_mpcur_array(r, &m)) != 0) {
                break;
            }
            for (uint32_t j = 0; j < m && rc == 0; j++) {
                rc = s_rd_proc(r, s);
            }
            break;
        default:
            rc = mpp_mpcur_skip(r);
            break;
        }
    }
    return rc;
}

/*  Checks every function id against the function table once everything
 *  is read, so the order of the top-level keys does not matter. */
static int
s_check_ids(const mpp_session_t *s)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        for (size_t j = 0; j < p->nthreads; j++) {
            const mpp_thread_t *t = &p->threads[j];
            for (size_t k = 0; k < t->nstats; k++) {
                if (t->stats[k].func >= s->nfuncs) {
                    return MPP_ECORRUPT;
                }
            }
            for (size_t k = 0; k < t->nedges; k++) {
                if (t->edges[k].caller >= s->nfuncs ||
                    t->edges[k].callee >= s->nfuncs) {
                    return MPP_ECORRUPT;
                }
            }
            for (size_t k = 0; k < t->nspans; k++) {
                if (t->spans[k].func >= s->nfuncs &&
                    t->spans[k].func != UINT32_MAX) {
                    return MPP_ECORRUPT;
                }
            }
        }
    }
    return 0;
}

int
mpp_sessfile_read_doc(mpp_mpcur_t *r, mpp_session_t *s)
{
    int rc = s_rd_session(r, s);
    return rc != 0 ? rc : s_check_ids(s);
}
