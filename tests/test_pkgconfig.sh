#!/bin/sh
# test_pkgconfig.sh BUILD_ROOT TESTS_SOURCE_DIR — the installed library as a user sees it:
# installs the build into a temporary DESTDIR, checks that the shared library exports only the
# public clnn_ API (no clnn__ internals, nothing else but the linker's own entries) and that the
# installed header is the source one, then compiles and runs a small program with the flags of
# the installed clnn.pc (a context and a 2x2 matmul graph). Exits non-zero on any failure.
set -eu

build=${1:?usage: test_pkgconfig.sh BUILD_ROOT TESTS_SOURCE_DIR}
tests_src=${2:?usage: test_pkgconfig.sh BUILD_ROOT TESTS_SOURCE_DIR}
cc=${CC:-cc}

fail() {
    echo "test_pkgconfig: FAIL: $*" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clnn-test-pkgconfig-XXXXXX")
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# ---- install ---------------------------------------------------------------------------------
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install into a DESTDIR failed"; }

pc=$(find "$tmp/root" -name clnn.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no pkgconfig/clnn.pc under the DESTDIR; got: $(find "$tmp/root" -type f)"
header=$(find "$tmp/root" -name clnn.h | head -n 1)
[ -n "$header" ] || fail "no clnn.h installed"
cmp -s "$header" "$tests_src/../include/clnn.h" ||
    fail "installed $header differs from include/clnn.h of the source tree"

PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pkg-config --exists clnn || fail "pkg-config cannot use $pc: $(pkg-config --print-errors clnn 2>&1)"
version=$(pkg-config --modversion clnn)
libdir=$(pkg-config --variable=libdir clnn)
case $libdir in # pkgconf applies the sysroot to variables, the older pkg-config does not
"$tmp/root"/*) ;;
*) libdir="$tmp/root$libdir" ;;
esac
so=$(find "$libdir" -maxdepth 1 -name 'libclnn.so.*.*' -type f | head -n 1)
[ -n "$so" ] || fail "no libclnn.so.X.Y in $libdir"

# ---- only the public API is exported ---------------------------------------------------------
nm -D --defined-only "$so" | awk '{ print $NF }' >"$tmp/exports"
grep -q '^clnn_ctx_create$' "$tmp/exports" || fail "clnn_ctx_create is not exported by $so"
linker='^(_init|_fini|_edata|_end|__bss_start|_etext|__end__|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$'
unexpected=$(grep -v -E '^clnn_[a-z0-9]' "$tmp/exports" | grep -v -E "$linker" || true)
[ -z "$unexpected" ] || fail "symbols outside the public API exported by $so:
$unexpected"
# every exported function is declared in the header (and so has CLNN_API)
grep '^clnn_' "$tmp/exports" | while read -r sym; do
    grep -q -E "CLNN_API[^;]*[ *]$sym\(" "$header" ||
        fail "$sym is exported but not declared CLNN_API in clnn.h"
done

# ---- a user program built with pkg-config ----------------------------------------------------
cat >"$tmp/prog.c" <<'EOF'
/* prog.c — a user of the installed clnn: y = a @ b for 2x2 matrices. */
#include <clnn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(clnn_version(), argv[1]) != 0) {
        fprintf(stderr, "version: got %s, expected %s\n", clnn_version(),
                argc > 1 ? argv[1] : "?");
        return 1;
    }
    clnn_ctx *ctx = NULL;
    clnn_status st = clnn_ctx_create(&ctx, NULL);
    if (st != CLNN_OK) {
        fprintf(stderr, "clnn_ctx_create: got %s: %s\n", clnn_status_name(st),
                clnn_ctx_last_error(ctx));
        clnn_ctx_destroy(ctx);
        return 1;
    }
    clnn_graph *g = NULL;
    clnn_graph_create(ctx, &g);
    clnn_tensor *a = clnn_input(g, "a", 2, (int64_t[]){2, 2});
    clnn_tensor *b = clnn_input(g, "b", 2, (int64_t[]){2, 2});
    clnn_tensor *y = clnn_matmul(g, a, b, 0, 0);
    const float as[4] = {1, 2, 3, 4}, bs[4] = {5, 6, 7, 8}, want[4] = {19, 22, 43, 50};
    float got[4] = {0};
    if (!y || clnn_tensor_write(a, as, sizeof as) || clnn_tensor_write(b, bs, sizeof bs) ||
        clnn_graph_run(g) || clnn_tensor_read(y, got, sizeof got)) {
        fprintf(stderr, "matmul graph failed: %s\n", clnn_ctx_last_error(ctx));
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr, "y[%d]: got %g, expected %g\n", i, (double)got[i], (double)want[i]);
            return 1;
        }
    }
    clnn_graph_destroy(g);
    clnn_ctx_destroy(ctx);
    puts("ok");
    return 0;
}
EOF

# a sanitizer build of clnn needs its runtime linked into the program too
san=
if ldd "$so" 2>/dev/null | grep -q libasan; then
    san=-fsanitize=address,undefined
fi
# shellcheck disable=SC2046,SC2086 # $san and pkg-config's flags are word lists
$cc -std=c11 -Wall -Wextra -Werror $san $(pkg-config --cflags clnn) "$tmp/prog.c" -o "$tmp/prog" \
    $(pkg-config --libs clnn) || fail "compiling against the installed clnn failed"
# the program must resolve clnn from the installed copy, not from the build tree
libpath="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
LD_LIBRARY_PATH="$libpath" ldd "$tmp/prog" >"$tmp/ldd" 2>&1 || true
grep -q "$libdir/libclnn.so" "$tmp/ldd" || fail "prog does not load libclnn from $libdir:
$(cat "$tmp/ldd")"
out=$(LD_LIBRARY_PATH="$libpath" "$tmp/prog" "$version") ||
    fail "the program built with pkg-config failed: $out"
[ "$out" = ok ] || fail "the program printed '$out', expected 'ok'"
echo "test_pkgconfig: ok (clnn $version, $(wc -l <"$tmp/exports") exported symbols)"
