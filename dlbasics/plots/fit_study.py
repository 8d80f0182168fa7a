"""Figures of the fit study: the chosen degrees' fits side by side, and training/validation error against degree."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

_VERDICT_COLORS = {"under-fitting": "#1f77b4", "good fit": "#2ca02c", "over-fitting": "#d62728"}


def plot_fits(study: Any, title: str = "") -> Figure:
    """One panel per chosen degree: the true function (dashed), training points (filled), validation points
    (hollow) and the fitted polynomial, coloured by its verdict; errors and verdict in the panel's title. The y
    axis is that of the data (a wild polynomial leaves the panel instead of squashing it)."""
    n = len(study.degrees)
    fig = Figure(figsize=(4.2 * n, 4.2), layout="constrained")
    grid = np.linspace(0.0, 1.0, 600)
    ys = np.concatenate([study.y_train, study.y_val])
    pad = 0.25 * (ys.max() - ys.min())
    rows = {r["degree"]: r for r in study.rows}
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    for ax, d in zip(axes, study.degrees):
        verdict = study.verdict(d)
        color = _VERDICT_COLORS[verdict]
        ax.plot(grid, study_truth(grid), "--", color="#555555", lw=1.2, label="sin(2$\\pi$x), the truth")
        ax.plot(study.x_val, study.y_val, "o", mfc="none", color="#999999", markersize=4, label="validation")
        ax.plot(study.x_train, study.y_train, "o", color="black", markersize=5, label="training")
        ax.plot(grid, study.predict(d, grid), color=color, lw=2.0, label=f"degree {d} fit")
        ax.set_ylim(ys.min() - pad, ys.max() + pad)
        ax.set_xlim(0, 1)
        ax.set_xlabel("x")
        r = rows[d]
        ax.set_title(f"degree {d}: {verdict}\ntrain MSE {r['train_mse']:.3g}, validation MSE {r['val_mse']:.3g}",
                     fontsize=10, color=color)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("y")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(title or "under-, good and over-fitting", fontsize=10)
    return fig


def plot_error_curve(study: Any, title: str = "") -> Figure:
    """Training and validation MSE against degree (log y), the noise variance as the floor a fit can reach on
    new data, the best degree and the chosen ones marked."""
    fig = Figure(figsize=(7.6, 4.6), layout="constrained")
    ax = fig.add_subplot()
    degrees = np.array([r["degree"] for r in study.rows])
    train = np.array([r["train_mse"] for r in study.rows])
    val = np.array([r["val_mse"] for r in study.rows])
    ax.plot(degrees, train, "-o", color="#1f77b4", label="training MSE")
    ax.plot(degrees, val, "-s", color="#d62728", label="validation MSE")
    if study.noise > 0:
        ax.axhline(study.noise**2, color="black", ls=":", lw=1,
                   label=f"noise variance {study.noise ** 2:.3g} (the best possible on new data)")
    ax.axvline(study.best, color="#2ca02c", ls="--", lw=1, label=f"lowest validation error: degree {study.best}")
    for d in study.degrees:
        verdict = study.verdict(d)
        ax.annotate(verdict, (d, val[d]), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8,
                    color=_VERDICT_COLORS[verdict])
    ax.set_yscale("log")
    low = float(min(train[train > 0].min(initial=np.inf), val.min())) if (train > 0).any() else float(val.min())
    ax.set_ylim(low / 2, float(max(val.max(), train.max())) * 6)  # room for the verdicts above the points
    ax.set_xlabel("polynomial degree (capacity)")
    ax.set_ylabel("mean squared error (log scale)")
    ax.set_xticks(degrees)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "error against degree", fontsize=10)
    return fig


def study_truth(x: np.ndarray) -> np.ndarray:
    from ..experiments.fit_study import truth

    return truth(x)
