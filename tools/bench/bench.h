/* bench.h — what the files of clnn-bench share: the run state (options, the device, result
 * records), timing and median, the reproducible input generator, the checked-timing helper and
 * the human table. clnn-bench uses the public API (include/clnn.h), and OpenCL itself only for
 * the roofline's kernels.
 * Files: main.c (options, dispatch, the devices suite), json.c (--json output, the --compare
 * reader and table), util.c (this header's functions), suite_roofline.c (the measured roofline:
 * its own OpenCL kernels), suite_gemm_elementwise.c, suite_startup_launch.c, suite_ops.c and
 * suite_conv.c with their host references in ops_ref.c, suite_models.c (train, infer).
 * Not here: any suite's own cases. */
#ifndef CLNN_BENCH_H
#define CLNN_BENCH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"

enum {
    S_DEVICES = 1,
    S_GEMM = 2,
    S_ELEMENTWISE = 4,
    S_STARTUP = 8,
    S_LAUNCH = 16,
    S_OPS = 32,
    S_TRAIN = 64,
    S_INFER = 128,
    S_ROOFLINE = 256,
    S_CONV = 512
};
/* Suites that rate their results against the measured roofline (it is measured first for them). */
#define S_NEED_ROOFLINE (S_GEMM | S_ELEMENTWISE | S_OPS | S_CONV | S_TRAIN | S_INFER)

#define LAUNCH_CHAIN       1000 /* kernels queued by one run of the launch suite */
#define ROOFLINE_COPY_MIB  64   /* each buffer of the roofline copy (--quick: half) */
#define ROOFLINE_TARGET_MS 40.0 /* the roofline's FMA runs last at least this (--quick: half) */
#define COMPARE_FASTER     1.05 /* --compare: a speed-up above this is an improvement */
#define COMPARE_SLOWER     0.95 /* and below this a regression */
#define GEMM_SAMPLES       64   /* entries of each GEMM result checked on the host */
#define GEMM_TOL           1e-5 /* times sqrt(K), relative to sum_k |a_ik w_kj| */

/* Figures of the development machine (2 cores of a Xeon with AVX-512), for the ops suite's
 * comparisons: CLBlast 1.5.3's untuned SGEMM and OpenBLAS SGEMM 1024^3, GFLOP/s. OpenBLAS 0.3.21
 * with its own AVX-512 kernels (OPENBLAS_CORETYPE=SkylakeX, 2 OpenMP threads: 276-300 measured);
 * left to detect the CPU it takes this VM's for a Prescott and runs at ~60. The peak itself is
 * measured (the roofline suite). */
#define REF_CLBLAST_GFLOPS  15.0
#define REF_OPENBLAS_GFLOPS 290.0

/* Records each suite may add; every suite file checks its own count against these. */
#define ROOFLINE_RESULTS    6  /* one per copy and FMA variant */
#define GEMM_RESULTS        14 /* one per GEMM shape and implementation */
#define ELEMENTWISE_RESULTS 8  /* the host copy + one per case */
#define STARTUP_RESULTS     6  /* one per cache variant */
#define LAUNCH_RESULTS      1
#define OPS_RESULTS         14 /* forward + backward of each op case */
#define CONV_RESULTS        57 /* the 3 passes of 7 layers x 2 algorithms, of 5 x Winograd */
#define TRAIN_RESULTS       5  /* one per model and batch */
#define INFER_RESULTS       6
#define MAX_RESULTS         120
_Static_assert(ROOFLINE_RESULTS + GEMM_RESULTS + ELEMENTWISE_RESULTS + STARTUP_RESULTS +
                       LAUNCH_RESULTS + OPS_RESULTS + CONV_RESULTS + TRAIN_RESULTS +
                       INFER_RESULTS <=
                   MAX_RESULTS,
               "MAX_RESULTS must hold every case");

#define RESULT_EXTRAS 8

typedef struct result {
    const char *suite;
    char name[56], shape[48];
    double median_ms, min_ms, enqueue_ms; /* enqueue_ms: median time until the run returned */
    int runs_per_sample; /* runs per timed sample (runs_per_sample); 0: not counted */
    const char *unit; /* JSON key of rate: "gflops", "gbps", "us_per_launch", "samples_per_s";
                       * NULL: no rate */
    double rate;
    /* the result against the measured roofline (set_roof): roof = GFLOP/s / FMA peak, or (when
     * roof_copy) GB/s / copy bandwidth; NaN: not rated */
    double roof;
    int roof_copy;
    const char *extra_key[RESULT_EXTRAS]; /* more JSON numbers (NULL: unused) */
    double extra[RESULT_EXTRAS];
    char note[64]; /* last column of the human table */
    int checked;
    double max_rel_err;
    char unavailable[160]; /* ops suite: why the op could not be built ("": it could) */
} result;

/* One line of an op case's device profile (ops suite), per run of its forward + backward graph. */
typedef struct op_profile {
    char case_name[40], op[40];
    double calls_per_run, ms_per_run, gflops, gbps; /* rates 0 when the op reports no count */
} op_profile;

/* The measured roofline (suite_roofline.c): 0 until measured, or when its check failed. */
typedef struct roofline {
    int measured;
    double copy_gbps;   /* float4 copy kernel: bytes read + written per second */
    double peak_gflops; /* the best FMA variant: 2 FLOPs per fma */
    char peak_variant[24];
} roofline;

struct compare_set; /* json.c: the results of --compare FILE */

typedef struct bench {
    int json, quick, reps, reps_given;
    const char *device; /* --device; NULL: the library's default */
    char self[4096];    /* this executable, re-executed by the startup suite */
    clnn_ctx *ctx;
    clnn_device_info info;
    clnn_device_info *devices; /* from the devices suite, for --json */
    size_t ndevices;
    result results[MAX_RESULTS];
    size_t nresults;
    double host_copy_gbps; /* 0 until the elementwise or ops suite measured it */
    roofline roof;
    op_profile *profiles; /* ops suite, for --json */
    size_t nprofiles;
    int ops_ran;           /* the ops suite ran: --json prints its reference figures */
    const char *models[8]; /* train, infer: model names or "model/bN" given (none: all) */
    int nmodels;
    int mpi;  /* --mpi: train data-parallel over the ranks of mpirun */
    int tune; /* --tune: TUNE_GEMM (CLBlast's parameters) | TUNE_CONV (suite_tune.c) */
    const char *compare_path;    /* --compare FILE */
    struct compare_set *compare; /* its results, loaded before any suite runs */
    int failures;
} bench;

/* ---- util.c --------------------------------------------------------------------------------- */
double now_ms(void); /* CLOCK_MONOTONIC in milliseconds */
/* Sorts v in place (v[0] is then the minimum) and returns the median. */
double median(double *v, int n);

typedef struct rng { /* xorshift64: reproducible inputs without global state */
    uint64_t s;
} rng;
uint64_t rng_next(rng *r);
void rng_fill(rng *r, float *x, size_t n, float lo, float hi);

/* Relative error of y[i][j] of a (M, K) @ w (K, N), against sum_k |a_ik w_kj|. */
double gemm_err(const float *a, const float *w, size_t k, size_t n, size_t i, size_t j, float got,
                double *expected);

/* Appends a record (MAX_RESULTS covers every case of every suite). */
result *add_result(bench *b, const char *suite, const char *name, const char *shape);
/* Rates r against the measured roofline: rate in GFLOP/s (copy = 0) or GB/s (copy = 1). */
void set_roof(const bench *b, result *r, double rate, int copy);
/* "41.5% peak", "73.0% copy" or "-" into buf (16 bytes). */
const char *fmt_roof(char *buf, const result *r);
void print_header(const bench *b, const char *title);
void print_row(const bench *b, const result *r);
/* A failed clnn call: its status and the context's detailed message. */
void fail_call(bench *b, const char *what, clnn_status st);
/* A builder error sticks to the graph: report it once the graph is built. */
int graph_failed(bench *b, clnn_graph *g, const char *what);

typedef clnn_status (*bench_fn)(void *arg);
clnn_status run_graph(void *g); /* a bench_fn: clnn_graph_run */
/* Timed samples last at least MIN_SAMPLE_MS: a run shorter than that (a small GEMM or an
 * elementwise op on a GPU, where one launch + wait is mostly the wait's overhead) is repeated
 * back to back within a sample, runs_per_sample(one run's ms) times (at most
 * MAX_RUNS_PER_SAMPLE), and the sample divided by the count; runs of 2 ms and more (most on a
 * CPU device) are timed one by one. */
#define MIN_SAMPLE_MS       2.0
#define MAX_RUNS_PER_SAMPLE 1000
int runs_per_sample(double one_run_ms);
/* Fails the case loudly unless err <= tol (where: the worst entry); otherwise times fn(arg):
 * one warm-up call, one call that sizes the samples (runs_per_sample), then b->reps wall-clock
 * timings of that many calls + clnn_ctx_finish, each divided by the count. 0 on success. */
int check_and_time(bench *b, result *r, double err, double tol, const char *where, bench_fn fn,
                   void *arg);

const char *type_name(clnn_device_type t);
const char *fmt_bytes(char *buf, size_t size, uint64_t v);

/* ---- the suites ----------------------------------------------------------------------------- */
/* Measures the roofline once per process (later calls return at once) and adds its results. */
void suite_roofline(bench *b);
void suite_gemm(bench *b);
void suite_elementwise(bench *b);
/* STREAM-like copy: memcpy of `bytes` split over one thread per online CPU, best of `runs`,
 * bytes read + written per second in GB/s; 0 on failure. */
double host_copy(size_t bytes, int runs, int *nthreads);
void suite_startup(bench *b);
void suite_launch(bench *b);
/* The child process of the startup suite: `clnn-bench --startup-child ...`. */
int startup_child(char **argv, double t_main);
/* The Keras MNIST CNN's layers (the train/infer suites' mnist-cnn, the startup suite's step) in
 * l; returns their count. */
int bench_cnn_layers(clnn_layer_spec l[6]);
void suite_ops(bench *b);
void suite_conv(bench *b);
void suite_train(bench *b);
void suite_infer(bench *b);
/* 1 when name is a model of the train or infer suite ("mnist-cnn") or one case ("mlp/b128"). */
int models_known(const char *name);

/* ---- json.c --------------------------------------------------------------------------------- */
void json_output(const bench *b);
/* Reads a --json output of clnn-bench into b->compare; -1 (a message on stderr) when the file
 * cannot be read or is not one. */
int compare_load(bench *b, const char *path);
/* The human comparison table: old and new throughput and the speed-up of each matched result. */
void compare_print(const bench *b);
void compare_free(bench *b);

enum { TUNE_GEMM = 1, TUNE_CONV = 2 };
/* suite_tune.c: --tune; 0 on success, 1 when a search failed */
int bench_tune(bench *b);
/* suite_models.c: the reference training steps --tune tunes the convolutions of (clnn_model_tune
 * of case i < tune_model_count(): its model name and batch in *name, *batch) */
int tune_model_count(void);
clnn_status tune_model(bench *b, int i, const clnn_conv_tune_options *o, clnn_conv_tune_report *r,
                       const char **name, int64_t *batch);

#endif /* CLNN_BENCH_H */
