/* fuzz_safetensors.c — libFuzzer target for the safetensors reader and, through its header, the
 * strict JSON parser (src/io/safetensors.c, src/io/json.c), through clnn_safetensors_parse on an
 * exact-size copy of the input (so an over-read shows under ASan). Besides "no crash, leak or
 * over-read" (ASan, UBSan) the target checks cheap invariants and traps on a violation: a
 * failed parse has *out NULL, a CLNN_ERR_FORMAT status and a non-empty, terminated message
 * naming "<memory>"; a successful one has a header length N within the input, tensors with a
 * name, a known dtype, 0..8 non-negative dimensions and exactly numel * dtype size bytes, whose
 * sizes add up to the data region (input size - 8 - N) and whose bytes equal the input's (each
 * tensor's bytes are found at some offset of a data region up to 4 KiB; every byte read), find()
 * giving back each tensor's index, and metadata keys that look themselves up. Built by
 * tests/fuzz/meson.build (-Dfuzz=true, clang); run by tools/fuzz. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_safetensors: invariant violated: %s (line %d)\n", #c, __LINE__); \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static size_t dtype_size(const char *d)
{
    static const struct {
        const char *name;
        size_t size;
    } t[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
             {"I32", 4},  {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (d && !strcmp(d, t[i].name))
            return t[i].size;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    char err[256];
    memset(err, 'x', sizeof err);
    clnn_safetensors *st = (clnn_safetensors *)1;
    clnn_status s = clnn_safetensors_parse(copy, size, &st, err, sizeof err);
    free(copy); /* the parse copied it: nothing may point into it */
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (s != CLNN_OK) {
        CHECK(st == NULL);
        CHECK(s == CLNN_ERR_FORMAT);
        CHECK(strncmp(err, "<memory>: ", 10) == 0);
        return 0;
    }
    CHECK(st != NULL);
    CHECK(err[0] == '\0');
    CHECK(size >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | data[i];
    CHECK(n <= 100000000 && n <= size - 8);
    const uint8_t *region = data + 8 + n;
    size_t region_n = size - 8 - (size_t)n, total = 0;

    int count = clnn_safetensors_count(st);
    CHECK(count >= 0);
    for (int i = 0; i < count; i++) {
        const char *name = clnn_safetensors_name(st, i);
        CHECK(name != NULL);
        CHECK(strcmp(name, "__metadata__") != 0);
        CHECK(clnn_safetensors_find(st, name) == i);
        size_t es = dtype_size(clnn_safetensors_dtype(st, i));
        CHECK(es != 0);
        int ndim = clnn_safetensors_ndim(st, i);
        CHECK(ndim >= 0 && ndim <= 8);
        uint64_t numel = 1;
        for (int d = 0; d < ndim; d++) {
            int64_t dim = clnn_safetensors_dim(st, i, d);
            CHECK(dim >= 0);
            CHECK(clnn_safetensors_dim(st, i, d - ndim) == dim);
            numel = dim == 0 || numel == 0 ? 0 : numel * (uint64_t)dim;
        }
        CHECK(clnn_safetensors_dim(st, i, ndim) == -1);
        size_t bytes = 99;
        const uint8_t *p = clnn_safetensors_data(st, i, &bytes);
        CHECK(p != NULL);
        CHECK(bytes <= region_n);
        CHECK((uint64_t)bytes == numel * es); /* numel * es <= region_n: no overflow here */
        total += bytes;
        /* the bytes are the input's: at some offset of the data region (a search bounded to
         * small regions; in large ones every byte is read) */
        if (region_n <= 4096) {
            int found = bytes == 0;
            for (size_t at = 0; !found && at + bytes <= region_n; at++)
                found = memcmp(p, region + at, bytes) == 0;
            CHECK(found);
        } else {
            volatile uint8_t sum = 0;
            for (size_t b = 0; b < bytes; b++)
                sum += p[b];
            (void)sum;
        }
    }
    CHECK(total == region_n); /* no gap, no overlap, nothing left over */
    CHECK(clnn_safetensors_name(st, count) == NULL);
    CHECK(clnn_safetensors_ndim(st, -1) == -1);
    CHECK(clnn_safetensors_data(st, count, NULL) == NULL);
    CHECK(clnn_safetensors_find(st, "__metadata__") == -1);

    int nmeta = clnn_safetensors_metadata_count(st);
    CHECK(nmeta >= 0);
    for (int k = 0; k < nmeta; k++) {
        const char *key = clnn_safetensors_metadata_key(st, k);
        CHECK(key != NULL);
        const char *v = clnn_safetensors_metadata(st, key);
        CHECK(v != NULL);
        (void)strlen(v);
    }
    CHECK(clnn_safetensors_metadata_key(st, nmeta) == NULL);
    clnn_safetensors_destroy(st);
    return 0;
}
