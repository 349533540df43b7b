/* test_lifetime.c — leaks and lifetimes (issue 8): the OpenCL objects the library holds
 * (clnn_live_objects_get) return to their level after graphs and models of every kind are made,
 * trained, saved, loaded and destroyed many times, and to zero after the context is destroyed;
 * contexts made and destroyed in a loop leave nothing; destroy functions accept NULL; and the
 * thread-safety contract of clnn.h ("different contexts may be used from different threads at
 * once") holds: two threads training the same model, each in its own context, get the same
 * results as one thread, bit for bit; running out of device memory leaves nothing behind either:
 * a model whose training graph needs more than the device has (clnn_model_fit), and the device
 * failing a buffer, a copy or a kernel with CL_MEM_OBJECT_ALLOCATION_FAILURE or CL_OUT_OF_RESOURCES
 * (injected by this program's own definitions of those OpenCL calls). Host memory leaks are the
 * sanitizer build's job (tools/run-tests --sanitize: LeakSanitizer). Each test makes its own
 * contexts (check forks). */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <CL/cl.h>
#include <check.h>
#include <dlfcn.h>
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

/* ---- device memory exhausted ---- */
static void expect_live(clnn_live_objects want, const char *when)
{
    clnn_live_objects now = live();
    ck_assert_msg(
        now.buffers == want.buffers && now.kernels == want.kernels && now.programs == want.programs,
        "%s: live OpenCL objects got %ld buffers, %ld kernels, %ld programs, expected "
        "%ld, %ld, %ld",
        when, now.buffers, now.kernels, now.programs, want.buffers, want.kernels, want.programs);
}

static uint64_t device_bytes(const clnn_ctx *ctx)
{
    clnn_ctx_stats s;
    EXPECT_ST(ctx, clnn_ctx_stats_get(ctx, &s), CLNN_OK);
    return s.device_bytes_allocated;
}

/* x (1) -> Dense(units) -> nact activations -> softmax; Adam, sparse categorical cross-entropy. */
static clnn_model *wide_model(clnn_ctx *ctx, int units, int nact)
{
    clnn_model *m = NULL;
    EXPECT_ST(ctx, clnn_model_create(ctx, NULL, &m), CLNN_OK);
    clnn_model_input(m, "x", 1, (int64_t[]){1});
    clnn_layer_spec d = clnn_layer_dense(units, CLNN_ACT_NONE);
    clnn_model_push(m, &d);
    static const clnn_activation acts[] = {CLNN_ACT_RELU, CLNN_ACT_TANH, CLNN_ACT_SIGMOID};
    for (int i = 0; i < nact; i++) {
        clnn_layer_spec a = clnn_layer_activation(acts[i % 3], 0);
        clnn_model_push(m, &a);
    }
    clnn_layer_spec sm = clnn_layer_activation(CLNN_ACT_SOFTMAX, 0);
    clnn_model_push(m, &sm);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    ck_assert_msg(clnn_model_status(m) == CLNN_OK && clnn_model_compile(m, &c) == CLNN_OK,
                  "the wide model: %s", clnn_model_last_error(m));
    return m;
}

/* A model built with the public API whose training graph, at the batch size asked, needs more
 * than the device's memory (CL_DEVICE_GLOBAL_MEM_SIZE) while each of its buffers fits in one
 * allocation: clnn_model_fit answers CLNN_ERR_DEVICE_MEMORY with what the plan needs and what the
 * device has, before any large buffer exists; no buffer is left behind; the same model then
 * trains with a small batch and the context computes; destroyed, everything is released. */
START_TEST(test_fit_out_of_device_memory)
{
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_device_info info;
    EXPECT_ST(ctx, clnn_ctx_device_info(ctx, &info), CLNN_OK);
    const int units = 1 << 16;
    uint64_t cap = info.max_alloc_bytes < info.global_mem_bytes / 2 ? info.max_alloc_bytes
                                                                    : info.global_mem_bytes / 2;
    int64_t batch = (int64_t)(cap / 10 * 9 / 4 / (uint64_t)units); /* (batch, units): 90% of cap */
    uint64_t per = (uint64_t)batch * units * 4;
    int nact = (int)(info.global_mem_bytes / per) + 2; /* backward keeps every activation */
    ck_assert_int_ge(batch, 8);
    ck_assert_int_le(nact, 64);
    float *x = malloc((size_t)batch * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    ck_assert(x && y);
    for (int64_t i = 0; i < batch; i++) {
        x[i] = (float)(i % 7) / 7.0f;
        y[i] = (int32_t)(i % units);
    }
    clnn_data d = {x, batch, 1, {1}, y, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.verbose = 0;
    f.shuffle = 0;

    /* warm-up: the programs of a small fit are built (and stay) before counting */
    clnn_model *m = wide_model(ctx, units, nact);
    clnn_data small = {x, 8, 1, {1}, y, NULL};
    f.batch_size = 4;
    EXPECT_ST(ctx, clnn_model_fit(m, &small, &f), CLNN_OK);
    clnn_model_destroy(m);
    clnn_live_objects start = live();

    m = wide_model(ctx, units, nact);
    clnn_live_objects before = live();
    uint64_t base = device_bytes(ctx);
    f.batch_size = batch;
    for (int attempt = 0; attempt < 2; attempt++) {
        EXPECT_ST(ctx, clnn_model_fit(m, &d, &f), CLNN_ERR_DEVICE_MEMORY);
        const char *msg = clnn_ctx_last_error(ctx);
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)info.global_mem_bytes);
        EXPECT_CONTAINS(msg, num);
        EXPECT_CONTAINS(msg, "CL_DEVICE_GLOBAL_MEM_SIZE");
        EXPECT_CONTAINS(msg, info.name);
        expect_live(before, "after the refused fit");
        ck_assert_msg(device_bytes(ctx) == base,
                      "attempt %d: %llu device bytes held after the refused fit, %llu before",
                      attempt, (unsigned long long)device_bytes(ctx), (unsigned long long)base);
    }
    ck_assert_int_eq(clnn_model_status(m), CLNN_OK);
    /* the same model trains with a batch that fits */
    f.batch_size = 4;
    EXPECT_ST(ctx, clnn_model_fit(m, &small, &f), CLNN_OK);
    double loss = clnn_history_get(clnn_model_history(m), "loss", 0);
    ck_assert_msg(isfinite(loss) && loss > 0, "loss after the refused fit: %g", loss);
    clnn_model_destroy(m);
    expect_live(start, "after destroying the model");
    ck_assert_msg(device_bytes(ctx) == 0, "device bytes at the end: %llu",
                  (unsigned long long)device_bytes(ctx));
    free(x);
    free(y);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* Failures a real device gives when its memory runs out during a run (POCL never does): this
 * program's definitions of three OpenCL entry points take precedence over the ICD loader's for
 * the library (the dynamic linker finds the executable's symbols first) and pass every call on,
 * except the next one of the kind armed, which fails with the code armed. */
enum { INJECT_NONE, INJECT_KERNEL, INJECT_WRITE, INJECT_BUFFER };
static int inject_at = INJECT_NONE;
static cl_int inject_code;

static int injected(int where)
{
    if (inject_at != where)
        return 0;
    inject_at = INJECT_NONE;
    return 1;
}

typedef cl_int (*enqueue_kernel_fn)(cl_command_queue, cl_kernel, cl_uint, const size_t *,
                                    const size_t *, const size_t *, cl_uint, const cl_event *,
                                    cl_event *);
cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims, const size_t *offset,
                              const size_t *global, const size_t *local, cl_uint nwait,
                              const cl_event *wait, cl_event *event)
{
    if (injected(INJECT_KERNEL))
        return inject_code;
    enqueue_kernel_fn real = (enqueue_kernel_fn)dlsym(RTLD_NEXT, "clEnqueueNDRangeKernel");
    return real(q, k, dims, offset, global, local, nwait, wait, event);
}

typedef cl_int (*enqueue_write_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *,
                                   cl_uint, const cl_event *, cl_event *);
cl_int clEnqueueWriteBuffer(cl_command_queue q, cl_mem mem, cl_bool blocking, size_t offset,
                            size_t size, const void *ptr, cl_uint nwait, const cl_event *wait,
                            cl_event *event)
{
    if (injected(INJECT_WRITE))
        return inject_code;
    enqueue_write_fn real = (enqueue_write_fn)dlsym(RTLD_NEXT, "clEnqueueWriteBuffer");
    return real(q, mem, blocking, offset, size, ptr, nwait, wait, event);
}

typedef cl_mem (*create_buffer_fn)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
cl_mem clCreateBuffer(cl_context c, cl_mem_flags flags, size_t size, void *host, cl_int *err)
{
    if (injected(INJECT_BUFFER)) {
        if (err)
            *err = inject_code;
        return NULL;
    }
    create_buffer_fn real = (create_buffer_fn)dlsym(RTLD_NEXT, "clCreateBuffer");
    return real(c, flags, size, host, err);
}

/* The device runs out of memory at enqueue time or when a buffer is made, although clnn's own
 * checks passed: CL_MEM_OBJECT_ALLOCATION_FAILURE and CL_OUT_OF_RESOURCES become
 * CLNN_ERR_DEVICE_MEMORY with the code and the call named (the raw code kept), nothing leaks, and
 * the same graph then runs and gives the right values. */
START_TEST(test_device_memory_at_enqueue)
{
    static const cl_int codes[] = {CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES};
    static const char *const names[] = {"CL_MEM_OBJECT_ALLOCATION_FAILURE", "CL_OUT_OF_RESOURCES"};
    clnn_ctx *ctx = test_ctx(NULL);
    clnn_graph *g = NULL;
    EXPECT_ST(ctx, clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *a = clnn_input(g, "a", 1, (int64_t[]){4}),
                *b = clnn_input(g, "b", 1, (int64_t[]){4});
    clnn_tensor *y = clnn_relu(g, clnn_add(g, a, b));
    const float va[4] = {1, -2, 3, -4}, vb[4] = {1, 1, 1, 1}, want[4] = {2, 0, 4, 0};
    EXPECT_ST(ctx, clnn_tensor_write(a, va, sizeof va), CLNN_OK);
    EXPECT_ST(ctx, clnn_tensor_write(b, vb, sizeof vb), CLNN_OK);
    EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK); /* planned, kernels made */
    inject_code = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    inject_at = INJECT_BUFFER;
    clnn_tensor *probe = NULL;
    clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){1}, &probe);
    ck_assert_msg(probe == NULL && inject_at == INJECT_NONE,
                  "the library's OpenCL calls do not reach this program's definitions (is "
                  "test_lifetime linked with export_dynamic?)");
    clnn_live_objects before = live();
    const uint64_t bytes = device_bytes(ctx);
    for (int c = 0; c < 2; c++) {
        float out[4] = {0};
        inject_code = codes[c];
        inject_at = INJECT_KERNEL;
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_ERR_DEVICE_MEMORY);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), names[c]);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clEnqueueNDRangeKernel");
        ck_assert_int_eq(clnn_ctx_last_raw_code(ctx), codes[c]);
        clnn_live_objects now = live(); /* the failed node's kernel is made again next run */
        ck_assert_msg(now.buffers == before.buffers && now.kernels <= before.kernels &&
                          now.programs == before.programs,
                      "after a failed enqueue: %ld buffers, %ld kernels, %ld programs; before "
                      "%ld, %ld, %ld",
                      now.buffers, now.kernels, now.programs, before.buffers, before.kernels,
                      before.programs);

        inject_at = INJECT_WRITE;
        EXPECT_ST(ctx, clnn_tensor_write(a, va, sizeof va), CLNN_ERR_DEVICE_MEMORY);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clEnqueueWriteBuffer");
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), names[c]);

        inject_at = INJECT_BUFFER;
        clnn_tensor *t = NULL;
        EXPECT_ST(ctx, clnn_tensor_create(ctx, CLNN_F32, 1, (int64_t[]){64}, &t),
                  CLNN_ERR_DEVICE_MEMORY);
        ck_assert_ptr_null(t);
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), "clCreateBuffer");
        EXPECT_CONTAINS(clnn_ctx_last_error(ctx), names[c]);
        ck_assert_int_eq(live().buffers, before.buffers);
        ck_assert_int_eq(device_bytes(ctx), bytes);

        /* nothing armed: the same graph runs again */
        EXPECT_ST(ctx, clnn_tensor_write(a, va, sizeof va), CLNN_OK);
        EXPECT_ST(ctx, clnn_graph_run(g), CLNN_OK);
        EXPECT_ST(ctx, clnn_tensor_read(y, out, sizeof out), CLNN_OK);
        ck_assert_msg(!memcmp(out, want, sizeof want), "after %s: got %g %g %g %g", names[c],
                      (double)out[0], (double)out[1], (double)out[2], (double)out[3]);
        expect_live(before, "after the next run");
    }
    clnn_graph_destroy(g);
    ck_assert_int_eq(device_bytes(ctx), 0);
    clnn_ctx_destroy(ctx);
    clnn_live_objects end = live();
    ck_assert_int_eq(end.buffers, 0);
    ck_assert_int_eq(end.kernels, 0);
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
    tcase_add_test(tc, test_fit_out_of_device_memory);
    tcase_add_test(tc, test_device_memory_at_enqueue);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(lifetime_suite());
}
