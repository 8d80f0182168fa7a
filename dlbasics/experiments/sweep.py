"""Sweeps: one config, many points (grid x zip x random), each trained with every seed and fold; resumable.

    plan = plan_sweep(load_config("configs/quickstart.yaml"), {"optimizer.lr": [1e-3, 1e-2]}, seeds=3)
    result = run_sweep(plan)          # runs/<stamp>-sweep-quickstart-<hash6>/
    result.points                     # one row per point: mean, std and 95 % t-interval over seeds / folds

Points come from the config's ``sweep:`` section and from ``--set key=a,b,c`` lists (grid axes), crossed in a
fixed order, so member i of a plan is always the same config: the plan is deterministic and indexable. Every
member's config is resolved and validated before anything trains.

A sweep is found again by its identity: the base config (everything but the ``sweep`` section), the swept keys,
the seeds and the folds. The same command again continues the newest folder of that identity: members whose
resolved config already has a completed run there are kept; failed, interrupted and missing ones are trained;
values added to the grid only add members. A member's folder name holds the hash of its config
(``members/<values>-s<seed>-<hash>``), so the same config always lands in the same folder.

    sweep.yaml        the resolved spec, the points, the command lines that ran it, versions
    members/<id>/     ordinary run folders
    results.csv       one row per member: the swept keys, seed, fold, status, final and best metrics, duration
    points.csv        one row per point: n, mean, std and 95 % t-interval of each metric over seeds / folds
    summary.json      the best point by ``sweep.metric``, with its interval, and whether it is distinguishable
                      from the runner-up (paired t over seeds; corrected resampled t over folds)
    <metric>_vs_<key>.png, heatmap.png (two swept keys), curves_loss.png, curves_accuracy.png

The default metric is the validation one (val_acc, val_loss for regression), or the held-out folds' with
``--kfold``: choosing on the test set would make its score an optimistic estimate. The best point's test
metrics are reported beside, not used to choose.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..config import ConfigError, config_hash, resolve_config, yaml_io
from ..execution import Executor, Task, TaskResult
from ..execution.worker import summary_on_disk
from ..nn.losses import LOSSES
from ..runs.folder import RunFolder, atomic_write, json_safe
from ..runs.paths import folder_name, run_path
from .compare import replicate
from .multirun import OnDone, OnProgress, OnStart, close_group, guard, open_group, run_group
from .replicates import interval_columns, paired_test

METRICS = ("val_acc", "val_loss", "test_acc", "test_loss", "train_loss")
#: the most members one sweep may have
MAX_MEMBERS = 10_000


@dataclass(frozen=True)
class Member:
    """One run of the sweep: point ``point`` with seed index ``seed`` and fold ``fold`` (None without folds)."""

    index: int
    point: int
    seed: int
    fold: int | None
    config: dict[str, Any]
    id: str
    label: str
    values: str  # the point's label (``lr=0.001 hidden=[64]``)


@dataclass
class SweepPlan:
    """Everything a sweep will train, resolved and validated; ``members`` in a fixed order."""

    name: str
    base: dict[str, Any]
    spec: dict[str, Any]
    keys: list[str]
    points: list[dict[str, Any]]
    seeds: int
    kfold: int
    members: list[Member] = field(default_factory=list)
    metric: str = "val_acc"
    mode: str = "max"

    @property
    def identity(self) -> str:
        """What makes two invocations the same sweep: the base config and the swept keys; not the values, the
        seeds or the folds, which only add (or leave out) members."""
        base = {k: v for k, v in self.base.items() if k != "sweep"}
        text = json.dumps({"base": base, "keys": sorted(self.keys)}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:6]


def point_label(point: Mapping[str, Any]) -> str:
    """``lr=0.001 hidden=[128, 64]``: each swept key by its last part (the whole key if that is ambiguous)."""
    lasts = [k.split(".")[-1] for k in point]
    return " ".join(f"{k.split('.')[-1] if lasts.count(k.split('.')[-1]) == 1 else k}={_show(v)}"
                    for k, v in point.items()) or "base"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _draw(rng: np.random.Generator, dist: Mapping[str, Any]) -> Any:
    (kind, args), = dist.items()
    if kind == "choice":
        return copy.deepcopy(args[int(rng.integers(len(args)))])
    low, high = args
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    if kind == "uniform":
        return float(rng.uniform(low, high))
    return int(rng.integers(low, high + 1))  # randint: both ends included


def expand_points(spec: Mapping[str, Any], axes: Mapping[str, Sequence[Any]] | None = None
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """(swept keys, points): the product of the grid axes (``axes`` from the command line first, then
    ``spec["grid"]``), crossed with the zip rows and the random draws."""
    zipped = spec["zip"]
    random = spec["random"]
    for key in axes or {}:
        where = "zip" if key in zipped else "random" if key in ((random or {}).get("params") or {}) else None
        if where:
            raise ConfigError(f"{key} is swept by the config's sweep.{where}; give its values there, not with --set",
                              f"sweep.{where}.{key}")
    grid = {**dict(axes or {}), **{k: v for k, v in spec["grid"].items() if k not in (axes or {})}}
    grid_points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    zip_rows = [dict(zip(zipped, values)) for values in zip(*zipped.values())] if zipped else [{}]
    draws = [{}]
    if random:
        rng = np.random.default_rng(random["seed"])
        draws = [{k: _draw(rng, d) for k, d in random["params"].items()} for _ in range(random["n"])]
    keys = [*grid, *zipped, *((random or {}).get("params") or {})]
    points, seen = [], set()
    for point in ({**g, **z, **r} for g in grid_points for z in zip_rows for r in draws):
        key = json.dumps(point, sort_keys=True, default=str)
        if key not in seen:  # a value given twice (1e-3,0.001), or a random choice drawn again: one point
            seen.add(key)
            points.append(point)
    return keys, points


def _resolve_member(base: dict[str, Any], point: dict[str, Any], label: str) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["sweep"] = {}
    raw["name"] = f"{base['name']}-{folder_name(point_label(point))[:40]}"
    try:
        return resolve_config(raw, "sweep", list(point.items()), name=raw["name"])
    except ConfigError as err:
        err.source = f"sweep member {label}"
        raise


def _default_metric(cfg: dict[str, Any], kfold: int) -> str:
    classify = LOSSES[cfg["loss"]["name"]].task == "classification"
    if not kfold and cfg["data"]["val_split"] == 0:
        raise ConfigError("no validation split to choose the best point on: set data.val_split > 0, add --kfold, "
                          "or say --metric test_acc / test_loss (the test score is then no longer an honest "
                          "estimate)", "sweep.metric")
    return f"{'test' if kfold else 'val'}_{'acc' if classify else 'loss'}"


def plan_sweep(base: dict[str, Any], axes: Mapping[str, Sequence[Any]] | None = None, *, seeds: int = 1,
               kfold: int = 0, name: str | None = None, metric: str | None = None, mode: str | None = None
               ) -> SweepPlan:
    """Expand and resolve every member of a sweep of the resolved config ``base``; ConfigError (naming the
    member and the key) for any invalid one, before anything runs."""
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: give 1 or more seeds")
    if kfold == 1 or kfold < 0:
        raise ConfigError(f"--kfold {kfold}: give k >= 2 folds (or 0 for none)")
    spec = copy.deepcopy(base["sweep"])
    for key, values in (axes or {}).items():
        spec["grid"][key] = list(values)
    keys, points = expand_points(spec, axes)
    if not keys and seeds == 1 and not kfold:
        raise ConfigError("nothing to sweep: give --set key=a,b,c (or range(a,b[,step])), a sweep: section with "
                          "grid, zip or random, or --seeds / --kfold", "sweep")
    count = len(points) * seeds * max(1, kfold)
    if count > MAX_MEMBERS:
        raise ConfigError(f"{len(points)} points x {seeds} seeds x {max(1, kfold)} folds = {count} members; at most "
                          f"{MAX_MEMBERS}", "sweep")
    metric = metric or spec["metric"]
    metric = _default_metric(base, kfold) if metric == "auto" else metric
    mode = mode or spec["mode"]
    mode = ("max" if metric.endswith("acc") else "min") if mode == "auto" else mode
    plan = SweepPlan(name or base["name"], base, spec, keys, points, seeds, kfold, metric=metric, mode=mode)
    for p, point in enumerate(points):
        label = point_label(point)
        cfg = _resolve_member(base, point, label)
        for s in range(seeds):
            seeded = replicate(cfg, "seeds", s, seeds) if seeds > 1 else cfg
            for f in (range(kfold) if kfold else [None]):
                member = replicate(seeded, "folds", f, kfold) if f is not None else seeded
                ident = config_hash({k: v for k, v in member.items() if k != "name"})[:10]
                twin = next((m for m in plan.members if m.id == ident), None)
                if twin is not None:  # e.g. a swept seed meeting --seeds: one run cannot count twice
                    raise ConfigError(f"members {twin.label!r} and {label!r} would train the same config", "sweep")
                text = label + (f" seed {member['seed']}" if seeds > 1 else "") + (f" fold {f}" if f is not None
                                                                                    else "")
                plan.members.append(Member(len(plan.members), p, s, f, member, ident, text, label))
    return plan


def check_plan(plan: SweepPlan) -> None:
    """Build the first replicate of every point (data split, model, optimizer, schedule), so an impossible
    member (a layer that cannot take its input, a fold that does not exist) stops everything now."""
    from ..runner import build, cache_datasets

    cache_datasets()
    try:
        seen = set()
        for m in plan.members:
            if m.point in seen:
                continue
            seen.add(m.point)
            try:
                build(m.config, progress=False)
            except ConfigError as err:
                err.source = f"sweep member {m.label}"
                if plan.kfold and err.path.startswith("data.fold"):
                    err.path = "--kfold"
                raise
    finally:
        cache_datasets(False)


def member_dir(folder: Path, m: Member) -> Path:
    """``members/<values>-s<seed>[-f<fold>]-<config hash>``: the same config, the same folder."""
    values = folder_name(m.values)[:40]
    tail = f"s{m.seed}" + (f"-f{m.fold}" if m.fold is not None else "")
    return run_path(folder / "members", f"{values}-{tail}-{m.id}")


@dataclass
class SweepResult:
    path: Path
    rows: list[dict[str, Any]]
    points: list[dict[str, Any]]
    summary: dict[str, Any]
    reused: int = 0
    left_out: list[str] = field(default_factory=list)


def find_sweep(runs_dir: str | Path | None, plan: SweepPlan) -> Path | None:
    """The newest folder of this sweep's identity in ``runs_dir`` (None if there is none)."""
    root = RunFolder.check_writable(runs_dir)
    found = sorted(p for p in root.glob(f"*-sweep-{folder_name(plan.name)}-{plan.identity}*")
                   if (p / "sweep.yaml").is_file())
    return found[-1] if found else None


def _spec_file(plan: SweepPlan, command: Sequence[str], earlier: dict[str, Any] | None) -> dict[str, Any]:
    commands = list((earlier or {}).get("commands") or [])
    commands.append(" ".join(command))
    return {"name": plan.name, "identity": plan.identity, "commands": commands,
            "spec": {k: plan.spec[k] for k in ("grid", "zip", "random")}, "metric": plan.metric, "mode": plan.mode,
            "keys": plan.keys, "points": plan.points, "seeds": plan.seeds, "kfold": plan.kfold,
            "n_members": len(plan.members), "base": plan.base,
            "versions": {"dlbasics": __version__, "python": platform.python_version(), "numpy": np.__version__}}


def run_sweep(plan: SweepPlan, *, runs_dir: str | Path | None = None, executor: Executor | None = None,
              on_done: OnDone | None = None, on_progress: OnProgress | None = None, on_start: OnStart | None = None,
              resume: str | Path | None = None, new: bool = False, command: Sequence[str] = ()) -> SweepResult:
    """Train the sweep's members into its folder (continuing the earlier one of the same identity unless
    ``new``, or ``resume`` names one) and write its tables, summary and plots. Members of values no longer in
    the plan stay in their folders, out of the tables (``summary["left_out"]`` lists them)."""
    path = Path(resume) if resume else (None if new else find_sweep(runs_dir, plan))
    earlier = yaml_io.load_file(path / "sweep.yaml") if path is not None else None
    if earlier is not None and earlier.get("identity") != plan.identity:
        raise ConfigError(f"{path} is the sweep {earlier.get('identity')!r} (another base config or other swept "
                          f"keys); this one is {plan.identity!r}: run it without --resume, or with --new")
    folder = RunFolder(path) if path is not None else RunFolder.create(runs_dir, f"sweep-{plan.name}",
                                                                       tag=plan.identity)
    with folder.lock("dlb sweep"):
        return _run_sweep(plan, folder, earlier, executor, on_done, on_progress, on_start, command)


def _run_sweep(plan: SweepPlan, folder: RunFolder, earlier: dict[str, Any] | None, executor: Executor | None,
               on_done: OnDone | None, on_progress: OnProgress | None, on_start: OnStart | None,
               command: Sequence[str]) -> SweepResult:
    tasks = [Task(m.label, m.config, member_dir(folder.path, m),
                  {"point": m.point, "seed": m.seed, "fold": m.fold, "id": m.id}) for m in plan.members]
    done = {}
    for i, task in enumerate(tasks):
        summary = summary_on_disk(task.run_dir)
        if summary.get("status") in ("completed", "diverged"):  # divergence is deterministic: it would again
            done[i] = TaskResult(task, summary["status"], summary, summary.get("message", "") if
                                 summary["status"] != "completed" else "", float(summary.get("duration_s") or 0.0))
    ours = {t.run_dir.name for t in tasks}
    left_out = sorted(p.name for p in (folder.path / "members").glob("*") if p.is_dir() and p.name not in ours)
    atomic_write(folder.path / "sweep.yaml", yaml_io.dumps(json_safe(_spec_file(plan, command, earlier))).encode())
    group = open_group("sweep", plan.name, folder=folder, identity=plan.identity, metric=plan.metric,
                       mode=plan.mode, n_points=len(plan.points), n_members=len(tasks), reused=len(done),
                       left_out=left_out)
    results = run_group(group, tasks, executor, on_done, on_progress, done=done, on_start=on_start)
    with guard(group):
        rows = [_row(plan, m, r, i in done) for i, (m, r) in enumerate(zip(plan.members, results))]
        points = aggregate_points(plan, rows)
        group.summary.update(best_points(plan, rows, points))
        write_outputs(group.folder, plan, rows, points, results)
        close_group(group, results, statuses=dict(Counter(r.status for r in results)))
    return SweepResult(group.path, rows, points, group.summary, len(done), left_out)


def _row(plan: SweepPlan, m: Member, r: TaskResult, reused: bool) -> dict[str, Any]:
    s = r.summary
    final, best, data = s.get("final") or {}, s.get("best") or {}, s.get("data") or {}
    return {"member": m.id, "point": m.point, **{k: _cell(plan.points[m.point][k]) for k in plan.keys},
            "seed": m.config["seed"], "fold": m.fold, "status": r.status, "epochs": s.get("epochs_completed"),
            **{k: final.get(k) for k in ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")},
            "best_epoch": best.get("epoch"), "best_val_loss": best.get("val_loss"),
            "duration_s": s.get("duration_s") or r.seconds, "n_train": data.get("n_train"),
            "n_heldout": data.get("n_test"), "reused": reused, "message": r.error, "run_dir": str(r.task.run_dir)}


def _cell(value: Any) -> Any:
    """A swept value as a table cell: numbers and strings as they are, lists and mappings as JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def aggregate_points(plan: SweepPlan, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per point: its values, members, n completed, and mean / std / 95 % t-interval of each metric."""
    out = []
    for p, point in enumerate(plan.points):
        mine = [r for r in rows if r["point"] == p]
        out.append({"point": p, "label": point_label(point), **{k: _cell(point[k]) for k in plan.keys},
                    "members": len(mine), "n": sum(r["status"] == "completed" for r in mine),
                    **interval_columns(mine, METRICS)})
    return out


def best_points(plan: SweepPlan, rows: list[dict[str, Any]], points: list[dict[str, Any]]) -> dict[str, Any]:
    """The best and runner-up points by the plan's metric and mode, and the paired test between them: paired t
    over the seeds they share, or Nadeau & Bengio's corrected resampled t over folds."""
    key = plan.metric
    scored = [p for p in points if p.get(key) is not None]
    if not scored:
        return {"best": None}
    scored.sort(key=lambda p: p[key], reverse=plan.mode == "max")

    def brief(p: dict[str, Any]) -> dict[str, Any]:
        extra = {k: p.get(k) for k in ("test_acc", "test_loss") if k != key and p.get(k) is not None}
        return {"point": p["point"], "label": p["label"], "values": plan.points[p["point"]], "n": p["n"],
                "mean": p[key], "low": p.get(f"{key}_low"), "high": p.get(f"{key}_high"), **extra}

    out: dict[str, Any] = {"best": brief(scored[0]), "runner_up": brief(scored[1]) if len(scored) > 1 else None}
    if len(scored) > 1:
        out["best_vs_runner_up"] = _paired(plan, rows, scored[0]["point"], scored[1]["point"])
    return out


def _paired(plan: SweepPlan, rows: list[dict[str, Any]], a: int, b: int) -> dict[str, Any]:
    test = paired_test([r for r in rows if r["point"] == a], [r for r in rows if r["point"] == b], plan.metric,
                       bool(plan.kfold), lambda r: (r["seed"], r["fold"]))
    if test is None:
        return {"test": None, "distinguishable": None,
                "note": "one replicate per point: no test possible (add --seeds or --kfold)"}
    return test


def write_outputs(folder: RunFolder, plan: SweepPlan, rows: list[dict[str, Any]], points: list[dict[str, Any]],
                  results: Sequence[TaskResult]) -> None:
    """results.csv, points.csv and the plots: the metric against each swept key (with interval bars), a heat
    map for two swept keys, and each point's learning curves as mean and 95 % band over its replicates."""
    import pandas as pd

    from ..plots.bands import frames_of, plot_bands
    from ..plots.sweep import plot_heatmap, plot_metric_vs_key

    atomic_write(folder.path / "results.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    atomic_write(folder.path / "points.csv", pd.DataFrame(points).to_csv(index=False).encode())
    key = plan.metric
    if any(p.get(key) is not None for p in points):
        for swept in plan.keys:
            folder.save_figure(plot_metric_vs_key(plan.points, points, swept, key, title=folder.run_id),
                               f"{key}_vs_{folder_name(swept.split('.')[-1])}.png")
        if len(plan.keys) == 2:
            folder.save_figure(plot_heatmap(plan.points, points, plan.keys, key, title=folder.run_id), "heatmap.png")
    ranked = sorted((p for p in points if p.get(key) is not None), key=lambda p: p[key],
                    reverse=plan.mode == "max")[:8]
    groups = {}
    for p in ranked or points[:8]:
        frames = frames_of([r.task.run_dir for r in results if r.task.meta["point"] == p["point"]])
        if frames:
            groups[p["label"]] = frames
    if groups:
        title = f"{len(groups)} best points: mean over replicates, 95 % t-band\n{folder.run_id}"
        folder.save_figure(plot_bands(groups, "loss", title=f"loss, {title}"), "curves_loss.png")
        if any("val_acc" in df for frames in groups.values() for df in frames):
            folder.save_figure(plot_bands(groups, "acc", title=f"accuracy, {title}"), "curves_accuracy.png")
