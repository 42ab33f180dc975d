/*  The text report, printed at the end of `run` and saved as report.txt.
 *  It leads with what a person can act on (where the time went, the
 *  leading cost, its top call site and a hint), then the tables: processes,
 *  time per process and per thread, the top call sites per category, the
 *  function table exactly as pstats prints it, and integrity problems.
 *  Every line but the pstats rows stays within MPP_REP_WIDTH columns.
 */
#include "mpp_report_priv.h"

#include <inttypes.h>
#include <string.h>

#define S_TEXT_LIMIT 30 /* function rows when opts->limit is 0 */
#define S_SITE_ROWS 10  /* rows per call-site table */
#define S_NAME_COLS 60  /* longest name in a headline */

/* ---- the lines a person acts on ----------------------------------------- */

static const char *const s_hint[MPP_CAT_COUNT] = {
    "Hint: send less per task: pass indices or file names rather than large "
    "objects, return only what the parent needs, raise chunksize, or share "
    "memory (multiprocessing.shared_memory).",
    "Hint: send less per task: pass indices or file names rather than large "
    "objects, return only what the parent needs, raise chunksize, or share "
    "memory (multiprocessing.shared_memory).",
    "Hint: threads queue on a shared lock (see the lock-wait sites below): "
    "hold shared locks for less time, or give each worker its own state.",
    "Hint: processes wait for data to move through pipes: give each task "
    "more work (a larger chunksize), and check for tasks of uneven size "
    "that leave workers idle.",
    "Hint: start workers once and reuse them (one Pool for all batches); "
    "fork and forkserver start faster than spawn.",
};

/* Without workers, only threads can queue on a lock. */
static const char s_thread_lock_hint[] =
    "Hint: threads queue on a shared lock (see the lock-wait sites below): "
    "hold shared locks for less time, or give each thread its own state.";

/* Imbalance needs workers, so a program without them never gets it. */
static const char s_imbalance_hint[] =
    "Hint: a few long tasks kept one worker busy while the others waited: "
    "split long tasks into smaller ones, send the longest first, lower "
    "chunksize, or use imap_unordered so that free workers take the next "
    "task.";

/* IPC wait in a program that ran a Manager: its proxies' round trips. */
static const char s_manager_hint[] =
    "Hint: each call on a Manager's proxy (its dict, list or Queue) is a "
    "round trip to the Manager's server process: make fewer, larger calls "
    "(update() with many items at once), or keep the data in the process "
    "that uses it.";

const char *
mpp_rep_manager_hint(void)
{
    return s_manager_hint;
}

/*  Every hint but the lock's speaks of workers and tasks, so a program
 *  that ran no worker gets none of them. */
const char *
mpp_rep_hint(int cat, bool parallel)
{
    if (cat == MPP_REP_LEAD_IMBALANCE) {
        return parallel ? s_imbalance_hint : NULL;
    }
    if (cat < 0 || cat >= MPP_CAT_COUNT) {
        return NULL;
    }
    if (!parallel) {
        return cat == MPP_CAT_LOCK_WAIT ? s_thread_lock_hint : NULL;
    }
    return s_hint[cat];
}

/* One share of "where the time went": "lock wait 7% (200 ms, 1.0 kB)". */
static void
s_txt_share(char *line, size_t size, const char *brief, int64_t ns,
            uint64_t nbytes, int64_t whole, bool first)
{
    char item[128], pct[16], sec[32], bytes[32];
    mpp_rep_pct(pct, sizeof(pct), ns, whole);
    mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(ns));
    mpp_rep_fmt_bytes(bytes, sizeof(bytes), nbytes);
    snprintf(item, sizeof(item), "%s %s", brief, pct);
    if (ns > 0 && !first) {
        mpp_rep_add(item, sizeof(item), " (%s%s%s)", sec, nbytes ? ", " : "",
                    nbytes ? bytes : "");
    }
    mpp_rep_nbsp(item);
    mpp_rep_add(line, size, "%s%s", first ? "  " : ", ", item);
}

/*  Compute, the five categories, then idle and other wait when there
 *  were any: together they are the thread time. */
static void
s_txt_where(const mpp_rep_time_t *tm, ssize_t proc, FILE *out)
{
    char line[1024] = "";
    int64_t whole = tm->thread_ns;
    fprintf(out, "\nWhere the time went (%s, %.3f thread-seconds):\n",
            proc < 0 ? "all processes" : "this process", mpp_rep_sec(whole));
    s_txt_share(line, sizeof(line), "compute", tm->rest.compute_ns, 0, whole,
                true);
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        s_txt_share(line, sizeof(line), mpp_catalog_cat(c)->brief,
                    (int64_t)tm->cat[c].ns, tm->cat[c].bytes, whole, false);
    }
    if (tm->rest.idle_ns > 0) {
        s_txt_share(line, sizeof(line), "idle", tm->rest.idle_ns, 0, whole,
                    false);
    }
    if (tm->rest.other_wait_ns > 0) {
        s_txt_share(line, sizeof(line), "other wait", tm->rest.other_wait_ns,
                    0, whole, false);
    }
    mpp_rep_para(out, line, 2);
}

/* "pool.py:_handle_tasks → ForkingPickler.dumps (480 calls, 240.0 MB)" */
static void
s_site_phrase(const mpp_session_t *s, const mpp_rep_site_t *site, char *buf,
              size_t size)
{
    char fn[512], caller[4 * S_NAME_COLS + 4], bytes[32];
    mpp_rep_short_func(fn, sizeof(fn), &s->funcs[site->caller], false);
    mpp_rep_clip(caller, sizeof(caller), fn, S_NAME_COLS);
    mpp_rep_fmt_bytes(bytes, sizeof(bytes), site->bytes);
    snprintf(buf, size, "%s \xe2\x86\x92 %s (%" PRIu64 " call%s%s%s)", caller,
             mpp_rep_site_via(s, site), site->count,
             site->count == 1 ? "" : "s", site->bytes ? ", " : "",
             site->bytes ? bytes : "");
}

/* One paragraph about waiting left out of the leading cost, if any. */
static void
s_idle_wait(FILE *out, int64_t ns, const char *fmt)
{
    char line[512], sec[32];
    if (ns <= 0) {
        return;
    }
    mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(ns));
    snprintf(line, sizeof(line), fmt, sec);
    mpp_rep_para(out, line, 2);
}

/*  The leading cost when it is moving data (mpp_rep_moving_data): the
 *  verdict's seconds and its parts, those that had time. */
static void
s_moving_line(const mpp_rep_time_t *tm, int64_t ns, char *line, size_t size)
{
    char sec[32];
    const struct {
        const char *what;
        int64_t ns;
    } part[] = {
        {"pickling", tm->lead_ns[MPP_CAT_PICKLE]},
        {"unpickling", tm->lead_ns[MPP_CAT_UNPICKLE]},
        {"pipe transfers (both ends)", tm->transfer_ns},
        {"workers queued behind transfers", tm->behind_ns},
    };
    mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(ns));
    snprintf(line, size,
             "Leading cost: moving data \xe2\x80\x94 %s in %" PRIu32
             " process%s:",
             sec, tm->move_procs, tm->move_procs == 1 ? "" : "es");
    const char *sep = " ";
    for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
        if (part[i].ns > 0) {
            mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(part[i].ns));
            mpp_rep_add(line, size, "%s%s %s", sep, part[i].what, sec);
            sep = ", ";
        }
    }
}

static int
s_txt_lead(const mpp_session_t *s, const mpp_rep_time_t *tm, ssize_t proc,
           FILE *out)
{
    char line[1024], sec[32], phrase[768];
    mpp_rep_verdict_t vd;
    mpp_rep_verdict(tm, &vd);
    int c = vd.lead;
    if (c < 0) {
        fputs("Leading cost: none measured; no time went to pickling, "
              "locks, IPC or start-up.\n",
              out);
    }
    else if (c == MPP_REP_LEAD_COMPUTE) {
        mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(vd.ns));
        snprintf(line, sizeof(line),
                 "Leading cost: compute \xe2\x80\x94 %s in %" PRIu32
                 " process%s (%.0f%% of the thread time): the program's own "
                 "work, on a CPU, more than any overhead measured.",
                 sec, tm->compute_procs, tm->compute_procs == 1 ? "" : "es",
                 vd.share * 100.0);
        mpp_rep_para(out, line, 2);
    }
    else if (c == MPP_REP_LEAD_IMBALANCE) {
        mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(vd.ns));
        snprintf(line, sizeof(line),
                 "Leading cost: load imbalance \xe2\x80\x94 %s in %" PRIu32
                 " worker%s (%.0f%% of the workers' time): workers sat idle "
                 "while a peer still worked on its tasks.",
                 sec, tm->imb.procs, tm->imb.procs == 1 ? "" : "s",
                 tm->imb.capacity_ns > 0
                     ? 100.0 * (double)vd.ns / (double)tm->imb.capacity_ns
                     : 0.0);
        mpp_rep_para(out, line, 2);
    }
    else {
        mpp_rep_sites_t sites;
        int rc = mpp_rep_sites(s, proc, true, &sites);
        if (rc != 0) {
            mpp_rep_sites_free(&sites);
            return rc;
        }
        bool moving = (c == MPP_CAT_PICKLE || c == MPP_CAT_UNPICKLE) &&
                      mpp_rep_moving_data(tm);
        if (moving) {
            s_moving_line(tm, vd.ns, line, sizeof(line));
        }
        else {
            mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(tm->lead_ns[c]));
            snprintf(line, sizeof(line),
                     "Leading cost: %s \xe2\x80\x94 %s in %" PRIu32
                     " process%s",
                     mpp_catalog_cat(c)->title, sec, tm->lead_procs[c],
                     tm->lead_procs[c] == 1 ? "" : "es");
        }
        if (c == MPP_CAT_STARTUP && vd.ns < tm->lead_ns[c]) {
            /* What the verdict weighs (mpp_rep_lead_rank), so the JSON's
             * seconds can be found in the text. */
            mpp_rep_fmt_secs(sec, sizeof(sec), mpp_rep_sec(vd.ns));
            mpp_rep_add(line, sizeof(line), " (%s of it on a CPU)", sec);
        }
        if (sites.first[c] < sites.first[c + 1]) {
            s_site_phrase(s, &sites.site[sites.first[c]], phrase,
                          sizeof(phrase));
            mpp_rep_add(line, sizeof(line), "; top site: %s", phrase);
        }
        mpp_rep_sites_free(&sites);
        mpp_rep_para(out, line, 2);
    }
    s_idle_wait(out, tm->pipe_wait_ns,
                "The workers waited %s on pipes and their queues' read "
                "locks (starved of tasks or blocked sending results): idle "
                "while another process works, so not counted as the "
                "leading cost either.");
    s_idle_wait(out, tm->main_wait_ns,
                tm->pool_parents == 0
                    ? "The main process waited %s (lock and IPC wait, all "
                      "its threads) for its workers: idle while they work, "
                      "so not counted as the leading cost."
                    : "The main process and the workers running pools of "
                      "their own waited %s (lock and IPC wait, all their "
                      "threads) for their workers: idle while those work, "
                      "so not counted as the leading cost.");
    s_idle_wait(out, tm->helper_wait_ns,
                "Helper processes (a Manager's server, the fork server) "
                "waited %s for requests: idle, so not counted as the "
                "leading cost either.");
    if (vd.hint != NULL) {
        mpp_rep_para(out, vd.hint, 2);
    }
    return 0;
}

/* ---- tables ------------------------------------------------------------- */

static void
s_txt_header(const mpp_session_t *s, const mpp_view_t *v, FILE *out)
{
    uint64_t pcalls = 0;
    for (size_t f = 0; f < v->nfuncs; f++) {
        pcalls += v->func[f].pcalls;
    }
    fprintf(out, "mpprof %s:", s->mpprof_version ? s->mpprof_version
                                                 : MPPROF_VERSION_STRING);
    for (size_t i = 0; i < s->ncommand; i++) {
        fputc(' ', out);
        mpp_rep_txt(out, s->command[i]);
    }
    fputs("\n  python ", out);
    mpp_rep_txt(out, mpp_rep_python(s) ? mpp_rep_python(s) : "unknown");
    fprintf(out, ", wall %.3f s, exit status %" PRId32 "\n",
            mpp_rep_sec(s->wall_ns), s->exit_status);
    fprintf(out,
            "  %zu process%s, %" PRIu64 " function calls (%" PRIu64
            " primitive calls)\n",
            s->nprocs, s->nprocs == 1 ? "" : "es", v->total_calls, pcalls);
}

static void
s_txt_processes(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    fprintf(out, "\nProcesses\n%8s %8s  %-20s %-10s %9s %9s %10s %7s  %s\n",
            "pid", "ppid", "name", "start", "wall s", "cpu s", "calls",
            "threads", "exit");
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        char exit[32];
        mpp_rep_exit_str(p, exit, sizeof(exit));
        /* A multi-host session lists its processes host by host (mpprof
         * collect orders them so): each host opens its group. */
        if (p->host != NULL &&
            (i == 0 || s->procs[i - 1].host == NULL ||
             strcmp(s->procs[i - 1].host, p->host) != 0)) {
            fputs("host ", out);
            mpp_rep_txt(out, p->host);
            if (p->clocked) {
                fprintf(out, " (clock aligned by %+.3f ms, +/- %.3f ms)",
                        (double)p->clock_offset_ns / 1e6,
                        (double)p->clock_err_ns / 1e6);
            }
            fputc('\n', out);
        }
        fprintf(out, "%8" PRId64 " %8" PRId64 "  ", p->pid, p->ppid);
        mpp_rep_col(out, mpp_rep_proc_label(s, p), 20);
        fputc(' ', out);
        mpp_rep_col(out, p->start_method, 10);
        fprintf(out, " %9.3f %9.3f %10" PRIu64 " %7zu  %s",
                mpp_rep_sec(p->wall_ns), mpp_rep_sec(p->cpu_ns),
                mpp_proc_calls(p),
                p->nthreads, exit);
        if (p->ranked) {
            fprintf(out, "  rank %" PRId64, p->rank);
        }
        if (p->worker != NULL) {
            fputs("  worker ", out);
            mpp_rep_txt(out, p->worker);
        }
        fputc('\n', out);
    }
}

/* compute and the five categories, in seconds. */
static void
s_txt_cat_cols(FILE *out, int64_t compute_ns, const mpp_catval_t *cat)
{
    fprintf(out, " %8.3f", mpp_rep_sec(compute_ns));
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, " %8.3f", mpp_rep_sec((int64_t)cat[c].ns));
    }
    fputc('\n', out);
}

static void
s_txt_cat_heads(FILE *out)
{
    fprintf(out, " %8s", "compute");
    for (int c = 0; c < MPP_CAT_COUNT; c++) {
        fprintf(out, " %8s", mpp_catalog_cat(c)->head);
    }
    fputc('\n', out);
}

static void
s_txt_proc_time(const mpp_session_t *s, ssize_t proc, bool parallel,
                FILE *out)
{
    fputs("\nTime per process (thread-seconds; lock = lock wait, "
          "IPC = IPC wait; the rest is idle or other wait)\n",
          out);
    fprintf(out, "%7s  %-20s %9s", "pid", "name", "thread-s");
    s_txt_cat_heads(out);
    for (size_t i = 0; i < s->nprocs; i++) {
        if (proc >= 0 && (size_t)proc != i) {
            continue;
        }
        const mpp_proc_t *p = &s->procs[i];
        mpp_catval_t cat[MPP_CAT_COUNT];
        mpp_rep_rest_t rest;
        int64_t ns = mpp_rep_proc_thread_ns(p);
        mpp_proc_cats(p, cat);
        mpp_rep_proc_rest(s, p, parallel, &rest);
        fprintf(out, "%7" PRId64 "  ", p->pid);
        mpp_rep_col(out, mpp_rep_proc_label(s, p), 20);
        fprintf(out, " %9.3f", mpp_rep_sec(ns));
        s_txt_cat_cols(out, rest.compute_ns, cat);
    }
}

static void
s_txt_threads(const mpp_session_t *s, ssize_t proc, bool parallel, FILE *out)
{
    fputs("\nThreads (seconds)\n", out);
    fprintf(out, "%7s  %-26s %10s", "pid", "thread", "calls");
    s_txt_cat_heads(out);
    for (size_t i = 0; i < s->nprocs; i++) {
        const mpp_proc_t *p = &s->procs[i];
        for (size_t j = 0; j < p->nthreads && (proc < 0 || (size_t)proc == i);
             j++) {
            const mpp_thread_t *t = &p->threads[j];
            mpp_rep_rest_t rest;
            mpp_rep_thread_rest(s, p, t, parallel, &rest);
            fprintf(out, "%7" PRId64 "  ", p->pid);
            mpp_rep_col(out, t->name, 26);
            fprintf(out, " %10" PRIu64, mpp_rep_thread_cost(t).ncalls);
            s_txt_cat_cols(out, rest.compute_ns, t->cat);
        }
    }
}

static const char *const s_site_title[MPP_CAT_COUNT] = {
    "Top pickling sites (function \xe2\x86\x92 pickler; time includes "
    "callees; bytes as measured)",
    "Top unpickling sites (function \xe2\x86\x92 unpickler; time includes "
    "callees)",
    "Top lock-wait sites (function that waited, on which lock type; "
    "time includes callees)",
    "Top IPC-wait sites (function \xe2\x86\x92 pipe operation; time "
    "includes callees)",
    NULL,
};

static void
s_txt_site_rows(const mpp_session_t *s, const mpp_rep_sites_t *sites, int c,
                FILE *out)
{
    size_t first = sites->first[c], end = sites->first[c + 1];
    fprintf(out, "%9s %10s %9s  %-22s %-8s  %s\n", "seconds", "calls",
            "bytes", c == MPP_CAT_LOCK_WAIT ? "lock type" : "via",
            "process", "function");
    for (size_t i = first; i < end && i - first < S_SITE_ROWS; i++) {
        const mpp_rep_site_t *site = &sites->site[i];
        const mpp_rep_root_t *r =
            site->callee < s->nfuncs ? mpp_rep_root(&s->funcs[site->callee])
                                     : NULL;
        char bytes[32] = "-", procs[32], fn[512], clip[4 * MPP_REP_WIDTH + 4];
        if (site->bytes) {
            mpp_rep_fmt_bytes(bytes, sizeof(bytes), site->bytes);
        }
        if (site->npids == 1) {
            snprintf(procs, sizeof(procs), "%" PRId64, site->pids[0]);
        }
        else {
            snprintf(procs, sizeof(procs), "%zu procs", site->npids);
        }
        fprintf(out, "%9.3f %10" PRIu64 " %9s  ", mpp_rep_sec(site->ns),
                site->count, bytes);
        mpp_rep_col(out, r && r->lock ? r->lock : mpp_rep_site_via(s, site),
                    22);
        fputc(' ', out);
        mpp_rep_col(out, procs, 8);
        fputs("  ", out);
        mpp_rep_short_func(fn, sizeof(fn), &s->funcs[site->caller], true);
        mpp_rep_clip(clip, sizeof(clip), fn, MPP_REP_WIDTH - 65);
        fprintf(out, "%s\n", clip);
    }
    if (end - first > S_SITE_ROWS) {
        fprintf(out, "  ... %zu more\n", end - first - S_SITE_ROWS);
    }
}

/* Lock waits and pickling always, as the issue asks; the other two only
 * when they happened. */
static int
s_txt_sites(const mpp_session_t *s, ssize_t proc, FILE *out)
{
    static const int order[] = {MPP_CAT_LOCK_WAIT, MPP_CAT_PICKLE,
                                MPP_CAT_UNPICKLE, MPP_CAT_IPC_WAIT};
    mpp_rep_sites_t sites;
    int rc = mpp_rep_sites(s, proc, false, &sites);
    for (size_t k = 0; k < MPP_ARRAY_SIZE(order) && rc == 0; k++) {
        int c = order[k];
        bool any = sites.first[c] < sites.first[c + 1];
        if (!any && (c == MPP_CAT_UNPICKLE || c == MPP_CAT_IPC_WAIT)) {
            continue;
        }
        fprintf(out, "\n%s\n", s_site_title[c]);
        if (any) {
            s_txt_site_rows(s, &sites, c, out);
        }
        else {
            fputs("  none measured\n", out);
        }
    }
    mpp_rep_sites_free(&sites);
    return rc;
}

static const char *
s_sort_name(mpp_sort_t sort)
{
    return sort == MPP_SORT_TOTTIME ? "internal time"
           : sort == MPP_SORT_CALLS ? "call count"
                                    : "cumulative time";
}

/* The function table exactly as pstats.print_stats lays it out. */
static void
mpp_rep_txt_functions(const mpp_rep_row_t *rows, size_t nrows, size_t limit,
                mpp_sort_t sort, ssize_t proc, FILE *out)
{
    size_t shown = nrows < limit ? nrows : limit;
    fprintf(out, "\nFunctions (%s), ordered by %s",
            proc < 0 ? "all processes merged" : "this process",
            s_sort_name(sort));
    if (shown < nrows) {
        fprintf(out, "; %zu of %zu shown", shown, nrows);
    }
    fputs("\n\n   ncalls  tottime  percall  cumtime  percall "
          "filename:lineno(function)\n",
          out);
    for (size_t i = 0; i < shown; i++) {
        const mpp_cost_t *c = &rows[i].cost;
        char calls[48];
        if (c->ncalls != c->pcalls) {
            snprintf(calls, sizeof(calls), "%" PRIu64 "/%" PRIu64, c->ncalls,
                     c->pcalls);
        }
        else {
            snprintf(calls, sizeof(calls), "%" PRIu64, c->ncalls);
        }
        fprintf(out, "%9s %8.3f ", calls, mpp_rep_sec(c->tt_ns));
        if (c->ncalls > 0) {
            fprintf(out, "%8.3f ", mpp_rep_sec(c->tt_ns) / (double)c->ncalls);
        }
        else {
            fputs("         ", out);
        }
        fprintf(out, "%8.3f ", mpp_rep_sec(c->ct_ns));
        if (c->pcalls > 0) {
            fprintf(out, "%8.3f ", mpp_rep_sec(c->ct_ns) / (double)c->pcalls);
        }
        else {
            fputs("         ", out);
        }
        mpp_rep_txt_func(out, rows[i].fn);
        fputc('\n', out);
    }
}

/* Said only when something was lost, so a clean run stays quiet. */
static void
s_txt_integrity(const mpp_session_t *s, FILE *out)
{
    const mpp_integrity_t *in = &s->integrity;
    size_t lost = 0;
    for (size_t i = 0; i < s->nprocs; i++) {
        lost += mpp_rep_proc_lost(&s->procs[i]);
    }
    if (in->rejected == 0 && in->seq_gaps == 0 && in->processes_lost == 0 &&
        in->dropped_events == 0 && lost == 0) {
        return;
    }
    char line[2048], name[4 * 40 + 4];
    snprintf(line, sizeof(line),
             "Integrity: %" PRIu64 " messages, %" PRIu64 " rejected, %" PRIu64
             " sequence gaps, %" PRIu64 " dropped events, %" PRIu64
             " processes lost",
             in->messages, in->rejected, in->seq_gaps, in->dropped_events,
             in->processes_lost > lost ? in->processes_lost : (uint64_t)lost);
    const char *sep = " (ended without final data:";
    for (size_t i = 0; i < s->nprocs; i++) {
        if (mpp_rep_proc_lost(&s->procs[i])) {
            mpp_rep_clip(name, sizeof(name), s->procs[i].name, 40);
            mpp_rep_nbsp(name);
            mpp_rep_add(line, sizeof(line),
                        "%s %" PRId64 MPP_REP_NBSP "%s", sep,
                  s->procs[i].pid, name);
            sep = ",";
        }
    }
    mpp_rep_add(line, sizeof(line), "%s", lost ? ")" : "");
    fputc('\n', out);
    mpp_rep_para(out, line, 2);
}

int
mpp_report_text(const mpp_session_t *s, const mpp_report_opts_t *o,
                FILE *out)
{
    mpp_rep_t r;
    int rc = mpp_rep_begin(&r, s, o, S_TEXT_LIMIT, out);
    if (rc != 0) {
        return rc;
    }
    ssize_t proc = r.o.proc;
    s_txt_header(s, r.v, out);
    s_txt_where(&r.tm, proc, out);
    rc = s_txt_lead(s, &r.tm, proc, out);
    if (rc == 0) {
        s_txt_processes(s, proc, out);
        s_txt_proc_time(s, proc, r.tm.parallel, out);
        s_txt_threads(s, proc, r.tm.parallel, out);
        rc = s_txt_sites(s, proc, out);
    }
    if (rc == 0) {
        mpp_rep_txt_functions(r.rows, r.nrows, r.limit, r.o.sort, proc, out);
        s_txt_integrity(s, out);
    }
    return mpp_rep_end(&r, rc, out);
}
