"""How much memory training a model takes, estimated from shapes alone, before a single weight is allocated.

    model = model_from_config(cfg["model"], (1, 28, 28), 10)    # configs/mnist_cnn.yaml, unbuilt: no arrays yet
    fp = estimate(model, (1, 28, 28), batch_size=100, dtype="float32", state_arrays=3, eval_batch_size=500)
    fp.total        # 403739944 bytes; fp.summary(): "about 404 MB: weights 1.69 MB, ..., activations 392 MB ..."
    fp.culprit()    # (4, "layer 4, conv2d 32x14x14->64x14x14: 214 MB of activations for a batch of 500 ...")

``Sequential.plan`` infers every layer's shapes (raising the LayerShapeError ``build`` would raise) and each
layer's ``memory`` says how many bytes per sample its forward keeps and its backward needs. In bytes, with
s the item size (4 for float32), P parameters, a optimizer arrays per parameter, N the training batch and
Ne the evaluation chunk::

    parameters   P s (2 + a)                   weights, gradients, optimizer state (Adam: m, v and a scratch array)
    update       2 s (largest parameter)       the optimizer's temporaries, e.g. g + weight_decay p
    training     N (x + 2 y + sum forward + sum backward + max scratch)
    evaluation   Ne (2 y + sum eval_forward) + N sum backward
    total        parameters + update + max(training, evaluation)

per sample: x the input (a training batch is a copy; evaluation chunks are views), y the output (the loss
keeps probabilities and returns their gradient), forward / backward / scratch each layer's ``Layer.memory``
(:class:`~dlbasics.nn.layers.Memory`; scratch only of the layers whose backward runs, from the first layer
with parameters on), eval_forward what an evaluation forward keeps (``Layer.eval_memory``). Every layer's
caches are alive at once (they stay on the layers between steps), temporaries one layer at a time.
Evaluation forwards chunks of Ne samples through the same caches, so with a small training batch it is often
the larger (mnist_cnn: batches of 100, chunks of 500). A fused step (``Sequential.fusion``) is counted once,
at its first layer, by its own ``memory``. A layer's output counts as kept even where the next
layer lets it go (BatchNorm's output once ReLU has made its own): an upper bound.

Measured (one epoch on mnist-mini, float32, one thread; growth of the peak RSS over the epoch, allocator slack
included; with the plain layers and im2col, before the fused step and Winograd existed: model.fuse false and
algorithm im2col now estimate 517 MB for it): mnist_cnn estimate 507 MB, measured 408 MB with 500 validation
samples (one chunk) and 554 MB with 900 (chunks of 500 and 400: for a moment the conv buffers exist in both
sizes); with eval_batch_size 100, 163 MB and 170 MB. NumPy's own count (tracemalloc) is 1.2-1.6x below the
estimate (tests/test_memory_estimate.py). Not counted: the data set, Python and NumPy themselves (about 90 MB
with mnist-mini loaded), copies that regularizers make (weight noise, augmentation).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .layers import Layer, Memory, Shape
from .model import LayerPlan, Sequential, layer_name
from .parameter import Parameter

#: the default memory limit: this fraction of the memory available when the check runs
AVAILABLE_FRACTION = 0.8


@dataclass(frozen=True)
class LayerFootprint:
    """One layer's share: its plan, its bytes per sample in training (``memory``) and evaluation
    (``eval_forward``), and its optimizer's arrays per parameter."""

    index: int
    label: str
    plan: LayerPlan
    memory: Memory
    eval_forward: int
    state_arrays: int

    @property
    def params(self) -> int:
        return sum(math.prod(shape) for shape in self.plan.params.values())


@dataclass(frozen=True)
class Footprint:
    """The estimate for one model, batch size and dtype; every size in bytes (formulas: module docstring)."""

    layers: list[LayerFootprint]
    input_shape: Shape
    itemsize: int
    batch_size: int
    eval_batch_size: int

    @property
    def parameters(self) -> int:
        return sum(lf.params for lf in self.layers)

    @property
    def weights(self) -> int:
        """Weights; the gradients take as much again."""
        return self.parameters * self.itemsize

    @property
    def optimizer_state(self) -> int:
        return sum(lf.params * lf.state_arrays for lf in self.layers) * self.itemsize

    @property
    def update(self) -> int:
        """Two temporaries the size of the largest parameter tensor, while the optimizer steps."""
        sizes = [math.prod(shape) for lf in self.layers for shape in lf.plan.params.values()]
        return 2 * max(sizes, default=0) * self.itemsize

    @property
    def _loss(self) -> int:
        """Per sample: the loss's probabilities and the gradient it returns, each the size of the output."""
        y = self.layers[-1].plan.output_shape if self.layers else self.input_shape
        return 2 * math.prod(y) * self.itemsize

    @property
    def training(self) -> int:
        """Activations of one training step: every cache and work buffer, plus the largest temporaries."""
        first = next((lf.index for lf in self.layers if lf.plan.params), len(self.layers))  # backward stops there
        scratch = max((lf.memory.scratch for lf in self.layers[first:]), default=0)
        kept = sum(lf.memory.forward + lf.memory.backward for lf in self.layers)
        return self.batch_size * (math.prod(self.input_shape) * self.itemsize + self._loss + kept + scratch)

    @property
    def evaluation(self) -> int:
        """Activations while evaluating a chunk (the backward buffers of the last training step remain)."""
        return (self.eval_batch_size * (self._loss + sum(lf.eval_forward for lf in self.layers))
                + self.batch_size * sum(lf.memory.backward for lf in self.layers))

    @property
    def activations(self) -> int:
        return max(self.training, self.evaluation)

    @property
    def activation_batch(self) -> int:
        """The batch whose activations count: the training batch or the evaluation chunk."""
        return self.batch_size if self.training >= self.evaluation else self.eval_batch_size

    @property
    def total(self) -> int:
        return self.weights * 2 + self.optimizer_state + self.update + self.activations

    def layer_bytes(self, lf: LayerFootprint) -> tuple[int, int]:
        """(weights + gradients + optimizer state, activations of ``activation_batch`` samples) of one layer."""
        if self.training >= self.evaluation:
            acts = self.batch_size * (lf.memory.forward + lf.memory.backward)
        else:
            acts = self.eval_batch_size * lf.eval_forward + self.batch_size * lf.memory.backward
        return lf.params * (2 + lf.state_arrays) * self.itemsize, acts

    def culprit(self) -> tuple[int, str]:
        """The layer responsible for most of the memory: (its index, what it takes).

        A layer that keeps the shape and has at most a few parameters per feature (batch norm, an activation,
        dropout) is charged to the layer that made the shape: a conv2d with 100,000 channels is to blame for the
        batch norm and ReLU after it; a square dense layer answers for itself. E.g.
        (1, "layer 1, dense 784->100000000: 78,500,000,000 parameters"), (0, "layer 0, conv2d
        1x28x28->100000x28x28: 627 GB of activations for a batch of 500 (layers 0-2)").
        """
        if not self.layers:
            return -1, "no layers"
        stages: list[list[LayerFootprint]] = []
        for lf in self.layers:
            follows = lf.plan.output_shape == lf.plan.input_shape and lf.params <= 4 * max(lf.plan.output_shape)
            if stages and follows:
                stages[-1].append(lf)
            else:
                stages.append([lf])
        stage = max(stages, key=lambda st: sum(sum(self.layer_bytes(lf)) for lf in st))
        head = stage[0]
        params, acts = (sum(parts) for parts in zip(*(self.layer_bytes(lf) for lf in stage)))
        if params >= acts:
            what = f"{sum(lf.params for lf in stage):,} parameters"
        else:
            span = f" (layers {head.index}-{stage[-1].index})" if len(stage) > 1 else ""
            what = f"{format_bytes(acts)} of activations for a batch of {self.activation_batch}{span}"
        return head.index, f"layer {head.index}, {head.label}: {what}"

    def summary(self) -> str:
        """One line: the total and its parts."""
        return (f"about {format_bytes(self.total)}: weights {format_bytes(self.weights)}, gradients "
                f"{format_bytes(self.weights)}, optimizer state {format_bytes(self.optimizer_state)}, activations "
                f"{format_bytes(self.activations)} (batch of {self.activation_batch})")


def label(layer: Layer, plan: LayerPlan) -> str:
    """"dense 784->100", "conv2d 1x28x28->32x28x28", "relu 128" (one shape when it does not change)."""
    shape_in, shape_out = ("x".join(map(str, s)) for s in (plan.input_shape, plan.output_shape))
    return f"{layer_name(layer)} {shape_in}" + (f"->{shape_out}" if shape_out != shape_in else "")


def estimate(model: Sequential, input_shape: Shape, batch_size: int, dtype: Any = np.float32,
             state_arrays: int | Sequence[int] = 0, eval_batch_size: int | None = None) -> Footprint:
    """The memory an unbuilt (or built) ``model`` needs to train, from shapes only; allocates nothing.

    ``state_arrays``: the optimizer's parameter-sized arrays per parameter, one number or one per layer (see
    :func:`optimizer_state_arrays`). ``eval_batch_size``: the evaluation chunk (default: ``batch_size``).
    Raises LayerShapeError for a shape some layer cannot take.
    """
    plans = model.plan(input_shape)
    itemsize = np.dtype(dtype).itemsize
    arrays = [state_arrays] * len(plans) if isinstance(state_arrays, int) else list(state_arrays)
    fused = {}  # a fused step's memory goes to its first layer, nothing to the others
    for first, stop in model.fusion([plan.input_shape for plan in plans]):
        fused[first] = (model.fused_steps_for(first, stop), plans[stop - 1].output_shape)
        fused.update({i: None for i in range(first + 1, stop)})
    layers, params_before = [], False
    for i, (layer, plan) in enumerate(zip(model.layers, plans)):
        if i in fused:
            step, output_shape = fused[i] or (None, None)
            memory = (Memory(0, 0, 0) if step is None
                      else step.memory(plan.input_shape, output_shape, itemsize, params_before))
            eval_forward = 0 if step is None else step.eval_memory(plan.input_shape, output_shape, itemsize)
        else:
            memory = layer.memory(plan.input_shape, plan.output_shape, itemsize, params_before)
            eval_forward = layer.eval_memory(plan.input_shape, plan.output_shape, itemsize)
        layers.append(LayerFootprint(i, label(layer, plan), plan, memory, eval_forward, arrays[i]))
        params_before = params_before or bool(plan.params)
    return Footprint(layers, tuple(input_shape), itemsize, batch_size,
                     batch_size if eval_batch_size is None else eval_batch_size)


def optimizer_state_arrays(name: str, hyper: Mapping[str, Any] | None = None) -> int:
    """How many parameter-sized arrays optimizer ``name`` keeps per parameter, with these hyper-parameters.

    Found by asking the optimizer itself: one step on a one-element parameter, then a count of its state arrays,
    so the number follows optim/optimizers.py as it is (sgd 0, or 1 with momentum; adagrad 2, adadelta 3,
    rmsprop 2 (+1 centered, +1 momentum); adam, adamw, nadam, radam, adamp 3 (+1 amsgrad): the moments and
    a scratch buffer).
    """
    from ..optim.optimizers import OPTIMIZERS  # optim builds on nn: imported when needed

    p = Parameter(np.zeros(1))
    p.grad[...] = 1.0
    opt = OPTIMIZERS[name]([p], **dict(hyper or {}))
    with np.errstate(all="ignore"):
        opt.step()
    return sum(isinstance(v, np.ndarray) and v.shape == p.shape for v in opt.state[p].values())


def from_config(cfg: Mapping[str, Any], model: Sequential, input_shape: Shape, n_train: int | None = None
                ) -> Footprint:
    """The estimate for a resolved config: its train.batch_size, train.eval_batch_size, train.dtype and
    optimizer (per-layer ``param_groups`` included). ``n_train``: the training-set size, the batch of
    batch_size 'full' (without it, 'full' counts as one evaluation chunk)."""
    train, opt = cfg["train"], cfg["optimizer"]
    eval_batch = train.get("eval_batch_size", 500)
    batch = train["batch_size"]
    if batch == "full":
        batch = n_train if n_train is not None else eval_batch
    elif n_train is not None:
        batch = min(batch, n_train)
    hyper = {k: v for k, v in opt.items() if k not in ("name", "param_groups", "no_weight_decay")}
    per_layer = [hyper] * len(model.layers)
    for group in opt.get("param_groups") or []:
        for i in group["layers"]:
            if 0 <= i < len(per_layer):
                per_layer[i] = {**hyper, **{k: v for k, v in group.items() if k != "layers" and v is not None}}
    counts: dict[str, int] = {}  # one probe per distinct set of hyper-parameters
    for h in per_layer:
        if repr(h) not in counts:
            counts[repr(h)] = optimizer_state_arrays(opt["name"], h)
    arrays = [counts[repr(h)] for h in per_layer]
    return estimate(model, input_shape, batch, np.dtype(train["dtype"]), arrays, eval_batch)


def available_memory() -> int | None:
    """Bytes of memory available now: MemAvailable from /proc/meminfo (Linux), else all physical memory
    (``os.sysconf``), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_limit() -> int | None:
    """AVAILABLE_FRACTION (80 %) of the memory available now, or None when that is unknown."""
    available = available_memory()
    return None if available is None else int(AVAILABLE_FRACTION * available)


def format_bytes(n: float) -> str:
    """Three significant digits in decimal units: 311 GB, 18.6 GB, 512 B."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 999.5 or unit == "PB":
            break
        n /= 1000
    return f"{n:.3g} {unit}"
