"""Learning-rate schedules, stepped once per epoch, following ``torch.optim.lr_scheduler``.

Contract: ``Schedule(optimizer, **hyper)`` sets every group's lr to its value for epoch 0 (the group's
``initial_lr`` times the schedule's factor); ``step()`` is called after each epoch and sets the lr for the
next one. ``lr_at(epoch, base_lr)`` is the closed form, so a schedule can be plotted without training.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ..config.fields import Num, Optional, Spec
from .optimizers import Optimizer


class Schedule:
    """Base class: a closed-form ``lr_at(epoch, base_lr)`` applied to every parameter group."""

    constraints: ClassVar[dict[str, Spec]] = {}

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.epoch = 0
        self._apply()

    def lr_at(self, epoch: int, base_lr: float) -> float:
        return base_lr

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.epoch, group["initial_lr"])

    def step(self) -> None:
        self.epoch += 1
        self._apply()


class Constant(Schedule):
    """lr_t = lr (no schedule)."""


class StepLR(Schedule):
    """lr_t = lr * gamma^floor(t / step_size) (``torch.optim.lr_scheduler.StepLR``)."""

    constraints: ClassVar[dict[str, Spec]] = {
        "step_size": Num(integer=True, ge=1, doc="epochs between decays"),
        "gamma": Num(gt=0.0, doc="multiplicative factor of each decay"),
    }

    def __init__(self, optimizer: Optimizer, step_size: int = 10, gamma: float = 0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, epoch, base_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealing(Schedule):
    """lr_t = eta_min + (lr - eta_min) (1 + cos(pi t / T_max)) / 2 (``CosineAnnealingLR``, closed form).

    ``T_max`` defaults to the number of training epochs (``train.epochs``); past T_max the cosine continues.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "T_max": Optional(Num(integer=True, ge=1), doc="epochs of the half cosine (default: train.epochs)"),
        "eta_min": Num(ge=0.0, doc="final learning rate"),
    }

    def __init__(self, optimizer: Optimizer, T_max: int | None = None, eta_min: float = 0.0):
        if T_max is None:
            raise ValueError("CosineAnnealing needs T_max (the runner sets it to train.epochs)")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, epoch, base_lr):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


SCHEDULES: dict[str, type[Schedule]] = {"constant": Constant, "step": StepLR, "cosine": CosineAnnealing}
