"""The conic backends' error and warning handling: only an unknown option becomes the
"not accepted" ValueError, other errors pass unchanged, and only cvxpy's inaccuracy warning
is silenced."""
import typing
import warnings

import numpy as np
import pytest

from limitsolver.problem import LimitProblem
from limitsolver.solvers import conic


def _model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 1))
    p = LimitProblem(X, rng.integers(0, 3, 10), lam=0.1, loss="multinomial")
    G = p.check_directions(rng.standard_normal((8, 2)))
    return p, G, conic.ConicModel(p, G)


def test_unknown_option_is_a_value_error_naming_it():
    p, G, model = _model()
    with pytest.raises(ValueError, match="'no_such_setting' not accepted by CLARABEL"):
        model.solve(p.lam, "CLARABEL", 1e-8, no_such_setting=3)


def test_other_type_errors_are_not_relabelled(monkeypatch):
    p, G, model = _model()

    def broken(*a, **k):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
    monkeypatch.setattr(model.problem, "solve", broken)
    with pytest.raises(TypeError, match="unsupported operand"):
        model.solve(p.lam, "CLARABEL", 1e-8)


def test_only_the_inaccuracy_warning_is_silenced(monkeypatch):
    p, G, model = _model()
    real = model.problem.solve

    def noisy(*a, **k):
        warnings.warn("Solution may be inaccurate. Try another solver", UserWarning)
        warnings.warn("something the user should see", RuntimeWarning)
        return real(*a, **k)
    monkeypatch.setattr(model.problem, "solve", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.solve(p.lam, "CLARABEL", 1e-8)
    messages = [str(w.message) for w in caught]
    assert "something the user should see" in messages
    assert not any(m.startswith("Solution may be inaccurate") for m in messages)


def test_public_signatures_resolve():
    for f in (conic.solve_conic, conic.get_model, conic.ConicModel.solve,
              conic.ConicModel.__init__, conic.unknown_option):
        typing.get_type_hints(f)
