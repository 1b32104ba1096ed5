#!/usr/bin/python3
"""Draw the batch-size transition written by `signdyn batch-transition`.

Usage: scripts/plot_batch.py RESULT.h5 [-o OUT.png]

Top row: deterministic risk curves for each batch size B (one panel per optimizer).
Bottom row: the local exponent d ln a_j / d ln lambda_j of the small-signal per-mode drift
rate a_j against lambda_j for each B (1: SGD-like, 1/2: square-root preconditioning), and the
fitted exponent against B for every optimizer (dotted: the drift at the initial state W_0 = 0,
where the strong modes saturate). Needs Debian's python3-h5py and
python3-matplotlib.
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("-o", "--out", help="PNG path (default: FILE with .png)")
    args = parser.parse_args()
    out = args.out or os.path.splitext(args.file)[0] + ".png"

    with h5py.File(args.file, "r") as f:
        methods = f.attrs["methods"].split("\n")
        fit_modes = f.attrs["fit_modes"]
        batches = f["batches"][:]
        t = f["t"][:]
        lam = f["lambda"][:]
        data = {m: {k: f[m + "/" + k][:] for k in
                    ("risk", "lr", "local_exponent", "drift_exponent", "drift_initial_exponent")} for m in methods}

    n = len(methods)
    fig, axes = plt.subplots(2, n + 1, figsize=(5 * (n + 1), 8.5), squeeze=False)
    cmap = plt.get_cmap("plasma")
    colors = [cmap(x) for x in np.linspace(0.0, 0.85, len(batches))]
    for col, m in enumerate(methods):
        ax = axes[0, col]
        for b, c in enumerate(colors):
            ok = t > 0
            ax.loglog(t[ok], data[m]["risk"][b, ok], color=c, lw=1.3, label=f"B = {batches[b]}")
        ax.set_xlabel("step t")
        ax.set_ylabel("risk R(t)")
        ax.set_title(f"{m}: risk at its lr per B", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax = axes[1, col]
        for b, c in enumerate(colors):
            ax.semilogx(lam, data[m]["local_exponent"][b], color=c, lw=1.3)
        ax.axhline(1.0, color="k", ls=":", lw=0.8)
        ax.axhline(0.5, color="k", ls="--", lw=0.8)
        ax.set_ylim(0.0, 1.4)
        ax.set_xlabel(r"$\lambda_j$")
        ax.set_ylabel(r"$d\ln a_j / d\ln\lambda_j$")
        ax.set_title(f"{m}: local exponent of the small-signal drift", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2)

    ax = axes[1, n]
    for k, (m, marker) in enumerate(zip(methods, "os^v")):
        line, = ax.semilogx(batches, data[m]["drift_exponent"], marker=marker,
                            label=f"{m}, small signal")
        ax.semilogx(batches, data[m]["drift_initial_exponent"], marker=marker, ls=":",
                    mfc="none", color=line.get_color(), label=f"{m}, at W_0 = 0")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.axhline(0.5, color="k", ls="--", lw=0.8)
    ax.set_ylim(-0.5, 1.2)
    ax.set_xlabel("batch size B")
    ax.set_ylabel("fitted drift exponent")
    ax.set_title(f"slope of ln a_j on ln lambda_j, modes {fit_modes}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[0, n]
    for m, marker in zip(methods, "os^v"):
        ax.loglog(batches, data[m]["lr"], marker=marker, label=m)
    ax.set_xlabel("batch size B")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate used (tuned at the horizon unless --no-tune)", fontsize=10)
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
