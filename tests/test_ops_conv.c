/* test_ops_conv.c — the `check` suite of conv2d and conv2d_transpose (src/ops/op_conv.c):
 *   - forward against the double-precision references of tests/ref/ref_conv.c and gradients of
 *     every input (x, w, b) against central differences of them (tests/gradcheck.c), over odd
 *     sizes, strides, explicit / Keras valid / Keras same padding (odd totals included),
 *     dilation, groups, depthwise, 1x1, rectangular kernels, no bias, inputs without gradient;
 *   - cases with the column buffer capped ($CLNN_CONV_SCRATCH_BYTES) so that the batch runs in
 *     several chunks (weight gradients accumulate across chunks), and with long GEMM dimensions
 *     split into batches ($CLNN_CONV_SPLIT: split-N input gradients, split-K weight gradients
 *     whose partial products are reduced, remainders, the cap of 64 batches);
 *   - composite graphs (conv -> tanh -> conv_transpose; one tensor feeding two convolutions);
 *   - error paths: NULL, a sticky status, and a message naming the op and the shapes;
 *   - golden values from PyTorch (tests/golden/conv.txt, written by gen_conv.py).
 * Each test creates its own context (check forks every test). CK_FORK=no to debug. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#define CLNN__NO_CL_WRAPPERS /* the wrappers are hidden in the library: only the structures */
#include "golden_io.h"
#include "internal.h" /* clnn_ctx's conv_algo_force: the tuner's forced algorithm */
#include "gradcheck.h"
#include "ref/ref_conv.h"

/* ---- one build/ref pair, parameterised by conv_cfg ------------------------------------------ */
typedef struct conv_cfg {
    int transpose; /* 0: conv2d, 1: conv2d_transpose */
    int bias;      /* 1: in[2] is the bias */
    ref_conv_cfg c;
    int chunk; /* > 0: cap the column buffer at this many samples (several GEMM chunks) */
    int split; /* > 0: split long GEMM dimensions into batches of this many columns */
} conv_cfg;

/* The case tables leave stride, dilation and groups 0 for their default 1. */
static ref_conv_cfg geom(const ref_conv_cfg *c)
{
    ref_conv_cfg g = *c;
    int *ones[] = {&g.stride_h, &g.stride_w, &g.dil_h, &g.dil_w, &g.groups};
    for (int i = 0; i < 5; i++)
        *ones[i] = *ones[i] ? *ones[i] : 1;
    return g;
}

static void options_of(const ref_conv_cfg *cfg, clnn_conv2d_options *o)
{
    ref_conv_cfg g = geom(cfg);
    const ref_conv_cfg *c = &g;
    clnn_conv2d_options_init(o);
    o->stride_h = c->stride_h;
    o->stride_w = c->stride_w;
    o->pad_h = c->pad_h;
    o->pad_w = c->pad_w;
    o->padding = (clnn_padding_mode)c->padding;
    o->dilation_h = c->dil_h;
    o->dilation_w = c->dil_w;
    o->groups = c->groups;
    o->output_pad_h = c->out_pad_h;
    o->output_pad_w = c->out_pad_w;
}

static clnn_tensor *build_conv(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    const conv_cfg *p = cfg;
    clnn_conv2d_options o;
    options_of(&p->c, &o);
    clnn_tensor *b = p->bias ? in[2] : NULL;
    return p->transpose ? clnn_conv2d_transpose(g, in[0], in[1], b, &o)
                        : clnn_conv2d(g, in[0], in[1], b, &o);
}

static int ref_conv(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                    ref_shape *sy)
{
    const conv_cfg *p = cfg;
    const double *b = p->bias ? in[2] : NULL;
    const ref_shape *sb = p->bias ? &s[2] : NULL;
    ref_conv_cfg c = geom(&p->c);
    return p->transpose ? ref_conv2d_transpose(in[0], &s[0], in[1], &s[1], b, sb, &c, y, sy)
                        : ref_conv2d(in[0], &s[0], in[1], &s[1], b, sb, &c, y, sy);
}

/* Runs a case; with cfg->chunk > 0 the column buffer holds that many samples (one sample's
 * buffer is (C R S + K) OH OW floats, C, H, W the big side, K, OH, OW the small side). */
static void run_case(const gc_case *c)
{
    const conv_cfg *p = c->cfg;
    if (p->chunk > 0) {
        const gc_input *x = &c->in[0], *w = &c->in[1];
        ref_conv_cfg cg = geom(&p->c);
        int64_t R = w->shape[2], S = w->shape[3], G = cg.groups, C, K, P;
        if (p->transpose) {
            K = x->shape[1];
            C = w->shape[1] * G;
            P = x->shape[2] * x->shape[3];
        } else {
            ref_shape sx = {4, {0}}, sw = {4, {0}}, sy;
            memcpy(sx.dims, x->shape, sizeof sx.dims);
            memcpy(sw.dims, w->shape, sizeof sw.dims);
            ck_assert(ref_conv2d(NULL, &sx, NULL, &sw, NULL, NULL, &cg, NULL, &sy));
            C = x->shape[1];
            K = w->shape[0];
            P = sy.dims[2] * sy.dims[3];
        }
        char bytes[32];
        snprintf(bytes, sizeof bytes, "%lld", (long long)((C * R * S + K) * P * 4 * p->chunk));
        setenv("CLNN_CONV_SCRATCH_BYTES", bytes, 1);
    }
    if (p->split > 0) {
        char cols[32];
        snprintf(cols, sizeof cols, "%d", p->split);
        setenv("CLNN_CONV_SPLIT", cols, 1);
    }
    gc_run_case(c);
    unsetenv("CLNN_CONV_SCRATCH_BYTES");
    unsetenv("CLNN_CONV_SPLIT");
}

// clang-format off
/* conv_cfg literals: CONV(bias, .stride_h = 2, ...) with PyTorch defaults for the rest */
#define GEOM(...) {__VA_ARGS__} /* stride, dilation, groups 0 mean 1 (see geom) */
#define CONV(b, ...)  (&(const conv_cfg){.transpose = 0, .bias = (b), .c = GEOM(__VA_ARGS__)})
#define CONVT(b, ...) (&(const conv_cfg){.transpose = 1, .bias = (b), .c = GEOM(__VA_ARGS__)})
#define CHUNKED(n, split_, t, b, ...)                                                              \
    (&(const conv_cfg){.transpose = (t), .bias = (b), .c = GEOM(__VA_ARGS__), .chunk = (n),        \
                       .split = (split_)})
#define CASE(name, cfg, ...) GC_CASE(name, build_conv, ref_conv, cfg, __VA_ARGS__)
#define P GC_PARAM
#define X GC_INPUT
#define SAME .padding = REF_PAD_SAME
#define VALID .padding = REF_PAD_VALID
// clang-format on

/* ---- conv2d --------------------------------------------------------------------------------
 * Tolerances: the forward sums C/G R S <= 27 products (default 1e-5); the weight gradient sums
 * N OH OW <= 126 and the input gradient K/G R S <= 45 (default 1e-4). */
static const gc_case conv_cases[] = {
    CASE("conv2d (2,3,7,9)*(4,3,3,3)+b", CONV(1), P(2, 3, 7, 9), P(4, 3, 3, 3), P(4)),
    CASE("conv2d stride 2 pad 1 (2,3,9,8)*(5,3,3,3)+b",
         CONV(1, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1), P(2, 3, 9, 8),
         P(5, 3, 3, 3), P(5)),
    CASE("conv2d dilation 2 pad 2 (1,2,11,10)*(3,2,3,3)+b",
         CONV(1, .dil_h = 2, .dil_w = 2, .pad_h = 2, .pad_w = 2), P(1, 2, 11, 10), P(3, 2, 3, 3),
         P(3)),
    CASE("conv2d groups 2 (2,4,7,6)*(6,2,3,3)+b", CONV(1, .groups = 2), P(2, 4, 7, 6),
         P(6, 2, 3, 3), P(6)),
    CASE("conv2d depthwise (2,3,8,7)*(3,1,3,3)+b pad 1",
         CONV(1, .groups = 3, .pad_h = 1, .pad_w = 1), P(2, 3, 8, 7), P(3, 1, 3, 3), P(3)),
    CASE("conv2d depthwise multiplier 2 (2,3,6,7)*(6,1,3,3)", CONV(0, .groups = 3), P(2, 3, 6, 7),
         P(6, 1, 3, 3)),
    CASE("conv2d no bias (2,3) kernel stride (2,1) pad (0,1)", CONV(0, .stride_h = 2, .pad_w = 1),
         P(2, 3, 7, 8), P(4, 3, 2, 3)),
    CASE("conv2d 1x1 (3,5,4,5)*(7,5,1,1)+b", CONV(1), P(3, 5, 4, 5), P(7, 5, 1, 1), P(7)),
    CASE("conv2d same stride 1 (2,3,7,6)*(4,3,3,3)+b", CONV(1, SAME), P(2, 3, 7, 6), P(4, 3, 3, 3),
         P(4)),
    /* H: out 4, total 1 -> (0, 1); W: kernel 4, out 4, total 3 -> (1, 2) */
    CASE("conv2d same stride 2 odd totals (1,2,8,7)*(3,2,3,4)+b",
         CONV(1, SAME, .stride_h = 2, .stride_w = 2), P(1, 2, 8, 7), P(3, 2, 3, 4), P(3)),
    CASE("conv2d same stride 2 dilation 2 (2,2,9,6)*(3,2,3,3)",
         CONV(0, SAME, .stride_h = 2, .stride_w = 2, .dil_h = 2, .dil_w = 2), P(2, 2, 9, 6),
         P(3, 2, 3, 3)),
    CASE("conv2d valid stride 2 (2,3,9,9)*(4,3,3,3)+b",
         CONV(1, VALID, .stride_h = 2, .stride_w = 2), P(2, 3, 9, 9), P(4, 3, 3, 3), P(4)),
    CASE("conv2d input x stride 3 (2,3,10,11)*(4,3,3,2)+b", CONV(1, .stride_h = 3, .stride_w = 3),
         X(2, 3, 10, 11), P(4, 3, 3, 2), P(4)),
    CASE("conv2d input w (2,3,7,9)*(4,3,3,3)", CONV(0), P(2, 3, 7, 9), X(4, 3, 3, 3)),
    CASE("conv2d everything (2,4,9,10)*(4,2,3,3)+b",
         CONV(1, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 1, .dil_h = 2, .dil_w = 3,
              .groups = 2),
         P(2, 4, 9, 10), P(4, 2, 3, 3), P(4)),
    CASE("conv2d one output pixel (1,2,3,3)*(2,2,3,3)+b", CONV(1), P(1, 2, 3, 3), P(2, 2, 3, 3),
         P(2)),
    CASE("conv2d kernel wider than padded input rows (1,1,5,2)*(2,1,3,3) pad 1",
         CONV(0, .pad_h = 1, .pad_w = 1), P(1, 1, 5, 2), P(2, 1, 3, 3)),
    CASE("conv2d batch 5 (5,2,6,5)*(3,2,3,3)+b", CONV(1, .pad_h = 1), P(5, 2, 6, 5), P(3, 2, 3, 3),
         P(3)),
    /* padding beyond the kernel: the data gradient's convolution crops (pad 2 - 3 < 0) */
    CASE("conv2d pad (3,2) (1,2,5,4)*(3,2,3,3)+b", CONV(1, .pad_h = 3, .pad_w = 2), P(1, 2, 5, 4),
         P(3, 2, 3, 3), P(3)),
};

/* ---- conv2d_transpose (PyTorch weight layout (C_in, C_out/G, R, S)) ------------------------ */
static const gc_case transpose_cases[] = {
    CASE("conv2d_transpose (2,3,5,6)*(3,4,3,3)+b", CONVT(1), P(2, 3, 5, 6), P(3, 4, 3, 3), P(4)),
    CASE("conv2d_transpose stride 2 pad 1 output_pad 1 (2,3,4,5)*(3,2,3,3)+b",
         CONVT(1, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .out_pad_h = 1,
               .out_pad_w = 1),
         P(2, 3, 4, 5), P(3, 2, 3, 3), P(2)),
    CASE("conv2d_transpose groups 2 dilation 2 (2,4,5,4)*(4,3,3,3)+b",
         CONVT(1, .groups = 2, .dil_h = 2, .dil_w = 2), P(2, 4, 5, 4), P(4, 3, 3, 3), P(6)),
    CASE("conv2d_transpose depthwise (2,3,5,5)*(3,1,3,3) stride 2",
         CONVT(0, .groups = 3, .stride_h = 2, .stride_w = 2), P(2, 3, 5, 5), P(3, 1, 3, 3)),
    /* output_pad 1 >= stride 1 is allowed by the dilation 2 (PyTorch's rule) */
    CASE("conv2d_transpose dilation 2 output_pad 1 (1,2,4,5)*(2,3,3,2)+b",
         CONVT(1, .dil_h = 2, .dil_w = 2, .out_pad_h = 1, .out_pad_w = 1), P(1, 2, 4, 5),
         P(2, 3, 3, 2), P(3)),
    CASE("conv2d_transpose same stride 2 (2,3,4,5)*(3,2,3,4)+b",
         CONVT(1, SAME, .stride_h = 2, .stride_w = 2), P(2, 3, 4, 5), P(3, 2, 3, 4), P(2)),
    /* kernel 2 < stride 3: Keras adds stride - kernel rows that only get the bias */
    CASE("conv2d_transpose valid stride 3 kernel 2 (2,2,3,4)*(2,3,2,2)+b",
         CONVT(1, VALID, .stride_h = 3, .stride_w = 3), P(2, 2, 3, 4), P(2, 3, 2, 2), P(3)),
    CASE("conv2d_transpose stride (2,3) pad (1,0) output_pad (0,2) (2,2,4,3)*(2,3,4,3)",
         CONVT(0, .stride_h = 2, .stride_w = 3, .pad_h = 1, .out_pad_w = 2), P(2, 2, 4, 3),
         P(2, 3, 4, 3)),
    CASE("conv2d_transpose input x (2,3,4,4)*(3,2,3,3)+b stride 2",
         CONVT(1, .stride_h = 2, .stride_w = 2), X(2, 3, 4, 4), P(3, 2, 3, 3), P(2)),
    CASE("conv2d_transpose 1x1 (2,5,3,4)*(5,3,1,1)+b", CONVT(1), P(2, 5, 3, 4), P(5, 3, 1, 1),
         P(3)),
    CASE("conv2d_transpose pad (3,1) (1,2,7,6)*(2,3,3,3)+b", CONVT(1, .pad_h = 3, .pad_w = 1),
         P(1, 2, 7, 6), P(2, 3, 3, 3), P(3)),
};

/* ---- several chunks: the column buffer capped at 1 or 2 samples ----------------------------- */
static const gc_case chunk_cases[] = {
    CASE("chunks of 1: conv2d (3,3,7,9)*(4,3,3,3)+b", CHUNKED(1, 0, 0, 1), P(3, 3, 7, 9),
         P(4, 3, 3, 3), P(4)),
    CASE("chunks of 2: conv2d groups 2 stride 2 (5,4,7,6)*(6,2,3,3)+b",
         CHUNKED(2, 0, 0, 1, .groups = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1), P(5, 4, 7, 6),
         P(6, 2, 3, 3), P(6)),
    CASE("chunks of 2: conv2d_transpose stride 2 (5,3,4,3)*(3,2,3,3)+b",
         CHUNKED(2, 0, 1, 1, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .out_pad_h = 1),
         P(5, 3, 4, 3), P(3, 2, 3, 3), P(2)),
    CASE("chunks of 1: conv2d_transpose groups 3 (3,3,4,4)*(3,2,3,3)",
         CHUNKED(1, 0, 1, 0, .groups = 3), P(3, 3, 4, 4), P(3, 2, 3, 3)),
    /* split GEMMs (parts = L / split, at most 64, of L / parts columns, and the remainder):
     * L = 70 columns in 8 batches of 8 and a remainder of 6 */
    CASE("split 8: conv2d (2,3,7,9)*(4,3,3,3)+b", CHUNKED(0, 8, 0, 1), P(2, 3, 7, 9), P(4, 3, 3, 3),
         P(4)),
    /* chunks of 40 and 20 columns: 6 batches of 6 + 4, then 3 batches of 6 + 2; the partial
     * products of the second chunk are added to the first's */
    CASE("chunks of 2, split 6: conv2d stride 2 pad 1 (5,3,9,8)*(5,3,3,3)+b",
         CHUNKED(2, 6, 0, 1, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1), P(5, 3, 9, 8),
         P(5, 3, 3, 3), P(5)),
    /* 60 columns in 12 batches of 5 */
    CASE("split 5: conv2d_transpose (2,3,5,6)*(3,4,3,3)+b", CHUNKED(0, 5, 1, 1), P(2, 3, 5, 6),
         P(3, 4, 3, 3), P(4)),
    /* 98 columns in at most 64 batches (of 1) and a remainder of 34 */
    CASE("split 1: conv2d (2,2,9,9)*(3,2,3,3)", CHUNKED(0, 1, 0, 0), P(2, 2, 9, 9), P(3, 2, 3, 3)),
};

/* ---- composite graphs ---------------------------------------------------------------------- */
/* x: (N, C, H, W) -> conv_transpose(tanh(conv(x, w1, b1; stride 2, pad 1)), w2, b2; stride 2,
 * pad 1, output_pad 1): (N, C', H, W) for even H, W (an autoencoder's shape round trip) */
#define ONES .dil_h = 1, .dil_w = 1, .groups = 1
static const ref_conv_cfg down = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, ONES};
static const ref_conv_cfg up = {
    .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .out_pad_h = 1, .out_pad_w = 1, ONES};

static clnn_tensor *build_autoencoder(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    clnn_conv2d_options o1, o2;
    options_of(&down, &o1);
    options_of(&up, &o2);
    clnn_tensor *h = clnn_tanh(g, clnn_conv2d(g, in[0], in[1], in[2], &o1));
    return clnn_conv2d_transpose(g, h, in[3], NULL, &o2);
}

static int ref_autoencoder(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                           ref_shape *sy)
{
    (void)cfg;
    ref_shape sh;
    if (!ref_conv2d(in[0], &s[0], in[1], &s[1], in[2], &s[2], &down, NULL, &sh))
        return 0;
    double *h = malloc((size_t)ref_numel(&sh) * sizeof *h);
    int ok = h && ref_conv2d(in[0], &s[0], in[1], &s[1], in[2], &s[2], &down, h, &sh);
    if (ok) {
        ref_unary(REF_TANH, 0.0, h, ref_numel(&sh), h);
        ok = ref_conv2d_transpose(h, &sh, in[3], &s[3], NULL, NULL, &up, y, sy);
    }
    free(h);
    return ok;
}

/* x: (N, C, H, W) -> conv(x, w1; same) * conv(x, w2; pad 1): x and both weights feed two paths */
static const ref_conv_cfg same3 = {.stride_h = 1, .stride_w = 1, SAME, ONES};
static const ref_conv_cfg pad1 = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, ONES};

static clnn_tensor *build_two_paths(clnn_graph *g, clnn_tensor *const *in, const void *cfg)
{
    (void)cfg;
    clnn_conv2d_options o1, o2;
    options_of(&same3, &o1);
    options_of(&pad1, &o2);
    return clnn_mul(g, clnn_conv2d(g, in[0], in[1], NULL, &o1),
                    clnn_conv2d(g, in[0], in[2], NULL, &o2));
}

static int ref_two_paths(const double *const *in, const ref_shape *s, const void *cfg, double *y,
                         ref_shape *sy)
{
    (void)cfg;
    ref_shape sa, sb;
    if (!ref_conv2d(in[0], &s[0], in[1], &s[1], NULL, NULL, &same3, NULL, &sa) ||
        !ref_conv2d(in[0], &s[0], in[2], &s[2], NULL, NULL, &pad1, NULL, &sb))
        return 0;
    double *a = malloc((size_t)ref_numel(&sa) * sizeof *a);
    double *b = malloc((size_t)ref_numel(&sb) * sizeof *b);
    int ok = a && b && ref_conv2d(in[0], &s[0], in[1], &s[1], NULL, NULL, &same3, a, &sa) &&
             ref_conv2d(in[0], &s[0], in[2], &s[2], NULL, NULL, &pad1, b, &sb) &&
             ref_binary(REF_MUL, a, &sa, b, &sb, y, sy);
    free(a);
    free(b);
    return ok;
}

static const gc_case composite_cases[] = {
    GC_CASE("conv -> tanh -> conv_transpose (2,3,6,8)", build_autoencoder, ref_autoencoder, NULL,
            P(2, 3, 6, 8), P(4, 3, 3, 3), P(4), P(4, 2, 3, 3)),
    GC_CASE("conv(x, w1; same) * conv(x, w2; pad 1) (2,2,5,6)", build_two_paths, ref_two_paths,
            NULL, P(2, 2, 5, 6), P(3, 2, 3, 3), P(3, 2, 3, 3)),
};

START_TEST(test_conv)
{
    run_case(&conv_cases[_i]);
}
END_TEST
START_TEST(test_transpose)
{
    run_case(&transpose_cases[_i]);
}
END_TEST
START_TEST(test_chunks)
{
    run_case(&chunk_cases[_i]);
}
END_TEST
START_TEST(test_composite)
{
    gc_run_case(&composite_cases[_i]);
}
END_TEST

/* ---- the direct kernels ($CLNN_CONV_ALGO=direct; CPUs take them by default where the output
 * channels fill their 32-wide blocks at least half) ---------------------------------------------
 * Every conv2d and conv2d_transpose case above once more through conv_direct (the data gradient
 * of a strided convolution stays im2col + GEMM), padded or not, grouped, dilated; output channels
 * below 32 leave padded lanes that must not be stored. Below, through the direct kernels too:
 * two channel blocks with a tail (40 = 32 + 8), weight gradients split into partial sums over
 * samples, padded inputs in chunks of samples; test_default_choice runs the first case with the
 * default choice (on CPU devices im2col + GEMM: 30 outputs per channel; test_rules checks which
 * shapes the rules give conv_direct). */
static void run_direct(const gc_case *c)
{
    setenv("CLNN_CONV_ALGO", "direct", 1);
    run_case(c);
    unsetenv("CLNN_CONV_ALGO");
}

START_TEST(test_conv_direct)
{
    run_direct(&conv_cases[_i]);
}
END_TEST
START_TEST(test_transpose_direct)
{
    run_direct(&transpose_cases[_i]);
}
END_TEST

/* sums: forward C R S <= 72, weight gradient N OH OW <= 150, data gradient K R S <= 360 */
static const gc_case direct_cases[] = {
    CASE("direct: conv2d pad 1 (2,8,6,5)*(40,8,3,3)+b", CONV(1, .pad_h = 1, .pad_w = 1),
         P(2, 8, 6, 5), P(40, 8, 3, 3), P(40)),
    CASE("direct: conv2d stride 2 same (3,5,9,10)*(33,5,3,3)",
         CONV(0, SAME, .stride_h = 2, .stride_w = 2), P(3, 5, 9, 10), P(33, 5, 3, 3)),
    CASE("direct: conv2d groups 2 dilation 2 (2,6,9,8)*(32,3,3,3)+b",
         CONV(1, .groups = 2, .dil_h = 2, .dil_w = 2, .pad_h = 2), P(2, 6, 9, 8), P(32, 3, 3, 3),
         P(32)),
    CASE("direct: conv2d_transpose pad 1 (2,36,4,5)*(36,20,3,3)+b", CONVT(1, .pad_h = 1),
         P(2, 36, 4, 5), P(36, 20, 3, 3), P(20)),
    /* one sample's padded input per chunk, weight gradient accumulated over three chunks */
    CASE("direct: chunks of 1 conv2d pad 1 (3,4,5,6)*(20,4,3,3)+b",
         CHUNKED(1, 0, 0, 1, .pad_h = 1, .pad_w = 1), P(3, 4, 5, 6), P(20, 4, 3, 3), P(20)),
};

START_TEST(test_direct)
{
    run_direct(&direct_cases[_i]);
}
END_TEST
START_TEST(test_default_choice)
{
    run_case(&direct_cases[0]);
}
END_TEST

/* Scratch buffers past the device's largest allocation are refused with CLNN_ERR_DEVICE_MEMORY
 * before any OpenCL call (clnn__buffer_reserve; POCL's CPU device does not enforce the limit
 * itself), naming the buffer, and the graph runs once the limit allows them: the own SGEMM's
 * packing buffer of a matmul with b^T, a convolution's column buffer (im2col + GEMM). The limit
 * is lowered after planning, so only the scratch made at the first run meets it. */
START_TEST(test_scratch_limit)
{
    setenv("CLNN_CONV_ALGO", "gemm", 1);
    setenv("CLNN_GEMM", "own", 1); /* the packing buffer is the own SGEMM's (GPUs: CLBlast) */
    clnn_ctx *ctx = gc_ctx_create();
    for (int conv = 0; conv < 2; conv++) {
        clnn_graph *g;
        ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
        clnn_tensor *y;
        if (conv) {
            clnn_tensor *x = clnn_input(g, "x", 4, (int64_t[]){2, 4, 10, 10});
            clnn_tensor *w = clnn_input(g, "w", 4, (int64_t[]){8, 4, 3, 3});
            y = clnn_conv2d(g, x, w, NULL, NULL);
        } else {
            clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){64, 40});
            clnn_tensor *b = clnn_input(g, "b", 2, (int64_t[]){64, 40});
            y = clnn_matmul(g, a, b, 0, 1);
        }
        ck_assert_ptr_nonnull(clnn_graph_keep(g, y));
        ck_assert_int_eq(clnn_graph_plan(g), CLNN_OK);
        const uint64_t saved = ctx->info.max_alloc_bytes;
        ctx->info.max_alloc_bytes = 256;
        clnn_status st = clnn_graph_run(g);
        ctx->info.max_alloc_bytes = saved;
        const char *msg = clnn_ctx_last_error(ctx);
        ck_assert_msg(st == CLNN_ERR_DEVICE_MEMORY && strstr(msg, "CL_DEVICE_MAX_MEM_ALLOC_SIZE") &&
                          strstr(msg, conv ? "the column buffer" : "the packed GEMM operands"),
                      "%s: got %s: %s", conv ? "conv2d" : "matmul", clnn_status_name(st), msg);
        ck_assert_int_eq(clnn_ctx_last_raw_code(ctx), 0);
        ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "the run after the limit: %s",
                      clnn_ctx_last_error(ctx));
        clnn_graph_destroy(g);
    }
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_CONV_ALGO");
    unsetenv("CLNN_GEMM");
}
END_TEST

/* The rules' algorithm on CPU devices, im2col + GEMM on GPUs (no tuning file, no $CLNN_CONV_ALGO)
 * for the layer kinds they tell apart: few taps (the row kernels), 3x3 stride 1 with 64+ channels
 * and 8x8+ outputs (Winograd forward and data gradient), at most 64 outputs per channel (im2col +
 * GEMM: 4x4 and 8x8 maps, a stride-2 layer down to 8x8), the MNIST CNN's second layer
 * (conv_direct). Each row: x (N C H W), K, stride, then the algorithm of conv2d, its data gradient,
 * its weight gradient. */
START_TEST(test_rules)
{
    static const struct {
        int64_t x[4];
        int K, stride, algo[3];
    } rows[] = {
        {{2, 1, 28, 28}, 32, 1, {3, 0, 2}},   {{2, 32, 13, 13}, 64, 1, {1, 1, 1}},
        {{2, 64, 8, 8}, 64, 1, {4, 4, 0}},    {{2, 64, 16, 16}, 64, 1, {4, 4, 1}},
        {{2, 64, 4, 4}, 64, 1, {0, 0, 0}},    {{2, 64, 16, 16}, 128, 2, {0, 0, 0}},
        {{2, 64, 32, 32}, 128, 2, {1, 0, 1}}, {{2, 32, 16, 16}, 64, 1, {1, 1, 1}},
    };
    unsetenv("CLNN_CONV_ALGO");
    clnn_ctx *ctx = gc_ctx_create();
    const int cpu = gc_cpu_path(ctx); /* GPUs: im2col + GEMM everywhere */
    for (size_t i = 0; i < GC_COUNT(rows); i++) {
        clnn_graph *g;
        ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
        clnn_tensor *x = clnn_param(g, "x", 4, rows[i].x);
        clnn_tensor *w = clnn_param(g, "w", 4, (int64_t[]){rows[i].K, rows[i].x[1], 3, 3});
        clnn_conv2d_options o;
        clnn_conv2d_options_init(&o);
        o.stride_h = o.stride_w = rows[i].stride;
        o.padding = CLNN_PADDING_EXPLICIT;
        o.pad_h = o.pad_w = rows[i].x[1] == 1 ? 0 : 1;
        clnn_tensor *y = clnn_conv2d(g, x, w, NULL, &o);
        ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, y, 0, NULL, 0)), CLNN_OK);
        clnn_tensor *nodes[3] = {y, clnn_tensor_grad(x), clnn_tensor_grad(w)};
        for (int j = 0; j < 3; j++)
            ck_assert_msg(clnn_conv_algo(nodes[j]) == (cpu ? rows[i].algo[j] : 0),
                          "x (%lld,%lld,%lld,%lld), %d filters, stride %d, node %d: algorithm %d, "
                          "expected %d",
                          (long long)rows[i].x[0], (long long)rows[i].x[1], (long long)rows[i].x[2],
                          (long long)rows[i].x[3], rows[i].K, rows[i].stride, j,
                          clnn_conv_algo(nodes[j]), cpu ? rows[i].algo[j] : 0);
        clnn_graph_destroy(g);
    }
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- Winograd F(2x2, 3x3) ($CLNN_CONV_ALGO=winograd; algorithm 4) ----------------------------
 * Every case of the tables above that Winograd can run (3x3, stride 1, no dilation, one group:
 * conv2d and its data gradient, conv2d_transpose with stride 1 and its input gradient, which is
 * a conv2d) once more with $CLNN_CONV_ALGO=winograd: padding 0 and 1 (and (1, 0)), odd output
 * sizes (a tile's second row or column outside: 5 x 7, 5 x 2, 1 x 1), bias or not, chunks of
 * one sample (the scratch budget), blocks of one or a few tile rows ($CLNN_WINO_BLOCK_BYTES),
 * the composite graph with two convolutions of one input; the weight gradients stay on the
 * rules' algorithms. The cases are picked from the tables when the
 * suite is made (wino_pick), so a new case that Winograd can run is covered too. */
#define WINO_MAX 32
static const gc_case *wino_cases[WINO_MAX];
static int wino_count;

/* 1 when Winograd can run the case's convolution (the conv_cfg tables; NULL cfg: the two-paths
 * composite, which is two 3x3 stride-1 convolutions) */
static int wino_fits(const gc_case *c)
{
    const conv_cfg *p = c->cfg;
    if (!p)
        return c->build == build_two_paths;
    ref_conv_cfg g = geom(&p->c);
    return c->in[1].shape[2] == 3 && c->in[1].shape[3] == 3 && g.stride_h == 1 && g.stride_w == 1 &&
           g.dil_h == 1 && g.dil_w == 1 && g.groups == 1;
}

static void wino_pick(void)
{
    const gc_case *const tables[] = {conv_cases, transpose_cases, chunk_cases, composite_cases,
                                     direct_cases};
    const int counts[] = {GC_COUNT(conv_cases), GC_COUNT(transpose_cases), GC_COUNT(chunk_cases),
                          GC_COUNT(composite_cases), GC_COUNT(direct_cases)};
    wino_count = 0;
    for (size_t t = 0; t < GC_COUNT(tables); t++)
        for (int i = 0; i < counts[t] && wino_count < WINO_MAX; i++)
            if (wino_fits(&tables[t][i]))
                wino_cases[wino_count++] = &tables[t][i];
}

START_TEST(test_winograd)
{
    const gc_case *c = wino_cases[_i];
    setenv("CLNN_CONV_ALGO", "winograd", 1);
    /* blocks of tile rows: all at once (the default budget), one row each, or a few rows that
     * may span two samples */
    if (_i % 3)
        setenv("CLNN_WINO_BLOCK_BYTES", _i % 3 == 1 ? "1" : "5000", 1);
    if (c->cfg)
        run_case(c);
    else
        gc_run_case(c);
    unsetenv("CLNN_CONV_ALGO");
    unsetenv("CLNN_WINO_BLOCK_BYTES");
}
END_TEST

/* the cases the tables must hold (that a table edit does not silently drop the coverage) */
START_TEST(test_winograd_picked)
{
    ck_assert_int_ge(wino_count, 12);
    ck_assert_int_lt(wino_count, WINO_MAX);
    int transposed = 0, composite = 0, chunked = 0;
    for (int i = 0; i < wino_count; i++) {
        const conv_cfg *p = wino_cases[i]->cfg;
        transposed += p && p->transpose;
        composite += !p;
        chunked += p && p->chunk > 0;
    }
    ck_assert(transposed >= 2 && composite == 1 && chunked >= 2);
}
END_TEST

/* The Conv2D layer with a ReLU, sigmoid, tanh, leaky ReLU or ELU runs conv2d with the bias and
 * the activation in its epilogue (clnn__conv2d_act): through each forward kernel, against the host
 * reference of act(conv(x, w) + b). _i % 4: im2col + GEMM (conv_swap), the rows kernel
 * (conv_fwd_rows: "direct" with C R S < 64), conv_direct ("direct" with C R S >= 64), Winograd;
 * _i / 4: ReLU, sigmoid, tanh, leaky ReLU (alpha 0.2), ELU (alpha 0.7). x: (3, C, 7, 6) (C 4, or
 * 8 for conv_direct), w: (6, C, 3, 3), pad 1 -> y: (3, 6, 7, 6), half the outputs cut by the
 * ReLU. The device profile of the prediction has no activation op of its own (fused). (Their
 * gradients: test_nn's test_model_gradient.) */
START_TEST(test_conv_act)
{
    static const char *const algos[4] = {"gemm", "direct", "direct", "winograd"};
    static const clnn_activation acts[5] = {CLNN_ACT_RELU, CLNN_ACT_SIGMOID, CLNN_ACT_TANH,
                                            CLNN_ACT_LEAKY_RELU, CLNN_ACT_ELU};
    static const float alphas[5] = {0, 0, 0, 0.2f, 0.7f};
    const int algo = _i % 4, C = algo == 2 ? 8 : 4, nx = 3 * C * 42, nw = 6 * C * 9;
    const clnn_activation act = acts[_i / 4];
    const double alpha = alphas[_i / 4];
    setenv("CLNN_CONV_ALGO", algos[algo], 1);
    clnn_ctx_options co;
    clnn_ctx_options_init(&co);
    co.profile = 1;
    clnn_ctx *ctx = NULL;
    ck_assert_int_eq(clnn_ctx_create(&ctx, &co), CLNN_OK);
    clnn_model *m;
    ck_assert_int_eq(clnn_model_create(ctx, NULL, &m), CLNN_OK);
    ck_assert_int_ge(clnn_model_input(m, "x", 3, (int64_t[]){C, 7, 6}), 0);
    clnn_layer_spec l = clnn_layer_conv2d(6, 3, 3, act);
    l.alpha = (float)alpha;
    l.padding = CLNN_PADDING_EXPLICIT;
    l.pad_h = l.pad_w = 1;
    ck_assert_msg(clnn_model_push(m, &l) >= 0, "%s", clnn_model_last_error(m));
    ck_assert_int_eq(clnn_model_param_count(m), 2);
    ref_shape sx = {4, {3, C, 7, 6}}, sw = {4, {6, C, 3, 3}}, sb = {1, {6}}, sy;
    float x[1008], w[432], b[6], y[756];
    double dx[1008], dw[432], db[6], want[756];
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("conv act") + (uint64_t)_i);
    gc_rng_fill(&rng, x, nx, -1, 1, 0);
    gc_rng_fill(&rng, w, nw, -0.5, 0.5, 0);
    gc_rng_fill(&rng, b, 6, -0.3, 0.3, 0);
    for (int i = 0; i < nx; i++)
        dx[i] = x[i];
    for (int i = 0; i < nw; i++)
        dw[i] = w[i];
    for (int i = 0; i < 6; i++)
        db[i] = b[i];
    ck_assert_int_eq(clnn_tensor_write(clnn_model_param(m, 0), w, (size_t)nw * sizeof *w), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(clnn_model_param(m, 1), b, sizeof b), CLNN_OK);
    ck_assert_msg(clnn_model_predict(m, x, 3, 3, y, 756) == CLNN_OK, "%s",
                  clnn_ctx_last_error(ctx));
    const ref_conv_cfg c = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, ONES};
    ck_assert(ref_conv2d(dx, &sx, dw, &sw, db, &sb, &c, want, &sy));
    int cut = 0;
    for (int i = 0; i < 756; i++) {
        const double z = want[i];
        cut += z <= 0;
        want[i] = act == CLNN_ACT_RELU         ? (z > 0 ? z : 0)
                  : act == CLNN_ACT_SIGMOID    ? 1 / (1 + exp(-z))
                  : act == CLNN_ACT_LEAKY_RELU ? (z > 0 ? z : alpha * z)
                  : act == CLNN_ACT_ELU        ? (z > 0 ? z : alpha * expm1(z))
                                               : tanh(z);
    }
    ck_assert(cut > 100 && cut < 656);
    clnn_profile_entry prof[32];
    size_t nprof = 0;
    ck_assert_int_eq(clnn_profile_get(ctx, prof, 32, &nprof), CLNN_OK);
    for (size_t i = 0; i < nprof && i < 32; i++)
        ck_assert_msg(strcmp(prof[i].op, "bias_act") && strcmp(prof[i].op, "activate") &&
                          strcmp(prof[i].op, "leaky_relu") && strcmp(prof[i].op, "elu"),
                      "activation %d: a '%s' op of its own, not in the convolution's epilogue",
                      (int)act, prof[i].op);
    char msg[768];
    ck_assert_msg(gc_compare("y", y, want, &sy, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg), "%s",
                  msg);
    clnn_model_destroy(m);
    clnn_ctx_destroy(ctx);
    unsetenv("CLNN_CONV_ALGO");
}
END_TEST

/* ---- the algorithms of each node (clnn__conv_algos through clnn_conv_algo) -----------------
 * With the tuner's forced algorithm a (clnn_ctx's conv_algo_force = a + 1, what the tuner sets
 * while it measures), every convolution node runs a where it can, else what the rules choose:
 * so clnn_conv_algo(node) == a exactly for the algorithms clnn__conv_algos marks valid. Each
 * shape lists the valid ones of its three nodes (the forward op, its data gradient, its weight
 * gradient) as bit masks, and each forced run is checked against the reference, forward and
 * gradients (an invalid choice must fall back to a correct one). $CLNN_CONV_ALGO overrides the
 * forced (tuned) choice. */
typedef struct algo_case {
    gc_case c;
    unsigned valid[3]; /* y's node, x's gradient's, w's gradient's: bit a = algorithm a */
} algo_case;

#define A(a) (1u << (a))
// clang-format off
static const algo_case algo_cases[] = {
    /* 3x3 stride 1 pad 1: conv2d everything but the weight-gradient rows, data gradient
     * GEMM, direct, Winograd; weight gradient GEMM, direct, rows */
    {CASE("algos: conv2d 3x3 pad 1 (2,4,6,5)*(5,4,3,3)+b", CONV(1, .pad_h = 1, .pad_w = 1),
          P(2, 4, 6, 5), P(5, 4, 3, 3), P(5)),
     {A(0) | A(1) | A(3) | A(4), A(0) | A(1) | A(4), A(0) | A(1) | A(2)}},
    /* stride 2: the data gradient is no convolution */
    {CASE("algos: conv2d 3x3 stride 2 (2,3,7,6)*(4,3,3,3)", CONV(0, .stride_h = 2, .stride_w = 2,
          .pad_h = 1, .pad_w = 1), P(2, 3, 7, 6), P(4, 3, 3, 3)),
     {A(0) | A(1), A(0), A(0) | A(1)}},
    /* 1x1, dilation 2 and groups 2: no Winograd */
    {CASE("algos: conv2d 1x1 (2,6,4,5)*(3,6,1,1)+b", CONV(1), P(2, 6, 4, 5), P(3, 6, 1, 1), P(3)),
     {A(0) | A(1) | A(3), A(0) | A(1), A(0) | A(1) | A(2)}},
    {CASE("algos: conv2d dilation 2 (1,2,8,7)*(3,2,3,3)", CONV(0, .dil_h = 2, .dil_w = 2,
          .pad_h = 1), P(1, 2, 8, 7), P(3, 2, 3, 3)),
     {A(0) | A(1) | A(3), A(0) | A(1), A(0) | A(1) | A(2)}},
    {CASE("algos: conv2d groups 2 (2,4,5,6)*(4,2,3,3)+b", CONV(1, .groups = 2, .pad_w = 1),
          P(2, 4, 5, 6), P(4, 2, 3, 3), P(4)),
     {A(0) | A(1) | A(3), A(0) | A(1), A(0) | A(1) | A(2)}},
    /* conv2d_transpose stride 1: its input gradient is a conv2d */
    {CASE("algos: conv2d_transpose 3x3 (2,3,4,5)*(3,4,3,3)+b", CONVT(1, .pad_h = 1),
          P(2, 3, 4, 5), P(3, 4, 3, 3), P(4)),
     {A(0) | A(1) | A(4), A(0) | A(1) | A(3) | A(4), A(0) | A(1) | A(2)}},
};
// clang-format on

START_TEST(test_algos)
{
    const algo_case *ac = &algo_cases[_i];
    const conv_cfg *p = ac->c.cfg;
    unsetenv("CLNN_CONV_ALGO");
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *in[3];
    for (int i = 0; i < ac->c.ninputs; i++)
        in[i] = clnn_param(g, i ? "w" : "x", ac->c.in[i].ndim, ac->c.in[i].shape);
    clnn_tensor *y = build_conv(g, in, p);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, y, 0, NULL, 0)), CLNN_OK);
    clnn_tensor *nodes[3] = {y, clnn_tensor_grad(in[0]), clnn_tensor_grad(in[1])};
    for (int j = 0; j < 3; j++)
        ck_assert_msg(nodes[j] && clnn_conv_algo(nodes[j]) >= 0, "node %d: not a convolution", j);
    if (ac->c.ninputs > 2) /* the bias gradient: a sum, not a convolution */
        ck_assert_int_eq(clnn_conv_algo(clnn_tensor_grad(in[2])), -1);
    for (int a = 0; a < CLNN_CONV_ALGO_COUNT; a++) {
        ctx->conv_algo_force = a + 1;
        for (int j = 0; j < 3; j++) {
            int got = clnn_conv_algo(nodes[j]), valid = (ac->valid[j] >> a) & 1;
            ck_assert_msg(valid ? got == a : got != a && got >= 0 && (ac->valid[j] >> got & 1),
                          "%s: node %d with algorithm %d forced runs %d (valid: 0x%x)", ac->c.name,
                          j, a, got, ac->valid[j]);
        }
        char msg[1024];
        ck_assert_msg(gc_check(ctx, &ac->c, msg, sizeof msg), "%s, algorithm %d forced: %s",
                      ac->c.name, a, msg);
    }
    /* $CLNN_CONV_ALGO comes before the tuned choice (deterministic tests): gemm everywhere */
    ctx->conv_algo_force = 4 + 1;
    setenv("CLNN_CONV_ALGO", "gemm", 1);
    for (int j = 0; j < 3; j++)
        ck_assert_int_eq(clnn_conv_algo(nodes[j]), 0);
    unsetenv("CLNN_CONV_ALGO");
    ctx->conv_algo_force = 0;
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- error paths ---------------------------------------------------------------------------- */
#define T   GC_T
#define I32 GC_I32
/* options in field order: stride, pad, padding mode, dilation, groups, output_pad */
#define OPTS(sh, sw, ph, pw, mode, dh, dw, groups, oph, opw)                                       \
    (&(const clnn_conv2d_options){sh, sw, ph, pw, mode, dh, dw, groups, oph, opw})

typedef gc_err_case err_case;

// clang-format off
#define ERR_BUILDER(fn, expr) static clnn_tensor *fn(clnn_graph *g) { return expr; }
ERR_BUILDER(x_3d, clnn_conv2d(g, T(2, 3, 4), T(4, 3, 3, 3), NULL, NULL))
ERR_BUILDER(w_2d, clnn_conv2d(g, T(1, 3, 5, 5), T(4, 27), NULL, NULL))
ERR_BUILDER(channels, clnn_conv2d(g, T(1, 3, 5, 5), T(4, 2, 3, 3), NULL, NULL))
ERR_BUILDER(groups_k, clnn_conv2d(g, T(1, 4, 5, 5), T(3, 2, 3, 3), NULL, OPTS(1, 1, 0, 0, 0, 1, 1, 2, 0, 0)))
ERR_BUILDER(groups_c, clnn_conv2d(g, T(1, 3, 5, 5), T(4, 1, 3, 3), NULL, OPTS(1, 1, 0, 0, 0, 1, 1, 2, 0, 0)))
ERR_BUILDER(bias_shape, clnn_conv2d(g, T(1, 3, 5, 5), T(4, 3, 3, 3), T(5), NULL))
ERR_BUILDER(bias_2d, clnn_conv2d(g, T(1, 3, 5, 5), T(4, 3, 3, 3), T(4, 1), NULL))
ERR_BUILDER(too_small, clnn_conv2d(g, T(1, 1, 2, 2), T(1, 1, 3, 3), NULL, NULL))
ERR_BUILDER(dilated_too_small, clnn_conv2d(g, T(1, 1, 4, 9), T(1, 1, 3, 3), NULL,
                                           OPTS(1, 1, 0, 0, 0, 2, 1, 1, 0, 0)))
ERR_BUILDER(stride_0, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL, OPTS(1, 0, 0, 0, 0, 1, 1, 1, 0, 0)))
ERR_BUILDER(dilation_0, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL,
                                    OPTS(1, 1, 0, 0, 0, 0, 1, 1, 0, 0)))
ERR_BUILDER(groups_0, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL, OPTS(1, 1, 0, 0, 0, 1, 1, 0, 0, 0)))
ERR_BUILDER(pad_neg, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL, OPTS(1, 1, -1, 0, 0, 1, 1, 1, 0, 0)))
ERR_BUILDER(mode_bad, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL,
                                  OPTS(1, 1, 0, 0, (clnn_padding_mode)7, 1, 1, 1, 0, 0)))
ERR_BUILDER(same_with_pad, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL,
                                       OPTS(1, 1, 0, 2, CLNN_PADDING_SAME, 1, 1, 1, 0, 0)))
ERR_BUILDER(t_valid_with_pad, clnn_conv2d_transpose(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL,
                                              OPTS(1, 1, 1, 0, CLNN_PADDING_VALID, 1, 1, 1, 0, 0)))
ERR_BUILDER(conv_out_pad, clnn_conv2d(g, T(1, 1, 5, 5), T(1, 1, 3, 3), NULL,
                                      OPTS(1, 1, 0, 0, 0, 1, 1, 1, 1, 0)))
ERR_BUILDER(x_null, clnn_conv2d(g, NULL, T(1, 1, 3, 3), NULL, NULL))
ERR_BUILDER(w_null, clnn_conv2d_transpose(g, T(1, 1, 3, 3), NULL, NULL, NULL))
ERR_BUILDER(x_i32, clnn_conv2d(g, I32(1, 1, 5, 5), T(1, 1, 3, 3), NULL, NULL))
ERR_BUILDER(t_rows, clnn_conv2d_transpose(g, T(1, 3, 4, 4), T(2, 3, 3, 3), NULL, NULL))
ERR_BUILDER(t_groups, clnn_conv2d_transpose(g, T(1, 3, 4, 4), T(3, 2, 3, 3), NULL,
                                            OPTS(1, 1, 0, 0, 0, 1, 1, 2, 0, 0)))
ERR_BUILDER(t_bias, clnn_conv2d_transpose(g, T(1, 3, 4, 4), T(3, 2, 3, 3), T(3), NULL))
ERR_BUILDER(t_out_pad, clnn_conv2d_transpose(g, T(1, 3, 4, 4), T(3, 2, 3, 3), NULL,
                                             OPTS(2, 1, 0, 0, 0, 1, 1, 1, 2, 0)))
ERR_BUILDER(t_out_pad_same, clnn_conv2d_transpose(g, T(1, 3, 4, 4), T(3, 2, 3, 3), NULL,
                                                  OPTS(2, 1, 0, 0, CLNN_PADDING_SAME, 1, 1, 1, 1, 0)))
ERR_BUILDER(t_empty, clnn_conv2d_transpose(g, T(1, 1, 1, 1), T(1, 1, 1, 1), NULL,
                                           OPTS(1, 1, 1, 0, 0, 1, 1, 1, 0, 0)))

static const err_case error_cases[] = {
    {"conv2d x 3-D", x_3d, CLNN_ERR_SHAPE, {"conv2d", "(2, 3, 4)", "4-D"}},
    {"conv2d w 2-D", w_2d, CLNN_ERR_SHAPE, {"conv2d", "(4, 27)"}},
    {"conv2d channels 3 vs 2", channels, CLNN_ERR_SHAPE, {"conv2d", "(4, 2, 3, 3)", "(1, 3, 5, 5)"}},
    {"conv2d groups 2, K 3", groups_k, CLNN_ERR_SHAPE, {"conv2d", "groups = 2", "(3, 2, 3, 3)"}},
    {"conv2d groups 2, C 3", groups_c, CLNN_ERR_SHAPE, {"conv2d", "groups = 2", "(1, 3, 5, 5)"}},
    {"conv2d bias (5,) for K 4", bias_shape, CLNN_ERR_SHAPE, {"conv2d", "bias", "(4,)", "(5,)"}},
    {"conv2d bias (4,1)", bias_2d, CLNN_ERR_SHAPE, {"conv2d", "bias", "(4, 1)"}},
    {"conv2d kernel 3 on 2x2", too_small, CLNN_ERR_SHAPE, {"conv2d", "(1, 1, 2, 2)", "no output"}},
    {"conv2d dilated kernel 5 on 4 rows", dilated_too_small, CLNN_ERR_SHAPE,
     {"conv2d", "(1, 1, 4, 9)", "dilated (2, 1)"}},
    {"conv2d stride 0", stride_0, CLNN_ERR_INVALID, {"conv2d", "stride", "(1, 0)"}},
    {"conv2d dilation 0", dilation_0, CLNN_ERR_INVALID, {"conv2d", "dilation", "(0, 1)"}},
    {"conv2d groups 0", groups_0, CLNN_ERR_INVALID, {"conv2d", "groups >= 1"}},
    {"conv2d pad -1", pad_neg, CLNN_ERR_INVALID, {"conv2d", "pad", "(-1, 0)"}},
    {"conv2d padding mode 7", mode_bad, CLNN_ERR_INVALID, {"conv2d", "padding mode 7"}},
    {"conv2d same with pad", same_with_pad, CLNN_ERR_INVALID, {"conv2d", "pad_h", "(0, 2)"}},
    {"conv2d_transpose valid with pad", t_valid_with_pad, CLNN_ERR_INVALID,
     {"conv2d_transpose", "EXPLICIT", "(1, 0)"}},
    {"conv2d output_pad", conv_out_pad, CLNN_ERR_INVALID, {"conv2d", "output_pad", "(1, 0)"}},
    {"conv2d NULL x", x_null, CLNN_ERR_INVALID, {"conv2d", "NULL"}},
    {"conv2d_transpose NULL w", w_null, CLNN_ERR_INVALID, {"conv2d_transpose", "NULL"}},
    {"conv2d i32 x", x_i32, CLNN_ERR_INVALID, {"conv2d", "f32"}},
    {"conv2d_transpose rows 2 vs channels 3", t_rows, CLNN_ERR_SHAPE,
     {"conv2d_transpose", "(2, 3, 3, 3)", "(1, 3, 4, 4)"}},
    {"conv2d_transpose groups 2, C_in 3", t_groups, CLNN_ERR_SHAPE,
     {"conv2d_transpose", "groups = 2"}},
    {"conv2d_transpose bias (3,) for C_out 2", t_bias, CLNN_ERR_SHAPE,
     {"conv2d_transpose", "bias", "(2,)", "(3,)"}},
    {"conv2d_transpose output_pad 2 >= stride 2", t_out_pad, CLNN_ERR_INVALID,
     {"conv2d_transpose", "output_pad", "(2, 0)", "stride (2, 1)"}},
    {"conv2d_transpose output_pad with same", t_out_pad_same, CLNN_ERR_INVALID,
     {"conv2d_transpose", "output_pad", "EXPLICIT"}},
    {"conv2d_transpose empty output", t_empty, CLNN_ERR_SHAPE,
     {"conv2d_transpose", "no output", "(1, 1, 1, 1)"}},
};
// clang-format on

START_TEST(test_error)
{
    gc_run_err_case(&error_cases[_i]);
}
END_TEST

/* options NULL means the defaults: stride 1, no padding, dilation 1, one group */
START_TEST(test_options_defaults)
{
    clnn_conv2d_options o;
    memset(&o, 0x5a, sizeof o);
    clnn_conv2d_options_init(&o);
    ck_assert(o.stride_h == 1 && o.stride_w == 1 && o.pad_h == 0 && o.pad_w == 0);
    ck_assert(o.padding == CLNN_PADDING_EXPLICIT && o.dilation_h == 1 && o.dilation_w == 1);
    ck_assert(o.groups == 1 && o.output_pad_h == 0 && o.output_pad_w == 0);
    clnn_conv2d_options_init(NULL); /* a no-op */
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *y = clnn_conv2d(g, T(2, 3, 7, 6), T(4, 3, 3, 2), NULL, NULL);
    clnn_tensor *t = clnn_conv2d_transpose(g, T(2, 3, 7, 6), T(3, 4, 3, 2), NULL, NULL);
    ck_assert_msg(y && t, "%s", clnn_graph_last_error(g));
    int64_t want_y[4] = {2, 4, 5, 5}, want_t[4] = {2, 4, 9, 7};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(clnn_tensor_dim(y, i), want_y[i]);
        ck_assert_int_eq(clnn_tensor_dim(t, i), want_t[i]);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* The plan is made at every run: when a tunable changes between runs (here from chunks of one
 * sample to the whole batch, a split GEMM, the direct kernels, back, then Winograd in chunks of
 * one sample and of the whole batch), the scratch buffer grows
 * and the results stay right. x: (3, 2, 6, 5), w: (4, 2, 3, 3), pad 1 -> y: (3, 4, 6, 5), and dw.
 */
START_TEST(test_plan_change)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    ref_shape sx = {4, {3, 2, 6, 5}}, sw = {4, {4, 2, 3, 3}}, sy;
    clnn_tensor *x = clnn_input(g, "x", 4, sx.dims), *w = clnn_param(g, "w", 4, sw.dims);
    clnn_conv2d_options o;
    clnn_conv2d_options_init(&o);
    o.pad_h = o.pad_w = 1;
    clnn_tensor *y = clnn_conv2d(g, x, w, NULL, &o);
    ck_assert_int_eq(clnn_graph_backward(g, clnn_sum(g, y, 0, NULL, 0)), CLNN_OK);
    clnn_graph_keep(g, y);
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash("plan change"));
    float hx[180], hw[72], got[360], dw[72];
    double dx_[180], dw_[72], want[360], wantdw[72] = {0};
    gc_rng_fill(&rng, hx, 180, -1, 1, 0);
    gc_rng_fill(&rng, hw, 72, -1, 1, 0);
    for (int i = 0; i < 180; i++)
        dx_[i] = hx[i];
    for (int i = 0; i < 72; i++)
        dw_[i] = hw[i];
    const ref_conv_cfg c = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, ONES};
    ck_assert(ref_conv2d(dx_, &sx, dw_, &sw, NULL, NULL, &c, want, &sy));
    /* d sum(y) / d w[k, c, r, s] = sum of x over the window positions of tap (r, s) */
    for (int k = 0; k < 4; k++)
        for (int ci = 0; ci < 2; ci++)
            for (int r = 0; r < 3; r++)
                for (int s = 0; s < 3; s++)
                    for (int n = 0; n < 3; n++)
                        for (int oh = 0; oh < 6; oh++)
                            for (int ow = 0; ow < 5; ow++) {
                                int ih = oh - 1 + r, iw = ow - 1 + s;
                                if (ih >= 0 && ih < 6 && iw >= 0 && iw < 5)
                                    wantdw[((k * 2 + ci) * 3 + r) * 3 + s] +=
                                        dx_[((n * 2 + ci) * 6 + ih) * 5 + iw];
                            }
    ck_assert_int_eq(clnn_tensor_write(x, hx, sizeof hx), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(w, hw, sizeof hw), CLNN_OK);
    /* and the algorithm: the direct and Winograd kernels use other kernel slots and scratch */
    const char *budgets[7] = {"1", NULL, "1", "1", NULL, "1", NULL};
    const char *splits[7] = {NULL, "7", NULL, NULL, "7", NULL, NULL};
    const char *algos[7] = {"gemm", "gemm", "direct", "direct", "gemm", "winograd", "winograd"};
    for (int run = 0; run < 7; run++) {
        setenv("CLNN_CONV_ALGO", algos[run], 1);
        if (budgets[run])
            setenv("CLNN_CONV_SCRATCH_BYTES", budgets[run], 1);
        else
            unsetenv("CLNN_CONV_SCRATCH_BYTES");
        if (splits[run])
            setenv("CLNN_CONV_SPLIT", splits[run], 1);
        else
            unsetenv("CLNN_CONV_SPLIT");
        ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s", clnn_ctx_last_error(ctx));
        ck_assert_int_eq(clnn_tensor_read(y, got, sizeof got), CLNN_OK);
        ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(w), dw, sizeof dw), CLNN_OK);
        char msg[768];
        ck_assert_msg(gc_compare("y", got, want, &sy, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg),
                      "run %d: %s", run, msg);
        ck_assert_msg(gc_compare("dw", dw, wantdw, &sw, GC_FWD_RTOL, GC_FWD_ATOL, msg, sizeof msg),
                      "run %d: %s", run, msg);
    }
    unsetenv("CLNN_CONV_SCRATCH_BYTES");
    unsetenv("CLNN_CONV_SPLIT");
    unsetenv("CLNN_CONV_ALGO");
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

/* ---- golden values from PyTorch (tests/golden/conv.txt) ------------------------------------- */
static const char *const golden_names[] = {
    "conv2d_odd",
    "conv2d_stride2_pad1",
    "conv2d_dilation2",
    "conv2d_groups2",
    "conv2d_depthwise",
    "conv2d_nobias_rect",
    "conv2d_same_stride2",
    "conv2d_valid_stride2",
    "conv_transpose_s2_op1",
    "conv_transpose_groups",
    "conv_transpose_same_s2",
    "conv_transpose_valid_s3",
};

START_TEST(test_golden)
{
    char err[512], msg[1024];
    golden_file *f = golden_load("conv", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    const golden_case *gc = golden_case_get(f, golden_names[_i]);
    ck_assert_msg(gc, "case '%s' is missing from conv.txt", golden_names[_i]);
    int transpose = golden_int(gc, "transpose", 0, -1), bias = golden_int(gc, "bias", 0, -1);
    ck_assert(transpose >= 0 && bias >= 0);
    clnn_conv2d_options o;
    clnn_conv2d_options_init(&o);
    o.stride_h = golden_int(gc, "stride", 0, 1);
    o.stride_w = golden_int(gc, "stride", 1, 1);
    o.pad_h = golden_int(gc, "pad", 0, 0);
    o.pad_w = golden_int(gc, "pad", 1, 0);
    o.padding = (clnn_padding_mode)golden_int(gc, "padding", 0, 0);
    o.dilation_h = golden_int(gc, "dilation", 0, 1);
    o.dilation_w = golden_int(gc, "dilation", 1, 1);
    o.groups = golden_int(gc, "groups", 0, 1);
    o.output_pad_h = golden_int(gc, "output_pad", 0, 0);
    o.output_pad_w = golden_int(gc, "output_pad", 1, 0);
    const char *keys[3] = {"x", "w", "b"};
    const golden_tensor *gt[3];
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *in[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 2 + bias; i++) {
        gt[i] = golden_tensor_get(gc, keys[i]);
        ck_assert_msg(gt[i], "%s: no tensor %s", golden_names[_i], keys[i]);
        in[i] = clnn_param(g, keys[i], gt[i]->ndim, gt[i]->shape);
    }
    const golden_tensor *gr = golden_tensor_get(gc, "r"), *gy = golden_tensor_get(gc, "y");
    ck_assert(gr && gy);
    clnn_tensor *y = transpose ? clnn_conv2d_transpose(g, in[0], in[1], in[2], &o)
                               : clnn_conv2d(g, in[0], in[1], in[2], &o);
    clnn_tensor *r = clnn_input(g, "r", gr->ndim, gr->shape);
    clnn_tensor *loss = clnn_sum(g, clnn_mul(g, y, r), 0, NULL, 0);
    ck_assert_msg(loss, "%s: %s", golden_names[_i], clnn_graph_last_error(g));
    clnn_graph_keep(g, y);
    ck_assert_int_eq(clnn_graph_backward(g, loss), CLNN_OK);
    for (int i = 0; i < 2 + bias; i++)
        ck_assert_int_eq(golden_write(in[i], gt[i]), 0);
    ck_assert_int_eq(golden_write(r, gr), 0);
    ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s", clnn_ctx_last_error(ctx));
    ck_assert_msg(golden_check("y", y, gy, 1e-5, 1e-6, msg, sizeof msg), "%s: %s", golden_names[_i],
                  msg);
    for (int i = 0; i < 2 + bias; i++) {
        char key[8];
        snprintf(key, sizeof key, "d%s", keys[i]);
        ck_assert_msg(golden_check(key, clnn_tensor_grad(in[i]), golden_tensor_get(gc, key), 1e-4,
                                   1e-6, msg, sizeof msg),
                      "%s: %s", golden_names[_i], msg);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    golden_free(f);
}
END_TEST

/* every case of conv.txt is run by test_golden */
START_TEST(test_golden_complete)
{
    char err[512];
    golden_file *f = golden_load("conv", err, sizeof err);
    ck_assert_msg(f, "%s", err);
    ck_assert_int_eq(f->ncases, GC_COUNT(golden_names));
    golden_free(f);
}
END_TEST

/* Case names seed the random numbers and name failures, so each must be unique. */
START_TEST(test_case_names_unique)
{
    const gc_case *const tables[] = {conv_cases, transpose_cases, chunk_cases, composite_cases,
                                     direct_cases};
    const int counts[] = {GC_COUNT(conv_cases), GC_COUNT(transpose_cases), GC_COUNT(chunk_cases),
                          GC_COUNT(composite_cases), GC_COUNT(direct_cases)};
    gc_assert_unique_names(tables, counts, GC_COUNT(tables));
}
END_TEST

/* ---- large 3x3 pad-1 convolutions against host sums ----------------------------------------
 * loss = sum(conv(x, w) * r): y = conv(x, w), dx = conv_transpose(r, w), dw[k, c] = sum r x. */
static double unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * 0x1.0p-53 - 0.5;
}

typedef struct big_conv {
    int64_t N, C, K, H, W;
    float *x, *w, *r;   /* inputs: (N, C, H, W), (K, C, 3, 3), (N, K, H, W) */
    float *y, *dx, *dw; /* results read back (NULL: not wanted; dw NULL: w not a parameter) */
} big_conv;

/* Runs the graph of c on a new context with the algorithm $CLNN_CONV_ALGO says. */
static void big_conv_run(const big_conv *c)
{
    const int64_t nx = c->N * c->C * c->H * c->W, nw = c->K * c->C * 9;
    const int64_t ny = c->N * c->K * c->H * c->W;
    clnn_ctx *ctx = gc_ctx_create();
    clnn_tensor *tx, *tw;
    ck_assert_int_eq(clnn_tensor_create(ctx, CLNN_F32, 4, (int64_t[]){c->N, c->C, c->H, c->W}, &tx),
                     CLNN_OK);
    ck_assert_int_eq(clnn_tensor_create(ctx, CLNN_F32, 4, (int64_t[]){c->K, c->C, 3, 3}, &tw),
                     CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(tx, c->x, (size_t)nx * 4), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(tw, c->w, (size_t)nw * 4), CLNN_OK);
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_conv2d_options o;
    clnn_conv2d_options_init(&o);
    o.pad_h = o.pad_w = 1;
    clnn_tensor *bx = clnn_graph_bind(g, tx, 1), *bw = clnn_graph_bind(g, tw, c->dw != NULL);
    clnn_tensor *tr = clnn_input(g, "r", 4, (int64_t[]){c->N, c->K, c->H, c->W});
    clnn_tensor *ty = clnn_conv2d(g, bx, bw, NULL, &o);
    clnn_tensor *loss = clnn_sum(g, clnn_mul(g, ty, tr), 0, NULL, 0);
    if (c->y)
        ck_assert_ptr_nonnull(clnn_graph_keep(g, ty));
    ck_assert_int_eq(clnn_graph_backward(g, loss), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_write(tr, c->r, (size_t)ny * 4), CLNN_OK);
    ck_assert_msg(clnn_graph_run(g) == CLNN_OK, "%s", clnn_ctx_last_error(ctx));
    if (c->y)
        ck_assert_int_eq(clnn_tensor_read(ty, c->y, (size_t)ny * 4), CLNN_OK);
    ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(bx), c->dx, (size_t)nx * 4), CLNN_OK);
    if (c->dw)
        ck_assert_int_eq(clnn_tensor_read(clnn_tensor_grad(bw), c->dw, (size_t)nw * 4), CLNN_OK);
    clnn_graph_destroy(g);
    clnn_tensor_destroy(tx);
    clnn_tensor_destroy(tw);
    clnn_ctx_destroy(ctx);
}

/* The input of c at (n, ch, h, v), 0 in the padding */
static double big_x(const big_conv *c, int64_t n, int64_t ch, int64_t h, int64_t v)
{
    if (h < 0 || h >= c->H || v < 0 || v >= c->W)
        return 0.0;
    return (double)c->x[((n * c->C + ch) * c->H + h) * c->W + v];
}

/* Checks `count` random entries of y (what 0), of dx (what 1) or every entry of dw (what 2, count
 * unused) against double-precision sums: |got - want| <= tol * sum |terms| + 1e-6. */
static void big_conv_check(const big_conv *c, int what, int count, double tol, uint64_t *seed,
                           const char *label)
{
    static const char *const names[3] = {"y", "dx", "dw"};
    const int64_t C = c->C, K = c->K, H = c->H, W = c->W;
    const int64_t total = what == 0 ? c->N * K * H * W : what == 1 ? c->N * C * H * W : K * C * 9;
    const float *got = what == 0 ? c->y : what == 1 ? c->dx : c->dw;
    for (int t = 0; t < (what == 2 ? (int)total : count); t++) {
        const int64_t i = what == 2 ? t : (int64_t)((unit(seed) + 0.5) * (double)total) % total;
        double want = 0, scale = 0;
        if (what == 0) { /* y[n, k, oh, ow] = sum_c,a,b x[n, c, oh + a - 1, ow + b - 1] w */
            const int64_t n = i / (K * H * W), k = i / (H * W) % K, oh = i / W % H, ow = i % W;
            for (int64_t ch = 0; ch < C; ch++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) {
                        double term = big_x(c, n, ch, oh + a - 1, ow + b - 1) *
                                      c->w[((k * C + ch) * 3 + a) * 3 + b];
                        want += term;
                        scale += fabs(term);
                    }
        } else if (what == 1) { /* dx[n, c, ih, iw] = sum_k,a,b r[n, k, ih - a + 1, ..] w */
            const int64_t n = i / (C * H * W), ch = i / (H * W) % C, ih = i / W % H, iw = i % W;
            for (int64_t k = 0; k < K; k++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) {
                        const int64_t oh = ih - a + 1, ow = iw - b + 1;
                        if (oh < 0 || oh >= H || ow < 0 || ow >= W)
                            continue;
                        double term = (double)c->r[((n * K + k) * H + oh) * W + ow] *
                                      (double)c->w[((k * C + ch) * 3 + a) * 3 + b];
                        want += term;
                        scale += fabs(term);
                    }
        } else { /* dw[k, c, a, b] = sum_n,oh,ow r[n, k, oh, ow] x[n, c, oh + a - 1, ow + b - 1] */
            const int64_t k = i / (C * 9), ch = i / 9 % C, a = i / 3 % 3, b = i % 3;
            for (int64_t n = 0; n < c->N; n++)
                for (int64_t oh = 0; oh < H; oh++)
                    for (int64_t ow = 0; ow < W; ow++) {
                        double term = (double)c->r[((n * K + k) * H + oh) * W + ow] *
                                      big_x(c, n, ch, oh + a - 1, ow + b - 1);
                        want += term;
                        scale += fabs(term);
                    }
        }
        ck_assert_msg(fabs((double)got[i] - want) <= tol * scale + 1e-6,
                      "%s, x (%lld,%lld,%lld,%lld), w (%lld,%lld,3,3): %s at %lld: got %.7g, "
                      "expected %.7g",
                      label, (long long)c->N, (long long)C, (long long)H, (long long)W,
                      (long long)K, (long long)C, names[what], (long long)i, (double)got[i], want);
    }
}

/* Fills x, w (scaled by w_scale) and r of c with seeded values in [-0.5, 0.5). */
static void big_conv_fill(big_conv *c, uint64_t *seed, double w_scale)
{
    const int64_t nx = c->N * c->C * c->H * c->W, nw = c->K * c->C * 9;
    const int64_t ny = c->N * c->K * c->H * c->W;
    c->x = malloc((size_t)nx * 4);
    c->w = malloc((size_t)nw * 4);
    c->r = malloc((size_t)ny * 4);
    c->dx = malloc((size_t)nx * 4);
    ck_assert(c->x && c->w && c->r && c->dx);
    for (int64_t i = 0; i < nx; i++)
        c->x[i] = (float)unit(seed);
    for (int64_t i = 0; i < nw; i++)
        c->w[i] = (float)(unit(seed) * w_scale);
    for (int64_t i = 0; i < ny; i++)
        c->r[i] = (float)unit(seed);
}

static void big_conv_free(big_conv *c)
{
    free(c->x);
    free(c->w);
    free(c->r);
    free(c->y);
    free(c->dx);
    free(c->dw);
}

/* Input gradients of 3x3 pad-1 convolutions with 128 channels, where the split-N GEMM of
 * conv2d_bwd_input (columns in blocks) once ran as one strided-batched CLBlast call with A
 * shared, which Debian's CLBlast 1.5.3 computes wrongly for these shapes (garbage or NaN). 400
 * entries of dx are checked. */
START_TEST(test_bwd_input_large)
{
    /* loop index: the shape (even, odd), then the algorithm: im2col + GEMM, direct, Winograd */
    const int small = _i % 2 == 0;
    const char *algo = _i < 2 ? "gemm" : _i < 4 ? "direct" : "winograd";
    setenv("CLNN_CONV_ALGO", algo, 1);
    big_conv c = {.N = small ? 16 : 8, .C = 128, .K = 128, .H = small ? 16 : 28};
    c.W = c.H;
    uint64_t seed = 7;
    big_conv_fill(&c, &seed, 0.1);
    big_conv_run(&c);
    big_conv_check(&c, 1, 400, 1e-4, &seed, algo);
    big_conv_free(&c);
    unsetenv("CLNN_CONV_ALGO");
}
END_TEST

/* A batch of 1000 one-channel 8x8 images (3x3, pad 1, 2 filters): 4,000 tile rows in one
 * Winograd block and 1,000+ work-items along the direct kernels' first dimension. POCL once
 * crashed here (a work-group of 4,000 winograd_input items overflowed its thread stack:
 * CPU_LOCAL_MAX in conv_kernels.c). Loop index: im2col + GEMM, direct, Winograd; y and dx are
 * checked at 400 entries each, dw whole. */
START_TEST(test_many_tile_rows)
{
    static const char *const algos[3] = {"gemm", "direct", "winograd"};
    setenv("CLNN_CONV_ALGO", algos[_i], 1);
    big_conv c = {.N = 1000, .C = 1, .K = 2, .H = 8, .W = 8};
    uint64_t seed = 11;
    big_conv_fill(&c, &seed, 1.0);
    c.y = malloc((size_t)(c.N * c.K * c.H * c.W) * 4);
    c.dw = malloc((size_t)(c.K * c.C * 9) * 4);
    ck_assert(c.y && c.dw);
    big_conv_run(&c);
    for (int what = 0; what < 3; what++)
        big_conv_check(&c, what, 400, 1e-5, &seed, algos[_i]);
    big_conv_free(&c);
    unsetenv("CLNN_CONV_ALGO");
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("ops_conv");
    wino_pick();
    const gc_loop loops[] = {
        {"conv2d", test_conv, GC_COUNT(conv_cases)},
        {"conv2d_transpose", test_transpose, GC_COUNT(transpose_cases)},
        {"chunks", test_chunks, GC_COUNT(chunk_cases)},
        {"composite", test_composite, GC_COUNT(composite_cases)},
        {"errors", test_error, GC_COUNT(error_cases)},
        {"golden", test_golden, GC_COUNT(golden_names)},
        {"conv2d direct", test_conv_direct, GC_COUNT(conv_cases)},
        {"conv2d_transpose direct", test_transpose_direct, GC_COUNT(transpose_cases)},
        {"direct", test_direct, GC_COUNT(direct_cases)},
        {"winograd", test_winograd, wino_count},
        {"algorithms", test_algos, GC_COUNT(algo_cases)},
    };
    TCase *tc[GC_COUNT(loops)];
    gc_add_loops(s, loops, GC_COUNT(loops), tc);
    tcase_add_test(tc[0], test_case_names_unique); /* conv2d */
    tcase_add_test(tc[0], test_options_defaults);
    tcase_add_test(tc[0], test_default_choice);
    tcase_add_test(tc[0], test_rules);
    tcase_add_test(tc[2], test_scratch_limit); /* chunks */
    tcase_add_test(tc[2], test_plan_change);   /* chunks */
    tcase_add_loop_test(tc[2], test_bwd_input_large, 0, 6);
    tcase_add_loop_test(tc[2], test_many_tile_rows, 0, 3);
    tcase_add_test(tc[5], test_golden_complete); /* golden */
    tcase_add_test(tc[9], test_winograd_picked); /* winograd */
    tcase_add_loop_test(tc[9], test_conv_act, 0, 20);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
