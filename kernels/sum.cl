// sum.cl — sums over any set of axes, scaled (scale = 1/count makes the mean).
// The host describes the input as an output index space plus a reduced index space:
//   meta[0]                 ndim of the kept (output) space, meta[1..] its shape,
//   meta[1+MAX..]           input strides of the kept axes,
//   meta[1+2*MAX]           rdim, meta[2+2*MAX..] the reduced shape,
//   meta[2+3*MAX..]         input strides of the reduced axes.
// Kernels: sum_serial, one work-item per output, when outputs are many or the reduction short;
// otherwise sum_partial splits each output's reduction over `chunks` work-groups (a tree in local
// memory, a barrier after every step) and sum_finish adds the partial sums: a full reduction then
// uses every compute unit, and no float atomics are needed.

#ifndef SUM_WG
#define SUM_WG 64
#endif

inline int clnn_sum_reduced_offset(int r, __global const int *meta)
{
    __global const int *rmeta = meta + 1 + 2 * CLNN_MAX_DIMS;
    const int rdim = rmeta[0];
    __global const int *rshape = rmeta + 1;
    __global const int *rstrides = rmeta + 1 + CLNN_MAX_DIMS;
    if (rdim == 1)
        return r * rstrides[0];
    int off = 0;
    for (int d = rdim - 1; d >= 0; d--) {
        off += (r % rshape[d]) * rstrides[d];
        r /= rshape[d];
    }
    return off;
}

// The sum of x[base + reduced offset of r] for r in [b, e): the offset of b is computed once,
// then advanced like an odometer (no integer division per element).
inline float clnn_sum_range(__global const float *x, const int base, const int b, const int e,
                            __global const int *meta)
{
    __global const int *rmeta = meta + 1 + 2 * CLNN_MAX_DIMS;
    const int rdim = rmeta[0];
    __global const int *rshape = rmeta + 1;
    __global const int *rstrides = rmeta + 1 + CLNN_MAX_DIMS;
    float acc = 0.0f;
    if (b >= e)
        return acc;
    if (rdim == 1) {
        const int st = rstrides[0];
        for (int r = b; r < e; r++)
            acc += x[base + r * st];
        return acc;
    }
    int idx[CLNN_MAX_DIMS];
    int rem = b, off = base;
    for (int d = rdim - 1; d >= 0; d--) {
        idx[d] = rem % rshape[d];
        off += idx[d] * rstrides[d];
        rem /= rshape[d];
    }
    const int last = rdim - 1, n_last = rshape[last], st_last = rstrides[last];
    int r = b;
    while (r < e) {
        /* a run along the last reduced axis */
        const int run = min(n_last - idx[last], e - r);
        for (int k = 0; k < run; k++)
            acc += x[off + k * st_last];
        r += run;
        off += run * st_last;
        idx[last] += run;
        /* carry */
        for (int d = last; d > 0 && idx[d] == rshape[d]; d--) {
            off += rstrides[d - 1] - rshape[d] * rstrides[d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
    return acc;
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
    y[oy + o] = clnn_sum_range(x, base, 0, nred, meta) * scale;
}

// work-group g = o * chunks + c sums reduced indexes [c * per, min(nred, (c + 1) * per)) of
// output o into partial[g]; partial: (nout, chunks)
__kernel __attribute__((reqd_work_group_size(SUM_WG, 1, 1)))
void sum_partial(const int nred, const int chunks, const int per, __global const int *meta,
                 __global const float *x, const int ox, __global float *partial)
{
    __local float part[SUM_WG];
    const int g = get_group_id(0);
    const int o = g / chunks, c = g % chunks;
    const int lid = get_local_id(0);
    const int base = ox + clnn_strided_offset(o, meta, 0);
    const int begin = c * per, end = min(nred, (c + 1) * per);
    float acc = 0.0f;
#ifdef CLNN_DEVICE_CPU
    // CPUs run the work-items of a group one after another: give each a contiguous slice
    const int sub = (end - begin + SUM_WG - 1) / SUM_WG;
    const int b = begin + lid * sub, e = min(end, b + sub);
    acc = clnn_sum_range(x, base, b, e, meta);
#else
    // GPUs: neighbouring work-items read neighbouring elements
    for (int r = begin + lid; r < end; r += SUM_WG)
        acc += x[base + clnn_sum_reduced_offset(r, meta)];
#endif
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = SUM_WG / 2; s > 0; s >>= 1) {
        if (lid < s)
            part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        partial[g] = part[0];
}

// partial: (nout, chunks) -> y: (nout)
__kernel void sum_finish(const int nout, const int chunks, const float scale,
                         __global const float *partial, __global float *y, const int oy)
{
    const int o = get_global_id(0);
    if (o >= nout)
        return;
    float acc = 0.0f;
    for (int c = 0; c < chunks; c++)
        acc += partial[o * chunks + c];
    y[oy + o] = acc * scale;
}
