/* ref_pool.h — naive double-precision host references of the pooling ops (clnn_maxpool2d,
 * clnn_avgpool2d, clnn_global_avgpool2d, clnn_upsample_nearest) for tests/test_ops_pool.c.
 * Conventions of ref_ops.h: y may be NULL (shape only), 1 on success, 0 for invalid shapes or
 * parameters. Tensors are NCHW. */
#ifndef CLNN_TEST_REF_POOL_H
#define CLNN_TEST_REF_POOL_H

#include "ref/ref_ops.h"

/* The fields of clnn_pool2d_options (stride 0 = the kernel size; padding 0 explicit, 1 valid,
 * 2 same as clnn_padding_mode). */
typedef struct ref_pool2d {
    int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    int padding, ceil_mode, count_include_pad;
} ref_pool2d;

/* x: (N, C, H, W) -> y: (N, C, H', W'), the max of the input elements of each window (padding
 * never wins). */
int ref_maxpool2d(const double *x, const ref_shape *sx, const ref_pool2d *p, double *y,
                  ref_shape *sy);
/* x: (N, C, H, W), dy: (N, C, H', W') -> dx: (N, C, H, W): each window's dy goes to the first
 * maximum of the window in row-major order (PyTorch's rule for ties). */
int ref_maxpool2d_backward(const double *x, const ref_shape *sx, const ref_pool2d *p,
                           const double *dy, double *dx);
/* x: (N, C, H, W) -> y: (N, C, H', W'), window sums over PyTorch's divisor: with
 * count_include_pad the window positions inside the padded input (H + 2 pad), else the input
 * positions; padding "same" never counts padding (Keras). */
int ref_avgpool2d(const double *x, const ref_shape *sx, const ref_pool2d *p, double *y,
                  ref_shape *sy);
/* x: (N, C, H, W) -> y: (N, C), the mean of each plane */
int ref_global_avgpool2d(const double *x, const ref_shape *sx, double *y, ref_shape *sy);
/* x: (N, C, H, W) -> y: (N, C, H sh, W sw), y[n, c, h, w] = x[n, c, h / sh, w / sw] */
int ref_upsample_nearest(const double *x, const ref_shape *sx, int sh, int sw, double *y,
                         ref_shape *sy);

#endif /* CLNN_TEST_REF_POOL_H */
