"""Gradient-descent optimizers, sorted by increasing complexity.

The contract, the same for every optimizer:

- ``Optimizer(params, **hyper)``: ``params`` is a list of :class:`~dlbasics.nn.Parameter` or a list of
  parameter groups ``{"params": [...], "lr": ..., ...}`` whose keys override the defaults (PyTorch's
  ``param_groups``). Hyper-parameter names and defaults are PyTorch's ``torch.optim`` ones.
- ``step()`` reads ``p.grad`` of every parameter and updates ``p.data`` in place, following the update
  rule written in the class docstring exactly (the pseudo-code of PyTorch's documentation).
- The optimizer owns all of its state (``self.state[p]``: moment buffers, step counts); layers own none.
- A schedule changes ``group["lr"]``; ``group["initial_lr"]`` keeps the starting value.

Updates run in place on preallocated buffers so a training step allocates as little as possible.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ..config.fields import Bool, Num, Seq, Spec
from ..nn.parameter import Parameter


class Optimizer(abc.ABC):
    """Base class: parameter groups, per-parameter state and the loop over parameters."""

    constraints: ClassVar[dict[str, Spec]] = {}

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], defaults: dict[str, Any]):
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            merged = {**defaults, **group, "params": list(group["params"])}
            merged.setdefault("initial_lr", merged["lr"])
            self.param_groups.append(merged)
        self.state: dict[Parameter, dict[str, Any]] = {}

    def step(self) -> None:
        """Apply one update to every parameter from its current gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self.init_state(p, group)
                self.update(p, p.grad, state, group)

    def init_state(self, p: Parameter, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0}

    @abc.abstractmethod
    def update(self, p: Parameter, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.data`` in place from ``grad`` with the group's hyper-parameters."""

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad[...] = 0

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group."""
        return self.param_groups[0]["lr"]

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"


def _check_common(lr: float, weight_decay: float) -> None:
    if lr < 0:
        raise ValueError(f"invalid learning rate {lr}")
    if weight_decay < 0:
        raise ValueError(f"invalid weight_decay {weight_decay}")


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (``torch.optim.SGD``).

    For each parameter p with gradient g, at step t (t = 1, 2, ...)::

        g <- -g                          if maximize
        g <- g + weight_decay * p        if weight_decay != 0
        if momentum != 0:
            b <- g                       if t = 1
            b <- momentum * b + (1 - dampening) * g   otherwise
            g <- g + momentum * b        if nesterov  (the gradient at the look-ahead point)
            g <- b                       otherwise
        p <- p - lr * g

    Defaults as PyTorch: lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": Num(ge=0.0, doc="learning rate"),
        "momentum": Num(ge=0.0, doc="momentum factor"),
        "dampening": Num(ge=0.0, le=1.0, doc="dampening for momentum"),
        "weight_decay": Num(ge=0.0, doc="L2 penalty coefficient added to the gradient"),
        "nesterov": Bool(doc="Nesterov momentum"),
        "maximize": Bool(doc="maximise the objective instead of minimising it"),
    }

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        _check_common(lr, weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def update(self, p, grad, state, group):
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) as ``torch.optim.Adam``.

    For each parameter p with gradient g, at step t (t = 1, 2, ...), m_0 = v_0 = 0::

        g <- -g                                  if maximize
        g <- g + weight_decay * p                if weight_decay != 0   (coupled L2, not AdamW)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                   if amsgrad (then v_max replaces v below)
        p <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    eps is added *outside* the square root of the bias-corrected v, as PyTorch does.
    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "lr": Num(ge=0.0, doc="learning rate"),
        "betas": Seq(Num(ge=0.0, lt=1.0), length=2, doc="decay rates of the first and second moment"),
        "eps": Num(ge=0.0, doc="term added to the denominator"),
        "weight_decay": Num(ge=0.0, doc="L2 penalty coefficient added to the gradient"),
        "amsgrad": Bool(doc="use the running maximum of v (AMSGrad)"),
        "maximize": Bool(doc="maximise the objective instead of minimising it"),
    }

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        _check_common(lr, weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas {betas}")
        if eps < 0:
            raise ValueError(f"invalid eps {eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def init_state(self, p, group):
        state = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data),
                 "scratch": np.empty_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def update(self, p, grad, state, group):
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], state["scratch"]
        m *= beta1
        np.multiply(grad, 1 - beta1, out=tmp)
        m += tmp
        v *= beta2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - beta2
        v += tmp
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        # p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with sqrt(bc2) moved out of the element-wise
        # work: = (lr / bc1) * sqrt(bc2) * m / (sqrt(v) + eps * sqrt(bc2)). Same value, one pass fewer.
        sqrt_bc2 = math.sqrt(1 - beta2**t)
        np.sqrt(v, out=tmp)
        tmp += group["eps"] * sqrt_bc2
        np.divide(m, tmp, out=tmp)
        tmp *= group["lr"] / (1 - beta1**t) * sqrt_bc2
        p.data -= tmp


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}
