/* context.c — OpenCL platforms and devices: enumeration, device information, selection (options,
 * CLNN_DEVICE, default first GPU else CPU), the device quirks that become build options, and the
 * life of a context (queue, options from the environment). Programs live in program.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "../dist/dist.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES   64

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = 0;
    buf[size - 1] = 0;
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, clnn_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pi;
    info->device_index = di;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL) != CL_SUCCESS)
        info->platform_name[0] = 0;
    info->platform_name[sizeof info->platform_name - 1] = 0;
    get_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_str(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    /* "OpenCL C <major>.<minor> ..." — the device's language version, not the platform's */
    if (sscanf(info->opencl_c_version, "OpenCL C %d.%d", &info->opencl_c_major,
               &info->opencl_c_minor) != 2) {
        info->opencl_c_major = 1;
        info->opencl_c_minor = 2;
    }
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? CLNN_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU)         ? CLNN_DEVICE_CPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? CLNN_DEVICE_ACCELERATOR
                                                       : CLNN_DEVICE_OTHER;
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    info->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    info->max_clock_mhz = u;
    cl_ulong l = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof l, &l, NULL);
    info->global_mem_bytes = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof l, &l, NULL);
    info->local_mem_bytes = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof l, &l, NULL);
    info->max_alloc_bytes = l;
    size_t s = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof s, &s, NULL);
    info->max_work_group_size = s;
    char ext[4096];
    get_str(d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    info->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    info->has_fp64 = strstr(ext, "cl_khr_fp64") != NULL;
}

/* All (platform, device) pairs in enumeration order. */
typedef struct found_device {
    cl_platform_id platform;
    cl_device_id device;
    int pi, di;
} found_device;

static cl_int enumerate(found_device *out, size_t cap, size_t *count)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    *count = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return -1001;
    if (err != CL_SUCCESS)
        return err;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue; /* a platform without devices is not an error */
        for (cl_uint d = 0; d < nd && d < MAX_DEVICES; d++) {
            if (*count < cap)
                out[*count] = (found_device){platforms[p], devs[d], (int)p, (int)d};
            (*count)++;
        }
    }
    return CL_SUCCESS;
}

clnn_status clnn_devices_list(clnn_device_info *infos, size_t capacity, size_t *count)
{
    if (!count || (capacity && !infos))
        return CLNN_ERR_INVALID;
    found_device found[MAX_DEVICES];
    size_t n = 0;
    cl_int err = enumerate(found, MAX_DEVICES, &n);
    *count = 0;
    if (err == -1001)
        return CLNN_ERR_NO_PLATFORM;
    if (err != CL_SUCCESS)
        return CLNN_ERR_OPENCL;
    *count = n;
    for (size_t i = 0; i < n && i < capacity && i < MAX_DEVICES; i++)
        fill_info(found[i].platform, found[i].device, found[i].pi, found[i].di, &infos[i]);
    return CLNN_OK;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* Picks the device named by sel (NULL: default). Returns an index into found, or -1 with the
 * context's error set. */
static int select_device(clnn_ctx *ctx, const char *sel, const char *origin, found_device *found,
                         size_t n)
{
    clnn_device_info info;
    int want_type = 0, pi = -1, di = -1;
    if (sel && !*sel)
        sel = NULL;
    if (sel && !strcasecmp(sel, "gpu"))
        want_type = CLNN_DEVICE_GPU;
    else if (sel && !strcasecmp(sel, "cpu"))
        want_type = CLNN_DEVICE_CPU;
    else if (sel) {
        char tail;
        if (sscanf(sel, "%d:%d%c", &pi, &di, &tail) != 2)
            pi = di = -1;
    }
    if (!sel) {
        /* default: the first GPU, else the first CPU, else anything; under MPI (clnn_mpi_init)
         * the machine's rank r takes the (r mod count)-th, so its ranks use different devices */
        for (int pass = 0; pass < 2; pass++) {
            const int type = pass == 0 ? CLNN_DEVICE_GPU : CLNN_DEVICE_CPU;
            int count = 0;
            for (size_t i = 0; i < n; i++) {
                fill_info(found[i].platform, found[i].device, found[i].pi, found[i].di, &info);
                count += (int)info.type == type;
            }
            int want = count ? clnn__dist_local_rank() % count : 0;
            for (size_t i = 0; i < n && count; i++) {
                fill_info(found[i].platform, found[i].device, found[i].pi, found[i].di, &info);
                if ((int)info.type == type && want-- == 0)
                    return (int)i;
            }
        }
        if (n > 0)
            return 0;
    }
    for (size_t i = 0; sel && i < n; i++) {
        fill_info(found[i].platform, found[i].device, found[i].pi, found[i].di, &info);
        if (want_type && (int)info.type == want_type)
            return (int)i;
        if (pi >= 0 && found[i].pi == pi && found[i].di == di)
            return (int)i;
        if (!want_type && pi < 0 && contains_nocase(info.name, sel))
            return (int)i;
    }
    /* say what is there */
    char list[1024];
    size_t used = 0;
    list[0] = 0;
    for (size_t i = 0; i < n && used < sizeof list - 1; i++) {
        fill_info(found[i].platform, found[i].device, found[i].pi, found[i].di, &info);
        int w = snprintf(list + used, sizeof list - used, "%s%d:%d %s (%s)", i ? "; " : "",
                         found[i].pi, found[i].di, info.name,
                         info.type == CLNN_DEVICE_GPU   ? "gpu"
                         : info.type == CLNN_DEVICE_CPU ? "cpu"
                                                        : "other");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    clnn__fail(ctx, CLNN_ERR_NO_DEVICE,
               "%s='%s' matches no OpenCL device: expected 'gpu', 'cpu', 'P:D' (platform:device "
               "indexes) or a part of a device name; available: %s",
               origin, sel ? sel : "", n ? list : "none");
    return -1;
}

/* Device quirks and defines, decided in one place (see DESIGN.md "Kernels and programs"). */
static void device_quirks(clnn_ctx *ctx)
{
    const clnn_device_info *i = &ctx->info;
    /* -cl-std from the device's OpenCL C version; never require OpenCL C 2.0 */
    int minor = (i->opencl_c_major > 1) ? 2 : i->opencl_c_minor;
    snprintf(ctx->build_options, sizeof ctx->build_options, "-cl-std=CL1.%d -DCLNN_DEVICE_%s=1",
             minor >= 2 ? 2 : minor, clnn__cpu_path(ctx) ? "CPU" : "GPU");
}

void clnn_ctx_options_init(clnn_ctx_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->log_level = CLNN_LOG_WARN;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

int clnn__cpu_path(const clnn_ctx *ctx)
{
    const char *v = env("CLNN_KERNEL_PATH");
    if (v && (!strcmp(v, "cpu") || !strcmp(v, "gpu")))
        return v[0] == 'c';
    return ctx->info.type != CLNN_DEVICE_GPU;
}

static char *default_cache_dir(void)
{
    const char *d = env("CLNN_CACHE_DIR");
    if (d)
        return clnn__strdup(d);
    char buf[4096];
    if ((d = env("XDG_CACHE_HOME")))
        snprintf(buf, sizeof buf, "%s/clnn", d);
    else if ((d = env("HOME")))
        snprintf(buf, sizeof buf, "%s/.cache/clnn", d);
    else
        return NULL;
    return clnn__strdup(buf);
}

static void stderr_log(void *user, clnn_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    fprintf(stderr, "clnn: %s\n", msg);
}

clnn_status clnn_ctx_create(clnn_ctx **out, const clnn_ctx_options *options)
{
    if (!out)
        return CLNN_ERR_INVALID;
    *out = NULL;
    clnn_ctx_options defaults;
    clnn_ctx_options_init(&defaults);
    const clnn_ctx_options *o = options ? options : &defaults;
    clnn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CLNN_ERR_NOMEM;
    *out = ctx;
    ctx->log = o->log;
    ctx->log_user = o->log_user;
    ctx->log_level = o->log_level;
    const char *pe = env("CLNN_PROFILE");
    int env_profile = pe && strcmp(pe, "0") != 0;
    ctx->profile = o->profile || env_profile;
    if (env_profile && !ctx->log) {
        /* the report asked for by CLNN_PROFILE=1 goes somewhere visible; programs that turn
         * profiling on through the options read it with clnn_profile_get instead */
        ctx->log = stderr_log;
        ctx->log_level = CLNN_LOG_INFO;
    }
    const char *nc = env("CLNN_NO_CACHE");
    if (!o->no_cache && !(nc && strcmp(nc, "0") != 0)) {
        ctx->cache_dir = o->cache_dir ? clnn__strdup(o->cache_dir) : default_cache_dir();
    }
    const char *kd = o->kernel_dir ? o->kernel_dir : env("CLNN_KERNEL_DIR");
    if (kd && !(ctx->kernel_dir = clnn__strdup(kd)))
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory copying the kernel directory");

    found_device found[MAX_DEVICES];
    size_t n = 0;
    cl_int err = enumerate(found, MAX_DEVICES, &n);
    if (err == -1001)
        return clnn__fail(ctx, CLNN_ERR_NO_PLATFORM, "%s", clnn_status_text(CLNN_ERR_NO_PLATFORM));
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clGetPlatformIDs");
    if (n > MAX_DEVICES)
        n = MAX_DEVICES;
    if (n == 0)
        return clnn__fail(ctx, CLNN_ERR_NO_DEVICE,
                          "OpenCL platforms exist but have no devices: install a device driver "
                          "(e.g. pocl-opencl-icd) or check the GPU driver");
    const char *sel = o->device;
    const char *origin = "options.device";
    if (!sel) {
        sel = env("CLNN_DEVICE");
        origin = "CLNN_DEVICE";
    }
    int k = select_device(ctx, sel, origin, found, n);
    if (k < 0)
        return ctx->last_status;
    ctx->platform = found[k].platform;
    ctx->device = found[k].device;
    fill_info(ctx->platform, ctx->device, found[k].pi, found[k].di, &ctx->info);

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->context = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clCreateContext on '%s'", ctx->info.name);
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->device,
                                      ctx->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clCreateCommandQueue on '%s'", ctx->info.name);
    device_quirks(ctx);
    clnn_status st = clnn__ops_check(ctx);
    if (st)
        return st;
    ctx->usable = 1;
    clnn__log(ctx, CLNN_LOG_INFO, "device %d:%d %s (%s, %s)", ctx->info.platform_index,
              ctx->info.device_index, ctx->info.name, ctx->info.platform_name,
              ctx->info.opencl_c_version);
    return CLNN_OK;
}

void clnn_ctx_destroy(clnn_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->upload_queue)
        clFinish(ctx->upload_queue);
    if (ctx->queue)
        clFinish(ctx->queue);
    if (ctx->profile && ctx->usable && ctx->nprof) {
        char report[8192];
        if (clnn_profile_report(ctx, report, sizeof report) == CLNN_OK)
            clnn__log(ctx, CLNN_LOG_INFO, "profile\n%s", report);
    }
    clnn__prof_free(ctx);
    clnn__programs_release(ctx);
    clnn__own_tune_free(ctx);
    if (ctx->gemm_pack)
        clReleaseMemObject(ctx->gemm_pack);
    if (ctx->upload_queue)
        clReleaseCommandQueue(ctx->upload_queue);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->context)
        clReleaseContext(ctx->context);
    free(ctx->cache_dir);
    free(ctx->kernel_dir);
    free(ctx->last_error);
    free(ctx);
}

cl_command_queue clnn__upload_queue(clnn_ctx *ctx)
{
    if (!ctx || !ctx->usable || ctx->upload_queue)
        return ctx ? ctx->upload_queue : NULL;
    cl_command_queue_properties props = 0;
    cl_int err = clGetCommandQueueInfo(ctx->queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err == CL_SUCCESS)
        ctx->upload_queue = clCreateCommandQueue(ctx->context, ctx->device,
                                                 props & CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        ctx->upload_queue = NULL;
        clnn__log(ctx, CLNN_LOG_INFO,
                  "no second command queue for uploads on '%s' (%s): batches are uploaded on the "
                  "main queue",
                  ctx->info.name, clnn__cl_error_name(err));
        return NULL;
    }
    clnn__log(ctx, CLNN_LOG_DEBUG, "a second command queue for uploads on '%s'", ctx->info.name);
    return ctx->upload_queue;
}

static clnn_status need_usable(const clnn_ctx *ctx)
{
    if (!ctx)
        return CLNN_ERR_INVALID;
    if (!ctx->usable)
        return CLNN_ERR_STATE;
    return CLNN_OK;
}

clnn_status clnn_ctx_device_info(const clnn_ctx *ctx, clnn_device_info *info)
{
    clnn_status st = need_usable(ctx);
    if (st)
        return st;
    if (!info)
        return clnn__fail((clnn_ctx *)ctx, CLNN_ERR_INVALID, "clnn_ctx_device_info: info is NULL");
    *info = ctx->info;
    return CLNN_OK;
}

clnn_status clnn_ctx_finish(clnn_ctx *ctx)
{
    clnn_status st = need_usable(ctx);
    if (st)
        return st;
    cl_int err = clFinish(ctx->queue);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clFinish");
    return CLNN_OK;
}

clnn_status clnn_ctx_stats_get(const clnn_ctx *ctx, clnn_ctx_stats *stats)
{
    if (!ctx || !stats)
        return CLNN_ERR_INVALID;
    *stats = ctx->stats;
    return CLNN_OK;
}

clnn_status clnn_ctx_build_all(clnn_ctx *ctx)
{
    clnn_status st = need_usable(ctx);
    if (st)
        return clnn__fail(ctx, st, "clnn_ctx_build_all: the context is not usable");
    for (size_t i = 0; i < clnn__kernel_source_count; i++) {
        if (!strcmp(clnn__kernel_sources[i].name, "common"))
            continue; /* prepended to every program, not a program of its own */
        cl_program p;
        if ((st = clnn__program_get(ctx, clnn__kernel_sources[i].name, NULL, &p)) != CLNN_OK)
            return st;
    }
    return CLNN_OK;
}
