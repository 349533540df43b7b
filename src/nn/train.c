/* train.c — compile, evaluate, predict, train_on_batch and tune of a model: the checks of
 * options and data, a training step and an evaluation pass (both also run by fit).
 *
 * A model keeps a few device graphs, one per (use, batch size): training (with the loss, its
 * backward and the optimizer), evaluation (loss, no backward, evaluation mode) and prediction
 * (output only). An epoch of N samples at batch B uses the graph of B and, when B does not
 * divide N, the graph of the last partial batch: every graph binds the same parameter tensors, and
 * the one optimizer is attached to whichever training graph runs, so its moments carry over.
 * Per batch the host runs the graph and the optimizer step and reads the batch loss (and the
 * outputs when a metric needs them) — the only synchronisation; the samples (in the epoch's
 * order) are double-buffered: the next batch is gathered on the host and uploaded on a second
 * command queue while the device computes this one.
 *
 * Not here (train.h declares what they share): fit itself — its options, the epoch loop, early
 * stopping, checkpoints and callbacks (fit.c), the device graphs themselves (graphs.c), the
 * staging and double-buffered upload of batches (feed.c), the accuracy metrics (metrics.c), the
 * history and its CSV file (history.c), the progress output (progress.c) and the data-parallel
 * step over MPI (fit_dist.c). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

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

static const char *loss_name(clnn_loss_kind k)
{
    static const char *const names[] = {
        "categorical_crossentropy", "sparse_categorical_crossentropy", "cross_entropy", "mse",
        "binary_crossentropy",      "binary_crossentropy_logits"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
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
    clnn__stage_wait(m);
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
    if (clnn__loss_is_categorical(c->loss) && (o->ndim != 1 || o->shape[0] < 2))
        return clnn__fail(m->ctx, CLNN_ERR_SHAPE,
                          "%s: the %s loss needs an output of (classes) with at least 2 classes, "
                          "the model's output is %s",
                          fn, loss_name(c->loss), sbuf);
    const unsigned argmax_metrics = CLNN_METRIC_CATEGORICAL_ACCURACY |
                                    CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY |
                                    (clnn__loss_is_binary(c->loss) ? 0u : CLNN_METRIC_ACCURACY);
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
clnn_status clnn__check_data(clnn_model *m, const char *fn, const clnn_data *d, int need_target,
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
    const int64_t per = clnn__out_numel(m);
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
    if (d->labels && !d->targets && !clnn__loss_is_categorical(loss) && per != 1)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: the %s loss on an output of %s needs float targets, not labels "
                          "(labels fit an output of one value)",
                          fn, loss_name(loss), clnn__shape_str(o->ndim, o->shape, s1, sizeof s1));
    const unsigned binary_metrics =
        CLNN_METRIC_BINARY_ACCURACY | (clnn__loss_is_binary(loss) ? CLNN_METRIC_ACCURACY : 0u);
    if ((m->c.metrics & binary_metrics) && d->labels && !d->targets && per != 1)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "%s: binary accuracy compares every output value with its target: an "
                          "output of %s needs float targets, not labels",
                          fn, clnn__shape_str(o->ndim, o->shape, s1, sizeof s1));
    if (d->labels && !(d->targets && !clnn__target_is_labels(m))) {
        int32_t lo = 0, hi = clnn__loss_is_categorical(loss) ? (int32_t)o->shape[0] - 1 : 1;
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

/* ---- steps: training and evaluation --------------------------------------------------------- */
/* Reads the batch loss (and the outputs when metrics need them) and adds them to s; h: the
 * batch's host copy (labels and targets); known_loss: the loss was read already, outputs_read:
 * the outputs too, into stage_out (read_early). */
clnn_status clnn__collect_batch(clnn_model *m, clnn__mgraph *mg, const clnn_data *d, int64_t n,
                                clnn__sums *s, const clnn__host_batch *h, const float *known_loss,
                                int outputs_read)
{
    float loss = known_loss ? *known_loss : 0.0f;
    clnn_status st = known_loss ? CLNN_OK : clnn_tensor_read(mg->loss, &loss, sizeof loss);
    if (st)
        return st;
    s->loss += (double)loss * (double)n;
    s->samples += n;
    if (m->c.metrics) {
        const int64_t per = clnn__out_numel(m);
        if (clnn__grow_buf((void **)&m->stage_out, &m->stage_cap_out, (size_t)(n * per),
                           sizeof(float)))
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
        if (!outputs_read &&
            (st = clnn_tensor_read(mg->output, m->stage_out, (size_t)(n * per) * 4)) != CLNN_OK)
            return st;
        clnn__metric_batch(m, s, m->stage_out, n, d->labels ? h->l : NULL,
                           d->targets || !d->labels ? h->t : NULL);
    }
    return CLNN_OK;
}

/* After a non-finite loss or gradient norm: the first layer (in model order) whose parameters are
 * not finite (they poison every gradient upstream), else the first whose gradients are not, into
 * buf. */
void clnn__diagnose_nonfinite(clnn_model *m, clnn__mgraph *mg, char *buf, size_t size)
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
static clnn_status read_early(clnn_model *m, clnn__mgraph *mg, int64_t n, float *loss,
                              cl_event *done)
{
    clnn_status st;
    if (m->c.metrics) {
        const int64_t per = clnn__out_numel(m);
        if (clnn__grow_buf((void **)&m->stage_out, &m->stage_cap_out, (size_t)(n * per),
                           sizeof(float)))
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "model: out of host memory");
        if ((st = clnn__tensor_read_async(mg->output, m->stage_out, NULL)))
            return st;
    }
    return clnn__tensor_read_async(mg->loss, loss, done);
}

/* Waits for done (released) after flushing the queue */
static clnn_status wait_read(clnn_model *m, cl_event done)
{
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
clnn_status clnn__train_step(clnn_model *m, clnn__feeder *f, const clnn_data *d, const int64_t *idx,
                             int64_t first, int64_t n, int64_t next_first, int64_t next_n,
                             clnn__sums *s, clnn_nonfinite_action guard, int epoch, int64_t step,
                             int *skipped)
{
    clnn__mgraph *mg;
    if (skipped)
        *skipped = 0;
    clnn_status st = clnn__model_get_graph(m, CLNN__G_TRAIN, n, &mg);
    if (st == CLNN_OK)
        st = clnn__optimizer_attach(m->opt, mg->g);
    clnn__host_batch own;
    const clnn__host_batch *h = NULL;
    if (st == CLNN_OK)
        st = clnn__load_batch(m, f, mg, d, idx, first, n, &own, &h);
    /* dropout masks depend on the model's step count, whichever graph runs the step */
    if (st == CLNN_OK)
        st = clnn_graph_set_run_count(mg->g, m->train_steps);
    if (st == CLNN_OK)
        st = clnn_graph_run(mg->g);
    /* the next batch is gathered and uploaded while the device computes this one */
    if (st == CLNN_OK && clnn__feed_on(f) && next_n > 0)
        clnn__feed_put(f, d, idx, next_first, next_n);
    /* the loss and the outputs are read as soon as the forward and backward passes are done,
     * and the update is enqueued behind them before the host waits: the device updates while
     * the host works on metrics and the next batch (one wait per step). With the guard the
     * gradient norm comes back with the loss, and the update skips itself on the device when
     * either is not finite (clnn__optimizer_step_guarded). */
    float loss = 0, nv[2] = {0, 0};
    const int guarded = guard != CLNN_NONFINITE_IGNORE;
    cl_event done = NULL;
    if (st == CLNN_OK && guarded)
        st = clnn__optimizer_norm_async(m->opt, nv, mg->loss);
    if (st == CLNN_OK)
        st = read_early(m, mg, n, &loss, &done);
    if (st == CLNN_OK)
        st = guarded ? clnn__optimizer_step_guarded(m->opt) : clnn_optimizer_step(m->opt);
    if (done) {
        clnn_status wst = wait_read(m, done);
        st = st ? st : wst;
    }
    if (st != CLNN_OK) {
        clFinish(m->ctx->queue); /* the reads into loss, nv and stage_out may be pending */
        return st;
    }
    if (guarded && !(isfinite(loss) && isfinite(nv[1]))) {
        const float norm = nv[1];
        clnn__optimizer_unstep(m->opt); /* the device skipped the update */
        m->train_steps++;               /* the step happened, without an update */
        if (guard == CLNN_NONFINITE_SKIP_BATCH) {
            if (skipped)
                *skipped = 1;
            return CLNN_OK;
        }
        char where[400];
        clnn__diagnose_nonfinite(m, mg, where, sizeof where);
        return clnn__fail(m->ctx, CLNN_ERR_NONFINITE,
                          "fit: %s at epoch %d, step %lld (loss %g, gradient norm %g): %s",
                          isfinite(loss) ? "a non-finite gradient" : "a non-finite loss", epoch + 1,
                          (long long)step + 1, (double)loss, (double)norm, where);
    }
    if (st == CLNN_OK)
        m->train_steps++;
    if (st == CLNN_OK)
        st = clnn__collect_batch(m, mg, d, n, s, h, &loss, 1);
    return st;
}

/* Loss and metrics over every sample of d, in order, in evaluation mode; f: a feeder (on or off)
 * with room for batch samples and the target, its slots all taken. */
clnn_status clnn__eval_pass(clnn_model *m, clnn__feeder *f, const clnn_data *d, int64_t batch,
                            clnn__sums *s)
{
    memset(s, 0, sizeof *s);
    if (clnn__feed_on(f))
        clnn__feed_put(f, d, NULL, 0, d->n < batch ? d->n : batch);
    for (int64_t first = 0; first < d->n; first += batch) {
        const int64_t n = d->n - first < batch ? d->n - first : batch, next = first + n,
                      next_n = d->n - next < batch ? d->n - next : batch;
        clnn__mgraph *mg;
        clnn__host_batch own;
        const clnn__host_batch *h = NULL;
        clnn_status st = clnn__model_get_graph(m, CLNN__G_EVAL, n, &mg);
        if (st == CLNN_OK)
            st = clnn__load_batch(m, f, mg, d, NULL, first, n, &own, &h);
        if (st == CLNN_OK)
            st = clnn_graph_run(mg->g);
        if (st == CLNN_OK && clnn__feed_on(f) && next_n > 0)
            clnn__feed_put(f, d, NULL, next, next_n);
        if (st == CLNN_OK)
            st = clnn__collect_batch(m, mg, d, n, s, h, NULL, 0);
        if (st)
            return st;
    }
    return CLNN_OK;
}

clnn_status clnn__check_batch_size(clnn_model *m, const char *fn, int64_t batch)
{
    if (batch < 1 || batch > ((int64_t)1 << 31))
        return clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: expected a batch size >= 1, got %lld", fn,
                          (long long)batch);
    return CLNN_OK;
}

clnn_status clnn__check_compiled(clnn_model *m, const char *fn)
{
    clnn_status st = model_usable(m, fn);
    if (st == CLNN_OK && !m->compiled)
        st = clnn__fail(m->ctx, CLNN_ERR_STATE,
                        "%s: the model is not compiled (call clnn_model_compile first)", fn);
    return st;
}

/* ---- evaluate, predict, train_on_batch ------------------------------------------------------ */
static double first_accuracy(const clnn_model *m, const clnn__sums *s)
{
    for (int k = 0; k < CLNN__NMETRICS; k++)
        if ((m->c.metrics & clnn__metric_bits[k]) && s->total[k] > 0)
            return s->correct[k] / s->total[k];
    return NAN;
}

clnn_status clnn_model_evaluate(clnn_model *m, const clnn_data *data, int64_t batch_size,
                                clnn_eval_result *result)
{
    static const char fn[] = "clnn_model_evaluate";
    clnn_status st = clnn__check_compiled(m, fn);
    if (st == CLNN_OK)
        st = clnn__check_batch_size(m, fn, batch_size);
    if (st == CLNN_OK)
        st = clnn__check_data(m, fn, data, 1, "evaluation");
    if (st == CLNN_OK && !result)
        st = clnn__fail(m->ctx, CLNN_ERR_INVALID, "%s: result is NULL", fn);
    if (st)
        return st;
    clnn__sums s;
    clnn__feeder f;
    clnn__feed_open(&f, m, data->n < batch_size ? data->n : batch_size, 1);
    st = clnn__eval_pass(m, &f, data, batch_size, &s);
    clnn__feed_close(&f);
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
        st = clnn__check_data(m, fn, d, 0, "input");
    if (st)
        return st;
    const int64_t per = clnn__out_numel(m), n = d->n;
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
        st = clnn__check_batch_size(m, fn, batch_size);
    if (st)
        return st;
    const int64_t per = clnn__out_numel(m);
    clnn__feeder f;
    clnn__feed_open(&f, m, n < batch_size ? n : batch_size, 0);
    if (clnn__feed_on(&f))
        clnn__feed_put(&f, &d, NULL, 0, n < batch_size ? n : batch_size);
    for (int64_t first = 0; first < n && st == CLNN_OK; first += batch_size) {
        const int64_t b = n - first < batch_size ? n - first : batch_size, next = first + b,
                      next_b = n - next < batch_size ? n - next : batch_size;
        clnn__mgraph *mg;
        clnn__host_batch own;
        const clnn__host_batch *h;
        st = clnn__model_get_graph(m, CLNN__G_PREDICT, b, &mg);
        if (st == CLNN_OK)
            st = clnn__load_batch(m, &f, mg, &d, NULL, first, b, &own, &h);
        if (st == CLNN_OK)
            st = clnn_graph_run(mg->g);
        if (st == CLNN_OK && clnn__feed_on(&f) && next_b > 0)
            clnn__feed_put(&f, &d, NULL, next, next_b);
        if (st == CLNN_OK)
            st = clnn_tensor_read(mg->output, out + first * per, (size_t)(b * per) * 4);
    }
    clnn__feed_close(&f);
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
    const int64_t per = clnn__out_numel(m);
    clnn__mgraph *mg;
    st = clnn__model_get_graph(m, CLNN__G_FORWARD_TRAIN, n, &mg);
    if (st == CLNN_OK)
        st = clnn__stage_batch(m, mg, &d, NULL, 0, n);
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
    clnn_status st = clnn__check_compiled(m, fn);
    if (st == CLNN_OK)
        st = clnn__check_data(m, fn, batch, 1, "batch");
    if (st)
        return st;
    clnn__sums s = {0};
    if ((st = clnn__train_step(m, NULL, batch, NULL, 0, batch->n, 0, 0, &s, CLNN_NONFINITE_IGNORE,
                               0, 0, NULL)) != CLNN_OK)
        return st;
    if (loss)
        *loss = s.loss / (double)s.samples;
    return CLNN_OK;
}

/* ---- tuning -----------------------------------------------------------------------------------
 */
/* The training graph of batch runs under clnn_graph_tune with the batch staged as a training
 * step would; parameters (BatchNorm's running statistics among them) are saved first and put
 * back after, so tuning leaves the model as it was. */
clnn_status clnn_model_tune(clnn_model *m, const clnn_data *batch,
                            const clnn_conv_tune_options *options, clnn_conv_tune_report *report)
{
    static const char fn[] = "clnn_model_tune";
    clnn_status st = clnn__check_compiled(m, fn);
    if (st == CLNN_OK)
        st = clnn__check_data(m, fn, batch, 1, "batch");
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
        st = clnn__model_get_graph(m, CLNN__G_TRAIN, batch->n, &mg);
    if (st == CLNN_OK)
        st = clnn__optimizer_attach(m->opt, mg->g);
    if (st == CLNN_OK)
        st = clnn__stage_batch(m, mg, batch, NULL, 0, batch->n);
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
