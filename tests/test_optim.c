/* test_optim.c — the `check` suite of the optimizers (src/optim/optim.c, kernels/optim.cl):
 * SGD (momentum, dampening, Nesterov, weight decay), Adam (both epsilon placements, L2 weight
 * decay), AdamW and RMSprop (centered, momentum), each run for several steps on parameters of odd
 * sizes and compared with a double-precision host implementation of the formulas of clnn.h; the
 * same against PyTorch's torch.optim (tests/golden/gen_optim.py -> tests/golden/optim.txt),
 * clipping by global norm included; learning-rate schedules against PyTorch's schedulers and the
 * closed forms (per schedule step and per update); the global norm read back against the host;
 * error paths. The gradients come from loss = sum_i sum(p_i * c_i) with inputs c_i, so
 * d loss / d p_i = c_i exactly: each step writes the wanted gradients into c_i and runs the graph.
 * Each test creates its own context (check forks every test); CK_FORK=no to debug. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clnn.h"
#include "golden_io.h"

#define MAX_PARAMS 4

static char golden_error[256];
static int golden_count;

/* ---- a graph whose gradients are chosen by the test ---------------------------------------- */
typedef struct fixture {
    clnn_ctx *ctx;
    clnn_graph *g;
    int np;
    int64_t n[MAX_PARAMS];
    clnn_tensor *p[MAX_PARAMS], *c[MAX_PARAMS];
} fixture;

static void fixture_make(fixture *f, int np, const int64_t *sizes)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(clnn_ctx_create(&f->ctx, NULL), CLNN_OK);
    ck_assert_int_eq(clnn_graph_create(f->ctx, &f->g), CLNN_OK);
    f->np = np;
    clnn_tensor *loss = NULL;
    for (int i = 0; i < np; i++) {
        char name[16];
        f->n[i] = sizes[i];
        snprintf(name, sizeof name, "p%d", i);
        f->p[i] = clnn_param(f->g, name, 1, &sizes[i]);
        snprintf(name, sizeof name, "c%d", i);
        f->c[i] = clnn_input(f->g, name, 1, &sizes[i]);
        clnn_tensor *s = clnn_sum(f->g, clnn_mul(f->g, f->p[i], f->c[i]), 0, NULL, 0);
        loss = loss ? clnn_add(f->g, loss, s) : s;
    }
    ck_assert_msg(loss, "%s", clnn_graph_last_error(f->g));
    ck_assert_int_eq(clnn_graph_backward(f->g, loss), CLNN_OK);
}

static void fixture_free(fixture *f)
{
    clnn_graph_destroy(f->g);
    clnn_ctx_destroy(f->ctx);
}

/* Runs the graph with gradients g[i] (f32 copies written into c_i). */
static void fixture_run(fixture *f, double *const *g)
{
    for (int i = 0; i < f->np; i++) {
        float *tmp = malloc((size_t)f->n[i] * sizeof *tmp);
        for (int64_t j = 0; j < f->n[i]; j++)
            tmp[j] = (float)g[i][j];
        ck_assert_int_eq(clnn_tensor_write(f->c[i], tmp, (size_t)f->n[i] * sizeof *tmp), CLNN_OK);
        free(tmp);
    }
    ck_assert_msg(clnn_graph_run(f->g) == CLNN_OK, "%s", clnn_ctx_last_error(f->ctx));
}

static void write_param(clnn_tensor *t, const double *v, int64_t n)
{
    float *tmp = malloc((size_t)n * sizeof *tmp);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = (float)v[j];
    ck_assert_int_eq(clnn_tensor_write(t, tmp, (size_t)n * sizeof *tmp), CLNN_OK);
    free(tmp);
}

/* |got - want| <= atol + rtol |want| for every element; 1 when equal. */
static int compare(const char *what, clnn_tensor *t, const double *want, int64_t n, double rtol,
                   double atol, char *msg, size_t size)
{
    float *got = malloc((size_t)n * sizeof *got);
    ck_assert_int_eq(clnn_tensor_read(t, got, (size_t)n * sizeof *got), CLNN_OK);
    for (int64_t j = 0; j < n; j++)
        if (!(fabs(got[j] - want[j]) <= atol + rtol * fabs(want[j]))) {
            snprintf(msg, size, "%s[%lld]: got %.9g expected %.9g", what, (long long)j,
                     (double)got[j], want[j]);
            free(got);
            return 0;
        }
    free(got);
    return 1;
}

/* ---- the double-precision host reference (the formulas of clnn.h) ------------------------- */
typedef struct ref_state {
    double *a, *b, *c; /* SGD: buf; Adam: m, v; RMSprop: sq, avg, buf */
} ref_state;

static double ref_lr(const clnn_optim_options *o, double lr0, double e)
{
    const clnn_schedule_options *s = &o->schedule;
    switch (s->kind) {
    case CLNN_SCHEDULE_STEP:
        return lr0 * pow(s->gamma, floor(e / s->step_size));
    case CLNN_SCHEDULE_EXPONENTIAL:
        return lr0 * pow(s->gamma, e);
    case CLNN_SCHEDULE_COSINE:
        return s->eta_min +
               (lr0 - s->eta_min) * (1 + cos(3.14159265358979323846 * e / s->t_max)) / 2;
    default:
        return lr0;
    }
}

/* One step t (1-based) of every parameter; returns the global norm before clipping. */
static double ref_step(const clnn_optim_options *o, int np, const int64_t *n, double **p,
                       double *const *grad, ref_state *st, int t, double lr)
{
    double total = 0;
    for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < n[i]; j++)
            total += grad[i][j] * grad[i][j];
    total = sqrt(total);
    double scale = 1;
    if (o->clip_norm > 0)
        scale = fmin(1.0, o->clip_norm / (total + 1e-6));
    for (int i = 0; i < np; i++)
        for (int64_t j = 0; j < n[i]; j++) {
            double w = p[i][j], g = grad[i][j] * scale;
            if (o->kind == CLNN_OPTIM_SGD) {
                g += o->weight_decay * w;
                if (o->momentum > 0) {
                    double b = t == 1 ? g : o->momentum * st[i].a[j] + (1 - o->dampening) * g;
                    st[i].a[j] = b;
                    g = o->nesterov ? g + o->momentum * b : b;
                }
                p[i][j] = w - lr * g;
            } else if (o->kind == CLNN_OPTIM_RMSPROP) {
                g += o->weight_decay * w;
                double s = o->alpha * st[i].a[j] + (1 - o->alpha) * g * g, var = s;
                st[i].a[j] = s;
                if (o->centered) {
                    double a = o->alpha * st[i].b[j] + (1 - o->alpha) * g;
                    st[i].b[j] = a;
                    var = s - a * a;
                }
                double d = sqrt(var) + o->eps;
                if (o->momentum > 0) {
                    st[i].c[j] = o->momentum * st[i].c[j] + g / d;
                    p[i][j] = w - lr * st[i].c[j];
                } else {
                    p[i][j] = w - lr * g / d;
                }
            } else {
                if (o->kind == CLNN_OPTIM_ADAMW)
                    w *= 1 - lr * o->weight_decay;
                else
                    g += o->weight_decay * w;
                double m = o->beta1 * st[i].a[j] + (1 - o->beta1) * g;
                double v = o->beta2 * st[i].b[j] + (1 - o->beta2) * g * g;
                st[i].a[j] = m;
                st[i].b[j] = v;
                double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
                if (o->keras_epsilon)
                    p[i][j] = w - lr * sqrt(bc2) / bc1 * m / (sqrt(v) + o->eps);
                else
                    p[i][j] = w - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + o->eps);
            }
        }
    return total;
}

/* ---- (1) every optimizer against the host reference ---------------------------------------- */
typedef struct host_case {
    const char *name;
    clnn_optim_kind kind;
    float lr, momentum, dampening, weight_decay, eps, clip;
    int nesterov, centered, keras_epsilon;
    clnn_schedule_kind schedule;
    float gscale; /* gradients uniform in [-gscale, gscale) */
} host_case;

static const host_case host_cases[] = {
    {"sgd", CLNN_OPTIM_SGD, 0.1f, 0, 0, 0, 0, 0, 0, 0, 0, CLNN_SCHEDULE_CONSTANT, 1},
    {"sgd momentum", CLNN_OPTIM_SGD, 0.1f, 0.9f, 0, 0, 0, 0, 0, 0, 0, CLNN_SCHEDULE_CONSTANT, 1},
    {"sgd nesterov wd", CLNN_OPTIM_SGD, 0.05f, 0.9f, 0, 0.01f, 0, 0, 1, 0, 0, CLNN_SCHEDULE_STEP,
     1},
    {"sgd dampening wd clip", CLNN_OPTIM_SGD, 0.05f, 0.8f, 0.3f, 0.1f, 0, 2.0f, 0, 0, 0,
     CLNN_SCHEDULE_COSINE, 1},
    {"adam", CLNN_OPTIM_ADAM, 0.01f, 0, 0, 0, 1e-7f, 0, 0, 0, 0, CLNN_SCHEDULE_CONSTANT, 1},
    {"adam keras epsilon", CLNN_OPTIM_ADAM, 0.01f, 0, 0, 0, 1e-3f, 0, 0, 0, 1,
     CLNN_SCHEDULE_CONSTANT, 1},
    {"adam wd clip", CLNN_OPTIM_ADAM, 0.01f, 0, 0, 0.1f, 1e-8f, 1.5f, 0, 0, 0,
     CLNN_SCHEDULE_EXPONENTIAL, 1},
    {"adam no clip (norm below max)", CLNN_OPTIM_ADAM, 0.01f, 0, 0, 0, 1e-8f, 1e4f, 0, 0, 0,
     CLNN_SCHEDULE_CONSTANT, 1},
    {"adamw", CLNN_OPTIM_ADAMW, 0.01f, 0, 0, 0.1f, 1e-7f, 0, 0, 0, 0, CLNN_SCHEDULE_CONSTANT, 1},
    {"rmsprop", CLNN_OPTIM_RMSPROP, 0.01f, 0, 0, 0, 1e-8f, 0, 0, 0, 0, CLNN_SCHEDULE_CONSTANT, 1},
    {"rmsprop centered momentum wd", CLNN_OPTIM_RMSPROP, 0.01f, 0.5f, 0, 0.05f, 1e-8f, 0, 0, 1, 0,
     CLNN_SCHEDULE_CONSTANT, 1},
    {"rmsprop clip", CLNN_OPTIM_RMSPROP, 0.01f, 0, 0, 0, 1e-8f, 3.0f, 0, 0, 0,
     CLNN_SCHEDULE_CONSTANT, 2},
};

static uint64_t rng_state;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

START_TEST(test_host)
{
    const host_case *hc = &host_cases[_i];
    const int np = 4, steps = 5;
    const int64_t n[4] = {37, 1, 1025, 300};
    fixture f;
    fixture_make(&f, np, n);
    clnn_optim_options o;
    clnn_optim_options_init(&o, hc->kind);
    o.lr = hc->lr;
    o.momentum = hc->momentum;
    o.dampening = hc->dampening;
    o.weight_decay = hc->weight_decay;
    if (hc->eps > 0)
        o.eps = hc->eps;
    o.clip_norm = hc->clip;
    o.nesterov = hc->nesterov;
    o.centered = hc->centered;
    o.keras_epsilon = hc->keras_epsilon;
    o.schedule.kind = hc->schedule;
    o.schedule.per_update = 1;
    o.schedule.step_size = 2;
    o.schedule.gamma = 0.7f;
    o.schedule.t_max = 4;
    o.schedule.eta_min = 0.001f;
    rng_state = 42 + (uint64_t)_i;
    double *p[4], *g[4];
    ref_state st[4];
    for (int i = 0; i < np; i++) {
        p[i] = malloc((size_t)n[i] * sizeof(double));
        g[i] = malloc((size_t)n[i] * sizeof(double));
        st[i].a = calloc((size_t)n[i], sizeof(double));
        st[i].b = calloc((size_t)n[i], sizeof(double));
        st[i].c = calloc((size_t)n[i], sizeof(double));
        for (int64_t j = 0; j < n[i]; j++)
            p[i][j] = (float)uniform();
        write_param(f.p[i], p[i], n[i]);
    }
    clnn_optimizer *opt;
    ck_assert_msg(clnn_optimizer_create(f.g, &o, &opt) == CLNN_OK, "%s",
                  clnn_ctx_last_error(f.ctx));
    ck_assert_uint_eq(clnn_optimizer_param_count(opt), (size_t)np);
    char msg[256];
    for (int t = 1; t <= steps; t++) {
        for (int i = 0; i < np; i++)
            for (int64_t j = 0; j < n[i]; j++)
                g[i][j] = (float)(uniform() * hc->gscale);
        double lr = ref_lr(&o, o.lr, t - 1);
        ck_assert_msg(fabs(clnn_optimizer_get_lr(opt) - lr) <= 1e-6 * lr,
                      "%s step %d: lr %g, "
                      "expected %g",
                      hc->name, t, (double)clnn_optimizer_get_lr(opt), lr);
        double norm = ref_step(&o, np, n, p, g, st, t, lr);
        fixture_run(&f, g);
        ck_assert_msg(clnn_optimizer_step(opt) == CLNN_OK, "%s", clnn_ctx_last_error(f.ctx));
        for (int i = 0; i < np; i++) {
            char what[64];
            snprintf(what, sizeof what, "%s step %d p%d", hc->name, t, i);
            ck_assert_msg(compare(what, f.p[i], p[i], n[i], 2e-5, 2e-6, msg, sizeof msg), "%s",
                          msg);
        }
        if (o.clip_norm > 0) {
            float got;
            ck_assert_int_eq(clnn_optimizer_grad_norm(opt, &got), CLNN_OK);
            ck_assert_msg(fabs(got - norm) <= 1e-5 * norm, "%s: norm %g, expected %g", hc->name,
                          (double)got, norm);
        }
    }
    ck_assert_uint_eq(clnn_optimizer_steps(opt), (uint64_t)steps);
    clnn_optimizer_destroy(opt);
    for (int i = 0; i < np; i++) {
        free(p[i]);
        free(g[i]);
        free(st[i].a);
        free(st[i].b);
        free(st[i].c);
    }
    fixture_free(&f);
}
END_TEST

/* ---- (2) golden: torch.optim and the schedulers ------------------------------------------- */
START_TEST(test_golden)
{
    char err[256], msg[256];
    golden_file *gf = golden_load("optim", err, sizeof err);
    ck_assert_msg(gf, "%s", err);
    const golden_case *gc = &gf->cases[_i];
    clnn_optim_options o;
    if (!strncmp(gc->name, "sched_", 6)) {
        /* a one-parameter graph; the counter advanced by clnn_optimizer_schedule_step */
        fixture f;
        fixture_make(&f, 1, (int64_t[]){1});
        clnn_optim_options_init(&o, CLNN_OPTIM_SGD);
        o.lr = (float)golden_float(gc, "lr", 0, 0);
        o.schedule.kind = (clnn_schedule_kind)golden_int(gc, "schedule", 0, 0);
        o.schedule.step_size = golden_int(gc, "step_size", 0, 1);
        o.schedule.t_max = golden_int(gc, "t_max", 0, 1);
        o.schedule.gamma = (float)golden_float(gc, "gamma", 0, 0.1);
        o.schedule.eta_min = (float)golden_float(gc, "eta_min", 0, 0);
        clnn_optimizer *opt;
        ck_assert_msg(clnn_optimizer_create(f.g, &o, &opt) == CLNN_OK, "%s",
                      clnn_ctx_last_error(f.ctx));
        for (int e = 0; e < 10; e++) {
            double want = golden_float(gc, "lrs", e, -1), got = clnn_optimizer_get_lr(opt);
            ck_assert_msg(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9,
                          "%s epoch %d: lr %.9g, expected %.9g", gc->name, e, got, want);
            ck_assert_int_eq(clnn_optimizer_schedule_step(opt), CLNN_OK);
        }
        clnn_optimizer_destroy(opt);
        fixture_free(&f);
        golden_free(gf);
        return;
    }
    const golden_tensor *p0 = golden_tensor_get(gc, "p0");
    ck_assert_msg(p0, "%s: no p0", gc->name);
    fixture f;
    fixture_make(&f, 1, &p0->numel);
    clnn_optim_options_init(&o, (clnn_optim_kind)golden_int(gc, "kind", 0, 0));
    o.lr = (float)golden_float(gc, "lr", 0, 0);
    o.momentum = (float)golden_float(gc, "momentum", 0, 0);
    o.dampening = (float)golden_float(gc, "dampening", 0, 0);
    o.weight_decay = (float)golden_float(gc, "weight_decay", 0, 0);
    o.beta1 = (float)golden_float(gc, "beta1", 0, 0.9);
    o.beta2 = (float)golden_float(gc, "beta2", 0, 0.999);
    o.eps = (float)golden_float(gc, "eps", 0, 0);
    o.alpha = (float)golden_float(gc, "alpha", 0, 0.99);
    o.clip_norm = (float)golden_float(gc, "clip", 0, 0);
    o.nesterov = golden_int(gc, "nesterov", 0, 0);
    o.centered = golden_int(gc, "centered", 0, 0);
    ck_assert_int_eq(golden_write(f.p[0], p0), 0);
    clnn_optimizer *opt;
    ck_assert_msg(clnn_optimizer_create(f.g, &o, &opt) == CLNN_OK, "%s: %s", gc->name,
                  clnn_ctx_last_error(f.ctx));
    for (int s = 1; s <= 3; s++) {
        char key[8];
        snprintf(key, sizeof key, "g%d", s);
        const golden_tensor *gs = golden_tensor_get(gc, key);
        snprintf(key, sizeof key, "p%d", s);
        const golden_tensor *ps = golden_tensor_get(gc, key);
        ck_assert_msg(gs && ps, "%s: step %d missing", gc->name, s);
        ck_assert_int_eq(golden_write(f.c[0], gs), 0);
        ck_assert_int_eq(clnn_graph_run(f.g), CLNN_OK);
        ck_assert_msg(clnn_optimizer_step(opt) == CLNN_OK, "%s", clnn_ctx_last_error(f.ctx));
        ck_assert_msg(golden_check(key, f.p[0], ps, 2e-5, 2e-6, msg, sizeof msg), "%s: %s",
                      gc->name, msg);
    }
    clnn_optimizer_destroy(opt);
    fixture_free(&f);
    golden_free(gf);
}
END_TEST

START_TEST(test_golden_loaded)
{
    ck_assert_msg(golden_count > 0, "tests/golden/optim.txt: %s",
                  golden_count < 0 ? golden_error : "no cases");
}
END_TEST

/* ---- (3) schedules: per schedule step vs per update, set_lr ------------------------------ */
START_TEST(test_schedule_per_call)
{
    fixture f;
    fixture_make(&f, 1, (int64_t[]){3});
    clnn_optim_options o;
    clnn_optim_options_init(&o, CLNN_OPTIM_SGD);
    o.lr = 0.2f;
    o.schedule.kind = CLNN_SCHEDULE_EXPONENTIAL;
    o.schedule.gamma = 0.5f;
    clnn_optimizer *opt;
    ck_assert_int_eq(clnn_optimizer_create(f.g, &o, &opt), CLNN_OK);
    double *g[1] = {(double[]){1, 1, 1}};
    write_param(f.p[0], (double[]){0, 0, 0}, 3);
    /* updates alone do not move a per-call schedule */
    for (int s = 0; s < 3; s++) {
        fixture_run(&f, g);
        ck_assert_int_eq(clnn_optimizer_step(opt), CLNN_OK);
    }
    ck_assert_float_eq_tol(clnn_optimizer_get_lr(opt), 0.2f, 1e-7f);
    ck_assert_int_eq(clnn_optimizer_schedule_step(opt), CLNN_OK);
    ck_assert_float_eq_tol(clnn_optimizer_get_lr(opt), 0.1f, 1e-7f);
    /* the schedule scales the base rate set by set_lr */
    ck_assert_int_eq(clnn_optimizer_set_lr(opt, 1.0f), CLNN_OK);
    ck_assert_float_eq_tol(clnn_optimizer_get_lr(opt), 0.5f, 1e-7f);
    ck_assert_int_eq(clnn_optimizer_set_lr(opt, -1.0f), CLNN_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(clnn_ctx_last_error(f.ctx), "lr"));
    /* the parameter moved by 3 steps of 0.2 then one of 0.5: p = -0.6 - 0.5 */
    fixture_run(&f, g);
    ck_assert_int_eq(clnn_optimizer_step(opt), CLNN_OK);
    float got[3];
    ck_assert_int_eq(clnn_tensor_read(f.p[0], got, sizeof got), CLNN_OK);
    ck_assert_float_eq_tol(got[0], -1.1f, 1e-6f);
    clnn_optimizer_destroy(opt);
    fixture_free(&f);
}
END_TEST

/* ---- (4) clipping: the scale applied and the no-clip case, many parameters ---------------- */
START_TEST(test_clip_many)
{
    /* sizes that take the maximum number of partial groups and a single element */
    const int64_t n[3] = {70001, 1, 129};
    fixture f;
    fixture_make(&f, 3, n);
    for (int pass = 0; pass < 2; pass++) {
        clnn_optim_options o;
        clnn_optim_options_init(&o, CLNN_OPTIM_SGD);
        o.lr = 1.0f;
        o.clip_norm = pass == 0 ? 10.0f : 1e6f; /* clipped, then not */
        rng_state = 7;
        double *p[3], *g[3], total = 0;
        for (int i = 0; i < 3; i++) {
            p[i] = calloc((size_t)n[i], sizeof(double));
            g[i] = malloc((size_t)n[i] * sizeof(double));
            for (int64_t j = 0; j < n[i]; j++) {
                g[i][j] = (float)uniform();
                total += g[i][j] * g[i][j];
            }
            write_param(f.p[i], p[i], n[i]);
        }
        total = sqrt(total);
        double scale = fmin(1.0, o.clip_norm / (total + 1e-6));
        ck_assert(pass == 1 || scale < 0.2);
        clnn_optimizer *opt;
        ck_assert_int_eq(clnn_optimizer_create(f.g, &o, &opt), CLNN_OK);
        fixture_run(&f, g);
        ck_assert_int_eq(clnn_optimizer_step(opt), CLNN_OK);
        float norm;
        ck_assert_int_eq(clnn_optimizer_grad_norm(opt, &norm), CLNN_OK);
        ck_assert_msg(fabs(norm - total) <= 1e-5 * total, "norm %g, expected %g", (double)norm,
                      total);
        char msg[256];
        for (int i = 0; i < 3; i++) {
            for (int64_t j = 0; j < n[i]; j++)
                p[i][j] = -g[i][j] * scale;
            ck_assert_msg(compare("p", f.p[i], p[i], n[i], 1e-5, 1e-7, msg, sizeof msg),
                          "pass %d p%d: %s", pass, i, msg);
            /* the gradients themselves are left as they were */
            ck_assert_msg(
                compare("grad", clnn_tensor_grad(f.p[i]), g[i], n[i], 0, 0, msg, sizeof msg), "%s",
                msg);
            free(p[i]);
            free(g[i]);
        }
        clnn_optimizer_destroy(opt);
    }
    fixture_free(&f);
}
END_TEST

/* ---- (5) errors ------------------------------------------------------------------------------ */
START_TEST(test_error_no_backward)
{
    clnn_ctx *ctx;
    clnn_graph *g;
    ck_assert_int_eq(clnn_ctx_create(&ctx, NULL), CLNN_OK);
    ck_assert_int_eq(clnn_graph_create(ctx, &g), CLNN_OK);
    clnn_tensor *p = clnn_param(g, "p", 1, (int64_t[]){4});
    ck_assert_ptr_nonnull(clnn_sum(g, p, 0, NULL, 0));
    clnn_optim_options o;
    clnn_optim_options_init(&o, CLNN_OPTIM_ADAM);
    clnn_optimizer *opt = (clnn_optimizer *)&o;
    ck_assert_int_eq(clnn_optimizer_create(g, &o, &opt), CLNN_ERR_STATE);
    ck_assert_ptr_null(opt);
    ck_assert_ptr_nonnull(strstr(clnn_ctx_last_error(ctx), "backward"));
    ck_assert_int_eq(clnn_optimizer_create(NULL, &o, &opt), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_optimizer_create(g, NULL, &opt), CLNN_ERR_INVALID);
    ck_assert_int_eq(clnn_optimizer_step(NULL), CLNN_ERR_INVALID);
    clnn_optimizer_destroy(NULL);
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
}
END_TEST

typedef struct bad_case {
    const char *name, *expect; /* expect: a substring of the message */
    clnn_optim_kind kind;
    int field;
    float value;
} bad_case;

enum {
    F_LR,
    F_BETA1,
    F_BETA2,
    F_EPS,
    F_MOMENTUM,
    F_NESTEROV,
    F_STEP_SIZE,
    F_GAMMA,
    F_TMAX,
    F_CLIP,
    F_KIND,
    F_ALPHA
};
static const bad_case bad_cases[] = {
    {"negative lr", "lr", CLNN_OPTIM_SGD, F_LR, -0.1f},
    {"NaN lr", "lr", CLNN_OPTIM_ADAM, F_LR, NAN},
    {"beta1 = 1", "beta1", CLNN_OPTIM_ADAM, F_BETA1, 1.0f},
    {"negative beta2", "beta2", CLNN_OPTIM_ADAMW, F_BETA2, -0.5f},
    {"negative eps", "eps", CLNN_OPTIM_RMSPROP, F_EPS, -1e-8f},
    {"negative momentum", "momentum", CLNN_OPTIM_SGD, F_MOMENTUM, -0.9f},
    {"nesterov without momentum", "Nesterov", CLNN_OPTIM_SGD, F_NESTEROV, 0},
    {"step_size 0", "step_size", CLNN_OPTIM_SGD, F_STEP_SIZE, 0},
    {"gamma 0", "gamma", CLNN_OPTIM_SGD, F_GAMMA, 0},
    {"t_max 0", "t_max", CLNN_OPTIM_SGD, F_TMAX, 0},
    {"negative clip_norm", "clip_norm", CLNN_OPTIM_ADAM, F_CLIP, -1},
    {"unknown kind", "kind", CLNN_OPTIM_SGD, F_KIND, 9},
    {"alpha > 1", "alpha", CLNN_OPTIM_RMSPROP, F_ALPHA, 1.5f},
};

START_TEST(test_error_options)
{
    const bad_case *b = &bad_cases[_i];
    fixture f;
    fixture_make(&f, 1, (int64_t[]){5});
    clnn_optim_options o;
    clnn_optim_options_init(&o, b->kind);
    switch (b->field) {
    case F_LR:
        o.lr = b->value;
        break;
    case F_BETA1:
        o.beta1 = b->value;
        break;
    case F_BETA2:
        o.beta2 = b->value;
        break;
    case F_EPS:
        o.eps = b->value;
        break;
    case F_MOMENTUM:
        o.momentum = b->value;
        break;
    case F_NESTEROV:
        o.nesterov = 1;
        o.momentum = b->value;
        break;
    case F_STEP_SIZE:
        o.schedule.kind = CLNN_SCHEDULE_STEP;
        o.schedule.step_size = 0;
        break;
    case F_GAMMA:
        o.schedule.kind = CLNN_SCHEDULE_EXPONENTIAL;
        o.schedule.gamma = 0;
        break;
    case F_TMAX:
        o.schedule.kind = CLNN_SCHEDULE_COSINE;
        o.schedule.t_max = 0;
        break;
    case F_CLIP:
        o.clip_norm = b->value;
        break;
    case F_KIND:
        o.kind = (clnn_optim_kind)9;
        break;
    case F_ALPHA:
        o.alpha = b->value;
        break;
    }
    clnn_optimizer *opt = NULL;
    ck_assert_int_eq(clnn_optimizer_create(f.g, &o, &opt), CLNN_ERR_INVALID);
    ck_assert_ptr_null(opt);
    ck_assert_msg(strstr(clnn_ctx_last_error(f.ctx), b->expect), "%s: message '%s' lacks '%s'",
                  b->name, clnn_ctx_last_error(f.ctx), b->expect);
    fixture_free(&f);
}
END_TEST

START_TEST(test_defaults)
{
    clnn_optim_options o;
    clnn_optim_options_init(&o, CLNN_OPTIM_ADAM);
    ck_assert_float_eq(o.eps, 1e-7f);
    ck_assert_float_eq(o.beta1, 0.9f);
    ck_assert_float_eq(o.beta2, 0.999f);
    ck_assert_float_eq(o.lr, 1e-3f);
    clnn_optim_options_init(&o, CLNN_OPTIM_ADAMW);
    ck_assert_float_eq(o.weight_decay, 0.01f);
    clnn_optim_options_init(&o, CLNN_OPTIM_RMSPROP);
    ck_assert_float_eq(o.alpha, 0.99f);
    ck_assert_float_eq(o.eps, 1e-8f);
    ck_assert_float_eq(o.momentum, 0.0f);
    clnn_optim_options_init(&o, CLNN_OPTIM_SGD);
    ck_assert_float_eq(o.lr, 0.01f);
    ck_assert_int_eq(o.schedule.kind, CLNN_SCHEDULE_CONSTANT);
    ck_assert_float_eq(o.clip_norm, 0.0f);
}
END_TEST

static Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_defaults);
    tcase_add_loop_test(tc, test_host, 0, (int)(sizeof host_cases / sizeof host_cases[0]));
    tcase_add_test(tc, test_schedule_per_call);
    tcase_add_test(tc, test_clip_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_error_no_backward);
    tcase_add_loop_test(tc, test_error_options, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_golden_loaded);
    if (golden_count > 0)
        tcase_add_loop_test(tc, test_golden, 0, golden_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* reading a text file only (no OpenCL before check forks) */
    golden_file *f = golden_load("optim", golden_error, sizeof golden_error);
    golden_count = f ? f->ncases : -1;
    golden_free(f);
    SRunner *sr = srunner_create(optim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
