/*  The session file: a lossless record of an mpp_session_t.
 *
 *  Layout: the 8 bytes MPP_SESSFILE_MAGIC, a msgpack uint version, then
 *  one msgpack map.  Objects are maps keyed by name, so a reader skips
 *  keys it does not know and treats missing keys as zero, empty or NULL;
 *  bulk tables are arrays of rows, and a row may carry extra trailing
 *  columns that older readers skip.  A string that may be NULL in the
 *  model is stored as nil.
 *
 *    { "mpprof_version": str|nil, "python": str|nil,
 *      "command": [str]|nil, "start_ns": int, "wall_ns": int,
 *      "exit_status": int,
 *      "integrity": { "messages": uint, "rejected": uint,
 *                     "seq_gaps": uint, "processes_lost": uint,
 *                     "dropped_events": uint },
 *      "funcs": [[file:str, line:int, name:str]],   index = function id
 *      "procs": [ { "pid": int (first key), "ppid": int,
 *                   "name": str|nil, "start_method": str|nil,
 *                   "python": str|nil, "argv": [str]|nil,
 *                   "start_ns": int, "wall_ns": int, "cpu_ns": int,
 *                   "dropped": uint, "mem_bytes": uint,
 *                   "messages": uint, "next_seq": uint, "hello": bool,
 *                   "exit_kind": uint, "exit_code": int,
 *                   "threads": [ { "tid": uint (first key),
 *                                  "name": str|nil,
 *                                  "cats": [[ns, count, bytes]] * 5,
 *                                  "stats": [[func, ncalls, pcalls,
 *                                             tt_ns, ct_ns]],
 *                                  "edges": [[caller, callee, ncalls,
 *                                             pcalls, tt_ns, ct_ns]],
 *                                  "spans": [[cat, func, start_ns,
 *                                             dur_ns, bytes]] } ] } ] }
 *
 *  Processes keep their order and are never merged, because a reused pid
 *  names two different processes.  The identity key comes first in a
 *  process or thread map so the reader can create the object before it
 *  fills it.
 *
 *  The reader does not build a msgpack object tree: a session of many
 *  processes holds millions of table cells, and a tree would cost about
 *  ten times the file size.  It reads the bytes with the msgpack cursor
 *  of mpp_mpcur.h instead, which also tells a file that ends early
 *  (MPP_ETRUNC) from one that holds something unexpected (MPP_ECORRUPT).
 */
#include "mpp_mpcur.h"
#include "mpp_mppack.h"
#include "mpp_output.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MPP_SESSFILE_NAME "session.mpprof"
#define MAGIC_LEN (sizeof(MPP_SESSFILE_MAGIC) - 1)

/* ---- writer ------------------------------------------------------------ */

/*  The packer's sink: remembers the first error and ignores later writes,
 *  so the writer checks once at the end.  The packer hands over one small
 *  item at a time, so the sink gathers them in a large buffer of its own
 *  (unbuffered if that cannot be had) and writes it out in big pieces. */
#define S_SINK_BUF (256u * 1024u)

typedef struct {
    FILE *out;
    int err;
    char *buf;
    size_t len;
} s_sink_t;

static void
s_sink_put(s_sink_t *sink, const char *bytes, size_t len)
{
    errno = 0;
    if (fwrite(bytes, 1, len, sink->out) != len) {
        sink->err = errno ? -errno : -EIO;
    }
}

static int
s_sink_flush(s_sink_t *sink)
{
    if (sink->err == 0 && sink->len > 0) {
        s_sink_put(sink, sink->buf, sink->len);
    }
    sink->len = 0;
    return sink->err;
}

static int
s_sink_write(void *data, const char *bytes, size_t len)
{
    s_sink_t *sink = data;
    if (sink->err != 0 || len == 0) {
        return sink->err;
    }
    if (sink->buf == NULL) {
        s_sink_put(sink, bytes, len);
        return sink->err;
    }
    if (S_SINK_BUF - sink->len < len && s_sink_flush(sink) != 0) {
        return sink->err;
    }
    if (len > S_SINK_BUF / 2) {
        s_sink_put(sink, bytes, len);
    }
    else {
        memcpy(sink->buf + sink->len, bytes, len);
        sink->len += len;
    }
    return sink->err;
}

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL) {
        msgpack_pack_nil(pk);
    }
    else {
        msgpack_pack_str_with_body(pk, s, strlen(s));
    }
}

static void
s_pack_strv(msgpack_packer *pk, char *const *v, size_t n)
{
    if (v == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str_with_body(pk, v[i] ? v[i] : "",
                                   v[i] ? strlen(v[i]) : 0);
    }
}

static void
s_write_thread(msgpack_packer *pk, const mpp_thread_t *t)
{
    msgpack_pack_map(pk, 6);
    mpp_pack_key(pk, "tid");
    msgpack_pack_uint64(pk, t->tid);
    mpp_pack_key(pk, "name");
    s_pack_str(pk, t->name);
    mpp_pack_key(pk, "cats");
    mpp_pack_cats(pk, t->cat);
    mpp_pack_key(pk, "stats");
    msgpack_pack_array(pk, t->nstats);
    for (size_t i = 0; i < t->nstats; i++) {
        mpp_pack_stat(pk, t->stats[i].func, &t->stats[i].cost);
    }
    mpp_pack_key(pk, "edges");
    msgpack_pack_array(pk, t->nedges);
    for (size_t i = 0; i < t->nedges; i++) {
        mpp_pack_edge(pk, t->edges[i].caller, t->edges[i].callee,
                      &t->edges[i].cost);
    }
    mpp_pack_key(pk, "spans");
    msgpack_pack_array(pk, t->nspans);
    for (size_t i = 0; i < t->nspans; i++) {
        const mpp_span_t *s = &t->spans[i];
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint32(pk, s->cat);
        msgpack_pack_uint32(pk, s->func);
        msgpack_pack_int64(pk, s->start_ns);
        msgpack_pack_int64(pk, s->dur_ns);
        msgpack_pack_uint64(pk, s->bytes);
    }
}

static void
s_write_proc(msgpack_packer *pk, const mpp_proc_t *p)
{
    msgpack_pack_map(pk, 17);
    mpp_pack_key(pk, "pid");
    msgpack_pack_int64(pk, p->pid);
    mpp_pack_key(pk, "ppid");
    msgpack_pack_int64(pk, p->ppid);
    mpp_pack_key(pk, "name");
    s_pack_str(pk, p->name);
    mpp_pack_key(pk, "start_method");
    s_pack_str(pk, p->start_method);
    mpp_pack_key(pk, "python");
    s_pack_str(pk, p->python);
    mpp_pack_key(pk, "argv");
    s_pack_strv(pk, p->argv, p->argc);
    mpp_pack_key(pk, "start_ns");
    msgpack_pack_int64(pk, p->start_ns);
    mpp_pack_key(pk, "wall_ns");
    msgpack_pack_int64(pk, p->wall_ns);
    mpp_pack_key(pk, "cpu_ns");
    msgpack_pack_int64(pk, p->cpu_ns);
    mpp_pack_key(pk, "dropped");
    msgpack_pack_uint64(pk, p->dropped);
    mpp_pack_key(pk, "mem_bytes");
    msgpack_pack_uint64(pk, p->mem_bytes);
    mpp_pack_key(pk, "messages");
    msgpack_pack_uint64(pk, p->messages);
    mpp_pack_key(pk, "next_seq");
    msgpack_pack_uint64(pk, p->next_seq);
    mpp_pack_key(pk, "hello");
    if (p->hello) {
        msgpack_pack_true(pk);
    }
    else {
        msgpack_pack_false(pk);
    }
    mpp_pack_key(pk, "exit_kind");
    msgpack_pack_uint32(pk, p->exit_kind);
    mpp_pack_key(pk, "exit_code");
    msgpack_pack_int32(pk, p->exit_code);
    mpp_pack_key(pk, "threads");
    msgpack_pack_array(pk, p->nthreads);
    for (size_t i = 0; i < p->nthreads; i++) {
        s_write_thread(pk, &p->threads[i]);
    }
}

int
mpp_sessfile_write(const mpp_session_t *s, FILE *out)
{
    if (s == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    if (s->nfuncs > UINT32_MAX || s->nprocs > UINT32_MAX) {
        return MPP_EINVAL;
    }
    s_sink_t sink = {.out = out, .err = 0, .buf = malloc(S_SINK_BUF)};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sink, s_sink_write);

    s_sink_write(&sink, MPP_SESSFILE_MAGIC, MAGIC_LEN);
    msgpack_pack_uint32(&pk, MPP_SESSFILE_VERSION);
    msgpack_pack_map(&pk, 9);
    mpp_pack_key(&pk, "mpprof_version");
    s_pack_str(&pk, s->mpprof_version);
    mpp_pack_key(&pk, "python");
    s_pack_str(&pk, s->python);
    mpp_pack_key(&pk, "command");
    s_pack_strv(&pk, s->command, s->ncommand);
    mpp_pack_key(&pk, "start_ns");
    msgpack_pack_int64(&pk, s->start_ns);
    mpp_pack_key(&pk, "wall_ns");
    msgpack_pack_int64(&pk, s->wall_ns);
    mpp_pack_key(&pk, "exit_status");
    msgpack_pack_int32(&pk, s->exit_status);

    mpp_pack_key(&pk, "integrity");
    msgpack_pack_map(&pk, 5);
    mpp_pack_key(&pk, "messages");
    msgpack_pack_uint64(&pk, s->integrity.messages);
    mpp_pack_key(&pk, "rejected");
    msgpack_pack_uint64(&pk, s->integrity.rejected);
    mpp_pack_key(&pk, "seq_gaps");
    msgpack_pack_uint64(&pk, s->integrity.seq_gaps);
    mpp_pack_key(&pk, "processes_lost");
    msgpack_pack_uint64(&pk, s->integrity.processes_lost);
    mpp_pack_key(&pk, "dropped_events");
    msgpack_pack_uint64(&pk, s->integrity.dropped_events);

    mpp_pack_key(&pk, "funcs");
    msgpack_pack_array(&pk, s->nfuncs);
    for (size_t i = 0; i < s->nfuncs; i++) {
        const mpp_func_t *f = &s->funcs[i];
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str_with_body(&pk, f->file ? f->file : "",
                                   f->file ? strlen(f->file) : 0);
        msgpack_pack_int32(&pk, f->line);
        msgpack_pack_str_with_body(&pk, f->name ? f->name : "",
                                   f->name ? strlen(f->name) : 0);
    }

    mpp_pack_key(&pk, "procs");
    msgpack_pack_array(&pk, s->nprocs);
    for (size_t i = 0; i < s->nprocs; i++) {
        s_write_proc(&pk, &s->procs[i]);
    }
    s_sink_flush(&sink);
    free(sink.buf);
    if (sink.err == 0 && fflush(out) != 0) {
        sink.err = errno ? -errno : -EIO;
    }
    return sink.err;
}

/* ---- reader ------------------------------------------------------------ */

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
                                            "stats", "edges", "spans"};

static int
mpp_mpcur_thread(mpp_mpcur_t *r, mpp_proc_t *p)
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
    if ((rc = s_rd_key(r, s_thread_keys, 6, &seen, &ix)) != 0) {
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
        if ((rc = s_rd_key(r, s_thread_keys, 6, &seen, &ix)) != 0) {
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
    "exit_code", "threads",
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
            rc = mpp_mpcur_thread(r, p);
        }
        return rc;
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
};

static int
s_rd_integrity(mpp_mpcur_t *r, mpp_integrity_t *in)
{
    uint64_t *fields[] = {&in->messages, &in->rejected, &in->seq_gaps,
                          &in->processes_lost, &in->dropped_events};
    uint32_t n = 0, seen = 0;
    int ix, rc = mpp_mpcur_map(r, &n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if ((rc = s_rd_key(r, s_integrity_keys, 5, &seen, &ix)) == 0) {
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
mpp_sessfile_parse(const void *data, size_t len, mpp_session_t **out)
{
    if (out == NULL) {
        return MPP_EINVAL;
    }
    *out = NULL;
    if (data == NULL && len > 0) {
        return MPP_EINVAL;
    }
    /* A prefix of the magic is a file cut short, not a foreign one. */
    if (len < MAGIC_LEN) {
        return len == 0 || memcmp(data, MPP_SESSFILE_MAGIC, len) == 0
                   ? MPP_ETRUNC
                   : MPP_EFORMAT;
    }
    if (memcmp(data, MPP_SESSFILE_MAGIC, MAGIC_LEN) != 0) {
        return MPP_EFORMAT;
    }
    const uint8_t *bytes = data;
    mpp_mpcur_t r = {bytes + MAGIC_LEN, bytes + len};
    uint64_t version;
    int rc = mpp_mpcur_u64(&r, &version);
    if (rc != 0) {
        return rc;
    }
    if (version != MPP_SESSFILE_VERSION) {
        return MPP_EVERSION;
    }
    mpp_session_t *s = mpp_session_new();
    if (s == NULL) {
        return MPP_ENOMEM;
    }
    rc = s_rd_session(&r, s);
    if (rc == 0 && r.p != r.end) {
        rc = MPP_ECORRUPT; /* bytes after the document */
    }
    if (rc == 0) {
        rc = s_check_ids(s);
    }
    if (rc != 0) {
        mpp_session_destroy(&s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Reads a whole regular file; -errno on I/O errors. */
static int
s_read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return MPP_EFORMAT;
    }
    /* The size is a hint only: the loop reads to end of file. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : MPP_ENOMEM;
    while (rc == 0) {
        if (n == cap && mpp_grow((void **)&buf, &cap, cap + 1, 1) != 0) {
            rc = MPP_ENOMEM;
            break;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno != EINTR) {
                rc = -errno;
            }
            continue;
        }
        if (got == 0) {
            break;
        }
        n += (size_t)got;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return 0;
}

int
mpp_sessfile_load(const char *path, mpp_session_t **out)
{
    if (out == NULL) {
        return MPP_EINVAL;
    }
    *out = NULL;
    if (path == NULL) {
        return MPP_EINVAL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return -errno;
    }
    char *file = NULL;
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + sizeof("/" MPP_SESSFILE_NAME);
        file = malloc(n);
        if (file == NULL) {
            return MPP_ENOMEM;
        }
        snprintf(file, n, "%s/%s", path, MPP_SESSFILE_NAME);
    }
    char *data = NULL;
    size_t len = 0;
    int rc = s_read_file(file ? file : path, &data, &len);
    free(file);
    if (rc == 0) {
        rc = mpp_sessfile_parse(data, len, out);
        free(data);
    }
    return rc;
}
