"""Block coordinate descent with Anderson extrapolation for a quadratic loss in Gram form.

The first-order route of :func:`~limitsolver.solvers.support_newton.solve_restricted` for
quadratic losses, on supports too large for Newton systems (and as a few warm-up sweeps
before them). With G (k × k, positive semidefinite) and B (k × T) such that the loss part
of the objective is

    Q(V) = ½ ⟨V, G V⟩ − ⟨B, V⟩ + q₀,       ∇Q(V) = G V − B,

one sweep updates each row in turn by the proximal step of the penalty Ω with the row's
exact curvature G_jj:  V_j ← prox_{λ/G_jj Ω}(V_j − (G V − B)_j / G_jj)  (exact block
minimization for the group and l1 penalties). Every ``anderson`` + 1 sweeps the iterates are
extrapolated (Anderson acceleration, type II on the differences), and the extrapolated point
is kept only when it lowers the objective.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..budget import blas_threads, expired

__all__ = ["coordinate_sweep", "bcd_anderson", "PATIENCE", "STALL_CHECKS", "BLOCK",
           "BLOCKED_ROWS"]

#: Gap checks without 10 % progress after which coordinate descent stops ...
PATIENCE = 30
#: ... and, before the gap has once fallen 10 % below the start's, this many: a start that
#: the sweeps cannot improve on (Newton's point near interpolation, where the gap sits at its
#: rounding floor) is returned after a few checks instead of after ``PATIENCE``.
STALL_CHECKS = 3

#: Rows per block of a coordinate sweep (:func:`coordinate_sweep`) ...
BLOCK = 64
#: ... on Gram matrices of at least this many rows (smaller ones are swept row by row,
#: blocks of one: the order of the updates, and so the point reached, is the plain sweep's).
BLOCKED_ROWS = 1000


def coordinate_sweep(G: np.ndarray, Gr: np.ndarray, V: np.ndarray, lam: float, penalty: type,
                     rows: Iterable[int], block: int | None = None) -> None:
    """One cyclic sweep over ``rows``, in place on V (k × T) and Gr = G V − B (k × T).

    The rows are taken in blocks of ``block`` (default :data:`BLOCK` from
    :data:`BLOCKED_ROWS` rows of G on, 1 below). At the start of a
    block, a row with V_j = 0 and ‖Gr_j‖_* ≤ λ is skipped: its exact block minimizer is
    V_j = 0 (the prox of −Gr_j/G_jj with step λ/G_jj vanishes exactly then, for the group
    and the l1 penalty), one vectorized test for the whole block. The other rows are
    updated in turn with the block's own G_bb and Gr_b, and Gr is brought up to date
    once per block, Gr += G_{:,b} ΔV_b (one matrix product; G symmetric, so the rows
    G_{b,:} are read). A skipped row whose Gr_j the block's updates push above λ is
    updated after the others of its block (then the test is repeated); when no such row
    occurs, every row gets exactly the update of the row-by-row sweep.
    """
    rows = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=int)
    if rows.size == 0:
        return
    if block is None:
        block = BLOCK if G.shape[0] >= BLOCKED_ROWS else 1
    block = max(int(block), 1)
    with blas_threads(1):              # small products: threads only add overhead
        _sweep_blocks(G, Gr, V, lam, penalty, rows, block)


def _sweep_blocks(G, Gr, V, lam, penalty, rows, block) -> None:
    """The body of :func:`coordinate_sweep`."""
    diag = np.diagonal(G)
    prox = penalty.prox_row
    for s in range(0, rows.size, block):
        blk = rows[s:s + block]
        Vb = V[blk]
        Grb = Gr[blk]
        move = np.any(Vb != 0, axis=1) | (penalty.dual_norms(Grb) > lam)
        move &= diag[blk] > 1e-300
        pos = np.flatnonzero(move)
        if pos.size == 0:
            continue
        Gbb = G[np.ix_(blk, blk)]
        Db = np.zeros_like(Vb)
        changed = False
        while pos.size:
            for i in pos:
                gjj = Gbb[i, i]
                vj = Vb[i]
                new = prox(vj - Grb[i] / gjj, lam / gjj)
                delta = new - vj
                if delta.any():
                    Vb[i] = new
                    Db[i] += delta
                    Grb += Gbb[:, i:i + 1] * delta
                    changed = True
            # skipped rows that the block's updates pushed above λ get their turn now
            late = ~move & (diag[blk] > 1e-300) & (penalty.dual_norms(Grb) > lam)
            pos = np.flatnonzero(late)
            move |= late
        if changed:
            V[blk] = Vb
            contiguous = blk[-1] - blk[0] == blk.size - 1
            Gb = G[blk[0]:blk[-1] + 1] if contiguous else G[blk]
            Gr += (Db.T @ Gb).T


def _anderson(hist: list) -> np.ndarray | None:
    """Extrapolate from the last iterates (flattened V's); None if ill-posed."""
    X = np.array(hist)
    U = np.diff(X, axis=0)
    M = U @ U.T
    scale = float(np.trace(M))
    if not np.isfinite(scale) or scale <= 0:
        return None
    try:
        z = np.linalg.solve(M / scale + 1e-10 * np.eye(M.shape[0]), np.ones(M.shape[0]))
    except np.linalg.LinAlgError:
        return None
    c = z / z.sum()
    if not np.all(np.isfinite(c)):
        return None
    return c @ X[1:]


def bcd_anderson(G: np.ndarray, B: np.ndarray, lam: float, penalty: type, V: np.ndarray, *,
                 rel_gap: Callable[[np.ndarray], float], tol: float, max_epochs: int,
                 check_every: int = 10, anderson: int = 5, deadline: float | None = None
                 ) -> tuple[np.ndarray, int, float]:
    """Coordinate descent from V (k × T) until ``rel_gap(V)`` ≤ ``tol``.

    Full sweeps every ``check_every`` epochs, support-only sweeps in between; the relative
    gap (computed by the caller from the explicit residual) is checked after each block of
    ``check_every`` epochs; stops at ``max_epochs``, at the ``deadline``, or when the gap
    has not improved by 10 % over :data:`PATIENCE` checks (ill-conditioned Gram matrices
    near interpolation; the caller's full-grid certificate decides), or over
    :data:`STALL_CHECKS` checks while it has never been 10 % below the start's gap. The
    Anderson candidate is accepted by the Gram-form objective ½⟨V, GV⟩ − ⟨B, V⟩ + λΩ(V).
    The start is returned unchanged when its gap is smaller than that of the last iterate.

    Returns (V, epochs, relative gap).
    """
    k, T = V.shape
    V = np.array(V, dtype=float)
    V0 = V.copy()
    rel0 = rel_gap(V0) if np.any(V0) else np.inf
    Gr = G @ V - B

    def gram_objective(V, Gr):
        return 0.5 * float(np.sum(V * Gr)) - 0.5 * float(np.sum(B * V)) + lam * penalty.value(V)

    hist, epochs, rel = [], 0, rel0
    best, since, moved = rel0, 0, not np.isfinite(rel0)
    while epochs < max_epochs and not expired(deadline):
        for e in range(check_every):
            rows = range(k) if e == 0 else np.flatnonzero(np.any(V != 0, axis=1))
            coordinate_sweep(G, Gr, V, lam, penalty, rows)
            epochs += 1
            if anderson:
                hist.append(V.ravel().copy())
                if len(hist) == anderson + 1:
                    Vx = _anderson(hist)
                    hist = []
                    if Vx is not None:
                        Vx = Vx.reshape(k, T)
                        Grx = G @ Vx - B
                        if gram_objective(Vx, Grx) < gram_objective(V, Gr):
                            V, Gr = Vx, Grx
        rel = rel_gap(V)
        if rel <= tol:
            break
        if rel < 0.9 * best:
            best, since, moved = rel, 0, True
        else:
            since += 1
            if since >= (PATIENCE if moved else STALL_CHECKS):
                break
    if rel0 < rel:
        return V0, epochs, rel0
    return V, epochs, rel
