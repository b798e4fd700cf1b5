"""Each example script runs in its --quick mode, prints its numbers and writes its PNG."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["multitask_benefit", "uniqueness_many_tasks", "feature_learning",
            "implicit_vs_explicit", "locality_globality"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick(name, tmp_path):
    script = os.path.join(ROOT, "examples", f"{name}.py")
    env = dict(os.environ, MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=150, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    png = tmp_path / f"{name}.png"
    assert png.exists() and png.stat().st_size > 5000
    assert "wrote" in res.stdout and len(res.stdout.splitlines()) >= 3
