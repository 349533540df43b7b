/* ref_rnn.h — naive double-precision host references of the recurrent ops (clnn_rnn,
 * clnn_rnn_last) for tests/test_ops_rnn.c. Conventions of ref_ops.h: 1 on success, 0 for invalid
 * shapes or parameters. Batch first, PyTorch's gate order and parameter layout. */
#ifndef CLNN_TEST_REF_RNN_H
#define CLNN_TEST_REF_RNN_H

#include "ref/ref_ops.h"

/* mode as clnn_rnn_mode: 0 RNN tanh, 1 RNN relu, 2 LSTM (i, f, g, o), 3 GRU (r, z, n) */
typedef struct ref_rnn_dims {
    int mode, N, T, I, H, reverse;
} ref_rnn_dims;

int ref_rnn_gates(int mode); /* 1, 1, 4, 3 */

/* x (N, T, I), w_ih (G H, I), w_hh (G H, H), b_ih, b_hh (G H) or NULL, h0, c0 (N, H) or NULL,
 * lengths (N) or NULL (values in [0, T]) -> y (N, T, F), F = H (2 H for LSTM: [h | c]); padded
 * steps give 0 and keep the state. */
int ref_rnn(const ref_rnn_dims *d, const double *x, const double *w_ih, const double *w_hh,
            const double *b_ih, const double *b_hh, const double *h0, const double *c0,
            const int *lengths, double *y);

/* seq (N, T, F) -> y (N, F): step lengths[n] - 1 (T - 1 without lengths), or 0 when reverse */
int ref_rnn_last(const double *seq, int N, int T, int F, const int *lengths, int reverse,
                 double *y);

#endif /* CLNN_TEST_REF_RNN_H */
