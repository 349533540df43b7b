/* fuzz_imdb.c — libFuzzer target for the text data of src/io/text.c: the IMDB reader (and through
 * it the strict JSON parser of json.c), the tokenizer, the vocabulary and its JSON form. Each
 * input is used three ways:
 *   1. as a reviews file: written to an in-memory file (memfd_create, or a temporary file where
 *      that fails) and read by clnn_imdb_read through /proc/self/fd/N, so the reader runs as it
 *      does on a real path;
 *   2. as a JSON vocabulary: clnn_vocab_from_json on a NUL-terminated copy;
 *   3. as a text: tokenized and made into a vocabulary (valid UTF-8) or rejected (not).
 * Besides "no crash, leak or over-read" (ASan, UBSan) the target checks cheap invariants and traps
 * on a violation: a failed call has its outputs NULL, the expected status and a non-empty,
 * terminated message (naming the path for the reader); a successful read has the default split
 * (25,000 or half), labels 0 or 1 and texts that a vocabulary built from them encodes into ids in
 * range; every vocabulary survives to_json -> from_json unchanged, ids and words agree, and
 * encode returns min(tokens, max_len) with <pad> after. Built by tests/fuzz/meson.build
 * (-Dfuzz=true, clang); run by tools/fuzz. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clnn.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_imdb: invariant violated: %s (line %d)\n", #c, __LINE__);        \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static int file_fd = -1;
static char file_path[64];

/* The in-memory file that holds each input (made once). */
static void open_file(void)
{
    if (file_fd >= 0)
        return;
    file_fd = memfd_create("fuzz_imdb", 0);
    if (file_fd >= 0) {
        snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
        if (access(file_path, R_OK) == 0)
            return;
        close(file_fd);
    }
    snprintf(file_path, sizeof file_path, "/tmp/fuzz_imdb_XXXXXX");
    file_fd = mkstemp(file_path);
    CHECK(file_fd >= 0);
}

static void put_file(const uint8_t *data, size_t size)
{
    CHECK(ftruncate(file_fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(file_fd, data + done, size - done, (off_t)done);
        CHECK(n > 0);
        done += (size_t)n;
    }
}

static void count_token(void *user, const char *tok, size_t len)
{
    CHECK(len > 0 && strlen(tok) == len);
    for (size_t i = 0; i < len; i++)
        CHECK(!(tok[i] >= 'A' && tok[i] <= 'Z') && tok[i] != ' ' && tok[i] != '\n');
    (*(int64_t *)user)++;
}

/* Checks v: words and ids agree, the JSON form reads back the same; encodes texts. */
static void check_vocab(const clnn_vocab *v, const char *const *texts, int64_t n)
{
    int size = clnn_vocab_size(v);
    CHECK(size >= 2);
    CHECK(strcmp(clnn_vocab_word(v, 0), "<pad>") == 0);
    CHECK(strcmp(clnn_vocab_word(v, 1), "<unk>") == 0);
    CHECK(clnn_vocab_word(v, size) == NULL && clnn_vocab_word(v, -1) == NULL);
    for (int i = 0; i < size; i++)
        CHECK(clnn_vocab_id(v, clnn_vocab_word(v, i)) == i);
    char *json = clnn_vocab_to_json(v);
    CHECK(json != NULL);
    char err[256];
    clnn_vocab *w = NULL;
    clnn_status s = clnn_vocab_from_json(json, &w, err, sizeof err);
    if (s != CLNN_OK)
        fprintf(stderr, "fuzz_imdb: %s\n", err);
    CHECK(s == CLNN_OK && w != NULL);
    CHECK(clnn_vocab_size(w) == size);
    for (int i = 0; i < size; i++)
        CHECK(strcmp(clnn_vocab_word(w, i), clnn_vocab_word(v, i)) == 0);
    char *again = clnn_vocab_to_json(w);
    CHECK(again != NULL && strcmp(again, json) == 0);
    free(again);
    free(json);
    clnn_vocab_destroy(w);
    enum { MAX_LEN = 12 };
    float ids[MAX_LEN];
    for (int64_t t = 0; t < n; t++) {
        int64_t tokens = clnn_tokenize(texts[t], NULL, NULL);
        CHECK(tokens >= 0);
        int64_t got = clnn_vocab_encode(v, texts[t], MAX_LEN, ids);
        CHECK(got == (tokens < MAX_LEN ? tokens : MAX_LEN));
        for (int k = 0; k < MAX_LEN; k++) {
            CHECK(ids[k] >= 0 && ids[k] < size && ids[k] == (float)(int)ids[k]);
            CHECK((k < got) == (ids[k] != 0)); /* no token is <pad> */
        }
    }
}

static void fuzz_reader(const uint8_t *data, size_t size)
{
    open_file();
    put_file(data, size);
    char err[512];
    memset(err, 'x', sizeof err);
    clnn_text_set *train = (clnn_text_set *)1, *test = (clnn_text_set *)1;
    uint64_t seed = size ? data[size - 1] : 0;
    clnn_status s = clnn_imdb_read(file_path, seed, 0, &train, &test, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (s != CLNN_OK) {
        CHECK(s == CLNN_ERR_FORMAT);
        CHECK(train == NULL && test == NULL);
        CHECK(strstr(err, file_path) == err);
        return;
    }
    CHECK(err[0] == '\0');
    CHECK(train != NULL && test != NULL);
    int64_t n = train->n + test->n;
    CHECK(n >= 1);
    CHECK(train->n == (n >= 50000 ? 25000 : n / 2));
    const char **texts = malloc((size_t)n * sizeof *texts);
    CHECK(texts != NULL);
    for (int part = 0; part < 2; part++) {
        const clnn_text_set *set = part ? test : train;
        CHECK(set->texts != NULL && set->labels != NULL);
        for (int64_t i = 0; i < set->n; i++) {
            CHECK(set->texts[i] != NULL);
            CHECK(set->labels[i] == 0 || set->labels[i] == 1);
            texts[part ? train->n + i : i] = set->texts[i];
        }
    }
    /* the texts came from valid JSON: valid UTF-8, so the vocabulary must build */
    clnn_vocab *v = NULL;
    s = clnn_vocab_build(texts, n, size ? data[0] % 8 : 0, &v, err, sizeof err);
    if (s != CLNN_OK)
        fprintf(stderr, "fuzz_imdb: %s\n", err);
    CHECK(s == CLNN_OK && v != NULL);
    check_vocab(v, texts, n);
    clnn_vocab_destroy(v);
    free(texts);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);
}

/* Whether the NUL-terminated s is valid UTF-8 (the rules of the JSON parser). */
static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, n, cp;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return 0;
        for (unsigned k = 1; k <= n; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    /* as a JSON vocabulary */
    char err[256];
    memset(err, 'x', sizeof err);
    clnn_vocab *v = (clnn_vocab *)1;
    clnn_status s = clnn_vocab_from_json(text, &v, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (s == CLNN_OK) {
        CHECK(v != NULL && err[0] == '\0');
        check_vocab(v, (const char *const *)&text, 1);
        clnn_vocab_destroy(v);
    } else {
        CHECK(s == CLNN_ERR_FORMAT && v == NULL && err[0] != '\0');
    }

    /* as a text */
    int64_t count = 0;
    CHECK(clnn_tokenize(text, count_token, &count) == count);
    CHECK(clnn_tokenize(text, NULL, NULL) == count);
    CHECK(count <= (int64_t)size);
    const char *texts[1] = {text};
    v = (clnn_vocab *)1;
    s = clnn_vocab_build(texts, 1, size ? data[0] % 4 : 0, &v, err, sizeof err);
    if (valid_utf8((const unsigned char *)text)) {
        CHECK(s == CLNN_OK && v != NULL);
        CHECK(clnn_vocab_size(v) <= 2 + (size && data[0] % 4 ? data[0] % 4 : (int)count));
        check_vocab(v, texts, 1);
        clnn_vocab_destroy(v);
    } else {
        CHECK(s == CLNN_ERR_INVALID && v == NULL && strstr(err, "text 0") != NULL);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader(data, size);
    fuzz_text(data, size);
    return 0;
}
