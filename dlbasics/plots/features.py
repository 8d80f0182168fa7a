"""What a convolution sees: learned kernels, the feature maps of one input, and classic fixed filters on a digit.

Kernels are drawn in a diverging map centred on 0 (red positive, blue negative, each kernel on its own scale),
so the sign pattern of an edge detector is visible; feature maps in grey, each on its own scale.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
from matplotlib.figure import Figure

from .style import plain_text


def _grid(n: int, cols_max: int = 8) -> tuple[int, int]:
    cols = min(n, cols_max)
    return math.ceil(n / cols), cols


def _suptitle(fig: Figure, text: str) -> None:
    """The figure's title at 10 pt, wrapped to the figure's width (a narrow figure of one or two panels cut a
    long title off at both edges)."""
    chars = max(20, int(fig.get_figwidth() * 12))  # ~12 characters of 10 pt text per inch
    fig.suptitle(textwrap.fill(text, chars, break_long_words=False), fontsize=10)


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _diverging(ax, values: np.ndarray) -> None:
    top = float(np.abs(values).max()) or 1.0
    ax.imshow(values, cmap="RdBu_r", vmin=-top, vmax=top, interpolation="nearest", aspect="auto"
              if values.shape[0] == 1 else "equal")
    _blank(ax)


def _as_panel(sample: np.ndarray, maps_ndim: int) -> np.ndarray | None:
    """The model's input shaped as the maps are drawn: (C, L) for sequences (maps (C', L')), (C, H, W) for
    images; None for a flat image that is not square."""
    if maps_ndim == 2:
        return sample.reshape(-1, sample.shape[-1]) if sample.ndim else sample.reshape(1, 1)
    if sample.ndim == 3:
        return sample
    if sample.ndim == 2:
        return sample[None]
    side = math.isqrt(sample.size)
    return sample.reshape(1, side, side) if side * side == sample.size else None


@plain_text
def plot_kernels(weight: np.ndarray, title: str = "first-layer kernels") -> Figure:
    """Every output channel's kernel of a conv layer's weight: (C_out, C_in, kh, kw) or, 1-D, (C_out, C_in, k).

    One panel per output channel (up to 64), its first input channel drawn (the only one for grey images);
    red positive, blue negative, each on its own symmetric scale, with the value range in the panel title.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 3:  # 1-D kernels: a (1, k) strip each
        w = w[:, :, None, :]
    shown = w[:64, 0]
    rows, cols = _grid(len(shown))
    wide = shown.shape[1] == 1
    fig = Figure(figsize=(1.5 * cols + 0.4, (0.7 if wide else 1.5) * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for k, ax in enumerate(axes):
        if k >= len(shown):
            ax.axis("off")
            continue
        _diverging(ax, shown[k])
        ax.set_title(f"{k}: {shown[k].min():.2g}..{shown[k].max():.2g}", fontsize=7)
    more = f" (first 64 of {len(w)})" if len(w) > 64 else ""
    channel = f"; input channel 0 of {w.shape[1]}" if w.shape[1] > 1 else ""
    _suptitle(fig, f"{title}{more}{channel}")
    return fig


@plain_text
def plot_feature_maps(sample: np.ndarray, maps: np.ndarray, title: str = "feature maps") -> Figure:
    """One input (C, H, W) or (C, L) and one layer's output for it, (C', H', W') or (C', L').

    Images: the input, then one grey panel per channel (up to 64), each on its own scale. Sequences: the input
    as a line, then the maps as one heat map (a row per channel). A flat input that a reshape layer turns into a
    sequence or image, (L,) or (H*W,), is drawn as one (a non-square flat image is left out).
    """
    sample, maps = np.asarray(sample, dtype=np.float64), np.asarray(maps, dtype=np.float64)
    sample = _as_panel(sample, maps.ndim)
    if maps.ndim == 2:  # sequences
        fig = Figure(figsize=(8, 2 + 0.18 * len(maps)), layout="constrained")
        top, bottom = fig.subplots(2, 1, height_ratios=[1, max(1.5, 0.12 * len(maps))])
        for c, channel in enumerate(sample):
            top.plot(channel, lw=1.2, label=f"input channel {c}" if len(sample) > 1 else "input")
        top.set_xlim(-0.5, sample.shape[1] - 0.5)
        top.set_title("input", fontsize=9)
        image = bottom.imshow(maps, aspect="auto", cmap="viridis", interpolation="nearest")
        bottom.set_ylabel("channel")
        bottom.set_xlabel("position")
        fig.colorbar(image, ax=bottom, shrink=0.9)
        _suptitle(fig, title)
        return fig
    shown = maps[:64]
    rows, cols = _grid(len(shown) + 1)
    fig = Figure(figsize=(1.4 * cols + 0.4, 1.45 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    if sample is None:
        axes[0].axis("off")
    else:
        axes[0].imshow(sample[0], cmap="gray", interpolation="nearest")
        axes[0].set_title("input", fontsize=8)
        _blank(axes[0])
    for k, ax in enumerate(axes[1:]):
        if k >= len(shown):
            ax.axis("off")
            continue
        ax.imshow(shown[k], cmap="gray", interpolation="nearest")
        ax.set_title(str(k), fontsize=7)
        _blank(ax)
    more = f" (first 64 of {len(maps)} channels)" if len(maps) > 64 else ""
    _suptitle(fig, f"{title}{more}")
    return fig


@plain_text
def plot_filtered(image: np.ndarray, kernels: dict[str, np.ndarray], filtered: dict[str, np.ndarray],
                  title: str = "classic filters") -> Figure:
    """The digit (H, W), then per named kernel: the kernel with its numbers (top) and the filtered image (bottom).

    The filtered images are the valid cross-correlations (H - h + 1, W - w + 1), drawn in a diverging map
    centred on 0 so edges of either sign show.
    """
    names = list(kernels)
    fig = Figure(figsize=(2.1 * (len(names) + 1) + 0.4, 4.6), layout="constrained")
    axes = fig.subplots(2, len(names) + 1, height_ratios=[1, 1.6], squeeze=False)
    axes[0, 0].axis("off")
    axes[1, 0].imshow(image, cmap="gray", interpolation="nearest")
    axes[1, 0].set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=9)
    _blank(axes[1, 0])
    for col, name in enumerate(names, start=1):
        k = kernels[name]
        _diverging(axes[0, col], k)
        top = float(np.abs(k).max()) or 1.0
        for (i, j), v in np.ndenumerate(k):
            axes[0, col].text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8,
                              color="white" if abs(v) > 0.6 * top else "black")
        axes[0, col].set_title(name, fontsize=9)
        out = filtered[name]
        top = float(np.abs(out).max()) or 1.0
        axes[1, col].imshow(out, cmap="RdBu_r" if out.min() < 0 else "gray", vmin=-top if out.min() < 0 else 0,
                            vmax=top, interpolation="nearest")
        axes[1, col].set_title(f"{out.shape[0]}x{out.shape[1]}: {out.min():.2g}..{out.max():.2g}", fontsize=8)
        _blank(axes[1, col])
    _suptitle(fig, title)
    return fig
