/* test_nn.c — the `check` suite of the layers and model building of src/nn (layers.c, model.c;
 * fit, evaluate and training are tests/test_fit.c's):
 *   - forward values of every layer kind through the public API: a small model is built with
 *     clnn_model_input + clnn_model_push (or clnn_model_apply), known weights are written into
 *     clnn_model_param_by_name(), clnn_model_predict() runs it and the outputs are compared with
 *     a host reference in double (Dense with relu and softmax, on 1-D and 2-D inputs; Conv2D
 *     valid, same (stride 2, odd padding at the bottom/right), explicit, dilated, grouped, softmax
 *     over channels, without bias; Conv2DTranspose valid, same and explicit with output padding;
 *     MaxPool2D (padding never wins), AvgPool2D valid and "same" excluding the padding;
 *     GlobalAvgPool2D, Flatten, Reshape with -1, Dropout as the identity, BatchNorm on the running
 *     statistics (channels and features), LayerNorm, Activation, Embedding on float token ids,
 *     Add and Concatenate of several nodes);
 *   - initialisers: Keras glorot_uniform (Dense, Conv2D, Conv2DTranspose fans), zero biases,
 *     PyTorch kaiming_uniform(a = sqrt(5)) weights and biases, Embedding U(-0.05, 0.05) and
 *     N(0, 1) (padding row zero), normalisation defaults, reproducibility from the seed;
 *   - the exact summary of the Keras MNIST CNN, truncation, a functional summary;
 *   - parameters: count, order, names, PyTorch layouts, trainable counts and freezing;
 *   - the functional API: a residual block, shared layers (reapply), a model inside a model
 *     (shared parameter tensors that outlive the inner model), set_output and node shapes, and
 *     reapplied layers checking their new inputs;
 *   - errors: status codes and messages naming what was expected and what was given, the sticky
 *     builder error, names, compile and predict argument checks;
 *   - the model-level gradient of a Conv2D + Dense stack (one SGD step of train_on_batch) against
 *     central differences of the evaluated loss.
 * Each test creates its own context (check forks every test; default layer names count per
 * context). CK_FORK=no to debug. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "test_util.h"

#define TOL      1e-5
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers --------------------------------------------------------------------------------- */
/* Deterministic values in [-1, 1) (exact floats, so the host reference sees the same numbers). */
static void fillv(float *v, size_t n, unsigned seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((double)(s >> 8) / (double)(1u << 24) * 2.0 - 1.0);
    }
}

static clnn_model *new_model(clnn_ctx *ctx, clnn_init_style init, uint64_t seed)
{
    clnn_model_options o;
    clnn_model_options_init(&o);
    o.init = init;
    o.seed = seed;
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, &o, &m), CLNN_OK);
    ck_assert_ptr_nonnull(m);
    return m;
}

static clnn_layer_spec named(clnn_layer_spec s, const char *name)
{
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

/* Pushes the layer; the model must have no error after it. */
static int push(clnn_model *m, clnn_layer_spec s)
{
    int id = clnn_model_push(m, &s);
    ck_assert_msg(id >= 0, "push '%s': %s", s.name, clnn_model_last_error(m));
    return id;
}

static int apply(clnn_model *m, clnn_layer_spec s, int n, const int *in)
{
    int id = clnn_model_apply(m, &s, n, in);
    ck_assert_msg(id >= 0, "apply '%s': %s", s.name, clnn_model_last_error(m));
    return id;
}

static int input(clnn_model *m, int ndim, const int64_t *shape)
{
    int id = clnn_model_input(m, "x", ndim, shape);
    ck_assert_msg(id >= 0, "input: %s", clnn_model_last_error(m));
    return id;
}

/* Writes v (n floats) into the parameter `name`, which must hold n elements. */
static void set_param(clnn_model *m, const char *name, const float *v, int64_t n)
{
    clnn_tensor *t = clnn_model_param_by_name(m, name);
    ck_assert_msg(t != NULL, "no parameter '%s'", name);
    ck_assert_msg(clnn_tensor_numel(t) == n, "parameter '%s': %lld elements, expected %lld", name,
                  (long long)clnn_tensor_numel(t), (long long)n);
    ck_assert_int_eq(clnn_tensor_write(t, v, (size_t)n * sizeof *v), CLNN_OK);
}

/* Fills the parameter `name` with fillv(seed) into v (n floats). */
static void fill_param(clnn_model *m, const char *name, float *v, int64_t n, unsigned seed)
{
    fillv(v, (size_t)n, seed);
    set_param(m, name, v, n);
}

static float *read_param(clnn_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    int64_t n = clnn_tensor_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(clnn_tensor_read(t, v, (size_t)n * sizeof *v), CLNN_OK);
    return v;
}

/* The output shape must be the given one (batch excluded). */
static void expect_shape(clnn_model *m, int node, int ndim, const int64_t *shape)
{
    int nd = -1;
    int64_t sh[CLNN_MAX_DIMS];
    ck_assert_int_eq(clnn_model_node_shape(m, node, &nd, sh), CLNN_OK);
    ck_assert_int_eq(nd, ndim);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(sh[i] == shape[i], "node %d axis %d: got %lld, expected %lld", node, i,
                      (long long)sh[i], (long long)shape[i]);
}

/* Predicts n samples (in batches of 2, so a partial last batch is met when n is odd). */
static void predict(clnn_ctx *ctx, clnn_model *m, const float *x, int64_t n, float *out,
                    size_t count)
{
    ck_assert_msg(clnn_model_status(m) == CLNN_OK, "build: %s", clnn_model_last_error(m));
    EXPECT_ST(ctx, clnn_model_predict(m, x, n, 2, out, count), CLNN_OK);
}

static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs(want[i])),
                      "%s[%zu]: got %.9g, expected %.9g", what, i, (double)got[i], want[i]);
}

static double act(double x, clnn_activation a, double alpha)
{
    switch (a) {
    case CLNN_ACT_RELU:
        return x > 0 ? x : 0;
    case CLNN_ACT_LEAKY_RELU:
        return x > 0 ? x : alpha * x;
    case CLNN_ACT_ELU:
        return x > 0 ? x : alpha * (exp(x) - 1);
    case CLNN_ACT_SIGMOID:
        return 1 / (1 + exp(-x));
    case CLNN_ACT_TANH:
        return tanh(x);
    case CLNN_ACT_GELU:
        return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default:
        return x;
    }
}

/* softmax of n values v[0], v[stride], ... in place */
static void softmax(double *v, int n, int stride)
{
    double mx = v[0], s = 0;
    for (int i = 1; i < n; i++)
        mx = fmax(mx, v[i * stride]);
    for (int i = 0; i < n; i++)
        s += (v[i * stride] = exp(v[i * stride] - mx));
    for (int i = 0; i < n; i++)
        v[i * stride] /= s;
}

/* y = act(x W^T + b) over rows of `in` features; softmax over the units. */
static void ref_dense(const float *x, int rows, int in, const float *w, const float *b, int units,
                      clnn_activation a, double alpha, double *y)
{
    for (int r = 0; r < rows; r++) {
        for (int u = 0; u < units; u++) {
            double s = b ? b[u] : 0;
            for (int i = 0; i < in; i++)
                s += (double)x[r * in + i] * w[u * in + i];
            y[r * units + u] = a == CLNN_ACT_SOFTMAX ? s : act(s, a, alpha);
        }
        if (a == CLNN_ACT_SOFTMAX)
            softmax(y + r * units, units, 1);
    }
}

/* A convolution or pooling window geometry (one sample: C x H x W -> K x OH x OW). */
typedef struct geom {
    int C, H, W, K, kh, kw, sh, sw, pt, pl, OH, OW;
    int dil, groups;
} geom;

/* Keras "same": out = ceil(in / stride), the odd padding at the bottom/right. */
static void same_pad(geom *g)
{
    g->OH = (g->H + g->sh - 1) / g->sh;
    g->OW = (g->W + g->sw - 1) / g->sw;
    int th = (g->OH - 1) * g->sh + g->kh - g->H, tw = (g->OW - 1) * g->sw + g->kw - g->W;
    g->pt = th > 0 ? th / 2 : 0;
    g->pl = tw > 0 ? tw / 2 : 0;
}

/* conv2d, w (K, C, kh, kw), then bias and the activation (softmax over the channels) */
static void ref_conv(const float *x, int N, geom g, const float *w, const float *b,
                     clnn_activation a, double *y)
{
    const int plane = g.OH * g.OW, dil = g.dil, groups = g.groups;
    const int cg = g.C / groups, kg = g.K / groups;
    for (int n = 0; n < N; n++) {
        double *yn = y + (size_t)n * g.K * plane;
        for (int k = 0; k < g.K; k++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++) {
                    double s = b ? b[k] : 0;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < g.kh; ky++)
                            for (int kx = 0; kx < g.kw; kx++) {
                                int c = k / kg * cg + ci;
                                int iy = oy * g.sh - g.pt + ky * dil;
                                int ix = ox * g.sw - g.pl + kx * dil;
                                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W)
                                    continue;
                                s += (double)x[((n * g.C + c) * g.H + iy) * g.W + ix] *
                                     w[((k * cg + ci) * g.kh + ky) * g.kw + kx];
                            }
                    yn[k * plane + oy * g.OW + ox] = a == CLNN_ACT_SOFTMAX ? s : act(s, a, 0);
                }
        if (a == CLNN_ACT_SOFTMAX)
            for (int p = 0; p < plane; p++)
                softmax(yn + p, g.K, plane);
    }
}

/* conv2d_transpose, w (C, K, kh, kw): y[oy] += x[iy] w[ky] at oy = iy sh - pt + ky */
static void ref_conv_t(const float *x, int N, geom g, const float *w, const float *b,
                       clnn_activation a, double *y)
{
    const int plane = g.OH * g.OW;
    for (int n = 0; n < N; n++) {
        double *yn = y + (size_t)n * g.K * plane;
        for (int k = 0; k < g.K; k++)
            for (int p = 0; p < plane; p++)
                yn[k * plane + p] = b ? b[k] : 0;
        for (int c = 0; c < g.C; c++)
            for (int iy = 0; iy < g.H; iy++)
                for (int ix = 0; ix < g.W; ix++)
                    for (int k = 0; k < g.K; k++)
                        for (int ky = 0; ky < g.kh; ky++)
                            for (int kx = 0; kx < g.kw; kx++) {
                                int oy = iy * g.sh - g.pt + ky, ox = ix * g.sw - g.pl + kx;
                                if (oy < 0 || oy >= g.OH || ox < 0 || ox >= g.OW)
                                    continue;
                                yn[k * plane + oy * g.OW + ox] +=
                                    (double)x[((n * g.C + c) * g.H + iy) * g.W + ix] *
                                    w[((c * g.K + k) * g.kh + ky) * g.kw + kx];
                            }
        for (int i = 0; i < g.K * plane; i++)
            yn[i] = act(yn[i], a, 0);
    }
}

/* max or average (over the positions inside the input) pooling */
static void ref_pool(const float *x, int N, geom g, int is_max, double *y)
{
    for (int n = 0; n < N; n++)
        for (int c = 0; c < g.C; c++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++) {
                    double s = is_max ? -INFINITY : 0;
                    int cnt = 0;
                    for (int ky = 0; ky < g.kh; ky++)
                        for (int kx = 0; kx < g.kw; kx++) {
                            int iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
                            if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W)
                                continue;
                            double v = x[((n * g.C + c) * g.H + iy) * g.W + ix];
                            s = is_max ? fmax(s, v) : s + v;
                            cnt++;
                        }
                    y[((n * g.C + c) * g.OH + oy) * g.OW + ox] = is_max ? s : s / cnt;
                }
}

/* ---- Dense ------------------------------------------------------------------------------------
 */
START_TEST(test_dense_forward)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, IN = 6, U1 = 5, U2 = 4 };
    float x[N * IN], w1[U1 * IN], b1[U1], w2[U2 * U1], b2[U2], out[N * U2];
    double h[N * U1], want[N * U2];
    fillv(x, COUNT(x), 1);

    /* Dense(relu) -> Dense(softmax) */
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){IN});
    push(m, named(clnn_layer_dense(U1, CLNN_ACT_RELU), "hidden"));
    push(m, named(clnn_layer_dense(U2, CLNN_ACT_SOFTMAX), "probs"));
    fill_param(m, "hidden.weight", w1, U1 * IN, 2);
    fill_param(m, "hidden.bias", b1, U1, 3);
    fill_param(m, "probs.weight", w2, U2 * U1, 4);
    fill_param(m, "probs.bias", b2, U2, 5);
    predict(ctx, m, x, N, out, COUNT(out));
    ref_dense(x, N, IN, w1, b1, U1, CLNN_ACT_RELU, 0, h);
    int relu_zeros = 0;
    for (int i = 0; i < N * U1; i++)
        relu_zeros += h[i] == 0;
    ck_assert_msg(relu_zeros > 0 && relu_zeros < N * U1, "the data should exercise relu's kink");
    float hf[N * U1];
    for (int i = 0; i < N * U1; i++)
        hf[i] = (float)h[i];
    ref_dense(hf, N, U1, w2, b2, U2, CLNN_ACT_SOFTMAX, 0, want);
    expect_close("relu->softmax", out, want, COUNT(want), TOL);
    for (int r = 0; r < N; r++) {
        double s = 0;
        for (int u = 0; u < U2; u++)
            s += out[r * U2 + u];
        ck_assert_double_eq_tol(s, 1.0, 1e-5);
    }
    clnn_model_destroy(m);

    /* Dense on (T, F): every row of the sample; leaky_relu with Keras's default alpha 0.3 */
    enum { T = 2 };
    float xt[N * T * IN], out2[N * T * U1];
    double want2[N * T * U1];
    fillv(xt, COUNT(xt), 6);
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 2, (int64_t[]){T, IN});
    clnn_layer_spec d = named(clnn_layer_dense(U1, CLNN_ACT_LEAKY_RELU), "rows");
    ck_assert_float_eq(d.alpha, 0.3f);
    push(m, d);
    expect_shape(m, -1, 2, (int64_t[]){T, U1});
    fill_param(m, "rows.weight", w1, U1 * IN, 7);
    fill_param(m, "rows.bias", b1, U1, 8);
    predict(ctx, m, xt, N, out2, COUNT(out2));
    ref_dense(xt, N * T, IN, w1, b1, U1, CLNN_ACT_LEAKY_RELU, 0.3, want2);
    expect_close("dense (T, F)", out2, want2, COUNT(want2), TOL);

    /* without a bias: one parameter */
    clnn_model_destroy(m);
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){IN});
    clnn_layer_spec nb = named(clnn_layer_dense(U1, CLNN_ACT_NONE), "nobias");
    nb.use_bias = 0;
    push(m, nb);
    ck_assert_int_eq(clnn_model_param_count(m), 1);
    ck_assert_ptr_null(clnn_model_param_by_name(m, "nobias.bias"));
    fill_param(m, "nobias.weight", w1, U1 * IN, 9);
    float out3[N * U1];
    double want3[N * U1];
    predict(ctx, m, x, N, out3, COUNT(out3));
    ref_dense(x, N, IN, w1, NULL, U1, CLNN_ACT_NONE, 0, want3);
    expect_close("dense without bias", out3, want3, COUNT(want3), TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- Conv2D and Conv2DTranspose ---------------------------------------------------------------
 */
typedef struct conv_case {
    const char *name;
    int transpose;
    int C, H, W, K, kh, kw, stride;
    clnn_padding_mode padding;
    int pad, opad, use_bias;
    clnn_activation act;
    int OH, OW; /* expected output size */
    int dil, groups;
} conv_case;

// clang-format off
static const conv_case conv_cases[] = {
    /* name, transpose, C, H, W, K, kh, kw, stride, padding, pad, opad, use_bias, act, OH, OW,
     * dilation, groups */
    {"conv valid relu", 0, 3, 5, 5, 4, 3, 3, 1, CLNN_PADDING_VALID, 0, 0, 1, CLNN_ACT_RELU, 3, 3, 1, 1},
    {"conv same stride 2", 0, 3, 5, 5, 4, 3, 3, 2, CLNN_PADDING_SAME, 0, 0, 1, CLNN_ACT_RELU, 3, 3, 1, 1},
    {"conv same 2x2 (pad bottom)", 0, 2, 5, 4, 3, 2, 2, 1, CLNN_PADDING_SAME, 0, 0, 1, CLNN_ACT_TANH, 5, 4, 1, 1},
    {"conv explicit pad 1", 0, 2, 4, 5, 3, 3, 3, 1, CLNN_PADDING_EXPLICIT, 1, 0, 1, CLNN_ACT_NONE, 4, 5, 1, 1},
    {"conv softmax channels", 0, 3, 4, 4, 4, 2, 2, 1, CLNN_PADDING_VALID, 0, 0, 1, CLNN_ACT_SOFTMAX, 3, 3, 1, 1},
    {"conv softmax no bias", 0, 3, 4, 4, 4, 2, 2, 1, CLNN_PADDING_VALID, 0, 0, 0, CLNN_ACT_SOFTMAX, 3, 3, 1, 1},
    {"conv no bias relu", 0, 3, 5, 5, 2, 3, 3, 1, CLNN_PADDING_VALID, 0, 0, 0, CLNN_ACT_RELU, 3, 3, 1, 1},
    /* C R S = 72, 16 filters: conv_direct on CPU devices, the ReLU in its epilogue */
    {"conv relu direct kernel", 0, 8, 6, 6, 16, 3, 3, 1, CLNN_PADDING_EXPLICIT, 1, 0, 1, CLNN_ACT_RELU, 6, 6, 1, 1},
    {"conv dilation 2", 0, 2, 6, 7, 3, 3, 3, 1, CLNN_PADDING_VALID, 0, 0, 1, CLNN_ACT_NONE, 2, 3, 2, 1},
    {"conv groups 2", 0, 4, 5, 5, 6, 3, 3, 1, CLNN_PADDING_VALID, 0, 0, 1, CLNN_ACT_NONE, 3, 3, 1, 2},
    {"transpose valid stride 2", 1, 3, 4, 4, 2, 3, 3, 2, CLNN_PADDING_VALID, 0, 0, 1, CLNN_ACT_RELU, 9, 9, 1, 1},
    {"transpose explicit opad", 1, 2, 3, 4, 3, 3, 3, 2, CLNN_PADDING_EXPLICIT, 1, 1, 1, CLNN_ACT_NONE, 6, 8, 1, 1},
    {"transpose same k3 s2", 1, 2, 4, 3, 3, 3, 3, 2, CLNN_PADDING_SAME, 0, 0, 1, CLNN_ACT_NONE, 8, 6, 1, 1},
    {"transpose same k4 s2", 1, 2, 3, 4, 2, 4, 4, 2, CLNN_PADDING_SAME, 0, 0, 1, CLNN_ACT_TANH, 6, 8, 1, 1},
};
// clang-format on

START_TEST(test_conv_forward)
{
    const conv_case *c = &conv_cases[_i];
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3 };
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){c->C, c->H, c->W});
    clnn_layer_spec s = c->transpose ? clnn_layer_conv2d_transpose(c->K, c->kh, c->kw, c->act)
                                     : clnn_layer_conv2d(c->K, c->kh, c->kw, c->act);
    s = named(s, "cv");
    s.stride_h = s.stride_w = c->stride;
    s.padding = c->padding;
    s.pad_h = s.pad_w = c->pad;
    s.output_pad_h = s.output_pad_w = c->opad;
    s.use_bias = c->use_bias;
    s.dilation_h = s.dilation_w = c->dil;
    s.groups = c->groups;
    push(m, s);
    expect_shape(m, -1, 3, (int64_t[]){c->K, c->OH, c->OW});
    const int cg = c->C / s.groups;

    const int64_t wn = (int64_t)cg * c->K * c->kh * c->kw, xn = (int64_t)N * c->C * c->H * c->W,
                  yn = (int64_t)N * c->K * c->OH * c->OW;
    /* PyTorch layouts: Conv2D (K, C, kh, kw), Conv2DTranspose (C, K, kh, kw) */
    clnn_tensor *wt = clnn_model_param_by_name(m, "cv.weight");
    ck_assert_ptr_nonnull(wt);
    ck_assert_int_eq(clnn_tensor_ndim(wt), 4);
    ck_assert_int_eq(clnn_tensor_dim(wt, 0), c->transpose ? c->C : c->K);
    ck_assert_int_eq(clnn_tensor_dim(wt, 1), c->transpose ? c->K : cg);
    ck_assert_int_eq(clnn_tensor_dim(wt, 2), c->kh);
    ck_assert_int_eq(clnn_tensor_dim(wt, 3), c->kw);
    ck_assert_int_eq(clnn_model_param_count(m), c->use_bias ? 2 : 1);

    float *x = malloc((size_t)xn * sizeof *x), *w = malloc((size_t)wn * sizeof *w), b[16];
    float *out = malloc((size_t)yn * sizeof *out);
    double *want = malloc((size_t)yn * sizeof *want);
    fillv(x, (size_t)xn, 11 + _i);
    fill_param(m, "cv.weight", w, wn, 12 + _i);
    if (c->use_bias)
        fill_param(m, "cv.bias", b, c->K, 13 + _i);
    predict(ctx, m, x, N, out, (size_t)yn);

    geom g = {c->C,      c->H,   c->W,   c->K,  c->kh, c->kw,  c->stride,
              c->stride, c->pad, c->pad, c->OH, c->OW, c->dil, c->groups};
    if (c->padding == CLNN_PADDING_SAME && !c->transpose) {
        same_pad(&g);
        ck_assert_int_eq(g.OH, c->OH);
        ck_assert_int_eq(g.OW, c->OW);
    } else if (c->padding == CLNN_PADDING_SAME) {
        /* TensorFlow's transposed "same": the forward convolution from (OH, OW) to (H, W) pads
         * (H - 1) s + k - OH in all, the odd one at the bottom/right; y crops those rows */
        ck_assert_int_eq(c->OH, c->H * c->stride);
        ck_assert_int_eq(c->OW, c->W * c->stride);
        int th = (c->H - 1) * c->stride + c->kh - c->OH,
            tw = (c->W - 1) * c->stride + c->kw - c->OW;
        g.pt = th > 0 ? th / 2 : 0;
        g.pl = tw > 0 ? tw / 2 : 0;
    }
    if (c->transpose)
        ref_conv_t(x, N, g, w, c->use_bias ? b : NULL, c->act, want);
    else
        ref_conv(x, N, g, w, c->use_bias ? b : NULL, c->act, want);
    expect_close(c->name, out, want, (size_t)yn, TOL);
    free(x);
    free(w);
    free(out);
    free(want);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- pooling ----------------------------------------------------------------------------------
 */
typedef struct pool_case {
    const char *name;
    int is_max;
    int C, H, W, k, stride; /* stride 0: the pool size */
    clnn_padding_mode padding;
    int OH, OW;
} pool_case;

static const pool_case pool_cases[] = {
    {"max 2x2 valid (floor)", 1, 2, 5, 5, 2, 0, CLNN_PADDING_VALID, 2, 2},
    {"avg 2x2 valid (floor)", 0, 2, 5, 5, 2, 0, CLNN_PADDING_VALID, 2, 2},
    {"avg 3x3 stride 2 same", 0, 2, 5, 5, 3, 2, CLNN_PADDING_SAME, 3, 3},
    {"avg 2x2 same (pad bottom)", 0, 2, 5, 5, 2, 0, CLNN_PADDING_SAME, 3, 3},
    {"max 3x3 stride 2 same", 1, 2, 5, 4, 3, 2, CLNN_PADDING_SAME, 3, 2},
    {"max 3x3 stride 1 valid", 1, 1, 4, 5, 3, 1, CLNN_PADDING_VALID, 2, 3},
};

START_TEST(test_pool_forward)
{
    const pool_case *c = &pool_cases[_i];
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3 };
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){c->C, c->H, c->W});
    clnn_layer_spec s =
        c->is_max ? clnn_layer_maxpool2d(c->k, c->k) : clnn_layer_avgpool2d(c->k, c->k);
    s.stride_h = s.stride_w = c->stride;
    s.padding = c->padding;
    push(m, s);
    ck_assert_int_eq(clnn_model_param_count(m), 0);
    expect_shape(m, -1, 3, (int64_t[]){c->C, c->OH, c->OW});
    const int xn = N * c->C * c->H * c->W, yn = N * c->C * c->OH * c->OW;
    float x[512], out[512];
    double want[512];
    ck_assert(xn <= 512 && yn <= 512);
    fillv(x, (size_t)xn, 20 + _i);
    for (int i = 0; c->is_max && i < xn; i++)
        x[i] -= 2.0f; /* all negative: a zero padding would win the border windows */
    predict(ctx, m, x, N, out, (size_t)yn);
    int st = c->stride ? c->stride : c->k;
    geom g = {c->C, c->H, c->W, c->C, c->k, c->k, st, st, 0, 0, c->OH, c->OW, 1, 1};
    if (c->padding == CLNN_PADDING_SAME)
        same_pad(&g);
    ref_pool(x, N, g, c->is_max, want);
    expect_close(c->name, out, want, (size_t)yn, TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_global_avgpool_flatten)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, C = 4, H = 3, W = 5 };
    float x[N * C * H * W], out[N * C];
    double want[N * C];
    fillv(x, COUNT(x), 30);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){C, H, W});
    push(m, clnn_layer_global_avgpool2d());
    expect_shape(m, -1, 1, (int64_t[]){C});
    predict(ctx, m, x, N, out, COUNT(out));
    for (int i = 0; i < N * C; i++) {
        double s = 0;
        for (int p = 0; p < H * W; p++)
            s += x[i * H * W + p];
        want[i] = s / (H * W);
    }
    expect_close("global_avgpool2d", out, want, COUNT(want), TOL);
    clnn_model_destroy(m);

    /* Flatten keeps the NCHW order: the output is the input, bit for bit */
    float flat[N * C * H * W];
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){C, H, W});
    push(m, clnn_layer_flatten());
    expect_shape(m, -1, 1, (int64_t[]){C * H * W});
    predict(ctx, m, x, N, flat, COUNT(flat));
    ck_assert_int_eq(memcmp(flat, x, sizeof x), 0);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Reshape (-1), Dropout (identity in predict) and Activation layers */
START_TEST(test_reshape_dropout_activation)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, C = 2, H = 3, W = 4, F = C * H * W };
    float x[N * F], out[N * F];
    double want[N * F];
    fillv(x, COUNT(x), 31);
    for (int i = 0; i < N * F; i++)
        x[i] *= 3.0f; /* past the linear range of tanh and sigmoid */

    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 7);
    input(m, 3, (int64_t[]){C, H, W});
    push(m, clnn_layer_reshape(2, (int64_t[]){-1, 6}));
    expect_shape(m, -1, 2, (int64_t[]){4, 6});
    push(m, clnn_layer_dropout(0.5f));
    expect_shape(m, -1, 2, (int64_t[]){4, 6});
    push(m, clnn_layer_reshape(1, (int64_t[]){F}));
    ck_assert_int_eq(clnn_model_param_count(m), 0);
    predict(ctx, m, x, N, out, COUNT(out));
    ck_assert_msg(memcmp(out, x, sizeof x) == 0, "reshape + dropout must be the identity");
    clnn_model_destroy(m);

    /* every activation of an Activation layer; softmax over the last axis */
    static const struct {
        clnn_activation a;
        float alpha;
    } acts[] = {{CLNN_ACT_RELU, 0},    {CLNN_ACT_LEAKY_RELU, 0.2f}, {CLNN_ACT_ELU, 0.7f},
                {CLNN_ACT_SIGMOID, 0}, {CLNN_ACT_TANH, 0},          {CLNN_ACT_GELU, 0},
                {CLNN_ACT_NONE, 0},    {CLNN_ACT_SOFTMAX, 0}};
    for (size_t k = 0; k < COUNT(acts); k++) {
        m = new_model(ctx, CLNN_INIT_KERAS, 0);
        input(m, 2, (int64_t[]){4, 6});
        push(m, clnn_layer_activation(acts[k].a, acts[k].alpha));
        expect_shape(m, -1, 2, (int64_t[]){4, 6});
        predict(ctx, m, x, N, out, COUNT(out));
        for (int i = 0; i < N * F; i++)
            want[i] = acts[k].a == CLNN_ACT_SOFTMAX ? x[i] : act(x[i], acts[k].a, acts[k].alpha);
        if (acts[k].a == CLNN_ACT_SOFTMAX)
            for (int r = 0; r < N * 4; r++)
                softmax(want + r * 6, 6, 1);
        char what[48];
        snprintf(what, sizeof what, "activation %d", (int)acts[k].a);
        expect_close(what, out, want, COUNT(want), TOL);
        clnn_model_destroy(m);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- normalisation ----------------------------------------------------------------------------
 */
/* clnn_model_forward: training mode normalises with the batch's statistics and updates the
 * running ones (momentum 0.01: running = 0.99 running + 0.01 batch); evaluation mode = predict. */
START_TEST(test_forward_training_mode)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 4, F = 3 };
    float x[N * F], out[N * F], ref[N * F];
    fillv(x, COUNT(x), 45);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){F});
    push(m, named(clnn_layer_batchnorm(), "bn"));
    ck_assert_int_eq(clnn_model_forward(m, x, N, 1, out, COUNT(out)), CLNN_OK);
    float *rm = read_param(clnn_model_param_by_name(m, "bn.running_mean"));
    for (int f = 0; f < F; f++) {
        double mean = 0, var = 0;
        for (int n = 0; n < N; n++)
            mean += x[n * F + f] / (double)N;
        for (int n = 0; n < N; n++)
            var += (x[n * F + f] - mean) * (x[n * F + f] - mean) / N;
        for (int n = 0; n < N; n++)
            ck_assert_double_eq_tol(out[n * F + f], (x[n * F + f] - mean) / sqrt(var + 1e-3), 1e-4);
        ck_assert_double_eq_tol(rm[f], 0.01 * mean, 1e-6);
    }
    free(rm);
    ck_assert_int_eq(clnn_model_forward(m, x, N, 0, out, COUNT(out)), CLNN_OK);
    predict(ctx, m, x, N, ref, COUNT(ref));
    ck_assert_int_eq(memcmp(out, ref, sizeof out), 0);
    ck_assert_int_eq(clnn_model_forward(m, x, N, 1, out, 2), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_model_forward(m, NULL, N, 1, out, COUNT(out)), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_batchnorm_forward)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, C = 3, HW = 4 };
    const double eps = 1e-3; /* Keras */
    float x[N * C * HW], out[N * C * HW], gamma[C], beta[C], mean[C], var[C];
    double want[N * C * HW];
    fillv(x, COUNT(x), 40);
    fillv(gamma, C, 41);
    fillv(beta, C, 42);
    fillv(mean, C, 43);
    fillv(var, C, 44);
    for (int c = 0; c < C; c++)
        var[c] = 0.5f + fabsf(var[c]);

    /* channels of (C, H, W) */
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){C, 2, 2});
    push(m, named(clnn_layer_batchnorm(), "bn"));
    ck_assert_int_eq(clnn_model_param_count(m), 4);
    set_param(m, "bn.weight", gamma, C);
    set_param(m, "bn.bias", beta, C);
    set_param(m, "bn.running_mean", mean, C);
    set_param(m, "bn.running_var", var, C);
    predict(ctx, m, x, N, out, COUNT(out));
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                int i = (n * C + c) * HW + p;
                want[i] = gamma[c] * ((double)x[i] - mean[c]) / sqrt(var[c] + eps) + beta[c];
            }
    expect_close("batchnorm (C, H, W)", out, want, COUNT(want), TOL);
    /* predicting does not touch the running statistics */
    float *rm = read_param(clnn_model_param_by_name(m, "bn.running_mean"));
    ck_assert_int_eq(memcmp(rm, mean, sizeof mean), 0);
    free(rm);
    clnn_model_destroy(m);

    /* features of (F): axis 1 of the batch; center = scale = 0 leaves only the statistics */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){C});
    clnn_layer_spec s = named(clnn_layer_batchnorm(), "bn1");
    s.center = s.scale = 0;
    push(m, s);
    ck_assert_int_eq(clnn_model_param_count(m), 2);
    ck_assert_ptr_null(clnn_model_param_by_name(m, "bn1.weight"));
    set_param(m, "bn1.running_mean", mean, C);
    set_param(m, "bn1.running_var", var, C);
    predict(ctx, m, x, N, out, N * C);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            want[n * C + c] = ((double)x[n * C + c] - mean[c]) / sqrt(var[c] + eps);
    expect_close("batchnorm (F)", out, want, N * C, TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_layernorm_forward)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, T = 2, F = 5 };
    float x[N * T * F], out[N * T * F], gamma[F], beta[F];
    double want[N * T * F];
    fillv(x, COUNT(x), 50);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 2, (int64_t[]){T, F});
    clnn_layer_spec s = named(clnn_layer_layernorm(), "ln");
    s.eps = 1e-2f; /* large enough to matter */
    push(m, s);
    ck_assert_int_eq(clnn_model_param_count(m), 2);
    ck_assert_int_eq(clnn_tensor_dim(clnn_model_param_by_name(m, "ln.weight"), 0), F);
    fill_param(m, "ln.weight", gamma, F, 51);
    fill_param(m, "ln.bias", beta, F, 52);
    predict(ctx, m, x, N, out, COUNT(out));
    for (int r = 0; r < N * T; r++) {
        double mu = 0, v = 0;
        for (int f = 0; f < F; f++)
            mu += x[r * F + f];
        mu /= F;
        for (int f = 0; f < F; f++)
            v += (x[r * F + f] - mu) * (x[r * F + f] - mu);
        v /= F; /* biased */
        for (int f = 0; f < F; f++)
            want[r * F + f] = gamma[f] * (x[r * F + f] - mu) / sqrt(v + 1e-2) + beta[f];
    }
    expect_close("layernorm", out, want, COUNT(want), 2e-5);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- Embedding --------------------------------------------------------------------------------
 */
START_TEST(test_embedding_forward)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, T = 4, V = 7, D = 3 };
    const float ids[N * T] = {0, 6, 3, 3, 1, 2, 5, 0, 6, 6, 4, 2};
    float w[V * D], out[N * T * D];
    double want[N * T * D];
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    ck_assert_int_eq(clnn_model_input_i32(m, "tokens", 1, (int64_t[]){T}), 0);
    push(m, named(clnn_layer_embedding(V, D), "emb"));
    expect_shape(m, -1, 2, (int64_t[]){T, D});
    clnn_tensor *wt = clnn_model_param_by_name(m, "emb.weight");
    ck_assert_int_eq(clnn_tensor_dim(wt, 0), V);
    ck_assert_int_eq(clnn_tensor_dim(wt, 1), D);
    fill_param(m, "emb.weight", w, V * D, 60);
    predict(ctx, m, ids, N, out, COUNT(out));
    for (int i = 0; i < N * T; i++)
        for (int d = 0; d < D; d++)
            want[i * D + d] = w[(int)ids[i] * D + d];
    expect_close("embedding", out, want, COUNT(want), 0);

    /* a token id that is not an integer in range is refused, naming the sample */
    float bad[N * T];
    memcpy(bad, ids, sizeof bad);
    bad[T + 1] = 2.5f;
    EXPECT_ST(ctx, clnn_model_predict(m, bad, N, 8, out, COUNT(out)), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "2.5");
    bad[T + 1] = -1.0f;
    EXPECT_ST(ctx, clnn_model_predict(m, bad, N, 8, out, COUNT(out)), CLNN_ERR_INVALID);
    /* an id past the vocabulary: refused, or (the op's documented behaviour) a row of zeros */
    bad[T + 1] = (float)V;
    clnn_status st = clnn_model_predict(m, bad, N, 8, out, COUNT(out));
    ck_assert_msg(st == CLNN_OK || st == CLNN_ERR_INVALID, "id %d: %s", V, clnn_status_name(st));
    if (st == CLNN_OK)
        for (int d = 0; d < D; d++)
            ck_assert_msg(out[(T + 1) * D + d] == 0.0f, "id %d read %g", V,
                          (double)out[(T + 1) * D + d]);
    clnn_model_destroy(m);

    /* Embedding -> Flatten -> Dense: the ids feed an f32 network */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    clnn_model_input_i32(m, "tokens", 1, (int64_t[]){T});
    push(m, named(clnn_layer_embedding(V, D), "emb"));
    push(m, clnn_layer_flatten());
    push(m, named(clnn_layer_dense(2, CLNN_ACT_NONE), "head"));
    float hw[2 * T * D], hb[2], o2[N * 2];
    double w2[N * 2];
    set_param(m, "emb.weight", w, V * D);
    fill_param(m, "head.weight", hw, 2 * T * D, 61);
    fill_param(m, "head.bias", hb, 2, 62);
    predict(ctx, m, ids, N, o2, COUNT(o2));
    float e[N * T * D];
    for (int i = 0; i < N * T * D; i++)
        e[i] = (float)want[i];
    ref_dense(e, N, T * D, hw, hb, 2, CLNN_ACT_NONE, 0, w2);
    expect_close("embedding -> dense", o2, w2, COUNT(w2), TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- Add, Concatenate, the functional API ------------------------------------------------------
 */
START_TEST(test_add_concatenate)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, IN = 4, U = 3 };
    float x[N * IN], wa[U * IN], ba[U], wb[U * IN], bb[U], wc[2 * IN], bc[2];
    double ya[N * U], yb[N * U], yc[N * 2];
    fillv(x, COUNT(x), 70);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){IN});
    int a = apply(m, named(clnn_layer_dense(U, CLNN_ACT_NONE), "a"), 1, &in);
    int b = apply(m, named(clnn_layer_dense(U, CLNN_ACT_TANH), "b"), 1, &in);
    int c = apply(m, named(clnn_layer_dense(2, CLNN_ACT_NONE), "c"), 1, &in);
    int sum = apply(m, clnn_layer_add(), 3, (int[]){a, b, a});
    expect_shape(m, sum, 1, (int64_t[]){U});
    int cat = apply(m, clnn_layer_concatenate(-1), 3, (int[]){a, c, b});
    expect_shape(m, cat, 1, (int64_t[]){U + 2 + U});
    int cat0 = apply(m, clnn_layer_concatenate(0), 2, (int[]){sum, cat});
    expect_shape(m, cat0, 1, (int64_t[]){U + U + 2 + U});
    ck_assert_int_eq(clnn_model_param_count(m), 6); /* Add and Concatenate have none */
    fill_param(m, "a.weight", wa, U * IN, 71);
    fill_param(m, "a.bias", ba, U, 72);
    fill_param(m, "b.weight", wb, U * IN, 73);
    fill_param(m, "b.bias", bb, U, 74);
    fill_param(m, "c.weight", wc, 2 * IN, 75);
    fill_param(m, "c.bias", bc, 2, 76);
    ref_dense(x, N, IN, wa, ba, U, CLNN_ACT_NONE, 0, ya);
    ref_dense(x, N, IN, wb, bb, U, CLNN_ACT_TANH, 0, yb);
    ref_dense(x, N, IN, wc, bc, 2, CLNN_ACT_NONE, 0, yc);
    enum { OUT = U + U + 2 + U };
    float out[N * OUT];
    double want[N * OUT];
    predict(ctx, m, x, N, out, COUNT(out));
    for (int n = 0; n < N; n++) {
        double *w = want + n * OUT;
        for (int u = 0; u < U; u++)
            w[u] = 2 * ya[n * U + u] + yb[n * U + u];
        for (int u = 0; u < U; u++)
            w[U + u] = ya[n * U + u];
        for (int u = 0; u < 2; u++)
            w[2 * U + u] = yc[n * 2 + u];
        for (int u = 0; u < U; u++)
            w[2 * U + 2 + u] = yb[n * U + u];
    }
    expect_close("add + concatenate", out, want, COUNT(want), TOL);
    clnn_model_destroy(m);

    /* Concatenate along the channels (axis 0) of two convolutions' (C, H, W) outputs */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    float xi[N * 2 * 3 * 3], w1[1 * 2 * 2 * 2], b1[1], w2[2 * 2 * 2 * 2], b2[2], o[N * 3 * 2 * 2];
    double y1[N * 1 * 4], y2[N * 2 * 4], wo[N * 3 * 4];
    fillv(xi, COUNT(xi), 77);
    in = input(m, 3, (int64_t[]){2, 3, 3});
    int c1 = apply(m, named(clnn_layer_conv2d(1, 2, 2, CLNN_ACT_NONE), "c1"), 1, &in);
    int c2 = apply(m, named(clnn_layer_conv2d(2, 2, 2, CLNN_ACT_NONE), "c2"), 1, &in);
    apply(m, clnn_layer_concatenate(0), 2, (int[]){c1, c2});
    expect_shape(m, -1, 3, (int64_t[]){3, 2, 2});
    fill_param(m, "c1.weight", w1, COUNT(w1), 78);
    fill_param(m, "c1.bias", b1, 1, 79);
    fill_param(m, "c2.weight", w2, COUNT(w2), 80);
    fill_param(m, "c2.bias", b2, 2, 81);
    predict(ctx, m, xi, N, o, COUNT(o));
    ref_conv(xi, N, (geom){2, 3, 3, 1, 2, 2, 1, 1, 0, 0, 2, 2, 1, 1}, w1, b1, CLNN_ACT_NONE, y1);
    ref_conv(xi, N, (geom){2, 3, 3, 2, 2, 2, 1, 1, 0, 0, 2, 2, 1, 1}, w2, b2, CLNN_ACT_NONE, y2);
    for (int n = 0; n < N; n++) {
        memcpy(wo + n * 12, y1 + n * 4, 4 * sizeof(double));
        memcpy(wo + n * 12 + 4, y2 + n * 8, 8 * sizeof(double));
    }
    expect_close("concatenate channels", o, wo, COUNT(wo), TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* x -> Dense -> Add(x, dense): out = x + W x + b */
START_TEST(test_residual_block)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, F = 4 };
    float x[N * F], w[F * F], b[F], out[N * F];
    double want[N * F];
    fillv(x, COUNT(x), 90);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){F});
    int d = apply(m, named(clnn_layer_dense(F, CLNN_ACT_RELU), "d"), 1, &in);
    int r = apply(m, named(clnn_layer_add(), "residual"), 2, (int[]){in, d});
    ck_assert_int_eq(r, 2);
    fill_param(m, "d.weight", w, F * F, 91);
    fill_param(m, "d.bias", b, F, 92);
    predict(ctx, m, x, N, out, COUNT(out));
    ref_dense(x, N, F, w, b, F, CLNN_ACT_RELU, 0, want);
    for (int i = 0; i < N * F; i++)
        want[i] += x[i];
    expect_close("residual", out, want, COUNT(want), TOL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* A layer applied twice shares its weights: out = tanh(W tanh(W x + b) + b) */
START_TEST(test_reapply_shares_weights)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, F = 4 };
    float x[N * F], w[F * F], b[F], out[N * F], h[N * F];
    double y1[N * F], want[N * F];
    fillv(x, COUNT(x), 93);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){F});
    int d1 = apply(m, named(clnn_layer_dense(F, CLNN_ACT_TANH), "shared"), 1, &in);
    ck_assert_int_eq(clnn_model_param_count(m), 2);
    int d2 = clnn_model_reapply(m, d1, 1, &d1);
    ck_assert_msg(d2 == d1 + 1, "reapply: %s", clnn_model_last_error(m));
    ck_assert_int_eq(clnn_model_param_count(m), 2);
    ck_assert_int_eq(clnn_model_layer_count(m), 1);
    int64_t tr = 0;
    ck_assert_int_eq(clnn_model_count_params(m, &tr), F * F + F);
    ck_assert_int_eq(tr, F * F + F);
    fill_param(m, "shared.weight", w, F * F, 94);
    fill_param(m, "shared.bias", b, F, 95);
    predict(ctx, m, x, N, out, COUNT(out));
    ref_dense(x, N, F, w, b, F, CLNN_ACT_TANH, 0, y1);
    for (int i = 0; i < N * F; i++)
        h[i] = (float)y1[i];
    ref_dense(h, N, F, w, b, F, CLNN_ACT_TANH, 0, want);
    expect_close("reapplied", out, want, COUNT(want), TOL);

    /* the summary counts the shared parameters once */
    char buf[4096];
    clnn_model_summary(m, buf, sizeof buf);
    EXPECT_CONTAINS(buf, "Total params: 20\n");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* A generator and a discriminator applied inside a combined model share their parameter tensors;
 * the combined model keeps them alive after the inner models are destroyed. */
START_TEST(test_apply_model)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, Z = 3, H = 4 };
    float z[N * Z], gw[H * Z], gb[H], dw[H], db[1], out[N], hid[N * H];
    double gh[N * H], want[N];
    fillv(z, COUNT(z), 100);

    clnn_model *gen = new_model(ctx, CLNN_INIT_KERAS, 1);
    input(gen, 1, (int64_t[]){Z});
    push(gen, named(clnn_layer_dense(H, CLNN_ACT_TANH), "g"));
    clnn_model *disc = new_model(ctx, CLNN_INIT_KERAS, 2);
    input(disc, 1, (int64_t[]){H});
    push(disc, named(clnn_layer_dense(1, CLNN_ACT_SIGMOID), "dsc"));

    clnn_model *comb = new_model(ctx, CLNN_INIT_KERAS, 3);
    int in = input(comb, 1, (int64_t[]){Z});
    int g = clnn_model_apply_model(comb, gen, in);
    ck_assert_msg(g >= 0, "%s", clnn_model_last_error(comb));
    expect_shape(comb, g, 1, (int64_t[]){H});
    int d = clnn_model_apply_model(comb, disc, g);
    ck_assert_msg(d >= 0, "%s", clnn_model_last_error(comb));
    expect_shape(comb, -1, 1, (int64_t[]){1});
    ck_assert_int_eq(clnn_model_layer_count(comb), 2);
    ck_assert_str_eq(clnn_model_layer_name(comb, 0), "g");
    ck_assert_str_eq(clnn_model_layer_name(comb, 1), "dsc");
    ck_assert_int_eq(clnn_model_param_count(comb), 4);
    ck_assert_ptr_eq(clnn_model_param(comb, 0), clnn_model_param(gen, 0));
    ck_assert_ptr_eq(clnn_model_param(comb, 1), clnn_model_param(gen, 1));
    ck_assert_ptr_eq(clnn_model_param(comb, 2), clnn_model_param(disc, 0));
    ck_assert_ptr_eq(clnn_model_param(comb, 3), clnn_model_param(disc, 1));
    ck_assert_ptr_eq(clnn_model_param_by_name(comb, "dsc.weight"), clnn_model_param(disc, 0));

    /* weights written through the inner models are what the combined model uses */
    fill_param(gen, "g.weight", gw, H * Z, 101);
    fill_param(gen, "g.bias", gb, H, 102);
    fill_param(disc, "dsc.weight", dw, H, 103);
    fill_param(disc, "dsc.bias", db, 1, 104);
    ref_dense(z, N, Z, gw, gb, H, CLNN_ACT_TANH, 0, gh);
    for (int i = 0; i < N * H; i++)
        hid[i] = (float)gh[i];
    ref_dense(hid, N, H, dw, db, 1, CLNN_ACT_SIGMOID, 0, want);
    predict(ctx, comb, z, N, out, COUNT(out));
    expect_close("combined", out, want, N, TOL);
    float gout[N * H];
    predict(ctx, gen, z, N, gout, COUNT(gout));
    expect_close("generator alone", gout, gh, N * H, TOL);

    /* freezing is a property of the shared layer (Keras's layer.trainable) */
    int64_t tr = -1;
    ck_assert_int_eq(clnn_model_set_trainable(comb, 1, 0), CLNN_OK);
    clnn_model_count_params(disc, &tr);
    ck_assert_int_eq(tr, 0);
    clnn_model_count_params(comb, &tr);
    ck_assert_int_eq(tr, H * Z + H);
    ck_assert_int_eq(clnn_model_set_trainable(comb, -1, 1), CLNN_OK);

    /* destroying the inner models first is safe: the combined model holds the layers */
    clnn_model_destroy(gen);
    clnn_model_destroy(disc);
    ck_assert_int_eq(clnn_model_param_count(comb), 4);
    float *pw = read_param(clnn_model_param_by_name(comb, "g.weight"));
    ck_assert_int_eq(memcmp(pw, gw, sizeof gw), 0);
    free(pw);
    memset(out, 0, sizeof out);
    predict(ctx, comb, z, N, out, COUNT(out));
    expect_close("combined after the inner models died", out, want, N, TOL);

    /* an inner model whose input does not match the node */
    clnn_model *other = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(other, 1, (int64_t[]){Z + 1});
    push(other, clnn_layer_dense(2, CLNN_ACT_NONE));
    clnn_model *bad = new_model(ctx, CLNN_INIT_KERAS, 0);
    int bin = input(bad, 1, (int64_t[]){Z});
    ck_assert_int_eq(clnn_model_apply_model(bad, other, bin), -1);
    ck_assert_int_eq(clnn_model_status(bad), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_model_last_error(bad), "(4,)");
    EXPECT_CONTAINS(clnn_model_last_error(bad), "(3,)");
    clnn_model_destroy(bad);
    bad = new_model(ctx, CLNN_INIT_KERAS, 0);
    bin = input(bad, 1, (int64_t[]){Z});
    ck_assert_int_eq(clnn_model_apply_model(bad, bad, bin), -1);
    ck_assert_int_eq(clnn_model_status(bad), CLNN_ERR_INVALID);
    clnn_model_destroy(bad);
    bad = new_model(ctx, CLNN_INIT_KERAS, 0);
    bin = input(bad, 1, (int64_t[]){Z});
    ck_assert_int_eq(clnn_model_apply_model(bad, NULL, bin), -1);
    ck_assert_int_eq(clnn_model_status(bad), CLNN_ERR_INVALID);
    clnn_model_destroy(bad);
    clnn_model_destroy(other);
    clnn_model_destroy(comb);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Reapplying a layer checks the new inputs as the first application did; every builder returns
 * a node or -1 with the model's error set. */
START_TEST(test_reapply_dense_two_inputs)
{
    clnn_ctx *ctx = test_ctx(NULL);
    /* a Dense layer reapplied to two nodes */
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){4});
    int d = apply(m, clnn_layer_dense(4, CLNN_ACT_NONE), 1, &in);
    int r = clnn_model_reapply(m, d, 2, (int[]){in, d});
    ck_assert_msg(r == -1 && clnn_model_status(m) == CLNN_ERR_INVALID,
                  "reapplying Dense to 2 inputs: got node %d, status %s", r,
                  clnn_status_name(clnn_model_status(m)));
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_reapply_add_one_input)
{
    clnn_ctx *ctx = test_ctx(NULL);
    /* an Add layer reapplied to one node */
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){4});
    int a = apply(m, clnn_layer_add(), 2, (int[]){in, in});
    int r = clnn_model_reapply(m, a, 1, &a);
    ck_assert_msg(r == -1 && clnn_model_status(m) == CLNN_ERR_INVALID,
                  "reapplying Add to 1 input: got node %d, status %s", r,
                  clnn_status_name(clnn_model_status(m)));
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_reapply_conv_channels)
{
    clnn_ctx *ctx = test_ctx(NULL);
    /* a Conv2D reapplied to an input of other channels: the op's shape error */
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 3, (int64_t[]){2, 5, 5});
    int c = apply(m, clnn_layer_conv2d(3, 3, 3, CLNN_ACT_NONE), 1, &in);
    int r = clnn_model_reapply(m, c, 1, &c);
    ck_assert_int_eq(r, -1);
    ck_assert_int_eq(clnn_model_status(m), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_model_last_error(m), "clnn_model_reapply 'conv2d'");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_apply_model_identity)
{
    clnn_ctx *ctx = test_ctx(NULL);
    /* a model that is only an input, applied inside another: the identity, or an error */
    clnn_model *inner = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(inner, 1, (int64_t[]){4});
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){4});
    int r = clnn_model_apply_model(m, inner, in);
    ck_assert_msg(r >= 0 || clnn_model_status(m) != CLNN_OK,
                  "apply_model returned %d with no error on the model", r);
    clnn_model_destroy(m);
    clnn_model_destroy(inner);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* set_output picks an earlier node; node shapes of every node */
START_TEST(test_set_output_node_shape)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, F = 4, U = 3 };
    float x[N * F], w[U * F], b[U], out[N * U];
    double want[N * U];
    fillv(x, COUNT(x), 110);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int in = input(m, 1, (int64_t[]){F});
    int a = push(m, named(clnn_layer_dense(U, CLNN_ACT_ELU), "a"));
    push(m, named(clnn_layer_dense(2, CLNN_ACT_NONE), "b"));
    expect_shape(m, -1, 1, (int64_t[]){2});
    expect_shape(m, in, 1, (int64_t[]){F});
    expect_shape(m, a, 1, (int64_t[]){U});
    EXPECT_ST(ctx, clnn_model_set_output(m, a), CLNN_OK);
    expect_shape(m, -1, 1, (int64_t[]){U});
    fill_param(m, "a.weight", w, U * F, 111);
    fill_param(m, "a.bias", b, U, 112);
    predict(ctx, m, x, N, out, COUNT(out));
    ref_dense(x, N, F, w, b, U, CLNN_ACT_ELU, 1.0, want);
    expect_close("set_output", out, want, COUNT(want), TOL);
    /* the room needed follows the output: 3 per sample now */
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 8, out, N * U - 1), CLNN_ERR_INVALID);

    int nd;
    int64_t sh[CLNN_MAX_DIMS];
    EXPECT_ST(ctx, clnn_model_set_output(m, 3), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "3");
    EXPECT_ST(ctx, clnn_model_set_output(m, -1), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_node_shape(m, 3, &nd, sh), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_node_shape(m, -2, &nd, sh), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_node_shape(m, 0, NULL, sh), CLNN_ERR_INVALID);
    /* a failed set_output is not a builder error */
    ck_assert_int_eq(clnn_model_status(m), CLNN_OK);
    clnn_model_destroy(m);

    /* the shapes along a CNN */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){1, 12, 10});
    int c = push(m, clnn_layer_conv2d(4, 3, 3, CLNN_ACT_RELU));
    int p = push(m, clnn_layer_maxpool2d(2, 2));
    int f = push(m, clnn_layer_flatten());
    expect_shape(m, c, 3, (int64_t[]){4, 10, 8});
    expect_shape(m, p, 3, (int64_t[]){4, 5, 4});
    expect_shape(m, f, 1, (int64_t[]){80});
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- initialisers -----------------------------------------------------------------------------
 */
typedef struct stats {
    double mean, var, maxabs;
    int64_t n, zeros;
} stats;

static stats param_stats(clnn_tensor *t)
{
    float *v = read_param(t);
    stats s = {0};
    s.n = clnn_tensor_numel(t);
    for (int64_t i = 0; i < s.n; i++) {
        s.mean += v[i];
        s.maxabs = fmax(s.maxabs, fabs((double)v[i]));
        s.zeros += v[i] == 0.0f;
    }
    s.mean /= (double)s.n;
    for (int64_t i = 0; i < s.n; i++)
        s.var += (v[i] - s.mean) * (v[i] - s.mean);
    s.var /= (double)(s.n - 1);
    free(v);
    return s;
}

/* U(-limit, limit): every value inside, the maximum near the limit, variance limit^2 / 3 within
 * 10%, the mean within 5 standard errors of 0. */
static void expect_uniform(const char *what, clnn_tensor *t, double limit)
{
    stats s = param_stats(t);
    ck_assert_msg(s.maxabs <= limit * (1 + 1e-6), "%s: max |w| %g above the limit %g", what,
                  s.maxabs, limit);
    ck_assert_msg(s.maxabs > 0.95 * limit, "%s: max |w| %g, expected close to the limit %g", what,
                  s.maxabs, limit);
    double v = limit * limit / 3;
    ck_assert_msg(fabs(s.var - v) < 0.1 * v, "%s: variance %g, expected %g (limit %g)", what, s.var,
                  v, limit);
    ck_assert_msg(fabs(s.mean) < 5 * sqrt(v / (double)s.n), "%s: mean %g, expected ~0", what,
                  s.mean);
}

static void expect_const(const char *what, clnn_tensor *t, float value)
{
    float *v = read_param(t);
    for (int64_t i = 0; i < clnn_tensor_numel(t); i++)
        ck_assert_msg(v[i] == value, "%s[%lld]: got %g, expected %g", what, (long long)i,
                      (double)v[i], (double)value);
    free(v);
}

START_TEST(test_init_keras)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 5);
    input(m, 1, (int64_t[]){300});
    push(m, named(clnn_layer_dense(200, CLNN_ACT_RELU), "d"));
    expect_uniform("dense.weight", clnn_model_param_by_name(m, "d.weight"), sqrt(6.0 / 500));
    expect_const("dense.bias", clnn_model_param_by_name(m, "d.bias"), 0.0f);
    clnn_model_destroy(m);

    /* Conv2D (K, C, 3, 3): fans 9 C and 9 K; Conv2DTranspose (C, K, 3, 3): fan_in 9 K, fan_out
     * 9 C (Keras's kernel (kh, kw, filters, C)); same limit formula, a different layout */
    enum { C = 16, K = 48 };
    m = new_model(ctx, CLNN_INIT_KERAS, 5);
    int in = input(m, 3, (int64_t[]){C, 3, 3});
    apply(m, named(clnn_layer_conv2d(K, 3, 3, CLNN_ACT_NONE), "c"), 1, &in);
    clnn_layer_spec t = named(clnn_layer_conv2d_transpose(K, 3, 2, CLNN_ACT_NONE), "t");
    apply(m, t, 1, &in);
    clnn_layer_spec gr = named(clnn_layer_conv2d(K, 3, 3, CLNN_ACT_NONE), "grouped");
    gr.groups = 4;
    apply(m, gr, 1, &in);
    expect_uniform("conv2d.weight", clnn_model_param_by_name(m, "c.weight"),
                   sqrt(6.0 / (9.0 * C + 9.0 * K)));
    expect_const("conv2d.bias", clnn_model_param_by_name(m, "c.bias"), 0.0f);
    expect_uniform("conv2d_transpose.weight", clnn_model_param_by_name(m, "t.weight"),
                   sqrt(6.0 / (6.0 * K + 6.0 * C)));
    expect_const("conv2d_transpose.bias", clnn_model_param_by_name(m, "t.bias"), 0.0f);
    /* grouped: Keras fans of the kernel (3, 3, C/groups, K) */
    clnn_tensor *gw = clnn_model_param_by_name(m, "grouped.weight");
    ck_assert_int_eq(clnn_tensor_dim(gw, 1), C / 4);
    expect_uniform("grouped conv2d.weight", gw, sqrt(6.0 / (9.0 * C / 4 + 9.0 * K)));
    clnn_model_destroy(m);

    /* Embedding U(-0.05, 0.05); BatchNorm and LayerNorm: gamma 1, beta 0, mean 0, var 1 */
    m = new_model(ctx, CLNN_INIT_KERAS, 5);
    clnn_model_input_i32(m, "ids", 1, (int64_t[]){2});
    push(m, named(clnn_layer_embedding(1000, 16), "e"));
    push(m, named(clnn_layer_batchnorm(), "bn"));
    push(m, named(clnn_layer_layernorm(), "ln"));
    expect_uniform("embedding.weight", clnn_model_param_by_name(m, "e.weight"), 0.05);
    expect_const("bn.weight", clnn_model_param_by_name(m, "bn.weight"), 1.0f);
    expect_const("bn.bias", clnn_model_param_by_name(m, "bn.bias"), 0.0f);
    expect_const("bn.running_mean", clnn_model_param_by_name(m, "bn.running_mean"), 0.0f);
    expect_const("bn.running_var", clnn_model_param_by_name(m, "bn.running_var"), 1.0f);
    ck_assert_int_eq(clnn_tensor_numel(clnn_model_param_by_name(m, "bn.weight")), 2);
    expect_const("ln.weight", clnn_model_param_by_name(m, "ln.weight"), 1.0f);
    expect_const("ln.bias", clnn_model_param_by_name(m, "ln.bias"), 0.0f);
    ck_assert_int_eq(clnn_tensor_numel(clnn_model_param_by_name(m, "ln.weight")), 16);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_init_pytorch)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = new_model(ctx, CLNN_INIT_PYTORCH, 9);
    int in = input(m, 1, (int64_t[]){300});
    apply(m, named(clnn_layer_dense(200, CLNN_ACT_NONE), "d"), 1, &in);
    const double bound = 1 / sqrt(300.0);
    expect_uniform("dense.weight", clnn_model_param_by_name(m, "d.weight"), bound);
    /* the bias: inside the same bound, not zero; 200 values give a loose variance check */
    stats s = param_stats(clnn_model_param_by_name(m, "d.bias"));
    ck_assert_msg(s.maxabs <= bound && s.maxabs > 0.9 * bound, "bias max |b| %g, bound %g",
                  s.maxabs, bound);
    ck_assert_int_eq(s.zeros, 0);
    ck_assert_msg(fabs(s.var - bound * bound / 3) < 0.3 * bound * bound / 3, "bias variance %g",
                  s.var);
    clnn_model_destroy(m);

    /* Conv2d fan_in = C kh kw; ConvTranspose2d fan_in = weight.size(1) kh kw = K kh kw */
    enum { C = 16, K = 48 };
    m = new_model(ctx, CLNN_INIT_PYTORCH, 9);
    in = input(m, 3, (int64_t[]){C, 3, 3});
    apply(m, named(clnn_layer_conv2d(K, 3, 3, CLNN_ACT_NONE), "c"), 1, &in);
    apply(m, named(clnn_layer_conv2d_transpose(K, 3, 2, CLNN_ACT_NONE), "t"), 1, &in);
    expect_uniform("conv2d.weight", clnn_model_param_by_name(m, "c.weight"), 1 / sqrt(9.0 * C));
    s = param_stats(clnn_model_param_by_name(m, "c.bias"));
    ck_assert_msg(s.maxabs <= 1 / sqrt(9.0 * C) && s.zeros == 0, "conv bias max %g", s.maxabs);
    expect_uniform("conv2d_transpose.weight", clnn_model_param_by_name(m, "t.weight"),
                   1 / sqrt(6.0 * K));
    s = param_stats(clnn_model_param_by_name(m, "t.bias"));
    ck_assert_msg(s.maxabs <= 1 / sqrt(6.0 * K) && s.zeros == 0, "transpose bias max %g", s.maxabs);
    clnn_model_destroy(m);

    /* Embedding N(0, 1); the padding row is zero (nn.Embedding padding_idx) */
    m = new_model(ctx, CLNN_INIT_PYTORCH, 9);
    clnn_model_input_i32(m, "ids", 1, (int64_t[]){2});
    clnn_layer_spec e = named(clnn_layer_embedding(1000, 16), "e");
    e.padding_index = 3;
    push(m, e);
    push(m, named(clnn_layer_batchnorm(), "bn"));
    float *w = read_param(clnn_model_param_by_name(m, "e.weight"));
    double mean = 0, var = 0, mx = 0;
    const int n = 1000 * 16;
    for (int i = 0; i < 16; i++)
        ck_assert_msg(w[3 * 16 + i] == 0.0f, "padding row [%d] = %g", i, (double)w[3 * 16 + i]);
    for (int i = 0; i < n; i++) {
        mean += w[i];
        mx = fmax(mx, fabs((double)w[i]));
    }
    mean /= n;
    for (int i = 0; i < n; i++)
        var += (w[i] - mean) * (w[i] - mean);
    var /= n - 1;
    free(w);
    ck_assert_msg(fabs(var - 1) < 0.05, "embedding N(0, 1): variance %g", var);
    ck_assert_msg(fabs(mean) < 5 / sqrt((double)n), "embedding N(0, 1): mean %g", mean);
    ck_assert_msg(mx > 3.0, "embedding N(0, 1): max |w| %g, expected tails beyond 3", mx);
    expect_const("bn.weight", clnn_model_param_by_name(m, "bn.weight"), 1.0f);
    expect_const("bn.running_var", clnn_model_param_by_name(m, "bn.running_var"), 1.0f);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Builds input (8) -> Dense(6) -> Dense(6) with the given seed; returns its four parameters. */
static clnn_model *seeded(clnn_ctx *ctx, clnn_init_style init, uint64_t seed, float **p)
{
    clnn_model *m = new_model(ctx, init, seed);
    input(m, 1, (int64_t[]){8});
    push(m, clnn_layer_dense(6, CLNN_ACT_NONE));
    push(m, clnn_layer_dense(6, CLNN_ACT_NONE));
    ck_assert_int_eq(clnn_model_param_count(m), 4);
    for (int i = 0; i < 4; i++)
        p[i] = read_param(clnn_model_param(m, i));
    return m;
}

START_TEST(test_init_seed)
{
    clnn_ctx *ctx = test_ctx(NULL);
    for (int init = CLNN_INIT_KERAS; init <= CLNN_INIT_PYTORCH; init++) {
        float *a[4], *b[4], *c[4];
        clnn_model *ma = seeded(ctx, (clnn_init_style)init, 42, a);
        clnn_model *mb = seeded(ctx, (clnn_init_style)init, 42, b);
        clnn_model *mc = seeded(ctx, (clnn_init_style)init, 43, c);
        const size_t bytes[4] = {6 * 8 * 4, 6 * 4, 6 * 6 * 4, 6 * 4};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(memcmp(a[i], b[i], bytes[i]) == 0,
                          "init %d param %d: the same seed must give the same values", init, i);
        ck_assert_msg(memcmp(a[0], c[0], bytes[0]) != 0, "init %d: seeds 42 and 43 agree", init);
        ck_assert_msg(memcmp(a[2], c[2], bytes[2]) != 0, "init %d: seeds 42 and 43 agree", init);
        /* two layers of one model draw different numbers */
        ck_assert_msg(memcmp(a[0], a[2], bytes[2]) != 0, "init %d: both layers alike", init);
        if (init == CLNN_INIT_PYTORCH)
            ck_assert_msg(memcmp(a[1], c[1], bytes[1]) != 0, "pytorch biases ignore the seed");
        for (int i = 0; i < 4; i++) {
            free(a[i]);
            free(b[i]);
            free(c[i]);
        }
        clnn_model_destroy(ma);
        clnn_model_destroy(mb);
        clnn_model_destroy(mc);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- summary ----------------------------------------------------------------------------------
 */
static clnn_model *mnist_cnn(clnn_ctx *ctx)
{
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){1, 28, 28});
    clnn_layer_spec l[] = {clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU),
                           clnn_layer_maxpool2d(2, 2),
                           clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU),
                           clnn_layer_maxpool2d(2, 2),
                           clnn_layer_flatten(),
                           clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    for (size_t i = 0; i < COUNT(l); i++)
        push(m, l[i]);
    return m;
}

/* Keras's table with NCHW shapes; a label longer than its column wraps onto the next line */
// clang-format off
static const char MNIST_SUMMARY[] =
    "Model: \"sequential\"\n"
    "_________________________________________________________________\n"
    " Layer (type)                Output Shape              Param #   \n"
    "=================================================================\n"
    " conv2d (Conv2D)             (None, 32, 26, 26)        320       \n"
    " max_pooling2d (MaxPooling2D (None, 32, 13, 13)        0         \n"
    " )                                                               \n"
    " conv2d_1 (Conv2D)           (None, 64, 11, 11)        18,496    \n"
    " max_pooling2d_1 (MaxPooling (None, 64, 5, 5)          0         \n"
    " 2D)                                                             \n"
    " flatten (Flatten)           (None, 1600)              0         \n"
    " dense (Dense)               (None, 10)                16,010    \n"
    "=================================================================\n"
    "Total params: 34,826\n"
    "Trainable params: 34,826\n"
    "Non-trainable params: 0\n"
    "_________________________________________________________________\n";
// clang-format on

START_TEST(test_summary_mnist)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = mnist_cnn(ctx);
    int64_t tr = 0;
    ck_assert_int_eq(clnn_model_count_params(m, &tr), 34826);
    ck_assert_int_eq(tr, 34826);
    char buf[4096];
    size_t len = clnn_model_summary(m, buf, sizeof buf);
    ck_assert_str_eq(buf, MNIST_SUMMARY);
    ck_assert_uint_eq(len, strlen(buf));

    /* truncation: NUL-terminated, the full length returned, a prefix of the text */
    char small[40];
    memset(small, 'x', sizeof small);
    ck_assert_uint_eq(clnn_model_summary(m, small, sizeof small), len);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    ck_assert_int_eq(strncmp(small, MNIST_SUMMARY, sizeof small - 1), 0);
    ck_assert_uint_eq(clnn_model_summary(m, NULL, 0), len);
    char one = 'x';
    ck_assert_uint_eq(clnn_model_summary(m, &one, 1), len);
    ck_assert_int_eq(one, '\0');
    char none[4] = "abc";
    ck_assert_uint_eq(clnn_model_summary(NULL, none, sizeof none), 0);
    ck_assert_str_eq(none, "");

    /* default names count per context, Keras style: a second CNN gets conv2d_2, ... */
    clnn_model *m2 = mnist_cnn(ctx);
    ck_assert_str_eq(clnn_model_layer_name(m2, 0), "conv2d_2");
    ck_assert_str_eq(clnn_model_layer_name(m2, 1), "max_pooling2d_2");
    ck_assert_str_eq(clnn_model_layer_name(m2, 5), "dense_1");
    ck_assert_ptr_null(clnn_model_layer_name(m2, 6));
    ck_assert_ptr_null(clnn_model_layer_name(m2, -1));
    ck_assert_ptr_nonnull(clnn_model_param_by_name(m2, "conv2d_3.weight"));
    clnn_model_destroy(m2);

    /* frozen layers move to the non-trainable count */
    ck_assert_int_eq(clnn_model_set_trainable(m, 5, 0), CLNN_OK);
    clnn_model_summary(m, buf, sizeof buf);
    EXPECT_CONTAINS(buf, "Total params: 34,826\nTrainable params: 18,816\n"
                         "Non-trainable params: 16,010\n");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_summary_functional)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model_options o;
    clnn_model_options_init(&o);
    snprintf(o.name, sizeof o.name, "%s", "resnet_block");
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, &o, &m), CLNN_OK);
    int in = clnn_model_input(m, "features", 1, (int64_t[]){8});
    int d = apply(m, clnn_layer_dense(8, CLNN_ACT_RELU), 1, &in);
    int b = apply(m, clnn_layer_batchnorm(), 1, &d);
    apply(m, clnn_layer_add(), 2, (int[]){in, b});
    char buf[4096];
    size_t len = clnn_model_summary(m, buf, sizeof buf);
    ck_assert_uint_eq(len, strlen(buf));
    EXPECT_CONTAINS(buf, "Model: \"resnet_block\"\n");
    EXPECT_CONTAINS(buf, "Connected to");
    EXPECT_CONTAINS(buf, "features (InputLayer)");
    EXPECT_CONTAINS(buf, "[(None, 8)]");
    EXPECT_CONTAINS(buf, "['features']");
    EXPECT_CONTAINS(buf, "['features', 'batch_normalization']");
    EXPECT_CONTAINS(buf, "dense (Dense)");
    EXPECT_CONTAINS(buf, " 72 ");
    /* BatchNorm: 32 parameters, 16 of them running statistics */
    EXPECT_CONTAINS(buf, "Total params: 104\nTrainable params: 88\nNon-trainable params: 16\n");
    clnn_model_destroy(m);

    /* a Sequential chain has no "Connected to" and no input row */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){8});
    push(m, clnn_layer_dense(2, CLNN_ACT_NONE));
    clnn_model_summary(m, buf, sizeof buf);
    EXPECT_CONTAINS(buf, "Model: \"sequential\"\n");
    ck_assert_ptr_null(strstr(buf, "Connected to"));
    ck_assert_ptr_null(strstr(buf, "InputLayer"));
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- parameters -------------------------------------------------------------------------------
 */
START_TEST(test_params)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){3, 6, 6});
    push(m, clnn_layer_conv2d(4, 3, 2, CLNN_ACT_RELU));           /* (4, 4, 5) */
    push(m, clnn_layer_batchnorm());                              /* 4 x 4 */
    push(m, clnn_layer_conv2d_transpose(2, 2, 3, CLNN_ACT_NONE)); /* (2, 5, 7) */
    push(m, clnn_layer_flatten());
    push(m, clnn_layer_dropout(0.25f));
    push(m, clnn_layer_dense(5, CLNN_ACT_SOFTMAX));
    ck_assert_int_eq(clnn_model_layer_count(m), 6);
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
        int trainable;
    } want[] = {
        {"conv2d.weight", 4, {4, 3, 3, 2}, 1},
        {"conv2d.bias", 1, {4}, 1},
        {"batch_normalization.weight", 1, {4}, 1},
        {"batch_normalization.bias", 1, {4}, 1},
        {"batch_normalization.running_mean", 1, {4}, 0},
        {"batch_normalization.running_var", 1, {4}, 0},
        {"conv2d_transpose.weight", 4, {4, 2, 2, 3}, 1},
        {"conv2d_transpose.bias", 1, {2}, 1},
        {"dense.weight", 2, {5, 70}, 1},
        {"dense.bias", 1, {5}, 1},
    };
    ck_assert_int_eq(clnn_model_param_count(m), (int)COUNT(want));
    int64_t total = 0, trainable = 0;
    for (int i = 0; i < (int)COUNT(want); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(clnn_tensor_name(t), want[i].name);
        ck_assert_ptr_eq(clnn_model_param_by_name(m, want[i].name), t);
        ck_assert_int_eq(clnn_tensor_ndim(t), want[i].ndim);
        for (int d = 0; d < want[i].ndim; d++)
            ck_assert_msg(clnn_tensor_dim(t, d) == want[i].shape[d], "%s axis %d: %lld",
                          want[i].name, d, (long long)clnn_tensor_dim(t, d));
        ck_assert_int_eq(clnn_tensor_dtype(t), CLNN_F32);
        ck_assert_int_eq(clnn_model_param_trainable(m, i), want[i].trainable);
        total += clnn_tensor_numel(t);
        trainable += want[i].trainable ? clnn_tensor_numel(t) : 0;
    }
    ck_assert_int_eq(total, 4 * 18 + 4 + 16 + 4 * 2 * 6 + 2 + 5 * 70 + 5);
    int64_t tr = -1;
    ck_assert_int_eq(clnn_model_count_params(m, &tr), total);
    ck_assert_int_eq(tr, trainable);
    ck_assert_int_eq(clnn_model_count_params(m, NULL), total);
    ck_assert_ptr_null(clnn_model_param(m, (int)COUNT(want)));
    ck_assert_ptr_null(clnn_model_param(m, -1));
    ck_assert_ptr_null(clnn_model_param_by_name(m, "dense"));
    ck_assert_ptr_null(clnn_model_param_by_name(m, "dense.kernel"));
    ck_assert_ptr_null(clnn_model_param_by_name(m, NULL));
    ck_assert_int_eq(clnn_model_param_trainable(m, 99), 0);

    /* freezing the convolution: its two parameters leave the trainable count */
    ck_assert_int_eq(clnn_model_set_trainable(m, 0, 0), CLNN_OK);
    ck_assert_int_eq(clnn_model_param_trainable(m, 0), 0);
    ck_assert_int_eq(clnn_model_param_trainable(m, 1), 0);
    ck_assert_int_eq(clnn_model_param_trainable(m, 2), 1);
    clnn_model_count_params(m, &tr);
    ck_assert_int_eq(tr, trainable - 4 * 18 - 4);
    /* all frozen, then all unfrozen: running statistics stay non-trainable */
    ck_assert_int_eq(clnn_model_set_trainable(m, -1, 0), CLNN_OK);
    clnn_model_count_params(m, &tr);
    ck_assert_int_eq(tr, 0);
    ck_assert_int_eq(clnn_model_set_trainable(m, -1, 1), CLNN_OK);
    clnn_model_count_params(m, &tr);
    ck_assert_int_eq(tr, trainable);
    ck_assert_int_eq(clnn_model_param_trainable(m, 4), 0);
    EXPECT_ST(ctx, clnn_model_set_trainable(m, 6, 0), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "6");
    EXPECT_ST(ctx, clnn_model_set_trainable(m, -2, 0), CLNN_ERR_INVALID);

    /* NULL models */
    ck_assert_int_eq(clnn_model_param_count(NULL), 0);
    ck_assert_ptr_null(clnn_model_param(NULL, 0));
    ck_assert_int_eq(clnn_model_count_params(NULL, &tr), 0);
    ck_assert_int_eq(tr, 0);
    ck_assert_int_eq(clnn_model_layer_count(NULL), 0);
    ck_assert_int_eq(clnn_model_status(NULL), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_model_set_trainable(NULL, 0, 0), CLNN_ERR_INVALID);
    clnn_model_destroy(NULL);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- errors -----------------------------------------------------------------------------------
 */
/* One builder failure: the model's status, its message and the context's. */
typedef struct err_case {
    const char *name;
    int (*build)(clnn_model *m); /* returns the failing builder's result */
    clnn_status want;
    const char *parts[3];
} err_case;

static int e_conv_on_vector(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){784});
    clnn_layer_spec s = clnn_layer_conv2d(8, 3, 3, CLNN_ACT_RELU);
    return clnn_model_push(m, &s);
}

static int e_dense_units0(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(0, CLNN_ACT_NONE);
    return clnn_model_push(m, &s);
}

static int e_dropout_rate1(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dropout(1.0f);
    return clnn_model_push(m, &s);
}

static int e_dropout_negative(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dropout(-0.1f);
    return clnn_model_push(m, &s);
}

static int e_add_mismatch(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec d = clnn_layer_dense(3, CLNN_ACT_NONE), a = clnn_layer_add();
    int h = clnn_model_apply(m, &d, 1, &in);
    return clnn_model_apply(m, &a, 2, (int[]){in, h});
}

static int e_add_one_input(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec a = clnn_layer_add();
    return clnn_model_apply(m, &a, 1, &in);
}

static int e_concat_mismatch(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 2, (int64_t[]){2, 3});
    clnn_layer_spec d = clnn_layer_dense(4, CLNN_ACT_NONE), c = clnn_layer_concatenate(0);
    int h = clnn_model_apply(m, &d, 1, &in); /* (2, 4) */
    return clnn_model_apply(m, &c, 2, (int[]){in, h});
}

static int e_concat_axis(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 2, (int64_t[]){2, 3});
    clnn_layer_spec c = clnn_layer_concatenate(2);
    return clnn_model_apply(m, &c, 2, (int[]){in, in});
}

static int e_embedding_f32(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){5});
    clnn_layer_spec s = clnn_layer_embedding(10, 4);
    return clnn_model_push(m, &s);
}

static int e_dense_i32(clnn_model *m)
{
    clnn_model_input_i32(m, "ids", 1, (int64_t[]){5});
    clnn_layer_spec s = clnn_layer_dense(4, CLNN_ACT_NONE);
    return clnn_model_push(m, &s);
}

static int e_pool_too_big(clnn_model *m)
{
    clnn_model_input(m, "x", 3, (int64_t[]){2, 3, 3});
    clnn_layer_spec s = clnn_layer_maxpool2d(4, 4);
    return clnn_model_push(m, &s);
}

static int e_kernel_too_big(clnn_model *m)
{
    clnn_model_input(m, "x", 3, (int64_t[]){2, 3, 5});
    clnn_layer_spec s = clnn_layer_conv2d(2, 5, 5, CLNN_ACT_NONE);
    return clnn_model_push(m, &s);
}

static int e_reshape_count(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){12});
    clnn_layer_spec s = clnn_layer_reshape(2, (int64_t[]){5, -1});
    return clnn_model_push(m, &s);
}

static int e_push_first(clnn_model *m)
{
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    return clnn_model_push(m, &s);
}

static int e_apply_first(clnn_model *m)
{
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    return clnn_model_apply(m, &s, 1, (int[]){0});
}

static int e_apply_bad_node(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    return clnn_model_apply(m, &s, 1, (int[]){5});
}

static int e_apply_negative_node(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    return clnn_model_apply(m, &s, 1, (int[]){-1});
}

static int e_apply_null_spec(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    return clnn_model_apply(m, NULL, 1, &in);
}

static int e_apply_bad_kind(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    s.kind = (clnn_layer_kind)99;
    return clnn_model_apply(m, &s, 1, &in);
}

static int e_reapply_input_node(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    return clnn_model_reapply(m, in, 1, &in);
}

static int e_reapply_bad_node(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(4, CLNN_ACT_NONE);
    clnn_model_apply(m, &s, 1, &in);
    return clnn_model_reapply(m, 7, 1, &in);
}

static int e_reapply_bad_input(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(4, CLNN_ACT_NONE);
    int d = clnn_model_apply(m, &s, 1, &in);
    return clnn_model_reapply(m, d, 1, (int[]){9});
}

static int e_reapply_wrong_shape(clnn_model *m)
{
    int in = clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(3, CLNN_ACT_NONE);
    int d = clnn_model_apply(m, &s, 1, &in);
    return clnn_model_reapply(m, d, 1, &d); /* weight (3, 4) on a (3) input */
}

static int e_duplicate_name(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = named(clnn_layer_dense(4, CLNN_ACT_NONE), "twice");
    clnn_model_push(m, &s);
    return clnn_model_push(m, &s);
}

static int e_long_name(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec ok = named(clnn_layer_dense(4, CLNN_ACT_NONE),
                               "abcdefghijklmnopqrstuvwxyz01234567"); /* 34: fine */
    if (clnn_model_push(m, &ok) < 0)
        return -2;
    clnn_layer_spec s =
        named(clnn_layer_dense(4, CLNN_ACT_NONE), "abcdefghijklmnopqrstuvwxyz012345678"); /* 35 */
    return clnn_model_push(m, &s);
}

static int e_input_bad_dim(clnn_model *m)
{
    return clnn_model_input(m, "x", 2, (int64_t[]){3, 0});
}

static int e_input_ndim(clnn_model *m)
{
    return clnn_model_input(m, "x", 0, (int64_t[]){3});
}

static int e_bad_activation(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_dense(4, (clnn_activation)42);
    return clnn_model_push(m, &s);
}

static int e_bn_eps(clnn_model *m)
{
    clnn_model_input(m, "x", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_batchnorm();
    s.eps = 0.0f;
    return clnn_model_push(m, &s);
}

static int e_embedding_dims(clnn_model *m)
{
    clnn_model_input_i32(m, "ids", 1, (int64_t[]){4});
    clnn_layer_spec s = clnn_layer_embedding(0, 4);
    return clnn_model_push(m, &s);
}

static int e_conv_groups(clnn_model *m)
{
    clnn_model_input(m, "x", 3, (int64_t[]){3, 5, 5});
    clnn_layer_spec s = clnn_layer_conv2d(4, 3, 3, CLNN_ACT_NONE);
    s.groups = 2; /* 3 channels do not split into 2 groups */
    return clnn_model_push(m, &s);
}

// clang-format off
static const err_case err_cases[] = {
    {"conv2d on (784)", e_conv_on_vector, CLNN_ERR_SHAPE, {"(C, H, W)", "(784,)", "conv2d"}},
    {"dense units 0", e_dense_units0, CLNN_ERR_INVALID, {"units >= 1", "got 0", "dense"}},
    {"dropout rate 1", e_dropout_rate1, CLNN_ERR_INVALID, {"[0, 1)", "got 1", "dropout"}},
    {"dropout rate < 0", e_dropout_negative, CLNN_ERR_INVALID, {"[0, 1)", "-0.1", NULL}},
    {"add mismatch", e_add_mismatch, CLNN_ERR_SHAPE, {"(4,)", "(3,)", "one shape"}},
    {"add one input", e_add_one_input, CLNN_ERR_INVALID, {"2 to", "got 1", "add"}},
    {"concatenate mismatch", e_concat_mismatch, CLNN_ERR_SHAPE, {"(2, 3)", "(2, 4)", "axis 0"}},
    {"concatenate axis", e_concat_axis, CLNN_ERR_INVALID, {"axis", "got 2", "(2, 3)"}},
    {"embedding on f32", e_embedding_f32, CLNN_ERR_INVALID, {"i32", "f32", "embedding"}},
    {"dense on i32", e_dense_i32, CLNN_ERR_INVALID, {"f32", "i32", "dense"}},
    {"pool too big", e_pool_too_big, CLNN_ERR_SHAPE, {"(4, 4)", "(2, 3, 3)", "max_pooling2d"}},
    {"kernel too big", e_kernel_too_big, CLNN_ERR_SHAPE, {"(2, 3, 5)", "conv2d", NULL}},
    {"reshape count", e_reshape_count, CLNN_ERR_SHAPE, {"(12,)", "(5, -1)", "reshape"}},
    {"push first", e_push_first, CLNN_ERR_STATE, {"no input", "clnn_model_input", NULL}},
    {"apply first", e_apply_first, CLNN_ERR_STATE, {"no input", "clnn_model_input", NULL}},
    {"apply bad node", e_apply_bad_node, CLNN_ERR_INVALID, {"node 5", "0 to 0", NULL}},
    {"apply node -1", e_apply_negative_node, CLNN_ERR_INVALID, {"node -1", NULL, NULL}},
    {"apply NULL spec", e_apply_null_spec, CLNN_ERR_INVALID, {"NULL", NULL, NULL}},
    {"apply bad kind", e_apply_bad_kind, CLNN_ERR_INVALID, {"kind", "99", NULL}},
    {"reapply input node", e_reapply_input_node, CLNN_ERR_INVALID, {"node 0", "not a layer", NULL}},
    {"reapply bad node", e_reapply_bad_node, CLNN_ERR_INVALID, {"node 7", NULL, NULL}},
    {"reapply bad input", e_reapply_bad_input, CLNN_ERR_INVALID, {"node 9", NULL, NULL}},
    {"reapply wrong shape", e_reapply_wrong_shape, CLNN_ERR_SHAPE, {"clnn_model_reapply", NULL, NULL}},
    {"duplicate name", e_duplicate_name, CLNN_ERR_INVALID, {"'twice'", "unique", NULL}},
    {"name of 35", e_long_name, CLNN_ERR_INVALID, {"34", "abcdefghijklmnopqrstuvwxyz012345678", NULL}},
    {"input dimension 0", e_input_bad_dim, CLNN_ERR_SHAPE, {"positive", "(3, 0)", NULL}},
    {"input ndim 0", e_input_ndim, CLNN_ERR_INVALID, {"got 0", NULL, NULL}},
    {"bad activation", e_bad_activation, CLNN_ERR_INVALID, {"activation", "42", NULL}},
    {"batchnorm eps 0", e_bn_eps, CLNN_ERR_INVALID, {"eps", "got 0", NULL}},
    {"embedding input_dim 0", e_embedding_dims, CLNN_ERR_INVALID, {"input_dim", "got 0", NULL}},
    {"conv groups", e_conv_groups, CLNN_ERR_SHAPE, {"groups 2", "(3)", NULL}},
};
// clang-format on

START_TEST(test_builder_error)
{
    const err_case *c = &err_cases[_i];
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int id = c->build(m);
    ck_assert_msg(id == -1, "%s: the failing builder returned %d (%s)", c->name, id,
                  clnn_model_last_error(m));
    ck_assert_msg(clnn_model_status(m) == c->want, "%s: status %s, expected %s: %s", c->name,
                  clnn_status_name(clnn_model_status(m)), clnn_status_name(c->want),
                  clnn_model_last_error(m));
    const char *msg = clnn_model_last_error(m);
    for (int k = 0; k < 3 && c->parts[k]; k++)
        EXPECT_CONTAINS(msg, c->parts[k]);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), msg);
    char first[512];
    snprintf(first, sizeof first, "%s", msg);

    /* sticky: every builder now returns -1, the first error stays */
    clnn_layer_spec d = clnn_layer_dense(2, CLNN_ACT_NONE);
    ck_assert_int_eq(clnn_model_push(m, &d), -1);
    ck_assert_int_eq(clnn_model_input(m, "y", 1, (int64_t[]){2}), -1);
    ck_assert_int_eq(clnn_model_input_i32(m, "z", 1, (int64_t[]){2}), -1);
    ck_assert_int_eq(clnn_model_apply(m, &d, 1, (int[]){0}), -1);
    ck_assert_int_eq(clnn_model_reapply(m, 1, 1, (int[]){0}), -1);
    ck_assert_int_eq(clnn_model_apply_model(m, NULL, 0), -1);
    ck_assert_int_eq(clnn_model_status(m), c->want);
    ck_assert_str_eq(clnn_model_last_error(m), first);
    /* and the model cannot be used */
    float x[8] = {0}, out[8];
    ck_assert_int_eq(clnn_model_predict(m, x, 1, 1, out, 8), c->want);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), first);
    EXPECT_ST(ctx, clnn_model_set_output(m, 0), c->want);
    clnn_compile_options co;
    clnn_compile_options_init(&co, CLNN_LOSS_MSE, CLNN_OPTIM_SGD);
    ck_assert_int_eq(clnn_model_compile(m, &co), c->want);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* compile, predict and create argument checks */
START_TEST(test_use_errors)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = NULL;
    clnn_model_options o;
    clnn_model_options_init(&o);
    ck_assert_int_eq(o.init, CLNN_INIT_KERAS);
    ck_assert_int_eq(o.seed, 0);
    o.init = (clnn_init_style)5;
    EXPECT_ST(ctx, clnn_model_create(ctx, &o, &m), CLNN_ERR_INVALID);
    ck_assert_ptr_null(m);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "got 5");
    EXPECT_ST(ctx, clnn_model_create(ctx, NULL, NULL), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_model_create(NULL, NULL, &m), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_create(ctx, NULL, &m), CLNN_OK);
    ck_assert_str_eq(clnn_model_last_error(m), "");

    /* nothing to run yet */
    float x[2 * 8] = {0}, out[2 * 6]; /* 2 samples of (2, 4) */
    EXPECT_ST(ctx, clnn_model_predict(m, x, 2, 2, out, 12), CLNN_ERR_STATE);
    input(m, 2, (int64_t[]){2, 4});
    EXPECT_ST(ctx, clnn_model_predict(m, x, 1, 1, out, 12), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "no layer");
    push(m, clnn_layer_dense(3, CLNN_ACT_SOFTMAX)); /* (2, 3) */

    /* a categorical loss needs an output (classes) */
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(2, 3)");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(classes)");
    c.loss = CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_SHAPE);
    c.loss = CLNN_LOSS_CROSS_ENTROPY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_SHAPE);
    c.loss = CLNN_LOSS_MSE;
    ck_assert_ptr_null(clnn_model_optimizer(m));
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK); /* any shape */
    c.loss = (clnn_loss_kind)17;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_compile(m, NULL), CLNN_ERR_INVALID);
    /* compile errors are not builder errors */
    ck_assert_int_eq(clnn_model_status(m), CLNN_OK);

    /* predict: n, x, out room, batch size */
    EXPECT_ST(ctx, clnn_model_predict(m, x, 0, 2, out, 12), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "n = 0");
    EXPECT_ST(ctx, clnn_model_predict(m, x, -3, 2, out, 12), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, NULL, 2, 2, out, 12), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, x, 2, 2, out, 11), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "12");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "11");
    EXPECT_ST(ctx, clnn_model_predict(m, x, 2, 2, NULL, 12), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, x, 2, 0, out, 12), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "batch size");
    EXPECT_ST(ctx, clnn_model_predict(NULL, x, 2, 2, out, 12), CLNN_ERR_INVALID);
    /* after all that, it still predicts (softmax rows of 3 sum to 1) */
    EXPECT_ST(ctx, clnn_model_predict(m, x, 2, 2, out, 12), CLNN_OK);
    for (int r = 0; r < 4; r++)
        ck_assert_double_eq_tol(out[3 * r] + out[3 * r + 1] + out[3 * r + 2], 1.0, 1e-5);
    clnn_model_destroy(m);

    /* a model with two inputs cannot be predicted with (one x) */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    int a = clnn_model_input(m, "a", 1, (int64_t[]){3});
    int b = clnn_model_input(m, "b", 1, (int64_t[]){3});
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(b, 1);
    apply(m, clnn_layer_add(), 2, (int[]){a, b});
    EXPECT_ST(ctx, clnn_model_predict(m, x, 1, 1, out, 12), CLNN_ERR_UNSUPPORTED);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "2");
    clnn_model_destroy(m);

    /* categorical with a single class */
    m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 1, (int64_t[]){3});
    push(m, clnn_layer_dense(1, CLNN_ACT_SIGMOID));
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_SGD);
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_SHAPE);
    clnn_compile_options_init(&c, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_SGD);
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- the model-level gradient -----------------------------------------------------------------
 */
/* input (2, 4, 4) -> Conv2D(2, 3x3, act) -> Flatten -> Dense(3, dense act); MSE against float
 * targets. One plain SGD step with lr 1 gives w - grad; the gradient of every parameter is
 * compared with central differences of the loss that clnn_model_evaluate reports. The loop runs
 * the Conv2D's graph forms: tanh, relu, sigmoid, elu and leaky_relu (bias and activation fused
 * into the convolution, its backward masking or scaling by the derivative taken from the output),
 * none (the bias in the convolution), leaky_relu with a negative alpha (conv2d + bias_act: its
 * output does not give the sign of its input); and the Dense layer's bias with no activation,
 * tanh, relu, sigmoid, elu and leaky_relu (on CPU devices all in the own SGEMM's epilogue, the
 * backward scaling by the derivative taken from the output). Keras's default alphas (elu 1,
 * leaky_relu 0.3) except where a case sets one. (Leaky ReLUs 0.2 and 0.3 put a dense
 * pre-activation within the difference step of the kink: central differences then miss by 4%.) */
START_TEST(test_model_gradient)
{
    static const clnn_activation acts[9] = {
        CLNN_ACT_TANH, CLNN_ACT_RELU, CLNN_ACT_NONE,       CLNN_ACT_TANH,      CLNN_ACT_SIGMOID,
        CLNN_ACT_ELU,  CLNN_ACT_ELU,  CLNN_ACT_LEAKY_RELU, CLNN_ACT_LEAKY_RELU};
    static const clnn_activation dense_acts[9] = {
        CLNN_ACT_NONE, CLNN_ACT_TANH, CLNN_ACT_RELU,       CLNN_ACT_SIGMOID,   CLNN_ACT_NONE,
        CLNN_ACT_TANH, CLNN_ACT_ELU,  CLNN_ACT_LEAKY_RELU, CLNN_ACT_LEAKY_RELU};
    /* conv alpha, dense alpha; 0: the default */
    static const float alphas[9][2] = {{0, 0}, {0, 0},    {0, 0},        {0, 0},       {0, 0},
                                       {0, 0}, {0.7f, 0}, {0.25f, 0.3f}, {-0.5f, 0.1f}};
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 3, C = 2, S = 4, K = 2, U = 3 };
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 0);
    input(m, 3, (int64_t[]){C, S, S});
    clnn_layer_spec conv = clnn_layer_conv2d(K, 3, 3, acts[_i]);
    clnn_layer_spec dense = clnn_layer_dense(U, dense_acts[_i]);
    if (alphas[_i][0] != 0)
        conv.alpha = alphas[_i][0];
    if (alphas[_i][1] != 0)
        dense.alpha = alphas[_i][1];
    push(m, named(conv, "c"));
    push(m, clnn_layer_flatten());
    push(m, named(dense, "d"));
    clnn_compile_options co;
    clnn_compile_options_init(&co, CLNN_LOSS_MSE, CLNN_OPTIM_SGD);
    co.optimizer.lr = 1.0f;
    EXPECT_ST(ctx, clnn_model_compile(m, &co), CLNN_OK);

    float x[N * C * S * S], t[N * U];
    fillv(x, COUNT(x), 120);
    fillv(t, COUNT(t), 121);
    const clnn_data data = {x, N, 3, {C, S, S}, NULL, t};
    const int np = clnn_model_param_count(m);
    ck_assert_int_eq(np, 4);
    float *w0[4];
    for (int i = 0; i < np; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        float *v = malloc((size_t)clnn_tensor_numel(p) * sizeof *v);
        fillv(v, (size_t)clnn_tensor_numel(p), 122 + i);
        ck_assert_int_eq(clnn_tensor_write(p, v, (size_t)clnn_tensor_numel(p) * 4), CLNN_OK);
        w0[i] = v;
    }

    /* central differences first (evaluate does not change the weights) */
    const double h = 1e-2;
    double *fd[4];
    for (int i = 0; i < np; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        const int64_t n = clnn_tensor_numel(p);
        fd[i] = malloc((size_t)n * sizeof *fd[i]);
        float *v = malloc((size_t)n * sizeof *v);
        memcpy(v, w0[i], (size_t)n * sizeof *v);
        for (int64_t j = 0; j < n; j++) {
            double l[2];
            for (int side = 0; side < 2; side++) {
                v[j] = (float)(w0[i][j] + (side ? -h : h));
                ck_assert_int_eq(clnn_tensor_write(p, v, (size_t)n * 4), CLNN_OK);
                clnn_eval_result r;
                EXPECT_ST(ctx, clnn_model_evaluate(m, &data, N, &r), CLNN_OK);
                l[side] = r.loss;
            }
            v[j] = w0[i][j];
            fd[i][j] = (l[0] - l[1]) / (2 * h);
        }
        ck_assert_int_eq(clnn_tensor_write(p, w0[i], (size_t)n * 4), CLNN_OK);
        free(v);
    }

    double loss = -1;
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &data, &loss), CLNN_OK);
    ck_assert(loss > 0);
    double maxg = 0;
    for (int i = 0; i < np; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        float *w1 = read_param(p);
        for (int64_t j = 0; j < clnn_tensor_numel(p); j++) {
            double g = (double)w0[i][j] - w1[j];
            maxg = fmax(maxg, fabs(g));
            ck_assert_msg(fabs(g - fd[i][j]) <= 2e-3 + 2e-2 * fabs(fd[i][j]),
                          "%s[%lld]: gradient %.6g, central difference %.6g", clnn_tensor_name(p),
                          (long long)j, g, fd[i][j]);
        }
        free(w1);
        free(w0[i]);
        free(fd[i]);
    }
    ck_assert_msg(maxg > 1e-2, "the gradients are all tiny (%g): a weak check", maxg);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- the suite --------------------------------------------------------------------------------
 */
static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *layers = tcase_create("layers");
    tcase_add_test(layers, test_dense_forward);
    tcase_add_loop_test(layers, test_conv_forward, 0, (int)COUNT(conv_cases));
    tcase_add_loop_test(layers, test_pool_forward, 0, (int)COUNT(pool_cases));
    tcase_add_test(layers, test_global_avgpool_flatten);
    tcase_add_test(layers, test_reshape_dropout_activation);
    tcase_add_test(layers, test_batchnorm_forward);
    tcase_add_test(layers, test_forward_training_mode);
    tcase_add_test(layers, test_layernorm_forward);
    tcase_add_test(layers, test_embedding_forward);
    tcase_add_test(layers, test_add_concatenate);
    suite_add_tcase(s, layers);

    TCase *functional = tcase_create("functional");
    tcase_add_test(functional, test_residual_block);
    tcase_add_test(functional, test_reapply_shares_weights);
    tcase_add_test(functional, test_apply_model);
    tcase_add_test(functional, test_set_output_node_shape);
    tcase_add_test(functional, test_reapply_dense_two_inputs);
    tcase_add_test(functional, test_reapply_add_one_input);
    tcase_add_test(functional, test_reapply_conv_channels);
    tcase_add_test(functional, test_apply_model_identity);
    suite_add_tcase(s, functional);

    TCase *init = tcase_create("init");
    tcase_add_test(init, test_init_keras);
    tcase_add_test(init, test_init_pytorch);
    tcase_add_test(init, test_init_seed);
    suite_add_tcase(s, init);

    TCase *model = tcase_create("model");
    tcase_add_test(model, test_summary_mnist);
    tcase_add_test(model, test_summary_functional);
    tcase_add_test(model, test_params);
    tcase_add_loop_test(model, test_model_gradient, 0, 9);
    suite_add_tcase(s, model);

    TCase *errors = tcase_create("errors");
    tcase_add_loop_test(errors, test_builder_error, 0, (int)COUNT(err_cases));
    tcase_add_test(errors, test_use_errors);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return test_run_suite(nn_suite());
}
