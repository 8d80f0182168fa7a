"""Bagging (Breiman 1996): members trained on bootstrap resamples of the training split, their predicted
probabilities averaged (regression: predictions averaged).

Member i is the config with ``data.bootstrap: {index: i}`` and seed + i, so members differ in their resample and
in their initial weights; validation and test sets are the same for all. Averaging many high-variance models
lowers the variance of the prediction (not its bias): the ensemble is usually better than its average member.

    runs/<stamp>-<name>-bagging-<hash6>/
        member-0/ ... member-<n-1>/   ordinary run folders
        ensemble.csv                  each member's test metrics and the ensemble's
        summary.json                  the ensemble's test metrics, the members' mean
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import resolve_config
from ..nn.losses import LOSSES
from ..runs.folder import RunFolder, atomic_write, json_safe
from .executor import Executor, LocalProcessExecutor, Outcome, Task


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


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ensemble_metrics(loss_name: str, outputs: list[np.ndarray], targets: np.ndarray) -> dict[str, float]:
    """Average the members: class probabilities (softmax of logits, or sigmoid) or regression outputs."""
    task = LOSSES[loss_name].task
    if task == "regression":
        mean = np.mean(outputs, axis=0)
        return {"loss": float(np.mean((mean - targets) ** 2))}
    if loss_name == "bce_with_logits":
        p = np.mean([0.5 * (1 + np.tanh(0.5 * o)) for o in outputs], axis=0)[:, 0]
        p = np.clip(p, 1e-12, 1 - 1e-12)
        y = targets.reshape(-1)
        return {"loss": float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))),
                "acc": float(np.mean((p > 0.5) == (y > 0.5)))}
    probs = np.mean([_softmax(o.astype(np.float64)) for o in outputs], axis=0)
    picked = probs[np.arange(len(targets)), targets]
    return {"loss": float(np.mean(-np.log(np.clip(picked, 1e-300, None)))),
            "acc": float(np.mean(probs.argmax(axis=1) == targets))}


def bag(cfg: dict[str, Any], *, runs_dir: str | Path | None = None, executor: Executor | None = None,
        on_done: Callable[[str, Outcome], None] | None = None) -> BaggingResult:
    """Train the members in parallel, then evaluate their average on the test set."""
    members = member_configs(cfg)
    parent = RunFolder.create(runs_dir, f"{cfg['name']}-bagging")
    summary: dict[str, Any] = {"status": "running", "kind": "bagging", "run_id": parent.run_id, "name": cfg["name"],
                               "n_estimators": len(members), "max_samples": cfg["ensemble"]["max_samples"]}
    parent.write_summary(summary)
    tasks = [Task(name, member, parent.path / name) for name, member in members]
    outcomes = (executor or LocalProcessExecutor()).run(tasks, (lambda o: on_done(o.task.name, o)) if on_done
                                                        else None)
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
        ens = ensemble_metrics(cfg["loss"]["name"], outputs, targets)
        rows.append({"model": f"ensemble of {len(outputs)}", "status": "completed",
                     **{f"test_{k}": v for k, v in ens.items()}, "n_train": None})
        summary["final"] = {f"test_{k}": v for k, v in ens.items()}
        done = [r for r in rows[:-1] if r["status"] == "completed"]
        summary["members_mean"] = {k: float(np.mean([r[k] for r in done])) for k in ("test_loss", "test_acc")
                                   if all(r.get(k) is not None for r in done)}
    import pandas as pd

    atomic_write(parent.path / "ensemble.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    summary["status"] = "completed" if outputs and len(outputs) == len(members) else "partial"
    parent.write_summary(json_safe(summary))
    return BaggingResult(parent.path, rows, summary)
