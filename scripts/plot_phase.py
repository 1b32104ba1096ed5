#!/usr/bin/python3
"""Draw the (alpha, beta) phase diagram written by `signdyn phase-diagram`.

Usage: scripts/plot_phase.py RESULT.h5 [-o OUT.png]

Left: the phase map (which optimizer has the lower risk at its ODE-optimal learning rate at
every horizon, or a trade-off). Middle: the fitted decay exponent gamma of the excess risk at
the optimal learning rate (excess risk ~ T^-gamma) for each optimizer. Right: the margin, the
ratio of the two excess risks at the first and the last horizon (red: second lower, as in
the map).
Needs Debian's python3-h5py and python3-matplotlib.
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("-o", "--out", help="PNG path (default: FILE with .png)")
    args = parser.parse_args()
    out = args.out or os.path.splitext(args.file)[0] + ".png"

    with h5py.File(args.file, "r") as f:
        methods = f.attrs["methods"].split("\n")
        alpha, beta = f["alpha"][:], f["beta"][:]
        horizons = f["horizons"][:]
        phase = f["phase"][:]
        gamma = {m: f[m + "/gamma"][:] for m in methods}
        excess = {m: f[m + "/excess_risk_opt"][:] for m in methods}

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    axes = axes.ravel()
    colors = ["#bbbbbb", "#1f77b4", "#d62728", "#9467bd", "#ffffff"]
    labels = ["failed", f"{methods[0]} better", f"{methods[1]} better", "trade-off", "tie"]
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(-1.5, 4.5, 1.0), cmap.N)

    def cell_edges(v):
        v = np.asarray(v, dtype=float)
        if v.size == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = 0.5 * (v[1:] + v[:-1])
        return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])

    be, ae = cell_edges(beta), cell_edges(alpha)
    ax = axes[0]
    ax.pcolormesh(be, ae, phase, cmap=cmap, norm=norm, edgecolors="k", linewidth=0.3)
    for code, (c, lab) in enumerate(zip(colors, labels), start=-1):
        if np.any(phase == code):
            ax.plot([], [], "s", color=c, markeredgecolor="k", label=lab)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.13), ncol=3, fontsize=8, frameon=False)
    ax.set_xlabel(r"$\beta$  ($b_j = j^{-\beta}$)")
    ax.set_ylabel(r"$\alpha$  ($\lambda_j = j^{-2\alpha}$)")
    ax.set_title(f"{methods[0]} vs {methods[1]} at tuned lr, T = {horizons[0]}..{horizons[-1]}",
                 fontsize=10)

    vmax = np.nanmax([np.nanmax(g) for g in gamma.values()] + [0.1])
    for ax, m in zip(axes[1:3], methods):
        mesh = ax.pcolormesh(be, ae, gamma[m], cmap="viridis", vmin=0, vmax=vmax,
                             edgecolors="k", linewidth=0.3)
        for i, a in enumerate(alpha):
            for j, b in enumerate(beta):
                if np.isfinite(gamma[m][i, j]):
                    ax.text(b, a, f"{gamma[m][i, j]:.2f}", ha="center", va="center",
                            fontsize=7, color="w" if gamma[m][i, j] < 0.6 * vmax else "k")
        fig.colorbar(mesh, ax=ax, label=r"$\gamma$: excess risk $\sim T^{-\gamma}$")
        ax.set_xlabel(r"$\beta$")
        ax.set_ylabel(r"$\alpha$")
        ax.set_title(f"{m}: fitted risk-decay exponent", fontsize=10)
    # Margin: excess-risk ratio first/second at the first and last horizon (log2 colour scale).
    ax = axes[3]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = excess[methods[0]] / excess[methods[1]]
    last = np.log2(ratio[:, :, -1])
    lim = max(1.0, np.nanmax(np.abs(last))) if np.any(np.isfinite(last)) else 1.0
    mesh = ax.pcolormesh(be, ae, last, cmap="RdBu_r", vmin=-lim, vmax=lim, edgecolors="k",
                         linewidth=0.3)
    for i, a in enumerate(alpha):
        for j, b in enumerate(beta):
            dark = np.isfinite(last[i, j]) and abs(last[i, j]) > 0.6 * lim
            ax.text(b, a, f"{ratio[i, j, 0]:.2g}\n-> {ratio[i, j, -1]:.2g}", ha="center",
                    va="center", fontsize=7, color="w" if dark else "k")
    fig.colorbar(mesh, ax=ax, label=f"log2 excess-risk ratio at T = {horizons[-1]}")
    ax.set_xlabel(r"$\beta$")
    ax.set_ylabel(r"$\alpha$")
    ax.set_title(f"excess risk {methods[0]} / {methods[1]}: T = {horizons[0]} -> {horizons[-1]}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
