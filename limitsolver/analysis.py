"""Reading a solved limit: the kernel of its neurons and new tasks on frozen neurons.

A solution μ = Σ_j V_j δ_{θ_j} (atoms θ_j ∈ R^{d+1}, output weights V_j ∈ R^T) defines the
features φ_j(x) = relu(θ_j·x̃), x̃ = (x, 1). Two tools use them:

- :func:`neuron_kernel`: K(x, x′) = Σ_j s_j φ_j(x) φ_j(x′) with neuron weights s_j ≥ 0;
- :func:`fit_frozen`: new tasks fitted on the frozen features (transfer), a ridge or
  minimum-norm linear head per task, with the head's own duality-gap certificate.

Why s_j = ‖V_j‖₂ (``weights="output_norm"``). For every row V_j,
‖V_j‖₂ = min_{s > 0} (‖V_j‖₂² / (2s) + s/2), attained at s = ‖V_j‖₂. Hence, on a fixed set
of atoms, the group objective L(ΦV) + λ Σ_j ‖V_j‖₂ is the minimum over s ≥ 0 of

    Σ_t [ L_t(Φ v_t) + (λ/2) Σ_j v_jt² / s_j ] + (λ/2) Σ_j s_j,

and at the optimal s_j = ‖V_j‖₂ each task t separately solves a ridge (or, for
``loss="interpolate"``, a minimum-norm) problem in the features √s_j φ_j, i.e. kernel ridge
regression / minimum-norm interpolation in K with s_j = ‖V_j‖₂. So task t of a group solution
*is* the kernel solution in the kernel of its own neurons weighted by their output norms
(the representation-cost kernel of Nakhleh, Shenouda & Nowak, arXiv 2410.21696, and of the
line of work of Heiss, Teichmann & Wutte, arXiv 2112.15577). The paper's observation is that
with many tasks the weights s_j hardly depend on any single task: the norms over the *other*
tasks (``tasks=`` below) give nearly the same kernel. ``weights="uniform"`` (s_j = 1) is the
plain kernel of the frozen features; ``weights`` may also be an array (k,) of one's own.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import ConvergenceWarning
from .features import augment, relu_features
from .solution import LimitSolution

__all__ = ["neuron_weights", "neuron_kernel", "fit_frozen", "FrozenFit"]

#: Atoms whose output-weight norm is at most this fraction of the largest are dropped.
ACTIVE_RTOL = 1e-12


def _check_X(solution, X, name="X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    d = solution.problem.d
    if X.ndim == 1 and d == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"{name} must have shape (m, {d}), got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or inf")
    return X


def _task_index(solution, tasks) -> np.ndarray:
    T = solution.problem.T
    if tasks is None:
        return np.arange(T)
    idx = np.atleast_1d(np.asarray(tasks))
    if idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < -T or idx.max() >= T:
        raise ValueError(f"tasks must be a non-empty list of task indices in [0, {T}), "
                         f"got {tasks!r}")
    return np.unique(idx % T)


def _active(solution):
    """The solution's atoms with a non-zero output weight: (directions (k, d+1), V (k, T))."""
    D, V = solution.atom_directions, solution.atom_weights
    nrm = np.linalg.norm(V, axis=1)
    keep = nrm > ACTIVE_RTOL * max(float(nrm.max(initial=0.0)), 1e-300)
    return D[keep], V[keep]


def neuron_weights(solution: LimitSolution, weights: str | np.ndarray = "output_norm", *,
                   tasks: Sequence[int] | None = None) -> np.ndarray:
    """The neuron weights s_j ≥ 0 of the active atoms (k,), in the order of
    ``solution.atom_directions`` with zero-weight atoms removed.

    ``weights``: ``"output_norm"`` s_j = ‖V_{j, tasks}‖₂ (the output weights restricted to
    ``tasks``, all tasks by default), ``"uniform"`` s_j = 1, or an array of k values ≥ 0.
    """
    _, V = _active(solution)
    k = V.shape[0]
    if isinstance(weights, str):
        if weights == "output_norm":
            return np.linalg.norm(V[:, _task_index(solution, tasks)], axis=1)
        if weights == "uniform":
            return np.ones(k)
        raise ValueError(f"unknown weights={weights!r}; expected 'output_norm', 'uniform' "
                         "or an array of neuron weights")
    s = np.asarray(weights, dtype=float)
    if s.shape != (k,) or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"weights must be {k} finite values >= 0 (one per active atom), "
                         f"got shape {s.shape}")
    return s


def _scaled_features(solution, X, weights, tasks):
    D, _ = _active(solution)
    s = neuron_weights(solution, weights, tasks=tasks)
    return relu_features(augment(X), D) * np.sqrt(s)


def neuron_kernel(solution: LimitSolution, X1: Any, X2: Any = None, *,
                  weights: str | np.ndarray = "output_norm",
                  tasks: Sequence[int] | None = None) -> np.ndarray:
    """The kernel of a solution's neurons, K(x, x′) = Σ_j s_j relu(θ_j·x̃) relu(θ_j·x̃′).

    Parameters
    ----------
    solution : LimitSolution
    X1 : array_like (m1, d);  X2 : array_like (m2, d), optional (default X1)
    weights : {"output_norm", "uniform"} or ndarray (k,)
        The neuron weights s_j (see :func:`neuron_weights` and the module docstring:
        s_j = ‖V_j‖₂ makes each task of a group solution the kernel solution in K).
    tasks : sequence of int, optional
        With ``"output_norm"``, the tasks whose weights define s_j (default all).

    Returns
    -------
    K : ndarray (m1, m2), symmetric positive semi-definite when X2 is X1.
    """
    X1 = _check_X(solution, X1, "X1")
    P1 = _scaled_features(solution, X1, weights, tasks)
    if X2 is None:
        return P1 @ P1.T
    P2 = _scaled_features(solution, _check_X(solution, X2, "X2"), weights, tasks)
    return P1 @ P2.T


class FrozenFit:
    """Linear heads fitted on a solution's frozen neurons (:func:`fit_frozen`).

    Attributes
    ----------
    directions : ndarray (k, d+1)     the frozen atoms θ_j.
    scale : ndarray (k,)              √s_j, the feature scaling.
    coef : ndarray (k, T′)            head weights w on the features √s_j φ_j.
    free_coef : ndarray (p, T′)       unpenalized free part (p = 0, 1 or d+1).
    free : str                        "none", "intercept" or "affine".
    lam : float                       ridge strength (0 for minimum norm).
    objective : ndarray (T′,)         P_t at the head, per task (ridge only, else NaN).
    dual_value : ndarray (T′,)        D_t(z_t) ≤ min P_t, per task (ridge only, else NaN).
    gap, rel_gap : float              Σ_t (P_t − D_t) ≥ Σ_t (P_t − min P_t), and over Σ_t P_t.
    train_mse : ndarray (T′,)         mean squared residual on the fitting data.
    normal_residual : float           max |Ψᵀ(I − FF⁺) r / n − λ w| over tasks and neurons: the
                                      stationarity residual (for λ = 0 the only check).
    """

    def __init__(self, directions: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 free_coef: np.ndarray, free: str, lam: float, objective: np.ndarray,
                 dual_value: np.ndarray, train_mse: np.ndarray,
                 normal_residual: float) -> None:
        self.directions, self.scale = directions, scale
        self.coef, self.free_coef, self.free, self.lam = coef, free_coef, free, lam
        self.objective, self.dual_value = objective, dual_value
        self.gap = float(np.sum(objective - dual_value))
        self.rel_gap = self.gap / max(float(np.sum(np.abs(objective))), 1e-300)
        self.train_mse, self.normal_residual = train_mse, normal_residual

    def features(self, X: Any) -> np.ndarray:
        """Ψ(X) = [√s_j relu(θ_j·x̃)] (m, k)."""
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 and self.directions.shape[1] == 2:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != self.directions.shape[1] - 1:
            raise ValueError(f"X must have shape (m, {self.directions.shape[1] - 1}), "
                             f"got {X.shape}")
        return relu_features(augment(X), self.directions) * self.scale

    def predict(self, X: Any) -> np.ndarray:
        """Ψ(X) w + free part, shape (m, T′)."""
        X2 = np.asarray(X, dtype=float).reshape(len(X), -1)
        return self.features(X2) @ self.coef + _free_columns(X2, self.free) @ self.free_coef


def _free_columns(X, free):
    if free == "none":
        return np.zeros((X.shape[0], 0))
    if free == "intercept":
        return np.ones((X.shape[0], 1))
    return np.hstack([np.ones((X.shape[0], 1)), X])


def fit_frozen(solution: LimitSolution, X: Any, Y_new: Any, *, lam: float = 1e-3,
               ridge: bool = True, weights: str | np.ndarray = "uniform",
               tasks: Sequence[int] | None = None, free: str | None = None) -> FrozenFit:
    """Fit new tasks on the frozen neurons of ``solution`` (transfer).

    Features Ψ_ij = √s_j relu(θ_j·x̃_i) of the active atoms (s_j from ``weights``, as in
    :func:`neuron_kernel`), free columns F (n, p) as ``free`` (default: the solution's own).
    Per new task t (a column y of ``Y_new``):

    - ``ridge=True`` (λ = ``lam`` > 0):  min_{w, c} P(w, c) = (1/(2n))‖y − Ψw − Fc‖² + (λ/2)‖w‖²,
      i.e. kernel ridge regression in K = ΨΨᵀ (the kernel of :func:`neuron_kernel`) with
      the MATH.md loss scale; solved exactly by a least-squares solve.
    - ``ridge=False``: the minimum-‖w‖ least-squares head (minimum-norm interpolation in K
      when Ψ, F can fit the data); ``lam`` is ignored. No duality gap (not strongly convex):
      ``normal_residual`` is the check.

    Certificate of the ridge head (per task, summed in ``gap``). For any z ∈ R^n with
    Fᵀz = 0 and any (w, c), writing r = y − Ψw − Fc:
    (1/(2n))‖r‖² ≥ (1/n)⟨r, z⟩ − (1/(2n))‖z‖²   (from ‖r − z‖² ≥ 0), and
    ⟨r, z⟩ = ⟨y, z⟩ − ⟨w, Ψᵀz⟩ (as ⟨Fc, z⟩ = 0), and
    (λ/2)‖w‖² − (1/n)⟨w, Ψᵀz⟩ ≥ −‖Ψᵀz‖² / (2λn²)   (minimum over w at w = Ψᵀz/(λn)). So

        P(w, c) ≥ D(z) = (1/n)⟨y, z⟩ − (1/(2n))‖z‖² − ‖Ψᵀz‖² / (2λn²)   for every (w, c),

    hence P(ŵ, ĉ) − D(z) ≥ P(ŵ, ĉ) − min P. The dual point is the head's residual projected
    on F⊥, z = (I − FF⁺)r; at the exact optimum r ⊥ F and ŵ = Ψᵀr/(λn), both inequalities
    are equalities and the gap is 0 (strong convexity in w makes the optimum unique).

    Parameters
    ----------
    solution : LimitSolution
    X : array_like (n, d);  Y_new : array_like (n, T′) or (n,)
    lam : float            ridge strength λ > 0 (``ridge=True``).
    weights, tasks         neuron weights s_j (default ``"uniform"``, s_j = 1).
    free : {"none", "intercept", "affine"}, optional

    Returns
    -------
    FrozenFit
    """
    X = _check_X(solution, X)
    Y = np.asarray(Y_new, dtype=float)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != X.shape[0] or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y_new must be finite with shape ({X.shape[0]}, T'), got {Y.shape}")
    free = solution.problem.free if free is None else free
    if free not in ("none", "intercept", "affine"):
        raise ValueError(f"unknown free={free!r}; expected 'none', 'intercept' or 'affine'")
    if ridge and (isinstance(lam, bool) or not np.isscalar(lam) or not np.isfinite(lam)
                  or lam <= 0):
        raise ValueError(f"lam must be a finite number > 0 for a ridge head, got {lam!r}")
    D, _ = _active(solution)
    scale = np.sqrt(neuron_weights(solution, weights, tasks=tasks))
    Psi = relu_features(augment(X), D) * scale
    F = _free_columns(X, free)
    n, k = Psi.shape
    proj = (lambda A: A - F @ np.linalg.lstsq(F, A, rcond=None)[0]) if F.shape[1] else \
        (lambda A: A)
    Pp, Yp = proj(Psi), proj(Y)
    if ridge:
        lam = float(lam)
        A = np.vstack([Pp, np.sqrt(n * lam) * np.eye(k)])
        W = np.linalg.lstsq(A, np.vstack([Yp, np.zeros((k, Y.shape[1]))]), rcond=None)[0]
    else:
        lam = 0.0
        W = np.linalg.lstsq(Pp, Yp, rcond=None)[0]
    C = np.linalg.lstsq(F, Y - Psi @ W, rcond=None)[0] if F.shape[1] else \
        np.zeros((0, Y.shape[1]))
    R = Y - Psi @ W - F @ C
    normal = float(np.max(np.abs(Psi.T @ proj(R) / n - lam * W))) if k else 0.0
    if ridge:
        P = 0.5 * np.sum(R * R, 0) / n + 0.5 * lam * np.sum(W * W, 0)
        Z = proj(R)
        G = Psi.T @ Z
        Dv = (np.sum(Y * Z, 0) / n - 0.5 * np.sum(Z * Z, 0) / n
              - np.sum(G * G, 0) / (2 * lam * n * n))
    else:
        P = Dv = np.full(Y.shape[1], np.nan)
    fit = FrozenFit(D.copy(), scale, W, C, free, lam, P, Dv, np.mean(R * R, 0), normal)
    if ridge and fit.rel_gap > 1e-8:
        warnings.warn(f"frozen-feature ridge head certified only to relative gap "
                      f"{fit.rel_gap:.1e}", ConvergenceWarning, stacklevel=2)
    return fit
