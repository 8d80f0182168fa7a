"""A report of one or several run folders: the page, its HTML, the file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from .html import render
from .model import Page
from .views import TITLES, folder_section, runs_side_by_side

NAME = "report.html"


def build_page(paths: Sequence[Path]) -> Page:
    """The report of ``paths`` (run folders of any kind; a folder given twice counts once). One folder: its
    sections; several: a section each, and first, when they are all single runs, the runs side by side.
    CorruptRunError (one line) for a damaged summary.json."""
    paths = list(dict.fromkeys(Path(p) for p in paths))
    if not paths:
        raise ValueError("no folder to report on")
    kinds, targets = zip(*(folder_section(p) for p in paths))
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    made = f"report made {now} by dlbasics {__version__}"
    if len(paths) == 1:
        return Page(f"{TITLES.get(kinds[0], kinds[0])}: {paths[0].name}",
                    f"{targets[0].status} · {paths[0]} · {made}", targets[0].children)
    side = [runs_side_by_side(paths)] if all(k == "run" for k in kinds) else []
    return Page(f"Report of {len(paths)} folders", made, [*side, *targets])


def report_html(paths: Sequence[Path]) -> str:
    """The report of ``paths`` as one self-contained HTML document."""
    return render(build_page(paths), footer="dlb report: made from the run folders alone; it fetches nothing.")


def write_report(paths: Sequence[Path], out: Path | None = None) -> Path:
    """Write the report of ``paths`` to ``out`` (default: ``report.html`` in the one folder; with several
    folders ``out`` is needed) atomically; return its path."""
    from ..runs.folder import atomic_write

    paths = list(dict.fromkeys(Path(p) for p in paths))
    if out is None:
        if len(paths) != 1:
            raise ValueError(f"a report of {len(paths)} folders needs a file to go to (-o report.html)")
        out = paths[0] / NAME
    text = report_html(paths)
    out = Path(out)
    atomic_write(out, text.encode("utf-8"))
    return out

