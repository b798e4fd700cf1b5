"""`LimitSolution`: a solved limit problem — the measure's atoms, the free part, certificates."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .certificate import Certificate
from .features import augment, relu_features
from .network import Network
from .penalties import get_penalty
from .problem import LimitProblem

__all__ = ["LimitSolution", "SHARE_TOL", "MERGE_RTOL", "merge_atoms"]

#: A task t *uses* neuron j when |V_jt| ≥ SHARE_TOL · max_s |V_js|.
SHARE_TOL = 1e-2


def _normalize(theta: np.ndarray, bias: str) -> np.ndarray:
    if bias == "regularized":
        return theta / np.linalg.norm(theta, axis=-1, keepdims=True)
    return theta / np.linalg.norm(theta[..., :-1], axis=-1, keepdims=True)


#: ``merge_atoms``: a merged neuron must reproduce its atoms' combined output on the data to
#: this relative tolerance (Frobenius norm over samples and tasks).
MERGE_RTOL = 0.05


def merge_atoms(directions: np.ndarray, weights: np.ndarray, grid: np.ndarray | None,
                bias: str, *, cos_min: float = 0.9, X: np.ndarray | None = None,
                rtol: float = MERGE_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Merge active atoms that sit on neighbouring grid points (a summary of the measure).

    Two atoms are neighbours when their distance is at most 1.5 × the larger of their
    distances to the nearest other grid direction, and their weight vectors point the same
    way (cosine ≥ ``cos_min``). Neighbouring pairs are considered closest first; the
    clusters of the two atoms are fused only if the fused neuron — weight Σ V_j and direction
    the ‖V_j‖-weighted mean of the θ_j, renormalized — is genuinely one neuron:

    - every atom of the fused cluster lies within that same neighbour radius (1.5 × the
      largest nearest-grid distance of its atoms) of the fused direction, so merging cannot
      chain along a run of neighbours into a far-reaching cluster; and
    - with inputs ``X`` (n, d) given, the fused neuron's output V·relu(θ·x̃_i) reproduces the
      cluster's combined output Σ_j V_j relu(θ_j·x̃_i) to relative tolerance ``rtol``
      (Frobenius norm over samples and tasks).

    Returns
    -------
    directions : ndarray (k, d+1);  weights : ndarray (k, T)
    """
    directions = np.asarray(directions, dtype=float)
    weights = np.asarray(weights, dtype=float)
    k = directions.shape[0]
    if k <= 1:
        return directions.copy(), weights.copy()
    from scipy.spatial import cKDTree
    if grid is not None and len(grid) > 1:
        tree = cKDTree(np.asarray(grid, dtype=float))
        dist, _ = tree.query(directions, k=min(8, len(grid)))
        # the nearest *other* grid direction (an atom usually sits on a grid point, which
        # may be listed more than once)
        dist[dist <= 1e-12] = np.inf
        h = np.min(dist, axis=1)
        h[~np.isfinite(h)] = 0.0
    else:
        h = np.zeros(k)
    radius = 1.5 * h
    nrm = np.linalg.norm(weights, axis=1)
    pairs = cKDTree(directions).query_pairs(float(radius.max()) if k else 0.0,
                                            output_type="ndarray") if radius.max() > 0 \
        else np.zeros((0, 2), dtype=int)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        dij = np.linalg.norm(directions[i] - directions[j], axis=1)
        cos = np.sum(weights[i] * weights[j], axis=1) / np.maximum(nrm[i] * nrm[j], 1e-300)
        ok = (dij <= np.maximum(radius[i], radius[j])) & (cos >= cos_min)
        order = np.argsort(dij[ok], kind="stable")
        pairs = pairs[ok][order]
    Xa = None if X is None else augment(np.asarray(X, dtype=float))
    members = {r: [r] for r in range(k)}
    root = np.arange(k)
    out = {}

    def output(idx):
        return relu_features(Xa, directions[idx]) @ weights[idx]

    def fused(idx):
        w = nrm[idx]
        theta = _normalize((w[:, None] * directions[idx]).sum(0) / max(w.sum(), 1e-300), bias)
        return theta, weights[idx].sum(0)

    for i, j in pairs:
        a, b = root[i], root[j]
        if a == b:
            continue
        idx = np.array(members[a] + members[b])
        theta, v = fused(idx)
        if np.max(np.linalg.norm(directions[idx] - theta, axis=1)) > radius[idx].max():
            continue
        if Xa is not None:
            fa = out[a] if a in out else output(np.array(members[a]))
            fb = out[b] if b in out else output(np.array(members[b]))
            target = fa + fb
            got = relu_features(Xa, theta[None, :]) @ v[None, :]
            if np.linalg.norm(got - target) > rtol * np.linalg.norm(target):
                continue
            out[a] = target
            out.pop(b, None)
        members[a] = list(idx)
        root[members.pop(b)] = a
    dirs, ws = [], []
    for r in sorted(members):
        idx = np.array(members[r])
        if len(idx) == 1:
            dirs.append(directions[idx[0]].copy())
            ws.append(weights[idx[0]].copy())
        else:
            theta, v = fused(idx)
            dirs.append(theta)
            ws.append(v)
    return np.array(dirs), np.array(ws)


class LimitSolution:
    """The solution of a limit problem: a finite measure μ = Σ_j V_j δ_{θ_j} plus a free part.

    The fitted function is ``f(x) = Σ_j V_j relu(θ_j·x̃) + c + Aᵀx`` (free part as chosen).

    Attributes
    ----------
    problem : LimitProblem
    objective : float
        J at the returned point (upper bound on the grid optimum and on OPT).
    dual_value : float
        Certified lower bound on the grid problem's optimum.
    gap, rel_gap : float
        objective − dual_value, and that over |objective| (grid certificate).
    lower_bound, limit_gap : float or None
        Certified lower bound on the infinite-width OPT and objective − lower_bound, where
        computed (see :mod:`limitsolver.oracle`): the dual point is scaled by λ / U, U a
        certified upper bound on sup_Θ ‖c(θ)‖. ``lower_bound_exact`` is True iff that sup
        was computed exactly (d ≤ 2); otherwise U comes from branch and bound
        (:mod:`limitsolver.bound`). ``info["lower_bound_method"]`` is "exact" or "bounded",
        ``info["sup_interval"]`` = (best value found, U) and ``info["sup_rtol"]`` its
        relative width.
    atom_directions : ndarray (k0, d+1), atom_weights : ndarray (k0, T)
        The exact atoms (what :meth:`predict` and the certificates use).
    directions : ndarray (k, d+1), weights : ndarray (k, T)
        Active neurons with near-duplicates on neighbouring grid points merged (a summary,
        :func:`merge_atoms`: only atoms within a grid spacing of the merged neuron, whose
        merged output reproduces theirs on the data to ``MERGE_RTOL`` = 5 %; the merged
        function can differ slightly from the certified one).
    intercept : ndarray (T,)     free constant c (zeros when ``free="none"``).
    affine : ndarray (d, T) or None   free linear part A (``free="affine"`` only).
    status : str
        "optimal" iff the certificate this solution carries for the problem it claims to
        solve meets the requested ``tol``, else "inaccurate" (:mod:`limitsolver.status`,
        the one place that sets it). A refined solution claims the infinite-width problem:
        its relative limit gap (objective − lower_bound) / |objective| with a certified
        (exact) lower bound decides; a plain grid solve claims its grid problem: the grid
        gap decides. ``info["status_basis"]`` says which ("limit" or "grid"); the inner
        backends' own verdicts never set it (they are in ``info["backend_status"]``).
    solver : str                 backend that produced the point.
    grid : ndarray (M, d+1) or None
        The direction set solved over (for warm starts).
    grid_weights : ndarray (M, T) or None
        The weights on every direction of ``grid`` (zero rows included): the full grid
        point (V, C) the certificate was computed for, row j belonging to ``grid[j]``
        (warm starts, Newton polishing, re-certification). Set by the grid solve and the
        refinement; None when the solution was not computed on a grid.
    info : dict                  timings, iterations, backend details.
    extras : dict
        Attributes a loaded file carried beyond the schema (:mod:`limitsolver.io`); empty
        otherwise.
    """

    def __init__(self, problem: LimitProblem, atom_directions: np.ndarray,
                 atom_weights: np.ndarray, free_coef: np.ndarray, certificate: Certificate,
                 *, status: str, solver: str, grid: np.ndarray | None = None,
                 info: dict | None = None, grid_weights: np.ndarray | None = None) -> None:
        self.problem = problem
        self.atom_directions = np.asarray(atom_directions, dtype=float).reshape(-1, problem.dim)
        self.atom_weights = np.asarray(atom_weights, dtype=float).reshape(-1, problem.T)
        self.free_coef = np.asarray(free_coef, dtype=float).reshape(-1, problem.T)
        self.certificate = certificate
        self.objective = float(certificate.primal)
        self.dual_value = float(certificate.dual)
        self.gap = float(certificate.gap)
        self.rel_gap = float(certificate.rel_gap)
        self.lower_bound = None
        self.limit_gap = None
        self.lower_bound_exact = None
        self.status = status
        self.solver = solver
        self.grid = grid
        self.grid_weights = grid_weights
        if grid_weights is not None and grid is not None \
                and np.shape(grid_weights) != (np.shape(grid)[0], problem.T):
            raise ValueError(f"grid_weights must have shape ({np.shape(grid)[0]}, "
                             f"{problem.T}) (one row per grid direction), got "
                             f"{np.shape(grid_weights)}")
        self.info = dict(info or {})
        self.extras = {}
        # the merged summary is computed on first access (refinement builds many
        # intermediate solutions nobody reads it from), against the grid given here
        self._merge_grid = grid
        self._merged = None

    def _summary(self):
        if self._merged is None:
            self._merged = merge_atoms(self.atom_directions, self.atom_weights,
                                       self._merge_grid, self.problem.bias, X=self.problem.X)
        return self._merged

    @property
    def directions(self) -> np.ndarray:
        """Active neurons with near-duplicates on neighbouring grid points merged (k, d+1)."""
        return self._summary()[0]

    @directions.setter
    def directions(self, value: np.ndarray) -> None:
        self._merged = (np.asarray(value), self._summary()[1])

    @property
    def weights(self) -> np.ndarray:
        """Weights of :attr:`directions` (k, T)."""
        return self._summary()[1]

    @weights.setter
    def weights(self, value: np.ndarray) -> None:
        self._merged = (self._summary()[0], np.asarray(value))

    # the free part -------------------------------------------------------------------
    @property
    def intercept(self) -> np.ndarray:
        """Free constant c (T,), zeros when ``free="none"``."""
        if self.problem.free == "none":
            return np.zeros(self.problem.T)
        return self.free_coef[0].copy()

    @property
    def affine(self) -> np.ndarray | None:
        """Free linear part A (d, T) for ``free="affine"``, else None."""
        if self.problem.free != "affine":
            return None
        return self.free_coef[1:].copy()

    # summaries -----------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        """Number of active neurons after merging."""
        return int(self.directions.shape[0])

    def task_usage(self, tol: float = SHARE_TOL) -> np.ndarray:
        """Boolean (k, T): task t uses neuron j when |V_jt| ≥ tol · max_s |V_js|."""
        W = np.abs(self.weights)
        if W.size == 0:
            return np.zeros((0, self.problem.T), dtype=bool)
        return W >= tol * W.max(axis=1, keepdims=True)

    @property
    def shared_fraction(self) -> float:
        """Fraction of active (merged) neurons used by more than one task; a task uses a
        neuron when its weight is at least ``SHARE_TOL`` (1 %) of the neuron's largest task
        weight. 0.0 when there are no neurons."""
        use = self.task_usage()
        if use.shape[0] == 0:
            return 0.0
        return float(np.mean(use.sum(axis=1) > 1))

    def penalty_value(self, penalty: str | None = None) -> float:
        """Ω(μ) of the atoms: Σ_j ‖V_j‖₂ (group) or Σ_j Σ_t |V_jt| (l1); λ not included.
        ``penalty`` defaults to the problem's own."""
        return get_penalty(penalty or self.problem.penalty).value(self.atom_weights)

    # evaluation ----------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        """f(X) for inputs X (m, d) or (m,) when d = 1; returns (m, T)."""
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 and self.problem.d == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != self.problem.d:
            raise ValueError(f"X must have shape (m, {self.problem.d}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or inf")
        out = relu_features(augment(X), self.atom_directions) @ self.atom_weights
        if self.problem.free != "none":
            out = out + self.free_coef[0]
        if self.problem.free == "affine":
            out = out + X @ self.free_coef[1:]
        return out

    def kinks(self) -> np.ndarray:
        """1-D inputs: kink positions x = −b/w of the active (merged) neurons, shape (k,)."""
        if self.problem.d != 1:
            raise ValueError("kinks are defined for 1-D inputs")
        w, b = self.directions[:, 0], self.directions[:, 1]
        with np.errstate(divide="ignore"):
            return np.where(np.abs(w) > 1e-14, -b / np.where(w == 0, 1, w), np.inf)

    def summary(self) -> str:
        """A few lines: objective, certificates, neurons, status."""
        p = self.problem
        lines = [f"LimitSolution(loss={p.loss}, penalty={p.penalty}, bias={p.bias}, "
                 f"free={p.free}, lam={p.lam:g})",
                 f"  objective      {self.objective:.10g}",
                 f"  grid gap       {self.gap:.3e} (relative {self.rel_gap:.3e})"]
        if self.lower_bound is not None:
            how = self.info.get("lower_bound_method") if isinstance(self.info, dict) else None
            kind = ("certified" if self.lower_bound_exact else
                    f"certified, sup bounded to {self.info.get('sup_rtol', np.nan):.1e}"
                    if how == "bounded" else "estimate")
            lines.append(f"  lower bound    {self.lower_bound:.10g} ({kind}); limit gap "
                         f"{self.limit_gap:.3e}")
        lines.append(f"  to the limit   {self.limit_gap_text}")
        lines += [f"  neurons        {self.n_neurons} (shared by >1 task: "
                  f"{self.shared_fraction:.0%})",
                  f"  status         {self.status} ({self.solver})"]
        return "\n".join(lines)

    def to_network(self) -> Network:
        """The limit as a finite network (:class:`~limitsolver.network.Network`).

        Each exact atom (θ_j, V_j) becomes one balanced neuron (w, b) = √‖V_j‖ θ_j,
        v = V_j / √‖V_j‖ (so ‖v‖ = ‖(w, b)‖, resp. ‖w‖ for free bias), plus the free part;
        with ``penalty="l1"`` each atom is split into one neuron per task (a block
        network). The network's training objective equals :attr:`objective` (to rounding).
        """
        p = self.problem
        if p.penalty not in ("group", "l1"):
            raise ValueError(f"penalty={p.penalty!r} has no network form")
        return Network.from_measure(
            self.atom_directions, self.atom_weights, bias=p.bias, free=p.free,
            intercept=self.intercept if p.free != "none" else None, affine=self.affine,
            penalty=p.penalty)

    # saving ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> str:
        """Write this solution to one ``.npz`` file (arrays + JSON metadata, no pickle);
        returns the path written. See :mod:`limitsolver.io_format`."""
        from .io_format import write_solution
        return write_solution(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> LimitSolution:
        """Read a solution written by :meth:`save` (bit-identical arrays and floats),
        validated and re-certified against its stored data (:mod:`limitsolver.io_verify`;
        ValueError for a damaged, edited or foreign file)."""
        from .io_verify import read_solution
        return read_solution(path, cls)

    @property
    def limit_certified(self) -> bool | None:
        """Whether ``lower_bound`` is a certified bound on OPT (exact sup over Θ, or a
        rigorous bound on it: ``info["lower_bound_method"]`` "exact"/"bounded"); None when
        no limit certificate was computed."""
        if self.lower_bound is None:
            return None
        method = self.info.get("lower_bound_method")
        return method in ("exact", "bounded") if method is not None else bool(
            self.lower_bound_exact)

    @property
    def limit_gap_text(self) -> str:
        """The distance to the infinite-width optimum in words: "certified ≤ 1.2e-09
        relative", "estimated 3.4e-05 relative (not certified)" or "not computed"."""
        if self.lower_bound is None:
            return "not computed"
        rel = self.info.get("limit_rel_gap")
        if rel is None:
            rel = self.limit_gap / max(abs(self.objective), 1e-300)
        rel = max(float(rel), 0.0)
        if self.limit_certified:
            return f"certified <= {rel:.1e} relative"
        return f"estimated {rel:.1e} relative (not certified)"

    def __repr__(self) -> str:
        return (f"<LimitSolution objective={self.objective:.6g} gap={self.gap:.2e} "
                f"limit={self.limit_gap_text!r} "
                f"neurons={self.n_neurons} status={self.status!r} solver={self.solver!r}>")
