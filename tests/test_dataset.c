/* test_dataset.c — the "dataset" check suite: the data set iterator over in-memory features
 * and labels (deterministic shuffling, every sample once per epoch, partial last batch,
 * drop_last, one-hot, normalisation, bad options with their messages, validation split). The
 * IDX and CSV readers that feed it are checked in test_data.c. No files and no OpenCL: nothing
 * here touches a device. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "test_util.h"

/* ---- data sets ------------------------------------------------------------------------------ */
enum { N = 10, F = 3 };

/* features[i] = {i, 10 i, 100 i}; labels[i] = i % 4 */
static void make_data(float *x, int32_t *y, int n)
{
    for (int i = 0; i < n; i++) {
        x[i * F] = (float)i;
        x[i * F + 1] = 10.0f * i;
        x[i * F + 2] = 100.0f * i;
        y[i] = i % 4;
    }
}

static clnn_dataset *make_ds(const float *x, const int32_t *y, int n, const clnn_dataset_options *o)
{
    char err[512] = "stale";
    clnn_dataset *ds = NULL;
    clnn_status st = clnn_dataset_create(x, 2, (const int64_t[]){n, F}, y, o, &ds, err, sizeof err);
    ck_assert_msg(st == CLNN_OK, "clnn_dataset_create: got %s: %s", clnn_status_name(st), err);
    ck_assert_str_eq(err, "");
    return ds;
}

/* Runs one epoch; writes the sample order into order[] and the batch sizes into sizes[];
 * returns the number of batches. Checks that features and labels match their samples. */
static int run_epoch(clnn_dataset *ds, int64_t *order, int64_t *sizes, const float *x,
                     const int32_t *y)
{
    clnn_batch b;
    int nb = 0, k = 0;
    int64_t epoch = -1;
    for (;;) {
        EXPECT_ST(NULL, clnn_dataset_next(ds, &b), CLNN_OK);
        if (b.size == 0)
            break;
        if (epoch < 0)
            epoch = b.epoch;
        ck_assert_int_eq(b.epoch, epoch);
        ck_assert_int_eq(b.index, nb);
        ck_assert_uint_eq(b.x_bytes, (size_t)b.size * F * sizeof(float));
        for (int64_t s = 0; s < b.size; s++) {
            int64_t id = b.samples[s];
            order[k++] = id;
            for (int f = 0; f < F; f++)
                ck_assert_msg(b.x[s * F + f] == x[id * F + f], "sample %lld feature %d",
                              (long long)id, f);
            if (y)
                ck_assert_int_eq(b.y[s], y[id]);
        }
        sizes[nb++] = b.size;
    }
    ck_assert_int_eq(k, clnn_dataset_size(ds));
    return nb;
}

static void expect_each_once(const int64_t *order, int n, int total)
{
    int seen[64] = {0};
    for (int i = 0; i < n; i++) {
        ck_assert_msg(order[i] >= 0 && order[i] < total, "sample %lld out of range",
                      (long long)order[i]);
        seen[order[i]]++;
    }
    for (int i = 0; i < n; i++)
        ck_assert_msg(seen[order[i]] == 1, "sample %lld seen %d times in one epoch",
                      (long long)order[i], seen[order[i]]);
}

START_TEST(test_dataset_shuffle)
{
    float x[N * F];
    int32_t y[N];
    make_data(x, y, N);
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    ck_assert_int_eq(o.batch_size, 32);
    ck_assert_int_eq(o.shuffle, 1);
    ck_assert_int_eq(o.drop_last, 0);
    o.batch_size = 4;
    o.seed = 42;
    clnn_dataset *a = make_ds(x, y, N, &o), *b = make_ds(x, y, N, &o);
    o.seed = 43;
    clnn_dataset *c = make_ds(x, y, N, &o);
    int64_t oa[3][N], ob[3][N], oc[N], sizes[8];
    for (int e = 0; e < 3; e++) {
        ck_assert_int_eq(run_epoch(a, oa[e], sizes, x, y), 3);
        ck_assert_int_eq(sizes[0], 4);
        ck_assert_int_eq(sizes[2], 2); /* the last partial batch is kept by default */
        run_epoch(b, ob[e], sizes, x, y);
        expect_each_once(oa[e], N, N);
        ck_assert_msg(memcmp(oa[e], ob[e], sizeof oa[e]) == 0, "same seed, epoch %d: orders differ",
                      e);
    }
    ck_assert_msg(memcmp(oa[0], oa[1], sizeof oa[0]) != 0, "epochs 0 and 1 have the same order");
    ck_assert_msg(memcmp(oa[1], oa[2], sizeof oa[0]) != 0, "epochs 1 and 2 have the same order");
    run_epoch(c, oc, sizes, x, y);
    ck_assert_msg(memcmp(oa[0], oc, sizeof oc) != 0, "seeds 42 and 43 give the same order");
    /* the order depends on (seed, epoch) only: rewinding to epoch 1 repeats it */
    int64_t again[N];
    EXPECT_ST(NULL, clnn_dataset_rewind(a, 1), CLNN_OK);
    run_epoch(a, again, sizes, x, y);
    ck_assert(memcmp(again, oa[1], sizeof again) == 0);
    EXPECT_ST(NULL, clnn_dataset_rewind(a, -1), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_dataset_last_error(a), "given -1");
    /* no shuffle: source order */
    o.shuffle = 0;
    clnn_dataset *d = make_ds(x, y, N, &o);
    run_epoch(d, oc, sizes, x, y);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(oc[i], i);
    clnn_dataset_destroy(a);
    clnn_dataset_destroy(b);
    clnn_dataset_destroy(c);
    clnn_dataset_destroy(d);
    clnn_dataset_destroy(NULL);
}
END_TEST

START_TEST(test_dataset_batches)
{
    float x[N * F];
    int32_t y[N];
    make_data(x, y, N);
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    o.batch_size = 4;
    o.drop_last = 1;
    clnn_dataset *ds = make_ds(x, y, N, &o);
    ck_assert_int_eq(clnn_dataset_batches(ds), 2);
    ck_assert_int_eq(clnn_dataset_sample_numel(ds), F);
    ck_assert_int_eq(clnn_dataset_num_classes(ds), 4);
    int64_t order[N], sizes[4];
    clnn_batch b;
    for (int e = 0; e < 2; e++) {
        int nb = 0, k = 0;
        while (clnn_dataset_next(ds, &b) == CLNN_OK && b.size > 0) {
            ck_assert_int_eq(b.size, 4);
            for (int s = 0; s < 4; s++)
                order[k++] = b.samples[s];
            nb++;
        }
        ck_assert_int_eq(nb, 2);
        expect_each_once(order, 8, N);
    }
    clnn_dataset_destroy(ds);
    /* a batch larger than the data set: one batch of everything */
    o.batch_size = 64;
    o.drop_last = 0;
    ds = make_ds(x, y, N, &o);
    ck_assert_int_eq(run_epoch(ds, order, sizes, x, y), 1);
    ck_assert_int_eq(sizes[0], N);
    clnn_dataset_destroy(ds);
    /* batch_size divides N: no empty last batch */
    o.batch_size = 5;
    ds = make_ds(x, NULL, N, &o);
    ck_assert_int_eq(run_epoch(ds, order, sizes, x, NULL), 2);
    ck_assert_int_eq(clnn_dataset_num_classes(ds), 0);
    EXPECT_ST(NULL, clnn_dataset_next(ds, &b), CLNN_OK);
    ck_assert_ptr_null(b.y);
    ck_assert_ptr_null(b.y_one_hot);
    EXPECT_ST(NULL, clnn_dataset_next(ds, NULL), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_dataset_last_error(ds), "batch pointer");
    clnn_dataset_destroy(ds);
}
END_TEST

START_TEST(test_dataset_one_hot_and_normalise)
{
    float x[N * F];
    int32_t y[N];
    make_data(x, y, N);
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    o.batch_size = 3;
    o.shuffle = 0;
    o.one_hot = 1;
    o.num_classes = 5;
    o.scale = 0.5f;
    o.mean = 1.0f;
    o.std = 2.0f;
    clnn_dataset *ds = make_ds(x, y, N, &o);
    clnn_batch b;
    int64_t seen = 0;
    while (clnn_dataset_next(ds, &b) == CLNN_OK && b.size > 0) {
        ck_assert_uint_eq(b.y_one_hot_bytes, (size_t)b.size * 5 * sizeof(float));
        ck_assert_uint_eq(b.y_bytes, (size_t)b.size * sizeof(int32_t));
        for (int64_t s = 0; s < b.size; s++) {
            int64_t id = b.samples[s];
            for (int c = 0; c < 5; c++)
                ck_assert_msg(b.y_one_hot[s * 5 + c] == (c == y[id] ? 1.0f : 0.0f),
                              "sample %lld class %d", (long long)id, c);
            for (int f = 0; f < F; f++) {
                float want = (x[id * F + f] * 0.5f - 1.0f) / 2.0f;
                ck_assert_msg(fabsf(b.x[s * F + f] - want) <= 1e-6f * fabsf(want) + 1e-7f,
                              "sample %lld feature %d: got %g, expected %g", (long long)id, f,
                              (double)b.x[s * F + f], (double)want);
            }
            seen++;
        }
    }
    ck_assert_int_eq(seen, N);
    clnn_dataset_destroy(ds);
    /* per-feature mean and std (copied: the caller's arrays may change afterwards) */
    float mean[F] = {1, 2, 3}, std[F] = {1, 4, 10};
    o.one_hot = 0;
    o.scale = 1.0f;
    o.feature_mean = mean;
    o.feature_std = std;
    ds = make_ds(x, y, N, &o);
    mean[0] = 99;
    EXPECT_ST(NULL, clnn_dataset_next(ds, &b), CLNN_OK);
    for (int64_t s = 0; s < b.size; s++)
        for (int f = 0; f < F; f++) {
            float m = f == 0 ? 1.0f : f == 1 ? 2.0f : 3.0f;
            float want = (x[b.samples[s] * F + f] - m) / std[f];
            ck_assert_msg(fabsf(b.x[s * F + f] - want) <= 1e-5f, "feature %d: got %g, expected %g",
                          f, (double)b.x[s * F + f], (double)want);
        }
    clnn_dataset_destroy(ds);
}
END_TEST

START_TEST(test_dataset_errors)
{
    float x[N * F];
    int32_t y[N];
    make_data(x, y, N);
    char err[512];
    clnn_dataset *ds = NULL;
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    o.num_classes = 3; /* label 3 is out of range */
    EXPECT_ST(NULL, clnn_dataset_create(x, 2, (const int64_t[]){N, F}, y, &o, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "expected labels in 0..2, given 3 at sample 3");
    ck_assert_ptr_null(ds);
    clnn_dataset_options_init(&o);
    o.batch_size = 0;
    EXPECT_ST(NULL, clnn_dataset_create(x, 2, (const int64_t[]){N, F}, y, &o, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "batch_size >= 1, given 0");
    clnn_dataset_options_init(&o);
    o.std = 0;
    EXPECT_ST(NULL, clnn_dataset_create(x, 2, (const int64_t[]){N, F}, y, &o, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "non-zero std");
    clnn_dataset_options_init(&o);
    o.one_hot = 1;
    EXPECT_ST(NULL,
              clnn_dataset_create(x, 2, (const int64_t[]){N, F}, NULL, &o, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "one_hot needs labels");
    EXPECT_ST(NULL,
              clnn_dataset_create(x, 2, (const int64_t[]){0, F}, y, NULL, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "shape[0] >= 1, given 0");
    EXPECT_ST(NULL,
              clnn_dataset_create(NULL, 2, (const int64_t[]){N, F}, y, NULL, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "NULL features");
    y[7] = -1;
    EXPECT_ST(NULL,
              clnn_dataset_create(x, 2, (const int64_t[]){N, F}, y, NULL, &ds, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "given -1 at sample 7");
    ck_assert_ptr_null(ds);
}
END_TEST

START_TEST(test_dataset_split)
{
    enum { M = 40 };
    float x[M * F];
    int32_t y[M];
    make_data(x, y, M);
    clnn_dataset_options o;
    clnn_dataset_options_init(&o);
    o.batch_size = 8;
    o.drop_last = 1;
    clnn_dataset *ds = make_ds(x, y, M, &o);
    clnn_dataset *tr, *va, *tr2, *va2, *tr3, *va3;
    EXPECT_ST(NULL, clnn_dataset_split(ds, 0.26, 7, &tr, &va), CLNN_OK);
    EXPECT_ST(NULL, clnn_dataset_split(ds, 0.26, 7, &tr2, &va2), CLNN_OK);
    EXPECT_ST(NULL, clnn_dataset_split(ds, 0.26, 8, &tr3, &va3), CLNN_OK);
    ck_assert_int_eq(clnn_dataset_size(va), 10); /* round(0.26 * 40) */
    ck_assert_int_eq(clnn_dataset_size(tr), 30);
    clnn_dataset_destroy(ds); /* the parts outlive their parent */
    int64_t ov[M], ot[M], ov2[M], ov3[M], sizes[8];
    /* val: no shuffle, every sample (drop_last off), source order */
    ck_assert_int_eq(run_epoch(va, ov, sizes, x, y), 2);
    ck_assert_int_eq(sizes[1], 2);
    for (int i = 1; i < 10; i++)
        ck_assert_int_gt(ov[i], ov[i - 1]);
    /* train keeps the options: shuffled, drop_last (30 / 8 = 3 batches) */
    clnn_batch b;
    int k = 0, nb = 0;
    while (clnn_dataset_next(tr, &b) == CLNN_OK && b.size > 0) {
        for (int s = 0; s < b.size; s++)
            ot[k++] = b.samples[s];
        nb++;
    }
    ck_assert_int_eq(nb, 3);
    ck_assert_int_eq(k, 24);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < 10; j++)
            ck_assert_msg(ot[i] != ov[j], "sample %lld is in both parts", (long long)ot[i]);
    /* disjoint, and together every sample once: the split depends on the seed alone, so a
     * parent without drop_last gives the same parts and its train part shows all 30 ids */
    int64_t all[M];
    memcpy(all, ov, 10 * sizeof *ov);
    k = 10;
    clnn_dataset_options_init(&o);
    clnn_dataset *p = make_ds(x, y, M, &o);
    clnn_dataset *tr4, *va4;
    EXPECT_ST(NULL, clnn_dataset_split(p, 0.26, 7, &tr4, &va4), CLNN_OK);
    run_epoch(tr4, all + 10, sizes, x, y);
    k += (int)clnn_dataset_size(tr4);
    ck_assert_int_eq(k, M);
    expect_each_once(all, M, M);
    /* same seed same split, another seed another split */
    run_epoch(va2, ov2, sizes, x, y);
    run_epoch(va3, ov3, sizes, x, y);
    ck_assert(memcmp(ov, ov2, 10 * sizeof *ov) == 0);
    ck_assert(memcmp(ov, ov3, 10 * sizeof *ov) != 0);
    /* bad fractions */
    clnn_dataset *bad_tr, *bad_va;
    EXPECT_ST(NULL, clnn_dataset_split(p, 0.0, 1, &bad_tr, &bad_va), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_dataset_last_error(p), "fraction in (0, 1)");
    EXPECT_ST(NULL, clnn_dataset_split(p, 0.001, 1, &bad_tr, &bad_va), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(clnn_dataset_last_error(p), "(0 for validation)");
    EXPECT_ST(NULL, clnn_dataset_split(p, 1.0, 1, &bad_tr, &bad_va), CLNN_ERR_INVALID);
    ck_assert_ptr_null(bad_tr);
    ck_assert_ptr_null(bad_va);
    EXPECT_ST(NULL, clnn_dataset_split(p, NAN, 1, &bad_tr, &bad_va), CLNN_ERR_INVALID);
    clnn_dataset_destroy(p);
    clnn_dataset_destroy(tr4);
    clnn_dataset_destroy(va4);
    clnn_dataset_destroy(tr);
    clnn_dataset_destroy(va);
    clnn_dataset_destroy(tr2);
    clnn_dataset_destroy(va2);
    clnn_dataset_destroy(tr3);
    clnn_dataset_destroy(va3);
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, test_dataset_shuffle);
    tcase_add_test(tc, test_dataset_batches);
    tcase_add_test(tc, test_dataset_one_hot_and_normalise);
    tcase_add_test(tc, test_dataset_errors);
    tcase_add_test(tc, test_dataset_split);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(dataset_suite());
}
