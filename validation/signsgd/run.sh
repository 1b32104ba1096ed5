#!/bin/sh
# Regenerates the SignSGD ODE-vs-Monte-Carlo table (validation/README.md, "## SignSGD").
# Usage: validation/signsgd/run.sh [main|dsweep|quick|all] [extra validate_signsgd flags]
# Builds the signdyn libraries in $BUILD (default build-signsgd-validation), compiles the
# checker against them, and runs it; Monte Carlo curves are cached in $CACHE so a second run
# only integrates the ODEs.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-signsgd}
CACHE=${CACHE:-$BUILD/validation-cache}
TABLE=${1:-main}
[ $# -gt 0 ] && shift
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target signdyn_mc signdyn_ode -j2 >/dev/null
L="$BUILD/solvers/mc/libsigndyn_mc.a $BUILD/solvers/ode/libsigndyn_ode.a \
   $BUILD/src/linalg/libsigndyn_linalg.a $BUILD/models/libsigndyn_models.a $BUILD/src/core/libsigndyn_core.a"
g++ -O2 -std=c++20 -fopenmp -I"$ROOT/include" -I/usr/include/eigen3 \
    "$ROOT/validation/signsgd/validate_signsgd.cpp" -o "$BUILD/validate_signsgd" $L \
    $(pkg-config --libs lapacke openblas)
exec "$BUILD/validate_signsgd" --table "$TABLE" --cache "$CACHE" "$@"
