/* gen_model_corpus.c — writes the seed corpus of fuzz_model: real model files and checkpoints of
 * tiny models of every layer family (each a few KB), so the fuzzer starts from files that load and
 * mutates the architecture JSON, the checkpoint JSON and the tensors from there:
 *   build-fuzz/tests/fuzz/gen_model_corpus tests/fuzz/corpus/model
 * Models: an MLP (Keras init, user metadata), an MLP of PyTorch init with LayerNorm, Dropout and
 * activations, a CNN with BatchNorm, convolutions with groups / SAME / dilation / stride /
 * transposed with output padding and pooling of all kinds, LSTM + GRU, a bidirectional two-layer
 * RNN, Embedding -> LSTM with the token ids as lengths, and a functional model with two inputs,
 * Add, a reapplied layer, Concatenate and Reshape. Checkpoints: the fixed model of fuzz_model
 * (fuzz_model_fixed.h) after one epoch of Adam and before any training, and the CNN after SGD
 * with momentum and a step schedule. Every file is loaded back as a check. The architecture of
 * each model file also goes alone to <name>.arch.json (fuzz_model wraps an input that starts
 * with '{' into a file). Layers carry explicit names, and seeds are fixed, so the output is the
 * same on every run and device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "fuzz_model_fixed.h"

static clnn_ctx *ctx;
static const char *dir;
static int failures;

static clnn_layer_spec nm(clnn_layer_spec s, const char *name)
{
    return fuzz_fixed_named(s, name);
}

static clnn_model *new_model(clnn_init_style init, uint64_t seed, const char *name)
{
    clnn_model_options o;
    clnn_model_options_init(&o);
    o.init = init;
    o.seed = seed;
    snprintf(o.name, sizeof o.name, "%s", name);
    clnn_model *m = NULL;
    if (clnn_model_create(ctx, &o, &m) != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: %s\n", clnn_ctx_last_error(ctx));
        exit(1);
    }
    return m;
}

static void push(clnn_model *m, clnn_layer_spec s)
{
    clnn_model_push(m, &s);
}

static int apply(clnn_model *m, clnn_layer_spec s, int n, const int *in)
{
    return clnn_model_apply(m, &s, n, in);
}

/* Fills every parameter with small deterministic values (so the files hold more than the
 * initialisation; running variances stay positive). */
static void fill_params(clnn_model *m)
{
    for (int i = 0; i < clnn_model_param_count(m); i++) {
        clnn_tensor *t = clnn_model_param(m, i);
        size_t n = (size_t)clnn_tensor_numel(t);
        float *v = malloc(n * sizeof *v);
        int var = strstr(clnn_tensor_name(t), "running_var") != NULL;
        for (size_t k = 0; v && k < n; k++)
            v[k] =
                (float)(var ? 1.0 + 0.25 * sin((double)(k + 1)) : 0.5 * sin((double)(7 * k + i)));
        if (!v || clnn_tensor_write(t, v, n * sizeof *v) != CLNN_OK)
            failures++;
        free(v);
    }
}

static void path_of(char *buf, size_t size, const char *file)
{
    snprintf(buf, size, "%s/%s", dir, file);
}

/* Writes the architecture JSON of model file path as dir/<file>.arch.json (fuzz_model takes an
 * input that starts with '{' as an architecture on its own). */
static void save_architecture(const char *path, const char *file)
{
    clnn_safetensors *st = NULL;
    char err[256], out[1024];
    if (clnn_safetensors_read(path, &st, err, sizeof err) != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: %s\n", err);
        failures++;
        return;
    }
    const char *arch = clnn_safetensors_metadata(st, "clnn.architecture");
    snprintf(out, sizeof out, "%s/%.*s.arch.json", dir, (int)(strcspn(file, ".")), file);
    FILE *f = fopen(out, "wb");
    if (!arch || !f || fputs(arch, f) == EOF) {
        fprintf(stderr, "gen_model_corpus: cannot write %s\n", out);
        failures++;
    }
    if (f)
        fclose(f);
    clnn_safetensors_destroy(st);
}

/* Saves m as dir/file (a checkpoint of epoch when epoch >= 0) and loads it back; a model file's
 * architecture also goes to dir/<name>.arch.json. */
static void save(clnn_model *m, const char *file, int epoch)
{
    char path[1024];
    path_of(path, sizeof path, file);
    clnn_status st = clnn_model_status(m);
    if (st == CLNN_OK)
        st = epoch < 0 ? clnn_model_save(m, path) : clnn_model_save_checkpoint(m, path, epoch);
    clnn_model *l = NULL;
    if (st == CLNN_OK)
        st = clnn_model_load(ctx, path, &l);
    if (st != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: %s: %s\n", file,
                clnn_model_status(m) ? clnn_model_last_error(m) : clnn_ctx_last_error(ctx));
        failures++;
    } else {
        printf("%s: %d layers, %lld parameters\n", file, clnn_model_layer_count(l),
               (long long)clnn_model_count_params(l, NULL));
        if (epoch < 0)
            save_architecture(path, file);
    }
    clnn_model_destroy(l);
}

/* One epoch on n samples of the model's input (features values each) with labels in [0, classes).
 */
static void train(clnn_model *m, int64_t n, int64_t features, int classes, int scale)
{
    float *x = malloc((size_t)(n * features) * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; x && y && i < n; i++) {
        y[i] = (int32_t)(i % classes);
        for (int64_t k = 0; k < features; k++)
            x[i * features + k] = (float)(scale * cos((double)(i * features + k)) + y[i]);
    }
    clnn_data d = {x, n, 0, {0}, y, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.batch_size = 4;
    f.verbose = 0;
    if (!x || !y || clnn_model_fit(m, &d, &f) != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: fit: %s\n", clnn_model_last_error(m));
        failures++;
    }
    free(x);
    free(y);
}

static void compile(clnn_model *m, clnn_loss_kind loss, const clnn_optim_options *opt)
{
    clnn_compile_options c;
    clnn_compile_options_init(&c, loss, opt->kind);
    c.optimizer = *opt;
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_compile(m, &c) != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: compile: %s\n", clnn_model_last_error(m));
        failures++;
    }
}

static clnn_model *cnn(void)
{
    clnn_model *m = new_model(CLNN_INIT_KERAS, 3, "cnn");
    clnn_model_input(m, "image", 3, (const int64_t[]){1, 6, 6});
    push(m, nm(clnn_layer_conv2d(2, 3, 3, CLNN_ACT_RELU), "c1"));
    push(m, nm(clnn_layer_maxpool2d(2, 2), "pool"));
    push(m, nm(clnn_layer_batchnorm(), "bn"));
    push(m, nm(clnn_layer_flatten(), "flat"));
    push(m, nm(clnn_layer_dense(3, CLNN_ACT_SOFTMAX), "out"));
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_model_corpus <directory>\n");
        return 2;
    }
    dir = argv[1];
    if (clnn_ctx_create(&ctx, NULL) != CLNN_OK) {
        fprintf(stderr, "gen_model_corpus: %s\n", clnn_ctx_last_error(ctx));
        return 1;
    }
    clnn_model *m;

    /* MLP, Keras init, user metadata */
    m = new_model(CLNN_INIT_KERAS, 1, "mlp");
    clnn_model_input(m, "x", 1, (const int64_t[]){4});
    push(m, nm(clnn_layer_dense(6, CLNN_ACT_RELU), "d1"));
    push(m, nm(clnn_layer_dense(3, CLNN_ACT_SOFTMAX), "d2"));
    clnn_model_set_metadata(m, "note", "tiny");
    fill_params(m);
    save(m, "mlp.safetensors", -1);
    clnn_model_destroy(m);

    /* MLP, PyTorch init: LayerNorm, Dropout, activations, a frozen layer */
    m = new_model(CLNN_INIT_PYTORCH, 2, "mlp_torch");
    clnn_model_input(m, "x", 1, (const int64_t[]){5});
    push(m, nm(clnn_layer_dense(4, CLNN_ACT_NONE), "lin"));
    push(m, nm(clnn_layer_layernorm(), "ln"));
    push(m, nm(clnn_layer_activation(CLNN_ACT_LEAKY_RELU, 0.1f), "act"));
    push(m, nm(clnn_layer_dropout(0.5f), "drop"));
    clnn_layer_spec d = nm(clnn_layer_dense(2, CLNN_ACT_GELU_TANH), "head");
    d.use_bias = 0;
    push(m, d);
    clnn_model_set_trainable(m, 0, 0);
    fill_params(m);
    save(m, "mlp_torch.safetensors", -1);
    clnn_model_destroy(m);

    /* CNN with BatchNorm */
    m = cnn();
    fill_params(m);
    save(m, "cnn.safetensors", -1);
    clnn_model_destroy(m);

    /* convolutions: groups, SAME, dilation, stride, transposed with output padding; pooling */
    m = new_model(CLNN_INIT_PYTORCH, 4, "convs");
    clnn_model_input(m, "image", 3, (const int64_t[]){2, 7, 7});
    clnn_layer_spec c = nm(clnn_layer_conv2d(4, 3, 3, CLNN_ACT_ELU), "grouped");
    c.groups = 2;
    c.padding = CLNN_PADDING_SAME;
    push(m, c);
    c = nm(clnn_layer_conv2d(2, 2, 2, CLNN_ACT_TANH), "dilated");
    c.dilation_h = c.dilation_w = 2;
    c.stride_h = 2;
    push(m, c);
    push(m, nm(clnn_layer_avgpool2d(1, 2), "avg"));
    c = nm(clnn_layer_conv2d_transpose(3, 3, 2, CLNN_ACT_SIGMOID), "up");
    c.padding = CLNN_PADDING_EXPLICIT;
    c.pad_h = 1;
    c.stride_h = c.stride_w = 2;
    c.output_pad_h = 1;
    push(m, c);
    push(m, nm(clnn_layer_global_avgpool2d(), "gap"));
    push(m, nm(clnn_layer_dense(2, CLNN_ACT_NONE), "out"));
    fill_params(m);
    save(m, "convs.safetensors", -1);
    clnn_model_destroy(m);

    /* LSTM -> GRU */
    m = new_model(CLNN_INIT_KERAS, 5, "recurrent");
    clnn_model_input(m, "seq", 2, (const int64_t[]){4, 3});
    clnn_layer_spec r = nm(clnn_layer_lstm(3, 1), "lstm");
    r.return_sequences = 1;
    push(m, r);
    push(m, nm(clnn_layer_gru(2, 1), "gru"));
    push(m, nm(clnn_layer_dense(2, CLNN_ACT_SOFTMAX), "out"));
    fill_params(m);
    save(m, "lstm_gru.safetensors", -1);
    clnn_model_destroy(m);

    /* a bidirectional two-layer RNN (relu), dropout between its layers */
    m = new_model(CLNN_INIT_PYTORCH, 6, "birnn");
    clnn_model_input(m, "seq", 2, (const int64_t[]){3, 2});
    r = nm(clnn_layer_simple_rnn(2, 2), "rnn");
    r.bidirectional = 1;
    r.activation = CLNN_ACT_RELU;
    r.rate = 0.2f;
    push(m, r);
    push(m, nm(clnn_layer_dense(1, CLNN_ACT_SIGMOID), "out"));
    fill_params(m);
    save(m, "rnn_bidirectional.safetensors", -1);
    clnn_model_destroy(m);

    /* Embedding -> LSTM with the token ids as a second input (lengths) */
    m = new_model(CLNN_INIT_KERAS, 7, "text");
    int tokens = clnn_model_input_i32(m, "tokens", 1, (const int64_t[]){5});
    clnn_layer_spec e = nm(clnn_layer_embedding(10, 3), "emb");
    e.padding_index = 0;
    int emb = apply(m, e, 1, &tokens);
    int lstm = apply(m, nm(clnn_layer_lstm(2, 1), "lstm"), 2, (const int[]){emb, tokens});
    apply(m, nm(clnn_layer_dense(2, CLNN_ACT_SOFTMAX), "out"), 1, &lstm);
    fill_params(m);
    save(m, "embedding_lstm.safetensors", -1);
    clnn_model_destroy(m);

    /* functional: two inputs, Add, a reapplied layer, Concatenate, Reshape */
    m = new_model(CLNN_INIT_KERAS, 8, "residual");
    int a = clnn_model_input(m, "a", 1, (const int64_t[]){4});
    int b = clnn_model_input(m, "b", 1, (const int64_t[]){4});
    int da = apply(m, nm(clnn_layer_dense(4, CLNN_ACT_RELU), "shared"), 1, &a);
    int db = clnn_model_reapply(m, da, 1, &b);
    int sum = apply(m, nm(clnn_layer_add(), "add"), 3, (const int[]){da, db, a});
    int cat = apply(m, nm(clnn_layer_concatenate(-1), "cat"), 2, (const int[]){sum, b});
    int rs = apply(m, nm(clnn_layer_reshape(2, (const int64_t[]){2, 4}), "rs"), 1, &cat);
    int fl = apply(m, nm(clnn_layer_flatten(), "flat"), 1, &rs);
    apply(m, nm(clnn_layer_dense(2, CLNN_ACT_SOFTMAX), "out"), 1, &fl);
    fill_params(m);
    save(m, "functional_add.safetensors", -1);
    clnn_model_destroy(m);

    /* checkpoints of the fixed model: before training (no optimizer state) and after one epoch */
    m = fuzz_fixed_model(ctx);
    if (!m)
        return 1;
    save(m, "checkpoint_fixed_untrained.safetensors", 0);
    train(m, 8, FUZZ_FIXED_FEATURES, FUZZ_FIXED_CLASSES, 1);
    save(m, "checkpoint_fixed_adam.safetensors", 1);
    clnn_model_destroy(m);

    /* a checkpoint of the CNN: SGD with momentum and a step schedule */
    m = cnn();
    clnn_optim_options o;
    clnn_optim_options_init(&o, CLNN_OPTIM_SGD);
    o.momentum = 0.9f;
    o.nesterov = 1;
    o.schedule.kind = CLNN_SCHEDULE_STEP;
    o.schedule.step_size = 2;
    o.schedule.gamma = 0.5f;
    compile(m, CLNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, &o);
    train(m, 6, 36, 3, 2);
    save(m, "checkpoint_cnn_sgd.safetensors", 1);
    clnn_model_destroy(m);

    clnn_ctx_destroy(ctx);
    if (failures)
        fprintf(stderr, "gen_model_corpus: %d failures\n", failures);
    return failures ? 1 : 0;
}
