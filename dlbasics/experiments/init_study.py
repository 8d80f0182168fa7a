"""The initialisation study: how the weight initialiser shapes activations and gradients layer by layer.

The course's experiment: a network of ``n_layers`` dense layers of ``width`` units, fed ``n_samples``
standard-normal inputs, for every initialiser x activation. One forward pass records each layer's activations
(after the non-linearity) and one backward pass, from a standard-normal upstream gradient, each layer's weight
gradient. What it shows:

- zeros: every unit computes the same thing; weight gradients vanish (symmetry never breaks);
- normal std 1: sigmoid and tanh saturate (activations pile up at 0/1 or +-1), ReLU activations explode;
- small normal (std 0.01): activations shrink by ~0.1 per layer and collapse toward 0, so do the gradients;
- Xavier (for sigmoid/tanh) and He (for ReLU): the spread stays about the same in every layer.

"xavier 1/sqrt(n)" is the notes' Xavier, std 1/sqrt(n) with n the previous layer's width: ``lecun_normal``.
Glorot's ``xavier_normal``, std sqrt(2 / (fan_in + fan_out)), draws the same numbers here because every layer
is width x width; in general it is not the notes' rule. "he" is ``he_normal``, std sqrt(2/n).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..nn.activations import ACTIVATIONS
from ..nn.layers import Dense
from ..nn.model import Sequential

#: the course's initialisers: label -> init spec (a name or {name, params} as in a config)
STUDY_INITS: dict[str, str | dict[str, Any]] = {
    "zeros": "zeros",
    "uniform(-1, 1)": {"name": "uniform", "a": -1.0, "b": 1.0},
    "normal(std 1)": {"name": "normal", "std": 1.0},
    "small normal(std 0.01)": "small_normal",
    "xavier 1/sqrt(n)": "lecun_normal",
    "he": "he_normal",
}
STUDY_ACTIVATIONS = ("sigmoid", "tanh", "relu")
#: printed under the table and on the spread plots: which initialiser each course label is
STUDY_LEGEND = ("xavier 1/sqrt(n) = the notes' Xavier, lecun_normal N(0, 1/fan_in) (Glorot's xavier_normal, "
                "N(0, 2/(fan_in + fan_out)), is the same only when fan_in = fan_out, as here); he = he_normal "
                "N(0, 2/fan_in)")


def saturated(activation: str, a: np.ndarray) -> np.ndarray:
    """Where a unit sits in a flat region of its activation: sigmoid within 0.05 of 0 or 1, |tanh| > 0.95.

    There the derivative is below a fifth of its maximum (sigmoid' < 0.048 vs 0.25; tanh' < 0.098 vs 1), so
    little gradient passes. ReLU never saturates in this sense (its dead units show as frac_zero instead).
    """
    if activation == "sigmoid":
        return (a < 0.05) | (a > 0.95)
    if activation == "tanh":
        return np.abs(a) > 0.95
    return np.zeros(a.shape, dtype=bool)


def run_one(init: str | Mapping[str, Any], activation: str, n_layers: int = 5, width: int = 100,
            n_samples: int = 1000, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-layer activations (n_samples, width) and weight gradients (width, width) for one init x activation."""
    rng = np.random.default_rng(seed)
    layers: list = []
    for _ in range(n_layers):
        layers += [Dense(width, init=init, bias=False), ACTIVATIONS[activation]()]
    model = Sequential(layers).build((width,), np.random.default_rng([seed, 1]), np.float64)
    x = rng.standard_normal((n_samples, width))
    model.forward(x, training=True)
    model.backward(rng.standard_normal((n_samples, width)))
    acts = [layers[2 * i + 1].out.copy() for i in range(n_layers)]
    grads = [layers[2 * i].W.grad.copy() for i in range(n_layers)]
    return acts, grads


def run_study(inits: Mapping[str, str | Mapping[str, Any]] | None = None,
              activations: Sequence[str] = STUDY_ACTIVATIONS, n_layers: int = 5, width: int = 100,
              n_samples: int = 1000, seed: int = 0) -> tuple[list[dict[str, Any]], dict]:
    """Run every init x activation; return per-layer statistics rows and the raw arrays.

    Row keys: init, activation, layer (1-based), act_mean, act_std, frac_zero (exactly 0), frac_saturated,
    grad_mean, grad_std, grad_norm (Frobenius norm of the layer's weight gradient).
    Raw: ``{(init, activation): (activations, gradients)}``.
    """
    inits = dict(inits or STUDY_INITS)
    rows, raw = [], {}
    with np.errstate(over="ignore", invalid="ignore"):
        for label, spec in inits.items():
            for act in activations:
                acts, grads = run_one(spec, act, n_layers, width, n_samples, seed)
                raw[label, act] = (acts, grads)
                for i, (a, g) in enumerate(zip(acts, grads), start=1):
                    rows.append({"init": label, "activation": act, "layer": i, "act_mean": float(a.mean()),
                                 "act_std": float(a.std()), "frac_zero": float(np.mean(a == 0)),
                                 "frac_saturated": float(np.mean(saturated(act, a))),
                                 "grad_mean": float(g.mean()), "grad_std": float(g.std()),
                                 "grad_norm": float(np.linalg.norm(g))})
    return rows, raw


def write_study(folder: Any, rows: list[dict[str, Any]], raw: dict, inits: Sequence[str],
                activations: Sequence[str]) -> list[str]:
    """Write init_study.csv, per-activation histogram grids and the spread plots into a RunFolder."""
    import pandas as pd

    from ..plots.init_study import plot_histograms, plot_spread
    from ..runs.folder import atomic_write

    written = ["init_study.csv"]
    atomic_write(folder.path / "init_study.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    for act in activations:
        for which in ("activations", "gradients"):
            name = f"{which}_{act}.png"
            folder.save_figure(plot_histograms(raw, act, inits, which, run=folder.run_id), name)
            written.append(name)
    note = STUDY_LEGEND if any(label in inits for label in STUDY_INITS) else ""
    folder.save_figure(plot_spread(rows, "act_std", run=folder.run_id, note=note), "activation_std_by_layer.png")
    folder.save_figure(plot_spread(rows, "grad_std", run=folder.run_id, note=note), "gradient_std_by_layer.png")
    return [*written, "activation_std_by_layer.png", "gradient_std_by_layer.png"]
