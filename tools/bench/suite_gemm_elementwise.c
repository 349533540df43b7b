/* suite_gemm_elementwise.c — two clnn-bench suites: `gemm` (clnn_matmul on clnn's own SGEMM
 * kernels and on CLBlast ($CLNN_GEMM) over square and layer shapes, GFLOP/s and % of the measured FMA peak, GEMM_SAMPLES entries of each
 * result checked) and `elementwise` (single-kernel graphs in GB/s, as % of the measured device
 * copy bandwidth and as a fraction of the host's STREAM-like multi-threaded memcpy bandwidth,
 * every element checked). Not here: ops with their own kernels (suite_ops.c). */
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

#define EW_COLS        1024 /* C of the broadcast add (R, C) + (C) */
#define HOST_COPY_RUNS 20   /* the host copy bandwidth is the best of these runs */

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
_Static_assert(2 * sizeof GEMM_SHAPES / sizeof *GEMM_SHAPES == GEMM_RESULTS, "see bench.h");

/* y = a @ w; a: (M, K), w: (K, N) -> y: (M, N) on implementation impl ("own", "clblast").
 * GEMM_SAMPLES random entries checked. */
static void gemm_case(bench *b, const struct gemm_shape *s, const char *impl, rng *r)
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
    char name[80];
    snprintf(name, sizeof name, "%s %s", impl, s->name);
    result *res = add_result(b, "gemm", name, shape);
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
    set_roof(b, res, res->rate, 0);
    snprintf(res->note, sizeof res->note, "best %.2f GFLOP/s", flop / (res->min_ms * 1e6));
    print_row(b, res);
out:
    clnn_graph_destroy(g);
    free(ha);
    free(hw);
    free(hy);
}

void suite_gemm(bench *b)
{
    print_header(b, "gemm: clnn_matmul y(M,N) = a(M,K) @ w(K,N) on clnn's own SGEMM kernels "
                    "(own, CPU devices' default) and CLBlast; shape MxNxK");
    static const char *const impls[2] = {"own", "clblast"};
    char *saved = getenv("CLNN_GEMM") ? strdup(getenv("CLNN_GEMM")) : NULL;
    for (size_t i = 0; i < sizeof GEMM_SHAPES / sizeof *GEMM_SHAPES; i++)
        for (int j = 0; j < 2; j++)
            if (!b->quick || GEMM_SHAPES[i].quick) {
                rng r = {0x9e3779b97f4a7c15u + i}; /* the same data for both */
                setenv("CLNN_GEMM", impls[j], 1);
                gemm_case(b, &GEMM_SHAPES[i], impls[j], &r);
            }
    if (saved)
        setenv("CLNN_GEMM", saved, 1);
    else
        unsetenv("CLNN_GEMM");
    free(saved);
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

/* See bench.h. */
double host_copy(size_t bytes, int runs, int *nthreads)
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
_Static_assert(sizeof EW_CASES / sizeof *EW_CASES + 1 == ELEMENTWISE_RESULTS, "see bench.h");

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
    set_roof(b, r, r->rate, 1);
    r->extra_key[0] = "fraction_of_host_copy";
    r->extra[0] = host > 0 ? r->rate / host : NAN;
    r->extra_key[1] = "best_fraction_of_host_copy"; /* from the minimum time */
    r->extra[1] = host > 0 ? bytes / (r->min_ms * 1e6) / host : NAN;
    snprintf(r->note, sizeof r->note, "%.2f of host copy (best %.2f)", r->extra[0], r->extra[1]);
    print_row(b, r);
out:
    clnn_graph_destroy(g);
}

void suite_elementwise(bench *b)
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
