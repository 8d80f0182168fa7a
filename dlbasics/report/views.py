"""Which view shows a folder: one per kind of run folder, each a list of sections (tables, figures, facts).

    kind        summary.json ``kind``        view
    run         train (or none: older runs)  run_view.run_sections
    seeds       compare, folder compare-seeds-*   group_views.compare_sections
    compare     compare                      group_views.compare_sections
    cv          cv                           group_views.cv_sections
    sweep       sweep                        sweep_view.sweep_sections
    bagging     bagging                      group_views.bagging_sections
    (others)    init-study, playground, ...  their CSV tables and files
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import read
from .group_views import bagging_sections, compare_sections, cv_sections
from .model import Block, Facts, Plot, Section, Table
from .parts import build_sections, config_value, files_part, limited
from .run_view import run_sections
from .sweep_view import sweep_sections

View = Callable[[Path, Mapping[str, Any]], "list[Section]"]
TITLES = {"run": "Run", "seeds": "Seeds", "compare": "Comparison", "cv": "Cross-validation", "sweep": "Sweep",
          "bagging": "Bagging"}


def kind_of(path: Path, summary: Mapping[str, Any]) -> str:
    """run, seeds, compare, cv, sweep, bagging, or the summary's own kind."""
    kind = str(summary.get("kind") or "train")
    if kind == "train":
        return "run"
    if kind == "compare" and read.short_id(path).startswith("compare-seeds-"):
        return "seeds"
    return kind


def other_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    def overview(p: Path, s: Mapping[str, Any]) -> list[Block]:
        return [Facts([(k, v) for k, v in s.items() if isinstance(v, (str, int, float)) and k != "pid"])]

    def tables(p: Path, s: Mapping[str, Any]) -> list[Block] | None:
        found = [(f.name, rows) for f in sorted(p.glob("*.csv")) if (rows := read.csv_rows(f))]
        return [limited(rows, None, name, name) for name, rows in found] or None

    return build_sections([("Overview", overview), ("Tables", tables), ("Files", files_part)], path, summary)


VIEWS: dict[str, View] = {"run": run_sections, "seeds": compare_sections, "compare": compare_sections,
                          "cv": cv_sections, "sweep": sweep_sections, "bagging": bagging_sections}


def folder_section(path: Path) -> tuple[str, Section]:
    """One folder's kind and report, a section whose parts are its sub-sections; CorruptRunError for a damaged
    summary.json."""
    from ..runs.summary import read_summary

    summary = read_summary(path / "summary.json")
    kind = kind_of(path, summary)
    view = VIEWS.get(kind, other_sections)
    return kind, Section(f"{TITLES.get(kind, kind)} {path.name}", children=view(path, summary),
                         status=summary["status"])


def runs_side_by_side(paths: Sequence[Path]) -> Section:
    """Several runs together: their curves overlaid, their metrics, the config keys that differ (what
    `dlb runs compare` shows in the terminal)."""
    from ..plots.compare import plot_overlay
    from .runs import collect_runs, overlay_curves

    table = collect_runs(paths)

    def figures(p: Path, s: Mapping[str, Any]) -> list[Block] | None:
        shown = [(m, overlay_curves(table.curves, m)) for m in ("loss", "acc")]
        return [Plot(plot_overlay(c, m), f"{'accuracy' if m == 'acc' else 'loss'}: one colour per run")
                for m, c in shown if c] or None

    def metrics(p: Path, s: Mapping[str, Any]) -> list[Block]:
        columns = ["label", "status", "epochs", "best_epoch", "best_val_loss", "best_val_acc", "final_train_loss",
                   "final_val_loss", "final_val_acc", "test_loss", "test_acc", "duration_s"]
        return [Table(table.rows, [c for c in columns if any(r.get(c) is not None for r in table.rows)],
                      caption="best and final metrics")]

    def configs(p: Path, s: Mapping[str, Any]) -> list[Block]:
        rows = [{"key": k, **{label: config_value(x) for label, x in zip(table.labels, v)}}
                for k, v in table.differing.items()]
        return [Table(rows, ["key", *table.labels], caption="config keys that differ")] if rows else \
            [Facts([("config", "the configs are identical")])]

    parts = [("Learning curves", figures), ("Metrics", metrics), ("Config differences", configs)]
    labels = ", ".join(table.labels)
    return Section(f"{len(table.paths)} runs side by side: {labels}", children=build_sections(parts, Path("."), {}))
