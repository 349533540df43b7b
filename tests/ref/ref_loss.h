/* ref_loss.h — naive double-precision host references of the losses (src/ops/op_loss.c), for
 * tests/test_ops_loss.c and its finite-difference gradients. reduction: 0 mean, 1 sum, 2 none
 * (the values of clnn_reduction). Means divide by the element count for mse and the binary
 * losses and by the counted samples for the cross-entropies; none keeps per-element (mse, bce)
 * or per-sample (N) losses; mean and sum give a 0-d result. As in ref_ops.h: y may be NULL (shape
 * only) and a function returns 0 (writing nothing) for shapes or parameters it rejects. */
#ifndef CLNN_TEST_REF_LOSS_H
#define CLNN_TEST_REF_LOSS_H

#include "ref_ops.h"

/* p, t: s -> y: s (none) or () ; (p - t)^2 */
int ref_mse_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy);
/* p, t: s -> y: s or (); -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)) (PyTorch BCELoss) */
int ref_bce_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy);
/* x, t: s -> y: s or (); log(1 + e^x) - x t, evaluated stably (PyTorch BCEWithLogitsLoss) */
int ref_bce_logits_loss(const double *x, const double *t, const ref_shape *s, int reduction,
                        double *y, ref_shape *sy);
/* p, t: (N, C) -> y: (N) or (); -sum_c t log(clip(p / sum_c p, 1e-7, 1 - 1e-7)) (Keras) */
int ref_cce_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy);
/* x: (N, C), labels: (N) (integer values) -> y: (N) or ();
 * (1 - eps) (-log softmax(x)_label) + eps mean_c(-log softmax(x)_c); a label outside [0, C)
 * gives 0 and is not counted by the mean (PyTorch CrossEntropyLoss with ignore_index) */
int ref_cross_entropy(const double *x, const ref_shape *sx, const double *labels,
                      const ref_shape *sl, double eps, int reduction, double *y, ref_shape *sy);

#endif /* CLNN_TEST_REF_LOSS_H */
