import importlib.util
import os
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_problem(rng, n=12, d=1, T=2, loss="squared"):
    """Small random data: inputs in [-1, 1]^d, targets from a random 3-neuron network."""
    X = rng.uniform(-1, 1, size=(n, d))
    W = rng.standard_normal((3, d + 1))
    H = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0)
    Y = H @ rng.standard_normal((3, T)) + 0.1 * rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Y - np.median(Y, axis=0) >= 0, 1.0, -1.0)
    return X, Y


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_example(name, prefix="example"):
    """The script ``examples/<name>.py`` as a module (its folder on sys.path for
    ``_common``), registered as ``<prefix>_<name>``."""
    path = os.path.join(ROOT, "examples", f"{name}.py")
    if os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(f"{prefix}_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
