"""Divergence that stays finite: a loss far above where training started ends the run as diverged, like NaN."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import SGD
from dlbasics.train.loop import AUTO_DIVERGENCE_FACTOR, fit


def test_adam_at_a_huge_lr_ends_diverged_with_exit_4_though_its_loss_stays_finite(write_config, tmp_path):
    path = write_config(TINY.replace("epochs: 3", "epochs: 5"))
    off = load_config(path, ["optimizer.lr=1e6", "train.divergence_threshold=null"])
    run = train(off, runs_dir=tmp_path / "off", progress=False)  # the fault: finite, absurd, "completed"
    assert run.summary["status"] == "completed" and max(run.metrics.train_loss) > 1e6
    result = dlb("train", path, "--set", "optimizer.lr=1e6", "--runs-dir", tmp_path / "on")
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "exceeded the divergence threshold" in result.stderr and "train.divergence_threshold" in result.stderr


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(64, 2)), rng.integers(0, 2, 64)
    net = Sequential(mlp_layers([8], 2)).build((2,), np.random.default_rng(seed), np.float64)
    return net, x, y


@pytest.mark.parametrize("threshold,diverges", [(None, False), ("auto", True), (1e20, False), (1e3, True)])
def test_the_threshold_is_absolute_or_relative_to_the_first_batch(threshold, diverges):
    net, x, y = _problem()
    history = fit(net, CrossEntropyLoss(), SGD(net.parameters(), lr=100.0), x, y, epochs=3, batch_size=16,
                  rng=np.random.default_rng(1), divergence_threshold=threshold)
    assert (history.status == "diverged") == diverges, (history.status, history.message)
    if diverges:
        assert "exceeded the divergence threshold" in history.message


def test_auto_never_trips_on_an_ordinary_run(write_config, tmp_path):
    run = train(load_config(write_config(TINY)), runs_dir=tmp_path, progress=False)
    assert run.summary["status"] == "completed"
    assert max(run.metrics.train_loss) < AUTO_DIVERGENCE_FACTOR
