// conv.cl — the data-movement kernels of the im2col convolutions (src/ops/op_conv.c); the
// arithmetic is CLBlast GEMMs. Names: the "big" side of a convolution is its input x: (N, C, H, W),
// the "small" side its output y: (N, K, OH, OW), the kernel is R x S. Samples are processed in
// chunks [n0, n0 + nc) whose columns sit side by side ("wide" layout):
//   col: (C R S, nc OH OW), row (c, r, s), column (n, oh, ow)
//   im2col   x -> col            (conv2d forward)
//   im2row   x -> colT: (nc OH OW, C R S), the transposed layout (weight gradient: an NN GEMM)
//   col2im   col -> x, a GATHER: every x pixel sums the column entries that read it (input
//            gradient, conv2d_transpose); no scatter, no atomics
//   swap     (A, B, P) -> (B, A, P) (+ bias): wide GEMM results <-> NCHW
//   reduce   sums the partial products of a GEMM split along its inner dimension
// Every kernel takes `span`: the number of consecutive dim-0 elements one work-item handles (1 on
// GPUs: neighbouring work-items touch neighbouring addresses; a whole row on CPUs: no index
// arithmetic per element, and few work-items). Ranges are rounded up by the host: kernels guard.

// The geometry every kernel receives first.
#define CONV_GEOMETRY                                                                              \
    const int C, const int H, const int W, const int R, const int S, const int OH, const int OW,   \
        const int stride_h, const int stride_w, const int pad_h, const int pad_w, const int dil_h, \
        const int dil_w

// x: (N, C, H, W) -> col: (C R S, nc OH OW) for samples [n0, n0 + nc):
// col[(c, r, s), (n, oh, ow)] = x[n0 + n, c, oh stride_h - pad_h + r dil_h,
//                                 ow stride_w - pad_w + s dil_w]   (0 outside x).
// Range: (ceil(OW / span), OH, C R S nc), z = (c R S + r S + s) nc + n.
__kernel void conv_im2col(CONV_GEOMETRY, const int n0, const int nc, const int span,
                          __global const float *x, const int ox, __global float *col,
                          const int ocol)
{
    const int ow0 = get_global_id(0) * span, oh = get_global_id(1), z = get_global_id(2);
    if (ow0 >= OW || oh >= OH || z >= C * R * S * nc)
        return;
    const int row = z / nc, n = z - row * nc;
    const int c = row / (R * S), rs = row - c * (R * S), r = rs / S, s = rs - r * S;
    const int ih = oh * stride_h - pad_h + r * dil_h;
    const int ow1 = min(OW, ow0 + span);
    __global float *dst = col + ocol + (row * nc + n) * (OH * OW) + oh * OW;
    if (ih < 0 || ih >= H) {
        for (int ow = ow0; ow < ow1; ow++)
            dst[ow] = 0.0f;
        return;
    }
    __global const float *src = x + ox + ((n0 + n) * C + c) * H * W + ih * W;
    for (int ow = ow0; ow < ow1; ow++) {
        const int iw = ow * stride_w - pad_w + s * dil_w;
        float v = 0.0f;
        if (iw >= 0 && iw < W)
            v = src[iw];
        dst[ow] = v;
    }
}

// x: (N, C, H, W) -> colT: (nc OH OW, C R S) for samples [n0, n0 + nc): the transpose of
// conv_im2col's col, colT[(n, oh, ow), (c, r, s)] = col[(c, r, s), (n, oh, ow)]. A work-item
// writes whole rows of colT (C R S contiguous floats per output pixel).
// Range: (ceil(OW / span), OH, nc).
__kernel void conv_im2row(CONV_GEOMETRY, const int n0, const int nc, const int span,
                          __global const float *x, const int ox, __global float *colT,
                          const int ocol)
{
    const int ow0 = get_global_id(0) * span, oh = get_global_id(1), n = get_global_id(2);
    if (ow0 >= OW || oh >= OH || n >= nc)
        return;
    const int CRS = C * R * S, ow1 = min(OW, ow0 + span);
    __global const float *src = x + ox + (n0 + n) * C * H * W;
    for (int ow = ow0; ow < ow1; ow++) {
        __global float *dst = colT + ocol + ((n * OH + oh) * OW + ow) * CRS;
        for (int c = 0; c < C; c++)
            for (int r = 0; r < R; r++) {
                const int ih = oh * stride_h - pad_h + r * dil_h;
                const int inside = ih >= 0 && ih < H;
                for (int s = 0; s < S; s++) {
                    const int iw = ow * stride_w - pad_w + s * dil_w;
                    float v = 0.0f;
                    if (inside && iw >= 0 && iw < W)
                        v = src[(c * H + ih) * W + iw];
                    *dst++ = v;
                }
            }
    }
}

// col: (C R S, nc OH OW) -> x: (N, C, H, W) for samples [n0, n0 + nc):
// x[n0 + n, c, ih, iw] = sum over (r, s) of col[(c, r, s), (n, oh, ow)] where
// oh stride_h - pad_h + r dil_h = ih and ow stride_w - pad_w + s dil_w = iw, (+ bias[c]).
// Range: (ceil(W / span), H, nc C), z = n C + c.
__kernel void conv_col2im(CONV_GEOMETRY, const int n0, const int nc, const int span,
                          __global const float *col, const int ocol, __global float *x,
                          const int ox, __global const float *bias, const int obias,
                          const int has_bias)
{
    const int iw0 = get_global_id(0) * span, ih = get_global_id(1), z = get_global_id(2);
    if (iw0 >= W || ih >= H || z >= nc * C)
        return;
    const int n = z / C, c = z - n * C;
    const int P = OH * OW, L = nc * P;
    const float b = has_bias ? bias[obias + c] : 0.0f;
    __global const float *src = col + ocol + c * R * S * L + n * P;
    __global float *dst = x + ox + ((n0 + n) * C + c) * H * W + ih * W;
    const int iw1 = min(W, iw0 + span);
    if (stride_h == 1 && stride_w == 1) { // the common case, without divisions
        for (int iw = iw0; iw < iw1; iw++) {
            float acc = b;
            for (int r = 0; r < R; r++) {
                const int oh = ih + pad_h - r * dil_h;
                if (oh < 0)
                    break;
                if (oh >= OH)
                    continue;
                for (int s = 0; s < S; s++) {
                    const int ow = iw + pad_w - s * dil_w;
                    if (ow < 0)
                        break;
                    if (ow < OW)
                        acc += src[(r * S + s) * L + oh * OW + ow];
                }
            }
            dst[iw] = acc;
        }
        return;
    }
    for (int iw = iw0; iw < iw1; iw++) {
        float acc = b;
        for (int r = 0; r < R; r++) {
            const int th = ih + pad_h - r * dil_h; // = oh stride_h
            if (th < 0)
                break;
            const int oh = th / stride_h;
            if (oh * stride_h != th || oh >= OH)
                continue;
            for (int s = 0; s < S; s++) {
                const int tw = iw + pad_w - s * dil_w; // = ow stride_w
                if (tw < 0)
                    break;
                const int ow = tw / stride_w;
                if (ow * stride_w != tw || ow >= OW)
                    continue;
                acc += src[(r * S + s) * L + oh * OW + ow];
            }
        }
        dst[iw] = acc;
    }
}

// The epilogue of a forward convolution: has_bias bit 0 adds the bias, bits 1.. are the activation
// applied after it (a clnn_activation: ReLU, leaky ReLU, ELU, sigmoid or tanh with its alpha
// act_alpha, CLNN_EPI_ACT of common.cl, the formulas of bias_act), so conv2d nodes built with a
// fused activation need no bias_act pass.

// x: (A, B, P) -> y: (B, A, P): y[b, a, p] = x[a, b, p] (+ bias[a] when has_bias & 1, then the
// activation has_bias >> 1).
// Range: (ceil(P / span), B A), z = b A + a.
__kernel void conv_swap(const int A, const int B, const int P, const int span,
                        __global const float *x, const int ox, __global float *y, const int oy,
                        __global const float *bias, const int obias, const int has_bias,
                        const float act_alpha)
{
    const int p0 = get_global_id(0) * span, z = get_global_id(1);
    if (p0 >= P || z >= A * B)
        return;
    const int b = z / A, a = z - b * A;
    const float add = has_bias & 1 ? bias[obias + a] : 0.0f;
    __global const float *src = x + ox + (a * B + b) * P;
    __global float *dst = y + oy + z * P;
    const int p1 = min(P, p0 + span), act = has_bias >> 1;
    if (act)
        for (int p = p0; p < p1; p++) {
            float z = src[p] + add;
            CLNN_EPI_ACT(float, act, act_alpha, z);
            dst[p] = z;
        }
    else
        for (int p = p0; p < p1; p++)
            dst[p] = src[p] + add;
}

// partial: (parts, n) -> y: (n), y[i] = sum over b of partial[b n + i] (+ y[i] when accumulate).
// Range: (n).
__kernel void conv_reduce(const int n, const int parts, const int accumulate,
                          __global const float *partial, const int op, __global float *y,
                          const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    float acc = accumulate ? y[oy + i] : 0.0f;
    for (int b = 0; b < parts; b++)
        acc += partial[op + b * n + i];
    y[oy + i] = acc;
}

// ---- direct convolutions (CPU devices) ---------------------------------------------------------
// A convolution as out[n, g Co + o, p] = sum over (i, r, s) of in[n, g Ci + i, ih, iw] wt[g][(i r s)][o]
// with the weights packed so that the output channels are contiguous: each work-item keeps a tile
// of CONV_DT output pixels x 32 output channels in 2 CONV_DT float16 accumulators and, per (i, r, s),
// loads two float16 rows of weights and CONV_DT input values. Explicit wide vectors are what POCL
// turns into AVX-512 FMAs (its work-item-loop vectoriser does not pack scalar code, see
// docs/benchmarks.md: scalar FMA chains reach 10-20% of the peak). No im2col buffer, no GEMM
// operand copies, no layout swap: the result is written in NCHW with the bias added.
//   forward (conv2d):     in = x, Ci = C/G, Co = K/G, wt[g][(c r s)][k] = w[g K/G + k, c, r, s]
//   data gradient,        in = dy, Ci = K/G, Co = C/G, wt[g][(k r s)][c] = w[g K/G + k, c, R-1-r,
//   stride 1:             S-1-s]: a convolution of dy with the flipped kernel, pad (R-1) dil - pad
// Output channels are padded to Cop, a multiple of 32, with zero weights; the padding is not stored.
#ifndef CONV_DT
#define CONV_DT 8
#endif

// w: (G Kg, Cg, R, S) -> wt: (G, Ci R S, Cop) as above (flip = 0: forward, 1: data gradient).
// Range: (Cop, Ci R S, G).
__kernel void conv_pack_w(const int Kg, const int Cg, const int R, const int S, const int flip,
                          const int Cop, __global const float *w, const int ow,
                          __global float *wt, const int owt)
{
    const int o = get_global_id(0), row = get_global_id(1), g = get_global_id(2);
    const int Ci = flip ? Kg : Cg, Co = flip ? Cg : Kg;
    if (o >= Cop || row >= Ci * R * S)
        return;
    const int i = row / (R * S), rs = row - i * (R * S), r = rs / S, s = rs - r * S;
    float v = 0.0f;
    if (o < Co)
        v = flip ? w[ow + (((g * Kg + i) * Cg + o) * R + (R - 1 - r)) * S + (S - 1 - s)]
                 : w[ow + (((g * Kg + o) * Cg + i) * R + r) * S + s];
    wt[owt + (g * Ci * R * S + row) * Cop + o] = v;
}

// in: (N, G Ci, IH, IW), wt: (G, Ci R S, Cop) -> out: (N, G Co, OH, OW) (+ bias[G Co]).
// Every window must lie inside `in` (ph, pw >= 0 and the last window's end within IH x IW): the
// host pads the input first where a convolution has padding (conv_pad), so the loop has no
// checks. Range: (ceil(OH OW / CONV_DT), N G Cop / 32).
__kernel void conv_direct(const int Ci, const int IH, const int IW, const int R, const int S,
                          const int OH, const int OW, const int sh, const int sw, const int ph,
                          const int pw, const int dh, const int dw, const int N, const int G,
                          const int Co, const int Cop, __global const float *in, const int oin,
                          __global const float *wt, const int owt, __global float *out,
                          const int oout, __global const float *bias, const int obias,
                          const int has_bias, const float act_alpha)
{
    const int P = OH * OW, p0 = get_global_id(0) * CONV_DT, nb = Cop / 32;
    const int z = get_global_id(1);
    if (p0 >= P || z >= N * G * nb)
        return;
    const int ob = z % nb, ng = z / nb, g = ng % G, n = ng / G;
    int off[CONV_DT];
#pragma unroll
    for (int t = 0; t < CONV_DT; t++) {
        const int p = min(p0 + t, P - 1), oh = p / OW, ow = p - oh * OW;
        off[t] = (oh * sh - ph) * IW + ow * sw - pw;
    }
    float16 a0[CONV_DT], a1[CONV_DT];
#pragma unroll
    for (int t = 0; t < CONV_DT; t++)
        a0[t] = a1[t] = (float16)(0.0f);
    __global const float *src = in + oin + (n * G + g) * Ci * IH * IW;
    __global const float *wp = wt + owt + g * Ci * R * S * Cop + ob * 32;
    for (int i = 0; i < Ci; i++, src += IH * IW)
        for (int r = 0; r < R; r++)
            for (int s = 0; s < S; s++, wp += Cop) {
                const float16 w0 = vload16(0, wp), w1 = vload16(0, wp + 16);
                const int d = r * dh * IW + s * dw;
#pragma unroll
                for (int t = 0; t < CONV_DT; t++) {
                    const float16 v = (float16)(src[off[t] + d]);
                    a0[t] = fma(v, w0, a0[t]);
                    a1[t] = fma(v, w1, a1[t]);
                }
            }
    float col[32];
    __global float *dst = out + oout + (n * G + g) * Co * P;
#pragma unroll
    for (int t = 0; t < CONV_DT; t++) {
        const int p = p0 + t;
        if (p >= P)
            continue; // (not break: the loop unrolls)
        vstore16(a0[t], 0, col);
        vstore16(a1[t], 0, col + 16);
        for (int j = 0; j < 32 && ob * 32 + j < Co; j++) {
            const int o = ob * 32 + j;
            float v = col[j] + (has_bias & 1 ? bias[obias + g * Co + o] : 0.0f);
            CLNN_EPI_ACT(float, has_bias >> 1, act_alpha, v);
            dst[o * P + p] = v;
        }
    }
}

// in: (NC, IH, IW) -> out: (NC, PH, PW), in at row pt and column pl, zeros around. A work-item
// writes one row. Range: (PH, NC).
__kernel void conv_pad(const int IH, const int IW, const int pt, const int pl, const int PH,
                       const int PW, const int NC, __global const float *in, const int oin,
                       __global float *out, const int oout)
{
    const int h = get_global_id(0), z = get_global_id(1), ih = h - pt;
    if (h >= PH || z >= NC)
        return;
    __global float *dst = out + oout + (z * PH + h) * PW;
    if (ih < 0 || ih >= IH) {
        for (int w = 0; w < PW; w++)
            dst[w] = 0.0f;
        return;
    }
    __global const float *src = in + oin + (z * IH + ih) * IW;
    for (int w = 0; w < PW; w++) {
        const int iw = w - pl;
        dst[w] = iw >= 0 && iw < IW ? src[iw] : 0.0f;
    }
}

// dy: (N, G Kg, P) samples [n0, n0 + nc) -> dyt: (nc, P, G, Kgp), zero for k >= Kg: the output
// channels of a pixel contiguous, for conv_direct_bwd_w. Range: (P, nc).
__kernel void conv_dy_t(const int P, const int G, const int Kg, const int Kgp, const int n0,
                        const int nc, __global const float *dy, const int ody, __global float *dyt,
                        const int odt)
{
    const int p = get_global_id(0), n = get_global_id(1);
    if (p >= P || n >= nc)
        return;
    __global const float *src = dy + ody + (n0 + n) * G * Kg * P + p;
    __global float *dst = dyt + odt + (n * P + p) * G * Kgp;
    for (int g = 0; g < G; g++)
        for (int k = 0; k < Kgp; k++)
            dst[g * Kgp + k] = k < Kg ? src[(g * Kg + k) * P] : 0.0f;
}

// The weight gradient, directly: dw[g Kg + k, c, r, s] = sum over samples [0, nc) of this call
// and pixels of dyt[n, (oh, ow), g, k] x[n, g Cg + c, oh sh + r dh, ow sw + s dw], with x already
// padded (conv_pad) so that every tap of every output pixel reads inside it: no checks in the
// loop. A work-item owns CONV_DT consecutive (c, r, s) of one group (clamped to the last; the
// copies are not stored) and 32 k. The samples are split into `parts` ranges, each written to its
// own (G Kg, Cg, R, S) slice of `part` (conv_reduce adds them up).
// Range: (ceil(Cg R S / CONV_DT), G Kgp / 32, parts).
__kernel void conv_direct_bwd_w(const int Cg, const int H, const int W, const int R, const int S,
                                const int OH, const int OW, const int sh, const int sw,
                                const int dh, const int dw, const int G, const int Kg,
                                const int Kgp, const int nc, const int parts,
                                __global const float *x, const int ox, __global const float *dyt,
                                const int odt, __global float *part, const int opart)
{
    const int e0 = get_global_id(0) * CONV_DT, nb = Kgp / 32, z = get_global_id(1);
    const int b = get_global_id(2), CRS = Cg * R * S;
    if (e0 >= CRS || z >= G * nb || b >= parts)
        return;
    const int g = z / nb, kb = z - g * nb;
    const int per = (nc + parts - 1) / parts, nbeg = b * per, nend = min(nc, nbeg + per);
    int xo[CONV_DT];
#pragma unroll
    for (int t = 0; t < CONV_DT; t++) {
        const int e = min(e0 + t, CRS - 1), c = e / (R * S), rs = e - c * (R * S), r = rs / S;
        xo[t] = ((g * Cg + c) * H + r * dh) * W + (rs - r * S) * dw;
    }
    float16 a0[CONV_DT], a1[CONV_DT];
#pragma unroll
    for (int t = 0; t < CONV_DT; t++)
        a0[t] = a1[t] = (float16)(0.0f);
    const int rowlen = G * Kgp;
    for (int n = nbeg; n < nend; n++) {
        __global const float *xs = x + ox + n * G * Cg * H * W;
        __global const float *d = dyt + odt + n * OH * OW * rowlen + g * Kgp + kb * 32;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++, d += rowlen) {
                const int pix = oh * sh * W + ow * sw;
                const float16 d0 = vload16(0, d), d1 = vload16(0, d + 16);
#pragma unroll
                for (int t = 0; t < CONV_DT; t++) {
                    const float16 v = (float16)(xs[xo[t] + pix]);
                    a0[t] = fma(v, d0, a0[t]);
                    a1[t] = fma(v, d1, a1[t]);
                }
            }
    }
    float col[32];
    __global float *dst = part + opart + b * G * Kg * CRS;
#pragma unroll
    for (int t = 0; t < CONV_DT; t++) {
        const int e = e0 + t;
        if (e >= CRS)
            continue;
        vstore16(a0[t], 0, col);
        vstore16(a1[t], 0, col + 16);
        for (int j = 0; j < 32 && kb * 32 + j < Kg; j++)
            dst[(g * Kg + kb * 32 + j) * CRS + e] = col[j];
    }
}

// The weight gradient of a stride-1 convolution with few (c, r, s) taps (the first layer of a
// CNN: C R S = 9), where conv_direct_bwd_w would leave most of its 8 x 32 tile idle: the pixels
// are the vector axis. Output row oh of a plane reads input row oh + r dh from column s dw on,
//   dw[g Kg + k, c, r, s] = sum over samples, oh, ow of dy[n, k, oh, ow] x[n, c, oh + r dh, ow + s dw]
// is a sum of products of contiguous runs: 16 columns per float16 step, CONV_BT taps x CONV_BK
// output channels of accumulators per work-item, reduced across lanes at the end. A row's last
// step masks the columns past OW (dy there is another row's); a step that would read past a
// plane loads through a guarded copy. x is padded first where the convolution pads (conv_pad).
// Range: (ceil(Cg R S / CONV_BT), G ceil(Kg / CONV_BK), parts).
#define CONV_BT 9
#define CONV_BK 2
__kernel void conv_bwd_w_rows(const int Cg, const int PH, const int PW, const int R, const int S,
                              const int OH, const int OW, const int dh, const int dw, const int G,
                              const int Kg, const int nc, const int parts,
                              __global const float *x, const int ox, __global const float *dy,
                              const int ody, __global float *part, const int opart)
{
    const int e0 = get_global_id(0) * CONV_BT, nkb = (Kg + CONV_BK - 1) / CONV_BK;
    const int z = get_global_id(1), b = get_global_id(2), CRS = Cg * R * S;
    if (e0 >= CRS || z >= G * nkb || b >= parts)
        return;
    const int g = z / nkb, k0 = (z - g * nkb) * CONV_BK;
    const int per = (nc + parts - 1) / parts, nbeg = b * per, nend = min(nc, nbeg + per);
    const int plane = PH * PW, P = OH * OW;
    int off[CONV_BT], inp[CONV_BT], maxoff = 0; // a tap's offset in x; inside its plane
#pragma unroll
    for (int t = 0; t < CONV_BT; t++) {
        const int e = min(e0 + t, CRS - 1), c = e / (R * S), rs = e - c * (R * S), r = rs / S;
        inp[t] = r * dh * PW + (rs - r * S) * dw;
        off[t] = (g * Cg + c) * plane + inp[t];
        maxoff = max(maxoff, inp[t]);
    }
    int kk[CONV_BK];
#pragma unroll
    for (int j = 0; j < CONV_BK; j++)
        kk[j] = (g * Kg + min(k0 + j, Kg - 1)) * P;
    float16 acc[CONV_BK][CONV_BT];
#pragma unroll
    for (int j = 0; j < CONV_BK; j++)
#pragma unroll
        for (int t = 0; t < CONV_BT; t++)
            acc[j][t] = (float16)(0.0f);
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int xs = G * Cg * plane, ds = G * Kg * P;
    for (int n = nbeg; n < nend; n++) {
        __global const float *xn = x + ox + n * xs;
        __global const float *dn = dy + ody + n * ds;
        for (int oh = 0; oh < OH; oh++) {
            const int xr = oh * PW, dr = oh * OW;
            for (int c0 = 0; c0 < OW; c0 += 16) {
                float16 d[CONV_BK];
                // 16 lanes inside both planes (a row's tail reads on into the next row)
                if (xr + maxoff + c0 + 16 <= plane && dr + c0 + 16 <= P) {
                    const int16 keep = lane < (int16)(OW - c0);
#pragma unroll
                    for (int j = 0; j < CONV_BK; j++)
                        d[j] = select((float16)(0.0f), vload16(0, dn + kk[j] + dr + c0), keep);
#pragma unroll
                    for (int t = 0; t < CONV_BT; t++) {
                        const float16 v = vload16(0, xn + off[t] + xr + c0);
#pragma unroll
                        for (int j = 0; j < CONV_BK; j++)
                            acc[j][t] = fma(v, d[j], acc[j][t]);
                    }
                    continue;
                }
                float tmp[16];
#pragma unroll
                for (int j = 0; j < CONV_BK; j++) {
                    for (int l = 0; l < 16; l++)
                        tmp[l] = c0 + l < OW ? dn[kk[j] + dr + c0 + l] : 0.0f;
                    d[j] = vload16(0, tmp);
                }
#pragma unroll
                for (int t = 0; t < CONV_BT; t++) {
                    for (int l = 0; l < 16; l++)
                        tmp[l] = c0 + l < OW && inp[t] + xr + c0 + l < plane
                                     ? xn[off[t] + xr + c0 + l]
                                     : 0.0f;
                    const float16 v = vload16(0, tmp);
#pragma unroll
                    for (int j = 0; j < CONV_BK; j++)
                        acc[j][t] = fma(v, d[j], acc[j][t]);
                }
            }
        }
    }
    __global float *dst = part + opart + b * G * Kg * CRS;
#pragma unroll
    for (int j = 0; j < CONV_BK; j++) {
        if (k0 + j >= Kg)
            continue;
#pragma unroll
        for (int t = 0; t < CONV_BT; t++) {
            if (e0 + t >= CRS)
                continue;
            const float16 a = acc[j][t];
            const float8 h8 = a.lo + a.hi;
            const float4 h4 = h8.lo + h8.hi;
            const float2 h2 = h4.lo + h4.hi;
            dst[(g * Kg + k0 + j) * CRS + e0 + t] = h2.x + h2.y;
        }
    }
}

// The forward pass of a stride-1 convolution with few (c, r, s) taps (the first layer of a CNN),
// with the columns of an output row as the vector axis: per 16 columns, each tap loads one
// float16 run of an input row (ow + s dw) and adds it, scaled by the tap's weight, into
// CONV_FK output channels; the result is stored in NCHW (+ bias), a row's tail lane by lane.
// x is padded first where the convolution pads (conv_pad): every window lies inside it.
// Range: (OH, G ceil(Kg / CONV_FK), N).
#define CONV_FK 8
__kernel void conv_fwd_rows(const int Cg, const int PH, const int PW, const int R, const int S,
                            const int OH, const int OW, const int dh, const int dw, const int N,
                            const int G, const int Kg, __global const float *x, const int ox,
                            __global const float *w, const int ow_, __global float *y,
                            const int oy, __global const float *bias, const int obias,
                            const int has_bias, const float act_alpha)
{
    const int oh = get_global_id(0), z = get_global_id(1), n = get_global_id(2);
    const int nkb = (Kg + CONV_FK - 1) / CONV_FK;
    if (oh >= OH || z >= G * nkb || n >= N)
        return;
    const int g = z / nkb, k0 = (z - g * nkb) * CONV_FK, CRS = Cg * R * S, plane = PH * PW;
    int wk[CONV_FK];
    float b[CONV_FK];
#pragma unroll
    for (int j = 0; j < CONV_FK; j++) {
        const int k = g * Kg + min(k0 + j, Kg - 1);
        wk[j] = ow_ + k * CRS;
        b[j] = has_bias & 1 ? bias[obias + k] : 0.0f;
    }
    __global const float *xg = x + ox + (n * G + g) * Cg * plane + oh * PW;
    __global float *yrow = y + oy + ((n * G + g) * Kg + k0) * OH * OW + oh * OW;
    for (int c0 = 0; c0 < OW; c0 += 16) {
        float16 acc[CONV_FK];
#pragma unroll
        for (int j = 0; j < CONV_FK; j++)
            acc[j] = (float16)(b[j]);
        // a full run of 16 input columns stays inside the plane unless near its end
        const int full = c0 + 16 <= OW;
        for (int c = 0, e = 0; c < Cg; c++)
            for (int r = 0; r < R; r++)
                for (int s = 0; s < S; s++, e++) {
                    const int at = c * plane + r * dh * PW + s * dw + c0;
                    float16 v;
                    if (full || oh * PW + at - c * plane + 16 <= plane) {
                        v = vload16(0, xg + at);
                    } else {
                        float tmp[16];
                        for (int l = 0; l < 16; l++)
                            tmp[l] = c0 + l < OW ? xg[at + l] : 0.0f;
                        v = vload16(0, tmp);
                    }
#pragma unroll
                    for (int j = 0; j < CONV_FK; j++)
                        acc[j] = fma(v, (float16)(w[wk[j] + e]), acc[j]);
                }
#pragma unroll
        for (int j = 0; j < CONV_FK; j++) {
            if (k0 + j >= Kg)
                continue;
            __global float *dst = yrow + j * OH * OW + c0;
            CLNN_EPI_ACT(float16, has_bias >> 1, act_alpha, acc[j]);
            if (full) {
                vstore16(acc[j], 0, dst);
            } else {
                float out[16];
                vstore16(acc[j], 0, out);
                for (int l = 0; l < OW - c0; l++)
                    dst[l] = out[l];
            }
        }
    }
}
