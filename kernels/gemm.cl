// gemm.cl — clnn's own SGEMM for CPU devices (src/core/gemm.c; CLBlast serves GPUs):
//   C = act(alpha op(A) B + beta C + bias), row-major, strided batches, op(A) = A or A^T,
//   bias: (N) along the rows of C and act none, ReLU, sigmoid or tanh (the epilogue: a Dense
//   layer's bias and activation in the GEMM's store, op_matmul.c).
// A B^T product runs on a packed copy of B^T (gemm_pack_t), so B here always has its columns
// contiguous. Each work-item keeps a tile of GEMM_TM rows x 32 columns of C in 2 GEMM_TM float16
// accumulators and, per k, loads two float16 rows of B and GEMM_TM values of op(A): explicit wide
// vectors are what POCL turns into AVX-512 FMAs (its work-item-loop vectoriser does not pack scalar
// code), the same scheme as conv_direct (conv.cl). Rows past M are computed on the last row and not
// stored; the last column tile of a width not a multiple of 32 reads B through a guarded copy.

// Rows of C per work-item (the host passes -DGEMM_TM=n for a tuned n in 4, 6, 8, 10, 12; 2 n
// float16 accumulators + 2 rows of B must fit the 32 vector registers of AVX-512).
#ifndef GEMM_TM
#define GEMM_TM 8
#endif

// The epilogue's code: bit 0 adds bias[n], bits 1.. are a clnn_activation applied with
// CLNN_EPI_ACT of common.cl (the convolutions' epilogue too).
#define GEMM_EPI_BIAS 1

// One k of the tile: 32 columns of B from src, GEMM_TM values of op(A), 2 GEMM_TM float16 FMAs.
#define GEMM_STEP(src)                                                                             \
    do {                                                                                           \
        const float16 b0 = vload16(0, (src)), b1 = vload16(0, (src) + 16);                         \
        const int ak = k * astep;                                                                  \
        _Pragma("unroll") for (int t = 0; t < GEMM_TM; t++)                                        \
        {                                                                                          \
            const float16 v = (float16)(A[arow[t] + ak]);                                          \
            a0[t] = fma(v, b0, a0[t]);                                                             \
            a1[t] = fma(v, b1, a1[t]);                                                             \
        }                                                                                          \
    } while (0)

// A: (M, K) [(K, M) when trans_a], B: (K, N), bias: (N) -> C: (M, N) per batch, C = act(alpha A B
// + beta C + bias) with epi = (act << 1) | (bias used). Range: (ceil(N / 32), ceil(M / GEMM_TM),
// batch).
__kernel void gemm_tile(const int M, const int N, const int K, const float alpha, const float beta,
                        const int trans_a, __global const float *A, const int oa, const int lda,
                        const int sa, __global const float *B, const int ob, const int ldb,
                        const int sb, __global float *C, const int oc, const int ldc, const int sc,
                        __global const float *bias, const int obias, const int epi)
{
    const int n0 = get_global_id(0) * 32, m0 = get_global_id(1) * GEMM_TM, b = get_global_id(2);
    if (n0 >= N || m0 >= M)
        return;
    int arow[GEMM_TM];
    const int astep = trans_a ? lda : 1;
#pragma unroll
    for (int t = 0; t < GEMM_TM; t++) {
        const int m = min(m0 + t, M - 1);
        arow[t] = oa + b * sa + (trans_a ? m : m * lda);
    }
    float16 a0[GEMM_TM], a1[GEMM_TM];
#pragma unroll
    for (int t = 0; t < GEMM_TM; t++)
        a0[t] = a1[t] = (float16)(0.0f);
    __global const float *bp = B + ob + b * sb + n0;
    if (n0 + 32 <= N) {
        for (int k = 0; k < K; k++, bp += ldb) {
            GEMM_STEP(bp);
        }
    } else { // the last column tile: only N - n0 columns of B exist
        float row[32];
        const int w = N - n0;
        for (int k = 0; k < K; k++, bp += ldb) {
            for (int j = 0; j < 32; j++)
                row[j] = j < w ? bp[j] : 0.0f;
            GEMM_STEP(row);
        }
    }
    __global float *cp = C + oc + b * sc + n0;
    const int w = min(32, N - n0), act = epi >> 1;
    float16 bias0 = (float16)(0.0f), bias1 = (float16)(0.0f);
    if (epi & GEMM_EPI_BIAS) {
        __global const float *bp = bias + obias + n0;
        if (w == 32) {
            bias0 = vload16(0, bp);
            bias1 = vload16(0, bp + 16);
        } else {
            float row[32];
            for (int j = 0; j < 32; j++)
                row[j] = j < w ? bp[j] : 0.0f;
            bias0 = vload16(0, row);
            bias1 = vload16(0, row + 16);
        }
    }
#pragma unroll
    for (int t = 0; t < GEMM_TM; t++) {
        if (m0 + t >= M)
            continue; // (not break: the loop unrolls)
        __global float *row = cp + (m0 + t) * ldc;
        float16 r0 = alpha * a0[t], r1 = alpha * a1[t];
        if (w == 32) {
            if (beta != 0.0f) { // BLAS: C is not read when beta is 0 (NaN there does not spread)
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
        return;
    // the activation over the rows just stored (in the cache): one copy of its code, not
    // 2 GEMM_TM unrolled ones (POCL's compile time)
    const int rows = min(GEMM_TM, M - m0);
    for (int t = 0; t < rows; t++) {
        __global float *row = cp + (m0 + t) * ldc;
        if (w == 32) {
            float16 r0 = vload16(0, row), r1 = vload16(0, row + 16);
            CLNN_EPI_ACT(float16, act, r0);
            CLNN_EPI_ACT(float16, act, r1);
            vstore16(r0, 0, row);
            vstore16(r1, 0, row + 16);
        } else {
            for (int j = 0; j < w; j++) {
                float z = row[j];
                CLNN_EPI_ACT(float, act, z);
                row[j] = z;
            }
        }
    }
}

// The epilogue alone, after a GEMM that had none (CLBlast): C = act(C + bias) with epi as in
// gemm_tile. C: (M, N) rows of ldc per batch (stride sc). Range: (N, M, batch).
__kernel void gemm_epilogue(const int M, const int N, __global float *C, const int oc,
                            const int ldc, const int sc, __global const float *bias,
                            const int obias, const int epi)
{
    const int n = get_global_id(0), m = get_global_id(1), b = get_global_id(2);
    if (n >= N || m >= M)
        return;
    __global float *c = C + oc + b * sc + m * ldc + n;
    float z = *c + (epi & GEMM_EPI_BIAS ? bias[obias + n] : 0.0f);
    const int act = epi >> 1;
    CLNN_EPI_ACT(float, act, z);
    *c = z;
}

// B: (N, K) rows of ldb per batch (stride sb) -> P: (K, N) per batch (stride K N): P[k, n] =
// B[n, k]. A work-item writes one row of P. Range: (K, batch).
__kernel void gemm_pack_t(const int N, const int K, __global const float *B, const int ob,
                          const int ldb, const int sb, __global float *P)
{
    const int k = get_global_id(0), b = get_global_id(1);
    if (k >= K)
        return;
    __global const float *src = B + ob + b * sb + k;
    __global float *dst = P + (b * K + k) * N;
    for (int n = 0; n < N; n++)
        dst[n] = src[n * ldb];
}
