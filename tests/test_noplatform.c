/* test_noplatform.c — the "noplatform" check suite: clnn on a machine without any OpenCL
 * platform. tests/meson.build runs it with OCL_ICD_VENDORS pointing at a directory that does not
 * exist, so the ICD loader (ocl-icd) finds no vendor: listing devices and creating a context fail
 * with CLNN_ERR_NO_PLATFORM, and the failed context still explains how to install a driver. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "test_util.h"

/* The test only means something when the loader was pointed away from the real vendors. */
static void require_no_vendors(void)
{
    const char *v = getenv("OCL_ICD_VENDORS");
    ck_assert_msg(v && *v, "OCL_ICD_VENDORS: got nothing, expected a path without .icd files "
                           "(tests/meson.build sets it)");
}

START_TEST(test_devices_list_no_platform)
{
    require_no_vendors();
    size_t count = 77;
    EXPECT_ST(NULL, clnn_devices_list(NULL, 0, &count), CLNN_ERR_NO_PLATFORM);
    ck_assert_msg(count == 0, "count without a platform: got %zu, expected 0", count);
    clnn_device_info infos[2];
    count = 77;
    EXPECT_ST(NULL, clnn_devices_list(infos, 2, &count), CLNN_ERR_NO_PLATFORM);
    ck_assert_msg(count == 0, "count without a platform: got %zu, expected 0", count);
}
END_TEST

START_TEST(test_ctx_create_no_platform)
{
    require_no_vendors();
    for (int with_device = 0; with_device < 2; with_device++) {
        clnn_ctx_options o;
        clnn_ctx_options_init(&o);
        o.device = with_device ? "cpu" : NULL;
        clnn_ctx *ctx = NULL;
        EXPECT_ST(ctx, clnn_ctx_create(&ctx, &o), CLNN_ERR_NO_PLATFORM);
        ck_assert_msg(ctx != NULL, "failed context: got NULL, expected a context with a message");
        const char *msg = clnn_ctx_last_error(ctx);
        ck_assert_msg(strstr(msg, "pocl-opencl-icd") != NULL,
                      "message: got \"%s\", expected it to mention pocl-opencl-icd", msg);
        EXPECT_ST(ctx, clnn_ctx_last_status(ctx), CLNN_ERR_NO_PLATFORM);
        /* nothing runs on it, nothing crashes */
        clnn_tensor *t = NULL;
        EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){2}, &t), CLNN_ERR_STATE);
        clnn_graph *g = NULL;
        EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_ERR_STATE);
        EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_ERR_STATE);
        clnn_ctx_destroy(ctx);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("noplatform");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, test_devices_list_no_platform);
    tcase_add_test(tc, test_ctx_create_no_platform);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
