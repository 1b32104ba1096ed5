#!/usr/bin/python3
"""Drift exponent of SignSVD against lambda_j: deterministic theory vs Monte Carlo.

Usage (from the repository root; Debian's python3 with numpy, h5py, matplotlib):

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 validation/drift/drift_exponent.py \
        [--signdyn build/signdyn] [--d 128] [--out-dir validation/drift/out-d128]

(a) runs `signdyn batch-transition` (SignSGD and SignSVD, configured lr, batches 1..512) and reads
    the small-signal per-mode drift a_j = -(1/(eta rho_j)) d rho_j/dt (dataset `drift`) and its
    fitted exponent (`drift_exponent`, slope of ln a_j on ln lambda_j over modes 2..d/4);
(b) measures the same small-signal drift by Monte Carlo: Delta = eps diag(b) Z, sigma = 1,
    minibatch gradient G = (1/B) X^T (X Delta - E), M = msign(G) (polar factor of the thin SVD),
    a_j = 2 E<Delta_j, M_j> / (m rho_j), rho_j = eps^2 b_j^2, with two estimators on the same draws:
      * "antithetic": <Delta_j, M(Delta) - M(-Delta)>_j / 2 (finite difference, cancels the O(1)
        noise part of M);
      * "jacobian": the exact average over Z of the same linear response, i.e. the trace over
        columns of the Jacobian dM_jc/dDelta_jc at Delta = 0, from the SVD of G_0 = -X^T E / B:
          J_j = sum_a U_ja P_aj (sum_b C_ab - C_aa + (m - r)/s_a) + [(I - U U^T) S]_jj tr(S^-1),
        P = U^T S, S = X^T X / B, C_ab = 1/(s_a + s_b), r = rank G_0; a_j = (2/m) E[J_j].
        (The derivative of the polar factor along rank-preserving perturbations; checked against
        finite differences by `--check-jacobian`.)
    The drift scales as 1/sqrt(2R) (msign is scale-free), so theory and MC are compared as
    a_j sqrt(2R), 2R = sigma^2 + sum_j lambda_j rho_j of each;
(c) fits the exponent over modes 2..d/4 for both, with jackknife standard errors over groups of
    samples, and prints the table;
(d) draws a_j sqrt(2R) against lambda_j for several B and the exponent against B, marking the
    transition batch predicted by the theory (docs/theory/signsvd.md §2.2, theory.md §4):
    the local exponent turns from 1 (lambda_j << kappa_B) to 1/2 (lambda_j >> kappa_B), where
    df(kappa_B) = sum_i lambda_i/(lambda_i + kappa_B) = B; the fitted exponent is half-way when
    kappa_B equals lambda at the geometric centre j_c = sqrt(2 d/4) of the fit window, i.e.
    B* = df(lambda_{j_c}), and the window is crossed between B = df(lambda_2) and df(lambda_{d/4}).
"""
import argparse
import os
import re
import subprocess
import sys
import time

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fitted_log_slope(lam, a, j_first, j_last):
    """Least-squares slope of ln a on ln lambda over modes j_first..j_last (1-based), as signdyn."""
    x = np.log(lam[j_first - 1:j_last])
    y = np.log(a[..., j_first - 1:j_last])
    xc = x - x.mean()
    return ((y - y.mean(axis=-1, keepdims=True)) * xc).sum(axis=-1) / (xc * xc).sum()


def df(lam, kappa):
    """Degrees of freedom sum_i lambda_i / (lambda_i + kappa)."""
    return float(np.sum(lam / (lam + kappa)))


def crossing(batches, expo, level):
    """First B (log-interpolated) where the exponent falls below level; nan if it never does."""
    for k in range(1, len(batches)):
        if expo[k - 1] >= level > expo[k]:
            f = (expo[k - 1] - level) / (expo[k - 1] - expo[k])
            return float(np.exp(np.log(batches[k - 1]) + f * np.log(batches[k] / batches[k - 1])))
    return float("nan")


def msign_stack(H):
    """Polar factors U V^T of a stack of full-rank matrices, with U, s, V^T."""
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    return U @ Vt, U, s, Vt


def mc_chunk(rng, lam, b, m, B, n, eps):
    """n samples of (antithetic, jacobian) per-mode estimates of a_j at sigma = 1, shape (n, d)."""
    d = lam.size
    sq = np.sqrt(lam)
    X = rng.standard_normal((n, B, d)) * sq          # rows N(0, K)
    E = rng.standard_normal((n, B, m))               # label noise, sigma = 1
    Z = rng.standard_normal((n, d, m))
    Delta = eps * b[:, None] * Z
    XD = X @ Delta
    Sdiag = np.einsum("nbj,nbj->nj", X, X) / B       # diag of S = X^T X / B
    if B < d:
        # G = X^T R / B = Q (Rx R / B): the polar factor is Q msign(Rx R / B), B x m.
        Q, Rx = np.linalg.qr(np.swapaxes(X, 1, 2))   # Q: d x B, Rx: B x B
        Mp, _, _, _ = msign_stack(Rx @ (XD - E) / B)
        Mm, _, _, _ = msign_stack(Rx @ (-XD - E) / B)
        anti = np.einsum("njc,njc->nj", Delta, Q @ (Mp - Mm)) / 2
        _, Us, s, _ = msign_stack(Rx @ (-E) / B)
        U = Q @ Us                                   # d x r, r = B
        P = np.swapaxes(Us, 1, 2) @ Rx @ X / B       # U^T S, r x d
    else:
        Xt = np.swapaxes(X, 1, 2)
        Mp, _, _, _ = msign_stack(Xt @ (XD - E) / B)
        Mm, _, _, _ = msign_stack(Xt @ (-XD - E) / B)
        anti = np.einsum("njc,njc->nj", Delta, Mp - Mm) / 2
        _, U, s, _ = msign_stack(Xt @ (-E) / B)
        P = np.swapaxes(U, 1, 2) @ (Xt @ X) / B
    r = s.shape[1]
    C = 1.0 / (s[:, :, None] + s[:, None, :])
    w = C.sum(axis=2) - np.einsum("naa->na", C) + (m - r) / s
    UP = np.einsum("nja,naj->nja", U, P)
    jac = np.einsum("nja,na->nj", UP, w) + (Sdiag - UP.sum(axis=2)) * (1.0 / s).sum(axis=1)[:, None]
    rho = (eps * b) ** 2
    return 2 * anti / (m * rho), 2 * jac / m


def check_jacobian(seed=0):
    """Compare the Jacobian trace with central finite differences on small problems."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, m, B in [(6, 6, 3), (6, 6, 6), (6, 6, 9), (6, 4, 3), (6, 4, 8), (5, 8, 3), (5, 8, 7)]:
        lam = np.arange(1, d + 1) ** -1.0
        X = rng.standard_normal((B, d)) * np.sqrt(lam)
        E = rng.standard_normal((B, m))
        G0 = X.T @ (-E) / B
        U, s, Vt = np.linalg.svd(G0, full_matrices=False)
        r = int((s > s[0] * 1e-12).sum())
        U, s = U[:, :r], s[:r]
        S = X.T @ X / B
        P = U.T @ S
        C = 1 / (s[:, None] + s[None, :])
        w = C.sum(1) - np.diag(C) + (m - r) / s
        UP = np.einsum("ja,aj->ja", U, P)
        jac = UP @ w + (np.diag(S) - UP.sum(1)) * np.sum(1 / s)

        def msign(G):
            U_, s_, Vt_ = np.linalg.svd(G, full_matrices=False)
            k = int((s_ > s_[0] * 1e-12).sum())
            return U_[:, :k] @ Vt_[:k]
        fd = np.zeros(d)
        t = 1e-7
        for j in range(d):
            for c in range(m):
                D = np.zeros((d, m))
                D[j, c] = t
                fd[j] += (msign(X.T @ (X @ D - E) / B) - msign(X.T @ (-X @ D - E) / B))[j, c] / (2 * t)
        err = np.max(np.abs(jac - fd)) / np.max(np.abs(fd))
        worst = max(worst, err)
        print(f"  d={d} m={m} B={B}: max |jacobian - finite difference| / max = {err:.1e}")
    return worst


def run_theory(args, path):
    cmd = [args.signdyn, "batch-transition",
           "--set", f"problem.d={args.d}", "--set", f"problem.m={args.m}",
           "--set", f"problem.covariance.alpha={args.alpha}",
           "--set", f"problem.target.beta={args.beta}",
           "--optimizers", "signsgd,signsvd", "--no-tune",
           "--batches", ",".join(str(B) for B in args.batches), "--no-plot", "--out", path]
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--signdyn", default="build/signdyn")
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--m", type=int, default=None, help="default: d")
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--batches", default="1,2,4,8,16,32,64,128,256,512")
    p.add_argument("--samples", default="4000",
                   help="MC samples per B: one number, or one per batch size (comma list)")
    p.add_argument("--groups", type=int, default=20, help="jackknife groups")
    p.add_argument("--eps", type=float, default=1e-4, help="Delta = eps diag(b) Z (sigma = 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chunk", type=int, default=50)
    p.add_argument("--out-dir", default=None)
    p.add_argument("--reuse-theory", action="store_true", help="read OUT_DIR/bt.h5 if present")
    p.add_argument("--check-jacobian", action="store_true")
    args = p.parse_args()
    args.m = args.m or args.d
    args.batches = [int(x) for x in args.batches.split(",")]
    ns = [int(x) for x in args.samples.split(",")]
    ns = ns * len(args.batches) if len(ns) == 1 else ns
    if len(ns) != len(args.batches):
        sys.exit("--samples: give one number or one per batch size")
    out = args.out_dir or f"validation/drift/out-d{args.d}"
    os.makedirs(out, exist_ok=True)
    t_start = time.time()

    if args.check_jacobian:
        print("Jacobian-trace formula vs finite differences:")
        print(f"  worst relative error {check_jacobian():.1e}")

    bt = os.path.join(out, "bt.h5")
    t_theory = 0.0
    if not (args.reuse_theory and os.path.exists(bt)):
        t_theory = run_theory(args, bt)
    with h5py.File(bt, "r") as f:
        lam = f["lambda"][:]
        batches_th = list(f["batches"][:])
        th = {k: f["signsvd/" + k][:] for k in ("drift", "drift_exponent")}
        th_sgd = {k: f["signsgd/" + k][:] for k in ("drift", "drift_exponent")}
        cfg = f.attrs["config"]
        fit = [int(x) for x in f.attrs["fit_modes"].split("..")]
    if batches_th != args.batches:
        sys.exit(f"{bt} has batches {batches_th}, not {args.batches}; rerun without --reuse-theory")
    d, m = lam.size, args.m
    b = np.arange(1, d + 1) ** -args.beta
    sigma_cfg = float(re.search(r"^sigma = ([0-9.eE+-]+)", cfg, re.M).group(1))
    signal = float(np.sum(lam * b * b))
    # linear_drift_rates: sigma raised so the signal is 1e-6 of max(signal, sigma^2).
    two_r_th = max(signal, sigma_cfg ** 2) / 1e-6 + signal
    two_r_mc = 1.0 + args.eps ** 2 * signal
    j1, j2 = fit
    print(f"d = m = {d}, alpha = {args.alpha}, beta = {args.beta}; fit modes {j1}..{j2}; "
          f"theory 2R = {two_r_th:.4e}, MC 2R = {two_r_mc:.10f} (sigma = 1, eps = {args.eps})")

    # Monte Carlo.
    rng = np.random.default_rng(args.seed)
    G = args.groups
    res = []
    t_mc = 0.0
    for B, n in zip(args.batches, ns):
        n = max(G, n - n % G)
        per = n // G
        sums = {"anti": np.zeros((G, d)), "jac": np.zeros((G, d))}
        t0 = time.time()
        for g in range(G):
            left = per
            while left > 0:
                k = min(args.chunk, left)
                anti, jac = mc_chunk(rng, lam, b, m, B, k, args.eps)
                sums["anti"][g] += anti.sum(0)
                sums["jac"][g] += jac.sum(0)
                left -= k
        dt = time.time() - t0
        t_mc += dt
        row = {"B": B, "n": n, "time": dt}
        for est in ("anti", "jac"):
            tot = sums[est].sum(0)
            mean = tot / n
            loo = (tot[None, :] - sums[est]) / (n - per)      # leave-one-group-out means
            e_full = fitted_log_slope(lam, mean * np.sqrt(two_r_mc), j1, j2)
            with np.errstate(invalid="ignore"):
                e_loo = fitted_log_slope(lam, loo, j1, j2)
            se = np.sqrt((G - 1) / G * np.sum((e_loo - e_loo.mean()) ** 2))
            a_se = np.sqrt((G - 1) / G * np.sum((loo - loo.mean(0)) ** 2, axis=0))
            row[est] = {"a": mean * np.sqrt(two_r_mc), "a_se": a_se * np.sqrt(two_r_mc),
                        "expo": float(e_full), "se": float(se)}
        k = args.batches.index(B)
        a_th = th["drift"][k] * np.sqrt(two_r_th)
        ratio = row["jac"]["a"][j1 - 1:j2] / a_th[j1 - 1:j2]
        row["ratio"] = float(np.mean(ratio))
        row["ratio_mode1"] = float(row["jac"]["a"][0] / a_th[0])
        z = (row["jac"]["a"] - a_th) / row["jac"]["a_se"]
        row["zmax"] = float(np.max(np.abs(z[j1 - 1:j2])))
        res.append(row)
        print(f"  B = {B:4d}: {n} samples, {dt:6.1f} s; exponent MC antithetic "
              f"{row['anti']['expo']:.4f} +- {row['anti']['se']:.4f}, jacobian "
              f"{row['jac']['expo']:.4f} +- {row['jac']['se']:.4f}, theory {th['drift_exponent'][k]:.4f}; "
              f"MC/theory drift over modes {j1}..{j2}: {row['ratio']:.3f}", flush=True)

    # Transition.
    jc = int(round(np.sqrt(j1 * j2)))
    b_star = df(lam, lam[jc - 1])
    b_lo, b_hi = df(lam, lam[j1 - 1]), df(lam, lam[j2 - 1])
    ex_th = np.array(th["drift_exponent"])
    ex_mc = np.array([r["jac"]["expo"] for r in res])
    ex_an = np.array([r["anti"]["expo"] for r in res])
    lvl = 0.75
    cross = {"theory": crossing(args.batches, ex_th, lvl), "MC jacobian": crossing(args.batches, ex_mc, lvl),
             "MC antithetic": crossing(args.batches, ex_an, lvl)}

    lines = []
    lines.append(f"| B | theory exponent | MC exponent (jacobian) | MC exponent (antithetic) | "
                 f"z jacobian | z antithetic | MC/theory a_j, modes {j1}..{j2} | max abs z_j there | MC/theory a_1 | samples | MC time (s) |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, r in enumerate(res):
        z = (r["jac"]["expo"] - ex_th[k]) / r["jac"]["se"]
        za = (r["anti"]["expo"] - ex_th[k]) / r["anti"]["se"]
        lines.append(f"| {r['B']} | {ex_th[k]:.4f} | {r['jac']['expo']:.4f} ± {r['jac']['se']:.4f} | "
                     f"{r['anti']['expo']:.4f} ± {r['anti']['se']:.4f} | {z:+.1f} | {za:+.1f} | {r['ratio']:.3f} | {r['zmax']:.1f} | "
                     f"{r['ratio_mode1']:.3f} | {r['n']} | {r['time']:.1f} |")
    table = "\n".join(lines)
    print()
    print(table)
    print()
    print("SignSGD (diagonal basis) theory exponent per B: "
          + ", ".join(f"{x:.4f}" for x in th_sgd["drift_exponent"]))
    print(f"Predicted transition (df(kappa_B) = B at kappa_B = lambda_{jc}): B* = {b_star:.1f}; "
          f"window crossed between B = df(lambda_{j1}) = {b_lo:.1f} and df(lambda_{j2}) = {b_hi:.1f}")
    print("B where the fitted exponent crosses 0.75: " +
          ", ".join(f"{k} {v:.1f}" for k, v in cross.items()))
    half = 0.5 * (ex_th[0] + ex_th[-1])
    print(f"B where it crosses half-way between the theory's end values ({half:.4f}): "
          f"theory {crossing(args.batches, ex_th, half):.1f}, MC jacobian {crossing(args.batches, ex_mc, half):.1f}, "
          f"MC antithetic {crossing(args.batches, ex_an, half):.1f}")
    print(f"time: theory {t_theory:.1f} s, MC {t_mc:.1f} s, total {time.time() - t_start:.1f} s")

    # Save numbers.
    np.savez(os.path.join(out, "mc.npz"), lam=lam, batches=np.array(args.batches),
             a_theory=th["drift"] * np.sqrt(two_r_th), expo_theory=ex_th,
             a_mc=np.array([r["jac"]["a"] for r in res]), a_mc_se=np.array([r["jac"]["a_se"] for r in res]),
             a_anti=np.array([r["anti"]["a"] for r in res]),
             expo_mc=ex_mc, expo_mc_se=np.array([r["jac"]["se"] for r in res]),
             expo_anti=ex_an, expo_anti_se=np.array([r["anti"]["se"] for r in res]),
             samples=np.array([r["n"] for r in res]), b_star=b_star, b_lo=b_lo, b_hi=b_hi)
    with open(os.path.join(out, "table.md"), "w") as fh:
        fh.write(table + "\n")

    # Figure.
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax = axes[0]
    show = [B for B in (1, 8, 32, 128, 512) if B in args.batches]
    cmap = plt.get_cmap("viridis")
    for i, B in enumerate(show):
        k = args.batches.index(B)
        c = cmap(i / max(1, len(show) - 1) * 0.9)
        ax.loglog(lam, th["drift"][k] * np.sqrt(two_r_th), color=c, lw=1.4, label=f"B = {B}")
        ax.errorbar(lam, res[k]["jac"]["a"], yerr=res[k]["jac"]["a_se"], fmt="o", ms=2.5,
                    color=c, mfc="none", lw=0.6)
    ax.axvspan(lam[j2 - 1], lam[j1 - 1], color="0.9", zorder=0)
    ax.set_xlabel(r"$\lambda_j = j^{-2\alpha}$")
    ax.set_ylabel(r"small-signal drift $a_j\,\sqrt{2R}$")
    ax.set_title(f"SignSVD, d = m = {d}: theory (lines), MC (circles);\nshaded: fit modes {j1}..{j2}",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    Bs = np.array(args.batches)
    ax.semilogx(Bs, ex_th, "-", color="C0", label="theory (signdyn batch-transition)")
    ax.errorbar(Bs, ex_mc, yerr=[r["jac"]["se"] for r in res], fmt="o", color="C1", mfc="none",
                label="MC (Jacobian estimator)")
    ax.errorbar(Bs * 1.08, ex_an, yerr=[r["anti"]["se"] for r in res], fmt="s", ms=3, color="C2",
                mfc="none", label="MC (antithetic pairs)")
    ax.semilogx(Bs, th_sgd["drift_exponent"], ":", color="C3", label="SignSGD theory (diagonal basis)")
    ax.axhline(1.0, color="k", ls=":", lw=0.8)
    ax.axhline(0.5, color="k", ls="--", lw=0.8)
    ax.axvline(b_star, color="C4", lw=1.0, label=rf"$B^* = \mathrm{{df}}(\lambda_{{{jc}}})$ = {b_star:.1f}")
    ax.axvspan(b_lo, b_hi, color="C4", alpha=0.08)
    ax.set_ylim(0.4, 1.1)
    ax.set_xlabel("batch size B")
    ax.set_ylabel(rf"fitted exponent of $a_j$ on $\lambda_j$ (modes {j1}..{j2})")
    ax.set_title("drift exponent against B", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    png = os.path.join(out, "drift_exponent.png")
    fig.savefig(png, dpi=130)
    print("wrote " + png)


if __name__ == "__main__":
    main()
