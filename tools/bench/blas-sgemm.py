#!/usr/bin/env python3
# blas-sgemm.py — the host BLAS's SGEMM (torch.mm: OpenBLAS in Debian's python3-torch) on square
# float32 matrices, the reference of issue 7's "SGEMM 1024^3 >= 0.5x OpenBLAS": median GFLOP/s of
# REPS timed products after a warm-up, checked against a float64 product first. Run it with the
# threads the comparison uses (tools/bench/peer-compare sets 2, with the OpenMP OpenBLAS) and
# OPENBLAS_CORETYPE=SkylakeX on this VM: OpenBLAS 0.3.21 takes its CPU for a Prescott otherwise.
# Usage: blas-sgemm.py [N ...] [--threads T] [--json FILE]   (default N: 1024)
import argparse, json, statistics, time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("sizes", nargs="*", type=int, default=[1024])
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=10)
ap.add_argument("--json")
args = ap.parse_args()
torch.set_num_threads(args.threads)
gen = torch.Generator().manual_seed(1)
out = []
for n in args.sizes:
    a = torch.rand(n, n, generator=gen) * 2 - 1
    b = torch.rand(n, n, generator=gen) * 2 - 1
    c = torch.mm(a, b)
    err = ((c.double() - a.double() @ b.double()).abs().max() / n ** 0.5).item()
    assert err < 1e-5, f"sgemm {n}: error {err}"
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    gflops = 2.0 * n ** 3 / med / 1e9
    out.append({"n": n, "median_ms": med * 1e3, "gflops": gflops, "threads": args.threads})
    print(f"sgemm {n}x{n}x{n}: {gflops:.1f} GFLOP/s (median of {args.reps}, {args.threads} threads)")
if args.json:
    json.dump({"results": out, "blas": torch.__config__.show()}, open(args.json, "w"), indent=1)
