/*  A minimal unit-test harness: each tests/unit/test_*.c is one executable
 *  and one ctest entry.  A failed assertion prints both values and exits
 *  non-zero, so ctest reports it.
 *
 *      MPP_TEST(name) { ASSERT_EQ(1, 1); }
 *      int main(void) { MPP_RUN(name); return mpp_test_done(); }
 */
#ifndef MPP_TEST_H
#define MPP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mpp_test_run_count;

#define MPP_TEST(name) static void test_##name(void)
#define MPP_RUN(name)                                                         \
    do {                                                                      \
        fprintf(stderr, "-- %s\n", #name);                                    \
        test_##name();                                                        \
        mpp_test_run_count++;                                                 \
    } while (0)

static inline int
mpp_test_done(void)
{
    fprintf(stderr, "%d tests ok\n", mpp_test_run_count);
    return 0;
}

#define MPP_FAIL(...)                                                         \
    do {                                                                      \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                       \
        fprintf(stderr, __VA_ARGS__);                                         \
        fputc('\n', stderr);                                                  \
        exit(1);                                                              \
    } while (0)

#define ASSERT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            MPP_FAIL("assertion failed: %s", #cond);                          \
        }                                                                     \
    } while (0)

#define ASSERT_EQ(a, b)                                                       \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            MPP_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);               \
        }                                                                     \
    } while (0)

#define ASSERT_STREQ(a, b)                                                    \
    do {                                                                      \
        const char *a_ = (a), *b_ = (b);                                      \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                \
            MPP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                     a_ ? a_ : "(null)", b_ ? b_ : "(null)");                 \
        }                                                                     \
    } while (0)

#endif
