"""The Gram-form crossing path with closed-form trial values (solvers/gram_path.py), against
the generic crossing path on an objective evaluated from the samples."""
from __future__ import annotations

import numpy as np
import pytest

from limitsolver.solvers.gram_path import gram_path
from limitsolver.solvers.linesearch import crossing_path


def _problem(rng, n, s, T, lam):
    A = np.maximum(rng.standard_normal((n, s)), 0.0) + 0.1 * rng.standard_normal((n, s))
    Y = rng.standard_normal((n, T))
    G, B = A.T @ A / n, A.T @ Y / n
    q0 = 0.5 * float(np.sum(Y * Y)) / n

    def J(V, t=None):                                   # from the samples
        R = Y - A @ V
        return 0.5 * float(np.sum(R * R)) / n + lam * float(np.sum(np.linalg.norm(V, axis=1)))
    return G, B, q0, J


@pytest.mark.parametrize("seed", range(4))
def test_same_point_as_the_generic_crossing_path(seed):
    """Random points and directions (crossings at random times, some steps that no t
    accepts): the returned point, step length and value agree with crossing_path on J
    from the samples; the value agrees with J at the point; nV2 is Σ V_new²."""
    rng = np.random.default_rng(seed)
    met = dict(none=0, zeroed=0, plain=0, rounding=0)
    for trial in range(80):
        n, s, T = 60, int(rng.integers(2, 14)), int(rng.integers(1, 5))
        lam = 10.0 ** rng.uniform(-3, 0)
        G, B, q0, J = _problem(rng, n, s, T, lam)
        VS = rng.standard_normal((s, T)) * rng.uniform(0.01, 1.0, s)[:, None]
        RS = G @ VS - B
        nrm2 = np.add.reduce(VS * VS, axis=1)
        nrm = np.sqrt(nrm2)
        J0 = q0 + 0.5 * float(np.vdot(VS, RS - B)) + lam * float(nrm.sum())
        assert J0 == pytest.approx(J(VS), rel=1e-12)
        kind = rng.integers(3)
        if kind == 0:                                   # a descent-like direction
            step = np.linalg.solve(G + lam * np.eye(s), RS + lam * VS / nrm[:, None])
        elif kind == 1:                                 # rows sent towards 0
            step = VS * rng.uniform(0.2, 4.0, s)[:, None]
        else:
            step = rng.standard_normal((s, T)) * rng.uniform(0.1, 3.0)
        ref = crossing_path(VS, step, J, J0, rowwise=True)
        out = gram_path(G, VS, RS, nrm, nrm2, lam, J0, step)
        if ref is None or out is None:
            # both fail, or one accepts a point within rounding of the test
            if ref is None and out is None:
                met["none"] += 1
                continue
            t, Vn, Pn = ref if ref is not None else out[:3]
            assert abs(J(Vn) - J0) <= 1e-12 * abs(J0)
            continue
        t, Vn, Jn, nV2 = out
        if t != ref[0]:
            # a trial accepted on one side of the rounding slack only: the points' values
            # agree to rounding (e.g. t_K and t = 1 with every row at 0)
            assert abs(J(Vn) - J(ref[1])) <= 1e-13 * abs(J0)
            met["rounding"] += 1
        else:
            np.testing.assert_array_equal(Vn == 0, ref[1] == 0)
            np.testing.assert_allclose(Vn, ref[1], rtol=0,
                                       atol=1e-14 * max(1.0, np.abs(VS).max()))
        assert Jn == pytest.approx(J(Vn), rel=1e-11, abs=1e-13)
        assert Jn <= J0 + 1e-15 * abs(J0)
        np.testing.assert_allclose(nV2, np.add.reduce(Vn * Vn, axis=1), rtol=0, atol=0)
        met["zeroed" if np.any(nV2 == 0) else "plain"] += 1
    assert met["zeroed"] and met["plain"] and met["rounding"] <= 2


def test_all_rows_leave_when_the_path_keeps_decreasing():
    """A penalty-dominated objective and a step sending every row to 0 at different times:
    every row leaves in one call, as in the generic crossing path."""
    rng = np.random.default_rng(7)
    n, s, T, lam = 40, 6, 3, 1.0
    A = rng.standard_normal((n, s)) * 1e-3
    Y = rng.standard_normal((n, T)) * 1e-3
    G, B = A.T @ A / n, A.T @ Y / n
    q0 = 0.5 * float(np.sum(Y * Y)) / n
    VS = rng.standard_normal((s, T)) * np.geomspace(1.0, 2.0, s)[:, None]
    step = VS * np.linspace(1.5, 3.0, s)[:, None]
    RS = G @ VS - B
    nrm2 = np.add.reduce(VS * VS, axis=1)
    nrm = np.sqrt(nrm2)
    J0 = q0 + 0.5 * float(np.vdot(VS, RS - B)) + lam * float(nrm.sum())
    t, Vn, Jn, nV2 = gram_path(G, VS, RS, nrm, nrm2, lam, J0, step)
    assert not np.any(Vn) and not np.any(nV2)
    R = Y - A @ Vn
    assert Jn == pytest.approx(0.5 * float(np.sum(R * R)) / n, rel=1e-12)
