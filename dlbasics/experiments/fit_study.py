"""Under-, good and over-fitting, seen: polynomials of three degrees fitted to a few noisy samples of a smooth
function, with their training and validation errors.

The data are the generalization lecture's (as :mod:`~dlbasics.experiments.bias_variance`): x ~ U(0, 1),
y = sin(2 pi x) + N(0, noise^2); ``n_train`` training pairs and, drawn independently from the same distribution,
``n_val`` validation pairs. Each degree d is fitted by exact least squares (Legendre basis on 2x - 1, no penalty)
to the training pairs, and scored by the mean squared error on both sets. With the defaults (15 training points,
noise 0.3): degree 1 cannot bend (high training and validation error: under-fitting), degree 3 follows the sine
(both errors near the noise level 0.09), degree 12 threads nearly every training point (training error near 0)
and swings between them (validation error far above the noise: over-fitting).

A degree's verdict reads the validation curve over degrees 0 .. ``max_degree``: "good fit" when its validation
error is within 25 % of the lowest one, else "under-fitting" below the best degree and "over-fitting" above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bias_variance import poly_fit_predict, sample, true_function

#: the three degrees of the lecture's figure, and the data's defaults
DEGREES, N_TRAIN, N_VAL, NOISE = (1, 3, 12), 15, 100, 0.3
#: a degree is a good fit when its validation error is within this factor of the best degree's
GOOD_WITHIN = 1.25
#: the largest degree and sample count the study takes (every degree up to the largest is fitted, on all points)
MAX_DEGREE, MAX_POINTS = 100, 100_000


@dataclass
class FitStudy:
    """The data, the curve over degrees 0 .. max_degree (``rows``: degree, train_mse, val_mse), the chosen
    ``degrees`` with their ``verdicts``, and the best degree by validation error."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    degrees: list[int]
    rows: list[dict[str, Any]]
    best: int
    noise: float

    def verdict(self, degree: int) -> str:
        """under-fitting, good fit or over-fitting (see the module docstring)."""
        errors = {r["degree"]: r["val_mse"] for r in self.rows}
        if errors[degree] <= GOOD_WITHIN * errors[self.best]:
            return "good fit"
        return "under-fitting" if degree < self.best else "over-fitting"

    def predict(self, degree: int, x: np.ndarray) -> np.ndarray:
        """The degree's least-squares polynomial at ``x``."""
        return poly_fit_predict(degree, self.x_train, self.y_train, x, ridge=0.0)[0]


def check(degrees: Sequence[int], n_train: int, n_val: int, noise: float, max_degree: int | None = None) -> None:
    """ValueError, one line, for settings the study cannot run with (or not in reasonable time and memory)."""
    if not degrees or min(degrees) < 0:
        raise ValueError("give one or more degrees >= 0")
    if max(degrees) > MAX_DEGREE or (max_degree is not None and not 0 <= max_degree <= MAX_DEGREE):
        raise ValueError(f"degrees from 0 to {MAX_DEGREE} (got {max(degrees) if max_degree is None else max_degree})")
    if n_train < 2 or n_val < 1:
        raise ValueError(f"need at least 2 training and 1 validation points (got {n_train} and {n_val})")
    if max(n_train, n_val) > MAX_POINTS:
        raise ValueError(f"at most {MAX_POINTS:,} training and validation points (got {n_train} and {n_val})")
    if not 0 <= noise < np.inf:
        raise ValueError(f"noise {noise}: the noise std must be a finite number >= 0")


def fit_study(degrees: Sequence[int] = DEGREES, n_train: int = N_TRAIN, n_val: int = N_VAL, noise: float = NOISE,
              seed: int = 0, max_degree: int | None = None) -> FitStudy:
    """Fit every degree 0 .. ``max_degree`` (default: the largest of ``degrees``, at least 12) to one seeded
    training sample; each row: degree, train_mse, val_mse, chosen (one of ``degrees``)."""
    check(degrees, n_train, n_val, noise, max_degree)
    degrees = sorted(set(int(d) for d in degrees))
    top = max(max(degrees), 12) if max_degree is None else max(max_degree, max(degrees))
    rng = np.random.default_rng(seed)
    x_train, y_train = sample(rng, n_train, noise)
    x_val, y_val = sample(rng, n_val, noise)
    rows = []
    for d in range(top + 1):
        fit_train, fit_val = poly_fit_predict(d, x_train, y_train, x_train, x_val, ridge=0.0)
        rows.append({"degree": d, "train_mse": float(np.mean((fit_train - y_train) ** 2)),
                     "val_mse": float(np.mean((fit_val - y_val) ** 2)), "chosen": d in degrees})
    best = min(rows, key=lambda r: r["val_mse"])["degree"]
    return FitStudy(x_train, y_train, x_val, y_val, degrees, rows, best, noise)


def truth(x: np.ndarray) -> np.ndarray:
    """The smooth function the samples come from, sin(2 pi x)."""
    return true_function(x)
