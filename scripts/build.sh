#!/usr/bin/env bash
# Installs missing Debian packages, configures and builds signdyn (Release) into ./build.
# Usage: scripts/build.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >build-configure.log 2>&1 || {
  cat build-configure.log
  exit 1
}
cmake --build build -j"$(nproc)"
