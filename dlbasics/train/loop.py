"""The training loop: epochs of shuffled mini-batches, evaluation in chunks, metrics per epoch.

An epoch is one permutation of the training set, cut into mini-batches (the last one may be smaller).
Training loss and accuracy of an epoch are the means over that epoch's mini-batches, computed from the
forward passes the step already made (the weights change during the epoch; the value is the usual running
figure, not a re-evaluation). Validation is a separate pass in eval mode after each epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..nn.losses import Loss
from ..nn.model import Sequential
from ..numerics import flush_denormals as flush_subnormals
from ..optim.clip import clip_grad_norm, clip_grad_value
from ..optim.optimizers import Optimizer
from ..optim.schedules import Schedule

#: ``divergence_threshold="auto"``: a loss this many times the first batch's (at least this number) diverged
AUTO_DIVERGENCE_FACTOR = 1e4


class Callback:
    """Hooks called by :func:`fit`; override the ones you need."""

    def on_train_begin(self, info: dict[str, Any]) -> None:
        """``info``: epochs, n_batches (per epoch), n_train, validates (a validation split is measured),
        classify (accuracy is measured), start_epoch (1, or the epoch a resumed run continues with)."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Before the first batch of ``epoch`` (1-based)."""

    def on_batch_end(self, batch: int, loss: float) -> None:
        """After optimizer step ``batch`` (1-based within the epoch) with that batch's loss."""

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        """With the epoch's metrics row; set ``History.stop`` (via ``self.history``) to end training early."""

    def on_epoch_complete(self, epoch: int) -> None:
        """At the very end of ``epoch``, after the schedule's step: the state a resumed run starts from."""

    def on_train_end(self) -> None:
        """After the last epoch (also after an early stop or divergence; not after an exception)."""


@dataclass
class FitSettings:
    """How :func:`fit` trains (the config's ``train`` and ``regularization.grad_clip`` keys)."""

    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 2000
    eval_every: int = 1
    eval_train: bool = False
    flush_denormals: bool = True
    clip_norm: float | None = None
    clip_value: float | None = None
    divergence_threshold: float | str | None = None
    #: epoch (1-based) -> mini-batch size of that epoch (``train.batch_schedule``); None: ``batch_size`` throughout
    batch_schedule: Callable[[int], int] | None = None


@dataclass
class History:
    """What :func:`fit` returns: one row of metrics per epoch and how training ended."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"  # completed | diverged | stopped
    message: str = ""
    steps: int = 0
    stop: bool = False
    limit: float | None = None  # the divergence threshold in force (``"auto"`` sets it at the first batch)


def evaluate(model: Sequential, loss_fn: Loss, x: np.ndarray, y: np.ndarray,
             batch_size: int = 2000) -> dict[str, float]:
    """Mean loss (and accuracy for classification) over ``x`` in eval mode, in chunks of ``batch_size``."""
    n = len(x)
    if n == 0:
        return {}
    total_loss, correct = 0.0, 0
    classify = loss_fn.task == "classification"
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = model.forward(xb, training=False)
        total_loss += loss_fn.forward(out, yb) * len(xb)
        if classify:
            correct += loss_fn.n_correct(out, yb)
    result = {"loss": total_loss / n}
    if classify:
        result["acc"] = correct / n
    return result


def predict(model: Sequential, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """Model outputs (logits for classification) for ``x`` in eval mode, in chunks."""
    return np.concatenate([model.forward(x[s:s + batch_size], training=False) for s in range(0, len(x), batch_size)])


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Batches of an epoch over ``n`` samples: ceil(n / batch_size), except that a last batch of one sample joins
    the one before it (batch norm cannot normalise a single sample, and its gradient would be the noisiest of
    the epoch)."""
    batch_size = min(batch_size, n)
    return n // batch_size if n % batch_size == 1 and n > batch_size else math.ceil(n / batch_size)


def fit(model: Sequential, loss_fn: Loss, optimizer: Optimizer, x_train: np.ndarray, y_train: np.ndarray, *,
        rng: np.random.Generator, settings: FitSettings | None = None, x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None, schedule: Schedule | None = None, callbacks: Sequence[Callback] = (),
        history: History | None = None, regularizer: Any = None, start_epoch: int = 1, **options: Any) -> History:
    """Train ``model`` in place; return the :class:`History`. Stops early on a non-finite loss (diverged).

    ``settings`` (a :class:`FitSettings`) or its fields as keywords (``epochs=5, batch_size=64``) say how.
    x_train: (N, *input_shape), y_train: (N,) class indices or (N, D) targets. ``batch_size >= N`` is
    full-batch gradient descent (one step per epoch). ``flush_denormals`` runs the loop with subnormal
    floats flushed to zero (see :mod:`dlbasics.numerics`): same results, without the CPU's slow path.
    Pass ``history`` to keep the rows of a run that is interrupted by an exception. ``clip_norm`` /
    ``clip_value`` clip the gradients before each step. A per-step schedule is stepped after every optimizer
    step, a per-epoch one after each epoch (reduce-on-plateau with the epoch's monitored metric).
    ``regularizer`` (a :class:`~dlbasics.train.regularization.Regularizer`) transforms each training batch,
    adds weight noise and penalty gradients. Validation runs every ``eval_every`` epochs and after the last;
    with ``eval_train`` the training split is evaluated then too, in eval mode and without any regularizer
    (``train_eval_loss``/``train_eval_acc``): the honest training error for the train-validation gap, where
    ``train_loss`` is a running mean over batches that dropout and augmentation have changed.
    ``divergence_threshold``: besides a NaN/inf loss, a batch (or validation) loss above this number ends
    training as diverged; ``"auto"`` sets it to ``AUTO_DIVERGENCE_FACTOR`` times the first batch's loss (at
    the initial weights; at least that factor); None: only NaN/inf.
    ``batch_schedule`` (epoch -> batch size, e.g. :class:`~dlbasics.train.batch_schedule.BatchSchedule`) changes the
    mini-batch size per epoch (recorded as ``batch_size`` in each row). A reduce-on-plateau schedule with
    ``interval: step`` is checked every ``schedule.every`` steps by :mod:`~dlbasics.train.step_plateau`.
    ``start_epoch`` > 1 continues a run: ``history`` then holds the rows and steps so far, and the model,
    optimizer, schedule, callbacks and generators have been restored to the end of epoch ``start_epoch - 1``.
    """
    try:
        s = replace(settings or FitSettings(), **options)
    except TypeError as err:
        raise TypeError(f"fit: {err}") from None
    epochs, batch_size, eval_batch_size, eval_every = s.epochs, s.batch_size, s.eval_batch_size, s.eval_every
    history = History() if history is None else history
    per_step = schedule is not None and schedule.interval == "step"
    if per_step and getattr(schedule, "monitor", None) is not None:  # plateau checked every N steps: a callback
        from .step_plateau import PlateauOnSteps

        callbacks = [*callbacks, PlateauOnSteps(schedule, model, loss_fn, x_val, y_val, eval_batch_size)]
        per_step = False
    for cb in callbacks:
        cb.history = history
    n = len(x_train)
    batch_size = min(batch_size, n)
    n_batches = batches_per_epoch(n, batch_size)
    classify = loss_fn.task == "classification"
    has_val = x_val is not None and len(x_val) > 0
    batch_hooks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    sizes = None if s.batch_schedule is None else [min(s.batch_schedule(e), n) for e in range(1, epochs + 1)]
    params = model.parameters()
    reg = regularizer if regularizer is not None and regularizer.active else None
    threshold = s.divergence_threshold
    if history.limit is None and threshold not in (None, "auto"):
        history.limit = float(threshold)
    info = {"epochs": epochs, "n_batches": n_batches, "n_train": n, "validates": has_val, "classify": classify,
            "start_epoch": start_epoch}
    if sizes is not None:
        info["batches_by_epoch"] = [batches_per_epoch(n, b) for b in sizes]
    for cb in callbacks:
        cb.on_train_begin(info)
    t_start = time.perf_counter() - (history.rows[-1]["elapsed_s"] if history.rows else 0.0)
    with np.errstate(over="ignore", invalid="ignore"), flush_subnormals(s.flush_denormals):
        for epoch in range(start_epoch, epochs + 1):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            t_epoch = time.perf_counter()
            lr = optimizer.lr
            if sizes is not None:  # a batch-size schedule (Smith et al. 2018): this epoch's size
                batch_size = sizes[epoch - 1]
                n_batches = batches_per_epoch(n, batch_size)
            order = rng.permutation(n)
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size if b < n_batches - 1 else n]
                xb, yb = x_train[idx], y_train[idx]
                if reg is not None:
                    xb, yb = reg.batch(xb, yb)
                    reg.before_forward()
                out = model.forward(xb, training=True)
                loss = loss_fn.forward(out, yb)
                if history.limit is None and threshold == "auto" and math.isfinite(loss):
                    history.limit = AUTO_DIVERGENCE_FACTOR * max(loss, 1.0)
                limit = history.limit
                if not math.isfinite(loss) or (limit is not None and loss > limit):
                    if reg is not None:
                        reg.restore()
                    history.status = "diverged"
                    history.message = (f"loss became {loss} at epoch {epoch}, batch {b + 1} (lr {lr:g})"
                                       if not math.isfinite(loss) else
                                       f"loss {loss:.4g} exceeded the divergence threshold {limit:.4g} at epoch "
                                       f"{epoch}, batch {b + 1} (lr {lr:g}); see train.divergence_threshold")
                    break
                model.backward(loss_fn.backward())
                if reg is not None:
                    reg.after_backward()
                if s.clip_norm is not None:
                    clip_grad_norm(params, s.clip_norm)
                if s.clip_value is not None:
                    clip_grad_value(params, s.clip_value)
                optimizer.step()
                if per_step:
                    schedule.step()
                history.steps += 1
                loss_sum += loss * len(idx)
                seen += len(idx)
                if classify:
                    correct += loss_fn.n_correct(out, yb)
                for cb in batch_hooks:
                    cb.on_batch_end(b + 1, loss)
            row: dict[str, Any] = {"epoch": epoch, "step": history.steps, "lr": lr,
                                   "train_loss": loss_sum / seen if seen else float("nan")}
            if sizes is not None:
                row["batch_size"] = batch_size
            if classify:
                row["train_acc"] = correct / seen if seen else float("nan")
            if reg is not None and reg.has_penalty:
                row["train_penalty"] = reg.penalty()
            if history.status == "diverged":
                row["train_loss"] = float("nan")
            elif has_val and (epoch % eval_every == 0 or epoch == epochs):
                val = evaluate(model, loss_fn, x_val, y_val, eval_batch_size)
                row.update({f"val_{k}": v for k, v in val.items()})
                if s.eval_train:
                    clean = evaluate(model, loss_fn, x_train, y_train, eval_batch_size)
                    row.update({f"train_eval_{k}": v for k, v in clean.items()})
            now = time.perf_counter()
            row["epoch_time_s"] = now - t_epoch
            row["elapsed_s"] = now - t_start
            history.rows.append(row)
            for cb in callbacks:
                cb.on_epoch_end(row)
            if history.status == "diverged":
                return _end(history, callbacks)
            limit = history.limit
            if "val_loss" in row and not (math.isfinite(row["val_loss"]) and (limit is None or
                                                                               row["val_loss"] <= limit)):
                history.status = "diverged"
                history.message = (f"validation loss became {row['val_loss']:.4g} at epoch {epoch} (lr {lr:g})"
                                   + ("" if not math.isfinite(row["val_loss"]) else
                                      f", above the divergence threshold {limit:.4g}"))
                return _end(history, callbacks)
            if schedule is not None and schedule.interval != "step":
                monitor = getattr(schedule, "monitor", None)
                if monitor is None:
                    schedule.step()
                elif row.get(monitor) is not None:  # plateau: only epochs that measured its metric
                    schedule.step(row[monitor])
            for cb in callbacks:
                cb.on_epoch_complete(epoch)
            if history.stop:
                history.status = "stopped"
                return _end(history, callbacks)
    history.status = "completed"
    return _end(history, callbacks)


def _end(history: History, callbacks: Sequence[Callback]) -> History:
    for cb in callbacks:
        cb.on_train_end()
    return history
