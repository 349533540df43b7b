/* ref_loss.c — the double-precision host references of the losses (see ref_loss.h): plain loops,
 * the formulas of PyTorch (and Keras for categorical_crossentropy) written out directly. */
#include "ref_loss.h"

#include <math.h>

static int out_shape(const ref_shape *per, int reduction, ref_shape *sy)
{
    if (reduction < 0 || reduction > 2)
        return 0;
    if (reduction == 2)
        *sy = *per;
    else
        sy->ndim = 0;
    return 1;
}

typedef double (*elem_fn)(double p, double t);

static double mse(double p, double t)
{
    return (p - t) * (p - t);
}

static double bce(double p, double t)
{
    return -(t * fmax(log(p), -100.0) + (1.0 - t) * fmax(log1p(-p), -100.0));
}

/* log(1 + e^x) - x t = max(x, 0) - x t + log1p(e^-|x|) */
static double bce_logits(double x, double t)
{
    return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
}

static int elem(elem_fn f, const double *p, const double *t, const ref_shape *s, int reduction,
                double *y, ref_shape *sy)
{
    if (!out_shape(s, reduction, sy))
        return 0;
    if (!y)
        return 1;
    int64_t n = ref_numel(s);
    if (reduction == 2) {
        for (int64_t i = 0; i < n; i++)
            y[i] = f(p[i], t[i]);
        return 1;
    }
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++)
        acc += f(p[i], t[i]);
    y[0] = reduction == 0 ? acc / (double)n : acc;
    return 1;
}

int ref_mse_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy)
{
    return elem(mse, p, t, s, reduction, y, sy);
}

int ref_bce_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy)
{
    return elem(bce, p, t, s, reduction, y, sy);
}

int ref_bce_logits_loss(const double *x, const double *t, const ref_shape *s, int reduction,
                        double *y, ref_shape *sy)
{
    return elem(bce_logits, x, t, s, reduction, y, sy);
}

/* -sum_c t log(clip(p / sum_c p)) of one row of C */
static double cce_row(const double *p, const double *t, int64_t C)
{
    const double eps = 1e-7;
    double sum = 0.0, acc = 0.0;
    for (int64_t c = 0; c < C; c++)
        sum += p[c];
    for (int64_t c = 0; c < C; c++)
        acc += t[c] * log(fmin(fmax(p[c] / sum, eps), 1.0 - eps));
    return -acc;
}

/* (1 - eps) (lse - x_label) + eps mean_c(lse - x_c) of one row of C */
static double ce_row(const double *x, int64_t label, double eps, int64_t C)
{
    double m = x[0], se = 0.0, neg_logp_sum = 0.0;
    for (int64_t c = 1; c < C; c++)
        m = fmax(m, x[c]);
    for (int64_t c = 0; c < C; c++)
        se += exp(x[c] - m);
    const double lse = m + log(se);
    for (int64_t c = 0; c < C; c++)
        neg_logp_sum += lse - x[c];
    return (1.0 - eps) * (lse - x[label]) + eps * neg_logp_sum / (double)C;
}

int ref_cce_loss(const double *p, const double *t, const ref_shape *s, int reduction, double *y,
                 ref_shape *sy)
{
    if (s->ndim != 2)
        return 0;
    const int64_t N = s->dims[0], C = s->dims[1];
    ref_shape per = {1, {N}};
    if (!out_shape(&per, reduction, sy))
        return 0;
    if (!y)
        return 1;
    double acc = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double l = cce_row(p + n * C, t + n * C, C);
        if (reduction == 2)
            y[n] = l;
        acc += l;
    }
    if (reduction != 2)
        y[0] = reduction == 0 ? acc / (double)N : acc;
    return 1;
}

int ref_cross_entropy(const double *x, const ref_shape *sx, const double *labels,
                      const ref_shape *sl, double eps, int reduction, double *y, ref_shape *sy)
{
    if (sx->ndim != 2 || sl->ndim != 1 || sl->dims[0] != sx->dims[0] || !(eps >= 0.0 && eps < 1.0))
        return 0;
    const int64_t N = sx->dims[0], C = sx->dims[1];
    ref_shape per = {1, {N}};
    if (!out_shape(&per, reduction, sy))
        return 0;
    if (!y)
        return 1;
    double acc = 0.0, counted = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const int64_t label = (int64_t)labels[n];
        const int ignored = label < 0 || label >= C;
        double l = ignored ? 0.0 : ce_row(x + n * C, label, eps, C);
        if (reduction == 2)
            y[n] = l;
        acc += l;
        counted += !ignored;
    }
    if (reduction != 2)
        y[0] = reduction == 0 ? acc / counted : acc; /* no counted sample: 0 / 0 = NaN */
    return 1;
}
