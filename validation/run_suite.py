#!/usr/bin/python3
"""Run the fixed ODE-vs-Monte-Carlo validation cases and print a pass/fail table.

Usage (repository root):
  validation/run_suite.py [--fast] [--case NAME ...] [--signdyn build/signdyn]
                          [--out DIR] [--markdown] [--list]

Each case of validation/cases/suite.toml is one `signdyn compare` run (the built-in default
configuration with the case's overrides). A case passes when, at every record t > 0 of every
optimizer, the Monte Carlo mean and the deterministic risk agree within

    |R_mc - R_theory| <= rel_tol * R_theory + z * SE_mc,

where rel_tol is the accuracy of the deterministic dynamics (0 where they are exact) and z
bounds the sampling error. Every case states where its tolerances come from (--list prints
them). Exit status: 0 when every case passes, 1 when one fails, 2 on bad input.
--fast runs the cases marked fast (a few seconds; run by ctest as validation.fast).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_cases(path):
    with open(path, "rb") as f:
        suite = tomllib.load(f)
    cases = suite.get("case", [])
    names = set()
    for c in cases:
        for key in ("name", "set", "rel_tol", "z", "source"):
            if key not in c:
                raise SystemExit(f"{path}: case {c.get('name', '?')} lacks '{key}'")
        if c["name"] in names:
            raise SystemExit(f"{path}: case name {c['name']} is used twice")
        names.add(c["name"])
    return cases


def check(path, rel_tol, z_max):
    """Per optimizer: worst ratio of |difference| to the allowance, and the usual figures."""
    rows = []
    with h5py.File(path, "r") as f:
        pairs = {}
        for name in f["runs"]:
            run = f["runs"][name]
            pairs.setdefault(run.attrs["optimizer"], {})[run.attrs["method"]] = run
        for opt, runs in pairs.items():
            if "mc" not in runs or "theory" not in runs:
                rows.append(dict(optimizer=opt, ok=False, note="missing mc or theory run"))
                continue
            mc, th = runs["mc"], runs["theory"]
            t, i_mc, i_th = np.intersect1d(mc["t"][:], th["t"][:], return_indices=True)
            keep = t > 0
            r_mc, se = mc["risk"][:][i_mc][keep], mc["risk_se"][:][i_mc][keep]
            r_th = th["risk"][:][i_th][keep]
            diff = np.abs(r_mc - r_th)
            allowed = rel_tol * r_th + z_max * se
            ratio = np.where(allowed > 0, diff / np.where(allowed > 0, allowed, 1), np.inf)
            ratio[diff == 0] = 0.0
            z = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
            status = (mc.attrs["status"], th.attrs["status"])
            ok = bool(np.all(ratio <= 1.0)) and status == ("completed", "completed")
            rows.append(dict(optimizer=opt, ok=ok, records=int(keep.sum()),
                             rel=float(np.max(diff / r_th)), z=float(np.max(z)),
                             worst=float(np.max(ratio)), solver=th.attrs["solver"],
                             note="" if status == ("completed", "completed")
                             else f"status {status[0]}/{status[1]}"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=os.path.join(HERE, "cases", "suite.toml"))
    parser.add_argument("--signdyn", default=os.path.join(ROOT, "build", "signdyn"),
                        help="the signdyn executable (default: build/signdyn)")
    parser.add_argument("--fast", action="store_true", help="only the cases marked fast")
    parser.add_argument("--case", action="append", default=[], help="run only this case")
    parser.add_argument("--out", help="keep the result files in this directory")
    parser.add_argument("--threads", type=int, default=0, help="Monte Carlo threads (0: all)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--list", action="store_true", help="list the cases and their sources")
    args = parser.parse_args()

    cases = load_cases(args.suite)
    unknown = set(args.case) - {c["name"] for c in cases}
    if unknown:
        print(f"unknown case(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    selected = [c for c in cases if (not args.fast or c.get("fast", False))
                and (not args.case or c["name"] in args.case)]
    if args.list:
        for c in selected:
            print(f"{c['name']}{' (fast)' if c.get('fast') else ''}: rel_tol {c['rel_tol']}, "
                  f"z {c['z']}\n  --set {' --set '.join(c['set'])}\n  source: {c['source']}\n")
        return 0
    if not os.access(args.signdyn, os.X_OK):
        print(f"{args.signdyn}: not an executable; build it (scripts/build.sh) or pass "
              f"--signdyn", file=sys.stderr)
        return 2

    if args.out:
        os.makedirs(args.out, exist_ok=True)
        return report(selected, args, args.out)
    with tempfile.TemporaryDirectory(prefix="signdyn-validation-") as tmp:
        return report(selected, args, tmp)


def report(selected, args, out_dir):
    """Runs the selected cases into out_dir, prints the table; returns the exit status."""
    results = []
    for c in selected:
        path = os.path.join(out_dir, c["name"] + ".h5")
        cmd = [args.signdyn, "compare", "--quiet", "--threads", str(args.threads), "--out", path]
        for s in c["set"]:
            cmd += ["--set", s]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.monotonic() - start
        if proc.returncode not in (0, 3):
            results.append((c, [dict(optimizer="-", ok=False,
                                     note=f"signdyn exit {proc.returncode}: "
                                          f"{proc.stderr.strip().splitlines()[-1:]}")], seconds))
            continue
        results.append((c, check(path, c["rel_tol"], c["z"]), seconds))

    header = ["case", "optimizer", "solver", "records", "max rel.err", "max abs z", "rel_tol",
              "z", "worst/allowed", "result", "seconds"]
    table = []
    for c, rows, seconds in results:
        for r in rows:
            table.append([c["name"], r["optimizer"], r.get("solver", "-"), str(r.get("records", "-")),
                          f"{100 * r['rel']:.2f}%" if "rel" in r else "-",
                          f"{r['z']:.2f}" if "z" in r else "-", f"{100 * c['rel_tol']:.1f}%",
                          f"{c['z']:g}", f"{r['worst']:.2f}" if "worst" in r else "-",
                          ("PASS" if r["ok"] else "FAIL") + (f" ({r['note']})" if r["note"] else ""),
                          f"{seconds:.1f}"])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h)
                  for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in table:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    failed = [row for row in table if not row[9].startswith("PASS")]
    print(f"\n{len(table) - len(failed)}/{len(table)} checks passed"
          f"{' (result files in ' + out_dir + ')' if args.out else ''}")
    print("tolerance: |R_mc - R_theory| <= rel_tol * R_theory + z * SE at every record t > 0; "
          "sources: validation/run_suite.py --list")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
