// sum.cl — sums over any set of axes, scaled (scale = 1/count makes the mean).
// The host describes the input as an output index space plus a reduced index space:
//   meta[0]                 ndim of the kept (output) space, meta[1..] its shape,
//   meta[1+MAX..]           input strides of the kept axes,
//   meta[1+2*MAX]           rdim, meta[2+2*MAX..] the reduced shape,
//   meta[2+3*MAX..]         input strides of the reduced axes.
// GPU kernels: sum_serial, one work-item per output, when outputs are many or the reduction
// short; otherwise sum_partial splits each output's reduction over `chunks` work-groups (a tree
// in local memory, a barrier after every step, neighbouring work-items read neighbouring
// elements).
// CPU kernels (POCL runs a work-group as one task and does not vectorise these loops itself):
// work-items in groups of one, each a span of work of about total / (8 compute units), with
// float16 accumulators over contiguous memory. sum_rows when the innermost input axis is reduced
// (runs of the reduction are contiguous), sum_cols when it is kept (a row of the reduction holds
// neighbouring outputs).
// Both paths write partial sums (nout, chunks) when an output's reduction is split, and sum_finish
// adds them in chunk order: a full reduction uses every compute unit, no float atomics are
// needed, and the order of additions is fixed by the shape and the device, never by timing.

#ifndef SUM_WG
#define SUM_WG 64
#endif
#ifndef SUM_COL_VECS
#define SUM_COL_VECS 4 // sum_cols: float16 accumulators per work-item, 16 outputs each
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

#ifndef SUM_BLOCK
#define SUM_BLOCK 64 // CPU kernels: vector steps (or rows) added into a block sum, then the total
#endif

// The sum of n contiguous floats, sixteen per step into a float16 (CPU kernels: POCL does not
// vectorise a work-item's loop itself); a block of SUM_BLOCK steps is summed apart, so a lane's
// rounding error grows with n / (16 SUM_BLOCK) + SUM_BLOCK, not n / 16; the lanes are added
// pairwise at the end, the tail after.
inline float clnn_sum_run16(__global const float *p, const int n)
{
    float16 v = (float16)(0.0f);
    int k = 0;
    while (k + 16 <= n) {
        const int end = min(n, k + 16 * SUM_BLOCK);
        float16 blk = (float16)(0.0f);
        for (; k + 16 <= end; k += 16)
            blk += vload16(0, p + k);
        v += blk;
    }
    const float8 v8 = v.lo + v.hi;
    const float4 v4 = v8.lo + v8.hi;
    const float2 v2 = v4.lo + v4.hi;
    float acc = v2.x + v2.y;
    for (; k < n; k++)
        acc += p[k];
    return acc;
}

// The sum of x[base + reduced offset of r] for r in [b, e): the offset of b is computed once,
// then advanced like an odometer (no integer division per element). vec (a constant at each
// call): runs along a contiguous last reduced axis go through clnn_sum_run16.
inline float clnn_sum_range(__global const float *x, const int base, const int b, const int e,
                            __global const int *meta, const int vec)
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
        if (vec && st == 1)
            return clnn_sum_run16(x + base + b, e - b);
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
        if (vec && st_last == 1) {
            acc += clnn_sum_run16(x + off, run);
        } else {
            for (int k = 0; k < run; k++)
                acc += x[off + k * st_last];
        }
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

// ---- GPU kernels ----------------------------------------------------------------------------
// x: (kept..., reduced...) strided -> y: (kept...)
__kernel void sum_serial(const int nout, const int nred, const float scale,
                         __global const int *meta, __global const float *x, const int ox,
                         __global float *y, const int oy)
{
    const int o = get_global_id(0);
    if (o >= nout)
        return;
    const int base = ox + clnn_strided_offset(o, meta, 0);
    y[oy + o] = clnn_sum_range(x, base, 0, nred, meta, 0) * scale;
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
    for (int r = begin + lid; r < end; r += SUM_WG)
        acc += x[base + clnn_sum_reduced_offset(r, meta)];
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

// ---- CPU kernels: work-groups of one work-item -----------------------------------------------
// x: (kept..., reduced...) strided, the innermost axis reduced -> out: (nout, chunks),
// out[oo + o * chunks + c] = scale * the sum of reduced indexes [c * per, (c + 1) * per) of
// output o. Work-item g takes chunk g % chunks of the outputs [(g / chunks) * outs, + outs)
// (outs > 1 only when chunks == 1: then out is y itself).
__kernel void sum_rows(const int nout, const int nred, const int chunks, const int per,
                       const int outs, const float scale, __global const int *meta,
                       __global const float *x, const int ox, __global float *out, const int oo)
{
    const int g = get_global_id(0);
    const int c = g % chunks, o0 = (g / chunks) * outs, o1 = min(nout, o0 + outs);
    const int b = c * per, e = min(nred, b + per);
    for (int o = o0; o < o1; o++)
        out[oo + o * chunks + c] =
            clnn_sum_range(x, ox + clnn_strided_offset(o, meta, 0), b, e, meta, 1) * scale;
}

// One output of sum_cols: out[oo + o * chunks + c] = v * scale (vstore when out is y itself)
inline void clnn_sum_cols_store(const float16 v, const int o, const int chunks, const int c,
                                const float scale, __global float *out, const int oo)
{
    if (chunks == 1) {
        vstore16(v * scale, 0, out + oo + o);
        return;
    }
    float t[16];
    vstore16(v, 0, t);
    for (int q = 0; q < 16; q++)
        out[oo + (o + q) * chunks + c] = t[q] * scale;
}

// x: (kept..., reduced..., m) strided, the innermost axis kept (m columns, stride 1) -> out as
// sum_rows. The outputs o = ko * m + j are cut into blocks of COLS = 16 * SUM_COL_VECS columns
// (nblk_row per ko, nblocks in all, the last of a row narrower); work-item g adds the reduced
// rows [c * per, (c + 1) * per), c = g % chunks, of the blocks [(g / chunks) * blocks, + blocks):
// every row of a block is COLS contiguous floats, added into SUM_COL_VECS float16s.
__kernel void sum_cols(const int m, const int nblocks, const int nblk_row, const int nred,
                       const int chunks, const int per, const int blocks, const float scale,
                       __global const int *meta, __global const float *x, const int ox,
                       __global float *out, const int oo)
{
    const int COLS = 16 * SUM_COL_VECS;
    const int g = get_global_id(0);
    const int c = g % chunks, b0 = (g / chunks) * blocks, b1 = min(nblocks, b0 + blocks);
    const int r0 = c * per, r1 = min(nred, r0 + per);
    for (int blk = b0; blk < b1; blk++) {
        const int j0 = (blk % nblk_row) * COLS, w = min(COLS, m - j0);
        const int o = (blk / nblk_row) * m + j0;
        __global const float *xo = x + ox + clnn_strided_offset(o, meta, 0);
        float16 acc[SUM_COL_VECS];
        for (int v = 0; v < SUM_COL_VECS; v++)
            acc[v] = (float16)(0.0f);
        if (w == COLS) {
            // blocks of SUM_BLOCK rows summed apart, as clnn_sum_run16
            for (int rb = r0; rb < r1; rb += SUM_BLOCK) {
                const int re = min(r1, rb + SUM_BLOCK);
                float16 blk[SUM_COL_VECS];
                for (int v = 0; v < SUM_COL_VECS; v++)
                    blk[v] = (float16)(0.0f);
                for (int r = rb; r < re; r++) {
                    __global const float *p = xo + clnn_sum_reduced_offset(r, meta);
                    for (int v = 0; v < SUM_COL_VECS; v++)
                        blk[v] += vload16(v, p);
                }
                for (int v = 0; v < SUM_COL_VECS; v++)
                    acc[v] += blk[v];
            }
            for (int v = 0; v < SUM_COL_VECS; v++)
                clnn_sum_cols_store(acc[v], o + 16 * v, chunks, c, scale, out, oo);
            continue;
        }
        // the narrower last block of a row: whole float16s, then single columns
        const int nv = w / 16, tail = w - 16 * nv;
        float rest[16];
        for (int q = 0; q < 16; q++)
            rest[q] = 0.0f;
        for (int r = r0; r < r1; r++) {
            __global const float *p = xo + clnn_sum_reduced_offset(r, meta);
            for (int v = 0; v < nv; v++)
                acc[v] += vload16(v, p);
            for (int q = 0; q < tail; q++)
                rest[q] += p[16 * nv + q];
        }
        for (int v = 0; v < nv; v++)
            clnn_sum_cols_store(acc[v], o + 16 * v, chunks, c, scale, out, oo);
        for (int q = 0; q < tail; q++)
            out[oo + (o + 16 * nv + q) * chunks + c] = rest[q] * scale;
    }
}

// ---- both paths -------------------------------------------------------------------------------
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
