"""Plots of the generalization experiments: bias-variance against capacity, learning curves, boosting."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

_TERMS = (("bias2", "bias$^2$", "C0", "-"), ("variance", "variance", "C1", "-"),
          ("noise", "noise $\\sigma^2$", "0.45", ":"), ("total", "bias$^2$ + variance + noise", "C3", "-"))


def plot_bias_variance(rows: Sequence[dict[str, Any]], title: str = "bias-variance decomposition") -> Figure:
    """bias^2, variance, noise and their sum against capacity; the measured error as markers.

    Left: every capacity on a log y axis (the terms span orders of magnitude; without the ridge the
    variance of high degrees explodes).
    Right: the same on a linear axis cut near the low capacities' totals (at least three times the lowest
    total), where the U shape and the trade between bias^2 and variance show. The training error (dashed)
    keeps falling while the total turns up.
    """
    cap = np.array([r["capacity"] for r in rows])
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    best = min(rows, key=lambda r: r["total"])
    for ax, log in zip(axes, (True, False)):
        for key, label, color, style in _TERMS:
            ys = np.array([r[key] for r in rows], dtype=float)
            if log:
                ys = np.where(ys > 0, ys, np.nan)
            ax.plot(cap, ys, style, color=color, lw=2 if key == "total" else 1.5, label=label)
        if "train_error" in rows[0]:
            ax.plot(cap, [r["train_error"] for r in rows], "--", color="C2", lw=1.2, label="training error")
        ax.plot(cap, [r["measured"] for r in rows], "o", mfc="none", mec="k", ms=7, label="measured test error")
        ax.axvline(best["capacity"], color="0.7", lw=0.8, zorder=0)
        ax.set_xlabel("capacity")
        ax.grid(True, alpha=0.3)
        ax.set_xticks(cap)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("expected squared error")
    axes[0].set_title("all capacities (log scale)")
    totals = np.array([r["total"] for r in rows], dtype=float)
    left_of_best = totals[cap <= best["capacity"]]
    top = min(totals.max() * 1.05, max(3 * best["total"], 1.15 * left_of_best.max()))
    axes[1].set_ylim(0, top if top > 0 else 1)
    axes[1].set_title(f"linear zoom: minimum {best['total']:.3g} at capacity {best['capacity']}")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


def plot_learning_curve(rows: Sequence[dict[str, Any]], title: str = "learning curves") -> Figure:
    """Training and validation error against training-set size, one panel per capacity (log x and y).

    The dotted line is the noise level sigma^2, the floor of the validation error. Values outside the axis
    (the validation error of a barely determined fit, many orders of magnitude up; the training error of
    an interpolating fit, ~0) are shown as triangles on the top or bottom edge.
    """
    caps = list(dict.fromkeys(r["capacity"] for r in rows))
    fig = Figure(figsize=(4.0 * len(caps) + 0.6, 3.8), layout="constrained")
    axes = fig.subplots(1, len(caps), squeeze=False, sharey=True)[0]
    vals = np.array([r[k] for r in rows for k in ("train_error", "val_error")], dtype=float)
    noise = max(r["noise"] for r in rows)
    pos = vals[vals > 0]
    level = noise if noise > 0 else (np.median(pos) if pos.size else 1.0)
    bottom = max(pos.min() / 1.5 if pos.size else level / 10, level / 100)
    top = min(vals.max() * 1.5, 30 * max(level, min(r["val_error"] for r in rows)))
    for ax, cap in zip(axes, caps):
        sel = [r for r in rows if r["capacity"] == cap]
        size = np.array([r["size"] for r in sel])
        for key, label, color in (("train_error", "training error", "C0"), ("val_error", "validation error", "C3")):
            ys = np.array([r[key] for r in sel], dtype=float)
            inside = (ys >= bottom) & (ys <= top)
            ax.plot(size[inside], ys[inside], "-o", color=color, ms=4, label=label)
            for edge, marker, out in ((top, "^", ys > top), (bottom, "v", ys < bottom)):
                if out.any():
                    ax.plot(size[out], np.full(out.sum(), edge), marker, color=color, ms=7, clip_on=False,
                            label=f"{label} off scale")
        if noise > 0:
            ax.axhline(noise, color="0.45", ls=":", label="noise $\\sigma^2$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.set_xlabel("training-set size")
        ax.set_title(f"capacity {cap}")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("mean squared error")
    fig.suptitle(title)
    return fig


def plot_boosting(staged_train: Sequence[float], staged_test: Sequence[float],
                  bagging_acc: Sequence[float] | float, stump_acc: float | None = None,
                  bagging_train: Sequence[float] | None = None, title: str = "AdaBoost vs bagging") -> Figure:
    """Accuracy against the number of estimators: AdaBoost train and test, bagged stumps (test), one stump.

    ``bagging_acc``: the bagged stumps' test accuracy after each estimator, or one final number (a line).
    """
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    m = np.arange(1, len(staged_train) + 1)
    ax.plot(m, staged_train, "-", color="C0", label="AdaBoost (SAMME), train")
    ax.plot(m, staged_test, "-", color="C3", label="AdaBoost (SAMME), test")
    if np.ndim(bagging_acc):
        if bagging_train is not None:
            ax.plot(np.arange(1, len(bagging_train) + 1), bagging_train, "--", color="C2", lw=1,
                    label="bagged stumps, train")
        ax.plot(np.arange(1, len(bagging_acc) + 1), bagging_acc, "-", color="C2", label="bagged stumps, test")
    else:
        ax.axhline(float(bagging_acc), color="C2", label="bagged stumps, test")
    if stump_acc is not None:
        ax.axhline(stump_acc, color="0.45", ls=":", label="one stump, test")
    ax.set_xscale("log")
    ax.set_xlabel("number of estimators (stumps)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="center right")
    return fig


def plot_decision_regions(predictors: Mapping[str, Callable[[np.ndarray], np.ndarray]], x: np.ndarray,
                          y: np.ndarray, resolution: int = 250, title: str = "decision regions") -> Figure:
    """One panel per classifier: its predicted class over the plane (shaded) and the points (x, y) on top.

    ``predictors``: name -> function from (N, 2) inputs to (N,) integer classes.
    """
    pad = 0.25
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1)
    k = int(y.max()) + 1
    colors = [f"C{i}" for i in range(k)]
    ratio = float(np.clip((hi[1] - lo[1]) / (hi[0] - lo[0]), 0.4, 2.5))
    fig = Figure(figsize=(3.8 * len(predictors), 3.8 * ratio + 0.7), layout="constrained")
    axes = fig.subplots(1, len(predictors), squeeze=False)[0]
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(colors)
    for ax, (name, fn) in zip(axes, predictors.items()):
        z = fn(grid).reshape(g0.shape)
        ax.pcolormesh(g0, g1, z, cmap=cmap, vmin=-0.5, vmax=k - 0.5, alpha=0.25, shading="auto")
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=6, edgecolors="none")
        acc = float(np.mean(fn(x) == y))
        ax.set_title(f"{name}  (acc {acc:.3f})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    fig.suptitle(title)
    return fig
