/* mnist_cnn.c — the Keras MNIST convnet, trained and evaluated with clnn:
 *   Conv2D(32, 3x3, relu) on 1x28x28 -> MaxPooling2D(2x2) -> Conv2D(64, 3x3, relu)
 *   -> MaxPooling2D(2x2) -> Flatten -> Dense(10, softmax)
 * compiled with categorical cross-entropy, Adam and accuracy, trained on the 60,000 training
 * digits and evaluated on the 10,000 test digits ("test accuracy: 0.9912").
 * Data: tools/fetch-data puts the four IDX files (plain or .gz) in data/mnist.
 * Usage: mnist_cnn [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]
 *                  [--limit N] [--history FILE] [--save FILE] [--checkpoint FILE] [--quiet] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "example_util.h"

int main(int argc, char **argv)
{
    ex_args a;
    if (ex_parse_args(argc, argv, "mnist_cnn", 5, 128, &a))
        return 2;
    ex_mnist d;
    if (ex_mnist_load(a.data, a.limit, &d))
        return 1;
    clnn_ctx *ctx = NULL;
    clnn_model *m = NULL;
    int rc = 1;
    if (ex_ctx(a.device, &ctx))
        goto out;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = a.seed;
    if (clnn_model_create(ctx, &mo, &m))
        goto ctx_error;
    clnn_model_input(m, "image", 3, (int64_t[]){1, 28, 28});
    const clnn_layer_spec layers[] = {clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU),
                                      clnn_layer_maxpool2d(2, 2),
                                      clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU),
                                      clnn_layer_maxpool2d(2, 2),
                                      clnn_layer_flatten(),
                                      clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        clnn_model_push(m, &layers[i]);
    if (clnn_model_status(m)) {
        fprintf(stderr, "mnist_cnn: %s\n", clnn_model_last_error(m));
        goto out;
    }
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_compile(m, &c))
        goto ctx_error;
    rc = ex_train_and_test(ctx, m, &a, &d, "mnist_cnn");
    goto out;
ctx_error:
    fprintf(stderr, "mnist_cnn: %s\n", clnn_ctx_last_error(ctx));
out:
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    ex_mnist_free(&d);
    return rc;
}
