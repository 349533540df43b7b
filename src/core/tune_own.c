/* tune_own.c — tuned choices of clnn's own kernels: the convolution algorithm per shape.
 *
 * op_conv.c asks clnn__conv_algo_tuned for a node's algorithm; this file answers from a table
 * per context, loaded from the device's own-kernel tuning file (own-<hash>.tune in the cache
 * directory, keyfile.c) at the first question. clnn_graph_tune fills the table by measurement:
 * it runs a graph once per algorithm with every convolution forced onto it (where it can run
 * the node), timing each convolution node alone (the queue is drained after every node) and
 * comparing its output with the built-in rules' output, then keeps the fastest that matched per
 * shape and writes the file. Not here: the rules (op_conv.c), the algorithms (conv_gemm.c,
 * conv_kernels.c), CLBlast's parameters (tune.c, gemm.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* 2: the own SGEMM reads packed panels; 3: its work-items pack their own panels (its GEMM_TM
 * and the convolution algorithms' times changed each time); files of an older version were
 * measured on the older kernels and are ignored */
#define OWN_MAGIC "clnn-own-tuning 3"
#define OWN_WHAT  "own-kernel tuning file"

static const char *const ALGO_NAMES[CLNN__CONV_ALGOS] = {
    "im2col+gemm", "direct", "rows-bwd-weight", "rows-forward", "winograd",
};
static const int CONV_OPS[] = {CLNN_OP_CONV2D, CLNN_OP_CONV2D_TRANSPOSE, CLNN_OP_CONV2D_BWD_INPUT,
                               CLNN_OP_CONV2D_BWD_WEIGHT};
#define NCONV_OPS (sizeof CONV_OPS / sizeof *CONV_OPS)

const char *clnn_conv_algo_name(int algo)
{
    return algo >= 0 && algo < CLNN__CONV_ALGOS ? ALGO_NAMES[algo] : "?";
}

/* ---- the table ------------------------------------------------------------------------------ */
/* Everything but the batch. */
static int same_geometry(const clnn__conv_key *a, const clnn__conv_key *b)
{
    return a->op == b->op && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride_h == b->stride_h &&
           a->stride_w == b->stride_w && a->pad_h == b->pad_h && a->pad_w == b->pad_w &&
           a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->groups == b->groups;
}

static int table_put(clnn_ctx *ctx, const clnn__conv_key *key, int algo)
{
    for (size_t i = 0; i < ctx->nconv_choices; i++)
        if (same_geometry(&ctx->conv_choices[i].key, key) && ctx->conv_choices[i].key.N == key->N) {
            ctx->conv_choices[i].algo = algo;
            return 0;
        }
    if (clnn__grow((void **)&ctx->conv_choices, &ctx->conv_choices_cap, ctx->nconv_choices + 1,
                   sizeof *ctx->conv_choices))
        return -1;
    ctx->conv_choices[ctx->nconv_choices].key = *key;
    ctx->conv_choices[ctx->nconv_choices++].algo = algo;
    return 0;
}

int clnn__conv_algo_tuned(clnn_ctx *ctx, const clnn__conv_key *key)
{
    if (ctx->conv_algo_force)
        return ctx->conv_algo_force - 1;
    if (!ctx->own_ready)
        clnn__own_tune_load(ctx);
    int best = -1;
    double dist = INFINITY;
    for (size_t i = 0; i < ctx->nconv_choices; i++) {
        const clnn__conv_choice *c = &ctx->conv_choices[i];
        if (!same_geometry(&c->key, key))
            continue;
        double d = fabs(log((double)c->key.N / (double)(key->N > 0 ? key->N : 1)));
        if (d < dist) {
            dist = d;
            best = c->algo;
        }
    }
    return best;
}

int clnn_conv_algo(const clnn_tensor *t)
{
    clnn__conv_key key;
    int valid[CLNN__CONV_ALGOS];
    if (!t || t->kind != CLNN__OP || clnn__conv_algos(t, &key, valid))
        return -1;
    return clnn__conv_algo_of(t);
}

void clnn__own_tune_free(clnn_ctx *ctx)
{
    free(ctx->conv_choices);
    ctx->conv_choices = NULL;
    ctx->nconv_choices = ctx->conv_choices_cap = 0;
}

/* ---- the file ------------------------------------------------------------------------------- */
/* Body lines: "conv <op> N C H W K R S stride_h stride_w pad_h pad_w dil_h dil_w groups <algo>",
 * at most one "gemm-tm <rows per work-item of the own SGEMM>", comments starting with '#'. */
static int op_of(const char *name)
{
    for (size_t i = 0; i < NCONV_OPS; i++)
        if (!strcmp(clnn__ops[CONV_OPS[i]]->name, name))
            return CONV_OPS[i];
    return -1;
}

static int algo_of(const char *name)
{
    for (int a = 0; a < CLNN__CONV_ALGOS; a++)
        if (!strcmp(ALGO_NAMES[a], name))
            return a;
    return -1;
}

/* Parses body into ctx's table (replacing it) and *gemm_tm (0 when the file has none): 0, or -1
 * with the reason in why. */
static int parse_body(clnn_ctx *ctx, char *body, int *gemm_tm, char *why, size_t why_size)
{
    clnn__own_tune_free(ctx);
    int lineno = 0;
    for (char *line = body; *line;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = 0;
        lineno++;
        int tm = 0, tn = 0;
        if (sscanf(line, "gemm-tm %d%n", &tm, &tn) == 1 && !line[tn]) {
            if (!clnn__gemm_tm_valid(tm)) {
                snprintf(why, why_size, "line %d: gemm-tm %d is not one of 4, 6, 8, 10, 12", lineno,
                         tm);
                clnn__own_tune_free(ctx);
                return -1;
            }
            *gemm_tm = tm;
        } else if (*line && *line != '#') {
            char op[40], algo[40];
            clnn__conv_key k;
            int n = 0;
            int got = sscanf(line, "conv %39s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %39s%n", op,
                             &k.N, &k.C, &k.H, &k.W, &k.K, &k.R, &k.S, &k.stride_h, &k.stride_w,
                             &k.pad_h, &k.pad_w, &k.dil_h, &k.dil_w, &k.groups, algo, &n);
            k.op = got == 16 ? op_of(op) : -1;
            int a = got == 16 ? algo_of(algo) : -1;
            int positive = k.N > 0 && k.C > 0 && k.H > 0 && k.W > 0 && k.K > 0 && k.R > 0 &&
                           k.S > 0 && k.stride_h > 0 && k.stride_w > 0 && k.dil_h > 0 &&
                           k.dil_w > 0 && k.groups > 0 && k.pad_h >= 0 && k.pad_w >= 0;
            if (got != 16 || line[n] || k.op < 0 || a < 0 || !positive) {
                snprintf(why, why_size, "line %d of the body is not a valid entry: '%.80s'", lineno,
                         line);
                clnn__own_tune_free(ctx);
                return -1;
            }
            if (table_put(ctx, &k, a)) {
                snprintf(why, why_size, "out of host memory");
                clnn__own_tune_free(ctx);
                return -1;
            }
        }
        if (!eol)
            break;
        line = eol + 1;
    }
    return 0;
}

static void own_head(const clnn_ctx *ctx, char *buf, size_t size)
{
    clnn__keyfile_head(ctx, OWN_MAGIC, NULL, buf, size);
}

static int own_path(const clnn_ctx *ctx, char *path, size_t size)
{
    char head[2048];
    own_head(ctx, head, sizeof head);
    return clnn__keyfile_path(ctx, "own", head, path, size);
}

void clnn__own_tune_load(clnn_ctx *ctx)
{
    if (ctx->own_ready)
        return;
    ctx->own_ready = 1;
    const char *nt = getenv("CLNN_NO_TUNE");
    if (nt && *nt && strcmp(nt, "0")) {
        snprintf(ctx->own_status, sizeof ctx->own_status, "not loaded: CLNN_NO_TUNE=%s", nt);
        return;
    }
    char path[1024], head[2048], why[512];
    if (own_path(ctx, path, sizeof path)) {
        snprintf(ctx->own_status, sizeof ctx->own_status,
                 "not loaded: no cache directory (options.no_cache or CLNN_NO_CACHE=1)");
        return;
    }
    own_head(ctx, head, sizeof head);
    char *body = NULL;
    int tm = 0;
    int r = clnn__keyfile_read(path, head, &body, why, sizeof why);
    if (r > 0 && parse_body(ctx, body, &tm, why, sizeof why))
        r = -1;
    if (r > 0 && tm)
        ctx->own_gemm_tm = tm;
    free(body);
    if (r == 0)
        snprintf(ctx->own_status, sizeof ctx->own_status, "no tuning file (clnn-bench --tune)");
    else if (r < 0) {
        snprintf(ctx->own_status, sizeof ctx->own_status, "ignored %.1000s: %.280s", path, why);
        clnn__log(ctx, CLNN_LOG_WARN, "own-kernel tuning file ignored: %s: %s", path, why);
    } else {
        snprintf(ctx->own_status, sizeof ctx->own_status,
                 "applied from %.1000s (%zu shapes, GEMM_TM %d)", path, ctx->nconv_choices,
                 tm ? tm : 8);
        clnn__log(ctx, CLNN_LOG_INFO, "own-kernel tuning applied: %s", ctx->own_status);
    }
}

const char *clnn_own_tuning_status(clnn_ctx *ctx)
{
    if (!ctx)
        return "no context";
    if (!ctx->usable)
        return "the context is not usable (its creation failed)";
    clnn__own_tune_load(ctx);
    return ctx->own_status;
}

/* Writes ctx's table (comments: one line each, may be NULL) to path. */
static clnn_status own_write(clnn_ctx *ctx, const char *path, const char *comments)
{
    size_t cap = 256 + ctx->nconv_choices * 160 + (comments ? strlen(comments) : 0);
    char *body = malloc(cap), head[2048];
    if (!body)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for the %s", OWN_WHAT);
    size_t len = 0;
    if (comments && *comments)
        len += (size_t)snprintf(body + len, cap - len, "%s", comments);
    if (clnn__gemm_tm_valid(ctx->own_gemm_tm))
        len += (size_t)snprintf(body + len, cap - len, "gemm-tm %d\n", ctx->own_gemm_tm);
    for (size_t i = 0; i < ctx->nconv_choices; i++) {
        const clnn__conv_key *k = &ctx->conv_choices[i].key;
        len += (size_t)snprintf(body + len, cap - len,
                                "conv %s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %s\n",
                                clnn__ops[k->op]->name, k->N, k->C, k->H, k->W, k->K, k->R, k->S,
                                k->stride_h, k->stride_w, k->pad_h, k->pad_w, k->dil_h, k->dil_w,
                                k->groups, ALGO_NAMES[ctx->conv_choices[i].algo]);
    }
    own_head(ctx, head, sizeof head);
    clnn_status st = clnn__keyfile_write(ctx, path, head, body, OWN_WHAT);
    free(body);
    return st;
}

/* ---- the search ----------------------------------------------------------------------------- */
/* A candidate must beat the rules' algorithm by this factor to be stored instead: the machine's
 * noise must not turn a tie into a change. */
#define RULES_MARGIN 0.95

typedef struct tnode {
    clnn_tensor *t;
    clnn__conv_key key;
    int valid[CLNN__CONV_ALGOS];
    int checked[CLNN__CONV_ALGOS];
    double ms[CLNN__CONV_ALGOS], rules_ms;
    int rules_algo; /* what the rules choose */
    int algo;       /* chosen */
} tnode;

typedef struct tstate {
    clnn_ctx *ctx;
    const clnn_conv_tune_options *o;
    tnode *nodes;
    size_t n, cap;
    int round;  /* -1: the rules; else the forced algorithm */
    int verify; /* compare each forced node's output with the rules' on the same inputs */
    double prev;
    float *got, *ref; /* host copies of one node's output */
    size_t buf_cap;
    clnn_status err; /* of a read or a re-run in the hook */
    int tm;          /* > 0: a GEMM_TM run, whose GEMM nodes are checked against GEMM_TM 8 */
    int tm_ok;       /* every checked node matched */
} tstate;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void say(const tstate *s, const char *fmt, ...) CLNN__PRINTF(2, 3);
static void say(const tstate *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    clnn__log(s->ctx, CLNN_LOG_INFO, "conv tuning: %s", line);
    if (s->o->progress)
        s->o->progress(s->o->progress_user, line);
}

static tnode *find(const tstate *s, const clnn_tensor *t)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->nodes[i].t == t)
            return &s->nodes[i];
    return NULL;
}

/* got against ref: within 1e-3 of ref's largest |value| (Winograd and the summation orders
 * differ in rounding, not more); -1 when ref itself is not finite (nothing to compare with) */
static int matches(const float *got, const float *ref, size_t count)
{
    double scale = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(ref[i]))
            return -1;
        scale = fmax(scale, fabs((double)ref[i]));
    }
    double tol = 1e-3 * scale + 1e-6;
    for (size_t i = 0; i < count; i++)
        if (!(fabs((double)got[i] - (double)ref[i]) <= tol))
            return 0;
    return 1;
}

/* The node's output right after it ran (its buffer holds it even where the plan reuses it later
 * in the run; clnn_tensor_read refuses such values). */
static clnn_status read_now(tstate *s, clnn_tensor *t, float *dst)
{
    cl_event done = NULL;
    clnn_status st = clnn__tensor_read_async(t, dst, &done);
    if (!st && done && clWaitForEvents(1, &done) != CL_SUCCESS)
        st = clnn__fail(s->ctx, CLNN_ERR_OPENCL, "clnn_graph_tune: reading '%s' failed", t->name);
    if (done)
        clReleaseEvent(done);
    return st;
}

/* Checks node n, just run with the round's algorithm: its output, then the rules' output of the
 * same inputs (the node runs again with the rules; upstream nodes' own rounding or a flipped
 * max-pool choice must not count against it). */
static void verify_node(tstate *s, tnode *n)
{
    size_t count = (size_t)n->t->numel;
    if (s->round == n->rules_algo) {
        n->checked[s->round] = 1;
        return;
    }
    clnn_status st = read_now(s, n->t, s->got);
    if (!st) {
        int force = s->ctx->conv_algo_force;
        s->ctx->conv_algo_force = 0;
        st = clnn__ops[n->t->op]->emit(n->t);
        s->ctx->conv_algo_force = force;
    }
    if (!st)
        st = read_now(s, n->t, s->ref);
    if (st)
        s->err = st;
    else
        n->checked[s->round] = matches(s->got, s->ref, count);
}

/* Host room for one output of count floats in s->got and s->ref. */
static clnn_status host_room(tstate *s, size_t count)
{
    if (count <= s->buf_cap)
        return CLNN_OK;
    float *got = realloc(s->got, count * sizeof(float));
    if (got)
        s->got = got;
    float *ref = got ? realloc(s->ref, count * sizeof(float)) : NULL;
    if (ref)
        s->ref = ref;
    if (!got || !ref)
        return clnn__fail(s->ctx, CLNN_ERR_NOMEM, "clnn_graph_tune: out of host memory");
    s->buf_cap = count;
    return CLNN_OK;
}

/* Checks node t, just run with GEMM_TM s->tm, against its output with the default GEMM_TM 8 on
 * the same inputs. */
static void verify_tm(tstate *s, clnn_tensor *t)
{
    size_t count = (size_t)t->numel;
    clnn_status st = host_room(s, count);
    if (!st)
        st = read_now(s, t, s->got);
    if (!st) {
        s->ctx->own_gemm_tm = 8;
        st = clnn__ops[t->op]->emit(t);
        s->ctx->own_gemm_tm = s->tm;
    }
    if (!st)
        st = read_now(s, t, s->ref);
    if (st)
        s->err = st;
    else if (matches(s->got, s->ref, count) == 0)
        s->tm_ok = 0;
}

/* After each node of a run: drain the queue; time the node if it is a convolution of this
 * round, or verify it in a verifying run. */
static void after_node(void *user, const clnn_tensor *t)
{
    tstate *s = user;
    clFinish(s->ctx->queue);
    if (s->tm) {
        if (t->kind == CLNN__OP && (t->op == CLNN_OP_MATMUL || find(s, t)) && !s->err)
            verify_tm(s, (clnn_tensor *)t);
        return;
    }
    double now = now_s();
    tnode *n = find(s, t);
    if (n && (s->round < 0 || n->valid[s->round]) && !s->err) {
        double ms = (now - s->prev) * 1e3;
        double *slot = s->round < 0 ? &n->rules_ms : &n->ms[s->round];
        if (!s->verify && !(*slot <= ms))
            *slot = ms;
        if (s->verify && s->round >= 0)
            verify_node(s, n);
    }
    s->prev = now_s();
}

/* One run of g with the hook; restores the dropout counter so every run sees the same draws */
static clnn_status run_once(clnn_graph *g, tstate *s, uint64_t runs0)
{
    clnn_graph_set_run_count(g, runs0);
    clFinish(s->ctx->queue);
    s->prev = now_s();
    s->err = CLNN_OK;
    clnn_status st = clnn__graph_run_hooked(g, after_node, s);
    return st ? st : s->err;
}

/* Chooses per group of nodes with the same key the algorithm with the least total time among
 * those that matched on every node of the group, the rules' unless another is faster by the
 * margin; stores it. */
static clnn_status choose(tstate *s)
{
    for (size_t i = 0; i < s->n; i++) {
        tnode *a = &s->nodes[i];
        a->algo = -2; /* not yet decided */
        /* the rules' algorithm ran in two rounds: its best time counts */
        if (a->rules_algo >= 0 && !(a->ms[a->rules_algo] <= a->rules_ms))
            a->ms[a->rules_algo] = a->rules_ms;
    }
    for (size_t i = 0; i < s->n; i++) {
        tnode *a = &s->nodes[i];
        if (a->algo != -2)
            continue;
        double sum[CLNN__CONV_ALGOS];
        int best = -1;
        for (int al = 0; al < CLNN__CONV_ALGOS; al++) {
            sum[al] = 0;
            for (size_t j = i; j < s->n; j++) {
                tnode *b = &s->nodes[j];
                if (b->algo != -2 || memcmp(&a->key, &b->key, sizeof a->key))
                    continue;
                if (!b->valid[al] || b->checked[al] != 1 || !isfinite(b->ms[al]))
                    sum[al] = INFINITY;
                else
                    sum[al] += b->ms[al];
            }
            if (isfinite(sum[al]) && (best < 0 || sum[al] < sum[best]))
                best = al;
        }
        int rules = a->rules_algo;
        if (best >= 0 && rules >= 0 && best != rules && isfinite(sum[rules]) &&
            !(sum[best] < RULES_MARGIN * sum[rules]))
            best = rules;
        for (size_t j = i; j < s->n; j++)
            if (s->nodes[j].algo == -2 && !memcmp(&a->key, &s->nodes[j].key, sizeof a->key))
                s->nodes[j].algo = best;
        if (best >= 0 && table_put(s->ctx, &a->key, best))
            return clnn__fail(s->ctx, CLNN_ERR_NOMEM, "clnn_graph_tune: out of host memory");
    }
    return CLNN_OK;
}

static void fill_report(const tstate *s, clnn_conv_tune_report *r)
{
    for (size_t i = 0; i < s->n; i++) {
        const tnode *n = &s->nodes[i];
        /* the rules' algorithm at its best of both its rounds, as the choice was made */
        double rules = n->rules_algo >= 0 && isfinite(n->ms[n->rules_algo]) ? n->ms[n->rules_algo]
                                                                            : n->rules_ms;
        double tuned = n->algo >= 0 ? n->ms[n->algo] : rules;
        r->rules_ms += rules;
        r->tuned_ms += tuned;
        if (r->nrows >= CLNN_CONV_TUNE_MAX_ROWS)
            continue;
        clnn_conv_tune_row *row = &r->rows[r->nrows++];
        snprintf(row->node, sizeof row->node, "%s", n->t->name);
        snprintf(row->op, sizeof row->op, "%s", clnn__ops[n->t->op]->name);
        const clnn__conv_key *k = &n->key;
        row->n = k->N, row->c = k->C, row->h = k->H, row->w = k->W, row->k = k->K;
        row->r = k->R, row->s = k->S, row->stride_h = k->stride_h, row->stride_w = k->stride_w;
        row->pad_h = k->pad_h, row->pad_w = k->pad_w, row->groups = k->groups;
        row->rules_ms = n->rules_ms;
        row->rules_algo = n->rules_algo;
        for (int a = 0; a < CLNN__CONV_ALGOS; a++) {
            row->ms[a] = n->valid[a] ? n->ms[a] : NAN;
            row->checked[a] = n->checked[a];
        }
        row->algo = n->algo;
    }
    r->nnodes = s->n;
}

void clnn_conv_tune_options_init(clnn_conv_tune_options *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

/* The convolution nodes of g, with what the rules choose (the table is detached: no tuned
 * choice answers). */
static clnn_status collect(clnn_graph *g, tstate *s)
{
    for (size_t i = 0; i < g->nnodes; i++) {
        clnn_tensor *t = g->nodes[i];
        tnode n;
        memset(&n, 0, sizeof n);
        if (t->kind != CLNN__OP || t->is_view || clnn__conv_algos(t, &n.key, n.valid))
            continue;
        if (clnn__grow((void **)&s->nodes, &s->cap, s->n + 1, sizeof *s->nodes))
            return clnn__fail(s->ctx, CLNN_ERR_NOMEM, "clnn_graph_tune: out of host memory");
        n.t = t;
        n.rules_ms = NAN;
        n.rules_algo = clnn__conv_algo_of(t);
        for (int a = 0; a < CLNN__CONV_ALGOS; a++) {
            n.ms[a] = NAN;
            n.checked[a] = -1;
        }
        s->nodes[s->n++] = n;
        clnn_status st = host_room(s, (size_t)t->numel);
        if (st)
            return st;
    }
    return CLNN_OK;
}

/* Whether round (an algorithm; -1: the rules) has a node to run */
static int round_used(const tstate *s, int round)
{
    for (size_t i = 0; i < s->n; i++)
        if (round < 0 || s->nodes[i].valid[round])
            return 1;
    return 0;
}

/* The measuring runs: first one verifying run per algorithm that some node can run (which also
 * compiles its kernels), then reps timed runs of each, interleaved (rules, 0, 1, ... then again)
 * so that the machine's slow moments fall on every algorithm alike. A run that fails (an
 * algorithm that cannot run a shape on this device, e.g. out of memory) disqualifies that
 * algorithm for the nodes it can run. */
static clnn_status rounds(clnn_graph *g, tstate *s, int reps)
{
    uint64_t runs0 = clnn_graph_run_count(g);
    int failed[CLNN__CONV_ALGOS + 1] = {0}; /* [round + 1] */
    clnn_status st = CLNN_OK;
    for (int pass = 0; pass <= reps && !st; pass++) {
        double t0 = now_s();
        for (int round = -1; round < CLNN__CONV_ALGOS && !st; round++) {
            if (failed[round + 1] || !round_used(s, round))
                continue;
            s->round = round;
            s->ctx->conv_algo_force = round + 1;
            s->verify = pass == 0;
            clnn_status rst = run_once(g, s, runs0);
            if (rst && round < 0) { /* the rules themselves fail: nothing to compare with */
                st = rst;
                break;
            }
            if (rst) {
                say(s, "%s failed on this graph: %.300s", ALGO_NAMES[round],
                    clnn_ctx_last_error(s->ctx));
                failed[round + 1] = 1;
                for (size_t i = 0; i < s->n; i++)
                    if (s->nodes[i].valid[round]) {
                        s->nodes[i].checked[round] = 0;
                        s->nodes[i].ms[round] = NAN;
                    }
            }
        }
        if (!st)
            say(s, "%s: %.1f s", pass ? "timed runs" : "checks and first runs", now_s() - t0);
    }
    s->ctx->conv_algo_force = 0;
    s->verify = 0;
    clnn_graph_set_run_count(g, runs0);
    return st;
}

/* options.gemm_tile: the whole graph timed with each GEMM_TM (after one checking run each, the
 * values interleaved like the algorithms); the fastest that matched is kept in ctx if it beats
 * the default 8 by the margin. */
static const int TMS[5] = {4, 6, 8, 10, 12};

static clnn_status search_tm(clnn_graph *g, tstate *s, int reps, clnn_conv_tune_report *r)
{
    clnn_ctx *ctx = s->ctx;
    const char *env = getenv("CLNN_GEMM_TM");
    if (!clnn__gemm_own(ctx) || (env && *env)) {
        say(s, "GEMM_TM not searched: %s",
            env && *env ? "$CLNN_GEMM_TM is set" : "the device runs GEMMs on CLBlast");
        return CLNN_OK;
    }
    uint64_t runs0 = clnn_graph_run_count(g);
    int before = ctx->own_gemm_tm, ok[5];
    clnn_status st = CLNN_OK;
    for (int i = 0; i < 5; i++) {
        r->gemm_tm_ms[i] = NAN;
        ok[i] = 1;
    }
    for (int pass = 0; pass <= reps && !st; pass++)
        for (int i = 0; i < 5 && !st; i++) {
            if (!ok[i])
                continue;
            ctx->own_gemm_tm = TMS[i];
            clnn_status rst;
            if (pass == 0) {
                s->tm = TMS[i];
                s->tm_ok = 1;
                rst = run_once(g, s, runs0);
                s->tm = 0;
                ok[i] = !rst && s->tm_ok;
                if (!rst && !s->tm_ok)
                    say(s, "GEMM_TM %d: results differ from GEMM_TM 8", TMS[i]);
            } else {
                clnn_graph_set_run_count(g, runs0);
                clFinish(ctx->queue);
                double t0 = now_s();
                rst = clnn_graph_run(g);
                if (!rst && clFinish(ctx->queue) != CL_SUCCESS)
                    rst = clnn__fail(ctx, CLNN_ERR_OPENCL, "clnn_graph_tune: clFinish failed");
                double ms = (now_s() - t0) * 1e3;
                if (!rst && !(r->gemm_tm_ms[i] <= ms))
                    r->gemm_tm_ms[i] = ms;
            }
            if (rst && TMS[i] == 8)
                st = rst; /* the default itself fails: the graph does */
            else if (rst) {
                say(s, "GEMM_TM %d failed: %.300s", TMS[i], clnn_ctx_last_error(ctx));
                ok[i] = 0;
            }
        }
    clnn_graph_set_run_count(g, runs0);
    if (st) {
        ctx->own_gemm_tm = before;
        return st;
    }
    int best = 2; /* 8 */
    for (int i = 0; i < 5; i++) {
        if (!ok[i])
            r->gemm_tm_ms[i] = NAN;
        if (ok[i] && r->gemm_tm_ms[i] < r->gemm_tm_ms[best])
            best = i;
    }
    if (!(r->gemm_tm_ms[best] < RULES_MARGIN * r->gemm_tm_ms[2]))
        best = 2;
    ctx->own_gemm_tm = r->gemm_tm = TMS[best];
    say(s, "GEMM_TM %d: graph %.2f ms (GEMM_TM 8: %.2f ms)", TMS[best], r->gemm_tm_ms[best],
        r->gemm_tm_ms[2]);
    return CLNN_OK;
}

clnn_status clnn_graph_tune(clnn_graph *g, const clnn_conv_tune_options *options,
                            clnn_conv_tune_report *report)
{
    if (!g)
        return CLNN_ERR_INVALID;
    clnn_ctx *ctx = g->ctx;
    if (report)
        memset(report, 0, sizeof *report);
    if (g->status)
        return g->status;
    clnn_conv_tune_options defaults;
    clnn_conv_tune_options_init(&defaults);
    const clnn_conv_tune_options *o = options ? options : &defaults;
    if (o->reps < 0 || o->reps > 1000)
        return clnn__fail(ctx, CLNN_ERR_INVALID,
                          "clnn_graph_tune: expected reps from 0 (the default, 3) to 1000, got %d",
                          o->reps);
    clnn_status st = clnn_graph_plan(g);
    if (st)
        return st;
    double t0 = now_s();
    clnn__own_tune_load(ctx); /* merge with the file: load it before the table changes */
    tstate s = {.ctx = ctx, .o = o};
    /* the rules' baseline must not see the table */
    clnn__conv_choice *saved = ctx->conv_choices;
    size_t saved_n = ctx->nconv_choices, saved_cap = ctx->conv_choices_cap;
    ctx->conv_choices = NULL;
    ctx->nconv_choices = ctx->conv_choices_cap = 0;
    if (!(st = collect(g, &s)) && s.n) {
        say(&s, "%zu convolution nodes on %s", s.n, ctx->info.name);
        st = rounds(g, &s, o->reps ? o->reps : 3);
    }
    ctx->conv_choices = saved;
    ctx->nconv_choices = saved_n;
    ctx->conv_choices_cap = saved_cap;
    clnn_conv_tune_report *r = report ? report : malloc(sizeof *r);
    if (!st && !r)
        st = clnn__fail(ctx, CLNN_ERR_NOMEM, "clnn_graph_tune: out of host memory");
    if (r && !st)
        memset(r, 0, sizeof *r);
    if (!st && s.n && !(st = choose(&s))) {
        fill_report(&s, r);
        say(&s, "%zu nodes: %.2f ms with the rules, %.2f ms tuned", s.n, r->rules_ms, r->tuned_ms);
    }
    if (!st && o->gemm_tile)
        st = search_tm(g, &s, o->reps ? o->reps : 3, r);
    if (!st && (s.n || r->gemm_tm)) {
        if (!o->no_write) {
            char path[1024], comments[256];
            snprintf(comments, sizeof comments,
                     "# written by clnn_graph_tune: %zu shapes, GEMM_TM %d\n", ctx->nconv_choices,
                     ctx->own_gemm_tm ? ctx->own_gemm_tm : 8);
            if (own_path(ctx, path, sizeof path))
                st = clnn__fail(ctx, CLNN_ERR_IO,
                                "clnn_graph_tune: cannot store the choices: the context has no "
                                "cache directory (options.no_cache or CLNN_NO_CACHE=1); they stay "
                                "in effect in this context");
            else if (!(st = own_write(ctx, path, comments))) {
                snprintf(r->path, sizeof r->path, "%s", path);
                snprintf(ctx->own_status, sizeof ctx->own_status,
                         "set by clnn_graph_tune, written to %.1000s", path);
                say(&s, "written to %s", path);
            }
        }
        r->seconds = now_s() - t0;
    }
    if (!report)
        free(r);
    free(s.nodes);
    free(s.got);
    free(s.ref);
    return st;
}
