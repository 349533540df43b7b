/* suite_roofline.c — clnn-bench's `roofline` suite: what the device itself can do, measured with
 * kernels of our own (not the library's), so that every other suite can say how close clnn comes:
 *   copy   dst = src over float4 on a large buffer (well beyond the caches): memory bandwidth in
 *          GB/s of bytes read + written; checked: dst equals src bit for bit
 *   fma    CHAINS independent fma chains per work-item on float, float4, float8 and float16:
 *          compute peak in GFLOP/s (2 per fma); checked: a few work-items' results equal the
 *          same fma chains computed on the host with fmaf (fma is correctly rounded in OpenCL C,
 *          so the match is exact up to the final sums)
 * The best copy variant is the copy bandwidth, the best FMA variant the peak. The work of each FMA
 * variant (work-items, then loop trips) grows until one run takes RL_TARGET_MS, so the figure does
 * not depend on launch overhead. The device is opened here through OpenCL by the platform and
 * device index clnn reports (clnn.h exposes no cl_device_id), in a context and queue of our own.
 * Measured once per process: suites that rate against the roofline (S_NEED_ROOFLINE) run it first.
 * Not here: clnn's own kernels. */
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#include "bench.h"

#define RL_COPY_MIB      ROOFLINE_COPY_MIB
#define RL_FMA_ITERS     1024 /* loop trips of one work-item (more on a device that needs it) */
#define RL_TARGET_MS     ROOFLINE_TARGET_MS
#define RL_CHECK_ITEMS   4                 /* work-items of each FMA run checked on the host */
#define RL_FMA_TOL       1e-6              /* relative, for the chains' final sums */
#define RL_MAX_FMA_ITEMS ((size_t)1 << 20) /* then the trips grow */

static const char RL_SOURCE[] =
    "/* roofline kernels of clnn-bench (tools/bench/suite_roofline.c) */\n"
    "#ifndef VEC\n#define VEC 4\n#endif\n"
    "#ifndef CHAINS\n#define CHAINS 8\n#endif\n"
    "#define CAT(a, b) a##b\n#define XCAT(a, b) CAT(a, b)\n"
    "#if VEC == 1\n#define T float\n#define LANES 0.0f\n#define STORE(v, i, p) (p)[i] = (v)\n"
    "#else\n#define T XCAT(float, VEC)\n#define STORE(v, i, p) XCAT(vstore, VEC)(v, i, p)\n#endif\n"
    "#if VEC == 4\n#define LANES (T)(0, 1, 2, 3)\n#endif\n"
    "#if VEC == 8\n#define LANES (T)(0, 1, 2, 3, 4, 5, 6, 7)\n#endif\n"
    "#if VEC == 16\n#define LANES (T)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)\n"
    "#endif\n"
    "/* src, dst: (n) float4; each work-item copies `chunk` consecutive float4 */\n"
    "__kernel void rl_copy(__global const float4 *src, __global float4 *dst, int chunk)\n"
    "{\n"
    "    size_t i = get_global_id(0) * (size_t)chunk;\n"
    "    for (int j = 0; j < chunk; j++)\n"
    "        dst[i + j] = src[i + j];\n"
    "}\n"
    "/* out: (global size, VEC): per work-item the sum over CHAINS chains of a = fma(a, m, c)\n"
    " * iterated `iters` times from a = (gid % 1024) / 1024 + k / 16 + lane / 64 */\n"
    "__kernel void rl_fma(__global float *out, float m, float c, int iters)\n"
    "{\n"
    "    size_t gid = get_global_id(0);\n"
    "    T a[CHAINS];\n"
    "    for (int k = 0; k < CHAINS; k++)\n"
    "        a[k] = (T)((float)(gid % 1024) / 1024.0f + (float)k / 16.0f) + LANES / 64.0f;\n"
    "    for (int i = 0; i < iters; i++) {\n"
    "#pragma unroll\n"
    "        for (int k = 0; k < CHAINS; k++)\n"
    "            a[k] = fma(a[k], (T)m, (T)c);\n"
    "    }\n"
    "    T s = a[0];\n"
    "    for (int k = 1; k < CHAINS; k++)\n"
    "        s += a[k];\n"
    "    STORE(s, gid, out);\n"
    "}\n";

static const struct copy_variant {
    const char *name;
    int chunk; /* float4 per work-item */
} COPY_VARIANTS[] = {
    {"copy float4", 1},
    {"copy float4 x256", 256},
};

static const struct fma_variant {
    const char *name;
    int vec, chains;
} FMA_VARIANTS[] = {
    {"fma float x16", 1, 16}, /* GPUs: one lane per work-item */
    {"fma float4 x16", 4, 16},
    {"fma float8 x16", 8, 16},
    {"fma float16 x8", 16, 8}, /* AVX-512 CPUs: 8 zmm chains cover 2 FMA ports x 4 cycles */
};
_Static_assert(sizeof COPY_VARIANTS / sizeof *COPY_VARIANTS +
                       sizeof FMA_VARIANTS / sizeof *FMA_VARIANTS ==
                   ROOFLINE_RESULTS,
               "see bench.h");

typedef struct cl_dev {
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
} cl_dev;

static int cl_failed(bench *b, cl_int err, const char *what)
{
    if (err == CL_SUCCESS)
        return 0;
    fprintf(stderr, "clnn-bench: roofline: %s failed: OpenCL error %d\n", what, (int)err);
    b->failures++;
    return 1;
}

/* Opens the device clnn chose: platform P, device D of CL_DEVICE_TYPE_ALL, as clnn counts them;
 * the name must match clnn's. 0 on success. */
static int cl_open(bench *b, cl_dev *d)
{
    cl_platform_id platforms[16];
    cl_device_id devices[64];
    cl_uint np = 0, nd = 0;
    cl_int err = clGetPlatformIDs(16, platforms, &np);
    int p = b->info.platform_index, k = b->info.device_index;
    if (!err && (p < 0 || (cl_uint)p >= np))
        err = CL_INVALID_PLATFORM;
    if (!err)
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 64, devices, &nd);
    if (!err && (k < 0 || (cl_uint)k >= nd))
        err = CL_INVALID_DEVICE;
    if (cl_failed(b, err, "finding clnn's device"))
        return -1;
    char name[256] = "";
    clGetDeviceInfo(devices[k], CL_DEVICE_NAME, sizeof name, name, NULL);
    if (strcmp(name, b->info.name)) {
        fprintf(stderr, "clnn-bench: roofline: device %d:%d is '%s', clnn opened '%s'\n", p, k,
                name, b->info.name);
        b->failures++;
        return -1;
    }
    d->device = devices[k];
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platforms[p], 0};
    d->context = clCreateContext(props, 1, &d->device, NULL, NULL, &err);
    if (!err)
        d->queue = clCreateCommandQueue(d->context, d->device, 0, &err);
    return cl_failed(b, err, "creating a context and queue") ? -1 : 0;
}

static void cl_close(cl_dev *d)
{
    if (d->queue)
        clReleaseCommandQueue(d->queue);
    if (d->context)
        clReleaseContext(d->context);
}

/* The kernel `name` of RL_SOURCE built with options; NULL on failure (the build log on stderr). */
static cl_kernel build_kernel(bench *b, cl_dev *d, const char *options, const char *name)
{
    const char *src = RL_SOURCE;
    cl_int err;
    cl_program prog = clCreateProgramWithSource(d->context, 1, &src, NULL, &err);
    if (cl_failed(b, err, "clCreateProgramWithSource"))
        return NULL;
    err = clBuildProgram(prog, 1, &d->device, options, NULL, NULL);
    if (err) {
        char log[4096] = "";
        clGetProgramBuildInfo(prog, d->device, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        fprintf(stderr, "clnn-bench: roofline: building '%s' (%s): error %d\n%s\n", name, options,
                (int)err, log);
        b->failures++;
        clReleaseProgram(prog);
        return NULL;
    }
    cl_kernel k = clCreateKernel(prog, name, &err);
    clReleaseProgram(prog); /* the kernel keeps it */
    return cl_failed(b, err, "clCreateKernel") ? NULL : k;
}

/* Runs kernel k over `items` work-items: one warm-up run, one that sizes the samples
 * (runs_per_sample), then b->reps samples of that many runs back to back + clFinish: median and
 * minimum wall-clock ms per run into r. 0 on success. */
static int time_kernel(bench *b, cl_dev *d, cl_kernel k, size_t items, result *r)
{
    double *t = malloc((size_t)b->reps * sizeof *t);
    cl_int err = t ? CL_SUCCESS : CL_OUT_OF_HOST_MEMORY;
    int runs = 1;
    for (int i = -2; i < b->reps && !err; i++) {
        double t0 = now_ms();
        for (int j = 0; j < runs && !err; j++)
            err = clEnqueueNDRangeKernel(d->queue, k, 1, NULL, &items, NULL, 0, NULL, NULL);
        if (!err)
            err = clFinish(d->queue);
        if (i == -1)
            runs = runs_per_sample(now_ms() - t0);
        else if (i >= 0)
            t[i] = (now_ms() - t0) / runs;
    }
    if (!err) {
        r->median_ms = median(t, b->reps);
        r->min_ms = t[0];
        r->runs_per_sample = runs;
    }
    free(t);
    return cl_failed(b, err, r->name) ? -1 : 0;
}

/* ---- copy ----------------------------------------------------------------------------------- */
static void copy_case(bench *b, cl_dev *d, const struct copy_variant *v)
{
    size_t bytes = (size_t)(b->quick ? RL_COPY_MIB / 2 : RL_COPY_MIB) << 20;
    while (bytes > b->info.max_alloc_bytes && bytes > ((size_t)1 << 20))
        bytes /= 2;
    size_t n = bytes / sizeof(float);
    char shape[32];
    snprintf(shape, sizeof shape, "2 x %zu MiB", bytes >> 20);
    result *r = add_result(b, "roofline", v->name, shape);
    r->max_rel_err = NAN;
    float *src = malloc(bytes), *dst = malloc(bytes);
    cl_mem dsrc = NULL, ddst = NULL;
    cl_kernel k = NULL;
    cl_int err = src && dst ? CL_SUCCESS : CL_OUT_OF_HOST_MEMORY;
    if (!err) {
        rng g = {0x853c49e6748fea9bu};
        rng_fill(&g, src, n, -1, 1);
        dsrc =
            clCreateBuffer(d->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, src, &err);
    }
    if (!err)
        ddst = clCreateBuffer(d->context, CL_MEM_WRITE_ONLY, bytes, NULL, &err);
    const float zero = 0;
    if (!err) /* a kernel that copies nothing must not find the last variant's result */
        err = clEnqueueFillBuffer(d->queue, ddst, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    if (cl_failed(b, err, "allocating the copy buffers"))
        goto out;
    if (!(k = build_kernel(b, d, "", "rl_copy")))
        goto out;
    size_t items = n / 4 / (size_t)v->chunk; /* bytes: a power of two */
    err = clSetKernelArg(k, 0, sizeof dsrc, &dsrc);
    if (!err)
        err = clSetKernelArg(k, 1, sizeof ddst, &ddst);
    if (!err)
        err = clSetKernelArg(k, 2, sizeof v->chunk, &v->chunk);
    if (!err)
        err = clEnqueueNDRangeKernel(d->queue, k, 1, NULL, &items, NULL, 0, NULL, NULL);
    if (!err)
        err = clEnqueueReadBuffer(d->queue, ddst, CL_TRUE, 0, bytes, dst, 0, NULL, NULL);
    if (cl_failed(b, err, "the first copy"))
        goto out;
    size_t bad = 0;
    while (bad < n && !memcmp(&src[bad], &dst[bad], sizeof *src))
        bad++;
    char where[96] = "";
    if (bad < n)
        snprintf(where, sizeof where, "dst[%zu] = %.8g, expected %.8g", bad, dst[bad], src[bad]);
    if (check_and_time(b, r, bad < n ? 1 : 0, 0, where, NULL, NULL) ||
        time_kernel(b, d, k, items, r))
        goto out;
    r->unit = "gbps";
    r->rate = 2.0 * (double)bytes / (r->median_ms * 1e6);
    b->roof.copy_gbps = fmax(b->roof.copy_gbps, r->rate);
    snprintf(r->note, sizeof r->note, "best %.2f GB/s; read + write",
             2.0 * (double)bytes / (r->min_ms * 1e6));
out:
    if (k)
        clReleaseKernel(k);
    if (dsrc)
        clReleaseMemObject(dsrc);
    if (ddst)
        clReleaseMemObject(ddst);
    free(src);
    free(dst);
}

/* ---- fma ------------------------------------------------------------------------------------ */
/* Lane `lane` of work-item gid's output, as rl_fma computes it. */
static float fma_host(const struct fma_variant *v, size_t gid, int lane, float m, float c,
                      int iters)
{
    float s = 0;
    for (int k = 0; k < v->chains; k++) {
        float a = ((float)(gid % 1024) / 1024.0f + (float)k / 16.0f) + (float)lane / 64.0f;
        for (int i = 0; i < iters; i++)
            a = fmaf(a, m, c);
        s = k ? s + a : a;
    }
    return s;
}

/* Runs rl_fma over `items` work-items of `iters` trips and waits; CL_SUCCESS or the error. */
static cl_int fma_run(cl_dev *d, cl_kernel k, size_t items, int iters)
{
    cl_int err = clSetKernelArg(k, 3, sizeof iters, &iters);
    if (!err)
        err = clEnqueueNDRangeKernel(d->queue, k, 1, NULL, &items, NULL, 0, NULL, NULL);
    return err ? err : clFinish(d->queue);
}

static void fma_case(bench *b, cl_dev *d, const struct fma_variant *v, rng *g)
{
    char opts[64], shape[32];
    snprintf(opts, sizeof opts, "-DVEC=%d -DCHAINS=%d", v->vec, v->chains);
    double target = b->quick ? RL_TARGET_MS / 2 : RL_TARGET_MS;
    const float m = 0.999f, c = 0.001f; /* a -> 1, never overflows */
    int iters = RL_FMA_ITERS;
    cl_kernel k = build_kernel(b, d, opts, "rl_fma");
    cl_mem out = NULL;
    float *host = NULL;
    size_t items = 256 * (size_t)(b->info.compute_units ? b->info.compute_units : 1);
    cl_int err = k ? CL_SUCCESS : CL_BUILD_PROGRAM_FAILURE;
    if (!err)
        out = clCreateBuffer(d->context, CL_MEM_WRITE_ONLY,
                             RL_MAX_FMA_ITEMS * (size_t)v->vec * sizeof(float), NULL, &err);
    if (!err)
        err = clSetKernelArg(k, 0, sizeof out, &out);
    if (!err)
        err = clSetKernelArg(k, 1, sizeof m, &m);
    if (!err)
        err = clSetKernelArg(k, 2, sizeof c, &c);
    items = items < RL_MAX_FMA_ITEMS ? items : RL_MAX_FMA_ITEMS;
    if (!err)
        err = fma_run(d, k, items, iters); /* POCL compiles the kernel here: not timed */
    /* grow the work until a run takes the target time: work-items first, then trips; each
     * size is timed twice and the faster run counts, so one run slowed by other processes does
     * not end the growth early */
    for (double t = 0; !err && t < target && iters < (1 << 24);) {
        t = INFINITY;
        for (int i = 0; i < 2 && !err; i++) {
            double t0 = now_ms();
            err = fma_run(d, k, items, iters);
            t = fmin(t, now_ms() - t0);
        }
        int grow = t < target / 8 ? 8 : 2;
        if (!err && t < target && items * (size_t)grow <= RL_MAX_FMA_ITEMS)
            items *= (size_t)grow;
        else if (!err && t < target)
            iters *= grow;
    }
    double flop = 2.0 * iters * v->chains * v->vec * (double)items;
    snprintf(shape, sizeof shape, "runs >= %.0f ms", target); /* stable for --compare */
    result *r = add_result(b, "roofline", v->name, shape);
    r->max_rel_err = NAN;
    r->extra_key[0] = "work_items", r->extra[0] = (double)items;
    r->extra_key[1] = "trips", r->extra[1] = iters;
    if (!err)
        err = fma_run(d, k, items, iters);
    if (!err && !(host = malloc((size_t)v->vec * sizeof *host)))
        err = CL_OUT_OF_HOST_MEMORY;
    double worst = 0;
    char where[96] = "";
    for (int t = 0; !err && t < RL_CHECK_ITEMS; t++) {
        size_t gid = t == 0 ? 0 : t == 1 ? items - 1 : (size_t)(rng_next(g) % items);
        err = clEnqueueReadBuffer(d->queue, out, CL_TRUE, gid * (size_t)v->vec * sizeof *host,
                                  (size_t)v->vec * sizeof *host, host, 0, NULL, NULL);
        for (int lane = 0; !err && lane < v->vec; lane++) {
            double ref = fma_host(v, gid, lane, m, c, iters);
            double e = fabs(host[lane] - ref) / fabs(ref);
            if (!(e <= worst))
                snprintf(where, sizeof where, "out[%zu][%d] = %.8g, expected %.8g", gid, lane,
                         host[lane], ref);
            worst = e > worst || isnan(e) ? e : worst;
        }
    }
    if (cl_failed(b, err, v->name) || check_and_time(b, r, worst, RL_FMA_TOL, where, NULL, NULL) ||
        time_kernel(b, d, k, items, r))
        goto out;
    r->unit = "gflops";
    r->rate = flop / (r->median_ms * 1e6);
    if (r->rate > b->roof.peak_gflops) {
        b->roof.peak_gflops = r->rate;
        snprintf(b->roof.peak_variant, sizeof b->roof.peak_variant, "%s", v->name);
    }
    snprintf(r->note, sizeof r->note, "%zu items x %d; best %.1f", items, iters,
             flop / (r->min_ms * 1e6));
out:
    if (k)
        clReleaseKernel(k);
    if (out)
        clReleaseMemObject(out);
    free(host);
}

void suite_roofline(bench *b)
{
    if (b->roof.measured)
        return;
    b->roof.measured = 1;
    cl_dev d = {0};
    print_header(b, "roofline: the device's own limits, with clnn-bench's kernels (not clnn's)");
    if (cl_open(b, &d)) {
        cl_close(&d);
        return;
    }
    size_t first = b->nresults;
    for (size_t i = 0; i < sizeof COPY_VARIANTS / sizeof *COPY_VARIANTS; i++)
        copy_case(b, &d, &COPY_VARIANTS[i]);
    rng g = {0x2f6b8c1d3a5e7f90u};
    for (size_t i = 0; i < sizeof FMA_VARIANTS / sizeof *FMA_VARIANTS; i++)
        fma_case(b, &d, &FMA_VARIANTS[i], &g);
    for (size_t i = first; i < b->nresults; i++) { /* rated against the best: known now */
        result *r = &b->results[i];
        if (!r->checked)
            continue; /* a failed check printed its row */
        int copy = r->unit && !strcmp(r->unit, "gbps");
        if (r->unit)
            set_roof(b, r, r->rate, copy);
        if (r->unit && r->rate == (copy ? b->roof.copy_gbps : b->roof.peak_gflops))
            snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note), "; the best");
        print_row(b, r);
    }
    if (!b->json)
        printf("roofline: copy %.2f GB/s, FMA peak %.2f GFLOP/s (%s); ridge at %.1f FLOP/byte; "
               "medians of the best variants\n",
               b->roof.copy_gbps, b->roof.peak_gflops, b->roof.peak_variant,
               b->roof.copy_gbps > 0 ? b->roof.peak_gflops / b->roof.copy_gbps : NAN);
    cl_close(&d);
}
