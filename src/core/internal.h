/* internal.h — the structures behind the public handles and the helpers every part of the library
 * shares: error reporting (status.c), programs and kernels (program.c), device buffers (tensor.c),
 * the op registry (src/ops/registry.c), graph nodes (graph.c), planning (plan.c), enqueueing
 * (queue.c) and GEMMs (gemm.c). Nothing here is exported: internal symbols start with clnn__. */
#ifndef CLNN_INTERNAL_H
#define CLNN_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdarg.h>
#include <stdbool.h>

#include "clnn.h"

/* ---- OpenCL object accounting (util.c) --------------------------------------------------------
 * Every buffer, kernel and program the library creates or releases goes through these counting
 * wrappers (clnn_live_objects reports the counts; the leak tests check they return to zero). */
cl_mem clnn__cl_create_buffer(cl_context c, cl_mem_flags f, size_t size, void *host, cl_int *err);
cl_int clnn__cl_release_mem(cl_mem m);
cl_kernel clnn__cl_create_kernel(cl_program p, const char *name, cl_int *err);
cl_int clnn__cl_release_kernel(cl_kernel k);
cl_program clnn__cl_create_program_src(cl_context c, cl_uint n, const char **src,
                                       const size_t *len, cl_int *err);
cl_program clnn__cl_create_program_bin(cl_context c, cl_uint n, const cl_device_id *dev,
                                       const size_t *len, const unsigned char **bin,
                                       cl_int *status, cl_int *err);
cl_int clnn__cl_release_program(cl_program p);
#ifndef CLNN__NO_CL_WRAPPERS
#define clCreateBuffer             clnn__cl_create_buffer
#define clReleaseMemObject         clnn__cl_release_mem
#define clCreateKernel             clnn__cl_create_kernel
#define clReleaseKernel            clnn__cl_release_kernel
#define clCreateProgramWithSource  clnn__cl_create_program_src
#define clCreateProgramWithBinary  clnn__cl_create_program_bin
#define clReleaseProgram           clnn__cl_release_program
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CLNN__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLNN__PRINTF(f, a)
#endif

/* ---- context (context.c) -------------------------------------------------------------------- */
typedef struct clnn__program {
    char *file;    /* kernel file name without ".cl", e.g. "binary" */
    char *options; /* extra build options of this variant ("" for none) */
    cl_program program;
} clnn__program;

typedef struct clnn__prof_row {
    const char *op;
    uint64_t calls;
    double ns, flops, bytes;
} clnn__prof_row;

typedef struct clnn__prof_pending {
    cl_event event;
    cl_event
        after; /* NULL, or a marker enqueued just before: the time is end(event) - end(after) */
    int row;
} clnn__prof_pending;

struct clnn_ctx {
    /* last error */
    clnn_status last_status;
    int last_raw;
    char *last_error; /* heap; NULL means "" */
    /* options, resolved */
    char *cache_dir;  /* NULL when the disk cache is off */
    char *kernel_dir; /* NULL: embedded kernels */
    int profile;
    clnn_log_fn log;
    void *log_user;
    clnn_log_level log_level;
    int usable; /* 0 for a context returned by a failed clnn_ctx_create */
    /* OpenCL */
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    clnn_device_info info;
    char build_options[96]; /* -cl-std=... and device defines, decided once (device_quirks) */
    /* programs built so far */
    clnn__program *programs;
    size_t nprograms, programs_cap;
    clnn_ctx_stats stats;
    /* profiling */
    clnn__prof_row *prof;
    size_t nprof, prof_cap;
    clnn__prof_pending *pending;
    size_t npending, pending_cap;
    const clnn_tensor *prof_counted; /* the node whose run the profile counted last (queue.c) */
    /* layers named so far per kind, for Keras-style default names unique in the context */
    unsigned layer_names[32];
    /* CLBlast keeps its own per-device state; see gemm.c */
    int gemm_ready;         /* the device's GEMM tuning file was looked at (clnn__tune_load) */
    int tune_applied;       /* and its parameters applied by this context */
    char tune_status[1300]; /* what loading did, for clnn_gemm_tuning_get */
    /* tuned choices of clnn's own kernels (tune_own.c) */
    int own_ready;                  /* the device's own-kernel tuning file was looked at */
    struct clnn__conv_choice *conv_choices; /* tuned convolution algorithms, per shape */
    size_t nconv_choices, conv_choices_cap;
    int conv_algo_force; /* algorithm + 1 that every convolution takes (the tuner); 0: none */
    int own_gemm_tm;     /* rows of C per work-item of the own SGEMM (gemm.cl GEMM_TM); 0: default */
    char own_status[1300]; /* what loading the own-kernel tuning file did */
    /* a second command queue for uploads that overlap compute (feed.c); NULL until used */
    cl_command_queue upload_queue;
    /* clnn's own SGEMM: op(B) in panels, shared by every own GEMM (gemm.c); released when the
     * last of the gemm_pack_users nodes is */
    cl_mem gemm_pack;
    long gemm_pack_users;
};

/* ---- errors (status.c) ---------------------------------------------------------------------- */
/* Records status and a printf-style message as the context's last error; returns status. */
clnn_status clnn__fail(clnn_ctx *ctx, clnn_status status, const char *fmt, ...) CLNN__PRINTF(3, 4);
clnn_status clnn__failv(clnn_ctx *ctx, clnn_status status, const char *fmt, va_list ap);
/* Maps an OpenCL error code: allocation failures -> CLNN_ERR_DEVICE_MEMORY, else CLNN_ERR_OPENCL;
 * the raw code is kept and the message names the call and the code. */
clnn_status clnn__cl_fail(clnn_ctx *ctx, cl_int err, const char *fmt, ...) CLNN__PRINTF(3, 4);
/* The same for CLBlast status codes (which reuse OpenCL's values where the meaning is shared). */
clnn_status clnn__clblast_fail(clnn_ctx *ctx, int code, const char *what);
const char *clnn__cl_error_name(cl_int err);
void clnn__log(clnn_ctx *ctx, clnn_log_level level, const char *fmt, ...) CLNN__PRINTF(3, 4);

/* ---- small utilities (util.c) --------------------------------------------------------------- */
char *clnn__strdup(const char *s);
uint64_t clnn__fnv1a(uint64_t h, const void *data, size_t n);
#define CLNN__FNV_INIT 0xcbf29ce484222325ull
/* Grows *arr (of elem bytes each) so that it holds at least need elements. 0 on success. */
int clnn__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* ---- random numbers (rng.c): splitmix64 seeding xoshiro256**, no global state --------------- */
typedef struct clnn__rng {
    uint64_t s[4];
} clnn__rng;
void clnn__rng_seed(clnn__rng *r, uint64_t seed);
/* Independent streams of one seed: seed ^ (stream * 0xd1342543de82ef95 + 0x2545f4914f6cdd1d). */
void clnn__rng_seed_stream(clnn__rng *r, uint64_t seed, uint64_t stream);
uint64_t clnn__rng_next(clnn__rng *r);
double clnn__rng_uniform(clnn__rng *r);                 /* [0, 1), 53 bits */
double clnn__rng_normal(clnn__rng *r);                  /* N(0, 1), Box-Muller */
uint64_t clnn__rng_below(clnn__rng *r, uint64_t bound); /* [0, bound), no modulo bias */
/* order = a permutation of 0 .. n-1 (Fisher-Yates from r). */
void clnn__permutation(int64_t *order, int64_t n, clnn__rng *r);

/* ---- programs and kernels (program.c, kernels_embedded.c) ------------------------------------ */
typedef struct clnn__kernel_source {
    const char *name; /* file name without ".cl" */
    const unsigned char *data;
    size_t size;
} clnn__kernel_source;
extern const clnn__kernel_source clnn__kernel_sources[];
extern const size_t clnn__kernel_source_count;

/* Returns the program of kernels/<file>.cl built with extra options (NULL = none): from memory,
 * else from the disk cache, else from source (then cached). */
clnn_status clnn__program_get(clnn_ctx *ctx, const char *file, const char *options,
                              cl_program *out);
/* clCreateKernel on that program; the caller releases the kernel. */
clnn_status clnn__kernel_create(clnn_ctx *ctx, const char *file, const char *options,
                                const char *kernel, cl_kernel *out);
void clnn__programs_release(clnn_ctx *ctx);

/* ---- device storage and tensors (tensor.c) -------------------------------------------------- */
typedef struct clnn__storage {
    clnn_ctx *ctx;
    cl_mem mem;
    size_t bytes;
    int refs;
} clnn__storage;

clnn_status clnn__storage_create(clnn_ctx *ctx, size_t bytes, clnn__storage **out);
/* A scratch buffer (*buf: a node's scratch, the context's GEMM packing buffer) with room for
 * bytes: kept when it has them, else released (the in-order queue keeps it while enqueued work
 * uses it) and made again. A size past the device's largest allocation fails with
 * CLNN_ERR_DEVICE_MEMORY before any OpenCL call; messages name what (and node, when not NULL). */
clnn_status clnn__buffer_reserve(clnn_ctx *ctx, cl_mem *buf, size_t bytes, const char *what,
                                 const char *node);
void clnn__storage_retain(clnn__storage *s);
void clnn__storage_release(clnn__storage *s);

typedef enum clnn__kind {
    CLNN__OWNED = 0, /* caller-owned tensor from clnn_tensor_create / clnn_tensor_view */
    CLNN__INPUT,
    CLNN__PARAM,
    CLNN__CONST,
    CLNN__BOUND, /* leaf using a caller-owned tensor's storage */
    CLNN__OP     /* result of an op */
} clnn__kind;

#define CLNN__MAX_SRC      8
#define CLNN__PARAMS_BYTES 96
#define CLNN__MAX_KERNELS  13
#define CLNN__GEMM_SLOT    11 /* kernels[11], [12]: clnn's own SGEMM (gemm.c), the node's GEMMs */

struct clnn_tensor {
    clnn_ctx *ctx;
    clnn_graph *graph; /* NULL for caller-owned tensors */
    clnn__kind kind;
    clnn_dtype dtype;
    int ndim;
    int64_t shape[CLNN_MAX_DIMS];
    int64_t numel;
    clnn__storage *storage; /* NULL until planned (op nodes) */
    size_t offset;          /* in elements, into storage */
    char name[80]; /* layer names (<= 34) + the longest parameter suffix fit */
    /* graph node */
    int op; /* index into the op registry for CLNN__OP */
    int nsrc;
    clnn_tensor *src[CLNN__MAX_SRC];
    _Alignas(8) unsigned char params[CLNN__PARAMS_BYTES];
    size_t index; /* position in the graph */
    bool requires_grad;
    bool keep;
    bool is_view; /* shares src[0]'s storage (reshape) */
    clnn_tensor *grad;
    clnn_tensor *external; /* CLNN__BOUND: the caller's tensor */
    float fill;            /* CLNN__CONST */
    /* emit state, made on first emit after planning */
    cl_kernel kernels[CLNN__MAX_KERNELS];
    cl_mem aux;     /* e.g. shape and stride tables */
    cl_mem scratch; /* e.g. partial sums */
    int gemm_tm;      /* the GEMM_TM that kernels[CLNN__GEMM_SLOT..] were built with (gemm.c) */
    bool gemm_packs;  /* holds a reference to ctx->gemm_pack (gemm.c) */
};

size_t clnn__dtype_size(clnn_dtype dtype);
int64_t clnn__numel(int ndim, const int64_t *shape);
/* Largest element count of one tensor: 2^46 (far beyond any device, far below int64 overflow). */
#define CLNN__MAX_NUMEL ((int64_t)1 << 46)
/* 1 when every dimension is positive and the product stays <= CLNN__MAX_NUMEL. */
int clnn__shape_valid(int ndim, const int64_t *shape);
/* "(4, 3)" */
const char *clnn__shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* cl_mem + byte offset of a tensor's first element */
static inline size_t clnn__byte_offset(const clnn_tensor *t)
{
    return t->offset * clnn__dtype_size(t->dtype);
}
/* Fills count floats of mem from element offset with value (kernel "fill"). */
clnn_status clnn__fill(clnn_ctx *ctx, cl_mem mem, size_t offset, size_t count, float value,
                       const char *op);

/* ---- the op registry (src/ops/) ------------------------------------------------------------ */
typedef struct clnn__op_def {
    const char *name;
    int n_inputs;
    /* Fills out's dtype/ndim/shape from out->src and out->params; on a bad shape or parameter it
     * returns clnn__graph_fail(...). */
    clnn_status (*infer)(clnn_graph *g, clnn_tensor *out);
    /* Enqueues the node's work (kernels through clnn__enqueue, GEMMs through clnn__gemm). */
    clnn_status (*emit)(clnn_tensor *node);
    /* Adds the gradient of each input that requires one: clnn__grad_accum(g, node->src[i], d). */
    clnn_status (*backward)(clnn_graph *g, clnn_tensor *node, clnn_tensor *grad_out);
    /* Floating-point operations and bytes moved by one run (for profiles); NULL: bytes only. */
    void (*cost)(const clnn_tensor *node, double *flops, double *bytes);
    /* kernels/<program>.cl that emit uses; NULL for ops without kernels (CLBlast, views) */
    const char *program;
} clnn__op_def;

enum {
#define CLNN_OP(ID, name) CLNN_OP_##ID,
#include "../ops/ops.def"
#undef CLNN_OP
    CLNN_OP_COUNT
};
extern const clnn__op_def *const clnn__ops[CLNN_OP_COUNT];
/* Start-up check that every op's program is embedded (or in CLNN_KERNEL_DIR). */
clnn_status clnn__ops_check(clnn_ctx *ctx);

/* ---- graphs (graph.c, plan.c, queue.c) ------------------------------------------------------ */
struct clnn_graph {
    clnn_ctx *ctx;
    clnn_tensor **nodes;
    size_t nnodes, nodes_cap;
    clnn_status status; /* first builder error, sticky */
    char *error;
    bool planned;
    bool has_backward;
    bool training;        /* dropout and batchnorm: training (default) or evaluation mode */
    uint64_t runs;        /* completed clnn_graph_run calls: the dropout RNG's counter */
    clnn__storage **pool; /* intermediate buffers made by the plan */
    size_t npool;
    clnn_graph_info info;
};

/* Records the graph's first error (and the context's last error); returns status. */
clnn_status clnn__graph_fail(clnn_graph *g, clnn_status status, const char *fmt, ...)
    CLNN__PRINTF(3, 4);
/* 1 when act with alpha can run in a GEMM's or a convolution's epilogue, its derivative taken
 * from the output alone: CLNN_ACT_NONE, RELU, SIGMOID, TANH, and LEAKY_RELU and ELU with a finite
 * alpha >= 0 (a negative one maps negative inputs to positive outputs) (op_activation.c). */
int clnn__act_epilogue(clnn_activation act, float alpha);
/* dy through the derivative of epilogue activation act (alpha), from the output y (relu_bwd,
 * sigmoid_bwd, tanh_bwd, activate_bwd for leaky ReLU and ELU; none: dy itself); NULL on a graph
 * error. */
clnn_tensor *clnn__act_bwd_from_output(clnn_graph *g, clnn_activation act, float alpha,
                                       clnn_tensor *y, clnn_tensor *dy);
/* The activation code activate_bwd takes for "ELU's derivative from its output": y + alpha where
 * y <= 0 (activation.cl's ACT_ELU_FROM_OUTPUT; past every clnn_activation, checked in
 * op_activation.c). */
#define CLNN__ACT_ELU_FROM_OUTPUT 16
/* conv2d with act (one clnn__act_epilogue accepts with alpha; others fail) after the bias in the
 * kernels' epilogue (one pass instead of conv2d + bias_act; the Conv2D layer's activation).
 * Backward masks or scales dy by act' from the output (op_conv.c). */
clnn_tensor *clnn__conv2d_act(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                              const clnn_conv2d_options *options, clnn_activation act, float alpha);
/* act(op(a) @ op(b) + bias) (bias (N) or NULL; alpha as in clnn_activate) with the bias and the
 * activation in the own SGEMM's store epilogue where clnn__gemm_own (CPU devices) and
 * clnn__act_epilogue(act, alpha) (derivatives from the output; softmax: the bias fused, then
 * softmax); otherwise clnn_matmul + bias_act / activate. Backward masks dy by the output
 * (op_matmul.c). */
clnn_tensor *clnn__matmul_bias_act(clnn_graph *g, clnn_tensor *a, clnn_tensor *b, int trans_a,
                                   int trans_b, clnn_tensor *bias, clnn_activation act,
                                   float alpha);
/* Adds an op node: checks inputs (NULL or a sticky error -> NULL), copies params, runs infer. */
clnn_tensor *clnn__node(clnn_graph *g, int op, int nsrc, clnn_tensor *const *src,
                        const void *params, size_t params_size);
#define CLNN__PARAMS(node, type) ((type *)(void *)(node)->params)
/* d loss / d t += d (d is reduced over broadcast axes first when its shape differs from t). */
clnn_status clnn__grad_accum(clnn_graph *g, clnn_tensor *t, clnn_tensor *d);
/* Sums x over the axes where it was broadcast from shape (ndim, shape); x if no reduction. */
clnn_tensor *clnn__sum_to(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape);
int clnn__norm_axis(int axis, int ndim); /* -1 if out of range */

void clnn__plan_release(clnn_graph *g);
/* clnn_graph_run calling after(user, node) once each node's operations are enqueued (fit over
 * MPI starts copying a gradient off the device as soon as it is final). */
clnn_status clnn__graph_run_hooked(clnn_graph *g, void (*after)(void *user, const clnn_tensor *t),
                                   void *user);
/* A non-blocking read of a planned tensor into data; *done completes with it. */
clnn_status clnn__tensor_read_async(clnn_tensor *t, void *data, cl_event *done);
/* clnn_tensor_write without waiting: data must stay untouched until *done (NULL: not asked)
 * completes. */
clnn_status clnn__tensor_write_async(clnn_tensor *t, const void *data, size_t bytes,
                                     cl_event *done);
/* The context's second in-order command queue, for uploads that overlap the main queue's work
 * (fit's double-buffered batches), made on first use on the same device (with profiling when the
 * main queue has it); NULL when it cannot be made (then everything stays on ctx->queue). */
cl_command_queue clnn__upload_queue(clnn_ctx *ctx);
/* Releases a node's kernels and its aux and scratch buffers (made again by the next emit). */
void clnn__node_release_emit(clnn_tensor *t);

/* Enqueues kernel over a 1-D range of n work-items (rounded up to a multiple of local, local 0 =
 * let the runtime choose), recording the event for node's op when profiling. */
clnn_status clnn__enqueue(clnn_tensor *node, cl_kernel kernel, cl_uint dims, const size_t *global,
                          const size_t *local);
/* Makes kernel number i of a node (cached in node->kernels[i]) from the op's program. *fresh is
 * set to 1 when it was just created (so its arguments must be set). */
clnn_status clnn__node_kernel(clnn_tensor *node, int i, const char *kernel, cl_kernel *out,
                              int *fresh);
/* Profiling: remember ev (owned from now on) as one call of node's op. When `after` is a marker
 * enqueued before the work (owned too), the call lasts from the marker's end to ev's end: this
 * covers every kernel of a library call (CLBlast) that returns only its last event. */
void clnn__prof_record(clnn_ctx *ctx, const clnn_tensor *node, cl_event ev);
void clnn__prof_record_span(clnn_ctx *ctx, const clnn_tensor *node, cl_event after, cl_event ev);
clnn_status clnn__prof_collect(clnn_ctx *ctx);
void clnn__prof_free(clnn_ctx *ctx);
/* Sets a kernel's arguments in order: CLNN__ARG(value) pairs of (size, pointer). */
clnn_status clnn__set_args(clnn_ctx *ctx, cl_kernel k, const char *what, int n, ...);
#define CLNN__ARG(v) sizeof(v), (const void *)&(v)

/* ---- GEMM on CLBlast (gemm.c) --------------------------------------------------------------- */
/* Row-major C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, strides in elements
 * (a stride of 0 reuses the same matrix). Offsets in elements. */
typedef struct clnn__gemm_args {
    int trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    size_t a_off, b_off, c_off;
    size_t lda, ldb, ldc;
    size_t a_stride, b_stride, c_stride;
    size_t batch;
    /* epilogue (0 = none): C = act(C + bias) with bias (N) at bias_off (NULL: no bias) and act
     * one clnn__act_epilogue accepts with act_alpha; in the own kernel's store, after CLBlast a
     * pass */
    cl_mem bias;
    size_t bias_off;
    int act;
    float act_alpha;
    /* B is op(B) already in the own SGEMM's panels (clnn__gemm_pack_b; trans_b and ldb are not
     * read, b_stride is the panels' stride per batch): only where clnn__gemm_panels_ok said so */
    int b_panels;
} clnn__gemm_args;
clnn_status clnn__gemm(clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *args);
/* The same always on CLBlast (its parameter search, tune.c). */
clnn_status clnn__gemm_clblast(clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *args);
/* 1: ctx runs the code path of CPU devices, 0: that of GPUs. It decides every choice made by
 * device type: the kernels' variants (CPU: a work-item loops over a span of rows or elements
 * with vector steps; GPU: a work-item per element, neighbours read neighbours), work-group
 * shapes, the GEMM (own kernels or CLBlast), the convolution algorithm's default and the
 * programs' -DCLNN_DEVICE_CPU / _GPU (fixed when the context is created). By device type (GPU:
 * 0; CPU, accelerator and others: 1); $CLNN_KERNEL_PATH=cpu or gpu overrides it, read at every
 * call, so that the tests run the GPU path on POCL. */
int clnn__cpu_path(const clnn_ctx *ctx);
/* Which implementation clnn__gemm uses on ctx's device: 1 clnn's own kernels (CPU devices), 0
 * CLBlast (GPUs); $CLNN_GEMM=own|clblast forces one. The own kernels belong to the node (its
 * kernel slots CLNN__GEMM_SLOT.., released with it; the packing buffer is ctx->gemm_pack); a GEMM
 * without a node runs on CLBlast. */
int clnn__gemm_own(const clnn_ctx *ctx);
/* Pre-packed B for a caller that multiplies by the same op(B) many times (a recurrent layer's
 * W_hh, once per step): clnn__gemm_panels_ok says whether clnn__gemm runs a on the own kernels
 * (which read panels); clnn__gemm_panel_floats is the room op(B) (k x n) takes in panels; and
 * clnn__gemm_pack_b writes op(B) of a (one batch) there, into dst at the float offset off, with
 * node's kernels. Then clnn__gemm with b_panels = 1 reads it. */
int clnn__gemm_panels_ok(const clnn_ctx *ctx, const clnn_tensor *node, const clnn__gemm_args *a);
size_t clnn__gemm_panel_floats(size_t k, size_t n);
clnn_status clnn__gemm_pack_b(clnn_ctx *ctx, clnn_tensor *node, const clnn__gemm_args *a,
                              cl_mem dst, size_t off);
/* Drops node's reference to ctx->gemm_pack (its emit state is released). */
void clnn__gemm_pack_drop(clnn_tensor *node);
/* 1 when tm is a GEMM_TM the own SGEMM is built with (4, 6, 8, 10, 12); ctx->own_gemm_tm and
 * $CLNN_GEMM_TM (a test and benchmark override, it wins) fall back to 8 otherwise. */
int clnn__gemm_tm_valid(int tm);


/* ---- per-device files in the cache directory (keyfile.c) ----------------------------------- */
#define CLNN__KEYFILE_MAX_BYTES 262144
/* mkdir -p (errors surface when the file is created) */
void clnn__make_dirs(const char *dir);
/* The head of a file for ctx's device: magic line, platform, device, driver and device-version
 * lines, then extra (more key lines, each ending in a newline; may be NULL). */
void clnn__keyfile_head(const clnn_ctx *ctx, const char *magic, const char *extra, char *buf,
                        size_t size);
/* <cache_dir>/<prefix>-<hash of head's key lines>.tune; -1 without a cache directory. */
int clnn__keyfile_path(const clnn_ctx *ctx, const char *prefix, const char *head, char *path,
                       size_t size);
/* Writes head, body and a checksum line atomically; `what` names the file in messages. */
clnn_status clnn__keyfile_write(clnn_ctx *ctx, const char *path, const char *head,
                                const char *body, const char *what);
/* 1 with *body (malloc'd, the lines between head and checksum) when path holds a valid file
 * with exactly this head; 0 when there is no file; -1 with the reason in why otherwise. */
int clnn__keyfile_read(const char *path, const char *head, char **body, char *why,
                       size_t why_size);

/* ---- tuned choices of clnn's own kernels (tune_own.c) --------------------------------------- */
/* Convolution algorithms (op_conv.c): 0 im2col + GEMM, 1 conv_direct, 2 conv_bwd_w_rows,
 * 3 conv_fwd_rows, 4 Winograd F(2x2,3x3). */
#define CLNN__CONV_ALGOS 5
/* What decides a convolution's algorithm: the op (CLNN_OP_CONV2D, _CONV2D_TRANSPOSE,
 * _CONV2D_BWD_INPUT, _CONV2D_BWD_WEIGHT) and its geometry. */
typedef struct clnn__conv_key {
    int op, N, C, H, W, K, R, S, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
} clnn__conv_key;
typedef struct clnn__conv_choice {
    clnn__conv_key key;
    int algo;
} clnn__conv_choice;
/* The tuned algorithm for key on ctx's device (loading the tuning file at the first call): the
 * entry with the same op and geometry and the nearest batch N; -1 when none. */
int clnn__conv_algo_tuned(clnn_ctx *ctx, const clnn__conv_key *key);
/* op_conv.c: key of a convolution node (0), or -1 when node is not one; valid[a] = 1 for each
 * algorithm a that can run it on its device. */
int clnn__conv_algos(const clnn_tensor *node, clnn__conv_key *key, int valid[CLNN__CONV_ALGOS]);
/* op_conv.c: the algorithm node runs with now (env, tuned table, rules); node is a convolution */
int clnn__conv_algo_of(const clnn_tensor *node);
void clnn__own_tune_load(clnn_ctx *ctx);
void clnn__own_tune_free(clnn_ctx *ctx);

/* ---- GEMM parameters and the tuning file (gemm.c; the search: tune.c) ---------------------- */
/* 1 when any group of p is set (not CLBlast's own). */
int clnn__gemm_params_set(const clnn_gemm_params *p);
/* The kernels' constraints: 0, or -1 with the broken one in msg. */
int clnn__gemm_params_check(const clnn_gemm_params *p, char *msg, size_t size);
/* Sets this CLBlast version runs wrongly or crashes on: 0, or -1 with the reason. */
int clnn__gemm_params_known_bad(const clnn_gemm_params *p, char *msg, size_t size);
/* Makes the groups set in p CLBlast's SGEMM parameters for ctx's device (process-wide). */
clnn_status clnn__gemm_apply(clnn_ctx *ctx, const clnn_gemm_params *p);
/* What clnn applied to ctx's device in this process: 1 and *out, or 0 and *out all zero. */
int clnn__gemm_applied(const clnn_ctx *ctx, clnn_gemm_params *out);
/* The path of ctx's device's tuning file; -1 (path "") without a cache directory. */
int clnn__tune_path(const clnn_ctx *ctx, char *path, size_t size);
/* Writes p (and comment lines) atomically as ctx's device's tuning file; its path into path. */
clnn_status clnn__tune_write(clnn_ctx *ctx, const clnn_gemm_params *p, const char *comments,
                             char *path, size_t path_size);
/* Applies the device's tuning file once per context (unless CLNN_NO_TUNE=1); a missing file is
 * quiet, a rejected one a warning. Never fails. */
void clnn__tune_load(clnn_ctx *ctx);

/* ---- optimizers (src/optim/optim.c) -------------------------------------------------------- */
/* Points an optimizer at another graph that binds the same caller-owned tensors (a model's graph
 * for another batch size): each updated leaf must be bound in g (clnn_graph_bind of the same
 * tensor) with a gradient. The state buffers (moments, step count) are kept. Plans g. */
clnn_status clnn__optimizer_attach(clnn_optimizer *opt, clnn_graph *g);
/* Forgets the graph (about to be destroyed); the next step needs an attach. */
void clnn__optimizer_detach(clnn_optimizer *opt);
/* Checkpoints: the updated tensors (the caller-owned tensor of each bound leaf), their state
 * buffers (nstate per tensor: SGD momentum; Adam m, v; RMSprop sq, avg, buf; state_len floats,
 * 1 for an unused RMSprop buffer) read or written from/to the host, and the counters (updates
 * done, schedule counter, base learning rate) read or set. */
size_t clnn__optimizer_nparams(const clnn_optimizer *opt);
const clnn_tensor *clnn__optimizer_external(const clnn_optimizer *opt, size_t i);
/* The gradient of leaf i in the attached graph (NULL when detached or out of range). */
clnn_tensor *clnn__optimizer_grad(const clnn_optimizer *opt, size_t i);
int clnn__optimizer_nstate(const clnn_optimizer *opt);
size_t clnn__optimizer_state_len(const clnn_optimizer *opt, size_t i, int k);
clnn_status clnn__optimizer_state_rw(clnn_optimizer *opt, size_t i, int k, float *host, int write);
/* The global norm of the current gradients of every updated tensor (computed on the device as for
 * clipping; waits for it). Non-finite when any gradient is. */
clnn_status clnn__optimizer_norm(clnn_optimizer *opt, float *norm);
/* The same without the wait: v[1] receives the norm once the queue has run up to here (a later
 * blocking read or wait on the queue); v must live until then. The device also records whether
 * the norm and loss (a scalar tensor, or NULL) are finite, for clnn__optimizer_step_guarded. */
clnn_status clnn__optimizer_norm_async(clnn_optimizer *opt, float v[2], const clnn_tensor *loss);
/* clnn_optimizer_step right after clnn__optimizer_norm_async (whose pass it uses for clipping),
 * with every update skipped on the device when that norm or loss was not finite; the step is
 * counted: clnn__optimizer_unstep takes it back when the caller learns the batch was dropped. */
clnn_status clnn__optimizer_step_guarded(clnn_optimizer *opt);
void clnn__optimizer_unstep(clnn_optimizer *opt);
void clnn__optimizer_counters(clnn_optimizer *opt, uint64_t *steps, uint64_t *epoch, double *base_lr,
                              int set);

#endif /* CLNN_INTERNAL_H */
