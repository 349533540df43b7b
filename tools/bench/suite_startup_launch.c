/* suite_startup_launch.c — two clnn-bench suites about fixed costs: `launch` (wall-clock cost
 * per queued kernel over a chain of LAUNCH_CHAIN tiny ops) and `startup` (process start to the
 * first kernel result, and to the end of the MNIST CNN's first training step, with cold and warm
 * program caches, in child processes that re-execute this binary with --startup-child). Not
 * here: throughput suites (suite_gemm_elementwise.c). */
#define _XOPEN_SOURCE 700 /* nftw */

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- launch --------------------------------------------------------------------------------- */
/* LAUNCH_CHAIN scale ops on 64 floats with alphas 2, 0.5, 2, ... and -1 last: the exact result
 * is -2 x only if every op ran, in order. */
void suite_launch(bench *b)
{
    print_header(b, "launch: a chain of clnn_scale ops on 64 floats; rate = wall time per kernel");
    float hx[64], hy[64];
    rng r = {0x5851f42d4c957f2du};
    rng_fill(&r, hx, 64, -1, 1);
    clnn_graph *g = NULL;
    clnn_status st = clnn_graph_create(b->ctx, &g);
    if (st) {
        fail_call(b, "clnn_graph_create", st);
        return;
    }
    clnn_tensor *x = clnn_input(g, "x", 1, (int64_t[]){64}), *y = x;
    for (int i = 0; i < LAUNCH_CHAIN; i++)
        y = clnn_scale(g, y, i == LAUNCH_CHAIN - 1 ? -1.0f : i % 2 ? 0.5f : 2.0f);
    if (graph_failed(b, g, "the launch chain"))
        goto out;
    if ((st = clnn_tensor_write(x, hx, sizeof hx)) || (st = clnn_graph_run(g)) ||
        (st = clnn_tensor_read(y, hy, sizeof hy))) {
        fail_call(b, "the first launch-chain run", st);
        goto out;
    }
    char shape[32], where[96] = "";
    snprintf(shape, sizeof shape, "%d x (64)", LAUNCH_CHAIN);
    result *res = add_result(b, "launch", "scale chain", shape);
    double worst = 0;
    for (int i = 0; i < 64; i++) {
        double err = fabs(hy[i] + 2.0 * hx[i]) / (hx[i] ? fabs(2.0 * hx[i]) : 1);
        if (!(err <= worst))
            snprintf(where, sizeof where, "y[%d] = %.8g, expected exactly %.8g", i, hy[i],
                     -2.0 * hx[i]);
        worst = err > worst || isnan(err) ? err : worst;
    }
    if (check_and_time(b, res, worst, 0, where, run_graph, g))
        goto out;
    res->unit = "us_per_launch";
    res->rate = res->median_ms * 1e3 / LAUNCH_CHAIN;
    res->extra_key[0] = "enqueue_us_per_launch";
    res->extra[0] = res->enqueue_ms * 1e3 / LAUNCH_CHAIN;
    res->extra_key[1] = "min_us_per_launch";
    res->extra[1] = res->min_ms * 1e3 / LAUNCH_CHAIN;
    snprintf(res->note, sizeof res->note, "enqueue %.2f us, min %.2f us", res->extra[0],
             res->extra[1]);
    print_row(b, res);
out:
    clnn_graph_destroy(g);
}

/* ---- startup -------------------------------------------------------------------------------- */
/* The MNIST CNN (the Keras example's layers; categorical cross-entropy, Adam) built, compiled and
 * trained on one batch of 128 fixed random images: its loss in *loss. */
static clnn_status cnn_first_step(clnn_ctx *ctx, double *loss)
{
    enum { B = 128 };
    static float x[B * 28 * 28];
    static int32_t labels[B];
    rng r = {0x2545f4914f6cdd1du};
    rng_fill(&r, x, B * 28 * 28, 0, 1);
    for (int i = 0; i < B; i++)
        labels[i] = i % 10;
    clnn_model *m = NULL;
    clnn_status st = clnn_model_create(ctx, NULL, &m);
    if (!st && clnn_model_input(m, "image", 3, (int64_t[]){1, 28, 28}) < 0)
        st = clnn_ctx_last_status(ctx);
    clnn_layer_spec l[6];
    const int nl = bench_cnn_layers(l);
    for (int i = 0; i < nl && !st; i++)
        if (clnn_model_push(m, &l[i]) < 0)
            st = clnn_ctx_last_status(ctx);
    clnn_compile_options c;
    clnn_compile_options_init(&c, CLNN_LOSS_CATEGORICAL_CROSSENTROPY, CLNN_OPTIM_ADAM);
    const clnn_data batch = {x, B, 3, {1, 28, 28}, labels, NULL};
    if (!st)
        st = clnn_model_compile(m, &c);
    if (!st)
        st = clnn_model_train_on_batch(m, &batch, loss);
    clnn_model_destroy(m);
    return st;
}

/* The child, `clnn-bench --startup-child CLNN_CACHE POCL_CACHE DEVICE WHAT`: from main() to the
 * first result of y = (a + b) @ w (64x64) read back (WHAT "graph"), or to the end of the MNIST
 * CNN's first training step (WHAT "cnn"). Prints "ok T_MAIN T_CTX T_DONE FROM_SOURCE FROM_CACHE
 * ERR" (CLOCK_MONOTONIC ms, the parent's clock too; ERR: the graph's largest error, the CNN's
 * loss) or "error MESSAGE". */
int startup_child(char **argv, double t_main)
{
    if (setenv("POCL_CACHE_DIR", argv[3], 1)) /* before any OpenCL call */
        return printf("error setenv: %s\n", strerror(errno)), 1;
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.cache_dir = argv[2];
    o.device = argv[4][0] ? argv[4] : NULL;
    clnn_ctx *ctx = NULL;
    clnn_graph *g = NULL;
    clnn_status st = clnn_ctx_create(&ctx, &o);
    double t_ctx = now_ms(), t_done = 0, worst = 0, expected;
    float ha[64 * 64], hb[64 * 64], hw[64 * 64], hy[64 * 64];
    rng r = {0x853c49e6748fea9bu};
    rng_fill(&r, ha, 64 * 64, -1, 1);
    rng_fill(&r, hb, 64 * 64, -1, 1);
    rng_fill(&r, hw, 64 * 64, -1, 1);
    const int cnn = !strcmp(argv[5], "cnn");
    if (!st && cnn) {
        st = cnn_first_step(ctx, &worst);
        t_done = now_ms();
    } else if (!st && !(st = clnn_graph_create(ctx, &g))) {
        const int64_t s[2] = {64, 64};
        clnn_tensor *a = clnn_input(g, "a", 2, s), *bb = clnn_input(g, "b", 2, s);
        clnn_tensor *w = clnn_input(g, "w", 2, s);
        clnn_tensor *y = clnn_matmul(g, clnn_add(g, a, bb), w, 0, 0);
        if (!(st = clnn_graph_status(g)) && !(st = clnn_tensor_write(a, ha, sizeof ha)) &&
            !(st = clnn_tensor_write(bb, hb, sizeof hb)) &&
            !(st = clnn_tensor_write(w, hw, sizeof hw)) && !(st = clnn_graph_run(g)))
            st = clnn_tensor_read(y, hy, sizeof hy);
        t_done = now_ms();
    }
    clnn_ctx_stats stats = {0};
    if (st) {
        printf("error %s: %s\n", clnn_status_name(st),
               !ctx                        ? clnn_status_text(st)
               : g && clnn_graph_status(g) ? clnn_graph_last_error(g)
                                           : clnn_ctx_last_error(ctx));
    } else {
        for (int i = 0; i < 64 * 64 && !cnn; i++)
            ha[i] += hb[i]; /* the same float sum as the device's add */
        for (size_t i = 0; i < 64 * 64 && !cnn; i++) {
            double e = gemm_err(ha, hw, 64, 64, i / 64, i % 64, hy[i], &expected);
            worst = e > worst || isnan(e) ? e : worst;
        }
        clnn_ctx_stats_get(ctx, &stats);
        printf("ok %.3f %.3f %.3f %u %u %.3e\n", t_main, t_ctx, t_done, stats.programs_from_source,
               stats.programs_from_cache, worst);
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    return st != CLNN_OK;
}

typedef struct startup_sample {
    double total_ms, load_ms, ctx_ms, run_ms, err;
    unsigned from_source, from_cache;
} startup_sample;

/* Runs one child with the given cache directories (what: "graph" or "cnn") and parses its report;
 * 0 on success. */
static int spawn_child(bench *b, const char *clnn_dir, const char *pocl_dir, const char *what,
                       startup_sample *s)
{
    char *dev = (char *)(b->device ? b->device : "");
    char *const args[] = {
        b->self, "--startup-child", (char *)clnn_dir, (char *)pocl_dir, dev, (char *)what, 0};
    char buf[1024];
    size_t len = 0;
    int fd[2], status = 0;
    if (pipe(fd))
        return fprintf(stderr, "clnn-bench: pipe: %s\n", strerror(errno)), -1;
    fflush(stdout);
    fflush(stderr);
    double t0 = now_ms(), t_main, t_ctx, t_done;
    pid_t pid = fork();
    if (pid == 0) { /* only async-signal-safe calls until exec */
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(b->self, args);
        _exit(127);
    }
    close(fd[1]);
    for (ssize_t got = 1; pid > 0 && got != 0 && len < sizeof buf - 1;) {
        got = read(fd[0], buf + len, sizeof buf - 1 - len);
        if (got < 0 && errno != EINTR)
            break;
        len += got > 0 ? (size_t)got : 0;
    }
    buf[len] = 0;
    close(fd[0]);
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return fprintf(stderr, "clnn-bench: running %s: %s\n", b->self, strerror(errno)), -1;
    if (sscanf(buf, "ok %lf %lf %lf %u %u %lf", &t_main, &t_ctx, &t_done, &s->from_source,
               &s->from_cache, &s->err) != 6 ||
        !WIFEXITED(status) || WEXITSTATUS(status)) {
        buf[strcspn(buf, "\n")] = 0;
        fprintf(stderr, "clnn-bench: start-up child (exit status %d) failed: %s\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, len ? buf : "no output");
        return -1;
    }
    *s = (startup_sample){t_done - t0, t_main - t0,    t_ctx - t_main, t_done - t_ctx,
                          s->err,      s->from_source, s->from_cache};
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Cache directories of each variant: 0 = the pair the cold run filled, 1 = a fresh empty one,
 * 2 = the pair of the CNN's runs (empty until its cold run). The CNN's first training step with
 * warm caches is the "warm start to the first training step" (target: 0.5 s). */
static const struct {
    const char *name, *what;
    int clnn_fresh, pocl_fresh;
} STARTUP_VARIANTS[] = {
    {"cold (both caches empty)", "graph", 0, 0}, /* runs first: the pair is still empty */
    {"warm (both caches filled)", "graph", 0, 0}, {"clnn cache only", "graph", 0, 1},
    {"pocl cache only", "graph", 1, 0},           {"mnist-cnn step, cold", "cnn", 2, 2},
    {"mnist-cnn step, warm", "cnn", 2, 2},
};
#define NVARIANTS 6
_Static_assert(NVARIANTS == STARTUP_RESULTS, "see bench.h");

void suite_startup(bench *b)
{
    print_header(b, "startup: process start to the first result of (a + b) @ w, 64x64, and to the "
                    "end of the MNIST CNN's first training step, in a child; cold = empty clnn "
                    "and POCL caches");
    int reps = b->reps_given ? b->reps : b->quick ? 1 : 3, ok = 1;
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    snprintf(base, sizeof base, "%s/clnn-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base)) {
        fprintf(stderr, "clnn-bench: mkdtemp %s: %s\n", base, strerror(errno));
        b->failures++;
        return;
    }
    double *ms = calloc((size_t)(NVARIANTS * reps), sizeof *ms);
    startup_sample last[NVARIANTS] = {{0}};
    double cold_ms = NAN;
    for (int r = 0; r < reps && (ok = ok && ms); r++) {
        static const char *const pairs[3] = {"first", "fresh", "cnn"};
        char dirs[3][2][4160]; /* [pair][clnn, pocl] */
        for (int f = 0; f < 3; f++)
            for (int p = 0; p < 2; p++) {
                snprintf(dirs[f][p], sizeof dirs[f][p], "%s/%s-%s-%d", base, pairs[f],
                         p ? "pocl" : "clnn", r);
                ok = ok && mkdir(dirs[f][p], 0700) == 0;
            }
        for (int v = 0; v < NVARIANTS && ok; v++) {
            ok = !spawn_child(b, dirs[STARTUP_VARIANTS[v].clnn_fresh][0],
                              dirs[STARTUP_VARIANTS[v].pocl_fresh][1], STARTUP_VARIANTS[v].what,
                              &last[v]);
            ms[v * reps + r] = last[v].total_ms;
        }
    }
    if (!ok) {
        fprintf(stderr, "clnn-bench: the startup suite failed in %s\n", base);
        b->failures++;
    }
    for (int v = 0; v < NVARIANTS && ok; v++) {
        const int cnn = !strcmp(STARTUP_VARIANTS[v].what, "cnn");
        result *res = add_result(b, "startup", STARTUP_VARIANTS[v].name,
                                 cnn ? "train step, b128" : "(a + b) @ w, 64");
        /* the CNN's check: a first loss near ln 10 (10 classes, Keras's initialisers), and the
         * warm run's loss the cold run's to the bit (the same seed, the same kernels) */
        const double err = !cnn                 ? last[v].err
                           : v == NVARIANTS - 2 ? fabs(last[v].err - log(10.0)) / log(10.0)
                           : last[v].err == last[v - 1].err ? 0.0
                                                            : 1.0;
        if (check_and_time(b, res, err, cnn ? 0.25 : GEMM_TOL * 8, "", NULL, NULL))
            continue;
        res->median_ms = median(&ms[v * reps], reps);
        res->min_ms = ms[v * reps];
        res->extra_key[0] = "cold_over_this";
        cold_ms = v == 0 || v == NVARIANTS - 2 ? res->median_ms : cold_ms;
        res->extra[0] = cold_ms / res->median_ms;
        res->extra_key[1] = "ctx_create_ms";
        res->extra[1] = last[v].ctx_ms;
        snprintf(res->note, sizeof res->note, "cold/this %.1fx; ctx %.0f + run %.0f ms",
                 res->extra[0], last[v].ctx_ms, last[v].run_ms);
        print_row(b, res);
    }
    if (ok && !b->json)
        printf("(last repetition: exec + loading %.1f ms; programs from source/cache: cold %u/%u, "
               "warm %u/%u)\n",
               last[1].load_ms, last[0].from_source, last[0].from_cache, last[1].from_source,
               last[1].from_cache);
    free(ms);
    if (nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
        fprintf(stderr, "clnn-bench: could not remove %s: %s\n", base, strerror(errno));
}
