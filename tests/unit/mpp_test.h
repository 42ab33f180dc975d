/*  The C unit-test runner, in the manner of libuv's: each tests/unit/
 *  test_*.c is one executable holding a list of tests; every test runs in
 *  a process of its own with a timeout, so a crash, a hang or leftover
 *  global state fails that test alone.  Output is TAP.
 *
 *      MPP_TEST(name) { ASSERT_EQ(x, 1); }
 *      int main(int argc, char **argv)
 *      {
 *          MPP_RUN(name);
 *          return mpp_test_done(argc, argv);
 *      }
 *
 *  `test_x NAME...` runs only the named tests, `test_x --list` lists them;
 *  MPP_TEST_TIMEOUT (seconds, default 60) bounds each test and
 *  MPP_TEST_NOFORK=1 runs them in the runner's process (for gdb).
 *  MPP_SKIP("why") ends a test as skipped: the runner then exits with 77,
 *  which ctest reports as "Not Run" (SKIP_RETURN_CODE), so a missing tool
 *  is never a silent pass.
 */
#ifndef MPP_TEST_H
#define MPP_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MPP_TEST_SKIP_STATUS 77

typedef void (*mpp_test_fn)(void);

#define MPP_TEST(name) static void test_##name(void)
#define MPP_RUN(name) mpp_test_add(#name, test_##name)

/* Registers a test; the list is run by mpp_test_done. */
void mpp_test_add(const char *name, mpp_test_fn fn);

/*  Runs the registered tests (those named in argv, or all), prints TAP and
 *  returns the executable's exit status: 0, 1 when any failed, or 77 when
 *  none failed and at least one was skipped. */
int mpp_test_done(int argc, char **argv);

/* Ends the running test as failed or skipped, with a message. */
_Noreturn void mpp_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void mpp_test_skip(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define MPP_FAIL(...) mpp_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define MPP_SKIP(...) mpp_test_skip(__VA_ARGS__)

#define ASSERT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            MPP_FAIL("assertion failed: %s", #cond);                          \
        }                                                                     \
    } while (0)

/*  Typed comparisons.  ASSERT_EQ and friends compare in the type C itself
 *  would use for `a == b` (the usual arithmetic conversions, found with
 *  _Generic on a + b), so a size_t is never squeezed into a long long and
 *  a negative value never turns into a huge unsigned one unnoticed. */
#define MPP_CMP_(a, op, b)                                                    \
    _Generic((a) + (b),                                                       \
        float: mpp_cmp_dbl_,                                                  \
        double: mpp_cmp_dbl_,                                                 \
        long double: mpp_cmp_dbl_,                                            \
        unsigned int: mpp_cmp_u64_,                                           \
        unsigned long: mpp_cmp_u64_,                                          \
        unsigned long long: mpp_cmp_u64_,                                     \
        default: mpp_cmp_i64_)(a, b, #op, #a, #b, __FILE__, __LINE__)

#define ASSERT_EQ(a, b) MPP_CMP_(a, ==, b)
#define ASSERT_NE(a, b) MPP_CMP_(a, !=, b)
#define ASSERT_LT(a, b) MPP_CMP_(a, <, b)
#define ASSERT_LE(a, b) MPP_CMP_(a, <=, b)
#define ASSERT_GT(a, b) MPP_CMP_(a, >, b)
#define ASSERT_GE(a, b) MPP_CMP_(a, >=, b)

#define ASSERT_NEAR(a, b, tol)                                                \
    do {                                                                      \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);        \
        if (!(fabs(a_ - b_) <= t_)) {                                         \
            MPP_FAIL("%s ~= %s: %.9g vs %.9g (tolerance %g)", #a, #b, a_, b_, \
                     t_);                                                     \
        }                                                                     \
    } while (0)

#define ASSERT_PTR_EQ(a, b)                                                   \
    do {                                                                      \
        const void *a_ = (a), *b_ = (b);                                      \
        if (a_ != b_) {                                                       \
            MPP_FAIL("%s == %s: %p != %p", #a, #b, a_, b_);                   \
        }                                                                     \
    } while (0)

#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a)                                                    \
    do {                                                                      \
        if ((a) == NULL) {                                                    \
            MPP_FAIL("%s is NULL", #a);                                       \
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
#define ASSERT_STR_EQ ASSERT_STREQ

#define ASSERT_MEMEQ(a, b, n)                                                 \
    do {                                                                      \
        size_t n_ = (n);                                                      \
        if (memcmp((a), (b), n_) != 0) {                                      \
            MPP_FAIL("%s and %s differ in their first %zu bytes", #a, #b,     \
                     n_);                                                     \
        }                                                                     \
    } while (0)

/* The comparison behind ASSERT_EQ & co.; `op` is the operator's text. */
void mpp_cmp_i64_(long long a, long long b, const char *op, const char *sa,
                  const char *sb, const char *file, int line);
void mpp_cmp_u64_(unsigned long long a, unsigned long long b, const char *op,
                  const char *sa, const char *sb, const char *file, int line);
void mpp_cmp_dbl_(long double a, long double b, const char *op,
                  const char *sa, const char *sb, const char *file, int line);

#endif
