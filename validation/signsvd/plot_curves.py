#!/usr/bin/python3
"""Risk curves, Monte Carlo vs theory, from the CSV files written by validate_signsvd.

Usage: validation/signsvd/plot_curves.py OUT_DIR [CASE ...]   (default: every CSV in OUT_DIR)
Writes OUT_DIR/<case>.png: excess risk R − σ²/2 against the step (log-log) with the Monte Carlo
standard error band, and the relative error of each theory below it.
"""
import csv
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot(csv_path: pathlib.Path) -> None:
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    head, data = rows[0], np.array([[float(x) for x in r] for r in rows[1:]])
    t, mc, se = data[:, 0], data[:, 1], data[:, 2]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    x = np.maximum(t, 0.5)
    top.fill_between(x, mc - 2 * se, mc + 2 * se, color="0.8", label="MC ± 2 se")
    top.plot(x, mc, "k.", label="Monte Carlo")
    for k, name in enumerate(head[3:]):
        th = data[:, 3 + k]
        top.plot(x, th, label=name)
        bottom.plot(x, 100 * (th / mc - 1), label=name)
    bottom.fill_between(x, -200 * se / mc, 200 * se / mc, color="0.8")
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel("risk R")
    top.set_title(csv_path.stem)
    top.legend(fontsize=7)
    bottom.set_ylabel("R_theory / R_MC − 1 (%)")
    bottom.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(csv_path.with_suffix(".png"), dpi=110)
    plt.close(fig)


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    names = sys.argv[2:]
    paths = [out / f"{n}.csv" for n in names] if names else sorted(out.glob("*.csv"))
    for p in paths:
        plot(p)
        print(p.with_suffix(".png"))


if __name__ == "__main__":
    main()
