/* safetensors.c — the safetensors container (the format of Hugging Face's safetensors library,
 * read and written by PyTorch tools): an 8-byte little-endian header length N, N bytes of JSON
 * (json.c) describing every tensor's dtype, shape and data_offsets plus an optional
 * "__metadata__" object of strings, then the data region; offsets are relative to its start.
 *
 * Reading keeps the whole file in one buffer and checks it the way the official implementation
 * does, and a little more: N <= 100,000,000 and inside the file, a strict JSON object, every
 * tensor an object of exactly dtype / shape / data_offsets with a known dtype, at most 8
 * non-negative dimensions whose byte size does not overflow, end - begin equal to that size, and
 * the tensors, sorted by offset, tiling the data region exactly (no gap, no overlap, nothing
 * after the last one). The index API keeps the header's order (which need not be the data's).
 * Data pointers point into the file buffer at 8 + N + begin: nothing aligns them (N is a
 * multiple of 8 in files written by the official library and by this one, but that is not
 * required), so callers memcpy rather than cast to float * or int64_t *.
 *
 * Writing validates the entries, builds the header with clnn__buf (tensors in the given order,
 * contiguous, "__metadata__" first as the official writer does), pads it with spaces to a
 * multiple of 8 and writes length + header + data through the atomic writer (also here:
 * clnn__write_atomic, shared with src/nn). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define ST_MAX_HEADER 100000000u
#define ST_MAX_DIMS   8

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
              {"I32", 4},  {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}};
enum { NDTYPES = sizeof dtypes / sizeof dtypes[0] };
#define DTYPE_LIST "BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64 or U64"

static int dtype_index(const char *s)
{
    for (int i = 0; i < NDTYPES; i++)
        if (s && !strcmp(s, dtypes[i].name))
            return i;
    return -1;
}

typedef struct st_tensor {
    const char *name; /* in the JSON tree */
    int dtype;        /* index in dtypes */
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* in the data region */
} st_tensor;

typedef struct st_name {
    const char *name;
    int index;
} st_name;

struct clnn_safetensors {
    unsigned char *file; /* the whole file */
    size_t size;
    size_t data_start; /* 8 + N */
    clnn__json *header;
    st_tensor *t; /* header order */
    int n;
    st_name *by_name; /* sorted by name, for find */
    const char **meta_keys, **meta_values;
    int nmeta;
};

void clnn_safetensors_destroy(clnn_safetensors *st)
{
    if (!st)
        return;
    free(st->file);
    clnn__json_free(st->header);
    free(st->t);
    free(st->by_name);
    free(st->meta_keys);
    free(st->meta_values);
    free(st);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* A JSON value as a non-negative int64, or -1. */
static int64_t nonneg_int(const clnn__json *v)
{
    int ok = 0;
    int64_t i = clnn__json_int(v, &ok);
    return ok && i >= 0 ? i : -1;
}

/* Describes a non-integer member of shape or data_offsets for "got ...". */
static void describe_number(const clnn__json *v, char *buf, size_t size)
{
    int ok = 0;
    int64_t i = clnn__json_int(v, &ok);
    if (ok)
        snprintf(buf, size, "%lld", (long long)i);
    else if (clnn__json_type_of(v) == CLNN__JSON_NUMBER)
        snprintf(buf, size, "the non-integer %.17g", clnn__json_number(v));
    else
        snprintf(buf, size, "%s", clnn__json_type_name(v));
}

#define TFAIL(fmt, ...)                                                                            \
    clnn__io_fail(err, err_size, CLNN_ERR_FORMAT, "%s: tensor \"%.100s\": " fmt, src, t->name,     \
                  __VA_ARGS__)

/* Fills t from the header member `v` (named t->name); data_size is the data region's size. */
static clnn_status read_tensor(const clnn__json *v, st_tensor *t, uint64_t data_size,
                               const char *src, char *err, size_t err_size)
{
    if (clnn__json_type_of(v) != CLNN__JSON_OBJECT)
        return TFAIL("expected an object {\"dtype\", \"shape\", \"data_offsets\"}, got %s",
                     clnn__json_type_name(v));
    for (size_t k = 0; k < clnn__json_len(v); k++) {
        const char *key = clnn__json_key_at(v, k);
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return TFAIL("expected only the keys \"dtype\", \"shape\" and \"data_offsets\", got "
                         "\"%.60s\"",
                         key);
    }
    static const char *const needed[] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; k++)
        if (!clnn__json_get(v, needed[k]))
            return TFAIL("expected the key \"%s\", got none", needed[k]);

    const clnn__json *dt = clnn__json_get(v, "dtype");
    if (clnn__json_type_of(dt) != CLNN__JSON_STRING)
        return TFAIL("expected a dtype string (" DTYPE_LIST "), got %s", clnn__json_type_name(dt));
    t->dtype = dtype_index(clnn__json_string(dt));
    if (t->dtype < 0)
        return TFAIL("expected a dtype " DTYPE_LIST ", got \"%.40s\"", clnn__json_string(dt));

    const clnn__json *sh = clnn__json_get(v, "shape");
    if (clnn__json_type_of(sh) != CLNN__JSON_ARRAY)
        return TFAIL("expected a shape array of non-negative integers, got %s",
                     clnn__json_type_name(sh));
    if (clnn__json_len(sh) > ST_MAX_DIMS)
        return TFAIL("expected a shape of at most %d dimensions, got %zu", ST_MAX_DIMS,
                     clnn__json_len(sh));
    t->ndim = (int)clnn__json_len(sh);
    uint64_t numel = 1;
    int zero = 0;
    for (int d = 0; d < t->ndim; d++) {
        t->shape[d] = nonneg_int(clnn__json_at(sh, (size_t)d));
        if (t->shape[d] < 0) {
            char got[48];
            describe_number(clnn__json_at(sh, (size_t)d), got, sizeof got);
            return TFAIL("expected a shape of non-negative integers, got %s as dimension %d", got,
                         d);
        }
        zero |= t->shape[d] == 0;
    }
    /* the byte size, overflow-checked (a zero dimension makes it 0 whatever the others) */
    uint64_t bytes = 0;
    if (!zero) {
        for (int d = 0; d < t->ndim; d++) {
            if (numel > UINT64_MAX / (uint64_t)t->shape[d])
                return TFAIL("expected a shape whose element count fits 64 bits, got %d "
                             "dimensions overflowing at dimension %d",
                             t->ndim, d);
            numel *= (uint64_t)t->shape[d];
        }
        if (numel > UINT64_MAX / dtypes[t->dtype].size)
            return TFAIL("expected a byte size that fits 64 bits, got %llu elements of %s",
                         (unsigned long long)numel, dtypes[t->dtype].name);
        bytes = numel * dtypes[t->dtype].size;
    }

    const clnn__json *off = clnn__json_get(v, "data_offsets");
    if (clnn__json_type_of(off) != CLNN__JSON_ARRAY)
        return TFAIL("expected data_offsets [begin, end], got %s", clnn__json_type_name(off));
    if (clnn__json_len(off) != 2)
        return TFAIL("expected data_offsets [begin, end], got an array of %zu element(s)",
                     clnn__json_len(off));
    int64_t b = nonneg_int(clnn__json_at(off, 0)), e = nonneg_int(clnn__json_at(off, 1));
    if (b < 0 || e < 0) {
        char got[48];
        describe_number(clnn__json_at(off, b < 0 ? 0 : 1), got, sizeof got);
        return TFAIL("expected data_offsets of non-negative integers, got %s", got);
    }
    if (b > e)
        return TFAIL("expected data_offsets [begin, end] with begin <= end, got [%lld, %lld]",
                     (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return TFAIL("expected data_offsets inside the data region of %llu bytes, got [%lld, "
                     "%lld]",
                     (unsigned long long)data_size, (long long)b, (long long)e);
    if ((uint64_t)(e - b) != bytes)
        return TFAIL("expected data_offsets spanning %llu bytes (%s, %d dimension(s), %llu "
                     "elements), got [%lld, %lld] (%lld bytes)",
                     (unsigned long long)bytes, dtypes[t->dtype].name, t->ndim,
                     (unsigned long long)(zero ? 0 : numel), (long long)b, (long long)e,
                     (long long)(e - b));
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    return CLNN_OK;
}
#undef TFAIL

static int cmp_offsets(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y; /* header order among equals */
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(((const st_name *)a)->name, ((const st_name *)b)->name);
}

/* The tensors sorted by offset must tile [0, data_size) exactly. */
static clnn_status check_tiling(clnn_safetensors *st, uint64_t data_size, const char *src,
                                char *err, size_t err_size)
{
    if (st->n == 0) {
        if (data_size == 0)
            return CLNN_OK;
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected the tensors to cover the data region of %llu bytes, "
                             "got no tensors (%llu bytes left over at the end of the file)",
                             src, (unsigned long long)data_size, (unsigned long long)data_size);
    }
    const st_tensor **order = malloc((size_t)st->n * sizeof *order);
    if (!order)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    for (int i = 0; i < st->n; i++)
        order[i] = &st->t[i];
    qsort(order, (size_t)st->n, sizeof *order, cmp_offsets);
    uint64_t at = 0;
    const st_tensor *prev = NULL;
    clnn_status s = CLNN_OK;
    for (int i = 0; i < st->n && s == CLNN_OK; i++) {
        const st_tensor *t = order[i];
        char after[160];
        if (prev)
            snprintf(after, sizeof after, "the end of tensor \"%.100s\"", prev->name);
        else
            snprintf(after, sizeof after, "the start of the data region");
        if (t->begin < at)
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: tensor \"%.100s\": expected its data to start at byte %llu "
                              "(%s), got data_offsets [%llu, %llu] overlapping it",
                              src, t->name, (unsigned long long)at, after,
                              (unsigned long long)t->begin, (unsigned long long)t->end);
        else if (t->begin > at)
            s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                              "%s: tensor \"%.100s\": expected its data to start at byte %llu "
                              "(%s), got data_offsets [%llu, %llu] leaving a gap of %llu bytes",
                              src, t->name, (unsigned long long)at, after,
                              (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)(t->begin - at));
        at = t->end;
        prev = t;
    }
    free(order);
    if (s == CLNN_OK && at != data_size)
        s = clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                          "%s: expected the tensors to cover the data region of %llu bytes, got "
                          "tensors ending at byte %llu (%llu bytes left over at the end of the "
                          "file)",
                          src, (unsigned long long)data_size, (unsigned long long)at,
                          (unsigned long long)(data_size - at));
    return s;
}

/* Parses st->file[0 .. st->size) into st; src names the file in messages. */
static clnn_status parse_file(clnn_safetensors *st, const char *src, char *err, size_t err_size)
{
    const unsigned char *f = st->file;
    if (st->size < 8)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected an 8-byte little-endian header length, got a file of "
                             "%zu byte(s)",
                             src, st->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f[i];
    if (n > ST_MAX_HEADER)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected a header length of at most %u bytes, got %llu", src,
                             ST_MAX_HEADER, (unsigned long long)n);
    if (n > st->size - 8)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected a header length within the file (%zu bytes after the "
                             "length), got %llu",
                             src, st->size - 8, (unsigned long long)n);
    st->data_start = 8 + (size_t)n;
    uint64_t data_size = st->size - st->data_start;

    size_t srclen = strlen(src);
    char *jsrc = malloc(srclen + 16);
    if (!jsrc)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    snprintf(jsrc, srclen + 16, "%s: JSON header", src);
    clnn_status s =
        clnn__json_parse((const char *)f + 8, (size_t)n, jsrc, &st->header, err, err_size);
    free(jsrc);
    if (s != CLNN_OK)
        return s;
    const clnn__json *h = st->header;
    if (clnn__json_type_of(h) != CLNN__JSON_OBJECT)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected the JSON header to be an object, got %s", src,
                             clnn__json_type_name(h));

    size_t members = clnn__json_len(h);
    st->t = calloc(members ? members : 1, sizeof *st->t);
    if (!st->t)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    for (size_t m = 0; m < members; m++) {
        const char *key = clnn__json_key_at(h, m);
        const clnn__json *v = clnn__json_at(h, m);
        if (!strcmp(key, "__metadata__")) {
            if (clnn__json_type_of(v) != CLNN__JSON_OBJECT)
                return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                     "%s: expected \"__metadata__\" to be an object of strings, "
                                     "got %s",
                                     src, clnn__json_type_name(v));
            size_t nm = clnn__json_len(v);
            st->meta_keys = malloc((nm ? nm : 1) * sizeof *st->meta_keys);
            st->meta_values = malloc((nm ? nm : 1) * sizeof *st->meta_values);
            if (!st->meta_keys || !st->meta_values)
                return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
            for (size_t k = 0; k < nm; k++) {
                const clnn__json *mv = clnn__json_at(v, k);
                if (clnn__json_type_of(mv) != CLNN__JSON_STRING)
                    return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                         "%s: expected the \"__metadata__\" value of \"%.100s\" "
                                         "to be a string, got %s",
                                         src, clnn__json_key_at(v, k), clnn__json_type_name(mv));
                st->meta_keys[k] = clnn__json_key_at(v, k);
                st->meta_values[k] = clnn__json_string(mv);
            }
            st->nmeta = (int)nm;
            continue;
        }
        st_tensor *t = &st->t[st->n];
        t->name = key;
        s = read_tensor(v, t, data_size, src, err, err_size);
        if (s != CLNN_OK)
            return s;
        st->n++;
    }
    s = check_tiling(st, data_size, src, err, err_size);
    if (s != CLNN_OK)
        return s;
    st->by_name = malloc((st->n ? (size_t)st->n : 1) * sizeof *st->by_name);
    if (!st->by_name)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    for (int i = 0; i < st->n; i++) {
        st->by_name[i].name = st->t[i].name;
        st->by_name[i].index = i;
    }
    qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, cmp_names);
    return CLNN_OK;
}

/* Takes ownership of file (malloc'd, size bytes, at least 1 byte allocated). */
static clnn_status parse_owned(unsigned char *file, size_t size, const char *src,
                               clnn_safetensors **out, char *err, size_t err_size)
{
    clnn_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        free(file);
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", src);
    }
    st->file = file;
    st->size = size;
    clnn_status s = parse_file(st, src, err, err_size);
    if (s != CLNN_OK) {
        clnn_safetensors_destroy(st);
        return s;
    }
    *out = st;
    return CLNN_OK;
}

clnn_status clnn_safetensors_parse(const void *data, size_t size, clnn_safetensors **out, char *err,
                                   size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!out || (!data && size))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_safetensors_parse: expected data and an out pointer, given "
                             "%s",
                             !out ? "out NULL" : "data NULL");
    *out = NULL;
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "<memory>: out of host memory");
    if (size)
        memcpy(copy, data, size);
    return parse_owned(copy, size, "<memory>", out, err, err_size);
}

clnn_status clnn_safetensors_read(const char *path, clnn_safetensors **out, char *err,
                                  size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!path || !out)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_safetensors_read: expected a path and an out pointer, given "
                             "%s",
                             !path ? "path NULL" : "out NULL");
    *out = NULL;
    char *buf;
    size_t len;
    clnn_status rs = clnn__io_read_file(path, "safetensors file", &buf, &len, err, err_size);
    if (rs)
        return rs;
    return parse_owned((unsigned char *)buf, len, path, out, err, err_size);
}

int clnn_safetensors_count(const clnn_safetensors *st)
{
    return st ? st->n : 0;
}

static const st_tensor *tensor(const clnn_safetensors *st, int index)
{
    return st && index >= 0 && index < st->n ? &st->t[index] : NULL;
}

const char *clnn_safetensors_name(const clnn_safetensors *st, int index)
{
    const st_tensor *t = tensor(st, index);
    return t ? t->name : NULL;
}

int clnn_safetensors_find(const clnn_safetensors *st, const char *name)
{
    if (!st || !name || st->n == 0)
        return -1;
    st_name key = {name, 0};
    const st_name *hit = bsearch(&key, st->by_name, (size_t)st->n, sizeof key, cmp_names);
    return hit ? hit->index : -1;
}

const char *clnn_safetensors_dtype(const clnn_safetensors *st, int index)
{
    const st_tensor *t = tensor(st, index);
    return t ? dtypes[t->dtype].name : NULL;
}

/* -1 for a bad index (0 is the rank of a scalar) */
int clnn_safetensors_ndim(const clnn_safetensors *st, int index)
{
    const st_tensor *t = tensor(st, index);
    return t ? t->ndim : -1;
}

/* axis may count from the end (-1: the last); -1 for a bad index or axis (0 is a valid size) */
int64_t clnn_safetensors_dim(const clnn_safetensors *st, int index, int axis)
{
    const st_tensor *t = tensor(st, index);
    if (!t)
        return -1;
    if (axis < 0)
        axis += t->ndim;
    return axis >= 0 && axis < t->ndim ? t->shape[axis] : -1;
}

/* Not aligned to anything in general: see the top of this file. */
const void *clnn_safetensors_data(const clnn_safetensors *st, int index, size_t *bytes)
{
    const st_tensor *t = tensor(st, index);
    if (bytes)
        *bytes = t ? (size_t)(t->end - t->begin) : 0;
    return t ? st->file + st->data_start + t->begin : NULL;
}

const char *clnn_safetensors_metadata(const clnn_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta_keys[i], key))
            return st->meta_values[i];
    return NULL;
}

int clnn_safetensors_metadata_count(const clnn_safetensors *st)
{
    return st ? st->nmeta : 0;
}

const char *clnn_safetensors_metadata_key(const clnn_safetensors *st, int index)
{
    return st && index >= 0 && index < st->nmeta ? st->meta_keys[index] : NULL;
}

/* ---- the atomic writer -------------------------------------------------------------------- */
typedef struct piece {
    const void *data;
    size_t size;
} piece;

/* Writes the pieces one after the other into a temporary file next to path (path + ".tmp." +
 * 6 characters from mkstemp), flushes and fsyncs it, renames it over path and fsyncs the
 * directory (best effort: some file systems refuse). On any failure the temporary file is
 * removed and path is untouched. The new file gets the mode of the file it replaces, or 0644
 * (mkstemp creates 0600; the process umask cannot be read without changing it). */
static clnn_status write_pieces(const char *path, const piece *pieces, int npieces, char *err,
                                size_t err_size)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        clnn_status s = clnn__io_fail(err, err_size, CLNN_ERR_IO,
                                      "%s: cannot create a temporary file next to it: %s", path,
                                      strerror(errno));
        free(tmp);
        return s;
    }
    struct stat old;
    mode_t mode = stat(path, &old) == 0 && S_ISREG(old.st_mode) ? (old.st_mode & 07777) : 0644;
    const char *step = "cannot set the mode of";
    FILE *f = NULL;
    int ok = fchmod(fd, mode) == 0;
    if (ok) {
        step = "cannot open";
        f = fdopen(fd, "wb");
        ok = f != NULL;
    }
    for (int i = 0; ok && i < npieces; i++) {
        step = "cannot write";
        if (pieces[i].size && fwrite(pieces[i].data, 1, pieces[i].size, f) != pieces[i].size)
            ok = 0;
    }
    if (ok) {
        step = "cannot flush";
        ok = fflush(f) == 0;
    }
    if (ok) {
        step = "cannot fsync";
        ok = fsync(fileno(f)) == 0;
    }
    int saved = errno;
    if (f) {
        if (fclose(f) != 0 && ok) {
            saved = errno;
            step = "cannot close";
            ok = 0;
        }
    } else {
        close(fd);
    }
    if (ok) {
        step = "cannot rename over the file";
        ok = rename(tmp, path) == 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        clnn_status s =
            clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: %s the temporary file %s: %s", path,
                          step, tmp, strerror(saved));
        free(tmp);
        return s;
    }
    free(tmp);
    /* the directory entry itself: best effort */
    char *dir = malloc(plen + 2);
    if (dir) {
        memcpy(dir, path, plen + 1);
        char *slash = strrchr(dir, '/');
        if (!slash)
            strcpy(dir, ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return CLNN_OK;
}

clnn_status clnn__write_atomic(const char *path, const void *data, size_t size, char *err,
                               size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!path || (!data && size))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn__write_atomic: expected a path and data, given NULL");
    piece one = {data, size};
    return write_pieces(path, &one, 1, err, err_size);
}

/* ---- writing safetensors ------------------------------------------------------------------ */
/* Is s valid UTF-8 (what the reader demands of every JSON string)? */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, cp, n;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4)
            return 0;
        n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        cp = c & (0x7F >> n);
        for (unsigned i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string that occurs twice in s[0 .. n) (sorted copy), or NULL. */
static const char *find_duplicate(const char *const *s, size_t n, int *nomem)
{
    *nomem = 0;
    if (n < 2)
        return NULL;
    const char **c = malloc(n * sizeof *c);
    if (!c) {
        *nomem = 1;
        return NULL;
    }
    memcpy(c, s, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_str);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(c[i - 1], c[i]))
            dup = c[i];
    free(c);
    return dup;
}

#define WFAIL(...)                                                                                 \
    clnn__io_fail(err, err_size, CLNN_ERR_INVALID, "clnn_safetensors_write: " __VA_ARGS__)

/* Checks the arguments; the byte size of each entry in bytes[]. */
static clnn_status check_entries(int n, const clnn_safetensors_entry *e, int nmeta,
                                 const char *const *meta, size_t *bytes, char *err, size_t err_size)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const clnn_safetensors_entry *x = &e[i];
        if (!x->name)
            return WFAIL("tensor %d: expected a name, given NULL", i);
        if (!strcmp(x->name, "__metadata__"))
            return WFAIL("tensor %d: expected a name other than \"__metadata__\" (reserved), "
                         "given it",
                         i);
        if (!utf8_valid(x->name))
            return WFAIL("tensor %d: expected a name in valid UTF-8, given \"%.100s\"", i, x->name);
        int dt = dtype_index(x->dtype);
        if (dt < 0)
            return WFAIL("tensor \"%.100s\": expected a dtype " DTYPE_LIST ", given %s%.40s%s",
                         x->name, x->dtype ? "\"" : "", x->dtype ? x->dtype : "NULL",
                         x->dtype ? "\"" : "");
        if (x->ndim < 0 || x->ndim > ST_MAX_DIMS)
            return WFAIL("tensor \"%.100s\": expected ndim 0 to %d, given %d", x->name, ST_MAX_DIMS,
                         x->ndim);
        if (x->ndim > 0 && !x->shape)
            return WFAIL("tensor \"%.100s\": expected a shape of %d dimension(s), given NULL",
                         x->name, x->ndim);
        uint64_t numel = 1;
        int zero = 0;
        for (int d = 0; d < x->ndim; d++) {
            if (x->shape[d] < 0)
                return WFAIL("tensor \"%.100s\": expected non-negative dimensions, given %lld "
                             "as dimension %d",
                             x->name, (long long)x->shape[d], d);
            zero |= x->shape[d] == 0;
        }
        size_t b = 0;
        if (!zero) {
            for (int d = 0; d < x->ndim; d++) {
                if (numel > UINT64_MAX / (uint64_t)x->shape[d])
                    return WFAIL("tensor \"%.100s\": expected a shape whose element count fits "
                                 "64 bits",
                                 x->name);
                numel *= (uint64_t)x->shape[d];
            }
            if (numel > (SIZE_MAX - 4096) / dtypes[dt].size ||
                numel * dtypes[dt].size > SIZE_MAX - 4096 - total)
                return WFAIL("tensor \"%.100s\": expected the data to fit in memory, given "
                             "%llu elements",
                             x->name, (unsigned long long)numel);
            b = (size_t)numel * dtypes[dt].size;
        }
        if (b > 0 && !x->data)
            return WFAIL("tensor \"%.100s\": expected data of %zu bytes, given NULL", x->name, b);
        bytes[i] = b;
        total += b;
    }
    for (int k = 0; k < 2 * nmeta; k++) {
        if (!meta[k])
            return WFAIL("metadata %s %d: expected a string, given NULL", k % 2 ? "value" : "key",
                         k / 2);
        if (!utf8_valid(meta[k]))
            return WFAIL("metadata %s %d: expected valid UTF-8, given \"%.100s\"",
                         k % 2 ? "value" : "key", k / 2, meta[k]);
    }
    int nomem;
    const char **names = malloc((n ? (size_t)n : 1) * sizeof *names);
    if (!names)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                             "clnn_safetensors_write: out of host "
                             "memory");
    for (int i = 0; i < n; i++)
        names[i] = e[i].name;
    const char *dup = find_duplicate(names, (size_t)n, &nomem);
    free(names);
    if (nomem)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                             "clnn_safetensors_write: out of host memory");
    if (dup)
        return WFAIL("expected unique tensor names, given \"%.100s\" twice", dup);
    const char **keys = malloc((nmeta ? (size_t)nmeta : 1) * sizeof *keys);
    if (!keys)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                             "clnn_safetensors_write: out of host memory");
    for (int k = 0; k < nmeta; k++)
        keys[k] = meta[2 * k];
    dup = find_duplicate(keys, (size_t)nmeta, &nomem);
    free(keys);
    if (nomem)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                             "clnn_safetensors_write: out of host memory");
    if (dup)
        return WFAIL("expected unique metadata keys, given \"%.100s\" twice", dup);
    return CLNN_OK;
}
#undef WFAIL

clnn_status clnn_safetensors_write(const char *path, int n, const clnn_safetensors_entry *entries,
                                   int nmeta, const char *const *meta, char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!path || n < 0 || (n > 0 && !entries) || nmeta < 0 || (nmeta > 0 && !meta))
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_safetensors_write: expected a path, n >= 0 entries and nmeta "
                             ">= 0 metadata pairs, given path %s, n %d%s, nmeta %d%s",
                             path ? "set" : "NULL", n, n > 0 && !entries ? " (entries NULL)" : "",
                             nmeta, nmeta > 0 && !meta ? " (meta NULL)" : "");
    size_t *bytes = malloc((n ? (size_t)n : 1) * sizeof *bytes);
    piece *pieces = malloc(((size_t)n + 1) * sizeof *pieces);
    clnn__buf h = {0};
    clnn_status s = CLNN_OK;
    if (!bytes || !pieces) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
        goto done;
    }
    s = check_entries(n, entries, nmeta, meta, bytes, err, err_size);
    if (s != CLNN_OK)
        goto done;

    /* 8 bytes reserved for the length, then the header */
    clnn__buf_printf(&h, "%8s{", "");
    const char *sep = "";
    if (nmeta > 0) {
        clnn__buf_printf(&h, "\"__metadata__\":{");
        for (int k = 0; k < nmeta; k++) {
            clnn__buf_printf(&h, "%s", k ? "," : "");
            clnn__buf_json_string(&h, meta[2 * k]);
            clnn__buf_printf(&h, ":");
            clnn__buf_json_string(&h, meta[2 * k + 1]);
        }
        clnn__buf_printf(&h, "}");
        sep = ",";
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        const clnn_safetensors_entry *x = &entries[i];
        clnn__buf_printf(&h, "%s", sep);
        sep = ",";
        clnn__buf_json_string(&h, x->name);
        clnn__buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dtypes[dtype_index(x->dtype)].name);
        for (int d = 0; d < x->ndim; d++)
            clnn__buf_printf(&h, "%s%lld", d ? "," : "", (long long)x->shape[d]);
        clnn__buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                         (unsigned long long)(at + bytes[i]));
        at += bytes[i];
    }
    clnn__buf_printf(&h, "}");
    while (!h.oom && h.len % 8)
        clnn__buf_printf(&h, " ");
    if (h.oom) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
        goto done;
    }
    if (h.len - 8 > ST_MAX_HEADER) {
        s = clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                          "clnn_safetensors_write: expected a header of at most %u bytes, "
                          "the names and metadata make %zu",
                          ST_MAX_HEADER, h.len - 8);
        goto done;
    }
    uint64_t hn = h.len - 8;
    for (int i = 0; i < 8; i++)
        h.data[i] = (char)(unsigned char)(hn >> (8 * i));
    pieces[0].data = h.data;
    pieces[0].size = h.len;
    int np = 1;
    for (int i = 0; i < n; i++)
        if (bytes[i]) {
            pieces[np].data = entries[i].data;
            pieces[np].size = bytes[i];
            np++;
        }
    s = write_pieces(path, pieces, np, err, err_size);
done:
    clnn__buf_free(&h);
    free(bytes);
    free(pieces);
    return s;
}
