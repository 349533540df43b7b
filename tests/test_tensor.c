/* test_tensor.c — the "tensor" check suite: caller-owned device tensors of f32 and i32 with 0 to
 * 6 dimensions; bit-exact write/read round trips, fill, copy, views that share storage (-1
 * inference), the accessors, and the error paths: wrong byte counts, bad shapes and dtypes, NULL
 * arguments (CLNN_ERR_INVALID, never a crash) and running out of device memory: one tensor past
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE, tensors or a graph's plan past CL_DEVICE_GLOBAL_MEM_SIZE (the
 * message names what was asked and what the device has, the context stays usable, nothing
 * leaks). Graph tensors are checked in test_graph.c. Every test makes its own
 * OpenCL context: check forks each test, and OpenCL must not be initialised before the fork. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "test_util.h"

static uint64_t device_bytes(const clnn_ctx *ctx)
{
    clnn_ctx_stats s;
    EXPECT_ST(ctx, clnn_ctx_stats_get(ctx, &s), CLNN_OK);
    return s.device_bytes_allocated;
}

static clnn_tensor *make_tensor(clnn_ctx *ctx, clnn_dtype dtype, int ndim, const int64_t *shape)
{
    clnn_tensor *t = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, dtype, ndim, shape, &t), CLNN_OK);
    ck_assert_msg(t != NULL, "clnn_tensor_create: got NULL, expected a tensor");
    return t;
}

/* Bit patterns a round trip must keep: signed zeros, a denormal, infinities, NaNs with payloads,
 * the extremes of i32. */
static uint32_t pattern(int64_t i)
{
    static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x7f800000u,
                                       0xff800000u, 0x7fc00001u, 0xffbadbadu, 0x7fffffffu,
                                       0x3f800000u, 0xdeadbeefu};
    enum { NSPECIAL = sizeof special / sizeof special[0] };
    return i < NSPECIAL ? special[i] : (uint32_t)(i * 2654435761u);
}

/* ---- create / write / read for 0..6 dimensions and both dtypes --------------------------- */
START_TEST(test_round_trip)
{
    int ndim = _i % (CLNN_MAX_DIMS + 1);
    clnn_dtype dtype = _i <= CLNN_MAX_DIMS ? CLNN_F32 : CLNN_I32;
    static const int64_t dims[CLNN_MAX_DIMS] = {3, 2, 5, 1, 4, 2};
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *t = make_tensor(ctx, dtype, ndim, dims);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= dims[i];
    ck_assert_msg(clnn_tensor_ndim(t) == ndim, "ndim: got %d, expected %d", clnn_tensor_ndim(t),
                  ndim);
    ck_assert_msg(clnn_tensor_numel(t) == numel, "numel: got %lld, expected %lld",
                  (long long)clnn_tensor_numel(t), (long long)numel);
    ck_assert_msg(clnn_tensor_bytes(t) == (size_t)numel * 4, "bytes: got %zu, expected %zu",
                  clnn_tensor_bytes(t), (size_t)numel * 4);
    ck_assert_msg(clnn_tensor_dtype(t) == dtype, "dtype: got %d, expected %d",
                  (int)clnn_tensor_dtype(t), (int)dtype);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(clnn_tensor_dim(t, i) == dims[i], "dim %d: got %lld, expected %lld", i,
                      (long long)clnn_tensor_dim(t, i), (long long)dims[i]);
    uint32_t *in = malloc((size_t)numel * 4), *out = malloc((size_t)numel * 4);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    for (int64_t i = 0; i < numel; i++) {
        in[i] = pattern(i + ndim);
        out[i] = ~in[i];
    }
    EXPECT_ST(ctx, clnn_tensor_write(t, in, (size_t)numel * 4), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(t, out, (size_t)numel * 4), CLNN_OK);
    for (int64_t i = 0; i < numel; i++)
        ck_assert_msg(in[i] == out[i], "element %lld: got 0x%08x, expected 0x%08x (bit exact)",
                      (long long)i, out[i], in[i]);
    free(in);
    free(out);
    clnn_tensor_destroy(t);
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes after destroy: got %llu, expected 0",
                  (unsigned long long)device_bytes(ctx));
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_accessors)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *t = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){4, 3});
    static const struct {
        int axis;
        int64_t want;
    } dims[] = {{0, 4}, {1, 3}, {-1, 3}, {-2, 4}, {2, 0}, {-3, 0}, {100, 0}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        ck_assert_msg(clnn_tensor_dim(t, dims[i].axis) == dims[i].want,
                      "dim(%d): got %lld, expected %lld", dims[i].axis,
                      (long long)clnn_tensor_dim(t, dims[i].axis), (long long)dims[i].want);
    ck_assert_msg(clnn_tensor_numel(t) == 12 && clnn_tensor_bytes(t) == 48,
                  "numel, bytes: got %lld, %zu, expected 12, 48", (long long)clnn_tensor_numel(t),
                  clnn_tensor_bytes(t));
    char buf[64];
    const char *s = clnn_tensor_shape_str(t, buf, sizeof buf);
    ck_assert_msg(!strcmp(s, "(4, 3)") && s == buf,
                  "shape_str: got \"%s\" (in buf: %d), expected \"(4, 3)\" in buf", s, s == buf);
    char small[4];
    s = clnn_tensor_shape_str(t, small, sizeof small);
    ck_assert_msg(
        strlen(s) < sizeof small && !strncmp(s, "(4, 3)", strlen(s)),
        "shape_str into 4 bytes: got \"%s\", expected a NUL-terminated prefix of \"(4, 3)\"", s);
    clnn_tensor *v0 = make_tensor(ctx, CLNN_F32, 0, NULL);
    clnn_tensor *v1 = make_tensor(ctx, CLNN_F32, 1, (int64_t[]){5});
    ck_assert_msg(!strcmp(clnn_tensor_shape_str(v0, buf, sizeof buf), "()"),
                  "shape_str of a scalar: got \"%s\", expected \"()\"", buf);
    ck_assert_msg(!strcmp(clnn_tensor_shape_str(v1, buf, sizeof buf), "(5,)"),
                  "shape_str of a vector: got \"%s\", expected \"(5,)\"", buf);
    ck_assert_msg(clnn_tensor_numel(v0) == 1 && clnn_tensor_ndim(v0) == 0,
                  "scalar: got numel %lld ndim %d, expected 1 0", (long long)clnn_tensor_numel(v0),
                  clnn_tensor_ndim(v0));
    /* names */
    ck_assert_msg(!strcmp(clnn_tensor_name(t), "tensor"),
                  "default name: got \"%s\", expected \"tensor\"", clnn_tensor_name(t));
    ck_assert_msg(clnn_tensor_set_name(t, "weights") == t,
                  "set_name: got another pointer, expected t");
    ck_assert_msg(!strcmp(clnn_tensor_name(t), "weights"), "name: got \"%s\", expected \"weights\"",
                  clnn_tensor_name(t));
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    clnn_tensor_set_name(t, longname);
    size_t len = strlen(clnn_tensor_name(t));
    ck_assert_msg(len > 0 && len < sizeof longname - 1 &&
                      !strncmp(clnn_tensor_name(t), longname, len),
                  "a 199-char name: got %zu chars, expected a truncated prefix", len);
    ck_assert_msg(clnn_tensor_set_name(NULL, "x") == NULL, "set_name(NULL): got non-NULL");
    clnn_tensor_set_name(t, NULL); /* keeps the name */
    clnn_tensor_destroy(t);
    clnn_tensor_destroy(v0);
    clnn_tensor_destroy(v1);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- fill and copy ------------------------------------------------------------------------ */
START_TEST(test_fill)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *f = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){7, 9});
    float got[63];
    EXPECT_ST(ctx, clnn_tensor_fill(f, -2.5f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(f, got, sizeof got), CLNN_OK);
    for (int i = 0; i < 63; i++)
        ck_assert_msg(got[i] == -2.5f, "f32 fill [%d]: got %g, expected -2.5", i, (double)got[i]);
    clnn_tensor *n = make_tensor(ctx, CLNN_I32, 1, (int64_t[]){5});
    int32_t ints[5];
    EXPECT_ST(ctx, clnn_tensor_fill(n, 7.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(n, ints, sizeof ints), CLNN_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(ints[i] == 7, "i32 fill [%d]: got %d, expected 7", i, ints[i]);
    EXPECT_ST(ctx, clnn_tensor_fill(n, -3.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(n, ints, sizeof ints), CLNN_OK);
    ck_assert_msg(ints[4] == -3, "i32 fill -3: got %d, expected -3", ints[4]);
    clnn_tensor *s = make_tensor(ctx, CLNN_F32, 0, NULL);
    float one;
    EXPECT_ST(ctx, clnn_tensor_fill(s, 4.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(s, &one, sizeof one), CLNN_OK);
    ck_assert_msg(one == 4.0f, "scalar fill: got %g, expected 4", (double)one);
    EXPECT_ST(ctx, clnn_tensor_fill(NULL, 1.0f), CLNN_ERR_INVALID);
    clnn_tensor_destroy(f);
    clnn_tensor_destroy(n);
    clnn_tensor_destroy(s);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Copies of 1 MiB and more run a kernel on CPU devices (copy_span, where clEnqueueCopyBuffer is
 * one thread's memcpy): bit-exact for any 32-bit pattern (NaN payloads included), spans that do
 * not divide the count, a tail shorter than 8. */
START_TEST(test_copy_large)
{
    clnn_ctx *ctx = test_ctx(NULL);
    const int64_t n = 2 * 131073; /* 1 MiB + 8 bytes */
    clnn_tensor *a = make_tensor(ctx, CLNN_I32, 2, (int64_t[]){2, 131073});
    clnn_tensor *b = make_tensor(ctx, CLNN_I32, 1, (int64_t[]){n});
    int32_t *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    ck_assert(in && out);
    for (int64_t i = 0; i < n; i++)
        in[i] = (int32_t)(0x7fc00001u + (uint32_t)i * 2654435761u);
    EXPECT_ST(ctx, clnn_tensor_write(a, in, (size_t)n * sizeof *in), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(b, 0), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_copy(b, a), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(b, out, (size_t)n * sizeof *out), CLNN_OK);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(in[i] == out[i],
                      "copy of %lld elements: got 0x%08x at [%lld], expected 0x%08x", (long long)n,
                      (unsigned)out[i], (long long)i, (unsigned)in[i]);
    free(in);
    free(out);
    clnn_tensor_destroy(a);
    clnn_tensor_destroy(b);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_copy)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *a = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){2, 6});
    clnn_tensor *b = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){3, 4}); /* same count */
    clnn_tensor *c = make_tensor(ctx, CLNN_F32, 1, (int64_t[]){11});
    clnn_tensor *n = make_tensor(ctx, CLNN_I32, 2, (int64_t[]){4, 3});
    float in[12], out[12];
    for (int i = 0; i < 12; i++)
        in[i] = (float)i * 1.5f - 4;
    EXPECT_ST(ctx, clnn_tensor_write(a, in, sizeof in), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(b, 0), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_copy(b, a), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(b, out, sizeof out), CLNN_OK);
    ck_assert_msg(!memcmp(in, out, sizeof in), "copy: got %g at [11], expected %g", (double)out[11],
                  (double)in[11]);
    EXPECT_ST(ctx, clnn_tensor_copy(a, a), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(a, out, sizeof out), CLNN_OK);
    ck_assert_msg(!memcmp(in, out, sizeof in), "copy onto itself: got %g at [0], expected %g",
                  (double)out[0], (double)in[0]);
    /* mismatches name both shapes */
    EXPECT_ST(ctx, clnn_tensor_copy(c, a), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(11,)");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(2, 6)");
    EXPECT_ST(ctx, clnn_tensor_copy(n, b), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "dtype");
    EXPECT_ST(ctx, clnn_tensor_copy(NULL, a), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_copy(a, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_copy(NULL, NULL), CLNN_ERR_INVALID);
    clnn_ctx *ctx2 = test_ctx(NULL); /* tensors of two contexts do not mix */
    clnn_tensor *far = make_tensor(ctx2, CLNN_F32, 2, (int64_t[]){2, 6});
    EXPECT_ST(ctx, clnn_tensor_copy(a, far), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "context");
    clnn_tensor_destroy(far);
    clnn_ctx_destroy(ctx2);
    clnn_tensor_destroy(a);
    clnn_tensor_destroy(b);
    clnn_tensor_destroy(c);
    clnn_tensor_destroy(n);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- views -------------------------------------------------------------------------------- */
START_TEST(test_view_shares_storage)
{
    clnn_ctx *ctx = test_ctx(NULL);
    uint64_t base = device_bytes(ctx);
    clnn_tensor *t = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){4, 3});
    uint64_t one = device_bytes(ctx) - base;
    clnn_tensor *v = NULL;
    EXPECT_ST(ctx, clnn_tensor_view(t, 2, (int64_t[]){2, 6}, &v), CLNN_OK);
    ck_assert_msg(device_bytes(ctx) - base == one,
                  "device bytes after a view: got %llu, expected %llu (no copy)",
                  (unsigned long long)(device_bytes(ctx) - base), (unsigned long long)one);
    ck_assert_msg(clnn_tensor_dim(v, 0) == 2 && clnn_tensor_dim(v, 1) == 6,
                  "view shape: got (%lld, %lld), expected (2, 6)", (long long)clnn_tensor_dim(v, 0),
                  (long long)clnn_tensor_dim(v, 1));
    float in[12], out[12];
    for (int i = 0; i < 12; i++)
        in[i] = (float)(i * i) - 7.25f;
    EXPECT_ST(ctx, clnn_tensor_write(v, in, sizeof in), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(t, out, sizeof out), CLNN_OK);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(out[i] == in[i],
                      "write through the view, read the original [%d]: got %g, expected %g", i,
                      (double)out[i], (double)in[i]);
    /* -1 is inferred */
    clnn_tensor *w = NULL;
    EXPECT_ST(ctx, clnn_tensor_view(t, 3, (int64_t[]){-1, 2, 1}, &w), CLNN_OK);
    ck_assert_msg(clnn_tensor_dim(w, 0) == 6, "inferred dim: got %lld, expected 6",
                  (long long)clnn_tensor_dim(w, 0));
    clnn_tensor *s = NULL; /* a view of a view, then fill the original */
    EXPECT_ST(ctx, clnn_tensor_view(w, 1, (int64_t[]){-1}, &s), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(t, 3.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(s, out, sizeof out), CLNN_OK);
    ck_assert_msg(out[0] == 3.0f && out[11] == 3.0f,
                  "fill seen through a view of a view: got %g %g, expected 3 3", (double)out[0],
                  (double)out[11]);
    /* views keep the storage alive */
    clnn_tensor_destroy(t);
    clnn_tensor_destroy(w);
    EXPECT_ST(ctx, clnn_tensor_read(s, out, sizeof out), CLNN_OK);
    ck_assert_msg(out[5] == 3.0f, "read after the original died: got %g, expected 3",
                  (double)out[5]);
    ck_assert_msg(device_bytes(ctx) - base == one,
                  "device bytes while a view lives: got %llu, expected %llu",
                  (unsigned long long)(device_bytes(ctx) - base), (unsigned long long)one);
    clnn_tensor_destroy(v);
    clnn_tensor_destroy(s);
    ck_assert_msg(device_bytes(ctx) == base,
                  "device bytes after the last view: got %llu, expected %llu",
                  (unsigned long long)device_bytes(ctx), (unsigned long long)base);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_view_errors)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *t = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){4, 3}), *v = NULL;
    EXPECT_ST(ctx, clnn_tensor_view(t, 2, (int64_t[]){5, 2}, &v), CLNN_ERR_SHAPE);
    const char *msg = clnn_ctx_last_error(ctx);
    EXPECT_CONTAINS(msg, "(4, 3)"); /* expected: the original and its 12 elements */
    EXPECT_CONTAINS(msg, "12");
    EXPECT_CONTAINS(msg, "(5, 2)"); /* given */
    ck_assert_msg(v == NULL, "a failed view: got %p, expected NULL", (void *)v);
    static const struct {
        int ndim;
        int64_t shape[7];
    } bad[] = {
        {2, {-1, -1}},  /* two unknowns */
        {2, {-1, 5}},   /* 12 is not a multiple of 5 */
        {2, {0, 12}},   /* zero */
        {2, {-2, -6}},  /* negative */
        {3, {2, 2, 2}}, /* 8 elements */
        {7, {12, 1, 1, 1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clnn_status st = clnn_tensor_view(t, bad[i].ndim, bad[i].shape, &v);
        ck_assert_msg(st == CLNN_ERR_SHAPE && v == NULL,
                      "bad view %zu: got %s (%p), expected CLNN_ERR_SHAPE and NULL", i,
                      clnn_status_name(st), (void *)v);
    }
    EXPECT_ST(ctx, clnn_tensor_view(NULL, 1, (int64_t[]){12}, &v), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_view(t, 1, (int64_t[]){12}, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_view(t, 2, NULL, &v), CLNN_ERR_INVALID);
    ck_assert_msg(device_bytes(ctx) == 48, "device bytes after failed views: got %llu, expected 48",
                  (unsigned long long)device_bytes(ctx));
    clnn_tensor_destroy(t);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- error paths -------------------------------------------------------------------------- */
START_TEST(test_wrong_byte_count)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_tensor *t = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){4, 3});
    float buf[13] = {0};
    EXPECT_ST(ctx, clnn_tensor_write(t, buf, 44), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "48");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "44");
    EXPECT_ST(ctx, clnn_tensor_read(t, buf, 52), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "48");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "52");
    EXPECT_ST(ctx, clnn_tensor_read(t, buf, 0), CLNN_ERR_SHAPE);
    EXPECT_ST(ctx, clnn_tensor_write(t, NULL, 48), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_read(t, NULL, 48), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_write(NULL, buf, 48), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_read(NULL, buf, 48), CLNN_ERR_INVALID);
    /* the tensor still works */
    for (int i = 0; i < 12; i++)
        buf[i] = (float)i;
    EXPECT_ST(ctx, clnn_tensor_write(t, buf, 48), CLNN_OK);
    float out[12];
    EXPECT_ST(ctx, clnn_tensor_read(t, out, sizeof out), CLNN_OK);
    ck_assert_msg(out[11] == 11.0f, "after the errors: got %g, expected 11", (double)out[11]);
    clnn_tensor_destroy(t);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_bad_shapes_and_dtypes)
{
    clnn_ctx *ctx = test_ctx(NULL);
    static const struct {
        int ndim;
        int64_t shape[8];
        clnn_status want;
        const char *says;
    } cases[] = {
        {7, {1, 1, 1, 1, 1, 1, 1}, CLNN_ERR_SHAPE, "7"},
        {8, {1, 1, 1, 1, 1, 1, 1, 1}, CLNN_ERR_SHAPE, "8"},
        {-1, {1}, CLNN_ERR_SHAPE, "-1"},
        {2, {3, 0}, CLNN_ERR_SHAPE, "0"},
        {2, {3, -4}, CLNN_ERR_SHAPE, "-4"},
        {1, {-1}, CLNN_ERR_SHAPE, "-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static int sentinel;
        clnn_tensor *t = (clnn_tensor *)(void *)&sentinel; /* must be reset to NULL */
        clnn_status st = clnn_tensor_create(ctx, CLNN_F32, cases[i].ndim, cases[i].shape, &t);
        ck_assert_msg(st == cases[i].want && t == NULL,
                      "case %zu: got %s (%p), expected %s and NULL", i, clnn_status_name(st),
                      (void *)t, clnn_status_name(cases[i].want));
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), cases[i].says);
    }
    clnn_tensor *t = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F16, 1, (int64_t[]){4}, &t), CLNN_ERR_UNSUPPORTED);
    EXPECT_ST(ctx, clnn_tensor_create(ctx, (clnn_dtype)99, 1, (int64_t[]){4}, &t),
              CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 2, NULL, &t), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){4}, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_tensor_create(NULL, CLNN_F32, 1, (int64_t[]){4}, &t), CLNN_ERR_INVALID);
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes after failed creates: got %llu, expected 0",
                  (unsigned long long)device_bytes(ctx));
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_null_handles)
{
    /* no context needed: every call on NULL returns a neutral value */
    clnn_tensor_destroy(NULL);
    ck_assert_msg(clnn_tensor_ndim(NULL) == 0 && clnn_tensor_numel(NULL) == 0 &&
                      clnn_tensor_bytes(NULL) == 0 && clnn_tensor_dim(NULL, 0) == 0,
                  "accessors of NULL: got a non-zero value, expected 0");
    ck_assert_msg(!strcmp(clnn_tensor_name(NULL), ""), "name of NULL: got \"%s\", expected \"\"",
                  clnn_tensor_name(NULL));
    char buf[16] = "unchanged";
    ck_assert_msg(!strcmp(clnn_tensor_shape_str(NULL, buf, sizeof buf), ""),
                  "shape_str of NULL: got a non-empty string, expected \"\"");
    ck_assert_msg(clnn_tensor_grad(NULL) == NULL, "grad of NULL: got non-NULL");
}
END_TEST

static clnn_live_objects live(void)
{
    clnn_live_objects o;
    clnn_live_objects_get(&o);
    return o;
}

static void expect_live(clnn_live_objects want, const char *when)
{
    clnn_live_objects now = live();
    ck_assert_msg(
        now.buffers == want.buffers && now.kernels == want.kernels && now.programs == want.programs,
        "%s: live OpenCL objects got %ld buffers, %ld kernels, %ld programs, expected "
        "%ld, %ld, %ld",
        when, now.buffers, now.kernels, now.programs, want.buffers, want.kernels, want.programs);
}

static void expect_contains_number(const char *msg, uint64_t n)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)n);
    EXPECT_CONTAINS(msg, num);
}

/* The context still computes: (1, 2, 3) + (10, 20, 30) on a fresh graph. */
static void expect_context_works(clnn_ctx *ctx)
{
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    const int64_t three = 3;
    clnn_tensor *a = clnn_input(g, "a", 1, &three), *b = clnn_input(g, "b", 1, &three);
    clnn_tensor *y = clnn_add(g, a, b);
    ck_assert_msg(y != NULL, "a small graph: %s", clnn_graph_last_error(g));
    const float va[3] = {1, 2, 3}, vb[3] = {10, 20, 30};
    float out[3] = {0};
    EXPECT_ST(ctx, clnn_tensor_write(a, va, sizeof va), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(b, vb, sizeof vb), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(y, out, sizeof out), CLNN_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(out[i] == va[i] + vb[i], "after the failure: element %d is %g, expected %g",
                      i, (double)out[i], (double)(va[i] + vb[i]));
    clnn_graph_destroy(g);
}

/* One tensor larger than CL_DEVICE_MAX_MEM_ALLOC_SIZE: refused before OpenCL is asked (POCL does
 * not enforce the limit), with a message that names what was asked and what the device allows;
 * nothing leaks and the context still computes. */
START_TEST(test_out_of_device_memory)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    clnn_tensor *keep = make_tensor(ctx, CLNN_F32, 1, (int64_t[]){16});
    uint64_t base = device_bytes(ctx);
    clnn_live_objects before = live();
    static const int64_t huge_2d[2] = {(int64_t)1 << 20, (int64_t)1 << 20}; /* 4 TiB */
    int64_t over = (int64_t)(info.max_alloc_bytes / 4) + 1;
    struct {
        clnn_dtype dtype;
        int ndim;
        const int64_t *shape;
        uint64_t bytes;
    } cases[] = {
        {CLNN_F32, 1, &over, (uint64_t)over * 4},
        {CLNN_I32, 1, &over, (uint64_t)over * 4},
        {CLNN_F32, 2, huge_2d, (uint64_t)1 << 42},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnn_tensor *t = NULL;
        clnn_status st = clnn_tensor_create(ctx, cases[i].dtype, cases[i].ndim, cases[i].shape, &t);
        ck_assert_msg(st == CLNN_ERR_DEVICE_MEMORY && t == NULL,
                      "case %zu: got %s (%p), expected CLNN_ERR_DEVICE_MEMORY and NULL", i,
                      clnn_status_name(st), (void *)t);
        const char *msg = clnn_ctx_last_error(ctx);
        EXPECT_CONTAINS(msg, info.name);
        expect_contains_number(msg, cases[i].bytes);       /* asked */
        expect_contains_number(msg, info.max_alloc_bytes); /* allowed in one buffer */
        EXPECT_CONTAINS(msg, "CL_DEVICE_MAX_MEM_ALLOC_SIZE");
        ck_assert_msg(device_bytes(ctx) == base, "case %zu: device bytes got %llu, expected %llu",
                      i, (unsigned long long)device_bytes(ctx), (unsigned long long)base);
        expect_live(before, "after a refused tensor");
    }
    /* the context is still usable */
    clnn_tensor *t = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){2, 2});
    float in[4] = {1, 2, 3, 4}, out[4];
    EXPECT_ST(ctx, clnn_tensor_write(t, in, sizeof in), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_copy(keep, keep), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(t, out, sizeof out), CLNN_OK);
    ck_assert_msg(!memcmp(in, out, sizeof in), "after the failure: got %g, expected 4",
                  (double)out[3]);
    expect_context_works(ctx);
    clnn_tensor_destroy(t);
    clnn_tensor_destroy(keep);
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes at the end: got %llu, expected 0",
                  (unsigned long long)device_bytes(ctx));
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Tensors that each fit in one buffer but together exceed CL_DEVICE_GLOBAL_MEM_SIZE: the one that
 * would pass the device's memory is refused (the message gives what was asked, what the device has
 * and what the context holds), and after one is destroyed the next fits again. The buffers are
 * never written, so POCL (like most drivers) never backs them with memory. */
START_TEST(test_out_of_device_memory_total)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    uint64_t cap = info.max_alloc_bytes < info.global_mem_bytes / 2 ? info.max_alloc_bytes
                                                                    : info.global_mem_bytes / 2;
    int64_t n = (int64_t)(cap / 10 * 9 / 4);
    uint64_t per = (uint64_t)n * 4;
    int fit = (int)(info.global_mem_bytes / per); /* this many fit, one more does not */
    ck_assert_int_le(fit, 64);
    clnn_live_objects before = live();
    clnn_tensor *t[65] = {0};
    for (int i = 0; i < fit; i++)
        t[i] = make_tensor(ctx, CLNN_F32, 1, &n);
    clnn_live_objects full = live();
    clnn_tensor *extra = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, &n, &extra), CLNN_ERR_DEVICE_MEMORY);
    ck_assert_ptr_null(extra);
    const char *msg = clnn_ctx_last_error(ctx);
    expect_contains_number(msg, per);                   /* asked */
    expect_contains_number(msg, info.global_mem_bytes); /* the device's memory */
    expect_contains_number(msg, (uint64_t)fit * per);   /* held by the context */
    EXPECT_CONTAINS(msg, "CL_DEVICE_GLOBAL_MEM_SIZE");
    ck_assert_msg(device_bytes(ctx) == (uint64_t)fit * per, "device bytes got %llu, expected %llu",
                  (unsigned long long)device_bytes(ctx), (unsigned long long)fit * per);
    expect_live(full, "after the refused tensor");
    /* room again after a destroy */
    clnn_tensor_destroy(t[0]);
    t[0] = make_tensor(ctx, CLNN_F32, 1, &n);
    for (int i = 0; i < fit; i++)
        clnn_tensor_destroy(t[i]);
    expect_live(before, "after destroying the tensors");
    expect_context_works(ctx);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Shape (rows, cols) of a f32 matrix of about `bytes` bytes, cols 1024. */
static void matrix_of(uint64_t bytes, int64_t shape[2])
{
    shape[1] = 1024;
    shape[0] = (int64_t)(bytes / (4 * 1024));
}

/* A graph whose results each fit in one buffer but together need more than the device's memory
 * (CL_DEVICE_GLOBAL_MEM_SIZE): k outer sums a (R, 1) + b (1, C), each kept. clnn_graph_run
 * refuses it when planning, before any buffer is made: the message gives what the plan needs and
 * what the device has; nothing leaks; the context and the small leaves still work. */
START_TEST(test_graph_out_of_device_memory)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    uint64_t cap = info.max_alloc_bytes < info.global_mem_bytes / 2 ? info.max_alloc_bytes
                                                                    : info.global_mem_bytes / 2;
    int64_t shape[2];
    matrix_of(cap / 10 * 9, shape); /* each result: 90% of what one buffer may take */
    uint64_t per = (uint64_t)shape[0] * (uint64_t)shape[1] * 4;
    int k = (int)(info.global_mem_bytes / per) + 1; /* k results exceed the device's memory */
    ck_assert_int_le(k, 64);

    expect_context_works(ctx); /* its program is built now, not counted as a leak below */
    clnn_live_objects start = live();
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){shape[0], 1});
    clnn_tensor *b = clnn_input(g, "b", 2, (int64_t[]){1, shape[1]});
    for (int i = 0; i < k; i++)
        clnn_graph_keep(g, i % 2 ? clnn_mul(g, a, b) : clnn_add(g, a, b));
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    uint64_t base = device_bytes(ctx);
    clnn_live_objects before = live();

    for (int attempt = 0; attempt < 2; attempt++) { /* a failed plan may be retried: same answer */
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_ERR_DEVICE_MEMORY);
        const char *msg = clnn_ctx_last_error(ctx);
        expect_contains_number(msg, (uint64_t)k * per);     /* needed */
        expect_contains_number(msg, info.global_mem_bytes); /* the device's memory */
        EXPECT_CONTAINS(msg, "CL_DEVICE_GLOBAL_MEM_SIZE");
        EXPECT_CONTAINS(msg, info.name);
        ck_assert_msg(device_bytes(ctx) == base, "device bytes got %llu, expected %llu",
                      (unsigned long long)device_bytes(ctx), (unsigned long long)base);
        expect_live(before, "after the refused plan");
    }
    /* the leaves are usable; the context computes */
    float *row = malloc((size_t)shape[1] * sizeof *row), *back = malloc((size_t)shape[1] * 4);
    ck_assert(row && back);
    for (int64_t i = 0; i < shape[1]; i++)
        row[i] = (float)i;
    EXPECT_ST(ctx, clnn_tensor_write(b, row, (size_t)shape[1] * 4), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(b, back, (size_t)shape[1] * 4), CLNN_OK);
    ck_assert_msg(!memcmp(row, back, (size_t)shape[1] * 4), "leaf b: the values read back differ");
    free(row);
    free(back);
    expect_context_works(ctx);
    clnn_graph_destroy(g);
    expect_live(start, "after destroying the graph");
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes at the end: got %llu, expected 0",
                  (unsigned long long)device_bytes(ctx));
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Element counts that overflow 64 bits must be refused, not wrapped into a small buffer. */
START_TEST(test_element_count_overflow)
{
    clnn_ctx *ctx = test_ctx(NULL);
    static const int64_t big[4] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40,
                                   (int64_t)1 << 40};
    for (int ndim = 2; ndim <= 4; ndim++) {
        clnn_tensor *t = NULL;
        clnn_status st = clnn_tensor_create(ctx, CLNN_F32, ndim, big, &t);
        ck_assert_msg((st == CLNN_ERR_SHAPE || st == CLNN_ERR_DEVICE_MEMORY) && t == NULL,
                      "%d dims of 2^40: got %s (%p, numel %lld), expected CLNN_ERR_SHAPE or "
                      "CLNN_ERR_DEVICE_MEMORY",
                      ndim, clnn_status_name(st), (void *)t, (long long)clnn_tensor_numel(t));
    }
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes: got %llu, expected 0",
                  (unsigned long long)device_bytes(ctx));
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_no_leak)
{
    clnn_ctx *ctx = test_ctx(NULL);
    uint64_t base = device_bytes(ctx);
    for (int round = 0; round < 20; round++) {
        clnn_tensor *a = make_tensor(ctx, CLNN_F32, 2, (int64_t[]){16, 16});
        clnn_tensor *b = make_tensor(ctx, CLNN_I32, 3, (int64_t[]){2, 3, 4});
        clnn_tensor *v = NULL;
        EXPECT_ST(ctx, clnn_tensor_view(a, 1, (int64_t[]){-1}, &v), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_fill(v, (float)round), CLNN_OK);
        ck_assert_msg(device_bytes(ctx) == base + 16 * 16 * 4 + 24 * 4,
                      "round %d: device bytes got %llu, expected %llu", round,
                      (unsigned long long)device_bytes(ctx),
                      (unsigned long long)(base + 16 * 16 * 4 + 24 * 4));
        clnn_tensor_destroy(a);
        clnn_tensor_destroy(v);
        clnn_tensor_destroy(b);
        ck_assert_msg(device_bytes(ctx) == base, "round %d: after destroy got %llu, expected %llu",
                      round, (unsigned long long)device_bytes(ctx), (unsigned long long)base);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

static TCase *new_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    if (!getenv("CK_DEFAULT_TIMEOUT"))
        tcase_set_timeout(tc, 300); /* a cold POCL compiles for many seconds */
    return tc;
}

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = new_tcase("data");
    tcase_add_loop_test(tc, test_round_trip, 0, 2 * (CLNN_MAX_DIMS + 1));
    tcase_add_test(tc, test_accessors);
    tcase_add_test(tc, test_fill);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_copy_large);
    tcase_add_test(tc, test_view_shares_storage);
    suite_add_tcase(s, tc);

    tc = new_tcase("errors");
    tcase_add_test(tc, test_view_errors);
    tcase_add_test(tc, test_wrong_byte_count);
    tcase_add_test(tc, test_bad_shapes_and_dtypes);
    tcase_add_test(tc, test_null_handles);
    tcase_add_test(tc, test_out_of_device_memory);
    tcase_add_test(tc, test_out_of_device_memory_total);
    tcase_add_test(tc, test_graph_out_of_device_memory);
    tcase_add_test(tc, test_element_count_overflow);
    tcase_add_test(tc, test_no_leak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* no OpenCL here: check forks every test, and each test makes its own context */
    return test_run_suite(tensor_suite());
}
