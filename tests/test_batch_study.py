"""`dlb batch-study`: every batch size and seed is a real run folder; the study folder holds the per-batch-size
table with intervals over seeds, the per-run sharpness, the interpolation and the figures; the printed table fits
80 columns; a bad --batch-sizes is a one-line usage error before any work; the same study from Python."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import dlbasics.execution
from conftest import dlb
from dlbasics.config import load_config
from dlbasics.execution import InProcessExecutor
from dlbasics.experiments.batch_study import BatchStudy, SharpnessSettings, batch_study, parse_batch_sizes
from dlbasics.runs.folder import RunFolder

SMALL = """
name: small
seed: 3
data: {name: spirals, n_train: 120, n_test: 60, val_split: 0.25}
model: {type: mlp, hidden: [8]}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 1, batch_size: 32}
"""
CHEAP = ("--sharpness-samples", "40", "--power-iters", "3", "--ascent-steps", "2", "--alphas", "3", "--no-report")


class _Here(InProcessExecutor):
    jobs = 1


@pytest.fixture
def here(monkeypatch):
    """Runs train in this process (no worker start-up); PNGs are written as empty files (drawing them is what
    costs; the figures themselves are checked in the Python test)."""
    monkeypatch.setattr(dlbasics.execution, "make_executor", lambda spec, jobs, collect: _Here())
    monkeypatch.setattr(RunFolder, "save_figure", lambda self, fig, name: (self.path / name).write_bytes(b"png"))


def test_cli_writes_the_study_folder_and_an_80_column_table(here, write_config, tmp_path):
    config = write_config(SMALL)
    result = dlb("batch-study", config, "--batch-sizes", "full,8", "--seeds", "2", *CHEAP, "--runs-dir",
                 tmp_path / "runs", "--set", "optimizer.name=sgd", "--set", "optimizer.lr=0.1", columns=80)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    folder, = (tmp_path / "runs").glob("*-batch-study-small-*")
    assert max(len(line) for line in lines if str(folder) not in line) <= 80, result.stdout
    assert any(line.startswith("8 ") for line in lines) and any(line.startswith("full=90 ") for line in lines)
    assert "λ_max" in result.stdout and "ε-sharp. %" in result.stdout and "±" in result.stdout
    said = " ".join(result.stdout.split())
    assert "batch full minus batch 8 (paired by seed): λ_max" in said and "; sharper: " in said
    assert "as Keskar et al. report: " in said and "wall time: " in said
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["kind"] == "batch-study" and summary["status"] == "completed"
    assert summary["batch_sizes"] == [8, "full"] and summary["n_replicates"] == 2
    for name in summary["files"] + ["accuracy_vs_epoch.png"]:
        assert (folder / name).stat().st_size > 0, name
    per_run = pd.read_csv(folder / "sharpness.csv")
    assert len(per_run) == 4 and set(per_run["seed"]) == {3, 4}
    assert (per_run["eps_sharpness"] >= 0).all() and per_run["lambda_max"].notna().all()
    assert (per_run["sharpness_samples"] == 40).all() and (per_run["n_train"] == 90).all()
    for run_dir, b in zip(per_run["run_dir"], per_run["batch_size"]):  # real runs, with their true status
        run = json.loads((Path(run_dir) / "summary.json").read_text())
        assert run["status"] == "completed" and str(b) in (Path(run_dir) / "config.yaml").read_text()
        assert load_config(Path(run_dir) / "config.yaml")["optimizer"]["name"] == "sgd"  # --set on the file as written
    rows = pd.read_csv(folder / "batch_study.csv")
    assert list(rows["batch_size"]) == ["8", "full"] and {"lambda_max_low", "eps_sharpness_high",
                                                          "gap_acc_low"} <= set(rows.columns)
    line = pd.read_csv(folder / "interpolation.csv")
    assert len(line) == 2 * 3 and list(line["alpha"][:3]) == [-0.5, 0.5, 1.5]
    assert {"train_loss", "test_loss", "train_acc", "test_acc"} <= set(line.columns)
    verdict = summary["larger_vs_smallest"]
    assert verdict["largest"] == "full" and "answer" in verdict
    versus, = verdict["against_smallest"]
    assert versus["lambda_max"]["n"] == 2 and versus["lambda_max"]["test"] == "paired t over seeds"


@pytest.mark.parametrize("args, why", [
    (["--batch-sizes", "16,abc"], "--batch-sizes '16,abc': 'abc' is neither a positive integer nor 'full'"),
    (["--batch-sizes", "16"], "--batch-sizes '16': give at least two"), (["--batch-sizes", "0,16"], ">= 1"),
    (["--batch-sizes", "16,full,16"], "given twice"),
    (["--batch-sizes", "16,full", "--epochs-for", "64=3"], "--epochs-for '64=3': 64 is not one of the batch sizes"),
    (["--batch-sizes", "16,full", "--epochs-for", "full=x"], "--epochs-for 'full=x': expected BATCH=EPOCHS")])
def test_bad_batch_sizes_are_a_one_line_usage_error(args, why, write_config, tmp_path):
    result = dlb("batch-study", write_config(SMALL), *args, "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: --") and why in result.stderr
    assert not (tmp_path / "runs").exists()


def test_python_returns_the_study_and_parses_sizes_in_order(write_config, tmp_path, monkeypatch):
    figures = {}
    monkeypatch.setattr(RunFolder, "save_figure", lambda self, fig, name: figures.setdefault(name, fig))
    assert parse_batch_sizes("full, 64,16") == [16, 64, "full"]
    cfg = load_config(write_config(SMALL))
    study = batch_study(cfg, [30, 10], runs_dir=tmp_path / "runs", executor=InProcessExecutor(), epochs={30: 2},
                        settings=SharpnessSettings(samples=None, power_iters=2, ascent_steps=1, alphas=2))
    assert isinstance(study, BatchStudy) and [r["batch_size"] for r in study.rows] == [10, 30]
    # 90 training samples: 9 steps an epoch at batch 10; 3 at batch 30, which trains 2 epochs
    assert all(r["sharpness_samples"] == 90 and r["steps"] == {10: 9, 30: 6}[r["batch_size"]] for r in study.runs)
    assert study.summary["epochs"] == {"10": 1, "30": 2}
    assert study.rows[0]["lambda_max_low"] is None  # one seed: no interval
    versus, = study.summary["larger_vs_smallest"]["against_smallest"]
    assert versus["lambda_max"]["n"] == 1 and "p_value" not in versus["lambda_max"] and "comparable" in versus
    assert len(study.interpolation) == 2 and study.path.is_dir()
    line = figures["interpolation.png"]  # loss and accuracy panels; train and test; the two solutions marked
    assert [ax.get_ylabel() for ax in line.axes] == ["loss", "accuracy"]
    assert [t.get_text() for t in line.axes[0].get_legend().get_texts()] == ["train", "test"]
    assert [t.get_text() for t in line.axes[0].texts] == ["batch 10", "batch 30"]
    bars = figures["sharpness.png"]
    assert len(bars.axes) == 3 and [t.get_text() for t in bars.axes[1].get_xticklabels()] == ["10", "30"]


def test_the_eval_mode_of_batchnorm_and_dropout_is_stated():
    from dlbasics.experiments.batch_study import eval_mode_note
    from dlbasics.nn.dropout import Dropout
    from dlbasics.nn.layers import Dense
    from dlbasics.nn.model import Sequential
    from dlbasics.nn.norm import BatchNorm1d

    assert eval_mode_note(Sequential([Dense(4), BatchNorm1d(), Dropout(0.2), Dense(2)])) == \
        "sharpness in eval mode: BatchNorm uses its running statistics, dropout is off"
    assert eval_mode_note(Sequential([Dense(4), Dropout(0.2)])) == "sharpness in eval mode: dropout is off"
    assert eval_mode_note(Sequential([Dense(2)])) is None
    from dlbasics.nn.residual import Residual

    inside = Sequential([Dense(4), Residual([Dense(4), BatchNorm1d(), Dropout(0.1)]), Dense(2)])  # in a block
    assert eval_mode_note(inside) == "sharpness in eval mode: BatchNorm uses its running statistics, dropout is off"


def test_runs_of_one_seed_start_from_the_same_weights_on_the_same_split(write_config):
    """The study's premise: the batch size is the only difference between the members of a seed."""
    import numpy as np

    from dlbasics.experiments.batch_study import batch_members
    from dlbasics.experiments.compare import replicate
    from dlbasics.runner import build

    members = batch_members(load_config(write_config(SMALL)), [8, "full"])
    for r in range(2):
        small, full = (build(replicate(m, "seeds", r, 2), progress=False) for _, m in members)
        assert small.batch_size == 8 and full.batch_size == 90
        np.testing.assert_array_equal(small.splits.x_train, full.splits.x_train)
        for (name, a), b in zip(small.model.state_dict().items(), full.model.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=name)
    other = build(replicate(members[0][1], "seeds", 0, 2), progress=False).model.state_dict()
    assert not np.array_equal(other["0.weight"], small.model.state_dict()["0.weight"])  # seed 3 vs seed 4
