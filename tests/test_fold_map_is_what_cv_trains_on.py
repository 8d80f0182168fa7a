"""`dlb cv --plot-folds`: the fold map gives every training sample its role in every fold exactly as the fold runs
split their data (time series: train, then validation, then the gap, then the held-out block), and draws it
without training anything."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import TINY, dlb
from dlbasics import load_config
from dlbasics.experiments.cv import plan
from dlbasics.experiments.fold_map import GAP, HELD_OUT, TRAIN, UNUSED, VALIDATION, fold_map
from dlbasics.runner import data_shapes

SERIES = """
name: series
seed: 1
data: {name: sine, n_train: 300, n_test: 50, val_split: 0.1}
model: {type: mlp, hidden: [8]}
loss: {name: mse}
train: {epochs: 1, batch_size: 32}
cv: {strategy: timeseries, k: 3, gap: 10}
"""


def test_time_series_folds_run_train_validation_gap_held_out_in_time_order(write_config):
    cfg = load_config(write_config(SERIES))
    fmap = fold_map(cfg)
    assert fmap.strategy == "timeseries" and fmap.roles.shape == (3, 300) and fmap.ordered
    for i, row in enumerate(fmap.roles):
        changes = row[np.flatnonzero(np.diff(row, prepend=-1))]  # the roles in the order they appear along x
        assert list(changes) == [TRAIN, VALIDATION, GAP, HELD_OUT] + ([UNUSED] if i < 2 else [])
        assert np.count_nonzero(row == GAP) == 10 and np.count_nonzero(row == HELD_OUT) == 300 // 4


@pytest.mark.parametrize("strategy", ["stratified", "kfold"])
def test_shuffled_folds_hold_out_every_sample_once_and_match_the_fold_runs(write_config, strategy):
    cfg = load_config(write_config(TINY + f"cv: {{strategy: {strategy}, k: 3}}\n"))
    fmap = fold_map(cfg)
    assert (np.count_nonzero(fmap.roles == HELD_OUT, axis=0) == 1).all()
    assert not (fmap.roles == UNUSED).any() and not (fmap.roles == GAP).any()
    for counts, (_, member) in zip(fmap.counts(), plan(cfg)):
        shapes = data_shapes(member, progress=False)  # what the fold's own run trains, validates and tests on
        assert (counts["train"], counts["validation"], counts["held_out"]) == (shapes.n_train, shapes.n_val,
                                                                               shapes.n_test)


def test_cli_plots_the_folds_and_trains_nothing(write_config, tmp_path):
    runs = tmp_path / "r"
    result = dlb("cv", write_config(SERIES), "--plot-folds", "--gap", "5", "--json", "--runs-dir", runs)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "folds" and summary["gap"] == 5 and [r["gap"] for r in summary["rows"]] == [5, 5, 5]
    folder = runs / summary["run_id"]
    assert (folder / "fold_map.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "fold_map.csv", "fold_map.png",
                                                        "summary.json"]  # no fold runs


def test_a_gap_that_leaves_no_training_data_names_cv_gap(write_config, tmp_path):
    result = dlb("cv", write_config(SERIES), "--plot-folds", "--gap", "80", "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "gap" in result.stderr, result.stderr


@pytest.mark.parametrize("setting, key", [("data: {name: spirals, n_train: 300, n_test: 100, train_size: 100000}",
                                           "data.train_size"),
                                          ("data: {name: spirals, n_train: 300, n_test: 100, val_split: 0.999}",
                                           "data.val_split")])
def test_a_split_the_data_cannot_give_names_its_own_key_as_cv_does(write_config, setting, key):
    from dlbasics.config import ConfigError

    cfg = load_config(write_config(TINY.replace("data: {name: spirals, n_train: 300, n_test: 100, val_split: 0.2}",
                                                setting)))
    with pytest.raises(ConfigError) as err:
        fold_map(cfg)
    assert err.value.path == key, err.value
