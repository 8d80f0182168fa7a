"""Finite-difference gradient checks (float64, central differences), as CS231n's ``gradient_check.py``.

The relative error between an analytic gradient ``a`` and a numeric one ``n`` of one tensor is
``||a - n|| / (||a|| + ||n||)`` over the checked coordinates (the norm form of Andrew Ng's gradient-checking
recipe: unlike an element-wise ratio it is not fooled by near-zero elements, whose finite differences are
mostly round-off). Below 1e-7 is right for smooth functions in float64; 1e-3 or more is a bug.

Functions with kinks (ReLU at 0, max pooling, MAE, Huber) are checked with ``kinks=True``: an estimate whose
+-h step straddles a kink averages two slopes (errors of 1e-5..1e-3 that are not bugs), so each estimate is
confirmed at h/2 and the step halved until two agree. What remains is round-off (~1e-9), and the tolerance
for such functions is 1e-6: a gradient wrong by 1e-5 relative still fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .layers import Layer
from .losses import Loss


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    """||a - n|| / (||a|| + ||n||); 0 when ||a|| + ||n|| < ``floor`` (both zero up to round-off).

    A gradient that is exactly zero (a conv bias right before batch norm, which subtracts it again) has a
    numeric estimate of pure round-off, ~1e-11 per coordinate: its ratio to an equally tiny analytic value
    means nothing, so below the floor both count as zero.
    """
    a, n = np.ravel(np.asarray(analytic, np.float64)), np.ravel(np.asarray(numeric, np.float64))
    scale = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if scale < floor else float(np.linalg.norm(a - n) / scale)


def sample_coords(shape: tuple[int, ...], max_coords: int | None, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to check: all of them, or ``max_coords`` drawn without replacement for big tensors."""
    size = int(np.prod(shape))
    if max_coords is None or size <= max_coords:
        return np.arange(size)
    return np.sort(rng.choice(size, max_coords, replace=False))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, coords: np.ndarray, h: float = 1e-5,
                       kinks: bool = False, agree: float = 1e-6, halvings: int = 6) -> np.ndarray:
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h at the flat ``coords`` of ``x`` (restored after).

    With ``kinks``, each estimate is confirmed by a second one at h/2. A piecewise-smooth function (ReLU
    networks, max pooling) whose kink lies inside [x - h, x + h] gives an estimate that is an average of two
    slopes; the one at h/2 then disagrees (by more than ``agree`` relative). The step is halved until two
    successive estimates agree (at most ``halvings`` times): the check then measures backprop at the point,
    not where the +-h step happened to straddle a kink (CS231n's "kinks in the objective").
    """
    flat = x.reshape(-1)

    def central(i: int, step: float) -> float:
        old = flat[i]
        flat[i] = old + step
        plus = f()
        flat[i] = old - step
        minus = f()
        flat[i] = old
        return (plus - minus) / (2 * step)

    grad = np.zeros(len(coords))
    for j, i in enumerate(coords):
        step, estimate = h, central(i, h)
        for _ in range(halvings if kinks else 0):
            finer = central(i, step / 2)
            close = abs(finer - estimate) <= agree * (abs(finer) + abs(estimate)) + 1e-9
            step, estimate = step / 2, finer
            if close:
                break
        grad[j] = estimate
    return grad


def check_layer(layer: Layer, x: np.ndarray, rng: np.random.Generator, training: bool = True,
                max_coords: int | None = 200, h: float = 1e-5, kinks: bool | None = None) -> dict[str, float]:
    """Relative error of ``dx`` and of every parameter gradient of a built layer on input ``x`` (float64).

    The scalar checked is ``sum(forward(x) * R)`` for a fixed random ``R``, so every output element matters.
    A layer that draws random numbers (dropout) draws the same ones in every evaluation.
    """
    noise = _FrozenNoise([layer])
    out = layer.forward(x, training)
    proj = rng.standard_normal(out.shape)

    def f() -> float:
        noise.reset()
        return float(np.sum(layer.forward(x, training) * proj))

    f()
    dx = layer.backward(proj)
    named = layer.named_parameters()  # a residual block's: "layers.0.weight", "shortcut.weight", ...
    analytic = {"x": None if dx is None else dx.copy(), **{name: p.grad.copy() for name, p in named}}
    errors = {}
    targets = {"x": x, **{name: p.data for name, p in named}}
    for name, arr in targets.items():
        if analytic[name] is None:
            continue
        coords = sample_coords(arr.shape, max_coords, rng)
        numeric = numerical_gradient(f, arr, coords, h, kinks=not layer.smooth if kinks is None else kinks)
        errors[name] = rel_error(analytic[name].reshape(-1)[coords], numeric)
    return errors


def check_loss(loss: Loss, out: np.ndarray, target: np.ndarray, h: float = 1e-5) -> float:
    """Relative error of ``loss.backward()`` against central differences over every element of ``out`` (the step
    confirmed at half its size for a loss with kinks: MAE, Huber)."""
    out = np.array(out, dtype=np.float64)
    loss.forward(out, target)
    analytic = loss.backward().copy()
    numeric = numerical_gradient(lambda: loss.forward(out, target), out, np.arange(out.size), h,
                                 kinks=not loss.smooth)
    return rel_error(analytic.reshape(-1), numeric)


class _FrozenNoise:
    """Restores every stochastic layer's generator before each forward, so dropout draws the same mask."""

    def __init__(self, layers: list[Layer]):
        self.saved = [(layer, layer.rng.bit_generator.state) for layer in layers if getattr(layer, "stochastic", False)]

    def reset(self) -> None:
        for layer, state in self.saved:
            layer.rng.bit_generator.state = state


def check_model(model: Any, loss: Loss, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                training: bool = True, max_coords: int | None = 30, h: float = 1e-5,
                kinks: bool | None = None) -> list[dict[str, Any]]:
    """Relative error of every parameter gradient of a built float64 model on one batch, in training mode.

    Returns one row per parameter: layer index, layer, parameter name, shape, coordinates checked, error.
    Dropout masks are frozen across the finite-difference evaluations; batch norm uses batch statistics.
    ``kinks`` (default: when the model or loss is not smooth) confirms each estimate at half the step, see
    :func:`numerical_gradient`.
    """
    noise = _FrozenNoise(model.layers)
    if kinks is None:
        kinks = not (loss.smooth and all(layer.smooth for layer in model.layers))

    def f() -> float:
        noise.reset()
        return loss.forward(model.forward(x, training), y)

    f()
    model.backward(loss.backward())
    rows = []
    for i, layer in enumerate(model.layers):
        for name, p in layer.named_parameters():
            analytic = p.grad.copy()
            coords = sample_coords(p.shape, max_coords, rng)
            numeric = numerical_gradient(f, p.data, coords, h, kinks=kinks)
            rows.append({"index": i, "layer": type(layer).__name__, "param": name, "shape": p.shape,
                         "checked": len(coords), "error": rel_error(analytic.reshape(-1)[coords], numeric)})
    return rows
