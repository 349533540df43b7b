/* fuzz_idx.c — libFuzzer target for the IDX reader (plain and gzip). clnn_idx_read has no
 * in-memory entry point, so each input is written to one per-process temporary file (created
 * once under /tmp and unlinked at once; read back through /proc/self/fd/N, so nothing is left
 * behind however the process ends). Besides "no crash, leak or over-read" (ASan, UBSan) the
 * target checks cheap invariants and traps on a violation: a successful read has 1..8 positive
 * dimensions whose product is numel, a non-NULL data pointer, a valid element type, and for a
 * plain file exactly header + numel * element size bytes; a failed one has *out NULL, a
 * CLNN_ERR_FORMAT status and a non-empty, terminated message. Built by tests/fuzz/meson.build
 * (-Dfuzz=true, clang); run by tools/fuzz. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clnn.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_idx: invariant violated: %s (line %d)\n", #c, __LINE__);         \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static int fd = -1;
static char path[64];

static void open_temp(void)
{
    char name[] = "/tmp/clnn_fuzz_idx_XXXXXX";
    fd = mkstemp(name);
    if (fd < 0) {
        perror("fuzz_idx: mkstemp");
        abort();
    }
    unlink(name);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

static size_t elem_size(clnn_idx_type t)
{
    switch (t) {
    case CLNN_IDX_U8:
    case CLNN_IDX_I8:
        return 1;
    case CLNN_IDX_I16:
        return 2;
    case CLNN_IDX_I32:
    case CLNN_IDX_F32:
        return 4;
    case CLNN_IDX_F64:
        return 8;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0)
        open_temp();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("fuzz_idx: writing the temporary file");
        abort();
    }

    char err[256];
    memset(err, 'x', sizeof err);
    clnn_idx *idx = (clnn_idx *)1;
    clnn_status s = clnn_idx_read(path, &idx, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (s != CLNN_OK) {
        CHECK(idx == NULL);
        CHECK(s == CLNN_ERR_FORMAT);
        CHECK(err[0] != '\0');
        return 0;
    }
    CHECK(idx != NULL);
    CHECK(err[0] == '\0');
    clnn_idx_type t = clnn_idx_elem_type(idx);
    size_t es = elem_size(t);
    CHECK(es != 0);
    int ndim = clnn_idx_ndim(idx);
    CHECK(ndim >= 1 && ndim <= CLNN_IDX_MAX_DIMS);
    uint64_t prod = 1;
    for (int i = 0; i < ndim; i++) {
        int64_t d = clnn_idx_dim(idx, i);
        CHECK(d >= 1 && d <= INT32_MAX);
        CHECK(clnn_idx_dim(idx, i - ndim) == d);
        prod *= (uint64_t)d;
        CHECK(prod * es <= CLNN_IDX_MAX_BYTES);
    }
    CHECK(clnn_idx_dim(idx, ndim) == 0 && clnn_idx_dim(idx, -ndim - 1) == 0);
    int64_t numel = clnn_idx_numel(idx);
    CHECK(numel >= 1 && (uint64_t)numel == prod);
    const void *p = clnn_idx_data(idx);
    CHECK(p != NULL);
    int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) {
        CHECK((uint64_t)size == 4 + 4 * (uint64_t)ndim + (uint64_t)numel * es);
        CHECK(data[2] == (uint8_t)t && data[3] == ndim);
    }
    /* touch every element through both conversions (an over-read shows up under ASan) */
    if (numel <= (1 << 22)) {
        float *f = malloc((size_t)numel * sizeof *f);
        int32_t *l = malloc((size_t)numel * sizeof *l);
        CHECK(f && l);
        CHECK(clnn_idx_to_f32(idx, 1.0f, f, (size_t)numel) == CLNN_OK);
        CHECK(clnn_idx_to_f32(idx, 1.0f, f, (size_t)numel + 1) == CLNN_ERR_INVALID);
        clnn_status si = clnn_idx_to_i32(idx, l, (size_t)numel);
        CHECK(si == ((t == CLNN_IDX_F32 || t == CLNN_IDX_F64) ? CLNN_ERR_INVALID : CLNN_OK));
        if (t == CLNN_IDX_U8 || t == CLNN_IDX_I8)
            for (int64_t i = 0; i < numel; i++)
                CHECK(f[i] == (float)l[i]);
        free(f);
        free(l);
    }
    clnn_idx_destroy(idx);
    return 0;
}
