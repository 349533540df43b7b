/* ref_rnn.c — the naive double-precision references of ref_rnn.h: the textbook recurrences,
 * written per sequence and per time step straight from PyTorch's documentation, no shared code
 * with the device kernels. No OpenCL, no clnn calls. */
#include "ref/ref_rnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ref_rnn_gates(int mode)
{
    return mode == 2 ? 4 : mode == 3 ? 3 : 1;
}

static double sigm(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

int ref_rnn(const ref_rnn_dims *d, const double *x, const double *w_ih, const double *w_hh,
            const double *b_ih, const double *b_hh, const double *h0, const double *c0,
            const int *lengths, double *y)
{
    if (d->mode < 0 || d->mode > 3 || d->N < 1 || d->T < 1 || d->I < 1 || d->H < 1)
        return 0;
    const int N = d->N, T = d->T, I = d->I, H = d->H, G = ref_rnn_gates(d->mode);
    const int F = d->mode == 2 ? 2 * H : H;
    double *h = calloc((size_t)H, sizeof *h), *c = calloc((size_t)H, sizeof *c);
    double *hn = calloc((size_t)H, sizeof *hn), *cn = calloc((size_t)H, sizeof *cn);
    double *ai = calloc((size_t)(G * H), sizeof *ai), *ah = calloc((size_t)(G * H), sizeof *ah);
    if (!h || !c || !hn || !cn || !ai || !ah) {
        free(h), free(c), free(hn), free(cn), free(ai), free(ah);
        return 0;
    }
    memset(y, 0, (size_t)N * T * F * sizeof *y);
    for (int n = 0; n < N; n++) {
        int L = lengths ? lengths[n] : T;
        L = L < 0 ? 0 : L > T ? T : L;
        for (int j = 0; j < H; j++) {
            h[j] = h0 ? h0[n * H + j] : 0.0;
            c[j] = c0 ? c0[n * H + j] : 0.0;
        }
        for (int s = 0; s < L; s++) {
            int t = d->reverse ? L - 1 - s : s;
            const double *xt = x + ((size_t)n * T + t) * I;
            for (int k = 0; k < G * H; k++) {
                double a = b_ih ? b_ih[k] : 0.0, b = b_hh ? b_hh[k] : 0.0;
                for (int q = 0; q < I; q++)
                    a += w_ih[k * I + q] * xt[q];
                for (int q = 0; q < H; q++)
                    b += w_hh[k * H + q] * h[q];
                ai[k] = a;
                ah[k] = b;
            }
            for (int j = 0; j < H; j++) {
                if (d->mode == 0)
                    hn[j] = tanh(ai[j] + ah[j]);
                else if (d->mode == 1)
                    hn[j] = fmax(ai[j] + ah[j], 0.0);
                else if (d->mode == 2) {
                    double ig = sigm(ai[j] + ah[j]), fg = sigm(ai[H + j] + ah[H + j]);
                    double gg = tanh(ai[2 * H + j] + ah[2 * H + j]);
                    double og = sigm(ai[3 * H + j] + ah[3 * H + j]);
                    cn[j] = fg * c[j] + ig * gg;
                    hn[j] = og * tanh(cn[j]);
                } else {
                    double r = sigm(ai[j] + ah[j]), z = sigm(ai[H + j] + ah[H + j]);
                    double nn = tanh(ai[2 * H + j] + r * ah[2 * H + j]);
                    hn[j] = (1.0 - z) * nn + z * h[j];
                }
            }
            memcpy(h, hn, (size_t)H * sizeof *h);
            memcpy(c, cn, (size_t)H * sizeof *c);
            double *yt = y + ((size_t)n * T + t) * F;
            for (int j = 0; j < H; j++) {
                yt[j] = h[j];
                if (d->mode == 2)
                    yt[H + j] = c[j];
            }
        }
    }
    free(h), free(c), free(hn), free(cn), free(ai), free(ah);
    return 1;
}

int ref_rnn_last(const double *seq, int N, int T, int F, const int *lengths, int reverse, double *y)
{
    if (N < 1 || T < 1 || F < 1)
        return 0;
    for (int n = 0; n < N; n++) {
        int L = lengths ? lengths[n] : T;
        L = L < 1 ? 1 : L > T ? T : L;
        int t = reverse ? 0 : L - 1;
        for (int f = 0; f < F; f++)
            y[(size_t)n * F + f] = seq[((size_t)n * T + t) * F + f];
    }
    return 1;
}
