/*  Spawning, signal forwarding and waiting (see mpp_launcher.h). */
#include "mpp_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Returns 0 when `path` is a file we may execute, else a negated errno. */
static int
s_executable(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return -errno;
    }
    if (S_ISDIR(st.st_mode)) {
        return -EACCES;
    }
    return access(path, X_OK) == 0 ? 0 : -errno;
}

int
mpp_find_program(const char *name, char **out)
{
    *out = NULL;
    if (name[0] == '\0') {
        return -ENOENT;
    }
    if (strchr(name, '/') != NULL) {
        int rc = s_executable(name);
        if (rc == 0 && (*out = strdup(name)) == NULL) {
            rc = MPP_ENOMEM;
        }
        return rc;
    }
    const char *path = getenv("PATH");
    if (path == NULL) {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    /* As execvp: the first executable match wins; if there is none but
     * some match could not be run, that error is more telling than
     * ENOENT. */
    int err = -ENOENT;
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int dirlen = (int)(end - p);
        char *cand = NULL;
        if (asprintf(&cand, "%.*s%s%s", dirlen, p, dirlen ? "/" : "",
                     name) < 0) {
            return MPP_ENOMEM;
        }
        int rc = s_executable(cand);
        if (rc == 0) {
            *out = cand;
            return 0;
        }
        free(cand);
        if (rc != -ENOENT && rc != -ENOTDIR) {
            err = rc;
        }
        if (*end == '\0') {
            break;
        }
        p = end;
    }
    return err;
}

/*  The child between fork and exec.  The launcher has other threads by
 *  now (the aggregator, ZeroMQ's I/O thread), so only async-signal-safe
 *  calls are allowed here: no malloc, no stdio, no execvp (which may
 *  allocate); that is why the path was looked up before the fork. */
static void
s_child(const mpp_spawn_opts_t *o, int errfd)
{
    int err;
    if ((o->stdout_fd >= 0 && dup2(o->stdout_fd, STDOUT_FILENO) < 0) ||
        (o->stderr_fd >= 0 && dup2(o->stderr_fd, STDERR_FILENO) < 0)) {
        goto fail;
    }
    if (o->sigmask != NULL) {
        sigprocmask(SIG_SETMASK, o->sigmask, NULL);
    }
    execve(o->path, o->argv, o->envp != NULL ? o->envp : environ);
fail:
    err = errno;
    while (write(errfd, &err, sizeof(err)) < 0 && errno == EINTR) {
    }
    _exit(127);
}

/*  The exec result comes back through a close-on-exec pipe: a successful
 *  exec closes it (end of file), a failed one writes errno first.  This
 *  tells the parent for certain whether the target started, which the
 *  exit status cannot (a target may exit 127 by itself), and it tells it
 *  before the parent goes on to wait for a program that never ran. */
int
mpp_spawn(const mpp_spawn_opts_t *o, pid_t *pid)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return -errno;
    }
    pid_t child = fork();
    if (child < 0) {
        int err = -errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    if (child == 0) {
        close(fds[0]);
        s_child(o, fds[1]);
    }
    close(fds[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(fds[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n == (ssize_t)sizeof(err)) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        return -(err > 0 ? err : EIO);
    }
    *pid = child;
    return 0;
}

int
mpp_sigs_init(mpp_sigs_t *sigs)
{
    sigs->witness.pid = -1;
    sigs->witness.cmd = sigs->witness.ack = -1;
    sigemptyset(&sigs->handled);
    sigaddset(&sigs->handled, SIGINT);
    sigaddset(&sigs->handled, SIGTERM);
    sigaddset(&sigs->handled, SIGHUP);
    sigaddset(&sigs->handled, SIGQUIT);
    sigaddset(&sigs->handled, SIGCHLD);
    /* A closed stderr (mpprof run x.py 2>&1 | head) must cost the report,
     * not the cleanup: blocked, SIGPIPE turns into EPIPE. */
    sigaddset(&sigs->handled, SIGPIPE);
    /* Blocked before any thread exists, so every thread inherits the
     * mask: otherwise the kernel could deliver a Ctrl-C to a thread that
     * does not block it, and the default action would end mpprof. */
    int rc = pthread_sigmask(SIG_BLOCK, &sigs->handled, &sigs->saved);
    if (rc != 0) {
        sigs->fd = -1;
        return -rc;
    }
    sigs->fd = signalfd(-1, &sigs->handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigs->fd < 0) {
        rc = -errno;
        pthread_sigmask(SIG_SETMASK, &sigs->saved, NULL);
        return rc;
    }
    return 0;
}

/*  Whether a signal that mpprof received should be passed on to the
 *  target.  One from the terminal (Ctrl-C, hang-up: si_code SI_KERNEL)
 *  went to the whole foreground process group, so the target has it, and
 *  a second copy would interrupt its KeyboardInterrupt handling.  One
 *  that another process sent to the whole group (kill -PGID) is the same
 *  case, which only the witness can recognise; one sent to mpprof alone
 *  must be passed on.  A target that left mpprof's process group gets
 *  whatever mpprof got. */
static bool
s_should_forward(mpp_sigs_t *sigs, const struct signalfd_siginfo *si,
                 pid_t target)
{
    if (si->ssi_code == SI_KERNEL) {
        return false;
    }
    if (getpgid(target) != getpgrp()) {
        return true;
    }
    return !mpp_witness_saw(&sigs->witness, (int)si->ssi_signo);
}

/* Signals read in one round before the witness is asked about them. */
#define S_SIG_BATCH 8

/*  Reads every pending signal.  When `target` > 0, those that should be
 *  passed on (s_should_forward) are.  They are all read before any is
 *  judged, and the witness is cleared after: clearing between two of them
 *  would hide the second from it.  Returns the number of signals other
 *  than SIGCHLD and SIGPIPE. */
static int
s_read_signals(mpp_sigs_t *sigs, pid_t target)
{
    struct signalfd_siginfo si[S_SIG_BATCH];
    int count = 0;
    for (;;) {
        size_t n = 0;
        while (n < S_SIG_BATCH) {
            ssize_t r = read(sigs->fd, &si[n], sizeof(si[n]));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r != (ssize_t)sizeof(si[n])) {
                break;
            }
            if (si[n].ssi_signo != SIGCHLD && si[n].ssi_signo != SIGPIPE) {
                n++;
            }
        }
        if (n == 0) {
            return count;
        }
        count += (int)n;
        for (size_t i = 0; target > 0 && i < n; i++) {
            if (s_should_forward(sigs, &si[i], target)) {
                kill(target, (int)si[i].ssi_signo);
            }
        }
        mpp_witness_clear(&sigs->witness);
    }
}

int
mpp_sigs_drain(mpp_sigs_t *sigs)
{
    return sigs->fd >= 0 ? s_read_signals(sigs, 0) : 0;
}

void
mpp_sigs_fini(mpp_sigs_t *sigs)
{
    if (sigs->fd >= 0) {
        /* Whatever is still pending was meant for the target or is a
         * SIGPIPE from the report; unblocking it would end mpprof with
         * the wrong status just before it returns the target's. */
        s_read_signals(sigs, 0);
        mpp_witness_stop(&sigs->witness);
        close(sigs->fd);
        sigs->fd = -1;
        pthread_sigmask(SIG_SETMASK, &sigs->saved, NULL);
    }
}

int
mpp_wait_target(mpp_sigs_t *sigs, pid_t pid, int *status)
{
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -errno;
        }
        /* SIGCHLD is among the signals read here, so the poll wakes up
         * when the target ends; a SIGCHLD that came before the poll
         * stays readable, so none is missed. */
        struct pollfd pfd = {sigs->fd, POLLIN, 0};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            return -errno;
        }
        s_read_signals(sigs, pid);
    }
}

int
mpp_exit_status(int ws)
{
    if (WIFEXITED(ws)) {
        return WEXITSTATUS(ws);
    }
    if (WIFSIGNALED(ws)) {
        return 128 + WTERMSIG(ws);
    }
    return 1;
}
