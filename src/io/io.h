/* io.h — what the files of src/io share: the error buffer of the functions without a context
 * (see the "Data sets" block of clnn.h). Formats only: nothing here knows a model or a device. */
#ifndef CLNN_IO_H
#define CLNN_IO_H

#include <stddef.h>

#include "internal.h"

/* Writes the message into err (when err and err_size are given) and returns status. */
clnn_status clnn__io_fail(char *err, size_t err_size, clnn_status status, const char *fmt, ...)
    CLNN__PRINTF(4, 5);
/* Empties err (on success). */
void clnn__io_clear(char *err, size_t err_size);
/* The whole file at path (malloc'd, *len bytes plus a NUL); `what` names it in messages ("CSV
 * file"): CLNN_ERR_IO for a missing, unreadable or directory path, CLNN_ERR_NOMEM. */
clnn_status clnn__io_read_file(const char *path, const char *what, char **out, size_t *len,
                               char *err, size_t err_size);

/* clnn_csv_parse with `src` naming the text in messages (the path for clnn_csv_read). */
clnn_status clnn__csv_parse_named(const char *text, size_t size, const char *src,
                                  const clnn_csv_options *options, clnn_csv **out, char *err,
                                  size_t err_size);

/* ---- JSON (json.c): a strict parser into a tree and a writer into a growing buffer; used by the
 * safetensors header and by src/nn for the architecture kept in a model file's metadata. -------- */
typedef enum clnn__json_type {
    CLNN__JSON_NULL = 0,
    CLNN__JSON_FALSE,
    CLNN__JSON_TRUE,
    CLNN__JSON_NUMBER,
    CLNN__JSON_STRING,
    CLNN__JSON_ARRAY,
    CLNN__JSON_OBJECT
} clnn__json_type;

typedef struct clnn__json clnn__json;

/* Parses exactly one JSON value (RFC 8259, UTF-8 validated, \u escapes incl. surrogate pairs,
 * duplicate object keys rejected, nesting at most 64 deep, trailing whitespace allowed) from
 * text[0 .. len). CLNN_ERR_FORMAT with "<src>: ... at byte N" in err on any violation. */
clnn_status clnn__json_parse(const char *text, size_t len, const char *src, clnn__json **out,
                             char *err, size_t err_size);
void clnn__json_free(clnn__json *v); /* NULL is a no-op */
clnn__json_type clnn__json_type_of(const clnn__json *v);
/* "null", "a boolean", "a number", "a string", "an array", "an object" (for messages). */
const char *clnn__json_type_name(const clnn__json *v);
/* Number of elements of an array or members of an object (0 for other types). */
size_t clnn__json_len(const clnn__json *v);
/* Element i of an array or the value of member i of an object (in document order); NULL out of
 * range. */
const clnn__json *clnn__json_at(const clnn__json *v, size_t i);
const char *clnn__json_key_at(const clnn__json *obj, size_t i); /* member i's key */
const clnn__json *clnn__json_get(const clnn__json *obj, const char *key); /* NULL: absent */
/* A string's value (NUL-terminated; JSON strings containing \u0000 are rejected by the parser),
 * NULL for other types. */
const char *clnn__json_string(const clnn__json *v);
/* A number's value; 0 for other types. Numbers are kept as double and also as the exact
 * integer when the text was an integer that fits int64 (clnn__json_int returns 0 with *ok = 0
 * when it did not) or a non-negative one that fits uint64 (clnn__json_uint, likewise). */
double clnn__json_number(const clnn__json *v);
int64_t clnn__json_int(const clnn__json *v, int *ok);
uint64_t clnn__json_uint(const clnn__json *v, int *ok);

/* A growing text buffer; an allocation failure sets oom and later writes do nothing. */
typedef struct clnn__buf {
    char *data; /* NUL-terminated while not oom */
    size_t len, cap;
    int oom;
} clnn__buf;
void clnn__buf_printf(clnn__buf *b, const char *fmt, ...) CLNN__PRINTF(2, 3);
/* Appends s as a quoted JSON string (escaping '"', '\\', control characters). */
void clnn__buf_json_string(clnn__buf *b, const char *s);
void clnn__buf_free(clnn__buf *b);

/* Writes size bytes to path atomically: a temporary file in the same directory (mkstemp), write,
 * fflush, fsync, rename, then fsync of the directory. On failure the temporary file is removed
 * and the previous file at path is untouched. CLNN_ERR_IO with the path and strerror in err. */
clnn_status clnn__write_atomic(const char *path, const void *data, size_t size, char *err,
                               size_t err_size);

#endif /* CLNN_IO_H */
