#!/bin/bash
# Regenerates the SignSVD / Muon ODE-vs-Monte-Carlo table (validation/README.md).
#   validation/signsvd/run.sh [CASES_FILE]      (default: validation/signsvd/cases.txt)
# Environment: BUILD (build dir, default build-signsvd), OUT (output dir, default
# validation/signsvd/out), THREADS (OpenMP threads over replicas, default 2), DRIVER (path of
# the driver binary, default $BUILD/validate_signsvd).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-signsvd}
CASES=${1:-$ROOT/validation/signsvd/cases.txt}
OUT=${OUT:-$ROOT/validation/signsvd/out}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$BUILD" --target signdyn_mc signdyn_ode -j2 > /dev/null
# The driver sees both solvers (design.md: only validation and the CLI may); it is built here
# rather than by CMake so that validation/ needs no entry in the top-level CMakeLists.txt.
g++ -O2 -std=c++20 -fopenmp $(pkg-config --cflags eigen3) -I"$ROOT/include" \
  "$ROOT/validation/signsvd/validate_signsvd.cpp" \
  "$BUILD/solvers/ode/libsigndyn_ode.a" "$BUILD/solvers/mc/libsigndyn_mc.a" \
  "$BUILD/src/linalg/libsigndyn_linalg.a" "$BUILD/models/libsigndyn_models.a" \
  "$BUILD/src/core/libsigndyn_core.a" $(pkg-config --libs lapacke openblas) \
  -o "${DRIVER:=$BUILD/validate_signsvd}"
mkdir -p "$OUT"
start=$(date +%s)
"$DRIVER" "$CASES" "$OUT" "${THREADS:-2}" | tee "$OUT/table.md"
echo "wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/table.md"
