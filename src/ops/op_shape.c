/* op_shape.c — layout ops:
 *   transpose: y = x with axes axis0 and axis1 swapped (a copy, kernels/elementwise.cl
 *              strided_copy)                         dx = transpose(dy, axis0, axis1)
 *   reshape:   y = x with another shape, same data (a view: no kernel, no buffer)
 *                                                    dx = reshape(dy, x's shape) */
#include <string.h>

#include "ops_util.h"

typedef struct transpose_params {
    int axis0, axis1;
} transpose_params;

typedef struct reshape_params {
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
} reshape_params;

static clnn_status infer_transpose(clnn_graph *g, clnn_tensor *y)
{
    transpose_params *p = CLNN__PARAMS(y, transpose_params);
    const clnn_tensor *x = y->src[0];
    int a0 = clnn__norm_axis(p->axis0, x->ndim), a1 = clnn__norm_axis(p->axis1, x->ndim);
    if (a0 < 0 || a1 < 0)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "transpose: axes %d and %d: expected axes in -%d..%d for '%s' "
                                "with %d dimensions",
                                p->axis0, p->axis1, x->ndim, x->ndim - 1, x->name, x->ndim);
    p->axis0 = a0;
    p->axis1 = a1;
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    memcpy(y->shape, x->shape, sizeof y->shape);
    y->shape[a0] = x->shape[a1];
    y->shape[a1] = x->shape[a0];
    return CLNN_OK;
}

static clnn_status emit_transpose(clnn_tensor *y)
{
    const transpose_params *p = CLNN__PARAMS(y, transpose_params);
    const clnn_tensor *x = y->src[0];
    int xs[CLNN_MAX_DIMS], strides[CLNN_MAX_DIMS];
    int64_t s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        xs[i] = (int)s;
        s *= x->shape[i];
    }
    for (int i = 0; i < y->ndim; i++)
        strides[i] = xs[i == p->axis0 ? p->axis1 : i == p->axis1 ? p->axis0 : i];
    return clnn__emit_strided_copy(y, strides);
}

static clnn_status backward_transpose(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const transpose_params *p = CLNN__PARAMS(y, transpose_params);
    return clnn__grad_accum(g, y->src[0], clnn_transpose(g, dy, p->axis0, p->axis1));
}

const clnn__op_def clnn__op_transpose = {"transpose",        1,    infer_transpose, emit_transpose,
                                         backward_transpose, NULL, "elementwise"};

clnn_tensor *clnn_transpose(clnn_graph *g, clnn_tensor *x, int axis0, int axis1)
{
    transpose_params p = {axis0, axis1};
    return clnn__node(g, CLNN_OP_TRANSPOSE, 1, &x, &p, sizeof p);
}

/* ---- reshape ------------------------------------------------------------------------------- */
static clnn_status infer_reshape(clnn_graph *g, clnn_tensor *y)
{
    reshape_params *p = CLNN__PARAMS(y, reshape_params);
    const clnn_tensor *x = y->src[0];
    int64_t known = 1;
    int at = -1, bad = p->ndim < 0 || p->ndim > CLNN_MAX_DIMS;
    for (int i = 0; !bad && i < p->ndim; i++) {
        if (p->shape[i] == -1 && at < 0)
            at = i;
        else if (p->shape[i] <= 0)
            bad = 1;
        else
            known *= p->shape[i];
    }
    if (!bad && at >= 0) {
        bad = x->numel % known != 0;
        if (!bad)
            p->shape[at] = x->numel / known;
    }
    if (bad || clnn__numel(p->ndim, p->shape) != x->numel) {
        char a[128], b[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "reshape: cannot view '%s' %s (%lld elements) as %s: expected "
                                "the same element count and at most one -1",
                                x->name, clnn__shape_str(x->ndim, x->shape, a, sizeof a),
                                (long long)x->numel,
                                clnn__shape_str(p->ndim < 0 ? 0 : p->ndim, p->shape, b, sizeof b));
    }
    y->dtype = x->dtype;
    y->ndim = p->ndim;
    memcpy(y->shape, p->shape, sizeof p->shape);
    y->is_view = true;
    return CLNN_OK;
}

static clnn_status emit_reshape(clnn_tensor *y)
{
    (void)y; /* a view: the planner gives it its source's buffer */
    return CLNN_OK;
}

static clnn_status backward_reshape(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const clnn_tensor *x = y->src[0];
    return clnn__grad_accum(g, y->src[0], clnn_reshape(g, dy, x->ndim, x->shape));
}

const clnn__op_def clnn__op_reshape = {"reshape",        1,    infer_reshape, emit_reshape,
                                       backward_reshape, NULL, NULL};

clnn_tensor *clnn_reshape(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape)
{
    if (!g || g->status)
        return NULL;
    if (ndim < 0 || ndim > CLNN_MAX_DIMS || (ndim && !shape)) {
        clnn__graph_fail(g, CLNN_ERR_SHAPE, "reshape: expected 0 to %d dimensions, got %d",
                         CLNN_MAX_DIMS, ndim);
        return NULL;
    }
    reshape_params p = {ndim, {0}};
    if (ndim)
        memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    return clnn__node(g, CLNN_OP_RESHAPE, 1, &x, &p, sizeof p);
}
