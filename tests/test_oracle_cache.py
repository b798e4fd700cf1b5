"""The 2-D oracle keeps the arrangement of the last inputs: reusing it must give exactly
what a fresh computation gives, and other inputs of the same shape must not hit it."""
import warnings

import numpy as np
import pytest

from limitsolver import faces, oracle
from limitsolver.problem import LimitProblem


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_cached_arrangement_gives_the_fresh_result(bias):
    rng = np.random.default_rng(4)
    X1 = rng.uniform(-1, 1, (40, 2))
    X2 = X1.copy()
    X2[7, 0] += 1e-3                                  # same shape, one input moved
    Zs = [rng.standard_normal((40, 3)) for _ in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = [LimitProblem(X, np.zeros((40, 3)), lam=1.0, bias=bias, free="intercept")
                    for X in (X1, X2)]

    def fresh(p, Z):
        faces.ARRANGEMENTS.clear()
        return oracle.sup_correlation(p, Z, exact=True, threshold=0.0, top_k=8)

    expected = [[fresh(p, Z) for Z in Zs] for p in problems]
    faces.ARRANGEMENTS.clear()
    for _ in range(2):                                # alternate: hits and misses
        for p, exp in zip(problems, expected):
            for Z, e in zip(Zs, exp):
                r = oracle.sup_correlation(p, Z, exact=True, threshold=0.0, top_k=8)
                assert r.value == e.value
                assert np.array_equal(r.directions, e.directions)
    assert 1 <= len(faces.ARRANGEMENTS) <= faces.ARRANGEMENTS_KEPT
    # and the oracle is still the sup: no sampled direction beats it
    S = rng.standard_normal((20000, 3))
    if bias == "regularized":
        S /= np.linalg.norm(S, axis=1, keepdims=True)
    else:
        S[:, :2] /= np.linalg.norm(S[:, :2], axis=1, keepdims=True)
        S[:, 2] = rng.uniform(-problems[1].radius, problems[1].radius, len(S))
    c = np.maximum(problems[1].Xt @ S.T, 0).T @ Zs[0] / 40
    assert np.linalg.norm(c, axis=1).max() <= expected[1][0].value * (1 + 1e-12)
