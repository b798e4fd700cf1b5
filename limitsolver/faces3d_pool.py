"""Candidate bookkeeping and the walk over the circles for the exact d = 3 oracle
(:mod:`limitsolver.faces3d`, where the method and its proof are), on one or two processes.

Two processes. The circles L_{ij} are split in two interleaved halves, each walked by its
own process with its own pool: a candidate is dropped there only when its claim is at most
that pool's best true value (·(1 + 1e-12)), itself at most the best true value of the whole
walk, so no candidate the one-process walk would keep for evaluation is lost. The parent
merges the evaluated directions and the pending candidates of both halves (in a fixed
order) into its pool and settles it as the one-process walk does: the value is S up to
rounding either way, and the result does not depend on which process finishes first.
"""
from __future__ import annotations

from typing import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from .faces3d_arcs import (arc_end_checks, arc_forms, circle_geometry,
                           degenerate_families, face_candidates, generic_families,
                           vertex_edge, wall_bases)
from .features import features_rmatvec
from .workers import can_fork, fork_context

__all__ = ["CandidatePool", "walk_circles", "VERIFY_RTOL", "PARALLEL_MIN_INPUTS",
           "dual_norm_rows"]

#: Candidates whose claim is within this relative margin of the best true value are not
#: evaluated (their true value can exceed it only by rounding).
VERIFY_RTOL = 1e-12

#: Below this many inputs the walk stays in one process (starting a second one costs more
#: than it saves).
PARALLEL_MIN_INPUTS = 80


def dual_norm_rows(penalty: str) -> Callable[[np.ndarray], np.ndarray]:
    """Row-wise dual norm: ‖·‖₂ (group) or ‖·‖_∞ (l1)."""
    if penalty == "group":
        return lambda C: np.linalg.norm(C, axis=1)
    return lambda C: np.max(np.abs(C), axis=1)


# ---------------------------------------------------------------------------------------
# candidates: claims first, true values in decreasing order of claim
# ---------------------------------------------------------------------------------------
class CandidatePool:
    """Pending candidates (direction, claim) and evaluated ones (direction, true value)."""

    def __init__(self, Xt: np.ndarray, Z: np.ndarray, n: int, penalty: str,
                 threshold: "float | None") -> None:
        self.Xt, self.Z, self.n, self.dual = Xt, Z, n, dual_norm_rows(penalty)
        self.threshold = np.inf if threshold is None else float(threshold)
        self.best = -np.inf
        self.pending, self.claims = [np.zeros((0, 4))], [np.zeros(0)]
        self.seen_dirs, self.seen_vals = [np.zeros((0, 4))], [np.zeros(0)]
        self.n_candidates = self.n_evaluated = self.n_degenerate = 0

    def tau(self) -> float:
        """The claim above which a candidate is kept: min(best·(1 + 1e-12), threshold)."""
        if not np.isfinite(self.best):
            return -np.inf
        return min(self.best * (1 + VERIFY_RTOL), self.threshold)

    def add(self, dirs: np.ndarray, claims: np.ndarray, n_claimed: "int | None" = None) -> None:
        """Queue candidates (k, 4) with their claims (k,)."""
        self.n_candidates += len(claims) if n_claimed is None else n_claimed
        self.pending.append(dirs)
        self.claims.append(claims)

    def evaluate(self, dirs: np.ndarray) -> np.ndarray:
        """True values of directions (k, 4), kept as evaluated."""
        vals = self.dual(features_rmatvec(self.Xt, dirs, self.Z) / self.n) if len(dirs) \
            else np.zeros(0)
        self.n_evaluated += len(dirs)
        self.seen_dirs.append(dirs)
        self.seen_vals.append(vals)
        if len(vals):
            self.best = max(self.best, float(vals.max()))
        return vals

    def settle(self, limit: "int | None" = None) -> None:
        """Evaluate pending candidates by decreasing claim while a claim exceeds τ (at most
        ``limit`` of them), then drop those at or below τ."""
        D, C = np.vstack(self.pending), np.concatenate(self.claims)
        order = np.argsort(-C, kind="stable")
        D, C = D[order], C[order]
        pos, batch = 0, 256
        while pos < len(C) and C[pos] > self.tau() and (limit is None or pos < limit):
            sel = slice(pos, pos + batch)
            _, first = np.unique(np.round(D[sel], 11), axis=0, return_index=True)
            self.evaluate(D[sel][np.sort(first)])
            pos += batch
            batch *= 2
        D, C = D[pos:], C[pos:]
        keep = C > self.tau()
        self.pending, self.claims = [D[keep]], [C[keep]]

    def absorb(self, part: dict) -> None:
        """Merge what another pool handed over (:meth:`handover`)."""
        self.seen_dirs.append(part["seen_dirs"])
        self.seen_vals.append(part["seen_vals"])
        if len(part["seen_vals"]):
            self.best = max(self.best, float(part["seen_vals"].max()))
        self.add(part["pending"], part["claims"], part["n_candidates"])
        self.n_evaluated += part["n_evaluated"]
        self.n_degenerate += part["n_degenerate"]

    def handover(self) -> dict:
        """Evaluated directions and values, pending candidates above τ, and counts."""
        D, C = np.vstack(self.pending), np.concatenate(self.claims)
        keep = C > self.tau()
        return dict(seen_dirs=np.vstack(self.seen_dirs), seen_vals=np.concatenate(self.seen_vals),
                    pending=D[keep], claims=C[keep], n_candidates=self.n_candidates,
                    n_evaluated=self.n_evaluated, n_degenerate=self.n_degenerate)

    def result(self, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``top_k`` distinct best evaluated directions and their values, best first."""
        D, V = np.vstack(self.seen_dirs), np.concatenate(self.seen_vals)
        order = np.argsort(-V, kind="stable")
        keep = []
        for i in order:
            if all(np.max(np.abs(D[j] - D[i])) > 1e-9 for j in keep):
                keep.append(i)
                if len(keep) >= top_k:
                    break
        keep = np.array(keep, dtype=int)
        return D[keep], V[keep]


def _walk_block_range(Xt, Z, n, pool, penalty, sphere, block_bytes, I, J):
    """All circles L_{ij}, in blocks: vertices and edges first (they raise the best value),
    then the 2-faces and cells next to every arc, screened against it."""
    m, T = Z.shape
    Q = wall_bases(Xt, "regularized" if sphere else "free")
    cols = [Z] if penalty == "group" else [Z[:, [t]] for t in range(T)]
    Ws = [Zc[:, :, None] * Xt[:, None, :] / n for Zc in cols]
    K = 2 * m
    per_circle = 8 * K * (4 * cols[0].shape[1] * 5 + 40)
    bs = int(max(1, min(len(I), block_bytes // per_circle)))
    for s in range(0, len(I), bs):
        geo = circle_geometry(Xt, Q, I[s:s + bs], J[s:s + bs])
        extra = np.flatnonzero(geo["on_circle"].sum(axis=1) > 2)
        arc = arc_end_checks(Xt, geo)
        for W in Ws:
            M = arc_forms(W.reshape(m, -1), geo)
            pool.add(*vertex_edge(M, geo, pool.tau()))
            pool.settle(limit=4096)
            msq = np.einsum("bjta,bjta->bj", M, M).ravel()
            for spec in generic_families(Xt, Q, W, geo, sphere):
                pool.add(*face_candidates(M, spec, arc, pool.tau(), msq))
            for r in extra:
                ks = np.flatnonzero(geo["on_circle"][r])
                if (geo["I"][r], geo["J"][r]) != (ks[0], ks[1]):
                    continue                     # one walk per distinct circle
                pool.n_degenerate += W is Ws[0]
                arc_r = [(x.reshape(len(geo["I"]), -1, 4)[r], sg.reshape(len(geo["I"]), -1)[r])
                         for x, sg in arc]
                for spec in degenerate_families(Xt, Q, W, ks, sphere):
                    pool.add(*face_candidates(M[r:r + 1], spec, arc_r, pool.tau()))
            pool.settle(limit=4096)


def _walk_part(Xt, Z, n, penalty, sphere, block_bytes, threshold, best, I, J):
    """One process's half: a fresh pool that starts from the parent's best true value."""
    pool = CandidatePool(Xt, Z, n, penalty, threshold)
    pool.best = best
    _walk_block_range(Xt, Z, n, pool, penalty, sphere, block_bytes, I, J)
    return pool.handover()


def walk_circles(Xt: np.ndarray, Z: np.ndarray, n: int, pool: CandidatePool, penalty: str,
                 sphere: bool, block_bytes: int, workers: int = 1) -> None:
    """Walk every circle L_{ij} (i < j), adding the candidates to ``pool``; with
    ``workers`` = 2 and at least ``PARALLEL_MIN_INPUTS`` inputs, the circles are split in
    two interleaved halves walked by two processes (module docstring)."""
    m = Xt.shape[0]
    I, J = np.triu_indices(m, 1)
    if workers < 2 or m < PARALLEL_MIN_INPUTS or not can_fork():
        _walk_block_range(Xt, Z, n, pool, penalty, sphere, block_bytes, I, J)
        return
    ctx = fork_context()
    args = (Xt, Z, n, penalty, sphere, block_bytes, pool.threshold, pool.best)
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        far = ex.submit(_walk_part, *args, I[1::2], J[1::2])
        _walk_block_range(Xt, Z, n, pool, penalty, sphere, block_bytes, I[::2], J[::2])
        try:
            part = far.result()
        except BrokenProcessPool:
            # the second process died: walk its half here (the same candidates)
            _walk_block_range(Xt, Z, n, pool, penalty, sphere, block_bytes, I[1::2], J[1::2])
            return
        pool.absorb(part)
