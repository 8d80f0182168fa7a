"""Element-wise activations; each keeps its output (not its input) for the backward pass. Shapes: any -> same."""

from __future__ import annotations

import numpy as np

from .layers import Layer


class ReLU(Layer):
    """max(x, 0); gradient 1 where the output is positive, 0 elsewhere (0 at x = 0, as PyTorch)."""

    def forward(self, x, training=False):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, dout):
        return dout * (self.out > 0)


class Sigmoid(Layer):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows; gradient s (1 - s)."""

    def forward(self, x, training=False):
        out = np.tanh(x * 0.5)
        out += 1
        out *= 0.5
        self.out = out
        return out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class Tanh(Layer):
    """tanh(x); gradient 1 - tanh(x)^2."""

    def forward(self, x, training=False):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out * self.out)


ACTIVATIONS: dict[str, type[Layer]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
