"""`dlb report`: run folders as one static HTML page that opens offline (registered on the main app)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import EXIT_INTERRUPTED, EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors, wrap


def report(
    targets: Annotated[list[str], typer.Argument(
        metavar="TARGET...", show_default=False,
        help="Run, seeds, compare, cv, sweep or bagging folders: a path, a run id or a unique prefix of one "
             "(<group id>/<member> for a member).")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", show_default=False,
        help="The HTML file to write, or a folder to write report.html into (default: report.html in the one "
             "TARGET folder; needed with several).")] = None,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Write one self-contained HTML report of run folders: opens offline, fetches nothing, prints well.

    A run: status, metrics, learning curves, evaluation, config and what differs from the defaults, environment,
    files. A comparison or seeds: the table with intervals and paired differences, curves with 95 % bands, config
    differences. A cross-validation: folds, mean and interval, fold chart. A sweep: points best first, the best
    against the runner-up, metric against each key, heat map, spec and commands. Several TARGETs: a section each
    (and, when all are runs, their curves overlaid and their config differences).
    """
    from ..nn.footprint import format_bytes
    from ..report.build import NAME, write_report
    from ..runs.find import resolve_run

    output = Output(quiet, json_)
    if len(targets) > 1 and out is None:
        raise fail(f"a report of {len(targets)} folders needs a file to go to: add -o report.html", EXIT_USAGE)
    with user_errors():
        paths = [resolve_run(t, runs_dir) for t in targets]
        for path in paths:
            if not path.is_dir():
                raise fail(f"{path}: not a run folder (a file)", EXIT_USAGE)
        if out is not None and out.is_dir():
            out = out / NAME
        written = write_report(paths, out)
    size = written.stat().st_size
    output.show(f"report: {written} ({format_bytes(size)})")
    output.result({"path": str(written), "bytes": size})


def group_report(path: Path, quiet: bool = False) -> Path | None:
    """Write report.html into a finished group folder (compare, cv, sweep) and print ``report: <path>``. The
    results are already on disk, so a report that cannot be written is a warning, never the command's failure."""
    from ..report.build import write_report

    try:
        written = write_report([path])
    except KeyboardInterrupt:
        raise fail(f"interrupted while writing the report; the results are in {path}", EXIT_INTERRUPTED) from None
    except Exception as err:  # the report is a view of files already written: warn and go on
        print(f"warning: no report written: {type(err).__name__}: {' '.join(str(err).split())}", file=sys.stderr)
        return None
    if not quiet:
        print(wrap(f"report: {written}"))
    return written
