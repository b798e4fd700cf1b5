"""The crossing-path line search of the support-Newton method (solvers/linesearch.py)."""
from __future__ import annotations

import numpy as np
import pytest

from limitsolver.solvers.linesearch import crossing_path
from limitsolver.solvers.structured import crossing_times, radial_line_search


def _group_objective(A, Y, lam):
    """J(V) = ‖Y − A V‖²/(2n) + λ Σ_j ‖V_j‖, evaluated from scratch."""
    n = A.shape[0]

    def J(V, t=None):
        R = Y - A @ V
        return 0.5 * float(np.sum(R * R)) / n + lam * float(np.sum(np.linalg.norm(V, axis=1)))
    return J


def test_every_unit_leaves_in_one_call_when_the_path_keeps_decreasing():
    """Units of very different sizes, a direction that sends all to 0 (step = VS) on a
    penalty-dominated objective: the path takes them all out at once, the radial line
    search one per call."""
    rng = np.random.default_rng(0)
    n, s, T = 40, 6, 3
    A = rng.standard_normal((n, s)) * 1e-3
    Y = rng.standard_normal((n, T)) * 1e-3
    J = _group_objective(A, Y, lam=1.0)
    VS = rng.standard_normal((s, T)) * np.geomspace(1.0, 2.0, s)[:, None]
    step = VS * np.linspace(1.5, 3.0, s)[:, None]        # row j crosses at t = 1/factor_j
    P0 = J(VS)
    t, Vn, Pn = crossing_path(VS, step, J, P0, rowwise=True)
    assert not np.any(Vn)                                 # every row left
    assert Pn == pytest.approx(J(Vn)) and Pn < P0
    r = radial_line_search(VS, step, J, P0, rowwise=True)
    assert np.count_nonzero(~np.any(r[1] != 0, axis=1)) == 1


@pytest.mark.parametrize("rowwise", [True, False])
def test_never_increases_the_objective_and_zeroes_only_crossed_units(rowwise):
    """Random directions on random least-squares problems: whatever is returned decreases
    J (checked by an independent evaluation) and only units whose crossing time is ≤ the
    step length were set to 0; None only when the halving found nothing."""
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(60):
        n, s, T = 30, 8, 2
        A = rng.standard_normal((n, s))
        Y = rng.standard_normal((n, T))
        lam = 10.0 ** rng.uniform(-3, 0)
        J = _group_objective(A, Y, lam)
        VS = rng.standard_normal((s, T))
        step = rng.standard_normal((s, T)) * rng.uniform(0.1, 3.0)
        P0 = J(VS)
        out = crossing_path(VS, step, J, P0, rowwise=rowwise)
        if out is None:
            continue
        t, Vn, Pn = out
        assert J(Vn) <= P0 + 1e-15 * abs(P0)
        assert Pn == pytest.approx(J(Vn), rel=1e-12)
        tc = crossing_times(VS, step, rowwise)
        zero = ~np.any(Vn != 0, axis=1) if rowwise else (Vn == 0)
        assert np.all(tc[zero] <= t + 1e-15)
        moved = ~zero
        assert np.allclose(Vn[moved], (VS - t * step)[moved])
        hits += int(np.count_nonzero(zero) > 1)
    assert hits > 0                                       # several units left in one call


def test_without_crossing_it_is_the_radial_line_search():
    rng = np.random.default_rng(2)
    A, Y = rng.standard_normal((20, 4)), rng.standard_normal((20, 2))
    J = _group_objective(A, Y, 0.01)
    VS = rng.standard_normal((4, 2))
    step = -0.3 * VS                                      # moves away from 0: no crossing
    a = crossing_path(VS, step, J, J(VS))
    b = radial_line_search(VS, step, J, J(VS))
    assert (a is None) == (b is None)
    if a is not None:
        assert a[0] == b[0] and np.array_equal(a[1], b[1])
