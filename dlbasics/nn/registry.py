"""Config names -> layer classes, and the model built from a `model:` config section."""

from __future__ import annotations

from typing import Any

from .activations import ACTIVATIONS
from .layers import Dense, Flatten, Layer
from .model import Sequential

LAYERS: dict[str, type[Layer]] = {"dense": Dense, "flatten": Flatten, **ACTIVATIONS}


def layer_from_config(spec: dict[str, Any]) -> Layer:
    """``{type: dense, units: 100}`` -> ``Dense(units=100)``."""
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    return LAYERS[spec["type"]](**kwargs)


def mlp_layers(hidden: list[int], n_outputs: int, activation: str = "relu", init: str = "he_normal",
               flatten: bool = True) -> list[Layer]:
    """Flatten (for images), then Dense + activation per hidden width, then a Dense to ``n_outputs``."""
    layers: list[Layer] = [Flatten()] if flatten else []
    for width in hidden:
        layers += [Dense(width, init=init), ACTIVATIONS[activation]()]
    layers.append(Dense(n_outputs, init=init))
    return layers


def model_from_config(model_cfg: dict[str, Any], input_shape: tuple[int, ...], n_outputs: int) -> Sequential:
    """An unbuilt Sequential from a validated `model:` section (call ``.build`` to create the weights)."""
    if model_cfg["type"] == "mlp":
        return Sequential(mlp_layers(model_cfg["hidden"], n_outputs, model_cfg["activation"], model_cfg["init"],
                                     flatten=len(input_shape) > 1))
    return Sequential([layer_from_config(spec) for spec in model_cfg["layers"]])
