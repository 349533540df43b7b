/* op_pool.c — pooling and nearest upsampling of NCHW tensors (kernels/pool.cl):
 *   maxpool2d: y = max over each window; padding never wins     dx = maxpool2d_bwd(y, dy)
 *   avgpool2d: y = sum over each window / divisor               dx = avgpool2d_bwd(dy)
 *   upsample:  y[h, w] = x[h / sh, w / sw] (nearest)            dx = upsample_bwd(dy): block sums
 *   global_avgpool2d: mean over axes 2 and 3 (the mean op of op_sum.c; no op of its own).
 * Padding modes: explicit (PyTorch: pad_h, pad_w on both sides, at most half the kernel, with
 * ceil_mode as PyTorch defines it: the last window must start inside the input or the left
 * padding), valid (no padding; ceil_mode allowed, as PyTorch with padding 0) and Keras "same"
 * (output ceil(H / stride), the odd padding row/column at the bottom/right as TensorFlow; the
 * average then always excludes padding from the divisor, whatever count_include_pad says, because
 * that is what Keras computes; count_include_pad means nothing to the max). The backward kernels
 * are gathers (no atomics): maxpool2d's forward stores the argmax of every window (PyTorch's rule:
 * the first maximum in row-major order) in its node's scratch buffer, and maxpool2d_bwd, which
 * takes the forward node as its first input, reads it. The *_bwd ops have no backward:
 * clnn_graph_backward runs once per graph, so gradient ops are never differentiated.
 * Max pooling runs other kernels on CPU devices (clnn__cpu_path of ops_util.c): a work-item per
 * span of output rows (forward) or planes (backward, a scatter of dy at the argmax); measured on
 * POCL at the MNIST shapes they are several times faster than a work-item per element, which
 * stays for GPUs. */
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"

typedef struct pool_params {
    /* the options as given */
    int kh, kw, sh, sw, ph, pw, padding, ceil_mode, count_include_pad;
    /* resolved by infer from x's shape */
    int H, W, OH, OW; /* input and output planes */
    int pt, pl;       /* padding before the first row / column */
    int eh, ew;       /* padded extent H + pad_bottom, W + pad_right (PyTorch's divisor) */
    int include_pad;  /* the divisor counts padding */
} pool_params;

typedef struct upsample_params {
    int sh, sw;
} upsample_params;

static const char *mode_name(int padding)
{
    return padding == CLNN_PADDING_EXPLICIT ? "explicit"
           : padding == CLNN_PADDING_VALID  ? "valid"
           : padding == CLNN_PADDING_SAME   ? "same"
                                            : "unknown";
}

void clnn_pool2d_options_init(clnn_pool2d_options *options, int kernel_h, int kernel_w)
{
    if (!options)
        return;
    *options = (clnn_pool2d_options){.kernel_h = kernel_h,
                                     .kernel_w = kernel_w,
                                     .padding = CLNN_PADDING_EXPLICIT,
                                     .count_include_pad = 1};
}

/* PyTorch's pooling_output_shape (dilation 1); 0 when not even one window fits. */
static int64_t pool_out(int64_t in, int k, int pad, int s, int ceil_mode)
{
    int64_t span = in + 2 * (int64_t)pad - k;
    if (span < 0)
        return 0;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pad)
        out--; /* the last window would start in the right padding */
    return out;
}

static clnn_status check_nchw(clnn_graph *g, const char *op, const clnn_tensor *x)
{
    char s[128];
    if (x->dtype != CLNN_F32)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 input, '%s' is not", op,
                                x->name);
    if (x->ndim != 4)
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected x of shape (N, C, H, W), got '%s' %s", op, x->name,
                                clnn__shape_str(x->ndim, x->shape, s, sizeof s));
    return clnn__check_numel(g, op, x);
}

/* maxpool2d and avgpool2d: checks the options and resolves the window geometry into params */
static clnn_status infer_pool(clnn_graph *g, clnn_tensor *y)
{
    pool_params *p = CLNN__PARAMS(y, pool_params);
    const clnn_tensor *x = y->src[0];
    const char *op = clnn__ops[y->op]->name;
    clnn_status st = check_nchw(g, op, x);
    if (st)
        return st;
    if (p->kh < 1 || p->kw < 1)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: kernel %dx%d: expected positive sizes",
                                op, p->kh, p->kw);
    if (p->sh < 0 || p->sw < 0)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: stride %dx%d: expected positive strides (0: the kernel size)",
                                op, p->sh, p->sw);
    if (p->padding != CLNN_PADDING_EXPLICIT && p->padding != CLNN_PADDING_VALID &&
        p->padding != CLNN_PADDING_SAME)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: padding mode %d: expected CLNN_PADDING_EXPLICIT, _VALID or "
                                "_SAME",
                                op, p->padding);
    if (p->ph < 0 || p->pw < 0)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: padding %dx%d: expected sizes >= 0", op,
                                p->ph, p->pw);
    if (p->padding != CLNN_PADDING_EXPLICIT && (p->ph || p->pw))
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: padding %dx%d is used with CLNN_PADDING_EXPLICIT only, got "
                                "padding mode '%s' (expected pad_h = pad_w = 0)",
                                op, p->ph, p->pw, mode_name(p->padding));
    if (p->padding == CLNN_PADDING_SAME && p->ceil_mode)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: ceil_mode applies to explicit and valid padding; padding "
                                "'same' fixes the output at ceil(input / stride) (expected "
                                "ceil_mode 0)",
                                op);
    if (2 * (int64_t)p->ph > p->kh || 2 * (int64_t)p->pw > p->kw)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "%s: padding %dx%d for kernel %dx%d: expected at most half the "
                                "kernel size (as PyTorch)",
                                op, p->ph, p->pw, p->kh, p->kw);
    int sh = p->sh ? p->sh : p->kh, sw = p->sw ? p->sw : p->kw;
    int64_t H = x->shape[2], W = x->shape[3], OH, OW;
    if (p->padding == CLNN_PADDING_SAME) {
        OH = (H + sh - 1) / sh;
        OW = (W + sw - 1) / sw;
        int64_t th = (OH - 1) * sh + p->kh - H, tw = (OW - 1) * sw + p->kw - W;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        p->pt = (int)(th / 2);
        p->pl = (int)(tw / 2);
        p->eh = (int)(H + th - th / 2);
        p->ew = (int)(W + tw - tw / 2);
        p->include_pad = 0; /* Keras never counts padding */
    } else {
        OH = pool_out(H, p->kh, p->ph, sh, p->ceil_mode);
        OW = pool_out(W, p->kw, p->pw, sw, p->ceil_mode);
        if (OH < 1 || OW < 1) {
            char s[128];
            return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                    "%s: input '%s' %s is smaller than the kernel %dx%d with "
                                    "padding %dx%d: expected H + 2 pad_h >= kernel_h and W + 2 "
                                    "pad_w >= kernel_w",
                                    op, x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s),
                                    p->kh, p->kw, p->ph, p->pw);
        }
        p->pt = p->ph;
        p->pl = p->pw;
        p->eh = (int)H + p->ph;
        p->ew = (int)W + p->pw;
        p->include_pad = p->count_include_pad != 0;
    }
    p->sh = sh;
    p->sw = sw;
    p->H = (int)H;
    p->W = (int)W;
    p->OH = (int)OH;
    p->OW = (int)OW;
    y->ndim = 4;
    y->shape[0] = x->shape[0];
    y->shape[1] = x->shape[1];
    y->shape[2] = OH;
    y->shape[3] = OW;
    return clnn__check_numel(g, op, y);
}

/* maxpool2d_bwd (src: the forward node y, dy) and avgpool2d_bwd (src: dy): dx of x's shape */
static clnn_status infer_pool_bwd(clnn_graph *g, clnn_tensor *dx)
{
    const pool_params *p = CLNN__PARAMS(dx, pool_params);
    const clnn_tensor *dy = dx->src[dx->nsrc - 1];
    if (dy->ndim != 4 || dy->shape[2] != p->OH || dy->shape[3] != p->OW ||
        (dx->nsrc == 2 && !clnn__same_shape(dx->src[0], dy))) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "%s: expected dy of shape (N, C, %d, %d), got %s",
                                clnn__ops[dx->op]->name, p->OH, p->OW,
                                clnn__shape_str(dy->ndim, dy->shape, s, sizeof s));
    }
    dx->ndim = 4;
    dx->shape[0] = dy->shape[0];
    dx->shape[1] = dy->shape[1];
    dx->shape[2] = p->H;
    dx->shape[3] = p->W;
    return CLNN_OK;
}

/* The 11 geometry arguments every pooling kernel starts with: n, H, W, OH, OW, kh, kw, sh, sw,
 * pt, pl (n = the elements of the tensor the kernel writes; the rows or planes of the CPU
 * kernels). */
static clnn_status set_geometry(clnn_tensor *node, cl_kernel k, const char *name, int n,
                                const pool_params *p)
{
    return clnn__set_args(node->ctx, k, name, 11, CLNN__ARG(n), CLNN__ARG(p->H), CLNN__ARG(p->W),
                          CLNN__ARG(p->OH), CLNN__ARG(p->OW), CLNN__ARG(p->kh), CLNN__ARG(p->kw),
                          CLNN__ARG(p->sh), CLNN__ARG(p->sw), CLNN__ARG(p->pt), CLNN__ARG(p->pl));
}

/* clnn__set_args sets arguments from 0; these set the ones after the geometry */
static clnn_status set_arg(clnn_tensor *node, cl_kernel k, cl_uint index, size_t size,
                           const void *value, const char *name)
{
    cl_int err = clSetKernelArg(k, index, size, value);
    return err == CL_SUCCESS ? CLNN_OK
                             : clnn__cl_fail(node->ctx, err, "clSetKernelArg %u of %s for '%s'",
                                             index, name, node->name);
}

/* After a failure while setting a fresh kernel's arguments: drop the kernel, so the next emit
 * makes it again instead of enqueueing it half set. Returns st. */
static clnn_status forget_kernel(clnn_tensor *node, int slot, clnn_status st)
{
    clReleaseKernel(node->kernels[slot]);
    node->kernels[slot] = NULL;
    return st;
}

static clnn_status enqueue_1d(clnn_tensor *node, cl_kernel k)
{
    size_t global = (size_t)node->numel, local = 64;
    return clnn__enqueue(node, k, 1, &global, &local);
}

/* Sets the arguments after the geometry, in order: (size, pointer) pairs. */
static clnn_status set_tail(clnn_tensor *node, cl_kernel k, const char *name, cl_uint first,
                            int count, const size_t *sizes, const void *const *values)
{
    clnn_status st = CLNN_OK;
    for (int i = 0; i < count && !st; i++)
        st = set_arg(node, k, first + (cl_uint)i, sizes[i], values[i], name);
    return st;
}

/* One work-item per output element over (OW, OH, NC), a work-group per plane when it fits. */
static clnn_status enqueue_planes(clnn_tensor *node, cl_kernel k, const pool_params *p, int64_t nc)
{
    size_t global[3] = {(size_t)p->OW, (size_t)p->OH, (size_t)nc};
    size_t local[3] = {(size_t)p->OW, (size_t)p->OH, 1};
    size_t wg = (size_t)p->OW * (size_t)p->OH;
    if (wg > node->ctx->info.max_work_group_size || wg > 256) {
        local[1] = 1;
        if (local[0] > node->ctx->info.max_work_group_size || local[0] > 256)
            local[0] = 16; /* global[0] is rounded up to a multiple; the kernels guard it */
    }
    return clnn__enqueue(node, k, 3, global, local);
}

static clnn_status emit_maxpool(clnn_tensor *y)
{
    const pool_params *p = CLNN__PARAMS(y, pool_params);
    const clnn_tensor *x = y->src[0];
    if (!y->scratch) {
        cl_int err;
        y->scratch = clCreateBuffer(y->ctx->context, CL_MEM_READ_WRITE,
                                    (size_t)y->numel * sizeof(cl_int), NULL, &err);
        if (err != CL_SUCCESS) {
            y->scratch = NULL;
            return clnn__cl_fail(y->ctx, err, "clCreateBuffer for the argmax of '%s'", y->name);
        }
    }
    /* CPU: n counts output rows, each work-item takes per of them (the argument after argmax) */
    const int cpu = clnn__cpu_path(y->ctx);
    const char *name = cpu ? "maxpool2d_fwd_rows" : "maxpool2d_fwd";
    int64_t rows = y->shape[0] * y->shape[1] * p->OH;
    int per = 0;
    size_t items = cpu ? clnn__spans(y->ctx, rows, p->OW, 1, &per) : 0;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, cpu, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int ox = (int)x->offset, oy = (int)y->offset;
        const size_t sizes[] = {sizeof(cl_mem), sizeof ox,      sizeof(cl_mem),
                                sizeof oy,      sizeof(cl_mem), sizeof per};
        const void *values[] = {&x->storage->mem, &ox, &y->storage->mem, &oy, &y->scratch, &per};
        if ((st = set_geometry(y, k, name, cpu ? (int)rows : (int)y->numel, p)) ||
            (st = set_tail(y, k, name, 11, 5 + cpu, sizes, values)))
            return forget_kernel(y, cpu, st);
    }
    return cpu ? clnn__enqueue_spans(y, k, items)
               : enqueue_planes(y, k, p, y->shape[0] * y->shape[1]);
}

static clnn_status emit_maxpool_bwd(clnn_tensor *dx)
{
    const pool_params *p = CLNN__PARAMS(dx, pool_params);
    const clnn_tensor *y = dx->src[0], *dy = dx->src[1];
    if (!y->scratch)
        return clnn__fail(dx->ctx, CLNN_ERR_STATE,
                          "maxpool2d_bwd '%s': the forward node '%s' has not stored its argmax",
                          dx->name, y->name);
    cl_kernel k;
    int fresh;
    /* CPU: a work-item per span of planes, any geometry (n counts planes, per follows odx);
     * GPU: windows that do not overlap let each work-item write its own cell */
    const int cpu = clnn__cpu_path(dx->ctx), cells = p->sh >= p->kh && p->sw >= p->kw;
    const char *name = cpu     ? "maxpool2d_bwd_planes"
                       : cells ? "maxpool2d_bwd_cells"
                               : "maxpool2d_bwd";
    int64_t planes = dx->shape[0] * dx->shape[1];
    int per = 0;
    size_t items = cpu ? clnn__spans(dx->ctx, planes, (int64_t)p->H * p->W, 1, &per) : 0;
    clnn_status st = clnn__node_kernel(dx, cpu, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int ody = (int)dy->offset, odx = (int)dx->offset;
        const size_t sizes[] = {sizeof(cl_mem), sizeof ody, sizeof(cl_mem),
                                sizeof(cl_mem), sizeof odx, sizeof per};
        const void *values[] = {&dy->storage->mem, &ody, &y->scratch,
                                &dx->storage->mem, &odx, &per};
        if ((st = set_geometry(dx, k, name, cpu ? (int)planes : (int)dx->numel, p)) ||
            (st = set_tail(dx, k, name, 11, 5 + cpu, sizes, values)))
            return forget_kernel(dx, cpu, st);
    }
    if (cpu)
        return clnn__enqueue_spans(dx, k, items);
    return cells ? enqueue_planes(dx, k, p, planes) : enqueue_1d(dx, k);
}

/* avgpool2d_fwd (x -> y) and avgpool2d_bwd (dy -> dx) take the same arguments */
static clnn_status emit_avgpool(clnn_tensor *out)
{
    const pool_params *p = CLNN__PARAMS(out, pool_params);
    const clnn_tensor *in = out->src[0];
    const char *name = out->op == CLNN_OP_AVGPOOL2D ? "avgpool2d_fwd" : "avgpool2d_bwd";
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(out, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int oin = (int)in->offset, oout = (int)out->offset;
        const size_t sizes[] = {sizeof p->eh,   sizeof p->ew, sizeof p->include_pad,
                                sizeof(cl_mem), sizeof oin,   sizeof(cl_mem),
                                sizeof oout};
        const void *values[] = {
            &p->eh, &p->ew, &p->include_pad, &in->storage->mem, &oin, &out->storage->mem, &oout};
        if ((st = set_geometry(out, k, name, (int)out->numel, p)) ||
            (st = set_tail(out, k, name, 11, 7, sizes, values)))
            return forget_kernel(out, 0, st);
    }
    return enqueue_1d(out, k);
}

static clnn_status backward_maxpool(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *src[2] = {y, dy};
    return clnn__grad_accum(
        g, y->src[0], clnn__node(g, CLNN_OP_MAXPOOL2D_BWD, 2, src, y->params, sizeof(pool_params)));
}

static clnn_status backward_avgpool(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    return clnn__grad_accum(
        g, y->src[0], clnn__node(g, CLNN_OP_AVGPOOL2D_BWD, 1, &dy, y->params, sizeof(pool_params)));
}

/* forward: every output reads its window; backward: every input reads the windows that hold it */
static void cost_pool(const clnn_tensor *node, double *flops, double *bytes)
{
    const pool_params *p = CLNN__PARAMS(node, pool_params);
    double planes = (double)node->shape[0] * (double)node->shape[1];
    double in = planes * p->H * p->W, out = planes * p->OH * p->OW;
    *flops = out * p->kh * p->kw;
    *bytes = 4.0 * (in + out) * (node->op == CLNN_OP_MAXPOOL2D_BWD ? 1.5 : 1.0);
}

const clnn__op_def clnn__op_maxpool2d = {"maxpool2d",      1,         infer_pool, emit_maxpool,
                                         backward_maxpool, cost_pool, "pool"};
const clnn__op_def clnn__op_avgpool2d = {"avgpool2d",      1,         infer_pool, emit_avgpool,
                                         backward_avgpool, cost_pool, "pool"};
const clnn__op_def clnn__op_maxpool2d_bwd = {
    "maxpool2d_bwd", 2, infer_pool_bwd, emit_maxpool_bwd, NULL, cost_pool, "pool"};
const clnn__op_def clnn__op_avgpool2d_bwd = {
    "avgpool2d_bwd", 1, infer_pool_bwd, emit_avgpool, NULL, cost_pool, "pool"};

static clnn_tensor *pool(clnn_graph *g, int op, clnn_tensor *x, const clnn_pool2d_options *o)
{
    if (!g || g->status)
        return NULL;
    if (!o) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "%s: options are NULL: expected clnn_pool2d_options with the kernel size "
                         "(see clnn_pool2d_options_init)",
                         clnn__ops[op]->name);
        return NULL;
    }
    pool_params p = {.kh = o->kernel_h,
                     .kw = o->kernel_w,
                     .sh = o->stride_h,
                     .sw = o->stride_w,
                     .ph = o->pad_h,
                     .pw = o->pad_w,
                     .padding = (int)o->padding,
                     .ceil_mode = o->ceil_mode,
                     .count_include_pad = o->count_include_pad};
    return clnn__node(g, op, 1, &x, &p, sizeof p);
}

clnn_tensor *clnn_maxpool2d(clnn_graph *g, clnn_tensor *x, const clnn_pool2d_options *options)
{
    return pool(g, CLNN_OP_MAXPOOL2D, x, options);
}

clnn_tensor *clnn_avgpool2d(clnn_graph *g, clnn_tensor *x, const clnn_pool2d_options *options)
{
    return pool(g, CLNN_OP_AVGPOOL2D, x, options);
}

clnn_tensor *clnn_global_avgpool2d(clnn_graph *g, clnn_tensor *x)
{
    if (!g || g->status)
        return NULL;
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "global_avgpool2d: input 0 is NULL");
        return NULL;
    }
    if (x->graph == g && check_nchw(g, "global_avgpool2d", x))
        return NULL;
    clnn_tensor *y = clnn_mean(g, x, 2, (const int[]){2, 3}, 0);
    return y ? clnn_tensor_set_name(y, "global_avgpool2d") : NULL;
}

/* ---- nearest upsampling -------------------------------------------------------------------- */
static clnn_status infer_upsample(clnn_graph *g, clnn_tensor *y)
{
    const upsample_params *p = CLNN__PARAMS(y, upsample_params);
    const clnn_tensor *x = y->src[0];
    clnn_status st = check_nchw(g, "upsample_nearest", x);
    if (st)
        return st;
    if (p->sh < 1 || p->sw < 1)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "upsample_nearest: scale %dx%d: expected integer scales >= 1",
                                p->sh, p->sw);
    y->ndim = 4;
    y->shape[0] = x->shape[0];
    y->shape[1] = x->shape[1];
    y->shape[2] = x->shape[2] * p->sh;
    y->shape[3] = x->shape[3] * p->sw;
    return clnn__check_numel(g, "upsample_nearest", y);
}

static clnn_status infer_upsample_bwd(clnn_graph *g, clnn_tensor *dx)
{
    const upsample_params *p = CLNN__PARAMS(dx, upsample_params);
    const clnn_tensor *dy = dx->src[0];
    if (dy->ndim != 4 || dy->shape[2] % p->sh || dy->shape[3] % p->sw) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                "upsample_bwd: expected dy of shape (N, C, H %d, W %d), got %s",
                                p->sh, p->sw, clnn__shape_str(dy->ndim, dy->shape, s, sizeof s));
    }
    dx->ndim = 4;
    dx->shape[0] = dy->shape[0];
    dx->shape[1] = dy->shape[1];
    dx->shape[2] = dy->shape[2] / p->sh;
    dx->shape[3] = dy->shape[3] / p->sw;
    return CLNN_OK;
}

/* upsample_nearest_fwd (x -> y) and _bwd (dy -> dx): n, H, W (of the small side), sh, sw */
static clnn_status emit_upsample(clnn_tensor *out)
{
    const upsample_params *p = CLNN__PARAMS(out, upsample_params);
    const clnn_tensor *in = out->src[0];
    int fwd = out->op == CLNN_OP_UPSAMPLE;
    const char *name = fwd ? "upsample_nearest_fwd" : "upsample_nearest_bwd";
    const clnn_tensor *small = fwd ? in : out;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(out, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int n = (int)out->numel, H = (int)small->shape[2], W = (int)small->shape[3];
        int oin = (int)in->offset, oout = (int)out->offset;
        st = clnn__set_args(out->ctx, k, name, 9, CLNN__ARG(n), CLNN__ARG(H), CLNN__ARG(W),
                            CLNN__ARG(p->sh), CLNN__ARG(p->sw), CLNN__ARG(in->storage->mem),
                            CLNN__ARG(oin), CLNN__ARG(out->storage->mem), CLNN__ARG(oout));
        if (st)
            return forget_kernel(out, 0, st);
    }
    return enqueue_1d(out, k);
}

static clnn_status backward_upsample(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    return clnn__grad_accum(
        g, y->src[0],
        clnn__node(g, CLNN_OP_UPSAMPLE_BWD, 1, &dy, y->params, sizeof(upsample_params)));
}

static void cost_upsample(const clnn_tensor *node, double *flops, double *bytes)
{
    double big = (double)(node->op == CLNN_OP_UPSAMPLE ? node->numel : node->src[0]->numel);
    double small = (double)(node->op == CLNN_OP_UPSAMPLE ? node->src[0]->numel : node->numel);
    *flops = node->op == CLNN_OP_UPSAMPLE ? 0.0 : big;
    *bytes = 4.0 * (big + small);
}

const clnn__op_def clnn__op_upsample = {
    "upsample", 1, infer_upsample, emit_upsample, backward_upsample, cost_upsample, "pool"};
const clnn__op_def clnn__op_upsample_bwd = {
    "upsample_bwd", 1, infer_upsample_bwd, emit_upsample, NULL, cost_upsample, "pool"};

clnn_tensor *clnn_upsample_nearest(clnn_graph *g, clnn_tensor *x, int scale_h, int scale_w)
{
    upsample_params p = {scale_h, scale_w};
    return clnn__node(g, CLNN_OP_UPSAMPLE, 1, &x, &p, sizeof p);
}
