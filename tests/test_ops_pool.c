/* test_ops_pool.c — the `check` suite of the pooling family: clnn_maxpool2d, clnn_avgpool2d,
 * clnn_global_avgpool2d and clnn_upsample_nearest. Each op is checked forward against its double
 * reference (tests/ref/ref_pool.c) and backward against central differences (tests/gradcheck.c)
 * over tables of configurations: kernels 1x1 to 5x5, strides, explicit/valid/same padding,
 * ceil_mode, count_include_pad, odd sizes. Tests of their own cover ties (the first maximum of a
 * window gets the gradient, checked against the reference's analytic backward since ties have no
 * finite difference), NaN propagation, the options defaults, error paths (NULL, CLNN_ERR_SHAPE or
 * CLNN_ERR_INVALID, a message naming the op and the shapes) and PyTorch's golden numbers
 * (tests/golden/pool.txt, written by gen_pool.py). Each test creates its own context.
 * Max pooling has CPU kernels (a work-item per span of rows or planes, four windows per vector
 * step) and GPU kernels (a work-item per element): the config, tie and NaN tests run each case
 * on both, forced by $CLNN_KERNEL_PATH on whatever device runs the tests; some configs are wide
 * so that the vector step meets strides 1, 2 and 3 and padding. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_pool.h"

typedef enum pool_kind { MAXPOOL, AVGPOOL, GLOBAL, UPSAMPLE, MAX_PLUS_AVG, UP_OF_MAX } pool_kind;

typedef struct pool_cfg {
    pool_kind op;
    ref_pool2d p; /* maxpool, avgpool */
    int scale[2]; /* upsample */
} pool_cfg;

static void to_options(const ref_pool2d *r, clnn_pool2d_options *o)
{
    clnn_pool2d_options_init(o, r->kernel_h, r->kernel_w);
    o->stride_h = r->stride_h;
    o->stride_w = r->stride_w;
    o->pad_h = r->pad_h;
    o->pad_w = r->pad_w;
    o->padding = (clnn_padding_mode)r->padding;
    o->ceil_mode = r->ceil_mode;
    o->count_include_pad = r->count_include_pad;
}

static clnn_tensor *build_pool(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const pool_cfg *c = cfg;
    clnn_pool2d_options o;
    to_options(&c->p, &o);
    switch (c->op) {
    case MAXPOOL:
        return clnn_maxpool2d(g, in[0], &o);
    case AVGPOOL:
        return clnn_avgpool2d(g, in[0], &o);
    case GLOBAL:
        return clnn_global_avgpool2d(g, in[0]);
    case UPSAMPLE:
        return clnn_upsample_nearest(g, in[0], c->scale[0], c->scale[1]);
    case MAX_PLUS_AVG: /* x feeds two pools: its gradient is the sum of two gathers */
        return clnn_add(g, clnn_maxpool2d(g, in[0], &o), clnn_avgpool2d(g, in[0], &o));
    case UP_OF_MAX:
        return clnn_upsample_nearest(g, clnn_maxpool2d(g, in[0], &o), c->scale[0], c->scale[1]);
    }
    return NULL;
}

static int ref_pool(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                    ref_shape *sy)
{
    const pool_cfg *c = cfg;
    switch (c->op) {
    case MAXPOOL:
        return ref_maxpool2d(in[0], &s[0], &c->p, y, sy);
    case AVGPOOL:
        return ref_avgpool2d(in[0], &s[0], &c->p, y, sy);
    case GLOBAL:
        return ref_global_avgpool2d(in[0], &s[0], y, sy);
    case UPSAMPLE:
        return ref_upsample_nearest(in[0], &s[0], c->scale[0], c->scale[1], y, sy);
    case MAX_PLUS_AVG: {
        ref_shape s2;
        if (!ref_maxpool2d(in[0], &s[0], &c->p, NULL, sy))
            return 0;
        if (!y)
            return 1;
        double *t = malloc((size_t)ref_numel(sy) * sizeof *t);
        int ok = t && ref_maxpool2d(in[0], &s[0], &c->p, y, sy) &&
                 ref_avgpool2d(in[0], &s[0], &c->p, t, &s2);
        for (int64_t i = 0; ok && i < ref_numel(sy); i++)
            y[i] += t[i];
        free(t);
        return ok;
    }
    case UP_OF_MAX: {
        ref_shape sm;
        if (!ref_maxpool2d(in[0], &s[0], &c->p, NULL, &sm))
            return 0;
        double *m = y ? malloc((size_t)ref_numel(&sm) * sizeof *m) : NULL;
        int ok = (!y || (m && ref_maxpool2d(in[0], &s[0], &c->p, m, &sm))) &&
                 ref_upsample_nearest(m, &sm, c->scale[0], c->scale[1], y, sy);
        free(m);
        return ok;
    }
    }
    return 0;
}

// clang-format off
#define CASE(name, cfg, ...) GC_CASE(name, build_pool, ref_pool, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
/* POOL(kind, kh, kw, sh, sw, ph, pw, padding, ceil, include) */
#define POOL(kind, kh, kw, sh, sw, ph, pw, mode, ceil, incl)                                      \
    (&(const pool_cfg){.op = (kind), .p = {kh, kw, sh, sw, ph, pw, mode, ceil, incl}})
#define MAXP(kh, kw, sh, sw, ph, pw) POOL(MAXPOOL, kh, kw, sh, sw, ph, pw, 0, 0, 1)
#define UP(sh, sw) (&(const pool_cfg){.op = UPSAMPLE, .scale = {sh, sw}})
// clang-format on
enum { EXPLICIT = CLNN_PADDING_EXPLICIT, VALID = CLNN_PADDING_VALID, SAME = CLNN_PADDING_SAME };

static const gc_case max_cases[] = {
    CASE("maxpool 2x2 (2,3,8,8)", MAXP(2, 2, 0, 0, 0, 0), P(2, 3, 8, 8)),
    CASE("maxpool 2x2 drops the odd row (2,3,7,9)", MAXP(2, 2, 0, 0, 0, 0), P(2, 3, 7, 9)),
    CASE("maxpool 3x3 s2 p1 (2,3,9,7)", MAXP(3, 3, 2, 2, 1, 1), P(2, 3, 9, 7)),
    CASE("maxpool 3x3 s2 p1 ceil (1,2,8,10)", POOL(MAXPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 1, 1),
         P(1, 2, 8, 10)),
    CASE("maxpool 2x2 ceil (1,2,5,7)", POOL(MAXPOOL, 2, 2, 0, 0, 0, 0, EXPLICIT, 1, 1),
         P(1, 2, 5, 7)),
    /* ceil_mode where the last window would start in the right padding: dropped */
    CASE("maxpool 2x2 s2 p1 ceil (1,1,4,6)", POOL(MAXPOOL, 2, 2, 2, 2, 1, 1, EXPLICIT, 1, 1),
         P(1, 1, 4, 6)),
    CASE("maxpool 3x2 s(2,1) p(1,0) (2,2,7,6)", MAXP(3, 2, 2, 1, 1, 0), P(2, 2, 7, 6)),
    CASE("maxpool 5x5 s1 p2 (1,2,6,7)", MAXP(5, 5, 1, 1, 2, 2), P(1, 2, 6, 7)),
    CASE("maxpool 1x1 (2,3,5,5)", MAXP(1, 1, 0, 0, 0, 0), P(2, 3, 5, 5)),
    CASE("maxpool kernel = input 4x5 (2,5,4,5)", MAXP(4, 5, 0, 0, 0, 0), P(2, 5, 4, 5)),
    CASE("maxpool stride > kernel 2x2 s3 (1,2,8,8)", MAXP(2, 2, 3, 3, 0, 0), P(1, 2, 8, 8)),
    CASE("maxpool valid 3x3 s2 (1,3,10,9)", POOL(MAXPOOL, 3, 3, 2, 2, 0, 0, VALID, 0, 1),
         P(1, 3, 10, 9)),
    CASE("maxpool valid 2x2 ceil (1,2,5,5)", POOL(MAXPOOL, 2, 2, 0, 0, 0, 0, VALID, 1, 1),
         P(1, 2, 5, 5)),
    CASE("maxpool same 3x3 s2 (2,2,7,8)", POOL(MAXPOOL, 3, 3, 2, 2, 0, 0, SAME, 0, 1),
         P(2, 2, 7, 8)),
    CASE("maxpool same 2x2 (1,3,5,5)", POOL(MAXPOOL, 2, 2, 0, 0, 0, 0, SAME, 0, 1), P(1, 3, 5, 5)),
    CASE("maxpool same 3x3 s1 (1,2,6,5)", POOL(MAXPOOL, 3, 3, 1, 1, 0, 0, SAME, 0, 1),
         P(1, 2, 6, 5)),
    CASE("maxpool same 4x4 s3 (1,1,10,11)", POOL(MAXPOOL, 4, 4, 3, 3, 0, 0, SAME, 0, 1),
         P(1, 1, 10, 11)),
    CASE("maxpool same 5x5 s2 kernel > input (1,2,3,2)",
         POOL(MAXPOOL, 5, 5, 2, 2, 0, 0, SAME, 0, 1), P(1, 2, 3, 2)),
    CASE("maxpool 3x3 s2 p1 input x (3,4,13,11)", MAXP(3, 3, 2, 2, 1, 1), X(3, 4, 13, 11)),
    CASE("maxpool 3x3 s2 p1 (2,8,17,19)", MAXP(3, 3, 2, 2, 1, 1), P(2, 8, 17, 19)),
    CASE("maxpool 2x2 wide (2,3,6,27)", MAXP(2, 2, 0, 0, 0, 0), P(2, 3, 6, 27)),
    CASE("maxpool 3x3 s3 wide (1,2,7,40)", MAXP(3, 3, 0, 0, 0, 0), P(1, 2, 7, 40)),
    CASE("maxpool 3x3 s1 p1 wide (1,2,5,21)", MAXP(3, 3, 1, 1, 1, 1), P(1, 2, 5, 21)),
    CASE("maxpool 2x3 s(1,2) p(1,1) ceil wide (2,2,5,24)",
         POOL(MAXPOOL, 2, 3, 1, 2, 1, 1, EXPLICIT, 1, 1), P(2, 2, 5, 24)),
};

static const gc_case avg_cases[] = {
    CASE("avgpool 2x2 (2,3,8,8)", POOL(AVGPOOL, 2, 2, 0, 0, 0, 0, EXPLICIT, 0, 1), P(2, 3, 8, 8)),
    CASE("avgpool 3x3 s2 p1 include (2,3,9,7)", POOL(AVGPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 0, 1),
         P(2, 3, 9, 7)),
    CASE("avgpool 3x3 s2 p1 exclude (2,3,9,7)", POOL(AVGPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 0, 0),
         P(2, 3, 9, 7)),
    CASE("avgpool 3x3 s2 p1 ceil include (1,2,8,10)",
         POOL(AVGPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 1, 1), P(1, 2, 8, 10)),
    CASE("avgpool 3x3 s2 p1 ceil exclude (1,2,8,10)",
         POOL(AVGPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 1, 0), P(1, 2, 8, 10)),
    CASE("avgpool 2x2 ceil include (1,2,5,7)", POOL(AVGPOOL, 2, 2, 0, 0, 0, 0, EXPLICIT, 1, 1),
         P(1, 2, 5, 7)),
    CASE("avgpool 4x4 s3 p2 ceil include (1,2,9,8)",
         POOL(AVGPOOL, 4, 4, 3, 3, 2, 2, EXPLICIT, 1, 1), P(1, 2, 9, 8)),
    CASE("avgpool 3x2 s(1,2) p(1,1) (2,2,6,9)", POOL(AVGPOOL, 3, 2, 1, 2, 1, 1, EXPLICIT, 0, 1),
         P(2, 2, 6, 9)),
    CASE("avgpool 5x5 s1 p2 exclude (1,2,6,7)", POOL(AVGPOOL, 5, 5, 1, 1, 2, 2, EXPLICIT, 0, 0),
         P(1, 2, 6, 7)),
    CASE("avgpool valid 2x3 s(1,2) (1,2,6,9)", POOL(AVGPOOL, 2, 3, 1, 2, 0, 0, VALID, 0, 1),
         P(1, 2, 6, 9)),
    /* same: padding never counts although count_include_pad is 1 (Keras) */
    CASE("avgpool same 3x3 s2 (2,2,7,8)", POOL(AVGPOOL, 3, 3, 2, 2, 0, 0, SAME, 0, 1),
         P(2, 2, 7, 8)),
    CASE("avgpool same 2x2 (1,3,5,5)", POOL(AVGPOOL, 2, 2, 0, 0, 0, 0, SAME, 0, 1), P(1, 3, 5, 5)),
    CASE("avgpool same 4x4 s1 (1,1,6,7)", POOL(AVGPOOL, 4, 4, 1, 1, 0, 0, SAME, 0, 0),
         P(1, 1, 6, 7)),
    CASE("avgpool 3x3 s2 p1 (2,8,17,19)", POOL(AVGPOOL, 3, 3, 2, 2, 1, 1, EXPLICIT, 0, 1),
         P(2, 8, 17, 19)),
};

static const gc_case other_cases[] = {
    CASE("global avgpool (2,3,5,7)", (&(const pool_cfg){.op = GLOBAL}), P(2, 3, 5, 7)),
    CASE("global avgpool (1,1,1,1)", (&(const pool_cfg){.op = GLOBAL}), P(1, 1, 1, 1)),
    CASE("global avgpool (3,16,9,9)", (&(const pool_cfg){.op = GLOBAL}), P(3, 16, 9, 9)),
    CASE("upsample x2 (2,3,4,5)", UP(2, 2), P(2, 3, 4, 5)),
    CASE("upsample (2,3) (1,2,3,4)", UP(2, 3), P(1, 2, 3, 4)),
    CASE("upsample (3,1) (2,2,5,3)", UP(3, 1), P(2, 2, 5, 3)),
    CASE("upsample (1,1) (1,3,4,4)", UP(1, 1), P(1, 3, 4, 4)),
    CASE("upsample x4 (2,3,9,7)", UP(4, 4), P(2, 3, 9, 7)),
    CASE("maxpool + avgpool of one x 3x3 s2 p1 (2,3,9,7)",
         POOL(MAX_PLUS_AVG, 3, 3, 2, 2, 1, 1, EXPLICIT, 0, 1), P(2, 3, 9, 7)),
    CASE("upsample x2 of maxpool 2x2 (1,2,6,7)",
         (&(const pool_cfg){.op = UP_OF_MAX, .p = {2, 2, 0, 0, 0, 0, 0, 0, 1}, .scale = {2, 2}}),
         P(1, 2, 6, 7)),
};

/* Loop index i < count: case i on the CPU kernels, else case i - count on the GPU kernels. The
 * caller unsets $CLNN_KERNEL_PATH at the end (check may run every test in one process). */
static int on_path(int i, int count)
{
    setenv("CLNN_KERNEL_PATH", i < count ? "cpu" : "gpu", 1);
    return i % count;
}

START_TEST(test_max)
{
    gc_run_case(&max_cases[on_path(_i, GC_COUNT(max_cases))]);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST
START_TEST(test_avg)
{
    gc_run_case(&avg_cases[_i]);
}
END_TEST
START_TEST(test_other)
{
    gc_run_case(&other_cases[_i]);
}
END_TEST

/* ---- ties: integer inputs, so many windows hold several maxima ----------------------------- */
static const ref_pool2d tie_cases[] = {
    {2, 2, 0, 0, 0, 0, EXPLICIT, 0, 1}, {3, 3, 2, 2, 1, 1, EXPLICIT, 0, 1},
    {3, 3, 1, 1, 1, 1, EXPLICIT, 0, 1}, {3, 3, 2, 2, 1, 1, EXPLICIT, 1, 1},
    {3, 3, 2, 2, 0, 0, SAME, 0, 1},     {4, 4, 0, 0, 0, 0, EXPLICIT, 0, 1},
};

/* x in {0, 1, 2}, plane 1 constant: forward exact, dx against the analytic reference; planes
 * wide enough for the vector step of the CPU kernel */
START_TEST(test_max_ties)
{
    const int c = on_path(_i, GC_COUNT(tie_cases));
    const ref_pool2d *p = &tie_cases[c];
    const char *path = getenv("CLNN_KERNEL_PATH");
    ref_shape sx = {4, {2, 3, 9, 21}}, sy;
    ck_assert(ref_maxpool2d(NULL, &sx, p, NULL, &sy));
    int64_t nx = ref_numel(&sx), ny = ref_numel(&sy);
    float *xf = malloc((size_t)nx * sizeof *xf), *rf = malloc((size_t)ny * sizeof *rf);
    float *got = malloc((size_t)nx * sizeof *got);
    double *xd = malloc((size_t)nx * sizeof *xd), *rd = malloc((size_t)ny * sizeof *rd);
    double *y = malloc((size_t)ny * sizeof *y), *dx = malloc((size_t)nx * sizeof *dx);
    ck_assert(xf && rf && got && xd && rd && y && dx);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("ties") + (uint64_t)c);
    for (int64_t i = 0; i < nx; i++) {
        int plane = (int)(i / (9 * 21));
        /* plane 1 is constant: every window is one big tie */
        xf[i] = plane == 1 ? 1.0f : (float)(gc_rng_next(&rng) % 3);
        xd[i] = xf[i];
    }
    gc_rng_fill(&rng, rf, ny, -1.0, 1.0, 0.0);
    for (int64_t i = 0; i < ny; i++)
        rd[i] = rf[i];
    ck_assert(ref_maxpool2d(xd, &sx, p, y, &sy));
    ck_assert(ref_maxpool2d_backward(xd, &sx, p, rd, dx));

    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_pool2d_options o;
    to_options(p, &o);
    clnn_tensor *x = clnn_param(g, "x", 4, sx.dims);
    clnn_tensor *r = clnn_input(g, "r", 4, sy.dims);
    clnn_tensor *out = clnn_maxpool2d(g, x, &o);
    clnn_graph_keep(g, out);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, out, r), 0, NULL, 0)), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(x, xf, (size_t)nx * sizeof *xf), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(r, rf, (size_t)ny * sizeof *rf), CLNN_OK);
    char msg[768];
    for (int run = 0; run < 2; run++) {
        ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
        ck_assert_int_eq(clnn_tensor_read(out, got, (size_t)ny * sizeof *got), CLNN_OK);
        ck_assert_msg(gc_compare("y", got, y, &sy, 0.0, 0.0, msg, sizeof msg),
                      "case %d, %s kernels: %s", c, path, msg);
        ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(x), got, (size_t)nx * sizeof *got),
                         CLNN_OK);
        ck_assert_msg(gc_compare("dx", got, dx, &sx, 1e-6, 1e-6, msg, sizeof msg),
                      "case %d, %s kernels (the first maximum of each window must get its "
                      "gradient): %s",
                      c, path, msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    free(xf), free(rf), free(got), free(xd), free(rd), free(y), free(dx);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST

/* A NaN in a window makes its max NaN and takes the gradient (PyTorch propagates NaN; with
 * several, the last in row-major order); other windows stay finite. Row 0 is the original 4x4
 * case; the rows below are 40 wide, so the CPU kernel meets NaNs in each slot of a window on
 * vector lanes (windows 0-15) and on its scalar tail (16-19). */
START_TEST(test_max_nan)
{
    const char *path = _i ? "gpu" : "cpu";
    setenv("CLNN_KERNEL_PATH", path, 1);
    enum { H = 4, W = 40, OW = W / 2, NY = H / 2 * OW };
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_pool2d_options o;
    clnn_pool2d_options_init(&o, 2, 2);
    clnn_tensor *x = clnn_param(g, "x", 4, (int64_t[]){1, 1, H, W});
    clnn_tensor *y = clnn_maxpool2d(g, x, &o);
    ck_assert_ptr_nonnull(y);
    clnn_graph_keep(g, y);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, y, 0, NULL, 0)), CLNN_OK);
    float xs[H * W], ys[NY], dx[H * W];
    int nan_at[NY]; /* the input index whose NaN wins window o, or -1 */
    for (int i = 0; i < H * W; i++)
        xs[i] = (float)(i % 7);
    for (int o = 0; o < NY; o++)
        nan_at[o] = -1;
    /* window (0, 0): a NaN that is not its largest element, as in the original 4x4 test */
    xs[W + 1] = NAN, nan_at[0] = W + 1;
    /* row 1 of windows: window ow gets NaNs in the slots of the bits of ow % 16 (slot s at
     * row s / 2, column s % 2 of the window); the last in row-major order wins */
    for (int ow = 0; ow < OW; ow++)
        for (int slot = 0; slot < 4; slot++)
            if ((ow % 16) >> slot & 1) {
                int at = (2 + slot / 2) * W + 2 * ow + slot % 2;
                xs[at] = NAN;
                nan_at[OW + ow] = at;
            }
    ck_assert_int_eq(clnn_tensor_write(x, xs, sizeof xs), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(y, ys, sizeof ys), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(x), dx, sizeof dx), CLNN_OK);
    for (int o = 0; o < NY; o++) {
        int oh = o / OW, ow = o % OW;
        if (nan_at[o] >= 0) {
            ck_assert_msg(isnan(ys[o]), "%s kernels: y[%d] = %g, expected NaN", path, o, ys[o]);
            continue;
        }
        float m = -INFINITY;
        for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++)
                m = fmaxf(m, xs[(2 * oh + dh) * W + 2 * ow + dw]);
        ck_assert_msg(ys[o] == m, "%s kernels: y[%d] = %g, expected %g", path, o, ys[o], m);
    }
    for (int o = 0; o < NY; o++) {
        if (nan_at[o] < 0)
            continue;
        int oh = o / OW, ow = o % OW;
        for (int dh = 0; dh < 2; dh++)
            for (int dw = 0; dw < 2; dw++) {
                int at = (2 * oh + dh) * W + 2 * ow + dw;
                ck_assert_msg(dx[at] == (at == nan_at[o] ? 1.0f : 0.0f),
                              "%s kernels: window %d, dx[%d] = %g: the gradient belongs to the "
                              "NaN at %d",
                              path, o, at, dx[at], nan_at[o]);
            }
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST

START_TEST(test_options_init)
{
    clnn_pool2d_options o;
    memset(&o, 0x5a, sizeof o);
    clnn_pool2d_options_init(&o, 3, 2);
    ck_assert_int_eq(o.kernel_h, 3);
    ck_assert_int_eq(o.kernel_w, 2);
    ck_assert_int_eq(o.stride_h, 0);
    ck_assert_int_eq(o.stride_w, 0);
    ck_assert_int_eq(o.pad_h, 0);
    ck_assert_int_eq(o.pad_w, 0);
    ck_assert_int_eq(o.padding, CLNN_PADDING_EXPLICIT);
    ck_assert_int_eq(o.ceil_mode, 0);
    ck_assert_int_eq(o.count_include_pad, 1);
    clnn_pool2d_options_init(NULL, 1, 1); /* no crash */
}
END_TEST

/* ---- error paths --------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32
// clang-format off
#define OPT(...) (&(const clnn_pool2d_options){__VA_ARGS__})
#define K(kh, kw) .kernel_h = kh, .kernel_w = kw, .count_include_pad = 1
// clang-format on

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(max_3d, clnn_maxpool2d(g, T(2, 3, 4), OPT(K(2, 2))))
ERR_BUILDER(avg_2d, clnn_avgpool2d(g, T(6, 6), OPT(K(2, 2))))
ERR_BUILDER(max_kernel0, clnn_maxpool2d(g, T(1, 1, 4, 4), OPT(K(0, 2))))
ERR_BUILDER(max_stride_neg, clnn_maxpool2d(g, T(1, 1, 4, 4), OPT(K(2, 2), .stride_h = -1)))
ERR_BUILDER(max_pad_half, clnn_maxpool2d(g, T(1, 1, 8, 8), OPT(K(2, 2), .pad_h = 2, .pad_w = 2)))
ERR_BUILDER(avg_pad_neg, clnn_avgpool2d(g, T(1, 1, 8, 8), OPT(K(3, 3), .pad_w = -1)))
ERR_BUILDER(max_too_small, clnn_maxpool2d(g, T(1, 1, 2, 2), OPT(K(3, 3))))
ERR_BUILDER(avg_too_small_w, clnn_avgpool2d(g, T(1, 1, 5, 2), OPT(K(3, 3), .pad_h = 1)))
ERR_BUILDER(max_same_ceil,
            clnn_maxpool2d(g, T(1, 1, 4, 4), OPT(K(2, 2), .padding = CLNN_PADDING_SAME,
                                                 .ceil_mode = 1)))
ERR_BUILDER(max_valid_pad,
            clnn_maxpool2d(g, T(1, 1, 4, 4), OPT(K(3, 3), .padding = CLNN_PADDING_VALID,
                                                 .pad_h = 1)))
ERR_BUILDER(avg_bad_mode,
            clnn_avgpool2d(g, T(1, 1, 4, 4), OPT(K(2, 2), .padding = (clnn_padding_mode)7)))
ERR_BUILDER(max_no_options, clnn_maxpool2d(g, T(1, 1, 4, 4), NULL))
ERR_BUILDER(max_null, clnn_maxpool2d(g, NULL, OPT(K(2, 2))))
ERR_BUILDER(avg_i32, clnn_avgpool2d(g, I32(1, 1, 4, 4), OPT(K(2, 2))))
ERR_BUILDER(global_2d, clnn_global_avgpool2d(g, T(2, 3)))
ERR_BUILDER(global_null, clnn_global_avgpool2d(g, NULL))
ERR_BUILDER(global_i32, clnn_global_avgpool2d(g, I32(1, 2, 3, 3)))
ERR_BUILDER(upsample_scale0, clnn_upsample_nearest(g, T(1, 1, 2, 2), 0, 2))
ERR_BUILDER(upsample_3d, clnn_upsample_nearest(g, T(1, 2, 2), 2, 2))
ERR_BUILDER(upsample_null, clnn_upsample_nearest(g, NULL, 2, 2))

static const err_case error_cases[] = {
    {"maxpool 3-D", max_3d, CLNN_ERR_SHAPE, {"maxpool2d", "(N, C, H, W)", "(2, 3, 4)"}},
    {"avgpool 2-D", avg_2d, CLNN_ERR_SHAPE, {"avgpool2d", "(N, C, H, W)", "(6, 6)"}},
    {"maxpool kernel 0x2", max_kernel0, CLNN_ERR_INVALID, {"maxpool2d", "kernel 0x2"}},
    {"maxpool stride -1", max_stride_neg, CLNN_ERR_INVALID, {"maxpool2d", "stride -1x0"}},
    {"maxpool pad > kernel/2", max_pad_half, CLNN_ERR_INVALID,
     {"maxpool2d", "padding 2x2", "kernel 2x2", "half"}},
    {"avgpool pad -1", avg_pad_neg, CLNN_ERR_INVALID, {"avgpool2d", "0x-1"}},
    {"maxpool input < kernel", max_too_small, CLNN_ERR_SHAPE,
     {"maxpool2d", "(1, 1, 2, 2)", "kernel 3x3"}},
    {"avgpool width < kernel", avg_too_small_w, CLNN_ERR_SHAPE,
     {"avgpool2d", "(1, 1, 5, 2)", "padding 1x0"}},
    {"maxpool same + ceil_mode", max_same_ceil, CLNN_ERR_INVALID, {"maxpool2d", "ceil_mode"}},
    {"maxpool valid + pad", max_valid_pad, CLNN_ERR_INVALID,
     {"maxpool2d", "CLNN_PADDING_EXPLICIT", "valid"}},
    {"avgpool mode 7", avg_bad_mode, CLNN_ERR_INVALID, {"avgpool2d", "mode 7"}},
    {"maxpool options NULL", max_no_options, CLNN_ERR_INVALID, {"maxpool2d", "options"}},
    {"maxpool x NULL", max_null, CLNN_ERR_INVALID, {"maxpool2d", "NULL"}},
    {"avgpool i32", avg_i32, CLNN_ERR_INVALID, {"avgpool2d", "f32"}},
    {"global avgpool 2-D", global_2d, CLNN_ERR_SHAPE, {"global_avgpool2d", "(2, 3)"}},
    {"global avgpool NULL", global_null, CLNN_ERR_INVALID, {"global_avgpool2d", "NULL"}},
    {"global avgpool i32", global_i32, CLNN_ERR_INVALID, {"global_avgpool2d", "f32"}},
    {"upsample scale 0x2", upsample_scale0, CLNN_ERR_INVALID, {"upsample_nearest", "0x2"}},
    {"upsample 3-D", upsample_3d, CLNN_ERR_SHAPE, {"upsample_nearest", "(1, 2, 2)"}},
    {"upsample NULL", upsample_null, CLNN_ERR_INVALID, {"upsample", "NULL"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* ---- golden: PyTorch's outputs and gradients (tests/golden/pool.txt) ------------------------ */
static const char *const golden_names[] = {
    "maxpool_2x2",
    "maxpool_3x3_s2_p1",
    "maxpool_3x3_s2_p1_ceil",
    "maxpool_2x2_ceil",
    "maxpool_3x3_s2_p1_ties",
    "maxpool_2x2_ties",
    "maxpool_same_3x3_s2",
    "avgpool_2x2",
    "avgpool_3x3_s2_p1_include",
    "avgpool_3x3_s2_p1_exclude",
    "avgpool_3x3_s2_p1_ceil_include",
    "avgpool_3x3_s2_p1_ceil_exclude",
    "avgpool_2x2_ceil",
    "avgpool_same_3x3_s2",
    "global_avgpool",
    "upsample_x2",
    "upsample_2x3",
};

START_TEST(test_golden)
{
    char err[512];
    golden_file *f = golden_load("pool", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    const golden_case *c = golden_case_get(f, golden_names[_i]);
    ck_assert_msg(c, "golden case '%s' is missing from pool.txt", golden_names[_i]);
    const golden_tensor *gx = golden_tensor_get(c, "x"), *gr = golden_tensor_get(c, "r");
    ck_assert(gx && gr);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "x", gx->ndim, gx->shape);
    clnn_tensor *r = clnn_input(g, "r", gr->ndim, gr->shape);
    clnn_pool2d_options o;
    clnn_pool2d_options_init(&o, golden_int(c, "kernel", 0, 0), golden_int(c, "kernel", 1, 0));
    o.stride_h = golden_int(c, "stride", 0, 0);
    o.stride_w = golden_int(c, "stride", 1, 0);
    o.pad_h = golden_int(c, "pad", 0, 0);
    o.pad_w = golden_int(c, "pad", 1, 0);
    o.padding = (clnn_padding_mode)golden_int(c, "padding", 0, 0);
    o.ceil_mode = golden_int(c, "ceil_mode", 0, 0);
    o.count_include_pad = golden_int(c, "count_include_pad", 0, 1);
    clnn_tensor *y = NULL;
    switch (golden_int(c, "op", 0, -1)) {
    case 0:
        y = clnn_maxpool2d(g, x, &o);
        break;
    case 1:
        y = clnn_avgpool2d(g, x, &o);
        break;
    case 2:
        y = clnn_global_avgpool2d(g, x);
        break;
    case 3:
        y = clnn_upsample_nearest(g, x, golden_int(c, "scale", 0, 0), golden_int(c, "scale", 1, 0));
        break;
    }
    ck_assert_msg(y, "%s: building: %s", c->name, clnn_graph_last_error(g));
    clnn_graph_keep(g, y);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0)), CLNN_OK);
    ck_assert(golden_write(x, gx) == 0 && golden_write(r, gr) == 0);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    char msg[768];
    ck_assert_msg(golden_check("y", y, golden_tensor_get(c, "y"), 1e-5, 1e-6, msg, sizeof msg),
                  "%s: %s", c->name, msg);
    ck_assert_msg(golden_check("dx", clnn_tensor_grad(x), golden_tensor_get(c, "dx"), 1e-4, 1e-6,
                               msg, sizeof msg),
                  "%s: %s", c->name, msg);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {max_cases, avg_cases, other_cases};
    const int counts[] = {GC_COUNT(max_cases), GC_COUNT(avg_cases), GC_COUNT(other_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("ops_pool");
    const gc_loop loops[] = {
        {"maxpool", test_max, 2 * GC_COUNT(max_cases)},
        {"avgpool", test_avg, GC_COUNT(avg_cases)},
        {"global_upsample_composite", test_other, GC_COUNT(other_cases)},
        {"ties", test_max_ties, 2 * GC_COUNT(tie_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, GC_COUNT(golden_names)},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique); /* maxpool */
    tcase_add_test(tc[0], test_options_init);
    tcase_add_loop_test(tc[0], test_max_nan, 0, 2); /* CPU and GPU kernels */
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
