/* ref_ops.c — the naive double-precision host references declared in ref_ops.h. Each op walks
 * its output in row-major order and computes, from the multi-index, where every operand element
 * lives: slow and obviously right, which is what a reference must be. Nothing here knows about
 * OpenCL, graphs or tolerances (see tests/gradcheck.c). */
#include "ref/ref_ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int64_t ref_numel(const ref_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dims[i];
    return n;
}

const char *ref_shape_str(const ref_shape *s, char *buf, int size)
{
    int used = snprintf(buf, (size_t)size, "(");
    for (int i = 0; i < s->ndim && used < size; i++)
        used += snprintf(buf + used, (size_t)(size - used), "%s%lld", i ? ", " : "",
                         (long long)s->dims[i]);
    if (used < size)
        snprintf(buf + used, (size_t)(size - used), s->ndim == 1 ? ",)" : ")");
    return buf;
}

const char *ref_index_str(const ref_shape *s, int64_t i, char *buf, int size)
{
    ref_shape idx = {s->ndim, {0}};
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx.dims[d] = i % s->dims[d];
        i /= s->dims[d];
    }
    return ref_shape_str(&idx, buf, size);
}

int ref_norm_axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return axis >= 0 && axis < ndim ? axis : -1;
}

/* Row-major strides of s (in elements). */
static void strides_of(const ref_shape *s, int64_t *strides)
{
    int64_t n = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        strides[d] = n;
        n *= s->dims[d];
    }
}

/* Multi-index of linear index i in s. */
static void unravel(const ref_shape *s, int64_t i, int64_t *idx)
{
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx[d] = i % s->dims[d];
        i /= s->dims[d];
    }
}

/* Linear index into x (shape sx) of the element that broadcasts to multi-index idx of shape sy
 * (sx aligned to the trailing axes of sy; size-1 axes of sx repeat). */
static int64_t bcast_index(const ref_shape *sx, const ref_shape *sy, const int64_t *idx)
{
    int64_t strides[REF_MAX_DIMS], off = 0;
    strides_of(sx, strides);
    for (int d = 0; d < sx->ndim; d++) {
        int64_t i = idx[d + sy->ndim - sx->ndim];
        off += (sx->dims[d] == 1 ? 0 : i) * strides[d];
    }
    return off;
}

/* ---- elementwise ------------------------------------------------------------------------- */
// a: sa, b: sb -> y: broadcast(sa, sb)
int ref_binary(ref_binary_op op, const double *a, const ref_shape *sa, const double *b,
               const ref_shape *sb, double *y, ref_shape *sy)
{
    ref_shape out = {sa->ndim > sb->ndim ? sa->ndim : sb->ndim, {0}};
    for (int d = 0; d < out.ndim; d++) {
        int da = d - (out.ndim - sa->ndim), db = d - (out.ndim - sb->ndim);
        int64_t na = da >= 0 ? sa->dims[da] : 1, nb = db >= 0 ? sb->dims[db] : 1;
        if (na != nb && na != 1 && nb != 1)
            return 0;
        out.dims[d] = na > nb ? na : nb;
    }
    *sy = out;
    if (!y)
        return 1;
    int64_t idx[REF_MAX_DIMS];
    for (int64_t i = 0, n = ref_numel(&out); i < n; i++) {
        unravel(&out, i, idx);
        double u = a[bcast_index(sa, &out, idx)], v = b[bcast_index(sb, &out, idx)];
        y[i] = op == REF_ADD ? u + v : op == REF_SUB ? u - v : u * v;
    }
    return 1;
}

// x: (n) -> y: (n)
void ref_unary(ref_unary_op op, double alpha, const double *x, int64_t n, double *y)
{
    for (int64_t i = 0; i < n; i++) {
        switch (op) {
        case REF_SCALE:
            y[i] = alpha * x[i];
            break;
        case REF_RELU:
            y[i] = x[i] > 0.0 ? x[i] : 0.0;
            break;
        case REF_SIGMOID:
            y[i] = 1.0 / (1.0 + exp(-x[i]));
            break;
        case REF_TANH:
            y[i] = tanh(x[i]);
            break;
        }
    }
}

/* ---- reductions and broadcasting ----------------------------------------------------------- */
// x: sx -> y: sx with the reduced axes dropped (or kept as size 1)
int ref_reduce(int mean, const double *x, const ref_shape *sx, int naxes, const int *axes,
               int keepdim, double *y, ref_shape *sy)
{
    int reduced[REF_MAX_DIMS] = {0};
    if (naxes < 0 || naxes > sx->ndim)
        return 0;
    for (int i = 0; i < naxes; i++) {
        int a = ref_norm_axis(axes[i], sx->ndim);
        if (a < 0 || reduced[a])
            return 0;
        reduced[a] = 1;
    }
    for (int d = 0; naxes == 0 && d < sx->ndim; d++)
        reduced[d] = 1;
    ref_shape out = {0, {0}}, kept = {sx->ndim, {0}}; /* kept: out with size-1 reduced axes */
    int64_t count = 1;
    for (int d = 0; d < sx->ndim; d++) {
        kept.dims[d] = reduced[d] ? 1 : sx->dims[d];
        count *= reduced[d] ? sx->dims[d] : 1;
        if (!reduced[d] || keepdim)
            out.dims[out.ndim++] = kept.dims[d];
    }
    *sy = out;
    if (!y)
        return 1;
    int64_t n = ref_numel(&out), idx[REF_MAX_DIMS], strides[REF_MAX_DIMS];
    strides_of(&kept, strides);
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.0;
    for (int64_t i = 0, nx = ref_numel(sx); i < nx; i++) {
        unravel(sx, i, idx);
        int64_t o = 0;
        for (int d = 0; d < sx->ndim; d++)
            o += reduced[d] ? 0 : idx[d] * strides[d];
        y[o] += x[i];
    }
    for (int64_t i = 0; mean && i < n; i++)
        y[i] /= (double)count;
    return 1;
}

// x: sx -> y: sy (sx broadcast)
int ref_expand(const double *x, const ref_shape *sx, const ref_shape *sy, double *y)
{
    if (sy->ndim < sx->ndim)
        return 0;
    for (int d = 0; d < sx->ndim; d++) {
        int64_t nx = sx->dims[d], ny = sy->dims[d + sy->ndim - sx->ndim];
        if (nx != ny && nx != 1)
            return 0;
    }
    if (!y)
        return 1;
    int64_t idx[REF_MAX_DIMS];
    for (int64_t i = 0, n = ref_numel(sy); i < n; i++) {
        unravel(sy, i, idx);
        y[i] = x[bcast_index(sx, sy, idx)];
    }
    return 1;
}

/* ---- matrix product ------------------------------------------------------------------------ */
// a: (..., M, K) [(..., K, M)], b: (..., K, N) or (K, N) [(N, K)] -> y: (..., M, N)
int ref_matmul(const double *a, const ref_shape *sa, const double *b, const ref_shape *sb,
               int trans_a, int trans_b, double *y, ref_shape *sy)
{
    if (sa->ndim < 2 || sb->ndim < 2)
        return 0;
    int64_t m = sa->dims[sa->ndim - (trans_a ? 1 : 2)], k = sa->dims[sa->ndim - (trans_a ? 2 : 1)];
    int64_t kb = sb->dims[sb->ndim - (trans_b ? 1 : 2)], n = sb->dims[sb->ndim - (trans_b ? 2 : 1)];
    if (k != kb)
        return 0;
    int shared = sb->ndim == 2;
    if (!shared && sb->ndim != sa->ndim)
        return 0;
    int64_t batch = 1;
    for (int d = 0; d < sa->ndim - 2; d++) {
        if (!shared && sb->dims[d] != sa->dims[d])
            return 0;
        batch *= sa->dims[d];
    }
    ref_shape out = *sa;
    out.dims[out.ndim - 2] = m;
    out.dims[out.ndim - 1] = n;
    *sy = out;
    if (!y)
        return 1;
    for (int64_t p = 0; p < batch; p++) {
        const double *ap = a + p * m * k, *bp = b + (shared ? 0 : p * k * n);
        double *yp = y + p * m * n;
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (int64_t l = 0; l < k; l++) {
                    double u = trans_a ? ap[l * m + i] : ap[i * k + l];
                    double v = trans_b ? bp[j * k + l] : bp[l * n + j];
                    acc += u * v;
                }
                yp[i * n + j] = acc;
            }
        }
    }
    return 1;
}

/* ---- layout -------------------------------------------------------------------------------- */
// x: sx -> y: sx with axis0 and axis1 swapped
int ref_transpose(const double *x, const ref_shape *sx, int axis0, int axis1, double *y,
                  ref_shape *sy)
{
    int a0 = ref_norm_axis(axis0, sx->ndim), a1 = ref_norm_axis(axis1, sx->ndim);
    if (a0 < 0 || a1 < 0)
        return 0;
    ref_shape out = *sx;
    out.dims[a0] = sx->dims[a1];
    out.dims[a1] = sx->dims[a0];
    *sy = out;
    if (!y)
        return 1;
    int64_t idx[REF_MAX_DIMS], strides[REF_MAX_DIMS];
    strides_of(sx, strides);
    for (int64_t i = 0, n = ref_numel(&out); i < n; i++) {
        unravel(&out, i, idx);
        int64_t t = idx[a0], o = 0;
        idx[a0] = idx[a1];
        idx[a1] = t;
        for (int d = 0; d < sx->ndim; d++)
            o += idx[d] * strides[d];
        y[i] = x[o];
    }
    return 1;
}

// x: sx -> y: shape (one -1 inferred), same elements
int ref_reshape(const double *x, const ref_shape *sx, int ndim, const int64_t *shape, double *y,
                ref_shape *sy)
{
    if (ndim < 0 || ndim > REF_MAX_DIMS)
        return 0;
    ref_shape out = {ndim, {0}};
    int64_t known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        out.dims[d] = shape[d];
        if (shape[d] == -1 && infer < 0)
            infer = d;
        else if (shape[d] <= 0)
            return 0;
        else
            known *= shape[d];
    }
    int64_t n = ref_numel(sx);
    if (infer >= 0) {
        if (n % known)
            return 0;
        out.dims[infer] = n / known;
    }
    if (ref_numel(&out) != n)
        return 0;
    *sy = out;
    if (y)
        memcpy(y, x, (size_t)n * sizeof *y);
    return 1;
}
