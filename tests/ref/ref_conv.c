/* ref_conv.c — the references of ref_conv.h written from the definitions: conv2d as the sum of
 * every (channel, r, s) tap that lands inside the padded input; conv2d_transpose as the scatter
 * of every input pixel through the kernel (each input pixel adds w * x to the outputs it
 * reaches), cropped by the padding. Padding rules: PyTorch (explicit), Keras conv_utils
 * (valid / same; TensorFlow puts an odd extra row or column at the bottom / right). */
#include "ref/ref_conv.h"

/* conv2d: top padding and output size of one axis (0 when nothing fits) */
static int64_t conv_axis(int64_t in, int k, int stride, int dil, ref_padding mode, int pad,
                         int64_t *top)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1, lo = pad, hi = pad;
    if (mode == REF_PAD_VALID) {
        lo = hi = 0;
    } else if (mode == REF_PAD_SAME) {
        int64_t out = (in + stride - 1) / stride;
        int64_t total = (out - 1) * stride + ek - in;
        if (total < 0)
            total = 0;
        lo = total / 2;
        hi = total - lo;
    }
    *top = lo;
    if (in + lo + hi < ek)
        return 0;
    return (in + lo + hi - ek) / stride + 1;
}

static int cfg_ok(const ref_conv_cfg *c)
{
    return c->stride_h > 0 && c->stride_w > 0 && c->dil_h > 0 && c->dil_w > 0 && c->groups > 0 &&
           c->pad_h >= 0 && c->pad_w >= 0;
}

int ref_conv2d(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
               const double *b, const ref_shape *sb, const ref_conv_cfg *c, double *y,
               ref_shape *sy)
{
    if (!cfg_ok(c) || sx->ndim != 4 || sw->ndim != 4)
        return 0;
    int64_t N = sx->dims[0], C = sx->dims[1], H = sx->dims[2], W = sx->dims[3];
    int64_t K = sw->dims[0], Cg = sw->dims[1], R = sw->dims[2], S = sw->dims[3];
    int64_t G = c->groups, top, left;
    if (C % G || K % G || Cg != C / G || (b && (sb->ndim != 1 || sb->dims[0] != K)))
        return 0;
    int64_t OH = conv_axis(H, (int)R, c->stride_h, c->dil_h, c->padding, c->pad_h, &top);
    int64_t OW = conv_axis(W, (int)S, c->stride_w, c->dil_w, c->padding, c->pad_w, &left);
    if (OH < 1 || OW < 1)
        return 0;
    *sy = (ref_shape){4, {N, K, OH, OW}};
    if (!y)
        return 1;
    int64_t Kg = K / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? b[k] : 0.0;
                    int64_t g = k / Kg;
                    for (int64_t cg = 0; cg < Cg; cg++)
                        for (int64_t r = 0; r < R; r++)
                            for (int64_t s = 0; s < S; s++) {
                                int64_t ih = oh * c->stride_h - top + r * c->dil_h;
                                int64_t iw = ow * c->stride_w - left + s * c->dil_w;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                int64_t ci = g * Cg + cg;
                                acc += x[((n * C + ci) * H + ih) * W + iw] *
                                       w[((k * Cg + cg) * R + r) * S + s];
                            }
                    y[((n * K + k) * OH + oh) * OW + ow] = acc;
                }
    return 1;
}

/* conv2d_transpose: output size and top crop of one axis */
static int64_t transpose_axis(int64_t in, int k, int stride, int dil, ref_padding mode, int pad,
                              int opad, int64_t *top)
{
    int64_t ek = (int64_t)dil * (k - 1) + 1;
    int64_t over = ek > stride ? ek - stride : 0;
    switch (mode) {
    case REF_PAD_VALID: /* Keras deconv_output_length, output_padding None */
        *top = 0;
        return in * stride + over;
    case REF_PAD_SAME:
        *top = over / 2;
        return in * stride;
    default: /* PyTorch ConvTranspose2d */
        *top = pad;
        return (in - 1) * stride - 2 * (int64_t)pad + ek + opad;
    }
}

int ref_conv2d_transpose(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
                         const double *b, const ref_shape *sb, const ref_conv_cfg *c, double *y,
                         ref_shape *sy)
{
    if (!cfg_ok(c) || sx->ndim != 4 || sw->ndim != 4 || c->out_pad_h < 0 || c->out_pad_w < 0)
        return 0;
    int64_t N = sx->dims[0], C = sx->dims[1], H = sx->dims[2], W = sx->dims[3];
    int64_t Kg = sw->dims[1], R = sw->dims[2], S = sw->dims[3], G = c->groups, K = Kg * G;
    if (sw->dims[0] != C || C % G || (b && (sb->ndim != 1 || sb->dims[0] != K)))
        return 0;
    int64_t top, left;
    int64_t OH =
        transpose_axis(H, (int)R, c->stride_h, c->dil_h, c->padding, c->pad_h, c->out_pad_h, &top);
    int64_t OW =
        transpose_axis(W, (int)S, c->stride_w, c->dil_w, c->padding, c->pad_w, c->out_pad_w, &left);
    if (OH < 1 || OW < 1)
        return 0;
    *sy = (ref_shape){4, {N, K, OH, OW}};
    if (!y)
        return 1;
    int64_t Cg = C / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < OH * OW; i++)
                y[(n * K + k) * OH * OW + i] = b ? b[k] : 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++) {
                    double v = x[((n * C + ci) * H + ih) * W + iw];
                    int64_t g = ci / Cg;
                    for (int64_t kg = 0; kg < Kg; kg++)
                        for (int64_t r = 0; r < R; r++)
                            for (int64_t s = 0; s < S; s++) {
                                int64_t oh = ih * c->stride_h - top + r * c->dil_h;
                                int64_t ow = iw * c->stride_w - left + s * c->dil_w;
                                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW)
                                    continue;
                                int64_t k = g * Kg + kg;
                                y[((n * K + k) * OH + oh) * OW + ow] +=
                                    v * w[((ci * Kg + kg) * R + r) * S + s];
                            }
                }
    return 1;
}
