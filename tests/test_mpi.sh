#!/bin/sh
# test_mpi.sh BUILD_ROOT — the data-parallel suite (test_mpi.c) under `mpirun -np 2` on this
# machine's default device (two ranks share POCL's CPU device). Root may run mpirun here (CI runs
# as root in a container); --oversubscribe because a 2-core machine may offer fewer slots.
set -eu
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun -np 2 --oversubscribe --timeout 280 "$1/tests/test_mpi"
