"""Synthetic data sets generated from a seed: small, instant, and with a known truth.

Each generator takes a ``numpy.random.Generator`` and returns ``(x, y)``; the data set registry splits a
single draw into train and test so both come from the same distribution.
"""

from __future__ import annotations

import numpy as np


def linear(rng: np.random.Generator, n: int, noise: float = 1.0, x_min: float = 0.0,
           x_max: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """y = 4 x - 2 + noise, x ~ U(x_min, x_max), noise ~ N(0, noise^2). x: (n, 1), y: (n, 1).

    The course's optimizer assignment: fit (w, b) = (4, -2) by gradient descent. With x in [0, 2] the two
    weights are correlated (the loss valley is long and narrow), which is why momentum beats plain SGD.
    """
    x = rng.uniform(x_min, x_max, size=(n, 1))
    y = 4.0 * x - 2.0 + noise * rng.standard_normal((n, 1))
    return x, y


def corrupt_targets(y: np.ndarray, rng: np.random.Generator, fraction: float,
                    magnitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Gross errors: the targets of ``round(fraction * n)`` samples drawn without replacement are shifted by
    ``magnitude`` (one-sided, as a sensor stuck high; a negative magnitude shifts down). Returns (new y, the
    corrupted indices). MSE's fit follows the mean and is pulled by about fraction * magnitude; MAE's follows the
    median and moves only by a quantile shift of the noise."""
    y = np.array(y, copy=True)
    idx = np.sort(rng.choice(len(y), size=round(fraction * len(y)), replace=False))
    y[idx] += magnitude
    return y, idx


def spirals(rng: np.random.Generator, n: int, n_classes: int = 3, noise: float = 0.2,
            turns: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """K interleaved spiral arms in 2-D (CS231n's classic): not linearly separable. x: (n, 2), y: (n,) ints.

    Arm k: radius r ~ U(0, 1), angle = 2 pi (turns r + k / K) + noise * N(0, 1).
    """
    y = np.arange(n) % n_classes
    r = rng.uniform(0.0, 1.0, n)
    angle = 2 * np.pi * (turns * r + y / n_classes) + noise * rng.standard_normal(n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
    return x, y


def moons(rng: np.random.Generator, n: int, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's make_moons) plus Gaussian noise. x: (n, 2), y: (n,)."""
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], axis=1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1))
    return x + noise * rng.standard_normal((n, 2)), y


def sine(rng: np.random.Generator, n: int, window: int = 20, period: float = 50.0,
         noise: float = 0.1, layout: str = "flat") -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine time series cut into windows: predict s[t] from s[t-window .. t-1].

    s[t] = sin(2 pi t / period) + 0.3 sin(2 pi t / (3.7 period)) + noise * N(0, 1). Samples are in time
    order (x: (n, window), y: (n, 1)), so splits must not shuffle across time. ``layout="sequence"`` gives each
    window as a one-channel sequence, x: (n, 1, window), the (N, C, L) input of a 1-D convolution; the values
    are the same.
    """
    if layout not in ("flat", "sequence"):
        raise ValueError(f"layout must be 'flat' or 'sequence', got {layout!r}")
    t = np.arange(n + window)
    s = np.sin(2 * np.pi * t / period) + 0.3 * np.sin(2 * np.pi * t / (3.7 * period))
    s = s + noise * rng.standard_normal(s.shape)
    x = np.lib.stride_tricks.sliding_window_view(s[:-1], window)[:n]
    y = s[window:window + n, None]
    x = np.ascontiguousarray(x)
    return (x[:, None, :] if layout == "sequence" else x), y
