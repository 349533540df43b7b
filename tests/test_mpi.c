/* test_mpi.c — data-parallel training over MPI (src/dist/dist.c, the distributed parts of
 * src/nn/fit.c and fit_dist.c). Run by test_mpi.sh as `mpirun -np 2 test_mpi`; every rank runs
 * every test in the same order (check does not fork: MPI and fork do not mix), and rank 0 prints
 * the summary.
 *
 * Covered: 2 ranks at batch B give the parameters and history of 1 process at batch 2B from the
 * same seed (shuffled, validation sharded and reduced, a last global batch split unevenly and
 * one where rank 1 gets no sample, different initial weights on rank 1 that the broadcast
 * replaces); every rank ends with bit-identical parameters and history; BatchNorm running
 * statistics averaged; a failure on one rank (bad data before the first step, a checkpoint that
 * cannot be written on rank 0) makes every rank return, the others with CLNN_ERR_DISTRIBUTED
 * naming it, and the contexts stay usable; a callback's stop on one rank stops all; a checkpoint
 * written by 2 ranks resumes in 1 process with the result of continuing on 2; clnn_mpi_agree;
 * different data sizes on the ranks are refused. */
#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"

#define NF 8
#define NC 3
#define B  8 /* per rank; the 1-process reference trains at 2 B */

static int g_rank, g_size;

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n samples in NC Gaussian-ish blobs (the same on every rank for the same seed) */
static void blobs(int64_t n, float *x, int32_t *labels, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % NC);
        for (int k = 0; k < NF; k++) {
            double u = (double)(mix(&seed) >> 11) * 0x1.0p-53 - 0.5;
            x[i * NF + k] = (float)(2.0 * u + (k / 2 == labels[i] ? 2.0 : 0.0));
        }
    }
}

/* NF -> Dense(16, relu) [-> BatchNorm] -> Dense(NC), cross-entropy on logits, Adam */
static clnn_model *model(clnn_ctx *ctx, uint64_t seed, int batchnorm)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = seed;
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, &mo, &m), CLNN_OK);
    clnn_model_input(m, "x", 1, (int64_t[]){NF});
    clnn_layer_spec l1 = clnn_layer_dense(16, CLNN_ACT_RELU), bn = clnn_layer_batchnorm(),
                    l2 = clnn_layer_dense(NC, CLNN_ACT_NONE);
    snprintf(l1.name, sizeof l1.name, "fc1");
    snprintf(bn.name, sizeof bn.name, "bn");
    snprintf(l2.name, sizeof l2.name, "fc2");
    clnn_model_push(m, &l1);
    if (batchnorm)
        clnn_model_push(m, &bn);
    clnn_model_push(m, &l2);
    ck_assert_msg(clnn_model_status(m) == CLNN_OK, "model: %s", clnn_model_last_error(m));
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_ADAM);
    c.optimizer.lr = 0.01f;
    c.metrics = CLNN_METRIC_ACCURACY;
    EXPECT_ST(ctx, clnn_model_compile(m, &c), CLNN_OK);
    return m;
}

static clnn_fit_options options(int epochs, int64_t batch, int distributed)
{
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = epochs;
    f.batch_size = batch;
    f.seed = 3;
    f.verbose = 0;
    f.distributed = distributed;
    return f;
}

static float *params(clnn_ctx *ctx, const clnn_model *m, size_t *count)
{
    size_t total = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++)
        total += (size_t)clnn_tensor_numel(clnn_model_param(m, i));
    float *v = malloc(total * sizeof *v);
    ck_assert_ptr_nonnull(v);
    size_t o = 0;
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        EXPECT_ST(ctx, clnn_tensor_read(t, v + o, clnn_tensor_bytes(t)), CLNN_OK);
        o += (size_t)clnn_tensor_numel(t);
    }
    *count = total;
    return v;
}

/* every rank holds exactly the same n floats */
static void expect_same_on_all_ranks(const float *v, size_t n, const char *what)
{
    float *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
    ck_assert_ptr_nonnull(lo);
    ck_assert_ptr_nonnull(hi);
    MPI_Allreduce(v, lo, (int)n, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(v, hi, (int)n, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(lo[i] == hi[i], "%s[%zu]: got %.9g to %.9g over the ranks, expected one value",
                      what, i, (double)lo[i], (double)hi[i]);
    free(lo);
    free(hi);
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - (double)b[i]) / fmax(1e-3, fabs((double)b[i])));
    return d;
}

/* ---- equivalence: 2 ranks x B == 1 process x 2B ----------------------------------------------- */
START_TEST(test_two_ranks_match_one_at_double_batch)
{
    /* _i = 0: 88 training samples (the last global batch of 8 splits 4 + 4); _i = 1: 81 (the
     * last global batch has 1 sample: rank 1 gets none) */
    const int64_t ntr = _i == 0 ? 88 : 81, nval = 19;
    clnn_ctx *ctx = test_ctx(NULL);
    float *x = malloc((size_t)(ntr + nval) * NF * sizeof *x);
    int32_t *y = malloc((size_t)(ntr + nval) * sizeof *y);
    blobs(ntr + nval, x, y, 11);
    clnn_data tr = {x, ntr, 1, {NF}, y, NULL};
    clnn_data val = {x + ntr * NF, nval, 1, {NF}, y + ntr, NULL};
    /* rank 1 starts from other weights: the broadcast makes them rank 0's */
    clnn_model *m = model(ctx, g_rank == 0 ? 7 : 8, 0);
    clnn_fit_options f = options(3, B, 1);
    f.validation_data = &val;
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_OK);
    size_t n;
    float *p = params(ctx, m, &n);
    expect_same_on_all_ranks(p, n, "parameters");
    const clnn_history *h = clnn_model_history(m);
    ck_assert_int_eq(h->epochs, 3);
    float hist[4 * 3];
    const char *cols[4] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    for (int e = 0; e < 3; e++)
        for (int c = 0; c < 4; c++)
            hist[e * 4 + c] = (float)clnn_history_get(h, cols[c], e);
    expect_same_on_all_ranks(hist, 12, "history");
    if (g_rank == 0) {
        clnn_model *ref = model(ctx, 7, 0);
        clnn_fit_options rf = options(3, (int64_t)B * g_size, 0);
        rf.validation_data = &val;
        EXPECT_ST(ctx, clnn_model_fit(ref, &tr, &rf), CLNN_OK);
        size_t rn;
        float *rp = params(ctx, ref, &rn);
        ck_assert_uint_eq(rn, n);
        double d = max_rel_diff(p, rp, n);
        ck_assert_msg(d < 1e-4, "parameters of 2 ranks at batch %d vs 1 at %d: relative difference "
                                "%g, expected < 1e-4",
                      B, B * g_size, d);
        const clnn_history *rh = clnn_model_history(ref);
        for (int e = 0; e < 3; e++)
            for (int c = 0; c < 4; c++) {
                double want = clnn_history_get(rh, cols[c], e), got = hist[e * 4 + c];
                ck_assert_msg(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)),
                              "%s of epoch %d: got %.8g over 2 ranks, expected %.8g", cols[c],
                              e + 1, got, want);
            }
        free(rp);
        clnn_model_destroy(ref);
    }
    free(p);
    clnn_model_destroy(m);
    free(x);
    free(y);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_batchnorm_statistics_averaged)
{
    clnn_ctx *ctx = test_ctx(NULL);
    const int64_t n = 64;
    float x[64 * NF];
    int32_t y[64];
    blobs(n, x, y, 5);
    clnn_data tr = {x, n, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 1);
    clnn_fit_options f = options(2, B, 1);
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_OK);
    size_t count;
    float *p = params(ctx, m, &count); /* running mean and variance included */
    expect_same_on_all_ranks(p, count, "parameters and running statistics");
    free(p);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- failures ---------------------------------------------------------------------------------- */
/* After a failure on rank `failed`: that rank returned `own`, every other one
 * CLNN_ERR_DISTRIBUTED naming it and quoting `quote` from its message. */
static void expect_stopped_by(clnn_ctx *ctx, clnn_status st, int failed, clnn_status own,
                              const char *quote)
{
    if (g_rank == failed) {
        ck_assert_msg(st == own, "rank %d: got %s, expected %s (%s)", g_rank, clnn_status_name(st),
                      clnn_status_name(own), clnn_ctx_last_error(ctx));
        return;
    }
    ck_assert_msg(st == CLNN_ERR_DISTRIBUTED, "rank %d: got %s, expected CLNN_ERR_DISTRIBUTED",
                  g_rank, clnn_status_name(st));
    char who[32];
    snprintf(who, sizeof who, "MPI rank %d of", failed);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), who);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), quote);
}

START_TEST(test_bad_data_on_one_rank_stops_all)
{
    clnn_ctx *ctx = test_ctx(NULL);
    float x[32 * NF];
    int32_t y[32];
    blobs(32, x, y, 5);
    if (g_rank == 1)
        x[5 * NF + 2] = NAN;
    clnn_data tr = {x, 32, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 0);
    clnn_fit_options f = options(1, B, 1);
    clnn_status st = clnn_model_fit(m, &tr, &f);
    expect_stopped_by(ctx, st, 1, CLNN_ERR_INVALID, "CLNN_ERR_INVALID");
    if (g_rank != 1)
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "sample 5");
    /* the contexts stay usable: the same fit with good data on every rank */
    blobs(32, x, y, 5);
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_OK);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_different_sizes_refused)
{
    clnn_ctx *ctx = test_ctx(NULL);
    float x[40 * NF];
    int32_t y[40];
    blobs(40, x, y, 5);
    clnn_data tr = {x, g_rank == 0 ? 40 : 32, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 0);
    clnn_fit_options f = options(1, B, 1);
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "different training samples (from 32 to 40)");
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_failed_checkpoint_on_rank0_stops_all)
{
    clnn_ctx *ctx = test_ctx(NULL);
    float x[32 * NF];
    int32_t y[32];
    blobs(32, x, y, 5);
    clnn_data tr = {x, 32, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 0);
    clnn_fit_options f = options(3, B, 1);
    f.checkpoint.path = "/nonexistent-dir-of-clnn/ck.safetensors";
    f.checkpoint.full = 1;
    clnn_status st = clnn_model_fit(m, &tr, &f);
    expect_stopped_by(ctx, st, 0, CLNN_ERR_IO, "nonexistent-dir-of-clnn");
    /* every rank stopped after the first epoch */
    ck_assert_int_eq(clnn_model_history(m)->epochs, 1);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

static int stop_on_rank1(void *user, int epoch, const clnn_history *h)
{
    (void)user;
    (void)h;
    return g_rank == 1 && epoch == 0;
}

START_TEST(test_callback_stop_on_one_rank_stops_all)
{
    clnn_ctx *ctx = test_ctx(NULL);
    float x[32 * NF];
    int32_t y[32];
    blobs(32, x, y, 5);
    clnn_data tr = {x, 32, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 0);
    clnn_fit_options f = options(4, B, 1);
    f.on_epoch_end = stop_on_rank1;
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_OK);
    ck_assert_int_eq(clnn_model_history(m)->epochs, 1);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- checkpoints on another rank count ----------------------------------------------------------- */
START_TEST(test_checkpoint_resumes_on_one_rank)
{
    clnn_ctx *ctx = test_ctx(NULL);
    char path[256] = {0};
    if (g_rank == 0) {
        char dir[] = "/tmp/clnn_mpi_XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    }
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
    const int64_t n = 48;
    float x[48 * NF];
    int32_t y[48];
    blobs(n, x, y, 9);
    clnn_data tr = {x, n, 1, {NF}, y, NULL};
    clnn_model *m = model(ctx, 7, 0);
    clnn_fit_options f = options(2, B, 1);
    f.checkpoint.path = path;
    f.checkpoint.full = 1;
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &f), CLNN_OK);
    /* go on for a third epoch on 2 ranks ... */
    clnn_fit_options more = options(3, B, 1);
    more.initial_epoch = 2;
    EXPECT_ST(ctx, clnn_model_fit(m, &tr, &more), CLNN_OK);
    MPI_Barrier(MPI_COMM_WORLD); /* rank 0 wrote the checkpoint before anyone reads it */
    if (g_rank == 0) {
        /* ... and in 1 process from rank 0's checkpoint at batch 2 B */
        clnn_model *r = model(ctx, 7, 0); /* (the seed is part of the architecture) */
        int epoch = -1;
        EXPECT_ST(ctx, clnn_model_load_checkpoint(r, path, &epoch), CLNN_OK);
        ck_assert_int_eq(epoch, 2);
        clnn_fit_options one = options(3, (int64_t)B * g_size, 0);
        one.initial_epoch = 2;
        EXPECT_ST(ctx, clnn_model_fit(r, &tr, &one), CLNN_OK);
        size_t c1, c2;
        float *a = params(ctx, m, &c1), *b = params(ctx, r, &c2);
        ck_assert_uint_eq(c1, c2);
        double d = max_rel_diff(a, b, c1);
        ck_assert_msg(d < 1e-4, "resumed on 1 rank vs continued on 2: relative difference %g", d);
        free(a);
        free(b);
        clnn_model_destroy(r);
        unlink(path);
        *strrchr(path, '/') = 0;
        rmdir(path);
    }
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_agree)
{
    char err[256];
    ck_assert_int_eq(clnn_mpi_agree(CLNN_OK, NULL, err, sizeof err), CLNN_OK);
    clnn_status st = clnn_mpi_agree(g_rank == 1 ? CLNN_ERR_NO_DEVICE : CLNN_OK,
                                    g_rank == 1 ? "no device matches 'bogus'" : NULL, err,
                                    sizeof err);
    if (g_rank == 1) {
        ck_assert_int_eq(st, CLNN_ERR_NO_DEVICE);
        EXPECT_CONTAINS(err, "bogus");
    } else {
        ck_assert_int_eq(st, CLNN_ERR_DISTRIBUTED);
        EXPECT_CONTAINS(err, "MPI rank 1 of 2 failed: no device matches 'bogus'");
    }
    ck_assert_int_eq(clnn_mpi_rank(), g_rank);
    ck_assert_int_eq(clnn_mpi_size(), g_size);
    ck_assert_int_eq(clnn_mpi_local_rank(), g_rank); /* one machine */
    ck_assert_int_eq(clnn_mpi_available(), 1);
}
END_TEST

int main(int argc, char **argv)
{
    char err[256];
    if (clnn_mpi_init(&argc, &argv, err, sizeof err) != CLNN_OK) {
        fprintf(stderr, "test_mpi: %s\n", err);
        return 1;
    }
    g_rank = clnn_mpi_rank();
    g_size = clnn_mpi_size();
    if (g_size != 2) {
        if (g_rank == 0)
            fprintf(stderr, "test_mpi: run it with mpirun -np 2 (got %d ranks)\n", g_size);
        clnn_mpi_finalize();
        return 1;
    }
    Suite *s = suite_create("mpi");
    TCase *tc = tcase_create("data-parallel");
    tcase_set_timeout(tc, 200);
    tcase_add_loop_test(tc, test_two_ranks_match_one_at_double_batch, 0, 2);
    tcase_add_test(tc, test_batchnorm_statistics_averaged);
    tcase_add_test(tc, test_bad_data_on_one_rank_stops_all);
    tcase_add_test(tc, test_different_sizes_refused);
    tcase_add_test(tc, test_failed_checkpoint_on_rank0_stops_all);
    tcase_add_test(tc, test_callback_stop_on_one_rank_stops_all);
    tcase_add_test(tc, test_checkpoint_resumes_on_one_rank);
    tcase_add_test(tc, test_agree);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    /* rank 0 prints the summary that the test count reads; the others only their failures */
    srunner_run_all(sr, g_rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    if (g_rank != 0) {
        TestResult **r = srunner_failures(sr);
        for (int i = 0; i < failed; i++)
            printf("rank %d: %s:%d: %s: %s\n", g_rank, tr_lfile(r[i]), tr_lno(r[i]),
                   tr_tcname(r[i]), tr_msg(r[i]));
        free(r);
    }
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (g_rank == 0 && any && !failed)
        printf("another rank failed (see above)\n");
    srunner_free(sr);
    clnn_mpi_finalize();
    return any ? EXIT_FAILURE : EXIT_SUCCESS;
}
