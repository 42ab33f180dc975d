/*  The unit-test runner; see mpp_test.h. */
#include "mpp_test.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_TESTS 256
#define S_DEFAULT_TIMEOUT_S 60

static struct {
    const char *name;
    mpp_test_fn fn;
} s_tests[S_MAX_TESTS];
static size_t s_ntests;

void
mpp_test_add(const char *name, mpp_test_fn fn)
{
    if (s_ntests == S_MAX_TESTS) {
        fprintf(stderr, "mpp_test: more than %d tests\n", S_MAX_TESTS);
        exit(2);
    }
    s_tests[s_ntests].name = name;
    s_tests[s_ntests].fn = fn;
    s_ntests++;
}

void
mpp_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "# %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

void
mpp_test_skip(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "# SKIP ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(MPP_TEST_SKIP_STATUS);
}

static bool
s_holds(int c, const char *op)
{
    switch (op[0]) {
    case '=': return c == 0;
    case '!': return c != 0;
    case '<': return op[1] == '=' ? c <= 0 : c < 0;
    case '>': return op[1] == '=' ? c >= 0 : c > 0;
    default: return false;
    }
}

void
mpp_cmp_i64_(long long a, long long b, const char *op, const char *sa,
             const char *sb, const char *file, int line)
{
    if (!s_holds((a > b) - (a < b), op)) {
        mpp_test_fail(file, line, "%s %s %s: %lld vs %lld", sa, op, sb, a, b);
    }
}

void
mpp_cmp_u64_(unsigned long long a, unsigned long long b, const char *op,
             const char *sa, const char *sb, const char *file, int line)
{
    if (!s_holds((a > b) - (a < b), op)) {
        mpp_test_fail(file, line, "%s %s %s: %llu vs %llu", sa, op, sb, a, b);
    }
}

void
mpp_cmp_dbl_(long double a, long double b, const char *op, const char *sa,
             const char *sb, const char *file, int line)
{
    if (!s_holds((a > b) - (a < b), op)) {
        mpp_test_fail(file, line, "%s %s %s: %.17Lg vs %.17Lg", sa, op, sb, a,
                      b);
    }
}

/* Runs one test in a child with a timeout; returns 0, 1 or the skip
 * status. */
static int
s_run_one(size_t i, int timeout_s)
{
    fflush(NULL);
    if (getenv("MPP_TEST_NOFORK") != NULL) {
        s_tests[i].fn();
        return 0;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "# fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        s_tests[i].fn();
        fflush(NULL);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "# waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGALRM) {
            fprintf(stderr, "# timed out after %d s\n", timeout_s);
        }
        else {
            fprintf(stderr, "# killed by signal %d (%s)\n", sig,
                    strsignal(sig));
        }
        return 1;
    }
    int code = WEXITSTATUS(status);
    if (code == 0 || code == MPP_TEST_SKIP_STATUS) {
        return code;
    }
    return 1;
}

static bool
s_selected(const char *name, int argc, char **argv)
{
    if (argc <= 1) {
        return true;
    }
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], name) == 0) {
            return true;
        }
    }
    return false;
}

int
mpp_test_done(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < s_ntests; i++) {
            printf("%s\n", s_tests[i].name);
        }
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        bool known = false;
        for (size_t i = 0; i < s_ntests; i++) {
            known = known || strcmp(argv[a], s_tests[i].name) == 0;
        }
        if (!known) {
            fprintf(stderr, "%s: no test named %s\n", argv[0], argv[a]);
            return 2;
        }
    }
    int timeout_s = S_DEFAULT_TIMEOUT_S;
    const char *t = getenv("MPP_TEST_TIMEOUT");
    if (t != NULL && atoi(t) > 0) {
        timeout_s = atoi(t);
    }

    size_t planned = 0;
    for (size_t i = 0; i < s_ntests; i++) {
        planned += s_selected(s_tests[i].name, argc, argv);
    }
    printf("1..%zu\n", planned);
    size_t n = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < s_ntests; i++) {
        if (!s_selected(s_tests[i].name, argc, argv)) {
            continue;
        }
        n++;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = s_run_one(i, timeout_s);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (rc == 0) {
            printf("ok %zu - %s (%.0f ms)\n", n, s_tests[i].name, ms);
        }
        else if (rc == MPP_TEST_SKIP_STATUS) {
            printf("ok %zu - %s # SKIP (see the line above)\n", n,
                   s_tests[i].name);
            skipped++;
        }
        else {
            printf("not ok %zu - %s\n", n, s_tests[i].name);
            failed++;
        }
        fflush(stdout);
    }
    printf("# %zu passed, %zu failed, %zu skipped\n",
           n - failed - skipped, failed, skipped);
    if (failed > 0) {
        return 1;
    }
    return skipped > 0 ? MPP_TEST_SKIP_STATUS : 0;
}
