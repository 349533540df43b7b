/* test_text.c — the "text" check suite: the tokenizer (the header's example, HTML line breaks,
 * punctuation, UTF-8 bytes, empty and blank texts), the vocabulary (frequencies, ties by first
 * appearance, max_words below and above the distinct words, <unk>, encode with padding and
 * truncation, the JSON round trip and malformed JSON vocabularies) and the IMDB reader on small
 * synthetic files written into a mkdtemp directory (split sizes, seeded shuffles, every malformed
 * element with its index in the message, missing files). The real data (tools/fetch-data) is not
 * read here. No OpenCL: nothing here touches a device. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"

/* ---- a temporary directory per test ------------------------------------------------------- */
static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clnn_test_text_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp(%s) failed", tmpdir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
}

/* ---- the tokenizer ------------------------------------------------------------------------- */
/* The tokens joined by '|' (tokens here never contain '|' except as the token "|"). */
typedef struct joined {
    char s[512];
    size_t len;
    int calls;
} joined;

static void join_token(void *user, const char *tok, size_t len)
{
    joined *j = user;
    ck_assert_uint_eq(strlen(tok), len); /* NUL-terminated, no NUL inside */
    ck_assert_uint_lt(j->len + len + 2, sizeof j->s);
    if (j->calls++)
        j->s[j->len++] = '|';
    memcpy(j->s + j->len, tok, len);
    j->len += len;
    j->s[j->len] = '\0';
}

static const struct tok_case {
    const char *text, *tokens; /* tokens joined by '|' */
} tok_cases[] = {
    {"Don't stop!", "don|'|t|stop|!"},
    {"Hello<br>World", "hello|world"},
    {"Hello<br/>World", "hello|world"},
    {"Hello<br />World", "hello|world"},
    {"one<BR>two<Br/>three<bR />four", "one|two|three|four"},
    {"<br /><br />Great film.<br /><br />", "great|film|."},
    {"<br  />", "<|br|/|>"}, /* two spaces: not a line break */
    {"<b>bold</b>", "<|b|>|bold|<|/|b|>"},
    {"end <br", "end|<|br"},
    {"<br/", "<|br|/"},
    {"<", "<"},
    {"a,b.c!?;:", "a|,|b|.|c|!|?|;|:"},
    {"...", ".|.|."},
    {"(x)[y]{z}\"q\"", "(|x|)|[|y|]|{|z|}|\"|q|\""},
    {"#$%&*+-/=@\\^_`|~", "#|$|%|&|*|+|-|/|=|@|\\|^|_|`|||~"},
    {"I give it 10/10", "i|give|it|10|/|10"},
    {"MiXeD CASE", "mixed|case"},
    {"Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 ok", "caf\xc3\xa9|na\xc3\xafve|\xe2\x80\x94|ok"},
    {"CAF\xc3\x89!", "caf\xc3\x89|!"}, /* only ASCII letters are lower-cased */
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e,x", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e|,|x"},
    {"a\x01"
     "b c\x7f",
     "a\x01"
     "b|c\x7f"}, /* control bytes stay in words */
    {" \t\n\v\f\r spaced \t out\r\n", "spaced|out"},
    {"", ""},
    {"   \t\n\r\v\f  ", ""},
    {"<br><BR/><br />", ""},
};
#define NTOK_CASES ((int)(sizeof tok_cases / sizeof tok_cases[0]))

START_TEST(test_tokenize_cases)
{
    const struct tok_case *c = &tok_cases[_i];
    joined j = {{0}, 0, 0};
    int64_t n = clnn_tokenize(c->text, join_token, &j);
    ck_assert_msg(strcmp(j.s, c->tokens) == 0, "case %d: got \"%s\", expected \"%s\"", _i, j.s,
                  c->tokens);
    ck_assert_int_eq(n, j.calls);
    ck_assert_int_eq(clnn_tokenize(c->text, NULL, NULL), n); /* counting only */
}
END_TEST

/* Records the lengths of the first 4 tokens; checks a long token is lower-case. */
static void record_length(void *user, const char *tok, size_t len)
{
    size_t *lens = user;
    static int k;
    if (tok[0] == 'x')
        k = 0;
    if (k < 4)
        lens[k++] = len;
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(!(tok[i] >= 'A' && tok[i] <= 'Z'), "upper case at %zu", i);
    ck_assert_uint_eq(strlen(tok), len);
}

START_TEST(test_tokenize_long_and_null)
{
    /* a word longer than the tokenizer's stack buffer */
    size_t len = 5000;
    char *text = malloc(len + 8);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "x ", 2);
    for (size_t i = 0; i < len; i++)
        text[2 + i] = (char)('A' + i % 26);
    strcpy(text + 2 + len, " y!");
    size_t lens[4] = {0};
    ck_assert_int_eq(clnn_tokenize(text, record_length, lens), 4);
    ck_assert_uint_eq(lens[0], 1);
    ck_assert_uint_eq(lens[1], len);
    ck_assert_uint_eq(lens[2], 1);
    ck_assert_uint_eq(lens[3], 1);
    free(text);
    ck_assert_int_eq(clnn_tokenize(NULL, NULL, NULL), -1);
}
END_TEST

/* ---- the vocabulary ------------------------------------------------------------------------ */
static clnn_vocab *build(const char *const *texts, int64_t n, int max_words)
{
    char err[256];
    clnn_vocab *v = NULL;
    clnn_status s = clnn_vocab_build(texts, n, max_words, &v, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "clnn_vocab_build: %s: %s", clnn_status_name(s), err);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_nonnull(v);
    return v;
}

static void expect_words(const clnn_vocab *v, const char *const *words, int n)
{
    ck_assert_int_eq(clnn_vocab_size(v), n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(strcmp(clnn_vocab_word(v, i), words[i]) == 0,
                      "word %d: got \"%s\", expected \"%s\"", i, clnn_vocab_word(v, i), words[i]);
        ck_assert_int_eq(clnn_vocab_id(v, words[i]), i);
    }
    ck_assert_ptr_null(clnn_vocab_word(v, n));
    ck_assert_ptr_null(clnn_vocab_word(v, -1));
}

/* counts: b 3, a 2 ("a", "A"), c 2, d 1, e 1; first appearance b, a, c, d, e */
static const char *const abc[] = {"b a b c", "c B d", "A e"};

START_TEST(test_vocab_frequencies)
{
    clnn_vocab *v = build(abc, 3, 3);
    expect_words(v, (const char *const[]){"<pad>", "<unk>", "b", "a", "c"}, 5);
    ck_assert_int_eq(clnn_vocab_id(v, "d"), 1);
    ck_assert_int_eq(clnn_vocab_id(v, "e"), 1);
    ck_assert_int_eq(clnn_vocab_id(v, "B"), 1); /* exact: words are lower-case tokens */
    ck_assert_int_eq(clnn_vocab_id(v, ""), 1);
    ck_assert_int_eq(clnn_vocab_id(v, NULL), 1);
    clnn_vocab_destroy(v);

    /* more room than distinct words, and 0 (all) */
    const char *const all[] = {"<pad>", "<unk>", "b", "a", "c", "d", "e"};
    v = build(abc, 3, 100);
    expect_words(v, all, 7);
    clnn_vocab_destroy(v);
    v = build(abc, 3, 0);
    expect_words(v, all, 7);
    clnn_vocab_destroy(v);
    v = build(abc, 3, 5);
    expect_words(v, all, 7);
    clnn_vocab_destroy(v);

    /* ties by first appearance, not by spelling: zeta 2, alpha 2, mid 1, omega 1 */
    const char *const ties[] = {"zeta alpha", "mid alpha zeta omega"};
    v = build(ties, 2, 3);
    expect_words(v, (const char *const[]){"<pad>", "<unk>", "zeta", "alpha", "mid"}, 5);
    clnn_vocab_destroy(v);

    /* no texts: only the reserved words */
    v = build(NULL, 0, 10);
    expect_words(v, (const char *const[]){"<pad>", "<unk>"}, 2);
    clnn_vocab_destroy(v);

    /* many distinct words (the hash table grows): w0 .. w2999, wK appearing K % 7 + 1 times */
    enum { NW = 3000 };
    static char buf[NW][16];
    const char *texts[NW];
    for (int k = 0; k < NW; k++) {
        snprintf(buf[k], sizeof buf[k], "w%d", k);
        texts[k] = buf[k];
    }
    char *big = malloc(NW * 7 * 8);
    ck_assert_ptr_nonnull(big);
    size_t at = 0;
    for (int k = 0; k < NW; k++)
        for (int r = 0; r < k % 7 + 1; r++)
            at += (size_t)sprintf(big + at, "%s ", texts[k]);
    const char *one[] = {big};
    v = build(one, 1, 0);
    ck_assert_int_eq(clnn_vocab_size(v), NW + 2);
    /* the most frequent (7 times): w6, w13, w20, ... in order; then 6 times: w5, w12, ... */
    ck_assert_str_eq(clnn_vocab_word(v, 2), "w6");
    ck_assert_str_eq(clnn_vocab_word(v, 3), "w13");
    int per = NW / 7 + (NW % 7 > 6); /* words with k % 7 == 6 */
    ck_assert_str_eq(clnn_vocab_word(v, 2 + per), "w5");
    for (int k = 0; k < NW; k++) {
        int id = clnn_vocab_id(v, texts[k]);
        ck_assert_int_ge(id, 2);
        ck_assert_str_eq(clnn_vocab_word(v, id), texts[k]);
    }
    clnn_vocab_destroy(v);
    free(big);
    clnn_vocab_destroy(NULL);
    ck_assert_int_eq(clnn_vocab_size(NULL), 0);
    ck_assert_ptr_null(clnn_vocab_word(NULL, 0));
    ck_assert_int_eq(clnn_vocab_id(NULL, "a"), 1);
}
END_TEST

START_TEST(test_vocab_build_errors)
{
    char err[256];
    clnn_vocab *v = (clnn_vocab *)1;
    ck_assert_int_eq(clnn_vocab_build(abc, 3, 10, NULL, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "clnn_vocab_build");
    ck_assert_int_eq(clnn_vocab_build(abc, -1, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_ptr_null(v);
    EXPECT_CONTAINS(err, "n = -1");
    ck_assert_int_eq(clnn_vocab_build(NULL, 2, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "NULL");
    ck_assert_int_eq(clnn_vocab_build(abc, 3, -1, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "given -1");
    ck_assert_int_eq(clnn_vocab_build(abc, 3, 1 << 24, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "max_words");
    const char *with_null[] = {"a", NULL};
    ck_assert_int_eq(clnn_vocab_build(with_null, 2, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "text 1");
    const char *bad_utf8[] = {"fine", "ok caf\xe9 latin-1"};
    ck_assert_int_eq(clnn_vocab_build(bad_utf8, 2, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "text 1");
    EXPECT_CONTAINS(err, "0xe9 at byte 6");
    ck_assert_ptr_null(v);
    const char *surrogate[] = {"\xed\xa0\x80"};
    ck_assert_int_eq(clnn_vocab_build(surrogate, 1, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    const char *overlong[] = {"\xc0\xaf"};
    ck_assert_int_eq(clnn_vocab_build(overlong, 1, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    const char *cut[] = {"ab\xe2\x80"};
    ck_assert_int_eq(clnn_vocab_build(cut, 1, 10, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "byte 2");
    /* no err buffer at all */
    ck_assert_int_eq(clnn_vocab_build(cut, 1, 10, &v, NULL, 0), CLNN_ERR_INVALID);
}
END_TEST

START_TEST(test_vocab_encode)
{
    clnn_vocab *v = build(abc, 3, 3); /* <pad> <unk> b a c */
    float ids[8];
    for (int i = 0; i < 8; i++)
        ids[i] = -7.0f;
    /* padding: "A b zz c" -> a b <unk> c, then 0 */
    ck_assert_int_eq(clnn_vocab_encode(v, "A b zz c", 6, ids), 4);
    const float want[] = {3, 2, 1, 4, 0, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(ids[i], want[i]);
    ck_assert_float_eq(ids[6], -7.0f); /* nothing past max_len */
    /* truncation: the first max_len tokens */
    ck_assert_int_eq(clnn_vocab_encode(v, "c c b a a a", 3, ids), 3);
    ck_assert_float_eq(ids[0], 4);
    ck_assert_float_eq(ids[1], 4);
    ck_assert_float_eq(ids[2], 2);
    /* exactly max_len tokens */
    ck_assert_int_eq(clnn_vocab_encode(v, "b, a", 3, ids), 3);
    ck_assert_float_eq(ids[1], 1); /* "," is unknown */
    /* empty text: all padding */
    ck_assert_int_eq(clnn_vocab_encode(v, " <br /> ", 4, ids), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(ids[i], 0);
    /* max_len 0 writes nothing, ids may be NULL */
    ck_assert_int_eq(clnn_vocab_encode(v, "a b", 0, NULL), 0);
    /* bad arguments: -1, ids untouched */
    ids[0] = -7.0f;
    ck_assert_int_eq(clnn_vocab_encode(NULL, "a", 4, ids), -1);
    ck_assert_int_eq(clnn_vocab_encode(v, NULL, 4, ids), -1);
    ck_assert_int_eq(clnn_vocab_encode(v, "a", -1, ids), -1);
    ck_assert_int_eq(clnn_vocab_encode(v, "a", 4, NULL), -1);
    ck_assert_float_eq(ids[0], -7.0f);
    clnn_vocab_destroy(v);
}
END_TEST

/* CLNN_TRUNCATE_START keeps the last max_len tokens (Keras pad_sequences' default), in order,
 * for every length around max_len (the ring buffer's rotation), with the padding after them */
START_TEST(test_vocab_encode_keep_last)
{
    clnn_vocab *v = build(abc, 3, 3); /* <pad> <unk> b a c */
    const char *words[] = {"a", "b", "c", "zz"};
    const float id_of[] = {3, 2, 4, 1};
    for (int len = 0; len <= 11; len++) {
        char text[64] = "";
        float want[16];
        for (int i = 0; i < len; i++) {
            int w = (i * 7 + 3) % 4;
            strcat(text, words[w]);
            strcat(text, " ");
            want[i] = id_of[w];
        }
        for (int64_t max_len = 1; max_len <= 5; max_len++) {
            float ids[8];
            for (int i = 0; i < 8; i++)
                ids[i] = -7.0f;
            int64_t kept = len < max_len ? len : max_len;
            ck_assert_int_eq(clnn_vocab_encode_ex(v, text, max_len, CLNN_TRUNCATE_START, ids), kept);
            for (int64_t i = 0; i < kept; i++)
                ck_assert_msg(ids[i] == want[len - kept + i],
                              "'%s', max_len %lld: id %lld is %g, expected %g", text,
                              (long long)max_len, (long long)i, (double)ids[i],
                              (double)want[len - kept + i]);
            for (int64_t i = kept; i < max_len; i++)
                ck_assert_float_eq(ids[i], 0);
            ck_assert_float_eq(ids[max_len], -7.0f);
            /* CLNN_TRUNCATE_END: clnn_vocab_encode's first tokens */
            ck_assert_int_eq(clnn_vocab_encode_ex(v, text, max_len, CLNN_TRUNCATE_END, ids), kept);
            for (int64_t i = 0; i < kept; i++)
                ck_assert_float_eq(ids[i], want[i]);
        }
    }
    float ids[4] = {-7.0f};
    ck_assert_int_eq(clnn_vocab_encode_ex(v, "a", 4, (clnn_truncate)2, ids), -1);
    ck_assert_float_eq(ids[0], -7.0f);
    clnn_vocab_destroy(v);
}
END_TEST

START_TEST(test_vocab_json_round_trip)
{
    /* words that need escaping: '"' and '\\' (punctuation tokens), a control byte, UTF-8 */
    const char *texts[] = {"say \"hi\" \\ back", "na\xc3\xafve x\x01y \xf0\x9f\x98\x80 \"",
                           "tab\x1f"};
    clnn_vocab *v = build(texts, 3, 0);
    char *json = clnn_vocab_to_json(v);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strncmp(json, "[\"<pad>\",\"<unk>\",\"\\\"\"", 20) == 0, "got %s", json);
    EXPECT_CONTAINS(json, "\"\\\\\"");
    EXPECT_CONTAINS(json, "\\u0001");
    char err[256];
    clnn_vocab *w = NULL;
    clnn_status s = clnn_vocab_from_json(json, &w, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "from_json: %s: %s (JSON %s)", clnn_status_name(s), err, json);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(clnn_vocab_size(w), clnn_vocab_size(v));
    for (int i = 0; i < clnn_vocab_size(v); i++) {
        ck_assert_str_eq(clnn_vocab_word(w, i), clnn_vocab_word(v, i));
        ck_assert_int_eq(clnn_vocab_id(w, clnn_vocab_word(v, i)), i);
    }
    char *again = clnn_vocab_to_json(w);
    ck_assert_str_eq(again, json);
    free(again);
    free(json);
    clnn_vocab_destroy(w);
    clnn_vocab_destroy(v);

    /* written by hand: escapes, whitespace, words the tokenizer never makes */
    s = clnn_vocab_from_json(" [ \"<pad>\" , \"<unk>\", \"caf\\u00e9\", \"\\ud83d\\ude00\", "
                             "\"Two Words\"]\n",
                             &w, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "%s", err);
    ck_assert_int_eq(clnn_vocab_size(w), 5);
    ck_assert_int_eq(clnn_vocab_id(w, "caf\xc3\xa9"), 2);
    ck_assert_int_eq(clnn_vocab_id(w, "\xf0\x9f\x98\x80"), 3);
    ck_assert_int_eq(clnn_vocab_id(w, "Two Words"), 4);
    float ids[4];
    ck_assert_int_eq(clnn_vocab_encode(w, "CAF\xc3\xa9 \xf0\x9f\x98\x80!", 4, ids), 3);
    ck_assert_float_eq(ids[0], 2);
    ck_assert_float_eq(ids[1], 3);
    ck_assert_float_eq(ids[2], 1);
    ck_assert_float_eq(ids[3], 0);
    clnn_vocab_destroy(w);
    ck_assert_ptr_null(clnn_vocab_to_json(NULL));
}
END_TEST

static const struct json_case {
    const char *json, *message; /* the message must contain this */
} json_cases[] = {
    {"", "expected"},
    {"   ", "expected"},
    {"{}", "expected an array of words, found an object"},
    {"\"<pad>\"", "found a string"},
    {"[]", "expected 2 to"},
    {"[\"<pad>\"]", "found 1"},
    {"[\"<unk>\",\"<pad>\"]", "\"<pad>\" and \"<unk>\" as words 0 and 1"},
    {"[\"<pad>\",\"x\"]", "words 0 and 1"},
    {"[\"<pad>\",\"<unk>\",1]", "word 2: expected a string, found a number"},
    {"[\"<pad>\",\"<unk>\",\"a\",null]", "word 3: expected a string, found null"},
    {"[\"<pad>\",\"<unk>\",[\"a\"]]", "word 2: expected a string, found an array"},
    {"[\"<pad>\",\"<unk>\",\"a\",\"b\",\"a\"]", "word 4: expected unique words, found \"a\" again"},
    {"[\"<pad>\",\"<unk>\",\"<pad>\"]", "word 2: expected unique words"},
    {"[\"<pad>\",\"<unk>\",\"\"]", "word 2: expected a non-empty string"},
    {"[\"<pad>\",\"<unk>\",\"a\"", "at byte"},
    {"[\"<pad>\",\"<unk>\",\"a", "at byte"},
    {"[\"<pad>\",\"<unk>\",\"a\"] x", "at byte 22"},
    {"[\"<pad>\",\"<unk>\",\"\xff\"]", "UTF-8"},
    {"[\"<pad>\",\"<unk>\",\"a\\u0000\"]", "at byte"},
    {"[\"<pad>\",\"<unk>\",\"a\",]", "at byte"},
};
#define NJSON_CASES ((int)(sizeof json_cases / sizeof json_cases[0]))

START_TEST(test_vocab_json_errors)
{
    const struct json_case *c = &json_cases[_i];
    char err[256];
    clnn_vocab *v = (clnn_vocab *)1;
    clnn_status s = clnn_vocab_from_json(c->json, &v, err, sizeof err);
    ck_assert_msg(s == CLNN_ERR_FORMAT, "case %d (%s): got %s (%s)", _i, c->json,
                  clnn_status_name(s), err);
    ck_assert_ptr_null(v);
    EXPECT_CONTAINS(err, "clnn_vocab_from_json");
    EXPECT_CONTAINS(err, c->message);
    if (getenv("TEST_TEXT_VERBOSE"))
        printf("vocab case %d: %s\n", _i, err);
}
END_TEST

START_TEST(test_vocab_json_null)
{
    char err[256];
    clnn_vocab *v = (clnn_vocab *)1;
    ck_assert_int_eq(clnn_vocab_from_json(NULL, &v, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "NULL");
    ck_assert_int_eq(clnn_vocab_from_json("[\"<pad>\",\"<unk>\"]", NULL, err, sizeof err),
                     CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_vocab_from_json("[\"<pad>\",\"<unk>\"]", &v, NULL, 0), CLNN_OK);
    ck_assert_int_eq(clnn_vocab_size(v), 2);
    clnn_vocab_destroy(v);
}
END_TEST

/* ---- the IMDB reader ----------------------------------------------------------------------- */
/* n reviews "review K ..." with K = 0 .. n-1, the first half label 0, sorted as the real file. */
static void write_reviews(const char *path, int n)
{
    size_t cap = (size_t)n * 64 + 16, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text + len, cap - len, "[");
    for (int k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"t\":\"review %d<br />is \\\"ok\\\"\","
                                "\"s\":%d}",
                                k ? "," : "", k, k < n / 2 ? 0 : 1);
    len += (size_t)snprintf(text + len, cap - len, "]\n");
    write_file(path, text, len);
    free(text);
}

static void read_ok(const char *path, uint64_t seed, int64_t n_train, clnn_text_set **train,
                    clnn_text_set **test)
{
    char err[256];
    clnn_status s = clnn_imdb_read(path, seed, n_train, train, test, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "clnn_imdb_read: %s: %s", clnn_status_name(s), err);
    ck_assert_str_eq(err, "");
}

/* The review number of a text "review K ...". */
static int review_number(const char *t)
{
    int k = -1;
    ck_assert_int_eq(sscanf(t, "review %d", &k), 1);
    return k;
}

/* train and test together hold each of the n reviews once, with its label. */
static void expect_partition(const clnn_text_set *train, const clnn_text_set *test, int n)
{
    ck_assert_int_eq(train->n + test->n, n);
    char *seen = calloc((size_t)n, 1);
    int labels[2][2] = {{0, 0}, {0, 0}};
    for (int part = 0; part < 2; part++) {
        const clnn_text_set *s = part ? test : train;
        for (int64_t i = 0; i < s->n; i++) {
            int k = review_number(s->texts[i]);
            ck_assert_int_ge(k, 0);
            ck_assert_int_lt(k, n);
            ck_assert_int_eq(seen[k], 0);
            seen[k] = 1;
            ck_assert_int_eq(s->labels[i], k < n / 2 ? 0 : 1);
            labels[part][s->labels[i]]++;
            char want[64];
            snprintf(want, sizeof want, "review %d<br />is \"ok\"", k);
            ck_assert_str_eq(s->texts[i], want);
        }
    }
    free(seen);
    if (train->n >= 8 && test->n >= 8) /* shuffled: both labels on both sides */
        for (int part = 0; part < 2; part++)
            ck_assert_msg(labels[part][0] > 0 && labels[part][1] > 0, "%s has labels 0: %d, 1: %d",
                          part ? "test" : "train", labels[part][0], labels[part][1]);
}

START_TEST(test_imdb_split)
{
    const char *path = tmp_path("reviews.json");
    write_reviews(path, 40);
    clnn_text_set *train, *test;
    read_ok(path, 7, 0, &train, &test); /* default: half */
    ck_assert_int_eq(train->n, 20);
    ck_assert_int_eq(test->n, 20);
    expect_partition(train, test, 40);

    /* the same seed: the same order */
    clnn_text_set *train2, *test2;
    read_ok(path, 7, 0, &train2, &test2);
    for (int64_t i = 0; i < 20; i++) {
        ck_assert_str_eq(train->texts[i], train2->texts[i]);
        ck_assert_str_eq(test->texts[i], test2->texts[i]);
    }
    clnn_text_set_destroy(train2);
    clnn_text_set_destroy(test2);

    /* another seed: another order */
    read_ok(path, 8, 0, &train2, &test2);
    int same = 0;
    for (int64_t i = 0; i < 20; i++)
        same += strcmp(train->texts[i], train2->texts[i]) == 0;
    ck_assert_int_lt(same, 20);
    expect_partition(train2, test2, 40);
    clnn_text_set_destroy(train2);
    clnn_text_set_destroy(test2);

    /* the order is the first n_train of one permutation: n_train changes only the cut */
    read_ok(path, 7, 30, &train2, &test2);
    ck_assert_int_eq(train2->n, 30);
    ck_assert_int_eq(test2->n, 10);
    for (int64_t i = 0; i < 20; i++)
        ck_assert_str_eq(train->texts[i], train2->texts[i]);
    ck_assert_str_eq(train2->texts[20], test->texts[0]);
    ck_assert_str_eq(test2->texts[0], test->texts[10]);
    expect_partition(train2, test2, 40);
    clnn_text_set_destroy(train2);
    clnn_text_set_destroy(test2);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);

    /* all in train: an empty test set */
    read_ok(path, 1, 40, &train, &test);
    ck_assert_int_eq(train->n, 40);
    ck_assert_int_eq(test->n, 0);
    expect_partition(train, test, 40);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);

    /* one review: the default split is 0 / 1 */
    write_reviews(path, 1);
    read_ok(path, 1, 0, &train, &test);
    ck_assert_int_eq(train->n, 0);
    ck_assert_int_eq(test->n, 1);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);

    /* too many for the file, negative */
    char err[256];
    write_reviews(path, 10);
    train = test = (clnn_text_set *)1;
    ck_assert_int_eq(clnn_imdb_read(path, 1, 11, &train, &test, err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_ptr_null(train);
    ck_assert_ptr_null(test);
    EXPECT_CONTAINS(err, "10 reviews");
    EXPECT_CONTAINS(err, "given 11");
    ck_assert_int_eq(clnn_imdb_read(path, 1, -1, &train, &test, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "given -1");
    clnn_text_set_destroy(NULL);
}
END_TEST

START_TEST(test_imdb_default_25000)
{
    /* 50,001 tiny reviews: the default train set is 25,000 */
    const char *path = tmp_path("big.json");
    size_t n = 50001, cap = n * 20 + 4, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    text[len++] = '[';
    for (size_t k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len, "%s{\"s\":%d,\"t\":\"\"}", k ? "," : "",
                                (int)(k & 1));
    text[len++] = ']';
    write_file(path, text, len);
    free(text);
    clnn_text_set *train, *test;
    read_ok(path, 3, 0, &train, &test);
    ck_assert_int_eq(train->n, 25000);
    ck_assert_int_eq(test->n, 25001);
    ck_assert_str_eq(train->texts[0], "");
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);
}
END_TEST

/* Element 2 is the bad one in most cases (after two good reviews). */
#define GOOD2 "[{\"t\":\"fine\",\"s\":0},{\"t\":\"good\",\"s\":1},"
static const struct imdb_case {
    const char *json, *message; /* the message must contain this (and the path) */
} imdb_cases[] = {
    {"{\"t\":\"x\",\"s\":0}", "expected a non-empty array of reviews"},
    {"\"reviews\"", "found a string"},
    {"[]", "found an empty array"},
    {"", "at byte 0"},
    {GOOD2 "1]", "element 2: expected an object"},
    {GOOD2 "[\"t\",0]]", "element 2: expected an object {\"t\": text, \"s\": 0 or 1}, found an "
                         "array"},
    {GOOD2 "{\"s\":0}]", "element 2: expected a string \"t\" (the text), found none"},
    {GOOD2 "{\"t\":5,\"s\":0}]", "element 2: expected a string \"t\" (the text), found a number"},
    {GOOD2 "{\"t\":null,\"s\":0}]", "element 2: expected a string \"t\" (the text), found null"},
    {GOOD2 "{\"t\":\"x\"}]", "element 2: expected a label \"s\" (0 or 1), found none"},
    {GOOD2 "{\"t\":\"x\",\"s\":2}]", "element 2: expected a label \"s\" of 0 or 1, found 2"},
    {GOOD2 "{\"t\":\"x\",\"s\":-1}]", "element 2: expected a label \"s\" of 0 or 1, found -1"},
    {GOOD2 "{\"t\":\"x\",\"s\":0.5}]", "element 2: expected a label \"s\" of 0 or 1, found 0.5"},
    {GOOD2 "{\"t\":\"x\",\"s\":1.0}]", "found 1 (not written as an integer)"},
    {GOOD2 "{\"t\":\"x\",\"s\":1e0}]", "element 2: expected a label \"s\" of 0 or 1"},
    {GOOD2 "{\"t\":\"x\",\"s\":\"1\"}]", "element 2: expected a label \"s\" of 0 or 1, found a "
                                         "string"},
    {GOOD2 "{\"t\":\"x\",\"s\":true}]", "found a boolean"},
    {GOOD2 "{\"t\":\"x\",\"s\":99999999999999999999999}]", "element 2: expected a label"},
    /* syntax errors: the parser's message with the element it is in */
    {GOOD2 "{\"t\":\"x\",\"s\":1}", "element 2: expected ',' or ']'"},
    {GOOD2 "{\"t\":\"x\",\"s\":", "element 2: expected"},
    {GOOD2 "{\"t\":\"cut", "element 2: expected"},
    {GOOD2 "{\"t\":\"caf\xe9\",\"s\":1}]", "element 2: expected valid UTF-8"},
    {GOOD2 "{\"t\":\"\xed\xa0\x80\",\"s\":1}]", "element 2: expected valid UTF-8"},
    {GOOD2 "{\"t\":\"a\\u0000b\",\"s\":1}]", "element 2:"},
    {GOOD2 "{\"t\":\"x\",\"s\":1,\"s\":0}]", "element 2:"},
    {GOOD2 "{\"t\":\"x, [{\\\"s\",\"s\":1},]", "element 3:"},
    {GOOD2 "{\"t\":\"x\",\"s\":1}] junk", "at byte"},
    {"[{\"t\":\"x\",\"s\":1}", "element 0: expected ',' or ']'"},
};
#define NIMDB_CASES ((int)(sizeof imdb_cases / sizeof imdb_cases[0]))

START_TEST(test_imdb_errors)
{
    const struct imdb_case *c = &imdb_cases[_i];
    const char *path = tmp_path("bad.json");
    write_file(path, c->json, strlen(c->json));
    char err[512];
    clnn_text_set *train = (clnn_text_set *)1, *test = (clnn_text_set *)1;
    clnn_status s = clnn_imdb_read(path, 1, 0, &train, &test, err, sizeof err);
    ck_assert_msg(s == CLNN_ERR_FORMAT, "case %d: got %s (%s)", _i, clnn_status_name(s), err);
    ck_assert_ptr_null(train);
    ck_assert_ptr_null(test);
    EXPECT_CONTAINS(err, path);
    EXPECT_CONTAINS(err, c->message);
    if (strstr(c->message, "junk"))
        ck_assert_ptr_null(strstr(err, "element"));
    if (getenv("TEST_TEXT_VERBOSE"))
        printf("imdb case %d: %s\n", _i, err);
}
END_TEST

START_TEST(test_imdb_bad_paths)
{
    char err[512];
    clnn_text_set *train = (clnn_text_set *)1, *test = (clnn_text_set *)1;
    const char *missing = tmp_path("no-such.json");
    ck_assert_int_eq(clnn_imdb_read(missing, 1, 0, &train, &test, err, sizeof err), CLNN_ERR_IO);
    ck_assert_ptr_null(train);
    ck_assert_ptr_null(test);
    EXPECT_CONTAINS(err, missing);
    EXPECT_CONTAINS(err, "cannot open");
    ck_assert_int_eq(clnn_imdb_read(tmpdir, 1, 0, &train, &test, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "directory");
    ck_assert_int_eq(clnn_imdb_read(NULL, 1, 0, &train, &test, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "clnn_imdb_read");
    ck_assert_int_eq(clnn_imdb_read(missing, 1, 0, NULL, &test, err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_imdb_read(missing, 1, 0, &train, NULL, NULL, 0), CLNN_ERR_INVALID);
    /* no err buffer: the status only */
    ck_assert_int_eq(clnn_imdb_read(missing, 1, 0, &train, &test, NULL, 0), CLNN_ERR_IO);
    /* a tiny err buffer is terminated */
    char tiny[8];
    ck_assert_int_eq(clnn_imdb_read(missing, 1, 0, &train, &test, tiny, sizeof tiny), CLNN_ERR_IO);
    ck_assert_uint_eq(strlen(tiny), 7);
}
END_TEST

/* The reader and the vocabulary together, as an example program would use them. */
START_TEST(test_imdb_vocab)
{
    const char *path = tmp_path("reviews.json");
    const char *json = "[{\"t\":\"A great, GREAT film.<br /><br />Loved it!\",\"s\":1},"
                       "{\"t\":\"Awful film; I hated it.\",\"s\":0},"
                       "{\"t\":\"Great fun.\",\"s\":1},{\"t\":\"Boring.\",\"s\":0}]";
    write_file(path, json, strlen(json));
    clnn_text_set *train, *test;
    read_ok(path, 5, 4, &train, &test);
    clnn_vocab *v = build((const char *const *)train->texts, train->n, 3);
    /* ".": 4, "great": 3, "film" and "it": 2 each; "film" or "it" first by appearance */
    ck_assert_str_eq(clnn_vocab_word(v, 2), ".");
    ck_assert_str_eq(clnn_vocab_word(v, 3), "great");
    const char *fourth = clnn_vocab_word(v, 4);
    ck_assert_msg(strcmp(fourth, "film") == 0 || strcmp(fourth, "it") == 0, "got %s", fourth);
    clnn_vocab_destroy(v);
    clnn_text_set_destroy(train);
    clnn_text_set_destroy(test);
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("tokenize");
    tcase_add_loop_test(tc, test_tokenize_cases, 0, NTOK_CASES);
    tcase_add_test(tc, test_tokenize_long_and_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("vocab");
    tcase_add_test(tc, test_vocab_frequencies);
    tcase_add_test(tc, test_vocab_build_errors);
    tcase_add_test(tc, test_vocab_encode);
    tcase_add_test(tc, test_vocab_encode_keep_last);
    tcase_add_test(tc, test_vocab_json_round_trip);
    tcase_add_loop_test(tc, test_vocab_json_errors, 0, NJSON_CASES);
    tcase_add_test(tc, test_vocab_json_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("imdb");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_test(tc, test_imdb_split);
    tcase_add_test(tc, test_imdb_default_25000);
    tcase_add_loop_test(tc, test_imdb_errors, 0, NIMDB_CASES);
    tcase_add_test(tc, test_imdb_bad_paths);
    tcase_add_test(tc, test_imdb_vocab);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(text_suite());
}
