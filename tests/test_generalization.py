"""Generalization experiments: the bias-variance decomposition adds up, the U shape, learning curves, boosting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import dlb
from dlbasics.experiments import boosting as bst
from dlbasics.experiments.bias_variance import decompose, learning_curve

DEFAULT_CAPACITIES = [1, 2, 3, 4, 5, 6, 8, 10, 12]


@pytest.fixture(scope="module")
def default_rows():
    return decompose(DEFAULT_CAPACITIES)  # the CLI's default setting: 100 sets of 30 points, sigma 0.3, poly


@pytest.fixture(scope="module")
def moons():
    return bst.run_demo("moons", n_estimators=100, seed=0)


# ---------------------------------------------------------------- bias-variance


def test_bias2_plus_variance_plus_noise_is_the_measured_error(default_rows):
    for r in default_rows:
        assert r["noise"] == pytest.approx(0.09)
        assert r["total"] == pytest.approx(r["bias2"] + r["variance"] + r["noise"])
        assert abs(r["measured"] - r["total"]) <= 0.01 * r["total"], r


@pytest.mark.parametrize("kwargs", [dict(ridge=0.0), dict(noise=0.0), dict(noise=1.0, n_train=50, seed=3)])
def test_the_decomposition_adds_up_in_other_settings(kwargs):
    rows = decompose([1, 4, 9], n_datasets=30, **kwargs)
    for r in rows:
        assert abs(r["measured"] - r["total"]) <= 0.01 * r["total"], r


def test_bias_falls_variance_rises_and_the_total_is_u_shaped(default_rows):
    first, last = default_rows[0], default_rows[-1]
    assert first["bias2"] > 10 * last["bias2"]
    assert last["variance"] > 10 * first["variance"]
    totals = [r["total"] for r in default_rows]
    best = int(np.argmin(totals))
    assert 0 < best < len(totals) - 1
    assert default_rows[best]["capacity"] == 3  # sin(2 pi x) on [0, 1] is nearly an odd cubic
    # training error keeps falling: the gap to the test error is the overfitting
    train = [r["train_error"] for r in default_rows]
    assert train[-1] < train[best] < train[0]


def test_decompose_is_reproducible_and_rejects_bad_arguments():
    assert decompose([2, 5], n_datasets=5, seed=7) == decompose([2, 5], n_datasets=5, seed=7)
    for kwargs in (dict(capacities=[0]), dict(capacities=[]), dict(capacities=[1], n_datasets=1),
                   dict(capacities=[1], noise=-1.0), dict(capacities=[1], model="tree")):
        with pytest.raises(ValueError):
            decompose(**kwargs)


def test_mlp_model_runs_and_adds_up():
    rows = decompose([2, 8], n_datasets=3, n_test=50, model="mlp", noise_draws=400)
    for r in rows:
        assert np.isfinite(r["bias2"]) and abs(r["measured"] - r["total"]) <= 0.01 * r["total"]
    assert rows[0]["bias2"] < 0.2  # it learned something of the sine (a constant has bias^2 0.5)


def test_learning_curve_training_error_rises_and_validation_error_falls():
    for capacity in (3, 12):
        rows = learning_curve([10, 20, 50, 100, 200], capacity, n_datasets=30)
        train, val = [r["train_error"] for r in rows], [r["val_error"] for r in rows]
        assert train[0] < train[-1] and val[0] > val[-1], capacity
        assert train[-1] < val[-1]
        assert abs(val[-1] - 0.09) < 0.03  # both approach the noise floor with enough data
    underfit = learning_curve([200], 1, n_datasets=30)[0]
    assert underfit["train_error"] > 2 * 0.09  # a line stays far above the noise: bias, more data cannot help


# ---------------------------------------------------------------- boosting


def brute_force_stump(x, y, w, k):
    """The least weighted error over every feature, every threshold between values, every class pair."""
    best = w[y != np.bincount(y, weights=w, minlength=k).argmax()].sum()  # constant prediction
    for j in range(x.shape[1]):
        values = np.unique(x[:, j])
        for t in (values[1:] + values[:-1]) / 2:
            for left, right in itertools.product(range(k), repeat=2):
                pred = np.where(x[:, j] <= t, left, right)
                best = min(best, w[pred != y].sum())
    return best


def test_fit_stump_finds_the_least_weighted_error():
    rng = np.random.default_rng(0)
    for k in (2, 3):
        x = rng.integers(0, 6, size=(30, 2)).astype(float)  # ties between values
        y = rng.integers(0, k, 30)
        w = rng.random(30)
        stump = bst.fit_stump(x, y, w, k)
        err = w[bst.stump_predict(stump, x) != y].sum()
        assert err == pytest.approx(brute_force_stump(x, y, w, k))


def test_adaboost_improves_with_rounds_and_beats_a_stump_and_bagging(moons):
    ada = moons.models["adaboost"]
    staged = bst.staged_accuracy(ada, moons.x_train, moons.y_train)
    assert len(staged) == len(ada) == 100
    assert staged[-1] > staged[0] + 0.1
    assert staged[-1] == pytest.approx(bst.accuracy(ada, moons.x_train, moons.y_train))
    f = moons.final
    assert f["adaboost"]["test"] > f["stump"]["test"] + 0.05
    assert f["adaboost"]["test"] > f["bagging"]["test"] + 0.05
    assert abs(f["bagging"]["test"] - f["stump"]["test"]) < 0.03  # bagging does not remove a stump's bias
    assert [r["n_estimators"] for r in moons.rows] == list(range(1, 101))


@pytest.mark.parametrize("data", ["moons", "spirals"])
def test_samme_learner_weights_and_sample_reweighting(data, moons):
    demo = moons if data == "moons" else bst.run_demo(data, n_estimators=5, seed=0)
    x, y, ada = demo.x_train, demo.y_train, demo.models["adaboost"]
    k = int(y.max()) + 1
    err = np.array(ada.errors)
    assert np.allclose(ada.alpha, np.log((1 - err) / err) + np.log(k - 1))
    assert np.all(err < 1 - 1 / k)
    # replay the first two rounds by hand: uniform weights, then misses multiplied by exp(alpha_1)
    w = np.full(len(y), 1 / len(y))
    for m in range(2):
        stump = bst.fit_stump(x, y, w, k)
        assert stump == (ada.feature[m], ada.threshold[m], ada.left[m], ada.right[m])
        miss = bst.stump_predict(stump, x) != y
        assert w[miss].sum() / w.sum() == pytest.approx(ada.errors[m])
        w = w * np.exp(ada.alpha[m] * miss)
        w /= w.sum()
    if k == 3:
        assert ada.errors[0] > 0.5 and ada.alpha[0] > 0  # SAMME's log(K - 1) keeps a 3-class stump in the game


def test_bagging_votes_equally_and_one_stump_is_its_own_ensemble(moons):
    bag = moons.models["bagging"]
    assert len(bag) == 100 and set(bag.alpha) == {1.0}
    stump = moons.models["stump"]
    single = (stump.feature[0], stump.threshold[0], stump.left[0], stump.right[0])
    assert np.array_equal(bst.predict(stump, moons.x_test), bst.stump_predict(single, moons.x_test))


# ---------------------------------------------------------------- CLI


def test_bias_variance_command_writes_its_folder(tmp_path):
    result = dlb("bias-variance", "--capacities", "1,3,8", "--datasets", "10", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in folder.iterdir()} >= {"bias_variance.csv", "bias_variance.png", "learning_curve.csv",
                                                   "learning_curve.png", "summary.json"}
    import pandas as pd

    table = pd.read_csv(folder / "bias_variance.csv")
    assert list(table["capacity"]) == [1, 3, 8]
    assert {"bias2", "variance", "noise", "total", "measured"} <= set(table.columns)
    assert set(pd.read_csv(folder / "learning_curve.csv")["capacity"]) == {1, 3, 8}
    assert "bias^2" in result.stdout and "run folder" in result.stdout
    from dlbasics.runs.summary import read_summary

    assert read_summary(folder / "summary.json")["kind"] == "bias-variance"  # `dlb runs list` reads it


def test_boosting_command_writes_its_folder(tmp_path):
    result = dlb("boosting", "--estimators", "20", "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in folder.iterdir()} >= {"boosting.csv", "boosting.png", "summary.json"}
    assert "AdaBoost" in result.stdout and "one stump" in result.stdout
    from dlbasics.runs.summary import read_summary

    assert read_summary(folder / "summary.json")["kind"] == "boosting"  # `dlb runs list` reads it


@pytest.mark.parametrize("args", [
    ["bias-variance", "--capacities", ""], ["bias-variance", "--capacities", "1,two"],
    ["bias-variance", "--capacities", "0,2"], ["bias-variance", "--capacities", "1.5"],
    ["bias-variance", "--datasets", "1"], ["bias-variance", "--noise", "-0.1"],
    ["bias-variance", "--model", "tree"], ["boosting", "--data", "circles"], ["boosting", "--estimators", "0"],
])
def test_bad_input_is_a_one_line_usage_error(tmp_path, args):
    result = dlb(*args, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not (tmp_path / "runs").exists()
