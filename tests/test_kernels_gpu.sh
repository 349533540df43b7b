#!/bin/sh
# test_kernels_gpu.sh KERNEL_DIR — every kernels/*.cl program, as clnn builds it for a GPU
# (common.cl prepended, -DCLNN_DEVICE_GPU, OpenCL C 1.2), compiled by clang for NVIDIA's PTX and
# AMD's GCN backends: the CI machine has no GPU, so this is what catches a kernel that only POCL
# accepts (a CPU-only builtin, an OpenCL 2.0 feature, a vector form a GPU compiler rejects).
# Skipped (exit 77) without clang. Prints "test_kernels_gpu: N checks passed".
set -u
dir=${1:?usage: test_kernels_gpu.sh KERNEL_DIR}
cc=""
for c in clang-15 clang-14 clang; do
  if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done
[ -n "$cc" ] || { echo "test_kernels_gpu: no clang: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0 failed=0
for f in "$dir"/*.cl; do
  name=$(basename "$f" .cl)
  [ "$name" = common ] && continue
  cat "$dir/common.cl" "$f" >"$tmp/$name.cl"
  for target in nvptx64-nvidia-cuda amdgcn-amd-amdhsa; do
    # PTX as text (no ptxas here), GCN code objects without the ROCm device library
    extra="-S"
    [ "$target" = amdgcn-amd-amdhsa ] && extra="-c -mcpu=gfx900 -nogpulib"
    checks=$((checks + 1))
    # shellcheck disable=SC2086
    if ! "$cc" -x cl -cl-std=CL1.2 -Xclang -finclude-default-header -DCLNN_DEVICE_GPU \
        -target "$target" $extra -O1 -Werror "$tmp/$name.cl" -o "$tmp/$name.out" \
        >"$tmp/log" 2>&1; then
      if grep -q "unknown target\|No available targets" "$tmp/log"; then
        echo "test_kernels_gpu: $cc has no $target backend: skipped"
        continue
      fi
      echo "FAIL: $name.cl for $target:"
      head -n 30 "$tmp/log"
      failed=$((failed + 1))
    fi
  done
done
if [ "$failed" -gt 0 ]; then
  echo "test_kernels_gpu: $failed of $checks checks failed"
  exit 1
fi
echo "test_kernels_gpu: $checks checks passed"
