/* ref_conv.h — naive double-precision host references of conv2d and conv2d_transpose for
 * tests/test_ops_conv.c (shapes and conventions as in include/clnn.h; see ref_ops.h for the
 * common rules: row-major arrays, y may be NULL to get the shape only, 1 = valid, 0 = not). */
#ifndef CLNN_TEST_REF_CONV_H
#define CLNN_TEST_REF_CONV_H

#include "ref/ref_ops.h"

typedef enum ref_padding {
    REF_PAD_EXPLICIT = 0, /* pad_h / pad_w on both sides (PyTorch) */
    REF_PAD_VALID = 1,    /* Keras "valid" */
    REF_PAD_SAME = 2      /* Keras "same" (TensorFlow: odd total padding -> extra bottom/right) */
} ref_padding;

typedef struct ref_conv_cfg {
    int stride_h, stride_w;
    int pad_h, pad_w;
    ref_padding padding;
    int dil_h, dil_w;
    int groups;
    int out_pad_h, out_pad_w; /* transpose only */
} ref_conv_cfg;

/* x: (N, C, H, W), w: (K, C/G, R, S), b: (K) or NULL -> y: (N, K, OH, OW) */
int ref_conv2d(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
               const double *b, const ref_shape *sb, const ref_conv_cfg *cfg, double *y,
               ref_shape *sy);

/* PyTorch ConvTranspose2d (explicit) and Keras Conv2DTranspose (valid / same, no output
 * padding): x: (N, C, H, W), w: (C, K/G, R, S), b: (K) or NULL -> y: (N, K, OH, OW) */
int ref_conv2d_transpose(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
                         const double *b, const ref_shape *sb, const ref_conv_cfg *cfg, double *y,
                         ref_shape *sy);

#endif /* CLNN_TEST_REF_CONV_H */
