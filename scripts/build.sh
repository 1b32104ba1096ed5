#!/usr/bin/env bash
# Installs missing Debian packages, configures and builds signdyn (Release) into ./build,
# with the Python module (build/python) and MPI sweeps (`mpirun ... build/signdyn sweep`).
# Usage: scripts/build.sh [extra cmake -D options...]  (later options win, e.g. -DSIGNDYN_MPI=OFF)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSIGNDYN_MPI=ON "$@" >build-configure.log 2>&1 || {
  cat build-configure.log
  exit 1
}
cmake --build build -j"$(nproc)"
