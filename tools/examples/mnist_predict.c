/* mnist_predict.c — inference for deployment: loads a model file saved by mnist_cnn --save (or
 * any clnn model with a (1, 28, 28) or (28, 28) input and 10 outputs), classifies the IDX test
 * images and reports the accuracy. No training state is made: the model is not compiled, so it
 * has no loss, gradients or optimizer buffers; clnn_model_predict runs a forward-only graph.
 * Usage: mnist_predict --model FILE [--data DIR] [--device SPEC] [--batch-size N] [--show N] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "example_util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mnist_predict --model FILE [--data DIR] [--device SPEC] [--batch-size N] "
               "[--show N]\n"
               "  --model FILE     a model saved by mnist_cnn --save FILE\n"
               "  --data DIR       t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] "
               "(default data/mnist)\n"
               "  --show N         print the first N predictions\n");
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *data = "data/mnist", *device = NULL;
    long batch = 256, show = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!val || strncmp(opt, "--", 2)) {
            fprintf(stderr, "mnist_predict: %s\n",
                    strncmp(opt, "--", 2) ? "unexpected argument" : "a value is missing");
            usage(stderr);
            return 2;
        }
        i++;
        char *end = NULL;
        if (!strcmp(opt, "--model"))
            model_path = val;
        else if (!strcmp(opt, "--data"))
            data = val;
        else if (!strcmp(opt, "--device"))
            device = val;
        else if (!strcmp(opt, "--batch-size") || !strcmp(opt, "--show")) {
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || v < (opt[2] == 'b' ? 1 : 0) || v > 1000000) {
                fprintf(stderr, "mnist_predict: %s expects a number, got '%s'\n", opt, val);
                return 2;
            }
            *(opt[2] == 'b' ? &batch : &show) = v;
        } else {
            fprintf(stderr, "mnist_predict: unknown argument '%s'\n", opt);
            usage(stderr);
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "mnist_predict: --model FILE is required\n");
        usage(stderr);
        return 2;
    }
    ex_mnist d;
    if (ex_mnist_load(data, 0, &d))
        return 1;
    clnn_ctx *ctx = NULL;
    clnn_model *m = NULL;
    float *out = NULL;
    int rc = 1;
    if (ex_ctx(device, &ctx))
        goto done;
    if (clnn_model_load(ctx, model_path, &m)) {
        fprintf(stderr, "mnist_predict: %s\n", clnn_ctx_last_error(ctx));
        goto done;
    }
    int nd;
    int64_t shape[CLNN_MAX_DIMS];
    clnn_model_node_shape(m, -1, &nd, shape);
    if (nd != 1 || shape[0] != 10) {
        fprintf(stderr, "mnist_predict: %s: expected a model with 10 outputs\n", model_path);
        goto done;
    }
    out = malloc((size_t)d.test_n * 10 * sizeof *out);
    if (!out)
        goto done;
    if (clnn_model_predict(m, d.test_x, d.test_n, batch, out, (size_t)d.test_n * 10)) {
        fprintf(stderr, "mnist_predict: %s\n", clnn_ctx_last_error(ctx));
        goto done;
    }
    int64_t correct = 0;
    for (int64_t i = 0; i < d.test_n; i++) {
        int best = 0;
        for (int c = 1; c < 10; c++)
            if (out[i * 10 + c] > out[i * 10 + best])
                best = c;
        correct += best == d.test_y[i];
        if (i < show)
            printf("image %lld: predicted %d (p = %.3f), label %d\n", (long long)i, best,
                   (double)out[i * 10 + best], (int)d.test_y[i]);
    }
    printf("accuracy: %.4f (%lld of %lld test images)\n", (double)correct / (double)d.test_n,
           (long long)correct, (long long)d.test_n);
    rc = 0;
done:
    free(out);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    ex_mnist_free(&d);
    return rc;
}
