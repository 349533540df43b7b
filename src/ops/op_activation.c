/* op_activation.c — activations, the fused bias + activation, softmax and log-softmax
 * (kernels/activation.cl):
 *   activate:     y = act(x) for leaky_relu, elu, gelu, gelu_tanh     dx = act'(x) dy
 *                 (activate_bwd(x, dy)); clnn_activate maps NONE to x itself and RELU, SIGMOID,
 *                 TANH to the core ops clnn_relu, clnn_sigmoid, clnn_tanh (op_unary.c)
 *   bias_act:     y = act(x + b), b: (C) broadcast along one axis of x, in one pass
 *                 d = act'(x + b) dy (bias_act_bwd(x, b, dy), one kernel), dx = d,
 *                 db = sum of d over every other axis
 *   softmax:      y = e^(x - max) / sum e^(x - max) along an axis     dx = y (dy - sum(dy y))
 *   log_softmax:  y = x - max - log sum e^(x - max)                   dx = dy - e^y sum(dy)
 *                 (softmax_bwd / log_softmax_bwd(y, dy), one kernel each)
 * The activation formulas and codes (clnn_activation) live once, in activation.cl. Linear is in
 * op_linear.c, dropout in op_dropout.c. bias_act and the activation gradients run other kernels on
 * CPU devices (clnn__cpu_path): a work-item per span of elements, eight per step, instead of one
 * work-item per element in small work-groups (measured on POCL at the MNIST convolution outputs:
 * several times faster). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"

/* softmax: one work-item per row when rows are many or short, else one work-group per row */
#ifndef CLNN_SOFTMAX_SERIAL_ROWS
#define CLNN_SOFTMAX_SERIAL_ROWS 1024
#endif
#ifndef CLNN_SOFTMAX_SERIAL_LEN
#define CLNN_SOFTMAX_SERIAL_LEN 64
#endif
#define CLNN_SOFTMAX_WG 64 /* SOFTMAX_WG of activation.cl */

typedef struct act_params {
    int act; /* clnn_activation */
    float alpha;
    int axis; /* bias_act: the axis of x that b runs along (normalised by infer) */
} act_params;

typedef struct softmax_params {
    int axis; /* normalised by infer */
} softmax_params;

static const char *const act_names[] = {"none",    "relu", "leaky_relu", "elu",
                                        "sigmoid", "tanh", "gelu",       "gelu_tanh"};
#define ACT_COUNT ((int)(sizeof act_names / sizeof act_names[0]))

static int act_valid(int act)
{
    return act >= CLNN_ACT_NONE && act < ACT_COUNT;
}

static clnn_status fail_dtype(clnn_graph *g, const char *op, const clnn_tensor *t)
{
    return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected f32 inputs, '%s' is not", op,
                            t->name);
}

static clnn_status fail_same_shape(clnn_graph *g, const char *op, const clnn_tensor *a,
                                   const clnn_tensor *b)
{
    char sa[128], sb[128];
    return clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: expected '%s' of shape %s, got %s", op, b->name,
                            clnn__shape_str(a->ndim, a->shape, sa, sizeof sa),
                            clnn__shape_str(b->ndim, b->shape, sb, sizeof sb));
}

static void copy_shape(clnn_tensor *y, const clnn_tensor *x)
{
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        y->shape[i] = x->shape[i];
}

/* A kernel whose arguments could not all be set is dropped, so the next emit sets them again. */
static clnn_status drop_kernel(clnn_tensor *node, int slot, clnn_status st)
{
    clReleaseKernel(node->kernels[slot]);
    node->kernels[slot] = NULL;
    return st;
}

/* The span length, the last argument of a *_span kernel (clnn__set_args sets those before it) */
static clnn_status set_per(clnn_tensor *node, cl_kernel k, const char *name, cl_uint index, int per)
{
    cl_int err = clSetKernelArg(k, index, sizeof per, &per);
    return err == CL_SUCCESS ? CLNN_OK
                             : clnn__cl_fail(node->ctx, err, "clSetKernelArg %u of %s for '%s'",
                                             index, name, node->name);
}

static int64_t inner_size(const clnn_tensor *x, int axis)
{
    int64_t n = 1;
    for (int i = axis + 1; i < x->ndim; i++)
        n *= x->shape[i];
    return n;
}

/* ---- activate ------------------------------------------------------------------------------ */
/* activate: (x); activate_bwd: (x, dy) */
static clnn_status infer_activate(clnn_graph *g, clnn_tensor *y)
{
    const act_params *p = CLNN__PARAMS(y, act_params);
    const clnn_tensor *x = y->src[0];
    const char *op = y->op == CLNN_OP_ACTIVATE ? act_names[p->act] : clnn__ops[y->op]->name;
    for (int i = 0; i < y->nsrc; i++)
        if (y->src[i]->dtype != CLNN_F32)
            return fail_dtype(g, op, y->src[i]);
    if (y->nsrc == 2 && !clnn__same_shape(x, y->src[1]))
        return fail_same_shape(g, op, x, y->src[1]);
    copy_shape(y, x);
    return clnn__check_numel(g, op, y);
}

static clnn_status emit_activate(clnn_tensor *y)
{
    const act_params *p = CLNN__PARAMS(y, act_params);
    const clnn_tensor *x = y->src[0];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "act_fwd", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int n = (int)y->numel, ox = (int)x->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "act_fwd", 7, CLNN__ARG(n), CLNN__ARG(p->act),
                            CLNN__ARG(p->alpha), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                            CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (st)
            return drop_kernel(y, 0, st);
    }
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

/* bias_act_fwd and act_bwd run over (inner, channels, outer) (see activation.cl) */
static clnn_status enqueue_oci(clnn_tensor *node, cl_kernel k, int channels, int inner)
{
    size_t outer = (size_t)node->numel / ((size_t)channels * (size_t)inner);
    size_t global[3] = {(size_t)inner, (size_t)channels, outer}, local[3] = {64, 1, 1};
    if (inner < 64) {
        local[0] = (size_t)inner;
        local[1] = (size_t)(64 / inner);
        if (local[1] > (size_t)channels)
            local[1] = (size_t)channels;
    }
    return clnn__enqueue(node, k, 3, global, local);
}

/* activate_bwd (x, dy) and bias_act_bwd (x, b, dy): dx = act'(x [+ b]) dy */
static clnn_status emit_act_bwd(clnn_tensor *dx)
{
    const act_params *p = CLNN__PARAMS(dx, act_params);
    int has_bias = dx->op == CLNN_OP_BIAS_ACT_BWD;
    const clnn_tensor *x = dx->src[0], *b = has_bias ? dx->src[1] : x, *dy = dx->src[1 + has_bias];
    const int cpu = clnn__cpu_path(dx->ctx);
    const char *name = cpu ? "act_bwd_span" : "act_bwd";
    int n = (int)dx->numel, channels = has_bias ? (int)x->shape[p->axis] : 1;
    int inner = has_bias ? (int)inner_size(x, p->axis) : n, per = 0;
    size_t items = cpu ? clnn__spans(dx->ctx, n, 1, 16, &per) : 0;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(dx, cpu, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int ox = (int)x->offset, ob = (int)b->offset, ody = (int)dy->offset, odx = (int)dx->offset;
        st = clnn__set_args(dx->ctx, k, name, 14, CLNN__ARG(n), CLNN__ARG(p->act),
                            CLNN__ARG(p->alpha), CLNN__ARG(channels), CLNN__ARG(inner),
                            CLNN__ARG(has_bias), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                            CLNN__ARG(b->storage->mem), CLNN__ARG(ob), CLNN__ARG(dy->storage->mem),
                            CLNN__ARG(ody), CLNN__ARG(dx->storage->mem), CLNN__ARG(odx));
        if (!st && cpu)
            st = set_per(dx, k, name, 14, per);
        if (st)
            return drop_kernel(dx, cpu, st);
    }
    return cpu ? clnn__enqueue_spans(dx, k, items) : enqueue_oci(dx, k, channels, inner);
}

static clnn_status backward_activate(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *x = y->src[0];
    clnn_tensor *d = clnn__node(g, CLNN_OP_ACTIVATE_BWD, 2, (clnn_tensor *[]){x, dy}, y->params,
                                sizeof(act_params));
    return clnn__grad_accum(g, x, d);
}

static void cost_act(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 10.0 * (double)y->numel;
    *bytes = 4.0 * (double)y->numel * (1 + y->nsrc);
}

const clnn__op_def clnn__op_activate = {"activate",        1,        infer_activate, emit_activate,
                                        backward_activate, cost_act, "activation"};
/* second derivatives are not needed by any training path yet: no backward for the *_bwd ops */
const clnn__op_def clnn__op_activate_bwd = {"activate_bwd", 2,        infer_activate, emit_act_bwd,
                                            NULL,           cost_act, "activation"};

/* Checks the graph and x as a builder does before clnn__node (so a NULL x names the function). */
static int builder_ok(clnn_graph *g, const clnn_tensor *x, const char *fn)
{
    if (!g || g->status)
        return 0;
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: input x is NULL", fn);
        return 0;
    }
    return 1;
}

static clnn_tensor *activate_node(clnn_graph *g, clnn_tensor *x, clnn_activation act, float alpha)
{
    if (!builder_ok(g, x, act_names[act]))
        return NULL;
    act_params p = {(int)act, alpha, 0};
    clnn_tensor *y = clnn__node(g, CLNN_OP_ACTIVATE, 1, &x, &p, sizeof p);
    if (y)
        snprintf(y->name, sizeof y->name, "%s", act_names[act]);
    return y;
}

clnn_tensor *clnn_leaky_relu(clnn_graph *g, clnn_tensor *x, float alpha)
{
    return activate_node(g, x, CLNN_ACT_LEAKY_RELU, alpha);
}

clnn_tensor *clnn_elu(clnn_graph *g, clnn_tensor *x, float alpha)
{
    return activate_node(g, x, CLNN_ACT_ELU, alpha);
}

clnn_tensor *clnn_gelu(clnn_graph *g, clnn_tensor *x, int tanh_approximation)
{
    return activate_node(g, x, tanh_approximation ? CLNN_ACT_GELU_TANH : CLNN_ACT_GELU, 0.0f);
}

_Static_assert(CLNN__ACT_ELU_FROM_OUTPUT > CLNN_ACT_SOFTMAX,
               "the internal activation code must not be a clnn_activation");

int clnn__act_epilogue(clnn_activation act, float alpha)
{
    if (act == CLNN_ACT_LEAKY_RELU || act == CLNN_ACT_ELU)
        return alpha >= 0.0f && alpha <= FLT_MAX;
    return act == CLNN_ACT_NONE || act == CLNN_ACT_RELU || act == CLNN_ACT_SIGMOID ||
           act == CLNN_ACT_TANH;
}

/* relu_bwd: y > 0 exactly where the ReLU's input was (NaN included, as bias_act_bwd decides);
 * sigmoid_bwd: dy y (1 - y); tanh_bwd: dy (1 - y^2). With alpha >= 0, y > 0 exactly where x > 0
 * for leaky ReLU and ELU too, so activate_bwd on y gives leaky ReLU's derivative (1 or alpha), and
 * ELU's alpha e^x = y + alpha where y <= 0 (CLNN__ACT_ELU_FROM_OUTPUT; PyTorch's elu_backward
 * takes the same route from the result). */
clnn_tensor *clnn__act_bwd_from_output(clnn_graph *g, clnn_activation act, float alpha,
                                       clnn_tensor *y, clnn_tensor *dy)
{
    if (act == CLNN_ACT_NONE)
        return dy;
    if (act == CLNN_ACT_LEAKY_RELU || act == CLNN_ACT_ELU) {
        act_params p = {act == CLNN_ACT_ELU ? CLNN__ACT_ELU_FROM_OUTPUT : (int)act, alpha, 0};
        return clnn__node(g, CLNN_OP_ACTIVATE_BWD, 2, (clnn_tensor *[]){y, dy}, &p, sizeof p);
    }
    int op = act == CLNN_ACT_RELU      ? CLNN_OP_RELU_BWD
             : act == CLNN_ACT_SIGMOID ? CLNN_OP_SIGMOID_BWD
                                       : CLNN_OP_TANH_BWD;
    return clnn__node(g, op, 2, (clnn_tensor *[]){y, dy}, NULL, 0);
}

clnn_tensor *clnn_activate(clnn_graph *g, clnn_tensor *x, clnn_activation act, float alpha)
{
    if (!builder_ok(g, x, "activate"))
        return NULL;
    switch (act) {
    case CLNN_ACT_NONE:
        if (x->dtype != CLNN_F32) {
            fail_dtype(g, "activate", x);
            return NULL;
        }
        if (x->graph != g) {
            clnn__graph_fail(g, CLNN_ERR_INVALID, "activate: '%s' is not a node of this graph",
                             x->name);
            return NULL;
        }
        return x;
    case CLNN_ACT_RELU:
        return clnn_relu(g, x);
    case CLNN_ACT_SIGMOID:
        return clnn_sigmoid(g, x);
    case CLNN_ACT_TANH:
        return clnn_tanh(g, x);
    case CLNN_ACT_LEAKY_RELU:
    case CLNN_ACT_ELU:
    case CLNN_ACT_GELU:
    case CLNN_ACT_GELU_TANH:
        return activate_node(g, x, act, alpha);
    case CLNN_ACT_SOFTMAX:
        return clnn_softmax(g, x, -1);
    }
    clnn__graph_fail(g, CLNN_ERR_INVALID, "activate: expected a clnn_activation (%d to %d), got %d",
                     CLNN_ACT_NONE, CLNN_ACT_SOFTMAX, (int)act);
    return NULL;
}

/* ---- bias_act ------------------------------------------------------------------------------ */
/* bias_act: (x, b); bias_act_bwd: (x, b, dy) */
static clnn_status infer_bias_act(clnn_graph *g, clnn_tensor *y)
{
    act_params *p = CLNN__PARAMS(y, act_params);
    const char *op = clnn__ops[y->op]->name;
    const clnn_tensor *x = y->src[0], *b = y->src[1];
    for (int i = 0; i < y->nsrc; i++)
        if (y->src[i]->dtype != CLNN_F32)
            return fail_dtype(g, op, y->src[i]);
    char sx[128], sb[128];
    clnn__shape_str(x->ndim, x->shape, sx, sizeof sx);
    clnn__shape_str(b->ndim, b->shape, sb, sizeof sb);
    int axis = clnn__norm_axis(p->axis, x->ndim);
    if (axis < 0)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: axis %d is out of range for '%s' %s (expected -%d..%d)", op,
                                p->axis, x->name, sx, x->ndim, x->ndim - 1);
    if (b->ndim != 1 || b->shape[0] != x->shape[axis])
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected b of shape (%lld,) (the size of axis %d of '%s' "
                                "%s), got '%s' %s",
                                op, (long long)x->shape[axis], p->axis, x->name, sx, b->name, sb);
    if (y->nsrc == 3 && !clnn__same_shape(x, y->src[2]))
        return fail_same_shape(g, op, x, y->src[2]);
    p->axis = axis;
    copy_shape(y, x);
    return clnn__check_numel(g, op, y);
}

static clnn_status emit_bias_act(clnn_tensor *y)
{
    const act_params *p = CLNN__PARAMS(y, act_params);
    const clnn_tensor *x = y->src[0], *b = y->src[1];
    const int cpu = clnn__cpu_path(y->ctx);
    const char *name = cpu ? "bias_act_fwd_span" : "bias_act_fwd";
    int n = (int)y->numel, channels = (int)x->shape[p->axis], inner = (int)inner_size(x, p->axis);
    int per = 0;
    size_t items = cpu ? clnn__spans(y->ctx, n, 1, 16, &per) : 0;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, cpu, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int ox = (int)x->offset, ob = (int)b->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, name, 11, CLNN__ARG(n), CLNN__ARG(p->act),
                            CLNN__ARG(p->alpha), CLNN__ARG(channels), CLNN__ARG(inner),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(b->storage->mem),
                            CLNN__ARG(ob), CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (!st && cpu)
            st = set_per(y, k, name, 11, per);
        if (st)
            return drop_kernel(y, cpu, st);
    }
    return cpu ? clnn__enqueue_spans(y, k, items) : enqueue_oci(y, k, channels, inner);
}

static clnn_status backward_bias_act(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const act_params *p = CLNN__PARAMS(y, act_params);
    clnn_tensor *x = y->src[0], *b = y->src[1];
    clnn_tensor *d = p->act == CLNN_ACT_NONE
                         ? dy
                         : clnn__node(g, CLNN_OP_BIAS_ACT_BWD, 3, (clnn_tensor *[]){x, b, dy},
                                      y->params, sizeof(act_params));
    clnn_status st = clnn__grad_accum(g, x, d);
    if (st || !b->requires_grad)
        return st;
    int axes[CLNN_MAX_DIMS], n = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != p->axis)
            axes[n++] = i;
    return clnn__grad_accum(g, b, n ? clnn_sum(g, d, n, axes, 0) : d);
}

static void cost_bias_act(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 11.0 * (double)y->numel;
    *bytes = 4.0 * (double)(y->numel * (y->nsrc == 3 ? 3 : 2) + y->src[1]->numel);
}

const clnn__op_def clnn__op_bias_act = {
    "bias_act", 2, infer_bias_act, emit_bias_act, backward_bias_act, cost_bias_act, "activation"};
const clnn__op_def clnn__op_bias_act_bwd = {
    "bias_act_bwd", 3, infer_bias_act, emit_act_bwd, NULL, cost_bias_act, "activation"};

clnn_tensor *clnn_bias_act(clnn_graph *g, clnn_tensor *x, clnn_tensor *b, int axis,
                           clnn_activation act, float alpha)
{
    if (!g || g->status)
        return NULL;
    if (act == CLNN_ACT_SOFTMAX) /* softmax is not elementwise: bias, then its own op */
        return clnn_softmax(g, clnn_bias_act(g, x, b, axis, CLNN_ACT_NONE, 0.0f), axis);
    if (!act_valid((int)act)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "bias_act: expected a clnn_activation (%d to %d), got %d", CLNN_ACT_NONE,
                         CLNN_ACT_SOFTMAX, (int)act);
        return NULL;
    }
    if (!x || !b) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "bias_act: input %s is NULL", x ? "b" : "x");
        return NULL;
    }
    act_params p = {(int)act, alpha, axis};
    return clnn__node(g, CLNN_OP_BIAS_ACT, 2, (clnn_tensor *[]){x, b}, &p, sizeof p);
}

/* ---- softmax, log_softmax ------------------------------------------------------------------ */
/* softmax, log_softmax: (x); softmax_bwd, log_softmax_bwd: (y, dy) */
static clnn_status infer_softmax(clnn_graph *g, clnn_tensor *y)
{
    softmax_params *p = CLNN__PARAMS(y, softmax_params);
    const char *op = clnn__ops[y->op]->name;
    const clnn_tensor *x = y->src[0];
    for (int i = 0; i < y->nsrc; i++)
        if (y->src[i]->dtype != CLNN_F32)
            return fail_dtype(g, op, y->src[i]);
    int axis = clnn__norm_axis(p->axis, x->ndim);
    if (axis < 0) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: axis %d is out of range for '%s' %s (expected -%d..%d)", op,
                                p->axis, x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s),
                                x->ndim, x->ndim - 1);
    }
    if (y->nsrc == 2 && !clnn__same_shape(x, y->src[1]))
        return fail_same_shape(g, op, x, y->src[1]);
    p->axis = axis;
    copy_shape(y, x);
    return clnn__check_numel(g, op, y);
}

static int is_log(const clnn_tensor *t)
{
    return t->op == CLNN_OP_LOG_SOFTMAX || t->op == CLNN_OP_LOG_SOFTMAX_BWD;
}

/* forward (x) -> y and backward (y, dy) -> dx share the emit: the row layout and the choice
 * between one work-item and one work-group per row */
static clnn_status emit_softmax(clnn_tensor *out)
{
    const softmax_params *p = CLNN__PARAMS(out, softmax_params);
    int bwd = out->nsrc == 2;
    const clnn_tensor *a = out->src[0], *dy = bwd ? out->src[1] : NULL;
    int len = (int)a->shape[p->axis], inner = (int)inner_size(a, p->axis);
    int rows = (int)(out->numel / len), log_out = is_log(out);
    int serial = rows >= CLNN_SOFTMAX_SERIAL_ROWS || len <= CLNN_SOFTMAX_SERIAL_LEN;
    const char *name = serial ? (bwd ? "softmax_bwd_rows" : "softmax_rows")
                              : (bwd ? "softmax_bwd_group" : "softmax_group");
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(out, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int oa = (int)a->offset, oo = (int)out->offset;
        if (bwd) {
            int od = (int)dy->offset;
            st = clnn__set_args(out->ctx, k, name, 10, CLNN__ARG(rows), CLNN__ARG(len),
                                CLNN__ARG(inner), CLNN__ARG(log_out), CLNN__ARG(a->storage->mem),
                                CLNN__ARG(oa), CLNN__ARG(dy->storage->mem), CLNN__ARG(od),
                                CLNN__ARG(out->storage->mem), CLNN__ARG(oo));
        } else {
            st = clnn__set_args(out->ctx, k, name, 8, CLNN__ARG(rows), CLNN__ARG(len),
                                CLNN__ARG(inner), CLNN__ARG(log_out), CLNN__ARG(a->storage->mem),
                                CLNN__ARG(oa), CLNN__ARG(out->storage->mem), CLNN__ARG(oo));
        }
        if (st)
            return drop_kernel(out, 0, st);
    }
    size_t local = serial ? 64 : CLNN_SOFTMAX_WG;
    size_t global = serial ? (size_t)rows : (size_t)rows * local;
    return clnn__enqueue(out, k, 1, &global, &local);
}

static clnn_status backward_softmax(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    int op = y->op == CLNN_OP_SOFTMAX ? CLNN_OP_SOFTMAX_BWD : CLNN_OP_LOG_SOFTMAX_BWD;
    clnn_tensor *d =
        clnn__node(g, op, 2, (clnn_tensor *[]){y, dy}, y->params, sizeof(softmax_params));
    return clnn__grad_accum(g, y->src[0], d);
}

static void cost_softmax(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 5.0 * (double)y->numel;
    *bytes = 4.0 * (double)y->numel * (1 + y->nsrc);
}

const clnn__op_def clnn__op_softmax = {
    "softmax", 1, infer_softmax, emit_softmax, backward_softmax, cost_softmax, "activation"};
const clnn__op_def clnn__op_log_softmax = {
    "log_softmax", 1, infer_softmax, emit_softmax, backward_softmax, cost_softmax, "activation"};
const clnn__op_def clnn__op_softmax_bwd = {
    "softmax_bwd", 2, infer_softmax, emit_softmax, NULL, cost_softmax, "activation"};
const clnn__op_def clnn__op_log_softmax_bwd = {
    "log_softmax_bwd", 2, infer_softmax, emit_softmax, NULL, cost_softmax, "activation"};

static clnn_tensor *softmax_node(clnn_graph *g, int op, clnn_tensor *x, int axis)
{
    if (!builder_ok(g, x, clnn__ops[op]->name))
        return NULL;
    softmax_params p = {axis};
    return clnn__node(g, op, 1, &x, &p, sizeof p);
}

clnn_tensor *clnn_softmax(clnn_graph *g, clnn_tensor *x, int axis)
{
    return softmax_node(g, CLNN_OP_SOFTMAX, x, axis);
}

clnn_tensor *clnn_log_softmax(clnn_graph *g, clnn_tensor *x, int axis)
{
    return softmax_node(g, CLNN_OP_LOG_SOFTMAX, x, axis);
}
