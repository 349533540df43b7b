/* suite_models.c — clnn-bench's `train` and `infer` suites: whole reference models through the
 * model API (clnn_model_fit, clnn_model_predict), the same models as the PyTorch peer
 * (../shared/peers/torch_peers.py): the Keras MNIST CNN (training at batch 64 and 128, inference
 * at 64, 128 and 256) and an MLP 784-512-512-10 (batch 128), both with Adam, on fixed seeded
 * random data. An epoch is one pass over the data (one clnn_model_fit epoch, shuffled, or one
 * clnn_model_predict call); the first epoch is a warm-up that also builds the graphs and kernels.
 * Checked before timing: training, the loss of a few clnn_model_train_on_batch steps on one fixed
 * batch is finite and decreases; inference, every softmax row is finite, in [0, 1] and sums to 1.
 * Reported: samples/s and ms per step (batch), from the median epoch time. Not here: the text LSTM
 * model (it comes with the recurrent layers). */
#include "bench.h"

#define CHECK_STEPS 5    /* train_on_batch steps of the training check */
#define ROW_SUM_TOL 1e-4 /* |sum of a softmax row - 1| */

typedef enum { M_CNN, M_MLP, M_LSTM } model_kind;

/* the text LSTM of torch_peers.py: vocabulary 10,000, embedding 128, 2 x LSTM(128), length 100 */
#define LSTM_VOCAB 10000
#define LSTM_LEN   100

static int classes_of(model_kind k)
{
    return k == M_LSTM ? 2 : 10;
}

typedef struct model_case {
    const char *model; /* the name on the command line */
    model_kind kind;
    int64_t batch;
    int64_t samples, quick_samples; /* per epoch; multiples of the batch */
} model_case;

static const model_case TRAIN_CASES[] = {
    {"mnist-cnn", M_CNN, 64, 1024, 256},
    {"mnist-cnn", M_CNN, 128, 1024, 256},
    {"mlp", M_MLP, 128, 4096, 1024},
    {"text-lstm", M_LSTM, 64, 256, 64},
};
static const model_case INFER_CASES[] = {
    {"mnist-cnn", M_CNN, 64, 2048, 512},  {"mnist-cnn", M_CNN, 128, 2048, 512},
    {"mnist-cnn", M_CNN, 256, 2048, 512}, {"mlp", M_MLP, 128, 8192, 2048},
    {"text-lstm", M_LSTM, 64, 512, 128},
};
#define NTRAIN (int)(sizeof TRAIN_CASES / sizeof *TRAIN_CASES)
#define NINFER (int)(sizeof INFER_CASES / sizeof *INFER_CASES)
_Static_assert(NTRAIN == TRAIN_RESULTS && NINFER == INFER_RESULTS, "see bench.h");

/* 1 when name selects case c: its model name or "model/bN". */
static int case_matches(const model_case *c, const char *name)
{
    char full[40];
    snprintf(full, sizeof full, "%s/b%lld", c->model, (long long)c->batch);
    return !strcmp(name, c->model) || !strcmp(name, full);
}

int models_known(const char *name)
{
    for (int i = 0; i < NTRAIN; i++)
        if (case_matches(&TRAIN_CASES[i], name))
            return 1;
    for (int i = 0; i < NINFER; i++)
        if (case_matches(&INFER_CASES[i], name))
            return 1;
    return 0;
}

static int case_selected(const bench *b, const model_case *c)
{
    if (!b->nmodels)
        return 1;
    for (int i = 0; i < b->nmodels; i++)
        if (case_matches(c, b->models[i]))
            return 1;
    return 0;
}

/* ---- models and data ------------------------------------------------------------------------ */
static const int64_t CNN_SHAPE[3] = {1, 28, 28}, MLP_SHAPE[1] = {784};

/* Builds (and, for training, compiles) the model; NULL on failure (reported). The CNN ends in a
 * softmax with categorical cross-entropy (Keras); the MLP trains on logits with cross-entropy
 * (PyTorch) and infers with a softmax output. */
static clnn_model *model_build(bench *b, const model_case *c, int train)
{
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = 1;
    clnn_model *m = NULL;
    clnn_status st = clnn_model_create(b->ctx, &mo, &m);
    if (st) {
        fail_call(b, "clnn_model_create", st);
        return NULL;
    }
    clnn_layer_spec l[6];
    int nl = 0;
    if (c->kind == M_CNN) {
        clnn_model_input(m, "image", 3, CNN_SHAPE);
        l[nl++] = clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_maxpool2d(2, 2);
        l[nl++] = clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_maxpool2d(2, 2);
        l[nl++] = clnn_layer_flatten();
        l[nl++] = clnn_layer_dense(10, CLNN_ACT_SOFTMAX);
    } else if (c->kind == M_LSTM) {
        /* ids -> Embedding -> LSTM(128, 2 layers; the ids give the lengths) -> Dense(2) */
        int ids = clnn_model_input_i32(m, "ids", 1, (int64_t[]){LSTM_LEN});
        clnn_layer_spec e = clnn_layer_embedding(LSTM_VOCAB, 128), r = clnn_layer_lstm(128, 2),
                        d = clnn_layer_dense(2, train ? CLNN_ACT_NONE : CLNN_ACT_SOFTMAX);
        e.padding_index = 0;
        int he = clnn_model_apply(m, &e, 1, &ids);
        int hr = clnn_model_apply(m, &r, 2, (int[]){he, ids});
        clnn_model_apply(m, &d, 1, &hr);
    } else {
        clnn_model_input(m, "features", 1, MLP_SHAPE);
        l[nl++] = clnn_layer_dense(512, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_dense(512, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_dense(10, train ? CLNN_ACT_NONE : CLNN_ACT_SOFTMAX);
    }
    for (int i = 0; i < nl; i++)
        clnn_model_push(m, &l[i]);
    if (clnn_model_status(m)) {
        fprintf(stderr, "clnn-bench: building %s failed: %s\n", c->model, clnn_model_last_error(m));
        b->failures++;
        clnn_model_destroy(m);
        return NULL;
    }
    if (train) {
        clnn_compile_options co;
        clnn_compile_options_init(
            &co, c->kind == M_CNN ? CLNN_LOSS_CATEGORICAL_CROSSENTROPY : CLNN_LOSS_CROSS_ENTROPY,
            CLNN_OPTIM_ADAM);
        if ((st = clnn_model_compile(m, &co))) {
            fail_call(b, "clnn_model_compile", st);
            clnn_model_destroy(m);
            return NULL;
        }
    }
    return m;
}

typedef struct model_data {
    float *x;
    int32_t *labels;
    clnn_data d;
} model_data;

/* n seeded samples: inputs uniform in [-1, 1] (token ids in [1, 10000): full-length sequences, as
 * the peer's), labels in [0, classes). */
static int data_make(const model_case *c, int64_t n, model_data *md)
{
    const int64_t per = c->kind == M_CNN ? 28 * 28 : c->kind == M_LSTM ? LSTM_LEN : 784;
    *md = (model_data){0};
    md->x = malloc((size_t)(n * per) * sizeof *md->x);
    md->labels = malloc((size_t)n * sizeof *md->labels);
    if (!md->x || !md->labels)
        return -1;
    rng r = {0x5eed0000u + (uint64_t)c->kind};
    rng_fill(&r, md->x, (size_t)(n * per), -1.0f, 1.0f);
    if (c->kind == M_LSTM)
        for (int64_t i = 0; i < n * per; i++)
            md->x[i] = (float)(1 + rng_next(&r) % (LSTM_VOCAB - 1));
    for (int64_t i = 0; i < n; i++)
        md->labels[i] = (int32_t)(rng_next(&r) % (uint64_t)classes_of(c->kind));
    md->d = (clnn_data){.x = md->x, .n = n, .labels = md->labels};
    md->d.ndim = c->kind == M_CNN ? 3 : 1;
    memcpy(md->d.shape, c->kind == M_CNN ? CNN_SHAPE : MLP_SHAPE,
           (size_t)md->d.ndim * sizeof *md->d.shape);
    if (c->kind == M_LSTM)
        md->d.shape[0] = LSTM_LEN;
    return 0;
}

static void data_free(model_data *md)
{
    free(md->x);
    free(md->labels);
}

/* ---- output --------------------------------------------------------------------------------- */
static void models_header(const bench *b, const char *suite, int reps)
{
    if (!b->json)
        printf("\n== %s: reference models, median of %d epochs after a warm-up epoch\n"
               "%-22s %-18s %11s %11s %12s %10s  %s\n",
               suite, reps, "name", "shape", "median ms", "min ms", "samples/s", "ms/step",
               "check");
}

static void models_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    char med[24] = "-", min[24] = "-", sps[24] = "-", step[24] = "-";
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.1f", r->median_ms);
        snprintf(min, sizeof min, "%.1f", r->min_ms);
        snprintf(sps, sizeof sps, "%.1f", r->rate);
        snprintf(step, sizeof step, "%.2f", r->extra[0]);
    }
    printf("%-22s %-18s %11s %11s %12s %10s  %s%s\n", r->name, r->shape, med, min, sps, step,
           r->note, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* Fills the timing fields of r from the epoch times t (b->reps of them, sorted here). */
static void set_times(const bench *b, result *r, const model_case *c, int64_t n, double *t)
{
    r->median_ms = median(t, b->reps);
    r->min_ms = t[0];
    r->unit = "samples_per_s";
    r->rate = (double)n / (r->median_ms / 1e3);
    r->extra_key[0] = "ms_per_step";
    r->extra[0] = r->median_ms / (double)(n / c->batch);
    r->extra_key[1] = "batch";
    r->extra[1] = (double)c->batch;
    r->extra_key[2] = "samples";
    r->extra[2] = (double)n;
}

static result *case_result(bench *b, const char *suite, const model_case *c, int64_t n)
{
    char name[40], shape[32];
    snprintf(name, sizeof name, "%s/%s/b%lld", suite, c->model, (long long)c->batch);
    snprintf(shape, sizeof shape, "%s x%lld",
             c->kind == M_CNN    ? "1x28x28"
             : c->kind == M_LSTM ? "ids 100"
                                 : "784",
             (long long)n);
    return add_result(b, suite, name, shape);
}

/* ---- train ---------------------------------------------------------------------------------- */
static void train_case(bench *b, const model_case *c)
{
    const int64_t n = b->quick ? c->quick_samples : c->samples;
    result *r = case_result(b, "train", c, n);
    model_data md;
    double *t = malloc((size_t)b->reps * sizeof *t);
    clnn_model *m = NULL;
    if (data_make(c, n, &md) || !t) {
        fail_call(b, r->name, CLNN_ERR_NOMEM);
        goto out;
    }
    if (!(m = model_build(b, c, 1)))
        goto out;
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = 1;
    f.batch_size = c->batch;
    f.shuffle = 1;
    f.verbose = 0;
    clnn_status st = clnn_model_fit(m, &md.d, &f); /* warm-up: graphs, kernels */
    if (!st)
        st = clnn_ctx_finish(b->ctx);
    if (st) {
        fail_call(b, "clnn_model_fit (warm-up)", st);
        goto out;
    }
    /* check: the loss on one fixed batch is finite and decreases over a few steps */
    clnn_data batch = md.d;
    batch.n = c->batch;
    double loss[CHECK_STEPS];
    for (int i = 0; i < CHECK_STEPS; i++)
        if ((st = clnn_model_train_on_batch(m, &batch, &loss[i]))) {
            fail_call(b, "clnn_model_train_on_batch", st);
            goto out;
        }
    snprintf(r->note, sizeof r->note, "loss %.4f -> %.4f", loss[0], loss[CHECK_STEPS - 1]);
    int ok = 1;
    for (int i = 0; i < CHECK_STEPS; i++)
        ok &= isfinite(loss[i]);
    if (!ok || !(loss[CHECK_STEPS - 1] < loss[0])) {
        fprintf(stderr,
                "clnn-bench: FAIL train %s: the loss of %d steps on one batch is not finite and "
                "decreasing:",
                r->name, CHECK_STEPS);
        for (int i = 0; i < CHECK_STEPS; i++)
            fprintf(stderr, " %g", loss[i]);
        fprintf(stderr, "\n");
        b->failures++;
        models_row(b, r);
        goto out;
    }
    r->checked = 1;
    r->max_rel_err = 0;
    for (int i = 0; i < b->reps && !st; i++) {
        f.seed = (uint64_t)i + 1; /* a new order each epoch */
        double t0 = now_ms();
        st = clnn_model_fit(m, &md.d, &f);
        if (!st)
            st = clnn_ctx_finish(b->ctx);
        t[i] = now_ms() - t0;
    }
    if (st) {
        fail_call(b, "clnn_model_fit", st);
        goto out;
    }
    set_times(b, r, c, n, t);
    models_row(b, r);
out:
    clnn_model_destroy(m);
    data_free(&md);
    free(t);
}

/* ---- infer ---------------------------------------------------------------------------------- */
static void infer_case(bench *b, const model_case *c)
{
    const int64_t n = b->quick ? c->quick_samples : c->samples;
    const int C = classes_of(c->kind);
    result *r = case_result(b, "infer", c, n);
    model_data md;
    double *t = malloc((size_t)b->reps * sizeof *t);
    float *out = malloc((size_t)n * (size_t)C * sizeof *out);
    clnn_model *m = NULL;
    if (data_make(c, n, &md) || !t || !out) {
        fail_call(b, r->name, CLNN_ERR_NOMEM);
        goto out;
    }
    if (!(m = model_build(b, c, 0)))
        goto out;
    clnn_status st = clnn_model_predict(m, md.x, n, c->batch, out, (size_t)n * (size_t)C);
    if (st) {
        fail_call(b, "clnn_model_predict (warm-up)", st);
        goto out;
    }
    /* check: every row is a probability distribution */
    double worst = 0;
    int64_t worst_row = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0, bad = 0;
        for (int j = 0; j < C; j++) {
            float p = out[i * C + j];
            s += p;
            if (!(p >= 0 && p <= 1))
                bad = INFINITY;
        }
        double e = bad > 0 || !isfinite(s) ? INFINITY : fabs(s - 1);
        if (!(e <= worst)) {
            worst = e;
            worst_row = i;
        }
    }
    r->max_rel_err = worst;
    snprintf(r->note, sizeof r->note, "|row sum - 1| <= %.1e", worst);
    if (!(worst <= ROW_SUM_TOL)) {
        fprintf(stderr,
                "clnn-bench: FAIL infer %s: softmax row %lld is not a distribution (|sum - 1| = "
                "%.2e > %.0e, or an entry outside [0, 1])\n",
                r->name, (long long)worst_row, worst, ROW_SUM_TOL);
        b->failures++;
        models_row(b, r);
        goto out;
    }
    r->checked = 1;
    for (int i = 0; i < b->reps && !st; i++) {
        double t0 = now_ms();
        st = clnn_model_predict(m, md.x, n, c->batch, out, (size_t)n * (size_t)C);
        t[i] = now_ms() - t0;
    }
    if (st) {
        fail_call(b, "clnn_model_predict", st);
        goto out;
    }
    set_times(b, r, c, n, t);
    models_row(b, r);
out:
    clnn_model_destroy(m);
    data_free(&md);
    free(t);
    free(out);
}

/* ---- the suites ----------------------------------------------------------------------------- */
static void run_cases(bench *b, const char *suite, const model_case *cases, int ncases,
                      void (*run)(bench *, const model_case *))
{
    int saved_reps = b->reps;
    b->reps = b->reps_given ? b->reps : b->quick ? 2 : 5;
    int any = 0;
    for (int i = 0; i < ncases; i++)
        any |= case_selected(b, &cases[i]);
    if (any)
        models_header(b, suite, b->reps);
    for (int i = 0; i < ncases; i++)
        if (case_selected(b, &cases[i]))
            run(b, &cases[i]);
    b->reps = saved_reps;
}

void suite_train(bench *b)
{
    run_cases(b, "train", TRAIN_CASES, NTRAIN, train_case);
}

void suite_infer(bench *b)
{
    run_cases(b, "infer", INFER_CASES, NINFER, infer_case);
}
