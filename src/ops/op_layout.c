/* op_layout.c — ops that move data without arithmetic (kernels/layout.cl):
 *   permute: y.shape[i] = x.shape[perm[i]] (a strided copy)      dx = permute(dy, perm^-1)
 *   concat:  n inputs joined along an axis (one gather)            dx_i = slice of dy
 *   slice:   y = x[start_a : : step_a] with shape_a elements on every axis a (a strided copy;
 *            clnn_slice cuts one axis with Python's rules)         dx = pad(dy) with zeros
 *   pad:     y = value except on the lattice start_a + k step_a, which holds x (a gather;
 *            clnn_pad uses step 1)                                 dx = slice(dy)
 *   flatten: (N, ...) -> (N, prod), a view through clnn_reshape.
 * Slice and pad are each other's gradient, so neither needs atomics. The kernels copy 32-bit
 * words, so f32 and i32 tensors both work (gradients exist for f32 only). A node holds at most
 * CLNN__MAX_SRC inputs: clnn_concat chains nodes for more. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

typedef struct permute_params {
    int perm[CLNN_MAX_DIMS];
} permute_params;

typedef struct concat_params {
    int axis; /* as given; infer normalises it */
} concat_params;

/* slice and pad: one lattice per axis (start, step) and the output shape */
typedef struct window_params {
    int start[CLNN_MAX_DIMS], step[CLNN_MAX_DIMS], shape[CLNN_MAX_DIMS];
    float value; /* pad: the fill value (converted to int for i32 tensors) */
} window_params;

/* Row-major strides (in elements) of a tensor's contiguous layout. */
static void contiguous_strides(const clnn_tensor *t, int64_t *strides)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t->shape[i];
    }
}

/* After a failure while setting a fresh kernel's arguments: drop the kernel, so the next emit
 * makes it again instead of enqueueing it half set. Returns st. */
static clnn_status forget_slot(clnn_tensor *node, int slot, clnn_status st)
{
    clReleaseKernel(node->kernels[slot]);
    node->kernels[slot] = NULL;
    return st;
}

static clnn_status forget_kernel(clnn_tensor *node, clnn_status st)
{
    return forget_slot(node, 0, st);
}

static clnn_status enqueue_1d(clnn_tensor *node, cl_kernel k)
{
    size_t global = (size_t)node->numel, local = 64;
    return clnn__enqueue(node, k, 1, &global, &local);
}

/* y[i] = x[base + sum_a i_a strides[a]] over y's shape (permute and slice) */
static clnn_status emit_strided(clnn_tensor *y, const int64_t *strides, int64_t base)
{
    const clnn_tensor *x = y->src[0];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "layout_copy", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int nd = y->ndim, shape[CLNN_MAX_DIMS], s[1][CLNN_MAX_DIMS], meta[CLNN__META_INTS];
        for (int i = 0; i < nd; i++) {
            shape[i] = (int)y->shape[i];
            s[0][i] = (int)strides[i];
        }
        clnn__merge_axes(&nd, shape, 1, s);
        clnn__meta_fill(meta, nd, shape, 1, s);
        if ((st = clnn__node_meta(y, meta, CLNN__META_INTS)))
            return forget_kernel(y, st);
        int n = (int)y->numel, ox = (int)(x->offset + (size_t)base), oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "layout_copy", 6, CLNN__ARG(n), CLNN__ARG(y->aux),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return forget_kernel(y, st);
    }
    return enqueue_1d(y, k);
}

/* ---- permute ------------------------------------------------------------------------------- */
static clnn_status infer_permute(clnn_graph *g, clnn_tensor *y)
{
    permute_params *p = CLNN__PARAMS(y, permute_params);
    const clnn_tensor *x = y->src[0];
    clnn_status st = clnn__check_numel(g, "permute", x);
    if (st)
        return st;
    unsigned seen = 0;
    int ok = 1;
    for (int i = 0; i < x->ndim; i++) {
        int a = clnn__norm_axis(p->perm[i], x->ndim);
        ok = ok && a >= 0 && !((seen >> a) & 1);
        if (a >= 0)
            seen |= 1u << a;
    }
    if (!ok) {
        char s[128], given[96];
        int used = snprintf(given, sizeof given, "(");
        for (int i = 0; i < x->ndim && used < (int)sizeof given; i++)
            used += snprintf(given + used, sizeof given - (size_t)used, "%s%d", i ? ", " : "",
                             p->perm[i]);
        if (used < (int)sizeof given)
            snprintf(given + used, sizeof given - (size_t)used, ")");
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "permute: perm %s for '%s' %s: expected each axis of 0..%d (or "
                                "its negative form) exactly once",
                                given, x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s),
                                x->ndim - 1);
    }
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) {
        p->perm[i] = clnn__norm_axis(p->perm[i], x->ndim);
        y->shape[i] = x->shape[p->perm[i]];
    }
    return CLNN_OK;
}

static clnn_status emit_permute(clnn_tensor *y)
{
    const permute_params *p = CLNN__PARAMS(y, permute_params);
    int64_t xs[CLNN_MAX_DIMS], strides[CLNN_MAX_DIMS];
    contiguous_strides(y->src[0], xs);
    for (int i = 0; i < y->ndim; i++)
        strides[i] = xs[p->perm[i]];
    return emit_strided(y, strides, 0);
}

static clnn_status backward_permute(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const permute_params *p = CLNN__PARAMS(y, permute_params);
    int inverse[CLNN_MAX_DIMS];
    for (int i = 0; i < y->ndim; i++)
        inverse[p->perm[i]] = i;
    return clnn__grad_accum(g, y->src[0], clnn_permute(g, dy, inverse));
}

clnn_tensor *clnn_permute(clnn_graph *g, clnn_tensor *x, const int *perm)
{
    if (!g || g->status)
        return NULL;
    if (!x || x->graph != g) /* clnn__node reports it */
        return clnn__node(g, CLNN_OP_PERMUTE, 1, &x, NULL, 0);
    if (!perm && x->ndim > 0) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "permute: perm is NULL: expected %d axes for '%s'",
                         x->ndim, x->name);
        return NULL;
    }
    permute_params p = {{0}};
    if (x->ndim)
        memcpy(p.perm, perm, (size_t)x->ndim * sizeof *perm);
    return clnn__node(g, CLNN_OP_PERMUTE, 1, &x, &p, sizeof p);
}

/* ---- concat -------------------------------------------------------------------------------- */
/* Checks that xs[0 .. n) can be joined along axis; *out_axis receives the axis in 0 .. ndim-1. */
static clnn_status check_concat(clnn_graph *g, int n, clnn_tensor *const *xs, int axis,
                                int *out_axis)
{
    const clnn_tensor *x0 = xs[0];
    int a = clnn__norm_axis(axis, x0->ndim);
    if (a < 0)
        return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                "concat: axis %d is out of range for '%s' with %d dimensions "
                                "(expected -%d..%d)",
                                axis, x0->name, x0->ndim, x0->ndim, x0->ndim - 1);
    for (int i = 0; i < n; i++) {
        const clnn_tensor *x = xs[i];
        clnn_status st = clnn__check_numel(g, "concat", x);
        if (st)
            return st;
        int ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x->ndim; d++)
            ok = d == a || x->shape[d] == x0->shape[d];
        if (!ok) {
            char s0[128], s1[128];
            return clnn__graph_fail(g, CLNN_ERR_SHAPE,
                                    "concat: input %d '%s' %s does not fit input 0 '%s' %s: "
                                    "expected the same sizes except along axis %d",
                                    i, x->name, clnn__shape_str(x->ndim, x->shape, s1, sizeof s1),
                                    x0->name, clnn__shape_str(x0->ndim, x0->shape, s0, sizeof s0),
                                    a);
        }
        if (x->dtype != x0->dtype)
            return clnn__graph_fail(g, CLNN_ERR_INVALID,
                                    "concat: input %d '%s' and input 0 '%s' have different "
                                    "dtypes: expected one dtype",
                                    i, x->name, x0->name);
    }
    *out_axis = a;
    return CLNN_OK;
}

static clnn_status infer_concat(clnn_graph *g, clnn_tensor *y)
{
    concat_params *p = CLNN__PARAMS(y, concat_params);
    int a;
    clnn_status st = check_concat(g, y->nsrc, y->src, p->axis, &a);
    if (st)
        return st;
    p->axis = a;
    const clnn_tensor *x0 = y->src[0];
    y->dtype = x0->dtype;
    y->ndim = x0->ndim;
    memcpy(y->shape, x0->shape, sizeof y->shape);
    for (int i = 1; i < y->nsrc; i++)
        y->shape[a] += y->src[i]->shape[a];
    return clnn__check_numel(g, "concat", y);
}

/* One concat_gather over y: the table in aux holds where each input starts along the axis;
 * buffer arguments of absent inputs (nsrc < CLNN__MAX_SRC) repeat y's buffer, never read. */
static clnn_status emit_concat(clnn_tensor *y)
{
    int a = CLNN__PARAMS(y, concat_params)->axis;
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "concat_gather", &k, &fresh);
    if (st || !fresh)
        return st ? st : enqueue_1d(y, k);
    int starts[CLNN__MAX_SRC + 1] = {0};
    for (int i = 0; i < y->nsrc; i++)
        starts[i + 1] = starts[i] + (int)y->src[i]->shape[a];
    if ((st = clnn__node_meta(y, starts, (size_t)y->nsrc + 1)))
        return forget_kernel(y, st);
    int64_t inner = 1;
    for (int d = a + 1; d < y->ndim; d++)
        inner *= y->shape[d];
    int n = (int)y->numel, in = (int)inner, nin = y->nsrc, oy = (int)y->offset;
    st = clnn__set_args(y->ctx, k, "concat_gather", 4, CLNN__ARG(n), CLNN__ARG(in), CLNN__ARG(nin),
                        CLNN__ARG(y->aux));
    for (cl_uint i = 0; i < CLNN__MAX_SRC && !st; i++) {
        const clnn_tensor *x = (int)i < y->nsrc ? y->src[i] : y;
        int ox = (int)i < y->nsrc ? (int)x->offset : 0;
        cl_int err = clSetKernelArg(k, 4 + 2 * i, sizeof(cl_mem), &x->storage->mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(k, 5 + 2 * i, sizeof ox, &ox);
        if (err != CL_SUCCESS)
            st = clnn__cl_fail(y->ctx, err, "clSetKernelArg for concat_gather of '%s'", y->name);
    }
    if (!st) {
        cl_uint last = 4 + 2 * CLNN__MAX_SRC;
        cl_int err = clSetKernelArg(k, last, sizeof(cl_mem), &y->storage->mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(k, last + 1, sizeof oy, &oy);
        if (err != CL_SUCCESS)
            st = clnn__cl_fail(y->ctx, err, "clSetKernelArg for concat_gather of '%s'", y->name);
    }
    return st ? forget_kernel(y, st) : enqueue_1d(y, k);
}

static clnn_status backward_concat(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    int a = CLNN__PARAMS(y, concat_params)->axis;
    int64_t off = 0;
    for (int i = 0; i < y->nsrc; i++) {
        clnn_tensor *x = y->src[i];
        int64_t len = x->shape[a];
        if (x->requires_grad) {
            clnn_status st = clnn__grad_accum(g, x, clnn_slice(g, dy, a, off, off + len, 1));
            if (st)
                return st;
        }
        off += len;
    }
    return CLNN_OK;
}

clnn_tensor *clnn_concat(clnn_graph *g, int n, clnn_tensor *const *xs, int axis)
{
    if (!g || g->status)
        return NULL;
    if (n < 1 || !xs) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "concat: expected n >= 1 tensors, got %d%s", n,
                         xs ? "" : " and xs NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!xs[i] || xs[i]->graph != g) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             xs[i] ? "concat: input %d '%s' is not a node of this graph (bind "
                                     "caller-owned tensors with clnn_graph_bind)"
                                   : "concat: input %d is NULL%s",
                             i, xs[i] ? xs[i]->name : "");
            return NULL;
        }
    }
    int a;
    if (check_concat(g, n, xs, axis, &a)) /* all n at once: messages name the caller's index */
        return NULL;
    concat_params p = {a};
    int first = n < CLNN__MAX_SRC ? n : CLNN__MAX_SRC;
    clnn_tensor *y = clnn__node(g, CLNN_OP_CONCAT, first, xs, &p, sizeof p);
    /* more than CLNN__MAX_SRC inputs: y = concat(y, next CLNN__MAX_SRC - 1 inputs) until done */
    for (int i = first; y && i < n;) {
        clnn_tensor *src[CLNN__MAX_SRC];
        int k = 0;
        src[k++] = y;
        while (k < CLNN__MAX_SRC && i < n)
            src[k++] = xs[i++];
        y = clnn__node(g, CLNN_OP_CONCAT, k, src, &p, sizeof p);
    }
    return y;
}

/* ---- slice and pad ------------------------------------------------------------------------- */
static clnn_status infer_window(clnn_graph *g, clnn_tensor *y)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    const clnn_tensor *x = y->src[0];
    int slice = y->op == CLNN_OP_SLICE;
    clnn_status st = clnn__check_numel(g, clnn__ops[y->op]->name, x);
    if (st)
        return st;
    for (int a = 0; a < x->ndim; a++) {
        int64_t start = p->start[a], step = p->step[a], len = slice ? p->shape[a] : x->shape[a];
        int64_t bound = slice ? x->shape[a] : p->shape[a];
        if (start < 0 || step < 1 || len < 1 || start + (len - 1) * step >= bound) {
            char s[128];
            return clnn__graph_fail(
                g, CLNN_ERR_INVALID,
                "%s: axis %d of '%s' %s: start %lld, step %lld, %lld elements do not fit a size "
                "of %lld",
                clnn__ops[y->op]->name, a, x->name, clnn__shape_str(x->ndim, x->shape, s, sizeof s),
                (long long)start, (long long)step, (long long)len, (long long)bound);
        }
    }
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    for (int a = 0; a < x->ndim; a++)
        y->shape[a] = p->shape[a];
    return clnn__check_numel(g, clnn__ops[y->op]->name, y);
}

static clnn_status emit_slice(clnn_tensor *y)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    int64_t xs[CLNN_MAX_DIMS], strides[CLNN_MAX_DIMS], base = 0;
    contiguous_strides(y->src[0], xs);
    for (int a = 0; a < y->ndim; a++) {
        strides[a] = xs[a] * p->step[a];
        base += xs[a] * p->start[a];
    }
    return emit_strided(y, strides, base);
}

/* the table of pad_gather (kernels/layout.cl); neighbouring axes that x fills entirely (start 0,
 * step 1, same size) are merged */
#define PAD_TABLE_INTS (1 + 4 * CLNN_MAX_DIMS)
static void pad_table(const clnn_tensor *y, int *table)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    const clnn_tensor *x = y->src[0];
    int nd = 0, full_prev = 0;
    int shape[CLNN_MAX_DIMS], start[CLNN_MAX_DIMS], step[CLNN_MAX_DIMS], xdim[CLNN_MAX_DIMS];
    for (int a = 0; a < y->ndim; a++) {
        int full = p->start[a] == 0 && p->step[a] == 1 && x->shape[a] == y->shape[a];
        if (full && full_prev) {
            shape[nd - 1] *= (int)y->shape[a];
            xdim[nd - 1] *= (int)x->shape[a];
            continue;
        }
        shape[nd] = (int)y->shape[a];
        start[nd] = p->start[a];
        step[nd] = p->step[a];
        xdim[nd] = (int)x->shape[a];
        nd++;
        full_prev = full;
    }
    memset(table, 0, PAD_TABLE_INTS * sizeof *table);
    table[0] = nd;
    for (int a = 0; a < nd; a++) {
        table[1 + a] = shape[a];
        table[1 + CLNN_MAX_DIMS + a] = start[a];
        table[1 + 2 * CLNN_MAX_DIMS + a] = step[a];
        table[1 + 3 * CLNN_MAX_DIMS + a] = xdim[a];
    }
}

static clnn_status emit_pad(clnn_tensor *y)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    const clnn_tensor *x = y->src[0];
    cl_kernel k;
    int fresh;
    /* CPU devices: a work-item per row of the table's last (merged) axis when there are rows
     * enough for every core, else (and on GPUs) one per element */
    int table[PAD_TABLE_INTS];
    pad_table(y, table);
    int L = table[0] > 0 ? table[table[0]] : 1;
    int64_t nrows = y->numel / (L > 0 ? L : 1);
    int rows = clnn__cpu_path(y->ctx) && table[0] > 0 && L >= 8 && nrows >= 16;
    const char *name = rows ? "pad_rows" : "pad_gather";
    clnn_status st = clnn__node_kernel(y, rows, name, &k, &fresh); /* a slot each */
    if (st)
        return st;
    if (fresh) {
        if ((st = clnn__node_meta(y, table, PAD_TABLE_INTS)))
            return forget_slot(y, rows, st);
        cl_uint bits;
        if (y->dtype == CLNN_I32) {
            float f = p->value;
            int32_t v = !(f > -2147483648.0f) ? INT32_MIN
                        : f >= 2147483648.0f  ? INT32_MAX
                                              : (int32_t)f;
            memcpy(&bits, &v, sizeof bits);
        } else {
            memcpy(&bits, &p->value, sizeof bits);
        }
        int n = (int)y->numel, ox = (int)x->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, name, 7, CLNN__ARG(n), CLNN__ARG(y->aux), CLNN__ARG(bits),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return forget_slot(y, rows, st);
    }
    if (rows) {
        size_t global = (size_t)nrows;
        return clnn__enqueue(y, k, 1, &global, NULL);
    }
    return enqueue_1d(y, k);
}

/* A slice (op CLNN_OP_SLICE: shape = the result) or pad (CLNN_OP_PAD: shape = the result) node
 * with the lattice start/step of every axis. */
static clnn_tensor *window_node(clnn_graph *g, int op, clnn_tensor *x, const int *start,
                                const int *step, const int64_t *shape, float value)
{
    window_params p = {.value = value};
    for (int a = 0; a < x->ndim; a++) {
        p.start[a] = start[a];
        p.step[a] = step[a];
        p.shape[a] = (int)shape[a];
    }
    return clnn__node(g, op, 1, &x, &p, sizeof p);
}

/* slice: dx = dy scattered back onto x's lattice, zeros elsewhere (a pad node) */
static clnn_status backward_slice(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    const clnn_tensor *x = y->src[0];
    return clnn__grad_accum(g, y->src[0],
                            window_node(g, CLNN_OP_PAD, dy, p->start, p->step, x->shape, 0.0f));
}

/* pad: dx = the lattice of dy where x sits (a slice node) */
static clnn_status backward_pad(clnn_graph *g, clnn_tensor *y, clnn_tensor *dy)
{
    const window_params *p = CLNN__PARAMS(y, window_params);
    const clnn_tensor *x = y->src[0];
    return clnn__grad_accum(g, y->src[0],
                            window_node(g, CLNN_OP_SLICE, dy, p->start, p->step, x->shape, 0.0f));
}

clnn_tensor *clnn_slice(clnn_graph *g, clnn_tensor *x, int axis, int64_t start, int64_t end,
                        int64_t step)
{
    if (!g || g->status)
        return NULL;
    if (!x || x->graph != g) /* clnn__node reports it */
        return clnn__node(g, CLNN_OP_SLICE, 1, &x, NULL, 0);
    int a = clnn__norm_axis(axis, x->ndim);
    if (a < 0) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "slice: axis %d is out of range for '%s' with %d dimensions (expected "
                         "-%d..%d)",
                         axis, x->name, x->ndim, x->ndim, x->ndim - 1);
        return NULL;
    }
    if (step < 1) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "slice: step %lld: expected step >= 1",
                         (long long)step);
        return NULL;
    }
    /* Python's rules: negative indices count from the end, then both clamp to [0, n] */
    int64_t n = x->shape[a], s = start, e = end;
    s = s < 0 ? (s + n < 0 ? 0 : s + n) : (s > n ? n : s);
    e = e < 0 ? (e + n < 0 ? 0 : e + n) : (e > n ? n : e);
    int64_t len = e > s ? (e - s - 1) / step + 1 : 0;
    if (len == 0) {
        char sx[128];
        clnn__graph_fail(g, CLNN_ERR_SHAPE,
                         "slice: [%lld:%lld:%lld] of axis %d of '%s' %s is empty (clamped to "
                         "[%lld:%lld]): expected at least one element",
                         (long long)start, (long long)end, (long long)step, a, x->name,
                         clnn__shape_str(x->ndim, x->shape, sx, sizeof sx), (long long)s,
                         (long long)e);
        return NULL;
    }
    int starts[CLNN_MAX_DIMS] = {0}, steps[CLNN_MAX_DIMS];
    int64_t shape[CLNN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        steps[d] = 1;
        shape[d] = x->shape[d];
    }
    starts[a] = (int)s;
    steps[a] = step > n ? (int)n : (int)step; /* one element either way; keeps it in int */
    shape[a] = len;
    return window_node(g, CLNN_OP_SLICE, x, starts, steps, shape, 0.0f);
}

clnn_tensor *clnn_pad(clnn_graph *g, clnn_tensor *x, const int64_t *pads, float value)
{
    if (!g || g->status)
        return NULL;
    if (!x || x->graph != g) /* clnn__node reports it */
        return clnn__node(g, CLNN_OP_PAD, 1, &x, NULL, 0);
    if (!pads && x->ndim > 0) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "pad: pads is NULL: expected 2 sizes per axis of '%s' (%d)", x->name,
                         2 * x->ndim);
        return NULL;
    }
    int starts[CLNN_MAX_DIMS], steps[CLNN_MAX_DIMS];
    int64_t shape[CLNN_MAX_DIMS], numel = 1;
    for (int a = 0; a < x->ndim; a++) {
        int64_t before = pads[2 * a], after = pads[2 * a + 1];
        if (before < 0 || after < 0) {
            clnn__graph_fail(g, CLNN_ERR_INVALID,
                             "pad: axis %d of '%s': padding %lld before and %lld after: expected "
                             "sizes >= 0",
                             a, x->name, (long long)before, (long long)after);
            return NULL;
        }
        if (before >= INT_MAX || after >= INT_MAX || numel >= INT_MAX) {
            numel = INT_MAX;
            break;
        }
        starts[a] = (int)before;
        steps[a] = 1;
        shape[a] = x->shape[a] + before + after;
        numel *= shape[a];
    }
    if (numel >= INT_MAX) {
        clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                         "pad: the result of padding '%s' has 2^31 elements or more; this version "
                         "supports fewer per tensor",
                         x->name);
        return NULL;
    }
    return window_node(g, CLNN_OP_PAD, x, starts, steps, shape, value);
}

static void cost_copy(const clnn_tensor *y, double *flops, double *bytes)
{
    *flops = 0.0;
    *bytes = 8.0 * (double)y->numel; /* each output element is read once and written once */
}

/* n_inputs -1: concat takes 1 to CLNN__MAX_SRC inputs */
const clnn__op_def clnn__op_permute = {"permute",        1,         infer_permute, emit_permute,
                                       backward_permute, cost_copy, "layout"};
const clnn__op_def clnn__op_concat = {"concat",        -1,        infer_concat, emit_concat,
                                      backward_concat, cost_copy, "layout"};
const clnn__op_def clnn__op_slice = {"slice",        1,         infer_window, emit_slice,
                                     backward_slice, cost_copy, "layout"};
const clnn__op_def clnn__op_pad = {"pad",        1,         infer_window, emit_pad,
                                   backward_pad, cost_copy, "layout"};

/* ---- flatten ------------------------------------------------------------------------------- */
clnn_tensor *clnn_flatten(clnn_graph *g, clnn_tensor *x)
{
    if (!g || g->status)
        return NULL;
    if (!x) {
        clnn__graph_fail(g, CLNN_ERR_INVALID, "flatten: input 0 is NULL");
        return NULL;
    }
    if (x->ndim < 1) {
        clnn__graph_fail(g, CLNN_ERR_INVALID,
                         "flatten: expected x of shape (N, ...) with at least 1 dimension, got "
                         "'%s' of shape ()",
                         x->name);
        return NULL;
    }
    /* (N,) becomes (N, 1), as Keras' Flatten does */
    int64_t shape[2] = {x->shape[0], x->numel / x->shape[0]};
    clnn_tensor *y = clnn_reshape(g, x, 2, shape);
    return y ? clnn_tensor_set_name(y, "flatten") : NULL;
}
