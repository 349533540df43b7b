/* ref_layout.c — the naive double-precision references of ref_layout.h. Each walks its output in
 * row-major order and computes, from the multi-index, which input element (if any) lands there.
 * No OpenCL, no clnn calls. */
#include "ref/ref_layout.h"

/* Multi-index of linear index i in s. */
static void unravel(const ref_shape *s, int64_t i, int64_t *idx)
{
    for (int d = s->ndim - 1; d >= 0; d--) {
        idx[d] = i % s->dims[d];
        i /= s->dims[d];
    }
}

/* Linear index of multi-index idx in s. */
static int64_t ravel(const ref_shape *s, const int64_t *idx)
{
    int64_t i = 0;
    for (int d = 0; d < s->ndim; d++)
        i = i * s->dims[d] + idx[d];
    return i;
}

// x: sx -> y: (sx.dims[perm[0]], ..., sx.dims[perm[ndim-1]])
int ref_permute(const double *x, const ref_shape *sx, const int *perm, double *y, ref_shape *sy)
{
    int axes[REF_MAX_DIMS], seen[REF_MAX_DIMS] = {0};
    for (int i = 0; i < sx->ndim; i++) {
        axes[i] = ref_norm_axis(perm[i], sx->ndim);
        if (axes[i] < 0 || seen[axes[i]]++)
            return 0;
    }
    sy->ndim = sx->ndim;
    for (int i = 0; i < sx->ndim; i++)
        sy->dims[i] = sx->dims[axes[i]];
    int64_t iy[REF_MAX_DIMS], ix[REF_MAX_DIMS];
    for (int64_t i = 0, n = ref_numel(sy); y && i < n; i++) {
        unravel(sy, i, iy);
        for (int d = 0; d < sx->ndim; d++)
            ix[axes[d]] = iy[d];
        y[i] = x[ravel(sx, ix)];
    }
    return 1;
}

// xs[k]: sxs[k] -> y: joined along axis
int ref_concat(int n, const double *const *xs, const ref_shape *sxs, int axis, double *y,
               ref_shape *sy)
{
    if (n < 1)
        return 0;
    int a = ref_norm_axis(axis, sxs[0].ndim);
    if (a < 0)
        return 0;
    *sy = sxs[0];
    for (int k = 1; k < n; k++) {
        if (sxs[k].ndim != sy->ndim)
            return 0;
        for (int d = 0; d < sy->ndim; d++)
            if (d != a && sxs[k].dims[d] != sy->dims[d])
                return 0;
        sy->dims[a] += sxs[k].dims[a];
    }
    int64_t iy[REF_MAX_DIMS];
    for (int64_t i = 0, total = ref_numel(sy); y && i < total; i++) {
        unravel(sy, i, iy);
        int k = 0;
        int64_t along = iy[a];
        while (along >= sxs[k].dims[a]) /* find the input that holds this position */
            along -= sxs[k++].dims[a];
        iy[a] = along;
        y[i] = xs[k][ravel(&sxs[k], iy)];
    }
    return 1;
}

// x: sx -> y: sx with axis cut to x[start:end:step]
int ref_slice(const double *x, const ref_shape *sx, int axis, int64_t start, int64_t end,
              int64_t step, double *y, ref_shape *sy)
{
    int a = ref_norm_axis(axis, sx->ndim);
    if (a < 0 || step < 1)
        return 0;
    int64_t n = sx->dims[a];
    /* Python: a negative bound counts from the end; then both are clamped to [0, n] */
    if (start < 0)
        start += n;
    if (end < 0)
        end += n;
    start = start < 0 ? 0 : start > n ? n : start;
    end = end < 0 ? 0 : end > n ? n : end;
    int64_t count = 0;
    for (int64_t j = start; j < end; j += step)
        count++;
    if (count == 0)
        return 0;
    *sy = *sx;
    sy->dims[a] = count;
    int64_t idx[REF_MAX_DIMS];
    for (int64_t i = 0, total = ref_numel(sy); y && i < total; i++) {
        unravel(sy, i, idx);
        idx[a] = start + idx[a] * step;
        y[i] = x[ravel(sx, idx)];
    }
    return 1;
}

// x: sx -> y: sx grown by pads on every axis
int ref_pad(const double *x, const ref_shape *sx, const int64_t *pads, double value, double *y,
            ref_shape *sy)
{
    sy->ndim = sx->ndim;
    for (int d = 0; d < sx->ndim; d++) {
        if (pads[2 * d] < 0 || pads[2 * d + 1] < 0)
            return 0;
        sy->dims[d] = sx->dims[d] + pads[2 * d] + pads[2 * d + 1];
    }
    int64_t idx[REF_MAX_DIMS];
    for (int64_t i = 0, total = ref_numel(sy); y && i < total; i++) {
        unravel(sy, i, idx);
        int inside = 1;
        for (int d = 0; d < sx->ndim; d++) {
            idx[d] -= pads[2 * d];
            inside = inside && idx[d] >= 0 && idx[d] < sx->dims[d];
        }
        y[i] = inside ? x[ravel(sx, idx)] : value;
    }
    return 1;
}
