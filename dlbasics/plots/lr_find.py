"""The learning-rate range test's curve: smoothed loss against lr (log axis), the suggestions marked on it and
spelled out beside it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

#: how each suggestion is drawn and named in the hint
_MARKS = {"valley": ("o", "#d62728", "valley"), "steep": ("^", "#2ca02c", "steepest descent"),
          "minimum": ("s", "#9467bd", "minimum / 10")}


def plot_lr_find(result: Any, chosen: str = "valley", key: str = "optimizer.lr", title: str = "") -> Figure:
    """The smoothed loss (solid) and each batch's loss (faint) against lr on a log axis; each suggestion marked
    where it sits on the curve (``minimum``: at the minimum, its suggestion a tenth of it, drawn as a dotted
    line), and a hint beside the plot with the suggested values, the one ``--apply`` writes (``chosen``, into
    ``key``) first, and why the test stopped. ``result``: a :class:`~dlbasics.experiments.lr_find.RangeTest`."""
    fig = Figure(figsize=(9.6, 4.8), layout="constrained")
    grid = fig.add_gridspec(1, 2, width_ratios=[3.2, 1.25])
    ax = fig.add_subplot(grid[0])
    hint = fig.add_subplot(grid[1])
    hint.axis("off")
    lrs, losses, smoothed = result.lrs, result.losses, result.smoothed
    ax.plot(lrs, losses, color="#1f77b4", lw=0.8, alpha=0.3, label="batch loss")
    ax.plot(lrs, smoothed, color="#1f77b4", lw=2.0, label="smoothed (EMA, bias-corrected)")
    finite = smoothed[np.isfinite(smoothed)]
    if finite.size:
        raw = losses[np.isfinite(losses)]
        low = float(min(finite.min(), raw.min()))
        top = min(float(finite.max()), result.stop_factor * float(finite.min()),
                  float(finite[0]) * 1.5 if finite[0] > 0 else np.inf)
        top = max(top, float(finite[0]), low * 1.05 + 1e-12)
        ax.set_ylim(low - 0.08 * (top - low), top + 0.08 * (top - low))
    for name, s in result.suggestions.items():
        marker, color, label = _MARKS[name]
        ax.plot(s["at_lr"], s["loss"], marker, color=color, markersize=10, markeredgecolor="black", zorder=5,
                label=f"{label}: {s['lr']:.2g}")
        if name == "minimum":
            ax.axvline(s["lr"], color=color, ls=":", lw=1.2)
    ax.axvline(result.suggestions[chosen]["lr"], color=_MARKS[chosen][1], ls="--", lw=1.0, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "learning-rate range test", fontsize=10)
    best = result.suggestions[chosen]
    stop = {"diverged": f"stopped at step {len(lrs)}: smoothed loss > {result.stop_factor:g} x its minimum",
            "not finite": f"stopped at step {len(lrs)}: the loss was not finite",
            "end": f"ran all {len(lrs)} steps to lr {result.end:g}"}[result.stopped]
    lines = [f"suggested {key}:", f"  {best['lr']:.2g}  ({_MARKS[chosen][2]})", "", "other readings:"]
    lines += [f"  {_MARKS[n][2]}: {s['lr']:.2g}" for n, s in result.suggestions.items() if n != chosen]
    lines += ["", f"lr {result.start:g} -> {result.end:g},", f"{result.steps} steps planned;", *_wrap(stop, 30), "",
              "for 1cycle it is max_lr", "(schedule: onecycle)"]
    hint.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, family="monospace",
              transform=hint.transAxes, bbox={"boxstyle": "round", "facecolor": "#f4f4f4", "edgecolor": "#999999"})
    return fig


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)
