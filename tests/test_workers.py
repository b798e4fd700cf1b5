"""When the sup searches use a second process, and that they give the same certified answers
from places where a second process may not be started (a daemonic pool worker)."""
import multiprocessing

import numpy as np
import pytest

from limitsolver import workers
from limitsolver.bound import bounded_sup


def _problem(seed=0, n=40, d=4, T=2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, d))
    return np.column_stack([X, np.ones(n)]), rng.standard_normal((n, T))


def _bound_in_worker(seed):
    Xt, Z = _problem(seed)
    res = bounded_sup(Xt, Z, Xt.shape[0], penalty="group", bias="regularized", radius=1.0,
                      rtol=1e-3, max_time=20.0)
    return workers.default_workers(), res.lower, res.upper


def _dense_sup(Xt, Z, samples=200_000, seed=1):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((samples, Xt.shape[1]))
    S /= np.linalg.norm(S, axis=1, keepdims=True)
    return float(np.linalg.norm(np.maximum(S @ Xt.T, 0) @ Z / Xt.shape[0], axis=1).max())


def test_environment_variable_fixes_the_count(monkeypatch):
    monkeypatch.setenv(workers.ENV_WORKERS, "1")
    assert workers.default_workers() == 1
    for bad in ("0", "two", "-3"):
        monkeypatch.setenv(workers.ENV_WORKERS, bad)
        with pytest.raises(ValueError, match=workers.ENV_WORKERS):
            workers.default_workers()


@pytest.mark.skipif(not workers.can_fork(), reason="needs the fork start method")
def test_bound_inside_a_daemonic_pool_worker_stays_in_one_process_and_is_valid():
    with multiprocessing.get_context("fork").Pool(1) as pool:
        count, lower, upper = pool.apply(_bound_in_worker, (0,))
    assert count == 1                       # a daemonic worker may not have children
    Xt, Z = _problem(0)
    found = _dense_sup(Xt, Z)
    assert lower <= upper
    assert upper >= found * (1 - 1e-12)     # still a bound, checked by a dense search
    assert lower >= found * (1 - 1e-2)
