"""What a report is made of, before any HTML: sections holding facts, tables, figures and text.

Views (:mod:`dlbasics.report.views`) build these from run folders; :mod:`dlbasics.report.html` renders them. Tables
are lists of dicts (one dict per row, columns in the order of their keys); figures are matplotlib ``Figure``s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Facts:
    """Label-value pairs (a run's status, its environment): a two-column list."""

    items: list[tuple[str, Any]]


@dataclass
class Table:
    """Rows of a table, one dict per row; ``columns`` picks and orders them (default: every key, first seen
    first). ``note`` says where the full table is when only part is shown."""

    rows: list[dict[str, Any]]
    columns: list[str] | None = None
    caption: str = ""
    note: str = ""

    def header(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        return list(dict.fromkeys(k for r in self.rows for k in r))


@dataclass
class Plot:
    """A matplotlib ``Figure`` and what it shows."""

    figure: Any
    caption: str = ""


@dataclass
class Text:
    """A paragraph (``kind="p"``), a note in grey (``"note"``) or preformatted text (``"pre"``, e.g. YAML);
    ``fold``: shown folded, under this summary line (unfolded for printing)."""

    text: str
    kind: str = "p"
    fold: str = ""


Block = Facts | Table | Plot | Text


@dataclass
class Section:
    """A titled part of the report; ``children`` are sub-sections (one per target of a report of several)."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    status: str = ""  # shown as a badge beside the title (completed, failed, ...)


@dataclass
class Page:
    """The whole report: a title, a line under it and its sections."""

    title: str
    subtitle: str
    sections: Sequence[Section]
