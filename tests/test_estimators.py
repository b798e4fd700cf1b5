"""scikit-learn estimators: the estimator checks, independent routes, warm start, no sklearn."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import limitsolver as ls
import limitsolver.estimators as est_mod
from limitsolver import LimitClassifier, LimitRegressor

from .conftest import random_problem

pytestmark = pytest.mark.filterwarnings("ignore::limitsolver.ConvergenceWarning")


# Every applicable scikit-learn check runs on a small grid (64 directions) so it is fast.
# Both estimators declare their abilities through __sklearn_tags__ (multi-output targets;
# multi-label for the classifier), which is how the checks decide what applies.
@parametrize_with_checks([LimitRegressor(n_directions=64), LimitClassifier(n_directions=64),
                          LimitClassifier(n_directions=64, multi_class="ovr")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_regressor_matches_solve_and_l1_separates_tasks(rng):
    X, Y = random_problem(rng, n=20, d=2, T=3)
    grid = ls.sphere_grid(3, 100)
    reg = LimitRegressor(0.02, penalty="l1", free="intercept", grid=grid).fit(X, Y)
    sol = ls.solve(X, Y, lam=0.02, penalty="l1", free="intercept", grid=grid)
    assert reg.objective_ == sol.objective
    assert reg.n_features_in_ == 2 and reg.n_outputs_ == 3
    assert reg.directions_.shape == (reg.n_neurons_, 3) and reg.weights_.shape[1] == 3
    # independent route: l1 = T separate single-task networks
    Xn = rng.uniform(-1, 1, size=(7, 2))
    for t in range(3):
        single = LimitRegressor(0.02, free="intercept", grid=grid, solver="clarabel")
        single.fit(X, Y[:, t])
        assert single.predict(Xn).shape == (7,)
        np.testing.assert_allclose(single.predict(Xn), reg.predict(Xn)[:, t], atol=1e-5)
    assert reg.score(X, Y) > 0.8


def test_classifier_encodings(rng):
    X, _ = random_problem(rng, n=40, d=2, T=1)
    grid = ls.sphere_grid(3, 80)
    # binary with string labels: classes_[1] is the +1 task
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "yes", "no")
    clf = LimitClassifier(0.01, free="intercept", grid=grid).fit(X, y)
    assert clf.classes_.tolist() == ["no", "yes"] and clf.n_tasks_ == 1
    ref = ls.solve(X, np.where(y == "yes", 1.0, -1.0), lam=0.01, loss="logistic",
                   free="intercept", grid=grid)
    np.testing.assert_array_equal(clf.decision_function(X), ref.predict(X)[:, 0])
    assert clf.score(X, y) > 0.9
    # multiclass one-vs-rest with l1 = K separate binary classifiers (independent route)
    yk = np.digitize(X[:, 0], [-0.3, 0.3])
    multi = LimitClassifier(0.01, multi_class="ovr", penalty="l1", free="intercept",
                            grid=grid, solver="clarabel").fit(X, yk)
    assert multi.n_tasks_ == 3 and multi.classes_.tolist() == [0, 1, 2]
    D = multi.decision_function(X)
    for k in range(3):
        one = LimitClassifier(0.01, free="intercept", grid=grid, solver="clarabel")
        one.fit(X, (yk == k).astype(int))
        np.testing.assert_allclose(one.decision_function(X), D[:, k], atol=1e-4)
    np.testing.assert_allclose(multi.predict_proba(X).sum(1), 1.0)
    # multi-label: one task per column, same two labels
    Yml = np.column_stack([yk == 0, yk == 2, X[:, 1] > 0]).astype(int)
    ml = LimitClassifier(0.01, free="intercept", grid=grid).fit(X, Yml)
    assert ml.predict(X).shape == (40, 3) and ml.classes_.tolist() == [0, 1]
    assert ml.predict_proba(X).shape == (40, 3)
    with pytest.raises(ValueError, match="same two labels"):
        LimitClassifier(grid=grid).fit(X, np.column_stack([yk, yk]))
    with pytest.raises(ValueError, match="1 class"):
        LimitClassifier(grid=grid).fit(X, np.zeros(40))


def test_warm_start_reuses_grid_and_solution(rng, monkeypatch):
    X, Y = random_problem(rng, n=15, d=1, T=2)
    calls = []
    real = est_mod.solve

    def spy(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(est_mod, "solve", spy)
    reg = LimitRegressor(0.05, warm_start=True, n_directions=50).fit(X, Y)
    first = reg.solution_
    reg.set_params(lam=0.02).fit(X, Y)
    assert calls[0]["warm_start"] is None and calls[1]["warm_start"] is first
    assert calls[1]["grid"] is first.grid
    cold = LimitRegressor(0.02, grid=first.grid).fit(X, Y)
    assert abs(reg.objective_ - cold.objective_) <= 1e-8 * abs(cold.objective_)


def test_pipeline_and_grid_search(rng):
    X, Y = random_problem(rng, n=30, d=1, T=1)
    pipe = make_pipeline(StandardScaler(), LimitRegressor(free="intercept", n_directions=40))
    search = GridSearchCV(pipe, {"limitregressor__lam": [1e-3, 1e-1]}, cv=3)
    search.fit(X, Y[:, 0])
    # independent route: the same 3 unshuffled folds, scaled and solved by hand, R² by hand
    y = Y[:, 0]
    folds = np.array_split(np.arange(30), 3)

    def fit_predict(train, Xq, lam):
        mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
        sol = ls.solve((X[train] - mu) / sd, y[train], lam=lam, free="intercept",
                       n_directions=40)
        return sol.predict((Xq - mu) / sd)[:, 0]

    means = []
    for lam in (1e-3, 1e-1):
        scores = []
        for test in folds:
            train = np.setdiff1d(np.arange(30), test)
            r = y[test] - fit_predict(train, X[test], lam)
            scores.append(1.0 - np.sum(r**2) / np.sum((y[test] - y[test].mean()) ** 2))
        means.append(np.mean(scores))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], means, rtol=1e-6)
    assert abs(means[0] - means[1]) > 1e-3          # the choice is not a tie
    assert search.best_params_["limitregressor__lam"] == (1e-3, 1e-1)[int(np.argmax(means))]
    best = search.best_params_["limitregressor__lam"]
    np.testing.assert_allclose(search.predict(X), fit_predict(np.arange(30), X, best),
                               rtol=1e-9, atol=1e-12)


def test_works_without_scikit_learn(tmp_path):
    """The package imports and the estimators fit/predict/score with scikit-learn blocked."""
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import warnings, numpy as np\n"
        "import limitsolver as ls\n"
        "from limitsolver.estimators import HAVE_SKLEARN\n"
        "assert not HAVE_SKLEARN\n"
        "X = np.linspace(-1, 1, 12)[:, None]; y = np.abs(X[:, 0])\n"
        "r = ls.LimitRegressor(1e-3, n_directions=40, free='intercept')\n"
        "assert r.get_params()['lam'] == 1e-3\n"
        "r.set_params(lam=1e-2).fit(X, y)\n"
        "sol = ls.solve(X, y, lam=1e-2, n_directions=40, free='intercept')\n"
        "assert np.array_equal(r.predict(X), sol.predict(X)[:, 0])\n"
        "assert r.score(X, y) > 0.9\n"
        "c = ls.LimitClassifier(1e-3, n_directions=40).fit(X, np.where(y > 0.5, 'a', 'b'))\n"
        "assert c.score(X, np.where(y > 0.5, 'a', 'b')) > 0.9\n"
        "try:\n    ls.LimitRegressor().predict(X)\nexcept ValueError: print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, env=env, cwd=os.getcwd(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unfitted_and_bad_params(rng):
    X, Y = random_problem(rng, n=10, d=1, T=1)
    with pytest.raises(ValueError, match="not fitted"):
        LimitRegressor().predict(X)
    with pytest.raises(ValueError, match="loss"):
        LimitRegressor(loss="logistic").fit(X, Y)
    with pytest.raises(ValueError, match="lam"):
        LimitRegressor(lam=-1.0).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        LimitRegressor(n_directions=20).fit(X, Y)
