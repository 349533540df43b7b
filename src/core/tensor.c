/* tensor.c — device storage (reference-counted cl_mem) and caller-owned tensors: create, view
 * (another shape over the same storage), write, read, fill, copy, and the accessors that graph
 * tensors share. Graph nodes are made in graph.c; their storage is assigned in plan.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t clnn__dtype_size(clnn_dtype dtype)
{
    switch (dtype) {
    case CLNN_F16:
        return 2;
    case CLNN_F32:
    case CLNN_I32:
        return 4;
    }
    return 4;
}

int64_t clnn__numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

int clnn__shape_valid(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || shape[i] > CLNN__MAX_NUMEL / n)
            return 0;
        n *= shape[i];
    }
    return 1;
}

const char *clnn__shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    if (!buf || !size)
        return "";
    buf[0] = 0;
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- storage ------------------------------------------------------------------------------- */
/* CLNN_ERR_DEVICE_MEMORY when one buffer of bytes passes the device's largest allocation (checked
 * here: POCL's CPU device does not enforce it itself), naming what (a buffer or a node's scratch,
 * "for 'node'" when node is not NULL); else CLNN_OK. */
static clnn_status check_max_alloc(clnn_ctx *ctx, size_t bytes, const char *what, const char *node)
{
    const uint64_t max_alloc = ctx->info.max_alloc_bytes;
    if (!max_alloc || bytes <= max_alloc)
        return CLNN_OK;
    return clnn__fail(ctx, CLNN_ERR_DEVICE_MEMORY,
                      "cannot allocate %s%s%s%s of %zu bytes on '%s': the device allows at most "
                      "%llu bytes in one buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE; device memory %llu "
                      "bytes)",
                      what, node ? " for '" : "", node ? node : "", node ? "'" : "", bytes,
                      ctx->info.name, (unsigned long long)max_alloc,
                      (unsigned long long)ctx->info.global_mem_bytes);
}

clnn_status clnn__storage_create(clnn_ctx *ctx, size_t bytes, clnn__storage **out)
{
    *out = NULL;
    if (bytes == 0)
        bytes = 4; /* OpenCL has no empty buffers */
    /* the device's limits, checked here: POCL's CPU device does not enforce them itself */
    const uint64_t have = ctx->info.global_mem_bytes, in_use = ctx->stats.device_bytes_allocated;
    clnn_status st = check_max_alloc(ctx, bytes, "a buffer", NULL);
    if (st)
        return st;
    if (bytes > have || in_use > have - bytes)
        return clnn__fail(ctx, CLNN_ERR_DEVICE_MEMORY,
                          "cannot allocate %zu bytes on '%s': the device has %llu bytes of memory "
                          "(CL_DEVICE_GLOBAL_MEM_SIZE) and this context holds %llu of them",
                          bytes, ctx->info.name, (unsigned long long)have,
                          (unsigned long long)in_use);
    clnn__storage *s = calloc(1, sizeof *s);
    if (!s)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory");
    cl_int err;
    s->mem = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        free(s);
        return clnn__cl_fail(ctx, err, "clCreateBuffer of %zu bytes on '%s'", bytes,
                             ctx->info.name);
    }
    s->ctx = ctx;
    s->bytes = bytes;
    s->refs = 1;
    ctx->stats.device_bytes_allocated += bytes;
    *out = s;
    return CLNN_OK;
}

clnn_status clnn__buffer_reserve(clnn_ctx *ctx, cl_mem *buf, size_t bytes, const char *what,
                                 const char *node)
{
    size_t have = 0;
    if (*buf && clGetMemObjectInfo(*buf, CL_MEM_SIZE, sizeof have, &have, NULL) == CL_SUCCESS &&
        have >= bytes)
        return CLNN_OK;
    clnn_status st = check_max_alloc(ctx, bytes, what, node);
    if (st)
        return st;
    if (*buf)
        clReleaseMemObject(*buf);
    cl_int err;
    *buf = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        *buf = NULL;
        return clnn__cl_fail(ctx, err, "clCreateBuffer of %zu bytes for %s%s%s%s", bytes, what,
                             node ? " of '" : "", node ? node : "", node ? "'" : "");
    }
    return CLNN_OK;
}

void clnn__storage_retain(clnn__storage *s)
{
    if (s)
        s->refs++;
}

void clnn__storage_release(clnn__storage *s)
{
    if (!s || --s->refs > 0)
        return;
    s->ctx->stats.device_bytes_allocated -= s->bytes;
    clReleaseMemObject(s->mem);
    free(s);
}

/* ---- caller-owned tensors ------------------------------------------------------------------ */
static clnn_status check_shape(clnn_ctx *ctx, const char *what, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > CLNN_MAX_DIMS)
        return clnn__fail(ctx, CLNN_ERR_SHAPE, "%s: expected 0 to %d dimensions, got %d", what,
                          CLNN_MAX_DIMS, ndim);
    if (ndim > 0 && !shape)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: shape is NULL for %d dimensions", what, ndim);
    if (!clnn__shape_valid(ndim, shape)) {
        char s[160];
        return clnn__fail(ctx, CLNN_ERR_SHAPE,
                          "%s: shape %s: expected positive dimensions and at most 2^46 elements",
                          what, clnn__shape_str(ndim, shape, s, sizeof s));
    }
    return CLNN_OK;
}

clnn_status clnn_tensor_create(clnn_ctx *ctx, clnn_dtype dtype, int ndim, const int64_t *shape,
                               clnn_tensor **out)
{
    if (!ctx || !out)
        return ctx ? clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_tensor_create: out is NULL")
                   : CLNN_ERR_INVALID;
    *out = NULL;
    if (!ctx->usable)
        return clnn__fail(ctx, CLNN_ERR_STATE, "clnn_tensor_create: the context is not usable");
    if (dtype != CLNN_F32 && dtype != CLNN_I32)
        return clnn__fail(ctx, dtype == CLNN_F16 ? CLNN_ERR_UNSUPPORTED : CLNN_ERR_INVALID,
                          "clnn_tensor_create: dtype %d is not supported yet (expected CLNN_F32 "
                          "or CLNN_I32)",
                          (int)dtype);
    clnn_status st = check_shape(ctx, "clnn_tensor_create", ndim, shape);
    if (st)
        return st;
    clnn_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory");
    t->ctx = ctx;
    t->kind = CLNN__OWNED;
    snprintf(t->name, sizeof t->name, "tensor");
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = clnn__numel(ndim, shape);
    st = clnn__storage_create(ctx, (size_t)t->numel * clnn__dtype_size(dtype), &t->storage);
    if (st) {
        free(t);
        return st;
    }
    *out = t;
    return CLNN_OK;
}

void clnn_tensor_destroy(clnn_tensor *t)
{
    if (!t || t->graph)
        return; /* graph tensors die with their graph */
    clnn__storage_release(t->storage);
    free(t);
}

/* Resolves one -1 in shape against numel; 0 on success. */
static int infer_minus_one(int ndim, int64_t *shape, int64_t numel)
{
    int at = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (at >= 0)
                return -1;
            at = i;
        } else {
            known *= shape[i];
        }
    }
    if (at >= 0) {
        if (known <= 0 || numel % known)
            return -1;
        shape[at] = numel / known;
    }
    return 0;
}

clnn_status clnn_tensor_view(clnn_tensor *t, int ndim, const int64_t *shape, clnn_tensor **out)
{
    if (!t || !out)
        return t ? clnn__fail(t->ctx, CLNN_ERR_INVALID, "clnn_tensor_view: out is NULL")
                 : CLNN_ERR_INVALID;
    *out = NULL;
    clnn_ctx *ctx = t->ctx;
    if (ndim && !shape)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_tensor_view: shape is NULL for %d dimensions", ndim);
    if (ndim < 0 || ndim > CLNN_MAX_DIMS)
        return clnn__fail(ctx, CLNN_ERR_SHAPE,
                          "clnn_tensor_view: expected 0 to %d dimensions, got %d", CLNN_MAX_DIMS,
                          ndim);
    if (!t->storage)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_tensor_view: '%s' has no storage yet (plan its graph first)",
                          t->name);
    int64_t s[CLNN_MAX_DIMS];
    if (ndim)
        memcpy(s, shape, (size_t)ndim * sizeof *s);
    char a[128], b[128];
    if (infer_minus_one(ndim, s, t->numel) || clnn__numel(ndim, s) != t->numel)
        return clnn__fail(ctx, CLNN_ERR_SHAPE,
                          "clnn_tensor_view: a view of %s (%lld elements) cannot have shape %s",
                          clnn__shape_str(t->ndim, t->shape, a, sizeof a), (long long)t->numel,
                          clnn__shape_str(ndim, shape, b, sizeof b));
    clnn_status st = check_shape(ctx, "clnn_tensor_view", ndim, s);
    if (st)
        return st;
    clnn_tensor *v = calloc(1, sizeof *v);
    if (!v)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory");
    v->ctx = ctx;
    v->kind = CLNN__OWNED;
    snprintf(v->name, sizeof v->name, "%s", t->name);
    v->dtype = t->dtype;
    v->ndim = ndim;
    memcpy(v->shape, s, sizeof s);
    v->numel = t->numel;
    v->storage = t->storage;
    v->offset = t->offset;
    clnn__storage_retain(v->storage);
    *out = v;
    return CLNN_OK;
}

static clnn_status need_data(clnn_tensor *t, size_t bytes, const void *data, const char *what)
{
    if (!t)
        return CLNN_ERR_INVALID;
    if (!t->ctx->usable)
        return clnn__fail(t->ctx, CLNN_ERR_STATE, "%s: the context is not usable", what);
    if (!data)
        return clnn__fail(t->ctx, CLNN_ERR_INVALID, "%s: data is NULL", what);
    size_t want = (size_t)t->numel * clnn__dtype_size(t->dtype);
    if (bytes != want) {
        char s[128];
        return clnn__fail(t->ctx, CLNN_ERR_SHAPE,
                          "%s '%s': expected %zu bytes for shape %s, got %zu", what, t->name, want,
                          clnn__shape_str(t->ndim, t->shape, s, sizeof s), bytes);
    }
    if (t->graph && t->kind == CLNN__OP) {
        clnn_status st = clnn_graph_plan(t->graph);
        if (st)
            return st;
        const clnn_tensor *root = t;
        while (root->is_view)
            root = root->src[0];
        if (!root->keep)
            return clnn__fail(t->ctx, CLNN_ERR_STATE,
                              "%s '%s': this intermediate value is not kept by the graph's plan "
                              "(its buffer is reused); call clnn_graph_keep() on it before "
                              "running the graph",
                              what, t->name);
    }
    if (!t->storage) {
        if (t->graph) {
            clnn_status st = clnn_graph_plan(t->graph);
            if (st)
                return st;
        }
        if (!t->storage)
            return clnn__fail(t->ctx, CLNN_ERR_STATE,
                              "%s '%s': this intermediate value is not kept by the graph's "
                              "plan; call clnn_graph_keep() on it before planning",
                              what, t->name);
    }
    return CLNN_OK;
}

clnn_status clnn_tensor_write(clnn_tensor *t, const void *data, size_t bytes)
{
    clnn_status st = need_data(t, bytes, data, "clnn_tensor_write");
    if (st)
        return st;
    cl_int err = clEnqueueWriteBuffer(t->ctx->queue, t->storage->mem, CL_TRUE, clnn__byte_offset(t),
                                      bytes, data, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, err, "clEnqueueWriteBuffer of '%s'", t->name);
    return CLNN_OK;
}

clnn_status clnn__tensor_write_async(clnn_tensor *t, const void *data, size_t bytes, cl_event *done)
{
    clnn_status st = need_data(t, bytes, data, "clnn_tensor_write");
    if (st)
        return st;
    cl_int err = clEnqueueWriteBuffer(t->ctx->queue, t->storage->mem, CL_FALSE,
                                      clnn__byte_offset(t), bytes, data, 0, NULL, done);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, err, "clEnqueueWriteBuffer of '%s'", t->name);
    return CLNN_OK;
}

clnn_status clnn_tensor_read(clnn_tensor *t, void *data, size_t bytes)
{
    clnn_status st = need_data(t, bytes, data, "clnn_tensor_read");
    if (st)
        return st;
    cl_int err = clEnqueueReadBuffer(t->ctx->queue, t->storage->mem, CL_TRUE, clnn__byte_offset(t),
                                     bytes, data, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, err, "clEnqueueReadBuffer of '%s'", t->name);
    return CLNN_OK;
}

clnn_status clnn__fill(clnn_ctx *ctx, cl_mem mem, size_t offset, size_t count, float value,
                       const char *what)
{
    if (count == 0)
        return CLNN_OK;
    cl_int err = clEnqueueFillBuffer(ctx->queue, mem, &value, sizeof value, offset * sizeof value,
                                     count * sizeof value, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clEnqueueFillBuffer of %s", what);
    return CLNN_OK;
}

clnn_status clnn_tensor_fill(clnn_tensor *t, float value)
{
    clnn_status st = need_data(t, (size_t)(t ? t->numel * 4 : 0), &value, "clnn_tensor_fill");
    if (st)
        return st;
    if (t->dtype != CLNN_F32) {
        int32_t v = (int32_t)value;
        memcpy(&value, &v, sizeof v);
    }
    return clnn__fill(t->ctx, t->storage->mem, t->offset, (size_t)t->numel, value, t->name);
}

/* A large copy on a CPU device: copy_span (elementwise.cl) over about 8 spans per compute unit,
 * each a work-group of one; the kernel object is made for the call (copies are rare: snapshots
 * and restored weights). */
static clnn_status copy_spans(clnn_tensor *dst, const clnn_tensor *src)
{
    clnn_ctx *ctx = dst->ctx;
    cl_kernel k;
    clnn_status st = clnn__kernel_create(ctx, "elementwise", NULL, "copy_span", &k);
    if (st)
        return st;
    size_t want = 8 * (size_t)(ctx->info.compute_units ? ctx->info.compute_units : 1);
    int n = (int)dst->numel, per = (int)(((size_t)n + want - 1) / want + 7) / 8 * 8;
    int ox = (int)src->offset, oy = (int)dst->offset;
    size_t items = ((size_t)n + (size_t)per - 1) / (size_t)per, one = 1;
    cl_int err = clSetKernelArg(k, 0, sizeof n, &n);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 1, sizeof per, &per);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 2, sizeof(cl_mem), &src->storage->mem);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 3, sizeof ox, &ox);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 4, sizeof(cl_mem), &dst->storage->mem);
    if (err == CL_SUCCESS)
        err = clSetKernelArg(k, 5, sizeof oy, &oy);
    if (err == CL_SUCCESS)
        err = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &items, &one, 0, NULL, NULL);
    clReleaseKernel(k); /* the runtime keeps it until the enqueued run is over */
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "copy_span '%s' -> '%s'", src->name, dst->name);
    return CLNN_OK;
}

clnn_status clnn_tensor_copy(clnn_tensor *dst, clnn_tensor *src)
{
    if (!dst || !src)
        return dst ? clnn__fail(dst->ctx, CLNN_ERR_INVALID, "clnn_tensor_copy: src is NULL")
                   : CLNN_ERR_INVALID;
    if (dst->ctx != src->ctx)
        return clnn__fail(dst->ctx, CLNN_ERR_INVALID,
                          "clnn_tensor_copy: the tensors belong to different contexts");
    if (dst->dtype != src->dtype || dst->numel != src->numel) {
        char a[128], b[128];
        return clnn__fail(dst->ctx, CLNN_ERR_SHAPE,
                          "clnn_tensor_copy: expected the same dtype and element count, got dst "
                          "%s and src %s",
                          clnn__shape_str(dst->ndim, dst->shape, a, sizeof a),
                          clnn__shape_str(src->ndim, src->shape, b, sizeof b));
    }
    size_t bytes = (size_t)dst->numel * clnn__dtype_size(dst->dtype);
    clnn_status st = need_data(dst, bytes, dst, "clnn_tensor_copy");
    if (!st)
        st = need_data(src, bytes, src, "clnn_tensor_copy");
    if (st)
        return st;
    if (dst->storage == src->storage && dst->offset == src->offset)
        return CLNN_OK;
    if (clnn__cpu_path(dst->ctx) && clnn__dtype_size(dst->dtype) == 4 &&
        dst->storage != src->storage && bytes >= ((size_t)1 << 20) && dst->numel < INT_MAX)
        return copy_spans(dst, src);
    cl_int err =
        clEnqueueCopyBuffer(dst->ctx->queue, src->storage->mem, dst->storage->mem,
                            clnn__byte_offset(src), clnn__byte_offset(dst), bytes, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(dst->ctx, err, "clEnqueueCopyBuffer '%s' -> '%s'", src->name,
                             dst->name);
    return CLNN_OK;
}

int clnn_tensor_ndim(const clnn_tensor *t)
{
    return t ? t->ndim : 0;
}
int64_t clnn_tensor_numel(const clnn_tensor *t)
{
    return t ? t->numel : 0;
}
clnn_dtype clnn_tensor_dtype(const clnn_tensor *t)
{
    return t ? t->dtype : CLNN_F32;
}
const char *clnn_tensor_name(const clnn_tensor *t)
{
    return t ? t->name : "";
}

size_t clnn_tensor_bytes(const clnn_tensor *t)
{
    return t ? (size_t)t->numel * clnn__dtype_size(t->dtype) : 0;
}

int64_t clnn_tensor_dim(const clnn_tensor *t, int axis)
{
    if (!t)
        return 0;
    if (axis < 0)
        axis += t->ndim;
    return (axis >= 0 && axis < t->ndim) ? t->shape[axis] : 0;
}

const char *clnn_tensor_shape_str(const clnn_tensor *t, char *buf, size_t size)
{
    if (!t) {
        if (buf && size)
            buf[0] = 0;
        return buf ? buf : "";
    }
    return clnn__shape_str(t->ndim, t->shape, buf, size);
}

clnn_tensor *clnn_tensor_set_name(clnn_tensor *t, const char *name)
{
    if (t && name)
        snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}
