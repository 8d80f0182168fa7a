"""`dlb compare`: members side by side from one config's optimizers or several configs; the executor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, dlb
from dlbasics.config import ConfigError, load_config
from dlbasics.execution import LocalProcessExecutor
from dlbasics.experiments.compare import compare, config_members, optimizer_members, sort_rows


def test_optimizer_members_take_their_defaults_and_the_lr_map(write_config):
    base = load_config(write_config(TINY))
    members = dict(optimizer_members(base, ["sgd", "adadelta", "adam"], {"sgd": 0.5}))
    assert members["sgd"]["optimizer"]["lr"] == 0.5
    assert members["adadelta"]["optimizer"]["lr"] == 1.0  # Adadelta's own default, not the base config's 0.01
    assert members["adam"]["optimizer"]["lr"] == 1e-3 and members["adam"]["name"] == "tiny-adam"
    assert members["sgd"]["seed"] == members["adam"]["seed"] == 3


@pytest.mark.parametrize("optimizers,lrs,fragment", [
    (["sgd", "adamm"], {}, "unknown optimizer 'adamm'; did you mean 'adam'?"),
    ([], {}, "--optimizers is empty"),
    (["sgd"], {"rmsprp": 0.1}, "unknown optimizer 'rmsprp'; did you mean 'rmsprop'?"),
])
def test_bad_optimizer_lists_are_config_errors(write_config, optimizers, lrs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        optimizer_members(load_config(write_config(TINY)), optimizers, lrs)


def test_an_invalid_member_names_the_member(write_config):
    base = load_config(write_config(TINY))
    with pytest.raises(ConfigError) as info:
        optimizer_members(base, ["sgd", "adam"], overrides=["optimizer.betas=[0.9, 1.5]"])
    assert str(info.value).startswith("member adam:") or str(info.value).startswith("member sgd:")


def test_members_start_from_the_same_weights_and_batches(write_config, tmp_path):
    base = load_config(write_config(TINY))
    result = compare(optimizer_members(base, ["sgd", "adam"]), name="t", runs_dir=tmp_path,
                     executor=LocalProcessExecutor(2))
    assert [r["status"] for r in result.rows] == ["completed", "completed"]
    first = {}
    for row in result.rows:
        from dlbasics.runner import Run, build_model

        run = Run(row["run_dir"])
        s = run.summary
        init = build_model(run.config, tuple(s["data"]["input_shape"]), s["data"]["n_outputs"])
        first[row["member"]] = init.state_dict()["0.weight"]
    np.testing.assert_array_equal(first["sgd"], first["adam"])
    assert (result.path / "comparison.csv").is_file()
    for png in ("loss_vs_epoch.png", "loss_vs_time.png", "accuracy_vs_epoch.png", "accuracy_vs_time.png"):
        assert (result.path / png).stat().st_size > 1000
    df = pd.read_csv(result.path / "comparison.csv")
    assert list(df.member) == [r["member"] for r in result.rows] and set(df.status) == {"completed"}


def test_a_diverged_member_is_shown_not_dropped(write_config, tmp_path):
    base = load_config(write_config(TINY.replace("[16]", "[64, 64]").replace("epochs: 3", "epochs: 10")))
    members = optimizer_members(base, ["sgd", "adam"], {"sgd": 1e6})
    result = compare(members, name="t", runs_dir=tmp_path, executor=LocalProcessExecutor(2))
    statuses = {r["member"]: r["status"] for r in result.rows}
    assert statuses == {"sgd": "diverged", "adam": "completed"}
    assert result.rows[-1]["member"] == "sgd"  # sorted after the completed ones
    summary = json.loads((result.path / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["statuses"]["sgd"] == "diverged"


def test_sorting_puts_the_best_completed_first():
    rows = [{"member": "a", "status": "completed", "test_acc": 0.5}, {"member": "b", "status": "diverged",
                                                                      "test_acc": None},
            {"member": "c", "status": "completed", "test_acc": 0.9}]
    assert [r["member"] for r in sort_rows(rows, "test_acc")] == ["c", "a", "b"]


def test_config_members_are_named_by_config_and_made_unique_by_their_index(write_config):
    a = load_config(write_config(TINY.replace("name: tiny\n", ""), "a.yaml"))
    b = load_config(write_config(TINY.replace("name: tiny\n", ""), "b.yaml"))
    assert [m for m, _ in config_members([("a.yaml", a), ("b.yaml", b)])] == ["a", "b"]
    a2 = {**a, "name": "a-2"}  # a real config named like a guessed suffix must not merge with a duplicate
    assert [m for m, _ in config_members([("a.yaml", a), ("a.yaml", a), ("x.yaml", a2)])] == ["00-a", "01-a",
                                                                                                "02-a-2"]


def test_compare_cli_one_line_errors_and_nothing_started(write_config, tmp_path):
    path = write_config(TINY)
    for args, fragment in ((["--optimizers", ""], "--optimizers is empty"),
                           (["--optimizers", "sgd,adamm"], "did you mean 'adam'"),
                           (["--optimizers", "adam", "--set", "optimizer.eps=-1"], "optimizer.eps")):
        result = dlb("compare", path, *args, "--no-report", "--runs-dir", tmp_path / "r")
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert not (tmp_path / "r").exists()
    result = dlb("compare", path, "--no-report", "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and "two or more configs" in result.stderr


def test_compare_cli_on_two_configs(write_config, tmp_path):
    a = write_config(TINY.replace("name: tiny\n", ""), "a.yaml")
    b = write_config(TINY.replace("name: tiny\n", "").replace("[16]", "[32]"), "b.yaml")
    # --set applies to each file as written: switching the Adam configs to SGD does not trip on Adam's betas
    result = dlb("compare", a, b, "--set", "optimizer.name=sgd", "--jobs", "2", "--no-report",
                 "--runs-dir", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    assert "comparison" in result.stdout and " a " in result.stdout and " b " in result.stdout
    members = sorted((tmp_path / "r").glob("*/*/config.yaml"))
    assert len(members) == 2 and all("name: sgd" in m.read_text() for m in members)


def test_compare_checks_every_member_before_starting(write_config, tmp_path):
    path = write_config(TINY)
    for extra in (["--set", "regularization.cutout.size=100"], ["--kfold", "1000"]):
        result = dlb("compare", path, "--optimizers", "sgd,adam", *extra, "--runs-dir", tmp_path / "r")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "r").exists()
