"""The working-set (column generation) loop of the native solver, for every smooth loss.

It solves the grid problem (MATH.md)

    minimize_{V, C}  L(Φ V + F C) + λ Ω(V),    Φ_ij = relu(θ_j·x̃_i),

for any loss of :mod:`limitsolver.losses` that is smooth (squared, logistic, multinomial)
and either penalty (Ω(V) = Σ_j ‖V_j‖₂ or Σ_j Σ_t |V_jt|), any bias/free option. It uses the
loss only through its protocol: ``residual`` (Z = −n∇L, the generalized residual),
``value``, ``dual_value``, ``scale_dual``, ``dual_feasible``, ``reference_value`` (through
:func:`limitsolver.certificate.certify`), ``dual_strong_concavity`` (screening), and what
:func:`~limitsolver.solvers.support_newton.solve_restricted` needs.

One pass of the method:

1. **Pricing**: the dual norms S_j = ‖Φ_jᵀZ/n‖_* of every direction for the projected
   residual Z of the current point (:class:`limitsolver.pricing.FeatureStore`, shared with
   the caller's λ_max check and final certificate), and the certificate of the point on
   the full grid (:func:`limitsolver.certificate.certify`, retried with the
   support-corrected dual, :func:`support_dual_retry`). Stop when the certified relative
   gap is ≤ ``tol``.
2. **Pool**: the best-scoring directions (``pool`` of them, or 4 per violator, at most
   10 per support row; doubled whenever the last pool left violators outside) and the
   support; their columns are kept until the next pass.
3. **Working set on the pool**, repeated until no pool direction violates: keep the
   directions with nonzero weight, add the most violating pool directions (S_j > λ,
   largest first, at most one per activation pattern, at least ``ws_min`` and as many as
   the support), solve the restricted problem on the working set with the free part,
   warm-started, drop directions whose weight became zero, re-price the pool. The
   restricted tolerance follows the certified gap and is tightened when only the support
   violates or a pass made no progress; when it cannot be, the loop stops with status
   "inaccurate" and a ConvergenceWarning (:class:`~.selection.InnerTolerance`).

Gap-safe screening (blocked pricing only, where it saves feature rebuilds). Let each ℓ_i
have ∇²ℓ_i ≤ (1/μ) I (μ = ``loss.dual_strong_concavity``: 1 squared, 4 logistic,
2 multinomial). Then ℓ_i* is μ-strongly convex (conjugate of a (1/μ)-smooth convex
function) and D(Z) = −(1/n) Σ_i ℓ_i*(−Z_i) is (μ/n)-strongly concave. The dual optimum Z*
maximizes D over a convex feasible set, so for a supergradient g at Z* with
⟨g, Z − Z*⟩ ≤ 0 on that set, every feasible Z satisfies
D(Z) ≤ D(Z*) + ⟨g, Z − Z*⟩ − (μ/(2n))‖Z − Z*‖² ≤ D(Z*) − (μ/(2n))‖Z − Z*‖², hence

    ‖Z* − Z‖_F ≤ r = √(2 n (D(Z*) − D(Z)) / μ) ≤ √(2 n gap / μ),

gap = J(V, C) − D(Z) ≥ OPT_grid − D(Z). With the certified dual point Z_d, the priced
residual Z and s = ⟨Z_d, Z⟩/‖Z‖², ‖Φ_jᵀZ*/n‖_* ≤ s S_j + ‖Φ_j‖ (r + δ(Z_d − sZ)) / n with
‖Φ_jᵀE‖_* ≤ ‖Φ_j‖ δ(E) ≤ ‖Φ_j‖ ‖E‖_F (δ: :mod:`limitsolver.pricing_distance`); below λ it
proves V_j = 0 in every grid optimum (c_j(Z*) = λ u_j on a support). Screened directions are
not priced again; at a later residual Z' their dual norm is at most S_j(Z_ref) + ‖Φ_j‖ δ(Z' −
Z_ref)/n (or :mod:`limitsolver.pricing_moved`'s bound), which enters the certificate's sup,
so the certified gap stays a true bound on the full grid. The same bound lets a pass skip
the unscreened directions whose bound is below λ (they cannot violate), and the pool is
re-priced from float32 features (:class:`~limitsolver.pricing32.Pool32`).
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from ..budget import blas_threads, expired
from ..certificate import Certificate, certify, fit_free_part, project_free
from ..losses import get_loss
from ..penalties import get_penalty
from ..pricing import FeatureStore
from ..pricing32 import Pool32
from ..pricing_distance import residual_distance
from ..problem import LimitProblem
from .base import SolverResult
from .support_newton import solve_restricted
from .support_retry import SUPPORT_DUAL_SLACK, support_dual_retry
from .selection import (MIN_SPACING_COS, SPACING_MIN_POOL, InnerTolerance, PatternCache,
                        pick_violators, pool_floor, warm_rows)

__all__ = ["WorkingSetLoop", "support_dual_retry", "SUPPORT_DUAL_SLACK", "POOL_VIOLATORS"]

#: The pool takes this many best-scoring directions per violator of the last pricing
#: (:meth:`WorkingSetLoop.pool_size`).
POOL_VIOLATORS = 4


class WorkingSetLoop:
    """State and steps of one native solve (module docstring).

    Parameters
    ----------
    problem : LimitProblem;  dirs : ndarray (M, d+1), normalized
    pricer : FeatureStore of (problem.Xt, dirs)
    opts : dict of validated options (:data:`limitsolver.solvers.native.DEFAULT_OPTIONS`)
    tol : float;  deadline : ``time.monotonic()`` value or None;  verbose : bool or int
    """

    def __init__(self, problem: LimitProblem, dirs: np.ndarray, pricer: FeatureStore, opts: dict,
                 *, tol: float, deadline: float | None = None,
                 verbose: bool | int = False) -> None:
        self.problem, self.dirs, self.pricer, self.opts = problem, dirs, pricer, opts
        self.tol, self.deadline, self.verbose = tol, deadline, verbose
        self.loss, self.pen = get_loss(problem.loss), get_penalty(problem.penalty)
        self.n, self.T, self.M = problem.n, problem.T, dirs.shape[0]
        self.lam = problem.lam
        mu = getattr(self.loss, "dual_strong_concavity", None)
        self.mu = float(mu) if mu else None
        # screening needs exact dual norms: only when no Φ is kept (float64 or float32)
        self.use_screening = bool(opts["screening"]) and pricer.dtype is None \
            and self.mu is not None
        self.inner_tol = InnerTolerance(opts["inner_tol"] if opts["inner_tol"] is not None
                                        else tol / 20.0)
        self.alive = np.ones(self.M, dtype=bool)   # not screened
        self.S_last = np.zeros(self.M)             # dual norms at the last pricing residual
        self.ref_id = np.zeros(self.M, dtype=int)  # which stored residual S_last refers to
        self.refs = []                             # stored residuals for screened bounds
        self.norms = None
        self.counts = dict(passes=0, epochs=0, newton=0, restricted=0)
        self.pricing_time = 0.0
        self.history = []
        self.stuck = False
        self.stopped = ""                          # why the loop stopped
        self.last_pool = None                      # the pool of the previous pass
        self.pool_growth = 0                       # doublings of the pool (pool_size)

    # the current point ----------------------------------------------------------------
    def start(self, warm_start: Any) -> None:
        """Working set (W, VW) and free part C from a warm start (or empty)."""
        self.W, self.VW = warm_rows(warm_start, self.dirs, self.T)
        self.C = fit_free_part(self.problem, self._net(self.W, self.VW))

    def _net(self, W, VW, Phi=None):
        """Φ_W V_W (n × T) from the store's columns (or the given ones)."""
        if not W.size:
            return np.zeros((self.n, self.T))
        return (self.pricer.columns(W) if Phi is None else Phi) @ VW

    def residual(self, net: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictions net + F C and the projected generalized residual Z (n × T)."""
        pred = net + self.problem.F @ self.C
        return pred, project_free(self.problem, self.loss.residual(pred, self.problem.Y))

    # pricing and certificate ------------------------------------------------------------
    def price(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Dual norms of the directions that may violate and a sup over the whole grid.

        Every direction j keeps an upper bound S_j(Z_ref) at the residual Z_ref it was last
        priced at, so S_j(Z) ≤ S_j(Z_ref) + N_j δ(Z − Z_ref) / n (N_j ≥ ‖Φ_j‖;
        δ ≤ ‖·‖_F the distance of :func:`~limitsolver.pricing_distance.residual_distance`:
        σ_max for the group penalty, the largest column norm for l1), or the tighter
        bound of the store's kept correlations (:mod:`limitsolver.pricing_moved`). An
        unscreened direction is priced only when that bound reaches λ (the others cannot
        violate); a screened one only when it exceeds both λ and the priced max. The sup
        is the max of the priced values and of every other bound, so it bounds the grid
        max, and equals it whenever the priced max is at least λ.

        Returns (rows priced, their dual norms (upper bounds, exact at the max), sup).
        """
        t0 = time.perf_counter()
        pricer, pen, M, lam = self.pricer, self.pen, self.M, self.lam
        fresh = not self.refs or self.norms is None
        if not fresh:
            dist = np.zeros(len(self.refs))
            for i in np.unique(self.ref_id):
                dist[i] = residual_distance(Z - self.refs[i], pen)
            bound = self.S_last + self.norms * dist[self.ref_id] / self.n
            near = np.flatnonzero(bound >= lam)         # only these can need the pass
            bound[near] = np.minimum(bound[near], pricer.moved_bounds(Z, pen, self.norms, near))
            need = self.alive & (bound >= lam)
        if fresh or need.all():       # S_j ≥ the dual norm, S.max() the float64 max
            idx, (S, sup) = np.arange(M), pricer.dual_norms_and_sup(Z, pen)
        else:
            idx = np.flatnonzero(need)
            S, sup = pricer.bounded_dual_norms(Z, pen, idx)
        if self.norms is None and self.use_screening:
            self.norms = pricer.norm_bounds()             # N_j ≥ ‖Φ_j‖
        self.refs.append(Z)
        self.S_last[idx] = S
        self.ref_id[idx] = len(self.refs) - 1
        rest = None
        if idx.size < M:
            rest = np.flatnonzero(~need)
            hot = rest[bound[rest] > max(sup, lam)]
            if hot.size:
                self.S_last[hot], hot_sup = pricer.bounded_dual_norms(Z, pen, hot)
                self.ref_id[hot] = len(self.refs) - 1
                sup = max(sup, hot_sup)
                bound[hot] = self.S_last[hot]
            bound = bound[rest]
        self.last_pass = (Z, idx, S, sup, rest, bound if rest is not None else None)
        self.upper = np.empty(M)                  # upper bounds at Z of every direction
        self.upper[idx] = S
        if rest is not None:
            self.upper[rest] = bound
            sup = max(sup, float(bound.max()))
        self.pricing_time += time.perf_counter() - t0
        self.counts["passes"] += 1
        return idx, S, sup

    def share_last_pass(self) -> None:
        """Record the last pass in the store's memo (:meth:`FeatureStore.remember_sup`)
        when it priced only the unscreened directions, so that the caller's certificate
        of the same Z costs no further pass. The screened directions enter by their
        bounds; those whose bound exceeds the priced max are re-priced first, so the
        recorded sup is the float64 max over the grid and every recorded S_j bounds the
        dual norm of direction j."""
        Z, idx, S, sup, rest, bound = self.last_pass
        if bound is None:
            return                            # a full pass: the store remembers it
        S_full = np.empty(self.M)
        S_full[idx], S_full[rest] = S, bound
        hot = rest[bound > sup]
        if hot.size:
            S_full[hot], hot_sup = self.pricer.bounded_dual_norms(Z, self.pen, hot)
            sup = max(sup, hot_sup)
        self.pricer.remember_sup(Z, self.pen, S_full, sup)

    def certificate(self, Z: np.ndarray, pred: np.ndarray, sup: float) -> Certificate:
        """Certificate of the current point on the full grid, with the support retry."""
        problem, W, VW = self.problem, self.W, self.VW
        Vfull = np.zeros((self.M, self.T))
        if W.size:
            Vfull[W] = VW
        cert = certify(problem, self.dirs, Vfull, self.C, Z=Z, pred=pred,
                       sup_norm=lambda _, s=sup: s)
        if cert.rel_gap > self.tol:
            cert = support_dual_retry(problem, self.dirs, W, VW, self.C, Z, pred, cert, sup,
                                      self.pricer)
        return cert

    def screen(self, cert: Certificate, Z: np.ndarray, idx: np.ndarray,
               S: np.ndarray) -> None:
        """Gap-safe screening of the rows ``idx`` from upper bounds S of their dual norms
        at Z (module docstring; the offset Z_d − sZ measured by ``residual_distance``)."""
        if not self.use_screening or not cert.gap > 0:
            return
        r = np.sqrt(2.0 * self.n * cert.gap / self.mu)
        Zd = cert.dual_point
        zz = float(np.sum(Z * Z))
        s = max(float(np.sum(Zd * Z)) / zz, 0.0) if zz > 0 else 0.0
        off = residual_distance(Zd - s * Z, self.pen)       # ≤ ‖Zd − sZ‖_F
        test = s * S + self.norms[idx] * (r + off) / self.n
        kill = idx[test < self.lam]
        if self.W.size:
            kill = np.setdiff1d(kill, self.W, assume_unique=True)
        self.alive[kill] = False

    # working set --------------------------------------------------------------------------
    def choose_pool(self, idx: np.ndarray, S: np.ndarray,
                    stall: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Support rows, their weights and the pool; None when the loop should stop
        (``self.stopped`` says why)."""
        nz = np.any(self.VW != 0, axis=1) if self.W.size else np.zeros(0, dtype=bool)
        support, Vsupp = self.W[nz], self.VW[nz]
        viol = idx[S > self.lam]
        outside = viol[~np.isin(viol, support)]
        if stall or not outside.size:
            # the restricted problem was not solved accurately enough (InnerTolerance)
            self.stopped = self.inner_tol.tighten()
            if self.stopped:
                return None
            if not outside.size:
                return support, Vsupp, support
        k_pool = self.pool_size(support.size, int(np.count_nonzero(S > self.lam)), idx, S)
        top = idx[np.argpartition(-S, k_pool - 1)[:k_pool]]
        self.last_pool = np.union1d(support, top)
        return support, Vsupp, self.last_pool

    def pool_size(self, n_supp: int, n_viol: int, idx: np.ndarray, S: np.ndarray) -> int:
        """How many best-scoring directions the pool takes (besides the support).

        max(P, POOL_VIOLATORS · violators) times 2^g, at most 10 |S| and the grid, and at
        least P = :func:`pool_floor` (the ``pool`` option):
        the pool no longer swallows the grid once |S| is large, and it grows (g + 1)
        only when the previous pool round ended with violators outside the pool.
        """
        if self.last_pool is not None and n_viol:
            outside = np.ones(self.M, dtype=bool)
            outside[self.last_pool] = False
            if np.any(outside[idx[S > self.lam]]):
                self.pool_growth += 1
        floor = pool_floor(self.M, self.opts["pool"])
        base = max(floor, POOL_VIOLATORS * n_viol) * 2 ** self.pool_growth
        return int(min(idx.size, max(floor, min(base, 10 * n_supp))))

    def inner(self, support: np.ndarray, Vsupp: np.ndarray, pool: np.ndarray) -> None:
        """Restricted solves on the pool until no pool direction violates.

        Without a kept Φ the pool is re-priced from its float32 features
        (:class:`~limitsolver.pricing32.Pool32`: the test S_j > λ is exact) and only the
        working set's columns are built in float64."""
        problem, opts, lam, pricer = self.problem, self.opts, self.lam, self.pricer
        if pricer.dtype is None and pricer.float32_passes:
            P32 = Pool32(problem.Xt, self.dirs[pool])

            def cols(rows):
                return pricer.columns(pool[rows])
        else:
            P32, Phi_pool = None, pricer.columns(pool)

            def cols(rows):
                return Phi_pool[:, rows]
        keys = PatternCache(problem.Xt, self.dirs[pool])
        S_pool = self.S_last[pool]
        sup_pos = np.searchsorted(pool, support)
        n_add = max(opts["ws_min"], support.size)
        min_cos = MIN_SPACING_COS if pool.size >= SPACING_MIN_POOL else 1.0
        for it in range(opts["max_inner"]):
            cand = np.setdiff1d(np.flatnonzero(S_pool > lam), sup_pos)
            if cand.size == 0 and it > 0:
                break
            picked = pick_violators(cand, S_pool[cand], keys, n_add, min_cos)
            ws = np.concatenate([sup_pos, picked]).astype(int)
            V0 = np.vstack([Vsupp, np.zeros((picked.size, self.T))])
            Vws, self.C, inf = solve_restricted(
                cols(ws), problem.Y, lam, self.loss, self.pen, F=problem.F, V0=V0,
                C0=self.C, tol=self.inner_tol.value, max_epochs=opts["max_epochs"],
                deadline=self.deadline)
            self.counts["epochs"] += inf["epochs"]
            self.counts["newton"] += inf["newton"]
            self.counts["restricted"] += 1
            keep = np.any(Vws != 0, axis=1)
            if self.verbose > 1:
                print(f"[native]   pool {pool.size}: added {picked.size}, "
                      f"{int(keep[sup_pos.size:].sum())} kept; support {sup_pos.size} -> "
                      f"{int(keep.sum())}")
            changed = bool(keep[sup_pos.size:].any()) or not keep[:sup_pos.size].all()
            sup_pos, Vsupp = ws[keep], Vws[keep]
            if not inf["converged"] and inf["newton"] == 0 and inf["epochs"] == 0:
                self.stuck = True           # the restricted solver could not start
                break
            if not changed or expired(self.deadline):
                break
            n_add = max(opts["ws_min"], sup_pos.size)
            Zp = self.residual(cols(sup_pos) @ Vsupp)[1]
            S_pool = (self.pen.dual_norms(Phi_pool.T @ Zp / self.n) if P32 is None
                      else P32.dual_norms(Zp, self.pen, lam, cols))
        order = np.argsort(pool[sup_pos])
        self.W, self.VW = pool[sup_pos][order], Vsupp[order]

    # driver -------------------------------------------------------------------------------
    def run(self, warm_start: Any = None) -> SolverResult:
        """Iterate passes until the certified gap is ≤ tol, a limit, or the deadline."""
        t_start = time.perf_counter()
        self.start(warm_start)
        status, timed_out = "inaccurate", False
        while True:
            pred, Z = self.residual(self._net(self.W, self.VW))
            idx, S, sup = self.price(Z)
            cert = self.certificate(Z, pred, sup)
            self.history.append(cert.rel_gap)
            if self.verbose:
                print(f"[native] pass {self.counts['passes']:3d}  ws {self.W.size:5d}  "
                      f"alive {int(self.alive.sum()):7d}  priced {idx.size:7d}  "
                      f"rel gap {cert.rel_gap:.3e}  sup {sup / self.lam:.6f} lam")
            if cert.rel_gap <= self.tol:
                status, self.stopped = "optimal", "tol"
                self.share_last_pass()
                break
            if self.counts["passes"] >= self.opts["max_passes"]:
                self.stopped = "max_passes"
                break
            if expired(self.deadline):
                timed_out, self.stopped = True, "deadline"
                break
            self.screen(cert, Z, np.arange(self.M), self.upper)
            chosen = self.choose_pool(idx, S, self.inner_tol.follow(cert.rel_gap))
            if chosen is None:
                from ..exceptions import ConvergenceWarning   # (it imports .solvers)
                warnings.warn(f"native solver stopped at certified relative gap "
                              f"{cert.rel_gap:.3e} > tol={self.tol:g}: {self.stopped}",
                              ConvergenceWarning, stacklevel=4)
                break
            with blas_threads(self.opts["threads"]):
                self.inner(*chosen)
            if self.stuck:
                self.stopped = "the restricted solver could not start"
                break
        return self._result(status, cert, timed_out, time.perf_counter() - t_start)

    def _result(self, status, cert, timed_out, elapsed) -> SolverResult:
        V = np.zeros((self.M, self.T))
        if self.W.size:
            V[self.W] = self.VW
        passes = self.counts["passes"]
        info = dict(
            time=elapsed,
            n_pricing_passes=passes,
            pricing_time=self.pricing_time,
            pricing_time_per_pass=self.pricing_time / max(passes, 1),
            iterations=self.counts["epochs"],
            newton_steps=self.counts["newton"],
            restricted_solves=self.counts["restricted"],
            working_set_size=int(np.count_nonzero(np.any(V != 0, axis=1))),
            rel_gap=float(cert.rel_gap),
            gap_history=self.history,
            screened=int(self.M - self.alive.sum()),
            phi_cached=bool(self.pricer.cached),
            phi_dtype=None if self.pricer.dtype is None else self.pricer.dtype.name,
            stopped=self.stopped,
        )
        if timed_out:
            info["timed_out"] = True
        return SolverResult(V=V, C=self.C, status=status, solver="native", info=info)
