"""Replicates are shown as a group: the mean over all of them with a 95 % band, never replicate 0 alone; and the
live board of a multi-run command."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from conftest import TINY
from dlbasics.cli.live import Board
from dlbasics.config import load_config
from dlbasics.execution import InProcessExecutor, Task, TaskResult
from dlbasics.experiments import compare as compare_module
from dlbasics.experiments.compare import compare
from dlbasics.plots.bands import band, plot_bands
from dlbasics.stats import mean_ci


def frame(values, start=1):
    return pd.DataFrame({"epoch": range(start, start + len(values)), "val_loss": values,
                         "train_loss": values, "elapsed_s": np.arange(len(values)) * 0.5})


def test_the_band_is_the_t_interval_over_every_replicate_at_each_epoch():
    frames = [frame([1.0, 0.5, 0.4]), frame([2.0, 0.7, 0.2]), frame([3.0, 0.9])]  # the third stopped early
    table = band(frames, "val_loss")
    assert list(table.n) == [3, 3, 2]
    assert table["mean"].tolist() == pytest.approx([2.0, 0.7, 0.3])
    st = mean_ci([0.5, 0.7, 0.9])
    assert (table.low[1], table.high[1]) == pytest.approx((st["low"], st["high"]))
    assert np.isnan(band([frame([1.0])], "val_loss").low[0])  # one replicate: no interval
    assert band(frames, "val_loss", x="elapsed_s").x.tolist() == pytest.approx([0.0, 0.5, 1.0])
    fig = plot_bands({"a": frames, "b": frames[:2]}, "loss")
    assert len(fig.axes[0].collections) == 2  # one band per group


def test_compare_with_seeds_draws_every_replicate_of_every_member(write_config, tmp_path, monkeypatch):
    drawn = []
    real = compare_module.write_outputs

    def spy(parent, rows, outcomes, runs=None):
        import dlbasics.plots.bands as bands

        original = bands.plot_bands
        monkeypatch.setattr(bands, "plot_bands", lambda groups, *a, **k: (drawn.append(
            {m: len(f) for m, f in groups.items()}), original(groups, *a, **k))[1])
        return real(parent, rows, outcomes, runs)

    monkeypatch.setattr(compare_module, "write_outputs", spy)
    cfg = load_config(write_config(TINY.replace("epochs: 3", "epochs: 2")))
    other = {**cfg, "name": "other", "optimizer": {**cfg["optimizer"], "lr": 0.1}}
    result = compare([("a", cfg), ("b", other)], name="t", runs_dir=tmp_path, seeds=3, executor=InProcessExecutor())
    assert drawn and all(d == {"a": 3, "b": 3} for d in drawn)
    assert (result.path / "loss_vs_epoch.png").stat().st_size > 1000


def test_the_board_shows_running_members_on_a_terminal_and_one_line_each_in_a_pipe(tmp_path):
    tasks = [Task("m0", {}, tmp_path / "m0"), Task("m1", {}, tmp_path / "m1")]
    done = TaskResult(tasks[0], "completed", {"final": {"test_acc": 0.9}}, "", 1.5)
    failed = TaskResult(tasks[1], "failed", {}, "worker was killed by SIGKILL before reporting a result", 0.5)
    piped = io.StringIO()
    with Board([], Console(file=piped, force_terminal=False, width=200), jobs=2) as board:
        board.on_start(tasks)  # as every multi-run command feeds it
        board.on_progress(tasks[0], {"epoch": 1, "epochs": 3, "val_acc": 0.5, "elapsed_s": 0.1})
        board.on_done(done)
        board.on_done(failed)
    assert piped.getvalue().splitlines() == [
        "m0: completed in 1.5 s  test_acc 0.9000",
        "m1: failed in 0.5 s  (worker was killed by SIGKILL before reporting a result)"]
    screen = io.StringIO()
    board = Board([], Console(file=screen, force_terminal=True, width=100), jobs=2)
    board.on_start(tasks, done=3)
    board.on_progress(tasks[1], {"epoch": 2, "epochs": 4, "val_acc": 0.75, "elapsed_s": 1.0})
    board.console.print(board._render())
    text = screen.getvalue()
    assert "0/2 done" in text and "3 kept from before" in text and "m1" in text and "2/4" in text
    assert "val_acc 0.7500" in text


