/* graph.c — graph construction: leaves (inputs, parameters, constants, bound tensors), op nodes
 * made through the registry (clnn__node runs the op's infer), the sticky first error, and
 * clnn_graph_backward(), which walks the nodes in reverse and lets each op's backward rule append
 * more nodes; gradients meet in clnn__grad_accum. Planning is in plan.c, running in queue.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clnn_status clnn_graph_create(clnn_ctx *ctx, clnn_graph **out)
{
    if (!ctx || !out)
        return ctx ? clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_graph_create: out is NULL")
                   : CLNN_ERR_INVALID;
    *out = NULL;
    if (!ctx->usable)
        return clnn__fail(ctx, CLNN_ERR_STATE, "clnn_graph_create: the context is not usable");
    clnn_graph *g = calloc(1, sizeof *g);
    if (!g)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory");
    g->ctx = ctx;
    g->training = true;
    *out = g;
    return CLNN_OK;
}

void clnn__node_release_emit(clnn_tensor *t)
{
    for (int k = 0; k < CLNN__MAX_KERNELS; k++) {
        if (t->kernels[k])
            clReleaseKernel(t->kernels[k]);
        t->kernels[k] = NULL;
    }
    if (t->aux)
        clReleaseMemObject(t->aux);
    if (t->scratch)
        clReleaseMemObject(t->scratch);
    t->aux = t->scratch = NULL;
    clnn__gemm_pack_drop(t);
}

void clnn_graph_destroy(clnn_graph *g)
{
    if (!g)
        return;
    if (g->ctx->queue)
        clFinish(g->ctx->queue); /* no kernel may still use the buffers freed below */
    clnn__plan_release(g);
    for (size_t i = 0; i < g->nnodes; i++) {
        clnn_tensor *t = g->nodes[i];
        clnn__node_release_emit(t);
        clnn__storage_release(t->storage);
        free(t);
    }
    free(g->nodes);
    free(g->error);
    free(g);
}

clnn_status clnn__graph_fail(clnn_graph *g, clnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clnn__failv(g->ctx, status, fmt, ap);
    va_end(ap);
    if (g->status == CLNN_OK) {
        g->status = status;
        free(g->error);
        g->error = clnn__strdup(g->ctx->last_error);
    }
    return status;
}

clnn_status clnn_graph_status(const clnn_graph *g)
{
    return g ? g->status : CLNN_ERR_INVALID;
}

const char *clnn_graph_last_error(const clnn_graph *g)
{
    if (!g)
        return "graph is NULL";
    return g->error ? g->error : "";
}

void clnn_graph_clear_error(clnn_graph *g)
{
    if (!g)
        return;
    g->status = CLNN_OK;
    free(g->error);
    g->error = NULL;
}

int clnn__norm_axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

/* Appends t to the graph's node list. */
static clnn_tensor *append(clnn_graph *g, clnn_tensor *t)
{
    if (clnn__grow((void **)&g->nodes, &g->nodes_cap, g->nnodes + 1, sizeof *g->nodes)) {
        free(t);
        clnn__graph_fail(g, CLNN_ERR_NOMEM, "out of host memory for graph nodes");
        return NULL;
    }
    t->index = g->nnodes;
    g->nodes[g->nnodes++] = t;
    g->planned = false; /* a new node invalidates the plan */
    return t;
}

static clnn_tensor *new_tensor(clnn_graph *g, clnn__kind kind)
{
    clnn_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        clnn__graph_fail(g, CLNN_ERR_NOMEM, "out of host memory for a graph node");
        return NULL;
    }
    t->ctx = g->ctx;
    t->graph = g;
    t->kind = kind;
    return t;
}

static clnn_tensor *leaf(clnn_graph *g, clnn__kind kind, const char *name, clnn_dtype dtype,
                         int ndim, const int64_t *shape)
{
    static const char *what[] = {"tensor", "input", "param", "constant", "bound", "op"};
    if (!g || g->status)
        return NULL;
    if (ndim < 0 || ndim > CLNN_MAX_DIMS || (ndim && !shape)) {
        clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s '%s': expected 0 to %d dimensions, got %d",
                         what[kind], name ? name : "", CLNN_MAX_DIMS, ndim);
        return NULL;
    }
    if (!clnn__shape_valid(ndim, shape)) {
        char s[160];
        clnn__graph_fail(g, CLNN_ERR_SHAPE,
                         "%s '%s': shape %s: expected positive dimensions and at most 2^46 "
                         "elements",
                         what[kind], name ? name : "", clnn__shape_str(ndim, shape, s, sizeof s));
        return NULL;
    }
    clnn_tensor *t = new_tensor(g, kind);
    if (!t)
        return NULL;
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = clnn__numel(ndim, shape);
    t->keep = true;
    t->requires_grad = kind == CLNN__PARAM;
    snprintf(t->name, sizeof t->name, "%s", name ? name : what[kind]);
    clnn_status st =
        clnn__storage_create(g->ctx, (size_t)t->numel * clnn__dtype_size(dtype), &t->storage);
    if (st) {
        clnn__graph_fail(g, st, "%s '%s': %s", what[kind], t->name, g->ctx->last_error);
        free(t);
        return NULL;
    }
    clnn__storage *storage = t->storage;
    if (!append(g, t)) {
        clnn__storage_release(storage); /* append freed t */
        return NULL;
    }
    return t;
}

clnn_tensor *clnn_input(clnn_graph *g, const char *name, int ndim, const int64_t *shape)
{
    return leaf(g, CLNN__INPUT, name, CLNN_F32, ndim, shape);
}

clnn_tensor *clnn_input_i32(clnn_graph *g, const char *name, int ndim, const int64_t *shape)
{
    return leaf(g, CLNN__INPUT, name, CLNN_I32, ndim, shape);
}

clnn_tensor *clnn_param(clnn_graph *g, const char *name, int ndim, const int64_t *shape)
{
    return leaf(g, CLNN__PARAM, name, CLNN_F32, ndim, shape);
}

clnn_tensor *clnn_constant(clnn_graph *g, float value, int ndim, const int64_t *shape)
{
    clnn_tensor *t = leaf(g, CLNN__CONST, "constant", CLNN_F32, ndim, shape);
    if (!t)
        return NULL;
    t->fill = value;
    clnn_status st = clnn__fill(g->ctx, t->storage->mem, 0, (size_t)t->numel, value, t->name);
    if (st) {
        clnn__graph_fail(g, st, "constant: %s", g->ctx->last_error);
        return NULL;
    }
    return t;
}

clnn_tensor *clnn_graph_bind(clnn_graph *g, clnn_tensor *external, int requires_grad)
{
    if (!g || g->status)
        return NULL;
    if (!external) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "clnn_graph_bind: the tensor is NULL");
        return NULL;
    }
    if (external->graph || external->ctx != g->ctx) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "clnn_graph_bind '%s': expected a tensor from clnn_tensor_create on "
                         "this graph's context",
                         external->name);
        return NULL;
    }
    clnn_tensor *t = new_tensor(g, CLNN__BOUND);
    if (!t)
        return NULL;
    t->dtype = external->dtype;
    t->ndim = external->ndim;
    memcpy(t->shape, external->shape, sizeof t->shape);
    t->numel = external->numel;
    t->storage = external->storage;
    t->offset = external->offset;
    t->keep = true;
    t->requires_grad = requires_grad != 0;
    t->external = external;
    snprintf(t->name, sizeof t->name, "%s", external->name[0] ? external->name : "bound");
    clnn__storage_retain(t->storage);
    if (!append(g, t)) {
        clnn__storage_release(external->storage);
        return NULL;
    }
    return t;
}

clnn_tensor *clnn_graph_keep(clnn_graph *g, clnn_tensor *t)
{
    if (!g || !t)
        return t;
    if (t->graph != g) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "clnn_graph_keep: '%s' is not a node of this graph",
                         t->name);
        return NULL;
    }
    if (!t->keep) {
        t->keep = true;
        g->planned = false;
    }
    return t;
}

clnn_tensor *clnn__node(clnn_graph *g, int op, int nsrc, clnn_tensor *const *src,
                        const void *params, size_t params_size)
{
    if (!g || g->status)
        return NULL;
    const clnn__op_def *def = clnn__ops[op];
    for (int i = 0; i < nsrc; i++) {
        if (!src[i]) {
            clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: input %d is NULL", def->name, i);
            return NULL;
        }
        if (src[i]->graph != g) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             "%s: input %d '%s' is not a node of this graph (bind caller-owned "
                             "tensors with clnn_graph_bind)",
                             def->name, i, src[i]->name);
            return NULL;
        }
    }
    clnn_tensor *t = new_tensor(g, CLNN__OP);
    if (!t)
        return NULL;
    t->op = op;
    t->nsrc = nsrc;
    t->dtype = CLNN_F32;
    for (int i = 0; i < nsrc; i++) {
        t->src[i] = src[i];
        t->requires_grad = t->requires_grad || src[i]->requires_grad;
    }
    if (params_size)
        memcpy(t->params, params, params_size);
    snprintf(t->name, sizeof t->name, "%s", def->name);
    if (def->infer(g, t) != CLNN_OK) {
        free(t);
        return NULL;
    }
    if (!clnn__shape_valid(t->ndim, t->shape)) {
        char s[160];
        clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: result shape %s: expected at most 2^46 elements",
                         def->name, clnn__shape_str(t->ndim, t->shape, s, sizeof s));
        free(t);
        return NULL;
    }
    t->numel = clnn__numel(t->ndim, t->shape);
    return append(g, t);
}

/* ---- backward ------------------------------------------------------------------------------ */
clnn_tensor *clnn__sum_to(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape)
{
    if (!x)
        return NULL;
    int lead = x->ndim - ndim;
    int axes[CLNN_MAX_DIMS], n = 0;
    for (int i = 0; i < x->ndim; i++) {
        int j = i - lead;
        if (j < 0 || (shape[j] == 1 && x->shape[i] != 1))
            axes[n++] = i;
    }
    clnn_tensor *s = n ? clnn_sum(g, x, n, axes, 1) : x;
    if (s && (s->ndim != ndim || memcmp(s->shape, shape, (size_t)ndim * sizeof *shape)))
        s = clnn_reshape(g, s, ndim, shape);
    return s;
}

clnn_status clnn__grad_accum(clnn_graph *g, clnn_tensor *t, clnn_tensor *d)
{
    if (!t->requires_grad)
        return CLNN_OK;
    if (!d)
        return g->status ? g->status : CLNN_ERR_INVALID;
    if (d->ndim != t->ndim || memcmp(d->shape, t->shape, (size_t)t->ndim * sizeof *t->shape))
        d = clnn__sum_to(g, d, t->ndim, t->shape);
    if (!d)
        return g->status;
    t->grad = t->grad ? clnn_add(g, t->grad, d) : d;
    return t->grad ? CLNN_OK : g->status;
}

clnn_status clnn_graph_backward(clnn_graph *g, clnn_tensor *loss)
{
    if (!g)
        return CLNN_ERR_INVALID;
    if (g->status)
        return g->status;
    if (!loss || loss->graph != g)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "clnn_graph_backward: the loss is %s",
                                loss ? "not a node of this "
                                       "graph"
                                     : "NULL");
    if (loss->numel != 1) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "clnn_graph_backward: expected a scalar loss (1 element), got '%s' "
                                "of shape %s",
                                loss->name, clnn__shape_str(loss->ndim, loss->shape, s, sizeof s));
    }
    if (g->has_backward)
        return clnn__graph_fail(g, CLNN_ERR_STATE,
                                "clnn_graph_backward: this graph already has its backward pass");
    if (!loss->requires_grad)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "clnn_graph_backward: '%s' depends on no parameter or tensor "
                                "that requires a gradient",
                                loss->name);
    g->has_backward = true;
    loss->keep = true;
    loss->grad = clnn_constant(g, 1.0f, loss->ndim, loss->shape);
    if (!loss->grad)
        return g->status;
    clnn_tensor_set_name(loss->grad, "d_loss");
    for (size_t i = loss->index + 1; i-- > 0;) {
        clnn_tensor *t = g->nodes[i];
        if (t->kind != CLNN__OP || !t->grad || !t->requires_grad)
            continue;
        const clnn__op_def *def = clnn__ops[t->op];
        if (!def->backward)
            return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                    "clnn_graph_backward: op '%s' ('%s') has no gradient",
                                    def->name, t->name);
        clnn_status st = def->backward(g, t, t->grad);
        if (st)
            return g->status ? g->status : st;
        if (g->status)
            return g->status;
    }
    for (size_t i = 0; i < g->nnodes; i++) {
        clnn_tensor *t = g->nodes[i];
        if (t->kind != CLNN__OP && t->kind != CLNN__CONST && t->grad)
            t->grad->keep = true;
    }
    return CLNN_OK;
}

clnn_tensor *clnn_tensor_grad(const clnn_tensor *t)
{
    if (!t || !t->grad)
        return NULL;
    if (!t->grad->keep && t->graph && !t->graph->planned)
        t->grad->keep = true; /* asked for before planning: keep it readable */
    return t->grad;
}

clnn_status clnn_graph_info_get(const clnn_graph *g, clnn_graph_info *info)
{
    if (!g || !info)
        return CLNN_ERR_INVALID;
    *info = g->info;
    info->nodes = g->nnodes;
    size_t ops = 0;
    for (size_t i = 0; i < g->nnodes; i++)
        ops += g->nodes[i]->kind == CLNN__OP && !g->nodes[i]->is_view;
    info->ops = ops;
    return CLNN_OK;
}
