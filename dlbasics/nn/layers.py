"""Layers: ``forward(x, training)`` keeps what backward needs; ``backward(dout)`` returns ``dx`` and fills the
gradients of exactly the parameters the layer owns. Neither ever writes into its input array.

Shapes are per batch: ``N`` samples first. ``plan(input_shape)`` is shape inference alone: from the per-sample
input shape (no ``N``) it returns the per-sample output shape and the shape of every parameter, allocating
nothing; a shape the layer cannot take raises ``ValueError`` with a one-line reason. ``build(input_shape, rng,
dtype)`` runs the same inference, then creates the parameters, and returns the per-sample output shape.
``memory(...)`` says how many bytes per sample a training step's caches and temporaries take (for
:mod:`~dlbasics.nn.footprint`), written next to the forward and backward it describes.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..config.fields import Bool, Num, Spec
from .init import INIT, describe, initialize
from .parameter import Parameter

Shape = tuple[int, ...]


class Memory(NamedTuple):
    """Bytes PER SAMPLE that a layer needs in a training step besides its parameters (see ``Layer.memory``).

    forward: arrays a forward pass leaves alive until the next one: its output (unless a view of the input), what
    backward needs (kept on ``self``) and work buffers reused by the next forward. backward: work buffers that
    backward keeps for the next step. scratch: the most this layer's forward or backward holds at once on top of
    those while it runs: the gradient arriving, temporaries, the ``dx`` it returns.
    """

    forward: int
    backward: int
    scratch: int


class Layer(abc.ABC):
    """Base class. Subclasses override ``forward``/``backward`` and, if they change the shape or own parameters,
    ``plan`` and ``build``."""

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
    #: for the default ``memory``: arrays the size of the output that forward keeps (the output itself, masks,
    #: saved values; a boolean mask counts as a whole array, an upper bound) and that backward holds at once
    #: (dout, temporaries, dx)
    kept_outputs: ClassVar[int] = 1
    scratch_outputs: ClassVar[int] = 3

    def plan(self, input_shape: Shape) -> tuple[Shape, dict[str, Shape]]:
        """Shape inference, allocating nothing: (per-sample output shape, {parameter name: shape}).

        Raises ValueError (one line) for an input shape the layer cannot take. Default: same shape, no parameters.
        """
        return tuple(input_shape), {}

    def build(self, input_shape: Shape, rng: np.random.Generator, dtype: Any) -> Shape:
        """Check the shape with ``plan``, create the parameters; returns the per-sample output shape."""
        return self.plan(input_shape)[0]

    def memory(self, input_shape: Shape, output_shape: Shape, itemsize: int, needs_input_grad: bool = True) -> Memory:
        """Bytes per sample of a training step's caches and temporaries (see :class:`Memory`), for the estimate.

        Default, an element-wise layer: forward keeps ``kept_outputs`` output-sized arrays, backward holds
        ``scratch_outputs`` of them at once.
        """
        out = math.prod(output_shape) * itemsize
        return Memory(self.kept_outputs * out, 0, self.scratch_outputs * out)

    def eval_memory(self, input_shape: Shape, output_shape: Shape, itemsize: int) -> int:
        """Bytes per sample an evaluation forward (``training=False``) leaves alive; default: as in training."""
        return self.memory(input_shape, output_shape, itemsize).forward

    @abc.abstractmethod
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x: (N, *input_shape) -> (N, *output_shape)."""

    @abc.abstractmethod
    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """dout: gradient of the loss w.r.t. the output -> gradient w.r.t. the input."""

    def parameters(self) -> list[Parameter]:
        return []

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """The parameters by name, unique within the layer: "weight", "bias"; a container's are hierarchical
        ("layers.0.weight", "shortcut.weight"), so saved checkpoints keep stable, distinct names."""
        return [(p.name, p) for p in self.parameters()]

    def children(self) -> list[Layer]:
        """The layers inside a container (a residual block); none for a plain layer."""
        return []

    def buffers(self) -> dict[str, np.ndarray]:
        """Arrays saved with the model but not trained (BatchNorm's running statistics)."""
        return {}

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def leaves(layer: Layer) -> list[Layer]:
    """``layer`` itself, or for a container every plain layer inside it, depth first (for rules that look at
    the kind of layer owning a parameter: no weight decay on normalisation layers, penalties on weights)."""
    inner = layer.children()
    return [leaf for child in inner for leaf in leaves(child)] if inner else [layer]


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

    def plan(self, input_shape):
        """(D,) -> (units,); weight (D, units), bias (units,)."""
        if len(input_shape) != 1:
            raise ValueError(f"dense expects (N, features) input, got (N, {', '.join(map(str, input_shape))}); "
                             "put {type: flatten} before it")
        params = {"weight": (input_shape[0], self.units)}
        if self.bias:
            params["bias"] = (self.units,)
        return (self.units,), params

    def build(self, input_shape, rng, dtype):
        out, shapes = self.plan(input_shape)
        self.W = Parameter(initialize(self.init, shapes["weight"], rng, dtype), "weight", out_axis=1)
        self.b = Parameter(np.zeros(shapes["bias"], dtype=dtype), "bias") if self.bias else None
        return out

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

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """Forward keeps a reference to x (someone else's array) and returns a new (N, units); backward holds
        dout and, when needed, dx (N, D)."""
        out = self.units * itemsize
        return Memory(out, 0, out + (input_shape[0] * itemsize if needs_input_grad else 0))

    def parameters(self):
        return [self.W] if self.b is None else [self.W, self.b]

    def extra_repr(self):
        return f"{self.units}, init={describe(self.init)}" + ("" if self.bias else ", bias=False")


class Flatten(Layer):
    """Flatten all but the batch axis: (N, d1, d2, ...) -> (N, d1*d2*...)."""

    def plan(self, input_shape):
        """(d1, d2, ...) -> (d1*d2*...,)."""
        return (math.prod(input_shape),), {}

    def build(self, input_shape, rng, dtype):
        self.input_shape = tuple(input_shape)
        return self.plan(input_shape)[0]

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """Reshapes are views: nothing new but the gradient passing through."""
        return Memory(0, 0, math.prod(output_shape) * itemsize)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(dout.shape[0], *self.input_shape)
