/* clobj.c — accounting of the OpenCL objects the library owns. internal.h routes every
 * clCreateBuffer / clReleaseMemObject, clCreateKernel / clReleaseKernel and
 * clCreateProgramWith* / clReleaseProgram of the library through these wrappers, which count the
 * objects alive in the whole process (atomically: contexts may live in several threads).
 * clnn_live_objects_get() reports the counts; the leak tests check that creating and destroying
 * contexts, graphs and models many times brings them back to where they were. Objects CLBlast
 * makes for itself are its own and not counted. */
#define CLNN__NO_CL_WRAPPERS
#include <stdatomic.h>

#include "internal.h"

static atomic_long live_buffers, live_kernels, live_programs;

cl_mem clnn__cl_create_buffer(cl_context c, cl_mem_flags f, size_t size, void *host, cl_int *err)
{
    cl_mem m = clCreateBuffer(c, f, size, host, err);
    if (m)
        atomic_fetch_add(&live_buffers, 1);
    return m;
}

cl_int clnn__cl_release_mem(cl_mem m)
{
    cl_int err = clReleaseMemObject(m);
    if (err == CL_SUCCESS)
        atomic_fetch_sub(&live_buffers, 1);
    return err;
}

cl_kernel clnn__cl_create_kernel(cl_program p, const char *name, cl_int *err)
{
    cl_kernel k = clCreateKernel(p, name, err);
    if (k)
        atomic_fetch_add(&live_kernels, 1);
    return k;
}

cl_int clnn__cl_release_kernel(cl_kernel k)
{
    cl_int err = clReleaseKernel(k);
    if (err == CL_SUCCESS)
        atomic_fetch_sub(&live_kernels, 1);
    return err;
}

cl_program clnn__cl_create_program_src(cl_context c, cl_uint n, const char **src, const size_t *len,
                                       cl_int *err)
{
    cl_program p = clCreateProgramWithSource(c, n, src, len, err);
    if (p)
        atomic_fetch_add(&live_programs, 1);
    return p;
}

cl_program clnn__cl_create_program_bin(cl_context c, cl_uint n, const cl_device_id *dev,
                                       const size_t *len, const unsigned char **bin, cl_int *status,
                                       cl_int *err)
{
    cl_program p = clCreateProgramWithBinary(c, n, dev, len, bin, status, err);
    if (p)
        atomic_fetch_add(&live_programs, 1);
    return p;
}

cl_int clnn__cl_release_program(cl_program p)
{
    cl_int err = clReleaseProgram(p);
    if (err == CL_SUCCESS)
        atomic_fetch_sub(&live_programs, 1);
    return err;
}

void clnn_live_objects_get(clnn_live_objects *out)
{
    if (!out)
        return;
    out->buffers = atomic_load(&live_buffers);
    out->kernels = atomic_load(&live_kernels);
    out->programs = atomic_load(&live_programs);
}
