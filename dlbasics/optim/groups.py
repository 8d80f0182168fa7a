"""Parameter groups from a config: per-layer hyper-parameters, and no weight decay on biases and norm layers.

    optimizer:
      name: sgd
      lr: 0.1
      weight_decay: 1.0e-4
      param_groups: [{layers: [0, 1], lr: 0.01}]   # layer indices as `dlb model` shows them
      no_weight_decay: [bias, norm]                 # the default; [] decays every parameter (PyTorch's way)

Each group becomes ``{"params": [...], **overrides}`` for the optimizer (PyTorch's param_groups); parameters in
no group form the default group. Biases and the scale/shift of normalisation layers get ``weight_decay: 0``
unless ``no_weight_decay`` is emptied: decaying them does not regularise (a bias does not make the function
more complex) and fights the normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..nn.layers import leaves
from ..nn.model import Sequential
from ..nn.norm import _Norm
from ..nn.parameter import Parameter, pack


def is_no_decay(layer: Any, p: Parameter, kinds: Sequence[str]) -> bool:
    """True when ``p`` is a bias (kind "bias") or belongs to a normalisation layer (kind "norm")."""
    return ("bias" in kinds and p.name == "bias") or ("norm" in kinds and isinstance(layer, _Norm))


def build_param_groups(model: Sequential, specs: Sequence[dict[str, Any]] = (),
                       no_weight_decay: Sequence[str] = ("bias", "norm")) -> list[dict[str, Any]]:
    """Groups for ``Optimizer(groups, **defaults)``. Raises ValueError naming a bad group (index, layer)."""
    owner: dict[int, int] = {}
    for g, spec in enumerate(specs):
        for index in spec["layers"]:
            if not 0 <= index < len(model.layers):
                raise ValueError(f"param_groups.{g}: layer {index} does not exist (the model has layers 0 to "
                                 f"{len(model.layers) - 1}; see dlb model)")
            if not model.layers[index].parameters():
                raise ValueError(f"param_groups.{g}: layer {index} ({type(model.layers[index]).__name__}) has no "
                                 "parameters")
            if index in owner:
                raise ValueError(f"param_groups.{g}: layer {index} is already in group {owner[index]}")
            owner[index] = g
    buckets: dict[tuple[int, bool], list[Parameter]] = {}
    for i, layer in enumerate(model.layers):
        for leaf in leaves(layer):  # a residual block's batch norms are norms too
            for p in leaf.parameters():
                key = (owner.get(i, -1), is_no_decay(leaf, p, no_weight_decay))
                buckets.setdefault(key, []).append(p)
    groups = []
    for (g, no_decay), params in sorted(buckets.items()):
        overrides = {k: v for k, v in specs[g].items() if k != "layers" and v is not None} if g >= 0 else {}
        if no_decay:
            overrides["weight_decay"] = 0.0
        groups.append({"params": params, **overrides})
    # weights and biases alternate in build's buffer; laid out group by group instead, each group is one run
    # of it and an element-wise optimizer steps it as one flat array (Optimizer.step)
    pack([p for group in groups for p in group["params"]])
    return groups
