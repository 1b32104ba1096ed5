#!/usr/bin/python3
"""The SignSVD step of bench_msign, written the natural numpy way (the peer for compare_numpy.sh).

One replica in K's eigenbasis, λ_j = j^(-1), b_j = j^(-1/2), σ = 0.5, η = 1e-3:
    X ~ N(0, K) (B×d), E = σ N (B×m), G = (1/B) Xᵀ(XΔ − E),
    U, S, Vt = np.linalg.svd(G, full_matrices=False), Δ -= η U @ Vt.
Prints one line per shape: median ms of the whole step (wall clock, and process CPU time, which
is robust to other processes on a shared machine) and of each phase over the repeats.
Usage: numpy_signsvd_step.py [d:B:repeats ...]   (default 512:32:30 512:1024:7 2048:64:3)
"""
import ctypes
import ctypes.util
import os
import sys
import time

import numpy as np


def openblas_info():
    """Which OpenBLAS numpy runs and which CPU kernel it picked (via the library's own API)."""
    for name in ("libblas.so.3", ctypes.util.find_library("openblas") or "libopenblas.so.0"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return "%s: %s, core %s, threads %d" % (
                name, lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(),
                lib.openblas_get_num_threads())
        except (OSError, AttributeError):
            continue
    return "OpenBLAS not found through ctypes"


def bench(d, batch, repeats, seed=0):
    m = d
    rng = np.random.default_rng(seed)
    j = np.arange(1, d + 1, dtype=np.float64)
    sqrt_lam = np.sqrt(j ** -1.0)
    b = j ** -0.5
    sigma, lr = 0.5, 1e-3
    delta = -(b[:, None] * rng.standard_normal((d, m)))
    phases = {"sample": [], "gemm": [], "polar": [], "update": [], "step": [], "cpu": []}
    for it in range(repeats + 1):  # the first step is a warm-up
        c0 = time.process_time()
        t0 = time.perf_counter()
        X = rng.standard_normal((batch, d)) * sqrt_lam
        E = sigma * rng.standard_normal((batch, m))
        t1 = time.perf_counter()
        G = X.T @ (X @ delta - E) / batch
        t2 = time.perf_counter()
        U, S, Vt = np.linalg.svd(G, full_matrices=False)
        Q = U @ Vt
        t3 = time.perf_counter()
        delta -= lr * Q
        t4 = time.perf_counter()
        c4 = time.process_time()
        if it == 0:
            continue
        phases["cpu"].append(1e3 * (c4 - c0))
        for key, t in zip(("sample", "gemm", "polar", "update", "step"),
                          (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
            phases[key].append(1e3 * t)
    return {k: float(np.median(v)) for k, v in phases.items()}


def main(argv):
    shapes = argv or ["512:32:30", "512:1024:7", "2048:64:3"]
    print("# numpy %s; %s" % (np.__version__, openblas_info()))
    print("# OPENBLAS_NUM_THREADS=%s OPENBLAS_CORETYPE=%s" % (
        os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
        os.environ.get("OPENBLAS_CORETYPE", "(unset)")))
    print("numpy d m B repeats step_ms sample_ms gemm_ms polar_ms update_ms step_cpu_ms")
    for shape in shapes:
        d, batch, repeats = (int(x) for x in shape.split(":"))
        r = bench(d, batch, repeats)
        print("numpy %d %d %d %d %.3f %.3f %.3f %.3f %.3f %.3f" % (
            d, d, batch, repeats, r["step"], r["sample"], r["gemm"], r["polar"], r["update"],
            r["cpu"]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
