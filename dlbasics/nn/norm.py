"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm, as ``torch.nn``.

All four share one core. Each layer views its input so that the elements of one statistic lie along
``axes`` (BatchNorm (N, C, -1) over (0, 2); InstanceNorm (N, C, -1) over 2; GroupNorm (N, G, -1) over 2;
LayerNorm (N, -1) over 1) and then, with m the number of elements per statistic:

    mu = mean(x),  var = mean((x - mu)^2)  (biased),  xhat = (x - mu) / sqrt(var + eps),  y = gamma xhat + beta
    dxhat = gamma dy,  dx = (1 / sqrt(var + eps)) (dxhat - mean(dxhat) - xhat mean(dxhat xhat))

(the compact backward: the mean and the variance depend on every x in the group; CS231n assignment 2).
gamma ("weight") and beta ("bias") are per channel, except LayerNorm's, which have the per-sample shape.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..config.fields import Bool, Num, Spec
from .layers import Layer, Memory
from .parameter import Parameter

EPS = Num(gt=0.0, doc="added to the variance before the square root")


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, ...]:
    """xhat = (x - mean) / sqrt(var + eps) over ``axes`` -> (xhat, inv_std, mean, var); stats keep their dims."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)  # two passes: no cancellation as in E[x^2] - E[x]^2
    inv_std = 1.0 / np.sqrt(var + eps)
    return xc * inv_std, inv_std, mean, var


def normalize_backward(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """dx = inv_std (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) over ``axes``."""
    mean_d = dxhat.mean(axis=axes, keepdims=True)
    mean_dx = np.mean(dxhat * xhat, axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_d - xhat * mean_dx)


def _shape(shape: tuple[int, ...]) -> str:
    return "(N" + "".join(f", {d}" for d in shape) + ")"


class _Norm(Layer):
    """Shared forward/backward; subclasses give the statistics view, its ``axes`` and the affine shape."""

    axes: ClassVar[tuple[int, ...]] = (2,)
    per_channel: ClassVar[bool] = True  # gamma/beta of shape (C,) (False: of the per-sample shape)

    def __init__(self, eps: float, affine: bool):
        self.eps, self.affine = eps, affine
        self.weight: Parameter | None = None
        self.bias: Parameter | None = None

    def check_shape(self, input_shape: tuple[int, ...]) -> None:
        """Raise ValueError (one line) for an input shape the layer cannot take."""

    def view(self, x: np.ndarray) -> np.ndarray:
        """x reshaped so that one statistic's elements lie along ``self.axes``."""
        return x.reshape(x.shape[0], x.shape[1], -1)

    def plan(self, input_shape):
        """Same shape; weight and bias (if affine) of shape (C,), or the per-sample shape for LayerNorm."""
        if not input_shape:
            raise ValueError(f"{type(self).__name__.lower()} needs at least a feature axis, got (N,)")
        self.check_shape(input_shape)
        shape = tuple(input_shape[:1] if self.per_channel else input_shape)
        return tuple(input_shape), ({"weight": shape, "bias": shape} if self.affine else {})

    def build(self, input_shape, rng, dtype):
        out, shapes = self.plan(input_shape)
        ndim = len(input_shape) + 1
        if self.per_channel:
            self.bshape = (input_shape[0],) + (1,) * (ndim - 2)
            self.param_axes = (0, *range(2, ndim))
        else:
            self.bshape = tuple(input_shape)
            self.param_axes = (0,)
        if self.affine:
            self.weight = Parameter(np.ones(shapes["weight"], dtype=dtype), "weight")
            self.bias = Parameter(np.zeros(shapes["bias"], dtype=dtype), "bias")
        return out

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """Forward keeps xhat and its new output (normalising holds x - mean and xhat at once); backward holds
        dout, dxhat, about three temporaries of normalize_backward and dx: six arrays of the input's size."""
        n = math.prod(input_shape) * itemsize
        return Memory(2 * n, 0, 6 * n)

    def normalize(self, x: np.ndarray, training: bool) -> np.ndarray:
        """xhat from the statistics of x itself (BatchNorm's eval mode overrides this)."""
        xhat, self.inv_std, _, _ = normalize(self.view(x), self.axes, self.eps)
        self.batch_stats = True
        return xhat.reshape(x.shape)

    def forward(self, x, training=False):
        self.xhat = xhat = self.normalize(x, training)
        if self.weight is None:
            return xhat
        return xhat * self.weight.data.reshape(self.bshape) + self.bias.data.reshape(self.bshape)

    def backward(self, dout):
        dxhat = dout
        if self.weight is not None:
            np.sum(dout * self.xhat, axis=self.param_axes, out=self.weight.grad)
            np.sum(dout, axis=self.param_axes, out=self.bias.grad)
            dxhat = dout * self.weight.data.reshape(self.bshape)
        if not self.needs_input_grad:
            return None
        if not self.batch_stats:  # fixed statistics: an affine map
            return dxhat * self.inv_std
        dx = normalize_backward(self.view(dxhat), self.view(self.xhat), self.inv_std, self.axes)
        return dx.reshape(dout.shape)

    def parameters(self):
        return [] if self.weight is None else [self.weight, self.bias]

    def extra_repr(self):
        return f"eps={self.eps}, affine={self.affine}"


class _BatchNorm(_Norm):
    """Per channel over the batch and all spatial positions; running statistics for eval mode."""

    axes = (0, 2)
    constraints: ClassVar[dict[str, Spec]] = {
        "momentum": Num(ge=0.0, le=1.0, doc="weight of the new batch in the running statistics"),
        "eps": EPS,
        "affine": Bool(doc="learn a per-channel scale (weight) and shift (bias)"),
    }

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, affine: bool = True):
        super().__init__(eps, affine)
        self.momentum = momentum

    def build(self, input_shape, rng, dtype):
        out = super().build(input_shape, rng, dtype)
        self.running_mean = np.zeros(input_shape[0], dtype=dtype)
        self.running_var = np.ones(input_shape[0], dtype=dtype)
        return out

    # BatchNorm's own forward/backward: gamma and beta are constant over the normalised axes, so the whole
    # backward folds into per-channel coefficients: with S1 = sum(dy), S2 = sum(dy * xhat) over a channel's m
    # values (= dbeta, dgamma), dx = gamma inv_std (dy - S1 / m - xhat S2 / m). Per-channel sums run as
    # einsum reductions without temporaries. Same values as the shared core, about half the passes over x.
    def forward(self, x, training=False):
        self.fused_by = None  # ran as itself; a fused step (nn/fused.py) that runs this layer sets itself here
        v = self.view(x)  # (N, C, L)
        gamma = self.weight.data if self.weight is not None else np.ones(v.shape[1], v.dtype)
        beta = self.bias.data if self.bias is not None else np.zeros(v.shape[1], v.dtype)
        if not training:
            self.batch_stats = False
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
            self.inv_std = inv_std.reshape(self.bshape)
            self.xhat = (x - self.running_mean.reshape(self.bshape)) * self.inv_std
            scale = gamma * inv_std
            out = x * scale.reshape(self.bshape)
            out += (beta - self.running_mean * scale).reshape(self.bshape)
            return out
        m = v.shape[0] * v.shape[2]
        if m == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
        mean = np.einsum("ncl->c", v) / m
        xc = v - mean[:, None]
        var = np.einsum("ncl,ncl->c", xc, xc) / m  # biased, two passes (no E[x^2] - E[x]^2 cancellation)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        self.batch_stats, self.xc, self.inv_std_c, self.m = True, xc, inv_std, m
        # running = (1 - momentum) running + momentum * batch statistic, with the unbiased variance
        self.running_mean *= 1.0 - self.momentum
        self.running_mean += self.momentum * mean
        self.running_var *= 1.0 - self.momentum
        self.running_var += (self.momentum * m / (m - 1)) * var
        out = xc * (gamma * inv_std)[:, None]
        out += beta[:, None]
        return out.reshape(x.shape)

    @property
    def xhat(self) -> np.ndarray:
        """The normalised input of the last training forward (computed on demand)."""
        return self._xhat if not self.batch_stats else (self.xc * self.inv_std_c[:, None])

    @xhat.setter
    def xhat(self, value: np.ndarray) -> None:
        self._xhat = value

    def backward(self, dout):
        if getattr(self, "fused_by", None) is not None:
            raise RuntimeError("this batch norm's last forward ran inside a fused step (model.fuse): call the "
                               "model's backward, or its own forward first")
        if not self.batch_stats:
            return super().backward(dout)
        d = self.view(dout)
        inv_std, m = self.inv_std_c, self.m
        s1 = np.einsum("ncl->c", d)
        s2 = np.einsum("ncl,ncl->c", d, self.xc) * inv_std  # sum(dy * xhat)
        if self.weight is not None:
            self.weight.grad[...] = s2
            self.bias.grad[...] = s1
        if not self.needs_input_grad:
            return None
        gamma = self.weight.data if self.weight is not None else 1.0
        a = gamma * inv_std
        dx = d * a[:, None]
        dx -= self.xc * (a * inv_std * s2 / m)[:, None]
        dx -= (a * s1 / m)[:, None]
        return dx.reshape(dout.shape)

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """Training forward keeps x - mean and returns a new output; backward holds dout, dx and one temporary
        (eval mode keeps xhat instead of x - mean: the same size)."""
        n = math.prod(input_shape) * itemsize
        return Memory(2 * n, 0, 3 * n)

    def buffers(self):
        """The live running-statistic arrays (C,) by name; load by writing into them (``a[...] = saved``)."""
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def extra_repr(self):
        return f"momentum={self.momentum}, eps={self.eps}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) per channel (Ioffe & Szegedy 2015, arXiv:1502.03167).

    x: (N, C) or (N, C, L) -> same shape; weight, bias, running_mean, running_var: (C,). Training: mu and the
    biased var over N (and L); running = (1 - momentum) running + momentum * stat, with var * m / (m - 1)
    (m = N or N*L values per channel). Eval: xhat = (x - running_mean) / sqrt(running_var + eps), dx = gamma dy
    / sqrt(running_var + eps). Formulas and backward: module docstring.
    """

    def check_shape(self, input_shape):
        if len(input_shape) > 2:
            raise ValueError(f"batchnorm1d expects (N, C) or (N, C, L) input, got {_shape(input_shape)}; "
                             "use batchnorm2d for (N, C, H, W)")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) per channel (Ioffe & Szegedy 2015, arXiv:1502.03167).

    x: (N, C, H, W) -> same shape; weight, bias, running_mean, running_var: (C,); statistics over N, H, W
    (m = N*H*W values per channel). Otherwise as :class:`BatchNorm1d`.
    """

    def check_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"batchnorm2d expects (N, C, H, W) input, got {_shape(input_shape)}")


class LayerNorm(_Norm):
    """Layer normalisation of each sample over all its axes (Ba, Kiros & Hinton 2016, arXiv:1607.06450).

    x: (N, *S) -> same shape; weight, bias: S (``torch.nn.LayerNorm(normalized_shape=S)``). mu and the biased
    var per sample over all of S; the same in training and eval. Formulas and backward: module docstring.
    """

    axes = (1,)
    per_channel = False
    constraints: ClassVar[dict[str, Spec]] = {
        "eps": EPS, "elementwise_affine": Bool(doc="learn a scale (weight) and shift (bias) per element")}

    def __init__(self, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__(eps, elementwise_affine)

    def view(self, x):
        return x.reshape(x.shape[0], -1)

    def extra_repr(self):
        return f"eps={self.eps}, elementwise_affine={self.affine}"


class GroupNorm(_Norm):
    """Group normalisation (Wu & He 2018, arXiv:1803.08494): per sample and group of C / num_groups channels.

    x: (N, C, *S) -> same shape; weight, bias: (C,). mu and the biased var per (sample, group) over the
    group's channels and all of S; the same in training and eval. num_groups = 1 is LayerNorm with per-channel
    affine, num_groups = C is InstanceNorm with affine. Formulas and backward: module docstring.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "num_groups": Num(integer=True, ge=1, doc="number of groups; must divide the channels"),
        "eps": EPS,
        "affine": Bool(doc="learn a per-channel scale (weight) and shift (bias)"),
    }

    def __init__(self, num_groups: int, eps: float = 1e-5, affine: bool = True):
        if not isinstance(num_groups, int) or num_groups < 1:
            raise ValueError(f"groupnorm num_groups must be a positive integer, got {num_groups!r}")
        super().__init__(eps, affine)
        self.num_groups = num_groups

    def check_shape(self, input_shape):
        if input_shape[0] % self.num_groups:
            raise ValueError(f"groupnorm: {input_shape[0]} channels cannot be split into {self.num_groups} "
                             f"equal groups, input {_shape(input_shape)}")

    def view(self, x):
        return x.reshape(x.shape[0], self.num_groups, -1)

    def extra_repr(self):
        return f"num_groups={self.num_groups}, eps={self.eps}, affine={self.affine}"


class InstanceNorm(_Norm):
    """Instance normalisation (Ulyanov et al. 2016, arXiv:1607.08022): per sample and channel over space.

    x: (N, C, L) or (N, C, H, W) -> same shape; weight, bias (if affine): (C,). mu and the biased var per
    (sample, channel) over L or H, W; the same in training and eval (``torch.nn.InstanceNorm1d/2d`` defaults:
    affine=False, no running statistics). Formulas and backward: module docstring.
    """

    constraints: ClassVar[dict[str, Spec]] = {
        "eps": EPS, "affine": Bool(doc="learn a per-channel scale (weight) and shift (bias)")}

    def __init__(self, eps: float = 1e-5, affine: bool = False):
        super().__init__(eps, affine)

    def check_shape(self, input_shape):
        if len(input_shape) not in (2, 3):
            raise ValueError(f"instancenorm expects (N, C, L) or (N, C, H, W) input, got {_shape(input_shape)}")
        if int(np.prod(input_shape[1:])) == 1:
            raise ValueError(f"instancenorm needs more than 1 spatial element per channel, got {_shape(input_shape)}")
