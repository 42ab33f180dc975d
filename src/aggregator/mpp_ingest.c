/*  Frame validation (see mpp_aggregator.h); mpp_apply.c merges.
 *
 *  Nothing here knows about ZeroMQ, so tests can feed frames directly.  A
 *  frame is trusted for nothing: it is decoded by the wire unit, which
 *  bounds every length, then checked for the session token, a sane pid
 *  and type, and its sequence number, before the session model sees it.
 */
#include "mpp_aggregator.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>

/*  Compares the token in constant time over its expected length, so the
 *  time taken does not tell a guesser how many leading characters were
 *  right.  The length itself is not secret. */
static bool
s_token_equal(const char *got, const char *want)
{
    if (got == NULL || strnlen(got, MPP_TOKEN_LEN + 1) != MPP_TOKEN_LEN) {
        return false;
    }
    unsigned diff = 0;
    for (size_t i = 0; i < MPP_TOKEN_LEN; i++) {
        diff |= (unsigned)((unsigned char)got[i] ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

/*  A HELLO with seq 0 for a pid we already know is either a replay or a
 *  new process behind the same pid (the pid was reused, or the process
 *  exec'd another Python).  A replay repeats the recorded start time; a
 *  reused pid has its own.  An exec keeps the kernel's start time, so the
 *  exec'd image says so instead: start method "exec" with itself as
 *  parent, after the image before it said BYE. */
static bool
s_is_new_incarnation(const mpp_proc_t *p, const mpp_msg_t *m)
{
    if (m->type != MPP_MSG_HELLO || m->seq != 0 || p->next_seq == 0) {
        return false;
    }
    bool exec_image = m->ppid == m->pid && m->start_method != NULL &&
                      strcmp(m->start_method, "exec") == 0 &&
                      p->exit_kind != MPP_EXIT_RUNNING;
    return !p->hello || m->start_ns != p->start_ns || exec_image;
}

/*  Checks the envelope of a decoded message against the session, without
 *  changing either: the token, a sane pid and type, and the sequence
 *  number.  Sets *proc to the record the message belongs to, or to NULL
 *  when it starts a new one, and *expected to the seq that was due. */
static int
s_check(mpp_session_t *s, const char *token, const char *host,
        const mpp_msg_t *m, mpp_proc_t **proc, uint64_t *expected)
{
    if (!s_token_equal(m->token, token)) {
        return MPP_ETOKEN;
    }
    /* Pids end up in kill(); 0 and negative values would address process
     * groups, so only plain positive pids get in. */
    if (m->pid <= 0 || m->pid > INT_MAX) {
        return MPP_EPROTO;
    }
    if (m->type < MPP_MSG_HELLO || m->type > MPP_MSG_BYE) {
        return MPP_EPROTO;
    }
    /* Keeps next_seq = seq + 1 from wrapping around to 0. */
    if (m->seq == UINT64_MAX) {
        return MPP_EPROTO;
    }
    /* Pids are per host: the same pid on two hosts is two processes. */
    ssize_t ix = mpp_session_proc_index_on(s, host, m->pid);
    mpp_proc_t *p = ix >= 0 ? &s->procs[ix] : NULL;
    /* A new process behind a known pid gets its own record; the session
     * finds the newest record of a pid first. */
    if (p != NULL && s_is_new_incarnation(p, m)) {
        p = NULL;
    }
    *expected = p != NULL ? p->next_seq : 0;
    /* A first message that is not a HELLO is fine: the HELLO may have
     * been lost, and the later messages are still worth having. */
    if (m->seq < *expected) {
        return MPP_EREPLAY;
    }
    *proc = p;
    return 0;
}

/*  Every check runs before the session changes, so a rejected frame
 *  leaves no trace but its count in integrity.rejected. */
int
mpp_ingest_frame(mpp_session_t *s, const char *token, const void *data,
                 size_t len)
{
    return mpp_ingest_frame_from(s, token, NULL, data, len);
}

/* Labels a new process with where it ran.  Returns 0 or MPP_ENOMEM. */
static int
s_label(mpp_proc_t *p, const mpp_origin_t *origin)
{
    if (origin == NULL) {
        return 0;
    }
    p->ranked = origin->ranked;
    p->rank = origin->rank;
    if ((origin->host != NULL && (p->host = strdup(origin->host)) == NULL) ||
        (origin->worker != NULL &&
         (p->worker = strdup(origin->worker)) == NULL)) {
        return MPP_ENOMEM;
    }
    return 0;
}

int
mpp_ingest_frame_from(mpp_session_t *s, const char *token,
                      const mpp_origin_t *origin, const void *data,
                      size_t len)
{
    mpp_msg_t m;
    mpp_proc_t *p = NULL;
    uint64_t expected = 0;
    int rc;

    s->integrity.messages++;
    if (len > MPP_WIRE_MAX_MSG) {
        s->integrity.rejected++;
        return MPP_ETOOBIG;
    }
    rc = mpp_wire_decode(data, len, &m);
    if (rc != 0) {
        s->integrity.rejected++;
        return rc < 0 ? rc : MPP_EPROTO;
    }
    rc = s_check(s, token, origin != NULL ? origin->host : NULL, &m, &p,
                 &expected);
    if (rc == 0) {
        rc = mpp_apply_check(&m);
    }
    if (rc == 0 && p == NULL) {
        p = mpp_session_add_proc(s, m.pid);
        rc = p == NULL ? MPP_ENOMEM : s_label(p, origin);
        if (rc != 0 && p != NULL) {
            /* The record goes again: it has nothing but its pid yet. */
            s->nprocs--;
            p = NULL;
        }
    }
    if (rc == 0) {
        s->integrity.seq_gaps += m.seq - expected;
        rc = mpp_apply_msg(s, p, &m, origin);
        /* MPP_EPROTO from apply means some entries named a function or
         * thread the process never defined: those were skipped, the rest
         * of the message was applied, so the message counts as accepted. */
        if (rc == MPP_EPROTO) {
            rc = 0;
        }
        /* Even a message that ran out of memory half-way was consumed;
         * advancing the sequence keeps the next one from looking like a
         * gap.  Applying adds no process, so p is still valid. */
        p->next_seq = m.seq + 1;
    }
    if (rc != 0) {
        s->integrity.rejected++;
    }
    mpp_msg_clear(&m);
    return rc;
}

bool
mpp_ingest_streaming(const mpp_proc_t *p)
{
    return p->exit_kind == MPP_EXIT_RUNNING;
}

/*  Sets the exit of the process the launcher itself waited for: its
 *  status is known exactly even when its BYE never came. */
static void
s_set_wait_status(mpp_proc_t *p, int ws)
{
    if (WIFEXITED(ws)) {
        p->exit_code = WEXITSTATUS(ws);
        p->exit_kind = p->exit_code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE;
    }
    else if (WIFSIGNALED(ws)) {
        p->exit_code = WTERMSIG(ws);
        p->exit_kind = MPP_EXIT_SIGNAL;
    }
    else {
        p->exit_kind = MPP_EXIT_LOST;
    }
}

/* Prints a name from the wire without its control characters, so the
 * note stays one line whatever a process called itself. */
static void
s_put_clean(FILE *out, const char *str)
{
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, out);
    }
}

/* At most this many processes are named in the note; the rest counted. */
#define S_NOTE_NAMES 8

size_t
mpp_ingest_finish(mpp_session_t *s, int64_t target_pid, int wait_status,
                  FILE *note)
{
    ssize_t target = mpp_session_proc_index(s, target_pid);
    size_t named[S_NOTE_NAMES];
    size_t nlost = 0;

    s->integrity.dropped_events = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        mpp_proc_t *p = &s->procs[i];
        s->integrity.dropped_events += p->dropped;
        if (!mpp_ingest_streaming(p)) {
            continue;
        }
        if (target >= 0 && (size_t)target == i) {
            s_set_wait_status(p, wait_status);
        }
        else {
            p->exit_kind = MPP_EXIT_LOST;
        }
        if (nlost < S_NOTE_NAMES) {
            named[nlost] = i;
        }
        nlost++;
    }
    s->integrity.processes_lost += nlost;
    if (nlost == 0 || note == NULL) {
        return nlost;
    }

    fprintf(note, "mpprof: note: %zu process%s sent no final report, so "
            "the profile misses %s last moments:", nlost,
            nlost == 1 ? "" : "es", nlost == 1 ? "its" : "their");
    size_t shown = nlost < S_NOTE_NAMES ? nlost : S_NOTE_NAMES;
    for (size_t k = 0; k < shown; k++) {
        const mpp_proc_t *p = &s->procs[named[k]];
        fprintf(note, "%s pid %" PRId64, k ? "," : "", p->pid);
        if (p->name != NULL) {
            fputs(" (", note);
            s_put_clean(note, p->name);
            fputc(')', note);
        }
    }
    if (nlost > shown) {
        fprintf(note, " and %zu more", nlost - shown);
    }
    fputc('\n', note);
    return nlost;
}
