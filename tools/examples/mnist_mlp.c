/* mnist_mlp.c — a multilayer perceptron on MNIST (the Keras mnist_mlp example):
 *   Flatten(28x28) -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2)
 *   -> Dense(10, softmax), categorical cross-entropy, RMSprop(lr 1e-3, rho 0.9), accuracy.
 * Usage: mnist_mlp [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]
 *                  [--limit N] [--history FILE] [--save FILE] [--checkpoint FILE] [--quiet] */

#include "clnn.h"
#include "example_util.h"

int main(int argc, char **argv)
{
    const clnn_layer_spec layers[] = {
        clnn_layer_flatten(),     clnn_layer_dense(512, CLNN_ACT_RELU),
        clnn_layer_dropout(0.2f), clnn_layer_dense(512, CLNN_ACT_RELU),
        clnn_layer_dropout(0.2f), clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_RMSPROP);
    c.optimizer.lr = 1e-3f;
    c.optimizer.alpha = 0.9f; /* Keras RMSprop rho */
    c.optimizer.eps = 1e-7f;
    c.metrics = CLNN_METRIC_ACCURACY;
    return ex_mnist_main(argc, argv, "mnist_mlp", 2, (int64_t[]){28, 28}, layers,
                         (int)(sizeof layers / sizeof layers[0]), &c);
}
