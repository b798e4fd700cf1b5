"""The support-Newton method against independent routes: cvxpy/Clarabel on the same columns,
finite differences of the smooth model, closed-form free parts, and a polish that never
raises the objective."""
import numpy as np
import pytest

from limitsolver.certificate import fit_free_part
from limitsolver.losses import get_loss
from limitsolver.penalties import get_penalty
from limitsolver.problem import LimitProblem
from limitsolver.refine import newton_polish
from limitsolver.solvers.restricted import SupportModel
from limitsolver.solvers.support_newton import restricted_gap, solve_restricted

LOSSES = ("squared", "logistic", "multinomial")


def _data(loss, n=36, k=9, T=3, seed=0):
    rng = np.random.default_rng(seed)
    A = np.maximum(rng.standard_normal((n, k)) + 0.3, 0.0)
    Yr = A[:, :3] @ rng.standard_normal((3, T)) + 0.5 * rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Yr >= 0, 1.0, -1.0)
    elif loss == "multinomial":
        Y = np.eye(T)[np.argmax(Yr, axis=1)]
    else:
        Y = Yr
    return A, Y


def _objective(A, F, Y, lam, loss, penalty, V, C):
    return (get_loss(loss).value(A @ V + F @ C, Y)
            + lam * get_penalty(penalty).value(V))


def _cvxpy_optimum(A, F, Y, lam, loss, penalty):
    """The same restricted problem written in cvxpy (Clarabel), an independent route."""
    cp = pytest.importorskip("cvxpy")
    n, k = A.shape
    T = Y.shape[1]
    V = cp.Variable((k, T))
    P = A @ V
    if F.shape[1]:
        C = cp.Variable((F.shape[1], T))
        P = P + F @ C
    if loss == "squared":
        L = cp.sum_squares(P - Y) / (2 * n)
    elif loss == "logistic":
        L = cp.sum(cp.logistic(-cp.multiply(Y, P))) / n
    else:
        L = (cp.sum(cp.log_sum_exp(P, axis=1)) - cp.sum(cp.multiply(Y, P))) / n
    Om = cp.sum(cp.norm(V, 2, axis=1)) if penalty == "group" else cp.sum(cp.abs(V))
    prob = cp.Problem(cp.Minimize(L + lam * Om))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    Cv = C.value if F.shape[1] else np.zeros((0, T))
    return _objective(A, F, Y, lam, loss, penalty, V.value, Cv)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("penalty", ["group", "l1"])
@pytest.mark.parametrize("free", ["none", "intercept"])
def test_optimum_equals_cvxpy(loss, penalty, free):
    A, Y = _data(loss)
    n = A.shape[0]
    F = np.ones((n, 1)) if free == "intercept" else np.zeros((n, 0))
    Z0 = get_loss(loss).residual(np.zeros_like(Y), Y)
    lam = 0.3 * float(np.max(get_penalty(penalty).dual_norms(A.T @ (Z0 - Z0.mean(0)) / n)))
    V, C, info = solve_restricted(A, Y, lam, loss, penalty, F=F, tol=1e-13)
    assert info["converged"] and info["rel_gap"] <= 1e-12
    J = _objective(A, F, Y, lam, loss, penalty, V, C)
    ref = _cvxpy_optimum(A, F, Y, lam, loss, penalty)
    assert abs(J - ref) <= 1e-7 * abs(ref)
    assert J <= ref + 1e-12 * abs(ref)               # exact Newton beats interior point
    assert np.count_nonzero(V) and np.count_nonzero(V) < V.size     # a real support


def _model(loss, penalty, rng, T=3):
    A, Y = _data(loss, T=T)
    n, k = A.shape
    F = np.hstack([np.ones((n, 1)), rng.standard_normal((n, 1))])
    V = rng.standard_normal((k, T))
    V[1] = 0.0
    if penalty == "l1":
        V[2, 0] = 0.0
    C = rng.standard_normal((2, T))
    return SupportModel(A, F, Y, 0.05, get_loss(loss), get_penalty(penalty),
                        rowwise=penalty == "group"), V, C


#: (loss, T, Gram form): every route of the Hessian, with one task and with several.
HESSIAN_ROUTES = ([(loss, 3, False) for loss in LOSSES]
                  + [("squared", 1, False), ("logistic", 1, False), ("squared", 1, True),
                     ("squared", 3, True)])


@pytest.mark.parametrize("loss, T, gram", HESSIAN_ROUTES)
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_gradient_and_hessian_against_finite_differences(loss, T, gram, penalty, rng):
    model, V, C = _model(loss, penalty, rng, T=T)
    if gram:                       # no free columns: the caller eliminates them
        model = SupportModel(model.A, np.zeros((model.n, 0)), model.Y, model.lam,
                             model.loss, model.penalty, rowwise=model.rowwise,
                             gram=model.A.T @ model.A / model.n)
        C = np.zeros((0, T))
    sup = model.support(V)
    s_, p = sup.size, C.shape[0]
    full = np.ones((s_ + p, model.T), dtype=bool)
    full[:s_] = sup.mask
    idx = np.flatnonzero(full.ravel())

    def J(x):
        X = np.vstack([V[sup.S], C]).ravel().copy()
        X[idx] = x
        X = X.reshape(s_ + p, model.T)
        return model.objective(sup, X[:s_], X[s_:])

    def grad(x):
        X = np.vstack([V[sup.S], C]).ravel().copy()
        X[idx] = x
        X = X.reshape(s_ + p, model.T)
        P = model.predict(sup, X[:s_], X[s_:])
        return model.gradient(sup, P, X[:s_]).ravel()[idx]

    x0 = np.vstack([V[sup.S], C]).ravel()[idx]
    h = 1e-6
    E = np.eye(x0.size)
    fd_g = np.array([(J(x0 + h * e) - J(x0 - h * e)) / (2 * h) for e in E])
    np.testing.assert_allclose(grad(x0), fd_g, atol=1e-7)
    P = model.predict(sup, V[sup.S], C)
    H = model.hessian(sup, P, V[sup.S])
    fd_H = np.array([(grad(x0 + h * e) - grad(x0 - h * e)) / (2 * h) for e in E])
    np.testing.assert_allclose(H, fd_H, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_fit_free_part_agrees_with_closed_forms(rng):
    n = 40
    X = rng.standard_normal((n, 2))
    Y = rng.standard_normal((n, 3))
    FV = rng.standard_normal((n, 3))
    pb = LimitProblem(X, Y, lam=0.1, free="affine")
    want = np.linalg.lstsq(pb.F, Y - FV, rcond=None)[0]
    np.testing.assert_allclose(fit_free_part(pb, FV), want, atol=1e-12)
    # logistic intercept at zero output: c_t = log(n₊/n₋)
    Yl = np.where(rng.standard_normal((n, 2)) > 0.3, 1.0, -1.0)
    pb = LimitProblem(X, Yl, lam=0.1, loss="logistic", free="intercept")
    C = fit_free_part(pb, np.zeros((n, 2)))
    npos = np.sum(Yl > 0, axis=0)
    np.testing.assert_allclose(C[0], np.log(npos / (n - npos)), atol=1e-10)
    # multinomial intercept at zero output: softmax(c) = class frequencies
    labels = rng.integers(0, 4, n)
    pb = LimitProblem(X, labels, lam=0.1, loss="multinomial", free="intercept")
    C = fit_free_part(pb, np.zeros((n, 4)))
    freq = np.bincount(labels, minlength=4) / n
    p = np.exp(C[0] - C[0].max())
    np.testing.assert_allclose(p / p.sum(), freq, atol=1e-10)


def test_fit_free_part_stops_on_separable_labels(rng):
    # an intercept plus the input separates y = sign(x): no finite optimum, loss → 0
    X = np.linspace(-1, 1, 20)[:, None] + 0.025
    Y = np.sign(X)
    pb = LimitProblem(X, Y, lam=0.1, loss="logistic", free="affine")
    C = fit_free_part(pb, np.zeros((20, 1)))
    assert get_loss("logistic").value(pb.F @ C, Y) * 20 <= 1e-20


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("penalty", ["group", "l1"])
def test_fixed_support_polish_never_raises_the_objective(loss, penalty, rng):
    n, T = 30, 3
    X = rng.uniform(-1, 1, (n, 1))
    Yr = np.hstack([np.abs(X), X ** 2, -X]) + 0.1 * rng.standard_normal((n, T))
    if loss == "logistic":
        Y = np.where(Yr >= np.median(Yr, axis=0), 1.0, -1.0)
    elif loss == "multinomial":
        Y = np.argmax(Yr, axis=1)
    else:
        Y = Yr
    pb = LimitProblem(X, Y, lam=0.01, loss=loss, penalty=penalty, free="intercept")
    th = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    D = pb.check_directions(np.column_stack([np.cos(th), np.sin(th)]))
    from limitsolver.certificate import primal_value
    for trial in range(3):
        V = rng.standard_normal((12, T)) * (rng.random((12, 1)) < 0.5)
        C = rng.standard_normal((1, T))
        J0 = primal_value(pb, D, V, C)[0]
        Vn, Cn = newton_polish(pb, D, V, C)
        J1 = primal_value(pb, D, Vn, Cn)[0]
        assert J1 <= J0
        # rows off the start's support stay off it
        assert not np.any(Vn[~np.any(V != 0, axis=1)])
        if trial == 0:
            assert J1 < J0


def test_bad_input_raises():
    A, Y = _data("squared")
    with pytest.raises(ValueError, match="lam"):
        solve_restricted(A, Y, -1.0, "squared", "group")
    with pytest.raises(ValueError, match="share n"):
        solve_restricted(A[:-1], Y, 0.1, "squared", "group")
    with pytest.raises(ValueError, match="interpolate"):
        solve_restricted(A, Y, 0.1, "interpolate", "group")
    with pytest.raises(ValueError, match="shapes"):
        solve_restricted(A, Y, 0.1, "squared", "group", V0=np.zeros((2, 2)))


def test_restricted_gap_is_a_gap(rng):
    # at random points the restricted gap is positive, and 0 (to rounding) at the optimum
    A, Y = _data("multinomial")
    F = np.ones((A.shape[0], 1))
    pen = get_penalty("group")
    model = SupportModel(A, F, Y, 0.02, get_loss("multinomial"), pen)
    Q = np.linalg.qr(F)[0]
    for _ in range(5):
        V, C = rng.standard_normal((A.shape[1], 3)), rng.standard_normal((1, 3))
        assert restricted_gap(model, V, C, Q) > 0
    V, C, info = solve_restricted(A, Y, 0.02, "multinomial", "group", F=F, tol=1e-13)
    assert 0 <= restricted_gap(model, V, C, Q) <= 1e-12
