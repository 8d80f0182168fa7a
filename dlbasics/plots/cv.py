"""The folds of a cross-validation as a dot plot: each fold's score, the mean and its confidence interval.

Dots, not bars: a bar's length is read from zero, and a y-axis zoomed to the folds' spread (what makes their
differences visible) would exaggerate them; dots on a zoomed axis say only where each value lies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import plain_text


@plain_text
def plot_folds(rows: Sequence[dict[str, Any]], metric: str, stats: dict[str, Any], title: str = "") -> Figure:
    """``metric`` per fold (dots), a line at the mean and a band for its t-interval (``stats`` from mean_ci), and
    the mean with its interval as an error bar at the right."""
    folds = [str(r["fold"]) for r in rows]
    values = np.array([np.nan if r.get(metric) is None else r[metric] for r in rows], dtype=float)
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(len(folds))
    name = metric.replace("_", " ").replace("test", "held-out")
    ax.plot(positions, values, "o", color="C0", markersize=7, label=f"{name} of each fold")
    mean = stats["mean"]
    ax.axhline(mean, color="C3", lw=1, label=f"mean {mean:.4f}")
    if stats.get("low") is not None:
        ax.axhspan(stats["low"], stats["high"], color="C3", alpha=0.12,
                   label=f"95 % interval [{stats['low']:.4f}, {stats['high']:.4f}]")
        ax.errorbar([len(folds) + 0.6], [mean], yerr=[[mean - stats["low"]], [stats["high"] - mean]], fmt="D",
                    color="C3", capsize=5, markersize=6)
    finite = values[np.isfinite(values)]
    if finite.size:
        lo = min(finite.min(), stats.get("low") or finite.min())
        hi = max(finite.max(), stats.get("high") or finite.max())
        pad = (hi - lo) * 0.25 or abs(hi) * 0.02 or 0.02
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xticks([*positions, len(folds) + 0.6], [*folds, "mean"])
    ax.set_xlim(-0.6, len(folds) + 1.2)
    ax.set_xlabel("fold")
    ax.set_ylabel(name)
    ax.set_title(title or f"{len(rows)}-fold cross-validation: {name} per fold")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
