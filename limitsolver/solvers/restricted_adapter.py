"""The restricted solve behind one call, for the working-set loop.

:func:`solve_restricted` minimizes, over the weights V (k × T) of the columns A (n × k) and
the free-part coefficients C (p × T) of the columns F (n × p),

    P(V, C) = L(A V + F C) + λ Ω(V),

for any smooth loss of :mod:`limitsolver.losses` and either penalty. Quadratic losses go
to :class:`~limitsolver.solvers.restricted.RestrictedLasso` (the free part eliminated by a
projection), the logistic loss to
:class:`~limitsolver.solvers.logistic.RestrictedLogistic`, and every other smooth loss to
:func:`support_newton`, an active-set Newton method written against the loss protocol
(``gradient``, ``hessian_blocks``) and the penalty protocol (``support``, ``prox``,
``gradient``, ``hessian_blocks``).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..budget import expired
from ..losses import LogisticLoss
from .restricted import RestrictedLasso, radial_line_search

__all__ = ["solve_restricted", "support_newton", "restricted_gap"]


def _project(F, Z):
    """Z minus its least-squares fit by the columns F (twice, for accuracy)."""
    if F.shape[1] == 0:
        return Z
    for _ in range(2):
        Z = Z - F @ np.linalg.lstsq(F, Z, rcond=None)[0]
    return Z


def restricted_gap(A, Y, lam, loss, penalty, F, V, C) -> float:
    """Relative duality gap of (V, C) on the restricted problem.

    The dual candidate is the generalized residual Z of the point, projected orthogonally
    to F and scaled by ``loss.scale_dual`` into {max_j ‖A_jᵀZ/n‖_* ≤ λ}; the gap is
    (P − D(sZ)) / |P| (1.0 when the scaled candidate is not dual feasible).
    """
    n = A.shape[0]
    pred = A @ V + F @ C
    primal = loss.value(pred, Y) + lam * penalty.value(V)
    Z = _project(F, loss.residual(pred, Y))
    S = float(penalty.dual_norms(A.T @ Z / n).max()) if A.shape[1] else 0.0
    s = loss.scale_dual(Z, Y, lam / S if S > 0 else 1.0)
    if not loss.dual_feasible(s * Z, Y):
        return 1.0
    dual = loss.dual_value(s * Z, Y)
    return float((primal - dual) / max(abs(primal), 1e-300))


def solve_restricted(A, Y, lam, loss, penalty, *, F=None, V0=None, C0=None, tol=1e-10,
                     max_epochs=50000, deadline=None, fixed_support=False):
    """Minimize L(A V + F C) + λ Ω(V) over V (k × T) and C (p × T).

    Parameters
    ----------
    A : ndarray (n, k);  Y : ndarray (n, T);  lam : float > 0
    loss, penalty : classes of :mod:`limitsolver.losses` / :mod:`limitsolver.penalties`
    F : ndarray (n, p) or None (no free part)
    V0, C0 : warm start (zeros by default)
    tol : float
        Target restricted relative duality gap (squared loss) or KKT tolerance relative to
        λ (Newton methods).
    deadline : ``time.monotonic()`` value or None
    fixed_support : bool
        Only the rows nonzero in V0 may become nonzero.

    Returns
    -------
    V (k × T), C (p × T), info dict with ``epochs``, ``newton``, ``rel_gap``, ``converged``.
    """
    n, k = A.shape
    T = Y.shape[1]
    F = np.zeros((n, 0)) if F is None else F
    V = np.zeros((k, T)) if V0 is None else np.array(V0, dtype=float)
    C = np.zeros((F.shape[1], T)) if C0 is None else np.array(C0, dtype=float)
    if fixed_support:
        rows = np.flatnonzero(np.any(V != 0, axis=1))
        Vr, C, info = solve_restricted(A[:, rows], Y, lam, loss, penalty, F=F, V0=V[rows],
                                       C0=C, tol=tol, max_epochs=max_epochs,
                                       deadline=deadline)
        V[:] = 0.0
        V[rows] = Vr
        return V, C, info
    if loss.quadratic:
        sub = RestrictedLasso(_project(F, A), _project(F, Y), lam, penalty.name)
        sub.deadline = deadline
        V, inf = sub.solve(V, tol=tol, max_epochs=max_epochs)
        C = (np.linalg.lstsq(F, Y - A @ V, rcond=None)[0] if F.shape[1]
             else np.zeros((0, T)))
        return V, C, dict(epochs=inf["epochs"], newton=inf["newton"],
                          rel_gap=float(inf["rel_gap"]), converged=inf["rel_gap"] <= tol)
    tol_kkt = min(1e-10, 0.2 * tol)
    if loss is LogisticLoss:
        from .logistic import RestrictedLogistic
        sub = RestrictedLogistic(A, F, Y, lam, penalty.name)
        sub.deadline = deadline
        V, C, steps, ok = sub.solve(V, C, tol_kkt=tol_kkt)
    else:
        V, C, steps, ok = support_newton(A, Y, lam, loss, penalty, F, V, C,
                                         tol_kkt=tol_kkt, deadline=deadline)
    rel = restricted_gap(A, Y, lam, loss, penalty, F, V, C)
    return V, C, dict(epochs=0, newton=steps, rel_gap=rel, converged=bool(ok))


def _enter(c, mask, lam, curv, penalty, tol_kkt):
    """Proximal step of the entries outside the support whose KKT condition fails.

    c = AᵀZ/n (k × T) are the correlations, ``curv`` (k,) a curvature per row. An entry off
    the support violates its condition when the prox of c/curv at the threshold
    λ(1 + tol_kkt)/curv is nonzero there; it enters at the prox with threshold λ/curv.
    Returns the step (k × T, zero on the support) and whether any entry enters.
    """
    out = np.where(mask, 0.0, c) / curv[:, None]
    with np.errstate(over="ignore", divide="ignore"):   # zero rows: threshold/0 → no entry
        hit = (penalty.prox(out, (lam * (1.0 + tol_kkt) / curv)[:, None]) != 0) & ~mask
        if not hit.any():
            return None
        return np.where(hit, penalty.prox(out, (lam / curv)[:, None]), 0.0)


def _newton_step(B, Hb, grad, free, pen_blocks, n):
    """Solve the damped Newton system on the free entries; None if every ridge fails.

    B = [A_S F] (n × m), Hb the per-sample loss Hessians (n × T × T), grad (m × T),
    ``free`` the (m × T) mask of unknowns, ``pen_blocks`` λ∇²Ω per support row (s × T × T).
    """
    m, T = grad.shape
    H4 = np.einsum("ia,its,ib->atbs", B, Hb, B, optimize=True) / n
    s_ = pen_blocks.shape[0]
    ar = np.arange(s_)
    H4[ar, :, ar, :] += pen_blocks
    idx = np.flatnonzero(free.ravel())
    H = H4.reshape(m * T, m * T)[np.ix_(idx, idx)]
    g = grad.ravel()[idx]
    scale = float(np.mean(np.diag(H))) if idx.size else 1.0
    scale = scale if scale > 0 else 1.0
    for ridge in (1e-14, 1e-10, 1e-7, 1e-4, 1e-2, 1.0, 1e2):
        try:
            x = cho_solve(cho_factor(H + ridge * scale * np.eye(idx.size), check_finite=False),
                          g, check_finite=False)
        except np.linalg.LinAlgError:
            continue
        step = np.zeros(m * T)
        step[idx] = x
        yield step.reshape(m, T)


def _projected_search(U, SU, objective, P0, tries=30):
    """Backtracking along U − t·SU where every unit (row of U) whose radial component
    ⟨U_j, U_j − t SU_j⟩ turns non-positive is set to 0; the first t = 1, 1/2, … that
    decreases ``objective(U_new, t)`` below P0 wins. Returns (t, U_new, P_new) or None."""
    t = 1.0
    for _ in range(tries):
        Un = U - t * SU
        Un[np.sum(Un * U, axis=1) <= 0.0] = 0.0
        Pn = objective(Un, t)
        if Pn < P0:
            return t, Un, Pn
        t *= 0.5
    return None


def support_newton(A, Y, lam, loss, penalty, F, V, C, *, tol_kkt=1e-10, deadline=None,
                   max_newton=300):
    """Active-set Newton method on (V_S, C) for any smooth loss and either penalty.

    Each iteration: entries off the support whose KKT condition fails enter by a proximal
    step (backtracked until P decreases); then one damped Newton step on the support
    entries and C, with the Hessian Bᵀ(∇²ℓ_i)B/n (B = [A_S F], per-sample blocks from
    ``loss.hessian_blocks``) plus λ∇²Ω on each support row, cut where a unit of the penalty
    (a row for the group penalty, an entry for l1: what ``penalty.support`` frees together)
    crosses zero. Stops when the gradient on the unknowns is ≤ ``tol_kkt``·λ and nothing
    enters. Returns (V, C, newton_steps, converged).
    """
    n, k = A.shape
    T = Y.shape[1]
    p = F.shape[1]
    probe = np.zeros((1, T + 1))
    probe[0, 0] = 1.0
    row_units = bool(penalty.support(probe)[0, -1])

    def value(VV, CC):
        return loss.value(A @ VV + F @ CC, Y) + lam * penalty.value(VV)

    steps, converged = 0, False
    P0 = value(V, C)
    while steps < max_newton and not expired(deadline):
        pred = A @ V + F @ C
        c = -(A.T @ loss.gradient(pred, Y))
        mask = penalty.support(V)
        Hb = loss.hessian_blocks(pred, Y)
        hdiag = np.einsum("itt->it", Hb).mean(axis=1)
        curv = np.maximum((A * A).T @ hdiag / n, 1e-12)
        delta = _enter(c, mask, lam, curv, penalty, tol_kkt) if k else None
        if delta is not None:
            a = 1.0
            while a > 1e-12 and value(V + a * delta, C) >= P0:
                a *= 0.25
            V = V + a * delta
            P0 = value(V, C)
            continue
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0 and p == 0:
            converged = True
            break
        VS = V[rows]
        B = np.hstack([A[:, rows], F])
        grad = np.vstack([-c[rows] + lam * penalty.gradient(VS) * mask[rows],
                          F.T @ loss.gradient(pred, Y)])
        free = np.vstack([mask[rows], np.ones((p, T), dtype=bool)])
        if float(np.max(np.abs(grad[free]), initial=0.0)) <= tol_kkt * lam:
            converged = True
            break
        steps += 1
        found = None
        for step in _newton_step(B, Hb, grad, free, lam * penalty.hessian_blocks(VS), n):
            sV, sC = step[:rows.size], step[rows.size:]
            U, SU = (VS, sV) if row_units else (VS.reshape(-1, 1), sV.reshape(-1, 1))

            def trial(Un, t, sC=sC):
                Vt = V.copy()
                Vt[rows] = Un.reshape(VS.shape)
                return value(Vt, C - t * sC)

            found = _projected_search(U, SU, trial, P0)
            if found is None:
                found = radial_line_search(U, SU, trial, P0, t_floor=1e-12)
            if found is not None:
                t, Un, Pn = found
                break
        if found is None:
            break                     # no damped step decreases P: not converged
        small = float(np.max(np.abs(t * step))) <= 1e-15 * max(1.0, float(np.max(np.abs(V))))
        V = V.copy()
        V[rows] = Un.reshape(VS.shape)
        C = C - t * sC
        dec, P0 = P0 - Pn, Pn
        if dec <= 0.0 and small:
            converged = True
            break
    return V, C, steps, converged
