// winograd.cl — Winograd F(2x2, 3x3) convolution (Lavin & Gray), the transforms around the GEMMs
// (src/ops/op_conv.c, algorithm 4): 3x3, stride 1, dilation 1, one group. A convolution of an
// input `in` (N, Ci, IH, IW) with 3x3 weights into `out` (N, Co, OH, OW) is cut into 2x2 output
// tiles, TH = ceil(OH / 2) by TW = ceil(OW / 2) per plane, each reading a 4x4 input tile (the
// tiles overlap by 2). With e = 4 i + j the 16 positions of the transformed 4x4 tiles,
//   U[e] (Co, Ci) = (G g G^T)[e] per weight g (3x3)          (winograd_weights)
//   V[e] (Ci, T)  = (B^T d B)[e] per input tile d (4x4)       (winograd_input)
//   M[e] (Co, T)  = U[e] V[e], 16 GEMMs                      (clnn__gemm, strided batch 16)
//   out           = A^T m A per tile m (4x4) -> 2x2 (+ bias, act)    (winograd_output)
// T = rows TW columns for a block of tile rows (n TH + th over the samples: the host keeps V and
// M of a block in the cache), column t = q TW + tw for the block's tile row q. The input is
// read from a zero-padded copy (conv_pad of conv.cl: PH = 2 TH + 2 rows, PW = 2 TW + 2 columns,
// every tile inside it), so the input transform has no bounds checks but a row's tail. Not here:
// the data-gradient geometry (flipped, transposed weights; clnn__conv_emit_winograd in
// conv_kernels.c decides it) and the GEMM.
// Work-items take a whole tile row and step through it 8 tiles at a time in float8 vectors
// (explicit vectors are what POCL turns into AVX-512; its loop vectoriser leaves scalar code).
//
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   A^T = [1 1 1 0; 0 1 -1 -1]

#ifndef WINO_VEC
#define WINO_VEC 8 // tiles per vector step (the float8 lanes); the host does not depend on it
#endif

// w: (Kw, Cw, 3, 3) -> U: (16, Co, Ci), U[e, o, i] = (G g G^T)[e] with g = w[o, i] (flip = 0:
// Co = Kw, Ci = Cw), or g = w[i, o] rotated by 180 degrees (flip = 1: the data gradient, Co = Cw,
// Ci = Kw). Range: (Ci, Co).
__kernel void winograd_weights(const int Co, const int Ci, const int flip, __global const float *w,
                               const int ow, __global float *U, const int oU)
{
    const int i = get_global_id(0), o = get_global_id(1);
    if (i >= Ci || o >= Co)
        return;
    __global const float *src = w + ow + (flip ? i * Co + o : o * Ci + i) * 9;
    float g[3][3];
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
            g[r][s] = flip ? src[(2 - r) * 3 + (2 - s)] : src[r * 3 + s];
    float a[4][3]; // G g
    for (int s = 0; s < 3; s++) {
        a[0][s] = g[0][s];
        a[1][s] = 0.5f * (g[0][s] + g[1][s] + g[2][s]);
        a[2][s] = 0.5f * (g[0][s] - g[1][s] + g[2][s]);
        a[3][s] = g[2][s];
    }
    __global float *dst = U + oU + o * Ci + i;
    const int step = Co * Ci;
    for (int r = 0; r < 4; r++) { // (G g) G^T
        dst[(4 * r + 0) * step] = a[r][0];
        dst[(4 * r + 1) * step] = 0.5f * (a[r][0] + a[r][1] + a[r][2]);
        dst[(4 * r + 2) * step] = 0.5f * (a[r][0] - a[r][1] + a[r][2]);
        dst[(4 * r + 3) * step] = a[r][2];
    }
}

// Columns 2 t + j (j = 0 .. 3) of one input row for WINO_VEC = 8 tiles t0 .. t0 + 7: two float16
// runs, from column 2 t0 and 2 t0 + 2, split into even and odd lanes.
#define WINO_ROW(c, row)                                                                           \
    do {                                                                                           \
        const float16 lo = vload16(0, row), hi = vload16(0, (row) + 2);                            \
        c[0] = lo.even;                                                                            \
        c[1] = lo.odd;                                                                             \
        c[2] = hi.even;                                                                            \
        c[3] = hi.odd;                                                                             \
    } while (0)

// B^T d B of 8 tiles at once: d[r][j] holds row r, column j of each tile; writes v[4 i + j].
#define WINO_BTDB(v, d)                                                                            \
    do {                                                                                           \
        float8 t[4][4];                                                                            \
        for (int j = 0; j < 4; j++) {                                                              \
            t[0][j] = d[0][j] - d[2][j];                                                           \
            t[1][j] = d[1][j] + d[2][j];                                                           \
            t[2][j] = d[2][j] - d[1][j];                                                           \
            t[3][j] = d[1][j] - d[3][j];                                                           \
        }                                                                                          \
        for (int i = 0; i < 4; i++) {                                                              \
            v[4 * i + 0] = t[i][0] - t[i][2];                                                      \
            v[4 * i + 1] = t[i][1] + t[i][2];                                                      \
            v[4 * i + 2] = t[i][2] - t[i][1];                                                      \
            v[4 * i + 3] = t[i][1] - t[i][3];                                                      \
        }                                                                                          \
    } while (0)

// in: planes (PH, PW) of samples (n, Ci), PH = 2 TH + 2, PW = 2 TW + 2 (padded: every tile
// inside) -> V: (16, Ci, T) for the `rows` tile rows from row0 on (tile row r = n TH + th of the
// samples in `in`), T = rows TW: V[e, i, q TW + tw] = (B^T d B)[e] of the tile
// d = in[n, i, 2 th .. 2 th + 3, 2 tw .. 2 tw + 3] with n TH + th = row0 + q. A work-item
// transforms one tile row of one channel. Range: (rows, Ci).
__kernel void winograd_input(const int Ci, const int TH, const int TW, const int row0,
                             const int rows, __global const float *in, const int oin,
                             __global float *V, const int oV)
{
    const int q = get_global_id(0), i = get_global_id(1);
    if (q >= rows || i >= Ci)
        return;
    const int r = row0 + q, n = r / TH, th = r - n * TH, PW = 2 * TW + 2, T = rows * TW;
    __global const float *src = in + oin + ((n * Ci + i) * (2 * TH + 2) + 2 * th) * PW;
    __global float *dst = V + oV + i * T + q * TW;
    const int step = Ci * T;
    for (int t0 = 0; t0 < TW; t0 += 8) {
        float8 d[4][4], v[16];
        if (t0 + 8 <= TW) { // 2 t0 + 17 <= PW - 1: both runs inside the row
            for (int rr = 0; rr < 4; rr++)
                WINO_ROW(d[rr], src + rr * PW + 2 * t0);
            WINO_BTDB(v, d);
            for (int e = 0; e < 16; e++)
                vstore8(v[e], 0, dst + e * step + t0);
            continue;
        }
        // the row's last tiles: a guarded copy of the 2 (TW - t0) + 2 columns left
        const int left = 2 * (TW - t0) + 2;
        for (int rr = 0; rr < 4; rr++) {
            float tmp[18];
            for (int l = 0; l < 18; l++)
                tmp[l] = l < left ? src[rr * PW + 2 * t0 + l] : 0.0f;
            WINO_ROW(d[rr], tmp);
        }
        WINO_BTDB(v, d);
        for (int e = 0; e < 16; e++) {
            float out[8];
            vstore8(v[e], 0, out);
            for (int l = 0; l < TW - t0; l++)
                dst[e * step + t0 + l] = out[l];
        }
    }
}

// M: (16, Co, T) of the `rows` tile rows from row0 on (as winograd_input's V) -> out:
// (N, Co, OH, OW) from the samples' first (at oout), the 2x2 outputs A^T m A of each tile, rows
// 2 th, 2 th + 1 and columns 2 tw, 2 tw + 1 where inside OH x OW (+ bias[o] when has_bias & 1,
// then the activation has_bias >> 1 with act_alpha, CLNN_EPI_ACT of common.cl). A work-item writes
// one tile row of one channel.
// Range: (rows, Co).
__kernel void winograd_output(const int Co, const int OH, const int OW, const int TH, const int TW,
                              const int row0, const int rows, __global const float *M, const int oM,
                              __global float *out, const int oout, __global const float *bias,
                              const int obias, const int has_bias, const float act_alpha)
{
    const int q = get_global_id(0), o = get_global_id(1);
    if (q >= rows || o >= Co)
        return;
    const int r = row0 + q, n = r / TH, th = r - n * TH, T = rows * TW, step = Co * T;
    const float b = has_bias & 1 ? bias[obias + o] : 0.0f;
    const int act = has_bias >> 1;
    const int two = 2 * th + 1 < OH; // the tile row's second output row exists
    __global const float *src = M + oM + o * T + q * TW;
    __global float *y0 = out + oout + ((n * Co + o) * OH + 2 * th) * OW, *y1 = y0 + OW;
    for (int t0 = 0; t0 < TW; t0 += 8) {
        const int full = t0 + 8 <= TW;
        float8 m[16];
        if (full) {
            for (int e = 0; e < 16; e++)
                m[e] = vload8(0, src + e * step + t0);
        } else {
            for (int e = 0; e < 16; e++) {
                float tmp[8];
                for (int l = 0; l < 8; l++)
                    tmp[l] = t0 + l < TW ? src[e * step + t0 + l] : 0.0f;
                m[e] = vload8(0, tmp);
            }
        }
        float8 r[2][4]; // A^T m
        for (int j = 0; j < 4; j++) {
            r[0][j] = m[j] + m[4 + j] + m[8 + j];
            r[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
        }
        float16 row[2];
        for (int a = 0; a < 2; a++) { // (A^T m) A, interleaved as output columns
            float8 c0 = r[a][0] + r[a][1] + r[a][2] + b;
            float8 c1 = r[a][1] - r[a][2] - r[a][3] + b;
            CLNN_EPI_ACT(float8, act, act_alpha, c0);
            CLNN_EPI_ACT(float8, act, act_alpha, c1);
            row[a] = (float16)(c0.s0, c1.s0, c0.s1, c1.s1, c0.s2, c1.s2, c0.s3, c1.s3, c0.s4, c1.s4,
                               c0.s5, c1.s5, c0.s6, c1.s6, c0.s7, c1.s7);
        }
        if (full && 2 * t0 + 16 <= OW) {
            vstore16(row[0], 0, y0 + 2 * t0);
            if (two)
                vstore16(row[1], 0, y1 + 2 * t0);
            continue;
        }
        float tmp[2][16];
        vstore16(row[0], 0, tmp[0]);
        vstore16(row[1], 0, tmp[1]);
        const int cols = min(16, OW - 2 * t0);
        for (int l = 0; l < cols; l++)
            y0[2 * t0 + l] = tmp[0][l];
        if (two)
            for (int l = 0; l < cols; l++)
                y1[2 * t0 + l] = tmp[1][l];
    }
}
