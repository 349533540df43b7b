/* dist.h — the library's side of data-parallel training over MPI (dist.c). Built without MPI
 * (meson -Dmpi=disabled, or auto without libopenmpi-dev) clnn__dist_on() is 0 and nothing else
 * may be called. Every collective here is called by every rank of MPI_COMM_WORLD in the same
 * order; one thread per process (MPI_THREAD_FUNNELED). */
#ifndef CLNN_DIST_H
#define CLNN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int clnn__dist_on(void);         /* clnn_mpi_init was called and clnn_mpi_finalize was not */
int clnn__dist_rank(void);       /* 0 when off */
int clnn__dist_size(void);       /* 1 when off */
int clnn__dist_local_rank(void); /* rank among the processes of this machine; 0 when off */

/* The agreement every rank reaches before going on: local is this rank's status so far and
 * *stop (may be NULL) a flag OR-ed over the ranks. When every rank is OK, returns CLNN_OK. Else a
 * rank that failed keeps its status and its context's message; every other rank returns
 * CLNN_ERR_DISTRIBUTED with a message naming the first failed rank and quoting its message
 * (ctx may be NULL: then only the status). `where` says what was being done ("fit, epoch 2"). */
clnn_status clnn__dist_agree(clnn_ctx *ctx, clnn_status local, int *stop, const char *where);

/* In-place sums over the ranks (blocking). */
void clnn__dist_sum_f64(double *v, size_t n);
void clnn__dist_sum_i64(int64_t *v, size_t n);
/* Minimum and maximum of one value over the ranks. */
void clnn__dist_minmax_i64(int64_t v, int64_t *min, int64_t *max);
/* rank 0's n floats to every rank */
void clnn__dist_bcast_f32(float *v, size_t n);
/* Starts an in-place sum of n floats (MPI_Iallreduce) that clnn__dist_wait completes; several
 * may be in flight (the buckets of one gradient exchange). */
void clnn__dist_isum_f32(float *v, size_t n);
void clnn__dist_wait(void);

#endif
