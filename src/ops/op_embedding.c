/* op_embedding.c — embedding lookup (kernels/embedding.cl):
 *   embedding:     indices: (...) i32, weight: (V, D) -> y: (..., D), y[p] = weight[indices[p]];
 *                  an index outside [0, V) reads a row of zeros (no status: indices live on the
 *                  device) and gives no gradient. The padding row is returned like any other.
 *   embedding_bwd: (dy, indices) -> dw: (V, D), dw[v] = sum of dy[p] over the positions p with
 *                  indices[p] = v, in ascending p; dw[padding_index] = 0 (PyTorch padding_idx)
 *                  and every row without occurrences is 0. Deterministic and free of float
 *                  atomics: the (index, position) pairs are sorted on the device (a bitonic
 *                  network, see embedding.cl) and each row sums its positions in order. */
#include "ops_util.h"

typedef struct embedding_params {
    int padding;
    int64_t V, D;
} embedding_params;

#define EMB_SORT_MAX_WG 256 /* = kernels/embedding.cl */

static clnn_status infer_embedding(clnn_graph *g, clnn_tensor *y)
{
    embedding_params *p = CLNN__PARAMS(y, embedding_params);
    const clnn_tensor *idx = y->src[0], *w = y->src[1];
    char a[128], b[128];
    if (idx->dtype != CLNN_I32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "embedding: expected i32 indices (clnn_input_i32), got '%s' of "
                                "another dtype",
                                idx->name);
    if (w->dtype != CLNN_F32 || w->ndim != 2)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "embedding: expected an f32 weight of shape (V, D), got '%s' %s%s",
                                w->name, clnn__shape_str(w->ndim, w->shape, a, sizeof a),
                                w->dtype == CLNN_F32 ? "" : " (not f32)");
    if (idx->ndim + 1 > CLNN_MAX_DIMS)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "embedding: expected indices of at most %d dimensions (the result "
                                "adds one), got '%s' %s",
                                CLNN_MAX_DIMS - 1, idx->name,
                                clnn__shape_str(idx->ndim, idx->shape, b, sizeof b));
    if (p->padding < -1 || p->padding >= w->shape[0])
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "embedding: expected padding_index in -1..%lld (V - 1, or -1 for "
                                "none) for weight '%s' %s, got %d",
                                (long long)w->shape[0] - 1, w->name,
                                clnn__shape_str(w->ndim, w->shape, a, sizeof a), p->padding);
    if (idx->numel > ((int64_t)1 << 30))
        return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                "embedding: %lld indices in '%s'; this version supports at most "
                                "2^30",
                                (long long)idx->numel, idx->name);
    p->V = w->shape[0];
    p->D = w->shape[1];
    y->ndim = idx->ndim + 1;
    for (int i = 0; i < idx->ndim; i++)
        y->shape[i] = idx->shape[i];
    y->shape[idx->ndim] = p->D;
    clnn_status st = clnn__check_numel(g, "embedding", w);
    return st ? st : clnn__check_numel(g, "embedding", y);
}

static clnn_status emit_embedding(clnn_tensor *y)
{
    const embedding_params *p = CLNN__PARAMS(y, embedding_params);
    const clnn_tensor *idx = y->src[0], *w = y->src[1];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "embedding_fwd", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int P = (int)idx->numel, D = (int)p->D, V = (int)p->V;
        int oi = (int)idx->offset, ow = (int)w->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "embedding_fwd", 9, CLNN__ARG(P), CLNN__ARG(D), CLNN__ARG(V),
                            CLNN__ARG(idx->storage->mem), CLNN__ARG(oi), CLNN__ARG(w->storage->mem),
                            CLNN__ARG(ow), CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global[2], local[2];
    clnn__row_grid(y->ctx, (int)idx->numel, (int)p->D, global, local);
    return clnn__enqueue(y, k, 2, global, local);
}

static clnn_status backward_embedding(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *idx = y->src[0], *w = y->src[1];
    if (!w->requires_grad)
        return CLNN_OK; /* integer indices have no gradient */
    clnn_tensor *dw = clnn__node(g, CLNN_OP_EMBEDDING_BWD, 2, (clnn_tensor *[]){dy, idx}, y->params,
                                 sizeof(embedding_params));
    return clnn__grad_accum(g, w, dw);
}

static void cost_embedding(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 0;
    *bytes = 8.0 * (double)y->numel + 4.0 * (double)y->src[0]->numel;
}

const clnn__op_def clnn__op_embedding = {
    "embedding",    2,          infer_embedding, emit_embedding, backward_embedding,
    cost_embedding, "embedding"};

clnn_tensor *clnn_embedding(clnn_graph *g, clnn_tensor *indices, clnn_tensor *weight,
                            int padding_index)
{
    embedding_params p = {padding_index, 0, 0};
    return clnn__node(g, CLNN_OP_EMBEDDING, 2, (clnn_tensor *[]){indices, weight}, &p, sizeof p);
}

/* ---- embedding_bwd --------------------------------------------------------------------------- */
static clnn_status infer_embedding_bwd(clnn_graph *g, clnn_tensor *y)
{
    (void)g;
    const embedding_params *p = CLNN__PARAMS(y, embedding_params);
    y->ndim = 2;
    y->shape[0] = p->V;
    y->shape[1] = p->D;
    return CLNN_OK;
}

/* The sort's local size L (a power of two <= EMB_SORT_MAX_WG and the device limit) and the
 * padded key count n2 (a power of two >= max(P, 2L)). */
static void sort_sizes(const clnn_ctx *ctx, int64_t P, int *L, int *n2)
{
    size_t cap = ctx->info.max_work_group_size ? ctx->info.max_work_group_size : 1;
    int l = 1;
    while (l * 2 <= EMB_SORT_MAX_WG && (size_t)l * 2 <= cap)
        l *= 2;
    int64_t n = 2 * l;
    while (n < P)
        n *= 2;
    *L = l;
    *n2 = (int)n;
}

static clnn_status emit_embedding_bwd(clnn_tensor *y)
{
    const embedding_params *p = CLNN__PARAMS(y, embedding_params);
    const clnn_tensor *dy = y->src[0], *idx = y->src[1];
    clnn_ctx *ctx = y->ctx;
    int P = (int)idx->numel, V = (int)p->V, D = (int)p->D, pad = p->padding;
    int L, n2;
    sort_sizes(ctx, P, &L, &n2);
    cl_kernel sl, sg, sum;
    int fresh_l, fresh_g, fresh_s;
    clnn_status st;
    if ((st = clnn__node_kernel(y, 0, "emb_sort_local", &sl, &fresh_l)) ||
        (st = clnn__node_kernel(y, 1, "emb_sort_global", &sg, &fresh_g)) ||
        (st = clnn__node_kernel(y, 2, "emb_bwd_sum", &sum, &fresh_s)))
        return st;
    if (!y->scratch) {
        cl_int err;
        y->scratch = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, (size_t)n2 * sizeof(cl_ulong),
                                    NULL, &err);
        if (err != CL_SUCCESS) {
            y->scratch = NULL;
            return clnn__cl_fail(ctx, err, "clCreateBuffer for the sort keys of '%s'", y->name);
        }
    }
    int oi = (int)idx->offset, ody = (int)dy->offset, odw = (int)y->offset, pairs = n2 / 2;
    int mode = 0, stage = 0;
    if (fresh_l &&
        (st = clnn__set_args(ctx, sl, "emb_sort_local", 8, CLNN__ARG(mode), CLNN__ARG(stage),
                             CLNN__ARG(P), CLNN__ARG(V), CLNN__ARG(pad),
                             CLNN__ARG(idx->storage->mem), CLNN__ARG(oi), CLNN__ARG(y->scratch))))
        return st;
    if (fresh_g && (st = clnn__set_args(ctx, sg, "emb_sort_global", 4, CLNN__ARG(pairs),
                                        CLNN__ARG(stage), CLNN__ARG(stage), CLNN__ARG(y->scratch))))
        return st;
    if (fresh_s &&
        (st = clnn__set_args(ctx, sum, "emb_bwd_sum", 8, CLNN__ARG(V), CLNN__ARG(D), CLNN__ARG(n2),
                             CLNN__ARG(y->scratch), CLNN__ARG(dy->storage->mem), CLNN__ARG(ody),
                             CLNN__ARG(y->storage->mem), CLNN__ARG(odw))))
        return st;
    /* the sort: blocks of 2L in local memory, then each larger stage k: global steps j >= 2L and
     * the local steps j < 2L. Arguments are captured at enqueue, so they change between calls. */
    size_t lsize = (size_t)L, lglobal = (size_t)pairs, gglobal = (size_t)pairs, glocal = 64;
    if ((st = clnn__set_args(ctx, sl, "emb_sort_local", 2, CLNN__ARG(mode), CLNN__ARG(stage))) ||
        (st = clnn__enqueue(y, sl, 1, &lglobal, &lsize)))
        return st;
    mode = 1;
    for (int k = 4 * L; k <= n2; k *= 2) {
        for (int j = k / 2; j >= 2 * L; j /= 2) {
            cl_int err = clSetKernelArg(sg, 1, sizeof k, &k);
            if (err == CL_SUCCESS)
                err = clSetKernelArg(sg, 2, sizeof j, &j);
            if (err != CL_SUCCESS)
                return clnn__cl_fail(ctx, err, "clSetKernelArg of emb_sort_global");
            if ((st = clnn__enqueue(y, sg, 1, &gglobal, &glocal)))
                return st;
        }
        if ((st = clnn__set_args(ctx, sl, "emb_sort_local", 2, CLNN__ARG(mode), CLNN__ARG(k))) ||
            (st = clnn__enqueue(y, sl, 1, &lglobal, &lsize)))
            return st;
    }
    size_t sglobal[2], slocal[2];
    clnn__row_grid(ctx, V, D, sglobal, slocal);
    return clnn__enqueue(y, sum, 2, sglobal, slocal);
}

static void cost_embedding_bwd(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = (double)y->src[0]->numel;
    *bytes = 4.0 * ((double)y->src[0]->numel + (double)y->numel);
}

const clnn__op_def clnn__op_embedding_bwd = {"embedding_bwd",    2,    infer_embedding_bwd,
                                             emit_embedding_bwd, NULL, cost_embedding_bwd,
                                             "embedding"};

/* ---- sequence_lengths ------------------------------------------------------------------------ */
/* ids (N, T) i32 -> (N) i32: the steps before each row's first padding id (at least 1). */
typedef struct seqlen_params {
    int pad;
} seqlen_params;

static clnn_status infer_sequence_lengths(clnn_graph *g, clnn_tensor *y)
{
    const clnn_tensor *ids = y->src[0];
    char a[128];
    if (ids->dtype != CLNN_I32 || ids->ndim != 2)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "sequence_lengths: expected i32 ids of shape (N, T), got '%s' %s%s",
                                ids->name, clnn__shape_str(ids->ndim, ids->shape, a, sizeof a),
                                ids->dtype == CLNN_I32 ? "" : " (not i32)");
    y->dtype = CLNN_I32;
    y->ndim = 1;
    y->shape[0] = ids->shape[0];
    return CLNN_OK;
}

static clnn_status emit_sequence_lengths(clnn_tensor *y)
{
    const clnn_tensor *ids = y->src[0];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "sequence_lengths", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int N = (int)ids->shape[0], T = (int)ids->shape[1];
        int pad = CLNN__PARAMS(y, seqlen_params)->pad, oi = (int)ids->offset, ol = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "sequence_lengths", 7, CLNN__ARG(N), CLNN__ARG(T),
                            CLNN__ARG(pad), CLNN__ARG(ids->storage->mem), CLNN__ARG(oi),
                            CLNN__ARG(y->storage->mem), CLNN__ARG(ol));
        if (st)
            return st;
    }
    size_t global = (size_t)ids->shape[0], local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

static void cost_sequence_lengths(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 0;
    *bytes = 4.0 * (double)(y->src[0]->numel + y->numel);
}

/* no backward: integer lengths have no gradient */
const clnn__op_def clnn__op_sequence_lengths = {
    "sequence_lengths",    1,          infer_sequence_lengths, emit_sequence_lengths, NULL,
    cost_sequence_lengths, "embedding"};

clnn_tensor *clnn_sequence_lengths(clnn_graph *g, clnn_tensor *ids, int pad)
{
    seqlen_params p = {pad};
    return clnn__node(g, CLNN_OP_SEQUENCE_LENGTHS, 1, (clnn_tensor *[]){ids}, &p, sizeof p);
}
