"""One support-Newton method for every loss and penalty.

It minimizes, over V (k × T) and C (p × T),

    J(V, C) = L(A V + F C + O) + λ Ω(V)

(A: feature columns, F: free columns, O: a fixed offset; :mod:`.restricted` holds J, its
derivatives and its Newton systems) and serves three callers:

(a) the restricted problem of the working-set loop (:func:`solve_restricted`): rows (l1:
    entries) off the support enter by a proximal step when their KKT condition
    ‖(Aᵀ∇L)_j‖_* ≤ λ is violated; on the support J is smooth and Levenberg-damped Newton
    steps are taken, accepted only when J decreases, and cut where units (rows, or entries
    for l1) cross zero — they then leave the support, several in one step when J keeps
    decreasing along the crossings (:func:`.linesearch.crossing_path`);
(b) refinement's polish on a fixed support (``fixed_support=True``: nothing enters);
(c) the free-part fit (k = 0: only C), stopped once the summed loss n·L is below
    ``loss_floor`` (a free part that separates the labels has no finite optimum).

Routes, from the flags of the loss (never its name):

- ``quadratic`` losses, L(P) = (h/(2n))‖P − Y‖² with constant curvature h: the free part is
  eliminated exactly by the projection onto the complement of F (C is recovered by least
  squares at the end), the Hessian is in Gram form G = h ÃᵀÃ/n, and coordinate descent
  with Anderson extrapolation (:mod:`.bcd`) warms up and takes over on supports too large
  for Newton systems;
- separable losses: the l1 penalty separates the tasks, which are solved one by one
  (T = 1); the group penalty couples them through its Hessian blocks only;
- coupled losses (multinomial): the tasks are solved jointly, and for l1 the support is an
  entrywise mask.

Stopping: the restricted relative duality gap (the dual formula of
:func:`limitsolver.certificate.certify`, with the max of the dual norms over the columns A)
is ≤ ``tol``; the inner Newton iterations on a support stop when the KKT residual
max |∇_X J| on it is ≤ tol_kkt·λ, tol_kkt = max(tol, 1e-15), or when a step no longer
decreases J. ``converged`` reports the gap test (with ``fixed_support``: the KKT test on the
support, since rows off it may violate theirs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import losses as _losses
from .. import penalties as _penalties
from ..budget import expired
from ..gapscale import relative_gap
from .bcd import bcd_anderson, coordinate_sweep
from .gram_newton import gram_round
from .linesearch import crossing_path
from .restricted import SupportModel

__all__ = ["solve_restricted", "restricted_gap", "LOSS_METHODS", "PENALTY_METHODS"]

#: What the method needs from the loss (second order: ``curvature`` for separable losses,
#: ``hessian_blocks`` for coupled ones) ...
LOSS_METHODS = ("value", "gradient", "residual", "dual_value", "dual_feasible", "scale_dual",
                "reference_value")
#: ... and from the penalty.
PENALTY_METHODS = ("value", "row_norms", "dual_norms", "prox", "prox_row", "support",
                   "gradient", "hessian_blocks")

#: Coordinate sweeps before the first Newton round (quadratic losses) on more than
#: :data:`WARMUP_ROWS` columns from a cold start (V0 = 0), to settle which rows enter and
#: leave; a warm start's support is already near the final one (warm d ≥ 3 refinement
#: solves, digits, ~280 columns: 0.22 s per solve without them, 0.41 s with them).
WARMUP_SWEEPS = 5

#: Columns above which the warm-up sweeps run; below, Newton's crossing path settles the
#: support for less than the sweeps cost (measured on the restricted solves of n = 1000,
#: d = 5, T = 10, M = 10⁴ and 10³: 0.10 s without sweeps, 0.15 s with them).
WARMUP_ROWS = 200

#: Smallest λ / max_j ‖B_j‖_* (about λ/λ_max on the columns) solved in Gram form.
GRAM_MIN_LAM = 1e-6
#: Newton rounds (active set to KKT, then the gap test) before giving up.
MAX_ROUNDS = 10


@dataclass
class _Control:
    tol_kkt: float
    max_newton: int
    deadline: float | None
    loss_floor: float | None
    kkt_scale: float = 1.0
    steps: int = 0
    too_large: bool = False


def _newton_on_support(model: SupportModel, V, C, ctl: _Control, sup=None):
    """Damped Newton on the current support of V (in place on V); returns (V, C, converged)."""
    sup = model.support(V) if sup is None else sup
    VS = V[sup.S]
    p = model.F.shape[1]
    P = model.predict(sup, VS, C)
    P0 = model.value(P, VS)
    converged = False
    while ctl.steps < ctl.max_newton and not expired(ctl.deadline):
        ctl.steps += 1
        if ctl.loss_floor is not None and model.n * model.loss.value(P, model.Y) <= ctl.loss_floor:
            converged = True
            break
        grad = model.gradient(sup, P, VS)
        if float(np.max(np.abs(grad), initial=0.0)) <= ctl.tol_kkt * ctl.kkt_scale:
            converged = True
            break
        s_ = sup.size
        found, trials = None, {}
        for step in model.newton_steps(sup, P, VS, grad):
            sV, sC = step[:s_], step[s_:]

            def obj(Vn, t, sup=sup, sC=sC):
                Pt = model.predict(sup, Vn, C - t * sC)
                trials[id(Vn)] = Pt          # the predictions of the point taken are kept
                return model.value(Pt, Vn)
            found = crossing_path(VS, sV, obj, P0, rowwise=model.rowwise)
            if found is not None:
                break
        if found is None:            # no step decreases J: optimal to rounding
            converged = True
            break
        t, Vn, Pn = found
        P = trials[id(Vn)]
        dec = P0 - Pn
        VS0 = VS
        VS, C, P0 = Vn, C - t * sC, Pn
        if np.any((VS == 0) & sup.mask):                 # units left the support
            V[sup.S] = VS
            sup = model.support(V)
            VS = V[sup.S]
            if sup.size == 0 and p == 0:
                converged = True
                break
        elif dec <= 0.0 and _tiny(t * step, VS0, C):
            converged = True
            break
    V[sup.S] = VS
    return V, C, converged


def _tiny(step, VS, C) -> bool:
    """Whether a step is at rounding level: max |step| ≤ 1e-15 · max(1, |V_S|, |C|)."""
    size = max(1.0, float(np.max(np.abs(VS), initial=0.0)),
               float(np.max(np.abs(C), initial=0.0)))
    return float(np.max(np.abs(step), initial=0.0)) <= 1e-15 * size


def _enter(model: SupportModel, V, C, tol_kkt: float):
    """Add the KKT violators' proximal steps, backtracked (by 1/4) until J decreases.

    In Gram form (quadratic loss) each step is the exact minimizer of J along its own row
    and is taken whole, as coordinate descent would; the Newton steps that follow are the
    ones required to decrease J."""
    sup = model.support(V)
    delta, rows = model.entering_step(V, C, tol_kkt, sup)
    if not rows.size:
        return V, False
    if model.route == "gram":
        return V + delta, True
    P_old = model.objective(sup, V[sup.S], C)
    a = 1.0
    while a > 1e-12:
        Vt = V + a * delta
        sup = model.support(Vt)
        if model.objective(sup, Vt[sup.S], C) < P_old:
            break
        a *= 0.25
    return V + a * delta, True


def _active_set(model: SupportModel, V, C, ctl: _Control, entering: bool):
    """Enter violators, Newton on the support, repeat until no violator; (V, C, converged)."""
    V, C = np.array(V, dtype=float), np.array(C, dtype=float)
    converged = False
    while True:
        entered = False
        if entering and V.shape[0]:
            V, entered = _enter(model, V, C, ctl.tol_kkt)
        if converged and not entered:
            break
        sup = model.support(V)
        if sup.size == 0 and model.F.shape[1] == 0:
            converged = True
            break
        if model.too_large(sup):
            ctl.too_large = True
            return V, C, False
        V, C, converged = _newton_on_support(model, V, C, ctl, sup)
        if not converged or not entering or ctl.steps >= ctl.max_newton:
            break
    return V, C, converged


def _newton_all(model: SupportModel, V, C, ctl: _Control, entering: bool):
    """:func:`_active_set` jointly, or task by task where the tasks separate: a separable
    loss with the l1 penalty, or with no feature columns (the free-part fit)."""
    split = model.loss.separable and model.T > 1 and (not model.rowwise or V.shape[0] == 0)
    if not split:
        return _active_set(model, V, C, ctl, entering)
    V, C = np.array(V, dtype=float), np.array(C, dtype=float)
    ok = True
    for t in range(model.T):
        vt, ct, okt = _active_set(model.task(t), V[:, t:t + 1], C[:, t:t + 1], ctl, entering)
        V[:, t:t + 1], C[:, t:t + 1] = vt, ct
        ok = ok and okt
    return V, C, ok


def restricted_gap(model: SupportModel, V: np.ndarray, C: np.ndarray,
                   Q: np.ndarray | None = None) -> float:
    """Relative duality gap of (V, C) on the columns A.

    Z = the loss's generalized residual at P = A V + F C + O, projected orthogonally to F
    (Q: an orthonormal basis of F's columns); S = max_j ‖(AᵀZ/n)_j‖_*; the dual point sZ,
    s = ``scale_dual``(Z, Y, λ/S), is feasible for the problem on the columns A, so D(sZ)
    (or D(0) = 0) is a lower bound on its optimum. Returns
    (J − D) / max(|J|, ROUNDING · J_ref) (:func:`~limitsolver.gapscale.relative_gap`), as
    :func:`~limitsolver.certificate.certify` does.
    """
    loss, pen, Y = model.loss, model.penalty, model.Y
    sup = model.support(V)
    P = model.predict(sup, V[sup.S], C)
    primal = model.value(P, V[sup.S])
    Z = loss.residual(P, Y)
    if Q is not None:
        Z = Z - Q @ (Q.T @ Z)
    dual = 0.0
    if np.any(Z):
        S = float(np.max(pen.dual_norms(model.A.T @ Z / model.n), initial=0.0))
        s = loss.scale_dual(Z, Y, model.lam / S if S > 0 else np.inf)
        if loss.dual_feasible(s * Z, Y):
            dual = max(dual, loss.dual_value(s * Z, Y))
    return relative_gap(primal, dual, loss.reference_value(Y))


def _rounds(model, V, C, ctl, *, tol, entering, Q, active=None):
    """Newton rounds until the restricted gap is ≤ tol (or no progress); (V, C, rel, ok).

    ``active(V, C) -> (V, C, converged)`` is one round (default :func:`_newton_all`)."""
    if active is None:
        def active(V, C):
            return _newton_all(model, V, C, ctl, entering)
    rel = np.inf
    for _ in range(MAX_ROUNDS):
        if expired(ctl.deadline):
            break
        before = ctl.steps
        V, C, kkt = active(V, C)
        rel_new = restricted_gap(model, V, C, Q)
        if not entering:
            return V, C, rel_new, kkt
        if rel_new <= tol:
            return V, C, rel_new, True
        if ctl.steps == before or rel_new >= 0.5 * rel or ctl.too_large:
            return V, C, rel_new, False
        rel = rel_new
    return V, C, (restricted_gap(model, V, C, Q) if rel == np.inf else rel), False


def _rowwise(penalty, T: int) -> bool:
    """Whether the penalty's support is made of whole rows (group), or T = 1."""
    return T == 1 or bool(np.all(penalty.support(np.array([[1.0, 0.0]]))))


def _quadratic_curvature(loss, Y):
    """The constant curvature h of a quadratic loss, or None."""
    if not (loss.quadratic and loss.separable):
        return None
    h = loss.curvature(np.zeros_like(Y), Y)
    h0 = float(h.flat[0]) if h.size else 1.0
    return h0 if h0 > 0 and np.all(h == h0) else None


_CHECKED = set()


def _check(loss, penalty) -> None:
    """:func:`limitsolver.losses.require` and :func:`limitsolver.penalties.require` of what
    the method needs, once per (loss, penalty) pair."""
    if (loss, penalty) in _CHECKED:
        return
    second = "curvature" if loss.separable else "hessian_blocks"
    _losses.require(loss, *LOSS_METHODS, second, who="the support-Newton method")
    _penalties.require(penalty, *PENALTY_METHODS, who="the support-Newton method")
    _CHECKED.add((loss, penalty))


def solve_restricted(A: np.ndarray, Y: np.ndarray, lam: float, loss: str | type,
                     penalty: str | type, *, F: np.ndarray | None = None,
                     V0: np.ndarray | None = None, C0: np.ndarray | None = None,
                     tol: float = 1e-10, max_epochs: int = 50000,
                     deadline: float | None = None, fixed_support: bool = False,
                     offset: np.ndarray | None = None, max_newton: int = 500,
                     loss_floor: float | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Minimize J(V, C) = L(A V + F C + offset) + λ Ω(V) (module docstring).

    Parameters
    ----------
    A : ndarray (n, k)        feature columns (not projected: done inside where needed).
    Y : ndarray (n, T)        targets in the loss's label format.
    lam : float               λ > 0.
    loss, penalty : str or class   of :mod:`limitsolver.losses` / :mod:`limitsolver.penalties`.
    F : ndarray (n, p), optional   free (unpenalized) columns.
    V0, C0 : ndarrays (k, T), (p, T), optional   start (zeros by default).
    tol : float               target restricted relative duality gap.
    max_epochs : int          coordinate-descent epochs (quadratic losses).
    deadline : float, optional   ``time.monotonic()`` value checked inside every loop.
    fixed_support : bool      polish on the support of V0 (nothing enters).
    offset : ndarray (n, T), optional   fixed predictions added to A V + F C.
    max_newton : int          Newton steps in all.
    loss_floor : float, optional   stop once n·L ≤ this (the free-part fit).

    Returns
    -------
    V (k × T), C (p × T), info: ``epochs``, ``newton``, ``rel_gap``, ``converged``,
    ``too_large`` (a support too large for Newton systems was met).
    """
    loss = _losses.get_loss(loss) if isinstance(loss, str) else loss
    penalty = _penalties.get_penalty(penalty) if isinstance(penalty, str) else penalty
    _check(loss, penalty)
    A = np.asarray(A, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if A.ndim != 2 or Y.ndim != 2 or A.shape[0] != Y.shape[0]:
        raise ValueError(f"A (n, k) and Y (n, T) must share n; got {A.shape} and {Y.shape}")
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    n, k, T = A.shape[0], A.shape[1], Y.shape[1]
    F = np.zeros((n, 0)) if F is None else np.asarray(F, dtype=float)
    p = F.shape[1]
    V = np.zeros((k, T)) if V0 is None else np.array(V0, dtype=float)
    C = np.zeros((p, T)) if C0 is None else np.array(C0, dtype=float)
    if F.shape[0] != n or V.shape != (k, T) or C.shape != (p, T):
        raise ValueError(f"shapes do not fit: F {F.shape}, V0 {V.shape}, C0 {C.shape} for "
                         f"n={n}, k={k}, T={T}")
    # with a loss floor (no finite optimum may exist) only the floor and a step that no
    # longer decreases J stop the iterations; otherwise the KKT test is relative to λ
    ctl = _Control(max(float(tol), 1e-15), int(max_newton), deadline, loss_floor,
                   kkt_scale=0.0 if loss_floor is not None else float(lam))
    Q = np.linalg.qr(F)[0] if p else None
    rowwise = _rowwise(penalty, T)
    h = _quadratic_curvature(loss, Y)
    info = dict(epochs=0, newton=0, rel_gap=0.0, converged=True, too_large=False)
    if h is not None:
        return _solve_quadratic(A, Y, F, Q, h, lam, loss, penalty, V, offset, ctl, tol=tol,
                                max_epochs=max_epochs, fixed=fixed_support, rowwise=rowwise)
    model = SupportModel(A, F, Y, lam, loss, penalty, offset=offset, rowwise=rowwise)
    if k == 0 and p == 0:
        info["rel_gap"] = restricted_gap(model, V, C, Q)
        return V, C, info
    V, C, rel, ok = _rounds(model, V, C, ctl, tol=tol, entering=not fixed_support, Q=Q)
    info.update(newton=ctl.steps, rel_gap=rel, converged=ok, too_large=ctl.too_large)
    return V, C, info


def _solve_quadratic(A, Y, F, Q, h, lam, loss, penalty, V, offset, ctl, *, tol, max_epochs,
                     fixed, rowwise):
    """The quadratic route: projection, Gram form, warm-up sweeps, Newton, then BCD."""
    n, k = A.shape
    T, p = Y.shape[1], F.shape[1]
    A0 = A
    Yt = Y if offset is None else Y - offset
    if Q is not None:
        A = A - Q @ (Q.T @ A)
        Yt = Yt - Q @ (Q.T @ Yt)
    G = (h / n) * (A.T @ A)
    model = SupportModel(A, np.zeros((n, 0)), Yt, lam, loss, penalty, gram=G,
                         rowwise=rowwise)
    C0 = np.zeros((0, T))
    info = dict(epochs=0, newton=0, rel_gap=0.0, converged=True, too_large=False)
    if k:
        B = -(A.T @ loss.gradient(np.zeros_like(Yt), Yt))          # ∇Q(V) = G V − B
        q0 = (np.array([loss.value(np.zeros_like(Yt), Yt)]) if rowwise else  # J(0), in all/per task
              np.array([loss.value(np.zeros((n, 1)), Yt[:, t:t + 1]) for t in range(T)]))
        if not fixed and k > WARMUP_ROWS and not V.any():
            Gr = G @ V - B
            for _ in range(WARMUP_SWEEPS):
                coordinate_sweep(G, Gr, V, lam, penalty, range(k))
        # Gram form away from interpolation only (R = G V − B has errors ~ε‖G‖‖V‖ ≫ tiny λ)
        gram = lam >= GRAM_MIN_LAM * float(np.max(penalty.dual_norms(B), initial=0.0))
        V, _, rel, ok = _rounds(model, V, C0, ctl, tol=tol, entering=not fixed, Q=None,
                                active=gram_round(G, B, lam, penalty, ctl, rowwise, q0,
                                                  entering=not fixed) if gram else None)
        epochs = 0
        if not ok and not fixed and not expired(ctl.deadline):
            V, epochs, rel = bcd_anderson(
                G, B, lam, penalty, V, tol=tol, max_epochs=max_epochs, deadline=ctl.deadline,
                rel_gap=lambda W: restricted_gap(model, W, C0))
            ok = rel <= tol
        info.update(epochs=epochs, newton=ctl.steps, rel_gap=rel, converged=ok,
                    too_large=ctl.too_large)
    else:
        info["rel_gap"] = restricted_gap(model, V, C0)
    C = np.zeros((0, T))
    if p:                          # the eliminated free part: least squares on the rest
        R = (Y if offset is None else Y - offset) - (A0 @ V if k else 0.0)
        C = np.linalg.lstsq(F, R, rcond=None)[0]
    return V, C, info
