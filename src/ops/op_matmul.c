/* op_matmul.c — batched matrix product on clnn__gemm (src/core/gemm.c: clnn's own SGEMM on CPU
 * devices, CLBlast on GPUs), with an optional epilogue:
 *   y = act(op(a) @ op(b) + bias);  a: (..., M, K) [(..., K, M) if trans_a],
 *   b: (..., K, N) with the same batch axes, or (K, N) shared by every batch [(N, K) if trans_b],
 *   bias: (N) or absent, act one clnn__act_epilogue accepts (none, ReLU, sigmoid, tanh, leaky
 *   ReLU or ELU with alpha >= 0) -> y: (..., M, N)
 * The epilogue (clnn__matmul_bias_act: clnn_linear, the Dense layer) runs in the own SGEMM's store,
 * so a Dense layer is one kernel; CLBlast runs it as a pass after the GEMM.
 * Backward: d = dy masked or scaled by act' from the output y (relu_bwd, sigmoid_bwd, tanh_bwd of
 * op_unary.c, activate_bwd for leaky ReLU and ELU: clnn__act_bwd_from_output), da = d @ op(b)^T
 * (transposed back when trans_a), db = op(a)^T @ d (summed over the batch when b is shared; a
 * shared b with a plain a is one GEMM over the flattened batch), dbias = d summed over every axis
 * but the last. */
#include "ops_util.h"

typedef struct matmul_params {
    int trans_a, trans_b;
    int act;     /* the epilogue's clnn_activation (clnn__act_epilogue); the bias is src[2] */
    float alpha; /* its alpha (leaky ReLU, ELU) */
} matmul_params;

static int64_t batch_of(const clnn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim - 2; i++)
        n *= t->shape[i];
    return n;
}

static clnn_status infer(clnn_graph *g, clnn_tensor *y)
{
    const matmul_params *p = CLNN__PARAMS(y, matmul_params);
    const clnn_tensor *a = y->src[0], *b = y->src[1];
    char sa[128], sb[128];
    clnn__shape_str(a->ndim, a->shape, sa, sizeof sa);
    clnn__shape_str(b->ndim, b->shape, sb, sizeof sb);
    if (a->dtype != CLNN_F32 || b->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "matmul: expected f32 inputs, '%s' is not",
                                a->dtype != CLNN_F32 ? a->name : b->name);
    if (a->ndim < 2 || b->ndim < 2)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "matmul: expected matrices (2 or more dimensions), got '%s' %s "
                                "and '%s' %s",
                                a->name, sa, b->name, sb);
    int64_t m = a->shape[a->ndim - (p->trans_a ? 1 : 2)];
    int64_t ka = a->shape[a->ndim - (p->trans_a ? 2 : 1)];
    int64_t kb = b->shape[b->ndim - (p->trans_b ? 1 : 2)];
    int64_t n = b->shape[b->ndim - (p->trans_b ? 2 : 1)];
    if (ka != kb)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "matmul: inner dimensions differ: '%s' %s%s gives K = %lld, '%s' "
                                "%s%s gives K = %lld",
                                a->name, sa, p->trans_a ? " transposed" : "", (long long)ka,
                                b->name, sb, p->trans_b ? " transposed" : "", (long long)kb);
    if (b->ndim > 2) {
        int same = b->ndim == a->ndim;
        for (int i = 0; same && i < a->ndim - 2; i++)
            same = a->shape[i] == b->shape[i];
        if (!same)
            return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                    "matmul: expected '%s' to be a matrix or to have the batch "
                                    "axes of '%s' %s, got %s",
                                    b->name, a->name, sa, sb);
    }
    if (!clnn__act_epilogue((clnn_activation)p->act, p->alpha))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "matmul: the epilogue takes no activation %d with alpha %g (none, "
                                "relu, sigmoid, tanh, or leaky_relu or elu with alpha >= 0)",
                                p->act, (double)p->alpha);
    if (y->nsrc > 2) {
        const clnn_tensor *bias = y->src[2];
        char sbias[128];
        clnn__shape_str(bias->ndim, bias->shape, sbias, sizeof sbias);
        if (bias->dtype != CLNN_F32)
            return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                    "matmul: expected an f32 bias, '%s' is not", bias->name);
        if (bias->ndim != 1 || bias->shape[0] != n)
            return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                    "matmul: expected a bias of shape (%lld,) (the columns of the "
                                    "product of '%s' %s and '%s' %s), got '%s' %s",
                                    (long long)n, a->name, sa, b->name, sb, bias->name, sbias);
    }
    y->ndim = a->ndim;
    for (int i = 0; i < a->ndim - 2; i++)
        y->shape[i] = a->shape[i];
    y->shape[a->ndim - 2] = m;
    y->shape[a->ndim - 1] = n;
    return clnn__check_numel(g, "matmul", y);
}

static clnn_status emit(clnn_tensor *y)
{
    const matmul_params *p = CLNN__PARAMS(y, matmul_params);
    const clnn_tensor *a = y->src[0], *b = y->src[1];
    size_t m = (size_t)y->shape[y->ndim - 2], n = (size_t)y->shape[y->ndim - 1];
    size_t k = (size_t)a->shape[a->ndim - (p->trans_a ? 2 : 1)];
    size_t batch = (size_t)batch_of(a);
    clnn__gemm_args args = {
        .trans_a = p->trans_a,
        .trans_b = p->trans_b,
        .m = m,
        .n = n,
        .k = k,
        .alpha = 1.0f,
        .beta = 0.0f,
        .a = a->storage->mem,
        .b = b->storage->mem,
        .c = y->storage->mem,
        .a_off = a->offset,
        .b_off = b->offset,
        .c_off = y->offset,
        .lda = p->trans_a ? m : k,
        .ldb = p->trans_b ? k : n,
        .ldc = n,
        .a_stride = m * k,
        .b_stride = b->ndim > 2 ? k * n : 0,
        .c_stride = m * n,
        .batch = batch,
        .bias = y->nsrc > 2 ? y->src[2]->storage->mem : NULL,
        .bias_off = y->nsrc > 2 ? y->src[2]->offset : 0,
        .act = p->act,
        .act_alpha = p->alpha,
    };
    if (batch > 1 && b->ndim == 2 && !p->trans_a) {
        /* a shared b: one GEMM over all rows of a */
        args.m = m * batch;
        args.batch = 1;
    }
    return clnn__gemm(y->ctx, y, &args);
}

static clnn_status backward(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const matmul_params *p = CLNN__PARAMS(y, matmul_params);
    clnn_tensor *a = y->src[0], *b = y->src[1], *bias = y->nsrc > 2 ? y->src[2] : NULL;
    clnn_status st;
    if (!(dy = clnn__act_bwd_from_output(g, p->act, p->alpha, y, dy)))
        return g->status ? g->status : CLNN_ERR_NOMEM;
    if (bias && bias->requires_grad) {
        int axes[CLNN_MAX_DIMS];
        for (int i = 0; i < dy->ndim - 1; i++)
            axes[i] = i;
        if ((st = clnn__grad_accum(g, bias, clnn_sum(g, dy, dy->ndim - 1, axes, 0))))
            return st;
    }
    if (a->requires_grad) {
        /* d op(a) = dy @ op(b)^T */
        clnn_tensor *d = clnn_matmul(g, dy, b, 0, !p->trans_b);
        if (p->trans_a)
            d = clnn_transpose(g, d, -2, -1);
        if ((st = clnn__grad_accum(g, a, d)))
            return st;
    }
    if (b->requires_grad) {
        clnn_tensor *d;
        if (b->ndim == 2 && a->ndim > 2 && !p->trans_a) {
            /* flatten the batch: (B*M, K)^T @ (B*M, N) */
            int64_t k = a->shape[a->ndim - 1], n = dy->shape[dy->ndim - 1];
            clnn_tensor *a2 = clnn_reshape(g, a, 2, (int64_t[]){-1, k});
            clnn_tensor *d2 = clnn_reshape(g, dy, 2, (int64_t[]){-1, n});
            d = p->trans_b ? clnn_matmul(g, d2, a2, 1, 0) : clnn_matmul(g, a2, d2, 1, 0);
        } else {
            /* d op(b) = op(a)^T @ dy, batched (then summed over the batch if b is shared) */
            d = p->trans_b ? clnn_matmul(g, dy, a, 1, p->trans_a)
                           : clnn_matmul(g, a, dy, !p->trans_a, 0);
        }
        if ((st = clnn__grad_accum(g, b, d)))
            return st;
    }
    return CLNN_OK;
}

static void cost(const clnn_tensor *y, double *flops, double *bytes)
{
    const matmul_params *p = CLNN__PARAMS(y, matmul_params);
    const clnn_tensor *a = y->src[0];
    double k = (double)a->shape[a->ndim - (p->trans_a ? 2 : 1)];
    *flops = 2.0 * (double)y->numel * k;
    *bytes = 4.0 * (double)(y->numel + a->numel + y->src[1]->numel);
    if (y->nsrc > 2 || p->act != CLNN_ACT_NONE) {
        *flops += (p->act == CLNN_ACT_NONE ? 1.0 : 10.0) * (double)y->numel;
        *bytes += y->nsrc > 2 ? 4.0 * (double)y->src[2]->numel : 0.0;
    }
}

/* (a, b) or (a, b, bias) */
const clnn__op_def clnn__op_matmul = {"matmul", 3, infer, emit, backward, cost, NULL};

clnn_tensor *clnn_matmul(clnn_graph *g, clnn_tensor *a, clnn_tensor *b, int trans_a, int trans_b)
{
    matmul_params p = {trans_a != 0, trans_b != 0, CLNN_ACT_NONE, 0.0f};
    return clnn__node(g, CLNN_OP_MATMUL, 2, (clnn_tensor *[]){a, b}, &p, sizeof p);
}

clnn_tensor *clnn__matmul_bias_act(clnn_graph *g, clnn_tensor *a, clnn_tensor *b, int trans_a,
                                   int trans_b, clnn_tensor *bias, clnn_activation act, float alpha)
{
    if (!g || g->status)
        return NULL;
    if ((int)act < CLNN_ACT_NONE || (int)act > CLNN_ACT_SOFTMAX) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "matmul: expected a clnn_activation (%d to %d), got %d", CLNN_ACT_NONE,
                         CLNN_ACT_SOFTMAX, (int)act);
        return NULL;
    }
    /* the graph is built for one device: fuse where the own SGEMM runs the GEMM (CLBlast would
     * need the epilogue as a pass of its own, no faster than bias_act) */
    int fuse =
        clnn__gemm_own(g->ctx) && (clnn__act_epilogue(act, alpha) || act == CLNN_ACT_SOFTMAX);
    if (!fuse) {
        clnn_tensor *y = clnn_matmul(g, a, b, trans_a, trans_b);
        return bias ? clnn_bias_act(g, y, bias, -1, act, alpha) : clnn_activate(g, y, act, alpha);
    }
    /* softmax is not elementwise: the bias in the epilogue, then its own op */
    matmul_params p = {trans_a != 0, trans_b != 0, act == CLNN_ACT_SOFTMAX ? CLNN_ACT_NONE : act,
                       alpha};
    clnn_tensor *y =
        clnn__node(g, CLNN_OP_MATMUL, bias ? 3 : 2, (clnn_tensor *[]){a, b, bias}, &p, sizeof p);
    return act == CLNN_ACT_SOFTMAX ? clnn_softmax(g, y, -1) : y;
}
