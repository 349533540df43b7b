/* ref_norm.h — naive double-precision host references of the normalisation and embedding ops
 * (tests/test_ops_norm.c): batchnorm (training and evaluation, with the running-statistics
 * update), layernorm, embedding and the embedding gradient. Plain loops over row-major arrays,
 * the conventions of ref_ops.h: a function computes its output shape, writes the output only when
 * the pointer is not NULL, and returns 0 (writing nothing) when the shapes do not fit. */
#ifndef CLNN_TEST_REF_NORM_H
#define CLNN_TEST_REF_NORM_H

#include "ref_ops.h"

typedef struct ref_bn_cfg {
    int training; /* 1: batch statistics, 0: the running ones */
    double momentum, eps;
    int unbiased; /* the running variance takes the n/(n-1) scaled batch variance */
} ref_bn_cfg;

/* x: (N, C, ...) -> y: the same shape; gamma, beta: (C) or NULL (1 and 0); running_mean,
 * running_var: (C), read in evaluation mode. In training mode new_mean/new_var (C), when not
 * NULL, receive the updated running statistics, running = (1 - momentum) running + momentum
 * batch (in evaluation mode a copy of the running ones). */
int ref_batchnorm(const double *x, const ref_shape *sx, const double *gamma, const double *beta,
                  const double *running_mean, const double *running_var, const ref_bn_cfg *cfg,
                  double *y, ref_shape *sy, double *new_mean, double *new_var);

/* x: (..., K...) normalised over its last naxes axes -> y: the same shape; gamma, beta: of
 * those axes' shape or NULL. */
int ref_layernorm(const double *x, const ref_shape *sx, int naxes, const double *gamma,
                  const double *beta, double eps, double *y, ref_shape *sy);

/* indices: si (integral values), w: (V, D) -> y: si + (D); an index outside [0, V) gives a row
 * of zeros. */
int ref_embedding(const double *indices, const ref_shape *si, const double *w, const ref_shape *sw,
                  double *y, ref_shape *sy);

/* indices: (n), dy: (n, D) -> dw: (V, D) = sum of dy[p] over the p with indices[p] = v, the
 * padding row (padding >= 0) and out-of-range indices excluded. */
void ref_embedding_backward(const double *indices, int64_t n, const double *dy, int64_t V,
                            int64_t D, int padding, double *dw);

#endif /* CLNN_TEST_REF_NORM_H */
