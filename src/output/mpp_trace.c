/*  The trace writer: trace.json in the Chrome trace event format, which
 *  Perfetto UI and chrome://tracing open.  It is the JSON object form,
 *  {"traceEvents": [...], "displayTimeUnit": "ms"}, because only that form
 *  can carry metadata beside the events and the unit people read.
 *
 *  What it holds, for every process of the session:
 *  - "M" metadata events: process_name (the multiprocessing name, so the
 *    track reads "ForkPoolWorker-1 1234"), process_labels (start method
 *    and how it ended), process_sort_index (the session's order, which
 *    is the order processes said hello, so the parent comes first) and a
 *    thread_name for each thread;
 *  - the process's lifetime as one complete ("X") event on its main
 *    thread, from its start to its start plus its wall time;
 *  - every category span the model holds (pickle, unpickle, lock wait,
 *    IPC wait, start-up) as an "X" event on the thread it happened on,
 *    with args {function, bytes, self_us}: self_us is the span's own
 *    time, less the spans nested in it, and is what adds up to the
 *    exclusive category totals of the report.
 *
 *  Timestamps are microseconds relative to the session's start, printed
 *  from integer nanoseconds with three decimals, so nothing is lost and
 *  no floating-point rounding creeps in.  A process that started before
 *  the launcher noted the session's start gets a negative timestamp:
 *  both viewers accept it, and clamping it would misplace the slice.
 *
 *  Spans are the intervals the collector kept (those of at least
 *  MPPROF_SPAN_MIN_US, 1 ms by default); shorter ones exist only in the
 *  category totals, so the slices of a category add up to its total only
 *  when its intervals are long.  That is what a timeline can show anyway.
 */
#include "mpp_output.h"
#include "mpp_output_priv.h"
#include "mpp_report_priv.h" /* mpp_rep_json_str: the one JSON string escaper */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* The pid of a process incarnation in the trace.  The kernel reuses pids,
 * and the viewers merge every event of one pid into one track, so a later
 * incarnation of a pid is moved above 2^32, where no real pid lies; its
 * name still shows the real pid. */
static int64_t
s_trace_pid(const mpp_session_t *s, size_t i)
{
    int64_t pid = s->procs[i].pid;
    int64_t seen = 0;
    for (size_t k = 0; k < i; k++) {
        seen += s->procs[k].pid == pid;
    }
    return seen == 0 ? pid : pid + (seen << 32);
}

/* The tid of a thread in the trace: the kernel's id when it is the first
 * thread with that id in its process, else the full wire id (whose high
 * half is the collector's serial), so reused kernel ids stay apart. */
static int64_t
s_trace_tid(uint64_t tid)
{
    return MPP_TID_SERIAL(tid) == 0 ? (int64_t)MPP_TID_KERNEL(tid)
                                    : (int64_t)(tid & INT64_MAX);
}

/* The thread the process's lifetime goes on: the one whose kernel id is
 * the pid (Python's main thread), else the first the process sent, else
 * none (a process that sent no thread gets a track of its own pid). */
static int64_t
s_main_tid(const mpp_proc_t *p)
{
    for (size_t i = 0; i < p->nthreads; i++) {
        if ((int64_t)MPP_TID_KERNEL(p->threads[i].tid) == p->pid &&
            MPP_TID_SERIAL(p->threads[i].tid) == 0) {
            return s_trace_tid(p->threads[i].tid);
        }
    }
    return p->nthreads > 0 ? s_trace_tid(p->threads[0].tid) : p->pid;
}

/* Microseconds from nanoseconds, exactly: "-12.345". */
static void
s_us(FILE *out, int64_t ns)
{
    uint64_t mag = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    fprintf(out, "%s%" PRIu64 ".%03" PRIu64, ns < 0 ? "-" : "", mag / 1000u,
            mag % 1000u);
}

/* ns since the session's start, saturated rather than overflowing: the
 * times come from the wire, where a process may claim anything. */
static int64_t
s_rel(const mpp_session_t *s, int64_t ns)
{
    return mpp_add_sat_i64(ns, s->start_ns == INT64_MIN ? 0 : -s->start_ns);
}

/* A function as pstats names it, file:line(name), or {name} for a
 * builtin, as one JSON string; null for a span no function is known for. */
static int
s_func_str(FILE *out, const mpp_session_t *s, uint32_t func)
{
    if (func >= s->nfuncs) {
        fputs("null", out);
        return 0;
    }
    const mpp_func_t *f = &s->funcs[func];
    const char *file = f->file ? f->file : "?";
    const char *name = f->name ? f->name : "?";
    char *text = NULL;
    int n = strcmp(file, "~") == 0 && f->line == 0
                ? asprintf(&text, "{%s}", name)
                : asprintf(&text, "%s:%" PRId32 "(%s)", file, f->line, name);
    if (n < 0) {
        return MPP_ENOMEM;
    }
    mpp_rep_json_str(out, text);
    free(text);
    return 0;
}

/* Starts one event: the separator, then {"name": NAME, "ph": PH, "pid":
 * PID, "tid": TID, leaving the object open for the rest. */
static void
s_event(FILE *out, bool *first, const char *name, const char *ph,
        int64_t pid, int64_t tid)
{
    fputs(*first ? "\n  " : ",\n  ", out);
    *first = false;
    fputs("{\"name\": ", out);
    mpp_rep_json_str(out, name);
    fprintf(out, ", \"ph\": \"%s\", \"pid\": %" PRId64 ", \"tid\": %" PRId64,
            ph, pid, tid);
}

/* The metadata of one process and its threads. */
static void
s_proc_meta(FILE *out, bool *first, const mpp_session_t *s,
            const mpp_proc_t *p, size_t index, int64_t tpid)
{
    int64_t main_tid = s_main_tid(p);
    s_event(out, first, "process_name", "M", tpid, main_tid);
    fputs(", \"args\": {\"name\": ", out);
    const char *label = mpp_rep_proc_label(s, p);
    mpp_rep_json_str(out, label != NULL ? label : "process");
    fprintf(out, ", \"pid\": %" PRId64 "}}", p->pid);

    /* Perfetto shows labels after the name: how the process started
     * and how it ended are what one looks for first. */
    char labels[160];
    snprintf(labels, sizeof(labels), "pid %" PRId64 ", ppid %" PRId64
             ", %s, %s", p->pid, p->ppid,
             p->start_method ? p->start_method : "unknown",
             mpp_exit_kind_name(p->exit_kind));
    s_event(out, first, "process_labels", "M", tpid, main_tid);
    fputs(", \"args\": {\"labels\": ", out);
    mpp_rep_json_str(out, labels);
    fputs("}}", out);

    s_event(out, first, "process_sort_index", "M", tpid, main_tid);
    fprintf(out, ", \"args\": {\"sort_index\": %zu}}", index);

    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        int64_t tid = s_trace_tid(t->tid);
        s_event(out, first, "thread_name", "M", tpid, tid);
        fputs(", \"args\": {\"name\": ", out);
        if (t->name != NULL) {
            mpp_rep_json_str(out, t->name);
        }
        else {
            char buf[48];
            snprintf(buf, sizeof(buf), "thread %" PRIu32,
                     MPP_TID_KERNEL(t->tid));
            mpp_rep_json_str(out, buf);
        }
        fputs("}}", out);
        /* The main thread first, then the others in the order they
         * were sent, which is roughly the order they started. */
        s_event(out, first, "thread_sort_index", "M", tpid, tid);
        fprintf(out, ", \"args\": {\"sort_index\": %zu}}",
                tid == main_tid ? (size_t)0 : i + 1);
    }
}

/* The process's lifetime, on its main thread.  A process with no wall
 * time (it sent no BYE, or sent nothing after its HELLO) still gets a
 * zero-length slice, so its track shows where it started.  The slice is
 * widened to hold every span of its thread: the start-up span begins at
 * the kernel's start time, which the process's own start can follow by
 * a few microseconds, and the viewers take a slice that overlaps another
 * without containing it for a broken trace. */
static void
s_proc_life(FILE *out, bool *first, const mpp_session_t *s,
            const mpp_proc_t *p, int64_t tpid)
{
    int64_t start = p->start_ns;
    int64_t end = mpp_add_sat_i64(start, p->wall_ns > 0 ? p->wall_ns : 0);
    int64_t main_tid = s_main_tid(p);
    for (size_t i = 0; i < p->nthreads; i++) {
        const mpp_thread_t *t = &p->threads[i];
        if (s_trace_tid(t->tid) != main_tid) {
            continue;
        }
        for (size_t k = 0; k < t->nspans; k++) {
            const mpp_span_t *sp = &t->spans[k];
            int64_t e = mpp_add_sat_i64(sp->start_ns,
                                        sp->dur_ns > 0 ? sp->dur_ns : 0);
            start = sp->start_ns < start ? sp->start_ns : start;
            end = e > end ? e : end;
        }
    }
    const char *label = mpp_rep_proc_label(s, p);
    char name[160];
    snprintf(name, sizeof(name), "%s (pid %" PRId64 ")",
             label != NULL ? label : "process", p->pid);
    s_event(out, first, name, "X", tpid, main_tid);
    fputs(", \"cat\": \"process\", \"ts\": ", out);
    s_us(out, s_rel(s, start));
    fputs(", \"dur\": ", out);
    s_us(out, end - start);
    fprintf(out, ", \"args\": {\"pid\": %" PRId64 ", \"ppid\": %" PRId64
            ", \"start_method\": ", p->pid, p->ppid);
    mpp_rep_json_str(out, p->start_method);
    fputs(", \"exit\": ", out);
    mpp_rep_json_str(out, mpp_exit_kind_name(p->exit_kind));
    fprintf(out, ", \"exit_code\": %" PRId32 ", \"cpu_us\": ", p->exit_code);
    s_us(out, p->cpu_ns);
    fputs("}}", out);
}

/* Orders spans by start, the longer first at equal starts, so that a
 * span comes after every span that contains it. */
static int
s_by_start(const void *a, const void *b, void *ctx)
{
    const mpp_span_t *sp = ctx;
    const mpp_span_t *x = &sp[*(const uint32_t *)a];
    const mpp_span_t *y = &sp[*(const uint32_t *)b];
    if (x->start_ns != y->start_ns) {
        return x->start_ns < y->start_ns ? -1 : 1;
    }
    if (x->dur_ns != y->dur_ns) {
        return x->dur_ns > y->dur_ns ? -1 : 1;
    }
    return 0;
}

/*  Spans are whole intervals, while the categories are exclusive (an IPC
 *  wait inside a lock wait counts only as IPC wait), so the slices of a
 *  category add up to its total only through their own time: args.self_us
 *  gives it, so a reader can check the one against the other, and the
 *  callgrind writer charges it (see mpp_output_priv.h). */
int64_t *
mpp_span_self_ns(const mpp_thread_t *t)
{
    size_t n = t->nspans;
    int64_t *self = malloc((n ? n : 1) * sizeof(*self));
    uint32_t *ix = malloc((n ? n : 1) * sizeof(*ix));
    uint32_t *stack = malloc((n ? n : 1) * sizeof(*stack));
    if (self == NULL || ix == NULL || stack == NULL || n > UINT32_MAX) {
        free(self);
        free(ix);
        free(stack);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        ix[i] = (uint32_t)i;
        self[i] = t->spans[i].dur_ns > 0 ? t->spans[i].dur_ns : 0;
    }
    qsort_r(ix, n, sizeof(*ix), s_by_start, t->spans);
    size_t depth = 0;
    for (size_t k = 0; k < n; k++) {
        const mpp_span_t *sp = &t->spans[ix[k]];
        int64_t end = mpp_add_sat_i64(sp->start_ns, self[ix[k]]);
        while (depth > 0) {
            const mpp_span_t *top = &t->spans[stack[depth - 1]];
            if (mpp_add_sat_i64(top->start_ns, top->dur_ns) > sp->start_ns) {
                break;
            }
            depth--;
        }
        if (depth > 0) {
            /* Only the part inside the parent: the collector closes an
             * inner interval before its outer one, but the wire may say
             * anything. */
            const mpp_span_t *top = &t->spans[stack[depth - 1]];
            int64_t top_end = mpp_add_sat_i64(top->start_ns, top->dur_ns);
            int64_t inner = (end < top_end ? end : top_end) - sp->start_ns;
            self[stack[depth - 1]] -= inner;
            if (self[stack[depth - 1]] < 0) {
                self[stack[depth - 1]] = 0;
            }
        }
        stack[depth++] = ix[k];
    }
    free(ix);
    free(stack);
    return self;
}

/* The category spans of one thread, each a slice named after its
 * category (the name Perfetto colours and groups by). */
static int
s_thread_spans(FILE *out, bool *first, const mpp_session_t *s,
               const mpp_thread_t *t, int64_t tpid)
{
    int64_t tid = s_trace_tid(t->tid);
    int64_t *self = mpp_span_self_ns(t);
    if (self == NULL) {
        return MPP_ENOMEM;
    }
    for (size_t i = 0; i < t->nspans; i++) {
        const mpp_span_t *sp = &t->spans[i];
        const char *cat = sp->cat < MPP_CAT_COUNT
                              ? mpp_cat_name((mpp_cat_t)sp->cat)
                              : "other";
        s_event(out, first, cat, "X", tpid, tid);
        fputs(", \"cat\": ", out);
        mpp_rep_json_str(out, cat);
        fputs(", \"ts\": ", out);
        s_us(out, s_rel(s, sp->start_ns));
        fputs(", \"dur\": ", out);
        s_us(out, sp->dur_ns > 0 ? sp->dur_ns : 0);
        fputs(", \"args\": {\"function\": ", out);
        if (s_func_str(out, s, sp->func) != 0) {
            free(self);
            return MPP_ENOMEM;
        }
        fprintf(out, ", \"bytes\": %" PRIu64 ", \"self_us\": ", sp->bytes);
        s_us(out, self[i]);
        fputs("}}", out);
    }
    free(self);
    return 0;
}

int
mpp_trace_write(const mpp_session_t *s, FILE *out)
{
    if (s == NULL || out == NULL) {
        return MPP_EINVAL;
    }
    bool first = true;
    int rc = 0;
    fputs("{\"traceEvents\": [", out);
    for (size_t i = 0; i < s->nprocs && rc == 0; i++) {
        const mpp_proc_t *p = &s->procs[i];
        int64_t tpid = s_trace_pid(s, i);
        s_proc_meta(out, &first, s, p, i, tpid);
        s_proc_life(out, &first, s, p, tpid);
        for (size_t k = 0; k < p->nthreads && rc == 0; k++) {
            rc = s_thread_spans(out, &first, s, &p->threads[k], tpid);
        }
    }
    fputs(first ? "],\n" : "\n],\n", out);
    /* otherData is shown by chrome://tracing's metadata view; the session
     * start lets a reader map the relative timestamps back to wall time. */
    fputs(" \"displayTimeUnit\": \"ms\",\n \"otherData\": {\"creator\": ",
          out);
    char creator[64];
    snprintf(creator, sizeof(creator), "mpprof %s",
             s->mpprof_version ? s->mpprof_version : MPPROF_VERSION_STRING);
    mpp_rep_json_str(out, creator);
    fprintf(out, ", \"start_ns\": %" PRId64 ", \"exit_status\": %" PRId32
            "}}\n", s->start_ns, s->exit_status);
    if (rc == 0 && ferror(out)) {
        rc = -EIO;
    }
    return rc;
}
