#!/usr/bin/env bash
# Executes one notebook of notebooks/ top to bottom (nbclient, Debian's python3 kernel) on a
# small result file made here by the command its first cell documents, at a tiny size.
# Usage: explore_notebooks_test.sh SIGNDYN_BINARY SOURCE_DIR NOTEBOOK_NAME
set -eu
bin=$1 src=$2 name=$3
py=/usr/bin/python3
if ! "$py" -c "import nbclient, nbformat, ipykernel, h5py, matplotlib" 2>/dev/null; then
  echo "skipped: $py lacks nbclient/nbformat/ipykernel/h5py/matplotlib (scripts/install-deps.sh)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny=(--quiet --set problem.d=8 --set problem.m=8 --set run.steps=40 --set run.records=10
      --set run.replicas=16 --set "optimizer.name=[sgd,signsvd]")
case "$name" in
  risk_curves) "$bin" run --no-plot "${tiny[@]}" --out "$tmp/in.h5" ;;
  batch_sweep) "$bin" sweep --grid optimizer.batch=1,4 --methods mc,theory "${tiny[@]}" \
                 --out "$tmp/in.h5" ;;
  phase_diagram) "$bin" phase-diagram --no-plot "${tiny[@]}" --optimizers sgd,signsvd \
                   --alpha 0.5,1 --beta 0.5,1 --horizons 10,30 --out "$tmp/in.h5" ;;
  *) echo "unknown notebook $name"; exit 2 ;;
esac
cd "$tmp"
PYDEVD_DISABLE_FILE_VALIDATION=1 "$py" -Xfrozen_modules=off "$src/notebooks/run_notebook.py" \
  "$src/notebooks/$name.ipynb" "$tmp/in.h5"
