"""Foundation: backends agree, closed forms, l1 = separate solves, √T rule, bad inputs."""
import warnings

import numpy as np
import pytest

import limitsolver as ls
from limitsolver.certificate import certify, lam_max
from limitsolver.solvers.conic import get_model

from .conftest import random_problem


def _solve(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ls.ConvergenceWarning)
        return ls.solve(*args, **kw)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_backends_agree(rng, loss, penalty):
    X, Y = random_problem(rng, n=15, d=2, T=3, loss=loss)
    grid = ls.sphere_grid(3, 150)
    lam = 0.05 if loss == "squared" else 0.02
    kw = dict(lam=lam, loss=loss, penalty=penalty, grid=grid, free="intercept")
    ref = _solve(X, Y, solver="clarabel", **kw)
    ecos = _solve(X, Y, solver="ecos", **kw)
    scs = _solve(X, Y, solver="scs", tol=1e-9, **kw)
    for s in (ref, ecos, scs):
        assert abs(s.objective - ref.objective) <= 1e-6 * abs(ref.objective)
    for s in (ref, ecos):
        assert s.gap >= -1e-12
        assert s.rel_gap <= 1e-8


def test_certificate_brackets_the_grid_optimum(rng):
    X, Y = random_problem(rng, n=20, d=1, T=2)
    grid = ls.sphere_grid(2, 64)
    sol = _solve(X, Y, lam=0.02, grid=grid, solver="clarabel")
    # an independent route: cvxpy's own optimal value of the same grid problem
    model = get_model(sol.problem, sol.grid)
    opt = model.problem.value
    assert sol.dual_value <= opt + 1e-9
    assert opt <= sol.objective + 1e-9
    # any other feasible point is certified with a larger (or equal) primal
    other = certify(sol.problem, sol.grid, 0.5 * sol.grid_weights, sol.free_coef)
    assert other.primal >= sol.dual_value - 1e-12
    assert other.dual <= opt + 1e-9


def test_l1_equals_sum_of_single_task_solves(rng):
    X, Y = random_problem(rng, n=15, d=1, T=3)
    grid = ls.sphere_grid(2, 128)
    kw = dict(lam=0.03, grid=grid, solver="clarabel", free="intercept")
    joint = _solve(X, Y, penalty="l1", **kw)
    separate = sum(_solve(X, Y[:, t], penalty="group", **kw).objective for t in range(3))
    assert joint.objective == pytest.approx(separate, rel=1e-7)


@pytest.mark.parametrize("T", [2, 4])
def test_duplicated_tasks_sqrt_T(rng, T):
    X, Y = random_problem(rng, n=15, d=1, T=1)
    grid = ls.sphere_grid(2, 128)
    lam = 0.04
    multi = _solve(X, np.repeat(Y, T, axis=1), lam=lam, grid=grid, solver="clarabel")
    single = _solve(X, Y, lam=lam / np.sqrt(T), grid=grid, solver="clarabel")
    assert multi.objective == pytest.approx(T * single.objective, rel=1e-7)


def test_abs_interpolation_costs_two():
    sol = _solve([-1.0, 0.0, 1.0], [1.0, 0.0, 1.0], loss="interpolate", bias="free",
                 free="affine")
    assert sol.objective == pytest.approx(2.0, rel=1e-6)
    assert np.max(np.abs(sol.predict([-1.0, 0.0, 1.0])[:, 0] - [1, 0, 1])) <= 1e-7


def test_interpolation_beats_any_interpolating_network(rng):
    X, Y = random_problem(rng, n=10, d=1, T=2)
    sol = _solve(X, Y, loss="interpolate", bias="free", free="affine")
    assert np.max(np.abs(sol.predict(X) - Y)) <= 1e-7
    Xt = np.hstack([X, np.ones((10, 1))])
    checked = 0
    for _ in range(20):
        m = 30
        w = rng.standard_normal(m)
        W = np.column_stack([w, -w * rng.uniform(-1.2, 1.2, m)])  # kinks among the data
        H = np.maximum(Xt @ W.T, 0)
        A = np.hstack([H, np.ones((10, 1)), X])  # neurons + free affine part
        coef = np.linalg.pinv(A) @ Y
        if np.max(np.abs(A @ coef - Y)) > 1e-8:
            continue
        checked += 1
        V = coef[:m]
        # balanced cost of each neuron: ‖v_k‖ · ‖w_k‖ (bias free)
        cost = np.sum(np.linalg.norm(V, axis=1) * np.abs(W[:, 0]))
        assert sol.objective <= cost + 1e-9
    assert checked >= 10


def test_scs_results_are_polished_sparse(rng):
    X, Y = random_problem(rng, n=15, d=1, T=2)
    grid = ls.sphere_grid(2, 256)
    sol = _solve(X, Y, lam=0.05, grid=grid, solver="scs", tol=1e-6)
    ref = _solve(X, Y, lam=0.05, grid=grid, solver="clarabel")
    assert sol.atom_directions.shape[0] <= 2 * 15 * 2
    assert np.count_nonzero(np.linalg.norm(sol.grid_weights, axis=1)) < 256 // 4
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)


def test_convergence_warning_states_the_gap(rng):
    X, Y = random_problem(rng, n=15, d=1, T=2)
    with pytest.warns(ls.ConvergenceWarning, match="gap"):
        sol = ls.solve(X, Y, lam=0.01, grid=ls.sphere_grid(2, 256), solver="clarabel",
                       polish=False, max_iter=2)
    assert sol.status == "inaccurate"


def test_lambda_is_a_parameter_no_recompile(rng):
    X, Y = random_problem(rng, n=12, d=1, T=2)
    grid = ls.sphere_grid(2, 64)
    a = _solve(X, Y, lam=0.05, grid=grid, solver="clarabel")
    model = get_model(a.problem, a.grid)
    b = _solve(X, Y, lam=0.01, grid=grid, solver="clarabel")
    assert get_model(b.problem, b.grid) is model
    fresh = ls.solve_problem(ls.LimitProblem(X, Y, lam=0.01), grid, solver="ecos")
    assert b.objective == pytest.approx(fresh.objective, rel=1e-7)


def test_lam_max_gives_zero_solution(rng):
    X, Y = random_problem(rng, n=12, d=1, T=2)
    grid = ls.sphere_grid(2, 64)
    p = ls.LimitProblem(X, Y, lam=1.0, free="intercept")
    lmax = lam_max(p, grid)
    above = _solve(X, Y, lam=1.01 * lmax, grid=grid, free="intercept", solver="clarabel")
    below = _solve(X, Y, lam=0.9 * lmax, grid=grid, free="intercept", solver="clarabel")
    assert above.n_neurons == 0
    assert below.n_neurons >= 1


def test_solution_accessors(rng):
    X, Y = random_problem(rng, n=12, d=2, T=3)
    sol = _solve(X, Y, lam=0.002, free="affine", n_directions=300, solver="clarabel")
    assert sol.n_neurons >= 2       # (at λ = 0.02 the affine part alone was optimal)
    assert sol.directions.shape[1] == 3 and sol.weights.shape[1] == 3
    assert sol.affine.shape == (2, 3) and sol.intercept.shape == (3,)
    assert sol.predict(X).shape == (12, 3)
    # shared fraction: the documented 1 % rule counted here on the merged weights
    W = np.abs(sol.weights)
    used = W >= 0.01 * W.max(axis=1, keepdims=True)
    assert sol.shared_fraction == np.mean(used.sum(axis=1) > 1)
    lam = sol.problem.lam
    loss = 0.5 * np.sum((sol.predict(X) - Y) ** 2) / 12
    assert sol.objective == pytest.approx(loss + lam * sol.penalty_value(), rel=1e-10)
    # group ≤ l1 norm of the same weights, and √(Σ_t P_t²) ≤ group
    assert sol.penalty_value("group") <= sol.penalty_value("l1") + 1e-12
    per_task = np.sum(np.abs(sol.atom_weights), axis=0)
    assert np.sqrt(np.sum(per_task**2)) <= sol.penalty_value("group") + 1e-12


def test_shared_fraction_closed_forms(rng):
    """Copies of one task (up to sign) share every neuron; a task that is identically zero
    uses none (its optimal weights are 0: they add loss and penalty); one task shares none."""
    X, Y = random_problem(rng, n=12, d=1, T=1)
    y = Y[:, 0]
    kw = dict(lam=0.01, free="intercept", n_directions=128, certify_limit=False)
    copies = _solve(X, np.column_stack([y, -2.0 * y, y]), **kw)
    zero_task = _solve(X, np.column_stack([y, np.zeros_like(y)]), **kw)
    single = _solve(X, y, **kw)
    for sol in (copies, zero_task, single):
        assert sol.n_neurons >= 2
    assert copies.shared_fraction == 1.0
    assert zero_task.shared_fraction == 0.0
    assert single.shared_fraction == 0.0


def test_merge_of_neighbouring_grid_atoms():
    from limitsolver.solution import merge_atoms
    grid = ls.sphere_grid(2, 100)
    D = grid[[10, 11, 40]]
    W = np.array([[1.0, 1.0], [0.5, 0.6], [1.0, -1.0]])
    dirs, ws = merge_atoms(D, W, grid, "regularized")
    assert len(dirs) == 2
    assert np.allclose(ws.sum(0), W.sum(0))
    assert np.allclose(np.linalg.norm(dirs, axis=1), 1)


def test_grids():
    for dim, n in [(2, 10), (3, 50), (5, 64)]:
        G = ls.sphere_grid(dim, n)
        assert G.shape == (n, dim)
        assert np.allclose(np.linalg.norm(G, axis=1), 1)
    R = ls.sphere_grid(4, 33, kind="random", random_state=1)
    assert np.allclose(R, ls.sphere_grid(4, 33, kind="random", random_state=1))
    C = ls.cylinder_grid(2, 8, 5, radius=2.0)
    assert C.shape == (40, 3) and np.allclose(np.linalg.norm(C[:, :2], axis=1), 1)
    assert np.all(np.abs(C[:, 2]) <= 2.0)
    X = np.array([[-0.5], [0.25], [1.0]])
    B = ls.breakpoint_directions(X, "free")
    kinks = -B[:, 1] / B[:, 0]
    assert np.allclose(np.sort(kinks), np.sort(np.r_[X[:, 0], X[:, 0]]))
    G = ls.default_grid(X, "regularized")
    assert G.shape == (512 + 6, 2)


def test_blocked_features_match_dense(rng):
    from limitsolver.features import features_matvec, features_rmatvec
    X = rng.standard_normal((40, 3))
    Xt = ls.augment(X)
    G = ls.sphere_grid(4, 500)
    V = rng.standard_normal((500, 2))
    Z = rng.standard_normal((40, 2))
    Phi = ls.relu_features(Xt, G)
    assert np.allclose(features_matvec(Xt, G, V, block_bytes=8 * 40 * 7), Phi @ V)
    assert np.allclose(features_rmatvec(Xt, G, Z, block_bytes=8 * 40 * 7), Phi.T @ Z)


@pytest.mark.parametrize("kwargs, match", [
    (dict(X=np.zeros((5, 1)), Y=np.zeros((4, 1))), "different numbers of samples"),
    (dict(X=[[0.0], [np.nan]], Y=[1.0, 2.0]), "NaN or inf"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, np.inf]), "NaN or inf"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], lam=0.0), "lam must be > 0"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], lam=-1.0), "lam must be > 0"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], lam=None), "lam must be"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 0.0], loss="logistic"), "labels ±1"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], loss="hinge"), "unknown loss"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], penalty="l2"), "unknown penalty"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], bias="none"), "unknown bias"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], free="quadratic"), "unknown free"),
    (dict(X=np.zeros((0, 1)), Y=np.zeros((0, 1))), "empty"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], grid=np.ones((4, 3))), "length"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], solver="nosuch"), "solver"),
    (dict(X=[["a"], ["b"]], Y=[1.0, 2.0]), "numeric"),
    (dict(X=[[0.0], [1.0]], Y=[1.0, 2.0], tol=-1), "tol"),
])
def test_bad_inputs_raise_value_error(kwargs, match):
    kw = dict(lam=0.1)
    kw.update(kwargs)
    X, Y = kw.pop("X"), kw.pop("Y")
    with pytest.raises(ValueError, match=match):
        ls.solve(X, Y, **kw)


def test_demo_cli_writes_png(tmp_path, capsys):
    from limitsolver.cli import main
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "group" in out and "l1" in out
    png = tmp_path / "limitsolver_demo.png"
    assert png.exists() and png.stat().st_size > 1000


def test_merge_does_not_chain_tiny_atoms_into_one_neuron():
    """Hundreds of tiny same-sign atoms on a run of neighbouring grid points (what an
    unpolished conic solution on a d = 2 or 3 grid looks like) must not be fused into one
    heavy neuron: the summary has to reproduce the atoms' output on the data. A genuine
    split of one neuron over two neighbouring grid points is still merged."""
    from limitsolver.solution import MERGE_RTOL, merge_atoms
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    grid = ls.sphere_grid(3, 2000)                    # Fibonacci lattice on S²
    cap = np.flatnonzero(grid @ np.array([0.6, 0.0, 0.8]) > 0.8)     # a wide cap of points
    assert len(cap) > 100
    big = np.argmax(grid @ np.array([-0.6, 0.6, 0.5]))
    nb = np.argsort(np.linalg.norm(grid - grid[big], axis=1))[1]    # its nearest neighbour
    D = grid[np.r_[cap, big, nb]]
    W = np.r_[np.full(len(cap), 1e-3), 1.0, 0.5][:, None]
    dirs, ws = merge_atoms(D, W, grid, "regularized", X=X)

    def out(Dm, Wm):
        return np.maximum(np.column_stack([X, np.ones(len(X))]) @ Dm.T, 0.0) @ Wm
    F_atoms = out(D, W)
    # each fused neuron reproduces its cluster to MERGE_RTOL, so the whole summary does, and
    # so does the summary of the cap alone
    assert np.linalg.norm(out(dirs, ws) - F_atoms) <= MERGE_RTOL * np.linalg.norm(F_atoms)
    small = np.abs(ws[:, 0]) < 0.5
    F_cap = out(D[:len(cap)], W[:len(cap)])
    assert np.linalg.norm(out(dirs[small], ws[small]) - F_cap) <= MERGE_RTOL * np.linalg.norm(
        F_cap)
    # the cap stays many small neurons (no heavy spurious neuron) ...
    assert np.sort(np.abs(ws[:, 0]))[-2] < 0.1 and len(dirs) > len(cap) / 5
    # ... and the split neuron (1.0 + 0.5 on neighbouring points) is merged into one
    assert np.sum(np.isclose(ws[:, 0], 1.5)) == 1
    np.testing.assert_allclose(ws.sum(), W.sum())
