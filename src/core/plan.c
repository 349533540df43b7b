/* plan.c — device memory for a graph: every op result that is not kept gets a buffer from a pool
 * shared by results whose lifetimes do not overlap (a buffer returns to the pool after the last
 * node that reads it); kept results (leaves, the loss, gradients of leaves, tensors without
 * consumers, clnn_graph_keep) get buffers of their own; views (reshape) share their source's
 * buffer. The command queue is in order, so reuse needs no events. */
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
    clnn__storage **free_list = malloc((n ? n : 1) * sizeof *free_list);
    g->pool = malloc((n ? n : 1) * sizeof *g->pool);
    if (!last || !consumers || !free_list || !g->pool) {
        free(last);
        free(consumers);
        free(free_list);
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
    g->info = (clnn_graph_info){0};
    size_t nfree = 0;
    clnn_status st = CLNN_OK;
    for (size_t i = 0; i < n && st == CLNN_OK; i++) {
        clnn_tensor *t = g->nodes[i];
        size_t bytes = (size_t)t->numel * clnn__dtype_size(t->dtype);
        if (t->kind != CLNN__OP) {
            g->info.leaf_bytes += bytes;
            continue;
        }
        if (consumers[i] == 0)
            t->keep = true;
        if (t->is_view) {
            clnn_tensor *r = root_of(t);
            t->storage = r->storage;
            t->offset = r->offset;
            clnn__storage_retain(t->storage);
            continue;
        }
        if (t->keep) {
            st = clnn__storage_create(g->ctx, bytes, &t->storage);
            g->info.leaf_bytes += bytes;
        } else {
            g->info.unshared_bytes += bytes;
            /* best fit among the free buffers */
            size_t best = nfree;
            for (size_t k = 0; k < nfree; k++)
                if (free_list[k]->bytes >= bytes &&
                    (best == nfree || free_list[k]->bytes < free_list[best]->bytes))
                    best = k;
            if (best < nfree) {
                t->storage = free_list[best];
                free_list[best] = free_list[--nfree];
            } else {
                st = clnn__storage_create(g->ctx, bytes, &t->storage);
                if (st == CLNN_OK) {
                    g->pool[g->npool++] = t->storage;
                    g->info.planned_bytes += t->storage->bytes;
                }
            }
            if (st == CLNN_OK)
                clnn__storage_retain(t->storage);
        }
        /* buffers whose last reader is this node go back to the pool */
        for (int k = 0; k < t->nsrc; k++) {
            clnn_tensor *r = root_of(t->src[k]);
            if (r->kind == CLNN__OP && !r->keep && last[r->index] == i && r->storage) {
                int dup = 0;
                for (size_t f = 0; f < nfree; f++)
                    dup |= free_list[f] == r->storage;
                if (!dup)
                    free_list[nfree++] = r->storage;
            }
        }
    }
    free(last);
    free(consumers);
    free(free_list);
    if (st != CLNN_OK) {
        clnn_status s2 = clnn__graph_fail(g, st, "planning the graph: %s", g->ctx->last_error);
        clnn__plan_release(g);
        g->status = CLNN_OK; /* a failed plan is not a builder error: the graph may be retried */
        free(g->error);
        g->error = NULL;
        return s2;
    }
    g->planned = true;
    return CLNN_OK;
}
