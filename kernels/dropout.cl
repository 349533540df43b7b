// dropout.cl — inverted dropout with the counter-based RNG Philox4x32-10 (Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123 reference): no state, no
// host traffic, and the backward pass recomputes exactly the mask of the forward pass.
// Element i of a tensor uses word i % 4 of philox4x32_10(counter, key) with
//   counter = (i / 4, run_lo, run_hi, 0)   (run = the graph's completed runs)
//   key     = (seed_lo, seed_hi)
// and is dropped when that word is below threshold = floor(p 2^32); kept elements are scaled by
// 1/(1-p). The host reference in tests/ref/ref_act.c follows the same rule bit for bit.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

inline uint4 philox4x32_10(uint4 ctr, uint2 key)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0)
            key += (uint2)(PHILOX_W0, PHILOX_W1);
        const uint hi0 = mul_hi(PHILOX_M0, ctr.x), lo0 = PHILOX_M0 * ctr.x;
        const uint hi1 = mul_hi(PHILOX_M1, ctr.z), lo1 = PHILOX_M1 * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
    }
    return ctr;
}

// x: (n) -> y: (n); work-item q handles elements 4q .. 4q+3. y = x * (dropped ? 0 : scale)
// (a NaN or inf input stays NaN, as in PyTorch). threshold 0 (evaluation mode, p = 0) copies x.
// The backward pass runs the same kernel on dy with the same seed and run: dx = mask scale dy.
__kernel void dropout(const int n, const uint threshold, const float scale, const uint seed_lo,
                      const uint seed_hi, const uint run_lo, const uint run_hi,
                      __global const float *x, const int ox, __global float *y, const int oy)
{
    const int q = get_global_id(0);
    if (q > (n - 1) / 4)
        return;
    const int i0 = 4 * q;
    if (threshold == 0u) {
        for (int k = 0; k < 4 && i0 + k < n; k++)
            y[oy + i0 + k] = x[ox + i0 + k];
        return;
    }
    const uint4 r = philox4x32_10((uint4)((uint)q, run_lo, run_hi, 0u), (uint2)(seed_lo, seed_hi));
    const uint u[4] = {r.x, r.y, r.z, r.w};
    for (int k = 0; k < 4 && i0 + k < n; k++)
        y[oy + i0 + k] = x[ox + i0 + k] * (u[k] < threshold ? 0.0f : scale);
}
