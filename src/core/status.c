/* status.c — status names and texts (from the one X-macro list in clnn.h), the context's last
 * detailed error, the mapping of OpenCL and CLBlast codes to statuses, and the log callback.
 * Formatting of messages lives here and nowhere else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *clnn_status_name(clnn_status status)
{
    switch (status) {
#define CLNN_X_NAME(name, value, text)                                                             \
    case CLNN_##name:                                                                              \
        return "CLNN_" #name;
        CLNN_STATUS_LIST(CLNN_X_NAME)
#undef CLNN_X_NAME
    }
    return "CLNN_UNKNOWN";
}

const char *clnn_status_text(clnn_status status)
{
    switch (status) {
#define CLNN_X_TEXT(name, value, text)                                                             \
    case CLNN_##name:                                                                              \
        return text;
        CLNN_STATUS_LIST(CLNN_X_TEXT)
#undef CLNN_X_TEXT
    }
    return "unknown status";
}

clnn_status clnn__failv(clnn_ctx *ctx, clnn_status status, const char *fmt, va_list ap)
{
    if (!ctx)
        return status;
    ctx->last_status = status;
    ctx->last_raw = 0;
    /* format into a stack buffer first; only long messages (build logs) need a second pass */
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *msg = malloc((size_t)n + 1);
    if (msg) {
        if ((size_t)n < sizeof small)
            memcpy(msg, small, (size_t)n + 1);
        else
            vsnprintf(msg, (size_t)n + 1, fmt, ap);
        free(ctx->last_error);
        ctx->last_error = msg;
    }
    /* without memory the previous message stays; the status is still right */
    clnn__log(ctx, CLNN_LOG_DEBUG, "%s: %s", clnn_status_name(status), msg ? msg : "");
    return status;
}

clnn_status clnn__fail(clnn_ctx *ctx, clnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clnn__failv(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

const char *clnn__cl_error_name(cl_int err)
{
    switch (err) {
        // clang-format off
#define E(x) case x: return #x;
    E(CL_SUCCESS)
    E(CL_DEVICE_NOT_FOUND)
    E(CL_DEVICE_NOT_AVAILABLE)
    E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    E(CL_OUT_OF_RESOURCES)
    E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE)
    E(CL_MEM_COPY_OVERLAP)
    E(CL_BUILD_PROGRAM_FAILURE)
    E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE)
    E(CL_INVALID_PLATFORM)
    E(CL_INVALID_DEVICE)
    E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES)
    E(CL_INVALID_COMMAND_QUEUE)
    E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT)
    E(CL_INVALID_BINARY)
    E(CL_INVALID_BUILD_OPTIONS)
    E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE)
    E(CL_INVALID_KERNEL_NAME)
    E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL)
    E(CL_INVALID_ARG_INDEX)
    E(CL_INVALID_ARG_VALUE)
    E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS)
    E(CL_INVALID_WORK_DIMENSION)
    E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE)
    E(CL_INVALID_GLOBAL_OFFSET)
    E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT)
    E(CL_INVALID_OPERATION)
    E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_GLOBAL_WORK_SIZE)
#undef E
    // clang-format on
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}

static clnn_status status_of_cl(cl_int err)
{
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_INVALID_BUFFER_SIZE:
        return CLNN_ERR_DEVICE_MEMORY;
    case CL_OUT_OF_HOST_MEMORY:
        return CLNN_ERR_NOMEM;
    case CL_BUILD_PROGRAM_FAILURE:
        return CLNN_ERR_BUILD;
    case -1001:
        return CLNN_ERR_NO_PLATFORM;
    default:
        return CLNN_ERR_OPENCL;
    }
}

clnn_status clnn__cl_fail(clnn_ctx *ctx, cl_int err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    clnn_status st = status_of_cl(err);
    clnn__fail(ctx, st, "%s failed: %s (%d)", what, clnn__cl_error_name(err), (int)err);
    if (ctx)
        ctx->last_raw = err;
    return st;
}

static const char *clblast_name(int code)
{
    switch (code) {
    case -1024:
        return "CLBlastNotImplemented";
    case -1017:
        return "CLBlastInvalidDimension";
    case -1016:
        return "CLBlastInvalidLeadDimA";
    case -1015:
        return "CLBlastInvalidLeadDimB";
    case -1014:
        return "CLBlastInvalidLeadDimC";
    case -1011:
        return "CLBlastInsufficientMemoryA";
    case -1010:
        return "CLBlastInsufficientMemoryB";
    case -1009:
        return "CLBlastInsufficientMemoryC";
    case -2050:
        return "CLBlastInsufficientMemoryTemp";
    case -2049:
        return "CLBlastInvalidBatchCount";
    case -2048:
        return "CLBlastInvalidOverrideKernel";
    case -2047:
        return "CLBlastMissingOverrideParameter";
    case -2046:
        return "CLBlastInvalidLocalMemUsage";
    case -2041:
        return "CLBlastDatabaseError";
    case -2040:
        return "CLBlastUnknownError";
    case -2039:
        return "CLBlastUnexpectedError";
    }
    return "CLBlast error";
}

clnn_status clnn__clblast_fail(clnn_ctx *ctx, int code, const char *what)
{
    if (code > -1000) /* CLBlast reuses the OpenCL code for these */
        return clnn__cl_fail(ctx, code, "%s (CLBlast)", what);
    clnn__fail(ctx, CLNN_ERR_CLBLAST, "%s failed: %s (%d)", what, clblast_name(code), code);
    if (ctx)
        ctx->last_raw = code;
    return CLNN_ERR_CLBLAST;
}

void clnn__log(clnn_ctx *ctx, clnn_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log || level < ctx->log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, buf);
}

const char *clnn_ctx_last_error(const clnn_ctx *ctx)
{
    if (!ctx)
        return "no context (NULL): clnn_ctx_create failed for lack of host memory or was not "
               "called";
    return ctx->last_error ? ctx->last_error : "";
}

clnn_status clnn_ctx_last_status(const clnn_ctx *ctx)
{
    return ctx ? ctx->last_status : CLNN_ERR_INVALID;
}
int clnn_ctx_last_raw_code(const clnn_ctx *ctx)
{
    return ctx ? ctx->last_raw : 0;
}

void clnn_ctx_clear_error(clnn_ctx *ctx)
{
    if (!ctx)
        return;
    free(ctx->last_error);
    ctx->last_error = NULL;
    ctx->last_status = CLNN_OK;
    ctx->last_raw = 0;
}

const char *clnn_version(void)
{
    return CLNN_VERSION_STRING;
}
int clnn_version_number(void)
{
    return CLNN_VERSION_NUMBER;
}
