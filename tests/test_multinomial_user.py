"""Multinomial (softmax) loss on the user side: finite networks, estimators, kernel, CLI."""
import numpy as np
import pytest

import limitsolver as ls

pytestmark = pytest.mark.filterwarnings("ignore::limitsolver.LimitGapWarning")
from limitsolver.network import Network


def _labels(rng, n=12, d=1, K=3):
    X = rng.normal(size=(n, d))
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)
    return X, y


def test_trainer_gradient_matches_finite_differences(rng):
    X, y = _labels(rng, n=9, d=2, K=3)
    net = Network(rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(5, 3)),
                  free="intercept", intercept=rng.normal(size=3))
    Y = np.eye(3)[y]
    value, grads = net.objective_and_gradient(X, y, 0.1, loss="multinomial")
    assert value == pytest.approx(net.objective(X, Y, 0.1, loss="multinomial"), rel=1e-14)
    # the loss term is the softmax cross-entropy, written out here independently
    F = net.predict(X)
    ce = np.mean(np.log(np.exp(F).sum(1)) - F[np.arange(9), y])
    assert value == pytest.approx(ce + net.penalty(0.1), rel=1e-12)
    theta = net.get_params()
    g = net.flat_gradient(grads)
    h = 1e-6
    for k in rng.choice(theta.size, 12, replace=False):
        e = np.zeros_like(theta)
        e[k] = h
        a, b = net.copy(), net.copy()
        a.set_params(theta + e)
        b.set_params(theta - e)
        fd = (a.objective(X, y, 0.1, "multinomial")
              - b.objective(X, y, 0.1, "multinomial")) / (2 * h)
        assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_trained_networks_approach_the_multinomial_limit(rng):
    X, y = _labels(rng, n=12, d=1, K=3)
    lam = 0.05
    sol = ls.solve(X, y, lam=lam, loss="multinomial")
    assert sol.lower_bound is not None and sol.limit_certified
    excess = {}
    for m in (1, 8):
        nets = [ls.train(X, y, lam=lam, width=m, loss="multinomial", random_state=s)
                for s in range(3)]
        net = min(nets, key=lambda n: n.info["objective"])
        best = net.info["objective"]
        # no finite network goes below a certified lower bound on OPT
        assert best >= sol.lower_bound - 1e-10 * abs(sol.lower_bound)
        excess[m] = (best - sol.objective) / sol.objective
    assert excess[1] > 1e-5            # one neuron cannot carry the limit's atoms
    assert abs(excess[8]) < 1e-7       # wide enough: the finite network is the limit
    # scores are shift-invariant per sample: compare the class probabilities
    from scipy.special import softmax
    np.testing.assert_allclose(softmax(net.predict(X), axis=1), softmax(sol.predict(X), axis=1),
                               atol=1e-6)


def test_validate_multinomial(rng):
    X, y = _labels(rng, n=10, d=1, K=3)
    res = ls.validate(X, y, lam=0.05, loss="multinomial", widths=(8,), seeds=(0,),
                      verbose=False)
    assert abs(res.rel_excess[0, 0]) < 1e-6 and not res.below_bound.any()


def test_classifier_softmax_default_and_ovr_as_before(rng):
    X = rng.normal(size=(30, 2))
    y = np.array(["a", "b", "c"])[np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.4, 0.4])]
    grid = ls.sphere_grid(3, 60)
    clf = ls.LimitClassifier(0.02, grid=grid).fit(X, y)
    assert clf.classes_.tolist() == ["a", "b", "c"] and clf.n_tasks_ == 3
    assert clf.solution_.problem.loss == "multinomial"
    # the same problem through solve, integer labels 0..2 in the classes' order
    ref = ls.solve(X, np.searchsorted(clf.classes_, y), lam=0.02, loss="multinomial",
                   grid=grid)
    np.testing.assert_array_equal(clf.decision_function(X), ref.predict(X))
    Xn = rng.normal(size=(15, 2))
    P = clf.predict_proba(Xn)
    F = clf.decision_function(Xn)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(P, np.exp(F) / np.exp(F).sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(Xn), np.log(P), rtol=1e-10)
    assert (clf.classes_[P.argmax(1)] == clf.predict(Xn)).all()
    assert clf.score(X, y) > 0.8
    # one-vs-rest: the ±1 tasks of before, solved with the logistic loss
    ovr = ls.LimitClassifier(0.02, multi_class="ovr", free="intercept", grid=grid).fit(X, y)
    Ypm = np.where(y[:, None] == np.array(["a", "b", "c"]), 1.0, -1.0)
    old = ls.solve(X, Ypm, lam=0.02, loss="logistic", free="intercept", grid=grid)
    np.testing.assert_array_equal(ovr.decision_function(Xn), old.predict(Xn))
    Q = ovr.predict_proba(Xn)
    S = 1 / (1 + np.exp(-old.predict(Xn)))
    np.testing.assert_allclose(Q, S / S.sum(1, keepdims=True), rtol=1e-12)
    assert (ovr.classes_[Q.argmax(1)] == ovr.predict(Xn)).all()
    # two classes stay logistic in both modes
    yb = (X[:, 0] > 0).astype(int)
    for mode in ("multinomial", "ovr"):
        b = ls.LimitClassifier(0.02, multi_class=mode, grid=grid).fit(X, yb)
        assert b.solution_.problem.loss == "logistic" and b.n_tasks_ == 1
        np.testing.assert_allclose(b.predict_proba(Xn)[:, 1],
                                   1 / (1 + np.exp(-b.decision_function(Xn))), rtol=1e-12)
    with pytest.raises(ValueError, match="multi_class"):
        ls.LimitClassifier(multi_class="softmax", grid=grid).fit(X, y)


def test_kernel_softmax_ridge_against_cvxpy(rng):
    cp = pytest.importorskip("cvxpy")
    X, y = _labels(rng, n=14, d=2, K=3)
    lam = 0.03
    sol = ls.solve_kernel(X, y, lam=lam, loss="multinomial", free="intercept")
    assert sol.status == "optimal" and sol.solver == "kernel-newton"
    # independent route: the representer coefficients α (n × K) and intercept c in cvxpy
    K = ls.kernel.kernel_matrix(X, X)
    Y = np.eye(3)[y]
    a, c = cp.Variable((14, 3)), cp.Variable(3)
    F = K @ a + np.ones((14, 1)) @ cp.reshape(c, (1, 3), order="C")
    lse = cp.sum(cp.log_sum_exp(F, axis=1))
    obj = (lse - cp.sum(cp.multiply(Y, F))) / 14 + lam / 2 * sum(
        cp.quad_form(a[:, k], cp.psd_wrap(K)) for k in range(3))
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL")
    assert sol.objective == pytest.approx(prob.value, rel=1e-6)
    # the certificate: a lower bound below the independent optimum, tight
    assert sol.dual_value <= prob.value * (1 + 1e-9)
    assert sol.gap <= 1e-8 * sol.objective and sol.infeasibility <= 1e-8
    Xn = rng.normal(size=(6, 2))
    from scipy.special import softmax
    Fn = ls.kernel.kernel_matrix(Xn, X) @ a.value + c.value
    np.testing.assert_allclose(softmax(sol.predict(Xn), axis=1), softmax(Fn, axis=1), atol=1e-4)


def test_kernel_softmax_two_classes_is_logistic_at_half_lambda(rng):
    # f_0 − f_1 = g with f_0 = −f_1 = g/2 at the optimum: (λ/2)(‖f_0‖² + ‖f_1‖²) = (λ/4)‖g‖²
    X, y = _labels(rng, n=12, d=1, K=2)
    m = ls.solve_kernel(X, y, lam=0.04, loss="multinomial")
    b = ls.solve_kernel(X, np.where(y == 0, 1.0, -1.0), lam=0.02, loss="logistic")
    assert m.objective == pytest.approx(b.objective, rel=1e-9)
    assert m.dual_value == pytest.approx(b.dual_value, rel=1e-7)
    Xn = rng.normal(size=(5, 1))
    P = m.predict(Xn)
    np.testing.assert_allclose(P[:, 0] - P[:, 1], b.predict(Xn)[:, 0], atol=1e-6)


def test_compare_multinomial_rows(rng):
    X = rng.normal(size=(24, 2))
    y = np.digitize(X[:, 0] - X[:, 1], [-0.5, 0.5]) * 10          # labels 0, 10, 20
    Xt = rng.normal(size=(16, 2))
    yt = np.digitize(Xt[:, 0] - Xt[:, 1], [-0.5, 0.5]) * 10
    grid = ls.sphere_grid(3, 50)
    tab = ls.compare(X, y, lam=0.02, loss="multinomial", grid=grid, X_test=Xt, Y_test=yt)
    assert [r.penalty for r in tab] == ["group", "l1", "kernel"]
    assert tab.options["classes"].tolist() == [0, 10, 20]
    text = str(tab)
    assert "log loss" in text and "test acc" in text and "classes 0, 10, 20" in text
    assert tab["group"].objective <= tab["l1"].objective * (1 + 1e-7)
    onehot_t = np.eye(3)[yt // 10]
    for r in tab:
        F = r.solution.predict(Xt)
        # independent: accuracy and cross-entropy written out here
        assert r.test_accuracy == pytest.approx(np.mean(np.argmax(F, 1) == yt // 10))
        ce = np.mean(np.log(np.exp(F).sum(1)) - np.sum(onehot_t * F, 1))
        assert r.test_error == pytest.approx(ce, rel=1e-12)
        assert 0 <= r.train_accuracy <= 1
    assert all(r.status == "optimal" for r in tab)
    ref = ls.solve(X, y // 10, lam=0.02, loss="multinomial", grid=grid)
    assert tab["group"].objective == pytest.approx(ref.objective, rel=1e-12)
    with pytest.raises(ValueError, match="training classes"):
        ls.compare(X, y, lam=0.02, loss="multinomial", grid=grid, penalties=("kernel",),
                   X_test=Xt, Y_test=yt + 1)


def _write_labelled_csv(path, X, labels):
    with open(path, "w") as fh:
        fh.write("x1,species,x2\n")
        for x, c in zip(X, labels):
            fh.write(f"{float(x[0])!r},{c},{float(x[1])!r}\n")


def test_cli_multinomial_label_column(rng, tmp_path, capsys):
    from limitsolver.cli import main
    X = rng.normal(size=(18, 2))
    names = np.array(["setosa", "versicolor", "virginica"])
    idx = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    _write_labelled_csv(tmp_path / "train.csv", X, names[idx])
    code = main(["solve", str(tmp_path / "train.csv"), "--loss", "multinomial",
                 "--targets", "species", "--lam", "0.05", "--n-directions", "60",
                 "--out", str(tmp_path), "--no-plot"])
    out = capsys.readouterr().out
    assert code == 0
    ref = ls.solve(X, idx, lam=0.05, loss="multinomial", n_directions=60)
    pred = np.argmax(ref.predict(X), axis=1)
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.split()
             and ln.split()[0] in names}
    for k, c in enumerate(names):        # class, output, samples, predicted, recall
        assert lines[c][1:4] == [str(k), str(int(np.sum(idx == k))), str(int(np.sum(pred == k)))]
    assert f"train accuracy {np.mean(pred == idx):.4f}" in out
    sol = ls.LimitSolution.load(tmp_path / "train_solution.npz")
    assert sol.objective == pytest.approx(ref.objective, rel=1e-10)
    # compare with a held-out file of the same classes: the table and the class names
    Xt = rng.normal(size=(10, 2))
    _write_labelled_csv(tmp_path / "test.csv", Xt, names[np.digitize(Xt.sum(1), [-0.5, 0.5])])
    code = main(["compare", str(tmp_path / "train.csv"), "--loss", "multinomial",
                 "--targets", "species", "--lam", "0.05", "--n-directions", "60",
                 "--test", str(tmp_path / "test.csv"), "--csv", str(tmp_path / "t.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "classes: 0 = setosa, 1 = versicolor, 2 = virginica" in out
    assert "test acc" in out and (tmp_path / "t.csv").exists()
    # a class in the test file that training never saw: a one-line error, exit code 2
    _write_labelled_csv(tmp_path / "bad.csv", Xt[:3], ["setosa", "rose", "setosa"])
    code = main(["compare", str(tmp_path / "train.csv"), "--loss", "multinomial",
                 "--targets", "species", "--lam", "0.05", "--test", str(tmp_path / "bad.csv")])
    assert code == 2 and "'rose' is not among the training classes" in capsys.readouterr().err


def test_mlp_classifier_weight_decay_is_lambda_times_n(rng):
    # scikit-learn's MLPClassifier minimizes mean CE + (α/(2n))(‖W₁‖² + ‖W₂‖²) with
    # unpenalized biases: our objective with bias="free", free="intercept" at λ = α/n
    from sklearn.neural_network import MLPClassifier
    X, y = _labels(rng, n=30, d=3, K=4)
    alpha = 0.3
    mlp = MLPClassifier((6,), alpha=alpha, solver="lbfgs", max_iter=50,
                        random_state=0).fit(X, y)
    net = Network(mlp.coefs_[0].T, mlp.intercepts_[0], mlp.coefs_[1], bias="free",
                  free="intercept", intercept=mlp.intercepts_[1])
    ours = net.objective(X, y, alpha / len(y), loss="multinomial")
    assert ours == pytest.approx(mlp.loss_, rel=1e-6)
    from scipy.special import softmax
    np.testing.assert_allclose(softmax(net.predict(X), axis=1), mlp.predict_proba(X),
                               rtol=1e-10)
