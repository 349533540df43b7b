/* test_ops.c — the `check` suite of the ops of include/clnn.h: every op is checked forward
 * against its double-precision host reference (tests/ref/ref_ops.c) and backward against central
 * finite differences (tests/gradcheck.c), over case tables with odd sizes (1, 3, 7, 13, 65, 129),
 * NumPy broadcasting both ways, 0-d and (1,) scalars, negative axes and a few larger shapes that
 * span many work-groups; composite graphs check gradient accumulation; error-path tests check
 * that bad shapes give NULL and a sticky status whose message names the op and the shapes; one
 * test checks that a GEMM ignores NaN left in a reused output buffer (beta = 0).
 * Each test creates its own context (check forks every test). CK_FORK=no to debug with gdb. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_act.h"

/* ---- one build/ref pair for every single-op case, parameterised by op_cfg ------------------- */
typedef enum op_kind {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_SCALE,
    OP_RELU,
    OP_SIGMOID,
    OP_TANH,
    OP_SUM,
    OP_MEAN,
    OP_EXPAND,
    OP_MATMUL,
    OP_TRANSPOSE,
    OP_RESHAPE
} op_kind;

typedef struct op_cfg {
    op_kind op;
    float alpha;                          /* scale */
    int naxes, axes[CLNN_MAX_DIMS], keep; /* sum, mean (keepdim) */
    int ndim;                             /* expand, reshape: the target shape */
    int64_t shape[CLNN_MAX_DIMS];
    int ta, tb;       /* matmul: trans_a, trans_b */
    int axis0, axis1; /* transpose */
} op_cfg;

// clang-format off
#define OP(...) (&(const op_cfg){__VA_ARGS__})
#define AXES(...) .naxes = (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), .axes = {__VA_ARGS__}
#define TO(...) GC_SHAPE(__VA_ARGS__) /* an op_cfg target shape: .ndim and .shape */
// clang-format on

static clnn_tensor *build_op(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const op_cfg *p = cfg;
    switch (p->op) {
    case OP_ADD:
        return clnn_add(g, in[0], in[1]);
    case OP_SUB:
        return clnn_sub(g, in[0], in[1]);
    case OP_MUL:
        return clnn_mul(g, in[0], in[1]);
    case OP_SCALE:
        return clnn_scale(g, in[0], p->alpha);
    case OP_RELU:
        return clnn_relu(g, in[0]);
    case OP_SIGMOID:
        return clnn_sigmoid(g, in[0]);
    case OP_TANH:
        return clnn_tanh(g, in[0]);
    case OP_SUM:
        return clnn_sum(g, in[0], p->naxes, p->axes, p->keep);
    case OP_MEAN:
        return clnn_mean(g, in[0], p->naxes, p->axes, p->keep);
    case OP_EXPAND:
        return clnn_expand(g, in[0], p->ndim, p->shape);
    case OP_MATMUL:
        return clnn_matmul(g, in[0], in[1], p->ta, p->tb);
    case OP_TRANSPOSE:
        return clnn_transpose(g, in[0], p->axis0, p->axis1);
    case OP_RESHAPE:
        return clnn_reshape(g, in[0], p->ndim, p->shape);
    }
    return NULL;
}

static int ref_op(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                  ref_shape *sy)
{
    const op_cfg *p = cfg;
    static const ref_unary_op unary[] = {[OP_SCALE] = REF_SCALE,
                                         [OP_RELU] = REF_RELU,
                                         [OP_SIGMOID] = REF_SIGMOID,
                                         [OP_TANH] = REF_TANH};
    ref_shape target = {p->ndim, {0}};
    memcpy(target.dims, p->shape, sizeof p->shape);
    switch (p->op) {
    case OP_ADD:
        return ref_binary(REF_ADD, in[0], &s[0], in[1], &s[1], y, sy);
    case OP_SUB:
        return ref_binary(REF_SUB, in[0], &s[0], in[1], &s[1], y, sy);
    case OP_MUL:
        return ref_binary(REF_MUL, in[0], &s[0], in[1], &s[1], y, sy);
    case OP_SCALE:
    case OP_RELU:
    case OP_SIGMOID:
    case OP_TANH:
        *sy = s[0];
        if (y)
            ref_unary(unary[p->op], p->alpha, in[0], ref_numel(&s[0]), y);
        return 1;
    case OP_SUM:
    case OP_MEAN:
        return ref_reduce(p->op == OP_MEAN, in[0], &s[0], p->naxes, p->axes, p->keep, y, sy);
    case OP_EXPAND:
        *sy = target;
        return ref_expand(in[0], &s[0], &target, y);
    case OP_MATMUL:
        return ref_matmul(in[0], &s[0], in[1], &s[1], p->ta, p->tb, y, sy);
    case OP_TRANSPOSE:
        return ref_transpose(in[0], &s[0], p->axis0, p->axis1, y, sy);
    case OP_RESHAPE:
        return ref_reshape(in[0], &s[0], p->ndim, p->shape, y, sy);
    }
    return 0;
}

// clang-format off
#define CASE(name, cfg, ...) GC_CASE(name, build_op, ref_op, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
#define SCALAR {.ndim = 0, .requires_grad = 1} /* a 0-d parameter */
// clang-format on

/* ---- binary ops: equal shapes, broadcasting in both directions, scalars, up to 6-D ---------- */
static const gc_case binary_cases[] = {
    CASE("add (4,3)+(4,3)", OP(.op = OP_ADD), P(4, 3), P(4, 3)),
    CASE("add (4,3)+(3,)", OP(.op = OP_ADD), P(4, 3), P(3)),
    CASE("add (3,)+(4,3)", OP(.op = OP_ADD), P(3), P(4, 3)),
    CASE("add (4,1)+(1,5)", OP(.op = OP_ADD), P(4, 1), P(1, 5)),
    CASE("add (1,)+(7,13)", OP(.op = OP_ADD), P(1), P(7, 13)),
    CASE("add ()+(4,3)", OP(.op = OP_ADD), SCALAR, P(4, 3)),
    CASE("add (65,129)+(65,129) input b", OP(.op = OP_ADD), P(65, 129), X(65, 129)),
    CASE("add (300,70)+(70,)", OP(.op = OP_ADD), P(300, 70), P(70)),
    CASE("sub (4,3)-(4,3)", OP(.op = OP_SUB), P(4, 3), P(4, 3)),
    CASE("sub (4,3)-(3,)", OP(.op = OP_SUB), P(4, 3), P(3)),
    CASE("sub (3,)-(4,3)", OP(.op = OP_SUB), P(3), P(4, 3)),
    CASE("sub (13,1,7)-(1,5,1)", OP(.op = OP_SUB), P(13, 1, 7), P(1, 5, 1)),
    CASE("sub (7,13)-(1,)", OP(.op = OP_SUB), P(7, 13), P(1)),
    CASE("sub input a (129,)-(129,)", OP(.op = OP_SUB), X(129), P(129)),
    CASE("mul (4,3)*(4,3)", OP(.op = OP_MUL), P(4, 3), P(4, 3)),
    CASE("mul (2,1,3)*(4,1)", OP(.op = OP_MUL), P(2, 1, 3), P(4, 1)),
    CASE("mul (4,1)*(2,1,3)", OP(.op = OP_MUL), P(4, 1), P(2, 1, 3)),
    CASE("mul (4,3)*(1,)", OP(.op = OP_MUL), P(4, 3), P(1)),
    CASE("mul ()*(65,)", OP(.op = OP_MUL), SCALAR, P(65)),
    CASE("mul (2,1,3,1,2,1)*(3,4,1,5)", OP(.op = OP_MUL), P(2, 1, 3, 1, 2, 1), P(3, 4, 1, 5)),
    CASE("mul (300,70)*(300,1)", OP(.op = OP_MUL), P(300, 70), P(300, 1)),
    CASE("sub (300,1)-(300,70)", OP(.op = OP_SUB), P(300, 1), P(300, 70)),
    CASE("add (5,1,40)+(3,40) rows with two outer axes", OP(.op = OP_ADD), P(5, 1, 40), P(3, 40)),
};

/* ---- one-input elementwise ops -------------------------------------------------------------- */
/* relu inputs stay 1e-3 away from the kink, far beyond the 1e-6 difference step */
// clang-format off
#define RELU_IN(...) {GC_SHAPE(__VA_ARGS__), .requires_grad = 1, .avoid = 1e-3}
// clang-format on
static const gc_case unary_cases[] = {
    CASE("scale 2.5 (7,13)", OP(.op = OP_SCALE, .alpha = 2.5f), P(7, 13)),
    CASE("scale -1 (65,)", OP(.op = OP_SCALE, .alpha = -1.0f), P(65)),
    CASE("scale 0 (3,)", OP(.op = OP_SCALE, .alpha = 0.0f), P(3)),
    CASE("scale 1e-3 (300,70)", OP(.op = OP_SCALE, .alpha = 1e-3f), P(300, 70)),
    CASE("relu (3,7)", OP(.op = OP_RELU), RELU_IN(3, 7)),
    CASE("relu (1,)", OP(.op = OP_RELU), RELU_IN(1)),
    CASE("relu (300,70)", OP(.op = OP_RELU), RELU_IN(300, 70)),
    CASE("sigmoid (13,7) in [-6,6)", OP(.op = OP_SIGMOID), GC_PARAM_RANGE(-6, 6, 13, 7)),
    /* |x| up to 40 (and 100): exp(x) overflows fp32 beyond 88, so a naive kernel gives NaN */
    CASE("sigmoid (129,) in [-40,40)", OP(.op = OP_SIGMOID), GC_PARAM_RANGE(-40, 40, 129)),
    CASE("sigmoid (3,65) in [-100,100)", OP(.op = OP_SIGMOID), GC_PARAM_RANGE(-100, 100, 3, 65)),
    CASE("sigmoid (13,) in [29,31)", OP(.op = OP_SIGMOID), GC_PARAM_RANGE(29, 31, 13)),
    /* near -30 y ~ 1e-13: relative tolerances only (atol 1e-30), so 1 - (1 - e) cancellation
     * (a kernel that computes 1 - sigmoid(-x)) would show */
    GC_CASE_TOL("sigmoid (13,) in [-31,-29) relative", build_op, ref_op, OP(.op = OP_SIGMOID), 0,
                1e-30, 0, 1e-30, GC_PARAM_RANGE(-31, -29, 13)),
    CASE("tanh (7,13) in [-3,3)", OP(.op = OP_TANH), GC_PARAM_RANGE(-3, 3, 7, 13)),
    CASE("tanh (2,3,5,7)", OP(.op = OP_TANH), P(2, 3, 5, 7)),
    CASE("tanh (300,70) in [-20,20)", OP(.op = OP_TANH), GC_PARAM_RANGE(-20, 20, 300, 70)),
};

/* ---- sum and mean: all axes, one, several, negative, keepdim; every kernel of sum.cl --------
 * Each case runs on both paths ($CLNN_KERNEL_PATH). GPU path: sum_serial runs when there are
 * >= 1024 outputs or <= 64 reduced elements, sum_partial + sum_finish else. CPU path: sum_rows
 * when the innermost axis is reduced, sum_cols when it is kept (64-column blocks, a narrower
 * last block of whole float16s and single columns); a work-item adds >= 16K elements, so only
 * the cases from ~32K elements up split a reduction into chunks (+ sum_finish): on 2 compute
 * units (65,3,29,31) gives 4 chunks that start mid-run, (700,130) 3 chunks of 234 rows of three
 * blocks, (2000,37) 7 chunks of a 37-column block; (3,200,70) puts two blocks in a work-item. */
// clang-format off
#define SUMS(kind, tag)                                                                            \
    CASE(tag " all (7,13)", OP(.op = kind), P(7, 13)),                                             \
    CASE(tag " all keepdim (7,13)", OP(.op = kind, .keep = 1), P(7, 13)),                          \
    CASE(tag " all (1,)", OP(.op = kind), P(1)),                                                   \
    CASE(tag " all ()", OP(.op = kind), SCALAR),                                                   \
    CASE(tag " axes 0,1 listed (7,13)", OP(.op = kind, AXES(1, 0)), P(7, 13)),                     \
    CASE(tag " axis 0 (65,129)", OP(.op = kind, AXES(0)), P(65, 129)),                             \
    CASE(tag " axis -1 (65,129)", OP(.op = kind, AXES(-1)), P(65, 129)),                           \
    CASE(tag " axis 1 keepdim (3,5,7)", OP(.op = kind, AXES(1), .keep = 1), P(3, 5, 7)),           \
    CASE(tag " axes 0,2 (3,5,7)", OP(.op = kind, AXES(0, 2)), P(3, 5, 7)),                         \
    CASE(tag " axes -1,-3 keepdim (2,3,4,5)", OP(.op = kind, AXES(-1, -3), .keep = 1),             \
        P(2, 3, 4, 5)),                                                                            \
    CASE(tag " axes 1,3,5 (2,3,1,4,2,3)", OP(.op = kind, AXES(1, 3, 5)), P(2, 3, 1, 4, 2, 3)),     \
    CASE(tag " axis 1 (4,300,3)", OP(.op = kind, AXES(1)), P(4, 300, 3)),                          \
    CASE(tag " axis 0 (300,70)", OP(.op = kind, AXES(0)), P(300, 70)),                             \
    CASE(tag " all (300,70)", OP(.op = kind), P(300, 70)),                                         \
    CASE(tag " axis 1 (1030,3)", OP(.op = kind, AXES(1)), P(1030, 3)),                             \
    CASE(tag " axis 0 (100,1030)", OP(.op = kind, AXES(0)), P(100, 1030)),                        \
    CASE(tag " all (129,1031)", OP(.op = kind), P(129, 1031)),                                     \
    CASE(tag " axes 0,2,3 (65,3,29,31)", OP(.op = kind, AXES(0, 2, 3)), P(65, 3, 29, 31)),         \
    CASE(tag " axis 0 (700,130)", OP(.op = kind, AXES(0)), P(700, 130)),                           \
    CASE(tag " axis 0 (2000,37)", OP(.op = kind, AXES(0)), P(2000, 37)),                           \
    CASE(tag " axis 1 (3,200,70)", OP(.op = kind, AXES(1)), P(3, 200, 70)),                        \
    CASE(tag " axes 0,2 (5,3,40,70)", OP(.op = kind, AXES(0, 2)), P(5, 3, 40, 70)),                \
    CASE(tag " axes 2,3 (64,16,26,26)", OP(.op = kind, AXES(2, 3)), X(64, 16, 26, 26))
static const gc_case reduce_cases[] = {SUMS(OP_SUM, "sum"), SUMS(OP_MEAN, "mean")};
// clang-format on

/* ---- expand: the inverse of sum over the stretched axes ------------------------------------ */
static const gc_case expand_cases[] = {
    CASE("expand (3,1)->(3,4)", OP(.op = OP_EXPAND, TO(3, 4)), P(3, 1)),
    CASE("expand (5,)->(2,3,5)", OP(.op = OP_EXPAND, TO(2, 3, 5)), P(5)),
    CASE("expand (1,)->(7,13)", OP(.op = OP_EXPAND, TO(7, 13)), P(1)),
    CASE("expand ()->(3,)", OP(.op = OP_EXPAND, TO(3)), SCALAR),
    CASE("expand (2,1,3)->(4,2,5,3)", OP(.op = OP_EXPAND, TO(4, 2, 5, 3)), P(2, 1, 3)),
    CASE("expand (4,3)->(4,3)", OP(.op = OP_EXPAND, TO(4, 3)), P(4, 3)),
    CASE("expand (1,70)->(300,70)", OP(.op = OP_EXPAND, TO(300, 70)), P(1, 70)),
};

/* ---- matmul: 2-D with all transposes, batched, shared 2-D b ---------------------------------
 * Tolerances: CLBlast sums K fp32 products in its own (tiled) order, so the error grows with K:
 * ~sqrt(K) eps for random signs, up to K eps in the worst case; the rms term of the rule covers
 * outputs that cancel. K <= 129 uses the default 1e-5. K = 300 gets 3e-5 and K = 1000 5e-5
 * (K eps = 1.8e-5 and 6e-5 bound the worst case) so that devices with other tilings or FMA
 * contraction pass too; on POCL the measured errors are 1.3e-6 and 7e-7 of the rms, and an
 * indexing or transpose bug is off by O(1). Gradients are GEMMs over M or N (<= 129 terms):
 * default 1e-4. */
#define MM(ta_, tb_) OP(.op = OP_MATMUL, .ta = ta_, .tb = tb_)
static const gc_case matmul_cases[] = {
    CASE("matmul (3,5)@(5,7)", MM(0, 0), P(3, 5), P(5, 7)),
    CASE("matmul (5,3)^T@(5,7)", MM(1, 0), P(5, 3), P(5, 7)),
    CASE("matmul (3,5)@(7,5)^T", MM(0, 1), P(3, 5), P(7, 5)),
    CASE("matmul (5,3)^T@(7,5)^T", MM(1, 1), P(5, 3), P(7, 5)),
    CASE("matmul (65,33)@(33,17)", MM(0, 0), P(65, 33), P(33, 17)),
    CASE("matmul (33,65)^T@(17,33)^T", MM(1, 1), P(33, 65), P(17, 33)),
    CASE("matmul (1,13)@(13,1)", MM(0, 0), P(1, 13), P(13, 1)),
    CASE("matmul (7,1)@(1,9)", MM(0, 0), P(7, 1), P(1, 9)),
    CASE("matmul (1,1)@(1,1)", MM(0, 0), P(1, 1), P(1, 1)),
    CASE("matmul input a (129,70)@(70,13)", MM(0, 0), X(129, 70), P(70, 13)),
    CASE("matmul (129,70)@(70,13) input b", MM(0, 0), P(129, 70), X(70, 13)),
    GC_CASE_TOL("matmul (13,300)@(300,129)^T", build_op, ref_op, MM(0, 1), 3e-5, 0, 0, 0,
                P(13, 300), P(129, 300)),
    GC_CASE_TOL("matmul (7,1000)@(1000,5)", build_op, ref_op, MM(0, 0), 5e-5, 0, 0, 0, P(7, 1000),
                P(1000, 5)),
    CASE("matmul batched (2,3,5)@(2,5,4)", MM(0, 0), P(2, 3, 5), P(2, 5, 4)),
    CASE("matmul batch 1 (1,3,5)@(1,5,4)", MM(0, 0), P(1, 3, 5), P(1, 5, 4)),
    CASE("matmul batch 1 shared b (1,5,3)^T@(5,4)", MM(1, 0), P(1, 5, 3), P(5, 4)),
    CASE("matmul batched (2,5,3)^T@(2,5,4)", MM(1, 0), P(2, 5, 3), P(2, 5, 4)),
    CASE("matmul batched (2,3,5)@(2,4,5)^T", MM(0, 1), P(2, 3, 5), P(2, 4, 5)),
    CASE("matmul batched (3,7,13)^T@(3,1,7)^T", MM(1, 1), P(3, 7, 13), P(3, 1, 7)),
    CASE("matmul batched 4-D (2,3,4,5)@(2,3,5,6)", MM(0, 0), P(2, 3, 4, 5), P(2, 3, 5, 6)),
    CASE("matmul shared b (4,3,5)@(5,7)", MM(0, 0), P(4, 3, 5), P(5, 7)),
    CASE("matmul shared b (4,5,3)^T@(5,7)", MM(1, 0), P(4, 5, 3), P(5, 7)),
    CASE("matmul shared b (4,3,5)@(7,5)^T", MM(0, 1), P(4, 3, 5), P(7, 5)),
    CASE("matmul shared b (2,3,5,3)^T@(7,5)^T", MM(1, 1), P(2, 3, 5, 3), P(7, 5)),
    CASE("matmul shared b (5,13,65)@(65,7)", MM(0, 0), P(5, 13, 65), P(65, 7)),
    /* clnn's own SGEMM (CPU devices): tiles of GEMM_TM rows x 32 columns, full and partial */
    CASE("matmul full tiles (9,40)@(40,64)", MM(0, 0), P(9, 40), P(40, 64)),
    CASE("matmul packed b^T (17,40)@(100,40)^T", MM(0, 1), P(17, 40), P(100, 40)),
    CASE("matmul batched (2,40,9)^T@(2,40,33)", MM(1, 0), P(2, 40, 9), P(2, 40, 33)),
    /* every work-item packs its panel of each batch's b into its own slice (3+ row tiles) */
    CASE("matmul batched (3,33,20)@(3,20,40)", MM(0, 0), P(3, 33, 20), P(3, 20, 40)),
};

/* ---- linear: the bias and the activation in the own SGEMM's epilogue -------------------------
 * On CPU devices clnn_linear(x, w, b, act) is one matmul node with the bias and a ReLU, sigmoid,
 * tanh, or leaky ReLU or ELU with alpha >= 0 in gemm_tile's store (softmax: the bias there, then a
 * softmax node; a negative alpha stays bias_act: the output does not give the input's sign);
 * GPUs (CLNN_GEMM=clblast when the graph is built) get matmul + bias_act. The shapes put N off a
 * multiple of 32 (a partial column tile reads the bias through a guarded copy), M off a multiple
 * of every tile height (37, 15, 11, 13 rows for GEMM_TM 4 to 12), x of rank 3 (its batch is
 * flattened into the rows) and of rank 1, and leave the bias out. Pre-activations x w^T + b are
 * continuous random values, so none lands within the difference step of the ReLU's kink. Each
 * case runs on the own kernels with GEMM_TM 8, 4 and 12 (test_linear_fused) and, in the CLBlast
 * suite, built for CLBlast and built fused but run on CLBlast (the epilogue as a pass of its own
 * after CLBlast's GEMM: test_linear_clblast). */
typedef struct lin_cfg {
    clnn_activation act;
    float alpha;
    int bias;
} lin_cfg;

/* set by test_linear_clblast: the build switches $CLNN_GEMM to clblast once the graph is built */
static int lin_run_on_clblast;

static clnn_tensor *build_linear(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const lin_cfg *p = cfg;
    clnn_tensor *y = clnn_linear(g, in[0], in[1], p->bias ? in[2] : NULL, p->act, p->alpha);
    if (lin_run_on_clblast)
        setenv("CLNN_GEMM", "clblast", 1);
    return y;
}

static int ref_linear_case(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                           ref_shape *sy)
{
    const lin_cfg *p = cfg;
    const double *b = p->bias ? in[2] : NULL;
    const ref_shape *sb = p->bias ? &s[2] : NULL;
    if (p->act != CLNN_ACT_SOFTMAX)
        return ref_linear(in[0], &s[0], in[1], &s[1], b, sb, (ref_act)p->act, p->alpha, y, sy);
    /* softmax over the last axis of the affine map */
    ref_shape sh;
    if (!ref_linear(in[0], &s[0], in[1], &s[1], b, sb, REF_ACT_NONE, 0.0, NULL, &sh))
        return 0;
    if (!y)
        return ref_softmax(0, NULL, &sh, -1, NULL, sy);
    double *h = malloc((size_t)ref_numel(&sh) * sizeof *h);
    int ok = h && ref_linear(in[0], &s[0], in[1], &s[1], b, sb, REF_ACT_NONE, 0.0, h, &sh) &&
             ref_softmax(0, h, &sh, -1, y, sy);
    free(h);
    return ok;
}

#define LINA(name, act_, alpha_, bias_, ...)                                                       \
    GC_CASE(name, build_linear, ref_linear_case,                                                   \
            (&(const lin_cfg){.act = (act_), .alpha = (alpha_), .bias = (bias_)}), __VA_ARGS__)
#define LIN(name, act_, bias_, ...) LINA(name, act_, 1.0f, bias_, __VA_ARGS__)
static const gc_case linear_cases[] = {
    LIN("linear fused (13,40) w(45,40) relu", CLNN_ACT_RELU, 1, P(13, 40), P(45, 40), P(45)),
    LIN("linear fused (37,70) w(70,70) sigmoid", CLNN_ACT_SIGMOID, 1, P(37, 70), P(70, 70), P(70)),
    LIN("linear fused (3,5,33) w(33,33) tanh", CLNN_ACT_TANH, 1, P(3, 5, 33), P(33, 33), P(33)),
    LIN("linear fused (9,16) w(100,16) none", CLNN_ACT_NONE, 1, P(9, 16), P(100, 16), P(100)),
    LIN("linear fused (24,24) w(64,24) relu full tiles", CLNN_ACT_RELU, 1, P(24, 24), P(64, 24),
        P(64)),
    LIN("linear fused input x (11,20) w(31,20) relu", CLNN_ACT_RELU, 1, X(11, 20), P(31, 20),
        P(31)),
    LIN("linear fused nobias (11,20) w(31,20) relu", CLNN_ACT_RELU, 0, P(11, 20), P(31, 20)),
    LIN("linear fused nobias (2,7,24) w(10,24) sigmoid", CLNN_ACT_SIGMOID, 0, P(2, 7, 24),
        P(10, 24)),
    LIN("linear fused nobias (6,) w(40,6) tanh", CLNN_ACT_TANH, 0, P(6), P(40, 6)),
    LIN("linear fused (2,7,24) w(10,24) softmax", CLNN_ACT_SOFTMAX, 1, P(2, 7, 24), P(10, 24),
        P(10)),
    LIN("linear fused (13,20) w(45,20) elu", CLNN_ACT_ELU, 1, P(13, 20), P(45, 20), P(45)),
    LINA("linear fused (15,40) w(50,40) elu 0.4", CLNN_ACT_ELU, 0.4f, 1, P(15, 40), P(50, 40),
         P(50)),
    LINA("linear fused (13,20) w(45,20) leaky_relu 0.2", CLNN_ACT_LEAKY_RELU, 0.2f, 1, P(13, 20),
         P(45, 20), P(45)),
    LINA("linear fused nobias (2,7,24) w(33,24) leaky_relu 0.01", CLNN_ACT_LEAKY_RELU, 0.01f, 0,
         P(2, 7, 24), P(33, 24)),
    LINA("linear unfused (13,20) w(45,20) leaky_relu -0.5", CLNN_ACT_LEAKY_RELU, -0.5f, 1,
         P(13, 20), P(45, 20), P(45)),
    LINA("linear unfused (13,20) w(45,20) elu -0.5", CLNN_ACT_ELU, -0.5f, 1, P(13, 20), P(45, 20),
         P(45)),
};
#undef LIN
#undef LINA

/* ---- transpose and reshape ------------------------------------------------------------------ */
#define TR(a0, a1) OP(.op = OP_TRANSPOSE, .axis0 = a0, .axis1 = a1)
#define RS(...)    OP(.op = OP_RESHAPE, TO(__VA_ARGS__))
static const gc_case layout_cases[] = {
    CASE("transpose 0,1 (3,5)", TR(0, 1), P(3, 5)),
    CASE("transpose -1,-2 (3,5)", TR(-1, -2), P(3, 5)),
    CASE("transpose 1,1 (3,5)", TR(1, 1), P(3, 5)),
    CASE("transpose 0,2 (2,3,4)", TR(0, 2), P(2, 3, 4)),
    CASE("transpose 0,1 (2,3,4)", TR(0, 1), P(2, 3, 4)),
    CASE("transpose 1,3 (2,3,4,5)", TR(1, 3), P(2, 3, 4, 5)),
    CASE("transpose -1,0 (2,3,4,5)", TR(-1, 0), P(2, 3, 4, 5)),
    CASE("transpose 2,5 (2,1,3,1,2,3)", TR(2, 5), P(2, 1, 3, 1, 2, 3)),
    CASE("transpose 0,1 (300,70)", TR(0, 1), P(300, 70)),
    CASE("reshape (3,4)->(12,)", RS(12), P(3, 4)),
    CASE("reshape (3,4)->(2,-1,3)", RS(2, -1, 3), P(3, 4)),
    CASE("reshape (2,3,4)->(-1,4)", RS(-1, 4), P(2, 3, 4)),
    CASE("reshape (12,)->(1,3,1,4)", RS(1, 3, 1, 4), P(12)),
    CASE("reshape (7,13)->(91,1)", RS(91, 1), P(7, 13)),
    CASE("reshape (1,)->()", OP(.op = OP_RESHAPE, .ndim = 0), P(1)),
};

/* ---- composite graphs: one tensor feeding several ops, gradients that must add up ---------- */
/* x: (N, K), w: (K, M), b: (M,) -> y = mean(tanh(x w + b)): () */
static clnn_tensor *build_mlp_mean(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    return clnn_mean(g, clnn_tanh(g, clnn_add(g, clnn_matmul(g, in[0], in[1], 0, 0), in[2])), 0,
                     NULL, 0);
}

static int ref_mlp_mean(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                        ref_shape *sy)
{
    (void)cfg;
    ref_shape sz, sh;
    if (!ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, NULL, &sz))
        return 0;
    double *z = malloc((size_t)ref_numel(&sz) * sizeof *z);
    double *h = malloc((size_t)ref_numel(&sz) * sizeof *h);
    int ok = z && h && ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, z, &sz) &&
             ref_binary(REF_ADD, z, &sz, in[2], &s[2], h, &sh);
    if (ok) {
        ref_unary(REF_TANH, 0.0, h, ref_numel(&sh), h);
        ok = ref_reduce(1, h, &sh, 0, NULL, 0, y, sy);
    }
    free(z);
    free(h);
    return ok;
}

/* x: s -> y = x * x + x: s (x feeds both inputs of mul and the add) */
static clnn_tensor *build_square_plus(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    return clnn_add(g, clnn_mul(g, in[0], in[0]), in[0]);
}

static int ref_square_plus(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                           ref_shape *sy)
{
    (void)cfg;
    *sy = s[0];
    for (int64_t i = 0, n = ref_numel(&s[0]); y && i < n; i++)
        y[i] = in[0][i] * in[0][i] + in[0][i];
    return 1;
}

/* x: (K, N) -> y = x^T x: (N, N) (x is both operands of one matmul) */
static clnn_tensor *build_gram(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    return clnn_matmul(g, in[0], in[0], 1, 0);
}

static int ref_gram(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                    ref_shape *sy)
{
    (void)cfg;
    return ref_matmul(in[0], &s[0], in[0], &s[0], 1, 0, y, sy);
}

/* x: (N, K), w: (K, M) -> y = sigmoid(x w) * relu(x w) - sum(x w, axis 1, keepdim): (N, M)
 * (the product x w feeds three ops; sub broadcasts its (N, 1) operand) */
static clnn_tensor *build_fanout(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    clnn_tensor *z = clnn_matmul(g, in[0], in[1], 0, 0);
    return clnn_sub(g, clnn_mul(g, clnn_sigmoid(g, z), clnn_relu(g, z)),
                    clnn_sum(g, z, 1, (int[]){1}, 1));
}

static int ref_fanout(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                      ref_shape *sy)
{
    (void)cfg;
    if (!ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, NULL, sy))
        return 0;
    if (!y)
        return 1;
    int64_t n = sy->dims[0], m = sy->dims[1];
    ref_matmul(in[0], &s[0], in[1], &s[1], 0, 0, y, sy);
    for (int64_t i = 0; i < n; i++) {
        double rowsum = 0.0;
        for (int64_t j = 0; j < m; j++)
            rowsum += y[i * m + j];
        for (int64_t j = 0; j < m; j++) {
            double z = y[i * m + j];
            y[i * m + j] = 1.0 / (1.0 + exp(-z)) * (z > 0.0 ? z : 0.0) - rowsum;
        }
    }
    return 1;
}

static const gc_case composite_cases[] = {
    GC_CASE("mean(tanh(x@w + b)) x (13,7) input", build_mlp_mean, ref_mlp_mean, NULL, X(13, 7),
            P(7, 5), P(5)),
    GC_CASE("mean(tanh(x@w + b)) all params", build_mlp_mean, ref_mlp_mean, NULL, P(3, 65),
            P(65, 129), P(129)),
    GC_CASE("x*x + x (7,13)", build_square_plus, ref_square_plus, NULL, P(7, 13)),
    GC_CASE("x^T x (13,7)", build_gram, ref_gram, NULL, P(13, 7)),
    GC_CASE("sigmoid(z)*relu(z) - rowsum(z), z = x@w", build_fanout, ref_fanout, NULL, P(7, 5),
            P(5, 13)),
};

/* i < count: case i on the CPU kernels (binary_bcast_rows for rows of 16+, sigmoid_span,
 * tanh_span), else case i - count on the GPU kernels */
START_TEST(test_binary)
{
    setenv("CLNN_KERNEL_PATH", _i < GC_COUNT(binary_cases) ? "cpu" : "gpu", 1);
    gc_run_case(&binary_cases[_i % GC_COUNT(binary_cases)]);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST
START_TEST(test_unary)
{
    setenv("CLNN_KERNEL_PATH", _i < GC_COUNT(unary_cases) ? "cpu" : "gpu", 1);
    gc_run_case(&unary_cases[_i % GC_COUNT(unary_cases)]);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST
/* i < count: case i on the CPU kernels, else case i - count on the GPU kernels (the variable is
 * unset after: check may run every test in one process) */
START_TEST(test_reduce)
{
    setenv("CLNN_KERNEL_PATH", _i < GC_COUNT(reduce_cases) ? "cpu" : "gpu", 1);
    gc_run_case(&reduce_cases[_i % GC_COUNT(reduce_cases)]);
    unsetenv("CLNN_KERNEL_PATH");
}
END_TEST
START_TEST(test_expand)
{
    gc_run_case(&expand_cases[_i]);
}
END_TEST
/* The own SGEMM's tile heights GEMM_TM (gemm.c takes $CLNN_GEMM_TM over the tuned value) */
static const char *const gemm_tms[] = {"8", "4", "12"};

/* case i % count with GEMM_TM gemm_tms[i / count] */
START_TEST(test_matmul)
{
    setenv("CLNN_GEMM_TM", gemm_tms[_i / GC_COUNT(matmul_cases)], 1);
    gc_run_case(&matmul_cases[_i % GC_COUNT(matmul_cases)]);
    unsetenv("CLNN_GEMM_TM");
}
END_TEST
/* The same through CLBlast, which GPUs use (CPU devices take clnn's own kernels by default) */
START_TEST(test_matmul_clblast)
{
    setenv("CLNN_GEMM", "clblast", 1);
    gc_run_case(&matmul_cases[_i]);
    unsetenv("CLNN_GEMM");
}
END_TEST
/* case i % count with GEMM_TM gemm_tms[i / count] */
START_TEST(test_linear_fused)
{
    setenv("CLNN_GEMM_TM", gemm_tms[_i / GC_COUNT(linear_cases)], 1);
    gc_run_case(&linear_cases[_i % GC_COUNT(linear_cases)]);
    unsetenv("CLNN_GEMM_TM");
}
END_TEST
/* i < count: case i built and run on CLBlast; else case i - count built for the own kernels
 * (fused) and run on CLBlast */
START_TEST(test_linear_clblast)
{
    int fused = _i >= GC_COUNT(linear_cases);
    if (fused)
        setenv("CLNN_GEMM", "own", 1);
    else
        setenv("CLNN_GEMM", "clblast", 1);
    lin_run_on_clblast = fused;
    gc_run_case(&linear_cases[_i % GC_COUNT(linear_cases)]);
    lin_run_on_clblast = 0;
    unsetenv("CLNN_GEMM");
}
END_TEST

/* Where the own SGEMM runs, linear with a bias and ReLU, sigmoid, tanh, none, or leaky ReLU or ELU
 * with alpha >= 0 is one op; with softmax two (the fused GEMM, softmax), with a negative alpha two
 * (GEMM, bias_act); on CLBlast GEMM + bias_act. */
START_TEST(test_linear_fuses)
{
    static const struct {
        clnn_activation act;
        float alpha;
        const char *gemm;
        size_t ops;
    } cases[] = {
        {CLNN_ACT_RELU, 1, "own", 1},        {CLNN_ACT_SIGMOID, 1, "own", 1},
        {CLNN_ACT_TANH, 1, "own", 1},        {CLNN_ACT_NONE, 1, "own", 1},
        {CLNN_ACT_SOFTMAX, 1, "own", 2},     {CLNN_ACT_ELU, 1, "own", 1},
        {CLNN_ACT_ELU, 0, "own", 1},         {CLNN_ACT_LEAKY_RELU, 0.3f, "own", 1},
        {CLNN_ACT_LEAKY_RELU, -1, "own", 2}, {CLNN_ACT_ELU, -0.1f, "own", 2},
        {CLNN_ACT_GELU, 0, "own", 2},        {CLNN_ACT_RELU, 1, "clblast", 2},
        {CLNN_ACT_NONE, 1, "clblast", 2},    {CLNN_ACT_LEAKY_RELU, 0.3f, "clblast", 2},
    };
    for (int i = 0; i < GC_COUNT(cases); i++) {
        setenv("CLNN_GEMM", cases[i].gemm, 1);
        clnn_ctx *ctx = gc_ctx_create();
        clnn_graph *g;
        ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
        clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){5, 7});
        clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){3, 7});
        clnn_tensor *b = clnn_param(g, "b", 1, (int64_t[]){3});
        ck_assert_ptr_nonnull(clnn_linear(g, x, w, b, cases[i].act, cases[i].alpha));
        clnn_graph_info info;
        ck_assert_int_eq(clnn_graph_info_get(g, &info), CLNN_OK);
        ck_assert_msg(info.ops == cases[i].ops,
                      "linear with activation %d (alpha %g) on the %s GEMM: %zu ops, expected %zu",
                      (int)cases[i].act, (double)cases[i].alpha, cases[i].gemm, info.ops,
                      cases[i].ops);
        clnn_graph_destroy(g);
        clnn_ctx_destroy(ctx);
        unsetenv("CLNN_GEMM");
    }
}
END_TEST

START_TEST(test_layout)
{
    gc_run_case(&layout_cases[_i]);
}
END_TEST
START_TEST(test_composite)
{
    gc_run_case(&composite_cases[_i]);
}
END_TEST

/* ---- error paths: NULL, a sticky status, and a message naming the op and the shapes -------- */
#define T   GC_T
#define I32 GC_I32

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(add_2x3_4x3, clnn_add(g, T(2, 3), T(4, 3)))
ERR_BUILDER(mul_2x1x3_4x2, clnn_mul(g, T(2, 1, 3), T(4, 2)))
ERR_BUILDER(sub_3_4, clnn_sub(g, T(3), T(4)))
ERR_BUILDER(matmul_inner, clnn_matmul(g, T(2, 3), T(4, 5), 0, 0))
ERR_BUILDER(matmul_inner_trans_b, clnn_matmul(g, T(2, 3), T(3, 5), 0, 1))
ERR_BUILDER(matmul_batch, clnn_matmul(g, T(2, 3, 4), T(3, 4, 5), 0, 0))
ERR_BUILDER(matmul_1d, clnn_matmul(g, T(3), T(3, 2), 0, 0))
ERR_BUILDER(reshape_count, clnn_reshape(g, T(2, 3), 2, (int64_t[]){4, 2}))
ERR_BUILDER(reshape_infer, clnn_reshape(g, T(2, 3), 2, (int64_t[]){-1, 4}))
ERR_BUILDER(reshape_two_infer, clnn_reshape(g, T(2, 3), 2, (int64_t[]){-1, -1}))
ERR_BUILDER(expand_2x3_4x3, clnn_expand(g, T(2, 3), 2, (int64_t[]){4, 3}))
ERR_BUILDER(expand_3_3x1, clnn_expand(g, T(3), 2, (int64_t[]){3, 1}))
ERR_BUILDER(sum_axis_2, clnn_sum(g, T(2, 3), 1, (int[]){2}, 0))
ERR_BUILDER(mean_axis_neg3, clnn_mean(g, T(2, 3), 1, (int[]){-3}, 1))
ERR_BUILDER(sum_axis_repeated, clnn_sum(g, T(2, 3), 2, (int[]){0, -2}, 0))
ERR_BUILDER(transpose_axis_2, clnn_transpose(g, T(2, 3), 0, 2))
ERR_BUILDER(add_null_a, clnn_add(g, NULL, T(2)))
ERR_BUILDER(mul_null_b, clnn_mul(g, T(2), NULL))
ERR_BUILDER(relu_null, clnn_relu(g, NULL))
ERR_BUILDER(sum_null, clnn_sum(g, NULL, 0, NULL, 0))
ERR_BUILDER(matmul_null_b, clnn_matmul(g, T(2, 2), NULL, 0, 0))
ERR_BUILDER(reshape_null, clnn_reshape(g, NULL, 1, (int64_t[]){4}))
ERR_BUILDER(expand_null, clnn_expand(g, NULL, 1, (int64_t[]){4}))
ERR_BUILDER(transpose_null, clnn_transpose(g, NULL, 0, 1))
ERR_BUILDER(add_i32, clnn_add(g, I32(4, 3), T(4, 3)))
ERR_BUILDER(relu_i32, clnn_relu(g, I32(5)))
ERR_BUILDER(mean_i32, clnn_mean(g, I32(5, 2), 0, NULL, 0))
ERR_BUILDER(matmul_i32, clnn_matmul(g, T(2, 3), I32(3, 2), 0, 0))
ERR_BUILDER(linear_bias_4, clnn_linear(g, T(2, 5), T(3, 5), T(4), CLNN_ACT_RELU, 0.0f))
ERR_BUILDER(linear_act_99, clnn_linear(g, T(2, 5), T(3, 5), T(3), (clnn_activation)99, 0.0f))
ERR_BUILDER(linear_in_6, clnn_linear(g, T(2, 6), T(3, 5), NULL, CLNN_ACT_TANH, 0.0f))

static const err_case error_cases[] = {
    {"add (2,3)+(4,3)", add_2x3_4x3, CLNN_ERR_SHAPE, {"add", "(2, 3)", "(4, 3)"}},
    {"mul (2,1,3)*(4,2)", mul_2x1x3_4x2, CLNN_ERR_SHAPE, {"mul", "(2, 1, 3)", "(4, 2)"}},
    {"sub (3,)-(4,)", sub_3_4, CLNN_ERR_SHAPE, {"sub", "(3,)", "(4,)"}},
    {"matmul (2,3)@(4,5)", matmul_inner, CLNN_ERR_SHAPE, {"matmul", "(2, 3)", "(4, 5)"}},
    {"matmul (2,3)@(3,5)^T", matmul_inner_trans_b, CLNN_ERR_SHAPE,
     {"matmul", "(2, 3)", "(3, 5)", "transposed"}},
    {"matmul batch (2,3,4)@(3,4,5)", matmul_batch, CLNN_ERR_SHAPE,
     {"matmul", "(2, 3, 4)", "(3, 4, 5)"}},
    {"matmul 1-D (3,)@(3,2)", matmul_1d, CLNN_ERR_SHAPE, {"matmul", "(3,)", "(3, 2)"}},
    {"reshape (2,3)->(4,2)", reshape_count, CLNN_ERR_SHAPE, {"reshape", "(2, 3)", "(4, 2)"}},
    {"reshape (2,3)->(-1,4)", reshape_infer, CLNN_ERR_SHAPE, {"reshape", "(2, 3)", "(-1, 4)"}},
    {"reshape (2,3)->(-1,-1)", reshape_two_infer, CLNN_ERR_SHAPE, {"reshape", "(2, 3)"}},
    {"expand (2,3)->(4,3)", expand_2x3_4x3, CLNN_ERR_SHAPE, {"expand", "(2, 3)", "(4, 3)"}},
    {"expand (3,)->(3,1)", expand_3_3x1, CLNN_ERR_SHAPE, {"expand", "(3,)", "(3, 1)"}},
    {"sum axis 2 of (2,3)", sum_axis_2, CLNN_ERR_INVALID, {"sum", "axis 2"}},
    {"mean axis -3 of (2,3)", mean_axis_neg3, CLNN_ERR_INVALID, {"mean", "axis -3"}},
    {"sum axes 0,-2 of (2,3)", sum_axis_repeated, CLNN_ERR_INVALID, {"sum", "repeated"}},
    {"transpose 0,2 of (2,3)", transpose_axis_2, CLNN_ERR_INVALID, {"transpose", "2"}},
    {"add NULL a", add_null_a, CLNN_ERR_INVALID, {"add", "NULL"}},
    {"mul NULL b", mul_null_b, CLNN_ERR_INVALID, {"mul", "NULL"}},
    {"relu NULL", relu_null, CLNN_ERR_INVALID, {"relu", "NULL"}},
    {"sum NULL", sum_null, CLNN_ERR_INVALID, {"sum", "NULL"}},
    {"matmul NULL b", matmul_null_b, CLNN_ERR_INVALID, {"matmul", "NULL"}},
    {"reshape NULL", reshape_null, CLNN_ERR_INVALID, {"reshape", "NULL"}},
    {"expand NULL", expand_null, CLNN_ERR_INVALID, {"expand", "NULL"}},
    {"transpose NULL", transpose_null, CLNN_ERR_INVALID, {"transpose", "NULL"}},
    {"add i32 + f32", add_i32, CLNN_ERR_INVALID, {"add", "f32"}},
    {"relu i32", relu_i32, CLNN_ERR_INVALID, {"relu", "f32"}},
    {"mean i32", mean_i32, CLNN_ERR_INVALID, {"mean", "f32"}},
    {"matmul f32 @ i32", matmul_i32, CLNN_ERR_INVALID, {"matmul", "f32"}},
    {"linear b (4,) for w (3,5)", linear_bias_4, CLNN_ERR_SHAPE, {"linear", "(3, 5)", "(4,)"}},
    {"linear activation 99", linear_act_99, CLNN_ERR_INVALID, {"linear", "99"}},
    {"linear x (2,6) w (3,5)", linear_in_6, CLNN_ERR_SHAPE, {"linear", "(2, 6)", "(3, 5)"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* The first error sticks: later builders return NULL (even with valid inputs) without replacing
 * it, backward and run report it, and clearing it makes the graph usable again. */
START_TEST(test_first_error_sticks)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = T(2, 3), *b = T(4, 3), *w = T(3, 5);
    ck_assert_ptr_nonnull(a);
    clnn_tensor *y = clnn_tanh(g, clnn_matmul(g, clnn_add(g, a, b), w, 0, 0));
    ck_assert_ptr_null(y);
    char first[512];
    snprintf(first, sizeof first, "%s", clnn_graph_last_error(g));
    ck_assert_msg(strstr(first, "add") && strstr(first, "(4, 3)"), "first error '%s'", first);
    ck_assert_int_eq(clnn_graph_status(g), CLNN_ERR_SHAPE);
    /* valid builders and other errors leave the first error in place */
    ck_assert_ptr_null(clnn_relu(g, a));
    ck_assert_ptr_null(clnn_reshape(g, a, 2, (int64_t[]){5, 5}));
    ck_assert_ptr_null(clnn_sum(g, a, 1, (int[]){7}, 0));
    ck_assert_ptr_null(clnn_param(g, "p", 1, (int64_t[]){3}));
    ck_assert_ptr_null(clnn_relu(g, NULL));
    ck_assert_int_eq(clnn_graph_status(g), CLNN_ERR_SHAPE);
    ck_assert_str_eq(clnn_graph_last_error(g), first);
    ck_assert_int_eq(clnn_graph_backward(g, y), CLNN_ERR_SHAPE);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_ERR_SHAPE);
    ck_assert_str_eq(clnn_graph_last_error(g), first);
    clnn_graph_clear_error(g);
    ck_assert_int_eq(clnn_graph_status(g), CLNN_OK);
    ck_assert_ptr_nonnull(clnn_relu(g, a));
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- GEMM into a reused buffer that holds NaN: beta = 0 must not read C --------------------
 * u * v with u = +inf and v = 0 fills an intermediate with NaN; it dies after sum(u * v), and
 * the matmul result (same size) gets its buffer from the plan (checked with clnn_graph_info).
 * 0 * NaN is NaN, so a GEMM that computes alpha AB + beta C with beta = 0 would fail here. */
typedef struct nan_case {
    int batch; /* 0: 2-D */
    int64_t m, k, n;
    int ta, tb;
} nan_case;

static const nan_case nan_cases[] = {
    {0, 65, 33, 17, 0, 0}, {0, 65, 33, 17, 1, 1}, {0, 129, 70, 65, 0, 1},
    {3, 13, 7, 5, 0, 0},   {3, 13, 7, 5, 1, 0},
};

static clnn_tensor *input_of(clnn_graph *g, const char *name, int batch, int64_t r, int64_t c,
                             ref_shape *s)
{
    *s = batch ? (ref_shape){3, {batch, r, c}} : (ref_shape){2, {r, c}};
    return clnn_input(g, name, s->ndim, s->dims);
}

static void fill_random(clnn_tensor *t, double *host, gc_rng *rng)
{
    int64_t n = clnn_tensor_numel(t);
    float *f = malloc((size_t)n * sizeof *f);
    ck_assert_ptr_nonnull(f);
    gc_rng_fill(rng, f, n, -1.0, 1.0, 0.0);
    for (int64_t i = 0; i < n; i++)
        host[i] = f[i];
    ck_assert_int_eq(clnn_tensor_write(t, f, (size_t)n * sizeof *f), CLNN_OK);
    free(f);
}

static void gemm_nan_case(const nan_case *c, int _i);

START_TEST(test_gemm_ignores_nan_in_output)
{
    gemm_nan_case(&nan_cases[_i], _i);
}
END_TEST
START_TEST(test_gemm_nan_clblast)
{
    setenv("CLNN_GEMM", "clblast", 1);
    gemm_nan_case(&nan_cases[_i], _i);
}
END_TEST

static void gemm_nan_case(const nan_case *c, int _i)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    ref_shape sa, sb, sy;
    clnn_tensor *a = input_of(g, "a", c->batch, c->ta ? c->k : c->m, c->ta ? c->m : c->k, &sa);
    clnn_tensor *b = input_of(g, "b", c->batch, c->tb ? c->n : c->k, c->tb ? c->k : c->n, &sb);
    clnn_tensor *u = input_of(g, "u", c->batch, c->m, c->n, &sy);
    clnn_tensor *v = input_of(g, "v", c->batch, c->m, c->n, &sy);
    clnn_tensor *nan_sum = clnn_sum(g, clnn_mul(g, u, v), 0, NULL, 0);
    clnn_tensor *y = clnn_scale(g, clnn_matmul(g, a, b, c->ta, c->tb), 1.0f);
    ck_assert_msg(y && nan_sum, "building: %s", clnn_graph_last_error(g));
    ck_assert_int_eq(clnn_graph_plan(g), CLNN_OK);
    clnn_graph_info info;
    ck_assert_int_eq(clnn_graph_info_get(g, &info), CLNN_OK);
    uint64_t bytes = (uint64_t)ref_numel(&sy) * sizeof(float);
    ck_assert_msg(info.unshared_bytes == 2 * bytes && info.planned_bytes == bytes,
                  "expected the matmul result to reuse the NaN buffer: planned %llu bytes, "
                  "unshared %llu, one buffer %llu",
                  (unsigned long long)info.planned_bytes, (unsigned long long)info.unshared_bytes,
                  (unsigned long long)bytes);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("nan") + (uint64_t)_i);
    double *ha = malloc((size_t)ref_numel(&sa) * sizeof *ha);
    double *hb = malloc((size_t)ref_numel(&sb) * sizeof *hb);
    double *want = malloc((size_t)ref_numel(&sy) * sizeof *want);
    float *got = malloc((size_t)bytes);
    ck_assert(ha && hb && want && got);
    fill_random(a, ha, &rng);
    fill_random(b, hb, &rng);
    ck_assert(ref_matmul(ha, &sa, hb, &sb, c->ta, c->tb, want, &sy));
    ck_assert_int_eq(clnn_tensor_fill(u, INFINITY), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_fill(v, 0.0f), CLNN_OK);
    for (int run = 1; run <= 2; run++) {
        ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
        float s;
        ck_assert_int_eq(clnn_tensor_read(nan_sum, &s, sizeof s), CLNN_OK);
        ck_assert_msg(isnan(s), "run %d: sum(inf * 0) = %g, expected NaN", run, s);
        ck_assert_int_eq(clnn_tensor_read(y, got, (size_t)bytes), CLNN_OK);
        char msg[768];
        int ok = gc_compare("y", got, want, &sy, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg);
        ck_assert_msg(ok, "case %d (batch %d, %lldx%lldx%lld, trans %d%d), run %d: %s", _i,
                      c->batch, (long long)c->m, (long long)c->k, (long long)c->n, c->ta, c->tb,
                      run, msg);
    }
    free(ha);
    free(hb);
    free(want);
    free(got);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}

/* A tuner switches the own SGEMM's GEMM_TM between runs of a graph: each GEMM node makes its
 * kernels again from the gemm.cl variant of the new value (one program more per new value, none
 * for a value seen before) and the results stay right: x (37, 40), w (45, 40), b (45) ->
 * relu(x w^T + b) (the fused epilogue on a packed B^T) and x^T x (trans_a, 40 rows). */
START_TEST(test_gemm_tm_switch)
{
    setenv("CLNN_GEMM", "own", 1);
    setenv("CLNN_GEMM_TM", "8", 1);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    enum { M = 37, K = 40, N = 45 };
    clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){M, K});
    clnn_tensor *w = clnn_input(g, "w", 2, (int64_t[]){N, K});
    clnn_tensor *b = clnn_input(g, "b", 1, (int64_t[]){N});
    clnn_tensor *y = clnn_graph_keep(g, clnn_linear(g, x, w, b, CLNN_ACT_RELU, 0.0f));
    clnn_tensor *gram = clnn_graph_keep(g, clnn_matmul(g, x, x, 1, 0));
    ck_assert_msg(y && gram, "%s", clnn_graph_last_error(g));
    ck_assert_int_eq(clnn_graph_plan(g), CLNN_OK);
    static double hx[M * K], hw[N * K], hb[N], want_y[M * N], want_gram[K * K];
    static float got_y[M * N], got_gram[K * K];
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("gemm_tm_switch"));
    fill_random(x, hx, &rng);
    fill_random(w, hw, &rng);
    fill_random(b, hb, &rng);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double z = hb[n];
            for (int k = 0; k < K; k++)
                z += hx[m * K + k] * hw[n * K + k];
            want_y[m * N + n] = z > 0.0 ? z : 0.0;
        }
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double z = 0.0;
            for (int m = 0; m < M; m++)
                z += hx[m * K + i] * hx[m * K + j];
            want_gram[i * K + j] = z;
        }
    const ref_shape sy = {2, {M, N}}, sg = {2, {K, K}};
    static const struct {
        const char *tm;
        unsigned new_programs;
    } steps[] = {{"8", 0}, {"12", 1}, {"4", 1}, {"8", 0}, {"7", 0} /* not valid: 8 */};
    clnn_ctx_stats before = {0}, after;
    for (int i = 0; i < GC_COUNT(steps); i++) {
        setenv("CLNN_GEMM_TM", steps[i].tm, 1);
        ck_assert_int_eq(clnn_ctx_stats_get(ctx, &before), CLNN_OK);
        ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "GEMM_TM %s: %s", steps[i].tm,
                      clnn_ctx_last_error(ctx));
        ck_assert_int_eq(clnn_ctx_stats_get(ctx, &after), CLNN_OK);
        unsigned made = after.programs_from_source + after.programs_from_cache -
                        before.programs_from_source - before.programs_from_cache;
        if (i > 0) /* the first run also builds the programs of the graph's other ops */
            ck_assert_msg(made == steps[i].new_programs,
                          "GEMM_TM %s after %s: %u programs made, expected %u", steps[i].tm,
                          steps[i - 1].tm, made, steps[i].new_programs);
        ck_assert_int_eq(clnn_tensor_read(y, got_y, sizeof got_y), CLNN_OK);
        ck_assert_int_eq(clnn_tensor_read(gram, got_gram, sizeof got_gram), CLNN_OK);
        char msg[768];
        ck_assert_msg(gc_compare("relu(x w^T + b)", got_y, want_y, &sy, GC_FWD_RTOL, GC_FWD_ATOL,
                                 msg, sizeof msg),
                      "GEMM_TM %s: %s", steps[i].tm, msg);
        ck_assert_msg(gc_compare("x^T x", got_gram, want_gram, &sg, GC_FWD_RTOL, GC_FWD_ATOL, msg,
                                 sizeof msg),
                      "GEMM_TM %s: %s", steps[i].tm, msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_GEMM_TM");
    unsetenv("CLNN_GEMM");
}
END_TEST

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {binary_cases, unary_cases,  reduce_cases, expand_cases,
                                     matmul_cases, linear_cases, layout_cases, composite_cases};
    const int counts[] = {GC_COUNT(binary_cases), GC_COUNT(unary_cases),    GC_COUNT(reduce_cases),
                          GC_COUNT(expand_cases), GC_COUNT(matmul_cases),   GC_COUNT(linear_cases),
                          GC_COUNT(layout_cases), GC_COUNT(composite_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

/* ---- golden: PyTorch's numbers (tests/golden/core.txt from gen_core.py) ---------------------- */
#define CORE_GOLDEN_CASES 18

/* The op of a golden case (codes in gen_core.py) applied to a [and b]. */
static clnn_tensor *golden_op(clnn_graph *g, const golden_case *c, clnn_tensor *a, clnn_tensor *b)
{
    int axes[CLNN_MAX_DIMS], n = 0;
    while (n < CLNN_MAX_DIMS && golden_int(c, "axes", n, -99) != -99) {
        axes[n] = golden_int(c, "axes", n, 0);
        n++;
    }
    int keepdim = golden_int(c, "keepdim", 0, 0);
    int64_t shape[CLNN_MAX_DIMS];
    switch (golden_int(c, "op", 0, -1)) {
    case 0:
        return clnn_add(g, a, b);
    case 1:
        return clnn_sub(g, a, b);
    case 2:
        return clnn_mul(g, a, b);
    case 3:
        return clnn_scale(g, a, (float)golden_float(c, "alpha", 0, 1.0));
    case 4:
        return clnn_relu(g, a);
    case 5:
        return clnn_sigmoid(g, a);
    case 6:
        return clnn_tanh(g, a);
    case 7:
        return clnn_sum(g, a, n, n ? axes : NULL, keepdim);
    case 8:
        return clnn_mean(g, a, n, n ? axes : NULL, keepdim);
    case 9:
        return clnn_matmul(g, a, b, golden_int(c, "trans", 0, 0), golden_int(c, "trans", 1, 0));
    case 10:
        return clnn_transpose(g, a, axes[0], axes[1]);
    case 11:
        for (int i = 0; i < n; i++)
            shape[i] = axes[i];
        return clnn_expand(g, a, n, shape);
    }
    return NULL;
}

START_TEST(test_golden)
{
    char err[512], msg[1024], what[160];
    golden_file *f = golden_load("core", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    ck_assert_msg(f->ncases == CORE_GOLDEN_CASES, "core.txt has %d cases, the suite expects %d",
                  f->ncases, CORE_GOLDEN_CASES);
    const golden_case *c = &f->cases[_i];
    const golden_tensor *ga = golden_tensor_get(c, "a"), *gb = golden_tensor_get(c, "b");
    const golden_tensor *y = golden_tensor_get(c, "y"), *r = golden_tensor_get(c, "r");
    ck_assert_msg(ga && y && r, "%s: no a, y or r", c->name);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = clnn_param(g, "a", ga->ndim, ga->shape);
    clnn_tensor *b = gb ? clnn_param(g, "b", gb->ndim, gb->shape) : NULL;
    clnn_tensor *out = clnn_graph_keep(g, golden_op(g, c, a, b));
    clnn_tensor *rt = clnn_input(g, "r", r->ndim, r->shape);
    clnn_tensor *loss = clnn_sum(g, clnn_mul(g, out, rt), 0, NULL, 0);
    ck_assert_msg(clnn_graph_backward(g, loss) == CLNN_OK, "%s: %s", c->name,
                  clnn_graph_last_error(g));
    ck_assert_int_eq(golden_write(a, ga), 0);
    if (b)
        ck_assert_int_eq(golden_write(b, gb), 0);
    ck_assert_int_eq(golden_write(rt, r), 0);
    ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s: %s", c->name, clnn_ctx_last_error(ctx));
    snprintf(what, sizeof what, "%s: y", c->name);
    ck_assert_msg(golden_check(what, out, y, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg), "%s", msg);
    snprintf(what, sizeof what, "%s: da", c->name);
    ck_assert_msg(golden_check(what, clnn_tensor_grad(a), golden_tensor_get(c, "da"), GC_GRAD_RTOL,
                               GC_GRAD_ATOL, msg, sizeof msg),
                  "%s", msg);
    if (b) {
        snprintf(what, sizeof what, "%s: db", c->name);
        ck_assert_msg(golden_check(what, clnn_tensor_grad(b), golden_tensor_get(c, "db"),
                                   GC_GRAD_RTOL, GC_GRAD_ATOL, msg, sizeof msg),
                      "%s", msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------------ */
/* The cases that force CLBlast (what GPUs run) run as a test of their own, `test_ops clblast`
 * (test_ops_clblast in tests/meson.build): LeakSanitizer's stop-the-world tracer crashes at the
 * exit of processes that ran CLBlast's kernels on POCL ("Tracer caught signal 11"), so the
 * sanitizer suite runs that test without leak detection and the rest of test_ops with it. */
static Suite *ops_suite(int clblast)
{
    Suite *s = suite_create(clblast ? "ops_clblast" : "ops");
    if (clblast) {
        const gc_loop loops[] = {
            {"matmul clblast", test_matmul_clblast, GC_COUNT(matmul_cases)},
            {"gemm_nan clblast", test_gemm_nan_clblast, GC_COUNT(nan_cases)},
            {"linear clblast", test_linear_clblast, 2 * GC_COUNT(linear_cases)},
        };
        TCase *tc[GC_COUNT(loops)];
        gc_add_loops(s, loops, GC_COUNT(loops), tc);
        return s;
    }
    const gc_loop loops[] = {
        {"binary", test_binary, 2 * GC_COUNT(binary_cases)},
        {"unary", test_unary, 2 * GC_COUNT(unary_cases)},
        {"reduce", test_reduce, 2 * GC_COUNT(reduce_cases)},
        {"expand", test_expand, GC_COUNT(expand_cases)},
        {"matmul", test_matmul, 3 * GC_COUNT(matmul_cases)},
        {"linear fused", test_linear_fused, 3 * GC_COUNT(linear_cases)},
        {"layout", test_layout, GC_COUNT(layout_cases)},
        {"composite", test_composite, GC_COUNT(composite_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"gemm_nan", test_gemm_ignores_nan_in_output, GC_COUNT(nan_cases)},
        {"golden", test_golden, CORE_GOLDEN_CASES},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique);  /* binary */
    tcase_add_test(tc[4], test_gemm_tm_switch);     /* matmul */
    tcase_add_test(tc[5], test_linear_fuses);       /* linear fused */
    tcase_add_test(tc[8], test_first_error_sticks); /* errors */
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr = srunner_create(ops_suite(argc > 1 && !strcmp(argv[1], "clblast")));
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
