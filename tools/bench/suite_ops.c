/* suite_ops.c — clnn-bench's `ops` suite: forward and backward of the layers of a CNN at training
 * shapes (the MNIST convolutions, a 3x3 64->64 convolution on 56x56, maxpool, batchnorm in
 * training mode, cross-entropy on logits). Three graphs per case: the op alone (forward), the op
 * with loss = sum(y * r) and its backward (full), and that loss with its backward alone on a
 * tensor shaped like y (loss); backward = full - forward - loss. Convolutions are rated in
 * GFLOP/s against the measured FMA peak (and this machine's SGEMM figures, bench.h), the others
 * in GB/s of compulsory traffic against the measured copy bandwidth and the host copy. Each case's
 * full graph is also run in a second context with profiling on, for a per-op breakdown of device
 * time that the timed runs do not pay for. An op the library cannot build yet is reported as
 * unavailable, not as a failure. Host data and references: ops_ref.c. */
#include "ops.h"

#define OPS_SAMPLES 64 /* sampled entries of each convolution result and gradient */
#define OPS_MAX_OPS 32 /* profile entries read per case */

static const op_case OP_CASES[] = {
    /* name, kind, batch, --quick batch, C, H, W, K, R, S, pad, input_grad, stride */
    {"conv mnist1 1->32 3x3", OP_CONV, 128, 16, 1, 28, 28, 32, 3, 3, 0, 0, 1},
    {"conv mnist2 32->64 3x3", OP_CONV, 128, 16, 32, 26, 26, 64, 3, 3, 0, 1, 1},
    {"conv 64->64 3x3 pad 1", OP_CONV, 16, 2, 64, 56, 56, 64, 3, 3, 1, 1, 1},
    {"maxpool 2x2", OP_MAXPOOL, 128, 16, 64, 24, 24, 0, 2, 2, 0, 1, 1},
    {"batchnorm (training)", OP_BATCHNORM, 128, 16, 32, 26, 26, 0, 0, 0, 0, 1, 1},
    {"cross-entropy C=10", OP_CROSS_ENTROPY, 128, 128, 10, 1, 1, 0, 0, 0, 0, 1, 1},
    {"cross-entropy C=1000", OP_CROSS_ENTROPY, 1024, 256, 1000, 1, 1, 0, 0, 0, 0, 1, 1},
};
_Static_assert(2 * sizeof OP_CASES / sizeof *OP_CASES == OPS_RESULTS, "see bench.h");

enum { G_FORWARD, G_FULL, G_LOSS };

typedef struct op_graph {
    clnn_graph *g;
    clnn_tensor *x, *w, *bias, *labels, *run_mean, *run_var, *r, *y, *loss;
} op_graph;

typedef struct ops_run {
    bench *b;
    clnn_ctx *pctx; /* the profiling context; NULL when it could not be opened */
    int profile_runs;
    rng rng;
} ops_run;

/* ---- graphs --------------------------------------------------------------------------------- */
/* Builds case d's graph in ctx: G_FORWARD the op alone; G_FULL the op, loss = sum(y * r) (the
 * cross-entropy is its own loss) and the backward; G_LOSS that loss and backward alone on a
 * parameter shaped like y. 0: built; 1: the library cannot build it (why says so); -1: a failed
 * call (reported). */
static int op_graph_build(bench *b, clnn_ctx *ctx, const op_data *d, int mode, op_graph *og,
                          char *why, size_t size)
{
    const op_case *c = d->c;
    *og = (op_graph){0};
    clnn_ctx_clear_error(ctx); /* no earlier message may explain this graph's failure */
    clnn_status st = clnn_graph_create(ctx, &og->g);
    if (st) {
        fprintf(stderr, "clnn-bench: ops %s: clnn_graph_create failed: %s: %s\n", c->name,
                clnn_status_name(st), clnn_ctx_last_error(ctx));
        b->failures++;
        return -1;
    }
    clnn_graph *g = og->g;
    int64_t xs[4] = {d->n, c->c, c->h, c->w};
    int64_t ys[4] = {d->n, c->kind == OP_CONV ? c->k : c->c, d->oh, d->ow};
    int xdims = c->kind == OP_CROSS_ENTROPY ? 2 : 4;
    int x_grad = mode == G_FULL && (c->kind != OP_CONV || c->input_grad);
    if (mode == G_LOSS) {
        og->y = clnn_param(g, "y", 4, ys);
    } else {
        og->x = x_grad ? clnn_param(g, "x", xdims, xs) : clnn_input(g, "x", xdims, xs);
    }
    if (mode != G_LOSS && c->kind == OP_CONV) {
        clnn_conv2d_options o;
        clnn_conv2d_options_init(&o);
        o.pad_h = o.pad_w = (int)c->pad;
        og->w = clnn_param(g, "w", 4, (int64_t[]){c->k, c->c, c->r, c->s});
        og->bias = clnn_param(g, "bias", 1, &c->k);
        og->y = clnn_conv2d(g, og->x, og->w, og->bias, &o);
    } else if (mode != G_LOSS && c->kind == OP_MAXPOOL) {
        clnn_pool2d_options o;
        clnn_pool2d_options_init(&o, (int)c->r, (int)c->s);
        og->y = clnn_maxpool2d(g, og->x, &o);
    } else if (mode != G_LOSS && c->kind == OP_BATCHNORM) {
        clnn_batchnorm_options o;
        clnn_batchnorm_options_init(&o);
        og->w = clnn_param(g, "gamma", 1, &c->c);
        og->bias = clnn_param(g, "beta", 1, &c->c);
        og->run_mean = clnn_input(g, "running_mean", 1, &c->c);
        og->run_var = clnn_input(g, "running_var", 1, &c->c);
        og->y = clnn_batchnorm(g, og->x, og->w, og->bias, og->run_mean, og->run_var, &o);
    } else if (mode != G_LOSS) {
        og->labels = clnn_input_i32(g, "labels", 1, &d->n);
        og->y = clnn_cross_entropy(g, og->x, og->labels, CLNN_REDUCTION_MEAN, 0);
    }
    og->loss = og->y;
    if (mode != G_FORWARD && c->kind != OP_CROSS_ENTROPY) {
        og->r = clnn_input(g, "r", 4, ys);
        og->loss = clnn_sum(g, clnn_mul(g, og->y, og->r), 0, NULL, 0);
    }
    st = clnn_graph_status(g);
    if (!st && !og->loss) {
        snprintf(why, size, "a builder returned NULL and left no error");
        return 1;
    }
    if (!st && mode != G_FORWARD)
        st = clnn_graph_backward(g, og->loss);
    if (!st)
        return 0;
    const char *msg = clnn_graph_status(g) ? clnn_graph_last_error(g) : clnn_ctx_last_error(ctx);
    snprintf(why, size, "%s", *msg ? msg : clnn_status_text(st));
    return 1;
}

/* Reads the gradient of t (n floats; none when t is NULL) into out; CLNN_ERR_STATE with
 * *missing = t's name when t has none. */
static clnn_status read_grad(clnn_tensor *t, float *out, size_t n, const char **missing)
{
    clnn_tensor *g = t ? clnn_tensor_grad(t) : NULL;
    if (t && !g)
        *missing = clnn_tensor_name(t);
    return !t ? CLNN_OK : g ? clnn_tensor_read(g, out, n * sizeof *out) : CLNN_ERR_STATE;
}

/* Writes the case's inputs, runs the graph once and reads back what the references check:
 * G_FORWARD y (and batchnorm's running statistics), G_FULL the gradients, G_LOSS the gradient of
 * y (into d->y). 0: done; 1: the library cannot run it (why says so); -1: a failed call
 * (reported). */
static int op_first_run(bench *b, clnn_ctx *ctx, op_graph *og, op_data *d, int mode, char *why,
                        size_t size)
{
    const char *what = "writing the inputs", *missing = NULL;
    size_t f = sizeof(float);
    clnn_status st = CLNN_OK;
    if (og->x)
        st = clnn_tensor_write(og->x, d->x, d->nx * f);
    if (!st && og->w)
        st = clnn_tensor_write(og->w, d->w, d->nw * f);
    if (!st && og->bias)
        st = clnn_tensor_write(og->bias, d->bias, d->nb * f);
    if (!st && og->labels)
        st = clnn_tensor_write(og->labels, d->labels, (size_t)d->n * sizeof *d->labels);
    if (!st && og->run_mean && !(st = clnn_tensor_fill(og->run_mean, 0)))
        st = clnn_tensor_fill(og->run_var, 1);
    if (!st && og->r)
        st = clnn_tensor_write(og->r, d->r, d->ny * f);
    if (!st && mode == G_LOSS)
        st = clnn_tensor_write(og->y, d->r, d->ny * f);
    if (!st) {
        what = "the first run";
        clnn_ctx_clear_error(ctx);
        st = clnn_graph_run(og->g);
        if (st == CLNN_ERR_UNSUPPORTED) {
            const char *msg = clnn_ctx_last_error(ctx);
            snprintf(why, size, "%s", *msg ? msg : clnn_status_text(st));
            return 1;
        }
    }
    if (!st && mode == G_FORWARD) {
        what = "reading the results";
        st = clnn_tensor_read(og->y, d->y, d->ny * f);
        if (!st && og->run_mean && !(st = clnn_tensor_read(og->run_mean, d->run_mean, d->nw * f)))
            st = clnn_tensor_read(og->run_var, d->run_var, d->nw * f);
    } else if (!st && mode == G_LOSS) {
        what = "reading the gradient";
        st = read_grad(og->y, d->y, d->ny, &missing);
    } else if (!st) {
        what = "reading the gradients";
        if (!(st = read_grad(og->w, d->gw, d->nw, &missing)) &&
            !(st = read_grad(og->bias, d->gb, d->nb, &missing)) &&
            (d->c->kind != OP_CONV || d->c->input_grad))
            st = read_grad(og->x, d->gx, d->nx, &missing);
    }
    if (!st)
        return 0;
    if (missing)
        fprintf(stderr, "clnn-bench: ops %s: clnn_graph_backward left '%s' without a gradient\n",
                d->c->name, missing);
    else
        fprintf(stderr, "clnn-bench: ops %s: %s failed: %s: %s\n", d->c->name, what,
                clnn_status_name(st), clnn_ctx_last_error(ctx));
    b->failures++;
    return -1;
}

/* ---- output --------------------------------------------------------------------------------- */
static void print_op_row(const bench *b, const result *r)
{
    if (b->json)
        return;
    if (r->unavailable[0]) {
        printf("%-30s %-30s unavailable: %s\n", r->name, r->shape, r->unavailable);
        fflush(stdout);
        return;
    }
    char med[24] = "-", min[24] = "-", rate[32] = "-", roof[16];
    int flops = r->unit && !strcmp(r->unit, "gflops");
    if (isfinite(r->median_ms)) {
        snprintf(med, sizeof med, "%.3f", r->median_ms);
        snprintf(min, sizeof min, "%.3f", r->min_ms);
    }
    if (r->unit && isfinite(r->rate))
        snprintf(rate, sizeof rate, "%.2f %s", r->rate, flops ? "GFLOP/s" : "GB/s");
    char err[16] = "-";
    if (isfinite(r->max_rel_err))
        snprintf(err, sizeof err, "%.1e", r->max_rel_err);
    printf("%-30s %-30s %10s %10s %16s %11s  %-36s %s%s\n", r->name, r->shape, med, min, rate,
           fmt_roof(roof, r), r->note, err, r->checked ? "" : "  FAILED");
    fflush(stdout);
}

/* Rates of r from its times: work is FLOPs (flops = 1) or bytes; full_ms >= 0 for a backward. */
static void set_rates(const bench *b, result *r, double work, int flops, double full_ms,
                      double loss_ms)
{
    double ref = flops ? b->roof.peak_gflops : b->roof.copy_gbps, host = b->host_copy_gbps;
    r->unit = flops ? "gflops" : "gbps";
    r->rate = r->median_ms > 0 ? work / (r->median_ms * 1e6) : NAN;
    set_roof(b, r, r->rate, !flops);
    r->extra_key[0] = flops ? "best_fraction_of_peak" : "best_fraction_of_copy";
    r->extra[0] = ref > 0 && r->min_ms > 0 ? work / (r->min_ms * 1e6) / ref : NAN;
    r->extra_key[1] = flops ? NULL : "fraction_of_host_copy";
    r->extra[1] = host > 0 ? r->rate / host : NAN;
    if (full_ms >= 0) {
        r->extra_key[2] = "full_ms", r->extra[2] = full_ms;
        r->extra_key[3] = "loss_ms", r->extra[3] = loss_ms;
        snprintf(r->note, sizeof r->note, "full %.2f - fwd - loss %.2f ms", full_ms, loss_ms);
    } else if (flops) {
        snprintf(r->note, sizeof r->note, "%.2fx CLBlast SGEMM, %.2fx OpenBLAS",
                 r->rate / REF_CLBLAST_GFLOPS, r->rate / REF_OPENBLAS_GFLOPS);
    } else {
        snprintf(r->note, sizeof r->note, "%.2f of host copy", r->extra[1]);
    }
}

/* check_and_time, except that a failed check prints no row (the caller prints the ops row). */
static int ops_check_and_time(bench *b, result *r, const op_check *c, op_graph *og)
{
    if (c->err <= c->tol)
        return check_and_time(b, r, c->err, c->tol, c->where, run_graph, og->g);
    r->max_rel_err = c->err;
    fprintf(stderr, "clnn-bench: FAIL ops %s %s: relative error %.2e > %.2e at %s\n", r->name,
            r->shape, c->err, c->tol, c->where);
    b->failures++;
    return -1;
}

/* ---- the per-op profile --------------------------------------------------------------------- */
static void quiet_log(void *user, clnn_log_level level, const char *message)
{
    (void)user, (void)level, (void)message;
}

/* Runs case d's full graph in the profiling context and prints and keeps device time per op. */
static void op_profile_case(ops_run *o, op_data *d)
{
    bench *b = o->b;
    op_graph og;
    char why[160] = "";
    clnn_profile_entry e[OPS_MAX_OPS];
    size_t n = 0;
    int rc = op_graph_build(b, o->pctx, d, G_FULL, &og, why, sizeof why);
    if (!rc)
        rc = op_first_run(b, o->pctx, &og, d, G_FULL, why, sizeof why); /* also the warm-up */
    clnn_status st = rc ? CLNN_OK : clnn_ctx_finish(o->pctx);
    if (!rc && !st) {
        clnn_profile_reset(o->pctx);
        for (int i = 0; i < o->profile_runs && !st; i++)
            st = clnn_graph_run(og.g);
        if (!st)
            st = clnn_profile_get(o->pctx, e, OPS_MAX_OPS, &n);
    }
    if (rc > 0 && !b->json)
        printf("    (no profile: %s)\n", why);
    if (st) {
        fprintf(stderr, "clnn-bench: ops %s: profiling failed: %s: %s\n", d->c->name,
                clnn_status_name(st), clnn_ctx_last_error(o->pctx));
        b->failures++;
    }
    n = n < OPS_MAX_OPS ? n : OPS_MAX_OPS;
    op_profile *p = n ? realloc(b->profiles, (b->nprofiles + n) * sizeof *p) : NULL;
    if (!rc && !st && !b->json)
        printf("    device time per run of op + loss + backward, by op (profiling context, "
               "%d run%s):\n",
               o->profile_runs, o->profile_runs > 1 ? "s" : "");
    for (size_t i = 0; p && i < n; i++) {
        double runs = o->profile_runs, s = e[i].total_ms / 1e3;
        op_profile *q = &p[b->nprofiles++];
        *q = (op_profile){.calls_per_run = (double)e[i].calls / runs,
                          .ms_per_run = e[i].total_ms / runs,
                          .gflops = s > 0 ? e[i].flops / s / 1e9 : 0,
                          .gbps = s > 0 ? e[i].bytes / s / 1e9 : 0};
        snprintf(q->case_name, sizeof q->case_name, "%s", d->c->name);
        snprintf(q->op, sizeof q->op, "%s", e[i].op);
        char rate[32] = "-";
        if (q->gflops > 0)
            snprintf(rate, sizeof rate, "%.2f GFLOP/s", q->gflops);
        else if (q->gbps > 0)
            snprintf(rate, sizeof rate, "%.2f GB/s", q->gbps);
        if (!b->json)
            printf("      %-24s %5.3g calls %10.3f ms %16s\n", q->op, q->calls_per_run,
                   q->ms_per_run, rate);
    }
    if (p)
        b->profiles = p;
    else if (n)
        fprintf(stderr, "clnn-bench: ops %s: out of host memory for the profile\n", d->c->name);
    fflush(stdout);
    clnn_graph_destroy(og.g);
}

/* ---- one case ------------------------------------------------------------------------------- */
/* Times the forward graph into fw; 0 when checked and timed, 1 unavailable, -1 failed. */
static int op_forward(ops_run *o, op_data *d, result *fw, char *why, size_t size)
{
    op_graph og;
    int rc = op_graph_build(o->b, o->b->ctx, d, G_FORWARD, &og, why, size);
    if (!rc)
        rc = op_first_run(o->b, o->b->ctx, &og, d, G_FORWARD, why, size);
    if (!rc) {
        op_check chk = {0};
        ref_forward(d, &o->rng, OPS_SAMPLES, &chk);
        rc = ops_check_and_time(o->b, fw, &chk, &og);
    }
    clnn_graph_destroy(og.g);
    return rc;
}

/* Times the full graph into bw (its times are replaced by the backward's later) and the loss
 * graph into *loss_median, *loss_min (0 for cross-entropy). Returns as op_forward. */
static int op_backward(ops_run *o, op_data *d, result *bw, double *loss_median, double *loss_min,
                       char *why, size_t size)
{
    op_graph og;
    int rc = op_graph_build(o->b, o->b->ctx, d, G_FULL, &og, why, size);
    if (!rc)
        rc = op_first_run(o->b, o->b->ctx, &og, d, G_FULL, why, size);
    if (!rc) {
        op_check chk = {0};
        ref_backward(d, &o->rng, OPS_SAMPLES, &chk);
        rc = ops_check_and_time(o->b, bw, &chk, &og);
    }
    clnn_graph_destroy(og.g);
    *loss_median = *loss_min = 0;
    if (rc || d->c->kind == OP_CROSS_ENTROPY)
        return rc;
    result loss = {.suite = "ops", .median_ms = NAN, .min_ms = NAN};
    snprintf(loss.name, sizeof loss.name, "%.30s loss", d->c->name);
    snprintf(loss.shape, sizeof loss.shape, "%s", bw->shape);
    rc = op_graph_build(o->b, o->b->ctx, d, G_LOSS, &og, why, size);
    if (!rc)
        rc = op_first_run(o->b, o->b->ctx, &og, d, G_LOSS, why, size);
    if (!rc) { /* d loss / d y = r exactly */
        op_check chk = {0};
        for (size_t i = 0; i < d->ny; i++)
            op_check_value(&chk, "dy", i, d->y[i], d->r[i], 1, 0);
        rc = ops_check_and_time(o->b, &loss, &chk, &og);
    }
    clnn_graph_destroy(og.g);
    *loss_median = loss.median_ms;
    *loss_min = loss.min_ms;
    if (rc) /* the backward is known only with the loss */
        snprintf(bw->note, sizeof bw->note, "the loss graph failed");
    return rc;
}

static void op_case_run(ops_run *o, const op_case *c)
{
    bench *b = o->b;
    op_data d;
    char shape[32], name[40], why[160] = "";
    if (op_data_init(&d, c, b->quick ? c->quick_batch : c->batch, &o->rng)) {
        fail_call(b, c->name, CLNN_ERR_NOMEM);
        op_data_free(&d);
        return;
    }
    long long n = (long long)d.n, C = (long long)c->c, H = (long long)c->h, W = (long long)c->w;
    if (c->kind == OP_CONV)
        snprintf(shape, sizeof shape, "x(%lld,%lld,%lld,%lld) w(%lld,%lld,%lld,%lld)", n, C, H, W,
                 (long long)c->k, C, (long long)c->r, (long long)c->s);
    else if (c->kind == OP_CROSS_ENTROPY)
        snprintf(shape, sizeof shape, "(%lld,%lld)", n, C);
    else
        snprintf(shape, sizeof shape, "(%lld,%lld,%lld,%lld)", n, C, H, W);
    snprintf(name, sizeof name, "%s fwd", c->name);
    result *fw = add_result(b, "ops", name, shape);
    snprintf(name, sizeof name, "%s bwd", c->name);
    result *bw = add_result(b, "ops", name, shape);
    fw->max_rel_err = bw->max_rel_err = NAN; /* until checked */

    /* work: FLOPs of the convolutions (backward: weights, and the input when it needs a
     * gradient), else compulsory bytes (forward reads x, writes y; backward reads x, dy and
     * writes dx) */
    int flops = c->kind == OP_CONV;
    double fwd_work = flops ? 2.0 * (double)d.ny * (double)(c->c * c->r * c->s)
                      : c->kind == OP_CROSS_ENTROPY ? 4.0 * (double)(d.nx + (size_t)d.n)
                                                    : 4.0 * (double)(d.nx + d.ny);
    double bwd_work = flops                         ? fwd_work * (1 + c->input_grad)
                      : c->kind == OP_CROSS_ENTROPY ? 4.0 * (double)(2 * d.nx + (size_t)d.n)
                                                    : 4.0 * (double)(2 * d.nx + d.ny);
    int rc = op_forward(o, &d, fw, why, sizeof why);
    if (!rc)
        set_rates(b, fw, fwd_work, flops, -1, 0);
    else if (rc > 0)
        snprintf(fw->unavailable, sizeof fw->unavailable, "%s", why);
    else
        fw->checked = 0; /* a failed check or call: the row says FAILED */
    print_op_row(b, fw);
    double loss_median = 0, loss_min = 0;
    if (!rc)
        rc = op_backward(o, &d, bw, &loss_median, &loss_min, why, sizeof why);
    else if (rc < 0)
        snprintf(bw->note, sizeof bw->note, "not run: the forward failed");
    if (rc > 0) { /* the forward's message, or the backward's */
        snprintf(bw->unavailable, sizeof bw->unavailable, "%s", why);
    } else if (rc < 0) {
        bw->checked = 0;
        bw->median_ms = bw->min_ms = NAN;
    } else {
        double full_median = bw->median_ms, full_min = bw->min_ms;
        bw->median_ms = full_median - fw->median_ms - loss_median;
        bw->min_ms = full_min - fw->min_ms - loss_min;
        set_rates(b, bw, bwd_work, flops, full_median, loss_median);
    }
    print_op_row(b, bw);
    if (!rc && o->pctx)
        op_profile_case(o, &d);
    op_data_free(&d);
}

void suite_ops(bench *b)
{
    ops_run o = {.b = b, .profile_runs = b->quick ? 1 : 2, .rng = {0x6a09e667f3bcc909u}};
    int saved_reps = b->reps;
    b->reps = b->reps_given ? b->reps : b->quick ? 3 : 5;
    b->ops_ran = 1;
    if (b->host_copy_gbps <= 0) {
        int nt = 0;
        b->host_copy_gbps = host_copy((size_t)(b->quick ? 16 : 64) << 20, 20, &nt);
    }
    clnn_ctx_options opt;
    clnn_ctx_options_init(&opt);
    opt.device = b->device;
    opt.profile = 1;
    opt.log = quiet_log; /* no profile report on stderr when the context is destroyed */
    opt.log_level = CLNN_LOG_ERROR;
    clnn_status st = clnn_ctx_create(&o.pctx, &opt);
    if (st) {
        fprintf(stderr, "clnn-bench: ops: cannot open the profiling context: %s\n",
                o.pctx ? clnn_ctx_last_error(o.pctx) : clnn_status_text(st));
        b->failures++;
        clnn_ctx_destroy(o.pctx);
        o.pctx = NULL;
    }
    if (!b->json) {
        printf("\n== ops: CNN layers forward (fwd) and backward (bwd), batch first; reps %d\n"
               "   bwd = full - fwd - loss (of the medians; min ms: of the minima): full runs op + "
               "loss + backward,\n"
               "   loss runs loss = sum(y * r) + its backward alone (cross-entropy is its own "
               "loss: no loss graph)\n"
               "   conv: GFLOP/s of 2 N K H' W' C R S per pass (bwd: dw, and dx but for the "
               "input image of mnist1),\n"
               "   as %% of the measured %.1f GFLOP/s FMA peak; the dev machine's SGEMM: CLBlast "
               "untuned ~%g, OpenBLAS ~%g GFLOP/s\n"
               "   others: GB/s of compulsory traffic (fwd x + y, bwd x + dy + dx), as %% of the "
               "measured %.1f GB/s copy; host copy %.1f GB/s\n",
               b->reps, b->roof.peak_gflops, REF_CLBLAST_GFLOPS, REF_OPENBLAS_GFLOPS,
               b->roof.copy_gbps, b->host_copy_gbps);
        printf("%-30s %-30s %10s %10s %16s %11s  %-36s %s\n", "name", "shape", "median ms",
               "min ms", "rate", "roofline", "note", "max rel err");
    }
    for (size_t i = 0; i < sizeof OP_CASES / sizeof *OP_CASES; i++)
        op_case_run(&o, &OP_CASES[i]);
    clnn_ctx_destroy(o.pctx);
    b->reps = saved_reps;
}
