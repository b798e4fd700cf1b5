"""The subspace spanned by a solution's neurons, and its principal angles to a given one.

For a limit solution with atoms θ_j = (w_j, b_j) ∈ S^d and output weights V_j ∈ R^T, the
balanced network that realizes it has first-layer weights ‖V_j‖^{1/2} θ_j, so the
second-moment matrix of its input weights is

    M = Σ_j ‖V_j‖₂ w_j w_jᵀ   (d × d, positive semi-definite).

The learned r-dimensional subspace Û is spanned by the top-r eigenvectors of M. Against a
reference subspace U (d × r, orthonormal columns) this module reports the principal angles
(arccos of the singular values of ÛᵀU; 0 when Û = span U) and the energy fraction
tr(UᵀMU)/tr(M) ∈ [0, 1], the share of the first layer's mass inside span U (1 when every
neuron with nonzero output weight has w_j ∈ span U). The angles say whether the subspace is
found; the energy says how much of the network sits outside it.
"""
from __future__ import annotations

import numpy as np


def moment_matrix(directions, weights):
    """M = Σ_j ‖V_j‖₂ w_j w_jᵀ, shape (d, d), from directions (k, d+1) (last column: bias)
    and output weights (k, T)."""
    directions = np.asarray(directions, float)
    weights = np.asarray(weights, float).reshape(len(directions), -1)
    W = directions[:, :-1]
    s = np.linalg.norm(weights, axis=1)
    return (W * s[:, None]).T @ W


def learned_subspace(directions, weights, r):
    """Top-r eigenvectors of :func:`moment_matrix`, shape (d, r)."""
    if not 1 <= r <= directions.shape[1] - 1:
        raise ValueError(f"r must be in 1..{directions.shape[1] - 1} (the input dimension), "
                         f"got {r}")
    vecs = np.linalg.eigh(moment_matrix(directions, weights))[1]
    return vecs[:, ::-1][:, :r]


def principal_angles(directions, weights, U):
    """(angles in degrees, ascending, shape (r,); energy fraction tr(UᵀMU)/tr(M)).

    U : ndarray (d, r) with orthonormal columns."""
    U = np.asarray(U, float)
    if U.ndim != 2 or U.shape[0] != np.asarray(directions).shape[1] - 1:
        raise ValueError(f"U must be (d, r) with d = {np.asarray(directions).shape[1] - 1} "
                         f"(the input dimension), got shape {U.shape}")
    if not np.allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-8):
        raise ValueError("U must have orthonormal columns")
    Q = learned_subspace(directions, weights, U.shape[1])
    cos = np.clip(np.linalg.svd(Q.T @ U, compute_uv=False), -1.0, 1.0)
    M = moment_matrix(directions, weights)
    energy = float(np.trace(U.T @ M @ U) / max(np.trace(M), 1e-300))
    return np.sort(np.degrees(np.arccos(cos))), energy
