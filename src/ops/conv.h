/* conv.h — what the three files of the convolution ops share, internal to them: the node params
 * (conv_params: the user's options, then the resolved geometry), the plan op_conv.c's conv_algo
 * makes (conv_plan), the helpers every emitter uses (defined in op_conv.c: sample chunks, the
 * scratch buffer, kernel arguments, conv_reduce) and the emitters of each algorithm (im2col +
 * GEMM in conv_gemm.c; conv_direct, the row kernels and Winograd in conv_kernels.c). Not here:
 * the op definitions, shape inference, the choice of algorithm and the backward rules
 * (op_conv.c), nor anything outside src/ops (the algorithm numbers and the tuning key live in
 * internal.h). Kernel slots of a convolution node: 0 conv_im2col / conv_im2row, 1 conv_col2im /
 * conv_reduce, 2 conv_swap, 3 conv_pack_w / conv_dy_t, 4 conv_direct / conv_direct_bwd_w,
 * 5 conv_pad, 6 conv_fwd_rows, 7 conv_bwd_w_rows, 8 .. 10 the Winograd kernels. */
#ifndef CLNN_OPS_CONV_H
#define CLNN_OPS_CONV_H

#include <stdlib.h>

#include "ops_util.h"

typedef struct conv_params {
    int resolved; /* 0: the user's options (infer resolves them); 1: the geometry below */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups; /* pad: top, left when resolved */
    int out_pad_h, out_pad_w;                                   /* conv2d_transpose only */
    int padding;                                                /* clnn_padding_mode */
    int has_bias;
    int act;     /* conv2d only: the clnn_activation after the bias in the kernels' epilogue (one
                  * clnn__act_epilogue accepts; clnn__conv2d_act) */
    float alpha; /* its alpha (leaky ReLU, ELU) */
    int C, H, W, K, OH, OW, R, S; /* big side, small side, kernel */
} conv_params;

typedef struct conv_plan {
    int nc;          /* samples per chunk */
    int rows;        /* 1: a work-item handles a whole row (span = row length); 0: one element */
    size_t local[3]; /* work-group size; local[0] == 0: the runtime chooses */
    size_t split;    /* columns per batch of a GEMM split along a long dimension (0: never) */
    int direct;      /* the algorithm (clnn__conv_algos): 0 im2col + GEMM, 1 conv_direct /
                      * conv_direct_bwd_w, 2 conv_bwd_w_rows, 3 conv_fwd_rows, 4 Winograd */
} conv_plan;

/* A positive size from the environment (tuning and tests), else dflt. */
static inline size_t env_size(const char *name, size_t dflt)
{
    const char *env = getenv(name);
    unsigned long long v = env ? strtoull(env, NULL, 10) : 0;
    return v > 0 ? (size_t)v : dflt;
}

static inline size_t round32(size_t n)
{
    return (n + 31) / 32 * 32;
}

/* ---- op_conv.c: helpers of every emitter ---------------------------------------------------- */
/* Samples per chunk (*nc) when each needs `per` floats of scratch beside `fixed` floats (see
 * op_conv.c); CLNN_ERR_UNSUPPORTED when one sample alone would pass 2^31. */
clnn_status clnn__conv_chunk_samples(const clnn_tensor *node, int N, size_t per, size_t fixed,
                                     int *nc);
/* node->scratch with room for floats (made again if the plan grew, e.g. a tunable changed) */
clnn_status clnn__conv_scratch(clnn_tensor *node, size_t floats);
/* Sets arguments first .. first + n - 1 of k: CLNN__ARG pairs. */
clnn_status clnn__conv_set_args(clnn_ctx *ctx, cl_kernel k, const char *what, cl_uint first, int n,
                                ...);
/* y[i] (+)= sum over parts of scratch[op + b n + i], i < n; kernel slot 1 */
clnn_status clnn__conv_reduce(clnn_tensor *node, const conv_plan *plan, int n, int parts, int op,
                              int accumulate);

/* ---- conv_gemm.c: im2col + GEMM (algorithm 0), in plan.nc-sample chunks --------------------- */
clnn_status clnn__conv_emit_gemm_conv2d(clnn_tensor *y, conv_plan plan);
clnn_status clnn__conv_emit_gemm_transpose(clnn_tensor *y, conv_plan plan);
clnn_status clnn__conv_emit_gemm_bwd_weight(clnn_tensor *y, conv_plan plan);

/* ---- conv_kernels.c: the own kernels (algorithms 1 .. 4) ------------------------------------ */
/* conv_direct: conv2d (flip = 0) or the data gradient of a stride-1 convolution (flip = 1) */
clnn_status clnn__conv_emit_direct(clnn_tensor *y, int flip);
/* conv_direct_bwd_w: conv2d_bwd_weight, any convolution */
clnn_status clnn__conv_emit_direct_bwd_w(clnn_tensor *y);
/* conv_bwd_w_rows: conv2d_bwd_weight of a stride-1 convolution */
clnn_status clnn__conv_emit_bwd_w_rows(clnn_tensor *y);
/* conv_fwd_rows: conv2d with stride 1 */
clnn_status clnn__conv_emit_fwd_rows(clnn_tensor *y);
/* Winograd F(2x2, 3x3): conv2d (flip = 0) or the data gradient (flip = 1) of a 3x3 stride-1
 * undilated convolution with one group */
clnn_status clnn__conv_emit_winograd(clnn_tensor *y, int flip);

#endif
