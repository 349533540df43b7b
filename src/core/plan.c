/* plan.c — device memory for a graph: every op result that is not kept gets a buffer from a pool
 * shared by results whose lifetimes do not overlap (a buffer returns to the pool after the last
 * node that reads it); kept results (leaves, the loss, gradients of leaves, tensors without
 * consumers, clnn_graph_keep) get buffers of their own; views (reshape) share their source's
 * buffer. The command queue is in order, so reuse needs no events. The plan is made on paper
 * first and its total checked against the device's memory (less what the context holds already),
 * so a graph too large for the device fails with CLNN_ERR_DEVICE_MEMORY before any allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static clnn_tensor *root_of(clnn_tensor *t)
{
    while (t->is_view)
        t = t->src[0];
    return t;
}

void clnn__plan_release(clnn_graph *g)
{
    for (size_t i = 0; i < g->nnodes; i++) {
        clnn_tensor *t = g->nodes[i];
        if (t->kind != CLNN__OP)
            continue;
        clnn__node_release_emit(t);
        clnn__storage_release(t->storage);
        t->storage = NULL;
        t->offset = 0;
    }
    for (size_t i = 0; i < g->npool; i++)
        clnn__storage_release(g->pool[i]);
    free(g->pool);
    g->pool = NULL;
    g->npool = 0;
    g->planned = false;
}

clnn_status clnn_graph_plan(clnn_graph *g)
{
    if (!g)
        return CLNN_ERR_INVALID;
    if (g->status)
        return g->status;
    if (g->planned)
        return CLNN_OK;
    if (g->ctx->queue)
        clFinish(g->ctx->queue); /* old buffers may still be in use */
    clnn__plan_release(g);
    size_t n = g->nnodes;
    size_t *last = malloc((n ? n : 1) * sizeof *last);
    int *consumers = calloc(n ? n : 1, sizeof *consumers);
    size_t *free_list = malloc((n ? n : 1) * sizeof *free_list);
    size_t *slot_of = malloc((n ? n : 1) * sizeof *slot_of);
    size_t *slot_bytes = malloc((n ? n : 1) * sizeof *slot_bytes);
    g->pool = malloc((n ? n : 1) * sizeof *g->pool);
    if (!last || !consumers || !free_list || !slot_of || !slot_bytes || !g->pool) {
        free(last);
        free(consumers);
        free(free_list);
        free(slot_of);
        free(slot_bytes);
        return clnn__graph_fail(g, CLNN_ERR_NOMEM, "out of host memory planning the graph");
    }
    /* last use of every storage root */
    for (size_t i = 0; i < n; i++)
        last[i] = i;
    for (size_t i = 0; i < n; i++) {
        clnn_tensor *t = g->nodes[i];
        for (int k = 0; k < t->nsrc; k++) {
            consumers[t->src[k]->index]++;
            clnn_tensor *r = root_of(t->src[k]);
            if (last[r->index] < i)
                last[r->index] = i;
        }
    }
    /* views extend their root's life to their own last use */
    for (size_t i = n; i-- > 0;) {
        clnn_tensor *t = g->nodes[i];
        if (t->is_view) {
            clnn_tensor *r = root_of(t);
            if (last[r->index] < last[i])
                last[r->index] = last[i];
            if (t->keep || consumers[i] == 0)
                r->keep = true;
        }
    }
    /* pass 1, on paper: each result that is not a view gets a buffer of its own (kept) or a slot
     * of the pool (best fit among the slots free at that point) */
    g->info = (clnn_graph_info){0};
    size_t nfree = 0, nslots = 0;
    uint64_t own_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        clnn_tensor *t = g->nodes[i];
        size_t bytes = (size_t)t->numel * clnn__dtype_size(t->dtype);
        slot_of[i] = SIZE_MAX;
        if (t->kind != CLNN__OP) {
            g->info.leaf_bytes += bytes;
            continue;
        }
        if (consumers[i] == 0)
            t->keep = true;
        if (t->is_view)
            continue;
        if (t->keep) {
            g->info.leaf_bytes += bytes;
            own_bytes += bytes;
        } else {
            g->info.unshared_bytes += bytes;
            size_t best = nfree;
            for (size_t k = 0; k < nfree; k++)
                if (slot_bytes[free_list[k]] >= bytes &&
                    (best == nfree || slot_bytes[free_list[k]] < slot_bytes[free_list[best]]))
                    best = k;
            if (best < nfree) {
                slot_of[i] = free_list[best];
                free_list[best] = free_list[--nfree];
            } else {
                slot_of[i] = nslots;
                slot_bytes[nslots++] = bytes;
                g->info.planned_bytes += bytes;
            }
        }
        /* slots whose last reader is this node go back to the pool */
        for (int k = 0; k < t->nsrc; k++) {
            clnn_tensor *r = root_of(t->src[k]);
            if (r->kind == CLNN__OP && !r->keep && last[r->index] == i &&
                slot_of[r->index] != SIZE_MAX) {
                int dup = 0;
                for (size_t f = 0; f < nfree; f++)
                    dup |= free_list[f] == slot_of[r->index];
                if (!dup)
                    free_list[nfree++] = slot_of[r->index];
            }
        }
    }
    /* the whole plan against the device's memory, before any allocation */
    clnn_status st = CLNN_OK;
    clnn_ctx *ctx = g->ctx;
    uint64_t need = own_bytes + g->info.planned_bytes, have = ctx->info.global_mem_bytes,
             in_use = ctx->stats.device_bytes_allocated;
    if (need > have || in_use > have - need)
        st = clnn__fail(ctx, CLNN_ERR_DEVICE_MEMORY,
                        "%llu bytes of device memory needed (%llu for kept results, %llu for the "
                        "pool of intermediates); the device '%s' has %llu bytes "
                        "(CL_DEVICE_GLOBAL_MEM_SIZE), %llu of them in use by this context",
                        (unsigned long long)need, (unsigned long long)own_bytes,
                        (unsigned long long)g->info.planned_bytes, ctx->info.name,
                        (unsigned long long)have, (unsigned long long)in_use);
    /* pass 2: the buffers */
    for (size_t k = 0; k < nslots && st == CLNN_OK; k++)
        if ((st = clnn__storage_create(ctx, slot_bytes[k], &g->pool[k])) == CLNN_OK)
            g->npool++;
    for (size_t i = 0; i < n && st == CLNN_OK; i++) {
        clnn_tensor *t = g->nodes[i];
        if (t->kind != CLNN__OP)
            continue;
        if (t->is_view) {
            clnn_tensor *r = root_of(t);
            t->storage = r->storage;
            t->offset = r->offset;
            clnn__storage_retain(t->storage);
        } else if (t->keep) {
            st = clnn__storage_create(ctx, (size_t)t->numel * clnn__dtype_size(t->dtype),
                                      &t->storage);
        } else {
            t->storage = g->pool[slot_of[i]];
            clnn__storage_retain(t->storage);
        }
    }
    free(last);
    free(consumers);
    free(free_list);
    free(slot_of);
    free(slot_bytes);
    if (st != CLNN_OK) {
        int raw = g->ctx->last_raw; /* the OpenCL code behind it, if any */
        clnn_status s2 = clnn__graph_fail(g, st, "planning the graph: %s", g->ctx->last_error);
        g->ctx->last_raw = raw;
        clnn__plan_release(g);
        g->status = CLNN_OK; /* a failed plan is not a builder error: the graph may be retried */
        free(g->error);
        g->error = NULL;
        return s2;
    }
    g->planned = true;
    return CLNN_OK;
}
