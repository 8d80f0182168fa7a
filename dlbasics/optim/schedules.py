"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` defines them (and the course's power and piecewise).

The contract: ``Schedule(optimizer, total=..., interval=..., warmup=..., **hyper)`` sets every parameter group's
lr for time 0; ``step()`` advances time by one unit and sets the lr for the next one. The unit is an epoch or an
optimizer step (``interval``; each schedule has the default its definition implies: one-cycle per step, the
rest per epoch); ``total`` is the number of units in the run (train.epochs, or epochs x steps per epoch).

Closed-form schedules define ``lr_at(t, base_lr)`` (one-cycle computes its own phases); ``trace`` steps a
schedule on a throw-away optimizer, so it can be plotted without training (``dlb schedule``). ``warmup: k``
multiplies any of them by PyTorch's LinearLR ramp, start_factor -> 1 over the first k units (as
``ChainedScheduler([LinearLR(...), schedule])``). Reduce-on-plateau reacts to a metric and is stepped by the
training loop with it.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, ClassVar

from ..config.fields import Bool, Choice, Num, Optional, Seq, Spec
from .optimizers import Optimizer

_INTERVAL = Choice(["epoch", "step"], doc="what one unit of time is: an epoch or an optimizer step")
_GAMMA = Num(gt=0.0, doc="multiplicative factor of each decay")
COMMON: dict[str, Spec] = {
    "interval": Optional(_INTERVAL, doc="epoch or step (default: the schedule's own)"),
    "warmup": Num(integer=True, ge=0, doc="units of linear warm-up multiplied in (PyTorch's LinearLR)"),
    "warmup_start_factor": Num(gt=0.0, le=1.0, doc="warm-up starts at this fraction of the lr"),
}


class Schedule:
    """Base class: time ``t`` in epochs or steps, the closed form ``lr_at``, the warm-up ramp."""

    constraints: ClassVar[dict[str, Spec]] = {}
    default_interval: ClassVar[str] = "epoch"
    closed_form: ClassVar[bool] = True

    def __init__(self, optimizer: Optimizer, total: int | None = None, interval: str | None = None,
                 warmup: int = 0, warmup_start_factor: float = 1 / 3):
        self.optimizer, self.total = optimizer, total
        self.interval = interval or self.default_interval
        self.warmup, self.warmup_start_factor = warmup, warmup_start_factor
        self.t = 0
        self.apply()

    def lr_at(self, t: int, base_lr: float) -> float:
        """The learning rate at time t of a group whose initial lr is ``base_lr`` (warm-up excluded)."""
        return base_lr

    def warmup_factor(self, t: int) -> float:
        """LinearLR: start_factor + (1 - start_factor) min(t, warmup) / warmup; 1 without warm-up."""
        if not self.warmup:
            return 1.0
        return self.warmup_start_factor + (1 - self.warmup_start_factor) * min(t, self.warmup) / self.warmup

    def apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.t, group["initial_lr"]) * self.warmup_factor(self.t)

    def step(self, metric: float | None = None) -> None:
        """Advance one unit of time (``metric`` is used by reduce-on-plateau only)."""
        self.t += 1
        self.apply()

    #: attributes that change as the schedule runs (its hyper-parameters come from the config)
    state_keys: ClassVar[tuple[str, ...]] = ("t",)

    def state_dict(self) -> dict[str, Any]:
        """Where the schedule is: its time and, for reduce-on-plateau, what it has seen (JSON-able)."""
        return {k: getattr(self, k) for k in self.state_keys}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` output; a closed-form schedule re-applies its lr at that time."""
        for k in self.state_keys:
            setattr(self, k, saved[k])
        if self.closed_form:
            self.apply()


class Constant(Schedule):
    """lr_t = lr."""


class StepLR(Schedule):
    """lr_t = lr * gamma^floor(t / step_size) (``StepLR``)."""

    constraints: ClassVar[dict[str, Spec]] = {"step_size": Num(integer=True, ge=1, doc="units between decays"),
                                              "gamma": _GAMMA}

    def __init__(self, optimizer, step_size: int = 10, gamma: float = 0.1, **common: Any):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(Schedule):
    """lr_t = lr * gamma^(number of milestones <= t) (``MultiStepLR``)."""

    constraints: ClassVar[dict[str, Spec]] = {
        "milestones": Seq(Num(integer=True, ge=1), min_len=1, doc="times at which the lr is multiplied by gamma"),
        "gamma": _GAMMA}

    def __init__(self, optimizer, milestones: list[int], gamma: float = 0.1, **common: Any):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class ExponentialLR(Schedule):
    """lr_t = lr * gamma^t (``ExponentialLR``); the course's lr0 * 0.1^(t/s) is gamma = 0.1^(1/s)."""

    constraints: ClassVar[dict[str, Spec]] = {"gamma": _GAMMA}

    def __init__(self, optimizer, gamma: float = 0.95, **common: Any):
        self.gamma = gamma
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return base_lr * self.gamma**t


class PowerLR(Schedule):
    """Power scheduling: lr_t = lr / (1 + t / s)^c; c = 1 is inverse-time decay (Keras' InverseTimeDecay)."""

    constraints: ClassVar[dict[str, Spec]] = {"s": Num(gt=0.0, doc="time scale: the lr halves (c = 1) at t = s"),
                                              "c": Num(gt=0.0, doc="power")}

    def __init__(self, optimizer, s: float = 10.0, c: float = 1.0, **common: Any):
        self.s, self.c = s, c
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return base_lr / (1 + t / self.s) ** self.c


class PiecewiseConstant(Schedule):
    """lr_t = lr * factors[i] for boundaries[i-1] <= t < boundaries[i] (factors has one more entry)."""

    constraints: ClassVar[dict[str, Spec]] = {
        "boundaries": Seq(Num(integer=True, ge=1), min_len=1, doc="times where the next factor starts"),
        "factors": Seq(Num(gt=0.0), min_len=2, doc="lr multipliers, one more than boundaries")}

    def __init__(self, optimizer, boundaries: list[int], factors: list[float], **common: Any):
        self.boundaries, self.factors = list(boundaries), list(factors)
        if len(self.factors) != len(self.boundaries) + 1 or self.boundaries != sorted(self.boundaries):
            raise ValueError("piecewise needs increasing boundaries and one more factor than boundaries, got "
                             f"{len(self.boundaries)} boundaries and {len(self.factors)} factors")
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return base_lr * self.factors[bisect.bisect_right(self.boundaries, t)]


class LinearLR(Schedule):
    """lr_t = lr * (start + (end - start) min(t, total_iters) / total_iters) (``LinearLR``)."""

    constraints: ClassVar[dict[str, Spec]] = {
        "start_factor": Num(gt=0.0, le=1.0, doc="factor at t = 0"), "end_factor": Num(ge=0.0, le=1.0,
                                                                                     doc="factor from total_iters on"),
        "total_iters": Num(integer=True, ge=1, doc="units of the linear change")}

    def __init__(self, optimizer, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5,
                 **common: Any):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        frac = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class CosineAnnealing(Schedule):
    """lr_t = eta_min + (lr - eta_min) (1 + cos(pi t / T_max)) / 2 (``CosineAnnealingLR``, closed form).

    ``T_max`` defaults to the whole run (``total``); past T_max the cosine continues.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "T_max": Optional(Num(integer=True, ge=1), doc="units of the half cosine (default: the whole run)"),
        "eta_min": Num(ge=0.0, doc="final learning rate")}

    def __init__(self, optimizer, T_max: int | None = None, eta_min: float = 0.0, **common: Any):
        total = common.get("total")
        if T_max is None and total is None:
            raise ValueError("cosine needs T_max or the run's total length")
        self.T_max, self.eta_min = T_max or total, eta_min
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class CosineWarmRestarts(Schedule):
    """SGDR (Loshchilov & Hutter 2017) as ``CosineAnnealingWarmRestarts``: cosine from lr to eta_min over T_i units,
    then restart, with T_0 = ``T_0`` and T_(i+1) = T_mult * T_i."""

    constraints: ClassVar[dict[str, Spec]] = {
        "T_0": Num(integer=True, ge=1, doc="units of the first cycle"),
        "T_mult": Num(integer=True, ge=1, doc="each cycle is this many times longer"),
        "eta_min": Num(ge=0.0, doc="learning rate at the end of each cycle")}

    def __init__(self, optimizer, T_0: int = 10, T_mult: int = 1, eta_min: float = 0.0, **common: Any):
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer, **common)

    def lr_at(self, t, base_lr):
        if self.T_mult == 1:
            t_cur, t_i = t % self.T_0, self.T_0
        else:
            n = int(math.log(t / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            t_cur = t - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            t_i = self.T_0 * self.T_mult**n
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2018) as ``OneCycleLR``, with its defaults, stepped per optimizer step.

    The lr rises from max_lr / div_factor to max_lr over the first pct_start of the run, then anneals to
    max_lr / (div_factor * final_div_factor) (cosine or linear); momentum (SGD) or beta1 (Adam family) moves
    the opposite way between max_momentum and base_momentum. ``three_phase``: rise, fall back to the start,
    then anneal. ``max_lr`` defaults to each group's lr.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "max_lr": Optional(Num(gt=0.0), doc="peak lr (default: the optimizer's lr)"),
        "pct_start": Num(gt=0.0, lt=1.0, doc="fraction of the run spent rising"),
        "anneal_strategy": Choice(["cos", "linear"], doc="shape of each phase"),
        "div_factor": Num(gt=0.0, doc="initial lr = max_lr / div_factor"),
        "final_div_factor": Num(gt=0.0, doc="final lr = initial lr / final_div_factor"),
        "three_phase": Bool(doc="rise, come back down to the initial lr, then anneal"),
        "cycle_momentum": Bool(doc="cycle momentum / beta1 inversely to the lr"),
        "base_momentum": Num(ge=0.0, lt=1.0, doc="momentum at the peak lr"),
        "max_momentum": Num(ge=0.0, lt=1.0, doc="momentum at the start and the end"),
    }
    default_interval = "step"

    def __init__(self, optimizer, max_lr: float | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 cycle_momentum: bool = True, base_momentum: float = 0.85, max_momentum: float = 0.95,
                 **common: Any):
        total = common.get("total")
        if not total:
            raise ValueError("onecycle needs the run's total number of steps")
        self.pct_start, self.anneal_strategy, self.three_phase = pct_start, anneal_strategy, three_phase
        self.cycle_momentum, self.base_momentum, self.max_momentum = cycle_momentum, base_momentum, max_momentum
        self.use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum and not (self.use_beta1 or "momentum" in optimizer.defaults):
            raise ValueError("cycle_momentum needs an optimizer with momentum or beta1 (sgd, adam, ...)")
        for group in optimizer.param_groups:  # as OneCycleLR: the group's lr is replaced by the cycle's own
            peak = max_lr if max_lr is not None else group["initial_lr"]
            group["max_lr"], group["initial_lr"] = peak, peak / div_factor
            group["min_lr"] = group["initial_lr"] / final_div_factor
        if three_phase:
            self.phases = [(float(pct_start * total) - 1, "initial_lr", "max_lr", "max_m", "base_m"),
                           (float(2 * pct_start * total) - 2, "max_lr", "initial_lr", "base_m", "max_m"),
                           (total - 1, "initial_lr", "min_lr", "max_m", "max_m")]
        else:
            self.phases = [(float(pct_start * total) - 1, "initial_lr", "max_lr", "max_m", "base_m"),
                           (total - 1, "max_lr", "min_lr", "base_m", "max_m")]
        super().__init__(optimizer, **common)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _at(self, t: int, group: dict[str, Any]) -> tuple[float, float]:
        values = {**group, "max_m": self.max_momentum, "base_m": self.base_momentum}
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if t <= end or i == len(self.phases) - 1:
                pct = (t - start) / (end - start)
                return (self._anneal(values[lr0], values[lr1], pct),
                        self._anneal(values[m0], values[m1], pct))
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def apply(self) -> None:
        for group in self.optimizer.param_groups:
            lr, momentum = self._at(self.t, group)
            group["lr"] = lr * self.warmup_factor(self.t)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum



class ReduceLROnPlateau(Schedule):
    """Performance scheduling as ``ReduceLROnPlateau``: multiply the lr by ``factor`` when the monitored metric
    has not improved for ``patience`` checks (improvement: below best * (1 - threshold) in "rel" mode, or
    best - threshold in "abs" mode, mirrored for mode "max"); then wait ``cooldown`` checks; never below min_lr.

    A check is an evaluated epoch (``interval: epoch``, the default), or, with ``interval: step``, every ``every``
    optimizer steps (the notes' "every N steps measure the validation loss"): the training loop then measures the
    metric itself (:mod:`dlbasics.train.step_plateau`; train_loss is the mean batch loss since the last check).
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "monitor": Choice(["val_loss", "val_acc", "train_loss", "train_acc"], doc="the metric watched"),
        "mode": Choice(["auto", "min", "max"], doc="min: lower is better (losses); max: higher is better "
                                                   "(accuracy); auto: max for accuracies, min otherwise"),
        "factor": Num(gt=0.0, lt=1.0, doc="lr multiplier on a plateau"),
        "patience": Num(integer=True, ge=0, doc="checks without improvement before reducing: evaluated epochs "
                                                "(train.eval_every), or every-N-step checks"),
        "threshold": Num(ge=0.0, doc="minimum change that counts as an improvement"),
        "threshold_mode": Choice(["rel", "abs"], doc="threshold relative to the best value, or absolute"),
        "cooldown": Num(integer=True, ge=0, doc="checks to wait after a reduction"),
        "every": Num(integer=True, ge=1, doc="with interval: step, check the metric every this many optimizer steps"),
        "min_lr": Num(ge=0.0, doc="lower bound of the lr"),
        "eps": Num(ge=0.0, doc="reductions smaller than this are skipped"),
    }
    closed_form = False

    def __init__(self, optimizer, monitor: str = "val_loss", mode: str = "auto", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8, every: int = 1, **common: Any):
        mode = ("max" if monitor.endswith("acc") else "min") if mode == "auto" else mode
        self.monitor, self.mode, self.factor, self.patience = monitor, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lr, self.eps = (threshold, threshold_mode,
                                                                                      cooldown, min_lr, eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        if common.get("warmup"):
            raise ValueError("plateau has no warm-up: it reacts to the metric from the first epoch")
        self.every = every
        self.window_sum, self.window_n = 0.0, 0  # batch losses since the last check (interval: step, train_loss)
        if common.get("interval") == "step":
            if monitor == "train_acc":
                raise ValueError("monitor 'train_acc' is not measured every N steps; with interval: step watch "
                                 "train_loss, val_loss or val_acc")
        elif every != 1:
            raise ValueError(f"every: {every} checks every N optimizer steps and needs interval: step (per epoch, "
                             "the metric is checked at every evaluated epoch)")
        super().__init__(optimizer, **common)

    def apply(self) -> None:
        if self.t == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = group["initial_lr"]

    def is_better(self, value: float) -> bool:
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bound

    state_keys: ClassVar[tuple[str, ...]] = ("t", "best", "num_bad_epochs", "cooldown_counter", "window_sum",
                                             "window_n")

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        super().load_state_dict({"window_sum": 0.0, "window_n": 0, **saved})  # checkpoints from before ``every``

    def step(self, metric: float | None = None) -> None:
        if metric is None:
            raise ValueError(f"reduce-on-plateau needs the metric {self.monitor!r} at every step")
        self.t += 1
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                old = group["lr"]
                new = max(old * self.factor, self.min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant, "step": StepLR, "multistep": MultiStepLR, "exponential": ExponentialLR,
    "power": PowerLR, "piecewise": PiecewiseConstant, "linear": LinearLR, "cosine": CosineAnnealing,
    "cosine_restarts": CosineWarmRestarts, "onecycle": OneCycle, "plateau": ReduceLROnPlateau,
}


def trace(schedule: Schedule, units: int) -> dict[str, list[float]]:
    """Step a closed-form schedule ``units`` times; the lr and momentum / beta1 of the first group at each time."""
    if not schedule.closed_form:
        raise ValueError(f"{type(schedule).__name__} reacts to a run's metrics; it has no curve before training")
    lrs, moms = [], []
    for _ in range(units):
        group = schedule.optimizer.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))
        schedule.step()
    return {"lr": lrs, "momentum": moms}
