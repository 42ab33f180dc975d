/*  Writes the session file (layout in mpp_sessfile_priv.h) through the
 *  one buffered writer, mpp_obuf.h: msgpack-c hands over one small item
 *  at a time, which would otherwise be one fwrite each.
 */
#include "mpp_mppack.h"
#include "mpp_obuf.h"
#include "mpp_sessfile_priv.h"

#include <errno.h>
#include <msgpack.h>
#include <string.h>

/* The packer's sink. */
static int
s_ob_write(void *data, const char *bytes, size_t len)
{
    mpp_ob_put(data, bytes, len);
    return 0;
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
    msgpack_pack_map(pk, t->has_cpu ? 7 : 6);
    mpp_pack_key(pk, "tid");
    msgpack_pack_uint64(pk, t->tid);
    mpp_pack_key(pk, "name");
    s_pack_str(pk, t->name);
    mpp_pack_key(pk, "cats");
    mpp_pack_cats(pk, t->cat);
    if (t->has_cpu) {
        /* [cpu_ns, cpu_cat_ns]; absent: unknown. */
        mpp_pack_key(pk, "cpu");
        msgpack_pack_array(pk, 2);
        msgpack_pack_int64(pk, t->cpu_ns);
        msgpack_pack_int64(pk, t->cpu_cat_ns);
    }
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
    msgpack_pack_map(pk, 21);
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
    mpp_pack_key(pk, "host");
    s_pack_str(pk, p->host);
    mpp_pack_key(pk, "rank");
    if (p->ranked) {
        msgpack_pack_int64(pk, p->rank);
    }
    else {
        msgpack_pack_nil(pk);
    }
    mpp_pack_key(pk, "worker");
    s_pack_str(pk, p->worker);
    mpp_pack_key(pk, "clock");
    if (p->clocked) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_int64(pk, p->clock_offset_ns);
        msgpack_pack_int64(pk, p->clock_err_ns);
    }
    else {
        msgpack_pack_nil(pk);
    }
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
    mpp_obuf_t ob;
    if (mpp_ob_init(&ob, out) != 0) {
        return MPP_ENOMEM;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ob, s_ob_write);

    mpp_ob_put(&ob, MPP_SESSFILE_MAGIC, MPP_SESSFILE_MAGIC_LEN);
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
    msgpack_pack_map(&pk, 6);
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
    mpp_pack_key(&pk, "refused");
    msgpack_pack_uint64(&pk, s->integrity.refused);

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
    mpp_ob_fini(&ob);
    /* The caller's stream says whether everything reached it; flushing
     * here makes a full disk show now rather than at fclose. */
    if (fflush(out) != 0 || ferror(out)) {
        return -EIO;
    }
    return 0;
}
