#!/usr/bin/python3
"""h5py reads signdyn result files as docs/output-format.md says, and plot_risk.py plots them.

Runs the sample writer (io_write_sample_result), then checks with Debian's h5py that
  - every string attribute (root and run) comes back as str, UTF-8 intact;
  - numeric attributes and datasets have the documented types and shapes;
  - rho[i, k] is record t[i], mode modes[k]: the theory runs hold rho_j(t) = exp(-2 lr t / j) / j
    exactly, so every element is recomputed from t and modes (relative error <= 1e-13, a few
    ulp of exp);
  - /runs iterates in creation (write) order;
then runs scripts/plot_risk.py on the file and checks it writes a non-empty PNG, and that it
exits with code 2 on a file that is not a result.
"""

import argparse
import pathlib
import subprocess
import sys

import h5py
import numpy as np

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}")


def check_file(path):
    # The five lines the README shows:
    with h5py.File(path, "r") as f:
        print(f.attrs["signdyn_version"], f.attrs["command"], list(f["runs"]))
        run = f["runs/sgd_mc"]
        t, risk, rho = run["t"][:], run["risk"][:], run["rho"][:]  # rho[i, k]: t[i], modes[k]

    with h5py.File(path, "r") as f:
        check(int(f.attrs["format_version"]) == 1, "format_version == 1")
        check(np.issubdtype(f.attrs["format_version"].dtype, np.integer), "format_version is int")
        for key in ("signdyn_version", "git_commit", "command", "created", "config"):
            check(isinstance(f.attrs[key], str), f"root attribute {key} is str")
        check("λ_j" in f.attrs["config"], "config keeps UTF-8 text")
        names = list(f["runs"])
        check(names == ["sgd_theory", "sgd_mc", "signsgd_theory", "signsgd_mc"],
              f"/runs iterates in write order (got {names})")
        for name in names:
            run = f["runs"][name]
            for key in ("method", "optimizer", "solver", "status", "message"):
                check(isinstance(run.attrs[key], str), f"{name}.{key} is str")
            for key in ("batch", "replicas"):
                check(run.attrs[key].dtype == np.int64, f"{name}.{key} is int64")
            check(run.attrs["seed"].dtype == np.uint64, f"{name}.seed is uint64")
            for key in ("lr", "wall_seconds"):
                check(run.attrs[key].dtype == np.float64, f"{name}.{key} is float64")
            check(name == f"{run.attrs['optimizer']}_{run.attrs['method']}",
                  f"{name} is <optimizer>_<method>")
            t, modes, rho = run["t"][:], run["modes"][:], run["rho"][:]
            check(modes.dtype == np.int32 and modes[0] == 1, f"{name}.modes int32, 1-based")
            check(rho.shape == (t.size, modes.size), f"{name}.rho shape (n_rec, n_modes)")
            check(run["rho_se"].shape == rho.shape, f"{name}.rho_se shape")
            for key in ("t", "risk", "risk_se", "modes", "rho", "rho_se"):
                check(isinstance(run[key].attrs.get("description"), str),
                      f"{name}/{key} has a str description")
            if run.attrs["method"] == "theory":
                lr = float(run.attrs["lr"])
                expected = np.exp(-2 * lr * t[:, None] / modes[None, :]) / modes[None, :]
                scale = np.where(expected > 0, expected, 1.0)  # exp underflows to 0 at large t
                err = np.max(np.abs(rho - expected) / scale)
                check(err <= 1e-13, f"{name}.rho[i, k] = rho_modes[k](t[i]) (max rel err {err:.1e})")
                check(np.all(run["rho_se"][:] == 0), f"{name}.rho_se is 0 for theory")


def check_plot(plot, h5, workdir):
    png = h5.with_suffix(".png")
    png.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, str(plot), str(h5)], capture_output=True, text=True)
    check(out.returncode == 0, f"plot_risk.py exits 0 (stderr: {out.stderr.strip()})")
    check(out.stdout.strip() == str(png), f"plot_risk.py prints the path written ({out.stdout!r})")
    check(png.is_file() and png.stat().st_size > 1000, "plot_risk.py writes a non-empty PNG")
    if png.is_file():
        check(png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "output is a PNG")
    text = workdir / "not_a_result.h5"
    text.write_text("d = 64\n")
    for bad in (text, workdir / "missing.h5"):
        out = subprocess.run([sys.executable, str(plot), str(bad)], capture_output=True, text=True)
        check(out.returncode == 2 and str(bad) in out.stderr,
              f"plot_risk.py exits 2 naming {bad.name} (rc {out.returncode}: {out.stderr.strip()})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writer", required=True)
    parser.add_argument("--plot", required=True, type=pathlib.Path)
    parser.add_argument("--workdir", required=True, type=pathlib.Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    h5 = args.workdir / "sample.h5"
    subprocess.run([args.writer, str(h5)], check=True)
    check_file(h5)
    check_plot(args.plot, h5, args.workdir)
    print("FAIL" if failures else "PASS", f"({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
