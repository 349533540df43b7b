/* gradcheck.h — the reusable op-test harness: one table-driven description of an op case
 * (gc_case) that is checked forward against a double-precision host reference and backward
 * against central finite differences of that same reference. Every op test (tests/test_ops.c and
 * the suites of later ops) fills a table of cases and calls gc_run_case() from a check loop test:
 *
 *   static const gc_case cases[] = {
 *       GC_CASE("add (4,3)+(3,)", build_add, ref_add, NULL, GC_PARAM(4, 3), GC_PARAM(3)),
 *   };
 *   START_TEST(test_add) { gc_run_case(&cases[_i]); } END_TEST
 *   ...  tcase_add_loop_test(tc, test_add, 0, GC_COUNT(cases));
 *
 * How a case is checked (gc_check):
 *   1. Inputs are uniform random f32 values from the case's own seed (a hash of its name), so a
 *      failure reproduces exactly; the host reference sees the same f32 values as doubles.
 *   2. Forward: the graph output must have the reference's shape, and every element must satisfy
 *      |got - want| <= atol + rtol * max(|want|, rms(want)). The rms term is there because fp32
 *      sums (matmul, reductions) err in proportion to the magnitude of their terms, not of their
 *      result: an output that cancels to ~0 keeps the error of its large terms.
 *   3. Backward: loss = sum(y * R), R a fixed random tensor (so every dy differs), is
 *      differentiated by clnn_graph_backward; the gradient of every input with requires_grad is
 *      compared (same rule) with central differences of the double reference,
 *      dL/dx ~= sum(R * (f(x+h) - f(x-h))) / 2h with h = 1e-6 max(1, |x|): the truncation error is
 *      O(h^2) and the rounding error ~1e-10, so the numeric side is essentially exact and the
 *      tolerance only has to cover fp32 error on the device. Inputs with more than GC_GRAD_FULL
 *      elements are checked at their first and last GC_GRAD_EDGE elements and GC_GRAD_RANDOM
 *      random ones (the edges catch tail work-groups, the random ones the interior).
 *   4. The graph is run twice and both runs are checked (gradients must be recomputed, never
 *      accumulated across runs, and a run must not depend on buffer contents left by the last).
 * The host side stays in double, so a reference never needs its own tolerance. */
#ifndef CLNN_TEST_GRADCHECK_H
#define CLNN_TEST_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "clnn.h"
#include "ref/ref_ops.h"

#define GC_MAX_INPUTS 4

/* Default tolerances (see the banner for the rule). fp32 elementwise results are within a few
 * ulps (~1e-7 relative); 1e-5 leaves room for short sums. Device gradients are fp32 products of
 * several ops, compared with an exact numeric gradient: 1e-4. */
#define GC_FWD_RTOL  1e-5
#define GC_FWD_ATOL  1e-6
#define GC_GRAD_RTOL 1e-4
#define GC_GRAD_ATOL 1e-6

/* Inputs with at most this many elements get every element's gradient checked. */
#define GC_GRAD_FULL   1024
#define GC_GRAD_EDGE   96
#define GC_GRAD_RANDOM 320

#define GC_COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

typedef struct gc_input {
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
    int requires_grad; /* 1: made with clnn_param (gradient checked), 0: with clnn_input */
    double lo, hi;     /* uniform values in [lo, hi); lo == hi == 0 means [-1, 1) */
    double avoid;      /* redraw values with |x| < avoid (keeps relu and friends off kinks) */
    clnn_dtype dtype;  /* CLNN_F32 (the default, 0) or CLNN_I32: integers in [lo, hi) made with
                        * clnn_input_i32 (indices, labels), never with a gradient; the reference
                        * sees them as doubles */
} gc_input;

/* gc_input initialisers: GC_PARAM(4, 3) is a (4, 3) parameter in [-1, 1); GC_INPUT(...) the
 * same without a gradient; GC_PARAM_RANGE(-6, 6, 4, 3) a (4, 3) parameter in [-6, 6). A 0-d
 * tensor is written out: {.ndim = 0, .requires_grad = 1}. */
// clang-format off
#define GC_SHAPE(...)                                                                              \
    .ndim = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .shape = {__VA_ARGS__}
#define GC_PARAM(...) {GC_SHAPE(__VA_ARGS__), .requires_grad = 1}
#define GC_INPUT(...) {GC_SHAPE(__VA_ARGS__), .requires_grad = 0}
#define GC_PARAM_RANGE(lo_, hi_, ...)                                                              \
    {GC_SHAPE(__VA_ARGS__), .requires_grad = 1, .lo = (lo_), .hi = (hi_)}
#define GC_INPUT_RANGE(lo_, hi_, ...)                                                              \
    {GC_SHAPE(__VA_ARGS__), .requires_grad = 0, .lo = (lo_), .hi = (hi_)}
#define GC_INPUT_I32(lo_, hi_, ...)                                                                \
    {GC_SHAPE(__VA_ARGS__), .requires_grad = 0, .lo = (lo_), .hi = (hi_), .dtype = CLNN_I32}
// clang-format on

/* Applies the op(s) under test to graph tensors in[0 .. ninputs); returns the output or NULL. */
typedef clnn_tensor *(*gc_build_fn)(clnn_graph *g, clnn_tensor *const *in, const void *cfg);

/* Computes the same on the host: in[i] has shape shapes[i]. Sets *out_shape; writes out unless
 * it is NULL (the harness first asks for the shape only). Returns 0 when the shapes do not fit. */
typedef int (*gc_ref_fn)(const double *const *in, const ref_shape *shapes, const void *cfg,
                         double *out, ref_shape *out_shape);

typedef struct gc_case {
    const char *name; /* unique: it names the case in messages and seeds its random numbers */
    int ninputs;
    gc_input in[GC_MAX_INPUTS];
    gc_build_fn build;
    gc_ref_fn ref;
    const void *cfg;             /* passed to build and ref */
    double fwd_rtol, fwd_atol;   /* 0: GC_FWD_RTOL, GC_FWD_ATOL */
    double grad_rtol, grad_atol; /* 0: GC_GRAD_RTOL, GC_GRAD_ATOL */
} gc_case;

/* Case initialisers (designated, so -Wextra is happy): the inputs come last and are counted.
 * GC_CASE_TOL also sets the tolerances (0 keeps a default); justify each one where it is used. */
// clang-format off
#define GC_CASE(name_, build_, ref_, cfg_, ...)                                                    \
    {.name = (name_), .ninputs = (int)(sizeof((gc_input[]){__VA_ARGS__}) / sizeof(gc_input)),     \
     .in = {__VA_ARGS__}, .build = (build_), .ref = (ref_), .cfg = (cfg_)}
#define GC_CASE_TOL(name_, build_, ref_, cfg_, fwd_rtol_, fwd_atol_, grad_rtol_, grad_atol_, ...)  \
    {.name = (name_), .ninputs = (int)(sizeof((gc_input[]){__VA_ARGS__}) / sizeof(gc_input)),     \
     .in = {__VA_ARGS__}, .build = (build_), .ref = (ref_), .cfg = (cfg_),                         \
     .fwd_rtol = (fwd_rtol_), .fwd_atol = (fwd_atol_), .grad_rtol = (grad_rtol_),                  \
     .grad_atol = (grad_atol_)}
// clang-format on

/* ---- the checks ---------------------------------------------------------------------------- */
/* Runs every check of c on ctx. Returns 1 on success; on failure 0, with a message in msg that
 * names the case, the tensor, the element (linear and multi-index), got, expected and tolerance,
 * and how many elements were off. */
int gc_check(clnn_ctx *ctx, const gc_case *c, char *msg, size_t size);

/* For check tests: creates a context (call it inside the forked test, never in main), runs
 * gc_check, destroys the context and ck_asserts success with gc_check's message. */
void gc_run_case(const gc_case *c);

/* Compares got (device, f32) with want (host, double) element by element with the rule of the
 * banner; on failure writes "<what>[i] (multi-index): got .. expected .." into msg, returns 0. */
int gc_compare(const char *what, const float *got, const double *want, const ref_shape *shape,
               double rtol, double atol, char *msg, size_t size);

/* Leaf shorthands for error-path builders (a graph `g` in scope): GC_T(4, 3) is an f32 (4, 3)
 * parameter, GC_IN(4, 3) an f32 input, GC_I32(4) an i32 input. Suites alias them as T, IN, I32. */
#define GC_NDIM(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define GC_T(...)    clnn_param(g, NULL, GC_NDIM(__VA_ARGS__), (int64_t[]){__VA_ARGS__})
#define GC_IN(...)   clnn_input(g, NULL, GC_NDIM(__VA_ARGS__), (int64_t[]){__VA_ARGS__})
#define GC_I32(...)  clnn_input_i32(g, NULL, GC_NDIM(__VA_ARGS__), (int64_t[]){__VA_ARGS__})

/* An op construction that must fail (error-path tables of every op suite). */
typedef struct gc_err_case {
    const char *name;
    clnn_tensor *(*build)(clnn_graph *g); /* one builder call that must fail */
    clnn_status status;
    const char *words[5]; /* the message must contain each (NULL ends the list) */
} gc_err_case;

/* For check tests: the builder must return NULL with c->status; the graph's message must
 * contain every word and equal the context's last error; the error must stick (a later valid
 * builder call returns NULL). */
void gc_run_err_case(const gc_err_case *c);

/* ---- suite scaffolding shared by the op test files ------------------------------------------ */
/* For check tests: ck_asserts that no two cases across tables[0 .. ntables) share a name (names
 * seed the random numbers and name failures, so each must be unique); counts[t] is the length of
 * tables[t]. The message names the duplicated case. */
void gc_assert_unique_names(const gc_case *const *tables, const int *counts, int ntables);

/* check.h's types, declared here so that this header does not pull in check.h (whose macros,
 * fail() among them, would clash with files that include it without being check tests). */
typedef struct Suite Suite;
typedef struct TCase TCase;
typedef struct TTest TTest;

/* One loop test of a suite: tcase `name` runs test for _i in [0, count). */
typedef struct gc_loop {
    const char *name;
    const TTest *test;
    int count;
} gc_loop;

/* Adds to s one tcase per loops[i] (created with the name, a 300 s timeout and the loop test;
 * a count <= 0 adds no loop test, which runs nothing either way). If tcases is not NULL,
 * tcases[i] receives the tcase of loops[i], for the tests a file adds to particular tcases. */
void gc_add_loops(Suite *s, const gc_loop *loops, int n, TCase **tcases);

/* Creates a context on the default device; on failure ck_asserts with the context's message. */
clnn_ctx *gc_ctx_create(void);
/* 1 where the library takes the code path of CPU devices (clnn__cpu_path, internal): a device
 * other than a GPU, unless $CLNN_KERNEL_PATH=gpu; or $CLNN_KERNEL_PATH=cpu. */
int gc_cpu_path(const clnn_ctx *ctx);

/* ---- deterministic random numbers (splitmix64): no global state, one generator per case ----- */
typedef struct gc_rng {
    uint64_t state;
} gc_rng;

uint64_t gc_hash(const char *s); /* FNV-1a of a string: a per-case seed */
void gc_rng_seed(gc_rng *r, uint64_t seed);
uint64_t gc_rng_next(gc_rng *r);
double gc_rng_uniform(gc_rng *r, double lo, double hi); /* in [lo, hi) */
/* Fills x[0 .. n) with f32 values uniform in [lo, hi), redrawing those with |x| < avoid. */
void gc_rng_fill(gc_rng *r, float *x, int64_t n, double lo, double hi, double avoid);

#endif /* CLNN_TEST_GRADCHECK_H */
