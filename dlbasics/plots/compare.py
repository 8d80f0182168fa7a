"""Overlay plots of several runs: training and validation panels, one colour, marker and dash pattern per run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import integer_epochs, plain_text, series_style


@plain_text
def plot_overlay(curves: Mapping[str, Any], metric: str = "loss", x: str = "epoch", title: str = "") -> Figure:
    """``metric`` ("loss" or "acc") of every run against ``x`` ("epoch" or "elapsed_s"); ``curves``: name -> DataFrame.

    Panels: training (left) and validation (right); one colour, marker and dash pattern per run. The training
    panel shows the clean training metric (``train_eval_*``) when every run measured it, else the running mean
    over each epoch's batches. Loss on a log scale when positive. A diverged run's line simply stops.
    """
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    clean = bool(curves) and all(f"train_eval_{metric}" in df and df[f"train_eval_{metric}"].notna().any()
                                 for df in curves.values())
    positive = True
    for i, (name, df) in enumerate(curves.items()):
        for ax, split in zip(axes, ("train_eval" if clean else "train", "val")):
            col = f"{split}_{metric}"
            if col not in df:
                continue
            ys = np.asarray(df[col], dtype=float)
            xs = np.asarray(df[x], dtype=float)
            ax.plot(xs, ys, label=name, **series_style(i, len(xs)))
            finite = ys[np.isfinite(ys)]
            positive &= bool(np.all(finite > 0))
    label = "accuracy" if metric == "acc" else "loss"
    for ax, split in zip(axes, ("training (clean pass)" if clean else "training (running mean)", "validation")):
        ax.set_title(f"{split} {label}")
        ax.set_xlabel("epoch" if x == "epoch" else "wall-clock time (s)")
        integer_epochs(ax, x)
        ax.grid(True, alpha=0.3)
        if metric == "loss" and positive and ax.lines:
            ax.set_yscale("log")
    axes[0].set_ylabel(label)
    if axes[1].lines or axes[0].lines:
        (axes[1] if axes[1].lines else axes[0]).legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
