"""Overlay plots of several runs: train (dashed) and validation (solid) curves, one colour per run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def plot_overlay(curves: Mapping[str, Any], metric: str = "loss", x: str = "epoch") -> Figure:
    """``metric`` ("loss" or "acc") of every run against ``x`` ("epoch" or "elapsed_s"); ``curves``: name -> DataFrame.

    Panels: training (left) and validation (right). Loss on a log scale when positive. A diverged run's line
    simply stops.
    """
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    positive = True
    for i, (name, df) in enumerate(curves.items()):
        for ax, split in zip(axes, ("train", "val")):
            col = f"{split}_{metric}"
            if col not in df:
                continue
            ys = np.asarray(df[col], dtype=float)
            xs = np.asarray(df[x], dtype=float)
            ax.plot(xs, ys, "-o", markersize=2.5, color=f"C{i % 10}", label=name)
            finite = ys[np.isfinite(ys)]
            positive &= bool(np.all(finite > 0))
    label = "accuracy" if metric == "acc" else "loss"
    for ax, split in zip(axes, ("training", "validation")):
        ax.set_title(f"{split} {label}")
        ax.set_xlabel("epoch" if x == "epoch" else "wall-clock time (s)")
        ax.grid(True, alpha=0.3)
        if metric == "loss" and positive and ax.lines:
            ax.set_yscale("log")
    axes[0].set_ylabel(label)
    if axes[1].lines or axes[0].lines:
        (axes[1] if axes[1].lines else axes[0]).legend(fontsize=8)
    return fig
