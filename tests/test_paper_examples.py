"""The headlines of the feature-learning, locality and implicit-bias examples, in small form:
each test fails if its effect disappears (the examples themselves run in test_examples)."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from limitsolver.grids import sphere_grid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    path = os.path.join(ROOT, "examples", f"{name}.py")
    if os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(f"paper_example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_probe_on_multitask_features_beats_random_features_only_in_their_subspace():
    """d = 8, r = 2: a ridge probe on the group-limit atoms learned from 16 tasks fits 10
    new tasks of the same subspace from m = 16 samples much better than random ReLU
    features of the same count and than the kernel; on tasks of an orthogonal subspace
    (control) it is not better than random features."""
    fl = _load("feature_learning")
    d = 8
    grid = sphere_grid(d + 1, 500, kind="sobol", random_state=0)
    same, control, info = fl.run_seed(d, 0, (16,), grid, (0.005,), single=False)
    g, rf, k = same["group (learned)"][0], same["random features"][0], same["kernel"][0]
    assert g < 0.6 * rf and g < 0.8 * k, (g, rf, k)
    assert control["group (learned)"][0] > 0.9 * control["random features"][0]
    assert info["inside"] > 0.8          # the atoms lie mostly in the relevant subspace


def test_shallow_limit_favours_local_targets_and_the_ntk_is_rotation_blind():
    """Boolean inputs, d = 8, k = 2: the shallow limit learns the k-local target far better
    than the k-global one; the NTK's error moves the same way with depth for both targets;
    on Gaussian inputs with the global problem = the rotated local one, the NTK's
    local − global gap is zero (rotation invariance)."""
    lg = _load("locality_globality")
    grid = sphere_grid(9, 500, kind="sobol", random_state=0)
    kw = dict(lg.QUICK)
    cube = lg.run_seed(0, grid, **kw)
    assert cube["local"]["limit"] < 0.5 * cube["global"]["limit"], cube
    assert cube["local"]["limit"] < cube["local"]["NTK L=1"]
    dl = cube["local"]["NTK L=3"] - cube["local"]["NTK L=1"]
    dg = cube["global"]["NTK L=3"] - cube["global"]["NTK L=1"]
    assert np.sign(dl) == np.sign(dg), cube
    gauss = lg.run_seed(100, grid, gaussian=True, **kw)
    for m in ("NTK L=1", "NTK L=3"):
        assert abs(gauss["local"][m] - gauss["global"][m]) < 1e-6


@pytest.mark.parametrize("case", ["one point", "two points"])
def test_gd_violates_data_independence_and_the_limit_does_not(case):
    """One hidden neuron: GD from the same start on S and on S′ ⊃ S (S′ adds a point where
    GD(S) is zero) returns two different interpolants of S′ (kinks apart by far more than
    their drift), which no data-independent rule allows; the min-norm limit passes."""
    iv = _load("implicit_vs_explicit")
    x, y = iv.CASES[case]
    rng = np.random.default_rng(1 if case == "one point" else 2)
    r = iv.test_pair(x, y, iv.initial_network(rng), 2000)
    assert r["mse_s_on_s2"] < 1e-10 and r["mse_s2"] < 1e-10
    assert r["violation"] and r["sup"] > 1e-3
    lim = iv.limit_pair(x, y, r["x_new"])
    assert lim["fits_s2"] < 1e-9 and lim["sup"] < 1e-6
