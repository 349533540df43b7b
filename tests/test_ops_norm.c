/* test_ops_norm.c — the `check` suite of the normalisation family: batchnorm (training and
 * evaluation), layernorm and embedding. Table-driven cases (tests/gradcheck.h) compare the
 * forward with the double references of tests/ref/ref_norm.c and every gradient with central
 * differences, at odd sizes and with shapes that split a channel over several work-groups or sort
 * keys over several blocks. Explicit tests check what a gradient check cannot: the in-place update
 * of the running statistics (exactly one per run, PyTorch's momentum, unbiased or biased, bound
 * caller-owned tensors), switching modes on one graph, the training-mode refusal of one value per
 * channel, the embedding's padding row, out-of-range indices, repeated indices and a bitwise
 * deterministic gradient at V = 10000, D = 128, 6400 indices (its time is printed). Error paths
 * check NULL, a sticky status and messages naming the op with the expected and given shapes.
 * Golden tests compare with PyTorch (tests/golden/norm.txt, from gen_norm.py). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_norm.h"

/* ---- gradient-checked cases ----------------------------------------------------------------- */
typedef enum norm_kind { K_BATCHNORM, K_LAYERNORM, K_EMBEDDING } norm_kind;

typedef struct norm_cfg {
    norm_kind kind;
    int training;            /* batchnorm */
    float momentum, eps;     /* batchnorm; layernorm eps (0: 1e-5) */
    int unbiased;            /* batchnorm */
    int has_gamma, has_beta; /* in[1] gamma, then beta, when present */
    int naxes;               /* layernorm */
    int padding;             /* embedding */
} norm_cfg;

/* the running statistics a batchnorm case starts from (evaluation mode reads them) */
static double start_mean(int64_t c)
{
    return 0.3 * sin(1.0 + (double)c);
}
static double start_var(int64_t c)
{
    return 0.5 + 0.1 * (double)(c % 7);
}

static clnn_tensor *running(clnn_graph *g, const char *name, int64_t C, int var)
{
    clnn_tensor *t = clnn_input(g, name, 1, &C);
    float *v = malloc((size_t)C * sizeof *v);
    if (!t || !v) {
        free(v);
        return NULL;
    }
    for (int64_t c = 0; c < C; c++)
        v[c] = (float)(var ? start_var(c) : start_mean(c));
    clnn_status st = clnn_tensor_write(t, v, (size_t)C * sizeof *v);
    free(v);
    return st == CLNN_OK ? t : NULL;
}

static float eps_of(const norm_cfg *p)
{
    return p->eps > 0.0f ? p->eps : 1e-5f;
}

static clnn_tensor *build_norm(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const norm_cfg *p = cfg;
    clnn_tensor *gamma = p->has_gamma ? in[1] : NULL,
                *beta = p->has_beta ? in[1 + p->has_gamma] : NULL;
    switch (p->kind) {
    case K_BATCHNORM: {
        int64_t C = clnn_tensor_dim(in[0], 1);
        clnn_batchnorm_options o;
        clnn_batchnorm_options_init(&o);
        o.momentum = p->momentum;
        o.eps = eps_of(p);
        o.unbiased_running_var = p->unbiased;
        if (clnn_graph_set_training(g, p->training) != CLNN_OK)
            return NULL;
        return clnn_batchnorm(g, in[0], gamma, beta, running(g, "rm", C, 0), running(g, "rv", C, 1),
                              &o);
    }
    case K_LAYERNORM:
        return clnn_layernorm(g, in[0], p->naxes, gamma, beta, eps_of(p));
    case K_EMBEDDING:
        return clnn_embedding(g, in[0], in[1], p->padding);
    }
    return NULL;
}

static int ref_norm(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                    ref_shape *sy)
{
    const norm_cfg *p = cfg;
    const double *gamma = p->has_gamma ? in[1] : NULL;
    const double *beta = p->has_beta ? in[1 + p->has_gamma] : NULL;
    switch (p->kind) {
    case K_BATCHNORM: {
        double rm[256], rv[256];
        if (s[0].ndim < 2 || s[0].dims[1] > 256)
            return 0;
        for (int64_t c = 0; c < s[0].dims[1]; c++) {
            rm[c] = (float)start_mean(c); /* the f32 values written to the device */
            rv[c] = (float)start_var(c);
        }
        ref_bn_cfg b = {p->training, p->momentum, eps_of(p), p->unbiased};
        return ref_batchnorm(in[0], &s[0], gamma, beta, rm, rv, &b, y, sy, NULL, NULL);
    }
    case K_LAYERNORM:
        return ref_layernorm(in[0], &s[0], p->naxes, gamma, beta, eps_of(p), y, sy);
    case K_EMBEDDING:
        return ref_embedding(in[0], &s[0], in[1], &s[1], y, sy);
    }
    return 0;
}

// clang-format off
#define CFG(...) (&(const norm_cfg){__VA_ARGS__})
#define BN_TRAIN(...) CFG(.kind = K_BATCHNORM, .training = 1, .momentum = 0.1f, .unbiased = 1,     \
                          __VA_ARGS__)
#define BN_EVAL(...) CFG(.kind = K_BATCHNORM, .training = 0, .momentum = 0.1f, .unbiased = 1,      \
                         __VA_ARGS__)
#define LN(...) CFG(.kind = K_LAYERNORM, __VA_ARGS__)
#define EMB(pad) CFG(.kind = K_EMBEDDING, .padding = (pad))
#define AFFINE .has_gamma = 1, .has_beta = 1
#define CASE(name, cfg, ...) GC_CASE(name, build_norm, ref_norm, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
/* x with a mean and a spread away from 0 and 1, as activations have */
#define XR(...) GC_PARAM_RANGE(-1.5, 2.5, __VA_ARGS__)
// clang-format on

/* Batchnorm: (N, C) and (N, C, ...), with and without gamma and beta, x as an input (only the
 * parameters' gradients), eps 1e-3, a channel split over 6 work-groups ((64, 2, 9, 9): 5184
 * values on 2 compute units), evaluation mode (affine in x). */
static const gc_case bn_cases[] = {
    CASE("batchnorm train (7,3) affine", BN_TRAIN(AFFINE), XR(7, 3), P(3), P(3)),
    CASE("batchnorm train (13,5) no affine", BN_TRAIN(.has_gamma = 0), XR(13, 5)),
    CASE("batchnorm train (2,1) gamma only", BN_TRAIN(.has_gamma = 1), XR(2, 1), P(1)),
    CASE("batchnorm train (5,3,7) beta only", BN_TRAIN(.has_beta = 1), XR(5, 3, 7), P(3)),
    CASE("batchnorm train (4,3,5,7) affine", BN_TRAIN(AFFINE), XR(4, 3, 5, 7), P(3), P(3)),
    CASE("batchnorm train (3,2,4,1,5) affine eps 1e-3", BN_TRAIN(AFFINE, .eps = 1e-3f),
         XR(3, 2, 4, 1, 5), P(2), P(2)),
    CASE("batchnorm train x input (6,4,3,3)", BN_TRAIN(AFFINE), X(6, 4, 3, 3), P(4), P(4)),
    CASE("batchnorm train (64,2,9,9) split channels", BN_TRAIN(AFFINE), XR(64, 2, 9, 9), P(2),
         P(2)),
    CASE("batchnorm train (9,17,5,13) affine", BN_TRAIN(AFFINE), XR(9, 17, 5, 13), P(17), P(17)),
    CASE("batchnorm train (33,4,7) mean 10", BN_TRAIN(AFFINE), GC_PARAM_RANGE(10, 11, 33, 4, 7),
         P(4), P(4)),
    /* x in [1000, 1002): fp32 E[x^2] - E[x]^2 would lose the variance entirely (1e6 against
     * 0.33); the shifted sums keep it. fwd rtol 1e-4: inputs near 1000 are spaced 6e-5 apart, so
     * the fp32 mean alone carries ~3e-5 of the standard deviation into x - mean. */
    GC_CASE_TOL("batchnorm train (64,1,40,40) mean 1000", build_norm, ref_norm, BN_TRAIN(AFFINE),
                1e-4, 0, 0, 0, GC_INPUT_RANGE(1000, 1002, 64, 1, 40, 40), P(1), P(1)),
    CASE("batchnorm eval (7,3) affine", BN_EVAL(AFFINE), XR(7, 3), P(3), P(3)),
    CASE("batchnorm eval (1,5) batch 1", BN_EVAL(AFFINE), XR(1, 5), P(5), P(5)),
    CASE("batchnorm eval (4,3,5,7) no affine", BN_EVAL(.has_gamma = 0), XR(4, 3, 5, 7)),
    CASE("batchnorm eval (3,6,5,5) affine", BN_EVAL(AFFINE), XR(3, 6, 5, 5), P(6), P(6)),
};

/* Layernorm over 1, 2, 3 and all axes, rows shorter and longer than a work-group (K = 5 .. 1300) */
static const gc_case ln_cases[] = {
    CASE("layernorm (7,13) last axis affine", LN(.naxes = 1, AFFINE), XR(7, 13), P(13), P(13)),
    CASE("layernorm (5,129) no affine", LN(.naxes = 1), XR(5, 129)),
    CASE("layernorm (4,3,5) 2 axes affine", LN(.naxes = 2, AFFINE), XR(4, 3, 5), P(3, 5), P(3, 5)),
    CASE("layernorm (2,3,4,5) 3 axes gamma eps 1e-3", LN(.naxes = 3, .has_gamma = 1, .eps = 1e-3f),
         XR(2, 3, 4, 5), P(3, 4, 5)),
    CASE("layernorm (3,7) all axes beta", LN(.naxes = 2, .has_beta = 1), XR(3, 7), P(3, 7)),
    CASE("layernorm (300,5) affine", LN(.naxes = 1, AFFINE), XR(300, 5), P(5), P(5)),
    CASE("layernorm (3,1300) affine", LN(.naxes = 1, AFFINE), XR(3, 1300), P(1300), P(1300)),
    CASE("layernorm x input (9,11) affine", LN(.naxes = 1, AFFINE), X(9, 11), P(11), P(11)),
    CASE("layernorm (6,70) mean 10", LN(.naxes = 1, AFFINE), GC_PARAM_RANGE(10, 11, 6, 70), P(70),
         P(70)),
};

/* Embedding: repeated indices (more positions than rows), 0-d and 3-d indices, out-of-range
 * indices (rows of zeros, no gradient), 1200 indices (sort keys over several blocks and global
 * bitonic steps). The padding row is checked by test_embedding_padding_and_repeats: a finite
 * difference sees the row that PyTorch's padding_idx keeps out of the gradient. */
static const gc_case emb_cases[] = {
    CASE("embedding (7,) V 5 D 3", EMB(-1), GC_INPUT_I32(0, 5, 7), P(5, 3)),
    CASE("embedding (3,4) V 10 D 13", EMB(-1), GC_INPUT_I32(0, 10, 3, 4), P(10, 13)),
    CASE("embedding () V 4 D 65", EMB(-1), {.ndim = 0, .lo = 0, .hi = 4, .dtype = CLNN_I32},
         P(4, 65)),
    CASE("embedding (2,3,5) V 4 D 7", EMB(-1), GC_INPUT_I32(0, 4, 2, 3, 5), P(4, 7)),
    CASE("embedding (5,9) out of range V 6 D 3", EMB(-1), GC_INPUT_I32(-3, 9, 5, 9), P(6, 3)),
    CASE("embedding (40,30) V 50 D 3", EMB(-1), GC_INPUT_I32(0, 50, 40, 30), P(50, 3)),
    CASE("embedding (1,) V 1 D 1", EMB(-1), GC_INPUT_I32(0, 1, 1), P(1, 1)),
};

START_TEST(test_batchnorm)
{
    gc_run_case(&bn_cases[_i]);
}
END_TEST
START_TEST(test_layernorm)
{
    gc_run_case(&ln_cases[_i]);
}
END_TEST
START_TEST(test_embedding)
{
    gc_run_case(&emb_cases[_i]);
}
END_TEST

/* ---- helpers of the explicit tests ---------------------------------------------------------- */
static void write_random(clnn_tensor *t, double *host, gc_rng *rng, double lo, double hi)
{
    int64_t n = clnn_tensor_numel(t);
    float *f = malloc((size_t)n * sizeof *f);
    ck_assert_ptr_nonnull(f);
    gc_rng_fill(rng, f, n, lo, hi, 0.0);
    for (int64_t i = 0; host && i < n; i++)
        host[i] = f[i];
    ck_assert_int_eq(clnn_tensor_write(t, f, (size_t)n * sizeof *f), CLNN_OK);
    free(f);
}

static void write_doubles(clnn_tensor *t, const double *v)
{
    int64_t n = clnn_tensor_numel(t);
    float *f = malloc((size_t)n * sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    ck_assert_int_eq(clnn_tensor_write(t, f, (size_t)n * sizeof *f), CLNN_OK);
    free(f);
}

static void expect_close(const char *what, clnn_tensor *t, const double *want, double rtol)
{
    int64_t n = clnn_tensor_numel(t);
    float *got = malloc((size_t)n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(clnn_tensor_read(t, got, (size_t)n * sizeof *got), CLNN_OK);
    ref_shape s = {1, {n}};
    char msg[768];
    int ok = gc_compare(what, got, want, &s, rtol, 1e-6, msg, sizeof msg);
    free(got);
    ck_assert_msg(ok, "%s", msg);
}

/* ---- running statistics: one update per run, PyTorch's rule, evaluation mode reads them ------ */
typedef struct stats_case {
    int64_t shape[4];
    float momentum;
    int unbiased;
    int bound; /* the running statistics are caller-owned tensors bound to the graph */
} stats_case;

static const stats_case stats_cases[] = {
    {{7, 3, 1, 1}, 0.1f, 1, 0},
    {{4, 3, 5, 7}, 0.1f, 1, 1},
    {{5, 2, 3, 3}, 0.3f, 0, 0},
    {{64, 2, 9, 9}, 0.25f, 1, 1},
};

START_TEST(test_batchnorm_running_stats)
{
    const stats_case *c = &stats_cases[_i];
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    int64_t C = c->shape[1];
    ref_shape sx = {4, {c->shape[0], C, c->shape[2], c->shape[3]}}, sy;
    int64_t n = ref_numel(&sx);
    double *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)n * sizeof *want);
    double rm[2][8], rv[2][8], gam[8], bet[8];
    ck_assert(x && want && C <= 8);
    clnn_tensor *ext_m = NULL, *ext_v = NULL, *tm, *tv;
    if (c->bound) {
        ck_assert_int_eq(clnn_tensor_create(ctx, CLNN_F32, 1, &C, &ext_m), CLNN_OK);
        ck_assert_int_eq(clnn_tensor_create(ctx, CLNN_F32, 1, &C, &ext_v), CLNN_OK);
        tm = clnn_graph_bind(g, ext_m, 0);
        tv = clnn_graph_bind(g, ext_v, 0);
    } else {
        tm = clnn_input(g, "rm", 1, &C);
        tv = clnn_input(g, "rv", 1, &C);
    }
    clnn_tensor *tx = clnn_input(g, "x", 4, sx.dims);
    clnn_tensor *tg = clnn_input(g, "gamma", 1, &C), *tb = clnn_input(g, "beta", 1, &C);
    clnn_batchnorm_options o;
    clnn_batchnorm_options_init(&o);
    ck_assert(o.momentum == 0.1f && o.eps == 1e-5f && o.unbiased_running_var == 1);
    o.momentum = c->momentum;
    o.unbiased_running_var = c->unbiased;
    clnn_tensor *y = clnn_batchnorm(g, tx, tg, tb, tm, tv, &o);
    ck_assert_msg(y, "%s", clnn_graph_last_error(g));
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("running stats") + (uint64_t)_i);
    write_random(tx, x, &rng, -2.0, 3.0);
    write_random(tg, gam, &rng, 0.5, 1.5);
    write_random(tb, bet, &rng, -0.5, 0.5);
    for (int64_t k = 0; k < C; k++) {
        rm[0][k] = (float)start_mean(k);
        rv[0][k] = (float)start_var(k);
    }
    write_doubles(tm, rm[0]);
    write_doubles(tv, rv[0]);
    clnn_tensor *rm_read = c->bound ? ext_m : tm, *rv_read = c->bound ? ext_v : tv;
    ref_bn_cfg train = {1, c->momentum, 1e-5, c->unbiased}, eval = {0, c->momentum, 1e-5, 0};
    for (int run = 0; run < 2; run++) { /* each run moves the statistics once more */
        ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
        int cur = run & 1, next = cur ^ 1;
        ck_assert(ref_batchnorm(x, &sx, gam, bet, rm[cur], rv[cur], &train, want, &sy, rm[next],
                                rv[next]));
        expect_close("training y", y, want, 1e-5);
        expect_close("running_mean", rm_read, rm[next], 1e-5);
        expect_close("running_var", rv_read, rv[next], 1e-5);
    }
    /* evaluation: the statistics of two runs normalise, and they do not move */
    ck_assert_int_eq(clnn_graph_set_training(g, 0), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ck_assert(ref_batchnorm(x, &sx, gam, bet, rm[0], rv[0], &eval, want, &sy, NULL, NULL));
    expect_close("evaluation y", y, want, 1e-5);
    expect_close("running_mean after evaluation", rm_read, rm[0], 1e-5);
    expect_close("running_var after evaluation", rv_read, rv[0], 1e-5);
    clnn_graph_destroy(g);
    clnn_tensor_destroy(ext_m);
    clnn_tensor_destroy(ext_v);
    clnn_ctx_destroy(ctx);
    free(x);
    free(want);
}
END_TEST

/* One graph with its backward switched between modes: evaluation gives the affine gradient
 * dx = gamma / sqrt(running_var + eps) dy; training again gives the training gradient. */
START_TEST(test_batchnorm_mode_switch)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    const int64_t N = 6, C = 3, H = 5;
    int64_t shape[3] = {N, C, H}, n = N * C * H;
    clnn_tensor *x = clnn_param(g, "x", 3, shape), *gm = clnn_param(g, "gamma", 1, &C);
    clnn_tensor *rm = clnn_input(g, "rm", 1, &C), *rv = clnn_input(g, "rv", 1, &C);
    clnn_tensor *r = clnn_input(g, "r", 3, shape);
    clnn_tensor *y = clnn_batchnorm(g, x, gm, NULL, rm, rv, NULL);
    clnn_tensor *loss = clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0);
    ck_assert_int_eq(clnn_graph_backward(g, loss), CLNN_OK);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("mode switch"));
    double *rh = malloc((size_t)n * sizeof *rh), *want = malloc((size_t)n * sizeof *want), gh[3];
    float *dx1 = malloc((size_t)n * sizeof *dx1), *dx3 = malloc((size_t)n * sizeof *dx3);
    ck_assert(rh && want && dx1 && dx3);
    write_random(x, NULL, &rng, -1.0, 2.0);
    write_random(gm, gh, &rng, 0.5, 1.5);
    write_random(r, rh, &rng, -1.0, 1.0);
    ck_assert_int_eq(clnn_tensor_fill(rm, 0.0f), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_fill(rv, 1.0f), CLNN_OK);
    clnn_tensor *dx = clnn_tensor_grad(x);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(dx, dx1, (size_t)n * sizeof *dx1), CLNN_OK);
    float var[3];
    ck_assert_int_eq(clnn_tensor_read(rv, var, sizeof var), CLNN_OK);
    ck_assert_int_eq(clnn_graph_set_training(g, 0), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / H) % C;
        want[i] = gh[c] / sqrt((double)var[c] + 1e-5) * rh[i];
    }
    expect_close("evaluation dx", dx, want, 1e-5);
    ck_assert_int_eq(clnn_graph_set_training(g, 1), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(dx, dx3, (size_t)n * sizeof *dx3), CLNN_OK);
    ck_assert_msg(memcmp(dx1, dx3, (size_t)n * sizeof *dx1) == 0,
                  "training dx differs after a round trip through evaluation mode");
    int same = 1;
    for (int64_t i = 0; i < n; i++)
        same &= fabs(dx1[i] - want[i]) < 1e-6;
    ck_assert_msg(!same, "training dx equals the evaluation dx: the mode is not read");
    free(rh);
    free(want);
    free(dx1);
    free(dx3);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Training mode with one value per channel fails at run time (the unbiased variance divides by
 * n - 1 = 0; PyTorch refuses too); evaluation mode runs the same graph. */
START_TEST(test_batchnorm_single_value)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    int64_t C = 4, shape[2] = {1, 4};
    clnn_tensor *x = clnn_input(g, "x", 2, shape);
    clnn_tensor *rm = clnn_input(g, "rm", 1, &C), *rv = clnn_input(g, "rv", 1, &C);
    clnn_tensor *y = clnn_batchnorm(g, x, NULL, NULL, rm, rv, NULL);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(clnn_tensor_fill(x, 3.0f), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_fill(rm, 1.0f), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_fill(rv, 4.0f), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_ERR_INVALID);
    ck_assert_msg(strstr(clnn_ctx_last_error(ctx), "more than 1 value per channel"), "'%s'",
                  clnn_ctx_last_error(ctx));
    ck_assert_int_eq(clnn_graph_set_training(g, 0), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    float got[4];
    ck_assert_int_eq(clnn_tensor_read(y, got, sizeof got), CLNN_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabs(got[i] - 2.0 / sqrt(4.0 + 1e-5)) < 1e-6, "y[%d] = %g", i, got[i]);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- embedding: padding row, repeats, out-of-range indices ---------------------------------- */
START_TEST(test_embedding_padding_and_repeats)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    enum { P = 12, V = 6, D = 5, PAD = 1 };
    const int32_t idx[P] = {3, 1, 3, 3, 0, 2, 1, 3, 7, -1, 5, 0}; /* row 4 never occurs */
    double di[P], w[V * D], r[P * D], want[P * D], dw[V * D];
    clnn_tensor *ti = clnn_input_i32(g, "indices", 1, (int64_t[]){P});
    clnn_tensor *tw = clnn_param(g, "w", 2, (int64_t[]){V, D});
    clnn_tensor *tr = clnn_input(g, "r", 2, (int64_t[]){P, D});
    clnn_tensor *y = clnn_graph_keep(g, clnn_embedding(g, ti, tw, PAD));
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, tr), 0, NULL, 0)), CLNN_OK);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("embedding padding"));
    write_random(tw, w, &rng, -1.0, 1.0);
    write_random(tr, r, &rng, -1.0, 1.0);
    ck_assert_int_eq(clnn_tensor_write(ti, idx, sizeof idx), CLNN_OK);
    for (int p = 0; p < P; p++)
        di[p] = idx[p];
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    ref_shape si = {1, {P}}, sw = {2, {V, D}}, sy;
    ck_assert(ref_embedding(di, &si, w, &sw, want, &sy));
    expect_close("y (the padding row is returned, out of range reads zeros)", y, want, 1e-7);
    ref_embedding_backward(di, P, r, V, D, PAD, dw);
    expect_close("dw", clnn_tensor_grad(tw), dw, 1e-6);
    float got[V * D];
    ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(tw), got, sizeof got), CLNN_OK);
    for (int d = 0; d < D; d++) {
        ck_assert_msg(got[PAD * D + d] == 0.0f, "padding row: dw[%d][%d] = %g", PAD, d,
                      got[PAD * D + d]);
        ck_assert_msg(got[4 * D + d] == 0.0f, "unused row: dw[4][%d] = %g", d, got[4 * D + d]);
        /* row 3 occurs at positions 0, 2, 3, 7 */
        double s = r[0 * D + d] + r[2 * D + d] + r[3 * D + d] + r[7 * D + d];
        ck_assert_msg(fabs(got[3 * D + d] - s) < 1e-6, "dw[3][%d] = %g, expected %g", d,
                      got[3 * D + d], s);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* V = 10000, D = 128, 6400 indices (a third of them from 40 hot rows): the gradient matches the
 * reference, is bitwise identical over two runs and two graphs, and its time is printed. */
static void emb_large_graph(clnn_ctx *ctx, const int32_t *idx, const float *w, const float *r,
                            float *dw, int runs)
{
    enum { P = 6400, V = 10000, D = 128 };
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *ti = clnn_input_i32(g, "indices", 2, (int64_t[]){64, 100});
    clnn_tensor *tw = clnn_param(g, "w", 2, (int64_t[]){V, D});
    clnn_tensor *tr = clnn_input(g, "r", 3, (int64_t[]){64, 100, D});
    clnn_tensor *y = clnn_embedding(g, ti, tw, 7);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, tr), 0, NULL, 0)), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(ti, idx, P * sizeof *idx), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(tw, w, (size_t)V * D * sizeof *w), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(tr, r, (size_t)P * D * sizeof *r), CLNN_OK);
    for (int run = 0; run < runs; run++) {
        ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
        float *out = dw + (size_t)run * V * D;
        ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(tw), out, (size_t)V * D * sizeof *out),
                         CLNN_OK);
    }
    clnn_graph_destroy(g);
}

static void quiet(void *user, clnn_log_level level, const char *message)
{
    (void)user;
    (void)level;
    (void)message;
}

START_TEST(test_embedding_large_deterministic)
{
    enum { P = 6400, V = 10000, D = 128 };
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.profile = 1;
    o.log = quiet; /* no profile report at destroy: the line below says what matters */
    clnn_ctx *ctx = NULL;
    ck_assert_int_eq(clnn_ctx_create(&ctx, &o), CLNN_OK);
    int32_t *idx = malloc(P * sizeof *idx);
    float *w = malloc((size_t)V * D * sizeof *w), *r = malloc((size_t)P * D * sizeof *r);
    float *dw = malloc(3 * (size_t)V * D * sizeof *dw);
    double *di = malloc(P * sizeof *di), *rd = malloc((size_t)P * D * sizeof *rd);
    double *want = malloc((size_t)V * D * sizeof *want);
    ck_assert(idx && w && r && dw && di && rd && want);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("embedding large"));
    for (int p = 0; p < P; p++) {
        uint64_t u = gc_rng_next(&rng);
        idx[p] = (int32_t)(p % 3 == 0 ? (u % 40) * 97 % V : u % V);
        di[p] = idx[p];
    }
    gc_rng_fill(&rng, w, (int64_t)V * D, -1.0, 1.0, 0.0);
    gc_rng_fill(&rng, r, (int64_t)P * D, -1.0, 1.0, 0.0);
    for (int64_t i = 0; i < (int64_t)P * D; i++)
        rd[i] = r[i];
    emb_large_graph(ctx, idx, w, r, dw, 2);
    clnn_profile_entry e[32];
    size_t count = 0;
    ck_assert_int_eq(clnn_profile_get(ctx, e, 32, &count), CLNN_OK);
    for (size_t i = 0; i < count && i < 32; i++)
        if (!strcmp(e[i].op, "embedding_bwd") || !strcmp(e[i].op, "embedding"))
            printf("  %s V=%d D=%d P=%d: %.3f ms per run (%llu kernels per run)\n", e[i].op, V, D,
                   P, e[i].total_ms / 2.0, (unsigned long long)e[i].calls / 2);
    emb_large_graph(ctx, idx, w, r, dw + 2 * (size_t)V * D, 1);
    ck_assert_msg(!memcmp(dw, dw + (size_t)V * D, (size_t)V * D * sizeof *dw),
                  "two runs gave different gradients");
    ck_assert_msg(!memcmp(dw, dw + 2 * (size_t)V * D, (size_t)V * D * sizeof *dw),
                  "two graphs gave different gradients");
    ref_embedding_backward(di, P, rd, V, D, 7, want);
    ref_shape s = {2, {V, D}};
    char msg[768];
    ck_assert_msg(gc_compare("dw", dw, want, &s, 1e-5, 1e-6, msg, sizeof msg), "%s", msg);
    free(idx);
    free(w);
    free(r);
    free(dw);
    free(di);
    free(rd);
    free(want);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- error paths ---------------------------------------------------------------------------- */
#define T   GC_T
#define IN  GC_IN
#define I32 GC_I32

static const clnn_batchnorm_options bad_momentum = {1.5f, 1e-5f, 1};
static const clnn_batchnorm_options bad_eps = {0.1f, 0.0f, 1};

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(bn_x_1d, clnn_batchnorm(g, T(5), NULL, NULL, IN(5), IN(5), NULL))
ERR_BUILDER(bn_gamma, clnn_batchnorm(g, T(4, 3), T(4), NULL, IN(3), IN(3), NULL))
ERR_BUILDER(bn_beta, clnn_batchnorm(g, T(4, 3, 2), NULL, T(3, 1), IN(3), IN(3), NULL))
ERR_BUILDER(bn_rm_shape, clnn_batchnorm(g, T(4, 3), NULL, NULL, IN(2), IN(3), NULL))
ERR_BUILDER(bn_rv_shape, clnn_batchnorm(g, T(4, 3), NULL, NULL, IN(3), IN(3, 1), NULL))
ERR_BUILDER(bn_rm_null, clnn_batchnorm(g, T(4, 3), NULL, NULL, NULL, IN(3), NULL))
ERR_BUILDER(bn_rm_op, clnn_batchnorm(g, T(4, 3), NULL, NULL, clnn_relu(g, IN(3)), IN(3), NULL))
ERR_BUILDER(bn_rv_const, clnn_batchnorm(g, T(4, 3), NULL, NULL, IN(3),
                                        clnn_constant(g, 1.0f, 1, (int64_t[]){3}), NULL))
static clnn_tensor *bn_same_stats(clnn_graph *g)
{
    clnn_tensor *s = IN(3);
    return clnn_batchnorm(g, T(4, 3), NULL, NULL, s, s, NULL);
}
ERR_BUILDER(bn_momentum, clnn_batchnorm(g, T(4, 3), NULL, NULL, IN(3), IN(3), &bad_momentum))
ERR_BUILDER(bn_eps, clnn_batchnorm(g, T(4, 3), NULL, NULL, IN(3), IN(3), &bad_eps))
ERR_BUILDER(bn_x_null, clnn_batchnorm(g, NULL, NULL, NULL, IN(3), IN(3), NULL))
ERR_BUILDER(bn_x_i32, clnn_batchnorm(g, I32(4, 3), NULL, NULL, IN(3), IN(3), NULL))
ERR_BUILDER(bn_gamma_i32, clnn_batchnorm(g, T(4, 3), I32(3), NULL, IN(3), IN(3), NULL))
ERR_BUILDER(ln_naxes_0, clnn_layernorm(g, T(4, 3), 0, NULL, NULL, 1e-5f))
ERR_BUILDER(ln_naxes_3, clnn_layernorm(g, T(4, 3), 3, NULL, NULL, 1e-5f))
ERR_BUILDER(ln_gamma, clnn_layernorm(g, T(4, 3, 5), 2, T(5), NULL, 1e-5f))
ERR_BUILDER(ln_beta, clnn_layernorm(g, T(4, 3), 1, T(3), T(4), 1e-5f))
ERR_BUILDER(ln_eps, clnn_layernorm(g, T(4, 3), 1, NULL, NULL, -1.0f))
ERR_BUILDER(ln_null, clnn_layernorm(g, NULL, 1, NULL, NULL, 1e-5f))
ERR_BUILDER(emb_f32, clnn_embedding(g, T(4), T(5, 3), -1))
ERR_BUILDER(emb_w_1d, clnn_embedding(g, I32(4), T(5), -1))
ERR_BUILDER(emb_pad_v, clnn_embedding(g, I32(4), T(5, 3), 5))
ERR_BUILDER(emb_pad_neg, clnn_embedding(g, I32(4), T(5, 3), -2))
ERR_BUILDER(emb_6d, clnn_embedding(g, I32(1, 2, 1, 2, 1, 2), T(5, 3), -1))
ERR_BUILDER(emb_null, clnn_embedding(g, I32(4), NULL, -1))

static const err_case error_cases[] = {
    {"batchnorm x (5,)", bn_x_1d, CLNN_ERR_SHAPE, {"batchnorm", "(N, C, ...)", "(5,)"}},
    {"batchnorm gamma (4,)", bn_gamma, CLNN_ERR_SHAPE, {"batchnorm", "gamma", "(3,)", "(4,)"}},
    {"batchnorm beta (3,1)", bn_beta, CLNN_ERR_SHAPE, {"batchnorm", "beta", "(3,)", "(3, 1)"}},
    {"batchnorm running_mean (2,)", bn_rm_shape, CLNN_ERR_SHAPE,
     {"batchnorm", "running_mean", "(3,)", "(2,)"}},
    {"batchnorm running_var (3,1)", bn_rv_shape, CLNN_ERR_SHAPE,
     {"batchnorm", "running_var", "(3,)", "(3, 1)"}},
    {"batchnorm running_mean NULL", bn_rm_null, CLNN_ERR_INVALID, {"batchnorm", "running_mean",
     "NULL"}},
    {"batchnorm running_mean op", bn_rm_op, CLNN_ERR_INVALID, {"batchnorm", "leaf", "op result"}},
    {"batchnorm running_var constant", bn_rv_const, CLNN_ERR_INVALID, {"batchnorm", "running_var",
     "constant"}},
    {"batchnorm same running stats", bn_same_stats, CLNN_ERR_INVALID, {"batchnorm", "different"}},
    {"batchnorm momentum 1.5", bn_momentum, CLNN_ERR_INVALID, {"batchnorm", "momentum", "1.5"}},
    {"batchnorm eps 0", bn_eps, CLNN_ERR_INVALID, {"batchnorm", "eps"}},
    {"batchnorm x NULL", bn_x_null, CLNN_ERR_INVALID, {"batchnorm", "NULL"}},
    {"batchnorm x i32", bn_x_i32, CLNN_ERR_INVALID, {"batchnorm", "f32"}},
    {"batchnorm gamma i32", bn_gamma_i32, CLNN_ERR_INVALID, {"batchnorm", "f32 gamma"}},
    {"layernorm naxes 0", ln_naxes_0, CLNN_ERR_INVALID, {"layernorm", "naxes", "got 0", "(4, 3)"}},
    {"layernorm naxes 3 of 2-D", ln_naxes_3, CLNN_ERR_INVALID, {"layernorm", "1..2", "got 3"}},
    {"layernorm gamma (5,) for 2 axes", ln_gamma, CLNN_ERR_SHAPE,
     {"layernorm", "gamma", "(3, 5)", "(5,)"}},
    {"layernorm beta (4,)", ln_beta, CLNN_ERR_SHAPE, {"layernorm", "beta", "(3,)", "(4,)"}},
    {"layernorm eps -1", ln_eps, CLNN_ERR_INVALID, {"layernorm", "eps"}},
    {"layernorm x NULL", ln_null, CLNN_ERR_INVALID, {"layernorm", "NULL"}},
    {"embedding f32 indices", emb_f32, CLNN_ERR_INVALID, {"embedding", "i32"}},
    {"embedding weight (5,)", emb_w_1d, CLNN_ERR_SHAPE, {"embedding", "(V, D)", "(5,)"}},
    {"embedding padding 5 of V 5", emb_pad_v, CLNN_ERR_INVALID, {"embedding", "padding_index",
     "-1..4", "got 5"}},
    {"embedding padding -2", emb_pad_neg, CLNN_ERR_INVALID, {"embedding", "padding_index",
     "got -2"}},
    {"embedding 6-D indices", emb_6d, CLNN_ERR_SHAPE, {"embedding", "(1, 2, 1, 2, 1, 2)"}},
    {"embedding weight NULL", emb_null, CLNN_ERR_INVALID, {"embedding", "NULL"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* ---- golden tests against PyTorch ----------------------------------------------------------- */
#define GOLDEN_CASES 13 /* the cases of tests/golden/gen_norm.py */

static clnn_tensor *golden_leaf(clnn_graph *g, const golden_tensor *t, int param)
{
    ck_assert_ptr_nonnull(t);
    clnn_tensor *x = param ? clnn_param(g, t->name, t->ndim, t->shape)
                           : clnn_input(g, t->name, t->ndim, t->shape);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void golden_expect(const char *what, clnn_tensor *t, const golden_case *gc, double rtol)
{
    char msg[768];
    const golden_tensor *want = golden_tensor_get(gc, what);
    ck_assert_msg(golden_check(what, t, want, rtol, 1e-6, msg, sizeof msg), "%s: %s", gc->name,
                  msg);
}

START_TEST(test_golden)
{
    char err[512];
    golden_file *f = golden_load("norm", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    ck_assert_int_eq(f->ncases, GOLDEN_CASES); /* a new case in gen_norm.py needs a test run */
    const golden_case *gc = &f->cases[_i % f->ncases];
    ck_assert_msg(_i < f->ncases, "golden case %d of %d", _i, f->ncases);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    int kind = golden_int(gc, "kind", 0, -1), affine = golden_int(gc, "affine", 0, 0);
    clnn_tensor *x = NULL, *gamma = NULL, *beta = NULL, *rm = NULL, *rv = NULL, *w = NULL, *y;
    if (kind == K_EMBEDDING) {
        const golden_tensor *ti = golden_tensor_get(gc, "indices");
        ck_assert_ptr_nonnull(ti);
        x = clnn_input_i32(g, "indices", ti->ndim, ti->shape);
        w = golden_leaf(g, golden_tensor_get(gc, "weight"), 1);
        y = clnn_embedding(g, x, w, golden_int(gc, "padding", 0, -1));
    } else {
        x = golden_leaf(g, golden_tensor_get(gc, "x"), 1);
        if (affine) {
            gamma = golden_leaf(g, golden_tensor_get(gc, "gamma"), 1);
            beta = golden_leaf(g, golden_tensor_get(gc, "beta"), 1);
        }
        if (kind == K_BATCHNORM) {
            rm = golden_leaf(g, golden_tensor_get(gc, "running_mean"), 0);
            rv = golden_leaf(g, golden_tensor_get(gc, "running_var"), 0);
            clnn_batchnorm_options o;
            clnn_batchnorm_options_init(&o);
            o.momentum = (float)golden_float(gc, "momentum", 0, 0.1);
            o.eps = (float)golden_float(gc, "eps", 0, 1e-5);
            ck_assert_int_eq(clnn_graph_set_training(g, golden_int(gc, "training", 0, 1)), CLNN_OK);
            y = clnn_batchnorm(g, x, gamma, beta, rm, rv, &o);
        } else {
            ck_assert_int_eq(kind, K_LAYERNORM);
            y = clnn_layernorm(g, x, golden_int(gc, "naxes", 0, 1), gamma, beta,
                               (float)golden_float(gc, "eps", 0, 1e-5));
        }
    }
    ck_assert_msg(y, "%s: %s", gc->name, clnn_graph_last_error(g));
    clnn_graph_keep(g, y);
    clnn_tensor *r = golden_leaf(g, golden_tensor_get(gc, "r"), 0);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0)), CLNN_OK);
    struct {
        clnn_tensor *t;
        const char *name;
    } inputs[] = {{x, kind == K_EMBEDDING ? "indices" : "x"},
                  {w, "weight"},
                  {gamma, "gamma"},
                  {beta, "beta"},
                  {rm, "running_mean"},
                  {rv, "running_var"},
                  {r, "r"}};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        if (inputs[i].t)
            ck_assert_int_eq(golden_write(inputs[i].t, golden_tensor_get(gc, inputs[i].name)), 0);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    golden_expect("y", y, gc, 1e-5);
    if (kind == K_EMBEDDING) {
        golden_expect("dweight", clnn_tensor_grad(w), gc, 1e-4);
    } else {
        golden_expect("dx", clnn_tensor_grad(x), gc, 1e-4);
        if (affine) {
            golden_expect("dgamma", clnn_tensor_grad(gamma), gc, 1e-4);
            golden_expect("dbeta", clnn_tensor_grad(beta), gc, 1e-4);
        }
    }
    if (kind == K_BATCHNORM) { /* one step of the running statistics (none in evaluation) */
        golden_expect("new_running_mean", rm, gc, 1e-5);
        golden_expect("new_running_var", rv, gc, 1e-5);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {bn_cases, ln_cases, emb_cases};
    const int counts[] = {GC_COUNT(bn_cases), GC_COUNT(ln_cases), GC_COUNT(emb_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------------ */
static Suite *norm_suite(void)
{
    Suite *s = suite_create("ops_norm");
    const gc_loop loops[] = {
        {"batchnorm", test_batchnorm, GC_COUNT(bn_cases)},
        {"layernorm", test_layernorm, GC_COUNT(ln_cases)},
        {"embedding", test_embedding, GC_COUNT(emb_cases)},
        {"running_stats", test_batchnorm_running_stats, GC_COUNT(stats_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, GOLDEN_CASES},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique); /* batchnorm */
    tcase_add_test(tc[0], test_batchnorm_mode_switch);
    tcase_add_test(tc[0], test_batchnorm_single_value);
    tcase_add_test(tc[2], test_embedding_padding_and_repeats); /* embedding */
    tcase_add_test(tc[2], test_embedding_large_deterministic);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(norm_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
