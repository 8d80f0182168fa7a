"""The learning-rate range test (Smith 2017, "Cyclical learning rates for training neural networks", section 3.3):
how 1cycle's maximum learning rate is chosen.

Train from the config's initial weights for at most ``steps`` mini-batches while the learning rate grows
exponentially from ``start`` to ``end``:

    lr_i = start * (end / start) ** (i / (steps - 1)),  i = 0 .. steps - 1      (lr_0 = start, lr_{steps-1} = end)

and record each batch's loss. The loss first stays flat (the lr is too small to move the weights), then falls
(the useful range), then explodes (too large). The curve is read through its exponential moving average with
bias correction, as fastai's ``lr_find`` smooths it (beta = 0.98):

    avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,  avg_{-1} = 0;    smoothed_i = avg_i / (1 - beta ** (i + 1))

and the test stops at the first step whose smoothed loss exceeds ``stop_factor`` (4) times the lowest smoothed
loss so far, or whose loss is not finite. Suggestions, computed (as fastai) on the points after the first
``steps // 10`` and before the last 5, which are the blow-up:

- ``valley`` (fastai's default): the longest decreasing stretch of the smoothed curve (its longest decreasing
  subsequence), and the point about half-way along it: well inside the region where the loss falls, before
  the minimum. The one ``--apply`` writes unless told otherwise.
- ``steep``: where the smoothed loss falls fastest per unit of log lr (the most negative slope d loss / d log lr).
- ``minimum``: the lr of the lowest smoothed loss, divided by 10 (the minimum itself is already too large).

The weights, optimizer state and generators are those a training run of the config starts from; the test
works on the experiment it builds, and :func:`range_test` (for a model of your own) puts the weights and the
optimizer state back when it is done: nothing the test does survives it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: fastai's defaults: lr from 1e-7 to 10 over 100 steps, stop at 4x the best smoothed loss, beta 0.98
START, END, STEPS, STOP_FACTOR, BETA = 1e-7, 10.0, 100, 4.0, 0.98
SUGGESTIONS = ("valley", "steep", "minimum")


def lr_sequence(start: float, end: float, steps: int) -> np.ndarray:
    """The ``steps`` learning rates of the test: geometric from ``start`` to ``end`` (both included); (steps,)."""
    if not 0 < start < end < math.inf:
        raise ValueError(f"the lr range needs 0 < start < end, got start {start:g}, end {end:g}")
    if steps < 2:
        raise ValueError(f"steps {steps}: the range test needs at least 2 steps")
    lrs = start * (end / start) ** (np.arange(steps) / (steps - 1))
    lrs[0], lrs[-1] = start, end  # exact ends, whatever the rounding of the power
    return lrs


def smooth(losses: np.ndarray, beta: float = BETA) -> np.ndarray:
    """Exponential moving average of ``losses`` with bias correction: avg_i / (1 - beta^(i+1)); (n,) -> (n,)."""
    losses = np.asarray(losses, dtype=np.float64)
    out = np.empty_like(losses)
    avg = 0.0
    for i, loss in enumerate(losses):  # a recurrence over the curve's points (at most a few hundred)
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def stop_index(smoothed: np.ndarray, stop_factor: float = STOP_FACTOR) -> int | None:
    """The first step whose smoothed loss is not finite or exceeds ``stop_factor`` x the lowest smoothed loss up to
    it; None if there is none."""
    smoothed = np.asarray(smoothed, dtype=np.float64)
    best = np.minimum.accumulate(np.where(np.isfinite(smoothed), smoothed, np.inf))
    bad = ~np.isfinite(smoothed) | (smoothed > stop_factor * best)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _valley(lrs: np.ndarray, losses: np.ndarray) -> int:
    """Index of fastai's valley point: along the longest decreasing subsequence of ``losses``, ending at
    ``last`` with length L, the point start + floor(s/3) + floor(s/6), start = last - L, s = L."""
    n = len(losses)
    run = np.ones(n, dtype=np.intp)  # run[i]: the longest decreasing subsequence ending at i
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            run[i] = run[:i][higher].max() + 1
    last = int(np.argmax(run))
    first = last - int(run[last])
    span = (last - first) / 3
    return max(0, min(n - 1, first + int(span) + int(span / 2)))


#: finite points the curve needs before a suggestion is read from it
MIN_POINTS = 5


def suggest(lrs: np.ndarray, smoothed: np.ndarray, steps: int) -> dict[str, dict[str, float]]:
    """The three suggestions, ``{name: {"lr": suggested lr, "at_lr": where on the curve, "loss": smoothed loss
    there}}`` (for ``minimum`` the lr is a tenth of ``at_lr``), from the recorded points trimmed as fastai: the
    first ``steps // 10`` and the last 5 left out (when at least 3 points remain), and nothing from the first
    non-finite one on."""
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(smoothed))
    end = int(bad[0]) if bad.size else len(smoothed)
    lo, hi = steps // 10, min(len(smoothed) - 5, end)  # fastai: [steps // 10:-5], then cut at the first NaN
    if hi - lo < 3:
        lo, hi = 0, end
    if end < MIN_POINTS:  # the loss blew up at once (a start lr already too large): no curve to read
        raise ValueError(f"the range test recorded {end} finite point(s) before the loss diverged; a suggestion needs "
                         f"at least {MIN_POINTS} (lower --start, or raise --steps)")
    x, y = lrs[lo:hi], smoothed[lo:hi]
    slope = np.diff(y) / np.diff(np.log(x))
    steep = int(np.argmin(slope))
    low = int(np.argmin(y))
    valley = _valley(x, y)
    return {"valley": {"lr": float(x[valley]), "at_lr": float(x[valley]), "loss": float(y[valley])},
            "steep": {"lr": float(x[steep]), "at_lr": float(x[steep]), "loss": float(y[steep])},
            "minimum": {"lr": float(x[low] / 10), "at_lr": float(x[low]), "loss": float(y[low])}}


@dataclass
class RangeTest:
    """What the test recorded: per step taken, its lr, the batch loss and the smoothed loss (each (n,)); why it
    stopped (``diverged``: smoothed loss above stop_factor x its minimum, ``not finite``, or ``end``: it reached
    the last lr); and the suggestions (:func:`suggest`)."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    stopped: str
    steps: int
    start: float
    end: float
    stop_factor: float
    suggestions: dict[str, dict[str, float]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One row per step: step (1-based), lr, loss, smoothed."""
        return [{"step": i + 1, "lr": float(lr), "loss": float(loss), "smoothed": float(sm)}
                for i, (lr, loss, sm) in enumerate(zip(self.lrs, self.losses, self.smoothed))]


def range_test(model: Any, loss_fn: Any, optimizer: Any, x: np.ndarray, y: np.ndarray, batch_size: int,
               rng: np.random.Generator, *, start: float = START, end: float = END, steps: int = STEPS,
               stop_factor: float = STOP_FACTOR, beta: float = BETA, regularizer: Any = None,
               clip_norm: float | None = None, clip_value: float | None = None) -> RangeTest:
    """Run the range test on ``model`` with ``optimizer`` over mini-batches of (x, y), then restore the weights and
    the optimizer's state and learning rates: the test leaves them as it found them.

    Batches are drawn as the training loop draws them (each epoch one permutation from ``rng``), with the same
    regularizer and gradient clipping. Every parameter group's lr is set to lr_i times its share of the first
    group's initial lr (per-layer ratios are kept); the lrs recorded and suggested are the first group's.
    """
    from ..optim.clip import clip_grad_norm, clip_grad_value
    from ..train.loop import batches_per_epoch

    lrs = lr_sequence(start, end, steps)
    weights = {k: v.copy() for k, v in model.state_dict().items()}
    saved_opt = optimizer.state_dict()
    base = optimizer.param_groups[0]["initial_lr"] or 1.0
    shares = [g["initial_lr"] / base for g in optimizer.param_groups]
    n = len(x)
    batch_size = min(batch_size, n)
    per_epoch = batches_per_epoch(n, batch_size)
    reg = regularizer if regularizer is not None and regularizer.active else None
    params = model.parameters()
    losses: list[float] = []
    best, avg, stopped = math.inf, 0.0, "end"
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            order, b = rng.permutation(n), 0
            for i, lr in enumerate(lrs):
                if b == per_epoch:
                    order, b = rng.permutation(n), 0
                idx = order[b * batch_size:(b + 1) * batch_size if b < per_epoch - 1 else n]
                b += 1
                for group, share in zip(optimizer.param_groups, shares):
                    group["lr"] = float(lr) * share
                xb, yb = x[idx], y[idx]
                if reg is not None:
                    xb, yb = reg.batch(xb, yb)
                    reg.before_forward()
                loss = float(loss_fn.forward(model.forward(xb, training=True), yb))
                losses.append(loss)
                avg = beta * avg + (1 - beta) * loss
                smoothed = avg / (1 - beta ** (i + 1))
                if not (math.isfinite(loss) and math.isfinite(smoothed)):
                    if reg is not None:
                        reg.restore()
                    stopped = "not finite"
                    break
                best = min(best, smoothed)
                if smoothed > stop_factor * best:
                    if reg is not None:
                        reg.restore()
                    stopped = "diverged"
                    break
                model.backward(loss_fn.backward())
                if reg is not None:
                    reg.after_backward()
                if clip_norm is not None:
                    clip_grad_norm(params, clip_norm)
                if clip_value is not None:
                    clip_grad_value(params, clip_value)
                optimizer.step()
    finally:
        model.load_state_dict(weights)
        optimizer.load_state_dict(saved_opt)
    taken = np.asarray(losses, dtype=np.float64)
    result = RangeTest(lrs[:len(taken)], taken, smooth(taken, beta), stopped, steps, start, end, stop_factor)
    result.suggestions = suggest(result.lrs, result.smoothed, steps)
    return result


def lr_find(cfg: dict[str, Any], *, start: float = START, end: float = END, steps: int = STEPS,
            stop_factor: float = STOP_FACTOR, beta: float = BETA, progress: bool = False) -> RangeTest:
    """The range test of a resolved config: its data, model (initial weights from its seed), loss, optimizer,
    batch size, regularizers and gradient clipping, as `dlb train` would start; the schedule is not used (the test
    sets the lr itself)."""
    from ..rng import stream
    from ..runner import build, build_regularizer

    exp = build(cfg, progress=progress)
    clip = cfg["regularization"]["grad_clip"]
    return range_test(exp.model, exp.loss, exp.optimizer, exp.splits.x_train, exp.splits.y_train, exp.batch_size,
                      stream(cfg["seed"], "shuffle"), start=start, end=end, steps=steps, stop_factor=stop_factor,
                      beta=beta, regularizer=build_regularizer(cfg, exp), clip_norm=clip["max_norm"],
                      clip_value=clip["max_value"])


def lr_key(cfg: dict[str, Any]) -> str:
    """The config key a suggested lr goes into: ``schedule.max_lr`` for a 1cycle schedule that sets one (1cycle's
    peak), else ``optimizer.lr`` (also 1cycle's peak when max_lr is left unset)."""
    if cfg["schedule"]["name"] == "onecycle" and cfg["schedule"].get("max_lr") is not None:
        return "schedule.max_lr"
    return "optimizer.lr"


def applied_config(raw: dict[str, Any], key: str, lr: float, name: str) -> dict[str, Any]:
    """A copy of the raw config ``raw`` (as written, overrides applied) with ``key`` (dotted) set to ``lr`` and its
    run name kept as ``name``."""
    import copy

    out = copy.deepcopy(raw)
    out.setdefault("name", name)
    section, _, leaf = key.partition(".")
    if not isinstance(out.get(section), dict):
        out[section] = {}
    out[section][leaf] = float(f"{lr:.3g}")
    return out
