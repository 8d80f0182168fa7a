"""Plots of the initialisation study: per-layer histograms and the spread of activations by depth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .style import plain_text


@plain_text
def plot_histograms(raw: dict, activation: str, inits: Sequence[str], which: str = "activations",
                    run: str = "") -> Figure:
    """A grid: one row per initialiser, one column per layer, the histogram of that layer's values.

    ``which``: "activations" (outputs of the non-linearity) or "gradients" (weight gradients).
    """
    n_layers = len(next(iter(raw.values()))[0])
    width, height = 2.2 * n_layers + 0.8, 1.6 * len(inits) + 0.8
    fig = Figure(figsize=(width, height))  # a regular grid: fixed margins, half the time of a layout engine
    fig.subplots_adjust(left=1.1 / width, right=1 - 0.15 / width, top=1 - 0.6 / height, bottom=0.6 / height,
                        wspace=0.12, hspace=0.45)
    axes = fig.subplots(len(inits), n_layers, squeeze=False)
    for r, init in enumerate(inits):
        acts, grads = raw[init, activation]
        values = acts if which == "activations" else grads
        for c, v in enumerate(values):
            ax = axes[r, c]
            v = v.ravel()
            v = v[np.isfinite(v)]
            bounds = {"sigmoid": (0, 1), "tanh": (-1, 1)}.get(activation) if which == "activations" else None
            counts, edges = np.histogram(v, bins=30, range=bounds) if v.size else (np.zeros(30), np.arange(31))
            ax.stairs(counts, edges, fill=True, color="C1" if which == "gradients" else "C0")  # one artist, not 30
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3, min_n_ticks=2))  # 3 short labels never touch
            ax.xaxis.set_major_formatter(FuncFormatter(_short))
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"layer {c + 1}", fontsize=8)
            if c == 0:
                ax.set_ylabel(init, fontsize=7)
    fig.suptitle(f"{run + ': ' if run else ''}{which} per layer, {activation} (rows: initialisation)", fontsize=10)
    fig.supxlabel("activation value" if which == "activations" else "weight-gradient value", fontsize=8)
    fig.supylabel("count (per panel's own scale)", fontsize=8, x=0.3 / width)
    return fig


def _short(value: float, _pos: int) -> str:
    """A short tick label: 0, 0.5, 400, 0.01, -1e-05."""
    if value == 0:
        return "0"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.0e}"


@plain_text
def plot_spread(rows: Sequence[dict[str, Any]], key: str = "act_std", run: str = "", note: str = "") -> Figure:
    """``key`` (act_std or grad_std) against depth, one line per initialiser, one panel per activation (log y);
    ``note`` (which initialiser each label is) under the panels."""
    activations = list(dict.fromkeys(r["activation"] for r in rows))
    inits = list(dict.fromkeys(r["init"] for r in rows))
    fig = Figure(figsize=(4.2 * len(activations), 3.6), layout="constrained")
    axes = fig.subplots(1, len(activations), squeeze=False)[0]
    for ax, act in zip(axes, activations):
        for init in inits:
            sel = [r for r in rows if r["activation"] == act and r["init"] == init]
            ys = np.array([r[key] for r in sel], dtype=float)
            ys[ys <= 0] = np.nan  # zeros cannot be shown on a log axis
            ax.plot([r["layer"] for r in sel], ys, "-o", markersize=3, label=init)
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(act)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(key.replace("_", " "))
    axes[-1].legend(fontsize=7)
    if note:
        fig.supxlabel(note, fontsize=7, wrap=True)
    fig.suptitle(f"{run + ': ' if run else ''}{'activation' if key == 'act_std' else 'weight-gradient'} "
                 "standard deviation by layer (log scale)", fontsize=10)
    return fig
