/*  The mpprof command line: subcommands, --help, --version, and the
 *  `report` and `compare` subcommands (see mpp_launcher.h).
 *
 *  Every error is one line on stderr; a usage error adds a pointer to
 *  --help and exits 2.
 */
#include "mpp_launcher.h"
#include "mpp_runform.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "mpprof: ", the message, then `tail` (a newline at least), on stderr. */
static void
s_vsay(const char *tail, const char *fmt, va_list ap)
{
    fputs("mpprof: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(tail, stderr);
}

void
mpp_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vsay("\n", fmt, ap);
    va_end(ap);
}

static int __attribute__((format(printf, 1, 2)))
s_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vsay("\nTry 'mpprof --help'.\n", fmt, ap);
    va_end(ap);
    return 2;
}

int
mpp_cli_usage_error(const char *what)
{
    return s_usage_error("%s", what);
}

static bool
s_is(const char *arg, const char *a, const char *b)
{
    return strcmp(arg, a) == 0 || (b != NULL && strcmp(arg, b) == 0);
}

/*  Matches argv[*i] against an option with a value, written "-o V",
 *  "-oV", "--output V" or "--output=V" (either spelling may be NULL).
 *  Returns 1 with *value set and *i on the value's index, 0 when
 *  argv[*i] is another option, -1 when the value is missing (reported). */
static int
s_opt_value(int argc, char **argv, int *i, const char *shortopt,
            const char *longopt, const char **value)
{
    const char *a = argv[*i];
    size_t n = longopt != NULL ? strlen(longopt) : 0;

    if (shortopt != NULL && a[0] == '-' && a[1] == shortopt[1] &&
        a[1] != '-') {
        if (a[2] != '\0') {
            *value = a + 2;
            return 1;
        }
    }
    else if (longopt != NULL && strncmp(a, longopt, n) == 0 &&
             a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    else if (longopt == NULL || strcmp(a, longopt) != 0) {
        return 0;
    }
    if (*i + 1 >= argc) {
        s_usage_error("option '%s' needs a value", a);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

/* Parses a whole decimal number in [min, max]. */
static bool s_parse_long(const char *s, long min, long max, long *out);

int
mpp_cli_value(int argc, char **argv, int *i, const char *shortopt,
              const char *longopt, const char **value)
{
    return s_opt_value(argc, argv, i, shortopt, longopt, value);
}

bool
mpp_cli_long(const char *s, long min, long max, long *out)
{
    return s_parse_long(s, min, max, out);
}

static bool
s_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

/*  The writers report a failed stdout as -EIO from ferror(); stdio keeps
 *  the unwritten bytes, so one more flush fails again and tells the real
 *  cause (ENOSPC on a full disk, EPIPE on a closed pipe). */
static int
s_flush_stdout(int rc)
{
    if (rc != 0 && rc != -EIO) {
        return rc;
    }
    errno = 0;
    if (fflush(stdout) != 0) {
        return errno != 0 ? -errno : -EIO;
    }
    return rc;
}

/*  Loads a PROFILE argument, saying in one line why it cannot be read.
 *  A directory that is not an output directory gets its own words, since
 *  the file that is missing is one the user never named. */
static int
s_load(const char *path, mpp_session_t **s)
{
    struct stat st;
    int rc = mpp_sessfile_load(path, s);
    if (rc == -ENOENT && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        mpp_say("cannot read '%s': a directory without session.mpprof, "
                "so not an mpprof output directory", path);
    }
    else if (rc != 0) {
        mpp_say("cannot read '%s': %s", path, mpp_strerror(rc));
    }
    return rc;
}

/* ---- run -------------------------------------------------------------- */

/*  Builds the command that follows the options: ["-m", MODULE, ARGS...],
 *  ["-c", CODE, ARGS...] or [SCRIPT, ARGS...]. */
static char **
s_make_command(const char *flag, const char *value, char **rest,
               size_t nrest, size_t *n)
{
    char **cmd = calloc(nrest + 3, sizeof(*cmd));
    size_t k = 0;
    if (cmd == NULL) {
        return NULL;
    }
    if (flag != NULL) {
        cmd[k++] = (char *)flag;
        cmd[k++] = (char *)value;
    }
    for (size_t j = 0; j < nrest; j++) {
        cmd[k++] = rest[j];
    }
    *n = k;
    return cmd;
}

static int
s_cmd_run(int argc, char **argv)
{
    mpp_run_opts_t o = {
        .outdir = "mpprof-out", .python = NULL, .interval_ms = 100,
        .kind = MPP_TARGET_SCRIPT,
    };
    mpp_runform_t form = {.kind = MPP_TARGET_SCRIPT};
    const char *interval = NULL, *module = NULL, *code = NULL;
    int i, m;

    for (i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            break;
        }
        if ((m = s_opt_value(argc, argv, &i, "-m", NULL, &module)) ||
            (m = s_opt_value(argc, argv, &i, "-c", NULL, &code))) {
            if (m < 0) {
                return 2;
            }
            i++;
            break;
        }
        if ((m = s_opt_value(argc, argv, &i, "-o", "--output",
                             &o.outdir)) ||
            (m = s_opt_value(argc, argv, &i, NULL, "--python",
                             &o.python)) ||
            (m = s_opt_value(argc, argv, &i, NULL, "--interval",
                             &interval)) ||
            (m = s_opt_value(argc, argv, &i, NULL, "--join", &o.join))) {
            if (m < 0) {
                return 2;
            }
            continue;
        }
        if (strcmp(a, "--fast") == 0) {
            /* The collector of every process reads it (mpp_monitor.h);
             * children inherit it with the rest of the environment. */
            if (setenv("MPPROF_MODE", "fast", 1) != 0) {
                mpp_say("%s", mpp_strerror(MPP_ENOMEM));
                return 2;
            }
            continue;
        }
        if (s_is(a, "-q", "--quiet")) {
            o.quiet = true;
            continue;
        }
        if (s_is(a, "-h", "--help")) {
            fputs(mpp_cli_usage_text, stdout);
            fputs(mpp_cli_help_text, stdout);
            return 0;
        }
        return s_usage_error("unknown option '%s' for run", a);
    }

    long ms = o.interval_ms;
    if (interval != NULL && !s_parse_long(interval, 1, 3600000, &ms)) {
        return s_usage_error("--interval needs milliseconds from 1 to "
                             "3600000, not '%s'", interval);
    }
    o.interval_ms = (int)ms;
    if (o.outdir[0] == '\0') {
        return s_usage_error("--output needs a directory");
    }
    if (module == NULL && code == NULL && i >= argc) {
        return s_usage_error("run needs a SCRIPT, -m MODULE or -c CODE");
    }
    size_t nrest = (size_t)(argc - i);
    char **cmd = NULL;
    if (module != NULL) {
        o.kind = MPP_TARGET_MODULE;
        cmd = s_make_command("-m", module, argv + i, nrest, &o.ncommand);
    }
    else if (code != NULL) {
        o.kind = MPP_TARGET_CODE;
        cmd = s_make_command("-c", code, argv + i, nrest, &o.ncommand);
    }
    else {
        /* `python3 [OPTS] ...`, a console script, or a script as ever
         * (mpp_runform.c). */
        int status = mpp_runform_parse(&form, o.python, argv + i, nrest);
        if (status != 0) {
            mpp_runform_fini(&form);
            return status;
        }
        if (form.python != NULL) {
            o.python = form.python;
        }
        o.kind = form.kind;
        o.pyopts = form.pyopts;
        o.npyopts = form.npyopts;
        o.command = form.command;
        o.ncommand = form.ncommand;
    }
    if (o.python == NULL) {
        o.python = "python3";
    }
    if (module != NULL || code != NULL) {
        if (cmd == NULL) {
            mpp_say("%s", mpp_strerror(MPP_ENOMEM));
            return 2;
        }
        o.command = cmd;
    }
    int status = mpp_run(&o);
    free(cmd);
    mpp_runform_fini(&form);
    return status;
}

/* ---- report ----------------------------------------------------------- */

static bool
s_parse_sort(const char *s, mpp_sort_t *out)
{
    /* pstats' own spellings are accepted too. */
    if (s_is(s, "cumulative", "cumtime")) {
        *out = MPP_SORT_CUMULATIVE;
    }
    else if (s_is(s, "tottime", "time")) {
        *out = MPP_SORT_TOTTIME;
    }
    else if (s_is(s, "calls", "ncalls")) {
        *out = MPP_SORT_CALLS;
    }
    else {
        return false;
    }
    return true;
}

/* A document `report` or `compare` writes: the sessions and the writer. */
typedef struct {
    const mpp_session_t *s[2];
    int (*write)(const mpp_session_t *s, FILE *out);
    int (*write2)(const mpp_session_t *a, const mpp_session_t *b, FILE *out);
} s_doc_t;

static int
s_doc_put(const s_doc_t *d, FILE *out)
{
    return d->write2 ? d->write2(d->s[0], d->s[1], out)
                     : d->write(d->s[0], out);
}

/*  `report --trace`, `report --html` and `compare --html`: a document
 *  (trace.json or report.html) to standard output or to FILE.  A file
 *  that cannot be written completely is removed, so that a viewer never
 *  opens half a trace or page.  Returns the exit status. */
static int
s_write_doc(const s_doc_t *d, const char *path, const char *what)
{
    if (path == NULL) {
        int rc = s_flush_stdout(s_doc_put(d, stdout));
        if (rc != 0) {
            mpp_say("cannot write the %s: %s", what, mpp_strerror(rc));
        }
        return rc != 0;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        mpp_say("cannot create '%s': %s", path, strerror(errno));
        return 1;
    }
    int rc = s_doc_put(d, f);
    if (fclose(f) != 0 && rc == 0) {
        rc = -errno;
    }
    if (rc != 0) {
        mpp_say("cannot write '%s': %s", path, mpp_strerror(rc));
        unlink(path);
        return 1;
    }
    return 0;
}

static int
s_cmd_report(int argc, char **argv)
{
    const char *profile = NULL, *sort = NULL, *limit = NULL;
    const char *process = NULL, *output = NULL, *host = NULL, *rank = NULL;
    mpp_report_opts_t ro = {.sort = MPP_SORT_CUMULATIVE, .proc = -1};
    bool json = false, trace = false, html = false, endopts = false;
    int m;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!endopts && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                endopts = true;
                continue;
            }
            if (strcmp(a, "--json") == 0) {
                json = true;
                continue;
            }
            if (strcmp(a, "--trace") == 0) {
                trace = true;
                continue;
            }
            if (strcmp(a, "--html") == 0) {
                html = true;
                continue;
            }
            if (s_is(a, "-h", "--help")) {
                fputs(mpp_cli_usage_text, stdout);
                fputs(mpp_cli_help_text, stdout);
                return 0;
            }
            if ((m = s_opt_value(argc, argv, &i, "-o", "--output",
                                 &output)) ||
                (m = s_opt_value(argc, argv, &i, NULL, "--sort", &sort)) ||
                (m = s_opt_value(argc, argv, &i, NULL, "--limit",
                                 &limit)) ||
                (m = s_opt_value(argc, argv, &i, NULL, "--process",
                                 &process)) ||
                (m = s_opt_value(argc, argv, &i, NULL, "--host", &host)) ||
                (m = s_opt_value(argc, argv, &i, NULL, "--rank", &rank))) {
                if (m < 0) {
                    return 2;
                }
                continue;
            }
            return s_usage_error("unknown option '%s' for report", a);
        }
        if (profile != NULL) {
            return s_usage_error("unexpected argument '%s'", a);
        }
        profile = a;
    }
    if (profile == NULL) {
        return s_usage_error("report needs a PROFILE (an output directory "
                             "or a session.mpprof file)");
    }
    if (output != NULL && !trace && !html) {
        return s_usage_error("--output is for --trace and --html");
    }
    if (trace && html) {
        return s_usage_error("--trace and --html are two files: ask for "
                             "one at a time");
    }
    if (trace && (json || process != NULL)) {
        return s_usage_error("--trace holds every process and is JSON "
                             "already: no --json or --process with it");
    }
    if (html && (json || process != NULL)) {
        return s_usage_error("--html holds every process (the page filters "
                             "them): no --json or --process with it");
    }
    if (sort != NULL && !s_parse_sort(sort, &ro.sort)) {
        return s_usage_error("--sort must be cumulative, tottime or calls, "
                             "not '%s'", sort);
    }
    long n;
    if (limit != NULL) {
        if (!s_parse_long(limit, 1, 1000000000L, &n)) {
            return s_usage_error("--limit needs a positive number, not "
                                 "'%s'", limit);
        }
        ro.limit = (size_t)n;
    }

    long rk = -1;
    if (rank != NULL && !s_parse_long(rank, 0, INT32_MAX, &rk)) {
        return s_usage_error("--rank needs a rank (0 or more), not '%s'",
                             rank);
    }
    mpp_session_t *s = NULL;
    int rc = s_load(profile, &s);
    if (rc != 0) {
        return 1;
    }
    int status = 0;
    if ((host != NULL || rank != NULL) &&
        mpp_select_procs(s, host, rk) == 0) {
        mpp_say("no process of %s%s%s%s in '%s'", host ? "host " : "",
                host ? host : "", host && rank ? " and " : "",
                rank ? "that rank" : "", profile);
        status = 1;
    }
    if (process != NULL &&
        (ro.proc = mpp_report_find_proc(s, process)) < 0) {
        mpp_say("no process '%s' in '%s'", process, profile);
        status = 1;
    }
    if (status == 0 && (trace || html)) {
        s_doc_t d = {.s = {s, NULL},
                     .write = trace ? mpp_trace_write : mpp_html_write};
        status = s_write_doc(&d, output, trace ? "trace" : "HTML report");
    }
    else if (status == 0) {
        rc = s_flush_stdout(json ? mpp_report_json(s, &ro, stdout)
                                 : mpp_report_text(s, &ro, stdout));
        if (rc != 0) {
            mpp_say("cannot write the report: %s", mpp_strerror(rc));
            status = 1;
        }
    }
    mpp_session_destroy(&s);
    return status;
}

/* ---- compare ---------------------------------------------------------- */

static int
s_cmd_compare(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL}, *output = NULL;
    mpp_session_t *sessions[2] = {NULL, NULL};
    size_t npaths = 0;
    bool json = false, html = false, endopts = false;
    int m;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!endopts && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                endopts = true;
            }
            else if (strcmp(a, "--json") == 0) {
                json = true;
            }
            else if (strcmp(a, "--html") == 0) {
                html = true;
            }
            else if (s_is(a, "-h", "--help")) {
                fputs(mpp_cli_usage_text, stdout);
                fputs(mpp_cli_help_text, stdout);
                return 0;
            }
            else if ((m = s_opt_value(argc, argv, &i, "-o", "--output",
                                      &output))) {
                if (m < 0) {
                    return 2;
                }
            }
            else {
                return s_usage_error("unknown option '%s' for compare", a);
            }
            continue;
        }
        if (npaths == 2) {
            return s_usage_error("unexpected argument '%s'", a);
        }
        paths[npaths++] = a;
    }
    if (npaths != 2) {
        return s_usage_error("compare needs a BASELINE and a PARALLEL "
                             "profile");
    }
    if (output != NULL && !html) {
        return s_usage_error("--output is for --html");
    }
    if (html && json) {
        return s_usage_error("--html and --json are two documents: ask "
                             "for one at a time");
    }
    int status = 0, rc;
    for (size_t k = 0; k < 2 && status == 0; k++) {
        if (s_load(paths[k], &sessions[k]) != 0) {
            status = 1;
        }
    }
    if (status == 0 && html) {
        s_doc_t d = {.s = {sessions[0], sessions[1]},
                     .write2 = mpp_html_write_compare};
        status = s_write_doc(&d, output, "HTML comparison");
    }
    else if (status == 0) {
        rc = s_flush_stdout(
            json ? mpp_compare_json(sessions[0], sessions[1], stdout)
                 : mpp_compare_text(sessions[0], sessions[1], stdout));
        if (rc != 0) {
            mpp_say("cannot compare '%s' with '%s': %s", paths[0], paths[1],
                    mpp_strerror(rc));
            status = 1;
        }
    }
    mpp_session_destroy(&sessions[0]);
    mpp_session_destroy(&sessions[1]);
    return status;
}

/* ---- main ------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(mpp_cli_usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (s_is(cmd, "-h", "--help") || strcmp(cmd, "help") == 0) {
        fputs(mpp_cli_usage_text, stdout);
        fputs(mpp_cli_help_text, stdout);
        return 0;
    }
    if (s_is(cmd, "-V", "--version")) {
        printf("mpprof %s\n", MPPROF_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) {
        return s_cmd_run(argc, argv);
    }
    if (strcmp(cmd, "report") == 0) {
        return s_cmd_report(argc, argv);
    }
    if (strcmp(cmd, "collect") == 0) {
        return mpp_collect_main(argc, argv);
    }
    if (strcmp(cmd, "compare") == 0) {
        return s_cmd_compare(argc, argv);
    }
    if (cmd[0] == '-') {
        return s_usage_error("unknown option '%s'", cmd);
    }
    return s_usage_error("unknown command '%s'", cmd);
}
