/* dist.c — data-parallel training over MPI: process setup (clnn_mpi_*), the agreement that lets
 * every rank stop together when one fails, and the collectives fit uses (dist.h).
 *
 * Built with meson -Dmpi (CLNN_HAVE_MPI): one OpenCL device per rank, host-staged collectives on
 * MPI_COMM_WORLD. Built without it, clnn_mpi_init reports CLNN_ERR_UNSUPPORTED and the rest is
 * inert, so programs link and run the same either way. MPI's default error handler
 * (MPI_ERRORS_ARE_FATAL) stays: a broken connection ends the job rather than hanging it. */
#include "dist.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLNN_HAVE_MPI
#include <mpi.h>
#endif

static int g_on, g_rank, g_size = 1, g_local_rank;
#ifdef CLNN_HAVE_MPI
static int g_we_initialised; /* MPI_Finalize is ours to call */
#endif

static clnn_status set_err(char *err, size_t err_size, clnn_status st, const char *fmt, ...)
    CLNN__PRINTF(4, 5);
static clnn_status set_err(char *err, size_t err_size, clnn_status st, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return st;
}

int clnn_mpi_available(void)
{
#ifdef CLNN_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

clnn_status clnn_mpi_init(int *argc, char ***argv, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = 0;
#ifdef CLNN_HAVE_MPI
    if (g_on)
        return CLNN_OK;
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    if (finalised)
        return set_err(err, err_size, CLNN_ERR_STATE,
                       "clnn_mpi_init: MPI was already finalised in this process");
    if (!initialised) {
        int provided = 0;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return set_err(err, err_size, CLNN_ERR_STATE, "clnn_mpi_init: MPI_Init_thread failed");
        g_we_initialised = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &g_local_rank);
    MPI_Comm_free(&node);
    g_on = 1;
    return CLNN_OK;
#else
    (void)argc;
    (void)argv;
    return set_err(err, err_size, CLNN_ERR_UNSUPPORTED,
                   "clnn_mpi_init: this clnn was built without MPI (build it with meson "
                   "-Dmpi=enabled after 'apt-get install libopenmpi-dev openmpi-bin')");
#endif
}

void clnn_mpi_finalize(void)
{
#ifdef CLNN_HAVE_MPI
    if (!g_on)
        return;
    g_on = 0;
    if (g_we_initialised) {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised)
            MPI_Finalize();
    }
#endif
    g_rank = g_local_rank = 0;
    g_size = 1;
}

int clnn_mpi_rank(void)
{
    return g_rank;
}

int clnn_mpi_size(void)
{
    return g_size;
}

int clnn_mpi_local_rank(void)
{
    return g_local_rank;
}

clnn_status clnn_mpi_agree(clnn_status local, const char *message, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = 0;
    if (!g_on)
        return set_err(err, err_size, local, "%s", local && message ? message : "");
#ifdef CLNN_HAVE_MPI
    int v = local != CLNN_OK ? g_rank : INT_MAX, first;
    MPI_Allreduce(&v, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == INT_MAX)
        return CLNN_OK;
    char msg[512] = {0};
    if (g_rank == first)
        snprintf(msg, sizeof msg, "%s", message ? message : clnn_status_text(local));
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD);
    if (local != CLNN_OK)
        return set_err(err, err_size, local, "%s", message ? message : "");
    return set_err(err, err_size, CLNN_ERR_DISTRIBUTED, "MPI rank %d of %d failed: %s", first,
                   g_size, msg);
#else
    return local;
#endif
}

/* ---- internal (dist.h) --------------------------------------------------------------------- */
int clnn__dist_on(void)
{
    return g_on;
}

int clnn__dist_rank(void)
{
    return g_rank;
}

int clnn__dist_size(void)
{
    return g_size;
}

int clnn__dist_local_rank(void)
{
    return g_local_rank;
}

#ifdef CLNN_HAVE_MPI
/* MPI counts are ints: long buffers go in pieces */
#define PIECE ((size_t)1 << 30)

#define MAX_REQUESTS 256
static MPI_Request g_req[MAX_REQUESTS];
static int g_nreq;
#endif

clnn_status clnn__dist_agree(clnn_ctx *ctx, clnn_status local, int *stop, const char *where)
{
    if (!g_on)
        return local;
#ifdef CLNN_HAVE_MPI
    /* [0]: the lowest failed rank (INT_MAX: none), [1]: the stop flag */
    int v[2] = {local != CLNN_OK ? g_rank : INT_MAX, stop && *stop ? -1 : 0}, r[2];
    MPI_Allreduce(v, r, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (stop)
        *stop = r[1] < 0;
    if (r[0] == INT_MAX)
        return CLNN_OK;
    char msg[512] = {0};
    if (g_rank == r[0]) {
        const char *own = ctx ? clnn_ctx_last_error(ctx) : NULL;
        snprintf(msg, sizeof msg, "%s: %s", clnn_status_name(local),
                 own && *own ? own : clnn_status_text(local));
    }
    MPI_Bcast(msg, sizeof msg, MPI_CHAR, r[0], MPI_COMM_WORLD);
    if (local != CLNN_OK)
        return local;
    if (ctx)
        return clnn__fail(ctx, CLNN_ERR_DISTRIBUTED, "%s: MPI rank %d of %d failed: %s", where,
                          r[0], g_size, msg);
    return CLNN_ERR_DISTRIBUTED;
#else
    (void)ctx;
    (void)stop;
    (void)where;
    return local;
#endif
}

void clnn__dist_sum_f64(double *v, size_t n)
{
#ifdef CLNN_HAVE_MPI
    for (size_t i = 0; g_on && i < n; i += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_DOUBLE,
                      MPI_SUM, MPI_COMM_WORLD);
#else
    (void)v;
    (void)n;
#endif
}

void clnn__dist_sum_i64(int64_t *v, size_t n)
{
#ifdef CLNN_HAVE_MPI
    for (size_t i = 0; g_on && i < n; i += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_INT64_T,
                      MPI_SUM, MPI_COMM_WORLD);
#else
    (void)v;
    (void)n;
#endif
}

void clnn__dist_minmax_i64(int64_t v, int64_t *min, int64_t *max)
{
    *min = *max = v;
#ifdef CLNN_HAVE_MPI
    if (g_on) {
        MPI_Allreduce(&v, min, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&v, max, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    }
#endif
}

void clnn__dist_bcast_f32(float *v, size_t n)
{
#ifdef CLNN_HAVE_MPI
    for (size_t i = 0; g_on && i < n; i += PIECE)
        MPI_Bcast(v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_FLOAT, 0, MPI_COMM_WORLD);
#else
    (void)v;
    (void)n;
#endif
}

void clnn__dist_isum_f32(float *v, size_t n)
{
#ifdef CLNN_HAVE_MPI
    for (size_t i = 0; g_on && i < n; i += PIECE) {
        if (g_nreq == MAX_REQUESTS) /* every rank gets here at the same call */
            clnn__dist_wait();
        MPI_Iallreduce(MPI_IN_PLACE, v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_FLOAT,
                       MPI_SUM, MPI_COMM_WORLD, &g_req[g_nreq++]);
    }
#else
    (void)v;
    (void)n;
#endif
}

void clnn__dist_wait(void)
{
#ifdef CLNN_HAVE_MPI
    if (g_nreq)
        MPI_Waitall(g_nreq, g_req, MPI_STATUSES_IGNORE);
    g_nreq = 0;
#endif
}
