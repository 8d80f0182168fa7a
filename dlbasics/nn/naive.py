"""Slow, obviously correct reference implementations (explicit loops over every output), used only by the tests.

Conventions as the layers and PyTorch: NCHW, cross-correlation, floor mode. ``stride`` is an int or (sh, sw);
``pad`` is an int, (ph, pw) or ((top, bottom), (left, right)). 1-D versions take (N, C, L) and run the 2-D ones
on (N, C, 1, L).
"""

from __future__ import annotations

import numpy as np

Pad = int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(pad: Pad) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(pad, int):
        return (pad, pad), (pad, pad)
    if isinstance(pad[0], int):
        return (pad[0], pad[0]), (pad[1], pad[1])
    return tuple(pad[0]), tuple(pad[1])


def _pad(x: np.ndarray, pad: Pad, value: float = 0.0) -> np.ndarray:
    (pt, pb), (pl, pr) = _pads(pad)
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)


def _crop(xp: np.ndarray, pad: Pad) -> np.ndarray:
    (pt, pb), (pl, pr) = _pads(pad)
    return xp[:, :, pt:xp.shape[2] - pb, pl:xp.shape[3] - pr]


def _out_hw(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> tuple[int, int]:
    return (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1


def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int | tuple[int, int] = 1,
                 pad: Pad = 0) -> np.ndarray:
    """out[n, f, y, x] = sum(window(n, y, x) * w[f]) + b[f]; x: (N, C, H, W), w: (F, C, kh, kw)."""
    sh, sw = _pair(stride)
    xp = _pad(x, pad)
    F, _, kh, kw = w.shape
    Ho, Wo = _out_hw(xp, kh, kw, sh, sw)
    out = np.zeros((x.shape[0], F, Ho, Wo), x.dtype)
    for n in range(x.shape[0]):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + (0 if b is None else b[f])
    return out


def conv2d_naive_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int | tuple[int, int] = 1,
                          pad: Pad = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db): each output's gradient flows back to its window (dx) and to the kernel (dw)."""
    sh, sw = _pair(stride)
    xp = _pad(x, pad)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    F, _, kh, kw = w.shape
    Ho, Wo = dout.shape[2:]
    for n in range(x.shape[0]):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = (n, slice(None), slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                    dxp[window] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * xp[window]
    return _crop(dxp, pad), dw, dout.sum(axis=(0, 2, 3))


def _as_2d_pad(pad: int | tuple[int, int]) -> Pad:
    return ((0, 0), (pad, pad)) if isinstance(pad, int) else ((0, 0), tuple(pad))


def conv1d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1,
                 pad: int | tuple[int, int] = 0) -> np.ndarray:
    """x: (N, C, L), w: (F, C, k); pad is an int or (left, right)."""
    return conv2d_naive(x[:, :, None], w[:, :, None], b, (1, stride), _as_2d_pad(pad))[:, :, 0]


def conv1d_naive_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                          pad: int | tuple[int, int] = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dx, dw, db = conv2d_naive_backward(dout[:, :, None], x[:, :, None], w[:, :, None], (1, stride),
                                       _as_2d_pad(pad))
    return dx[:, :, 0], dw[:, :, 0], db


def _pool_windows(x: np.ndarray, kernel: int | tuple[int, int], stride: int | tuple[int, int] | None, pad: Pad,
                  value: float):
    """(padded input, output shape, [(n, c, i, j, index of the window in the padded input) for every output])."""
    kh, kw = _pair(kernel)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    xp = _pad(x, pad, value)
    Ho, Wo = _out_hw(xp, kh, kw, sh, sw)
    windows = [(n, c, i, j, (n, c, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)))
               for n in range(x.shape[0]) for c in range(x.shape[1]) for i in range(Ho) for j in range(Wo)]
    return xp, (x.shape[0], x.shape[1], Ho, Wo), windows


def maxpool2d_naive(x: np.ndarray, kernel: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                    pad: Pad = 0) -> np.ndarray:
    """out[n, c, y, x] = max of the window (padding is -inf)."""
    xp, shape, windows = _pool_windows(x, kernel, stride, pad, -np.inf)
    out = np.zeros(shape, x.dtype)
    for n, c, i, j, window in windows:
        out[n, c, i, j] = xp[window].max()
    return out


def maxpool2d_naive_backward(dout: np.ndarray, x: np.ndarray, kernel: int | tuple[int, int],
                             stride: int | tuple[int, int] | None = None, pad: Pad = 0) -> np.ndarray:
    """Each window's gradient to its first maximum in row-major order (np.argmax returns the first one)."""
    xp, _, windows = _pool_windows(x, kernel, stride, pad, -np.inf)
    dxp = np.zeros_like(xp)
    for n, c, i, j, window in windows:
        patch = xp[window]
        di, dj = np.unravel_index(np.argmax(patch), patch.shape)
        dxp[n, c, window[2].start + di, window[3].start + dj] += dout[n, c, i, j]
    return _crop(dxp, pad)


def avgpool2d_naive(x: np.ndarray, kernel: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                    pad: Pad = 0) -> np.ndarray:
    """out[n, c, y, x] = sum of the zero-padded window / kh*kw (count_include_pad=True)."""
    xp, shape, windows = _pool_windows(x, kernel, stride, pad, 0.0)
    out = np.zeros(shape, x.dtype)
    for n, c, i, j, window in windows:
        out[n, c, i, j] = xp[window].sum() / xp[window].size
    return out


def avgpool2d_naive_backward(dout: np.ndarray, x: np.ndarray, kernel: int | tuple[int, int],
                             stride: int | tuple[int, int] | None = None, pad: Pad = 0) -> np.ndarray:
    xp, _, windows = _pool_windows(x, kernel, stride, pad, 0.0)
    dxp = np.zeros_like(xp)
    for n, c, i, j, window in windows:
        dxp[window] += dout[n, c, i, j] / dxp[window].size
    return _crop(dxp, pad)
