"""Reshape: the same values per sample in a new shape, e.g. a window of 20 values (20,) as a one-channel
sequence (1, 20) that a Conv1D can slide over."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..config.fields import ConfigError, Spec, show
from .layers import Layer, Memory


def check_target(shape: Any) -> list[int]:
    """A per-sample target shape as a list of ints, each >= 1 or -1 (at most one -1); ValueError otherwise."""
    if not isinstance(shape, (list, tuple)) or not shape:
        raise ValueError(f"expected a non-empty list of sizes such as [1, 20], got {show(shape)}")
    if any(isinstance(s, bool) or not isinstance(s, int) or (s < 1 and s != -1) for s in shape):
        raise ValueError(f"expected sizes >= 1 or -1 (inferred), got {show(list(shape))}")
    if list(shape).count(-1) > 1:
        raise ValueError(f"at most one -1 (the size inferred from the others), got {show(list(shape))}")
    return [int(s) for s in shape]


class TargetShape(Spec):
    """A reshape's per-sample target shape: a list of sizes >= 1, one of which may be -1."""

    def __init__(self, doc: str = ""):
        self.doc = doc

    def describe(self) -> str:
        return "a list of sizes >= 1, at most one of them -1 (inferred)"

    def validate(self, value: Any, path: str) -> Any:
        try:
            return check_target(value)
        except ValueError as err:
            raise ConfigError(str(err), path) from None


class Reshape(Layer):
    """Reshape each sample to ``shape`` (per sample; one -1 is inferred), the values kept in C order.

    (N, *input_shape) -> (N, *shape), as ``torch.reshape(x, (N, *shape))``.

    ``shape`` is per sample (no N); one entry may be -1, inferred so that the number of values is kept. The
    product must equal the input's per-sample size: (20,) -> [1, 20] or [1, -1]; (1, 28, 28) -> [784] or [28, 28].
    Backward reshapes the gradient back: dx = dout.reshape(N, *input_shape). Both are views (no copy).
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "shape": TargetShape(doc="the per-sample shape, e.g. [1, 20] (one channel of 20 steps); one size may be -1"),
    }

    def __init__(self, shape: list[int]):
        self.shape = check_target(shape)

    def plan(self, input_shape):
        """(d1, ..., dk) -> ``shape`` with -1 filled in; ValueError naming ``shape`` when the sizes do not agree."""
        n = math.prod(input_shape)
        known = math.prod(s for s in self.shape if s != -1)
        where = f"shape {self.shape}"
        if -1 in self.shape:
            if n % known:
                raise ValueError(f"{where}: cannot infer -1: the input {tuple(input_shape)} has {n} values per "
                                 f"sample, not a multiple of {known}")
            out = tuple(n // known if s == -1 else s for s in self.shape)
        elif known != n:
            raise ValueError(f"{where} holds {known} values per sample, but the input {tuple(input_shape)} has {n}")
        else:
            out = tuple(self.shape)
        return out, {}

    def build(self, input_shape, rng, dtype):
        self.input_shape = tuple(input_shape)
        self.output_shape = self.plan(input_shape)[0]
        return self.output_shape

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """Reshapes are views: nothing new but the gradient passing through."""
        return Memory(0, 0, math.prod(output_shape) * itemsize)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], *self.output_shape)

    def backward(self, dout):
        return dout.reshape(dout.shape[0], *self.input_shape) if self.needs_input_grad else None

    def extra_repr(self):
        return f"shape={self.shape}"
