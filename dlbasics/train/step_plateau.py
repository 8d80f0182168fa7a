"""Reduce-on-plateau on the step cadence (``schedule: {name: plateau, interval: step, every: N}``).

The course notes' form of performance scheduling: "every N steps measure the validation loss; if it has not
gone down, multiply the learning rate by a factor". :func:`~dlbasics.train.loop.fit` adds this callback for a
plateau schedule whose interval is ``step``: after every N-th optimizer step it measures the monitored metric and
calls the schedule's ``step(metric)``, which applies PyTorch's ReduceLROnPlateau rule (patience, threshold,
cooldown, min_lr), so patience and cooldown count checks, i.e. units of N steps.

- ``val_loss`` / ``val_acc``: a validation pass (eval mode) at each check: N sets the cost;
- ``train_loss``: the mean of the N batch losses since the last check (no extra pass). The running sum is kept
  on the schedule (``window_sum``, ``window_n``), so a checkpoint saves it and a resumed run checks at the same
  steps.
"""

from __future__ import annotations

import numpy as np

from ..nn.losses import Loss
from ..nn.model import Sequential
from ..optim.schedules import ReduceLROnPlateau
from .loop import Callback, evaluate


class PlateauOnSteps(Callback):
    """Steps ``schedule`` with its monitored metric after every ``schedule.every``-th optimizer step."""

    def __init__(self, schedule: ReduceLROnPlateau, model: Sequential | None, loss_fn: Loss | None,
                 x_val: np.ndarray | None, y_val: np.ndarray | None, eval_batch_size: int = 2000):
        if schedule.monitor.startswith("val") and (x_val is None or len(x_val) == 0):
            raise ValueError(f"plateau monitors {schedule.monitor!r} but there is no validation split")
        self.schedule, self.model, self.loss_fn = schedule, model, loss_fn
        self.x_val, self.y_val, self.eval_batch_size = x_val, y_val, eval_batch_size

    def on_batch_end(self, batch: int, loss: float) -> None:
        s = self.schedule
        s.window_sum += loss
        s.window_n += 1
        if s.window_n < s.every:
            return
        if s.monitor == "train_loss":
            metric = s.window_sum / s.window_n
        else:
            measured = evaluate(self.model, self.loss_fn, self.x_val, self.y_val, self.eval_batch_size)
            metric = measured[s.monitor.removeprefix("val_")]
        s.window_sum, s.window_n = 0.0, 0
        s.step(metric)
