"""Plots of the optimizer playground: paths over the contours of a 2-D problem, and loss against step."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..optim.optimizers import OPTIMIZERS
from .style import MARKERS

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#e377c2", "#17becf", "#8c564b", "#bcbd22",
           "#7f7f7f", "#000080")


def optimizer_color(name: str) -> str:
    """One fixed colour per optimizer, so that it looks the same in every figure."""
    names = list(OPTIMIZERS)
    return _COLORS[names.index(name) % len(_COLORS)] if name in names else _COLORS[sum(map(ord, name)) % len(_COLORS)]


def optimizer_marker(name: str) -> str:
    """One fixed marker per optimizer: curves that overlap (sgd and momentum early on) stay apart."""
    names = list(OPTIMIZERS)
    return MARKERS[(names.index(name) if name in names else sum(map(ord, name))) % len(MARKERS)]


def _label(res: dict[str, Any]) -> str:
    batch = res.get("batch_size")
    label = f"{res['optimizer']} (lr {res['lr']:g}{f', batch {batch}' if batch else ''})"
    if res.get("diverged_step"):
        label += f", diverged at step {res['diverged_step']}"
    return label


def _contours(ax: Any, prob: Any, grid: int = 300) -> tuple[Any, str, np.ndarray | None]:
    """Filled contours of ``prob`` over its bounds on ``ax``: of f - f_min on a log scale when
    ``prob.log_levels``, else evenly spaced levels of f. Returns (the filled set, colour-bar label, log ticks)."""
    (x0, x1), (y0, y1) = prob.bounds
    X, Y = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    Z = np.asarray(prob.value(np.stack([X, Y])), dtype=float)
    cmap = ListedColormap(colormaps["Blues_r"](np.linspace(0.35, 1.0, 256)))
    if prob.log_levels:
        z = Z - prob.min_value
        hi = float(z.max())
        lo = max(float(z[z > 0].min()), hi * 1e-6)
        levels = np.logspace(np.log10(lo), np.log10(hi), 30)
        z = np.clip(z, lo, hi)
        filled = ax.contourf(X, Y, z, levels=levels, norm=LogNorm(lo, hi), cmap=cmap, alpha=0.6)
        ax.contour(X, Y, z, levels=levels[::2], norm=LogNorm(lo, hi), colors="#555555", linewidths=0.4, alpha=0.6)
        return filled, "f - min f (log scale)", 10.0 ** np.arange(np.ceil(np.log10(lo)), np.floor(np.log10(hi)) + 1)
    levels = MaxNLocator(24).tick_values(float(Z.min()), float(np.percentile(Z, 98)))
    filled = ax.contourf(X, Y, Z, levels=levels, cmap=cmap, alpha=0.6, extend="max")
    ax.contour(X, Y, Z, levels=levels, colors="#555555", linewidths=0.4, alpha=0.6)
    return filled, "f", None


def plot_trajectories(problem: Any, results: Sequence[dict[str, Any]], grid: int = 300,
                      title: str = "", run: str = "") -> Figure:
    """The contours of ``problem`` (a Problem or its name) and every run's path over them.

    Contours are of f - f_min, log-spaced when ``problem.log_levels`` (the floor of a valley is much flatter
    than its walls), else evenly spaced levels of f. Each path is a line with a marker every ~25th of the
    run, so that the spacing of the markers shows the speed; the start is a black dot, the minimum a star.
    """
    from ..experiments.playground import get_problem

    prob = get_problem(problem)
    (x0, x1), (y0, y1) = prob.bounds
    width = 6.0 * min(1.6, max(0.9, (x1 - x0) / (y1 - y0)))
    fig = Figure(figsize=(width + 2.6, 5.4), layout="constrained")
    ax = fig.add_subplot()
    filled, bar_label, ticks = _contours(ax, prob, grid)
    bar = fig.colorbar(filled, ax=ax, shrink=0.85, pad=0.01, label=bar_label)
    if ticks is not None:
        bar.set_ticks(ticks, labels=[f"$10^{{{int(np.log10(t))}}}$" for t in ticks])
        bar.ax.minorticks_off()
    for res in results:
        path = res["trajectory"]
        path = path[np.isfinite(path).all(axis=1)]
        every = max(1, (len(res["trajectory"]) - 1) // 25)
        ax.plot(path[:, 0], path[:, 1], "-o", color=optimizer_color(res["optimizer"]), lw=1.6, markersize=3.5,
                markevery=every, label=_label(res), alpha=0.9)
    ax.plot(*prob.start, "o", color="black", markersize=9, label=f"start ({prob.start[0]:g}, {prob.start[1]:g})",
            zorder=5)
    ax.plot(*prob.minimum, "*", color="gold", markeredgecolor="black", markersize=17, zorder=5,
            label=f"minimum ({prob.minimum[0]:.3g}, {prob.minimum[1]:.3g}), f = {prob.min_value:.4g}")
    for i, (label, point) in enumerate(prob.marks):
        ax.plot(*point, "X^v<>"[i % 5], color="white", markeredgecolor="black", markersize=10, zorder=5,
                label=label)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(prob.labels[0])
    ax.set_ylabel(prob.labels[1])
    steps = max((len(r["trajectory"]) - 1 for r in results), default=0)
    head = textwrap.wrap(f"{prob.name}: {prob.doc}", int(11 * width), break_on_hyphens=False)
    head = [run, *head] if run else head
    ax.set_title(title or "\n".join([*head, f"{steps} steps, a marker every {max(1, steps // 25)} steps"]),
                 fontsize=10)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    return fig


def plot_losses(results: Sequence[dict[str, Any]], optimum: float, title: str = "",
                tolerance: float | None = 1e-3) -> Figure:
    """f - ``optimum`` against step for every run (log y), with the ``tolerance`` target as a dashed line.

    Values <= 0 (the optimum reached to rounding) cannot be shown on a log axis and end the line; so does a
    divergence.
    """
    fig = Figure(figsize=(7.6, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for res in results:
        gap = np.asarray(res["losses"], dtype=float) - optimum
        gap[~(gap > 0)] = np.nan
        mini = res.get("batch_size") is not None
        ax.plot(np.arange(len(gap)), gap, color=optimizer_color(res["optimizer"]), lw=0.9 if mini else 1.6,
                ls="-" if not mini else (0, (4, 1.5)), alpha=0.75 if mini else 1.0, label=_label(res),
                marker=optimizer_marker(res["optimizer"]), markersize=4, markevery=max(1, len(gap) // 12))
    if tolerance:
        ax.axhline(tolerance, color="black", ls="--", lw=0.9, label=f"target: min + {tolerance:g}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("f - min f")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8, frameon=False)
    ax.set_title(title or "distance to the minimum", fontsize=10)
    return fig


#: colours of the mini-batch paths when several batch sizes are drawn (smallest, noisiest batch first)
_BATCH_COLORS = ("#d62728", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2")
_END_MARKERS = ("D", "v", "^", "P", "h", "<")


def plot_minibatch(problem: Any, results: Sequence[dict[str, Any]], grid: int = 240, run: str = "") -> Figure:
    """Mini-batch against full-batch gradient, one panel per optimizer, every path from the same start.

    ``results`` holds, per optimizer, its full-batch run (``batch_size`` None) and one run per batch size. The
    full-batch path is black; a single mini-batch path takes the optimizer's colour, several take one colour per
    batch size (the same in every panel). Where each ended is marked (a square for the full batch) and named in
    the panel's title after the minimum whose basin it is in.
    """
    from matplotlib.lines import Line2D

    from ..experiments.playground import get_problem

    prob = get_problem(problem)
    groups: dict[str, dict[int | None, dict[str, Any]]] = {}
    for res in results:
        groups.setdefault(res["optimizer"], {})[res.get("batch_size")] = res
    names = [n for n, runs in groups.items() if None in runs and len(runs) > 1]
    sizes = sorted({b for n in names for b in groups[n] if b is not None})
    cols = min(3, len(names)) or 1
    rows = -(-len(names) // cols) or 1
    (x0, x1), (y0, y1) = prob.bounds
    aspect = (y1 - y0) / (x1 - x0)
    width = max(4.4 * cols, 7.0)
    fig = Figure(figsize=(width, rows * (4.4 * aspect + 1.0 + 0.15 * len(sizes)) + 1.2), layout="constrained")
    head = [run] if run else []
    batches = ", ".join(map(str, sizes))
    head += textwrap.wrap(f"{prob.name}: mini-batch gradients (batch {batches} of {prob.n_samples} samples) against "
                          "the full batch (black), from the same start", int(13 * width))
    fig.suptitle("\n".join(head), fontsize=10)

    def style(size: int | None, name: str) -> tuple[str, str]:
        if size is None:
            return "black", "s"
        i = sizes.index(size)
        return (optimizer_color(name) if len(sizes) == 1 else _BATCH_COLORS[i % len(_BATCH_COLORS)],
                _END_MARKERS[i % len(_END_MARKERS)])

    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        _contours(ax, prob, grid)
        runs = groups[name]
        lines = [f"{name}, lr {runs[None]['lr']:g}"]
        for size in [None, *[b for b in sizes if b in runs]]:
            res = runs[size]
            color, end_marker = style(size, name)
            path = res["trajectory"]
            path = path[np.isfinite(path).all(axis=1)]
            full = size is None
            ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.4 if full else 0.8, alpha=1.0 if full else 0.85,
                    zorder=3 if full else 2)
            ax.plot(*path[-1], end_marker, color=color, markeredgecolor="white", markersize=8, zorder=6)
            ended = ("diverged" if res["diverged_step"] else prob.basin(path[-1]) or
                     f"({path[-1][0]:.2f}, {path[-1][1]:.2f})")
            lines.append(f"{'full' if full else f'batch {size}'} -> {ended}")
        ax.plot(*prob.start, "o", color="black", markersize=7, zorder=5)
        ax.plot(*prob.minimum, "*", color="gold", markeredgecolor="black", markersize=14, zorder=5)
        for _, point in prob.marks:
            ax.plot(*point, "X", color="white", markeredgecolor="black", markersize=8, zorder=5)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel(prob.labels[0])
        ax.set_ylabel(prob.labels[1])
        ax.set_title("\n".join(lines), fontsize=9)
    handles = [Line2D([], [], color="black", marker="o", ls="", label=f"start ({prob.start[0]:g}, {prob.start[1]:g})"),
               Line2D([], [], color="gold", marker="*", markeredgecolor="black", markersize=12, ls="",
                      label=f"{'global ' if prob.minima else ''}minimum, f = {prob.min_value:.4g}")]
    if prob.marks:
        handles.append(Line2D([], [], color="white", marker="X", markeredgecolor="black", markersize=8, ls="",
                              label="other minima and saddle points"))
    handles.append(Line2D([], [], color="black", marker="s", label="full batch"))
    if len(sizes) > 1:
        handles += [Line2D([], [], color=_BATCH_COLORS[i % len(_BATCH_COLORS)], marker=_END_MARKERS[i % 6],
                           label=f"batch {b}") for i, b in enumerate(sizes)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6 if cols > 1 else 4), fontsize=8,
               frameon=False)
    return fig
