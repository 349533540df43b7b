/* csv.c — the numeric CSV reader: one row per line (\n or \r\n; blank lines skipped), fields
 * split by a delimiter and optionally double-quoted ("" inside quotes is a quote), an optional
 * header row (given or detected), and an optional column of integer class labels. Every field must
 * be a finite number (a feature also within the float range) and every row as wide as the first;
 * messages give the row, line and column.
 * Batches and normalisation live in dataset.c. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"

struct clnn_csv {
    int64_t rows, features;
    int columns; /* in the file, label column included */
    float *data; /* (rows, features) */
    int32_t *labels;
    char **names; /* columns names from the header, or NULL */
};

void clnn_csv_options_init(clnn_csv_options *options)
{
    if (!options)
        return;
    memset(options, 0, sizeof *options);
    options->header = CLNN_CSV_HEADER_AUTO;
    options->label_column = CLNN_CSV_NO_LABEL;
    options->delimiter = ',';
}

void clnn_csv_destroy(clnn_csv *csv)
{
    if (!csv)
        return;
    if (csv->names)
        for (int i = 0; i < csv->columns; i++)
            free(csv->names[i]);
    free(csv->names);
    free(csv->data);
    free(csv->labels);
    free(csv);
}

/* One row split into fields, kept in one growing buffer (fields separated by NULs). */
typedef struct row {
    char *text;
    size_t len, cap;
    size_t *starts;
    int count, cap_fields;
} row;

static int row_put(row *r, char c)
{
    if (r->len == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 256;
        char *n = realloc(r->text, ncap);
        if (!n)
            return 0;
        r->text = n;
        r->cap = ncap;
    }
    r->text[r->len++] = c;
    return 1;
}

static int row_begin_field(row *r)
{
    if (r->count == r->cap_fields) {
        int ncap = r->cap_fields ? r->cap_fields * 2 : 16;
        size_t *n = realloc(r->starts, (size_t)ncap * sizeof *n);
        if (!n)
            return 0;
        r->starts = n;
        r->cap_fields = ncap;
    }
    r->starts[r->count++] = r->len;
    return 1;
}

/* Splits the record starting at *pos into r; advances *pos past its line end and *line by the
 * lines it spans. Returns 1 for a record, 0 at the end of the text or for a blank line (then
 * *blank = 1), -1 without memory, -2 for an unterminated quote. */
static int read_row(const char *t, size_t size, size_t *pos, char delim, row *r, int *blank,
                    int64_t *line)
{
    size_t p = *pos;
    r->len = 0;
    r->count = 0;
    *blank = 0;
    if (p >= size)
        return 0;
    size_t q = p;
    while (q < size && (t[q] == ' ' || t[q] == '\t' || t[q] == '\r'))
        q++;
    if (q >= size || t[q] == '\n') {
        *pos = q < size ? q + 1 : q;
        (*line)++;
        *blank = 1;
        return 0;
    }
    if (!row_begin_field(r))
        return -1;
    int quoted = 0;
    while (p < size) {
        char c = t[p];
        if (quoted) {
            if (c == '"') {
                if (p + 1 < size && t[p + 1] == '"') {
                    if (!row_put(r, '"'))
                        return -1;
                    p += 2;
                    continue;
                }
                quoted = 0;
                p++;
                continue;
            }
            if (c == '\n')
                (*line)++;
            if (!row_put(r, c))
                return -1;
            p++;
            continue;
        }
        if (c == '"') {
            quoted = 1;
            p++;
            continue;
        }
        if (c == '\n' || c == delim) {
            if (!row_put(r, '\0'))
                return -1;
            p++;
            if (c == '\n')
                break;
            if (!row_begin_field(r))
                return -1;
            continue;
        }
        if (c == '\r' && (p + 1 == size || t[p + 1] == '\n')) {
            p++;
            continue;
        }
        if (!row_put(r, c))
            return -1;
        p++;
    }
    if (quoted)
        return -2;
    if (r->len == 0 || r->text[r->len - 1] != '\0' || r->starts[r->count - 1] == r->len)
        if (!row_put(r, '\0'))
            return -1;
    (*line)++;
    *pos = p;
    return 1;
}

/* Parses a whole field as a finite number (spaces around it allowed). */
static int parse_number(const char *s, double *v)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno == ERANGE)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end || !isfinite(d))
        return 0;
    *v = d;
    return 1;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static clnn_status parse(const char *t, size_t size, const char *src, const clnn_csv_options *o,
                         clnn_csv *csv, char *err, size_t err_size)
{
    row r = {0};
    clnn_status st = CLNN_OK;
    size_t pos = 0;
    int64_t line = 1, cap_rows = 0;
    int first = 1;
    if (size >= 3 && (unsigned char)t[0] == 0xef && (unsigned char)t[1] == 0xbb &&
        (unsigned char)t[2] == 0xbf)
        pos = 3; /* UTF-8 byte-order mark */
    for (;;) {
        int blank;
        int64_t row_line = line;
        int got = read_row(t, size, &pos, o->delimiter, &r, &blank, &line);
        if (got == 0 && blank)
            continue;
        if (got == 0)
            break;
        if (got == -1) {
            st = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
            goto done;
        }
        if (got == -2) {
            st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                               "%s: line %lld: expected a closing double quote, found the end of "
                               "the text",
                               src, (long long)row_line);
            goto done;
        }
        if (first) {
            first = 0;
            csv->columns = r.count;
            if (o->label_column != CLNN_CSV_NO_LABEL &&
                (o->label_column < 0 || o->label_column >= r.count)) {
                st = clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                                   "%s: expected label_column in 0..%d (line %lld has %d "
                                   "columns), given %d",
                                   src, r.count - 1, (long long)row_line, r.count, o->label_column);
                goto done;
            }
            csv->features = r.count - (o->label_column != CLNN_CSV_NO_LABEL);
            if (csv->features < 1) {
                st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                   "%s: expected at least one feature column besides the label "
                                   "column, found %d column(s)",
                                   src, r.count);
                goto done;
            }
            int header = o->header;
            if (header == CLNN_CSV_HEADER_AUTO) {
                header = 0;
                for (int c = 0; c < r.count; c++) {
                    double v;
                    if (!parse_number(r.text + r.starts[c], &v))
                        header = 1;
                }
            }
            if (header) {
                csv->names = calloc((size_t)r.count, sizeof *csv->names);
                if (!csv->names) {
                    st =
                        clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
                    goto done;
                }
                for (int c = 0; c < r.count; c++)
                    if (!(csv->names[c] = dup_string(r.text + r.starts[c]))) {
                        st = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory",
                                           src);
                        goto done;
                    }
                continue;
            }
        }
        if (r.count != csv->columns) {
            st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                               "%s: row %lld (line %lld): expected %d fields (as the first row), "
                               "found %d",
                               src, (long long)csv->rows + 1, (long long)row_line, csv->columns,
                               r.count);
            goto done;
        }
        if (csv->rows == cap_rows) {
            int64_t ncap = cap_rows ? cap_rows * 2 : 64;
            float *nd = realloc(csv->data, (size_t)(ncap * csv->features) * sizeof *nd);
            if (nd)
                csv->data = nd;
            int32_t *nl = NULL;
            if (o->label_column != CLNN_CSV_NO_LABEL) {
                nl = realloc(csv->labels, (size_t)ncap * sizeof *nl);
                if (nl)
                    csv->labels = nl;
            }
            if (!nd || (o->label_column != CLNN_CSV_NO_LABEL && !nl)) {
                st = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
                goto done;
            }
            cap_rows = ncap;
        }
        float *out = csv->data + csv->rows * csv->features;
        for (int c = 0; c < r.count; c++) {
            const char *field = r.text + r.starts[c];
            double v;
            if (!parse_number(field, &v)) {
                st =
                    clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                  "%s: row %lld (line %lld), column %d: expected a number, "
                                  "found \"%.40s\"",
                                  src, (long long)csv->rows + 1, (long long)row_line, c + 1, field);
                goto done;
            }
            if (c == o->label_column) {
                if (v != floor(v) || v < INT32_MIN || v > INT32_MAX) {
                    st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                       "%s: row %lld (line %lld), column %d: expected an integer "
                                       "class label, found \"%.40s\"",
                                       src, (long long)csv->rows + 1, (long long)row_line, c + 1,
                                       field);
                    goto done;
                }
                csv->labels[csv->rows] = (int32_t)v;
            } else {
                if (fabs(v) > FLT_MAX) { /* finite as a double, infinite as a float */
                    st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                       "%s: row %lld (line %lld), column %d: expected a number "
                                       "within the float range (|x| <= %g), found \"%.40s\"",
                                       src, (long long)csv->rows + 1, (long long)row_line, c + 1,
                                       (double)FLT_MAX, field);
                    goto done;
                }
                *out++ = (float)v;
            }
        }
        csv->rows++;
    }
    if (csv->rows == 0)
        st = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                           "%s: expected at least one data row, found %s", src,
                           csv->names ? "only a header" : "no rows");
done:
    free(r.text);
    free(r.starts);
    return st;
}

clnn_status clnn_csv_parse(const char *text, size_t size, const clnn_csv_options *options,
                           clnn_csv **out, char *err, size_t err_size)
{
    return clnn__csv_parse_named(text, size, "<text>", options, out, err, err_size);
}

clnn_status clnn__csv_parse_named(const char *text, size_t size, const char *src,
                                  const clnn_csv_options *options, clnn_csv **out, char *err,
                                  size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!out || (!text && size))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_csv_parse: expected text and an out pointer, given NULL");
    *out = NULL;
    clnn_csv_options o;
    clnn_csv_options_init(&o);
    if (options)
        o = *options;
    if (o.header != 0 && o.header != 1 && o.header != CLNN_CSV_HEADER_AUTO)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "%s: expected header 0, 1 or CLNN_CSV_HEADER_AUTO, given %d", src,
                             o.header);
    if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == '\0')
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "%s: expected a delimiter such as ',' or ';', given 0x%02x", src,
                             (unsigned char)o.delimiter);
    clnn_csv *csv = calloc(1, sizeof *csv);
    if (!csv)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    clnn_status st = parse(text, size, src, &o, csv, err, err_size);
    if (st != CLNN_OK) {
        clnn_csv_destroy(csv);
        return st;
    }
    *out = csv;
    return CLNN_OK;
}

clnn_status clnn_csv_read(const char *path, const clnn_csv_options *options, clnn_csv **out,
                          char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!path || !out)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_csv_read: expected a path and an out pointer, given NULL");
    *out = NULL;
    char *text;
    size_t len;
    clnn_status rs = clnn__io_read_file(path, "CSV file", &text, &len, err, err_size);
    if (rs)
        return rs;
    clnn_status s = clnn__csv_parse_named(text, len, path, options, out, err, err_size);
    free(text);
    return s;
}

int64_t clnn_csv_rows(const clnn_csv *csv)
{
    return csv ? csv->rows : 0;
}
int64_t clnn_csv_features(const clnn_csv *csv)
{
    return csv ? csv->features : 0;
}
const float *clnn_csv_data(const clnn_csv *csv)
{
    return csv ? csv->data : NULL;
}
const int32_t *clnn_csv_labels(const clnn_csv *csv)
{
    return csv ? csv->labels : NULL;
}
const char *clnn_csv_column_name(const clnn_csv *csv, int column)
{
    if (!csv || !csv->names || column < 0 || column >= csv->columns)
        return NULL;
    return csv->names[column];
}
