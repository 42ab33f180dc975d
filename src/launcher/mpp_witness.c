/*  The signal witness (see mpp_launcher.h).
 *
 *  A signal that another process sends to mpprof should reach the target
 *  exactly once.  When it was sent to mpprof alone (kill PID), mpprof must
 *  pass it on; when it was sent to the whole process group (kill -PGID, a
 *  job-control shell, a test harness simulating Ctrl-C), the target has it
 *  already, and a second copy would interrupt its KeyboardInterrupt
 *  handling.  Both arrive as SI_USER from the same sender, so mpprof
 *  cannot tell them apart by looking at its own copy.
 *
 *  The witness can: it is a small child of mpprof that stays in mpprof's
 *  process group, blocks the forwarded signals and never reads them until
 *  asked.  A group signal is queued to every member within the one kill
 *  call, so by the time mpprof reads its copy, the witness has the same
 *  signal pending, which /proc/PID/status shows without the witness
 *  having to run.  A signal aimed at mpprof alone leaves it clear.  After
 *  each look mpprof has the witness discard what is pending, so the next
 *  signal is judged on its own.
 *
 *  The witness renames itself so that `pkill mpprof`, `killall mpprof` and
 *  `pkill -f mpprof`, which would signal it on its own, leave it out.  It
 *  ends with mpprof, which holds the only write end of its command pipe.
 *  Should mpprof end without cleaning up (SIGKILL), the witness removes
 *  the session directory on its way out.
 */
#include "mpp_launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_NAME "mpp-sigwitness"
#define S_ACK_MS 1000    /* longest wait for the witness to discard */
#define S_RECHECK_NS 2000000L /* second look, for a kill still under way */

/*  Overwrites the command line that ps and pkill -f read, which the fork
 *  copied from mpprof.  The kernel gives its bounds in /proc/self/stat,
 *  fields 48 and 49 (arg_start, arg_end); a failure leaves it as it was. */
static void
s_rename(void)
{
    char buf[2048];
    prctl(PR_SET_NAME, S_NAME, 0, 0, 0);
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    /* The comm field may hold spaces; fields are counted after it. */
    char *p = strrchr(buf, ')');
    unsigned long start = 0, end = 0;
    for (int field = 3; p != NULL && field <= 49; field++) {
        p = strchr(p + 1, ' '); /* the space before `field` */
        if (p != NULL && field == 48) {
            start = strtoul(p + 1, NULL, 10);
        }
        else if (p != NULL && field == 49) {
            end = strtoul(p + 1, NULL, 10);
        }
    }
    /* Only where the kernel's bounds hold this program's own argv[0]
     * (glibc's program_invocation_name points into it): under valgrind
     * they are the tool's own command line, not memory of ours. */
    if (start == 0 || end <= start + sizeof(S_NAME) ||
        (char *)start != program_invocation_name) {
        return;
    }
    char *area = (char *)start;
    memset(area, 0, end - start);
    memcpy(area, S_NAME, sizeof(S_NAME));
}

void
mpp_remove_path(const char *path)
{
    if (remove(path) == 0 || (errno != ENOTEMPTY && errno != EEXIST)) {
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(path);
}

/*  The witness itself: discards what is pending on every 'c' and answers
 *  'k'; at the end of the pipe, removes `files` in order and exits. */
static void
s_main(int cmd, int ack, const sigset_t *watched, const char *const *files)
{
    s_rename();
    int fd = signalfd(-1, watched, SFD_CLOEXEC | SFD_NONBLOCK);
    for (;;) {
        char c;
        ssize_t n = read(cmd, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            for (; files != NULL && *files != NULL; files++) {
                mpp_remove_path(*files);
            }
            _exit(0);
        }
        struct signalfd_siginfo si;
        while (fd >= 0 && read(fd, &si, sizeof(si)) == sizeof(si)) {
        }
        while (write(ack, "k", 1) < 0 && errno == EINTR) {
        }
    }
}

int
mpp_witness_start(mpp_witness_t *w, const sigset_t *watched,
                  const char *const *files)
{
    int cmd[2], ack[2];
    w->pid = -1;
    w->cmd = w->ack = -1;
    if (pipe2(cmd, O_CLOEXEC) != 0) {
        return -errno;
    }
    if (pipe2(ack, O_CLOEXEC) != 0) {
        int rc = -errno;
        close(cmd[0]);
        close(cmd[1]);
        return rc;
    }
    /* The launcher has no other thread yet, so the child may do anything
     * the parent could. */
    pid_t pid = fork();
    if (pid == 0) {
        close(cmd[1]);
        close(ack[0]);
        s_main(cmd[0], ack[1], watched, files);
    }
    int rc = pid < 0 ? -errno : 0;
    close(cmd[0]);
    close(ack[1]);
    if (rc != 0) {
        close(cmd[1]);
        close(ack[0]);
        return rc;
    }
    w->pid = pid;
    w->cmd = cmd[1];
    w->ack = ack[0];
    fcntl(w->ack, F_SETFL, O_NONBLOCK);
    return 0;
}

/* Reads the witness's pending signals (per thread and shared) as a mask. */
static bool
s_pending(const mpp_witness_t *w, unsigned long long *mask)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)w->pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return false;
    }
    int found = 0;
    *mask = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "SigPnd:", 7) == 0 ||
            strncmp(line, "ShdPnd:", 7) == 0) {
            *mask |= strtoull(line + 7, NULL, 16);
            found++;
        }
    }
    fclose(f);
    return found == 2;
}

bool
mpp_witness_saw(const mpp_witness_t *w, int signo)
{
    unsigned long long mask, bit = 1ULL << (signo - 1);
    if (w->pid <= 0 || signo <= 0 || signo > 64 || !s_pending(w, &mask)) {
        return false;
    }
    if (!(mask & bit)) {
        /* kill(-pgid) queues to the members one after another; a second
         * look covers a witness that comes after mpprof in that loop. */
        struct timespec ts = {0, S_RECHECK_NS};
        nanosleep(&ts, NULL);
        if (!s_pending(w, &mask)) {
            return false;
        }
    }
    return (mask & bit) != 0;
}

void
mpp_witness_clear(mpp_witness_t *w)
{
    char buf[16];
    if (w->pid <= 0) {
        return;
    }
    /* An answer that came after an earlier wait gave up is stale. */
    while (read(w->ack, buf, sizeof(buf)) > 0) {
    }
    ssize_t n;
    do {
        n = write(w->cmd, "c", 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        return;
    }
    struct pollfd pfd = {w->ack, POLLIN, 0};
    int64_t deadline = mpp_now_mono_ns() + S_ACK_MS * 1000000LL;
    for (;;) {
        int left = (int)((deadline - mpp_now_mono_ns()) / 1000000);
        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            return;
        }
        n = read(w->ack, buf, 1);
        if (n >= 0 || (errno != EINTR && errno != EAGAIN)) {
            return;
        }
    }
}

void
mpp_witness_stop(mpp_witness_t *w)
{
    if (w->cmd >= 0) {
        close(w->cmd);
        w->cmd = -1;
    }
    if (w->ack >= 0) {
        close(w->ack);
        w->ack = -1;
    }
    if (w->pid > 0) {
        /* It exits on the closed pipe; SIGKILL if it is stopped. */
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        w->pid = -1;
    }
}
