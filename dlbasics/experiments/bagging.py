"""Bagging (Breiman 1996): members trained on bootstrap resamples of the training split, their predicted
probabilities averaged (regression: predictions averaged).

Member i is the config with ``data.bootstrap: {index: i}`` and seed + i, so members differ in their resample and
in their initial weights; validation and test sets are the same for all. Averaging many high-variance models
lowers the variance of the prediction (not its bias): the ensemble is usually better than its average member.

    runs/<stamp>-bagging-<name>-<hash6>/
        member-0/ ... member-<n-1>/   ordinary run folders
        ensemble.csv                  each member's test metrics and the ensemble's
        summary.json                  the ensemble's test metrics, the members' mean
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import resolve_config
from ..execution import Executor, Task
from ..nn.losses import LOSSES, probabilities
from ..runs.folder import atomic_write
from ..runs.paths import run_path
from .multirun import OnDone, OnProgress, OnStart, close_group, guard, open_group, run_group


@dataclass
class BaggingResult:
    path: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def member_configs(cfg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The members' resolved configs: bootstrap resample i, seed + i, no ensemble section."""
    out = []
    for i in range(cfg["ensemble"]["n_estimators"]):
        raw = copy.deepcopy(cfg)
        raw["ensemble"] = {"method": "none"}
        raw["data"]["bootstrap"] = {"index": i, "max_samples": cfg["ensemble"]["max_samples"]}
        raw["seed"] = cfg["seed"] + i
        raw["name"] = f"{cfg['name']}-member-{i}"
        out.append((f"member-{i}", resolve_config(raw, f"member {i}", name=raw["name"])))
    return out


def ensemble_metrics(loss_name: str, outputs: list[np.ndarray], targets: np.ndarray,
                     loss_params: dict[str, Any] | None = None) -> dict[str, float]:
    """The members averaged, scored with the run's own loss: class probabilities (softmax of the logits, or the
    sigmoid) are averaged and turned back into logits (log p, or log p / (1 - p)); regression outputs are averaged."""
    loss = LOSSES[loss_name](**(loss_params or {}))
    if loss.task == "regression":
        return {"loss": loss.forward(np.mean(outputs, axis=0), targets)}
    if loss_name == "bce_with_logits":
        p = np.clip(np.mean([0.5 * (1 + np.tanh(0.5 * o.astype(np.float64))) for o in outputs], axis=0),
                    1e-15, 1 - 1e-15)
        logits = np.log(p) - np.log1p(-p)
    else:
        logits = np.log(np.clip(np.mean([probabilities(o, loss_name) for o in outputs], axis=0), 1e-300, None))
    return {"loss": loss.forward(logits, targets), "acc": loss.n_correct(logits, targets) / len(targets)}


def bag(cfg: dict[str, Any], *, runs_dir: str | Path | None = None, executor: Executor | None = None,
        on_done: OnDone | None = None, on_progress: OnProgress | None = None,
        on_start: OnStart | None = None) -> BaggingResult:
    """Train the members in parallel, then evaluate their average on the test set."""
    members = member_configs(cfg)
    group = open_group("bagging", cfg["name"], runs_dir, n_estimators=len(members),
                       max_samples=cfg["ensemble"]["max_samples"])
    tasks = [Task(name, member, run_path(group.path, name)) for name, member in members]
    outcomes = run_group(group, tasks, executor, on_done, on_progress, on_start=on_start)
    with guard(group):
        rows, outputs, targets = [], [], None
        for o in outcomes:
            final = (o.summary.get("final") or {})
            rows.append({"model": o.task.name, "status": o.status, "test_loss": final.get("test_loss"),
                         "test_acc": final.get("test_acc"), "n_train": (o.summary.get("data") or {}).get("n_train")})
            pred = o.task.run_dir / "test_predictions.npz"
            if o.status == "completed" and pred.is_file():
                with np.load(pred, allow_pickle=False) as z:
                    outputs.append(z["outputs"])
                    targets = z["targets"]
        if outputs:
            ens = ensemble_metrics(cfg["loss"]["name"], outputs, targets,
                                   {k: v for k, v in cfg["loss"].items() if k != "name"})
            rows.append({"model": f"ensemble of {len(outputs)}", "status": "completed",
                         **{f"test_{k}": v for k, v in ens.items()}, "n_train": None})
            group.summary["final"] = {f"test_{k}": v for k, v in ens.items()}
            done = [r for r in rows[:-1] if r["status"] == "completed"]
            group.summary["members_mean"] = {k: float(np.mean([r[k] for r in done])) for k in ("test_loss", "test_acc")
                                             if all(r.get(k) is not None for r in done)}
        import pandas as pd

        atomic_write(group.path / "ensemble.csv", pd.DataFrame(rows).to_csv(index=False).encode())
        close_group(group, outcomes)
    return BaggingResult(group.path, rows, group.summary)
