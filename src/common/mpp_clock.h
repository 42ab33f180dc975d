/*  The clock behind every profile event.
 *
 *  Each event reads the clock exactly once, through mpp_clock_read(), and
 *  the tables store raw readings ("ticks"); mpp_clock_ns() converts a tick
 *  count to nanoseconds when a message or snapshot is built, off the hot
 *  path.  Three sources:
 *
 *  - TSC: the x86 time-stamp counter, where the kernel itself trusts it
 *    (invariant TSC and "tsc" as the system clocksource).  It costs about
 *    half of a clock_gettime call, which matters at two reads per call.
 *    Its rate is calibrated against CLOCK_MONOTONIC and refined at every
 *    batch, so the longer the process runs the more exact the conversion.
 *  - CLOCK_MONOTONIC through clock_gettime: everywhere else, or when
 *    MPPROF_CLOCK=mono.  Ticks are nanoseconds.
 *  - A test clock (MPPROF_TEST_CLOCK=1): every read returns the previous
 *    value plus 1000 ns, so tests can assert exact times for a known call
 *    tree, as CPython's own profiler tests do with a simulated timer.
 */
#ifndef MPP_CLOCK_H
#define MPP_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define MPP_HAVE_TSC 1
#else
#define MPP_HAVE_TSC 0
#endif

#define MPP_TEST_CLOCK_STEP_NS 1000

#if defined(__GNUC__)
#define MPP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MPP_LIKELY(x) (x)
#define MPP_UNLIKELY(x) (x)
#endif

typedef enum {
    MPP_CLOCK_MONO = 0,
    MPP_CLOCK_TSC = 1,
    MPP_CLOCK_TEST = 2
} mpp_clock_kind_t;

typedef struct {
    mpp_clock_kind_t kind;
    int64_t fake_now; /* TEST: the last value returned */
    uint64_t tsc0;    /* TSC: a reading taken together with mono0 */
    int64_t mono0;
    double ns_per_tick; /* 1 except for the TSC */
    /* TEST: what every thread's CPU clock reads (mpp_clock_thread_cpu_ns),
     * set by the test; -1 (the default): unknown, as if unreadable. */
    int64_t fake_cpu;
} mpp_clock_t;

/*  Picks the source: `test` forces the test clock, `allow_tsc` false keeps
 *  clock_gettime.  Calibrating the TSC takes about 200 microseconds. */
void mpp_clock_init(mpp_clock_t *clock, bool test, bool allow_tsc);

/* Refines the TSC rate from everything elapsed since init; cheap. */
void mpp_clock_calibrate(mpp_clock_t *clock);

/*  The one way to read a system clock in nanoseconds.  Everything that is
 *  not a profile event (deadlines, timeouts, start times, wall time of the
 *  run) reads CLOCK_MONOTONIC or CLOCK_REALTIME through these; events read
 *  mpp_clock_read() below.  clock_gettime cannot fail for these two clocks
 *  on Linux, so there is no error to report. */
static inline int64_t
mpp_clock_now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
mpp_clock_mono_ns(void)
{
    return mpp_clock_now_ns(CLOCK_MONOTONIC);
}

/*  This host's wall clock (CLOCK_REALTIME), the one every time stamp that
 *  leaves the host is read on.  A test can put it off the kernel's with
 *  MPPROF_TEST_CLOCK_SKEW="BASE_NS,STEP_NS,AT_NS": every reading gains
 *  BASE_NS, and STEP_NS more from the kernel's time AT_NS on (a clock
 *  set wrong, then stepped), so that simulated hosts on one kernel can
 *  have clocks that differ and change while they run. */
int64_t mpp_clock_real_ns(void);

static inline int64_t
mpp_clock_read(mpp_clock_t *clock)
{
#if MPP_HAVE_TSC
    if (MPP_LIKELY(clock->kind == MPP_CLOCK_TSC)) {
        return (int64_t)__rdtsc();
    }
#endif
    if (MPP_UNLIKELY(clock->kind == MPP_CLOCK_TEST)) {
        clock->fake_now += MPP_TEST_CLOCK_STEP_NS;
        return clock->fake_now;
    }
    return mpp_clock_mono_ns();
}

/*  The CPU clock of thread `ktid` of this process (the kernel's thread
 *  id): CLOCK_THREAD_CPUTIME_ID as that thread itself would read it, in
 *  nanoseconds since the thread began (a fork child's thread: since the
 *  fork).  Any thread of the process may read any other's, which is how
 *  a batch or the exit path reads threads that are not running; a thread
 *  that has ended (or a tid of another process) reads -1.  It is a
 *  system call (no vDSO for CPU clocks): never per event.  The test
 *  clock reads its injected value, fake_cpu, for every thread. */
static inline int64_t
mpp_clock_thread_cpu_ns(const mpp_clock_t *clock, uint32_t ktid)
{
    if (MPP_UNLIKELY(clock->kind == MPP_CLOCK_TEST)) {
        return clock->fake_cpu;
    }
    /* glibc's pthread_getcpuclockid: MAKE_THREAD_CPUCLOCK(tid, SCHED). */
    clockid_t id = (clockid_t)((~(uint64_t)ktid << 3) | 6u);
    struct timespec ts;
    if (ktid == 0 || clock_gettime(id, &ts) != 0) {
        return -1;
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The current time without counting as a read: the test clock does not
 * advance, so bookkeeping outside events leaves test numbers exact. */
static inline int64_t
mpp_clock_peek(const mpp_clock_t *clock)
{
#if MPP_HAVE_TSC
    if (clock->kind == MPP_CLOCK_TSC) {
        return (int64_t)__rdtsc();
    }
#endif
    if (clock->kind == MPP_CLOCK_TEST) {
        return clock->fake_now;
    }
    return mpp_clock_mono_ns();
}

/* A duration in ticks, in nanoseconds. */
static inline int64_t
mpp_clock_ns(const mpp_clock_t *clock, int64_t ticks)
{
    if (clock->kind != MPP_CLOCK_TSC) {
        return ticks;
    }
    return (int64_t)((double)ticks * clock->ns_per_tick);
}

/* A duration in nanoseconds, in ticks. */
static inline int64_t
mpp_clock_ticks(const mpp_clock_t *clock, int64_t ns)
{
    if (clock->kind != MPP_CLOCK_TSC) {
        return ns;
    }
    return (int64_t)((double)ns / clock->ns_per_tick);
}

#endif
