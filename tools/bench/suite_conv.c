/* suite_conv.c — clnn-bench's `conv` suite: the three passes of a convolution layer timed
 * separately, forward (y = conv2d(x, w) + bias), backward-data (dx) and backward-weights (dw), for
 * the MNIST CNN's two convolutions and ResNet-style 3x3 and 1x1 layers (one with stride 2).
 * One graph per layer through the public API: x and w are parameters, the bias an input, loss =
 * sum(y * r) and clnn_graph_backward, so the graph holds exactly one node of each pass (conv2d,
 * conv2d_bwd_input, conv2d_bwd_weight) besides the loss. Its first run is checked against the
 * double-precision host references of ops_ref.c (sampled entries of y, dx and dw); then each
 * timed run is one run of the whole graph in a context with profiling on, and each pass's time is
 * its node's device time from clnn_profile_get (OpenCL events spanning all of the node's kernels
 * and CLBlast GEMMs): direct, where wall-clock differences of graphs (the ops suite's method)
 * would subtract noisy totals. The wall-clock time of the whole run is kept beside it. Rated in
 * GFLOP/s (2 N K C R S H' W' per pass) against the measured FMA peak. Each layer runs with
 * $CLNN_CONV_ALGO = direct and gemm, and the 3x3 stride-1 layers with winograd too (Winograd
 * F(2x2,3x3) runs the forward and data-gradient passes; their weight gradient is the rules'
 * choice). Not here: the host references (ops_ref.c). */
#include "ops.h"

#define CONV_SAMPLES 64 /* sampled entries of y, dx and dw checked */
#define CONV_MAX_OPS 32 /* profile entries read per run */

static const op_case CONV_CASES[] = {
    /* name, kind, batch, --quick batch, C, H, W, K, R, S, pad, input_grad, stride */
    {"mnist conv1 1->32 3x3", OP_CONV, 64, 16, 1, 28, 28, 32, 3, 3, 0, 1, 1},
    {"mnist conv2 32->64 3x3", OP_CONV, 64, 16, 32, 13, 13, 64, 3, 3, 0, 1, 1},
    /* the Keras MNIST CNN's second convolution: no pooling between the two */
    {"mnist conv2 32->64 3x3 26x26", OP_CONV, 128, 16, 32, 26, 26, 64, 3, 3, 0, 1, 1},
    {"resnet 3x3 64->64", OP_CONV, 8, 2, 64, 56, 56, 64, 3, 3, 1, 1, 1},
    {"resnet 3x3 128->128", OP_CONV, 8, 2, 128, 28, 28, 128, 3, 3, 1, 1, 1},
    {"resnet 1x1 64->256", OP_CONV, 8, 2, 64, 56, 56, 256, 1, 1, 0, 1, 1},
    {"resnet 1x1 64->128 s2", OP_CONV, 8, 2, 64, 56, 56, 128, 1, 1, 0, 1, 2},
};
#define NCONV      (sizeof CONV_CASES / sizeof *CONV_CASES)
#define NCONV_WINO 5 /* the cases with 3x3 kernels and stride 1 (conv_case_fits) */
_Static_assert(3 * (2 * NCONV + NCONV_WINO) == CONV_RESULTS, "see bench.h");

/* the algorithms ($CLNN_CONV_ALGO): each case runs on the first two, 3x3 stride-1 cases on all */
#define NALGO 3
static const char *const ALGOS[NALGO] = {"direct", "gemm", "winograd"};
static const char *const ALGO_NAME[NALGO] = {"direct", "im2col+gemm", "winograd"};

/* 1 when algorithm a applies to case c (Winograd: 3x3, stride 1) */
static int conv_case_fits(const op_case *c, int a)
{
    return a < 2 || (c->r == 3 && c->s == 3 && c->stride <= 1);
}

enum { P_FWD, P_DATA, P_WEIGHTS, NPASS };
static const char *const PASS_OP[NPASS] = {"conv2d", "conv2d_bwd_input", "conv2d_bwd_weight"};
static const char *const PASS_NAME[NPASS] = {"fwd", "bwd-data", "bwd-weights"};

typedef struct conv_graph {
    clnn_graph *g;
    clnn_tensor *x, *w, *bias, *r, *y;
} conv_graph;

static void quiet_log(void *user, clnn_log_level level, const char *message)
{
    (void)user, (void)level, (void)message;
}

static void conv_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    char med[24] = "-", min[24] = "-", rate[32] = "-", roof[16], err[16] = "-";
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.3f", r->median_ms);
        snprintf(min, sizeof min, "%.3f", r->min_ms);
    }
    if (r->unit && isfinite(r->rate))
        snprintf(rate, sizeof rate, "%.2f GFLOP/s", r->rate);
    if (isfinite(r->max_rel_err))
        snprintf(err, sizeof err, "%.1e", r->max_rel_err);
    printf("%-46s %-30s %9s %9s %15s %11s  %-28s %s%s\n", r->name, r->shape, med, min, rate,
           fmt_roof(roof, r), r->note, err, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* Builds, writes and runs the layer's graph once and reads y, dx and dw into d. 0 on success;
 * -1 after reporting the failure. */
static int conv_graph_first_run(bench *b, clnn_ctx *ctx, op_data *d, conv_graph *cg)
{
    const op_case *c = d->c;
    const char *what = "clnn_graph_create";
    *cg = (conv_graph){0};
    clnn_ctx_clear_error(ctx);
    clnn_status st = clnn_graph_create(ctx, &cg->g);
    if (!st) {
        clnn_graph *g = cg->g;
        clnn_conv2d_options o;
        clnn_conv2d_options_init(&o);
        o.pad_h = o.pad_w = (int)c->pad;
        o.stride_h = o.stride_w = (int)d->stride;
        cg->x = clnn_param(g, "x", 4, (int64_t[]){d->n, c->c, c->h, c->w});
        cg->w = clnn_param(g, "w", 4, (int64_t[]){c->k, c->c, c->r, c->s});
        cg->bias = clnn_input(g, "bias", 1, &c->k);
        cg->y = clnn_graph_keep(g, clnn_conv2d(g, cg->x, cg->w, cg->bias, &o));
        cg->r = clnn_input(g, "r", 4, (int64_t[]){d->n, c->k, d->oh, d->ow});
        clnn_tensor *loss = clnn_sum(g, clnn_mul(g, cg->y, cg->r), 0, NULL, 0);
        what = "building the graph";
        st = clnn_graph_backward(g, loss);
    }
    size_t f = sizeof(float);
    if (!st) {
        what = "writing the inputs";
        if (!(st = clnn_tensor_write(cg->x, d->x, d->nx * f)) &&
            !(st = clnn_tensor_write(cg->w, d->w, d->nw * f)) &&
            !(st = clnn_tensor_write(cg->bias, d->bias, d->nb * f)))
            st = clnn_tensor_write(cg->r, d->r, d->ny * f);
    }
    if (!st) {
        what = "the first run";
        st = clnn_graph_run(cg->g);
    }
    clnn_tensor *gx = cg->x ? clnn_tensor_grad(cg->x) : NULL;
    clnn_tensor *gw = cg->w ? clnn_tensor_grad(cg->w) : NULL;
    if (!st && (!gx || !gw)) {
        what = "clnn_graph_backward left x or w without a gradient: reading them";
        st = CLNN_ERR_STATE;
    }
    if (!st) {
        what = "reading the results";
        if (!(st = clnn_tensor_read(cg->y, d->y, d->ny * f)) &&
            !(st = clnn_tensor_read(gx, d->gx, d->nx * f)))
            st = clnn_tensor_read(gw, d->gw, d->nw * f);
    }
    if (!st)
        return 0;
    const char *msg =
        cg->g && clnn_graph_status(cg->g) ? clnn_graph_last_error(cg->g) : clnn_ctx_last_error(ctx);
    fprintf(stderr, "clnn-bench: conv %s: %s failed: %s: %s\n", c->name, what, clnn_status_name(st),
            *msg ? msg : clnn_status_text(st));
    b->failures++;
    return -1;
}

/* One timed run: the whole graph once, wall-clock into *wall and each pass's device time into
 * pass_ms. 0 on success. */
static clnn_status conv_timed_run(clnn_ctx *ctx, clnn_graph *g, double *wall, double *pass_ms,
                                  const char **missing)
{
    clnn_profile_entry e[CONV_MAX_OPS];
    size_t n = 0;
    clnn_profile_reset(ctx);
    double t0 = now_ms();
    clnn_status st = clnn_graph_run(g);
    if (!st)
        st = clnn_ctx_finish(ctx);
    *wall = now_ms() - t0;
    if (!st)
        st = clnn_profile_get(ctx, e, CONV_MAX_OPS, &n);
    n = n < CONV_MAX_OPS ? n : CONV_MAX_OPS;
    for (int p = 0; !st && p < NPASS; p++) {
        pass_ms[p] = NAN;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(e[i].op, PASS_OP[p]))
                pass_ms[p] = e[i].total_ms;
        if (isnan(pass_ms[p])) {
            *missing = PASS_OP[p];
            st = CLNN_ERR_STATE;
        }
    }
    return st;
}

static void conv_case_run(bench *b, clnn_ctx *ctx, const op_case *c, int algo, rng *rg)
{
    op_data d;
    conv_graph cg = {0};
    result *res[NPASS];
    double *t = NULL;
    char shape[128], name[56], stride[24] = "";
    int fail = op_data_init(&d, c, b->quick ? c->quick_batch : c->batch, rg);
    if (d.stride > 1)
        snprintf(stride, sizeof stride, " s%lld", (long long)d.stride);
    snprintf(shape, sizeof shape, "x(%lld,%lld,%lld,%lld) w(%lld,%lld,%lld,%lld)%s", (long long)d.n,
             (long long)c->c, (long long)c->h, (long long)c->w, (long long)c->k, (long long)c->c,
             (long long)c->r, (long long)c->s, stride);
    for (int p = 0; p < NPASS; p++) {
        snprintf(name, sizeof name, "%s %s %s", c->name, PASS_NAME[p], ALGO_NAME[algo]);
        res[p] = add_result(b, "conv", name, shape);
        res[p]->max_rel_err = NAN;
    }
    if (fail || !(t = malloc((size_t)(NPASS + 1) * (size_t)b->reps * sizeof *t))) {
        fail_call(b, c->name, CLNN_ERR_NOMEM);
        goto out;
    }
    if (conv_graph_first_run(b, ctx, &d, &cg)) {
        for (int p = 0; p < NPASS; p++)
            conv_row(b, res[p]);
        goto out;
    }
    op_check chk[NPASS] = {{0}};
    ref_forward(&d, rg, CONV_SAMPLES, &chk[P_FWD]);
    ref_conv_grad(&d, rg, CONV_SAMPLES, 0, &chk[P_DATA]);
    ref_conv_grad(&d, rg, CONV_SAMPLES, 1, &chk[P_WEIGHTS]);
    int ok = 1;
    for (int p = 0; p < NPASS; p++) {
        res[p]->max_rel_err = chk[p].err;
        if (!(chk[p].err <= chk[p].tol)) {
            fprintf(stderr, "clnn-bench: FAIL conv %s %s: relative error %.2e > %.2e at %s\n",
                    res[p]->name, shape, chk[p].err, chk[p].tol, chk[p].where);
            b->failures++;
            ok = 0;
        }
    }
    for (int p = 0; p < NPASS && ok; p++)
        res[p]->checked = 1;
    /* one warm-up run, then the timed runs: wall-clock in t[0 .. reps), pass p's device time in
     * t[(p + 1) reps ..] */
    double wall, ms[NPASS];
    const char *missing = NULL;
    clnn_status st = ok ? conv_timed_run(ctx, cg.g, &wall, ms, &missing) : CLNN_OK;
    for (int i = 0; ok && !st && i < b->reps; i++) {
        st = conv_timed_run(ctx, cg.g, &t[i], ms, &missing);
        for (int p = 0; p < NPASS; p++)
            t[(p + 1) * b->reps + i] = ms[p];
    }
    if (st) {
        if (missing)
            fprintf(stderr, "clnn-bench: conv %s: the profile has no '%s' op\n", c->name, missing);
        else
            fprintf(stderr, "clnn-bench: conv %s: a timed run failed: %s: %s\n", c->name,
                    clnn_status_name(st), clnn_ctx_last_error(ctx));
        b->failures++;
        ok = 0;
    }
    double wall_median = ok ? median(t, b->reps) : NAN;
    double flop = 2.0 * (double)d.ny * (double)(c->c * c->r * c->s);
    for (int p = 0; p < NPASS; p++) {
        result *r = res[p];
        if (ok) {
            double *tp = t + (p + 1) * b->reps;
            r->median_ms = median(tp, b->reps);
            r->min_ms = tp[0];
            r->unit = "gflops";
            r->rate = flop / (r->median_ms * 1e6);
            set_roof(b, r, r->rate, 0);
            r->extra_key[0] = "flops", r->extra[0] = flop;
            r->extra_key[1] = "step_wall_ms", r->extra[1] = wall_median;
            snprintf(r->note, sizeof r->note, "best %.2f GFLOP/s", flop / (r->min_ms * 1e6));
            if (p == P_FWD)
                snprintf(r->note, sizeof r->note, "graph run %.2f ms wall", wall_median);
            if (p == P_DATA && algo == 0 && d.stride > 1) /* see op_conv.c's direct_algo */
                snprintf(r->note, sizeof r->note, "strided: im2col+gemm");
            if (p == P_WEIGHTS && algo == 2) /* Winograd has no weight gradient */
                snprintf(r->note, sizeof r->note, "the rules' choice");
        }
        conv_row(b, r);
    }
out:
    clnn_graph_destroy(cg.g);
    op_data_free(&d);
    free(t);
}

void suite_conv(bench *b)
{
    int saved_reps = b->reps;
    b->reps = b->reps_given ? b->reps : b->quick ? 3 : 5;
    clnn_ctx_options opt;
    clnn_ctx_options_init(&opt);
    opt.device = b->device;
    opt.profile = 1;
    opt.log = quiet_log; /* no profile report on stderr when the context is destroyed */
    opt.log_level = CLNN_LOG_ERROR;
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, &opt);
    if (st) {
        fprintf(stderr, "clnn-bench: conv: cannot open the profiling context: %s\n",
                ctx ? clnn_ctx_last_error(ctx) : clnn_status_text(st));
        b->failures++;
        clnn_ctx_destroy(ctx);
        b->reps = saved_reps;
        return;
    }
    if (!b->json) {
        printf("\n== conv: clnn_conv2d forward (fwd), backward-data (bwd-data) and "
               "backward-weights (bwd-weights); reps %d\n"
               "   one graph per layer (conv + loss sum(y * r) + backward); each pass timed by "
               "the device time of its own op\n"
               "   (clnn's per-op profile, one graph run per rep); GFLOP/s of 2 N K C R S H' W', "
               "as %% of the measured %.1f GFLOP/s peak\n",
               b->reps, b->roof.peak_gflops);
        printf("%-46s %-30s %9s %9s %15s %11s  %-28s %s\n", "name", "shape", "median ms", "min ms",
               "rate", "roofline", "note", "max rel err");
    }
    char *saved = getenv("CLNN_CONV_ALGO") ? strdup(getenv("CLNN_CONV_ALGO")) : NULL;
    int wino = 0;
    for (size_t i = 0; i < NCONV; i++)
        wino += conv_case_fits(&CONV_CASES[i], 2);
    if (wino != NCONV_WINO) { /* a table edit without NCONV_WINO's */
        fprintf(stderr, "clnn-bench: conv: %d Winograd cases, NCONV_WINO says %d\n", wino,
                NCONV_WINO);
        b->failures++;
    }
    for (size_t i = 0; i < NCONV; i++)
        for (int a = 0; a < NALGO; a++) {
            if (!conv_case_fits(&CONV_CASES[i], a))
                continue;
            rng rg = {0xbb67ae8584caa73bu + i}; /* the same data for every algorithm */
            setenv("CLNN_CONV_ALGO", ALGOS[a], 1);
            conv_case_run(b, ctx, &CONV_CASES[i], a, &rg);
        }
    if (saved)
        setenv("CLNN_CONV_ALGO", saved, 1);
    else
        unsetenv("CLNN_CONV_ALGO");
    free(saved);
    clnn_ctx_destroy(ctx);
    b->reps = saved_reps;
}
