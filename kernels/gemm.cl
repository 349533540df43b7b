// gemm.cl — clnn's own SGEMM for CPU devices (src/core/gemm.c; CLBlast serves GPUs):
//   C = act(alpha op(A) op(B) + beta C + bias), row-major, strided batches, op(X) = X or X^T,
//   bias: (N) along the rows of C and act none, ReLU, sigmoid, tanh, or leaky ReLU or ELU with
//   alpha act_alpha >= 0 (the epilogue: a Dense layer's bias and activation in the GEMM's store,
//   op_matmul.c).
// Each work-item keeps a tile of GEMM_TM rows x 32 columns of C in 2 GEMM_TM float16
// accumulators and, per k, loads two float16 rows of B and GEMM_TM values of op(A): explicit wide
// vectors are what POCL turns into AVX-512 FMAs (its work-item-loop vectoriser does not pack scalar
// code), the same scheme as conv_direct (conv.cl). Rows past M are computed on the last row and not
// stored.
// op(B) is read as it is (B's columns contiguous, rows ldb apart) or from a panel of 32 columns,
// K x 32 contiguous and zero-padded past N. Reading B rows ldb apart costs twice the time: a
// power-of-two ldb puts every row of a work-item's 32 columns in the same L1 set, while a panel is
// one sequential stream. A work-item runs a column tile down `rpw` row tiles: with a panel it
// first copies its column tile of op(B) into its own slice of the scratch buffer P (transposing
// 16 x 16 blocks in registers for B^T), then reads it from the cache for every row tile. Packing
// in the work-item that reads the panel (instead of a gemm_pack pass before the GEMM) saves a
// launch and a round trip of the panel through memory: 1.1-1.5x on POCL for the M = 64..200
// shapes of Dense layers and im2col convolutions. gemm_pack still makes the panels that a caller
// keeps (the RNN's W_hh, clnn__gemm_pack_b) and op(A)'s row panels for trans_a.
// Rows of C per work-item (the host passes -DGEMM_TM=n for a tuned n in 4, 6, 8, 10, 12; 2 n
// float16 accumulators + 2 rows of B must fit the 32 vector registers of AVX-512).
#ifndef GEMM_TM
#define GEMM_TM 8
#endif

// The epilogue's code: bit 0 adds bias[n], bits 1.. are a clnn_activation applied with
// CLNN_EPI_ACT of common.cl (the convolutions' epilogue too), its alpha act_alpha.
#define GEMM_EPI_BIAS 1

// One k of the tile: 32 columns of B from src, GEMM_TM values of op(A) at ak[arow[t]] (ak: A
// advanced to this k; an int offset computed per k instead costs POCL's loop half its speed, in
// vector index arithmetic), 2 GEMM_TM float16 FMAs.
#define GEMM_STEP(src)                                                                             \
    do {                                                                                           \
        const float16 b0 = vload16(0, (src)), b1 = vload16(0, (src) + 16);                         \
        _Pragma("unroll") for (int t = 0; t < GEMM_TM; t++)                                        \
        {                                                                                          \
            const float16 v = (float16)(ak[arow[t]]);                                              \
            a0[t] = fma(v, b0, a0[t]);                                                             \
            a1[t] = fma(v, b1, a1[t]);                                                             \
        }                                                                                          \
    } while (0)

// The 16 x 16 block transpose of B^T's packing: v[r] = 16 consecutive k of row n0 + r of B (N x K)
// in, v[l] = row k0 + l of op(B) = B^T, columns n0 .. n0 + 15, out. Four rounds of shuffle2
// (blocks of 8, 4, 2, 1): lane i of v[r] takes v[r][i] or v[r + bs][i - bs] (its block of bs
// lanes even or odd), lane i of v[r + bs] takes v[r][i + bs] or v[r + bs][i].
#define GEMM_T_ROUND(bs, lo, hi)                                                                  \
    _Pragma("unroll") for (int r = 0; r < 16; r++) if (!(r & (bs)))                                \
    {                                                                                              \
        const float16 x_ = v[r], y_ = v[r + (bs)];                                                 \
        v[r] = shuffle2(x_, y_, (uint16)lo);                                                       \
        v[r + (bs)] = shuffle2(x_, y_, (uint16)hi);                                                \
    }
// rows: the first `rows` rows of B (n0 ..) exist (0 past them), kw: the first kw k of each;
// dst: op(B)'s row k0 at that block's first column, rows `pitch` apart (kw rows stored).
inline void gemm_t_block(__global const float *src, const int ldb, const int rows, const int kw,
                         __global float *dst, const int pitch)
{
    float16 v[16];
#pragma unroll
    for (int r = 0; r < 16; r++)
        v[r] = r < rows ? clnn_ld16(src + r * ldb, kw) : (float16)(0.0f);
    GEMM_T_ROUND(8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                 (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
    GEMM_T_ROUND(4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                 (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
    GEMM_T_ROUND(2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                 (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
    GEMM_T_ROUND(1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                 (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
#pragma unroll
    for (int l = 0; l < 16; l++)
        if (l < kw)
            vstore16(v[l], 0, dst + l * pitch);
}

// The panel of op(B)'s columns n0 .. n0 + w - 1 (w <= 32; 0 past them): K x 32 at dst. bb: B of
// this batch, (K, N) rows ldb apart, or (N, K) with trans_b.
inline void gemm_panel(__global const float *bb, const int ldb, const int trans_b, const int K,
                       const int n0, const int w, __global float *dst)
{
    if (trans_b) {
        for (int k0 = 0; k0 < K; k0 += 16)
            for (int j0 = 0; j0 < 32; j0 += 16) // (no address past N: its int could overflow)
                gemm_t_block(j0 < w ? bb + (n0 + j0) * ldb + k0 : bb, ldb, w - j0,
                             min(16, K - k0), dst + k0 * 32 + j0, 32);
        return;
    }
    __global const float *src = bb + n0;
    for (int k = 0; k < K; k++, src += ldb, dst += 32) {
        if (w == 32) {
            vstore16(vload16(0, src), 0, dst);
            vstore16(vload16(0, src + 16), 0, dst + 16);
        } else {
            for (int j = 0; j < 32; j++)
                dst[j] = j < w ? src[j] : 0.0f;
        }
    }
}

// A: (M, K) [(K, M) when trans_a], B: (K, N) [(N, K) when panel is 3], bias: (N) -> C: (M, N)
// per batch, C = act(alpha op(A) op(B) + beta C + bias) with epi = (act << 1) | (bias used).
// trans_a 2: A is op(A) in gemm_pack's row panels (GEMM_TM rows of op(A) per k, K GEMM_TM per row
// tile). panel 0: B as it is; 1: B is gemm_pack's panels (K x 32 per column tile); 2 (B) and 3
// (B^T): the work-item packs its column tile into P + (its index in the range) K 32 first.
// A work-item: column tile get_global_id(1), row tiles rpw get_global_id(0) .. + rpw - 1.
// Range: (ceil(ceil(M / GEMM_TM) / rpw), ceil(N / 32), batch).
__kernel void gemm_tile(const int M, const int N, const int K, const float alpha, const float beta,
                        const int trans_a, __global const float *A, const int oa, const int lda,
                        const int sa, __global const float *B, const int ob, const int ldb,
                        const int sb, const int panel, __global float *C, const int oc,
                        const int ldc, const int sc, __global const float *bias, const int obias,
                        const int epi, __global float *P, const int rpw, const float act_alpha)
{
    const int n0 = get_global_id(1) * 32, b = get_global_id(2);
    const int rows = (M + GEMM_TM - 1) / GEMM_TM, rt0 = get_global_id(0) * rpw;
    if (n0 >= N || rt0 >= rows)
        return;
    const int w = min(32, N - n0), act = epi >> 1;
    __global const float *bsrc = B + ob + b * sb + (panel == 1 ? get_global_id(1) * K * 32 : n0);
    if (panel >= 2) {
        const size_t item =
            (get_global_id(2) * get_global_size(1) + get_global_id(1)) * get_global_size(0) +
            get_global_id(0);
        __global float *own = P + item * K * 32;
        gemm_panel(B + ob + b * sb, ldb, panel == 3, K, n0, w, own);
        bsrc = own;
    }
    const int packed = panel != 0;
    float16 bias0 = (float16)(0.0f), bias1 = (float16)(0.0f);
    if (epi & GEMM_EPI_BIAS) {
        __global const float *bp = bias + obias + n0;
        bias0 = clnn_ld16(bp, w);
        bias1 = clnn_ld16(bp + 16, w - 16);
    }
    const int astep = trans_a == 2 ? GEMM_TM : trans_a ? lda : 1;
    const int rt1 = min(rt0 + rpw, rows);
    for (int rt = rt0; rt < rt1; rt++) {
        const int m0 = rt * GEMM_TM;
        int arow[GEMM_TM];
#pragma unroll
        for (int t = 0; t < GEMM_TM; t++) {
            const int m = min(m0 + t, M - 1);
            arow[t] = oa + b * sa + (trans_a == 2 ? rt * K * GEMM_TM + t : trans_a ? m : m * lda);
        }
        float16 a0[GEMM_TM], a1[GEMM_TM];
#pragma unroll
        for (int t = 0; t < GEMM_TM; t++)
            a0[t] = a1[t] = (float16)(0.0f);
        if (packed) { // K x 32 contiguous, zero past N
            __global const float *bp = bsrc, *ak = A;
            for (int k = 0; k < K; k++, bp += 32, ak += astep) {
                GEMM_STEP(bp);
            }
        } else if (w == 32) {
            __global const float *bp = bsrc, *ak = A;
            for (int k = 0; k < K; k++, bp += ldb, ak += astep) {
                GEMM_STEP(bp);
            }
        } else { // the last column tile: only w columns of B exist
            __global const float *bp = bsrc, *ak = A;
            float row[32];
            for (int k = 0; k < K; k++, bp += ldb, ak += astep) {
                for (int j = 0; j < 32; j++)
                    row[j] = j < w ? bp[j] : 0.0f;
                GEMM_STEP(row);
            }
        }
        __global float *cp = C + oc + b * sc + n0;
#pragma unroll
        for (int t = 0; t < GEMM_TM; t++) {
            if (m0 + t >= M)
                continue; // (not break: the loop unrolls)
            __global float *row = cp + (m0 + t) * ldc;
            float16 r0 = alpha * a0[t], r1 = alpha * a1[t];
            if (w == 32) {
                // BLAS: C is not read when beta is 0 (NaN there does not spread)
                if (beta != 0.0f) {
                    r0 = fma((float16)(beta), vload16(0, row), r0);
                    r1 = fma((float16)(beta), vload16(0, row + 16), r1);
                }
                r0 += bias0;
                r1 += bias1;
                vstore16(r0, 0, row);
                vstore16(r1, 0, row + 16);
            } else {
                float out[32], add[32];
                vstore16(r0, 0, out);
                vstore16(r1, 0, out + 16);
                vstore16(bias0, 0, add);
                vstore16(bias1, 0, add + 16);
                for (int j = 0; j < w; j++) {
                    const float z = beta != 0.0f ? out[j] + beta * row[j] : out[j];
                    row[j] = z + add[j];
                }
            }
        }
        if (!act)
            continue;
        // the activation over the rows just stored (in the cache): one copy of its code, not
        // 2 GEMM_TM unrolled ones (POCL's compile time)
        const int nrows = min(GEMM_TM, M - m0);
        for (int t = 0; t < nrows; t++) {
            __global float *row = cp + (m0 + t) * ldc;
            if (w == 32) {
                float16 r0 = vload16(0, row), r1 = vload16(0, row + 16);
                CLNN_EPI_ACT(float16, act, act_alpha, r0);
                CLNN_EPI_ACT(float16, act, act_alpha, r1);
                vstore16(r0, 0, row);
                vstore16(r1, 0, row + 16);
            } else {
                for (int j = 0; j < w; j++) {
                    float z = row[j];
                    CLNN_EPI_ACT(float, act, act_alpha, z);
                    row[j] = z;
                }
            }
        }
    }
}

// The epilogue alone, after a GEMM that had none (CLBlast): C = act(C + bias) with epi and
// act_alpha as in gemm_tile. C: (M, N) rows of ldc per batch (stride sc). Range: (N, M, batch).
__kernel void gemm_epilogue(const int M, const int N, __global float *C, const int oc,
                            const int ldc, const int sc, __global const float *bias,
                            const int obias, const int epi, const float act_alpha)
{
    const int n = get_global_id(0), m = get_global_id(1), b = get_global_id(2);
    if (n >= N || m >= M)
        return;
    __global float *c = C + oc + b * sc + m * ldc + n;
    float z = *c + (epi & GEMM_EPI_BIAS ? bias[obias + n] : 0.0f);
    const int act = epi >> 1;
    CLNN_EPI_ACT(float, act, act_alpha, z);
    *c = z;
}

// B: (K, N), or (N, K) when trans_b, rows of ldb per batch (stride sb) -> P: the panels of op(B)
// of `width` columns (32 for a B; GEMM_TM for the A^T of a GEMM with trans_a, whose rows ldb apart
// cost as much as B's did) from the offset op, per batch (stride K width ceil(N / width)):
// P[j][k][i] = op(B)[k, width j + i], 0 past N.
// Without trans_b a work-item writes one row of one panel; range (K, ceil(N / width), batch).
// With trans_b (width 32) a work-item transposes a 16 x 16 block in registers: 16 rows n of 16
// consecutive k (float16 loads), 4 rounds of shuffle2 (blocks of 8, 4, 2, 1), 16 float16 stores
// into the panel's rows (reading 32 rows ldb apart per work-item, one float at a time, cost as
// much as the GEMM after it); range (ceil(K / 16), 2 ceil(N / 32), batch).
__kernel void gemm_pack(const int N, const int K, const int trans_b, __global const float *B,
                        const int ob, const int ldb, const int sb, __global float *P, const int op,
                        const int width)
{
    const int tiles = (N + width - 1) / width, b = get_global_id(2);
    if (trans_b) {
        const int k0 = get_global_id(0) * 16, n0 = get_global_id(1) * 16;
        if (k0 >= K || n0 >= tiles * width)
            return;
        // the block's rows k0 .. of op(B): row k0 of panel n0 / 32, columns n0 % 32 ..
        gemm_t_block(n0 < N ? B + ob + b * sb + n0 * ldb + k0 : B, ldb, N - n0, min(16, K - k0),
                     P + op + ((b * tiles + n0 / width) * K + k0) * width + n0 % width, width);
        return;
    }
    const int k = get_global_id(0), j = get_global_id(1), n0 = j * width;
    if (k >= K)
        return;
    __global float *dst = P + op + ((b * tiles + j) * K + k) * width;
    __global const float *src = B + ob + b * sb + k * ldb + n0;
    if (width == 32 && n0 + 32 <= N) {
        vstore16(vload16(0, src), 0, dst);
        vstore16(vload16(0, src + 16), 0, dst + 16);
    } else if (width == GEMM_TM && n0 + GEMM_TM <= N) { // A^T's row panels
#pragma unroll
        for (int i = 0; i < GEMM_TM; i++)
            dst[i] = src[i];
    } else {
        for (int i = 0; i < width; i++)
            dst[i] = n0 + i < N ? src[i] : 0.0f;
    }
}
