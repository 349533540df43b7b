/* dcgan.c — a DCGAN (after the Keras/TensorFlow DCGAN tutorial) trained on MNIST with clnn:
 *   generator     z (100) -> Dense(7*7*64) -> Reshape(64, 7, 7) -> BatchNorm -> LeakyReLU(0.2)
 *                 -> Conv2DTranspose(32, 4x4, stride 2, same) -> BatchNorm -> LeakyReLU(0.2)
 *                 -> Conv2DTranspose(1, 4x4, stride 2, same, tanh): an image (1, 28, 28) in [-1, 1]
 *   discriminator (1, 28, 28) -> Conv2D(32, 4x4, stride 2, same) -> LeakyReLU(0.2) -> Dropout(0.3)
 *                 -> Conv2D(64, 4x4, stride 2, same) -> LeakyReLU(0.2) -> Dropout(0.3)
 *                 -> Flatten -> Dense(1): a logit, "real" when > 0
 * Both train with binary cross-entropy on logits and Adam (lr 2e-4, beta1 0.5), the Keras way:
 * D is compiled, then frozen, and the combined model C = D(G(z)) is compiled (trainable flags are
 * read at compile, so C updates only G while D, compiled before the freeze, still trains). Per
 * batch: D steps on real images (label 1) and on G's images (label 0; made by
 * clnn_model_forward in training mode, as Keras's generator(z, training=True): BatchNorm on the
 * batch's statistics, as inside C), then C steps on fresh noise with label 1. The training images
 * are scaled to [-1, 1] to match the tanh output; the last partial batch of an epoch is dropped.
 * Each epoch prints D's loss (real + fake), G's loss and D's accuracy on held-out real digits and
 * on fakes, and writes an 8x8 grid of G's images of a fixed noise batch to OUT/epoch_NNN.png
 * (epoch_000.png: before training). Data: tools/fetch-data puts MNIST in data/mnist (Fashion-MNIST:
 * --data data/fashion-mnist). Usage: dcgan [--data DIR] [--epochs N] [--batch-size N] [--device
 * SPEC] [--seed N] [--limit N]
 *              [--out DIR] */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clnn.h"
#include "example_util.h"

#define ZDIM  100 /* noise */
#define GRID  8   /* the image grid is GRID x GRID digits */
#define NEVAL 512 /* real and fake images for D's accuracy */

typedef struct args {
    const char *data, *device, *out;
    int epochs;
    int64_t batch, limit;
    uint64_t seed;
} args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dcgan [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]\n"
            "             [--limit N] [--out DIR]\n"
            "  --data DIR       the MNIST IDX files, plain or .gz (default data/mnist)\n"
            "  --epochs N       passes over the training set (default 5)\n"
            "  --batch-size N   images per step (default 64)\n"
            "  --device SPEC    gpu, cpu, P:D or a name substring (default $CLNN_DEVICE, else\n"
            "                   the first GPU, else the CPU)\n"
            "  --seed N         weights, noise and shuffling (default 1)\n"
            "  --limit N        train on the first N images (quick runs)\n"
            "  --out DIR        where the image grids go (default out/dcgan)\n");
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    *a = (args){"data/mnist", NULL, "out/dcgan", 5, 64, 0, 1};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t v = 0;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            exit(0);
        }
        int known = !strcmp(opt, "--data") || !strcmp(opt, "--device") || !strcmp(opt, "--out") ||
                    !strcmp(opt, "--epochs") || !strcmp(opt, "--batch-size") ||
                    !strcmp(opt, "--seed") || !strcmp(opt, "--limit");
        if (!known) {
            fprintf(stderr, "dcgan: unknown argument '%s'\n", opt);
            usage(stderr);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "dcgan: %s needs a value\n", opt);
            return -1;
        }
        i++;
        if (!strcmp(opt, "--data"))
            a->data = val;
        else if (!strcmp(opt, "--device"))
            a->device = val;
        else if (!strcmp(opt, "--out"))
            a->out = val;
        else if (!strcmp(opt, "--seed") ? parse_i64(val, 0, INT64_MAX, &v)
                                        : parse_i64(val, 1, 1 << 20, &v)) {
            fprintf(stderr, "dcgan: %s expects a%s integer, got '%s'\n", opt,
                    !strcmp(opt, "--seed") ? " non-negative" : " positive", val);
            return -1;
        } else if (!strcmp(opt, "--epochs"))
            a->epochs = (int)v;
        else if (!strcmp(opt, "--batch-size"))
            a->batch = v;
        else if (!strcmp(opt, "--seed"))
            a->seed = (uint64_t)v;
        else
            a->limit = v;
    }
    return 0;
}

/* ---- host random numbers (splitmix64) ----------------------------------------------------- */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unif(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static void gauss_fill(uint64_t *s, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sqrt(-2.0 * log(1.0 - rng_unif(s))) * cos(6.283185307179586 * rng_unif(s)));
}

/* ---- the image grid as an 8-bit grayscale PNG ------------------------------------------------ */
static void png_fail(png_structp png, png_const_charp msg)
{
    fprintf(stderr, "dcgan: libpng: %s\n", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    fprintf(stderr, "dcgan: libpng warning: %s\n", msg);
}

static int write_png(const char *path, const unsigned char *pix, int w, int h)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "dcgan: cannot create '%s': %s\n", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        fprintf(stderr, "dcgan: libpng: cannot allocate the writer\n");
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        remove(path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        remove(path);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, pix + (size_t)y * (size_t)w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    int bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "dcgan: writing '%s' failed: %s\n", path, strerror(errno));
        remove(path);
        return -1;
    }
    return 0;
}

/* G's images of the fixed noise as a GRID x GRID grid (2-pixel gaps) in OUT/epoch_NNN.png */
static int save_grid(clnn_model *G, const float *z, const char *out, int epoch)
{
    enum { CELL = 30, SIDE = GRID * CELL + 2 };
    static float img[GRID * GRID * 784];
    static unsigned char pix[SIDE * SIDE];
    if (clnn_model_predict(G, z, GRID * GRID, GRID * GRID, img, sizeof img / sizeof img[0]))
        return -2;
    memset(pix, 0, sizeof pix);
    for (int k = 0; k < GRID * GRID; k++)
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                float v = (img[k * 784 + y * 28 + x] + 1.0f) * 127.5f;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                pix[(k / GRID * CELL + 2 + y) * SIDE + k % GRID * CELL + 2 + x] =
                    (unsigned char)lrintf(v);
            }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/epoch_%03d.png", out, epoch) >= (int)sizeof path) {
        fprintf(stderr, "dcgan: the --out path is too long\n");
        return -1;
    }
    if (write_png(path, pix, SIDE, SIDE))
        return -1;
    printf("wrote %s\n", path);
    fflush(stdout);
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        fprintf(stderr, "dcgan: the --out path is too long\n");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "dcgan: cannot create the directory '%s': %s\n", p, strerror(errno));
            return -1;
        }
        *s = c;
        if (!c)
            return 0;
    }
}

/* ---- the models ------------------------------------------------------------------------------ */
static clnn_layer_spec named(clnn_layer_spec s, const char *name)
{
    snprintf(s.name, sizeof s.name, "%s", name);
    return s;
}

static clnn_layer_spec conv(clnn_layer_kind kind, int filters, clnn_activation act)
{
    clnn_layer_spec s = kind == CLNN_LAYER_CONV2D ? clnn_layer_conv2d(filters, 4, 4, act)
                                                  : clnn_layer_conv2d_transpose(filters, 4, 4, act);
    s.stride_h = s.stride_w = 2;
    s.padding = CLNN_PADDING_SAME;
    return s;
}

/* BatchNorm with PyTorch's default momentum 0.1 (the DCGAN paper's PyTorch port; Keras's 0.99 is
 * 0.01 here): the running statistics follow G's fast-changing activations closely enough for the
 * image grids and D's accuracy on fakes, which use predict (evaluation mode) as a saved generator
 * would. The fakes D trains on come from G in training mode (clnn_model_forward), as inside C: with
 * evaluation-mode fakes D learns to reject them while G's training-mode images still fool it. */
static clnn_layer_spec batchnorm(void)
{
    clnn_layer_spec s = clnn_layer_batchnorm();
    s.momentum = 0.1f;
    return s;
}

/* Layer names carry a g_ or d_ prefix: the combined model holds the layers of both. */
static clnn_model *generator(clnn_ctx *ctx, uint64_t seed)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = seed;
    snprintf(mo.name, sizeof mo.name, "generator");
    clnn_model *m = NULL;
    if (clnn_model_create(ctx, &mo, &m))
        return NULL;
    clnn_model_input(m, "z", 1, (int64_t[]){ZDIM});
    const clnn_layer_spec l[] = {
        named(clnn_layer_dense(7 * 7 * 64, CLNN_ACT_NONE), "g_dense"),
        named(clnn_layer_reshape(3, (int64_t[]){64, 7, 7}), "g_reshape"),
        named(batchnorm(), "g_bn1"),
        named(clnn_layer_activation(CLNN_ACT_LEAKY_RELU, 0.2f), "g_leaky1"),
        named(conv(CLNN_LAYER_CONV2D_TRANSPOSE, 32, CLNN_ACT_NONE), "g_deconv1"),
        named(batchnorm(), "g_bn2"),
        named(clnn_layer_activation(CLNN_ACT_LEAKY_RELU, 0.2f), "g_leaky2"),
        named(conv(CLNN_LAYER_CONV2D_TRANSPOSE, 1, CLNN_ACT_TANH), "g_deconv2")};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        clnn_model_push(m, &l[i]);
    return m;
}

static clnn_model *discriminator(clnn_ctx *ctx, uint64_t seed)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = seed;
    snprintf(mo.name, sizeof mo.name, "discriminator");
    clnn_model *m = NULL;
    if (clnn_model_create(ctx, &mo, &m))
        return NULL;
    clnn_model_input(m, "image", 3, (int64_t[]){1, 28, 28});
    const clnn_layer_spec l[] = {
        named(conv(CLNN_LAYER_CONV2D, 32, CLNN_ACT_NONE), "d_conv1"),
        named(clnn_layer_activation(CLNN_ACT_LEAKY_RELU, 0.2f), "d_leaky1"),
        named(clnn_layer_dropout(0.3f), "d_dropout1"),
        named(conv(CLNN_LAYER_CONV2D, 64, CLNN_ACT_NONE), "d_conv2"),
        named(clnn_layer_activation(CLNN_ACT_LEAKY_RELU, 0.2f), "d_leaky2"),
        named(clnn_layer_dropout(0.3f), "d_dropout2"),
        named(clnn_layer_flatten(), "d_flatten"),
        named(clnn_layer_dense(1, CLNN_ACT_NONE), "d_dense")};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        clnn_model_push(m, &l[i]);
    return m;
}

static int compile(clnn_model *m)
{
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS, CLNN_OPTIM_ADAM);
    c.optimizer.lr = 2e-4f;
    c.optimizer.beta1 = 0.5f;
    return clnn_model_compile(m, &c) != CLNN_OK;
}

/* The fraction of logits on the right side of 0 (real: > 0). */
static double accuracy(const float *logits, int64_t n, int real)
{
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++)
        right += real ? logits[i] > 0 : logits[i] <= 0;
    return (double)right / (double)n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    args a;
    if (parse_args(argc, argv, &a))
        return 2;
    if (make_dirs(a.out))
        return 1;
    ex_mnist d;
    if (ex_mnist_load(a.data, a.limit, &d))
        return 1;
    /* pixels / 255 -> [-1, 1] for the tanh generator */
    for (int64_t i = 0; i < d.train_n * 784; i++)
        d.train_x[i] = d.train_x[i] * 2 - 1;
    const int64_t neval = d.test_n < NEVAL ? d.test_n : NEVAL;
    for (int64_t i = 0; i < neval * 784; i++)
        d.test_x[i] = d.test_x[i] * 2 - 1;
    const int64_t B = a.batch < d.train_n ? a.batch : d.train_n, steps = d.train_n / B;

    clnn_ctx *ctx = NULL;
    clnn_model *G = NULL, *D = NULL, *C = NULL;
    int64_t *order = malloc((size_t)d.train_n * sizeof *order);
    float *real = malloc((size_t)(B * 784) * sizeof *real);
    float *fake = malloc((size_t)(NEVAL > B ? NEVAL : B) * 784 * sizeof *fake);
    float *z = malloc((size_t)(NEVAL > B ? NEVAL : B) * ZDIM * sizeof *z);
    float *ones = malloc((size_t)B * sizeof *ones), *zeros = calloc((size_t)B, sizeof *zeros);
    float *logits = malloc(NEVAL * sizeof *logits), fixed_z[GRID * GRID * ZDIM];
    int rc = 1;
    if (!order || !real || !fake || !z || !ones || !zeros || !logits) {
        fprintf(stderr, "dcgan: out of memory\n");
        goto out;
    }
    for (int64_t i = 0; i < B; i++)
        ones[i] = 1;
    if (ex_ctx(a.device, &ctx))
        goto out;
    G = generator(ctx, a.seed);
    D = discriminator(ctx, a.seed + 1);
    if (!G || !D)
        goto ctx_error;
    if (clnn_model_status(G) || clnn_model_status(D)) {
        fprintf(stderr, "dcgan: %s\n", clnn_model_last_error(clnn_model_status(G) ? G : D));
        goto out;
    }
    char summary[8192];
    clnn_model_summary(G, summary, sizeof summary);
    fputs(summary, stdout);
    clnn_model_summary(D, summary, sizeof summary);
    fputs(summary, stdout);
    /* Keras's recipe: compile D, freeze it, then build and compile C = D(G(z)) */
    if (compile(D) || clnn_model_set_trainable(D, -1, 0))
        goto ctx_error;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    snprintf(mo.name, sizeof mo.name, "gan");
    if (clnn_model_create(ctx, &mo, &C))
        goto ctx_error;
    int zin = clnn_model_input(C, "z", 1, (int64_t[]){ZDIM});
    clnn_model_apply_model(C, D, clnn_model_apply_model(C, G, zin));
    if (clnn_model_status(C)) {
        fprintf(stderr, "dcgan: %s\n", clnn_model_last_error(C));
        goto out;
    }
    if (compile(C))
        goto ctx_error;
    printf("training on %lld images, %lld steps of %lld per epoch\n", (long long)d.train_n,
           (long long)steps, (long long)B);
    fflush(stdout);

    uint64_t rng = a.seed * 0x2545f4914f6cdd1dull + 7;
    gauss_fill(&rng, fixed_z, sizeof fixed_z / sizeof fixed_z[0]);
    int st = save_grid(G, fixed_z, a.out, 0);
    if (st == -2)
        goto ctx_error;
    if (st)
        goto out;
    for (int64_t i = 0; i < d.train_n; i++)
        order[i] = i;
    for (int epoch = 1; epoch <= a.epochs; epoch++) {
        const double t0 = now_s();
        for (int64_t i = d.train_n - 1; i > 0; i--) { /* shuffle (the modulo bias is harmless) */
            int64_t j = (int64_t)(rng_next(&rng) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double d_loss = 0, g_loss = 0;
        for (int64_t s = 0; s < steps; s++) {
            for (int64_t i = 0; i < B; i++)
                memcpy(real + i * 784, d.train_x + order[s * B + i] * 784, 784 * sizeof *real);
            gauss_fill(&rng, z, (size_t)(B * ZDIM));
            double lr = 0, lf = 0, lg = 0;
            clnn_data dr = {real, B, 3, {1, 28, 28}, NULL, ones};
            clnn_data df = {fake, B, 3, {1, 28, 28}, NULL, zeros};
            clnn_data dz = {z, B, 1, {ZDIM}, NULL, ones};
            if (clnn_model_forward(G, z, B, 1, fake, (size_t)(B * 784)) ||
                clnn_model_train_on_batch(D, &dr, &lr) || clnn_model_train_on_batch(D, &df, &lf))
                goto ctx_error;
            gauss_fill(&rng, z, (size_t)(B * ZDIM));
            if (clnn_model_train_on_batch(C, &dz, &lg))
                goto ctx_error;
            d_loss += lr + lf;
            g_loss += lg;
        }
        /* D's accuracy (evaluation mode) on held-out real digits and on fresh fakes */
        gauss_fill(&rng, z, (size_t)(neval * ZDIM));
        double acc_real, acc_fake;
        if (clnn_model_predict(D, d.test_x, neval, B, logits, (size_t)neval))
            goto ctx_error;
        acc_real = accuracy(logits, neval, 1);
        if (clnn_model_predict(G, z, neval, B, fake, (size_t)(neval * 784)) ||
            clnn_model_predict(D, fake, neval, B, logits, (size_t)neval))
            goto ctx_error;
        acc_fake = accuracy(logits, neval, 0);
        printf("epoch %d/%d - %.0fs - d_loss: %.4f - g_loss: %.4f - d_acc_real: %.3f - "
               "d_acc_fake: %.3f\n",
               epoch, a.epochs, now_s() - t0, d_loss / (double)steps, g_loss / (double)steps,
               acc_real, acc_fake);
        fflush(stdout);
        st = save_grid(G, fixed_z, a.out, epoch);
        if (st == -2)
            goto ctx_error;
        if (st)
            goto out;
    }
    rc = 0;
    goto out;
ctx_error:
    fprintf(stderr, "dcgan: %s\n", clnn_ctx_last_error(ctx));
out:
    clnn_model_destroy(C);
    clnn_model_destroy(D);
    clnn_model_destroy(G);
    clnn_ctx_destroy(ctx);
    free(order);
    free(real);
    free(fake);
    free(z);
    free(ones);
    free(zeros);
    free(logits);
    ex_mnist_free(&d);
    return rc;
}
