#!/bin/sh
# Regenerates the bilinear SignSGD closure-vs-Monte-Carlo table (validation/bilinear/README.md).
# Usage: validation/bilinear/run.sh [validate_bilinear_signsgd flags, e.g. --n 128 --alpha 0.5]
# Builds the signdyn libraries in $BUILD (default build), compiles the checker against them and
# runs it; Monte Carlo curves are cached in $CACHE, so a second run only runs the closure.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CACHE=${CACHE:-$BUILD/validation-cache-bilinear}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target signdyn_mc signdyn_ode -j2 >/dev/null
L="$BUILD/solvers/mc/libsigndyn_mc.a $BUILD/solvers/ode/libsigndyn_ode.a \
   $BUILD/src/linalg/libsigndyn_linalg.a $BUILD/models/libsigndyn_models.a $BUILD/src/core/libsigndyn_core.a"
g++ -O2 -std=c++20 -fopenmp -I"$ROOT/include" -I/usr/include/eigen3 \
    "$ROOT/validation/bilinear/validate_bilinear_signsgd.cpp" -o "$BUILD/validate_bilinear_signsgd" $L \
    $(pkg-config --libs lapacke openblas)
exec "$BUILD/validate_bilinear_signsgd" --cache "$CACHE" "$@"
