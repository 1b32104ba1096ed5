#!/usr/bin/env bash
# Installs signdyn's build, test and plotting dependencies from Debian packages.
# Idempotent: exits quickly when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang-format
  libeigen3-dev libboost-dev libspectra-dev
  libhdf5-dev hdf5-tools
  libopenblas-dev liblapacke-dev
  libcli11-dev libtomlplusplus-dev librandom123-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-h5py python3-matplotlib python3-scipy
  python3-nbclient python3-nbformat python3-ipykernel
  python3-dev pybind11-dev        # the Python module (SIGNDYN_PYTHON)
  libopenmpi-dev openmpi-bin      # sweeps across MPI ranks (SIGNDYN_MPI, on in scripts/build.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
