"""checkpoint.npz: everything a run needs to continue bit for bit, written at the end of an epoch, no pickle.

    model/<name>              weights and buffers (BatchNorm's running statistics)
    optimizer/<i>/<name>      the optimizer's per-parameter arrays (moments, momentum buffers), by parameter index
    early_stopping/<name>     the best epoch's weights, when early stopping keeps them
    meta                      one JSON string: the epoch; the optimizer's scalar state and parameter groups (lr,
                              betas, ...); the schedule's time (and plateau's memory); early stopping's counters;
                              every random generator's ``bit_generator.state`` (the batch order, augmentation,
                              mixing, noise, each dropout layer); how many metrics rows (epochs) it covers, the
                              step count and the divergence threshold in force. The rows themselves are read back
                              from metrics.csv (floats written with repr round-trip exactly), so a checkpoint
                              does not grow with the run.

A resumed run rebuilds everything from its config.yaml (the same seed gives the same data split), then loads
this over it: weights, optimizer, schedule, callbacks and generators are where the uninterrupted run would be.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
NAME = "checkpoint.npz"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the epoch it ends, its arrays by section and its JSON meta."""

    epoch: int
    arrays: dict[str, dict[str, np.ndarray]]
    meta: dict[str, Any]


def _arrays_and_scalars(tree: dict[Any, Any], prefix: str, arrays: dict[str, np.ndarray]) -> dict[Any, Any]:
    """Move the arrays of a nested dict into ``arrays`` (keys ``prefix/key/...``); return what is left."""
    left: dict[Any, Any] = {}
    for key, value in tree.items():
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}/{key}"] = value
        elif isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values()):
            for k, v in value.items():
                arrays[f"{prefix}/{key}/{k}"] = v
        else:
            left[key] = value
    return left


def encode(*, epoch: int, model: Any, optimizer: Any, schedule: Any, stopper: Any, rngs: dict[str, Any],
           history: Any) -> bytes:
    """The checkpoint file's bytes (an .npz) for the state at the end of ``epoch``."""
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    opt_scalars = {i: _arrays_and_scalars(st, f"optimizer/{i}", arrays) for i, st in opt["state"].items()}
    stopping = None
    if stopper is not None:
        state = stopper.state_dict()
        best = state.pop("best_state")
        for k, v in (best or {}).items():
            arrays[f"early_stopping/{k}"] = v
        stopping = {**state, "has_best_state": best is not None}
    meta = {"format": FORMAT, "epoch": epoch,
            "optimizer": {"state": opt_scalars, "param_groups": opt["param_groups"]},
            "schedule": schedule.state_dict() if schedule is not None else None,
            "early_stopping": stopping,
            "rngs": {name: g.bit_generator.state for name, g in rngs.items()},
            "layer_rngs": model.rng_states(),
            "history": {"epochs": len(history.rows), "steps": history.steps, "limit": history.limit}}
    arrays["meta"] = np.array(json.dumps(meta, default=_plain))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _plain(value: Any) -> Any:
    """NumPy scalars (a metric computed in float32) as Python numbers, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint (``allow_pickle=False``); ValueError naming the file if it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            files = {name: z[name] for name in z.files}
        meta = json.loads(str(files.pop("meta")))
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a readable checkpoint ({' '.join(str(err).split())})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {meta.get('format')}, this dlbasics reads {FORMAT}")
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for name, value in files.items():
        section, _, rest = name.partition("/")
        arrays.setdefault(section, {})[rest] = value
    return Checkpoint(int(meta["epoch"]), arrays, meta)


def restore(ckpt: Checkpoint, *, model: Any, optimizer: Any, schedule: Any, stopper: Any,
            rngs: dict[str, Any], history: Any, rows: list[dict[str, Any]]) -> int:
    """Load ``ckpt`` into freshly built objects; return the next epoch to train. ``rows``: the run's metrics
    rows (from metrics.csv, whose floats round-trip exactly), of which the checkpoint's epochs are kept."""
    model.load_state_dict(ckpt.arrays.get("model", {}))
    opt = ckpt.meta["optimizer"]
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in opt["state"].items()}
    for key, value in ckpt.arrays.get("optimizer", {}).items():
        i, _, name = key.partition("/")
        state.setdefault(int(i), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": opt["param_groups"]})
    if schedule is not None and ckpt.meta["schedule"] is not None:
        schedule.load_state_dict(ckpt.meta["schedule"])
    saved = ckpt.meta["early_stopping"]
    if stopper is not None and saved is not None:
        best = ckpt.arrays.get("early_stopping", {}) if saved.pop("has_best_state") else None
        stopper.load_state_dict({**saved, "best_state": best})
    for name, generator in rngs.items():
        generator.bit_generator.state = ckpt.meta["rngs"][name]
    model.set_rng_states(ckpt.meta["layer_rngs"])
    saved_history = ckpt.meta["history"]
    if len(rows) < saved_history["epochs"]:
        raise ValueError(f"metrics.csv has {len(rows)} rows, the checkpoint {saved_history['epochs']} epochs")
    history.rows[:] = rows[:saved_history["epochs"]]
    history.steps, history.limit = saved_history["steps"], saved_history["limit"]
    return ckpt.epoch + 1
