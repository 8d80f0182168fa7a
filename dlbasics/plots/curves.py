"""Learning curves of one run: train and validation metrics against epoch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import integer_epochs, plain_text

LABELS = {"loss": "loss", "acc": "accuracy"}


@plain_text
def plot_curves(rows: Sequence[dict[str, Any]], metric: str = "loss", title: str = "",
                x: str = "epoch") -> Figure:
    """Train and validation ``metric`` ("loss" or "acc") against ``x`` from metrics rows (dicts or a DataFrame).

    When the run measured the clean training metric (``train_eval_*``: a pass over the training split in eval
    mode after the epoch, no dropout or augmentation, the weights of the epoch's end) that is the training
    curve, comparable with validation; the running mean over the epoch's batches (``train_*``) is then drawn
    faint and dotted. Loss uses a log scale when all values are positive; a diverged epoch (NaN) ends the line.
    """
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    xs = np.array([r[x] for r in rows], dtype=float)

    def column(key: str) -> np.ndarray:
        return np.array([np.nan if r.get(key) in (None, "") else float(r[key]) for r in rows])

    clean = column(f"train_eval_{metric}")
    series = [("train_eval", "train (clean pass after the epoch)", {"color": "C0", "marker": "o"}),
              ("train", "train (running mean during the epoch)",
               {"color": "C0", "linestyle": ":", "alpha": 0.6, "marker": None}),
              ("val", "validation", {"color": "C1", "marker": "s"})]
    if not np.isfinite(clean).any():
        series = [("train", "train", {"color": "C0", "marker": "o"}), series[2]]
    positive = True
    for split, label, style in series:
        ys = column(f"{split}_{metric}")
        if np.isfinite(ys).any():
            ax.plot(xs, ys, markersize=3, label=label, **style)
            positive &= bool(np.all(ys[np.isfinite(ys)] > 0))
    if metric == "loss" and positive and ax.lines:
        ax.set_yscale("log")
    ax.set_xlabel(x.replace("_", " "))
    integer_epochs(ax, x)
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    ax.set_title(title or f"{LABELS.get(metric, metric)} per {x}")
    return fig
