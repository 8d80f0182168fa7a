"""Comparing runs: members trained side by side into one parent folder, then one table and overlay plots.

Two ways to get members: one config with several optimizers (each takes its own default lr unless an lr map or
an override says otherwise), or several configs. All members share the seed, so members with the same model and
data start from identical weights and see identical batches (the random streams are keyed by purpose, see
:mod:`dlbasics.rng`): only the compared choice differs.

    runs/<stamp>-compare-<name>-<hash6>/
        00-sgd/ 01-momentum/ ...     one ordinary run folder per member
        comparison.csv               one row per member (status, lr, best and final metrics, time)
        loss_vs_epoch.png, loss_vs_time.png, accuracy_vs_epoch.png, accuracy_vs_time.png
        summary.json                 members, their statuses, the sort key
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, resolve_config
from ..config.fields import did_you_mean
from ..optim.optimizers import OPTIMIZERS
from ..runs.folder import RunFolder, json_safe
from .executor import Executor, LocalProcessExecutor, Outcome, Task

COLUMNS = ["member", "status", "optimizer", "lr", "epochs", "best_epoch", "best_val_loss", "best_val_acc",
           "final_train_loss", "final_train_acc", "final_train_eval_acc", "final_val_loss", "final_val_acc", "gap",
           "test_loss", "test_acc", "duration_s", "median_epoch_s", "message", "run_dir"]


@dataclass
class Comparison:
    """A finished comparison: its folder, one row per member (COLUMNS) and the sort key used."""

    path: Path
    rows: list[dict[str, Any]]
    sort_by: str


def optimizer_members(cfg: Mapping[str, Any], optimizers: Sequence[str], lrs: Mapping[str, float] | None = None,
                      overrides: Sequence[str] = (), source: str = "<config>") -> list[tuple[str, dict[str, Any]]]:
    """One resolved config per optimizer: the base config with ``optimizer: {name: <opt>}`` (its defaults),
    the per-optimizer lr from ``lrs`` if given, then ``overrides``; the base's param_groups and no_weight_decay
    are kept. Raises ConfigError for an unknown name or an invalid member."""
    if not optimizers:
        raise ConfigError("--optimizers is empty; give names such as sgd,momentum,adam "
                          f"(known: {', '.join(OPTIMIZERS)})")
    lrs = dict(lrs or {})
    for name in [*optimizers, *lrs]:
        if name not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {name!r}{did_you_mean(name, list(OPTIMIZERS))} "
                              f"(known: {', '.join(OPTIMIZERS)})")
    members = []
    for name in optimizers:
        raw = copy.deepcopy(dict(cfg))
        keep = {k: raw["optimizer"][k] for k in ("param_groups", "no_weight_decay") if k in raw["optimizer"]}
        raw["optimizer"] = {"name": name, **keep, **({"lr": lrs[name]} if name in lrs else {})}
        raw["name"] = f"{cfg['name']}-{name}"
        members.append((name, _resolve_member(name, raw, overrides, source)))
    return members


def config_members(configs: Sequence[tuple[str, Mapping[str, Any]]],
                   overrides: Sequence[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """Members from several resolved configs (named by their ``name``, made unique), overrides applied to each."""
    members, seen = [], {}
    for source, cfg in configs:
        name = cfg["name"]
        seen[name] = seen.get(name, 0) + 1
        member = name if seen[name] == 1 else f"{name}-{seen[name]}"
        members.append((member, _resolve_member(member, dict(cfg), overrides, source)))
    return members


def _resolve_member(member: str, raw: dict[str, Any], overrides: Sequence[str], source: str) -> dict[str, Any]:
    try:
        return resolve_config(raw, source, overrides, name=raw.get("name"))
    except ConfigError as err:
        err.source = f"member {member}: {err.source}" if err.source else f"member {member}"
        raise


def check_members(members: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Build each distinct (data, model) of the members once, so a shape error stops everything before it runs."""
    from ..runner import build_model, model_inputs

    seen = set()
    for member, cfg in members:
        key = json.dumps([cfg["data"], cfg["model"], cfg["loss"]["name"], cfg["train"]["dtype"]], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            build_model(cfg, *model_inputs(cfg, progress=False))
        except ConfigError as err:
            err.source = f"member {member}"
            raise


def _row(member: str, outcome: Outcome) -> dict[str, Any]:
    s, cfg_path = outcome.summary, outcome.task.run_dir
    cfg = outcome.task.config
    best, final, timing = s.get("best") or {}, s.get("final") or {}, s.get("timing") or {}
    return {
        "member": member, "status": outcome.status, "optimizer": cfg["optimizer"]["name"],
        "lr": cfg["optimizer"].get("lr"), "epochs": s.get("epochs_completed", 0),
        "best_epoch": best.get("epoch"), "best_val_loss": best.get("val_loss"), "best_val_acc": best.get("val_acc"),
        "final_train_loss": final.get("train_loss"), "final_train_acc": final.get("train_acc"),
        "final_train_eval_acc": final.get("train_eval_acc"),
        "final_val_loss": final.get("val_loss"), "final_val_acc": final.get("val_acc"), "gap": _gap(final),
        "test_loss": final.get("test_loss"), "test_acc": final.get("test_acc"),
        "duration_s": s.get("duration_s") or outcome.seconds, "median_epoch_s": timing.get("median_epoch_s"),
        "message": outcome.error, "run_dir": str(cfg_path),
    }


def _gap(final: dict[str, Any]) -> float | None:
    """Train minus validation accuracy: from the clean training evaluation when the run made one."""
    train = final.get("train_eval_acc", final.get("train_acc"))
    val = final.get("val_acc")
    return None if train is None or val is None else train - val


def default_sort(members: Sequence[tuple[str, dict[str, Any]]]) -> str:
    from ..nn.losses import LOSSES

    classify = all(LOSSES[cfg["loss"]["name"]].task == "classification" for _, cfg in members)
    return "test_acc" if classify else "test_loss"


def sort_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Completed members by ``key`` (descending for accuracies, ascending otherwise), then the rest."""
    descending = key.endswith("acc")

    def order(row: dict[str, Any]) -> tuple:
        value = row.get(key)
        done = row["status"] == "completed" and value is not None
        return (not done, -value if done and descending else value if done else 0)

    return sorted(rows, key=order)


def compare(members: Sequence[tuple[str, dict[str, Any]]], *, name: str, runs_dir: str | Path | None = None,
            executor: Executor | None = None, sort_by: str | None = None,
            on_done: Callable[[str, Outcome], None] | None = None) -> Comparison:
    """Train every member (in parallel through ``executor``) into one parent folder and tabulate them."""
    parent = RunFolder.create(runs_dir, f"compare-{name}")
    tasks = [Task(member, cfg, parent.path / f"{i:02d}-{member}") for i, (member, cfg) in enumerate(members)]
    sort_by = sort_by or default_sort(members)
    summary: dict[str, Any] = {"status": "running", "kind": "compare", "run_id": parent.run_id, "name": name,
                               "sort_by": sort_by, "members": [t.name for t in tasks]}
    parent.write_summary(summary)
    executor = executor or LocalProcessExecutor()
    try:
        outcomes = executor.run(tasks, (lambda o: on_done(o.task.name, o)) if on_done else None)
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        parent.write_summary(summary)
        raise
    for outcome in outcomes:  # a member that died before writing a summary still gets one
        if not (outcome.task.run_dir / "summary.json").is_file():
            outcome.task.run_dir.mkdir(parents=True, exist_ok=True)
            RunFolder(outcome.task.run_dir).write_summary({"status": "failed", "name": outcome.task.name,
                                                           "message": outcome.error})
    rows = sort_rows([_row(o.task.name, o) for o in outcomes], sort_by)
    write_outputs(parent, rows, outcomes)
    summary.update(status="completed" if all(r["status"] == "completed" for r in rows) else "partial",
                   statuses={r["member"]: r["status"] for r in rows})
    parent.write_summary(json_safe(summary))
    return Comparison(parent.path, rows, sort_by)


def write_outputs(parent: RunFolder, rows: list[dict[str, Any]], outcomes: Sequence[Outcome]) -> None:
    """comparison.csv and the overlay plots (against epoch and against wall-clock time)."""
    import pandas as pd

    from ..plots.compare import plot_overlay
    from ..runs.folder import atomic_write

    atomic_write(parent.path / "comparison.csv", pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False).encode())
    curves = {}
    for o in outcomes:
        path = o.task.run_dir / "metrics.csv"
        if path.is_file() and path.stat().st_size:
            df = pd.read_csv(path)
            if len(df):
                curves[o.task.name + ("" if o.status == "completed" else f" ({o.status})")] = df
    if not curves:
        return
    has_acc = any("val_acc" in df or "train_acc" in df for df in curves.values())
    for metric in ["loss", *(["acc"] if has_acc else [])]:
        for x in ("epoch", "elapsed_s"):
            label = "accuracy" if metric == "acc" else "loss"
            parent.save_figure(plot_overlay(curves, metric, x), f"{label}_vs_{'epoch' if x == 'epoch' else 'time'}.png")
