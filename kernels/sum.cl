// sum.cl — sums over any set of axes, scaled (scale = 1/count makes the mean).
// The host describes the input as an output index space plus a reduced index space:
//   meta[0]                 ndim of the kept (output) space, meta[1..] its shape,
//   meta[1+MAX..]           input strides of the kept axes,
//   meta[1+2*MAX]           rdim, meta[2+2*MAX..] the reduced shape,
//   meta[2+3*MAX..]         input strides of the reduced axes.
// Two kernels: one work-item per output when outputs are many or the reduction is short, one
// work-group per output (tree in local memory, a barrier after every step) otherwise.

#ifndef SUM_WG
#define SUM_WG 64
#endif

inline int clnn_sum_reduced_offset(int r, __global const int *meta)
{
    __global const int *rmeta = meta + 1 + 2 * CLNN_MAX_DIMS;
    const int rdim = rmeta[0];
    __global const int *rshape = rmeta + 1;
    __global const int *rstrides = rmeta + 1 + CLNN_MAX_DIMS;
    int off = 0;
    for (int d = rdim - 1; d >= 0; d--) {
        off += (r % rshape[d]) * rstrides[d];
        r /= rshape[d];
    }
    return off;
}

// x: (kept..., reduced...) strided -> y: (kept...)
__kernel void sum_serial(const int nout, const int nred, const float scale,
                         __global const int *meta, __global const float *x, const int ox,
                         __global float *y, const int oy)
{
    const int o = get_global_id(0);
    if (o >= nout)
        return;
    const int base = ox + clnn_strided_offset(o, meta, 0);
    float acc = 0.0f;
    for (int r = 0; r < nred; r++)
        acc += x[base + clnn_sum_reduced_offset(r, meta)];
    y[oy + o] = acc * scale;
}

// one work-group of SUM_WG work-items per output element
__kernel __attribute__((reqd_work_group_size(SUM_WG, 1, 1)))
void sum_group(const int nout, const int nred, const float scale, __global const int *meta,
               __global const float *x, const int ox, __global float *y, const int oy)
{
    __local float part[SUM_WG];
    const int o = get_group_id(0);
    const int lid = get_local_id(0);
    const int base = ox + clnn_strided_offset(o, meta, 0);
    float acc = 0.0f;
    for (int r = lid; r < nred; r += SUM_WG)
        acc += x[base + clnn_sum_reduced_offset(r, meta)];
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = SUM_WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0 && o < nout)
        y[oy + o] = part[0] * scale;
}
