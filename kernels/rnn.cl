// rnn.cl — the recurrent ops of src/ops/op_rnn.c: the fused per-step gate kernels of the forward
// pass and of backpropagation through time, the state initialisation, and the small helpers of
// the gradients (column sums, state copies) and of clnn_rnn_last (gather / scatter).
//
// mode: 0 RNN tanh, 1 RNN relu, 2 LSTM (gates i, f, g, o), 3 GRU (gates r, z, n); G gates of H
// each, GH = G H. Steps are counted in "step order" s = 0 .. T-1: sequence n has L = lengths[n]
// real steps (clamped to [0, T]; T without lengths); step s < L is time t = s (forward) or
// L - 1 - s (reverse), a step s >= L is padding at time t = s. The forward scratch holds
//   xp   (N, T, GH)  the input projection x W_ih^T; each real step replaces its row by the gate
//                    activations (for RNN: h itself)
//   gh   (N, GH)     h_{s} W_hh^T of the current step
//   hist (T+1, N, H) the hidden state before step s at slot s (slot 0: h0 or 0)
//   chist(T+1, N, H) the same for the LSTM cell state
//   ghn  (N, T, H)   GRU: W_hn h + b_hn of each real step (the r-scaled term)
//   whh_t(H, GH)     W_hh^T (rnn_transpose, or in the own SGEMM's panels), the B of the per-step
//                    GEMMs
// The step kernels take 16 consecutive j of one sample per work-item (RNN_W below), the others
// one element; no barriers, so the tail work-items simply return.

// The step kernels work on RNN_W = 16 consecutive j of one sample n per work-item, in float16:
// POCL runs a work-item's wide vectors as AVX-512 code and their exp / tanh as vector calls,
// where one work-item per (n, j) left the 5 transcendental functions of an LSTM step scalar
// (a step took 3x its GEMM). Loads and stores: common.cl's clnn_ld16 / clnn_st16.
#define RNN_W 16

inline float16 rnn_sigmoid(const float16 x)
{
    return 1.0f / (1.0f + exp(-x));
}

inline int rnn_len(const int has_len, __global const int *len, const int olen, const int n,
                   const int T)
{
    return has_len ? clamp(len[olen + n], 0, T) : T;
}

// hist slot 0 (and chist slot 0) = h0 (c0) or 0
__kernel void rnn_init(const int NH, const int has_h0, __global const float *h0, const int oh0,
                       const int has_c0, __global const float *c0, const int oc0,
                       __global float *hist, const int ohist, const int has_c,
                       __global float *chist, const int ochist)
{
    const int i = get_global_id(0);
    if (i >= NH)
        return;
    hist[ohist + i] = has_h0 ? h0[oh0 + i] : 0.0f;
    if (has_c)
        chist[ochist + i] = has_c0 ? c0[oc0 + i] : 0.0f;
}

// One forward step s. y: (N, T, F) with F = H, or 2 H for LSTM ([h | c]). Range: N ceil(H / 16).
__kernel void rnn_fwd_step(const int mode, const int N, const int T, const int H, const int s,
                           const int reverse, const int has_len, __global const int *len,
                           const int olen, const int has_bih, __global const float *bih,
                           const int obih, const int has_bhh, __global const float *bhh,
                           const int obhh, __global float *sc, const int oxp, const int ogh,
                           const int ohist, const int ochist, const int oghn,
                           __global float *y, const int oy)
{
    const int HB = (H + RNN_W - 1) / RNN_W, z0 = get_global_id(0);
    if (z0 >= N * HB)
        return;
    const int n = z0 / HB, j = (z0 - n * HB) * RNN_W, w = min(RNN_W, H - j), i = n * H + j;
    const int G = mode == 2 ? 4 : mode == 3 ? 3 : 1, GH = G * H;
    const int F = mode == 2 ? 2 * H : H;
    const int L = rnn_len(has_len, len, olen, n, T);
    __global float *hprev = sc + ohist + s * N * H, *hnext = hprev + N * H;
    __global float *cprev = sc + ochist + s * N * H, *cnext = cprev + N * H;
    const float16 zero = (float16)(0.0f);
    if (s >= L) { // padding: zero output at t = s, the state passes through
        clnn_st16(clnn_ld16(hprev + i, w), hnext + i, w);
        clnn_st16(zero, y + oy + (n * T + s) * F + j, w);
        if (mode == 2) {
            clnn_st16(clnn_ld16(cprev + i, w), cnext + i, w);
            clnn_st16(zero, y + oy + (n * T + s) * F + H + j, w);
        }
        return;
    }
    const int t = reverse ? L - 1 - s : s;
    __global float *xp = sc + oxp + (n * T + t) * GH;
    __global const float *gh = sc + ogh + n * GH;
    float16 a[4];
    for (int g = 0; g < G; g++) {
        const int k = g * H + j;
        a[g] = clnn_ld16(xp + k, w);
        if (has_bih)
            a[g] += clnn_ld16(bih + obih + k, w);
        if (mode != 3 || g < 2) {
            a[g] += clnn_ld16(gh + k, w);
            if (has_bhh)
                a[g] += clnn_ld16(bhh + obhh + k, w);
        }
    }
    float16 h;
    if (mode == 0) {
        h = tanh(a[0]);
        clnn_st16(h, xp + j, w);
    } else if (mode == 1) {
        h = fmax(a[0], zero);
        clnn_st16(h, xp + j, w);
    } else if (mode == 2) {
        const float16 ig = rnn_sigmoid(a[0]), fg = rnn_sigmoid(a[1]), gg = tanh(a[2]),
                      og = rnn_sigmoid(a[3]);
        const float16 c = fg * clnn_ld16(cprev + i, w) + ig * gg;
        h = og * tanh(c);
        clnn_st16(ig, xp + j, w);
        clnn_st16(fg, xp + H + j, w);
        clnn_st16(gg, xp + 2 * H + j, w);
        clnn_st16(og, xp + 3 * H + j, w);
        clnn_st16(c, cnext + i, w);
        clnn_st16(c, y + oy + (n * T + t) * F + H + j, w);
    } else {
        const float16 r = rnn_sigmoid(a[0]), z = rnn_sigmoid(a[1]);
        float16 hn = clnn_ld16(gh + 2 * H + j, w);
        if (has_bhh)
            hn += clnn_ld16(bhh + obhh + 2 * H + j, w);
        const float16 nn = tanh(a[2] + r * hn);
        h = (1.0f - z) * nn + z * clnn_ld16(hprev + i, w);
        clnn_st16(r, xp + j, w);
        clnn_st16(z, xp + H + j, w);
        clnn_st16(nn, xp + 2 * H + j, w);
        clnn_st16(hn, sc + oghn + (n * T + t) * H + j, w);
    }
    clnn_st16(h, hnext + i, w);
    clnn_st16(h, y + oy + (n * T + t) * F + j, w);
}

// One backward step s (run for s = T-1 .. 0). fs: the forward scratch (offsets as above); bs: the
// backward scratch: dgh (T, N, GH) the hh-side pre-activation gradients in step order, then two
// (N, H) buffers for d h (step s reads buffer (s+1)%2, writes buffer s%2; first: the incoming
// gradient is 0) and two for d c. dg: (N, T, GH) the ih-side pre-activation gradients (0 at
// padding). The direct part of d h_{s} is written here; the GEMM d h += dgh[s] W_hh follows.
// Range: N ceil(H / 16).
__kernel void rnn_bwd_step(const int mode, const int N, const int T, const int H, const int s,
                           const int reverse, const int first, const int has_len,
                           __global const int *len, const int olen, __global const float *dy,
                           const int ody, __global const float *fs, const int oxp,
                           const int ohist, const int ochist, const int oghn,
                           __global float *bs, const int odgh, const int odh, const int odc,
                           __global float *dg, const int odg)
{
    const int HB = (H + RNN_W - 1) / RNN_W, z0 = get_global_id(0);
    if (z0 >= N * HB)
        return;
    const int n = z0 / HB, j = (z0 - n * HB) * RNN_W, w = min(RNN_W, H - j), i = n * H + j;
    const int G = mode == 2 ? 4 : mode == 3 ? 3 : 1, GH = G * H;
    const int F = mode == 2 ? 2 * H : H;
    const int L = rnn_len(has_len, len, olen, n, T);
    const int rd = (s + 1) & 1, wr = s & 1;
    const float16 zero = (float16)(0.0f);
    const float16 dh_in = first ? zero : clnn_ld16(bs + odh + rd * N * H + i, w);
    const float16 dc_in = (first || mode != 2) ? zero : clnn_ld16(bs + odc + rd * N * H + i, w);
    __global float *dgh = bs + odgh + (s * N + n) * GH;
    if (s >= L) { // padding: the state gradient passes through, no gate gradients
        clnn_st16(dh_in, bs + odh + wr * N * H + i, w);
        if (mode == 2)
            clnn_st16(dc_in, bs + odc + wr * N * H + i, w);
        for (int g = 0; g < G; g++) {
            clnn_st16(zero, dgh + g * H + j, w);
            clnn_st16(zero, dg + odg + (n * T + s) * GH + g * H + j, w);
        }
        return;
    }
    const int t = reverse ? L - 1 - s : s;
    __global const float *act = fs + oxp + (n * T + t) * GH;
    __global float *dgx = dg + odg + (n * T + t) * GH;
    const float16 dh = dh_in + clnn_ld16(dy + ody + (n * T + t) * F + j, w);
    float16 direct = zero;
    if (mode == 0) {
        const float16 h = clnn_ld16(act + j, w), d = dh * (1.0f - h * h);
        clnn_st16(d, dgx + j, w);
        clnn_st16(d, dgh + j, w);
    } else if (mode == 1) {
        const float16 d = select(zero, dh, clnn_ld16(act + j, w) > 0.0f);
        clnn_st16(d, dgx + j, w);
        clnn_st16(d, dgh + j, w);
    } else if (mode == 2) {
        const float16 ig = clnn_ld16(act + j, w), fg = clnn_ld16(act + H + j, w);
        const float16 gg = clnn_ld16(act + 2 * H + j, w), og = clnn_ld16(act + 3 * H + j, w);
        const float16 c = clnn_ld16(fs + ochist + (s + 1) * N * H + i, w);
        const float16 cp = clnn_ld16(fs + ochist + s * N * H + i, w);
        const float16 tc = tanh(c);
        const float16 dc = dc_in + clnn_ld16(dy + ody + (n * T + t) * F + H + j, w) +
                           dh * og * (1.0f - tc * tc);
        const float16 di = dc * gg * ig * (1.0f - ig), df = dc * cp * fg * (1.0f - fg);
        const float16 dgg = dc * ig * (1.0f - gg * gg), dog = dh * tc * og * (1.0f - og);
        clnn_st16(di, dgx + j, w);
        clnn_st16(di, dgh + j, w);
        clnn_st16(df, dgx + H + j, w);
        clnn_st16(df, dgh + H + j, w);
        clnn_st16(dgg, dgx + 2 * H + j, w);
        clnn_st16(dgg, dgh + 2 * H + j, w);
        clnn_st16(dog, dgx + 3 * H + j, w);
        clnn_st16(dog, dgh + 3 * H + j, w);
        clnn_st16(dc * fg, bs + odc + wr * N * H + i, w);
    } else {
        const float16 r = clnn_ld16(act + j, w), z = clnn_ld16(act + H + j, w);
        const float16 nn = clnn_ld16(act + 2 * H + j, w);
        const float16 hp = clnn_ld16(fs + ohist + s * N * H + i, w);
        const float16 hn = clnn_ld16(fs + oghn + (n * T + t) * H + j, w);
        const float16 dn = dh * (1.0f - z) * (1.0f - nn * nn);
        const float16 dr = dn * hn * r * (1.0f - r), dz = dh * (hp - nn) * z * (1.0f - z);
        clnn_st16(dr, dgx + j, w);
        clnn_st16(dr, dgh + j, w);
        clnn_st16(dz, dgx + H + j, w);
        clnn_st16(dz, dgh + H + j, w);
        clnn_st16(dn, dgx + 2 * H + j, w);
        clnn_st16(dn * r, dgh + 2 * H + j, w);
        direct = dh * z;
    }
    clnn_st16(direct, bs + odh + wr * N * H + i, w);
}

// out[c] = sum over rows of m (rows, C) (the bias gradient of the hh side), in row order
__kernel void rnn_colsum(const int rows, const int C, __global const float *m, const int om,
                         __global float *out, const int oout)
{
    const int c = get_global_id(0);
    if (c >= C)
        return;
    float acc = 0.0f;
    for (int r = 0; r < rows; r++)
        acc += m[om + r * C + c];
    out[oout + c] = acc;
}

// The same with a work-item per 16 columns (C a multiple of 16; CPU devices, where one float16
// load per row replaces 16 strided scalar loads): each column is still summed in row order, so
// the result is the same bit for bit.
__kernel void rnn_colsum16(const int rows, const int C, __global const float *m, const int om,
                           __global float *out, const int oout)
{
    const int c0 = get_global_id(0) * 16;
    if (c0 >= C)
        return;
    float16 acc = (float16)(0.0f);
    __global const float *src = m + om + c0;
    for (int r = 0; r < rows; r++, src += C)
        acc += vload16(0, src);
    vstore16(acc, 0, out + oout + c0);
}

__kernel void rnn_copy(const int n, __global const float *src, const int osrc,
                       __global float *dst, const int odst)
{
    const int i = get_global_id(0);
    if (i < n)
        dst[odst + i] = src[osrc + i];
}

// y (N, F) = seq (N, T, F) at step lengths[n] - 1 (T - 1 without lengths), or 0 if reverse
__kernel void rnn_last_fwd(const int N, const int T, const int F, const int reverse,
                           const int has_len, __global const int *len, const int olen,
                           __global const float *seq, const int oseq, __global float *y,
                           const int oy)
{
    const int i = get_global_id(0);
    if (i >= N * F)
        return;
    const int n = i / F, f = i - n * F;
    const int t = reverse ? 0 : clamp(rnn_len(has_len, len, olen, n, T), 1, T) - 1;
    y[oy + i] = seq[oseq + (n * T + t) * F + f];
}

// dseq (N, T, F): dy (N, F) at the gathered step, 0 elsewhere
__kernel void rnn_last_bwd(const int N, const int T, const int F, const int reverse,
                           const int has_len, __global const int *len, const int olen,
                           __global const float *dy, const int ody, __global float *dseq,
                           const int odseq)
{
    const int i = get_global_id(0);
    if (i >= N * T * F)
        return;
    const int f = i % F, nt = i / F, n = nt / T, t = nt - n * T;
    const int tl = reverse ? 0 : clamp(rnn_len(has_len, len, olen, n, T), 1, T) - 1;
    dseq[odseq + i] = t == tl ? dy[ody + n * F + f] : 0.0f;
}

// dst (cols, rows) = src (rows, cols)^T: W_hh^T once per run, so that the per-step GEMMs need no
// transposition
__kernel void rnn_transpose(const int rows, const int cols, __global const float *src,
                            const int osrc, __global float *dst, const int odst)
{
    const int i = get_global_id(0);
    if (i >= rows * cols)
        return;
    const int r = i / cols, c = i - r * cols;
    dst[odst + c * rows + r] = src[osrc + i];
}
