/* main.c — clnn-bench's entry point: the command line and its --help, the devices suite, opening
 * the device and dispatching the suites. Suites: `devices` (every OpenCL device, here),
 * `roofline` (suite_roofline.c), `gemm` and `elementwise` (suite_gemm_elementwise.c), `startup`
 * and `launch` (suite_startup_launch.c), `ops` (suite_ops.c), `conv` (suite_conv.c), `train` and
 * `infer` (suite_models.c). Every benchmark checks its result against a reference before timing
 * it; a wrong result fails the run (exit status 1). Human tables by default, one JSON object on
 * stdout with --json (json.c), a comparison with an earlier JSON output with --compare. Written
 * against the public API (include/clnn.h); only the roofline suite calls OpenCL itself. Not here:
 * op correctness tests (tests/). */
#include <unistd.h>

#include "bench.h"

/* in the order of the S_* bits (bench.h) */
static const char *const SUITE_NAMES[] = {"devices", "gemm",  "elementwise", "startup",  "launch",
                                          "ops",     "train", "infer",       "roofline", "conv"};
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

/* ---- options and main ----------------------------------------------------------------------- */
static void usage(void)
{
    printf(
        "usage: clnn-bench [options] [suite...] [model...]\n"
        "\n"
        "Benchmarks clnn on one OpenCL device. Every benchmark checks its result against a\n"
        "reference (mostly a double-precision host computation) before timing it. Exit status:\n"
        "0 success, 1 a failed check or clnn call, a device that cannot be opened or a --compare\n"
        "file that cannot be read, 2 a usage error. Regressions found by --compare are reported,\n"
        "not failures.\n"
        "\n"
        "suites (default: gemm elementwise; the roofline is measured first whenever a suite\n"
        "rates against it: gemm, elementwise, ops, conv, train, infer):\n"
        "  devices      every OpenCL device (same as --list-devices)\n"
        "  roofline     the device's own limits, with kernels of clnn-bench (not clnn's): copy\n"
        "               bandwidth (a float4 copy of 2 x %d MiB, quick: half; GB/s of bytes read +\n"
        "               written; checked: the copy is exact) and peak FMA GFLOP/s (independent\n"
        "               fma chains per work-item on float, float4, float8 and float16, work grown\n"
        "               until a run takes %.0f ms; checked: outputs of a few work-items against "
        "the\n"
        "               same chains computed on the host with fmaf). The best variant is \"the\n"
        "               peak\". Other results show their rate as %% of the peak (compute-bound:\n"
        "               GFLOP/s, models) or %% of the copy bandwidth (memory-bound: GB/s)\n"
        "  gemm         clnn_matmul on square and layer shapes, each on clnn's own SGEMM\n"
        "               kernels ('own', what CPU devices use) and on CLBlast ('clblast', GPUs;\n"
        "               $CLNN_GEMM=own|clblast chooses for the library): GFLOP/s, %% peak\n"
        "  elementwise  add, scale, relu, sigmoid, broadcast add, sum, clnn_tensor_copy in\n"
        "               GB/s (bytes read + written), as %% of the device copy bandwidth and as a\n"
        "               fraction of the host's STREAM-like copy (memcpy of the same size on one\n"
        "               thread per CPU, best run)\n"
        "  startup      child processes: process start to the first result of (a + b) @ w,\n"
        "               64x64, with empty (cold) and filled (warm) clnn and POCL caches in\n"
        "               fresh temporary directories (cache_dir option, POCL_CACHE_DIR); and\n"
        "               to the end of the MNIST CNN's first training step (batch 128, Adam),\n"
        "               cold and warm (checked: its loss near ln 10, the warm run's equal to\n"
        "               the cold run's)\n"
        "  launch       a chain of %d clnn_scale ops on 64 floats: microseconds per kernel\n"
        "  ops          forward and backward of the layers of a CNN: the MNIST convolutions,\n"
        "               a 3x3 64->64 convolution on 56x56, maxpool 2x2, batchnorm (training)\n"
        "               and cross-entropy on logits; GFLOP/s (convolutions, %% of peak) or GB/s\n"
        "               of compulsory traffic (the rest, %% of copy bandwidth); backward = full -\n"
        "               forward - loss (wall clock), where full runs op + loss + backward; a\n"
        "               per-op device profile of each case from a second, profiling context. An\n"
        "               op the library cannot build yet is reported as unavailable (not a "
        "failure)\n"
        "  conv         clnn_conv2d forward (fwd), backward-data (bwd-data: d loss / d x) and\n"
        "               backward-weights (bwd-weights: d loss / d w) separately, for the MNIST\n"
        "               CNN's convolutions (1->32 on 28x28, 32->64 on 13x13, 3x3, batch 64,\n"
        "               quick 16) and ResNet-style layers (3x3 64->64 on 56x56, 3x3 128->128 on\n"
        "               28x28, 1x1 64->256 on 56x56, 1x1 64->128 stride 2 on 56x56; batch 8,\n"
        "               quick 2). One graph per layer: y = conv2d(x, w, bias), loss = sum(y * r),\n"
        "               its backward with x and w as parameters (the bias an input). Checked:\n"
        "               sampled entries of y, dx and dw against direct double-precision sums.\n"
        "               Times: the device time of each pass's own op (conv2d, conv2d_bwd_input,\n"
        "               conv2d_bwd_weight) from clnn's per-op profile (OpenCL events spanning\n"
        "               every kernel and CLBlast GEMM of the node), one run of the graph per\n"
        "               repetition, in a context with profiling on; the note of each fwd row has\n"
        "               the wall-clock time of the whole graph run. GFLOP/s of 2 N K C R S H' W'\n"
        "               per pass, %% of peak. Each layer runs on both algorithms: 'direct' (no\n"
        "               im2col, CPU devices' default; the data gradient of a strided layer is\n"
        "               im2col + GEMM even there) and 'im2col+gemm' (GPUs);\n"
        "               $CLNN_CONV_ALGO=direct|gemm chooses for the library\n"
        "  train        training of the reference models with clnn_model_fit (Adam, shuffled,\n"
        "               fixed seeded random data): mnist-cnn (the Keras MNIST CNN, batch 64 and\n"
        "               128), mlp (784-512-512-10 relu, batch 128), text-lstm (batch 64) and\n"
        "               resnet18 (batch 16, quick 8); samples/s and ms/step of the median epoch\n"
        "               after a warm-up epoch; checked first: from the initial weights, the loss\n"
        "               of a few steps on one batch is finite and decreases\n"
        "  infer        clnn_model_predict of the same models with a softmax output: mnist-cnn\n"
        "               at batch 64, 128 and 256, mlp at 128, text-lstm at 64, resnet18 at 32\n"
        "               (quick 16); checked: every row is in [0, 1] and sums to 1\n"
        "               Both: GFLOP/s and %% of peak from the FLOPs of the models'\n"
        "               convolutions, dense layers and LSTM gate GEMMs (2 per multiply-add;\n"
        "               training counts forward, input and weight gradients, but no input\n"
        "               gradient for the layer reading the model's input)\n"
        "\n"
        "models (train and infer; default: all): mnist-cnn, mlp, text-lstm (Embedding(10000,\n"
        "128) -> 2 x LSTM(128) -> Dense(2), length 100), resnet18 (ResNet-18 for 32x32x3\n"
        "synthetic images, built with the functional API: a 3x3 conv 64 + BN + ReLU stem and no\n"
        "max pool; 4 stages of 2 BasicBlocks with 64, 128, 256, 512 channels, stride 2 and a\n"
        "1x1 conv + BN shortcut at stages 2-4; global average pool, Dense 10; 1.1 GFLOP per\n"
        "image forward: epochs of 32 samples, quick 8 (train) and 16 (infer)), or one batch\n"
        "size of a model as MODEL/bN, e.g. `clnn-bench train mnist-cnn/b64`. Neither suite is in\n"
        "the default set. The PyTorch peer: ../shared/peers/torch_peers.py\n"
        "(tools/bench/peer-compare; it has no resnet18)\n"
        "\n"
        "options:\n"
        "  --list-devices  run the devices suite\n"
        "  --device SEL    gpu, cpu, P:D or a name substring (default: $CLNN_DEVICE, else the\n"
        "                  first GPU, else a CPU device)\n"
        "  --json          one JSON object on stdout: tool, clnn_version, quick, reps, device,\n"
        "                  roofline {copy_gbps, peak_gflops, peak_variant}, host_copy_gbps and\n"
        "                  results [{suite, name, shape, median_ms, min_ms (per run),\n"
        "                  runs_per_sample (runs under 2 ms are repeated back to back within\n"
        "                  a timed sample), the rate: gflops | gbps | us_per_launch |\n"
        "                  samples_per_s, fraction_of_peak |\n"
        "                  fraction_of_copy (rate / measured roofline), more numbers, checked,\n"
        "                  max_rel_err}]; roofline FMA rows add work_items, trips; ops adds\n"
        "                  best_fraction_of_*, fraction_of_host_copy, full_ms, loss_ms,\n"
        "                  reference_gflops and op_profiles [{case, op, calls_per_run,\n"
        "                  ms_per_run, gflops, gbps}]; conv: flops, step_wall_ms; train and\n"
        "                  infer: ms_per_step, batch, samples, gflops (median_ms: one epoch);\n"
        "                  with --compare: compare_file and comparison [{suite, name, shape,\n"
        "                  unit, old, new, speedup, verdict: faster | same | regression}];\n"
        "                  failures. null: not measured\n"
        "  --compare FILE  compare with an earlier --json output: results matched by (suite,\n"
        "                  name, shape), old and new throughput (the rate, else the median time)\n"
        "                  and the speed-up new / old (old / new for times and us/launch);\n"
        "                  below %.2fx is a regression, above %.2fx an improvement. The file is\n"
        "                  read before any suite runs\n"
        "  --mpi           train suite only, run under `mpirun -np N` (clnn built with -Dmpi):\n"
        "                  each case is timed once on rank 0 alone (the other ranks wait) and\n"
        "                  once data-parallel on all N ranks (clnn_model_fit with distributed =\n"
        "                  1, the case's batch per rank, so N x batch per step); the rate is the\n"
        "                  N ranks' samples/s, and the JSON adds ranks, single_rank_samples_per_s\n"
        "                  and scaling_efficiency = samples/s at N ranks / (N x samples/s of one\n"
        "                  rank). Rank 0 prints; every rank gets its own device when the\n"
        "                  machine has several of the default type (docs/distributed.md)\n"
        "  --tune          search CLBlast SGEMM parameters for this device (clnn_tune_gemm:\n"
        "                  every candidate checked against a host reference, timed on the\n"
        "                  reference models' GEMM shapes), then the algorithm of every\n"
        "                  convolution of the MNIST CNN (b128) and ResNet-18 (b16) training\n"
        "                  steps and the own SGEMM's tile rows on the MLP (b128)\n"
        "                  (clnn_model_tune: im2col+gemm, direct, row kernels, Winograd; GEMM_TM\n"
        "                  4..12; each checked against the default's output). Both are stored in\n"
        "                  the cache directory, keyed by device and driver; later contexts apply\n"
        "                  them (CLNN_NO_TUNE=1: not). With --quick: fewer candidates and runs.\n"
        "                  No suite runs. --tune=gemm, --tune=conv: only one of the two (on CPU\n"
        "                  devices GEMMs run on clnn's own kernels, so CLBlast's parameters\n"
        "                  matter only with CLNN_GEMM=clblast)\n"
        "  --quick         fewer and smaller cases, fewer repetitions (CI, the README)\n"
        "  --reps N        timed repetitions per case (default 10, quick 5; startup 3, quick 1;\n"
        "                  ops and conv 5, quick 3; train and infer 5 epochs, quick 2)\n"
        "  -h, --help      this text\n"
        "\n"
        "Times are wall clock (CLOCK_MONOTONIC) of a run + clnn_ctx_finish after one warm-up\n"
        "run (conv: see above); runs under 2 ms repeat back to back within a sample, divided\n"
        "by the count; median and minimum are reported. Environment: CLNN_DEVICE,\n"
        "CLNN_CACHE_DIR, CLNN_NO_CACHE, CLNN_KERNEL_DIR, CLNN_NO_TUNE, CLNN_KERNEL_PATH=gpu\n"
        "(the code path of GPU devices on any device; see clnn.h).\n",
        ROOFLINE_COPY_MIB, ROOFLINE_TARGET_MS, LAUNCH_CHAIN, COMPARE_SLOWER, COMPARE_FASTER);
}

/* Fills b and the suite mask from the command line; -1 on a usage error, 1 after --help. */
static int parse_args(bench *b, int argc, char **argv, int *suites)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t len = strcspn(a, "=");
        int is_device = len == 8 && !strncmp(a, "--device", 8);
        int is_reps = len == 6 && !strncmp(a, "--reps", 6);
        int is_compare = len == 9 && !strncmp(a, "--compare", 9);
        if ((is_device || is_reps || is_compare) && !(val = a[len]         ? a + len + 1
                                                            : i + 1 < argc ? argv[++i]
                                                                           : 0))
            return fprintf(stderr, "clnn-bench: %s needs a value\n", a), -1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(), 1;
        if (!strcmp(a, "--list-devices")) {
            *suites |= S_DEVICES;
        } else if (!strcmp(a, "--json")) {
            b->json = 1;
        } else if (!strcmp(a, "--quick")) {
            b->quick = 1;
        } else if (!strcmp(a, "--mpi")) {
            b->mpi = 1;
        } else if (!strcmp(a, "--tune")) {
            b->tune = TUNE_GEMM | TUNE_CONV;
        } else if (!strcmp(a, "--tune=gemm")) {
            b->tune = TUNE_GEMM;
        } else if (!strcmp(a, "--tune=conv")) {
            b->tune = TUNE_CONV;
        } else if (is_device) {
            b->device = val;
        } else if (is_compare) {
            b->compare_path = val;
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
    if (b->mpi && *suites != S_TRAIN)
        return fprintf(stderr, "clnn-bench: --mpi applies to the train suite alone\n"), -1;
    if (b->nmodels && !(*suites & (S_TRAIN | S_INFER)))
        return fprintf(stderr, "clnn-bench: a model name needs the train or infer suite\n"), -1;
    if (b->tune && (*suites || b->mpi))
        return fprintf(stderr, "clnn-bench: --tune runs alone (no suites, no --mpi)\n"), -1;
    *suites = *suites ? *suites : b->tune ? 0 : S_GEMM | S_ELEMENTWISE;
    if (*suites & S_NEED_ROOFLINE)
        *suites |= S_ROOFLINE;
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
    if (argc == 6 && !strcmp(argv[1], "--startup-child"))
        return startup_child(argv, t_main);
    bench b = {0};
    int suites = 0, rc = parse_args(&b, argc, argv, &suites);
    if (rc)
        return rc < 0 ? 2 : 0;
    if (b.compare_path && compare_load(&b, b.compare_path))
        return 1;
    char err[512];
    if (b.mpi && clnn_mpi_init(&argc, &argv, err, sizeof err)) {
        fprintf(stderr, "clnn-bench: --mpi: %s\n", err);
        return 1;
    }
    if (b.mpi && clnn_mpi_rank() != 0 && !freopen("/dev/null", "w", stdout))
        return 1; /* rank 0 reports */
    ssize_t n = readlink("/proc/self/exe", b.self, sizeof b.self - 1);
    if (n > 0)
        b.self[n] = 0;
    else
        snprintf(b.self, sizeof b.self, "%s", argv[0]);
    int failed = ((suites & S_DEVICES) && suite_devices(&b)) ||
                 (((suites & ~S_DEVICES) || b.tune) && open_device(&b));
    if (b.mpi && clnn_mpi_agree(failed ? CLNN_ERR_NO_DEVICE : CLNN_OK,
                                failed ? "it cannot open its device" : NULL, err, sizeof err)) {
        if (!failed)
            fprintf(stderr, "clnn-bench: %s\n", err);
        failed = 1;
    }
    if (failed) {
        clnn_ctx_destroy(b.ctx);
        free(b.devices);
        compare_free(&b);
        if (b.mpi)
            clnn_mpi_finalize();
        return 1;
    }
    if (b.tune && bench_tune(&b))
        b.failures++;
    if (suites & S_ROOFLINE)
        suite_roofline(&b);
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
    if (suites & S_CONV)
        suite_conv(&b);
    if (suites & S_TRAIN)
        suite_train(&b);
    if (suites & S_INFER)
        suite_infer(&b);
    if (b.json && !b.tune) /* --tune printed its own JSON object (it runs alone) */
        json_output(&b);
    compare_print(&b);
    if (!b.json && b.failures)
        printf("\n%d failure(s): see the messages on stderr\n", b.failures);
    clnn_ctx_destroy(b.ctx);
    compare_free(&b);
    free(b.devices);
    free(b.profiles);
    if (b.mpi)
        clnn_mpi_finalize();
    return b.failures ? 1 : 0;
}
