"""Plots of a run's evaluation: the confusion matrix, the most confidently wrong images, regression residuals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from .style import plain_text

#: more classes than this and the cells are too small to hold their numbers
ANNOTATE_MAX_CLASSES = 25


def _annotate(ax, values: np.ndarray, labels: list[list[str]], top: float) -> None:
    size = 9 if len(values) <= 10 else max(5, 9 - (len(values) - 10) // 3)
    for (i, j), v in np.ndenumerate(values):
        if labels[i][j]:
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=size,
                    color="white" if np.isfinite(v) and v > 0.55 * top else "black")


def _share(v: float) -> str:
    """A share as a cell label: blank for none, "<.01" for a few, else two decimals."""
    return "" if not np.isfinite(v) or v == 0 else "<.01" if v < 0.005 else f"{v:.2f}"


@plain_text
def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix") -> Figure:
    """Two panels of the (K, K) confusion matrix, rows true class, columns predicted.

    Left: the counts. Right: each row divided by its sum (the true class's support), so the diagonal is each
    class's recall and a row shows where that class's samples went; a class without samples is left blank.
    Cells are annotated (counts; shares as 0.97 or "<.01"; empty cells blank) up to 25 classes.
    """
    cm = np.asarray(cm)
    k = len(cm)
    support = cm.sum(axis=1, keepdims=True).astype(np.float64)
    shares = np.divide(cm, support, out=np.full(cm.shape, np.nan), where=support > 0)
    side = min(max(4.2, 0.45 * k + 1.8), 12.0)
    fig = Figure(figsize=(2 * side + 1.2, side + 0.6), layout="constrained")
    axes = fig.subplots(1, 2)
    total = int(cm.sum())
    accuracy = np.trace(cm) / total if total else float("nan")
    panels = ((cm, "Blues", f"counts ({total} samples, accuracy {accuracy:.2%})", max(int(cm.max()), 1),
               [[str(int(c)) if c else "" for c in row] for row in cm]),
              (shares, "Oranges", "share of the true class (diagonal: recall)", 1.0,
               [[_share(v) for v in row] for row in shares]))
    for ax, (values, cmap, subtitle, top, labels) in zip(axes, panels):
        image = ax.imshow(np.ma.masked_invalid(values.astype(np.float64)), cmap=cmap, vmin=0, vmax=top,
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8)
        if k <= ANNOTATE_MAX_CLASSES:
            _annotate(ax, values.astype(np.float64), labels, top)
        ticks = np.arange(k) if k <= 50 else np.linspace(0, k - 1, 11).round().astype(int)
        ax.set_xticks(ticks, [class_names[t] for t in ticks], rotation=45 if k > 2 else 0, ha="right" if k > 2
                      else "center", fontsize=8)
        ax.set_yticks(ticks, [class_names[t] for t in ticks], fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(subtitle, fontsize=10)
    fig.suptitle(title)
    return fig


def _as_image(x: np.ndarray) -> tuple[np.ndarray, str | None]:
    """A (C, H, W) sample as something imshow draws: (H, W) grey, or (H, W, 3) scaled to [0, 1]."""
    if x.shape[0] == 1:
        return x[0], "gray"
    rgb = np.moveaxis(x[:3], 0, -1).astype(np.float64)
    low, high = rgb.min(), rgb.max()
    return (rgb - low) / (high - low) if high > low else np.zeros_like(rgb), None


@plain_text
def plot_confident_mistakes(images: np.ndarray, true_names: Sequence[str], pred_names: Sequence[str],
                            probs: Sequence[float], title: str = "most confidently wrong") -> Figure:
    """A grid of wrongly classified images (N, C, H, W), each titled "true X / pred Y (p=0.97)", where p is
    the model's probability of its (wrong) prediction. Pixels are shown as the model saw them, each image
    stretched from its own minimum to maximum (standardised inputs look the same as raw ones)."""
    n = len(images)
    cols = min(4, n)
    rows = -(-n // cols)
    height = 2.5 * rows + 0.8  # inches: a row of images and titles, and the figure's title on top
    fig = Figure(figsize=(2.3 * cols, height))  # a fixed grid: constrained layout would cost more than drawing
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.1 / height, top=1 - 0.8 / height, wspace=0.08, hspace=0.3)
    for ax in axes:
        ax.set_axis_off()
    for ax, image, t, p, prob in zip(axes, images, true_names, pred_names, probs):
        pixels, cmap = _as_image(np.asarray(image))
        ax.imshow(pixels, cmap=cmap, interpolation="nearest")
        label = f"true {t} / pred {p} (p={prob:.2f})"
        # a text above the image, not set_title: titles re-measure the (hidden) axes on every draw, 5x slower
        ax.text(0.5, 1.03, label if len(label) <= 32 else label.replace(" / ", " /\n", 1), fontsize=8,
                ha="center", va="bottom", transform=ax.transAxes)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va="top")
    return fig


@plain_text
def plot_residuals(y: np.ndarray, yhat: np.ndarray, title: str = "residuals") -> Figure:
    """Regression diagnostics, every output's points together.

    Left: residual y - yhat against the prediction yhat, with the zero line (a pattern means the model misses
    structure; a funnel, noise that grows with the value). Right: predicted against true, with the identity line
    y = yhat on which a perfect model's points lie.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    yhat = np.asarray(yhat, dtype=np.float64).ravel()
    residual = y - yhat
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    style = {"s": 10, "alpha": 0.5 if len(y) > 200 else 0.8, "edgecolors": "none"}
    left.scatter(yhat, residual, color="C0", **style)
    left.axhline(0, color="0.3", lw=1)
    left.set_xlabel("prediction")
    left.set_ylabel("residual (true - predicted)")
    left.set_title("residual against prediction", fontsize=10)
    right.scatter(y, yhat, color="C1", **style)
    low, high = min(y.min(), yhat.min()), max(y.max(), yhat.max())
    right.plot([low, high], [low, high], "--", color="0.3", lw=1, label="identity (perfect prediction)")
    right.set_xlabel("true")
    right.set_ylabel("predicted")
    right.set_title("predicted against true", fontsize=10)
    right.legend(fontsize=8, loc="upper left")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    return fig
