"""Coordinate descent as a fallback after Newton near interpolation: from a start it cannot
improve on (the gap at its floating-point floor), it returns a point whose gap is not larger
than the start's and it stops after a few gap checks instead of sweeping on."""
import numpy as np

from limitsolver.penalties import get_penalty
from limitsolver.solvers.bcd import STALL_CHECKS, bcd_anderson


def _near_interpolation(seed=0, n=30, k=28, T=2):
    """1-D ReLU features with kinks at the data, λ ≈ 1e-8 of its largest useful value."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 1.0, n))
    kinks = np.sort(rng.choice(x, k, replace=False))
    A = np.maximum(x[:, None] - kinks[None, :], 0.0)
    Y = np.column_stack([np.sin(3 * x), np.abs(x)])[:, :T]
    pen = get_penalty("group")
    lam = 1e-8 * float(np.max(pen.dual_norms(A.T @ Y / n)))
    return A, Y, lam, pen


def _gap(A, Y, lam, pen):
    n = A.shape[0]

    def value(V):
        return float(np.sum((Y - A @ V) ** 2) / (2 * n) + lam * pen.value(V))

    def rel(V):                         # primal − dual of the scaled residual, over ½‖Y‖²/n
        Z = Y - A @ V
        s = min(1.0, lam / max(float(np.max(pen.dual_norms(A.T @ Z / n))), 1e-300))
        dual = float(np.sum(Y * s * Z) - 0.5 * np.sum((s * Z) ** 2)) / n
        return (value(V) - dual) / (0.5 * float(np.sum(Y ** 2)) / n)
    return value, rel


def test_a_stalled_fallback_keeps_its_start_and_stops_early():
    A, Y, lam, pen = _near_interpolation()
    n, k = A.shape
    G, B = A.T @ A / n, A.T @ Y / n
    value, rel = _gap(A, Y, lam, pen)
    # a good start: a long run of the same method, then the point it reached
    V0, _, r0 = bcd_anderson(G, B, lam, pen, np.zeros((k, Y.shape[1])), rel_gap=rel,
                             tol=0.0, max_epochs=20000)
    checks = []

    def counted(V):
        checks.append(1)
        return rel(V)
    V1, epochs, r1 = bcd_anderson(G, B, lam, pen, V0, rel_gap=counted, tol=0.0,
                                  max_epochs=20000)
    assert r1 <= rel(V0) * (1 + 1e-12)
    assert abs(r1 - rel(V1)) <= 1e-12 * max(abs(r1), 1e-300)
    assert value(V1) <= value(V0) + 1e-14 * abs(value(V0)) or r1 < rel(V0)
    # at most the start's check, STALL_CHECKS without progress, and the progress it made
    assert len(checks) <= 1 + STALL_CHECKS + 10, (len(checks), r0, r1)
