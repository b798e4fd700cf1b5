"""The native solver for the logistic loss: working set with an exact Newton solver inside.

It solves the logistic grid problem (MATH.md)

    minimize_{V, C}  (1/n) Σ_{i,t} log(1 + exp(−y_it f_it)) + λ Ω(V),   f = Φ V + F C,

labels y_it ∈ {−1, +1}, Ω the group or l1 penalty, for every bias/free option. The
generalized residual Z = Y∘σ(−Y∘f) (n × T) plays the part the residual plays for the squared
loss: −Z/n is the gradient of the loss in f, the correlations c_j = Φ_jᵀZ/n price the
directions, and Z·min(1, λ/max_j ‖c_j‖_*) is dual feasible (MATH.md, logistic dual).

One pass: price every direction with Z, certify the point on the full grid
(:func:`limitsolver.certificate.certify`), stop when the certified relative gap is ≤ tol;
otherwise add the most violating directions (at most one per activation pattern, as the
squared-loss solver does) to the support and solve the restricted problem on that working set
with :func:`~limitsolver.solvers.support_newton.solve_restricted`.

The restricted problem is smooth on the support S (rows with V_j ≠ 0) and is solved by the
support-Newton method on (V_S, C) jointly (per task for the l1 penalty), shared with every
other loss (:mod:`limitsolver.solvers.support_newton`).

Unlike interior-point conic solvers, the Newton method works on the exact objective, so near
separable data (λ ≪ λ_max, where the loss is ~λ·Ω and the weights are large) it still reaches
relative gaps of 1e-10.
"""
from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np

from ..budget import expired as _expired
from ..certificate import project_free, certify, fit_free_part
from ..losses import LogisticLoss
from ..penalties import get_penalty
from .base import SolverResult
from .native import support_dual_retry
from .support_newton import solve_restricted

__all__ = ["solve_native_logistic"]


def solve_native_logistic(problem, dirs, *, tol, warm_start, verbose, opts, pricer,
                          pick, warm_rows, blas=nullcontext, deadline=None) -> SolverResult:
    """Working-set method for the logistic loss (module docstring). Called by
    :func:`limitsolver.solvers.native.solve_native`, which validates the options and builds
    the pricer; ``pick(cand, scores, n_add)`` chooses violators, ``warm_rows`` maps a warm
    start to grid rows, ``blas()`` is the context that limits BLAS threads in the small
    Newton systems (threaded BLAS on them is many times slower on a loaded machine).
    ``deadline`` (``time.monotonic()`` value) is checked once per pricing pass and inside
    the restricted Newton loop; past it the current point is returned, ``info["timed_out"]``."""
    t_start = time.perf_counter()
    n, T, M = problem.n, problem.T, dirs.shape[0]
    lam = problem.lam
    pen = get_penalty(problem.penalty)
    Y, F = problem.Y, problem.F
    W, VW = warm_rows(warm_start, dirs, T)
    PhiW = pricer.columns(W) if W.size else np.zeros((n, 0))
    C = fit_free_part(problem, PhiW @ VW if W.size else np.zeros((n, T)))
    tol_kkt = min(1e-10, tol / 100.0)
    n_passes, pricing_time, n_newton = 0, 0.0, 0
    status, cert, history, stalled = "inaccurate", None, [], 0
    timed_out = False
    while True:
        f = (PhiW @ VW if W.size else 0.0) + F @ C
        Zp = project_free(problem, LogisticLoss.residual(f, Y))
        t0 = time.perf_counter()
        S_all, sup = pricer.dual_norms_and_sup(Zp, pen)   # sup: the float64 max
        pricing_time += time.perf_counter() - t0
        n_passes += 1
        Vfull = np.zeros((M, T))
        if W.size:
            Vfull[W] = VW
        pred = f if W.size else F @ C + np.zeros((n, T))
        cert = certify(problem, dirs, Vfull, C, Z=Zp, pred=pred,
                       sup_norm=lambda Z, s=sup: s)
        if cert.rel_gap > tol:
            cert = support_dual_retry(problem, dirs, W, VW, C, Zp, pred, cert, sup, pricer)
        history.append(cert.rel_gap)
        if verbose:
            print(f"[native-logistic] pass {n_passes:3d}  ws {W.size:5d}  "
                  f"rel gap {cert.rel_gap:.3e}  sup {sup / lam:.6f} lam")
        if cert.rel_gap <= tol:
            status = "optimal"
            break
        if n_passes >= opts["max_passes"]:
            break
        if _expired(deadline):
            timed_out = True
            break
        nz = np.any(VW != 0, axis=1) if W.size else np.zeros(0, dtype=bool)
        support, Vsupp = W[nz], VW[nz]
        cand = np.setdiff1d(np.flatnonzero(S_all > lam), support)
        if cand.size == 0:
            # nothing violates: the restricted problem was not solved accurately enough
            stalled += 1
            if stalled >= 3 or tol_kkt <= 1e-15:
                break
            tol_kkt = max(tol_kkt / 100.0, 1e-15)
            picked = cand
        else:
            picked = pick(cand, S_all[cand], max(opts["ws_min"], support.size))
        W = np.concatenate([support, picked]).astype(int)
        V0 = np.vstack([Vsupp, np.zeros((picked.size, T))])
        PhiW = pricer.columns(W)
        with blas():
            VW, C, inf = solve_restricted(PhiW, Y, lam, "logistic", problem.penalty, F=F,
                                          V0=V0, C0=C, tol=tol_kkt, max_newton=300,
                                          deadline=deadline)
        n_newton += inf["newton"]
        if not inf["converged"] and inf["newton"] == 0:
            break                           # support too large for dense Newton
        keep = np.any(VW != 0, axis=1)
        W, VW = W[keep], VW[keep]
        order = np.argsort(W)
        W, VW = W[order], VW[order]
        PhiW = pricer.columns(W) if W.size else np.zeros((n, 0))
    V = np.zeros((M, T))
    if W.size:
        V[W] = VW
    info = dict(
        time=time.perf_counter() - t_start,
        n_pricing_passes=n_passes,
        pricing_time=pricing_time,
        pricing_time_per_pass=pricing_time / max(n_passes, 1),
        newton_steps=n_newton,
        working_set_size=int(np.count_nonzero(np.any(V != 0, axis=1))),
        rel_gap=float(cert.rel_gap),
        gap_history=history,
        phi_cached=bool(pricer.cached),
        phi_dtype=None if pricer.dtype is None else pricer.dtype.name,
    )
    if timed_out:
        info["timed_out"] = True
    return SolverResult(V=V, C=C, status=status, solver="native", info=info)
