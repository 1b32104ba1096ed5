#!/bin/bash
# Full SignSVD step, signdyn (bench_msign) against the natural numpy step (numpy_signsvd_step.py),
# on the same OpenBLAS, single-threaded; prints the ratio table (medians over repetitions).
#
# Usage: bench/compare_numpy.sh [BUILD_DIR] [--two-threads]
#   BUILD_DIR      a build with -DSIGNDYN_BUILD_BENCH=ON (default: build)
#   --two-threads  also compare numpy with 2 BLAS threads against signdyn's replica throughput
#                  (2 replicas on 2 OpenMP threads, BLAS single-threaded inside)
# OPENBLAS_CORETYPE is left as the environment has it; both sides print the kernel they run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="build"
two=0
for arg in "$@"; do
  case "$arg" in
    --two-threads) two=1 ;;
    *) build="$arg" ;;
  esac
done
bin="$build/bench/bench_msign"
[[ -x "$bin" ]] || { echo "no $bin: configure with -DSIGNDYN_BUILD_BENCH=ON and build bench_msign" >&2; exit 2; }
reps="${SIGNDYN_BENCH_REPS:-5}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$bin" --benchmark_filter='BM_SignSvdStep/' \
  --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_format=json > "$tmp/cpp.json"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/numpy_signsvd_step.py" > "$tmp/numpy.txt"
if [[ $two == 1 ]]; then
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 "$bin" --benchmark_filter='BM_SignSvdStepReplicas/' \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_format=json > "$tmp/cpp2.json"
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$here/numpy_signsvd_step.py" 512:32:30 512:1024:7 \
    > "$tmp/numpy2.txt"
fi

/usr/bin/python3 - "$tmp" "$two" <<'PY'
import json, sys
tmp, two = sys.argv[1], sys.argv[2] == "1"

def numpy_rows(path):
    rows, info = {}, []
    for line in open(path):
        if line.startswith("#"):
            info.append(line.strip())
        elif line.startswith("numpy ") and not line.startswith("numpy d"):
            f = line.split()
            rows[(int(f[1]), int(f[3]))] = dict(zip(
                ("step", "sample", "gemm", "polar", "update", "cpu"), map(float, f[5:11])))
    return rows, info

def cpp_medians(path, prefix):
    data = json.load(open(path))
    ctx = data["context"]
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median" or not b["name"].startswith(prefix):
            continue
        args = b["name"].split("/")[1:]
        out[tuple(int(a) for a in args if a.isdigit())] = b
    return out, ctx

np1, info = numpy_rows(f"{tmp}/numpy.txt")
cpp, ctx = cpp_medians(f"{tmp}/cpp.json", "BM_SignSvdStep/")
print("\n".join(info))
print(f"# signdyn: OpenBLAS {ctx.get('openblas_config', '?')}, core {ctx.get('openblas_core', '?')}")
print("\nSingle thread (OPENBLAS_NUM_THREADS=1), median ms per step (wall clock; CPU time in the")
print("last columns, which other processes on a shared machine disturb less):")
print(f"| d = m | B | numpy step | signdyn step | speed-up | numpy polar | signdyn polar | "
      f"signdyn sample / gemm / polar / update | numpy CPU | signdyn CPU | CPU speed-up |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (d, batch), n in sorted(np1.items()):
    c = cpp.get((d, batch))
    if c is None:
        continue
    step = c["real_time"]
    print(f"| {d} | {batch} | {n['step']:.2f} | {step:.2f} | **{n['step'] / step:.1f}×** | "
          f"{n['polar']:.2f} | {c['polar_ms']:.2f} | {c['sample_ms']:.2f} / {c['gemm_ms']:.2f} / "
          f"{c['polar_ms']:.2f} / {c['update_ms']:.2f} | {n['cpu']:.2f} | {c['cpu_time']:.2f} | "
          f"{n['cpu'] / c['cpu_time']:.1f}× |")
if two:
    np2, _ = numpy_rows(f"{tmp}/numpy2.txt")
    cpp2, _ = cpp_medians(f"{tmp}/cpp2.json", "BM_SignSvdStepReplicas/")
    print("\nTwo threads: numpy with 2 BLAS threads vs signdyn 2 replicas on 2 OpenMP threads, "
          "ms per replica-step:")
    print("| d = m | B | numpy (2 BLAS threads) | signdyn 1 thread | signdyn 2 threads | speed-up |")
    print("|---|---|---|---|---|---|")
    for (d, batch), n in sorted(np2.items()):
        one, twot = cpp2.get((d, batch, 1)), cpp2.get((d, batch, 2))
        if one is None or twot is None:
            continue
        t1, t2 = 1e3 * one["per_replica_step"], 1e3 * twot["per_replica_step"]
        print(f"| {d} | {batch} | {n['step']:.2f} | {t1:.2f} | {t2:.2f} | **{n['step'] / t2:.1f}×** |")
PY
