"""The native solver: working set (column generation) with an exact small solver inside.

It solves the squared-loss grid problem (MATH.md)

    minimize_{V, C}  (1/(2n)) ‖Y − Φ V − F C‖² + λ Ω(V),    Φ_ij = relu(θ_j·x̃_i),

Ω(V) = Σ_j ‖V_j‖₂ (``penalty="group"``) or Σ_j Σ_t |V_jt| (``penalty="l1"``), for every
bias/free option. The free part is eliminated exactly: with P the orthogonal projector onto
the complement of the free-part columns F, the optimal C leaves the residual R = P(Y − ΦV),
and the problem in V alone is a lasso with columns PΦ_j and targets PY.

One pass of the method:

1. **Pricing**: the correlations c_j = Φ_jᵀ R / n of every direction (one product;
   :class:`limitsolver.pricing.FeatureStore` keeps Φ whole when n·M·8 bytes fit
   ``memory_budget`` — by default a quarter of the available memory, at most 4 GiB — and
   shares it with the caller's λ_max check and final certificate; otherwise the product is
   blocked and rebuilds the features), and the certificate of the current point on the full grid
   (:func:`limitsolver.certificate.certify`, the shared duality gap). Stop when the
   certified relative gap is ≤ ``tol``.
2. **Pool**: the ``pool`` best-scoring directions (largest ‖c_j‖_*) and the support; their
   columns are kept until the next pass.
3. **Working set on the pool**, repeated until no pool direction violates: keep the
   directions with nonzero weight, add the most violating pool directions (‖c_j‖_* > λ,
   largest first, at most one per activation pattern — directions with the same pattern
   1[x̃_i·θ > 0] have features in one (d+1)-dimensional space —, at least ``ws_min`` and as
   many as the support), solve the restricted lasso on the working set, warm-started, to a
   relative gap well below ``tol`` (:func:`limitsolver.solvers.support_newton.solve_restricted`:
   an active-set Newton method, exact on the small support even when the Gram matrix of the
   working set is singular), drop directions whose weight became zero, re-price the pool.
   Atoms can so move across many grid cells for the price of one full pass.

Gap-safe screening (when Φ is not cached): with a feasible dual point Z and duality gap g,
the dual optimum Z* satisfies ‖Z* − Z‖ ≤ r = √(2 n g) (the dual is (1/n)-strongly
concave), so ‖Φ_jᵀZ*/n‖_* ≤ ‖Φ_jᵀZ/n‖_* + ‖Φ_j‖ r / n < λ proves V_j* = 0. Screened
directions are not priced again; their correlation at a later residual R is bounded by
‖c_j(R_ref)‖_* + ‖Φ_j‖ ‖R − R_ref‖ / n, and that bound enters the sup of the certificate,
so the certified gap stays a true bound on the full grid.
"""
from __future__ import annotations

import time
from contextlib import nullcontext

import numpy as np

from ..budget import expired
from ..certificate import project_free, certify, support_dual
from ..penalties import get_penalty
from ..pricing import FeatureStore, get_store
from .base import SolverResult
from .support_newton import solve_restricted

__all__ = ["supports", "solve_native", "DEFAULT_OPTIONS"]

#: The support-corrected dual candidate is tried once the grid's max correlation is within
#: this factor of λ (the support is then final up to rounding) and the plain gap is > tol.
SUPPORT_DUAL_SLACK = 1e-4

#: Options of :func:`solve_native` and their defaults.
DEFAULT_OPTIONS = dict(
    max_passes=200,            # pricing passes before giving up (status "inaccurate")
    memory_budget=None,        # bytes: keep Φ whole only below this (None: shared store,
                               # pricing.default_budget(): min(25 % of free memory, 4 GiB))
    block_bytes=None,          # bytes of one block of Φ in blocked pricing (None: default)
    feature_dtype=None,        # storage of a kept Φ: "float64", "float32" (pricing only;
                               # certificates stay float64) or None (by the budget)
    ws_min=16,                 # fewest directions added per pass
    pool=1000,                 # best-scoring directions kept between two full passes
    max_inner=100,             # restricted solves on the pool between two full passes
    screening=True,            # gap-safe screening (blocked pricing only)
    inner_tol=None,            # restricted-problem relative gap (default tol / 20)
    max_epochs=50000,          # epochs of the restricted solver per pass
    threads=1,                 # BLAS threads inside the restricted solver (None: leave as is)
)


def supports(problem) -> bool:
    """Squared or logistic loss with the group or l1 penalty, any bias/free option
    (logistic: :mod:`limitsolver.solvers.logistic`)."""
    return problem.loss in ("squared", "logistic") and problem.penalty in ("group", "l1")


def _check_options(options: dict) -> dict:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option(s) for the native solver: {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(sorted(DEFAULT_OPTIONS))}")
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options)

    def positive_int(name):
        v = opts[name]
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"native solver option {name} must be a positive integer, got {v!r}")
        opts[name] = int(v)

    for name in ("max_passes", "ws_min", "max_epochs", "pool", "max_inner"):
        positive_int(name)
    for name in ("memory_budget", "block_bytes"):
        v = opts[name]
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float)) \
                or not np.isfinite(v) or v < 0:
            raise ValueError(f"native solver option {name} must be a number of bytes >= 0, "
                             f"got {v!r}")
        opts[name] = int(v)
    if opts["block_bytes"] is not None and opts["block_bytes"] < 1:
        raise ValueError(f"native solver option block_bytes must be >= 1, got {opts['block_bytes']!r}")
    if not isinstance(opts["screening"], (bool, np.bool_)):
        raise ValueError(f"native solver option screening must be True or False, "
                         f"got {opts['screening']!r}")
    it = opts["inner_tol"]
    if it is not None:
        if isinstance(it, (bool, np.bool_)) or not isinstance(it, (int, float, np.floating)) \
                or not (np.isfinite(it) and it > 0):
            raise ValueError(f"native solver option inner_tol must be a positive number, got {it!r}")
    if opts["feature_dtype"] not in (None, "float32", "float64"):
        raise ValueError(f"native solver option feature_dtype must be 'float32', 'float64' "
                         f"or None, got {opts['feature_dtype']!r}")
    th = opts["threads"]
    if th is not None and (isinstance(th, (bool, np.bool_)) or not isinstance(th, (int, np.integer))
                           or th < 1):
        raise ValueError(f"native solver option threads must be a positive integer or None, "
                         f"got {th!r}")
    return opts


_CONTROLLER = []


def _blas_threads(n):
    """A context limiting BLAS to ``n`` threads (none for ``n=None``). The controller that
    finds the BLAS libraries is built once: building it scans the loaded libraries, which
    costs milliseconds — more than a small solve."""
    if n is None:
        return nullcontext()
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/scipy
            return nullcontext()
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=int(n), user_api="blas")


def support_dual_retry(problem, dirs, W, VW, C, Z, pred, cert, sup, pricer):
    """The better of ``cert`` and the certificate of the support-corrected dual candidate.

    Near interpolation (λ ≪ λ_max) the restricted problem is flat along the null space of
    the support's Gram matrix: the primal value is optimal to ~1e-12 while the residual's
    correlations still miss λ by ~1e-8, and the scaled residual cannot certify below that.
    The candidate corrected to meet the support conditions exactly
    (:func:`~limitsolver.certificate.support_dual`), priced over every direction (so the
    bound stays rigorous, screened directions included), can. Tried only once the grid sup
    is within :data:`SUPPORT_DUAL_SLACK` of λ (the support is then final up to rounding).

    W, VW : working-set rows and their weights;  C : free part;  Z : the (projected)
    residual candidate;  pred : predictions Φ V + F C;  sup : the residual's max dual norm.
    """
    if not W.size or sup > problem.lam * (1.0 + SUPPORT_DUAL_SLACK):
        return cert
    Zs = project_free(problem, support_dual(problem, dirs[W], VW, Z))
    S_s = pricer.dual_norms_and_sup(Zs, get_penalty(problem.penalty))[1]
    # the primal comes from ``pred`` and Ω(VW); the sup over the grid is S_s
    cert_s = certify(problem, dirs[W], VW, C, Z=Zs, pred=pred, sup_norm=lambda _, s=S_s: s)
    return cert_s if cert_s.dual > cert.dual else cert


def _warm_rows(warm_start, dirs, T):
    """Initial working set (row indices) and weights from a previous solution."""
    if warm_start is None:
        return np.zeros(0, dtype=int), np.zeros((0, T))
    atoms = getattr(warm_start, "atom_directions", None)
    weights = getattr(warm_start, "atom_weights", None)
    if atoms is None or weights is None:
        raise ValueError(f"warm_start must be a LimitSolution (or None), got "
                         f"{type(warm_start).__name__}")
    atoms = np.asarray(atoms, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if atoms.ndim != 2 or atoms.shape[1] != dirs.shape[1] or weights.shape != (atoms.shape[0], T):
        raise ValueError(
            f"warm_start does not fit this problem: atoms of shape {atoms.shape} and weights "
            f"{weights.shape}, expected (k, {dirs.shape[1]}) and (k, {T})")
    grid = getattr(warm_start, "grid", None)
    gw = getattr(warm_start, "grid_weights", None)
    if (grid is not None and gw is not None and np.shape(grid) == dirs.shape
            and np.shape(gw) == (dirs.shape[0], T) and np.array_equal(grid, dirs)):
        rows = np.flatnonzero(np.any(np.asarray(gw) != 0, axis=1))
        return rows, np.array(gw, dtype=float)[rows]
    if atoms.shape[0] == 0:
        return np.zeros(0, dtype=int), np.zeros((0, T))
    # nearest grid row of each atom: argmin ‖θ_j − a‖² = argmax 2θ_j·a − ‖θ_j‖²
    sq = np.sum(dirs * dirs, axis=1)
    best = np.full(atoms.shape[0], -np.inf)
    arg = np.zeros(atoms.shape[0], dtype=int)
    bs = max(1, (32 * 2**20) // (8 * atoms.shape[0]))
    for s in range(0, dirs.shape[0], bs):
        score = 2.0 * dirs[s:s + bs] @ atoms.T - sq[s:s + bs, None]
        i = np.argmax(score, axis=0)
        v = score[i, np.arange(atoms.shape[0])]
        better = v > best
        best[better], arg[better] = v[better], i[better] + s
    rows, inv = np.unique(arg, return_inverse=True)
    W = np.zeros((rows.size, T))
    np.add.at(W, inv, weights)
    return rows, W


def _patterns(Xt, D):
    """Activation patterns 1[x̃_i·θ > 0] of the directions D, one bytes key per row."""
    if D.shape[0] == 0:
        return []
    bits = np.packbits(Xt @ D.T > 0, axis=0)
    return [bits[:, j].tobytes() for j in range(D.shape[0])]


class _PatternCache:
    """Activation patterns of the rows of D, computed on first request."""

    def __init__(self, Xt, D):
        self.Xt, self.D = Xt, D
        self.keys = {}

    def get(self, rows):
        missing = [int(j) for j in rows if int(j) not in self.keys]
        if missing:
            for j, key in zip(missing, _patterns(self.Xt, self.D[missing])):
                self.keys[j] = key
        return [self.keys[int(j)] for j in rows]


def _pick_violators(cand, scores, keys, n_add):
    """The ``n_add`` best candidates (positions ``cand``), at most one per activation pattern.

    Directions with the same activation pattern 1[x̃_i·θ > 0] (``keys``) have features in
    one (d+1)-dimensional space (Φ_j = D X̃ θ_j, D the diagonal of the pattern): more than
    d+1 of them are linearly dependent, and on a fine grid the top violators are mostly such
    near-copies of each other. Only the best violator of each pattern is taken (on a cell
    the correlation is linear in θ, so it is the best direction of that cell).
    """
    if cand.size == 0:
        return cand
    seen = set()
    picked = []
    order = cand[np.argsort(-scores, kind="stable")]
    chunk = 2 * n_add
    for s in range(0, order.size, chunk):
        block = order[s:s + chunk]
        for j, key in zip(block, keys.get(block)):
            if key in seen:
                continue
            seen.add(key)
            picked.append(j)
            if len(picked) == n_add:
                return np.asarray(picked, dtype=int)
        chunk *= 2
    return np.asarray(picked, dtype=int)


def solve_native(problem, directions, *, tol=1e-8, warm_start=None, verbose=False,
                 deadline=None, **options) -> SolverResult:
    """Solve the squared-loss grid problem with the working-set method (module docstring).

    Parameters
    ----------
    problem : LimitProblem
        ``loss="squared"``, ``penalty`` "group" or "l1", any ``bias`` and ``free``.
    directions : ndarray (M, d+1)
        The grid, normalized (``problem.check_directions``).
    tol : float
        Target certified relative duality gap on the full grid.
    warm_start : LimitSolution or None
        A previous solution; its weights on the same grid (or its atoms moved to the
        nearest grid rows) start the working set.
    verbose : bool or int
        Print one line per pricing pass (2: also one per restricted solve).
    deadline : float, optional
        A ``time.monotonic()`` value: checked once per pricing pass and per restricted
        solve; past it the current point is returned with ``info["timed_out"] = True``.
    **options
        See :data:`DEFAULT_OPTIONS`; unknown names raise ValueError.

    Returns
    -------
    SolverResult
        V (M × T) on the full grid, C (p × T), status "optimal" when the certified relative
        gap is ≤ tol (else "inaccurate"), info with ``n_pricing_passes``, ``pricing_time``
        (total seconds), ``pricing_time_per_pass``, ``iterations`` (restricted-solver
        epochs), ``working_set_size``, ``rel_gap``, ``screened``.
    """
    opts = _check_options(options)
    if not supports(problem):
        raise ValueError(f"the native solver does not support loss={problem.loss!r}, "
                         f"penalty={problem.penalty!r}")
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"tol must be a positive number, got {tol!r}") from None
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    dirs = np.asarray(directions, dtype=float)
    if dirs.ndim != 2 or dirs.shape[1] != problem.dim:
        raise ValueError(f"directions must have shape (M, {problem.dim}), got {dirs.shape}")
    t_start = time.perf_counter()
    n, T, M = problem.n, problem.T, dirs.shape[0]
    lam = problem.lam
    pen = get_penalty(problem.penalty)
    Y, F = problem.Y, problem.F
    Q = np.linalg.qr(F)[0] if F.shape[1] else None

    def proj(Z):
        return Z if Q is None else Z - Q @ (Q.T @ Z)

    if opts["memory_budget"] is None and opts["feature_dtype"] is None:
        pricer = get_store(problem.Xt, dirs, block_bytes=opts["block_bytes"])  # shared
    else:
        pricer = FeatureStore(problem.Xt, dirs, opts["memory_budget"], opts["block_bytes"],
                              dtype=opts["feature_dtype"])
    if problem.loss == "logistic":
        from .logistic import solve_native_logistic
        keys = _PatternCache(problem.Xt, dirs)
        return solve_native_logistic(
            problem, dirs, tol=tol, warm_start=warm_start, verbose=verbose, opts=opts,
            pricer=pricer, warm_rows=_warm_rows, deadline=deadline,
            blas=lambda: _blas_threads(opts["threads"]),
            pick=lambda cand, scores, n_add: _pick_violators(cand, scores, keys, n_add))
    # screening needs exact dual norms: only when no Φ is kept (float64 or float32)
    use_screening = opts["screening"] and pricer.dtype is None
    inner_tol = opts["inner_tol"] if opts["inner_tol"] is not None else tol / 20.0

    W, VW = _warm_rows(warm_start, dirs, T)
    alive = np.ones(M, dtype=bool)          # not screened
    S_last = np.zeros(M)                     # dual norms at the residual of the last pricing
    ref_id = np.zeros(M, dtype=int)          # which stored residual S_last refers to
    refs = []                                # stored residuals for screened bounds
    norms = None
    n_passes, pricing_time, epochs, n_newton, n_restricted = 0, 0.0, 0, 0, 0
    status, cert = "inaccurate", None
    history = []
    stalled = 0
    timed_out = False
    while True:
        # residual of the current point (free part eliminated exactly)
        PhiW = pricer.columns(W) if W.size else np.zeros((n, 0))
        net = PhiW @ VW if W.size else np.zeros((n, T))
        R = proj(Y - net)
        # pricing pass
        t0 = time.perf_counter()
        if norms is None and use_screening:
            corr, norms = pricer.correlations_and_norms(R)
            idx_priced = np.arange(M)
            S_priced = pen.dual_norms(corr)
        elif alive.all():          # the max of S_priced is the float64 one (FeatureStore)
            S_priced = pricer.dual_norms_and_sup(R, pen)[0]
            idx_priced = np.arange(M)
        else:
            idx_priced = np.flatnonzero(alive)
            S_priced = pen.dual_norms(pricer.correlations(R, idx_priced))
        pricing_time += time.perf_counter() - t0
        n_passes += 1
        refs.append(R)
        S_last[idx_priced] = S_priced
        ref_id[idx_priced] = len(refs) - 1
        sup = float(S_priced.max()) if S_priced.size else 0.0
        dead = np.flatnonzero(~alive)
        if dead.size:
            # screened directions enter the sup through a bound; re-price those whose bound
            # exceeds both λ and the priced max (only they could weaken the certificate)
            dist = np.array([np.linalg.norm(R - ref) for ref in refs])
            bound = S_last[dead] + norms[dead] * dist[ref_id[dead]] / n
            hot = dead[bound > max(sup, lam)]
            if hot.size:
                t0 = time.perf_counter()
                S_hot = pen.dual_norms(pricer.correlations(R, hot))
                pricing_time += time.perf_counter() - t0
                S_last[hot] = S_hot
                ref_id[hot] = len(refs) - 1
                bound = S_last[dead] + norms[dead] * dist[ref_id[dead]] / n
            sup = max(sup, float(bound.max()))
        Vfull = np.zeros((M, T))
        if W.size:
            Vfull[W] = VW
        C = (np.linalg.lstsq(F, Y - net, rcond=None)[0] if F.shape[1] else np.zeros((0, T)))
        cert = certify(problem, dirs, Vfull, C, Z=R, sup_norm=lambda Z, s=sup: s,
                       pred=Y - R)
        if cert.rel_gap > tol:
            cert = support_dual_retry(problem, dirs, W, VW, C, R, Y - R, cert, sup, pricer)
        history.append(cert.rel_gap)
        if verbose:
            print(f"[native] pass {n_passes:3d}  ws {W.size:5d}  alive {int(alive.sum()):7d}  "
                  f"rel gap {cert.rel_gap:.3e}  sup {sup / lam:.6f} lam")
        if cert.rel_gap <= tol:
            status = "optimal"
            break
        if n_passes >= opts["max_passes"]:
            break
        if expired(deadline):
            timed_out = True
            break
        # gap-safe screening with the certified dual point
        if use_screening and cert.gap > 0:
            r = np.sqrt(2.0 * n * cert.gap)
            s = float(np.sum(cert.dual_point * R)) / max(float(np.sum(R * R)), 1e-300)
            test = s * S_last[idx_priced] + norms[idx_priced] * r / n
            kill = idx_priced[test < lam]
            if W.size:
                kill = np.setdiff1d(kill, W, assume_unique=True)
            alive[kill] = False
        # working set: the support plus the most violating directions. Between two full
        # passes it is iterated on a pool of the best-scoring directions, whose columns are
        # kept, so that atoms can move across many grid cells for the price of one pass.
        nz = np.any(VW != 0, axis=1) if W.size else np.zeros(0, dtype=bool)
        support, Vsupp = W[nz], VW[nz]
        n_add = max(opts["ws_min"], support.size)
        if not np.any(S_priced > lam):
            # no violator left: the restricted problem was not solved accurately enough
            if inner_tol <= 1e-15 or stalled >= 3:
                break
            inner_tol = max(inner_tol / 100.0, 1e-15)
            stalled += 1
            pool = support
        else:
            k_pool = min(idx_priced.size, max(opts["pool"], 10 * support.size))
            top = idx_priced[np.argpartition(-S_priced, k_pool - 1)[:k_pool]]
            pool = np.union1d(support, top)
        Phi_pool = pricer.columns(pool)
        keys = _PatternCache(problem.Xt, dirs[pool])
        S_pool = S_last[pool]
        sup_pos = np.searchsorted(pool, support)
        limits = _blas_threads(opts["threads"])
        limits.__enter__()
        for inner in range(opts["max_inner"]):
            cand = np.flatnonzero(S_pool > lam)
            cand = np.setdiff1d(cand, sup_pos)
            if cand.size == 0 and inner > 0:
                break
            picked = _pick_violators(cand, S_pool[cand], keys, n_add)
            ws = np.concatenate([sup_pos, picked]).astype(int)
            V0 = np.vstack([Vsupp, np.zeros((picked.size, T))])
            Vws, _, inf = solve_restricted(Phi_pool[:, ws], Y, lam, "squared", problem.penalty,
                                           F=F, V0=V0, tol=inner_tol,
                                           max_epochs=opts["max_epochs"], deadline=deadline)
            epochs += inf["epochs"]
            n_newton += inf["newton"]
            n_restricted += 1
            keep = np.any(Vws != 0, axis=1)
            if verbose > 1:
                print(f"[native]   pool {pool.size}: added {picked.size}, "
                      f"{int(keep[sup_pos.size:].sum())} kept; support {sup_pos.size} -> "
                      f"{int(keep.sum())}")
            changed = bool(keep[sup_pos.size:].any()) or not keep[:sup_pos.size].all()
            sup_pos, Vsupp = ws[keep], Vws[keep]
            if not changed or expired(deadline):
                break
            n_add = max(opts["ws_min"], sup_pos.size)
            Rp = proj(Y - Phi_pool[:, sup_pos] @ Vsupp)
            S_pool = pen.dual_norms(Phi_pool.T @ Rp / n)
        limits.__exit__(None, None, None)
        W, VW = pool[sup_pos], Vsupp
        order = np.argsort(W)
        W, VW = W[order], VW[order]
    V = np.zeros((M, T))
    if W.size:
        V[W] = VW
    C = (np.linalg.lstsq(F, Y - (pricer.columns(W) @ VW if W.size else 0.0), rcond=None)[0]
         if F.shape[1] else np.zeros((0, T)))
    info = dict(
        time=time.perf_counter() - t_start,
        n_pricing_passes=n_passes,
        pricing_time=pricing_time,
        pricing_time_per_pass=pricing_time / max(n_passes, 1),
        iterations=epochs,
        newton_steps=n_newton,
        restricted_solves=n_restricted,
        working_set_size=int(np.count_nonzero(np.any(V != 0, axis=1))),
        rel_gap=float(cert.rel_gap),
        gap_history=history,
        screened=int(M - alive.sum()),
        phi_cached=bool(pricer.cached),
        phi_dtype=None if pricer.dtype is None else pricer.dtype.name,
    )
    if timed_out:
        info["timed_out"] = True
    return SolverResult(V=V, C=C, status=status, solver="native", info=info)
