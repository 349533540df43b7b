/* text.c — text data: the tokenizer, the vocabulary (word <-> id, built from texts by frequency,
 * kept as a JSON array in model files) and the IMDB review reader (a JSON array of {"t", "s"},
 * parsed by json.c, every element validated, shuffled and split).
 *
 * Tokens are runs of the text: a word is a maximal run of bytes that are neither ASCII
 * whitespace nor ASCII punctuation; every ASCII punctuation byte is a token of its own; HTML line
 * breaks (<br>, <br/>, <br /> in any case) separate like a space. Tokens are handed out
 * lower-cased (ASCII only) and NUL-terminated in a buffer of the tokenizer.
 *
 * The vocabulary counts tokens in an open-addressing hash table (FNV-1a, linear probing, the
 * table at most half full) whose entries keep the order of first appearance, sorts them by count
 * (descending) then first appearance, and keeps the first max_words after "<pad>" and "<unk>".
 * Lookup is a second hash table over the kept words. Words are valid UTF-8, so the JSON form is
 * always valid: vocab_build rejects texts that are not.
 *
 * The shuffle of clnn_imdb_read is Fisher–Yates with xoshiro256** seeded by splitmix64 and
 * unbiased bounded draws, the generator of dataset.c (copied: dataset.c keeps it private), on a
 * stream of its own, so an order depends only on the seed and the file. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

/* Ids are handed out as floats: every id must be exact in a float (2^24). */
#define VOCAB_MAX_SIZE (1 << 24)
#define IMDB_STREAM    0x494d4442ull /* "IMDB" */

/* ---- the tokenizer --------------------------------------------------------------------------- */
static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_punct(unsigned char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The length of the HTML line break at s (s[0] == '<'): 4, 5 or 6, or 0 when there is none. The
 * comparisons stop at the first mismatch, so nothing past a NUL is read. */
static size_t br_len(const char *s)
{
    if (lower((unsigned char)s[1]) != 'b' || lower((unsigned char)s[2]) != 'r')
        return 0;
    if (s[3] == '>')
        return 4;
    if (s[3] == '/' && s[4] == '>')
        return 5;
    if (s[3] == ' ' && s[4] == '/' && s[5] == '>')
        return 6;
    return 0;
}

/* Receives each token (lower-cased, NUL-terminated); returns 0 to go on, 1 to stop, -1 for out of
 * memory (which tokenize returns as -1). */
typedef int (*tok_sink)(void *user, const char *tok, size_t len);

/* The tokens of text, in order, to sink; returns their count (up to the one the sink stopped at,
 * included), or -1 when a buffer or the sink ran out of memory. */
static int64_t tokenize(const char *text, tok_sink sink, void *user)
{
    char small[256], *buf = small;
    size_t cap = sizeof small;
    int64_t count = 0;
    size_t i = 0;
    while (text[i]) {
        unsigned char c = (unsigned char)text[i];
        size_t len;
        if (is_space(c)) {
            i++;
            continue;
        }
        if (c == '<' && (len = br_len(text + i)) > 0) {
            i += len;
            continue;
        }
        if (is_punct(c))
            len = 1;
        else
            for (len = 1; text[i + len] && !is_space((unsigned char)text[i + len]) &&
                          !is_punct((unsigned char)text[i + len]);
                 len++)
                ;
        if (len >= cap) {
            size_t ncap = cap;
            while (ncap <= len)
                ncap *= 2;
            char *n = buf == small ? malloc(ncap) : realloc(buf, ncap);
            if (!n) {
                count = -1;
                break;
            }
            buf = n;
            cap = ncap;
        }
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)lower((unsigned char)text[i + k]);
        buf[len] = '\0';
        i += len;
        count++;
        int r = sink ? sink(user, buf, len) : 0;
        if (r < 0)
            count = -1;
        if (r != 0)
            break;
    }
    if (buf != small)
        free(buf);
    return count;
}

typedef struct public_sink {
    void (*fn)(void *user, const char *tok, size_t len);
    void *user;
} public_sink;

static int call_public(void *user, const char *tok, size_t len)
{
    public_sink *p = user;
    p->fn(p->user, tok, len);
    return 0;
}

int64_t clnn_tokenize(const char *text, void (*fn)(void *user, const char *tok, size_t len),
                      void *user)
{
    if (!text)
        return -1;
    public_sink p = {fn, user};
    return tokenize(text, fn ? call_public : NULL, &p);
}

/* ---- hashing and UTF-8 ----------------------------------------------------------------------- */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

/* The offset of the first byte of s that is not part of valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or (size_t)-1 when all of s is valid. */
static size_t utf8_invalid_at(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (s[i]) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += n + 1;
    }
    return (size_t)-1;
}

/* ---- the vocabulary -------------------------------------------------------------------------- */
struct clnn_vocab {
    int size;
    char **words;     /* (size) into pool */
    size_t *lens;     /* (size) */
    uint64_t *hashes; /* (size) */
    char *pool;
    int32_t *table; /* (mask + 1) ids, -1 empty */
    size_t mask;
};

void clnn_vocab_destroy(clnn_vocab *v)
{
    if (!v)
        return;
    free(v->words);
    free(v->lens);
    free(v->hashes);
    free(v->pool);
    free(v->table);
    free(v);
}

int clnn_vocab_size(const clnn_vocab *v)
{
    return v ? v->size : 0;
}

const char *clnn_vocab_word(const clnn_vocab *v, int id)
{
    if (!v || id < 0 || id >= v->size)
        return NULL;
    return v->words[id];
}

/* The id of the word s[0 .. len), or -1. */
static int vocab_find(const clnn_vocab *v, const char *s, size_t len, uint64_t h)
{
    for (size_t at = (size_t)h & v->mask;; at = (at + 1) & v->mask) {
        int32_t id = v->table[at];
        if (id < 0)
            return -1;
        if (v->hashes[id] == h && v->lens[id] == len && memcmp(v->words[id], s, len) == 0)
            return id;
    }
}

int clnn_vocab_id(const clnn_vocab *v, const char *word)
{
    if (!v || !word)
        return 1;
    size_t len = strlen(word);
    int id = vocab_find(v, word, len, hash_bytes(word, len));
    return id < 0 ? 1 : id;
}

/* A vocabulary of the n words (word i of length lens[i] at words[i]; not checked here), copied.
 * *dup is set to the index of the first word equal to an earlier one (the result is then NULL),
 * else -1. NULL with *dup -1: out of memory. */
static clnn_vocab *vocab_make(int n, const char *const *words, const size_t *lens, int *dup)
{
    *dup = -1;
    clnn_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    size_t chars = 0, cap = 16;
    for (int i = 0; i < n; i++)
        chars += lens[i] + 1;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    v->words = malloc((size_t)n * sizeof *v->words);
    v->lens = malloc((size_t)n * sizeof *v->lens);
    v->hashes = malloc((size_t)n * sizeof *v->hashes);
    v->pool = malloc(chars);
    v->table = malloc(cap * sizeof *v->table);
    if (!v->words || !v->lens || !v->hashes || !v->pool || !v->table) {
        clnn_vocab_destroy(v);
        return NULL;
    }
    v->mask = cap - 1;
    memset(v->table, 0xff, cap * sizeof *v->table);
    char *p = v->pool;
    for (int i = 0; i < n; i++) {
        memcpy(p, words[i], lens[i]);
        p[lens[i]] = '\0';
        uint64_t h = hash_bytes(p, lens[i]);
        if (vocab_find(v, p, lens[i], h) >= 0) {
            *dup = i;
            clnn_vocab_destroy(v);
            return NULL;
        }
        v->words[i] = p;
        v->lens[i] = lens[i];
        v->hashes[i] = h;
        size_t at = (size_t)h & v->mask;
        while (v->table[at] >= 0)
            at = (at + 1) & v->mask;
        v->table[at] = i;
        v->size = i + 1;
        p += lens[i] + 1;
    }
    return v;
}

/* The token counts of vocab_build: entries in order of first appearance, their text in one
 * growing pool, an open-addressing table of entry indices. */
typedef struct counted {
    uint64_t hash;
    size_t at, len; /* the text: pool[at .. at + len) */
    int64_t count;
} counted;

typedef struct counter {
    counted *e;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
    size_t *table; /* entry index + 1, 0 empty */
    size_t mask;
} counter;

static void counter_free(counter *c)
{
    free(c->e);
    free(c->pool);
    free(c->table);
}

static int counter_rehash(counter *c, size_t cap)
{
    size_t *t = calloc(cap, sizeof *t);
    if (!t)
        return 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t at = (size_t)c->e[i].hash & (cap - 1);
        while (t[at])
            at = (at + 1) & (cap - 1);
        t[at] = i + 1;
    }
    free(c->table);
    c->table = t;
    c->mask = cap - 1;
    return 1;
}

static int count_token(void *user, const char *tok, size_t len)
{
    counter *c = user;
    uint64_t h = hash_bytes(tok, len);
    size_t at = (size_t)h & c->mask;
    for (; c->table[at]; at = (at + 1) & c->mask) {
        counted *e = &c->e[c->table[at] - 1];
        if (e->hash == h && e->len == len && memcmp(c->pool + e->at, tok, len) == 0) {
            e->count++;
            return 0;
        }
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap * 2;
        counted *n = realloc(c->e, ncap * sizeof *n);
        if (!n)
            return -1;
        c->e = n;
        c->cap = ncap;
    }
    if (c->pool_len + len > c->pool_cap) {
        size_t ncap = c->pool_cap * 2;
        while (ncap < c->pool_len + len)
            ncap *= 2;
        char *n = realloc(c->pool, ncap);
        if (!n)
            return -1;
        c->pool = n;
        c->pool_cap = ncap;
    }
    memcpy(c->pool + c->pool_len, tok, len);
    c->e[c->n] = (counted){h, c->pool_len, len, 1};
    c->pool_len += len;
    c->table[at] = ++c->n;
    if (2 * c->n > c->mask + 1 && !counter_rehash(c, 2 * (c->mask + 1)))
        return -1;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const counted *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at; /* pool offsets grow with first appearance */
}

clnn_status clnn_vocab_build(const char *const *texts, int64_t n, int max_words, clnn_vocab **out,
                             char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!out)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_vocab_build: expected an out pointer, given NULL");
    *out = NULL;
    if (n < 0 || (n > 0 && !texts))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_vocab_build: expected n >= 0 texts, given n = %lld and texts %s",
                             (long long)n, texts ? "non-NULL" : "NULL");
    if (max_words < 0 || max_words > VOCAB_MAX_SIZE - 2)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_vocab_build: expected max_words from 0 (all) to %d, given %d",
                             VOCAB_MAX_SIZE - 2, max_words);
    for (int64_t i = 0; i < n; i++) {
        if (!texts[i])
            return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                 "clnn_vocab_build: expected text %lld, found NULL", (long long)i);
        size_t bad = utf8_invalid_at(texts[i]);
        if (bad != (size_t)-1)
            return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                 "clnn_vocab_build: text %lld: expected UTF-8, found byte 0x%02x "
                                 "at byte %zu",
                                 (long long)i, (unsigned char)texts[i][bad], bad);
    }
    counter c = {0};
    c.cap = 1024;
    c.pool_cap = 8192;
    c.e = malloc(c.cap * sizeof *c.e);
    c.pool = malloc(c.pool_cap);
    int ok = c.e && c.pool && counter_rehash(&c, 2048);
    for (int64_t i = 0; ok && i < n; i++)
        ok = tokenize(texts[i], count_token, &c) >= 0;
    clnn_vocab *v = NULL;
    const char **words = NULL;
    size_t *lens = NULL;
    if (ok) {
        qsort(c.e, c.n, sizeof *c.e, by_count);
        size_t keep = max_words == 0 ? c.n : (size_t)max_words;
        if (keep > c.n)
            keep = c.n;
        if (keep > VOCAB_MAX_SIZE - 2)
            keep = VOCAB_MAX_SIZE - 2;
        words = malloc((keep + 2) * sizeof *words);
        lens = malloc((keep + 2) * sizeof *lens);
        if (words && lens) {
            words[0] = "<pad>";
            words[1] = "<unk>";
            lens[0] = lens[1] = 5;
            for (size_t k = 0; k < keep; k++) {
                words[k + 2] = c.pool + c.e[k].at;
                lens[k + 2] = c.e[k].len;
            }
            int dup;
            v = vocab_make((int)keep + 2, words, lens, &dup); /* no duplicates: tokens never
                                                               * contain '<' */
        }
    }
    free(words);
    free(lens);
    counter_free(&c);
    if (!v)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "clnn_vocab_build: out of host memory");
    *out = v;
    return CLNN_OK;
}

typedef struct encoder {
    const clnn_vocab *v;
    float *ids;
    int64_t max_len, n; /* n: tokens seen (keep_last) or written */
    int keep_last;      /* ids is a ring of the last max_len tokens */
} encoder;

static int encode_token(void *user, const char *tok, size_t len)
{
    encoder *e = user;
    if (e->n == e->max_len && !e->keep_last)
        return 1;
    int id = vocab_find(e->v, tok, len, hash_bytes(tok, len));
    e->ids[e->n++ % e->max_len] = (float)(id < 0 ? 1 : id);
    return 0;
}

static void reverse_floats(float *a, int64_t n)
{
    for (int64_t i = 0, j = n - 1; i < j; i++, j--) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int64_t clnn_vocab_encode_ex(const clnn_vocab *v, const char *text, int64_t max_len,
                             clnn_truncate truncate, float *ids)
{
    if (!v || !text || max_len < 0 || (max_len > 0 && !ids) ||
        (truncate != CLNN_TRUNCATE_END && truncate != CLNN_TRUNCATE_START))
        return -1;
    encoder e = {v, ids, max_len, 0, truncate == CLNN_TRUNCATE_START};
    if (max_len > 0 && tokenize(text, encode_token, &e) < 0)
        return -1;
    if (e.n > max_len) { /* the ring's oldest token is at n % max_len: rotate it to the front */
        int64_t k = e.n % max_len;
        reverse_floats(ids, k);
        reverse_floats(ids + k, max_len - k);
        reverse_floats(ids, max_len);
        e.n = max_len;
    }
    for (int64_t i = e.n; i < max_len; i++)
        ids[i] = 0.0f;
    return e.n;
}

int64_t clnn_vocab_encode(const clnn_vocab *v, const char *text, int64_t max_len, float *ids)
{
    return clnn_vocab_encode_ex(v, text, max_len, CLNN_TRUNCATE_END, ids);
}

char *clnn_vocab_to_json(const clnn_vocab *v)
{
    if (!v)
        return NULL;
    clnn__buf b = {0};
    clnn__buf_printf(&b, "[");
    for (int i = 0; i < v->size; i++) {
        if (i)
            clnn__buf_printf(&b, ",");
        clnn__buf_json_string(&b, v->words[i]);
    }
    clnn__buf_printf(&b, "]");
    if (b.oom) {
        clnn__buf_free(&b);
        return NULL;
    }
    return b.data;
}

clnn_status clnn_vocab_from_json(const char *json, clnn_vocab **out, char *err, size_t err_size)
{
    static const char *src = "clnn_vocab_from_json";
    clnn__io_clear(err, err_size);
    if (!json || !out)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "%s: expected JSON text and an out pointer, given NULL", src);
    *out = NULL;
    clnn__json *root;
    clnn_status s = clnn__json_parse(json, strlen(json), src, &root, err, err_size);
    if (s != CLNN_OK)
        return s;
    size_t n = clnn__json_len(root);
    if (clnn__json_type_of(root) != CLNN__JSON_ARRAY || n < 2 || n > VOCAB_MAX_SIZE) {
        if (clnn__json_type_of(root) != CLNN__JSON_ARRAY)
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: expected an array of words, found %s", src,
                              clnn__json_type_name(root));
        else
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: expected 2 to %d words, found %zu", src, VOCAB_MAX_SIZE, n);
        clnn__json_free(root);
        return s;
    }
    const char **words = malloc(n * sizeof *words);
    size_t *lens = malloc(n * sizeof *lens);
    if (!words || !lens) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const clnn__json *w = clnn__json_at(root, i);
        words[i] = clnn__json_string(w);
        if (!words[i]) {
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: word %zu: expected a string, found %s", src, i,
                              clnn__json_type_name(w));
            goto done;
        }
        lens[i] = strlen(words[i]);
        if (lens[i] == 0) {
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: word %zu: expected a non-empty string, found \"\"", src, i);
            goto done;
        }
    }
    if (strcmp(words[0], "<pad>") != 0 || strcmp(words[1], "<unk>") != 0) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                          "%s: expected \"<pad>\" and \"<unk>\" as words 0 and 1, found \"%.40s\" "
                          "and \"%.40s\"",
                          src, words[0], words[1]);
        goto done;
    }
    int dup;
    clnn_vocab *v = vocab_make((int)n, words, lens, &dup);
    if (!v) {
        if (dup >= 0)
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: word %d: expected unique words, found \"%.40s\" again", src, dup,
                              words[dup]);
        else
            s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
        goto done;
    }
    *out = v;
done:
    free(words);
    free(lens);
    clnn__json_free(root);
    return s;
}

/* ---- labelled text sets and the IMDB reviews ------------------------------------------------- */
void clnn_text_set_destroy(clnn_text_set *s)
{
    if (!s)
        return;
    if (s->texts)
        for (int64_t i = 0; i < s->n; i++)
            free(s->texts[i]);
    free(s->texts);
    free(s->labels);
    free(s);
}

/* An empty set with room for n texts (every pointer NULL), or NULL. */
static clnn_text_set *text_set_new(int64_t n)
{
    clnn_text_set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->texts = calloc(n > 0 ? (size_t)n : 1, sizeof *s->texts);
    s->labels = calloc(n > 0 ? (size_t)n : 1, sizeof *s->labels);
    if (!s->texts || !s->labels) {
        clnn_text_set_destroy(s);
        return NULL;
    }
    s->n = n;
    return s;
}

/* order[0..n-1] = a permutation of 0..n-1 that depends only on (seed, n). */
static void permutation(int64_t *order, int64_t n, uint64_t seed)
{
    clnn__rng r;
    clnn__rng_seed_stream(&r, seed, IMDB_STREAM);
    clnn__permutation(order, n, &r);
}

/* Checks element i of the reviews; its text and label in *t and *label. */
static clnn_status check_review(const clnn__json *e, size_t i, const char *path, const char **t,
                                int32_t *label, char *err, size_t err_size)
{
    if (clnn__json_type_of(e) != CLNN__JSON_OBJECT)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: element %zu: expected an object {\"t\": text, \"s\": 0 or 1}, "
                             "found %s",
                             path, i, clnn__json_type_name(e));
    const clnn__json *jt = clnn__json_get(e, "t"), *js = clnn__json_get(e, "s");
    if (!jt || clnn__json_type_of(jt) != CLNN__JSON_STRING)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: element %zu: expected a string \"t\" (the text), found %s", path,
                             i, jt ? clnn__json_type_name(jt) : "none");
    if (!js)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: element %zu: expected a label \"s\" (0 or 1), found none", path,
                             i);
    int ok = 0;
    int64_t s = clnn__json_int(js, &ok);
    if (clnn__json_type_of(js) != CLNN__JSON_NUMBER || !ok || (s != 0 && s != 1)) {
        if (clnn__json_type_of(js) == CLNN__JSON_NUMBER && ok)
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s: element %zu: expected a label \"s\" of 0 or 1, found %lld",
                                 path, i, (long long)s);
        if (clnn__json_type_of(js) == CLNN__JSON_NUMBER)
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s: element %zu: expected a label \"s\" of 0 or 1, found %g "
                                 "(not written as an integer)",
                                 path, i, clnn__json_number(js));
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: element %zu: expected a label \"s\" of 0 or 1, found %s", path, i,
                             clnn__json_type_name(js));
    }
    *t = clnn__json_string(jt);
    *label = (int32_t)s;
    return CLNN_OK;
}

/* The index of the element of the top-level array of text that byte pos is in (or before), by a
 * scan of the raw text that follows strings and nesting; -1 when pos is not inside the array. */
static int64_t element_at(const char *text, size_t len, size_t pos)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i >= len || text[i] != '[' || pos <= i)
        return -1;
    int64_t k = 0;
    size_t depth = 0;
    int in_string = 0;
    for (; i < pos && i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"')
            in_string = 1;
        else if (c == '[' || c == '{')
            depth++;
        else if (c == ']' || c == '}') {
            if (--depth == 0)
                return -1; /* pos is after the array */
        } else if (c == ',' && depth == 1)
            k++;
    }
    return k;
}

/* clnn__json_parse of the reviews file; a syntax error's message also names the element it is
 * in ("<path>: element 12: expected ..., got ... at byte N"), found from the byte offset. */
static clnn_status parse_reviews(const char *text, size_t len, const char *path, clnn__json **root,
                                 char *err, size_t err_size)
{
    char msg[1024];
    clnn_status s = clnn__json_parse(text, len, path, root, msg, sizeof msg);
    if (s == CLNN_OK)
        return CLNN_OK;
    const char *at = NULL, *p = msg;
    while ((p = strstr(p, " at byte ")) != NULL)
        at = p++;
    size_t plen = strlen(path);
    int64_t k = -1;
    if (s == CLNN_ERR_FORMAT && at && strncmp(msg, path, plen) == 0 && msg[plen] == ':') {
        char *end;
        errno = 0;
        unsigned long long pos = strtoull(at + 9, &end, 10);
        if (end != at + 9 && errno == 0 && pos <= len)
            k = element_at(text, len, (size_t)pos);
    }
    if (k < 0)
        return clnn__io_fail(err, err_size, s, "%s", msg);
    return clnn__io_fail(err, err_size, s, "%s: element %lld:%s", path, (long long)k,
                         msg + plen + 1);
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

clnn_status clnn_imdb_read(const char *path, uint64_t seed, int64_t n_train, clnn_text_set **train,
                           clnn_text_set **test, char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!path || !train || !test)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_imdb_read: expected a path and two out pointers, given NULL");
    *train = *test = NULL;
    if (n_train < 0)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_imdb_read: expected n_train >= 0 (0: the default), given %lld",
                             (long long)n_train);
    char *text;
    size_t len = 0;
    clnn_status s = clnn__io_read_file(path, "reviews file", &text, &len, err, err_size);
    if (s != CLNN_OK)
        return s;
    clnn__json *root;
    s = parse_reviews(text, len, path, &root, err, err_size);
    free(text);
    if (s != CLNN_OK)
        return s;
    size_t n = clnn__json_len(root);
    int64_t *order = NULL;
    clnn_text_set *tr = NULL, *te = NULL;
    if (clnn__json_type_of(root) != CLNN__JSON_ARRAY || n == 0) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                          "%s: expected a non-empty array of reviews {\"t\": text, \"s\": 0 or 1}, "
                          "found %s",
                          path,
                          clnn__json_type_of(root) == CLNN__JSON_ARRAY
                              ? "an empty array"
                              : clnn__json_type_name(root));
        goto done;
    }
    const char *t;
    int32_t label;
    for (size_t i = 0; i < n; i++) {
        s = check_review(clnn__json_at(root, i), i, path, &t, &label, err, err_size);
        if (s != CLNN_OK)
            goto done;
    }
    if (n_train == 0)
        n_train = n >= 50000 ? 25000 : (int64_t)(n / 2);
    if ((uint64_t)n_train > n) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                          "%s: expected n_train from 0 to the %zu reviews of the file, given %lld",
                          path, n, (long long)n_train);
        goto done;
    }
    order = malloc(n * sizeof *order);
    tr = text_set_new(n_train);
    te = text_set_new((int64_t)n - n_train);
    if (!order || !tr || !te) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
        goto done;
    }
    permutation(order, (int64_t)n, seed);
    for (size_t k = 0; k < n; k++) {
        clnn_text_set *set = (int64_t)k < n_train ? tr : te;
        int64_t at = (int64_t)k < n_train ? (int64_t)k : (int64_t)k - n_train;
        check_review(clnn__json_at(root, (size_t)order[k]), (size_t)order[k], path, &t, &label,
                     NULL, 0);
        set->texts[at] = dup_string(t);
        set->labels[at] = label;
        if (!set->texts[at]) {
            s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
            goto done;
        }
    }
    *train = tr;
    *test = te;
    tr = te = NULL;
done:
    clnn_text_set_destroy(tr);
    clnn_text_set_destroy(te);
    free(order);
    clnn__json_free(root);
    return s;
}
