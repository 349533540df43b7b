/* test_ops_layout.c — the `check` suite of the layout family: clnn_permute, clnn_concat,
 * clnn_slice, clnn_pad and clnn_flatten. Each op is checked forward against its double reference
 * (tests/ref/ref_layout.c) and backward against central differences (tests/gradcheck.c) over
 * tables with odd sizes, negative axes and indices, Python's slice clamping, steps larger than
 * the axis, 1 to 11 concat inputs (more than a node's 8 chain nodes; repeated inputs accumulate
 * gradients) and padding on any set of axes. Tests of their own check i32 tensors (bit-exact
 * copies), that flatten is a view, error paths (NULL, CLNN_ERR_SHAPE or CLNN_ERR_INVALID, a
 * message naming the op and the shapes) and PyTorch's golden numbers (tests/golden/layout.txt,
 * written by gen_layout.py). Each test creates its own context. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_layout.h"

typedef enum layout_kind {
    PERMUTE,
    CONCAT,
    SLICE,
    PAD,
    FLATTEN,
    PAD_THEN_SLICE,      /* slice(pad(x)) */
    PERMUTE_THEN_CONCAT, /* concat(permute(in0), in1) */
} layout_kind;

typedef struct layout_cfg {
    layout_kind op;
    int perm[CLNN_MAX_DIMS];
    int axis;
    int n, which[16]; /* concat: the inputs, by index, in order */
    int64_t start, end, step;
    int64_t pads[2 * CLNN_MAX_DIMS];
    float value;
} layout_cfg;

static clnn_tensor *build_layout(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const layout_cfg *c = cfg;
    clnn_tensor *xs[16];
    for (int k = 0; k < c->n; k++)
        xs[k] = in[c->which[k]];
    switch (c->op) {
    case PERMUTE:
        return clnn_permute(g, in[0], c->perm);
    case CONCAT:
        return clnn_concat(g, c->n, xs, c->axis);
    case SLICE:
        return clnn_slice(g, in[0], c->axis, c->start, c->end, c->step);
    case PAD:
        return clnn_pad(g, in[0], c->pads, c->value);
    case FLATTEN:
        return clnn_flatten(g, in[0]);
    case PAD_THEN_SLICE:
        return clnn_slice(g, clnn_pad(g, in[0], c->pads, c->value), c->axis, c->start, c->end,
                          c->step);
    case PERMUTE_THEN_CONCAT:
        return clnn_concat(g, 2, (clnn_tensor *[]){clnn_permute(g, in[0], c->perm), in[1]},
                           c->axis);
    }
    return NULL;
}

static int ref_layout(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                      ref_shape *sy)
{
    const layout_cfg *c = cfg;
    const double *xs[16];
    ref_shape shapes[16], st;
    for (int k = 0; k < c->n; k++) {
        xs[k] = in[c->which[k]];
        shapes[k] = s[c->which[k]];
    }
    switch (c->op) {
    case PERMUTE:
        return ref_permute(in[0], &s[0], c->perm, y, sy);
    case CONCAT:
        return ref_concat(c->n, xs, shapes, c->axis, y, sy);
    case SLICE:
        return ref_slice(in[0], &s[0], c->axis, c->start, c->end, c->step, y, sy);
    case PAD:
        return ref_pad(in[0], &s[0], c->pads, c->value, y, sy);
    case FLATTEN:
        *sy = (ref_shape){2, {s[0].dims[0], s[0].ndim ? ref_numel(&s[0]) / s[0].dims[0] : 0}};
        for (int64_t i = 0; y && i < ref_numel(sy); i++)
            y[i] = in[0][i];
        return s[0].ndim >= 1;
    case PAD_THEN_SLICE:
    case PERMUTE_THEN_CONCAT: {
        int pad = c->op == PAD_THEN_SLICE;
        int ok = pad ? ref_pad(in[0], &s[0], c->pads, c->value, NULL, &st)
                     : ref_permute(in[0], &s[0], c->perm, NULL, &st);
        double *t = ok ? malloc((size_t)ref_numel(&st) * sizeof *t) : NULL;
        ok = t && (pad ? ref_pad(in[0], &s[0], c->pads, c->value, t, &st)
                       : ref_permute(in[0], &s[0], c->perm, t, &st));
        if (ok && pad)
            ok = ref_slice(t, &st, c->axis, c->start, c->end, c->step, y, sy);
        else if (ok)
            ok = ref_concat(2, (const double *[]){t, in[1]}, (ref_shape[]){st, s[1]}, c->axis, y,
                            sy);
        free(t);
        return ok;
    }
    }
    return 0;
}

// clang-format off
#define CASE(name, cfg, ...) GC_CASE(name, build_layout, ref_layout, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
#define CFG(...) (&(const layout_cfg){__VA_ARGS__})
#define PERM(...) CFG(.op = PERMUTE, .perm = {__VA_ARGS__})
#define WHICH(...)                                                                                 \
    .n = (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), .which = {__VA_ARGS__}
#define CAT(axis_, ...) CFG(.op = CONCAT, .axis = (axis_), WHICH(__VA_ARGS__))
#define SL(axis_, start_, end_, step_)                                                             \
    CFG(.op = SLICE, .axis = (axis_), .start = (start_), .end = (end_), .step = (step_))
#define PADS(value_, ...) CFG(.op = PAD, .value = (value_), .pads = {__VA_ARGS__})
// clang-format on

static const gc_case permute_cases[] = {
    CASE("permute (0,2,3,1) (2,3,4,5)", PERM(0, 2, 3, 1), P(2, 3, 4, 5)),
    CASE("permute (0,3,1,2) (2,4,5,3)", PERM(0, 3, 1, 2), P(2, 4, 5, 3)),
    CASE("permute (1,0) (7,13)", PERM(1, 0), P(7, 13)),
    CASE("permute (2,0,1) (3,5,7)", PERM(2, 0, 1), P(3, 5, 7)),
    CASE("permute (-1,0,-2) (3,4,5)", PERM(-1, 0, -2), P(3, 4, 5)),
    CASE("permute identity (0,1,2) (3,4,5)", PERM(0, 1, 2), P(3, 4, 5)),
    CASE("permute (5,4,3,2,1,0) (2,1,3,2,2,3)", PERM(5, 4, 3, 2, 1, 0), P(2, 1, 3, 2, 2, 3)),
    CASE("permute (0,) (13,)", PERM(0), P(13)),
    CASE("permute () 0-d", PERM(0), {.ndim = 0, .requires_grad = 1}),
    CASE("permute (1,0) (300,70)", PERM(1, 0), P(300, 70)),
    CASE("permute (3,1,2,0) input x (5,6,7,3)", PERM(3, 1, 2, 0), X(5, 6, 7, 3)),
};

static const gc_case concat_cases[] = {
    CASE("concat axis 0 (2,3)+(4,3)+(1,3)", CAT(0, 0, 1, 2), P(2, 3), P(4, 3), P(1, 3)),
    CASE("concat axis 1 (2,3,4)+(2,1,4)+(2,5,4)", CAT(1, 0, 1, 2), P(2, 3, 4), P(2, 1, 4),
         P(2, 5, 4)),
    CASE("concat axis -1 (2,3,4)+(2,3,1)+(2,3,7)", CAT(-1, 0, 1, 2), P(2, 3, 4), P(2, 3, 1),
         P(2, 3, 7)),
    CASE("concat axis 1 NCHW (2,3,5,5)+(2,4,5,5)", CAT(1, 0, 1), P(2, 3, 5, 5), P(2, 4, 5, 5)),
    CASE("concat one input (3,5)", CAT(1, 0), P(3, 5)),
    CASE("concat axis 0 (13,)+(7,)", CAT(0, 0, 1), P(13), P(7)),
    CASE("concat a, b, a axis 1 (3,2)+(3,5)", CAT(1, 0, 1, 0), P(3, 2), P(3, 5)),
    CASE("concat input x and params axis 0 (2,3)+(3,3)", CAT(0, 0, 1), X(2, 3), P(3, 3)),
    /* 8 inputs fill one node; 9 and 11 chain a second one */
    CASE("concat 8 inputs axis 1", CAT(1, 0, 1, 2, 3, 0, 1, 2, 3), P(2, 1, 3), P(2, 2, 3),
         P(2, 3, 3), P(2, 1, 3)),
    CASE("concat 9 inputs axis 1", CAT(1, 0, 1, 2, 3, 0, 1, 2, 3, 2), P(2, 1, 3), P(2, 2, 3),
         P(2, 3, 3), P(2, 1, 3)),
    CASE("concat 11 inputs axis -2", CAT(-2, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2), P(2, 1, 3),
         P(2, 2, 3), P(2, 3, 3), P(2, 1, 3)),
    CASE("concat axis 0 (150,70)+(150,70)", CAT(0, 0, 1), P(150, 70), P(150, 70)),
};

static const gc_case slice_cases[] = {
    CASE("slice axis 0 [1:5] (7,13)", SL(0, 1, 5, 1), P(7, 13)),
    CASE("slice axis 1 [0:13:2] (7,13)", SL(1, 0, 13, 2), P(7, 13)),
    CASE("slice axis -1 [-5:-1] (3,4,9)", SL(-1, -5, -1, 1), P(3, 4, 9)),
    CASE("slice axis 1 [-100:100:3] clamped (3,10,2)", SL(1, -100, 100, 3), P(3, 10, 2)),
    CASE("slice axis 0 [2:3] (5,4)", SL(0, 2, 3, 1), P(5, 4)),
    CASE("slice axis 2 [1:max:2] (2,3,8)", SL(2, 1, INT64_MAX, 2), P(2, 3, 8)),
    CASE("slice axis 1 [0:10:100] step > size (3,5,2)", SL(1, 0, 10, 100), P(3, 5, 2)),
    CASE("slice axis 0 [:-2] (6,3)", SL(0, INT64_MIN, -2, 1), P(6, 3)),
    CASE("slice axis 1 [3:67:5] (300,70)", SL(1, 3, 67, 5), P(300, 70)),
    CASE("slice axis 3 [1:4] NCHW (2,3,4,5)", SL(3, 1, 4, 1), P(2, 3, 4, 5)),
    CASE("slice whole axis 0 [0:4] (4,3)", SL(0, 0, 4, 1), P(4, 3)),
    CASE("slice axis 5 [-2:] 6-D (2,1,3,1,2,5)", SL(5, -2, INT64_MAX, 1), P(2, 1, 3, 1, 2, 5)),
};

static const gc_case pad_cases[] = {
    CASE("pad H (0,1) W (1,2) (2,3,4,5)", PADS(0.0f, 0, 0, 0, 0, 0, 1, 1, 2), P(2, 3, 4, 5)),
    CASE("pad all axes value -1.5 (7,13)", PADS(-1.5f, 1, 0, 2, 3), P(7, 13)),
    CASE("pad (3,4) value 2 (5,)", PADS(2.0f, 3, 4), P(5)),
    CASE("pad nothing (3,4)", PADS(0.0f, 0, 0, 0, 0), P(3, 4)),
    CASE("pad H, W by 1 NCHW (2,3,5,5)", PADS(0.0f, 0, 0, 0, 0, 1, 1, 1, 1), P(2, 3, 5, 5)),
    CASE("pad N and W (2,3,4,5)", PADS(0.25f, 1, 2, 0, 0, 0, 0, 3, 0), P(2, 3, 4, 5)),
    CASE("pad 6-D (2,1,3,1,2,2)", PADS(1.0f, 0, 1, 2, 0, 0, 0, 1, 1, 0, 0, 0, 2),
         P(2, 1, 3, 1, 2, 2)),
    CASE("pad (150,70) by (5,6),(7,8)", PADS(0.0f, 5, 6, 7, 8), P(150, 70)),
    /* CPU devices' pad_rows: whole rows outside x (the middle axis padded), rows with x */
    CASE("pad middle axis (5,4,9) by (2,3)", PADS(-2.0f, 0, 0, 2, 3, 0, 0), P(5, 4, 9)),
};

static const gc_case other_cases[] = {
    CASE("flatten (2,3,4,5)", CFG(.op = FLATTEN), P(2, 3, 4, 5)),
    CASE("flatten (5,)", CFG(.op = FLATTEN), P(5)),
    CASE("flatten (3,4)", CFG(.op = FLATTEN), P(3, 4)),
    CASE("slice axis 1 [1:-1:2] of pad (2,6)",
         CFG(.op = PAD_THEN_SLICE, .pads = {1, 1, 2, 2}, .value = 3.0f, .axis = 1, .start = 1,
             .end = -1, .step = 2),
         P(2, 6)),
    CASE("concat axis 3 of permute (0,2,3,1) and (2,4,5,2)",
         CFG(.op = PERMUTE_THEN_CONCAT, .perm = {0, 2, 3, 1}, .axis = 3), P(2, 3, 4, 5),
         P(2, 4, 5, 2)),
};

START_TEST(test_permute)
{
    gc_run_case(&permute_cases[_i]);
}
END_TEST
START_TEST(test_concat)
{
    gc_run_case(&concat_cases[_i]);
}
END_TEST
START_TEST(test_slice)
{
    gc_run_case(&slice_cases[_i]);
}
END_TEST
START_TEST(test_pad)
{
    gc_run_case(&pad_cases[_i]);
}
END_TEST
START_TEST(test_other)
{
    gc_run_case(&other_cases[_i]);
}
END_TEST

/* ---- i32 tensors: every op copies 32-bit words unchanged ----------------------------------- */
static void check_i32(clnn_tensor *t, const int32_t *want, int64_t n, const char *what)
{
    int32_t *got = malloc((size_t)n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(clnn_tensor_dtype(t), CLNN_I32);
    ck_assert_int_eq(clnn_tensor_numel(t), n);
    ck_assert_int_eq(clnn_tensor_read(t, got, (size_t)n * sizeof *got), CLNN_OK);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s[%lld]: got %d, expected %d", what, (long long)i,
                      got[i], want[i]);
    free(got);
}

/* runs a ref function on doubles holding int32 values (exact) and converts back */
static void to_i32(const double *d, int64_t n, int32_t *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = (int32_t)d[i];
}

START_TEST(test_i32)
{
    /* values include bit patterns that are float NaNs and denormals */
    enum { N = 2 * 3 * 4 };
    int32_t a[N], b[2 * 1 * 4];
    double ad[N], bd[8], yd[128];
    for (int i = 0; i < N; i++) {
        a[i] = (int32_t)(i * 0x05f5e0ffu) ^ (i & 1 ? 0x7fc00001 : 0x00000003);
        ad[i] = a[i];
    }
    for (int i = 0; i < 8; i++) {
        b[i] = -1000000007 + i;
        bd[i] = b[i];
    }
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_input_i32(g, "a", 3, (int64_t[]){2, 3, 4});
    clnn_tensor *z = clnn_input_i32(g, "b", 3, (int64_t[]){2, 1, 4});
    clnn_tensor *p = clnn_permute(g, x, (int[]){2, 0, 1});
    clnn_tensor *c = clnn_concat(g, 2, (clnn_tensor *[]){x, z}, 1);
    clnn_tensor *s = clnn_slice(g, x, 2, 1, 4, 2);
    clnn_tensor *d = clnn_pad(g, x, (int64_t[]){0, 1, 1, 0, 0, 2}, -7.0f);
    clnn_tensor *f = clnn_flatten(g, x);
    ck_assert_msg(p && c && s && d && f, "%s", clnn_graph_last_error(g));
    ck_assert_int_eq(clnn_tensor_write(x, a, sizeof a), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(z, b, sizeof b), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ref_shape sa = {3, {2, 3, 4}}, sb = {3, {2, 1, 4}}, sy;
    int32_t want[128];
    ck_assert(ref_permute(ad, &sa, (int[]){2, 0, 1}, yd, &sy));
    to_i32(yd, ref_numel(&sy), want);
    check_i32(p, want, ref_numel(&sy), "permute");
    ck_assert(ref_concat(2, (const double *[]){ad, bd}, (ref_shape[]){sa, sb}, 1, yd, &sy));
    to_i32(yd, ref_numel(&sy), want);
    check_i32(c, want, ref_numel(&sy), "concat");
    ck_assert(ref_slice(ad, &sa, 2, 1, 4, 2, yd, &sy));
    to_i32(yd, ref_numel(&sy), want);
    check_i32(s, want, ref_numel(&sy), "slice");
    ck_assert(ref_pad(ad, &sa, (int64_t[]){0, 1, 1, 0, 0, 2}, -7.0, yd, &sy));
    to_i32(yd, ref_numel(&sy), want);
    check_i32(d, want, ref_numel(&sy), "pad");
    check_i32(f, a, N, "flatten");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* flatten is a view: no kernel, no buffer of its own */
START_TEST(test_flatten_is_view)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_input(g, "x", 4, (int64_t[]){2, 3, 4, 5});
    clnn_tensor *y = clnn_flatten(g, x);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(clnn_tensor_ndim(y), 2);
    ck_assert_int_eq(clnn_tensor_dim(y, 0), 2);
    ck_assert_int_eq(clnn_tensor_dim(y, 1), 60);
    ck_assert_int_eq(clnn_graph_plan(g), CLNN_OK);
    clnn_graph_info info;
    ck_assert_int_eq(clnn_graph_info_get(g, &info), CLNN_OK);
    ck_assert_int_eq((int)info.ops, 0);
    ck_assert_int_eq((int)info.planned_bytes, 0);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- error paths --------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32

typedef gc_err_case err_case;

static clnn_tensor *concat_null_9(clnn_graph *g)
{
    clnn_tensor *xs[10];
    for (int i = 0; i < 10; i++)
        xs[i] = i == 9 ? NULL : T(2, 3);
    return clnn_concat(g, 10, xs, 0);
}

static clnn_tensor *concat_mismatch_10(clnn_graph *g)
{
    clnn_tensor *xs[11];
    for (int i = 0; i < 11; i++)
        xs[i] = i == 10 ? T(2, 4) : T(2, 3);
    return clnn_concat(g, 11, xs, 0);
}

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(permute_repeat, clnn_permute(g, T(2, 3, 4), (int[]){0, 0, 1}))
ERR_BUILDER(permute_range, clnn_permute(g, T(2, 3, 4), (int[]){0, 3, 1}))
ERR_BUILDER(permute_null_perm, clnn_permute(g, T(2, 3), NULL))
ERR_BUILDER(permute_null, clnn_permute(g, NULL, (int[]){1, 0}))
ERR_BUILDER(concat_mismatch, clnn_concat(g, 2, (clnn_tensor *[]){T(2, 3), T(2, 4)}, 0))
ERR_BUILDER(concat_ndim, clnn_concat(g, 2, (clnn_tensor *[]){T(2, 3), T(2, 3, 1)}, 1))
ERR_BUILDER(concat_axis, clnn_concat(g, 2, (clnn_tensor *[]){T(2, 3), T(2, 3)}, 2))
ERR_BUILDER(concat_axis_neg, clnn_concat(g, 1, (clnn_tensor *[]){T(2, 3)}, -3))
ERR_BUILDER(concat_zero, clnn_concat(g, 0, (clnn_tensor *[]){T(2, 3)}, 0))
ERR_BUILDER(concat_null_list, clnn_concat(g, 2, NULL, 0))
ERR_BUILDER(concat_dtype, clnn_concat(g, 2, (clnn_tensor *[]){T(2, 3), I32(2, 3)}, 0))
ERR_BUILDER(slice_empty, clnn_slice(g, T(4, 5), 1, 3, 3, 1))
ERR_BUILDER(slice_reversed, clnn_slice(g, T(4, 5), 0, -1, -3, 1))
ERR_BUILDER(slice_beyond, clnn_slice(g, T(4, 5), 0, 7, 9, 1))
ERR_BUILDER(slice_step0, clnn_slice(g, T(4, 5), 0, 0, 4, 0))
ERR_BUILDER(slice_step_neg, clnn_slice(g, T(4, 5), 0, 4, 0, -1))
ERR_BUILDER(slice_axis, clnn_slice(g, T(4, 5), 2, 0, 1, 1))
ERR_BUILDER(slice_null, clnn_slice(g, NULL, 0, 0, 1, 1))
ERR_BUILDER(pad_negative, clnn_pad(g, T(4, 5), (int64_t[]){0, 0, -1, 2}, 0.0f))
ERR_BUILDER(pad_null_pads, clnn_pad(g, T(4, 5), NULL, 0.0f))
ERR_BUILDER(pad_null, clnn_pad(g, NULL, (int64_t[]){1, 1}, 0.0f))
ERR_BUILDER(pad_huge, clnn_pad(g, T(4, 5), (int64_t[]){0, 1 << 30, 0, 1 << 20}, 0.0f))
ERR_BUILDER(flatten_0d, clnn_flatten(g, clnn_param(g, "s", 0, NULL)))
ERR_BUILDER(flatten_null, clnn_flatten(g, NULL))

static const err_case error_cases[] = {
    {"permute (0,0,1)", permute_repeat, CLNN_ERR_INVALID, {"permute", "(0, 0, 1)", "(2, 3, 4)"}},
    {"permute (0,3,1)", permute_range, CLNN_ERR_INVALID, {"permute", "(0, 3, 1)", "0..2"}},
    {"permute perm NULL", permute_null_perm, CLNN_ERR_INVALID, {"permute", "NULL"}},
    {"permute x NULL", permute_null, CLNN_ERR_INVALID, {"permute", "NULL"}},
    {"concat (2,3)+(2,4) axis 0", concat_mismatch, CLNN_ERR_SHAPE,
     {"concat", "input 1", "(2, 4)", "(2, 3)"}},
    {"concat (2,3)+(2,3,1)", concat_ndim, CLNN_ERR_SHAPE, {"concat", "(2, 3, 1)", "(2, 3)"}},
    {"concat axis 2 of 2-D", concat_axis, CLNN_ERR_INVALID, {"concat", "axis 2"}},
    {"concat axis -3 of 2-D", concat_axis_neg, CLNN_ERR_INVALID, {"concat", "axis -3"}},
    {"concat n 0", concat_zero, CLNN_ERR_INVALID, {"concat", "n >= 1", "got 0"}},
    {"concat xs NULL", concat_null_list, CLNN_ERR_INVALID, {"concat", "NULL"}},
    {"concat input 9 NULL", concat_null_9, CLNN_ERR_INVALID, {"concat", "input 9", "NULL"}},
    {"concat input 10 mismatched", concat_mismatch_10, CLNN_ERR_SHAPE,
     {"concat", "input 10", "(2, 4)"}},
    {"concat f32 + i32", concat_dtype, CLNN_ERR_INVALID, {"concat", "dtype"}},
    {"slice [3:3] empty", slice_empty, CLNN_ERR_SHAPE, {"slice", "empty", "(4, 5)", "[3:3:1]"}},
    {"slice [-1:-3] empty", slice_reversed, CLNN_ERR_SHAPE, {"slice", "empty", "[3:1]"}},
    {"slice [7:9] beyond", slice_beyond, CLNN_ERR_SHAPE, {"slice", "empty", "[4:4]"}},
    {"slice step 0", slice_step0, CLNN_ERR_INVALID, {"slice", "step 0"}},
    {"slice step -1", slice_step_neg, CLNN_ERR_INVALID, {"slice", "step -1"}},
    {"slice axis 2 of 2-D", slice_axis, CLNN_ERR_INVALID, {"slice", "axis 2"}},
    {"slice x NULL", slice_null, CLNN_ERR_INVALID, {"slice", "NULL"}},
    {"pad -1", pad_negative, CLNN_ERR_INVALID, {"pad", "axis 1", "-1"}},
    {"pad pads NULL", pad_null_pads, CLNN_ERR_INVALID, {"pad", "NULL"}},
    {"pad x NULL", pad_null, CLNN_ERR_INVALID, {"pad", "NULL"}},
    {"pad to 2^31 elements", pad_huge, CLNN_ERR_UNSUPPORTED, {"pad", "2^31"}},
    {"flatten 0-d", flatten_0d, CLNN_ERR_INVALID, {"flatten", "()"}},
    {"flatten NULL", flatten_null, CLNN_ERR_INVALID, {"flatten", "NULL"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* an input of another graph is refused, naming the op and the input */
START_TEST(test_other_graph)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g, *h;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    ck_assert_int_eq(clnn_graph_create(ctx, &h), CLNN_OK);
    clnn_tensor *a = clnn_param(g, "a", 2, (int64_t[]){2, 3});
    clnn_tensor *b = clnn_param(h, "b", 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(clnn_concat(g, 2, (clnn_tensor *[]){a, b}, 0));
    ck_assert_int_eq(clnn_graph_status(g), CLNN_ERR_INVALID);
    ck_assert_msg(strstr(clnn_graph_last_error(g), "concat") &&
                      strstr(clnn_graph_last_error(g), "input 1"),
                  "%s", clnn_graph_last_error(g));
    clnn_graph_clear_error(g);
    ck_assert_ptr_null(clnn_slice(g, b, 0, 0, 1, 1));
    ck_assert_msg(strstr(clnn_graph_last_error(g), "slice"), "%s", clnn_graph_last_error(g));
    clnn_graph_clear_error(g);
    ck_assert_ptr_null(clnn_pad(g, b, (int64_t[]){1, 1, 1, 1}, 0.0f));
    ck_assert_msg(strstr(clnn_graph_last_error(g), "pad"), "%s", clnn_graph_last_error(g));
    clnn_graph_clear_error(g);
    ck_assert_ptr_null(clnn_permute(g, b, (int[]){1, 0}));
    ck_assert_msg(strstr(clnn_graph_last_error(g), "permute"), "%s", clnn_graph_last_error(g));
    clnn_graph_destroy(h);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- golden: PyTorch's outputs and gradients (tests/golden/layout.txt) ---------------------- */
static const char *const golden_names[] = {
    "permute_0231",          "permute_201", "concat_axis0",   "concat_axis1",
    "concat_axis-1",         "slice_step2", "slice_negative", "slice_negative_start_step3",
    "slice_to_negative_end", "pad_hw",      "pad_all_axes",   "flatten",
};

START_TEST(test_golden)
{
    char err[512], msg[768], key[16];
    golden_file *f = golden_load("layout", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    const golden_case *c = golden_case_get(f, golden_names[_i]);
    ck_assert_msg(c, "golden case '%s' is missing from layout.txt", golden_names[_i]);
    int n = golden_int(c, "n", 0, 0);
    ck_assert(n >= 1 && n <= 8);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x[8];
    const golden_tensor *gx[8], *gr = golden_tensor_get(c, "r");
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "x%d", i);
        gx[i] = golden_tensor_get(c, key);
        ck_assert(gx[i]);
        x[i] = clnn_param(g, key, gx[i]->ndim, gx[i]->shape);
    }
    ck_assert(gr);
    clnn_tensor *r = clnn_input(g, "r", gr->ndim, gr->shape), *y = NULL;
    int perm[CLNN_MAX_DIMS];
    int64_t pads[2 * CLNN_MAX_DIMS];
    for (int i = 0; i < CLNN_MAX_DIMS; i++)
        perm[i] = golden_int(c, "perm", i, 0);
    for (int i = 0; i < 2 * CLNN_MAX_DIMS; i++)
        pads[i] = golden_int(c, "pads", i, 0);
    switch (golden_int(c, "op", 0, -1)) {
    case 0:
        y = clnn_permute(g, x[0], perm);
        break;
    case 1:
        y = clnn_concat(g, n, x, golden_int(c, "axis", 0, 0));
        break;
    case 2:
        y = clnn_slice(g, x[0], golden_int(c, "axis", 0, 0), golden_int(c, "range", 0, 0),
                       golden_int(c, "range", 1, 0), golden_int(c, "range", 2, 0));
        break;
    case 3:
        y = clnn_pad(g, x[0], pads, (float)golden_float(c, "value", 0, 0.0));
        break;
    case 4:
        y = clnn_flatten(g, x[0]);
        break;
    }
    ck_assert_msg(y, "%s: building: %s", c->name, clnn_graph_last_error(g));
    clnn_graph_keep(g, y);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0)), CLNN_OK);
    for (int i = 0; i < n; i++)
        ck_assert(golden_write(x[i], gx[i]) == 0);
    ck_assert(golden_write(r, gr) == 0);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ck_assert_msg(golden_check("y", y, golden_tensor_get(c, "y"), 1e-5, 1e-6, msg, sizeof msg),
                  "%s: %s", c->name, msg);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "dx%d", i);
        ck_assert_msg(golden_check(key, clnn_tensor_grad(x[i]), golden_tensor_get(c, key), 1e-4,
                                   1e-6, msg, sizeof msg),
                      "%s: %s", c->name, msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {permute_cases, concat_cases, slice_cases, pad_cases,
                                     other_cases};
    const int counts[] = {GC_COUNT(permute_cases), GC_COUNT(concat_cases), GC_COUNT(slice_cases),
                          GC_COUNT(pad_cases), GC_COUNT(other_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

static Suite *layout_suite(void)
{
    Suite *s = suite_create("ops_layout");
    const gc_loop loops[] = {
        {"permute", test_permute, GC_COUNT(permute_cases)},
        {"concat", test_concat, GC_COUNT(concat_cases)},
        {"slice", test_slice, GC_COUNT(slice_cases)},
        {"pad", test_pad, GC_COUNT(pad_cases)},
        {"flatten_composite", test_other, GC_COUNT(other_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, GC_COUNT(golden_names)},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique); /* permute */
    tcase_add_test(tc[0], test_i32);
    tcase_add_test(tc[0], test_flatten_is_view);
    tcase_add_test(tc[5], test_other_graph); /* errors */
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(layout_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
