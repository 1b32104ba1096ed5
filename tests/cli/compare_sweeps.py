"""Checks that two sweep files hold the same points with bit-identical datasets.

Attributes that record when and how fast a file was written (created, wall_seconds) may differ;
every dataset, every other run attribute and each point's configuration must not.
Usage: /usr/bin/python3 compare_sweeps.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np

TIMING = {"created", "wall_seconds"}


def attrs(obj):
    return {k: v for k, v in obj.attrs.items() if k not in TIMING}


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).tobytes() == np.asarray(b).tobytes()
    return a == b


def main(path_a, path_b):
    failures = []
    with h5py.File(path_a, "r") as a, h5py.File(path_b, "r") as b:
        if list(a["points"]) != list(b["points"]):
            failures.append(f"points differ: {list(a['points'])} vs {list(b['points'])}")
        checked = 0
        for name in a["points"]:
            pa, pb = a["points"][name], b["points"][name]
            for key, value in attrs(pa).items():
                if not same(value, pb.attrs.get(key)):
                    failures.append(f"/points/{name} @{key} differs")
            if list(pa["runs"]) != list(pb["runs"]):
                failures.append(f"/points/{name}/runs differ")
                continue
            for run in pa["runs"]:
                ra, rb = pa["runs"][run], pb["runs"][run]
                for key, value in attrs(ra).items():
                    if not same(value, rb.attrs.get(key)):
                        failures.append(f"/points/{name}/runs/{run} @{key} differs")
                for ds in ra:
                    x, y = ra[ds][()], rb[ds][()]
                    if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                        failures.append(f"/points/{name}/runs/{run}/{ds} differs")
                    checked += 1
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print(f"ok: {checked} datasets identical bit for bit")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
