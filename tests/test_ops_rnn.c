/* test_ops_rnn.c — the `check` suite of the recurrent ops: clnn_rnn (RNN tanh/relu, LSTM, GRU;
 * with and without biases and initial states, lengths, reverse) and clnn_rnn_last. Each case is
 * checked forward against the double reference (tests/ref/ref_rnn.c) and backward against
 * central differences (tests/gradcheck.c) for every input: x, w_ih, w_hh, and the biases and
 * initial states, which the harness (at most 4 inputs) gets packed into one parameter vector that
 * the builder slices. Lengths are fixed per case (mixed, including 1 and T). Also: error paths
 * (message with expected vs given) and PyTorch's golden numbers (tests/golden/rnn.txt, written by
 * gen_rnn.py: nn.LSTM / nn.GRU / nn.RNN with 1 and 2 layers, bidirectional, batch_first true and
 * false, packed sequences), composed here from single-layer single-direction clnn_rnn calls. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"
#include "gradcheck.h"
#include "ref/ref_rnn.h"

typedef struct rnn_cfg {
    int mode, N, T, I, H;
    int bias, h0, c0, reverse;
    const int *lengths; /* N values, or NULL */
    int last;           /* 1: the output is clnn_rnn_last of the sequence */
} rnn_cfg;

enum { TANH = CLNN_RNN_TANH, RELU = CLNN_RNN_RELU, LSTM = CLNN_RNN_LSTM, GRU = CLNN_RNN_GRU };

static clnn_tensor *build_rnn(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const rnn_cfg *c = cfg;
    int64_t GH = (int64_t)ref_rnn_gates(c->mode) * c->H, NH = (int64_t)c->N * c->H, off = 0;
    clnn_tensor *b_ih = NULL, *b_hh = NULL, *h0 = NULL, *c0 = NULL, *len = NULL;
    if (c->bias) {
        b_ih = clnn_slice(g, in[3], 0, off, off + GH, 1);
        b_hh = clnn_slice(g, in[3], 0, off + GH, off + 2 * GH, 1);
        off += 2 * GH;
    }
    if (c->h0) {
        h0 = clnn_reshape(g, clnn_slice(g, in[3], 0, off, off + NH, 1), 2, (int64_t[]){c->N, c->H});
        off += NH;
    }
    if (c->c0)
        c0 = clnn_reshape(g, clnn_slice(g, in[3], 0, off, off + NH, 1), 2, (int64_t[]){c->N, c->H});
    if (c->lengths) {
        len = clnn_input_i32(g, "lengths", 1, (int64_t[]){c->N});
        if (!len || clnn_tensor_write(len, c->lengths, (size_t)c->N * sizeof(int)))
            return NULL;
    }
    clnn_tensor *y = clnn_rnn(g, (clnn_rnn_mode)c->mode, in[0], in[1], in[2], b_ih, b_hh, h0, c0,
                              len, c->reverse);
    return c->last ? clnn_rnn_last(g, y, len, c->reverse) : y;
}

static int ref_rnn_case(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                        ref_shape *sy)
{
    const rnn_cfg *c = cfg;
    int G = ref_rnn_gates(c->mode), GH = G * c->H, NH = c->N * c->H;
    int F = c->mode == LSTM ? 2 * c->H : c->H;
    if (s[0].ndim != 3 || s[0].dims[0] != c->N || s[0].dims[1] != c->T || s[0].dims[2] != c->I)
        return 0;
    *sy = c->last ? (ref_shape){2, {c->N, F}} : (ref_shape){3, {c->N, c->T, F}};
    if (!y)
        return 1;
    const double *extra = in[3], *b_ih = NULL, *b_hh = NULL, *h0 = NULL, *c0 = NULL;
    int off = 0;
    if (c->bias) {
        b_ih = extra;
        b_hh = extra + GH;
        off += 2 * GH;
    }
    if (c->h0) {
        h0 = extra + off;
        off += NH;
    }
    if (c->c0)
        c0 = extra + off;
    ref_rnn_dims d = {c->mode, c->N, c->T, c->I, c->H, c->reverse};
    double *seq = c->last ? malloc((size_t)c->N * c->T * F * sizeof *seq) : y;
    if (!seq)
        return 0;
    int ok = ref_rnn(&d, in[0], in[1], in[2], b_ih, b_hh, h0, c0, c->lengths, seq);
    if (ok && c->last)
        ok = ref_rnn_last(seq, c->N, c->T, F, c->lengths, c->reverse, y);
    if (c->last)
        free(seq);
    return ok;
}

// clang-format off
#define P GC_PARAM
#define G_OF(mode) ((mode) == LSTM ? 4 : (mode) == GRU ? 3 : 1)
#define CFG(mode, N, T, I, H, bias, h0, c0, rev, len, last)                                        \
    (&(const rnn_cfg){mode, N, T, I, H, bias, h0, c0, rev, len, last})
#define EXTRA(mode, N, H, bias, h0, c0)                                                            \
    ((bias) ? 2 * G_OF(mode) * (H) : 0) + ((h0) ? (N) * (H) : 0) + ((c0) ? (N) * (H) : 0)
/* a case with biases and/or initial states: x, w_ih, w_hh and the packed extras */
#define RCASE(name, mode, N, T, I, H, bias, h0, c0, rev, len, last)                                \
    GC_CASE(name, build_rnn, ref_rnn_case, CFG(mode, N, T, I, H, bias, h0, c0, rev, len, last),    \
            P(N, T, I), P(G_OF(mode) * (H), I), P(G_OF(mode) * (H), H),                            \
            P(EXTRA(mode, N, H, bias, h0, c0)))
/* without biases and initial states */
#define RCASE3(name, mode, N, T, I, H, rev, len, last)                                             \
    GC_CASE(name, build_rnn, ref_rnn_case, CFG(mode, N, T, I, H, 0, 0, 0, rev, len, last),         \
            P(N, T, I), P(G_OF(mode) * (H), I), P(G_OF(mode) * (H), H))
#define LEN(...) ((const int[]){__VA_ARGS__})
// clang-format on

static const gc_case lstm_cases[] = {
    RCASE("lstm (3,5,4) H3 bias h0 c0", LSTM, 3, 5, 4, 3, 1, 1, 1, 0, NULL, 0),
    RCASE3("lstm (3,5,4) H3 plain", LSTM, 3, 5, 4, 3, 0, NULL, 0),
    RCASE("lstm (3,5,4) H3 lengths 5,1,3", LSTM, 3, 5, 4, 3, 1, 1, 1, 0, LEN(5, 1, 3), 0),
    RCASE("lstm (3,5,4) H3 reverse", LSTM, 3, 5, 4, 3, 1, 1, 1, 1, NULL, 0),
    RCASE("lstm (3,5,4) H3 reverse lengths 2,5,1", LSTM, 3, 5, 4, 3, 1, 1, 1, 1, LEN(2, 5, 1), 0),
    RCASE("lstm (3,5,4) H3 last lengths 3,5,1", LSTM, 3, 5, 4, 3, 1, 1, 1, 0, LEN(3, 5, 1), 1),
    RCASE("lstm (3,5,4) H3 last reverse lengths 4,1,5", LSTM, 3, 5, 4, 3, 1, 1, 1, 1, LEN(4, 1, 5),
          1),
    RCASE("lstm (2,7,5) H4 h0 only lengths 7,4", LSTM, 2, 7, 5, 4, 1, 1, 0, 0, LEN(7, 4), 0),
    RCASE("lstm (1,1,2) H2 c0 only", LSTM, 1, 1, 2, 2, 0, 0, 1, 0, NULL, 0),
    RCASE3("lstm (4,3,3) H5 last", LSTM, 4, 3, 3, 5, 0, NULL, 1),
    /* the step kernels take 16 units per work-item: a full block and a partial one */
    RCASE("lstm (2,3,2) H20 bias h0 c0 lengths 3,2", LSTM, 2, 3, 2, 20, 1, 1, 1, 0, LEN(3, 2), 0),
};

static const gc_case gru_cases[] = {
    RCASE("gru (3,5,4) H3 bias h0", GRU, 3, 5, 4, 3, 1, 1, 0, 0, NULL, 0),
    RCASE3("gru (3,5,4) H3 plain", GRU, 3, 5, 4, 3, 0, NULL, 0),
    RCASE("gru (3,5,4) H3 lengths 1,5,3", GRU, 3, 5, 4, 3, 1, 1, 0, 0, LEN(1, 5, 3), 0),
    RCASE("gru (3,5,4) H3 reverse lengths 5,2,1", GRU, 3, 5, 4, 3, 1, 1, 0, 1, LEN(5, 2, 1), 0),
    RCASE("gru (3,5,4) H3 last lengths 2,1,5", GRU, 3, 5, 4, 3, 1, 0, 0, 0, LEN(2, 1, 5), 1),
    RCASE("gru (2,4,3) H4 bias only reverse", GRU, 2, 4, 3, 4, 1, 0, 0, 1, NULL, 0),
    RCASE("gru (2,3,2) H17 bias h0 reverse lengths 1,3", GRU, 2, 3, 2, 17, 1, 1, 0, 1, LEN(1, 3),
          0),
};

static const gc_case simple_cases[] = {
    RCASE("rnn tanh (3,5,4) H3 bias h0", TANH, 3, 5, 4, 3, 1, 1, 0, 0, NULL, 0),
    RCASE("rnn tanh (3,5,4) H3 reverse lengths 3,1,5", TANH, 3, 5, 4, 3, 1, 1, 0, 1, LEN(3, 1, 5),
          0),
    RCASE3("rnn tanh (3,5,4) H3 last", TANH, 3, 5, 4, 3, 0, NULL, 1),
    RCASE("rnn relu (3,5,4) H3 bias h0", RELU, 3, 5, 4, 3, 1, 1, 0, 0, NULL, 0),
    RCASE("rnn relu (3,5,4) H3 lengths 5,3,1", RELU, 3, 5, 4, 3, 1, 1, 0, 0, LEN(5, 3, 1), 0),
    RCASE3("rnn relu (2,6,3) H5 reverse", RELU, 2, 6, 3, 5, 1, NULL, 0),
    RCASE("rnn tanh (2,3,2) H16 bias h0 lengths 2,3", TANH, 2, 3, 2, 16, 1, 1, 0, 0, LEN(2, 3), 0),
    /* x without a gradient: no dx matmul in the backward graph */
    GC_CASE("lstm x input (3,5,4) H3 lengths 5,1,3", build_rnn, ref_rnn_case,
            CFG(LSTM, 3, 5, 4, 3, 1, 1, 1, 0, LEN(5, 1, 3), 0), GC_INPUT(3, 5, 4), P(12, 4),
            P(12, 3), P(2 * 12 + 9 + 9)),
};

START_TEST(test_lstm)
{
    gc_run_case(&lstm_cases[_i]);
}
END_TEST
START_TEST(test_gru)
{
    gc_run_case(&gru_cases[_i]);
}
END_TEST
START_TEST(test_simple)
{
    gc_run_case(&simple_cases[_i]);
}
END_TEST

/* ---- error paths --------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(x_2d, clnn_rnn(g, CLNN_RNN_LSTM, T(3, 4), T(12, 4), T(12, 3), NULL, NULL, NULL, NULL,
                           NULL, 0))
ERR_BUILDER(wih_bad, clnn_rnn(g, CLNN_RNN_LSTM, T(2, 5, 4), T(12, 5), T(12, 3), NULL, NULL, NULL,
                              NULL, NULL, 0))
ERR_BUILDER(whh_bad, clnn_rnn(g, CLNN_RNN_GRU, T(2, 5, 4), T(9, 4), T(12, 3), NULL, NULL, NULL,
                              NULL, NULL, 0))
ERR_BUILDER(bih_bad, clnn_rnn(g, CLNN_RNN_TANH, T(2, 5, 4), T(3, 4), T(3, 3), T(4), T(3), NULL,
                              NULL, NULL, 0))
ERR_BUILDER(h0_bad, clnn_rnn(g, CLNN_RNN_LSTM, T(2, 5, 4), T(12, 4), T(12, 3), NULL, NULL,
                             T(3, 3), NULL, NULL, 0))
ERR_BUILDER(c0_gru, clnn_rnn(g, CLNN_RNN_GRU, T(2, 5, 4), T(9, 4), T(9, 3), NULL, NULL, NULL,
                             T(2, 3), NULL, 0))
ERR_BUILDER(len_f32, clnn_rnn(g, CLNN_RNN_LSTM, T(2, 5, 4), T(12, 4), T(12, 3), NULL, NULL, NULL,
                              NULL, T(2), 0))
ERR_BUILDER(len_shape, clnn_rnn(g, CLNN_RNN_LSTM, T(2, 5, 4), T(12, 4), T(12, 3), NULL, NULL,
                                NULL, NULL, I32(3), 0))
ERR_BUILDER(mode_bad, clnn_rnn(g, (clnn_rnn_mode)7, T(2, 5, 4), T(12, 4), T(12, 3), NULL, NULL,
                               NULL, NULL, NULL, 0))
ERR_BUILDER(mode_neg, clnn_rnn(g, (clnn_rnn_mode)-1, T(2, 5, 4), T(3, 4), T(3, 3), NULL, NULL,
                               NULL, NULL, NULL, 0))
ERR_BUILDER(x_null, clnn_rnn(g, CLNN_RNN_LSTM, NULL, T(12, 4), T(12, 3), NULL, NULL, NULL, NULL,
                             NULL, 0))
ERR_BUILDER(x_i32, clnn_rnn(g, CLNN_RNN_TANH, I32(2, 5, 4), T(3, 4), T(3, 3), NULL, NULL, NULL,
                            NULL, NULL, 0))
ERR_BUILDER(last_2d, clnn_rnn_last(g, T(2, 5), NULL, 0))
ERR_BUILDER(last_len_f32, clnn_rnn_last(g, T(2, 5, 3), T(2), 0))
ERR_BUILDER(last_len_shape, clnn_rnn_last(g, T(2, 5, 3), I32(2, 1), 0))

static const gc_err_case error_cases[] = {
    {"x 2-D", x_2d, CLNN_ERR_SHAPE, {"rnn", "(N, T, I)", "(3, 4)"}},
    {"w_ih wrong", wih_bad, CLNN_ERR_SHAPE, {"rnn", "w_ih", "(12, 4)", "(12, 5)"}},
    {"w_hh wrong", whh_bad, CLNN_ERR_SHAPE, {"rnn", "GRU", "w_hh", "(3 H, H)", "(12, 3)"}},
    {"b_ih wrong", bih_bad, CLNN_ERR_SHAPE, {"rnn", "b_ih", "(3,)", "(4,)"}},
    {"h0 wrong", h0_bad, CLNN_ERR_SHAPE, {"rnn", "h0", "(2, 3)", "(3, 3)"}},
    {"c0 for GRU", c0_gru, CLNN_ERR_INVALID, {"rnn", "c0", "GRU", "LSTM"}},
    {"lengths f32", len_f32, CLNN_ERR_INVALID, {"rnn", "i32", "lengths"}},
    {"lengths shape", len_shape, CLNN_ERR_SHAPE, {"rnn", "lengths", "(2,)", "(3,)"}},
    {"mode 7", mode_bad, CLNN_ERR_INVALID, {"rnn", "mode 7", "CLNN_RNN_GRU"}},
    {"mode -1", mode_neg, CLNN_ERR_INVALID, {"rnn", "mode -1"}},
    {"x NULL", x_null, CLNN_ERR_INVALID, {"rnn", "x", "NULL"}},
    {"x i32", x_i32, CLNN_ERR_INVALID, {"rnn", "f32", "x"}},
    {"rnn_last 2-D", last_2d, CLNN_ERR_SHAPE, {"rnn_last", "(N, T, F)", "(2, 5)"}},
    {"rnn_last lengths f32", last_len_f32, CLNN_ERR_INVALID, {"rnn_last", "i32"}},
    {"rnn_last lengths shape", last_len_shape, CLNN_ERR_SHAPE, {"rnn_last", "(2,)", "(2, 1)"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* ---- golden: PyTorch's nn.LSTM / nn.GRU / nn.RNN (tests/golden/rnn.txt) -------------------- */
static const char *const golden_names[] = {
    "lstm_1layer",
    "lstm_2layer_bidir_lengths_seqfirst",
    "lstm_bidir_lengths",
    "lstm_nobias_seqfirst",
    "gru_1layer_lengths",
    "gru_2layer_bidir",
    "rnn_tanh_bidir_lengths",
    "rnn_relu_2layer_seqfirst",
};

/* One golden case: the stack is built from clnn_rnn calls, one per layer and direction; the loss
 * is sum(y r) + sum(h_n r_h) (+ sum(c_n r_c)), as in gen_rnn.py. */
START_TEST(test_golden)
{
    char err[512], key[64], msg[768];
    golden_file *f = golden_load("rnn", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    const golden_case *c = golden_case_get(f, golden_names[_i]);
    ck_assert_msg(c, "golden case '%s' is missing from rnn.txt", golden_names[_i]);
    int mode = golden_int(c, "mode", 0, -1), layers = golden_int(c, "layers", 0, 1);
    int dirs = golden_int(c, "bidirectional", 0, 0) ? 2 : 1,
        bf = golden_int(c, "batch_first", 0, 1);
    int bias = golden_int(c, "bias", 0, 1), has_len = golden_int(c, "has_lengths", 0, 0);
    int N = golden_int(c, "N", 0, 0), H = golden_int(c, "H", 0, 0);
    const golden_tensor *gx = golden_tensor_get(c, "x"), *gr = golden_tensor_get(c, "r");
    const golden_tensor *gh0 = golden_tensor_get(c, "h0"), *gc0 = golden_tensor_get(c, "c0");
    ck_assert(gx && gr && gh0 && (mode != LSTM || gc0));
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *x = clnn_param(g, "x", gx->ndim, gx->shape);
    clnn_tensor *r = clnn_input(g, "r", gr->ndim, gr->shape);
    clnn_tensor *h0 = clnn_param(g, "h0", gh0->ndim, gh0->shape);
    clnn_tensor *c0 = mode == LSTM ? clnn_param(g, "c0", gc0->ndim, gc0->shape) : NULL;
    ck_assert(golden_write(x, gx) == 0 && golden_write(r, gr) == 0 && golden_write(h0, gh0) == 0);
    if (c0)
        ck_assert(golden_write(c0, gc0) == 0);
    clnn_tensor *len = NULL;
    if (has_len) {
        int lv[16];
        for (int n = 0; n < N; n++)
            lv[n] = golden_int(c, "lengths", n, 0);
        len = clnn_input_i32(g, "lengths", 1, (int64_t[]){N});
        ck_assert_int_eq(clnn_tensor_write(len, lv, (size_t)N * sizeof(int)), CLNN_OK);
    }
    /* parameters: PyTorch's names, e.g. weight_ih_l1_reverse */
    clnn_tensor *w[4][4][2]; /* [weight_ih, weight_hh, bias_ih, bias_hh][layer][dir] */
    static const char *const kinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    memset(w, 0, sizeof w);
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < dirs; d++)
            for (int k = 0; k < (bias ? 4 : 2); k++) {
                snprintf(key, sizeof key, "%s_l%d%s", kinds[k], l, d ? "_reverse" : "");
                const golden_tensor *gt = golden_tensor_get(c, key);
                ck_assert_msg(gt, "%s: no tensor %s", c->name, key);
                w[k][l][d] = clnn_param(g, key, gt->ndim, gt->shape);
                ck_assert(golden_write(w[k][l][d], gt) == 0);
            }
    clnn_tensor *in = bf ? x : clnn_transpose(g, x, 0, 1); /* (T, N, I) -> (N, T, I) */
    clnn_tensor *hn[8], *cn[8];
    for (int l = 0; l < layers; l++) {
        clnn_tensor *outs[2];
        for (int d = 0; d < dirs; d++) {
            int k = l * dirs + d;
            clnn_tensor *hk =
                clnn_reshape(g, clnn_slice(g, h0, 0, k, k + 1, 1), 2, (int64_t[]){N, H});
            clnn_tensor *ck =
                c0 ? clnn_reshape(g, clnn_slice(g, c0, 0, k, k + 1, 1), 2, (int64_t[]){N, H})
                   : NULL;
            clnn_tensor *seq = clnn_rnn(g, (clnn_rnn_mode)mode, in, w[0][l][d], w[1][l][d],
                                        w[2][l][d], w[3][l][d], hk, ck, len, d);
            clnn_tensor *last = clnn_rnn_last(g, seq, len, d);
            outs[d] = mode == LSTM ? clnn_slice(g, seq, 2, 0, H, 1) : seq;
            hn[k] = clnn_reshape(g, mode == LSTM ? clnn_slice(g, last, 1, 0, H, 1) : last, 3,
                                 (int64_t[]){1, N, H});
            cn[k] = mode == LSTM ? clnn_reshape(g, clnn_slice(g, last, 1, H, 2 * H, 1), 3,
                                                (int64_t[]){1, N, H})
                                 : NULL;
        }
        in = dirs == 2 ? clnn_concat(g, 2, outs, 2) : outs[0];
    }
    clnn_tensor *y = bf ? in : clnn_transpose(g, in, 0, 1);
    clnn_tensor *h_n = clnn_concat(g, layers * dirs, hn, 0);
    clnn_tensor *c_n = mode == LSTM ? clnn_concat(g, layers * dirs, cn, 0) : NULL;
    clnn_tensor *rh = clnn_input(g, "r_h", 3, (int64_t[]){layers * dirs, N, H});
    clnn_tensor *rc =
        mode == LSTM ? clnn_input(g, "r_c", 3, (int64_t[]){layers * dirs, N, H}) : NULL;
    ck_assert_msg(y && h_n, "%s: building: %s", c->name, clnn_graph_last_error(g));
    ck_assert(golden_write(rh, golden_tensor_get(c, "r_h")) == 0);
    if (rc)
        ck_assert(golden_write(rc, golden_tensor_get(c, "r_c")) == 0);
    clnn_graph_keep(g, y);
    clnn_graph_keep(g, h_n);
    if (c_n)
        clnn_graph_keep(g, c_n);
    clnn_tensor *loss = clnn_add(g, clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0),
                                 clnn_sum(g, clnn_mul(g, h_n, rh), 0, NULL, 0));
    if (c_n)
        loss = clnn_add(g, loss, clnn_sum(g, clnn_mul(g, c_n, rc), 0, NULL, 0));
    ck_assert_int_eq(clnn_graph_backward(g, loss), CLNN_OK);
    ck_assert_int_eq(clnn_graph_run(g), CLNN_OK);
    /* fp32 through T steps and 2 layers on both sides: 1e-4 relative to max(|x|, rms) */
    const double rtol = 1e-4, atol = 1e-6;
#define CHECK(what, t, gname)                                                                      \
    ck_assert_msg(golden_check(what, t, golden_tensor_get(c, gname), rtol, atol, msg, sizeof msg), \
                  "%s: %s", c->name, msg)
    CHECK("y", y, "y");
    CHECK("h_n", h_n, "h_n");
    if (c_n)
        CHECK("c_n", c_n, "c_n");
    CHECK("dx", clnn_tensor_grad(x), "dx");
    CHECK("dh0", clnn_tensor_grad(h0), "dh0");
    if (c0)
        CHECK("dc0", clnn_tensor_grad(c0), "dc0");
    for (int l = 0; l < layers; l++)
        for (int d = 0; d < dirs; d++)
            for (int k = 0; k < (bias ? 4 : 2); k++) {
                char dkey[80];
                snprintf(dkey, sizeof dkey, "d_%s_l%d%s", kinds[k], l, d ? "_reverse" : "");
                CHECK(dkey, clnn_tensor_grad(w[k][l][d]), dkey);
            }
#undef CHECK
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {lstm_cases, gru_cases, simple_cases};
    const int counts[] = {GC_COUNT(lstm_cases), GC_COUNT(gru_cases), GC_COUNT(simple_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

static Suite *rnn_suite(void)
{
    Suite *s = suite_create("ops_rnn");
    const gc_loop loops[] = {
        {"lstm", test_lstm, GC_COUNT(lstm_cases)},
        {"gru", test_gru, GC_COUNT(gru_cases)},
        {"rnn", test_simple, GC_COUNT(simple_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, GC_COUNT(golden_names)},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rnn_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
