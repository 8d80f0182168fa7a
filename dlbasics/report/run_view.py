"""The report of one run: how it ended, its metrics and curves, its evaluation, its config and environment."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import read
from .model import Block, Facts, Plot, Section, Table, Text
from .parts import build_sections, config_value, files_part


def run_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    return build_sections([("Overview", overview), ("Metrics", metrics), ("Learning curves", curves),
                           ("Training diagnostics", diagnostics),
                           ("Evaluation", evaluation), ("Config", config), ("Environment", environment),
                           ("Files", files_part)], path, summary)


def overview(path: Path, s: Mapping[str, Any]) -> list[Block]:
    data, model, timing = s.get("data") or {}, s.get("model") or {}, s.get("timing") or {}
    items: list[tuple[str, Any]] = [("status", s["status"])]
    if s.get("message"):
        items.append(("message", s["message"]))
    for label, key in (("name", "name"), ("run id", "run_id"), ("seed", "seed"), ("started", "started"),
                       ("finished", "finished")):
        if s.get(key) not in (None, ""):
            items.append((label, s[key]))
    if s.get("duration_s") is not None:
        items.append(("duration", f"{s['duration_s']:.1f} s"))
    if s.get("epochs_completed") is not None or s.get("epochs_planned") is not None:
        steps = f", {s['steps']} steps" if s.get("steps") else ""
        items.append(("epochs", f"{s.get('epochs_completed', '?')} of {s.get('epochs_planned', '?')}{steps}"))
    if timing.get("median_epoch_s"):
        items.append(("median epoch", f"{timing['median_epoch_s']:.3f} s"))
    if data:
        sizes = ", ".join(f"{data[k]} {k[2:]}" for k in ("n_train", "n_val", "n_test") if data.get(k) is not None)
        items.append(("data", f"{data.get('name', '?')} ({data.get('task', '?')}): {sizes}"
                      + (f"; test set: {data['test_set']}" if data.get("test_set") else "")))
    if model.get("parameters") is not None:
        items.append(("model", f"{model['parameters']:,} parameters in {model.get('layers', '?')} layers"))
    for resumed in s.get("resumes") or []:
        if isinstance(resumed, Mapping):
            items.append(("resumed", f"at {resumed.get('at', '?')} from epoch {resumed.get('from_epoch', '?')}"))
    return [Facts(items)]


def metrics(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """Final, best and test metrics: one row per metric; the test metrics' bootstrap intervals when `dlb
    bootstrap` has written bootstrap.json."""
    final, best = s.get("final") or {}, s.get("best") or {}
    if not final and not best:
        return None
    best_title = f"best validation (epoch {best.get('epoch', '?')})"
    rows = []
    for metric, name in (("loss", "loss"), ("acc", "accuracy")):
        row = {"metric": name, "final train": final.get(f"train_{metric}"),
               "final validation": final.get(f"val_{metric}"), best_title: best.get(f"val_{metric}"),
               "test": final.get(f"test_{metric}")}
        if any(v is not None for k, v in row.items() if k != "metric"):
            rows.append(row)
    note = "best: the epoch of the lowest validation loss; test: once, after training"
    blocks: list[Block] = [Table(rows, caption="final, best and test metrics"), Text(note, "note")] if rows else []
    boot = read.json_file(path / "bootstrap.json")
    if isinstance(boot, Mapping) and isinstance(boot.get("metrics"), Mapping):
        shown = []
        for metric, st in boot["metrics"].items():
            numbers = isinstance(st, Mapping) and all(isinstance(st.get(k), (int, float))
                                                      for k in ("estimate", "low", "high"))
            if numbers:
                shown.append({"metric": metric, "estimate": st["estimate"], "low": st["low"], "high": st["high"],
                              "method": st.get("method", boot.get("method", ""))})
        if shown:
            level = boot.get("confidence", 0.95)
            blocks.append(Table(shown, ["metric", "estimate", "low", "high", "method"],
                                caption=f"{level:.0%} bootstrap intervals of the test metrics ({boot.get('B', '?')} "
                                        f"resamples of the {boot.get('n_test', '?')} test samples; dlb bootstrap)"))
    return blocks or None


def curves(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..plots.curves import plot_curves

    frames = read.frames([path])
    if not frames:
        return None
    df = frames[0]
    blocks: list[Block] = [Plot(plot_curves(df, "loss", title="loss per epoch"), "train and validation loss")]
    if any(c in df and df[c].notna().any() for c in ("train_acc", "val_acc")):
        blocks.append(Plot(plot_curves(df, "acc", title="accuracy per epoch"), "train and validation accuracy"))
    return blocks


def diagnostics(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """``train.diagnostics``: the per-layer statistics of diagnostics.csv, drawn as the run's diagnostics.png."""
    if not (path / "diagnostics.csv").is_file():
        return None
    from ..plots.diagnostics import plot_diagnostics

    with open(path / "diagnostics.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return None
    return [Plot(plot_diagnostics(rows), "per layer and epoch on a fixed probe batch: activations, dead ReLUs, "
                                         "gradient norms, update/weight ratios (epoch 0: the initial weights)")]


def evaluation(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """`dlb evaluate`'s results: headline metrics, per-class metrics, the confusion matrix."""
    entries = s.get("evaluation")
    if not isinstance(entries, Mapping) or not entries:
        return None
    rows = [{"evaluation": key, **{k: v for k, v in e.items() if k != "file"}, "file": e.get("file")}
            for key, e in entries.items() if isinstance(e, Mapping)]
    blocks: list[Block] = [Table(rows, caption="dlb evaluate: one row per evaluated split")]
    for key, entry in entries.items():
        found = read.json_file(path / str(entry.get("file", ""))) if isinstance(entry, Mapping) else None
        if not isinstance(found, Mapping):
            continue
        files = [str(f) for f in found.get("files") or []]
        if found.get("description"):
            blocks.append(Text(f"{key}: {found['description']}", "note"))
        per_class = next((f for f in files if Path(f).name.startswith("per_class")), None)
        table = read.csv_rows(path / per_class) if per_class else None
        if table:
            blocks.append(Table(table, caption=f"{key}: precision, recall and F1 per class"))
        if found.get("most_confused"):
            blocks.append(Table([{k: r.get(k) for k in ("true_name", "pred_name", "count", "share")}
                                 for r in found["most_confused"]], caption=f"{key}: the most confused pairs"))
        matrix = next((f for f in files if Path(f).name.startswith("confusion_matrix") and f.endswith(".csv")), None)
        cm = _confusion(path / matrix) if matrix else None
        if cm is None and found.get("confusion_matrix") and found.get("classes"):
            cm = (found["confusion_matrix"], [str(c) for c in found["classes"]])
        if cm is not None:
            import numpy as np

            from ..plots.evaluate import plot_confusion_matrix

            blocks.append(Plot(plot_confusion_matrix(np.asarray(cm[0]), cm[1], title=f"{key}: confusion matrix"),
                               "rows: true class, columns: predicted class"))
    return blocks


def _confusion(path: Path) -> tuple[list[list[int]], list[str]] | None:
    """confusion_matrix.csv (a header of class names, one row per true class) as (counts, names)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        names = rows[0][1:]
        counts = [[int(float(x)) for x in r[1:]] for r in rows[1:]]
    except (OSError, IndexError, ValueError, UnicodeDecodeError):
        return None
    if not names or len(counts) != len(names) or any(len(r) != len(names) for r in counts):
        return None
    return counts, names


def config(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """What differs from the defaults, then the whole resolved config (folded)."""
    from ..config import yaml_io
    from ..config.diff import diff_from_defaults

    cfg = read.yaml_file(path / "config.yaml")
    if not isinstance(cfg, dict):
        return None
    diff = diff_from_defaults(cfg)
    blocks: list[Block] = []
    if diff:
        blocks.append(Table([{"key": k, "default": config_value(d), "value": config_value(v)} for k, d, v in diff],
                            caption="what differs from the defaults (the keys of --set)"))
    else:
        blocks.append(Text("every value is a default"))
    blocks.append(Text(yaml_io.dumps(cfg).rstrip(), "pre", fold="the resolved config (config.yaml)"))
    return blocks


def environment(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """Versions, BLAS and its threads, the git commit, the config's hash, the command line when recorded."""
    versions = s.get("versions") if isinstance(s.get("versions"), Mapping) else {}
    items: list[tuple[str, Any]] = []
    for key, value in versions.items():
        if key == "blas" and isinstance(value, list):
            value = ", ".join(map(str, value)) or "none found"
        items.append((key.replace("_", " "), value))
    for label, key in (("git commit", "git_commit"), ("config hash", "config_hash"), ("command", "command"),
                       ("process id", "pid")):
        value = s.get(key)
        if value not in (None, ""):
            items.append((label, " ".join(map(str, value)) if isinstance(value, list) else value))
    return [Facts(items)] if items else None
