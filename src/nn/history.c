/* history.c — a model's training history (one row per epoch, one column per reported value):
 * its columns and rows as fit makes them, the public reads (clnn_model_history,
 * clnn_history_get) and clnn_history_write_csv (a temporary file renamed over the target). What
 * goes into a row, and when the file is written, is fit's business (fit.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"

double clnn_history_get(const clnn_history *h, const char *name, int epoch)
{
    if (!h || !name || epoch < 0 || epoch >= h->epochs)
        return NAN;
    for (int c = 0; c < h->columns; c++)
        if (!strcmp(h->names[c], name))
            return h->values[(size_t)epoch * (size_t)h->columns + (size_t)c];
    return NAN;
}

static void set_err(char *err, size_t size, const char *fmt, ...) CLNN__PRINTF(3, 4);
static void set_err(char *err, size_t size, const char *fmt, ...)
{
    if (!err || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

clnn_status clnn_history_write_csv(const clnn_history *h, const char *path, char *err,
                                   size_t err_size)
{
    set_err(err, err_size, "%s", "");
    if (!h || !path || !path[0]) {
        set_err(err, err_size, "clnn_history_write_csv: %s is NULL or empty",
                h ? "the path" : "the history");
        return CLNN_ERR_INVALID;
    }
    /* a temporary file in the same directory, flushed and renamed over the target */
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) {
        set_err(err, err_size, "clnn_history_write_csv: out of host memory");
        return CLNN_ERR_NOMEM;
    }
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        set_err(err, err_size, "clnn_history_write_csv: cannot create a file next to '%s': %s",
                path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return CLNN_ERR_IO;
    }
    fputs("epoch", f);
    for (int c = 0; c < h->columns; c++)
        fprintf(f, ",%s", h->names[c]);
    fputc('\n', f);
    for (int e = 0; e < h->epochs; e++) {
        fprintf(f, "%d", h->first_epoch + e);
        for (int c = 0; c < h->columns; c++)
            fprintf(f, ",%.17g", h->values[(size_t)e * (size_t)h->columns + (size_t)c]);
        fputc('\n', f);
    }
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        set_err(err, err_size, "clnn_history_write_csv: writing '%s' failed: %s", path,
                strerror(errno));
        unlink(tmp);
        free(tmp);
        return CLNN_ERR_IO;
    }
    free(tmp);
    return CLNN_OK;
}

const clnn_history *clnn_model_history(const clnn_model *m)
{
    return m ? &m->history : NULL;
}

int clnn__history_column(clnn_history *h, const char *name)
{
    if (h->columns >= CLNN_HISTORY_MAX_COLUMNS)
        return -1;
    size_t len = strlen(name);
    if (len >= sizeof h->names[0])
        len = sizeof h->names[0] - 1;
    memcpy(h->names[h->columns], name, len);
    h->names[h->columns][len] = '\0';
    return h->columns++;
}

clnn_status clnn__history_row(clnn_model *m, const double *row)
{
    clnn_history *h = &m->history;
    if ((size_t)h->epochs + 1 > m->history_cap) {
        size_t cap = m->history_cap ? m->history_cap * 2 : 16;
        double *v = realloc(h->values, cap * CLNN_HISTORY_MAX_COLUMNS * sizeof *v);
        if (!v)
            return clnn__fail(m->ctx, CLNN_ERR_NOMEM, "fit: out of host memory");
        h->values = v;
        m->history_cap = cap;
    }
    memcpy(h->values + (size_t)h->epochs * (size_t)h->columns, row,
           (size_t)h->columns * sizeof *row);
    h->epochs++;
    return CLNN_OK;
}
