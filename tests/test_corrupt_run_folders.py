"""Damaged run folders: every reader checks summary.json's shape and reports a bad folder in one line."""

from __future__ import annotations

import json

import pytest

from conftest import TINY, dlb
from dlbasics import load_config, train
from dlbasics.runner import Run
from dlbasics.runs.summary import CorruptRunError, check_summary, read_summary

BAD = {"list": "[1, 2]", "string": '"long"', "duration": '{"status": "completed", "duration_s": "long"}',
       "final": '{"status": "completed", "final": [0.9]}', "status": '{"status": "finished"}',
       "truncated": '{"status": "compl', "nostatus": "{}"}


@pytest.fixture
def runs(write_config, tmp_path):
    """A runs folder with one good run and one folder per kind of damage."""
    root = tmp_path / "runs"
    train(load_config(write_config(TINY), ["train.epochs=1"]), runs_dir=root, progress=False)
    for name, text in BAD.items():
        (root / f"bad-{name}").mkdir()
        (root / f"bad-{name}" / "summary.json").write_text(text)
    return root


@pytest.mark.parametrize("name", BAD)
def test_each_kind_of_damage_is_one_line_naming_the_file(runs, name):
    with pytest.raises(CorruptRunError) as info:
        read_summary(runs / f"bad-{name}" / "summary.json")
    assert f"bad-{name}/summary.json" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CorruptRunError):
        _ = Run(runs / f"bad-{name}").summary


def test_a_good_summary_passes_unchanged(runs):
    (good,) = [p for p in runs.iterdir() if not p.name.startswith("bad-")]
    summary = json.loads((good / "summary.json").read_text())
    assert read_summary(good / "summary.json") == summary == check_summary(summary)


def test_runs_list_shows_the_good_runs_and_one_line_per_bad_folder(runs):
    result = dlb("runs", "list", "--runs-dir", runs)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "completed" in result.stdout and result.stdout.count("corrupt") == len(BAD)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(BAD) and all(line.startswith("warning: ") for line in lines)


@pytest.mark.parametrize("command", [["runs", "show"], ["bootstrap"]])
def test_show_and_bootstrap_of_a_damaged_folder_exit_2_with_one_line(runs, command):
    for name in ("list", "duration"):
        result = dlb(*command, runs / f"bad-{name}")
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr and f"bad-{name}" in result.stderr


def test_bootstrap_of_a_run_with_a_damaged_config_is_one_line(runs):
    (good,) = [p for p in runs.iterdir() if not p.name.startswith("bad-")]
    (good / "config.yaml").write_text("- just\n- a list\n")
    result = dlb("bootstrap", good)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "config.yaml" in result.stderr
