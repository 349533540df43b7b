/* util.c — the helpers every clnn-bench suite shares: wall-clock timing and median,
 * reproducible inputs, result records and the human table, failure reporting, and the
 * check-then-time loop. Not here: any suite's cases (suite_*.c) or the JSON output (main.c). */
#include <time.h>

#include "bench.h"

double now_ms(void)
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
double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

uint64_t rng_next(rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    return r->s ^= r->s << 17;
}

void rng_fill(rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)(rng_next(r) >> 40) / 16777216.0);
}

/* Relative error of y[i][j] of a (M, K) @ w (K, N), against sum_k |a_ik w_kj|. */
double gemm_err(const float *a, const float *w, size_t k, size_t n, size_t i, size_t j, float got,
                double *expected)
{
    double ref = 0, mag = 0;
    for (size_t p = 0; p < k; p++) {
        ref += (double)a[i * k + p] * w[p * n + j];
        mag += fabs((double)a[i * k + p] * w[p * n + j]);
    }
    *expected = ref;
    return fabs(got - ref) / (mag > 0 ? mag : 1);
}

/* Appends a record (MAX_RESULTS covers every case of every suite: see bench.h). */
result *add_result(bench *b, const char *suite, const char *name, const char *shape)
{
    result *r = &b->results[b->nresults++];
    *r = (result){.suite = suite, .median_ms = NAN, .min_ms = NAN, .roof = NAN};
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    return r;
}

/* Rates r against the measured roofline: rate in GFLOP/s (copy = 0) or GB/s (copy = 1). */
void set_roof(const bench *b, result *r, double rate, int copy)
{
    double ref = copy ? b->roof.copy_gbps : b->roof.peak_gflops;
    r->roof_copy = copy;
    r->roof = ref > 0 && isfinite(rate) ? rate / ref : NAN;
}

const char *fmt_roof(char *buf, const result *r)
{
    if (isfinite(r->roof))
        snprintf(buf, 16, "%.1f%% %s", 100 * r->roof, r->roof_copy ? "copy" : "peak");
    else
        snprintf(buf, 16, "-");
    return buf;
}

void print_header(const bench *b, const char *title)
{
    if (!b->json)
        printf("\n== %s\n%-26s %-20s %10s %10s %16s %11s  %-34s %s\n", title, "name", "shape",
               "median ms", "min ms", "rate", "roofline", "note", "max rel err");
}

void print_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    char rate[32] = "-";
    if (r->unit)
        snprintf(rate, sizeof rate, "%.2f %s", r->rate,
                 !strcmp(r->unit, "gflops")          ? "GFLOP/s"
                 : !strcmp(r->unit, "gbps")          ? "GB/s"
                 : !strcmp(r->unit, "samples_per_s") ? "samples/s"
                                                     : "us/launch");
    char med[24] = "-", min[24] = "-";
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.3f", r->median_ms);
        snprintf(min, sizeof min, "%.3f", r->min_ms);
    }
    char roof[16];
    printf("%-26s %-20s %10s %10s %16s %11s  %-34s %.1e%s\n", r->name, r->shape, med, min, rate,
           fmt_roof(roof, r), r->note, r->max_rel_err, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* A failed clnn call: its status and the context's detailed message. */
void fail_call(bench *b, const char *what, clnn_status st)
{
    fprintf(stderr, "clnn-bench: %s failed: %s: %s\n", what, clnn_status_name(st),
            b->ctx ? clnn_ctx_last_error(b->ctx) : clnn_status_text(st));
    b->failures++;
}

/* A builder error sticks to the graph: report it once the graph is built. */
int graph_failed(bench *b, clnn_graph *g, const char *what)
{
    if (clnn_graph_status(g) == CLNN_OK)
        return 0;
    fprintf(stderr, "clnn-bench: building %s failed: %s\n", what, clnn_graph_last_error(g));
    b->failures++;
    return 1;
}

clnn_status run_graph(void *g)
{
    return clnn_graph_run(g);
}

int runs_per_sample(double one_run_ms)
{
    if (!(one_run_ms < MIN_SAMPLE_MS))
        return 1;
    double k = ceil(MIN_SAMPLE_MS / fmax(one_run_ms, 1e-3));
    return k > MAX_RUNS_PER_SAMPLE ? MAX_RUNS_PER_SAMPLE : (int)k;
}

/* Fails the case loudly unless err <= tol (where: the worst entry); otherwise times fn(arg):
 * one warm-up call, one call that sizes the samples (runs_per_sample), then b->reps wall-clock
 * timings of that many calls + clnn_ctx_finish, each divided by the count. 0 on success. */
int check_and_time(bench *b, result *r, double err, double tol, const char *where, bench_fn fn,
                   void *arg)
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
    double t0 = now_ms();
    if (!st && !(st = fn(arg)))
        st = clnn_ctx_finish(b->ctx);
    const int k = runs_per_sample(now_ms() - t0);
    for (int i = 0; i < b->reps && !st; i++) {
        t0 = now_ms();
        for (int j = 0; j < k && !st; j++)
            st = fn(arg);
        enq[i] = (now_ms() - t0) / k;
        if (!st)
            st = clnn_ctx_finish(b->ctx);
        total[i] = (now_ms() - t0) / k;
    }
    if (st) {
        fail_call(b, r->name, st);
    } else {
        r->median_ms = median(total, b->reps);
        r->min_ms = total[0];
        r->enqueue_ms = median(enq, b->reps);
        r->runs_per_sample = k;
    }
    free(total);
    free(enq);
    return st ? -1 : 0;
}

const char *type_name(clnn_device_type t)
{
    return t == CLNN_DEVICE_GPU           ? "gpu"
           : t == CLNN_DEVICE_CPU         ? "cpu"
           : t == CLNN_DEVICE_ACCELERATOR ? "accel"
                                          : "other";
}

const char *fmt_bytes(char *buf, size_t size, uint64_t v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int u = 0;
    for (; x >= 1024 && u < 4; u++)
        x /= 1024;
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", x, units[u]);
    return buf;
}
