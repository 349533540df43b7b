/* ops_util.h — helpers shared by the op files: NumPy broadcasting, the strided "meta" tables
 * that kernels/common.cl reads, and the emit pattern of one-input elementwise kernels. */
#ifndef CLNN_OPS_UTIL_H
#define CLNN_OPS_UTIL_H

#include "../core/internal.h"

/* meta table size in ints: 1 + MAX_DIMS * (1 + operands) (+ the reduced block for sum) */
#define CLNN__META_INTS (1 + CLNN_MAX_DIMS * 5)

/* out = broadcast(a, b) shape, or a CLNN_ERR_SHAPE naming op and both shapes. */
clnn_status clnn__broadcast_shape(clnn_graph *g, const char *op, const clnn_tensor *a,
                                  const clnn_tensor *b, clnn_tensor *out);
/* Strides (in elements) of t's contiguous layout seen from an output of out_ndim/out_shape it is
 * broadcast to: 0 along broadcast axes. */
void clnn__bcast_strides(const clnn_tensor *t, int out_ndim, const int64_t *out_shape,
                         int *strides);
/* Merges adjacent axes that are contiguous for every operand; updates ndim, shape, strides. */
void clnn__merge_axes(int *ndim, int *shape, int nops, int strides[][CLNN_MAX_DIMS]);
/* Fills meta (see common.cl) for an output shape and nops operand stride lists. */
void clnn__meta_fill(int *meta, int ndim, const int *shape, int nops,
                     int strides[][CLNN_MAX_DIMS]);
/* Creates node->aux from meta (once). */
clnn_status clnn__node_meta(clnn_tensor *node, const int *meta, size_t count);
/* Checks that a result fits the 32-bit indexing of the kernels. */
clnn_status clnn__check_numel(clnn_graph *g, const char *op, const clnn_tensor *t);

/* Emits y[i] = x[strided offset of i] (kernel strided_copy of kernels/elementwise.cl, so the op's
 * program must be "elementwise"); x_strides[d] is x's element stride along y's axis d (0 for a
 * broadcast axis). Used by expand and transpose. */
clnn_status clnn__emit_strided_copy(clnn_tensor *y, const int *x_strides);

/* Emits kernel(n, [alpha,] x..., y) where each operand is passed as (buffer, offset). */
clnn_status clnn__emit_map(clnn_tensor *node, const char *kernel, int nin, const float *alpha);

/* The 2-D range (width, rows) of a row kernel over (rows, cols) (batchnorm/layernorm apply,
 * embedding): on GPUs one work-item per element, up to 64 per group along the row; on CPUs one
 * per row, the kernel looping along it with a stride of the range's width. */
void clnn__row_grid(const clnn_ctx *ctx, int rows, int cols, size_t global[2], size_t local[2]);
/* Splits `units` (rows, planes or elements) of `size` elements each into spans of *per units
 * (rounded up to a multiple of `multiple`), one per work-item of the CPU kernels: about 8 spans
 * per compute unit (the runtime balances them), more when a span would exceed 64K elements.
 * Returns the number of work-items; enqueue them with clnn__enqueue_spans. */
size_t clnn__spans(const clnn_ctx *ctx, int64_t units, int64_t size, int64_t multiple, int *per);
/* Enqueues items work-items in work-groups of one: POCL runs each work-group as one task, so
 * every span is a task the runtime can hand to any core. */
clnn_status clnn__enqueue_spans(clnn_tensor *node, cl_kernel k, size_t items);

static inline int clnn__same_shape(const clnn_tensor *a, const clnn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

#endif
