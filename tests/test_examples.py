"""Each example script runs in its --quick mode, prints its numbers and writes its PNG.

The scripts are loaded in-process (their ``main(argv)``), which avoids re-importing cvxpy
and matplotlib five times."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from .conftest import load_example  # noqa: E402

EXAMPLES = ["multitask_benefit", "uniqueness_many_tasks", "feature_learning",
            "implicit_vs_explicit", "locality_globality"]


def _load(name):
    return load_example(name, "example")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick(name, tmp_path, capsys):
    mod = _load(name)
    assert mod.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    png = tmp_path / f"{name}.png"
    assert png.exists() and png.stat().st_size > 5000
    assert "wrote" in out and len(out.splitlines()) >= 3


def test_uniqueness_headline_diverse_tasks_not_copies():
    """Nakhleh et al.'s squares: the certified prediction range of task 0 (ε = 1e-6) is wide
    with no extra task, shrinks by more than 10× with 4 Bernoulli tasks, and does not shrink
    with 4 copies of task 0 (the negative control: T copies cost √T × one task)."""
    mod = _load("uniqueness_many_tasks")
    log = []
    w0 = mod.measure(mod.bernoulli(0, 0), 2, 200, log)[1]
    w4 = mod.measure(mod.bernoulli(4, 0), 2, 200, log)[1]
    wc = mod.measure(np.repeat(mod.Y0[:, None], 5, axis=1), 2, 200, log)[1]
    assert w0 > 0.1
    assert w4 < 0.1 * w0
    assert wc > 0.5 * w0


def test_width_convergence_out_is_a_folder(tmp_path):
    mod = _load("width_convergence")
    out = tmp_path / "figures"
    assert mod.main(["--out", str(out), "--widths", "2", "--steps", "50"]) == 0
    assert (out / "width_convergence.png").stat().st_size > 5000


def test_multitask_benefit_headline_and_unrelated_control():
    """8 tasks on the same 50 inputs, noise 0.5, seeds 0-2, at the λ the full run picks on
    its calibration seeds: with 2 shared neurons, group beats l1 (pooling finds the kink
    lines); with tasks that share no neuron (each its own 2), group is worse than l1."""
    mb = _load("multitask_benefit")
    import types
    from limitsolver.grids import default_grid
    cfg = types.SimpleNamespace(n=50, n_tasks=8, k=2, noise=0.5, d=2, n_test=500)
    shared, unrelated = [], []
    for seed in (0, 1, 2):
        data = mb.make_data(cfg, seed)
        grid = default_grid(data[0], "regularized", 1000)
        shared.append(mb.task_errors(data, grid, "l1", 8, 0.015, "auto").mean()
                      - mb.task_errors(data, grid, "group", 8, 0.0267, "auto").mean())
        data = mb.make_unrelated(cfg, seed, 8)
        unrelated.append(mb.task_errors(data, grid, "l1", 8, 0.00945, "auto").mean()
                         - mb.task_errors(data, grid, "group", 8, 0.0106, "auto").mean())
    assert np.mean(shared) > 0.003 and min(shared) > 0
    assert np.mean(unrelated) < -0.002
