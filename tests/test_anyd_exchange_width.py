"""Width of one exchange round in d = 10: where ‖c(θ)‖ has many local maxima above λ, a
round lets many priced directions enter at once (not only a handful), each of them
violating (‖c‖ ≥ (1 − margin) λ at the residual, recomputed here with dense ReLU
features) and at least ``EXCHANGE_SEPARATION`` apart from every other one."""
import time
import warnings

import numpy as np
import pytest

import limitsolver as ls
import limitsolver.refine_nd as rnd
from limitsolver.api import solve_problem
from limitsolver.grids import default_grid


def test_a_round_adds_many_separated_violating_directions():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 10))
    Y = np.sin(X[:, :3] @ rng.standard_normal((3, 2))) + 0.3 * rng.standard_normal((200, 2))
    p = ls.LimitProblem(X, Y, lam=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = solve_problem(p, default_grid(X, p.bias, 64, random_state=0))
    seen = []

    class Seen(Exception):
        pass

    def inner_solve(D, warm):           # the first round's atom set, then stop
        seen.append((D.copy(), warm))
        raise Seen
    with warnings.catch_warnings(), pytest.raises(Seen):
        warnings.simplefilter("ignore")
        rnd.refine_any_d(p, start, tol=1e-12, deadline=time.monotonic() + 60.0,
                         inner_solve=inner_solve, max_iter=2)
    D, warm = seen[0]
    old = warm.atom_directions
    dist_old = np.max(np.abs(D[:, None, :] - old[None, :, :]), axis=2).min(axis=1)
    new = D[dist_old > 1e-12]
    assert new.shape[0] > 16
    # violation at the residual of the point the round started from (dense features)
    F = np.maximum(p.Xt @ old.T, 0) @ warm.atom_weights + p.F @ warm.free_coef
    c = np.maximum(p.Xt @ new.T, 0).T @ (Y - F) / p.n
    assert np.all(np.linalg.norm(c, axis=1) >= (1 - rnd.EXCHANGE_MARGIN) * p.lam * (1 - 1e-9))
    sep = np.max(np.abs(new[:, None, :] - new[None, :, :]), axis=2)
    np.fill_diagonal(sep, np.inf)
    assert sep.min() >= rnd.EXCHANGE_SEPARATION * (1 - 1e-12)
