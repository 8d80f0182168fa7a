"""`dlb runs`: list, show, compare and delete run folders (a sub-app registered on the main app as "runs").

A run is named by its folder, its id (the folder name) or a unique prefix of the id in the runs dir, and a member
of a group by ``<group id>/<member>`` (:func:`dlbasics.runs.find.resolve_run`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console, Group
from rich.text import Text

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors
from .tables import Col, FirstFit, FitTable, Framed, KeyValues, Kind

runs_app = typer.Typer(no_args_is_help=True, help="List, inspect, compare and delete run folders.")

RunRefs = Annotated[list[str], typer.Argument(
    metavar="RUN...", show_default=False,
    help="Run folders, or run ids or unique prefixes of one in the runs dir (<group id>/<member> for a member).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking (needed when not on a terminal, "
                                                          "and with --quiet or --json).")]

_STYLE = {"completed": "green", "running": "cyan", "partial": "yellow", "interrupted": "yellow", "killed": "red",
          "diverged": "red",
          "failed": "red", "corrupt": "red"}


@runs_app.command("list", short_help="List run folders with status and headline metric.")
def runs_list(
    runs_dir: RunsDirOpt = None,
    status: Annotated[str | None, typer.Option(help="Only these statuses, comma-separated: completed, running, "
                                                    "partial, diverged, interrupted, killed, failed, corrupt.")]
    = None,
    kind: Annotated[str | None, typer.Option(help="Only these kinds, comma-separated: train, seeds, compare, cv, "
                                                  "sweep, bagging, ...")] = None,
    name: Annotated[str | None, typer.Option(help="Only runs whose name or id matches this glob (without a "
                                                  "wildcard: contains it).")] = None,
    since: Annotated[str | None, typer.Option(help="Only runs started since a date (2026-11-30) or in the last "
                                                   "3d, 12h, 30m, 2w.")] = None,
    sort: Annotated[str, typer.Option(help="started, duration, or a metric (test_acc, val_loss, ...); "
                                           "newest, longest or best last.")] = "started",
    last: Annotated[int, typer.Option(min=0, help="Show the newest N matching runs (0: all).")] = 20,
    json_: JsonOpt = False,
) -> None:
    """List run folders, newest last: kind, status, epochs, headline metric, duration.

    The headline metric: a run's test accuracy (test loss for regression), a comparison's best member, the mean
    over a cross-validation's folds, a sweep's best point, a bagging ensemble's. A folder whose summary.json is
    damaged is listed as "corrupt" and explained in one line on stderr.
    """
    from ..runs.find import filter_runs, list_runs
    from ..runs.folder import default_runs_dir

    root = runs_dir or default_runs_dir()
    runs = list_runs(root)
    statuses, kinds = _statuses(status, "--status"), _kinds(kind, runs)
    chosen = filter_runs(runs, statuses, kinds, name, _parse_since(since) if since else None)
    chosen = _sorted(chosen, sort)  # then the last N of that order: the newest, longest or best
    hidden = len(chosen) - last if last and len(chosen) > last else 0
    chosen = chosen[-last:] if last else chosen
    if json_:
        print(json.dumps([r.to_json() for r in chosen], indent=2))
    elif not chosen:
        print(f"no runs in {root}" if not runs else f"no runs in {root} match")
    else:
        Console().print(_runs_table(chosen, f"runs in {root}"))
    for r in chosen:
        if r.error:
            print(f"warning: {r.error}", file=sys.stderr)
    if hidden and not json_:
        print(f"({hidden} more before these; --last 0 lists them all)", file=sys.stderr)


def _sorted(runs: list[Any], key: str) -> list[Any]:
    """By start (newest last), duration (longest last) or a metric (best last: highest accuracy, lowest loss);
    runs without that value first."""
    if key == "started":
        return runs
    if key == "duration":
        return sorted(runs, key=lambda r: (r.duration_s is not None, r.duration_s or 0.0))
    if runs and not any(key in r.metrics for r in runs):
        known = sorted({m for r in runs for m in r.metrics})
        raise fail(f"--sort {key}: no listed run has that metric (started, duration, or one of "
                   f"{', '.join(known) or 'none'})", EXIT_USAGE)
    sign = 1.0 if "acc" in key else -1.0
    return sorted(runs, key=lambda r: (key in r.metrics, sign * r.metrics.get(key, 0.0)))


def _runs_table(runs: Sequence[Any], title: str) -> FitTable:
    """The runs as a table fitted to the width it is printed at: ids, statuses and the headline metric always
    whole; started, epochs, duration and kind left out in that order (the caption says so) when it is narrow."""
    def metric(r: Any) -> str:
        return r.detail if r.value is None else f"{r.metric} {r.value:.4f}"

    rows = [{"run": r.id, "status": Text(r.status, style=_STYLE.get(r.status, "")), "metric": metric(r),
             "kind": r.kind, "epochs": r.epochs, "duration": _duration(r.duration_s),
             "started": _when(r.started, full=True), "note": r.detail if r.value is not None else ""} for r in runs]
    columns = [Col("run", "run", "id"), Col("kind", "kind", "id", priority=4), Col("status", "status", "id"),
               Col("epochs", "epochs", priority=2), Col("metric", "metric", "id"),
               Col("duration", "duration", priority=3), Col("started", "started", "id", priority=0),
               Col("note", "note", "text", priority=1)]
    columns = [c for c in columns if any(row[c.key] not in (None, "") for row in rows)]  # type: ignore[index]
    return FitTable(columns, rows, title=title, style="plain", header_style="bold underline",
                    more="dlb runs show ID or --json has them")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def _when(when: dt.datetime | None, full: bool = False, seconds: bool = False) -> str:
    if when is None:
        return ""
    return when.astimezone().strftime(("%Y-%m-%d %H:%M" if full else "%m-%d %H:%M") + (":%S" if seconds else ""))


_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_age(text: str, option: str) -> dt.timedelta:
    found = _AGE.match(text)
    if not found:
        raise fail(f"{option} {text}: expected a time such as 30m, 12h, 3d or 2w", EXIT_USAGE)
    return dt.timedelta(seconds=float(found.group(1)) * _UNITS[found.group(2)])


def _parse_since(text: str) -> dt.datetime:
    """``3d`` (three days ago), or a date / date and time (local time unless it says otherwise)."""
    now = dt.datetime.now().astimezone()
    if _AGE.match(text):
        return now - _parse_age(text, "--since")
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"--since {text}: expected a date (2026-11-30), a date and time (2026-11-30T12:00) or a time "
                   "such as 3d or 12h", EXIT_USAGE) from None
    return when if when.tzinfo else when.astimezone()


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _statuses(text: str | None, option: str) -> list[str]:
    from ..config.fields import did_you_mean
    from ..runs.summary import STATUSES

    allowed = [*STATUSES, "killed", "corrupt"]
    for s in _split(text):
        if s not in allowed:
            raise fail(f"{option} {s!r} is not a status{did_you_mean(s, allowed)} (allowed: {', '.join(allowed)})",
                       EXIT_USAGE)
    return _split(text)


def _kinds(text: str | None, runs: Sequence[Any]) -> list[str]:
    from ..config.fields import did_you_mean
    from ..runs.find import KINDS

    allowed = list(dict.fromkeys([*KINDS, *(r.kind for r in runs if r.kind != "?")]))
    for k in _split(text):
        if k not in allowed:
            raise fail(f"--kind {k!r} is not a kind{did_you_mean(k, allowed)} (allowed: {', '.join(allowed)})",
                       EXIT_USAGE)
    return _split(text)


@runs_app.command("show", short_help="Show one run: status, config, metrics, files.")
def runs_show(
    run: Annotated[str, typer.Argument(metavar="RUN", show_default=False,
                                       help="A run folder, or a run id or unique prefix of one in the runs dir "
                                            "(<group id>/<member> for a member).")],
    json_: JsonOpt = False,
    runs_dir: RunsDirOpt = None,
) -> None:
    """Show a run: status, kind, dates, what differs from the defaults, best and final metrics, its files. With
    --json, its summary.json as it is."""
    from ..runs.find import resolve_run
    from ..runs.summary import read_summary

    with user_errors(run):
        path = resolve_run(run, runs_dir)
        summary = read_summary(path / "summary.json")
    if json_:
        print(json.dumps(summary, indent=2))
        return
    Console().print(_show_panel(path, summary))


def _show_panel(path: Path, s: dict[str, Any]) -> Framed:
    """A readable summary of one folder."""
    from ..config import ConfigError, yaml_io
    from ..config.diff import diff_from_defaults
    from ..nn.footprint import format_bytes
    from ..runs.find import read_info
    from ..runs.folder import folder_files

    info = read_info(path)
    grid = KeyValues([])

    def row(label: str, value: str | Text, style: str = "", kind: Kind = "text") -> None:
        grid.items.append((Text(label), value if isinstance(value, Text) else Text(value, style=style), kind))

    row("status", Text(s["status"], style=_STYLE.get(s["status"], "")) + Text(f"  {s['message']}"
                                                                             if s.get("message") else ""))
    row("kind", info.kind + (f"  (name {info.name})" if info.name else ""))
    row("folder", str(path), kind="id")
    for label, value in (("started", _when(info.started, True, True)), ("finished", _when(info.finished, True, True)),
                         ("duration", _duration(info.duration_s))):
        if value:
            row(label, value, kind="id")
    if info.epochs:
        row("epochs", info.epochs + (f", {s['steps']} steps" if s.get("steps") else ""))
    if info.value is not None:
        row("headline", f"{info.metric} {info.value:.4f}" + (f"  ({info.detail})" if info.detail else ""))
    elif info.detail:
        row("members", info.detail)
    if info.kind == "train":
        best, final = s.get("best") or {}, s.get("final") or {}
        if best:
            row(f"best (epoch {best.get('epoch', '?')})", _metrics(best))
        if final:
            row("final", _metrics(final))
    elif isinstance(s.get("statuses"), dict):
        row("members", ", ".join(f"{k}: {v}" for k, v in s["statuses"].items()))
    parts: list[Any] = [grid]
    if (path / "config.yaml").is_file():
        try:
            cfg = yaml_io.load_file(path / "config.yaml")
            diff = diff_from_defaults(cfg) if isinstance(cfg, dict) else None
        except (ConfigError, OSError, ValueError) as err:
            diff, why = None, " ".join(str(err).split())
        else:
            why = "config.yaml is not a mapping"
        parts.append(Text("\nwhat differs from the defaults", style="bold"))
        if diff is None:
            parts.append(Text(f"  (cannot tell: {why})"))
        elif not diff:
            parts.append(Text("  nothing: every value is a default"))
        for key, default, value in diff or []:
            parts.append(Text(f"  {key}: {_value(default)} -> {_value(value)}"))
    parts.append(Text("\nfiles", style="bold"))
    parts.append(FitTable([Col("file", "name", "id"), Col("size", "size")],
                          [{"name": f"  {name}", "size": format_bytes(size)} for name, size in folder_files(path)],
                          style="plain", show_header=False))
    return Framed(Group(*parts), path.name, whole=[str(path)])


def _metrics(values: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in values.items() if k != "epoch" and isinstance(v, (int, float)))


def _value(v: Any) -> str:
    from ..config.diff import ABSENT

    return v if isinstance(v, str) or v is ABSENT else json.dumps(v)


@runs_app.command("compare", short_help="Compare finished runs side by side; nothing trains.")
def runs_compare(
    runs: RunRefs,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", show_default=False,
        help="Folder to write the figures and comparison.csv to (default: a new runs/<stamp>-runs-compare-<hex6>/).")]
    = None,
    metric: Annotated[Literal["loss", "acc"] | None, typer.Option(help="Draw only this metric (default: loss and, "
                                                                       "for classification, accuracy).")] = None,
    time: Annotated[bool, typer.Option("--time", help="Also draw the curves against wall-clock time.")] = False,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Compare finished runs, training nothing: curves overlaid, the config keys that differ, the metrics.

    Writes <loss|accuracy>_vs_epoch.png (and _vs_time.png with --time) and comparison.csv (one row per run, with
    the differing config keys as config.<key> columns).
    """
    from ..report.runs import compare_runs
    from ..runs.find import resolve_run

    output = Output(quiet, json_)
    if len(runs) < 2:
        raise fail(f"give two or more runs to compare, got {len(runs)}", EXIT_USAGE)
    with user_errors():
        paths = [resolve_run(r, runs_dir) for r in runs]
        result = compare_runs(paths, out, runs_dir, (metric,) if metric else ("loss", "acc"),
                              ("epoch", "time") if time else ("epoch",))
    output.result({"path": str(result.path), "rows": result.rows, "differing": result.differing,
                   "figures": result.figures})
    if not output.human:
        return
    console = Console()
    if len(result.labels) != len(runs):
        print("(a run given twice is compared once)")
    for label, row in zip(result.labels, result.rows):
        if label != row["run_id"]:
            print(f"{label} = {row['path']}")
    if result.differing:
        console.print(_by_run("config keys that differ", result.labels, [
            (key, [Text(_value(v)) for v in values]) for key, values in result.differing.items()], "text"))
    else:
        print("the configs are identical")
    metrics = []
    for title, key in (("status", "status"), ("epochs", "epochs"), ("best epoch", "best_epoch"),
                       ("best val loss", "best_val_loss"), ("best val acc", "best_val_acc"),
                       ("final train loss", "final_train_loss"), ("final val loss", "final_val_loss"),
                       ("final val acc", "final_val_acc"), ("test loss", "test_loss"), ("test acc", "test_acc"),
                       ("duration", "duration_s")):
        if any(r.get(key) is not None for r in result.rows):
            metrics.append((title, [_cell(r.get(key), key) for r in result.rows]))
    console.print(_by_run("metrics (final: the last epoch; every column in comparison.csv)", result.labels, metrics,
                          "number"))
    print(f"figures: {', '.join(result.figures) or 'none (no metrics.csv rows)'}")
    print(f"comparison folder: {result.path}")


def _by_run(title: str, labels: Sequence[str], rows: Sequence[tuple[str, Sequence[Text]]], kind: Kind) -> FirstFit:
    """A row per key and a column per run, headed by the runs' labels; where they do not fit side by side, by
    "run 1", "run 2", ... under lines that say which run each is."""
    def table(headers: Sequence[str]) -> FitTable:
        cols = [Col("", "key", "id"), *(Col(h, f"run{i}", kind, justify="right") for i, h in enumerate(headers))]
        return FitTable(cols, [{"key": Text(key), **{f"run{i}": c for i, c in enumerate(cells)}}
                               for key, cells in rows], title=title)

    numbered = [f"run {i + 1}" for i in range(len(labels))]
    legend = [Text(f"{n}: {label}") for n, label in zip(numbered, labels)]
    return FirstFit(table(labels), Group(*legend, table(numbered)))


def _cell(v: Any, key: str) -> Text:
    if v is None or (isinstance(v, float) and v != v):
        return Text("")
    if key == "status":
        return Text(v, style=_STYLE.get(v, ""))
    if key == "duration_s":
        return Text(_duration(v))
    if isinstance(v, float):
        return Text(f"{v:.4f}")
    return Text(str(v))


@runs_app.command("rm", short_help="Delete run folders (asks first).")
def runs_rm(runs: RunRefs, yes: YesOpt = False, runs_dir: RunsDirOpt = None, quiet: QuietOpt = False,
            json_: JsonOpt = False) -> None:
    """Delete run folders (inside the runs dir only; asks first unless --yes). --quiet and --json ask nothing, so
    they need --yes; --json prints {"deleted": [folders], "bytes": freed}."""
    from ..runs.find import check_removable, resolve_run

    out = _deleting_output(quiet, json_, yes)
    with user_errors():
        paths = _outermost([check_removable(resolve_run(r, runs_dir), runs_dir) for r in runs])
    _confirm(paths, yes)
    _delete(paths, runs_dir, out)


@runs_app.command("prune", short_help="Delete the run folders with the given statuses.")
def runs_prune(
    status: Annotated[str, typer.Option(help="Delete the runs with these statuses, comma-separated, e.g. "
                                             "failed,interrupted (also: diverged, partial, corrupt, ...).",
                                        show_default=False)],
    kind: Annotated[str | None, typer.Option(help="... and these kinds only (train, seeds, compare, cv, sweep, "
                                                  "...).")] = None,
    older_than: Annotated[str | None, typer.Option(help="... started more than this long ago: 7d, 12h, 2w.")] = None,
    yes: YesOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted; delete nothing.")] = False,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Delete the top-level run folders with the given statuses (and kinds, and age); asks first unless --yes.
    --quiet and --json ask nothing, so they need --yes (not with --dry-run); --json prints {"deleted": [folders],
    "bytes": freed}, or with --dry-run {"would_delete": [folders], "bytes": size}."""
    from ..nn.footprint import format_bytes
    from ..runs.find import filter_runs, list_runs
    from ..runs.folder import default_runs_dir, folder_size

    out = _deleting_output(quiet, json_, yes or dry_run)
    root = runs_dir or default_runs_dir()
    runs = list_runs(root)
    statuses, kinds = _statuses(status, "--status"), _kinds(kind, runs)
    if not statuses:
        raise fail("--status is empty; give statuses such as failed,interrupted", EXIT_USAGE)
    before = dt.datetime.now().astimezone() - _parse_age(older_than, "--older-than") if older_than else None
    chosen = filter_runs(runs, statuses, kinds, before=before)
    if not chosen:
        out.show(f"nothing to prune in {root}")
        out.result({"would_delete" if dry_run else "deleted": [], "bytes": 0})
        return
    if dry_run:
        sizes = [folder_size(r.path) for r in chosen]
        for r, size in zip(chosen, sizes):
            out.show(f"would delete {r.id} ({r.kind}, {r.status}, {format_bytes(size)})")
        out.show(f"would free {format_bytes(sum(sizes))} in {len(chosen)} folder{'s' if len(chosen) != 1 else ''}")
        out.result({"would_delete": [str(r.path) for r in chosen], "bytes": sum(sizes)})
        return
    paths = [r.path for r in chosen]
    _confirm(paths, yes)
    _delete(paths, root, out)


def _deleting_output(quiet: bool, json_: bool, yes: bool) -> Output:
    """The Output of rm and prune: with --quiet or --json nothing may be asked, so they need --yes."""
    out = Output(quiet, json_)
    if not (out.human or yes):
        raise fail(f"{'--quiet' if quiet else '--json'} deletes without asking: add --yes", EXIT_USAGE)
    return out


def _outermost(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats and without those inside another one (deleting the group deletes its members)."""
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if not any(q in p.parents for q in unique)]


def _confirm(paths: Sequence[Path], yes: bool) -> None:
    """Ask "delete N folders (...)? [y/N]" on a terminal; refuse without --yes anywhere else."""
    if yes:
        return
    if not _interactive():
        raise fail(f"not deleting {len(paths)} folder(s) without --yes: stdin is not a terminal to ask on",
                   EXIT_USAGE)
    names = ", ".join(p.name for p in paths[:10]) + (f", ... ({len(paths)} in all)" if len(paths) > 10 else "")
    if not typer.confirm(f"delete {len(paths)} folder{'s' if len(paths) != 1 else ''} ({names})?", default=False):
        print("nothing deleted")
        raise typer.Exit(0)


def _interactive() -> bool:
    """Whether there is a person to ask: stdin is a terminal."""
    return sys.stdin.isatty()


def _delete(paths: Sequence[Path], runs_dir: Path | None, out: Output) -> None:
    from ..nn.footprint import format_bytes
    from ..runs.find import remove_run

    freed = 0
    with user_errors():
        for p in paths:
            size = remove_run(p, runs_dir)
            freed += size
            out.show(f"deleted {p.name} ({format_bytes(size)})")
    out.show(f"freed {format_bytes(freed)} in {len(paths)} folder{'s' if len(paths) != 1 else ''}")
    out.result({"deleted": [str(p) for p in paths], "bytes": freed})
