/* test_ops_loss.c — the `check` suite of the losses (src/ops/op_loss.c, kernels/loss.cl):
 * mse_loss, categorical_crossentropy, cross_entropy, binary_crossentropy and
 * binary_crossentropy_logits, each with reduction mean, sum and none, checked forward against
 * the double-precision references of tests/ref/ref_loss.c and backward against central finite
 * differences (tests/gradcheck.c), with odd sizes, rows that span several work-items, batches
 * that take the multi-work-group sum, label smoothing and ignored labels; explicit tests of
 * out-of-range labels (ignored, uncounted by the mean, no gradient) and of a batch with no
 * counted label; error paths (bad shapes, dtypes, reductions and label_smoothing give NULL and a
 * message naming the loss and the shapes); and golden cases from PyTorch
 * (tests/golden/gen_loss.py -> tests/golden/loss.txt) including the clamp of BCELoss, the clip of
 * Keras's categorical cross-entropy and logits of +-30. Each test creates its own context
 * (check forks every test); CK_FORK=no to debug. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_loss.h"

/* the kind numbers of tests/golden/gen_loss.py */
typedef enum loss_kind { L_MSE = 0, L_CCE = 1, L_CE = 2, L_BCE = 3, L_BCE_LOGITS = 4 } loss_kind;

typedef struct loss_cfg {
    loss_kind kind;
    clnn_reduction reduction;
    float smoothing; /* cross_entropy */
} loss_cfg;

static clnn_tensor *build_one(clnn_graph *g, loss_kind kind, clnn_tensor *x, clnn_tensor *t,
                              clnn_reduction reduction, float smoothing)
{
    switch (kind) {
    case L_MSE:
        return clnn_mse_loss(g, x, t, reduction);
    case L_CCE:
        return clnn_categorical_crossentropy(g, x, t, reduction);
    case L_CE:
        return clnn_cross_entropy(g, x, t, reduction, smoothing);
    case L_BCE:
        return clnn_binary_crossentropy(g, x, t, reduction);
    case L_BCE_LOGITS:
        return clnn_binary_crossentropy_logits(g, x, t, reduction);
    }
    return NULL;
}

static int ref_one(loss_kind kind, const double *x, const ref_shape *sx, const double *t,
                   const ref_shape *st, int reduction, double smoothing, double *y, ref_shape *sy)
{
    if (kind == L_CE)
        return ref_cross_entropy(x, sx, t, st, smoothing, reduction, y, sy);
    if (sx->ndim != st->ndim || memcmp(sx->dims, st->dims, (size_t)sx->ndim * sizeof(int64_t)))
        return 0;
    switch (kind) {
    case L_MSE:
        return ref_mse_loss(x, t, sx, reduction, y, sy);
    case L_CCE:
        return ref_cce_loss(x, t, sx, reduction, y, sy);
    case L_BCE:
        return ref_bce_loss(x, t, sx, reduction, y, sy);
    default:
        return ref_bce_logits_loss(x, t, sx, reduction, y, sy);
    }
}

static clnn_tensor *build_loss(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const loss_cfg *c = cfg;
    return build_one(g, c->kind, in[0], in[1], c->reduction, c->smoothing);
}

static int ref_loss(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                    ref_shape *sy)
{
    const loss_cfg *c = cfg;
    return ref_one(c->kind, in[0], &s[0], in[1], &s[1], (int)c->reduction, c->smoothing, y, sy);
}

/* ---- composites: a loss on top of a matmul (the gradient flows on to the weights) ---------- */
static clnn_tensor *build_ce_of_matmul(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    return clnn_cross_entropy(g, clnn_matmul(g, in[0], in[1], 0, 0), in[2], CLNN_REDUCTION_MEAN,
                              0.05f);
}

static clnn_tensor *build_bce_logits_of_matmul(clnn_graph *g, clnn_tensor *const *in,
                                               const void *cfg)
{
    (void)cfg;
    return clnn_binary_crossentropy_logits(g, clnn_matmul(g, in[0], in[1], 0, 0), in[2],
                                           CLNN_REDUCTION_SUM);
}

static int ref_loss_of_matmul(const double *const *in, const ref_shape *s, double *y, ref_shape *sy,
                              int ce)
{
    ref_shape sz;
    if (!ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, NULL, &sz))
        return 0;
    double *z = y ? malloc((size_t)ref_numel(&sz) * sizeof *z) : NULL;
    if (y && !z)
        return 0;
    if (z)
        ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, z, &sz);
    int ok = ce ? ref_cross_entropy(z, &sz, in[2], &s[2], 0.05, 0, y, sy)
                : ref_bce_logits_loss(z, in[2], &sz, 1, y, sy);
    free(z);
    return ok;
}

static int ref_ce_of_matmul(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                            ref_shape *sy)
{
    (void)cfg;
    return ref_loss_of_matmul(in, s, y, sy, 1);
}

static int ref_bce_logits_of_matmul(const double *const *in, const ref_shape *s, const void *cfg,
                                    double *y, ref_shape *sy)
{
    (void)cfg;
    return ref_loss_of_matmul(in, s, y, sy, 0);
}

// clang-format off
#define LOSS(kind_, reduction_, ...)                                                            \
    (&(const loss_cfg){.kind = (kind_), .reduction = (reduction_), __VA_ARGS__})
#define CASE(name, cfg, ...) GC_CASE(name, build_loss, ref_loss, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
#define PR GC_PARAM_RANGE
#define XR GC_INPUT_RANGE
#define LABELS GC_INPUT_I32
#define MEAN CLNN_REDUCTION_MEAN
#define SUM CLNN_REDUCTION_SUM
#define NONE CLNN_REDUCTION_NONE
// clang-format on

/* Row kernels use L work-items per row, L a power of two <= 64 with ~32 columns each on a CPU
 * (~4 on a GPU): C = 5 gives L = 1 on a CPU, 150 gives 8, 1000 gives 32, 3000 the cap 64 with
 * ~47 columns each. Batches over 64 take sum.cl's multi-work-group path for mean and sum. */
static const gc_case loss_cases[] = {
    /* mse: any shape, gradients for both arguments */
    CASE("mse mean (7,5)", LOSS(L_MSE, MEAN), P(7, 5), P(7, 5)),
    CASE("mse sum (7,5)", LOSS(L_MSE, SUM), P(7, 5), P(7, 5)),
    CASE("mse none (7,5)", LOSS(L_MSE, NONE), P(7, 5), P(7, 5)),
    CASE("mse mean (2,3,5) target input", LOSS(L_MSE, MEAN), P(2, 3, 5), X(2, 3, 5)),
    CASE("mse none (1,)", LOSS(L_MSE, NONE), P(1), P(1)),
    CASE("mse sum () 0-d", LOSS(L_MSE, SUM), {.ndim = 0, .requires_grad = 1},
         {.ndim = 0, .requires_grad = 1}),
    CASE("mse mean (300,70)", LOSS(L_MSE, MEAN), P(300, 70), P(300, 70)),
    /* bce: probabilities away from the clamp (the golden cases cover it), soft targets */
    CASE("bce mean (7,5)", LOSS(L_BCE, MEAN), PR(0.02, 0.98, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce sum (7,5)", LOSS(L_BCE, SUM), PR(0.02, 0.98, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce none (7,5)", LOSS(L_BCE, NONE), PR(0.02, 0.98, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce none (13,) target input", LOSS(L_BCE, NONE), PR(0.001, 0.999, 13), XR(0, 1, 13)),
    CASE("bce sum (300,70)", LOSS(L_BCE, SUM), PR(0.02, 0.98, 300, 70), PR(0, 1, 300, 70)),
    /* bce with logits: |x| up to 40, where exp(x) overflows a naive log(1 + e^x) - x t */
    CASE("bce_logits mean (7,5)", LOSS(L_BCE_LOGITS, MEAN), PR(-6, 6, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce_logits sum (7,5)", LOSS(L_BCE_LOGITS, SUM), PR(-6, 6, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce_logits none (7,5)", LOSS(L_BCE_LOGITS, NONE), PR(-6, 6, 7, 5), PR(0, 1, 7, 5)),
    CASE("bce_logits none (13,5) |x| < 40", LOSS(L_BCE_LOGITS, NONE), PR(-40, 40, 13, 5),
         PR(0, 1, 13, 5)),
    CASE("bce_logits mean (300,70) target input", LOSS(L_BCE_LOGITS, MEAN), P(300, 70),
         XR(0, 1, 300, 70)),
    /* Keras categorical cross-entropy: unnormalised positive scores, soft targets */
    CASE("cce mean (7,5)", LOSS(L_CCE, MEAN), PR(0.05, 1, 7, 5), PR(0, 1, 7, 5)),
    CASE("cce sum (7,5)", LOSS(L_CCE, SUM), PR(0.05, 1, 7, 5), PR(0, 1, 7, 5)),
    CASE("cce none (7,5)", LOSS(L_CCE, NONE), PR(0.05, 1, 7, 5), PR(0, 1, 7, 5)),
    CASE("cce mean (5,150) target input", LOSS(L_CCE, MEAN), PR(0.05, 1, 5, 150), XR(0, 1, 5, 150)),
    CASE("cce none (3,1000)", LOSS(L_CCE, NONE), PR(0.05, 1, 3, 1000), PR(0, 1, 3, 1000)),
    CASE("cce sum (300,10)", LOSS(L_CCE, SUM), PR(0.05, 1, 300, 10), PR(0, 1, 300, 10)),
    /* cross_entropy: class indices; labels drawn from [-2, C + 2) include ignored ones */
    CASE("ce mean (7,5)", LOSS(L_CE, MEAN), PR(-3, 3, 7, 5), LABELS(0, 5, 7)),
    CASE("ce sum (7,5)", LOSS(L_CE, SUM), PR(-3, 3, 7, 5), LABELS(0, 5, 7)),
    CASE("ce none (7,5)", LOSS(L_CE, NONE), PR(-3, 3, 7, 5), LABELS(0, 5, 7)),
    CASE("ce mean smoothing 0.1 ignored (13,5)", LOSS(L_CE, MEAN, .smoothing = 0.1f),
         PR(-3, 3, 13, 5), LABELS(-2, 7, 13)),
    CASE("ce sum smoothing 0.1 ignored (13,5)", LOSS(L_CE, SUM, .smoothing = 0.1f),
         PR(-3, 3, 13, 5), LABELS(-2, 7, 13)),
    CASE("ce none smoothing 0.1 ignored (13,5)", LOSS(L_CE, NONE, .smoothing = 0.1f),
         PR(-3, 3, 13, 5), LABELS(-2, 7, 13)),
    CASE("ce mean smoothing 0.2 (5,150)", LOSS(L_CE, MEAN, .smoothing = 0.2f), PR(-5, 5, 5, 150),
         LABELS(0, 150, 5)),
    CASE("ce none (3,1000) large logits", LOSS(L_CE, NONE), PR(-60, 60, 3, 1000),
         LABELS(0, 1000, 3)),
    CASE("ce sum smoothing 0.1 (2,3000)", LOSS(L_CE, SUM, .smoothing = 0.1f), PR(-3, 3, 2, 3000),
         LABELS(0, 3000, 2)),
    CASE("ce mean ignored (300,10)", LOSS(L_CE, MEAN), PR(-3, 3, 300, 10), LABELS(-1, 11, 300)),
    CASE("ce mean one class (3,1)", LOSS(L_CE, MEAN, .smoothing = 0.3f), P(3, 1), LABELS(0, 1, 3)),
    /* composites */
    GC_CASE("ce(x@w) mean smoothing 0.05", build_ce_of_matmul, ref_ce_of_matmul, NULL, X(9, 6),
            P(6, 11), LABELS(0, 11, 9)),
    GC_CASE("bce_logits(x@w) sum", build_bce_logits_of_matmul, ref_bce_logits_of_matmul, NULL,
            P(9, 6), P(6, 4), XR(0, 1, 9, 4)),
};

START_TEST(test_loss)
{
    gc_run_case(&loss_cases[_i]);
}
END_TEST

START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {loss_cases};
    const int counts[] = {GC_COUNT(loss_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

/* ---- labels outside [0, C): ignored, uncounted, no gradient --------------------------------- */
/* Runs cross_entropy on logits (N, C) with the given labels and reduction; checks the loss
 * against the reference and d sum(y * r) / d logits against the closed form
 * r_n (softmax - (1 - eps) onehot - eps / C) / count (count: N or the counted samples). */
static void check_labels(const int32_t *labels, int N, int C, clnn_reduction reduction, float eps)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "logits", 2, (int64_t[]){N, C});
    clnn_tensor *l = clnn_input_i32(g, "labels", 1, (int64_t[]){N});
    clnn_tensor *y = clnn_cross_entropy(g, x, l, reduction, eps);
    ck_assert_msg(y, "%s", clnn_graph_last_error(g));
    clnn_tensor *r = clnn_input(g, "r", clnn_tensor_ndim(y), (int64_t[]){N});
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0)), CLNN_OK);
    clnn_graph_keep(g, y);

    float xf[64], rf[8], yf[8], df[64];
    double xd[64], ld[8], want[8];
    ck_assert(N * C <= 64 && N <= 8);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("check_labels") + (uint64_t)reduction);
    gc_rng_fill(&rng, xf, N * C, -2, 2, 0);
    gc_rng_fill(&rng, rf, N, -1, 1, 0);
    for (int i = 0; i < N * C; i++)
        xd[i] = xf[i];
    for (int n = 0; n < N; n++)
        ld[n] = labels[n];
    ck_assert_int_eq(clnn_tensor_write(x, xf, sizeof(float) * (size_t)(N * C)), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(l, labels, sizeof(int32_t) * (size_t)N), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(r, rf, sizeof(float) * (size_t)clnn_tensor_numel(r)),
                     CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);

    ref_shape sx = {2, {N, C}}, sl = {1, {N}}, sy;
    ck_assert(ref_cross_entropy(xd, &sx, ld, &sl, eps, (int)reduction, want, &sy));
    int64_t ny = ref_numel(&sy);
    ck_assert_int_eq(clnn_tensor_read(y, yf, sizeof(float) * (size_t)ny), CLNN_OK);
    char msg[768];
    int counted = 0;
    for (int n = 0; n < N; n++)
        counted += labels[n] >= 0 && labels[n] < C;
    if (reduction == CLNN_REDUCTION_MEAN && counted == 0) {
        ck_assert_msg(isnan(yf[0]), "mean over no counted label: got %g, expected NaN", yf[0]);
    } else {
        ck_assert_msg(gc_compare("loss", yf, want, &sy, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg),
                      "%s", msg);
    }
    ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(x), df, sizeof(float) * (size_t)(N * C)),
                     CLNN_OK);
    double dwant[64];
    for (int n = 0; n < N; n++) {
        const double *xr = xd + n * C;
        int ignored = labels[n] < 0 || labels[n] >= C;
        double m = xr[0], se = 0.0;
        for (int c = 1; c < C; c++)
            m = fmax(m, xr[c]);
        for (int c = 0; c < C; c++)
            se += exp(xr[c] - m);
        double dy = reduction == CLNN_REDUCTION_NONE  ? rf[n]
                    : reduction == CLNN_REDUCTION_SUM ? rf[0]
                                                      : rf[0] / counted;
        for (int c = 0; c < C; c++) {
            double target = (c == labels[n] ? 1.0 - eps : 0.0) + eps / C;
            dwant[n * C + c] = ignored ? 0.0 : dy * (exp(xr[c] - m) / se - target);
            if (ignored) /* exactly zero, even where the mean divides by no counted sample */
                ck_assert_msg(df[n * C + c] == 0.0f, "ignored sample %d (label %d): gradient %g", n,
                              labels[n], df[n * C + c]);
        }
    }
    ck_assert_msg(
        gc_compare("d logits", df, dwant, &sx, GC_GRAD_RTOL, GC_GRAD_ATOL, msg, sizeof msg), "%s",
        msg);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}

static const int32_t mixed_labels[6] = {2, -100, 4, 7, -1, 0}; /* C = 4: 4 and 7 are >= C */
static const int32_t no_labels[3] = {-100, 5, -1};

START_TEST(test_ce_ignored_labels)
{
    static const clnn_reduction reductions[3] = {CLNN_REDUCTION_MEAN, CLNN_REDUCTION_SUM,
                                                 CLNN_REDUCTION_NONE};
    check_labels(mixed_labels, 6, 4, reductions[_i], 0.0f);
    check_labels(mixed_labels, 6, 4, reductions[_i], 0.25f);
}
END_TEST

START_TEST(test_ce_no_counted_label)
{
    static const clnn_reduction reductions[3] = {CLNN_REDUCTION_MEAN, CLNN_REDUCTION_SUM,
                                                 CLNN_REDUCTION_NONE};
    check_labels(no_labels, 3, 5, reductions[_i], 0.1f);
}
END_TEST

/* ---- error paths ----------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(mse_shapes, clnn_mse_loss(g, T(2, 3), T(3, 2), MEAN))
ERR_BUILDER(mse_broadcast, clnn_mse_loss(g, T(4, 3), T(3), SUM))
ERR_BUILDER(bce_shapes, clnn_binary_crossentropy(g, T(4), T(5), NONE))
ERR_BUILDER(bce_logits_shapes, clnn_binary_crossentropy_logits(g, T(2, 3), T(2, 3, 1), MEAN))
ERR_BUILDER(cce_1d, clnn_categorical_crossentropy(g, T(6), T(6), MEAN))
ERR_BUILDER(cce_shapes, clnn_categorical_crossentropy(g, T(2, 3), T(2, 4), MEAN))
ERR_BUILDER(ce_3d, clnn_cross_entropy(g, T(2, 3, 4), I32(2), MEAN, 0.0f))
ERR_BUILDER(ce_labels_n, clnn_cross_entropy(g, T(4, 3), I32(5), MEAN, 0.0f))
ERR_BUILDER(ce_labels_2d, clnn_cross_entropy(g, T(4, 3), I32(4, 1), SUM, 0.0f))
ERR_BUILDER(ce_labels_f32, clnn_cross_entropy(g, T(4, 3), T(4), MEAN, 0.0f))
ERR_BUILDER(ce_logits_i32, clnn_cross_entropy(g, I32(4, 3), I32(4), MEAN, 0.0f))
ERR_BUILDER(ce_smoothing_1, clnn_cross_entropy(g, T(4, 3), I32(4), MEAN, 1.0f))
ERR_BUILDER(ce_smoothing_neg, clnn_cross_entropy(g, T(4, 3), I32(4), NONE, -0.1f))
ERR_BUILDER(ce_smoothing_nan, clnn_cross_entropy(g, T(4, 3), I32(4), MEAN, NAN))
ERR_BUILDER(mse_reduction, clnn_mse_loss(g, T(2), T(2), (clnn_reduction)3))
ERR_BUILDER(ce_reduction, clnn_cross_entropy(g, T(2, 2), I32(2), (clnn_reduction)-1, 0.0f))
ERR_BUILDER(mse_null, clnn_mse_loss(g, T(2), NULL, MEAN))
ERR_BUILDER(ce_null, clnn_cross_entropy(g, T(2, 2), NULL, MEAN, 0.0f))
ERR_BUILDER(bce_null, clnn_binary_crossentropy(g, NULL, T(2), MEAN))
ERR_BUILDER(mse_i32, clnn_mse_loss(g, I32(3), T(3), MEAN))
ERR_BUILDER(cce_i32_target, clnn_categorical_crossentropy(g, T(2, 3), I32(2, 3), MEAN))

static const err_case error_cases[] = {
    {"mse (2,3) vs (3,2)", mse_shapes, CLNN_ERR_SHAPE, {"mse_loss", "(2, 3)", "(3, 2)"}},
    {"mse (4,3) vs (3,): no broadcasting", mse_broadcast, CLNN_ERR_SHAPE,
     {"mse_loss", "(4, 3)", "(3,)", "same shape"}},
    {"bce (4,) vs (5,)", bce_shapes, CLNN_ERR_SHAPE, {"binary_crossentropy", "(4,)", "(5,)"}},
    {"bce_logits (2,3) vs (2,3,1)", bce_logits_shapes, CLNN_ERR_SHAPE,
     {"binary_crossentropy_logits", "(2, 3)", "(2, 3, 1)"}},
    {"cce 1-D", cce_1d, CLNN_ERR_SHAPE, {"categorical_crossentropy", "(N, C)", "(6,)"}},
    {"cce (2,3) vs (2,4)", cce_shapes, CLNN_ERR_SHAPE,
     {"categorical_crossentropy", "(2, 3)", "(2, 4)"}},
    {"ce 3-D logits", ce_3d, CLNN_ERR_SHAPE, {"cross_entropy", "(N, C)", "(2, 3, 4)"}},
    {"ce labels (5,) for (4,3)", ce_labels_n, CLNN_ERR_SHAPE, {"cross_entropy", "(4,)", "(5,)"}},
    {"ce labels (4,1)", ce_labels_2d, CLNN_ERR_SHAPE, {"cross_entropy", "(4,)", "(4, 1)"}},
    {"ce labels f32", ce_labels_f32, CLNN_ERR_INVALID, {"cross_entropy", "i32", "f32"}},
    {"ce logits i32", ce_logits_i32, CLNN_ERR_INVALID, {"cross_entropy", "f32", "logits"}},
    {"ce label_smoothing 1", ce_smoothing_1, CLNN_ERR_INVALID,
     {"cross_entropy", "label_smoothing", "[0, 1)", "got 1"}},
    {"ce label_smoothing -0.1", ce_smoothing_neg, CLNN_ERR_INVALID,
     {"cross_entropy", "label_smoothing", "-0.1"}},
    {"ce label_smoothing NaN", ce_smoothing_nan, CLNN_ERR_INVALID,
     {"cross_entropy", "label_smoothing", "nan"}},
    {"mse reduction 3", mse_reduction, CLNN_ERR_INVALID, {"mse_loss", "reduction", "got 3"}},
    {"ce reduction -1", ce_reduction, CLNN_ERR_INVALID, {"cross_entropy", "reduction", "got -1"}},
    {"mse NULL target", mse_null, CLNN_ERR_INVALID, {"mse_loss", "target", "NULL"}},
    {"ce NULL labels", ce_null, CLNN_ERR_INVALID, {"cross_entropy", "labels", "NULL"}},
    {"bce NULL probs", bce_null, CLNN_ERR_INVALID, {"binary_crossentropy", "probs", "NULL"}},
    {"mse i32 pred", mse_i32, CLNN_ERR_INVALID, {"mse_loss", "f32", "pred"}},
    {"cce i32 target", cce_i32_target, CLNN_ERR_INVALID,
     {"categorical_crossentropy", "f32", "target"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* ---- golden cases from PyTorch ----------------------------------------------------------------
 */
static int golden_count = -1; /* cases in loss.txt, counted by main before the tests fork */
static char golden_error[512];

/* |got - want| <= atol + rtol |want| for every element: the clamp cases hold gradients of 1e12
 * next to ones of 1, which the rms term of golden_check would not see */
static int check_each(const char *what, clnn_tensor *t, const golden_tensor *want, double rtol,
                      double atol, char *msg, size_t size)
{
    float *got = malloc((size_t)want->numel * sizeof *got);
    if (!got || clnn_tensor_read(t, got, (size_t)want->numel * sizeof *got) != CLNN_OK) {
        free(got);
        snprintf(msg, size, "%s: read failed", what);
        return 0;
    }
    int ok = 1;
    for (int64_t i = 0; i < want->numel && ok; i++) {
        double w = want->data[i], err = fabs((double)got[i] - w);
        if (!(err <= atol + rtol * fabs(w))) {
            snprintf(msg, size, "%s[%lld]: got %.9g, PyTorch %.9g (element-wise tolerance %g)",
                     what, (long long)i, got[i], w, atol + rtol * fabs(w));
            ok = 0;
        }
    }
    free(got);
    return ok;
}

START_TEST(test_golden)
{
    char err[512], msg[768];
    golden_file *f = golden_load("loss", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    ck_assert_int_gt(f->ncases, _i);
    const golden_case *gcase = &f->cases[_i];
    const char *name = gcase->name;
    loss_kind kind = (loss_kind)golden_int(gcase, "kind", 0, -1);
    clnn_reduction reduction = (clnn_reduction)golden_int(gcase, "reduction", 0, -1);
    float eps = (float)golden_float(gcase, "smoothing", 0, 0.0);
    const golden_tensor *gx = golden_tensor_get(gcase, "x"),
                        *gt = golden_tensor_get(gcase, "target");
    const golden_tensor *gr = golden_tensor_get(gcase, "r"), *gy = golden_tensor_get(gcase, "y");
    const golden_tensor *gdx = golden_tensor_get(gcase, "dx");
    const golden_tensor *gdt = golden_tensor_get(gcase, "dtarget");
    ck_assert_msg(gx && gt && gr && gy && gdx, "%s: a tensor is missing", name);

    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "x", gx->ndim, gx->shape);
    clnn_tensor *t = kind == L_CE ? clnn_input_i32(g, "labels", gt->ndim, gt->shape)
                     : gdt        ? clnn_param(g, "target", gt->ndim, gt->shape)
                                  : clnn_input(g, "target", gt->ndim, gt->shape);
    clnn_tensor *y = build_one(g, kind, x, t, reduction, eps);
    ck_assert_msg(y, "%s: %s", name, clnn_graph_last_error(g));
    clnn_graph_keep(g, y);
    clnn_tensor *r = clnn_input(g, "r", gr->ndim, gr->shape);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0)), CLNN_OK);
    ck_assert(golden_write(x, gx) == 0 && golden_write(t, gt) == 0 && golden_write(r, gr) == 0);
    for (int run = 1; run <= 2; run++) {
        ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s: %s", name, clnn_ctx_last_error(ctx));
        ck_assert_msg(golden_check("y", y, gy, 1e-5, 1e-6, msg, sizeof msg), "%s run %d: %s", name,
                      run, msg);
        ck_assert_msg(check_each("y", y, gy, 1e-5, 1e-6, msg, sizeof msg), "%s: %s", name, msg);
        clnn_tensor *dx = clnn_tensor_grad(x);
        ck_assert_msg(golden_check("dx", dx, gdx, 1e-4, 1e-6, msg, sizeof msg), "%s run %d: %s",
                      name, run, msg);
        ck_assert_msg(check_each("dx", dx, gdx, 1e-4, 1e-6, msg, sizeof msg), "%s: %s", name, msg);
        if (gdt) {
            clnn_tensor *dt = clnn_tensor_grad(t);
            ck_assert_msg(golden_check("dtarget", dt, gdt, 1e-4, 1e-6, msg, sizeof msg),
                          "%s run %d: %s", name, run, msg);
            ck_assert_msg(check_each("dtarget", dt, gdt, 1e-4, 1e-6, msg, sizeof msg), "%s: %s",
                          name, msg);
        }
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

START_TEST(test_golden_loaded)
{
    ck_assert_msg(golden_count > 0, "tests/golden/loss.txt: %s",
                  golden_count < 0 ? golden_error : "no cases");
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------------- */
static Suite *loss_suite(void)
{
    Suite *s = suite_create("ops_loss");
    const gc_loop loops[] = {
        {"loss", test_loss, GC_COUNT(loss_cases)},
        {"labels", test_ce_ignored_labels, 3},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, golden_count /* <= 0: no loop test */},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique);              /* loss */
    tcase_add_loop_test(tc[1], test_ce_no_counted_label, 0, 3); /* labels */
    tcase_add_test(tc[3], test_golden_loaded);                  /* golden */
    return s;
}

int main(void)
{
    /* reading a text file only (no OpenCL before check forks) */
    golden_file *f = golden_load("loss", golden_error, sizeof golden_error);
    golden_count = f ? f->ncases : -1;
    golden_free(f);
    SRunner *sr = srunner_create(loss_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
