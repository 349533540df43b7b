/* metrics.c — the accuracy metrics a model can be compiled with (accuracy, categorical,
 * sparse categorical and binary accuracy): their names, and the counting of correct predictions in
 * one batch of outputs. The loss, and the sums over a pass and the ranks, are in train.c and
 * fit_dist.c. */
#include "train.h"

const unsigned clnn__metric_bits[CLNN__NMETRICS] = {
    CLNN_METRIC_ACCURACY, CLNN_METRIC_CATEGORICAL_ACCURACY, CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY,
    CLNN_METRIC_BINARY_ACCURACY};
const char *const clnn__metric_names[CLNN__NMETRICS] = {
    "accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy"};

/* Adds one batch of outputs (n x per) to the metric sums; labels or targets (n x per). */
void clnn__metric_batch(const clnn_model *m, clnn__sums *s, const float *out, int64_t n,
                        const int32_t *labels, const float *targets)
{
    const unsigned bits = m->c.metrics;
    const int64_t per = clnn__out_numel(m);
    const int64_t cls = m->nodes[m->output].shape[m->nodes[m->output].ndim - 1];
    for (int k = 0; k < CLNN__NMETRICS; k++) {
        if (!(bits & clnn__metric_bits[k]))
            continue;
        int binary =
            clnn__metric_bits[k] == CLNN_METRIC_BINARY_ACCURACY ||
            (clnn__metric_bits[k] == CLNN_METRIC_ACCURACY && clnn__loss_is_binary(m->c.loss));
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
