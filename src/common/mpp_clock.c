/*  The event clock: choosing the source and calibrating the TSC; see
 *  mpp_clock.h. */
#include "mpp_clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The TSC is used only where the kernel already relies on it: the CPU
 *  declares it invariant (same rate in every power state, never stopping)
 *  and the kernel picked it as the clocksource, which it does only after
 *  checking that all CPUs agree.  Anything else (a VM whose TSC traps or
 *  drifts, an old CPU) keeps clock_gettime. */
static bool
s_tsc_usable(void)
{
#if MPP_HAVE_TSC
    char line[4096];
    bool constant = false;
    bool nonstop = false;
    bool source = false;

    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/"
                    "current_clocksource",
                    "re");
    if (f != NULL) {
        source = fgets(line, sizeof(line), f) != NULL &&
                 strncmp(line, "tsc", 3) == 0;
        fclose(f);
    }
    if (!source) {
        return false;
    }
    /* The first CPU's flags say it for all of them. */
    f = fopen("/proc/cpuinfo", "re");
    if (f == NULL) {
        return false;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "flags", 5) == 0) {
            constant = strstr(line, " constant_tsc") != NULL;
            nonstop = strstr(line, " nonstop_tsc") != NULL;
            break;
        }
    }
    fclose(f);
    return constant && nonstop;
#else
    return false;
#endif
}

void
mpp_clock_init(mpp_clock_t *clock, bool test, bool allow_tsc)
{
    memset(clock, 0, sizeof(*clock));
    clock->ns_per_tick = 1.0;
    clock->fake_cpu = -1;
    if (test) {
        clock->kind = MPP_CLOCK_TEST;
        return;
    }
    if (!allow_tsc || !s_tsc_usable()) {
        clock->kind = MPP_CLOCK_MONO;
        return;
    }
#if MPP_HAVE_TSC
    clock->kind = MPP_CLOCK_TSC;
    clock->mono0 = mpp_clock_mono_ns();
    clock->tsc0 = __rdtsc();
    /* A first estimate good to about 1e-4, enough for deadlines; every
     * batch refines it over a longer span. */
    while (mpp_clock_mono_ns() - clock->mono0 < 200000) {
    }
    mpp_clock_calibrate(clock);
#endif
}

void
mpp_clock_calibrate(mpp_clock_t *clock)
{
#if MPP_HAVE_TSC
    if (clock->kind != MPP_CLOCK_TSC) {
        return;
    }
    int64_t mono = mpp_clock_mono_ns();
    uint64_t tsc = __rdtsc();
    if (tsc > clock->tsc0 && mono > clock->mono0) {
        clock->ns_per_tick =
            (double)(mono - clock->mono0) / (double)(tsc - clock->tsc0);
    }
#else
    (void)clock;
#endif
}

/* ---- the wall clock, and its test skew ---------------------------------- */

static struct {
    int64_t base, step, at;
} s_skew;
/* 0: the environment not read yet, 1: no skew, 2: s_skew holds one. */
static _Atomic int s_skew_state;

/*  Reads MPPROF_TEST_CLOCK_SKEW once.  Threads that race here parse the
 *  same text into the same numbers, so the race is harmless; the state is
 *  published after the numbers.  A malformed value means no skew. */
static int
s_skew_load(void)
{
    const char *v = getenv("MPPROF_TEST_CLOCK_SKEW");
    long long base, step, at;
    int used = 0;
    int state = 1;
    if (v != NULL &&
        sscanf(v, "%lld,%lld,%lld%n", &base, &step, &at, &used) == 3 &&
        v[used] == '\0') {
        s_skew.base = base;
        s_skew.step = step;
        s_skew.at = at;
        state = 2;
    }
    atomic_store_explicit(&s_skew_state, state, memory_order_release);
    return state;
}

int64_t
mpp_clock_real_ns(void)
{
    int64_t t = mpp_clock_now_ns(CLOCK_REALTIME);
    int state = atomic_load_explicit(&s_skew_state, memory_order_acquire);
    if (MPP_UNLIKELY(state != 1)) {
        if (state == 0) {
            state = s_skew_load();
        }
        if (state == 2) {
            t += s_skew.base + (t >= s_skew.at ? s_skew.step : 0);
        }
    }
    return t;
}
