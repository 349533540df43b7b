// pool.cl — 2-D max and average pooling, nearest-neighbour upsampling and their backward kernels
// (src/ops/op_pool.c). Tensors are NCHW with N and C merged into one plane index nc. Every kernel
// has one work-item per element of the tensor it writes, guards i < n and writes every element
// (planned buffers are reused, so nothing may rely on zeros). The backward kernels are gathers:
// each input element sums the gradients of the outputs that read it, in a fixed order, so no
// atomics are needed and results are deterministic.
// Max pooling has a second set of kernels for CPU devices (the *_rows and *_planes kernels, chosen
// by op_pool.c): a work-item takes a span of whole output rows or planes and loops over them
// contiguously, so a few large work-groups do the work (POCL runs each work-group's work-items as
// a loop and pays per work-group, and its loop over a group of small windows does not vectorise).
//
// Window geometry (resolved on the host, see op_pool.c): output row oh reads the input rows
// hs0 = oh sh - pt .. hs0 + kh - 1, clipped to [0, H); columns likewise with sw, pl, kw, W.
// Padding is never read: it never wins a max and adds nothing to a sum.

// The first output row (column) whose window holds input row (column) p:
// the smallest o >= 0 with o s - pad + k > p.
inline int pool_first_out(const int p, const int pad, const int k, const int s)
{
    const int q = p + pad;
    return q < k ? 0 : (q - k) / s + 1;
}

// x: (NC, H, W) -> y: (NC, OH, OW), argmax: (NC, OH, OW) holding h W + w of the first maximum
// of each window in row-major order (PyTorch's tie rule); NaN wins as in PyTorch.
// A 3-D range (OW, OH, NC): no integer division in the index arithmetic (n is unused).
__kernel void maxpool2d_fwd(const int n, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int pt,
                            const int pl, __global const float *x, const int ox, __global float *y,
                            const int oy, __global int *argmax)
{
    const int ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
    if (ow >= OW || oh >= OH)
        return;
    const int i = (nc * OH + oh) * OW + ow;
    const int hs0 = oh * sh - pt, ws0 = ow * sw - pl;
    const int hs = max(hs0, 0), ws = max(ws0, 0);
    const int he = min(hs0 + kh, H), we = min(ws0 + kw, W);
    __global const float *plane = x + ox + nc * H * W;
    float m = -INFINITY;
    int best = hs * W + ws;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++) {
            const float v = plane[h * W + w];
            if (v > m || isnan(v)) {
                m = v;
                best = h * W + w;
            }
        }
    y[oy + i] = m;
    argmax[i] = best;
}

// Four floats p[0], p[s], p[2 s], p[3 s], read as vectors where the stride allows (and never
// past p[3 s], which may end the buffer)
inline float4 pool_load4(__global const float *p, const int s)
{
    if (s == 1)
        return vload4(0, p);
    if (s == 2) {
        const float4 a = vload4(0, p), b = vload4(0, p + 3);
        return (float4)(a.s02, b.s13);
    }
    return (float4)(p[0], p[s], p[2 * s], p[3 * s]);
}

// The same for CPU devices: work-item i takes the output rows [i per, (i + 1) per) of the n = NC OH
// rows, one after another. Four windows at a time where they lie inside the row (the last four
// of a row too, recomputing some: same values), the others one by one: each window keeps its
// row-major order, so the rule above holds lane by lane, with selects instead of branches
// (random data mispredicts them).
__kernel void maxpool2d_fwd_rows(const int n, const int H, const int W, const int OH, const int OW,
                                 const int kh, const int kw, const int sh, const int sw,
                                 const int pt, const int pl, __global const float *x, const int ox,
                                 __global float *y, const int oy, __global int *argmax,
                                 const int per)
{
    const int r0 = get_global_id(0) * per, r1 = min(r0 + per, n);
    const int4 lane = (int4)(0, 1, 2, 3) * sw;
    int nc = r0 / OH, oh = r0 - nc * OH;
    for (int r = r0; r < r1; r++) {
        const int hs0 = oh * sh - pt;
        const int hs = max(hs0, 0), he = min(hs0 + kh, H);
        __global const float *plane = x + ox + nc * H * W;
        __global float *yr = y + oy + r * OW;
        __global int *ar = argmax + r * OW;
        for (int ow = 0; ow < OW;) {
            const int o4 = min(ow, OW - 4), ws4 = o4 * sw - pl; // o4 < ow: the last four
            if (o4 >= 0 && ws4 >= 0 && ws4 + 3 * sw + kw <= W) {
                float4 m = (float4)(-INFINITY);
                int4 best = (int4)(hs * W + ws4) + lane;
                for (int h = hs; h < he; h++)
                    for (int w = 0; w < kw; w++) {
                        const int at = h * W + ws4 + w;
                        const float4 v = pool_load4(plane + at, sw);
                        const int4 take = v > m || isnan(v);
                        m = select(m, v, take);
                        best = select(best, (int4)(at) + lane, take);
                    }
                vstore4(m, 0, yr + o4);
                vstore4(best, 0, ar + o4);
                ow = o4 + 4;
                continue;
            }
            const int ws0 = ow * sw - pl;
            const int ws = max(ws0, 0), we = min(ws0 + kw, W);
            float m = -INFINITY;
            int best = hs * W + ws;
            for (int h = hs; h < he; h++)
                for (int w = ws; w < we; w++) {
                    const float v = plane[h * W + w];
                    const int take = v > m || isnan(v);
                    m = take ? v : m;
                    best = take ? h * W + w : best;
                }
            yr[ow] = m;
            ar[ow] = best;
            ow++;
        }
        if (++oh == OH) {
            oh = 0;
            nc++;
        }
    }
}

// dy: (NC, OH, OW), argmax: (NC, OH, OW) from maxpool2d_fwd -> dx: (NC, H, W); each input
// element sums dy over the windows whose maximum it is.
__kernel void maxpool2d_bwd(const int n, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int pt,
                            const int pl, __global const float *dy, const int ody,
                            __global const int *argmax, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int w = i % W, h = (i / W) % H, nc = i / (W * H);
    const int oh0 = pool_first_out(h, pt, kh, sh), oh1 = min((h + pt) / sh, OH - 1);
    const int ow0 = pool_first_out(w, pl, kw, sw), ow1 = min((w + pl) / sw, OW - 1);
    const int self = h * W + w, base = nc * OH * OW;
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            const int o = base + oh * OW + ow;
            if (argmax[o] == self)
                s += dy[ody + o];
        }
    dx[odx + i] = s;
}

// The same for windows that do not overlap (stride >= kernel), over a 3-D range (OW, OH, NC):
// the stride cells [oh sh - pt, (oh + 1) sh - pt) x [ow sw - pl, (ow + 1) sw - pl), clipped to
// the plane, the last row and column of cells reaching to its end, tile the input plane, so each
// work-item writes its cell (dy at the window's argmax, 0 elsewhere): every element once, no
// division, no atomics.
__kernel void maxpool2d_bwd_cells(const int n, const int H, const int W, const int OH,
                                  const int OW, const int kh, const int kw, const int sh,
                                  const int sw, const int pt, const int pl,
                                  __global const float *dy, const int ody,
                                  __global const int *argmax, __global float *dx, const int odx)
{
    const int ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
    if (ow >= OW || oh >= OH)
        return;
    const int o = (nc * OH + oh) * OW + ow, a = argmax[o];
    const float g = dy[ody + o];
    const int h0 = max(oh * sh - pt, 0), h1 = oh == OH - 1 ? H : min(oh * sh - pt + sh, H);
    const int w0 = max(ow * sw - pl, 0), w1 = ow == OW - 1 ? W : min(ow * sw - pl + sw, W);
    __global float *plane = dx + odx + nc * H * W;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++)
            plane[h * W + w] = h * W + w == a ? g : 0.0f;
}

// The backward pass for CPU devices, any window geometry: work-item i takes the planes
// [i per, (i + 1) per) of the n = NC planes and scatters each plane's dy into its zeroed dx plane
// at the argmax. One work-item owns a plane, so no atomics; it adds in the order of the outputs,
// as maxpool2d_bwd sums, so both give the same bits.
__kernel void maxpool2d_bwd_planes(const int n, const int H, const int W, const int OH,
                                   const int OW, const int kh, const int kw, const int sh,
                                   const int sw, const int pt, const int pl,
                                   __global const float *dy, const int ody,
                                   __global const int *argmax, __global float *dx, const int odx,
                                   const int per)
{
    const int p0 = get_global_id(0) * per, p1 = min(p0 + per, n);
    const int in = H * W, out = OH * OW;
    for (int p = p0; p < p1; p++) {
        __global float *plane = dx + odx + p * in;
        __global const float *g = dy + ody + p * out;
        __global const int *a = argmax + p * out;
        for (int i = 0; i < in; i++)
            plane[i] = 0.0f;
        for (int o = 0; o < out; o++)
            plane[a[o]] += g[o];
    }
}

// The divisor of the average of the window starting at (hs0, ws0): with include_pad, the window
// clipped to the padded extent (eh, ew) = (H + pad_bottom, W + pad_right) as PyTorch counts it;
// else the number of input elements in it.
inline int avgpool_divisor(const int hs0, const int ws0, const int kh, const int kw, const int H,
                           const int W, const int eh, const int ew, const int include_pad)
{
    const int he = min(hs0 + kh, eh), we = min(ws0 + kw, ew);
    if (include_pad)
        return (he - hs0) * (we - ws0);
    return (min(he, H) - max(hs0, 0)) * (min(we, W) - max(ws0, 0));
}

// x: (NC, H, W) -> y: (NC, OH, OW), the window sums divided by avgpool_divisor
__kernel void avgpool2d_fwd(const int n, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int pt,
                            const int pl, const int eh, const int ew, const int include_pad,
                            __global const float *x, const int ox, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    const int hs0 = oh * sh - pt, ws0 = ow * sw - pl;
    const int hs = max(hs0, 0), ws = max(ws0, 0);
    const int he = min(hs0 + kh, H), we = min(ws0 + kw, W);
    __global const float *plane = x + ox + nc * H * W;
    float s = 0.0f;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++)
            s += plane[h * W + w];
    const int d = avgpool_divisor(hs0, ws0, kh, kw, H, W, eh, ew, include_pad);
    y[oy + i] = d > 0 ? s / (float)d : 0.0f;
}

// dy: (NC, OH, OW) -> dx: (NC, H, W); each input element sums dy / divisor over the windows
// that hold it.
__kernel void avgpool2d_bwd(const int n, const int H, const int W, const int OH, const int OW,
                            const int kh, const int kw, const int sh, const int sw, const int pt,
                            const int pl, const int eh, const int ew, const int include_pad,
                            __global const float *dy, const int ody, __global float *dx,
                            const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int w = i % W, h = (i / W) % H, nc = i / (W * H);
    const int oh0 = pool_first_out(h, pt, kh, sh), oh1 = min((h + pt) / sh, OH - 1);
    const int ow0 = pool_first_out(w, pl, kw, sw), ow1 = min((w + pl) / sw, OW - 1);
    __global const float *g = dy + ody + nc * OH * OW;
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            const int d =
                avgpool_divisor(oh * sh - pt, ow * sw - pl, kh, kw, H, W, eh, ew, include_pad);
            s += g[oh * OW + ow] / (float)d;
        }
    dx[odx + i] = s;
}

// x: (NC, H, W) -> y: (NC, H sh, W sw), y[nc, h, w] = x[nc, h / sh, w / sw]
__kernel void upsample_nearest_fwd(const int n, const int H, const int W, const int sh,
                                   const int sw, __global const float *x, const int ox,
                                   __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int OW = W * sw, OH = H * sh;
    const int ow = i % OW, oh = (i / OW) % OH, nc = i / (OW * OH);
    y[oy + i] = x[ox + (nc * H + oh / sh) * W + ow / sw];
}

// dy: (NC, H sh, W sw) -> dx: (NC, H, W), the sum of each sh x sw block
__kernel void upsample_nearest_bwd(const int n, const int H, const int W, const int sh,
                                   const int sw, __global const float *dy, const int ody,
                                   __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int w = i % W, h = (i / W) % H, nc = i / (W * H);
    const int OW = W * sw;
    __global const float *g = dy + ody + (nc * H * sh + h * sh) * OW + w * sw;
    float s = 0.0f;
    for (int a = 0; a < sh; a++)
        for (int b = 0; b < sw; b++)
            s += g[a * OW + b];
    dx[odx + i] = s;
}
