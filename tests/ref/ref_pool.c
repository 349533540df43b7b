/* ref_pool.c — the naive double-precision references of ref_pool.h. A window is walked over all
 * kernel_h x kernel_w positions in padded coordinates and each position is classified: inside
 * the input (read), inside the padding (counted by count_include_pad), or beyond the padded input
 * (a ceil_mode overhang, never counted). The output size follows PyTorch's documented formula
 * (floor or ceil, and a ceil window may not start in the right padding) and TensorFlow's for
 * "same". No OpenCL, no clnn calls. */
#include "ref/ref_pool.h"

#include <math.h>

/* Window geometry of one axis: output count and padding before/after (0 when invalid). */
static int64_t axis_geometry(int64_t in, int k, int s, int pad, int mode, int ceil_mode,
                             int64_t *before, int64_t *after)
{
    if (mode == 2) { /* same: out = ceil(in / s), the odd padding element after */
        int64_t out = (in + s - 1) / s, total = (out - 1) * s + k - in;
        if (total < 0)
            total = 0;
        *before = total / 2;
        *after = total - total / 2;
        return out;
    }
    if (mode == 1)
        pad = 0;
    *before = *after = pad;
    int64_t span = in + 2 * pad - k;
    if (span < 0)
        return 0;
    int64_t out = span / s + 1;
    if (ceil_mode) {
        out = (span + s - 1) / s + 1;
        if ((out - 1) * s >= in + pad) /* the last window would start in the right padding */
            out--;
    }
    return out;
}

typedef struct geometry {
    int64_t N, C, H, W, OH, OW, top, left, bottom, right;
    int kh, kw, sh, sw;
} geometry;

static int pool_geometry(const ref_shape *sx, const ref_pool2d *p, geometry *g)
{
    if (sx->ndim != 4 || p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 0 || p->stride_w < 0 ||
        p->pad_h < 0 || p->pad_w < 0 || p->padding < 0 || p->padding > 2)
        return 0;
    if (p->padding != 0 && (p->pad_h || p->pad_w))
        return 0;
    if (p->padding == 2 && p->ceil_mode)
        return 0;
    if (2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
        return 0;
    g->N = sx->dims[0];
    g->C = sx->dims[1];
    g->H = sx->dims[2];
    g->W = sx->dims[3];
    g->kh = p->kernel_h;
    g->kw = p->kernel_w;
    g->sh = p->stride_h ? p->stride_h : p->kernel_h;
    g->sw = p->stride_w ? p->stride_w : p->kernel_w;
    g->OH =
        axis_geometry(g->H, g->kh, g->sh, p->pad_h, p->padding, p->ceil_mode, &g->top, &g->bottom);
    g->OW =
        axis_geometry(g->W, g->kw, g->sw, p->pad_w, p->padding, p->ceil_mode, &g->left, &g->right);
    return g->OH >= 1 && g->OW >= 1;
}

static void out_shape(const geometry *g, ref_shape *sy)
{
    *sy = (ref_shape){4, {g->N, g->C, g->OH, g->OW}};
}

/* Where window (oh, ow) position (i, j) falls: 1 input, 0 padding, -1 beyond the padded input.
 * *at receives the input offset within the plane when 1. */
static int classify(const geometry *g, int64_t oh, int64_t ow, int i, int j, int64_t *at)
{
    int64_t h = oh * g->sh - g->top + i, w = ow * g->sw - g->left + j;
    if (h >= 0 && h < g->H && w >= 0 && w < g->W) {
        *at = h * g->W + w;
        return 1;
    }
    if (h >= -g->top && h < g->H + g->bottom && w >= -g->left && w < g->W + g->right)
        return 0;
    return -1;
}

/* The first maximum of window (oh, ow) of plane x (its offset), or -1 if the window reads no
 * input element. */
static int64_t window_argmax(const geometry *g, const double *x, int64_t oh, int64_t ow)
{
    int64_t best = -1, at;
    for (int i = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++)
            if (classify(g, oh, ow, i, j, &at) == 1 && (best < 0 || x[at] > x[best]))
                best = at;
    return best;
}

// x: (N, C, H, W) -> y: (N, C, OH, OW)
int ref_maxpool2d(const double *x, const ref_shape *sx, const ref_pool2d *p, double *y,
                  ref_shape *sy)
{
    geometry g;
    if (!pool_geometry(sx, p, &g))
        return 0;
    out_shape(&g, sy);
    for (int64_t nc = 0; y && nc < g.N * g.C; nc++) {
        const double *plane = x + nc * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t best = window_argmax(&g, plane, oh, ow);
                y[(nc * g.OH + oh) * g.OW + ow] = best < 0 ? -INFINITY : plane[best];
            }
    }
    return 1;
}

// x: (N, C, H, W), dy: (N, C, OH, OW) -> dx: (N, C, H, W)
int ref_maxpool2d_backward(const double *x, const ref_shape *sx, const ref_pool2d *p,
                           const double *dy, double *dx)
{
    geometry g;
    if (!pool_geometry(sx, p, &g))
        return 0;
    for (int64_t i = 0; i < ref_numel(sx); i++)
        dx[i] = 0.0;
    for (int64_t nc = 0; nc < g.N * g.C; nc++) {
        const double *plane = x + nc * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                int64_t best = window_argmax(&g, plane, oh, ow);
                if (best >= 0)
                    dx[nc * g.H * g.W + best] += dy[(nc * g.OH + oh) * g.OW + ow];
            }
    }
    return 1;
}

// x: (N, C, H, W) -> y: (N, C, OH, OW)
int ref_avgpool2d(const double *x, const ref_shape *sx, const ref_pool2d *p, double *y,
                  ref_shape *sy)
{
    geometry g;
    if (!pool_geometry(sx, p, &g))
        return 0;
    out_shape(&g, sy);
    int include = p->padding != 2 && p->count_include_pad;
    for (int64_t nc = 0; y && nc < g.N * g.C; nc++) {
        const double *plane = x + nc * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) {
                double sum = 0.0;
                int64_t count = 0, at;
                for (int i = 0; i < g.kh; i++)
                    for (int j = 0; j < g.kw; j++) {
                        int where = classify(&g, oh, ow, i, j, &at);
                        if (where == 1)
                            sum += plane[at];
                        count += where == 1 || (where == 0 && include);
                    }
                y[(nc * g.OH + oh) * g.OW + ow] = count ? sum / (double)count : 0.0;
            }
    }
    return 1;
}

// x: (N, C, H, W) -> y: (N, C)
int ref_global_avgpool2d(const double *x, const ref_shape *sx, double *y, ref_shape *sy)
{
    if (sx->ndim != 4)
        return 0;
    *sy = (ref_shape){2, {sx->dims[0], sx->dims[1]}};
    int64_t planes = sx->dims[0] * sx->dims[1], hw = sx->dims[2] * sx->dims[3];
    for (int64_t nc = 0; y && nc < planes; nc++) {
        double sum = 0.0;
        for (int64_t i = 0; i < hw; i++)
            sum += x[nc * hw + i];
        y[nc] = sum / (double)hw;
    }
    return 1;
}

// x: (N, C, H, W) -> y: (N, C, H sh, W sw)
int ref_upsample_nearest(const double *x, const ref_shape *sx, int sh, int sw, double *y,
                         ref_shape *sy)
{
    if (sx->ndim != 4 || sh < 1 || sw < 1)
        return 0;
    int64_t H = sx->dims[2], W = sx->dims[3], OH = H * sh, OW = W * sw;
    *sy = (ref_shape){4, {sx->dims[0], sx->dims[1], OH, OW}};
    for (int64_t nc = 0; y && nc < sx->dims[0] * sx->dims[1]; nc++)
        for (int64_t h = 0; h < OH; h++)
            for (int64_t w = 0; w < OW; w++)
                y[(nc * OH + h) * OW + w] = x[(nc * H + h / sh) * W + w / sw];
    return 1;
}
