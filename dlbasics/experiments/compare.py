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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, resolve_config
from ..config.fields import did_you_mean
from ..execution import EXIT_CODES, Executor, Task, TaskResult
from ..optim.optimizers import OPTIMIZERS
from ..runs.folder import RunFolder
from ..runs.paths import folder_name, run_path
from .multirun import OnDone, OnProgress, OnStart, close_group, guard, open_group, run_group

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
    for label, name in zip(unique_labels(list(optimizers)), optimizers):
        raw = copy.deepcopy(dict(cfg))
        keep = {k: raw["optimizer"][k] for k in ("param_groups", "no_weight_decay") if k in raw["optimizer"]}
        raw["optimizer"] = {"name": name, **keep, **({"lr": lrs[name]} if name in lrs else {})}
        raw["name"] = f"{cfg['name']}-{name}"
        members.append((label, _resolve_member(label, raw, overrides, source)))
    return members


def config_members(configs: Sequence[tuple[str, Mapping[str, Any]]],
                   overrides: Sequence[str] = ()) -> list[tuple[str, dict[str, Any]]]:
    """Members from several resolved configs, overrides applied to each, labelled by their ``name``
    (made unique by :func:`unique_labels`)."""
    labels = unique_labels([str(cfg["name"]) for _, cfg in configs])
    return [(label, _resolve_member(label, dict(cfg), overrides, source))
            for label, (source, cfg) in zip(labels, configs)]


def unique_labels(names: Sequence[str]) -> list[str]:
    """``names`` if they are unique; otherwise every member is labelled by its folder name (``00-a``, ``01-a``,
    ``02-a-2``), which the index prefix makes unique by construction (never a guessed ``-2`` suffix)."""
    if len(set(names)) == len(names):
        return list(names)
    return [folder_name(name, index=i) for i, name in enumerate(names)]


def member_path(parent: Path, index: int, label: str) -> Path:
    """The folder of member ``index``: its label behind its index (``03-adam``), the index written once."""
    prefix = f"{index:02d}-"
    return run_path(parent, label.removeprefix(prefix), index=index)


def _resolve_member(member: str, raw: dict[str, Any], overrides: Sequence[str], source: str) -> dict[str, Any]:
    try:
        return resolve_config(raw, source, overrides, name=raw.get("name"))
    except ConfigError as err:
        err.source = f"member {member}: {err.source}" if err.source else f"member {member}"
        raise


def check_members(members: Sequence[tuple[str, dict[str, Any]]], seeds: int = 1, folds: int = 0) -> None:
    """Build (data split, model, optimizer, schedule) of each distinct member's first replicate now, so a config
    error stops everything before a single process starts."""
    from ..runner import build

    seen = set()
    for member, cfg in members:
        first = replicate(cfg, "folds", 0, folds) if folds else cfg
        key = json.dumps({k: v for k, v in first.items() if k != "name"}, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            build(first, progress=False)
        except ConfigError as err:
            err.source = f"member {member}"
            if folds and err.path.startswith("data.fold"):
                err.path = "--kfold"
            raise


def _row(member: str, outcome: TaskResult) -> dict[str, Any]:
    s, run_dir = outcome.summary, outcome.task.run_dir
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
        "n_train": (s.get("data") or {}).get("n_train"), "n_heldout": (s.get("data") or {}).get("n_test"),
        "message": outcome.error, "run_dir": str(run_dir),
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


def replicate(cfg: dict[str, Any], kind: str, r: int, k: int) -> dict[str, Any]:
    """Replicate ``r`` of a member: seed + r ("seeds"), or held-out fold r of k ("folds", split as the member's
    ``cv`` section says: its strategy, gap, window)."""
    if kind == "seeds":
        out = copy.deepcopy(cfg)
        out["seed"] = cfg["seed"] + r
        out["name"] = f"{cfg['name']}-seed{out['seed']}"
        return out
    from .cv import with_fold

    return with_fold(cfg, k, r)


def compare(members: Sequence[tuple[str, dict[str, Any]]], *, name: str, runs_dir: str | Path | None = None,
            executor: Executor | None = None, sort_by: str | None = None, on_done: OnDone | None = None,
            on_progress: OnProgress | None = None, on_start: OnStart | None = None, seeds: int = 1, folds: int = 0,
            baseline: str | None = None, reused: Sequence[Path] = ()) -> Comparison:
    """Train every member (in parallel through ``executor``) into one parent folder and tabulate them.

    ``seeds`` > 1 repeats every member with seeds seed, seed + 1, ...; ``folds`` = k runs every member on the k
    folds of a cross-validation of the training set instead (metrics then on the held-out folds). Either way
    the table shows each member's mean and 95 % t-interval, and the paired difference to ``baseline`` (default:
    the first member) over the same seeds (paired t) or folds (Nadeau & Bengio's corrected resampled t-test).
    Labels that repeat are made unique with :func:`unique_labels`.

    ``reused``: finished run folders that join as members without training (after ``members``, labelled by their
    config's name): their rows come from their summary.json, their curves from their metrics.csv, and they stay
    where they are (the comparison's table points at them). Not with ``seeds`` or ``folds``.
    """
    kind, count = ("folds", folds) if folds else ("seeds", max(1, seeds))
    previous = [reused_member(Path(p)) for p in reused]
    if previous and (kind == "folds" or count > 1):
        raise ConfigError(f"--{'kfold' if kind == 'folds' else 'seeds'} trains every member again; run folders "
                          f"({', '.join(str(p) for p in reused)}) are reused only as single runs")
    labels = unique_labels([m for m, _ in members] + [str(cfg["name"]) for cfg, _, _ in previous])
    members = list(zip(labels, (cfg for _, cfg in members)))
    old = list(zip(labels[len(members):], previous))
    sort_by = sort_by or default_sort(members + [(label, cfg) for label, (cfg, _, _) in old])
    group = open_group("compare", name, runs_dir, sort_by=sort_by, members=labels, replicates=kind,
                       n_replicates=count, **({"reused": {label: str(path) for label, (_, path, _) in old}}
                                              if old else {}))
    tasks = []
    for i, (member, cfg) in enumerate(members):
        folder = member_path(group.path, i, member)
        if count == 1 and kind == "seeds":
            tasks.append(Task(member, cfg, folder, {"member": member}))
        else:
            tasks += [Task(f"{member} {kind[:-1]} {r}", replicate(cfg, kind, r, count),
                           run_path(folder, f"{kind[:-1]}-{r}"), {"member": member, "replicate": f"{kind[:-1]}{r}"})
                      for r in range(count)]
    done = {}
    for label, (cfg, path, summary) in old:  # finished already: kept as they are, like a resumed sweep's members
        done[len(tasks)] = TaskResult(Task(label, cfg, path, {"member": label, "reused": True}), summary["status"],
                                      summary, "" if summary["status"] == "completed" else summary.get("message") or "",
                                      float(summary.get("duration_s") or 0.0))
        tasks.append(done[len(tasks)].task)
    outcomes = run_group(group, tasks, executor, on_done, on_progress, done=done, on_start=on_start)
    with guard(group):
        runs = [_row(o.task.meta["member"], o) for o in outcomes]
        if count == 1 and kind == "seeds":
            rows = sort_rows(runs, sort_by)
            write_outputs(group.folder, rows, outcomes)
        else:
            for row, o in zip(runs, outcomes):
                row["replicate"] = o.task.meta["replicate"]
            rows = sort_rows(aggregate(runs, labels, kind, sort_by, baseline), sort_by)
            write_outputs(group.folder, rows, outcomes, runs)
            group.summary["baseline"] = baseline or members[0][0]
        close_group(group, outcomes, statuses={r["member"]: r["status"] for r in rows})
    return Comparison(group.path, rows, sort_by)


def reused_member(path: Path) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """(config, absolute folder, summary) of a finished run that joins a comparison as it is; ConfigError (or
    CorruptRunError) in one line for a folder that is not a finished single run."""
    from ..config import yaml_io
    from ..runs.summary import read_summary

    summary = read_summary(path / "summary.json")
    if (summary.get("kind") or "train") != "train":
        raise ConfigError(f"{path} is a {summary['kind']} folder, not a run; give one of its members "
                          "(<group>/<member>)")
    if summary["status"] not in EXIT_CODES:
        raise ConfigError(f"{path}: the run is {summary['status']}; only a finished run can be reused")
    cfg = yaml_io.load_file(path / "config.yaml")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("optimizer"), dict) or "loss" not in cfg:
        raise ConfigError(f"{path / 'config.yaml'}: not a resolved run config")
    cfg.setdefault("name", summary.get("name") or path.name)
    return cfg, path.absolute(), summary


AGGREGATED = ("test_acc", "test_loss", "final_val_acc", "final_val_loss", "final_train_loss", "gap")


def aggregate(runs: list[dict[str, Any]], members: Sequence[str], kind: str, key: str,
              baseline: str | None = None) -> list[dict[str, Any]]:
    """One row per member: mean and 95 % t-interval of each metric over its replicates, and the paired
    difference of ``key`` to the baseline member (paired t over seeds; corrected resampled t over folds)."""
    from .replicates import interval_columns, paired_test

    base = baseline or members[0]
    by_member = {m: [r for r in runs if r["member"] == m] for m in members}
    if base not in by_member:
        raise ConfigError(f"baseline {base!r} is not a member{did_you_mean(base, list(members))}")
    out = []
    for m in members:
        reps = by_member[m]
        done = [r for r in reps if r["status"] == "completed"]
        row: dict[str, Any] = {"member": m, "status": "completed" if len(done) == len(reps) else
                               f"{len(done)}/{len(reps)} completed", "completed": len(done),
                               "optimizer": reps[0]["optimizer"],
                               "lr": reps[0]["lr"], "replicates": len(reps), "epochs": reps[0]["epochs"],
                               "duration_s": sum(r["duration_s"] or 0 for r in reps), "run_dir": str(
                                   Path(reps[0]["run_dir"]).parent)}
        row.update({k: v for k, v in interval_columns(reps, AGGREGATED).items() if not k.endswith("_std")})
        test = paired_test(reps, by_member[base], key, kind == "folds", lambda r: r["replicate"]) if m != base \
            else None
        if test is not None:
            row.update({"diff_vs_baseline": test["diff"], "diff_low": test["low"], "diff_high": test["high"],
                        "p_value": test["p_value"]})
        out.append(row)
    return out


def write_outputs(parent: RunFolder, rows: list[dict[str, Any]], outcomes: Sequence[TaskResult],
                  runs: list[dict[str, Any]] | None = None) -> None:
    """comparison.csv (and replicates.csv: every run), and the curves against epoch and wall-clock time: one line
    per member, or with replicates each member's mean over all of them with its 95 % band."""
    import pandas as pd

    from ..plots.bands import frames_of, plot_bands
    from ..plots.compare import plot_overlay
    from ..runs.folder import atomic_write

    if runs is None:
        atomic_write(parent.path / "comparison.csv", pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False).encode())
    else:
        atomic_write(parent.path / "comparison.csv", pd.DataFrame(rows).to_csv(index=False).encode())
        atomic_write(parent.path / "replicates.csv", pd.DataFrame(runs).to_csv(index=False).encode())
    groups: dict[str, list[Any]] = {}
    for o in outcomes:
        groups.setdefault(o.task.meta["member"], []).append(o)
    curves = {}
    for member, results in groups.items():
        frames = frames_of([o.task.run_dir for o in results])
        failed = [o.status for o in results if o.status != "completed"]
        if frames:
            curves[member + (f" ({', '.join(sorted(set(failed)))})" if failed else "")] = frames
    if not curves:
        return
    has_acc = any("val_acc" in df or "train_acc" in df for frames in curves.values() for df in frames)
    for metric in ["loss", *(["acc"] if has_acc else [])]:
        for x in ("epoch", "elapsed_s"):
            label = "accuracy" if metric == "acc" else "loss"
            if runs is None:
                fig = plot_overlay({k: v[0] for k, v in curves.items()}, metric, x, title=parent.run_id)
            else:
                fig = plot_bands(curves, metric, x, title=f"{parent.run_id}\n{label}: mean over "
                                                          f"{len(outcomes) // len(groups)} replicates per member, "
                                                          "95 % t-band")
            parent.save_figure(fig, f"{label}_vs_{'epoch' if x == 'epoch' else 'time'}.png")
