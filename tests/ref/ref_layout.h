/* ref_layout.h — naive double-precision host references of the layout ops (clnn_permute,
 * clnn_concat, clnn_slice, clnn_pad) for tests/test_ops_layout.c. Conventions of ref_ops.h: y may
 * be NULL (shape only), 1 on success, 0 for invalid shapes or parameters. */
#ifndef CLNN_TEST_REF_LAYOUT_H
#define CLNN_TEST_REF_LAYOUT_H

#include "ref/ref_ops.h"

/* x: sx -> y with y.dims[i] = sx.dims[perm[i]] (negative entries count from the end) */
int ref_permute(const double *x, const ref_shape *sx, const int *perm, double *y, ref_shape *sy);
/* xs[i]: sxs[i], i < n -> y: the inputs joined along axis (negative counts from the end) */
int ref_concat(int n, const double *const *xs, const ref_shape *sxs, int axis, double *y,
               ref_shape *sy);
/* x: sx -> y = x[..., start:end:step, ...] along axis, with Python's slice rules; 0 when the
 * result is empty or step < 1 */
int ref_slice(const double *x, const ref_shape *sx, int axis, int64_t start, int64_t end,
              int64_t step, double *y, ref_shape *sy);
/* x: sx -> y: sx grown by pads[2 i] before and pads[2 i + 1] after axis i, filled with value */
int ref_pad(const double *x, const ref_shape *sx, const int64_t *pads, double value, double *y,
            ref_shape *sy);

#endif /* CLNN_TEST_REF_LAYOUT_H */
