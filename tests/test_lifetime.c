/* test_lifetime.c — leaks and lifetimes (issue 8): the OpenCL objects the library holds
 * (clnn_live_objects_get) return to their level after graphs and models of every kind are made,
 * trained, saved, loaded and destroyed many times, and to zero after the context is destroyed;
 * contexts made and destroyed in a loop leave nothing; destroy functions accept NULL; and the
 * thread-safety contract of clnn.h ("different contexts may be used from different threads at
 * once") holds: two threads training the same model, each in its own context, get the same
 * results as one thread, bit for bit. Host memory leaks are the sanitizer build's job
 * (tools/run-tests --sanitize: LeakSanitizer). Each test makes its own contexts (check forks). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"

static clnn_live_objects live(void)
{
    clnn_live_objects o;
    clnn_live_objects_get(&o);
    return o;
}

/* A small CNN + LSTM-free model, trained for one epoch on fixed data; its final weights' sum
 * and the last loss go to out[0], out[1]. */
static clnn_status train_small(clnn_ctx *ctx, int with_rnn, double out[2])
{
    clnn_model *m = NULL;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = 5;
    clnn_status st = clnn_model_create(ctx, &mo, &m);
    if (st)
        return st;
    enum { N = 12 };
    static float x[N * 64];
    static int32_t y[N];
    for (int i = 0; i < N * 64; i++)
        x[i] = (float)((i * 37) % 17) / 17.0f;
    for (int i = 0; i < N; i++)
        y[i] = i % 3;
    clnn_data d = {x, N, 3, {1, 8, 8}, y, NULL};
    if (with_rnn) {
        /* the 8x8 image as a sequence of 8 rows of 8 */
        clnn_model_input(m, "x", 2, (int64_t[]){8, 8});
        clnn_layer_spec r = clnn_layer_gru(6, 1), o = clnn_layer_dense(3, CLNN_ACT_SOFTMAX);
        clnn_model_push(m, &r);
        clnn_model_push(m, &o);
        d.ndim = 2;
        d.shape[0] = 8;
        d.shape[1] = 8;
    } else {
        clnn_model_input(m, "x", 3, (int64_t[]){1, 8, 8});
        clnn_layer_spec l[] = {clnn_layer_conv2d(4, 3, 3, CLNN_ACT_RELU),
                               clnn_layer_maxpool2d(2, 2),
                               clnn_layer_batchnorm(),
                               clnn_layer_dropout(0.25f),
                               clnn_layer_flatten(),
                               clnn_layer_dense(3, CLNN_ACT_SOFTMAX)};
        for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
            clnn_model_push(m, &l[i]);
    }
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    c.metrics = CLNN_METRIC_ACCURACY;
    st = clnn_model_status(m);
    if (!st)
        st = clnn_model_compile(m, &c);
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.verbose = 0;
    f.batch_size = 5; /* a partial batch too: two training graphs */
    f.epochs = 2;
    f.validation_split = 0.25;
    if (!st)
        st = clnn_model_fit(m, &d, &f);
    float pred[N * 3];
    if (!st)
        st = clnn_model_predict(m, x, N, 4, pred, N * 3);
    double sum = 0;
    for (int i = 0; !st && i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        int64_t n = clnn_tensor_numel(t);
        float *h = malloc((size_t)n * sizeof *h);
        st = h ? clnn_tensor_read(t, h, (size_t)n * sizeof *h) : CLNN_ERR_NOMEM;
        for (int64_t k = 0; !st && k < n; k++)
            sum += h[k];
        free(h);
    }
    if (!st && out) {
        out[0] = sum;
        out[1] = clnn_history_get(clnn_model_history(m), "loss", 1);
    }
    clnn_model_destroy(m);
    return st;
}

START_TEST(test_models_leave_nothing)
{
    clnn_live_objects before = live();
    clnn_ctx *ctx = test_ctx(NULL);
    ck_assert_int_eq(train_small(ctx, 0, NULL), CLNN_OK); /* programs built once */
    ck_assert_int_eq(train_small(ctx, 1, NULL), CLNN_OK);
    clnn_live_objects warm = live();
    ck_assert_int_eq(warm.buffers, before.buffers);
    ck_assert_int_eq(warm.kernels, before.kernels);
    char dir[] = "/tmp/clnn-lifetime-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.st", dir);
    for (int r = 0; r < 6; r++) {
        ck_assert_int_eq(train_small(ctx, r % 2, NULL), CLNN_OK);
        /* save, load, predict, destroy */
        clnn_model *m = NULL;
        ck_assert_int_eq(clnn_model_create(ctx, NULL, &m), CLNN_OK);
        clnn_model_input(m, "x", 1, (int64_t[]){4});
        clnn_layer_spec l = clnn_layer_dense(2, CLNN_ACT_RELU);
        clnn_model_push(m, &l);
        EXPECT_ST(ctx, clnn_model_save(m, path), CLNN_OK);
        clnn_model *m2 = NULL;
        EXPECT_ST(ctx, clnn_model_load(ctx, path, &m2), CLNN_OK);
        float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4];
        EXPECT_ST(ctx, clnn_model_predict(m2, x, 2, 2, y, 4), CLNN_OK);
        clnn_model_destroy(m2);
        clnn_model_destroy(m);
        /* a bare graph with a backward pass */
        clnn_graph *g = NULL;
        ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
        clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){3, 4});
        clnn_tensor *w = clnn_param(g, "w", 2, (int64_t[]){4, 5});
        clnn_tensor *loss = clnn_mean(g, clnn_relu(g, clnn_matmul(g, a, w, 0, 0)), 0, NULL, 0);
        EXPECT_ST(ctx, clnn_graph_backward(g, loss), CLNN_OK);
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
        clnn_graph_destroy(g);
        clnn_live_objects now = live();
        ck_assert_msg(now.buffers == warm.buffers && now.kernels == warm.kernels &&
                          now.programs <= warm.programs + 2,
                      "round %d: buffers %ld (expected %ld), kernels %ld (expected %ld), programs "
                      "%ld (%ld after warm-up)",
                      r, now.buffers, warm.buffers, now.kernels, warm.kernels, now.programs,
                      warm.programs);
    }
    unlink(path);
    rmdir(dir);
    clnn_ctx_destroy(ctx);
    clnn_live_objects end = live();
    ck_assert_int_eq(end.buffers, before.buffers);
    ck_assert_int_eq(end.kernels, before.kernels);
    ck_assert_int_eq(end.programs, before.programs);
}
END_TEST

START_TEST(test_contexts_in_a_loop)
{
    clnn_live_objects before = live();
    for (int i = 0; i < 5; i++) {
        clnn_ctx *ctx = test_ctx(NULL);
        ck_assert_int_eq(clnn_ctx_build_all(ctx), CLNN_OK);
        clnn_tensor *t = NULL;
        ck_assert_int_eq(clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){16}, &t), CLNN_OK);
        clnn_tensor_destroy(t);
        clnn_ctx_destroy(ctx);
        clnn_live_objects now = live();
        ck_assert_int_eq(now.buffers, before.buffers);
        ck_assert_int_eq(now.kernels, before.kernels);
        ck_assert_int_eq(now.programs, before.programs);
    }
    /* every destroy function accepts NULL */
    clnn_ctx_destroy(NULL);
    clnn_graph_destroy(NULL);
    clnn_tensor_destroy(NULL);
    clnn_model_destroy(NULL);
    clnn_optimizer_destroy(NULL);
    clnn_idx_destroy(NULL);
    clnn_csv_destroy(NULL);
    clnn_dataset_destroy(NULL);
    clnn_safetensors_destroy(NULL);
    clnn_vocab_destroy(NULL);
    clnn_text_set_destroy(NULL);
    clnn_live_objects_get(NULL);
}
END_TEST

/* ---- threads: one context each ---- */
typedef struct job {
    int with_rnn;
    double out[2];
    clnn_status st;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    clnn_ctx *ctx = NULL;
    j->st = clnn_ctx_create(&ctx, NULL);
    if (!j->st)
        j->st = train_small(ctx, j->with_rnn, j->out);
    clnn_ctx_destroy(ctx);
    return NULL;
}

START_TEST(test_threads_with_own_contexts)
{
    job alone[2] = {{0, {0}, 0}, {1, {0}, 0}};
    run_job(&alone[0]);
    run_job(&alone[1]);
    ck_assert_int_eq(alone[0].st, CLNN_OK);
    ck_assert_int_eq(alone[1].st, CLNN_OK);
    /* four threads at once: two of each model */
    job jobs[4] = {{0, {0}, 0}, {1, {0}, 0}, {0, {0}, 0}, {1, {0}, 0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, run_job, &jobs[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(jobs[i].st == CLNN_OK, "thread %d: %s", i, clnn_status_name(jobs[i].st));
        const job *ref = &alone[jobs[i].with_rnn];
        ck_assert_msg(memcmp(jobs[i].out, ref->out, sizeof ref->out) == 0,
                      "thread %d: weights sum %.17g loss %.17g, alone %.17g %.17g", i,
                      jobs[i].out[0], jobs[i].out[1], ref->out[0], ref->out[1]);
        ck_assert(isfinite(jobs[i].out[1]));
    }
    clnn_live_objects end = live();
    ck_assert_int_eq(end.buffers, 0);
    ck_assert_int_eq(end.kernels, 0);
    ck_assert_int_eq(end.programs, 0);
}
END_TEST

static Suite *lifetime_suite(void)
{
    Suite *s = suite_create("lifetime");
    TCase *tc = tcase_create("lifetime");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_models_leave_nothing);
    tcase_add_test(tc, test_contexts_in_a_loop);
    tcase_add_test(tc, test_threads_with_own_contexts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(lifetime_suite());
}
