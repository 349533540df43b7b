/* conv_gemm.c — the im2col + GEMM emitters of the convolution ops (algorithm 0; every node can
 * take it, GPUs do by default): kernels/conv.cl's conv_im2col, conv_im2row, conv_col2im, conv_swap
 * around CLBlast GEMMs (clnn__gemm). Samples are processed in chunks of nc (conv_plan) whose
 * columns sit side by side, col: (C R S, nc OH OW), so a chunk is ONE GEMM per group
 * (strided-batched over groups) with a long dimension nc OH OW even for small images:
 *   forward   col = im2col(x); yw (K, nc P) = W col; y = swap(yw) + b        (P = OH OW)
 *   input     dyw = swap(dy); col = W^T dyw; dx = col2im(col) (a gather, no atomics)
 *   weight    colT = im2row(x) (nc P, C R S); dyw = swap(dy); dw (+)= dyw colT (an NN GEMM;
 *             beta = 1 after the first chunk; with one group split along nc P into partial
 *             products that conv_reduce adds up, 2-3x faster in CLBlast than one long GEMM)
 * The column buffer and the wide GEMM operand live in node->scratch: (C R S + K) nc P floats, nc
 * chosen by conv_algo to keep it under the scratch budget, plus the partial products of a split
 * weight-gradient GEMM (plan.split columns per batch). Not here: the params, shapes, choice of
 * algorithm and the helpers every emitter shares (op_conv.c, conv.h), the own kernels (direct,
 * rows, Winograd: conv_kernels.c). */
#include <limits.h>
#include <string.h>

#include "conv.h"

/* Batches of a GEMM dimension of length n split by plan->split (1: not split), at most 64. */
static size_t split_parts(const conv_plan *plan, size_t n)
{
    size_t parts = plan->split ? n / plan->split : 1;
    return parts < 1 ? 1 : parts > 64 ? 64 : parts;
}

static clnn_status set_geometry(clnn_ctx *ctx, cl_kernel k, const char *what, const conv_params *p)
{
    return clnn__conv_set_args(ctx, k, what, 0, 13, CLNN__ARG(p->C), CLNN__ARG(p->H),
                               CLNN__ARG(p->W), CLNN__ARG(p->R), CLNN__ARG(p->S), CLNN__ARG(p->OH),
                               CLNN__ARG(p->OW), CLNN__ARG(p->stride_h), CLNN__ARG(p->stride_w),
                               CLNN__ARG(p->pad_h), CLNN__ARG(p->pad_w), CLNN__ARG(p->dil_h),
                               CLNN__ARG(p->dil_w));
}

static clnn_status enqueue(clnn_tensor *node, cl_kernel k, cl_uint dims, const size_t *global,
                           const conv_plan *plan)
{
    return clnn__enqueue(node, k, dims, global, plan->local[0] ? plan->local : NULL);
}

/* x: (N, C, H, W) samples [n0, n0 + nc) -> scratch[0]: col (C R S, nc OH OW) with conv_im2col
 * (kernel slot 0), colT (nc OH OW, C R S) with conv_im2row (the bwd_weight node's slot 0) */
static clnn_status run_im2col(clnn_tensor *node, const char *kernel, const conv_params *p,
                              const conv_plan *plan, const clnn_tensor *x, int n0, int nc)
{
    cl_kernel k;
    int fresh, zero = 0, ox = (int)x->offset, span = plan->rows ? p->OW : 1;
    clnn_status st = clnn__node_kernel(node, 0, kernel, &k, &fresh);
    if (!st && fresh)
        st = set_geometry(node->ctx, k, kernel, p);
    if (!st)
        st = clnn__conv_set_args(node->ctx, k, kernel, 13, 7, CLNN__ARG(n0), CLNN__ARG(nc),
                                 CLNN__ARG(span), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                                 CLNN__ARG(node->scratch), CLNN__ARG(zero));
    if (st)
        return st;
    size_t z = strcmp(kernel, "conv_im2col") ? (size_t)nc : (size_t)p->C * p->R * p->S * nc;
    size_t global[3] = {(size_t)((p->OW + span - 1) / span), (size_t)p->OH, z};
    return enqueue(node, k, 3, global, plan);
}

/* col at scratch[ocol]: (C R S, nc OH OW) -> out: (N, C, H, W) samples [n0, n0 + nc) (+ bias) */
static clnn_status run_col2im(clnn_tensor *node, const conv_params *p, const conv_plan *plan,
                              int ocol, const clnn_tensor *bias, int n0, int nc)
{
    cl_kernel k;
    int fresh, span = plan->rows ? p->W : 1, oy = (int)node->offset, has_bias = bias != NULL;
    int ob = bias ? (int)bias->offset : 0;
    cl_mem bmem = bias ? bias->storage->mem : node->storage->mem;
    clnn_status st = clnn__node_kernel(node, 1, "conv_col2im", &k, &fresh);
    if (!st && fresh)
        st = set_geometry(node->ctx, k, "conv_col2im", p);
    if (!st)
        st = clnn__conv_set_args(node->ctx, k, "conv_col2im", 13, 10, CLNN__ARG(n0), CLNN__ARG(nc),
                                 CLNN__ARG(span), CLNN__ARG(node->scratch), CLNN__ARG(ocol),
                                 CLNN__ARG(node->storage->mem), CLNN__ARG(oy), CLNN__ARG(bmem),
                                 CLNN__ARG(ob), CLNN__ARG(has_bias));
    if (st)
        return st;
    size_t global[3] = {(size_t)((p->W + span - 1) / span), (size_t)p->H, (size_t)p->C * nc};
    return enqueue(node, k, 3, global, plan);
}

/* x: (A, B, P) at (xm, ox) -> y: (B, A, P) at (ym, oy) (+ bias[a], then the activation act with
 * its alpha); kernel slot 2 */
static clnn_status run_swap(clnn_tensor *node, const conv_plan *plan, int A, int B, int P,
                            cl_mem xm, int ox, cl_mem ym, int oy, const clnn_tensor *bias, int act,
                            float alpha)
{
    cl_kernel k;
    int fresh, span = plan->rows ? P : 1, has_bias = (bias != NULL) | (act << 1);
    int ob = bias ? (int)bias->offset : 0;
    cl_mem bmem = bias ? bias->storage->mem : xm;
    clnn_status st = clnn__node_kernel(node, 2, "conv_swap", &k, &fresh);
    if (!st)
        st = clnn__conv_set_args(node->ctx, k, "conv_swap", 0, 12, CLNN__ARG(A), CLNN__ARG(B),
                                 CLNN__ARG(P), CLNN__ARG(span), CLNN__ARG(xm), CLNN__ARG(ox),
                                 CLNN__ARG(ym), CLNN__ARG(oy), CLNN__ARG(bmem), CLNN__ARG(ob),
                                 CLNN__ARG(has_bias), CLNN__ARG(alpha));
    if (st)
        return st;
    size_t global[2] = {(size_t)((P + span - 1) / span), (size_t)A * B};
    return enqueue(node, k, 2, global, plan);
}

/* dy: (N, K, OH, OW) samples [n0, n0 + nc) as a (K, nc OH OW) GEMM operand: swapped into
 * scratch[off] for several samples, read in place for one */
static clnn_status wide_dy(clnn_tensor *node, const conv_params *p, const conv_plan *plan,
                           const clnn_tensor *dy, int n0, int nc, size_t off, cl_mem *mem,
                           size_t *moff)
{
    int P = p->OH * p->OW;
    size_t at = dy->offset + (size_t)n0 * p->K * P;
    if (nc == 1) {
        *mem = dy->storage->mem;
        *moff = at;
        return CLNN_OK;
    }
    *mem = node->scratch;
    *moff = off;
    return run_swap(node, plan, nc, p->K, P, dy->storage->mem, (int)at, node->scratch, (int)off,
                    NULL, 0, 0.0f);
}

/* C = op(A) B (one GEMM, B and C not transposed) as `parts` GEMMs of column blocks of B and C,
 * the last one with the columns left over. Separate calls, not one strided-batched GEMM with A
 * shared (a_stride 0): Debian's CLBlast 1.5.3 computes that call wrongly for some shapes (e.g.
 * m = 1152, k = 128, n >= 1536 per batch; test_ops_conv has the cases). */
static clnn_status gemm_split_n(clnn_tensor *node, const clnn__gemm_args *g, size_t parts)
{
    if (parts <= 1)
        return clnn__gemm(node->ctx, node, g);
    const size_t cols = g->n / parts;
    clnn_status st = CLNN_OK;
    for (size_t i = 0; i < parts && st == CLNN_OK; i++) {
        clnn__gemm_args b = *g;
        b.n = i + 1 < parts ? cols : g->n - cols * i;
        b.b_off += cols * i;
        b.c_off += cols * i;
        st = clnn__gemm(node->ctx, node, &b);
    }
    return st;
}

/* C = A B (one GEMM, nothing transposed) as partial products over `parts` blocks of the inner
 * dimension, into C + b c_stride for b < parts, and b = parts for the rest (if any). Returns the
 * number of partial products in *used. */
static clnn_status gemm_split_k(clnn_tensor *node, const clnn__gemm_args *g, size_t parts,
                                int *used)
{
    clnn__gemm_args b = *g, r = *g;
    b.k = g->k / parts;
    b.a_stride = b.k;
    b.b_stride = b.k * g->ldb;
    b.batch = parts;
    clnn_status st = clnn__gemm(node->ctx, node, &b);
    r.k = g->k - b.k * parts;
    r.a_off += b.k * parts;
    r.b_off += b.k * parts * g->ldb;
    r.c_off += parts * g->c_stride;
    r.batch = 1;
    *used = (int)parts + (r.k > 0);
    return st || !r.k ? st : clnn__gemm(node->ctx, node, &r);
}

/* Per-group GEMM dimensions of a chunk of L columns. */
#define GROUP_DIMS(p)                                                                              \
    const size_t G = (size_t)(p)->groups, Kg = (size_t)(p)->K / G,                                 \
                 CgRS = (size_t)(p)->C / G * (size_t)(p)->R * (size_t)(p)->S

/* conv2d: x: (N, C, H, W), w: (K, C/G, R, S), b: (K) -> y: (N, K, OH, OW)
 * per chunk: col = im2col(x); yw (K, L) = W col (batched over groups); y = swap(yw) + b */
clnn_status clnn__conv_emit_gemm_conv2d(clnn_tensor *y, conv_plan plan)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int N = (int)x->shape[0], P = p->OH * p->OW;
    size_t crs = (size_t)p->C * p->R * p->S, yw = crs * plan.nc * P;
    GROUP_DIMS(p);
    clnn_status st = clnn__conv_scratch(y, ((size_t)p->K + crs) * plan.nc * P);
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc;
        size_t L = (size_t)nc * P;
        clnn__gemm_args g = {.m = Kg,
                             .n = L,
                             .k = CgRS,
                             .alpha = 1.0f,
                             .beta = 0.0f,
                             .a = w->storage->mem,
                             .a_off = w->offset,
                             .lda = CgRS,
                             .a_stride = Kg * CgRS,
                             .b = y->scratch,
                             .b_off = 0,
                             .ldb = L,
                             .b_stride = CgRS * L,
                             .c = y->scratch,
                             .c_off = yw,
                             .ldc = L,
                             .c_stride = Kg * L,
                             .batch = G};
        if (!(st = run_im2col(y, "conv_im2col", p, &plan, x, n0, nc)) &&
            !(st = clnn__gemm(y->ctx, y, &g)))
            st = run_swap(y, &plan, p->K, nc, P, y->scratch, (int)yw, y->storage->mem,
                          (int)(y->offset + (size_t)n0 * p->K * P), b, p->act, p->alpha);
    }
    return st;
}

/* conv2d_transpose, conv2d_bwd_input: d: (N, K, OH, OW), w: (K, C/G, R, S), b: (C)
 * -> y: (N, C, H, W); per chunk: dyw = swap(d); col (C R S, L) = W^T dyw (batched over groups,
 * or over column blocks for one group); y = col2im(col) + b */
clnn_status clnn__conv_emit_gemm_transpose(clnn_tensor *y, conv_plan plan)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *d = y->src[0], *w = y->src[1], *b = p->has_bias ? y->src[2] : NULL;
    int N = (int)d->shape[0], P = p->OH * p->OW;
    size_t col = (size_t)p->K * plan.nc * P;
    GROUP_DIMS(p);
    clnn_status st =
        clnn__conv_scratch(y, ((size_t)p->K + (size_t)p->C * p->R * p->S) * plan.nc * P);
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc;
        size_t L = (size_t)nc * P;
        clnn__gemm_args g = {.trans_a = 1,
                             .m = CgRS,
                             .n = L,
                             .k = Kg,
                             .alpha = 1.0f,
                             .beta = 0.0f,
                             .a = w->storage->mem,
                             .a_off = w->offset,
                             .lda = CgRS,
                             .a_stride = Kg * CgRS,
                             .ldb = L,
                             .b_stride = Kg * L,
                             .c = y->scratch,
                             .c_off = col,
                             .ldc = L,
                             .c_stride = CgRS * L,
                             .batch = G};
        if ((st = wide_dy(y, p, &plan, d, n0, nc, 0, &g.b, &g.b_off)))
            break;
        st = G > 1 ? clnn__gemm(y->ctx, y, &g) : gemm_split_n(y, &g, split_parts(&plan, L));
        if (!st)
            st = run_col2im(y, p, &plan, (int)col, b, n0, nc);
    }
    return st;
}

/* conv2d_bwd_weight: x: (N, C, H, W), dy: (N, K, OH, OW) -> dw: (K, C/G, R, S); per chunk:
 * colT = im2row(x) (L, C R S); dyw = swap(dy) (K, L); dw (+)= dyw colT: batched over groups, or
 * for one group split along L into partial products that conv_reduce adds up */
clnn_status clnn__conv_emit_gemm_bwd_weight(clnn_tensor *y, conv_plan plan)
{
    const conv_params *p = CLNN__PARAMS(y, conv_params);
    const clnn_tensor *x = y->src[0], *d = y->src[1];
    int N = (int)x->shape[0], P = p->OH * p->OW;
    size_t crs = (size_t)p->C * p->R * p->S, dyw = crs * plan.nc * P;
    size_t partial = dyw + (size_t)p->K * plan.nc * P;
    size_t parts_max = split_parts(&plan, (size_t)plan.nc * P) + 1;
    if (partial + parts_max * (size_t)y->numel >= INT_MAX) { /* int offsets in conv_reduce */
        plan.split = 0;
        parts_max = 1;
    }
    GROUP_DIMS(p);
    clnn_status st = clnn__conv_scratch(y, partial + (p->groups == 1 ? parts_max * y->numel : 0));
    for (int n0 = 0; !st && n0 < N; n0 += plan.nc) {
        int nc = N - n0 < plan.nc ? N - n0 : plan.nc, used;
        size_t L = (size_t)nc * P, parts = G > 1 ? 1 : split_parts(&plan, L);
        clnn__gemm_args g = {.m = Kg,
                             .n = CgRS,
                             .k = L,
                             .alpha = 1.0f,
                             .beta = n0 ? 1.0f : 0.0f,
                             .lda = L,
                             .a_stride = Kg * L,
                             .b = y->scratch,
                             .b_off = 0,
                             .ldb = crs,
                             .b_stride = CgRS,
                             .c = y->storage->mem,
                             .c_off = y->offset,
                             .ldc = CgRS,
                             .c_stride = Kg * CgRS,
                             .batch = G};
        if ((st = run_im2col(y, "conv_im2row", p, &plan, x, n0, nc)) ||
            (st = wide_dy(y, p, &plan, d, n0, nc, dyw, &g.a, &g.a_off)))
            break;
        if (parts == 1) {
            st = clnn__gemm(y->ctx, y, &g);
            continue;
        }
        g.c = y->scratch;
        g.c_off = partial;
        g.c_stride = (size_t)y->numel;
        g.beta = 0.0f;
        if (!(st = gemm_split_k(y, &g, parts, &used)))
            st = clnn__conv_reduce(y, &plan, (int)y->numel, used, (int)partial, n0 > 0);
    }
    return st;
}
