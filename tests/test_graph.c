/* test_graph.c — the "graph" check suite: building graphs (leaves, constants, bound caller-owned
 * tensors), the sticky first error of builders, backward (scalar loss, once per graph, gradients
 * recomputed by every run), the memory planner (buffers shared along a long chain, kept values
 * readable, non-kept ones refused), re-planning, repeated runs and the absence of leaks over many
 * graphs. Op numerics against host references and gradient checks are in test_ops.c. Every test
 * makes its own OpenCL context: check forks each test, and OpenCL must not be initialised before
 * the fork. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "test_util.h"

static clnn_graph *make_graph(clnn_ctx *ctx)
{
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    ck_assert_msg(g != NULL, "clnn_graph_create: got NULL, expected a graph");
    return g;
}

static uint64_t device_bytes(const clnn_ctx *ctx)
{
    clnn_ctx_stats s;
    EXPECT_ST(ctx, clnn_ctx_stats_get(ctx, &s), CLNN_OK);
    return s.device_bytes_allocated;
}

/* Reads n floats of t and compares them with want (absolute tolerance tol). */
static void expect_values(clnn_ctx *ctx, clnn_tensor *t, const double *want, int n, double tol,
                          const char *what)
{
    float *got = malloc((size_t)n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    EXPECT_ST(ctx, clnn_tensor_read(t, got, (size_t)n * sizeof *got), CLNN_OK);
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol, "%s[%d]: got %.8g, expected %.8g", what, i,
                      (double)got[i], want[i]);
    free(got);
}

/* ---- building and the sticky error ------------------------------------------------------ */
START_TEST(test_create)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    ck_assert_msg(!strcmp(clnn_graph_last_error(g), ""), "error of a new graph: got \"%s\"",
                  clnn_graph_last_error(g));
    clnn_graph_info info;
    EXPECT_ST(ctx, clnn_graph_info_get(g, &info), CLNN_OK);
    ck_assert_msg(info.nodes == 0 && info.ops == 0,
                  "an empty graph: got %zu nodes %zu ops, expected 0 0", info.nodes, info.ops);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK); /* nothing to do */
    EXPECT_ST(ctx, clnn_graph_info_get(NULL, &info), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_graph_info_get(g, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_graph_create(ctx, NULL), CLNN_ERR_INVALID);
    clnn_graph *none = NULL;
    EXPECT_ST(ctx, clnn_graph_create(NULL, &none), CLNN_ERR_INVALID);
    clnn_graph_destroy(g);
    clnn_graph_destroy(NULL); /* a no-op */
    /* NULL graphs: builders return NULL, calls return CLNN_ERR_INVALID */
    ck_assert_msg(clnn_input(NULL, "x", 1, (int64_t[]){2}) == NULL, "input on NULL: got a tensor");
    ck_assert_msg(clnn_relu(NULL, NULL) == NULL, "relu on NULL: got a tensor");
    EXPECT_ST(ctx, clnn_graph_run(NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_graph_plan(NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_graph_backward(NULL, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_graph_status(NULL), CLNN_ERR_INVALID);
    clnn_graph_clear_error(NULL);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_sticky_error)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){2, 3});
    clnn_tensor *b = clnn_input(g, "b", 2, (int64_t[]){4, 3});
    ck_assert_msg(a && b, "inputs: got NULL, expected tensors");
    ck_assert_msg(clnn_add(g, a, b) == NULL,
                  "add of (2, 3) and (4, 3): got a tensor, expected NULL");
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_ERR_SHAPE);
    char first[1024];
    snprintf(first, sizeof first, "%s", clnn_graph_last_error(g));
    EXPECT_CONTAINS(first, "add");
    EXPECT_CONTAINS(first, "(2, 3)");
    EXPECT_CONTAINS(first, "(4, 3)");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(4, 3)");
    /* later builders return NULL, even with good inputs, and keep the first error */
    ck_assert_msg(clnn_relu(g, a) == NULL, "relu after an error: got a tensor, expected NULL");
    ck_assert_msg(clnn_matmul(g, a, a, 0, 0) == NULL, "matmul after an error: got a tensor");
    ck_assert_msg(clnn_input(g, "c", 1, (int64_t[]){3}) == NULL,
                  "input after an error: got a tensor");
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_ERR_SHAPE);
    ck_assert_msg(!strcmp(clnn_graph_last_error(g), first),
                  "error after more builders: got \"%s\", expected the first \"%s\"",
                  clnn_graph_last_error(g), first);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_ERR_SHAPE);
    EXPECT_ST(ctx, clnn_graph_plan(g), CLNN_ERR_SHAPE);
    EXPECT_ST(ctx, clnn_graph_backward(g, a), CLNN_ERR_SHAPE);
    /* cleared: the graph builds and runs again */
    clnn_graph_clear_error(g);
    EXPECT_ST(ctx, clnn_graph_status(g), CLNN_OK);
    ck_assert_msg(!strcmp(clnn_graph_last_error(g), ""), "error after clear: got \"%s\"",
                  clnn_graph_last_error(g));
    clnn_tensor *r = clnn_relu(g, a);
    ck_assert_msg(r != NULL, "relu after clear: got NULL: %s", clnn_graph_last_error(g));
    float in[6] = {-1, 2, -3, 4, -5, 6};
    EXPECT_ST(ctx, clnn_tensor_write(a, in, sizeof in), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, r, (double[]){0, 2, 0, 4, 0, 6}, 6, 0, "relu");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* A builder given bad inputs returns NULL and records CLNN_ERR_INVALID naming the op. */
START_TEST(test_bad_inputs)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx), *other = make_graph(ctx);
    clnn_tensor *a = clnn_input(g, "a", 1, (int64_t[]){3});
    clnn_tensor *foreign = clnn_input(other, "foreign", 1, (int64_t[]){3});
    clnn_tensor *owned = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){3}, &owned), CLNN_OK);
    struct {
        const char *what, *says;
        clnn_tensor *(*build)(clnn_graph *, clnn_tensor *, clnn_tensor *);
        clnn_tensor *x, *y;
    } cases[] = {
        {"add(a, NULL)", "add", clnn_add, a, NULL},
        {"mul(NULL, a)", "mul", clnn_mul, NULL, a},
        {"sub(a, foreign)", "not a node of this graph", clnn_sub, a, foreign},
        {"add(owned, a)", "clnn_graph_bind", clnn_add, owned, a},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clnn_tensor *t = cases[i].build(g, cases[i].x, cases[i].y);
        ck_assert_msg(t == NULL, "%s: got a tensor, expected NULL", cases[i].what);
        ck_assert_msg(clnn_graph_status(g) == CLNN_ERR_INVALID,
                      "%s: got %s, expected CLNN_ERR_INVALID", cases[i].what,
                      clnn_status_name(clnn_graph_status(g)));
        EXPECT_CONTAINS(clnn_graph_last_error(g), cases[i].says);
        clnn_graph_clear_error(g);
    }
    ck_assert_msg(clnn_relu(g, NULL) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "relu(NULL): got %s, expected NULL and CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    ck_assert_msg(clnn_sum(g, NULL, 0, NULL, 0) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "sum(NULL): got %s, expected CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    ck_assert_msg(clnn_graph_keep(g, foreign) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "keep of another graph's tensor: got %s, expected CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    ck_assert_msg(clnn_graph_keep(g, NULL) == NULL && clnn_graph_status(g) == CLNN_OK,
                  "keep(NULL): got %s, expected NULL passed through",
                  clnn_status_name(clnn_graph_status(g)));
    /* bad leaf shapes */
    ck_assert_msg(clnn_input(g, "x", 7, (int64_t[]){1, 1, 1, 1, 1, 1, 1}) == NULL &&
                      clnn_graph_status(g) == CLNN_ERR_SHAPE,
                  "input of 7 dims: got %s, expected CLNN_ERR_SHAPE",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    ck_assert_msg(clnn_param(g, "w", 2, (int64_t[]){3, 0}) == NULL &&
                      clnn_graph_status(g) == CLNN_ERR_SHAPE,
                  "param with a 0 dim: got %s, expected CLNN_ERR_SHAPE",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    static const int64_t big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    clnn_tensor *huge = clnn_input(g, "huge", 2, big);
    ck_assert_msg(huge == NULL && clnn_graph_status(g) != CLNN_OK,
                  "input of 2^80 elements: got %s with numel %lld, expected an error",
                  clnn_status_name(clnn_graph_status(g)), (long long)clnn_tensor_numel(huge));
    clnn_graph_clear_error(g);
    /* binding */
    ck_assert_msg(clnn_graph_bind(g, NULL, 0) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "bind(NULL): got %s, expected CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    ck_assert_msg(clnn_graph_bind(g, a, 0) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "bind of a graph tensor: got %s, expected CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_clear_error(g);
    clnn_tensor_destroy(owned);
    clnn_graph_destroy(g);
    clnn_graph_destroy(other);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- backward ----------------------------------------------------------------------------- */
START_TEST(test_backward_errors)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx), *other = make_graph(ctx);
    clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){2, 3});
    clnn_tensor *x = clnn_input(g, "x", 1, (int64_t[]){3});
    clnn_tensor *y = clnn_mul(g, w, w);
    EXPECT_ST(ctx, clnn_graph_backward(g, y), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_graph_last_error(g), "(2, 3)");
    EXPECT_CONTAINS(clnn_graph_last_error(g), "scalar");
    clnn_graph_clear_error(g);
    EXPECT_ST(ctx, clnn_graph_backward(g, NULL), CLNN_ERR_INVALID);
    clnn_graph_clear_error(g);
    clnn_tensor *foreign = clnn_sum(other, clnn_param(other, "p", 1, (int64_t[]){2}), 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_backward(g, foreign), CLNN_ERR_INVALID);
    clnn_graph_clear_error(g);
    /* a loss that depends on no parameter */
    EXPECT_ST(ctx, clnn_graph_backward(g, clnn_sum(g, x, 0, NULL, 0)), CLNN_ERR_INVALID);
    clnn_graph_clear_error(g);
    clnn_tensor *loss = clnn_sum(g, y, 0, NULL, 0);
    EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_graph_last_error(g), "backward");
    ck_assert_msg(clnn_tensor_grad(x) == NULL, "grad of an input: got a tensor, expected NULL");
    clnn_graph_destroy(g);
    clnn_graph_destroy(other);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* loss = sum(w * w) -> d loss / dw = 2 w; loss = mean(w * w) -> 2 w / n. */
START_TEST(test_grad_simple)
{
    clnn_ctx *ctx = test_ctx(NULL);
    static const float w0[6] = {1.5f, -2, 0.25f, 3, -0.5f, 0};
    for (int mean = 0; mean < 2; mean++) {
        clnn_graph *g = make_graph(ctx);
        clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){2, 3});
        clnn_tensor *sq = clnn_mul(g, w, w);
        clnn_tensor *loss = mean ? clnn_mean(g, sq, 0, NULL, 0) : clnn_sum(g, sq, 0, NULL, 0);
        EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
        clnn_tensor *dw = clnn_tensor_grad(w);
        ck_assert_msg(dw != NULL, "grad of w: got NULL, expected a tensor");
        ck_assert_msg(clnn_tensor_ndim(dw) == 2 && clnn_tensor_dim(dw, 0) == 2 &&
                          clnn_tensor_dim(dw, 1) == 3,
                      "grad shape: got %d dims, expected (2, 3)", clnn_tensor_ndim(dw));
        EXPECT_ST(ctx, clnn_tensor_write(w, w0, sizeof w0), CLNN_OK);
        double want[6], want_loss = 0;
        for (int i = 0; i < 6; i++) {
            want[i] = 2.0 * w0[i] / (mean ? 6 : 1);
            want_loss += (double)w0[i] * w0[i] / (mean ? 6 : 1);
        }
        /* gradients are recomputed, not accumulated, by every run */
        for (int run = 0; run < 3; run++) {
            EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
            expect_values(ctx, dw, want, 6, 1e-6, mean ? "d mean(w*w)/dw" : "d sum(w*w)/dw");
            expect_values(ctx, loss, &want_loss, 1, 1e-5, "loss");
        }
        clnn_graph_destroy(g);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- the planner -------------------------------------------------------------------------- */
enum { CHAIN = 20, SIDE = 64, CHAIN_N = SIDE * SIDE };

static double host_unary(int op, double v)
{
    switch (op % 4) {
    case 0:
        return v > 0 ? v : 0;
    case 1:
        return 1 / (1 + exp(-v));
    case 2:
        return tanh(v);
    default:
        return -1.5 * v;
    }
}

static clnn_tensor *add_unary(clnn_graph *g, int op, clnn_tensor *x)
{
    switch (op % 4) {
    case 0:
        return clnn_relu(g, x);
    case 1:
        return clnn_sigmoid(g, x);
    case 2:
        return clnn_tanh(g, x);
    default:
        return clnn_scale(g, x, -1.5f);
    }
}

/* x -> relu -> sigmoid -> tanh -> scale -> relu ... (CHAIN ops) -> mean. steps[k] is the output
 * of op k; keep_at >= 0 keeps that one. */
static clnn_tensor *build_chain(clnn_graph *g, clnn_tensor **x, clnn_tensor **steps, int keep_at)
{
    *x = clnn_input(g, "x", 2, (int64_t[]){SIDE, SIDE});
    clnn_tensor *h = *x;
    for (int k = 0; k < CHAIN; k++) {
        h = steps[k] = add_unary(g, k, h);
        if (k == keep_at)
            clnn_graph_keep(g, h);
    }
    return clnn_mean(g, h, 0, NULL, 0);
}

static float *chain_input(void)
{
    float *x = malloc(CHAIN_N * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (int i = 0; i < CHAIN_N; i++)
        x[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
    return x;
}

/* The host value of step k (all elements) and of the final mean. */
static double *chain_reference(const float *x, int k_wanted, double *mean)
{
    double *at = malloc(CHAIN_N * sizeof *at);
    ck_assert_ptr_nonnull(at);
    double sum = 0;
    for (int i = 0; i < CHAIN_N; i++) {
        double v = x[i];
        for (int k = 0; k < CHAIN; k++) {
            v = host_unary(k, v);
            if (k == k_wanted)
                at[i] = v;
        }
        sum += v;
    }
    *mean = sum / CHAIN_N;
    return at;
}

START_TEST(test_planner_reuses_memory)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *x, *steps[CHAIN];
    clnn_tensor *mean = build_chain(g, &x, steps, -1);
    EXPECT_ST(ctx, clnn_graph_plan(g), CLNN_OK);
    clnn_graph_info info;
    EXPECT_ST(ctx, clnn_graph_info_get(g, &info), CLNN_OK);
    uint64_t one = CHAIN_N * sizeof(float);
    ck_assert_msg(info.nodes == CHAIN + 2 && info.ops == CHAIN + 1,
                  "info: got %zu nodes and %zu ops, expected %d and %d", info.nodes, info.ops,
                  CHAIN + 2, CHAIN + 1);
    ck_assert_msg(info.unshared_bytes >= (CHAIN - 1) * one,
                  "unshared bytes: got %llu, expected at least %llu",
                  (unsigned long long)info.unshared_bytes, (unsigned long long)((CHAIN - 1) * one));
    ck_assert_msg(info.planned_bytes < info.unshared_bytes && info.planned_bytes <= 3 * one,
                  "planned bytes: got %llu, expected at most 3 buffers (%llu) and less than %llu",
                  (unsigned long long)info.planned_bytes, (unsigned long long)(3 * one),
                  (unsigned long long)info.unshared_bytes);
    ck_assert_msg(info.leaf_bytes >= one,
                  "leaf bytes: got %llu, expected at least the input's %llu",
                  (unsigned long long)info.leaf_bytes, (unsigned long long)one);
    float *xs = chain_input();
    double want;
    free(chain_reference(xs, 0, &want));
    EXPECT_ST(ctx, clnn_tensor_write(x, xs, CHAIN_N * sizeof *xs), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, mean, &want, 1, 1e-5, "mean of the chain");
    /* a second run gives the same bits */
    float first, second;
    EXPECT_ST(ctx, clnn_tensor_read(mean, &first, sizeof first), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(mean, &second, sizeof second), CLNN_OK);
    ck_assert_msg(!memcmp(&first, &second, sizeof first), "second run: got %.9g, expected %.9g",
                  (double)second, (double)first);
    free(xs);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_read_not_kept)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *x, *steps[CHAIN];
    build_chain(g, &x, steps, -1);
    float *xs = chain_input();
    EXPECT_ST(ctx, clnn_tensor_write(x, xs, CHAIN_N * sizeof *xs), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    float *got = malloc(CHAIN_N * sizeof *got);
    ck_assert_ptr_nonnull(got);
    EXPECT_ST(ctx, clnn_tensor_read(steps[CHAIN / 2], got, CHAIN_N * sizeof *got), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clnn_graph_keep");
    free(got);
    free(xs);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_keep_makes_readable)
{
    clnn_ctx *ctx = test_ctx(NULL);
    float *xs = chain_input();
    for (int when = 0; when < 2; when++) {
        /* when 0: keep while building; 1: keep after a first run (the graph is re-planned) */
        int k = when ? CHAIN / 2 + 1 : CHAIN / 2;
        clnn_graph *g = make_graph(ctx);
        clnn_tensor *x, *steps[CHAIN];
        clnn_tensor *mean = build_chain(g, &x, steps, when ? -1 : k);
        EXPECT_ST(ctx, clnn_tensor_write(x, xs, CHAIN_N * sizeof *xs), CLNN_OK);
        if (when) {
            EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
            ck_assert_msg(clnn_graph_keep(g, steps[k]) == steps[k], "keep: got another pointer");
        }
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
        double want_mean;
        double *want = chain_reference(xs, k, &want_mean);
        expect_values(ctx, steps[k], want, CHAIN_N, 1e-5, when ? "kept after a run" : "kept");
        expect_values(ctx, mean, &want_mean, 1, 1e-5, "mean");
        free(want);
        clnn_graph_destroy(g);
    }
    free(xs);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* y1 = relu(x), run; then y2 = 3 * y1 is added and the graph is planned again. */
START_TEST(test_replan_after_adding)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *x = clnn_input(g, "x", 1, (int64_t[]){4});
    clnn_tensor *y1 = clnn_relu(g, x);
    float in[4] = {-1, 2, -3, 4};
    EXPECT_ST(ctx, clnn_tensor_write(x, in, sizeof in), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, y1, (double[]){0, 2, 0, 4}, 4, 0, "y1");
    clnn_tensor *y2 = clnn_scale(g, y1, 3.0f);
    clnn_tensor *y3 = clnn_add(g, y2, clnn_constant(g, 0.5f, 0, NULL));
    ck_assert_msg(y3 != NULL, "nodes added after a run: got NULL: %s", clnn_graph_last_error(g));
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, y3, (double[]){0.5, 6.5, 0.5, 12.5}, 4, 0, "3 relu(x) + 0.5");
    clnn_graph_info info;
    EXPECT_ST(ctx, clnn_graph_info_get(g, &info), CLNN_OK);
    ck_assert_msg(info.nodes == 5 && info.ops == 3, "info: got %zu nodes %zu ops, expected 5 3",
                  info.nodes, info.ops);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_constant)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *c = clnn_constant(g, 2.5f, 2, (int64_t[]){2, 3});
    clnn_tensor *s = clnn_constant(g, -4.0f, 0, NULL);
    clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){2, 3});
    clnn_tensor *y = clnn_add(g, clnn_mul(g, x, c), s); /* 2.5 x - 4 */
    ck_assert_msg(c && s && y, "constants: got NULL: %s", clnn_graph_last_error(g));
    float in[6] = {0, 1, 2, 3, 4, 5};
    EXPECT_ST(ctx, clnn_tensor_write(x, in, sizeof in), CLNN_OK);
    clnn_tensor_destroy(x); /* graph tensors die with their graph: a no-op */
    clnn_tensor_destroy(y);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, c, (double[]){2.5, 2.5, 2.5, 2.5, 2.5, 2.5}, 6, 0, "constant");
    expect_values(ctx, s, (double[]){-4}, 1, 0, "scalar constant");
    expect_values(ctx, y, (double[]){-4, -1.5, 1, 3.5, 6, 8.5}, 6, 0, "2.5 x - 4");
    ck_assert_msg(clnn_constant(g, 1.0f, 1, (int64_t[]){-2}) == NULL &&
                      clnn_graph_status(g) == CLNN_ERR_SHAPE,
                  "constant of shape (-2,): got %s, expected CLNN_ERR_SHAPE",
                  clnn_status_name(clnn_graph_status(g)));
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- bound tensors ------------------------------------------------------------------------ */
/* W (3, 2) is caller-owned and bound into a training graph (with a gradient) and an inference
 * graph; x is all ones (4, 3), so x @ W has column sums of W in every row, and
 * d sum(x @ W) / dW = x^T @ ones = 4 everywhere. */
START_TEST(test_bind_shares_storage)
{
    clnn_ctx *ctx = test_ctx(NULL);
    uint64_t base = device_bytes(ctx);
    clnn_tensor *w = NULL;
    EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 2, (int64_t[]){3, 2}, &w), CLNN_OK);
    clnn_tensor_set_name(w, "W");
    clnn_graph *train = make_graph(ctx), *infer = make_graph(ctx);
    clnn_tensor *wt = clnn_graph_bind(train, w, 1), *wi = clnn_graph_bind(infer, w, 0);
    ck_assert_msg(wt && wi, "bind: got NULL: %s", clnn_ctx_last_error(ctx));
    ck_assert_msg(!strcmp(clnn_tensor_name(wt), "W"), "bound name: got \"%s\", expected \"W\"",
                  clnn_tensor_name(wt));
    clnn_tensor *xt = clnn_input(train, "x", 2, (int64_t[]){4, 3});
    clnn_tensor *xi = clnn_input(infer, "x", 2, (int64_t[]){4, 3});
    clnn_tensor *loss = clnn_sum(train, clnn_matmul(train, xt, wt, 0, 0), 0, NULL, 0);
    clnn_tensor *yi = clnn_matmul(infer, xi, wi, 0, 0);
    EXPECT_ST(ctx, clnn_graph_backward(train, loss), CLNN_OK);
    ck_assert_msg(clnn_tensor_grad(wi) == NULL,
                  "grad of a bind without requires_grad: got a tensor, expected NULL");
    clnn_tensor *dw = clnn_tensor_grad(wt);
    ck_assert_msg(dw != NULL, "grad of a bind with requires_grad: got NULL");
    EXPECT_ST(ctx, clnn_tensor_fill(xt, 1.0f), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_fill(xi, 1.0f), CLNN_OK);
    for (int round = 0; round < 2; round++) {
        /* write W once; both graphs see it */
        float ws[6];
        for (int i = 0; i < 6; i++)
            ws[i] = (float)(i + 1) * (round ? -0.5f : 1.0f);
        EXPECT_ST(ctx, clnn_tensor_write(w, ws, sizeof ws), CLNN_OK);
        EXPECT_ST(ctx, clnn_graph_run(train), CLNN_OK);
        EXPECT_ST(ctx, clnn_graph_run(infer), CLNN_OK);
        double c0 = ws[0] + ws[2] + ws[4], c1 = ws[1] + ws[3] + ws[5];
        double want_y[8] = {c0, c1, c0, c1, c0, c1, c0, c1}, want_loss = 4 * (c0 + c1);
        expect_values(ctx, yi, want_y, 8, 1e-5, "inference x @ W");
        expect_values(ctx, loss, &want_loss, 1, 1e-4, "training loss");
        expect_values(ctx, dw, (double[]){4, 4, 4, 4, 4, 4}, 6, 1e-6, "dW");
    }
    /* the graphs keep the storage alive after the caller's tensor is gone */
    clnn_tensor_destroy(w);
    EXPECT_ST(ctx, clnn_graph_run(infer), CLNN_OK);
    expect_values(ctx, yi, (double[]){-4.5, -6, -4.5, -6, -4.5, -6, -4.5, -6}, 8, 1e-5,
                  "after destroying W");
    clnn_graph_destroy(train);
    clnn_graph_destroy(infer);
    ck_assert_msg(device_bytes(ctx) == base, "device bytes at the end: got %llu, expected %llu",
                  (unsigned long long)device_bytes(ctx), (unsigned long long)base);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_bind_other_context)
{
    clnn_ctx *ctx = test_ctx(NULL), *ctx2 = test_ctx(NULL);
    clnn_tensor *w2 = NULL;
    EXPECT_ST(ctx2, clnn_tensor_create(ctx2, CLNN_F32, 1, (int64_t[]){3}, &w2), CLNN_OK);
    clnn_graph *g = make_graph(ctx);
    ck_assert_msg(clnn_graph_bind(g, w2, 0) == NULL && clnn_graph_status(g) == CLNN_ERR_INVALID,
                  "bind of another context's tensor: got %s, expected CLNN_ERR_INVALID",
                  clnn_status_name(clnn_graph_status(g)));
    EXPECT_CONTAINS(clnn_graph_last_error(g), "context");
    clnn_graph_destroy(g);
    clnn_tensor_destroy(w2);
    clnn_ctx_destroy(ctx2);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- lifetimes ---------------------------------------------------------------------------- */
START_TEST(test_no_backward_runs)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = make_graph(ctx);
    clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){2, 2});
    clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){2, 2});
    clnn_tensor *y = clnn_sum(g, clnn_relu(g, clnn_matmul(g, x, w, 0, 1)), 1, (int[]){-1}, 0);
    float xs[4] = {1, 2, 3, 4}, ws[4] = {1, 0, 0, -1}; /* x @ w^T = [[1, -2], [3, -4]] */
    EXPECT_ST(ctx, clnn_tensor_write(x, xs, sizeof xs), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(w, ws, sizeof ws), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
    expect_values(ctx, y, (double[]){1, 3}, 2, 1e-6, "sum(relu(x w^T), -1)");
    ck_assert_msg(clnn_tensor_grad(w) == NULL, "grad without backward: got a tensor");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_create_destroy_cycles)
{
    clnn_ctx *ctx = test_ctx(NULL);
    uint64_t base = device_bytes(ctx);
    for (int cycle = 0; cycle < 40; cycle++) {
        clnn_graph *g = make_graph(ctx);
        clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){8, 4});
        clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){4, 3});
        clnn_tensor *b = clnn_param(g, "b", 1, (int64_t[]){3});
        clnn_tensor *h = clnn_tanh(g, clnn_add(g, clnn_matmul(g, x, w, 0, 0), b));
        clnn_tensor *loss = clnn_mean(g, clnn_mul(g, h, h), 0, NULL, 0);
        if (cycle % 2)
            EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_fill(x, 0.5f), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_fill(w, 0.25f), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_fill(b, -0.125f), CLNN_OK);
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
        double t = tanh(4 * 0.5 * 0.25 - 0.125), want = t * t;
        expect_values(ctx, loss, &want, 1, 1e-6, "loss");
        if (cycle % 2) {
            double d = 2 * t * (1 - t * t) / 3; /* d loss / d b = mean over rows of 2h h' / 3 */
            expect_values(ctx, clnn_tensor_grad(b), (double[]){d, d, d}, 3, 1e-6, "db");
        }
        ck_assert_msg(
            device_bytes(ctx) > base,
            "cycle %d: device bytes got %llu, expected more than %llu while the graph lives", cycle,
            (unsigned long long)device_bytes(ctx), (unsigned long long)base);
        clnn_graph_destroy(g);
        ck_assert_msg(device_bytes(ctx) == base,
                      "cycle %d: device bytes after destroy got %llu, expected %llu", cycle,
                      (unsigned long long)device_bytes(ctx), (unsigned long long)base);
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

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = new_tcase("build");
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_sticky_error);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_constant);
    suite_add_tcase(s, tc);

    tc = new_tcase("backward");
    tcase_add_test(tc, test_backward_errors);
    tcase_add_test(tc, test_grad_simple);
    tcase_add_test(tc, test_bind_shares_storage);
    tcase_add_test(tc, test_bind_other_context);
    suite_add_tcase(s, tc);

    tc = new_tcase("plan");
    tcase_add_test(tc, test_planner_reuses_memory);
    tcase_add_test(tc, test_read_not_kept);
    tcase_add_test(tc, test_keep_makes_readable);
    tcase_add_test(tc, test_replan_after_adding);
    tcase_add_test(tc, test_no_backward_runs);
    tcase_add_test(tc, test_create_destroy_cycles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* no OpenCL here: check forks every test, and each test makes its own context */
    return test_run_suite(graph_suite());
}
