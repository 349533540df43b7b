/* test_persist.c — the `check` suite of model files and checkpoints (src/nn/persist.c, on the
 * safetensors container of src/io/safetensors.c).
 *
 * Covered:
 *   - round trips: clnn_model_save then clnn_model_load gives the same summary text, parameter
 *     names, shapes, values and trainable flags, bit-identical predictions (with a partial batch),
 *     an uncompiled model (fit: CLNN_ERR_STATE; predict works without compile) and, saved again,
 *     the same architecture metadata; for a small MNIST-style CNN, BatchNorm after training,
 *     Dropout (same masks after load: rate and seed restored, seeds past 2^53 and 2^63 too),
 *     LayerNorm, Embedding on an int32
 *     input, a functional residual model (Add, Concatenate, a reapplied layer), Conv2DTranspose
 *     with strides and output padding, frozen layers and CLNN_INIT_PYTORCH with a model name;
 *   - the file is plain safetensors: names "<layer>.<param>", F32, PyTorch shapes, the bytes of
 *     the parameters, the header length a multiple of 8, metadata format/clnn.version/
 *     clnn.architecture;
 *   - load errors with their status and message (the model out is NULL): missing file, not a
 *     safetensors file, safetensors without clnn metadata, malformed architecture JSON, an unknown
 *     layer kind, a node reading a later node, a layer index out of range, an architecture format
 *     of another version, a seed that is not a uint64, a missing tensor, a wrong shape, an I32
 *     tensor; architectures that claim huge layers fail at once, without initialising them;
 *   - clnn_model_load_weights from PyTorch (tests/golden/gen_persist.py: a state_dict of conv1,
 *     conv2, bn, fc as F32 with num_batches_tracked, F64 and F16): predictions against torch's
 *     within 1e-4, strict mode, a missing parameter, a wrong shape; a clnn file into a fresh model;
 *   - checkpoints, bit for bit: Dropout + Adam + a STEP schedule, shuffled, a partial last batch,
 *     4 epochs uninterrupted vs 2 epochs with fit's checkpointing, the model destroyed, resumed
 *     (model from clnn_model_load of the checkpoint, or rebuilt, or a checkpoint re-saved before
 *     the optimizer exists) for epochs 3-4: same weights and history; checkpoint errors
 *     (uncompiled, another architecture, a plain model file); best_only checkpointing writes only
 *     when the monitored value improved;
 *   - atomic writes: saving over a file replaces it; a child process saving a 4 MB model in a loop
 *     is SIGKILLed at several moments and the file always loads; saving where the file cannot be
 *     written is CLNN_ERR_IO with the previous file intact and no temporary file left.
 * Files go to a mkdtemp directory under $TMPDIR, removed at the end of each test. Each test creates
 * its own context (check forks every test); CK_FORK=no to debug (but not the kill test: POCL is
 * not fork-safe once a context exists in the process). */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clnn.h"
#include "golden_io.h"
#include "test_util.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MODEL_OK(m)                                                                                \
    ck_assert_msg(clnn_model_status(m) == CLNN_OK, "model: %s", clnn_model_last_error(m))

/* ---- a temporary directory per test --------------------------------------------------------- */
static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clnn_test_persist_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp(%s) failed", tmpdir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* a directory made read-only by a test */
    return remove(path);
}

static void remove_tmpdir(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/name into buf (PATH_LEN bytes) */
#define PATH_LEN 512
static char *tpath(char *buf, const char *name)
{
    snprintf(buf, PATH_LEN, "%s/%s", tmpdir, name);
    return buf;
}

static void write_bytes(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
}

/* Entries of a directory other than "." and ".."; names (if not NULL) receives them joined by ' '.
 */
static int dir_entries(const char *dir, char *names, size_t size)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir(%s) failed", dir);
    int n = 0;
    if (names && size)
        names[0] = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (names && strlen(names) + strlen(e->d_name) + 2 < size) {
            strcat(names, " ");
            strcat(names, e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* ---- host data ------------------------------------------------------------------------------ */
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

/* n values uniform in [lo, hi) */
static void fill_unif(float *x, size_t n, uint64_t seed, double lo, double hi)
{
    rng r = {seed};
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * rng_unif(&r));
}

#define NF 8 /* features of the MLP data */
#define NC 3 /* classes */

/* n samples of NF features in NC blobs (class i % NC, centre 2 on features 2c and 2c + 1). */
static void make_blobs(int64_t n, float *x, int32_t *labels, uint64_t seed)
{
    rng r = {seed};
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % NC);
        labels[i] = c;
        for (int k = 0; k < NF; k++) {
            double u1 = rng_unif(&r), u2 = rng_unif(&r);
            double g = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
            x[i * NF + k] = (float)(g + (k / 2 == c ? 2.0 : 0.0));
        }
    }
}

/* ---- model helpers -------------------------------------------------------------------------- */
static clnn_model *new_model(clnn_ctx *ctx, clnn_init_style init, uint64_t seed, const char *name)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.init = init;
    mo.seed = seed;
    if (name)
        snprintf(mo.name, sizeof mo.name, "%s", name);
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, &mo, &m), CLNN_OK);
    return m;
}

static clnn_layer_spec named(clnn_layer_spec s, const char *name)
{
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

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

static int64_t out_numel(const clnn_model *m)
{
    int nd;
    int64_t shape[CLNN_MAX_DIMS], n = 1;
    ck_assert_int_eq(clnn_model_node_shape(m, -1, &nd, shape), CLNN_OK);
    for (int k = 0; k < nd; k++)
        n *= shape[k];
    return n;
}

/* Predictions for n samples (malloc'd; *count receives their number). */
static float *predict(clnn_ctx *ctx, clnn_model *m, const float *x, int64_t n, int64_t batch,
                      size_t *count)
{
    size_t c = (size_t)(n * out_numel(m));
    float *y = malloc(c * sizeof *y);
    ck_assert_ptr_nonnull(y);
    EXPECT_ST(ctx, clnn_model_predict(m, x, n, batch, y, c), CLNN_OK);
    if (count)
        *count = c;
    return y;
}

/* Every parameter of m, concatenated in parameter order (malloc'd). */
static float *read_params(clnn_ctx *ctx, const clnn_model *m, size_t *count)
{
    size_t total = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++)
        total += (size_t)clnn_tensor_numel(clnn_model_param(m, i));
    float *all = malloc((total ? total : 1) * sizeof *all), *p = all;
    ck_assert_ptr_nonnull(all);
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        EXPECT_ST(ctx, clnn_tensor_read(t, p, clnn_tensor_bytes(t)), CLNN_OK);
        p += clnn_tensor_numel(t);
    }
    *count = total;
    return all;
}

/* Writes values in [-0.5, 0.5) into every parameter (running variances in [0.5, 1.5)), so a round
 * trip compares something else than the initialisation. */
static void randomize_params(clnn_model *m, uint64_t seed)
{
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        size_t n = (size_t)clnn_tensor_numel(t);
        float *v = malloc(n * sizeof *v);
        int var = strstr(clnn_tensor_name(t), "running_var") != NULL;
        fill_unif(v, n, seed + (uint64_t)i, var ? 0.5 : -0.5, var ? 1.5 : 0.5);
        ck_assert_int_eq(clnn_tensor_write(t, v, n * sizeof *v), CLNN_OK);
        free(v);
    }
}

/* a and b have the same parameters: names, shapes, trainable flags and values, bit for bit. */
static void expect_same_params(clnn_ctx *ctx, const clnn_model *a, const clnn_model *b)
{
    ck_assert_int_eq(clnn_model_param_count(a), clnn_model_param_count(b));
    int64_t ta = -1, tb = -2;
    ck_assert_int_eq(clnn_model_count_params(a, &ta), clnn_model_count_params(b, &tb));
    ck_assert_int_eq(ta, tb);
    for (int i = 0; i < clnn_model_param_count(a); i++) {
        clnn_tensor *x = clnn_model_param(a, i), *y = clnn_model_param(b, i);
        ck_assert_str_eq(clnn_tensor_name(x), clnn_tensor_name(y));
        char s1[64], s2[64];
        ck_assert_str_eq(clnn_tensor_shape_str(x, s1, sizeof s1),
                         clnn_tensor_shape_str(y, s2, sizeof s2));
        ck_assert_msg(clnn_model_param_trainable(a, i) == clnn_model_param_trainable(b, i),
                      "parameter '%s': trainable %d, loaded %d", clnn_tensor_name(x),
                      clnn_model_param_trainable(a, i), clnn_model_param_trainable(b, i));
        size_t bytes = clnn_tensor_bytes(x);
        float *vx = malloc(bytes), *vy = malloc(bytes);
        EXPECT_ST(ctx, clnn_tensor_read(x, vx, bytes), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_read(y, vy, bytes), CLNN_OK);
        ck_assert_msg(!memcmp(vx, vy, bytes), "parameter '%s' differs after the round trip",
                      clnn_tensor_name(x));
        free(vx);
        free(vy);
    }
}

static char *summary(const clnn_model *m)
{
    size_t need = clnn_model_summary(m, NULL, 0);
    char *s = malloc(need + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(clnn_model_summary(m, s, need + 1), need);
    return s;
}

/* A metadata value of a file (malloc'd copy, NULL when absent). */
static char *file_metadata(const char *path, const char *key)
{
    clnn_safetensors *st = NULL;
    char err[256];
    ck_assert_msg(clnn_safetensors_read(path, &st, err, sizeof err) == CLNN_OK, "%s", err);
    const char *v = clnn_safetensors_metadata(st, key);
    char *copy = v ? strdup(v) : NULL;
    clnn_safetensors_destroy(st);
    return copy;
}

/* Saves m, loads it back and checks that the two are the same model (see the file comment);
 * x: n samples of m's input. Returns the loaded model. */
static clnn_model *round_trip(clnn_ctx *ctx, clnn_model *m, const float *x, int64_t n,
                              const char *file)
{
    char path[PATH_LEN], path2[PATH_LEN], name2[128];
    tpath(path, file);
    snprintf(name2, sizeof name2, "again_%s", file);
    tpath(path2, name2);
    MODEL_OK(m);
    size_t ny;
    float *y = predict(ctx, m, x, n, 4, &ny);
    char *sum = summary(m);

    EXPECT_ST(ctx, clnn_model_save(m, path), CLNN_OK);
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
    ck_assert_ptr_nonnull(l);
    MODEL_OK(l);

    char *sum2 = summary(l);
    ck_assert_msg(!strcmp(sum, sum2), "summary before saving:\n%s\nafter loading:\n%s", sum, sum2);
    ck_assert_int_eq(clnn_model_layer_count(l), clnn_model_layer_count(m));
    for (int i = 0; i < clnn_model_layer_count(m); i++)
        ck_assert_str_eq(clnn_model_layer_name(l, i), clnn_model_layer_name(m, i));
    expect_same_params(ctx, m, l);

    /* predictions without compile, bit for bit, with a full and a partial batch */
    size_t ny2;
    float *y2 = predict(ctx, l, x, n, 4, &ny2);
    ck_assert_uint_eq(ny, ny2);
    ck_assert_msg(!memcmp(y, y2, ny * sizeof *y), "%s: the loaded model predicts differently",
                  file);
    free(y2);

    /* uncompiled: no training state */
    ck_assert_ptr_null(clnn_model_optimizer(l));
    int32_t *labels = calloc((size_t)n, sizeof *labels);
    clnn_data d = {x, n, 0, {0}, labels, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.verbose = 0;
    EXPECT_ST(ctx, clnn_model_fit(l, &d, &f), CLNN_ERR_STATE);
    free(labels);

    /* saved again, the architecture is the same text */
    EXPECT_ST(ctx, clnn_model_save(l, path2), CLNN_OK);
    char *a1 = file_metadata(path, "clnn.architecture"),
         *a2 = file_metadata(path2, "clnn.architecture");
    ck_assert_ptr_nonnull(a1);
    ck_assert_ptr_nonnull(a2);
    ck_assert_msg(!strcmp(a1, a2), "architecture saved:\n%s\nsaved again after loading:\n%s", a1,
                  a2);
    free(a1);
    free(a2);
    free(sum);
    free(sum2);
    free(y);
    return l;
}

/* input (1, 12, 12) -> Conv2D(4, 3x3, relu) -> MaxPool(2) -> Conv2D(8, 3x3, relu) -> Flatten ->
 * Dense(10, softmax): the MNIST CNN on small images */
static clnn_model *cnn(clnn_ctx *ctx, clnn_init_style init, uint64_t seed, const char *name)
{
    clnn_model *m = new_model(ctx, init, seed, name);
    clnn_model_input(m, "image", 3, (int64_t[]){1, 12, 12});
    push(m, clnn_layer_conv2d(4, 3, 3, CLNN_ACT_RELU));
    push(m, clnn_layer_maxpool2d(2, 2));
    push(m, clnn_layer_conv2d(8, 3, 3, CLNN_ACT_RELU));
    push(m, clnn_layer_flatten());
    push(m, clnn_layer_dense(10, CLNN_ACT_SOFTMAX));
    MODEL_OK(m);
    return m;
}

/* input (NF) -> Dense(hidden, relu) -> Dense(NC, softmax) */
static clnn_model *mlp(clnn_ctx *ctx, uint64_t seed, int hidden)
{
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, seed, NULL);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    push(m, clnn_layer_dense(hidden, CLNN_ACT_RELU));
    push(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX));
    MODEL_OK(m);
    return m;
}

static void compile(clnn_ctx *ctx, clnn_model *m, clnn_optim_kind opt, float lr)
{
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, opt);
    c.optimizer.lr = lr;
    c.metrics = CLNN_METRIC_ACCURACY;
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

/* ---- 1. round trips ------------------------------------------------------------------------- */
START_TEST(test_round_trip_cnn)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 144];
    fill_unif(x, COUNT(x), 1, 0, 1);
    clnn_model *m = cnn(ctx, CLNN_INIT_KERAS, 3, NULL);
    randomize_params(m, 10);
    clnn_model *l = round_trip(ctx, m, x, 5, "cnn.safetensors");
    /* the loaded model trains once compiled */
    compile(ctx, l, CLNN_OPTIM_ADAM, 1e-3f);
    int32_t labels[5] = {0, 1, 2, 3, 4};
    clnn_data d = {x, 5, 3, {1, 12, 12}, labels, NULL};
    double loss = -1;
    EXPECT_ST(ctx, clnn_model_train_on_batch(l, &d, &loss), CLNN_OK);
    ck_assert(isfinite(loss) && loss > 0);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_batchnorm_trained)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 40 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 5);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 4, NULL);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    push(m, clnn_layer_dense(6, CLNN_ACT_NONE));
    clnn_layer_spec bn = clnn_layer_batchnorm();
    bn.momentum = 0.3f; /* running statistics far from 0 and 1 after a few steps */
    push(m, bn);
    push(m, clnn_layer_activation(CLNN_ACT_RELU, 0));
    push(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX));
    MODEL_OK(m);
    compile(ctx, m, CLNN_OPTIM_ADAM, 0.01f);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_fit_options f = quiet(2, 16);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    /* the running statistics moved away from their initial 0 and 1 */
    float mean[6], var[6];
    clnn_tensor *tm = clnn_model_param_by_name(m, "batch_normalization.running_mean"),
                *tv = clnn_model_param_by_name(m, "batch_normalization.running_var");
    ck_assert_ptr_nonnull(tm);
    ck_assert_ptr_nonnull(tv);
    EXPECT_ST(ctx, clnn_tensor_read(tm, mean, sizeof mean), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_read(tv, var, sizeof var), CLNN_OK);
    int moved = 0;
    for (int i = 0; i < 6; i++)
        moved += fabsf(mean[i]) > 1e-3f && fabsf(var[i] - 1) > 1e-3f;
    ck_assert_msg(moved >= 3, "running statistics barely moved (%d of 6)", moved);
    clnn_model *l = round_trip(ctx, m, x, 7, "bn.safetensors");
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* Dropout: identity in predict; after loading, the same rate and seed give the same training step
 * (masks) as the original model. */
START_TEST(test_round_trip_dropout)
{
    /* seeds are uint64 and must come back exactly, past 2^53 and 2^63 too (fuzz_model found that
     * the reader went through a double: rounded, and undefined past 2^64 or below 0) */
    static const uint64_t seeds[] = {77, ((uint64_t)1 << 53) + 1, UINT64_MAX - 6};
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 12 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 6);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, seeds[_i], NULL);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    push(m, clnn_layer_dense(16, CLNN_ACT_RELU));
    push(m, clnn_layer_dropout(0.4f));
    push(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX));
    clnn_model *l = round_trip(ctx, m, x, N, "dropout.safetensors");
    compile(ctx, m, CLNN_OPTIM_SGD, 0.5f);
    compile(ctx, l, CLNN_OPTIM_SGD, 0.5f);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    double l1 = 0, l2 = 1;
    EXPECT_ST(ctx, clnn_model_train_on_batch(m, &d, &l1), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_train_on_batch(l, &d, &l2), CLNN_OK);
    ck_assert_msg(l1 == l2, "training loss %.9g, loaded model %.9g (dropout rate or seed lost?)",
                  l1, l2);
    expect_same_params(ctx, m, l);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_layernorm)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 24];
    fill_unif(x, COUNT(x), 2, -2, 2);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 8, NULL);
    clnn_model_input(m, "x", 2, (int64_t[]){4, 6});
    clnn_layer_spec ln = clnn_layer_layernorm();
    ln.eps = 1e-5f;
    push(m, ln);
    push(m, clnn_layer_dense(5, CLNN_ACT_TANH));
    randomize_params(m, 20);
    clnn_model *l = round_trip(ctx, m, x, 5, "ln.safetensors");
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_embedding)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float ids[6 * 5];
    for (size_t i = 0; i < COUNT(ids); i++)
        ids[i] = (float)((i * 7 + 3) % 20);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 9, NULL);
    clnn_model_input_i32(m, "tokens", 1, (int64_t[]){5});
    clnn_layer_spec e = clnn_layer_embedding(20, 4);
    e.padding_index = 0;
    push(m, e);
    push(m, clnn_layer_flatten());
    push(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX));
    randomize_params(m, 30);
    clnn_model *l = round_trip(ctx, m, ids, 6, "emb.safetensors");
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* x -> d1 = shared(x); d2 = shared(d1) (the same layer again); a = Add(x, d2);
 * c = Concatenate(a, d1); out = Dense(NC)(c) */
START_TEST(test_round_trip_functional)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * NF];
    fill_unif(x, COUNT(x), 3, -1, 1);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 10, "residual");
    int in = clnn_model_input(m, "x", 1, (int64_t[]){NF});
    int d1 = apply(m, named(clnn_layer_dense(NF, CLNN_ACT_TANH), "shared"), 1, &in);
    int d2 = clnn_model_reapply(m, d1, 1, &d1);
    ck_assert_msg(d2 >= 0, "reapply: %s", clnn_model_last_error(m));
    int a = apply(m, clnn_layer_add(), 2, (int[]){in, d2});
    int c = apply(m, clnn_layer_concatenate(-1), 2, (int[]){a, d1});
    int out = apply(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX), 1, &c);
    /* a side branch that is not the output: the output must be restored, not "the last node" */
    int side = apply(m, named(clnn_layer_dense(2, CLNN_ACT_NONE), "side"), 1, &d1);
    ck_assert_int_gt(side, out);
    EXPECT_ST(ctx, clnn_model_set_output(m, out), CLNN_OK);
    randomize_params(m, 40);
    clnn_model *l = round_trip(ctx, m, x, 5, "functional.safetensors");
    ck_assert_int_eq(out_numel(l), NC);
    ck_assert_int_eq(clnn_model_layer_count(l), 5);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_conv_transpose)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 2 * 25];
    fill_unif(x, COUNT(x), 4, -1, 1);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 11, NULL);
    clnn_model_input(m, "z", 3, (int64_t[]){2, 5, 5});
    clnn_layer_spec t = clnn_layer_conv2d_transpose(3, 3, 3, CLNN_ACT_LEAKY_RELU);
    t.alpha = 0.2f;
    t.stride_h = t.stride_w = 2;
    t.padding = CLNN_PADDING_EXPLICIT;
    t.pad_h = t.pad_w = 1;
    t.output_pad_h = t.output_pad_w = 1; /* (3, 10, 10) */
    push(m, t);
    clnn_layer_spec c = clnn_layer_conv2d(2, 3, 3, CLNN_ACT_SIGMOID);
    c.padding = CLNN_PADDING_SAME;
    c.dilation_h = 2;
    push(m, c);
    MODEL_OK(m);
    int nd;
    int64_t shape[CLNN_MAX_DIMS];
    ck_assert_int_eq(clnn_model_node_shape(m, 1, &nd, shape), CLNN_OK);
    ck_assert_int_eq(shape[1], 10);
    randomize_params(m, 50);
    clnn_model *l = round_trip(ctx, m, x, 5, "convt.safetensors");
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_frozen)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 144];
    fill_unif(x, COUNT(x), 5, 0, 1);
    clnn_model *m = cnn(ctx, CLNN_INIT_KERAS, 12, NULL);
    EXPECT_ST(ctx, clnn_model_set_trainable(m, 0, 0), CLNN_OK); /* conv2d */
    EXPECT_ST(ctx, clnn_model_set_trainable(m, 2, 0), CLNN_OK); /* conv2d_1 */
    int64_t tr_m = 0, all_m = clnn_model_count_params(m, &tr_m);
    ck_assert_int_eq(tr_m, 72 * 10 + 10);
    clnn_model *l = round_trip(ctx, m, x, 5, "frozen.safetensors");
    int64_t tr_l = 0;
    ck_assert_int_eq(clnn_model_count_params(l, &tr_l), all_m);
    ck_assert_int_eq(tr_l, tr_m);
    ck_assert_int_eq(clnn_model_param_trainable(l, 0), 0);
    ck_assert_int_eq(clnn_model_param_trainable(l, 4), 1);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_round_trip_pytorch_init)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 144];
    fill_unif(x, COUNT(x), 6, 0, 1);
    clnn_model *m = cnn(ctx, CLNN_INIT_PYTORCH, 123456789012345ull, "torch_style");
    char *s = summary(m);
    EXPECT_CONTAINS(s, "torch_style");
    free(s);
    clnn_model *l = round_trip(ctx, m, x, 5, "torch_init.safetensors");
    char path[PATH_LEN];
    char *arch = file_metadata(tpath(path, "torch_init.safetensors"), "clnn.architecture");
    EXPECT_CONTAINS(arch, "\"init\":1");
    EXPECT_CONTAINS(arch, "123456789012345");
    free(arch);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 2. the file is plain safetensors ------------------------------------------------------- */
START_TEST(test_file_is_safetensors)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = cnn(ctx, CLNN_INIT_KERAS, 13, NULL);
    char path[PATH_LEN];
    EXPECT_ST(ctx, clnn_model_save(m, tpath(path, "cnn.safetensors")), CLNN_OK);
    clnn_safetensors *st = NULL;
    char err[256];
    ck_assert_msg(clnn_safetensors_read(path, &st, err, sizeof err) == CLNN_OK, "%s", err);
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } want[] = {{"conv2d.weight", 4, {4, 1, 3, 3}},   {"conv2d.bias", 1, {4}},
                {"conv2d_1.weight", 4, {8, 4, 3, 3}}, {"conv2d_1.bias", 1, {8}},
                {"dense.weight", 2, {10, 72}},        {"dense.bias", 1, {10}}};
    ck_assert_int_eq(clnn_safetensors_count(st), (int)COUNT(want));
    size_t data_bytes = 0;
    for (size_t k = 0; k < COUNT(want); k++) {
        int i = clnn_safetensors_find(st, want[k].name);
        ck_assert_msg(i >= 0, "no tensor '%s' in the file", want[k].name);
        ck_assert_str_eq(clnn_safetensors_dtype(st, i), "F32");
        ck_assert_int_eq(clnn_safetensors_ndim(st, i), want[k].ndim);
        for (int a = 0; a < want[k].ndim; a++)
            ck_assert_int_eq(clnn_safetensors_dim(st, i, a), want[k].shape[a]);
        /* the bytes are the parameter's (little-endian f32 on this host) */
        clnn_tensor *t = clnn_model_param_by_name(m, want[k].name);
        ck_assert_ptr_nonnull(t);
        size_t bytes = 0;
        const void *data = clnn_safetensors_data(st, i, &bytes);
        ck_assert_uint_eq(bytes, clnn_tensor_bytes(t));
        float *v = malloc(bytes);
        EXPECT_ST(ctx, clnn_tensor_read(t, v, bytes), CLNN_OK);
        ck_assert_msg(!memcmp(v, data, bytes), "'%s': the file's bytes are not the parameter's",
                      want[k].name);
        free(v);
        data_bytes += bytes;
    }
    ck_assert_str_eq(clnn_safetensors_metadata(st, "format"), "clnn");
    ck_assert_str_eq(clnn_safetensors_metadata(st, "clnn.version"), clnn_version());
    const char *arch = clnn_safetensors_metadata(st, "clnn.architecture");
    ck_assert_ptr_nonnull(arch);
    ck_assert_int_eq(arch[0], '{');
    EXPECT_CONTAINS(arch, "\"conv2d_1\"");
    ck_assert_ptr_null(clnn_safetensors_metadata(st, "clnn.checkpoint"));
    clnn_safetensors_destroy(st);

    /* the header: u64 length, a multiple of 8, then exactly the data */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char len8[8];
    ck_assert_uint_eq(fread(len8, 1, 8, f), 8);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | len8[k];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ck_assert_uint_eq(hlen % 8, 0);
    ck_assert_uint_eq((uint64_t)size, 8 + hlen + data_bytes);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 3. load errors ------------------------------------------------------------------------- */
/* How write_edited() changes a file. */
typedef struct edit {
    const char *arch_from, *arch_to; /* replace the first occurrence (which must exist) */
    const char *arch;                /* the whole architecture text instead */
    int not_clnn;                    /* metadata {"format": "pt"} only */
    const char *drop;                /* a tensor left out */
    const char *transpose;           /* a 2-D tensor stored with its shape reversed */
    const char *as_i32;              /* a tensor stored as I32 (the same bytes) */
} edit;

/* Writes dst: src's tensors and metadata with the edit applied (clnn_safetensors_write). */
static void write_edited(const char *src, const char *dst, const edit *e)
{
    clnn_safetensors *st = NULL;
    char err[256];
    ck_assert_msg(clnn_safetensors_read(src, &st, err, sizeof err) == CLNN_OK, "%s", err);
    int n = clnn_safetensors_count(st), k = 0;
    clnn_safetensors_entry *en = calloc((size_t)n, sizeof *en);
    int64_t(*shapes)[8] = calloc((size_t)n, sizeof *shapes);
    for (int i = 0; i < n; i++) {
        const char *name = clnn_safetensors_name(st, i);
        if (e->drop && !strcmp(name, e->drop))
            continue;
        int nd = clnn_safetensors_ndim(st, i);
        for (int a = 0; a < nd; a++)
            shapes[k][a] = clnn_safetensors_dim(st, i, a);
        if (e->transpose && !strcmp(name, e->transpose)) {
            ck_assert_int_eq(nd, 2);
            int64_t t = shapes[k][0];
            shapes[k][0] = shapes[k][1];
            shapes[k][1] = t;
        }
        size_t bytes;
        en[k] = (clnn_safetensors_entry){
            name, e->as_i32 && !strcmp(name, e->as_i32) ? "I32" : clnn_safetensors_dtype(st, i), nd,
            shapes[k], clnn_safetensors_data(st, i, &bytes)};
        k++;
    }
    const char *arch = clnn_safetensors_metadata(st, "clnn.architecture");
    ck_assert_ptr_nonnull(arch);
    char *new_arch = NULL;
    if (e->arch) {
        new_arch = strdup(e->arch);
    } else if (e->arch_from) {
        const char *at = strstr(arch, e->arch_from);
        ck_assert_msg(at != NULL, "'%s' is not in the architecture %s", e->arch_from, arch);
        size_t pre = (size_t)(at - arch);
        new_arch = malloc(strlen(arch) + strlen(e->arch_to) + 1);
        memcpy(new_arch, arch, pre);
        strcpy(new_arch + pre, e->arch_to);
        strcat(new_arch, at + strlen(e->arch_from));
    } else {
        new_arch = strdup(arch);
    }
    /* every metadata pair of src, "format" and "clnn.architecture" as edited */
    int nm = clnn_safetensors_metadata_count(st), nmeta = 0;
    const char **meta = calloc((size_t)(2 * nm + 4), sizeof *meta);
    meta[nmeta++] = "format";
    meta[nmeta++] = e->not_clnn ? "pt" : "clnn";
    if (!e->not_clnn) {
        meta[nmeta++] = "clnn.architecture";
        meta[nmeta++] = new_arch;
    }
    for (int i = 0; i < nm && !e->not_clnn; i++) {
        const char *key = clnn_safetensors_metadata_key(st, i);
        if (strcmp(key, "format") && strcmp(key, "clnn.architecture")) {
            meta[nmeta++] = key;
            meta[nmeta++] = clnn_safetensors_metadata(st, key);
        }
    }
    ck_assert_msg(clnn_safetensors_write(dst, k, en, nmeta / 2, meta, err, sizeof err) == CLNN_OK,
                  "%s", err);
    free(meta);
    free(new_arch);
    free(shapes);
    free(en);
    clnn_safetensors_destroy(st);
}

static const struct load_error_case {
    const char *what;
    edit e;
    clnn_status want;
    const char *msg[3]; /* parts of the message */
} load_error_cases[] = {
    {"not clnn", {.not_clnn = 1}, CLNN_ERR_FORMAT, {"not a clnn model", "clnn_model_load_weights"}},
    {"malformed JSON",
     {.arch = "{\"format\":1,\"layers\":["},
     CLNN_ERR_FORMAT,
     {"clnn_model_load"}},
    {"not an object", {.arch = "[1,2]"}, CLNN_ERR_FORMAT, {"architecture"}},
    {"unknown kind",
     {.arch_from = "\"kind\":\"conv2d\"", .arch_to = "\"kind\":\"conv9d\""},
     CLNN_ERR_FORMAT,
     {"unknown layer kind"}},
    {"later node",
     {.arch_from = "\"inputs\":[0]", .arch_to = "\"inputs\":[4]"},
     CLNN_ERR_FORMAT,
     {"earlier nodes"}},
    {"self node",
     {.arch_from = "\"inputs\":[0]", .arch_to = "\"inputs\":[1]"},
     CLNN_ERR_FORMAT,
     {"earlier nodes"}},
    {"layer out of range",
     {.arch_from = "\"layer\":0,", .arch_to = "\"layer\":99,"},
     CLNN_ERR_FORMAT,
     {"'layer'"}},
    {"format of a later version",
     {.arch_from = "{\"format\":1,", .arch_to = "{\"format\":2,"},
     CLNN_ERR_UNSUPPORTED,
     {"format 2"}},
    {"format not a number",
     {.arch_from = "{\"format\":1,", .arch_to = "{\"format\":\"1\","},
     CLNN_ERR_FORMAT,
     {"'format'"}},
    {"bad setting",
     {.arch_from = "\"padding\":1,", .arch_to = "\"padding\":7,"},
     CLNN_ERR_FORMAT,
     {"'padding'"}},
    {"negative seed",
     {.arch_from = "\"seed\":14,", .arch_to = "\"seed\":-5,"},
     CLNN_ERR_FORMAT,
     {"'seed'", "2^64"}},
    {"seed past 2^64",
     {.arch_from = "\"seed\":14,", .arch_to = "\"seed\":18446744073709551616,"},
     CLNN_ERR_FORMAT,
     {"'seed'"}},
    {"seed not an integer",
     {.arch_from = "\"seed\":14,", .arch_to = "\"seed\":1e20,"},
     CLNN_ERR_FORMAT,
     {"'seed'"}},
    {"missing tensor", {.drop = "dense.bias"}, CLNN_ERR_FORMAT, {"dense.bias"}},
    {"wrong shape",
     {.transpose = "dense.weight"},
     CLNN_ERR_FORMAT,
     {"dense.weight", "(72, 10)", "(10, 72)"}},
    {"I32 tensor", {.as_i32 = "conv2d.bias"}, CLNN_ERR_FORMAT, {"conv2d.bias", "I32"}},
};

START_TEST(test_load_error)
{
    const struct load_error_case *c = &load_error_cases[_i];
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = cnn(ctx, CLNN_INIT_KERAS, 14, NULL);
    char good[PATH_LEN], bad[PATH_LEN];
    EXPECT_ST(ctx, clnn_model_save(m, tpath(good, "good.safetensors")), CLNN_OK);
    write_edited(good, tpath(bad, "bad.safetensors"), &c->e);
    clnn_model *l = (clnn_model *)&l; /* must become NULL */
    clnn_status st = clnn_model_load(ctx, bad, &l);
    ck_assert_msg(st == c->want, "%s: got %s, expected %s (%s)", c->what, clnn_status_name(st),
                  clnn_status_name(c->want), clnn_ctx_last_error(ctx));
    ck_assert_ptr_null(l);
    const char *msg = clnn_ctx_last_error(ctx);
    for (int k = 0; k < 3 && c->msg[k]; k++)
        EXPECT_CONTAINS(msg, c->msg[k]);
    EXPECT_CONTAINS(msg, bad); /* the message names the file */
    /* the unedited file still loads in the same context */
    EXPECT_ST(ctx, clnn_model_load(ctx, good, &l), CLNN_OK);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* Found by fuzz_model: a small file whose architecture claims huge layers made clnn_model_load
 * give every claimed parameter initial values before it compared them with the file's tensors:
 * minutes of work (a Keras LSTM's orthogonal initialiser is O(units^3)) or gigabytes of host
 * memory from a file of a few KB. Loading now makes the parameters without initial values (the
 * file's are written next), so such a file fails at once with CLNN_ERR_FORMAT, in little memory,
 * leaving no device object behind. */
static const struct huge_case {
    const char *what, *from, *to, *tensor; /* tensor: the one whose shape no longer matches */
} huge_cases[] = {
    {"LSTM of 3000 units (Keras orthogonal init)", "\"units\":3,", "\"units\":3000,",
     "lstm.weight_ih_l0"},
    {"input of 10^8 features before a Dense", "\"shape\":[4]}", "\"shape\":[100000000]}",
     "dense.weight"},
};

START_TEST(test_load_claims_huge_layers)
{
    const struct huge_case *c = &huge_cases[_i];
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 3, NULL);
    if (_i == 0) {
        clnn_model_input(m, "seq", 2, (int64_t[]){5, 4});
        push(m, named(clnn_layer_lstm(3, 1), "lstm"));
    } else {
        clnn_model_input(m, "x", 1, (int64_t[]){4});
        push(m, named(clnn_layer_dense(6, CLNN_ACT_RELU), "dense"));
    }
    char good[PATH_LEN], bad[PATH_LEN];
    EXPECT_ST(ctx, clnn_model_save(m, tpath(good, "good.safetensors")), CLNN_OK);
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, good, &l), CLNN_OK); /* warm: programs, caches */
    clnn_model_destroy(l);
    write_edited(good, tpath(bad, "huge.safetensors"),
                 &(edit){.arch_from = c->from, .arch_to = c->to});
    clnn_live_objects before;
    clnn_live_objects_get(&before);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    l = (clnn_model *)&l;
    EXPECT_ST(ctx, clnn_model_load(ctx, bad, &l), CLNN_ERR_FORMAT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_ptr_null(l);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), c->tensor);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), bad);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_msg(secs < 10, "%s: the load took %.1f s, expected a prompt failure", c->what, secs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    ck_assert_msg(ru.ru_maxrss < 1500 * 1024L, "%s: peak memory %ld MB, expected < 1500 MB",
                  c->what, ru.ru_maxrss / 1024);
    clnn_live_objects after;
    clnn_live_objects_get(&after);
    ck_assert_msg(after.buffers == before.buffers && after.kernels == before.kernels &&
                      after.programs == before.programs,
                  "%s: live objects %ld/%ld/%ld, before %ld/%ld/%ld", c->what, after.buffers,
                  after.kernels, after.programs, before.buffers, before.kernels, before.programs);
    /* the real file still loads, with its values */
    EXPECT_ST(ctx, clnn_model_load(ctx, good, &l), CLNN_OK);
    expect_same_params(ctx, m, l);
    clnn_model_destroy(l);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_load_not_a_model_file)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    char path[PATH_LEN];
    clnn_model *l = (clnn_model *)&l;
    /* missing */
    EXPECT_ST(ctx, clnn_model_load(ctx, tpath(path, "missing.safetensors"), &l), CLNN_ERR_IO);
    ck_assert_ptr_null(l);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "missing.safetensors");
    /* a directory */
    EXPECT_ST(ctx, clnn_model_load(ctx, tmpdir, &l), CLNN_ERR_IO);
    /* not safetensors: text, and an 8-byte header length larger than the file */
    const char text[] = "this is not a safetensors file, just some text\n";
    write_bytes(tpath(path, "text.safetensors"), text, sizeof text - 1);
    l = (clnn_model *)&l;
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_ERR_FORMAT);
    ck_assert_ptr_null(l);
    const unsigned char shortfile[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    write_bytes(tpath(path, "short.safetensors"), shortfile, sizeof shortfile);
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_ERR_FORMAT);
    write_bytes(tpath(path, "empty.safetensors"), "", 0);
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_ERR_FORMAT);
    /* a PyTorch file (no clnn metadata) */
    char golden[PATH_LEN];
    const char *gdir = getenv("CLNN_TEST_GOLDEN_DIR");
    ck_assert_msg(gdir != NULL, "CLNN_TEST_GOLDEN_DIR is not set");
    snprintf(golden, sizeof golden, "%s/persist_torch_cnn.safetensors", gdir);
    EXPECT_ST(ctx, clnn_model_load(ctx, golden, &l), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clnn_model_load_weights");
    ck_assert_ptr_null(l);
    /* arguments */
    EXPECT_ST(ctx, clnn_model_load(ctx, "", &l), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_load(ctx, NULL, &l), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_load(ctx, golden, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_model_load(NULL, golden, &l), CLNN_ERR_INVALID);
    clnn_model *m = cnn(ctx, CLNN_INIT_KERAS, 1, NULL);
    EXPECT_ST(ctx, clnn_model_save(m, ""), CLNN_ERR_INVALID);
    EXPECT_ST(ctx, clnn_model_save(m, NULL), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_model_save(NULL, path), CLNN_ERR_INVALID);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 4. weights from PyTorch (tests/golden/gen_persist.py) ---------------------------------- */
static const char *golden_path(char *buf, const char *name)
{
    const char *gdir = getenv("CLNN_TEST_GOLDEN_DIR");
    ck_assert_msg(gdir != NULL, "CLNN_TEST_GOLDEN_DIR is not set");
    snprintf(buf, PATH_LEN, "%s/%s", gdir, name);
    return buf;
}

/* The clnn twin of gen_persist.py's SmallCNN; head: the name of the last Dense (units outputs). */
static clnn_model *torch_cnn(clnn_ctx *ctx, uint64_t seed, const char *head, int units)
{
    clnn_model *m = new_model(ctx, CLNN_INIT_PYTORCH, seed, NULL);
    clnn_model_input(m, "x", 3, (int64_t[]){1, 12, 12});
    push(m, named(clnn_layer_conv2d(4, 3, 3, CLNN_ACT_RELU), "conv1"));
    push(m, clnn_layer_maxpool2d(2, 2));
    push(m, named(clnn_layer_conv2d(8, 3, 3, CLNN_ACT_NONE), "conv2"));
    clnn_layer_spec bn = named(clnn_layer_batchnorm(), "bn");
    bn.eps = 1e-5f; /* PyTorch's */
    push(m, bn);
    push(m, clnn_layer_activation(CLNN_ACT_RELU, 0));
    push(m, clnn_layer_flatten());
    push(m, named(clnn_layer_dense(units, CLNN_ACT_NONE), head)); /* logits */
    MODEL_OK(m);
    return m;
}

/* max |predict(x) - want| must be <= tol. */
static void expect_predictions(clnn_ctx *ctx, clnn_model *m, const golden_tensor *x,
                               const golden_tensor *want, double tol, const char *what)
{
    size_t n;
    float *y = predict(ctx, m, x->data, x->shape[0], 4, &n);
    ck_assert_uint_eq(n, (size_t)want->numel);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)y[i] - want->data[i]) > worst) {
            worst = fabs((double)y[i] - want->data[i]);
            at = i;
        }
    ck_assert_msg(worst <= tol, "%s: output %zu is %.7g, PyTorch's %.7g", what, at, y[at],
                  want->data[at]);
    free(y);
}

START_TEST(test_load_weights_pytorch)
{
    char err[256], path[PATH_LEN];
    golden_file *gf = golden_load("persist", err, sizeof err);
    ck_assert_msg(gf != NULL, "%s", err);
    const golden_case *gc = golden_case_get(gf, "torch_cnn");
    ck_assert_ptr_nonnull(gc);
    const golden_tensor *x = golden_tensor_get(gc, "x"), *y = golden_tensor_get(gc, "y"),
                        *y16 = golden_tensor_get(gc, "y_f16");
    ck_assert(x && y && y16);
    clnn_ctx *ctx = test_ctx(NULL);

    /* F32 with num_batches_tracked (I64): loads when not strict; refused when strict, before
     * anything is written (the model equals one built the same way) */
    clnn_model *m = torch_cnn(ctx, 1, "fc", 10), *same = torch_cnn(ctx, 1, "fc", 10);
    golden_path(path, "persist_torch_cnn.safetensors");
    EXPECT_ST(ctx, clnn_model_load_weights(m, path, 1), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "bn.num_batches_tracked");
    expect_same_params(ctx, m, same);
    clnn_model_destroy(same);
    EXPECT_ST(ctx, clnn_model_load_weights(m, path, 0), CLNN_OK);
    expect_predictions(ctx, m, x, y, 1e-4, "F32 state_dict");
    /* the BatchNorm statistics came from the file too */
    float rv[8];
    EXPECT_ST(ctx, clnn_tensor_read(clnn_model_param_by_name(m, "bn.running_var"), rv, sizeof rv),
              CLNN_OK);
    int not_one = 0;
    for (int i = 0; i < 8; i++)
        not_one += fabsf(rv[i] - 1) > 1e-3f;
    ck_assert_int_ge(not_one, 4);
    clnn_model_destroy(m);

    /* F64: converted; exactly the float tensors, so strict loads too */
    m = torch_cnn(ctx, 2, "fc", 10);
    EXPECT_ST(ctx,
              clnn_model_load_weights(m, golden_path(path, "persist_torch_cnn_f64.safetensors"), 1),
              CLNN_OK);
    expect_predictions(ctx, m, x, y, 1e-4, "F64 state_dict");
    clnn_model_destroy(m);

    /* F16: the weights rounded by PyTorch, compared with PyTorch's outputs of those weights */
    m = torch_cnn(ctx, 3, "fc", 10);
    EXPECT_ST(ctx,
              clnn_model_load_weights(m, golden_path(path, "persist_torch_cnn_f16.safetensors"), 1),
              CLNN_OK);
    expect_predictions(ctx, m, x, y16, 1e-4, "F16 state_dict");
    clnn_model_destroy(m);

    /* a parameter the file lacks: the head renamed; the layers before it are left as they were
     * (the whole file is checked before anything is written) */
    m = torch_cnn(ctx, 4, "head", 10);
    same = torch_cnn(ctx, 4, "head", 10);
    golden_path(path, "persist_torch_cnn.safetensors");
    EXPECT_ST(ctx, clnn_model_load_weights(m, path, 0), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "head.weight");
    expect_same_params(ctx, m, same);
    clnn_model_destroy(same);
    clnn_model_destroy(m);

    /* a wrong shape: 9 classes instead of 10; nothing written */
    m = torch_cnn(ctx, 5, "fc", 9);
    same = torch_cnn(ctx, 5, "fc", 9);
    EXPECT_ST(ctx, clnn_model_load_weights(m, path, 0), CLNN_ERR_FORMAT);
    const char *msg = clnn_ctx_last_error(ctx);
    EXPECT_CONTAINS(msg, "fc.weight");
    EXPECT_CONTAINS(msg, "(10, 72)");
    EXPECT_CONTAINS(msg, "(9, 72)");
    expect_same_params(ctx, m, same);
    clnn_model_destroy(same);
    clnn_model_destroy(m);

    /* missing file */
    m = torch_cnn(ctx, 6, "fc", 10);
    EXPECT_ST(ctx, clnn_model_load_weights(m, "/nonexistent/clnn/weights.safetensors", 0),
              CLNN_ERR_IO);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    golden_free(gf);
}
END_TEST

/* A clnn model file into a model built again (another seed): strict, bit-identical predictions. */
START_TEST(test_load_weights_clnn_file)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[5 * 144];
    fill_unif(x, COUNT(x), 7, 0, 1);
    clnn_model *a = torch_cnn(ctx, 10, "fc", 10), *b = torch_cnn(ctx, 11, "fc", 10);
    randomize_params(a, 60);
    char path[PATH_LEN];
    EXPECT_ST(ctx, clnn_model_save(a, tpath(path, "a.safetensors")), CLNN_OK);
    size_t n;
    float *ya = predict(ctx, a, x, 5, 4, &n), *yb = predict(ctx, b, x, 5, 4, NULL);
    ck_assert_msg(memcmp(ya, yb, n * sizeof *ya), "different seeds, same predictions?");
    free(yb);
    EXPECT_ST(ctx, clnn_model_load_weights(b, path, 1), CLNN_OK);
    yb = predict(ctx, b, x, 5, 4, NULL);
    ck_assert_msg(!memcmp(ya, yb, n * sizeof *ya), "load_weights of a clnn file: other outputs");
    expect_same_params(ctx, a, b);
    free(ya);
    free(yb);
    clnn_model_destroy(a);
    clnn_model_destroy(b);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 5. checkpoints ------------------------------------------------------------------------- */
#define CK_N     50 /* samples: 3 batches of 16 and one of 2 */
#define CK_BATCH 16

/* input (NF) -> Dense(16, relu) -> Dropout(0.3) -> Dense(NC, softmax), Adam with a STEP schedule */
static clnn_model *ck_model(clnn_ctx *ctx, int hidden)
{
    clnn_model *m = new_model(ctx, CLNN_INIT_KERAS, 21, NULL);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    push(m, clnn_layer_dense(hidden, CLNN_ACT_RELU));
    push(m, clnn_layer_dropout(0.3f));
    push(m, clnn_layer_dense(NC, CLNN_ACT_SOFTMAX));
    MODEL_OK(m);
    return m;
}

static void ck_compile(clnn_ctx *ctx, clnn_model *m)
{
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.optimizer.lr = 0.02f;
    c.optimizer.schedule.kind = CLNN_SCHEDULE_STEP;
    c.optimizer.schedule.step_size = 1;
    c.optimizer.schedule.gamma = 0.5f;
    c.metrics = CLNN_METRIC_ACCURACY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
}

static clnn_fit_options ck_fit(int epochs)
{
    clnn_fit_options f = quiet(epochs, CK_BATCH);
    f.shuffle = 1;
    f.seed = 33;
    return f;
}

/* Each phase runs in its own context, as separate runs of a program would (automatic layer names
 * count per context, so a model built again in the same context gets other names). Variants of
 * the resumed run: 0 the model from clnn_model_load of the checkpoint, 1 the model built again by
 * the program, 2 a checkpoint saved again right after loading (the optimizer state still pending)
 * and resumed from that copy. */
START_TEST(test_checkpoint_resume_bit_exact)
{
    const int variant = _i;
    make_tmpdir();
    float x[CK_N * NF];
    int32_t y[CK_N];
    make_blobs(CK_N, x, y, 8);
    clnn_data d = {x, CK_N, 1, {NF}, y, NULL};

    /* uninterrupted: 4 epochs */
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_model *a = ck_model(ctx, 16);
    ck_compile(ctx, a);
    clnn_fit_options f = ck_fit(4);
    EXPECT_ST(ctx, clnn_model_fit(a, &d, &f), CLNN_OK);
    const clnn_history *ha = clnn_model_history(a);
    ck_assert_int_eq(ha->epochs, 4);
    double hist_a[4][3];
    for (int e = 0; e < 4; e++) {
        hist_a[e][0] = clnn_history_get(ha, "loss", e);
        hist_a[e][1] = clnn_history_get(ha, "accuracy", e);
        hist_a[e][2] = clnn_history_get(ha, "lr", e);
    }
    size_t na, nb;
    float *wa = read_params(ctx, a, &na);
    const uint64_t steps_a = clnn_optimizer_steps(clnn_model_optimizer(a));
    const float lr_a = clnn_optimizer_get_lr(clnn_model_optimizer(a));
    clnn_model_destroy(a);
    clnn_ctx_destroy(ctx);

    /* 2 epochs with a checkpoint after each, then the model and its context are gone */
    char ckpt[PATH_LEN], again[PATH_LEN];
    tpath(ckpt, "ckpt.safetensors");
    tpath(again, "again.safetensors");
    ctx = test_ctx(NULL);
    clnn_model *b = ck_model(ctx, 16);
    ck_compile(ctx, b);
    f = ck_fit(2);
    f.checkpoint.path = ckpt;
    f.checkpoint.full = 1;
    EXPECT_ST(ctx, clnn_model_fit(b, &d, &f), CLNN_OK);
    ck_assert_int_eq(clnn_model_history(b)->epochs, 2);
    for (int e = 0; e < 2; e++) /* the first two epochs agree already */
        ck_assert(clnn_history_get(clnn_model_history(b), "loss", e) == hist_a[e][0]);
    clnn_model_destroy(b);
    clnn_ctx_destroy(ctx);
    char *ckmeta = file_metadata(ckpt, "clnn.checkpoint");
    ck_assert_ptr_nonnull(ckmeta);
    free(ckmeta);

    /* resumed */
    ctx = test_ctx(NULL);
    clnn_model *r = NULL;
    int epoch = -1;
    if (variant == 1) {
        r = ck_model(ctx, 16);
    } else {
        EXPECT_ST(ctx, clnn_model_load(ctx, ckpt, &r), CLNN_OK);
    }
    EXPECT_ST(ctx, clnn_model_load_checkpoint(r, ckpt, &epoch), CLNN_OK);
    ck_assert_int_eq(epoch, 2);
    if (variant == 2) {
        EXPECT_ST(ctx, clnn_model_save_checkpoint(r, again, epoch), CLNN_OK);
        clnn_model_destroy(r);
        r = NULL;
        EXPECT_ST(ctx, clnn_model_load(ctx, again, &r), CLNN_OK);
        epoch = -1;
        EXPECT_ST(ctx, clnn_model_load_checkpoint(r, again, &epoch), CLNN_OK);
        ck_assert_int_eq(epoch, 2);
    }
    f = ck_fit(4);
    f.initial_epoch = epoch;
    EXPECT_ST(ctx, clnn_model_fit(r, &d, &f), CLNN_OK);
    const clnn_history *hr = clnn_model_history(r);
    ck_assert_int_eq(hr->epochs, 2);
    float *wr = read_params(ctx, r, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(!memcmp(wa, wr, na * sizeof *wa),
                  "variant %d: the resumed weights differ from the uninterrupted run's", variant);
    for (int e = 0; e < 2; e++) {
        double lo = clnn_history_get(hr, "loss", e), ar = clnn_history_get(hr, "accuracy", e);
        ck_assert_msg(!memcmp(&hist_a[e + 2][0], &lo, sizeof lo),
                      "epoch %d: loss %.17g, resumed %.17g", e + 3, hist_a[e + 2][0], lo);
        ck_assert_msg(hist_a[e + 2][1] == ar, "epoch %d: accuracy %.17g, resumed %.17g", e + 3,
                      hist_a[e + 2][1], ar);
    }
    ck_assert_uint_eq(clnn_optimizer_steps(clnn_model_optimizer(r)), steps_a);
    ck_assert(clnn_optimizer_get_lr(clnn_model_optimizer(r)) == lr_a);
    /* the learning rate column: the schedule's rate of epochs 3 and 4 (0.02 * 0.5^2, ^3); checked
     * after the clean-up so that the sanitizer build also sees this test's leaks */
    char lr_msg[128] = "";
    for (int e = 0; e < 2 && !lr_msg[0]; e++) {
        double lr_ = clnn_history_get(hr, "lr", e);
        if (hist_a[e + 2][2] != lr_)
            snprintf(lr_msg, sizeof lr_msg, "epoch %d: history lr %.9g, resumed %.9g", e + 3,
                     hist_a[e + 2][2], lr_);
    }
    free(wa);
    free(wr);
    clnn_model_destroy(r);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
    ck_assert_msg(!lr_msg[0], "%s", lr_msg);
}
END_TEST

START_TEST(test_checkpoint_errors)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[CK_N * NF];
    int32_t y[CK_N];
    make_blobs(CK_N, x, y, 9);
    clnn_data d = {x, CK_N, 1, {NF}, y, NULL};
    char ckpt[PATH_LEN], plain[PATH_LEN], path[PATH_LEN];
    tpath(ckpt, "ckpt.safetensors");
    tpath(plain, "plain.safetensors");

    /* uncompiled: nothing to checkpoint */
    clnn_model *m = ck_model(ctx, 16);
    EXPECT_ST(ctx, clnn_model_save_checkpoint(m, tpath(path, "never.safetensors"), 0),
              CLNN_ERR_STATE);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_compile(ctx, m);
    EXPECT_ST(ctx, clnn_model_save_checkpoint(m, ckpt, -1), CLNN_ERR_INVALID);
    clnn_fit_options f = ck_fit(1);
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_save_checkpoint(m, ckpt, 1), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_save(m, plain), CLNN_OK);

    /* a checkpoint is also a model file */
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, ckpt, &l), CLNN_OK);
    expect_same_params(ctx, m, l);
    clnn_model_destroy(l);

    /* another architecture: 17 hidden units (in a fresh context, so that the layer names are the
     * same and only the shapes differ) */
    clnn_ctx *ctx2 = test_ctx(NULL);
    clnn_model *o = ck_model(ctx2, 17);
    EXPECT_ST(ctx2, clnn_model_load_checkpoint(o, ckpt, NULL), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx2), "architecture");
    clnn_model_destroy(o);
    /* the same layers, built again in the same context: other automatic names */
    o = ck_model(ctx, 16);
    EXPECT_ST(ctx, clnn_model_load_checkpoint(o, ckpt, NULL), CLNN_ERR_FORMAT);
    clnn_model_destroy(o);

    /* a plain model file is no checkpoint */
    clnn_model *p = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, plain, &p), CLNN_OK);
    int epoch = 99;
    EXPECT_ST(ctx, clnn_model_load_checkpoint(p, plain, &epoch), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "not a checkpoint");
    ck_assert_int_eq(epoch, 99);
    /* missing */
    EXPECT_ST(ctx, clnn_model_load_checkpoint(p, tpath(path, "missing.safetensors"), NULL),
              CLNN_ERR_IO);
    /* a checkpoint whose optimizer state is cut: one tensor missing */
    char cut[PATH_LEN];
    write_edited(ckpt, tpath(cut, "cut.safetensors"), &(edit){.drop = "dense.bias"});
    EXPECT_ST(ctx, clnn_model_load_checkpoint(p, cut, NULL), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "dense.bias");
    clnn_model_destroy(p);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx2);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* best_only: after each epoch the file holds the current weights when the monitored value
 * improved, else the weights it held before. */
typedef struct best_watch {
    clnn_ctx *ctx;
    clnn_model *m;
    const char *path;
    float *prev_file; /* the file's weights after the previous epoch (NULL: no file yet) */
    size_t n;
    int saved[16], unchanged[16], epochs;
    char error[256];
} best_watch;

/* The file's tensors in m's parameter order (malloc'd), NULL when there is no file. */
static float *file_params(best_watch *w)
{
    if (access(w->path, F_OK) != 0)
        return NULL;
    clnn_safetensors *st = NULL;
    char err[256];
    if (clnn_safetensors_read(w->path, &st, err, sizeof err) != CLNN_OK) {
        snprintf(w->error, sizeof w->error, "%s", err);
        return NULL;
    }
    float *all = malloc(w->n * sizeof *all), *p = all;
    for (int i = 0; i < clnn_model_param_count(w->m); i++) {
        clnn_tensor *t = clnn_model_param(w->m, i);
        int k = clnn_safetensors_find(st, clnn_tensor_name(t));
        size_t bytes = 0;
        const void *data = k >= 0 ? clnn_safetensors_data(st, k, &bytes) : NULL;
        if (!data || bytes != clnn_tensor_bytes(t)) {
            snprintf(w->error, sizeof w->error, "the file lacks '%s'", clnn_tensor_name(t));
            break;
        }
        memcpy(p, data, bytes);
        p += clnn_tensor_numel(t);
    }
    clnn_safetensors_destroy(st);
    return all;
}

static int best_watch_epoch(void *user, int epoch, const clnn_history *h)
{
    (void)h;
    best_watch *w = user;
    size_t n;
    float *now = read_params(w->ctx, w->m, &n), *file = file_params(w);
    if (epoch < 16 && file) {
        w->saved[epoch] = !memcmp(now, file, n * sizeof *now);
        w->unchanged[epoch] = w->prev_file && !memcmp(w->prev_file, file, n * sizeof *now);
    }
    w->epochs = epoch + 1;
    free(now);
    free(w->prev_file);
    w->prev_file = file;
    return 0;
}

START_TEST(test_checkpoint_best_only)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    enum { N = 30, EPOCHS = 10 };
    float x[N * NF];
    int32_t y[N];
    make_blobs(N, x, y, 10);
    clnn_data d = {x, N, 1, {NF}, y, NULL};
    clnn_model *m = mlp(ctx, 31, 6);
    compile(ctx, m, CLNN_OPTIM_SGD, 0.05f);
    char path[PATH_LEN];
    best_watch w = {ctx, m, tpath(path, "best.safetensors"), NULL, 0, {0}, {0}, 0, ""};
    free(read_params(ctx, m, &w.n));
    clnn_fit_options f = quiet(EPOCHS, 8);
    f.checkpoint.path = path;
    f.checkpoint.best_only = 1;
    snprintf(f.checkpoint.monitor, sizeof f.checkpoint.monitor, "accuracy");
    f.on_epoch_end = best_watch_epoch;
    f.callback_user = &w;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_OK);
    ck_assert_msg(!w.error[0], "%s", w.error);
    ck_assert_int_eq(w.epochs, EPOCHS);
    const clnn_history *h = clnn_model_history(m);
    double best = -1;
    int improved_n = 0, kept_n = 0;
    char pattern[64] = "";
    for (int e = 0; e < EPOCHS; e++) {
        double acc = clnn_history_get(h, "accuracy", e);
        int improved = acc > best;
        if (improved)
            best = acc;
        improved_n += improved && e > 0;
        kept_n += !improved;
        strcat(pattern, improved ? "+" : "-");
        if (improved)
            ck_assert_msg(w.saved[e], "epoch %d: accuracy improved to %g, the file was not written",
                          e + 1, acc);
        else
            ck_assert_msg(w.unchanged[e] && !w.saved[e],
                          "epoch %d: accuracy %g did not improve on %g, the file changed", e + 1,
                          acc, best);
    }
    /* both cases happened (else the test would prove little) */
    ck_assert_msg(improved_n >= 1 && kept_n >= 1, "improvement pattern %s", pattern);
    /* a best_only model file (full = 0) is a model file, not a checkpoint */
    char *ckm = file_metadata(path, "clnn.checkpoint");
    ck_assert_ptr_null(ckm);
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
    clnn_model_destroy(l);
    /* an unknown monitor */
    snprintf(f.checkpoint.monitor, sizeof f.checkpoint.monitor, "val_loss");
    f.on_epoch_end = NULL;
    EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_INVALID);
    free(w.prev_file);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 6. atomic writes ----------------------------------------------------------------------- */
START_TEST(test_save_replaces_file)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    char path[PATH_LEN];
    tpath(path, "model.safetensors");
    clnn_model *a = cnn(ctx, CLNN_INIT_KERAS, 1, NULL), *b = mlp(ctx, 2, 5);
    EXPECT_ST(ctx, clnn_model_save(a, path), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_save(b, path), CLNN_OK);
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
    expect_same_params(ctx, b, l);
    char *s1 = summary(b), *s2 = summary(l);
    ck_assert_str_eq(s1, s2);
    free(s1);
    free(s2);
    clnn_model_destroy(l);
    /* and back: the smaller file is replaced by the larger one */
    EXPECT_ST(ctx, clnn_model_save(a, path), CLNN_OK);
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
    expect_same_params(ctx, a, l);
    clnn_model_destroy(l);
    /* nothing else in the directory: no temporary file left */
    char names[512];
    ck_assert_msg(dir_entries(tmpdir, names, sizeof names) == 1, "directory holds:%s", names);
    clnn_model_destroy(a);
    clnn_model_destroy(b);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

#define BIG 1024 /* Dense(BIG -> BIG): 4 MB of weights */

/* The child: its own context (made after fork), a big model, saved in a loop until killed. */
static _Noreturn void save_forever(const char *path)
{
    alarm(60); /* never outlive a parent that failed to kill */
    clnn_ctx *ctx = NULL;
    if (clnn_ctx_create(&ctx, NULL) != CLNN_OK)
        _exit(2);
    clnn_model *m = NULL;
    if (clnn_model_create(ctx, NULL, &m) != CLNN_OK)
        _exit(3);
    clnn_model_input(m, "x", 1, (int64_t[]){BIG});
    clnn_layer_spec s = clnn_layer_dense(BIG, CLNN_ACT_NONE);
    if (clnn_model_push(m, &s) < 0)
        _exit(4);
    for (;;)
        if (clnn_model_save(m, path) != CLNN_OK)
            _exit(5);
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

START_TEST(test_kill_during_save)
{
    make_tmpdir();
    /* no context in this process before the last fork (POCL is not fork-safe) */
    static const double delays_ms[] = {0, 2, 5, 9, 14, 23, 37, 61};
    enum { ROUNDS = (int)COUNT(delays_ms) };
    char paths[ROUNDS][PATH_LEN], failure[512] = "";
    int leftovers = 0;
    for (int r = 0; r < ROUNDS && !failure[0]; r++) {
        char name[64];
        snprintf(name, sizeof name, "big%d.safetensors", r);
        tpath(paths[r], name);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            save_forever(paths[r]);
        /* wait for the first complete file, then a little more: the child is saving again */
        int status = 0, exited = 0;
        for (int t = 0; t < 60000 && access(paths[r], F_OK) != 0; t++) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            sleep_ms(1);
        }
        if (!exited) {
            sleep_ms(delays_ms[r]);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        if (exited || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            snprintf(failure, sizeof failure, "round %d: the saving child ended with status %d", r,
                     status);
            break;
        }
        /* the file is complete (checked without a context: the safetensors reader) */
        clnn_safetensors *st = NULL;
        char err[256];
        if (clnn_safetensors_read(paths[r], &st, err, sizeof err) != CLNN_OK)
            snprintf(failure, sizeof failure, "round %d (killed %g ms after the first save): %s", r,
                     delays_ms[r], err);
        clnn_safetensors_destroy(st);
    }
    leftovers = dir_entries(tmpdir, NULL, 0) - ROUNDS; /* temporary files of killed saves */
    ck_assert_msg(!failure[0], "%s", failure);
    ck_assert_int_ge(leftovers, 0);
    /* every file loads as the model */
    clnn_ctx *ctx = test_ctx(NULL);
    for (int r = 0; r < ROUNDS; r++) {
        clnn_model *l = NULL;
        EXPECT_ST(ctx, clnn_model_load(ctx, paths[r], &l), CLNN_OK);
        ck_assert_int_eq(clnn_model_count_params(l, NULL), (int64_t)BIG * BIG + BIG);
        clnn_model_destroy(l);
    }
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ---- 7. unwritable places ------------------------------------------------------------------- */
START_TEST(test_save_unwritable)
{
    make_tmpdir();
    clnn_ctx *ctx = test_ctx(NULL);
    float x[3 * 144];
    fill_unif(x, COUNT(x), 8, 0, 1);
    clnn_model *a = cnn(ctx, CLNN_INIT_KERAS, 1, NULL), *b = cnn(ctx, CLNN_INIT_KERAS, 2, NULL);
    char dir[PATH_LEN], path[PATH_LEN], p2[PATH_LEN];
    ck_assert_int_eq(mkdir(tpath(dir, "ro"), 0700), 0);
    tpath(path, "ro/model.safetensors");
    EXPECT_ST(ctx, clnn_model_save(a, path), CLNN_OK);
    size_t n;
    float *ya = predict(ctx, a, x, 3, 4, &n);

    /* a read-only directory (root writes there anyway: then this part proves nothing) */
    ck_assert_int_eq(chmod(dir, 0500), 0);
    clnn_status st = clnn_model_save(b, path);
    chmod(dir, 0700);
    if (geteuid() != 0) {
        ck_assert_msg(st == CLNN_ERR_IO, "saving into a read-only directory: got %s (%s)",
                      clnn_status_name(st), clnn_ctx_last_error(ctx));
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clnn_model_save");
        clnn_model *l = NULL;
        EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
        float *yl = predict(ctx, l, x, 3, 4, NULL);
        ck_assert_msg(!memcmp(ya, yl, n * sizeof *ya), "the previous file was changed");
        free(yl);
        clnn_model_destroy(l);
        ck_assert_int_eq(dir_entries(dir, NULL, 0), 1);
    } else {
        EXPECT_ST(ctx, clnn_model_save(a, path), CLNN_OK);
    }

    /* the target is a directory: the rename fails, the directory and its contents stay, no
     * temporary file is left */
    EXPECT_ST(ctx, clnn_model_save(b, dir), CLNN_ERR_IO);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clnn_model_save");
    char names[512];
    ck_assert_msg(dir_entries(tmpdir, names, sizeof names) == 1, "left:%s", names);
    ck_assert_int_eq(dir_entries(dir, NULL, 0), 1);
    clnn_model *l = NULL;
    EXPECT_ST(ctx, clnn_model_load(ctx, path, &l), CLNN_OK);
    float *yl = predict(ctx, l, x, 3, 4, NULL);
    ck_assert_msg(!memcmp(ya, yl, n * sizeof *ya), "the previous file was changed");
    free(yl);
    clnn_model_destroy(l);

    /* a path under a regular file, a missing directory */
    tpath(p2, "ro/model.safetensors/under_a_file.safetensors");
    EXPECT_ST(ctx, clnn_model_save(b, p2), CLNN_ERR_IO);
    EXPECT_ST(ctx, clnn_model_save(b, tpath(p2, "no/such/dir/m.safetensors")), CLNN_ERR_IO);
    /* checkpoints and fit's checkpointing report it too */
    compile(ctx, b, CLNN_OPTIM_ADAM, 1e-3f);
    EXPECT_ST(ctx, clnn_model_save_checkpoint(b, p2, 0), CLNN_ERR_IO);
    int32_t labels[3] = {0, 1, 2};
    clnn_data d = {x, 3, 3, {1, 12, 12}, labels, NULL};
    clnn_fit_options f = quiet(1, 4);
    f.checkpoint.path = p2;
    EXPECT_ST(ctx, clnn_model_fit(b, &d, &f), CLNN_ERR_IO);
    free(ya);
    clnn_model_destroy(a);
    clnn_model_destroy(b);
    clnn_ctx_destroy(ctx);
    remove_tmpdir();
}
END_TEST

static TCase *new_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    if (!getenv("CK_DEFAULT_TIMEOUT"))
        tcase_set_timeout(tc, 300); /* a cold POCL compiles for many seconds */
    return tc;
}

static Suite *persist_suite(void)
{
    Suite *s = suite_create("persist");
    TCase *tc = new_tcase("round_trip");
    tcase_add_test(tc, test_round_trip_cnn);
    tcase_add_test(tc, test_round_trip_batchnorm_trained);
    tcase_add_loop_test(tc, test_round_trip_dropout, 0, 3);
    tcase_add_test(tc, test_round_trip_layernorm);
    tcase_add_test(tc, test_round_trip_embedding);
    tcase_add_test(tc, test_round_trip_functional);
    tcase_add_test(tc, test_round_trip_conv_transpose);
    tcase_add_test(tc, test_round_trip_frozen);
    tcase_add_test(tc, test_round_trip_pytorch_init);
    tcase_add_test(tc, test_file_is_safetensors);
    suite_add_tcase(s, tc);

    tc = new_tcase("errors");
    tcase_add_loop_test(tc, test_load_error, 0, (int)COUNT(load_error_cases));
    tcase_add_test(tc, test_load_not_a_model_file);
    tcase_add_loop_test(tc, test_load_claims_huge_layers, 0, (int)COUNT(huge_cases));
    suite_add_tcase(s, tc);

    tc = new_tcase("load_weights");
    tcase_add_test(tc, test_load_weights_pytorch);
    tcase_add_test(tc, test_load_weights_clnn_file);
    suite_add_tcase(s, tc);

    tc = new_tcase("checkpoints");
    tcase_add_loop_test(tc, test_checkpoint_resume_bit_exact, 0, 3);
    tcase_add_test(tc, test_checkpoint_errors);
    tcase_add_test(tc, test_checkpoint_best_only);
    suite_add_tcase(s, tc);

    tc = new_tcase("atomic");
    tcase_add_test(tc, test_save_replaces_file);
    tcase_add_test(tc, test_kill_during_save);
    tcase_add_test(tc, test_save_unwritable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(persist_suite());
}
