"""Winograd's minimal filtering F(2x2, 3x3) for stride-1 3x3 convolutions (Lavin & Gray 2015, arXiv:1509.09308).

Each 2x2 tile of outputs is computed from the 4x4 tile of inputs that covers it (tiles overlap by 2 pixels):

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* element-wise over the 4x4 positions xi)

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]   G = [[1, 0, 0], [1/2, 1/2, 1/2],
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]                                     [1/2, -1/2, 1/2], [0, 0, 1]]

Summed over input channels, the element-wise products become 16 matrix products, one per position xi:
M[xi] (T, F) = V[xi] (T, C) @ U[xi] (C, F) with V = B^T d B of every tile (T = N * tiles per image) and
U = G g G^T of every (input, output) channel pair: 16 C F T multiplications instead of im2col's 36 C F T
(2.25x fewer). Backward is the adjoint of the same steps: dM = A dY A^T, dU[xi] = V[xi]^T dM[xi],
dW = G^T dU G, dV[xi] = dM[xi] U[xi]^T, and dx = the tiles B dV B^T added back where they overlap. The bias is
added to M[1, 1], whose output transform reaches all four outputs of a tile with weight 1, so db = sum dM[1, 1].

Layout: pixels first, then samples, then channels, (H, W, N, C): the transforms are element-wise operations
over 4x4 strided views of the tiles, and with the pixel axes outermost every view is a long contiguous run of
N*C numbers (in NCHW the runs would be tile rows of 7 numbers: measured 9x slower). The input, the output,
dout and dx are transposed once each between NCHW and this layout. The padding is never computed: the padded
input buffer is kept between calls and only its interior is written.

Rounding: the transforms add and subtract up to nine numbers per value, while each matrix product sums
only C terms instead of 9 C. Measured in float32 against float64 on mnist_cnn's 32 -> 64 layer
(100 x 32 x 14 x 14, He-initialised weights, standard normal x and dout; two seeds), max |error| / max |exact|:
forward 2.7-2.9e-7 (im2col 6.3-9.3e-7), dx 3.1-3.4e-7 (im2col 2.1-2.4e-7), dW 6.6-8.8e-7 (im2col 3.7-4.3e-7):
within a factor of two of im2col either way. In float64 it agrees with the naive loops to ~1e-14.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..layers import Memory
from ..parallel import split

#: G of F(2x2, 3x3): the 3x3 kernel -> its 4x4 transform U = G g G^T
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


class Winograd3x3:
    """Forward and backward of a stride-1 3x3 convolution of (N, C, H, W) input with ``pads`` ((top, bottom),
    (left, right)) zeros, output (N, F, H', W'). Work buffers are kept between calls (reallocated when N
    changes); ``V`` and ``U`` of the last forward are kept for backward."""

    def __init__(self, in_chw: tuple[int, int, int], out_chw: tuple[int, int, int],
                 pads: tuple[tuple[int, int], tuple[int, int]]):
        self.in_chw, self.out_chw, self.pads = in_chw, out_chw, pads
        _, Ho, Wo = out_chw
        self.tiles = (math.ceil(Ho / 2), math.ceil(Wo / 2))
        self._work: dict[str, np.ndarray] = {}

    @property
    def batch(self) -> int | None:
        """The number of samples the work buffers hold (None before the first forward)."""
        V = self._work.get("V")
        return None if V is None else V.shape[4]

    @staticmethod
    def memory(input_shape: tuple[int, ...], output_shape: tuple[int, ...], itemsize: int,
               needs_input_grad: bool = True) -> Memory:
        """Bytes per sample (``Layer.memory``), with P tiles of 2x2 outputs per image. Forward returns a new
        output. Its work buffers stay allocated between steps and evaluation reuses them (in blocks of the
        training batch), so they count as kept by backward: the padded input (2 Th + 2)(2 Tw + 2) C, the row
        transform 4 Th (2 Tw + 2) C, V 16 P C, M 16 P F, its half transform 8 P F, the (2 Th, 2 Tw) output
        4 P F, dout's copy 4 P F, its half transform 8 P F, dM 16 P F and, if dx is needed, dV 16 P C, the row
        adjoint 4 Th (2 Tw + 2) C and the padded dx (2 Th + 2)(2 Tw + 2) C. While backward runs it holds dout
        and dx (dU and dW are per channel pair, not per sample: left out)."""
        C, (F, Ho, Wo) = input_shape[0], output_shape
        Th, Tw = math.ceil(Ho / 2), math.ceil(Wo / 2)
        P, padded, rows = Th * Tw, (2 * Th + 2) * (2 * Tw + 2) * C, 4 * Th * (2 * Tw + 2) * C
        buffers = padded + rows + 16 * P * C + (16 + 8 + 4 + 4 + 8 + 16) * P * F
        if needs_input_grad:
            buffers += 16 * P * C + rows + padded
        scratch = F * Ho * Wo + (math.prod(input_shape) if needs_input_grad else 0)
        return Memory(F * Ho * Wo * itemsize, buffers * itemsize, scratch * itemsize)

    def _buffer(self, key: str, shape: tuple[int, ...], dtype: Any, zeros: bool = False) -> np.ndarray:
        buf = self._work.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._work[key] = (np.zeros if zeros else np.empty)(shape, dtype)
        return buf

    # ------------------------------------------------------------------------------------------------ forward

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """x (N, C, H, W), w (F, C, 3, 3), b (F,) or None -> (N, F, H', W')."""
        N, (C, H, W), (F, Ho, Wo), (Th, Tw) = x.shape[0], self.in_chw, self.out_chw, self.tiles
        (pt, _), (pl, _) = self.pads
        dt = x.dtype
        # the padded input (2 Th + 2, 2 Tw + 2, N, C); rows and columns outside x stay zero from allocation
        xp = self._buffer("xp", (2 * Th + 2, 2 * Tw + 2, N, C), dt, zeros=True)
        xt = x.transpose(2, 3, 0, 1)
        split(lambda r0, r1: np.copyto(xp[pt + r0:pt + r1, pl:pl + W], xt[r0:r1]), H)
        # V = B^T d B over every tile: rows (d_i = padded rows i, i + 2, ...), then columns; by tile rows
        rows = self._buffer("rows", (4, Th, 2 * Tw + 2, N, C), dt)
        V = self.V = self._buffer("V", (4, 4, Th, Tw, N, C), dt)

        def transform(t0: int, t1: int) -> None:
            _bt(*(xp[i + 2 * t0:i + 2 * t1:2] for i in range(4)), rows[:, t0:t1])
            for a in range(4):
                _bt(*(rows[a][t0:t1, j:j + 2 * Tw:2] for j in range(4)), V[a][:, t0:t1])
        split(transform, Th)
        U = self.U = np.einsum("ai,fcij,bj->abcf", G.astype(dt), w, G.astype(dt)).reshape(16, C, F)
        M = self._buffer("M", (16, Th * Tw * N, F), dt)
        V16 = V.reshape(16, -1, C)

        def products(p0: int, p1: int) -> None:  # by positions: each product whole, as with one thread
            np.matmul(V16[p0:p1], U[p0:p1], out=M[p0:p1])
            if b is not None and p0 <= 5 < p1:
                M[5] += b  # position (1, 1) reaches every output of its tile with weight 1
        split(products, 16)
        # Y = A^T M A: rows, then columns, into the (2 Th, 2 Tw, N, F) output, then NCHW; by tile rows
        m = M.reshape(4, 4, Th, Tw, N, F)
        half = self._buffer("half", (2, 4, Th, Tw, N, F), dt)
        y = self._buffer("y", (Th, 2, Tw, 2, N, F), dt)
        y4 = y.reshape(2 * Th, 2 * Tw, N, F)
        out = np.empty((N, F, Ho, Wo), dt)

        def output(t0: int, t1: int) -> None:
            _at(m[0][:, t0:t1], m[1][:, t0:t1], m[2][:, t0:t1], m[3][:, t0:t1], half[0][:, t0:t1], half[1][:, t0:t1])
            for a in range(2):
                _at(*(h[t0:t1] for h in half[a]), y[t0:t1, a, :, 0], y[t0:t1, a, :, 1])
            r0, r1 = 2 * t0, min(2 * t1, Ho)
            np.copyto(out[:, :, r0:r1], y4[r0:r1, :Wo].transpose(2, 3, 0, 1))
        split(output, Th)
        return out

    # ----------------------------------------------------------------------------------------------- backward

    def backward(self, dout: np.ndarray, need_dx: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """dout (N, F, H', W') -> (dw (F, C, 3, 3), db (F,), dx (N, C, H, W) or None), from the last forward."""
        N, (C, H, W), (F, Ho, Wo), (Th, Tw) = dout.shape[0], self.in_chw, self.out_chw, self.tiles
        dt = dout.dtype
        # dout in the (2 Th, 2 Tw, N, F) layout; the odd row / column beyond H', W' stays zero
        dy = self._buffer("dy", (2 * Th, 2 * Tw, N, F), dt, zeros=True)
        dy6 = dy.reshape(Th, 2, Tw, 2, N, F)
        doutt = dout.transpose(2, 3, 0, 1)
        # dM = A dY A^T: columns (b -> j), then rows (a -> i); by tile rows
        cols = self._buffer("dcols", (2, 4, Th, Tw, N, F), dt)
        dM6 = self._buffer("dM", (4, 4, Th, Tw, N, F), dt)

        def adjoint_output(t0: int, t1: int) -> None:
            r0, r1 = 2 * t0, min(2 * t1, Ho)
            np.copyto(dy[r0:r1, :Wo], doutt[r0:r1])
            for a in range(2):
                _a(dy6[t0:t1, a, :, 0], dy6[t0:t1, a, :, 1], cols[a][:, t0:t1])
            _a(cols[0][:, t0:t1], cols[1][:, t0:t1], dM6[:, :, t0:t1])
        split(adjoint_output, Th)
        dM = dM6.reshape(16, -1, F)
        db = dM[5].sum(axis=0)
        V, U = self.V.reshape(16, -1, C), self.U
        dU = np.empty((16, C, F), dt)
        dV = self._buffer("dV", (4, 4, Th, Tw, N, C), dt) if need_dx else None
        dV16 = None if dV is None else dV.reshape(16, -1, C)

        def products(p0: int, p1: int) -> None:  # by positions: each product whole, as with one thread
            np.matmul(V[p0:p1].transpose(0, 2, 1), dM[p0:p1], out=dU[p0:p1])  # (16, C, F)
            if dV16 is not None:
                np.matmul(dM[p0:p1], U[p0:p1].transpose(0, 2, 1), out=dV16[p0:p1])
        split(products, 16)
        dw = np.einsum("ai,abcf,bj->fcij", G.astype(dt), dU.reshape(4, 4, C, F), G.astype(dt))
        if not need_dx:
            return dw, db, None
        # dx = the adjoint of V = B^T d B: columns (overlap-added into 2 Tw + 2, by the four rows a of the tile:
        # the positions each worker's products wrote), then rows (by columns of the padded dx, so that no two
        # chunks add into the same element), then NCHW
        drows = self._buffer("drows", (4, Th, 2 * Tw + 2, N, C), dt)
        split(lambda a0, a1: [_b(*dV[a], drows[a], axis=1) for a in range(a0, a1)], 4)
        dxp = self._buffer("dxp", (2 * Th + 2, 2 * Tw + 2, N, C), dt)
        (pt, _), (pl, _) = self.pads
        dx = np.empty((N, C, H, W), dt)
        dxt = dx.transpose(2, 3, 0, 1)

        def adjoint_rows(c0: int, c1: int) -> None:
            _b(*(r[:, c0:c1] for r in drows), dxp[:, c0:c1], axis=0)
            w0, w1 = max(c0 - pl, 0), min(c1 - pl, W)
            if w1 > w0:
                np.copyto(dxt[:, w0:w1], dxp[pt:pt + H, pl + w0:pl + w1])
        split(adjoint_rows, 2 * Tw + 2)
        return dw, db, dx


def _bt(d0: np.ndarray, d1: np.ndarray, d2: np.ndarray, d3: np.ndarray, out: np.ndarray) -> None:
    """B^T along one axis: (d0 - d2, d1 + d2, d2 - d1, d1 - d3) into out[0..3]."""
    np.subtract(d0, d2, out=out[0])
    np.add(d1, d2, out=out[1])
    np.subtract(d2, d1, out=out[2])
    np.subtract(d1, d3, out=out[3])


def _at(m0: np.ndarray, m1: np.ndarray, m2: np.ndarray, m3: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> None:
    """A^T along one axis: y0 = m0 + m1 + m2, y1 = m1 - m2 - m3."""
    np.add(m0, m1, out=y0)
    y0 += m2
    np.subtract(m1, m2, out=y1)
    y1 -= m3


def _a(g0: np.ndarray, g1: np.ndarray, out: np.ndarray) -> None:
    """A along one axis (the adjoint of A^T): (g0, g0 + g1, g0 - g1, -g1) into out[0..3]."""
    np.copyto(out[0], g0)
    np.add(g0, g1, out=out[1])
    np.subtract(g0, g1, out=out[2])
    np.negative(g1, out=out[3])


def _b(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray, out: np.ndarray, axis: int) -> None:
    """B along the tile axis ``axis`` (the adjoint of B^T), overlap-added: tile t's (v0, v1 - v2 + v3,
    v1 + v2 - v0, -v3) go to positions 2t .. 2t + 3 of ``out`` (T tiles, 2 T + 2 positions on that axis)."""
    v0, v1, v2, v3, out = (np.moveaxis(a, axis, 0) for a in (v0, v1, v2, v3, out))
    T = v0.shape[0]
    even, odd = out[0::2], out[1::2]
    np.copyto(even[:T], v0)  # even 2s: v0[s] + (v1 + v2 - v0)[s - 1]
    even[T] = 0
    tmp = np.subtract(v1, v0)
    tmp += v2
    even[1:] += tmp
    np.subtract(v1, v2, out=odd[:T])  # odd 2s + 1: (v1 - v2 + v3)[s] - v3[s - 1]
    odd[:T] += v3
    odd[T] = 0
    odd[1:] -= v3
