"""Residual blocks (He, Zhang, Ren and Sun 2015, "Deep Residual Learning for Image Recognition", CVPR 2016).

A block learns a residual F(x) and adds its input back: y = F(x) + x. When the layers inside change the shape
(more channels, a stride), the input goes through a projection instead: y = F(x) + W_s x, with W_s a 1x1
convolution (no bias, as the paper's Eq. 2) whose stride shrinks the input to F(x)'s size (the paper's option B).
The sum gives every block's input gradient a direct path, dx = dF/dx^T dout + dout, so gradients reach early
layers of deep networks undiminished (the vanishing gradients of the course notes' history section).

    model:
      layers:
        - {type: conv2d, out_channels: 16, kernel_size: 3, padding: same}
        - {type: relu}
        - type: residual          # identity shortcut: F keeps (16, 28, 28)
          layers:
            - {type: conv2d, out_channels: 16, kernel_size: 3, padding: same}
            - {type: batchnorm2d}
            - {type: relu}
            - {type: conv2d, out_channels: 16, kernel_size: 3, padding: same}
            - {type: batchnorm2d}
        - {type: relu}            # the paper's ReLU after the addition

Parameters and buffers are named hierarchically ("layers.0.weight", "shortcut.weight"); checkpoints save them
under "<block index>.<name>".
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..config.fields import Registry, Section, Seq, Spec, section_from_signature
from .conv import Conv1D, Conv2D
from .layers import Layer, Memory, Shape
from .model import layer_name


def _layer_sections() -> dict[str, Section]:
    from .registry import LAYERS  # the registry imports this module: looked up when a config is validated

    return {name: section_from_signature(cls.__init__, getattr(cls, "constraints", {}),
                                         doc=(cls.__doc__ or "").strip().split("\n")[0])
            for name, cls in LAYERS.items()}


#: one layer inside a block, as in ``model.layers``: ``{type: conv2d, out_channels: 16, ...}``
INNER_LAYER = Registry(_layer_sections, key="type")


def projection_stride(size: int, target: int) -> int | None:
    """The smallest stride s with which a 1x1 kernel maps ``size`` positions to ``target``: (size - 1) // s + 1
    == target; None when there is none."""
    for s in range(1, size + 1):
        if (size - 1) // s + 1 == target:
            return s
    return None


class Residual(Layer):
    """Residual block: y = F(x) + shortcut(x), F the ``layers`` in order (He et al. 2015).

    x: (N, *S) -> y: (N, *S'), S' the output shape of F. The shortcut is the identity when S' = S; else a 1x1
    convolution without bias (weight (C', C, 1, 1), or (C', C, 1) for sequences) with the stride that maps S's
    spatial sizes onto S''s, for (C, H, W) or (C, L) inputs (He et al.'s projection shortcut, option B).
    Backward: dF flows back through the layers, the shortcut gets dout itself (identity) or W_s^T dout, and
    dx is their sum.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "layers": Seq(INNER_LAYER, min_len=1, doc="the layers of F, in order, as in model.layers"),
    }

    def __init__(self, layers: list[dict[str, Any] | Layer]):
        from .registry import layer_from_config

        if not layers:
            raise ValueError("a residual block needs at least one layer")
        self.body: list[Layer] = [spec if isinstance(spec, Layer) else layer_from_config(spec) for spec in layers]
        self.shortcut: Layer | None = None
        self.stochastic = any(layer.stochastic for layer in self.body)  # dropout inside: see ``rng``
        self.smooth = all(layer.smooth for layer in self.body)
        self._rng: np.random.Generator | None = None
        self._needs_input_grad = True

    # ------------------------------------------------------------------ shapes

    def _inner(self, input_shape: Shape, build: tuple[np.random.Generator, Any] | None = None
               ) -> tuple[list[tuple[Layer, Shape, Shape]], Layer | None]:
        """Per inner layer (layer, input shape, output shape), and the shortcut projection (None: identity),
        planned or (with ``build`` = (rng, dtype)) built. ValueError naming the inner layer ("layers.2 (conv2d):
        ...") or the mismatch the shortcut cannot bridge."""
        shape, rows = tuple(input_shape), []
        for j, layer in enumerate(self.body):
            try:
                out = layer.build(shape, *build) if build else layer.plan(shape)[0]
            except (ValueError, TypeError) as err:
                raise ValueError(f"layers.{j} ({layer_name(layer)}): {err}") from None
            rows.append((layer, shape, tuple(out)))
            shape = tuple(out)
        return rows, self._projection(tuple(input_shape), shape)

    def _projection(self, x_shape: Shape, f_shape: Shape) -> Layer | None:
        if f_shape == x_shape:
            return None
        what = f"the block's layers turn {x_shape} into {f_shape}"
        if len(f_shape) != len(x_shape) or len(x_shape) not in (2, 3):
            raise ValueError(f"{what}; the shortcut adds x to F(x), so the shapes must agree, or both be (C, L) or "
                             "(C, H, W) for a 1x1 convolution projection")
        strides = [projection_stride(n, m) for n, m in zip(x_shape[1:], f_shape[1:])]
        if None in strides:
            raise ValueError(f"{what}; no stride of a 1x1 convolution projection maps {x_shape[1:]} onto "
                             f"{f_shape[1:]} (use sizes such as 28 -> 14: stride 2)")
        conv = Conv2D if len(x_shape) == 3 else Conv1D
        return conv(f_shape[0], kernel_size=1, stride=strides if len(strides) > 1 else strides[0], padding=0,
                    bias=False, init="he_normal")

    def plan(self, input_shape):
        """Output shape of F; parameters "layers.<j>.<name>" and, for a projection, "shortcut.weight"."""
        rows, proj = self._inner(input_shape)
        params = {f"layers.{j}.{name}": shape for j, (layer, shape_in, _) in enumerate(rows)
                  for name, shape in layer.plan(shape_in)[1].items()}
        if proj is not None:
            params.update({f"shortcut.{name}": shape for name, shape in proj.plan(tuple(input_shape))[1].items()})
        return rows[-1][2], params

    def build(self, input_shape, rng, dtype):
        rows, self.shortcut = self._inner(input_shape, (rng, dtype))
        if self.shortcut is not None:
            self.shortcut.build(tuple(input_shape), rng, dtype)
        self.input_shape, self.output_shape = tuple(input_shape), rows[-1][2]
        self.needs_input_grad = self._needs_input_grad  # set the inner layers' flags
        if self._rng is not None:
            self.rng = self._rng
        return self.output_shape

    # ------------------------------------------------------------------ flags shared with the inner layers

    @property
    def needs_input_grad(self) -> bool:  # type: ignore[override]
        return self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        """The block's dx is needed -> every inner layer's is; else only those after an inner parameter."""
        self._needs_input_grad = value
        params_before = value
        for layer in self.body:
            layer.needs_input_grad = params_before
            params_before = params_before or bool(layer.parameters())
        if self.shortcut is not None:
            self.shortcut.needs_input_grad = value

    @property
    def rng(self) -> np.random.Generator | None:
        return self._rng

    @rng.setter
    def rng(self, generator: np.random.Generator) -> None:
        """Inner stochastic layers (dropout) draw from the block's one generator, in order, so the model's saved
        generator state (``Sequential.rng_states``) restores them all."""
        self._rng = generator
        for layer in self.body:
            if layer.stochastic:
                layer.rng = generator

    # ------------------------------------------------------------------ forward and backward

    def forward(self, x, training=False):
        h = x
        for layer in self.body:
            h = layer.forward(h, training)
        return h + (x if self.shortcut is None else self.shortcut.forward(x, training))

    def backward(self, dout):
        d = dout
        for layer in reversed(self.body):
            d = layer.backward(d)
            if d is None:
                break
        ds = dout if self.shortcut is None else self.shortcut.backward(dout)
        if not self._needs_input_grad:
            return None
        return d + ds

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """The inner layers' caches and buffers (each counted as in a model), plus the sum y that forward returns;
        scratch: the largest inner layer's, plus dout (kept for the shortcut while F's backward runs) and the
        shortcut's gradient before the sum."""
        rows, proj = self._inner(input_shape)
        parts, params_before = [], needs_input_grad
        for layer, shape_in, shape_out in rows:
            parts.append(layer.memory(shape_in, shape_out, itemsize, params_before))
            params_before = params_before or bool(layer.plan(shape_in)[1])
        if proj is not None:
            parts.append(proj.memory(tuple(input_shape), tuple(output_shape), itemsize, needs_input_grad))
        out, x = math.prod(output_shape) * itemsize, math.prod(input_shape) * itemsize
        return Memory(sum(m.forward for m in parts) + out, sum(m.backward for m in parts),
                      max(m.scratch for m in parts) + out + (x if needs_input_grad else 0))

    def eval_memory(self, input_shape, output_shape, itemsize):
        rows, proj = self._inner(input_shape)
        inner = sum(layer.eval_memory(a, b, itemsize) for layer, a, b in rows)
        if proj is not None:
            inner += proj.eval_memory(tuple(input_shape), tuple(output_shape), itemsize)
        return inner + math.prod(output_shape) * itemsize

    # ------------------------------------------------------------------ parameters and names

    def children(self) -> list[Layer]:
        return self.body + ([self.shortcut] if self.shortcut is not None else [])

    def parameters(self):
        return [p for layer in self.children() for p in layer.parameters()]

    def named_parameters(self):
        named = [(f"layers.{j}.{name}", p) for j, layer in enumerate(self.body) for name, p in layer.named_parameters()]
        if self.shortcut is not None:
            named += [(f"shortcut.{name}", p) for name, p in self.shortcut.named_parameters()]
        return named

    def buffers(self):
        return {f"layers.{j}.{name}": arr for j, layer in enumerate(self.body) for name, arr in layer.buffers().items()}

    def summary_rows(self) -> list[dict[str, Any]]:
        """For `dlb model`: one row per inner layer (index "0", "1", ..., then "s", the shortcut) with its output
        shape and parameters; a block inside a block is followed by its own rows ("2.0", ..., "2.s")."""
        shape, rows = self.input_shape, []
        for j, layer in enumerate(self.body):
            shape = layer.plan(shape)[0]
            rows.append({"index": str(j), "layer": f"  {layer!r}", "output_shape": tuple(shape),
                         "params": sum(p.size for p in layer.parameters())})
            rows += [{**row, "index": f"{j}.{row['index']}", "layer": f"  {row['layer']}"}
                     for row in getattr(layer, "summary_rows", list)()]
        shortcut = "identity" if self.shortcut is None else repr(self.shortcut)
        rows.append({"index": "s", "layer": f"  shortcut: {shortcut}", "output_shape": self.output_shape,
                     "params": sum(p.size for p in self.shortcut.parameters()) if self.shortcut else 0})
        return rows

    def extra_repr(self):
        if not hasattr(self, "output_shape"):  # not built: the shortcut is not known yet
            return f"{len(self.body)} layers"
        kind = "identity" if self.shortcut is None else "1x1 projection"
        return f"{len(self.body)} layer{'s' * (len(self.body) > 1)} + {kind} shortcut"
