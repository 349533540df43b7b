/* test_util.h — what every check suite of clnn shares: status and message assertions that print
 * the context's last error, a context that must open, and the suite runner. Header-only. */
#ifndef CLNN_TEST_UTIL_H
#define CLNN_TEST_UTIL_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"

/* call must return want; the failure names the call, both statuses and the last error. */
#define EXPECT_ST(ctx, call, want)                                                                 \
    do {                                                                                           \
        clnn_status got_ = (call);                                                                 \
        ck_assert_msg(got_ == (want), "%s: got %s, expected %s (last error: %s)", #call,           \
                      clnn_status_name(got_), clnn_status_name(want),                              \
                      (ctx) ? clnn_ctx_last_error(ctx) : "no context");                            \
    } while (0)

#define EXPECT_CONTAINS(text, part)                                                                \
    ck_assert_msg(strstr((text), (part)) != NULL, "got \"%s\", expected it to contain \"%s\"",     \
                  (text), (part))

/* A context that must open (options NULL: defaults); create it inside a test, never in main:
 * check forks every test. */
static inline clnn_ctx *test_ctx(const clnn_ctx_options *options)
{
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, options);
    ck_assert_msg(st == CLNN_OK, "clnn_ctx_create: got %s, expected CLNN_OK: %s",
                  clnn_status_name(st), clnn_ctx_last_error(ctx));
    return ctx;
}

/* Runs a suite (no OpenCL in the parent process) and returns the process exit status. */
static inline int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* CLNN_TEST_UTIL_H */
