/* suite_models.c — clnn-bench's `train` and `infer` suites: whole reference models through the
 * model API (clnn_model_fit, clnn_model_predict): the models of the PyTorch peer
 * (../shared/peers/torch_peers.py): the Keras MNIST CNN (training at batch 64 and 128, inference
 * at 64, 128 and 256), an MLP 784-512-512-10 (batch 128) and the text LSTM (batch 64); and a
 * ResNet-18 for 32x32 images built with the functional API (clnn_model_apply, Add layers; the
 * peer has none), all with Adam, on fixed seeded random data. An epoch is one pass over the data
 * (one clnn_model_fit epoch, shuffled, or one clnn_model_predict call); the first epoch is a
 * warm-up that also builds the graphs and kernels. Checked before timing: training, the loss of a
 * few clnn_model_train_on_batch steps on one fixed batch is finite and decreases; inference,
 * every softmax row is finite, in [0, 1] and sums to 1. Reported: samples/s and ms per step
 * (batch), from the median epoch time, and GFLOP/s as % of the measured peak from the FLOPs of
 * the models' convolutions, dense layers and LSTM gates, counted as the models are built. */
#include "bench.h"

#define CHECK_STEPS 5    /* train_on_batch steps of the training check (resnet18: 3, quick 2) */
#define ROW_SUM_TOL 1e-4 /* |sum of a softmax row - 1| */

typedef enum { M_CNN, M_MLP, M_LSTM, M_RESNET } model_kind;

/* the text LSTM of torch_peers.py: vocabulary 10,000, embedding 128, 2 x LSTM(128), length 100 */
#define LSTM_VOCAB 10000
#define LSTM_LEN   100
#define LSTM_UNITS 128

/* ResNet-18 on CIFAR-sized images: (3, 32, 32) */
#define RESNET_HW 32

static int classes_of(model_kind k)
{
    return k == M_LSTM ? 2 : 10;
}

typedef struct model_case {
    const char *model; /* the name on the command line */
    model_kind kind;
    int64_t batch;
    int64_t samples, quick_samples; /* per epoch; multiples of the batch */
    int64_t quick_batch;            /* the batch with --quick; 0: the same */
} model_case;

/* resnet18 costs ~3.3 GFLOP per training sample (1.1 per inference): a few steps per epoch */
static const model_case TRAIN_CASES[] = {
    {"mnist-cnn", M_CNN, 64, 1024, 256, 0}, {"mnist-cnn", M_CNN, 128, 1024, 256, 0},
    {"mlp", M_MLP, 128, 4096, 1024, 0},     {"text-lstm", M_LSTM, 64, 256, 64, 0},
    {"resnet18", M_RESNET, 16, 32, 8, 8},
};
static const model_case INFER_CASES[] = {
    {"mnist-cnn", M_CNN, 64, 2048, 512, 0},  {"mnist-cnn", M_CNN, 128, 2048, 512, 0},
    {"mnist-cnn", M_CNN, 256, 2048, 512, 0}, {"mlp", M_MLP, 128, 8192, 2048, 0},
    {"text-lstm", M_LSTM, 64, 512, 128, 0},  {"resnet18", M_RESNET, 32, 32, 16, 16},
};
#define NTRAIN (int)(sizeof TRAIN_CASES / sizeof *TRAIN_CASES)
#define NINFER (int)(sizeof INFER_CASES / sizeof *INFER_CASES)
_Static_assert(NTRAIN == TRAIN_RESULTS && NINFER == INFER_RESULTS, "see bench.h");

/* 1 when name selects case c: its model name or "model/bN" (N: the batch, or the quick one). */
static int case_matches(const model_case *c, const char *name)
{
    char full[40], quick[40];
    snprintf(full, sizeof full, "%s/b%lld", c->model, (long long)c->batch);
    snprintf(quick, sizeof quick, "%s/b%lld", c->model, (long long)c->quick_batch);
    return !strcmp(name, c->model) || !strcmp(name, full) ||
           (c->quick_batch && !strcmp(name, quick));
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
static const int64_t CNN_SHAPE[3] = {1, 28, 28}, MLP_SHAPE[1] = {784},
                     RESNET_SHAPE[3] = {3, RESNET_HW, RESNET_HW};

/* FLOPs per sample of the GEMM-like layers (convolutions, dense, LSTM gates): 2 per
 * multiply-add; training adds the weight gradient and, but for the layer that reads the model's
 * input, the input gradient (each as many FLOPs as the forward). */
typedef struct flop_count {
    double forward, train;
} flop_count;

static void count_layer(flop_count *f, double macs, int reads_model_input)
{
    f->forward += 2 * macs;
    f->train += 2 * macs * (reads_model_input ? 2 : 3);
}

/* conv (k x k, stride, padding k / 2, no bias) -> BatchNorm (PyTorch's momentum and eps) ->
 * ReLU when relu; *hw: the input's height = width, then the output's. Returns the node. */
static int conv_bn(clnn_model *m, flop_count *f, int in, int64_t *hw, int cin, int cout, int k,
                   int stride, int relu)
{
    clnn_layer_spec c = clnn_layer_conv2d(cout, k, k, CLNN_ACT_NONE);
    c.stride_h = c.stride_w = stride;
    c.padding = CLNN_PADDING_EXPLICIT;
    c.pad_h = c.pad_w = k / 2;
    c.use_bias = 0;
    *hw = (*hw + 2 * (k / 2) - k) / stride + 1;
    count_layer(f, (double)(*hw * *hw) * cout * cin * k * k, cin == 3 /* the stem */);
    clnn_layer_spec bn = clnn_layer_batchnorm(), act = clnn_layer_activation(CLNN_ACT_RELU, 0);
    bn.momentum = 0.1f;
    bn.eps = 1e-5f;
    int h = clnn_model_apply(m, &c, 1, &in);
    h = clnn_model_apply(m, &bn, 1, &h);
    return relu ? clnn_model_apply(m, &act, 1, &h) : h;
}

/* BasicBlock: relu(bn(conv3x3(relu(bn(conv3x3(x, stride))))) + shortcut), the shortcut a 1x1
 * conv (stride) + BN when the shape changes, else x. */
static int basic_block(clnn_model *m, flop_count *f, int in, int64_t *hw, int cin, int cout,
                       int stride)
{
    int64_t h_short = *hw;
    int h = conv_bn(m, f, in, hw, cin, cout, 3, stride, 1);
    h = conv_bn(m, f, h, hw, cout, cout, 3, 1, 0);
    int shortcut = in;
    if (stride != 1 || cin != cout)
        shortcut = conv_bn(m, f, in, &h_short, cin, cout, 1, stride, 0);
    clnn_layer_spec add = clnn_layer_add(), act = clnn_layer_activation(CLNN_ACT_RELU, 0);
    h = clnn_model_apply(m, &add, 2, (int[]){h, shortcut});
    return clnn_model_apply(m, &act, 1, &h);
}

/* ResNet-18 for 32x32 images (the CIFAR variant: a 3x3 stem, no max pool): stem conv 64 + BN +
 * ReLU, 4 stages of 2 BasicBlocks (64, 128, 256, 512 channels; stride 2 at stages 2-4), global
 * average pool, Dense 10. */
static void resnet18(clnn_model *m, flop_count *f, clnn_activation out)
{
    int64_t hw = RESNET_HW;
    int h = clnn_model_input(m, "image", 3, RESNET_SHAPE);
    h = conv_bn(m, f, h, &hw, 3, 64, 3, 1, 1);
    static const int channels[4] = {64, 128, 256, 512};
    int cin = 64;
    for (int s = 0; s < 4; s++)
        for (int blk = 0; blk < 2; blk++) {
            h = basic_block(m, f, h, &hw, cin, channels[s], s > 0 && blk == 0 ? 2 : 1);
            cin = channels[s];
        }
    clnn_layer_spec gap = clnn_layer_global_avgpool2d(), dense = clnn_layer_dense(10, out);
    h = clnn_model_apply(m, &gap, 1, &h);
    clnn_model_apply(m, &dense, 1, &h);
    count_layer(f, 512.0 * 10, 0);
}

int bench_cnn_layers(clnn_layer_spec l[6])
{
    l[0] = clnn_layer_conv2d(32, 3, 3, CLNN_ACT_RELU);
    l[1] = clnn_layer_maxpool2d(2, 2);
    l[2] = clnn_layer_conv2d(64, 3, 3, CLNN_ACT_RELU);
    l[3] = clnn_layer_maxpool2d(2, 2);
    l[4] = clnn_layer_flatten();
    l[5] = clnn_layer_dense(10, CLNN_ACT_SOFTMAX);
    return 6;
}

/* Builds (and, for training, compiles) the model; NULL on failure (reported). The CNN ends in a
 * softmax with categorical cross-entropy (Keras); the MLP trains on logits with cross-entropy
 * (PyTorch) and infers with a softmax output. */
static clnn_model *model_build(bench *b, const model_case *c, int train, flop_count *f)
{
    *f = (flop_count){0};
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
    clnn_activation out = train ? CLNN_ACT_NONE : CLNN_ACT_SOFTMAX; /* logits: cross-entropy */
    if (c->kind == M_RESNET) {
        resnet18(m, f, out);
    } else if (c->kind == M_CNN) {
        clnn_model_input(m, "image", 3, CNN_SHAPE);
        count_layer(f, 26.0 * 26 * 32 * 1 * 9, 1);
        count_layer(f, 11.0 * 11 * 64 * 32 * 9, 0);
        count_layer(f, 5.0 * 5 * 64 * 10, 0);
        nl = bench_cnn_layers(l);
    } else if (c->kind == M_LSTM) {
        /* ids -> Embedding -> LSTM(128, 2 layers; the ids give the lengths) -> Dense(2) */
        int ids = clnn_model_input_i32(m, "ids", 1, (int64_t[]){LSTM_LEN});
        clnn_layer_spec e = clnn_layer_embedding(LSTM_VOCAB, 128),
                        r = clnn_layer_lstm(LSTM_UNITS, 2), d = clnn_layer_dense(2, out);
        for (int layer = 0; layer < 2; layer++) /* 4 gates x (input + recurrent) per step */
            count_layer(f, LSTM_LEN * 4.0 * LSTM_UNITS * (128 + LSTM_UNITS), 0);
        count_layer(f, LSTM_UNITS * 2.0, 0);
        e.padding_index = 0;
        int he = clnn_model_apply(m, &e, 1, &ids);
        int hr = clnn_model_apply(m, &r, 2, (int[]){he, ids});
        clnn_model_apply(m, &d, 1, &hr);
    } else {
        clnn_model_input(m, "features", 1, MLP_SHAPE);
        l[nl++] = clnn_layer_dense(512, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_dense(512, CLNN_ACT_RELU);
        l[nl++] = clnn_layer_dense(10, out);
        count_layer(f, 784.0 * 512, 1);
        count_layer(f, 512.0 * 512, 0);
        count_layer(f, 512.0 * 10, 0);
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
    const int64_t per = c->kind == M_CNN      ? 28 * 28
                        : c->kind == M_LSTM   ? LSTM_LEN
                        : c->kind == M_RESNET ? 3 * RESNET_HW * RESNET_HW
                                              : 784;
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
    md->d.ndim = c->kind == M_CNN || c->kind == M_RESNET ? 3 : 1;
    memcpy(md->d.shape,
           c->kind == M_CNN      ? CNN_SHAPE
           : c->kind == M_RESNET ? RESNET_SHAPE
                                 : MLP_SHAPE,
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
               "   GFLOP/s: of the convolutions, dense layers and LSTM gates; roofline: %% of the "
               "measured %.1f GFLOP/s peak\n"
               "%-22s %-18s %11s %11s %12s %10s %9s %11s  %s\n",
               suite, reps, b->roof.peak_gflops, "name", "shape", "median ms", "min ms",
               "samples/s", "ms/step", "GFLOP/s", "roofline", "check");
}

static void models_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    char med[24] = "-", min[24] = "-", sps[24] = "-", step[24] = "-", gf[24] = "-", roof[16];
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.1f", r->median_ms);
        snprintf(min, sizeof min, "%.1f", r->min_ms);
        snprintf(sps, sizeof sps, "%.1f", r->rate);
        snprintf(step, sizeof step, "%.2f", r->extra[0]);
        snprintf(gf, sizeof gf, "%.2f", r->extra[3]);
    }
    printf("%-22s %-18s %11s %11s %12s %10s %9s %11s  %s%s\n", r->name, r->shape, med, min, sps,
           step, gf, fmt_roof(roof, r), r->note, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* Fills the timing fields of r from the epoch times t (b->reps of them, sorted here); flops: per
 * sample. */
static void set_times(const bench *b, result *r, const model_case *c, int64_t n, double *t,
                      double flops)
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
    r->extra_key[3] = "gflops";
    r->extra[3] = flops * r->rate / 1e9;
    set_roof(b, r, r->extra[3], 0);
}

/* One more JSON number of r, in its first unused extra slot. */
static void add_extra(result *r, const char *key, double v)
{
    for (int k = 0; k < RESULT_EXTRAS; k++)
        if (!r->extra_key[k]) {
            r->extra_key[k] = key;
            r->extra[k] = v;
            return;
        }
}

static result *case_result(bench *b, const char *suite, const model_case *c, int64_t n)
{
    char name[40], shape[32];
    snprintf(name, sizeof name, "%s/%s/b%lld", suite, c->model, (long long)c->batch);
    snprintf(shape, sizeof shape, "%s x%lld",
             c->kind == M_CNN      ? "1x28x28"
             : c->kind == M_LSTM   ? "ids 100"
             : c->kind == M_RESNET ? "3x32x32"
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
    flop_count fc;
    if (!(m = model_build(b, c, 1, &fc)))
        goto out;
    /* check, from the initial weights (a large model may fit one batch in its warm-up epoch):
     * the loss on one fixed batch is finite and decreases over a few steps */
    clnn_status st = CLNN_OK;
    clnn_data batch = md.d;
    batch.n = c->batch;
    double loss[CHECK_STEPS];
    const int steps = c->kind == M_RESNET ? (b->quick ? 2 : 3) : CHECK_STEPS;
    for (int i = 0; i < steps; i++)
        if ((st = clnn_model_train_on_batch(m, &batch, &loss[i]))) {
            fail_call(b, "clnn_model_train_on_batch", st);
            models_row(b, r); /* FAILED */
            goto out;
        }
    snprintf(r->note, sizeof r->note, "loss %.4f -> %.4f", loss[0], loss[steps - 1]);
    int ok = 1;
    for (int i = 0; i < steps; i++)
        ok &= isfinite(loss[i]);
    if (!ok || !(loss[steps - 1] < loss[0])) {
        fprintf(stderr,
                "clnn-bench: FAIL train %s: the loss of %d steps on one batch is not finite and "
                "decreasing:",
                r->name, steps);
        for (int i = 0; i < steps; i++)
            fprintf(stderr, " %g", loss[i]);
        fprintf(stderr, "\n");
        b->failures++;
        models_row(b, r);
        goto out;
    }
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = 1;
    f.batch_size = c->batch;
    f.shuffle = 1;
    f.verbose = 0;
    st = clnn_model_fit(m, &md.d, &f); /* warm-up: graphs, kernels */
    if (!st)
        st = clnn_ctx_finish(b->ctx);
    if (st) {
        fail_call(b, "clnn_model_fit (warm-up)", st);
        models_row(b, r); /* FAILED */
        goto out;
    }
    r->checked = 1;
    r->max_rel_err = 0;
    double single = 0; /* --mpi: samples/s of rank 0 alone */
    if (b->mpi) {
        /* rank 0 alone while the others wait, then every rank data-parallel (below) */
        char err[512];
        for (int i = 0; i < b->reps && !st && clnn_mpi_rank() == 0; i++) {
            f.seed = (uint64_t)i + 1;
            double t0 = now_ms();
            st = clnn_model_fit(m, &md.d, &f);
            if (!st)
                st = clnn_ctx_finish(b->ctx);
            t[i] = now_ms() - t0;
        }
        clnn_status all =
            clnn_mpi_agree(st, st ? clnn_ctx_last_error(b->ctx) : NULL, err, sizeof err);
        if (all) {
            fprintf(stderr, "clnn-bench: FAIL train %s: %s\n", r->name, err);
            b->failures++;
            models_row(b, r); /* FAILED */
            goto out;
        }
        single = clnn_mpi_rank() == 0 ? (double)n / (median(t, b->reps) / 1000.0) : 0;
        f.distributed = 1;
    }
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
        models_row(b, r); /* FAILED */
        goto out;
    }
    set_times(b, r, c, n, t, fc.train);
    if (b->mpi) {
        const int ranks = clnn_mpi_size();
        add_extra(r, "ranks", ranks);
        add_extra(r, "single_rank_samples_per_s", single);
        add_extra(r, "scaling_efficiency", r->rate / (ranks * single));
        snprintf(r->note, sizeof r->note, "%d ranks, efficiency %.2f", ranks,
                 r->rate / (ranks * single));
    }
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
    flop_count fc;
    if (!(m = model_build(b, c, 0, &fc)))
        goto out;
    clnn_status st = clnn_model_predict(m, md.x, n, c->batch, out, (size_t)n * (size_t)C);
    if (st) {
        fail_call(b, "clnn_model_predict (warm-up)", st);
        models_row(b, r); /* FAILED */
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
        models_row(b, r); /* FAILED */
        goto out;
    }
    set_times(b, r, c, n, t, fc.forward);
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
    for (int i = 0; i < ncases; i++) {
        model_case c = cases[i];
        if (b->quick && c.quick_batch)
            c.batch = c.quick_batch;
        if (case_selected(b, &cases[i]))
            run(b, &c);
    }
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

/* ---- --tune: the convolutions of the reference models --------------------------------------- */
/* The training steps clnn_model_tune measures: the convolutions of the MNIST CNN at the batch
 * of the README's figures and of ResNet-18 (3x3 and 1x1 layers, stride 1 and 2); the own
 * SGEMM's tile rows (GEMM_TM, one value per device) on the MLP, which is GEMMs only */
static const model_case TUNE_CASES[] = {
    {"mnist-cnn", M_CNN, 128, 128, 128, 0},
    {"resnet18", M_RESNET, 16, 16, 16, 0},
    {"mlp", M_MLP, 128, 128, 128, 0},
};
#define NTUNE (int)(sizeof TUNE_CASES / sizeof *TUNE_CASES)

int tune_model_count(void)
{
    return NTUNE;
}

clnn_status tune_model(bench *b, int i, const clnn_conv_tune_options *o, clnn_conv_tune_report *r,
                       const char **name, int64_t *batch)
{
    const model_case *c = &TUNE_CASES[i];
    *name = c->model;
    *batch = c->batch;
    model_data md;
    flop_count fc;
    clnn_status st = CLNN_ERR_NOMEM;
    clnn_model *m = NULL;
    clnn_conv_tune_options mo = *o;
    mo.gemm_tile = c->kind == M_MLP;
    if (!data_make(c, c->batch, &md) && (m = model_build(b, c, 1, &fc)) != NULL)
        st = clnn_model_tune(m, &md.d, &mo, r);
    else if (!m)
        st = CLNN_ERR_INVALID; /* model_build reported it */
    if (st && m)
        fprintf(stderr, "clnn-bench: --tune %s: %s: %s\n", c->model, clnn_status_name(st),
                clnn_model_last_error(m));
    clnn_model_destroy(m);
    data_free(&md);
    return st;
}
