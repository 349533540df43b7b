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
