#!/bin/bash
# Bilinear SignSVD: deterministic dynamics vs Monte Carlo (validation/bilinear_signsvd/README.md).
#   validation/bilinear_signsvd/run.sh CASES_FILE [drift]
# Environment: BUILD (build dir, default build), OUT (output dir, default
# validation/bilinear_signsvd/out), THREADS (OpenMP threads, default 2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CASES=$1
OUT=${OUT:-$ROOT/validation/bilinear_signsvd/out}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$BUILD" --target signdyn_mc signdyn_ode -j2 > /dev/null
DRIVER=$BUILD/validate_bilinear_signsvd
g++ -O2 -std=c++20 -fopenmp $(pkg-config --cflags eigen3) -I"$ROOT/include" \
  "$ROOT/validation/bilinear_signsvd/validate_bilinear_signsvd.cpp" \
  "$BUILD/solvers/ode/libsigndyn_ode.a" "$BUILD/solvers/mc/libsigndyn_mc.a" \
  "$BUILD/src/linalg/libsigndyn_linalg.a" "$BUILD/models/libsigndyn_models.a" \
  "$BUILD/src/core/libsigndyn_core.a" $(pkg-config --libs lapacke openblas) -o "$DRIVER"
mkdir -p "$OUT"
start=$(date +%s)
"$DRIVER" "$CASES" "$OUT" "${THREADS:-2}" ${2:-} | tee "$OUT/table${2:+-$2}.md"
echo "wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/table${2:+-$2}.md"
