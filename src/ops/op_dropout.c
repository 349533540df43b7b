/* op_dropout.c — inverted dropout (kernels/dropout.cl):
 *   dropout:     training mode: y = x mask / (1 - p), mask_i = 0 with probability p;
 *                evaluation mode (clnn_graph_set_training(g, 0)): y = x
 *   dropout_bwd: dx = dy mask / (1 - p) with the same mask (y = x in evaluation mode)
 * The mask comes from Philox4x32-10 keyed by the op's 64-bit seed with the graph's run counter in
 * the RNG counter (layout in dropout.cl): it is made on the device, differs from run to run, and
 * dropout_bwd, which runs in the same clnn_graph_run, recomputes it bit for bit instead of storing
 * it. The mode and the run counter are kernel arguments set on every emit. p = 0 is the identity
 * (clnn_dropout returns x); p must lie in [0, 1). Two dropout ops with the same seed draw the same
 * mask in a run: give every layer its own seed. */
#include <math.h>

#include "ops_util.h"

typedef struct dropout_params {
    uint64_t seed;
    float p;
} dropout_params;

static clnn_status infer(clnn_graph *g, clnn_tensor *y)
{
    const dropout_params *p = CLNN__PARAMS(y, dropout_params);
    const clnn_tensor *x = y->src[0];
    const char *op = clnn__ops[y->op]->name;
    if (x->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 input, '%s' is not", op,
                                x->name);
    if (!(p->p >= 0.0f && p->p < 1.0f))
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected p in [0, 1), got %g", op,
                                (double)p->p);
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        y->shape[i] = x->shape[i];
    return clnn__check_numel(g, op, y);
}

static clnn_status emit(clnn_tensor *y)
{
    const dropout_params *p = CLNN__PARAMS(y, dropout_params);
    const clnn_tensor *x = y->src[0];
    const clnn_graph *g = y->graph;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "dropout", &k, &fresh);
    if (st)
        return st;
    /* every argument on every emit: the mode and the run counter change between runs (setting
     * an argument is host-side bookkeeping, no device work) */
    int train = g->training && p->p > 0.0f;
    cl_uint threshold = train ? (cl_uint)((double)p->p * 4294967296.0) : 0u; /* < 2^32: p < 1 */
    float scale = train ? 1.0f / (1.0f - p->p) : 1.0f;
    cl_uint seed_lo = (cl_uint)p->seed, seed_hi = (cl_uint)(p->seed >> 32);
    cl_uint run_lo = (cl_uint)g->runs, run_hi = (cl_uint)(g->runs >> 32);
    int n = (int)y->numel, ox = (int)x->offset, oy = (int)y->offset;
    st = clnn__set_args(y->ctx, k, "dropout", 11, CLNN__ARG(n), CLNN__ARG(threshold),
                        CLNN__ARG(scale), CLNN__ARG(seed_lo), CLNN__ARG(seed_hi), CLNN__ARG(run_lo),
                        CLNN__ARG(run_hi), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                        CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
    if (st)
        return st;
    size_t global = (size_t)(y->numel + 3) / 4, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

/* dx = dropout_bwd(dy): the forward kernel on dy, same seed, same run */
static clnn_status backward(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *d = clnn__node(g, CLNN_OP_DROPOUT_BWD, 1, &dy, y->params, sizeof(dropout_params));
    return clnn__grad_accum(g, y->src[0], d);
}

static void cost(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 12.0 * (double)y->numel; /* Philox: ~40 integer operations per 4 elements */
    *bytes = 8.0 * (double)y->numel;
}

const clnn__op_def clnn__op_dropout = {"dropout", 1, infer, emit, backward, cost, "dropout"};
/* dropout is linear in x for a fixed mask: dropout_bwd's own gradient is dropout_bwd again */
const clnn__op_def clnn__op_dropout_bwd = {"dropout_bwd", 1,    infer,    emit,
                                           backward,      cost, "dropout"};

clnn_tensor *clnn_dropout(clnn_graph *g, clnn_tensor *x, float p, uint64_t seed)
{
    if (!g || g->status)
        return NULL;
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "dropout: input x is NULL");
        return NULL;
    }
    if (!(p >= 0.0f && p < 1.0f)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "dropout: expected p in [0, 1), got %g", (double)p);
        return NULL;
    }
    if (p == 0.0f) { /* keeps every element: x itself, once it passes the checks of a node */
        if (x->graph != g || x->dtype != CLNN_F32) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             "dropout: expected an f32 node of this graph, '%s' is not", x->name);
            return NULL;
        }
        return x;
    }
    dropout_params params = {seed, p};
    return clnn__node(g, CLNN_OP_DROPOUT, 1, &x, &params, sizeof params);
}
