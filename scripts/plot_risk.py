#!/usr/bin/python3
"""Plot risk curves from a signdyn result file (layout: docs/output-format.md).

    plot_risk.py RESULT.h5 [-o OUT.png] [--title TEXT]

Draws the risk R against optimizer steps k on log-log axes (k = 0 is skipped), one colour per
optimizer: Monte Carlo runs as markers with a +-2 standard-error band, theory runs as solid
lines. The default output is RESULT with the suffix .png. Prints the path written.
Exit codes: 0 written, 2 unreadable or invalid result file (message on stderr).
"""

import argparse
import pathlib
import re
import sys

# Fixed colours for the known optimizers, so figures from different files agree.
COLOURS = {"sgd": "C0", "signsgd": "C1", "signsvd": "C2", "muon": "C3"}


class ResultError(Exception):
    """The input is not a readable signdyn result file."""


def read_runs(path):
    """Returns (root attributes as dict, list of runs as dicts) read with h5py."""
    import h5py
    import numpy as np

    if not path.exists():
        raise ResultError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ResultError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        if "format_version" not in f.attrs or "runs" not in f:
            raise ResultError(f"{path}: an HDF5 file but not a signdyn result "
                              "(no format_version attribute or /runs group)")
        meta = {key: f.attrs[key] for key in f.attrs}
        if "bilinear" in f:
            meta["bilinear"] = {key: f["bilinear"].attrs[key] for key in f["bilinear"].attrs}
        runs = []
        for name, group in f["runs"].items():
            run = {key: group.attrs[key] for key in group.attrs}
            run["name"] = name
            for key in ("t", "risk", "risk_se"):
                if key not in group:
                    raise ResultError(f"{path}: /runs/{name} has no dataset '{key}'")
                run[key] = np.asarray(group[key][:], dtype=float)
            runs.append(run)
    return meta, runs


def config_value(config, *keys):
    """Value of the first dotted key (e.g. "problem.covariance.alpha") set in the TOML text."""
    try:
        import tomllib

        table = tomllib.loads(config)
    except Exception:  # not TOML (or python < 3.11): fall back to a plain search
        table = None
    for key in keys:
        if table is not None:
            value = table
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return value
        else:
            leaf = re.escape(key.rsplit(".", 1)[-1])
            match = re.search(rf"^\s*{leaf}\s*=\s*([^\s#]+)", config, re.MULTILINE)
            if match:
                return match.group(1)
    return None


def default_title(meta, runs):
    """"risk curves: d = .., m = .., α = .., β = .., B = .." from the stored config and runs."""
    config = str(meta.get("config", ""))
    parts = []
    if str(meta.get("family", "regression")) == "bilinear":
        # The bilinear problem is stored in /bilinear (docs/output-format.md).
        spec = meta.get("bilinear", {})
        if "n_out" in spec and "n_in" in spec:
            parts.append(f"W {int(spec['n_out'])}×{int(spec['n_in'])}")
        def text(value):
            return value.decode() if isinstance(value, bytes) else str(value)

        # α only for power-law sides (files before covariance_out/in are all power laws).
        kinds = [text(spec.get(f"covariance_{side}", "power_law")) for side in ("out", "in")]
        if "alpha_out" in spec and "alpha_in" in spec:
            alphas = [f"{spec['alpha_' + side]:g}" if kind == "power_law" else kind
                      for side, kind in zip(("out", "in"), kinds)]
            parts.append(f"α out/in = {alphas[0]}/{alphas[1]}")
        if "beta_out" in spec and "beta_in" in spec:
            parts.append(f"β out/in = {spec['beta_out']:g}/{spec['beta_in']:g}")
        bases = [text(spec.get(f"basis_{side}", "diagonal")) for side in ("out", "in")]
        if "generic" in bases:
            parts.append(f"basis out/in = {bases[0]}/{bases[1]}")
        batches = sorted({int(run["batch"]) for run in runs if "batch" in run})
        if len(batches) == 1:
            parts.append(f"B = {batches[0]}")
        return "bilinear" + (": " + ", ".join(parts) if parts else "")
    for keys, label in ((("problem.d",), "d"), (("problem.m",), "m")):
        value = config_value(config, *keys)
        if value is not None:
            parts.append(f"{label} = {value}")
    # Exponents only for power laws (alpha and beta mean nothing for isotropic spectra).
    if config_value(config, "problem.covariance.kind") in (None, "power_law"):
        alpha = config_value(config, "problem.covariance.alpha", "problem.alpha")
        if alpha is not None:
            parts.append(f"α = {alpha}")
    if config_value(config, "problem.target.kind") in (None, "power_law"):
        beta = config_value(config, "problem.target.beta", "problem.beta")
        if beta is not None:
            parts.append(f"β = {beta}")
    batches = sorted({int(run["batch"]) for run in runs if "batch" in run})
    if not batches and isinstance(config_value(config, "optimizer.batch"), int):
        batches = [config_value(config, "optimizer.batch")]
    if len(batches) == 1:
        parts.append(f"B = {batches[0]}")
    return "risk curves" + (": " + ", ".join(parts) if parts else "")


def plot(meta, runs, output, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.8))
    extra = iter(f"C{i}" for i in range(4, 10))
    colours = dict(COLOURS)
    for run in runs:
        optimizer = str(run.get("optimizer", run["name"]))
        if optimizer not in colours:
            colours[optimizer] = next(extra, "k")
        colour = colours[optimizer]
        t, risk, se = run["t"], run["risk"], run["risk_se"]
        keep = (t > 0) & np.isfinite(risk) & (risk > 0)
        status = str(run.get("status", "completed"))
        suffix = "" if status == "completed" else f" [{status}]"
        if str(run.get("method")) == "mc":
            lo = np.clip(risk - 2 * se, risk * 1e-3, None)
            ax.fill_between(t[keep], lo[keep], (risk + 2 * se)[keep], color=colour, alpha=0.2,
                            linewidth=0)
            label = f"{optimizer} Monte Carlo ({int(run.get('replicas', 0))} replicas, ±2 SE)"
            ax.plot(t[keep], risk[keep], "o", color=colour, markersize=3.5, label=label + suffix)
        else:
            label = f"{optimizer} theory ({run.get('solver', '')})"
            ax.plot(t[keep], risk[keep], "-", color=colour, linewidth=1.5, label=label + suffix)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("optimizer steps k")
    ax.set_ylabel("risk R (squared label units)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if runs:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", type=pathlib.Path, help="signdyn result file (HDF5)")
    parser.add_argument("-o", "--output", type=pathlib.Path,
                        help="output image (default: RESULT with suffix .png)")
    parser.add_argument("--title", help="figure title (default: from the file's config)")
    args = parser.parse_args(argv)
    try:
        meta, runs = read_runs(args.result)
    except ResultError as e:
        print(f"plot_risk.py: error: {e}", file=sys.stderr)
        return 2
    output = args.output or args.result.with_suffix(".png")
    plot(meta, runs, output, args.title or default_title(meta, runs))
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
