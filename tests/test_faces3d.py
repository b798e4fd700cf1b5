"""The exact d = 3 oracle (limitsolver.faces3d) against independent searches."""
import numpy as np
import pytest

import limitsolver as ls
from limitsolver import faces3d
from limitsolver.bound import bounded_sup
from limitsolver.faces3d import exact_sup_3d
from limitsolver.oracle import sup_correlation
from limitsolver.problem import LimitProblem


# ---------------------------------------------------------------------------------------
# an independent search: random directions, then random-perturbation hill climbing
# ---------------------------------------------------------------------------------------
def _norm(C, penalty):
    return np.linalg.norm(C, axis=-1) if penalty == "group" else np.abs(C).max(axis=-1)


def _value(Xt, Z, n, W, penalty, bias, R):
    """max ‖c‖ at directions W: on the sphere θ = W/‖W‖; on the cylinder w = W/‖W‖ and
    the best b of the breakpoints {−w·x_i} ∪ {±R} (c is piecewise linear in b and a norm
    is convex, so this is the max over b ∈ [−R, R]). Returns (values, θ)."""
    if bias == "regularized":
        th = W / np.linalg.norm(W, axis=1, keepdims=True)
        return _norm(np.maximum(th @ Xt.T, 0) @ Z / n, penalty), th
    w = W[:, :3] / np.linalg.norm(W[:, :3], axis=1, keepdims=True)
    B = np.column_stack([-w @ Xt[:, :3].T, np.full(len(w), R), np.full(len(w), -R)])
    B = np.clip(B, -R, R)                                       # (k, m + 2)
    pre = (w @ Xt[:, :3].T)[:, None, :] + B[:, :, None]         # (k, m + 2, m)
    vals = _norm(np.maximum(pre, 0) @ Z / n, penalty)           # (k, m + 2)
    j = np.argmax(vals, axis=1)
    th = np.column_stack([w, B[np.arange(len(w)), j]])
    return vals[np.arange(len(w)), j], th


def _circle_max(Xt, Z, n, p, r, penalty):
    """Exact max of ‖c‖ on the great circle cos φ·p + sin φ·r (p ⊥ r unit): between
    consecutive zeros of the θ(φ)·x̃_i, c(φ) = A (cos φ, sin φ) with A (T × 2); its norm
    is largest at an end or at ±(top eigenvector of AᵀA) (l1: ±A_t / ‖A_t‖) inside."""
    a, b = Xt @ p, Xt @ r
    br = np.sort(np.mod(np.concatenate([np.arctan2(b, a) + np.pi / 2,
                                        np.arctan2(b, a) - np.pi / 2]), 2 * np.pi))
    nxt = np.append(br[1:], br[0] + 2 * np.pi)
    mid = 0.5 * (br + nxt)
    on = (np.outer(np.cos(mid), a) + np.outer(np.sin(mid), b)) > 0       # (arcs, m)
    A = np.einsum("ki,it,ij->ktj", on.astype(float), Z, np.column_stack([a, b])) / n
    phis = [br]
    if penalty == "group":
        _, U = np.linalg.eigh(np.einsum("ktj,ktl->kjl", A, A))
        tops = [U[:, :, -1]]
    else:
        tops = [A[:, t, :] for t in range(Z.shape[1])]
    for u in tops:
        for sg in (1.0, -1.0):
            ph = np.arctan2(sg * u[:, 1], sg * u[:, 0])
            inside = np.mod(ph - br, 2 * np.pi) <= nxt - br
            phis.append(ph[inside])
    ph = np.concatenate(phis)
    th = np.outer(np.cos(ph), p) + np.outer(np.sin(ph), r)
    v = _norm(np.maximum(th @ Xt.T, 0) @ Z / n, penalty)
    return th[np.argmax(v)], float(v.max())


def _snap(Xt, Z, n, p, penalty, rng, near=4, count=30):
    """Polish p near a kink: for each set S of 1–3 of the hyperplanes nearest to p, climb
    on the sphere of S^⊥ from the projection of p (a vertex is its own projection, an
    edge is one great circle, a 2-face a 2-sphere searched along great circles)."""
    from itertools import combinations
    U = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
    best_th, best = p, float(_norm(np.maximum(Xt @ p, 0) @ Z / n, penalty))
    for size in (1, 2, 3):
        for S in combinations(np.argsort(np.abs(U @ p))[:near], size):
            B = np.linalg.svd(U[list(S)])[2][size:]               # basis of S^⊥ (rows)
            q = B.T @ (B @ p)
            if np.linalg.norm(q) < 1e-12:
                continue
            q /= np.linalg.norm(q)
            val = float(_norm(np.maximum(Xt @ q, 0) @ Z / n, penalty))
            for _ in range(0 if size == 3 else (1 if size == 2 else count)):
                r = B.T @ rng.standard_normal(B.shape[0])
                r -= (r @ q) * q
                if np.linalg.norm(r) < 1e-12:
                    break
                th, v = _circle_max(Xt, Z, n, q, r / np.linalg.norm(r), penalty)
                if v > val:
                    q, val = th, v
            if val > best:
                best_th, best = q, val
    return best_th, best


def dense_search(Xt, Z, n, penalty, bias, R, *, n_samples=100_000, seeds=None, seed=0,
                 steps=400, n_best=48):
    """Largest value over ``n_samples`` random directions (and ``seeds``), then hill
    climbing from the ``n_best`` best; returns (best value, sampled values)."""
    rng = np.random.default_rng(seed)
    D = 4 if bias == "regularized" else 3
    W = rng.standard_normal((n_samples, D))
    if seeds is not None:
        W = np.vstack([W, seeds[:, :D]])
    v, _ = _value(Xt, Z, n, W, penalty, bias, R)
    top = np.argsort(-v)[:n_best]
    P, pv = W[top].copy(), v[top].copy()
    step = np.full(len(top), 0.05)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    if bias == "regularized":                  # exact maxima along random great circles
        def climb(k, count):
            for _ in range(count):
                r = rng.standard_normal(4)
                r -= (r @ P[k]) * P[k]
                th, val = _circle_max(Xt, Z, n, P[k], r / np.linalg.norm(r), penalty)
                if val > pv[k]:
                    P[k], pv[k] = th, val
        for k in range(len(P)):
            climb(k, steps // 8)
        for k in np.argsort(-pv)[:3]:
            climb(int(k), steps // 2)
            P[k], pv[k] = _snap(Xt, Z, n, P[k], penalty, rng)
        return float(max(pv.max(), v.max())), v
    for _ in range(steps):
        Q = P + step[:, None] * rng.standard_normal(P.shape)
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
        qv, _ = _value(Xt, Z, n, Q, penalty, bias, R)
        up = qv > pv
        P[up], pv[up] = Q[up], qv[up]
        step = np.maximum(np.where(up, step * 1.3, step * 0.8), 1e-14)
    return float(max(pv.max(), v.max())), v


def _case(n, T, seed, X=None):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3)) if X is None else X
    Xt = np.column_stack([X, np.ones(len(X))])
    return Xt, rng.standard_normal((len(X), T)), float(np.linalg.norm(X, axis=1).max())


# ---------------------------------------------------------------------------------------
# the sup, against the search
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("T", [1, 3])
def test_exact_sup_agrees_with_a_dense_search(bias, penalty, T):
    for seed in (T, T + 10):
        Xt, Z, R = _case(7, T, seed)
        n = Xt.shape[0]
        res = exact_sup_3d(Xt, Z, n, penalty=penalty, bias=bias, radius=R)
        found, _ = dense_search(Xt, Z, n, penalty, bias, R, seed=seed, n_samples=30_000,
                                n_best=12, steps=200)
        # a sup: nothing found lies above it, and the search finds it (small n)
        assert found <= res.value * (1 + 1e-12)
        assert found >= res.value * (1 - 1e-9), (found, res.value)
        # the value is the true ‖c‖ at the returned direction, a point of Θ
        th = res.direction
        assert (abs(np.linalg.norm(th) - 1) < 1e-12 if bias == "regularized" else
                abs(np.linalg.norm(th[:3]) - 1) < 1e-12 and abs(th[3]) <= R * (1 + 1e-12))
        true = _norm(np.maximum(th @ Xt.T, 0) @ Z / n, penalty)
        assert abs(true - res.value) <= 1e-14 * max(res.value, 1.0)
        # seeded at the argmax, the search cannot climb higher
        seeded, _ = dense_search(Xt, Z, n, penalty, bias, R, n_samples=10,
                                 seeds=res.directions[:1], seed=seed + 7)
        assert seeded <= res.value * (1 + 1e-12)


@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_exact_sup_is_never_below_a_sampled_value(bias, penalty):
    Xt, Z, R = _case(30, 3, 11)
    n = Xt.shape[0]
    res = exact_sup_3d(Xt, Z, n, penalty=penalty, bias=bias, radius=R)
    rng = np.random.default_rng(1)
    th = rng.standard_normal((200_000, 4))
    if bias == "regularized":
        th /= np.linalg.norm(th, axis=1, keepdims=True)
    else:
        th[:, :3] /= np.linalg.norm(th[:, :3], axis=1, keepdims=True)
        th[:, 3] = rng.uniform(-R, R, len(th))
    sampled = _norm(np.maximum(th @ Xt.T, 0) @ Z / n, penalty)
    assert sampled.max() <= res.value * (1 + 1e-12)
    assert sampled.max() >= 0.9 * res.value
    assert np.all(np.diff(res.values) <= 0) and res.values[0] == res.value


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_many_tasks_use_the_4x4_cell_forms(bias):
    """T = 5 > 4: the cells' forms are diagonalized as 4 × 4 matrices (no closed form)."""
    Xt, Z, R = _case(6, 5, 30)
    res = exact_sup_3d(Xt, Z, 6, penalty="group", bias=bias, radius=R)
    found, _ = dense_search(Xt, Z, 6, "group", bias, R, n_samples=20_000, n_best=8,
                            steps=160)
    assert res.value * (1 - 1e-9) <= found <= res.value * (1 + 1e-12)


def _lattice():
    """A 3 × 3 grid in a plane (eight lines of three) and two points off it."""
    g = (-1.0, 0.0, 1.0)
    return np.array([[a, b, 0.0] for a in g for b in g] + [[0.0, 0.0, 1.0], [0.5, 0.3, -1.0]])


@pytest.mark.parametrize("name,X", [
    ("lattice", _lattice()),                                   # collinear triples, coplanar
    ("line", np.outer(np.linspace(-1, 1, 5), [0.5, 1.0, -0.5])),   # all collinear
    ("plane", np.column_stack([np.random.default_rng(3).uniform(-1, 1, (8, 2)), np.zeros(8)])),
    ("one", np.array([[0.3, -0.2, 0.5]])),
    ("two", np.array([[0.3, -0.2, 0.5], [-0.1, 0.4, 0.2]])),
    ("three", np.random.default_rng(4).uniform(-1, 1, (3, 3))),
])
def test_degenerate_inputs(name, X):
    for T, bias, penalty in [(2, "regularized", "group"), (2, "free", "group"),
                             (2, "regularized", "l1"), (1, "free", "l1")]:
        Xt, Z, R = _case(0, T, 5, X=X)
        n = Xt.shape[0]
        res = exact_sup_3d(Xt, Z, n, penalty=penalty, bias=bias, radius=R)
        found, _ = dense_search(Xt, Z, n, penalty, bias, R, n_samples=20_000, steps=200,
                                n_best=16)
        assert found <= res.value * (1 + 1e-12), (name, T, bias, penalty)
        assert found >= res.value * (1 - 1e-6), (name, T, bias, penalty)
    if name == "lattice":
        assert res.n_degenerate_circles > 0


def test_zero_candidate_and_bad_input():
    Xt, Z, R = _case(6, 2, 1)
    res = exact_sup_3d(Xt, np.zeros_like(Z), 6, penalty="group", bias="regularized")
    assert res.value == 0.0
    with pytest.raises(ValueError, match="shape"):
        exact_sup_3d(Xt[:, :3], Z, 6)
    with pytest.raises(ValueError, match="last column"):
        exact_sup_3d(Xt * 2, Z, 6)
    with pytest.raises(ValueError, match="Z must"):
        exact_sup_3d(Xt, Z[:4], 6)
    with pytest.raises(ValueError, match="radius"):
        exact_sup_3d(Xt, Z, 6, bias="free", radius=0.1)
    with pytest.raises(ValueError, match="distinct"):
        exact_sup_3d(np.vstack([Xt, Xt[:1]]), np.vstack([Z, Z[:1]]), 7)
    with pytest.raises(ValueError, match="penalty"):
        exact_sup_3d(Xt, Z, 6, penalty="kernel")


# ---------------------------------------------------------------------------------------
# through the oracle and the certificates
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_branch_and_bound_interval_contains_the_exact_sup(bias):
    Xt, Z, R = _case(15, 2, 21)
    n = Xt.shape[0]
    for penalty in ("group", "l1"):
        res = exact_sup_3d(Xt, Z, n, penalty=penalty, bias=bias, radius=R)
        b = bounded_sup(Xt, Z, n, penalty=penalty, bias=bias, radius=R, rtol=1e-4,
                        max_time=5.0)
        assert b.lower <= res.value * (1 + 1e-12)
        assert res.value <= b.upper


def test_oracle_uses_the_exact_method_for_d3(monkeypatch):
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (20, 3))
    X[5] = X[2]                                                 # a repeated input
    Y = rng.standard_normal((20, 2))
    p = LimitProblem(X, Y, lam=0.1, bias="free", free="intercept")
    r = sup_correlation(p, Y)
    assert r.exact and r.method == "exact" and r.upper >= r.value
    Xu, inv = np.unique(X, axis=0, return_inverse=True)
    Zu = np.zeros((len(Xu), 2))
    np.add.at(Zu, inv.ravel(), Y)
    direct = exact_sup_3d(np.column_stack([Xu, np.ones(len(Xu))]), Zu, 20,
                          penalty="group", bias="free", radius=p.radius)
    assert abs(direct.value - r.value) <= 1e-14 * r.value
    monkeypatch.setattr(faces3d, "EXACT_MAX_N_3D", 5)
    assert not sup_correlation(p, Y, bound_max_time=0.2).exact
    assert sup_correlation(p, Y, exact=True).value == r.value
    with pytest.raises(ValueError, match="d = 1, 2, 3"):
        sup_correlation(LimitProblem(rng.uniform(-1, 1, (6, 5)), Y[:6], lam=0.1), Y[:6],
                        exact=True)


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_exact_lower_bound_below_refined_and_grid_objectives(bias):
    rng = np.random.default_rng(8)
    n, d, T = 20, 3, 2
    X = rng.uniform(-1, 1, (n, d))
    Y = np.maximum(X @ rng.standard_normal((d, 2)) + 0.2, 0) @ rng.standard_normal((2, T))
    free = "intercept" if bias == "free" else "none"
    ref = ls.solve(X, Y, lam=0.02, bias=bias, free=free, n_directions=300, refine=True)
    grid = ls.solve(X, Y, lam=0.02, bias=bias, free=free, n_directions=3000, refine=False)
    assert ref.info["lower_bound_method"] == "exact" and ref.lower_bound_exact
    assert grid.info["lower_bound_method"] == "exact"
    for sol in (ref, grid):
        assert sol.lower_bound <= ref.objective
        assert sol.lower_bound <= grid.objective
