#!/usr/bin/env bash
# `signdyn sweep` under mpirun -np 2 (SIGNDYN_MPI builds): the points are split across the
# ranks, and the merged file holds the same datasets, bit for bit, as the one-process sweep; the
# same binary run without mpirun is the one-process sweep. Other commands refuse to run on 2 ranks.
# Usage: mpi_sweep_test.sh SIGNDYN_BINARY MPIRUN COMPARE_SWEEPS_PY
set -eu
bin=$1 mpirun=$2 compare=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(sweep --threads 1 --set problem.d=8 --set problem.m=8 --set run.steps=30
      --set run.records=8 --set run.replicas=4 --set "optimizer.name=[sgd,signsvd]"
      --grid optimizer.batch=1,2,4 --grid run.seed=1,2 --methods mc,theory)
mpi=("$mpirun" --allow-run-as-root --oversubscribe -np 2)
"$bin" "${args[@]}" --quiet --out "$tmp/single.h5"
"${mpi[@]}" "$bin" "${args[@]}" --out "$tmp/mpi.h5" >"$tmp/out" 2>"$tmp/err"
# Rank 0 reports its own points only: 1, 3, 5 of the 6 (indices 0, 2, 4); rank 1 did the rest.
grep -q "split across 2 MPI ranks" "$tmp/err" || { echo "FAIL: not split"; cat "$tmp/err"; exit 1; }
[ "$(grep -c '^  \[[135]/6\]' "$tmp/err")" = 3 ] && ! grep -q '^  \[[246]/6\]' "$tmp/err" || {
  echo "FAIL: rank 0 did not compute exactly the even-index points"; cat "$tmp/err"; exit 1; }
[ ! -e "$tmp/mpi.h5.parts" ] || { echo "FAIL: the parts directory was left behind"; exit 1; }
/usr/bin/python3 "$compare" "$tmp/single.h5" "$tmp/mpi.h5"
# Another command on two ranks: exit 2, nothing written.
if "${mpi[@]}" "$bin" ode --quiet --set problem.d=8 --out "$tmp/ode.h5" 2>"$tmp/err"; then
  echo "FAIL: ode ran on two ranks"; exit 1
fi
grep -q "only \`signdyn sweep\`" "$tmp/err" || { echo "FAIL: message"; cat "$tmp/err"; exit 1; }
[ ! -e "$tmp/ode.h5" ] || { echo "FAIL: ode on two ranks wrote a file"; exit 1; }
echo "ok: mpirun -np 2 sweep matches the one-process sweep"
