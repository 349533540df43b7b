/* optim.c — the optimizers (SGD, Adam, AdamW, RMSprop), their learning-rate schedules and
 * clipping by global norm. An optimizer holds the leaves of one graph that have a gradient, their
 * device state (momentum, first and second moments: zero-filled buffers of its own) and the
 * kernels of kernels/optim.cl; a step enqueues the norm reduction (when clipping) and one fused
 * update kernel per leaf into the context's queue, with no host synchronisation. Scalars that
 * depend on the step (learning rate, bias corrections) are computed here in double and passed as
 * kernel arguments. Formulas: include/clnn.h (they follow torch.optim). What does not live here:
 * the graph's run (src/core/queue.c) and the gradients (src/core/graph.c). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"

#define OPTIM_WG         64 /* as OPTIM_WG in kernels/optim.cl */
#define OPTIM_MAX_GROUPS 64 /* work-groups of one leaf's partial sum of squares */
#define OPTIM_NSTATE     3
#define OPTIM_PI         3.14159265358979323846

enum { K_SGD, K_ADAM, K_RMSPROP, K_NORM_PARTIAL, K_NORM_FINAL, K_COUNT };
static const char *const KERNEL_NAMES[K_COUNT] = {"optim_sgd", "optim_adam", "optim_rmsprop",
                                                  "optim_norm_partial", "optim_norm_final"};

typedef struct optim_param {
    clnn_tensor *leaf;
    const clnn_tensor *external;        /* the caller's tensor of a bound leaf (attach) */
    clnn__storage *state[OPTIM_NSTATE]; /* SGD: buf; Adam: m, v; RMSprop: sq, avg, buf */
    int groups;                         /* of the norm's partial pass */
    int slot;                           /* first partial sum of this leaf */
} optim_param;

struct clnn_optimizer {
    clnn_ctx *ctx;
    clnn_graph *graph;
    clnn_optim_options o;
    double base_lr;
    uint64_t steps, epoch;
    optim_param *params;
    size_t nparams;
    cl_kernel kernels[K_COUNT];
    clnn__storage *partials; /* (sum of groups) partial sums of squares */
    clnn__storage *scale;    /* [0] clipping scale, [1] norm before clipping, [2] 1: finite */
    int npartials;
    size_t wg; /* work-group of the reductions: a power of two <= OPTIM_WG */
};

void clnn_optim_options_init(clnn_optim_options *o, clnn_optim_kind kind)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->alpha = 0.99f;
    o->schedule = (clnn_schedule_options){CLNN_SCHEDULE_CONSTANT, 1, 0.1f, 1, 0.0f, 0};
    switch (kind) {
    case CLNN_OPTIM_SGD:
        o->lr = 0.01f;
        break;
    case CLNN_OPTIM_ADAMW:
        o->weight_decay = 0.01f;
        /* fall through */
    case CLNN_OPTIM_ADAM:
        o->lr = 1e-3f;
        o->eps = 1e-7f;
        break;
    case CLNN_OPTIM_RMSPROP:
        o->lr = 0.01f;
        o->eps = 1e-8f;
        break;
    }
}

/* ---- options ------------------------------------------------------------------------------ */
static int finite_in(double x, double lo, double hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

static clnn_status check_options(clnn_ctx *ctx, const clnn_optim_options *o)
{
    const char *bad = NULL;
    double val = 0;
#define CHECK(cond, field)                                                                         \
    if (!bad && !(cond)) {                                                                         \
        bad = #field;                                                                              \
        val = (double)o->field;                                                                    \
    }
    if (o->kind < CLNN_OPTIM_SGD || o->kind > CLNN_OPTIM_RMSPROP)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: unknown optimizer kind %d (expected 0 to 3)",
                          (int)o->kind);
    CHECK(finite_in(o->lr, 0, DBL_MAX), lr);
    CHECK(finite_in(o->weight_decay, 0, DBL_MAX), weight_decay);
    CHECK(finite_in(o->clip_norm, 0, DBL_MAX), clip_norm);
    if (o->kind == CLNN_OPTIM_SGD || o->kind == CLNN_OPTIM_RMSPROP)
        CHECK(finite_in(o->momentum, 0, DBL_MAX), momentum);
    if (o->kind == CLNN_OPTIM_SGD)
        CHECK(finite_in(o->dampening, 0, 1), dampening);
    if (o->kind == CLNN_OPTIM_ADAM || o->kind == CLNN_OPTIM_ADAMW) {
        CHECK(isfinite(o->beta1) && o->beta1 >= 0 && o->beta1 < 1, beta1);
        CHECK(isfinite(o->beta2) && o->beta2 >= 0 && o->beta2 < 1, beta2);
    }
    if (o->kind != CLNN_OPTIM_SGD)
        CHECK(finite_in(o->eps, 0, DBL_MAX), eps);
    if (o->kind == CLNN_OPTIM_RMSPROP)
        CHECK(finite_in(o->alpha, 0, 1), alpha);
#undef CHECK
    if (bad)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: invalid %s %g (expected a finite value in the "
                          "documented range: lr, weight_decay, eps, momentum, clip_norm >= 0, "
                          "betas in [0, 1), dampening and alpha in [0, 1])",
                          bad, val);
    if (o->kind == CLNN_OPTIM_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: Nesterov momentum needs momentum > 0 and "
                          "dampening 0 (got momentum %g, dampening %g)",
                          (double)o->momentum, (double)o->dampening);
    const clnn_schedule_options *s = &o->schedule;
    if (s->kind < CLNN_SCHEDULE_CONSTANT || s->kind > CLNN_SCHEDULE_COSINE)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: unknown schedule kind %d (expected 0 to 3)",
                          (int)s->kind);
    if (s->kind == CLNN_SCHEDULE_STEP && s->step_size < 1)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: step schedule: step_size %d, expected >= 1",
                          s->step_size);
    if ((s->kind == CLNN_SCHEDULE_STEP || s->kind == CLNN_SCHEDULE_EXPONENTIAL) &&
        !(isfinite(s->gamma) && s->gamma > 0))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: schedule gamma %g, expected a finite value > 0",
                          (double)s->gamma);
    if (s->kind == CLNN_SCHEDULE_COSINE && (s->t_max < 1 || !finite_in(s->eta_min, 0, DBL_MAX)))
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_create: cosine schedule: t_max %d (expected >= 1), "
                          "eta_min %g (expected >= 0)",
                          s->t_max, (double)s->eta_min);
    return CLNN_OK;
}

/* ---- schedule ----------------------------------------------------------------------------- */
static double scheduled_lr(const clnn_optimizer *opt)
{
    const clnn_schedule_options *s = &opt->o.schedule;
    const double lr0 = opt->base_lr, e = (double)opt->epoch;
    switch (s->kind) {
    case CLNN_SCHEDULE_STEP:
        return lr0 * pow(s->gamma, floor(e / s->step_size));
    case CLNN_SCHEDULE_EXPONENTIAL:
        return lr0 * pow(s->gamma, e);
    case CLNN_SCHEDULE_COSINE:
        return s->eta_min + (lr0 - s->eta_min) * (1 + cos(OPTIM_PI * e / s->t_max)) / 2;
    default:
        return lr0;
    }
}

float clnn_optimizer_get_lr(const clnn_optimizer *opt)
{
    return opt ? (float)scheduled_lr(opt) : 0.0f;
}

clnn_status clnn_optimizer_set_lr(clnn_optimizer *opt, float lr)
{
    if (!opt)
        return CLNN_ERR_INVALID;
    if (!finite_in(lr, 0, DBL_MAX))
        return clnn__fail(opt->ctx, CLNN_ERR_INVALID,
                          "clnn_optimizer_set_lr: lr %g, expected a finite value >= 0", (double)lr);
    opt->base_lr = lr;
    return CLNN_OK;
}

clnn_status clnn_optimizer_schedule_step(clnn_optimizer *opt)
{
    if (!opt)
        return CLNN_ERR_INVALID;
    opt->epoch++;
    return CLNN_OK;
}

uint64_t clnn_optimizer_steps(const clnn_optimizer *opt)
{
    return opt ? opt->steps : 0;
}

size_t clnn_optimizer_param_count(const clnn_optimizer *opt)
{
    return opt ? opt->nparams : 0;
}

/* ---- create / destroy --------------------------------------------------------------------- */
void clnn_optimizer_destroy(clnn_optimizer *opt)
{
    if (!opt)
        return;
    for (size_t i = 0; i < opt->nparams; i++)
        for (int k = 0; k < OPTIM_NSTATE; k++)
            clnn__storage_release(opt->params[i].state[k]);
    for (int k = 0; k < K_COUNT; k++)
        if (opt->kernels[k])
            clReleaseKernel(opt->kernels[k]);
    clnn__storage_release(opt->partials);
    clnn__storage_release(opt->scale);
    free(opt->params);
    free(opt);
}

/* A zero-filled device buffer of n floats. */
static clnn_status zeros(clnn_ctx *ctx, size_t n, const char *what, clnn__storage **out)
{
    clnn_status st = clnn__storage_create(ctx, n * sizeof(float), out);
    if (st)
        return st;
    const float zero = 0.0f;
    cl_int err = clEnqueueFillBuffer(ctx->queue, (*out)->mem, &zero, sizeof zero, 0,
                                     n * sizeof(float), 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clEnqueueFillBuffer zeroing the optimizer's %s", what);
    return CLNN_OK;
}

static int state_count(const clnn_optim_options *o)
{
    switch (o->kind) {
    case CLNN_OPTIM_SGD:
        return o->momentum > 0 ? 1 : 0;
    case CLNN_OPTIM_ADAM:
    case CLNN_OPTIM_ADAMW:
        return 2;
    default:
        return 3; /* sq always; avg and buf are 1-element dummies when unused */
    }
}

static clnn_status make_state(clnn_optimizer *opt, optim_param *p)
{
    const clnn_optim_options *o = &opt->o;
    const size_t n = (size_t)p->leaf->numel;
    for (int k = 0; k < state_count(o); k++) {
        size_t len = n;
        if (o->kind == CLNN_OPTIM_RMSPROP &&
            ((k == 1 && !o->centered) || (k == 2 && !(o->momentum > 0))))
            len = 1;
        clnn_status st = zeros(opt->ctx, len, "state", &p->state[k]);
        if (st)
            return st;
    }
    return CLNN_OK;
}

clnn_status clnn_optimizer_create(clnn_graph *g, const clnn_optim_options *options,
                                  clnn_optimizer **out)
{
    if (out)
        *out = NULL;
    if (!g)
        return CLNN_ERR_INVALID;
    clnn_ctx *ctx = g->ctx;
    if (!options || !out)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "clnn_optimizer_create: %s is NULL",
                          options ? "out" : "options");
    if (g->status)
        return clnn__fail(ctx, g->status, "clnn_optimizer_create: the graph has an error: %s",
                          g->error ? g->error : "");
    if (!g->has_backward)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_optimizer_create: the graph has no backward pass (call "
                          "clnn_graph_backward first)");
    clnn_status st = check_options(ctx, options);
    if (st)
        return st;
    size_t count = 0;
    for (size_t i = 0; i < g->nnodes; i++) {
        const clnn_tensor *t = g->nodes[i];
        if ((t->kind == CLNN__PARAM || t->kind == CLNN__BOUND) && t->requires_grad && t->grad)
            count++;
    }
    if (!count)
        return clnn__fail(ctx, CLNN_ERR_STATE,
                          "clnn_optimizer_create: the graph has no parameter or bound tensor with "
                          "a gradient");
    if ((st = clnn_graph_plan(g)) != CLNN_OK)
        return st;
    clnn_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt || !(opt->params = calloc(count, sizeof *opt->params))) {
        free(opt);
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "clnn_optimizer_create: out of host memory");
    }
    opt->ctx = ctx;
    opt->graph = g;
    opt->o = *options;
    opt->base_lr = options->lr;
    opt->wg = 1;
    while (opt->wg * 2 <= OPTIM_WG && opt->wg * 2 <= ctx->info.max_work_group_size)
        opt->wg *= 2;
    for (size_t i = 0; i < g->nnodes && st == CLNN_OK; i++) {
        clnn_tensor *t = g->nodes[i];
        if (!((t->kind == CLNN__PARAM || t->kind == CLNN__BOUND) && t->requires_grad && t->grad))
            continue;
        if (t->dtype != CLNN_F32 || t->numel > INT_MAX / 2) {
            st = clnn__fail(ctx, CLNN_ERR_UNSUPPORTED,
                            "clnn_optimizer_create: '%s': expected an f32 tensor of at most "
                            "2^30 elements",
                            t->name);
            break;
        }
        optim_param *p = &opt->params[opt->nparams++];
        p->leaf = t;
        p->external = t->external;
        int64_t groups = (t->numel + (int64_t)opt->wg - 1) / (int64_t)opt->wg;
        p->groups = groups > OPTIM_MAX_GROUPS ? OPTIM_MAX_GROUPS : (int)groups;
        p->slot = opt->npartials;
        opt->npartials += p->groups;
        st = make_state(opt, p);
    }
    if (st == CLNN_OK && opt->o.clip_norm > 0)
        st = zeros(ctx, (size_t)opt->npartials, "partial sums", &opt->partials);
    if (st == CLNN_OK)
        st = zeros(ctx, 3, "clipping scale", &opt->scale);
    for (int k = 0; k < K_COUNT && st == CLNN_OK; k++)
        st = clnn__kernel_create(ctx, "optim", NULL, KERNEL_NAMES[k], &opt->kernels[k]);
    if (st) {
        clnn_optimizer_destroy(opt);
        return st;
    }
    *out = opt;
    return CLNN_OK;
}

clnn_status clnn__optimizer_attach(clnn_optimizer *opt, clnn_graph *g)
{
    if (!opt || !g)
        return CLNN_ERR_INVALID;
    if (g == opt->graph)
        return CLNN_OK;
    if (g->status || !g->has_backward)
        return clnn__fail(opt->ctx, CLNN_ERR_STATE, "optimizer: the graph to attach has %s",
                          g->status ? "an error" : "no backward pass");
    clnn_tensor **found = calloc(opt->nparams ? opt->nparams : 1, sizeof *found);
    if (!found)
        return clnn__fail(opt->ctx, CLNN_ERR_NOMEM, "optimizer: out of host memory");
    clnn_status st = CLNN_OK;
    for (size_t i = 0; i < opt->nparams && st == CLNN_OK; i++) {
        const clnn_tensor *ext = opt->params[i].external;
        for (size_t j = 0; ext && j < g->nnodes && !found[i]; j++) {
            clnn_tensor *t = g->nodes[j];
            if (t->kind == CLNN__BOUND && t->external == ext && t->requires_grad && t->grad)
                found[i] = t;
        }
        if (!found[i])
            st = clnn__fail(opt->ctx, CLNN_ERR_STATE,
                            "optimizer: '%s' is not a bound tensor with a gradient in the graph "
                            "to attach",
                            ext ? ext->name : "a parameter");
    }
    if (st == CLNN_OK)
        st = clnn_graph_plan(g);
    if (st == CLNN_OK) {
        for (size_t i = 0; i < opt->nparams; i++)
            opt->params[i].leaf = found[i];
        opt->graph = g;
    }
    free(found);
    return st;
}

/* ---- state for checkpoints ----------------------------------------------------------------- */
size_t clnn__optimizer_nparams(const clnn_optimizer *opt)
{
    return opt ? opt->nparams : 0;
}

const clnn_tensor *clnn__optimizer_external(const clnn_optimizer *opt, size_t i)
{
    return opt && i < opt->nparams ? opt->params[i].external : NULL;
}

clnn_tensor *clnn__optimizer_grad(const clnn_optimizer *opt, size_t i)
{
    return opt && i < opt->nparams && opt->params[i].leaf ? opt->params[i].leaf->grad : NULL;
}

int clnn__optimizer_nstate(const clnn_optimizer *opt)
{
    return opt ? state_count(&opt->o) : 0;
}

size_t clnn__optimizer_state_len(const clnn_optimizer *opt, size_t i, int k)
{
    if (!opt || i >= opt->nparams || k < 0 || k >= state_count(&opt->o))
        return 0;
    return opt->params[i].state[k]->bytes / sizeof(float);
}

clnn_status clnn__optimizer_state_rw(clnn_optimizer *opt, size_t i, int k, float *host, int write)
{
    size_t n = clnn__optimizer_state_len(opt, i, k);
    if (!n)
        return CLNN_ERR_INVALID;
    cl_mem mem = opt->params[i].state[k]->mem;
    cl_int err = write ? clEnqueueWriteBuffer(opt->ctx->queue, mem, CL_TRUE, 0, n * sizeof(float),
                                              host, 0, NULL, NULL)
                       : clEnqueueReadBuffer(opt->ctx->queue, mem, CL_TRUE, 0, n * sizeof(float),
                                             host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(opt->ctx, err, "%s of the optimizer state",
                             write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer");
    return CLNN_OK;
}

void clnn__optimizer_counters(clnn_optimizer *opt, uint64_t *steps, uint64_t *epoch,
                              double *base_lr, int set)
{
    if (!opt)
        return;
    if (set) {
        opt->steps = *steps;
        opt->epoch = *epoch;
        opt->base_lr = *base_lr;
    } else {
        *steps = opt->steps;
        *epoch = opt->epoch;
        *base_lr = opt->base_lr;
    }
}

void clnn__optimizer_detach(clnn_optimizer *opt)
{
    if (!opt)
        return;
    opt->graph = NULL;
    for (size_t i = 0; i < opt->nparams; i++)
        opt->params[i].leaf = NULL;
}

/* ---- step --------------------------------------------------------------------------------- */
static clnn_status launch(clnn_optimizer *opt, int k, size_t global, size_t local, const char *what)
{
    clnn_ctx *ctx = opt->ctx;
    if (local)
        global = (global + local - 1) / local * local;
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, opt->kernels[k], 1, NULL, &global,
                                        local ? &local : NULL, 0, NULL, ctx->profile ? &ev : NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clEnqueueNDRangeKernel of %s for '%s'", KERNEL_NAMES[k],
                             what);
    if (ev)
        clnn__prof_record(ctx, NULL, ev);
    return CLNN_OK;
}

/* The leaf's gradient buffer (planned storage, possibly a view's root). */
static clnn_status grad_of(clnn_optimizer *opt, const optim_param *p, cl_mem *mem, cl_int *off)
{
    const clnn_tensor *d = p->leaf->grad;
    if (!d->storage)
        return clnn__fail(opt->ctx, CLNN_ERR_STATE,
                          "clnn_optimizer_step: the gradient of '%s' has no buffer (was the "
                          "graph's plan released?)",
                          p->leaf->name);
    *mem = d->storage->mem;
    *off = (cl_int)d->offset;
    return CLNN_OK;
}

/* The norm pass: partial sums per leaf, then optim_norm_final's scale (loss: the loss whose
 * finiteness scale[2] includes, or NULL) */
static clnn_status clip_pass(clnn_optimizer *opt, const clnn_tensor *loss)
{
    clnn_ctx *ctx = opt->ctx;
    clnn_status st = CLNN_OK;
    cl_kernel k = opt->kernels[K_NORM_PARTIAL];
    for (size_t i = 0; i < opt->nparams && st == CLNN_OK; i++) {
        const optim_param *p = &opt->params[i];
        cl_mem g;
        cl_int goff, n = (cl_int)p->leaf->numel, slot = p->slot;
        if ((st = grad_of(opt, p, &g, &goff)) != CLNN_OK)
            break;
        st = clnn__set_args(ctx, k, "optim_norm_partial", 5, CLNN__ARG(g), CLNN__ARG(goff),
                            CLNN__ARG(n), CLNN__ARG(opt->partials->mem), CLNN__ARG(slot));
        if (st == CLNN_OK)
            st = launch(opt, K_NORM_PARTIAL, (size_t)p->groups * opt->wg, opt->wg, p->leaf->name);
    }
    if (st)
        return st;
    k = opt->kernels[K_NORM_FINAL];
    cl_int count = opt->npartials;
    float max_norm = opt->o.clip_norm;
    cl_mem lm = loss && loss->storage ? loss->storage->mem : opt->scale->mem;
    cl_int oloss = loss && loss->storage ? (cl_int)loss->offset : 0,
           has_loss = lm != opt->scale->mem;
    st = clnn__set_args(ctx, k, "optim_norm_final", 7, CLNN__ARG(opt->partials->mem),
                        CLNN__ARG(count), CLNN__ARG(opt->scale->mem), CLNN__ARG(max_norm),
                        CLNN__ARG(lm), CLNN__ARG(oloss), CLNN__ARG(has_loss));
    return st ? st : launch(opt, K_NORM_FINAL, opt->wg, opt->wg, "global norm");
}

static clnn_status update(clnn_optimizer *opt, const optim_param *p, double lr, cl_int clip)
{
    clnn_ctx *ctx = opt->ctx;
    const clnn_optim_options *o = &opt->o;
    cl_mem pm = p->leaf->storage->mem, g, scale = opt->scale->mem;
    cl_int n = (cl_int)p->leaf->numel, poff = (cl_int)p->leaf->offset, goff;
    clnn_status st = grad_of(opt, p, &g, &goff);
    if (st)
        return st;
    float flr = (float)lr, wd = o->weight_decay;
    if (o->kind == CLNN_OPTIM_SGD) {
        cl_mem buf = p->state[0] ? p->state[0]->mem : scale; /* unused when momentum == 0 */
        cl_int nesterov = o->nesterov != 0, first = opt->steps == 0;
        st = clnn__set_args(ctx, opt->kernels[K_SGD], "optim_sgd", 14, CLNN__ARG(n), CLNN__ARG(pm),
                            CLNN__ARG(poff), CLNN__ARG(g), CLNN__ARG(goff), CLNN__ARG(buf),
                            CLNN__ARG(scale), CLNN__ARG(clip), CLNN__ARG(flr),
                            CLNN__ARG(o->momentum), CLNN__ARG(o->dampening), CLNN__ARG(wd),
                            CLNN__ARG(nesterov), CLNN__ARG(first));
        return st ? st : launch(opt, K_SGD, (size_t)n, 0, p->leaf->name);
    }
    if (o->kind == CLNN_OPTIM_RMSPROP) {
        cl_int centered = o->centered != 0;
        st = clnn__set_args(ctx, opt->kernels[K_RMSPROP], "optim_rmsprop", 16, CLNN__ARG(n),
                            CLNN__ARG(pm), CLNN__ARG(poff), CLNN__ARG(g), CLNN__ARG(goff),
                            CLNN__ARG(p->state[0]->mem), CLNN__ARG(p->state[1]->mem),
                            CLNN__ARG(p->state[2]->mem), CLNN__ARG(scale), CLNN__ARG(clip),
                            CLNN__ARG(flr), CLNN__ARG(o->alpha), CLNN__ARG(o->eps), CLNN__ARG(wd),
                            CLNN__ARG(o->momentum), CLNN__ARG(centered));
        return st ? st : launch(opt, K_RMSPROP, (size_t)n, 0, p->leaf->name);
    }
    /* Adam and AdamW, step t = steps + 1 */
    const double t = (double)(opt->steps + 1);
    const double bc1 = 1 - pow(o->beta1, t), bc2 = 1 - pow(o->beta2, t);
    float step_size = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1 / sqrt(bc2));
    float eps = o->keras_epsilon ? (float)(o->eps / sqrt(bc2)) : o->eps;
    float decay = 1.0f;
    if (o->kind == CLNN_OPTIM_ADAMW) {
        decay = (float)(1 - lr * o->weight_decay);
        wd = 0.0f;
    }
    st = clnn__set_args(ctx, opt->kernels[K_ADAM], "optim_adam", 16, CLNN__ARG(n), CLNN__ARG(pm),
                        CLNN__ARG(poff), CLNN__ARG(g), CLNN__ARG(goff), CLNN__ARG(p->state[0]->mem),
                        CLNN__ARG(p->state[1]->mem), CLNN__ARG(scale), CLNN__ARG(clip),
                        CLNN__ARG(o->beta1), CLNN__ARG(o->beta2), CLNN__ARG(eps), CLNN__ARG(wd),
                        CLNN__ARG(decay), CLNN__ARG(step_size), CLNN__ARG(inv_sqrt_bc2));
    return st ? st : launch(opt, K_ADAM, (size_t)n, 0, p->leaf->name);
}

/* The update of every parameter; guarded: the norm pass ran just before
 * (clnn__optimizer_norm_async, with the loss), and the kernels skip themselves unless its scale[2]
 * says finite. */
static clnn_status step(clnn_optimizer *opt, int guarded)
{
    if (!opt)
        return CLNN_ERR_INVALID;
    if (!opt->graph || !opt->graph->planned)
        return clnn__fail(opt->ctx, CLNN_ERR_STATE,
                          "clnn_optimizer_step: the graph is not planned (run it first)");
    clnn_status st = CLNN_OK;
    cl_int clip = opt->o.clip_norm > 0;
    if (clip && !guarded)
        st = clip_pass(opt, NULL);
    if (guarded)
        clip |= 2; /* optim.cl's OPTIM_GUARDED */
    const double lr = scheduled_lr(opt);
    for (size_t i = 0; i < opt->nparams && st == CLNN_OK; i++)
        st = update(opt, &opt->params[i], lr, clip);
    if (st)
        return st;
    opt->steps++;
    if (opt->o.schedule.per_update)
        opt->epoch++;
    return CLNN_OK;
}

clnn_status clnn_optimizer_step(clnn_optimizer *opt)
{
    return step(opt, 0);
}

clnn_status clnn__optimizer_step_guarded(clnn_optimizer *opt)
{
    return step(opt, 1);
}

void clnn__optimizer_unstep(clnn_optimizer *opt)
{
    if (!opt || !opt->steps)
        return;
    opt->steps--;
    if (opt->o.schedule.per_update && opt->epoch)
        opt->epoch--;
}

/* The norm pass and the read of (scale, norm) into v, blocking or not */
static clnn_status norm_read(clnn_optimizer *opt, float v[2], cl_bool blocking,
                             const clnn_tensor *loss)
{
    if (!opt || !opt->graph || !opt->graph->planned)
        return CLNN_ERR_STATE;
    clnn_status st = CLNN_OK;
    if (!opt->partials)
        st = zeros(opt->ctx, (size_t)opt->npartials, "partial sums", &opt->partials);
    if (st == CLNN_OK)
        st = clip_pass(opt, loss);
    cl_int err = st ? CL_SUCCESS
                    : clEnqueueReadBuffer(opt->ctx->queue, opt->scale->mem, blocking, 0,
                                          2 * sizeof(float), v, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(opt->ctx, err, "clEnqueueReadBuffer of the gradient norm");
    return st;
}

clnn_status clnn__optimizer_norm(clnn_optimizer *opt, float *norm)
{
    float v[2];
    clnn_status st = norm_read(opt, v, CL_TRUE, NULL);
    if (st == CLNN_OK)
        *norm = v[1];
    return st;
}

clnn_status clnn__optimizer_norm_async(clnn_optimizer *opt, float v[2], const clnn_tensor *loss)
{
    return norm_read(opt, v, CL_FALSE, loss);
}

clnn_status clnn_optimizer_grad_norm(clnn_optimizer *opt, float *norm)
{
    if (!opt || !norm)
        return opt ? clnn__fail(opt->ctx, CLNN_ERR_INVALID, "clnn_optimizer_grad_norm: NULL")
                   : CLNN_ERR_INVALID;
    if (!(opt->o.clip_norm > 0) || !opt->steps)
        return clnn__fail(opt->ctx, CLNN_ERR_STATE, "clnn_optimizer_grad_norm: %s",
                          opt->o.clip_norm > 0 ? "no step was made yet" : "clipping is off");
    float v[2];
    cl_int err = clEnqueueReadBuffer(opt->ctx->queue, opt->scale->mem, CL_TRUE, 0, sizeof v, v, 0,
                                     NULL, NULL);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(opt->ctx, err, "clEnqueueReadBuffer of the gradient norm");
    *norm = v[1];
    return CLNN_OK;
}
