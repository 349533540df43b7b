/* ref_norm.c — the references of ref_norm.h: batchnorm, layernorm, embedding and its gradient,
 * in double precision, two-pass statistics, no tricks. */
#include "ref_norm.h"

#include <math.h>
#include <string.h>

// x: (N, C, S...) -> y: (N, C, S...)
int ref_batchnorm(const double *x, const ref_shape *sx, const double *gamma, const double *beta,
                  const double *running_mean, const double *running_var, const ref_bn_cfg *cfg,
                  double *y, ref_shape *sy, double *new_mean, double *new_var)
{
    if (sx->ndim < 2)
        return 0;
    *sy = *sx;
    if (!y)
        return 1;
    int64_t N = sx->dims[0], C = sx->dims[1], S = 1;
    for (int i = 2; i < sx->ndim; i++)
        S *= sx->dims[i];
    int64_t n = N * S;
    for (int64_t c = 0; c < C; c++) {
        double mean = 0.0, var = 0.0;
        if (cfg->training) {
            for (int64_t b = 0; b < N; b++)
                for (int64_t s = 0; s < S; s++)
                    mean += x[(b * C + c) * S + s];
            mean /= (double)n;
            for (int64_t b = 0; b < N; b++)
                for (int64_t s = 0; s < S; s++) {
                    double d = x[(b * C + c) * S + s] - mean;
                    var += d * d;
                }
            double m2 = var;
            var /= (double)n;
            if (new_mean && new_var) {
                double batch_var = cfg->unbiased ? m2 / (double)(n - 1) : var;
                new_mean[c] = (1.0 - cfg->momentum) * running_mean[c] + cfg->momentum * mean;
                new_var[c] = (1.0 - cfg->momentum) * running_var[c] + cfg->momentum * batch_var;
            }
        } else {
            mean = running_mean[c];
            var = running_var[c];
            if (new_mean && new_var) {
                new_mean[c] = running_mean[c];
                new_var[c] = running_var[c];
            }
        }
        double inv = 1.0 / sqrt(var + cfg->eps);
        double g = gamma ? gamma[c] : 1.0, b0 = beta ? beta[c] : 0.0;
        for (int64_t b = 0; b < N; b++)
            for (int64_t s = 0; s < S; s++) {
                int64_t i = (b * C + c) * S + s;
                y[i] = (x[i] - mean) * inv * g + b0;
            }
    }
    return 1;
}

// x: (M, K) -> y: (M, K), K = the product of the last naxes axes
int ref_layernorm(const double *x, const ref_shape *sx, int naxes, const double *gamma,
                  const double *beta, double eps, double *y, ref_shape *sy)
{
    if (naxes < 1 || naxes > sx->ndim)
        return 0;
    *sy = *sx;
    if (!y)
        return 1;
    int64_t K = 1;
    for (int i = sx->ndim - naxes; i < sx->ndim; i++)
        K *= sx->dims[i];
    int64_t M = ref_numel(sx) / K;
    for (int64_t m = 0; m < M; m++) {
        const double *row = x + m * K;
        double mean = 0.0, var = 0.0;
        for (int64_t k = 0; k < K; k++)
            mean += row[k];
        mean /= (double)K;
        for (int64_t k = 0; k < K; k++)
            var += (row[k] - mean) * (row[k] - mean);
        var /= (double)K;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t k = 0; k < K; k++)
            y[m * K + k] =
                (row[k] - mean) * inv * (gamma ? gamma[k] : 1.0) + (beta ? beta[k] : 0.0);
    }
    return 1;
}

// indices: (P...), w: (V, D) -> y: (P..., D)
int ref_embedding(const double *indices, const ref_shape *si, const double *w, const ref_shape *sw,
                  double *y, ref_shape *sy)
{
    if (sw->ndim != 2 || si->ndim + 1 > REF_MAX_DIMS)
        return 0;
    int64_t V = sw->dims[0], D = sw->dims[1], P = ref_numel(si);
    *sy = *si;
    sy->dims[sy->ndim++] = D;
    if (!y)
        return 1;
    for (int64_t p = 0; p < P; p++) {
        double v = indices[p];
        for (int64_t d = 0; d < D; d++)
            y[p * D + d] = (v >= 0 && v < (double)V) ? w[(int64_t)v * D + d] : 0.0;
    }
    return 1;
}

// indices: (n), dy: (n, D) -> dw: (V, D)
void ref_embedding_backward(const double *indices, int64_t n, const double *dy, int64_t V,
                            int64_t D, int padding, double *dw)
{
    memset(dw, 0, (size_t)(V * D) * sizeof *dw);
    for (int64_t p = 0; p < n; p++) {
        double v = indices[p];
        if (v < 0 || v >= (double)V || (int64_t)v == padding)
            continue;
        for (int64_t d = 0; d < D; d++)
            dw[(int64_t)v * D + d] += dy[p * D + d];
    }
}
