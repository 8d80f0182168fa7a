"""Gradient checks at the level a user asks for them: a config's whole model, or every registered piece.

Tolerances on the relative error ``||a - n|| / (||a|| + ||n||)`` (see :mod:`dlbasics.nn.gradcheck`):
1e-7 for smooth functions, 1e-6 for functions with kinks (ReLU, max pooling, MAE, Huber), whose finite
differences halve their step where it straddles a kink (see :mod:`dlbasics.nn.gradcheck`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..nn.gradcheck import check_layer, check_loss, check_model

SMOOTH_TOL, KINKED_TOL = 1e-7, 1e-6

#: for `dlb gradcheck --all`: constructor arguments and a per-sample input shape for every registered layer
LAYER_CASES: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "dense": ({"units": 4, "init": "xavier_normal"}, (5,)),
    "flatten": ({}, (2, 3, 2)),
    "dropout": ({"p": 0.3}, (6,)),
    "relu": ({}, (6,)), "leaky_relu": ({"negative_slope": 0.1}, (6,)), "elu": ({}, (6,)), "gelu": ({}, (6,)),
    "sigmoid": ({}, (6,)), "tanh": ({}, (6,)), "softplus": ({}, (6,)), "softmax": ({}, (6,)),
    "conv1d": ({"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}, (2, 9)),
    "conv2d": ({"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}, (2, 7, 6)),
    "maxpool1d": ({"kernel_size": 2}, (2, 8)), "maxpool2d": ({"kernel_size": 3, "stride": 2}, (2, 7, 7)),
    "avgpool1d": ({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 9)),
    "avgpool2d": ({"kernel_size": 2}, (2, 6, 6)),
    "globalavgpool": ({}, (3, 4, 5)),
    "batchnorm1d": ({}, (4,)), "batchnorm2d": ({}, (3, 4, 4)), "layernorm": ({}, (3, 4, 4)),
    "groupnorm": ({"num_groups": 2}, (4, 3, 3)), "instancenorm": ({"affine": True}, (3, 5, 5)),
    "reshape": ({"shape": [3, -1]}, (2, 3, 2)),
    "residual": ({"layers": [{"type": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
                             {"type": "tanh"}]}, (2, 5, 5)),  # F(x) + 1x1 projection of x
}

#: for `dlb gradcheck --all`: the paths a layer takes only in some settings (Winograd, the 2x2 pool) and the
#: fused steps of ``model.fuse``, each as (label, the layers of one Sequential, per-sample input shape)
FAST_PATH_CASES: list[tuple[str, list[dict[str, Any]], tuple[int, ...]]] = [
    ("conv2d algorithm=winograd", [{"type": "conv2d", "out_channels": 3, "kernel_size": 3, "padding": "same",
                                    "algorithm": "winograd"}], (2, 5, 6)),
    ("maxpool2d 2x2", [{"type": "maxpool2d", "kernel_size": 2}], (2, 4, 6)),
    ("fused bn2d+relu+pool 2x2",
     [{"type": "batchnorm2d"}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}], (3, 4, 6)),
    ("fused bn1d+relu", [{"type": "batchnorm1d"}, {"type": "relu"}], (4,)),
]

#: for `dlb gradcheck --all`: constructor arguments and the kind of target for every registered loss
LOSS_CASES: dict[str, list[tuple[dict[str, Any], str]]] = {
    "cross_entropy": [({}, "int"), ({"label_smoothing": 0.1}, "int"), ({"label_smoothing": 0.1}, "soft")],
    "bce_with_logits": [({}, "prob")],
    "mse": [({}, "real")], "mae": [({}, "real")], "huber": [({"delta": 0.5}, "real")],
    "power": [({"p": 0.5}, "real"), ({"p": 1.5}, "real"), ({"p": 3.0}, "real")],
}


def _row(kind: str, name: str, tensor: str, error: float, smooth: bool, **extra: Any) -> dict[str, Any]:
    tol = SMOOTH_TOL if smooth else KINKED_TOL
    return {"kind": kind, "name": name, "tensor": tensor, "error": error, "tolerance": tol, "passed": error < tol,
            **extra}


def check_registered(seed: int = 0, batch: int = 4) -> list[dict[str, Any]]:
    """Check every registered layer (input and parameter gradients, training mode), the fast paths and fused
    steps (:data:`FAST_PATH_CASES`) and every loss, in float64."""
    from ..nn.losses import LOSSES
    from ..nn.model import Sequential
    from ..nn.registry import LAYERS, layer_from_config

    rng = np.random.default_rng(seed)
    rows = []
    for name, cls in LAYERS.items():
        kwargs, shape = LAYER_CASES[name]
        layer = cls(**kwargs)
        Sequential([layer]).build(shape, rng, np.float64, noise_rng=np.random.default_rng(seed))
        layer.needs_input_grad = True
        x = rng.standard_normal((batch, *shape)) * 2
        for tensor, error in check_layer(layer, x, rng, training=True).items():
            rows.append(_row("layer", name, tensor, error, layer.smooth))
    for label, specs, shape in FAST_PATH_CASES:
        model = Sequential([layer_from_config(dict(spec)) for spec in specs]).build(shape, rng, np.float64)
        for layer in model.layers:
            layer.needs_input_grad = True
        (step,) = model.steps  # the one layer, or the one fused step
        x = rng.standard_normal((batch, *shape)) * 2
        for tensor, error in check_layer(step, x, rng, training=True).items():
            rows.append(_row("fast path", label, tensor, error, step.smooth))
    for name, cases in LOSS_CASES.items():
        for kwargs, target in cases:
            loss = LOSSES[name](**kwargs)
            out = rng.standard_normal((batch * 2, 4)) * 2
            y = {"int": rng.integers(0, 4, len(out)), "soft": rng.dirichlet(np.ones(4), len(out)),
                 "prob": rng.uniform(0, 1, out.shape), "real": rng.standard_normal(out.shape)}[target]
            label = name + "".join(f" {k}={v}" for k, v in kwargs.items()) + f" ({target} targets)"
            rows.append(_row("loss", label, "output", check_loss(loss, out, y), loss.smooth))
    return rows


def check_config(cfg: dict[str, Any], batch: int = 8, max_coords: int = 30, seed: int = 0,
                 progress: bool = True) -> list[dict[str, Any]]:
    """Build the config's model in float64 and check every parameter gradient on a batch of ``batch`` inputs of the
    data set's shape: uniform in [0, 1] (random, so no flat regions tie in max-pooling windows, where the
    derivative does not exist) with random targets. Backprop is checked, not the data: nothing is loaded, which
    works offline for MNIST too."""
    from ..nn.losses import LOSSES
    from ..runner import build_model, data_shapes

    cfg = copy.deepcopy(cfg)
    cfg["train"]["dtype"] = "float64"
    shapes = data_shapes(cfg, progress=progress)
    model = build_model(cfg, shapes.input_shape, shapes.n_outputs, n_train=shapes.n_train)
    loss = LOSSES[cfg["loss"]["name"]](**{k: v for k, v in cfg["loss"].items() if k != "name"})
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (batch, *shapes.input_shape))
    if loss.task == "classification":
        y = rng.integers(0, max(2, shapes.n_outputs), batch) if shapes.n_outputs > 1 else rng.integers(0, 2, batch)
    else:
        y = rng.standard_normal((batch, shapes.n_outputs))
    smooth = loss.smooth and all(layer.smooth for layer in model.layers)
    rows = check_model(model, loss, x, y, np.random.default_rng(seed), max_coords=max_coords)
    return [_row("model", f"{r['index']} {r['layer'].lower()}", r["param"], r["error"], smooth,
                 shape=r["shape"], checked=r["checked"]) for r in rows]
