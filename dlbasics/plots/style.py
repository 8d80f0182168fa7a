"""One look for every figure: a distinct colour, marker and line style per series, whole-number epoch ticks.

Ten colours repeat after the tenth series; markers and dash patterns make series 7 and later, and lines that
lie on top of each other, still tell apart (and survive a greyscale print).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

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
    """Draw a figure whose text comes from users (run and member names, config values, class names) as written:
    matplotlib reads ``$...$`` as math and fails on an unbalanced ``$`` (a member named ``cost $x^$``). After the
    figure is built, every title, axis label, legend entry, annotation and fixed tick label holding a ``$`` is
    set to plain text; the axes' own number formatters (log-axis ticks drawn as math) are left alone."""

    @functools.wraps(plot)
    def draw(*args: Any, **kwargs: Any) -> Any:
        fig = plot(*args, **kwargs)
        literal_dollars(fig)
        return fig

    return draw  # type: ignore[return-value]


def literal_dollars(fig: Any) -> None:
    """Show every ``$`` in the figure's user-given text as a dollar sign (see :func:`plain_text`)."""
    from matplotlib.ticker import FixedFormatter

    texts = [fig._suptitle, fig._supxlabel, fig._supylabel, *fig.texts]
    for legend in fig.legends:
        texts += legend.get_texts()
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, FixedFormatter):  # tick labels given as strings: class names, swept values
                formatter.seq = [str(t).replace("$", r"\$") for t in formatter.seq]
    for text in texts:
        if text is not None and "$" in text.get_text():
            text.set_parse_math(False)
