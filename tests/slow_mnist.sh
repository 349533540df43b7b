#!/bin/sh
# slow_mnist.sh BUILD_ROOT DATA_DIR — the acceptance run of the README's main job (suite 'slow'):
# mnist_cnn trains 5 epochs on the 60,000 real MNIST digits and must reach a test accuracy of at
# least 0.985; then two short runs with the same seed must write the same history, bit for bit.
# Skipped (exit 77) when the data are missing: run tools/fetch-data first. About 2-3 minutes on
# two CPU cores with POCL.
set -eu

build=${1:?usage: slow_mnist.sh BUILD_ROOT DATA_DIR}
data=${2:?usage: slow_mnist.sh BUILD_ROOT DATA_DIR}
[ -e "$data/train-images-idx3-ubyte.gz" ] || [ -e "$data/train-images-idx3-ubyte" ] || {
    echo "slow_mnist: no MNIST in $data (run tools/fetch-data): skipped"
    exit 77
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clnn-slow-mnist-XXXXXX")
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

"$build/tools/mnist_cnn" --data "$data" --epochs 5 --batch-size 128 --seed 1 | tee "$tmp/out"
acc=$(sed -n 's/^test accuracy: //p' "$tmp/out")
[ -n "$acc" ] || { echo "slow_mnist: FAIL: no test accuracy printed"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a >= 0.985) }' ||
    { echo "slow_mnist: FAIL: test accuracy $acc < 0.985"; exit 1; }

for run in 1 2; do
    "$build/tools/mnist_cnn" --data "$data" --epochs 2 --limit 3000 --seed 7 --quiet \
        --history "$tmp/h$run.csv" >/dev/null
done
cmp "$tmp/h1.csv" "$tmp/h2.csv" ||
    { echo "slow_mnist: FAIL: the same seed gave different loss curves"; cat "$tmp"/h?.csv; exit 1; }
echo "slow_mnist: test accuracy $acc >= 0.985; same seed, same loss curve"
