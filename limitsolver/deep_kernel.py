"""Deep arc-cosine kernels and deep ReLU NTKs: depth L hidden ReLU layers.

The network whose infinite-width kernels these are (L hidden layers of width m, inputs
x̃ = (x, 1) ∈ R^D, D = d + 1, all pre-activations without further biases)::

    h¹ = W¹ x̃,                     rows of W¹ ~ π   (the depth-1 law of :mod:`.kernel`:
                                    uniform on S^d, or the free-bias law)
    h^{l+1} = √(2/m) W^{l+1} relu(h^l),   W^{l+1}_{ij} ~ N(0, 1)    (l = 1..L−1; He scale)
    f(x) = (1/√m) v · relu(h^L),   v_k ~ N(0, 1).

Covariances (m → ∞, layer by layer; Cho & Saul 2009, "Kernel methods for deep learning",
NeurIPS; the same recursion as the NNGP): for a centred Gaussian pair (u, u') with
variances q, q' and covariance c, cos α = c/√(qq'),

    2 E relu(u) relu(u') = √(qq') (sin α + (π − α) cos α) / π =: 𝒦(q, q', c)
    2 E relu'(u) relu'(u') = (π − α) / π                        =: 𝒦̇(α).

Write k₁(x, x') = E_{θ~π} relu(θ·x̃) relu(θ·x̃') (the depth-1 arc-cosine kernel of
:func:`.kernel.kernel_matrix`) and g₁(x, x') = E_{θ~π} 1{θ·x̃>0} 1{θ·x̃'>0} x̃·x̃' (the first
layer's NTK term, so that depth-1 NTK = k₁ + g₁). Then h² is Gaussian with covariance
S² = 2 k₁, and for l ≥ 2, S^{l+1} = 𝒦(S^l(x,x), S^l(x',x'), S^l(x,x')).

- **Arc-cosine kernel of depth L** (only v trained; all hidden layers frozen at their random
  draw): k_L = E relu(h^L) relu(h^L)' = S^{L+1}/2. For π uniform on S^d this is Cho & Saul's
  degree-1 arc-cosine kernel of depth L of the augmented inputs, divided by 2D:
  k_L(x, x') = k^{(L)}_{CS}(x̃, x̃') / (2(d+1)), with k^{(0)}_{CS} = x̃·x̃' and
  k^{(l+1)}_{CS} = 𝒦(k^{(l)}_{CS}(x̃,x̃), k^{(l)}_{CS}(x̃',x̃'), k^{(l)}_{CS}(x̃,x̃')).
- **NTK of depth L** (all layers trained with equal step; Jacot, Gabriel & Hongler 2018,
  "Neural tangent kernel", NeurIPS, arXiv 1806.07572; the ReLU recursion of Arora, Du, Hu,
  Li, Salakhutdinov & Wang 2019, "On exact computation with an infinitely wide neural net",
  NeurIPS, arXiv 1904.11955): with Θ² = 2(k₁ + g₁) and, for l ≥ 2,

      Θ^{l+1} = Θ^l · 𝒦̇(α_l) + S^{l+1},

  the NTK is Θ_L = Θ^{L+1}/2. Derivation: f = f_He/√2 with f_He = √(2/m) v·relu(h^L)
  (same parameters), so both kernels are half those of f_He, a network with He scale in
  every layer above the first; write h^{L+1} = f_He and δ^l = ∂f_He/∂h^l (δ^{L+1} = 1).
  The rows of W^l (l ≥ 2, W^{L+1} = v) contribute (δ^l·δ^l') (2/m) relu(h^{l−1})·
  relu(h^{l−1})' → (δ^l·δ^l') S^l; backpropagation δ^{l−1} = √(2/m) (W^l)ᵀ δ^l ⊙ relu'(h^{l−1})
  gives δ^{l−1}·δ^{l−1}' → (δ^l·δ^l') 𝒦̇(α_{l−1}) for l − 1 ≥ 2 and, for the first layer
  (differentiated with respect to its rows θ, as at depth 1: ∂f_He/∂θ_k = δ¹_k x̃),
  (δ²·δ²') · 2 E_π 1{θ·x̃>0} 1{θ·x̃'>0} x̃·x̃' = (δ²·δ²') 2g₁. So the layers up to l sum to
  (δ^l·δ^l') Θ^l with Θ² = 2g₁ + S², and adding layer l + 1 gives
  (δ^{l+1}·δ^{l+1}') (Θ^l 𝒦̇(α_l) + S^{l+1}); at l = L + 1 the total is Θ^{L+1}. At L = 1
  both kernels reduce exactly to the depth-1 ones: k_1 = S²/2 = k₁, Θ_1 = Θ²/2 = k₁ + g₁.

Both kernels keep the diagonal of depth 1 (𝒦(q, q, q) = q): k_L(x, x) = k₁(x, x) for
every L, so λ has the same scale at every depth.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["deep_kernels", "relu_moment", "check_depth"]


def check_depth(depth: Any) -> int:
    """Validate a depth L (an integer ≥ 1) and return it as int."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)):
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth}")
    return int(depth)


def relu_moment(q_a: np.ndarray, q_b: np.ndarray,
                c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The He-scaled ReLU moments of a centred Gaussian pair.

    Parameters
    ----------
    q_a : ndarray (m,)      variances of u (one per row)
    q_b : ndarray (n,)      variances of u' (one per column)
    c : ndarray (m, n)      covariances

    Returns
    -------
    S : ndarray (m, n)      2 E relu(u) relu(u') = √(q q') (sin α + (π − α) cos α)/π
    Sdot : ndarray (m, n)   2 E 1{u>0} 1{u'>0} = (π − α)/π
    """
    norms = np.sqrt(np.outer(np.maximum(q_a, 0.0), np.maximum(q_b, 0.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, c / np.where(norms > 0, norms, 1.0), 1.0)
    np.clip(cos, -1.0, 1.0, out=cos)
    alpha = np.arccos(cos)
    S = norms * (np.sqrt(np.maximum(1.0 - cos**2, 0.0)) + (np.pi - alpha) * cos) / np.pi
    return S, (np.pi - alpha) / np.pi


def deep_kernels(k1: np.ndarray, g1: np.ndarray, k1_aa: np.ndarray, k1_bb: np.ndarray,
                 depth: int, *, ntk: bool) -> np.ndarray:
    """Compose the depth-1 kernels into the depth-L arc-cosine kernel or NTK.

    Parameters
    ----------
    k1 : ndarray (m, n)       depth-1 arc-cosine kernel k₁(a_i, b_j)
    g1 : ndarray (m, n)       depth-1 first-layer NTK term g₁(a_i, b_j) (ignored if not ntk)
    k1_aa : ndarray (m,)      k₁(a_i, a_i);   k1_bb : ndarray (n,)   k₁(b_j, b_j)
        (g₁(a, a) is not needed: 𝒦̇ depends only on the covariances S^l)
    depth : int               L ≥ 1
    ntk : bool                NTK (True) or arc-cosine kernel (False)

    Returns
    -------
    ndarray (m, n): k_L = S^{L+1}/2 or Θ_L = Θ^{L+1}/2 (module docstring).
    """
    depth = check_depth(depth)
    S = 2.0 * np.asarray(k1, dtype=float)
    qa = 2.0 * np.asarray(k1_aa, dtype=float)
    qb = 2.0 * np.asarray(k1_bb, dtype=float)
    Theta = 2.0 * (S / 2.0 + np.asarray(g1, dtype=float)) if ntk else None
    for _ in range(depth - 1):
        S_next, Sdot = relu_moment(qa, qb, S)
        if ntk:
            Theta = Theta * Sdot + S_next
        S = S_next          # the diagonal is preserved: 𝒦(q, q, q) = q
    return 0.5 * (Theta if ntk else S)
