"""Figures of the batch-size study: Keskar et al.'s 1-D interpolation between two solutions, and the gap and
sharpness against the batch size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import plain_text


@plain_text
def plot_interpolation(rows: Sequence[dict[str, Any]], small: str, large: str, title: str = "") -> Figure:
    """Loss (left) and accuracy (right) along θ(α) = (1 − α) θ_small + α θ_large: training solid,
    test dashed; with several seeds, each seed thin and their mean bold. α = 0 is the small-batch solution,
    α = 1 the large-batch one (Keskar et al. 2017, Figure 3). ``rows``: {seed, alpha, train_loss, test_loss,
    train_acc, test_acc}."""
    seeds = sorted({r["seed"] for r in rows})
    has_acc = any("train_acc" in r for r in rows)
    fig = Figure(figsize=(11 if has_acc else 6, 4.4), layout="constrained")
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    for ax, metric, label in zip(axes, ("loss", "acc"), ("loss", "accuracy")):
        for split, color, style in (("train", "C0", "-"), ("test", "C3", "--")):
            key = f"{split}_{metric}"
            curves = [[r for r in rows if r["seed"] == s] for s in seeds]
            curves = [c for c in curves if c and key in c[0]]
            if not curves:
                continue
            alpha = np.array([r["alpha"] for r in curves[0]])
            values = np.array([[r[key] for r in c] for c in curves], dtype=float)
            if len(curves) > 1:
                for v in values:
                    ax.plot(alpha, v, style, color=color, lw=0.7, alpha=0.35)
            ax.plot(alpha, values.mean(axis=0), style, color=color, lw=2,
                    label=f"{split}" + (f" (mean of {len(curves)} seeds)" if len(curves) > 1 else ""))
        for x, text in ((0.0, f"batch {small}"), (1.0, f"batch {large}")):
            ax.axvline(x, color="0.6", lw=0.8, zorder=0)
            ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="0.35")
        ax.set_xlabel("α")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


@plain_text
def plot_sharpness(rows: Sequence[dict[str, Any]], runs: Sequence[dict[str, Any]], title: str = "") -> Figure:
    """Three panels against the batch size (one tick per size, in order): the accuracy gap train − test (or the
    loss gap test − train for regression), λ_max and the ε-sharpness; each run a small dot, each size's mean
    with its 95 % t-interval as an error bar."""
    gap = "gap_acc" if any(r.get("gap_acc") is not None for r in rows) else "gap_loss"
    panels = ((gap, "gap: train − test accuracy" if gap == "gap_acc" else "gap: test − train loss"),
              ("lambda_max", "λ_max of the training loss's Hessian"), ("eps_sharpness", "ε-sharpness (%)"))
    fig = Figure(figsize=(12, 3.9), layout="constrained")
    axes = fig.subplots(1, 3)
    x = np.arange(len(rows))
    names = [str(r["batch_size"]) + (f"\n(= {r['batch']})" if r["batch_size"] == "full" and r.get("batch") else "")
             for r in rows]
    for ax, (key, label) in zip(axes, panels):
        for i, r in enumerate(rows):
            dots = [m[key] for m in runs if m["batch_size"] == r["batch_size"] and m.get(key) is not None]
            ax.plot(np.full(len(dots), i) + np.linspace(-0.08, 0.08, len(dots)) if dots else [], dots, ".",
                    color="0.55", ms=5)
            mean = r.get(key)
            if mean is None:
                continue
            low, high = r.get(f"{key}_low"), r.get(f"{key}_high")
            err = [[mean - low], [high - mean]] if low is not None and high is not None else None
            ax.errorbar([i], [mean], yerr=err, fmt="o", color="C0", capsize=4, ms=6)
        ax.set_xticks(x, names)
        ax.set_xlabel("batch size")
        ax.set_title(label, fontsize=9)
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
