"""Layers: ``forward(x, training)`` keeps what backward needs; ``backward(dout)`` returns ``dx`` and fills the
gradients of exactly the parameters the layer owns. Neither ever writes into its input array.

Shapes are per batch: ``N`` samples first. ``build(input_shape, rng, dtype)`` receives the per-sample input
shape (no ``N``), creates the parameters and returns the per-sample output shape; a shape the layer cannot
take raises ``ValueError`` with a one-line reason.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np

from ..config.fields import Bool, Num, Spec
from .init import INIT, describe, initialize
from .parameter import Parameter


class Layer(abc.ABC):
    """Base class. Subclasses override ``forward``/``backward`` and, if they change the shape, ``build``."""

    #: config specs for constructor arguments (names and defaults come from ``__init__``'s signature)
    constraints: ClassVar[dict[str, Spec]] = {}
    #: False for layers before the first parameter of a model: their ``dx`` is never used, so ``backward``
    #: may skip computing it and return None
    needs_input_grad: bool = True
    #: True for layers that draw random numbers in training (dropout); ``Sequential.build`` gives each one
    #: its own ``self.rng``
    stochastic: ClassVar[bool] = False
    #: False where the function has kinks (ReLU at 0, max pooling ties): finite differences that straddle
    #: one are off by O(h), so gradient checks allow 1e-5 instead of 1e-7
    smooth: ClassVar[bool] = True

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype: Any) -> tuple[int, ...]:
        return input_shape

    @abc.abstractmethod
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, *input_shape) -> (N, *output_shape)."""

    @abc.abstractmethod
    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: gradient of the loss w.r.t. the output -> gradient w.r.t. the input."""

    def parameters(self) -> list[Parameter]:
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """Arrays saved with the model but not trained (BatchNorm's running statistics)."""
        return {}

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Dense(Layer):
    """Fully connected layer ``y = x @ W + b``.

    x: (N, D) -> y: (N, units); W: (D, units) initialised by ``init`` (fan_in = D, fan_out = units), b: (units,)
    zeros. Backward: dW = x^T dout, db = sum_N dout, dx = dout W^T.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "units": Num(integer=True, ge=1, doc="number of output features"),
        "init": INIT,
        "bias": Bool(doc="add a bias (initialised to 0)"),
    }

    def __init__(self, units: int, init: str | dict[str, Any] = "he_normal", bias: bool = True):
        self.units, self.init, self.bias = units, init, bias
        self.W: Parameter | None = None
        self.b: Parameter | None = None

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 1:
            raise ValueError(f"dense expects (N, features) input, got (N, {', '.join(map(str, input_shape))}); "
                             "put {type: flatten} before it")
        fan_in = input_shape[0]
        self.W = Parameter(initialize(self.init, (fan_in, self.units), rng, dtype), "weight", out_axis=1)
        self.b = Parameter(np.zeros(self.units, dtype=dtype), "bias") if self.bias else None
        return (self.units,)

    def forward(self, x, training=False):
        self.x = x
        out = x @ self.W.data
        if self.b is not None:
            out += self.b.data
        return out

    def backward(self, dout):
        np.matmul(self.x.T, dout, out=self.W.grad)
        if self.b is not None:
            np.sum(dout, axis=0, out=self.b.grad)
        return dout @ self.W.data.T if self.needs_input_grad else None

    def parameters(self):
        return [self.W] if self.b is None else [self.W, self.b]

    def extra_repr(self):
        return f"{self.units}, init={describe(self.init)}" + ("" if self.bias else ", bias=False")


class Flatten(Layer):
    """Flatten all but the batch axis: (N, d1, d2, ...) -> (N, d1*d2*...)."""

    def build(self, input_shape, rng, dtype):
        self.input_shape = input_shape
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(dout.shape[0], *self.input_shape)
