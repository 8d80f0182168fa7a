"""What turns a data set's raw arrays into a run's inputs, in one place for training, prediction and evaluation.

Pixels stored as uint8 are scaled by 1/255; ``data.normalize: standardize`` then subtracts the training split's
mean and divides by its std, per channel for images (N, C, H, W) and per feature for vectors (N, D); the
statistics come from the training split only. A run saves this as ``data.preprocessing`` in summary.json, so
a model applied to new raw data sees exactly the numbers it was trained on (the same float operations).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np


@dataclass
class Preprocessing:
    """How raw inputs become model inputs: ``scale`` (1/255 for uint8 pixels, else None), then standardisation
    with ``mean``/``std`` per channel or feature (``axes``) when ``normalize`` is "standardize"."""

    dtype: str
    scale: float | None = None
    normalize: str = "none"
    mean: list[float] | None = None
    std: list[float] | None = None
    axes: str | None = None
    raw_dtype: str | None = None

    @classmethod
    def fit(cls, x_train: np.ndarray, dtype: Any, normalize: str = "none") -> tuple[Preprocessing, np.ndarray]:
        """The preprocessing of a training split (its statistics) and that split preprocessed."""
        pre = cls(str(np.dtype(dtype)), 1 / 255 if x_train.dtype == np.uint8 else None, normalize,
                  raw_dtype=str(x_train.dtype))
        x = pre.scaled(x_train)
        if normalize == "standardize":
            axes = (0, 2, 3) if x.ndim == 4 else (0,)
            mean = x.mean(axis=axes, dtype=np.float64)
            std = x.std(axis=axes, dtype=np.float64)
            std[std == 0] = 1.0
            pre.mean, pre.std = mean.ravel().tolist(), std.ravel().tolist()
            pre.axes = "channel" if x.ndim == 4 else "feature"
            pre.standardize(x)
        return pre, x

    def scaled(self, x: np.ndarray) -> np.ndarray:
        """A copy of ``x`` in the run's dtype, pixels scaled to [0, 1] when the raw data was uint8."""
        dtype = np.dtype(self.dtype)
        out = x.astype(dtype)  # always a copy: standardize works in place
        if self.scale is not None:
            out *= np.asarray(self.scale, dtype=dtype)
        return out

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Subtract the training mean and divide by its std, in place (nothing without standardisation)."""
        if self.normalize == "standardize" and self.mean is not None:
            dtype = np.dtype(self.dtype)
            shape = (1, -1, 1, 1) if self.axes == "channel" else (1, *x.shape[1:])  # features: (L,), (C, L), ...
            x -= np.asarray(self.mean, dtype=np.float64).reshape(shape).astype(dtype)
            x /= np.asarray(self.std, dtype=np.float64).reshape(shape).astype(dtype)
        return x

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Raw inputs as the model's inputs: scaled, then standardised."""
        return self.standardize(self.scaled(x))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Preprocessing:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})
