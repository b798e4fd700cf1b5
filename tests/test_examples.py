"""Each example script runs in its --quick mode, prints its numbers and writes its PNG.

The scripts are loaded in-process (their ``main(argv)``), which avoids re-importing cvxpy
and matplotlib five times."""
import importlib.util
import os
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["multitask_benefit", "uniqueness_many_tasks", "feature_learning",
            "implicit_vs_explicit", "locality_globality"]


def _load(name):
    path = os.path.join(ROOT, "examples", f"{name}.py")
    ex_dir = os.path.dirname(path)
    if ex_dir not in sys.path:
        sys.path.insert(0, ex_dir)
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick(name, tmp_path, capsys):
    mod = _load(name)
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    png = tmp_path / f"{name}.png"
    assert png.exists() and png.stat().st_size > 5000
    assert "wrote" in out and len(out.splitlines()) >= 3
