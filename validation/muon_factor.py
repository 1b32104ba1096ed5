#!/usr/bin/python3
"""Muon against SignSVD at t = 0, by direct sampling (docs/theory/signsvd.md, section 7).

For the default-like problem d = m = 256, lambda_j = 1/j, b_j = j^(-1/2), sigma = 0.5, B = 64,
prints the drift <K Delta, M> and the second moment <K, M∘M> of Muon's update M = NS_k(G/|G|_F)
relative to SignSVD's M = msign(G) (k = 5, 6, 10), and where the top singular values of G/|G|_F
land under k quintic Newton-Schulz steps.

Usage: /usr/bin/python3 validation/muon_factor.py [--draws 20] [--batch 64] [--seed 0]
"""
import argparse

import numpy as np

A, B_, C = 3.4445, -4.7750, 2.0315  # Keller Jordan's quintic, as in include/signdyn/msign.hpp


def newton_schulz(G, k):
    X = G / np.linalg.norm(G)
    for _ in range(k):
        S = X @ X.T
        X = A * X + (B_ * S + C * S @ S) @ X
    return X


def phi(s, k):
    for _ in range(k):
        s = s * (A + B_ * s * s + C * s ** 4)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d = m = 256
    sigma = 0.5
    j = np.arange(1, d + 1)
    lam, b = 1.0 / j, j ** -0.5
    ks = (5, 6, 10)
    sums = {name: np.zeros(2) for name in ["msign"] + [f"k{k}" for k in ks]}
    top = None
    for _ in range(args.draws):
        delta = b[:, None] * rng.standard_normal((d, m))
        X = rng.standard_normal((args.batch, d)) * np.sqrt(lam)
        E = sigma * rng.standard_normal((args.batch, m))
        G = X.T @ (X @ delta - E) / args.batch
        U, s, Vt = np.linalg.svd(G, full_matrices=False)
        r = int((s > 1e-10 * s[0]).sum())
        updates = {"msign": U[:, :r] @ Vt[:r]}
        updates.update({f"k{k}": newton_schulz(G, k) for k in ks})
        for name, M in updates.items():
            sums[name] += [np.sum(lam[:, None] * delta * M), np.sum(lam[:, None] * M * M)]
        top = s[:8] / np.linalg.norm(G)
    base = sums["msign"]
    print(f"d = m = {d}, B = {args.batch}, {args.draws} draws: factors relative to SignSVD")
    for name, v in sums.items():
        print(f"  {name:6s} drift {v[0] / base[0]:.3f}   second moment {v[1] / base[1]:.3f}")
    print("last draw: top s = sigma_i/|G|_F", np.round(top, 3))
    for k in ks:
        print(f"  phi_{k}(s)", np.round(phi(top, k), 3))
    print("repelling fixed point of the quintic: s* =",
          round(float(np.sqrt((-B_ - np.sqrt(B_ * B_ - 4 * C * (A - 1))) / (2 * C))), 4))


if __name__ == "__main__":
    main()
