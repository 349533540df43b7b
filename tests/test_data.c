/* test_data.c — the "data" check suite: the IDX reader (every element type, plain and gzip, and
 * every header and data error with its status and message) and the CSV reader (headers, labels,
 * quotes, line ends; ragged rows and bad fields with their row and column), and the inputs the
 * fuzzers (tests/fuzz) found, as bytes. The data set iterator is checked in test_dataset.c.
 * Every file is small, synthetic and written by the test into its own mkdtemp directory; gzip
 * files are written here with stored deflate blocks (no zlib in the tests). No OpenCL: nothing here
 * touches a device. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <math.h>
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
    snprintf(tmpdir, sizeof tmpdir, "%s/clnn_test_data_XXXXXX", base && *base ? base : "/tmp");
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

/* ---- gzip with stored blocks: header, blocks of <= 65535 bytes, CRC32 and size ------------- */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Returns a malloc'd gzip stream of the bytes; *out_size its length. */
static unsigned char *gzip_stored(const unsigned char *p, size_t n, size_t *out_size)
{
    size_t blocks = n / 65535 + 1;
    unsigned char *g = malloc(10 + blocks * 5 + n + 8), *q = g;
    ck_assert_ptr_nonnull(g);
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(q, head, 10);
    q += 10;
    size_t done = 0;
    do {
        size_t len = n - done > 65535 ? 65535 : n - done;
        int last = done + len == n;
        *q++ = (unsigned char)last;
        *q++ = (unsigned char)(len & 0xff);
        *q++ = (unsigned char)(len >> 8);
        *q++ = (unsigned char)(~len & 0xff);
        *q++ = (unsigned char)((~len >> 8) & 0xff);
        memcpy(q, p + done, len);
        q += len;
        done += len;
    } while (done < n);
    uint32_t crc = crc32_of(p, n), size = (uint32_t)n;
    for (int i = 0; i < 4; i++)
        *q++ = (unsigned char)(crc >> (8 * i));
    for (int i = 0; i < 4; i++)
        *q++ = (unsigned char)(size >> (8 * i));
    *out_size = (size_t)(q - g);
    return g;
}

static void write_gzip(const char *path, const unsigned char *p, size_t n)
{
    size_t gsize;
    unsigned char *g = gzip_stored(p, n, &gsize);
    write_file(path, g, gsize);
    free(g);
}

/* ---- IDX files: header bytes + big-endian data -------------------------------------------- */
typedef struct bytes {
    unsigned char b[4096];
    size_t n;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    ck_assert(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put_be(bytes *b, uint64_t v, int size)
{
    for (int i = size - 1; i >= 0; i--) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void idx_header(bytes *b, int type, int ndim, const uint32_t *dims)
{
    unsigned char h[4] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    put(b, h, 4);
    for (int i = 0; i < ndim; i++)
        put_be(b, dims[i], 4);
}

/* Element i of the test data of each type: negative, fractional and extreme values included. */
static double test_value(int type, int i)
{
    switch (type) {
    case CLNN_IDX_U8:
        return (double)((i * 37 + 255) % 256);
    case CLNN_IDX_I8:
        return (double)((i * 37) % 256 - 128);
    case CLNN_IDX_I16:
        return i == 0 ? -32768.0 : (double)(i * 1111 - 3000);
    case CLNN_IDX_I32:
        return i == 0 ? -2147483648.0 : (double)(i * 100003 - 700000);
    case CLNN_IDX_F32:
        return i * 0.25 - 1.5;
    default:
        return i * -1.0e-3 + 0.1;
    }
}

static void put_value(bytes *b, int type, double v)
{
    switch (type) {
    case CLNN_IDX_U8:
    case CLNN_IDX_I8:
        put_be(b, (uint64_t)(int64_t)v, 1);
        break;
    case CLNN_IDX_I16:
        put_be(b, (uint64_t)(int64_t)v, 2);
        break;
    case CLNN_IDX_I32:
        put_be(b, (uint64_t)(int64_t)v, 4);
        break;
    case CLNN_IDX_F32: {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_be(b, u, 4);
        break;
    }
    default: {
        uint64_t u;
        memcpy(&u, &v, 8);
        put_be(b, u, 8);
    }
    }
}

static const int idx_types[] = {CLNN_IDX_U8,  CLNN_IDX_I8,  CLNN_IDX_I16,
                                CLNN_IDX_I32, CLNN_IDX_F32, CLNN_IDX_F64};

/* ---- IDX: every element type, plain and gzip (12 cases) ----------------------------------- */
START_TEST(test_idx_types)
{
    int type = idx_types[_i % 6], gz = _i / 6;
    static const uint32_t dims[3] = {2, 3, 4};
    bytes b = {0};
    idx_header(&b, type, 3, dims);
    for (int i = 0; i < 24; i++)
        put_value(&b, type, test_value(type, i));
    const char *path = tmp_path(gz ? "data.idx" : "data.gz"); /* the name says nothing */
    if (gz)
        write_gzip(path, b.b, b.n);
    else
        write_file(path, b.b, b.n);
    char err[512] = "stale";
    clnn_idx *idx = NULL;
    clnn_status st = clnn_idx_read(path, &idx, err, sizeof err);
    ck_assert_msg(st == CLNN_OK, "type 0x%02x gz %d: got %s: %s", type, gz, clnn_status_name(st),
                  err);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(clnn_idx_elem_type(idx), type);
    ck_assert_int_eq(clnn_idx_ndim(idx), 3);
    ck_assert_int_eq(clnn_idx_dim(idx, 0), 2);
    ck_assert_int_eq(clnn_idx_dim(idx, 1), 3);
    ck_assert_int_eq(clnn_idx_dim(idx, -1), 4);
    ck_assert_int_eq(clnn_idx_dim(idx, 3), 0);
    ck_assert_int_eq(clnn_idx_numel(idx), 24);
    float f[24];
    EXPECT_ST(NULL, clnn_idx_to_f32(idx, 0.5f, f, 24), CLNN_OK);
    EXPECT_ST(NULL, clnn_idx_to_f32(idx, 0.5f, f, 23), CLNN_ERR_INVALID);
    const void *raw = clnn_idx_data(idx);
    for (int i = 0; i < 24; i++) {
        double want = test_value(type, i), got_raw = 0;
        switch (type) {
        case CLNN_IDX_U8:
            got_raw = ((const uint8_t *)raw)[i];
            break;
        case CLNN_IDX_I8:
            got_raw = ((const int8_t *)raw)[i];
            break;
        case CLNN_IDX_I16:
            got_raw = ((const int16_t *)raw)[i];
            break;
        case CLNN_IDX_I32:
            got_raw = ((const int32_t *)raw)[i];
            break;
        case CLNN_IDX_F32:
            got_raw = ((const float *)raw)[i];
            break;
        default:
            got_raw = ((const double *)raw)[i];
        }
        ck_assert_msg(got_raw == want, "type 0x%02x element %d: got %.17g, expected %.17g", type, i,
                      got_raw, want);
        ck_assert_msg(f[i] == (float)(want * 0.5), "f32 element %d: got %.9g, expected %.9g", i,
                      (double)f[i], want * 0.5);
    }
    int32_t l[24];
    if (type == CLNN_IDX_F32 || type == CLNN_IDX_F64) {
        EXPECT_ST(NULL, clnn_idx_to_i32(idx, l, 24), CLNN_ERR_INVALID);
    } else {
        EXPECT_ST(NULL, clnn_idx_to_i32(idx, l, 24), CLNN_OK);
        for (int i = 0; i < 24; i++)
            ck_assert_int_eq(l[i], (int32_t)test_value(type, i));
    }
    clnn_idx_destroy(idx);
    clnn_idx_destroy(NULL);
}
END_TEST

/* ---- IDX: bad files, each with its status and message --------------------------------------- */
enum { PLAIN, GZIP, GZIP_CUT };

typedef struct idx_case {
    const char *name;
    int container; /* PLAIN, GZIP, or GZIP_CUT (the stream loses its last 9 bytes) */
    unsigned char head[12];
    size_t head_n; /* header bytes to write */
    size_t data_n; /* then this many data bytes */
    clnn_status want;
    const char *part1, *part2; /* the message must contain both */
} idx_case;

static const idx_case idx_cases[] = {
    {"empty file", PLAIN, {0}, 0, 0, CLNN_ERR_FORMAT, "empty file", "expected an IDX header"},
    {"empty gzip", GZIP, {0}, 0, 0, CLNN_ERR_FORMAT, "empty file", "(gzip)"},
    {"short header", PLAIN, {0, 0, 8}, 3, 0, CLNN_ERR_FORMAT, "found 3 byte", "4 bytes"},
    {"wrong magic",
     PLAIN,
     {1, 0, 8, 1, 0, 0, 0, 1},
     8,
     1,
     CLNN_ERR_FORMAT,
     "magic",
     "found 01 00 08 01"},
    {"text file",
     PLAIN,
     {'h', 'e', 'l', 'l', 'o', '\n'},
     6,
     0,
     CLNN_ERR_FORMAT,
     "not an IDX",
     "found 68 65 6c 6c"},
    {"bad type",
     PLAIN,
     {0, 0, 7, 1, 0, 0, 0, 1},
     8,
     1,
     CLNN_ERR_FORMAT,
     "element type",
     "found 0x07"},
    {"zero dims", PLAIN, {0, 0, 8, 0}, 4, 0, CLNN_ERR_FORMAT, "1 to 8 IDX dimensions", "found 0"},
    {"too many dims",
     PLAIN,
     {0, 0, 8, 9},
     4,
     0,
     CLNN_ERR_FORMAT,
     "1 to 8 IDX dimensions",
     "found 9"},
    {"cut dims",
     PLAIN,
     {0, 0, 8, 2, 0, 0, 0, 1, 0, 0},
     10,
     0,
     CLNN_ERR_FORMAT,
     "truncated header",
     "expected 8 dimension bytes, found 6"},
    {"zero dim",
     PLAIN,
     {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 0},
     12,
     0,
     CLNN_ERR_FORMAT,
     "dimension 1 to be in 1..",
     "found 0"},
    {"dim over int32",
     PLAIN,
     {0, 0, 8, 1, 0x80, 0, 0, 0},
     8,
     0,
     CLNN_ERR_FORMAT,
     "dimension 0 to be in 1..2147483647",
     "found 2147483648"},
    {"too large",
     GZIP,
     {0, 0, 0x0E, 2, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
     12,
     0,
     CLNN_ERR_FORMAT,
     "expected at most",
     "dimension 1"},
    {"truncated data",
     PLAIN,
     {0, 0, 0x0B, 1, 0, 0, 0, 6},
     8,
     11,
     CLNN_ERR_FORMAT,
     "truncated",
     "expected 12 data bytes (6 short elements), found 11"},
    {"trailing bytes",
     PLAIN,
     {0, 0, 0x0B, 1, 0, 0, 0, 6},
     8,
     15,
     CLNN_ERR_FORMAT,
     "found 3 trailing byte(s)",
     "expected 12 data bytes"},
    {"truncated gzip data",
     GZIP,
     {0, 0, 0x0C, 1, 0, 0, 0, 4},
     8,
     10,
     CLNN_ERR_FORMAT,
     "(gzip): truncated",
     "expected 16 data bytes (4 int elements), found 10"},
    {"trailing gzip data",
     GZIP,
     {0, 0, 8, 1, 0, 0, 0, 4},
     8,
     5,
     CLNN_ERR_FORMAT,
     "found 1 trailing byte(s)",
     "(gzip)"},
    /* a header that claims 2 GiB over 7 bytes of data: an error, not a 2 GiB allocation */
    {"lying gzip header",
     GZIP,
     {0, 0, 8, 1, 0x7f, 0xff, 0xff, 0xff},
     8,
     7,
     CLNN_ERR_FORMAT,
     "truncated",
     "found 7"},
    {"gzip cut short",
     GZIP_CUT,
     {0, 0, 8, 1, 0, 0, 0, 100},
     8,
     100,
     CLNN_ERR_FORMAT,
     "(gzip): expected 100 data bytes",
     "gzip stream cut short or corrupt after 99 of them"},
    {"gzip cut in header",
     GZIP_CUT,
     {0, 0, 8},
     3,
     0,
     CLNN_ERR_FORMAT,
     "(gzip): expected an IDX header",
     "cut short or corrupt"},
};
enum { NIDX_CASES = sizeof idx_cases / sizeof idx_cases[0] };

START_TEST(test_idx_errors)
{
    const idx_case *c = &idx_cases[_i];
    bytes b = {0};
    put(&b, c->head, c->head_n);
    for (size_t i = 0; i < c->data_n; i++)
        put_be(&b, i * 7 + 1, 1);
    const char *path = tmp_path("bad-idx");
    if (c->container == PLAIN) {
        write_file(path, b.b, b.n);
    } else {
        size_t gsize;
        unsigned char *g = gzip_stored(b.b, b.n, &gsize);
        write_file(path, g, c->container == GZIP_CUT ? gsize - 9 : gsize);
        free(g);
    }
    char err[512] = "";
    clnn_idx *idx = (clnn_idx *)&b; /* must be set to NULL on failure */
    clnn_status st = clnn_idx_read(path, &idx, err, sizeof err);
    ck_assert_msg(st == c->want, "%s: got %s, expected %s (%s)", c->name, clnn_status_name(st),
                  clnn_status_name(c->want), err);
    if (getenv("TEST_DATA_VERBOSE"))
        fprintf(stderr, "%-20s %s: %s\n", c->name, clnn_status_name(st), err);
    ck_assert_ptr_null(idx);
    EXPECT_CONTAINS(err, path);
    EXPECT_CONTAINS(err, c->part1);
    EXPECT_CONTAINS(err, c->part2);
}
END_TEST

START_TEST(test_idx_bad_paths)
{
    char err[512];
    clnn_idx *idx = NULL;
    const char *missing = tmp_path("no-such-file.idx");
    EXPECT_ST(NULL, clnn_idx_read(missing, &idx, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, missing);
    EXPECT_CONTAINS(err, "No such file");
    ck_assert_ptr_null(idx);
    EXPECT_ST(NULL, clnn_idx_read(tmpdir, &idx, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "found a directory");
    EXPECT_CONTAINS(err, tmpdir);
    EXPECT_ST(NULL, clnn_idx_read(NULL, &idx, err, sizeof err), CLNN_ERR_INVALID);
    EXPECT_CONTAINS(err, "path NULL");
    EXPECT_ST(NULL, clnn_idx_read(missing, NULL, err, sizeof err), CLNN_ERR_INVALID);
    /* no error buffer at all, or a tiny one: still the status, never an overflow */
    EXPECT_ST(NULL, clnn_idx_read(missing, &idx, NULL, 0), CLNN_ERR_IO);
    char tiny[8];
    EXPECT_ST(NULL, clnn_idx_read(missing, &idx, tiny, sizeof tiny), CLNN_ERR_IO);
    ck_assert_uint_eq(strlen(tiny), 7);
    /* a corrupt CRC at the end of a gzip stream */
    bytes b = {0};
    static const uint32_t dim[1] = {3};
    idx_header(&b, CLNN_IDX_U8, 1, dim);
    put(&b, "abc", 3);
    size_t gsize;
    unsigned char *g = gzip_stored(b.b, b.n, &gsize);
    g[gsize - 8] ^= 0x55;
    write_file(tmp_path("crc.gz"), g, gsize);
    free(g);
    EXPECT_ST(NULL, clnn_idx_read(tmp_path("crc.gz"), &idx, err, sizeof err), CLNN_ERR_FORMAT);
    EXPECT_CONTAINS(err, "gzip");
    ck_assert_ptr_null(idx);
    EXPECT_ST(NULL, clnn_idx_to_f32(NULL, 1.0f, NULL, 0), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_idx_numel(NULL), 0);
}
END_TEST

/* ---- CSV ------------------------------------------------------------------------------------ */
static clnn_csv *csv_ok(const char *text, const clnn_csv_options *o)
{
    char err[512] = "stale";
    clnn_csv *csv = NULL;
    clnn_status st = clnn_csv_parse(text, strlen(text), o, &csv, err, sizeof err);
    ck_assert_msg(st == CLNN_OK, "csv \"%s\": got %s: %s", text, clnn_status_name(st), err);
    ck_assert_str_eq(err, "");
    return csv;
}

static void expect_floats(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "element %d: got %g, expected %g", i, (double)got[i],
                      (double)want[i]);
}

START_TEST(test_csv_good)
{
    /* auto header, label column, CRLF, blank lines, spaces, quotes, no final newline */
    clnn_csv_options o;
    clnn_csv_options_init(&o);
    ck_assert_int_eq(o.header, CLNN_CSV_HEADER_AUTO);
    ck_assert_int_eq(o.label_column, CLNN_CSV_NO_LABEL);
    ck_assert_int_eq(o.delimiter, ',');
    o.label_column = 2;
    clnn_csv *csv =
        csv_ok("a,\"b, quoted\",label\r\n1, 2.5 ,3\r\n\r\n-4,\"5e-1\",0\n  \n7,8,1", &o);
    ck_assert_int_eq(clnn_csv_rows(csv), 3);
    ck_assert_int_eq(clnn_csv_features(csv), 2);
    expect_floats(clnn_csv_data(csv), (const float[]){1, 2.5f, -4, 0.5f, 7, 8}, 6);
    const int32_t *l = clnn_csv_labels(csv);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(l[0], 3);
    ck_assert_int_eq(l[1], 0);
    ck_assert_int_eq(l[2], 1);
    ck_assert_str_eq(clnn_csv_column_name(csv, 0), "a");
    ck_assert_str_eq(clnn_csv_column_name(csv, 1), "b, quoted");
    ck_assert_str_eq(clnn_csv_column_name(csv, 2), "label");
    ck_assert_ptr_null(clnn_csv_column_name(csv, 3));
    clnn_csv_destroy(csv);

    /* no header (detected), no label, label in the first column */
    csv = csv_ok("1,2\n3,4\n", NULL);
    ck_assert_int_eq(clnn_csv_rows(csv), 2);
    ck_assert_int_eq(clnn_csv_features(csv), 2);
    ck_assert_ptr_null(clnn_csv_labels(csv));
    ck_assert_ptr_null(clnn_csv_column_name(csv, 0));
    expect_floats(clnn_csv_data(csv), (const float[]){1, 2, 3, 4}, 4);
    clnn_csv_destroy(csv);
    clnn_csv_options_init(&o);
    o.label_column = 0;
    o.delimiter = ';';
    csv = csv_ok("9;0.5;1e2\n2;-1;-2\n", &o);
    ck_assert_int_eq(clnn_csv_labels(csv)[0], 9);
    ck_assert_int_eq(clnn_csv_labels(csv)[1], 2);
    expect_floats(clnn_csv_data(csv), (const float[]){0.5f, 100, -1, -2}, 4);
    clnn_csv_destroy(csv);

    /* an all-numeric header given explicitly; header = 0 keeps a first row as data */
    clnn_csv_options_init(&o);
    o.header = 1;
    csv = csv_ok("1,2\n3,4\n", &o);
    ck_assert_int_eq(clnn_csv_rows(csv), 1);
    ck_assert_str_eq(clnn_csv_column_name(csv, 1), "2");
    clnn_csv_destroy(csv);

    /* from a file */
    const char *path = tmp_path("good.csv");
    write_file(path, "x,y\n1,2\n", 8);
    char err[256];
    EXPECT_ST(NULL, clnn_csv_read(path, NULL, &csv, err, sizeof err), CLNN_OK);
    ck_assert_int_eq(clnn_csv_rows(csv), 1);
    ck_assert_str_eq(clnn_csv_column_name(csv, 1), "y");
    clnn_csv_destroy(csv);
    clnn_csv_destroy(NULL);
}
END_TEST

typedef struct csv_case {
    const char *name, *text;
    int header, label_column;
    clnn_status want;
    const char *part1, *part2;
} csv_case;

static const csv_case csv_cases[] = {
    {"ragged short", "1,2,3\n4,5,6\n7,8\n", -1, -1, CLNN_ERR_FORMAT, "row 3 (line 3)",
     "expected 3 fields (as the first row), found 2"},
    {"ragged long", "a,b\n1,2\n3,4,5\n", -1, -1, CLNN_ERR_FORMAT, "row 2 (line 3)",
     "expected 2 fields (as the first row), found 3"},
    {"non-numeric", "a,b\n1,2\n3,abc\n", -1, -1, CLNN_ERR_FORMAT, "row 2 (line 3), column 2",
     "expected a number, found \"abc\""},
    {"number with junk", "1,2x\n", 0, -1, CLNN_ERR_FORMAT, "row 1 (line 1), column 2",
     "found \"2x\""},
    {"empty field", "1,,3\n", 0, -1, CLNN_ERR_FORMAT, "row 1 (line 1), column 2",
     "expected a number, found \"\""},
    {"nan", "1,2\nnan,4\n", -1, -1, CLNN_ERR_FORMAT, "row 2 (line 2), column 1", "\"nan\""},
    {"fractional label", "1,2.5\n", 0, 1, CLNN_ERR_FORMAT, "column 2",
     "expected an integer class label, found \"2.5\""},
    {"label column out of range", "1,2\n", 0, 5, CLNN_ERR_INVALID, "label_column in 0..1",
     "given 5"},
    {"label only", "1\n2\n", 0, 0, CLNN_ERR_FORMAT, "at least one feature column",
     "found 1 column"},
    {"open quote", "1,\"2\n3,4\n", 0, -1, CLNN_ERR_FORMAT, "line 1",
     "expected a closing double quote"},
    {"header only", "a,b\n", -1, -1, CLNN_ERR_FORMAT, "at least one data row",
     "found only a header"},
    {"empty", "", -1, -1, CLNN_ERR_FORMAT, "at least one data row", "found no rows"},
    {"blank lines", "\n \r\n\n", -1, -1, CLNN_ERR_FORMAT, "at least one data row", "no rows"},
    {"bad header option", "1\n", 7, -1, CLNN_ERR_INVALID, "expected header 0, 1", "given 7"},
};
enum { NCSV_CASES = sizeof csv_cases / sizeof csv_cases[0] };

START_TEST(test_csv_errors)
{
    const csv_case *c = &csv_cases[_i];
    clnn_csv_options o;
    clnn_csv_options_init(&o);
    o.header = c->header;
    o.label_column = c->label_column;
    /* from memory, and from a file whose path the message names */
    for (int from_file = 0; from_file < 2; from_file++) {
        char err[512] = "";
        clnn_csv *csv = (clnn_csv *)&o;
        clnn_status st;
        const char *src = "<text>";
        if (from_file) {
            src = tmp_path("bad.csv");
            write_file(src, c->text, strlen(c->text));
            st = clnn_csv_read(src, &o, &csv, err, sizeof err);
        } else {
            /* an exact-size copy without a NUL, so an over-read shows under ASan/valgrind */
            size_t n = strlen(c->text);
            char *copy = malloc(n ? n : 1);
            memcpy(copy, c->text, n);
            st = clnn_csv_parse(copy, n, &o, &csv, err, sizeof err);
            free(copy);
        }
        ck_assert_msg(st == c->want, "%s: got %s, expected %s (%s)", c->name, clnn_status_name(st),
                      clnn_status_name(c->want), err);
        if (getenv("TEST_DATA_VERBOSE"))
            fprintf(stderr, "%-20s %s: %s\n", c->name, clnn_status_name(st), err);
        ck_assert_ptr_null(csv);
        EXPECT_CONTAINS(err, src);
        EXPECT_CONTAINS(err, c->part1);
        EXPECT_CONTAINS(err, c->part2);
    }
}
END_TEST

START_TEST(test_csv_bad_paths)
{
    char err[512];
    clnn_csv *csv = NULL;
    EXPECT_ST(NULL, clnn_csv_read(tmp_path("missing.csv"), NULL, &csv, err, sizeof err),
              CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "missing.csv");
    EXPECT_CONTAINS(err, "No such file");
    EXPECT_ST(NULL, clnn_csv_read(tmpdir, NULL, &csv, err, sizeof err), CLNN_ERR_IO);
    EXPECT_CONTAINS(err, "found a directory");
    EXPECT_ST(NULL, clnn_csv_parse("1", 1, NULL, NULL, err, sizeof err), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_csv_rows(NULL), 0);
}
END_TEST

/* ---- inputs found by the fuzzers (tests/fuzz, tools/fuzz), kept as regression cases -------- */
typedef struct fuzz_case {
    const char *name;
    const unsigned char *bytes; /* the input as found, not NUL-terminated */
    size_t size;
    clnn_status want;
    const char *part; /* in the message on failure */
} fuzz_case;

#define FUZZ_BYTES(...)                                                                            \
    (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__})
static const fuzz_case fuzz_cases[] = {
    /* fuzz_csv: a finite double beyond the float range became an infinite feature */
    {"csv 1e300", FUZZ_BYTES('1', ',', '1', 'e', '3', '0', '0', '\n', '2', ',', '3', '\n'),
     CLNN_ERR_FORMAT, "row 1 (line 1), column 2: expected a number within the float range"},
    {"csv -1e39", FUZZ_BYTES('-', '1', 'e', '3', '9'), CLNN_ERR_FORMAT, "found \"-1e39\""},
    {"csv 3.4e38", FUZZ_BYTES('3', '.', '4', 'e', '3', '8'), CLNN_OK, ""},
};
enum { NFUZZ_CASES = sizeof fuzz_cases / sizeof fuzz_cases[0] };

START_TEST(test_csv_fuzz_regressions)
{
    const fuzz_case *c = &fuzz_cases[_i];
    char *copy = malloc(c->size); /* exact size: an over-read shows under ASan */
    memcpy(copy, c->bytes, c->size);
    char err[512];
    clnn_csv *csv = NULL;
    clnn_status st = clnn_csv_parse(copy, c->size, NULL, &csv, err, sizeof err);
    free(copy);
    ck_assert_msg(st == c->want, "%s: got %s, expected %s (%s)", c->name, clnn_status_name(st),
                  clnn_status_name(c->want), err);
    EXPECT_CONTAINS(err, c->part);
    if (st == CLNN_OK) {
        ck_assert_ptr_nonnull(csv);
        for (int64_t i = 0; i < clnn_csv_rows(csv) * clnn_csv_features(csv); i++)
            ck_assert_msg(isfinite(clnn_csv_data(csv)[i]), "%s: feature %lld is not finite",
                          c->name, (long long)i);
    } else {
        ck_assert_ptr_null(csv);
    }
    clnn_csv_destroy(csv);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_loop_test(tc, test_idx_types, 0, 12);
    tcase_add_loop_test(tc, test_idx_errors, 0, NIDX_CASES);
    tcase_add_test(tc, test_idx_bad_paths);
    suite_add_tcase(s, tc);
    tc = tcase_create("csv");
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_test(tc, test_csv_good);
    tcase_add_loop_test(tc, test_csv_errors, 0, NCSV_CASES);
    tcase_add_test(tc, test_csv_bad_paths);
    tcase_add_loop_test(tc, test_csv_fuzz_regressions, 0, NFUZZ_CASES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(data_suite());
}
