/* op_linear.c — PyTorch Linear as a composition, no op of its own:
 *   x: (..., in), w: (out, in), b: (out) or NULL -> y = act(x w^T + b): (..., out)
 * clnn__matmul_bias_act(x, w, 0, 1, b, act) (op_matmul.c; the batch axes of x are flattened into
 * the GEMM's rows): on CPU devices one kernel, clnn's own SGEMM with the bias and a ReLU, sigmoid,
 * tanh, or leaky ReLU or ELU with alpha >= 0 in its store (softmax: the bias there, then softmax;
 * GELU and a negative alpha: bias_act after the GEMM); on GPUs a CLBlast GEMM, then the bias and
 * the activation in one fused pass (clnn_bias_act along the last axis; clnn_activate without a
 * bias). The gradients come from those ops' backward rules. A 1-D x is one row: (in) -> (out). */
#include "ops_util.h"

clnn_tensor *clnn_linear(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *b,
                         clnn_activation act, float alpha)
{
    if (!g || g->status)
        return NULL;
    if (!x || !w) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "linear: input %s is NULL", x ? "w" : "x");
        return NULL;
    }
    if ((int)act < CLNN_ACT_NONE || (int)act > CLNN_ACT_SOFTMAX) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "linear: expected a clnn_activation (%d to %d), got %d", CLNN_ACT_NONE,
                         CLNN_ACT_SOFTMAX, (int)act);
        return NULL;
    }
    const clnn_tensor *bad = x->dtype != CLNN_F32        ? x
                             : w->dtype != CLNN_F32      ? w
                             : b && b->dtype != CLNN_F32 ? b
                                                         : NULL;
    if (bad) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "linear: expected f32 inputs, '%s' is not",
                         bad->name);
        return NULL;
    }
    char sx[128], sw[128], sb[128];
    clnn__shape_str(x->ndim, x->shape, sx, sizeof sx);
    clnn__shape_str(w->ndim, w->shape, sw, sizeof sw);
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1]) {
        clnn__graph_fail(g, CLNN_ERR_SHAPE,
                         "linear: expected x (..., in) and w (out, in) with the same in, got "
                         "'%s' %s and '%s' %s",
                         x->name, sx, w->name, sw);
        return NULL;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        clnn__graph_fail(
            g, CLNN_ERR_SHAPE, "linear: expected b of shape (%lld,) (out of w %s), got '%s' %s",
            (long long)w->shape[0], sw, b->name, clnn__shape_str(b->ndim, b->shape, sb, sizeof sb));
        return NULL;
    }
    int64_t in = w->shape[1], out = w->shape[0];
    clnn_tensor *x2 = x->ndim == 1 ? clnn_reshape(g, x, 2, (int64_t[]){1, in}) : x;
    clnn_tensor *y = clnn__matmul_bias_act(g, x2, w, 0, 1, b, act, alpha);
    return x->ndim == 1 ? clnn_reshape(g, y, 1, &out) : y;
}
