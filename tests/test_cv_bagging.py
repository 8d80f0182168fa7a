"""`dlb cv`, `--seeds`, paired comparisons and bagging, end to end on tiny synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, dlb
from dlbasics import load_config
from dlbasics.config import ConfigError
from dlbasics.execution import LocalProcessExecutor
from dlbasics.experiments import cv as cvx
from dlbasics.experiments.bagging import bag, ensemble_metrics
from dlbasics.experiments.compare import compare, optimizer_members

CV_TINY = TINY.replace("epochs: 3", "epochs: 2")


def test_cv_runs_one_fold_per_k_and_summarises_with_an_interval(write_config, tmp_path):
    cfg = load_config(write_config(CV_TINY), ["cv.k=4"])
    result = cvx.cross_validate(cfg, runs_dir=tmp_path, executor=LocalProcessExecutor(2))
    rows = result.rows
    assert [r["fold"] for r in rows] == [0, 1, 2, 3] and {r["status"] for r in rows} == {"completed"}
    assert sum(r["n_heldout"] for r in rows) == 300  # the held-out folds partition the training set
    acc = result.summary["metrics"]["test_acc"]
    assert acc["n"] == 4 and acc["low"] < acc["mean"] < acc["high"]
    assert acc["mean"] == pytest.approx(np.mean([r["test_acc"] for r in rows]))
    df = pd.read_csv(result.path / "folds.csv")
    assert len(df) == 4 and {"fold", "n_train", "n_val", "n_heldout", "test_acc", "test_loss"} <= set(df.columns)
    for name in ("folds.png", "curves_loss.png", "summary.json"):
        assert (result.path / name).is_file()
    fold = json.loads((result.path / "fold-2" / "summary.json").read_text())
    assert fold["data"]["test_set"] == "held-out cross-validation fold"


def test_cv_folds_are_repeatable_from_their_saved_config(write_config, tmp_path):
    from dlbasics import train

    cfg = load_config(write_config(CV_TINY), ["cv.k=3"])
    result = cvx.cross_validate(cfg, runs_dir=tmp_path, executor=LocalProcessExecutor(2))
    again = train(load_config(result.path / "fold-1" / "config.yaml"), runs_dir=tmp_path / "again")
    assert again.summary["final"]["test_loss"] == result.rows[1]["test_loss"]


def test_nested_cv_picks_from_the_grid_on_inner_folds(write_config, tmp_path):
    cfg = load_config(write_config(CV_TINY.replace("epochs: 2", "epochs: 1")),
                      ["cv.strategy=nested", "cv.k=2", "cv.inner_k=2", "cv.grid={optimizer.lr: [0.1, 0.0001]}"])
    result = cvx.cross_validate(cfg, runs_dir=tmp_path, executor=LocalProcessExecutor(2))
    assert len(result.rows) == 2 and all(r["status"] == "completed" for r in result.rows)
    assert all(json.loads(r["choice"]) in ({"optimizer.lr": 0.1}, {"optimizer.lr": 0.0001}) for r in result.rows)
    assert len(list(result.path.glob("outer-*-grid-*-inner-*"))) == 2 * 2 * 2


@pytest.mark.parametrize("override,fragment", [
    ("cv.k=1", "cv.k: expected an integer >= 2"),
    ("cv.k=200", "cv.k: k = 200 folds is more than the"),
    ("cv.strategy=timeseries", None),
])
def test_impossible_cvs_are_config_errors(write_config, override, fragment):
    text = CV_TINY
    if fragment is None:  # a gap that leaves no training data, on the time series
        text = "data: {name: sine, n_train: 100, n_test: 20}\ntrain: {epochs: 1}\n"
        override, fragment = "cv.gap=90", "cv.gap: gap = 90 leaves no training data"
    with pytest.raises(ConfigError) as info:
        cvx.check(load_config(write_config(text), [override, "cv.strategy=timeseries"]
                              if "gap" in override else [override]))
    assert fragment in str(info.value)


def test_cv_cli_prints_the_mean_and_interval(write_config, tmp_path):
    result = dlb("cv", write_config(CV_TINY), "--kfold", "3", "--jobs", "2", "--no-report",
                 "--runs-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "held-out acc:" in result.stdout and "95 % t-interval" in result.stdout and "3 folds" in result.stdout
    bad = dlb("cv", write_config(CV_TINY), "--kfold", "1", "--runs-dir", tmp_path / "r2")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and not (tmp_path / "r2").exists()


def test_seeds_give_means_intervals_and_paired_differences(write_config, tmp_path):
    base = load_config(write_config(CV_TINY))
    members = optimizer_members(base, ["sgd", "adam"], {"sgd": 0.05, "adam": 0.01})
    result = compare(members, name="t", runs_dir=tmp_path, executor=LocalProcessExecutor(2), seeds=3)
    rows = {r["member"]: r for r in result.rows}
    assert rows["sgd"]["replicates"] == 3 and rows["adam"]["test_acc_low"] <= rows["adam"]["test_acc"]
    runs = pd.read_csv(result.path / "replicates.csv")
    assert len(runs) == 6 and sorted(set(runs.replicate)) == ["seed0", "seed1", "seed2"]
    adam = runs[runs.member == "adam"].set_index("replicate").test_acc
    sgd = runs[runs.member == "sgd"].set_index("replicate").test_acc
    assert rows["adam"]["diff_vs_baseline"] == pytest.approx(float((adam - sgd).mean()))
    assert "diff_vs_baseline" not in rows["sgd"] or rows["sgd"].get("diff_vs_baseline") is None


def test_kfold_compare_pairs_by_fold_with_the_corrected_test(write_config, tmp_path):
    base = load_config(write_config(CV_TINY))
    members = optimizer_members(base, ["sgd", "adam"], {"sgd": 0.05, "adam": 0.01})
    result = compare(members, name="t", runs_dir=tmp_path, executor=LocalProcessExecutor(2), folds=3)
    adam = next(r for r in result.rows if r["member"] == "adam")
    assert adam["replicates"] == 3 and adam["p_value"] is not None and adam["diff_low"] < adam["diff_high"]


def test_seeds_and_bad_seed_counts_from_the_cli(write_config, tmp_path):
    path = write_config(CV_TINY)
    ok = dlb("train", path, "--seeds", "2", "--jobs", "2", "--runs-dir", tmp_path / "r")
    assert ok.returncode == 0, ok.stderr
    assert "over 2 completed of 2 seeds" in ok.stdout
    for cmd in (["train", path, "--seeds", "0"], ["compare", path, "--optimizers", "sgd,adam", "--seeds", "0"]):
        bad = dlb(*cmd, "--runs-dir", tmp_path / "r2")
        assert bad.returncode == 2 and bad.stderr.startswith("error: --seeds 0")


def test_bagging_averages_member_probabilities(write_config, tmp_path):
    cfg = load_config(write_config(CV_TINY), ["ensemble.method=bagging", "ensemble.n_estimators=3"])
    result = bag(cfg, runs_dir=tmp_path, executor=LocalProcessExecutor(2))
    assert [r["model"] for r in result.rows] == ["member-0", "member-1", "member-2", "ensemble of 3"]
    outputs, targets = [], None
    for i in range(3):
        with np.load(result.path / f"member-{i}" / "test_predictions.npz") as z:
            outputs.append(z["outputs"])
            targets = z["targets"]
        summary = json.loads((result.path / f"member-{i}" / "summary.json").read_text())
        assert summary["seed"] == 3 + i and summary["data"]["n_train"] == 240  # a full-size resample
    expected = ensemble_metrics("cross_entropy", outputs, targets)
    assert result.summary["final"]["test_acc"] == pytest.approx(expected["acc"])


def test_ensemble_metrics_average_probabilities_not_logits():
    a = np.array([[10.0, 0.0], [0.0, 0.1]])
    b = np.array([[0.0, 0.2], [0.0, 10.0]])
    m = ensemble_metrics("cross_entropy", [a, b], np.array([0, 1]))
    assert m["acc"] == 1.0


def test_bagging_scores_the_average_with_the_runs_own_loss():
    outputs = [np.array([[1.0], [3.0]]), np.array([[3.0], [1.0]])]
    targets = np.array([[2.5], [2.5]])
    assert ensemble_metrics("mae", outputs, targets)["loss"] == pytest.approx(0.5)
    assert ensemble_metrics("mse", outputs, targets)["loss"] == pytest.approx(0.25)
    logits = [np.log(np.array([[0.9, 0.1]])), np.log(np.array([[0.5, 0.5]]))]
    plain = ensemble_metrics("cross_entropy", logits, np.array([0]))
    smooth = ensemble_metrics("cross_entropy", logits, np.array([0]), {"label_smoothing": 0.2})
    assert plain["loss"] == pytest.approx(-np.log(0.7)) and smooth["loss"] > plain["loss"]


def test_a_bad_nested_grid_leaves_no_folder(write_config, tmp_path):
    result = dlb("cv", write_config(TINY), "--strategy", "nested", "--set", "cv.grid={optimizer.lrr: [1, 2]}",
                 "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and "optimizer.lrr" in result.stderr and not (tmp_path / "r").exists()
