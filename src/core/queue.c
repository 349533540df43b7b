/* queue.c — running a planned graph: every op node is emitted into the context's in-order
 * OpenCL command queue with no host synchronisation; kernels of a node are created once after
 * planning and keep their arguments. Also the per-op profile built from OpenCL events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

clnn_status clnn__set_args(clnn_ctx *ctx, cl_kernel k, const char *what, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        size_t size = va_arg(ap, size_t);
        const void *value = va_arg(ap, const void *);
        cl_int err = clSetKernelArg(k, (cl_uint)i, size, value);
        if (err != CL_SUCCESS) {
            va_end(ap);
            return clnn__cl_fail(ctx, err, "clSetKernelArg %d of %s", i, what);
        }
    }
    va_end(ap);
    return CLNN_OK;
}

clnn_status clnn__node_kernel(clnn_tensor *node, int i, const char *kernel, cl_kernel *out,
                              int *fresh)
{
    *fresh = 0;
    if (!node->kernels[i]) {
        const char *file = clnn__ops[node->op]->program;
        clnn_status st = clnn__kernel_create(node->ctx, file, NULL, kernel, &node->kernels[i]);
        if (st)
            return st;
        *fresh = 1;
    }
    *out = node->kernels[i];
    return CLNN_OK;
}

clnn_status clnn__enqueue(clnn_tensor *node, cl_kernel kernel, cl_uint dims, const size_t *global,
                          const size_t *local)
{
    clnn_ctx *ctx = node->ctx;
    size_t g[3];
    for (cl_uint d = 0; d < dims; d++) {
        g[d] = global[d] ? global[d] : 1;
        if (local && local[d])
            g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
    }
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, g, local, 0, NULL,
                                        ctx->profile ? &ev : NULL);
    if (err == CL_INVALID_WORK_GROUP_SIZE && local) {
        /* say what was asked and what this kernel allows here (it can be below the device's
         * maximum: registers, local memory) */
        size_t items = 1, kmax = 0;
        for (cl_uint d = 0; d < dims; d++)
            items *= local[d] ? local[d] : 1;
        clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                 NULL);
        return clnn__cl_fail(ctx, err,
                             "clEnqueueNDRangeKernel for %s '%s' with work-groups of %zux%zux%zu "
                             "(%zu items; the kernel takes at most %zu on this device, the device "
                             "%zu)",
                             clnn__ops[node->op]->name, node->name, local[0],
                             dims > 1 ? local[1] : 1, dims > 2 ? local[2] : 1, items, kmax,
                             (size_t)ctx->info.max_work_group_size);
    }
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clEnqueueNDRangeKernel for %s '%s'",
                             clnn__ops[node->op]->name, node->name);
    if (ev)
        clnn__prof_record(ctx, node, ev);
    return CLNN_OK;
}

clnn_status clnn__graph_run_hooked(clnn_graph *g, void (*after)(void *user, const clnn_tensor *t),
                                   void *user)
{
    if (!g)
        return CLNN_ERR_INVALID;
    if (g->status)
        return g->status;
    clnn_status st = clnn_graph_plan(g);
    if (st)
        return st;
    for (size_t i = 0; i < g->nnodes; i++) {
        clnn_tensor *t = g->nodes[i];
        g->ctx->prof_counted = NULL;
        if (t->kind == CLNN__OP && !t->is_view && (st = clnn__ops[t->op]->emit(t)) != CLNN_OK) {
            /* a kernel whose arguments were only partly set must be made again next time */
            clnn__node_release_emit(t);
            int raw = g->ctx->last_raw; /* the OpenCL code behind it outlives the new message */
            clnn__fail(g->ctx, st, "running %s '%s' (node %zu): %s", clnn__ops[t->op]->name,
                       t->name, i, g->ctx->last_error);
            g->ctx->last_raw = raw;
            return st;
        }
        if (after)
            after(user, t);
    }
    g->runs++;
    return CLNN_OK;
}

clnn_status clnn_graph_run(clnn_graph *g)
{
    return clnn__graph_run_hooked(g, NULL, NULL);
}

clnn_status clnn__tensor_read_async(clnn_tensor *t, void *data, cl_event *done)
{
    cl_int err =
        clEnqueueReadBuffer(t->ctx->queue, t->storage->mem, CL_FALSE, clnn__byte_offset(t),
                            (size_t)t->numel * clnn__dtype_size(t->dtype), data, 0, NULL, done);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, err, "clEnqueueReadBuffer of '%s'", t->name);
    return CLNN_OK;
}

clnn_status clnn_graph_set_training(clnn_graph *g, int training)
{
    if (!g)
        return CLNN_ERR_INVALID;
    g->training = training != 0;
    return CLNN_OK;
}

uint64_t clnn_graph_run_count(const clnn_graph *g)
{
    return g ? g->runs : 0;
}

clnn_status clnn_graph_set_run_count(clnn_graph *g, uint64_t runs)
{
    if (!g)
        return CLNN_ERR_INVALID;
    g->runs = runs;
    return CLNN_OK;
}

/* ---- profiling ----------------------------------------------------------------------------- */
void clnn__prof_record_span(clnn_ctx *ctx, const clnn_tensor *node, cl_event after, cl_event ev)
{
    const char *op = node ? clnn__ops[node->op]->name : "other";
    size_t r = 0;
    while (r < ctx->nprof && ctx->prof[r].op != op)
        r++;
    if (r == ctx->nprof) {
        if (clnn__grow((void **)&ctx->prof, &ctx->prof_cap, r + 1, sizeof *ctx->prof)) {
            clReleaseEvent(ev);
            if (after)
                clReleaseEvent(after);
            return;
        }
        ctx->prof[r] = (clnn__prof_row){.op = op};
        ctx->nprof++;
    }
    if (clnn__grow((void **)&ctx->pending, &ctx->pending_cap, ctx->npending + 1,
                   sizeof *ctx->pending)) {
        clReleaseEvent(ev);
        if (after)
            clReleaseEvent(after);
        return;
    }
    ctx->pending[ctx->npending++] = (clnn__prof_pending){ev, after, (int)r};
    clnn__prof_row *row = &ctx->prof[r];
    /* a node's run counts once, with its cost once, however many kernels and GEMMs it enqueues
     * (the graph's run loop clears prof_counted before each node) */
    if (node && node == ctx->prof_counted)
        return;
    ctx->prof_counted = node;
    row->calls++;
    double flops = 0, bytes = 0;
    if (node) {
        const clnn__op_def *def = clnn__ops[node->op];
        if (def->cost) {
            def->cost(node, &flops, &bytes);
        } else {
            bytes = (double)node->numel * 4;
            for (int k = 0; k < node->nsrc; k++)
                bytes += (double)node->src[k]->numel * 4;
        }
    }
    row->flops += flops;
    row->bytes += bytes;
}

void clnn__prof_record(clnn_ctx *ctx, const clnn_tensor *node, cl_event ev)
{
    clnn__prof_record_span(ctx, node, NULL, ev);
}

clnn_status clnn__prof_collect(clnn_ctx *ctx)
{
    clnn_status st = CLNN_OK;
    for (size_t i = 0; i < ctx->npending; i++) {
        clnn__prof_pending *p = &ctx->pending[i];
        cl_ulong a = 0, b = 0;
        cl_int err = clWaitForEvents(1, &p->event);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(p->after ? p->after : p->event,
                                          p->after ? CL_PROFILING_COMMAND_END
                                                   : CL_PROFILING_COMMAND_START,
                                          sizeof a, &a, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(p->event, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
        if (err == CL_SUCCESS && b >= a)
            ctx->prof[p->row].ns += (double)(b - a);
        else if (err != CL_SUCCESS && st == CLNN_OK)
            st = clnn__cl_fail(ctx, err, "reading profiling events");
        clReleaseEvent(p->event);
        if (p->after)
            clReleaseEvent(p->after);
    }
    ctx->npending = 0;
    return st;
}

void clnn__prof_free(clnn_ctx *ctx)
{
    for (size_t i = 0; i < ctx->npending; i++) {
        clReleaseEvent(ctx->pending[i].event);
        if (ctx->pending[i].after)
            clReleaseEvent(ctx->pending[i].after);
    }
    free(ctx->pending);
    free(ctx->prof);
    ctx->pending = NULL;
    ctx->prof = NULL;
    ctx->npending = ctx->pending_cap = ctx->nprof = ctx->prof_cap = 0;
}

static int by_time(const void *a, const void *b)
{
    const clnn_profile_entry *x = a, *y = b;
    return (x->total_ms < y->total_ms) - (x->total_ms > y->total_ms);
}

clnn_status clnn_profile_get(clnn_ctx *ctx, clnn_profile_entry *entries, size_t capacity,
                             size_t *count)
{
    if (!ctx || !count || (capacity && !entries))
        return ctx ? clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_profile_get: NULL argument")
                   : CLNN_ERR_INVALID;
    *count = 0;
    if (!ctx->profile)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_profile_get: profiling is off (set options.profile or "
                          "CLNN_PROFILE=1 before clnn_ctx_create)");
    clnn_status st = clnn__prof_collect(ctx);
    if (st)
        return st;
    clnn_profile_entry *all = malloc((ctx->nprof ? ctx->nprof : 1) * sizeof *all);
    if (!all)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < ctx->nprof; i++)
        all[i] = (clnn_profile_entry){ctx->prof[i].op, ctx->prof[i].calls, ctx->prof[i].ns / 1e6,
                                      ctx->prof[i].flops, ctx->prof[i].bytes};
    qsort(all, ctx->nprof, sizeof *all, by_time);
    for (size_t i = 0; i < ctx->nprof && i < capacity; i++)
        entries[i] = all[i];
    *count = ctx->nprof;
    free(all);
    return CLNN_OK;
}

clnn_status clnn_profile_report(clnn_ctx *ctx, char *buf, size_t size)
{
    if (!buf || !size)
        return ctx ? clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_profile_report: no buffer")
                   : CLNN_ERR_INVALID;
    buf[0] = 0;
    clnn_profile_entry e[64];
    size_t n = 0;
    clnn_status st = clnn_profile_get(ctx, e, 64, &n);
    if (st)
        return st;
    size_t used =
        (size_t)snprintf(buf, size, "%-20s %8s %12s %12s\n", "op", "calls", "total ms", "rate");
    for (size_t i = 0; i < n && i < 64 && used < size; i++) {
        double s = e[i].total_ms / 1e3;
        char rate[32] = "-";
        if (s > 0 && e[i].flops > 0)
            snprintf(rate, sizeof rate, "%.2f GFLOP/s", e[i].flops / s / 1e9);
        else if (s > 0 && e[i].bytes > 0)
            snprintf(rate, sizeof rate, "%.2f GB/s", e[i].bytes / s / 1e9);
        used += (size_t)snprintf(buf + used, size - used, "%-20s %8llu %12.3f %12s\n", e[i].op,
                                 (unsigned long long)e[i].calls, e[i].total_ms, rate);
    }
    return CLNN_OK;
}

void clnn_profile_reset(clnn_ctx *ctx)
{
    if (!ctx)
        return;
    clnn__prof_collect(ctx);
    ctx->nprof = 0;
}
