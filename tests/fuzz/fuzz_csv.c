/* fuzz_csv.c — libFuzzer target for the CSV reader, through clnn_csv_parse (the text is the input
 * as is, no NUL). Each input is parsed twice: with the default options (header detected, no label
 * column, ','), then with options taken from its first byte (header 0/1/auto, label column none
 * or 0..2, delimiter , ; tab space | or an invalid '"'), so a seed that is a plain CSV file still
 * reaches every option. Besides "no crash, leak or over-read" (ASan, UBSan) the target checks
 * cheap invariants and traps on a violation: a successful parse has rows >= 1, features >= 1, a
 * non-NULL data pointer with rows * features finite floats, labels exactly when a label column
 * was asked for, and column names exactly when there was a header; a failed one has *out NULL and
 * a non-empty, terminated message. Built by tests/fuzz/meson.build (-Dfuzz=true, clang); run by
 * tools/fuzz. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_csv: invariant violated: %s (line %d)\n", #c, __LINE__);         \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void parse_once(const uint8_t *data, size_t size, const clnn_csv_options *o)
{
    /* a copy of exactly `size` bytes, so reading past the end is caught by ASan */
    char *text = size ? malloc(size) : NULL;
    CHECK(size == 0 || text != NULL);
    if (size)
        memcpy(text, data, size);
    char err[256];
    memset(err, 'x', sizeof err);
    clnn_csv *csv = (clnn_csv *)1;
    clnn_status s = clnn_csv_parse(text, size, o, &csv, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (s != CLNN_OK) {
        CHECK(csv == NULL);
        CHECK(s == CLNN_ERR_FORMAT || s == CLNN_ERR_INVALID);
        CHECK(err[0] != '\0');
        free(text);
        return;
    }
    CHECK(csv != NULL);
    CHECK(err[0] == '\0');
    int64_t rows = clnn_csv_rows(csv), features = clnn_csv_features(csv);
    CHECK(rows >= 1 && features >= 1);
    const float *x = clnn_csv_data(csv);
    CHECK(x != NULL);
    for (int64_t i = 0; i < rows * features; i++)
        CHECK(isfinite(x[i]));
    int label = o && o->label_column != CLNN_CSV_NO_LABEL;
    const int32_t *y = clnn_csv_labels(csv);
    CHECK((y != NULL) == label);
    int64_t sum = 0;
    if (y)
        for (int64_t i = 0; i < rows; i++)
            sum += y[i]; /* reads every label */
    (void)sum;
    int columns = (int)features + label;
    int named = clnn_csv_column_name(csv, 0) != NULL;
    if (o && o->header == 0)
        CHECK(!named);
    if (o && o->header == 1)
        CHECK(named);
    for (int c = 0; c < columns; c++) {
        const char *name = clnn_csv_column_name(csv, c);
        CHECK((name != NULL) == named);
        if (name)
            (void)strlen(name);
    }
    CHECK(clnn_csv_column_name(csv, columns) == NULL);
    CHECK(clnn_csv_column_name(csv, -1) == NULL);
    clnn_csv_destroy(csv);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_once(data, size, NULL);
    if (size == 0)
        return 0;
    static const char delims[] = {',', ';', '\t', ' ', '|', '"'};
    unsigned b = data[0];
    clnn_csv_options o;
    clnn_csv_options_init(&o);
    o.header = (int)(b % 3) - 1; /* -1 (auto), 0, 1 */
    o.label_column = (int)(b / 3 % 4) - 1;
    o.delimiter = delims[b / 12 % 6];
    parse_once(data, size, &o);
    return 0;
}
