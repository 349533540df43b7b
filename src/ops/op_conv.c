/* op_conv.c — 2-D convolution and transposed convolution (kernels/conv.cl + CLBlast GEMMs).
 * One bilinear map seen from its three sides, with one geometry: the "big" side (N, C, H, W), the
 * "small" side (N, K, OH, OW), a kernel R x S, strides, top/left padding, dilations and groups G:
 *   conv2d             y  = conv(x, w) [+ b]   x: (N, C, H, W), w: (K, C/G, R, S) -> (N, K, OH, OW)
 *   conv2d_transpose   x  = conv^T(y, w) [+ b] y: (N, K, OH, OW), w as above      -> (N, C, H, W)
 *   conv2d_bwd_input   the same as conv2d_transpose, as conv2d's input gradient (no bias)
 *   conv2d_bwd_weight  dw = corr(x, dy)        x: big, dy: small                  -> (K, C/G, R, S)
 * so each backward rule is built from the other two: conv2d: dx = bwd_input(dy, w),
 * dw = bwd_weight(x, dy), db = sum(dy over N, H, W); conv2d_transpose: dx = conv2d(dy, w),
 * dw = bwd_weight(dy, x), db likewise. (PyTorch's ConvTranspose2d weight (C_in, C_out/G, R, S) is
 * exactly w with K = C_in.) The public builders resolve the options (explicit, Keras "valid" and
 * "same" padding, output padding) into this geometry in infer; the backward nodes carry it as is,
 * with explicit output sizes, so any output_padding PyTorch allows is handled.
 *
 * Algorithm (conv_algo decides, per shape and device): im2col + GEMM. Samples are processed in
 * chunks of nc whose columns sit side by side, col: (C R S, nc OH OW), so a chunk is ONE GEMM per
 * group (strided-batched over groups) with a long dimension nc OH OW even for small images:
 *   forward   col = im2col(x); yw (K, nc P) = W col; y = swap(yw) + b        (P = OH OW)
 *   input     dyw = swap(dy); col = W^T dyw; dx = col2im(col) (a gather, no atomics)
 *   weight    colT = im2row(x) (nc P, C R S); dyw = swap(dy); dw (+)= dyw colT (an NN GEMM;
 *             beta = 1 after the first chunk; with one group split along nc P into partial
 *             products that conv_reduce adds up, 2-3x faster in CLBlast than one long GEMM)
 * The column buffer and the wide GEMM operand live in node->scratch: (C R S + K) nc P floats, nc
 * chosen to keep it under CONV_SCRATCH_BYTES (32 MiB), plus the partial products of a split
 * weight-gradient GEMM. Two tunables can be overridden from the environment, for tuning and so
 * that the tests reach every path with small shapes: $CLNN_CONV_SCRATCH_BYTES (several chunks)
 * and $CLNN_CONV_SPLIT (columns per batch of a split GEMM dimension, default 2048).
 * Other algorithms (direct_algo picks, clnn__conv_algos says where each is valid): the direct
 * kernels of conv.cl (CPU devices), and Winograd F(2x2, 3x3) (kernels/winograd.cl: transforms
 * around 16 batched GEMMs) for the forward and data-gradient passes of 3x3 stride-1 layers,
 * chosen only when forced ($CLNN_CONV_ALGO=winograd) or tuned (clnn_graph_tune). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"

#ifndef CONV_SCRATCH_BYTES
#define CONV_SCRATCH_BYTES ((size_t)32 << 20)
#endif
#ifndef CONV_SPLIT
#define CONV_SPLIT 2048 /* columns per batch of a split GEMM dimension */
#endif

typedef struct conv_params {
    int resolved; /* 0: the user's options (infer resolves them); 1: the geometry below */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups; /* pad: top, left when resolved */
    int out_pad_h, out_pad_w;                                   /* conv2d_transpose only */
    int padding;                                                /* clnn_padding_mode */
    int has_bias;
    int relu; /* conv2d only: a ReLU after the bias in the kernels' epilogue (clnn__conv2d_relu) */
    int C, H, W, K, OH, OW, R, S; /* big side, small side, kernel */
} conv_params;

void clnn_conv2d_options_init(clnn_conv2d_options *o)
{
    if (!o)
        return;
    *o = (clnn_conv2d_options){.stride_h = 1,
                               .stride_w = 1,
                               .padding = CLNN_PADDING_EXPLICIT,
                               .dilation_h = 1,
                               .dilation_w = 1,
                               .groups = 1};
}

/* ---- shapes -------------------------------------------------------------------------------- */
static const char *sh(const clnn_tensor *t, char *buf)
{
    return clnn__shape_str(t->ndim, t->shape, buf, 128);
}

static clnn_status check_options(clnn_graph *g, const char *op, const conv_params *p, int transpose)
{
    const char *bad = p->stride_h < 1 || p->stride_w < 1     ? "stride_h and stride_w >= 1"
                      : p->dil_h < 1 || p->dil_w < 1         ? "dilation_h and dilation_w >= 1"
                      : p->groups < 1                        ? "groups >= 1"
                      : p->padding < 0 || p->padding > 2     ? "a clnn_padding_mode"
                      : p->pad_h < 0 || p->pad_w < 0         ? "pad_h and pad_w >= 0"
                      : p->out_pad_h < 0 || p->out_pad_w < 0 ? "output_pad_h and output_pad_w >= 0"
                                                             : NULL;
    if (bad)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: expected %s, got stride (%d, %d), dilation (%d, %d), groups "
                                "%d, padding mode %d, pad (%d, %d), output_pad (%d, %d)",
                                op, bad, p->stride_h, p->stride_w, p->dil_h, p->dil_w, p->groups,
                                p->padding, p->pad_h, p->pad_w, p->out_pad_h, p->out_pad_w);
    if (p->padding != CLNN_PADDING_EXPLICIT && (p->pad_h || p->pad_w))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: pad_h and pad_w apply to CLNN_PADDING_EXPLICIT only (Keras "
                                "'same' and 'valid' choose their own), expected 0, got (%d, %d)",
                                op, p->pad_h, p->pad_w);
    if (!transpose && (p->out_pad_h || p->out_pad_w))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: output_pad applies to conv2d_transpose only, expected 0, got "
                                "(%d, %d)",
                                op, p->out_pad_h, p->out_pad_w);
    if (transpose && p->padding != CLNN_PADDING_EXPLICIT && (p->out_pad_h || p->out_pad_w))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: output_pad needs CLNN_PADDING_EXPLICIT (Keras 'same' gives "
                                "input * stride, 'valid' its own size), got (%d, %d)",
                                op, p->out_pad_h, p->out_pad_w);
    /* PyTorch: output padding must be smaller than either stride or dilation */
    if (transpose && (p->out_pad_h >= (p->stride_h > p->dil_h ? p->stride_h : p->dil_h) ||
                      p->out_pad_w >= (p->stride_w > p->dil_w ? p->stride_w : p->dil_w)))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: expected output_pad smaller than the stride or the dilation, "
                                "got output_pad (%d, %d), stride (%d, %d), dilation (%d, %d)",
                                op, p->out_pad_h, p->out_pad_w, p->stride_h, p->stride_w, p->dil_h,
                                p->dil_w);
    return CLNN_OK;
}

/* conv2d: pads (top, bottom) and the output size of one axis; 0 when the kernel does not fit */
static int64_t conv_out(int64_t in, int k, int stride, int dil, int mode, int pad, int *top)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1, total = 0;
    if (mode == CLNN_PADDING_EXPLICIT)
        total = 2 * (int64_t)pad;
    else if (mode == CLNN_PADDING_SAME) { /* TensorFlow: the extra row goes to the bottom */
        int64_t out = (in + stride - 1) / stride;
        total = (out - 1) * stride + ek - in;
        total = total > 0 ? total : 0;
    }
    *top = mode == CLNN_PADDING_EXPLICIT ? pad : (int)(total / 2);
    return in + total < ek ? 0 : (in + total - ek) / stride + 1;
}

/* conv2d_transpose: the output size of one axis and its top padding */
static int64_t transpose_out(int64_t in, int k, int stride, int dil, int mode, int pad, int opad,
                             int *top)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1, over = ek - stride > 0 ? ek - stride : 0;
    *top = mode == CLNN_PADDING_EXPLICIT ? pad : mode == CLNN_PADDING_SAME ? (int)(over / 2) : 0;
    if (mode == CLNN_PADDING_VALID) /* Keras: input * stride + max(kernel - stride, 0) */
        return in * stride + over;
    if (mode == CLNN_PADDING_SAME) /* Keras / TensorFlow: input * stride */
        return in * stride;
    return (in - 1) * stride - 2 * (int64_t)pad + ek + opad;
}

/* Resolves the user's options of conv2d (transpose = 0) or conv2d_transpose from the input and
 * weight shapes into the geometry of p. */
static clnn_status resolve(clnn_graph *g, const char *op, conv_params *p, const clnn_tensor *x,
                           const clnn_tensor *w, int transpose)
{
    char sx[128], sw[128];
    clnn_status st = check_options(g, op, p, transpose);
    if (st)
        return st;
    int64_t in_ch = x->shape[1], rows = w->shape[0], per = w->shape[1];
    int64_t out_ch = transpose ? per * p->groups : rows;
    if (transpose && rows != in_ch)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: weights '%s' %s: expected %lld rows, the channels of '%s' "
                                "%s (layout (C_in, C_out/groups, R, S))",
                                op, w->name, sh(w, sw), (long long)in_ch, x->name, sh(x, sx));
    if (in_ch % p->groups || out_ch % p->groups)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: groups = %d must divide the input channels (%lld of '%s' %s) "
                                "and the output channels (%lld of '%s' %s)",
                                op, p->groups, (long long)in_ch, x->name, sh(x, sx),
                                (long long)out_ch, w->name, sh(w, sw));
    if (!transpose && per * p->groups != in_ch)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: weights '%s' %s: expected %lld input channels per group "
                                "(%lld channels of '%s' %s / groups %d), got %lld",
                                op, w->name, sh(w, sw), (long long)(in_ch / p->groups),
                                (long long)in_ch, x->name, sh(x, sx), p->groups, (long long)per);
    int R = (int)w->shape[2], S = (int)w->shape[3], top, left;
    int64_t h, wd;
    if (transpose) {
        h = transpose_out(x->shape[2], R, p->stride_h, p->dil_h, p->padding, p->pad_h, p->out_pad_h,
                          &top);
        wd = transpose_out(x->shape[3], S, p->stride_w, p->dil_w, p->padding, p->pad_w,
                           p->out_pad_w, &left);
    } else {
        h = conv_out(x->shape[2], R, p->stride_h, p->dil_h, p->padding, p->pad_h, &top);
        wd = conv_out(x->shape[3], S, p->stride_w, p->dil_w, p->padding, p->pad_w, &left);
    }
    if (h < 1 || wd < 1)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: the kernel (%d, %d) dilated (%d, %d) with pad (%d, %d) "
                                "leaves no output for '%s' %s: output (%lld, %lld)",
                                op, R, S, p->dil_h, p->dil_w, p->pad_h, p->pad_w, x->name,
                                sh(x, sx), (long long)h, (long long)wd);
    if (h > INT_MAX || wd > INT_MAX || x->shape[2] > INT_MAX || x->shape[3] > INT_MAX ||
        in_ch > INT_MAX || out_ch > INT_MAX)
        return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                "%s: sizes beyond 2^31: %lld channels -> %lld, output (%lld, %lld)",
                                op, (long long)in_ch, (long long)out_ch, (long long)h,
                                (long long)wd);
    p->pad_h = top;
    p->pad_w = left;
    p->R = R;
    p->S = S;
    p->C = (int)(transpose ? out_ch : in_ch);
    p->K = (int)(transpose ? in_ch : out_ch);
    p->H = (int)(transpose ? h : x->shape[2]);
    p->W = (int)(transpose ? wd : x->shape[3]);
    p->OH = (int)(transpose ? x->shape[2] : h);
    p->OW = (int)(transpose ? x->shape[3] : wd);
    p->resolved = 1;
    return CLNN_OK;
}

/* Checks that t has shape (d0, d1, d2, d3); "what" names its role for the message. */
static clnn_status expect4(clnn_graph *g, const char *op, const char *what, const clnn_tensor *t,
                           int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    char s[128];
    if (t->ndim == 4 && t->shape[0] == d0 && t->shape[1] == d1 && t->shape[2] == d2 &&
        t->shape[3] == d3)
        return CLNN_OK;
    return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                            "%s: expected %s '%s' of shape (%lld, %lld, %lld, "
                            "%lld), got %s",
                            op, what, t->name, (long long)d0, (long long)d1, (long long)d2,
                            (long long)d3, sh(t, s));
}

/* The infer of all four ops: conv2d (x, w[, b]) and bwd_weight (x, dy) with transpose = 0,
 * conv2d_transpose and bwd_input (dy, w[, b]) with transpose = 1. The public builders' nodes
 * resolve the options first; backward nodes arrive resolved and are checked against it. */
static clnn_status infer_common(clnn_graph *g, clnn_tensor *y, int transpose)
{
    const char *op = clnn__ops[y->op]->name;
    conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *a = y->src[0], *b = y->src[1], *bias = y->nsrc > 2 ? y->src[2] : NULL;
    char sa[128], sb[128];
    for (int i = 0; i < y->nsrc; i++)
        if (y->src[i]->dtype != CLNN_F32)
            return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected f32 inputs, '%s' is not", op,
                                    y->src[i]->name);
    if (a->ndim != 4 || b->ndim != 4)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected 4-D inputs, (N, C, H, W) and (K, C/groups, R, S), "
                                "got '%s' %s and '%s' %s",
                                op, a->name, sh(a, sa), b->name, sh(b, sb));
    clnn_status st;
    if (!p->resolved && (st = resolve(g, op, p, a, b, transpose)))
        return st;
    int64_t N = a->shape[0];
    if (y->op == CLNN_OP_CONV2D_BWD_WEIGHT) {
        if ((st = expect4(g, op, "input", a, N, p->C, p->H, p->W)) ||
            (st = expect4(g, op, "output gradient", b, N, p->K, p->OH, p->OW)))
            return st;
    } else if ((st = expect4(g, op, "input", a, N, transpose ? p->K : p->C,
                             transpose ? p->OH : p->H, transpose ? p->OW : p->W)) ||
               (st = expect4(g, op, "weights", b, p->K, p->C / p->groups, p->R, p->S)))
        return st;
    int64_t nb = transpose ? p->C : p->K;
    if (bias && (bias->ndim != 1 || bias->shape[0] != nb))
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected bias '%s' of shape (%lld,), got %s", op, bias->name,
                                (long long)nb, sh(bias, sa));
    p->has_bias = bias != NULL;
    y->ndim = 4;
    if (y->op == CLNN_OP_CONV2D_BWD_WEIGHT) {
        int64_t s[4] = {p->K, p->C / p->groups, p->R, p->S};
        memcpy(y->shape, s, sizeof s);
    } else {
        int64_t s[4] = {N, transpose ? p->C : p->K, transpose ? p->H : p->OH,
                        transpose ? p->W : p->OW};
        memcpy(y->shape, s, sizeof s);
    }
    /* kernels index with int: every tensor and one sample's scratch must stay below 2^31 */
    int64_t scratch = ((int64_t)p->C * p->R * p->S + p->K) * p->OH * p->OW;
    for (int i = 0; i < y->nsrc; i++)
        if ((st = clnn__check_numel(g, op, y->src[i])))
            return st;
    if (scratch >= INT_MAX)
        return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                "%s: the column buffer of one sample has %lld elements; this "
                                "version supports fewer than 2^31",
                                op, (long long)scratch);
    return clnn__check_numel(g, op, y);
}

static clnn_status infer_conv2d(clnn_graph *g, clnn_tensor *y)
{
    return infer_common(g, y, 0);
}

static clnn_status infer_transpose(clnn_graph *g, clnn_tensor *y)
{
    return infer_common(g, y, 1);
}

/* ---- the algorithm ------------------------------------------------------------------------- */
typedef struct conv_plan {
    int nc;          /* samples per chunk */
    int rows;        /* 1: a work-item handles a whole row (span = row length); 0: one element */
    size_t local[3]; /* work-group size; local[0] == 0: the runtime chooses */
    size_t split;    /* columns per batch of a GEMM split along a long dimension (0: never) */
    int direct;      /* the algorithm (clnn__conv_algos): 0 im2col + GEMM, 1 conv_direct /
                      * conv_direct_bwd_w, 2 conv_bwd_w_rows, 3 conv_fwd_rows, 4 Winograd */
} conv_plan;

/* A positive size from the environment (tuning and tests), else dflt. */
static size_t env_size(const char *name, size_t dflt)
{
    const char *env = getenv(name);
    unsigned long long v = env ? strtoull(env, NULL, 10) : 0;
    return v > 0 ? (size_t)v : dflt;
}

static size_t round32(size_t n)
{
    return (n + 31) / 32 * 32;
}

/* The algorithms that can run a convolution node correctly (internal.h numbers them):
 *   0 im2col + GEMM      every node
 *   1 conv_direct        conv2d; the data gradient of a stride-1 convolution (flipped weights);
 *     conv_direct_bwd_w  every weight gradient
 *   2 conv_bwd_w_rows    weight gradients of stride-1 convolutions (any taps, dilation, groups)
 *   3 conv_fwd_rows      conv2d with stride 1 (any taps, dilation, groups)
 *   4 Winograd F(2x2,3x3) conv2d and the data gradient (conv2d_transpose, conv2d_bwd_input) of
 *                        3x3 stride-1 undilated convolutions with one group, any padding
 * The data gradient of a strided convolution is not a convolution: im2col + GEMM only. The key is
 * the geometry of the forward convolution every node of the family shares (conv_params holds it
 * for all four ops: C, H, W the big side, K the small one) and the batch N. */
int clnn__conv_algos(const clnn_tensor *node, clnn__conv_key *key, int valid[CLNN__CONV_ALGOS])
{
    if (!node || node->kind != CLNN__OP ||
        (node->op != CLNN_OP_CONV2D && node->op != CLNN_OP_CONV2D_TRANSPOSE &&
         node->op != CLNN_OP_CONV2D_BWD_INPUT && node->op != CLNN_OP_CONV2D_BWD_WEIGHT))
        return -1;
    const conv_params *p = CLNN__PARAMS(node, conv_params);
    int op = node->op,
        transposed = op == CLNN_OP_CONV2D_TRANSPOSE || op == CLNN_OP_CONV2D_BWD_INPUT;
    int s1 = p->stride_h == 1 && p->stride_w == 1;
    if (key)
        *key = (clnn__conv_key){.op = op,
                                .N = (int)node->src[0]->shape[0],
                                .C = p->C,
                                .H = p->H,
                                .W = p->W,
                                .K = p->K,
                                .R = p->R,
                                .S = p->S,
                                .stride_h = p->stride_h,
                                .stride_w = p->stride_w,
                                .pad_h = p->pad_h,
                                .pad_w = p->pad_w,
                                .dil_h = p->dil_h,
                                .dil_w = p->dil_w,
                                .groups = p->groups};
    if (valid) {
        valid[0] = 1;
        valid[1] = !transposed || s1;
        valid[2] = op == CLNN_OP_CONV2D_BWD_WEIGHT && s1;
        valid[3] = op == CLNN_OP_CONV2D && s1;
        valid[4] = op != CLNN_OP_CONV2D_BWD_WEIGHT && s1 && p->R == 3 && p->S == 3 &&
                   p->dil_h == 1 && p->dil_w == 1 && p->groups == 1;
    }
    return 0;
}

/* Which kernels run this node (conv_plan.direct, an algorithm of clnn__conv_algos), in order:
 *   1. $CLNN_CONV_ALGO = "gemm", "direct" or "winograd" (tests, clnn-bench conv) where valid;
 *   2. the tuned choice of the device (clnn__conv_algo_tuned: the tuner's forced algorithm or the
 *      tuning file's) where valid;
 *   3. the rules: GPUs take im2col + GEMM, CPU devices the rules below. */
static int direct_algo(const clnn_tensor *node, const conv_params *p)
{
    clnn__conv_key key;
    int valid[CLNN__CONV_ALGOS];
    (void)clnn__conv_algos(node, &key, valid); /* node is a convolution: cannot fail */
    if (!valid[1])                             /* the data gradient of a strided convolution */
        return 0;
    /* a stride-1 forward pass or weight gradient with few taps: the columns of a row as the
     * vector axis (conv_fwd_rows: 3, conv_bwd_w_rows: 2) */
    int few = p->stride_h == 1 && p->stride_w == 1 && p->C / p->groups * p->R * p->S < 64;
    int rows = few && node->op == CLNN_OP_CONV2D_BWD_WEIGHT           ? 2
               : few && node->op == CLNN_OP_CONV2D && p->R * p->S > 1 ? 3
                                                                      : 0;
    const char *env = getenv("CLNN_CONV_ALGO");
    if (env && !strcmp(env, "gemm"))
        return 0;
    if (env && !strcmp(env, "direct"))
        return rows ? rows : 1;
    if (env && !strcmp(env, "winograd") && valid[4])
        return 4;
    int tuned = clnn__conv_algo_tuned(node->ctx, &key);
    if (tuned >= 0 && tuned < CLNN__CONV_ALGOS && valid[tuned])
        return tuned;
    if (rows && node->ctx->info.type != CLNN_DEVICE_GPU)
        return rows;
    /* CPUs, the rest: conv_direct where the output channels fill its 32-wide blocks at least
     * half and each output sums enough products (C R S, or K R S for the data gradient) to hide
     * a work-item's set-up and its scattered stores; 1x1 layers are plain GEMMs. Measured with
     * clnn-bench conv on POCL: direct 3-4x faster for 3x3 layers with 32+ channels, im2col +
     * GEMM ahead for 1x1 weight gradients and for few products (C R S = 9: 1.5 against 2.4 ms,
     * before the row kernels took those stride-1 layers). */
    int transposed = node->op == CLNN_OP_CONV2D_TRANSPOSE || node->op == CLNN_OP_CONV2D_BWD_INPUT;
    int co = transposed ? p->C / p->groups : p->K / p->groups;
    int ci = transposed ? p->K / p->groups : p->C / p->groups;
    int taps = p->R * p->S;
    return node->ctx->info.type != CLNN_DEVICE_GPU && 2 * co >= (int)round32((size_t)co) &&
           taps > 1 && ci * taps >= 64;
}

int clnn__conv_algo_of(const clnn_tensor *node)
{
    return direct_algo(node, CLNN__PARAMS(node, conv_params));
}

/* Samples per chunk (*nc) when each needs `per` floats of scratch beside `fixed` floats: as many
 * as the budget ($CLNN_CONV_SCRATCH_BYTES, at most the device's largest allocation) holds, at
 * least one, the whole batch when per is 0; the kernels index with int, so fixed + chunk per stays
 * below 2^31; then equal chunks (no tiny last one). CLNN_ERR_UNSUPPORTED when one sample alone
 * would pass 2^31. */
static clnn_status chunk_samples(const clnn_tensor *node, int N, size_t per, size_t fixed, int *nc)
{
    *nc = N;
    if (!per)
        return CLNN_OK;
    size_t budget = env_size("CLNN_CONV_SCRATCH_BYTES", CONV_SCRATCH_BYTES);
    uint64_t max_alloc = node->ctx->info.max_alloc_bytes;
    if (max_alloc && budget > max_alloc)
        budget = (size_t)max_alloc;
    size_t n = budget / sizeof(float) / per;
    n = n < 1 ? 1 : n > (size_t)N ? (size_t)N : n;
    if (fixed + n * per >= INT_MAX)
        n = fixed + per < INT_MAX ? (INT_MAX - 1 - fixed) / per : 0;
    if (!n)
        return clnn__fail(node->ctx, CLNN_ERR_UNSUPPORTED,
                          "%s '%s': one sample's scratch of %zu floats (beside %zu) exceeds 2^31 "
                          "(kernels index with int)",
                          clnn__ops[node->op]->name, node->name, per, fixed);
    size_t chunks = ((size_t)N + n - 1) / n;
    *nc = (int)(((size_t)N + chunks - 1) / chunks);
    return CLNN_OK;
}

/* The one place that picks how a convolution runs on this device and shape. Today every shape
 * takes im2col + GEMM in chunks of samples; a long GEMM dimension (nc OH OW) is split into
 * batches of a strided-batched GEMM where CLBlast does better with them (measured on POCL: the
 * weight gradient, a K x CRS result with a long inner dimension, runs 2-3x faster split into
 * ~2048-column pieces plus a reduction; the input gradient ~1.3x). Faster algorithms plug in
 * here per shape (direct_algo): the direct kernels, Winograd; still missing: a direct depthwise
 * kernel, 1x1 convolutions without im2col. */
static conv_plan conv_algo(const clnn_tensor *node, const conv_params *p, int N)
{
    conv_plan plan = {0};
    /* one sample's columns stay below 2^31 (infer_common), so this cannot fail */
    (void)chunk_samples(node, N, ((size_t)p->C * p->R * p->S + (size_t)p->K) * p->OH * p->OW, 0,
                        &plan.nc);
    plan.split = env_size("CLNN_CONV_SPLIT", CONV_SPLIT);
    /* CPUs: a work-item per row, the runtime groups them; GPUs: a work-item per element */
    plan.rows = node->ctx->info.type != CLNN_DEVICE_GPU;
    if (!plan.rows) {
        plan.local[0] = 32;
        plan.local[1] = 2;
        plan.local[2] = 1;
    }
    plan.direct = direct_algo(node, p);
    return plan;
}

/* Batches of a GEMM dimension of length n split by plan->split (1: not split), at most 64. */
static size_t split_parts(const conv_plan *plan, size_t n)
{
    size_t parts = plan->split ? n / plan->split : 1;
    return parts < 1 ? 1 : parts > 64 ? 64 : parts;
}

/* node->scratch with room for floats (made again if the plan grew, e.g. a tunable changed) */
static clnn_status scratch_of(clnn_tensor *node, size_t floats)
{
    size_t have = 0;
    if (node->scratch &&
        clGetMemObjectInfo(node->scratch, CL_MEM_SIZE, sizeof have, &have, NULL) == CL_SUCCESS &&
        have >= floats * sizeof(float))
        return CLNN_OK;
    if (node->scratch)
        clReleaseMemObject(node->scratch); /* the in-order queue keeps it alive while in use */
    node->scratch = NULL;
    cl_int err;
    node->scratch =
        clCreateBuffer(node->ctx->context, CL_MEM_READ_WRITE, floats * sizeof(float), NULL, &err);
    if (err != CL_SUCCESS) {
        node->scratch = NULL;
        return clnn__cl_fail(node->ctx, err,
                             "clCreateBuffer for the %zu-float column buffer of '%s'", floats,
                             node->name);
    }
    return CLNN_OK;
}

/* Sets arguments first .. first + n - 1 of k: CLNN__ARG pairs. */
static clnn_status set_args_at(clnn_ctx *ctx, cl_kernel k, const char *what, cl_uint first, int n,
                               ...)
{
    va_list ap;
    va_start(ap, n);
    cl_int err = CL_SUCCESS;
    for (int i = 0; i < n && err == CL_SUCCESS; i++) {
        size_t size = va_arg(ap, size_t);
        const void *value = va_arg(ap, const void *);
        err = clSetKernelArg(k, first + (cl_uint)i, size, value);
    }
    va_end(ap);
    return err == CL_SUCCESS ? CLNN_OK : clnn__cl_fail(ctx, err, "clSetKernelArg of %s", what);
}

static clnn_status set_geometry(clnn_ctx *ctx, cl_kernel k, const char *what, const conv_params *p)
{
    return set_args_at(ctx, k, what, 0, 13, CLNN__ARG(p->C), CLNN__ARG(p->H), CLNN__ARG(p->W),
                       CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH), CLNN__ARG(p->OW),
                       CLNN__ARG(p->stride_h), CLNN__ARG(p->stride_w), CLNN__ARG(p->pad_h),
                       CLNN__ARG(p->pad_w), CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w));
}

static clnn_status enqueue(clnn_tensor *node, cl_kernel k, cl_uint dims, const size_t *global,
                           const conv_plan *plan)
{
    return clnn__enqueue(node, k, dims, global, plan->local[0] ? plan->local : NULL);
}

/* x: (N, C, H, W) samples [n0, n0 + nc) -> scratch[0]: col (C R S, nc OH OW) with conv_im2col
 * (kernel slot 0), colT (nc OH OW, C R S) with conv_im2row (the bwd_weight node's slot 0) */
static clnn_status run_im2col(clnn_tensor *node, const char *kernel, const conv_params *p,
                              const conv_plan *plan, const clnn_tensor *x, int n0, int nc)
{
    cl_kernel k;
    int fresh, zero = 0, ox = (int)x->offset, span = plan->rows ? p->OW : 1;
    clnn_status st = clnn__node_kernel(node, 0, kernel, &k, &fresh);
    if (!st && fresh)
        st = set_geometry(node->ctx, k, kernel, p);
    if (!st)
        st = set_args_at(node->ctx, k, kernel, 13, 7, CLNN__ARG(n0), CLNN__ARG(nc), CLNN__ARG(span),
                         CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(node->scratch),
                         CLNN__ARG(zero));
    if (st)
        return st;
    size_t z = strcmp(kernel, "conv_im2col") ? (size_t)nc : (size_t)p->C * p->R * p->S * nc;
    size_t global[3] = {(size_t)((p->OW + span - 1) / span), (size_t)p->OH, z};
    return enqueue(node, k, 3, global, plan);
}

/* col at scratch[ocol]: (C R S, nc OH OW) -> out: (N, C, H, W) samples [n0, n0 + nc) (+ bias) */
static clnn_status run_col2im(clnn_tensor *node, const conv_params *p, const conv_plan *plan,
                              int ocol, const clnn_tensor *bias, int n0, int nc)
{
    cl_kernel k;
    int fresh, span = plan->rows ? p->W : 1, oy = (int)node->offset, has_bias = bias != NULL;
    int ob = bias ? (int)bias->offset : 0;
    cl_mem bmem = bias ? bias->storage->mem : node->storage->mem;
    clnn_status st = clnn__node_kernel(node, 1, "conv_col2im", &k, &fresh);
    if (!st && fresh)
        st = set_geometry(node->ctx, k, "conv_col2im", p);
    if (!st)
        st = set_args_at(node->ctx, k, "conv_col2im", 13, 10, CLNN__ARG(n0), CLNN__ARG(nc),
                         CLNN__ARG(span), CLNN__ARG(node->scratch), CLNN__ARG(ocol),
                         CLNN__ARG(node->storage->mem), CLNN__ARG(oy), CLNN__ARG(bmem),
                         CLNN__ARG(ob), CLNN__ARG(has_bias));
    if (st)
        return st;
    size_t global[3] = {(size_t)((p->W + span - 1) / span), (size_t)p->H, (size_t)p->C * nc};
    return enqueue(node, k, 3, global, plan);
}

/* x: (A, B, P) at (xm, ox) -> y: (B, A, P) at (ym, oy) (+ bias[a], then a ReLU when relu);
 * kernel slot 2 */
static clnn_status run_swap(clnn_tensor *node, const conv_plan *plan, int A, int B, int P,
                            cl_mem xm, int ox, cl_mem ym, int oy, const clnn_tensor *bias, int relu)
{
    cl_kernel k;
    int fresh, span = plan->rows ? P : 1, has_bias = (bias != NULL) | (relu ? 2 : 0);
    int ob = bias ? (int)bias->offset : 0;
    cl_mem bmem = bias ? bias->storage->mem : xm;
    clnn_status st = clnn__node_kernel(node, 2, "conv_swap", &k, &fresh);
    if (!st)
        st = set_args_at(node->ctx, k, "conv_swap", 0, 11, CLNN__ARG(A), CLNN__ARG(B), CLNN__ARG(P),
                         CLNN__ARG(span), CLNN__ARG(xm), CLNN__ARG(ox), CLNN__ARG(ym),
                         CLNN__ARG(oy), CLNN__ARG(bmem), CLNN__ARG(ob), CLNN__ARG(has_bias));
    if (st)
        return st;
    size_t global[2] = {(size_t)((P + span - 1) / span), (size_t)A * B};
    return enqueue(node, k, 2, global, plan);
}

/* y[i] (+)= sum over parts of scratch[op + b n + i], i < n; kernel slot 1 */
static clnn_status run_reduce(clnn_tensor *node, const conv_plan *plan, int n, int parts, int op,
                              int accumulate)
{
    cl_kernel k;
    int fresh, oy = (int)node->offset;
    clnn_status st = clnn__node_kernel(node, 1, "conv_reduce", &k, &fresh);
    if (!st)
        st = set_args_at(node->ctx, k, "conv_reduce", 0, 7, CLNN__ARG(n), CLNN__ARG(parts),
                         CLNN__ARG(accumulate), CLNN__ARG(node->scratch), CLNN__ARG(op),
                         CLNN__ARG(node->storage->mem), CLNN__ARG(oy));
    if (st)
        return st;
    size_t global = (size_t)n, local[1] = {64};
    return clnn__enqueue(node, k, 1, &global, plan->rows ? NULL : local);
}

/* dy: (N, K, OH, OW) samples [n0, n0 + nc) as a (K, nc OH OW) GEMM operand: swapped into
 * scratch[off] for several samples, read in place for one */
static clnn_status wide_dy(clnn_tensor *node, const conv_params *p, const conv_plan *plan,
                           const clnn_tensor *dy, int n0, int nc, size_t off, cl_mem *mem,
                           size_t *moff)
{
    int P = p->OH * p->OW;
    size_t at = dy->offset + (size_t)n0 * p->K * P;
    if (nc == 1) {
        *mem = dy->storage->mem;
        *moff = at;
        return CLNN_OK;
    }
    *mem = node->scratch;
    *moff = off;
    return run_swap(node, plan, nc, p->K, P, dy->storage->mem, (int)at, node->scratch, (int)off,
                    NULL, 0);
}

/* C = op(A) B (one GEMM, B and C not transposed) as `parts` GEMMs of column blocks of B and C,
 * the last one with the columns left over. Separate calls, not one strided-batched GEMM with A
 * shared (a_stride 0): Debian's CLBlast 1.5.3 computes that call wrongly for some shapes (e.g.
 * m = 1152, k = 128, n >= 1536 per batch; test_ops_conv has the cases). */
static clnn_status gemm_split_n(clnn_tensor *node, const clnn__gemm_args *g, size_t parts)
{
    if (parts <= 1)
        return clnn__gemm(node->ctx, node, g);
    const size_t cols = g->n / parts;
    clnn_status st = CLNN_OK;
    for (size_t i = 0; i < parts && st == CLNN_OK; i++) {
        clnn__gemm_args b = *g;
        b.n = i + 1 < parts ? cols : g->n - cols * i;
        b.b_off += cols * i;
        b.c_off += cols * i;
        st = clnn__gemm(node->ctx, node, &b);
    }
    return st;
}

/* C = A B (one GEMM, nothing transposed) as partial products over `parts` blocks of the inner
 * dimension, into C + b c_stride for b < parts, and b = parts for the rest (if any). Returns the
 * number of partial products in *used. */
static clnn_status gemm_split_k(clnn_tensor *node, const clnn__gemm_args *g, size_t parts,
                                int *used)
{
    clnn__gemm_args b = *g, r = *g;
    b.k = g->k / parts;
    b.a_stride = b.k;
    b.b_stride = b.k * g->ldb;
    b.batch = parts;
    clnn_status st = clnn__gemm(node->ctx, node, &b);
    r.k = g->k - b.k * parts;
    r.a_off += b.k * parts;
    r.b_off += b.k * parts * g->ldb;
    r.c_off += parts * g->c_stride;
    r.batch = 1;
    *used = (int)parts + (r.k > 0);
    return st || !r.k ? st : clnn__gemm(node->ctx, node, &r);
}

/* ---- direct kernels (kernels/conv.cl: conv_pack_w, conv_direct, conv_dy_t, conv_direct_bwd_w) */
#define DIRECT_DT 8 /* pixels per work-item, CONV_DT of conv.cl */

/* The work-group of a direct kernel on a CPU: the whole first dimension when it fits (few, large
 * work-groups: POCL runs each as one task), else the runtime's choice. */
static const size_t *direct_local(const clnn_tensor *node, size_t first, size_t *local)
{
    size_t max = node->ctx->info.max_work_group_size;
    if (node->ctx->info.type == CLNN_DEVICE_GPU || !max || first > max)
        return NULL;
    local[0] = first;
    local[1] = local[2] = 1;
    return local;
}

/* Sample ranges (`parts`) of a direct weight gradient: enough work-items for every compute unit,
 * and on CPUs ranges small enough (about 512 KiB of x and dy) that one part's data stays in the
 * cache while every work-item of the part (one work-group: part_local) runs over it. */
static int bw_parts(const clnn_tensor *y, size_t items, size_t sample_floats, int nc)
{
    size_t want = 8 * (size_t)(y->ctx->info.compute_units ? y->ctx->info.compute_units : 1);
    size_t parts = (want + items - 1) / items;
    if (y->ctx->info.type != CLNN_DEVICE_GPU) {
        size_t per = ((size_t)512 << 10) / (sample_floats * sizeof(float) + 1);
        per = per < 1 ? 1 : per;
        size_t by_cache = ((size_t)nc + per - 1) / per;
        parts = by_cache > parts ? by_cache : parts;
    }
    return parts < 1 ? 1 : parts > (size_t)nc ? nc : (int)parts;
}

/* The work-group of a direct weight-gradient kernel on a CPU: every work-item of one part. */
static const size_t *part_local(const clnn_tensor *y, const size_t *global, size_t *local)
{
    size_t max = y->ctx->info.max_work_group_size;
    if (y->ctx->info.type == CLNN_DEVICE_GPU || !max || global[0] * global[1] > max)
        return NULL;
    local[0] = global[0];
    local[1] = global[1];
    local[2] = 1;
    return local;
}

/* The zero padding of an input (IH, IW) that puts every window of an (OH, OW) output with
 * strides (sh, sw) and top/left padding (ph, pw) inside it: rows pt above and pb below, columns
 * pl left and pr right (ph or pw < 0: windows start inside, nothing above or left). */
typedef struct pad_geom {
    int pt, pl, PH, PW; /* top, left, padded size */
    int padded;         /* 0: the input itself holds every window */
} pad_geom;

static pad_geom pad_geometry(const conv_params *p, int IH, int IW, int OH, int OW, int sh, int sw,
                             int ph, int pw)
{
    pad_geom g = {.pt = ph > 0 ? ph : 0, .pl = pw > 0 ? pw : 0};
    int pb = (OH - 1) * sh - ph + (p->R - 1) * p->dil_h - (IH - 1);
    int pr = (OW - 1) * sw - pw + (p->S - 1) * p->dil_w - (IW - 1);
    pb = pb > 0 ? pb : 0;
    pr = pr > 0 ? pr : 0;
    g.padded = g.pt || g.pl || pb || pr;
    g.PH = IH + g.pt + pb;
    g.PW = IW + g.pl + pr;
    return g;
}

/* conv_pad (kernel slot 5): nc planes (IH, IW) of the input at (*in, *oin) -> scratch[oout]
 * padded as g, then (*in, *oin) point at the padded copy. Nothing when g needs no padding. */
static clnn_status run_pad(clnn_tensor *y, const pad_geom *g, int IH, int IW, int nc, cl_mem *in,
                           int *oin, int oout)
{
    if (!g->padded)
        return CLNN_OK;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 5, "conv_pad", &k, &fresh);
    if (!st)
        st = set_args_at(y->ctx, k, "conv_pad", 0, 11, CLNN__ARG(IH), CLNN__ARG(IW),
                         CLNN__ARG(g->pt), CLNN__ARG(g->pl), CLNN__ARG(g->PH), CLNN__ARG(g->PW),
                         CLNN__ARG(nc), CLNN__ARG(*in), CLNN__ARG(*oin), CLNN__ARG(y->scratch),
                         CLNN__ARG(oout));
    if (!st)
        st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)g->PH, (size_t)nc}, NULL);
    *in = y->scratch;
    *oin = oout;
    return st;
}

/* Enqueues a direct weight-gradient kernel over global (its sample ranges in dimension 2), then,
 * unless it wrote dw itself, adds the ranges' partial sums at scratch[part_off] into dw
 * (accumulate: onto the earlier chunks'). */
static clnn_status run_parts(clnn_tensor *y, cl_kernel k, const size_t *global, int direct_write,
                             size_t part_off, int accumulate)
{
    size_t local[3];
    clnn_status st = clnn__enqueue(y, k, 3, global, part_local(y, global, local));
    if (st || direct_write)
        return st;
    conv_plan plan = {.rows = y->ctx->info.type != CLNN_DEVICE_GPU};
    return run_reduce(y, &plan, (int)y->numel, (int)global[2], (int)part_off, accumulate);
}

/* conv2d (flip = 0): in = x, out = y; conv2d_transpose / bwd_input with stride 1 (flip = 1):
 * in = dy, out = dx, the flipped kernel and pad (R - 1) dil - pad. scratch: the packed weights,
 * then, for a convolution with padding, chunks of samples of `in` padded with zeros (conv_pad) so
 * that conv_direct never checks bounds. */
static clnn_status emit_direct(clnn_tensor *y, int flip)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *in = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)in->shape[0];
    int Ci = flip ? Kg : Cg, Co = flip ? Cg : Kg, Cop = (int)round32((size_t)Co);
    int IH = flip ? p->OH : p->H, IW = flip ? p->OW : p->W;
    int OH = flip ? p->H : p->OH, OW = flip ? p->W : p->OW;
    int ph = flip ? (p->R - 1) * p->dil_h - p->pad_h : p->pad_h;
    int pw = flip ? (p->S - 1) * p->dil_w - p->pad_w : p->pad_w;
    int sh = flip ? 1 : p->stride_h, sw = flip ? 1 : p->stride_w;
    const pad_geom pg = pad_geometry(p, IH, IW, OH, OW, sh, sw, ph, pw);
    int pt = pg.pt, pl = pg.pl, padded = pg.padded, PH = pg.PH, PW = pg.PW;
    int zero = 0, has_bias = (b != NULL) | (!flip && p->relu ? 2 : 0);
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    int Cin = G * Ci, Cout = G * Co, P = OH * OW;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    size_t rows = (size_t)Ci * p->R * p->S, wt = (size_t)G * rows * Cop;
    size_t sample = (size_t)Cin * PH * PW; /* floats of one padded sample */
    int nc;
    clnn_status st = chunk_samples(y, N, padded ? sample : 0, wt, &nc);
    if (st)
        return st;
    st = scratch_of(y, wt + (padded ? (size_t)nc * sample : 0));
    cl_kernel k;
    int fresh;
    if (!st)
        st = clnn__node_kernel(y, 3, "conv_pack_w", &k, &fresh);
    if (!st)
        st = set_args_at(y->ctx, k, "conv_pack_w", 0, 10, CLNN__ARG(Kg), CLNN__ARG(Cg),
                         CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(flip), CLNN__ARG(Cop),
                         CLNN__ARG(w->storage->mem), CLNN__ARG(ow), CLNN__ARG(y->scratch),
                         CLNN__ARG(zero));
    if (!st)
        st = clnn__enqueue(y, k, 3, (size_t[]){(size_t)Cop, rows, (size_t)G}, NULL);
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, oin = (int)(in->offset + (size_t)n0 * Cin * IH * IW);
        int oout = (int)(y->offset + (size_t)n0 * Cout * P), ih = ph - pt, iw = pw - pl;
        int pih = padded ? PH : IH, piw = padded ? PW : IW, mc = m * Cin, owt = (int)wt;
        cl_mem src = in->storage->mem;
        if ((st = run_pad(y, &pg, IH, IW, mc, &src, &oin, owt)))
            break;
        if ((st = clnn__node_kernel(y, 4, "conv_direct", &k, &fresh)) ||
            (st = set_args_at(y->ctx, k, "conv_direct", 0, 26, CLNN__ARG(Ci), CLNN__ARG(pih),
                              CLNN__ARG(piw), CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(OH),
                              CLNN__ARG(OW), CLNN__ARG(sh), CLNN__ARG(sw), CLNN__ARG(ih),
                              CLNN__ARG(iw), CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w), CLNN__ARG(m),
                              CLNN__ARG(G), CLNN__ARG(Co), CLNN__ARG(Cop), CLNN__ARG(src),
                              CLNN__ARG(oin), CLNN__ARG(y->scratch), CLNN__ARG(zero),
                              CLNN__ARG(y->storage->mem), CLNN__ARG(oout), CLNN__ARG(bmem),
                              CLNN__ARG(ob), CLNN__ARG(has_bias))))
            break;
        size_t tiles = ((size_t)P + DIRECT_DT - 1) / DIRECT_DT, local[3];
        size_t global[2] = {tiles, (size_t)m * G * (Cop / 32)};
        st = clnn__enqueue(y, k, 2, global, direct_local(y, tiles, local));
    }
    return st;
}

/* conv2d_bwd_weight: per chunk of samples, dyt = conv_dy_t(dy) (the channels of a pixel
 * contiguous), x padded with zeros where the convolution has padding (conv_pad), then
 * conv_direct_bwd_w into `parts` partial sums over sample ranges (enough work-items for every
 * compute unit) that conv_reduce adds to dw (written directly when one part and one chunk).
 * scratch: dyt (nc P G Kgp), the padded x (nc C PH PW), the partial sums (parts numel). */
static clnn_status emit_direct_bwd_w(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *d = y->src[1];
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)x->shape[0], P = p->OH * p->OW;
    int Kgp = (int)round32((size_t)Kg), od = (int)d->offset, zero = 0;
    const pad_geom pg =
        pad_geometry(p, p->H, p->W, p->OH, p->OW, p->stride_h, p->stride_w, p->pad_h, p->pad_w);
    int padded = pg.padded, PH = pg.PH, PW = pg.PW, CRS = Cg * p->R * p->S;
    size_t row = (size_t)P * G * Kgp, xs = padded ? (size_t)p->C * PH * PW : 0;
    int nc;
    clnn_status st = chunk_samples(y, N, row + xs, 0, &nc);
    if (st)
        return st;
    int chunks = (N + nc - 1) / nc;
    size_t items = (size_t)((CRS + DIRECT_DT - 1) / DIRECT_DT) * G * (Kgp / 32);
    int parts = bw_parts(y, items, row + (size_t)p->C * PH * PW, nc);
    int direct_write = parts == 1 && chunks == 1;
    size_t xoff = (size_t)nc * row, part_off = xoff + (size_t)nc * xs;
    size_t total = part_off + (direct_write ? 0 : (size_t)parts * y->numel);
    if (total >= INT_MAX)
        return clnn__fail(y->ctx, CLNN_ERR_UNSUPPORTED,
                          "conv2d_bwd_weight '%s': a scratch buffer of %zu floats exceeds 2^31 "
                          "(kernels index with int)",
                          y->name, total);
    st = scratch_of(y, total);
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, popt = direct_write ? (int)y->offset : (int)part_off;
        int mparts = parts > m ? m : parts, mc = m * p->C;
        int ox = (int)(x->offset + (size_t)n0 * p->C * p->H * p->W), oxp = (int)xoff;
        cl_mem pmem = direct_write ? y->storage->mem : y->scratch, xmem = x->storage->mem;
        cl_kernel k;
        int fresh;
        if ((st = clnn__node_kernel(y, 3, "conv_dy_t", &k, &fresh)) ||
            (st = set_args_at(y->ctx, k, "conv_dy_t", 0, 10, CLNN__ARG(P), CLNN__ARG(G),
                              CLNN__ARG(Kg), CLNN__ARG(Kgp), CLNN__ARG(n0), CLNN__ARG(m),
                              CLNN__ARG(d->storage->mem), CLNN__ARG(od), CLNN__ARG(y->scratch),
                              CLNN__ARG(zero))) ||
            (st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)P, (size_t)m}, NULL)))
            break;
        if ((st = run_pad(y, &pg, p->H, p->W, mc, &xmem, &ox, oxp)))
            break;
        int xh = padded ? PH : p->H, xw = padded ? PW : p->W;
        if ((st = clnn__node_kernel(y, 4, "conv_direct_bwd_w", &k, &fresh)) ||
            (st = set_args_at(y->ctx, k, "conv_direct_bwd_w", 0, 22, CLNN__ARG(Cg), CLNN__ARG(xh),
                              CLNN__ARG(xw), CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH),
                              CLNN__ARG(p->OW), CLNN__ARG(p->stride_h), CLNN__ARG(p->stride_w),
                              CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w), CLNN__ARG(G), CLNN__ARG(Kg),
                              CLNN__ARG(Kgp), CLNN__ARG(m), CLNN__ARG(mparts), CLNN__ARG(xmem),
                              CLNN__ARG(ox), CLNN__ARG(y->scratch), CLNN__ARG(zero),
                              CLNN__ARG(pmem), CLNN__ARG(popt))))
            break;
        size_t global[3] = {(size_t)(CRS + DIRECT_DT - 1) / DIRECT_DT, (size_t)G * (Kgp / 32),
                            (size_t)mparts};
        st = run_parts(y, k, global, direct_write, part_off, n0 > 0);
    }
    return st;
}

/* conv2d_bwd_weight of a stride-1 convolution with few taps (direct_algo), per chunk of samples:
 * x padded where the convolution has padding (conv_pad), then conv_bwd_w_rows into `parts`
 * partial sums over sample ranges that conv_reduce adds to dw (written directly when one part
 * and one chunk). scratch: the padded x (nc C PH PW), the partial sums. */
#define ROWS_BT 9 /* CONV_BT, CONV_BK of conv.cl */
#define ROWS_BK 2
static clnn_status emit_bwd_w_rows(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *d = y->src[1];
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)x->shape[0];
    const pad_geom pg = pad_geometry(p, p->H, p->W, p->OH, p->OW, 1, 1, p->pad_h, p->pad_w);
    int padded = pg.padded;
    int PH = pg.PH, PW = pg.PW, CRS = Cg * p->R * p->S;
    size_t xs = padded ? (size_t)p->C * PH * PW : 0;
    int nc;
    clnn_status st = chunk_samples(y, N, xs, 0, &nc);
    if (st)
        return st;
    int chunks = (N + nc - 1) / nc;
    size_t items = (size_t)((CRS + ROWS_BT - 1) / ROWS_BT) * G * ((Kg + ROWS_BK - 1) / ROWS_BK);
    int parts = bw_parts(y, items, (size_t)p->K * p->OH * p->OW + (size_t)p->C * PH * PW, nc);
    int direct_write = parts == 1 && chunks == 1;
    size_t part_off = (size_t)nc * xs;
    size_t total = part_off + (direct_write ? 0 : (size_t)parts * y->numel);
    if (total >= INT_MAX)
        return clnn__fail(y->ctx, CLNN_ERR_UNSUPPORTED,
                          "conv2d_bwd_weight '%s': a scratch buffer of %zu floats exceeds 2^31 "
                          "(kernels index with int)",
                          y->name, total);
    st = total ? scratch_of(y, total) : CLNN_OK;
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, popt = direct_write ? (int)y->offset : (int)part_off;
        int mparts = parts > m ? m : parts, mc = m * p->C;
        int od = (int)(d->offset + (size_t)n0 * p->K * p->OH * p->OW);
        int ox = (int)(x->offset + (size_t)n0 * p->C * p->H * p->W);
        cl_mem pmem = direct_write ? y->storage->mem : y->scratch, xmem = x->storage->mem;
        cl_kernel k;
        int fresh;
        if ((st = run_pad(y, &pg, p->H, p->W, mc, &xmem, &ox, 0)))
            break;
        int xh = padded ? PH : p->H;
        if ((st = clnn__node_kernel(y, 7, "conv_bwd_w_rows", &k, &fresh)) ||
            (st = set_args_at(y->ctx, k, "conv_bwd_w_rows", 0, 19, CLNN__ARG(Cg), CLNN__ARG(xh),
                              CLNN__ARG(PW), CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH),
                              CLNN__ARG(p->OW), CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w),
                              CLNN__ARG(G), CLNN__ARG(Kg), CLNN__ARG(m), CLNN__ARG(mparts),
                              CLNN__ARG(xmem), CLNN__ARG(ox), CLNN__ARG(d->storage->mem),
                              CLNN__ARG(od), CLNN__ARG(pmem), CLNN__ARG(popt))))
            break;
        size_t global[3] = {(size_t)(CRS + ROWS_BT - 1) / ROWS_BT,
                            (size_t)G * ((Kg + ROWS_BK - 1) / ROWS_BK), (size_t)mparts};
        st = run_parts(y, k, global, direct_write, part_off, n0 > 0);
    }
    return st;
}

/* conv2d of a stride-1 convolution with few taps (direct_algo): x padded where the convolution
 * pads (conv_pad, in chunks of samples in scratch), then conv_fwd_rows writes y (+ bias). */
#define ROWS_FK 8 /* CONV_FK of conv.cl */
static clnn_status emit_fwd_rows(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)x->shape[0];
    const pad_geom pg = pad_geometry(p, p->H, p->W, p->OH, p->OW, 1, 1, p->pad_h, p->pad_w);
    int padded = pg.padded;
    int PH = pg.PH, PW = pg.PW, has_bias = (b != NULL) | (p->relu ? 2 : 0);
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    size_t xs = (size_t)p->C * PH * PW;
    int nc;
    clnn_status st = chunk_samples(y, N, padded ? xs : 0, 0, &nc);
    if (st)
        return st;
    st = padded ? scratch_of(y, (size_t)nc * xs) : CLNN_OK;
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, mc = m * p->C;
        int ox = (int)(x->offset + (size_t)n0 * p->C * p->H * p->W);
        int oy = (int)(y->offset + (size_t)n0 * p->K * p->OH * p->OW);
        cl_mem xmem = x->storage->mem;
        cl_kernel k;
        int fresh;
        if ((st = run_pad(y, &pg, p->H, p->W, mc, &xmem, &ox, 0)))
            break;
        int xh = padded ? PH : p->H, xw = padded ? PW : p->W;
        if ((st = clnn__node_kernel(y, 6, "conv_fwd_rows", &k, &fresh)) ||
            (st = set_args_at(y->ctx, k, "conv_fwd_rows", 0, 21, CLNN__ARG(Cg), CLNN__ARG(xh),
                              CLNN__ARG(xw), CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH),
                              CLNN__ARG(p->OW), CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w),
                              CLNN__ARG(m), CLNN__ARG(G), CLNN__ARG(Kg), CLNN__ARG(xmem),
                              CLNN__ARG(ox), CLNN__ARG(w->storage->mem), CLNN__ARG(ow),
                              CLNN__ARG(y->storage->mem), CLNN__ARG(oy), CLNN__ARG(bmem),
                              CLNN__ARG(ob), CLNN__ARG(has_bias))))
            break;
        size_t local[3];
        size_t global[3] = {(size_t)p->OH, (size_t)G * ((Kg + ROWS_FK - 1) / ROWS_FK), (size_t)m};
        st = clnn__enqueue(y, k, 3, global, direct_local(y, (size_t)p->OH, local));
    }
    return st;
}

/* ---- Winograd F(2x2, 3x3) (kernels/winograd.cl; algorithm 4) ------------------------------- */
#define WINO_SLOT 8 /* winograd_weights, winograd_input, winograd_output: kernel slots 8 .. 10 */
#ifndef WINO_BLOCK_BYTES
#define WINO_BLOCK_BYTES ((size_t)4 << 20) /* V and M of a block of tile rows */
#endif
_Static_assert(WINO_SLOT + 3 <= CLNN__GEMM_SLOT, "the Winograd kernels' slots meet the GEMM's");

/* Kernel i of winograd.cl in the node's slot WINO_SLOT + i (another program than the op's). */
static clnn_status wino_kernel(clnn_tensor *node, int i, const char *name, cl_kernel *k)
{
    cl_kernel *slot = &node->kernels[WINO_SLOT + i];
    if (!*slot) {
        clnn_status st = clnn__kernel_create(node->ctx, "winograd", NULL, name, slot);
        if (st)
            return st;
    }
    *k = *slot;
    return CLNN_OK;
}

/* conv2d (flip = 0: in = x, out = y) or the data gradient of a stride-1 convolution
 * (conv2d_transpose / bwd_input, flip = 1: in = dy, out = dx, weights rotated and transposed,
 * pad 2 - pad) as Winograd F(2x2, 3x3): U = winograd_weights(w) once; per chunk of samples the
 * input padded to whole 4x4 tiles (conv_pad, where needed); then per block of tile rows
 * V = winograd_input, M[e] = U[e] V[e] (16 GEMMs in one strided batch), out = winograd_output(M)
 * (+ bias, ReLU). V and M (4x the output each) of a whole batch stream through memory three
 * times, which on a CPU costs about as much as the GEMMs; blocks of a few MiB
 * ($CLNN_WINO_BLOCK_BYTES, WINO_BLOCK_BYTES by default) stay nearer the cache, smaller ones pay
 * more in kernel launches (three per block; on POCL ~0.1 ms each) than they save. scratch: U
 * (16 Co Ci), V and M of a block (16 (Ci + Co) rows TW), the padded input of a chunk (Ci PH PW
 * per sample). Measured with clnn-bench conv on POCL (2 cores): slower than conv_direct on every
 * 3x3 layer of the reference models (1.3-2.3x), so no device takes it by default. */
static clnn_status emit_winograd(clnn_tensor *y, int flip)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *in = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int N = (int)in->shape[0], Ci = flip ? p->K : p->C, Co = flip ? p->C : p->K;
    int IH = flip ? p->OH : p->H, IW = flip ? p->OW : p->W;
    int OH = flip ? p->H : p->OH, OW = flip ? p->W : p->OW;
    int TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    /* rows pt above (< 0: cropped) and up to 2 TH + 2 rows in all: every tile inside */
    pad_geom pg = {.pt = flip ? 2 - p->pad_h : p->pad_h,
                   .pl = flip ? 2 - p->pad_w : p->pad_w,
                   .PH = 2 * TH + 2,
                   .PW = 2 * TW + 2};
    pg.padded = pg.pt || pg.pl || pg.PH != IH || pg.PW != IW;
    int has_bias = (b != NULL) | (!flip && p->relu ? 2 : 0), zero = 0;
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    /* tile rows per block: V and M within the block budget, at least one */
    size_t row_floats = (size_t)16 * (Ci + Co) * TW;
    size_t rb = env_size("CLNN_WINO_BLOCK_BYTES", WINO_BLOCK_BYTES) / sizeof(float) / row_floats;
    rb = rb < 1 ? 1 : rb > (size_t)N * TH ? (size_t)N * TH : rb;
    size_t u = (size_t)16 * Co * Ci, ov = u, om = ov + (size_t)16 * Ci * rb * TW;
    size_t ox = om + (size_t)16 * Co * rb * TW, xs = pg.padded ? (size_t)Ci * pg.PH * pg.PW : 0;
    int nc;
    clnn_status st = chunk_samples(y, N, xs, ox, &nc);
    if (st)
        return st;
    if (ox + (size_t)nc * xs >= INT_MAX) /* per = 0: chunk_samples did not look at ox */
        return clnn__fail(y->ctx, CLNN_ERR_UNSUPPORTED,
                          "%s '%s': the Winograd scratch of %zu floats exceeds 2^31 (kernels "
                          "index with int)",
                          clnn__ops[y->op]->name, y->name, ox + (size_t)nc * xs);
    st = scratch_of(y, ox + (size_t)nc * xs);
    cl_kernel k;
    if (!st)
        st = wino_kernel(y, 0, "winograd_weights", &k);
    if (!st)
        st = set_args_at(y->ctx, k, "winograd_weights", 0, 7, CLNN__ARG(Co), CLNN__ARG(Ci),
                         CLNN__ARG(flip), CLNN__ARG(w->storage->mem), CLNN__ARG(ow),
                         CLNN__ARG(y->scratch), CLNN__ARG(zero));
    if (!st)
        st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)Ci, (size_t)Co}, NULL);
    int iov = (int)ov, iom = (int)om;
    size_t local[3]; /* CPUs: a work-group per channel's block of tile rows (direct_local) */
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, oin = (int)(in->offset + (size_t)n0 * Ci * IH * IW);
        int oout = (int)(y->offset + (size_t)n0 * Co * OH * OW), all = m * TH;
        cl_mem src = in->storage->mem;
        if ((st = run_pad(y, &pg, IH, IW, m * Ci, &src, &oin, (int)ox)))
            break;
        for (int row0 = 0; !st && row0 < all; row0 += (int)rb) {
            int rows = all - row0 < (int)rb ? all - row0 : (int)rb;
            size_t T = (size_t)rows * TW;
            clnn__gemm_args g = {.m = (size_t)Co,
                                 .n = T,
                                 .k = (size_t)Ci,
                                 .alpha = 1.0f,
                                 .beta = 0.0f,
                                 .a = y->scratch,
                                 .a_off = 0,
                                 .lda = (size_t)Ci,
                                 .a_stride = (size_t)Co * Ci,
                                 .b = y->scratch,
                                 .b_off = ov,
                                 .ldb = T,
                                 .b_stride = (size_t)Ci * T,
                                 .c = y->scratch,
                                 .c_off = om,
                                 .ldc = T,
                                 .c_stride = (size_t)Co * T,
                                 .batch = 16};
            if ((st = wino_kernel(y, 1, "winograd_input", &k)) ||
                (st = set_args_at(y->ctx, k, "winograd_input", 0, 9, CLNN__ARG(Ci), CLNN__ARG(TH),
                                  CLNN__ARG(TW), CLNN__ARG(row0), CLNN__ARG(rows), CLNN__ARG(src),
                                  CLNN__ARG(oin), CLNN__ARG(y->scratch), CLNN__ARG(iov))) ||
                (st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)rows, (size_t)Ci},
                                    direct_local(y, (size_t)rows, local))) ||
                (st = clnn__gemm(y->ctx, y, &g)) ||
                (st = wino_kernel(y, 2, "winograd_output", &k)) ||
                (st = set_args_at(y->ctx, k, "winograd_output", 0, 14, CLNN__ARG(Co), CLNN__ARG(OH),
                                  CLNN__ARG(OW), CLNN__ARG(TH), CLNN__ARG(TW), CLNN__ARG(row0),
                                  CLNN__ARG(rows), CLNN__ARG(y->scratch), CLNN__ARG(iom),
                                  CLNN__ARG(y->storage->mem), CLNN__ARG(oout), CLNN__ARG(bmem),
                                  CLNN__ARG(ob), CLNN__ARG(has_bias))))
                break;
            st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)rows, (size_t)Co},
                               direct_local(y, (size_t)rows, local));
        }
    }
    return st;
}

/* Per-group GEMM dimensions of a chunk of L columns. */
#define GROUP_DIMS(p)                                                                              \
    const size_t G = (size_t)(p)->groups, Kg = (size_t)(p)->K / G,                                 \
                 CgRS = (size_t)(p)->C / G * (size_t)(p)->R * (size_t)(p)->S

/* conv2d: x: (N, C, H, W), w: (K, C/G, R, S), b: (K) -> y: (N, K, OH, OW)
 * per chunk: col = im2col(x); yw (K, L) = W col (batched over groups); y = swap(yw) + b */
static clnn_status emit_conv2d(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int N = (int)x->shape[0], P = p->OH * p->OW;
    conv_plan plan = conv_algo(y, p, N);
    if (plan.direct == 4)
        return emit_winograd(y, 0);
    if (plan.direct == 3)
        return emit_fwd_rows(y);
    if (plan.direct)
        return emit_direct(y, 0);
    size_t crs = (size_t)p->C * p->R * p->S, yw = crs * plan.nc * P;
    GROUP_DIMS(p);
    clnn_status st = scratch_of(y, ((size_t)p->K + crs) * plan.nc * P);
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc;
        size_t L = (size_t)nc * P;
        clnn__gemm_args g = {.m = Kg,
                             .n = L,
                             .k = CgRS,
                             .alpha = 1.0f,
                             .beta = 0.0f,
                             .a = w->storage->mem,
                             .a_off = w->offset,
                             .lda = CgRS,
                             .a_stride = Kg * CgRS,
                             .b = y->scratch,
                             .b_off = 0,
                             .ldb = L,
                             .b_stride = CgRS * L,
                             .c = y->scratch,
                             .c_off = yw,
                             .ldc = L,
                             .c_stride = Kg * L,
                             .batch = G};
        if (!(st = run_im2col(y, "conv_im2col", p, &plan, x, n0, nc)) &&
            !(st = clnn__gemm(y->ctx, y, &g)))
            st = run_swap(y, &plan, p->K, nc, P, y->scratch, (int)yw, y->storage->mem,
                          (int)(y->offset + (size_t)n0 * p->K * P), b, p->relu);
    }
    return st;
}

/* conv2d_transpose, conv2d_bwd_input: d: (N, K, OH, OW), w: (K, C/G, R, S), b: (C)
 * -> y: (N, C, H, W); per chunk: dyw = swap(d); col (C R S, L) = W^T dyw (batched over groups,
 * or over column blocks for one group); y = col2im(col) + b */
static clnn_status emit_transpose(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *d = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int N = (int)d->shape[0], P = p->OH * p->OW;
    conv_plan plan = conv_algo(y, p, N);
    if (plan.direct == 4)
        return emit_winograd(y, 1);
    if (plan.direct)
        return emit_direct(y, 1);
    size_t col = (size_t)p->K * plan.nc * P;
    GROUP_DIMS(p);
    clnn_status st = scratch_of(y, ((size_t)p->K + (size_t)p->C * p->R * p->S) * plan.nc * P);
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc;
        size_t L = (size_t)nc * P;
        clnn__gemm_args g = {.trans_a = 1,
                             .m = CgRS,
                             .n = L,
                             .k = Kg,
                             .alpha = 1.0f,
                             .beta = 0.0f,
                             .a = w->storage->mem,
                             .a_off = w->offset,
                             .lda = CgRS,
                             .a_stride = Kg * CgRS,
                             .ldb = L,
                             .b_stride = Kg * L,
                             .c = y->scratch,
                             .c_off = col,
                             .ldc = L,
                             .c_stride = CgRS * L,
                             .batch = G};
        if ((st = wide_dy(y, p, &plan, d, n0, nc, 0, &g.b, &g.b_off)))
            break;
        st = G > 1 ? clnn__gemm(y->ctx, y, &g) : gemm_split_n(y, &g, split_parts(&plan, L));
        if (!st)
            st = run_col2im(y, p, &plan, (int)col, b, n0, nc);
    }
    return st;
}

/* conv2d_bwd_weight: x: (N, C, H, W), dy: (N, K, OH, OW) -> dw: (K, C/G, R, S); per chunk:
 * colT = im2row(x) (L, C R S); dyw = swap(dy) (K, L); dw (+)= dyw colT: batched over groups, or
 * for one group split along L into partial products that conv_reduce adds up */
static clnn_status emit_bwd_weight(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *d = y->src[1];
    int N = (int)x->shape[0], P = p->OH * p->OW;
    conv_plan plan = conv_algo(y, p, N);
    if (plan.direct == 2)
        return emit_bwd_w_rows(y);
    if (plan.direct)
        return emit_direct_bwd_w(y);
    size_t crs = (size_t)p->C * p->R * p->S, dyw = crs * plan.nc * P;
    size_t partial = dyw + (size_t)p->K * plan.nc * P;
    size_t parts_max = split_parts(&plan, (size_t)plan.nc * P) + 1;
    if (partial + parts_max * (size_t)y->numel >= INT_MAX) { /* int offsets in conv_reduce */
        plan.split = 0;
        parts_max = 1;
    }
    GROUP_DIMS(p);
    clnn_status st = scratch_of(y, partial + (p->groups == 1 ? parts_max * y->numel : 0));
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc, used;
        size_t L = (size_t)nc * P, parts = G > 1 ? 1 : split_parts(&plan, L);
        clnn__gemm_args g = {.m = Kg,
                             .n = CgRS,
                             .k = L,
                             .alpha = 1.0f,
                             .beta = n0 ? 1.0f : 0.0f,
                             .lda = L,
                             .a_stride = Kg * L,
                             .b = y->scratch,
                             .b_off = 0,
                             .ldb = crs,
                             .b_stride = CgRS,
                             .c = y->storage->mem,
                             .c_off = y->offset,
                             .ldc = CgRS,
                             .c_stride = Kg * CgRS,
                             .batch = G};
        if ((st = run_im2col(y, "conv_im2row", p, &plan, x, n0, nc)) ||
            (st = wide_dy(y, p, &plan, d, n0, nc, dyw, &g.a, &g.a_off)))
            break;
        if (parts == 1) {
            st = clnn__gemm(y->ctx, y, &g);
            continue;
        }
        g.c = y->scratch;
        g.c_off = partial;
        g.c_stride = (size_t)y->numel;
        g.beta = 0.0f;
        if (!(st = gemm_split_k(y, &g, parts, &used)))
            st = run_reduce(y, &plan, (int)y->numel, used, (int)partial, n0 > 0);
    }
    return st;
}

/* ---- backward ------------------------------------------------------------------------------ */
/* A node of op on (a, b) with p's resolved geometry and no bias. */
static clnn_tensor *conv_node(clnn_graph *g, int op, clnn_tensor *a, clnn_tensor *b,
                              const conv_params *p)
{
    conv_params q = *p;
    q.has_bias = 0;
    q.relu = 0;
    return clnn__node(g, op, 2, (clnn_tensor *[]){a, b}, &q, sizeof q);
}

static clnn_status bias_grad(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *b = y->nsrc > 2 ? y->src[2] : NULL;
    if (!b || !b->requires_grad)
        return CLNN_OK;
    /* in two steps: contiguous rows of OH OW first, then the batch (6x faster than one
     * strided reduction over N, OH, OW on POCL) */
    clnn_tensor *per_sample = clnn_sum(g, dy, 2, (int[]){2, 3}, 0);
    return clnn__grad_accum(g, b, clnn_sum(g, per_sample, 1, (int[]){0}, 0));
}

/* conv2d: dx = bwd_input(dy, w), dw = bwd_weight(x, dy), db = sum of dy over N, OH, OW; with a
 * fused ReLU dy is first masked by the output (relu_bwd(y, dy): y > 0 exactly where the ReLU's
 * input was, NaN included, as bias_act_bwd decides) */
static clnn_status backward_conv2d(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    clnn_tensor *x = y->src[0], *w = y->src[1];
    clnn_status st;
    if (p->relu && !(dy = clnn__node(g, CLNN_OP_RELU_BWD, 2, (clnn_tensor *[]){y, dy}, NULL, 0)))
        return g->status ? g->status : CLNN_ERR_NOMEM;
    if (x->requires_grad &&
        (st = clnn__grad_accum(g, x, conv_node(g, CLNN_OP_CONV2D_BWD_INPUT, dy, w, p))))
        return st;
    if (w->requires_grad &&
        (st = clnn__grad_accum(g, w, conv_node(g, CLNN_OP_CONV2D_BWD_WEIGHT, x, dy, p))))
        return st;
    return bias_grad(g, y, dy);
}

/* conv2d_transpose (and bwd_input): dx = conv2d(dy, w), dw = bwd_weight(dy, x), db likewise */
static clnn_status backward_transpose(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    clnn_tensor *x = y->src[0], *w = y->src[1];
    clnn_status st;
    if (x->requires_grad && (st = clnn__grad_accum(g, x, conv_node(g, CLNN_OP_CONV2D, dy, w, p))))
        return st;
    if (w->requires_grad &&
        (st = clnn__grad_accum(g, w, conv_node(g, CLNN_OP_CONV2D_BWD_WEIGHT, dy, x, p))))
        return st;
    return bias_grad(g, y, dy);
}

/* 2 N K (C/G) R S OH OW for each of the three sides (+ the bias) */
static void cost(const clnn_tensor *y, double *flops, double *bytes)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    double n = (double)y->src[0]->shape[0], pix = (double)p->OH * p->OW;
    *flops = 2.0 * n * p->K * (double)(p->C / p->groups) * p->R * p->S * pix;
    if (p->has_bias)
        *flops += (double)y->numel;
    *bytes = 4.0 * (double)y->numel;
    for (int i = 0; i < y->nsrc; i++)
        *bytes += 4.0 * (double)y->src[i]->numel;
}

const clnn__op_def clnn__op_conv2d = {"conv2d",        3,    infer_conv2d, emit_conv2d,
                                      backward_conv2d, cost, "conv"};
const clnn__op_def clnn__op_conv2d_transpose = {
    "conv2d_transpose", 3, infer_transpose, emit_transpose, backward_transpose, cost, "conv"};
const clnn__op_def clnn__op_conv2d_bwd_input = {
    "conv2d_bwd_input", 2, infer_transpose, emit_transpose, backward_transpose, cost, "conv"};
/* second derivatives are not needed by any training path: no backward */
const clnn__op_def clnn__op_conv2d_bwd_weight = {
    "conv2d_bwd_weight", 2, infer_conv2d, emit_bwd_weight, NULL, cost, "conv"};

/* ---- builders ------------------------------------------------------------------------------ */
static clnn_tensor *build(clnn_graph *g, int op, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                          const clnn_conv2d_options *options)
{
    clnn_conv2d_options o;
    if (options)
        o = *options;
    else
        clnn_conv2d_options_init(&o);
    conv_params p = {.stride_h = o.stride_h,
                     .stride_w = o.stride_w,
                     .pad_h = o.pad_h,
                     .pad_w = o.pad_w,
                     .dil_h = o.dilation_h,
                     .dil_w = o.dilation_w,
                     .groups = o.groups,
                     .out_pad_h = o.output_pad_h,
                     .out_pad_w = o.output_pad_w,
                     .padding = (int)o.padding};
    return clnn__node(g, op, bias ? 3 : 2, (clnn_tensor *[]){x, w, bias}, &p, sizeof p);
}

clnn_tensor *clnn_conv2d(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                         const clnn_conv2d_options *options)
{
    return build(g, CLNN_OP_CONV2D, x, w, bias, options);
}

clnn_tensor *clnn__conv2d_relu(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                               const clnn_conv2d_options *options)
{
    clnn_tensor *y = build(g, CLNN_OP_CONV2D, x, w, bias, options);
    if (y)
        CLNN__PARAMS(y, conv_params)->relu = 1;
    return y;
}

clnn_tensor *clnn_conv2d_transpose(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                                   const clnn_conv2d_options *options)
{
    return build(g, CLNN_OP_CONV2D_TRANSPOSE, x, w, bias, options);
}
