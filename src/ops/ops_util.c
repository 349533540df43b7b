/* ops_util.c — broadcasting, strided meta tables and the elementwise emit pattern shared by
 * the op files (see ops_util.h). */
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"

clnn_status clnn__broadcast_shape(clnn_graph *g, const char *op, const clnn_tensor *a,
                                  const clnn_tensor *b, clnn_tensor *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return clnn__graph_fail(
                g, CLNN_ERR_SHAPE,
                "%s: cannot broadcast '%s' %s with '%s' %s: expected equal sizes or 1 in every "
                "aligned dimension, got %lld and %lld",
                op, a->name, clnn__shape_str(a->ndim, a->shape, sa, sizeof sa), b->name,
                clnn__shape_str(b->ndim, b->shape, sb, sizeof sb), (long long)da, (long long)db);
        }
        out->shape[i] = da > db ? da : db;
    }
    out->ndim = nd;
    return clnn__check_numel(g, op, out);
}

clnn_status clnn__check_numel(clnn_graph *g, const char *op, const clnn_tensor *t)
{
    int64_t n = clnn__numel(t->ndim, t->shape);
    if (n >= ((int64_t)1 << 31)) {
        char s[128];
        return clnn__graph_fail(g, CLNN_ERR_UNSUPPORTED,
                                "%s: result %s has %lld elements; this version supports fewer "
                                "than 2^31 per tensor",
                                op, clnn__shape_str(t->ndim, t->shape, s, sizeof s), (long long)n);
    }
    return CLNN_OK;
}

void clnn__bcast_strides(const clnn_tensor *t, int out_ndim, const int64_t *out_shape, int *strides)
{
    int64_t s = 1;
    for (int i = out_ndim - 1; i >= 0; i--) {
        int j = i - (out_ndim - t->ndim);
        if (j < 0 || (t->shape[j] == 1 && out_shape[i] != 1)) {
            strides[i] = 0;
        } else {
            strides[i] = (int)s;
        }
        if (j >= 0)
            s *= t->shape[j];
    }
}

void clnn__merge_axes(int *ndim, int *shape, int nops, int strides[][CLNN_MAX_DIMS])
{
    /* drop size-1 axes, then merge neighbours i, i+1 when stride[i] == stride[i+1]*shape[i+1] */
    int n = 0;
    for (int i = 0; i < *ndim; i++) {
        if (shape[i] == 1)
            continue;
        shape[n] = shape[i];
        for (int k = 0; k < nops; k++)
            strides[k][n] = strides[k][i];
        n++;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0) {
            int ok = 1;
            for (int k = 0; k < nops; k++)
                ok &= strides[k][m - 1] == strides[k][i] * shape[i];
            if (ok) {
                shape[m - 1] *= shape[i];
                for (int k = 0; k < nops; k++)
                    strides[k][m - 1] = strides[k][i];
                continue;
            }
        }
        shape[m] = shape[i];
        for (int k = 0; k < nops; k++)
            strides[k][m] = strides[k][i];
        m++;
    }
    if (m == 0) { /* a scalar */
        shape[0] = 1;
        for (int k = 0; k < nops; k++)
            strides[k][0] = 0;
        m = 1;
    }
    *ndim = m;
}

void clnn__meta_fill(int *meta, int ndim, const int *shape, int nops, int strides[][CLNN_MAX_DIMS])
{
    memset(meta, 0, CLNN__META_INTS * sizeof *meta);
    meta[0] = ndim;
    for (int i = 0; i < ndim; i++) {
        meta[1 + i] = shape[i];
        for (int k = 0; k < nops; k++)
            meta[1 + CLNN_MAX_DIMS * (k + 1) + i] = strides[k][i];
    }
}

clnn_status clnn__node_meta(clnn_tensor *node, const int *meta, size_t count)
{
    if (node->aux)
        return CLNN_OK;
    cl_int err;
    node->aux = clCreateBuffer(node->ctx->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                               count * sizeof *meta, (void *)meta, &err);
    if (err != CL_SUCCESS) {
        node->aux = NULL;
        return clnn__cl_fail(node->ctx, err, "clCreateBuffer for the index table of '%s'",
                             node->name);
    }
    return CLNN_OK;
}

clnn_status clnn__emit_strided_copy(clnn_tensor *y, const int *x_strides)
{
    const clnn_tensor *x = y->src[0];
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(y, 0, "strided_copy", &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        int strides[1][CLNN_MAX_DIMS], shape[CLNN_MAX_DIMS], nd = y->ndim, meta[CLNN__META_INTS];
        for (int i = 0; i < nd; i++) {
            shape[i] = (int)y->shape[i];
            strides[0][i] = x_strides[i];
        }
        clnn__merge_axes(&nd, shape, 1, strides);
        clnn__meta_fill(meta, nd, shape, 1, strides);
        if ((st = clnn__node_meta(y, meta, CLNN__META_INTS)))
            return st;
        int n = (int)y->numel, ox = (int)x->offset, oy = (int)y->offset;
        st = clnn__set_args(y->ctx, k, "strided_copy", 6, CLNN__ARG(n), CLNN__ARG(y->aux),
                            CLNN__ARG(x->storage->mem), CLNN__ARG(ox), CLNN__ARG(y->storage->mem),
                            CLNN__ARG(oy));
        if (st)
            return st;
    }
    size_t global = (size_t)y->numel, local = 64;
    return clnn__enqueue(y, k, 1, &global, &local);
}

clnn_status clnn__emit_map(clnn_tensor *node, const char *kernel, int nin, const float *alpha)
{
    cl_kernel k;
    int fresh;
    clnn_status st = clnn__node_kernel(node, 0, kernel, &k, &fresh);
    if (st)
        return st;
    if (fresh) {
        cl_uint a = 0;
        int n = (int)node->numel;
        cl_int err = clSetKernelArg(k, a++, sizeof n, &n);
        if (alpha && err == CL_SUCCESS)
            err = clSetKernelArg(k, a++, sizeof *alpha, alpha);
        for (int i = 0; i <= nin && err == CL_SUCCESS; i++) {
            const clnn_tensor *t = i < nin ? node->src[i] : node;
            int off = (int)t->offset;
            err = clSetKernelArg(k, a++, sizeof(cl_mem), &t->storage->mem);
            if (err == CL_SUCCESS)
                err = clSetKernelArg(k, a++, sizeof off, &off);
        }
        if (err != CL_SUCCESS) {
            clReleaseKernel(node->kernels[0]);
            node->kernels[0] = NULL;
            return clnn__cl_fail(node->ctx, err, "clSetKernelArg for %s", kernel);
        }
    }
    size_t global = (size_t)node->numel, local = 64;
    return clnn__enqueue(node, k, 1, &global, &local);
}

void clnn__row_grid(const clnn_ctx *ctx, int rows, int cols, size_t global[2], size_t local[2])
{
    const int cpu = clnn__cpu_path(ctx);
    size_t l0 = 1;
    while (!cpu && l0 < 64 && (int)l0 < cols)
        l0 *= 2;
    local[0] = l0;
    local[1] = 64 / l0;
    global[0] = cpu ? 1 : (size_t)cols;
    global[1] = (size_t)rows;
}

size_t clnn__spans(const clnn_ctx *ctx, int64_t units, int64_t size, int64_t multiple, int *per)
{
    int64_t want = 8 * (int64_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    int64_t big = units * size / 65536;
    if (want < big)
        want = big;
    if (want > units)
        want = units > 0 ? units : 1;
    int64_t p = (units + want - 1) / want;
    p = (p + multiple - 1) / multiple * multiple;
    if (p < 1)
        p = 1;
    *per = (int)p;
    return (size_t)((units + p - 1) / p);
}

clnn_status clnn__enqueue_spans(clnn_tensor *node, cl_kernel k, size_t items)
{
    size_t local = 1;
    return clnn__enqueue(node, k, 1, &items, &local);
}
