"""Sweep figures: the chosen metric against each swept key (interval bars), and a heat map of two keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import plain_text, series_style


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def log_scale(values: Sequence[Any]) -> bool:
    """Numbers, all positive, spanning at least a factor 10 (learning rates, weight decay): a log axis."""
    return _numeric(values) and len(values) > 1 and min(values) > 0 and max(values) / min(values) >= 10


@plain_text
def plot_metric_vs_key(points: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], key: str,
                       metric: str, title: str = "") -> Figure:
    """``metric`` (mean and 95 % interval over the replicates) against swept ``key``; one line per combination
    of the other swept keys. ``points``: the plan's values per point; ``rows``: the aggregated points."""
    fig = Figure(figsize=(6.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    xs_all = list(dict.fromkeys(json.dumps(p[key], sort_keys=True) for p in points))
    values = [json.loads(x) for x in xs_all]
    numeric = _numeric(values)
    lines: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for p, row in zip(points, rows):
        others = ", ".join(f"{k.split('.')[-1]}={_text(v)}" for k, v in p.items() if k != key)
        lines.setdefault(others, []).append((p[key], row))
    for i, (others, members) in enumerate(lines.items()):
        members = [(v, r) for v, r in members if r.get(metric) is not None]
        if numeric:
            members.sort(key=lambda vr: vr[0])
            xs = np.array([v for v, _ in members], dtype=float)
        else:
            xs = np.array([xs_all.index(json.dumps(v, sort_keys=True)) for v, _ in members], dtype=float)
        ys = np.array([r[metric] for _, r in members], dtype=float)
        low = np.array([r.get(f"{metric}_low") if r.get(f"{metric}_low") is not None else y
                        for (_, r), y in zip(members, ys)], dtype=float)
        high = np.array([r.get(f"{metric}_high") if r.get(f"{metric}_high") is not None else y
                         for (_, r), y in zip(members, ys)], dtype=float)
        look = series_style(i)
        ax.errorbar(xs, ys, yerr=[ys - low, high - ys], capsize=3, color=look["color"], marker=look["marker"],
                    linestyle=look["linestyle"], markersize=4, label=others or None)
    if log_scale(values):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(values)), [_text(v) for v in values], rotation=20)
    ax.set_xlabel(key)
    ax.set_ylabel(f"{metric} (mean and 95 % interval)")
    ax.set_title(f"{title}\n{metric} against {key}" if title else f"{metric} against {key}")
    ax.grid(True, alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize=8)
    return fig


@plain_text
def plot_heatmap(points: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], keys: Sequence[str],
                 metric: str, title: str = "") -> Figure:
    """Mean ``metric`` for every pair of values of two swept keys, annotated."""
    k1, k2 = keys
    v1 = list(dict.fromkeys(json.dumps(p[k1], sort_keys=True) for p in points))
    v2 = list(dict.fromkeys(json.dumps(p[k2], sort_keys=True) for p in points))
    grid = np.full((len(v1), len(v2)), np.nan)
    for p, row in zip(points, rows):
        if row.get(metric) is not None:
            grid[v1.index(json.dumps(p[k1], sort_keys=True)), v2.index(json.dumps(p[k2], sort_keys=True))] = row[metric]
    fig = Figure(figsize=(max(5.2, 1.6 + 1.1 * len(v2)), 1.6 + 0.6 * len(v1)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="viridis" if metric.endswith("acc") else "viridis_r", aspect="auto")
    ax.set_xticks(range(len(v2)), [_text(json.loads(v)) for v in v2], rotation=20)
    ax.set_yticks(range(len(v1)), [_text(json.loads(v)) for v in v1])
    ax.set_xlabel(k2)
    ax.set_ylabel(k1)
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.4f}", ha="center", va="center", fontsize=8,
                    color="white" if (value < middle) == metric.endswith("acc") else "black")
    fig.colorbar(image, ax=ax, label=f"mean {metric}")
    ax.set_title(f"{title}\nmean {metric}" if title else f"mean {metric}")
    return fig
