#!/bin/sh
# valgrind.sh TEST [ARGS...] — runs a host-side test (no OpenCL: the IDX, CSV, data set,
# safetensors and text readers) under valgrind memcheck: any invalid access, use of uninitialised
# memory or definite/indirect leak fails it. The OpenCL runtime is not involved, so no suppression
# file is needed. Skipped (77) when valgrind is missing (tools/install-deps installs it).
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: no valgrind: skipped"; exit 77; }
exec valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --track-origins=yes "$@"
