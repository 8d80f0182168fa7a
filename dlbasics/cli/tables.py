"""Tables that fit the width they are printed at: no number and no id is ever cut.

Rich fits a table that is too wide by shrinking every column, which cuts numbers to "0.9…" and run ids to "2026…"
(at 80 columns, the width of every pipe and CI log). A :class:`FitTable` is declared as columns (:class:`Col`: header,
key, kind, format, priority) and rows, and is laid out only when it is printed, for that width, in this order:

1. every column, in the table's own box, else compact (no border, two spaces between columns): first with every
   cell and header on one line, then with text wrapped, then (compact) with headers broken at their spaces too;
2. compact, without the columns of lowest priority, which the caption names (with where to find them);
3. one block of "header  value" lines per row (:class:`KeyValues`), when even the columns never left out do not fit.

Numbers and ids never wrap; text wraps between words, never inside one; headers may break at their spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box as boxes
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

Kind = Literal["text", "number", "id"]

#: no border; a rule under the header and between sections
COMPACT = boxes.Box("    \n    \n ── \n    \n ── \n ── \n    \n    \n")


def num(spec: str) -> Callable[[Any], str]:
    """A formatter: ``num(".4f")(0.91234) == "0.9123"``."""
    return lambda value: format(value, spec)


def pm(mean: Any, low: Any = None, high: Any = None, sign: bool = False) -> str:
    """``0.9512 ± 0.0032``: a mean and the half-width of its (symmetric) interval; the mean alone without one."""
    if mean is None:
        return ""
    text = f"{mean:+.4f}" if sign else f"{mean:.4f}"
    return text + (f" ± {(high - low) / 2:.4f}" if low is not None and high is not None else "")


def status_text(status: str) -> Text:
    """A status, red unless it is "completed"."""
    return Text(status, style="" if status == "completed" else "red")


@dataclass(frozen=True)
class Col:
    """A column: its header; the row's ``key`` (or a function of the row); its ``kind``: "number" (right-aligned)
    and "id" are never cut or wrapped, "text" wraps between words; ``fmt`` turns a value into its cell (default
    ``str``; None and NaN are empty cells); ``priority``: None for a column that is always shown, else the columns
    are left out lowest first when the table does not fit (give one only to columns whose values are also in the
    file the table's ``more`` names)."""

    header: str
    key: str | Callable[[Mapping[str, Any]], Any]
    kind: Kind = "number"
    fmt: Callable[[Any], str | Text] | None = None
    priority: int | None = None
    justify: Literal["left", "center", "right"] | None = None

    def cell(self, row: Mapping[str, Any]) -> Text:
        value = self.key(row) if callable(self.key) else row.get(self.key)
        if isinstance(value, Text):
            return value
        if value is None or (isinstance(value, float) and value != value):
            return Text("")
        out = self.fmt(value) if self.fmt is not None else str(value)
        return out if isinstance(out, Text) else Text(out)


def _words(text: str) -> list[str]:
    return text.split() or [""]


def _longest(texts: Iterable[str]) -> int:
    return max((cell_len(t) for t in texts), default=0)


@dataclass(frozen=True)
class _Style:
    box: boxes.Box | None
    show_edge: bool
    padding: tuple[int, int, int, int]
    pad_edge: bool

    def extra(self, n: int) -> int:
        """Width the table adds to its columns' contents: padding and borders (as rich counts them)."""
        _, right, _, left = self.padding
        pads = [left + right] * n
        if not self.pad_edge and n:
            pads[0] -= left
            pads[-1] -= right
        return sum(pads) + ((2 if self.show_edge else 0) + n - 1 if self.box else 0)


_BOXED = _Style(boxes.HEAVY_HEAD, True, (0, 1, 0, 1), True)
_COMPACT = _Style(COMPACT, False, (0, 1, 0, 0), False)
_PLAIN = _Style(None, False, (0, 1, 0, 1), False)


class FitTable:
    """A table laid out for the width it is printed at (see the module's docstring).

    ``rows``: mappings, and None for a section line (before a total or mean row). ``caption``: always shown;
    ``more``: where the columns left out at a narrow width are (e.g. "all in comparison.csv").
    ``style``: "boxed" (rich's default table, compact when that is too wide) or "plain" (no border at any width).
    """

    def __init__(self, columns: Sequence[Col], rows: Iterable[Mapping[str, Any] | None], *, title: str = "",
                 caption: str = "", more: str = "", style: Literal["boxed", "plain"] = "boxed",
                 header_style: str | None = None, show_header: bool = True):
        self.columns = list(columns)
        self.rows = list(rows)
        self.title, self.caption, self.more, self.header_style = title, caption, more, header_style
        self.show_header = show_header
        self.styles = [_BOXED, _COMPACT] if style == "boxed" else [_PLAIN]
        self.cells = [None if r is None else [c.cell(r) for c in self.columns] for r in self.rows]
        self.min_widths, self.natural_widths = [], []
        for i, col in enumerate(self.columns):
            texts = [row[i].plain for row in self.cells if row is not None]
            lines = [line for t in texts for line in t.splitlines() or [""]]
            words = [w for t in texts for w in _words(t)] if col.kind == "text" else lines
            header = col.header if show_header else ""
            self.min_widths.append(max(1, _longest(_words(header)), _longest(words)))
            self.natural_widths.append(max(1, cell_len(header), _longest(lines)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.layout(options.max_width))

    def _need(self, shown: Sequence[int], style: _Style, headers: bool = False, text: bool = False) -> int:
        """The width of the ``shown`` columns at their narrowest (``headers``: with the headers of numbers and ids
        on one line; ``text``: text columns too)."""
        return sum(self.natural_widths[i] if (text if self.columns[i].kind == "text" else headers)
                   else self.min_widths[i] for i in shown) + style.extra(len(shown))

    def fits(self, width: int) -> bool:
        """Whether every column is shown at ``width``."""
        plan = self.plan(width)
        return plan is not None and len(plan[0]) == len(self.columns)

    def plan(self, width: int) -> tuple[list[int], _Style, bool] | None:
        """The columns shown at ``width``, the style and whether the headers of numbers and ids are kept on one line;
        None when the rows are printed as blocks of lines."""
        shown = list(range(len(self.columns)))
        for text in (True, False):
            for style in self.styles:
                if self._need(shown, style, headers=True, text=text) <= width:
                    return shown, style, True
        compact = self.styles[-1]
        droppable = sorted((i for i, c in enumerate(self.columns) if c.priority is not None),
                           key=lambda i: (self.columns[i].priority, -i))
        while self._need(shown, compact) > width:
            if not droppable:
                return None
            shown.remove(droppable.pop(0))
        return shown, compact, False

    def layout(self, width: int) -> RenderableType:
        """The table, or the rows as blocks of lines, for ``width`` columns."""
        width = max(width, 1)
        plan = self.plan(width)
        if plan is None:
            return self._blocks(width)
        shown, style, headers = plan
        widths = self._widths(shown, width - style.extra(len(shown)), headers)
        return self._table(shown, style, widths, width,
                           [c.header for i, c in enumerate(self.columns) if i not in shown])

    def _widths(self, shown: Sequence[int], room: int, headers: bool) -> list[int]:
        """Each shown column's width: its minimum (with ``headers``, numbers and ids as wide as their headers); the
        rest of ``room`` to text columns (the one that wants most first), then to the headers of numbers and ids
        (the one that wants least first)."""
        widths = [self.natural_widths[i] if headers and self.columns[i].kind != "text" else self.min_widths[i]
                  for i in shown]
        spare = room - sum(widths)
        text = [k for k, i in enumerate(shown) if self.columns[i].kind == "text"]
        while spare > 0:
            wanting = [k for k in text if widths[k] < self.natural_widths[shown[k]]]
            if not wanting:
                break
            k = max(wanting, key=lambda k: self.natural_widths[shown[k]] - widths[k])
            widths[k] += 1
            spare -= 1
        for want, k in sorted((self.natural_widths[i] - widths[k], k) for k, i in enumerate(shown)
                              if self.columns[i].kind != "text"):
            grant = max(0, min(want, spare))
            widths[k] += grant
            spare -= grant
        return widths

    def _caption(self, left_out: Sequence[str], width: int) -> str:
        parts = [self.caption] if self.caption else []
        if left_out:
            where = f"; {self.more}" if self.more else ""
            parts.append(f"(left out to fit {width} columns: {', '.join(h or '?' for h in left_out)}{where})")
        return "\n".join(parts)

    def _table(self, shown: Sequence[int], style: _Style, widths: Sequence[int], width: int,
               left_out: Sequence[str]) -> Table:
        caption = self._caption(left_out, width)
        longest_word = _longest(w for t in (self.title, caption) for w in _words(t))
        table = Table(title=Text(self.title) if self.title else None, caption=Text(caption) if caption else None,
                      box=style.box, show_edge=style.show_edge,
                      padding=style.padding, pad_edge=style.pad_edge, min_width=min(width, longest_word),
                      show_header=self.show_header,
                      header_style=self.header_style if self.header_style is not None else "table.header")
        for k, i in enumerate(shown):
            col = self.columns[i]
            justify = col.justify or ("right" if col.kind == "number" else "left")
            table.add_column(Text(col.header, no_wrap=False, overflow="fold"), justify=justify, width=widths[k],
                             no_wrap=col.kind != "text", overflow="fold")
        for row in self.cells:
            if row is None:
                if table.rows:
                    table.add_section()
            else:
                table.add_row(*(row[i] for i in shown))
        return table

    def _blocks(self, width: int) -> Group:
        parts: list[RenderableType] = []
        if self.title:
            parts.append(Text(self.title, style="table.title"))
        for row in self.cells:
            if row is None:
                continue
            parts.append(Text(""))
            parts.append(KeyValues([(c.header, cell, c.kind) for c, cell in zip(self.columns, row) if cell.plain]))
        caption = self._caption([], width)
        if caption:
            parts += [Text(""), Text(caption, style="table.caption")]
        return Group(*parts)


class KeyValues:
    """Lines of "label  value", the values aligned; text wraps between words. A number or an id that does not fit
    beside its label, or text with a word that does not, goes on the next line, indented by two if it fits so (a
    word is folded only when it is wider than the console); a value without a label is a line of its own."""

    def __init__(self, items: Sequence[tuple[str | Text, str | Text, Kind]], label_style: str = "bold"):
        self.items = [(Text(label) if isinstance(label, str) else label, Text(value) if isinstance(value, str)
                       else value, kind) for label, value, kind in items]
        self.label_style = label_style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        label = _longest(label.plain for label, _, _ in self.items)
        value = _longest(line for _, v, _ in self.items for line in v.plain.splitlines() or [""])
        return Measurement(min(label + 2 + value, 20), label + 2 + value).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        label_width = min(_longest(label.plain for label, _, _ in self.items), max(width // 2, 1))
        room = width - label_width - 2
        for label, value, kind in self.items:
            if not label.plain:  # a value without a label heads the lines that follow
                yield from value.wrap(console, width, overflow="fold")
                continue
            styled = Text.assemble(label, style=self.label_style)
            if label.cell_len > label_width:  # too long to share its line: on a line of its own
                yield styled
                head = Text(" " * label_width)
            else:
                head = styled.copy()
                head.pad_right(label_width - label.cell_len)
            widest = _longest(_words(value.plain)) if kind == "text" else value.cell_len
            if widest <= room and (kind == "text" or "\n" not in value.plain):
                lines = list(value.wrap(console, room, overflow="fold")) if kind == "text" else [value]
                for n, line in enumerate(lines or [Text("")]):
                    line.rstrip()
                    yield Text.assemble(head if n == 0 else " " * label_width, "  ", line)
            else:  # too wide (or a word of it) to share the label's line: whole on the next one, indented if it fits
                if label.cell_len <= label_width:
                    yield styled
                indent = "  " if widest <= width - 2 else ""
                for line in value.wrap(console, max(width - len(indent), 1), overflow="fold"):
                    yield Text.assemble(indent, line)


class FirstFit:
    """The first of ``candidates`` that fits the width it is printed at without leaving a column out (a candidate
    without a ``fits`` method always does), else the last."""

    def __init__(self, *candidates: Any):
        self.candidates = candidates

    def _pick(self, width: int) -> Any:
        for c in self.candidates[:-1]:
            if not hasattr(c, "fits") or c.fits(width):
                return c
        return self.candidates[-1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._pick(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._pick(options.max_width))


class Framed:
    """``content`` in a panel titled ``title``; where the title or a line that may not be cut (``whole``, such as
    a path) would not fit inside the border, the title on a line and the content under it, without the border."""

    def __init__(self, content: RenderableType, title: str, whole: Sequence[str] = ()):
        self.content, self.title, self.whole = content, title, list(whole)

    def _pick(self, width: int) -> RenderableType:
        if max(cell_len(self.title) + 2, *map(cell_len, self.whole)) <= width - 4:  # borders and padding
            return Panel(self.content, title=Text(self.title), title_align="left")
        return Group(Text(self.title, style="bold"), self.content)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._pick(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._pick(options.max_width))
