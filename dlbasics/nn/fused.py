"""Fused batch norm + ReLU (+ 2x2 max pooling): the same function as the separate layers, in fewer passes.

``Sequential.build`` (with ``fuse=True``, the default; config ``model.fuse``) replaces each run of layers
``batchnorm1d/2d, relu`` and ``batchnorm2d, relu, maxpool2d 2x2`` (stride 2, no padding, even H and W) by one
:class:`BatchNormReLU` step. The layers stay in ``model.layers`` as they were (``dlb model`` lists them, their
parameters, running statistics and checkpoints do not change); the step reads their settings and parameters,
fills their gradients and updates the batch norm's running statistics. ``fuse: false`` runs them one by one.

With a = gamma / sqrt(var + eps) per channel, the three layers compute y = maxpool(relu(a (x - mean) + beta)).
Both maps after the centring are monotone per channel (increasing where a > 0, decreasing where a < 0), so

    maxpool(relu(a xc + beta)) = relu(|a| maxpool(sign(a) xc) + beta),       xc = x - mean

and the pool runs first, on the centred input, and the affine map and ReLU on a quarter of the pixels. Which
pixel of each window is the maximum is the same in both orders, with the same tie rule (the first maximum in
row-major order, PyTorch's): a tie of the separate layers after the ReLU (a window of zeros) has zero gradient
either way, and a channel with a = 0 (a constant window) routes to its first pixel as PyTorch does (only
two different inputs that the affine map rounds to the same float can tie in the layers and not here). The
gradient of each window goes to that pixel only, so in backward, with dz = dy [z > 0] on the pooled grid and
the per-channel sums S1 = sum(dz) = dbeta and S2 = sum(dz xhat) = dgamma (over the pooled grid: dz is zero
elsewhere),

    dx = a scatter(dz) - (a / m) (S1 + xhat S2),    xhat = xc / sqrt(var + eps),  m = N*H*W

one pass over x for the second term, the scatter writing each window's gradient into its pixel. The centred
input is stored as two planes, the even and the odd columns, so the 2x2 maximum is found in two contiguous
halvings: horizontal pairs (``right``: the right one won), then vertical pairs of those (``lower``); strictly
greater wins, so ties keep the first. Measured on mnist_cnn (batch 100, one thread, CPU time, forward +
backward): the 32x28x28 block 19.9 ms as three layers, 12.1 ms fused; the 64x14x14 block 9.3 -> 6.9 ms; an
evaluation chunk of 500 through the first block ~210 -> 17 ms (no normalised copy of the whole input).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import ReLU
from .layers import Layer, Memory, Shape
from .norm import _BatchNorm
from .parallel import split
from .pooling import MaxPool2D, max2x2, unpool2x2


def fusable(layers: list[Layer], shapes: list[Shape], start: int) -> int:
    """How many layers from ``start`` fuse into one :class:`BatchNormReLU` step (3, 2, or 0 for none).

    ``shapes[i]``: the per-sample input shape of layer i.
    """
    if start + 1 >= len(layers) or not isinstance(layers[start], _BatchNorm) or type(layers[start + 1]) is not ReLU:
        return 0
    if start + 2 < len(layers) and pools_2x2(layers[start + 2], shapes[start + 2]):
        return 3
    return 2


def pools_2x2(layer: Layer, input_shape: Shape) -> bool:
    """A max pool of 2x2 windows that tile a (C, H, W) input: stride 2, no padding, H and W even."""
    return (type(layer) is MaxPool2D and layer.kernel_size == (2, 2) and layer.stride == (2, 2)
            and layer.padding == (0, 0) and len(input_shape) == 3 and input_shape[1] % 2 == 0
            and input_shape[2] % 2 == 0)


class BatchNormReLU:
    """One step for ``batchnorm, relu[, maxpool2d 2x2]`` (module docstring): forward/backward as the layers.

    x: (N, C, *S) -> (N, C, *S), or (N, C, H/2, W/2) with the pool. A training forward keeps for backward the
    centred input xc = sign(a) (x - mean) (a buffer reused every batch; with the pool as two planes, the even
    and the odd columns, so that horizontal neighbours are contiguous), the output, and with the pool the
    pooled xc and the two boolean maps ``right`` and ``lower``. An evaluation forward keeps only x and its
    output (it pools x first: vertical pairs, then horizontal), and works out the rest if backward is called.
    If the batch norm ran its own forward since this step's (code that runs ``model.layers`` one by one, then
    calls ``model.backward``), backward runs the layers' own backwards instead.
    """

    smooth = False  # ReLU's kink and the pool's ties

    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.bn: _BatchNorm = layers[0]
        self.pool = len(layers) == 3
        self.xc: np.ndarray | None = None

    @property
    def needs_input_grad(self) -> bool:
        return self.bn.needs_input_grad

    def parameters(self) -> list:
        return self.bn.parameters()

    def named_parameters(self) -> list:
        return self.bn.named_parameters()

    def __repr__(self) -> str:
        return f"BatchNormReLU({' + '.join(repr(layer) for layer in self.layers)})"

    def _affine(self, dtype: Any, C: int) -> tuple[np.ndarray, np.ndarray]:
        bn = self.bn
        if bn.weight is None:
            return np.ones(C, dtype), np.zeros(C, dtype)
        return bn.weight.data, bn.bias.data

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        bn, N, C = self.bn, x.shape[0], x.shape[1]
        gamma, beta = self._affine(x.dtype, C)
        self.batch_stats, self.input_shape, self.x = training, x.shape, x
        bn.fused_by = self  # (the batch norm's own forward resets it: then backward runs the layers' own)
        if not training:  # the running statistics: relu(a x + beta - a running_mean), pooled first; by samples
            self.inv_std = (1.0 / np.sqrt(bn.running_var + bn.eps)).astype(x.dtype)
            a = self.a = gamma * self.inv_std
            flip = (a < 0).any()
            sign = np.where(a < 0, -1, 1).astype(x.dtype).reshape((C,) + (1,) * (x.ndim - 2))
            shape = (N, C, x.shape[2] // 2, x.shape[3] // 2) if self.pool else x.shape
            per_channel = (C,) + (1,) * (len(shape) - 2)
            scale, shift = np.abs(a).reshape(per_channel), (beta - a * bn.running_mean).reshape(per_channel)
            z = np.empty(shape, np.result_type(x, scale))

            def samples(n0: int, n1: int) -> None:
                s = x[n0:n1] * sign if flip else x[n0:n1]
                if self.pool:  # values only (the order of the halvings does not change a maximum)
                    rows = s.reshape(n1 - n0, C, x.shape[2] // 2, 2, x.shape[3])
                    half = np.maximum(rows[:, :, :, 0], rows[:, :, :, 1])
                    s = np.maximum(half[..., 0::2], half[..., 1::2])
                np.multiply(s, scale, out=z[n0:n1])
                z[n0:n1] += shift
                np.maximum(z[n0:n1], 0, out=z[n0:n1])
            split(samples, N)
            self.out, self.xc, self.pooled = z, None, None
            return self.out
        v = x.reshape(N, C, -1)
        m = v.shape[0] * v.shape[2]
        if m == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
        # per sample and channel sums (by samples: contiguous halves of the batch), then added up over the
        # samples in one call: the same numbers whatever the number of workers
        sums = np.empty((N, C), x.dtype)
        split(lambda n0, n1: np.einsum("ncl->nc", v[n0:n1], out=sums[n0:n1]), N)
        mean = sums.sum(axis=0) / m
        xc = self._xc_buffer(x, reuse=True)
        planes = xc.reshape(2, N, C, -1) if self.pool else xc[None]
        squares = np.empty((len(planes), N, C), x.dtype)

        def centre(n0: int, n1: int) -> None:
            self._centre(x, mean, xc, n0, n1)
            _dots(planes[:, n0:n1], planes[:, n0:n1], squares[:, n0:n1])
        split(centre, N)
        var = squares.sum(axis=(0, 1)) / m  # biased, two passes (no E[x^2] - E[x]^2 cancellation)
        self.inv_std = inv_std = (1.0 / np.sqrt(var + bn.eps)).astype(x.dtype)
        bn.running_mean *= 1.0 - bn.momentum
        bn.running_mean += bn.momentum * mean
        bn.running_var *= 1.0 - bn.momentum
        bn.running_var += (bn.momentum * m / (m - 1)) * var
        self.m, self.a = m, gamma * inv_std
        split(self._signs_and_pool(xc, beta), N)
        return self.out if self.pool else self.out.reshape(x.shape)

    def _xc_buffer(self, x: np.ndarray, reuse: bool) -> np.ndarray:
        """The buffer of the centred input: (N, C, H*W), or with the pool the planes (2, N, C, H, W/2) of the
        even and the odd columns; that of the last training step when ``reuse`` and the shape has not changed."""
        N, C = x.shape[:2]
        shape = (2, N, C, x.shape[2], x.shape[3] // 2) if self.pool else (N, C, math.prod(x.shape[2:]))
        return self.xc if reuse and self.xc is not None and self.xc.shape == shape and self.xc.dtype == x.dtype \
            else np.empty(shape, x.dtype)

    def _centre(self, x: np.ndarray, mean: np.ndarray, xc: np.ndarray, n0: int, n1: int) -> None:
        """xc = x - mean for samples n0..n1 (the layout of :meth:`_xc_buffer`)."""
        if self.pool:
            np.subtract(x[n0:n1, :, :, 0::2], mean[:, None, None], out=xc[0][n0:n1])
            np.subtract(x[n0:n1, :, :, 1::2], mean[:, None, None], out=xc[1][n0:n1])
        else:
            np.subtract(x[n0:n1].reshape(n1 - n0, x.shape[1], -1), mean[:, None], out=xc[n0:n1])

    def _centred(self, x: np.ndarray, mean: np.ndarray, reuse: bool) -> np.ndarray:
        """x - mean per channel, in a :meth:`_xc_buffer` (by samples)."""
        xc = self._xc_buffer(x, reuse)
        split(lambda n0, n1: self._centre(x, mean, xc, n0, n1), x.shape[0])
        return xc

    def _signs_and_pool(self, xc: np.ndarray, beta: np.ndarray | None = None) -> Callable[[int, int], None]:
        """The rest of the forward pass for samples n0..n1, as a function ``(n0, n1)`` for :func:`split`: flip
        xc where a < 0 (pooling sign(a) xc finds the maximum of a xc); keep xc, and pool it (2x2 max of the
        planes (2, N, C, H, W/2) -> (N, C, H/2, W/2), winners in ``right`` and ``lower``). Channels with a = 0
        (every window constant after the affine map) take the window's first pixel, as PyTorch's pool of a
        constant window does. Sets ``self.sign``, ``self.pooled`` (the pooled xc; None without the pool) and
        with ``beta`` ``self.out``, the step's output relu(|a| (sign(a) xc) + beta) = relu(a xc + beta)."""
        a, pool, dt = self.a, self.pool, xc.dtype
        self.sign = np.where(a < 0, -1, 1).astype(dt)
        negative, first = a < 0, a == 0
        flip, constant = negative.any(), first.any()
        if pool:
            _, N, C, H, Wh = xc.shape
            pooled = np.empty((N, C, H // 2, Wh), dt)
            self.right, self.lower = right, lower = np.empty((N, C, H, Wh), bool), np.empty((N, C, H // 2, Wh), bool)
        kept = pooled if pool else xc
        self.xc, self.pooled = xc, (pooled if pool else None)
        out = None if beta is None else np.empty(kept.shape, dt)
        if out is not None:
            self.out = out
            per_channel = (kept.shape[1],) + (1,) * (kept.ndim - 2)
            scale, shift = np.abs(a).reshape(per_channel), beta.reshape(per_channel)

        def samples(n0: int, n1: int) -> None:
            if flip:
                if pool:
                    xc[:, n0:n1, negative] *= -1
                else:
                    xc[n0:n1, negative] *= -1
            if pool:
                max2x2(xc[:, n0:n1], pooled[n0:n1], right[n0:n1], lower[n0:n1])
                if constant:
                    right[n0:n1, first], lower[n0:n1, first] = False, False
                    pooled[n0:n1, first] = xc[0][n0:n1, first, 0::2]
            if out is not None:
                z = np.multiply(kept[n0:n1], scale, out=out[n0:n1])
                z += shift  # a xc + beta = |a| (sign(a) xc) + beta
                np.maximum(z, 0, out=z)
        return samples

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        bn, N, C = self.bn, dout.shape[0], dout.shape[1]
        if getattr(bn, "fused_by", None) is not self:  # the layers ran one by one since: theirs is the state
            for layer in reversed(self.layers):
                dout = layer.backward(dout)
                if dout is None:
                    break
            return dout
        if not self.batch_stats and self.xc is None:  # after an evaluation forward: centre on running_mean now
            split(self._signs_and_pool(self._centred(self.x, self.bn.running_mean, reuse=False)), N)
        out = self.out.reshape(dout.shape)
        dz = np.empty(dout.shape, np.result_type(dout.dtype, bool))
        d = dz.reshape(N, C, -1)
        kept = (self.pooled if self.pool else self.xc).reshape(N, C, -1)
        part = np.empty((2, N, C), d.dtype)

        def sums(n0: int, n1: int) -> None:  # per sample and channel, added up over the samples below
            np.multiply(dout[n0:n1], out[n0:n1] > 0, out=dz[n0:n1])
            np.einsum("ncl->nc", d[n0:n1], out=part[0, n0:n1])
            _dots(d[n0:n1], kept[n0:n1], part[1, n0:n1])
        split(sums, N)
        s1, s2 = part.sum(axis=1)
        s2 *= self.sign
        s2 *= self.inv_std  # sum(dz * xhat)
        if bn.weight is not None:
            bn.weight.grad[...] = s2
            bn.bias.grad[...] = s1
        if not bn.needs_input_grad:
            return None
        a, pool = self.a, self.pool
        if self.batch_stats:  # dx = a scatter(dz) - (a / m) (S1 + xhat S2), xhat = sign xc inv_std
            m = self.m
            scale, shift = -(a / m) * s2 * self.inv_std * self.sign, a * s1 / m
        dx = np.empty(self.input_shape, d.dtype)
        flat = None if pool else dx.reshape(N, C, -1)

        def gradient(n0: int, n1: int) -> None:
            routed = d[n0:n1] * a[:, None]  # a dz, to be scattered to the pixels that won
            base = None  # fixed statistics: dx = a scatter(dz)
            if self.batch_stats:
                xc = self.xc[:, n0:n1] if pool else self.xc[n0:n1]
                per_channel = (C,) + (1,) * (xc.ndim - (3 if pool else 2))
                base = xc * scale.reshape(per_channel)
                base -= shift.reshape(per_channel)
            if pool:
                self._unpool(routed.reshape(n1 - n0, C, *self.out.shape[2:]), base, dx[n0:n1], n0, n1)
            elif base is None:
                np.copyto(flat[n0:n1], routed)
            else:
                np.add(base, routed, out=flat[n0:n1])
        split(gradient, N)
        return dx

    def _unpool(self, g: np.ndarray, base: np.ndarray | None, dx: np.ndarray, n0: int, n1: int) -> None:
        """dx (n1 - n0, C, H, W) of samples n0..n1: ``base`` (planes, or None for zeros) plus each window's
        gradient g at its winner."""
        even, odd = unpool2x2(g, self.right[n0:n1], self.lower[n0:n1])
        if base is None:
            dx[..., 0::2], dx[..., 1::2] = even, odd
        else:
            np.add(base[0], even, out=dx[..., 0::2])
            np.add(base[1], odd, out=dx[..., 1::2])

    def memory(self, input_shape: Shape, output_shape: Shape, itemsize: int, needs_input_grad: bool = True
               ) -> Memory:
        """Per sample, as ``Layer.memory``. Forward keeps its output, with the pool also the pooled xc and the
        two boolean maps (a half and a quarter of the input's pixels, one byte each); the xc buffer (the input's
        size) is reused by the next training step, so it counts as kept by backward (evaluation does not free
        it). Backward holds dout, dz, a dz, with the pool the scatter's half-size temporaries, the base term
        (the input's size) and dx."""
        n_in, n_out = math.prod(input_shape), math.prod(output_shape)
        forward = n_out * itemsize * (2 if self.pool else 1) + ((n_in // 2 + n_out) if self.pool else 0)
        dx = 2 * n_in * itemsize if needs_input_grad else 0
        scratch = 3 * n_out * itemsize + (n_in * itemsize if self.pool else 0) + dx
        return Memory(forward, n_in * itemsize, scratch)

    def eval_memory(self, input_shape: Shape, output_shape: Shape, itemsize: int) -> int:
        """An evaluation forward keeps its output (and a reference to x); counted with what it holds while it
        runs: x with signs flipped (when some gamma < 0), with the pool the vertical maxima (half of x) and the
        pooled values."""
        n_in, n_out = math.prod(input_shape), math.prod(output_shape)
        return (n_in + (n_in // 2 + n_out if self.pool else 0) + n_out) * itemsize


def _dots(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """out[...] = sum(a * b) over the last axis, as one dot product per entry (matmul of (1, L) by (L, 1):
    2.2x faster than einsum's "ncl,ncl->nc" on (100, 32, 784) float32, and each entry the same numbers
    whatever the batch it is part of)."""
    np.matmul(a[..., None, :], b[..., :, None], out=out[..., None, None])
