"""The exact small solver: group / l1 lasso with squared loss on a few columns.

Given the (free-part-projected) feature columns A (n × k) of a working set and the projected
targets Ỹ (n × T), it solves

    minimize_V  P(V) = (1/(2n)) ‖Ỹ − A V‖² + λ Ω(V),     V (k × T),

Ω(V) = Σ_j ‖V_j‖₂ (``group``) or Σ_j Σ_t |V_jt| (``l1``), to a relative duality gap ``tol``.

Method (in Gram form, G = AᵀA/n, B = AᵀỸ/n): a few cyclic block-coordinate sweeps, then a
primal active-set Newton method. On the support S the objective is smooth and the
optimality system

    group:  G_SS V_S − B_S + λ V_j/‖V_j‖ = 0  (j ∈ S)
    l1:     G_SS V_S − B_S + λ sign(V_S) = 0   (a linear system per task)

is solved by Levenberg-damped Newton steps accepted only if P decreases (G_SS may be
singular: more than d+1 directions of one activation cell have dependent features); a step
is cut where a row's radial component reaches zero and that row leaves S; rows violating
‖(B − GV)_j‖_* ≤ λ enter S with a proximal step. If that does not reach ``tol`` (support
too large for dense Newton systems), block coordinate descent with Anderson extrapolation
continues. The stopping test is
the restricted duality gap, computed from the explicit residual R = Ỹ − A V:
Z = s R with s = min(λ / max_j ‖A_jᵀR/n‖_*, ⟨Ỹ,R⟩/‖R‖²) and
D(Z) = (1/n)⟨Ỹ, Z⟩ − (1/(2n))‖Z‖² (MATH.md, squared-loss dual).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor as _cho_factor
from scipy.linalg import cho_solve as _cho_solve

from ..budget import expired as _expired
from .structured import (dense_group_hessian, full_step_dropping, group_hessian_scale,
                         group_newton_solve)

__all__ = ["RestrictedLasso"]


def radial_line_search(VS, step, objective, P0, *, t_floor=1e-10):
    """Backtracking along VS − t·step for the active-set Newton methods (group rows V_j).

    The first trial step is cut where a row's radial component ⟨V_j, V_j − t s_j⟩ reaches
    zero, and that row is set exactly to 0 there (it leaves the support); then t halves
    until ``objective(V_new, t)`` is ≤ P0 up to rounding. Returns (t, V_new, P_new), or None
    when no t > ``t_floor`` decreases the objective.
    """
    nrm2 = np.sum(VS * VS, axis=1)
    a_ = np.sum(step * VS, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = np.where(a_ > 0, nrm2 / a_, np.inf)
    tmin = float(tc.min()) if tc.size else np.inf
    t = min(1.0, tmin)
    cross = int(np.argmin(tc)) if tmin <= 1.0 else -1
    while t > t_floor:
        Vn = VS - t * step
        if cross >= 0 and t == tmin:
            Vn[cross] = 0.0
        Pn = objective(Vn, t)
        if Pn <= P0 + 1e-15 * abs(P0):
            return t, Vn, Pn
        t *= 0.5
        cross = -1
    return None


class RestrictedLasso:
    """Squared-loss group/l1 lasso on the columns A (n × k) with targets Ỹ (n × T).

    Parameters
    ----------
    A : ndarray (n, k)      feature columns (already orthogonal to the free-part columns).
    Y : ndarray (n, T)      targets (already projected the same way).
    lam : float             λ > 0.
    penalty : {"group", "l1"}
    """

    #: Largest number of unknowns (support rows × T) of a Newton system, l1 penalty (one
    #: dense system per task).
    max_newton_size = 3000

    #: Largest support (rows) of the group Newton method: its systems are solved through
    #: their Kronecker structure (:mod:`.structured`) in O(s³ + s²T), so T does not count.
    max_newton_atoms = 2000

    #: Group Newton systems with more unknowns (rows × T) than this use the structured
    #: (Woodbury) solve instead of a dense factorization.
    dense_newton_size = 400

    #: Gap checks without 10% progress after which coordinate descent stops.
    patience = 30

    #: ``time.monotonic()`` value past which the Newton and coordinate-descent loops stop
    #: (None: no limit); set by the caller.
    deadline = None

    def __init__(self, A, Y, lam: float, penalty: str):
        self.A = A
        self.Y = Y
        self.n = A.shape[0]
        self.lam = float(lam)
        self.group = penalty == "group"
        self.G = (A.T @ A) / self.n
        self.B = (A.T @ Y) / self.n
        self.diag = np.diag(self.G).copy()
        self.yy = float(np.sum(Y * Y)) / self.n

    # values ------------------------------------------------------------------------
    def omega(self, V) -> float:
        if self.group:
            return float(np.sum(np.sqrt(np.sum(V * V, axis=1))))
        return float(np.sum(np.abs(V)))

    def dual_norms(self, C):
        if self.group:
            return np.sqrt(np.sum(C * C, axis=1))
        return np.max(np.abs(C), axis=1)

    def objective_gram(self, V, Gr) -> float:
        """P(V) from the Gram form (Gr = GV − B); cheap, used for accept/reject tests."""
        return (0.5 * float(np.sum(V * Gr)) - 0.5 * float(np.sum(self.B * V))
                + 0.5 * self.yy + self.lam * self.omega(V))

    def gap(self, V):
        """(primal, dual) of V from the explicit residual (accurate to rounding)."""
        R = self.Y - self.A @ V
        rr = float(np.sum(R * R)) / self.n
        primal = 0.5 * rr + self.lam * self.omega(V)
        if rr <= 0.0:
            return primal, primal
        C = (self.A.T @ R) / self.n
        S = float(self.dual_norms(C).max()) if C.shape[0] else 0.0
        yr = float(np.sum(self.Y * R)) / self.n
        smax = self.lam / S if S > 0 else np.inf
        s = min(max(yr / rr, 0.0), smax)
        dual = s * yr - 0.5 * s * s * rr
        return primal, dual

    # block coordinate descent --------------------------------------------------------
    def _epoch(self, V, Gr, rows):
        G, diag, lam, group = self.G, self.diag, self.lam, self.group
        for j in rows:
            gjj = diag[j]
            if gjj <= 1e-300:
                continue
            vj = V[j]
            z = vj - Gr[j] / gjj
            thr = lam / gjj
            if group:
                nz = math.sqrt(float(z @ z))
                new = z * (1.0 - thr / nz) if nz > thr else np.zeros_like(z)
            else:
                new = np.sign(z) * np.maximum(np.abs(z) - thr, 0.0)
            delta = new - vj
            if delta.any():
                V[j] = new
                Gr += G[:, j:j + 1] * delta

    def _anderson(self, hist):
        """Extrapolate from the last iterates (list of flattened V's); None if ill-posed."""
        X = np.array(hist)
        U = np.diff(X, axis=0)
        M = U @ U.T
        scale = float(np.trace(M))
        if not np.isfinite(scale) or scale <= 0:
            return None
        try:
            z = np.linalg.solve(M / scale + 1e-10 * np.eye(M.shape[0]), np.ones(M.shape[0]))
        except np.linalg.LinAlgError:
            return None
        c = z / z.sum()
        if not np.all(np.isfinite(c)):
            return None
        return c @ X[1:]

    # active-set Newton ----------------------------------------------------------------
    def _active_set(self, Y, V, lam, *, tol_kkt, max_newton=500):
        """Primal active-set Newton for (1/(2n))‖Y − A V‖² + λ Σ_j ‖V_j‖₂ (V k × T).

        On the support S (rows with V_j ≠ 0) the objective is smooth; damped Newton steps
        are cut where a row's radial component ⟨V_j, V_j − t s_j⟩ reaches zero, and that row
        leaves S. When Newton has converged on S, the rows with ‖(Aᵀ R)_j/n‖ > λ (KKT
        violated at V_j = 0) enter S with a proximal step. Stops when no row violates KKT
        by more than ``tol_kkt`` · λ. Returns (V, newton_steps).

        Objective values, gradients and the KKT test are computed from the explicit
        residual R = Y − A_S V_S, not from the Gram form ½VᵀGV − BᵀV + ½‖Y‖²/n: near
        interpolation (λ ≪ λ_max) P is ~1e-8 of ½‖Y‖²/n and the Gram form would lose those
        digits to cancellation, capping the reachable relative gap near 1e-8. G is used only
        in the Hessian.
        """
        A, G, n = self.A, self.G, self.n
        k, T = V.shape
        V = V.copy()
        steps = 0
        S = np.flatnonzero(np.any(V != 0, axis=1))

        def full_grad(S, VS):
            # Gr = G V − B = −Aᵀ R / n, from the explicit residual
            R = Y - A[:, S] @ VS if S.size else Y
            return -(A.T @ R) / n

        def obj(VS, AS):
            R = Y - AS @ VS
            return (0.5 * float(np.sum(R * R)) / n
                    + lam * float(np.sum(np.sqrt(np.sum(VS * VS, axis=1)))))

        Gr = full_grad(S, V[S])
        while steps < max_newton:
            # -- KKT of the rows outside S: enter the violating ones
            out = np.ones(k, dtype=bool)
            out[S] = False
            if out.any():
                go = np.sqrt(np.sum(Gr[out] ** 2, axis=1))
                cand = np.flatnonzero(out)[go > lam * (1.0 + tol_kkt)]
                if cand.size:
                    g = -Gr[cand]
                    gn = np.sqrt(np.sum(g * g, axis=1))
                    dj = np.maximum(np.diag(G)[cand], 1e-300)
                    V[cand] = g * ((gn - lam) / (gn * dj))[:, None]
                    S = np.union1d(S, cand)
                    Gr = full_grad(S, V[S])
            if S.size == 0:
                break
            # -- Newton on S
            GSS = G[np.ix_(S, S)]
            AS = A[:, S]
            VS = V[S]
            P0 = obj(VS, AS)
            while steps < max_newton and not _expired(self.deadline):
                steps += 1
                nrm = np.sqrt(np.sum(VS * VS, axis=1))
                U = VS / nrm[:, None]
                grad = -(AS.T @ (Y - AS @ VS)) / n + lam * U
                if float(np.max(np.abs(grad))) <= tol_kkt * lam:
                    break
                s_ = S.size
                c = lam / nrm
                structured = T > 1 and s_ * T > self.dense_newton_size
                if structured:
                    scale = group_hessian_scale(GSS, c, T) or 1.0
                else:
                    H = GSS.copy() if T == 1 else dense_group_hessian(GSS, U, c)
                    scale = float(np.mean(np.diag(H))) or 1.0
                    eye_h = np.eye(H.shape[0])
                # damped (Levenberg) Newton: a tiny ridge first, larger ones only when the
                # step fails (singular G_SS: dependent features of one activation cell)
                accepted = False
                for ridge in (1e-13, 1e-9, 1e-6, 1e-3, 1.0):
                    try:
                        if structured:
                            step = group_newton_solve(GSS, U, c, grad, ridge * scale)
                        else:
                            Hr = H + (ridge * scale) * eye_h
                            if Hr.shape[0] > 150:
                                step = _cho_solve(_cho_factor(Hr, check_finite=False),
                                                  grad.ravel(), check_finite=False)
                            else:
                                step = np.linalg.solve(Hr, grad.ravel())
                            step = step.reshape(s_, T)
                    except np.linalg.LinAlgError:
                        continue
                    found = full_step_dropping(VS, step, lambda Vn: obj(Vn, AS), P0)
                    if found is None:
                        found = radial_line_search(VS, step, lambda Vn, t_: obj(Vn, AS), P0)
                    if found is not None:
                        t, Vn, Pn = found
                        accepted = True
                        break
                if not accepted:
                    break
                dec = P0 - Pn
                VS, P0 = Vn, Pn
                zero = ~np.any(VS != 0, axis=1)
                if zero.any():
                    V[S] = VS
                    S = S[~zero]
                    VS = VS[~zero]
                    GSS = G[np.ix_(S, S)]
                    AS = A[:, S]
                    if S.size == 0:
                        break
                    continue
                if dec <= 0.0 and \
                        float(np.max(np.abs(t * step))) <= 1e-15 * max(1.0, float(np.max(np.abs(VS)))):
                    break
            V[:] = 0.0
            if S.size:
                V[S] = VS
            Gr = full_grad(S, V[S])
            out = np.ones(k, dtype=bool)
            out[S] = False
            if not out.any():
                break
            go = np.sqrt(np.sum(Gr[out] ** 2, axis=1))
            if not np.any(go > lam * (1.0 + tol_kkt)):
                break
        return V, steps

    def _obj_support_group(self, VS, GSS, BS):
        return (0.5 * float(np.sum(VS * (GSS @ VS))) - float(np.sum(BS * VS))
                + self.lam * float(np.sum(np.sqrt(np.sum(VS * VS, axis=1)))))

    # driver ----------------------------------------------------------------------------
    def solve(self, V0=None, *, tol=1e-10, max_epochs=20000, check_every=10,
              anderson=5, newton=True, warmup=5):
        """Minimize P from ``V0`` (k × T) until the restricted relative gap is ≤ ``tol``.

        First the active-set Newton method (exact on small supports); if its gap is not
        below ``tol`` (e.g. support too large for dense Newton systems), block coordinate
        descent with Anderson extrapolation continues from its point.

        Returns
        -------
        V : ndarray (k, T);  info : dict with epochs, rel_gap, newton (Newton steps).
        """
        k, T = self.B.shape
        V = np.zeros((k, T)) if V0 is None else np.array(V0, dtype=float)
        if k == 0:
            return V, dict(epochs=0, rel_gap=0.0, newton=0)
        n_newton = 0
        rel = np.inf
        if newton and warmup:
            # a few cheap coordinate sweeps first: they settle which new rows enter and which
            # leave, so that the Newton phase starts near its final support
            Gr = self.G @ V - self.B
            for _ in range(warmup):
                self._epoch(V, Gr, range(k))
        if newton:
            for rounds in range(10):
                if _expired(self.deadline):
                    break
                V, steps = self._newton_all(V, tol_kkt=max(tol, 1e-13))
                n_newton += steps
                primal, dual = self.gap(V)
                rel_new = (primal - dual) / max(abs(primal), 1e-300)
                if rel_new <= tol:
                    return V, dict(epochs=0, rel_gap=rel_new, newton=n_newton)
                if steps == 0 or rel_new >= 0.5 * rel:
                    rel = rel_new
                    break
                rel = rel_new
        V, epochs, rel = self._bcd(V, tol, max_epochs, check_every, anderson)
        return V, dict(epochs=epochs, rel_gap=rel, newton=n_newton)

    def _newton_all(self, V, tol_kkt):
        size = int(np.count_nonzero(np.any(V != 0, axis=1)))
        if self.group:
            if size > self.max_newton_atoms:
                return V, 0
            return self._active_set(self.Y, V, self.lam, tol_kkt=tol_kkt)
        out = V.copy()
        steps = 0
        for t in range(V.shape[1]):
            vt, st = self._active_set(self.Y[:, t:t + 1], V[:, t:t + 1], self.lam,
                                      tol_kkt=tol_kkt)
            out[:, t:t + 1] = vt
            steps += st
        return out, steps

    def _bcd(self, V, tol, max_epochs, check_every, anderson):
        k, T = V.shape
        Gr = self.G @ V - self.B
        all_rows = range(k)
        hist = []
        epochs = 0
        rel = np.inf
        best, since = np.inf, 0
        while epochs < max_epochs and not _expired(self.deadline):
            # full sweeps every `check_every` epochs, support-only sweeps in between
            for e in range(check_every):
                if e == 0:
                    rows = all_rows
                else:
                    rows = np.flatnonzero(np.any(V != 0, axis=1))
                self._epoch(V, Gr, rows)
                epochs += 1
                if anderson:
                    hist.append(V.ravel().copy())
                    if len(hist) == anderson + 1:
                        Vx = self._anderson(hist)
                        hist = []
                        if Vx is not None:
                            Vx = Vx.reshape(k, T)
                            Grx = self.G @ Vx - self.B
                            if self.objective_gram(Vx, Grx) < self.objective_gram(V, Gr):
                                V, Gr = Vx, Grx
            primal, dual = self.gap(V)
            rel = (primal - dual) / max(abs(primal), 1e-300)
            if rel <= tol:
                break
            # stagnation: no 10% progress over `patience` checks (ill-conditioned Gram
            # matrices near interpolation); the caller's full-grid certificate decides
            if rel < 0.9 * best:
                best, since = rel, 0
            else:
                since += 1
                if since >= self.patience:
                    break
        return V, epochs, rel
