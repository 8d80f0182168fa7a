"""Callbacks that change training: early stopping."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nn.model import Sequential
from .loop import Callback


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` evaluated epochs.

    Improvement (mode "min"): value < best - min_delta; mode "max": value > best + min_delta ("auto": max for
    accuracies, min otherwise). With ``restore_best`` the weights (and batch-norm statistics) of the best epoch
    are put back when training ends, so the test evaluates the model that early stopping chose.
    Epochs without the monitored value (``train.eval_every``) are skipped.
    """

    def __init__(self, model: Sequential, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best: bool = True):
        self.model, self.monitor, self.patience, self.min_delta = model, monitor, patience, min_delta
        self.mode = ("max" if monitor.endswith("acc") else "min") if mode == "auto" else mode
        self.restore_best = restore_best
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        value = row.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_state = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = row["epoch"]
            self.history.stop = True

    def on_train_end(self) -> None:
        if self.restore_best and self.best_state is not None and self.best_epoch is not None:
            self.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """What it has seen: best value and epoch, patience used, and the best weights (arrays) if kept."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_state": self.best_state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = saved["best"], saved["best_epoch"], saved["wait"]
        self.stopped_epoch, self.best_state = saved["stopped_epoch"], saved["best_state"]

    def report(self) -> dict[str, Any]:
        """For summary.json: where it stopped, the best epoch, whether its weights were restored."""
        return {"monitor": self.monitor, "mode": self.mode, "patience": self.patience, "stopped_epoch":
                self.stopped_epoch, "best_epoch": self.best_epoch, "best_value": self.best if self.best_epoch else None,
                "restored": bool(self.restore_best and self.best_state is not None)}
