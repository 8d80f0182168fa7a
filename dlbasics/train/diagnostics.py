"""Training diagnostics (``train.diagnostics: true``): per layer and epoch, how the signals of the network look.

Measured on a fixed probe batch (``train.diagnostics_probe`` training samples drawn once from the seed), after
every epoch and once at the initial weights (epoch 0), so the cost is one forward and one backward of a small
batch per epoch, not a pass over the data:

- ``act_mean``, ``act_std``: mean and standard deviation of the layer's output over the probe batch (eval mode:
  dropout off, batch norm with its running statistics, so measuring changes nothing in training);
- ``dead_fraction`` (ReLU layers): the fraction of units (output elements per sample) that are 0 for every
  sample of the probe batch: units no input activates, which pass no gradient (dying ReLU);
- ``grad_norm`` (layers with parameters): ||dL/dtheta|| of the layer's parameters (weights and bias together)
  for the training loss of the probe batch: vanishing gradients show as norms shrinking layer by layer
  towards the input (a deep sigmoid net), exploding ones as the opposite;
- ``update_ratio`` (layers with parameters): ||delta theta|| / ||theta|| of the epoch's first optimizer step (the
  real step, with its mini-batch, lr, momentum and clipping): about 1e-3 is the usual healthy rule of thumb
  (Karpathy's CS231n notes); far below, the layer barely learns; far above, it is unstable. Empty at epoch 0.

Rows are produced as each epoch ends (``on_rows``), so a run folder can flush them like its metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..nn.activations import ACTIVATIONS, ReLU
from ..nn.losses import Loss
from ..nn.model import Sequential, layer_name
from .loop import Callback

COLUMNS = ["epoch", "layer", "type", "act_mean", "act_std", "dead_fraction", "grad_norm", "update_ratio"]
_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


def measured_layers(model: Sequential) -> list[int]:
    """Indices of the layers that get a row: those with parameters and the activations."""
    return [i for i, layer in enumerate(model.layers)
            if layer.parameters() or isinstance(layer, _ACTIVATION_TYPES)]


def _norm(arrays: list[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def probe_statistics(model: Sequential, loss_fn: Loss, x: np.ndarray, y: np.ndarray) -> dict[int, dict[str, Any]]:
    """Per measured layer: act_mean, act_std, dead_fraction (ReLU) and grad_norm (layers with parameters) on the
    batch ``x``, ``y`` in eval mode. Overwrites the parameters' ``grad`` (as any backward does)."""
    stats: dict[int, dict[str, Any]] = {}
    keep = set(measured_layers(model))
    out = x
    with np.errstate(over="ignore", invalid="ignore"):
        for i, layer in enumerate(model.layers):
            out = layer.forward(out, False)
            if i not in keep:
                continue
            flat = out.reshape(len(out), -1)
            row = {"act_mean": float(flat.mean(dtype=np.float64)), "act_std": float(flat.std(dtype=np.float64))}
            if isinstance(layer, ReLU):
                row["dead_fraction"] = float(np.mean(~(flat > 0).any(axis=0)))
            stats[i] = row
        loss_fn.forward(out, y)
        dout = loss_fn.backward()
        for layer in reversed(model.layers):  # layer by layer, as the forward above (not the model's fused steps)
            dout = layer.backward(dout)
            if dout is None:
                break
        for i in keep:
            params = model.layers[i].parameters()
            if params:
                stats[i]["grad_norm"] = _norm([p.grad for p in params])
    return stats


class Diagnostics(Callback):
    """The callback that measures :func:`probe_statistics` after every epoch (and at epoch 0 of a new run) and the
    update ratio of each epoch's first step; ``on_rows`` receives each epoch's rows (columns :data:`COLUMNS`)."""

    def __init__(self, model: Sequential, loss_fn: Loss, x_probe: np.ndarray, y_probe: np.ndarray,
                 on_rows: Callable[[list[dict[str, Any]]], None] | None = None):
        self.model, self.loss_fn, self.x_probe, self.y_probe = model, loss_fn, x_probe, y_probe
        self.on_rows = on_rows
        self.rows: list[dict[str, Any]] = []
        self.layers = measured_layers(model)
        self.before: dict[int, list[np.ndarray]] | None = None
        self.ratios: dict[int, float] = {}

    def measure(self, epoch: int) -> list[dict[str, Any]]:
        """The rows of ``epoch`` (the update ratios of its first step, if one was seen)."""
        stats = probe_statistics(self.model, self.loss_fn, self.x_probe, self.y_probe)
        rows = [{"epoch": epoch, "layer": i, "type": layer_name(self.model.layers[i]), **stats[i],
                 **({"update_ratio": self.ratios[i]} if i in self.ratios else {})} for i in self.layers]
        self.rows.extend(rows)
        if self.on_rows is not None:
            self.on_rows(rows)
        return rows

    def on_train_begin(self, info: dict[str, Any]) -> None:
        if info.get("start_epoch", 1) == 1:
            self.measure(0)

    def on_epoch_begin(self, epoch: int) -> None:
        self.ratios = {}
        self.before = {i: [p.data.copy() for p in self.model.layers[i].parameters()] for i in self.layers
                       if self.model.layers[i].parameters()}

    def on_batch_end(self, batch: int, loss: float) -> None:
        if self.before is None:
            return
        for i, old in self.before.items():
            new = [p.data for p in self.model.layers[i].parameters()]
            size = _norm(old)
            step = _norm([a - b for a, b in zip(new, old)])
            self.ratios[i] = step / size if size > 0 else float("inf") if step > 0 else 0.0
        self.before = None

    def on_epoch_end(self, row: dict[str, Any]) -> None:
        self.measure(row["epoch"])
        self.before = None


def probe_indices(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``min(size, n)`` training samples drawn without replacement: the probe batch."""
    return np.sort(rng.choice(n, size=min(size, n), replace=False))
