"""Numerical range: targets of scale 1e-6 and 1e6, inputs of scale 1e3, λ from 1e-8·λ_max
to λ_max — every solve certified to the default tolerance, and consistent with the unit-scale
problem through the exact homogeneity J(cY, cλ) = c² J(Y, λ)."""
import warnings

import numpy as np
import pytest

import limitsolver as ls


def _data(d):
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, size=(25, d))
    Xt = np.hstack([X, np.ones((25, 1))])
    Y = np.maximum(Xt @ rng.standard_normal((d + 1, 3)), 0) @ rng.standard_normal((3, 2))
    return X, Y


CASES = [(d, c, frac) for d in (1, 2) for c in (1e-6, 1e6) for frac in (1e-8, 1e-6, 1e-2, 1.0)]


@pytest.mark.parametrize("d,c,frac", CASES)
def test_target_scales_and_lambda_range(d, c, frac):
    X, Y = _data(d)
    grid = ls.default_grid(X, "regularized", n_directions=200 if d == 1 else 400)
    p = ls.LimitProblem(X, Y, lam=1.0, free="intercept")
    lam = frac * ls.lam_max(p, grid)
    base = ls.solve(X, Y, lam=lam, free="intercept", grid=grid)
    scaled = ls.solve(X, c * Y, lam=c * lam, free="intercept", grid=grid)
    assert base.status == "optimal" and scaled.status == "optimal", (base.rel_gap, scaled.rel_gap)
    assert scaled.rel_gap <= 1e-8
    assert abs(scaled.objective / c**2 - base.objective) <= 1e-7 * base.objective


@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_inputs_of_scale_1e3(bias):
    """Inputs of scale 1e3 (bias-free problems are exactly scale-equivariant:
    x ↦ a x maps the problem at λ to the one at λ/a: a neuron (w, b, v) on a·x is the
    neuron (w, b/a, a·v) on x)."""
    X, Y = _data(1)
    a = 1e3
    kw = dict(free="affine", bias=bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ls.ConvergenceWarning)
        big = ls.solve(a * X, Y, lam=1e-3, **kw)
    assert big.status == "optimal", big.rel_gap
    if bias == "free":
        small = ls.solve(X, Y, lam=1e-3 / a, **kw)
        assert abs(big.objective - small.objective) <= 1e-7 * small.objective
        assert np.allclose(big.predict(a * X), small.predict(X), atol=1e-6)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("frac", [1e-8, 1e-6, 1e-4, 1e-2, 1.0])
def test_logistic_lambda_range(d, frac):
    """Logistic loss from λ_max down to 1e-8·λ_max (separable labels: the loss is ~λ·Ω there
    and the weights are large), certified by the plain residual certificate recomputed from
    the returned weights, and consistent across λ: J(λ) is concave and increasing in λ, so
    J(λ)/λ must not increase with λ and J(λ) ≤ J(λ_max) = T·log 2."""
    X, Y = _data(d)
    Yl = np.where(Y > np.median(Y, axis=0), 1.0, -1.0)
    grid = ls.default_grid(X, "regularized", n_directions=200 if d == 1 else 400)
    p = ls.LimitProblem(X, Yl, lam=1.0, free="intercept", loss="logistic")
    lmax = ls.lam_max(p, grid)
    sols = [ls.solve(X, Yl, lam=f * lmax, free="intercept", loss="logistic", grid=grid)
            for f in (frac, min(1.0, 2 * frac))]
    for s in sols:
        assert s.status == "optimal", s.rel_gap
        cert = ls.certify(s.problem, s.grid, s.grid_weights, s.free_coef)
        assert cert.rel_gap <= 1e-8
    (a, b), (la, lb) = sols, (frac * lmax, min(1.0, 2 * frac) * lmax)
    assert a.objective <= b.objective * (1 + 1e-9)
    assert b.objective / lb <= a.objective / la * (1 + 1e-9)
    assert b.objective <= Yl.shape[1] * np.log(2) * (1 + 1e-9)


@pytest.mark.parametrize("free", ["intercept", "affine"])
def test_logistic_labels_separated_by_the_free_part(free):
    """When the free part alone separates the labels the infimum 0 is not attained
    (C → ∞). The solution must still be honest: a lower bound that never exceeds the
    objective, an objective at rounding level of the natural scale T·log 2, status optimal."""
    X = np.linspace(-1, 1, 20)[:, None]
    if free == "intercept":
        Y = np.ones((20, 2))
    else:
        s = np.sign(X[:, 0] + 0.01)
        Y = np.column_stack([s, -s])
    sol = ls.solve(X, Y, lam=1e-3, loss="logistic", free=free)
    assert sol.status == "optimal"
    assert 0.0 <= sol.objective <= 1e-13 * 2 * np.log(2)
    assert sol.dual_value <= sol.objective
    assert sol.lower_bound <= sol.objective


@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("free", ["none", "intercept", "affine"])
def test_logistic_tiny_lambda_bounds_never_cross(penalty, free):
    """At λ = 1e-8·λ_max (labels separable, loss ~λ·Ω, huge margins) the certified dual
    never exceeds the objective beyond rounding of the natural scale: a dual point whose
    Y∘Z left [0, 1] by more than rounding must be rejected, not clipped."""
    X, Y = _data(2)
    Yl = np.where(Y > np.median(Y, axis=0), 1.0, -1.0)
    grid = ls.default_grid(X, "regularized", n_directions=400)
    p = ls.LimitProblem(X, Yl, lam=1.0, free=free, penalty=penalty, loss="logistic")
    lam = 1e-8 * ls.lam_max(p, grid)
    sol = ls.solve(X, Yl, lam=lam, free=free, penalty=penalty, loss="logistic", grid=grid)
    assert sol.status == "optimal"
    assert sol.dual_value <= sol.objective + 1e-15 * Yl.shape[1] * np.log(2)
    assert abs(sol.rel_gap) <= 1e-8
