/* mnist_mlp.c — a multilayer perceptron on MNIST (the Keras mnist_mlp example):
 *   Flatten(28x28) -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2)
 *   -> Dense(10, softmax), categorical cross-entropy, RMSprop(lr 1e-3, rho 0.9), accuracy.
 * Usage: mnist_mlp [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]
 *                  [--limit N] [--history FILE] [--save FILE] [--checkpoint FILE] [--quiet] */
#include <stdio.h>
#include <stdlib.h>

#include "clnn.h"
#include "example_util.h"

int main(int argc, char **argv)
{
    ex_args a;
    if (ex_parse_args(argc, argv, "mnist_mlp", 5, 128, &a))
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
    clnn_model_input(m, "image", 2, (int64_t[]){28, 28});
    const clnn_layer_spec layers[] = {
        clnn_layer_flatten(),     clnn_layer_dense(512, CLNN_ACT_RELU),
        clnn_layer_dropout(0.2f), clnn_layer_dense(512, CLNN_ACT_RELU),
        clnn_layer_dropout(0.2f), clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        clnn_model_push(m, &layers[i]);
    if (clnn_model_status(m)) {
        fprintf(stderr, "mnist_mlp: %s\n", clnn_model_last_error(m));
        goto out;
    }
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_RMSPROP);
    c.optimizer.lr = 1e-3f;
    c.optimizer.alpha = 0.9f; /* Keras RMSprop rho */
    c.optimizer.eps = 1e-7f;
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_compile(m, &c))
        goto ctx_error;
    rc = ex_train_and_test(ctx, m, &a, &d, "mnist_mlp");
    goto out;
ctx_error:
    fprintf(stderr, "mnist_mlp: %s\n", clnn_ctx_last_error(ctx));
out:
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    ex_mnist_free(&d);
    return rc;
}
