// norm.cl — batch normalisation and layer normalisation (src/ops/op_norm.c).
// Batchnorm sees x as (N, C, S) (S = the product of the spatial axes, 1 for (N, C)) and reduces
// each channel over its N * S values in two steps: *_partial kernels give every (channel, chunk)
// work-group a slice, reduced in local memory (a barrier after every phase), and *_finish kernels
// combine the chunks of a channel in a fixed order — deterministic, no float atomics. The variance
// comes from per-work-item shifted sums merged with Chan's formula (no E[x^2] - E[x]^2
// cancellation). Layernorm sees x as (M, K) rows (K = the product of the normalised axes): one
// work-group per row for statistics and dx, column sums split over row chunks for dgamma, dbeta.
// Statistics tensors are (2, C) or (2, M): row 0 the mean, row 1 1/sqrt(var + eps).
// Local sizes are powers of two <= NORM_WG chosen by the host.

#ifndef NORM_WG
#define NORM_WG 256
#endif

// (n, mean, m2) += (nb, mb, qb): Chan et al.'s pairwise update of count, mean and the sum of
// squared deviations
inline void norm_merge(int *n, float *mean, float *m2, const int nb, const float mb, const float qb)
{
    if (nb == 0)
        return;
    if (*n == 0) {
        *n = nb;
        *mean = mb;
        *m2 = qb;
        return;
    }
    const int nn = *n + nb;
    const float d = mb - *mean, f = (float)nb / (float)nn;
    *mean += d * f;
    *m2 += qb + d * d * (float)(*n) * f;
    *n = nn;
}

inline float norm_sum8(const float8 v)
{
    const float4 h = v.lo + v.hi;
    return (h.x + h.y) + (h.z + h.w);
}

// The statistics of the values [begin, end) of channel c of x: (N, C, S) for this work-item,
// merged over the work-group into lc/lm/lq[0]. Values r = n S + s of the channel live at
// x[(n C + c) S + s].
inline void bn_group_stats(const int C, const int S, const int c, const int begin, const int end,
                           __global const float *x, __local int *lc, __local float *lm,
                           __local float *lq)
{
    const int lid = get_local_id(0), L = get_local_size(0);
    int cnt = 0;
    float shift = 0.0f, s1 = 0.0f, s2 = 0.0f;
#ifdef CLNN_DEVICE_CPU
    // CPUs run a group's work-items one after another: a contiguous slice each, walked in runs
    // that stay inside one (n, c) row
    const int sub = (end - begin + L - 1) / L;
    const int b = begin + lid * sub, e = min(end, b + sub);
    if (b < e)
        shift = x[((b / S) * C + c) * S + b % S];
    for (int r = b; r < e;) {
        const int n = r / S, s = r - n * S, len = min(S - s, e - r);
        __global const float *row = x + (n * C + c) * S + s;
        float8 a1 = 0.0f, a2 = 0.0f; // 8 independent sums: the adds do not wait on each other
        int t = 0;
        for (; t + 8 <= len; t += 8) {
            const float8 v = vload8(0, row + t) - shift;
            a1 += v;
            a2 += v * v;
        }
        for (; t < len; t++) {
            const float v = row[t] - shift;
            s1 += v;
            s2 += v * v;
        }
        s1 += norm_sum8(a1);
        s2 += norm_sum8(a2);
        cnt += len;
        r += len;
    }
#else
    // GPUs: neighbouring work-items read neighbouring values
    if (begin + lid < end) {
        int n = (begin + lid) / S, s = begin + lid - n * S;
        shift = x[(n * C + c) * S + s];
        for (int r = begin + lid; r < end; r += L) {
            const float v = x[(n * C + c) * S + s] - shift;
            s1 += v;
            s2 += v * v;
            cnt++;
            s += L;
            if (s >= S) {
                const int q = s / S;
                n += q;
                s -= q * S;
            }
        }
    }
#endif
    lc[lid] = cnt;
    lm[lid] = cnt ? shift + s1 / (float)cnt : 0.0f;
    lq[lid] = cnt ? fmax(s2 - s1 * s1 / (float)cnt, 0.0f) : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h >>= 1) {
        if (lid < h) {
            int n0 = lc[lid];
            float m0 = lm[lid], q0 = lq[lid];
            norm_merge(&n0, &m0, &q0, lc[lid + h], lm[lid + h], lq[lid + h]);
            lc[lid] = n0;
            lm[lid] = m0;
            lq[lid] = q0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// x: (N, C, S) -> partial: (C, chunks, 3) = (count, mean, m2) of values [chunk per, +per) of
// each channel; one work-group per (channel, chunk)
__kernel void bn_stats_partial(const int C, const int S, const int nred, const int chunks,
                               const int per, __global const float *x, const int ox,
                               __global float *partial)
{
    __local int lc[NORM_WG];
    __local float lm[NORM_WG], lq[NORM_WG];
    const int g = get_group_id(0);
    const int c = g / chunks, chunk = g % chunks;
    const int begin = chunk * per, end = min(nred, begin + per);
    bn_group_stats(C, S, c, begin, end, x + ox, lc, lm, lq);
    if (get_local_id(0) == 0) {
        partial[3 * g] = as_float(lc[0]); // the count's bits: exact beyond 2^24
        partial[3 * g + 1] = lm[0];
        partial[3 * g + 2] = lq[0];
    }
}

// partial: (C, chunks, 3) -> stats: (2, C) = (mean, 1/sqrt(var + eps)) with the biased batch
// variance; the running statistics (C) are updated in place:
// running = (1 - momentum) running + momentum batch, the variance n/(n-1) scaled if unbiased
__kernel void bn_stats_finish(const int C, const int chunks, const float eps, const float momentum,
                              const int unbiased, __global const float *partial,
                              __global float *stats, const int os, __global float *rmean,
                              const int orm, __global float *rvar, const int orv)
{
    const int c = get_global_id(0);
    if (c >= C)
        return;
    int n = 0;
    float mean = 0.0f, m2 = 0.0f;
    for (int k = 0; k < chunks; k++) {
        __global const float *p = partial + 3 * (c * chunks + k);
        norm_merge(&n, &mean, &m2, as_int(p[0]), p[1], p[2]);
    }
    const float var = m2 / (float)n;
    stats[os + c] = mean;
    stats[os + C + c] = 1.0f / sqrt(var + eps);
    const float batch_var = unbiased ? m2 / (float)(n - 1) : var;
    rmean[orm + c] = (1.0f - momentum) * rmean[orm + c] + momentum * mean;
    rvar[orv + c] = (1.0f - momentum) * rvar[orv + c] + momentum * batch_var;
}

// running mean, var: (C) -> stats: (2, C) (evaluation mode)
__kernel void bn_stats_eval(const int C, const float eps, __global const float *rmean,
                            const int orm, __global const float *rvar, const int orv,
                            __global float *stats, const int os)
{
    const int c = get_global_id(0);
    if (c >= C)
        return;
    stats[os + c] = rmean[orm + c];
    stats[os + C + c] = 1.0f / sqrt(rvar[orv + c] + eps);
}

// x: (N C rows, S), stats: (2, C), gamma, beta: (C) (used when bits 0, 1 of affine are set)
// -> y: (N C, S) = (x - mean) invstd gamma + beta. The elementwise kernels run over (cols, rows)
// with a loop along the row: GPUs launch one work-item per column, CPUs one per row (a
// contiguous loop that vectorises, the row's constants loaded once).
__kernel void bn_apply(const int rows, const int C, const int S, const int affine,
                       __global const float *x, const int ox, __global const float *stats,
                       const int os, __global const float *gamma, const int og,
                       __global const float *beta, const int ob, __global float *y, const int oy)
{
    const int row = get_global_id(1);
    if (row >= rows)
        return;
    const int c = row % C;
    const float mean = stats[os + c], g = (affine & 1) ? gamma[og + c] : 1.0f;
    const float scale = stats[os + C + c] * g, shift = (affine & 2) ? beta[ob + c] : 0.0f;
    __global const float *xr = x + ox + row * S;
    __global float *yr = y + oy + row * S;
    for (int s = get_global_id(0); s < S; s += get_global_size(0))
        yr[s] = (xr[s] - mean) * scale + shift;
}

// dy, x: (N, C, S), stats: (2, C) -> partial: (C, chunks, 2) = (sum dy, sum dy (x - mean)) over
// the values [chunk per, +per) of each channel
__kernel void bn_bwd_partial(const int C, const int S, const int nred, const int chunks,
                             const int per, __global const float *dy, const int ody,
                             __global const float *x, const int ox, __global const float *stats,
                             const int os, __global float *partial)
{
    __local float l1[NORM_WG], l2[NORM_WG];
    const int g = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const int c = g / chunks, chunk = g % chunks;
    const int begin = chunk * per, end = min(nred, begin + per);
    const float mean = stats[os + c];
    float s1 = 0.0f, s2 = 0.0f;
#ifdef CLNN_DEVICE_CPU
    const int sub = (end - begin + L - 1) / L;
    const int b = begin + lid * sub, e = min(end, b + sub);
    for (int r = b; r < e;) {
        const int n = r / S, s = r - n * S, len = min(S - s, e - r);
        const int at = (n * C + c) * S + s;
        float8 a1 = 0.0f, a2 = 0.0f;
        int t = 0;
        for (; t + 8 <= len; t += 8) {
            const float8 d = vload8(0, dy + ody + at + t);
            a1 += d;
            a2 += d * (vload8(0, x + ox + at + t) - mean);
        }
        for (; t < len; t++) {
            const float d = dy[ody + at + t];
            s1 += d;
            s2 += d * (x[ox + at + t] - mean);
        }
        s1 += norm_sum8(a1);
        s2 += norm_sum8(a2);
        r += len;
    }
#else
    if (begin + lid < end) {
        int n = (begin + lid) / S, s = begin + lid - n * S;
        for (int r = begin + lid; r < end; r += L) {
            const int at = (n * C + c) * S + s;
            const float d = dy[ody + at];
            s1 += d;
            s2 += d * (x[ox + at] - mean);
            s += L;
            if (s >= S) {
                const int q = s / S;
                n += q;
                s -= q * S;
            }
        }
    }
#endif
    l1[lid] = s1;
    l2[lid] = s2;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h >>= 1) {
        if (lid < h) {
            l1[lid] += l1[lid + h];
            l2[lid] += l2[lid + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        partial[2 * g] = l1[0];
        partial[2 * g + 1] = l2[0];
    }
}

// partial: (C, chunks, 2), stats: (2, C) -> red: (2, C) = (sum dy, sum dy xhat)
__kernel void bn_bwd_finish(const int C, const int chunks, __global const float *partial,
                            __global const float *stats, const int os, __global float *red,
                            const int ored)
{
    const int c = get_global_id(0);
    if (c >= C)
        return;
    float s1 = 0.0f, s2 = 0.0f;
    for (int k = 0; k < chunks; k++) {
        s1 += partial[2 * (c * chunks + k)];
        s2 += partial[2 * (c * chunks + k) + 1];
    }
    red[ored + c] = s1;
    red[ored + C + c] = s2 * stats[os + C + c];
}

// dy, x: (N C rows, S), stats, red: (2, C), gamma: (C) if has_gamma -> dx: (N C, S), over
// (cols, rows) as bn_apply. training: dx = gamma invstd (dy - sum(dy)/n - xhat sum(dy xhat)/n)
// (batch statistics) evaluation: dx = gamma invstd dy (the running statistics are constants)
__kernel void bn_bwd_dx(const int rows, const int C, const int S, const int training,
                        const float inv_count, const int has_gamma, __global const float *dy,
                        const int ody, __global const float *x, const int ox,
                        __global const float *stats, const int os, __global const float *red,
                        const int ored, __global const float *gamma, const int og,
                        __global float *dx, const int odx)
{
    const int row = get_global_id(1);
    if (row >= rows)
        return;
    const int c = row % C;
    const float mean = stats[os + c], invstd = stats[os + C + c];
    const float scale = has_gamma ? gamma[og + c] * invstd : invstd;
    // dx = scale (dy - a - b (x - mean)): a, b are 0 in evaluation mode
    const float a = training ? red[ored + c] * inv_count : 0.0f;
    const float b = training ? red[ored + C + c] * inv_count * invstd : 0.0f;
    const int base = row * S;
    for (int s = get_global_id(0); s < S; s += get_global_size(0))
        dx[odx + base + s] = scale * (dy[ody + base + s] - a - b * (x[ox + base + s] - mean));
}

// t: (R, count) -> y: (count) = t[row]
__kernel void norm_row(const int count, const int row, __global const float *t, const int ot,
                       __global float *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < count)
        y[oy + i] = t[ot + row * count + i];
}

// ---- layer normalisation ---------------------------------------------------------------------

// x: (M, K) -> stats: (2, M); one work-group per row, two passes (mean, then squared deviations)
__kernel void ln_stats(const int M, const int K, const float eps, __global const float *x,
                       const int ox, __global float *stats, const int os)
{
    __local float l1[NORM_WG], l2[NORM_WG];
    const int m = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    __global const float *row = x + ox + m * K;
    float s = 0.0f;
    for (int k = lid; k < K; k += L)
        s += row[k];
    l1[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h >>= 1) {
        if (lid < h)
            l1[lid] += l1[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float mean = l1[0] / (float)K;
    float q = 0.0f;
    for (int k = lid; k < K; k += L) {
        const float d = row[k] - mean;
        q += d * d;
    }
    l2[lid] = q;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h >>= 1) {
        if (lid < h)
            l2[lid] += l2[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        stats[os + m] = mean;
        stats[os + M + m] = 1.0f / sqrt(l2[0] / (float)K + eps);
    }
}

// x: (M, K), stats: (2, M), gamma, beta: (K) (bits 0, 1 of affine) -> y: (M, K), over
// (cols, rows) as bn_apply. The arguments are those of bn_apply: rows M, nstat = M (the row length
// of stats), K.
__kernel void ln_apply(const int M, const int nstat, const int K, const int affine,
                       __global const float *x, const int ox, __global const float *stats,
                       const int os, __global const float *gamma, const int og,
                       __global const float *beta, const int ob, __global float *y, const int oy)
{
    const int m = get_global_id(1);
    if (m >= M)
        return;
    const float mean = stats[os + m], invstd = stats[os + nstat + m];
    __global const float *xr = x + ox + m * K;
    __global float *yr = y + oy + m * K;
    for (int k = get_global_id(0); k < K; k += get_global_size(0)) {
        float v = (xr[k] - mean) * invstd;
        if (affine & 1)
            v *= gamma[og + k];
        if (affine & 2)
            v += beta[ob + k];
        yr[k] = v;
    }
}

// dy, x: (M, K), stats: (2, M), gamma: (K) if has_gamma -> dx: (M, K); one work-group per row:
// g = dy gamma, dx = invstd (g - mean(g) - xhat mean(g xhat))
__kernel void ln_bwd_dx(const int M, const int K, const int has_gamma, __global const float *dy,
                        const int ody, __global const float *x, const int ox,
                        __global const float *stats, const int os, __global const float *gamma,
                        const int og, __global float *dx, const int odx)
{
    __local float l1[NORM_WG], l2[NORM_WG];
    const int m = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const float mean = stats[os + m], invstd = stats[os + M + m];
    const int base = m * K;
    float s1 = 0.0f, s2 = 0.0f;
    for (int k = lid; k < K; k += L) {
        const float gk = has_gamma ? dy[ody + base + k] * gamma[og + k] : dy[ody + base + k];
        s1 += gk;
        s2 += gk * (x[ox + base + k] - mean) * invstd;
    }
    l1[lid] = s1;
    l2[lid] = s2;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = L / 2; h > 0; h >>= 1) {
        if (lid < h) {
            l1[lid] += l1[lid + h];
            l2[lid] += l2[lid + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float mg = l1[0] / (float)K, mgx = l2[0] / (float)K;
    for (int k = lid; k < K; k += L) {
        const float gk = has_gamma ? dy[ody + base + k] * gamma[og + k] : dy[ody + base + k];
        const float xhat = (x[ox + base + k] - mean) * invstd;
        dx[odx + base + k] = invstd * (gk - mg - xhat * mgx);
    }
}

// dy, x: (M, K), stats: (2, M) -> partial: (chunks, 2, K) = (sum dy xhat, sum dy) over rows
// [chunk per, +per); work-item i = chunk K + k
__kernel void ln_param_partial(const int M, const int K, const int chunks, const int per,
                               __global const float *dy, const int ody, __global const float *x,
                               const int ox, __global const float *stats, const int os,
                               __global float *partial)
{
    const int i = get_global_id(0);
    if (i >= K * chunks)
        return;
    const int chunk = i / K, k = i - chunk * K;
    const int end = min(M, (chunk + 1) * per);
    float sg = 0.0f, sb = 0.0f;
    for (int m = chunk * per; m < end; m++) {
        const float d = dy[ody + m * K + k];
        sg += d * (x[ox + m * K + k] - stats[os + m]) * stats[os + M + m];
        sb += d;
    }
    partial[(2 * chunk) * K + k] = sg;
    partial[(2 * chunk + 1) * K + k] = sb;
}

// partial: (chunks, 2, K) -> out: (2, K) = (dgamma, dbeta), chunks added in order
__kernel void ln_param_finish(const int K, const int chunks, __global const float *partial,
                              __global float *out, const int oo)
{
    const int i = get_global_id(0);
    if (i >= 2 * K)
        return;
    const int which = i / K, k = i - which * K;
    float s = 0.0f;
    for (int c = 0; c < chunks; c++)
        s += partial[(2 * c + which) * K + k];
    out[oo + i] = s;
}
