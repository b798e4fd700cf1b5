"""The support-Newton method of a quadratic loss in Gram form: every step in k-space.

For a quadratic loss with its free part eliminated (:func:`.support_newton.solve_restricted`)
the restricted problem on k columns is

    minimize_V  J(V) = Q(V) + λ Σ_j ‖V_j‖₂,     Q(V) = ½⟨V, G V⟩ − ⟨B, V⟩ + q₀,

G (k × k) positive semidefinite, B (k × T), ∇Q(V) = R = G V − B. (The l1 penalty with
T > 1 separates into T such problems with T = 1, where ‖·‖₂ of a row is |·|.) Nothing here
touches the n samples: the Newton systems (G_SS ⊗ I_T plus the penalty's blocks,
:mod:`.structured`), the entering test ‖R_j‖ > λ(1 + tol_kkt) and the objective along a
step are all in terms of G, B and V, so a step costs O(s²T + s³) instead of O(n s T).

The objective along a step is evaluated as a difference from the current point, which is
exact up to rounding of the small terms: for V_S → V_S + D on the support S,

    J(V + D) − J(V) = ⟨D, R_S⟩ + ½⟨D, G_SS D⟩ + λ Σ_{j∈S} (‖V_j + D_j‖ − ‖V_j‖)

(Q is quadratic, so this is an identity), instead of a difference of two values of J of
size ~‖Y‖²/n. A step is accepted when the difference is ≤ 0 up to the rounding slack
1e-15·|J| (the crossing path of :mod:`.linesearch`, its trials in closed form by
:func:`.gram_path.gram_path`), and Newton on a support stops when the KKT
residual max |R_S + λ u_S| ≤ tol_kkt·λ (u_j = V_j/‖V_j‖) or when no step decreases J.

Rows enter (``entering``) as in the generic method: each violator off the support takes
its exact row minimizer prox_{λ/G_jj}(−R_j/G_jj) (coordinate descent's step), all at once,
and Newton follows. :func:`gram_active_set` repeats entering and Newton until nothing
violates; the caller's restricted duality gap (with the explicit residual) decides.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Iterator

import numpy as np

from ..budget import expired
from .gram_path import gram_path
from .restricted import DENSE_NEWTON_SIZE, ridge_ladder, system_too_large, woodbury_ladder
from .structured import dense_group_hessian

__all__ = ["gram_active_set", "gram_round", "gram_newton_steps", "gram_too_large"]


def _row_norms(V: np.ndarray) -> np.ndarray:
    return np.sqrt(np.add.reduce(V * V, axis=1))


def gram_too_large(s: int, T: int) -> bool:
    """Whether a support of s rows is too large for Newton systems (the rule of
    :meth:`.restricted.SupportModel.too_large`, no free part)."""
    return system_too_large(s, s * T, T > 1 and s * T > DENSE_NEWTON_SIZE)


def gram_newton_steps(GSS: np.ndarray, VS: np.ndarray, lam: float,
                      grad: np.ndarray, nrm: np.ndarray | None = None,
                      U: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Levenberg-damped Newton steps (H + ρ I)⁻¹ ∇J (s × T) on a support, for the ridges
    ρ of :data:`.restricted.LEVENBERG` relative to mean(diag H), in turn.

    H = G_SS ⊗ I_T + ⊕_j c_j (I_T − u_j u_jᵀ), c_j = λ/‖V_j‖, u_j = V_j/‖V_j‖: formed
    densely up to :data:`.restricted.DENSE_NEWTON_SIZE` unknowns (and for T = 1, where the
    blocks vanish and H = G_SS), else solved by the Woodbury route of :mod:`.structured`
    with one factorization of G_SS + diag(c) + ρI for all T columns. ``nrm`` (the row
    norms ‖V_j‖) and ``U`` (the unit rows u_j), when the caller has them.
    """
    s_, T = VS.shape
    if T > 1 and s_ * T > DENSE_NEWTON_SIZE:
        yield from woodbury_ladder(GSS, VS, lam, grad, nrm, U)
        return
    if T == 1:
        H = GSS.copy()
    else:
        nrm = _row_norms(VS) if nrm is None else nrm
        H = dense_group_hessian(GSS, VS / nrm[:, None] if U is None else U, lam / nrm)
    for x in ridge_ladder(H, grad.ravel()):
        yield x.reshape(s_, T)


def _tiny(step: np.ndarray, VS: np.ndarray) -> bool:
    """max |step| ≤ 1e-15 · max(1, |V_S|): a step at rounding level."""
    size = max(1.0, float(np.max(np.abs(VS), initial=0.0)))
    return float(np.max(np.abs(step), initial=0.0)) <= 1e-15 * size


def _newton(G: np.ndarray, B: np.ndarray, lam: float, V: np.ndarray, ctl: Any,
            q0: float) -> bool:
    """Damped Newton on the support of V (in place); True when the KKT test (or no step
    decreasing J) ends it, False at the step limit or the deadline. ``q0``: J(0).

    The line search is :func:`.gram_path.gram_path` (the crossing path with its trial
    values in closed form); the row norms of the point it returns are those of the next
    step."""
    S = np.flatnonzero(np.any(V != 0, axis=1))
    GSS, VS, BS = G[np.ix_(S, S)], V[S], B[S]
    RS = GSS @ VS - BS
    nrm2 = np.add.reduce(VS * VS, axis=1)
    while S.size and ctl.steps < ctl.max_newton and not expired(ctl.deadline):
        ctl.steps += 1
        nrm = np.sqrt(nrm2)
        U = VS / nrm[:, None]
        grad = RS + lam * U
        if float(np.abs(grad).max()) <= ctl.tol_kkt * ctl.kkt_scale:
            V[S] = VS
            return True
        # J at V (the acceptance test's scale, as the generic method's value of J); the
        # trial values are J0 + (J(V + D) − J(V)), the difference evaluated exactly
        J0 = q0 + 0.5 * float(np.vdot(VS, RS - BS)) + lam * float(nrm.sum())
        found, step = None, None
        for step in gram_newton_steps(GSS, VS, lam, grad, nrm, U):
            found = gram_path(GSS, VS, RS, nrm, nrm2, lam, J0, step)
            if found is not None:
                break
        if found is None:                      # no step decreases J: optimal to rounding
            V[S] = VS
            return True
        t, Vn, Jn, nrm2 = found
        keep = nrm2 > 0
        if not keep.all():                     # rows left the support
            Vn[~keep] = 0.0
            V[S] = Vn
            S, Vn, BS, nrm2 = S[keep], Vn[keep], BS[keep], nrm2[keep]
            GSS = GSS[np.ix_(keep, keep)]
        elif J0 - Jn <= 0.0 and _tiny(t * step, VS):
            V[S] = Vn
            return True
        VS = Vn
        RS = GSS @ VS - BS
    V[S] = VS
    return not S.size


def _enter(G: np.ndarray, B: np.ndarray, lam: float, V: np.ndarray, penalty: type,
           tol_kkt: float) -> bool:
    """Every violator off the support takes its row minimizer (in place); whether any did."""
    on = np.any(V != 0, axis=1)
    S = np.flatnonzero(on)
    off = np.flatnonzero(~on)
    if not off.size:
        return False
    R_off = G[np.ix_(off, S)] @ V[S] - B[off] if S.size else -B[off]
    hit = np.any(penalty.prox(-R_off, lam * (1.0 + tol_kkt)) != 0, axis=1)
    if not hit.any():
        return False
    rows = off[hit]
    d = np.maximum(np.diag(G)[rows], 1e-300)[:, None]
    V[rows] = penalty.prox(-R_off[hit] / d, lam / d)
    return bool(np.any(V[rows]))


def gram_active_set(G: np.ndarray, B: np.ndarray, lam: float, penalty: type,
                    V: np.ndarray, ctl: Any, entering: bool = True,
                    q0: float = 0.0) -> tuple[np.ndarray, bool]:
    """Enter violators, Newton on the support, until nothing violates (module docstring).

    G : (k, k);  B : (k, T);  V : (k, T) start (copied);  penalty : the group penalty, or
    any penalty when T = 1;  ctl : the caller's control (``tol_kkt``, ``kkt_scale``,
    ``max_newton``, ``deadline``, counters ``steps`` and ``too_large``);  q0 : J(0) = q₀,
    which sets the scale of the line search's rounding slack (1e-15·|J|).
    Returns (V, converged).
    """
    V = np.array(V, dtype=float)
    T = V.shape[1]
    converged = False
    while True:
        entered = entering and _enter(G, B, lam, V, penalty, ctl.tol_kkt)
        if converged and not entered:
            return V, True
        s_ = int(np.count_nonzero(np.any(V != 0, axis=1)))
        if s_ == 0:
            return V, True
        if gram_too_large(s_, T):
            ctl.too_large = True
            return V, False
        converged = _newton(G, B, lam, V, ctl, q0)
        if not converged or not entering or ctl.steps >= ctl.max_newton:
            return V, converged


def gram_round(G: np.ndarray, B: np.ndarray, lam: float, penalty: type, ctl: Any,
               rowwise: bool, q0: np.ndarray, *, entering: bool) -> Callable:
    """One round of :func:`.support_newton._rounds` in Gram form (:func:`gram_active_set`):
    a callable (V, C) -> (V, C, converged);
    the l1 penalty with T > 1 (not ``rowwise``) task by task. ``q0``: J(0), per task (T,)
    or its total (1,) (``rowwise``; the sum is used)."""
    def active(V, C):
        if rowwise:
            V, ok = gram_active_set(G, B, lam, penalty, V, ctl, entering, float(q0.sum()))
            return V, C, ok
        V, ok = np.array(V, dtype=float), True
        for t in range(V.shape[1]):
            vt, okt = gram_active_set(G, B[:, t:t + 1], lam, penalty, V[:, t:t + 1], ctl,
                                      entering, float(q0[t]))
            V[:, t:t + 1] = vt
            ok = ok and okt
        return V, C, ok
    return active
