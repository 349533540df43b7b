/* conv_kernels.c — the emitters of the convolution algorithms with kernels of their own
 * (clnn__conv_algos 1 .. 4): conv_direct (conv2d; the data gradient of a stride-1 convolution
 * with flipped weights) and conv_direct_bwd_w (every weight gradient) with their packing kernels
 * conv_pack_w and conv_dy_t; the row kernels conv_fwd_rows and conv_bwd_w_rows (stride-1 layers
 * with few taps); Winograd F(2x2, 3x3) (kernels/winograd.cl, transforms around 16 batched GEMMs);
 * and their helpers: zero padding of the input (conv_pad) so that no kernel checks bounds, the
 * work-groups of a CPU device, the sample ranges of a weight gradient whose partial sums
 * conv_reduce adds up. Not here: the params, shapes, choice of algorithm and the helpers every
 * emitter shares (op_conv.c, conv.h), im2col + GEMM (conv_gemm.c), the kernels themselves
 * (kernels/conv.cl, kernels/winograd.cl). */
#include <limits.h>

#include "conv.h"

/* ---- direct kernels (kernels/conv.cl: conv_pack_w, conv_direct, conv_dy_t, conv_direct_bwd_w) */
#define DIRECT_DT 8 /* pixels per work-item, CONV_DT of conv.cl */

/* The largest work-group of the direct and Winograd kernels on a CPU. POCL runs a work-group's
 * work-items in one function whose frame holds every item's private arrays: 4,000 items of
 * winograd_input (about 2 KiB each) overflowed its 8 MiB thread stack and crashed, where
 * leaving the size to POCL (NULL) picked 4,096. */
#define CPU_LOCAL_MAX 1024

/* The work-group of a direct kernel on a CPU: the whole first dimension when it fits (few, large
 * work-groups: POCL runs each as one task), else that dimension split evenly into groups of at
 * most CPU_LOCAL_MAX (the kernels return past its end); GPUs: the runtime's choice (NULL). */
static const size_t *direct_local(const clnn_tensor *node, size_t first, size_t *local)
{
    size_t max = node->ctx->info.max_work_group_size;
    if (!clnn__cpu_path(node->ctx) || !max)
        return NULL;
    max = max < CPU_LOCAL_MAX ? max : CPU_LOCAL_MAX;
    size_t groups = (first + max - 1) / max;
    local[0] = first ? (first + groups - 1) / groups : 1;
    local[1] = local[2] = 1;
    return local;
}

/* The scratch of a direct weight gradient: total floats, below 2^31 (the kernels index with
 * int); none when total is 0. */
static clnn_status bwd_w_scratch(clnn_tensor *y, size_t total)
{
    if (total >= INT_MAX)
        return clnn__fail(y->ctx, CLNN_ERR_UNSUPPORTED,
                          "conv2d_bwd_weight '%s': a scratch buffer of %zu floats exceeds 2^31 "
                          "(kernels index with int)",
                          y->name, total);
    return total ? clnn__conv_scratch(y, total) : CLNN_OK;
}

/* Sample ranges (`parts`) of a direct weight gradient: enough work-items for every compute unit,
 * and on CPUs ranges small enough (about 512 KiB of x and dy) that one part's data stays in the
 * cache while every work-item of the part (one work-group: part_local) runs over it. */
static int bw_parts(const clnn_tensor *y, size_t items, size_t sample_floats, int nc)
{
    size_t want = 8 * (size_t)(y->ctx->info.compute_units ? y->ctx->info.compute_units : 1);
    size_t parts = (want + items - 1) / items;
    if (clnn__cpu_path(y->ctx)) {
        size_t per = ((size_t)512 << 10) / (sample_floats * sizeof(float) + 1);
        per = per < 1 ? 1 : per;
        size_t by_cache = ((size_t)nc + per - 1) / per;
        parts = by_cache > parts ? by_cache : parts;
    }
    return parts < 1 ? 1 : parts > (size_t)nc ? nc : (int)parts;
}

/* The work-group of a direct weight-gradient kernel on a CPU: every work-item of one part, up to
 * the device's maximum (one group per part keeps the part's data in one core's cache; these
 * kernels have run groups of 2,304 items in ResNet-18 with no trouble), else the runtime's
 * choice. */
static const size_t *part_local(const clnn_tensor *y, const size_t *global, size_t *local)
{
    size_t max = y->ctx->info.max_work_group_size;
    if (!clnn__cpu_path(y->ctx) || !max || global[0] * global[1] > max)
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
        st = clnn__conv_set_args(y->ctx, k, "conv_pad", 0, 11, CLNN__ARG(IH), CLNN__ARG(IW),
                                 CLNN__ARG(g->pt), CLNN__ARG(g->pl), CLNN__ARG(g->PH),
                                 CLNN__ARG(g->PW), CLNN__ARG(nc), CLNN__ARG(*in), CLNN__ARG(*oin),
                                 CLNN__ARG(y->scratch), CLNN__ARG(oout));
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
    conv_plan plan = {.rows = clnn__cpu_path(y->ctx)};
    return clnn__conv_reduce(y, &plan, (int)y->numel, (int)global[2], (int)part_off, accumulate);
}

/* conv2d (flip = 0): in = x, out = y; conv2d_transpose / bwd_input with stride 1 (flip = 1):
 * in = dy, out = dx, the flipped kernel and pad (R - 1) dil - pad. scratch: the packed weights,
 * then, for a convolution with padding, chunks of samples of `in` padded with zeros (conv_pad) so
 * that conv_direct never checks bounds. */
clnn_status clnn__conv_emit_direct(clnn_tensor *y, int flip)
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
    int zero = 0, has_bias = (b != NULL) | (flip ? 0 : p->act << 1);
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    int Cin = G * Ci, Cout = G * Co, P = OH * OW;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    size_t rows = (size_t)Ci * p->R * p->S, wt = (size_t)G * rows * Cop;
    size_t sample = (size_t)Cin * PH * PW; /* floats of one padded sample */
    int nc;
    clnn_status st = clnn__conv_chunk_samples(y, N, padded ? sample : 0, wt, &nc);
    if (st)
        return st;
    st = clnn__conv_scratch(y, wt + (padded ? (size_t)nc * sample : 0));
    cl_kernel k;
    int fresh;
    if (!st)
        st = clnn__node_kernel(y, 3, "conv_pack_w", &k, &fresh);
    if (!st)
        st = clnn__conv_set_args(y->ctx, k, "conv_pack_w", 0, 10, CLNN__ARG(Kg), CLNN__ARG(Cg),
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
            (st = clnn__conv_set_args(
                 y->ctx, k, "conv_direct", 0, 27, CLNN__ARG(Ci), CLNN__ARG(pih), CLNN__ARG(piw),
                 CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(OH), CLNN__ARG(OW), CLNN__ARG(sh),
                 CLNN__ARG(sw), CLNN__ARG(ih), CLNN__ARG(iw), CLNN__ARG(p->dil_h),
                 CLNN__ARG(p->dil_w), CLNN__ARG(m), CLNN__ARG(G), CLNN__ARG(Co), CLNN__ARG(Cop),
                 CLNN__ARG(src), CLNN__ARG(oin), CLNN__ARG(y->scratch), CLNN__ARG(zero),
                 CLNN__ARG(y->storage->mem), CLNN__ARG(oout), CLNN__ARG(bmem), CLNN__ARG(ob),
                 CLNN__ARG(has_bias), CLNN__ARG(p->alpha))))
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
clnn_status clnn__conv_emit_direct_bwd_w(clnn_tensor *y)
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
    clnn_status st = clnn__conv_chunk_samples(y, N, row + xs, 0, &nc);
    if (st)
        return st;
    int chunks = (N + nc - 1) / nc;
    size_t items = (size_t)((CRS + DIRECT_DT - 1) / DIRECT_DT) * G * (Kgp / 32);
    int parts = bw_parts(y, items, row + (size_t)p->C * PH * PW, nc);
    int direct_write = parts == 1 && chunks == 1;
    size_t xoff = (size_t)nc * row, part_off = xoff + (size_t)nc * xs;
    size_t total = part_off + (direct_write ? 0 : (size_t)parts * y->numel);
    st = bwd_w_scratch(y, total);
    for (int n0 = 0; !st && n0 < N; n0 += nc) {
        int m = N - n0 < nc ? N - n0 : nc, popt = direct_write ? (int)y->offset : (int)part_off;
        int mparts = parts > m ? m : parts, mc = m * p->C;
        int ox = (int)(x->offset + (size_t)n0 * p->C * p->H * p->W), oxp = (int)xoff;
        cl_mem pmem = direct_write ? y->storage->mem : y->scratch, xmem = x->storage->mem;
        cl_kernel k;
        int fresh;
        if ((st = clnn__node_kernel(y, 3, "conv_dy_t", &k, &fresh)) ||
            (st = clnn__conv_set_args(y->ctx, k, "conv_dy_t", 0, 10, CLNN__ARG(P), CLNN__ARG(G),
                                      CLNN__ARG(Kg), CLNN__ARG(Kgp), CLNN__ARG(n0), CLNN__ARG(m),
                                      CLNN__ARG(d->storage->mem), CLNN__ARG(od),
                                      CLNN__ARG(y->scratch), CLNN__ARG(zero))) ||
            (st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)P, (size_t)m}, NULL)))
            break;
        if ((st = run_pad(y, &pg, p->H, p->W, mc, &xmem, &ox, oxp)))
            break;
        int xh = padded ? PH : p->H, xw = padded ? PW : p->W;
        if ((st = clnn__node_kernel(y, 4, "conv_direct_bwd_w", &k, &fresh)) ||
            (st = clnn__conv_set_args(
                 y->ctx, k, "conv_direct_bwd_w", 0, 22, CLNN__ARG(Cg), CLNN__ARG(xh), CLNN__ARG(xw),
                 CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH), CLNN__ARG(p->OW),
                 CLNN__ARG(p->stride_h), CLNN__ARG(p->stride_w), CLNN__ARG(p->dil_h),
                 CLNN__ARG(p->dil_w), CLNN__ARG(G), CLNN__ARG(Kg), CLNN__ARG(Kgp), CLNN__ARG(m),
                 CLNN__ARG(mparts), CLNN__ARG(xmem), CLNN__ARG(ox), CLNN__ARG(y->scratch),
                 CLNN__ARG(zero), CLNN__ARG(pmem), CLNN__ARG(popt))))
            break;
        size_t global[3] = {(size_t)(CRS + DIRECT_DT - 1) / DIRECT_DT, (size_t)G * (Kgp / 32),
                            (size_t)mparts};
        st = run_parts(y, k, global, direct_write, part_off, n0 > 0);
    }
    return st;
}

/* conv2d_bwd_weight of a stride-1 convolution with few taps (op_conv.c's direct_algo), per chunk of
 * samples: x padded where the convolution has padding (conv_pad), then conv_bwd_w_rows into `parts`
 * partial sums over sample ranges that conv_reduce adds to dw (written directly when one part
 * and one chunk). scratch: the padded x (nc C PH PW), the partial sums. */
#define ROWS_BT 9 /* CONV_BT, CONV_BK of conv.cl */
#define ROWS_BK 2
clnn_status clnn__conv_emit_bwd_w_rows(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *d = y->src[1];
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)x->shape[0];
    const pad_geom pg = pad_geometry(p, p->H, p->W, p->OH, p->OW, 1, 1, p->pad_h, p->pad_w);
    int padded = pg.padded;
    int PH = pg.PH, PW = pg.PW, CRS = Cg * p->R * p->S;
    size_t xs = padded ? (size_t)p->C * PH * PW : 0;
    int nc;
    clnn_status st = clnn__conv_chunk_samples(y, N, xs, 0, &nc);
    if (st)
        return st;
    int chunks = (N + nc - 1) / nc;
    size_t items = (size_t)((CRS + ROWS_BT - 1) / ROWS_BT) * G * ((Kg + ROWS_BK - 1) / ROWS_BK);
    int parts = bw_parts(y, items, (size_t)p->K * p->OH * p->OW + (size_t)p->C * PH * PW, nc);
    int direct_write = parts == 1 && chunks == 1;
    size_t part_off = (size_t)nc * xs;
    size_t total = part_off + (direct_write ? 0 : (size_t)parts * y->numel);
    st = bwd_w_scratch(y, total);
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
            (st = clnn__conv_set_args(
                 y->ctx, k, "conv_bwd_w_rows", 0, 19, CLNN__ARG(Cg), CLNN__ARG(xh), CLNN__ARG(PW),
                 CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH), CLNN__ARG(p->OW),
                 CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w), CLNN__ARG(G), CLNN__ARG(Kg),
                 CLNN__ARG(m), CLNN__ARG(mparts), CLNN__ARG(xmem), CLNN__ARG(ox),
                 CLNN__ARG(d->storage->mem), CLNN__ARG(od), CLNN__ARG(pmem), CLNN__ARG(popt))))
            break;
        size_t global[3] = {(size_t)(CRS + ROWS_BT - 1) / ROWS_BT,
                            (size_t)G * ((Kg + ROWS_BK - 1) / ROWS_BK), (size_t)mparts};
        st = run_parts(y, k, global, direct_write, part_off, n0 > 0);
    }
    return st;
}

/* conv2d of a stride-1 convolution with few taps (op_conv.c's direct_algo): x padded where the
 * convolution pads (conv_pad, in chunks of samples in scratch), then conv_fwd_rows writes y (+
 * bias). */
#define ROWS_FK 8 /* CONV_FK of conv.cl */
clnn_status clnn__conv_emit_fwd_rows(clnn_tensor *y)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int G = p->groups, Kg = p->K / G, Cg = p->C / G, N = (int)x->shape[0];
    const pad_geom pg = pad_geometry(p, p->H, p->W, p->OH, p->OW, 1, 1, p->pad_h, p->pad_w);
    int padded = pg.padded;
    int PH = pg.PH, PW = pg.PW, has_bias = (b != NULL) | (p->act << 1);
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    size_t xs = (size_t)p->C * PH * PW;
    int nc;
    clnn_status st = clnn__conv_chunk_samples(y, N, padded ? xs : 0, 0, &nc);
    if (st)
        return st;
    st = padded ? clnn__conv_scratch(y, (size_t)nc * xs) : CLNN_OK;
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
            (st = clnn__conv_set_args(
                 y->ctx, k, "conv_fwd_rows", 0, 22, CLNN__ARG(Cg), CLNN__ARG(xh), CLNN__ARG(xw),
                 CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH), CLNN__ARG(p->OW),
                 CLNN__ARG(p->dil_h), CLNN__ARG(p->dil_w), CLNN__ARG(m), CLNN__ARG(G),
                 CLNN__ARG(Kg), CLNN__ARG(xmem), CLNN__ARG(ox), CLNN__ARG(w->storage->mem),
                 CLNN__ARG(ow), CLNN__ARG(y->storage->mem), CLNN__ARG(oy), CLNN__ARG(bmem),
                 CLNN__ARG(ob), CLNN__ARG(has_bias), CLNN__ARG(p->alpha))))
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
 * (+ bias, activation). V and M (4x the output each) of a whole batch stream through memory three
 * times, which on a CPU costs about as much as the GEMMs; blocks of a few MiB
 * ($CLNN_WINO_BLOCK_BYTES, WINO_BLOCK_BYTES by default) stay nearer the cache, smaller ones pay
 * more in kernel launches (three per block; on POCL ~0.1 ms each) than they save. scratch: U
 * (16 Co Ci), V and M of a block (16 (Ci + Co) rows TW), the padded input of a chunk (Ci PH PW
 * per sample). Measured with clnn-bench conv on POCL (2 cores): slower than conv_direct on every
 * 3x3 layer of the reference models (1.3-2.3x), so no device takes it by default. */
clnn_status clnn__conv_emit_winograd(clnn_tensor *y, int flip)
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
    int has_bias = (b != NULL) | (flip ? 0 : p->act << 1), zero = 0;
    int ow = (int)w->offset, ob = b ? (int)b->offset : 0;
    cl_mem bmem = b ? b->storage->mem : y->storage->mem;
    /* tile rows per block: V and M within the block budget, at least one */
    size_t row_floats = (size_t)16 * (Ci + Co) * TW;
    size_t rb = env_size("CLNN_WINO_BLOCK_BYTES", WINO_BLOCK_BYTES) / sizeof(float) / row_floats;
    rb = rb < 1 ? 1 : rb > (size_t)N * TH ? (size_t)N * TH : rb;
    size_t u = (size_t)16 * Co * Ci, ov = u, om = ov + (size_t)16 * Ci * rb * TW;
    size_t ox = om + (size_t)16 * Co * rb * TW, xs = pg.padded ? (size_t)Ci * pg.PH * pg.PW : 0;
    int nc;
    clnn_status st = clnn__conv_chunk_samples(y, N, xs, ox, &nc);
    if (st)
        return st;
    if (ox + (size_t)nc * xs >= INT_MAX) /* per = 0: clnn__conv_chunk_samples did not look at ox */
        return clnn__fail(y->ctx, CLNN_ERR_UNSUPPORTED,
                          "%s '%s': the Winograd scratch of %zu floats exceeds 2^31 (kernels "
                          "index with int)",
                          clnn__ops[y->op]->name, y->name, ox + (size_t)nc * xs);
    st = clnn__conv_scratch(y, ox + (size_t)nc * xs);
    cl_kernel k;
    if (!st)
        st = wino_kernel(y, 0, "winograd_weights", &k);
    if (!st)
        st = clnn__conv_set_args(y->ctx, k, "winograd_weights", 0, 7, CLNN__ARG(Co), CLNN__ARG(Ci),
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
                (st = clnn__conv_set_args(y->ctx, k, "winograd_input", 0, 9, CLNN__ARG(Ci),
                                          CLNN__ARG(TH), CLNN__ARG(TW), CLNN__ARG(row0),
                                          CLNN__ARG(rows), CLNN__ARG(src), CLNN__ARG(oin),
                                          CLNN__ARG(y->scratch), CLNN__ARG(iov))) ||
                (st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)rows, (size_t)Ci},
                                    direct_local(y, (size_t)rows, local))) ||
                (st = clnn__gemm(y->ctx, y, &g)) ||
                (st = wino_kernel(y, 2, "winograd_output", &k)) ||
                (st = clnn__conv_set_args(
                     y->ctx, k, "winograd_output", 0, 15, CLNN__ARG(Co), CLNN__ARG(OH),
                     CLNN__ARG(OW), CLNN__ARG(TH), CLNN__ARG(TW), CLNN__ARG(row0), CLNN__ARG(rows),
                     CLNN__ARG(y->scratch), CLNN__ARG(iom), CLNN__ARG(y->storage->mem),
                     CLNN__ARG(oout), CLNN__ARG(bmem), CLNN__ARG(ob), CLNN__ARG(has_bias),
                     CLNN__ARG(p->alpha))))
                break;
            st = clnn__enqueue(y, k, 2, (size_t[]){(size_t)rows, (size_t)Co},
                               direct_local(y, (size_t)rows, local));
        }
    }
    return st;
}
