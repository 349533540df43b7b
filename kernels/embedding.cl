// embedding.cl — embedding lookup and its deterministic backward (src/ops/op_embedding.c).
// Forward: one row copy per position (a work-item per element on GPUs, per row on CPUs); an
// index outside [0, V) reads zeros.
// Backward without float atomics: every position p with a valid index v (not the padding index)
// becomes the 64-bit key (v << 32 | p); the keys (padded with ~0 to n2, a power of two) are sorted
// by a bitonic network — emb_sort_local sorts blocks of 2L keys in local memory (and runs the last
// steps, j < 2L, of each larger stage), emb_sort_global runs one step j >= 2L of a stage — so the
// positions of each row end up contiguous and in ascending order. emb_bwd_sum then finds each
// row's key range by binary search and sums dy over the row's positions in ascending position
// order for every column d: the same order on every run and every device (whatever the range
// shape), and rows without occurrences get zeros.

#ifndef EMB_SORT_MAX_WG
#define EMB_SORT_MAX_WG 256
#endif

#define EMB_NONE (~(ulong)0)

// indices: (P), w: (V, D) -> y: (P, D); work-item (d0, p) copies d = d0, d0 + width, ... of
// row p (GPUs: one d each; CPUs: width 1, the whole row)
__kernel void embedding_fwd(const int P, const int D, const int V, __global const int *indices,
                            const int oi, __global const float *w, const int ow, __global float *y,
                            const int oy)
{
    const int p = get_global_id(1);
    if (p >= P)
        return;
    const int v = indices[oi + p];
    const int ok = v >= 0 && v < V;
    __global const float *src = w + ow + (ok ? v : 0) * D;
    __global float *dst = y + oy + p * D;
    for (int d = get_global_id(0); d < D; d += get_global_size(0))
        dst[d] = ok ? src[d] : 0.0f;
}

// the sort key of position i: (v << 32 | i), or EMB_NONE for padding, out-of-range indices and
// the positions beyond P
inline ulong emb_key(const int i, const int P, const int V, const int pad,
                     __global const int *indices)
{
    if (i >= P)
        return EMB_NONE;
    const int v = indices[i];
    if (v < 0 || v >= V || v == pad)
        return EMB_NONE;
    return ((ulong)(uint)v << 32) | (ulong)(uint)i;
}

// one compare-exchange of step j of stage k on the local block that starts at key `base`
inline void emb_local_step(__local ulong *lk, const int base, const int k, const int j)
{
    const int t = get_local_id(0);
    const int i = ((t & ~(j - 1)) << 1) | (t & (j - 1)), l = i + j;
    const int up = ((base + i) & k) == 0;
    const ulong a = lk[i], b = lk[l];
    if ((a > b) == up) {
        lk[i] = b;
        lk[l] = a;
    }
}

// keys: (n2). mode 0: block g (2L keys) is made from the indices: (P) and sorted (stages up to
// 2L); mode 1: the steps j = L .. 1 of stage k run on the block. Local size L, a power of two.
__kernel void emb_sort_local(const int mode, const int k, const int P, const int V, const int pad,
                             __global const int *indices, const int oi, __global ulong *keys)
{
    __local ulong lk[2 * EMB_SORT_MAX_WG];
    const int L = get_local_size(0), t = get_local_id(0), B = 2 * L;
    const int base = get_group_id(0) * B;
    if (mode == 0) {
        lk[t] = emb_key(base + t, P, V, pad, indices + oi);
        lk[t + L] = emb_key(base + t + L, P, V, pad, indices + oi);
    } else {
        lk[t] = keys[base + t];
        lk[t + L] = keys[base + t + L];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (mode == 0) {
        for (int kk = 2; kk <= B; kk <<= 1)
            for (int j = kk >> 1; j > 0; j >>= 1) {
                emb_local_step(lk, base, kk, j);
                barrier(CLK_LOCAL_MEM_FENCE);
            }
    } else {
        for (int j = L; j > 0; j >>= 1) {
            emb_local_step(lk, base, k, j);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    keys[base + t] = lk[t];
    keys[base + t + L] = lk[t + L];
}

// keys: (n2): step j of stage k over the whole array, one work-item per compare-exchange
__kernel void emb_sort_global(const int pairs, const int k, const int j, __global ulong *keys)
{
    const int t = get_global_id(0);
    if (t >= pairs)
        return;
    const int i = ((t & ~(j - 1)) << 1) | (t & (j - 1)), l = i + j;
    const int up = (i & k) == 0;
    const ulong a = keys[i], b = keys[l];
    if ((a > b) == up) {
        keys[i] = b;
        keys[l] = a;
    }
}

// the first index of keys: (n) sorted, whose key is >= want
inline int emb_lower_bound(__global const ulong *keys, const int n, const ulong want)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (keys[mid] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

// keys: (n2) sorted, dy: (P, D) -> dw: (V, D); work-item (d0, v) finds row v's key range and
// sums columns d = d0, d0 + width, ... over it in ascending position order (GPUs: one d each;
// CPUs: width 1, the whole row)
__kernel void emb_bwd_sum(const int V, const int D, const int n2, __global const ulong *keys,
                          __global const float *dy, const int ody, __global float *dw,
                          const int odw)
{
    const int v = get_global_id(1);
    if (v >= V)
        return;
    const int lo = emb_lower_bound(keys, n2, (ulong)(uint)v << 32);
    const int hi = emb_lower_bound(keys, n2, (ulong)(uint)(v + 1) << 32);
    const int d0 = get_global_id(0), width = get_global_size(0);
#ifdef CLNN_DEVICE_CPU
    // position-major: contiguous rows of dy added into the row of dw (vectorises); every dw[v, d]
    // still sees the same additions in the same order as below, so the bits agree
    __global float *row = dw + odw + v * D;
    for (int d = d0; d < D; d += width)
        row[d] = 0.0f;
    for (int i = lo; i < hi; i++) {
        __global const float *src = dy + ody + (int)(keys[i] & 0xffffffffUL) * D;
        for (int d = d0; d < D; d += width)
            row[d] += src[d];
    }
#else
    for (int d = d0; d < D; d += width) {
        float acc = 0.0f;
        for (int i = lo; i < hi; i++)
            acc += dy[ody + (int)(keys[i] & 0xffffffffUL) * D + d];
        dw[odw + v * D + d] = acc;
    }
#endif
}

// ids: (N, T) i32 -> lengths: (N) i32, the number of ids before the first `pad` id of each row
// (at least 1: an all-padding row counts one step, as an empty sequence cannot be run)
__kernel void sequence_lengths(const int N, const int T, const int pad, __global const int *ids,
                               const int oi, __global int *lengths, const int ol)
{
    const int n = get_global_id(0);
    if (n >= N)
        return;
    __global const int *row = ids + oi + n * T;
    int len = 0;
    while (len < T && row[len] != pad)
        len++;
    lengths[ol + n] = len > 0 ? len : 1;
}
