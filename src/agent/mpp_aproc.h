/*  What the agent learns about a profiled process from the kernel, not
 *  from its file: whether it is the process the file describes (pid
 *  reuse), when it ended, with what status, and its CPU time.  Private to
 *  src/agent (mpp_agent.c); Linux only.
 */
#ifndef MPP_APROC_H
#define MPP_APROC_H

#include "mpp_internal.h"

/* One line of /proc/<pid>/stat, the fields the agent uses. */
typedef struct {
    char state;            /* field 3: R, S, D, Z, ... */
    int64_t start_mono_ns; /* field 22 as CLOCK_MONOTONIC, a tick early at
                              most (the kernel counts in clock ticks) */
    int exit_code;         /* field 52: the wait status once a zombie */
    bool have_exit_code;   /* the kernel has field 52 (Linux >= 3.5) */
} mpp_aproc_stat_t;

/* Reads /proc/<pid>/stat.  Returns 0, -ENOENT (no such process) or
 * another negated errno, MPP_EFORMAT when the line does not parse. */
int mpp_aproc_stat(int64_t pid, mpp_aproc_stat_t *st);

/*  Whether the process whose kernel start is `kernel_start` (from
 *  mpp_aproc_stat) can be the one whose file says it started at
 *  `root_start` (the root record's start_mono_ns).  The core takes a
 *  main or exec'd process's start from the same kernel field (equal but
 *  for rounding) and a fork child's from its first moment after the
 *  fork (later than the kernel's), while a process that reused the pid
 *  started after the file's process had ended, so after root_start.  So
 *  the test is kernel_start <= root_start + tolerance, with one clock
 *  tick and a millisecond of tolerance for the conversions: a pid reused
 *  within that much of the first process's start goes unnoticed. */
bool mpp_aproc_same_process(int64_t kernel_start, int64_t root_start);

/* Two readings of one kernel start time (mpp_aproc_stat) differ only by
 * the conversion from the boot clock: true when within a millisecond. */
bool mpp_aproc_same_start(int64_t a, int64_t b);

/*  Without a pidfd (pidfd_open missing before Linux 5.3, refused by a
 *  sandbox, or no descriptor left): true once `pid` is gone, a zombie,
 *  or another process than the one that started at `kernel_start` (0:
 *  unknown).  Polled, so a death is seen at the next interval only. */
bool mpp_aproc_gone(int64_t pid, int64_t kernel_start);

/* pidfd_open(2): the descriptor, or a negated errno (-ESRCH: gone). */
int mpp_aproc_pidfd(int64_t pid);

/* True once the pidfd's process has ended (it is readable). */
bool mpp_aproc_exited(int pidfd);

/*  The wait status of the ended process behind `pidfd` (`pid`, whose
 *  kernel start was `kernel_start`, or 0 when unknown), in this order:
 *  PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux >= 6.15, once the process
 *  has been reaped, by whoever its parent is), else field 52 of
 *  /proc/<pid>/stat while it is a zombie, else PIDFD_GET_INFO again (it
 *  may have been reaped in between).  Returns true and sets *ws when one
 *  of them told; false when nothing is known.  `seen`, when not NULL, is
 *  what mpp_aproc_stat just read of `pid` (zeroed when it could not):
 *  /proc is then not read again, a read costing tens of microseconds. */
bool mpp_aproc_exit_status(int pidfd, int64_t pid, int64_t kernel_start,
                           const mpp_aproc_stat_t *seen, int *ws);

/*  CPU time (user + system, every thread, ended ones included) of `pid`
 *  in nanoseconds, through its process CPU clock.  Returns 0 or a
 *  negated errno.  The caller checks that the pid is still its process
 *  (the pidfd has not fired, or the process is its zombie). */
int mpp_aproc_cpu_ns(int64_t pid, int64_t *ns);

/* A wait status as a wire exit kind and code, as the launcher reads the
 * target's (MPP_EXIT_OK, MPP_EXIT_CODE or MPP_EXIT_SIGNAL). */
void mpp_aproc_exit_kind(int ws, uint32_t *kind, int32_t *code);

#endif
