/* program.c — OpenCL programs: the source of kernels/<file>.cl (embedded at build time, or read
 * from CLNN_KERNEL_DIR), built lazily per (device, file, options), kept in memory, and cached on
 * disk as binaries keyed by platform + device + driver + build options + source hash. A cache file
 * that is corrupt, truncated or from another key is rebuilt silently; writes are atomic
 * (temporary file, fsync, rename). A failed build returns CLNN_ERR_BUILD with the full log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char CACHE_MAGIC[8] = {'C', 'L', 'N', 'N', 'P', 'R', 'G', '1'};

/* ---- sources ------------------------------------------------------------------------------ */
static const clnn__kernel_source *embedded(const char *file)
{
    for (size_t i = 0; i < clnn__kernel_source_count; i++)
        if (!strcmp(clnn__kernel_sources[i].name, file))
            return &clnn__kernel_sources[i];
    return NULL;
}

static clnn_status read_file(clnn_ctx *ctx, const char *path, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnn__fail(ctx, CLNN_ERR_IO, "cannot open kernel file '%s': %s", path,
                          strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (clnn__grow((void **)&buf, &cap, len + 4096, 1)) {
            free(buf);
            fclose(f);
            return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory reading '%s'", path);
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return clnn__fail(ctx, CLNN_ERR_IO, "error reading kernel file '%s'", path);
    }
    *data = buf;
    *size = len;
    return CLNN_OK;
}

/* The text of one kernel file, from CLNN_KERNEL_DIR or the embedded copy. */
static clnn_status file_source(clnn_ctx *ctx, const char *file, char **data, size_t *size)
{
    if (ctx->kernel_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", ctx->kernel_dir, file);
        return read_file(ctx, path, data, size);
    }
    const clnn__kernel_source *k = embedded(file);
    if (!k)
        return clnn__fail(ctx, CLNN_ERR_INVALID, "no kernel file '%s.cl' is embedded in clnn",
                          file);
    *data = malloc(k->size ? k->size : 1);
    if (!*data)
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory copying '%s.cl'", file);
    memcpy(*data, k->data, k->size);
    *size = k->size;
    return CLNN_OK;
}

/* common.cl followed by <file>.cl, NUL-terminated. */
static clnn_status program_source(clnn_ctx *ctx, const char *file, char **out, size_t *out_size)
{
    char *common = NULL, *body = NULL;
    size_t ncommon = 0, nbody = 0;
    clnn_status st = file_source(ctx, "common", &common, &ncommon);
    if (st == CLNN_OK)
        st = file_source(ctx, file, &body, &nbody);
    if (st != CLNN_OK) {
        free(common);
        return st;
    }
    static const char line[] = "\n#line 1\n";
    size_t n = ncommon + sizeof line - 1 + nbody;
    char *src = malloc(n + 1);
    if (!src) {
        free(common);
        free(body);
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for program '%s'", file);
    }
    memcpy(src, common, ncommon);
    memcpy(src + ncommon, line, sizeof line - 1);
    memcpy(src + ncommon + sizeof line - 1, body, nbody);
    src[n] = 0;
    free(common);
    free(body);
    *out = src;
    *out_size = n;
    return CLNN_OK;
}

/* ---- the disk cache ----------------------------------------------------------------------- */
static void cache_path(const clnn_ctx *ctx, const char *key, char *path, size_t size)
{
    uint64_t h = clnn__fnv1a(CLNN__FNV_INIT, key, strlen(key));
    snprintf(path, size, "%s/%016llx.bin", ctx->cache_dir, (unsigned long long)h);
}

/* Reads a cached binary for key; returns a malloc'd binary or NULL (absent or rejected). */
static unsigned char *cache_read(clnn_ctx *ctx, const char *key, size_t *size)
{
    char path[4200];
    cache_path(ctx, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *bin = NULL;
    char magic[8];
    uint32_t klen = 0;
    uint64_t blen = 0, sum = 0;
    char *k = NULL;
    struct stat stt;
    int ok = fstat(fileno(f), &stt) == 0 && fread(magic, 1, 8, f) == 8 &&
             !memcmp(magic, CACHE_MAGIC, 8) && fread(&klen, 4, 1, f) == 1 && klen == strlen(key) &&
             (k = malloc(klen + 1)) && fread(k, 1, klen, f) == klen && !memcmp(k, key, klen) &&
             fread(&blen, 8, 1, f) == 1 && fread(&sum, 8, 1, f) == 1 && blen > 0 &&
             (uint64_t)stt.st_size == 8 + 4 + klen + 16 + blen && (bin = malloc(blen)) &&
             fread(bin, 1, blen, f) == blen && clnn__fnv1a(CLNN__FNV_INIT, bin, blen) == sum;
    fclose(f);
    free(k);
    if (!ok) {
        free(bin);
        ctx->stats.cache_entries_rejected++;
        clnn__log(ctx, CLNN_LOG_DEBUG, "program cache: rejected '%s', rebuilding", path);
        return NULL;
    }
    *size = blen;
    return bin;
}

static void cache_write(clnn_ctx *ctx, const char *key, const unsigned char *bin, size_t size)
{
    clnn__make_dirs(ctx->cache_dir);
    char path[4200], tmp[4300];
    cache_path(ctx, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp); /* unique even for two threads of one process */
    if (fd < 0) {
        clnn__log(ctx, CLNN_LOG_DEBUG, "program cache: cannot write '%s': %s", tmp,
                  strerror(errno));
        return;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return;
    }
    uint32_t klen = (uint32_t)strlen(key);
    uint64_t blen = size, sum = clnn__fnv1a(CLNN__FNV_INIT, bin, size);
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&klen, 4, 1, f) == 1 &&
             fwrite(key, 1, klen, f) == klen && fwrite(&blen, 8, 1, f) == 1 &&
             fwrite(&sum, 8, 1, f) == 1 && fwrite(bin, 1, size, f) == size && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        clnn__log(ctx, CLNN_LOG_DEBUG, "program cache: failed to store '%s'", path);
        return;
    }
    ctx->stats.cache_writes++;
}

/* ---- building ----------------------------------------------------------------------------- */
static clnn_status build(clnn_ctx *ctx, cl_program prog, const char *file, const char *options,
                         int from_binary)
{
    cl_int err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (err == CL_SUCCESS)
        return CLNN_OK;
    if (from_binary)
        return CLNN_ERR_BUILD; /* the caller falls back to source */
    size_t n = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) !=
            CL_SUCCESS)
            n = 0;
        log[n] = 0;
    }
    clnn__fail(ctx, CLNN_ERR_BUILD, "building kernels/%s.cl with options '%s' failed (%s):\n%s",
               file, options, clnn__cl_error_name(err), log ? log : "(no build log)");
    ctx->last_raw = err;
    free(log);
    return CLNN_ERR_BUILD;
}

static clnn_status get_binary(cl_program prog, unsigned char **bin, size_t *size)
{
    size_t n = 0;
    cl_int err = clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (err != CL_SUCCESS || n == 0)
        return CLNN_ERR_OPENCL;
    *bin = malloc(n);
    if (!*bin)
        return CLNN_ERR_NOMEM;
    unsigned char *ptrs[1] = {*bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL) != CL_SUCCESS) {
        free(*bin);
        *bin = NULL;
        return CLNN_ERR_OPENCL;
    }
    *size = n;
    return CLNN_OK;
}

static clnn_status compile(clnn_ctx *ctx, const char *file, const char *options, cl_program *out)
{
    char *src = NULL;
    size_t nsrc = 0;
    clnn_status st = program_source(ctx, file, &src, &nsrc);
    if (st != CLNN_OK)
        return st;
    char opts[512];
    snprintf(opts, sizeof opts, "%s%s%s", ctx->build_options, options[0] ? " " : "", options);
    /* key: platform + device + driver + options + source hash */
    char key[1024];
    snprintf(key, sizeof key, "%s|%s|%s|%s|%s|%016llx", ctx->info.platform_name, ctx->info.name,
             ctx->info.driver_version, ctx->info.device_version, opts,
             (unsigned long long)clnn__fnv1a(CLNN__FNV_INIT, src, nsrc));
    cl_int err;
    if (ctx->cache_dir) {
        size_t blen = 0;
        unsigned char *bin = cache_read(ctx, key, &blen);
        if (bin) {
            const unsigned char *b = bin;
            cl_int bstatus;
            cl_program prog =
                clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &blen, &b, &bstatus, &err);
            free(bin);
            if (err == CL_SUCCESS && bstatus == CL_SUCCESS &&
                build(ctx, prog, file, opts, 1) == CLNN_OK) {
                free(src);
                ctx->stats.programs_from_cache++;
                *out = prog;
                return CLNN_OK;
            }
            if (prog)
                clReleaseProgram(prog);
            ctx->stats.cache_entries_rejected++;
        }
    }
    const char *s = src;
    cl_program prog = clCreateProgramWithSource(ctx->context, 1, &s, &nsrc, &err);
    free(src);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clCreateProgramWithSource for kernels/%s.cl", file);
    if ((st = build(ctx, prog, file, opts, 0)) != CLNN_OK) {
        clReleaseProgram(prog);
        return st;
    }
    ctx->stats.programs_from_source++;
    if (ctx->cache_dir) {
        unsigned char *bin;
        size_t blen;
        if (get_binary(prog, &bin, &blen) == CLNN_OK) {
            cache_write(ctx, key, bin, blen);
            free(bin);
        }
    }
    *out = prog;
    return CLNN_OK;
}

clnn_status clnn__program_get(clnn_ctx *ctx, const char *file, const char *options, cl_program *out)
{
    if (!options)
        options = "";
    for (size_t i = 0; i < ctx->nprograms; i++) {
        clnn__program *p = &ctx->programs[i];
        if (!strcmp(p->file, file) && !strcmp(p->options, options)) {
            *out = p->program;
            return CLNN_OK;
        }
    }
    if (clnn__grow((void **)&ctx->programs, &ctx->programs_cap, ctx->nprograms + 1,
                   sizeof *ctx->programs))
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for program list");
    cl_program prog;
    clnn_status st = compile(ctx, file, options, &prog);
    if (st != CLNN_OK)
        return st;
    clnn__program *p = &ctx->programs[ctx->nprograms];
    p->file = clnn__strdup(file);
    p->options = clnn__strdup(options);
    if (!p->file || !p->options) {
        free(p->file);
        free(p->options);
        clReleaseProgram(prog);
        return clnn__fail(ctx, CLNN_ERR_NOMEM, "out of host memory for program list");
    }
    p->program = prog;
    ctx->nprograms++;
    *out = prog;
    return CLNN_OK;
}

clnn_status clnn__kernel_create(clnn_ctx *ctx, const char *file, const char *options,
                                const char *kernel, cl_kernel *out)
{
    cl_program prog;
    clnn_status st = clnn__program_get(ctx, file, options, &prog);
    if (st != CLNN_OK)
        return st;
    cl_int err;
    *out = clCreateKernel(prog, kernel, &err);
    if (err != CL_SUCCESS)
        return clnn__cl_fail(ctx, err, "clCreateKernel '%s' in kernels/%s.cl", kernel, file);
    return CLNN_OK;
}

void clnn__programs_release(clnn_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nprograms; i++) {
        clReleaseProgram(ctx->programs[i].program);
        free(ctx->programs[i].file);
        free(ctx->programs[i].options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->nprograms = ctx->programs_cap = 0;
}
