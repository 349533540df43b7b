/* feed.c — getting a batch's samples onto the device: the host staging of one batch (gathering
 * samples in the epoch's order, token ids checked, labels as one-hot or float targets), the
 * single-queue path that writes it into a graph's input leaves (clnn__stage_batch), and the
 * double-buffered feeder of fit, evaluate and predict, which gathers and uploads the next batch on
 * a second command queue while the device computes this one. What a step does with its batch
 * (running the graph, reading the loss, metrics) is in train.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

/* ---- host staging, the single-queue path ----------------------------------------------------- */
/* Waits for the last upload from the staging buffers (clnn__stage_batch) before they change. */
void clnn__stage_wait(clnn_model *m)
{
    if (!m->stage_done)
        return;
    clFlush(m->ctx->queue);
    clWaitForEvents(1, &m->stage_done);
    clReleaseEvent(m->stage_done);
    m->stage_done = NULL;
}

int clnn__grow_buf(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    void *q = realloc(*p, need * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = need;
    return 0;
}

/* The model's own staging buffers (clnn__stage_batch, the single-queue path). */
clnn__host_batch clnn__model_stage(const clnn_model *m)
{
    return (clnn__host_batch){m->stage_x, m->stage_t, m->stage_xi, m->stage_l};
}

/* Gathers samples idx[first .. first+n-1] (or first .. first+n-1 when idx is NULL) into h, which
 * has room for n of them. */
static clnn_status gather(clnn_model *m, const clnn_data *d, const int64_t *idx, int64_t first,
                          int64_t n, const clnn__host_batch *h)
{
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = clnn__out_numel(m);
    /* token ids that feed an Embedding directly must be rows of it */
    double limit = 16777216.0;
    for (int j = 0; in->dtype == CLNN_I32 && j < m->nnodes; j++) {
        const clnn__mnode *nd = &m->nodes[j];
        for (int k = 0; nd->layer >= 0 && k < nd->nin; k++)
            if (nd->in[k] == m->inputs[0] &&
                m->layers[nd->layer]->spec.kind == CLNN_LAYER_EMBEDDING &&
                m->layers[nd->layer]->spec.input_dim < limit)
                limit = m->layers[nd->layer]->spec.input_dim;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t s = idx ? idx[first + i] : first + i;
        const float *src = d->x + s * xper;
        if (in->dtype == CLNN_I32) {
            for (int64_t k = 0; k < xper; k++) {
                float v = src[k];
                if (!(v >= 0 && (double)v < limit && v == floorf(v)))
                    return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                                      "model: sample %lld has index %g at position %lld, "
                                      "expected an integer in [0, %.0f)",
                                      (long long)s, (double)v, (long long)k, limit);
                h->xi[i * xper + k] = (int32_t)v;
            }
        } else {
            memcpy(h->x + i * xper, src, (size_t)xper * sizeof(float));
        }
        if (d->labels)
            h->l[i] = d->labels[s];
        if (d->targets)
            memcpy(h->t + i * per, d->targets + s * per, (size_t)per * sizeof(float));
        else if (d->labels && !clnn__target_is_labels(m)) {
            float *t = h->t + i * per;
            if (clnn__loss_is_categorical(m->c.loss)) {
                memset(t, 0, (size_t)per * sizeof *t);
                t[d->labels[s]] = 1.0f;
            } else {
                t[0] = (float)d->labels[s];
            }
        }
    }
    return CLNN_OK;
}

/* The single-queue path: gathers samples idx[first ..] (or first .. when idx is NULL), n of
 * them, into the model's staging buffers and writes them into mg's leaves on the main queue
 * (after whatever is enqueued there: the previous step). */
clnn_status clnn__stage_batch(clnn_model *m, clnn__mgraph *mg, const clnn_data *d,
                              const int64_t *idx, int64_t first, int64_t n)
{
    clnn__stage_wait(m);
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = clnn__out_numel(m);
    if (clnn__grow_buf((void **)&m->stage_x, &m->stage_cap_x, (size_t)(n * xper), sizeof(float)) ||
        (in->dtype == CLNN_I32 && clnn__grow_buf((void **)&m->stage_xi, &m->stage_cap_xi,
                                                 (size_t)(n * xper), sizeof(int32_t))) ||
        clnn__grow_buf((void **)&m->stage_t, &m->stage_cap_t, (size_t)(n * per), sizeof(float)) ||
        clnn__grow_buf((void **)&m->stage_l, &m->stage_cap_l, (size_t)n, sizeof(int32_t)))
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory for a batch");
    const clnn__host_batch h = clnn__model_stage(m);
    clnn_status st = gather(m, d, idx, first, n, &h);
    if (st)
        return st;
    /* uploads without waiting: the host goes on (metrics, the next batch) while the device
     * works; the staging buffers are not touched again before clnn__stage_wait */
    clnn_tensor *tg = mg->target;
    int last_x = !tg;
    st = in->dtype == CLNN_I32
             ? clnn__tensor_write_async(mg->x, m->stage_xi, (size_t)(n * xper) * 4,
                                        last_x ? &m->stage_done : NULL)
             : clnn__tensor_write_async(mg->x, m->stage_x, (size_t)(n * xper) * 4,
                                        last_x ? &m->stage_done : NULL);
    if (st == CLNN_OK && tg)
        st = clnn__target_is_labels(m)
                 ? clnn__tensor_write_async(tg, m->stage_l, (size_t)n * 4, &m->stage_done)
                 : clnn__tensor_write_async(tg, m->stage_t, (size_t)(n * per) * 4, &m->stage_done);
    if (st != CLNN_OK)
        clFinish(m->ctx->queue); /* an upload enqueued before the failure reads the buffers */
    return st;
}

/* ---- double-buffered batches (fit, evaluate, predict) -----------------------------------------
 * While the device computes batch i, the host gathers batch i+1 into one of two slots and
 * uploads it on the context's upload queue (clnn__upload_queue) into the slot's device staging
 * buffer. Batch i+1's step copies it from there into its graph's input leaves on the main queue,
 * the copy waiting for the upload's event: the graph and its plan stay as they are (a
 * device-to-device copy of one batch is cheap), and the graph's input buffers change only in
 * queue order. A slot is refilled only after that copy is over (the upload from its host memory
 * is over then too): the host waits for the copy's event, in a steady pipeline done long before
 * (the previous step's loss read came after it). The host staging memory is pinned where the
 * runtime gives it (CL_MEM_ALLOC_HOST_PTR, mapped once), so a GPU's DMA engine can read it while
 * the kernels run. A failure while filling a slot (a bad token index, an OpenCL error) is kept
 * with the slot and returned when its batch is taken: fit then fails at the same step as on the
 * single-queue path, after the same updates.
 *
 * CLNN_UPLOAD_QUEUE=0 (read at each fit, evaluate and predict) turns this off: each batch is then
 * gathered and written on the main queue just before its step (clnn__stage_batch), as when the
 * second queue cannot be made, and from the batch on whose slot's memory cannot be made. The
 * results are the same bit for bit either way. train_on_batch, the training-mode forward pass (one
 * batch each) and fit over MPI always take that path. */

int clnn__feed_on(const clnn__feeder *f)
{
    return f && f->q;
}

/* A feeder of batches of up to cap samples (with the target when target = 1), or an off one
 * (clnn__feed_on = 0) when CLNN_UPLOAD_QUEUE=0 or no upload queue can be made. Memory is made at
 * the first clnn__feed_put. Never fails. */
void clnn__feed_open(clnn__feeder *f, clnn_model *m, int64_t cap, int target)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    const char *e = getenv("CLNN_UPLOAD_QUEUE");
    if (e && !strcmp(e, "0"))
        return;
    f->q = clnn__upload_queue(m->ctx);
    f->cap = cap;
    f->target = target;
    const int64_t xper = clnn__numel(m->nodes[m->inputs[0]].ndim, m->nodes[m->inputs[0]].shape);
    f->x_bytes = (size_t)xper * 4; /* f32 or i32 */
    f->t_bytes = !target ? 0 : clnn__target_is_labels(m) ? 4 : (size_t)clnn__out_numel(m) * 4;
}

/* Makes slot s's host and device staging memory. */
static clnn_status feed_slot_make(clnn__feeder *f, clnn__feed_slot *s)
{
    clnn_model *m = f->m;
    clnn_ctx *ctx = m->ctx;
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const size_t cap = (size_t)f->cap, per = (size_t)clnn__out_numel(m), al = 64;
    /* x or xi | t | l, each 64-byte aligned */
    const size_t xb = (cap * f->x_bytes + al - 1) / al * al,
                 tb = (cap * per * sizeof(float) + al - 1) / al * al,
                 bytes = xb + tb + cap * sizeof(int32_t);
    cl_int err;
    s->pinned =
        clCreateBuffer(ctx->context, CL_MEM_ALLOC_HOST_PTR | CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (s->pinned) {
        s->host = clEnqueueMapBuffer(f->q, s->pinned, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes,
                                     0, NULL, NULL, &err);
        if (!s->host) {
            clReleaseMemObject(s->pinned);
            s->pinned = NULL;
        }
    }
    if (!s->host) {
        clnn__log(ctx, CLNN_LOG_DEBUG, "no pinned host memory for the batch uploads (%s)",
                  clnn__cl_error_name(err));
        if (!(s->host = malloc(bytes)))
            return clnn__fail(ctx, CLNN_ERR_NOMEM, "model: out of host memory for a batch");
    }
    unsigned char *p = s->host;
    s->h.x = in->dtype == CLNN_I32 ? NULL : (float *)(void *)p;
    s->h.xi = in->dtype == CLNN_I32 ? (int32_t *)(void *)p : NULL;
    s->h.t = (float *)(void *)(p + xb);
    s->h.l = (int32_t *)(void *)(p + xb + tb);
    clnn_status st = clnn__storage_create(ctx, cap * f->x_bytes, &s->dev_x);
    if (st == CLNN_OK && f->t_bytes)
        st = clnn__storage_create(ctx, cap * f->t_bytes, &s->dev_t);
    return st;
}

/* Fills the next slot with samples idx[first ..] (or first ..), n <= cap of them, and starts
 * their upload. A failure stays with the slot (feed_take returns it). */
void clnn__feed_put(clnn__feeder *f, const clnn_data *d, const int64_t *idx, int64_t first,
                    int64_t n)
{
    clnn_model *m = f->m;
    clnn_ctx *ctx = m->ctx;
    clnn__feed_slot *s = &f->slot[f->fill];
    f->fill ^= 1;
    s->first = first;
    s->n = n;
    s->st = CLNN_OK;
    s->no_memory = 0;
    clFlush(ctx->queue); /* the device starts on what is enqueued while the host gathers */
    if (s->consumed) {
        /* the slot's last batch has been copied out (and so uploaded from its host memory) */
        cl_int err = clWaitForEvents(1, &s->consumed);
        clReleaseEvent(s->consumed);
        s->consumed = NULL;
        if (err != CL_SUCCESS) {
            s->st = clnn__cl_fail(ctx, err, "clWaitForEvents of a batch's copy to the device");
            return;
        }
    }
    if (n > f->cap) {
        s->st = clnn__fail(ctx, CLNN_ERR_STATE,
                           "model: a batch of %lld samples for staging buffers of %lld",
                           (long long)n, (long long)f->cap);
        return;
    }
    if (!s->dev_x && (s->st = feed_slot_make(f, s)) != CLNN_OK) {
        s->no_memory = 1;
        return;
    }
    if ((s->st = gather(m, d, idx, first, n, &s->h)) != CLNN_OK)
        return;
    const size_t xb = (size_t)n * f->x_bytes, tb = (size_t)n * f->t_bytes;
    const void *tsrc = clnn__target_is_labels(m) ? (const void *)s->h.l : (const void *)s->h.t;
    cl_int err = clEnqueueWriteBuffer(f->q, s->dev_x->mem, CL_FALSE, 0, xb,
                                      s->h.x ? (const void *)s->h.x : (const void *)s->h.xi, 0,
                                      NULL, tb ? NULL : &s->uploaded);
    if (err == CL_SUCCESS && tb)
        err =
            clEnqueueWriteBuffer(f->q, s->dev_t->mem, CL_FALSE, 0, tb, tsrc, 0, NULL, &s->uploaded);
    if (err == CL_SUCCESS)
        err = clFlush(f->q);
    if (err != CL_SUCCESS) {
        clFinish(f->q); /* a write enqueued before the failure reads the host memory */
        s->st = clnn__cl_fail(ctx, err, "clEnqueueWriteBuffer of a batch (upload queue)");
    }
}

/* Waits for the uploads still running and releases everything; the feeder is off after it. */
void clnn__feed_close(clnn__feeder *f)
{
    if (!clnn__feed_on(f))
        return;
    clnn__log(f->m->ctx, CLNN_LOG_DEBUG, "model: %lld batches double-buffered on the upload queue",
              (long long)f->batches);
    clFinish(f->q);
    for (int i = 0; i < 2; i++) {
        clnn__feed_slot *s = &f->slot[i];
        if (s->uploaded)
            clReleaseEvent(s->uploaded);
        if (s->consumed)
            clReleaseEvent(s->consumed);
        if (s->pinned) {
            cl_event unmapped = NULL;
            if (clEnqueueUnmapMemObject(f->q, s->pinned, s->host, 0, NULL, &unmapped) ==
                CL_SUCCESS) {
                clWaitForEvents(1, &unmapped);
                clReleaseEvent(unmapped);
            }
            clReleaseMemObject(s->pinned);
        } else {
            free(s->host);
        }
        clnn__storage_release(s->dev_x);
        clnn__storage_release(s->dev_t);
    }
    memset(f->slot, 0, sizeof f->slot);
    f->q = NULL;
}

/* Copies the oldest filled slot's batch, which must be samples first .. first+n-1 of the pass,
 * into mg's leaves (the input, and the target when mg has one) on the main queue, after its
 * upload; *h: its host copy, unchanged until the next clnn__feed_put but one. When the slots'
 * memory could not be made, the feeder turns itself off instead (*h = NULL: load the batch
 * otherwise). */
static clnn_status feed_take(clnn__feeder *f, clnn__mgraph *mg, int64_t first, int64_t n,
                             const clnn__host_batch **h)
{
    clnn_ctx *ctx = f->m->ctx;
    clnn__feed_slot *s = &f->slot[f->take];
    f->take ^= 1;
    if (s->n != n || s->first != first)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "model: staged batch (%lld, %lld samples) is not the one asked for "
                          "(%lld, %lld)",
                          (long long)s->first, (long long)s->n, (long long)first, (long long)n);
    s->n = 0;
    if (s->st && s->no_memory) {
        /* short of memory for the staging buffers: the single-queue path from here on */
        clnn__log(ctx, CLNN_LOG_INFO,
                  "model: no memory for double-buffered batches (%s): batches are uploaded on "
                  "the main queue",
                  clnn_ctx_last_error(ctx));
        clnn__feed_close(f);
        *h = NULL;
        return CLNN_OK;
    }
    if (s->st)
        return s->st;
    clnn_tensor *tg = f->target ? mg->target : NULL, *into = mg->x;
    cl_int err = clEnqueueCopyBuffer(ctx->queue, s->dev_x->mem, mg->x->storage->mem, 0,
                                     clnn__byte_offset(mg->x), (size_t)n * f->x_bytes, 1,
                                     &s->uploaded, tg ? NULL : &s->consumed);
    if (err == CL_SUCCESS && tg) {
        into = tg;
        err = clEnqueueCopyBuffer(ctx->queue, s->dev_t->mem, tg->storage->mem, 0,
                                  clnn__byte_offset(tg), (size_t)n * f->t_bytes, 1, &s->uploaded,
                                  &s->consumed);
    }
    clReleaseEvent(s->uploaded);
    s->uploaded = NULL;
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clEnqueueCopyBuffer of a batch into '%s'", into->name);
    f->batches++;
    *h = &s->h;
    return CLNN_OK;
}

/* Loads samples idx[first ..] (or first ..), n of them, into mg's leaves: the feeder's copy when
 * it is on (f may be NULL), else gathered and written now (clnn__stage_batch); *h: the batch's host
 * copy (own: room for the model's staging buffers). */
clnn_status clnn__load_batch(clnn_model *m, clnn__feeder *f, clnn__mgraph *mg, const clnn_data *d,
                             const int64_t *idx, int64_t first, int64_t n, clnn__host_batch *own,
                             const clnn__host_batch **h)
{
    if (clnn__feed_on(f)) {
        clnn_status st = feed_take(f, mg, first, n, h);
        if (st || clnn__feed_on(f))
            return st;
    }
    clnn_status st = clnn__stage_batch(m, mg, d, idx, first, n);
    *own = clnn__model_stage(m);
    *h = own;
    return st;
}
