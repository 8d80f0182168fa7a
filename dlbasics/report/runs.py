"""Finished runs side by side, training nothing: their metrics, the config keys that differ, their curves.

:func:`collect_runs` reads (the report of several runs shows it); :func:`compare_runs` also writes
(`dlb runs compare`: comparison.csv and the overlay PNGs into a folder of its own).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config.diff import ABSENT, config_diff
from ..runs.find import RunNotFound
from ..runs.summary import CorruptRunError, read_summary
from .read import short_id


@dataclass
class RunsTable:
    """Runs read side by side: one row per run (status, best and final metrics, duration, the differing config
    keys as ``config.<key>``), their labels, the config keys that differ (each run's value), their metrics.csv."""

    paths: list[Path]
    rows: list[dict[str, Any]]
    labels: list[str]
    differing: dict[str, list[Any]]
    curves: dict[str, dict[str, np.ndarray]]


def collect_runs(paths: Sequence[Path]) -> RunsTable:
    """Read finished single runs (a run given twice counts once); RunNotFound for a group folder,
    CorruptRunError for a damaged summary.json or config.yaml."""
    from ..config import yaml_io

    paths = list(dict.fromkeys(Path(p).absolute() for p in paths))
    summaries, configs, frames = [], [], []
    for p in paths:
        s = read_summary(p / "summary.json")
        if (s.get("kind") or "train") != "train":
            raise RunNotFound(f"{p} is a {s['kind']} folder, not a run: compare its members (<group id>/<member>)")
        cfg = yaml_io.load_file(p / "config.yaml") if (p / "config.yaml").is_file() else {}
        if not isinstance(cfg, Mapping):
            raise CorruptRunError(f"{p / 'config.yaml'}: expected a mapping of sections, got {type(cfg).__name__}")
        summaries.append(s)
        configs.append(cfg)
        frames.append(read_metrics(p / "metrics.csv"))
    labels = run_labels(paths, [str(s.get("name") or "") for s in summaries])
    differing = config_diff(configs)
    rows = []
    for label, p, s in zip(labels, paths, summaries):
        best, final, timing = s.get("best") or {}, s.get("final") or {}, s.get("timing") or {}
        row = {"run_id": p.name, "label": label, "name": s.get("name"), "status": s["status"],
               "epochs": s.get("epochs_completed"), "best_epoch": best.get("epoch"),
               **{f"best_{k}": best.get(k) for k in ("val_loss", "val_acc")},
               **{f"final_{k}": final.get(k) for k in ("train_loss", "train_acc", "val_loss", "val_acc")},
               "test_loss": final.get("test_loss"), "test_acc": final.get("test_acc"),
               "duration_s": s.get("duration_s"), "median_epoch_s": timing.get("median_epoch_s"), "path": str(p)}
        rows.append(row)
    for key, values in differing.items():
        for row, value in zip(rows, values):
            row[f"config.{key}"] = None if value is ABSENT else value
    return RunsTable(paths, rows, labels, differing, {label: df for label, df in zip(labels, frames) if df})


@dataclass
class RunsComparison:
    """``dlb runs compare``: the folder written, one row per run, their labels, the config keys that differ
    (each run's value) and the figures."""

    path: Path
    rows: list[dict[str, Any]]
    labels: list[str]
    differing: dict[str, list[Any]]
    figures: list[str]


def compare_runs(paths: Sequence[Path], out: Path | None = None, runs_dir: Path | None = None,
                 metrics: Sequence[str] = ("loss", "acc"), against: Sequence[str] = ("epoch",)) -> RunsComparison:
    """Overlay finished runs' learning curves and tabulate them, training nothing.

    Writes comparison.csv (one row per run: status, best and final metrics, duration, and every config key that
    differs between the runs as ``config.<key>``) and ``<loss|accuracy>_vs_<epoch|time>.png`` for each of
    ``metrics`` ("loss", "acc") against each of ``against`` ("epoch", "time") into ``out`` (default: a new folder
    ``<runs_dir>/<stamp>-runs-compare-<hex6>/`` with its own summary.json).
    """
    from ..plots.compare import plot_overlay
    from ..runs.folder import RunFolder, atomic_write

    table = collect_runs(paths)
    folder = RunFolder(out) if out is not None else RunFolder.create(runs_dir, "runs-compare")
    folder.path.mkdir(parents=True, exist_ok=True)
    atomic_write(folder.path / "comparison.csv", csv_text(table.rows).encode())
    figures = []
    for metric in metrics:
        for x, suffix in (("epoch", "epoch"), ("elapsed_s", "time")):
            shown = overlay_curves(table.curves, metric, x) if suffix in against else {}
            if shown:
                name = f"{'accuracy' if metric == 'acc' else 'loss'}_vs_{suffix}.png"
                folder.save_figure(plot_overlay(shown, metric, x, title=folder.run_id), name)
                figures.append(name)
    if out is None:
        folder.write_summary({"status": "completed", "kind": "runs-compare", "run_id": folder.run_id,
                              "name": "runs-compare", "runs": [str(p) for p in table.paths],
                              "files": ["comparison.csv", *figures]})
    return RunsComparison(folder.path, table.rows, table.labels, table.differing, figures)


def overlay_curves(curves: Mapping[str, Mapping[str, np.ndarray]], metric: str, x: str = "epoch"
                   ) -> dict[str, Mapping[str, np.ndarray]]:
    """The runs whose metrics.csv has ``x`` and a train or validation column of ``metric``; {} if none has."""
    if not any(f"{split}_{metric}" in df for df in curves.values() for split in ("train", "val")):
        return {}
    return {label: df for label, df in curves.items() if x in df}


def read_metrics(path: Path) -> dict[str, np.ndarray]:
    """metrics.csv as ``{column: float array}`` (empty cells NaN; {} for a missing or empty file). The csv module,
    not pandas: `dlb runs compare` starts in a fraction of a second."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError):
        return {}
    if len(rows) < 2:
        return {}
    body = [r for r in rows[1:] if len(r) == len(rows[0])]
    try:
        return {c: np.array([float(r[i]) if r[i] else np.nan for r in body]) for i, c in enumerate(rows[0])}
    except ValueError:
        return {}


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as CSV: the union of their keys in order, None empty, lists and mappings as JSON."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else json.dumps(r[c]) if isinstance(r[c], (list, dict)) else r[c]
                         for c in columns])
    return buf.getvalue()


def run_labels(paths: Sequence[Path], names: Sequence[str]) -> list[str]:
    """The runs' names if unique, else their ids without the time stamp, else their ids, else ``<parent>/<id>``
    (members of different groups), else their paths."""
    for labels in (names, [short_id(p) for p in paths], [p.name for p in paths],
                   [f"{p.parent.name}/{p.name}" for p in paths]):
        if all(labels) and len(set(labels)) == len(labels):
            return list(labels)
    return [str(p) for p in paths]
