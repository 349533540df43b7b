/* fit_dist.c — data-parallel fit over MPI (the collectives are in src/dist/dist.h; the contract
 * is in clnn.h): each rank's shard of a global batch, the step that sums the gradients over the
 * ranks in buckets while backward still runs, the parameter broadcast and the mean of running
 * statistics, and the sums of a pass over the ranks. The epoch loop, validation and the
 * agreements around them are in clnn_model_fit (fit.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"
#include "../dist/dist.h"

/* ---- data-parallel training over MPI (dist.h; the contract is in clnn.h) --------------------- */
#define DIST_BUCKET_FLOATS ((size_t)1 << 20) /* 4 MB of gradients per MPI_Iallreduce */

/* This rank's consecutive part of [first, first + n): n / size each, the first n % size ranks
 * one more. */
void clnn__fit_dist_shard(int64_t first, int64_t n, int64_t *lo, int64_t *count)
{
    const int64_t w = clnn__dist_size(), r = clnn__dist_rank(), base = n / w, rem = n % w;
    *count = base + (r < rem);
    *lo = first + r * base + (r < rem ? r : rem);
}

void clnn__fit_dist_sum_sums(clnn__sums *s)
{
    double v[2 + 2 * CLNN__NMETRICS];
    v[0] = s->loss;
    v[1] = (double)s->samples;
    memcpy(v + 2, s->correct, sizeof s->correct);
    memcpy(v + 2 + CLNN__NMETRICS, s->total, sizeof s->total);
    clnn__dist_sum_f64(v, sizeof v / sizeof v[0]);
    s->loss = v[0];
    s->samples = (int64_t)v[1];
    memcpy(s->correct, v + 2, sizeof s->correct);
    memcpy(s->total, v + 2 + CLNN__NMETRICS, sizeof s->total);
}

/* The host buffer of the exchange: 1 + every parameter's elements (the largest use). */
static clnn_status dist_buffer(clnn_model *m)
{
    size_t need = 1;
    for (int l = 0; l < m->nlayers; l++)
        for (int k = 0; k < m->layers[l]->nparams; k++)
            need += (size_t)clnn_tensor_numel(m->layers[l]->params[k]);
    if (clnn__grow_buf((void **)&m->dist_buf, &m->dist_cap, need, sizeof(float)))
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory for the gradients");
    return CLNN_OK;
}

/* Collective: rank 0's parameters (which = 0: all of them) or the mean over the ranks of the
 * non-trainable state of trainable layers (which = 1: BatchNorm's running statistics) on every
 * rank. A rank whose device copy fails still takes part (the next agreement reports it). */
clnn_status clnn__fit_dist_sync_params(clnn_model *m, int which)
{
    clnn_status st = dist_buffer(m);
    const int rank = clnn__dist_rank(), size = clnn__dist_size();
    for (int l = 0; l < m->nlayers; l++) {
        const clnn__layer *L = m->layers[l];
        for (int k = 0; k < L->nparams; k++) {
            if (which == 1 && (L->param_trainable[k] || !L->trainable))
                continue;
            clnn_tensor *p = L->params[k];
            const size_t n = (size_t)clnn_tensor_numel(p);
            float *v = m->dist_buf;
            if (st || (which == 0 && rank != 0))
                memset(v, 0, n * sizeof *v);
            else
                st = clnn_tensor_read(p, v, n * sizeof *v);
            if (which == 0) {
                clnn__dist_bcast_f32(v, n);
            } else {
                /* in double, so that equal values stay exactly equal */
                for (size_t i = 0; i < n; i += 4096) {
                    double d[4096];
                    size_t c = n - i < 4096 ? n - i : 4096;
                    for (size_t j = 0; j < c; j++)
                        d[j] = v[i + j];
                    clnn__dist_sum_f64(d, c);
                    for (size_t j = 0; j < c; j++)
                        v[i + j] = (float)(d[j] / size);
                }
            }
            if (st == CLNN_OK && (which == 1 || rank != 0))
                st = clnn_tensor_write(p, v, n * sizeof *v);
        }
    }
    return st;
}

/* The copies off the device of one step's exchange, started by the graph run's hook as soon as
 * the loss and each gradient are final (communication then overlaps the rest of backward). */
typedef struct dist_copies {
    clnn_model *m;
    const clnn_tensor *loss;
    float loss_value;
    cl_event loss_done;
    int *leaf_of_node; /* graph node index -> optimizer leaf, -1 */
    size_t *offset;    /* leaf -> its place in m->dist_buf */
    cl_event *done;    /* leaf -> its copy (NULL: none started) */
    clnn_status st;
} dist_copies;

static void dist_copy_hook(void *user, const clnn_tensor *t)
{
    dist_copies *c = user;
    if (c->st)
        return;
    if (t == c->loss) {
        c->st = clnn__tensor_read_async((clnn_tensor *)t, &c->loss_value, &c->loss_done);
        return;
    }
    int j = c->leaf_of_node[t->index];
    if (j >= 0)
        c->st =
            clnn__tensor_read_async((clnn_tensor *)t, c->m->dist_buf + c->offset[j], &c->done[j]);
}

static clnn_status dist_wait(clnn_ctx *ctx, cl_event *ev)
{
    if (!*ev)
        return CLNN_OK;
    cl_int err = clWaitForEvents(1, ev);
    clReleaseEvent(*ev);
    *ev = NULL;
    return err == CL_SUCCESS ? CLNN_OK : clnn__cl_fail(ctx, err, "a gradient copy off the device");
}

/* One step of data-parallel training on the global batch idx[first .. first + n): this rank's
 * shard's forward and backward are enqueued, each gradient's copy to the host starting as soon
 * as backward has made it; the ranks agree that all went well; then, from the last leaf back
 * (the order backward finishes them), the gradients weighted by each shard's share are summed
 * over the ranks in buckets, each bucket's MPI_Iallreduce started as soon as its copies are done,
 * and every rank applies the same update. *pending carries a failure after the agreement to the
 * next one (the rank must stay in step with the others); the return value is what every rank
 * returns alike. */
clnn_status clnn__fit_dist_step(clnn_model *m, const clnn_data *d, const int64_t *idx,
                                int64_t first, int64_t n, clnn__sums *s,
                                clnn_nonfinite_action guard, int epoch, int64_t step, int *skipped,
                                clnn_status *pending)
{
    int64_t lo, mine;
    clnn__fit_dist_shard(first, n, &lo, &mine);
    *skipped = 0;
    clnn__mgraph *mg = NULL;
    clnn_status st = *pending;
    *pending = CLNN_OK;
    if (st == CLNN_OK) /* a rank without samples still applies the update: any small graph */
        st = clnn__model_get_graph(m, CLNN__G_TRAIN, mine > 0 ? mine : 1, &mg);
    if (st == CLNN_OK)
        st = clnn__optimizer_attach(m->opt, mg->g);
    if (st == CLNN_OK)
        st = dist_buffer(m);
    const size_t np = st == CLNN_OK ? clnn__optimizer_nparams(m->opt) : 0;
    dist_copies c = {m, mine > 0 && mg ? mg->loss : NULL, 0, NULL, NULL, NULL, NULL, CLNN_OK};
    if (st == CLNN_OK) {
        c.leaf_of_node = malloc((mg->g->nnodes ? mg->g->nnodes : 1) * sizeof *c.leaf_of_node);
        c.offset = malloc((np ? np : 1) * sizeof *c.offset);
        c.done = calloc(np ? np : 1, sizeof *c.done);
        if (!c.leaf_of_node || !c.offset || !c.done)
            st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory");
    }
    if (st == CLNN_OK) {
        for (size_t i = 0; i < mg->g->nnodes; i++)
            c.leaf_of_node[i] = -1;
        size_t off = 1; /* [0]: the loss */
        for (size_t j = np; j-- > 0;) {
            clnn_tensor *g = clnn__optimizer_grad(m->opt, j);
            c.offset[j] = off;
            off += (size_t)clnn_tensor_numel(g);
            if (mine > 0)
                c.leaf_of_node[g->index] = (int)j;
        }
    }
    if (st == CLNN_OK && mine > 0)
        st = clnn__stage_batch(m, mg, d, idx, lo, mine);
    if (st == CLNN_OK && mine > 0) /* dropout masks differ per rank */
        st = clnn_graph_set_run_count(mg->g, m->train_steps * (uint64_t)clnn__dist_size() +
                                                 (uint64_t)clnn__dist_rank());
    if (st == CLNN_OK && mine > 0)
        st = clnn__graph_run_hooked(mg->g, dist_copy_hook, &c);
    if (st == CLNN_OK)
        st = c.st;
    for (size_t j = 0; st == CLNN_OK && mine > 0 && j < np; j++)
        if (!c.done[j])
            st = clnn__fail(m->ctx, CLNN_ERR_STATE, "fit: the gradient of '%s' was never made",
                            clnn_tensor_name(clnn__optimizer_grad(m->opt, j)));
    if (st == CLNN_OK)
        clFlush(m->ctx->queue); /* the device works while the ranks agree */
    char where[64];
    snprintf(where, sizeof where, "fit: epoch %d, step %lld", epoch + 1, (long long)step + 1);
    clnn_status agreed = clnn__dist_agree(m->ctx, st, NULL, where);
    if (agreed) {
        clFinish(m->ctx->queue); /* the copies into the buffer are over before it is reused */
        for (size_t j = 0; c.done && j < np; j++)
            if (c.done[j])
                clReleaseEvent(c.done[j]);
        if (c.loss_done)
            clReleaseEvent(c.loss_done);
        free(c.leaf_of_node);
        free(c.offset);
        free(c.done);
        return agreed;
    }
    /* the exchange: the loss, then the gradients from the last leaf back, in buckets */
    const float share = (float)((double)mine / (double)n);
    float *buf = m->dist_buf;
    float loss = 0;
    st = dist_wait(m->ctx, &c.loss_done);
    if (st == CLNN_OK && mine > 0)
        loss = c.loss_value;
    buf[0] = loss * share;
    size_t bucket = 0;
    for (size_t j = np; j-- > 0;) {
        const size_t off = c.offset[j],
                     count = (size_t)clnn_tensor_numel(clnn__optimizer_grad(m->opt, j));
        clnn_status w = dist_wait(m->ctx, &c.done[j]);
        if (st == CLNN_OK)
            st = w;
        if (st || mine == 0)
            memset(buf + off, 0, count * sizeof *buf);
        else if (share != 1.0f)
            for (size_t i = 0; i < count; i++)
                buf[off + i] *= share;
        if (off + count - bucket >= DIST_BUCKET_FLOATS || j == 0) {
            clnn__dist_isum_f32(buf + bucket, off + count - bucket);
            bucket = off + count;
        }
    }
    if (np == 0)
        clnn__dist_isum_f32(buf, 1);
    clnn__dist_wait();
    for (size_t j = np; j-- > 0 && st == CLNN_OK;) {
        clnn_tensor *g = clnn__optimizer_grad(m->opt, j);
        st = clnn_tensor_write(g, buf + c.offset[j], (size_t)clnn_tensor_numel(g) * sizeof *buf);
    }
    free(c.leaf_of_node);
    free(c.offset);
    free(c.done);
    const float global_loss = buf[0];
    if (st == CLNN_OK && guard != CLNN_NONFINITE_IGNORE) {
        /* the summed loss and gradients: every rank takes the same decision */
        float norm = 0;
        st = clnn__optimizer_norm(m->opt, &norm);
        if (st == CLNN_OK && !(isfinite(global_loss) && isfinite(norm))) {
            m->train_steps++;
            if (guard == CLNN_NONFINITE_SKIP_BATCH) {
                *skipped = 1;
                return CLNN_OK;
            }
            char at[400];
            clnn__diagnose_nonfinite(m, mg, at, sizeof at);
            return clnn__fail(m->ctx, CLNN_ERR_NONFINITE,
                              "fit: %s at epoch %d, step %lld (loss %g, gradient norm %g): %s",
                              isfinite(global_loss) ? "a non-finite gradient" : "a non-finite loss",
                              epoch + 1, (long long)step + 1, (double)global_loss, (double)norm,
                              at);
        }
    }
    if (st == CLNN_OK)
        st = clnn_optimizer_step(m->opt);
    if (st == CLNN_OK)
        m->train_steps++;
    const clnn__host_batch own = clnn__model_stage(m);
    if (st == CLNN_OK && mine > 0)
        st = clnn__collect_batch(m, mg, d, mine, s, &own, &loss, 0);
    *pending = st;
    return CLNN_OK;
}
