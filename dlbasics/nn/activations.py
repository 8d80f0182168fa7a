"""Element-wise activations (and Softmax). Shapes: any -> the same shape. Definitions and gradients at kinks
follow ``torch.nn``; each layer keeps what its backward needs (its output where that suffices)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..config.fields import Choice, Num, Spec
from .layers import Layer
from .special import ndtr, ndtr_float32


class ReLU(Layer):
    """max(x, 0); gradient 1 where the output is positive, 0 elsewhere (0 at x = 0, as PyTorch)."""

    smooth = False

    def forward(self, x, training=False):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, dout):
        return dout * (self.out > 0)


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise; gradient 1 or negative_slope (negative_slope at 0, as PyTorch)."""

    constraints: ClassVar[dict[str, Spec]] = {"negative_slope": Num(ge=0.0, doc="slope for x < 0")}
    smooth = False
    kept_outputs = 2  # the positive mask and the output

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope

    def forward(self, x, training=False):
        self.positive = x > 0
        return np.where(self.positive, x, x * self.negative_slope)

    def backward(self, dout):
        return np.where(self.positive, dout, dout * self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Layer):
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. 2015); gradient 1 or out + alpha."""

    constraints: ClassVar[dict[str, Spec]] = {"alpha": Num(gt=0.0, doc="value approached as x -> -inf is -alpha")}
    kept_outputs, scratch_outputs = 2, 4  # the positive mask and the output; backward: dout, out + alpha, ...

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    @property
    def smooth(self) -> bool:  # the slope jumps from alpha to 1 at 0 unless alpha = 1
        return self.alpha == 1.0

    def forward(self, x, training=False):
        self.positive = x > 0
        self.out = np.where(self.positive, x, np.expm1(np.minimum(x, 0)) * self.alpha)
        return self.out

    def backward(self, dout):
        return np.where(self.positive, dout, dout * (self.out + self.alpha))

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Layer):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016), as ``torch.nn.GELU``.

    approximate="none": Phi(x) = (1 + erf(x / sqrt 2)) / 2; gradient Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) /
    sqrt(2 pi). Phi in float64 from Cody's erf (1e-16); in float32 from
    :func:`~dlbasics.nn.special.ndtr_float32`, within 1e-7 absolute of the exact value (PyTorch's float32 GELU:
    6e-8), in 16 passes over the batch instead of the ~30 of an erf accurate to 1e-7 relative.
    approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), gradient by the chain rule.
    """

    constraints: ClassVar[dict[str, Spec]] = {"approximate": Choice(["none", "tanh"], doc="exact (erf) or tanh")}
    K = math.sqrt(2.0 / math.pi)
    # cdf (or t), the output and, exact in float32, a work array reused by the next forward; the float64 path
    # (Cody's erf) makes masked copies
    kept_outputs, scratch_outputs = 3, 9

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x, training=False):
        self.x = x
        if self.approximate == "tanh":
            self.t = np.tanh(self.K * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + self.t)
        if x.dtype != np.float32:
            self.cdf = ndtr(x)
            return x * self.cdf
        if getattr(self, "work", None) is None or self.work.shape != x.shape or self.cdf.dtype != np.float32:
            self.cdf, self.work = np.empty_like(x), np.empty_like(x)
        ndtr_float32(x, out=self.cdf, work=self.work)
        return x * self.cdf

    def backward(self, dout):
        x = self.x
        if self.approximate == "tanh":
            t = self.t
            grad = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * self.K * (1 + 3 * 0.044715 * x * x)
        else:  # float32: forward left x^2 in self.work
            grad = np.multiply(self.work if x.dtype == np.float32 else x * x, -0.5)
            np.exp(grad, out=grad)
            grad *= x
            grad *= 1 / math.sqrt(2 * math.pi)
            grad += self.cdf
        grad *= dout
        return grad

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Layer):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows; gradient s (1 - s)."""

    scratch_outputs = 4  # dout, dout * s, 1 - s, dx

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

    scratch_outputs = 4  # dout, out * out, 1 - out^2, dx

    def forward(self, x, training=False):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out * self.out)


class Softplus(Layer):
    """log(1 + e^(beta x)) / beta, and x where beta x > threshold (``torch.nn.Softplus``); gradient sigmoid(beta x)."""

    constraints: ClassVar[dict[str, Spec]] = {"beta": Num(gt=0.0, doc="sharpness"),
                                              "threshold": Num(gt=0.0, doc="beyond beta*x > threshold: linear")}
    kept_outputs, scratch_outputs = 3, 5  # the linear mask, sigmoid(beta x) and the output

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x, training=False):
        bx = x * self.beta
        self.linear = bx > self.threshold
        self.sig = 0.5 * (1 + np.tanh(0.5 * bx))  # sigmoid(beta x), overflow-free
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / self.beta
        return np.where(self.linear, x, soft)

    def backward(self, dout):
        return np.where(self.linear, dout, dout * self.sig)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Layer):
    """softmax over the class axis: (N, K) -> (N, K), rows summing to 1; dx = s * (dout - sum(dout * s)).

    For training a classifier use the ``cross_entropy`` loss on logits instead (the fused, stable path);
    this layer is for models that must output probabilities.
    """

    scratch_outputs = 4  # dout, dout * s, dout - sum, dx

    def forward(self, x, training=False):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        self.out = e
        return e

    def backward(self, dout):
        s = self.out
        return s * (dout - np.sum(dout * s, axis=1, keepdims=True))


ACTIVATIONS: dict[str, type[Layer]] = {"relu": ReLU, "leaky_relu": LeakyReLU, "elu": ELU, "gelu": GELU,
                                       "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "softmax": Softmax}
