/* test_ops_act.c — the `check` suite of the activation family: leaky_relu, elu, gelu (erf and
 * tanh forms), clnn_activate for every clnn_activation, softmax and log_softmax over any axis
 * (both kernels: a work-item per row and a work-group per row), bias_act (dense and NCHW),
 * linear (with and without bias, every activation, 1-D to 3-D inputs) and dropout.
 *   - gradcheck cases: forward against tests/ref/ref_act.c in double precision, gradients
 *     against central differences of the reference (tests/gradcheck.c);
 *   - golden cases: PyTorch's outputs and gradients (tests/golden/gen_act.py -> act.txt);
 *   - dropout: Philox4x32-10 against the Random123 known answers on the host, the device mask
 *     against the host Philox bit for bit, the dropped fraction, kept values exactly x/(1-p),
 *     replay with the same seed and run count, new masks on the next run and for other seeds,
 *     evaluation mode, and the gradient mask/(1-p) dy of the forward's own mask;
 *   - error paths: NULL, a sticky status and a message naming the op and the shapes.
 * bias_act and the activation gradients have CPU kernels (a work-item per span, eight elements per
 * step) and GPU kernels (a work-item per element): the activation and bias_act cases run on both,
 * forced by $CLNN_KERNEL_PATH on whatever device runs the tests; the NCHW bias_act cases have
 * runs of a channel long enough for the eight-wide steps of every activation.
 * Each test creates its own context (check forks every test). CK_FORK=no to debug. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_act.h"

_Static_assert(REF_ACT_NONE == (int)CLNN_ACT_NONE && REF_ACT_RELU == (int)CLNN_ACT_RELU &&
                   REF_ACT_LEAKY_RELU == (int)CLNN_ACT_LEAKY_RELU &&
                   REF_ACT_ELU == (int)CLNN_ACT_ELU && REF_ACT_SIGMOID == (int)CLNN_ACT_SIGMOID &&
                   REF_ACT_TANH == (int)CLNN_ACT_TANH && REF_ACT_GELU == (int)CLNN_ACT_GELU &&
                   REF_ACT_GELU_TANH == (int)CLNN_ACT_GELU_TANH,
               "ref_act and clnn_activation disagree");

/* ---- one build/ref pair for every gradcheck case -------------------------------------------- */
typedef enum kind {
    K_OWN,      /* clnn_leaky_relu, clnn_elu, clnn_gelu */
    K_ACTIVATE, /* clnn_activate */
    K_SOFTMAX,
    K_LOG_SOFTMAX,
    K_BIAS_ACT,
    K_LINEAR,        /* in: x, w, b */
    K_LINEAR_NOBIAS, /* in: x, w */
    K_LOGSM_LINEAR   /* log_softmax(linear(x, w, b, act), -1): a chain */
} kind;

typedef struct act_cfg {
    kind kind;
    clnn_activation act;
    float alpha;
    int axis;
} act_cfg;

static clnn_tensor *build_own(clnn_graph *g, clnn_tensor *x, const act_cfg *p)
{
    switch (p->act) {
    case CLNN_ACT_LEAKY_RELU:
        return clnn_leaky_relu(g, x, p->alpha);
    case CLNN_ACT_ELU:
        return clnn_elu(g, x, p->alpha);
    case CLNN_ACT_GELU:
        return clnn_gelu(g, x, 0);
    case CLNN_ACT_GELU_TANH:
        return clnn_gelu(g, x, 1);
    default:
        return NULL;
    }
}

static clnn_tensor *build_act(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const act_cfg *p = cfg;
    switch (p->kind) {
    case K_OWN:
        return build_own(g, in[0], p);
    case K_ACTIVATE:
        return clnn_activate(g, in[0], p->act, p->alpha);
    case K_SOFTMAX:
        return clnn_softmax(g, in[0], p->axis);
    case K_LOG_SOFTMAX:
        return clnn_log_softmax(g, in[0], p->axis);
    case K_BIAS_ACT:
        return clnn_bias_act(g, in[0], in[1], p->axis, p->act, p->alpha);
    case K_LINEAR:
        return clnn_linear(g, in[0], in[1], in[2], p->act, p->alpha);
    case K_LINEAR_NOBIAS:
        return clnn_linear(g, in[0], in[1], NULL, p->act, p->alpha);
    case K_LOGSM_LINEAR:
        return clnn_log_softmax(g, clnn_linear(g, in[0], in[1], in[2], p->act, p->alpha), -1);
    }
    return NULL;
}

static int ref_act_case(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                        ref_shape *sy)
{
    const act_cfg *p = cfg;
    ref_act act = (ref_act)p->act;
    double alpha = p->alpha; /* the f32 value the device sees */
    switch (p->kind) {
    case K_OWN:
    case K_ACTIVATE:
        *sy = s[0];
        if (y)
            ref_activation(act, alpha, in[0], ref_numel(&s[0]), y);
        return 1;
    case K_SOFTMAX:
    case K_LOG_SOFTMAX:
        return ref_softmax(p->kind == K_LOG_SOFTMAX, in[0], &s[0], p->axis, y, sy);
    case K_BIAS_ACT:
        return ref_bias_act(in[0], &s[0], in[1], &s[1], p->axis, act, alpha, y, sy);
    case K_LINEAR:
        return ref_linear(in[0], &s[0], in[1], &s[1], in[2], &s[2], act, alpha, y, sy);
    case K_LINEAR_NOBIAS:
        return ref_linear(in[0], &s[0], in[1], &s[1], NULL, NULL, act, alpha, y, sy);
    case K_LOGSM_LINEAR: {
        ref_shape sh;
        if (!ref_linear(in[0], &s[0], in[1], &s[1], in[2], &s[2], act, alpha, NULL, &sh))
            return 0;
        if (!y)
            return ref_softmax(1, NULL, &sh, -1, NULL, sy);
        double *h = malloc((size_t)ref_numel(&sh) * sizeof *h);
        int ok = h && ref_linear(in[0], &s[0], in[1], &s[1], in[2], &s[2], act, alpha, h, &sh) &&
                 ref_softmax(1, h, &sh, -1, y, sy);
        free(h);
        return ok;
    }
    }
    return 0;
}

// clang-format off
#define CFG(...) (&(const act_cfg){__VA_ARGS__})
#define CASE(name, cfg, ...) GC_CASE(name, build_act, ref_act_case, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
#define R GC_PARAM_RANGE
/* inputs of piecewise activations stay 1e-3 away from their kink at 0 (the difference step is
 * 1e-6); the pre-activations x + b of bias_act and linear are continuous random values that
 * land within 1e-6 of 0 with probability ~1e-6 per element */
#define KINK(lo_, hi_, ...) {GC_SHAPE(__VA_ARGS__), .requires_grad = 1, .lo = (lo_), .hi = (hi_),  \
                             .avoid = 1e-3}
// clang-format on
#define OWN(a, al)      CFG(.kind = K_OWN, .act = (a), .alpha = (al))
#define ACTIVATE(a, al) CFG(.kind = K_ACTIVATE, .act = (a), .alpha = (al))

/* ---- activations ------------------------------------------------------------------------------
 */
static const gc_case act_cases[] = {
    CASE("leaky_relu 0.01 (7,13)", OWN(CLNN_ACT_LEAKY_RELU, 0.01f), KINK(-3, 3, 7, 13)),
    CASE("leaky_relu 0.3 (65,)", OWN(CLNN_ACT_LEAKY_RELU, 0.3f), KINK(-3, 3, 65)),
    CASE("leaky_relu -0.5 (3,5)", OWN(CLNN_ACT_LEAKY_RELU, -0.5f), KINK(-3, 3, 3, 5)),
    CASE("elu 1 (7,13)", OWN(CLNN_ACT_ELU, 1.0f), KINK(-4, 3, 7, 13)),
    CASE("elu 0.5 (3,5,7)", OWN(CLNN_ACT_ELU, 0.5f), KINK(-4, 3, 3, 5, 7)),
    CASE("elu 1.7 (1,)", OWN(CLNN_ACT_ELU, 1.7f), KINK(-2, 2, 1)),
    CASE("gelu (7,13)", OWN(CLNN_ACT_GELU, 0), R(-5, 5, 7, 13)),
    CASE("gelu (1000,) in [-8,8)", OWN(CLNN_ACT_GELU, 0), R(-8, 8, 1000)),
    CASE("gelu_tanh (129,)", OWN(CLNN_ACT_GELU_TANH, 0), R(-5, 5, 129)),
    CASE("gelu_tanh (2,3,4,5) in [-8,8)", OWN(CLNN_ACT_GELU_TANH, 0), R(-8, 8, 2, 3, 4, 5)),
    CASE("activate none (5,3)", ACTIVATE(CLNN_ACT_NONE, 0), P(5, 3)),
    CASE("activate relu (5,3)", ACTIVATE(CLNN_ACT_RELU, 0), KINK(-2, 2, 5, 3)),
    CASE("activate leaky_relu 0.2 (5,3)", ACTIVATE(CLNN_ACT_LEAKY_RELU, 0.2f), KINK(-2, 2, 5, 3)),
    CASE("activate elu 1.3 (5,3)", ACTIVATE(CLNN_ACT_ELU, 1.3f), KINK(-2, 2, 5, 3)),
    CASE("activate sigmoid (5,3)", ACTIVATE(CLNN_ACT_SIGMOID, 0), R(-6, 6, 5, 3)),
    CASE("activate tanh (5,3)", ACTIVATE(CLNN_ACT_TANH, 0), R(-3, 3, 5, 3)),
    CASE("activate gelu (5,3)", ACTIVATE(CLNN_ACT_GELU, 0), R(-3, 3, 5, 3)),
    CASE("activate gelu_tanh (5,3)", ACTIVATE(CLNN_ACT_GELU_TANH, 0), R(-3, 3, 5, 3)),
};

/* ---- softmax and log_softmax ----------------------------------------------------------------
 * A work-item per row when rows >= 1024 or the axis has <= 64 elements, a work-group per row
 * otherwise. Logits in [80, 100) overflow fp32 exp without the max subtraction. */
#define SM(ax)  CFG(.kind = K_SOFTMAX, .axis = (ax))
#define LSM(ax) CFG(.kind = K_LOG_SOFTMAX, .axis = (ax))
static const gc_case softmax_cases[] = {
    CASE("softmax (4,7) axis -1", SM(-1), R(-3, 3, 4, 7)),
    CASE("softmax (5,3) axis 0", SM(0), R(-3, 3, 5, 3)),
    CASE("softmax (3,5,4) axis 1", SM(1), R(-3, 3, 3, 5, 4)),
    CASE("softmax (13,) axis 0", SM(0), R(-3, 3, 13)),
    CASE("softmax (3,1,4) axis 1", SM(1), P(3, 1, 4)),
    CASE("softmax (2,3,4,5) axis -3", SM(-3), R(-3, 3, 2, 3, 4, 5)),
    CASE("softmax (2,3,300) axis -1 group", SM(-1), R(-3, 3, 2, 3, 300)),
    CASE("softmax (2,150,3) axis -2 group", SM(-2), R(-3, 3, 2, 150, 3)),
    CASE("softmax (1100,66) axis 1 rows", SM(1), R(-3, 3, 1100, 66)),
    CASE("softmax (4,9) in [80,100)", SM(-1), R(80, 100, 4, 9)),
    CASE("softmax (3,70) in [80,100) group", SM(-1), R(80, 100, 3, 70)),
    CASE("log_softmax (4,7) axis -1", LSM(-1), R(-3, 3, 4, 7)),
    CASE("log_softmax (5,3) axis -2", LSM(-2), R(-3, 3, 5, 3)),
    CASE("log_softmax (3,5,4) axis 1", LSM(1), R(-3, 3, 3, 5, 4)),
    CASE("log_softmax (2,300,3) axis 1 group", LSM(1), R(-3, 3, 2, 300, 3)),
    CASE("log_softmax (1030,3) axis 0 group", LSM(0), R(-3, 3, 1030, 3)),
    CASE("log_softmax (3,70) in [-100,100) group", LSM(-1), R(-100, 100, 3, 70)),
    CASE("log_softmax (4,9) in [80,100)", LSM(1), R(80, 100, 4, 9)),
};

/* ---- bias_act: dense (axis -1), NCHW (axis 1), other axes, inputs without gradient ---------- */
#define BA(ax, a, al) CFG(.kind = K_BIAS_ACT, .axis = (ax), .act = (a), .alpha = (al))
static const gc_case bias_act_cases[] = {
    CASE("bias_act (5,7) -1 none", BA(-1, CLNN_ACT_NONE, 0), P(5, 7), P(7)),
    CASE("bias_act (5,7) -1 relu", BA(-1, CLNN_ACT_RELU, 0), P(5, 7), P(7)),
    CASE("bias_act (5,7) -1 leaky_relu", BA(-1, CLNN_ACT_LEAKY_RELU, 0.1f), P(5, 7), P(7)),
    CASE("bias_act (5,7) -1 elu", BA(-1, CLNN_ACT_ELU, 0.8f), P(5, 7), P(7)),
    CASE("bias_act (5,7) -1 sigmoid", BA(-1, CLNN_ACT_SIGMOID, 0), R(-4, 4, 5, 7), P(7)),
    CASE("bias_act (5,7) -1 tanh", BA(-1, CLNN_ACT_TANH, 0), P(5, 7), P(7)),
    CASE("bias_act (5,7) -1 gelu", BA(-1, CLNN_ACT_GELU, 0), R(-3, 3, 5, 7), P(7)),
    CASE("bias_act (5,7) -1 gelu_tanh", BA(-1, CLNN_ACT_GELU_TANH, 0), R(-3, 3, 5, 7), P(7)),
    CASE("bias_act (2,3,4,5) 1 relu", BA(1, CLNN_ACT_RELU, 0), P(2, 3, 4, 5), P(3)),
    CASE("bias_act (2,3,4,5) 1 gelu", BA(1, CLNN_ACT_GELU, 0), P(2, 3, 4, 5), P(3)),
    CASE("bias_act (2,3,4,5) 1 leaky_relu", BA(1, CLNN_ACT_LEAKY_RELU, 0.2f), P(2, 3, 4, 5), P(3)),
    CASE("bias_act (2,5,3,3) -3 none", BA(-3, CLNN_ACT_NONE, 0), P(2, 5, 3, 3), P(5)),
    CASE("bias_act (4,3) 0 sigmoid", BA(0, CLNN_ACT_SIGMOID, 0), P(4, 3), P(4)),
    CASE("bias_act (6,) 0 tanh", BA(0, CLNN_ACT_TANH, 0), P(6), P(6)),
    CASE("bias_act (3,65) -1 elu input b", BA(-1, CLNN_ACT_ELU, 1.0f), P(3, 65), X(65)),
    CASE("bias_act input x (2,3,4,5) 1 gelu_tanh", BA(1, CLNN_ACT_GELU_TANH, 0), X(2, 3, 4, 5),
         P(3)),
    CASE("bias_act (4,65,9,7) 1 tanh", BA(1, CLNN_ACT_TANH, 0), P(4, 65, 9, 7), P(65)),
    CASE("bias_act (2,4,5,7) 1 sigmoid", BA(1, CLNN_ACT_SIGMOID, 0), R(-4, 4, 2, 4, 5, 7), P(4)),
    CASE("bias_act (2,3,6,6) 1 elu", BA(1, CLNN_ACT_ELU, 0.7f), P(2, 3, 6, 6), P(3)),
    CASE("bias_act (3,2,5,5) 1 gelu_tanh", BA(1, CLNN_ACT_GELU_TANH, 0), R(-3, 3, 3, 2, 5, 5),
         P(2)),
    CASE("bias_act (2,5,17) 1 relu", BA(1, CLNN_ACT_RELU, 0), P(2, 5, 17), P(5)),
};

/* ---- linear: PyTorch Linear, every activation, with and without bias, 1-D to 3-D x ---------- */
#define LIN(a, al)    CFG(.kind = K_LINEAR, .act = (a), .alpha = (al))
#define LIN_NB(a, al) CFG(.kind = K_LINEAR_NOBIAS, .act = (a), .alpha = (al))
static const gc_case linear_cases[] = {
    CASE("linear (4,6) w(5,6) none", LIN(CLNN_ACT_NONE, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) relu", LIN(CLNN_ACT_RELU, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) leaky_relu", LIN(CLNN_ACT_LEAKY_RELU, 0.01f), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) elu", LIN(CLNN_ACT_ELU, 1.0f), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) sigmoid", LIN(CLNN_ACT_SIGMOID, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) tanh", LIN(CLNN_ACT_TANH, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) gelu", LIN(CLNN_ACT_GELU, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (4,6) w(5,6) gelu_tanh", LIN(CLNN_ACT_GELU_TANH, 0), P(4, 6), P(5, 6), P(5)),
    CASE("linear (2,3,6) w(5,6) gelu", LIN(CLNN_ACT_GELU, 0), P(2, 3, 6), P(5, 6), P(5)),
    CASE("linear (6,) w(5,6) tanh", LIN(CLNN_ACT_TANH, 0), P(6), P(5, 6), P(5)),
    CASE("linear (33,65) w(17,65) relu", LIN(CLNN_ACT_RELU, 0), P(33, 65), P(17, 65), P(17)),
    CASE("linear input x (7,9) w(3,9) elu", LIN(CLNN_ACT_ELU, 0.5f), X(7, 9), P(3, 9), P(3)),
    CASE("linear nobias (4,6) w(5,6) none", LIN_NB(CLNN_ACT_NONE, 0), P(4, 6), P(5, 6)),
    CASE("linear nobias (7,9) w(3,9) gelu_tanh", LIN_NB(CLNN_ACT_GELU_TANH, 0), P(7, 9), P(3, 9)),
    CASE("linear nobias (2,3,6) w(5,6) leaky_relu", LIN_NB(CLNN_ACT_LEAKY_RELU, 0.3f), P(2, 3, 6),
         P(5, 6)),
    CASE("linear nobias (6,) w(4,6) sigmoid", LIN_NB(CLNN_ACT_SIGMOID, 0), P(6), P(4, 6)),
    CASE("log_softmax(linear (5,8) w(70,8) gelu)",
         CFG(.kind = K_LOGSM_LINEAR, .act = CLNN_ACT_GELU), P(5, 8), P(70, 8), P(70)),
};

#define GC_TEST(fn, table)                                                                         \
    START_TEST(fn)                                                                                 \
    {                                                                                              \
        gc_run_case(&table[_i]);                                                                   \
    }                                                                                              \
    END_TEST
/* The same over 2 count loop indexes: i < count runs case i on the CPU kernels, else case
 * i - count on the GPU kernels (the variable is unset after: check may run all in one process). */
#define GC_TEST_BOTH_PATHS(fn, table)                                                              \
    START_TEST(fn)                                                                                 \
    {                                                                                              \
        setenv("CLNN_KERNEL_PATH", _i < GC_COUNT(table) ? "cpu" : "gpu", 1);                       \
        gc_run_case(&table[_i % GC_COUNT(table)]);                                                 \
        unsetenv("CLNN_KERNEL_PATH");                                                              \
    }                                                                                              \
    END_TEST
GC_TEST_BOTH_PATHS(test_act, act_cases)
GC_TEST(test_softmax, softmax_cases)
GC_TEST_BOTH_PATHS(test_bias_act, bias_act_cases)
GC_TEST(test_linear, linear_cases)

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {act_cases, softmax_cases, bias_act_cases, linear_cases};
    const int counts[] = {GC_COUNT(act_cases), GC_COUNT(softmax_cases), GC_COUNT(bias_act_cases),
                          GC_COUNT(linear_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

/* ---- golden: PyTorch's outputs and gradients (tests/golden/gen_act.py) --------------------- */
#define GOLDEN_CASES 32 /* the cases gen_act.py writes; checked against the file */

START_TEST(test_golden)
{
    char err[512], msg[1024];
    golden_file *f = golden_load("act", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    ck_assert_msg(f->ncases == GOLDEN_CASES, "act.txt has %d cases, the suite expects %d",
                  f->ncases, GOLDEN_CASES);
    const golden_case *c = &f->cases[_i];
    int code = golden_int(c, "kind", 0, -1), axis = golden_int(c, "axis", 0, 0);
    clnn_activation act = (clnn_activation)golden_int(c, "act", 0, 0);
    float alpha = (float)golden_float(c, "alpha", 0, 0.0);
    static const char *const names[3] = {"x", "w", "b"};
    const golden_tensor *in[3], *y = golden_tensor_get(c, "y"), *r = golden_tensor_get(c, "r");
    ck_assert_msg(y && r, "%s: no y or r", c->name);
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *t[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if ((in[i] = golden_tensor_get(c, names[i])))
            t[i] = clnn_param(g, names[i], in[i]->ndim, in[i]->shape);
    ck_assert_msg(t[0], "%s: no x", c->name);
    act_cfg cfg = {.act = act, .alpha = alpha, .axis = axis};
    static const kind kinds[] = {K_OWN, K_ACTIVATE, K_SOFTMAX, K_LOG_SOFTMAX, K_BIAS_ACT, K_LINEAR};
    ck_assert_msg(code >= 0 && code < 6, "%s: kind %d", c->name, code);
    cfg.kind = kinds[code] == K_LINEAR && !t[2] ? K_LINEAR_NOBIAS : kinds[code];
    clnn_tensor *args[3] = {t[0], t[1], t[2]};
    if (cfg.kind == K_BIAS_ACT) /* (x, b) */
        args[1] = t[2];
    clnn_tensor *out = build_act(g, args, &cfg);
    ck_assert_msg(out, "%s: %s", c->name, clnn_graph_last_error(g));
    clnn_graph_keep(g, out);
    clnn_tensor *rt = clnn_input(g, "r", r->ndim, r->shape);
    clnn_tensor *loss = clnn_sum(g, clnn_mul(g, out, rt), 0, NULL, 0);
    ck_assert_msg(clnn_graph_backward(g, loss) == CLNN_OK, "%s: %s", c->name,
                  clnn_graph_last_error(g));
    ck_assert_int_eq(golden_write(rt, r), 0);
    for (int i = 0; i < 3; i++)
        if (t[i])
            ck_assert_int_eq(golden_write(t[i], in[i]), 0);
    ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s: %s", c->name, clnn_ctx_last_error(ctx));
    char what[160];
    snprintf(what, sizeof what, "%s: y", c->name);
    ck_assert_msg(golden_check(what, out, y, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg), "%s", msg);
    for (int i = 0; i < 3; i++) {
        if (!t[i])
            continue;
        char key[8];
        snprintf(key, sizeof key, "d%s", names[i]);
        snprintf(what, sizeof what, "%s: %s", c->name, key);
        ck_assert_msg(golden_check(what, clnn_tensor_grad(t[i]), golden_tensor_get(c, key),
                                   GC_GRAD_RTOL, GC_GRAD_ATOL, msg, sizeof msg),
                      "%s", msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* ---- dropout -------------------------------------------------------------------------------- */
/* Random123's kat_vectors for philox4x32 with 10 rounds */
START_TEST(test_philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        ref_philox4x32_10(kat[v], kat[v] + 4, out);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == kat[v][6 + j], "vector %d word %d: got %08x, expected %08x", v,
                          j, out[j], kat[v][6 + j]);
    }
}
END_TEST

/* x (n) in [0.5, 1.5) -> y = dropout(x, p, seed), loss = sum(y r); x, r and the host copies */
typedef struct drop_graph {
    clnn_ctx *ctx;
    clnn_graph *g;
    clnn_tensor *x, *y, *r;
    int64_t n;
    float *xs, *rs, *ys, *dxs;
} drop_graph;

static void drop_make(drop_graph *d, int64_t n, float p, uint64_t seed)
{
    d->ctx = gc_ctx_create();
    d->n = n;
    ck_assert_int_eq(clnn_graph_create(d->ctx, &d->g), CLNN_OK);
    d->x = clnn_param(d->g, "x", 1, &n);
    d->r = clnn_input(d->g, "r", 1, &n);
    d->y = clnn_graph_keep(d->g, clnn_dropout(d->g, d->x, p, seed));
    clnn_tensor *loss = clnn_sum(d->g, clnn_mul(d->g, d->y, d->r), 0, NULL, 0);
    ck_assert_msg(clnn_graph_backward(d->g, loss) == CLNN_OK, "%s", clnn_graph_last_error(d->g));
    d->xs = malloc((size_t)n * sizeof(float));
    d->rs = malloc((size_t)n * sizeof(float));
    d->ys = malloc((size_t)n * sizeof(float));
    d->dxs = malloc((size_t)n * sizeof(float));
    ck_assert(d->xs && d->rs && d->ys && d->dxs);
    gc_rng rng;
    gc_rng_seed(&rng, seed ^ 0xd0d0ull);
    gc_rng_fill(&rng, d->xs, n, 0.5, 1.5, 0.0);
    gc_rng_fill(&rng, d->rs, n, -1.0, 1.0, 1e-3);
    ck_assert_int_eq(clnn_tensor_write(d->x, d->xs, (size_t)n * sizeof(float)), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(d->r, d->rs, (size_t)n * sizeof(float)), CLNN_OK);
}

/* runs once and reads y and dx */
static void drop_run(drop_graph *d)
{
    ck_assert_msg(clnn_graph_run(d->g) == CLNN_OK, "%s", clnn_ctx_last_error(d->ctx));
    size_t bytes = (size_t)d->n * sizeof(float);
    ck_assert_int_eq(clnn_tensor_read(d->y, d->ys, bytes), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(d->x), d->dxs, bytes), CLNN_OK);
}

static void drop_free(drop_graph *d)
{
    clnn_graph_destroy(d->g);
    clnn_ctx_destroy(d->ctx);
    free(d->xs);
    free(d->rs);
    free(d->ys);
    free(d->dxs);
}

/* The last run (number run) dropped exactly the host Philox's elements, kept x/(1-p) and
 * dx = mask/(1-p) r, bit for bit. Returns the number dropped. */
static int64_t drop_check(const drop_graph *d, float p, uint64_t seed, uint64_t run)
{
    const float scale = 1.0f / (1.0f - p); /* the kernel's multiplier, rounded once */
    int64_t dropped = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int want = ref_dropout_dropped(seed, run, p, i);
        dropped += want;
        float y = want ? 0.0f : d->xs[i] * scale, dx = want ? 0.0f : d->rs[i] * scale;
        ck_assert_msg(d->ys[i] == y && d->dxs[i] == dx,
                      "p %g seed %llx run %llu element %lld: y %.9g dx %.9g, expected %s: y %.9g "
                      "dx %.9g",
                      (double)p, (unsigned long long)seed, (unsigned long long)run, (long long)i,
                      d->ys[i], d->dxs[i], want ? "dropped" : "kept", y, dx);
        /* kept: within an ulp of the exact x / (1 - p) */
        if (!want)
            ck_assert(fabs(y - d->xs[i] / (1.0 - p)) <= 1.2e-7 * fabs(y));
    }
    return dropped;
}

typedef struct drop_cfg {
    int64_t n;
    float p;
    uint64_t seed;
} drop_cfg;

static const drop_cfg drop_cfgs[] = {
    {100003, 0.1f, 0xdeadbeefcafef00dull}, {10007, 0.5f, 1}, {4099, 0.9f, 42}, {5, 0.3f, 7},
    {66, 0.25f, 0x123456789abcdefull},
};

/* the mask against the host, the dropped fraction, replay, next run, evaluation mode */
START_TEST(test_dropout_mask)
{
    const drop_cfg *c = &drop_cfgs[_i];
    drop_graph d;
    drop_make(&d, c->n, c->p, c->seed);
    ck_assert_int_eq(clnn_graph_run_count(d.g), 0);
    drop_run(&d);
    int64_t k = drop_check(&d, c->p, c->seed, 0);
    /* binomial(n, p): 6 standard deviations */
    double mean = (double)c->n * c->p, sd = sqrt(mean * (1.0 - c->p));
    ck_assert_msg(fabs((double)k - mean) <= 6.0 * sd + 1.0,
                  "dropped %lld of %lld with p %g: expected %.1f +- %.1f", (long long)k,
                  (long long)c->n, (double)c->p, mean, 6.0 * sd);
    float *first = malloc((size_t)c->n * sizeof *first);
    ck_assert_ptr_nonnull(first);
    memcpy(first, d.ys, (size_t)c->n * sizeof *first);
    /* the next run draws a new mask */
    ck_assert_int_eq(clnn_graph_run_count(d.g), 1);
    drop_run(&d);
    drop_check(&d, c->p, c->seed, 1);
    int64_t differ = 0;
    for (int64_t i = 0; i < c->n; i++)
        differ += (first[i] == 0.0f) != (d.ys[i] == 0.0f);
    if (c->n >= 1000) /* expected 2 p (1 - p) n */
        ck_assert_msg(differ > c->n * c->p * (1 - c->p), "run 2 changed %lld of %lld mask bits",
                      (long long)differ, (long long)c->n);
    /* the same run count replays the same mask */
    ck_assert_int_eq(clnn_graph_set_run_count(d.g, 0), CLNN_OK);
    drop_run(&d);
    ck_assert_msg(memcmp(first, d.ys, (size_t)c->n * sizeof *first) == 0, "replay differs");
    /* evaluation mode: the identity, forward and backward */
    ck_assert_int_eq(clnn_graph_set_training(d.g, 0), CLNN_OK);
    drop_run(&d);
    for (int64_t i = 0; i < c->n; i++)
        ck_assert_msg(d.ys[i] == d.xs[i] && d.dxs[i] == d.rs[i],
                      "eval mode element %lld: y %g for x %g, dx %g for dy %g", (long long)i,
                      d.ys[i], d.xs[i], d.dxs[i], d.rs[i]);
    /* back to training: the mask of the current run count (replay 0 -> 1, eval 1 -> 2) */
    ck_assert_int_eq(clnn_graph_run_count(d.g), 2);
    ck_assert_int_eq(clnn_graph_set_training(d.g, 1), CLNN_OK);
    drop_run(&d);
    drop_check(&d, c->p, c->seed, 2);
    /* a large run count uses both counter words */
    uint64_t big = 0x100000002ull;
    ck_assert_int_eq(clnn_graph_set_run_count(d.g, big), CLNN_OK);
    drop_run(&d);
    drop_check(&d, c->p, c->seed, big);
    free(first);
    drop_free(&d);
}
END_TEST

/* seeds: equal seeds give equal masks, other seeds other masks; p = 0 is x itself */
START_TEST(test_dropout_seeds)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    const int64_t n = 4097;
    clnn_tensor *x = clnn_input(g, "x", 1, &n);
    clnn_tensor *y[3] = {clnn_dropout(g, x, 0.5f, 11), clnn_dropout(g, x, 0.5f, 12),
                         clnn_dropout(g, x, 0.5f, 11)};
    ck_assert_ptr_eq(clnn_dropout(g, x, 0.0f, 11), x);
    ck_assert_msg(y[0] && y[1] && y[2], "%s", clnn_graph_last_error(g));
    ck_assert_int_eq(clnn_tensor_fill(x, 2.0f), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    float *v[3];
    for (int k = 0; k < 3; k++) {
        v[k] = malloc((size_t)n * sizeof(float));
        ck_assert_ptr_nonnull(v[k]);
        ck_assert_int_eq(clnn_tensor_read(y[k], v[k], (size_t)n * sizeof(float)), CLNN_OK);
    }
    ck_assert_msg(memcmp(v[0], v[2], (size_t)n * sizeof(float)) == 0, "same seed, other mask");
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) {
        differ += v[0][i] != v[1][i];
        ck_assert(v[0][i] == 0.0f || v[0][i] == 4.0f);
    }
    ck_assert_msg(differ > n / 4, "seeds 11 and 12 differ at %lld of %lld elements",
                  (long long)differ, (long long)n);
    for (int k = 0; k < 3; k++)
        free(v[k]);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- error paths ---------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(leaky_null, clnn_leaky_relu(g, NULL, 0.1f))
ERR_BUILDER(elu_i32, clnn_elu(g, I32(4), 1.0f))
ERR_BUILDER(gelu_i32, clnn_gelu(g, I32(4), 1))
ERR_BUILDER(activate_99, clnn_activate(g, T(4), (clnn_activation)99, 0))
ERR_BUILDER(activate_none_null, clnn_activate(g, NULL, CLNN_ACT_NONE, 0))
ERR_BUILDER(activate_none_i32, clnn_activate(g, I32(4), CLNN_ACT_NONE, 0))
ERR_BUILDER(softmax_axis2, clnn_softmax(g, T(2, 3), 2))
ERR_BUILDER(log_softmax_axis_neg3, clnn_log_softmax(g, T(2, 3), -3))
ERR_BUILDER(softmax_null, clnn_softmax(g, NULL, 0))
ERR_BUILDER(softmax_i32, clnn_softmax(g, I32(2, 3), 1))
ERR_BUILDER(bias_act_size, clnn_bias_act(g, T(2, 3, 4, 5), T(4), 1, CLNN_ACT_RELU, 0))
ERR_BUILDER(bias_act_2d, clnn_bias_act(g, T(2, 3, 4, 5), T(1, 3), 1, CLNN_ACT_RELU, 0))
ERR_BUILDER(bias_act_axis, clnn_bias_act(g, T(2, 3, 4, 5), T(3), 4, CLNN_ACT_RELU, 0))
ERR_BUILDER(bias_act_act, clnn_bias_act(g, T(2, 3), T(3), -1, (clnn_activation)-1, 0))
ERR_BUILDER(bias_act_null_b, clnn_bias_act(g, T(2, 3), NULL, -1, CLNN_ACT_RELU, 0))
ERR_BUILDER(bias_act_i32, clnn_bias_act(g, T(2, 3), I32(3), -1, CLNN_ACT_RELU, 0))
ERR_BUILDER(linear_in, clnn_linear(g, T(4, 6), T(5, 7), NULL, CLNN_ACT_NONE, 0))
ERR_BUILDER(linear_w_1d, clnn_linear(g, T(4, 6), T(6), NULL, CLNN_ACT_NONE, 0))
ERR_BUILDER(linear_b, clnn_linear(g, T(4, 6), T(5, 6), T(4), CLNN_ACT_RELU, 0))
ERR_BUILDER(linear_act, clnn_linear(g, T(4, 6), T(5, 6), T(5), (clnn_activation)9, 0))
ERR_BUILDER(linear_null_w, clnn_linear(g, T(4, 6), NULL, NULL, CLNN_ACT_NONE, 0))
ERR_BUILDER(linear_i32, clnn_linear(g, I32(4, 6), T(5, 6), NULL, CLNN_ACT_NONE, 0))
ERR_BUILDER(dropout_1, clnn_dropout(g, T(8), 1.0f, 1))
ERR_BUILDER(dropout_neg, clnn_dropout(g, T(8), -0.1f, 1))
ERR_BUILDER(dropout_nan, clnn_dropout(g, T(8), NAN, 1))
ERR_BUILDER(dropout_null, clnn_dropout(g, NULL, 0.5f, 1))
ERR_BUILDER(dropout_i32, clnn_dropout(g, I32(8), 0.5f, 1))
ERR_BUILDER(dropout_p0_i32, clnn_dropout(g, I32(8), 0.0f, 1))

static const err_case error_cases[] = {
    {"leaky_relu NULL", leaky_null, CLNN_ERR_INVALID, {"leaky_relu", "NULL"}},
    {"elu i32", elu_i32, CLNN_ERR_INVALID, {"elu", "f32"}},
    {"gelu i32", gelu_i32, CLNN_ERR_INVALID, {"gelu_tanh", "f32"}},
    {"activate 99", activate_99, CLNN_ERR_INVALID, {"activate", "99"}},
    {"activate none NULL", activate_none_null, CLNN_ERR_INVALID, {"activate", "NULL"}},
    {"activate none i32", activate_none_i32, CLNN_ERR_INVALID, {"activate", "f32"}},
    {"softmax axis 2 of (2,3)", softmax_axis2, CLNN_ERR_INVALID, {"softmax", "axis 2", "(2, 3)"}},
    {"log_softmax axis -3", log_softmax_axis_neg3, CLNN_ERR_INVALID, {"log_softmax", "axis -3"}},
    {"softmax NULL", softmax_null, CLNN_ERR_INVALID, {"softmax", "NULL"}},
    {"softmax i32", softmax_i32, CLNN_ERR_INVALID, {"softmax", "f32"}},
    {"bias_act b (4,) for axis 1 of (2,3,4,5)", bias_act_size, CLNN_ERR_SHAPE,
     {"bias_act", "(3,)", "(4,)", "(2, 3, 4, 5)"}},
    {"bias_act b (1,3)", bias_act_2d, CLNN_ERR_SHAPE, {"bias_act", "(3,)", "(1, 3)"}},
    {"bias_act axis 4", bias_act_axis, CLNN_ERR_INVALID, {"bias_act", "axis 4", "(2, 3, 4, 5)"}},
    {"bias_act act -1", bias_act_act, CLNN_ERR_INVALID, {"bias_act", "-1"}},
    {"bias_act NULL b", bias_act_null_b, CLNN_ERR_INVALID, {"bias_act", "NULL"}},
    {"bias_act i32 b", bias_act_i32, CLNN_ERR_INVALID, {"bias_act", "f32"}},
    {"linear in 6 vs 7", linear_in, CLNN_ERR_SHAPE, {"linear", "(4, 6)", "(5, 7)"}},
    {"linear w 1-D", linear_w_1d, CLNN_ERR_SHAPE, {"linear", "(4, 6)", "(6,)"}},
    {"linear b (4,) for w (5,6)", linear_b, CLNN_ERR_SHAPE, {"linear", "(5,)", "(4,)", "(5, 6)"}},
    {"linear act 8", linear_act, CLNN_ERR_INVALID, {"linear", "8"}},
    {"linear NULL w", linear_null_w, CLNN_ERR_INVALID, {"linear", "NULL"}},
    {"linear i32 x", linear_i32, CLNN_ERR_INVALID, {"linear", "f32"}},
    {"dropout p 1", dropout_1, CLNN_ERR_INVALID, {"dropout", "[0, 1)", "got 1"}},
    {"dropout p -0.1", dropout_neg, CLNN_ERR_INVALID, {"dropout", "[0, 1)", "-0.1"}},
    {"dropout p NaN", dropout_nan, CLNN_ERR_INVALID, {"dropout", "[0, 1)", "nan"}},
    {"dropout NULL", dropout_null, CLNN_ERR_INVALID, {"dropout", "NULL"}},
    {"dropout i32", dropout_i32, CLNN_ERR_INVALID, {"dropout", "f32"}},
    {"dropout p 0 i32", dropout_p0_i32, CLNN_ERR_INVALID, {"dropout", "f32"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------------ */
static Suite *act_suite(void)
{
    Suite *s = suite_create("ops_act");
    const gc_loop loops[] = {
        {"activations", test_act, 2 * GC_COUNT(act_cases)},
        {"softmax", test_softmax, GC_COUNT(softmax_cases)},
        {"bias_act", test_bias_act, 2 * GC_COUNT(bias_act_cases)},
        {"linear", test_linear, GC_COUNT(linear_cases)},
        {"golden", test_golden, GOLDEN_CASES},
        {"dropout", test_dropout_mask, GC_COUNT(drop_cfgs)},
        {"errors", test_error, GC_COUNT(error_cases)},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique);    /* activations */
    tcase_add_test(tc[5], test_philox_known_answers); /* dropout */
    tcase_add_test(tc[5], test_dropout_seeds);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(act_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
