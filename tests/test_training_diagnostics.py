"""train.diagnostics: per-layer statistics on a probe batch each epoch, without changing the training itself."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from dlbasics.config import load_config
from dlbasics.nn.activations import ReLU
from dlbasics.nn.dropout import Dropout
from dlbasics.nn.layers import Dense
from dlbasics.nn.losses import CrossEntropyLoss
from dlbasics.nn.model import Sequential
from dlbasics.nn.norm import BatchNorm1d
from dlbasics.optim.optimizers import SGD
from dlbasics.train.diagnostics import COLUMNS, Diagnostics, probe_statistics
from dlbasics.train.loop import fit


def _model(seed=1, extras=False):
    layers = [Dense(6), *([BatchNorm1d()] if extras else []), ReLU(), *([Dropout(0.3)] if extras else []), Dense(3)]
    return Sequential(layers).build((4,), np.random.default_rng(seed), np.float64,
                                    noise_rng=np.random.default_rng(9))


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((60, 4)), rng.integers(0, 3, 60)


def test_probe_statistics_match_a_hand_computation():
    x, y = _data()
    model = _model()
    model.layers[0].b.data[2] = -1e3  # unit 2 is never active: a dead ReLU
    stats = probe_statistics(model, CrossEntropyLoss(), x, y)
    assert sorted(stats) == [0, 1, 2]
    h = x @ model.layers[0].W.data + model.layers[0].b.data
    a = np.maximum(h, 0)
    assert stats[0]["act_mean"] == pytest.approx(h.mean()) and stats[1]["act_std"] == pytest.approx(a.std())
    assert stats[1]["dead_fraction"] == pytest.approx(1 / 6) and "dead_fraction" not in stats[0]
    out = a @ model.layers[2].W.data + model.layers[2].b.data
    p = np.exp(out - out.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dout = (p - np.eye(3)[y]) / len(y)
    g2 = math.sqrt(np.sum((a.T @ dout) ** 2) + np.sum(dout.sum(0) ** 2))
    assert stats[2]["grad_norm"] == pytest.approx(g2, rel=1e-12) and "grad_norm" not in stats[1]


def test_update_ratio_is_the_first_steps_change_over_the_weights():
    x, y = _data()
    model = _model()
    diag = Diagnostics(model, CrossEntropyLoss(), x[:8], y[:8])
    diag.on_epoch_begin(1)
    w, b = model.layers[2].W.data, model.layers[2].b.data
    before = math.sqrt(np.sum(w**2) + np.sum(b**2))
    w += 0.01
    diag.on_batch_end(1, 0.0)
    w += 5.0  # later steps of the epoch do not count
    diag.on_batch_end(2, 0.0)
    assert diag.ratios[2] == pytest.approx(0.01 * math.sqrt(w.size) / before, rel=1e-12) and diag.ratios[0] == 0


def test_measuring_changes_nothing_in_training():
    x, y = _data()
    runs = []
    for diagnose in (False, True):
        model = _model(extras=True)  # batch norm and dropout: measured in eval mode, no statistics or draws used
        diag = Diagnostics(model, CrossEntropyLoss(), x[:16], y[:16])
        hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9), x, y,
                   rng=np.random.default_rng(2), epochs=3, batch_size=16, callbacks=[diag] if diagnose else [])
        runs.append((model.state_dict(), [r["train_loss"] for r in hist.rows], diag.rows))
    (w0, l0, _), (w1, l1, rows) = runs
    assert l0 == l1 and all(np.array_equal(w0[k], w1[k]) for k in w0)
    assert len(rows) == 4 * 4  # epochs 0..3 x (dense, batchnorm1d: it has parameters, relu, dense)
    assert {r["epoch"] for r in rows} == {0, 1, 2, 3}
    assert all("update_ratio" not in r for r in rows if r["epoch"] == 0)
    assert all(r["update_ratio"] > 0 for r in rows if r["epoch"] > 0 and r["type"] == "dense")


def test_a_run_writes_diagnostics_csv_and_png(write_config, tmp_path):
    from dlbasics.runner import train

    cfg = load_config(write_config("name: diag\ndata: {name: moons, n_train: 80, n_test: 20}\n"
                                   "model: {hidden: [5, 5]}\ntrain: {epochs: 2, batch_size: 16, diagnostics: true, "
                                   "diagnostics_probe: 32}\n"))
    run = train(cfg, runs_dir=tmp_path, progress=False, plots=False)
    with open(run.path / "diagnostics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == COLUMNS and len(rows) == 3 * 5  # epochs 0-2 x (dense, relu, dense, relu, dense)
    assert [r["type"] for r in rows[:5]] == ["dense", "relu", "dense", "relu", "dense"]
    assert all(0 <= float(r["dead_fraction"]) <= 1 for r in rows if r["type"] == "relu")
    assert (run.path / "diagnostics.png").stat().st_size > 10_000
