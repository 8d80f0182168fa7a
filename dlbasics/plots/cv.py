"""The folds of a cross-validation: one bar per fold, the mean and its confidence interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def plot_folds(rows: Sequence[dict[str, Any]], metric: str, stats: dict[str, Any]) -> Figure:
    """Bars of ``metric`` per fold, a line at the mean and a band for its t-interval (``stats`` from mean_ci)."""
    folds = [r["fold"] for r in rows]
    values = np.array([np.nan if r.get(metric) is None else r[metric] for r in rows], dtype=float)
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.bar([str(f) for f in folds], values, color="C0", alpha=0.8, label=f"{metric} per fold")
    ax.axhline(stats["mean"], color="C3", label=f"mean {stats['mean']:.4f}")
    if stats.get("low") is not None:
        ax.axhspan(stats["low"], stats["high"], color="C3", alpha=0.15,
                   label=f"95 % interval [{stats['low']:.4f}, {stats['high']:.4f}]")
    finite = values[np.isfinite(values)]
    if finite.size:
        lo = min(finite.min(), stats.get("low") or finite.min())
        hi = max(finite.max(), stats.get("high") or finite.max())
        pad = (hi - lo) * 0.5 or abs(hi) * 0.05 or 0.05
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("fold")
    ax.set_ylabel(metric.replace("_", " ").replace("test", "held-out"))
    ax.set_title(f"{len(rows)}-fold cross-validation")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
