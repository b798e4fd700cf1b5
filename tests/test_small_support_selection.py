"""Violator selection of the working set: spacing and patterns against a brute-force pick."""
import numpy as np
import pytest

from limitsolver.solvers.selection import MIN_SPACING_COS, PatternCache, patterns, pick_violators


def _brute(cand, scores, Xt, D, n_add, min_cos):
    """The greedy pick by definition: best first, skip a seen pattern or a direction with
    cosine above min_cos to one already taken."""
    keys = patterns(Xt, D)
    out, seen = [], set()
    for j in cand[np.argsort(-scores, kind="stable")]:
        if keys[j] in seen:
            continue
        if out and min_cos < 1.0 and np.max(D[out] @ D[j]) > min_cos:
            continue
        seen.add(keys[j])
        out.append(int(j))
        if len(out) == n_add:
            break
    return out


def _dirs(rng, m, dim):
    D = rng.standard_normal((m, dim))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


@pytest.mark.parametrize("dim, min_cos, n_add", [(2, 0.9, 5), (3, 0.9, 16), (6, 0.9, 16),
                                                 (6, 0.5, 40), (3, 1.0, 16), (6, 0.99, 7)])
def test_pick_matches_brute_force(dim, min_cos, n_add):
    rng = np.random.default_rng(dim + n_add)
    D = _dirs(rng, 400, dim)
    Xt = np.hstack([rng.uniform(-1, 1, (30, dim - 1)), np.ones((30, 1))])
    cand = np.sort(rng.choice(400, 250, replace=False))
    scores = rng.random(250)
    got = pick_violators(cand, scores, PatternCache(Xt, D), n_add, min_cos=min_cos)
    want = _brute(cand, scores, Xt, D, n_add, min_cos)
    assert list(got) == want
    assert got[0] == cand[np.argmax(scores)]               # the best is always taken
    if min_cos < 1.0 and got.size > 1:
        C = D[got] @ D[got].T
        assert np.max(C[~np.eye(got.size, dtype=bool)]) <= min_cos


def test_pick_spacing_default_and_clusters():
    """A cluster of near-copies gives one pick per cluster with the default spacing."""
    rng = np.random.default_rng(0)
    centers = np.eye(6)[:3]                                  # three orthogonal centers
    D = np.vstack([c + 0.01 * rng.standard_normal((20, 6)) for c in centers])
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    Xt = np.hstack([rng.uniform(-1, 1, (200, 5)), np.ones((200, 1))])
    cand = np.arange(60)
    scores = rng.random(60)
    got = pick_violators(cand, scores, PatternCache(Xt, D), 10)
    assert MIN_SPACING_COS < 1.0
    assert sorted(got // 20) == [0, 1, 2]
    none = pick_violators(cand, scores, PatternCache(Xt, D), 10, min_cos=1.0)
    assert none.size == 10


@pytest.mark.parametrize("min_cos", [MIN_SPACING_COS, 1.0])
def test_native_on_a_fine_grid_agrees_with_clarabel(monkeypatch, min_cos):
    """A fine grid (many near-copies among the top violators, where the spacing acts):
    the native optimum with and without the spacing matches an interior-point solve."""
    import warnings

    from limitsolver.certificate import certify, lam_max
    from limitsolver.grids import sphere_grid
    from limitsolver.problem import LimitProblem
    from limitsolver.solvers import selection
    from limitsolver.solvers.conic import solve_conic
    from limitsolver.solvers.native import solve_native

    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (40, 2))
    H = np.maximum(np.hstack([X, np.ones((40, 1))]) @ rng.standard_normal((3, 3)), 0.0)
    Y = H @ rng.standard_normal((3, 3)) + 0.05 * rng.standard_normal((40, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pb = LimitProblem(X, Y, lam=1.0)
    G = pb.check_directions(sphere_grid(3, 1500, kind="random", random_state=1))
    pb = pb.with_lam(0.01 * lam_max(pb, G))
    monkeypatch.setattr("limitsolver.solvers.working_set.pick_violators",
                        lambda cand, scores, keys, n_add, *_: selection.pick_violators(
                            cand, scores, keys, n_add, min_cos=min_cos))
    nat = solve_native(pb, G, tol=1e-10, ws_min=4)
    ref = solve_conic(pb, G, solver="CLARABEL", tol=1e-10)
    cn, cr = certify(pb, G, nat.V, nat.C), certify(pb, G, ref.V, ref.C)
    assert nat.status == "optimal" and cn.rel_gap <= 1e-10
    assert abs(cn.primal - cr.primal) <= 1e-7 * abs(cr.primal)


def test_spacing_on_a_free_bias_cylinder_uses_unit_rows():
    """Cylinder directions (w, b), ‖w‖ = 1, b = 1.5: the raw dot products of any two are
    w·w′ + 2.25 ≥ 1.25 > 0.95, yet directions with orthogonal or opposite w are far apart;
    scaled to unit rows (cosine (w·w′ + 2.25)/3.25 ≤ 0.7) none is blocked."""
    from limitsolver.solvers.selection import PatternCache, pick_violators
    rng = np.random.default_rng(0)
    Xt = np.c_[5 * rng.standard_normal((40, 3)), np.ones(40)]
    W = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    D = np.c_[np.vstack([W, -W]), np.full(6, 1.5)]
    picked = pick_violators(np.arange(6), np.arange(6, 0, -1.0), PatternCache(Xt, D), 6,
                            min_cos=0.95)
    assert picked.size == 6
