"""Learning curves of one run: train and validation metrics against epoch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

LABELS = {"loss": "loss", "acc": "accuracy"}


def plot_curves(rows: Sequence[dict[str, Any]], metric: str = "loss", title: str = "",
                x: str = "epoch") -> Figure:
    """Train and validation ``metric`` ("loss" or "acc") against ``x`` from metrics rows (dicts or a DataFrame).

    Loss uses a log scale when all values are positive; a diverged epoch (NaN) simply ends the line.
    """
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    xs = np.array([r[x] for r in rows], dtype=float)
    positive = True
    for split, style in (("train", "-o"), ("val", "-s")):
        key = f"{split}_{metric}"
        ys = np.array([np.nan if r.get(key) in (None, "") else float(r[key]) for r in rows])
        if np.isfinite(ys).any():
            ax.plot(xs, ys, style, markersize=3, label="validation" if split == "val" else "train")
            positive &= bool(np.all(ys[np.isfinite(ys)] > 0))
    if metric == "loss" and positive and ax.lines:
        ax.set_yscale("log")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend()
    ax.set_title(title or f"{LABELS.get(metric, metric)} per {x}")
    return fig
