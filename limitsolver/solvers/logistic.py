"""The restricted logistic problem: an exact active-set Newton solver on a working set.

It solves, on the columns A of a working set and the free columns F,

    minimize_{V, C}  (1/n) Σ_{i,t} log(1 + exp(−y_it f_it)) + λ Ω(V),   f = A V + F C,

labels y_it ∈ {−1, +1}, Ω the group or l1 penalty. The generalized residual
Z = Y∘σ(−Y∘f) (n × T) gives the gradient −AᵀZ/n.

The restricted problem is smooth on the support S (rows with V_j ≠ 0) and is solved by an
active-set Newton method on (V_S, C) jointly: the Hessian is, per task, Bᵀ diag(σ(m)σ(−m)/n) B
with B = [A_S F], plus λ (I − u_j u_jᵀ)/‖V_j‖ on each row's task block (group; u_j = V_j/‖V_j‖);
steps are Levenberg-damped where that matrix is singular, accepted only if the objective
decreases, and cut where a row's radial component reaches zero (that row leaves S). Rows with
‖c_j‖_* > λ enter S by a proximal step. The l1 penalty separates the tasks: the same method
runs per task with T = 1 (where u_j = sign V_j and the penalty has no curvature).

The outer loop is :mod:`limitsolver.solvers.working_set`.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from ..budget import expired as _expired
from ..losses import LogisticLoss
from .restricted import radial_line_search

__all__ = ["RestrictedLogistic"]


class RestrictedLogistic:
    """Logistic group/l1 lasso on the columns A (n × k) with free columns F (n × p).

    Parameters
    ----------
    A : ndarray (n, k);  F : ndarray (n, p);  Y : ndarray (n, T) of ±1
    lam : float > 0;  penalty : {"group", "l1"}
    """

    #: Largest Newton system ((|S| + p) · T unknowns) solved densely.
    max_newton_size = 4000
    #: ``time.monotonic()`` value past which the Newton loop stops (None: no limit).
    deadline = None

    def __init__(self, A, F, Y, lam: float, penalty: str):
        self.A, self.F, self.Y = A, F, Y
        self.n = A.shape[0]
        self.lam = float(lam)
        self.group = penalty == "group"

    def objective(self, V, C) -> float:
        f = self.A @ V + self.F @ C
        if self.group:
            om = float(np.sum(np.sqrt(np.sum(V * V, axis=1))))
        else:
            om = float(np.sum(np.abs(V)))
        return LogisticLoss.value(f, self.Y) + self.lam * om

    def solve(self, V0, C0, *, tol_kkt=1e-12, max_newton=300):
        """Minimize from (V0, C0); returns (V, C, newton_steps, converged)."""
        if self.group:
            return self._active_set(self.A, self.F, self.Y, V0, C0, tol_kkt, max_newton)
        V, C = np.array(V0, dtype=float), np.array(C0, dtype=float)
        steps, ok = 0, True
        for t in range(self.Y.shape[1]):
            vt, ct, st, okt = self._active_set(self.A, self.F, self.Y[:, t:t + 1],
                                               V[:, t:t + 1], C[:, t:t + 1], tol_kkt,
                                               max_newton)
            V[:, t:t + 1], C[:, t:t + 1] = vt, ct
            steps += st
            ok = ok and okt
        return V, C, steps, ok

    def _active_set(self, A, F, Y, V0, C0, tol_kkt, max_newton):
        n, lam = self.n, self.lam
        k, T = V0.shape
        p = F.shape[1]
        V, C = np.array(V0, dtype=float), np.array(C0, dtype=float)
        S = np.flatnonzero(np.any(V != 0, axis=1))
        steps, converged = 0, False

        def value(VS, Cc, AS):
            f = AS @ VS + F @ Cc
            return (LogisticLoss.value(f, Y)
                    + lam * float(np.sum(np.sqrt(np.sum(VS * VS, axis=1)))))


        while steps < max_newton:
            # -- rows outside S that violate KKT enter with a proximal step
            AS = A[:, S]
            marg = Y * (AS @ V[S] + F @ C)
            Z = Y * expit(-marg)                  # LogisticLoss.residual, margins reused below
            out = np.ones(k, dtype=bool)
            out[S] = False
            entered = False
            if out.any():
                g = (A[:, out].T @ Z) / n
                gn = np.sqrt(np.sum(g * g, axis=1))
                hit = gn > lam * (1.0 + tol_kkt)
                if hit.any():
                    rows = np.flatnonzero(out)[hit]
                    w = expit(marg) * expit(-marg)
                    curv = np.maximum((A[:, rows] ** 2).T @ w.mean(axis=1) / n, 1e-12)
                    gh = g[hit]
                    ghn = gn[hit]
                    delta = gh * ((ghn - lam) / (ghn * curv))[:, None]
                    # the proximal steps of all entering rows together may overshoot:
                    # backtrack until the objective decreases (it does for small steps,
                    # since every entering row violates its KKT condition)
                    S_new = np.union1d(S, rows)
                    P_old = value(V[S], C, AS)
                    a = 1.0
                    while a > 1e-12:
                        Vt = V.copy()
                        Vt[rows] = a * delta
                        if value(Vt[S_new], C, A[:, S_new]) < P_old:
                            break
                        a *= 0.25
                    V[rows] = a * delta
                    S = S_new
                    entered = True
            if converged and not entered:
                break
            if S.size == 0 and p == 0:
                converged = True
                break
            if (S.size + p) * T > self.max_newton_size:
                return V, C, steps, False
            # -- Newton on (V_S, C)
            AS = A[:, S]
            B = np.hstack([AS, F])
            s_, m = S.size, S.size + p
            VS = V[S]
            P0 = value(VS, C, AS)
            converged = False
            while steps < max_newton and not _expired(self.deadline):
                steps += 1
                marg = Y * (AS @ VS + F @ C)
                sig = expit(-marg)
                Z = Y * sig
                nrm = np.sqrt(np.sum(VS * VS, axis=1))
                U = VS / np.maximum(nrm, 1e-300)[:, None]
                grad = np.zeros((m, T))
                grad[:] = -(B.T @ Z) / n
                grad[:s_] += lam * U
                if float(np.max(np.abs(grad), initial=0.0)) <= tol_kkt * lam:
                    converged = True
                    break
                h = sig * expit(marg) / n                  # (n, T) loss curvature in f
                H = np.zeros((T, m, T, m))
                for t in range(T):
                    H[t, :, t, :] = (B.T * h[:, t]) @ B
                if s_ and T > 1:
                    ar = np.arange(s_)
                    blk = (np.eye(T)[None] - U[:, :, None] * U[:, None, :]) \
                        * (lam / nrm)[:, None, None]       # (s_, T, T)
                    H[:, ar, :, ar] += blk                  # fancy index: (s_, T, T) block
                H = H.reshape(T * m, T * m)
                gvec = grad.T.ravel()                        # (t, i) ordering
                scale = float(np.mean(np.diag(H))) or 1.0
                accepted = False
                for ridge in (1e-14, 1e-10, 1e-7, 1e-4, 1e-1):
                    Hr = H + (ridge * scale) * np.eye(T * m)
                    try:
                        step = cho_solve(cho_factor(Hr, check_finite=False), gvec,
                                         check_finite=False)
                    except np.linalg.LinAlgError:
                        continue
                    step = step.reshape(T, m).T                  # (m, T)
                    sV, sC = step[:s_], step[s_:]
                    found = radial_line_search(
                        VS, sV, lambda Vn, t: value(Vn, C - t * sC, AS), P0, t_floor=1e-12)
                    if found is not None:
                        t_, Vn, Pn = found
                        Cn = C - t_ * sC
                        accepted = True
                        break
                if not accepted:
                    converged = True
                    break
                dec = P0 - Pn
                VS, C, P0 = Vn, Cn, Pn
                zero = ~np.any(VS != 0, axis=1)
                if zero.any():
                    V[S] = VS
                    S, VS = S[~zero], VS[~zero]
                    AS = A[:, S]
                    B = np.hstack([AS, F])
                    s_, m = S.size, S.size + p
                    continue
                if dec <= 0.0 and float(np.max(np.abs(t_ * step))) <= \
                        1e-15 * max(1.0, float(np.max(np.abs(VS), initial=0.0))):
                    converged = True
                    break
            V[:] = 0.0
            if S.size:
                V[S] = VS
            if not converged:
                break
            # loop once more: new violators enter, or the outer test ends it
        return V, C, steps, converged
