"""Figures a reader can trust: whole-number epoch ticks, dots rather than zoomed bars, series that tell apart,
axis labels and titles everywhere, the clean training curve when it was measured."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from dlbasics.plots.bands import plot_bands
from dlbasics.plots.compare import plot_overlay
from dlbasics.plots.curves import plot_curves
from dlbasics.plots.cv import plot_folds
from dlbasics.plots.init_study import plot_histograms
from dlbasics.plots.schedule import plot_schedule


def _rows(epochs: int, clean: bool = False) -> list[dict]:
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_acc": 0.5, "val_acc": 0.5}
        if clean:
            row["train_eval_loss"] = 0.8 / e
        rows.append(row)
    return rows


def _drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def _x_ticks(ax) -> list[float]:
    lo, hi = ax.get_xlim()
    return [t for t in ax.get_xticks() if lo <= t <= hi]


def test_epoch_axes_tick_whole_epochs_only():
    figures = [plot_curves(_rows(3)), plot_overlay({"a": pd.DataFrame(_rows(3))}),
               plot_bands({"a": [pd.DataFrame(_rows(3)), pd.DataFrame(_rows(3))]}),
               plot_schedule({"lr": [0.1, 0.05, 0.01], "momentum": [0.9] * 3})]
    for fig in figures:
        for ax in _drawn(fig).axes:
            if ax.get_xlabel() == "epoch":
                ticks = _x_ticks(ax)
                assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_loss_curve_is_the_clean_training_pass_when_measured():
    ax = plot_curves(_rows(4, clean=True)).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["train (clean pass after the epoch)", "train (running mean during the epoch)", "validation"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.8 / e for e in range(1, 5)])
    assert ax.lines[1].get_linestyle() == ":"  # the running mean is only context
    plain = plot_curves(_rows(4)).axes[0]
    assert [line.get_label() for line in plain.lines] == ["train", "validation"]


def test_folds_are_dots_with_an_interval_not_bars_on_a_zoomed_axis():
    rows = [{"fold": i, "test_acc": v} for i, v in enumerate([0.91, 0.93, 0.92, 0.95, 0.90])]
    fig = _drawn(plot_folds(rows, "test_acc", {"mean": 0.922, "low": 0.898, "high": 0.946}, title="cv-x: 5 folds"))
    ax = fig.axes[0]
    from matplotlib.patches import Rectangle

    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0 and p.get_width() < 1]
    assert bars == []  # no bar whose length would be read from a zoomed baseline
    assert ax.get_ylim()[0] > 0.5  # zoomed in: fine for dots
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    np.testing.assert_allclose(dots[0].get_ydata(), [0.91, 0.93, 0.92, 0.95, 0.90])
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "mean"
    assert ax.get_title() == "cv-x: 5 folds" and ax.get_xlabel() == "fold" and ax.get_ylabel() == "held-out acc"


def test_seven_and_more_series_differ_in_marker_or_line_style_not_only_colour():
    curves = {f"run{i}": pd.DataFrame(_rows(5)) for i in range(12)}
    fig = plot_overlay(curves, title="compare-x")
    ax = fig.axes[1]
    looks = [(line.get_color(), line.get_marker(), line.get_linestyle()) for line in ax.lines]
    assert len(set(looks)) == 12
    assert len({(m, s) for _, m, s in looks}) >= 7  # told apart in greyscale too
    assert fig._suptitle.get_text() == "compare-x"
    bands = plot_bands({f"p{i}": [pd.DataFrame(_rows(5))] * 2 for i in range(8)}).axes[0]
    means = [line for line in bands.lines if line.get_label().endswith("(n=2)")]
    assert len({line.get_marker() for line in means}) == 8


def test_init_study_histograms_have_an_x_label_and_tick_labels_that_do_not_touch():
    rng = np.random.default_rng(0)
    raw = {(init, "tanh"): ([rng.normal(0, s, 1000) for s in (1e-5, 3e2, 1.0)],
                            [rng.normal(0, s, 1000) for s in (1e4, 1e-3, 7.0)]) for init in ("he", "xavier")}
    for which in ("activations", "gradients"):
        fig = _drawn(plot_histograms(raw, "tanh", ["he", "xavier"], which))
        assert fig._supxlabel.get_text() in ("activation value", "weight-gradient value")
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
            assert len(boxes) >= 2
            for left, right in itertools.pairwise(boxes):
                assert left.x1 < right.x0, [t.get_text() for t in ax.get_xticklabels()]


def test_user_names_with_dollars_are_plain_text_and_log_ticks_stay_math():
    import io

    import matplotlib

    curves = {"cost $x^$ b": pd.DataFrame(_rows(3)), "plain": pd.DataFrame(_rows(3))}
    fig = plot_overlay(curves, title="a $ title")
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read it back
        fig.savefig(buf, format="svg")
    import re

    texts = re.findall(r"<text[^>]*>([^<]*)</text>", buf.getvalue())
    assert "cost $x^$ b" in texts and "a $ title" in texts
    assert not any("mathdefault" in t for t in texts)  # log-axis ticks (10^-1) still drawn as math, not as source
