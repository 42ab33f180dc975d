/*  Process facts for the agent; see mpp_aproc.h. */
#include "mpp_aproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpp_clock.h"
#include "mpprof/wire.h"

/*  PIDFD_GET_INFO came with Linux 6.15; Debian 12's headers lack it, so
 *  the layout of its first version (64 bytes, which every later kernel
 *  still accepts) is spelled out here.  The size is part of the ioctl
 *  number. */
struct s_pidfd_info {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define S_PIDFD_INFO_EXIT (1ULL << 3)
#define S_PIDFD_GET_INFO _IOWR(0xFF, 11, struct s_pidfd_info)
_Static_assert(sizeof(struct s_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int
mpp_aproc_stat(int64_t pid, mpp_aproc_stat_t *st)
{
    char path[64], buf[1024];
    memset(st, 0, sizeof(*st));
    if (pid <= 0 || pid > INT32_MAX) {
        return -ESRCH;
    }
    snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n;
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? -errno : 0;
    close(fd);
    if (n <= 0) {
        return n < 0 ? err : -ENOENT;
    }
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: the fields resume
     * after the last ')'.  Field 3 follows it. */
    const char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0') {
        return MPP_EFORMAT;
    }
    st->state = p[2];
    p += 2;
    unsigned long long start_ticks = 0;
    bool have_start = false;
    for (int field = 3; p != NULL && *p != '\0'; field++) {
        if (field == 22) {
            start_ticks = strtoull(p, NULL, 10);
            have_start = true;
        }
        else if (field == 52) {
            st->exit_code = (int)strtol(p, NULL, 10);
            st->have_exit_code = true;
            break;
        }
        p = strchr(p, ' ');
        if (p != NULL) {
            p++;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (!have_start || hz <= 0) {
        return MPP_EFORMAT;
    }
    /* The kernel counts from boot, suspended time included (the boot
     * clock); the root records CLOCK_MONOTONIC, the same way the core
     * converts it (mpp_core.c, s_process_start). */
    int64_t boot = mpp_clock_now_ns(CLOCK_BOOTTIME);
    int64_t mono = mpp_clock_now_ns(CLOCK_MONOTONIC);
    int64_t start_boot =
        (int64_t)(start_ticks * (1000000000ULL / (unsigned long long)hz));
    st->start_mono_ns = start_boot - (boot - mono);
    return 0;
}

bool
mpp_aproc_same_process(int64_t kernel_start, int64_t root_start)
{
    long hz = sysconf(_SC_CLK_TCK);
    int64_t tick = hz > 0 ? 1000000000LL / hz : 10000000LL;
    return kernel_start <= root_start + tick + 1000000LL;
}

int
mpp_aproc_pidfd(int64_t pid)
{
    if (pid <= 0 || pid > INT32_MAX) {
        return -ESRCH;
    }
    long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) {
        return -errno;
    }
    /* pidfd_open sets close-on-exec itself. */
    return (int)fd;
}

bool
mpp_aproc_gone(int64_t pid, int64_t kernel_start)
{
    mpp_aproc_stat_t st;
    int rc = mpp_aproc_stat(pid, &st);
    if (rc == -ENOENT || rc == -ESRCH) {
        return true;
    }
    if (rc != 0) {
        return false; /* cannot tell: taken as alive */
    }
    return st.state == 'Z' || st.state == 'X' ||
           (kernel_start != 0 &&
            !mpp_aproc_same_start(st.start_mono_ns, kernel_start));
}

bool
mpp_aproc_exited(int pidfd)
{
    struct pollfd p = {pidfd, POLLIN, 0};
    int n;
    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* PIDFD_GET_INFO's exit status; false when the kernel has none (too old,
 * or the process not reaped yet). */
static bool
s_pidfd_exit(int pidfd, int *ws)
{
    struct s_pidfd_info info;
    memset(&info, 0, sizeof(info));
    info.mask = S_PIDFD_INFO_EXIT;
    if (pidfd < 0 || ioctl(pidfd, S_PIDFD_GET_INFO, &info) != 0 ||
        !(info.mask & S_PIDFD_INFO_EXIT)) {
        return false;
    }
    *ws = info.exit_code;
    return true;
}

bool
mpp_aproc_same_start(int64_t a, int64_t b)
{
    int64_t d = a > b ? a - b : b - a;
    return d < 1000000;
}

bool
mpp_aproc_exit_status(int pidfd, int64_t pid, int64_t kernel_start,
                      const mpp_aproc_stat_t *seen, int *ws)
{
    if (s_pidfd_exit(pidfd, ws)) {
        return true;
    }
    /* A zombie is still ours while its start time is: its pid cannot be
     * reused before it is reaped. */
    mpp_aproc_stat_t st;
    if (seen != NULL) {
        st = *seen;
    }
    else if (mpp_aproc_stat(pid, &st) != 0) {
        st.state = 0;
    }
    if (st.state == 'Z' && st.have_exit_code &&
        (kernel_start == 0 ||
         mpp_aproc_same_start(st.start_mono_ns, kernel_start))) {
        *ws = st.exit_code;
        return true;
    }
    return s_pidfd_exit(pidfd, ws);
}

int
mpp_aproc_cpu_ns(int64_t pid, int64_t *ns)
{
    clockid_t id;
    struct timespec ts;
    if (pid <= 0 || pid > INT32_MAX) {
        return -ESRCH;
    }
    int rc = clock_getcpuclockid((pid_t)pid, &id);
    if (rc != 0) {
        return -rc;
    }
    if (clock_gettime(id, &ts) != 0) {
        return -errno;
    }
    *ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return 0;
}

void
mpp_aproc_exit_kind(int ws, uint32_t *kind, int32_t *code)
{
    if (WIFEXITED(ws)) {
        *code = WEXITSTATUS(ws);
        *kind = *code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE;
    }
    else if (WIFSIGNALED(ws)) {
        *code = WTERMSIG(ws);
        *kind = MPP_EXIT_SIGNAL;
    }
    else {
        *code = 0;
        *kind = MPP_EXIT_LOST;
    }
}
