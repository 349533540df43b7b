/* tune.c — the search behind clnn_tune_gemm: CLBlast SGEMM parameter sets for the context's
 * device, each checked against a double-precision host reference and timed on weighted GEMM
 * shapes; the best is applied and written as the device's tuning file (gemm.c holds the
 * parameter names and constraints, applying a set and the file itself).
 *
 * The built-in search measures Xgemm sets with every shape forced onto Xgemm
 * (XGEMM_MIN_INDIRECT_SIZE=1) and XgemmDirect sets with every shape forced onto XgemmDirect
 * (XGEMM_MIN_INDIRECT_SIZE=4096): the two kernels' times do not depend on each other's
 * parameters, so the best combination and the threshold between them (which shapes run direct)
 * are chosen from those times, then that one set is compiled and measured for real ("final").
 * One compilation per candidate instead of one per combination: on POCL each new set costs
 * seconds of compile per GEMM routine and transposition. */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- the workload ------------------------------------------------------------------------- */
/* The GEMMs of one training step of each reference model (clnn-bench train), with their calls
 * per step as weights: row-major (m, n, k), batch. */
static const clnn_tune_shape SHAPES[] = {
    /* MNIST CNN, batch 128: conv 1->32 and 32->64 (3x3) as im2col GEMMs, split by clnn */
    {"cnn conv1 fwd", 0, 0, 32, 86528, 9, 1, 1, 0, 0, 0},
    {"cnn conv1 dw", 0, 0, 32, 9, 2060, 42, 1, 86528, 0, 0},
    {"cnn conv2 fwd", 0, 0, 64, 15488, 288, 1, 1, 0, 0, 0},
    {"cnn conv2 dx", 1, 0, 288, 2212, 64, 7, 1, 0, 15488, 15488},
    {"cnn conv2 dw", 0, 0, 64, 288, 2212, 7, 1, 15488, 0, 0},
    {"cnn dense fwd", 0, 1, 128, 10, 1600, 1, 1, 0, 0, 0},
    /* MLP 784-512-512-10, batch 128 */
    {"mlp fwd 784", 0, 1, 128, 512, 784, 1, 1, 0, 0, 0},
    {"mlp fwd 512", 0, 1, 128, 512, 512, 1, 1, 0, 0, 0},
    {"mlp dw 784", 1, 0, 512, 784, 128, 1, 1, 0, 0, 0},
    {"mlp dw 512", 1, 0, 512, 512, 128, 1, 1, 0, 0, 0},
    {"mlp dx 512", 0, 0, 128, 512, 512, 1, 1, 0, 0, 0},
    /* LSTM, 128 units, batch 64, 100 steps: the recurrent GEMMs run once per time step */
    {"lstm gates", 0, 0, 64, 512, 128, 1, 100, 0, 0, 0},
    {"lstm gates dh", 0, 0, 64, 128, 512, 1, 100, 0, 0, 0},
    {"lstm proj", 0, 1, 6400, 512, 128, 1, 1, 0, 0, 0},
    {"lstm proj dx", 0, 0, 6400, 128, 512, 1, 1, 0, 0, 0},
    {"lstm proj dw", 1, 0, 512, 128, 6400, 1, 2, 0, 0, 0},
    {"square 1024", 0, 0, 1024, 1024, 1024, 1, 1, 0, 0, 0},
};
#define NSHAPES (sizeof SHAPES / sizeof *SHAPES)
/* --quick: the heaviest shape of each kind */
static const unsigned char QUICK_SHAPES[] = {0, 2, 3, 4, 6, 8, 11, 13};

/* Small shapes of odd sizes (no tile divides them) with alpha and beta: the edges of padded
 * tiles, the transposition paths, strided batches. Checked in full for every candidate. */
static const clnn_tune_shape EDGES[] = {
    {"edge nn", 0, 0, 67, 45, 33, 1, 0, 0, 0, 0},
    {"edge tn", 1, 0, 37, 71, 29, 3, 0, 0, 0, 0},
    {"edge nt", 0, 1, 45, 67, 41, 1, 0, 0, 0, 0},
};
#define NEDGES     (sizeof EDGES / sizeof *EDGES)
#define EDGE_ALPHA 0.75f
#define EDGE_BETA  0.5f

/* ---- candidates --------------------------------------------------------------------------- */
/* Xgemm: GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN;
 * XgemmDirect: KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD. */
#define XG(gemmk, kreg, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg, sa, sb, strm, strn, vwm,   \
           vwn)                                                                                    \
    {                                                                                              \
        gemmk, kreg, kwg, kwi, mdima, mdimc, mwg, ndimb, ndimc, nwg, sa, sb, strm, strn, vwm, vwn, \
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0                                                        \
    }
#define XD(kwid, mdimad, mdimcd, ndimbd, ndimcd, pada, padb, vwmd, vwnd, wgd)                      \
    {                                                                                              \
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, kwid, mdimad, mdimcd, ndimbd, ndimcd,      \
            pada, padb, vwmd, vwnd, wgd, 0                                                         \
    }

/* CPUs (POCL): wide vectors, large per-thread tiles. Ordered by their weighted time in a full
 * search on a 2-core AVX-512 Xeon under POCL (the quick search takes the first QUICK_X /
 * QUICK_D); the last Xgemm set and the last XgemmDirect set are CLBlast 1.5.3's generic CPU
 * parameters. Left out after measuring: XgemmDirect with WGD=64 on 4x4 threads (16x16 per
 * thread) took over half an hour to compile under POCL; Xgemm 64x64 tiles with VWN=4 were the
 * slowest. */
static const clnn_gemm_params CPU_X[] = {
    XG(0, 1, 32, 2, 8, 8, 64, 32, 8, 128, 0, 0, 0, 0, 8, 4),
    XG(0, 1, 32, 2, 16, 8, 128, 16, 8, 64, 0, 0, 0, 0, 8, 4),
    XG(0, 1, 32, 2, 8, 8, 64, 8, 8, 32, 0, 0, 0, 0, 8, 4),
    XG(0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 0, 0, 0, 0, 8, 8),
    XG(0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 8, 8),
    XG(0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4),
};
static const clnn_gemm_params CPU_D[] = {
    XD(2, 8, 8, 8, 8, 1, 1, 8, 8, 64),
    XD(2, 4, 4, 4, 4, 1, 1, 8, 8, 32),
    XD(2, 8, 8, 8, 8, 1, 1, 4, 4, 32),
};
/* GPUs: CLBlast's usual shapes of 16x16 or 8x8 threads with local memory; one GEMMK=1 set. */
static const clnn_gemm_params GPU_X[] = {
    XG(0, 1, 16, 2, 16, 16, 64, 16, 16, 64, 1, 1, 0, 0, 2, 2),
    XG(0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 1, 1, 0, 0, 4, 4),
    XG(0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4),
    XG(0, 1, 16, 2, 8, 8, 32, 8, 8, 32, 1, 1, 0, 0, 2, 2),
    XG(1, 4, 1, 1, 8, 8, 32, 8, 8, 32, 0, 0, 0, 0, 4, 4),
    XG(0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 1, 1, 4, 2),
};
static const clnn_gemm_params GPU_D[] = {
    XD(2, 8, 8, 8, 8, 1, 1, 1, 1, 32),
    XD(2, 16, 16, 16, 16, 1, 1, 2, 2, 32),
    XD(2, 8, 8, 8, 8, 1, 1, 2, 2, 16),
};
#undef XG
#undef XD
#define QUICK_X 3
#define QUICK_D 1
/* XGEMM_MIN_INDIRECT_SIZE that sends every GEMM of the workload to one kernel */
#define ALL_XGEMM  1
#define ALL_DIRECT 4096

/* ---- the search state --------------------------------------------------------------------- */
typedef struct tuner {
    clnn_ctx *ctx;
    const clnn_tune_options *o;
    clnn_tune_report *r;
    int reps;
    cl_mem a, b, c;
    float *ha, *hb, *hc, *hc0; /* inputs, a read-back, C before an edge GEMM */
    size_t na, nb, nc;         /* floats of each */
    double t0;
} tuner;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void say(tuner *t, const char *fmt, ...) CLNN__PRINTF(2, 3);
static void say(tuner *t, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    clnn__log(t->ctx, CLNN_LOG_INFO, "tune: %s", line);
    if (t->o->progress)
        t->o->progress(t->o->progress_user, line);
}

static size_t batch_of(const clnn_tune_shape *s)
{
    return s->batch ? s->batch : 1;
}

static double flops_of(const clnn_tune_shape *s)
{
    return 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)batch_of(s);
}

/* m n k of one GEMM of the batch: CLBlast's measure for direct versus Xgemm */
static double mnk_of(const clnn_tune_shape *s)
{
    return (double)s->m * (double)s->n * (double)s->k;
}

/* A stored matrix of rows x width (row-major) of a batch: its leading dimension and the
 * distance between batches (packed, or column blocks of one wide matrix); count: its floats. */
typedef struct layout {
    size_t ld, stride, count;
} layout;

static layout layout_of(size_t rows, size_t width, size_t ld, size_t batch)
{
    if (!ld || ld == width)
        return (layout){width, rows * width, rows * width * batch};
    return (layout){ld, width, rows * ld};
}

static layout a_layout(const clnn_tune_shape *s)
{
    return layout_of(s->trans_a ? s->k : s->m, s->trans_a ? s->m : s->k, s->lda, batch_of(s));
}

static layout b_layout(const clnn_tune_shape *s)
{
    return layout_of(s->trans_b ? s->n : s->k, s->trans_b ? s->k : s->n, s->ldb, batch_of(s));
}

static layout c_layout(const clnn_tune_shape *s)
{
    return layout_of(s->m, s->n, s->ldc, batch_of(s));
}

/* A(b, i, l), B(b, l, j) and C(b, i, j) of a shape in the buffers */
static float a_at(const tuner *t, const clnn_tune_shape *s, size_t b, size_t i, size_t l)
{
    layout a = a_layout(s);
    return t->ha[b * a.stride + (s->trans_a ? l * a.ld + i : i * a.ld + l)];
}

static float b_at(const tuner *t, const clnn_tune_shape *s, size_t b, size_t l, size_t j)
{
    layout x = b_layout(s);
    return t->hb[b * x.stride + (s->trans_b ? j * x.ld + l : l * x.ld + j)];
}

static size_t c_index(const clnn_tune_shape *s, size_t b, size_t i, size_t j)
{
    layout c = c_layout(s);
    return b * c.stride + i * c.ld + j;
}

/* Enqueues one GEMM of shape s over the tuner's buffers. */
static clnn_status gemm(tuner *t, const clnn_tune_shape *s, float alpha, float beta)
{
    clnn__gemm_args g = {.trans_a = s->trans_a,
                         .trans_b = s->trans_b,
                         .m = s->m,
                         .n = s->n,
                         .k = s->k,
                         .alpha = alpha,
                         .beta = beta,
                         .a = t->a,
                         .b = t->b,
                         .c = t->c,
                         .lda = a_layout(s).ld,
                         .ldb = b_layout(s).ld,
                         .ldc = c_layout(s).ld,
                         .a_stride = a_layout(s).stride,
                         .b_stride = b_layout(s).stride,
                         .c_stride = c_layout(s).stride,
                         .batch = batch_of(s)};
    return clnn__gemm_clblast(t->ctx, NULL, &g);
}

static clnn_status finish(tuner *t)
{
    cl_int err = clFinish(t->ctx->queue);
    return err == CL_SUCCESS ? CLNN_OK : clnn__cl_fail(t->ctx, err, "clFinish");
}

static clnn_status read_c(tuner *t, size_t count)
{
    cl_int err = clEnqueueReadBuffer(t->ctx->queue, t->c, CL_TRUE, 0, count * sizeof(float), t->hc,
                                     0, NULL, NULL);
    return err == CL_SUCCESS ? CLNN_OK : clnn__cl_fail(t->ctx, err, "reading a GEMM result");
}

/* ---- checking results --------------------------------------------------------------------- */
/* Error of got against ref relative to the size of the terms (abs = sum |a b|). */
static double rel_err(double got, double ref, double abs)
{
    if (!isfinite(got))
        return INFINITY;
    return fabs(got - ref) / (abs > 1e-30 ? abs : 1e-30);
}

/* Float accumulation over k terms stays far inside this (relative to sum |a_il b_lj|); the
 * wrong sets of CLBlast 1.5.3 are off by 0.1 and more. */
static double tolerance(size_t k)
{
    return 1e-5 * sqrt((double)(k > 1 ? k : 1)) + 1e-6;
}

/* Checks batch b of a timed shape (result in hc, alpha 1, beta 0): a few entries (the corners
 * and random ones) exactly, and every row sum and column sum against sums of the reference, so
 * that a single missing or garbage entry anywhere shows. Returns the worst relative error. */
static double check_batch(tuner *t, const clnn_tune_shape *s, size_t b, clnn__rng *rng)
{
    const size_t m = s->m, n = s->n, k = s->k;
#define C_AT(i, j) t->hc[c_index(s, b, i, j)]
    double worst = 0;
    /* entries */
    for (int e = 0; e < 36; e++) {
        size_t i = e < 4 ? (e & 1 ? m - 1 : 0) : (size_t)clnn__rng_below(rng, m);
        size_t j = e < 4 ? (e & 2 ? n - 1 : 0) : (size_t)clnn__rng_below(rng, n);
        double ref = 0, abs = 0;
        for (size_t l = 0; l < k; l++) {
            double p = (double)a_at(t, s, b, i, l) * (double)b_at(t, s, b, l, j);
            ref += p;
            abs += fabs(p);
        }
        double err = rel_err(C_AT(i, j), ref, abs);
        worst = err > worst ? err : worst;
    }
    /* column sums: sum_i C(i, j) = sum_l (sum_i A(i, l)) B(l, j); row sums likewise */
    double *acol = calloc(k, sizeof *acol), *aabs = calloc(k, sizeof *aabs);
    double *brow = calloc(k, sizeof *brow), *babs = calloc(k, sizeof *babs);
    if (!acol || !aabs || !brow || !babs) {
        free(acol);
        free(aabs);
        free(brow);
        free(babs);
        return INFINITY;
    }
    for (size_t l = 0; l < k; l++) {
        for (size_t i = 0; i < m; i++) {
            double v = a_at(t, s, b, i, l);
            acol[l] += v;
            aabs[l] += fabs(v);
        }
        for (size_t j = 0; j < n; j++) {
            double v = b_at(t, s, b, l, j);
            brow[l] += v;
            babs[l] += fabs(v);
        }
    }
    for (size_t j = 0; j < n; j++) {
        double ref = 0, abs = 0, got = 0;
        for (size_t l = 0; l < k; l++) {
            double v = b_at(t, s, b, l, j);
            ref += acol[l] * v;
            abs += aabs[l] * fabs(v);
        }
        for (size_t i = 0; i < m; i++)
            got += C_AT(i, j);
        double err = rel_err(got, ref, abs);
        worst = err > worst ? err : worst;
    }
    for (size_t i = 0; i < m; i++) {
        double ref = 0, abs = 0, got = 0;
        for (size_t l = 0; l < k; l++) {
            double v = a_at(t, s, b, i, l);
            ref += v * brow[l];
            abs += fabs(v) * babs[l];
        }
        for (size_t j = 0; j < n; j++)
            got += C_AT(i, j);
        double err = rel_err(got, ref, abs);
        worst = err > worst ? err : worst;
    }
    free(acol);
    free(aabs);
    free(brow);
    free(babs);
    return worst;
#undef C_AT
}

/* Runs shape s once (alpha 1, beta 0, C filled with garbage first), reads the result back and
 * checks it: every entry finite, batches 0 and last checked (check_batch). *first_s: the time of
 * the call (mostly compilation on a new set). */
static clnn_status run_checked(tuner *t, const clnn_tune_shape *s, double *err, double *first_s)
{
    const size_t count = c_layout(s).count;
    const float garbage = 12345.0f;
    cl_int e = clEnqueueFillBuffer(t->ctx->queue, t->c, &garbage, sizeof garbage, 0,
                                   count * sizeof(float), 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, e, "clEnqueueFillBuffer");
    clnn_status st = finish(t);
    double t0 = now_s();
    if (!st)
        st = gemm(t, s, 1.0f, 0.0f);
    if (!st)
        st = finish(t);
    *first_s = now_s() - t0;
    if (!st)
        st = read_c(t, count);
    if (st)
        return st;
    *err = 0;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(t->hc[i])) {
            *err = INFINITY;
            return CLNN_OK;
        }
    clnn__rng rng;
    clnn__rng_seed(&rng, 0x7e57 + s->m * 31 + s->n * 7 + s->k);
    double e0 = check_batch(t, s, 0, &rng);
    double e1 = batch_of(s) > 1 ? check_batch(t, s, batch_of(s) - 1, &rng) : 0;
    *err = e0 > e1 ? e0 : e1;
    return CLNN_OK;
}

/* An edge shape in full, with alpha and beta on a C of known values. */
static clnn_status run_edge(tuner *t, const clnn_tune_shape *s, double *err)
{
    const size_t count = c_layout(s).count;
    for (size_t i = 0; i < count; i++)
        t->hc0[i] = t->ha[(i * 7) % t->na];
    cl_int e = clEnqueueWriteBuffer(t->ctx->queue, t->c, CL_TRUE, 0, count * sizeof(float), t->hc0,
                                    0, NULL, NULL);
    if (e != CL_SUCCESS)
        return clnn__cl_fail(t->ctx, e, "clEnqueueWriteBuffer");
    clnn_status st = gemm(t, s, EDGE_ALPHA, EDGE_BETA);
    if (!st)
        st = read_c(t, count);
    if (st)
        return st;
    *err = 0;
    for (size_t b = 0; b < batch_of(s); b++)
        for (size_t i = 0; i < s->m; i++)
            for (size_t j = 0; j < s->n; j++) {
                size_t at = c_index(s, b, i, j);
                double ref = 0, abs = 0;
                for (size_t l = 0; l < s->k; l++) {
                    double p = (double)a_at(t, s, b, i, l) * (double)b_at(t, s, b, l, j);
                    ref += p;
                    abs += fabs(p);
                }
                ref = EDGE_ALPHA * ref + EDGE_BETA * (double)t->hc0[at];
                abs = EDGE_ALPHA * abs + EDGE_BETA * fabs((double)t->hc0[at]);
                double x = rel_err(t->hc[at], ref, abs);
                *err = x > *err ? x : *err;
            }
    return CLNN_OK;
}

/* The fastest time of one call of s (ms): reps runs of enough back-to-back calls to last ~2 ms. */
static clnn_status time_shape(tuner *t, const clnn_tune_shape *s, double *ms)
{
    double t0 = now_s();
    clnn_status st = gemm(t, s, 1.0f, 0.0f);
    if (!st)
        st = finish(t);
    if (st)
        return st;
    double one = now_s() - t0;
    int calls = one >= 2e-3 ? 1 : (int)ceil(2e-3 / (one > 1e-5 ? one : 1e-5));
    calls = calls > 64 ? 64 : calls;
    double best = INFINITY;
    for (int r = 0; r < t->reps && !st; r++) {
        t0 = now_s();
        for (int c = 0; c < calls && !st; c++)
            st = gemm(t, s, 1.0f, 0.0f);
        if (!st)
            st = finish(t);
        double per = (now_s() - t0) / calls;
        best = per < best ? per : best;
    }
    *ms = best * 1e3;
    return st;
}

/* ---- one candidate ------------------------------------------------------------------------ */
/* The context's error state, kept across a candidate that fails (a failed candidate is part of
 * the report, not the context's last error). */
typedef struct saved_error {
    clnn_status status;
    int raw;
    char *msg;
} saved_error;

static saved_error error_save(clnn_ctx *ctx)
{
    saved_error s = {ctx->last_status, ctx->last_raw, ctx->last_error};
    ctx->last_error = NULL;
    return s;
}

static void error_restore(clnn_ctx *ctx, saved_error s)
{
    free(ctx->last_error);
    ctx->last_error = s.msg;
    ctx->last_status = s.status;
    ctx->last_raw = s.raw;
}

/* Would the device run p? (work-group size and local memory) -1 with the reason. */
static int fits_device(const clnn_ctx *ctx, const clnn_gemm_params *p, char *why, size_t size)
{
    const clnn_device_info *d = &ctx->info;
    if (p->kwg) {
        size_t wg = (size_t)p->mdimc * p->ndimc;
        uint64_t local =
            4ull * ((uint64_t)p->sa * p->kwg * p->mwg + (uint64_t)p->sb * p->kwg * p->nwg);
        if (wg > d->max_work_group_size)
            return snprintf(why, size, "work-group of %zu exceeds the device's %zu", wg,
                            d->max_work_group_size),
                   -1;
        if (local > d->local_mem_bytes)
            return snprintf(why, size, "needs %llu bytes of local memory, the device has %llu",
                            (unsigned long long)local, (unsigned long long)d->local_mem_bytes),
                   -1;
    }
    if (p->wgd) {
        size_t wg = (size_t)p->mdimcd * p->ndimcd;
        uint64_t local =
            4ull * ((uint64_t)p->wgd * (p->wgd + p->pada) + (uint64_t)p->wgd * (p->wgd + p->padb));
        if (wg > d->max_work_group_size || local > d->local_mem_bytes)
            return snprintf(why, size,
                            "XgemmDirect exceeds the device's work-group size or "
                            "local memory"),
                   -1;
    }
    return 0;
}

/* Adds a candidate row (applied with p unless before), checks it on the edge shapes and each
 * timed shape, and times it. Returns its index, or -1 when the report is full. A candidate that
 * fails is recorded (verified 0 or -1), never an error: the search goes on. */
static int measure(tuner *t, const char *role, const clnn_gemm_params *p, int before)
{
    clnn_tune_report *r = t->r;
    if (r->ncandidates >= CLNN_TUNE_MAX_CANDIDATES)
        return -1;
    int idx = (int)r->ncandidates++;
    clnn_tune_candidate *c = &r->candidates[idx];
    memset(c, 0, sizeof *c);
    snprintf(c->role, sizeof c->role, "%s", role);
    c->params = *p;
    c->verified = -1;
    c->score_ms = NAN;
    for (size_t s = 0; s < CLNN_TUNE_MAX_SHAPES; s++)
        c->ms[s] = NAN;
    char text[600];
    clnn_gemm_params_format(p, text, sizeof text);
    if (!before && (clnn__gemm_params_known_bad(p, c->note, sizeof c->note) ||
                    fits_device(t->ctx, p, c->note, sizeof c->note))) {
        say(t, "%s %d: skipped (%s): %s", role, idx, c->note, text);
        return idx;
    }
    saved_error saved = error_save(t->ctx);
    clnn_status st = before ? CLNN_OK : clnn__gemm_apply(t->ctx, p);
    double err = 0, worst = 0, first = 0;
    const char *bad = NULL;
    for (size_t e = 0; e < NEDGES && !st && !bad; e++) {
        double t0 = now_s();
        st = run_edge(t, &EDGES[e], &err);
        c->first_s += now_s() - t0;
        worst = err > worst ? err : worst;
        if (!st && !(err <= tolerance(EDGES[e].k)))
            bad = EDGES[e].name;
    }
    double score = 0;
    for (size_t s = 0; s < r->nshapes && !st && !bad; s++) {
        const clnn_tune_shape *sh = &r->shapes[s];
        st = run_checked(t, sh, &err, &first);
        c->first_s += first;
        worst = err > worst ? err : worst;
        if (!st && !(err <= tolerance(sh->k)))
            bad = sh->name;
        if (!st && !bad)
            st = time_shape(t, sh, &c->ms[s]);
        score += sh->weight * c->ms[s];
    }
    c->max_error = worst;
    if (st) {
        snprintf(c->note, sizeof c->note, "failed to run: %.110s", clnn_ctx_last_error(t->ctx));
        say(t, "%s %d: %s: %s", role, idx, c->note, text);
    } else if (bad) {
        c->verified = 0;
        snprintf(c->note, sizeof c->note, "wrong result on '%s' (error %.2g)", bad, worst);
        say(t, "%s %d: WRONG RESULT on '%s' (relative error %.2g), excluded: %s", role, idx, bad,
            worst, text);
    } else {
        c->verified = 1;
        c->score_ms = score;
        say(t, "%s %d: verified (max error %.1e), weighted time %.2f ms, first calls %.1f s: %s",
            role, idx, worst, score, c->first_s, text);
    }
    error_restore(t->ctx, saved);
    return idx;
}

/* ---- choosing the combination ------------------------------------------------------------- */
/* p's XgemmDirect group := d's */
static void set_direct(clnn_gemm_params *p, const clnn_gemm_params *d)
{
    p->kwid = d->kwid;
    p->mdimad = d->mdimad;
    p->mdimcd = d->mdimcd;
    p->ndimbd = d->ndimbd;
    p->ndimcd = d->ndimcd;
    p->pada = d->pada;
    p->padb = d->padb;
    p->vwmd = d->vwmd;
    p->vwnd = d->vwnd;
    p->wgd = d->wgd;
}

/* The XGEMM_MIN_INDIRECT_SIZE that sends exactly the shapes with m n k <= limit to XgemmDirect:
 * the smallest T with T^3 > limit (0 when none fits under the next larger shape `next`). */
static unsigned threshold_between(double limit, double next)
{
    unsigned lo = (unsigned)floor(cbrt(limit));
    while ((double)lo * lo * lo <= limit)
        lo++;
    while (lo > 1 && (double)(lo - 1) * (lo - 1) * (lo - 1) > limit)
        lo--;
    unsigned hi = (unsigned)floor(cbrt(next));
    while ((double)hi * hi * hi > next)
        hi--;
    if (lo > hi)
        return 0;
    /* halfway (geometrically) between the two, for shapes of sizes between */
    unsigned mid = (unsigned)lround(sqrt(cbrt(limit) * cbrt(next)));
    return mid < lo ? lo : mid > hi ? hi : mid;
}

/* Picks the best (Xgemm set, XgemmDirect set, threshold) from the forced-Xgemm rows [x0, x1)
 * and forced-direct rows [d0, d1). 0 and *out, or -1 when no pair is verified. */
static int best_combination(const tuner *t, int x0, int x1, int d0, int d1, clnn_gemm_params *out,
                            double *predicted)
{
    const clnn_tune_report *r = t->r;
    double best = INFINITY;
    for (int x = x0; x < x1; x++) {
        const clnn_tune_candidate *cx = &r->candidates[x];
        if (cx->verified != 1)
            continue;
        for (int d = d0; d < d1; d++) {
            const clnn_tune_candidate *cd = &r->candidates[d];
            if (cd->verified != 1)
                continue;
            /* the shapes go direct in order of m n k: try every cut */
            double cuts[CLNN_TUNE_MAX_SHAPES + 1];
            size_t ncuts = 0;
            cuts[ncuts++] = 0; /* none direct */
            for (size_t s = 0; s < r->nshapes; s++)
                cuts[ncuts++] = mnk_of(&r->shapes[s]);
            for (size_t ci = 0; ci < ncuts; ci++) {
                double limit = cuts[ci], next = INFINITY;
                for (size_t s = 0; s < r->nshapes; s++)
                    if (mnk_of(&r->shapes[s]) > limit && mnk_of(&r->shapes[s]) < next)
                        next = mnk_of(&r->shapes[s]);
                unsigned th = limit == 0         ? ALL_XGEMM
                              : next == INFINITY ? ALL_DIRECT
                                                 : threshold_between(limit, next);
                if (!th)
                    continue;
                double score = 0;
                for (size_t s = 0; s < r->nshapes; s++) {
                    int direct = mnk_of(&r->shapes[s]) <= limit;
                    score += r->shapes[s].weight * (direct ? cd->ms[s] : cx->ms[s]);
                }
                if (score < best) {
                    best = score;
                    *out = cx->params;
                    set_direct(out, &cd->params);
                    out->min_indirect = th;
                }
            }
        }
    }
    *predicted = best;
    return best < INFINITY ? 0 : -1;
}

/* ---- options ------------------------------------------------------------------------------ */
void clnn_tune_options_init(clnn_tune_options *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

static clnn_status check_options(clnn_ctx *ctx, const clnn_tune_options *o)
{
#define BAD(...) return clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_tune_gemm: " __VA_ARGS__)
    if (o->reps < 0 || o->reps > 1000)
        BAD("options.reps = %d: expected 0 (default) to 1000", o->reps);
    if (!o->shapes != !o->nshapes)
        BAD("options.shapes and options.nshapes go together (both NULL/0 for the built-in "
            "workload)");
    if (o->nshapes > CLNN_TUNE_MAX_SHAPES)
        BAD("%zu shapes: at most %d", o->nshapes, CLNN_TUNE_MAX_SHAPES);
    for (size_t s = 0; s < o->nshapes; s++) {
        const clnn_tune_shape *sh = &o->shapes[s];
        const char *name = sh->name ? sh->name : "unnamed";
        if (!sh->m || !sh->n || !sh->k || sh->m > (1u << 20) || sh->n > (1u << 20) ||
            sh->k > (1u << 20) || sh->batch > 4096)
            BAD("shape %zu (%s): m=%zu n=%zu k=%zu batch=%zu: dimensions must be 1 to 2^20, "
                "batch at most 4096",
                s, name, sh->m, sh->n, sh->k, sh->batch);
        const size_t width[3] = {sh->trans_a ? sh->m : sh->k, sh->trans_b ? sh->k : sh->n, sh->n};
        const size_t ld[3] = {sh->lda, sh->ldb, sh->ldc};
        for (int x = 0; x < 3; x++)
            if (ld[x] && ld[x] != width[x] &&
                (ld[x] < width[x] * batch_of(sh) || ld[x] > (1u << 24)))
                BAD("shape %zu (%s): ld%c=%zu: expected 0 (packed), %zu, or from %zu (the batch "
                    "side by side) to 2^24",
                    s, name, "abc"[x], ld[x], width[x], width[x] * batch_of(sh));
        uint64_t a = a_layout(sh).count, b = b_layout(sh).count, c = c_layout(sh).count;
        uint64_t big = (a > b ? a : b) > c ? (a > b ? a : b) : c;
        if ((double)sh->m * (double)sh->n * (double)sh->k >
            (double)ALL_DIRECT * ALL_DIRECT * ALL_DIRECT)
            BAD("shape %zu (%s): m n k = %zu x %zu x %zu is above 4096^3, beyond what the search "
                "can place on either kernel",
                s, name, sh->m, sh->n, sh->k);
        if (big * 4 > ctx->info.max_alloc_bytes)
            BAD("shape %zu (%s): a matrix of %llu floats does not fit one device buffer", s, name,
                (unsigned long long)big);
        if (!(sh->weight >= 0) || !isfinite(sh->weight))
            BAD("shape %zu (%s): weight %g must be finite and >= 0", s, name, sh->weight);
    }
    if (!o->candidates != !o->ncandidates)
        BAD("options.candidates and options.ncandidates go together (both NULL/0 for the "
            "built-in search)");
    if (o->ncandidates > CLNN_TUNE_MAX_CANDIDATES - 1)
        BAD("%zu candidates: at most %d", o->ncandidates, CLNN_TUNE_MAX_CANDIDATES - 1);
    if (!o->no_write && !ctx->cache_dir)
        BAD("the context has no cache directory (options.no_cache or CLNN_NO_CACHE=1) to write "
            "the tuning file to: set options.no_write or give the context a cache_dir");
    char why[256];
    for (size_t i = 0; i < o->ncandidates; i++) {
        const clnn_gemm_params *p = &o->candidates[i], *p0 = &o->candidates[0];
        if (!clnn__gemm_params_set(p))
            BAD("candidate %zu sets no parameters (CLBlast's own are measured as 'before')", i);
        if (clnn__gemm_params_check(p, why, sizeof why))
            BAD("candidate %zu: %s", i, why);
        if (!p->kwg != !p0->kwg || !p->wgd != !p0->wgd || !p->min_indirect != !p0->min_indirect)
            BAD("candidate %zu sets other parameter groups than candidate 0 (Xgemm, XgemmDirect, "
                "XGEMM_MIN_INDIRECT_SIZE): give every candidate the same groups so that they are "
                "compared on equal terms",
                i);
    }
    return CLNN_OK;
#undef BAD
}

static clnn_status alloc_buffers(tuner *t)
{
    clnn_tune_report *r = t->r;
    for (size_t s = 0; s < r->nshapes + NEDGES; s++) {
        const clnn_tune_shape *sh = s < r->nshapes ? &r->shapes[s] : &EDGES[s - r->nshapes];
        size_t a = a_layout(sh).count, b = b_layout(sh).count, c = c_layout(sh).count;
        t->na = a > t->na ? a : t->na;
        t->nb = b > t->nb ? b : t->nb;
        t->nc = c > t->nc ? c : t->nc;
    }
    t->ha = malloc(t->na * sizeof(float));
    t->hb = malloc(t->nb * sizeof(float));
    t->hc = malloc(t->nc * sizeof(float));
    t->hc0 = malloc(t->nc * sizeof(float));
    if (!t->ha || !t->hb || !t->hc || !t->hc0)
        return clnn__fail(t->ctx, CLNN_ERR_NOMEM, "clnn_tune_gemm: out of host memory");
    clnn__rng rng;
    clnn__rng_seed(&rng, 20240607);
    for (size_t i = 0; i < t->na; i++)
        t->ha[i] = (float)(2 * clnn__rng_uniform(&rng) - 1);
    for (size_t i = 0; i < t->nb; i++)
        t->hb[i] = (float)(2 * clnn__rng_uniform(&rng) - 1);
    cl_int err;
    t->a = clCreateBuffer(t->ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                          t->na * sizeof(float), t->ha, &err);
    if (err == CL_SUCCESS)
        t->b = clCreateBuffer(t->ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              t->nb * sizeof(float), t->hb, &err);
    if (err == CL_SUCCESS)
        t->c =
            clCreateBuffer(t->ctx->context, CL_MEM_READ_WRITE, t->nc * sizeof(float), NULL, &err);
    return err == CL_SUCCESS ? CLNN_OK
                             : clnn__cl_fail(t->ctx, err, "clnn_tune_gemm: clCreateBuffer");
}

static void free_buffers(tuner *t)
{
    if (t->a)
        clReleaseMemObject(t->a);
    if (t->b)
        clReleaseMemObject(t->b);
    if (t->c)
        clReleaseMemObject(t->c);
    free(t->ha);
    free(t->hb);
    free(t->hc);
    free(t->hc0);
}

/* The comment lines of the tuning file: the search's figures. */
static void file_comments(const tuner *t, const clnn_tune_candidate *before,
                          const clnn_tune_candidate *win, char *buf, size_t size)
{
    const clnn_tune_report *r = t->r;
    time_t now = time(NULL);
    struct tm tm;
    char date[32] = "";
    if (gmtime_r(&now, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    size_t len = (size_t)snprintf(buf, size,
                                  "written by clnn_tune_gemm (clnn-bench --tune) %s; delete this "
                                  "file to return to CLBlast's own parameters\n"
                                  "weighted time per step: %.2f ms before, %.2f ms after\n"
                                  "GFLOP/s per shape (m n k batch weight: before -> after):",
                                  date, r->before_score_ms, r->after_score_ms);
    for (size_t s = 0; s < r->nshapes && len < size; s++) {
        const clnn_tune_shape *sh = &r->shapes[s];
        len += (size_t)snprintf(buf + len, size - len, "\n%s %zu %zu %zu %zu %g: %.1f -> %.1f",
                                sh->name ? sh->name : "unnamed", sh->m, sh->n, sh->k, batch_of(sh),
                                sh->weight, flops_of(sh) / before->ms[s] * 1e-6,
                                flops_of(sh) / win->ms[s] * 1e-6);
    }
}

/* ---- the search --------------------------------------------------------------------------- */
/* Picks the winner (the lowest measured weighted time among the verified candidates), fills
 * the report's scores and returns the candidate to leave in effect (-1: none measured): the
 * winner, or when "before" won after overrides the best candidate (CLBlast cannot restore its
 * own parameters). */
static int choose(tuner *t, const clnn_gemm_params *none)
{
    const clnn_tune_options *o = t->o;
    clnn_tune_report *r = t->r;
    /* the winner: the lowest measured weighted time among the verified candidates */
    clnn_tune_candidate *before = &r->candidates[0];
    r->winner = 0;
    for (size_t i = 1; i < r->ncandidates; i++) {
        const clnn_tune_candidate *c = &r->candidates[i];
        const clnn_tune_candidate *w = &r->candidates[r->winner];
        int beats = c->score_ms < w->score_ms || w->verified != 1 ||
                    (o->choose_candidate && r->winner == 0);
        if (c->verified == 1 && beats)
            r->winner = (int)i;
    }
    if (before->verified != 1 && r->winner == 0)
        say(t, "no candidate passed the checks");
    r->per_shape_best_ms = 0;
    for (size_t s = 0; s < r->nshapes; s++) {
        double best = INFINITY;
        for (size_t i = 0; i < r->ncandidates; i++)
            if (r->candidates[i].verified == 1 && r->candidates[i].ms[s] < best)
                best = r->candidates[i].ms[s];
        r->per_shape_best_ms += r->shapes[s].weight * best;
    }
    clnn_tune_candidate *win = &r->candidates[r->winner];
    r->before_score_ms = before->score_ms;
    r->after_score_ms = win->score_ms;
    r->best = r->winner ? win->params : *none;
    int keep = r->winner ? r->winner : -1;
    if (!r->winner && clnn__gemm_params_set(none))
        keep = 0;
    else if (!r->winner)
        for (size_t i = 1; i < r->ncandidates; i++)
            if (r->candidates[i].verified == 1 &&
                (keep < 0 || r->candidates[i].score_ms < r->candidates[keep].score_ms))
                keep = (int)i;
    return keep;
}

/* The built-in search: Xgemm sets with every shape on Xgemm, XgemmDirect sets with every shape
 * direct, then the best combination of the two and the threshold between them, measured. */
static void builtin_search(tuner *t, int gpu)
{
    const clnn_tune_options *o = t->o;
    clnn_tune_report *r = t->r;
    const clnn_gemm_params *xs = gpu ? GPU_X : CPU_X, *ds = gpu ? GPU_D : CPU_D;
    size_t nx = gpu ? sizeof GPU_X / sizeof *GPU_X : sizeof CPU_X / sizeof *CPU_X;
    size_t nd = gpu ? sizeof GPU_D / sizeof *GPU_D : sizeof CPU_D / sizeof *CPU_D;
    nx = o->quick && nx > QUICK_X ? QUICK_X : nx;
    nd = o->quick && nd > QUICK_D ? QUICK_D : nd;
    /* Xgemm sets, every shape on Xgemm (the direct part: the first direct set) */
    int x0 = (int)r->ncandidates;
    for (size_t i = 0; i < nx; i++) {
        clnn_gemm_params p = xs[i];
        set_direct(&p, &ds[0]);
        p.min_indirect = ALL_XGEMM;
        measure(t, "xgemm", &p, 0);
    }
    int x1 = (int)r->ncandidates;
    /* XgemmDirect sets, every shape direct (the Xgemm part: the best so far) */
    int xbest = -1;
    for (int i = x0; i < x1; i++)
        if (r->candidates[i].verified == 1 &&
            (xbest < 0 || r->candidates[i].score_ms < r->candidates[xbest].score_ms))
            xbest = i;
    int d0 = (int)r->ncandidates;
    for (size_t i = 0; i < nd; i++) {
        clnn_gemm_params p = xbest >= 0 ? r->candidates[xbest].params : xs[0];
        set_direct(&p, &ds[i]);
        p.min_indirect = ALL_DIRECT;
        measure(t, "direct", &p, 0);
    }
    int d1 = (int)r->ncandidates;
    clnn_gemm_params combo;
    double predicted;
    if (!best_combination(t, x0, x1, d0, d1, &combo, &predicted)) {
        int same = -1;
        for (int i = 0; i < (int)r->ncandidates; i++)
            if (!memcmp(&r->candidates[i].params, &combo, sizeof combo))
                same = i;
        char text[600];
        clnn_gemm_params_format(&combo, text, sizeof text);
        say(t, "best combination (predicted %.2f ms): %s%s", predicted, text,
            same >= 0 ? " (measured already)" : "");
        if (same < 0)
            measure(t, "final", &combo, 0);
    }
}

clnn_status clnn_tune_gemm(clnn_ctx *ctx, const clnn_tune_options *options,
                           clnn_tune_report *report)
{
    if (!ctx)
        return CLNN_ERR_INVALID;
    if (!ctx->usable)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_tune_gemm: the context is not usable (its creation failed)");
    clnn_tune_options defaults;
    clnn_tune_options_init(&defaults);
    const clnn_tune_options *o = options ? options : &defaults;
    clnn_status st = check_options(ctx, o);
    if (st)
        return st;
    clnn_tune_report *r = report ? report : malloc(sizeof *r);
    if (!r)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "clnn_tune_gemm: out of host memory");
    memset(r, 0, sizeof *r);
    tuner t = {.ctx = ctx, .o = o, .r = r, .t0 = now_s()};
    t.reps = o->reps ? o->reps : o->quick ? 3 : 5;
    if (o->shapes) {
        memcpy(r->shapes, o->shapes, o->nshapes * sizeof *o->shapes);
        r->nshapes = o->nshapes;
    } else if (o->quick) {
        for (size_t i = 0; i < sizeof QUICK_SHAPES; i++)
            r->shapes[r->nshapes++] = SHAPES[QUICK_SHAPES[i]];
    } else {
        memcpy(r->shapes, SHAPES, sizeof SHAPES);
        r->nshapes = NSHAPES;
    }
    /* the search measures CLBlast's own parameters (or what this process applied) as "before";
     * it does not load the tuning file */
    ctx->gemm_ready = 1;
    int gpu = !clnn__cpu_path(ctx);
    say(&t, "%s search on %s (%s): %zu shapes, %d runs each", o->quick ? "quick" : "full",
        ctx->info.name, gpu ? "GPU" : "CPU", r->nshapes, t.reps);
    if ((st = alloc_buffers(&t))) {
        free_buffers(&t);
        if (!report)
            free(r);
        return st;
    }
    clnn_gemm_params none;
    memset(&none, 0, sizeof none);
    clnn__gemm_applied(ctx, &none);
    measure(&t, "before", &none, 1);
    if (o->candidates) {
        for (size_t i = 0; i < o->ncandidates; i++)
            measure(&t, "given", &o->candidates[i], 0);
    } else {
        builtin_search(&t, gpu);
    }
    int keep = choose(&t, &none);
    clnn_tune_candidate *before = &r->candidates[0], *win = &r->candidates[r->winner];
    int overridden = 0;
    for (size_t i = 1; i < r->ncandidates; i++)
        overridden |= r->candidates[i].verified != -1 || r->candidates[i].first_s > 0 ||
                      !strncmp(r->candidates[i].note, "failed", 6);
    if (keep < 0 && overridden) {
        st = clnn__fail(ctx, CLNN_ERR_CLBLAST,
                        "clnn_tune_gemm: no candidate passed the checks and CLBlast cannot restore "
                        "its own parameters: GEMMs of this process on '%s' may now be wrong; "
                        "start a new process (nothing was written)",
                        ctx->info.name);
        goto done;
    }
    if (keep >= 0 && (st = clnn__gemm_apply(ctx, &r->candidates[keep].params)))
        goto done;
    char text[600];
    clnn_gemm_params_format(&r->best, text, sizeof text);
    if (r->winner)
        say(&t, "winner: %s %d, weighted time %.2f ms (before %.2f ms, %.2fx): %s", win->role,
            r->winner, win->score_ms, before->score_ms, before->score_ms / win->score_ms, text);
    else
        say(&t, "nothing beat the parameters in effect before (%.2f ms)%s", before->score_ms,
            keep > 0 ? "; the best candidate stays in effect in this process (CLBlast cannot "
                       "restore its own)"
                     : "");
    say(&t, "one set per shape would reach %.2f ms at best", r->per_shape_best_ms);
    if (!o->no_write && (before->verified == 1 || r->winner)) {
        char *comments = malloc(8192);
        if (!comments) {
            st = clnn__fail(ctx, CLNN_ERR_NOMEM, "clnn_tune_gemm: out of host memory");
            goto done;
        }
        if (before->verified == 1)
            file_comments(&t, before, win, comments, 8192);
        else
            snprintf(comments, 8192, "written by clnn_tune_gemm");
        st = clnn__tune_write(ctx, &r->best, comments, r->path, sizeof r->path);
        free(comments);
        if (!st)
            say(&t, "written to %s", r->path);
    }
    if (!st) {
        ctx->tune_applied = keep >= 0;
        snprintf(ctx->tune_status, sizeof ctx->tune_status, "set by clnn_tune_gemm%s%s",
                 r->path[0] ? ", written to " : "", r->path);
    }
done:
    r->seconds = now_s() - t.t0;
    free_buffers(&t);
    if (!report)
        free(r);
    return st;
}
