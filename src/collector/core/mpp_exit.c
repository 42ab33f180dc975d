/*  The process-wide handlers of the collector: the at-fork child handler,
 *  the on_exit handler that sends the last batch after Python's
 *  finalization, the exit hold of SIGTERM, SIGINT and SIGHUP, and the
 *  SIGTERM re-delivery while Python's handler has the signal.  Pure
 *  POSIX; see mpp_signals.h for the interface the module uses.
 *
 *  pthread_atfork, on_exit's handler and signal handlers receive no
 *  argument (or only one fixed at registration), so the state here is
 *  static: one core per process, set once by mpp_exit_register() and
 *  never freed afterwards. */
#include "mpp_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mpp_core_priv.h"
#include "mpp_signals.h"

static mpp_core_t *s_atfork_core;

static void
s_set_action(int signum, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(signum, &sa, NULL);
}

/*  SIGTERM, while the collector's Python-level handler has it.
 *
 *  A Python-level handler runs only when the main thread gets back to the
 *  interpreter.  A signal that lands just before the main thread blocks in
 *  C (a worker taking the queue's lock, say) trips Python's flag but
 *  interrupts nothing, and the process then waits forever: where the
 *  default action would have ended it, Pool.terminate() would hang.  And
 *  in a fork child Python drops a signal that arrives before its
 *  after-fork reset.  So a C handler sits in front of Python's: it passes
 *  each SIGTERM on, then re-sends it to the main thread every 100 ms with
 *  a timer, which interrupts any blocking call, until the Python handler
 *  runs and disarms it; after 5 s without that, it ends the process with
 *  the default action, as if there were no profiler.  A handler the user
 *  installs later replaces both, as it should.
 *
 *  Signal and atfork handlers receive no argument: this state is static. */
#define S_TERM_RETRY_NS 100000000L
#define S_TERM_RETRIES 50

static void (*s_term_python)(int); /* Python's C-level handler */
static timer_t s_term_timer;       /* re-sends to the main thread */
static volatile sig_atomic_t s_term_timer_ok;
static volatile sig_atomic_t s_term_retries;
static volatile sig_atomic_t s_term_pid; /* who last received one */

static void
s_term_handler(int signum)
{
    int saved_errno = errno;

    s_term_pid = (sig_atomic_t)getpid();
    s_term_python(signum);
    if (s_term_timer_ok) {
        if (++s_term_retries > S_TERM_RETRIES) {
            s_set_action(signum, SIG_DFL);
            raise(signum);
        }
        struct itimerspec again;
        memset(&again, 0, sizeof(again));
        again.it_value.tv_nsec = S_TERM_RETRY_NS;
        timer_settime(s_term_timer, 0, &again, NULL);
    }
    errno = saved_errno;
}

/* A timer that sends SIGTERM to the calling thread. */
static bool
s_term_timer_create(void)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGTERM;
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
#endif
    s_term_retries = 0;
    s_term_timer_ok = timer_create(CLOCK_MONOTONIC, &sev, &s_term_timer) == 0;
    return s_term_timer_ok;
}

bool
mpp_core_sigterm_install(void)
{
    struct sigaction cur;
    if (sigaction(SIGTERM, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
        cur.sa_handler == SIG_DFL || cur.sa_handler == SIG_IGN ||
        cur.sa_handler == s_term_handler || !s_term_timer_create()) {
        return false;
    }
    /* Same flags and mask as Python's (SA_ONSTACK among them). */
    struct sigaction ours = cur;
    ours.sa_handler = s_term_handler;
    s_term_python = cur.sa_handler;
    return sigaction(SIGTERM, &ours, NULL) == 0;
}

void
mpp_core_sigterm_disarm(void)
{
    if (s_term_timer_ok) {
        /* Cleared first, so a SIGTERM arriving now does not re-arm it. */
        s_term_timer_ok = 0;
        struct itimerspec off;
        memset(&off, 0, sizeof(off));
        timer_settime(s_term_timer, 0, &off, NULL);
    }
}

void
mpp_core_sigterm_after_fork(void)
{
    struct sigaction cur;
    if (s_term_python == NULL || sigaction(SIGTERM, NULL, &cur) != 0 ||
        cur.sa_handler != s_term_handler) {
        return;
    }
    /* Timers do not survive fork: this thread gets its own. */
    s_term_timer_create();
    if (s_term_pid == (sig_atomic_t)getpid()) {
        /* It arrived before Python's after-fork reset dropped it. */
        kill(getpid(), SIGTERM);
    }
}

/*  The parent's side of a fork: the state as it is at the fork is copied
 *  before and dropped after (mpp_core_fork_prepare). */
static void
s_atfork_prepare(void)
{
    if (s_atfork_core != NULL) {
        mpp_core_fork_prepare(s_atfork_core);
    }
}

static void
s_atfork_parent(void)
{
    if (s_atfork_core != NULL) {
        mpp_core_fork_parent(s_atfork_core);
    }
}

/*  Runs in the child, inside fork(): the child's private copy of the
 *  state and the fork's pid and time (see mpp_core_note_fork). */
static void
s_atfork_child(void)
{
    s_term_timer_ok = 0;
    if (s_atfork_core != NULL) {
        mpp_core_note_fork(s_atfork_core);
    }
}

static void
s_register_atfork(void)
{
    (void)pthread_atfork(s_atfork_prepare, s_atfork_parent, s_atfork_child);
}

/*  Signal handlers receive no argument either: the exit hold keeps the
 *  signal it deferred here. */
static volatile sig_atomic_t s_held_signal;

static const int s_holdable[] = {SIGTERM, SIGINT, SIGHUP};

static void
s_hold_handler(int signum)
{
    if (s_held_signal != 0) {
        /* A second signal: whoever sends it will not wait any longer. */
        s_set_action(signum, SIG_DFL);
        raise(signum);
        return;
    }
    s_held_signal = signum;
}

void
mpp_core_hold_signals(void)
{
    for (size_t i = 0; i < MPP_ARRAY_SIZE(s_holdable); i++) {
        struct sigaction old;
        if (sigaction(s_holdable[i], NULL, &old) == 0 &&
            !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
            s_set_action(s_holdable[i], s_hold_handler);
        }
    }
}

/*  glibc calls this from exit(), after Python's finalization, with the
 *  exit status.  It is inherited by fork children and dropped by exec,
 *  which is exactly the set of processes whose core this is. */
static void
s_on_exit(int status, void *arg)
{
    mpp_core_t *self = arg;
    /* The parent sees only the low byte, as with exit(256) == exit(0). */
    int32_t code = status & 0xff;

    if (!mpp_core_has_sink(self)) {
        /* Only the exit record is left to write, and a signal that ends
         * the process now ends it as it would unprofiled: the agent reads
         * whatever state the mapping holds then. */
        mpp_core_finish(self, code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE, code);
        return;
    }
    mpp_core_sigterm_disarm();
    mpp_core_hold_signals();
    if (s_held_signal != 0) {
        mpp_core_finish(self, MPP_EXIT_SIGNAL, s_held_signal);
    }
    else {
        mpp_core_finish(self, code == 0 ? MPP_EXIT_OK : MPP_EXIT_CODE, code);
    }
    if (s_held_signal != 0) {
        /* End as the signal would have ended the process without us. */
        int signum = s_held_signal;
        s_set_action(signum, SIG_DFL);
        raise(signum);
    }
}

int
mpp_exit_register(mpp_core_t *core, const char **err)
{
    /* pthread_once needs no argument either: the flag is its own static. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    if (s_atfork_core != NULL) {
        *err = "a collector is already running in this process";
        return MPP_EINVAL;
    }
    /* From the first successful registration on, the core must outlive
     * the process. */
    if (pthread_once(&once, s_register_atfork) != 0 ||
        on_exit(s_on_exit, core) != 0) {
        *err = "cannot register the exit handler";
        return MPP_ENOMEM;
    }
    s_atfork_core = core;
    return 0;
}
