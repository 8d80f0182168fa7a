"""A sequential model: layers applied in order, backward in reverse."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from .layers import Layer, Shape
from .parameter import Parameter, pack


class LayerShapeError(ValueError):
    """A layer cannot take the shape produced by the layers before it."""

    def __init__(self, index: int, layer: Layer, reason: str):
        super().__init__(f"layer {index} ({layer_name(layer)}): {reason}")
        self.index, self.reason = index, reason


def layer_name(layer: Layer) -> str:
    return type(layer).__name__.lower()


class LayerPlan(NamedTuple):
    """One layer of a planned model: per-sample shapes in and out, and the shape of each parameter by name."""

    input_shape: Shape
    output_shape: Shape
    params: dict[str, Shape]


class Sequential:
    """Layers in order. ``build(input_shape, rng, dtype)`` creates every parameter from the per-sample input shape;
    ``plan(input_shape)`` infers the same shapes without allocating anything (for checks and memory estimates).

    forward: (N, *input_shape) -> (N, *output_shape). Backward stops at the first layer with parameters:
    no layer before it needs a gradient, so e.g. the first Dense after a Flatten skips its ``dx`` matmul
    (the largest one of an MNIST MLP) and ``backward`` returns None.

    ``fuse`` (default True): ``build`` runs each ``batchnorm, relu[, maxpool2d 2x2]`` as one fused step
    (:mod:`~dlbasics.nn.fused`: the same function in fewer passes over the activations). ``layers`` is unchanged
    either way; ``steps`` is what forward and backward run, layers and fused steps in order: the layers one by
    one when ``fuse`` is switched off after ``build`` or ``layers`` no longer holds the layers that were built.
    """

    def __init__(self, layers: Iterable[Layer], fuse: bool = True):
        self.layers = list(layers)
        self.fuse = fuse
        self.shapes: list[tuple[int, ...]] = []
        self.dtype: Any = None
        self.built_layers: list[Layer] = []  # the layers as ``build`` saw them, and their fused steps
        self.fused: list[Any] | None = None

    @property
    def steps(self) -> list[Any]:
        """What forward and backward run: the fused steps of ``build`` while ``fuse`` is on and ``layers`` are
        the built ones (the same objects in the same order), else the layers."""
        if not self.fuse or len(self.layers) != len(self.built_layers) or any(
                a is not b for a, b in zip(self.layers, self.built_layers)):
            return self.layers
        if self.fused is None:
            self.fused = self.fused_steps([self.input_shape, *self.shapes[:-1]])
        return self.fused

    def plan(self, input_shape: Shape) -> list[LayerPlan]:
        """Every layer's shapes and parameter shapes, inferred without allocating anything.

        Raises the LayerShapeError that ``build`` would raise (both run each layer's ``plan``).
        """
        shape, plans = tuple(input_shape), []
        for i, layer in enumerate(self.layers):
            try:
                out, params = layer.plan(shape)
            except (ValueError, TypeError) as err:
                raise LayerShapeError(i, layer, str(err)) from None
            plans.append(LayerPlan(shape, tuple(out), {name: tuple(p) for name, p in params.items()}))
            shape = tuple(out)
        return plans

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype: Any = np.float32,
              noise_rng: np.random.Generator | None = None) -> Sequential:
        """Create the weights from ``rng``; stochastic layers (dropout) get generators spawned from ``noise_rng``."""
        shape = tuple(input_shape)
        noise_rng = noise_rng if noise_rng is not None else np.random.default_rng(0)
        self.input_shape, self.dtype, self.shapes = shape, np.dtype(dtype), []
        for i, layer in enumerate(self.layers):
            try:
                shape = tuple(layer.build(shape, rng, self.dtype))  # each layer's build runs its plan first
            except (ValueError, TypeError) as err:
                raise LayerShapeError(i, layer, str(err)) from None
            self.shapes.append(shape)
            if layer.stochastic:
                layer.rng = noise_rng.spawn(1)[0]
        params_before = False  # dx is only needed when some earlier layer has parameters
        for layer in self.layers:
            layer.needs_input_grad = params_before
            params_before = params_before or bool(layer.parameters())
        self.built_layers, self.fused = list(self.layers), None  # steps: fused on first use
        pack(self.parameters())  # one buffer for the weights, one for the gradients: flat optimizer steps
        return self

    def fusion(self, input_shapes: list[Shape]) -> list[tuple[int, int]]:
        """(first, stop) index ranges of the layers that run as one fused step, given each layer's input shape."""
        from .fused import fusable

        groups, i = [], 0
        while i < len(self.layers):
            n = fusable(self.layers, input_shapes, i) if self.fuse else 0
            if n:
                groups.append((i, i + n))
            i += max(n, 1)
        return groups

    def fused_steps_for(self, first: int, stop: int) -> Any:
        """The fused step running layers ``first`` to ``stop - 1`` (a range from :meth:`fusion`)."""
        from .fused import BatchNormReLU

        return BatchNormReLU(self.layers[first:stop])

    def fused_steps(self, input_shapes: list[Shape]) -> list[Any]:
        """The layers, with each range of :meth:`fusion` replaced by its fused step."""
        steps, i = [], 0
        for first, stop in self.fusion(input_shapes):
            steps += self.layers[i:first]
            steps.append(self.fused_steps_for(first, stop))
            i = stop
        return steps + self.layers[i:]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1] if self.shapes else self.input_shape

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for step in self.steps:
            x = step.forward(x, training)
        return x

    __call__ = forward

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        for step in reversed(self.steps):
            dout = step.backward(dout)
            if dout is None:
                break
        return dout

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        return [(f"{i}.{name}", p) for i, layer in enumerate(self.layers) for name, p in layer.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def named_buffers(self) -> list[tuple[str, np.ndarray]]:
        """State that is saved but not trained (BatchNorm's running statistics), by "<layer index>.<name>"."""
        return [(f"{i}.{name}", arr) for i, layer in enumerate(self.layers)
                for name, arr in layer.buffers().items()]

    def rng_states(self) -> dict[int, dict[str, Any]]:
        """The random generators of the stochastic layers (dropout), by layer index: ``bit_generator.state``."""
        return {i: layer.rng.bit_generator.state for i, layer in enumerate(self.layers)
                if layer.stochastic and getattr(layer, "rng", None) is not None}

    def set_rng_states(self, states: dict[Any, dict[str, Any]]) -> None:
        for i, state in states.items():
            self.layers[int(i)].rng.bit_generator.state = state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Weights and buffers by name ("<layer index>.<name>", e.g. "0.weight", "1.running_mean"), as copies."""
        arrays = [(name, p.data) for name, p in self.named_parameters()] + self.named_buffers()
        return {name: arr.copy() for name, arr in arrays}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy weights and buffers in by name; names and shapes must match exactly."""
        own = {name: p.data for name, p in self.named_parameters()} | dict(self.named_buffers())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        for name, arr in own.items():
            if state[name].shape != arr.shape:
                raise ValueError(f"state dict: {name} has shape {state[name].shape}, expected {arr.shape}")
            arr[...] = state[name]


    def runs_as(self) -> list[str]:
        """What a built model runs besides one layer at a time, e.g. ["layers 1-3 fused (model.fuse)",
        "layer 4 by winograd"]: the fused steps and the convolutions that take the Winograd path."""
        notes, index = [], {id(layer): i for i, layer in enumerate(self.layers)}
        for step in self.steps:
            if not isinstance(step, Layer):
                first = index[id(step.layers[0])]
                notes.append(f"layers {first}-{first + len(step.layers) - 1} fused (model.fuse)")
        winograd = [str(i) for i, layer in enumerate(self.layers) if getattr(layer, "winograd", None) is not None]
        if winograd:
            notes.append(f"layer{'s' if len(winograd) > 1 else ''} {', '.join(winograd)} by winograd (algorithm)")
        return notes

    def summary(self) -> list[dict[str, Any]]:
        """One row per layer: index, layer, output shape (per sample) and parameter count. A container (a
        residual block) is followed by rows for the layers inside it, indexed "3.0", "3.1", ... and "3.s" (its
        shortcut)."""
        rows = []
        for i, (layer, shape) in enumerate(zip(self.layers, self.shapes)):
            rows.append({"index": i, "layer": repr(layer), "output_shape": shape,
                         "params": sum(p.size for p in layer.parameters())})
            rows += [{**row, "index": f"{i}.{row['index']}"} for row in getattr(layer, "summary_rows", list)()]
        return rows

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
