// common.cl — prepended to every kernel file when clnn builds a program (see src/core/program.c):
// tunables with defaults and the strided-index helper of broadcasting and layout kernels.
// Plain OpenCL C 1.2: no 2.0 features, no float atomics.

#ifndef CLNN_MAX_DIMS
#define CLNN_MAX_DIMS 6
#endif

// Layout of the int table ("meta") that strided kernels receive:
//   meta[0]                      ndim (<= CLNN_MAX_DIMS)
//   meta[1 .. 1+ndim)            output shape
//   meta[1+CLNN_MAX_DIMS*(k+1)]  strides (in elements) of operand k in output index space,
//                                0 along broadcast axes
#define CLNN_META_SHAPE(meta) ((meta) + 1)
#define CLNN_META_STRIDES(meta, k) ((meta) + 1 + CLNN_MAX_DIMS * ((k) + 1))

// Element offset of operand k for the linear output index i.
inline int clnn_strided_offset(int i, __global const int *meta, int k)
{
    const int ndim = meta[0];
    __global const int *shape = CLNN_META_SHAPE(meta);
    __global const int *strides = CLNN_META_STRIDES(meta, k);
    // the host merges contiguous axes, so one or two axes are the common cases
    if (ndim == 1)
        return i * strides[0];
    if (ndim == 2)
        return (i / shape[1]) * strides[0] + (i % shape[1]) * strides[1];
    int off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        const int n = shape[d];
        off += (i % n) * strides[d];
        i /= n;
    }
    return off;
}

// Tree reductions over the L = get_local_size(0) (a power of two) values v of a work-group in
// red[L]; every work-item gets the result. A barrier ends every step and the reduction itself, so
// red may be reused at once (two reductions in a row need that barrier on POCL).
inline float clnn_group_sum(__local float *red, const float v)
{
    const int lid = get_local_id(0), L = get_local_size(0);
    red[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = L / 2; s > 0; s >>= 1) {
        if (lid < s)
            red[lid] += red[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline float clnn_group_max(__local float *red, const float v)
{
    const int lid = get_local_id(0), L = get_local_size(0);
    red[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = L / 2; s > 0; s >>= 1) {
        if (lid < s)
            red[lid] = fmax(red[lid], red[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// The activation of a GEMM's or convolution's epilogue (gemm.cl, conv.cl, winograd.cl): act a
// clnn_activation code, CLNN_EPI_RELU, CLNN_EPI_LEAKY_RELU, CLNN_EPI_ELU (both with alpha >= 0,
// the host's rule: their backward then works from the output), CLNN_EPI_SIGMOID or CLNN_EPI_TANH
// (anything else: none), z of type T (float or a vector), the formulas of activation.cl (a ReLU
// maps NaN to 0 as z > 0 ? z : 0 does; sigmoid takes exp of a non-positive number only).
#define CLNN_EPI_RELU       1
#define CLNN_EPI_LEAKY_RELU 2
#define CLNN_EPI_ELU        3
#define CLNN_EPI_SIGMOID    4
#define CLNN_EPI_TANH       5
#define CLNN_EPI_ACT(T, act, alpha, z)                                                             \
    do {                                                                                           \
        if ((act) == CLNN_EPI_RELU) {                                                              \
            z = z > 0.0f ? z : (T)(0.0f);                                                          \
        } else if ((act) == CLNN_EPI_LEAKY_RELU) {                                                 \
            z = z > 0.0f ? z : (alpha)*z;                                                          \
        } else if ((act) == CLNN_EPI_ELU) {                                                        \
            z = z > 0.0f ? z : (alpha)*expm1(z);                                                   \
        } else if ((act) == CLNN_EPI_SIGMOID) {                                                    \
            const T e_ = exp(-fabs(z));                                                            \
            z = z >= 0.0f ? 1.0f / (1.0f + e_) : e_ / (1.0f + e_);                                 \
        } else if ((act) == CLNN_EPI_TANH) {                                                       \
            z = tanh(z);                                                                           \
        }                                                                                          \
    } while (0)

// 16 floats per work-item for elementwise kernels that POCL should run as AVX-512 code (explicit
// wide vectors; one work-item per element leaves exp, tanh, sqrt and divisions scalar): w (<= 16)
// floats at p, 0 past them (clnn_ld16); the first w lanes of v to p (clnn_st16). A block of
// fewer than 16 goes through a private copy.
inline float16 clnn_ld16(__global const float *p, const int w)
{
    if (w >= 16)
        return vload16(0, p);
    float t[16];
    for (int l = 0; l < 16; l++)
        t[l] = l < w ? p[l] : 0.0f;
    return vload16(0, t);
}

inline void clnn_st16(const float16 v, __global float *p, const int w)
{
    if (w >= 16) {
        vstore16(v, 0, p);
        return;
    }
    float t[16];
    vstore16(v, 0, t);
    for (int l = 0; l < w; l++)
        p[l] = t[l];
}
