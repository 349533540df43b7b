/* example_util.h — what the MNIST examples share: the command line, loading the IDX files,
 * opening the device, and the train-then-test run with its report. */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <stdint.h>

#include "clnn.h"

typedef struct ex_args {
    const char *data;       /* --data DIR (data/mnist) */
    int epochs;             /* --epochs N */
    int64_t batch_size;     /* --batch-size N */
    const char *device;     /* --device SPEC (NULL: CLNN_DEVICE or the default device) */
    uint64_t seed;          /* --seed N (1) */
    int64_t limit;          /* --limit N: the first N training and N/6 test samples (0: all) */
    const char *history;    /* --history FILE: the per-epoch values as CSV */
    int quiet;              /* --quiet: no progress output */
    const char *save;       /* --save FILE: the trained model (safetensors; see mnist_predict) */
    const char *checkpoint; /* --checkpoint FILE: a checkpoint after every epoch; when the file
                             * exists, training resumes from it */
    int mpi;                /* --mpi or CLNN_MPI=1: data-parallel over the ranks of mpirun */
} ex_args;

/* Parses argv; prints usage and returns nonzero for bad arguments (--help: exits 0). */
int ex_parse_args(int argc, char **argv, const char *prog, int epochs, int64_t batch, ex_args *a);

typedef struct ex_mnist {
    float *train_x, *test_x; /* pixels / 255 */
    int32_t *train_y, *test_y;
    int64_t train_n, test_n;
} ex_mnist;

/* Reads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; prints the problem and returns
 * nonzero when a file is missing or malformed. */
int ex_mnist_load(const char *dir, int64_t limit, ex_mnist *d);
void ex_mnist_free(ex_mnist *d);

/* Opens the device; prints the problem and returns nonzero on failure. */
int ex_ctx(const char *device, clnn_ctx **ctx);

/* Under --mpi: every rank learns whether all ranks got this far (failed: nonzero when this
 * one did not, why: what went wrong). Returns 0 when all did; else nonzero, after printing
 * which rank failed and why (the failed rank printed its own error). Without --mpi: returns
 * failed. */
int ex_agree(const ex_args *a, int failed, const char *why, const char *prog);

/* Prints the summary, fits, evaluates and prints "test accuracy: 0.9912"; returns 0 or 1. */
int ex_train_and_test(clnn_ctx *ctx, clnn_model *m, const ex_args *a, const ex_mnist *d,
                      const char *prog);

/* The whole MNIST example: parses argv, loads the data, opens the device, builds the model (an
 * input of ndim/shape, then the layers pushed in order), compiles it with c and trains and tests
 * it (ex_train_and_test). Returns the process exit status (0, 1 failure, 2 usage). */
int ex_mnist_main(int argc, char **argv, const char *prog, int ndim, const int64_t *shape,
                  const clnn_layer_spec *layers, int nlayers, const clnn_compile_options *c);

#endif
