/* op_norm.c — batch and layer normalisation (kernels/norm.cl); embedding is in op_embedding.c.
 *   batchnorm: x: (N, C, ...) -> y = (x - mean_c) / sqrt(var_c + eps) gamma_c + beta_c, the
 *     statistics of channel c over N and the spatial axes. Training mode (graph->training): the
 *     batch mean and biased variance, and ONE in-place update per run of the running statistics
 *     (C leaves, inputs of the batchnorm_stats node): running = (1 - momentum) running +
 *     momentum batch, the variance stored n/(n-1) scaled when unbiased_running_var (PyTorch).
 *     Evaluation mode: the running statistics, no update. The mode is read at every run.
 *     Backward (training): dx = gamma/sigma (dy - mean(dy) - xhat mean(dy xhat)); evaluation:
 *     dx = gamma/sigma dy; both: dgamma = sum dy xhat, dbeta = sum dy. The running statistics
 *     never receive gradients.
 *   layernorm: x: (..., K...) normalised over its last naxes axes (K values per row), gamma and
 *     beta of those axes' shape; dx = invstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma.
 * Graph form: <op>_stats computes a (2, C) or (2, M) tensor of (mean, 1/sqrt(var + eps)) used by
 * the apply node (batchnorm, layernorm) and by the backward nodes (<op>_bwd for dx,
 * batchnorm_bwd_reduce / layernorm_bwd_param for the per-channel sums, norm_row to pick one row
 * of those as dgamma or dbeta). Reductions are deterministic: no float atomics. Training mode
 * with one value per channel (N * spatial = 1) fails at run time with CLNN_ERR_INVALID, as in
 * PyTorch (the unbiased variance is undefined); evaluation mode accepts it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

#define NORM_WG 256 /* = the local arrays of kernels/norm.cl */

typedef struct norm_params {
    float momentum, eps; /* batchnorm; layernorm uses eps */
    int unbiased;
    int has_gamma, has_beta;
    int naxes; /* layernorm */
} norm_params;

typedef struct row_params {
    int row;
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
} row_params;

void clnn_batchnorm_options_init(clnn_batchnorm_options *options)
{
    if (!options)
        return;
    options->momentum = 0.1f;
    options->eps = 1e-5f;
    options->unbiased_running_var = 1;
}

/* ---- shared helpers -------------------------------------------------------------------------- */
/* The largest power of two <= min(NORM_WG, the device limit, want rounded up to a power of two) */
static size_t norm_local(const clnn_ctx *ctx, int64_t want)
{
    size_t cap = ctx->info.max_work_group_size ? ctx->info.max_work_group_size : 1, l = 1;
    while (l * 2 <= NORM_WG && l * 2 <= cap && (int64_t)l < want)
        l *= 2;
    return l;
}

/* x: (N, C, S...) as N, C and S = the product of the axes after the second */
static void bn_dims(const clnn_tensor *x, int *n, int *c, int *s)
{
    int64_t sp = 1;
    for (int i = 2; i < x->ndim; i++)
        sp *= x->shape[i];
    *n = (int)x->shape[0];
    *c = (int)x->shape[1];
    *s = (int)sp;
}

/* Chunks per channel of a reduction of nred values: about 8 work-groups per compute unit in
 * all, at least 8 values per work-item. */
static void bn_chunks(const clnn_tensor *node, int channels, int nred, size_t local, int *chunks,
                      int *per)
{
    int cu = (int)(node->ctx->info.compute_units ? node->ctx->info.compute_units : 1);
    int want = (8 * cu + channels - 1) / channels;
    int most = (int)(((int64_t)nred + 8 * (int64_t)local - 1) / (8 * (int64_t)local));
    int k = want < most ? want : most;
    if (k < 1)
        k = 1;
    *per = (nred + k - 1) / k;
    *chunks = (nred + *per - 1) / *per;
}

static clnn_status make_scratch(clnn_tensor *node, size_t bytes)
{
    return clnn__buffer_reserve(node->ctx, &node->scratch, bytes, "the partial sums", node->name);
}

/* checks that t is NULL or an f32 tensor of this graph of exactly shape (ndim, shape) */
static int check_vec(clnn_graph *g, const char *op, const char *what, const clnn_tensor *t,
                     int ndim, const int64_t *shape, const clnn_tensor *x, const char *which)
{
    if (!t)
        return 1;
    char a[128], b[128], c[128];
    if (t->graph != g) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "%s: %s '%s' is not a node of this graph (bind caller-owned tensors "
                         "with clnn_graph_bind)",
                         op, what, t->name);
        return 0;
    }
    if (t->dtype != CLNN_F32) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 %s, '%s' is not", op, what,
                         t->name);
        return 0;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: expected %s of shape %s (%s of x %s), got '%s' %s",
                         op, what, clnn__shape_str(ndim, shape, a, sizeof a), which,
                         clnn__shape_str(x->ndim, x->shape, b, sizeof b), t->name,
                         clnn__shape_str(t->ndim, t->shape, c, sizeof c));
        return 0;
    }
    return 1;
}

static int check_x(clnn_graph *g, const char *op, const clnn_tensor *x)
{
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: x is NULL", op);
        return 0;
    }
    if (x->graph != g) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: x '%s' is not a node of this graph", op,
                         x->name);
        return 0;
    }
    if (x->dtype != CLNN_F32) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 x, '%s' is not", op, x->name);
        return 0;
    }
    return clnn__check_numel(g, op, x) == CLNN_OK;
}

/* the (2, count) statistics or sums of an internal node */
static clnn_status infer_two_rows(clnn_graph *g, clnn_tensor *y, int64_t count)
{
    (void)g;
    y->ndim = 2;
    y->shape[0] = 2;
    y->shape[1] = count;
    return CLNN_OK;
}

static clnn_status infer_like_x(clnn_graph *g, clnn_tensor *y)
{
    (void)g;
    const clnn_tensor *x =
        y->op == CLNN_OP_BATCHNORM || y->op == CLNN_OP_LAYERNORM ? y->src[0] : y->src[1];
    y->ndim = x->ndim;
    memcpy(y->shape, x->shape, sizeof y->shape);
    return CLNN_OK;
}

static void cost_stream(const clnn_tensor *y, double *flops, double *bytes)
{
    double in = 0;
    for (int k = 0; k < y->nsrc; k++)
        in += (double)y->src[k]->numel;
    *flops = 4.0 * (double)y->src[0]->numel;
    *bytes = 4.0 * (in + (double)y->numel);
}

/* ---- norm_row: one row of a (R, count) tensor, with the shape of a parameter ---------------- */
static clnn_status infer_row(clnn_graph *g, clnn_tensor *y)
{
    (void)g;
    const row_params *p = CLNN__PARAMS(y, row_params);
    y->ndim = p->ndim;
    memcpy(y->shape, p->shape, sizeof y->shape);
    return CLNN_OK;
}

static clnn_status emit_row(clnn_tensor *y)
{
    const clnn_tensor *t = y->src[0];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "norm_row", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int count = (int)y->numel, row = CLNN__PARAMS(y, row_params)->row;
        int ot = (int)t->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "norm_row", 6, CLNN__ARG(count), CLNN__ARG(row),
                            CLNN__ARG(t->storage->mem), CLNN__ARG(ot), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

const clnn__op_def clnn__op_norm_row = {"norm_row", 1, infer_row, emit_row, NULL, NULL, "norm"};

/* row `row` of t (2, count) as a tensor shaped like `like` */
static clnn_tensor *norm_row(clnn_graph *g, clnn_tensor *t, int row, const clnn_tensor *like)
{
    row_params p = {row, like->ndim, {0}};
    memcpy(p.shape, like->shape, sizeof p.shape);
    return clnn__node(g, CLNN_OP_NORM_ROW, 1, &t, &p, sizeof p);
}

/* ---- batchnorm_stats: (x, running_mean, running_var) -> (2, C) ------------------------------ */
static clnn_status infer_bn_stats(clnn_graph *g, clnn_tensor *y)
{
    return infer_two_rows(g, y, y->src[0]->shape[1]);
}

static clnn_status emit_bn_stats(clnn_tensor *y)
{
    const norm_params *p = CLNN__PARAMS(y, norm_params);
    const clnn_tensor *x = y->src[0], *rm = y->src[1], *rv = y->src[2];
    clnn_ctx *ctx = y->ctx;
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    int nred = N * S, ox = (int)x->offset, oy = (int)y->offset;
    int orm = (int)rm->offset, orv = (int)rv->offset;
    cl_kernel k;
    int fresh;
    clnn_status st;
    size_t cglobal = (size_t)C, clocal = 64;
    if (!y->graph->training) {
        if ((st = clnn__node_kernel(y, 2, "bn_stats_eval", &k, &fresh)))
            return st;
        if (fresh && (st = clnn__set_args(
                          ctx, k, "bn_stats_eval", 8, CLNN__ARG(C), CLNN__ARG(p->eps),
                          CLNN__ARG(rm->storage->mem), CLNN__ARG(orm), CLNN__ARG(rv->storage->mem),
                          CLNN__ARG(orv), CLNN__ARG(y->storage->mem), CLNN__ARG(oy))))
            return st;
        return clnn__enqueue(y, k, 1, &cglobal, &clocal);
    }
    if (nred < 2) {
        char s[128];
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "batchnorm '%s': training mode needs more than 1 value per channel, "
                          "x %s has %d (PyTorch refuses this too; use evaluation mode)",
                          y->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s), nred);
    }
    size_t local = norm_local(ctx, nred);
    int chunks, per;
    bn_chunks(y, C, nred, local, &chunks, &per);
    cl_kernel fin;
    int fresh2;
    if ((st = clnn__node_kernel(y, 0, "bn_stats_partial", &k, &fresh)) ||
        (st = clnn__node_kernel(y, 1, "bn_stats_finish", &fin, &fresh2)))
        return st;
    if (fresh) {
        if ((st = make_scratch(y, (size_t)C * (size_t)chunks * 3 * sizeof(float))))
            return st;
        if ((st = clnn__set_args(ctx, k, "bn_stats_partial", 8, CLNN__ARG(C), CLNN__ARG(S),
                                 CLNN__ARG(nred), CLNN__ARG(chunks), CLNN__ARG(per),
                                 CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->scratch))))
            return st;
    }
    if (fresh2 &&
        (st = clnn__set_args(ctx, fin, "bn_stats_finish", 12, CLNN__ARG(C), CLNN__ARG(chunks),
                             CLNN__ARG(p->eps), CLNN__ARG(p->momentum), CLNN__ARG(p->unbiased),
                             CLNN__ARG(y->scratch), CLNN__ARG(y->storage->mem), CLNN__ARG(oy),
                             CLNN__ARG(rm->storage->mem), CLNN__ARG(orm),
                             CLNN__ARG(rv->storage->mem), CLNN__ARG(orv))))
        return st;
    size_t global = (size_t)C * (size_t)chunks * local;
    if ((st = clnn__enqueue(y, k, 1, &global, &local)))
        return st;
    return clnn__enqueue(y, fin, 1, &cglobal, &clocal);
}

static void cost_bn_stats(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 4.0 * (double)y->src[0]->numel;
    *bytes = 4.0 * ((double)y->src[0]->numel + 5.0 * (double)y->src[1]->numel);
}

const clnn__op_def clnn__op_batchnorm_stats = {
    "batchnorm_stats", 3, infer_bn_stats, emit_bn_stats, NULL, cost_bn_stats, "norm"};

/* ---- batchnorm: (x, stats, [gamma], [beta]) -> y --------------------------------------------- */
/* gamma and beta of a batchnorm or layernorm node, or NULL */
static clnn_tensor *affine_src(const clnn_tensor *y, int beta)
{
    const norm_params *p = CLNN__PARAMS(y, norm_params);
    if (!beta)
        return p->has_gamma ? y->src[2] : NULL;
    return p->has_beta ? y->src[2 + p->has_gamma] : NULL;
}

/* The apply kernels of batchnorm and layernorm share their argument list: x as (rows, cols),
 * statistics (2, nstat). */
static clnn_status emit_apply(clnn_tensor *y, const char *kernel, int rows, int nstat, int cols)
{
    const clnn_tensor *x = y->src[0], *s = y->src[1];
    const clnn_tensor *gamma = affine_src(y, 0), *beta = affine_src(y, 1);
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, kernel, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int affine = (gamma ? 1 : 0) | (beta ? 2 : 0);
        int ox = (int)x->offset, os = (int)s->offset, oy = (int)y->offset;
        int og = gamma ? (int)gamma->offset : 0, ob = beta ? (int)beta->offset : 0;
        cl_mem gm = gamma ? gamma->storage->mem : x->storage->mem;
        cl_mem bm = beta ? beta->storage->mem : x->storage->mem;
        st = clnn__set_args(y->ctx, k, kernel, 14, CLNN__ARG(rows), CLNN__ARG(nstat),
                            CLNN__ARG(cols), CLNN__ARG(affine), CLNN__ARG(x->storage->mem),
                            CLNN__ARG(ox), CLNN__ARG(s->storage->mem), CLNN__ARG(os), CLNN__ARG(gm),
                            CLNN__ARG(og), CLNN__ARG(bm), CLNN__ARG(ob), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global[2], local[2];
    clnn__row_grid(y->ctx, rows, cols, global, local);
    return clnn__enqueue(y, k, 2, global, local);
}

static clnn_status emit_bn(clnn_tensor *y)
{
    int N, C, S;
    bn_dims(y->src[0], &N, &C, &S);
    return emit_apply(y, "bn_apply", N * C, C, S);
}

static clnn_status backward_bn(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const norm_params *p = CLNN__PARAMS(y, norm_params);
    clnn_tensor *x = y->src[0], *stats = y->src[1];
    clnn_tensor *gamma = affine_src(y, 0), *beta = affine_src(y, 1);
    int need_g = gamma && gamma->requires_grad, need_b = beta && beta->requires_grad;
    if (!x->requires_grad && !need_g && !need_b)
        return CLNN_OK;
    clnn_tensor *red = clnn__node(g, CLNN_OP_BATCHNORM_BWD_REDUCE, 3,
                                  (clnn_tensor *[]){dy, x, stats}, p, sizeof *p);
    if (!red)
        return g->status;
    clnn_status st;
    if (x->requires_grad) {
        clnn_tensor *dx = clnn__node(g, CLNN_OP_BATCHNORM_BWD, gamma ? 5 : 4,
                                     (clnn_tensor *[]){dy, x, stats, red, gamma}, p, sizeof *p);
        if ((st = clnn__grad_accum(g, x, dx)))
            return st;
    }
    if (need_g && (st = clnn__grad_accum(g, gamma, norm_row(g, red, 1, gamma))))
        return st;
    if (need_b && (st = clnn__grad_accum(g, beta, norm_row(g, red, 0, beta))))
        return st;
    return CLNN_OK;
}

const clnn__op_def clnn__op_batchnorm = {"batchnorm", 4,           infer_like_x, emit_bn,
                                         backward_bn, cost_stream, "norm"};

/* ---- batchnorm backward: (dy, x, stats) -> (2, C) sums; (dy, x, stats, red, [gamma]) -> dx ----
 */
static clnn_status infer_bn_reduce(clnn_graph *g, clnn_tensor *y)
{
    return infer_two_rows(g, y, y->src[1]->shape[1]);
}

static clnn_status emit_bn_reduce(clnn_tensor *y)
{
    const clnn_tensor *dy = y->src[0], *x = y->src[1], *s = y->src[2];
    clnn_ctx *ctx = y->ctx;
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    int nred = N * S, chunks, per;
    size_t local = norm_local(ctx, nred);
    bn_chunks(y, C, nred, local, &chunks, &per);
    cl_kernel k, fin;
    int fresh, fresh2;
    clnn_status st;
    if ((st = clnn__node_kernel(y, 0, "bn_bwd_partial", &k, &fresh)) ||
        (st = clnn__node_kernel(y, 1, "bn_bwd_finish", &fin, &fresh2)))
        return st;
    int ody = (int)dy->offset, ox = (int)x->offset, os = (int)s->offset, oy = (int)y->offset;
    if (fresh) {
        if ((st = make_scratch(y, (size_t)C * (size_t)chunks * 2 * sizeof(float))))
            return st;
        if ((st = clnn__set_args(ctx, k, "bn_bwd_partial", 12, CLNN__ARG(C), CLNN__ARG(S),
                                 CLNN__ARG(nred), CLNN__ARG(chunks), CLNN__ARG(per),
                                 CLNN__ARG(dy->storage->mem), CLNN__ARG(ody),
                                 CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                                 CLNN__ARG(s->storage->mem), CLNN__ARG(os), CLNN__ARG(y->scratch))))
            return st;
    }
    if (fresh2 &&
        (st = clnn__set_args(ctx, fin, "bn_bwd_finish", 7, CLNN__ARG(C), CLNN__ARG(chunks),
                             CLNN__ARG(y->scratch), CLNN__ARG(s->storage->mem), CLNN__ARG(os),
                             CLNN__ARG(y->storage->mem), CLNN__ARG(oy))))
        return st;
    size_t global = (size_t)C * (size_t)chunks * local, cglobal = (size_t)C, clocal = 64;
    if ((st = clnn__enqueue(y, k, 1, &global, &local)))
        return st;
    return clnn__enqueue(y, fin, 1, &cglobal, &clocal);
}

const clnn__op_def clnn__op_batchnorm_bwd_reduce = {
    "batchnorm_bwd_reduce", 3, infer_bn_reduce, emit_bn_reduce, NULL, cost_stream, "norm"};

static clnn_status emit_bn_bwd(clnn_tensor *y)
{
    const clnn_tensor *dy = y->src[0], *x = y->src[1], *s = y->src[2], *red = y->src[3];
    const clnn_tensor *gamma = y->nsrc > 4 ? y->src[4] : NULL;
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    int training = y->graph->training ? 1 : 0; /* may change between runs: set on every emit */
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "bn_bwd_dx", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int rows = N * C, has_gamma = gamma != NULL;
        float inv_count = 1.0f / (float)(N * S);
        int ody = (int)dy->offset, ox = (int)x->offset, os = (int)s->offset;
        int ored = (int)red->offset, og = gamma ? (int)gamma->offset : 0, odx = (int)y->offset;
        cl_mem gm = gamma ? gamma->storage->mem : x->storage->mem;
        st = clnn__set_args(y->ctx, k, "bn_bwd_dx", 18, CLNN__ARG(rows), CLNN__ARG(C), CLNN__ARG(S),
                            CLNN__ARG(training), CLNN__ARG(inv_count), CLNN__ARG(has_gamma),
                            CLNN__ARG(dy->storage->mem), CLNN__ARG(ody), CLNN__ARG(x->storage->mem),
                            CLNN__ARG(ox), CLNN__ARG(s->storage->mem), CLNN__ARG(os),
                            CLNN__ARG(red->storage->mem), CLNN__ARG(ored), CLNN__ARG(gm),
                            CLNN__ARG(og), CLNN__ARG(y->storage->mem), CLNN__ARG(odx));
        if (st)
            return st;
    } else {
        cl_int err = clSetKernelArg(k, 3, sizeof training, &training);
        if (err != CL_SUCCESS)
            return clnn__cl_fail(y->ctx, err, "clSetKernelArg 3 of bn_bwd_dx");
    }
    size_t global[2], local[2];
    clnn__row_grid(y->ctx, N * C, S, global, local);
    return clnn__enqueue(y, k, 2, global, local);
}

const clnn__op_def clnn__op_batchnorm_bwd = {
    "batchnorm_bwd", 5, infer_like_x, emit_bn_bwd, NULL, cost_stream, "norm"};

/* ---- the public batchnorm builder ----------------------------------------------------------- */
static int check_running(clnn_graph *g, const char *what, const clnn_tensor *t)
{
    if (t->kind == CLNN__INPUT || t->kind == CLNN__PARAM || t->kind == CLNN__BOUND)
        return 1;
    clnn__graph_fail(g, CLNN_ERR_INVALID,
                     "batchnorm: %s '%s' is updated in place, so it must be a leaf made with "
                     "clnn_input, clnn_param or clnn_graph_bind; got %s",
                     what, t->name, t->kind == CLNN__CONST ? "a constant" : "an op result");
    return 0;
}

clnn_tensor *clnn_batchnorm(clnn_graph *g, clnn_tensor *x, clnn_tensor *gamma, clnn_tensor *beta,
                            clnn_tensor *running_mean, clnn_tensor *running_var,
                            const clnn_batchnorm_options *options)
{
    if (!g || g->status)
        return NULL;
    clnn_batchnorm_options o;
    clnn_batchnorm_options_init(&o);
    if (options)
        o = *options;
    if (!check_x(g, "batchnorm", x))
        return NULL;
    if (x->ndim < 2) {
        char s[128];
        clnn__graph_fail(g, CLNN_ERR_SHAPE,
                         "batchnorm: expected x of shape (N, C, ...) with at least 2 dimensions, "
                         "got '%s' %s",
                         x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s));
        return NULL;
    }
    if (!running_mean || !running_var) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "batchnorm: running_mean and running_var are required ((C) leaves), "
                         "got %s",
                         running_mean ? "a NULL running_var" : "a NULL running_mean");
        return NULL;
    }
    const int64_t *c = &x->shape[1];
    if (!check_vec(g, "batchnorm", "gamma", gamma, 1, c, x, "C") ||
        !check_vec(g, "batchnorm", "beta", beta, 1, c, x, "C") ||
        !check_vec(g, "batchnorm", "running_mean", running_mean, 1, c, x, "C") ||
        !check_vec(g, "batchnorm", "running_var", running_var, 1, c, x, "C") ||
        !check_running(g, "running_mean", running_mean) ||
        !check_running(g, "running_var", running_var))
        return NULL;
    if (running_mean == running_var || running_mean->storage == running_var->storage) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "batchnorm: running_mean and running_var must be different tensors, "
                         "got '%s' twice",
                         running_mean->name);
        return NULL;
    }
    if (!(o.momentum >= 0.0f && o.momentum <= 1.0f) || !(o.eps > 0.0f) || isinf(o.eps)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "batchnorm: expected momentum in [0, 1] and a finite eps > 0, got "
                         "momentum %g, eps %g",
                         (double)o.momentum, (double)o.eps);
        return NULL;
    }
    norm_params p = {o.momentum,    o.eps,        o.unbiased_running_var != 0,
                     gamma != NULL, beta != NULL, 0};
    clnn_tensor *stats = clnn__node(g, CLNN_OP_BATCHNORM_STATS, 3,
                                    (clnn_tensor *[]){x, running_mean, running_var}, &p, sizeof p);
    if (!stats)
        return NULL;
    stats->requires_grad = false; /* the backward of batchnorm covers x; running stats get none */
    clnn_tensor *src[4] = {x, stats, NULL, NULL};
    int n = 2;
    if (gamma)
        src[n++] = gamma;
    if (beta)
        src[n++] = beta;
    return clnn__node(g, CLNN_OP_BATCHNORM, n, src, &p, sizeof p);
}

/* ---- layernorm: x viewed as (M, K) ----------------------------------------------------------- */
static void ln_dims(const clnn_tensor *x, int naxes, int *m, int *k)
{
    int64_t kk = 1;
    for (int i = x->ndim - naxes; i < x->ndim; i++)
        kk *= x->shape[i];
    *k = (int)kk;
    *m = (int)(x->numel / kk);
}

static clnn_status infer_ln_stats(clnn_graph *g, clnn_tensor *y)
{
    int M, K;
    ln_dims(y->src[0], CLNN__PARAMS(y, norm_params)->naxes, &M, &K);
    return infer_two_rows(g, y, M);
}

static clnn_status emit_ln_stats(clnn_tensor *y)
{
    const norm_params *p = CLNN__PARAMS(y, norm_params);
    const clnn_tensor *x = y->src[0];
    int M, K;
    ln_dims(x, p->naxes, &M, &K);
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "ln_stats", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int ox = (int)x->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "ln_stats", 7, CLNN__ARG(M), CLNN__ARG(K), CLNN__ARG(p->eps),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t local = norm_local(y->ctx, K), global = (size_t)M * local;
    return clnn__enqueue(y, k, 1, &global, &local);
}

const clnn__op_def clnn__op_layernorm_stats = {
    "layernorm_stats", 1, infer_ln_stats, emit_ln_stats, NULL, cost_stream, "norm"};

static clnn_status emit_ln(clnn_tensor *y)
{
    int M, K;
    ln_dims(y->src[0], CLNN__PARAMS(y, norm_params)->naxes, &M, &K);
    return emit_apply(y, "ln_apply", M, M, K);
}

static clnn_status backward_ln(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const norm_params *p = CLNN__PARAMS(y, norm_params);
    clnn_tensor *x = y->src[0], *stats = y->src[1];
    clnn_tensor *gamma = affine_src(y, 0), *beta = affine_src(y, 1);
    clnn_status st;
    if (x->requires_grad) {
        clnn_tensor *dx = clnn__node(g, CLNN_OP_LAYERNORM_BWD, gamma ? 4 : 3,
                                     (clnn_tensor *[]){dy, x, stats, gamma}, p, sizeof *p);
        if ((st = clnn__grad_accum(g, x, dx)))
            return st;
    }
    int need_g = gamma && gamma->requires_grad, need_b = beta && beta->requires_grad;
    if (!need_g && !need_b)
        return CLNN_OK;
    clnn_tensor *sums = clnn__node(g, CLNN_OP_LAYERNORM_BWD_PARAM, 3,
                                   (clnn_tensor *[]){dy, x, stats}, p, sizeof *p);
    if (!sums)
        return g->status;
    if (need_g && (st = clnn__grad_accum(g, gamma, norm_row(g, sums, 0, gamma))))
        return st;
    if (need_b && (st = clnn__grad_accum(g, beta, norm_row(g, sums, 1, beta))))
        return st;
    return CLNN_OK;
}

const clnn__op_def clnn__op_layernorm = {"layernorm", 4,           infer_like_x, emit_ln,
                                         backward_ln, cost_stream, "norm"};

static clnn_status emit_ln_bwd(clnn_tensor *y)
{
    const clnn_tensor *dy = y->src[0], *x = y->src[1], *s = y->src[2];
    const clnn_tensor *gamma = y->nsrc > 3 ? y->src[3] : NULL;
    int M, K;
    ln_dims(x, CLNN__PARAMS(y, norm_params)->naxes, &M, &K);
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "ln_bwd_dx", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int has_gamma = gamma != NULL, ody = (int)dy->offset, ox = (int)x->offset;
        int os = (int)s->offset, og = gamma ? (int)gamma->offset : 0, odx = (int)y->offset;
        cl_mem gm = gamma ? gamma->storage->mem : x->storage->mem;
        st = clnn__set_args(y->ctx, k, "ln_bwd_dx", 13, CLNN__ARG(M), CLNN__ARG(K),
                            CLNN__ARG(has_gamma), CLNN__ARG(dy->storage->mem), CLNN__ARG(ody),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(s->storage->mem),
                            CLNN__ARG(os), CLNN__ARG(gm), CLNN__ARG(og), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(odx));
        if (st)
            return st;
    }
    size_t local = norm_local(y->ctx, K), global = (size_t)M * local;
    return clnn__enqueue(y, k, 1, &global, &local);
}

const clnn__op_def clnn__op_layernorm_bwd = {
    "layernorm_bwd", 4, infer_like_x, emit_ln_bwd, NULL, cost_stream, "norm"};

static clnn_status infer_ln_param(clnn_graph *g, clnn_tensor *y)
{
    int M, K;
    ln_dims(y->src[1], CLNN__PARAMS(y, norm_params)->naxes, &M, &K);
    return infer_two_rows(g, y, K);
}

/* column sums over row chunks (about 256 work-items per compute unit), then over the chunks */
static clnn_status emit_ln_param(clnn_tensor *y)
{
    const clnn_tensor *dy = y->src[0], *x = y->src[1], *s = y->src[2];
    clnn_ctx *ctx = y->ctx;
    int M, K;
    ln_dims(x, CLNN__PARAMS(y, norm_params)->naxes, &M, &K);
    int cu = (int)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    int chunks = (256 * cu + K - 1) / K;
    if (chunks > M)
        chunks = M;
    int per = (M + chunks - 1) / chunks;
    chunks = (M + per - 1) / per;
    cl_kernel k, fin;
    int fresh, fresh2;
    clnn_status st;
    if ((st = clnn__node_kernel(y, 0, "ln_param_partial", &k, &fresh)) ||
        (st = clnn__node_kernel(y, 1, "ln_param_finish", &fin, &fresh2)))
        return st;
    int ody = (int)dy->offset, ox = (int)x->offset, os = (int)s->offset, oy = (int)y->offset;
    if (fresh) {
        if ((st = make_scratch(y, (size_t)chunks * 2 * (size_t)K * sizeof(float))))
            return st;
        if ((st = clnn__set_args(ctx, k, "ln_param_partial", 11, CLNN__ARG(M), CLNN__ARG(K),
                                 CLNN__ARG(chunks), CLNN__ARG(per), CLNN__ARG(dy->storage->mem),
                                 CLNN__ARG(ody), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                                 CLNN__ARG(s->storage->mem), CLNN__ARG(os), CLNN__ARG(y->scratch))))
            return st;
    }
    if (fresh2 &&
        (st = clnn__set_args(ctx, fin, "ln_param_finish", 5, CLNN__ARG(K), CLNN__ARG(chunks),
                             CLNN__ARG(y->scratch), CLNN__ARG(y->storage->mem), CLNN__ARG(oy))))
        return st;
    size_t global = (size_t)K * (size_t)chunks, global2 = 2 * (size_t)K, local = 64;
    if ((st = clnn__enqueue(y, k, 1, &global, &local)))
        return st;
    return clnn__enqueue(y, fin, 1, &global2, &local);
}

const clnn__op_def clnn__op_layernorm_bwd_param = {
    "layernorm_bwd_param", 3, infer_ln_param, emit_ln_param, NULL, cost_stream, "norm"};

clnn_tensor *clnn_layernorm(clnn_graph *g, clnn_tensor *x, int naxes, clnn_tensor *gamma,
                            clnn_tensor *beta, float eps)
{
    if (!g || g->status)
        return NULL;
    if (!check_x(g, "layernorm", x))
        return NULL;
    if (naxes < 1 || naxes > x->ndim) {
        char s[128];
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "layernorm: expected naxes in 1..%d for x '%s' %s, got %d", x->ndim,
                         x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s), naxes);
        return NULL;
    }
    char which[48];
    snprintf(which, sizeof which, "the last %d ax%s", naxes, naxes == 1 ? "is" : "es");
    const int64_t *tail = &x->shape[x->ndim - naxes];
    if (!check_vec(g, "layernorm", "gamma", gamma, naxes, tail, x, which) ||
        !check_vec(g, "layernorm", "beta", beta, naxes, tail, x, which))
        return NULL;
    if (!(eps > 0.0f) || isinf(eps)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "layernorm: expected a finite eps > 0, got %g",
                         (double)eps);
        return NULL;
    }
    norm_params p = {0.0f, eps, 0, gamma != NULL, beta != NULL, naxes};
    clnn_tensor *stats = clnn__node(g, CLNN_OP_LAYERNORM_STATS, 1, &x, &p, sizeof p);
    if (!stats)
        return NULL;
    stats->requires_grad = false; /* the backward of layernorm covers x */
    clnn_tensor *src[4] = {x, stats, NULL, NULL};
    int n = 2;
    if (gamma)
        src[n++] = gamma;
    if (beta)
        src[n++] = beta;
    return clnn__node(g, CLNN_OP_LAYERNORM, n, src, &p, sizeof p);
}
