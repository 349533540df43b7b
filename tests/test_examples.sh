#!/bin/sh
# test_examples.sh BUILD_ROOT — the example programs as a user runs them, on tiny synthetic MNIST
# files (IDX, one set plain and one gzipped, written by python3): bad arguments exit 2 with a
# message, a missing or malformed data directory exits 1 naming the problem (and tools/fetch-data),
# and one short training run of mnist_cnn and mnist_mlp prints the summary, one line per epoch,
# the test accuracy and a history CSV. The real run (60,000 digits, >= 98.5%) is the slow suite's
# slow_mnist.sh. char_lm: the same argument and data checks, and one epoch on a few KB of text
# that prints the epoch line and two generated samples. Exits non-zero on any failure.
set -eu

build=${1:?usage: test_examples.sh BUILD_ROOT}
cnn=$build/tools/mnist_cnn
mlp=$build/tools/mnist_mlp
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clnn-test-examples-XXXXXX")
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
checks=0

fail() {
    echo "test_examples: FAIL: $*" >&2
    exit 1
}

# expect RC PATTERN CMD...: CMD exits with RC and its output matches PATTERN (grep -E)
expect() {
    want=$1 pattern=$2
    shift 2
    set +e
    "$@" >"$tmp/out" 2>&1
    rc=$?
    set -e
    [ "$rc" = "$want" ] || { cat "$tmp/out" >&2; fail "'$*' exited $rc, expected $want"; }
    grep -Eq -- "$pattern" "$tmp/out" || { cat "$tmp/out" >&2; fail "'$*': no '$pattern'"; }
    checks=$((checks + 1))
}

# ---- synthetic MNIST: 120 training and 30 test images of 28x28; the label is a bright quadrant
python3 - "$tmp" <<'PY'
import gzip, os, random, struct, sys
d = sys.argv[1]
random.seed(7)
def images(n):
    labels, pix = [], bytearray()
    for _ in range(n):
        y = random.randrange(4)
        img = [random.randrange(40) for _ in range(784)]
        r0, c0 = (y // 2) * 14, (y % 2) * 14
        for r in range(r0 + 2, r0 + 12):
            for c in range(c0 + 2, c0 + 12):
                img[r * 28 + c] = 200 + random.randrange(56)
        labels.append(y)
        pix += bytes(img)
    return labels, bytes(pix)
for sub, gz in (("plain", False), ("gz", True)):
    os.makedirs(os.path.join(d, sub))
    for name, n in (("train", 120), ("t10k", 30)):
        labels, pix = images(n)
        files = {f"{name}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, 28, 28) + pix,
                 f"{name}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + bytes(labels)}
        for f, data in files.items():
            p = os.path.join(d, sub, f)
            if gz:
                with gzip.open(p + ".gz", "wb") as out:
                    out.write(data)
            else:
                open(p, "wb").write(data)
os.makedirs(os.path.join(d, "bad"))
open(os.path.join(d, "bad", "train-images-idx3-ubyte"), "wb").write(struct.pack(">IIII", 0x803, 5, 28, 28))
open(os.path.join(d, "bad", "train-labels-idx1-ubyte"), "wb").write(struct.pack(">II", 0x801, 5) + bytes(5))
PY

# ---- arguments and data errors -----------------------------------------------------------------
for prog in "$cnn" "$mlp"; do
    expect 0 'usage: ' "$prog" --help
    expect 2 "unknown argument '--bogus'" "$prog" --bogus
    expect 2 '--epochs expects a positive integer' "$prog" --epochs 0
    expect 2 '--batch-size expects a positive integer' "$prog" --batch-size x
    expect 2 '--data needs a value' "$prog" --data
    expect 1 'tools/fetch-data' "$prog" --data "$tmp/nowhere"
    expect 1 'train-images-idx3-ubyte' "$prog" --data "$tmp/bad"
    expect 1 'error: ' "$prog" --data "$tmp/plain" --device no-such-device-name
done

# ---- short training runs -----------------------------------------------------------------------
expect 0 'test accuracy: [01]\.[0-9]{4}' "$cnn" --data "$tmp/plain" --epochs 2 --batch-size 32 \
    --history "$tmp/h.csv" --save "$tmp/cnn.safetensors"
cnn_acc=$(sed -n 's/^test accuracy: //p' "$tmp/out")
grep -q 'Total params: 34,826' "$tmp/out" || fail "mnist_cnn: no 'Total params: 34,826' in the summary"
[ "$(grep -c '^Epoch [12]/2 - 4/4 - ' "$tmp/out")" = 2 ] ||
    { cat "$tmp/out" >&2; fail "mnist_cnn: expected two plain epoch lines '4/4' (120 samples, batch 32)"; }
head -n 1 "$tmp/h.csv" | grep -q '^epoch,loss,accuracy,lr$' || fail "history header: $(head -n 1 "$tmp/h.csv")"
[ "$(wc -l <"$tmp/h.csv")" = 3 ] || fail "history: expected 3 lines"
# inference from the saved model: the same accuracy on the same test images
predict=$build/tools/mnist_predict
expect 0 "accuracy: $cnn_acc \\(" "$predict" --model "$tmp/cnn.safetensors" --data "$tmp/plain"
expect 2 'model FILE is required' "$predict" --data "$tmp/gz"
expect 1 'mnist_predict: ' "$predict" --model "$tmp/h.csv" --data "$tmp/gz"
expect 1 'tools/fetch-data' "$predict" --model "$tmp/cnn.safetensors" --data "$tmp/nowhere"
expect 0 'test accuracy: ' "$mlp" --data "$tmp/gz" --epochs 1 --quiet
[ "$(wc -l <"$tmp/out")" -le 4 ] || { cat "$tmp/out" >&2; fail "--quiet printed progress"; }

# ---- char_lm: a character-level LSTM on a few KB of repeated simple sentences --------------------
charlm=$build/tools/char_lm
python3 - "$tmp/tiny.txt" <<'PY'
import random, sys
random.seed(3)
s = ["the cat sat on the mat.", "a dog ran in the park.", "the sun is hot today.",
     "we like to read books."]
open(sys.argv[1], "w").write(" ".join(random.choice(s) for _ in range(150)))
PY
expect 0 'usage: char_lm' "$charlm" --help
expect 2 "unknown argument '--bogus'" "$charlm" --bogus
expect 2 '--seq-len expects an integer' "$charlm" --seq-len 0
expect 1 'tools/fetch-data' "$charlm" --data "$tmp/nowhere.txt"
expect 1 'needs more' "$charlm" --data "$tmp/tiny.txt" --seq-len 5000
expect 0 '^Epoch 1/1 - 36/36 - .*loss: [0-9]' "$charlm" --data "$tmp/tiny.txt" --epochs 1 \
    --seq-len 10 --hidden 16 --generate 40 --batch-size 32 --save "$tmp/char_lm.safetensors"
[ "$(grep -Ec '^---- temperature (0\.5|1\.0):$' "$tmp/out")" = 2 ] ||
    { cat "$tmp/out" >&2; fail "char_lm: no generated samples for the temperatures 0.5 and 1.0"; }
# each sample: one line of the 10 seed characters and the 40 generated ones (no newline in the text)
[ "$(grep -A1 '^---- temperature' "$tmp/out" | grep -v '^--' | awk '{ print length($0) }' |
    sort -u)" = 50 ] || { cat "$tmp/out" >&2; fail "char_lm: samples not 10 + 40 characters"; }
grep -q 'user.chars' "$tmp/char_lm.safetensors" || fail "char_lm: no vocabulary in the saved model"

# ---- data-parallel over MPI (second argument "mpi": built with -Dmpi and mpirun present) -------
if [ "${2:-}" = mpi ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    run="mpirun --oversubscribe --timeout 240"
    # the unchanged example under mpirun -np 2: one report (rank 0), the same accuracy as the
    # model it saved (every rank holds the same weights)
    expect 0 'test accuracy: [01]\.[0-9]{4}' $run -np 2 "$mlp" --mpi --data "$tmp/plain" \
        --epochs 2 --batch-size 16 --save "$tmp/mpi.safetensors"
    [ "$(grep -c '^test accuracy' "$tmp/out")" = 1 ] ||
        { cat "$tmp/out" >&2; fail "mnist_mlp --mpi: expected one report, from rank 0"; }
    # (mpirun gives the ranks a terminal: rank 0 draws the progress bar)
    [ "$(grep -c '4/4 \[=*\] - ' "$tmp/out")" = 2 ] ||
        { cat "$tmp/out" >&2; fail "mnist_mlp --mpi: expected two epochs of 4 global steps (120 samples, 2 x 16)"; }
    mpi_acc=$(sed -n 's/^test accuracy: //p' "$tmp/out")
    expect 0 "accuracy: $mpi_acc \\(" "$predict" --model "$tmp/mpi.safetensors" --data "$tmp/plain"
    # CLNN_MPI=1 instead of --mpi; rank 1 cannot open its device: both ranks stop, no hang
    expect 1 'MPI rank 1 of 2 failed' $run -np 1 -x CLNN_MPI=1 "$mlp" --data "$tmp/plain" : \
        -np 1 -x CLNN_MPI=1 -x CLNN_DEVICE=no-such-device-name "$mlp" --data "$tmp/plain"
    grep -q 'no-such-device-name' "$tmp/out" || { cat "$tmp/out" >&2; fail "rank 1's own error missing"; }
fi

echo "test_examples: $checks checks passed"
