"""Every plotting function runs headless (Agg) and writes a non-empty PNG."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from limitsolver import compare, make_demo, solve  # noqa: E402
from limitsolver import plotting  # noqa: E402
from limitsolver.grids import sphere_grid  # noqa: E402

from .conftest import random_problem  # noqa: E402


@pytest.fixture(scope="module")
def table():
    X, Y = make_demo(n=12, n_tasks=3)
    return compare(X, Y, lam=1e-2, grid=sphere_grid(2, 200), solver="clarabel",
                   X_test=X, Y_test=Y)


def _save(ax, tmp_path, name):
    assert ax is not None and hasattr(ax, "figure")
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    plt.close(ax.figure)
    assert path.stat().st_size > 1000
    return path


def test_fit_1d_group_and_kernel(table, tmp_path):
    for pen in ("group", "kernel"):
        _save(plotting.plot_fit_1d(table[pen].solution), tmp_path, f"fit_{pen}")


def test_measure_1d_2d_and_kernel(table, tmp_path, rng):
    _save(plotting.plot_measure(table["group"].solution), tmp_path, "m1")
    _save(plotting.plot_measure(table["kernel"].solution), tmp_path, "mk")
    X, Y = random_problem(rng, n=8, d=2, T=2)
    sol = solve(X, Y, lam=1e-2, grid=sphere_grid(3, 300), solver="clarabel")
    fig, ax = plt.subplots()
    assert plotting.plot_measure(sol, ax=ax) is ax
    _save(ax, tmp_path, "m2")


def test_task_sharing(table, tmp_path):
    S = plotting.task_sharing_matrix(table["group"].solution)
    # the cosine between |weight| profiles, counted here task by task
    A = np.abs(table["group"].solution.weights)
    for s in range(A.shape[1]):
        for t in range(A.shape[1]):
            cos = A[:, s] @ A[:, t] / (np.linalg.norm(A[:, s]) * np.linalg.norm(A[:, t]))
            assert S[s, t] == pytest.approx(cos, rel=1e-12)
    # closed forms: disjoint neurons share nothing; proportional profiles share all
    from types import SimpleNamespace
    W = np.array([[1.0, 0.0, 2.0], [0.0, -3.0, 0.0], [2.0, 0.0, 4.0]])
    np.testing.assert_allclose(plotting.task_sharing_matrix(SimpleNamespace(weights=W)),
                               [[1, 0, 1], [0, 1, 0], [1, 0, 1]], atol=1e-15)
    _save(plotting.plot_task_sharing(table["group"].solution), tmp_path, "share")


def test_comparison_and_width(table, tmp_path):
    _save(plotting.plot_comparison(table, "test_error"), tmp_path, "bars")
    _save(plotting.plot_comparison({"a": 1.0, "b": 2.0}, errors=[0.1, 0.2], log=True),
          tmp_path, "bars2")
    w = np.array([4, 16, 64, 256])
    _save(plotting.plot_width_convergence(w, 1 + 1 / w, limit=1.0, lower_bound=0.99),
          tmp_path, "width")
    _save(plotting.plot_width_convergence(w, np.c_[1 + 1 / w, 1 + 2 / w]), tmp_path, "w2")
    with pytest.raises(ValueError, match="match"):
        plotting.plot_width_convergence(w, np.ones(3))
