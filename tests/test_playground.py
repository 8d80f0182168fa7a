"""The optimizer playground: exact gradients, stated minima, momentum beating SGD on the regression, the CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from dlbasics.experiments.playground import PROBLEMS, run, steps_to_reach
from dlbasics.nn.parameter import Parameter
from dlbasics.optim.optimizers import OPTIMIZERS

#: the regression comparison: one learning rate for both, and a step budget both must finish within
REGRESSION_LR, REGRESSION_STEPS = 0.05, 400


def points(problem, n=6, seed=0):
    """The start, the minimum nudged off it, and random points inside the plot bounds."""
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = problem.bounds
    randoms = [np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)]) for _ in range(n)]
    return [np.array(problem.start), np.add(problem.minimum, [0.1, -0.05]), *randoms]


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_gradient_equals_central_finite_differences(name):
    prob = PROBLEMS[name]
    h = 1e-6
    for p in points(prob):
        numeric = np.array([(prob.value(p + h * e) - prob.value(p - h * e)) / (2 * h) for e in np.eye(2)])
        analytic = prob.grad(p)
        assert analytic.shape == (2,)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * (1 + np.abs(numeric).max()),
                                   err_msg=f"{name} at {p}")


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_stated_minimum_has_zero_gradient_and_the_stated_value(name):
    prob = PROBLEMS[name]
    p = np.array(prob.minimum)
    assert np.linalg.norm(prob.grad(p)) < 1e-9
    assert prob.value(p) == pytest.approx(prob.min_value, abs=1e-12)
    for q in points(prob):  # and it is the lowest point around
        assert prob.value(q) >= prob.min_value - 1e-12


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_value_is_vectorised_over_a_grid(name):
    prob = PROBLEMS[name]
    (x0, x1), (y0, y1) = prob.bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, 7), np.linspace(y0, y1, 5))
    Z = prob.value(np.stack([X, Y]))
    assert Z.shape == X.shape
    np.testing.assert_allclose(Z[3, 4], prob.value(np.array([X[3, 4], Y[3, 4]])), rtol=1e-12)


def test_regression_minimum_is_the_least_squares_fit_near_the_truth():
    from dlbasics.data.synthetic import linear

    prob = PROBLEMS["regression"]
    x, y = linear(np.random.default_rng(0), 200)
    design = np.hstack([x, np.ones_like(x)])
    np.testing.assert_allclose(prob.minimum, np.linalg.lstsq(design, y[:, 0], rcond=None)[0], rtol=1e-12)
    assert abs(prob.minimum[0] - 4) < 0.5 and abs(prob.minimum[1] + 2) < 0.5
    w, b = 1.5, -0.5
    assert prob.value(np.array([w, b])) == pytest.approx(np.mean((w * x + b - y) ** 2), rel=1e-12)


def test_momentum_reaches_the_regression_optimum_in_fewer_steps_than_sgd():
    prob = PROBLEMS["regression"]
    target = prob.min_value + 1e-3
    reached = {}
    for name in ("sgd", "momentum"):
        res = run("regression", name, REGRESSION_STEPS, lr=REGRESSION_LR)
        assert res["lr"] == REGRESSION_LR and res["diverged_step"] is None
        np.testing.assert_array_equal(res["trajectory"][0], prob.start)
        reached[name] = steps_to_reach(res["losses"], target)
    assert reached["sgd"] is not None and reached["momentum"] is not None, reached
    assert reached["momentum"] < reached["sgd"], reached


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_every_optimizer_runs_on_every_problem(name):
    for opt in OPTIMIZERS:
        res = run(name, opt, 60)
        assert res["trajectory"].shape == (61, 2) and res["losses"].shape == (61,)
        assert res["diverged_step"] is None and np.isfinite(res["losses"]).all(), opt
        assert res["lr"] == OPTIMIZERS[opt]([Parameter(np.zeros(2))]).lr
        np.testing.assert_allclose(res["losses"][0], PROBLEMS[name].value(np.array(PROBLEMS[name].start)))


def test_run_passes_hyper_parameters_and_the_start():
    res = run("ill_conditioned", "sgd", 5, lr=0.01, momentum=0.5, start=(1.0, 0.0))
    assert "momentum=0.5" in res["optimizer_repr"]
    np.testing.assert_allclose(res["trajectory"][0], [1.0, 0.0])
    np.testing.assert_allclose(res["trajectory"][1], [0.99, 0.0])


def test_a_diverging_run_stops_without_warnings_and_is_flagged():
    res = run("rosenbrock", "sgd", 50, lr=0.1)  # pytest turns RuntimeWarnings (overflow) into errors
    assert res["diverged_step"] is not None and res["diverged_step"] < 50
    assert np.isnan(res["losses"][res["diverged_step"]:]).all()
    assert np.isfinite(res["losses"][:res["diverged_step"]]).all()
    assert steps_to_reach(res["losses"], 0.0) is None


def test_steps_to_reach():
    assert steps_to_reach(np.array([5.0, 3.0, 1.0, 0.5, 2.0]), 1.0) == 2
    assert steps_to_reach(np.array([5.0, 3.0]), 1.0) is None
    assert steps_to_reach(np.array([5.0, np.nan]), 1.0) is None
    assert steps_to_reach(np.array([0.5]), 1.0) == 0


def test_unknown_names_raise_a_value_error_with_a_suggestion():
    with pytest.raises(ValueError, match="did you mean 'momentum'"):
        run("regression", "momentun", 3)
    with pytest.raises(ValueError, match="did you mean 'rosenbrock'"):
        run("rosenbrok", "sgd", 3)


def test_plots_handle_a_diverged_run():
    from dlbasics.plots.playground import plot_losses, plot_trajectories

    results = [run("rosenbrock", "sgd", 40, lr=0.1), run("rosenbrock", "momentum", 40)]
    for fig in (plot_trajectories("rosenbrock", results), plot_losses(results, 0.0)):
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("diverged at step" in t for t in legend)


def dlb(*args):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "dlbasics", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_writes_plots_and_csv(tmp_path):
    runs = tmp_path / "r"
    result = dlb("playground", "regression", "saddle", "--optimizers", "sgd,momentum", "--steps", "80",
                 "--lr", "0.05", "--runs-dir", runs)
    assert result.returncode == 0, result.stderr
    (folder,) = runs.iterdir()
    assert "-playground-" in folder.name
    for problem in ("regression", "saddle"):
        for kind in ("trajectories", "loss"):
            png = folder / f"{problem}_{kind}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((folder / "playground.csv").open()))
    assert [(r["problem"], r["optimizer"]) for r in rows] == [
        ("regression", "sgd"), ("regression", "momentum"), ("saddle", "sgd"), ("saddle", "momentum")]
    assert all(float(r["lr"]) == 0.05 for r in rows)
    momentum = rows[1]
    assert int(momentum["steps_to_target"]) < 80 and momentum["diverged_step"] == ""
    assert rows[0]["steps_to_target"] == ""  # sgd needs more than 80 steps at this lr
    assert str(folder) in result.stdout and "momentum" in result.stdout


@pytest.mark.parametrize("args,fragment", [
    (["rosenbrok"], "unknown problem 'rosenbrok'; did you mean 'rosenbrock'?"),
    (["regression", "--optimizers", "sgd,adamm"], "unknown optimizer 'adamm'; did you mean 'adam'?"),
    (["--optimizers", ""], "--optimizers is empty"),
    (["--optimizers", " , "], "--optimizers is empty"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--steps", "0"], "--steps"),
])
def test_cli_user_mistakes_are_one_line_errors(tmp_path, args, fragment):
    runs = tmp_path / "r"
    result = dlb("playground", *args, "--runs-dir", runs)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert not runs.exists()
