/* ref_act.h — naive double-precision host references of the activation family (op_activation.c,
 * op_linear.c, op_dropout.c): activations, softmax and log-softmax, bias + activation, linear,
 * and the Philox4x32-10 generator with the dropout mask rule of kernels/dropout.cl. Conventions
 * of ref_ops.h: row-major arrays, y may be NULL to get the shape only, 1 on success, 0 when the
 * shapes or parameters do not fit. No OpenCL, no clnn calls. */
#ifndef CLNN_TEST_REF_ACT_H
#define CLNN_TEST_REF_ACT_H

#include <stdint.h>

#include "ref/ref_ops.h"

/* The codes of clnn_activation (the test suite checks that they agree). */
typedef enum ref_act {
    REF_ACT_NONE = 0,
    REF_ACT_RELU,
    REF_ACT_LEAKY_RELU,
    REF_ACT_ELU,
    REF_ACT_SIGMOID,
    REF_ACT_TANH,
    REF_ACT_GELU,
    REF_ACT_GELU_TANH
} ref_act;

/* act(z) for one value (alpha: leaky_relu slope, elu alpha) */
double ref_act_value(ref_act act, double alpha, double z);
/* x: (n) -> y: (n), y = act(x) */
void ref_activation(ref_act act, double alpha, const double *x, int64_t n, double *y);

/* x: sx -> y: sx, softmax (log = 0) or log-softmax (log = 1) along axis (negative from the end) */
int ref_softmax(int log, const double *x, const ref_shape *sx, int axis, double *y, ref_shape *sy);

/* x: sx, b: (sx[axis]) -> y: sx, y = act(x + b broadcast along axis) */
int ref_bias_act(const double *x, const ref_shape *sx, const double *b, const ref_shape *sb,
                 int axis, ref_act act, double alpha, double *y, ref_shape *sy);

/* x: (..., in), w: (out, in), b: (out) or NULL (sb ignored) -> y: (..., out),
 * y = act(x w^T + b) (PyTorch F.linear followed by the activation) */
int ref_linear(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
               const double *b, const ref_shape *sb, ref_act act, double alpha, double *y,
               ref_shape *sy);

/* Philox4x32-10 (Random123): out = philox(counter, key) */
void ref_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
/* The dropout rule of kernels/dropout.cl: element i of a dropout with probability p and seed,
 * in the run numbered run (the graph's run counter), is dropped (returns 1) when word i % 4 of
 * philox((i / 4, run_lo, run_hi, 0), (seed_lo, seed_hi)) < floor(p 2^32). */
int ref_dropout_dropped(uint64_t seed, uint64_t run, float p, int64_t i);

#endif /* CLNN_TEST_REF_ACT_H */
