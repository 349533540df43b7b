// elementwise.cl — one program for the elementwise ops, so POCL compiles it once:
//   add/sub/mul on equal shapes and with broadcasting, scale, relu, sigmoid, tanh and their
//   backward kernels, and strided_copy (expand and transpose).
// Every kernel takes the element count n and guards i < n, so any global size rounding is safe.
// Offsets (in elements) let tensors start inside a buffer.

// x, y: (n)
__kernel void add_same(const int n, __global const float *a, const int oa, __global const float *b,
                       const int ob, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = a[oa + i] + b[ob + i];
}

__kernel void sub_same(const int n, __global const float *a, const int oa, __global const float *b,
                       const int ob, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = a[oa + i] - b[ob + i];
}

__kernel void mul_same(const int n, __global const float *a, const int oa, __global const float *b,
                       const int ob, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = a[oa + i] * b[ob + i];
}

// a, b broadcast to y: (meta shape); op 0 add, 1 sub, 2 mul
__kernel void binary_bcast(const int n, const int op, __global const int *meta,
                           __global const float *a, const int oa, __global const float *b,
                           const int ob, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float x0 = a[oa + clnn_strided_offset(i, meta, 0)];
    const float x1 = b[ob + clnn_strided_offset(i, meta, 1)];
    y[oy + i] = op == 0 ? x0 + x1 : op == 1 ? x0 - x1 : x0 * x1;
}

// The same on CPU devices: a work-item per span of `per` rows of the (merged) last axis, whose
// outer offsets are decoded once per row; the inner loop has the last axis' strides (0 or 1 for
// a broadcast) fixed, so the compiler vectorises it. Range: ceil(rows / per), rows = n / L.
#define BCAST_LOOP(EXPR)                                                                           \
    if (sa == 1 && sb == 1)                                                                        \
        for (int j = 0; j < L; j++) {                                                              \
            const float x0 = pa[j], x1 = pb[j];                                                    \
            py[j] = EXPR;                                                                          \
        }                                                                                          \
    else if (sa == 1 && sb == 0)                                                                   \
        for (int j = 0; j < L; j++) {                                                              \
            const float x0 = pa[j], x1 = pb[0];                                                    \
            py[j] = EXPR;                                                                          \
        }                                                                                          \
    else if (sa == 0 && sb == 1)                                                                   \
        for (int j = 0; j < L; j++) {                                                              \
            const float x0 = pa[0], x1 = pb[j];                                                    \
            py[j] = EXPR;                                                                          \
        }                                                                                          \
    else                                                                                           \
        for (int j = 0; j < L; j++) {                                                              \
            const float x0 = pa[j * sa], x1 = pb[j * sb];                                          \
            py[j] = EXPR;                                                                          \
        }
__kernel void binary_bcast_rows(const int n, const int op, const int per,
                                __global const int *meta, __global const float *a, const int oa,
                                __global const float *b, const int ob, __global float *y,
                                const int oy)
{
    const int nd = meta[0];
    __global const int *shape = CLNN_META_SHAPE(meta);
    __global const int *st_a = CLNN_META_STRIDES(meta, 0), *st_b = CLNN_META_STRIDES(meta, 1);
    const int L = shape[nd - 1], sa = st_a[nd - 1], sb = st_b[nd - 1], rows = n / L;
    const int r0 = get_global_id(0) * per, r1 = min(rows, r0 + per);
    for (int r = r0; r < r1; r++) {
        int q = r, fa = 0, fb = 0;
        for (int d = nd - 2; d >= 0; d--) {
            const int c = q % shape[d];
            q /= shape[d];
            fa += c * st_a[d];
            fb += c * st_b[d];
        }
        __global const float *pa = a + oa + fa, *pb = b + ob + fb;
        __global float *py = y + oy + r * L;
        if (op == 0) {
            BCAST_LOOP(x0 + x1)
        } else if (op == 1) {
            BCAST_LOOP(x0 - x1)
        } else {
            BCAST_LOOP(x0 * x1)
        }
    }
}

// clnn_tensor_copy on CPU devices: a work-item per span of `per` 4-byte elements (a multiple of
// 8) in 8-wide steps, where clEnqueueCopyBuffer is one thread's memcpy on POCL.
__kernel void copy_span(const int n, const int per, __global const uint *x, const int ox,
                        __global uint *y, const int oy)
{
    const int i0 = get_global_id(0) * per, i1 = min(n, i0 + per);
    int i = i0;
    for (; i + 8 <= i1; i += 8)
        vstore8(vload8(0, x + ox + i), 0, y + oy + i);
    for (; i < i1; i++)
        y[oy + i] = x[ox + i];
}

// y = alpha * x; x, y: (n)
__kernel void scale(const int n, const float alpha, __global const float *x, const int ox,
                    __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = alpha * x[ox + i];
}

__kernel void relu(const int n, __global const float *x, const int ox, __global float *y,
                   const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = fmax(x[ox + i], 0.0f);
}

// numerically stable for large |x|: exp of a non-positive number only
__kernel void sigmoid(const int n, __global const float *x, const int ox, __global float *y,
                      const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const float v = x[ox + i];
    const float e = exp(-fabs(v));
    y[oy + i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// sigmoid and tanh on CPU devices: a work-item per span of `per` elements (a multiple of 8) in
// float8 steps, whose exp and tanh POCL vectorises (the per-element kernels run scalar calls).
__kernel void sigmoid_span(const int n, const int per, __global const float *x, const int ox,
                           __global float *y, const int oy)
{
    const int i0 = get_global_id(0) * per, i1 = min(n, i0 + per);
    int i = i0;
    for (; i + 8 <= i1; i += 8) {
        const float8 v = vload8(0, x + ox + i), e = exp(-fabs(v));
        const float8 r = select(e / (1.0f + e), 1.0f / (1.0f + e), v >= 0.0f);
        vstore8(r, 0, y + oy + i);
    }
    for (; i < i1; i++) {
        const float v = x[ox + i], e = exp(-fabs(v));
        y[oy + i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

__kernel void tanh_span(const int n, const int per, __global const float *x, const int ox,
                        __global float *y, const int oy)
{
    const int i0 = get_global_id(0) * per, i1 = min(n, i0 + per);
    int i = i0;
    for (; i + 8 <= i1; i += 8)
        vstore8(tanh(vload8(0, x + ox + i)), 0, y + oy + i);
    for (; i < i1; i++)
        y[oy + i] = tanh(x[ox + i]);
}

__kernel void tanh_fwd(const int n, __global const float *x, const int ox, __global float *y,
                       const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = tanh(x[ox + i]);
}

// backward kernels take the forward output y and the incoming gradient dy; dx: (n)
__kernel void relu_bwd(const int n, __global const float *y, const int oy, __global const float *dy,
                       const int ody, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i < n)
        dx[odx + i] = y[oy + i] > 0.0f ? dy[ody + i] : 0.0f;
}

__kernel void sigmoid_bwd(const int n, __global const float *y, const int oy,
                          __global const float *dy, const int ody, __global float *dx,
                          const int odx)
{
    const int i = get_global_id(0);
    if (i < n) {
        const float s = y[oy + i];
        dx[odx + i] = dy[ody + i] * s * (1.0f - s);
    }
}

__kernel void tanh_bwd(const int n, __global const float *y, const int oy, __global const float *dy,
                       const int ody, __global float *dx, const int odx)
{
    const int i = get_global_id(0);
    if (i < n) {
        const float t = y[oy + i];
        dx[odx + i] = dy[ody + i] * (1.0f - t * t);
    }
}

// y[i] = x[strided offset of i]: expand (stride 0 on broadcast axes) and transpose (permuted
// strides); y: (meta shape)
__kernel void strided_copy(const int n, __global const int *meta, __global const float *x,
                           const int ox, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = x[ox + clnn_strided_offset(i, meta, 0)];
}
