/* gradcheck.c — the op-test harness of gradcheck.h: random inputs from a per-case seed, the
 * forward comparison with the double-precision host reference, the backward comparison with
 * central finite differences of that reference, and the element-wise tolerance rule shared by
 * both. The op cases themselves live in the test files (tests/test_ops.c); the references in
 * tests/ref/. Set CLNN_GC_VERBOSE=1 to print, per case, the worst error as a fraction of its
 * tolerance (how much headroom each tolerance has). */
#include "gradcheck.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ------------------------------------------------------------------------ */
uint64_t gc_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

void gc_rng_seed(gc_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t gc_rng_next(gc_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double gc_rng_uniform(gc_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(gc_rng_next(r) >> 11) * 0x1.0p-53;
}

void gc_rng_fill(gc_rng *r, float *x, int64_t n, double lo, double hi, double avoid)
{
    for (int64_t i = 0; i < n; i++) {
        float v = (float)gc_rng_uniform(r, lo, hi);
        for (int tries = 0; fabs(v) < avoid && tries < 1000; tries++)
            v = (float)gc_rng_uniform(r, lo, hi);
        x[i] = v;
    }
}

/* ---- comparison ---------------------------------------------------------------------------- */
static int verbose(void)
{
    const char *v = getenv("CLNN_GC_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Compares got[idx[j]] with want[j] for j < count (idx NULL: got[j], the whole tensor). */
static int compare_at(const char *what, const float *got, const double *want, const int64_t *idx,
                      int64_t count, const ref_shape *shape, double rtol, double atol, char *msg,
                      size_t size)
{
    double sq = 0.0;
    for (int64_t j = 0; j < count; j++)
        sq += want[j] * want[j];
    double scale = count ? sqrt(sq / (double)count) : 0.0, worst = 0.0;
    int64_t bad = 0, first = -1;
    for (int64_t j = 0; j < count; j++) {
        double g = got[idx ? idx[j] : j];
        double tol = atol + rtol * fmax(fabs(want[j]), scale);
        double err = fabs(g - want[j]);
        if (!(err <= tol)) { /* NaN fails too */
            if (first < 0)
                first = j;
            bad++;
        }
        if (err / tol > worst || isnan(err))
            worst = isnan(err) ? INFINITY : err / tol;
    }
    if (verbose())
        fprintf(stderr, "    %-28s worst error %.3f of tolerance over %lld elements\n", what, worst,
                (long long)count);
    if (!bad)
        return 1;
    int64_t i = idx ? idx[first] : first;
    double g = got[i], tol = atol + rtol * fmax(fabs(want[first]), scale);
    char at[96];
    snprintf(msg, size,
             "%s[%lld] at %s: got %.9g, expected %.9g (|diff| %.3g > tolerance %.3g = %g + %g * "
             "max(|expected|, rms %.3g)); %lld of %lld checked elements off, worst %.3g x "
             "tolerance",
             what, (long long)i, ref_index_str(shape, i, at, sizeof at), g, want[first],
             fabs(g - want[first]), tol, atol, rtol, scale, (long long)bad, (long long)count,
             worst);
    return 0;
}

int gc_compare(const char *what, const float *got, const double *want, const ref_shape *shape,
               double rtol, double atol, char *msg, size_t size)
{
    return compare_at(what, got, want, NULL, ref_numel(shape), shape, rtol, atol, msg, size);
}

/* ---- one case ------------------------------------------------------------------------------ */
typedef struct gc_state {
    const gc_case *c;
    int n; /* inputs */
    ref_shape shapes[GC_MAX_INPUTS], out_shape;
    int64_t numel[GC_MAX_INPUTS], out_numel;
    float *xf[GC_MAX_INPUTS], *rf, *got; /* xf: the bytes written (int32 for i32 inputs) */
    double *xd[GC_MAX_INPUTS], *rd, *want, *yp, *ym;
    /* numeric gradients: at idx[i][0 .. nidx[i]) */
    int64_t *idx[GC_MAX_INPUTS], nidx[GC_MAX_INPUTS];
    double *num[GC_MAX_INPUTS];
    clnn_graph *g;
    clnn_tensor *t[GC_MAX_INPUTS], *grad[GC_MAX_INPUTS], *y;
    char *msg;
    size_t size;
} gc_state;

static int report(gc_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int report(gc_state *s, const char *fmt, ...)
{
    int used = snprintf(s->msg, s->size, "case '%s': ", s->c->name);
    if (used < 0 || (size_t)used >= s->size)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg + used, s->size - (size_t)used, fmt, ap);
    va_end(ap);
    return 0;
}

static int report_clnn(gc_state *s, const char *what, clnn_status st, clnn_ctx *ctx)
{
    const char *detail =
        s->g && clnn_graph_status(s->g) ? clnn_graph_last_error(s->g) : clnn_ctx_last_error(ctx);
    return report(s, "%s failed: %s: %s", what, clnn_status_name(st), detail);
}

static void *alloc(int64_t n, size_t elem)
{
    return calloc((size_t)(n > 0 ? n : 1), elem);
}

/* Draws the inputs and R, runs the reference once for the shape and once for the values. */
static int prepare_host(gc_state *s)
{
    const gc_case *c = s->c;
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash(c->name));
    for (int i = 0; i < s->n; i++) {
        const gc_input *in = &c->in[i];
        if (in->ndim < 0 || in->ndim > CLNN_MAX_DIMS)
            return report(s, "input %d has %d dimensions", i, in->ndim);
        s->shapes[i].ndim = in->ndim;
        memcpy(s->shapes[i].dims, in->shape, sizeof in->shape);
        s->numel[i] = ref_numel(&s->shapes[i]);
        s->xf[i] = alloc(s->numel[i], sizeof(float));
        s->xd[i] = alloc(s->numel[i], sizeof(double));
        if (!s->xf[i] || !s->xd[i])
            return report(s, "out of host memory");
        int range = in->lo != 0.0 || in->hi != 0.0;
        double lo = range ? in->lo : -1.0, hi = range ? in->hi : 1.0;
        if (in->dtype == CLNN_I32) {
            if (in->requires_grad)
                return report(s, "input %d is i32 and cannot require a gradient", i);
            for (int64_t e = 0; e < s->numel[i]; e++) {
                int32_t v = (int32_t)floor(gc_rng_uniform(&rng, lo, hi));
                memcpy(&s->xf[i][e], &v, sizeof v); /* the bytes written to the device */
                s->xd[i][e] = v;
            }
            continue;
        }
        gc_rng_fill(&rng, s->xf[i], s->numel[i], lo, hi, in->avoid);
        for (int64_t e = 0; e < s->numel[i]; e++)
            s->xd[i][e] = s->xf[i][e];
    }
    const double *const *xd = (const double *const *)s->xd;
    if (!c->ref(xd, s->shapes, c->cfg, NULL, &s->out_shape))
        return report(s, "the host reference rejects the input shapes");
    s->out_numel = ref_numel(&s->out_shape);
    s->want = alloc(s->out_numel, sizeof(double));
    s->yp = alloc(s->out_numel, sizeof(double));
    s->ym = alloc(s->out_numel, sizeof(double));
    s->rd = alloc(s->out_numel, sizeof(double));
    s->rf = alloc(s->out_numel, sizeof(float));
    s->got = alloc(s->out_numel, sizeof(float));
    if (!s->want || !s->yp || !s->ym || !s->rd || !s->rf || !s->got)
        return report(s, "out of host memory");
    c->ref(xd, s->shapes, c->cfg, s->want, &s->out_shape);
    gc_rng_fill(&rng, s->rf, s->out_numel, -1.0, 1.0, 0.0);
    for (int64_t e = 0; e < s->out_numel; e++)
        s->rd[e] = s->rf[e];
    return 1;
}

/* Central differences of sum(R * ref(x)) at the chosen elements of every input with a gradient */
static int numeric_grads(gc_state *s)
{
    const gc_case *c = s->c;
    gc_rng rng;
    gc_rng_seed(&rng, gc_hash(c->name) ^ 0x5eedull);
    for (int i = 0; i < s->n; i++) {
        if (!c->in[i].requires_grad)
            continue;
        int64_t n = s->numel[i], full = n <= GC_GRAD_FULL;
        int64_t count = full ? n : 2 * GC_GRAD_EDGE + GC_GRAD_RANDOM;
        s->idx[i] = alloc(count, sizeof(int64_t));
        s->num[i] = alloc(count, sizeof(double));
        if (!s->idx[i] || !s->num[i])
            return report(s, "out of host memory");
        for (int64_t j = 0; j < count; j++) {
            if (full || j < GC_GRAD_EDGE)
                s->idx[i][j] = j;
            else if (j < 2 * GC_GRAD_EDGE)
                s->idx[i][j] = n - 2 * GC_GRAD_EDGE + j;
            else
                s->idx[i][j] =
                    GC_GRAD_EDGE + (int64_t)(gc_rng_next(&rng) % (uint64_t)(n - 2 * GC_GRAD_EDGE));
        }
        s->nidx[i] = count;
        ref_shape shape;
        for (int64_t j = 0; j < count; j++) {
            double *x = &s->xd[i][s->idx[i][j]], v = *x, h = 1e-6 * fmax(1.0, fabs(v));
            double xp = v + h, xm = v - h;
            *x = xp;
            c->ref((const double *const *)s->xd, s->shapes, c->cfg, s->yp, &shape);
            *x = xm;
            c->ref((const double *const *)s->xd, s->shapes, c->cfg, s->ym, &shape);
            *x = v;
            double d = 0.0;
            for (int64_t e = 0; e < s->out_numel; e++)
                d += s->rd[e] * (s->yp[e] - s->ym[e]);
            s->num[i][j] = d / (xp - xm);
        }
    }
    return 1;
}

static int same_shape(const clnn_tensor *t, const ref_shape *r)
{
    if (clnn_tensor_ndim(t) != r->ndim)
        return 0;
    for (int d = 0; d < r->ndim; d++)
        if (clnn_tensor_dim(t, d) != r->dims[d])
            return 0;
    return 1;
}

/* Builds the graph: inputs, the op(s) under test, and loss = sum(y * R) with its backward. */
static int build_graph(gc_state *s, clnn_ctx *ctx)
{
    const gc_case *c = s->c;
    clnn_status st = clnn_graph_create(ctx, &s->g);
    if (st)
        return report_clnn(s, "clnn_graph_create", st, ctx);
    int any_grad = 0;
    for (int i = 0; i < s->n; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        const ref_shape *sh = &s->shapes[i];
        if (c->in[i].dtype == CLNN_I32)
            s->t[i] = clnn_input_i32(s->g, name, sh->ndim, sh->dims);
        else if (c->in[i].requires_grad)
            s->t[i] = clnn_param(s->g, name, sh->ndim, sh->dims);
        else
            s->t[i] = clnn_input(s->g, name, sh->ndim, sh->dims);
        if (!s->t[i])
            return report_clnn(s, "making the input tensors", clnn_graph_status(s->g), ctx);
        any_grad |= c->in[i].requires_grad;
    }
    s->y = c->build(s->g, s->t, c->cfg);
    if (!s->y)
        return report_clnn(s, "building the op", clnn_graph_status(s->g), ctx);
    if (!same_shape(s->y, &s->out_shape)) {
        char a[96], b[96];
        return report(s, "output shape %s, the reference says %s",
                      clnn_tensor_shape_str(s->y, a, sizeof a),
                      ref_shape_str(&s->out_shape, b, sizeof b));
    }
    clnn_graph_keep(s->g, s->y);
    for (int i = 0; i < s->n; i++)
        if ((st = clnn_tensor_write(s->t[i], s->xf[i], (size_t)s->numel[i] * sizeof(float))))
            return report_clnn(s, "writing the inputs", st, ctx);
    if (!any_grad)
        return 1;
    clnn_tensor *r = clnn_input(s->g, "R", s->out_shape.ndim, s->out_shape.dims);
    clnn_tensor *loss = clnn_sum(s->g, clnn_mul(s->g, s->y, r), 0, NULL, 0);
    if ((st = clnn_graph_backward(s->g, loss)) != CLNN_OK)
        return report_clnn(s, "loss = sum(y * R) and clnn_graph_backward", st, ctx);
    if ((st = clnn_tensor_write(r, s->rf, (size_t)s->out_numel * sizeof(float))) != CLNN_OK)
        return report_clnn(s, "writing R", st, ctx);
    for (int i = 0; i < s->n; i++) {
        if (!c->in[i].requires_grad)
            continue;
        s->grad[i] = clnn_tensor_grad(s->t[i]);
        if (!s->grad[i])
            return report(s, "input %d requires a gradient but clnn_tensor_grad returned NULL", i);
        if (!same_shape(s->grad[i], &s->shapes[i])) {
            char a[96], b[96];
            return report(s, "the gradient of input %d has shape %s, the input %s", i,
                          clnn_tensor_shape_str(s->grad[i], a, sizeof a),
                          ref_shape_str(&s->shapes[i], b, sizeof b));
        }
    }
    return 1;
}

/* Runs the graph and compares the output and the gradients; run is 1 or 2 (for messages). */
static int run_and_compare(gc_state *s, clnn_ctx *ctx, int run)
{
    const gc_case *c = s->c;
    clnn_status st = clnn_graph_run(s->g);
    if (st)
        return report_clnn(s, "clnn_graph_run", st, ctx);
    st = clnn_tensor_read(s->y, s->got, (size_t)s->out_numel * sizeof(float));
    if (st)
        return report_clnn(s, "reading the output", st, ctx);
    char what[64], m[768];
    snprintf(what, sizeof what, "run %d: forward y", run);
    double rtol = c->fwd_rtol > 0 ? c->fwd_rtol : GC_FWD_RTOL;
    double atol = c->fwd_atol > 0 ? c->fwd_atol : GC_FWD_ATOL;
    if (!gc_compare(what, s->got, s->want, &s->out_shape, rtol, atol, m, sizeof m))
        return report(s, "%s", m);
    rtol = c->grad_rtol > 0 ? c->grad_rtol : GC_GRAD_RTOL;
    atol = c->grad_atol > 0 ? c->grad_atol : GC_GRAD_ATOL;
    for (int i = 0; i < s->n; i++) {
        if (!s->grad[i])
            continue;
        float *g = alloc(s->numel[i], sizeof(float));
        if (!g)
            return report(s, "out of host memory");
        st = clnn_tensor_read(s->grad[i], g, (size_t)s->numel[i] * sizeof(float));
        if (st) {
            free(g);
            return report_clnn(s, "reading a gradient", st, ctx);
        }
        snprintf(what, sizeof what, "run %d: d loss / d in%d", run, i);
        int ok = compare_at(what, g, s->num[i], s->idx[i], s->nidx[i], &s->shapes[i], rtol, atol, m,
                            sizeof m);
        free(g);
        if (!ok)
            return report(s, "%s (loss = sum(y * R))", m);
    }
    return 1;
}

int gc_check(clnn_ctx *ctx, const gc_case *c, char *msg, size_t size)
{
    gc_state s = {.c = c, .n = c->ninputs, .msg = msg, .size = size};
    if (size)
        msg[0] = 0;
    if (!c->name || c->ninputs < 1 || c->ninputs > GC_MAX_INPUTS || !c->build || !c->ref) {
        snprintf(msg, size, "case '%s': malformed (name, 1..%d inputs, build and ref are needed)",
                 c->name ? c->name : "?", GC_MAX_INPUTS);
        return 0;
    }
    if (verbose())
        fprintf(stderr, "%s\n", c->name);
    int ok = prepare_host(&s) && numeric_grads(&s) && build_graph(&s, ctx) &&
             run_and_compare(&s, ctx, 1) && run_and_compare(&s, ctx, 2);
    clnn_graph_destroy(s.g);
    for (int i = 0; i < GC_MAX_INPUTS; i++) {
        free(s.xf[i]);
        free(s.xd[i]);
        free(s.idx[i]);
        free(s.num[i]);
    }
    free(s.rf);
    free(s.rd);
    free(s.got);
    free(s.want);
    free(s.yp);
    free(s.ym);
    return ok;
}

clnn_ctx *gc_ctx_create(void)
{
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, NULL);
    if (st != CLNN_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", ctx ? clnn_ctx_last_error(ctx) : "");
        clnn_ctx_destroy(ctx);
        ck_abort_msg("clnn_ctx_create: %s: %s", clnn_status_name(st), m);
    }
    return ctx;
}

int gc_cpu_path(const clnn_ctx *ctx)
{
    const char *env = getenv("CLNN_KERNEL_PATH");
    if (env && (!strcmp(env, "cpu") || !strcmp(env, "gpu")))
        return env[0] == 'c';
    clnn_device_info info;
    ck_assert_int_eq(clnn_ctx_device_info(ctx, &info), CLNN_OK);
    return info.type != CLNN_DEVICE_GPU;
}

void gc_run_case(const gc_case *c)
{
    clnn_ctx *ctx = gc_ctx_create();
    char msg[1024];
    int ok = gc_check(ctx, c, msg, sizeof msg);
    clnn_ctx_destroy(ctx);
    ck_assert_msg(ok, "%s", msg);
}

void gc_run_err_case(const gc_err_case *c)
{
    clnn_ctx *ctx = gc_ctx_create();
    clnn_graph *g;
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *y = c->build(g);
    clnn_status st = clnn_graph_status(g);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", clnn_graph_last_error(g));
    ck_assert_msg(!y, "%s: the builder returned a tensor", c->name);
    ck_assert_msg(st == c->status, "%s: status %s, expected %s (message '%s')", c->name,
                  clnn_status_name(st), clnn_status_name(c->status), msg);
    for (int k = 0; k < 5 && c->words[k]; k++)
        ck_assert_msg(strstr(msg, c->words[k]), "%s: the message '%s' does not mention '%s'",
                      c->name, msg, c->words[k]);
    ck_assert_msg(strstr(clnn_ctx_last_error(ctx), msg), "%s: context error '%s', graph '%s'",
                  c->name, clnn_ctx_last_error(ctx), msg);
    ck_assert_msg(!clnn_input(g, "after", 1, (int64_t[]){1}),
                  "%s: a builder after the error returned a tensor: the error must stick", c->name);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}

/* ---- suite scaffolding ---------------------------------------------------------------------- */
void gc_assert_unique_names(const gc_case *const *tables, const int *counts, int ntables)
{
    for (int t = 0; t < ntables; t++)
        for (int i = 0; i < counts[t]; i++)
            for (int u = t; u < ntables; u++)
                for (int j = u == t ? i + 1 : 0; j < counts[u]; j++)
                    ck_assert_msg(strcmp(tables[t][i].name, tables[u][j].name) != 0,
                                  "two cases are named '%s'", tables[t][i].name);
}

void gc_add_loops(Suite *s, const gc_loop *loops, int n, TCase **tcases)
{
    for (int i = 0; i < n; i++) {
        TCase *tc = tcase_create(loops[i].name);
        tcase_set_timeout(tc, 300);
        if (loops[i].count > 0)
            tcase_add_loop_test(tc, loops[i].test, 0, loops[i].count);
        suite_add_tcase(s, tc);
        if (tcases)
            tcases[i] = tc;
    }
}
