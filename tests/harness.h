/*
 * harness: a tiny test runner. ES_TEST(name) defines a test; ES_RUN(name)
 * runs it from main(); ES_ASSERT* print the expression, both values, file and
 * line, count the failure and return from the test. ES_DONE() prints the
 * closing line "N passed, N failed" and returns the exit status.
 */
#ifndef ES_TEST_HARNESS_H
#define ES_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int es_t_passed, es_t_failed, es_t_cur_failed;

#define ES_TEST(name) static void name(void)
#define ES_RUN(name)                                                                               \
    do {                                                                                           \
        es_t_cur_failed = 0;                                                                       \
        name();                                                                                    \
        if (es_t_cur_failed) {                                                                     \
            es_t_failed++;                                                                         \
            printf("FAIL %s\n", #name);                                                            \
        } else {                                                                                   \
            es_t_passed++;                                                                         \
            printf("ok   %s\n", #name);                                                            \
        }                                                                                          \
    } while (0)
#define ES_FAILF(...)                                                                              \
    do {                                                                                           \
        printf("  %s:%d: ", __FILE__, __LINE__);                                                   \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        es_t_cur_failed = 1;                                                                       \
        return;                                                                                    \
    } while (0)
#define ES_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ES_FAILF("assertion failed: %s", #c);                                                  \
    } while (0)
#define ES_ASSERT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long es_a_ = (long long)(a), es_b_ = (long long)(b);                                  \
        if (es_a_ != es_b_)                                                                        \
            ES_FAILF("%s == %s: %lld != %lld", #a, #b, es_a_, es_b_);                              \
    } while (0)
#define ES_ASSERT_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *es_a_ = (a), *es_b_ = (b);                                                     \
        if (!es_a_ || !es_b_ || strcmp(es_a_, es_b_) != 0)                                         \
            ES_FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, es_a_ ? es_a_ : "(null)",               \
                     es_b_ ? es_b_ : "(null)");                                                    \
    } while (0)
#define ES_ASSERT_NEAR(a, b, eps)                                                                  \
    do {                                                                                           \
        double es_a_ = (a), es_b_ = (b);                                                           \
        if (es_a_ - es_b_ > (eps) || es_b_ - es_a_ > (eps))                                        \
            ES_FAILF("%s ~= %s: %.7f != %.7f", #a, #b, es_a_, es_b_);                             \
    } while (0)
#define ES_DONE()                                                                                  \
    (printf("%d passed, %d failed\n", es_t_passed, es_t_failed), es_t_failed ? 1 : 0)

#endif
