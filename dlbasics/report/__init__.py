"""Reports: every kind of run folder as tables and figures, rendered into one self-contained HTML file.

    from dlbasics.report import write_report
    write_report([Path("runs/20261130-101500-compare-tiny-3f9a2c")])   # -> that folder's report.html

    views.py        which view shows which kind (run, seeds, compare, cv, sweep, bagging)
    run_view.py, group_views.py, sweep_view.py   a folder -> sections (facts, tables, figures, text)
    model.py        Page, Section and the blocks;  html.py: a Page -> HTML;  svg.py: a Figure -> inline <svg>
    runs.py         finished runs side by side (also `dlb runs compare`)

Made from the folders alone (any old run: a missing file only leaves its section out), importing nothing heavy
until a report is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def write_report(paths: Sequence[Path], out: Path | None = None) -> Path:
    """Write the report of ``paths`` (see :func:`dlbasics.report.build.write_report`) and return its path."""
    from .build import write_report as write

    return write(paths, out)


def report_html(paths: Sequence[Path]) -> str:
    """The report of ``paths`` as one HTML document."""
    from .build import report_html as html

    return html(paths)
