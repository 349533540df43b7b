/* example_util.c — see example_util.h. */
#include "example_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(const char *prog, FILE *f)
{
    fprintf(f,
            "usage: %s [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]\n"
            "       %*s [--limit N] [--history FILE] [--save FILE] [--checkpoint FILE] [--quiet]\n"
            "       %*s [--mpi]\n"
            "  --data DIR       the MNIST IDX files, plain or .gz (default data/mnist;\n"
            "                   tools/fetch-data puts them there)\n"
            "  --epochs N       passes over the training set\n"
            "  --batch-size N   samples per step\n"
            "  --device SPEC    gpu, cpu, P:D or a name substring (default $CLNN_DEVICE, else\n"
            "                   the first GPU, else the CPU)\n"
            "  --seed N         initial weights and shuffling (default 1)\n"
            "  --limit N        train on the first N samples and test on N/6 (quick runs)\n"
            "  --history FILE   write loss and accuracy per epoch as CSV\n"
            "  --save FILE      save the trained model (safetensors; mnist_predict reads it)\n"
            "  --checkpoint FILE  save a checkpoint after every epoch; if FILE exists, resume\n"
            "                   from it (same data and options: the same result as without the\n"
            "                   interruption)\n"
            "  --quiet          no progress output\n"
            "  --mpi            data-parallel training over the ranks of mpirun -np N (also\n"
            "                   CLNN_MPI=1): --batch-size samples per rank and step, a device\n"
            "                   per rank, output and files from rank 0 (docs/distributed.md)\n",
            prog, (int)strlen(prog), "", (int)strlen(prog), "");
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

int ex_parse_args(int argc, char **argv, const char *prog, int epochs, int64_t batch, ex_args *a)
{
    memset(a, 0, sizeof *a);
    a->data = "data/mnist";
    a->epochs = epochs;
    a->batch_size = batch;
    a->seed = 1;
    const char *env = getenv("CLNN_MPI");
    a->mpi = env && !strcmp(env, "1");
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t v;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(prog, stdout);
            exit(0);
        } else if (!strcmp(opt, "--quiet")) {
            a->quiet = 1;
            continue;
        } else if (!strcmp(opt, "--mpi")) {
            a->mpi = 1;
            continue;
        }
        if (strncmp(opt, "--", 2) ||
            !(!strcmp(opt, "--data") || !strcmp(opt, "--epochs") || !strcmp(opt, "--batch-size") ||
              !strcmp(opt, "--device") || !strcmp(opt, "--seed") || !strcmp(opt, "--limit") ||
              !strcmp(opt, "--history") || !strcmp(opt, "--save") ||
              !strcmp(opt, "--checkpoint"))) {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, opt);
            usage(prog, stderr);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "%s: %s needs a value\n", prog, opt);
            return -1;
        }
        i++;
        if (!strcmp(opt, "--data"))
            a->data = val;
        else if (!strcmp(opt, "--device"))
            a->device = val;
        else if (!strcmp(opt, "--history"))
            a->history = val;
        else if (!strcmp(opt, "--save"))
            a->save = val;
        else if (!strcmp(opt, "--checkpoint"))
            a->checkpoint = val;
        else if (!strcmp(opt, "--epochs")) {
            if (parse_i64(val, 1, 100000, &v))
                goto bad;
            a->epochs = (int)v;
        } else if (!strcmp(opt, "--batch-size")) {
            if (parse_i64(val, 1, 1 << 20, &v))
                goto bad;
            a->batch_size = v;
        } else if (!strcmp(opt, "--seed")) {
            if (parse_i64(val, 0, INT64_MAX, &v))
                goto bad;
            a->seed = (uint64_t)v;
        } else if (!strcmp(opt, "--limit")) {
            if (parse_i64(val, 6, INT64_MAX, &v))
                goto bad;
            a->limit = v;
        }
        continue;
    bad:
        fprintf(stderr, "%s: %s expects a%s integer, got '%s'\n", prog, opt,
                !strcmp(opt, "--limit") ? "n" : " positive", val);
        if (!strcmp(opt, "--limit"))
            fprintf(stderr, "%s: --limit must be at least 6\n", prog);
        return -1;
    }
    return 0;
}

/* DIR/name, or DIR/name.gz when only that exists */
static int find_file(const char *dir, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    if (access(path, R_OK) == 0)
        return 0;
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (access(path, R_OK) == 0)
        return 0;
    return -1;
}

static int load_pair(const char *dir, const char *images, const char *labels, int64_t limit,
                     float **x, int32_t **y, int64_t *n)
{
    char pi[1024], pl[1024], err[512];
    if (find_file(dir, images, pi, sizeof pi) || find_file(dir, labels, pl, sizeof pl)) {
        fprintf(stderr,
                "error: %s/%s[.gz] or %s[.gz] not found; run tools/fetch-data to get MNIST, or "
                "give --data DIR with the four IDX files\n",
                dir, images, labels);
        return -1;
    }
    clnn_idx *xi = NULL, *yi = NULL;
    int rc = -1;
    if (clnn_idx_read(pi, &xi, err, sizeof err) || clnn_idx_read(pl, &yi, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        goto out;
    }
    if (clnn_idx_ndim(xi) != 3 || clnn_idx_dim(xi, 1) != 28 || clnn_idx_dim(xi, 2) != 28) {
        fprintf(stderr, "error: %s: expected images of 28x28 pixels (N, 28, 28), got %d axes\n", pi,
                clnn_idx_ndim(xi));
        goto out;
    }
    if (clnn_idx_ndim(yi) != 1 || clnn_idx_dim(yi, 0) != clnn_idx_dim(xi, 0)) {
        fprintf(stderr, "error: %s: expected %lld labels, one per image of %s\n", pl,
                (long long)clnn_idx_dim(xi, 0), pi);
        goto out;
    }
    int64_t all = clnn_idx_dim(xi, 0);
    *n = limit > 0 && limit < all ? limit : all;
    *x = malloc((size_t)all * 784 * sizeof **x);
    *y = malloc((size_t)all * sizeof **y);
    if (!*x || !*y) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    if (clnn_idx_to_f32(xi, 1.0f / 255, *x, (size_t)all * 784) ||
        clnn_idx_to_i32(yi, *y, (size_t)all)) {
        fprintf(stderr, "error: %s: cannot convert the data\n", pi);
        goto out;
    }
    for (int64_t i = 0; i < all; i++)
        if ((*y)[i] < 0 || (*y)[i] > 9) {
            fprintf(stderr, "error: %s: label %lld is %d, expected a digit 0 to 9\n", pl,
                    (long long)i, (int)(*y)[i]);
            goto out;
        }
    rc = 0;
out:
    clnn_idx_destroy(xi);
    clnn_idx_destroy(yi);
    return rc;
}

int ex_mnist_load(const char *dir, int64_t limit, ex_mnist *d)
{
    memset(d, 0, sizeof *d);
    if (load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", limit, &d->train_x,
                  &d->train_y, &d->train_n) ||
        load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", limit / 6, &d->test_x,
                  &d->test_y, &d->test_n)) {
        ex_mnist_free(d);
        return -1;
    }
    return 0;
}

void ex_mnist_free(ex_mnist *d)
{
    free(d->train_x);
    free(d->test_x);
    free(d->train_y);
    free(d->test_y);
    memset(d, 0, sizeof *d);
}

int ex_ctx(const char *device, clnn_ctx **ctx)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.device = device;
    if (clnn_ctx_create(ctx, &o) != CLNN_OK) {
        fprintf(stderr, "error: %s\n", *ctx ? clnn_ctx_last_error(*ctx) : "out of memory");
        return -1;
    }
    return 0;
}

int ex_agree(const ex_args *a, int failed, const char *why, const char *prog)
{
    if (!a->mpi)
        return failed;
    char err[600];
    clnn_status st = clnn_mpi_agree(failed ? CLNN_ERR_INVALID : CLNN_OK,
                                    failed ? why : NULL, err, sizeof err);
    if (st == CLNN_ERR_DISTRIBUTED)
        fprintf(stderr, "%s: rank %d stops: %s\n", prog, clnn_mpi_rank(), err);
    return st != CLNN_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int ex_train_and_test(clnn_ctx *ctx, clnn_model *m, const ex_args *a, const ex_mnist *d,
                      const char *prog)
{
    clnn_device_info info;
    if (clnn_ctx_device_info(ctx, &info) == CLNN_OK && !a->quiet)
        printf("device: %s (%s)\n", info.name, info.platform_name);
    if (!a->quiet) {
        size_t need = clnn_model_summary(m, NULL, 0) + 1;
        char *text = malloc(need);
        if (text) {
            clnn_model_summary(m, text, need);
            fputs(text, stdout);
            free(text);
        }
        printf("training on %lld samples, testing on %lld\n", (long long)d->train_n,
               (long long)d->test_n);
    }
    clnn_data train = {d->train_x, d->train_n, 2, {28, 28}, d->train_y, NULL};
    clnn_data test = {d->test_x, d->test_n, 2, {28, 28}, d->test_y, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = a->epochs;
    f.batch_size = a->batch_size;
    f.seed = a->seed;
    f.verbose = a->quiet ? 0 : 1;
    f.history_csv = a->history;
    f.distributed = a->mpi;
    if (a->checkpoint) {
        f.checkpoint.path = a->checkpoint;
        f.checkpoint.full = 1;
        if (access(a->checkpoint, F_OK) == 0) {
            int epoch = 0, failed = clnn_model_load_checkpoint(m, a->checkpoint, &epoch) != 0;
            if (failed)
                fprintf(stderr, "%s: %s\n", prog, clnn_ctx_last_error(ctx));
            if (ex_agree(a, failed, clnn_ctx_last_error(ctx), prog))
                return 1;
            if (epoch > f.epochs)
                epoch = f.epochs;
            f.initial_epoch = epoch;
            if (!a->quiet)
                printf("resuming from %s after epoch %d\n", a->checkpoint, epoch);
        }
    }
    double t0 = now_s();
    if (clnn_model_fit(m, &train, &f)) {
        fprintf(stderr, "%s: %s\n", prog, clnn_ctx_last_error(ctx));
        return 1;
    }
    double t1 = now_s();
    clnn_eval_result r;
    if (clnn_model_evaluate(m, &test, 256, &r)) { /* every rank holds the same weights */
        fprintf(stderr, "%s: %s\n", prog, clnn_ctx_last_error(ctx));
        return 1;
    }
    if (a->mpi && clnn_mpi_rank() != 0)
        return 0; /* rank 0 reports and saves */
    printf("training: %.1f s, %.0f samples/s%s\n", t1 - t0,
           (double)d->train_n * (f.epochs - f.initial_epoch) / (t1 - t0),
           a->mpi ? " (all ranks)" : "");
    printf("test loss: %.4f\n", r.loss);
    printf("test accuracy: %.4f\n", r.accuracy);
    if (a->save) {
        if (clnn_model_save(m, a->save)) {
            fprintf(stderr, "%s: %s\n", prog, clnn_ctx_last_error(ctx));
            return 1;
        }
        printf("saved the model to %s\n", a->save);
    }
    return 0;
}

int ex_mnist_main(int argc, char **argv, const char *prog, int ndim, const int64_t *shape,
                  const clnn_layer_spec *layers, int nlayers, const clnn_compile_options *c)
{
    ex_args a;
    if (ex_parse_args(argc, argv, prog, 5, 128, &a))
        return 2;
    char err[512];
    if (a.mpi && clnn_mpi_init(&argc, &argv, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    if (a.mpi && clnn_mpi_rank() != 0)
        a.quiet = 1; /* rank 0 reports */
    ex_mnist d;
    clnn_ctx *ctx = NULL;
    clnn_model *m = NULL;
    int rc = 1;
    /* a rank that cannot read the data or open its device stops them all */
    int failed = ex_mnist_load(a.data, a.limit, &d);
    if (ex_agree(&a, failed, "cannot read the data (its error output says why)", prog)) {
        if (!failed)
            ex_mnist_free(&d);
        clnn_mpi_finalize();
        return 1;
    }
    failed = ex_ctx(a.device, &ctx);
    if (ex_agree(&a, failed, ctx ? clnn_ctx_last_error(ctx) : "out of memory", prog))
        goto out;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = a.seed;
    if (clnn_model_create(ctx, &mo, &m))
        goto ctx_error;
    clnn_model_input(m, "image", ndim, shape);
    for (int i = 0; i < nlayers; i++)
        clnn_model_push(m, &layers[i]);
    if (clnn_model_status(m)) {
        fprintf(stderr, "%s: %s\n", prog, clnn_model_last_error(m));
        goto out;
    }
    if (clnn_model_compile(m, c))
        goto ctx_error;
    rc = ex_train_and_test(ctx, m, &a, &d, prog);
    goto out;
ctx_error:
    fprintf(stderr, "%s: %s\n", prog, clnn_ctx_last_error(ctx));
out:
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    ex_mnist_free(&d);
    if (a.mpi)
        clnn_mpi_finalize();
    return rc;
}
