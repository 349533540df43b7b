// layout.cl — copies that reorder data (src/ops/op_layout.c): permute and slice (a strided
// gather through the meta table of common.cl), concat (one gather from up to 8 inputs) and pad (a
// gather that writes the fill value outside the input's lattice; it is also slice's backward).
// Every kernel moves 32-bit words as uint, so f32 and i32 tensors share them and no float value
// is ever changed on the way (NaN payloads, denormals). Each work-item writes one element of the
// output, guards i < n, and every output element is written (planned buffers are reused).

// y[i] = x[ox + strided offset of i]; y: (meta shape). Permute passes permuted strides, slice
// strides times steps with ox moved to the first element.
__kernel void layout_copy(const int n, __global const int *meta, __global const uint *x,
                          const int ox, __global uint *y, const int oy)
{
    const int i = get_global_id(0);
    if (i < n)
        y[oy + i] = x[ox + clnn_strided_offset(i, meta, 0)];
}

// x_k: (outer, a_k, inner) for k < nin -> y: (outer, A, inner), A = a_0 + ... + a_(nin-1);
// starts[k] is the first index of x_k along the axis, starts[nin] = A. x0 .. x7: a node's
// CLNN__MAX_SRC inputs; unused ones are any buffer (never read).
__kernel void concat_gather(const int n, const int inner, const int nin, __global const int *starts,
                            __global const uint *x0, const int o0, __global const uint *x1,
                            const int o1, __global const uint *x2, const int o2,
                            __global const uint *x3, const int o3, __global const uint *x4,
                            const int o4, __global const uint *x5, const int o5,
                            __global const uint *x6, const int o6, __global const uint *x7,
                            const int o7, __global uint *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    const int A = starts[nin], r = i % inner, col = (i / inner) % A, outer = i / (inner * A);
    int k = 0;
    while (k + 1 < nin && col >= starts[k + 1])
        k++;
    const int j = (outer * (starts[k + 1] - starts[k]) + col - starts[k]) * inner + r;
    uint v;
    switch (k) {
    case 0:
        v = x0[o0 + j];
        break;
    case 1:
        v = x1[o1 + j];
        break;
    case 2:
        v = x2[o2 + j];
        break;
    case 3:
        v = x3[o3 + j];
        break;
    case 4:
        v = x4[o4 + j];
        break;
    case 5:
        v = x5[o5 + j];
        break;
    case 6:
        v = x6[o6 + j];
        break;
    default:
        v = x7[o7 + j];
        break;
    }
    y[oy + i] = v;
}

// Table of pad_gather (ints): [0] ndim, [1..7) the output shape, [7..13) start, [13..19) step,
// [19..25) x's shape. Output coordinate c holds x[(c - start) / step] when c - start is a
// multiple of step in [0, step * xdim) on every axis, else value.
#define PAD_SHAPE 1
#define PAD_START 7
#define PAD_STEP  13
#define PAD_XDIM  19

// Where output element r of the first nd axes of the table (the last fastest) reads x: the
// offset, in steps of `stride` elements per unit of axis nd - 1, and *inside = 0 when r is off
// x's lattice on one of them (it reads the pad value).
inline int pad_locate(__global const int *table, const int nd, int r, int stride, int *inside)
{
    int off = 0;
    *inside = 1;
    for (int d = nd - 1; d >= 0; d--) {
        const int size = table[PAD_SHAPE + d];
        const int c = r % size - table[PAD_START + d];
        const int step = table[PAD_STEP + d], xdim = table[PAD_XDIM + d];
        r /= size;
        const int q = c / step;
        *inside = *inside && c >= 0 && c == q * step && q < xdim;
        off += q * stride;
        stride *= xdim;
    }
    return off;
}

// x: (table xdim) -> y: (table shape)
__kernel void pad_gather(const int n, __global const int *table, const uint value,
                         __global const uint *x, const int ox, __global uint *y, const int oy)
{
    const int i = get_global_id(0);
    if (i >= n)
        return;
    int inside;
    const int off = pad_locate(table, table[0], i, 1, &inside);
    y[oy + i] = inside ? x[ox + off] : value;
}

// The same with a work-item per row of the last axis (CPU devices: the outer coordinates are
// decoded once per row, and a row outside the lattice is one fill). Range: (n / L), L the last
// output axis.
__kernel void pad_rows(const int n, __global const int *table, const uint value,
                       __global const uint *x, const int ox, __global uint *y, const int oy)
{
    const int ndim = table[0], L = table[PAD_SHAPE + ndim - 1], row = get_global_id(0);
    if (row * L >= n)
        return;
    int inside;
    const int off = pad_locate(table, ndim - 1, row, table[PAD_XDIM + ndim - 1], &inside);
    __global uint *dst = y + oy + row * L;
    if (!inside) {
        for (int j = 0; j < L; j++)
            dst[j] = value;
        return;
    }
    const int start = table[PAD_START + ndim - 1], step = table[PAD_STEP + ndim - 1];
    const int xdim = table[PAD_XDIM + ndim - 1];
    __global const uint *src = x + ox + off;
    for (int j = 0; j < L; j++) {
        const int c = j - start, q = step == 1 ? c : c / step;
        dst[j] = c >= 0 && c == q * step && q < xdim ? src[q] : value;
    }
}
