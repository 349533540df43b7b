// activation.cl — activations, the fused bias + activation, softmax and log-softmax, and their
// backward kernels (src/ops/op_activation.c). The activation codes are those of the public
// clnn_activation enum; one function evaluates an activation and one its derivative, so the plain
// activation, the fused bias_act and both backward passes share the same formulas (PyTorch's):
//   leaky_relu  z > 0 ? z : alpha z                 d: z > 0 ? 1 : alpha
//   elu         z > 0 ? z : alpha (e^z - 1)         d: z > 0 ? 1 : alpha e^z
//   gelu        z Phi(z) = z (1 + erf(z / sqrt 2)) / 2            d: Phi(z) + z phi(z)
//   gelu_tanh   z (1 + tanh(k (z + 0.044715 z^3))) / 2, k = sqrt(2 / pi)
// Softmax rows run along one axis of x seen as (outer, len, inner): row r starts at
// (r / inner) * len * inner + r % inner and steps by inner. The *_rows kernels give a row to one
// work-item (many or short rows); the *_group kernels give it to a work-group that reduces in
// local memory with a barrier after every step (few long rows). Every kernel guards its range.

#ifndef SOFTMAX_WG
#define SOFTMAX_WG 64
#endif

#define ACT_NONE       0
#define ACT_RELU       1
#define ACT_LEAKY_RELU 2
#define ACT_ELU        3
#define ACT_SIGMOID    4
#define ACT_TANH       5
#define ACT_GELU       6
#define ACT_GELU_TANH  7
// not a clnn_activation (those end at softmax, 8): ELU's derivative from its output y (alpha >= 0):
// 1 where y > 0, else y + alpha = alpha e^x (the backward of an ELU fused into an epilogue,
// CLNN__ACT_ELU_FROM_OUTPUT)
#define ACT_ELU_FROM_OUTPUT 16

#define GELU_K      0.7978845608028654f // sqrt(2 / pi)
#define GELU_C      0.044715f
#define INV_SQRT2   0.7071067811865476f
#define INV_SQRT2PI 0.3989422804014327f

// The formulas, written once for T = float and for T = float8 (the CPU kernels below take eight
// elements per step: POCL does not vectorise their loops itself). On vectors `c ? a : b` selects
// per component, so both versions give the same values. Defines act_sigmoid<S>, act_value<S> and
// act_derivative<S> (d act / d z) for the name suffix S.
#define ACT_FUNCTIONS(T, S)                                                                        \
    /* numerically stable for large |z|: exp of a non-positive number only */                      \
    inline T act_sigmoid##S(const T z)                                                             \
    {                                                                                              \
        const T e = exp(-fabs(z));                                                                 \
        return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);                                     \
    }                                                                                              \
                                                                                                   \
    inline T act_value##S(const int act, const float alpha, const T z)                             \
    {                                                                                              \
        switch (act) {                                                                             \
        case ACT_RELU:                                                                             \
            return z > 0.0f ? z : 0.0f;                                                            \
        case ACT_LEAKY_RELU:                                                                       \
            return z > 0.0f ? z : alpha * z;                                                       \
        case ACT_ELU:                                                                              \
            return z > 0.0f ? z : alpha * expm1(z);                                                \
        case ACT_SIGMOID:                                                                          \
            return act_sigmoid##S(z);                                                              \
        case ACT_TANH:                                                                             \
            return tanh(z);                                                                        \
        case ACT_GELU:                                                                             \
            return 0.5f * z * (1.0f + erf(z * INV_SQRT2));                                         \
        case ACT_GELU_TANH:                                                                        \
            return 0.5f * z * (1.0f + tanh(GELU_K * (z + GELU_C * z * z * z)));                    \
        default:                                                                                   \
            return z;                                                                              \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    inline T act_derivative##S(const int act, const float alpha, const T z)                        \
    {                                                                                              \
        switch (act) {                                                                             \
        case ACT_RELU:                                                                             \
            return z > 0.0f ? (T)(1.0f) : (T)(0.0f);                                               \
        case ACT_LEAKY_RELU:                                                                       \
            return z > 0.0f ? (T)(1.0f) : (T)(alpha);                                              \
        case ACT_ELU:                                                                              \
            return z > 0.0f ? 1.0f : alpha * exp(z);                                               \
        case ACT_ELU_FROM_OUTPUT:                                                                  \
            return z > 0.0f ? 1.0f : z + alpha;                                                    \
        case ACT_SIGMOID: {                                                                        \
            const T s = act_sigmoid##S(z);                                                         \
            return s * (1.0f - s);                                                                 \
        }                                                                                          \
        case ACT_TANH: {                                                                           \
            const T t = tanh(z);                                                                   \
            return 1.0f - t * t;                                                                   \
        }                                                                                          \
        case ACT_GELU:                                                                             \
            return 0.5f * (1.0f + erf(z * INV_SQRT2)) + z * INV_SQRT2PI * exp(-0.5f * z * z);      \
        case ACT_GELU_TANH: {                                                                      \
            const T t = tanh(GELU_K * (z + GELU_C * z * z * z));                                   \
            return 0.5f * (1.0f + t) +                                                             \
                   0.5f * z * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * z * z);            \
        }                                                                                          \
        default:                                                                                   \
            return (T)(1.0f);                                                                      \
        }                                                                                          \
    }

ACT_FUNCTIONS(float, )
ACT_FUNCTIONS(float8, 8)

// x: (n) -> y: (n), y = act(x)
__kernel void act_fwd(const int n, const int act, const float alpha, __global const float *x,
                      const int ox, __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = act_value(act, alpha, x[ox + i]);
}

// x: (outer, C, inner), b: (C) -> y: (outer, C, inner), y = act(x + b). Both kernels below run
// over a 3-D range (inner, C, outer), so the channel needs no integer division (n is unused).
__kernel void bias_act_fwd(const int n, const int act, const float alpha, const int channels,
                           const int inner, __global const float *x, const int ox,
                           __global const float *b, const int ob, __global float *y, const int oy)
{
    const int j = get_global_id(0), c = get_global_id(1);
    if (j >= inner || c >= channels)
        return;
    const int i = ((int)get_global_id(2) * channels + c) * inner + j;
    y[oy + i] = act_value(act, alpha, x[ox + i] + b[ob + c]);
}

// The same for CPU devices: work-item i takes the elements [i per, (i + 1) per) of x seen as
// (outer, C, inner) (n = its size), one run of a channel at a time, eight elements per step; the
// channel of the next run follows by counting, so only the first costs a division.
__kernel void bias_act_fwd_span(const int n, const int act, const float alpha, const int channels,
                                const int inner, __global const float *x, const int ox,
                                __global const float *b, const int ob, __global float *y,
                                const int oy, const int per)
{
    const int s = get_global_id(0) * per, e = min(s + per, n);
    const int plane = s / inner;
    int j = s - plane * inner, c = plane % channels;
    for (int i = s; i < e; j = 0, c = c + 1 == channels ? 0 : c + 1) {
        const int len = min(inner - j, e - i);
        const float bias = b[ob + c];
        __global const float *xs = x + ox + i;
        __global float *ys = y + oy + i;
        int k = 0;
        for (; k + 8 <= len; k += 8)
            vstore8(act_value8(act, alpha, vload8(0, xs + k) + bias), 0, ys + k);
        for (; k < len; k++)
            ys[k] = act_value(act, alpha, xs[k] + bias);
        i += len;
    }
}

// x: (outer, C, inner), b: (C) (read only when has_bias), dy: like x -> dx: like x,
// dx = act'(x [+ b]) dy
__kernel void act_bwd(const int n, const int act, const float alpha, const int channels,
                      const int inner, const int has_bias, __global const float *x, const int ox,
                      __global const float *b, const int ob, __global const float *dy,
                      const int ody, __global float *dx, const int odx)
{
    const int j = get_global_id(0), c = get_global_id(1);
    if (j >= inner || c >= channels)
        return;
    const int i = ((int)get_global_id(2) * channels + c) * inner + j;
    float z = x[ox + i];
    if (has_bias)
        z += b[ob + c];
    dx[odx + i] = act_derivative(act, alpha, z) * dy[ody + i];
}

// The same for CPU devices, split as bias_act_fwd_span (without a bias: channels 1, inner n)
__kernel void act_bwd_span(const int n, const int act, const float alpha, const int channels,
                           const int inner, const int has_bias, __global const float *x,
                           const int ox, __global const float *b, const int ob,
                           __global const float *dy, const int ody, __global float *dx,
                           const int odx, const int per)
{
    const int s = get_global_id(0) * per, e = min(s + per, n);
    const int plane = s / inner;
    int j = s - plane * inner, c = plane % channels;
    for (int i = s; i < e; j = 0, c = c + 1 == channels ? 0 : c + 1) {
        const int len = min(inner - j, e - i);
        const float bias = has_bias ? b[ob + c] : 0.0f;
        __global const float *xs = x + ox + i, *g = dy + ody + i;
        __global float *d = dx + odx + i;
        int k = 0;
        for (; k + 8 <= len; k += 8) {
            float8 z = vload8(0, xs + k);
            if (has_bias)
                z += bias;
            vstore8(act_derivative8(act, alpha, z) * vload8(0, g + k), 0, d + k);
        }
        for (; k < len; k++) {
            float z = xs[k];
            if (has_bias)
                z += bias;
            d[k] = act_derivative(act, alpha, z) * g[k];
        }
        i += len;
    }
}

// ---- softmax ---------------------------------------------------------------------------------
inline int softmax_row_base(const int r, const int len, const int inner)
{
    return (r / inner) * len * inner + r % inner;
}

// x: (outer, len, inner) -> y: the same; y = softmax or (log_out) log_softmax along len
__kernel void softmax_rows(const int rows, const int len, const int inner, const int log_out,
                           __global const float *x, const int ox, __global float *y, const int oy)
{
    const int r = get_global_id(0);
    if (r >= rows)
        return;
    const int base = softmax_row_base(r, len, inner);
    __global const float *xr = x + ox + base;
    __global float *yr = y + oy + base;
    float m = -INFINITY;
    for (int j = 0; j < len; j++)
        m = fmax(m, xr[j * inner]);
    float s = 0.0f;
    for (int j = 0; j < len; j++)
        s += exp(xr[j * inner] - m);
    if (log_out) {
        const float ls = log(s);
        for (int j = 0; j < len; j++)
            yr[j * inner] = (xr[j * inner] - m) - ls;
    } else {
        const float inv = 1.0f / s;
        for (int j = 0; j < len; j++)
            yr[j * inner] = exp(xr[j * inner] - m) * inv;
    }
}

// The part of a row that work-item lid of a group handles: contiguous slices on CPUs (which run
// a group's work-items one after another), interleaved on GPUs (neighbours read neighbours).
#ifdef CLNN_DEVICE_CPU
#define SOFTMAX_SLICE(lid, len, begin, end, step)                                                  \
    const int sub_ = ((len) + SOFTMAX_WG - 1) / SOFTMAX_WG;                                        \
    const int begin = (lid)*sub_, end = min((len), begin + sub_), step = 1
#else
#define SOFTMAX_SLICE(lid, len, begin, end, step)                                                  \
    const int begin = (lid), end = (len), step = SOFTMAX_WG
#endif

// work-group r handles row r; x: (outer, len, inner) -> y: the same
__kernel __attribute__((reqd_work_group_size(SOFTMAX_WG, 1, 1))) void
softmax_group(const int rows, const int len, const int inner, const int log_out,
              __global const float *x, const int ox, __global float *y, const int oy)
{
    __local float red[SOFTMAX_WG];
    // no early return before a barrier, even a uniform one (POCL miscompiles it): a group past
    // the end (none with the host's exact launch) would recompute the last row
    const int r = min((int)get_group_id(0), rows - 1), lid = get_local_id(0);
    const int base = softmax_row_base(r, len, inner);
    __global const float *xr = x + ox + base;
    __global float *yr = y + oy + base;
    SOFTMAX_SLICE(lid, len, begin, end, step);
    float m = -INFINITY;
    for (int j = begin; j < end; j += step)
        m = fmax(m, xr[j * inner]);
    m = clnn_group_max(red, m);
    float s = 0.0f;
    for (int j = begin; j < end; j += step)
        s += exp(xr[j * inner] - m);
    s = clnn_group_sum(red, s);
    if (log_out) {
        const float ls = log(s);
        for (int j = begin; j < end; j += step)
            yr[j * inner] = (xr[j * inner] - m) - ls;
    } else {
        const float inv = 1.0f / s;
        for (int j = begin; j < end; j += step)
            yr[j * inner] = exp(xr[j * inner] - m) * inv;
    }
}

// y (the forward output), dy: (outer, len, inner) -> dx: the same, along len:
//   softmax      dx = y (dy - sum(dy y))
//   log_softmax  dx = dy - e^y sum(dy)
__kernel void softmax_bwd_rows(const int rows, const int len, const int inner, const int log_out,
                               __global const float *y, const int oy, __global const float *dy,
                               const int ody, __global float *dx, const int odx)
{
    const int r = get_global_id(0);
    if (r >= rows)
        return;
    const int base = softmax_row_base(r, len, inner);
    __global const float *yr = y + oy + base;
    __global const float *dyr = dy + ody + base;
    __global float *dxr = dx + odx + base;
    float s = 0.0f;
    for (int j = 0; j < len; j++)
        s += log_out ? dyr[j * inner] : dyr[j * inner] * yr[j * inner];
    for (int j = 0; j < len; j++) {
        const int k = j * inner;
        dxr[k] = log_out ? dyr[k] - exp(yr[k]) * s : yr[k] * (dyr[k] - s);
    }
}

__kernel __attribute__((reqd_work_group_size(SOFTMAX_WG, 1, 1))) void
softmax_bwd_group(const int rows, const int len, const int inner, const int log_out,
                  __global const float *y, const int oy, __global const float *dy, const int ody,
                  __global float *dx, const int odx)
{
    __local float red[SOFTMAX_WG];
    const int r = min((int)get_group_id(0), rows - 1), lid = get_local_id(0); // as above
    const int base = softmax_row_base(r, len, inner);
    __global const float *yr = y + oy + base;
    __global const float *dyr = dy + ody + base;
    __global float *dxr = dx + odx + base;
    SOFTMAX_SLICE(lid, len, begin, end, step);
    float s = 0.0f;
    for (int j = begin; j < end; j += step)
        s += log_out ? dyr[j * inner] : dyr[j * inner] * yr[j * inner];
    s = clnn_group_sum(red, s);
    for (int j = begin; j < end; j += step) {
        const int k = j * inner;
        dxr[k] = log_out ? dyr[k] - exp(yr[k]) * s : yr[k] * (dyr[k] - s);
    }
}
