import os

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
