"""Behaviour pinned down after review: signals, ensemble losses, gradient checks on CNNs, metric watching."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.config import ConfigError, resolve_config
from dlbasics.experiments.bagging import ensemble_metrics


def test_bagging_scores_the_average_with_the_runs_own_loss():
    outputs = [np.array([[1.0], [3.0]]), np.array([[3.0], [1.0]])]
    targets = np.array([[2.5], [2.5]])
    assert ensemble_metrics("mae", outputs, targets)["loss"] == pytest.approx(0.5)
    assert ensemble_metrics("mse", outputs, targets)["loss"] == pytest.approx(0.25)
    logits = [np.log(np.array([[0.9, 0.1]])), np.log(np.array([[0.5, 0.5]]))]
    plain = ensemble_metrics("cross_entropy", logits, np.array([0]))
    smooth = ensemble_metrics("cross_entropy", logits, np.array([0]), {"label_smoothing": 0.2})
    assert plain["loss"] == pytest.approx(-np.log(0.7)) and smooth["loss"] > plain["loss"]


def test_gradcheck_passes_on_the_shipped_cnn_with_batchnorm():
    result = dlb("gradcheck", "configs/mnist_cnn.yaml", "--set", "data.name=mnist-mini", "--batch", "3",
                 "--coords", "6", cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "FAIL" not in result.stdout


def test_plateau_on_accuracy_waits_for_accuracy_to_stop_rising():
    cfg = resolve_config({"schedule": {"name": "plateau", "monitor": "val_acc"}}, "x")
    from dlbasics.runner import build

    sched = build({**cfg, "data": {**cfg["data"], "train_size": 100}}).schedule
    assert sched.mode == "max"


@pytest.mark.parametrize("raw,fragment", [
    ({"data": {"val_split": 0.0}, "regularization": {"early_stopping": {}}}, "never measured with data.val_split 0"),
    ({"data": {"name": "linear"}, "schedule": {"name": "plateau", "monitor": "val_acc"}}, "regression data set"),
])
def test_watching_a_metric_that_is_never_measured_is_an_error(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_config(raw, "x")


def test_mixup_works_with_binary_cross_entropy(write_config, tmp_path):
    cfg = load_config(write_config(TINY), ["data.n_classes=2", "loss.name=bce_with_logits",
                                           "regularization.mixup.alpha=0.2", "regularization.cutmix.alpha=0"])
    assert train(cfg, runs_dir=tmp_path).summary["status"] == "completed"


def test_a_last_batch_of_one_joins_the_previous_batch_so_batchnorm_trains(write_config, tmp_path):
    cfg = load_config(write_config(TINY), ["model.batchnorm=true", "train.batch_size=239"])
    run = train(cfg, runs_dir=tmp_path)  # 240 training samples: batches of 239 and 1 would be 239 + 1
    assert run.summary["status"] == "completed" and list(run.metrics.step) == [1, 2, 3]


def test_schedule_plot_counts_the_runs_real_steps(write_config, tmp_path):
    out = dlb("schedule", write_config(TINY), "--set", "schedule.name=onecycle", "--set", "data.train_size=100",
              "--out", tmp_path / "s.png")
    assert out.returncode == 0, out.stderr
    assert "over 9 steps" in out.stdout  # 100 samples, 80 after validation: 3 batches of 32 x 3 epochs


def test_compare_checks_every_member_before_starting(write_config, tmp_path):
    path = write_config(TINY)
    for extra in (["--set", "regularization.cutout.size=100"], ["--kfold", "1000"]):
        result = dlb("compare", path, "--optimizers", "sgd,adam", *extra, "--runs-dir", tmp_path / "r")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "r").exists()


def test_a_bad_nested_grid_leaves_no_folder(write_config, tmp_path):
    result = dlb("cv", write_config(TINY), "--strategy", "nested", "--set", "cv.grid={optimizer.lrr: [1, 2]}",
                 "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and "optimizer.lrr" in result.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize("args", [["init-study", "--seed", "-1"], ["bias-variance", "--noise", "inf"],
                                  ["boosting", "--seed", "-1"]])
def test_odd_numbers_are_one_line_errors(args, tmp_path):
    result = dlb(*args, "--runs-dir", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
