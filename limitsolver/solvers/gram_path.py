"""The crossing-path line search of the Gram-form Newton method, its trials in closed form.

On a support of s rows (T tasks) with Gram matrix G_SS, residual R_S = G_SS V_S − B_S and
row norms ‖V_j‖, a trial point of the crossing path (:func:`.linesearch.crossing_path`)
along a step s_ (s × T) is V_S − t·s_ with the rows z of the k first crossings set to 0:
D = −t·s_ + E, E nonzero on z only, E_z = t·s_z − V_z. The change of J is

    J(V + D) − J(V) = t(½t·b − a) + ⟨E_z, R_z − t(Gs)_z⟩ + ½⟨E_z, G_zz E_z⟩
                      + λ Σ_j (‖V_j + D_j‖² − ‖V_j‖²) / (‖V_j + D_j‖ + ‖V_j‖),

a = ⟨s_, R_S⟩, b = ⟨s_, G_SS s_⟩, Gs = G_SS s_ (one product for all trials), and
‖V_j + D_j‖² − ‖V_j‖² = t(t‖s_j‖² − 2⟨V_j, s_j⟩) off z, −‖V_j‖² on z (the identity of
:mod:`.gram_newton`, with neither D nor G_SS D formed). A trial costs O(sT + k²T) and
about a dozen array operations.

:func:`gram_path` takes the trials of :func:`.linesearch.crossing_path` (and of its
fallbacks, the radial line search without crossings and the halving after a failed first
crossing) in the same order with the same acceptance test J_new ≤ J_ref + 1e-15·|J_ref|,
so it returns the point that function returns, up to rounding of the trial values.
"""
from __future__ import annotations

import numpy as np

from .linesearch import trial_counts

__all__ = ["gram_path"]


def gram_path(GSS: np.ndarray, VS: np.ndarray, RS: np.ndarray, nrm: np.ndarray,
              nrm2: np.ndarray, lam: float, J0: float, step: np.ndarray, t_floor: float = 1e-12
              ) -> tuple[float, np.ndarray, float, np.ndarray] | None:
    """The last point of the crossing path of ``step`` that decreases J (module docstring).

    GSS (s, s), VS, RS, step (s, T): the support's Gram matrix, weights, residual and the
    Newton step (the point moves as VS − t·step); nrm, nrm2 (s,): ‖V_j‖ and ‖V_j‖²
    (nrm2 = Σ_t V_jt², nrm = √nrm2); J0: J at VS.

    Returns (t, V_new, J_new, nV2) with nV2 (s,) = Σ_t (V_new)_jt² (zero exactly on the rows
    that left), or None when no trial decreases J.
    """
    vd = np.add.reduce(step * VS, axis=1)                # ⟨V_j, s_j⟩
    ss = np.add.reduce(step * step, axis=1)
    tc = np.divide(nrm2, vd, out=np.full(vd.shape, np.inf), where=vd > 0)
    K = int(np.count_nonzero(tc <= 1.0))         # (tc: :func:`.structured.crossing_times`)
    order = np.argsort(tc, kind="stable")[:K] if K else None
    Gs = GSS @ step
    a, b = float(np.vdot(step, RS)), float(np.vdot(step, Gs))
    vd2 = 2.0 * vd
    if K:
        Vo, so, Go = VS[order], step[order], GSS[np.ix_(order, order)]
        Ro, Gso = RS[order], Gs[order]

    def value(t, k):
        Vn = VS - t * step
        num = t * (t * ss - vd2)
        q = t * (0.5 * t * b - a)
        if k:
            z = order[:k]
            Vn[z] = 0.0
            num[z] = -nrm2[z]
            E = t * so[:k] - Vo[:k]
            q += float(np.vdot(E, Ro[:k] - t * Gso[:k])) + 0.5 * float(np.vdot(E, Go[:k, :k] @ E))
        nV2 = np.add.reduce(Vn * Vn, axis=1)
        Jn = J0 + (q + lam * float(np.add.reduce(num / (np.sqrt(nV2) + nrm))))
        return Vn, Jn, nV2

    def halving(t):
        while t > t_floor:
            Vn, Jn, nV2 = value(t, 0)
            if Jn <= J0 + 1e-15 * abs(J0):
                return t, Vn, Jn, nV2
            t *= 0.5
        return None

    if K == 0:
        return halving(1.0)
    best, P_prev = None, J0
    for k in trial_counts(K):
        t = 1.0 if k > K else float(tc[order[k - 1]])
        if k > K and best is not None and best[0] == t:
            break                                 # the last crossing is at t = 1
        Vn, Jn, nV2 = value(t, min(k, K))
        if not Jn <= P_prev + 1e-15 * abs(P_prev):
            break
        best, P_prev = (t, Vn, Jn, nV2), Jn
    if best is None:                      # the first crossing point failed: halve from it
        return halving(0.5 * float(tc[order[0]]))
    return best
