"""End to end on tiny synthetic data: the run folder, determinism, diverged and interrupted runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from dlbasics import load_config, train
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.registry import mlp_layers
from dlbasics.optim.optimizers import SGD
from dlbasics.train.loop import Callback, fit


def test_a_run_writes_a_complete_folder(write_config, tmp_path):
    run = train(load_config(write_config(TINY)), runs_dir=tmp_path / "runs")
    names = {p.name for p in run.path.iterdir()}
    assert {"config.yaml", "metrics.csv", "summary.json", "model.npz", "loss.png", "accuracy.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert run.path.name.startswith(tuple("0123456789")) and "-tiny-" in run.path.name
    s = json.loads((run.path / "summary.json").read_text())
    assert s["status"] == "completed" and s["epochs_completed"] == 3 and s["seed"] == 3
    assert set(s["final"]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"}
    assert s["data"]["n_train"] == 240 and s["data"]["n_val"] == 60 and s["data"]["n_test"] == 100
    assert s["best"]["epoch"] in (1, 2, 3) and len(s["config_hash"]) == 64
    df = pd.read_csv(run.path / "metrics.csv")
    assert list(df.columns) == ["epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
                                "epoch_time_s", "elapsed_s"]
    assert list(df.epoch) == [1, 2, 3] and list(df.step) == [8, 16, 24]  # ceil(240 / 32) steps per epoch
    with np.load(run.path / "model.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["0.bias", "0.weight", "2.bias", "2.weight"]
        assert z["0.weight"].dtype == np.float32 and z["0.weight"].shape == (2, 16)


def test_saved_config_repeats_the_run_exactly(write_config, tmp_path):
    first = train(load_config(write_config(TINY)), runs_dir=tmp_path / "runs")
    again = train(load_config(first.path / "config.yaml"), runs_dir=tmp_path / "runs")
    cols = ["train_loss", "train_acc", "val_loss", "val_acc"]
    pd.testing.assert_frame_equal(first.metrics[cols], again.metrics[cols], check_exact=True)
    assert first.summary["final"]["test_loss"] == again.summary["final"]["test_loss"]
    assert first.path != again.path


def test_a_different_seed_gives_different_numbers(write_config, tmp_path):
    a = train(load_config(write_config(TINY)), runs_dir=tmp_path)
    b = train(load_config(write_config(TINY), ["seed=4"]), runs_dir=tmp_path)
    assert a.metrics.train_loss.iloc[0] != b.metrics.train_loss.iloc[0]


def test_load_model_restores_the_trained_weights(write_config, tmp_path):
    run = train(load_config(write_config(TINY)), runs_dir=tmp_path)
    model = run.load_model()
    with np.load(run.path / "model.npz") as z:
        np.testing.assert_array_equal(model.state_dict()["2.weight"], z["2.weight"])


def test_a_huge_learning_rate_diverges_to_nan_and_says_so(write_config, tmp_path):
    cfg = load_config(write_config(TINY), ["optimizer.name=sgd", "optimizer.lr=1e6", "model.hidden=[64, 64]",
                                           "train.epochs=30", "train.divergence_threshold=null"])
    run = train(cfg, runs_dir=tmp_path)
    s = run.summary
    assert s["status"] == "diverged" and "loss became" in s["message"]
    assert s["epochs_completed"] == len(run.metrics) - 1 and "test_acc" not in (s["final"] or {})
    assert (run.path / "loss.png").exists() and (run.path / "model.npz").exists()


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, row):
        if row["epoch"] == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_run_keeps_its_folder_and_status(write_config, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(load_config(write_config(TINY)), runs_dir=tmp_path / "runs", callbacks=[_InterruptAt(2)])
    (folder,) = (tmp_path / "runs").iterdir()
    s = json.loads((folder / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["epochs_completed"] == 2 and s["steps"] == 16
    assert s["final"]["val_loss"] is not None and s["best"]["epoch"] in (1, 2) and "test_acc" not in s["final"]
    assert len(pd.read_csv(folder / "metrics.csv")) == 2
    for name in ("model.npz", "config.yaml", "loss.png", "accuracy.png"):
        assert (folder / name).exists(), name


def test_full_batch_is_one_step_per_epoch(write_config, tmp_path):
    run = train(load_config(write_config(TINY), ["train.batch_size=full"]), runs_dir=tmp_path)
    assert list(run.metrics.step) == [1, 2, 3]


def test_regression_run_has_no_accuracy_columns(write_config, tmp_path):
    cfg = load_config(write_config("data: {name: linear, n_train: 200, n_test: 50}\nmodel: {hidden: []}\n"
                                   "optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\ntrain: {epochs: 20}\n"))
    run = train(cfg, runs_dir=tmp_path)
    assert "train_acc" not in run.metrics.columns and not (run.path / "accuracy.png").exists()
    w, b = (v.ravel()[0] for v in run.load_model().state_dict().values())
    assert w == pytest.approx(4.0, abs=0.3) and b == pytest.approx(-2.0, abs=0.3)


def test_fit_sees_each_sample_once_per_epoch():
    x = np.arange(10, dtype=np.float64)[:, None]
    seen = []

    class Spy(Sequential):
        def forward(self, xb, training=False):
            if training:
                seen.extend(xb[:, 0].tolist())
            return super().forward(xb, training)

    model = Spy(mlp_layers([], 2, flatten=False)).build((1,), np.random.default_rng(0), np.float64)
    fit(model, CrossEntropyLoss(), SGD(model.parameters()), x, np.zeros(10, np.int64), epochs=2, batch_size=3,
        rng=np.random.default_rng(0))
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:]


def test_a_model_without_parameters_is_a_config_error(write_config, tmp_path):
    from dlbasics.config import ConfigError

    cfg = load_config(write_config("data: {name: linear}\nmodel: {layers: [{type: tanh}]}\n"))
    with pytest.raises(ConfigError, match="no trainable parameters"):
        train(cfg, runs_dir=tmp_path)
    assert not any(tmp_path.glob("*/summary.json"))


def test_saved_config_round_trips_strings_that_look_like_numbers(write_config, tmp_path):
    run = train(load_config(write_config(TINY.replace("name: tiny", 'name: "1e5"'))), runs_dir=tmp_path)
    assert load_config(run.path / "config.yaml")["name"] == "1e5"


def test_a_last_batch_of_one_joins_the_previous_batch_so_batchnorm_trains(write_config, tmp_path):
    cfg = load_config(write_config(TINY), ["model.batchnorm=true", "train.batch_size=239"])
    run = train(cfg, runs_dir=tmp_path)  # 240 training samples: batches of 239 and 1 would be 239 + 1
    assert run.summary["status"] == "completed" and list(run.metrics.step) == [1, 2, 3]


def test_a_per_step_schedule_lasts_exactly_the_steps_the_run_takes(write_config, tmp_path):
    # 240 training samples in batches of 239: the last batch of one joins the first, so one step per epoch;
    # a one-cycle schedule planned for ceil(240 / 239) = 2 steps per epoch would stop half way up its cycle
    cfg = load_config(write_config(TINY), ["train.batch_size=239", "schedule.name=onecycle",
                                           "schedule.interval=step"])
    run = train(cfg, runs_dir=tmp_path)
    assert list(run.metrics.step) == [1, 2, 3]
    max_lr = cfg["optimizer"]["lr"]
    assert run.metrics.lr.iloc[-1] < max_lr / 1000  # annealed to the cycle's end, far below max_lr
