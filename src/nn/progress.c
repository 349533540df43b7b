/* progress.c — fit's Keras-style progress output: the per-epoch line ("Epoch 3/10 - ... - loss:
 * 0.2100") pieces and the progress bar redrawn on a terminal, written to the fit options' output
 * callback or stdout. What is reported, and when, is decided in fit.c and train.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "train.h"

/* ---- progress output ------------------------------------------------------------------------ */
double clnn__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void clnn__emit_text(const clnn__progress *p, const char *s, int newline)
{
    if (p->o->output) {
        p->o->output(p->o->output_user, s);
        return;
    }
    fputs(s, stdout);
    if (newline)
        fputc('\n', stdout);
    fflush(stdout);
}

static int fmt_value(char *buf, size_t size, const char *name, double v)
{
    return snprintf(buf, size, fabs(v) > 1e-3 || v == 0 ? " - %s: %.4f" : " - %s: %.4e", name, v);
}

/* " - loss: 0.2100 - accuracy: 0.9400" from the first ncol columns of row */
void clnn__fmt_values(char *buf, size_t size, const clnn_history *h, const double *row, int ncol)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int c = 0; c < ncol && o < size; c++) {
        if (!strcmp(h->names[c], "lr"))
            continue;
        int n = fmt_value(buf + o, size - o, h->names[c], row[c]);
        if (n > 0)
            o += (size_t)n;
    }
}

void clnn__fmt_time(char *buf, size_t size, double seconds, int64_t steps)
{
    double per = steps > 0 ? seconds / (double)steps : 0;
    if (per >= 1)
        snprintf(buf, size, "%.0fs %.0fs/step", seconds, per);
    else if (per >= 1e-3)
        snprintf(buf, size, "%.0fs %.0fms/step", seconds, per * 1e3);
    else
        snprintf(buf, size, "%.0fs %.0fus/step", seconds, per * 1e6);
}

void clnn__draw_bar(clnn__progress *p, int64_t done, int64_t total, double elapsed,
                    const clnn_history *h, const double *row, int ncol, int final)
{
    char line[1024], vals[640], bar[40], tm[64];
    int width = 30, fill = (int)((double)width * (double)done / (double)total);
    for (int i = 0; i < width; i++)
        bar[i] = i < fill - 1 ? '=' : i == fill - 1 ? (done < total ? '>' : '=') : '.';
    bar[width] = '\0';
    clnn__fmt_values(vals, sizeof vals, h, row, ncol);
    int digits = snprintf(NULL, 0, "%lld", (long long)total);
    if (final) {
        clnn__fmt_time(tm, sizeof tm, elapsed, total);
        snprintf(line, sizeof line, "\r%*lld/%lld [%s] - %s%s\033[K", digits, (long long)done,
                 (long long)total, bar, tm, vals);
    } else {
        double eta = done > 0 ? elapsed / (double)done * (double)(total - done) : 0;
        snprintf(line, sizeof line, "\r%*lld/%lld [%s] - ETA: %.0fs%s\033[K", digits,
                 (long long)done, (long long)total, bar, eta, vals);
    }
    clnn__emit_text(p, line, final);
}
