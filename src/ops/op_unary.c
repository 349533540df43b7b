/* op_unary.c — one-input elementwise ops and their backward kernels (kernels/elementwise.cl):
 *   scale: y = alpha x          dx = alpha dy
 *   relu:  y = max(x, 0)        dx = dy [y > 0]          (relu_bwd(y, dy))
 *   sigmoid: y = 1/(1+e^-x)     dx = dy y (1 - y)        (sigmoid_bwd(y, dy))
 *   tanh:  y = tanh x           dx = dy (1 - y^2)        (tanh_bwd(y, dy))
 * The *_bwd ops take the forward output, so x need not be kept alive. */
#include "ops_util.h"

typedef struct scale_params {
    float alpha;
} scale_params;

static clnn_status infer_same(clnn_graph *g, clnn_tensor *y)
{
    const clnn_tensor *x = y->src[0];
    if (y->nsrc == 2 && !clnn__same_shape(x, y->src[1])) {
        char a[128], b[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected y %s and dy of the same shape, "
                                "got dy %s",
                                clnn__ops[y->op]->name,
                                clnn__shape_str(x->ndim, x->shape, a, sizeof a),
                                clnn__shape_str(y->src[1]->ndim, y->src[1]->shape, b, sizeof b));
    }
    if (x->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: expected an f32 input, got '%s' of "
                                "another dtype",
                                clnn__ops[y->op]->name, x->name);
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        y->shape[i] = x->shape[i];
    return CLNN_OK;
}

static clnn_status emit_scale(clnn_tensor *y)
{
    return clnn__emit_map(y, "scale", 1, &CLNN__PARAMS(y, scale_params)->alpha);
}
static clnn_status emit_relu(clnn_tensor *y)
{
    return clnn__emit_map(y, "relu", 1, NULL);
}
/* sigmoid and tanh on CPU devices: spans in float8 steps (kernel slot 1), see elementwise.cl */
static clnn_status emit_span(clnn_tensor *y, const char *kernel)
{
    const clnn_tensor *x = y->src[0];
    cl_kernel k;
    int fresh, per, n = (int)y->numel, ox = (int)x->offset, oy = (int)y->offset;
    size_t items = clnn__spans(y->ctx, y->numel, 1, 8, &per);
    clnn_status st = clnn__node_kernel(y, 1, kernel, &k, &fresh);
    if (!st)
        st = clnn__set_args(y->ctx, k, kernel, 6, CLNN__ARG(n), CLNN__ARG(per),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
    return st ? st : clnn__enqueue_spans(y, k, items);
}
static clnn_status emit_sigmoid(clnn_tensor *y)
{
    if (clnn__cpu_path(y->ctx))
        return emit_span(y, "sigmoid_span");
    return clnn__emit_map(y, "sigmoid", 1, NULL);
}
static clnn_status emit_tanh(clnn_tensor *y)
{
    if (clnn__cpu_path(y->ctx))
        return emit_span(y, "tanh_span");
    return clnn__emit_map(y, "tanh_fwd", 1, NULL);
}
static clnn_status emit_relu_bwd(clnn_tensor *y)
{
    return clnn__emit_map(y, "relu_bwd", 2, NULL);
}
static clnn_status emit_sigmoid_bwd(clnn_tensor *y)
{
    return clnn__emit_map(y, "sigmoid_bwd", 2, NULL);
}
static clnn_status emit_tanh_bwd(clnn_tensor *y)
{
    return clnn__emit_map(y, "tanh_bwd", 2, NULL);
}

static clnn_status backward_scale(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    return clnn__grad_accum(g, y->src[0], clnn_scale(g, dy, CLNN__PARAMS(y, scale_params)->alpha));
}

/* relu, sigmoid, tanh: dx = <op>_bwd(y, dy) */
static clnn_status backward_act(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    int bwd = y->op == CLNN_OP_RELU      ? CLNN_OP_RELU_BWD
              : y->op == CLNN_OP_SIGMOID ? CLNN_OP_SIGMOID_BWD
                                         : CLNN_OP_TANH_BWD;
    return clnn__grad_accum(g, y->src[0], clnn__node(g, bwd, 2, (clnn_tensor *[]){y, dy}, NULL, 0));
}

static void cost_map(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = (double)y->numel * (y->op == CLNN_OP_SIGMOID || y->op == CLNN_OP_TANH ? 4 : 1);
    *bytes = 4.0 * (double)y->numel * (1 + y->nsrc);
}

const clnn__op_def clnn__op_scale = {"scale",        1,        infer_same,   emit_scale,
                                     backward_scale, cost_map, "elementwise"};
const clnn__op_def clnn__op_relu = {"relu",       1,        infer_same,   emit_relu,
                                    backward_act, cost_map, "elementwise"};
const clnn__op_def clnn__op_sigmoid = {"sigmoid",    1,        infer_same,   emit_sigmoid,
                                       backward_act, cost_map, "elementwise"};
const clnn__op_def clnn__op_tanh = {"tanh",       1,        infer_same,   emit_tanh,
                                    backward_act, cost_map, "elementwise"};
/* second derivatives are not needed by any training path yet: no backward for these */
const clnn__op_def clnn__op_relu_bwd = {"relu_bwd", 2,        infer_same,   emit_relu_bwd,
                                        NULL,       cost_map, "elementwise"};
const clnn__op_def clnn__op_sigmoid_bwd = {"sigmoid_bwd", 2,        infer_same,   emit_sigmoid_bwd,
                                           NULL,          cost_map, "elementwise"};
const clnn__op_def clnn__op_tanh_bwd = {"tanh_bwd", 2,        infer_same,   emit_tanh_bwd,
                                        NULL,       cost_map, "elementwise"};

clnn_tensor *clnn_scale(clnn_graph *g, clnn_tensor *x, float alpha)
{
    scale_params p = {alpha};
    return clnn__node(g, CLNN_OP_SCALE, 1, &x, &p, sizeof p);
}

clnn_tensor *clnn_relu(clnn_graph *g, clnn_tensor *x)
{
    return clnn__node(g, CLNN_OP_RELU, 1, &x, NULL, 0);
}

clnn_tensor *clnn_sigmoid(clnn_graph *g, clnn_tensor *x)
{
    return clnn__node(g, CLNN_OP_SIGMOID, 1, &x, NULL, 0);
}

clnn_tensor *clnn_tanh(clnn_graph *g, clnn_tensor *x)
{
    return clnn__node(g, CLNN_OP_TANH, 1, &x, NULL, 0);
}
