/* idx.c — the IDX reader (the MNIST file format): header 0x00 0x00 <type> <ndim>, ndim big-endian
 * u32 dimensions, then the big-endian elements. Plain and gzip files (detected by the gzip magic,
 * not the name) are read through zlib. The data must be exactly complete: a short file, a cut
 * gzip stream or bytes after the data are errors. Also the error buffer of src/io (io.h).
 * Conversion to a batch and normalisation live in dataset.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <stdint.h>
#include "io.h"

clnn_status clnn__io_fail(char *err, size_t err_size, clnn_status status, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return status;
}

void clnn__io_clear(char *err, size_t err_size)
{
    if (err && err_size > 0)
        err[0] = '\0';
}

clnn_status clnn__io_read_file(const char *path, const char *what, char **out, size_t *len,
                               char *err, size_t err_size)
{
    *out = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: cannot open the %s: %s", path, what,
                             strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: expected a %s, found a directory",
                             path, what);
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: cannot open the %s: %s", path, what,
                             strerror(errno));
    /* one allocation of the size stat gave (+1, so a read to the end is seen without growing);
     * the buffer grows only when the file is longer than that (a pipe, a file being written) */
    size_t cap = sb.st_size > 0 && (uint64_t)sb.st_size < SIZE_MAX / 2 ? (size_t)sb.st_size + 1
                                                                       : (size_t)1 << 16;
    size_t n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *g = cap < SIZE_MAX / 4 ? realloc(buf, cap * 2 + 1) : NULL;
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f), saved = errno;
    fclose(f);
    if (!buf)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
    if (bad) {
        free(buf);
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: reading the %s failed: %s", path,
                             what, strerror(saved));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLNN_OK;
}

struct clnn_idx {
    clnn_idx_type type;
    int ndim;
    int64_t shape[CLNN_IDX_MAX_DIMS];
    int64_t numel;
    void *data;
};

static size_t elem_size(int type)
{
    switch (type) {
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

/* Reads up to n bytes and returns how many were read; stops early at the end of the stream.
 * *why is NULL, or zlib's message when the stream is corrupt or cut short. */
static int64_t read_some(gzFile f, void *buf, size_t n, const char **why)
{
    size_t done = 0;
    int code;
    *why = NULL;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(f, (char *)buf + done, (unsigned)chunk);
        if (got < 0) {
            *why = gzerror(f, &code);
            break;
        }
        if (got == 0) {
            const char *msg = gzerror(f, &code);
            if (code != Z_OK && code != Z_STREAM_END) /* e.g. "unexpected end of file" */
                *why = msg;
            break;
        }
        done += (size_t)got;
    }
    return (int64_t)done;
}

static void byteswap(void *data, size_t count, size_t size)
{
    if (size == 1)
        return;
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe == 0)
        return; /* big-endian host: the file order already */
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static const char *type_name(int type)
{
    switch (type) {
    case CLNN_IDX_U8:
        return "ubyte";
    case CLNN_IDX_I8:
        return "sbyte";
    case CLNN_IDX_I16:
        return "short";
    case CLNN_IDX_I32:
        return "int";
    case CLNN_IDX_F32:
        return "float";
    case CLNN_IDX_F64:
        return "double";
    }
    return "unknown";
}

/* The body of clnn_idx_read once f is open; kind is "" or " (gzip)". */
static clnn_status read_idx(gzFile f, const char *path, const char *kind, int64_t file_size,
                            clnn_idx *idx, char *err, size_t err_size)
{
    const char *why = NULL;
    unsigned char head[4 + 4 * 255];
    int64_t got = read_some(f, head, 4, &why);
    if (why)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected an IDX header, found a gzip stream cut short or "
                             "corrupt (zlib: %s)",
                             path, kind, why);
    if (got == 0)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected an IDX header (4 bytes 00 00 <type> <ndim>), found "
                             "an empty file",
                             path, kind);
    if (got < 4)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected an IDX header of 4 bytes, found %lld byte(s)", path,
                             kind, (long long)got);
    if (head[0] != 0 || head[1] != 0)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected the IDX magic 00 00 <type> <ndim>, found %02x %02x "
                             "%02x %02x (not an IDX file)",
                             path, kind, head[0], head[1], head[2], head[3]);
    size_t esize = elem_size(head[2]);
    if (!esize)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected an IDX element type 0x08 (ubyte), 0x09 (sbyte), 0x0B "
                             "(short), 0x0C (int), 0x0D (float) or 0x0E (double), found 0x%02x",
                             path, kind, head[2]);
    int ndim = head[3];
    if (ndim < 1 || ndim > CLNN_IDX_MAX_DIMS)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected 1 to %d IDX dimensions, found %d", path, kind,
                             CLNN_IDX_MAX_DIMS, ndim);
    got = read_some(f, head + 4, 4 * (size_t)ndim, &why);
    if (why)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected %d IDX dimensions, found a gzip stream cut short "
                             "or corrupt (zlib: %s)",
                             path, kind, ndim, why);
    if (got < 4 * ndim)
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: truncated header: expected %d dimension bytes, found %lld",
                             path, kind, 4 * ndim, (long long)got);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = head + 4 + 4 * i;
        uint64_t v = (uint64_t)d[0] << 24 | (uint64_t)d[1] << 16 | (uint64_t)d[2] << 8 | d[3];
        if (v == 0 || v > INT32_MAX)
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s%s: expected dimension %d to be in 1..%d, found %llu", path,
                                 kind, i, INT32_MAX, (unsigned long long)v);
        idx->shape[i] = (int64_t)v;
        /* numel * esize <= CLNN_IDX_MAX_BYTES so far: divide instead of multiplying (overflow) */
        if (numel > CLNN_IDX_MAX_BYTES / esize / v || numel * v * esize > SIZE_MAX / 2)
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s%s: expected at most %llu bytes of data, found dimensions that "
                                 "need more (dimension %d = %llu)",
                                 path, kind, (unsigned long long)CLNN_IDX_MAX_BYTES, i,
                                 (unsigned long long)v);
        numel *= v;
    }
    idx->type = (clnn_idx_type)head[2];
    idx->ndim = ndim;
    idx->numel = (int64_t)numel;
    uint64_t bytes = numel * esize;
    uint64_t header = 4 + 4 * (uint64_t)ndim;
    if (file_size >= 0 && (uint64_t)file_size != header + bytes) {
        if ((uint64_t)file_size < header + bytes)
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s: truncated: expected %llu data bytes (%llu %s elements), "
                                 "found %llu",
                                 path, (unsigned long long)bytes, (unsigned long long)numel,
                                 type_name(head[2]),
                                 (unsigned long long)((uint64_t)file_size - header));
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s: expected %llu data bytes (%llu %s elements), found %llu "
                             "trailing byte(s) after them",
                             path, (unsigned long long)bytes, (unsigned long long)numel,
                             type_name(head[2]),
                             (unsigned long long)((uint64_t)file_size - header - bytes));
    }
    /* grow the buffer with the data actually there, so a lying header in a short gzip file does
     * not allocate its claimed size */
    size_t cap = bytes < (1u << 20) ? (size_t)bytes : (1u << 20), have = 0;
    unsigned char *data = malloc(cap ? cap : 1);
    if (!data)
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path,
                             cap);
    while (have < bytes) {
        if (have == cap) {
            size_t ncap = cap * 2 < bytes ? cap * 2 : (size_t)bytes;
            unsigned char *nd = realloc(data, ncap);
            if (!nd) {
                free(data);
                return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM,
                                     "%s: cannot allocate %zu bytes for the data", path, ncap);
            }
            data = nd;
            cap = ncap;
        }
        size_t want = cap - have;
        got = read_some(f, data + have, want, &why);
        have += (size_t)got;
        if (why) {
            free(data);
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s%s: expected %llu data bytes, found a gzip stream cut short or "
                                 "corrupt after %zu of them (zlib: %s)",
                                 path, kind, (unsigned long long)bytes, have, why);
        }
        if ((size_t)got < want)
            break; /* end of the stream */
    }
    if (have < bytes) {
        free(data);
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: truncated: expected %llu data bytes (%llu %s elements), "
                             "found %zu",
                             path, kind, (unsigned long long)bytes, (unsigned long long)numel,
                             type_name(head[2]), have);
    }
    /* one more read checks there is nothing after the data (and the gzip CRC and length) */
    unsigned char extra[4096];
    uint64_t trailing = 0;
    for (;;) {
        got = read_some(f, extra, sizeof extra, &why);
        if (why) {
            free(data);
            return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                                 "%s%s: the gzip stream is corrupt or cut short after the data: %s",
                                 path, kind, why);
        }
        if (got == 0)
            break;
        trailing += (uint64_t)got;
    }
    if (trailing) {
        free(data);
        return clnn__io_fail(err, err_size, CLNN_ERR_FORMAT,
                             "%s%s: expected %llu data bytes (%llu %s elements), found %llu "
                             "trailing byte(s) after them",
                             path, kind, (unsigned long long)bytes, (unsigned long long)numel,
                             type_name(head[2]), (unsigned long long)trailing);
    }
    byteswap(data, (size_t)numel, esize);
    idx->data = data;
    return CLNN_OK;
}

clnn_status clnn_idx_read(const char *path, clnn_idx **out, char *err, size_t err_size)
{
    clnn__io_clear(err, err_size);
    if (!out || !path)
        return clnn__io_fail(err, err_size, CLNN_ERR_INVALID,
                             "clnn_idx_read: expected a path and an out pointer, given %s",
                             !path ? "path NULL" : "out NULL");
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: cannot open the IDX file: %s", path,
                             strerror(errno));
    if (S_ISDIR(st.st_mode))
        return clnn__io_fail(err, err_size, CLNN_ERR_IO,
                             "%s: expected an IDX file, found a directory", path);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: cannot open the IDX file: %s", path,
                             strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t nmagic = fread(magic, 1, 2, probe);
    int read_error = ferror(probe);
    fclose(probe);
    if (read_error)
        return clnn__io_fail(err, err_size, CLNN_ERR_IO, "%s: cannot read the IDX file", path);
    int gz = nmagic == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return clnn__io_fail(err, err_size, errno == ENOMEM ? CLNN_ERR_NOMEM : CLNN_ERR_IO,
                             "%s: cannot open the IDX file: %s", path,
                             errno ? strerror(errno) : "zlib failed");
    gzbuffer(f, 1u << 17);
    clnn_idx *idx = calloc(1, sizeof *idx);
    if (!idx) {
        gzclose(f);
        return clnn__io_fail(err, err_size, CLNN_ERR_NOMEM, "%s: out of host memory", path);
    }
    /* a plain file's size is known: its header is checked against it before any allocation */
    clnn_status s =
        read_idx(f, path, gz ? " (gzip)" : "", gz ? -1 : (int64_t)st.st_size, idx, err, err_size);
    gzclose(f);
    if (s != CLNN_OK) {
        clnn_idx_destroy(idx);
        return s;
    }
    *out = idx;
    return CLNN_OK;
}

void clnn_idx_destroy(clnn_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    free(idx);
}

clnn_idx_type clnn_idx_elem_type(const clnn_idx *idx)
{
    return idx ? idx->type : (clnn_idx_type)0;
}
int clnn_idx_ndim(const clnn_idx *idx)
{
    return idx ? idx->ndim : 0;
}
int64_t clnn_idx_dim(const clnn_idx *idx, int axis)
{
    if (!idx)
        return 0;
    if (axis < 0)
        axis += idx->ndim;
    return axis >= 0 && axis < idx->ndim ? idx->shape[axis] : 0;
}
int64_t clnn_idx_numel(const clnn_idx *idx)
{
    return idx ? idx->numel : 0;
}
const void *clnn_idx_data(const clnn_idx *idx)
{
    return idx ? idx->data : NULL;
}

clnn_status clnn_idx_to_f32(const clnn_idx *idx, float scale, float *out, size_t count)
{
    if (!idx || !out || count != (size_t)idx->numel)
        return CLNN_ERR_INVALID;
    size_t n = count;
    switch (idx->type) {
    case CLNN_IDX_U8:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)((const uint8_t *)idx->data)[i] * scale;
        break;
    case CLNN_IDX_I8:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)((const int8_t *)idx->data)[i] * scale;
        break;
    case CLNN_IDX_I16:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)((const int16_t *)idx->data)[i] * scale;
        break;
    case CLNN_IDX_I32:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)((const int32_t *)idx->data)[i] * scale;
        break;
    case CLNN_IDX_F32:
        for (size_t i = 0; i < n; i++)
            out[i] = ((const float *)idx->data)[i] * scale;
        break;
    case CLNN_IDX_F64:
        for (size_t i = 0; i < n; i++)
            out[i] = (float)(((const double *)idx->data)[i] * scale);
        break;
    }
    return CLNN_OK;
}

clnn_status clnn_idx_to_i32(const clnn_idx *idx, int32_t *out, size_t count)
{
    if (!idx || !out || count != (size_t)idx->numel)
        return CLNN_ERR_INVALID;
    switch (idx->type) {
    case CLNN_IDX_U8:
        for (size_t i = 0; i < count; i++)
            out[i] = ((const uint8_t *)idx->data)[i];
        return CLNN_OK;
    case CLNN_IDX_I8:
        for (size_t i = 0; i < count; i++)
            out[i] = ((const int8_t *)idx->data)[i];
        return CLNN_OK;
    case CLNN_IDX_I16:
        for (size_t i = 0; i < count; i++)
            out[i] = ((const int16_t *)idx->data)[i];
        return CLNN_OK;
    case CLNN_IDX_I32:
        memcpy(out, idx->data, count * sizeof *out);
        return CLNN_OK;
    default:
        return CLNN_ERR_INVALID;
    }
}
