/* clnn-bench.c — clnn's benchmark tool, written against the public API only (include/clnn.h).
 * Suites: `devices` (every OpenCL device), `gemm` (clnn_matmul on CLBlast over square and layer
 * shapes, GFLOP/s), `elementwise` (single-kernel graphs in GB/s as a fraction of the host's
 * STREAM-like multi-threaded memcpy bandwidth), `startup` (process start to the first kernel
 * result with cold and warm program caches, in child processes that re-execute this binary) and
 * `launch` (wall-clock cost per queued kernel over a chain of tiny ops). Every benchmark checks
 * its result against a double-precision host reference before timing it; a wrong result fails the
 * run (exit status 1). Human tables by default, one JSON object on stdout with --json.
 * Not here: op correctness tests (tests/) and per-op device profiles (CLNN_PROFILE=1). */
#define _XOPEN_SOURCE 700 /* nftw */

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clnn.h"

enum { S_DEVICES = 1, S_GEMM = 2, S_ELEMENTWISE = 4, S_STARTUP = 8, S_LAUNCH = 16 };
static const char *const SUITE_NAMES[] = {"devices", "gemm", "elementwise", "startup", "launch"};

#define LAUNCH_CHAIN   1000 /* kernels queued by one run of the launch suite */
#define GEMM_SAMPLES   64   /* entries of each GEMM result checked on the host */
#define GEMM_TOL       1e-5 /* times sqrt(K), relative to sum_k |a_ik w_kj| */
#define EW_COLS        1024 /* C of the broadcast add (R, C) + (C) */
#define HOST_COPY_RUNS 20   /* the host copy bandwidth is the best of these runs */
#define MAX_RESULTS    32

/* ---- timing, inputs, records ---------------------------------------------------------------- */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place (v[0] is then the minimum) and returns the median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct rng { /* xorshift64: reproducible inputs without global state */
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    return r->s ^= r->s << 17;
}

static void rng_fill(rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)(rng_next(r) >> 40) / 16777216.0);
}

/* Relative error of y[i][j] of a (M, K) @ w (K, N), against sum_k |a_ik w_kj|. */
static double gemm_err(const float *a, const float *w, size_t k, size_t n, size_t i, size_t j,
                       float got, double *expected)
{
    double ref = 0, mag = 0;
    for (size_t p = 0; p < k; p++) {
        ref += (double)a[i * k + p] * w[p * n + j];
        mag += fabs((double)a[i * k + p] * w[p * n + j]);
    }
    *expected = ref;
    return fabs(got - ref) / (mag > 0 ? mag : 1);
}

typedef struct result {
    const char *suite;
    char name[40], shape[32];
    double median_ms, min_ms, enqueue_ms; /* enqueue_ms: median time until the run returned */
    const char *unit; /* JSON key of rate: "gflops", "gbps", "us_per_launch"; NULL: no rate */
    double rate;
    const char *extra_key[2]; /* more JSON numbers (NULL: unused) */
    double extra[2];
    char note[64]; /* last column of the human table */
    int checked;
    double max_rel_err;
} result;

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
    double host_copy_gbps; /* 0 until the elementwise suite measured it */
    int failures;
} bench;

/* Appends a record (MAX_RESULTS covers every case of every suite: see the check below main). */
static result *add_result(bench *b, const char *suite, const char *name, const char *shape)
{
    result *r = &b->results[b->nresults++];
    *r = (result){.suite = suite, .median_ms = NAN, .min_ms = NAN};
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    return r;
}

static void print_header(const bench *b, const char *title)
{
    if (!b->json)
        printf("\n== %s\n%-26s %-20s %10s %10s %16s  %-34s %s\n", title, "name", "shape",
               "median ms", "min ms", "rate", "note", "max rel err");
}

static void print_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    char rate[32] = "-";
    if (r->unit)
        snprintf(rate, sizeof rate, "%.2f %s", r->rate,
                 !strcmp(r->unit, "gflops") ? "GFLOP/s"
                 : !strcmp(r->unit, "gbps") ? "GB/s"
                                            : "us/launch");
    char med[24] = "-", min[24] = "-";
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.3f", r->median_ms);
        snprintf(min, sizeof min, "%.3f", r->min_ms);
    }
    printf("%-26s %-20s %10s %10s %16s  %-34s %.1e%s\n", r->name, r->shape, med, min, rate, r->note,
           r->max_rel_err, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* A failed clnn call: its status and the context's detailed message. */
static void fail_call(bench *b, const char *what, clnn_status st)
{
    fprintf(stderr, "clnn-bench: %s failed: %s: %s\n", what, clnn_status_name(st),
            b->ctx ? clnn_ctx_last_error(b->ctx) : clnn_status_text(st));
    b->failures++;
}

/* A builder error sticks to the graph: report it once the graph is built. */
static int graph_failed(bench *b, clnn_graph *g, const char *what)
{
    if (clnn_graph_status(g) == CLNN_OK)
        return 0;
    fprintf(stderr, "clnn-bench: building %s failed: %s\n", what, clnn_graph_last_error(g));
    b->failures++;
    return 1;
}

typedef clnn_status (*bench_fn)(void *arg);

static clnn_status run_graph(void *g)
{
    return clnn_graph_run(g);
}

/* Fails the case loudly unless err <= tol (where: the worst entry); otherwise times fn(arg):
 * one warm-up call, then b->reps wall-clock timings of fn + clnn_ctx_finish. 0 on success. */
static int check_and_time(bench *b, result *r, double err, double tol, const char *where,
                          bench_fn fn, void *arg)
{
    r->max_rel_err = err;
    if (!(err <= tol)) {
        fprintf(stderr, "clnn-bench: FAIL %s %s %s: relative error %.2e > %.2e%s%s\n", r->suite,
                r->name, r->shape, err, tol, *where ? " at " : "", where);
        b->failures++;
        print_row(b, r);
        return -1;
    }
    r->checked = 1;
    if (!fn)
        return 0; /* measured by the caller */
    double *total = malloc((size_t)b->reps * sizeof *total);
    double *enq = malloc((size_t)b->reps * sizeof *enq);
    clnn_status st = total && enq ? fn(arg) : CLNN_ERR_NOMEM;
    if (!st)
        st = clnn_ctx_finish(b->ctx);
    for (int i = 0; i < b->reps && !st; i++) {
        double t0 = now_ms();
        st = fn(arg);
        enq[i] = now_ms() - t0;
        if (!st)
            st = clnn_ctx_finish(b->ctx);
        total[i] = now_ms() - t0;
    }
    if (st) {
        fail_call(b, r->name, st);
    } else {
        r->median_ms = median(total, b->reps);
        r->min_ms = total[0];
        r->enqueue_ms = median(enq, b->reps);
    }
    free(total);
    free(enq);
    return st ? -1 : 0;
}

/* ---- devices -------------------------------------------------------------------------------- */
static const char *type_name(clnn_device_type t)
{
    return t == CLNN_DEVICE_GPU           ? "gpu"
           : t == CLNN_DEVICE_CPU         ? "cpu"
           : t == CLNN_DEVICE_ACCELERATOR ? "accel"
                                          : "other";
}

static const char *fmt_bytes(char *buf, size_t size, uint64_t v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = 0;
    for (; x >= 1024 && u < 4; u++)
        x /= 1024;
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", x, units[u]);
    return buf;
}

static int suite_devices(bench *b)
{
    size_t count = 0;
    clnn_status st = clnn_devices_list(NULL, 0, &count);
    if (st == CLNN_OK && count == 0)
        st = CLNN_ERR_NO_DEVICE;
    if (st == CLNN_OK && !(b->devices = calloc(count, sizeof *b->devices)))
        st = CLNN_ERR_NOMEM;
    if (st == CLNN_OK)
        st = clnn_devices_list(b->devices, count, &count);
    if (st) {
        fprintf(stderr, "clnn-bench: %s\n", clnn_status_text(st));
        return -1;
    }
    b->ndevices = count;
    if (b->json)
        return 0;
    printf("%-4s %-5s %-12s %-4s %4s %10s %9s %10s %6s %4s %4s  %s\n", "P:D", "type", "driver",
           "CL C", "CUs", "global", "local", "max alloc", "max WG", "fp16", "fp64",
           "name (platform)");
    for (size_t i = 0; i < count; i++) {
        const clnn_device_info *d = &b->devices[i];
        char pd[24], ver[24], g[24], l[24], m[24];
        snprintf(pd, sizeof pd, "%d:%d", d->platform_index, d->device_index);
        snprintf(ver, sizeof ver, "%d.%d", d->opencl_c_major, d->opencl_c_minor);
        printf("%-4s %-5s %-12s %-4s %4u %10s %9s %10s %6zu %4s %4s  %s (%s)\n", pd,
               type_name(d->type), d->driver_version, ver, d->compute_units,
               fmt_bytes(g, sizeof g, d->global_mem_bytes),
               fmt_bytes(l, sizeof l, d->local_mem_bytes),
               fmt_bytes(m, sizeof m, d->max_alloc_bytes), d->max_work_group_size,
               d->has_fp16 ? "yes" : "no", d->has_fp64 ? "yes" : "no", d->name, d->platform_name);
    }
    return 0;
}

/* ---- gemm ----------------------------------------------------------------------------------- */
static const struct gemm_shape {
    const char *name;
    int64_t m, n, k;
    int quick; /* also in --quick */
} GEMM_SHAPES[] = {
    {"square", 128, 128, 128, 1},
    {"square", 256, 256, 256, 1},
    {"square", 512, 512, 512, 0},
    {"square", 1024, 1024, 1024, 0},
    {"mlp dense 784->512, B=128", 128, 512, 784, 1},
    {"dense 512->10, B=128", 128, 10, 512, 1},
    {"mnist conv 5x5x32->64 gemm", 64, 15488, 288, 0},
};

/* y = a @ w; a: (M, K), w: (K, N) -> y: (M, N). GEMM_SAMPLES random entries checked. */
static void gemm_case(bench *b, const struct gemm_shape *s, rng *r)
{
    size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k;
    float *ha = malloc(m * k * sizeof *ha), *hw = malloc(k * n * sizeof *hw);
    float *hy = malloc(m * n * sizeof *hy);
    clnn_graph *g = NULL;
    clnn_status st = ha && hw && hy ? clnn_graph_create(b->ctx, &g) : CLNN_ERR_NOMEM;
    if (st) {
        fail_call(b, "gemm set-up", st);
        goto out;
    }
    rng_fill(r, ha, m * k, -1, 1);
    rng_fill(r, hw, k * n, -1, 1);
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){s->m, s->k});
    clnn_tensor *w = clnn_input(g, "w", 2, (int64_t[]){s->k, s->n});
    clnn_tensor *y = clnn_matmul(g, a, w, 0, 0);
    if (graph_failed(b, g, "the gemm graph"))
        goto out;
    if ((st = clnn_tensor_write(a, ha, m * k * sizeof *ha)) ||
        (st = clnn_tensor_write(w, hw, k * n * sizeof *hw)) || (st = clnn_graph_run(g)) ||
        (st = clnn_tensor_read(y, hy, m * n * sizeof *hy))) {
        fail_call(b, "the first gemm run", st);
        goto out;
    }
    char shape[32], where[96] = "";
    snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
    result *res = add_result(b, "gemm", s->name, shape);
    double worst = 0, expected;
    for (int t = 0; t < GEMM_SAMPLES; t++) {
        size_t i = rng_next(r) % m, j = rng_next(r) % n;
        double err = gemm_err(ha, hw, k, n, i, j, hy[i * n + j], &expected);
        if (!(err <= worst))
            snprintf(where, sizeof where, "y[%zu][%zu] = %.8g, expected %.8g", i, j, hy[i * n + j],
                     expected);
        worst = err > worst || isnan(err) ? err : worst;
    }
    if (check_and_time(b, res, worst, GEMM_TOL * sqrt((double)k), where, run_graph, g))
        goto out;
    double flop = 2.0 * (double)m * (double)n * (double)k;
    res->unit = "gflops";
    res->rate = flop / (res->median_ms * 1e6);
    snprintf(res->note, sizeof res->note, "best %.2f GFLOP/s", flop / (res->min_ms * 1e6));
    print_row(b, res);
out:
    clnn_graph_destroy(g);
    free(ha);
    free(hw);
    free(hy);
}

static void suite_gemm(bench *b)
{
    print_header(b, "gemm: clnn_matmul y(M,N) = a(M,K) @ w(K,N) on CLBlast; shape MxNxK");
    rng r = {0x9e3779b97f4a7c15u};
    for (size_t i = 0; i < sizeof GEMM_SHAPES / sizeof *GEMM_SHAPES; i++)
        if (!b->quick || GEMM_SHAPES[i].quick)
            gemm_case(b, &GEMM_SHAPES[i], &r);
}

/* ---- elementwise ---------------------------------------------------------------------------- */
typedef struct copy_job {
    char *dst;
    const char *src;
    size_t bytes;
} copy_job;

static void *copy_thread(void *arg)
{
    copy_job *j = arg;
    memcpy(j->dst, j->src, j->bytes);
    return NULL;
}

/* STREAM-like copy: memcpy of `bytes` split over one thread per online CPU, best of `runs`,
 * bytes read + written per second in GB/s; 0 on failure. */
static double host_copy(size_t bytes, int runs, int *nthreads)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = *nthreads = cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
    char *src = malloc(bytes), *dst = malloc(bytes);
    double best = INFINITY;
    size_t chunk = (bytes / (size_t)nt + 63) & ~(size_t)63;
    for (size_t i = 0; src && dst && i < bytes; i++)
        src[i] = (char)(i * 31), dst[i] = 0; /* also maps every page before timing */
    for (int r = 0; src && dst && r < runs; r++) {
        pthread_t th[64];
        copy_job job[64];
        int started[64] = {0};
        double t0 = now_ms();
        for (int i = 0; i < nt; i++) {
            size_t off = (size_t)i * chunk < bytes ? (size_t)i * chunk : bytes;
            job[i] = (copy_job){dst + off, src + off, bytes - off < chunk ? bytes - off : chunk};
            if (i > 0)
                started[i] = pthread_create(&th[i], NULL, copy_thread, &job[i]) == 0;
        }
        copy_thread(&job[0]);
        for (int i = 1; i < nt; i++)
            started[i] ? (void)pthread_join(th[i], NULL) : (void)copy_thread(&job[i]);
        double t = now_ms() - t0;
        best = t < best ? t : best;
    }
    if (!src || !dst || memcmp(src, dst, bytes))
        best = INFINITY;
    free(src);
    free(dst);
    return isfinite(best) ? 2.0 * (double)bytes / (best * 1e6) : 0;
}

enum { EW_ADD, EW_SCALE, EW_RELU, EW_SIGMOID, EW_BCAST, EW_SUM, EW_COPY };

static const struct ew_case {
    const char *name;
    int kind;
    int streams; /* arrays of n floats read or written */
    double tol;  /* relative to |expected| (sum: to sum |x|) */
} EW_CASES[] = {
    {"add", EW_ADD, 3, 1e-6},
    {"scale 1.5", EW_SCALE, 2, 1e-6},
    {"relu", EW_RELU, 2, 1e-6},
    {"sigmoid", EW_SIGMOID, 2, 1e-5},
    {"add broadcast (R,C)+(C)", EW_BCAST, 2, 1e-6},
    {"sum all axes", EW_SUM, 1, 1e-5},
    {"clnn_tensor_copy", EW_COPY, 2, 0},
};

typedef struct ew_data {
    size_t n;
    float *x, *x2, *row, *y;                     /* host inputs; y receives each result */
    clnn_tensor *dx, *dx2, *dx2d, *drow, *dcopy; /* dx2d: dx2 viewed as (n / EW_COLS, EW_COLS) */
} ew_data;

static double ew_ref(const ew_data *d, int kind, size_t i)
{
    double x = d->x[i];
    return kind == EW_ADD       ? x + d->x2[i]
           : kind == EW_SCALE   ? 1.5 * x
           : kind == EW_RELU    ? (x > 0 ? x : 0)
           : kind == EW_SIGMOID ? 1.0 / (1.0 + exp(-x))
           : kind == EW_BCAST   ? (double)d->x2[i] + d->row[i % EW_COLS]
                                : x;
}

/* The graph of one case; its kernel reads x (or x2 viewed as a matrix for the broadcast). */
static clnn_tensor *ew_build(clnn_graph *g, const ew_data *d, int kind)
{
    clnn_tensor *x = clnn_graph_bind(g, kind == EW_BCAST ? d->dx2d : d->dx, 0);
    return kind == EW_ADD       ? clnn_add(g, x, clnn_graph_bind(g, d->dx2, 0))
           : kind == EW_SCALE   ? clnn_scale(g, x, 1.5f)
           : kind == EW_RELU    ? clnn_relu(g, x)
           : kind == EW_SIGMOID ? clnn_sigmoid(g, x)
           : kind == EW_BCAST   ? clnn_add(g, x, clnn_graph_bind(g, d->drow, 0))
                                : clnn_sum(g, x, 0, NULL, 0);
}

static clnn_status run_copy(void *arg)
{
    ew_data *d = arg;
    return clnn_tensor_copy(d->dcopy, d->dx);
}

/* One single-kernel graph (or the device copy): every element checked, then timed. */
static void ew_case_run(bench *b, ew_data *d, const struct ew_case *c)
{
    clnn_graph *g = NULL;
    clnn_tensor *y = NULL;
    clnn_status st;
    if (c->kind == EW_COPY) {
        if (!(st = clnn_tensor_copy(d->dcopy, d->dx)))
            st = clnn_tensor_read(d->dcopy, d->y, d->n * sizeof *d->y);
    } else if (!(st = clnn_graph_create(b->ctx, &g))) {
        y = ew_build(g, d, c->kind);
        if (graph_failed(b, g, c->name))
            goto out;
        if (!(st = clnn_graph_run(g)))
            st = clnn_tensor_read(y, d->y, clnn_tensor_bytes(y));
    }
    if (st) {
        fail_call(b, c->name, st);
        goto out;
    }
    char shape[32], where[96] = "";
    if (c->kind == EW_BCAST)
        snprintf(shape, sizeof shape, "(%zu,%d)+(%d)", d->n / EW_COLS, EW_COLS, EW_COLS);
    else
        snprintf(shape, sizeof shape, "(%zu)", d->n);
    result *r = add_result(b, "elementwise", c->name, shape);
    double worst = 0, ref = 0, mag = 0;
    if (c->kind == EW_SUM) {
        for (size_t i = 0; i < d->n; i++)
            ref += d->x[i], mag += fabs(d->x[i]);
        worst = fabs(d->y[0] - ref) / mag;
        snprintf(where, sizeof where, "sum = %.8g, expected %.8g", d->y[0], ref);
    }
    for (size_t i = 0; c->kind != EW_SUM && i < d->n; i++) {
        ref = ew_ref(d, c->kind, i);
        double err = fabs(d->y[i] - ref) / (fabs(ref) > 1e-30 ? fabs(ref) : 1);
        if (!(err <= worst))
            snprintf(where, sizeof where, "y[%zu] = %.8g, expected %.8g", i, d->y[i], ref);
        worst = err > worst || isnan(err) ? err : worst;
    }
    if (check_and_time(b, r, worst, c->tol, where, c->kind == EW_COPY ? run_copy : run_graph,
                       c->kind == EW_COPY ? (void *)d : (void *)g))
        goto out;
    double bytes = (double)c->streams * 4.0 * (double)d->n, host = b->host_copy_gbps;
    r->unit = "gbps";
    r->rate = bytes / (r->median_ms * 1e6);
    r->extra_key[0] = "fraction_of_host_copy";
    r->extra[0] = host > 0 ? r->rate / host : NAN;
    r->extra_key[1] = "best_fraction_of_host_copy"; /* from the minimum time */
    r->extra[1] = host > 0 ? bytes / (r->min_ms * 1e6) / host : NAN;
    snprintf(r->note, sizeof r->note, "%.2f of host copy (best %.2f)", r->extra[0], r->extra[1]);
    print_row(b, r);
out:
    clnn_graph_destroy(g);
}

static void suite_elementwise(bench *b)
{
    ew_data d = {.n = b->quick ? (size_t)4 << 20 : (size_t)16 << 20};
    size_t bytes = d.n * sizeof(float);
    int64_t n = (int64_t)d.n;
    print_header(b, "elementwise: one kernel per graph on f32; rate = bytes read + written / s");
    int nt = 0;
    b->host_copy_gbps = host_copy(bytes, HOST_COPY_RUNS, &nt);
    char shape[32], note[64];
    snprintf(shape, sizeof shape, "%zu MiB", bytes >> 20);
    result *r = add_result(b, "elementwise", "host memcpy (STREAM copy)", shape);
    r->unit = "gbps";
    r->rate = b->host_copy_gbps;
    r->median_ms = r->min_ms = 2.0 * (double)bytes / (b->host_copy_gbps * 1e6);
    r->extra_key[0] = "threads";
    r->extra[0] = nt;
    snprintf(r->note, sizeof r->note, "best of %d runs, %d threads", HOST_COPY_RUNS, nt);
    snprintf(note, sizeof note, "memcpy of %zu bytes on %d threads failed", bytes, nt);
    if (check_and_time(b, r, b->host_copy_gbps > 0 ? 0 : 1, 0, note, NULL, NULL))
        return;
    print_row(b, r);

    d.x = malloc(bytes), d.x2 = malloc(bytes), d.y = malloc(bytes);
    d.row = malloc(EW_COLS * sizeof *d.row);
    clnn_status st = d.x && d.x2 && d.y && d.row ? CLNN_OK : CLNN_ERR_NOMEM;
    if (!st) {
        rng rg = {0x2545f4914f6cdd1du};
        rng_fill(&rg, d.x, d.n, -4, 4);
        rng_fill(&rg, d.x2, d.n, -4, 4);
        rng_fill(&rg, d.row, EW_COLS, -4, 4);
    }
    if (st || (st = clnn_tensor_create(b->ctx, CLNN_F32, 1, &n, &d.dx)) ||
        (st = clnn_tensor_create(b->ctx, CLNN_F32, 1, &n, &d.dx2)) ||
        (st = clnn_tensor_create(b->ctx, CLNN_F32, 1, &n, &d.dcopy)) ||
        (st = clnn_tensor_create(b->ctx, CLNN_F32, 1, (int64_t[]){EW_COLS}, &d.drow)) ||
        (st = clnn_tensor_view(d.dx2, 2, (int64_t[]){-1, EW_COLS}, &d.dx2d)) ||
        (st = clnn_tensor_write(d.dx, d.x, bytes)) ||
        (st = clnn_tensor_write(d.dx2, d.x2, bytes)) ||
        (st = clnn_tensor_write(d.drow, d.row, EW_COLS * sizeof *d.row)))
        fail_call(b, "elementwise set-up", st);
    for (size_t i = 0; !st && i < sizeof EW_CASES / sizeof *EW_CASES; i++)
        ew_case_run(b, &d, &EW_CASES[i]);
    clnn_tensor *tensors[] = {d.dx, d.dx2, d.dx2d, d.drow, d.dcopy};
    float *arrays[] = {d.x, d.x2, d.y, d.row};
    for (int i = 0; i < 5; i++)
        clnn_tensor_destroy(tensors[i]);
    for (int i = 0; i < 4; i++)
        free(arrays[i]);
}

/* ---- launch --------------------------------------------------------------------------------- */
/* LAUNCH_CHAIN scale ops on 64 floats with alphas 2, 0.5, 2, ... and -1 last: the exact result
 * is -2 x only if every op ran, in order. */
static void suite_launch(bench *b)
{
    print_header(b, "launch: a chain of clnn_scale ops on 64 floats; rate = wall time per kernel");
    float hx[64], hy[64];
    rng r = {0x5851f42d4c957f2du};
    rng_fill(&r, hx, 64, -1, 1);
    clnn_graph *g = NULL;
    clnn_status st = clnn_graph_create(b->ctx, &g);
    if (st) {
        fail_call(b, "clnn_graph_create", st);
        return;
    }
    clnn_tensor *x = clnn_input(g, "x", 1, (int64_t[]){64}), *y = x;
    for (int i = 0; i < LAUNCH_CHAIN; i++)
        y = clnn_scale(g, y, i == LAUNCH_CHAIN - 1 ? -1.0f : i % 2 ? 0.5f : 2.0f);
    if (graph_failed(b, g, "the launch chain"))
        goto out;
    if ((st = clnn_tensor_write(x, hx, sizeof hx)) || (st = clnn_graph_run(g)) ||
        (st = clnn_tensor_read(y, hy, sizeof hy))) {
        fail_call(b, "the first launch-chain run", st);
        goto out;
    }
    char shape[32], where[96] = "";
    snprintf(shape, sizeof shape, "%d x (64)", LAUNCH_CHAIN);
    result *res = add_result(b, "launch", "scale chain", shape);
    double worst = 0;
    for (int i = 0; i < 64; i++) {
        double err = fabs(hy[i] + 2.0 * hx[i]) / (hx[i] ? fabs(2.0 * hx[i]) : 1);
        if (!(err <= worst))
            snprintf(where, sizeof where, "y[%d] = %.8g, expected exactly %.8g", i, hy[i],
                     -2.0 * hx[i]);
        worst = err > worst || isnan(err) ? err : worst;
    }
    if (check_and_time(b, res, worst, 0, where, run_graph, g))
        goto out;
    res->unit = "us_per_launch";
    res->rate = res->median_ms * 1e3 / LAUNCH_CHAIN;
    res->extra_key[0] = "enqueue_us_per_launch";
    res->extra[0] = res->enqueue_ms * 1e3 / LAUNCH_CHAIN;
    res->extra_key[1] = "min_us_per_launch";
    res->extra[1] = res->min_ms * 1e3 / LAUNCH_CHAIN;
    snprintf(res->note, sizeof res->note, "enqueue %.2f us, min %.2f us", res->extra[0],
             res->extra[1]);
    print_row(b, res);
out:
    clnn_graph_destroy(g);
}

/* ---- startup -------------------------------------------------------------------------------- */
/* The child, `clnn-bench --startup-child CLNN_CACHE POCL_CACHE DEVICE`: from main() to the first
 * result of y = (a + b) @ w (64x64) read back. Prints "ok T_MAIN T_CTX T_DONE FROM_SOURCE
 * FROM_CACHE ERR" (CLOCK_MONOTONIC ms, the parent's clock too) or "error MESSAGE". */
static int startup_child(char **argv, double t_main)
{
    if (setenv("POCL_CACHE_DIR", argv[3], 1)) /* before any OpenCL call */
        return printf("error setenv: %s\n", strerror(errno)), 1;
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.cache_dir = argv[2];
    o.device = argv[4][0] ? argv[4] : NULL;
    clnn_ctx *ctx = NULL;
    clnn_graph *g = NULL;
    clnn_status st = clnn_ctx_create(&ctx, &o);
    double t_ctx = now_ms(), t_done = 0, worst = 0, expected;
    float ha[64 * 64], hb[64 * 64], hw[64 * 64], hy[64 * 64];
    rng r = {0x853c49e6748fea9bu};
    rng_fill(&r, ha, 64 * 64, -1, 1);
    rng_fill(&r, hb, 64 * 64, -1, 1);
    rng_fill(&r, hw, 64 * 64, -1, 1);
    if (!st && !(st = clnn_graph_create(ctx, &g))) {
        const int64_t s[2] = {64, 64};
        clnn_tensor *a = clnn_input(g, "a", 2, s), *bb = clnn_input(g, "b", 2, s);
        clnn_tensor *w = clnn_input(g, "w", 2, s);
        clnn_tensor *y = clnn_matmul(g, clnn_add(g, a, bb), w, 0, 0);
        if (!(st = clnn_graph_status(g)) && !(st = clnn_tensor_write(a, ha, sizeof ha)) &&
            !(st = clnn_tensor_write(bb, hb, sizeof hb)) &&
            !(st = clnn_tensor_write(w, hw, sizeof hw)) && !(st = clnn_graph_run(g)))
            st = clnn_tensor_read(y, hy, sizeof hy);
        t_done = now_ms();
    }
    clnn_ctx_stats stats = {0};
    if (st) {
        printf("error %s: %s\n", clnn_status_name(st),
               !ctx                        ? clnn_status_text(st)
               : g && clnn_graph_status(g) ? clnn_graph_last_error(g)
                                           : clnn_ctx_last_error(ctx));
    } else {
        for (int i = 0; i < 64 * 64; i++)
            ha[i] += hb[i]; /* the same float sum as the device's add */
        for (size_t i = 0; i < 64 * 64; i++) {
            double e = gemm_err(ha, hw, 64, 64, i / 64, i % 64, hy[i], &expected);
            worst = e > worst || isnan(e) ? e : worst;
        }
        clnn_ctx_stats_get(ctx, &stats);
        printf("ok %.3f %.3f %.3f %u %u %.3e\n", t_main, t_ctx, t_done, stats.programs_from_source,
               stats.programs_from_cache, worst);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    return st != CLNN_OK;
}

typedef struct startup_sample {
    double total_ms, load_ms, ctx_ms, run_ms, err;
    unsigned from_source, from_cache;
} startup_sample;

/* Runs one child with the given cache directories and parses its report; 0 on success. */
static int spawn_child(bench *b, const char *clnn_dir, const char *pocl_dir, startup_sample *s)
{
    char *dev = (char *)(b->device ? b->device : "");
    char *const args[] = {b->self, "--startup-child", (char *)clnn_dir, (char *)pocl_dir, dev, 0};
    char buf[1024];
    size_t len = 0;
    int fd[2], status = 0;
    if (pipe(fd))
        return fprintf(stderr, "clnn-bench: pipe: %s\n", strerror(errno)), -1;
    fflush(stdout);
    fflush(stderr);
    double t0 = now_ms(), t_main, t_ctx, t_done;
    pid_t pid = fork();
    if (pid == 0) { /* only async-signal-safe calls until exec */
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(b->self, args);
        _exit(127);
    }
    close(fd[1]);
    for (ssize_t got = 1; pid > 0 && got != 0 && len < sizeof buf - 1;) {
        got = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (got < 0 && errno != EINTR)
            break;
        len += got > 0 ? (size_t)got : 0;
    }
    buf[len] = 0;
    close(fd[0]);
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return fprintf(stderr, "clnn-bench: running %s: %s\n", b->self, strerror(errno)), -1;
    if (sscanf(buf, "ok %lf %lf %lf %u %u %lf", &t_main, &t_ctx, &t_done, &s->from_source,
               &s->from_cache, &s->err) != 6 ||
        !WIFEXITED(status) || WEXITSTATUS(status)) {
        buf[strcspn(buf, "\n")] = 0;
        fprintf(stderr, "clnn-bench: start-up child (exit status %d) failed: %s\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, len ? buf : "no output");
        return -1;
    }
    *s = (startup_sample){t_done - t0, t_main - t0,    t_ctx - t_main, t_done - t_ctx,
                          s->err,      s->from_source, s->from_cache};
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Cache directories of each variant: 0 = the pair the cold run filled, 1 = a fresh empty one. */
static const struct {
    const char *name;
    int clnn_fresh, pocl_fresh;
} STARTUP_VARIANTS[] = {
    {"cold (both caches empty)", 0, 0}, /* runs first: the pair is still empty */
    {"warm (both caches filled)", 0, 0},
    {"clnn cache only", 0, 1},
    {"pocl cache only", 1, 0},
};
#define NVARIANTS 4

static void suite_startup(bench *b)
{
    print_header(b, "startup: process start to the first result of (a + b) @ w, 64x64, in a child; "
                    "cold = empty clnn and POCL caches");
    int reps = b->reps_given ? b->reps : b->quick ? 1 : 3, ok = 1;
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    snprintf(base, sizeof base, "%s/clnn-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) {
        fprintf(stderr, "clnn-bench: mkdtemp %s: %s\n", base, strerror(errno));
        b->failures++;
        return;
    }
    double *ms = calloc((size_t)(NVARIANTS * reps), sizeof *ms);
    startup_sample last[NVARIANTS] = {{0}};
    double cold_ms = NAN;
    for (int r = 0; r < reps && (ok = ok && ms); r++) {
        char dirs[2][2][4160]; /* [fresh][clnn, pocl] */
        for (int f = 0; f < 2; f++)
            for (int p = 0; p < 2; p++) {
                snprintf(dirs[f][p], sizeof dirs[f][p], "%s/%s-%s-%d", base, f ? "fresh" : "first",
                         p ? "pocl" : "clnn", r);
                ok = ok && mkdir(dirs[f][p], 0700) == 0;
            }
        for (int v = 0; v < NVARIANTS && ok; v++) {
            ok = !spawn_child(b, dirs[STARTUP_VARIANTS[v].clnn_fresh][0],
                              dirs[STARTUP_VARIANTS[v].pocl_fresh][1], &last[v]);
            ms[v * reps + r] = last[v].total_ms;
        }
    }
    if (!ok) {
        fprintf(stderr, "clnn-bench: the startup suite failed in %s\n", base);
        b->failures++;
    }
    for (int v = 0; v < NVARIANTS && ok; v++) {
        result *res = add_result(b, "startup", STARTUP_VARIANTS[v].name, "(a + b) @ w, 64");
        if (check_and_time(b, res, last[v].err, GEMM_TOL * 8, "", NULL, NULL))
            continue;
        res->median_ms = median(&ms[v * reps], reps);
        res->min_ms = ms[v * reps];
        res->extra_key[0] = "cold_over_this";
        cold_ms = v == 0 ? res->median_ms : cold_ms;
        res->extra[0] = cold_ms / res->median_ms;
        res->extra_key[1] = "ctx_create_ms";
        res->extra[1] = last[v].ctx_ms;
        snprintf(res->note, sizeof res->note, "cold/this %.1fx; ctx %.0f + run %.0f ms",
                 res->extra[0], last[v].ctx_ms, last[v].run_ms);
        print_row(b, res);
    }
    if (ok && !b->json)
        printf("(last repetition: exec + loading %.1f ms; programs from source/cache: cold %u/%u, "
               "warm %u/%u)\n",
               last[1].load_ms, last[0].from_source, last[0].from_cache, last[1].from_source,
               last[1].from_cache);
    free(ms);
    if (nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
        fprintf(stderr, "clnn-bench: could not remove %s: %s\n", base, strerror(errno));
}

/* ---- JSON ----------------------------------------------------------------------------------- */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* A JSON number in buf (32 bytes): null when not finite, integers in full. */
static const char *json_num(char *buf, double v)
{
    snprintf(buf, 32, !isfinite(v) ? "null" : v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.6g", v);
    return buf;
}

static void json_device(const clnn_device_info *d)
{
    const char *keys[] = {"name", "platform", "vendor", "driver_version", "opencl_c_version"};
    const char *values[] = {d->name, d->platform_name, d->vendor, d->driver_version,
                            d->opencl_c_version};
    printf("{\"index\": \"%d:%d\", \"type\": \"%s\"", d->platform_index, d->device_index,
           type_name(d->type));
    for (int i = 0; i < 5; i++) {
        printf(", \"%s\": ", keys[i]);
        json_str(values[i]);
    }
    printf(", \"compute_units\": %u, \"max_clock_mhz\": %u, \"global_mem_bytes\": %llu, "
           "\"local_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"max_work_group_size\": %zu, "
           "\"fp16\": %s, \"fp64\": %s}",
           d->compute_units, d->max_clock_mhz, (unsigned long long)d->global_mem_bytes,
           (unsigned long long)d->local_mem_bytes, (unsigned long long)d->max_alloc_bytes,
           d->max_work_group_size, d->has_fp16 ? "true" : "false", d->has_fp64 ? "true" : "false");
}

static void json_output(const bench *b)
{
    printf("{\n  \"tool\": \"clnn-bench\", \"clnn_version\": ");
    json_str(clnn_version());
    printf(", \"quick\": %s, \"reps\": %d,\n", b->quick ? "true" : "false", b->reps);
    if (b->ctx) {
        printf("  \"device\": ");
        json_device(&b->info);
        printf(",\n");
    }
    for (size_t i = 0; i < b->ndevices; i++) {
        printf(i ? ",\n    " : "  \"devices\": [\n    ");
        json_device(&b->devices[i]);
        printf(i + 1 == b->ndevices ? "\n  ],\n" : "");
    }
    char hc[32];
    printf("  \"host_copy_gbps\": %s,\n  \"results\": [",
           json_num(hc, b->host_copy_gbps > 0 ? b->host_copy_gbps : NAN));
    for (size_t i = 0; i < b->nresults; i++) {
        const result *r = &b->results[i]; /* names and shapes are this file's own ASCII text */
        char v[6][32];
        printf(
            "%s\n    {\"suite\": \"%s\", \"name\": \"%s\", \"shape\": \"%s\", \"median_ms\": %s, "
            "\"min_ms\": %s",
            i ? "," : "", r->suite, r->name, r->shape, json_num(v[0], r->median_ms),
            json_num(v[1], r->min_ms));
        for (int k = -1; k < 2; k++)
            if (k < 0 ? r->unit : r->extra_key[k])
                printf(", \"%s\": %s", k < 0 ? r->unit : r->extra_key[k],
                       json_num(v[3 + k], k < 0 ? r->rate : r->extra[k]));
        printf(", \"checked\": %s, \"max_rel_err\": %s}", r->checked ? "true" : "false",
               json_num(v[5], r->max_rel_err));
    }
    printf("\n  ],\n  \"failures\": %d\n}\n", b->failures);
}

/* ---- options and main ----------------------------------------------------------------------- */
static void usage(void)
{
    printf(
        "usage: clnn-bench [options] [suite...]\n"
        "\n"
        "Benchmarks clnn on one OpenCL device. Every benchmark checks its result against a\n"
        "double-precision host reference before timing it. Exit status: 0 success, 1 a failed\n"
        "check or clnn call or a device that cannot be opened, 2 a usage error.\n"
        "\n"
        "suites (default: gemm elementwise):\n"
        "  devices      every OpenCL device (same as --list-devices)\n"
        "  gemm         clnn_matmul (CLBlast SGEMM) on square and layer shapes: GFLOP/s\n"
        "  elementwise  add, scale, relu, sigmoid, broadcast add, sum, clnn_tensor_copy in\n"
        "               GB/s (bytes read + written), and as a fraction of the host's STREAM-like\n"
        "               copy (memcpy of the same size on one thread per CPU, best run)\n"
        "  startup      child processes: process start to the first result of (a + b) @ w,\n"
        "               64x64, with empty (cold) and filled (warm) clnn and POCL caches in\n"
        "               fresh temporary directories (cache_dir option, POCL_CACHE_DIR)\n"
        "  launch       a chain of %d clnn_scale ops on 64 floats: microseconds per kernel\n"
        "\n"
        "options:\n"
        "  --list-devices  run the devices suite\n"
        "  --device SEL    gpu, cpu, P:D or a name substring (default: $CLNN_DEVICE, else the\n"
        "                  first GPU, else a CPU device)\n"
        "  --json          one JSON object on stdout: device, host_copy_gbps and results\n"
        "                  {suite, name, shape, median_ms, min_ms, gflops | gbps |\n"
        "                  us_per_launch, more numbers, checked, max_rel_err}\n"
        "  --quick         fewer and smaller cases, fewer repetitions (CI, the README)\n"
        "  --reps N        timed repetitions per case (default 10, quick 5; startup 3, quick 1)\n"
        "  -h, --help      this text\n"
        "\n"
        "Times are wall clock (CLOCK_MONOTONIC) of a run + clnn_ctx_finish after one warm-up\n"
        "run; median and minimum are reported. Environment: CLNN_DEVICE, CLNN_CACHE_DIR,\n"
        "CLNN_NO_CACHE, CLNN_KERNEL_DIR (see clnn.h).\n",
        LAUNCH_CHAIN);
}

/* Fills b and the suite mask from the command line; -1 on a usage error, 1 after --help. */
static int parse_args(bench *b, int argc, char **argv, int *suites)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t len = strcspn(a, "=");
        int is_device = len == 8 && !strncmp(a, "--device", 8);
        int is_reps = len == 6 && !strncmp(a, "--reps", 6);
        if ((is_device || is_reps) && !(val = a[len] ? a + len + 1 : i + 1 < argc ? argv[++i] : 0))
            return fprintf(stderr, "clnn-bench: %s needs a value\n", a), -1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(), 1;
        if (!strcmp(a, "--list-devices")) {
            *suites |= S_DEVICES;
        } else if (!strcmp(a, "--json")) {
            b->json = 1;
        } else if (!strcmp(a, "--quick")) {
            b->quick = 1;
        } else if (is_device) {
            b->device = val;
        } else if (is_reps) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > 100000)
                return fprintf(stderr, "clnn-bench: --reps expects 1 to 100000, got '%s'\n", val),
                       -1;
            b->reps = (int)n;
            b->reps_given = 1;
        } else {
            int s = 0;
            while (s < 5 && strcmp(a, SUITE_NAMES[s]))
                s++;
            if (s == 5)
                return fprintf(stderr, "clnn-bench: unknown %s '%s' (see --help)\n",
                               a[0] == '-' ? "option" : "suite", a),
                       -1;
            *suites |= 1 << s;
        }
    }
    *suites = *suites ? *suites : S_GEMM | S_ELEMENTWISE;
    b->reps = b->reps_given ? b->reps : b->quick ? 5 : 10;
    return 0;
}

static int open_device(bench *b)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.device = b->device;
    clnn_status st = clnn_ctx_create(&b->ctx, &o);
    if (!st)
        st = clnn_ctx_device_info(b->ctx, &b->info);
    if (st) {
        fprintf(stderr, "clnn-bench: cannot open the device: %s\n",
                b->ctx && *clnn_ctx_last_error(b->ctx) ? clnn_ctx_last_error(b->ctx)
                                                       : clnn_status_text(st));
        clnn_ctx_destroy(b->ctx);
        b->ctx = NULL;
        return -1;
    }
    if (!b->json)
        printf("clnn-bench %s on %d:%d '%s' (%s, driver %s, %s, %u compute units)%s, reps %d\n",
               clnn_version(), b->info.platform_index, b->info.device_index, b->info.name,
               b->info.platform_name, b->info.driver_version, b->info.opencl_c_version,
               b->info.compute_units, b->quick ? ", quick" : "", b->reps);
    return 0;
}

_Static_assert(sizeof GEMM_SHAPES / sizeof *GEMM_SHAPES + sizeof EW_CASES / sizeof *EW_CASES + 1 +
                       NVARIANTS + 1 <=
                   MAX_RESULTS,
               "MAX_RESULTS must hold every case");

int main(int argc, char **argv)
{
    double t_main = now_ms();
    if (argc == 5 && !strcmp(argv[1], "--startup-child"))
        return startup_child(argv, t_main);
    bench b = {0};
    int suites = 0, rc = parse_args(&b, argc, argv, &suites);
    if (rc)
        return rc < 0 ? 2 : 0;
    ssize_t n = readlink("/proc/self/exe", b.self, sizeof b.self - 1);
    if (n > 0)
        b.self[n] = 0;
    else
        snprintf(b.self, sizeof b.self, "%s", argv[0]);
    if (((suites & S_DEVICES) && suite_devices(&b)) || ((suites & ~S_DEVICES) && open_device(&b))) {
        free(b.devices);
        return 1;
    }
    if (suites & S_GEMM)
        suite_gemm(&b);
    if (suites & S_ELEMENTWISE)
        suite_elementwise(&b);
    if (suites & S_STARTUP)
        suite_startup(&b);
    if (suites & S_LAUNCH)
        suite_launch(&b);
    if (b.json)
        json_output(&b);
    else if (b.failures)
        printf("\n%d failure(s): see the messages on stderr\n", b.failures);
    clnn_ctx_destroy(b.ctx);
    free(b.devices);
    return b.failures ? 1 : 0;
}
