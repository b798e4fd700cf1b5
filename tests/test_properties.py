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


def _tight_data(d):
    """Six inputs and two tasks; the logistic labels are not separable by an affine
    function (non-monotone in 1-D, XOR in 2-D), so every free part leaves a minimum."""
    if d == 1:
        X = np.array([[-0.9], [-0.5], [-0.1], [0.2], [0.6], [0.95]])
    else:
        X = np.array([[0.6, 0.5], [-0.5, 0.6], [-0.6, -0.4], [0.4, -0.6], [0.2, 0.9],
                      [-0.9, 0.15]])
    Y = np.random.default_rng(3 + d).standard_normal((6, 2))
    if d == 1:
        labels = np.array([[1, -1], [1, 1], [-1, 1], [-1, -1], [1, -1], [1, 1.0]])
    else:
        s = np.sign(X[:, 0] * X[:, 1])
        labels = np.column_stack([s, -s])
    return X, Y, labels


def _cvxpy_grid_optimum(X, Y, grid, lam, opts):
    """OPT(grid) by Clarabel, on features and free-part columns built here from MATH.md:
    Φ_ij = relu(θ_j·(x_i, 1)), θ scaled to ‖θ‖ = 1 (regularized bias) or ‖w‖ = 1 (free)."""
    import cvxpy as cp
    n, T = Y.shape
    d = X.shape[1]
    G = np.asarray(grid, dtype=float)
    scale = G if opts["bias"] == "regularized" else G[:, :d]
    G = G / np.linalg.norm(scale, axis=1, keepdims=True)
    Phi = np.maximum(np.hstack([X, np.ones((n, 1))]) @ G.T, 0.0)
    cols = {"none": np.zeros((n, 0)), "intercept": np.ones((n, 1)),
            "affine": np.hstack([np.ones((n, 1)), X])}[opts["free"]]
    V = cp.Variable((G.shape[0], T))
    F = Phi @ V
    if cols.shape[1]:
        F = F + cols @ cp.Variable((cols.shape[1], T))
    omega = cp.sum(cp.norm(V, 2, axis=1)) if opts["penalty"] == "group" else cp.sum(cp.abs(V))
    if opts["loss"] == "interpolate":
        prob = cp.Problem(cp.Minimize(omega), [F == Y])
    elif opts["loss"] == "squared":
        prob = cp.Problem(cp.Minimize(cp.sum_squares(Y - F) / (2 * n) + lam * omega))
    else:
        prob = cp.Problem(cp.Minimize(cp.sum(cp.logistic(-cp.multiply(Y, F))) / n
                                      + lam * omega))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == "optimal", prob.status
    return prob.value


@pytest.mark.parametrize("free", ["none", "intercept", "affine"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("bias", ["regularized", "free"])
@pytest.mark.parametrize("loss", LOSSES)
def test_intervals_are_tight(loss, bias, penalty, free):
    """The properties above compare intervals; they must be narrow for them to mean
    anything. For every combination the properties draw, the certified interval
    [dual_value, objective] must contain the grid optimum computed independently by
    Clarabel (features built in this test) and be narrow relative to it."""
    opts = dict(loss=loss, penalty=penalty, bias=bias, free=free)
    for d in (1, 2):
        X, Y, labels = _tight_data(d)
        if loss == "logistic":
            Y = labels
        grid = _grid(X, bias)
        lam = _lam(X, Y, opts, 0.2)
        sol = _solve(X, Y, grid, lam, opts, certify_limit=False)
        opt = _cvxpy_grid_optimum(X, Y, grid, lam, opts)
        slack = 1e-7 * (1.0 + abs(opt))
        assert sol.dual_value <= opt + slack, (d, sol.dual_value, opt)
        assert sol.objective >= opt - slack, (d, sol.objective, opt)
        assert sol.objective - sol.dual_value <= 1e-6 * abs(opt) + 1e-12, \
            (d, sol.objective, sol.dual_value, opt)
