"""Convolution layers (cross-correlation, as PyTorch): im2col and one matrix product, as CS231n's fast layers.

im2col copies every receptive field of the input into a column, so the convolution becomes one matrix product
``out = W @ cols`` with ``W`` reshaped to (C_out, C*kh*kw). The copy is a loop over the kh*kw kernel taps,
vectorised over samples, channels and output pixels: tap (i, j) of output pixel (y, x) reads input pixel
(y*stride + i - pad, x*stride + j - pad). The padding is never materialised: the column buffer is allocated with
zeros once and kept, and each tap writes only the outputs whose input pixel is real. col2im (for dx) is the same
loop adding instead of copying. With stride 1 and 'same' padding each tap is a shift of the flattened pixels: one
long copy per channel instead of N*H' rows of W' (im2col + col2im 1.5x faster on 14x14 images).

Column layout, chosen by measurement: (C*kh*kw, N*H'*W'), samples inside the rows. dW and dcols are then ONE
large product over all N*H'*W' pixels, while the forward product runs per sample on each sample's strided
(C*kh*kw, H'*W') block and so writes NCHW output directly. Forward+backward of 32 -> 64 channels, 3x3, on
(100, 32, 14, 14), one thread: 47 ms with the textbook (N*H'*W', C*kh*kw) columns (scattered im2col writes, output
channels-last, transposing copies of out and dout), 40 ms with per-sample (N, C*kh*kw, H'*W') blocks (N small
products for dW and dcols), 35 ms with this layout; 32 ms adding the shifts above and the bias trick.
The bias is the last column of W against a constant row of ones in ``cols`` (CS231n's bias trick): no separate
pass adds b or sums dout for db.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..config.fields import Bool, Choice, Either, Num, Seq, Spec
from .init import INIT, describe, initialize
from .kernels.winograd import Winograd3x3
from .layers import Layer, Memory
from .parallel import split
from .parameter import Parameter

Taps = list[tuple[int, int, tuple[slice, ...], tuple[slice, ...]]]

POS_INT = Num(integer=True, ge=1)
#: ``algorithm: auto`` runs Winograd's F(2x2, 3x3) for 3x3 stride-1 kernels on inputs with at least this many
#: channels (measured, one thread, N = 100: 32 -> 64 on 14x14 forward+backward 30 ms Winograd, 33 ms im2col;
#: 16 -> 32 on 28x28 49 vs 44 ms and 1 -> 32: 34 vs 4 ms, the transforms outweighing the shorter products)
WINOGRAD_MIN_CHANNELS = 32
SIZE_2D = Either(POS_INT, Seq(POS_INT, length=2), doc="an integer or [height, width]")
PAD_1D = Either(Num(integer=True, ge=0), Choice(["same", "valid"]),
                doc="zeros added at both ends, or 'same' (output length = input length) or 'valid' (0)")
PAD_2D = Either(Num(integer=True, ge=0), Seq(Num(integer=True, ge=0), length=2), Choice(["same", "valid"]),
                doc="zeros added on each side (an integer or [height, width]), 'same' (output size = input size, "
                    "stride 1 only) or 'valid' (0)")


def as_tuple(value: int | list[int] | tuple[int, ...], ndim: int, name: str) -> tuple[int, ...]:
    """An int -> (value,) * ndim; a list or tuple of ndim ints -> a tuple."""
    if isinstance(value, (list, tuple)):
        if len(value) != ndim:
            raise ValueError(f"{name} needs {ndim} values, got {list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * ndim


def fmt(sizes: tuple[int, ...] | list[int]) -> str:
    """(5, 5) -> '5x5'."""
    return "x".join(map(str, sizes))


def compact(sizes: tuple[int, ...]) -> int | tuple[int, ...]:
    """(3, 3) -> 3 for reprs; (3, 5) stays."""
    return sizes[0] if len(set(sizes)) == 1 else sizes


def check_rank(name: str, input_shape: tuple[int, ...], ndim: int) -> None:
    """ValueError unless the per-sample shape is (C, *ndim spatial sizes), with a hint on how to fix it."""
    if len(input_shape) == ndim + 1:
        return
    want = "(C, L)" if ndim == 1 else "(C, H, W)"
    if len(input_shape) == ndim:
        hint = f"; add a channel axis: (1, {', '.join(map(str, input_shape))})"
    elif len(input_shape) < ndim:
        hint = "; remove the flatten before it"
    elif ndim == 1 and len(input_shape) == 3:
        hint = f"; use {name.replace('1d', '2d')} for (C, H, W) input"
    else:
        hint = ""
    raise ValueError(f"{name} expects {want} input, got {tuple(input_shape)}{hint}")


def out_size(size: int, kernel: int, stride: int, pad: tuple[int, int]) -> int:
    """floor((size + pad_before + pad_after - kernel) / stride) + 1."""
    return (size + pad[0] + pad[1] - kernel) // stride + 1


def tap_slices(size: int, kernel: int, stride: int, pad_before: int, n_out: int) -> list[tuple[slice, slice]]:
    """Along one axis, for each kernel tap t: (input slice, output slice) of the outputs whose tap reads real input.

    Output o's tap t reads input o*stride + t - pad_before; outputs whose tap falls in the padding are left out.
    """
    taps = []
    for t in range(kernel):
        first = max(0, -((t - pad_before) // stride))  # ceil((pad_before - t) / stride)
        last = min(n_out - 1, (size - 1 + pad_before - t) // stride)
        if last < first:
            taps.append((slice(0, 0), slice(0, 0)))
            continue
        start = first * stride + t - pad_before
        taps.append((slice(start, start + (last - first) * stride + 1, stride), slice(first, last + 1)))
    return taps


def taps_2d(in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            pads: tuple[tuple[int, int], ...], out_hw: tuple[int, int]) -> Taps:
    """For each tap (i, j): (i, j, index into (N, C, H, W) input, index into (N, C, H', W') output)."""
    rows = tap_slices(in_hw[0], kernel[0], stride[0], pads[0][0], out_hw[0])
    cols = tap_slices(in_hw[1], kernel[1], stride[1], pads[1][0], out_hw[1])
    return [(i, j, np.s_[:, :, ri, ci], np.s_[:, :, ro, co])
            for i, (ri, ro) in enumerate(rows) for j, (ci, co) in enumerate(cols)]


def _span(shift: int, length: int) -> tuple[int, int]:
    """[lo, hi): the positions q of a run of ``length`` whose shifted position q + shift is in the run too."""
    lo = max(0, -shift)
    return lo, max(lo, min(length, length - shift))


class _Conv(Layer):
    """Shared machinery: 1-D input (N, C, L) runs as 2-D input (N, C, 1, L) with a (1, k) kernel."""

    ndim: ClassVar[int] = 2

    def __init__(self, out_channels: int, kernel_size: int | list[int], stride: int | list[int] = 1,
                 padding: int | list[int] | str = 0, bias: bool = True, init: str | dict[str, Any] = "he_normal"):
        self.out_channels, self.bias, self.init = out_channels, bias, init
        self.kernel_size = as_tuple(kernel_size, self.ndim, "kernel_size")
        self.stride = as_tuple(stride, self.ndim, "stride")
        if padding not in ("same", "valid"):
            padding = as_tuple(padding, self.ndim, "padding")
        self.padding = padding
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        self._work: dict[str, np.ndarray] = {}
        self.winograd: Winograd3x3 | None = None
        self.x_pending: np.ndarray | None = None

    def _pads(self, input_shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """(before, after) zeros per spatial axis; ValueError for a shape this convolution cannot take."""
        check_rank(type(self).__name__.lower(), input_shape, self.ndim)
        spatial, k, s = input_shape[1:], self.kernel_size, self.stride
        if self.padding == "same":
            if any(st != 1 for st in s):
                raise ValueError(f"padding='same' needs stride 1, got stride {fmt(s)}")
            pads = tuple(((kk - 1) // 2, kk - 1 - (kk - 1) // 2) for kk in k)  # torch: the odd pixel goes last
        elif self.padding == "valid":
            pads = ((0, 0),) * self.ndim
        else:
            pads = tuple((p, p) for p in self.padding)
        padded = [n + a + b for n, (a, b) in zip(spatial, pads)]
        if any(kk > n for kk, n in zip(k, padded)):
            raise ValueError(f"kernel {fmt(k)} is larger than the padded input {fmt(padded)}")
        return pads

    def plan(self, input_shape):
        """(C_in, *S) -> (C_out, *S') with S' by the output-size formula; weight (C_out, C_in, *k), bias (C_out,)."""
        pads, k, s = self._pads(input_shape), self.kernel_size, self.stride
        if getattr(self, "algorithm", "im2col") == "winograd" and not self.winograd_fits():
            raise ValueError(f"algorithm 'winograd' needs a 3x3 kernel and stride 1, got kernel {fmt(k)} and stride "
                             f"{fmt(s)}; use 'im2col' or 'auto'")
        out = tuple(out_size(n, kk, st, p) for n, kk, st, p in zip(input_shape[1:], k, s, pads))
        params = {"weight": (self.out_channels, input_shape[0], *self.kernel_size)}
        if self.bias:
            params["bias"] = (self.out_channels,)
        return (self.out_channels, *out), params

    def build(self, input_shape, rng, dtype):
        (_, *out), shapes = self.plan(input_shape)  # checks the shape, so nothing is allocated for a bad one
        (C, *spatial), k, s, pads = input_shape, self.kernel_size, self.stride, self._pads(input_shape)
        self._work = {}  # buffers shaped for an earlier build would hold stale entries
        self.W = Parameter(initialize(self.init, shapes["weight"], rng, dtype), "weight")
        self.b = Parameter(np.zeros(shapes["bias"], dtype=dtype), "bias") if self.bias else None
        self.input_shape, self.output_shape = tuple(input_shape), (self.out_channels, *out)
        one = (1,) * (2 - self.ndim)  # 1-D: a height-1 image
        self.in_chw = (C, *one, *spatial)
        self.out_chw = (self.out_channels, *one, *out)
        self.kernel_hw = (*one, *k)
        self.taps = taps_2d(self.in_chw[1:], self.kernel_hw, (*one, *s), ((0, 0),) * len(one) + pads, self.out_chw[1:])
        self.winograd = Winograd3x3(self.in_chw, self.out_chw, pads) if self.uses_winograd(C) else None
        self.largest_batch = 0  # of the training forwards: evaluation runs in blocks no larger
        # stride 1 and output size = input size ('same'): on the pixels flattened over (N, H, W), tap (i, j) is a
        # shift by (i - pad_top) * W + (j - pad_left), so im2col / col2im copy / add one long run per channel
        # instead of N*H' short rows; the outputs whose tap reads padding (a neighbour after the shift) are zeroed
        self.shifts = None
        if (*one, *s) == (1, 1) and self.out_chw[1:] == self.in_chw[1:]:
            (pt, _), (pl, _) = ((0, 0),) * len(one) + pads
            H, W = self.out_chw[1:]
            self.shifts = [(i, j, (i - pt) * W + (j - pl),
                            [b for b, empty in ((np.s_[:, :, :ro.start], ro.start == 0),
                                                (np.s_[:, :, ro.stop:], ro.stop == H),
                                                (np.s_[:, :, :, :co.start], co.start == 0),
                                                (np.s_[:, :, :, co.stop:], co.stop == W)) if not empty])
                           for i, j, _, (_, _, ro, co) in self.taps]
        return self.output_shape

    def _buffer(self, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A scratch array kept between calls (fresh allocations of tens of MB cost page faults every batch)."""
        buf = self._work.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._work[key] = np.empty(shape, dtype)
        return buf

    def _im2col(self, x: np.ndarray, cols: np.ndarray) -> None:
        """cols[c, i, j, n, y', x'] = x[n, c, y'*stride + i - pad, x'*stride + j - pad] where that is not padding."""
        N, (C, H, W) = x.shape[0], self.in_chw
        if self.shifts is None:
            for i, j, src, dst in self.taps:
                cols[:, i, j].transpose(1, 0, 2, 3)[dst] = x.reshape(N, C, H, W)[src]
            return
        xt = self._buffer("xt", (C, N * H * W), cols.dtype)  # channels first, then one run of pixels
        np.copyto(xt.reshape(C, N, H * W), x.reshape(N, C, H * W).transpose(1, 0, 2))
        for i, j, shift, blanks in self.shifts:
            lo, hi = _span(shift, xt.shape[1])
            cols[:, i, j].reshape(C, -1)[:, lo:hi] = xt[:, lo + shift:hi + shift]
            for blank in blanks:
                cols[:, i, j][blank] = 0

    def _col2im(self, dcols: np.ndarray) -> np.ndarray:
        """The adjoint of im2col: dx[n, c, y, x] = sum of the dcols entries that read x[n, c, y, x]."""
        N, (C, H, W) = dcols.shape[3], self.in_chw
        if self.shifts is None:
            dx = np.zeros((N, C, H, W), dcols.dtype)
            for i, j, src, dst in self.taps:
                dx[src] += dcols[:, i, j].transpose(1, 0, 2, 3)[dst]
            return dx
        dxt = np.zeros((C, N * H * W), dcols.dtype)
        for i, j, shift, blanks in self.shifts:
            for blank in blanks:  # these read padding: after the shift they would land on a neighbour
                dcols[:, i, j][blank] = 0
            lo, hi = _span(shift, dxt.shape[1])
            d = dxt[:, lo + shift:hi + shift]
            d += dcols[:, i, j].reshape(C, -1)[:, lo:hi]
        return np.ascontiguousarray(dxt.reshape(C, N, H, W).transpose(1, 0, 2, 3))

    def winograd_fits(self) -> bool:
        """Winograd's F(2x2, 3x3) applies: a 3x3 kernel, stride 1 (a 2-D convolution)."""
        return self.ndim == 2 and self.kernel_size == (3, 3) and self.stride == (1, 1)

    def uses_winograd(self, in_channels: int) -> bool:
        """'winograd', or 'auto' where it fits and the input has at least WINOGRAD_MIN_CHANNELS channels."""
        algorithm = getattr(self, "algorithm", "im2col")
        return algorithm == "winograd" or (algorithm == "auto" and self.winograd_fits()
                                           and in_channels >= WINOGRAD_MIN_CHANNELS)

    def _follow_algorithm(self) -> None:
        """Make ``self.winograd`` match ``algorithm`` as it is now (a user or a test may switch it after build):
        the kernel when it is chosen (created if build did not, with plan's check that it fits), else None."""
        wanted = self.uses_winograd(self.in_chw[0])
        if wanted and self.winograd is None:
            self.plan(self.input_shape)
            self.winograd = Winograd3x3(self.in_chw, self.out_chw, self._pads(self.input_shape))
        elif not wanted:
            self.winograd = None

    def forward(self, x, training=False):
        self._follow_algorithm()
        if self.winograd is not None:
            return self._winograd_forward(x, training)
        N = x.shape[0]
        (C, _, _), (F, Ho, Wo), (kh, kw) = self.in_chw, self.out_chw, self.kernel_hw
        K, P, bias = C * kh * kw, Ho * Wo, self.b is not None
        # columns (K, N, P), plus a row of ones when there is a bias (the bias trick: b is a column of W);
        # kept between calls, so the entries that read padding, never written, stay 0
        self.cols = self._work.get("cols")
        if self.cols is None or self.cols.shape != (K + bias, N, P) or self.cols.dtype != self.W.data.dtype:
            self.cols = self._work["cols"] = np.zeros((K + bias, N, P), self.W.data.dtype)
            self.cols[K:] = 1
        self._im2col(x, self.cols[:K].reshape(C, kh, kw, N, Ho, Wo))
        Wb = self.W.data.reshape(F, K)
        if bias:
            Wb = self._buffer("Wb", (F, K + 1), Wb.dtype)
            Wb[:, :K], Wb[:, K] = self.W.data.reshape(F, K), self.b.data
        cols = self.cols.transpose(1, 0, 2)
        out = np.empty((N, F, P), np.result_type(Wb, cols))  # one product per sample, NCHW directly
        split(lambda n0, n1: np.matmul(Wb, cols[n0:n1], out=out[n0:n1]), N)  # by samples (parallel.py)
        return out.reshape(N, *self.output_shape)

    def _winograd_forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """The Winograd kernel (nn/kernels/winograd.py). An evaluation batch larger than the largest training
        batch (the buffers' size) runs in equal blocks no larger than that (100 after batches of 64: two of
        50, so no block of another size reallocates the buffers; blocks of the buffers' current size shrank
        to 4 samples after an epoch's last batch of 16 and a chunk of 100); backward after it transforms the
        whole batch again."""
        kernel, b, n = self.winograd, None if self.b is None else self.b.data, len(x)
        if training:
            self.largest_batch = max(getattr(self, "largest_batch", 0), n)
        limit = max(getattr(self, "largest_batch", 0), kernel.batch or 0)
        if training or limit == 0 or n <= limit:
            self.x_pending = None
            return kernel.forward(x, self.W.data, b)
        self.x_pending = x
        block = -(-n // -(-n // limit))  # ceil(n / the number of blocks)
        return np.concatenate([kernel.forward(x[s:s + block], self.W.data, b) for s in range(0, n, block)])

    def _winograd_backward(self, dout: np.ndarray) -> np.ndarray | None:
        if self.x_pending is not None:  # after a blocked evaluation forward
            self.winograd.forward(self.x_pending, self.W.data, None if self.b is None else self.b.data)
            self.x_pending = None
        dw, db, dx = self.winograd.backward(dout, self.needs_input_grad)
        self.W.grad[...] = dw
        if self.b is not None:
            self.b.grad[...] = db
        return dx

    def backward(self, dout):
        if self.winograd is not None:
            return self._winograd_backward(dout)
        N = dout.shape[0]
        (C, _, _), (F, Ho, Wo), (kh, kw) = self.in_chw, self.out_chw, self.kernel_hw
        K, P, bias = C * kh * kw, Ho * Wo, self.b is not None
        dout, cols = dout.reshape(N, F, P), self.cols
        dWt = self._buffer("dWt", (K + bias, F), cols.dtype)  # dW^T, with db as its last row (the bias trick)
        if 8 * K <= P:  # few taps (a first layer): N products (N, F, K), summed, beat transposing all of dout
            per_sample = np.empty((N, F, K + bias), np.result_type(dout, cols))  # by samples, then summed whole
            split(lambda n0, n1: np.matmul(dout[n0:n1], cols[:, n0:n1].transpose(1, 2, 0), out=per_sample[n0:n1]),
                  N)
            np.sum(per_sample, axis=0, out=dWt.T)
            dout_t = None
        else:  # an (F, N*P) copy of dout, then dW^T = cols @ dout^T as one product over every pixel
            dout_t = self._buffer("dout_t", (F, N * P), dout.dtype)
            np.copyto(dout_t.reshape(F, N, P), dout.transpose(1, 0, 2))
            np.matmul(cols.reshape(-1, N * P), dout_t.T, out=dWt)  # (OpenBLAS: faster than dout @ cols^T)
        self.W.grad.reshape(F, K)[...] = dWt[:K].T
        if bias:
            self.b.grad[...] = dWt[K]
        if not self.needs_input_grad:
            return None
        W2 = self.W.data.reshape(F, K)
        dcols = self._buffer("dcols", (K, N, P), cols.dtype)
        if dout_t is None:
            np.matmul(W2.T, dout, out=dcols.transpose(1, 0, 2))
        else:  # dcols = W^T @ dout, computed transposed (OpenBLAS: 20% faster)
            np.matmul(dout_t.T, W2, out=dcols.reshape(K, N * P).T)
        dx = self._col2im(dcols.reshape(C, kh, kw, N, Ho, Wo))
        return dx.reshape(N, *self.input_shape)

    def memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        if self.uses_winograd(input_shape[0]):
            return Winograd3x3.memory(input_shape, output_shape, itemsize, needs_input_grad)
        return self._im2col_memory(input_shape, output_shape, itemsize, needs_input_grad)

    def eval_memory(self, input_shape, output_shape, itemsize):
        """Winograd: the output, twice while the blocks of a large evaluation chunk are joined (the work
        buffers are the training batch's, counted as backward's); im2col: as in training."""
        if self.uses_winograd(input_shape[0]):
            return 2 * math.prod(output_shape) * itemsize
        return super().eval_memory(input_shape, output_shape, itemsize)

    def _im2col_memory(self, input_shape, output_shape, itemsize, needs_input_grad=True):
        """K = C_in*kh*kw, P = output pixels. Forward keeps the columns (K + bias, N, P) and, on the shift path
        (stride 1, output size = input size), the channels-first copy of x; it returns a new (N, C_out, P).
        Backward keeps for the next step the (C_out, N*P) copy of dout (when 8K > P) and, if dx is needed, dcols
        (K, N, P); while it runs it holds dout, the (N, C_out, K + bias) products (when 8K <= P) and dx (twice
        on the shift path)."""
        C, n_in, F, P = input_shape[0], math.prod(input_shape), output_shape[0], math.prod(output_shape[1:])
        K = C * math.prod(self.kernel_size)
        shifts = all(st == 1 for st in self.stride) and tuple(output_shape[1:]) == tuple(input_shape[1:])
        forward = (K + self.bias) * P + F * P + (n_in if shifts else 0)
        backward = (F * P if 8 * K > P else 0) + (K * P if needs_input_grad else 0)
        scratch = F * P + (F * (K + self.bias) if 8 * K <= P else 0) + (n_in * (1 + shifts) if needs_input_grad else 0)
        return Memory(forward * itemsize, backward * itemsize, scratch * itemsize)

    def parameters(self):
        return [self.W] if self.b is None else [self.W, self.b]

    def extra_repr(self):
        pad = self.padding if isinstance(self.padding, str) else compact(self.padding)
        algorithm = getattr(self, "algorithm", "auto")
        return (f"{self.out_channels}, kernel_size={compact(self.kernel_size)}, stride={compact(self.stride)}, "
                f"padding={pad!r}, init={describe(self.init)}" + ("" if self.bias else ", bias=False")
                + ("" if algorithm == "auto" else f", algorithm={algorithm!r}"))


class Conv1D(_Conv):
    """1-D convolution over sequences: each output channel slides a (C_in, k) kernel along L.

    x: (N, C_in, L) -> (N, C_out, L'), L' = floor((L + 2*pad - k) / stride) + 1 (padding='same': L' = L, the odd
    padded pixel going at the end as in PyTorch). weight: (C_out, C_in, k) initialised by ``init`` (fan_in =
    C_in*k), bias: (C_out,) zeros. Backward: dW = dout @ cols^T, db = sum over N and L', dx = col2im(W^T @ dout).
    """

    ndim = 1
    constraints: ClassVar[dict[str, Spec]] = {
        "out_channels": Num(integer=True, ge=1, doc="number of output channels (filters)"),
        "kernel_size": Num(integer=True, ge=1, doc="kernel length"),
        "stride": Num(integer=True, ge=1, doc="step between windows"),
        "padding": PAD_1D,
        "bias": Bool(doc="add a bias per output channel (initialised to 0)"),
        "init": INIT,
    }


class Conv2D(_Conv):
    """2-D convolution over images (NCHW): each output channel slides a (C_in, kh, kw) kernel over H and W.

    x: (N, C_in, H, W) -> (N, C_out, H', W'), H' = floor((H + 2*pad - kh) / stride) + 1 (same for W';
    padding='same': H' = H, W' = W, the odd padded row/column going at the bottom/right as in PyTorch).
    weight: (C_out, C_in, kh, kw) initialised by ``init`` (fan_in = C_in*kh*kw), bias: (C_out,) zeros.
    Backward: dW = dout @ cols^T, db = sum over N, H', W', dx = col2im(W^T @ dout).
    ``algorithm``: 'im2col' (above), 'winograd' (F(2x2, 3x3) for 3x3 kernels with stride 1, 2.25x fewer
    multiplications: :mod:`dlbasics.nn.kernels.winograd`) or 'auto' (Winograd where it fits and the input has
    at least ``WINOGRAD_MIN_CHANNELS`` channels, else im2col). Same function either way, tested against
    ``nn/naive.py``.
    """

    ndim = 2
    constraints: ClassVar[dict[str, Spec]] = {
        "out_channels": Num(integer=True, ge=1, doc="number of output channels (filters)"),
        "kernel_size": SIZE_2D,
        "stride": SIZE_2D,
        "padding": PAD_2D,
        "bias": Bool(doc="add a bias per output channel (initialised to 0)"),
        "init": INIT,
        "algorithm": Choice(["auto", "im2col", "winograd"],
                            doc="im2col + one matrix product, Winograd F(2x2, 3x3) (3x3 kernels, stride 1), or "
                                "auto: Winograd where it fits and the input has >= 32 channels"),
    }

    def __init__(self, out_channels: int, kernel_size: int | list[int], stride: int | list[int] = 1,
                 padding: int | list[int] | str = 0, bias: bool = True, init: str | dict[str, Any] = "he_normal",
                 algorithm: str = "auto"):
        if algorithm not in ("auto", "im2col", "winograd"):
            raise ValueError(f"algorithm must be 'auto', 'im2col' or 'winograd', got {algorithm!r}")
        self.algorithm = algorithm
        super().__init__(out_channels, kernel_size, stride, padding, bias, init)
