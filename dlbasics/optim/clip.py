"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..nn.parameter import Parameter


def clip_grad_norm(params: Sequence[Parameter], max_norm: float) -> float:
    """Scale all gradients by max_norm / (total_norm + 1e-6) when that is < 1; return the total norm before.

    total_norm = sqrt(sum over parameters of ||g||^2): the whole gradient's length, so its direction is kept.
    """
    total = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad *= coef
    return total


def clip_grad_value(params: Sequence[Parameter], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] (changes the direction)."""
    for p in params:
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
