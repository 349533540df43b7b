/* core_util.h — what the core and programs suites (test_core.c, test_programs.c) share: a clean
 * environment for a default context, context stats, flat temporary directories and file
 * copies, the kernels/ source tree copied (optionally with a broken kernel appended) and the
 * build failure that causes, a small graph that uses every program kind, and a test case with
 * room for a cold POCL. Header-only (static inline). */
#ifndef CLNN_TEST_CORE_UTIL_H
#define CLNN_TEST_CORE_UTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"

/* The value of CL_BUILD_PROGRAM_FAILURE in CL/cl.h; the public API speaks plain ints. */
enum { RAW_CL_BUILD_PROGRAM_FAILURE = -11 };

/* Variables that change what a default context does; each test starts without them. */
static inline void clean_env(void)
{
    unsetenv("CLNN_DEVICE");
    unsetenv("CLNN_NO_CACHE");
    unsetenv("CLNN_KERNEL_DIR");
    unsetenv("CLNN_PROFILE");
}

static inline clnn_ctx_stats stats_of(const clnn_ctx *ctx)
{
    clnn_ctx_stats s;
    EXPECT_ST(ctx, clnn_ctx_stats_get(ctx, &s), CLNN_OK);
    return s;
}

/* ---- files ------------------------------------------------------------------------------- */
static inline void temp_dir(char *path, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, size, "%s/clnn-test-core-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp(%s): got %s, expected a new directory", path,
                  strerror(errno));
}

/* Removes a directory and the plain files in it (the test directories are flat). */
static inline void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The names of the files in dir ending in suffix, sorted; returns how many (at most cap). */
static inline int list_files(const char *dir, const char *suffix, char names[][256], int cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t ls = strlen(suffix);
    while ((e = readdir(d)) && n < cap) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] != '.' && l > ls && !strcmp(e->d_name + l - ls, suffix))
            snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* path = dir/name, asserting that it fits. */
static inline void path_join(char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    ck_assert_msg(n > 0 && (size_t)n < size, "path %s/%s: got %d chars, expected fewer than %zu",
                  dir, name, n, size);
}

static inline void copy_file(const char *from, const char *to, const char *append)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_msg(in && out, "copying %s to %s: got %s, expected both files to open", from, to,
                  strerror(errno));
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_msg(fwrite(buf, 1, n, out) == n, "writing %s: got a short write", to);
    if (append)
        fputs(append, out);
    fclose(in);
    ck_assert_msg(fclose(out) == 0, "closing %s: got %s, expected success", to, strerror(errno));
}

/* The kernels/ folder of the source tree. Tests that copy kernels call it before they make a
 * temporary directory, so that a missing variable leaves nothing behind. */
static inline const char *kernel_src(void)
{
    const char *src = getenv("CLNN_TEST_KERNEL_SRC");
    ck_assert_msg(src && *src, "CLNN_TEST_KERNEL_SRC: got nothing, expected the path of the "
                               "kernels/ source directory (tests/meson.build sets it)");
    return src;
}

/* Copies the kernels/ files (*.cl) from the source tree ($CLNN_TEST_KERNEL_SRC, set by
 * tests/meson.build) into dir; the first file after common.cl gets `broken` appended (NULL: an
 * exact copy). Returns that file's name without ".cl" in broken_name. */
static inline void copy_kernels(const char *dir, const char *broken, char *broken_name, size_t size)
{
    const char *src = kernel_src();
    static char names[64][256];
    int n = list_files(src, ".cl", names, 64);
    ck_assert_msg(n >= 2, "kernel files in %s: got %d, expected common.cl and at least one more",
                  src, n);
    int broke = 0;
    for (int i = 0; i < n; i++) {
        char from[4096], to[4096];
        path_join(from, sizeof from, src, names[i]);
        path_join(to, sizeof to, dir, names[i]);
        int this_one = broken && !broke && strcmp(names[i], "common.cl") != 0;
        copy_file(from, to, this_one ? broken : NULL);
        if (this_one) {
            broke = 1;
            snprintf(broken_name, size, "%.*s", (int)strlen(names[i]) - 3, names[i]);
        }
    }
}

/* ---- a small graph that uses every program kind: elementwise, sum and a CLBlast GEMM ------ */
/* y = relu(x @ w + b), loss = sum(y);  x: (2, 3), w: (3, 4), b: (4) */
static inline void check_small_graph(clnn_ctx *ctx)
{
    static const float x[6] = {1, -2, 3, 0.5f, 4, -1};
    static const float w[12] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f,
                                0.7f, -0.8f, 0.9f, 1.0f, -1.1f, 1.2f};
    static const float b[4] = {0.5f, -0.5f, 0.25f, -0.25f};
    double want[8], want_loss = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            double s = b[j];
            for (int k = 0; k < 3; k++)
                s += (double)x[i * 3 + k] * w[k * 4 + j];
            want[i * 4 + j] = s > 0 ? s : 0;
            want_loss += want[i * 4 + j];
        }
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *tx = clnn_input(g, "x", 2, (int64_t[]){2, 3});
    clnn_tensor *tw = clnn_param(g, "w", 2, (int64_t[]){3, 4});
    clnn_tensor *tb = clnn_param(g, "b", 1, (int64_t[]){4});
    clnn_tensor *y =
        clnn_graph_keep(g, clnn_relu(g, clnn_add(g, clnn_matmul(g, tx, tw, 0, 0), tb)));
    clnn_tensor *loss = clnn_sum(g, y, 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(tx, x, sizeof x), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(tw, w, sizeof w), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(tb, b, sizeof b), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    float got[8], got_loss;
    EXPECT_ST(ctx, clnn_tensor_read(y, got, sizeof got), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(loss, &got_loss, sizeof got_loss), CLNN_OK);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-5, "y[%d]: got %.7g, expected %.7g", i,
                      (double)got[i], want[i]);
    ck_assert_msg(fabs(got_loss - want_loss) <= 1e-5, "loss: got %.7g, expected %.7g",
                  (double)got_loss, want_loss);
    clnn_graph_destroy(g);
}

#define BROKEN_KERNEL                                                                              \
    "\n__kernel void clnn_test_broken(__global float *y)\n{\n"                                     \
    "    y[0] = clnn_broken_identifier_xyz;\n}\n"

static inline void expect_broken_build(clnn_ctx *ctx, const char *file)
{
    EXPECT_ST(ctx, clnn_ctx_build_all(ctx), CLNN_ERR_BUILD);
    const char *msg = clnn_ctx_last_error(ctx);
    char where[300];
    snprintf(where, sizeof where, "%s.cl", file);
    EXPECT_CONTAINS(msg, where);
    EXPECT_CONTAINS(msg, "clnn_broken_identifier_xyz");
    EXPECT_CONTAINS(msg, "error");
    ck_assert_msg(clnn_ctx_last_raw_code(ctx) == RAW_CL_BUILD_PROGRAM_FAILURE,
                  "raw code of a build failure: got %d, expected %d (CL_BUILD_PROGRAM_FAILURE)",
                  clnn_ctx_last_raw_code(ctx), RAW_CL_BUILD_PROGRAM_FAILURE);
}

/* A test case with room for a cold POCL, which compiles for many seconds (meson's
 * CK_DEFAULT_TIMEOUT wins when it is set). */
static inline TCase *new_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    if (!getenv("CK_DEFAULT_TIMEOUT"))
        tcase_set_timeout(tc, 300);
    return tc;
}

#endif /* CLNN_TEST_CORE_UTIL_H */
