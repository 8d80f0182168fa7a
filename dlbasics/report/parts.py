"""Pieces every view uses: building sections that skip what is missing, a folder's files, intervals as text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .model import Block, Facts, Section, Table, Text

#: a part of a view: the blocks of one section from a folder and its summary, or None when there is nothing
Part = Callable[[Path, Mapping[str, Any]], "list[Block] | None"]
#: rows shown of a long table (the CSV next to the report has them all)
MAX_ROWS = 200


def build_sections(parts: Sequence[tuple[str, Part]], path: Path, summary: Mapping[str, Any]) -> list[Section]:
    """One section per part that has something to show. A part that fails (a file from an older version, a
    hand edit) becomes a one-line note in its section instead of stopping the report."""
    out = []
    for title, part in parts:
        try:
            blocks = part(path, summary)
        except Exception as err:  # a report shows what it can; the note says what went wrong
            blocks = [Text(f"this part could not be shown: {type(err).__name__}: {' '.join(str(err).split())}",
                           "note")]
        if blocks:
            out.append(Section(title, list(blocks)))
    return out


def files_part(path: Path, summary: Mapping[str, Any]) -> list[Block] | None:
    """The folder's entries and their sizes (a sub-folder with its total)."""
    from ..nn.footprint import format_bytes
    from ..runs.folder import folder_files

    entries = folder_files(path)
    if not entries:
        return None
    rows = [{"file": name, "size": format_bytes(size)} for name, size in entries]
    return [Facts([("folder", str(path.absolute()))]), Table(rows, ["file", "size"])]


def interval(row: Mapping[str, Any], key: str, sign: bool = False) -> str:
    """``0.9512 [0.9480, 0.9544]``: a mean and its 95 % interval from ``key``, ``key_low``, ``key_high``
    (``sign``: ``+0.0123 [-0.0040, +0.0286]``, a difference)."""
    mean = row.get(key)
    if not _number(mean):
        return ""
    low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
    f = "+.4f" if sign else ".4f"
    return f"{mean:{f}}" + (f" [{low:{f}}, {high:{f}}]" if _number(low) and _number(high) else "")


def limited(rows: list[dict[str, Any]], columns: list[str] | None, caption: str, source: str) -> Table:
    """A table of at most MAX_ROWS rows; the note says where the rest is."""
    note = f"the first {MAX_ROWS} of {len(rows)} rows; {source} has them all" if len(rows) > MAX_ROWS else ""
    return Table(rows[:MAX_ROWS], columns, caption, note)


def present(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    """The columns that have a value in some row."""
    return [c for c in columns if any(r.get(c) not in (None, "") for r in rows)]


def config_value(v: Any) -> str:
    """A config value as the YAML file and ``--set`` write it: ``0.001``, ``[128, 64]``, ``true``; a missing key
    as ``(absent)``."""
    import json

    from ..config.diff import ABSENT

    return v if isinstance(v, str) or v is ABSENT else json.dumps(v)


def relative(path: Any, folder: Path) -> Any:
    """``path`` relative to ``folder`` when it lies inside it (a member's folder in its group), else as it is."""
    if not isinstance(path, str) or not path:
        return path
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except (ValueError, OSError):
        return path


def statuses_fact(summary: Mapping[str, Any]) -> tuple[str, str] | None:
    statuses = summary.get("statuses")
    if isinstance(statuses, Mapping) and statuses:
        return ("members", ", ".join(f"{k}: {v}" for k, v in statuses.items()))
    return None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
