"""The cross-validation diagram: a row per fold, the training set's samples along x, coloured by their role."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

#: one colour per role of :data:`dlbasics.experiments.fold_map.ROLES`
ROLE_COLORS = ("#eeeeee", "#1f77b4", "#ff9f40", "#d62728", "#333333")


def plot_fold_map(fmap: Any, title: str = "") -> Figure:
    """Fold i is row i; each sample index of the training set is a column coloured train / validation / held out /
    gap / unused; beside each row, how many samples have each role. ``fmap``: a
    :class:`~dlbasics.experiments.fold_map.FoldMap`."""
    from ..experiments.fold_map import ROLES

    k, n = fmap.roles.shape
    fig = Figure(figsize=(11.0, 1.4 + 0.48 * k + (0.3 if fmap.note else 0)), layout="constrained")
    ax = fig.add_subplot()
    cmap = ListedColormap(ROLE_COLORS)
    ax.imshow(fmap.roles, aspect="auto", interpolation="nearest", cmap=cmap,
              norm=BoundaryNorm(np.arange(len(ROLES) + 1) - 0.5, len(ROLES)),
              extent=(-0.5, n - 0.5, k - 0.5, -0.5))
    ax.set_yticks(range(k), [f"fold {i}" for i in range(k)])
    ax.set_ylim(k - 0.5, -0.5)
    ax.set_xlim(-0.5, n - 0.5)
    for y in np.arange(k - 1) + 0.5:
        ax.axhline(y, color="white", lw=2)
    counts = fmap.counts()
    for i, c in enumerate(counts):
        parts = [f"{c[r.replace(' ', '_')]:,} {short}" for r, short in
                 (("train", "train"), ("validation", "val"), ("held out", "held out"), ("gap", "gap"))
                 if c[r.replace(" ", "_")]]
        ax.annotate(" · ".join(parts), (1.005, i), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    time = "time order" if fmap.ordered else "shuffled folds: held-out samples are scattered" \
        if fmap.strategy in ("kfold", "stratified", "holdout") else ""
    ax.set_xlabel("sample index in the training set" + (f" ({time})" if time else ""))
    present = sorted(set(np.unique(fmap.roles).tolist()))
    handles = [Patch(facecolor=ROLE_COLORS[code], edgecolor="#888888", label=ROLES[code]) for code in present]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    head = title or f"{fmap.name}: {fmap.strategy} cross-validation, {k} fold{'s' if k > 1 else ''}"
    if fmap.nested:
        head += " (nested: the outer folds)"
    if fmap.gap and fmap.strategy in ("timeseries", "rolling"):
        head += f", gap {fmap.gap}"
    ax.set_title(head + ("\n" + fmap.note if fmap.note else ""), fontsize=10)
    return fig
