"""The report of a sweep: the points best first, the best point against the runner-up, the metric against each
swept key, a heat map of two keys, the best points' learning curves, and what was swept by which commands."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import read
from .model import Block, Facts, Plot, Section, Table, Text
from .parts import build_sections, files_part, interval, limited, statuses_fact

METRICS = ("val_acc", "val_loss", "test_acc", "test_loss", "train_loss")
#: points whose curves are drawn (the best ones)
CURVES = 8


def sweep_sections(path: Path, summary: Mapping[str, Any]) -> list[Section]:
    return build_sections([("Overview", overview), ("Best point", best_point), ("Points", points),
                           ("Metric against the swept keys", by_key), ("Learning curves", curves),
                           ("Spec and commands", spec), ("Files", files_part)], path, summary)


def overview(path: Path, s: Mapping[str, Any]) -> list[Block]:
    items: list[tuple[str, Any]] = [("status", s["status"])]
    for label, key in (("message", "message"), ("name", "name"), ("metric", "metric"), ("mode", "mode"),
                       ("points", "n_points"), ("members", "n_members"), ("kept from before", "reused")):
        if s.get(key) not in (None, ""):
            items.append((label, s[key]))
    fact = statuses_fact(s)
    if fact:
        items.append(("statuses", fact[1]))
    if s.get("left_out"):
        items.append(("left out", f"{len(s['left_out'])} member folders of values no longer swept"))
    return [Facts(items)]


def _ranked(rows: list[dict[str, Any]], metric: str, mode: str) -> list[dict[str, Any]]:
    """Points best first by ``metric``; those without it last, in their order."""
    scored = sorted((r for r in rows if r.get(metric) is not None), key=lambda r: r[metric], reverse=mode == "max")
    return scored + [r for r in rows if r.get(metric) is None]


def best_point(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    best, runner, test = s.get("best"), s.get("runner_up"), s.get("best_vs_runner_up")
    if not isinstance(best, Mapping):
        return [Text("no best point: no member completed with the metric")] if "best" in s else None
    metric = s.get("metric", "metric")

    def line(p: Mapping[str, Any]) -> str:
        extra = "".join(f", {k} {p[k]:.4f}" for k in ("test_acc", "test_loss") if isinstance(p.get(k), float))
        return f"{p.get('label', '?')}: {metric} {interval(p, 'mean')} (n={p.get('n', '?')}{extra})"

    items: list[tuple[str, Any]] = [("best", line(best))]
    if isinstance(runner, Mapping):
        items.append(("runner-up", line(runner)))
    if isinstance(test, Mapping) and test.get("test"):
        verdict = "distinguishable" if test.get("distinguishable") else "not distinguishable"
        items.append(("best - runner-up", f"{test['diff']:+.4f} [{test['low']:+.4f}, {test['high']:+.4f}], "
                                          f"p = {test['p_value']:.3g} ({test['test']}, n={test.get('n', '?')}): "
                                          f"{verdict} at 5 %"))
    elif isinstance(test, Mapping) and test.get("note"):
        items.append(("best - runner-up", test["note"]))
    return [Facts(items), Text("the best point is chosen on validation (or held-out folds); its test metrics are "
                               "shown beside, not used to choose", "note")]


def points(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    rows = read.csv_rows(path / "points.csv")
    if not rows:
        return None
    metric, mode = str(s.get("metric") or "val_acc"), str(s.get("mode") or "max")
    shown = []
    for r in _ranked(rows, metric, mode):
        row = {"point": r.get("label"), "n": f"{r.get('n', '?')}/{r.get('members', '?')}"}
        for m in [metric, *(x for x in METRICS if x != metric)]:
            if any(q.get(m) is not None for q in rows):
                row[m] = interval(r, m)
        shown.append(row)
    return [limited(shown, None, f"points by {metric} ({mode}), best first: mean [95 % t-interval]", "points.csv"),
            Text("one row per member in results.csv", "note")]


def _plan(path: Path) -> Mapping[str, Any] | None:
    found = read.yaml_file(path / "sweep.yaml")
    return found if isinstance(found, Mapping) else None


def by_key(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..plots.sweep import plot_heatmap, plot_metric_vs_key

    plan, rows = _plan(path), read.csv_rows(path / "points.csv")
    metric = str(s.get("metric") or "")
    if not plan or not rows or not isinstance(plan.get("points"), list) or not isinstance(plan.get("keys"), list):
        return None
    by_index = {r.get("point"): r for r in rows}
    aligned = [by_index.get(i, {}) for i in range(len(plan["points"]))]
    if not any(r.get(metric) is not None for r in aligned):
        return None
    keys = [k for k in plan["keys"] if all(isinstance(p, Mapping) and k in p for p in plan["points"])]
    blocks: list[Block] = [Plot(plot_metric_vs_key(plan["points"], aligned, k, metric)) for k in keys]
    if len(keys) == 2:
        blocks.append(Plot(plot_heatmap(plan["points"], aligned, keys, metric), f"mean {metric} of every pair"))
    return blocks or None


def curves(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    """The best points' learning curves: mean and 95 % band over each point's replicates."""
    from ..plots.bands import plot_bands

    rows, members = read.csv_rows(path / "points.csv"), read.csv_rows(path / "results.csv")
    if not rows or not members:
        return None
    metric, mode = str(s.get("metric") or "val_acc"), str(s.get("mode") or "max")
    groups = {}
    for p in _ranked(rows, metric, mode)[:CURVES]:
        dirs = [d for m in members if m.get("point") == p.get("point")
                and (d := read.locate(m.get("run_dir"), path, "members")) is not None]
        if found := read.frames(dirs):
            groups[str(p.get("label"))] = found
    if not groups:
        return None
    title = f"the {len(groups)} best points: mean over replicates, 95 % t-band"
    blocks: list[Block] = [Plot(plot_bands(groups, "loss", title=f"loss, {title}"))]
    if any("val_acc" in df for f in groups.values() for df in f):
        blocks.append(Plot(plot_bands(groups, "acc", title=f"accuracy, {title}")))
    return blocks


def spec(path: Path, s: Mapping[str, Any]) -> list[Block] | None:
    from ..config import yaml_io

    plan = _plan(path)
    if not plan:
        return None
    shown = {k: plan[k] for k in ("spec", "keys", "metric", "mode", "seeds", "kfold", "n_members") if k in plan}
    blocks: list[Block] = [Text(yaml_io.dumps(shown).rstrip(), "pre")]
    commands = [str(c) for c in plan.get("commands") or [] if c]
    if commands:
        blocks.append(Table([{"#": i + 1, "command": c} for i, c in enumerate(commands)],
                            caption="the command lines that ran this sweep"))
    if isinstance(plan.get("versions"), Mapping):
        blocks.append(Facts([(k, v) for k, v in plan["versions"].items()]))
    if isinstance(plan.get("base"), Mapping):
        blocks.append(Text(yaml_io.dumps(dict(plan["base"])).rstrip(), "pre", fold="the base config"))
    return blocks
