/* ops_ref.c — the host side of clnn-bench's `ops` suite: each op case's inputs and the
 * double-precision references that check the device's results before they are timed: direct
 * convolution (sampled entries), max pooling, batch normalisation in training mode and
 * cross-entropy on logits (every entry), forward and backward with loss = sum(y * r).
 * Not here: graphs, timing and output (suite_ops.c). */
#include "ops.h"

#define BN_TOL 1e-4 /* batchnorm outputs and input gradients, relative to their magnitude */
#define CE_TOL 1e-5 /* cross-entropy loss, and its gradient relative to 1/N */

void op_check_value(op_check *c, const char *what, size_t i, double got, double ref, double scale,
                    double tol)
{
    double err = fabs(got - ref) / (scale > 0 ? scale : 1);
    double ratio = err == 0 ? 0 : tol > 0 ? err / tol : INFINITY; /* NaN stays NaN */
    if (isnan(c->ratio) || ratio <= c->ratio)
        return; /* the first NaN, or the worst ratio, is kept */
    c->ratio = ratio;
    c->err = err;
    c->tol = tol;
    snprintf(c->where, sizeof c->where, "%s[%zu] = %.8g, expected %.8g", what, i, got, ref);
}

static float *alloc_floats(size_t n, int *ok)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    *ok = *ok && p;
    return p;
}

int op_data_init(op_data *d, const op_case *c, int64_t n, rng *r)
{
    *d = (op_data){.c = c, .n = n, .oh = 1, .ow = 1, .stride = c->stride > 1 ? c->stride : 1};
    size_t N = (size_t)n, C = (size_t)c->c, H = (size_t)c->h, W = (size_t)c->w;
    d->nx = N * C * H * W;
    d->ny = d->nx;
    if (c->kind == OP_CONV) {
        d->oh = (c->h + 2 * c->pad - c->r) / d->stride + 1;
        d->ow = (c->w + 2 * c->pad - c->s) / d->stride + 1;
        d->nw = (size_t)(c->k * c->c * c->r * c->s);
        d->nb = (size_t)c->k;
        d->ny = N * (size_t)(c->k * d->oh * d->ow);
    } else if (c->kind == OP_MAXPOOL) {
        d->oh = c->h / c->r;
        d->ow = c->w / c->s;
        d->ny = N * C * (size_t)(d->oh * d->ow);
    } else if (c->kind == OP_BATCHNORM) {
        d->oh = c->h, d->ow = c->w;
        d->nw = d->nb = C;
    } else {
        d->ny = 1; /* the mean loss */
    }
    int ok = 1;
    d->x = alloc_floats(d->nx, &ok), d->gx = alloc_floats(d->nx, &ok);
    d->y = alloc_floats(d->ny, &ok);
    if (d->nw)
        d->w = alloc_floats(d->nw, &ok), d->gw = alloc_floats(d->nw, &ok);
    if (d->nb)
        d->bias = alloc_floats(d->nb, &ok), d->gb = alloc_floats(d->nb, &ok);
    if (c->kind != OP_CROSS_ENTROPY)
        d->r = alloc_floats(d->ny, &ok);
    if (c->kind == OP_BATCHNORM)
        d->run_mean = alloc_floats(C, &ok), d->run_var = alloc_floats(C, &ok);
    if (c->kind == OP_CROSS_ENTROPY)
        ok = ok && (d->labels = malloc(N * sizeof *d->labels));
    if (!ok || (c->kind == OP_MAXPOOL && d->nx > (size_t)1 << 24))
        return -1;

    if (c->kind == OP_MAXPOOL) { /* distinct values (an odd multiplier permutes 0 .. 2^24 - 1),
                                  * so every window has one maximum; exact in f32 */
        for (size_t i = 0; i < d->nx; i++)
            d->x[i] = (float)((i * 2654435761u) & 0xffffff) / 8388608.0f - 1.0f;
    } else {
        float lo = c->kind == OP_CROSS_ENTROPY ? -4 : -1, hi = c->kind == OP_BATCHNORM ? 3 : -lo;
        rng_fill(r, d->x, d->nx, lo, hi); /* batchnorm: mean 1, so the variance is not E[x^2] */
    }
    if (d->w && c->kind == OP_BATCHNORM)
        rng_fill(r, d->w, d->nw, 0.5f, 1.5f); /* gamma */
    else if (d->w)
        rng_fill(r, d->w, d->nw, -1, 1);
    if (d->bias)
        rng_fill(r, d->bias, d->nb, -0.5f, 0.5f);
    if (d->r)
        rng_fill(r, d->r, d->ny, -1, 1);
    for (size_t i = 0; d->labels && i < N; i++)
        d->labels[i] = (int32_t)(rng_next(r) % (uint64_t)C);
    return 0;
}

void op_data_free(op_data *d)
{
    float *arrays[] = {d->x,  d->w,  d->bias, d->r,        d->y,
                       d->gx, d->gw, d->gb,   d->run_mean, d->run_var};
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        free(arrays[i]);
    free(d->labels);
    *d = (op_data){0};
}

/* ---- convolution: x (N, C, H, W), w (K, C, R, S), bias (K) -> y (N, K, OH, OW), stride st --- */
/* One output y[i] and sum |terms| (its error scale). */
static double conv_forward_at(const op_data *d, size_t i, double *scale)
{
    const op_case *c = d->c;
    int64_t C = c->c, H = c->h, W = c->w, K = c->k, R = c->r, S = c->s, OH = d->oh, OW = d->ow;
    int64_t q = (int64_t)i % OW, p = (int64_t)i / OW % OH, k = (int64_t)i / (OW * OH) % K;
    int64_t n = (int64_t)i / (OW * OH * K), st = d->stride;
    double acc = d->bias[k], mag = fabs(acc);
    for (int64_t ch = 0; ch < C; ch++)
        for (int64_t u = 0; u < R; u++)
            for (int64_t v = 0; v < S; v++) {
                int64_t h = p * st + u - c->pad, w = q * st + v - c->pad;
                if (h < 0 || h >= H || w < 0 || w >= W)
                    continue;
                double t = (double)d->x[((n * C + ch) * H + h) * W + w] *
                           d->w[((k * C + ch) * R + u) * S + v];
                acc += t, mag += fabs(t);
            }
    *scale = mag;
    return acc;
}

/* dw[i] = sum over n, p, q of dy[n, k, p, q] x[n, c, p st + u - pad, q st + v - pad], dy = r. */
static double conv_dw_at(const op_data *d, size_t i, double *scale)
{
    const op_case *c = d->c;
    int64_t C = c->c, H = c->h, W = c->w, K = c->k, R = c->r, S = c->s, OH = d->oh, OW = d->ow;
    int64_t v = (int64_t)i % S, u = (int64_t)i / S % R, ch = (int64_t)i / (S * R) % C;
    int64_t k = (int64_t)i / (S * R * C), st = d->stride;
    double acc = 0, mag = 0;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t p = 0; p < OH; p++) {
            int64_t h = p * st + u - c->pad;
            if (h < 0 || h >= H)
                continue;
            const float *dy = d->r + ((n * K + k) * OH + p) * OW;
            const float *x = d->x + ((n * C + ch) * H + h) * W;
            for (int64_t q = 0; q < OW; q++) {
                int64_t w = q * st + v - c->pad;
                if (w < 0 || w >= W)
                    continue;
                double t = (double)dy[q] * x[w];
                acc += t, mag += fabs(t);
            }
        }
    *scale = mag;
    return acc;
}

/* dx[i] = sum over k, u, v of dy[n, k, p, q] w[k, c, u, v] where p st = h + pad - u and
 * q st = w + pad - v, dy = r. */
static double conv_dx_at(const op_data *d, size_t i, double *scale)
{
    const op_case *c = d->c;
    int64_t C = c->c, H = c->h, W = c->w, K = c->k, R = c->r, S = c->s, OH = d->oh, OW = d->ow;
    int64_t w = (int64_t)i % W, h = (int64_t)i / W % H, ch = (int64_t)i / (W * H) % C;
    int64_t n = (int64_t)i / (W * H * C), st = d->stride;
    double acc = 0, mag = 0;
    for (int64_t k = 0; k < K; k++)
        for (int64_t u = 0; u < R; u++)
            for (int64_t v = 0; v < S; v++) {
                int64_t p = h + c->pad - u, q = w + c->pad - v;
                if (p < 0 || q < 0 || p % st || q % st)
                    continue;
                p /= st, q /= st;
                if (p >= OH || q >= OW)
                    continue;
                double t = (double)d->r[((n * K + k) * OH + p) * OW + q] *
                           d->w[((k * C + ch) * R + u) * S + v];
                acc += t, mag += fabs(t);
            }
    *scale = mag;
    return acc;
}

/* ---- max pooling: x (N, C, H, W) -> y (N, C, H / R, W / S), window R x S, stride R x S ------- */
/* The index into x of the maximum of the window of output (plane, p, q). */
static size_t maxpool_argmax(const op_data *d, size_t plane, int64_t p, int64_t q)
{
    const op_case *c = d->c;
    size_t best = 0;
    for (int64_t u = 0; u < c->r; u++)
        for (int64_t v = 0; v < c->s; v++) {
            size_t j = (plane * (size_t)c->h + (size_t)(p * c->r + u)) * (size_t)c->w +
                       (size_t)(q * c->s + v);
            if ((u == 0 && v == 0) || d->x[j] > d->x[best])
                best = j;
        }
    return best;
}

/* ---- batchnorm (training): per channel of x (N, C, H, W) over N, H, W ----------------------- */
/* Batch mean and (biased) variance of channel ch. */
static void bn_stats(const op_data *d, int64_t ch, double *mean, double *var)
{
    size_t hw = (size_t)(d->c->h * d->c->w), C = (size_t)d->c->c;
    double s = 0, s2 = 0, m = (double)((size_t)d->n * hw);
    for (size_t n = 0; n < (size_t)d->n; n++)
        for (size_t j = 0; j < hw; j++)
            s += d->x[(n * C + (size_t)ch) * hw + j];
    *mean = s / m;
    for (size_t n = 0; n < (size_t)d->n; n++)
        for (size_t j = 0; j < hw; j++) {
            double t = d->x[(n * C + (size_t)ch) * hw + j] - *mean;
            s2 += t * t;
        }
    *var = s2 / m;
}

/* Calls f(d, c, i, ch, xhat, k) for every element i of channel ch, xhat its normalised value. */
typedef void (*bn_visit)(const op_data *d, op_check *c, size_t i, int64_t ch, double xhat,
                         double *k);
static void bn_each(const op_data *d, op_check *c, int64_t ch, double mean, double inv_std,
                    bn_visit f, double *k)
{
    size_t hw = (size_t)(d->c->h * d->c->w), C = (size_t)d->c->c;
    for (size_t n = 0; n < (size_t)d->n; n++)
        for (size_t j = 0; j < hw; j++) {
            size_t i = (n * C + (size_t)ch) * hw + j;
            f(d, c, i, ch, (d->x[i] - mean) * inv_std, k);
        }
}

static void bn_check_y(const op_data *d, op_check *c, size_t i, int64_t ch, double xhat, double *k)
{
    (void)k;
    double g = d->w[ch], b = d->bias[ch];
    op_check_value(c, "y", i, d->y[i], g * xhat + b, fabs(g) * (fabs(xhat) + 1) + fabs(b), BN_TOL);
}

/* s: sum dy, sum dy xhat, and their magnitudes. */
static void bn_sums(const op_data *d, op_check *c, size_t i, int64_t ch, double xhat, double *s)
{
    (void)c, (void)ch;
    s[0] += d->r[i], s[1] += d->r[i] * xhat;
    s[2] += fabs(d->r[i]), s[3] += fabs(d->r[i] * xhat);
}

/* k: gamma inv_std, mean dy, mean dy xhat. */
static void bn_check_dx(const op_data *d, op_check *c, size_t i, int64_t ch, double xhat, double *k)
{
    (void)ch;
    double ref = k[0] * (d->r[i] - k[1] - xhat * k[2]);
    double scale = fabs(k[0]) * (fabs(d->r[i]) + fabs(k[1]) + fabs(xhat * k[2]));
    op_check_value(c, "dx", i, d->gx[i], ref, scale, BN_TOL);
}

/* ---- cross-entropy: logits z (N, C), labels (N) -> mean over n of lse(z_n) - z_n[label] ---- */
static double logsumexp_row(const float *z, int64_t C)
{
    double mx = z[0], s = 0;
    for (int64_t j = 1; j < C; j++)
        mx = z[j] > mx ? z[j] : mx;
    for (int64_t j = 0; j < C; j++)
        s += exp(z[j] - mx);
    return mx + log(s);
}

/* ---- the checks ----------------------------------------------------------------------------- */
void ref_forward(const op_data *d, rng *r, int samples, op_check *c)
{
    const op_case *oc = d->c;
    double scale, ref;
    if (oc->kind == OP_CONV) {
        for (int t = 0; t < samples; t++) {
            size_t i = (size_t)(rng_next(r) % d->ny);
            ref = conv_forward_at(d, i, &scale);
            op_check_value(c, "y", i, d->y[i], ref, scale,
                           GEMM_TOL * sqrt((double)(oc->c * oc->r * oc->s)));
        }
    } else if (oc->kind == OP_MAXPOOL) {
        size_t plane = (size_t)(d->oh * d->ow);
        for (size_t i = 0; i < d->ny; i++) {
            size_t j = maxpool_argmax(d, i / plane, (int64_t)(i % plane) / d->ow,
                                      (int64_t)(i % plane) % d->ow);
            op_check_value(c, "y", i, d->y[i], d->x[j], 1, 0);
        }
    } else if (oc->kind == OP_BATCHNORM) {
        double m = (double)((size_t)d->n * (size_t)(oc->h * oc->w));
        for (int64_t ch = 0; ch < oc->c; ch++) {
            double mean, var;
            bn_stats(d, ch, &mean, &var);
            bn_each(d, c, ch, mean, 1 / sqrt(var + BN_EPS), bn_check_y, NULL);
            op_check_value(c, "running_mean", (size_t)ch, d->run_mean[ch], BN_MOMENTUM * mean, 1,
                           GEMM_TOL);
            op_check_value(c, "running_var", (size_t)ch, d->run_var[ch],
                           1 - BN_MOMENTUM + BN_MOMENTUM * var * m / (m - 1), 1, GEMM_TOL);
        }
    } else {
        double loss = 0, mag = 0;
        for (int64_t n = 0; n < d->n; n++) {
            const float *z = d->x + n * oc->c;
            double lse = logsumexp_row(z, oc->c);
            loss += lse - z[d->labels[n]], mag += fabs(lse) + fabs(z[d->labels[n]]);
        }
        op_check_value(c, "loss", 0, d->y[0], loss / (double)d->n, mag / (double)d->n, CE_TOL);
    }
}

void ref_conv_grad(const op_data *d, rng *r, int samples, int weights, op_check *c)
{
    const op_case *oc = d->c;
    double tol = weights ? GEMM_TOL * sqrt((double)((size_t)d->n * (size_t)(d->oh * d->ow)))
                         : GEMM_TOL * sqrt((double)(oc->k * oc->r * oc->s));
    for (int t = 0; t < samples; t++) {
        double scale, ref;
        size_t i = (size_t)(rng_next(r) % (weights ? d->nw : d->nx));
        ref = weights ? conv_dw_at(d, i, &scale) : conv_dx_at(d, i, &scale);
        op_check_value(c, weights ? "dw" : "dx", i, weights ? d->gw[i] : d->gx[i], ref, scale, tol);
    }
}

void ref_backward(const op_data *d, rng *r, int samples, op_check *c)
{
    const op_case *oc = d->c;
    double ref;
    if (oc->kind == OP_CONV) {
        size_t plane = (size_t)(d->oh * d->ow), K = (size_t)oc->k;
        double tol_w = GEMM_TOL * sqrt((double)((size_t)d->n * plane));
        for (size_t k = 0; k < K; k++) { /* db[k] = sum over n, p, q of dy[n, k, p, q] */
            double s = 0, mag = 0;
            for (size_t n = 0; n < (size_t)d->n; n++)
                for (size_t j = 0; j < plane; j++)
                    s += d->r[(n * K + k) * plane + j], mag += fabs(d->r[(n * K + k) * plane + j]);
            op_check_value(c, "dbias", k, d->gb[k], s, mag, tol_w);
        }
        ref_conv_grad(d, r, samples, 1, c);
        if (oc->input_grad)
            ref_conv_grad(d, r, samples, 0, c);
    } else if (oc->kind == OP_MAXPOOL) { /* dx = dy at each window's maximum, 0 elsewhere */
        size_t H = (size_t)oc->h, W = (size_t)oc->w;
        for (size_t i = 0; i < d->nx; i++) {
            size_t plane = i / (H * W);
            int64_t p = (int64_t)(i % (H * W) / W) / oc->r, q = (int64_t)(i % W) / oc->s;
            ref = 0;
            if (p < d->oh && q < d->ow && maxpool_argmax(d, plane, p, q) == i)
                ref = d->r[(plane * (size_t)d->oh + (size_t)p) * (size_t)d->ow + (size_t)q];
            op_check_value(c, "dx", i, d->gx[i], ref, 1, 0);
        }
    } else if (oc->kind == OP_BATCHNORM) {
        double m = (double)((size_t)d->n * (size_t)(oc->h * oc->w));
        for (int64_t ch = 0; ch < oc->c; ch++) {
            double mean, var, s[4] = {0};
            bn_stats(d, ch, &mean, &var);
            double inv_std = 1 / sqrt(var + BN_EPS);
            bn_each(d, c, ch, mean, inv_std, bn_sums, s);
            op_check_value(c, "dbeta", (size_t)ch, d->gb[ch], s[0], s[2], GEMM_TOL * sqrt(m));
            op_check_value(c, "dgamma", (size_t)ch, d->gw[ch], s[1], s[3], GEMM_TOL * sqrt(m));
            double k[3] = {d->w[ch] * inv_std, s[0] / m, s[1] / m};
            bn_each(d, c, ch, mean, inv_std, bn_check_dx, k);
        }
    } else { /* dz[n, j] = (softmax(z_n)[j] - [j == label]) / N */
        for (int64_t n = 0; n < d->n; n++) {
            const float *z = d->x + n * oc->c;
            double lse = logsumexp_row(z, oc->c);
            for (int64_t j = 0; j < oc->c; j++) {
                ref = (exp(z[j] - lse) - (j == d->labels[n])) / (double)d->n;
                op_check_value(c, "dlogits", (size_t)(n * oc->c + j), d->gx[n * oc->c + j], ref,
                               1 / (double)d->n, CE_TOL);
            }
        }
    }
}
