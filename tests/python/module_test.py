"""Tests of the Python module `signdyn` (src/python/module.cpp).

Each test states the fact it checks. The reference is the signdyn executable itself: the module
calls the same library functions, so its arrays must equal the HDF5 datasets bit for bit.
Run: PYTHONPATH=build/python SIGNDYN_BIN=build/signdyn /usr/bin/python3 tests/python/module_test.py
"""
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

import signdyn

BIN = os.environ.get("SIGNDYN_BIN", "build/signdyn")
ARRAYS = ("t", "risk", "risk_se", "modes", "rho", "rho_se")
RUN_ATTRS = ("method", "optimizer", "solver", "batch", "lr", "seed", "replicas", "status",
             "message")
TINY = {"problem.d": 16, "problem.m": 8, "run.steps": 60, "run.records": 12, "run.modes": 0,
        "run.replicas": 6, "optimizer.batch": 2}


def set_args(overrides):
    """The CLI arguments for a list of "key=value" overrides, in order."""
    return [a for o in overrides for a in ("--set", o)]


def same_bits(a, b):
    """True when two arrays have the same dtype kind, shape and bytes (NaN included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


class ModuleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def cli_run(self, command, config, optimizer):
        """Runs `signdyn COMMAND` with the config's overrides plus optimizer.name; the file's run."""
        out = os.path.join(self.tmp.name, f"{command}-{optimizer}.h5")
        overrides = config.overrides + [f"optimizer.name={optimizer}"]
        subprocess.run([BIN, command, "--quiet", "--threads", "1", *set_args(overrides),
                        "--out", out], check=True, capture_output=True)
        with h5py.File(out, "r") as f:
            (group,) = list(f["runs"])
            run = f["runs"][group]
            arrays = {k: run[k][:] for k in ARRAYS}
            attrs = {k: run.attrs[k] for k in RUN_ATTRS}
            root = dict(f.attrs)
        return arrays, attrs, root

    def assert_matches_cli(self, result, command, config, optimizer):
        arrays, attrs, root = self.cli_run(command, config, optimizer)
        for k in ARRAYS:
            self.assertTrue(same_bits(result[k], arrays[k]), f"{optimizer} {k} differs")
        for k in RUN_ATTRS:
            self.assertEqual(result[k], attrs[k], k)
        for k in ("config", "command", "signdyn_version", "git_commit", "format_version"):
            self.assertEqual(result[k], root[k], k)

    def test_ode_equals_the_cli_file_bit_for_bit(self):
        """ode() returns exactly the datasets `signdyn ode` writes for the same overrides."""
        cfg = signdyn.default_config(TINY)
        for optimizer in ("sgd", "signsgd", "signsvd"):
            result = signdyn.ode(cfg, optimizer=optimizer)
            self.assertEqual(result["method"], "theory")
            self.assertEqual(result["rho"].shape, (len(result["t"]), 16))
            self.assert_matches_cli(result, "ode", cfg, optimizer)

    def test_simulate_is_reproducible_and_equals_the_cli(self):
        """Replica r draws from the stream (seed, r): same seed, same bits, for any thread count."""
        cfg = signdyn.default_config(TINY)
        one = signdyn.simulate(cfg, optimizer="signsvd", threads=1)
        two = signdyn.simulate(cfg, optimizer="signsvd", threads=2)
        for k in ARRAYS:
            self.assertTrue(same_bits(one[k], two[k]), k)
        self.assertEqual((one["method"], one["replicas"], one["seed"]), ("mc", 6, 1))
        self.assertTrue(np.all(one["risk_se"][1:] > 0))
        self.assert_matches_cli(one, "simulate", cfg, "signsvd")
        other = signdyn.simulate(cfg.set({"run.seed": 2}), optimizer="signsvd", threads=1)
        self.assertFalse(np.array_equal(one["risk"][1:], other["risk"][1:]))

    def test_compare_pairs_the_two_methods(self):
        """compare() holds both runs on one grid and z = (R_mc − R_theory) / SE."""
        cfg = signdyn.default_config(TINY)
        c = signdyn.compare(cfg, optimizer="sgd", threads=1)
        self.assertTrue(same_bits(c["t"], c["mc"]["t"]))
        self.assertTrue(same_bits(c["mc"]["t"], c["theory"]["t"]))
        se = c["mc"]["risk_se"]
        mask = se > 0
        z = (c["mc"]["risk"] - c["theory"]["risk"])[mask] / se[mask]
        np.testing.assert_allclose(c["z"][mask], z, rtol=1e-12)
        self.assertEqual(c["max_abs_z"], np.max(np.abs(c["z"])))
        self.assertEqual(c["mc"]["command"], "compare")

    def test_bad_override_raises_value_error_naming_the_key(self):
        """Config errors come from the config's own parser: ValueError naming the field."""
        with self.assertRaisesRegex(ValueError, r"problem\.dd"):
            signdyn.default_config({"problem.dd": 64})
        with self.assertRaisesRegex(ValueError, r"problem\.d\b"):
            signdyn.default_config({"problem.d": -3})
        with self.assertRaisesRegex(ValueError, r"optimizer\.batch"):
            signdyn.default_config(["optimizer.batch=0"])
        with self.assertRaisesRegex(ValueError, r"optimizer\.name"):
            signdyn.ode(signdyn.default_config(TINY))  # three optimizers: which one?
        with self.assertRaisesRegex(ValueError, r"optimizer\.name"):
            signdyn.ode(signdyn.default_config(TINY), optimizer="adam")
        with self.assertRaises(OSError):
            signdyn.load_config(os.path.join(self.tmp.name, "missing.toml"))
        with self.assertRaises(TypeError):
            signdyn.default_config({"problem.d": object()})

    def test_config_handle(self):
        """A config file with overrides resolves like `signdyn config FILE --set ...`."""
        path = os.path.join(self.tmp.name, "c.toml")
        with open(path, "w") as f:
            f.write('[problem]\nd = 12\n[optimizer]\nname = ["sgd", "signsvd"]\n')
        overrides = {"problem.m": np.int64(6), "optimizer.lr": {"sgd": 0.25, "signsvd": 0.05},
                     "run.methods": ["theory"]}
        cfg = signdyn.load_config(path, overrides)
        self.assertEqual(cfg.optimizers, ["sgd", "signsvd"])
        printed = subprocess.run([BIN, "config", path, *set_args(cfg.overrides)], check=True,
                                 capture_output=True, text=True).stdout
        self.assertEqual(cfg.toml, printed)
        self.assertIn("d = 12", cfg.toml)
        self.assertIn("lr = { sgd = 0.25, signsvd = 0.05 }", cfg.toml)
        self.assertEqual(cfg.set(["problem.m=7"]).overrides[-1], "problem.m=7")

    def test_sweep_points_equal_single_runs(self):
        """Each sweep point's theory run equals ode() at that point's config."""
        cfg = signdyn.default_config({**TINY, "optimizer.name": "sgd"})
        out = os.path.join(self.tmp.name, "sweep.h5")
        s = signdyn.sweep(cfg, grid={"optimizer.batch": [1, 4]}, methods="theory", out=out,
                          threads=1)
        self.assertEqual(s["grid_keys"], ["optimizer.batch"])
        self.assertEqual([p["grid_values"] for p in s["points"]], [["1"], ["4"]])
        self.assertTrue(os.path.exists(out))
        for p, batch in zip(s["points"], (1, 4)):
            run = p["runs"]["sgd_theory"]
            self.assertEqual(run["batch"], batch)
            single = signdyn.ode(cfg.set({"optimizer.batch": batch}))
            for k in ARRAYS:
                self.assertTrue(same_bits(run[k], single[k]), k)
        no_file = signdyn.sweep(cfg, grid={"optimizer.batch": "1,2"}, methods=["theory"])
        self.assertIsNone(no_file["path"])
        self.assertEqual(len(no_file["points"]), 2)


if __name__ == "__main__":
    unittest.main()
