/*  Small helpers shared by the launcher, aggregator and writers. */
#include "mpp_internal.h"

#include <string.h>
#include <time.h>

int
mpp_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) {
            return MPP_ENOMEM;
        }
        ncap *= 2;
    }
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL) {
        return MPP_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

char *
mpp_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int64_t
mpp_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
mpp_now_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
