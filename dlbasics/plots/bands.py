"""Grouped learning curves: the mean over replicates (seeds, folds) with its 95 % t-band, never one replicate.

``band(frames, column)`` does the arithmetic (a table you can check), ``plot_bands`` draws it: per group one
colour, validation solid with its band, training dashed (mean only), and the replicates themselves faint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..stats import mean_ci
from .style import integer_epochs, plain_text, series_style

MAX_FAINT = 12  # replicates drawn faintly behind a band (more would only be noise)


def band(frames: Sequence[pd.DataFrame], column: str, x: str = "epoch", confidence: float = 0.95) -> pd.DataFrame:
    """Per epoch: ``x`` (the epoch, or the mean of ``x`` over the replicates, e.g. elapsed time), ``n`` (how many
    replicates measured ``column`` then), ``mean``, ``low`` and ``high`` of the t-interval (NaN when n < 2).

    Every replicate that has a finite value at an epoch counts, so a band is over all replicates, and a replicate
    that stopped early (early stopping, divergence) simply stops counting."""
    rows: dict[int, dict[str, list[float]]] = {}
    for df in frames:
        if column not in df or "epoch" not in df:
            continue
        for epoch, value, where in zip(df["epoch"], df[column], df[x] if x in df else df["epoch"]):
            if value is not None and np.isfinite(value):
                slot = rows.setdefault(int(epoch), {"v": [], "x": []})
                slot["v"].append(float(value))
                slot["x"].append(float(where))
    out = []
    for epoch in sorted(rows):
        values = rows[epoch]["v"]
        st = mean_ci(values, confidence)
        out.append({"epoch": epoch, "x": float(np.mean(rows[epoch]["x"])), "n": st["n"], "mean": st["mean"],
                    "low": np.nan if st["low"] is None else st["low"],
                    "high": np.nan if st["high"] is None else st["high"]})
    table = pd.DataFrame(out, columns=["epoch", "x", "n", "mean", "low", "high"])
    return table.astype({"epoch": int, "n": int, "x": float, "mean": float, "low": float, "high": float})


@plain_text
def plot_bands(groups: Mapping[str, Sequence[pd.DataFrame]], metric: str = "loss", x: str = "epoch",
               title: str = "") -> Figure:
    """``metric`` ("loss" or "acc") of every group against ``x`` ("epoch" or "elapsed_s"): the validation mean
    with its 95 % band (solid; a marker of its own per group), the training mean (dashed: the clean pass
    ``train_eval_*`` when every replicate measured it, else the running mean over the epoch), the replicates
    faint. ``groups``: label -> frames."""
    fig = Figure(figsize=(7.6, 4.4), layout="constrained")
    ax = fig.add_subplot()
    positive = True
    frames_all = [df for frames in groups.values() for df in frames]
    clean = bool(frames_all) and all(f"train_eval_{metric}" in df and df[f"train_eval_{metric}"].notna().any()
                                     for df in frames_all)
    for i, (label, frames) in enumerate(groups.items()):
        color = series_style(i)["color"]
        val = band(frames, f"val_{metric}", x)
        train = band(frames, f"{'train_eval' if clean else 'train'}_{metric}", x)
        for df in list(frames)[:MAX_FAINT]:
            if f"val_{metric}" in df:
                ax.plot(df[x] if x in df else df["epoch"], df[f"val_{metric}"], color=color, alpha=0.15, lw=0.8)
        n = max([int(v) for v in val["n"]] or [len(frames)])
        if len(val):
            ax.plot(val["x"], val["mean"], label=f"{label} (n={n})", **{**series_style(i, len(val)), "linestyle": "-"})
            if val["low"].notna().any():
                ax.fill_between(val["x"], val["low"], val["high"], color=color, alpha=0.2, lw=0)
        if len(train):  # dashed beside a validation band; the labelled line when nothing was validated
            ax.plot(train["x"], train["mean"], "--", color=color, alpha=0.6 if len(val) else 1.0, lw=1,
                    label=None if len(val) else f"{label} (training, n={len(frames)})")
        for table in (val, train):
            finite = table["mean"][np.isfinite(table["mean"])]
            positive &= bool((finite > 0).all())
    name = "accuracy" if metric == "acc" else "loss"
    if metric == "loss" and positive and ax.lines:
        ax.set_yscale("log")
    ax.set_xlabel("epoch" if x == "epoch" else "wall-clock time (s)")
    integer_epochs(ax, x)
    ax.set_ylabel(f"{name} (validation solid, training dashed)")
    ax.set_title(title or f"{name}: mean over replicates with 95 % t-band")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    return fig


def frames_of(run_dirs: Sequence[Any]) -> list[pd.DataFrame]:
    """metrics.csv of each run folder that has at least one row."""
    from pathlib import Path

    out = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.csv"
        if path.is_file() and path.stat().st_size:
            try:
                df = pd.read_csv(path)
            except (ValueError, OSError):
                continue
            if len(df):
                out.append(df)
    return out
