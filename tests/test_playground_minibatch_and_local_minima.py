"""The playground's mini-batch gradients (unbiased over an epoch, seeded), its surfaces with local minima (minima
where documented), per-optimizer learning rates (Adadelta keeps 1) and the CLI's mini-batch figure."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import dlb
from dlbasics.experiments.playground import (
    CAMEL_MINIMA,
    PROBLEMS,
    STOCHASTIC,
    epoch_batches,
    lr_for,
    parse_lr,
    run,
    run_all,
)


def test_the_data_based_problems_are_the_stochastic_ones():
    assert STOCHASTIC == ("regression", "double_well", "camel")
    assert not PROBLEMS["rosenbrock"].stochastic


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("batch_size", [8, 7, 1])
def test_the_mini_batch_gradients_of_an_epoch_average_to_the_full_gradient(name, batch_size):
    prob = PROBLEMS[name]
    batches = epoch_batches(prob.n_samples, batch_size, np.random.default_rng(1))
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(prob.n_samples))  # each once
    assert max(map(len, batches)) == batch_size and min(map(len, batches)) >= 2 if batch_size > 1 else True
    for p in (np.array(prob.start), np.array([0.3, -0.4])):
        grads = np.array([prob.batch_grad(p, idx) for idx in batches])
        sizes = np.array([len(idx) for idx in batches])
        mean = (sizes[:, None] * grads).sum(axis=0) / sizes.sum()
        np.testing.assert_allclose(mean, prob.grad(p), rtol=1e-12, atol=1e-12)
        if batch_size == 1:
            assert np.ptp(grads, axis=0).min() > 0.5  # single samples do disagree: the noise is real


def test_double_well_minima_and_saddle_are_where_documented():
    prob = PROBLEMS["double_well"]
    for point, value, kind in (((-1.0, 0.0), 0.0, "min"), ((1.0, 0.0), 16 / 15, "min"), ((0.2, 0.0), 1.6128, "saddle")):
        p = np.array(point)
        assert np.abs(prob.grad(p)).max() < 1e-12
        assert prob.value(p) == pytest.approx(value, abs=1e-12)
        h = 1e-5  # the Hessian by central differences of the gradient: both curvatures up at a minimum
        hess = np.array([(prob.grad(p + h * e) - prob.grad(p - h * e)) / (2 * h) for e in np.eye(2)])
        eig = np.linalg.eigvalsh((hess + hess.T) / 2)
        assert (eig > 0).all() if kind == "min" else eig[0] < 0 < eig[1]
    assert prob.minimum == (-1.0, 0.0) and prob.min_value == 0.0


def test_camel_minima_are_the_published_ones_to_machine_precision():
    published = {(0.0898, -0.7126): -1.0316, (-0.0898, 0.7126): -1.0316, (-1.7036, 0.7961): -0.2155,
                 (1.7036, -0.7961): -0.2155, (1.6071, 0.5687): 2.1043, (-1.6071, -0.5687): 2.1043}
    prob = PROBLEMS["camel"]
    assert len(CAMEL_MINIMA) == 6
    for (_, point, value), (guess, f) in zip(CAMEL_MINIMA, published.items()):
        np.testing.assert_allclose(point, guess, atol=1e-4)  # (published: truncated)
        assert value == pytest.approx(f, abs=5e-5)
        assert np.abs(prob.grad(np.array(point))).max() < 1e-12
    X, Y = np.meshgrid(np.linspace(-2.2, 2.2, 201), np.linspace(-1.25, 1.25, 201))
    assert prob.value(np.stack([X, Y])).min() >= prob.min_value - 1e-12


def test_a_seeded_mini_batch_run_reproduces_and_another_seed_differs():
    a = run("regression", "sgd", 40, lr=0.05, batch_size=10, seed=3)
    b = run("regression", "sgd", 40, lr=0.05, batch_size=10, seed=3)
    c = run("regression", "sgd", 40, lr=0.05, batch_size=10, seed=4)
    np.testing.assert_array_equal(a["trajectory"], b["trajectory"])
    assert not np.array_equal(a["trajectory"], c["trajectory"])
    full = run("regression", "sgd", 40, lr=0.05, batch_size=200)  # a batch of every sample is the full gradient
    assert full["batch_size"] is None
    np.testing.assert_array_equal(full["trajectory"], run("regression", "sgd", 40, lr=0.05)["trajectory"])


def test_mini_batch_noise_carries_sgd_out_of_the_local_minimum_that_full_batch_settles_in():
    full = run("double_well", "sgd", 500, lr=0.05)
    mini = run("double_well", "sgd", 500, lr=0.05, batch_size=4, seed=0)
    prob = PROBLEMS["double_well"]
    assert prob.nearest_minimum(full["trajectory"][-1]) == "local (1, 0)"
    np.testing.assert_allclose(full["trajectory"][-1], [1.0, 0.0], atol=1e-6)
    assert prob.nearest_minimum(mini["trajectory"][-1]) == "global (-1, 0)"


def test_a_run_ends_in_the_basin_gradient_flow_leads_to_not_the_nearest_minimum():
    prob = PROBLEMS["double_well"]
    point = np.array([0.15, 1.3])  # left of the saddle's x = 0.2, but nearer (1, 0) than (-1, 0)
    assert prob.nearest_minimum(point) == "local (1, 0)" and prob.basin(point) == "global (-1, 0)"
    assert PROBLEMS["rosenbrock"].basin(point) is None  # no list of minima: nothing to name


def test_mini_batches_need_data():
    with pytest.raises(ValueError, match="has no data"):
        run("rosenbrock", "sgd", 3, batch_size=4)


@pytest.mark.parametrize("text,expected", [
    (None, None), ("0.05", 0.05), ("sgd=0.05,adam=0.1", {"sgd": 0.05, "adam": 0.1}),
    ("0.05, adam=0.1", {"*": 0.05, "adam": 0.1}), ("adadelta=0.5", {"adadelta": 0.5})])
def test_lr_parsing(text, expected):
    assert parse_lr(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("-1", "--lr must be a positive number"), ("sgd=0", "--lr must be a positive number"),
    ("0.1,0.2", "give one number"), ("adamm=0.1", "did you mean 'adam'"), ("fast", "expected a number")])
def test_bad_lr_is_a_one_line_value_error(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_lr(text)


def test_adadelta_keeps_lr_1_unless_named_and_the_others_their_defaults():
    assert lr_for("adadelta", 0.05) is None and lr_for("sgd", 0.05) == 0.05
    assert lr_for("adadelta", {"*": 0.05}) is None and lr_for("adadelta", {"adadelta": 0.5}) == 0.5
    assert lr_for("rmsprop", {"sgd": 0.05}) is None and lr_for("rmsprop", {"*": 0.2, "sgd": 0.05}) == 0.2
    _, rows = run_all(["saddle"], ["sgd", "adam", "adadelta"], 3, {"sgd": 0.05})
    assert [r["lr"] for r in rows] == [0.05, 1e-3, 1.0]
    _, rows = run_all(["saddle"], ["sgd", "adadelta"], 3, 0.05)
    assert [r["lr"] for r in rows] == [0.05, 1.0]


def test_cli_draws_mini_batch_against_full_batch(tmp_path):
    runs = tmp_path / "r"
    result = dlb("playground", "double_well", "--optimizers", "sgd", "--steps", "20", "--lr", "0.05",
                 "--batch-size", "4", "--seed", "2", "--runs-dir", runs)
    assert result.returncode == 0, result.stderr
    (folder,) = runs.iterdir()
    assert (folder / "double_well_minibatch.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((folder / "playground.csv").open()))
    assert [(r["problem"], r["optimizer"], r["batch_size"], r["lr"]) for r in rows] == [
        ("double_well", "sgd", "full", "0.05"), ("double_well", "sgd", "4", "0.05")]
    assert rows[0]["end"] == "local (1, 0)"
    results, rows = run_all(["saddle"], ["sgd"], 3, batch_size=4)  # no data: one exact path only
    assert [r["batch_size"] for r in rows] == [None] and len(results["saddle"]) == 1


def test_several_batch_sizes_walk_from_the_same_start_and_those_of_the_whole_data_are_dropped():
    results, rows = run_all(["double_well"], ["sgd"], 5, 0.05, batch_size=[1, 32, 200, 32], seed=1)
    assert [r["batch_size"] for r in rows] == [None, 1, 32]  # 200 samples in a batch is the full batch
    assert all((r["trajectory"][0] == PROBLEMS["double_well"].start).all() for r in results["double_well"])
    one = run("double_well", "sgd", 5, lr=0.05, batch_size=1, seed=1)["trajectory"]
    np.testing.assert_array_equal(results["double_well"][1]["trajectory"], one)


@pytest.mark.parametrize("args,fragment", [
    (["rosenbrock", "--batch-size", "4"], "--batch-size: rosenbrock has no data"),
    (["double_well", "--batch-size", "4,0"], "batch sizes are integers >= 1"),
    (["double_well", "--batch-size", "four"], "expected a positive integer"),
    (["regression", "--lr", "sgd=x"], "expected a number or name=number pairs"),
    (["regression", "--optimizers", "sgd", "--lr", "adam=0.1"], "--lr names adam, which --optimizers does not run"),
])
def test_cli_mistakes_are_one_line_errors(tmp_path, args, fragment):
    result = dlb("playground", *args, "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
