"""Batch transforms for training: label-preserving image augmentation, cutout, mixup and cutmix.

Each works on a whole mini-batch at once (no loop over samples) with a ``numpy.random.Generator``, returns new
arrays (the inputs are never modified) and is used in training only. Images are NCHW.

- augment: random translation (integer pixels, zero fill), random rotation (bilinear, zero fill), random crop
  after zero padding (= a translation by up to ``padding`` pixels), horizontal and vertical flips, scaling,
  shear, and elastic distortion (Simard et al. 2003). Digits must not be flipped (a mirrored 2 is no digit, and
  rotating a 6 too far makes a 9), so flips are off unless asked for and rotation is small. Every geometric
  transform is an inverse mapping sampled bilinearly (:func:`bilinear`), one array operation for the batch.
- cutout (DeVries & Taylor 2017): zero a size x size square at a random centre (clipped at the border).
- mixup (Zhang et al. 2018): x = lam x_i + (1 - lam) x_j, y = lam y_i + (1 - lam) y_j, lam ~ Beta(alpha, alpha).
- cutmix (Yun et al. 2019): paste a box of x_j into x_i; lam = 1 - box area / image area; labels as mixup.
"""

from __future__ import annotations

import math

import numpy as np


def translate(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Shift each image n by (dy[n], dx[n]) whole pixels (down / right positive), filling with zeros.

    x: (N, C, H, W) -> (N, C, H, W); out[n, :, i, j] = x[n, :, i - dy, j - dx] where that pixel exists.
    """
    n, c, h, w = x.shape
    pad = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    if pad == 0:
        return x.copy()
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), x.dtype)
    xp[:, :, pad:pad + h, pad:pad + w] = x
    rows = (np.arange(h)[None, :] - dy[:, None] + pad)[:, None, :, None]  # (N, 1, H, 1)
    cols = (np.arange(w)[None, :] - dx[:, None] + pad)[:, None, None, :]  # (N, 1, 1, W)
    return xp[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]


def bilinear(x: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """Sample each image n at the source coordinates (src_y[n], src_x[n]) (N, H, W), bilinearly, zeros outside.

    x: (N, C, H, W) -> (N, C, H, W); out[n, c, i, j] interpolates x[n, c] at (src_y[n, i, j], src_x[n, i, j]) from
    its four neighbouring pixels (a neighbour off the image reads 0). The inverse mapping every geometric
    augmentation here uses: each output pixel says where it comes from.
    """
    n, c, h, w = x.shape
    x0, y0 = np.floor(src_x).astype(np.intp), np.floor(src_y).astype(np.intp)
    fx, fy = (src_x - x0).astype(x.dtype), (src_y - y0).astype(x.dtype)
    xp = np.zeros((n, c, h + 2, w + 2), x.dtype)  # one pixel of zeros around: neighbours off the image read 0
    xp[:, :, 1:-1, 1:-1] = x
    out = np.zeros_like(x)
    batch = np.arange(n)[:, None, None]
    for oy, ox, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)),
                           (1, 1, fy * fx)):
        r = np.clip(y0 + oy + 1, 0, h + 1)
        q = np.clip(x0 + ox + 1, 0, w + 1)
        out += xp[batch, :, r, q].transpose(0, 3, 1, 2) * weight[:, None]
    return out


def _centred_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(yy, xx): (H, W) pixel coordinates relative to the image centre ((H - 1) / 2, (W - 1) / 2)."""
    return np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")


def rotate(x: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rotate each image n by degrees[n] about its centre (bilinear interpolation, zero fill).

    Inverse mapping: every output pixel reads the input at R(-angle) (p - centre) + centre.
    """
    h, w = x.shape[2:]
    theta = np.deg2rad(degrees)[:, None, None]  # (N, 1, 1)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = _centred_grid(h, w)
    cos, sin = np.cos(theta), np.sin(theta)
    return bilinear(x, sin * xx + cos * yy + cy, cos * xx - sin * yy + cx)


def affine(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Each image n through the linear map about its centre whose INVERSE is matrix[n] (N, 2, 2), acting on
    (row, column) offsets: out(p) = x(matrix[n] (p - centre) + centre), bilinear, zero fill. x: (N, C, H, W)."""
    h, w = x.shape[2:]
    yy, xx = _centred_grid(h, w)
    m = matrix[:, :, :, None, None]  # (N, 2, 2, 1, 1)
    src_y = m[:, 0, 0] * yy + m[:, 0, 1] * xx + (h - 1) / 2
    src_x = m[:, 1, 0] * yy + m[:, 1, 1] * xx + (w - 1) / 2
    return bilinear(x, src_y, src_x)


def scale(x: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Zoom each image n by factors[n] about its centre (> 1 enlarges, < 1 shrinks; zero fill, bilinear):
    out(p) = x((p - centre) / factor + centre)."""
    inv = 1.0 / np.asarray(factors, np.float64)
    zero = np.zeros_like(inv)
    return affine(x, np.stack([np.stack([inv, zero], -1), np.stack([zero, inv], -1)], 1))


def shear(x: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Shear each image n horizontally by the angle degrees[n] about its centre: a row at offset dy below the
    centre moves right by tan(angle) dy (a vertical stroke leans by the angle). out(y, x) = x(y, x - tan(a) dy)."""
    t = np.tan(np.deg2rad(np.asarray(degrees, np.float64)))
    one, zero = np.ones_like(t), np.zeros_like(t)
    return affine(x, np.stack([np.stack([one, zero], -1), np.stack([-t, one], -1)], 1))


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix G with (G f)[i] = sum_j g(i - j) f[j], g the normalised Gaussian of std ``sigma``
    truncated at 4 sigma, zeros beyond the border (a separable blur as two matrix products)."""
    radius = int(4 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    d = np.arange(size)[:, None] - np.arange(size)[None, :]
    return np.where(np.abs(d) <= radius, k[np.clip(d + radius, 0, 2 * radius)], 0.0)


def elastic(x: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Elastic distortion (Simard, Steinkraus & Platt 2003, ICDAR): per image, displacement fields dy, dx ~ U(-1, 1)
    at every pixel, smoothed by a Gaussian of std ``sigma`` (pixels), scaled by ``alpha``; each output pixel reads
    the input at p + (dy, dx), bilinearly. Small sigma: random jitter; large sigma: nearly a translation;
    Simard et al. used sigma = 4, alpha = 34 on MNIST. alpha = 0 is the identity. x: (N, C, H, W)."""
    n, _, h, w = x.shape
    fields = rng.uniform(-1.0, 1.0, size=(2, n, h, w))
    gh, gw = gaussian_matrix(h, sigma), gaussian_matrix(w, sigma)
    smooth = alpha * (gh @ fields @ gw.T)  # G_h F G_w^T for both fields of every image: (2, N, H, W)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return bilinear(x, yy + smooth[0], xx + smooth[1])


def augment(x: np.ndarray, rng: np.random.Generator, shift: int = 0, rotation: float = 0.0, crop_padding: int = 0,
            hflip: bool = False, vflip: bool = False, scale: float = 0.0, shear: float = 0.0,
            elastic: dict[str, float] | None = None) -> np.ndarray:
    """Random label-preserving transforms of a batch (N, C, H, W); each sample draws its own.

    shift / crop_padding: translation by up to that many pixels in each direction (crop_padding is the
    "pad then crop" formulation of the same thing); rotation: uniform in [-rotation, rotation] degrees;
    hflip / vflip: mirror half of the images left-right / upside down; scale: zoom by a factor uniform in
    [1 - scale, 1 + scale]; shear: horizontal shear by an angle uniform in [-shear, shear] degrees; elastic:
    ``{alpha, sigma}`` of :func:`elastic`. Applied in that order; a transform that is off draws nothing, so
    adding one leaves the draws of the others as they were.
    """
    n = len(x)
    reach = max(shift, crop_padding)
    out = x
    if reach:
        out = translate(out, rng.integers(-reach, reach + 1, n), rng.integers(-reach, reach + 1, n))
    if rotation:
        out = rotate(out, rng.uniform(-rotation, rotation, n))
    if hflip:
        flip = rng.random(n) < 0.5
        out = out.copy() if out is x else out
        out[flip] = out[flip, :, :, ::-1]
    if vflip:
        flip = rng.random(n) < 0.5
        out = out.copy() if out is x else out
        out[flip] = out[flip, :, ::-1, :]
    if scale:
        out = _scale(out, rng.uniform(1 - scale, 1 + scale, n))
    if shear:
        out = _shear(out, rng.uniform(-shear, shear, n))
    if elastic and elastic.get("alpha"):
        out = _elastic(out, rng, elastic["alpha"], elastic["sigma"])
    return out.copy() if out is x else out


_scale, _shear, _elastic = scale, shear, elastic  # augment's keyword arguments shadow the function names


def cutout_boxes(rng: np.random.Generator, n: int, h: int, w: int, size: int) -> np.ndarray:
    """(N, 4) boxes [top, bottom, left, right) of side ``size`` around uniform centres, clipped to the image."""
    cy, cx = rng.integers(0, h, n), rng.integers(0, w, n)
    half = size // 2
    return np.stack([np.clip(cy - half, 0, h), np.clip(cy - half + size, 0, h),
                     np.clip(cx - half, 0, w), np.clip(cx - half + size, 0, w)], axis=1)


def box_mask(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """(N, 1, H, W) bool mask, True inside each sample's box."""
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    t, b, l, r = (boxes[:, i, None, None] for i in range(4))
    return ((rows >= t) & (rows < b) & (cols >= l) & (cols < r))[:, None]


def cutout(x: np.ndarray, rng: np.random.Generator, size: int, prob: float = 1.0) -> np.ndarray:
    """Zero a size x size square (clipped at the border) in each image with probability ``prob``."""
    n, _, h, w = x.shape
    boxes = cutout_boxes(rng, n, h, w, size)
    apply = rng.random(n) < prob
    mask = box_mask(boxes, h, w) & apply[:, None, None, None]
    return np.where(mask, np.zeros((), x.dtype), x)


def one_hot(y: np.ndarray, k: int, dtype: type) -> np.ndarray:
    """(N,) class indices or (N, K) distributions -> (N, K) distributions."""
    return y.astype(dtype) if y.ndim == 2 else np.eye(k, dtype=dtype)[y]


def mixup(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, alpha: float,
          n_classes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Mix the batch with a shuffled copy of itself: one lam ~ Beta(alpha, alpha) per batch; soft labels."""
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(len(x))
    q = one_hot(y, n_classes, x.dtype)
    return lam * x + (1 - lam) * x[perm], lam * q + (1 - lam) * q[perm], lam


def cutmix(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, alpha: float,
           n_classes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Paste one box from a shuffled copy into every image; lam = 1 - box area / image area (after clipping)."""
    n, _, h, w = x.shape
    lam0 = float(rng.beta(alpha, alpha))
    cut = math.sqrt(1 - lam0)
    bh, bw = int(h * cut), int(w * cut)
    cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
    t, b = np.clip(cy - bh // 2, 0, h), np.clip(cy + bh - bh // 2, 0, h)
    l, r = np.clip(cx - bw // 2, 0, w), np.clip(cx + bw - bw // 2, 0, w)
    perm = rng.permutation(n)
    out = x.copy()
    out[:, :, t:b, l:r] = x[perm][:, :, t:b, l:r]
    lam = 1 - (b - t) * (r - l) / (h * w)
    q = one_hot(y, n_classes, x.dtype)
    return out, lam * q + (1 - lam) * q[perm], float(lam)
