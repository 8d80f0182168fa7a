"""One look for every figure: a distinct colour, marker and line style per series, whole-number epoch ticks.

Ten colours repeat after the tenth series; markers and dash patterns make series 7 and later, and lines that
lie on top of each other, still tell apart (and survive a greyscale print).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib
from matplotlib.ticker import MaxNLocator

F = TypeVar("F", bound=Callable[..., Any])

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
LINESTYLES = ("-", "--", "-.", ":")


def series_style(i: int, n_points: int = 0) -> dict[str, Any]:
    """Keyword arguments of ``ax.plot`` for the ``i``-th series: colour C0..C9, then a new dash pattern; a marker
    of its own (a marker every ~15th point of long series, so lines stay readable)."""
    style: dict[str, Any] = {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)], "markersize": 3.5,
                             "linestyle": LINESTYLES[(i // 10) % len(LINESTYLES)]}
    if n_points > 30:
        style["markevery"] = max(1, n_points // 15)
    return style


def integer_epochs(ax: Any, x: str = "epoch") -> None:
    """Ticks at whole epochs (never 2.5) when ``x`` counts epochs."""
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plain_text(plot: F) -> F:
    """Draw a figure whose text comes from users (run and member names, config values, class names) as plain
    text: matplotlib reads ``$...$`` as math and fails on an unbalanced ``$`` (a member named ``cost $x^$``);
    with ``text.parse_math`` off while the figure is built, every label is shown as written."""

    @functools.wraps(plot)
    def draw(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return draw  # type: ignore[return-value]
