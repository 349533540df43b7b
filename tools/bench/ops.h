/* ops.h — the op cases of clnn-bench's `ops` and `conv` suites (suite_ops.c, suite_conv.c) and
 * the double-precision host references that check them (ops_ref.c). A case is one layer of a CNN
 * at a training shape; its host data (inputs, the loss weights r of loss = sum(y * r), and what
 * the device returned) lives in an op_data. Not here: graphs and timing (suite_*.c). */
#ifndef CLNN_BENCH_OPS_H
#define CLNN_BENCH_OPS_H

#include "bench.h"

typedef enum op_kind { OP_CONV, OP_MAXPOOL, OP_BATCHNORM, OP_CROSS_ENTROPY } op_kind;

typedef struct op_case {
    const char *name;
    op_kind kind;
    int64_t batch, quick_batch; /* N, and N with --quick */
    int64_t c, h, w;            /* x: (N, C, H, W); cross-entropy: logits (N, C), h = w = 1 */
    int64_t k, r, s, pad;       /* conv: w (K, C, R, S), bias (K), padding on every side;
                                 * maxpool: an R x S window with stride R x S */
    int input_grad;             /* backward computes d loss / d x (0: x is the network's input) */
    int64_t stride;             /* conv: both axes; 0 means 1 */
} op_case;

typedef struct op_data {
    const op_case *c;
    int64_t n, oh, ow;         /* batch; output plane (N, K, OH, OW) or (N, C, OH, OW) */
    int64_t stride;            /* conv: 1 or the case's stride */
    size_t nx, nw, nb, ny;     /* elements of x, of w (conv) or gamma, of bias or beta, of y */
    float *x, *w, *bias;       /* inputs; bias: conv bias or batchnorm beta; w: or gamma */
    int32_t *labels;           /* cross-entropy: (N) in [0, C) */
    float *r;                  /* loss = sum(y * r): (like y), so d loss / d y = r */
    float *y, *gx, *gw, *gb;   /* results read back: y (or the loss), d loss / d x, w, bias */
    float *run_mean, *run_var; /* batchnorm: running statistics after the first run */
} op_data;

/* The compared value nearest to (or furthest past) its own tolerance: its relative error err,
 * that tolerance tol (err <= tol passes) and where it is; ratio = err / tol. Start with {0}. */
typedef struct op_check {
    double ratio, err, tol;
    char where[128];
} op_check;

#define BN_EPS      1e-5 /* clnn_batchnorm_options_init defaults, as PyTorch */
#define BN_MOMENTUM 0.1

/* Fills d->x, w, bias, labels and r for case c at batch n: sizes, allocation and values. 0 on
 * success, -1 when out of host memory (op_data_free releases what was allocated). */
int op_data_init(op_data *d, const op_case *c, int64_t n, rng *r);
void op_data_free(op_data *d);

/* Compares got with ref: relative error |got - ref| / scale against tol (0: must be exact). */
void op_check_value(op_check *c, const char *what, size_t i, double got, double ref, double scale,
                    double tol);
/* Forward checks of d->y (the loss for cross-entropy) and of batchnorm's running statistics;
 * conv: `samples` random outputs, the others every output. */
void ref_forward(const op_data *d, rng *r, int samples, op_check *c);
/* Gradient checks of d->gx (when the case computes it), gw and gb with loss = sum(y * r) (for
 * cross-entropy the loss itself); conv: `samples` random entries of gx and gw. */
void ref_backward(const op_data *d, rng *r, int samples, op_check *c);
/* A convolution's gradient alone with loss = sum(y * r): `samples` random entries of d->gw
 * (weights = 1, backward-weights) or of d->gx (weights = 0, backward-data). */
void ref_conv_grad(const op_data *d, rng *r, int samples, int weights, op_check *c);

#endif /* CLNN_BENCH_OPS_H */
