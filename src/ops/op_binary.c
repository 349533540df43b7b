/* op_binary.c — add, sub, mul with NumPy broadcasting (kernels/elementwise.cl).
 *   y = a + b, y = a - b, y = a * b;   a, b broadcast to y
 * Backward: da = sum_to(dy [* b]), db = sum_to(±dy [* a]) (clnn__grad_accum reduces). */
#include "ops_util.h"

static const char *const same_kernel[3] = {"add_same", "sub_same", "mul_same"};

static int code_of(const clnn_tensor *t)
{
    return t->op == CLNN_OP_ADD ? 0 : t->op == CLNN_OP_SUB ? 1 : 2;
}

static clnn_status infer(clnn_graph *g, clnn_tensor *y)
{
    for (int i = 0; i < 2; i++)
        if (y->src[i]->dtype != CLNN_F32)
            return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected f32 inputs, '%s' is not",
                                    clnn__ops[y->op]->name, y->src[i]->name);
    return clnn__broadcast_shape(g, clnn__ops[y->op]->name, y->src[0], y->src[1], y);
}

static clnn_status emit(clnn_tensor *y)
{
    const clnn_tensor *a = y->src[0], *b = y->src[1];
    if (clnn__same_shape(a, y) && clnn__same_shape(b, y))
        return clnn__emit_map(y, same_kernel[code_of(y)], 2, NULL);
    int strides[2][CLNN_MAX_DIMS], shape[CLNN_MAX_DIMS], nd = y->ndim, meta[CLNN__META_INTS];
    for (int i = 0; i < nd; i++)
        shape[i] = (int)y->shape[i];
    clnn__bcast_strides(a, y->ndim, y->shape, strides[0]);
    clnn__bcast_strides(b, y->ndim, y->shape, strides[1]);
    clnn__merge_axes(&nd, shape, 2, strides);
    /* CPU devices: a work-item per span of rows of the merged last axis (binary_bcast_rows) when
     * the rows are long enough to vectorise; else, and on GPUs, one per element */
    int rows = clnn__cpu_path(y->ctx) && nd >= 1 && shape[nd - 1] >= 16, per = 1;
    const char *name = rows ? "binary_bcast_rows" : "binary_bcast";
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, rows, name, &k, &fresh);
    if (st)
        return st;
    size_t items = rows ? clnn__spans(y->ctx, y->numel / shape[nd - 1], shape[nd - 1], 1, &per) : 0;
    if (fresh) {
        clnn__meta_fill(meta, nd, shape, 2, strides);
        if ((st = clnn__node_meta(y, meta, CLNN__META_INTS)))
            return st;
        int n = (int)y->numel, op = code_of(y), oa = (int)a->offset, ob = (int)b->offset,
            oy = (int)y->offset;
        st = rows ? clnn__set_args(y->ctx, k, name, 10, CLNN__ARG(n), CLNN__ARG(op), CLNN__ARG(per),
                                   CLNN__ARG(y->aux), CLNN__ARG(a->storage->mem), CLNN__ARG(oa),
                                   CLNN__ARG(b->storage->mem), CLNN__ARG(ob),
                                   CLNN__ARG(y->storage->mem), CLNN__ARG(oy))
                  : clnn__set_args(y->ctx, k, name, 9, CLNN__ARG(n), CLNN__ARG(op),
                                   CLNN__ARG(y->aux), CLNN__ARG(a->storage->mem), CLNN__ARG(oa),
                                   CLNN__ARG(b->storage->mem), CLNN__ARG(ob),
                                   CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (st)
            return st;
    }
    if (rows)
        return clnn__enqueue_spans(y, k, items);
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

static clnn_status backward(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *a = y->src[0], *b = y->src[1];
    clnn_status st = CLNN_OK;
    switch (y->op) {
    case CLNN_OP_ADD:
        if ((st = clnn__grad_accum(g, a, dy)))
            return st;
        return clnn__grad_accum(g, b, dy);
    case CLNN_OP_SUB:
        if ((st = clnn__grad_accum(g, a, dy)))
            return st;
        return b->requires_grad ? clnn__grad_accum(g, b, clnn_scale(g, dy, -1.0f)) : CLNN_OK;
    default:
        if (a->requires_grad && (st = clnn__grad_accum(g, a, clnn_mul(g, dy, b))))
            return st;
        return b->requires_grad ? clnn__grad_accum(g, b, clnn_mul(g, dy, a)) : CLNN_OK;
    }
}

static void cost(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = (double)y->numel;
    *bytes = 4.0 * (double)(y->numel + y->src[0]->numel + y->src[1]->numel);
}

const clnn__op_def clnn__op_add = {"add", 2, infer, emit, backward, cost, "elementwise"};
const clnn__op_def clnn__op_sub = {"sub", 2, infer, emit, backward, cost, "elementwise"};
const clnn__op_def clnn__op_mul = {"mul", 2, infer, emit, backward, cost, "elementwise"};

clnn_tensor *clnn_add(clnn_graph *g, clnn_tensor *a, clnn_tensor *b)
{
    return clnn__node(g, CLNN_OP_ADD, 2, (clnn_tensor *[]){a, b}, NULL, 0);
}

clnn_tensor *clnn_sub(clnn_graph *g, clnn_tensor *a, clnn_tensor *b)
{
    return clnn__node(g, CLNN_OP_SUB, 2, (clnn_tensor *[]){a, b}, NULL, 0);
}

clnn_tensor *clnn_mul(clnn_graph *g, clnn_tensor *a, clnn_tensor *b)
{
    return clnn__node(g, CLNN_OP_MUL, 2, (clnn_tensor *[]){a, b}, NULL, 0);
}
