/* ref_ops.h — naive double-precision host references of the clnn ops, for the tests (and the
 * finite-difference gradients of tests/gradcheck.c). Written for obviousness, not speed: plain
 * loops over row-major (C order) arrays, one function per op, the same shape rules as the library
 * (NumPy broadcasting, negative axes). Every function computes its output shape; where the output
 * array y may be NULL only the shape is computed. A function returns 1 when the shapes and
 * parameters are valid and 0 otherwise (nothing is written then). No OpenCL, no clnn calls. */
#ifndef CLNN_TEST_REF_OPS_H
#define CLNN_TEST_REF_OPS_H

#include <stdint.h>

#define REF_MAX_DIMS 6

typedef struct ref_shape {
    int ndim;
    int64_t dims[REF_MAX_DIMS];
} ref_shape;

int64_t ref_numel(const ref_shape *s);
/* "(4, 3)", "(3,)", "()" into buf (as clnn_tensor_shape_str writes shapes); returns buf. */
const char *ref_shape_str(const ref_shape *s, char *buf, int size);
/* The multi-index of linear index i, as "(2, 0, 1)", into buf; returns buf. */
const char *ref_index_str(const ref_shape *s, int64_t i, char *buf, int size);
/* Axis in -ndim .. ndim-1 -> 0 .. ndim-1, or -1 when out of range. */
int ref_norm_axis(int axis, int ndim);

/* ---- elementwise ------------------------------------------------------------------------- */
typedef enum ref_binary_op { REF_ADD = 0, REF_SUB = 1, REF_MUL = 2 } ref_binary_op;

/* a: sa, b: sb -> y: broadcast(sa, sb) (trailing axes aligned, size 1 stretched) */
int ref_binary(ref_binary_op op, const double *a, const ref_shape *sa, const double *b,
               const ref_shape *sb, double *y, ref_shape *sy);

typedef enum ref_unary_op { REF_SCALE, REF_RELU, REF_SIGMOID, REF_TANH } ref_unary_op;

/* x: (n) -> y: (n); alpha is used by REF_SCALE only */
void ref_unary(ref_unary_op op, double alpha, const double *x, int64_t n, double *y);

/* ---- reductions and broadcasting ----------------------------------------------------------- */
/* x: sx -> y: sx without the listed axes (or with them as size 1 when keepdim); naxes = 0
 * reduces every axis. mean = 1 divides by the number of reduced elements. 0 for an axis out of
 * range or listed twice. */
int ref_reduce(int mean, const double *x, const ref_shape *sx, int naxes, const int *axes,
               int keepdim, double *y, ref_shape *sy);

/* x: sx -> y: sy, where sx broadcasts to sy (sizes equal or 1 in every aligned axis). */
int ref_expand(const double *x, const ref_shape *sx, const ref_shape *sy, double *y);

/* ---- matrix product ------------------------------------------------------------------------ */
/* a: (..., M, K) [(..., K, M) if trans_a], b: (..., K, N) with a's batch axes, or (K, N) shared
 * by every batch [(N, K) if trans_b] -> y: (..., M, N) */
int ref_matmul(const double *a, const ref_shape *sa, const double *b, const ref_shape *sb,
               int trans_a, int trans_b, double *y, ref_shape *sy);

/* ---- layout -------------------------------------------------------------------------------- */
/* x: sx -> y: sx with axes axis0 and axis1 swapped (negative axes count from the end) */
int ref_transpose(const double *x, const ref_shape *sx, int axis0, int axis1, double *y,
                  ref_shape *sy);

/* x: sx -> y: (shape[0 .. ndim)) with the same elements in the same order; one -1 is inferred */
int ref_reshape(const double *x, const ref_shape *sx, int ndim, const int64_t *shape, double *y,
                ref_shape *sy);

#endif /* CLNN_TEST_REF_OPS_H */
