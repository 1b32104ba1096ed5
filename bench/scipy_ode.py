#!/usr/bin/python3
"""The SignSGD diagonal-basis ODE of signdyn (solvers/ode/signsgd_diagonal.cpp) in NumPy,
integrated with scipy's solve_ivp at the same tolerance, for the speed comparison of
bench/README.md, "ODE".

Same problem as bench/ode/bench_ode.cpp: λ_j = j^(−1.2), b_j² = j^(−0.8) (signdyn alpha = 0.6,
beta = 0.4), σ = 0.5, η = 1e-3, B = 16, 1000 log-spaced records from step 1 to 10^7. Same
closure: Gaussian-mixture modes (16 components, 8 inner Gauss–Hermite nodes, the top mode's
column spread of S resolved), linear modes below B λ_j b_j² < 1e-2·max(σ², 1e-3·S(0)). The
best-suited solve_ivp set-up is used: the same log time τ = ln(1 + t), a stiff method, and the
Jacobian's sparsity (diagonal) so that finite differences cost one extra evaluation.

Usage: bench/scipy_ode.py [--d 10000] [--rtol 1e-4] [--method BDF] [--compare FILE]
  --compare FILE: a signdyn dump (SIGNDYN_BENCH_DUMP of bench_ode) to compare the risk curves.
"""
import argparse
import time

import numpy as np
import scipy.sparse as sp
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import solve_ivp
from scipy.special import betainc


def sign_mean_table(batch):
    c = np.linspace(0.0, 1.0, 8193)
    return c, 1.0 - 2.0 * betainc(batch / 2, batch / 2, (1.0 - c) / 2.0)


def build(d, batch, lr, sigma):
    j = np.arange(1, d + 1, dtype=float)
    lam, b2 = j ** -1.2, j ** -0.8
    s0 = sigma**2 + (lam * b2).sum()
    s_ref = max(sigma**2, 1e-3 * s0)
    order = np.argsort(-(lam * b2), kind="stable")
    gm = batch * lam * b2 >= 1e-2 * s_ref
    gm[order[0]] = True
    gm_modes = np.concatenate([[order[0]], [k for k in np.flatnonzero(gm) if k != order[0]]])
    lin_modes = np.flatnonzero(~gm)
    x, w = hermegauss(16)
    w = w / w.sum()
    xh, wh = x[x > 0], 2 * w[x > 0]
    xi, wi = hermegauss(8)
    wi = wi / wi.sum()
    return dict(lam=lam, b2=b2, gm=gm_modes, lin=lin_modes, xh=xh, wh=wh, xi=xi, wi=wi,
                table=sign_mean_table(batch), lr=lr, sigma2=sigma**2,
                slope0=np.exp(-np.log(__import__("scipy").special.beta(batch / 2, batch / 2))
                              - (batch / 2 - 1) * np.log(4.0)))


def h_of(P, c):
    cc, hh = P["table"]
    return np.sign(c) * np.interp(np.abs(c), cc, hh)


def rhs_t(P, y):
    """dy/dt of the diagonal closure; y = [μ (n_gm×Qh), s (n_gm×Qh), ρ_lin]."""
    lam, xh, wh, xi, wi, lr = P["lam"], P["xh"], P["wh"], P["xi"], P["wi"], P["lr"]
    ng, qh = len(P["gm"]), len(xh)
    mu = y[: ng * qh].reshape(ng, qh)
    var = np.maximum(y[ng * qh : 2 * ng * qh].reshape(ng, qh), 0.0)
    rho_lin = y[2 * ng * qh :]
    lg, ll = lam[P["gm"]], lam[P["lin"]]
    e2 = mu**2 + var
    rho_gm = e2 @ wh
    S = P["sigma2"] + ll @ rho_lin + lg @ rho_gm
    base = max(S - lg[0] * rho_gm[0], P["sigma2"])
    env_s = np.maximum(base + lg[0] * e2[0], 1e-12 * S)  # one env node per component of mode 1
    phi = wh @ (1.0 / np.sqrt(env_s))
    # s_minus[g, q, e]: non-env modes remove their mean share, the env mode its own component
    s_minus = env_s[None, None, :] - (lg * rho_gm)[:, None, None]
    s_minus = np.broadcast_to(s_minus, (ng, qh, qh)).copy()
    s_minus[0] = (env_s - lg[0] * e2[0])[:, None]  # env mode: conditioned on its component
    s_minus = np.maximum(s_minus, 0.0)
    w_env = np.broadcast_to(wh[None, None, :], (ng, qh, qh)).copy()
    w_env[0] = np.eye(qh)
    delta = mu[:, :, None] + np.sqrt(var)[:, :, None] * xi[None, None, :]  # g, q, k
    L = lg[:, None, None, None]
    den = L * delta[:, :, None, :] ** 2 + s_minus[:, :, :, None]
    c = np.where(den > 0, np.sqrt(L) * delta[:, :, None, :] / np.sqrt(np.maximum(den, 1e-300)), 0.0)
    hv = h_of(P, c)
    eh = np.einsum("gqek,k,gqe->gq", hv, wi, w_env)
    edh = np.einsum("gqek,gqk,k,gqe->gq", hv, delta, wi, w_env)
    f_mu = -lr * eh
    f_s = -2.0 * lr * (edh - mu * eh) + lr * lr
    f_lin = lr * lr - 2.0 * lr * P["slope0"] * phi * np.sqrt(ll) * rho_lin
    return np.concatenate([f_mu.ravel(), f_s.ravel(), f_lin]), S


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=10000)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--method", default="BDF")
    ap.add_argument("--compare", default=None)
    a = ap.parse_args()
    P = build(a.d, 16, 1e-3, 0.5)
    ng, qh = len(P["gm"]), len(P["xh"])
    y0 = np.concatenate([(np.sqrt(P["b2"][P["gm"]])[:, None] * P["xh"][None, :]).ravel(),
                         np.zeros(ng * qh), P["b2"][P["lin"]]])
    # Records: 0 and ~1000 log-spaced integer steps up to 10^7 (signdyn's record_steps).
    rec = np.unique(np.rint(np.logspace(0, 7, 1000)).astype(np.int64))
    tau_eval = np.log1p(np.concatenate([[0], rec]).astype(float))

    def fun(tau, y):
        return np.exp(tau) * rhs_t(P, y)[0]

    n = len(y0)
    t0 = time.perf_counter()
    kw = dict(rtol=a.rtol, atol=1e-14, t_eval=tau_eval)
    if a.method in ("BDF", "Radau"):
        kw["jac_sparsity"] = sp.identity(n, format="csc")
    sol = solve_ivp(fun, (0.0, tau_eval[-1]), y0, method=a.method, **kw)
    wall = time.perf_counter() - t0
    risk = np.array([0.5 * rhs_t(P, sol.y[:, i])[1] for i in range(sol.y.shape[1])])
    print(f"scipy solve_ivp {a.method}: d = {a.d}, rtol = {a.rtol}: {wall:.2f} s, "
          f"status {sol.status} ({sol.message}), nfev {sol.nfev}, njev {sol.njev}, "
          f"records {len(risk)}, R(end) = {risk[-1]:.6f}")
    if a.compare:
        ref = np.loadtxt(a.compare)
        m = min(len(ref), len(risk))
        rel = np.abs(risk[:m] / ref[:m, 1] - 1.0)
        print(f"max relative difference to {a.compare}: {rel.max():.2e} (at t = {ref[rel.argmax(), 0]:.0f})")


if __name__ == "__main__":
    main()
