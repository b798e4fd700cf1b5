"""Property-based tests (hypothesis) over random small problems, every option combination.

Each solve gives a certified interval [dual_value, objective] ∋ OPT(grid). A property is
checked on those intervals, so it is sound whatever the solver's accuracy: invariances make
intervals overlap, inequalities compare a lower end with an upper end. A separate check
makes sure the intervals are tight (otherwise the properties would prove nothing).
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import limitsolver as ls

#: Examples per property (the issue note reports these counts).
N_EXAMPLES = 30
SETTINGS = settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

LOSSES = ("squared", "logistic", "interpolate")
OPTIONS = st.fixed_dictionaries(dict(
    loss=st.sampled_from(LOSSES),
    penalty=st.sampled_from(("group", "l1")),
    bias=st.sampled_from(("regularized", "free")),
    free=st.sampled_from(("none", "intercept", "affine")),
))
DATA = st.fixed_dictionaries(dict(
    n=st.integers(3, 7), d=st.integers(1, 2), T=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1), lam_frac=st.sampled_from((0.05, 0.2, 0.6)),
))


def _data(spec, loss):
    rng = np.random.default_rng(spec["seed"])
    n, d, T = spec["n"], spec["d"], spec["T"]
    X = rng.uniform(-1, 1, size=(n, d))
    Y = rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Y >= 0, 1.0, -1.0)
    return X, Y


def _grid(X, bias, seed=0):
    d = X.shape[1]
    if d == 1:
        return ls.default_grid(X, bias, n_directions=64)
    if bias == "regularized":
        return ls.sphere_grid(3, 150)
    return ls.cylinder_grid(2, 24, 8, float(np.max(np.linalg.norm(X, axis=1))))


def _solve(X, Y, grid, lam, opts, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ls.solve(X, Y, lam=lam, grid=grid, **opts, **kw)


def _lam(X, Y, opts, frac):
    """λ = frac · λ_max on the test grid (None for interpolation)."""
    if opts["loss"] == "interpolate":
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ls.LimitProblem(X, Y, lam=1.0, **opts)
        lmax = ls.lam_max(p, _grid(X, opts["bias"]))
    return max(frac * lmax, 1e-3)


def _slack(*sols):
    """Rounding room for comparing certified intervals."""
    return 1e-7 * (1.0 + max(abs(s.objective) for s in sols))


def _overlap(a, b, factor=1.0):
    """[a.dual, a.obj] and factor·[b.dual, b.obj] intersect (up to rounding)."""
    s = _slack(a, b) * max(1.0, abs(factor))
    assert a.dual_value <= factor * b.objective + s
    assert factor * b.dual_value <= a.objective + s


def _interpolable(X, Y):
    """Distinct inputs (the random floats are distinct with probability one)."""
    return len(np.unique(X, axis=0)) == X.shape[0]


@SETTINGS
@given(opts=OPTIONS, spec=DATA, perm_seed=st.integers(0, 1000))
def test_permuting_samples_and_tasks(opts, spec, perm_seed):
    X, Y = _data(spec, opts["loss"])
    grid = _grid(X, opts["bias"])
    lam = _lam(X, Y, opts, spec["lam_frac"])
    rng = np.random.default_rng(perm_seed)
    p, q = rng.permutation(X.shape[0]), rng.permutation(Y.shape[1])
    a = _solve(X, Y, grid, lam, opts)
    b = _solve(X[p], Y[p][:, q], grid, lam, opts)
    _overlap(a, b)


@SETTINGS
@given(opts=OPTIONS, spec=DATA, c=st.sampled_from((1e-3, 0.5, 3.0, 1e3)))
def test_scaling_targets_scales_interpolation_optimum(opts, spec, c):
    opts = dict(opts, loss="interpolate")
    X, Y = _data(spec, "interpolate")
    grid = _grid(X, opts["bias"])
    a = _solve(X, Y, grid, None, opts)
    b = _solve(X, c * Y, grid, None, opts)
    _overlap(b, a, factor=c)


def _rotation(d, angle):
    if d == 1:
        return np.array([[-1.0]])           # the rotation group of R¹ about 0: reflection
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@SETTINGS
@given(opts=OPTIONS, spec=DATA, angle=st.floats(0.1, 6.0), shift=st.floats(-1.0, 1.0))
def test_rigid_motions(opts, spec, angle, shift):
    """Regularized bias: rotations about the origin; free bias (with a free intercept or
    affine part): any rigid motion. The grid moves with the data, so the grid problems are
    the same problem and the optima must agree."""
    X, Y = _data(spec, opts["loss"])
    d = X.shape[1]
    R = _rotation(d, angle)
    grid = _grid(X, opts["bias"])
    lam = _lam(X, Y, opts, spec["lam_frac"])
    a = _solve(X, Y, grid, lam, opts)
    if opts["bias"] == "regularized":
        X2 = X @ R.T
        grid2 = np.column_stack([grid[:, :d] @ R.T, grid[:, d]])
    else:
        assume(opts["free"] != "none")
        t = np.full(d, shift)
        X2 = X @ R.T + t                     # x ↦ Rx + t;  (w, b) ↦ (Rw, b − Rw·t)
        W2 = grid[:, :d] @ R.T
        grid2 = np.column_stack([W2, grid[:, d] - W2 @ t])
    b = _solve(X2, Y, grid2, lam, opts)
    _overlap(a, b)


@SETTINGS
@given(opts=OPTIONS, spec=DATA)
def test_group_between_single_task_bounds(opts, spec):
    """√(Σ_t P_t²) ≤ P_group ≤ Σ_t P_t = P_l1 for interpolation (MATH.md)."""
    opts = dict(opts, loss="interpolate", penalty="group")
    X, Y = _data(spec, "interpolate")
    assume(_interpolable(X, Y))
    grid = _grid(X, opts["bias"])
    g = _solve(X, Y, grid, None, opts)
    l1 = _solve(X, Y, grid, None, dict(opts, penalty="l1"))
    singles = [_solve(X, Y[:, t], grid, None, opts) for t in range(Y.shape[1])]
    s = _slack(g, l1, *singles)
    assert g.dual_value <= l1.objective + s
    assert abs(sum(p.objective for p in singles) - l1.objective) <= \
        sum(p.gap for p in singles) + l1.gap + s
    lower = np.sqrt(sum(max(p.dual_value, 0.0) ** 2 for p in singles))
    assert lower <= g.objective + s


@SETTINGS
@given(opts=OPTIONS, spec=DATA, copies=st.integers(2, 4))
def test_duplicated_tasks_give_sqrt_T(opts, spec, copies):
    """T copies of one task: P_group = √T · P_single for interpolation; for the other losses
    J_group(λ) = T · J_single(λ/√T) (the loss sums over tasks)."""
    X, Y = _data(dict(spec, T=1), opts["loss"])
    opts = dict(opts, penalty="group")
    grid = _grid(X, opts["bias"])
    lam = _lam(X, Y, opts, spec["lam_frac"])
    many = _solve(X, np.repeat(Y, copies, axis=1), grid, lam, opts)
    if opts["loss"] == "interpolate":
        one = _solve(X, Y, grid, None, opts)
        _overlap(many, one, factor=np.sqrt(copies))
    else:
        one = _solve(X, Y, grid, lam / np.sqrt(copies), opts)
        _overlap(many, one, factor=copies)


@SETTINGS
@given(opts=OPTIONS, spec=DATA, seed=st.integers(0, 1000))
def test_lower_bound_below_every_objective(opts, spec, seed):
    """The certified dual value never exceeds the objective of any point on the grid."""
    X, Y = _data(spec, opts["loss"])
    grid = _grid(X, opts["bias"])
    lam = _lam(X, Y, opts, spec["lam_frac"])
    sol = _solve(X, Y, grid, lam, opts)
    problem = sol.problem
    gd = problem.check_directions(grid)
    rng = np.random.default_rng(seed)
    from limitsolver.certificate import fit_free_part, primal_value
    from limitsolver.features import features_matvec, relu_features
    for scale in (0.0, 0.3, 1.0, 3.0):
        V = scale * rng.standard_normal((gd.shape[0], problem.T)) / gd.shape[0]
        if problem.loss == "interpolate":
            # an exactly interpolating point: least squares on the features plus free part
            A = np.hstack([relu_features(problem.Xt, gd), problem.F])
            sol_ls = np.linalg.lstsq(A, problem.Y, rcond=None)[0]
            if np.max(np.abs(A @ sol_ls - problem.Y)) > 1e-9:
                continue
            V, C = sol_ls[:gd.shape[0]], sol_ls[gd.shape[0]:]
        else:
            C = fit_free_part(problem, features_matvec(problem.Xt, gd, V))
        value, _ = primal_value(problem, gd, V, C)
        assert sol.dual_value <= value + _slack(sol)


@pytest.mark.parametrize("loss", ["squared", "interpolate"])
@pytest.mark.parametrize("bias", ["regularized", "free"])
def test_intervals_are_tight(loss, bias):
    """The properties above compare intervals; they must be narrow for them to mean
    anything: squared and interpolation solves are certified to the default tolerance."""
    rng = np.random.default_rng(3)
    for d in (1, 2):
        X = rng.uniform(-1, 1, size=(6, d))
        Y = rng.standard_normal((6, 2))
        opts = dict(loss=loss, penalty="group", bias=bias, free="affine")
        lam = _lam(X, Y, opts, 0.2)
        sol = _solve(X, Y, _grid(X, bias), lam, opts)
        assert sol.rel_gap <= 1e-6, (d, sol.rel_gap)
