"""The training-diagnostics figure: one panel per statistic, one line per layer, over epochs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .style import integer_epochs, plain_text

#: (column, panel title, log scale, which layers: "act" activations / "param" layers with parameters / "relu")
PANELS = [("act_mean", "activation mean", False, "act"), ("act_std", "activation std", False, "act"),
          ("dead_fraction", "dead-ReLU fraction (never active on the probe)", False, "relu"),
          ("grad_norm", "gradient norm ||dL/dθ||", True, "param"),
          ("update_ratio", "update / weight ||Δθ|| / ||θ|| (first step)", True, "param")]


def _value(row: dict[str, Any], key: str) -> float:
    v = row.get(key)
    return float("nan") if v in (None, "") else float(v)


@plain_text
def plot_diagnostics(rows: Sequence[dict[str, Any]], title: str = "") -> Figure:
    """A 2 x 3 grid from diagnostics rows (columns of :data:`dlbasics.train.diagnostics.COLUMNS`): activation mean
    and std (activation layers), dead-ReLU fraction (ReLU layers), gradient norm and update ratio (layers with
    parameters), each over epochs with one line per layer coloured by depth (dark: near the input); the sixth
    panel is the gradient norm against depth at the first, middle and last epoch: vanishing gradients are a
    slope down towards the input."""
    layers: dict[int, str] = {}
    for r in rows:
        layers.setdefault(int(r["layer"]), str(r["type"]))
    epochs = sorted({int(r["epoch"]) for r in rows})
    by = {(int(r["epoch"]), int(r["layer"])): r for r in rows}
    has_params = {int(r["layer"]) for r in rows if r.get("grad_norm") not in (None, "")}
    acts = [i for i in layers if i not in has_params] or sorted(has_params)
    groups = {"act": acts, "param": sorted(has_params), "relu": [i for i in layers if layers[i] == "relu"]}
    cmap = colormaps["viridis"]
    order = sorted(layers)
    colour = {i: cmap(0.9 * k / max(1, len(order) - 1)) for k, i in enumerate(order)}
    fig = Figure(figsize=(15, 8.2))
    fig.subplots_adjust(left=0.06, right=0.86, top=0.9, bottom=0.08, wspace=0.28, hspace=0.32)
    axes = fig.subplots(2, 3).ravel()
    for ax, (key, name, log, which) in zip(axes, PANELS):
        drawn = 0
        for i in groups[which]:
            ys = np.array([_value(by.get((e, i), {}), key) for e in epochs])
            ok = np.isfinite(ys) & ((ys > 0) if log else True)
            if not ok.any():
                continue
            ax.plot(np.array(epochs)[ok], ys[ok], color=colour[i], marker="o", markersize=3, lw=1.4,
                    label=f"{i} {layers[i]}")
            drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no ReLU layers" if which == "relu" else "nothing measured", ha="center",
                    va="center", transform=ax.transAxes, color="0.4")
        if log and drawn:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10, y=1.0)  # a fixed place: no layout pass over the tick labels
        ax.set_xlabel("epoch (0: initial weights)", fontsize=8)
        ax.grid(alpha=0.3)
        integer_epochs(ax)
    ax = axes[5]
    params = groups["param"]
    picks = sorted({epochs[0], epochs[len(epochs) // 2], epochs[-1]}) if epochs else []
    for k, e in enumerate(picks):
        ys = np.array([_value(by.get((e, i), {}), "grad_norm") for i in params])
        ax.plot(range(len(params)), ys, marker="o", color=f"C{k}", label=f"epoch {e}")
    ax.set_xticks(range(len(params)), [str(i) for i in params], fontsize=8)
    if params and np.nanmax([_value(by.get((e, i), {}), "grad_norm") for e in picks for i in params] or [0]) > 0:
        ax.set_yscale("log")
    ax.set_title("gradient norm by depth (input → output)", fontsize=10, y=1.0)
    ax.set_xlabel("layer index (layers with parameters)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    handles = {}
    for a in axes[:5]:
        for h, label in zip(*a.get_legend_handles_labels()):
            handles.setdefault(label, h)
    ordered = sorted(handles, key=lambda s: int(s.split()[0]))
    fig.legend([handles[k] for k in ordered], ordered, loc="center right", fontsize=8, title="layer",
               title_fontsize=8)
    fig.suptitle(f"{title + ': ' if title else ''}training diagnostics on a fixed probe batch", fontsize=12)
    return fig
