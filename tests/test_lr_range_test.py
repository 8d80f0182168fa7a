"""`dlb lr-find`: the lr sequence is exactly exponential and bounded, the smoothing and the stop rule are fastai's,
the suggestions read the curve as documented, the test leaves the weights as it found them, and --apply writes a
loadable copy of the config with the suggested lr, never over a file."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import TINY, dlb
from dlbasics import load_config
from dlbasics.cli.lr_find_cmd import _write_copy
from dlbasics.experiments.lr_find import lr_key, lr_sequence, range_test, smooth, stop_index, suggest


def test_the_lr_sequence_is_exactly_exponential_from_start_to_end():
    lrs = lr_sequence(1e-7, 10.0, 100)
    assert lrs.shape == (100,) and lrs[0] == 1e-7 and lrs[-1] == 10.0
    assert ((lrs >= 1e-7) & (lrs <= 10.0)).all()
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (10.0 / 1e-7) ** (1 / 99), rtol=1e-12)
    np.testing.assert_allclose(lr_sequence(0.01, 1.0, 3), [0.01, 0.1, 1.0], rtol=1e-15)
    for bad in ((1.0, 0.1, 10), (0.0, 1.0, 10), (1e-3, 1.0, 1)):
        with pytest.raises(ValueError):
            lr_sequence(*bad)


def test_smoothing_is_the_bias_corrected_moving_average():
    # beta 0.5 by hand: avg 0.5, 1.25, 2.125 over 1 - 0.5, 1 - 0.25, 1 - 0.125
    np.testing.assert_allclose(smooth(np.array([1.0, 2.0, 3.0]), 0.5), [1.0, 1.25 / 0.75, 2.125 / 0.875], rtol=1e-15)
    np.testing.assert_allclose(smooth(np.full(50, 2.5)), 2.5, rtol=1e-12)  # no bias toward 0 at the start


def test_the_stop_rule_is_k_times_the_running_minimum():
    curve = np.array([4.0, 3.0, 2.0, 1.0, 2.0, 3.9, 4.0, 4.5, 9.0])
    assert stop_index(curve, 4.0) == 7  # 4.0 is not above 4 x 1.0; 4.5 is
    assert stop_index(curve, 5.0) == 8
    assert stop_index(np.array([3.0, 2.0, np.nan, 1.0]), 4.0) == 2
    assert stop_index(np.array([3.0, 2.0, 1.0]), 4.0) is None
    assert stop_index(np.array([1.0, 8.0]), 4.0) == 1  # the minimum so far, not the overall one


def test_suggestions_read_the_curve_as_documented():
    lrs = lr_sequence(1e-6, 1.0, 101)
    t = np.log10(lrs)  # a loss that falls from 2 to 0.5 around lr 1e-3 (steepest there), then climbs
    loss = 0.5 + 1.5 / (1 + np.exp(3 * (t + 3))) + 0.5 * np.maximum(t + 1.5, 0) ** 2
    s = suggest(lrs, loss, 101)
    assert s["steep"]["lr"] == pytest.approx(1e-3, rel=0.15)
    low = int(np.argmin(loss[10:96])) + 10
    assert s["minimum"]["at_lr"] == lrs[low] and s["minimum"]["lr"] == pytest.approx(lrs[low] / 10, rel=1e-12)
    assert lrs[10] < s["valley"]["lr"] < lrs[low]  # inside the falling stretch, before the minimum
    # a test stopped by a non-finite loss: the last 5 recorded points are left out (that one among them), as fastai
    falling = np.r_[np.linspace(2.0, 1.0, 30), np.inf]
    assert suggest(lrs[:31], falling, 31)["minimum"]["at_lr"] == lrs[25]
    with pytest.raises(ValueError, match="needs at least 5"):
        suggest(lrs[:3], np.array([1.0, np.nan, np.nan]), 100)
    # a loss that blows up after 4 points (a start lr already too large) suggests nothing: lower --start
    with pytest.raises(ValueError, match="lower --start"):
        suggest(lrs[:6], np.array([1.0, 0.9, 0.95, 3.0, np.inf, np.inf]), 100)
    assert suggest(lrs[:6], np.array([1.0, 0.9, 0.8, 0.85, 3.0, np.inf]), 100)  # 5 finite points: read


def test_the_test_leaves_weights_and_optimizer_as_it_found_them():
    from dlbasics.nn.layers import Dense
    from dlbasics.nn.losses import LOSSES
    from dlbasics.nn.model import Sequential
    from dlbasics.optim.optimizers import OPTIMIZERS

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    model = Sequential([Dense(1)])
    model.build((3,), np.random.default_rng(1), np.float64)
    before = model.state_dict()
    opt = OPTIMIZERS["sgd"](model.parameters(), lr=0.01, momentum=0.9)
    result = range_test(model, LOSSES["mse"](), opt, x, y, 16, np.random.default_rng(2), start=1e-4, end=10.0,
                        steps=60)
    assert result.stopped == "diverged" and len(result.lrs) < 60  # lr 10 on a quadratic: the loss explodes
    assert stop_index(result.smoothed) == len(result.lrs) - 1  # it stopped at the first step the rule names
    for name, arr in model.state_dict().items():
        np.testing.assert_array_equal(arr, before[name])
    assert opt.lr == 0.01 and opt.state == {}
    for s in result.suggestions.values():
        assert 1e-4 <= s["lr"] <= result.lrs[-1]


def test_a_one_cycle_max_lr_is_where_the_suggestion_goes(write_config):
    plain = load_config(write_config(TINY))
    assert lr_key(plain) == "optimizer.lr"
    cycle = load_config(write_config(TINY + "schedule: {name: onecycle, max_lr: 0.1}\n", "c.yaml"))
    assert lr_key(cycle) == "schedule.max_lr"


def test_cli_writes_the_curve_and_applies_the_suggestion_to_a_copy(write_config, tmp_path):
    config = write_config(TINY)
    original = config.read_text()
    runs = tmp_path / "r"
    result = dlb("lr-find", config, "--steps", "40", "--start", "1e-5", "--apply", "--json", "--runs-dir", runs)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    summary = json.loads(result.stdout)
    lr = summary["lr"]
    assert summary["kind"] == "lr-find" and summary["key"] == "optimizer.lr" and summary["suggestion"] == "valley"
    with open(f"{summary['path']}/lr_find.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary["steps_run"] <= 40
    assert float(rows[0]["lr"]) == 1e-5 and 1e-5 <= lr <= float(rows[-1]["lr"])
    assert summary["applied_config"] == str(tmp_path / "exp.lr.yaml") and config.read_text() == original
    applied = load_config(tmp_path / "exp.lr.yaml")
    assert applied["optimizer"]["lr"] == float(f"{lr:.3g}") and applied["name"] == "tiny"
    assert applied["model"] == load_config(config)["model"]
    first = (tmp_path / "exp.lr.yaml").read_text()
    assert _write_copy(config, {"name": "again"}) == tmp_path / "exp.lr-2.yaml"  # a second copy: a new name
    assert (tmp_path / "exp.lr.yaml").read_text() == first and config.read_text() == original


@pytest.mark.parametrize("args,fragment", [
    (["--start", "1", "--end", "0.1"], "needs 0 < start < end"),
    (["--suggestion", "best"], "one of valley, steep, minimum"),
    (["--stop-factor", "1"], "must be a number > 1"),
    (["--beta", "1"], "must be in [0, 1)"),
])
def test_cli_mistakes_are_one_line_errors(write_config, tmp_path, args, fragment):
    result = dlb("lr-find", write_config(TINY), *args, "--runs-dir", tmp_path / "r")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
