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

/* clnn_csv_parse with `src` naming the text in messages (the path for clnn_csv_read). */
clnn_status clnn__csv_parse_named(const char *text, size_t size, const char *src,
                                  const clnn_csv_options *options, clnn_csv **out, char *err,
                                  size_t err_size);

#endif /* CLNN_IO_H */
