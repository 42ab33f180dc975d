/*  What a fork costs a profiled process whose tables live in a shared
 *  mapping (issue 12: <= 1 ms of extra CPU per fork child), without
 *  Python: a collector core holding about 400 KiB of state in its mapping
 *  (a registry of functions, a few threads with stats and edges) forks
 *  children that start their incarnation (the atfork child handler, then
 *  the first event's reset) and exit at once, exactly the work a fork
 *  child of a profiled program does before its own code runs.  The same
 *  forks without the core give the plain cost.
 *
 *  The child's CPU is what wait4 reports for it (its exit, unmapping the
 *  copy, included); the parent's is its own CPU clock around fork(),
 *  the wait at the gate included.  Each figure is the median over the
 *  forks, modes taking turns so that both see the same machine.  One
 *  run prints everything:
 *
 *      bench_fork [FORKS] [DIR]     (defaults: 200, /dev/shm or /tmp)
 */
#include "mpp_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpp_core.h"
#include "mpp_shm.h"

static int64_t
s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double
s_median_ms(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), s_cmp);
    return (double)v[n / 2] / 1e6;
}

/* Removes the mapping files of process `pid` from `dir`. */
static void
s_unlink_pid(const char *dir, pid_t pid)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

/* The header's `used` of this process's mapping in `dir`. */
static uint64_t
s_used(const char *dir)
{
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "p%lld-", (long long)getpid());
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t used = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            mpp_shm_hdr_t hdr;
            if (fd >= 0 &&
                pread(fd, &hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr)) {
                used = hdr.used;
            }
            if (fd >= 0) {
                close(fd);
            }
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return used;
}

/*  One fork; with `core`, through its handlers as the collector calls
 *  them.  *child: the child's CPU; *parent: the parent's. */
static void
s_fork(mpp_core_t *core, mpp_tstate_t *t, const char *dir, int64_t *child,
       int64_t *parent)
{
    int64_t p0 = s_cpu();
    if (core != NULL) {
        mpp_core_fork_prepare(core);
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (core != NULL) {
            mpp_core_note_fork(core);
            mpp_core_after_fork(core, t);
        }
        _exit(0);
    }
    if (core != NULL) {
        mpp_core_fork_parent(core);
    }
    *parent = s_cpu() - p0;
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
        perror("fork");
        exit(1);
    }
    *child = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
             ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    if (core != NULL) {
        s_unlink_pid(dir, pid);
    }
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 1 || n > 100000) {
        fprintf(stderr, "usage: bench_fork [FORKS] [DIR]\n");
        return 2;
    }
    struct stat st;
    const char *base =
        argc > 2 ? argv[2]
        : stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0
            ? "/dev/shm"
            : "/tmp";
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/mpp-bench-fork-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    static const char *const args[] = {"python3", "w.py"};
    mpp_core_cfg_t cfg = {
        .token = "0123456789abcdef0123456789abcdef",
        .interval_ms = 100,
        .ppid = 1,
        .start_method = "main",
        .python = "3.11.7",
        .argv = args,
        .argc = 2,
        .name = "MainProcess",
        .allow_tsc = true,
        .shm_dir = dir,
        /* No sink, as in a profiled process: the agent reads the file. */
    };
    mpp_core_t *core = mpp_core_new(&cfg);
    const char *err = NULL;
    if (core == NULL || mpp_core_start(core, &err) != 0) {
        fprintf(stderr, "bench_fork: no core: %s\n", err ? err : "no memory");
        return 1;
    }
    /* About 400 KiB: 500 functions, four threads calling 250 of them
     * from a few callers each. */
    mpp_core_hot_t *hot = mpp_core_hot(core);
    enum { NFUNCS = 500, NTHREADS = 4, NCALLED = 250 };
    uint32_t fid[NFUNCS];
    for (int i = 0; i < NFUNCS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "function_%d", i);
        fid[i] = mpp_funcs_add(hot->funcs, "/home/user/project/module.py",
                               i + 1, name);
    }
    mpp_tstate_t *threads[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) {
        threads[k] = mpp_core_add_thread(core, 1000 + (uint32_t)k, "Thread");
        mpp_tstate_t *t = threads[k];
        for (int i = 0; i < NCALLED; i++) {
            mpp_tstate_enter(t, fid[(i * 7 + k) % 50],
                             mpp_clock_read(&hot->clock));
            mpp_tstate_enter(t, fid[50 + (i + k * 100) % (NFUNCS - 50)],
                             mpp_clock_read(&hot->clock));
            mpp_tstate_leave(t, mpp_clock_read(&hot->clock));
            mpp_tstate_leave(t, mpp_clock_read(&hot->clock));
        }
    }
    uint64_t used = s_used(dir);

    int64_t *pc = malloc((size_t)n * sizeof(int64_t));
    int64_t *pp = malloc((size_t)n * sizeof(int64_t));
    int64_t *sc = malloc((size_t)n * sizeof(int64_t));
    int64_t *sp = malloc((size_t)n * sizeof(int64_t));
    if (pc == NULL || pp == NULL || sc == NULL || sp == NULL) {
        return 1;
    }
    for (int i = -5; i < n; i++) { /* 5 warm-up rounds */
        int64_t c1, p1, c2, p2;
        if (i % 2 == 0) {
            s_fork(NULL, NULL, dir, &c1, &p1);
            s_fork(core, threads[0], dir, &c2, &p2);
        }
        else {
            s_fork(core, threads[0], dir, &c2, &p2);
            s_fork(NULL, NULL, dir, &c1, &p1);
        }
        if (i >= 0) {
            pc[i] = c1;
            pp[i] = p1;
            sc[i] = c2;
            sp[i] = p2;
        }
    }
    double mpc = s_median_ms(pc, n);
    double mpp = s_median_ms(pp, n);
    double msc = s_median_ms(sc, n);
    double msp = s_median_ms(sp, n);
    printf("fork of a process with %.0f KiB of state in its mapping (%s), "
           "%d forks, medians:\n",
           (double)used / 1024, base, n);
    printf("  child CPU   plain %.3f ms   profiled %.3f ms   extra %.3f ms "
           "(target <= 1 ms)\n",
           mpc, msc, msc - mpc);
    printf("  parent CPU  plain %.3f ms   profiled %.3f ms   extra %.3f ms\n",
           mpp, msp, msp - mpp);
    mpp_core_destroy(&core);
    s_unlink_pid(dir, getpid());
    rmdir(dir);
    free(pc);
    free(pp);
    free(sc);
    free(sp);
    return 0;
}
