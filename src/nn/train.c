/* train.c — compile, fit, evaluate, predict and train_on_batch of a model, with metrics, the
 * Keras-style progress output, early stopping, callbacks and the history (also as CSV).
 *
 * A model keeps a few device graphs, one per (use, batch size): training (with the loss, its
 * backward and the optimizer), evaluation (loss, no backward, evaluation mode) and prediction
 * (output only). An epoch of N samples at batch B uses the graph of B and, when B does not
 * divide N, the graph of the last partial batch: every graph binds the same parameter tensors, and
 * the one optimizer is attached to whichever training graph runs, so its moments carry over.
 * Per batch the host runs the graph and the optimizer step and reads the batch loss (and the
 * outputs when a metric needs them) — the only synchronisation; the samples (in the epoch's
 * order) are double-buffered: the next batch is gathered on the host and uploaded on a second
 * command queue while the device computes this one (feeder, below). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "../dist/dist.h"

/* ---- options ------------------------------------------------------------------------------ */
void clnn_compile_options_init(clnn_compile_options *o, clnn_loss_kind loss,
                               clnn_optim_kind optimizer)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->loss = loss;
    clnn_optim_options_init(&o->optimizer, optimizer);
}

void clnn_fit_options_init(clnn_fit_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch_size = 32;
    o->shuffle = 1;
    o->verbose = 1;
    snprintf(o->early_stopping.monitor, sizeof o->early_stopping.monitor, "val_loss");
    snprintf(o->checkpoint.monitor, sizeof o->checkpoint.monitor, "val_loss");
}

static const char *loss_name(clnn_loss_kind k)
{
    static const char *const names[] = {
        "categorical_crossentropy", "sparse_categorical_crossentropy", "cross_entropy", "mse",
        "binary_crossentropy",      "binary_crossentropy_logits"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
}

static int loss_is_binary(clnn_loss_kind k)
{
    return k == CLNN_LOSS_BINARY_CROSSENTROPY || k == CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS;
}

static int loss_is_categorical(clnn_loss_kind k)
{
    return k == CLNN_LOSS_CATEGORICAL_CROSSENTROPY ||
           k == CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || k == CLNN_LOSS_CROSS_ENTROPY;
}

/* ---- metrics ------------------------------------------------------------------------------ */
#define NMETRICS 4
static const unsigned METRIC_BITS[NMETRICS] = {
    CLNN_METRIC_ACCURACY, CLNN_METRIC_CATEGORICAL_ACCURACY, CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY,
    CLNN_METRIC_BINARY_ACCURACY};
static const char *const METRIC_NAMES[NMETRICS] = {
    "accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy"};

/* Sums of one pass: loss * samples, and per metric correct predictions and predictions made. */
typedef struct sums {
    double loss;
    int64_t samples;
    double correct[NMETRICS], total[NMETRICS];
} sums;

static int64_t out_numel(const clnn_model *m)
{
    const clnn__mnode *o = &m->nodes[m->output];
    return clnn__numel(o->ndim, o->shape);
}

/* Adds one batch of outputs (n x per) to the metric sums; labels or targets (n x per). */
static void metric_batch(const clnn_model *m, sums *s, const float *out, int64_t n,
                         const int32_t *labels, const float *targets)
{
    const unsigned bits = m->c.metrics;
    const int64_t per = out_numel(m);
    const int64_t cls = m->nodes[m->output].shape[m->nodes[m->output].ndim - 1];
    for (int k = 0; k < NMETRICS; k++) {
        if (!(bits & METRIC_BITS[k]))
            continue;
        int binary = METRIC_BITS[k] == CLNN_METRIC_BINARY_ACCURACY ||
                     (METRIC_BITS[k] == CLNN_METRIC_ACCURACY && loss_is_binary(m->c.loss));
        if (binary) {
            float thr = m->c.loss == CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS ? 0.0f : 0.5f;
            for (int64_t i = 0; i < n * per; i++) {
                float truth = targets ? targets[i] : (float)labels[i / per];
                s->correct[k] += (out[i] > thr) == (truth > 0.5f);
            }
            s->total[k] += (double)(n * per);
            continue;
        }
        /* arg-max over the last axis, against the label or the target's arg-max */
        const int64_t rows = n * per / cls;
        for (int64_t r = 0; r < rows; r++) {
            const float *o = out + r * cls;
            int64_t best = 0, truth = 0;
            for (int64_t c = 1; c < cls; c++)
                if (o[c] > o[best])
                    best = c;
            if (targets) {
                const float *t = targets + r * cls;
                for (int64_t c = 1; c < cls; c++)
                    if (t[c] > t[truth])
                        truth = c;
            } else {
                truth = labels[r];
            }
            s->correct[k] += best == truth;
        }
        s->total[k] += (double)rows;
    }
}

/* Waits for the last upload from the staging buffers (stage_batch) before they change. */
static void stage_wait(clnn_model *m)
{
    if (!m->stage_done)
        return;
    clFlush(m->ctx->queue);
    clWaitForEvents(1, &m->stage_done);
    clReleaseEvent(m->stage_done);
    m->stage_done = NULL;
}

/* ---- compile ------------------------------------------------------------------------------ */
void clnn__model_invalidate(clnn_model *m)
{
    if (!m)
        return;
    clnn_optimizer_destroy(m->opt);
    m->opt = NULL;
    for (int i = 0; i < CLNN__MODEL_GRAPHS; i++) {
        clnn_graph_destroy(m->graphs[i].g);
        memset(&m->graphs[i], 0, sizeof m->graphs[i]);
    }
    free(m->trainable_at_compile);
    m->trainable_at_compile = NULL;
    stage_wait(m);
    free(m->stage_x);
    free(m->stage_t);
    free(m->stage_out);
    free(m->stage_xi);
    free(m->stage_l);
    m->stage_x = m->stage_t = m->stage_out = NULL;
    m->stage_xi = m->stage_l = NULL;
    m->stage_cap_x = m->stage_cap_t = m->stage_cap_out = m->stage_cap_xi = m->stage_cap_l = 0;
    free(m->dist_buf);
    m->dist_buf = NULL;
    m->dist_cap = 0;
    m->compiled = 0;
    clnn__model_free_pending_opt(m);
}

static clnn_status model_usable(clnn_model *m, const char *fn)
{
    if (!m)
        return CLNN_ERR_INVALID;
    if (m->status)
        return clnn__fail(m->ctx, m->status, "%s: the model has an error: %s", fn, m->error);
    if (m->output < 0 || m->nodes[m->output].layer < 0)
        return clnn__fail(m->ctx, CLNN_ERR_STATE, "%s: the model has no layer yet", fn);
    if (m->ninputs != 1)
        return clnn__fail(m->ctx, CLNN_ERR_UNSUPPORTED,
                          "%s: expected a model with one input, this one has %d", fn, m->ninputs);
    if (m->nodes[m->output].dtype != CLNN_F32)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: the output must be f32", fn);
    return CLNN_OK;
}

clnn_status clnn_model_compile(clnn_model *m, const clnn_compile_options *c)
{
    static const char fn[] = "clnn_model_compile";
    clnn_status st = model_usable(m, fn);
    if (st)
        return st;
    if (!c)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: options is NULL", fn);
    if (!loss_name(c->loss))
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "%s: expected a clnn_loss_kind (0 to 5), got %d", fn, (int)c->loss);
    if (c->metrics & ~(unsigned)15)
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "%s: unknown metric bits 0x%x (known: CLNN_METRIC_* = 1, 2, 4, 8)", fn,
                          c->metrics & ~(unsigned)15);
    if (!(c->label_smoothing >= 0 && c->label_smoothing < 1))
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: label_smoothing must be in [0, 1), got %g",
                          fn, (double)c->label_smoothing);
    const clnn__mnode *o = &m->nodes[m->output];
    char sbuf[128];
    clnn__shape_str(o->ndim, o->shape, sbuf, sizeof sbuf);
    if (loss_is_categorical(c->loss) && (o->ndim != 1 || o->shape[0] < 2))
        return clnn__fail(m->ctx, CLNN_ERR_SHAPE,
                          "%s: the %s loss needs an output of (classes) with at least 2 classes, "
                          "the model's output is %s",
                          fn, loss_name(c->loss), sbuf);
    const unsigned argmax_metrics = CLNN_METRIC_CATEGORICAL_ACCURACY |
                                    CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY |
                                    (loss_is_binary(c->loss) ? 0u : CLNN_METRIC_ACCURACY);
    if ((c->metrics & argmax_metrics) && o->shape[o->ndim - 1] < 2)
        return clnn__fail(m->ctx, CLNN_ERR_SHAPE,
                          "%s: a categorical accuracy needs an output whose last axis has the "
                          "classes, the model's output is %s",
                          fn, sbuf);
    clnn__model_invalidate(m);
    m->trainable_at_compile = malloc((size_t)(m->nlayers ? m->nlayers : 1));
    if (!m->trainable_at_compile)
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    for (int i = 0; i < m->nlayers; i++)
        m->trainable_at_compile[i] = (unsigned char)m->layers[i]->trainable;
    m->c = *c;
    m->compiled = 1;
    return CLNN_OK;
}

clnn_optimizer *clnn_model_optimizer(const clnn_model *m)
{
    return m ? m->opt : NULL;
}

/* ---- device graphs -------------------------------------------------------------------------- */
/* The target leaf of the loss: labels (i32, (n)) for CROSS_ENTROPY, else float of the output. */
static int target_is_labels(const clnn_model *m)
{
    return m->c.loss == CLNN_LOSS_CROSS_ENTROPY;
}

static clnn_status build_graph(clnn_model *m, clnn__mgraph *mg, clnn__gkind kind, int64_t n)
{
    clnn_graph *g;
    clnn_status st = clnn_graph_create(m->ctx, &g);
    if (st)
        return st;
    clnn_tensor **t = calloc((size_t)m->nnodes, sizeof *t);
    clnn_tensor **bound = calloc((size_t)m->nlayers * CLNN__LAYER_MAX_PARAMS, sizeof *bound);
    if (!t || !bound) {
        free(t);
        free(bound);
        clnn_graph_destroy(g);
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
    }
    const int train = kind == CLNN__G_TRAIN;
    for (int i = 0; i < m->nnodes && !clnn_graph_status(g); i++) {
        const clnn__mnode *nd = &m->nodes[i];
        int64_t shape[CLNN_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, nd->shape, (size_t)nd->ndim * sizeof *shape);
        if (nd->layer < 0) {
            t[i] = nd->dtype == CLNN_I32 ? clnn_input_i32(g, nd->name, nd->ndim + 1, shape)
                                         : clnn_input(g, nd->name, nd->ndim + 1, shape);
            continue;
        }
        const clnn__layer *L = m->layers[nd->layer];
        clnn_tensor **p = bound + (size_t)nd->layer * CLNN__LAYER_MAX_PARAMS;
        int trainable = m->trainable_at_compile ? m->trainable_at_compile[nd->layer] : 0;
        for (int k = 0; k < L->nparams; k++)
            if (!p[k])
                p[k] =
                    clnn_graph_bind(g, L->params[k], train && trainable && L->param_trainable[k]);
        clnn_tensor *x[CLNN__LAYER_MAX_INPUTS];
        for (int k = 0; k < nd->nin; k++)
            x[k] = t[nd->in[k]];
        t[i] = clnn__layer_forward(g, L, nd->nin, x, p);
    }
    clnn__mgraph r = {g, kind, n, 0, NULL, NULL, NULL, NULL};
    if (!clnn_graph_status(g)) {
        r.x = t[m->inputs[0]];
        r.output = clnn_graph_keep(g, t[m->output]);
    }
    free(t);
    free(bound);
    if (kind != CLNN__G_PREDICT && kind != CLNN__G_FORWARD_TRAIN && r.output) {
        const clnn__mnode *o = &m->nodes[m->output];
        int64_t shape[CLNN_MAX_DIMS];
        shape[0] = n;
        memcpy(shape + 1, o->shape, (size_t)o->ndim * sizeof *shape);
        if (target_is_labels(m))
            r.target = clnn_input_i32(g, "labels", 1, &n);
        else
            r.target = clnn_input(g, "targets", o->ndim + 1, shape);
        switch (m->c.loss) {
        case CLNN_LOSS_CATEGORICAL_CROSSENTROPY:
        case CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
            r.loss = clnn_categorical_crossentropy(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_CROSS_ENTROPY:
            r.loss = clnn_cross_entropy(g, r.output, r.target, CLNN_REDUCTION_MEAN,
                                        m->c.label_smoothing);
            break;
        case CLNN_LOSS_MSE:
            r.loss = clnn_mse_loss(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_BINARY_CROSSENTROPY:
            r.loss = clnn_binary_crossentropy(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        case CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS:
            r.loss = clnn_binary_crossentropy_logits(g, r.output, r.target, CLNN_REDUCTION_MEAN);
            break;
        }
        clnn_tensor_set_name(r.loss, "loss");
        clnn_graph_keep(g, r.loss);
    }
    if (kind != CLNN__G_TRAIN && kind != CLNN__G_FORWARD_TRAIN)
        clnn_graph_set_training(g, 0);
    st = clnn_graph_status(g);
    if (st == CLNN_OK && train) {
        int trainable = 0;
        for (size_t i = 0; i < g->nnodes; i++)
            trainable |= g->nodes[i]->kind == CLNN__BOUND && g->nodes[i]->requires_grad;
        if (!trainable)
            st = clnn__fail(m->ctx, CLNN_ERR_STATE,
                            "model: nothing to train: every layer is frozen or has no parameters "
                            "(frozen layers are captured at compile)");
    }
    if (st == CLNN_OK && train)
        st = clnn_graph_backward(g, r.loss);
    if (st == CLNN_OK && train) {
        if (!m->opt) {
            st = clnn_optimizer_create(g, &m->c.optimizer, &m->opt);
            if (st == CLNN_OK)
                st = clnn__model_apply_pending_opt(m);

        } else {
            st = clnn__optimizer_attach(m->opt, g);
        }
    }
    if (st == CLNN_OK)
        st = clnn_graph_plan(g);
    if (st) {
        const char *msg = clnn_graph_status(g) ? clnn_graph_last_error(g) : NULL;
        if (msg)
            clnn__fail(m->ctx, st, "model: building the graph for batch %lld: %s", (long long)n,
                       msg);
        clnn_graph_destroy(g);
        return st;
    }
    *mg = r;
    return CLNN_OK;
}

/* The graph of (kind, n), made on first use; the least recently used one is dropped when all
 * slots are taken (never the training graph the optimizer is attached to). */
static clnn_status get_graph(clnn_model *m, clnn__gkind kind, int64_t n, clnn__mgraph **out)
{
    clnn__mgraph *slot = NULL;
    for (int i = 0; i < CLNN__MODEL_GRAPHS; i++) {
        clnn__mgraph *mg = &m->graphs[i];
        if (mg->g && mg->kind == kind && mg->batch == n) {
            mg->used = ++m->clock;
            *out = mg;
            return CLNN_OK;
        }
    }
    for (int i = 0; i < CLNN__MODEL_GRAPHS && !slot; i++)
        if (!m->graphs[i].g)
            slot = &m->graphs[i];
    for (int i = 0; i < CLNN__MODEL_GRAPHS && !slot; i++) {
        clnn__mgraph *mg = &m->graphs[i];
        if (!slot || mg->used < slot->used)
            slot = mg;
    }
    if (slot->g) {
        if (slot->kind == CLNN__G_TRAIN && m->opt) {
            /* the optimizer may point at it: re-attached before its next step (attach keeps the
             * optimizer's state and needs only the caller-owned parameters) */
            clnn__optimizer_detach(m->opt);
        }
        clnn_graph_destroy(slot->g);
        memset(slot, 0, sizeof *slot);
    }
    clnn_status st = build_graph(m, slot, kind, n);
    if (st)
        return st;
    slot->used = ++m->clock;
    *out = slot;
    return CLNN_OK;
}

/* ---- data ----------------------------------------------------------------------------------- */
static int same_squeezed(int na, const int64_t *a, int nb, const int64_t *b)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < na && a[i] == 1)
            i++;
        while (j < nb && b[j] == 1)
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        if (a[i++] != b[j++])
            return 0;
    }
}

/* Scans n floats for a non-finite value; its index or -1. */
static int64_t first_nonfinite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return -1;
}

/* Checks data against the model; need_target: the loss needs labels or targets. */
static clnn_status check_data(clnn_model *m, const char *fn, const clnn_data *d, int need_target,
                              const char *what)
{
    clnn_ctx *ctx = m->ctx;
    if (!d)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: the %s data is NULL", fn, what);
    if (d->n < 1 || !d->x)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: expected %s data of at least one sample, got n = %lld%s", fn, what,
                          (long long)d->n, d->x ? "" : " and x = NULL");
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    char s1[128], s2[128];
    if (d->ndim < 0 || d->ndim > CLNN_MAX_DIMS - 1 ||
        (d->ndim > 0 && !same_squeezed(in->ndim, in->shape, d->ndim, d->shape)))
        return clnn__fail(ctx, CLNN_ERR_SHAPE,
                          "%s: expected %s samples of shape %s (the model's input), got %s", fn,
                          what, clnn__shape_str(in->ndim, in->shape, s1, sizeof s1),
                          d->ndim > 0 && d->ndim < CLNN_MAX_DIMS
                              ? clnn__shape_str(d->ndim, d->shape, s2, sizeof s2)
                              : "a bad ndim");
    /* NaN or infinity in the data would silently poison the weights */
    const int64_t xper = clnn__numel(in->ndim, in->shape);
    int64_t bad = in->dtype == CLNN_F32 ? first_nonfinite(d->x, d->n * xper) : -1;
    if (bad >= 0)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: %s sample %lld has a non-finite value (%g) at position %lld; "
                          "expected finite inputs",
                          fn, what, (long long)(bad / xper), (double)d->x[bad],
                          (long long)(bad % xper));
    if (!need_target)
        return CLNN_OK;
    const clnn__mnode *o = &m->nodes[m->output];
    const int64_t per = out_numel(m);
    const clnn_loss_kind loss = m->c.loss;
    if (!d->labels && !d->targets)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: the %s loss needs labels or targets in the %s data, both are NULL",
                          fn, loss_name(loss), what);
    if (!d->labels && loss == CLNN_LOSS_CROSS_ENTROPY)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: the cross_entropy loss needs class labels in the %s data", fn, what);
    if (d->targets && (bad = first_nonfinite(d->targets, d->n * per)) >= 0)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: %s sample %lld has a non-finite target (%g) at position %lld", fn,
                          what, (long long)(bad / per), (double)d->targets[bad],
                          (long long)(bad % per));
    if (d->labels && !d->targets && !loss_is_categorical(loss) && per != 1)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: the %s loss on an output of %s needs float targets, not labels "
                          "(labels fit an output of one value)",
                          fn, loss_name(loss), clnn__shape_str(o->ndim, o->shape, s1, sizeof s1));
    const unsigned binary_metrics =
        CLNN_METRIC_BINARY_ACCURACY | (loss_is_binary(loss) ? CLNN_METRIC_ACCURACY : 0u);
    if ((m->c.metrics & binary_metrics) && d->labels && !d->targets && per != 1)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: binary accuracy compares every output value with its target: an "
                          "output of %s needs float targets, not labels",
                          fn, clnn__shape_str(o->ndim, o->shape, s1, sizeof s1));
    if (d->labels && !(d->targets && !target_is_labels(m))) {
        int32_t lo = 0, hi = loss_is_categorical(loss) ? (int32_t)o->shape[0] - 1 : 1;
        if (loss == CLNN_LOSS_MSE)
            hi = INT32_MAX, lo = INT32_MIN;
        for (int64_t i = 0; i < d->n; i++)
            if (d->labels[i] < lo || d->labels[i] > hi)
                return clnn__fail(ctx, CLNN_ERR_INVALID,
                                  "%s: %s sample %lld has label %d, expected a class in [%d, %d]",
                                  fn, what, (long long)i, (int)d->labels[i], (int)lo, (int)hi);
    }
    return CLNN_OK;
}

static int grow_buf(void **p, size_t *cap, size_t need, size_t elem)
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

/* Host copies of one batch: the inputs (x, or xi for an int32 input), float targets t (the data's
 * targets, or each label one-hot / as a value when the loss takes floats) and the labels l. */
typedef struct host_batch {
    float *x, *t;
    int32_t *xi, *l;
} host_batch;

/* The model's own staging buffers (stage_batch, the single-queue path). */
static host_batch model_stage(const clnn_model *m)
{
    return (host_batch){m->stage_x, m->stage_t, m->stage_xi, m->stage_l};
}

/* Gathers samples idx[first .. first+n-1] (or first .. first+n-1 when idx is NULL) into h, which
 * has room for n of them. */
static clnn_status gather(clnn_model *m, const clnn_data *d, const int64_t *idx, int64_t first,
                          int64_t n, const host_batch *h)
{
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = out_numel(m);
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
        else if (d->labels && !target_is_labels(m)) {
            float *t = h->t + i * per;
            if (loss_is_categorical(m->c.loss)) {
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
static clnn_status stage_batch(clnn_model *m, clnn__mgraph *mg, const clnn_data *d,
                               const int64_t *idx, int64_t first, int64_t n)
{
    stage_wait(m);
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = out_numel(m);
    if (grow_buf((void **)&m->stage_x, &m->stage_cap_x, (size_t)(n * xper), sizeof(float)) ||
        (in->dtype == CLNN_I32 &&
         grow_buf((void **)&m->stage_xi, &m->stage_cap_xi, (size_t)(n * xper), sizeof(int32_t))) ||
        grow_buf((void **)&m->stage_t, &m->stage_cap_t, (size_t)(n * per), sizeof(float)) ||
        grow_buf((void **)&m->stage_l, &m->stage_cap_l, (size_t)n, sizeof(int32_t)))
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory for a batch");
    const host_batch h = model_stage(m);
    clnn_status st = gather(m, d, idx, first, n, &h);
    if (st)
        return st;
    /* uploads without waiting: the host goes on (metrics, the next batch) while the device
     * works; the staging buffers are not touched again before stage_wait */
    clnn_tensor *tg = mg->target;
    int last_x = !tg;
    st = in->dtype == CLNN_I32
             ? clnn__tensor_write_async(mg->x, m->stage_xi, (size_t)(n * xper) * 4,
                                        last_x ? &m->stage_done : NULL)
             : clnn__tensor_write_async(mg->x, m->stage_x, (size_t)(n * xper) * 4,
                                        last_x ? &m->stage_done : NULL);
    if (st == CLNN_OK && tg)
        st = target_is_labels(m)
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
 * gathered and written on the main queue just before its step (stage_batch), as when the second
 * queue cannot be made, and from the batch on whose slot's memory cannot be made. The results are
 * the same bit for bit either way. train_on_batch, the training-mode forward pass (one batch
 * each) and fit over MPI always take that path. */
typedef struct feed_slot {
    cl_mem pinned;                /* the host memory's buffer; NULL when it is plain host memory */
    void *host;                   /* the host staging memory (mapped from pinned, or malloc) */
    host_batch h;                 /* views into host */
    clnn__storage *dev_x, *dev_t; /* device staging: the inputs, the target (NULL without) */
    cl_event uploaded;            /* the upload into dev_x, dev_t */
    cl_event consumed;            /* their copy into a graph's leaves */
    int64_t first, n;             /* the batch held, n = 0: none */
    clnn_status st;               /* a failure filling the slot, returned when it is taken */
    int no_memory; /* st: the slot's memory could not be made (feed_take turns off) */
} feed_slot;

typedef struct feeder {
    clnn_model *m;
    cl_command_queue q;      /* the upload queue; NULL: off (stage_batch) */
    int64_t cap;             /* samples per slot */
    int target;              /* 1: batches carry the loss's target */
    size_t x_bytes, t_bytes; /* per sample on the device: inputs, target (0 without) */
    feed_slot slot[2];
    int fill, take;  /* the slot the next feed_put fills, the slot the next feed_take reads */
    int64_t batches; /* taken from the upload queue (reported at the debug level by feed_close) */
} feeder;

static int feed_on(const feeder *f)
{
    return f && f->q;
}

/* A feeder of batches of up to cap samples (with the target when target = 1), or an off one
 * (feed_on = 0) when CLNN_UPLOAD_QUEUE=0 or no upload queue can be made. Memory is made at the
 * first feed_put. Never fails. */
static void feed_open(feeder *f, clnn_model *m, int64_t cap, int target)
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
    f->t_bytes = !target ? 0 : target_is_labels(m) ? 4 : (size_t)out_numel(m) * 4;
}

/* Makes slot s's host and device staging memory. */
static clnn_status feed_slot_make(feeder *f, feed_slot *s)
{
    clnn_model *m = f->m;
    clnn_ctx *ctx = m->ctx;
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const size_t cap = (size_t)f->cap, per = (size_t)out_numel(m), al = 64;
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
static void feed_put(feeder *f, const clnn_data *d, const int64_t *idx, int64_t first, int64_t n)
{
    clnn_model *m = f->m;
    clnn_ctx *ctx = m->ctx;
    feed_slot *s = &f->slot[f->fill];
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
    const void *tsrc = target_is_labels(m) ? (const void *)s->h.l : (const void *)s->h.t;
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
static void feed_close(feeder *f)
{
    if (!feed_on(f))
        return;
    clnn__log(f->m->ctx, CLNN_LOG_DEBUG, "model: %lld batches double-buffered on the upload queue",
              (long long)f->batches);
    clFinish(f->q);
    for (int i = 0; i < 2; i++) {
        feed_slot *s = &f->slot[i];
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
 * upload; *h: its host copy, unchanged until the next feed_put but one. When the slots' memory
 * could not be made, the feeder turns itself off instead (*h = NULL: load the batch otherwise). */
static clnn_status feed_take(feeder *f, clnn__mgraph *mg, int64_t first, int64_t n,
                             const host_batch **h)
{
    clnn_ctx *ctx = f->m->ctx;
    feed_slot *s = &f->slot[f->take];
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
        feed_close(f);
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
 * it is on (f may be NULL), else gathered and written now (stage_batch); *h: the batch's host
 * copy (own: room for the model's staging buffers). */
static clnn_status load_batch(clnn_model *m, feeder *f, clnn__mgraph *mg, const clnn_data *d,
                              const int64_t *idx, int64_t first, int64_t n, host_batch *own,
                              const host_batch **h)
{
    if (feed_on(f)) {
        clnn_status st = feed_take(f, mg, first, n, h);
        if (st || feed_on(f))
            return st;
    }
    clnn_status st = stage_batch(m, mg, d, idx, first, n);
    *own = model_stage(m);
    *h = own;
    return st;
}

/* Reads the batch loss (and the outputs when metrics need them) and adds them to s; h: the
 * batch's host copy (labels and targets); known_loss: the loss was read already, outputs_read:
 * the outputs too, into stage_out (read_early). */
static clnn_status collect(clnn_model *m, clnn__mgraph *mg, const clnn_data *d, int64_t n, sums *s,
                           const host_batch *h, const float *known_loss, int outputs_read)
{
    float loss = known_loss ? *known_loss : 0.0f;
    clnn_status st = known_loss ? CLNN_OK : clnn_tensor_read(mg->loss, &loss, sizeof loss);
    if (st)
        return st;
    s->loss += (double)loss * (double)n;
    s->samples += n;
    if (m->c.metrics) {
        const int64_t per = out_numel(m);
        if (grow_buf((void **)&m->stage_out, &m->stage_cap_out, (size_t)(n * per), sizeof(float)))
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
        if (!outputs_read &&
            (st = clnn_tensor_read(mg->output, m->stage_out, (size_t)(n * per) * 4)) != CLNN_OK)
            return st;
        metric_batch(m, s, m->stage_out, n, d->labels ? h->l : NULL,
                     d->targets || !d->labels ? h->t : NULL);
    }
    return CLNN_OK;
}

/* After a non-finite loss or gradient norm: the first layer (in model order) whose parameters are
 * not finite (they poison every gradient upstream), else the first whose gradients are not, into
 * buf. */
static void diagnose(clnn_model *m, clnn__mgraph *mg, char *buf, size_t size)
{
    snprintf(buf, size, "every parameter and gradient is finite: check the data and the loss");
    for (int pass = 0; pass < 2; pass++)
        for (int li = 0; li < m->nlayers; li++) {
            const clnn__layer *L = m->layers[li];
            for (int k = 0; k < L->nparams; k++) {
                clnn_tensor *p = L->params[k], *t = p;
                if (pass == 1) {
                    t = NULL;
                    for (size_t j = 0; j < mg->g->nnodes && !t; j++)
                        if (mg->g->nodes[j]->kind == CLNN__BOUND && mg->g->nodes[j]->external == p)
                            t = mg->g->nodes[j]->grad;
                    if (!t)
                        continue;
                }
                int64_t n = clnn_tensor_numel(p), at = -1;
                float *host = malloc((size_t)(n ? n : 1) * sizeof *host);
                if (!host)
                    return;
                if (clnn_tensor_read(t, host, (size_t)n * 4) == CLNN_OK)
                    at = first_nonfinite(host, n);
                if (at >= 0)
                    snprintf(buf, size,
                             "the first non-finite values are in layer '%s': %s'%s' [%lld] = %g",
                             L->spec.name, pass ? "the gradient of " : "parameter ",
                             clnn_tensor_name(p), (long long)at, (double)host[at]);
                free(host);
                if (at >= 0)
                    return;
            }
        }
}

/* Reads the loss into *loss and, when metrics need them, the outputs into stage_out: both
 * reads enqueued, then one wait for the last. */
static clnn_status read_early(clnn_model *m, clnn__mgraph *mg, int64_t n, float *loss)
{
    cl_event done = NULL;
    clnn_status st;
    if (m->c.metrics) {
        const int64_t per = out_numel(m);
        if (grow_buf((void **)&m->stage_out, &m->stage_cap_out, (size_t)(n * per), sizeof(float)))
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
        if ((st = clnn__tensor_read_async(mg->output, m->stage_out, NULL)))
            return st;
    }
    if ((st = clnn__tensor_read_async(mg->loss, loss, &done))) {
        clFinish(m->ctx->queue); /* the outputs' read writes into stage_out */
        return st;
    }
    clFlush(m->ctx->queue);
    cl_int err = clWaitForEvents(1, &done);
    clReleaseEvent(done);
    return err == CL_SUCCESS ? CLNN_OK
                             : clnn__cl_fail(m->ctx, err, "clWaitForEvents of the batch loss");
}

/* One optimizer step on samples idx[first ..] (or first .. when idx is NULL), n of them. With a
 * guard (not CLNN_NONFINITE_IGNORE) the loss and the gradient norm are checked before the update:
 * *skipped is set when the batch is dropped; STOP returns CLNN_ERR_NONFINITE naming where. With a
 * feeder that is on, the batch was put there before, and the next one (next_n > 0 samples from
 * next_first) is put there while the device computes this one. */
static clnn_status train_step(clnn_model *m, feeder *f, const clnn_data *d, const int64_t *idx,
                              int64_t first, int64_t n, int64_t next_first, int64_t next_n, sums *s,
                              clnn_nonfinite_action guard, int epoch, int64_t step, int *skipped)
{
    clnn__mgraph *mg;
    if (skipped)
        *skipped = 0;
    clnn_status st = get_graph(m, CLNN__G_TRAIN, n, &mg);
    if (st == CLNN_OK)
        st = clnn__optimizer_attach(m->opt, mg->g);
    host_batch own;
    const host_batch *h = NULL;
    if (st == CLNN_OK)
        st = load_batch(m, f, mg, d, idx, first, n, &own, &h);
    /* dropout masks depend on the model's step count, whichever graph runs the step */
    if (st == CLNN_OK)
        st = clnn_graph_set_run_count(mg->g, m->train_steps);
    if (st == CLNN_OK)
        st = clnn_graph_run(mg->g);
    /* the next batch is gathered and uploaded while the device computes this one */
    if (st == CLNN_OK && feed_on(f) && next_n > 0)
        feed_put(f, d, idx, next_first, next_n);
    /* the loss and the outputs are read as soon as the forward and backward passes are done,
     * before the update is enqueued: the host then works on metrics and the next batch while
     * the device updates (one wait per step) */
    float loss = 0;
    if (st == CLNN_OK)
        st = read_early(m, mg, n, &loss);
    if (st == CLNN_OK && guard != CLNN_NONFINITE_IGNORE) {
        float norm = 0;
        st = clnn__optimizer_norm(m->opt, &norm);
        if (st == CLNN_OK && !(isfinite(loss) && isfinite(norm))) {
            m->train_steps++; /* the step happened, without an update */
            if (guard == CLNN_NONFINITE_SKIP_BATCH) {
                if (skipped)
                    *skipped = 1;
                return CLNN_OK;
            }
            char where[400];
            diagnose(m, mg, where, sizeof where);
            return clnn__fail(m->ctx, CLNN_ERR_NONFINITE,
                              "fit: %s at epoch %d, step %lld (loss %g, gradient norm %g): %s",
                              isfinite(loss) ? "a non-finite gradient" : "a non-finite loss",
                              epoch + 1, (long long)step + 1, (double)loss, (double)norm, where);
        }
    }
    if (st == CLNN_OK)
        st = clnn_optimizer_step(m->opt);
    if (st == CLNN_OK)
        m->train_steps++;
    if (st == CLNN_OK)
        st = collect(m, mg, d, n, s, h, &loss, 1);
    return st;
}

/* Loss and metrics over every sample of d, in order, in evaluation mode; f: a feeder (on or off)
 * with room for batch samples and the target, its slots all taken. */
static clnn_status eval_pass(clnn_model *m, feeder *f, const clnn_data *d, int64_t batch, sums *s)
{
    memset(s, 0, sizeof *s);
    if (feed_on(f))
        feed_put(f, d, NULL, 0, d->n < batch ? d->n : batch);
    for (int64_t first = 0; first < d->n; first += batch) {
        const int64_t n = d->n - first < batch ? d->n - first : batch, next = first + n,
                      next_n = d->n - next < batch ? d->n - next : batch;
        clnn__mgraph *mg;
        host_batch own;
        const host_batch *h = NULL;
        clnn_status st = get_graph(m, CLNN__G_EVAL, n, &mg);
        if (st == CLNN_OK)
            st = load_batch(m, f, mg, d, NULL, first, n, &own, &h);
        if (st == CLNN_OK)
            st = clnn_graph_run(mg->g);
        if (st == CLNN_OK && feed_on(f) && next_n > 0)
            feed_put(f, d, NULL, next, next_n);
        if (st == CLNN_OK)
            st = collect(m, mg, d, n, s, h, NULL, 0);
        if (st)
            return st;
    }
    return CLNN_OK;
}

static clnn_status check_batch_size(clnn_model *m, const char *fn, int64_t batch)
{
    if (batch < 1 || batch > ((int64_t)1 << 31))
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: expected a batch size >= 1, got %lld", fn,
                          (long long)batch);
    return CLNN_OK;
}

static clnn_status compiled(clnn_model *m, const char *fn)
{
    clnn_status st = model_usable(m, fn);
    if (st == CLNN_OK && !m->compiled)
        st = clnn__fail(m->ctx, CLNN_ERR_STATE,
                        "%s: the model is not compiled (call clnn_model_compile first)", fn);
    return st;
}

/* ---- evaluate, predict, train_on_batch ------------------------------------------------------ */
static double first_accuracy(const clnn_model *m, const sums *s)
{
    for (int k = 0; k < NMETRICS; k++)
        if ((m->c.metrics & METRIC_BITS[k]) && s->total[k] > 0)
            return s->correct[k] / s->total[k];
    return NAN;
}

clnn_status clnn_model_evaluate(clnn_model *m, const clnn_data *data, int64_t batch_size,
                                clnn_eval_result *result)
{
    static const char fn[] = "clnn_model_evaluate";
    clnn_status st = compiled(m, fn);
    if (st == CLNN_OK)
        st = check_batch_size(m, fn, batch_size);
    if (st == CLNN_OK)
        st = check_data(m, fn, data, 1, "evaluation");
    if (st == CLNN_OK && !result)
        st = clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: result is NULL", fn);
    if (st)
        return st;
    sums s;
    feeder f;
    feed_open(&f, m, data->n < batch_size ? data->n : batch_size, 1);
    st = eval_pass(m, &f, data, batch_size, &s);
    feed_close(&f);
    if (st)
        return st;
    result->loss = s.loss / (double)s.samples;
    result->accuracy = first_accuracy(m, &s);
    result->samples = s.samples;
    return CLNN_OK;
}

/* The checks of predict and forward: a usable model, the inputs, room for every output. */
static clnn_status check_inference(clnn_model *m, const char *fn, const clnn_data *d,
                                   const float *out, size_t out_count)
{
    clnn_status st = model_usable(m, fn);
    if (st == CLNN_OK)
        st = check_data(m, fn, d, 0, "input");
    if (st)
        return st;
    const int64_t per = out_numel(m), n = d->n;
    if (!out || (uint64_t)out_count < (uint64_t)(n * per))
        return clnn__fail(m->ctx, CLNN_ERR_INVALID,
                          "%s: expected room for %lld outputs (%lld samples x %lld), got %zu%s", fn,
                          (long long)(n * per), (long long)n, (long long)per, out_count,
                          out ? "" : " (out is NULL)");
    return CLNN_OK;
}

clnn_status clnn_model_predict(clnn_model *m, const float *x, int64_t n, int64_t batch_size,
                               float *out, size_t out_count)
{
    static const char fn[] = "clnn_model_predict";
    clnn_data d = {x, n, 0, {0}, NULL, NULL};
    clnn_status st = check_inference(m, fn, &d, out, out_count);
    if (st == CLNN_OK)
        st = check_batch_size(m, fn, batch_size);
    if (st)
        return st;
    const int64_t per = out_numel(m);
    feeder f;
    feed_open(&f, m, n < batch_size ? n : batch_size, 0);
    if (feed_on(&f))
        feed_put(&f, &d, NULL, 0, n < batch_size ? n : batch_size);
    for (int64_t first = 0; first < n && st == CLNN_OK; first += batch_size) {
        const int64_t b = n - first < batch_size ? n - first : batch_size, next = first + b,
                      next_b = n - next < batch_size ? n - next : batch_size;
        clnn__mgraph *mg;
        host_batch own;
        const host_batch *h;
        st = get_graph(m, CLNN__G_PREDICT, b, &mg);
        if (st == CLNN_OK)
            st = load_batch(m, &f, mg, &d, NULL, first, b, &own, &h);
        if (st == CLNN_OK)
            st = clnn_graph_run(mg->g);
        if (st == CLNN_OK && feed_on(&f) && next_b > 0)
            feed_put(&f, &d, NULL, next, next_b);
        if (st == CLNN_OK)
            st = clnn_tensor_read(mg->output, out + first * per, (size_t)(b * per) * 4);
    }
    feed_close(&f);
    return st;
}

clnn_status clnn_model_forward(clnn_model *m, const float *x, int64_t n, int training, float *out,
                               size_t out_count)
{
    static const char fn[] = "clnn_model_forward";
    if (!training)
        return clnn_model_predict(m, x, n, n > 0 ? n : 1, out, out_count);
    clnn_data d = {x, n, 0, {0}, NULL, NULL};
    clnn_status st = check_inference(m, fn, &d, out, out_count);
    if (st)
        return st;
    const int64_t per = out_numel(m);
    clnn__mgraph *mg;
    st = get_graph(m, CLNN__G_FORWARD_TRAIN, n, &mg);
    if (st == CLNN_OK)
        st = stage_batch(m, mg, &d, NULL, 0, n);
    if (st == CLNN_OK)
        st = clnn_graph_set_run_count(mg->g, m->train_steps);
    if (st == CLNN_OK)
        st = clnn_graph_run(mg->g);
    if (st == CLNN_OK)
        st = clnn_tensor_read(mg->output, out, (size_t)(n * per) * 4);
    return st;
}

clnn_status clnn_model_train_on_batch(clnn_model *m, const clnn_data *batch, double *loss)
{
    static const char fn[] = "clnn_model_train_on_batch";
    clnn_status st = compiled(m, fn);
    if (st == CLNN_OK)
        st = check_data(m, fn, batch, 1, "batch");
    if (st)
        return st;
    sums s = {0};
    if ((st = train_step(m, NULL, batch, NULL, 0, batch->n, 0, 0, &s, CLNN_NONFINITE_IGNORE, 0, 0,
                         NULL)) != CLNN_OK)
        return st;
    if (loss)
        *loss = s.loss / (double)s.samples;
    return CLNN_OK;
}

/* ---- history -------------------------------------------------------------------------------- */
double clnn_history_get(const clnn_history *h, const char *name, int epoch)
{
    if (!h || !name || epoch < 0 || epoch >= h->epochs)
        return NAN;
    for (int c = 0; c < h->columns; c++)
        if (!strcmp(h->names[c], name))
            return h->values[(size_t)epoch * (size_t)h->columns + (size_t)c];
    return NAN;
}

static void set_err(char *err, size_t size, const char *fmt, ...) CLNN__PRINTF(3, 4);
static void set_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

clnn_status clnn_history_write_csv(const clnn_history *h, const char *path, char *err,
                                   size_t err_size)
{
    set_err(err, err_size, "%s", "");
    if (!h || !path || !path[0]) {
        set_err(err, err_size, "clnn_history_write_csv: %s is NULL or empty",
                h ? "the path" : "the history");
        return CLNN_ERR_INVALID;
    }
    /* a temporary file in the same directory, flushed and renamed over the target */
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        set_err(err, err_size, "clnn_history_write_csv: out of host memory");
        return CLNN_ERR_NOMEM;
    }
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        set_err(err, err_size, "clnn_history_write_csv: cannot create a file next to '%s': %s",
                path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return CLNN_ERR_IO;
    }
    fputs("epoch", f);
    for (int c = 0; c < h->columns; c++)
        fprintf(f, ",%s", h->names[c]);
    fputc('\n', f);
    for (int e = 0; e < h->epochs; e++) {
        fprintf(f, "%d", h->first_epoch + e);
        for (int c = 0; c < h->columns; c++)
            fprintf(f, ",%.17g", h->values[(size_t)e * (size_t)h->columns + (size_t)c]);
        fputc('\n', f);
    }
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        set_err(err, err_size, "clnn_history_write_csv: writing '%s' failed: %s", path,
                strerror(errno));
        unlink(tmp);
        free(tmp);
        return CLNN_ERR_IO;
    }
    free(tmp);
    return CLNN_OK;
}

const clnn_history *clnn_model_history(const clnn_model *m)
{
    return m ? &m->history : NULL;
}

static int history_column(clnn_history *h, const char *name)
{
    if (h->columns >= CLNN_HISTORY_MAX_COLUMNS)
        return -1;
    size_t len = strlen(name);
    if (len >= sizeof h->names[0])
        len = sizeof h->names[0] - 1;
    memcpy(h->names[h->columns], name, len);
    h->names[h->columns][len] = '\0';
    return h->columns++;
}

static clnn_status history_row(clnn_model *m, const double *row)
{
    clnn_history *h = &m->history;
    if ((size_t)h->epochs + 1 > m->history_cap) {
        size_t cap = m->history_cap ? m->history_cap * 2 : 16;
        double *v = realloc(h->values, cap * CLNN_HISTORY_MAX_COLUMNS * sizeof *v);
        if (!v)
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory");
        h->values = v;
        m->history_cap = cap;
    }
    memcpy(h->values + (size_t)h->epochs * (size_t)h->columns, row,
           (size_t)h->columns * sizeof *row);
    h->epochs++;
    return CLNN_OK;
}

/* ---- progress output ------------------------------------------------------------------------ */
typedef struct progress {
    const clnn_fit_options *o;
    int bar; /* 1: a progress bar redrawn on a terminal */
    double last_draw;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit_text(const progress *p, const char *s, int newline)
{
    if (p->o->output) {
        p->o->output(p->o->output_user, s);
        return;
    }
    fputs(s, stdout);
    if (newline)
        fputc('\n', stdout);
    fflush(stdout);
}

static int fmt_value(char *buf, size_t size, const char *name, double v)
{
    return snprintf(buf, size, fabs(v) > 1e-3 || v == 0 ? " - %s: %.4f" : " - %s: %.4e", name, v);
}

/* " - loss: 0.2100 - accuracy: 0.9400" from the first ncol columns of row */
static void fmt_values(char *buf, size_t size, const clnn_history *h, const double *row, int ncol)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int c = 0; c < ncol && o < size; c++) {
        if (!strcmp(h->names[c], "lr"))
            continue;
        int n = fmt_value(buf + o, size - o, h->names[c], row[c]);
        if (n > 0)
            o += (size_t)n;
    }
}

static void fmt_time(char *buf, size_t size, double seconds, int64_t steps)
{
    double per = steps > 0 ? seconds / (double)steps : 0;
    if (per >= 1)
        snprintf(buf, size, "%.0fs %.0fs/step", seconds, per);
    else if (per >= 1e-3)
        snprintf(buf, size, "%.0fs %.0fms/step", seconds, per * 1e3);
    else
        snprintf(buf, size, "%.0fs %.0fus/step", seconds, per * 1e6);
}

static void draw_bar(progress *p, int64_t done, int64_t total, double elapsed,
                     const clnn_history *h, const double *row, int ncol, int final)
{
    char line[1024], vals[640], bar[40], tm[64];
    int width = 30, fill = (int)((double)width * (double)done / (double)total);
    for (int i = 0; i < width; i++)
        bar[i] = i < fill - 1 ? '=' : i == fill - 1 ? (done < total ? '>' : '=') : '.';
    bar[width] = '\0';
    fmt_values(vals, sizeof vals, h, row, ncol);
    int digits = snprintf(NULL, 0, "%lld", (long long)total);
    if (final) {
        fmt_time(tm, sizeof tm, elapsed, total);
        snprintf(line, sizeof line, "\r%*lld/%lld [%s] - %s%s\033[K", digits, (long long)done,
                 (long long)total, bar, tm, vals);
    } else {
        double eta = done > 0 ? elapsed / (double)done * (double)(total - done) : 0;
        snprintf(line, sizeof line, "\r%*lld/%lld [%s] - ETA: %.0fs%s\033[K", digits,
                 (long long)done, (long long)total, bar, eta, vals);
    }
    emit_text(p, line, final);
}

/* ---- fit ------------------------------------------------------------------------------------ */
static int monitor_improves_down(const char *name)
{
    return !strstr(name, "acc");
}

/* Device copies of every parameter (the best weights of early stopping). */
static clnn_status snapshot(clnn_model *m, clnn_tensor ***copies, int restore)
{
    int n = clnn_model_param_count(m);
    clnn_status st = CLNN_OK;
    if (!*copies) {
        *copies = calloc((size_t)(n ? n : 1), sizeof **copies);
        if (!*copies)
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory");
    }
    for (int i = 0; i < n && st == CLNN_OK; i++) {
        clnn_tensor *p = clnn_model_param(m, i), **c = &(*copies)[i];
        if (!*c) {
            int64_t shape[CLNN_MAX_DIMS];
            int nd = clnn_tensor_ndim(p);
            for (int k = 0; k < nd; k++)
                shape[k] = clnn_tensor_dim(p, k);
            st = clnn_tensor_create(m->ctx, CLNN_F32, nd, shape, c);
        }
        if (st == CLNN_OK)
            st = restore ? clnn_tensor_copy(p, *c) : clnn_tensor_copy(*c, p);
    }
    return st;
}

static void snapshot_free(clnn_model *m, clnn_tensor **copies)
{
    if (!copies)
        return;
    int n = clnn_model_param_count(m);
    for (int i = 0; i < n; i++)
        clnn_tensor_destroy(copies[i]);
    free(copies);
}

/* The epoch's order: Fisher-Yates from one generator seeded by (seed, epoch), or file order. */
static void permute(int64_t *idx, int64_t n, uint64_t seed, int64_t epoch, int shuffle)
{
    clnn__rng r;
    clnn__rng_seed(&r, seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull));
    if (shuffle) {
        clnn__permutation(idx, n, &r);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
}

/* ---- data-parallel training over MPI (dist.h; the contract is in clnn.h) --------------------- */
#define DIST_BUCKET_FLOATS ((size_t)1 << 20) /* 4 MB of gradients per MPI_Iallreduce */

/* The rows [lo, lo + n) of d. */
static clnn_data data_rows(const clnn_model *m, const clnn_data *d, int64_t lo, int64_t n)
{
    const clnn__mnode *in = &m->nodes[m->inputs[0]];
    const int64_t xper = clnn__numel(in->ndim, in->shape), per = out_numel(m);
    clnn_data r = *d;
    r.n = n;
    r.x = d->x + lo * xper;
    r.labels = d->labels ? d->labels + lo : NULL;
    r.targets = d->targets ? d->targets + lo * per : NULL;
    return r;
}

/* This rank's consecutive part of [first, first + n): n / size each, the first n % size ranks
 * one more. */
static void dist_shard(int64_t first, int64_t n, int64_t *lo, int64_t *count)
{
    const int64_t w = clnn__dist_size(), r = clnn__dist_rank(), base = n / w, rem = n % w;
    *count = base + (r < rem);
    *lo = first + r * base + (r < rem ? r : rem);
}

static void dist_sum_sums(sums *s)
{
    double v[2 + 2 * NMETRICS];
    v[0] = s->loss;
    v[1] = (double)s->samples;
    memcpy(v + 2, s->correct, sizeof s->correct);
    memcpy(v + 2 + NMETRICS, s->total, sizeof s->total);
    clnn__dist_sum_f64(v, sizeof v / sizeof v[0]);
    s->loss = v[0];
    s->samples = (int64_t)v[1];
    memcpy(s->correct, v + 2, sizeof s->correct);
    memcpy(s->total, v + 2 + NMETRICS, sizeof s->total);
}

/* The host buffer of the exchange: 1 + every parameter's elements (the largest use). */
static clnn_status dist_buffer(clnn_model *m)
{
    size_t need = 1;
    for (int l = 0; l < m->nlayers; l++)
        for (int k = 0; k < m->layers[l]->nparams; k++)
            need += (size_t)clnn_tensor_numel(m->layers[l]->params[k]);
    if (grow_buf((void **)&m->dist_buf, &m->dist_cap, need, sizeof(float)))
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory for the gradients");
    return CLNN_OK;
}

/* Collective: rank 0's parameters (which = 0: all of them) or the mean over the ranks of the
 * non-trainable state of trainable layers (which = 1: BatchNorm's running statistics) on every
 * rank. A rank whose device copy fails still takes part (the next agreement reports it). */
static clnn_status dist_sync_params(clnn_model *m, int which)
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
static clnn_status dist_step(clnn_model *m, const clnn_data *d, const int64_t *idx, int64_t first,
                             int64_t n, sums *s, clnn_nonfinite_action guard, int epoch,
                             int64_t step, int *skipped, clnn_status *pending)
{
    int64_t lo, mine;
    dist_shard(first, n, &lo, &mine);
    *skipped = 0;
    clnn__mgraph *mg = NULL;
    clnn_status st = *pending;
    *pending = CLNN_OK;
    if (st == CLNN_OK) /* a rank without samples still applies the update: any small graph */
        st = get_graph(m, CLNN__G_TRAIN, mine > 0 ? mine : 1, &mg);
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
        st = stage_batch(m, mg, d, idx, lo, mine);
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
            diagnose(m, mg, at, sizeof at);
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
    const host_batch own = model_stage(m);
    if (st == CLNN_OK && mine > 0)
        st = collect(m, mg, d, mine, s, &own, &loss, 0);
    *pending = st;
    return CLNN_OK;
}

static clnn_status check_fit_options(clnn_model *m, const char *fn, const clnn_fit_options *o)
{
    clnn_ctx *ctx = m->ctx;
    if (!o)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: options is NULL", fn);
    if (o->epochs < 0)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected epochs >= 0, got %d", fn, o->epochs);
    clnn_status st = check_batch_size(m, fn, o->batch_size);
    if (st)
        return st;
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected validation_split in [0, 1), got %g",
                          fn, o->validation_split);
    if (o->distributed && !clnn__dist_on())
        return clnn__fail(ctx, CLNN_ERR_STATE, "%s: distributed = 1 needs clnn_mpi_init first%s",
                          fn,
                          clnn_mpi_available() ? ""
                                               : " (and this clnn was built without MPI: "
                                                 "meson -Dmpi=enabled with libopenmpi-dev)");
    if ((unsigned)o->on_nonfinite > CLNN_NONFINITE_IGNORE)
        return clnn__fail(
            ctx, CLNN_ERR_INVALID,
            "%s: expected on_nonfinite STOP (0), SKIP_BATCH (1) or IGNORE (2), got %d", fn,
            (int)o->on_nonfinite);
    if (o->verbose < 0 || o->verbose > 2)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "%s: expected verbose 0, 1 or 2, got %d", fn,
                          o->verbose);
    if (o->initial_epoch < 0 || o->initial_epoch > o->epochs)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: expected initial_epoch in [0, epochs = %d], got %d", fn, o->epochs,
                          o->initial_epoch);
    const clnn_early_stopping *es = &o->early_stopping;
    if (es->enabled && (es->patience < 0 || !(es->min_delta >= 0)))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: early stopping needs patience >= 0 and min_delta >= 0, got %d and "
                          "%g",
                          fn, es->patience, es->min_delta);
    return CLNN_OK;
}

clnn_status clnn_model_fit(clnn_model *m, const clnn_data *train, const clnn_fit_options *o)
{
    static const char fn[] = "clnn_model_fit";
    /* Over MPI every rank must reach each agreement (clnn__dist_agree): until the setup's, a
     * failure jumps to it instead of returning. */
    const int dist = o && o->distributed && clnn__dist_on();
    int64_t *idx = NULL;
    clnn_tensor **best = NULL;
    clnn_data tr = {0}, val = {0};
    int has_val = 0, ntrain_cols = 0, lr_col = -1, monitor = -1, ck_monitor = -1;
    int64_t B = 1, GB = 1, nb = 0;
    clnn_history *h = m ? &m->history : NULL;
    const clnn_early_stopping *es = o ? &o->early_stopping : NULL;
    const clnn_checkpointing *ck = o ? &o->checkpoint : NULL;
    clnn_status st = compiled(m, fn);
    if (st == CLNN_OK)
        st = check_fit_options(m, fn, o);
    if (st == CLNN_OK)
        st = check_data(m, fn, train, 1, "training");
    if (st == CLNN_OK && o->validation_data)
        st = check_data(m, fn, o->validation_data, 1, "validation");
    if (st)
        goto setup_done;
    /* the training and validation sets: Keras's validation_split takes the last samples */
    tr = *train;
    if (o->validation_data) {
        val = *o->validation_data;
        has_val = 1;
    } else if (o->validation_split > 0) {
        int64_t split_at = (int64_t)floor((double)train->n * (1.0 - o->validation_split));
        if (split_at < 1 || split_at >= train->n) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: validation_split %g of %lld samples leaves an empty %s set", fn,
                            o->validation_split, (long long)train->n,
                            split_at < 1 ? "training" : "validation");
            goto setup_done;
        }
        tr.n = split_at;
        val = data_rows(m, train, split_at, train->n - split_at);
        has_val = 1;
    }
    /* history columns */
    h->epochs = 0;
    h->first_epoch = o->initial_epoch;
    h->columns = 0;
    history_column(h, "loss");
    for (int k = 0; k < NMETRICS; k++)
        if (m->c.metrics & METRIC_BITS[k])
            history_column(h, METRIC_NAMES[k]);
    ntrain_cols = h->columns;
    if (has_val) {
        char name[40];
        for (int c = 0; c < ntrain_cols; c++) {
            snprintf(name, sizeof name, "val_%s", h->names[c]);
            history_column(h, name);
        }
    }
    lr_col = history_column(h, "lr");
    if (es->enabled) {
        for (int c = 0; c < h->columns; c++)
            if (!strcmp(h->names[c], es->monitor))
                monitor = c;
        if (monitor < 0) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: early stopping monitors '%s', which this fit does not report "
                            "(it reports loss, the metrics%s)",
                            fn, es->monitor, has_val ? " and their val_ forms" : "");
            goto setup_done;
        }
    }
    if (ck->path && ck->best_only) {
        for (int c = 0; c < h->columns; c++)
            if (!strcmp(h->names[c], ck->monitor))
                ck_monitor = c;
        if (ck_monitor < 0) {
            st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                            "%s: the checkpoint monitors '%s', which this fit does not report", fn,
                            ck->monitor);
            goto setup_done;
        }
    }
    B = o->batch_size;
    /* over MPI a step takes a global batch of size x B samples, B on each rank */
    GB = dist ? B * clnn__dist_size() : B;
    nb = (tr.n + GB - 1) / GB;
    idx = malloc((size_t)tr.n * sizeof *idx);
    if (!idx) {
        st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
        goto setup_done;
    }
    if (m->pending_opt && !m->opt && o->initial_epoch < o->epochs) {
        /* a loaded checkpoint: make the optimizer now (it takes the saved state), so that the
         * first epoch's learning rate is the resumed one */
        clnn__mgraph *mg;
        st = get_graph(m, CLNN__G_TRAIN, tr.n < B ? tr.n : B, &mg);
    }
setup_done:
    if (dist) {
        st = clnn__dist_agree(m ? m->ctx : NULL, st, NULL, "fit");
        if (st == CLNN_OK) { /* every rank must train the same thing */
            int64_t v[] = {tr.n,
                           B,
                           val.n,
                           o->epochs,
                           o->initial_epoch,
                           o->shuffle,
                           (int64_t)o->seed,
                           clnn_model_param_count(m)},
                    lo[8], hi[8];
            static const char *const what[] = {
                "training samples", "batch size", "validation samples", "epochs", "initial epoch",
                "shuffle",          "seed",       "parameter tensors"};
            for (int i = 0; i < 8 && st == CLNN_OK; i++) {
                clnn__dist_minmax_i64(v[i], &lo[i], &hi[i]);
                if (lo[i] != hi[i])
                    st = clnn__fail(m->ctx, CLNN_ERR_INVALID,
                                    "%s: distributed: the ranks were given different %s "
                                    "(from %lld to %lld); every rank must pass the same data "
                                    "and options",
                                    fn, what[i], (long long)lo[i], (long long)hi[i]);
            }
        }
        if (st == CLNN_OK) /* every rank starts from rank 0's weights */
            st = clnn__dist_agree(m->ctx, dist_sync_params(m, 0), NULL, "fit: broadcast");
    }
    if (st) {
        free(idx);
        return st;
    }
    const int writer = !dist || clnn__dist_rank() == 0; /* files and progress */
    progress p = {o, writer && o->verbose == 1 && !o->output && isatty(STDOUT_FILENO), 0};
    double ck_best = 0, best_value = 0;
    int ck_have = 0, wait = 0, have_best = 0, stop = 0;
    clnn_status pending = CLNN_OK; /* over MPI: a failure after an agreement, for the next */
    /* the batches of training and validation (both of B samples at most), double-buffered; over
     * MPI each rank stages its shard on the main queue (stage_batch) */
    feeder feed;
    memset(&feed, 0, sizeof feed);
    const int64_t most = tr.n > val.n ? tr.n : val.n;
    if (!dist)
        feed_open(&feed, m, B < most ? B : most, 1);
    for (int epoch = o->initial_epoch; epoch < o->epochs && !stop && st == CLNN_OK; epoch++) {
        permute(idx, tr.n, o->seed, epoch, o->shuffle);
        double row[CLNN_HISTORY_MAX_COLUMNS] = {0};
        /* the rate of the epoch's first step (before the first step ever, the base rate: every
         * schedule starts there) */
        const double lr = m->opt ? clnn_optimizer_get_lr(m->opt) : m->c.optimizer.lr;
        sums s = {0};
        int64_t skipped_batches = 0;
        const double t0 = now_s();
        if (p.bar) {
            char line[64];
            snprintf(line, sizeof line, "Epoch %d/%d", epoch + 1, o->epochs);
            emit_text(&p, line, 1);
        }
        /* the epoch's first batch; each step puts the next one (none crosses the epoch's end:
         * the next order, validation, callbacks and checkpoints come first) */
        if (feed_on(&feed) && nb > 0)
            feed_put(&feed, &tr, idx, 0, tr.n < GB ? tr.n : GB);
        for (int64_t b = 0; b < nb && st == CLNN_OK; b++) {
            const int64_t first = b * GB, n = tr.n - first < GB ? tr.n - first : GB,
                          next = first + n, next_n = tr.n - next < GB ? tr.n - next : GB;
            int skipped = 0;
            st = dist ? dist_step(m, &tr, idx, first, n, &s, o->on_nonfinite, epoch, b, &skipped,
                                  &pending)
                      : train_step(m, &feed, &tr, idx, first, n, next, next_n, &s, o->on_nonfinite,
                                   epoch, b, &skipped);
            skipped_batches += skipped;
            if (st == CLNN_OK && p.bar && (now_s() - p.last_draw > 0.1 || b + 1 == nb)) {
                row[0] = s.loss / (double)s.samples;
                for (int c = 1; c < ntrain_cols; c++) {
                    int k = 0, seen = 0;
                    for (; k < NMETRICS; k++)
                        if ((m->c.metrics & METRIC_BITS[k]) && ++seen == c)
                            break;
                    row[c] = s.total[k] > 0 ? s.correct[k] / s.total[k] : 0;
                }
                if (b + 1 < nb) {
                    draw_bar(&p, b + 1, nb, now_s() - t0, h, row, ntrain_cols, 0);
                    p.last_draw = now_s();
                }
            }
        }
        /* (every rank leaves the steps alike: an agreement or the guard's common decision) */
        if (dist && st == CLNN_OK) {
            st = clnn__dist_agree(m->ctx, pending, NULL, "fit: end of the epoch");
            pending = CLNN_OK;
            if (st == CLNN_OK) {
                dist_sum_sums(&s);
                pending = dist_sync_params(m, 1); /* the mean of the running statistics */
            }
        }
        if (st)
            break;
        /* the epoch's row (NaN when every batch was skipped) */
        row[0] = s.samples ? s.loss / (double)s.samples : NAN;
        if (skipped_batches && writer)
            clnn__log(m->ctx, CLNN_LOG_WARN,
                      "fit: epoch %d: %lld of %lld batches skipped (non-finite loss or gradient)",
                      epoch + 1, (long long)skipped_batches, (long long)nb);
        for (int k = 0, c = 1; k < NMETRICS; k++)
            if (m->c.metrics & METRIC_BITS[k])
                row[c++] = s.total[k] > 0 ? s.correct[k] / s.total[k] : NAN;
        if (has_val) {
            sums v = {0};
            if (dist) { /* each rank its shard, then the sums */
                int64_t lo, count;
                dist_shard(0, val.n, &lo, &count);
                clnn_data part = data_rows(m, &val, lo, count);
                st = pending ? pending : count > 0 ? eval_pass(m, &feed, &part, B, &v) : CLNN_OK;
                pending = CLNN_OK;
                if ((st = clnn__dist_agree(m->ctx, st, NULL, "fit: validation")) == CLNN_OK)
                    dist_sum_sums(&v);
            } else {
                st = eval_pass(m, &feed, &val, B, &v);
            }
            if (st)
                break;
            row[ntrain_cols] = v.loss / (double)v.samples;
            for (int k = 0, c = ntrain_cols + 1; k < NMETRICS; k++)
                if (m->c.metrics & METRIC_BITS[k])
                    row[c++] = v.total[k] > 0 ? v.correct[k] / v.total[k] : NAN;
        }
        if (lr_col >= 0)
            row[lr_col] = lr;
        const double elapsed = now_s() - t0;
        /* from here a failure goes on to the end of the epoch (the agreement over MPI) */
        st = pending;
        pending = CLNN_OK;
        if (st == CLNN_OK)
            st = history_row(m, row);
        if (st == CLNN_OK && o->verbose && writer) {
            if (p.bar) {
                draw_bar(&p, nb, nb, elapsed, h, row, h->columns, 1);
            } else {
                char line[1024], vals[640], tm[64];
                fmt_values(vals, sizeof vals, h, row, h->columns);
                fmt_time(tm, sizeof tm, elapsed, nb);
                snprintf(line, sizeof line, "Epoch %d/%d - %lld/%lld - %s%s", epoch + 1, o->epochs,
                         (long long)nb, (long long)nb, tm, vals);
                emit_text(&p, line, 1);
            }
        }
        if (st == CLNN_OK && !m->c.optimizer.schedule.per_update)
            clnn_optimizer_schedule_step(m->opt);
        if (st == CLNN_OK && o->history_csv && writer) {
            char err[512];
            if ((st = clnn_history_write_csv(h, o->history_csv, err, sizeof err)) != CLNN_OK)
                clnn__fail(m->ctx, st, "%s: %s", fn, err);
        }
        if (st == CLNN_OK && ck->path) {
            int save = 1;
            if (ck_monitor >= 0) {
                double v = row[ck_monitor];
                int down = monitor_improves_down(ck->monitor);
                save = !ck_have || (down ? v < ck_best : v > ck_best);
                if (save) {
                    ck_best = v;
                    ck_have = 1;
                }
            }
            if (save && writer)
                st = ck->full ? clnn_model_save_checkpoint(m, ck->path, epoch + 1)
                              : clnn_model_save(m, ck->path);
        }
        if (st == CLNN_OK && monitor >= 0) {
            double v = row[monitor];
            int down = monitor_improves_down(es->monitor);
            int better = !have_best ||
                         (down ? v < best_value - es->min_delta : v > best_value + es->min_delta);
            if (better) {
                best_value = v;
                have_best = 1;
                wait = 0;
                if (es->restore_best_weights)
                    st = snapshot(m, &best, 0);
            } else if (++wait >= (es->patience > 0 ? es->patience : 1)) {
                stop = 1;
                if (es->restore_best_weights && best)
                    st = snapshot(m, &best, 1);
            }
        }
        if (st == CLNN_OK && o->on_epoch_end && o->on_epoch_end(o->callback_user, epoch, h))
            stop = 1;
        if (dist) /* a failed write or copy on one rank, and a callback's stop, reach them all */
            st = clnn__dist_agree(m->ctx, st, &stop, "fit: end of the epoch");
    }
    feed_close(&feed);
    snapshot_free(m, best);
    free(idx);
    return st;
}

/* ---- tuning ----------------------------------------------------------------------------------- */
/* The training graph of batch runs under clnn_graph_tune with the batch staged as a training
 * step would; parameters (BatchNorm's running statistics among them) are saved first and put
 * back after, so tuning leaves the model as it was. */
clnn_status clnn_model_tune(clnn_model *m, const clnn_data *batch,
                            const clnn_conv_tune_options *options, clnn_conv_tune_report *report)
{
    static const char fn[] = "clnn_model_tune";
    clnn_status st = compiled(m, fn);
    if (st == CLNN_OK)
        st = check_data(m, fn, batch, 1, "batch");
    if (st)
        return st;
    int np = clnn_model_param_count(m);
    float **saved = calloc((size_t)np + 1, sizeof *saved);
    if (!saved)
        return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
    int nsaved = 0; /* parameters read back whole */
    for (int i = 0; i < np && !st; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        size_t bytes = clnn_tensor_bytes(p);
        if (!(saved[i] = malloc(bytes ? bytes : 1)))
            st = clnn__fail(m->ctx, CLNN_ERR_NOMEM, "%s: out of host memory", fn);
        else if (!(st = clnn_tensor_read(p, saved[i], bytes)))
            nsaved++;
    }
    clnn__mgraph *mg = NULL;
    if (st == CLNN_OK)
        st = get_graph(m, CLNN__G_TRAIN, batch->n, &mg);
    if (st == CLNN_OK)
        st = clnn__optimizer_attach(m->opt, mg->g);
    if (st == CLNN_OK)
        st = stage_batch(m, mg, batch, NULL, 0, batch->n);
    if (st == CLNN_OK)
        st = clnn_graph_set_run_count(mg->g, m->train_steps);
    if (st == CLNN_OK)
        st = clnn_graph_tune(mg->g, options, report);
    for (int i = 0; i < np; i++) {
        clnn_tensor *p = clnn_model_param(m, i);
        if (i < nsaved) {
            clnn_status ws = clnn_tensor_write(p, saved[i], clnn_tensor_bytes(p));
            st = st ? st : ws;
        }
        free(saved[i]);
    }
    free(saved);
    return st;
}
