/* main.c — clnn-bench's entry point: the command line, the devices suite, opening the device,
 * dispatching the suites and the --json output. Suites: `devices` (every OpenCL device, here),
 * `gemm` and `elementwise` (suite_gemm_elementwise.c), `startup` and `launch`
 * (suite_startup_launch.c), `ops` (suite_ops.c), `train` and `infer` (suite_models.c). Every
 * benchmark checks its result against a
 * double-precision host reference before timing it; a wrong result fails the run (exit status
 * 1). Human tables by default, one JSON object on stdout with --json. Written against the public
 * API only (include/clnn.h). Not here: op correctness tests (tests/). */
#include <unistd.h>

#include "bench.h"

static const char *const SUITE_NAMES[] = {"devices", "gemm", "elementwise", "startup",
                                          "launch",  "ops",  "train",       "infer"};
#define NSUITES (int)(sizeof SUITE_NAMES / sizeof *SUITE_NAMES)

/* ---- devices -------------------------------------------------------------------------------- */
static int suite_devices(bench *b)
{
    size_t count = 0;
    clnn_status st = clnn_devices_list(NULL, 0, &count);
    if (st == CLNN_OK && count == 0)
        st = CLNN_ERR_NO_DEVICE;
    if (st == CLNN_OK && !(b->devices = calloc(count, sizeof *b->devices)))
        st = CLNN_ERR_NOMEM;
    if (st == CLNN_OK)
        st = clnn_devices_list(b->devices, count, &count);
    if (st) {
        fprintf(stderr, "clnn-bench: %s\n", clnn_status_text(st));
        return -1;
    }
    b->ndevices = count;
    if (b->json)
        return 0;
    printf("%-4s %-5s %-12s %-4s %4s %10s %9s %10s %6s %4s %4s  %s\n", "P:D", "type", "driver",
           "CL C", "CUs", "global", "local", "max alloc", "max WG", "fp16", "fp64",
           "name (platform)");
    for (size_t i = 0; i < count; i++) {
        const clnn_device_info *d = &b->devices[i];
        char pd[24], ver[24], g[24], l[24], m[24];
        snprintf(pd, sizeof pd, "%d:%d", d->platform_index, d->device_index);
        snprintf(ver, sizeof ver, "%d.%d", d->opencl_c_major, d->opencl_c_minor);
        printf("%-4s %-5s %-12s %-4s %4u %10s %9s %10s %6zu %4s %4s  %s (%s)\n", pd,
               type_name(d->type), d->driver_version, ver, d->compute_units,
               fmt_bytes(g, sizeof g, d->global_mem_bytes),
               fmt_bytes(l, sizeof l, d->local_mem_bytes),
               fmt_bytes(m, sizeof m, d->max_alloc_bytes), d->max_work_group_size,
               d->has_fp16 ? "yes" : "no", d->has_fp64 ? "yes" : "no", d->name, d->platform_name);
    }
    return 0;
}

/* ---- JSON ----------------------------------------------------------------------------------- */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* A JSON number in buf (32 bytes): null when not finite, integers in full. */
static const char *json_num(char *buf, double v)
{
    snprintf(buf, 32, !isfinite(v) ? "null" : v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.6g", v);
    return buf;
}

static void json_device(const clnn_device_info *d)
{
    const char *keys[] = {"name", "platform", "vendor", "driver_version", "opencl_c_version"};
    const char *values[] = {d->name, d->platform_name, d->vendor, d->driver_version,
                            d->opencl_c_version};
    printf("{\"index\": \"%d:%d\", \"type\": \"%s\"", d->platform_index, d->device_index,
           type_name(d->type));
    for (int i = 0; i < 5; i++) {
        printf(", \"%s\": ", keys[i]);
        json_str(values[i]);
    }
    printf(", \"compute_units\": %u, \"max_clock_mhz\": %u, \"global_mem_bytes\": %llu, "
           "\"local_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, \"max_work_group_size\": %zu, "
           "\"fp16\": %s, \"fp64\": %s}",
           d->compute_units, d->max_clock_mhz, (unsigned long long)d->global_mem_bytes,
           (unsigned long long)d->local_mem_bytes, (unsigned long long)d->max_alloc_bytes,
           d->max_work_group_size, d->has_fp16 ? "true" : "false", d->has_fp64 ? "true" : "false");
}

static void json_output(const bench *b)
{
    printf("{\n  \"tool\": \"clnn-bench\", \"clnn_version\": ");
    json_str(clnn_version());
    printf(", \"quick\": %s, \"reps\": %d,\n", b->quick ? "true" : "false", b->reps);
    if (b->ctx) {
        printf("  \"device\": ");
        json_device(&b->info);
        printf(",\n");
    }
    for (size_t i = 0; i < b->ndevices; i++) {
        printf(i ? ",\n    " : "  \"devices\": [\n    ");
        json_device(&b->devices[i]);
        printf(i + 1 == b->ndevices ? "\n  ],\n" : "");
    }
    char hc[32];
    printf("  \"host_copy_gbps\": %s,\n  \"results\": [",
           json_num(hc, b->host_copy_gbps > 0 ? b->host_copy_gbps : NAN));
    for (size_t i = 0; i < b->nresults; i++) {
        const result *r = &b->results[i]; /* names and shapes are the suites' own ASCII text */
        char v[32];
        printf(
            "%s\n    {\"suite\": \"%s\", \"name\": \"%s\", \"shape\": \"%s\", \"median_ms\": %s, ",
            i ? "," : "", r->suite, r->name, r->shape, json_num(v, r->median_ms));
        printf("\"min_ms\": %s", json_num(v, r->min_ms));
        for (int k = -1; k < RESULT_EXTRAS; k++)
            if (k < 0 ? r->unit : r->extra_key[k])
                printf(", \"%s\": %s", k < 0 ? r->unit : r->extra_key[k],
                       json_num(v, k < 0 ? r->rate : r->extra[k]));
        if (r->unavailable[0]) { /* the library's message */
            printf(", \"unavailable\": ");
            json_str(r->unavailable);
        }
        printf(", \"checked\": %s, \"max_rel_err\": %s}", r->checked ? "true" : "false",
               json_num(v, r->max_rel_err));
    }
    printf("\n  ],\n");
    if (b->ops_ran)
        printf("  \"reference_gflops\": {\"clblast_sgemm_untuned\": %g, \"openblas_sgemm\": %g, "
               "\"fma_peak\": %g},\n",
               REF_CLBLAST_GFLOPS, REF_OPENBLAS_GFLOPS, REF_PEAK_GFLOPS);
    for (size_t i = 0; i < b->nprofiles; i++) {
        const op_profile *p = &b->profiles[i];
        char v[4][32];
        printf(i ? ",\n    {\"case\": " : "  \"op_profiles\": [\n    {\"case\": ");
        json_str(p->case_name);
        printf(", \"op\": ");
        json_str(p->op);
        printf(", \"calls_per_run\": %s, \"ms_per_run\": %s, \"gflops\": %s, \"gbps\": %s}",
               json_num(v[0], p->calls_per_run), json_num(v[1], p->ms_per_run),
               json_num(v[2], p->gflops > 0 ? p->gflops : NAN),
               json_num(v[3], p->gbps > 0 ? p->gbps : NAN));
        printf(i + 1 == b->nprofiles ? "\n  ],\n" : "");
    }
    printf("  \"failures\": %d\n}\n", b->failures);
}

/* ---- options and main ----------------------------------------------------------------------- */
static void usage(void)
{
    printf(
        "usage: clnn-bench [options] [suite...] [model...]\n"
        "\n"
        "Benchmarks clnn on one OpenCL device. Every benchmark checks its result against a\n"
        "double-precision host reference before timing it. Exit status: 0 success, 1 a failed\n"
        "check or clnn call or a device that cannot be opened, 2 a usage error.\n"
        "\n"
        "suites (default: gemm elementwise):\n"
        "  devices      every OpenCL device (same as --list-devices)\n"
        "  gemm         clnn_matmul (CLBlast SGEMM) on square and layer shapes: GFLOP/s\n"
        "  elementwise  add, scale, relu, sigmoid, broadcast add, sum, clnn_tensor_copy in\n"
        "               GB/s (bytes read + written), and as a fraction of the host's STREAM-like\n"
        "               copy (memcpy of the same size on one thread per CPU, best run)\n"
        "  startup      child processes: process start to the first result of (a + b) @ w,\n"
        "               64x64, with empty (cold) and filled (warm) clnn and POCL caches in\n"
        "               fresh temporary directories (cache_dir option, POCL_CACHE_DIR)\n"
        "  launch       a chain of %d clnn_scale ops on 64 floats: microseconds per kernel\n"
        "  ops          forward and backward of the layers of a CNN: the MNIST convolutions,\n"
        "               a 3x3 64->64 convolution on 56x56, maxpool 2x2, batchnorm (training)\n"
        "               and cross-entropy on logits; GFLOP/s (convolutions, also as %% of a\n"
        "               %g GFLOP/s peak) or GB/s of compulsory traffic (the rest, also as a\n"
        "               fraction of the host copy); backward = full - forward - loss, where\n"
        "               full runs op + loss + backward; a per-op device profile of each case\n"
        "               from a second, profiling context. An op the library cannot build yet\n"
        "               is reported as unavailable (not a failure)\n"
        "  train        training of the reference models with clnn_model_fit (Adam, shuffled,\n"
        "               fixed seeded random data): mnist-cnn (the Keras MNIST CNN, batch 64 and\n"
        "               128) and mlp (784-512-512-10 relu, batch 128); samples/s and ms/step\n"
        "               of the median epoch after a warm-up epoch; checked: the loss of a few\n"
        "               steps on one batch is finite and decreases\n"
        "  infer        clnn_model_predict of the same models with a softmax output: mnist-cnn\n"
        "               at batch 64, 128 and 256, mlp at 128; checked: rows sum to 1\n"
        "               text-lstm (Embedding(10000, 128) -> 2 x LSTM(128) -> Dense(2), length\n"
        "               100, batch 64) in both suites\n"
        "\n"
        "models (train and infer; default: all): mnist-cnn, mlp, text-lstm, or one batch size\n"
        "of a model as MODEL/bN, e.g. `clnn-bench train mnist-cnn/b64`. Neither suite is in the\n"
        "default set. The PyTorch peer: ../shared/peers/torch_peers.py (tools/bench/peer-compare)\n"
        "\n"
        "options:\n"
        "  --list-devices  run the devices suite\n"
        "  --device SEL    gpu, cpu, P:D or a name substring (default: $CLNN_DEVICE, else the\n"
        "                  first GPU, else a CPU device)\n"
        "  --json          one JSON object on stdout: device, host_copy_gbps and results\n"
        "                  {suite, name, shape, median_ms, min_ms, gflops | gbps |\n"
        "                  us_per_launch, more numbers, checked, max_rel_err}; the ops suite\n"
        "                  adds reference_gflops and op_profiles {case, op, calls_per_run,\n"
        "                  ms_per_run, gflops, gbps}; train and infer: samples_per_s,\n"
        "                  ms_per_step, batch, samples (median_ms: one epoch)\n"
        "  --quick         fewer and smaller cases, fewer repetitions (CI, the README)\n"
        "  --reps N        timed repetitions per case (default 10, quick 5; startup 3, quick 1;\n"
        "                  ops 5, quick 3; train and infer 5 epochs, quick 2)\n"
        "  -h, --help      this text\n"
        "\n"
        "Times are wall clock (CLOCK_MONOTONIC) of a run + clnn_ctx_finish after one warm-up\n"
        "run; median and minimum are reported. Environment: CLNN_DEVICE, CLNN_CACHE_DIR,\n"
        "CLNN_NO_CACHE, CLNN_KERNEL_DIR (see clnn.h).\n",
        LAUNCH_CHAIN, REF_PEAK_GFLOPS);
}

/* Fills b and the suite mask from the command line; -1 on a usage error, 1 after --help. */
static int parse_args(bench *b, int argc, char **argv, int *suites)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t len = strcspn(a, "=");
        int is_device = len == 8 && !strncmp(a, "--device", 8);
        int is_reps = len == 6 && !strncmp(a, "--reps", 6);
        if ((is_device || is_reps) && !(val = a[len] ? a + len + 1 : i + 1 < argc ? argv[++i] : 0))
            return fprintf(stderr, "clnn-bench: %s needs a value\n", a), -1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(), 1;
        if (!strcmp(a, "--list-devices")) {
            *suites |= S_DEVICES;
        } else if (!strcmp(a, "--json")) {
            b->json = 1;
        } else if (!strcmp(a, "--quick")) {
            b->quick = 1;
        } else if (is_device) {
            b->device = val;
        } else if (is_reps) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > 100000)
                return fprintf(stderr, "clnn-bench: --reps expects 1 to 100000, got '%s'\n", val),
                       -1;
            b->reps = (int)n;
            b->reps_given = 1;
        } else {
            int s = 0;
            while (s < NSUITES && strcmp(a, SUITE_NAMES[s]))
                s++;
            if (s == NSUITES && a[0] != '-' && models_known(a)) {
                if (b->nmodels == (int)(sizeof b->models / sizeof *b->models))
                    return fprintf(stderr, "clnn-bench: too many model names\n"), -1;
                b->models[b->nmodels++] = a;
                continue;
            }
            if (s == NSUITES)
                return fprintf(stderr, "clnn-bench: unknown %s '%s' (see --help)\n",
                               a[0] == '-' ? "option" : "suite", a),
                       -1;
            *suites |= 1 << s;
        }
    }
    if (b->nmodels && !(*suites & (S_TRAIN | S_INFER)))
        return fprintf(stderr, "clnn-bench: a model name needs the train or infer suite\n"), -1;
    *suites = *suites ? *suites : S_GEMM | S_ELEMENTWISE;
    b->reps = b->reps_given ? b->reps : b->quick ? 5 : 10;
    return 0;
}

static int open_device(bench *b)
{
    clnn_ctx_options o;
    clnn_ctx_options_init(&o);
    o.device = b->device;
    clnn_status st = clnn_ctx_create(&b->ctx, &o);
    if (!st)
        st = clnn_ctx_device_info(b->ctx, &b->info);
    if (st) {
        fprintf(stderr, "clnn-bench: cannot open the device: %s\n",
                b->ctx && *clnn_ctx_last_error(b->ctx) ? clnn_ctx_last_error(b->ctx)
                                                       : clnn_status_text(st));
        clnn_ctx_destroy(b->ctx);
        b->ctx = NULL;
        return -1;
    }
    if (!b->json)
        printf("clnn-bench %s on %d:%d '%s' (%s, driver %s, %s, %u compute units)%s, reps %d\n",
               clnn_version(), b->info.platform_index, b->info.device_index, b->info.name,
               b->info.platform_name, b->info.driver_version, b->info.opencl_c_version,
               b->info.compute_units, b->quick ? ", quick" : "", b->reps);
    return 0;
}

int main(int argc, char **argv)
{
    double t_main = now_ms();
    if (argc == 5 && !strcmp(argv[1], "--startup-child"))
        return startup_child(argv, t_main);
    bench b = {0};
    int suites = 0, rc = parse_args(&b, argc, argv, &suites);
    if (rc)
        return rc < 0 ? 2 : 0;
    ssize_t n = readlink("/proc/self/exe", b.self, sizeof b.self - 1);
    if (n > 0)
        b.self[n] = 0;
    else
        snprintf(b.self, sizeof b.self, "%s", argv[0]);
    if (((suites & S_DEVICES) && suite_devices(&b)) || ((suites & ~S_DEVICES) && open_device(&b))) {
        free(b.devices);
        return 1;
    }
    if (suites & S_GEMM)
        suite_gemm(&b);
    if (suites & S_ELEMENTWISE)
        suite_elementwise(&b);
    if (suites & S_STARTUP)
        suite_startup(&b);
    if (suites & S_LAUNCH)
        suite_launch(&b);
    if (suites & S_OPS)
        suite_ops(&b);
    if (suites & S_TRAIN)
        suite_train(&b);
    if (suites & S_INFER)
        suite_infer(&b);
    if (b.json)
        json_output(&b);
    else if (b.failures)
        printf("\n%d failure(s): see the messages on stderr\n", b.failures);
    clnn_ctx_destroy(b.ctx);
    free(b.devices);
    free(b.profiles);
    return b.failures ? 1 : 0;
}
