"""Float32 blocked pricing with an a-priori rounding bound, exact where it decides the max.

A blocked pricing pass rebuilds Φ = relu(X̃ Θᵀ) block by block and multiplies it by the
candidate Z (:func:`limitsolver.features.features_rmatvec`). In float32 the same pass moves
half the bytes and runs about twice as fast (n = 1000, M = 10⁵, T = 10: 0.12–0.13 s
against 0.21–0.27 s in float64, measured side by side). :func:`rmatvec32` returns the
float32 products with an elementwise bound E that holds for any summation order (any
BLAS), so every use below stays rigorous:

- :func:`bounded_dual_norms` gives upper bounds S⁺_j ≥ ‖Φ_jᵀZ/n‖_* for every direction and
  the *exact* float64 max: each direction whose upper bound reaches the best lower bound
  is re-priced in float64 (the max is attained among them), the others keep S⁺_j;
- the column norm bounds N⁺_j ≥ ‖Φ_j‖ serve gap-safe screening and the bounds of
  screened directions, which need upper bounds only.

Rounding bound. Let u = 2⁻²⁴, τ = 2⁻¹⁴⁹ (the smallest float32 subnormal), m = d + 1,
γ_k = k u / (1 − k u), a_ij = Σ_k |θ_jk| |x̃_ik|, ζ = 2^⌈log₂ max|Z|⌉ (so Z/ζ is exact),
w_it = |Z_it|/ζ ≤ 1, and require every nonzero |x̃_ik|, |θ_jk| in [2⁻⁶⁰, 2⁶⁰] (else the
float64 route is used): the inputs round to float32 with relative error ≤ u and no
product of two of them underflows. Then, with hats for float32 values:

1. Ẑ = fl(Z/ζ): |Ẑ_it − Z_it/ζ| ≤ u w_it + τ.
2. p̂_ij = fl(θ̂_j·x̂_i) (Higham's dot-product bound, FMA or not, plus τ per term for a
   subnormal partial result): |p̂_ij − θ_j·x̃_i| ≤ (1 + γ_m)(1 + u)² − 1) a_ij + m τ
   ≤ γ_{m+2} a_ij + m τ =: η_ij; relu is 1-Lipschitz and exact, so
   |Φ̂_ij − Φ_ij| ≤ η_ij and Φ̂_ij ≤ (1 + γ_{m+2}) a_ij + m τ.
3. ĉ_jt = fl(Σ_i Φ̂_ij Ẑ_it): |ĉ_jt − Σ_i Φ̂_ij Ẑ_it| ≤ γ_n Σ_i Φ̂_ij |Ẑ_it| + n τ.
4. |Σ_i Φ̂_ij Ẑ_it − Σ_i Φ_ij Z_it/ζ| ≤ Σ_i η_ij |Ẑ_it| + Σ_i Φ_ij (u w_it + τ).

With |Ẑ_it| ≤ (1 + u) w_it + τ ≤ 2 and Φ_ij ≤ a_ij, summing 3 and 4:

    |ζ ĉ_jt − (ΦᵀZ)_jt| ≤ ζ [κ (A W)_jt + τ (2 (A 1)_j + 5 m n + n)],
    κ = (1 + u)(γ_n (1 + γ_{m+2}) + γ_{m+2}) + u,

where (A W)_jt = Σ_k |θ_jk| (|X̃|ᵀ W)_kt and (A 1)_j = Σ_k |θ_jk| Σ_i |x̃_ik| cost
O(M m T) in float64; their own float64 rounding (relative ≤ (n + m) 2⁻⁵³) is covered by
the factor 1 + :data:`SLACK`. The dual norms are absolute norms, so
|‖ĉ_j‖_* − ‖c_j‖_*| ≤ ‖E_j‖_* (E ≥ 0 the bound above, /n).

Column norms: s_j = fl(Σ_i Φ̂_ij²) in float32 satisfies Σ_i Φ̂_ij² ≤ (s_j + n τ)/(1 − γ_n),
and ‖Φ_j‖ ≤ ‖Φ̂_j‖ + ‖η_j‖ ≤ √((s_j + n τ)/(1 − γ_n)) + γ_{m+2} Σ_k |θ_jk| ‖x̃_{:,k}‖ + m τ √n.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .budget import blas_threads
from .features import features_rmatvec, relu_inplace
from .pricing_distance import residual_distance
from .pricing_moved import MovedBounds
from .pricing_split import kept_products, run_blocks

__all__ = ["usable", "rmatvec32", "relu_products32", "Bound32", "bounded_dual_norms", "BoundedPasses", "Pool32", "U32",
           "SLACK"]

#: Unit roundoff of float32 and the smallest positive subnormal.
U32 = 2.0 ** -24
TAU = 2.0 ** -149

#: Relative inflation of every bound computed in float64 (covers its own rounding).
SLACK = 1e-9

#: Nonzero input magnitudes must lie in [2^-RANGE, 2^RANGE] for the float32 route.
RANGE = 60


#: Σ_i a_ji b_ji of each row (numpy ≥ 2 vecdot, a third faster than einsum; any summation
#: order suits the bound of the norms).
_row_dots = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("ij,ij->i", a, b))


def _gamma(k: int) -> float:
    return k * U32 / (1.0 - k * U32)


def _in_range(A: np.ndarray) -> bool:
    a = np.abs(A[A != 0])
    return bool(a.size == 0 or (a.min() >= 2.0 ** -RANGE and a.max() <= 2.0 ** RANGE))


def usable(Xt: np.ndarray, dirs: np.ndarray) -> bool:
    """Whether the float32 route applies: every nonzero entry of X̃ and of the directions
    has a magnitude in [2⁻⁶⁰, 2⁶⁰] (module docstring), and n u is small (γ_n < 1e-2)."""
    return (Xt.shape[0] * U32 < 1e-2 and bool(np.all(np.isfinite(Xt)))
            and bool(np.all(np.isfinite(dirs))) and _in_range(Xt) and _in_range(dirs))


def rmatvec32(Xt: np.ndarray, D: np.ndarray, Z: np.ndarray, block_bytes: int,
              norms: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Φ_Dᵀ Z in float32 with its rounding bound (not / n).

    Xt : (n, m);  D : (k, m) directions;  Z : (n, T);  block_bytes : bytes of one float32
    row block of Φ_Dᵀ (it stays in cache between its build and its product).

    Returns (C, bound, N): C (k, T) float64 values of the float32 products, a
    :class:`Bound32` with |C − Φ_Dᵀ Z| ≤ ``bound.entries()`` entrywise, and (when
    ``norms``) N (k,) ≥ ‖Φ_j‖ (module docstring).
    """
    n, m = Xt.shape
    k, T = D.shape[0], Z.shape[1]
    zmax = float(np.max(np.abs(Z))) if Z.size else 0.0
    zeta = 2.0 ** int(np.ceil(np.log2(zmax))) if zmax > 0.0 else 1.0
    C = np.zeros((k, T))
    N32 = np.zeros(k, dtype=np.float32) if norms else None
    if k and (zmax > 0.0 or norms):
        XT32 = np.ascontiguousarray(Xt.T, dtype=np.float32)
        bs = max(16, min(k, int(block_bytes) // (4 * tile_width(n))))
        C = relu_products32(XT32, D, (Z / zeta).astype(np.float32), bs, N32).astype(np.float64)
        C *= zeta
    Dabs, Xabs = np.abs(D), np.abs(Xt)
    bound = _bound(Dabs, Xabs, Xabs.sum(axis=0), Z, zeta)
    return C, bound, (_norm_bounds(N32, Dabs, Xt) if norms else None)


def _norm_bounds(s32: np.ndarray, Dabs: np.ndarray, Xt: np.ndarray) -> np.ndarray:
    """N_j ≥ ‖Φ_j‖ (k,) from the float32 sums of squares s32 (k,) of the float32 rows
    Φ̂_j (any summation order): √((s_j + n τ)/(1 − γ_n)) + γ_{m+2} Σ_k |θ_jk| ‖x̃_{:,k}‖
    + m τ √n, inflated by 1 + :data:`SLACK` (module docstring)."""
    n, m = Xt.shape
    s = s32.astype(np.float64)
    N = (np.sqrt((s + n * TAU) / (1.0 - _gamma(n)))
         + _gamma(m + 2) * (Dabs @ np.sqrt(np.sum(Xt * Xt, axis=0))) + m * TAU * np.sqrt(n))
    return N * (1.0 + SLACK)


def relu_products32(XT32: np.ndarray, D: np.ndarray, Z32: np.ndarray, block_rows: int,
                    sq_norms: np.ndarray | None = None) -> np.ndarray:
    """relu(D X̃ᵀ) Z in float32, built in tiles of ``block_rows`` rows of D by
    :func:`tile_width` samples that stay in cache between their build and their product
    (a row's partial products over the sample tiles are added in float32: one more
    summation order of its dot products, the bound is the same); (k, T) float32. A long
    product runs its row blocks on the machine's cores
    (:func:`limitsolver.pricing_split.run_blocks`: the same tiles, so the same numbers).

    XT32 (m, n) and Z32 (n, T) float32; D (k, m) (cast to float32). ``sq_norms`` (k,)
    float32, when given, receives Σ_i relu(θ_j·x̃_i)² of each row."""
    k, n = D.shape[0], XT32.shape[1]
    D32 = np.ascontiguousarray(D, dtype=np.float32)
    out = np.empty((k, Z32.shape[1]), dtype=np.float32)
    bs, w = max(1, min(k, int(block_rows))), tile_width(n)
    tiles = [(np.ascontiguousarray(XT32[:, a:a + w]), Z32[a:a + w]) for a in range(0, n, w)]

    def work(start: int, stop: int) -> None:
        buf, part = np.empty((bs, w), dtype=np.float32), np.empty((bs, out.shape[1]), np.float32)
        for s in range(start, stop, bs):
            r = min(bs, stop - s)
            for t, (XTt, Zt) in enumerate(tiles):
                b = buf.reshape(-1)[:r * XTt.shape[1]].reshape(r, -1)   # contiguous
                np.matmul(D32[s:s + r], XTt, out=b)
                relu_inplace(b)
                np.matmul(b, Zt, out=out[s:s + r] if t == 0 else part[:r])
                sq = None if sq_norms is None else _row_dots(b, b)
                if t:
                    out[s:s + r] += part[:r]
                if sq is not None:
                    sq_norms[s:s + r] = sq if t == 0 else sq_norms[s:s + r] + sq

    with blas_threads(1):
        run_blocks(work, k, bs, k * n)
    return out


#: Samples of one tile of :func:`relu_products32` when n > 2 · TILE_SAMPLES (n = 50,000,
#: 128-row tiles: 2.0 against 3.4–3.8 ns per entry with whole rows of 16–64 rows).
TILE_SAMPLES = 1024


def tile_width(n: int) -> int:
    """Samples per tile of a blocked float32 pass over n samples (whole rows up to
    2 · :data:`TILE_SAMPLES`)."""
    return n if n <= 2 * TILE_SAMPLES else TILE_SAMPLES


#: Rows of one block of the build of kept float32 features (:class:`Pool32`).
KEPT_ROWS = 256


def _bound(Dabs: np.ndarray, Xabs: np.ndarray, Xsum: np.ndarray, Z: np.ndarray,
           zeta: float) -> "Bound32":
    """The rounding bound of the float32 products relu(D X̃ᵀ)(Z/ζ) (module docstring):
    κ, G = |X̃|ᵀ|Z|/ζ and β_j = ζ τ (2 (A 1)_j + 5 m n + n), inflated by 1 + SLACK."""
    n, m = Xabs.shape
    gm = _gamma(m + 2)
    kappa = (1.0 + U32) * (_gamma(n) * (1.0 + gm) + gm) + U32
    return Bound32(zeta * kappa * (1.0 + SLACK), Xabs.T @ (np.abs(Z) / zeta), Dabs,
                   zeta * TAU * (2.0 * (Dabs @ Xsum) + 5 * m * n + n) * (1.0 + SLACK))


def _dual_errors(bound: "Bound32", penalty: Any, S: np.ndarray, n: int, T: int) -> np.ndarray:
    """e_j ≥ |Ŝ_j − ‖Φ_jᵀZ/n‖_*| for the float32 dual norms Ŝ (/n): the bound's dual norm
    plus the float64 rounding of Ŝ itself ((T + 4) 2⁻⁵³ Ŝ_j)."""
    return bound.dual(penalty) / n * (1.0 + SLACK) + (T + 4) * 2.0 ** -53 * S


class Bound32:
    """The rounding bound of :func:`rmatvec32`: E_jt = α (|Θ| G)_jt + β_j with
    G = |X̃|ᵀ W (m × T), α = ζ κ, β_j = ζ τ (2 (A 1)_j + 5 m n + n) (module docstring),
    all inflated by 1 + :data:`SLACK`."""

    def __init__(self, alpha: float, G: np.ndarray, Dabs: np.ndarray,
                 beta: np.ndarray) -> None:
        self.alpha, self.G, self.Dabs, self.beta = alpha, G, Dabs, beta

    def entries(self) -> np.ndarray:
        """E (k × T): |C − Φ_Dᵀ Z| ≤ E entrywise."""
        return self.alpha * (self.Dabs @ self.G) + self.beta[:, None]

    def dual(self, penalty: Any) -> np.ndarray:
        """e_j ≥ ‖E_j‖_* (k,) without forming E: the dual norm is an absolute norm, so
        ‖E_j‖_* ≤ α Σ_k |θ_jk| ‖G_k‖_* + β_j ‖1‖_* (triangle inequality)."""
        g = penalty.dual_norms(self.G)
        one = float(penalty.dual_norms(np.ones((1, self.G.shape[1])))[0])
        return (self.alpha * (self.Dabs @ g) + self.beta * one) * (1.0 + SLACK)


def bounded_dual_norms(Xt: np.ndarray, D: np.ndarray, Z: np.ndarray, penalty: Any,
                       block_bytes: int, norms: bool = False, values: dict | None = None
                       ) -> tuple[np.ndarray, float, int, np.ndarray | None]:
    """Upper bounds of the dual norms of Φ_DᵀZ/n and their exact float64 max.

    With Ŝ_j = ‖ĉ_j‖_*/n and e_j ≥ ‖E_j‖_*/n (:meth:`Bound32.dual`; the dual norm is an
    absolute norm, so |Ŝ_j − S_j| ≤ e_j up to the float64 rounding of Ŝ, covered by
    :data:`SLACK` and (T + 4) 2⁻⁵³ Ŝ_j), every j with Ŝ_j + e_j ≥ max_k (Ŝ_k − e_k) is
    re-priced in float64; any other j has S_j < max_k (Ŝ_k − e_k) ≤ S_{k*} for the
    maximizer k* of the lower bounds, itself re-priced, so the max of the returned values
    is the float64 max over D.

    Returns (S, sup, repriced, N): S (k,) exact float64 dual norms on the re-priced
    directions and Ŝ_j + e_j (≥ S_j) elsewhere; sup = max S (float64 max); the number
    re-priced; N (k,) ≥ ‖Φ_j‖ when ``norms`` (else None). ``values`` (a dict), when
    given, receives "C" (k × T, the float32 products, not / n), "err" (k,) e_j ≥ their
    dual-norm error / n and "S" (k,) Ŝ (:mod:`limitsolver.pricing_moved`).
    """
    n, k = Xt.shape[0], D.shape[0]
    if k == 0:
        return np.zeros(0), 0.0, 0, (np.zeros(0) if norms else None)
    # one BLAS thread throughout: the bound's products are thin (k × (d+1)), and a
    # threaded BLAS on them waits for a second core (measured at load 2.5: 24 ms against
    # 3 ms per pass at M = 10⁵); the pass itself runs on the cores by its own split
    with blas_threads(1):
        C, bound, N = rmatvec32(Xt, D, Z, block_bytes, norms=norms)
        S = penalty.dual_norms(C) / n
        err = _dual_errors(bound, penalty, S, n, Z.shape[1])
        cand = np.flatnonzero(S + err >= float(np.max(S - err)))
        if values is not None:
            values.update(C=C, err=err.copy(), S=S.copy())
        S += err
        S[cand] = penalty.dual_norms(features_rmatvec(Xt, D[cand], Z,
                                                      block_bytes=2 * block_bytes)) / n
    return S, float(S[cand].max()), int(cand.size), N


class BoundedPasses(MovedBounds):
    """The float32 bounded passes of :class:`limitsolver.pricing.FeatureStore` (which
    provides ``Xt``, ``dirs``, ``n``, ``M``, ``dtype``, ``block_bytes``, ``float32_passes``,
    ``correlations``, ``norms`` and the memo)."""

    def bounded_dual_norms(self, Z: np.ndarray, penalty: Any,
                           idx: Any = None) -> tuple[np.ndarray, float]:
        """(S, sup) on the rows ``idx`` (None: all): S_j ≥ ‖Φ_jᵀZ/n‖_* and sup the float64
        max over those rows, by a float32 blocked pass when no Φ is kept
        (:func:`limitsolver.pricing32.bounded_dual_norms`; S is exact on the re-priced
        rows), else exactly. The first such pass also bounds the column norms
        (:meth:`norm_bounds`)."""
        Z = np.asarray(Z, dtype=float)
        if self.dtype is not None or not self.float32_passes:
            S = penalty.dual_norms(self.correlations(Z, idx))
            return S, (float(S.max()) if S.size else 0.0)
        D = self.dirs if idx is None else self.dirs[idx]
        values: dict = {}
        S, sup, self.last_repriced, N = bounded_dual_norms(
            self.Xt, D, Z, penalty, self.block_bytes // 2,
            norms=idx is None and self._norm_bounds is None, values=values)
        self.record_pass(Z, penalty, idx, values)
        if N is not None:
            self._norm_bounds = N
        self.n_builds += 1
        self.rows_rebuilt += D.shape[0]
        return S, sup

    def norm_bounds(self) -> np.ndarray:
        """Upper bounds N_j ≥ ‖Φ_j‖ (M,): the exact norms when known, else the bounds of
        the first float32 pass (:mod:`limitsolver.pricing32`)."""
        if self._norms is not None or not self.float32_passes or self.dtype is not None:
            return self.norms()
        if self._norm_bounds is None:
            self.bounded_dual_norms(np.zeros((self.n, 1)), _MaxAbs)
        return self._norm_bounds

    def remember_sup(self, Z: np.ndarray, penalty: Any, S: np.ndarray, sup: float) -> None:
        """Record the pass of a caller that priced Z over the whole grid by parts: S_j ≥
        the dual norm of every direction and ``sup`` their float64 max (a later
        :meth:`dual_norms_and_sup` of the same Z returns them)."""
        Z = np.asarray(Z, dtype=float)
        entry = self._recall(Z) or self._remember(Z, None)
        entry["sup"][penalty.name] = (np.array(S, dtype=float), float(sup))


class _MaxAbs:
    """The l1 dual norm (max over tasks of |c_t|), for a norm-only pass."""
    name = "l1"

    @staticmethod
    def dual_norms(C: np.ndarray) -> np.ndarray:
        return np.max(np.abs(C), axis=1) if C.shape[1] else np.zeros(C.shape[0])


class Pool32:
    """Float32 features of a few directions (a working-set pool), kept between re-pricings.

    Φ̂ᵀ (k × n) is built once as in :func:`rmatvec32` (same float32 inputs and dot
    products, so the same bound applies to every product with it), with the norm bounds
    N_j ≥ ‖Φ_j‖ of :func:`rmatvec32`. :meth:`dual_norms` returns dual norms whose
    comparison with a threshold is exact: the directions whose float32 value lies within
    its bound of the threshold are re-priced in float64, and a direction whose bound from
    an earlier call already lies below the threshold is not priced again.
    """

    def __init__(self, Xt: np.ndarray, D: np.ndarray) -> None:
        self.Xt, self.D = Xt, D
        self.n, self.m = Xt.shape
        k = D.shape[0]
        D32 = np.ascontiguousarray(D, dtype=np.float32)
        XT32 = np.ascontiguousarray(Xt.T, dtype=np.float32)
        P = np.empty((k, self.n), dtype=np.float32)
        sq = np.empty(k, dtype=np.float32)

        def build(start: int, stop: int) -> None:
            np.matmul(D32[start:stop], XT32, out=P[start:stop])
            relu_inplace(P[start:stop])
            sq[start:stop] = _row_dots(P[start:stop], P[start:stop])

        with blas_threads(1):
            run_blocks(build, k, KEPT_ROWS, P.size)
        self.P = P
        self.Dabs, self.Xabs = np.abs(D), np.abs(Xt)
        self.Xsum = self.Xabs.sum(axis=0)
        self.N = _norm_bounds(sq, self.Dabs, Xt)
        #: upper bounds U_j ≥ ‖Φ_jᵀZ_r/n‖_* at the candidate Z_r = refs[ref_id[j]]
        self.U, self.ref_id = np.zeros(k), np.zeros(k, dtype=int)
        self.refs: list = []
        self._penalty = None
        #: rows priced by the last call of :meth:`dual_norms`
        self.last_priced = k

    def skip_bounds(self, Z: np.ndarray, penalty: Any) -> np.ndarray | None:
        """B_j ≥ ‖Φ_jᵀZ/n‖_* (k,) from the earlier calls (None before the first):
        B_j = U_j + N_j δ(Z − Z_r)/n with δ of
        :func:`limitsolver.pricing_distance.residual_distance` (‖Φ_jᵀE‖_* ≤ ‖Φ_j‖ δ(E))."""
        if not self.refs or self._penalty != penalty.name:
            return None
        dist = np.zeros(len(self.refs))
        for i in np.unique(self.ref_id):
            dist[i] = residual_distance(Z - self.refs[i], penalty)
        return self.U + self.N * dist[self.ref_id] / self.n

    def dual_norms(self, Z: np.ndarray, penalty: Any, threshold: float,
                   exact_columns: Any) -> np.ndarray:
        """‖Φ_jᵀZ/n‖_* (k,) up to the float32 rounding, such that S_j > ``threshold``
        holds exactly as in float64: every j whose float32 value is within its rounding
        bound of ``threshold`` gets the float64 value, computed from
        ``exact_columns(rows)`` (float64 Φ[:, rows], n × |rows|); every j whose
        :meth:`skip_bounds` value B_j satisfies B_j (1 + :data:`SKIP_MARGIN`) < threshold
        is not priced and gets B_j (an upper bound below the threshold; pools of at least
        :data:`POOL_SKIP_ABOVE` entries)."""
        n, k = self.n, self.P.shape[0]
        zmax = float(np.max(np.abs(Z))) if Z.size else 0.0
        if zmax == 0.0 or k == 0:
            return np.zeros(k)
        B = self.skip_bounds(Z, penalty) if self.P.size >= POOL_SKIP_ABOVE else None
        if B is None:
            rows, out = np.arange(k), np.empty(k)
        else:
            rows, out = np.flatnonzero(B * (1.0 + SKIP_MARGIN) >= threshold), B
        zeta = 2.0 ** int(np.ceil(np.log2(zmax)))
        C = kept_products(self.P, rows, (Z / zeta).astype(np.float32)).astype(np.float64)
        C *= zeta
        bound = _bound(self.Dabs[rows], self.Xabs, self.Xsum, Z, zeta)
        S = penalty.dual_norms(C) / n
        err = _dual_errors(bound, penalty, S, n, Z.shape[1])
        amb = np.flatnonzero(np.abs(S - threshold) <= err)
        if amb.size:
            S[amb] = penalty.dual_norms(exact_columns(rows[amb]).T @ Z) / n
        out[rows] = S
        if self._penalty != penalty.name:
            self.refs, self._penalty = [], penalty.name
        self.refs.append(np.array(Z, dtype=float))
        self.U[rows], self.ref_id[rows] = S + err, len(self.refs) - 1
        self.last_priced = int(rows.size)
        return out


#: Relative margin of the skip test of :meth:`Pool32.dual_norms` (covers the float64
#: rounding of a float64 re-pricing, at most γ_n ≈ 2·10⁻¹¹ where the float32 route applies).
SKIP_MARGIN = 1e-6
#: Entries (k·n) of a pool from which its re-pricings skip rows (below, the test cost
#: about what it saved: 1000 × 1000, 3.0–3.7 ms per call with it against 2.7 ms without).
POOL_SKIP_ABOVE = 2**22
