"""limitsolver: the exact infinite-width limit of weight-decay-trained shallow ReLU networks
with several outputs (multi-task learning). The specification is MATH.md.

Public names are re-exported here from small modules; :mod:`limitsolver.plotting` is not
imported by the package (it imports matplotlib).
"""
from .analysis import FrozenFit, fit_frozen, neuron_kernel, neuron_weights
from .api import solve, solve_problem
from .certificate import Certificate, certify, lam_max
from .compare import ComparisonTable, compare
from .datasets import make_demo
from .exceptions import ConvergenceWarning, LimitGapWarning, SolverFailed
from .features import augment, relu_features
from .kernel import KernelSolution, solve_kernel
from .grids import breakpoint_directions, cylinder_grid, default_grid, sphere_grid
from .path import LimitPath, limit_path
from .problem import LimitProblem
from .ranges import PredictionRange, prediction_range
from .solution import LimitSolution
from .solvers import available_solvers
from .sweep import Job, SweepResult, sweep
from .version import __version__


#: Names imported on first use (scikit-learn is optional and slow to import).
_LAZY = {"LimitRegressor": "estimators", "LimitClassifier": "estimators",
         "Network": "network", "train": "trainer",
         "validate": "validation", "ValidationResult": "validation"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "solve", "solve_problem", "LimitProblem", "LimitSolution", "Certificate", "certify",
    "lam_max", "make_demo", "ConvergenceWarning", "LimitGapWarning", "SolverFailed", "augment",
    "relu_features", "sphere_grid", "cylinder_grid", "breakpoint_directions",
    "default_grid", "available_solvers", "limit_path", "LimitPath", "sweep", "Job", "SweepResult",
    "LimitRegressor", "LimitClassifier", "Network", "train", "validate", "ValidationResult",
    "compare", "ComparisonTable", "KernelSolution", "solve_kernel", "__version__",
    "neuron_kernel", "neuron_weights", "fit_frozen", "FrozenFit", "prediction_range",
    "PredictionRange",
]
