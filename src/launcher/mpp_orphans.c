/*  The target's descendants that outlive their parents (see
 *  mpp_launcher.h).
 *
 *  A Python child started just before its parent exits may not even have
 *  loaded its collector when the target ends: nothing in the session
 *  names it yet, so waiting for the processes the session knows would
 *  miss it.  As a child subreaper, mpprof becomes the parent of every
 *  such orphan instead of init, so it can see them and wait for them
 *  (bounded) before the profile is closed.  The kernel offers no list of
 *  a process's children without CONFIG_PROC_CHILDREN, so they are found
 *  by their parent pid in /proc.
 */
#include "mpp_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_TICK_MS 100 /* a look at /proc when no SIGCHLD wakes us */

int
mpp_orphans_adopt(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

/* The parent pid in /proc/<pid>/stat, or -1 (also for a zombie, which
 * has nothing left to run). */
static pid_t
s_ppid_of(const char *pid)
{
    char path[64];
    char buf[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold ") ". */
    const char *rp = strrchr(buf, ')');
    long ppid = -1;
    char state = '?';
    if (rp == NULL || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 ||
        state == 'Z' || ppid > INT_MAX) {
        return -1;
    }
    return (pid_t)ppid;
}

/* True when a child of ours other than `except` still runs. */
static bool
s_have_children(pid_t except)
{
    DIR *d = opendir("/proc");
    if (d == NULL) {
        return false;
    }
    pid_t me = getpid();
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        long pid = strtol(e->d_name, NULL, 10);
        found = pid != except && s_ppid_of(e->d_name) == me;
    }
    closedir(d);
    return found;
}

/* Reaps every child that ended, but never the witness. */
static void
s_reap(pid_t witness)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            si.si_pid == 0 || si.si_pid == witness) {
            return;
        }
        int status;
        (void)waitpid(si.si_pid, &status, WNOHANG);
    }
}

void
mpp_orphans_wait(mpp_sigs_t *sigs, int64_t limit_ns)
{
    pid_t witness = sigs->witness.pid;
    int64_t until = mpp_now_mono_ns() + limit_ns;
    for (;;) {
        s_reap(witness);
        if (!s_have_children(witness)) {
            return;
        }
        int64_t left = until - mpp_now_mono_ns();
        if (left <= 0) {
            return;
        }
        int ms = left / 1000000 < S_TICK_MS ? (int)(left / 1000000) + 1
                                            : S_TICK_MS;
        struct pollfd pfd = {sigs->fd, POLLIN, 0};
        if (sigs->fd >= 0 && poll(&pfd, 1, ms) > 0 &&
            mpp_sigs_drain(sigs) > 0) {
            /* A new signal (a second Ctrl-C): nobody wants to wait. */
            return;
        }
        if (sigs->fd < 0) {
            usleep((useconds_t)ms * 1000);
        }
    }
}
