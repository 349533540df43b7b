/* ref_act.c — the double-precision host references declared in ref_act.h: each activation
 * written from its definition (erf, tanh and exp of the C library), softmax along an axis
 * walked as (outer, len, inner), linear as explicit dot products, and Philox4x32-10 as in the
 * Random123 paper. Slow and obvious on purpose. */
#include "ref/ref_act.h"

#include <math.h>
#include <stddef.h>

double ref_act_value(ref_act act, double alpha, double z)
{
    switch (act) {
    case REF_ACT_NONE:
        return z;
    case REF_ACT_RELU:
        return z > 0 ? z : 0;
    case REF_ACT_LEAKY_RELU:
        return z > 0 ? z : alpha * z;
    case REF_ACT_ELU:
        return z > 0 ? z : alpha * expm1(z);
    case REF_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case REF_ACT_TANH:
        return tanh(z);
    case REF_ACT_GELU:
        return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    case REF_ACT_GELU_TANH: {
        const double k = sqrt(2.0 / 3.14159265358979323846);
        return 0.5 * z * (1.0 + tanh(k * (z + 0.044715 * z * z * z)));
    }
    }
    return NAN;
}

void ref_activation(ref_act act, double alpha, const double *x, int64_t n, double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = ref_act_value(act, alpha, x[i]);
}

/* x seen as (outer, len, inner) around axis */
static void split(const ref_shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++)
        *outer *= s->dims[d];
    for (int d = axis + 1; d < s->ndim; d++)
        *inner *= s->dims[d];
    *len = s->dims[axis];
}

// x: (outer, len, inner) -> y: the same
int ref_softmax(int log_out, const double *x, const ref_shape *sx, int axis, double *y,
                ref_shape *sy)
{
    int a = ref_norm_axis(axis, sx->ndim);
    if (a < 0)
        return 0;
    *sy = *sx;
    if (!y)
        return 1;
    int64_t outer, len, inner;
    split(sx, a, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            const double *xr = x + o * len * inner + in;
            double *yr = y + o * len * inner + in;
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < len; j++)
                m = fmax(m, xr[j * inner]);
            for (int64_t j = 0; j < len; j++)
                s += exp(xr[j * inner] - m);
            for (int64_t j = 0; j < len; j++)
                yr[j * inner] = log_out ? xr[j * inner] - m - log(s) : exp(xr[j * inner] - m) / s;
        }
    }
    return 1;
}

// x: (outer, C, inner), b: (C) -> y: (outer, C, inner)
int ref_bias_act(const double *x, const ref_shape *sx, const double *b, const ref_shape *sb,
                 int axis, ref_act act, double alpha, double *y, ref_shape *sy)
{
    int a = ref_norm_axis(axis, sx->ndim);
    if (a < 0 || sb->ndim != 1 || sb->dims[0] != sx->dims[a])
        return 0;
    *sy = *sx;
    if (!y)
        return 1;
    int64_t outer, len, inner;
    split(sx, a, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < len; c++)
            for (int64_t in = 0; in < inner; in++) {
                int64_t i = (o * len + c) * inner + in;
                y[i] = ref_act_value(act, alpha, x[i] + b[c]);
            }
    return 1;
}

// x: (rows, in), w: (out, in), b: (out) -> y: (rows, out)
int ref_linear(const double *x, const ref_shape *sx, const double *w, const ref_shape *sw,
               const double *b, const ref_shape *sb, ref_act act, double alpha, double *y,
               ref_shape *sy)
{
    if (sx->ndim < 1 || sw->ndim != 2 || sx->dims[sx->ndim - 1] != sw->dims[1])
        return 0;
    if (b && (sb->ndim != 1 || sb->dims[0] != sw->dims[0]))
        return 0;
    int64_t in = sw->dims[1], out = sw->dims[0], rows = ref_numel(sx) / in;
    *sy = *sx;
    sy->dims[sy->ndim - 1] = out;
    if (!y)
        return 1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t k = 0; k < in; k++)
                s += x[r * in + k] * w[o * in + k];
            y[r * out + o] = ref_act_value(act, alpha, s);
        }
    return 1;
}

/* ---- Philox4x32-10 (Salmon et al., SC 2011; Random123's philox.h) ------------------------- */
void ref_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    const uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u, w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
    uint32_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += w0;
            k1 += w1;
        }
        uint64_t p0 = (uint64_t)m0 * c[0], p1 = (uint64_t)m1 * c[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n[4] = {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
        for (int j = 0; j < 4; j++)
            c[j] = n[j];
    }
    for (int j = 0; j < 4; j++)
        out[j] = c[j];
}

int ref_dropout_dropped(uint64_t seed, uint64_t run, float p, int64_t i)
{
    uint32_t ctr[4] = {(uint32_t)(i / 4), (uint32_t)run, (uint32_t)(run >> 32), 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    ref_philox4x32_10(ctr, key, out);
    uint32_t threshold = (uint32_t)((double)p * 4294967296.0);
    return out[i % 4] < threshold;
}
