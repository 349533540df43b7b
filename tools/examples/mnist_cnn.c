/* mnist_cnn.c — the Keras MNIST convnet, trained and evaluated with clnn:
 *   Conv2D(32, 3x3, relu) on 1x28x28 -> MaxPooling2D(2x2) -> Conv2D(64, 3x3, relu)
 *   -> MaxPooling2D(2x2) -> Flatten -> Dense(10, softmax)
 * compiled with categorical cross-entropy, Adam and accuracy, trained on the 60,000 training
 * digits and evaluated on the 10,000 test digits ("test accuracy: 0.9912").
 * Data: tools/fetch-data puts the four IDX files (plain or .gz) in data/mnist.
 * Usage: mnist_cnn [--data DIR] [--epochs N] [--batch-size N] [--device SPEC] [--seed N]
 *                  [--limit N] [--history FILE] [--save FILE] [--checkpoint FILE] [--quiet] */

#include "clnn.h"
#include "example_util.h"

int main(int argc, char **argv)
{
    const clnn_layer_spec layers[] = {clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU),
                                      clnn_layer_maxpool2d(2, 2),
                                      clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU),
                                      clnn_layer_maxpool2d(2, 2),
                                      clnn_layer_flatten(),
                                      clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.metrics = CLNN_METRIC_ACCURACY;
    return ex_mnist_main(argc, argv, "mnist_cnn", 3, (int64_t[]){1, 28, 28}, layers,
                         (int)(sizeof layers / sizeof layers[0]), &c);
}
