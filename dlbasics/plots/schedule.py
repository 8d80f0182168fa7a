"""The learning-rate schedule of a run, drawn before training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .style import integer_epochs, plain_text


@plain_text
def plot_schedule(seq: dict[str, list[float]], steps_per_epoch: int | Sequence[int] = 1, title: str = "") -> Figure:
    """lr (and, when it changes, momentum / beta1) against epoch; ``seq`` from ``schedules.trace``.
    ``steps_per_epoch``: the units per epoch, or each epoch's steps (a growing batch makes fewer later)."""
    lrs = np.asarray(seq["lr"], dtype=float)
    moms = np.asarray(seq.get("momentum", []), dtype=float)
    if isinstance(steps_per_epoch, int):
        x = np.arange(len(lrs)) / steps_per_epoch
    else:  # step k of epoch e (0-based) at e + k / steps of that epoch
        x = np.concatenate([e + np.arange(k) / k for e, k in enumerate(steps_per_epoch)] or [[]])[:len(lrs)]
    cycles = moms.size and np.ptp(moms) > 0
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    lines = ax.plot(x, lrs, color="C0", label="learning rate")
    ax.set_xlabel("epoch")
    integer_epochs(ax)
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    if cycles:
        twin = ax.twinx()
        lines += twin.plot(x, moms, color="C1", linestyle="--", label="momentum / beta1")
        twin.set_ylabel("momentum / beta1")
        ax.legend(handles=lines, loc="center right", fontsize=8)
    ax.set_title(title or "learning-rate schedule")
    return fig
