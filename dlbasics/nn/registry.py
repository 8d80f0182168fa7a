"""Config names -> layer classes, and the model built from a `model:` config section."""

from __future__ import annotations

from typing import Any

from .activations import ACTIVATIONS
from .conv import Conv1D, Conv2D
from .dropout import Dropout
from .layers import Dense, Flatten, Layer
from .model import Sequential
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm, LayerNorm
from .pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D
from .reshape import Reshape
from .residual import Residual

#: every layer a config can name in ``model.layers`` (``{type: <name>, ...its arguments}``)
LAYERS: dict[str, type[Layer]] = {
    "dense": Dense, "flatten": Flatten, "dropout": Dropout,
    "conv1d": Conv1D, "conv2d": Conv2D,
    "maxpool1d": MaxPool1D, "maxpool2d": MaxPool2D, "avgpool1d": AvgPool1D, "avgpool2d": AvgPool2D,
    "globalavgpool": GlobalAvgPool,
    **ACTIVATIONS,
    "batchnorm1d": BatchNorm1d, "batchnorm2d": BatchNorm2d, "layernorm": LayerNorm, "groupnorm": GroupNorm,
    "instancenorm": InstanceNorm,
    "reshape": Reshape, "residual": Residual,
}


def layer_from_config(spec: dict[str, Any]) -> Layer:
    """``{type: dense, units: 100}`` -> ``Dense(units=100)``."""
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    return LAYERS[spec["type"]](**kwargs)


def mlp_layers(hidden: list[int], n_outputs: int, activation: str = "relu", init: str | dict = "he_normal",
               flatten: bool = True, batchnorm: bool = False, dropout: float = 0.0) -> list[Layer]:
    """[Flatten], then per hidden width Dense, [BatchNorm1d], activation, [Dropout(p)], then Dense to ``n_outputs``.

    With batch norm the Dense before it has no bias (the norm's beta replaces it, as is usual).
    """
    layers: list[Layer] = [Flatten()] if flatten else []
    for width in hidden:
        layers.append(Dense(width, init=init, bias=not batchnorm))
        if batchnorm:
            layers.append(BatchNorm1d())
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(n_outputs, init=init))
    return layers


def model_from_config(model_cfg: dict[str, Any], input_shape: tuple[int, ...], n_outputs: int) -> Sequential:
    """An unbuilt Sequential from a validated `model:` section (call ``.build`` to create the weights)."""
    if model_cfg["type"] == "mlp":
        return Sequential(mlp_layers(model_cfg["hidden"], n_outputs, model_cfg["activation"], model_cfg["init"],
                                     flatten=len(input_shape) > 1, batchnorm=model_cfg["batchnorm"],
                                     dropout=model_cfg["dropout"]), fuse=model_cfg.get("fuse", True))
    return Sequential([layer_from_config(spec) for spec in model_cfg["layers"]], fuse=model_cfg.get("fuse", True))
