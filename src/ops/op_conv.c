/* op_conv.c — the ops of 2-D convolution and transposed convolution: definitions and choice.
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
 * Here: the params and shape inference, the choice of algorithm (conv_algo, direct_algo;
 * clnn__conv_algos says where each is valid), the helpers every emitter shares (conv.h: sample
 * chunks, the scratch buffer, kernel arguments, conv_reduce), the dispatch to the emitters, the
 * backward rules and the builders. Not here: the emitters themselves, im2col + GEMM in
 * conv_gemm.c (every node; GPUs take it by default) and the own kernels in conv_kernels.c (the
 * direct and row kernels of conv.cl, CPU devices; Winograd F(2x2, 3x3) of winograd.cl for the
 * forward and data-gradient passes of 3x3 stride-1 layers, chosen only when forced
 * ($CLNN_CONV_ALGO=winograd) or tuned (clnn_graph_tune)). Two tunables read here can be
 * overridden from the environment, for tuning and so that the tests reach every path with small
 * shapes: $CLNN_CONV_SCRATCH_BYTES (the scratch budget that sets the samples per chunk, default
 * CONV_SCRATCH_BYTES = 32 MiB) and $CLNN_CONV_SPLIT (columns per batch of a split GEMM
 * dimension, default 2048). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"

#ifndef CONV_SCRATCH_BYTES
#define CONV_SCRATCH_BYTES ((size_t)32 << 20)
#endif
#ifndef CONV_SPLIT
#define CONV_SPLIT 2048 /* columns per batch of a split GEMM dimension */
#endif

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
    if (!clnn__cpu_path(node->ctx)) /* GPUs: im2col + GEMM (CLBlast) */
        return 0;
    if (rows)
        return rows;
    /* CPUs, 3x3 stride-1 layers with 64+ channels on both sides and 8x8+ outputs: Winograd
     * (forward and data gradient; 1.3-2x faster than conv_direct). Then layers with at most 64
     * outputs per channel and sample (4x4 and 8x8 maps, strided layers down to them): im2col +
     * GEMM, as conv_direct's work-items get too few pixels there (1.3-4x). Measured with
     * clnn-bench --tune=conv on POCL, ResNet-18 at batch 16: with these rules the tuner still
     * found nothing faster (1.00x) where it had found 1.72x (docs/benchmarks.md). */
    const int P = p->OH * p->OW;
    if (valid[4] && p->C / p->groups >= 64 && p->K / p->groups >= 64 && P >= 64)
        return 4;
    if (P <= 64)
        return 0;
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
    return 2 * co >= (int)round32((size_t)co) && taps > 1 && ci * taps >= 64;
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
clnn_status clnn__conv_chunk_samples(const clnn_tensor *node, int N, size_t per, size_t fixed,
                                     int *nc)
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
    (void)clnn__conv_chunk_samples(
        node, N, ((size_t)p->C * p->R * p->S + (size_t)p->K) * p->OH * p->OW, 0, &plan.nc);
    plan.split = env_size("CLNN_CONV_SPLIT", CONV_SPLIT);
    /* CPUs: a work-item per row, the runtime groups them; GPUs: a work-item per element */
    plan.rows = clnn__cpu_path(node->ctx);
    if (!plan.rows) {
        plan.local[0] = 32;
        plan.local[1] = 2;
        plan.local[2] = 1;
    }
    plan.direct = direct_algo(node, p);
    return plan;
}

/* ---- helpers of every emitter (conv.h) ------------------------------------------------------ */
/* node->scratch with room for floats (made again if the plan grew, e.g. a tunable changed) */
clnn_status clnn__conv_scratch(clnn_tensor *node, size_t floats)
{
    return clnn__buffer_reserve(node->ctx, &node->scratch, floats * sizeof(float),
                                "the column buffer", node->name);
}

/* Sets arguments first .. first + n - 1 of k: CLNN__ARG pairs. */
clnn_status clnn__conv_set_args(clnn_ctx *ctx, cl_kernel k, const char *what, cl_uint first, int n,
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

/* y[i] (+)= sum over parts of scratch[op + b n + i], i < n; kernel slot 1 */
clnn_status clnn__conv_reduce(clnn_tensor *node, const conv_plan *plan, int n, int parts, int op,
                              int accumulate)
{
    cl_kernel k;
    int fresh, oy = (int)node->offset;
    clnn_status st = clnn__node_kernel(node, 1, "conv_reduce", &k, &fresh);
    if (!st)
        st = clnn__conv_set_args(node->ctx, k, "conv_reduce", 0, 7, CLNN__ARG(n), CLNN__ARG(parts),
                                 CLNN__ARG(accumulate), CLNN__ARG(node->scratch), CLNN__ARG(op),
                                 CLNN__ARG(node->storage->mem), CLNN__ARG(oy));
    if (st)
        return st;
    size_t global = (size_t)n, local[1] = {64};
    return clnn__enqueue(node, k, 1, &global, plan->rows ? NULL : local);
}

/* ---- emit: the plan's algorithm (conv_gemm.c, conv_kernels.c) ----------------------------------
 */
/* conv2d: x: (N, C, H, W), w: (K, C/G, R, S), b: (K) -> y: (N, K, OH, OW) */
static clnn_status emit_conv2d(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    conv_plan plan = conv_algo(y, p, (int)y->src[0]->shape[0]);
    if (plan.direct == 4)
        return clnn__conv_emit_winograd(y, 0);
    if (plan.direct == 3)
        return clnn__conv_emit_fwd_rows(y);
    if (plan.direct)
        return clnn__conv_emit_direct(y, 0);
    return clnn__conv_emit_gemm_conv2d(y, plan);
}

/* conv2d_transpose, conv2d_bwd_input: d: (N, K, OH, OW), w: (K, C/G, R, S), b: (C)
 * -> y: (N, C, H, W) */
static clnn_status emit_transpose(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    conv_plan plan = conv_algo(y, p, (int)y->src[0]->shape[0]);
    if (plan.direct == 4)
        return clnn__conv_emit_winograd(y, 1);
    if (plan.direct)
        return clnn__conv_emit_direct(y, 1);
    return clnn__conv_emit_gemm_transpose(y, plan);
}

/* conv2d_bwd_weight: x: (N, C, H, W), dy: (N, K, OH, OW) -> dw: (K, C/G, R, S) */
static clnn_status emit_bwd_weight(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    conv_plan plan = conv_algo(y, p, (int)y->src[0]->shape[0]);
    if (plan.direct == 2)
        return clnn__conv_emit_bwd_w_rows(y);
    if (plan.direct)
        return clnn__conv_emit_direct_bwd_w(y);
    return clnn__conv_emit_gemm_bwd_weight(y, plan);
}

/* ---- backward ------------------------------------------------------------------------------ */
/* A node of op on (a, b) with p's resolved geometry and no bias. */
static clnn_tensor *conv_node(clnn_graph *g, int op, clnn_tensor *a, clnn_tensor *b,
                              const conv_params *p)
{
    conv_params q = *p;
    q.has_bias = 0;
    q.act = CLNN_ACT_NONE;
    q.alpha = 0.0f;
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
 * fused activation dy is first masked or scaled by its derivative from the output
 * (clnn__act_bwd_from_output) */
static clnn_status backward_conv2d(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    clnn_tensor *x = y->src[0], *w = y->src[1];
    clnn_status st;
    if (!(dy = clnn__act_bwd_from_output(g, p->act, p->alpha, y, dy)))
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
    if (p->act != CLNN_ACT_NONE) /* the epilogue's activation, as matmul's */
        *flops += (p->act == CLNN_ACT_RELU ? 1.0 : 10.0) * (double)y->numel;
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

clnn_tensor *clnn__conv2d_act(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                              const clnn_conv2d_options *options, clnn_activation act, float alpha)
{
    if (!g || g->status)
        return NULL;
    if (!clnn__act_epilogue(act, alpha)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "conv2d: the epilogue takes no activation %d with alpha %g (none, relu, "
                         "sigmoid, tanh, or leaky_relu or elu with alpha >= 0)",
                         (int)act, (double)alpha);
        return NULL;
    }
    clnn_tensor *y = build(g, CLNN_OP_CONV2D, x, w, bias, options);
    if (y) {
        CLNN__PARAMS(y, conv_params)->act = act;
        CLNN__PARAMS(y, conv_params)->alpha = alpha;
    }
    return y;
}

clnn_tensor *clnn_conv2d_transpose(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                                   const clnn_conv2d_options *options)
{
    return build(g, CLNN_OP_CONV2D_TRANSPOSE, x, w, bias, options);
}
