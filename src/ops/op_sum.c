/* op_sum.c — reductions and their inverse (kernels/sum.cl, kernels/elementwise.cl):
 *   sum:    y = sum of x over axes (keepdim keeps them as size 1)    dx = expand(dy)
 *   mean:   y = sum / count                                          dx = expand(dy) / count
 *   expand: y = x broadcast to a shape                               dx = sum_to(dy, x's shape)
 * Sum and mean share the kernels of sum.cl (scale = 1 or 1/count): GPUs a work-item per output or
 * work-groups per slice of one output; CPU devices (clnn__cpu_path) about 8 work-items per
 * compute unit, float16 steps along the contiguous axis (measured on POCL: the conv bias gradient
 * ~2-3x, the LSTM bias gradient ~40x faster than the GPU kernels there). */
#include <string.h>

#include "ops_util.h"

/* float16 accumulators of a sum_cols work-item: the kernel's default of SUM_COL_VECS (sum.cl) */
#define SUM_COL_VECS 4

typedef struct reduce_params {
    unsigned axes; /* bit i set: axis i is reduced */
    int keepdim;
} reduce_params;

typedef struct shape_params {
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
} shape_params;

static int64_t reduced_count(const clnn_tensor *y)
{
    const clnn_tensor *x = y->src[0];
    return y->numel ? x->numel / y->numel : 0;
}

static clnn_status infer_reduce(clnn_graph *g, clnn_tensor *y)
{
    const reduce_params *p = CLNN__PARAMS(y, reduce_params);
    const clnn_tensor *x = y->src[0];
    if (x->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 input, '%s' is not",
                                clnn__ops[y->op]->name, x->name);
    int n = 0;
    for (int i = 0; i < x->ndim; i++) {
        int reduced = (p->axes >> i) & 1;
        if (!reduced)
            y->shape[n++] = x->shape[i];
        else if (p->keepdim)
            y->shape[n++] = 1;
    }
    y->ndim = n;
    return CLNN_OK;
}

static clnn_tensor *reduce(clnn_graph *g, int op, clnn_tensor *x, int naxes, const int *axes,
                           int keepdim)
{
    if (!g || g->status)
        return NULL;
    reduce_params p = {0, keepdim != 0};
    const char *name = clnn__ops[op]->name;
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: input 0 is NULL", name);
        return NULL;
    }
    if (naxes < 0 || naxes > x->ndim || (naxes && !axes)) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected 0 to %d axes for '%s', got %d", name,
                         x->ndim, x->name, naxes);
        return NULL;
    }
    for (int i = 0; i < naxes; i++) {
        int a = clnn__norm_axis(axes[i], x->ndim);
        if (a < 0 || ((p.axes >> a) & 1)) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             "%s: axis %d is %s for '%s' with %d dimensions (expected -%d..%d, "
                             "each once)",
                             name, axes[i], a < 0 ? "out of range" : "repeated", x->name, x->ndim,
                             x->ndim, x->ndim - 1);
            return NULL;
        }
        p.axes |= 1u << a;
    }
    if (naxes == 0)
        p.axes = (1u << x->ndim) - 1;
    return clnn__node(g, op, 1, &x, &p, sizeof p);
}

clnn_tensor *clnn_sum(clnn_graph *g, clnn_tensor *x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, CLNN_OP_SUM, x, naxes, axes, keepdim);
}

clnn_tensor *clnn_mean(clnn_graph *g, clnn_tensor *x, int naxes, const int *axes, int keepdim)
{
    return reduce(g, CLNN_OP_MEAN, x, naxes, axes, keepdim);
}

/* meta for sum.cl: the kept axes of x (output index space) and the reduced axes, merged */
static void reduce_meta(const clnn_tensor *x, unsigned axes, int *meta)
{
    int kshape[CLNN_MAX_DIMS], rshape[CLNN_MAX_DIMS];
    int kstr[1][CLNN_MAX_DIMS], rstr[1][CLNN_MAX_DIMS];
    int nk = 0, nr = 0, strides[CLNN_MAX_DIMS];
    int64_t stride = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        strides[i] = (int)stride;
        stride *= x->shape[i];
    }
    for (int i = 0; i < x->ndim; i++) {
        if ((axes >> i) & 1) {
            rshape[nr] = (int)x->shape[i];
            rstr[0][nr++] = strides[i];
        } else {
            kshape[nk] = (int)x->shape[i];
            kstr[0][nk++] = strides[i];
        }
    }
    clnn__merge_axes(&nk, kshape, 1, kstr);
    clnn__merge_axes(&nr, rshape, 1, rstr);
    clnn__meta_fill(meta, nk, kshape, 1, kstr);
    int *rm = meta + 1 + 2 * CLNN_MAX_DIMS;
    rm[0] = nr;
    for (int i = 0; i < nr; i++) {
        rm[1 + i] = rshape[i];
        rm[1 + CLNN_MAX_DIMS + i] = rstr[0][i];
    }
}

/* The partial sums (nout, chunks) of a split reduction, in y->scratch */
static clnn_status partial_buffer(clnn_tensor *y, int nout, int chunks)
{
    return clnn__buffer_reserve(y->ctx, &y->scratch, (size_t)nout * (size_t)chunks * sizeof(float),
                                "the partial sums", y->name);
}

/* sum_finish (kernel slot 1): y = scale * the chunks partial sums of each output, in order */
static clnn_status emit_finish(clnn_tensor *y, int nout, int chunks, float scale)
{
    cl_kernel fin;
    int fresh, oy = (int)y->offset;
    clnn_status st = clnn__node_kernel(y, 1, "sum_finish", &fin, &fresh);
    if (!st && fresh)
        st = clnn__set_args(y->ctx, fin, "sum_finish", 6, CLNN__ARG(nout), CLNN__ARG(chunks),
                            CLNN__ARG(scale), CLNN__ARG(y->scratch), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
    if (st)
        return st;
    size_t global = (size_t)nout, local = 64;
    return clnn__enqueue(y, fin, 1, &global, &local);
}

/* GPUs: serial when there are enough outputs to fill the device or the reduction is short; else
 * each output's reduction is split over `chunks` work-groups and finished by a second kernel. */
static clnn_status emit_reduce_gpu(clnn_tensor *y, const int *meta, int nout, int nred, float scale)
{
    const clnn_tensor *x = y->src[0];
    clnn_ctx *ctx = y->ctx;
    int ox = (int)x->offset, oy = (int)y->offset;
    int serial = nout >= 1024 || nred <= 64;
    int want = (int)(8 * (ctx->info.compute_units ? ctx->info.compute_units : 1)) / nout;
    int chunks = want < 1 ? 1 : want;
    if (chunks > (nred + 1023) / 1024)
        chunks = (nred + 1023) / 1024;
    if (chunks < 1)
        chunks = 1;
    int per = (nred + chunks - 1) / chunks;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, serial ? "sum_serial" : "sum_partial", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        if ((st = clnn__node_meta(y, meta, CLNN__META_INTS)))
            return st;
        if (serial)
            st = clnn__set_args(ctx, k, "sum_serial", 8, CLNN__ARG(nout), CLNN__ARG(nred),
                                CLNN__ARG(scale), CLNN__ARG(y->aux), CLNN__ARG(x->storage->mem),
                                CLNN__ARG(ox), CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        else if (!(st = partial_buffer(y, nout, chunks)))
            st = clnn__set_args(ctx, k, "sum_partial", 7, CLNN__ARG(nred), CLNN__ARG(chunks),
                                CLNN__ARG(per), CLNN__ARG(y->aux), CLNN__ARG(x->storage->mem),
                                CLNN__ARG(ox), CLNN__ARG(y->scratch));
        if (st)
            return st;
    }
    size_t local = 64;
    if (serial) {
        size_t global = (size_t)nout;
        return clnn__enqueue(y, k, 1, &global, &local);
    }
    size_t global = (size_t)nout * (size_t)chunks * local;
    if ((st = clnn__enqueue(y, k, 1, &global, &local)))
        return st;
    return emit_finish(y, nout, chunks, scale);
}

/* Work-items of the CPU kernels: `units` of `size` elements each are given to about 8 tasks per
 * compute unit (fewer when a task would add under 16K elements: each costs a few microseconds
 * on POCL); a unit is split into *chunks when there are fewer units than tasks, else a task
 * takes *per_task whole units. The split depends only on the shape and the device. */
static size_t cpu_split(const clnn_ctx *ctx, int64_t units, int64_t size, int *chunks,
                        int *per_task)
{
    int64_t tasks = 8 * (int64_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    int64_t most = units * size / 16384;
    if (tasks > most)
        tasks = most > 1 ? most : 1;
    *chunks = 1;
    if (units >= tasks) {
        *per_task = (int)((units + tasks - 1) / tasks);
        return (size_t)((units + *per_task - 1) / *per_task);
    }
    *chunks = (int)((tasks + units - 1) / units);
    *per_task = 1;
    return (size_t)(units * *chunks);
}

/* CPUs: sum_rows when the innermost input axis is reduced (or nothing is contiguous), sum_cols
 * when it is kept; a reduction split into chunks is finished by sum_finish. */
static clnn_status emit_reduce_cpu(clnn_tensor *y, const int *meta, int nout, int nred, float scale)
{
    const clnn_tensor *x = y->src[0];
    clnn_ctx *ctx = y->ctx;
    const int nk = meta[0], m = meta[nk], cols = m > 1 && meta[1 + CLNN_MAX_DIMS + nk - 1] == 1;
    const int ncol = 16 * SUM_COL_VECS;
    int nblk_row = (m + ncol - 1) / ncol, nblocks = cols ? nout / m * nblk_row : 0;
    int chunks, per_task;
    size_t items = cols ? cpu_split(ctx, nblocks, (int64_t)ncol * nred, &chunks, &per_task)
                        : cpu_split(ctx, nout, nred, &chunks, &per_task);
    /* the chunk length: rows (sum_cols) or elements in whole float16s (sum_rows) */
    int per = (nred + chunks - 1) / chunks;
    if (!cols)
        per = (per + 15) / 16 * 16;
    if (chunks > 1 && (nred + per - 1) / per < chunks) { /* no empty chunks */
        chunks = (nred + per - 1) / per;
        items = (size_t)(cols ? nblocks : nout) * (size_t)chunks;
    }
    const char *name = cols ? "sum_cols" : "sum_rows";
    float kscale = chunks > 1 ? 1.0f : scale;
    int ox = (int)x->offset, oo = chunks > 1 ? 0 : (int)y->offset;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        if ((st = clnn__node_meta(y, meta, CLNN__META_INTS)))
            return st;
        if (chunks > 1 && (st = partial_buffer(y, nout, chunks)))
            return st;
        cl_mem out = chunks > 1 ? y->scratch : y->storage->mem;
        if (cols)
            st = clnn__set_args(ctx, k, name, 13, CLNN__ARG(m), CLNN__ARG(nblocks),
                                CLNN__ARG(nblk_row), CLNN__ARG(nred), CLNN__ARG(chunks),
                                CLNN__ARG(per), CLNN__ARG(per_task), CLNN__ARG(kscale),
                                CLNN__ARG(y->aux), CLNN__ARG(x->storage->mem), CLNN__ARG(ox),
                                CLNN__ARG(out), CLNN__ARG(oo));
        else
            st = clnn__set_args(ctx, k, name, 11, CLNN__ARG(nout), CLNN__ARG(nred),
                                CLNN__ARG(chunks), CLNN__ARG(per), CLNN__ARG(per_task),
                                CLNN__ARG(kscale), CLNN__ARG(y->aux), CLNN__ARG(x->storage->mem),
                                CLNN__ARG(ox), CLNN__ARG(out), CLNN__ARG(oo));
        if (st)
            return st;
    }
    if ((st = clnn__enqueue_spans(y, k, items)))
        return st;
    return chunks > 1 ? emit_finish(y, nout, chunks, scale) : CLNN_OK;
}

static clnn_status emit_reduce(clnn_tensor *y)
{
    const clnn_tensor *x = y->src[0];
    int nred = (int)reduced_count(y), nout = (int)y->numel;
    float scale = y->op == CLNN_OP_MEAN ? 1.0f / (float)nred : 1.0f;
    int meta[CLNN__META_INTS];
    reduce_meta(x, CLNN__PARAMS(y, reduce_params)->axes, meta);
    return clnn__cpu_path(y->ctx) ? emit_reduce_cpu(y, meta, nout, nred, scale)
                                  : emit_reduce_gpu(y, meta, nout, nred, scale);
}

/* dx = expand(dy with the reduced axes as size 1) [/ count] */
static clnn_status backward_reduce(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *x = y->src[0];
    const reduce_params *p = CLNN__PARAMS(y, reduce_params);
    int64_t kshape[CLNN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        kshape[i] = ((p->axes >> i) & 1) ? 1 : x->shape[i];
    clnn_tensor *d = p->keepdim ? dy : clnn_reshape(g, dy, x->ndim, kshape);
    d = clnn_expand(g, d, x->ndim, x->shape);
    if (y->op == CLNN_OP_MEAN)
        d = clnn_scale(g, d, 1.0f / (float)reduced_count(y));
    return clnn__grad_accum(g, x, d);
}

static void cost_reduce(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = (double)y->src[0]->numel;
    *bytes = 4.0 * (double)(y->src[0]->numel + y->numel);
}

const clnn__op_def clnn__op_sum = {"sum",           1,           infer_reduce, emit_reduce,
                                   backward_reduce, cost_reduce, "sum"};
const clnn__op_def clnn__op_mean = {"mean",          1,           infer_reduce, emit_reduce,
                                    backward_reduce, cost_reduce, "sum"};

/* ---- expand -------------------------------------------------------------------------------- */
static clnn_status infer_expand(clnn_graph *g, clnn_tensor *y)
{
    const shape_params *p = CLNN__PARAMS(y, shape_params);
    const clnn_tensor *x = y->src[0];
    if (x->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "expand: expected an f32 input, '%s' is not",
                                x->name);
    int ok = p->ndim >= x->ndim && p->ndim <= CLNN_MAX_DIMS;
    for (int i = 0; ok && i < p->ndim; i++) {
        int j = i - (p->ndim - x->ndim);
        ok = p->shape[i] > 0 && (j < 0 || x->shape[j] == p->shape[i] || x->shape[j] == 1);
    }
    if (!ok) {
        char a[128], b[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "expand: cannot broadcast '%s' %s to %s: expected sizes equal "
                                "or 1 in every aligned dimension",
                                x->name, clnn__shape_str(x->ndim, x->shape, a, sizeof a),
                                clnn__shape_str(p->ndim, p->shape, b, sizeof b));
    }
    y->ndim = p->ndim;
    memcpy(y->shape, p->shape, sizeof p->shape);
    return clnn__check_numel(g, "expand", y);
}

static clnn_status emit_expand(clnn_tensor *y)
{
    int strides[CLNN_MAX_DIMS];
    clnn__bcast_strides(y->src[0], y->ndim, y->shape, strides);
    return clnn__emit_strided_copy(y, strides);
}

static clnn_status backward_expand(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    return clnn__grad_accum(g, y->src[0], dy); /* accumulation sums over the broadcast axes */
}

const clnn__op_def clnn__op_expand = {"expand",        1,    infer_expand, emit_expand,
                                      backward_expand, NULL, "elementwise"};

clnn_tensor *clnn_expand(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape)
{
    if (!g || g->status)
        return NULL;
    if (ndim < 0 || ndim > CLNN_MAX_DIMS || (ndim && !shape)) {
        clnn__graph_fail(g, CLNN_ERR_SHAPE, "expand: expected 0 to %d dimensions, got %d",
                         CLNN_MAX_DIMS, ndim);
        return NULL;
    }
    shape_params p = {ndim, {0}};
    if (ndim)
        memcpy(p.shape, shape, (size_t)ndim * sizeof *shape);
    return clnn__node(g, CLNN_OP_EXPAND, 1, &x, &p, sizeof p);
}
