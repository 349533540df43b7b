/* test_safetensors.c — the "safetensors" check suite: the container reader and writer of
 * src/io/safetensors.c and, through the header and the metadata, the strict JSON parser and
 * writer of src/io/json.c (their clnn__ functions are hidden in the shared library the tests
 * link). Round trips of every dtype (0-d, empty and 8-d tensors, escaped and non-ASCII names and
 * metadata, many tensors); a file laid out as PyTorch's safetensors writes it
 * ($CLNN_TEST_GOLDEN_DIR/safetensors_small.safetensors, made by tests/golden/gen_safetensors.py);
 * a header whose order differs from the data's; a table of malformed files, each with its status
 * and a fragment of its message, read from memory and from a file; nesting depth; bad paths;
 * writer errors; atomic replacement (the old file survives a failed write, no temporary file is
 * left); and the inputs the fuzzer (tests/fuzz/fuzz_safetensors.c) found. Files live in a
 * mkdtemp directory per test. No OpenCL. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clnn.h"
#include "test_util.h"

/* ---- a temporary directory per test ------------------------------------------------------- */
static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/clnn_test_st_XXXXXX", base && *base ? base : "/tmp");
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

/* The whole file, malloc'd; *size its length. */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    *size = n;
    return b;
}

/* Entries of tmpdir whose name contains ".tmp." (left-over temporary files). */
static int temp_files_left(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

/* An 8-byte LE header length + header text + data bytes (0, 1, 2, ...); malloc'd. */
static unsigned char *make_file(const char *header, size_t data_n, size_t *size)
{
    size_t hn = strlen(header);
    *size = 8 + hn + data_n;
    unsigned char *b = malloc(*size ? *size : 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    for (size_t i = 0; i < data_n; i++)
        b[8 + hn + i] = (unsigned char)i;
    return b;
}

static clnn_safetensors *parse_ok(const void *bytes, size_t size)
{
    char err[512] = "stale";
    clnn_safetensors *st = NULL;
    clnn_status s = clnn_safetensors_parse(bytes, size, &st, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "parse: got %s: %s", clnn_status_name(s), err);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_nonnull(st);
    return st;
}

static clnn_safetensors *read_ok(const char *path)
{
    char err[512] = "stale";
    clnn_safetensors *st = NULL;
    clnn_status s = clnn_safetensors_read(path, &st, err, sizeof err);
    ck_assert_msg(s == CLNN_OK, "read %s: got %s: %s", path, clnn_status_name(s), err);
    ck_assert_str_eq(err, "");
    ck_assert_ptr_nonnull(st);
    return st;
}

/* Tensor `name` has this dtype, shape and bytes. */
static void expect_tensor(const clnn_safetensors *st, const char *name, const char *dtype, int ndim,
                          const int64_t *shape, const void *bytes, size_t nbytes)
{
    int i = clnn_safetensors_find(st, name);
    ck_assert_msg(i >= 0, "tensor \"%s\" not found", name);
    ck_assert_str_eq(clnn_safetensors_name(st, i), name);
    ck_assert_str_eq(clnn_safetensors_dtype(st, i), dtype);
    ck_assert_int_eq(clnn_safetensors_ndim(st, i), ndim);
    for (int d = 0; d < ndim; d++)
        ck_assert_int_eq(clnn_safetensors_dim(st, i, d), shape[d]);
    size_t got = 12345;
    const void *p = clnn_safetensors_data(st, i, &got);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(got, nbytes);
    ck_assert_msg(nbytes == 0 || memcmp(p, bytes, nbytes) == 0, "tensor \"%s\": bytes differ",
                  name);
}

/* ---- round trips ------------------------------------------------------------------------------
 */
START_TEST(test_roundtrip)
{
    static const float f32[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-30f};
    static const double f64[2] = {1e300, -1.0 / 3.0};
    static const int64_t i64[1] = {-9007199254740993LL};
    static const uint64_t u64[2] = {UINT64_MAX, 1};
    static const int32_t i32[3] = {INT32_MIN, 0, INT32_MAX};
    static const uint32_t u32[1] = {4000000000u};
    static const int16_t i16[2] = {-32768, 32767};
    static const uint16_t u16[2] = {65535, 1}, f16[2] = {0x3c00, 0xc000}, bf16[3] = {0x3f80, 1, 2};
    static const int8_t i8[2] = {-128, 127};
    static const uint8_t u8[4] = {0, 1, 254, 255}, b8[3] = {1, 0, 1};
    static const int64_t s23[2] = {2, 3}, s2[1] = {2}, s3[1] = {3}, s1[1] = {1}, s4[1] = {4};
    static const int64_t s0x5[2] = {0, 5}, s8d[8] = {1, 1, 2, 1, 1, 1, 1, 1}, s22[2] = {2, 2};
    const clnn_safetensors_entry e[] = {
        {"w/f32", "F32", 2, s23, f32},
        {"f64", "F64", 1, s2, f64},
        {"scalar", "I64", 0, NULL, i64}, /* 0-d: one element */
        {"u64", "U64", 1, s2, u64},
        {"i32", "I32", 1, s3, i32},
        {"u32", "U32", 1, s1, u32},
        {"i16", "I16", 1, s2, i16},
        {"u16", "U16", 1, s2, u16},
        {"f16", "F16", 1, s2, f16},
        {"bf16", "BF16", 1, s3, bf16},
        {"empty", "F32", 2, s0x5, NULL}, /* no data: NULL is fine */
        {"i8", "I8", 1, s2, i8},
        {"u8 \"quoted\" \\ name", "U8", 2, s22, u8},
        {"bool", "BOOL", 1, s3, b8},
        {"deep", "U8", 8, s8d, u8},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x01\x1f", "U8", 1, s4, u8},
    };
    const int n = (int)(sizeof e / sizeof e[0]);
    static const size_t sizes[] = {24, 16, 8, 16, 12, 4, 4, 4, 4, 6, 0, 2, 4, 3, 2, 4};
    const char *meta[] = {"format",
                          "pt",
                          "arch",
                          "{\"layers\": [1, 2.5e-3, \"x\\ty\"]}",
                          "tab\tnewline\ncr\r",
                          "\x7f del and \xc3\xbc",
                          "empty",
                          ""};
    const char *path = tmp_path("rt.safetensors");
    char err[512] = "stale";
    EXPECT_ST(NULL, clnn_safetensors_write(path, n, e, 4, meta, err, sizeof err), CLNN_OK);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(temp_files_left(), 0);

    size_t size;
    unsigned char *file = slurp(path, &size);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--)
        hn = hn << 8 | file[i];
    ck_assert_uint_eq(hn % 8, 0);
    ck_assert_int_eq(file[8], '{');
    ck_assert_int_eq(file[8 + hn - 1] == ' ' || file[8 + hn - 1] == '}', 1);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += sizes[i];
    ck_assert_uint_eq(size, 8 + hn + total);

    for (int from_file = 0; from_file < 2; from_file++) {
        clnn_safetensors *st = from_file ? read_ok(path) : parse_ok(file, size);
        ck_assert_int_eq(clnn_safetensors_count(st), n);
        for (int i = 0; i < n; i++) {
            ck_assert_str_eq(clnn_safetensors_name(st, i), e[i].name); /* the order given */
            ck_assert_int_eq(clnn_safetensors_find(st, e[i].name), i);
            expect_tensor(st, e[i].name, e[i].dtype, e[i].ndim, e[i].shape, e[i].data, sizes[i]);
        }
        ck_assert_int_eq(clnn_safetensors_ndim(st, 2), 0);
        ck_assert_int_eq(clnn_safetensors_dim(st, 0, -1), 3);
        ck_assert_int_eq(clnn_safetensors_dim(st, 0, -2), 2);
        ck_assert_int_eq(clnn_safetensors_dim(st, 0, 2), -1);
        ck_assert_int_eq(clnn_safetensors_dim(st, 0, -3), -1);
        ck_assert_int_eq(clnn_safetensors_dim(st, 2, 0), -1);
        ck_assert_int_eq(clnn_safetensors_metadata_count(st), 4);
        for (int k = 0; k < 4; k++) {
            ck_assert_str_eq(clnn_safetensors_metadata_key(st, k), meta[2 * k]);
            ck_assert_str_eq(clnn_safetensors_metadata(st, meta[2 * k]), meta[2 * k + 1]);
        }
        ck_assert_ptr_null(clnn_safetensors_metadata(st, "absent"));
        ck_assert_ptr_null(clnn_safetensors_metadata_key(st, 4));
        ck_assert_int_eq(clnn_safetensors_find(st, "absent"), -1);
        ck_assert_int_eq(clnn_safetensors_find(st, "__metadata__"), -1);
        ck_assert_ptr_null(clnn_safetensors_name(st, n));
        ck_assert_ptr_null(clnn_safetensors_name(st, -1));
        ck_assert_ptr_null(clnn_safetensors_dtype(st, n));
        ck_assert_int_eq(clnn_safetensors_ndim(st, n), -1);
        size_t b = 99;
        ck_assert_ptr_null(clnn_safetensors_data(st, n, &b));
        ck_assert_uint_eq(b, 0);
        clnn_safetensors_destroy(st);
    }
    free(file);

    /* nothing at all: "{}" padded, no data */
    const char *path0 = tmp_path("none.safetensors");
    EXPECT_ST(NULL, clnn_safetensors_write(path0, 0, NULL, 0, NULL, err, sizeof err), CLNN_OK);
    file = slurp(path0, &size);
    ck_assert_uint_eq(size, 16);
    ck_assert_int_eq(memcmp(file, "\x08\0\0\0\0\0\0\0{}      ", 16), 0);
    free(file);
    clnn_safetensors *st = read_ok(path0);
    ck_assert_int_eq(clnn_safetensors_count(st), 0);
    ck_assert_int_eq(clnn_safetensors_metadata_count(st), 0);
    ck_assert_int_eq(clnn_safetensors_find(st, "x"), -1);
    clnn_safetensors_destroy(st);
}
END_TEST

/* Many tensors (the sorted name index, objects of many keys) written in reverse name order. */
START_TEST(test_many)
{
    enum { N = 300 };
    static char names[N][16];
    static uint16_t vals[N];
    static const int64_t one[1] = {1};
    clnn_safetensors_entry e[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "layer.%03d", N - 1 - i);
        vals[i] = (uint16_t)(i * 7);
        e[i] = (clnn_safetensors_entry){names[i], "I16", 1, one, &vals[i]};
    }
    const char *path = tmp_path("many.safetensors");
    char err[512];
    EXPECT_ST(NULL, clnn_safetensors_write(path, N, e, 0, NULL, err, sizeof err), CLNN_OK);
    clnn_safetensors *st = read_ok(path);
    ck_assert_int_eq(clnn_safetensors_count(st), N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(clnn_safetensors_find(st, names[i]), i);
        size_t b;
        uint16_t v;
        memcpy(&v, clnn_safetensors_data(st, i, &b), 2);
        ck_assert_uint_eq(b, 2);
        ck_assert_uint_eq(v, vals[i]);
    }
    clnn_safetensors_destroy(st);
}
END_TEST

/* ---- a file laid out by PyTorch's safetensors (tests/golden/gen_safetensors.py) ------------- */
START_TEST(test_golden)
{
    const char *dir = getenv("CLNN_TEST_GOLDEN_DIR");
    ck_assert_msg(dir != NULL, "CLNN_TEST_GOLDEN_DIR is not set (tests/meson.build sets it)");
    char path[512];
    snprintf(path, sizeof path, "%s/safetensors_small.safetensors", dir);
    clnn_safetensors *st = read_ok(path);
    ck_assert_int_eq(clnn_safetensors_count(st), 11);
    ck_assert_int_eq(clnn_safetensors_metadata_count(st), 1);
    ck_assert_str_eq(clnn_safetensors_metadata(st, "format"), "pt");
    /* the header in data order: dtypes largest first, then names */
    static const char *order[] = {"step", "var",  "empty", "weight", "ids", "scale",
                                  "bias", "hist", "delta", "pixels", "mask"};
    for (int i = 0; i < 11; i++)
        ck_assert_str_eq(clnn_safetensors_name(st, i), order[i]);

    static const float weight[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    static const int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2}, s0x3[2] = {0, 3};
    static const int64_t s22[2] = {2, 2}, s4[1] = {4}, s21[2] = {2, 1};
    expect_tensor(st, "weight", "F32", 2, s23, weight, sizeof weight);
    static const uint16_t bias[3] = {0x3400, 0xc000, 0x4300}; /* 0.25, -2, 3.5 in half */
    expect_tensor(st, "bias", "F16", 1, s3, bias, sizeof bias);
    static const int64_t step = 7;
    expect_tensor(st, "step", "I64", 0, NULL, &step, 8);
    static const uint8_t mask[4] = {1, 0, 0, 1};
    expect_tensor(st, "mask", "BOOL", 1, s4, mask, 4);
    static const uint16_t scale[2] = {0x3fc0, 0xbe00}; /* 1.5, -0.125 in bfloat16 */
    expect_tensor(st, "scale", "BF16", 1, s2, scale, sizeof scale);
    expect_tensor(st, "empty", "F32", 2, s0x3, NULL, 0);
    static const uint8_t pixels[4] = {0, 127, 128, 255};
    expect_tensor(st, "pixels", "U8", 2, s22, pixels, 4);
    static const int8_t delta[3] = {-128, 5, 127};
    expect_tensor(st, "delta", "I8", 1, s3, delta, 3);
    static const int32_t ids[2] = {-1, 2147483647};
    expect_tensor(st, "ids", "I32", 1, s2, ids, sizeof ids);
    static const int16_t hist[3] = {-32768, 1, 32767};
    expect_tensor(st, "hist", "I16", 1, s3, hist, sizeof hist);
    static const double var[2] = {1e-300, -2.5};
    expect_tensor(st, "var", "F64", 2, s21, var, sizeof var);
    clnn_safetensors_destroy(st);

    /* and written back by clnn: byte for byte the same file (same order, same padding) */
    size_t size;
    unsigned char *orig = slurp(path, &size);
    st = parse_ok(orig, size);
    int n = clnn_safetensors_count(st);
    clnn_safetensors_entry e[11];
    int64_t shapes[11][8];
    for (int i = 0; i < n; i++) {
        e[i].name = clnn_safetensors_name(st, i);
        e[i].dtype = clnn_safetensors_dtype(st, i);
        e[i].ndim = clnn_safetensors_ndim(st, i);
        for (int d = 0; d < e[i].ndim; d++)
            shapes[i][d] = clnn_safetensors_dim(st, i, d);
        e[i].shape = shapes[i];
        e[i].data = clnn_safetensors_data(st, i, NULL);
    }
    const char *meta[2] = {"format", "pt"};
    char err[512];
    const char *copy = tmp_path("copy.safetensors");
    EXPECT_ST(NULL, clnn_safetensors_write(copy, n, e, 1, meta, err, sizeof err), CLNN_OK);
    clnn_safetensors_destroy(st);
    size_t size2;
    unsigned char *again = slurp(copy, &size2);
    ck_assert_uint_eq(size2, size);
    ck_assert_int_eq(memcmp(orig, again, size), 0);
    free(orig);
    free(again);
}
END_TEST

/* The header's order is not the data's; pretty-printed JSON with escapes in the names. */
START_TEST(test_header_order)
{
    static const char header[] =
        "{\n  \"b\\u00e9ta\" : {\"shape\": [2], \"dtype\": \"U8\", \"data_offsets\": [4, 6]},\n"
        "  \"__metadata__\": {\"note\": \"\\ud83d\\ude00 \\\"hi\\\" \\/ \\b\\f\\n\\r\\t\"},\n"
        "  \"alpha\": {\"data_offsets\": [0, 4], \"dtype\": \"I32\", \"shape\": [ ]},\n"
        "  \"nil\": {\"dtype\": \"F64\", \"shape\": [3, 0], \"data_offsets\": [6, 6]},\n"
        "  \"zero\": {\"dtype\": \"U8\", \"shape\": [-0, 7], \"data_offsets\": [0, 0]}\n}\t\r\n ";
    size_t size;
    unsigned char *b = make_file(header, 6, &size);
    clnn_safetensors *st = parse_ok(b, size);
    ck_assert_int_eq(clnn_safetensors_count(st), 4);
    ck_assert_str_eq(clnn_safetensors_name(st, 0), "b\xc3\xa9ta");
    ck_assert_str_eq(clnn_safetensors_name(st, 1), "alpha");
    ck_assert_str_eq(clnn_safetensors_name(st, 2), "nil");
    ck_assert_str_eq(clnn_safetensors_name(st, 3), "zero");
    static const unsigned char beta[2] = {4, 5}, alpha[4] = {0, 1, 2, 3};
    static const int64_t s2[1] = {2}, s30[2] = {3, 0}, s07[2] = {0, 7};
    expect_tensor(st, "b\xc3\xa9ta", "U8", 1, s2, beta, 2);
    expect_tensor(st, "alpha", "I32", 0, NULL, alpha, 4);
    expect_tensor(st, "nil", "F64", 2, s30, NULL, 0);
    expect_tensor(st, "zero", "U8", 2, s07, NULL, 0);
    ck_assert_str_eq(clnn_safetensors_metadata(st, "note"), "\xf0\x9f\x98\x80 \"hi\" / \b\f\n\r\t");
    clnn_safetensors_destroy(st);
    free(b);
}
END_TEST

/* ---- malformed files ------------------------------------------------------------------------ */
#define T1 "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}"
#define TH(dtype, shape, offsets)                                                                  \
    "{\"t\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}}"
#define META(v) "{\"__metadata__\":{\"k\":" v "}}"

typedef struct bad_case {
    const char *name;
    const char *raw; /* the whole file as is (raw_n bytes), or NULL: header + data_n bytes */
    size_t raw_n;
    const char *header;
    size_t data_n;
    clnn_status want;
    const char *part;
} bad_case;

#define RAW(s)    s, sizeof(s) - 1, NULL, 0
#define HDR(h, n) NULL, 0, h, n

static const bad_case bad_cases[] = {
    /* the length */
    {"empty file", RAW(""), CLNN_ERR_FORMAT,
     "expected an 8-byte little-endian header length, got a file of 0 byte(s)"},
    {"cut length", RAW("\x02\0\0\0\0"), CLNN_ERR_FORMAT, "got a file of 5 byte(s)"},
    {"length beyond the file", RAW("\x64\0\0\0\0\0\0\0{}"), CLNN_ERR_FORMAT,
     "expected a header length within the file (2 bytes after the length), got 100"},
    {"length one too many", RAW("\x03\0\0\0\0\0\0\0{}"), CLNN_ERR_FORMAT,
     "(2 bytes after the length), got 3"},
    {"length above 100 MB", RAW("\x01\xe1\xf5\x05\0\0\0\0{}"), CLNN_ERR_FORMAT,
     "expected a header length of at most 100000000 bytes, got 100000001"},
    {"length 2^64-1", RAW("\xff\xff\xff\xff\xff\xff\xff\xff{}"), CLNN_ERR_FORMAT,
     "got 18446744073709551615"},
    /* the JSON */
    {"empty header", HDR("", 0), CLNN_ERR_FORMAT,
     "JSON header: expected a JSON value, got end of input at byte 0"},
    {"blank header", HDR("        ", 0), CLNN_ERR_FORMAT, "got end of input at byte 8"},
    {"array header", HDR("[]", 0), CLNN_ERR_FORMAT,
     "expected the JSON header to be an object, got an array"},
    {"string header", HDR("\"{}\"", 0), CLNN_ERR_FORMAT, "to be an object, got a string"},
    {"number header", HDR("8", 0), CLNN_ERR_FORMAT, "to be an object, got a number"},
    {"null header", HDR("null", 0), CLNN_ERR_FORMAT, "to be an object, got null"},
    {"BOM", HDR("\xef\xbb\xbf{}", 0), CLNN_ERR_FORMAT,
     "expected a JSON value, got byte 0xEF at byte 0"},
    {"garbage after", HDR("{} x", 0), CLNN_ERR_FORMAT,
     "expected the end of the JSON text (only whitespace after it), got 'x' at byte 3"},
    {"two objects", HDR("{}{}", 0), CLNN_ERR_FORMAT, "got '{' at byte 2"},
    {"NUL padding", HDR("{}xx", 0), CLNN_ERR_FORMAT, /* "xx" becomes "\0\0" */
     "expected the end of the JSON text (only whitespace after it), got byte 0x00 at byte 2"},
    {"unclosed object", HDR("{", 0), CLNN_ERR_FORMAT,
     "expected a string key of an object member, got end of input at byte 1"},
    {"trailing comma in object", HDR("{\"__metadata__\":{},}", 0), CLNN_ERR_FORMAT,
     "expected a string key of an object member, got '}' at byte 19"},
    {"trailing comma in array", HDR(TH("\"U8\"", "[1,]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a JSON value, got ']' at byte 30"},
    {"unclosed array", HDR("{\"t\":[1", 0), CLNN_ERR_FORMAT,
     "expected ',' or ']' after an array element, got end of input at byte 7"},
    {"missing colon", HDR("{\"a\" 1}", 0), CLNN_ERR_FORMAT,
     "expected ':' after an object key, got '1' at byte 5"},
    {"missing comma", HDR("{\"a\":{} \"b\":{}}", 0), CLNN_ERR_FORMAT,
     "expected ',' or '}' after an object member, got '\"' at byte 8"},
    {"single quotes", HDR("{'a':{}}", 0), CLNN_ERR_FORMAT,
     "expected a string key of an object member, got ''' at byte 1"},
    {"number key", HDR("{1:{}}", 0), CLNN_ERR_FORMAT, "got '1' at byte 1"},
    {"plus sign", HDR(META("+1"), 0), CLNN_ERR_FORMAT, "expected a JSON value, got '+' at byte 21"},
    {"bad literal", HDR(META("tru"), 0), CLNN_ERR_FORMAT,
     "expected the literal 'true', got '}' at byte 24"},
    {"NaN", HDR(META("NaN"), 0), CLNN_ERR_FORMAT, "expected a JSON value, got 'N'"},
    {"leading zero", HDR(TH("\"U8\"", "[01]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected no leading zeros in a number, got a '0' followed by a digit at byte 28"},
    {"lone minus", HDR(TH("\"U8\"", "[-]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a digit after '-', got ']' at byte 29"},
    {"bare dot", HDR(TH("\"U8\"", "[1.]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a digit after the '.' of a number, got ']'"},
    {"dot first", HDR(TH("\"U8\"", "[.5]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a JSON value, got '.'"},
    {"empty exponent", HDR(TH("\"U8\"", "[1e+]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a digit in the exponent of a number, got ']'"},
    {"double overflow", HDR(TH("\"U8\"", "[1e999]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected a number within the range of a double, got 1e999 at byte 28"},
    {"hex number", HDR(TH("\"U8\"", "[0x1]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "expected ',' or ']' after an array element, got 'x'"},
    {"unterminated string", HDR("{\"abc", 0), CLNN_ERR_FORMAT,
     "expected a closing '\"' of the string opened at byte 1, got end of input at byte 5"},
    {"raw newline in string", HDR("{\"a\nb\":{}}", 0), CLNN_ERR_FORMAT,
     "expected a control character in a string to be escaped (\\u000A), got byte 0x0A at byte 3"},
    {"raw tab in string", HDR("{\"a\tb\":{}}", 0), CLNN_ERR_FORMAT, "got byte 0x09 at byte 3"},
    {"bad escape", HDR("{\"a\\x\":{}}", 0), CLNN_ERR_FORMAT,
     "expected an escape \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX after '\\', got 'x' at byte "
     "4"},
    {"escaped quote \\'", HDR("{\"a\\'\":{}}", 0), CLNN_ERR_FORMAT, "got ''' at byte 4"},
    {"short \\u", HDR("{\"\\u12\":{}}", 0), CLNN_ERR_FORMAT,
     "expected 4 hex digits after \\u, got '\"' at byte 6"},
    {"bad hex in \\u", HDR("{\"\\u0g00\":{}}", 0), CLNN_ERR_FORMAT,
     "expected 4 hex digits after \\u, got 'g' at byte 5"},
    {"\\u0000", HDR("{\"a\\u0000b\":{}}", 0), CLNN_ERR_FORMAT,
     "expected no \\u0000 in a string (strings are C strings here), got \\u0000 at byte 3"},
    {"lone high surrogate", HDR("{\"\\ud800x\":{}}", 0), CLNN_ERR_FORMAT,
     "expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\uD800 at byte 2, got "
     "none at byte 8"},
    {"high then high", HDR("{\"\\uD83D\\uD83D\":{}}", 0), CLNN_ERR_FORMAT,
     "after the high surrogate \\uD83D at byte 2, got none at byte 8"},
    {"high at the end", HDR("{\"\\ud800", 0), CLNN_ERR_FORMAT, "got none at byte 8"},
    {"lone low surrogate", HDR("{\"\\udc00\":{}}", 0), CLNN_ERR_FORMAT,
     "expected a character, got an unpaired low surrogate \\uDC00 at byte 2"},
    {"utf-8 overlong /", HDR("{\"\xc0\xaf\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got an overlong encoding of U+002F at byte 2"},
    {"utf-8 overlong 3 bytes", HDR("{\"\xe0\x80\xaf\":{}}", 0), CLNN_ERR_FORMAT,
     "overlong encoding of U+002F"},
    {"utf-8 overlong 4 bytes", HDR("{\"\xf0\x8f\xbf\xbf\":{}}", 0), CLNN_ERR_FORMAT,
     "overlong encoding of U+FFFF"},
    {"utf-8 surrogate", HDR("{\"\xed\xa0\x80\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got an encoded surrogate U+D800 at byte 2"},
    {"utf-8 above U+10FFFF", HDR("{\"\xf4\x90\x80\x80\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got a code point above U+10FFFF at byte 2"},
    {"utf-8 F5 lead", HDR("{\"\xf5\x80\x80\x80\":{}}", 0), CLNN_ERR_FORMAT, "above U+10FFFF"},
    {"utf-8 FF", HDR("{\"\xff\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got byte 0xFF (never used in UTF-8) at byte 2"},
    {"utf-8 stray continuation", HDR("{\"a\x80\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got a stray continuation byte 0x80 at byte 3"},
    {"utf-8 cut short", HDR("{\"\xe2\x82\":{}}", 0), CLNN_ERR_FORMAT,
     "expected valid UTF-8, got a sequence cut short (lead byte 0xE2, then '\"') at byte 2"},
    {"utf-8 cut by the end", HDR("{\"\xf0\x9f\x98", 0), CLNN_ERR_FORMAT,
     "then end of input) at byte 2"},
    {"utf-8 in a value", HDR(META("\"ok \xc3\""), 0), CLNN_ERR_FORMAT,
     "sequence cut short (lead byte 0xC3"},
    {"duplicate tensor", HDR("{\"a\":{},\"b\":{},\"a\":{}}", 0), CLNN_ERR_FORMAT,
     "JSON header: expected unique keys in an object, got \"a\" again at byte 15 (first at byte "
     "1)"},
    {"duplicate dtype key",
     HDR("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1),
     CLNN_ERR_FORMAT, "got \"dtype\" again at byte 31 (first at byte 6)"},
    {"duplicate metadata key", HDR("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0),
     CLNN_ERR_FORMAT, "got \"k\" again at byte 25"},
    {"duplicate __metadata__", HDR("{\"__metadata__\":{},\"__metadata__\":{}}", 0), CLNN_ERR_FORMAT,
     "got \"__metadata__\" again at byte 19"},
    {"duplicate escaped key", HDR("{\"a\":{},\"\\u0061\":{}}", 0), CLNN_ERR_FORMAT,
     "got \"a\" again at byte 8"},
    /* the tensors */
    {"tensor not an object", HDR("{\"t\":[1]}", 0), CLNN_ERR_FORMAT,
     "tensor \"t\": expected an object {\"dtype\", \"shape\", \"data_offsets\"}, got an array"},
    {"extra key", HDR("{\"t\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1],\"x\":1}}", 1),
     CLNN_ERR_FORMAT,
     "tensor \"t\": expected only the keys \"dtype\", \"shape\" and \"data_offsets\", got \"x\""},
    {"missing shape", HDR("{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1), CLNN_ERR_FORMAT,
     "tensor \"t\": expected the key \"shape\", got none"},
    {"missing offsets", HDR("{\"t\":{\"dtype\":\"U8\",\"shape\":[]}}", 1), CLNN_ERR_FORMAT,
     "expected the key \"data_offsets\", got none"},
    {"unknown dtype", HDR(TH("\"F8\"", "[1]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "tensor \"t\": expected a dtype BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64 "
     "or U64, got \"F8\""},
    {"lower-case dtype", HDR(TH("\"f32\"", "[1]", "[0,4]"), 4), CLNN_ERR_FORMAT, "got \"f32\""},
    {"dtype not a string", HDR(TH("4", "[1]", "[0,4]"), 4), CLNN_ERR_FORMAT,
     "expected a dtype string (BOOL,"},
    {"shape not an array", HDR(TH("\"U8\"", "4", "[0,4]"), 4), CLNN_ERR_FORMAT,
     "tensor \"t\": expected a shape array of non-negative integers, got a number"},
    {"negative dimension", HDR(TH("\"U8\"", "[2,-1]", "[0,2]"), 2), CLNN_ERR_FORMAT,
     "tensor \"t\": expected a shape of non-negative integers, got -1 as dimension 1"},
    {"fractional dimension", HDR(TH("\"U8\"", "[1.5]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "got the non-integer 1.5 as dimension 0"},
    {"dimension 2.0", HDR(TH("\"U8\"", "[2.0]", "[0,2]"), 2), CLNN_ERR_FORMAT,
     "got the non-integer 2 as dimension 0"},
    {"dimension 1e1", HDR(TH("\"U8\"", "[1e1]", "[0,10]"), 10), CLNN_ERR_FORMAT,
     "got the non-integer 10 as dimension 0"},
    {"dimension beyond int64", HDR(TH("\"U8\"", "[9223372036854775808]", "[0,1]"), 1),
     CLNN_ERR_FORMAT, "got the non-integer 9.2233720368547758e+18 as dimension 0"},
    {"dimension 1e-400", HDR(TH("\"U8\"", "[1e-400]", "[0,0]"), 0), CLNN_ERR_FORMAT,
     "got the non-integer 0 as dimension 0"},
    {"dimension a string", HDR(TH("\"U8\"", "[\"2\"]", "[0,2]"), 2), CLNN_ERR_FORMAT,
     "got a string as dimension 0"},
    {"9 dimensions", HDR(TH("\"U8\"", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), 1), CLNN_ERR_FORMAT,
     "tensor \"t\": expected a shape of at most 8 dimensions, got 9"},
    {"element count overflow", HDR(TH("\"U8\"", "[4294967296,4294967296]", "[0,1]"), 1),
     CLNN_ERR_FORMAT, "expected a shape whose element count fits 64 bits"},
    {"byte size overflow", HDR(TH("\"F64\"", "[4294967296,1073741824]", "[0,1]"), 1),
     CLNN_ERR_FORMAT, "expected a byte size that fits 64 bits, got 4611686018427387904 elements"},
    {"offsets wrong size", HDR(TH("\"F32\"", "[2]", "[0,4]"), 4), CLNN_ERR_FORMAT,
     "tensor \"t\": expected data_offsets spanning 8 bytes (F32, 1 dimension(s), 2 elements), got "
     "[0, 4] (4 bytes)"},
    {"offsets for an empty tensor", HDR(TH("\"F32\"", "[0]", "[0,4]"), 4), CLNN_ERR_FORMAT,
     "spanning 0 bytes (F32, 1 dimension(s), 0 elements), got [0, 4] (4 bytes)"},
    {"offsets out of range", HDR(TH("\"U8\"", "[4]", "[2,6]"), 4), CLNN_ERR_FORMAT,
     "tensor \"t\": expected data_offsets inside the data region of 4 bytes, got [2, 6]"},
    {"offsets reversed", HDR(TH("\"U8\"", "[4]", "[4,0]"), 4), CLNN_ERR_FORMAT,
     "expected data_offsets [begin, end] with begin <= end, got [4, 0]"},
    {"offsets 3 numbers", HDR(TH("\"U8\"", "[4]", "[0,4,4]"), 4), CLNN_ERR_FORMAT,
     "expected data_offsets [begin, end], got an array of 3 element(s)"},
    {"offsets an object", HDR(TH("\"U8\"", "[4]", "{}"), 4), CLNN_ERR_FORMAT,
     "expected data_offsets [begin, end], got an object"},
    {"offsets negative", HDR(TH("\"U8\"", "[4]", "[-4,0]"), 4), CLNN_ERR_FORMAT,
     "expected data_offsets of non-negative integers, got -4"},
    {"offsets fractional", HDR(TH("\"U8\"", "[4]", "[0,4.0]"), 4), CLNN_ERR_FORMAT,
     "expected data_offsets of non-negative integers, got the non-integer 4"},
    {"overlap",
     HDR("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
         6),
     CLNN_ERR_FORMAT,
     "tensor \"b\": expected its data to start at byte 4 (the end of tensor \"a\"), got "
     "data_offsets [2, 6] overlapping it"},
    {"same range twice",
     HDR("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}",
         4),
     CLNN_ERR_FORMAT, "tensor \"b\": expected its data to start at byte 4 (the end of tensor"},
    {"gap",
     HDR("{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[6,10]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
         10),
     CLNN_ERR_FORMAT,
     "tensor \"b\": expected its data to start at byte 4 (the end of tensor \"a\"), got "
     "data_offsets [6, 10] leaving a gap of 2 bytes"},
    {"gap at the start", HDR(TH("\"U8\"", "[4]", "[2,6]"), 6), CLNN_ERR_FORMAT,
     "expected its data to start at byte 0 (the start of the data region), got data_offsets [2, "
     "6] leaving a gap of 2 bytes"},
    {"bytes left at the end", HDR(T1, 6), CLNN_ERR_FORMAT,
     "expected the tensors to cover the data region of 6 bytes, got tensors ending at byte 4 (2 "
     "bytes left over at the end of the file)"},
    {"data but no tensors", HDR("{}", 3), CLNN_ERR_FORMAT,
     "got no tensors (3 bytes left over at the end of the file)"},
    {"data but only metadata", HDR("{\"__metadata__\":{}}", 1), CLNN_ERR_FORMAT,
     "got no tensors (1 bytes left over"},
    {"metadata a string", HDR("{\"__metadata__\":\"x\"}", 0), CLNN_ERR_FORMAT,
     "expected \"__metadata__\" to be an object of strings, got a string"},
    {"metadata null", HDR("{\"__metadata__\":null}", 0), CLNN_ERR_FORMAT,
     "to be an object of strings, got null"},
    {"metadata number value", HDR(META("1"), 0), CLNN_ERR_FORMAT,
     "expected the \"__metadata__\" value of \"k\" to be a string, got a number"},
    {"metadata object value", HDR(META("{}"), 0), CLNN_ERR_FORMAT, "got an object"},
    {"metadata boolean value", HDR(META("true"), 0), CLNN_ERR_FORMAT, "got a boolean"},
    /* fine */
    {"two empty tensors at one offset",
     HDR("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
         "\"d\":{\"dtype\":\"U8\",\"shape\":[0,2],\"data_offsets\":[0,0]},"
         "\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
         4),
     CLNN_OK, ""},
    {"only metadata", HDR(META("\"v\""), 0), CLNN_OK, ""},
    {"dimension -0", HDR(TH("\"U8\"", "[-0]", "[0,0]"), 0), CLNN_OK, ""},
    {"padded with spaces",
     HDR("{\"__metadata__\":{},\"t\":{\"dtype\":\"U8\",\"shape\":[],"
         "\"data_offsets\":[0,1]}}      ",
         1),
     CLNN_OK, ""},
};
enum { NBAD_CASES = sizeof bad_cases / sizeof bad_cases[0] };

START_TEST(test_malformed)
{
    const bad_case *c = &bad_cases[_i];
    size_t size;
    unsigned char *bytes;
    if (c->raw) {
        size = c->raw_n;
        bytes = malloc(size ? size : 1);
        memcpy(bytes, c->raw, size);
    } else {
        bytes = make_file(c->header, c->data_n, &size);
    }
    if (!strcmp(c->name, "NUL padding"))
        bytes[10] = bytes[11] = 0;
    /* from memory (an exact-size copy: an over-read shows under ASan), and from a file */
    for (int from_file = 0; from_file < 2; from_file++) {
        char err[512] = "stale";
        clnn_safetensors *st = (clnn_safetensors *)&size; /* must be set to NULL on failure */
        clnn_status s;
        const char *src = "<memory>";
        if (from_file) {
            src = tmp_path("bad.safetensors");
            write_file(src, bytes, size);
            s = clnn_safetensors_read(src, &st, err, sizeof err);
        } else {
            s = clnn_safetensors_parse(bytes, size, &st, err, sizeof err);
        }
        ck_assert_msg(s == c->want, "%s: got %s, expected %s (%s)", c->name, clnn_status_name(s),
                      clnn_status_name(c->want), err);
        if (getenv("TEST_ST_VERBOSE"))
            fprintf(stderr, "%-32s %s: %s\n", c->name, clnn_status_name(s), err);
        if (s == CLNN_OK) {
            ck_assert_ptr_nonnull(st);
            ck_assert_str_eq(err, "");
            clnn_safetensors_destroy(st);
            continue;
        }
        ck_assert_ptr_null(st);
        ck_assert_msg(strncmp(err, src, strlen(src)) == 0, "%s: \"%s\" does not start with %s",
                      c->name, err, src);
        EXPECT_CONTAINS(err, c->part);
    }
    free(bytes);
}
END_TEST

/* Nesting: 64 levels are JSON (then not a metadata string), 65 are not. */
START_TEST(test_depth)
{
    for (int levels = 63; levels <= 66; levels++) {
        /* the header object and "__metadata__" are 2 levels; then levels - 2 arrays */
        char h[256];
        int n = snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":");
        for (int i = 0; i < levels - 2; i++)
            h[n++] = '[';
        for (int i = 0; i < levels - 2; i++)
            h[n++] = ']';
        snprintf(h + n, sizeof h - (size_t)n, "}}");
        size_t size;
        unsigned char *b = make_file(h, 0, &size);
        char err[512];
        clnn_safetensors *st = NULL;
        EXPECT_ST(NULL, clnn_safetensors_parse(b, size, &st, err, sizeof err), CLNN_ERR_FORMAT);
        if (levels <= 64) {
            EXPECT_CONTAINS(err, "value of \"k\" to be a string, got an array");
        } else {
            char want[128];
            snprintf(want, sizeof want,
                     "expected arrays and objects nested at most 64 deep, got a deeper '[' at "
                     "byte %d",
                     21 + 62);
            EXPECT_CONTAINS(err, want);
        }
        free(b);
    }
    /* a long flat array and a very deep one: no recursion, no stack overflow */
    size_t big = 1 << 20;
    char *h = malloc(big + 64);
    memset(h, '[', big);
    h[big] = '\0';
    size_t size;
    unsigned char *b = make_file(h, 0, &size);
    char err[512];
    clnn_safetensors *st = NULL;
    EXPECT_ST(NULL, clnn_safetensors_parse(b, size, &st, err, sizeof err), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(err, "nested at most 64 deep, got a deeper '[' at byte 64");
    free(b);
    strcpy(h, "{\"__metadata__\":{\"k\":[");
    size_t n = strlen(h);
    for (; n + 2 < big; n += 2)
        memcpy(h + n, "0,", 2);
    strcpy(h + n, "0]}}");
    b = make_file(h, 0, &size);
    EXPECT_ST(NULL, clnn_safetensors_parse(b, size, &st, err, sizeof err), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(err, "value of \"k\" to be a string, got an array");
    free(b);
    free(h);
}
END_TEST

/* ---- bad paths and arguments ------------------------------------------------------------------
 */
START_TEST(test_bad_paths)
{
    char err[512];
    clnn_safetensors *st = NULL;
    const char *missing = tmp_path("no-such-file.safetensors");
    EXPECT_ST(NULL, clnn_safetensors_read(missing, &st, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, missing);
    EXPECT_CONTAINS(err, "No such file");
    ck_assert_ptr_null(st);
    EXPECT_ST(NULL, clnn_safetensors_read(tmpdir, &st, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "expected a safetensors file, found a directory");
    EXPECT_CONTAINS(err, tmpdir);
    EXPECT_ST(NULL, clnn_safetensors_read(NULL, &st, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "path NULL");
    EXPECT_ST(NULL, clnn_safetensors_read(missing, NULL, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_safetensors_parse(NULL, 8, &st, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_safetensors_parse("", 0, NULL, err, sizeof err), CLNN_ERR_INVALID);
    /* no error buffer, or a tiny one: the status, never an overflow */
    EXPECT_ST(NULL, clnn_safetensors_read(missing, &st, NULL, 0), CLNN_ERR_IO);
    char tiny[8];
    EXPECT_ST(NULL, clnn_safetensors_parse("x", 1, &st, tiny, sizeof tiny), CLNN_ERR_FORMAT);
    ck_assert_uint_eq(strlen(tiny), 7);
    /* NULL handles */
    clnn_safetensors_destroy(NULL);
    ck_assert_int_eq(clnn_safetensors_count(NULL), 0);
    ck_assert_ptr_null(clnn_safetensors_name(NULL, 0));
    ck_assert_int_eq(clnn_safetensors_find(NULL, "x"), -1);
    ck_assert_ptr_null(clnn_safetensors_dtype(NULL, 0));
    ck_assert_int_eq(clnn_safetensors_ndim(NULL, 0), -1);
    ck_assert_int_eq(clnn_safetensors_dim(NULL, 0, 0), -1);
    ck_assert_ptr_null(clnn_safetensors_data(NULL, 0, NULL));
    ck_assert_ptr_null(clnn_safetensors_metadata(NULL, "x"));
    ck_assert_int_eq(clnn_safetensors_metadata_count(NULL), 0);
    ck_assert_ptr_null(clnn_safetensors_metadata_key(NULL, 0));
}
END_TEST

/* ---- writer errors ----------------------------------------------------------------------------
 */
typedef struct write_case {
    const char *name;
    clnn_safetensors_entry e[2];
    int n;
    const char *meta[4];
    int nmeta;
    const char *part;
} write_case;

static const int64_t w_s2[1] = {2}, w_neg[2] = {2, -3}, w_huge[2] = {INT64_MAX, 4};
static const unsigned char w_data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const int64_t w_s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
#define OK_ENTRY(nm)                                                                               \
    {                                                                                              \
        nm, "U8", 1, w_s2, w_data                                                                  \
    }

static const write_case write_cases[] = {
    {"duplicate names",
     {OK_ENTRY("a"), OK_ENTRY("a")},
     2,
     {0},
     0,
     "expected unique tensor names, given \"a\" twice"},
    {"reserved name",
     {OK_ENTRY("__metadata__")},
     1,
     {0},
     0,
     "tensor 0: expected a name other than \"__metadata__\""},
    {"NULL name",
     {OK_ENTRY("a"), OK_ENTRY(NULL)},
     2,
     {0},
     0,
     "tensor 1: expected a name, given NULL"},
    {"bad UTF-8 name",
     {OK_ENTRY("a\xc0\xaf")},
     1,
     {0},
     0,
     "tensor 0: expected a name in valid UTF-8"},
    {"unknown dtype",
     {{"a", "F31", 1, w_s2, w_data}},
     1,
     {0},
     0,
     "tensor \"a\": expected a dtype BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64 "
     "or U64, given \"F31\""},
    {"lower-case dtype", {{"a", "f32", 1, w_s2, w_data}}, 1, {0}, 0, "given \"f32\""},
    {"NULL dtype", {{"a", NULL, 1, w_s2, w_data}}, 1, {0}, 0, "or U64, given NULL"},
    {"ndim 9",
     {{"a", "U8", 9, w_s9, w_data}},
     1,
     {0},
     0,
     "tensor \"a\": expected ndim 0 to 8, given 9"},
    {"ndim -1", {{"a", "U8", -1, w_s2, w_data}}, 1, {0}, 0, "expected ndim 0 to 8, given -1"},
    {"NULL shape",
     {{"a", "U8", 1, NULL, w_data}},
     1,
     {0},
     0,
     "expected a shape of 1 dimension(s), given NULL"},
    {"negative dimension",
     {{"a", "U8", 2, w_neg, w_data}},
     1,
     {0},
     0,
     "expected non-negative dimensions, given -3 as dimension 1"},
    {"huge shape",
     {{"a", "F64", 2, w_huge, w_data}},
     1,
     {0},
     0,
     "expected a shape whose element count fits 64 bits"},
    {"NULL data",
     {{"a", "U8", 1, w_s2, NULL}},
     1,
     {0},
     0,
     "tensor \"a\": expected data of 2 bytes, given NULL"},
    {"duplicate metadata keys",
     {OK_ENTRY("a")},
     1,
     {"k", "1", "k", "2"},
     2,
     "expected unique metadata keys, given \"k\" twice"},
    {"NULL metadata value",
     {OK_ENTRY("a")},
     1,
     {"k", NULL},
     1,
     "metadata value 0: expected a string, given NULL"},
    {"NULL metadata key",
     {OK_ENTRY("a")},
     1,
     {"k", "v", NULL, "v"},
     2,
     "metadata key 1: expected a string, given NULL"},
    {"bad UTF-8 metadata",
     {OK_ENTRY("a")},
     1,
     {"k", "\xed\xa0\x80"},
     1,
     "metadata value 0: expected valid UTF-8"},
};
enum { NWRITE_CASES = sizeof write_cases / sizeof write_cases[0] };

START_TEST(test_write_errors)
{
    const write_case *c = &write_cases[_i];
    const char *path = tmp_path("w.safetensors");
    char err[512] = "";
    clnn_status s = clnn_safetensors_write(path, c->n, c->e, c->nmeta, c->meta, err, sizeof err);
    ck_assert_msg(s == CLNN_ERR_INVALID, "%s: got %s (%s)", c->name, clnn_status_name(s), err);
    EXPECT_CONTAINS(err, "clnn_safetensors_write: ");
    EXPECT_CONTAINS(err, c->part);
    ck_assert_int_eq(access(path, F_OK), -1); /* nothing written */
    ck_assert_int_eq(temp_files_left(), 0);
}
END_TEST

START_TEST(test_write_io_errors)
{
    static const clnn_safetensors_entry e[1] = {OK_ENTRY("a")};
    char err[512];
    /* bad arguments */
    EXPECT_ST(NULL, clnn_safetensors_write(NULL, 1, e, 0, NULL, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "path NULL");
    EXPECT_ST(NULL, clnn_safetensors_write(tmp_path("x"), -1, e, 0, NULL, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_ST(NULL, clnn_safetensors_write(tmp_path("x"), 1, NULL, 0, NULL, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "entries NULL");
    EXPECT_ST(NULL, clnn_safetensors_write(tmp_path("x"), 1, e, 1, NULL, err, sizeof err),
              CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "meta NULL");
    /* a directory that does not exist */
    const char *nodir = tmp_path("no-such-dir/model.safetensors");
    EXPECT_ST(NULL, clnn_safetensors_write(nodir, 1, e, 0, NULL, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, nodir);
    EXPECT_CONTAINS(err, "cannot create a temporary file next to it: No such file");
    /* the path is a directory: the rename fails, the temporary file goes */
    char sub[512];
    snprintf(sub, sizeof sub, "%s", tmp_path("subdir"));
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    EXPECT_ST(NULL, clnn_safetensors_write(sub, 1, e, 0, NULL, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, sub);
    EXPECT_CONTAINS(err, "cannot rename over the file the temporary file");
    ck_assert_int_eq(temp_files_left(), 0);
    struct stat sb;
    ck_assert_int_eq(stat(sub, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
}
END_TEST

/* Writing over a file replaces it (keeping its mode); a failed write leaves it intact. */
START_TEST(test_atomic)
{
    static const int64_t s1[1] = {1};
    static const float one = 1.0f, two = 2.0f;
    const clnn_safetensors_entry a = {"x", "F32", 1, s1, &one}, b = {"y", "F32", 1, s1, &two};
    const char *path = tmp_path("model.safetensors");
    char err[512];
    EXPECT_ST(NULL, clnn_safetensors_write(path, 1, &a, 0, NULL, err, sizeof err), CLNN_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    ck_assert_int_eq(chmod(path, 0640), 0);
    const char *meta[2] = {"v", "2"};
    EXPECT_ST(NULL, clnn_safetensors_write(path, 1, &b, 1, meta, err, sizeof err), CLNN_OK);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    clnn_safetensors *st = read_ok(path);
    ck_assert_int_eq(clnn_safetensors_count(st), 1);
    ck_assert_str_eq(clnn_safetensors_name(st, 0), "y");
    ck_assert_str_eq(clnn_safetensors_metadata(st, "v"), "2");
    clnn_safetensors_destroy(st);
    ck_assert_int_eq(temp_files_left(), 0);

    /* a write that fails half way (the file size limit: EFBIG), over the existing file */
    size_t before_n;
    unsigned char *before = slurp(path, &before_n);
    enum { BIG = 1 << 20 };
    unsigned char *big = calloc(BIG, 1);
    static const int64_t sbig[1] = {BIG};
    const clnn_safetensors_entry c = {"big", "U8", 1, sbig, big};
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    clnn_status s = clnn_safetensors_write(path, 1, &c, 0, NULL, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_msg(s == CLNN_ERR_IO, "got %s: %s", clnn_status_name(s), err);
    EXPECT_CONTAINS(err, path);
    EXPECT_CONTAINS(err, "File too large");
    ck_assert_int_eq(temp_files_left(), 0);
    size_t after_n;
    unsigned char *after = slurp(path, &after_n);
    ck_assert_uint_eq(after_n, before_n);
    ck_assert_int_eq(memcmp(before, after, before_n), 0);
    free(before);
    free(after);
    free(big);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_golden);
    tcase_add_test(tc, test_header_order);
    tcase_add_loop_test(tc, test_malformed, 0, NBAD_CASES);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_bad_paths);
    suite_add_tcase(s, tc);
    tc = tcase_create("write");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_loop_test(tc, test_write_errors, 0, NWRITE_CASES);
    tcase_add_test(tc, test_write_io_errors);
    tcase_add_test(tc, test_atomic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(safetensors_suite());
}
