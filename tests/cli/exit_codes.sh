#!/usr/bin/env bash
# Exit codes of the signdyn executable: 0 success, 2 invalid input with nothing written.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # expect CODE DESCRIPTION -- ARGS...
  local want=$1 what=$2
  shift 3
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; cat "$tmp/err"; fail=1
  else
    echo "ok: $what (exit $got)"
  fi
}
expect 0 "--version" -- --version
expect 0 "--help" -- --help
expect 0 "run --help" -- run --help
expect 2 "no subcommand" --
expect 2 "unknown subcommand" -- frobnicate
expect 2 "negative dimension" -- run --set problem.d=-3 --out "$tmp/bad.h5"
grep -q "problem.d" "$tmp/err" || { echo "FAIL: message does not name problem.d"; fail=1; }
[ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.tmp" ] || { echo "FAIL: bad input left a file"; fail=1; }
expect 2 "missing config file" -- run "$tmp/nope.toml" --out "$tmp/bad.h5"
expect 2 "info on a text file" -- info "$tmp/out"
expect 0 "tiny compare" -- compare --quiet --set problem.d=8 --set problem.m=8 \
  --set run.steps=20 --set run.replicas=8 --set optimizer.name=sgd --out "$tmp/ok.h5"
[ -s "$tmp/ok.h5" ] || { echo "FAIL: compare wrote no file"; fail=1; }
expect 0 "info" -- info "$tmp/ok.h5"
expect 2 "bad bilinear dimension" -- compare --set problem.family=bilinear \
  --set problem.bilinear.n_in=0 --out "$tmp/bad.h5"
grep -q "problem.bilinear.n_in" "$tmp/err" || { echo "FAIL: message does not name problem.bilinear.n_in"; fail=1; }
[ ! -e "$tmp/bad.h5" ] || { echo "FAIL: bad bilinear input left a file"; fail=1; }
expect 0 "tiny bilinear compare" -- compare --quiet --set problem.family=bilinear \
  --set problem.bilinear.n_out=6 --set problem.bilinear.n_in=4 --set run.steps=20 \
  --set run.replicas=8 --set optimizer.name=sgd --set optimizer.lr=0.1 --out "$tmp/bil.h5"
expect 0 "info on a bilinear file" -- info "$tmp/bil.h5"
grep -q "bilinear, n_out = 6" "$tmp/out" || { echo "FAIL: info does not describe the bilinear problem"; fail=1; }
exit $fail
