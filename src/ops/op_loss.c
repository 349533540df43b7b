/* op_loss.c — the losses (kernels/loss.cl). Each public builder adds one op that computes the
 * unreduced loss (per element, or per sample of (N, C)), then reduces it with the parallel
 * clnn_sum / clnn_mean of op_sum.c:
 *   mse_loss                    y = (p - t)^2                      dp = 2 (p - t) dy, dt = -dp
 *   binary_crossentropy         y = -(t log p + (1 - t) log(1 - p)), logs clamped at -100
 *                               dp = dy (p - t) / max(p (1 - p), 1e-12)       (PyTorch BCELoss)
 *                               dt = dy (max(log(1 - p), -100) - max(log p, -100)), the
 *                               derivative of the clamped loss: PyTorch's -logit(p) except at
 *                               p = 0 or 1 exactly, where PyTorch's is infinite
 *   binary_crossentropy_logits  y = max(x, 0) - x t + log1p(e^-|x|)
 *                               dx = dy (sigmoid(x) - t), dt = -dy x    (BCEWithLogitsLoss)
 *   categorical_crossentropy    y_n = -sum_c t log(clip(p / sum_c p, 1e-7, 1 - 1e-7))   (Keras)
 *                               dp through the rescaling, zero through a clipped value (as
 *                               tf.clip_by_value: bounds included pass), dt = -dy log(clip(..))
 *   cross_entropy               y_n = (1 - eps) (-log softmax(x)_label) + eps mean_c(-log softmax)
 *                               dx = dy (softmax - (1 - eps) onehot - eps / C)  (PyTorch >= 1.10)
 * Reductions follow PyTorch: mean over every element for mse and the binary losses, mean over the
 * batch N for the cross-entropies (Keras's "sum_over_batch_size" is this mean), sum, or none.
 * cross_entropy ignores a sample whose label is outside [0, C) — PyTorch's ignore_index
 * behaviour, extended to every out-of-range label because device-side labels cannot raise a
 * status: its loss and gradient are 0 and the mean divides by the number of counted samples
 * (a mean over no counted sample is NaN, as in PyTorch). Labels get no gradient.
 * Internal ops: loss_bwd (elementwise backward), cce_bwd, ce_bwd (one kernel each), ce_valid
 * (the 0/1 mask whose sum counts the samples of a mean) and loss_div (that mean's division). */
#include "ops_util.h"

#define LOSS_WG 64 /* the largest row work-group; LOSS_WG in kernels/loss.cl */

typedef struct loss_params {
    int kind;        /* loss_bwd: the forward op (CLNN_OP_MSE_LOSS, ...) */
    int wrt;         /* *_bwd: 0 the prediction (probs, logits), 1 the target */
    int classes;     /* ce_valid: C */
    float smoothing; /* ce_loss, ce_bwd: label smoothing eps in [0, 1) */
} loss_params;

/* The public name of an op (messages speak of what the user called). */
static const char *who(const clnn_tensor *y)
{
    switch (y->op) {
    case CLNN_OP_CCE_LOSS:
        return "categorical_crossentropy";
    case CLNN_OP_CE_LOSS:
        return "cross_entropy";
    case CLNN_OP_BCE_LOSS:
        return "binary_crossentropy";
    case CLNN_OP_BCE_LOGITS_LOSS:
        return "binary_crossentropy_logits";
    default:
        return clnn__ops[y->op]->name;
    }
}

static clnn_status need_f32(clnn_graph *g, const clnn_tensor *y, const clnn_tensor *t,
                            const char *role)
{
    if (t->dtype == CLNN_F32)
        return CLNN_OK;
    return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected an f32 %s, '%s' is not", who(y),
                            role, t->name);
}

static clnn_status need_same(clnn_graph *g, const clnn_tensor *y, const clnn_tensor *a,
                             const char *ra, const clnn_tensor *b, const char *rb)
{
    if (clnn__same_shape(a, b))
        return CLNN_OK;
    char sa[128], sb[128];
    return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                            "%s: expected %s and %s of the same shape, got %s %s and %s %s", who(y),
                            ra, rb, ra, clnn__shape_str(a->ndim, a->shape, sa, sizeof sa), rb,
                            clnn__shape_str(b->ndim, b->shape, sb, sizeof sb));
}

static void copy_shape(clnn_tensor *y, const clnn_tensor *x)
{
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        y->shape[i] = x->shape[i];
}

/* ---- infer ---------------------------------------------------------------------------------- */
/* mse_loss, bce_loss, bce_logits_loss: (pred, target) -> per-element losses of pred's shape */
static clnn_status infer_elem(clnn_graph *g, clnn_tensor *y)
{
    const char *pred = y->op == CLNN_OP_BCE_LOGITS_LOSS ? "logits"
                       : y->op == CLNN_OP_BCE_LOSS      ? "probs"
                                                        : "pred";
    clnn_status st;
    if ((st = need_f32(g, y, y->src[0], pred)) || (st = need_f32(g, y, y->src[1], "target")) ||
        (st = need_same(g, y, y->src[0], pred, y->src[1], "target")))
        return st;
    copy_shape(y, y->src[0]);
    return clnn__check_numel(g, who(y), y);
}

/* loss_bwd: (pred, target, dy) of one shape -> that shape */
static clnn_status infer_elem_bwd(clnn_graph *g, clnn_tensor *y)
{
    clnn_status st;
    for (int i = 0; i < 3; i++)
        if ((st = need_f32(g, y, y->src[i], i == 2 ? "dy" : "input")))
            return st;
    if ((st = need_same(g, y, y->src[0], "pred", y->src[1], "target")) ||
        (st = need_same(g, y, y->src[0], "pred", y->src[2], "dy")))
        return st;
    copy_shape(y, y->src[0]);
    return CLNN_OK;
}

/* x: (N, C) f32; the rows ops also check that C fits the kernels' int indexing */
static clnn_status need_matrix(clnn_graph *g, const clnn_tensor *y, const clnn_tensor *x,
                               const char *role)
{
    clnn_status st = need_f32(g, y, x, role);
    if (st)
        return st;
    if (x->ndim != 2) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: expected %s of shape (N, C), got %s",
                                who(y), role, clnn__shape_str(x->ndim, x->shape, s, sizeof s));
    }
    return clnn__check_numel(g, who(y), x);
}

/* cce_loss: probs, target (N, C) -> (N) */
static clnn_status infer_cce(clnn_graph *g, clnn_tensor *y)
{
    clnn_status st;
    if ((st = need_matrix(g, y, y->src[0], "probs")) ||
        (st = need_f32(g, y, y->src[1], "target")) ||
        (st = need_same(g, y, y->src[0], "probs", y->src[1], "target")))
        return st;
    y->ndim = 1;
    y->shape[0] = y->src[0]->shape[0];
    return CLNN_OK;
}

/* labels: (N) i32 for logits (N, C) */
static clnn_status need_labels(clnn_graph *g, const clnn_tensor *y, const clnn_tensor *x,
                               const clnn_tensor *labels)
{
    if (labels->dtype == CLNN_I32 && labels->ndim == 1 && labels->shape[0] == x->shape[0])
        return CLNN_OK;
    char sx[128], sl[128];
    return clnn__graph_fail(
        g, labels->dtype == CLNN_I32 ? CLNN_ERR_SHAPE : CLNN_ERR_INVALID,
        "%s: expected labels of shape (%lld,) and dtype i32 (class indices) for logits %s, got "
        "'%s' %s of dtype %s",
        who(y), (long long)x->shape[0], clnn__shape_str(x->ndim, x->shape, sx, sizeof sx),
        labels->name, clnn__shape_str(labels->ndim, labels->shape, sl, sizeof sl),
        labels->dtype == CLNN_I32   ? "i32"
        : labels->dtype == CLNN_F32 ? "f32"
                                    : "f16");
}

static clnn_status need_smoothing(clnn_graph *g, const clnn_tensor *y)
{
    float eps = CLNN__PARAMS(y, loss_params)->smoothing;
    if (eps >= 0.0f && eps < 1.0f)
        return CLNN_OK;
    return clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: expected label_smoothing in [0, 1), got %g",
                            who(y), (double)eps);
}

/* ce_loss: logits (N, C), labels (N) i32 -> (N) */
static clnn_status infer_ce(clnn_graph *g, clnn_tensor *y)
{
    clnn_status st;
    if ((st = need_matrix(g, y, y->src[0], "logits")) ||
        (st = need_labels(g, y, y->src[0], y->src[1])) || (st = need_smoothing(g, y)))
        return st;
    y->ndim = 1;
    y->shape[0] = y->src[0]->shape[0];
    return CLNN_OK;
}

/* cce_bwd: (probs, target (N, C), dy (N)); ce_bwd: (logits (N, C), labels (N), dy (N))
 * -> (N, C) */
static clnn_status infer_rows_bwd(clnn_graph *g, clnn_tensor *y)
{
    const clnn_tensor *x = y->src[0], *dy = y->src[2];
    clnn_status st = need_matrix(g, y, x, "input");
    if (!st)
        st = y->op == CLNN_OP_CE_BWD ? need_labels(g, y, x, y->src[1])
                                     : need_same(g, y, x, "probs", y->src[1], "target");
    if (!st)
        st = need_f32(g, y, dy, "dy");
    if (st)
        return st;
    if (dy->ndim != 1 || dy->shape[0] != x->shape[0]) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_SHAPE, "%s: expected dy of shape (%lld,), got %s",
                                who(y), (long long)x->shape[0],
                                clnn__shape_str(dy->ndim, dy->shape, s, sizeof s));
    }
    copy_shape(y, x);
    return CLNN_OK;
}

/* ce_valid: labels (N) i32 -> (N) f32 */
static clnn_status infer_valid(clnn_graph *g, clnn_tensor *y)
{
    const clnn_tensor *l = y->src[0];
    if (l->dtype != CLNN_I32 || l->ndim != 1)
        return clnn__graph_fail(g, CLNN_ERR_INVALID, "ce_valid: expected labels (N) of dtype i32");
    copy_shape(y, l);
    return CLNN_OK;
}

/* loss_div: a, b with one element each -> a's shape */
static clnn_status infer_div(clnn_graph *g, clnn_tensor *y)
{
    const clnn_tensor *a = y->src[0], *b = y->src[1];
    if (a->dtype != CLNN_F32 || b->dtype != CLNN_F32 || a->numel != 1 || b->numel != 1)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "loss_div: expected two f32 tensors of one element");
    copy_shape(y, a);
    return CLNN_OK;
}

/* ---- emit ----------------------------------------------------------------------------------- */
static const char *elem_kernel(int op, int bwd)
{
    switch (op) {
    case CLNN_OP_MSE_LOSS:
        return bwd ? "mse_bwd" : "mse_fwd";
    case CLNN_OP_BCE_LOSS:
        return bwd ? "bce_bwd" : "bce_fwd";
    default:
        return bwd ? "bce_logits_bwd" : "bce_logits_fwd";
    }
}

static clnn_status emit_elem(clnn_tensor *y)
{
    return clnn__emit_map(y, elem_kernel(y->op, 0), 2, NULL);
}

static clnn_status emit_elem_bwd(clnn_tensor *y)
{
    const loss_params *p = CLNN__PARAMS(y, loss_params);
    const char *name = elem_kernel(p->kind, 1);
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        const clnn_tensor *a = y->src[0], *b = y->src[1], *d = y->src[2];
        int n = (int)y->numel, wrt = p->wrt, oa = (int)a->offset, ob = (int)b->offset,
            od = (int)d->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, name, 10, CLNN__ARG(n), CLNN__ARG(wrt),
                            CLNN__ARG(a->storage->mem), CLNN__ARG(oa), CLNN__ARG(b->storage->mem),
                            CLNN__ARG(ob), CLNN__ARG(d->storage->mem), CLNN__ARG(od),
                            CLNN__ARG(y->storage->mem), CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

/* Work-items per row: enough for a few (GPU) or a few dozen (CPU) columns each, a power of two
 * up to LOSS_WG. On a CPU small rows get one work-item each (no barrier cost). */
static size_t row_local(const clnn_tensor *y, int64_t C)
{
    const clnn_device_info *info = &y->ctx->info;
    int64_t per = clnn__cpu_path(y->ctx) ? 32 : 4, want = (C + per - 1) / per;
    size_t L = 1, max = info->max_work_group_size ? info->max_work_group_size : 1;
    while ((int64_t)L < want && L < LOSS_WG && 2 * L <= max)
        L *= 2;
    return L;
}

/* cce_loss, ce_loss, cce_bwd, ce_bwd: one work-group per row of src[0] (N, C) */
static clnn_status emit_rows(clnn_tensor *y)
{
    const clnn_tensor *x = y->src[0], *b = y->src[1];
    const loss_params *p = CLNN__PARAMS(y, loss_params);
    int bwd = y->op == CLNN_OP_CCE_BWD || y->op == CLNN_OP_CE_BWD;
    int cce = y->op == CLNN_OP_CCE_LOSS || y->op == CLNN_OP_CCE_BWD;
    const char *name = cce ? (bwd ? "cce_bwd" : "cce_rows") : (bwd ? "ce_bwd" : "ce_rows");
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, name, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int N = (int)x->shape[0], C = (int)x->shape[1], ox = (int)x->offset, ob = (int)b->offset,
            oy = (int)y->offset, wrt = p->wrt;
        float eps = p->smoothing;
        cl_mem xm = x->storage->mem, bm = b->storage->mem, ym = y->storage->mem;
        if (!bwd && cce)
            st = clnn__set_args(y->ctx, k, name, 8, CLNN__ARG(N), CLNN__ARG(C), CLNN__ARG(xm),
                                CLNN__ARG(ox), CLNN__ARG(bm), CLNN__ARG(ob), CLNN__ARG(ym),
                                CLNN__ARG(oy));
        else if (!bwd)
            st = clnn__set_args(y->ctx, k, name, 9, CLNN__ARG(N), CLNN__ARG(C), CLNN__ARG(eps),
                                CLNN__ARG(xm), CLNN__ARG(ox), CLNN__ARG(bm), CLNN__ARG(ob),
                                CLNN__ARG(ym), CLNN__ARG(oy));
        else {
            const clnn_tensor *d = y->src[2];
            int od = (int)d->offset;
            cl_mem dm = d->storage->mem;
            if (cce)
                st = clnn__set_args(y->ctx, k, name, 11, CLNN__ARG(N), CLNN__ARG(C), CLNN__ARG(wrt),
                                    CLNN__ARG(xm), CLNN__ARG(ox), CLNN__ARG(bm), CLNN__ARG(ob),
                                    CLNN__ARG(dm), CLNN__ARG(od), CLNN__ARG(ym), CLNN__ARG(oy));
            else
                st = clnn__set_args(y->ctx, k, name, 11, CLNN__ARG(N), CLNN__ARG(C), CLNN__ARG(eps),
                                    CLNN__ARG(xm), CLNN__ARG(ox), CLNN__ARG(bm), CLNN__ARG(ob),
                                    CLNN__ARG(dm), CLNN__ARG(od), CLNN__ARG(ym), CLNN__ARG(oy));
        }
        if (st)
            return st;
    }
    size_t local = row_local(y, x->shape[1]), global = (size_t)x->shape[0] * local;
    return clnn__enqueue(y, k, 1, &global, &local);
}

static clnn_status emit_valid(clnn_tensor *y)
{
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "ce_valid", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        const clnn_tensor *l = y->src[0];
        int n = (int)y->numel, classes = CLNN__PARAMS(y, loss_params)->classes;
        int ol = (int)l->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "ce_valid", 6, CLNN__ARG(n), CLNN__ARG(classes),
                            CLNN__ARG(l->storage->mem), CLNN__ARG(ol), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

static clnn_status emit_div(clnn_tensor *y)
{
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "loss_div", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        const clnn_tensor *a = y->src[0], *b = y->src[1];
        int oa = (int)a->offset, ob = (int)b->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "loss_div", 6, CLNN__ARG(a->storage->mem), CLNN__ARG(oa),
                            CLNN__ARG(b->storage->mem), CLNN__ARG(ob), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global = 1, local = 1;
    return clnn__enqueue(y, k, 1, &global, &local);
}

/* ---- backward ------------------------------------------------------------------------------- */
static clnn_status backward_elem(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    for (int wrt = 0; wrt < 2; wrt++) {
        if (!y->src[wrt]->requires_grad)
            continue;
        loss_params p = {.kind = y->op, .wrt = wrt};
        clnn_tensor *d = clnn__node(g, CLNN_OP_LOSS_BWD, 3,
                                    (clnn_tensor *[]){y->src[0], y->src[1], dy}, &p, sizeof p);
        clnn_status st = clnn__grad_accum(g, y->src[wrt], d);
        if (st)
            return st;
    }
    return CLNN_OK;
}

static clnn_status backward_cce(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    for (int wrt = 0; wrt < 2; wrt++) {
        if (!y->src[wrt]->requires_grad)
            continue;
        loss_params p = {.wrt = wrt};
        clnn_tensor *d = clnn__node(g, CLNN_OP_CCE_BWD, 3,
                                    (clnn_tensor *[]){y->src[0], y->src[1], dy}, &p, sizeof p);
        clnn_status st = clnn__grad_accum(g, y->src[wrt], d);
        if (st)
            return st;
    }
    return CLNN_OK;
}

/* the labels (i32) never require a gradient */
static clnn_status backward_ce(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    loss_params p = *CLNN__PARAMS(y, loss_params);
    clnn_tensor *d =
        clnn__node(g, CLNN_OP_CE_BWD, 3, (clnn_tensor *[]){y->src[0], y->src[1], dy}, &p, sizeof p);
    return clnn__grad_accum(g, y->src[0], d);
}

/* y = a / b: da = dy / b, db = -dy y / b (b is a count in every use, without a gradient) */
static clnn_status backward_div(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    clnn_tensor *a = y->src[0], *b = y->src[1];
    clnn_status st = CLNN_OK;
    if (a->requires_grad)
        st = clnn__grad_accum(
            g, a, clnn__node(g, CLNN_OP_LOSS_DIV, 2, (clnn_tensor *[]){dy, b}, NULL, 0));
    if (!st && b->requires_grad) {
        clnn_tensor *t = clnn_scale(g, clnn_mul(g, dy, y), -1.0f);
        st = clnn__grad_accum(g, b,
                              clnn__node(g, CLNN_OP_LOSS_DIV, 2, (clnn_tensor *[]){t, b}, NULL, 0));
    }
    return st;
}

/* ---- cost: bytes moved and a rough count of flops (a log or exp counted as 8) -------------- */
static void cost(const clnn_tensor *y, double *flops, double *bytes)
{
    double moved = (double)y->numel, work = (double)y->numel;
    for (int i = 0; i < y->nsrc; i++) {
        moved += (double)y->src[i]->numel;
        if ((double)y->src[i]->numel > work)
            work = (double)y->src[i]->numel;
    }
    *bytes = 4.0 * moved;
    *flops = (y->op == CLNN_OP_MSE_LOSS || y->op == CLNN_OP_CE_VALID ? 3.0 : 20.0) * work;
}

const clnn__op_def clnn__op_mse_loss = {"mse_loss",    2,    infer_elem, emit_elem,
                                        backward_elem, cost, "loss"};
const clnn__op_def clnn__op_bce_loss = {"bce_loss",    2,    infer_elem, emit_elem,
                                        backward_elem, cost, "loss"};
const clnn__op_def clnn__op_bce_logits_loss = {"bce_logits_loss", 2,    infer_elem, emit_elem,
                                               backward_elem,     cost, "loss"};
const clnn__op_def clnn__op_cce_loss = {"cce_loss",   2,    infer_cce, emit_rows,
                                        backward_cce, cost, "loss"};
const clnn__op_def clnn__op_ce_loss = {"ce_loss",   2,    infer_ce, emit_rows,
                                       backward_ce, cost, "loss"};
/* the backward kernels: second derivatives are not needed by any training path (as *_bwd of
 * op_unary.c) */
const clnn__op_def clnn__op_loss_bwd = {"loss_bwd", 3,    infer_elem_bwd, emit_elem_bwd,
                                        NULL,       cost, "loss"};
const clnn__op_def clnn__op_cce_bwd = {"cce_bwd", 3, infer_rows_bwd, emit_rows, NULL, cost, "loss"};
const clnn__op_def clnn__op_ce_bwd = {"ce_bwd", 3, infer_rows_bwd, emit_rows, NULL, cost, "loss"};
/* labels have no gradient, so neither has their mask */
const clnn__op_def clnn__op_ce_valid = {"ce_valid", 1, infer_valid, emit_valid, NULL, cost, "loss"};
const clnn__op_def clnn__op_loss_div = {"loss_div",   2,    infer_div, emit_div,
                                        backward_div, cost, "loss"};

/* ---- builders ------------------------------------------------------------------------------- */
/* NULL inputs and bad reductions, named as the user called them; 0 when the graph is failed */
static int check_args(clnn_graph *g, const char *name, const clnn_tensor *a, const char *ra,
                      const clnn_tensor *b, const char *rb, clnn_reduction reduction)
{
    if (!g || g->status)
        return 0;
    if (!a || !b) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "%s: %s is NULL", name, !a ? ra : rb);
        return 0;
    }
    if (reduction != CLNN_REDUCTION_MEAN && reduction != CLNN_REDUCTION_SUM &&
        reduction != CLNN_REDUCTION_NONE) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "%s: expected reduction CLNN_REDUCTION_MEAN (0), _SUM (1) or _NONE (2), "
                         "got %d",
                         name, (int)reduction);
        return 0;
    }
    return 1;
}

/* mean / sum over every element of the unreduced losses (over N for the per-sample ones) */
static clnn_tensor *reduce(clnn_graph *g, clnn_tensor *l, clnn_reduction reduction,
                           const char *name)
{
    clnn_tensor *y = reduction == CLNN_REDUCTION_MEAN  ? clnn_mean(g, l, 0, NULL, 0)
                     : reduction == CLNN_REDUCTION_SUM ? clnn_sum(g, l, 0, NULL, 0)
                                                       : l;
    return y ? clnn_tensor_set_name(y, name) : NULL;
}

static clnn_tensor *pair_loss(clnn_graph *g, int op, const char *name, clnn_tensor *pred,
                              const char *role, clnn_tensor *target, clnn_reduction reduction)
{
    if (!check_args(g, name, pred, role, target, "target", reduction))
        return NULL;
    loss_params p = {0};
    clnn_tensor *l = clnn__node(g, op, 2, (clnn_tensor *[]){pred, target}, &p, sizeof p);
    return l ? reduce(g, l, reduction, name) : NULL;
}

clnn_tensor *clnn_mse_loss(clnn_graph *g, clnn_tensor *pred, clnn_tensor *target,
                           clnn_reduction reduction)
{
    return pair_loss(g, CLNN_OP_MSE_LOSS, "mse_loss", pred, "pred", target, reduction);
}

clnn_tensor *clnn_binary_crossentropy(clnn_graph *g, clnn_tensor *probs, clnn_tensor *target,
                                      clnn_reduction reduction)
{
    return pair_loss(g, CLNN_OP_BCE_LOSS, "binary_crossentropy", probs, "probs", target, reduction);
}

clnn_tensor *clnn_binary_crossentropy_logits(clnn_graph *g, clnn_tensor *logits,
                                             clnn_tensor *target, clnn_reduction reduction)
{
    return pair_loss(g, CLNN_OP_BCE_LOGITS_LOSS, "binary_crossentropy_logits", logits, "logits",
                     target, reduction);
}

clnn_tensor *clnn_categorical_crossentropy(clnn_graph *g, clnn_tensor *probs, clnn_tensor *target,
                                           clnn_reduction reduction)
{
    return pair_loss(g, CLNN_OP_CCE_LOSS, "categorical_crossentropy", probs, "probs", target,
                     reduction);
}

clnn_tensor *clnn_cross_entropy(clnn_graph *g, clnn_tensor *logits, clnn_tensor *labels,
                                clnn_reduction reduction, float label_smoothing)
{
    const char *name = "cross_entropy";
    if (!check_args(g, name, logits, "logits", labels, "labels", reduction))
        return NULL;
    loss_params p = {.smoothing = label_smoothing};
    clnn_tensor *l =
        clnn__node(g, CLNN_OP_CE_LOSS, 2, (clnn_tensor *[]){logits, labels}, &p, sizeof p);
    if (!l || reduction != CLNN_REDUCTION_MEAN)
        return l ? reduce(g, l, reduction, name) : NULL;
    /* the mean over the counted samples: sum of the losses / number of labels in [0, C) */
    loss_params v = {.classes = (int)logits->shape[1]};
    clnn_tensor *valid = clnn__node(g, CLNN_OP_CE_VALID, 1, &labels, &v, sizeof v);
    clnn_tensor *count = clnn_sum(g, valid, 0, NULL, 0);
    clnn_tensor *total = clnn_sum(g, l, 0, NULL, 0);
    if (!count || !total)
        return NULL;
    clnn_tensor *y = clnn__node(g, CLNN_OP_LOSS_DIV, 2, (clnn_tensor *[]){total, count}, NULL, 0);
    return y ? clnn_tensor_set_name(y, name) : NULL;
}
