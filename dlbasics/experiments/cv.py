"""Cross-validation: one training run per fold, in parallel, and the folds' mean with a 95 % t-interval.

Each fold is an ordinary run whose config says which fold it holds out (``data.fold``), so any fold can be
repeated alone with ``dlb train <cv folder>/fold-2/config.yaml``. A fold run tests on its held-out fold; its
validation split (``data.val_split``, for early stopping and plateau schedules) comes from its own training part,
and normalisation statistics from that training part only: nothing about the held-out fold leaks into training
or model choice. The official test set is never used by cross-validation.

Nested CV (``cv.strategy: nested``): for each outer fold, every grid point of ``cv.grid`` is trained on inner
folds of the outer training part; the best mean inner score picks the grid point, which is then trained on the
whole outer training part and tested on the outer fold. The outer folds' scores estimate the performance of
the whole procedure, selection included.

    runs/<stamp>-cv-<name>-<hash6>/
        fold-0/ ... fold-<k-1>/    the fold runs (nested: also outer-<i>-<grid>-inner-<j>/)
        folds.csv                  fold, sizes, held-out and validation metrics, epochs, status (nested: choice)
        summary.json               mean, std and 95 % t-interval of every metric over the folds
        folds.png, curves_loss.png, curves_accuracy.png
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, resolve_config
from ..data.datasets import DATASETS
from ..execution import Executor, Task, TaskResult
from ..nn.losses import LOSSES
from ..runs.folder import RunFolder, atomic_write
from ..runs.paths import run_path
from ..stats import mean_ci
from .multirun import Group, OnDone, OnProgress, OnStart, close_group, guard, open_group, run_group

METRICS = ("test_acc", "test_loss", "val_acc", "val_loss")


@dataclass
class CVResult:
    """A finished cross-validation: its folder, one row per outer fold, the summary statistics."""

    path: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def resolve_strategy(cfg: dict[str, Any], strategy: str) -> str:
    """auto -> stratified for classification, timeseries for time-ordered data, kfold otherwise."""
    if strategy != "auto":
        return strategy
    entry = DATASETS[cfg["data"]["name"]]
    if entry.ordered:
        return "timeseries"
    return "stratified" if entry.task_for(cfg["data"]) == "classification" else "kfold"


def _level(cv: dict[str, Any], strategy: str, k: int, index: int) -> dict[str, Any]:
    return {"strategy": strategy, "k": k, "index": index, "gap": cv["gap"], "window": cv["window"],
            "fraction": cv["fraction"]}


def with_fold(cfg: dict[str, Any], k: int, index: int) -> dict[str, Any]:
    """``cfg`` trained on fold ``index`` of a k-fold split of its training set, split as its ``cv`` section says
    (strategy, gap, window; auto, nested and holdout become the automatic k-fold strategy). One definition for
    `dlb compare --kfold` and `dlb sweep --kfold`."""
    out = copy.deepcopy(cfg)
    strategy = cfg["cv"]["strategy"]
    strategy = resolve_strategy(cfg, "auto" if strategy in ("nested", "holdout") else strategy)
    out["data"]["fold"] = [_level(cfg["cv"], strategy, k, index)]
    out["name"] = f"{cfg['name']}-fold{index}"
    return out


def _member(cfg: dict[str, Any], name: str, levels: list[dict[str, Any]],
            overrides: Sequence[str | tuple[str, Any]] = ()) -> dict[str, Any]:
    raw = copy.deepcopy(cfg)
    raw["data"]["fold"] = levels
    raw["name"] = name
    return resolve_config(raw, f"fold {name}", overrides, name=name)


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as {dotted key: value} (a sweep's grid: one definition)."""
    from .sweep import expand_points

    return expand_points({"grid": grid, "zip": {}, "random": None})[1]


def _overrides(point: dict[str, Any]) -> list[tuple[str, Any]]:
    return list(point.items())


def plan(cfg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The fold runs of a plain (not nested) cross-validation, named fold-0 .. fold-<k-1>; validated."""
    cv = cfg["cv"]
    strategy = resolve_strategy(cfg, cv["strategy"])
    k = 1 if strategy == "holdout" else cv["k"]
    return [(f"fold-{i}", _member(cfg, f"{cfg['name']}-fold-{i}", [_level(cv, strategy, k, i)])) for i in range(k)]


def _score_key(cfg: dict[str, Any]) -> str:
    metric = cfg["cv"]["metric"]
    if metric != "auto":
        return metric
    return "test_acc" if LOSSES[cfg["loss"]["name"]].task == "classification" else "test_loss"


def _outcome_metrics(outcome: TaskResult) -> dict[str, Any]:
    s = outcome.summary
    final, data = s.get("final") or {}, s.get("data") or {}
    return {"status": outcome.status, "epochs": s.get("epochs_completed"), "n_train": data.get("n_train"),
            "n_val": data.get("n_val"), "n_heldout": data.get("n_test"),
            **{m: final.get(m) for m in METRICS}, "message": outcome.error, "run_dir": str(outcome.task.run_dir)}


def summarise(rows: list[dict[str, Any]], confidence: float = 0.95) -> dict[str, Any]:
    """mean, std, n and the t-interval of every metric over the completed folds."""
    done = [r for r in rows if r["status"] == "completed"]
    out = {}
    for metric in METRICS:
        values = [r[metric] for r in done if r.get(metric) is not None]
        if values:
            out[metric] = mean_ci(values, confidence)
    return out


def check(cfg: dict[str, Any]) -> None:
    """Build the data split and model of the first fold now, so an impossible CV stops before anything runs."""
    from ..runner import build

    strategy = resolve_strategy(cfg, cfg["cv"]["strategy"])
    if strategy == "nested":
        outer = resolve_strategy(cfg, "auto")
        cv = cfg["cv"]
        first = _member(cfg, "check", [_level(cv, outer, cv["k"], 0), _level(cv, outer, cv["inner_k"], 0)])
    else:
        first = plan(cfg)[0][1]
    try:
        build(first, progress=False)
    except ConfigError as err:
        if err.path.startswith("data.fold"):
            err.path = "cv.gap" if "gap" in err.message else "cv.window" if "window" in err.message else "cv.k"
        raise


def cross_validate(cfg: dict[str, Any], *, runs_dir: str | Path | None = None, executor: Executor | None = None,
                   on_done: OnDone | None = None, on_progress: OnProgress | None = None,
                   on_start: OnStart | None = None) -> CVResult:
    """Run the config's cross-validation (``cv`` section) and write the CV folder."""
    strategy = resolve_strategy(cfg, cfg["cv"]["strategy"])
    nested = strategy == "nested"
    members = nested_plan(cfg) if nested else plan(cfg)  # every member validated before a folder exists
    group = open_group("cv", cfg["name"], runs_dir, strategy=strategy, k=cfg["cv"]["k"], seed=cfg["seed"])
    if nested:
        rows, choices, results = _nested(cfg, members, group, executor, on_done, on_progress, on_start)
        group.summary["choices"] = choices
    else:
        tasks = [Task(name, member, run_path(group.path, name), {"fold": i})
                 for i, (name, member) in enumerate(members)]
        results = run_group(group, tasks, executor, on_done, on_progress, on_start=on_start)
        rows = [{"fold": i, **_outcome_metrics(o)} for i, o in enumerate(results)]
    with guard(group):
        group.summary["metrics"] = summarise(rows)
        write_outputs(group.folder, rows, group.summary)
        close_group(group, results)
    return CVResult(group.path, rows, group.summary)


def nested_plan(cfg: dict[str, Any]) -> list[tuple[str, dict[str, Any], int, int]]:
    """The inner runs of nested CV (outer fold i x grid point g x inner fold j), resolved and validated:
    (name, config, i, g)."""
    cv = cfg["cv"]
    points = grid_points(cv["grid"])
    if len(points) < 2:
        raise ConfigError("nested CV needs a grid with at least two candidates, e.g. "
                          "{optimizer.lr: [0.01, 0.001]}", "cv.grid")
    outer = resolve_strategy(cfg, "auto")  # stratified, or forward chaining for a time series
    members = []
    for i in range(cv["k"]):
        for g, point in enumerate(points):
            for j in range(cv["inner_k"]):
                name = f"outer-{i}-grid-{g}-inner-{j}"
                levels = [_level(cv, outer, cv["k"], i), _level(cv, outer, cv["inner_k"], j)]
                try:
                    members.append((name, _member(cfg, f"{cfg['name']}-{name}", levels, _overrides(point)), i, g))
                except ConfigError as err:
                    err.source = f"cv.grid {json.dumps(point)}"
                    raise
    return members


def _nested(cfg: dict[str, Any], members: list[tuple[str, dict[str, Any], int, int]], group: Group,
            executor: Executor | None, on_done: OnDone | None, on_progress: OnProgress | None,
            on_start: OnStart | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[TaskResult]]:
    cv = cfg["cv"]
    points = grid_points(cv["grid"])
    outer = resolve_strategy(cfg, "auto")
    key, maximise = _score_key(cfg), _score_key(cfg).endswith("acc")
    tasks = [Task(name, member, run_path(group.path, name), {"outer": i, "grid": g})
             for name, member, i, g in members]
    scores: dict[tuple[int, int], list[float]] = {}
    for o in run_group(group, tasks, executor, on_done, on_progress, on_start=on_start):
        value = (o.summary.get("final") or {}).get(key)
        if o.status == "completed" and value is not None:
            scores.setdefault((o.task.meta["outer"], o.task.meta["grid"]), []).append(value)
    finals, choices = [], []
    with guard(group):
        for i in range(cv["k"]):
            means = {g: sum(scores[i, g]) / len(scores[i, g]) for g in range(len(points)) if scores.get((i, g))}
            if not means:
                raise RuntimeError(f"every inner run of outer fold {i} failed; see {group.path}")
            best = (max if maximise else min)(means, key=means.get)
            choices.append({"fold": i, "choice": points[best], "inner_mean": means[best],
                            "inner_means": {json.dumps(points[g]): m for g, m in means.items()}})
            name = f"fold-{i}"
            finals.append(Task(name, _member(cfg, f"{cfg['name']}-{name}", [_level(cv, outer, cv["k"], i)],
                                             _overrides(points[best])), run_path(group.path, name), {"fold": i}))
    results = run_group(group, finals, executor, on_done, on_progress, on_start=on_start)
    rows = [{"fold": i, "choice": json.dumps(choices[i]["choice"]), **_outcome_metrics(o)}
            for i, o in enumerate(results)]
    return rows, choices, results


def write_outputs(parent: RunFolder, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """folds.csv, the per-fold chart with the mean and its interval, and the learning curves: the folds' mean
    with its 95 % band, each fold faint behind it."""
    import pandas as pd

    from ..plots.bands import frames_of, plot_bands
    from ..plots.cv import plot_folds

    atomic_write(parent.path / "folds.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    metric = "test_acc" if "test_acc" in summary["metrics"] else "test_loss"
    if metric in summary["metrics"]:
        parent.save_figure(plot_folds(rows, metric, summary["metrics"][metric],
                                      title=f"{parent.run_id}: {len(rows)} folds"), "folds.png")
    frames = frames_of([r["run_dir"] for r in rows])
    if frames:
        label = f"{len(frames)} folds"
        for metric_, file, shown in (("loss", "curves_loss.png", "loss"), ("acc", "curves_accuracy.png", "accuracy")):
            if metric_ == "acc" and not any("val_acc" in df for df in frames):
                continue
            title = f"{parent.run_id}\n{shown}: mean over the folds, 95 % t-band"
            parent.save_figure(plot_bands({label: frames}, metric_, title=title), file)
