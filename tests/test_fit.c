/* test_fit.c — the `check` suite of training models (src/nn/train.c, fit.c): compile, fit,
 * evaluate, predict and train_on_batch, metrics, the history, callbacks and the progress output.
 *
 * Covered: convergence of a small MLP (Adam, SGD with momentum, PyTorch-style CROSS_ENTROPY on
 * logits), a tiny CNN, MSE regression and binary cross-entropy with binary accuracy, on synthetic
 * data from a fixed host RNG; the last partial batch of an epoch (optimizer steps counted, weights
 * equal to train_on_batch on the same slices); bit-for-bit reproducibility for a seed;
 * validation_split (the last samples, as Keras) and validation_data against evaluate; history
 * columns; early stopping (patience, restore_best_weights, an unknown monitor); the on_epoch_end
 * callback; the history CSV (written after each epoch, parsed back, errors); the one-line-per-epoch
 * progress output; evaluate and predict against host computations and over batch sizes that do
 * not divide n; error statuses and messages; a GAN-style frozen discriminator (trainable captured
 * at compile, as Keras); an int32 (Embedding) input; a learning-rate schedule in the history;
 * double-buffered batches (the upload queue) against the single-queue path, bit for bit.
 * Layer forward values, initialisers and summaries are test_nn.c's.
 * Each test creates its own context (check forks every test); CK_FORK=no to debug. The models
 * share a few shapes so that POCL's kernel cache serves most of the tests. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"
/* the context's upload queue (ctx->upload_queue), to see which path fit took */
#define CLNN__NO_CL_WRAPPERS
#include "internal.h"

#define NF 8 /* features of the MLP data */
#define NC 3 /* classes of the MLP data */

/* ---- host RNG and data ------------------------------------------------------------------------
 */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unif(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_gauss(rng *r)
{
    double u1 = rng_unif(r), u2 = rng_unif(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* n samples of NF features in NC Gaussian blobs (class i % NC, centre 3 on features 2c, 2c+1). */
static void make_blobs(int64_t n, float *x, int32_t *labels, uint64_t seed)
{
    rng r = {seed};
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % NC);
        labels[i] = c;
        for (int k = 0; k < NF; k++)
            x[i * NF + k] = (float)(rng_gauss(&r) + (k / 2 == c ? 3.0 : 0.0));
    }
}

/* ---- helpers ----------------------------------------------------------------------------------
 */
#define MODEL_OK(m)                                                                                \
    ck_assert_msg(clnn_model_status(m) == CLNN_OK, "model: %s", clnn_model_last_error(m))

static clnn_model *new_model(clnn_ctx *ctx, uint64_t seed)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = seed;
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, &mo, &m), CLNN_OK);
    return m;
}

/* input (NF) -> Dense(16, relu) -> Dense(units, act) */
static clnn_model *mlp(clnn_ctx *ctx, uint64_t seed, int units, clnn_activation act)
{
    clnn_model *m = new_model(ctx, seed);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    clnn_layer_spec l1 = clnn_layer_dense(16, CLNN_ACT_RELU), l2 = clnn_layer_dense(units, act);
    clnn_model_push(m, &l1);
    clnn_model_push(m, &l2);
    MODEL_OK(m);
    return m;
}

static void compile(clnn_ctx *ctx, clnn_model *m, clnn_loss_kind loss, clnn_optim_kind opt,
                    float lr, unsigned metrics)
{
    clnn_compile_options c;
    clnn_compile_options_init(&c, loss, opt);
    c.optimizer.lr = lr;
    c.metrics = metrics;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
}

static clnn_fit_options quiet(int epochs, int64_t batch)
{
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = epochs;
    f.batch_size = batch;
    f.verbose = 0;
    return f;
}

/* Every parameter of m, concatenated (malloc'd); *count receives the number of floats. */
static float *read_params(clnn_ctx *ctx, const clnn_model *m, size_t *count)
{
    size_t total = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++)
        total += (size_t)clnn_tensor_numel(clnn_model_param(m, i));
    float *v = malloc((total ? total : 1) * sizeof *v);
    ck_assert_ptr_nonnull(v);
    size_t o = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        EXPECT_ST(ctx, clnn_tensor_read(t, v + o, clnn_tensor_bytes(t)), CLNN_OK);
        o += (size_t)clnn_tensor_numel(t);
    }
    *count = total;
    return v;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static double last(const clnn_history *h, const char *name)
{
    return clnn_history_get(h, name, h->epochs - 1);
}

/* ---- convergence ------------------------------------------------------------------------------
 */
START_TEST(test_converge_mlp_adam)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 300 };
    static float x[N * NF];
    static int32_t y[N];
    make_blobs(N, x, y, 1);
    clnn_model *m = mlp(ctx, 11, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(8, 32);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->epochs, 8);
    ck_assert_msg(last(h, "loss") < 0.15 && last(h, "loss") < h->values[0],
                  "loss %g (first epoch %g)", last(h, "loss"), h->values[0]);
    ck_assert_msg(last(h, "accuracy") > 0.95, "accuracy %g", last(h, "accuracy"));
    clnn_eval_result r;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 64, &r), CLNN_OK);
    ck_assert_msg(r.loss < 0.15 && r.accuracy > 0.95, "evaluate: loss %g accuracy %g", r.loss,
                  r.accuracy);
    ck_assert_int_eq(r.samples, N);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* PyTorch-style: logits out, CrossEntropyLoss with int labels, SGD with momentum */
START_TEST(test_converge_sgd_cross_entropy)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 300 };
    static float x[N * NF];
    static int32_t y[N];
    make_blobs(N, x, y, 2);
    clnn_model *m = mlp(ctx, 12, NC, CLNN_ACT_NONE);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_SGD);
    c.optimizer.lr = 0.05f;
    c.optimizer.momentum = 0.9f;
    c.metrics = CLNN_METRIC_ACCURACY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(8, 32);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_msg(last(h, "loss") < 0.15, "loss %g", last(h, "loss"));
    ck_assert_msg(last(h, "accuracy") > 0.95, "accuracy %g", last(h, "accuracy"));
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* 1x8x8 images: a bright horizontal (class 0) or vertical (class 1) bar plus noise */
START_TEST(test_converge_cnn)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 160 };
    static float x[N * 64];
    static int32_t y[N];
    rng r = {3};
    for (int i = 0; i < N; i++) {
        int cls = i % 2, pos = (int)(rng_next(&r) % 8);
        y[i] = cls;
        for (int p = 0; p < 64; p++) {
            int row = p / 8, col = p % 8;
            int on = cls == 0 ? row == pos : col == pos;
            x[i * 64 + p] = (float)((on ? 1.0 : 0.0) + 0.2 * rng_gauss(&r));
        }
    }
    clnn_model *m = new_model(ctx, 13);
    clnn_model_input(m, "image", 3, (int64_t[]){1, 8, 8});
    clnn_layer_spec l[] = {clnn_layer_conv2d(4, 3, 3, CLNN_ACT_RELU), clnn_layer_maxpool2d(2, 2),
                           clnn_layer_flatten(), clnn_layer_dense(2, CLNN_ACT_SOFTMAX)};
    for (int i = 0; i < 4; i++)
        clnn_model_push(m, &l[i]);
    MODEL_OK(m);
    compile(ctx, m, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 3, {1, 8, 8}, y, NULL};
    clnn_fit_options f = quiet(10, 16);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    clnn_eval_result res;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 32, &res), CLNN_OK);
    ck_assert_msg(res.accuracy > 0.9, "accuracy %g (loss %g)", res.accuracy, res.loss);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Dense(1) on a linear target: the MSE falls well below the target's variance */
START_TEST(test_mse_regression)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 200 };
    static float x[N * NF], t[N];
    rng r = {4};
    double var = 0;
    for (int i = 0; i < N; i++) {
        double s = 0.5;
        for (int k = 0; k < NF; k++) {
            x[i * NF + k] = (float)rng_gauss(&r);
            s += (k % 2 ? -0.4 : 0.3) * x[i * NF + k];
        }
        t[i] = (float)s;
        var += s * s / N;
    }
    clnn_model *m = new_model(ctx, 14);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    clnn_layer_spec l = clnn_layer_dense(1, CLNN_ACT_NONE);
    clnn_model_push(m, &l);
    MODEL_OK(m);
    compile(ctx, m, CLNN_LOSS_MSE, CLNN_OPTIM_ADAM, 0.05f, 0);
    clnn_data d = {x, N, 1, {NF}, NULL, t};
    clnn_fit_options f = quiet(15, 16);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->columns, 2); /* loss, lr */
    ck_assert_msg(isnan(clnn_history_get(h, "accuracy", 0)), "no accuracy column expected");
    ck_assert_msg(last(h, "loss") < 0.01 && h->values[0] > 5 * last(h, "loss"),
                  "mse %g (first epoch %g, target variance %g)", last(h, "loss"), h->values[0],
                  var);
    clnn_eval_result res;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, &res), CLNN_OK);
    ck_assert_msg(res.loss < 0.01, "evaluate mse %g", res.loss);
    ck_assert_msg(isnan(res.accuracy), "accuracy %g without a metric", res.accuracy);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* sigmoid output, labels 0/1: ACCURACY resolves to binary accuracy (threshold 0.5) */
START_TEST(test_bce_binary_accuracy)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 200 };
    static float x[N * NF], p[N];
    static int32_t y[N];
    rng r = {5};
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < NF; k++) {
            x[i * NF + k] = (float)rng_gauss(&r);
            s += (k < 4 ? 1.0 : -0.5) * x[i * NF + k];
        }
        y[i] = s > 0;
    }
    clnn_model *m = mlp(ctx, 15, 1, CLNN_ACT_SIGMOID);
    compile(ctx, m, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(10, 32);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_msg(last(h, "accuracy") > 0.9, "accuracy %g", last(h, "accuracy"));
    ck_assert_msg(last(h, "loss") < 0.3, "loss %g", last(h, "loss"));
    /* evaluate's accuracy is the host's thresholded accuracy of predict's outputs */
    clnn_eval_result res;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 32, &res), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 32, p, N), CLNN_OK);
    int correct = 0;
    double bce = 0;
    for (int i = 0; i < N; i++) {
        correct += (p[i] > 0.5f) == (y[i] == 1);
        double q = fmin(fmax(p[i], 1e-7), 1 - 1e-7);
        bce -= y[i] ? log(q) : log(1 - q);
    }
    ck_assert_msg(fabs(res.accuracy - correct / (double)N) < 1e-12, "accuracy %g, host %g",
                  res.accuracy, correct / (double)N);
    ck_assert_msg(fabs(res.loss - bce / N) < 1e-4, "bce %g, host %g", res.loss, bce / N);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- batches, reproducibility -----------------------------------------------------------------
 */
/* n = 10 at batch 4: 3 steps per epoch, the last of 2 samples; equal to train_on_batch on the
 * same slices in a twin model */
START_TEST(test_partial_batch)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 10 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 6);
    clnn_model *a = mlp(ctx, 21, NC, CLNN_ACT_SOFTMAX), *b = mlp(ctx, 21, NC, CLNN_ACT_SOFTMAX),
               *c = mlp(ctx, 21, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, a, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    compile(ctx, b, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    compile(ctx, c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    ck_assert_ptr_null(clnn_model_optimizer(a));        /* made by the first training step */
    ck_assert_int_eq(clnn_model_history(a)->epochs, 0); /* empty before the first fit */
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(2, 4);
    f.shuffle = 0;
    EXPECT_ST(ctx, clnn_model_fit(a, &d, &f), CLNN_OK);
    ck_assert_ptr_nonnull(clnn_model_optimizer(a));
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(a)), 3 * 2);
    double batch_loss[6], sum0 = 0;
    for (int e = 0, k = 0; e < 2; e++)
        for (int first = 0; first < N; first += 4, k++) {
            int n = N - first < 4 ? N - first : 4;
            clnn_data s = {x + first * NF, n, 1, {NF}, y + first, NULL};
            EXPECT_ST(ctx, clnn_model_train_on_batch(b, &s, &batch_loss[k]), CLNN_OK);
            if (e == 0)
                sum0 += batch_loss[k] * n;
        }
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(b)), 6);
    /* the epoch's loss is the sample-weighted mean of the batch losses */
    const clnn_history *h = clnn_model_history(a);
    ck_assert_msg(fabs(h->values[0] - sum0 / N) < 1e-6, "epoch loss %.9g, batches %.9g",
                  h->values[0], sum0 / N);
    size_t na, nb;
    float *pa = read_params(ctx, a, &na), *pb = read_params(ctx, b, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(max_abs_diff(pa, pb, na) <= 1e-6, "fit and train_on_batch differ by %g",
                  max_abs_diff(pa, pb, na));
    /* without the 2-sample batches the weights differ: the partial batch did train */
    for (int e = 0; e < 2; e++)
        for (int first = 0; first < 8; first += 4) {
            clnn_data s = {x + first * NF, 4, 1, {NF}, y + first, NULL};
            EXPECT_ST(ctx, clnn_model_train_on_batch(c, &s, NULL), CLNN_OK);
        }
    size_t nc;
    float *pc = read_params(ctx, c, &nc);
    ck_assert_msg(max_abs_diff(pa, pc, na) > 1e-4, "the partial batch changed nothing");
    free(pa);
    free(pb);
    free(pc);
    clnn_model_destroy(a);
    clnn_model_destroy(b);
    clnn_model_destroy(c);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* train_on_batch returns the batch's loss before the update, as evaluate computes it */
START_TEST(test_train_on_batch_loss)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 7);
    clnn_model *m = mlp(ctx, 22, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_SGD, 0.1f, 0);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_eval_result before, after;
    double loss = -1;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, &before), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, &loss), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, &after), CLNN_OK);
    ck_assert_msg(fabs(loss - before.loss) < 1e-5, "train_on_batch %g, evaluate before %g", loss,
                  before.loss);
    ck_assert_msg(after.loss < before.loss, "loss %g -> %g after a step", before.loss, after.loss);
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, NULL), CLNN_OK); /* loss may be NULL */
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(m)), 2);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

static void fit_seeded(clnn_ctx *ctx, const clnn_data *d, uint64_t fit_seed, double *loss3,
                       float **params, size_t *np)
{
    clnn_model *m = mlp(ctx, 31, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_fit_options f = quiet(3, 8);
    f.seed = fit_seed;
    EXPECT_ST(ctx, clnn_model_fit(m, d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->epochs, 3);
    for (int e = 0; e < 3; e++)
        loss3[e] = clnn_history_get(h, "loss", e);
    *params = read_params(ctx, m, np);
    clnn_model_destroy(m);
}

START_TEST(test_reproducible)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 60 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 8);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    double l1[3], l2[3], l3[3];
    float *p1, *p2, *p3;
    size_t n1, n2, n3;
    fit_seeded(ctx, &d, 5, l1, &p1, &n1);
    fit_seeded(ctx, &d, 5, l2, &p2, &n2);
    fit_seeded(ctx, &d, 6, l3, &p3, &n3);
    ck_assert_msg(!memcmp(l1, l2, sizeof l1), "same seed, losses %.9g %.9g %.9g vs %.9g %.9g %.9g",
                  l1[0], l1[1], l1[2], l2[0], l2[1], l2[2]);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(!memcmp(p1, p2, n1 * sizeof *p1), "same seed, different weights");
    ck_assert_msg(memcmp(l1, l3, sizeof l1) != 0, "another shuffle seed gave the same losses");
    ck_assert_msg(memcmp(p1, p3, n1 * sizeof *p1) != 0, "another shuffle seed, same weights");
    free(p1);
    free(p2);
    free(p3);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- validation -------------------------------------------------------------------------------
 */
START_TEST(test_validation_split)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 40 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 9);
    clnn_model *m = mlp(ctx, 32, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(2, 10);
    f.validation_split = 0.25;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    /* 30 training samples at batch 10: 3 steps per epoch */
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(m)), 6);
    const clnn_history *h = clnn_model_history(m);
    static const char *const names[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"};
    ck_assert_int_eq(h->columns, 5);
    for (int c = 0; c < 5; c++)
        ck_assert_str_eq(h->names[c], names[c]);
    ck_assert_int_eq(h->epochs, 2);
    ck_assert_msg(clnn_history_get(h, "val_loss", 1) == h->values[1 * 5 + 2], "history_get");
    ck_assert_msg(isnan(clnn_history_get(h, "val_loss", 2)), "epoch out of range not NAN");
    ck_assert_msg(isnan(clnn_history_get(h, "nope", 0)), "unknown column not NAN");
    /* the validation set is the last 10 samples, evaluated after the epoch's updates */
    clnn_data tail = {x + 30 * NF, 10, 1, {NF}, y + 30, NULL};
    clnn_data head = {x, 10, 1, {NF}, y, NULL};
    clnn_eval_result rt, rh;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &tail, 10, &rt), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_evaluate(m, &head, 10, &rh), CLNN_OK);
    ck_assert_msg(fabs(rt.loss - last(h, "val_loss")) < 1e-5, "val_loss %.9g, evaluate %.9g",
                  last(h, "val_loss"), rt.loss);
    ck_assert_msg(fabs(rt.accuracy - last(h, "val_accuracy")) < 1e-12, "val_accuracy %g vs %g",
                  last(h, "val_accuracy"), rt.accuracy);
    ck_assert_msg(fabs(rh.loss - last(h, "val_loss")) > 1e-4, "the head gives the same loss");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_validation_data)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 40, V = 14 };
    float x[N * NF], vx[V * NF];
    int32_t y[N], vy[V];
    make_blobs(N, x, y, 10);
    make_blobs(V, vx, vy, 11);
    clnn_model *m = mlp(ctx, 33, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL}, v = {vx, V, 1, {NF}, vy, NULL};
    clnn_fit_options f = quiet(2, 10);
    f.validation_data = &v;
    f.validation_split = 0.5; /* ignored: validation_data takes precedence */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(m)), 2 * 4);
    const clnn_history *h = clnn_model_history(m);
    clnn_eval_result r;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &v, 5, &r), CLNN_OK);
    ck_assert_msg(fabs(r.loss - last(h, "val_loss")) < 1e-5, "val_loss %.9g, evaluate %.9g",
                  last(h, "val_loss"), r.loss);
    ck_assert_msg(fabs(r.accuracy - last(h, "val_accuracy")) < 1e-12, "val_accuracy %g vs %g",
                  last(h, "val_accuracy"), r.accuracy);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- early stopping and callbacks -------------------------------------------------------------
 */
START_TEST(test_early_stopping_patience)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 12);
    clnn_model *m = mlp(ctx, 34, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_SGD, 0.0f, 0);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(10, 4);
    f.shuffle = 0;
    f.early_stopping.enabled = 1;
    snprintf(f.early_stopping.monitor, sizeof f.early_stopping.monitor, "loss");
    f.early_stopping.patience = 2;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    /* Keras: the best at epoch 0, no improvement at epochs 1 and 2 -> stop after epoch 2 */
    ck_assert_msg(h->epochs == 3, "stopped after %d epochs, expected 3 (patience 2)", h->epochs);
    ck_assert_msg(clnn_history_get(h, "loss", 0) == clnn_history_get(h, "loss", 1),
                  "lr 0 changed the loss");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* a diverging regression: the best val_loss is epoch 0's, whose weights come back */
START_TEST(test_early_stopping_restore)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 16 };
    float x[N * NF], t[N];
    rng r = {13};
    for (int i = 0; i < N; i++) {
        t[i] = 0;
        for (int k = 0; k < NF; k++) {
            x[i * NF + k] = (float)rng_gauss(&r);
            t[i] += x[i * NF + k] * 0.25f;
        }
    }
    for (int restore = 0; restore < 2; restore++) {
        clnn_model *m = new_model(ctx, 35);
        clnn_model_input(m, "x", 1, (int64_t[]){NF});
        clnn_layer_spec l = clnn_layer_dense(1, CLNN_ACT_NONE);
        clnn_model_push(m, &l);
        MODEL_OK(m);
        compile(ctx, m, CLNN_LOSS_MSE, CLNN_OPTIM_SGD, 1.5f, 0);
        clnn_data d = {x, N, 1, {NF}, NULL, t};
        clnn_fit_options f = quiet(10, N);
        f.validation_data = &d;
        f.early_stopping.enabled = 1; /* monitor: val_loss (the default) */
        f.early_stopping.patience = 1;
        f.early_stopping.restore_best_weights = restore;
        EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
        const clnn_history *h = clnn_model_history(m);
        ck_assert_msg(h->epochs >= 2 && h->epochs < 10, "ran %d epochs", h->epochs);
        double best = INFINITY;
        for (int e = 0; e < h->epochs; e++)
            best = fmin(best, clnn_history_get(h, "val_loss", e));
        ck_assert_msg(best < last(h, "val_loss") * 0.5, "not diverging: best %g last %g", best,
                      last(h, "val_loss"));
        clnn_eval_result res;
        EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, &res), CLNN_OK);
        double want = restore ? best : last(h, "val_loss");
        ck_assert_msg(fabs(res.loss - want) <= 1e-5 * fmax(1, fabs(want)),
                      "restore %d: evaluate %.9g, expected %.9g", restore, res.loss, want);
        clnn_model_destroy(m);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_early_stopping_bad_monitor)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 14);
    clnn_model *m = mlp(ctx, 36, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(3, 4);
    f.early_stopping.enabled = 1; /* val_loss, but no validation set */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "val_loss");
    snprintf(f.early_stopping.monitor, sizeof f.early_stopping.monitor, "accuracy");
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID); /* no accuracy metric */
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "'accuracy'");
    ck_assert_ptr_null(clnn_model_optimizer(m)); /* nothing trained */
    ck_assert_int_eq(clnn_model_history(m)->epochs, 0);
    f.early_stopping.patience = -1;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

typedef struct cb_state {
    int calls, epochs_seen[8], rows_seen[8], stop_at;
    double loss_seen[8];
} cb_state;

static int on_epoch(void *user, int epoch, const clnn_history *h)
{
    cb_state *s = user;
    if (s->calls < 8) {
        s->epochs_seen[s->calls] = epoch;
        s->rows_seen[s->calls] = h->epochs;
        s->loss_seen[s->calls] = clnn_history_get(h, "loss", epoch);
    }
    s->calls++;
    return epoch == s->stop_at;
}

START_TEST(test_callback_stops)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 15);
    clnn_model *m = mlp(ctx, 37, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    cb_state s = {.stop_at = 1};
    clnn_fit_options f = quiet(5, 4);
    f.on_epoch_end = on_epoch;
    f.callback_user = &s;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(s.calls, 2);
    ck_assert_int_eq(h->epochs, 2);
    for (int e = 0; e < 2; e++) {
        ck_assert_int_eq(s.epochs_seen[e], e);
        ck_assert_int_eq(s.rows_seen[e], e + 1);
        ck_assert_msg(s.loss_seen[e] == clnn_history_get(h, "loss", e), "epoch %d: loss seen %g", e,
                      s.loss_seen[e]);
    }
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(m)), 2 * 3);
    /* the next fit starts a new history */
    s = (cb_state){.stop_at = -1};
    f.epochs = 1;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(clnn_model_history(m)->epochs, 1);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- history CSV ------------------------------------------------------------------------------
 */
static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

typedef struct csv_state {
    const char *path;
    int lines[8];
} csv_state;

static int csv_check(void *user, int epoch, const clnn_history *h)
{
    (void)h;
    csv_state *s = user;
    if (epoch < 8)
        s->lines[epoch] = count_lines(s->path);
    return 0;
}

START_TEST(test_history_csv)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 16 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 16);
    char dir[] = "/tmp/clnn_fit_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/history.csv", dir);
    clnn_model *m = mlp(ctx, 38, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    csv_state s = {path, {0}};
    clnn_fit_options f = quiet(3, 4);
    f.validation_split = 0.25;
    f.history_csv = path;
    f.on_epoch_end = csv_check;
    f.callback_user = &s;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    for (int e = 0; e < 3; e++)
        ck_assert_msg(s.lines[e] == e + 2, "after epoch %d the file has %d lines", e, s.lines[e]);
    const clnn_history *h = clnn_model_history(m);
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, fp));
    ck_assert_str_eq(line, "epoch,loss,accuracy,val_loss,val_accuracy,lr\n");
    for (int e = 0; e < 3; e++) {
        ck_assert_ptr_nonnull(fgets(line, sizeof line, fp));
        char *p = line, *end;
        ck_assert_int_eq((int)strtol(p, &end, 10), e);
        for (int c = 0; c < h->columns; c++) {
            ck_assert_int_eq(*end, ',');
            p = end + 1;
            double v = strtod(p, &end);
            ck_assert_msg(end != p && v == h->values[e * h->columns + c],
                          "epoch %d column %s: csv %.17g, history %.17g", e, h->names[c], v,
                          h->values[e * h->columns + c]);
        }
        ck_assert_int_eq(*end, '\n');
    }
    ck_assert_ptr_null(fgets(line, sizeof line, fp));
    fclose(fp);
    /* the directory holds the CSV only: no temporary files left */
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            files++;
            ck_assert_str_eq(de->d_name, "history.csv");
        }
    closedir(dp);
    ck_assert_int_eq(files, 1);
    /* errors */
    char err[256], bad[160];
    snprintf(bad, sizeof bad, "%s/no-such-dir/history.csv", dir);
    ck_assert_int_eq(clnn_history_write_csv(h, bad, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "no-such-dir");
    ck_assert_int_eq(clnn_history_write_csv(h, "", err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_history_write_csv(NULL, path, err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_history_write_csv(h, path, NULL, 0), CLNN_OK); /* err may be NULL */
    /* a fit whose CSV cannot be written fails with CLNN_ERR_IO after its first epoch */
    f.history_csv = bad;
    f.on_epoch_end = NULL;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_IO);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "no-such-dir");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- progress output --------------------------------------------------------------------------
 */
typedef struct lines {
    int n;
    char text[8][512];
} lines;

static void collect_line(void *user, const char *text)
{
    lines *l = user;
    if (l->n < 8)
        snprintf(l->text[l->n], sizeof l->text[0], "%s", text);
    l->n++;
}

START_TEST(test_progress_output)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 16 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 17);
    clnn_model *m = mlp(ctx, 39, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    for (int verbose = 0; verbose <= 2; verbose++) {
        for (int val = 0; val < 2; val++) {
            lines l = {0};
            clnn_fit_options f = quiet(3, 4);
            f.verbose = verbose;
            f.output = collect_line;
            f.output_user = &l;
            f.validation_split = val ? 0.25 : 0;
            EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
            const clnn_history *h = clnn_model_history(m);
            const int steps = val ? 3 : 4;
            ck_assert_int_eq(l.n, verbose ? 3 : 0);
            for (int e = 0; e < l.n; e++) {
                char want[64];
                snprintf(want, sizeof want, "Epoch %d/3 - %d/%d - ", e + 1, steps, steps);
                ck_assert_msg(!strncmp(l.text[e], want, strlen(want)), "line \"%s\", expected %s",
                              l.text[e], want);
                ck_assert_msg(strstr(l.text[e], "s/step - loss: ") != NULL, "line \"%s\"",
                              l.text[e]);
                EXPECT_CONTAINS(l.text[e], " - accuracy: ");
                ck_assert_msg(!strchr(l.text[e], '\n') && !strchr(l.text[e], '\r'), "\"%s\"",
                              l.text[e]);
                ck_assert_msg(!strstr(l.text[e], "lr"), "lr printed: \"%s\"", l.text[e]);
                ck_assert_msg((strstr(l.text[e], " - val_loss: ") != NULL) == val &&
                                  (strstr(l.text[e], " - val_accuracy: ") != NULL) == val,
                              "validation %d: \"%s\"", val, l.text[e]);
                /* the printed loss is the history's, to 4 decimals */
                double printed = strtod(strstr(l.text[e], " - loss: ") + 9, NULL);
                ck_assert_msg(fabs(printed - clnn_history_get(h, "loss", e)) <= 5.1e-5,
                              "printed %g, history %g", printed, clnn_history_get(h, "loss", e));
            }
        }
    }
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- evaluate and predict ---------------------------------------------------------------------
 */
START_TEST(test_evaluate_predict)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 10 };
    float x[N * NF], out[N * NC], out3[N * NC];
    int32_t y[N];
    make_blobs(N, x, y, 18);
    clnn_model *m = mlp(ctx, 40, NC, CLNN_ACT_SOFTMAX);
    /* predict needs no compile */
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, N, out, N * NC), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 3, out3, N * NC), CLNN_OK);
    ck_assert_msg(max_abs_diff(out, out3, N * NC) <= 1e-6, "batch 3 vs 10: %g",
                  max_abs_diff(out, out3, N * NC));
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, N, out, N * NC - 1), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "30");
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, N, NULL, N * NC), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 0, out, N * NC), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, NULL, N, N, out, N * NC), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_predict(m, x, 0, N, out, N * NC), CLNN_ERR_INVALID);
    double ce = 0;
    int correct = 0;
    for (int i = 0; i < N; i++) {
        double s = 0;
        int best = 0;
        for (int c = 0; c < NC; c++) {
            s += out[i * NC + c];
            if (out[i * NC + c] > out[i * NC + best])
                best = c;
        }
        ck_assert_msg(fabs(s - 1) < 1e-5, "softmax row %d sums to %g", i, s);
        ce -= log(fmin(fmax(out[i * NC + y[i]], 1e-7), 1 - 1e-7));
        correct += best == y[i];
    }
    ce /= N;
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_eval_result r;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, &r), CLNN_OK);
    ck_assert_msg(fabs(r.loss - ce) < 1e-5, "evaluate %.9g, host %.9g", r.loss, ce);
    ck_assert_msg(r.accuracy == correct / (double)N, "accuracy %g, host %g", r.accuracy,
                  correct / (double)N);
    ck_assert_int_eq(r.samples, N);
    const int64_t batches[] = {1, 3, 4, 7, 100};
    for (int b = 0; b < 5; b++) {
        clnn_eval_result rb;
        EXPECT_ST(ctx, clnn_model_evaluate(m, &d, batches[b], &rb), CLNN_OK);
        ck_assert_msg(fabs(rb.loss - r.loss) < 1e-6 && rb.accuracy == r.accuracy && rb.samples == N,
                      "batch %lld: loss %.9g accuracy %g, batch 10: %.9g %g", (long long)batches[b],
                      rb.loss, rb.accuracy, r.loss, r.accuracy);
    }
    /* float one-hot targets give the same loss and accuracy as labels */
    float t[N * NC] = {0};
    for (int i = 0; i < N; i++)
        t[i * NC + y[i]] = 1;
    clnn_data dt = {x, N, 1, {NF}, NULL, t};
    clnn_eval_result rt;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &dt, 4, &rt), CLNN_OK);
    ck_assert_msg(fabs(rt.loss - r.loss) < 1e-6 && rt.accuracy == r.accuracy,
                  "targets: %.9g %g, labels: %.9g %g", rt.loss, rt.accuracy, r.loss, r.accuracy);
    /* evaluate changes nothing */
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, N, out3, N * NC), CLNN_OK);
    ck_assert_msg(!memcmp(out, out3, sizeof out), "evaluate changed the model");
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, N, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 0, &r), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* several accuracy metrics: their history columns in bit order, equal values on a categorical
 * model; binary accuracy on logits thresholds at 0 */
START_TEST(test_metrics)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF], out[N];
    int32_t y[N];
    make_blobs(N, x, y, 22);
    clnn_model *m = mlp(ctx, 44, NC, CLNN_ACT_SOFTMAX);
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY | CLNN_METRIC_CATEGORICAL_ACCURACY |
                CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(2, 5);
    f.validation_split = 0.25;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    static const char *const names[] = {
        "loss",     "accuracy",     "categorical_accuracy",     "sparse_categorical_accuracy",
        "val_loss", "val_accuracy", "val_categorical_accuracy", "val_sparse_categorical_accuracy",
        "lr"};
    ck_assert_int_eq(h->columns, 9);
    for (int c = 0; c < 9; c++)
        ck_assert_str_eq(h->names[c], names[c]);
    for (int e = 0; e < 2; e++)
        for (int c = 2; c < 4; c++) {
            ck_assert_msg(h->values[e * 9 + c] == h->values[e * 9 + 1], "%s %g vs accuracy %g",
                          names[c], h->values[e * 9 + c], h->values[e * 9 + 1]);
            ck_assert_msg(h->values[e * 9 + c + 4] == h->values[e * 9 + 5], "%s %g vs %g",
                          names[c + 4], h->values[e * 9 + c + 4], h->values[e * 9 + 5]);
        }
    clnn_model_destroy(m);

    /* logits with BCE_LOGITS: accuracy is (logit > 0) == label */
    for (int i = 0; i < N; i++)
        y[i] = x[i * NF] + x[i * NF + 1] > 1.5f;
    m = mlp(ctx, 45, 1, CLNN_ACT_NONE);
    compile(ctx, m, CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS, CLNN_OPTIM_ADAM, 0.01f,
            CLNN_METRIC_BINARY_ACCURACY);
    clnn_eval_result r;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 5, &r), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 5, out, N), CLNN_OK);
    int correct = 0;
    double bce = 0;
    for (int i = 0; i < N; i++) {
        correct += (out[i] > 0) == (y[i] == 1);
        bce += fmax(out[i], 0) - out[i] * y[i] + log1p(exp(-fabs(out[i])));
    }
    ck_assert_msg(r.accuracy == correct / (double)N, "binary accuracy %g, host %g", r.accuracy,
                  correct / (double)N);
    ck_assert_msg(fabs(r.loss - bce / N) < 1e-5, "bce logits %.9g, host %.9g", r.loss, bce / N);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- errors -----------------------------------------------------------------------------------
 */
START_TEST(test_errors_data)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 4 };
    static float x[N * 32 * 32];
    int32_t y[N] = {0, 1, 2, 3};
    clnn_model *m = new_model(ctx, 41);
    clnn_model_input(m, "image", 3, (int64_t[]){1, 28, 28});
    clnn_layer_spec l[] = {clnn_layer_flatten(), clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    clnn_model_push(m, &l[0]);
    clnn_model_push(m, &l[1]);
    MODEL_OK(m);
    clnn_data d = {x, N, 2, {28, 28}, y, NULL};
    clnn_fit_options f = quiet(1, 4);
    clnn_eval_result r;
    double loss;
    /* before compile */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "compile");
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 4, &r), CLNN_ERR_STATE);
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, &loss), CLNN_ERR_STATE);
    /* bad compile options */
    clnn_compile_options c;
    clnn_compile_options_init(&c, (clnn_loss_kind)99, CLNN_OPTIM_ADAM);
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "99");
    clnn_compile_options_init(&c, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.metrics = 16;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "0x10");
    EXPECT_ST(ctx, clnn_model_compile(m, NULL), CLNN_ERR_INVALID);
    c.metrics = CLNN_METRIC_ACCURACY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    /* MNIST's (28, 28) fits an input (1, 28, 28) */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    d.ndim = 3;
    memcpy(d.shape, (int64_t[]){1, 28, 28}, 3 * sizeof(int64_t));
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 4, &r), CLNN_OK);
    d.ndim = 0; /* not checked */
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 3, &r), CLNN_OK);
    /* a wrong image size names both shapes */
    d.ndim = 3;
    memcpy(d.shape, (int64_t[]){1, 32, 32}, 3 * sizeof(int64_t));
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_SHAPE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(1, 28, 28)");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "(1, 32, 32)");
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 4, &r), CLNN_ERR_SHAPE);
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, &loss), CLNN_ERR_SHAPE);
    d.ndim = 1;
    d.shape[0] = 784; /* the same count, another shape */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_SHAPE);
    d.ndim = 9;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_SHAPE);
    d.ndim = 2;
    d.shape[0] = d.shape[1] = 28;
    /* labels out of range name the sample */
    y[3] = 10;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "sample 3");
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "10");
    y[3] = 3;
    y[1] = -1;
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 4, &r), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "sample 1");
    y[1] = 1;
    /* empty set, NULL x, no labels or targets, NULL data */
    d.n = 0;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, &loss), CLNN_ERR_INVALID);
    d.n = N;
    d.x = NULL;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "NULL");
    d.x = x;
    d.labels = NULL;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "labels");
    d.labels = y;
    EXPECT_ST(ctx, clnn_model_fit(m, NULL, &f), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_fit(NULL, &d, &f), CLNN_ERR_INVALID);
    /* bad validation data */
    clnn_data v = d;
    v.labels = NULL;
    f.validation_data = &v;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "validation");
    f.validation_data = NULL;
    /* nothing trained by the failed calls: one fit of one step only */
    ck_assert_int_eq((int)clnn_optimizer_steps(clnn_model_optimizer(m)), 1);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_errors_options)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 8 };
    float x[N * NF], t[N * NC] = {0};
    int32_t y[N];
    make_blobs(N, x, y, 19);
    clnn_model *m = mlp(ctx, 42, NC, CLNN_ACT_NONE);
    compile(ctx, m, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(1, 4);
    /* CROSS_ENTROPY needs class labels */
    clnn_data dt = {x, N, 1, {NF}, NULL, t};
    EXPECT_ST(ctx, clnn_model_fit(m, &dt, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "cross_entropy");
    f.batch_size = 0;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "batch size");
    f.batch_size = -3;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    f.batch_size = 4;
    f.validation_split = 1.0;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "validation_split");
    f.validation_split = -0.1;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    f.validation_split = NAN;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    f.validation_split = 1e-18; /* n (1 - split) rounds to n: no validation sample */
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "empty validation");
    clnn_data two = {x, 2, 1, {NF}, y, NULL};
    f.validation_split = 0.6; /* floor(2 * 0.4) = 0 training samples */
    EXPECT_ST(ctx, clnn_model_fit(m, &two, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "empty training");
    f.validation_split = 0;
    f.verbose = 3;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "verbose");
    f.verbose = -1;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    f.verbose = 0;
    f.epochs = -1;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    ck_assert_ptr_null(clnn_model_optimizer(m)); /* nothing trained */
    /* epochs 0 trains nothing and succeeds with an empty history */
    f.epochs = 0;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    ck_assert_int_eq(clnn_model_history(m)->epochs, 0);
    /* a categorical loss on an output of one value */
    clnn_model *m1 = mlp(ctx, 43, 1, CLNN_ACT_SIGMOID);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    EXPECT_ST(ctx, clnn_model_compile(m1, &c), CLNN_ERR_SHAPE);
    /* binary loss: labels must be 0 or 1 */
    compile(ctx, m1, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, CLNN_METRIC_ACCURACY);
    EXPECT_ST(ctx, clnn_model_fit(m1, &d, &f), CLNN_ERR_INVALID); /* labels 0, 1, 2 */
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "sample 2");
    clnn_model_destroy(m1);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- GAN-style freezing -----------------------------------------------------------------------
 */
START_TEST(test_gan_freeze)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 8, Z = 4 };
    float z[N * Z], real[N * NF], ones[N], zeros[N];
    rng r = {20};
    for (int i = 0; i < N * Z; i++)
        z[i] = (float)rng_gauss(&r);
    for (int i = 0; i < N * NF; i++)
        real[i] = (float)(1 + 0.1 * rng_gauss(&r));
    for (int i = 0; i < N; i++)
        ones[i] = 1, zeros[i] = 0;
    /* G: (Z) -> Dense(NF, tanh); D: (NF) -> Dense(16, relu) -> Dense(1, sigmoid) */
    clnn_model *G = new_model(ctx, 51), *D = mlp(ctx, 52, 1, CLNN_ACT_SIGMOID);
    clnn_model_input(G, "z", 1, (int64_t[]){Z});
    clnn_layer_spec gl = clnn_layer_dense(NF, CLNN_ACT_TANH);
    clnn_model_push(G, &gl);
    MODEL_OK(G);
    compile(ctx, D, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, CLNN_METRIC_ACCURACY);
    EXPECT_ST(ctx, clnn_model_set_trainable(D, -1, 0), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_set_trainable(D, 5, 0), CLNN_ERR_INVALID);
    clnn_model *C = new_model(ctx, 53);
    int in = clnn_model_input(C, "z", 1, (int64_t[]){Z});
    int g = clnn_model_apply_model(C, G, in);
    clnn_model_apply_model(C, D, g);
    MODEL_OK(C);
    ck_assert_int_eq(clnn_model_layer_count(C), 3);
    ck_assert_int_eq(clnn_model_param_count(C), 6);
    compile(ctx, C, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(clnn_model_param_trainable(C, i), 1);
    for (int i = 2; i < 6; i++)
        ck_assert_int_eq(clnn_model_param_trainable(C, i), 0);
    size_t ng, nd;
    float *g0 = read_params(ctx, G, &ng), *d0 = read_params(ctx, D, &nd);
    /* the combined model trains G only */
    clnn_data cb = {z, N, 1, {Z}, NULL, ones};
    double loss = NAN;
    EXPECT_ST(ctx, clnn_model_train_on_batch(C, &cb, &loss), CLNN_OK);
    ck_assert_msg(isfinite(loss) && loss > 0, "combined loss %g", loss);
    ck_assert_uint_eq(clnn_optimizer_param_count(clnn_model_optimizer(C)), 2);
    size_t n1, n2;
    float *g1 = read_params(ctx, G, &n1), *d1 = read_params(ctx, D, &n2);
    ck_assert_msg(max_abs_diff(g0, g1, ng) > 1e-5, "G did not change");
    ck_assert_msg(!memcmp(d0, d1, nd * sizeof *d0), "the frozen D changed: %g",
                  max_abs_diff(d0, d1, nd));
    /* D, compiled before the freeze, still trains (Keras: trainable is read at compile) */
    float fake[N * NF];
    EXPECT_ST(ctx, clnn_model_predict(G, z, N, N, fake, N * NF), CLNN_OK);
    clnn_data dr = {real, N, 1, {NF}, NULL, ones}, df = {fake, N, 1, {NF}, NULL, zeros};
    double lr_, lf;
    EXPECT_ST(ctx, clnn_model_train_on_batch(D, &dr, &lr_), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_train_on_batch(D, &df, &lf), CLNN_OK);
    ck_assert_uint_eq(clnn_optimizer_param_count(clnn_model_optimizer(D)), 4);
    float *g2 = read_params(ctx, G, &n1), *d2 = read_params(ctx, D, &n2);
    ck_assert_msg(max_abs_diff(d1, d2, nd) > 1e-5, "D did not train");
    ck_assert_msg(!memcmp(g1, g2, ng * sizeof *g1), "training D changed G");
    /* and C sees D's new weights (shared, not copied) */
    float pc[N], pd[N];
    EXPECT_ST(ctx, clnn_model_predict(C, z, N, N, pc, N), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_predict(D, fake, N, N, pd, N), CLNN_OK);
    ck_assert_msg(max_abs_diff(pc, pd, N) < 1e-6, "C(z) != D(G(z)): %g", max_abs_diff(pc, pd, N));
    /* recompiling D after the freeze: nothing to train */
    compile(ctx, D, CLNN_LOSS_BINARY_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.01f, 0);
    EXPECT_ST(ctx, clnn_model_train_on_batch(D, &dr, NULL), CLNN_ERR_STATE);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "frozen");
    free(g0);
    free(g1);
    free(g2);
    free(d0);
    free(d1);
    free(d2);
    clnn_model_destroy(C);
    clnn_model_destroy(G);
    clnn_model_destroy(D);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- int32 input, schedules -------------------------------------------------------------------
 */
START_TEST(test_embedding_input)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12, T = 5, V = 10 };
    float x[N * T];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % NC;
        for (int k = 0; k < T; k++)
            x[i * T + k] = (float)((i * 7 + k * 3 + y[i]) % V);
    }
    clnn_model *m = new_model(ctx, 54);
    clnn_model_input_i32(m, "tokens", 1, (int64_t[]){T});
    clnn_layer_spec l[] = {clnn_layer_embedding(V, 4), clnn_layer_flatten(),
                           clnn_layer_dense(NC, CLNN_ACT_SOFTMAX)};
    for (int i = 0; i < 3; i++)
        clnn_model_push(m, &l[i]);
    MODEL_OK(m);
    compile(ctx, m, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.05f,
            CLNN_METRIC_ACCURACY);
    clnn_data d = {x, N, 1, {T}, y, NULL};
    clnn_fit_options f = quiet(5, 4);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_msg(last(h, "loss") < h->values[0], "loss %g -> %g", h->values[0], last(h, "loss"));
    float out[N * NC];
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 5, out, N * NC), CLNN_OK);
    /* a non-integer token id names the sample */
    x[2 * T + 1] = 2.5f;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "sample 2");
    EXPECT_ST(ctx, clnn_model_predict(m, x, N, 5, out, N * NC), CLNN_ERR_INVALID);
    x[2 * T + 1] = -1.0f;
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, NULL), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_lr_schedule)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 21);
    clnn_model *m = mlp(ctx, 55, NC, CLNN_ACT_SOFTMAX);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_SGD);
    c.optimizer.lr = 0.1f;
    c.optimizer.schedule.kind = CLNN_SCHEDULE_STEP;
    c.optimizer.schedule.step_size = 1;
    c.optimizer.schedule.gamma = 0.5f;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(4, 4);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->epochs, 4);
    for (int e = 0; e < 4; e++) {
        double lr = clnn_history_get(h, "lr", e), want = 0.1f * pow(0.5, e);
        ck_assert_msg(fabs(lr - want) <= 1e-7 * want, "epoch %d: lr %.9g, expected %.9g", e, lr,
                      want);
    }
    /* a constant schedule repeats lr0 */
    compile(ctx, m, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM, 0.02f, 0);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    for (int e = 0; e < 4; e++)
        ck_assert_msg(clnn_history_get(h, "lr", e) == (double)0.02f, "epoch %d: lr %g", e,
                      clnn_history_get(h, "lr", e));
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- runner -----------------------------------------------------------------------------------
 */
/* The numerical guard: a NaN weight stops fit with CLNN_ERR_NONFINITE naming the epoch, the step
 * and the layer; SKIP_BATCH drops only the batches whose loss overflows (a sample of 1e30) and
 * trains on the others; IGNORE lets NaN through; NaN in the data is rejected before training. */
START_TEST(test_nonfinite_guard)
{
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 8 };
    float x[N * NF], t[N];
    for (int i = 0; i < N * NF; i++)
        x[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < N; i++)
        t[i] = (float)i / N;
    clnn_data d = {x, N, 1, {NF}, NULL, t};
    for (int mode = 0; mode < 3; mode++) {
        clnn_model *m = new_model(ctx, 3);
        clnn_model_input(m, "x", 1, (int64_t[]){NF});
        clnn_layer_spec l1 = clnn_layer_dense(4, CLNN_ACT_RELU), l2 = clnn_layer_dense(1, 0);
        snprintf(l2.name, sizeof l2.name, "head");
        clnn_model_push(m, &l1);
        clnn_model_push(m, &l2);
        MODEL_OK(m);
        compile(ctx, m, CLNN_LOSS_MSE, CLNN_OPTIM_SGD, 0.01f, 0);
        float w[4];
        clnn_tensor *hw = clnn_model_param_by_name(m, "head.weight");
        ck_assert_int_eq(clnn_tensor_read(hw, w, sizeof w), CLNN_OK);
        w[2] = NAN;
        ck_assert_int_eq(clnn_tensor_write(hw, w, sizeof w), CLNN_OK);
        clnn_fit_options f = quiet(2, 4);
        f.on_nonfinite = (clnn_nonfinite_action)mode;
        clnn_status st = clnn_model_fit(m, &d, &f);
        const clnn_history *h = clnn_model_history(m);
        if (mode == CLNN_NONFINITE_STOP) {
            ck_assert_int_eq(st, CLNN_ERR_NONFINITE);
            const char *e = clnn_ctx_last_error(ctx);
            ck_assert_msg(strstr(e, "epoch 1, step 1") && strstr(e, "layer 'head'") &&
                              strstr(e, "head.weight") && strstr(e, "[2]"),
                          "%s", e);
            ck_assert_int_eq(h->epochs, 0);
        } else {
            ck_assert_int_eq(st, CLNN_OK);
            ck_assert_int_eq(h->epochs, 2);
            ck_assert(isnan(clnn_history_get(h, "loss", 1)));
            /* SKIP_BATCH made no update at all, IGNORE made every one */
            ck_assert_uint_eq(clnn_optimizer_steps(clnn_model_optimizer(m)),
                              mode == CLNN_NONFINITE_SKIP_BATCH ? 0 : 4);
        }
        clnn_model_destroy(m);
    }

    /* one overflowing sample: with batch 1 only its step is skipped */
    float big[N * NF];
    memcpy(big, x, sizeof big);
    for (int k = 0; k < NF; k++)
        big[5 * NF + k] = 1e30f;
    clnn_data db = {big, N, 1, {NF}, NULL, t};
    clnn_model *m = new_model(ctx, 3);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    clnn_layer_spec l = clnn_layer_dense(1, CLNN_ACT_NONE);
    clnn_model_push(m, &l);
    compile(ctx, m, CLNN_LOSS_MSE, CLNN_OPTIM_SGD, 0.01f, 0);
    clnn_fit_options f = quiet(1, 1);
    f.shuffle = 0;
    f.on_nonfinite = CLNN_NONFINITE_SKIP_BATCH;
    EXPECT_ST(ctx, clnn_model_fit(m, &db, &f), CLNN_OK);
    ck_assert_uint_eq(clnn_optimizer_steps(clnn_model_optimizer(m)), N - 1);
    ck_assert(isfinite(clnn_history_get(clnn_model_history(m), "loss", 0)));
    /* the skipped step's update never reached the weights (it is enqueued, and skips itself on
     * the device) */
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        float v[NF];
        clnn_tensor *p = clnn_model_param(m, i);
        int64_t n = clnn_tensor_numel(p);
        ck_assert(n <= NF);
        ck_assert_int_eq(clnn_tensor_read(p, v, (size_t)n * sizeof *v), CLNN_OK);
        for (int64_t k = 0; k < n; k++)
            ck_assert_msg(isfinite(v[k]), "param %d [%lld] = %g", i, (long long)k, (double)v[k]);
    }
    /* and the default stops at that step, naming it */
    compile(ctx, m, CLNN_LOSS_MSE, CLNN_OPTIM_SGD, 0.01f, 0);
    f.on_nonfinite = CLNN_NONFINITE_STOP;
    ck_assert_int_eq(clnn_model_fit(m, &db, &f), CLNN_ERR_NONFINITE);
    ck_assert_msg(strstr(clnn_ctx_last_error(ctx), "epoch 1, step 6"), "%s",
                  clnn_ctx_last_error(ctx));

    /* NaN and infinity in the data: rejected before training, naming the sample */
    x[3 * NF + 1] = NAN;
    ck_assert_int_eq(clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    ck_assert_msg(strstr(clnn_ctx_last_error(ctx), "sample 3") &&
                      strstr(clnn_ctx_last_error(ctx), "non-finite"),
                  "%s", clnn_ctx_last_error(ctx));
    x[3 * NF + 1] = 0;
    t[6] = INFINITY;
    ck_assert_int_eq(clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    ck_assert_msg(strstr(clnn_ctx_last_error(ctx), "sample 6"), "%s", clnn_ctx_last_error(ctx));
    float out[N];
    x[0] = -INFINITY;
    ck_assert_int_eq(clnn_model_predict(m, x, N, 4, out, N), CLNN_ERR_INVALID);
    f.on_nonfinite = (clnn_nonfinite_action)7;
    t[6] = 0;
    x[0] = 0;
    ck_assert_int_eq(clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- double-buffered batches ------------------------------------------------------------------
 */
/* What one run of double_buffer_run saw. */
typedef struct dbuf_run {
    double hist[4][CLNN_HISTORY_MAX_COLUMNS];
    int epochs, columns;
    double param_sums[4]; /* read by the epoch callback */
    float *params;
    size_t nparams;
    clnn_eval_result eval;
    float *pred;
    int queue_made; /* ctx->upload_queue after the run */
    long long fed;  /* batches double-buffered, from the debug log */
    clnn_model *m;  /* for the callback */
} dbuf_run;

/* Adds up "model: N batches double-buffered on the upload queue" (feed_close, debug level). */
static void dbuf_log(void *user, clnn_log_level level, const char *msg)
{
    long long n;
    if (level == CLNN_LOG_DEBUG &&
        sscanf(msg, "model: %lld batches double-buffered on the upload queue", &n) == 1)
        ((dbuf_run *)user)->fed += n;
}

static int dbuf_epoch_end(void *user, int epoch, const clnn_history *h)
{
    (void)h;
    /* the parameters as the epoch left them, read from the callback */
    dbuf_run *r = user;
    clnn_model *m = r->m;
    double sum = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        float v[256];
        int64_t n = clnn_tensor_numel(t);
        float *buf = n <= 256 ? v : malloc((size_t)n * sizeof *buf);
        if (!buf || clnn_tensor_read(t, buf, (size_t)n * sizeof *buf) != CLNN_OK)
            sum = NAN;
        for (int64_t k = 0; buf && k < n; k++)
            sum += (double)buf[k] * (double)(k + 1 + i);
        if (buf != v)
            free(buf);
    }
    if (epoch >= 0 && epoch < 4)
        r->param_sums[epoch] = sum;
    return 0;
}

/* Variant v of the model and data of test_double_buffer: 0 Dense + Dropout, categorical
 * cross-entropy (labels to one-hot targets), validation_split; 1 cross-entropy on logits (labels
 * uploaded as int32), SGD with momentum, validation_data; 2 MSE on float targets; 3 an int32
 * Embedding input. n = 103 with batch 16: a partial last batch in training, validation,
 * evaluate (batch 10) and predict (batch 7). */
enum { DB_N = 103, DB_T = 5, DB_V = 10 };
static void double_buffer_run(int v, dbuf_run *r)
{
    clnn_ctx_options co;
    clnn_ctx_options_init(&co);
    co.log = dbuf_log;
    co.log_user = r;
    co.log_level = CLNN_LOG_DEBUG;
    clnn_ctx *ctx = test_ctx(&co);
    static float x[DB_N * NF], tok[DB_N * DB_T], tg[DB_N * 2];
    static int32_t y[DB_N];
    make_blobs(DB_N, x, y, 77);
    for (int i = 0; i < DB_N; i++) {
        tg[2 * i] = x[i * NF] - 0.5f * x[i * NF + 3];
        tg[2 * i + 1] = (float)y[i];
        for (int k = 0; k < DB_T; k++)
            tok[i * DB_T + k] = (float)((i * 7 + k * 3 + y[i] * (k + 1)) % DB_V);
    }
    clnn_model *m = new_model(ctx, 91);
    clnn_data d = {x, DB_N, 1, {NF}, y, NULL}, val = {x, 40, 1, {NF}, y, NULL};
    clnn_loss_kind loss = CLNN_LOSS_CATEGORICAL_CROSSENTROPY;
    clnn_optim_kind opt = CLNN_OPTIM_ADAM;
    int per = NC;
    if (v == 3) {
        clnn_model_input_i32(m, "tokens", 1, (int64_t[]){DB_T});
        clnn_layer_spec l[] = {clnn_layer_embedding(DB_V, 4), clnn_layer_flatten(),
                               clnn_layer_dense(NC, CLNN_ACT_SOFTMAX)};
        for (int i = 0; i < 3; i++)
            clnn_model_push(m, &l[i]);
        d = (clnn_data){tok, DB_N, 1, {DB_T}, y, NULL};
        loss = CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    } else {
        clnn_model_input(m, "x", 1, (int64_t[]){NF});
        clnn_layer_spec l[] = {
            clnn_layer_dense(16, CLNN_ACT_RELU), clnn_layer_dropout(0.3f),
            clnn_layer_dense(v == 2 ? 2 : NC, v == 0 ? CLNN_ACT_SOFTMAX : CLNN_ACT_NONE)};
        for (int i = 0; i < 3; i++)
            clnn_model_push(m, &l[i]);
        if (v == 1) {
            loss = CLNN_LOSS_CROSS_ENTROPY;
            opt = CLNN_OPTIM_SGD;
        } else if (v == 2) {
            loss = CLNN_LOSS_MSE;
            d = (clnn_data){x, DB_N, 1, {NF}, NULL, tg};
            per = 2;
        }
    }
    MODEL_OK(m);
    clnn_compile_options c;
    clnn_compile_options_init(&c, loss, opt);
    c.optimizer.lr = v == 1 ? 0.05f : 0.01f;
    c.optimizer.momentum = 0.9f;
    c.metrics = v == 2 ? 0 : CLNN_METRIC_ACCURACY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    clnn_fit_options f = quiet(4, 16);
    f.seed = 1234;
    f.shuffle = 1;
    if (v == 1)
        f.validation_data = &val;
    else
        f.validation_split = 0.2;
    f.on_epoch_end = dbuf_epoch_end;
    f.callback_user = r;
    r->m = m;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->epochs, 4);
    r->epochs = h->epochs;
    r->columns = h->columns;
    for (int e = 0; e < h->epochs; e++)
        for (int k = 0; k < h->columns; k++)
            r->hist[e][k] = h->values[(size_t)e * (size_t)h->columns + (size_t)k];
    r->params = read_params(ctx, m, &r->nparams);
    EXPECT_ST(ctx, clnn_model_evaluate(m, &d, 10, &r->eval), CLNN_OK);
    ck_assert_int_eq(r->eval.samples, DB_N);
    r->pred = malloc(DB_N * (size_t)per * sizeof *r->pred);
    ck_assert_ptr_nonnull(r->pred);
    EXPECT_ST(ctx, clnn_model_predict(m, d.x, DB_N, 7, r->pred, DB_N * (size_t)per), CLNN_OK);
    r->queue_made = ctx->upload_queue != NULL;
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}

/* fit, evaluate and predict with the next batch uploaded on the second queue while the device
 * computes (the default) give the same history, weights (also as the epoch callback reads them),
 * evaluation and predictions bit for bit as the single-queue path (CLNN_UPLOAD_QUEUE=0), with
 * shuffling, partial batches, dropout, every kind of target upload and an int32 input; and the
 * second queue is made only when it is used. */
START_TEST(test_double_buffer)
{
    const int v = _i;
    dbuf_run a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ck_assert_int_eq(setenv("CLNN_UPLOAD_QUEUE", "0", 1), 0);
    double_buffer_run(v, &a);
    ck_assert_int_eq(unsetenv("CLNN_UPLOAD_QUEUE"), 0);
    double_buffer_run(v, &b);
    ck_assert_msg(!a.queue_made, "variant %d: CLNN_UPLOAD_QUEUE=0 made the upload queue", v);
    ck_assert_msg(b.queue_made, "variant %d: fit did not make the upload queue", v);
    /* every batch went through it (4 epochs of 6 training and 2 validation batches, variant 1 7
     * and 3; evaluate 11, predict 15); none with CLNN_UPLOAD_QUEUE=0 */
    const long long want = 4 * (v == 1 ? 7 + 3 : 6 + 2) + 11 + 15;
    ck_assert_msg(b.fed == want && a.fed == 0,
                  "variant %d: %lld batches double-buffered (expected %lld), %lld with "
                  "CLNN_UPLOAD_QUEUE=0",
                  v, b.fed, want, a.fed);
    ck_assert_int_eq(a.columns, b.columns);
    for (int e = 0; e < a.epochs; e++) {
        for (int k = 0; k < a.columns; k++)
            ck_assert_msg(!memcmp(&a.hist[e][k], &b.hist[e][k], sizeof(double)),
                          "variant %d, epoch %d, column %d: %.17g single queue, %.17g double "
                          "buffered",
                          v, e, k, a.hist[e][k], b.hist[e][k]);
        ck_assert_msg(isfinite(a.param_sums[e]) && a.param_sums[e] == b.param_sums[e],
                      "variant %d, epoch %d: the callback read weights %.17g, double buffered "
                      "%.17g",
                      v, e, a.param_sums[e], b.param_sums[e]);
    }
    /* training moved the weights: the comparison is not of two untrained models */
    ck_assert_msg(a.param_sums[0] != a.param_sums[3], "variant %d: the weights did not change", v);
    ck_assert_uint_eq(a.nparams, b.nparams);
    ck_assert_msg(!memcmp(a.params, b.params, a.nparams * sizeof *a.params),
                  "variant %d: final weights differ (max %g)", v,
                  max_abs_diff(a.params, b.params, a.nparams));
    ck_assert_msg(
        !memcmp(&a.eval.loss, &b.eval.loss, sizeof a.eval.loss) &&
            (isnan(a.eval.accuracy) ? isnan(b.eval.accuracy) : a.eval.accuracy == b.eval.accuracy),
        "variant %d: evaluate %.17g %.17g vs %.17g %.17g", v, a.eval.loss, a.eval.accuracy,
        b.eval.loss, b.eval.accuracy);
    const size_t per = v == 2 ? 2 : NC;
    ck_assert_msg(!memcmp(a.pred, b.pred, DB_N * per * sizeof *a.pred),
                  "variant %d: predictions differ (max %g)", v,
                  max_abs_diff(a.pred, b.pred, DB_N * per));
    free(a.params);
    free(b.params);
    free(a.pred);
    free(b.pred);
}
END_TEST

static Suite *fit_suite(void)
{
    Suite *s = suite_create("fit");
    TCase *tc = tcase_create("converge");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_converge_mlp_adam);
    tcase_add_test(tc, test_converge_sgd_cross_entropy);
    tcase_add_test(tc, test_converge_cnn);
    tcase_add_test(tc, test_mse_regression);
    tcase_add_test(tc, test_bce_binary_accuracy);
    suite_add_tcase(s, tc);

    tc = tcase_create("loop");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_partial_batch);
    tcase_add_test(tc, test_train_on_batch_loss);
    tcase_add_test(tc, test_reproducible);
    tcase_add_test(tc, test_validation_split);
    tcase_add_test(tc, test_validation_data);
    tcase_add_test(tc, test_lr_schedule);
    tcase_add_loop_test(tc, test_double_buffer, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("callbacks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_early_stopping_patience);
    tcase_add_test(tc, test_early_stopping_restore);
    tcase_add_test(tc, test_early_stopping_bad_monitor);
    tcase_add_test(tc, test_callback_stops);
    tcase_add_test(tc, test_history_csv);
    tcase_add_test(tc, test_progress_output);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_evaluate_predict);
    tcase_add_test(tc, test_metrics);
    tcase_add_test(tc, test_errors_data);
    tcase_add_test(tc, test_nonfinite_guard);
    tcase_add_test(tc, test_errors_options);
    tcase_add_test(tc, test_gan_freeze);
    tcase_add_test(tc, test_embedding_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(fit_suite());
}
