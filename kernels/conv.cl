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

// x: (A, B, P) -> y: (B, A, P): y[b, a, p] = x[a, b, p] (+ bias[a] when has_bias).
// Range: (ceil(P / span), B A), z = b A + a.
__kernel void conv_swap(const int A, const int B, const int P, const int span,
                        __global const float *x, const int ox, __global float *y, const int oy,
                        __global const float *bias, const int obias, const int has_bias)
{
    const int p0 = get_global_id(0) * span, z = get_global_id(1);
    if (p0 >= P || z >= A * B)
        return;
    const int b = z / A, a = z - b * A;
    const float add = has_bias ? bias[obias + a] : 0.0f;
    __global const float *src = x + ox + (a * B + b) * P;
    __global float *dst = y + oy + z * P;
    const int p1 = min(P, p0 + span);
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
