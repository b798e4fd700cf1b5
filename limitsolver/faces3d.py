"""Exact sup of the correlation over Θ for d = 3, by enumerating the faces of the arrangement.

For a dual candidate Z (m × T, rows of identical inputs merged) and x̃_i = (x_i, 1) ∈ R⁴,

    c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i) ∈ R^T,   S = sup_{θ ∈ Θ} ‖c(θ)‖,

‖·‖ = ‖·‖₂ (``group``) or ‖·‖_∞ (``l1``), Θ = S³ (``bias="regularized"``) or the cylinder
{‖w‖ = 1, |b| ≤ R} (``bias="free"``, R ≥ max_i ‖x_i‖).

Faces. The hyperplanes H_i = {θ·x̃_i = 0} cut R⁴ into relatively open polyhedral cones (the
faces of the arrangement). On a face F with activation pattern a (a_i = 1[θ·x̃_i > 0]) and
linear span L_F, c(θ) = M_a θ with M_a = (1/n) Σ_{i: a_i = 1} Z_i x̃_iᵀ (T × 4), also on the
closure of F (c is continuous). Every θ lies in the relative interior of exactly one face.

Completeness (sphere, group). Let θ* be a maximizer of ‖c‖ on S³ chosen, among all
maximizers, in a face F of smallest dimension. F ∩ S³ is open in the sphere L_F ∩ S³ and
‖c‖² = θᵀ M_aᵀ M_a θ there, so θ* is a local maximizer of a quadratic form on a sphere:
it lies in the top eigenspace E of the form restricted to L_F (an eigenvector of a smaller
eigenvalue μ is not a local maximum: with u a top eigenvector orthogonal to it,
cos t·v + sin t·u raises the value to μ cos²t + λ sin²t). If dim E ≥ 2 and E ⊄ closure(F), a
great circle of E from θ* to a point of E outside closure(F) leaves closure(F) at a point of
value λ = S on a smaller face — against the choice of F. Hence either E is a line (θ* = ±v,
v the eigenvector computed) or E ⊂ closure(F) (every computed v ∈ E has value S). Either
way ±v of the top eigenvector of F's restricted form attains S. So S is the largest of
    - vertices (dim L_F = 1): the points ±u of L_F ∩ S³;
    - edges (dim 2, a great circle of L_F = H_i ∩ H_j): ±(top eigenvector), when in the arc;
    - 2-faces (dim 3, in one H_i): ±(top eigenvector of the 3 × 3 form in a basis of H_i);
    - cells (dim 4): ±(top eigenvector of M_aᵀ M_a).
For ``l1``, sup max_t |c_t| = max_t sup |c_t|, and for one column the form has rank one: its
top eigenvector is the normalized projected row, P_L m_t / ‖P_L m_t‖; the columns are done one
after the other (candidates of every column, every value with the full ‖·‖_∞).

Enumeration. Every vertex and edge lies on a circle L_{ij} = H_i ∩ H_j ∩ Θ; every 2-face and
cell has an edge in its closure as soon as the x̃_i span a space of dimension ≥ 2 (two
distinct inputs; the case m = 1 is added directly): the faces of a polyhedral cone whose
lineality space has dimension ≤ 2 include a 2-dimensional one. So each circle is walked once:
the other hyperplanes cross it at 2(m − 2) angles; sorting them gives the arcs (edges) and
the vertices, and the form of every arc by a cumulative sum of rank-one changes ±Z_k x̃_kᵀ
(each crossing switches one input on or off), O(m T) per circle. Next to an arc of L_{ij}
lie the 2-faces in H_i with j on or off, those in H_j with i on or off, and the four cells
(i, j) ∈ {on, off}²; when further inputs k lie on the circle (x̃_k ∈ span(x̃_i, x̃_j), three
collinear inputs) the adjacent faces are read off the lines {δ·x̃_k = 0} in the normal plane
span(x̃_i, x̃_j) (sectors: cells; rays: 2-faces), once per distinct circle.

Cylinder (free bias). For fixed w, b ↦ c(w, b) is piecewise linear with breakpoints
b = −w·x_i, and a norm of an affine map is convex, so the max over b ∈ [−R, R] is at a
breakpoint or at b = ±R. At b = −R every input is off (c = 0); at b = R every input is on,
c = G w + h (G = Zᵀ X / n, h = R Σ_i Z_i / n), a trust-region problem on S²: its global
maximizers satisfy G ᵀ(G w + h) = μ w with μ ≥ λ_max(GᵀG), found from the secular equation
Σ_k g_k² / (μ − λ_k)² = 1 (g = Gᵀh in the eigenbasis of GᵀG), plus the hard case μ = λ_max;
for ``l1``, w = ±G_t / ‖G_t‖. On the wall H_i, θ = Q_i w with Q_i = [I; −x_iᵀ] and ‖w‖ = 1,
and c(Q_i w) is the d = 2 problem in w ∈ S² with inputs x_k − x_i: its faces are the 2-faces,
edges and vertices above, with eigenproblems in the metric ‖w‖ (bases of the circles
w ⊥ x_j − x_i orthonormal in w). No cell interiors enter.

Pruning (each test only drops a candidate that cannot be the maximizer θ* chosen above).
    - Claims: a face's claim is λ_max of its form (2-faces, cells) or its value (vertices,
      edges inside their arcs); its candidates are ±v. Claims ≤ τ = (best true value so
      far)·(1 + 1e-12) are dropped (θ*'s face claims S). Screens before the eigenpair,
      all upper bounds on λ_max(HᵀH) for H = A·basis: ‖A‖_F²‖basis‖₂², ‖H‖_F², ‖HHᵀ‖_F;
      then closed-form eigenpairs with slack; survivors get LAPACK eigenpairs.
    - Sides: v must lie on the face's side of i, j and of the two inputs switched at the
      arc's ends (the faces next to an arc share its pattern off {i, j}); slack 1e-9.
    - Kink (2-face in H_i, pattern a with i off, A = M_a): θ* is a local max of ‖c‖ on Θ
      and crossing H_i moves into the cells of patterns a and a + e_i; with δ crossing H_i
      (δ = x̃_i on the sphere, tangent there as θ*·x̃_i = 0; δ = e_b on the cylinder) the
      one-sided derivatives of ½‖c‖² are −c·Aδ (into a) and c·Aδ + c·W_iδ (into a + e_i,
      W_i = Z_i x̃_iᵀ/n), c = Aθ*, so 0 ≤ c·Aδ ≤ −c·W_iδ (with slack). This holds at the
      v of the proof (v = ±θ*, or v ∈ E in the open face, itself a maximizer). On the
      cylinder a maximizer on a wall with |b| = R lies on the top face (b = R), whose
      candidates are exact without any test.

Exactness and cost. Every candidate is evaluated with the true relu before it counts, so the
value returned is ‖c‖ at a returned direction (≤ S). Candidates are evaluated in decreasing
order of claim until no claim exceeds the best true value by more than a relative 1e-12;
θ*'s candidate claims S, so the result is S up to rounding. Circles: m(m − 1)/2, with
2(m − 2) arcs each: O(m³) arcs, O(m³ T) work for their forms and O(1) faces per arc (×T
for l1), in blocks of circles of about ``block_bytes``; the true-relu evaluations cost
O(m T) each. Measured times: ``EXACT_MAX_N_3D``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .faces3d_pool import CandidatePool, walk_circles
from .workers import default_workers

__all__ = ["Faces3DResult", "exact_sup_3d", "FACES3D_BLOCK_BYTES", "EXACT_MAX_N_3D"]

#: ``sup_correlation(exact=None)`` uses this oracle for d = 3 up to this many distinct
#: inputs, the certified branch and bound beyond (``exact=True`` forces it at any size).
#: One core, T = 3, group, sphere: about 0.3 s at 50 inputs for a random candidate and
#: 0.8 s for the residual of a grid solution; 2 s / 7 s at 100; 6–17 s (random) at 200
#: (``benchmarks/bench_faces3d.py``).
EXACT_MAX_N_3D = 50

#: Approximate memory per block of circles (bytes).
FACES3D_BLOCK_BYTES = 24 * 2**20



@dataclass
class Faces3DResult:
    """Result of :func:`exact_sup_3d`.

    value : float — S (up to rounding); direction : ndarray (4,) — a maximizer;
    directions, values : ndarray (k, 4), (k,) — distinct best evaluated directions, best
    first; n_candidates : int — candidates with a claim; n_evaluated : int — candidates
    evaluated with the true relu; n_degenerate_circles : int — circles holding ≥ 3 inputs.
    """

    value: float
    direction: np.ndarray
    directions: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    n_candidates: int = 0
    n_evaluated: int = 0
    n_degenerate_circles: int = 0


# ---------------------------------------------------------------------------------------
# the top face of the cylinder (b = R, every input on)
# ---------------------------------------------------------------------------------------
def _top_face(X, Z, n, radius, penalty):
    """Maximizers of ‖G w + h‖ over w ∈ S² (see the module docstring), as θ = (w, R)."""
    G = Z.T @ X / n                                             # (T, 3)
    h = radius * Z.sum(axis=0) / n
    W = [np.eye(3), -np.eye(3)]
    if penalty == "l1":
        nr = np.linalg.norm(G, axis=1, keepdims=True)
        U = G / np.maximum(nr, 1e-300)
        W += [U, -U]
    else:
        lam, V = np.linalg.eigh(G.T @ G)
        lam, V = lam[::-1], V[:, ::-1]
        g = V.T @ (G.T @ h)
        if np.any(g != 0):
            lo, hi = lam[0], lam[0] + np.linalg.norm(g)
            for _ in range(200):                  # φ(μ) = Σ g_k²/(μ − λ_k)² − 1 decreases
                mu = 0.5 * (lo + hi)
                with np.errstate(divide="ignore", invalid="ignore"):
                    phi = np.sum(g ** 2 / (mu - lam) ** 2) - 1.0
                lo, hi = (mu, hi) if phi > 0 else (lo, mu)
                if hi - lo <= 1e-16 * max(abs(hi), 1e-300):
                    break
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = np.where(mu > lam, g / (mu - lam), 0.0)
            W.append((V @ coef)[None])
        # hard case μ = λ_max: components off the top eigenspace fixed, the rest free
        top = lam >= lam[0] * (1 - 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = np.where(top, 0.0, g / (lam[0] - lam))
        w0 = V @ coef
        t = np.sqrt(max(0.0, 1.0 - float(w0 @ w0)))
        W.append(np.vstack([w0 + t * V[:, 0], w0 - t * V[:, 0]]))
    W = np.vstack(W)
    nw = np.linalg.norm(W, axis=1, keepdims=True)
    W = W[nw[:, 0] > 0] / nw[nw[:, 0] > 0]
    return np.vstack([np.column_stack([W, np.full(len(W), radius)]),
                      [[1.0, 0.0, 0.0, -radius]]])


# ---------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------
def _check(Xt, Z, n, penalty, bias, radius):
    Xt = np.asarray(Xt, dtype=float)
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Xt.ndim != 2 or Xt.shape[1] != 4 or Xt.shape[0] < 1:
        raise ValueError(f"exact_sup_3d: Xt must have shape (m, 4) with m >= 1, got {Xt.shape}")
    if not np.allclose(Xt[:, 3], 1.0):
        raise ValueError("exact_sup_3d: the last column of Xt must be 1 (x̃ = (x, 1))")
    if Z.ndim != 2 or Z.shape[0] != Xt.shape[0]:
        raise ValueError(f"exact_sup_3d: Z must have shape ({Xt.shape[0]}, T), got {Z.shape}")
    if not (np.all(np.isfinite(Xt)) and np.all(np.isfinite(Z))):
        raise ValueError("exact_sup_3d: Xt and Z must be finite")
    if penalty not in ("group", "l1"):
        raise ValueError(f"exact_sup_3d: penalty must be 'group' or 'l1', got {penalty!r}")
    if bias not in ("regularized", "free"):
        raise ValueError(f"exact_sup_3d: bias must be 'regularized' or 'free', got {bias!r}")
    if bias == "free" and not radius >= np.max(np.linalg.norm(Xt[:, :3], axis=1)) * (1 - 1e-12):
        raise ValueError("exact_sup_3d: radius must be at least max_i ‖x_i‖ for bias='free'")
    if np.unique(Xt, axis=0).shape[0] != Xt.shape[0]:
        raise ValueError("exact_sup_3d: the inputs must be distinct (merge equal rows first)")
    return Xt, Z


def exact_sup_3d(Xt: np.ndarray, Z: np.ndarray, n: int, *, penalty: str = "group",
                 bias: str = "regularized", radius: float = 0.0, top_k: int = 16,
                 threshold: float | None = None,
                 block_bytes: int = FACES3D_BLOCK_BYTES,
                 workers: "int | None" = None) -> Faces3DResult:
    """sup over Θ of ‖c(θ)‖, c(θ) = (1/n) Σ_i Z_i relu(θ·x̃_i), exactly, for d = 3.

    Parameters
    ----------
    Xt : ndarray (m, 4)
        Distinct lifted inputs x̃_i = (x_i, 1).
    Z : ndarray (m, T) or (m,)
        Dual candidate (rows of equal inputs summed).
    n : int
        The scale 1/n of the correlation (the number of samples before merging).
    penalty : {"group", "l1"}
        Dual norm ‖·‖₂ or ‖·‖_∞.
    bias : {"regularized", "free"}
        Θ = S³, or the cylinder {‖w‖ = 1, |b| ≤ radius} (radius ≥ max_i ‖x_i‖).
    top_k : int
        Number of distinct best directions returned.
    threshold : float, optional
        Also evaluate every candidate whose claim exceeds ``threshold`` (so that every
        local maximizer above it is among the evaluated directions).
    block_bytes : int
        Approximate memory of one block of circles.
    workers : int, optional
        Processes for the walk over the circles (1 or 2; default 2 on a machine with two
        cores or more); two are used from ``faces3d_pool.PARALLEL_MIN_INPUTS`` inputs on
        (the value is the same, see :mod:`limitsolver.faces3d_pool`).

    Returns
    -------
    Faces3DResult
        ``value`` = S up to rounding (the true ‖c‖ at ``direction``); method and proof of
        completeness in the module docstring. Cost O(m³ T) for the forms (O(m³ T²) for l1).
    """
    Xt, Z = _check(Xt, Z, n, penalty, bias, radius)
    m, T = Z.shape
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"exact_sup_3d: workers must be >= 1, got {workers}")
    pool = CandidatePool(Xt, Z, n, penalty, threshold)
    sphere = bias == "regularized"
    if sphere:
        u = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
        pool.evaluate(np.vstack([u, -u]))       # the whole answer when m = 1
    else:
        pool.evaluate(_top_face(Xt[:, :3], Z, n, radius, penalty))
    if m >= 2:
        walk_circles(Xt, Z, n, pool, penalty, sphere, block_bytes, min(workers, 2))
    pool.settle()
    dirs, vals = pool.result(max(1, int(top_k)))
    return Faces3DResult(value=float(vals[0]), direction=dirs[0], directions=dirs,
                         values=vals, n_candidates=pool.n_candidates,
                         n_evaluated=pool.n_evaluated,
                         n_degenerate_circles=pool.n_degenerate)
