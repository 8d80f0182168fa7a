"""The config schema: every section and key, its type, range and default, in one place.

A section is added by adding one entry to :data:`SECTIONS`. Registry sections (data, model layers, loss,
optimizer, schedule) take their keys and defaults from the registered classes' signatures, so adding a
class to a registry makes it configurable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..data.datasets import DATASETS
from ..nn.activations import ACTIVATIONS
from ..nn.init import INIT
from ..nn.losses import LOSSES
from ..nn.parameter import Parameter
from ..nn.registry import LAYERS
from ..optim.optimizers import OPTIMIZERS
from ..optim.schedules import COMMON as SCHEDULE_COMMON
from ..optim.schedules import SCHEDULES
from .fields import (
    REQUIRED,
    Anything,
    Bool,
    Choice,
    ConfigError,
    Either,
    MapOf,
    Num,
    Optional,
    Registry,
    Scalar,
    Section,
    Seq,
    Size,
    Spec,
    Str,
    did_you_mean,
    section_from_signature,
    show,
)


def _class_section(cls: type, skip: tuple[str, ...] = ()) -> Section:
    doc = (cls.__doc__ or "").strip().split("\n")[0]
    return section_from_signature(cls.__init__, getattr(cls, "constraints", {}), doc=doc,
                                  skip=("self", "params", "optimizer", *skip))


GROUP_KEYS = ("param_groups", "no_weight_decay")  # optimizer keys that are not the update rule's arguments


def _constructs(cls: type) -> Callable[[dict], tuple[str, str] | None]:
    """A Section check that builds the optimizer on a dummy parameter, so its own argument checks apply."""

    def check(values: dict) -> tuple[str, str] | None:
        kwargs = {k: v for k, v in values.items() if k != "name" and k not in GROUP_KEYS}
        try:
            cls([Parameter(np.zeros(1))], **kwargs)
        except (ValueError, TypeError) as err:
            return "", str(err)
        return None

    return check


def _registry_sections(classes: Mapping[str, type], check: bool = False,
                       skip: tuple[str, ...] = ()) -> dict[str, Section]:
    out = {}
    for name, cls in classes.items():
        sec = _class_section(cls, skip)
        out[name] = Section(sec.fields, doc=sec.doc, check=_constructs(cls) if check else None)
    return out


def _optimizer_sections() -> dict[str, Section]:
    """Each optimizer's own keys plus per-layer parameter groups and the no-weight-decay rule."""
    out = {}
    for name, sec in _registry_sections(OPTIMIZERS, check=True).items():
        group = Section({"layers": Seq(Num(integer=True, ge=0), min_len=1, doc="layer indices (see dlb model)"),
                         **{k: Optional(f.with_default(None)) for k, f in sec.fields.items()}},
                        doc="hyper-parameters for some layers")
        out[name] = Section({
            **sec.fields,
            "param_groups": Seq(group, [], doc="per-layer overrides: [{layers: [0, 1], lr: 1.0e-4}, ...]"),
            "no_weight_decay": Seq(Choice(["bias", "norm"]), ["bias", "norm"],
                                   doc="parameters exempt from weight decay: biases, normalisation layers"),
        }, doc=sec.doc, check=sec.check)
    return out


DATA = Registry(
    lambda: {name: entry.section() for name, entry in DATASETS.items()},
    key="name",
    default="mnist-mini",
    common={
        "val_split": Num(0.1, ge=0.0, lt=1.0, doc="fraction of the training set held out for validation"),
        "normalize": Choice(["none", "standardize"], "none",
                            doc="standardize: subtract the training split's mean, divide by its std"),
        "train_size": Optional(Num(integer=True, ge=2), doc="train on exactly this many samples (a stratified subset, "
                                                             "the most recent for a time series, after the "
                                                             "validation split): validation, val_split of "
                                                             "training + validation, comes from the samples left "
                                                             "(all of them if fewer remain); under cv from each "
                                                             "fold's training part; null: all"),
        "fold": Optional(Seq(Section({
            "strategy": Choice(["kfold", "stratified", "holdout", "timeseries", "rolling"], doc="the splitter"),
            "k": Num(integer=True, ge=1, doc="number of folds"),
            "index": Num(integer=True, ge=0, doc="which fold is held out"),
            "gap": Num(0, integer=True, ge=0, doc="time series: samples dropped between training and held out"),
            "window": Optional(Num(integer=True, ge=1), doc="rolling: length of the training window"),
            "fraction": Num(0.2, gt=0.0, lt=1.0, doc="holdout: the held-out fraction"),
        }), min_len=1), doc="set by dlb cv: train on one fold's training part and test on its held-out part "
                            "(levels nest for nested CV); null: the official train/test split"),
        "bootstrap": Optional(Section({
            "index": Num(integer=True, ge=0, doc="which resample (its random stream)"),
            "max_samples": Num(1.0, gt=0.0, le=1.0, doc="resample size as a fraction of the training split"),
        }), doc="set by bagging: train on a bootstrap resample (with replacement) of the training split"),
        "augment": Section({
            "shift": Num(0, integer=True, ge=0, le=8, doc="random translation by up to this many pixels"),
            "rotation": Num(0.0, ge=0.0, le=180.0, doc="random rotation by up to this many degrees"),
            "crop_padding": Num(0, integer=True, ge=0, le=8, doc="pad by this many pixels, crop back at random"),
            "hflip": Bool(False, doc="mirror half of the images (not for digits; fine for Fashion-MNIST)"),
            "vflip": Bool(False, doc="turn half of the images upside down (not for digits or clothes)"),
            "scale": Num(0.0, ge=0.0, lt=1.0, doc="zoom by a random factor in [1 - scale, 1 + scale]"),
            "shear": Num(0.0, ge=0.0, le=45.0, doc="random horizontal shear by up to this many degrees"),
            "elastic": Optional(Section({
                "alpha": Num(34.0, ge=0.0, doc="scale of the displacement in pixels (0: off)"),
                "sigma": Num(4.0, gt=0.0, le=100.0, doc="std in pixels of the Gaussian smoothing the random field"),
            }), doc="elastic distortion (Simard et al. 2003; {} for their MNIST values alpha 34, sigma 4)"),
        }, doc="label-preserving image augmentation of training batches"),
    },
    doc="the data set and how it is split",
)

LAYER = Registry(lambda: {name: _class_section(cls) for name, cls in LAYERS.items()}, key="type")

FUSE = Bool(True, doc="run each batchnorm, relu[, maxpool2d 2x2] as one fused step (same values, fewer passes "
                      "over the activations; false: layer by layer)")
MODEL = Registry(
    {
        "mlp": Section({
            "hidden": Seq(Num(integer=True, ge=1), [100, 100], doc="widths of the hidden layers"),
            "activation": Choice([a for a in ACTIVATIONS if a != "softmax"], "relu",
                                 doc="activation after each hidden layer"),
            "init": INIT.with_default("he_normal"),
            "batchnorm": Bool(False, doc="batch normalisation after each hidden dense layer (which then has no bias)"),
            "dropout": Num(0.0, ge=0.0, lt=1.0, doc="probability of DROPPING a unit after each hidden activation "
                                                    "(0: none; keep ratio = 1 - p)"),
            "fuse": FUSE,
        }, doc="a multi-layer perceptron: [flatten], per hidden width dense, [batchnorm], activation, [dropout]; "
               "then dense to the outputs"),
        "sequential": Section({
            "layers": Seq(LAYER, min_len=1, doc="explicit list of layers, e.g. {type: dense, units: 100}"),
            "fuse": FUSE,
        }, doc="an explicit list of layers; input shapes are inferred"),
    },
    key="type",
    default="mlp",
    infer=lambda raw: "sequential" if "layers" in raw else None,
    doc="the network",
)

LOSS = Registry(lambda: _registry_sections(LOSSES), key="name", default=None,
                doc="the training loss (default: cross_entropy for classification, mse for regression)")

OPTIMIZER = Registry(_optimizer_sections, key="name", default="adam",
                     doc="the update rule (PyTorch's torch.optim rules and defaults)")

SCHEDULE = Registry(lambda: _registry_sections(SCHEDULES, skip=("total", *SCHEDULE_COMMON)), key="name",
                    default="constant",
                    common={"interval": SCHEDULE_COMMON["interval"].with_default(None),
                            "warmup": SCHEDULE_COMMON["warmup"].with_default(0),
                            "warmup_start_factor": SCHEDULE_COMMON["warmup_start_factor"].with_default(1 / 3)},
                    doc="the learning-rate schedule (per epoch, or per step where so defined)")

REGULARIZATION = Section({
    "l1": Num(0.0, ge=0.0, doc="L1 penalty l1 * sum abs(w) on dense/conv weights: its gradient adds l1 sign(w). "
                               "Keras l1(a): l1 = a; the notes' a/2 sum abs(w): l1 = a/2"),
    "l2": Num(0.0, ge=0.0, doc="L2 penalty l2 / 2 * sum w^2: its gradient adds l2 w. The notes' a/2 sum w^2 and "
                               "PyTorch's weight_decay=a: l2 = a; Keras l2(a), a sum w^2: l2 = 2a"),
    "early_stopping": Optional(Section({
        "monitor": Choice(["val_loss", "val_acc", "train_loss", "train_acc"], "val_loss", doc="metric watched"),
        "mode": Choice(["auto", "min", "max"], "auto", doc="auto: max for accuracies, min for losses"),
        "patience": Num(5, integer=True, ge=1, doc="evaluations without improvement before stopping"),
        "min_delta": Num(0.0, ge=0.0, doc="smallest change that counts as an improvement"),
        "restore_best": Bool(True, doc="end with the weights of the best epoch"),
    }), doc="stop when the monitored metric stops improving (null: off; {} for the defaults)"),
    "input_noise": Section({"std": Num(0.0, ge=0.0, doc="std of Gaussian noise added to training inputs")},
                           doc="noise on the inputs, training only"),
    "weight_noise": Section({"std": Num(0.0, ge=0.0, doc="std of Gaussian noise on the weights in each forward")},
                            doc="noise on the weights, training only"),
    "label_smoothing": Optional(Num(ge=0.0, le=1.0), doc="same as loss.label_smoothing (set one of the two)"),
    "mixup": Section({"alpha": Num(0.0, ge=0.0, doc="lam ~ Beta(alpha, alpha); 0: off (0.2 is typical)")},
                     doc="mix pairs of training samples and their labels"),
    "cutmix": Section({"alpha": Num(0.0, ge=0.0, doc="lam ~ Beta(alpha, alpha); 0: off (1.0 is typical)"),
                       "prob": Num(0.5, ge=0.0, le=1.0, doc="chance of cutmix per batch when mixup is on too")},
                      doc="paste a box from another training image; labels mixed by area"),
    "cutout": Section({"size": Num(0, integer=True, ge=0, doc="side of the zeroed square in pixels; 0: off"),
                       "prob": Num(1.0, ge=0.0, le=1.0, doc="chance per image")},
                      doc="zero a random square of each training image"),
    "grad_clip": Section({
        "max_norm": Optional(Num(gt=0.0), doc="rescale the whole gradient to at most this global L2 norm"),
        "max_value": Optional(Num(gt=0.0), doc="clamp every gradient element to [-max_value, max_value]"),
    }, doc="gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), before each step"),
}, doc="penalties and other regularizers")

def _check_batch_schedule(values: dict) -> tuple[str, str] | None:
    milestones = values["milestones"]
    if milestones != sorted(set(milestones)):
        return "milestones", f"expected increasing epochs, got {show(milestones)}"
    if (values["batch_sizes"] is None) == (values["factor"] is None):
        return "", "give either batch_sizes (one per milestone) or factor"
    if values["batch_sizes"] is not None and len(values["batch_sizes"]) != len(milestones):
        return "batch_sizes", (f"{len(values['batch_sizes'])} sizes for {len(milestones)} milestones; give one per "
                               "milestone")
    return None


TRAIN = Section({
    "epochs": Num(10, integer=True, ge=1, doc="passes over the training set"),
    "batch_size": Either(Num(integer=True, ge=1), Choice(["full"]), default=64,
                         doc="mini-batch size, or 'full' for full-batch gradient descent"),
    "batch_schedule": Optional(Section({
        "milestones": Seq(Num(integer=True, ge=1), min_len=1, doc="epochs after which the batch size changes"),
        "batch_sizes": Optional(Seq(Num(integer=True, ge=1), min_len=1),
                                doc="the batch size after each milestone (one per milestone)"),
        "factor": Optional(Num(gt=0.0), doc="or: multiply the batch size by this at each milestone"),
        "max_batch_size": Optional(Num(integer=True, ge=1), doc="never above this"),
    }, check=_check_batch_schedule), doc="grow the mini-batch at milestones instead of decaying the lr (Smith et al. "
                                         "2018); the batch size of each epoch is recorded in metrics.csv"),
    "eval_batch_size": Num(100, integer=True, ge=1, doc="chunk size for evaluation (memory only: layers keep "
                                                        "every chunk's activations; mnist_cnn peaks at 904 MB "
                                                        "with 500, 495 MB with 100)"),
    "max_memory": Optional(Size(), doc="refuse, before allocating, a model whose estimated memory (weights, "
                                       "gradients, optimizer state, activations of a training batch or an "
                                       "evaluation chunk) exceeds this, e.g. '8GB'; null: 80 % of the memory "
                                       "available (MemAvailable) when the model is built"),
    "threads": Num(1, integer=True, ge=1, doc="threads of the training loop: the Winograd convolution, the first "
                                               "convolution and the fused batch norm steps split over this many "
                                               "(BLAS itself runs one; results do not depend on it)"),
    "eval_every": Num(1, integer=True, ge=1, doc="validate every this many epochs (and after the last)"),
    "evaluate": Bool(False, doc="at the end of a completed run, write its evaluation (confusion matrix, per-class "
                                "metrics, residuals) as dlb evaluate does"),
    "checkpoint_every": Num(1, integer=True, ge=0, doc="write checkpoint.npz every this many epochs (and at the "
                                                        "last), for dlb train --resume; 0: never"),
    "eval_train": Bool(False, doc="also evaluate the training split cleanly (eval mode, no regularizers): "
                                  "train_eval_loss/acc, the honest side of the train-validation gap"),
    "divergence_threshold": Optional(Either(Choice(["auto"]), Num(gt=0.0)), "auto",
                                     doc="end the run as diverged when a batch's training loss (or the validation "
                                         "loss) exceeds this, as for NaN/inf; auto: 1e4 x the first batch's loss, "
                                         "at least 1e4; null: only NaN/inf"),
    "diagnostics": Bool(False, doc="per layer and epoch, on a fixed probe batch: activation mean/std, dead-ReLU "
                                    "fraction, gradient norm and the first step's update/weight ratio -> "
                                    "diagnostics.csv and diagnostics.png"),
    "diagnostics_probe": Num(256, integer=True, ge=1, le=100_000,
                             doc="training samples in the diagnostics' probe batch (drawn once from the seed)"),
    "dtype": Choice(["float32", "float64"], "float32", doc="floating-point precision of data and weights"),
    "flush_denormals": Bool(True, doc="treat subnormal floats (< 1.2e-38) as 0 while training: avoids the "
                                      "CPU's slow path (as TensorFlow does); false for IEEE gradual underflow"),
}, doc="the training loop")

CV = Section({
    "strategy": Choice(["auto", "kfold", "stratified", "holdout", "timeseries", "rolling", "nested"], "auto",
                       doc="auto: stratified for classes, timeseries for ordered data, kfold otherwise"),
    "k": Num(5, integer=True, ge=2, doc="folds (outer folds for nested)"),
    "gap": Num(0, integer=True, ge=0, doc="timeseries / rolling: samples dropped between training and held out"),
    "window": Optional(Num(integer=True, ge=1), doc="rolling: training window length (default n / (k + 1))"),
    "fraction": Num(0.2, gt=0.0, lt=1.0, doc="holdout: held-out fraction"),
    "inner_k": Num(3, integer=True, ge=2, doc="nested: inner folds that choose among the grid"),
    "grid": MapOf(Seq(Scalar(), min_len=1), {}, doc="nested: candidate values per dotted key, e.g. "
                                                     "{optimizer.lr: [0.1, 0.01]}; the inner folds pick one"),
    "metric": Choice(["auto", "test_acc", "test_loss"], "auto",
                     doc="what the inner folds of nested CV maximise (acc) or minimise (loss)"),
}, doc="cross-validation (dlb cv): the held-out folds come from the training set; the test set is not used")

ENSEMBLE = Section({
    "method": Choice(["none", "bagging"], "none", doc="bagging: members on bootstrap resamples, averaged"),
    "n_estimators": Num(5, integer=True, ge=2, doc="members of the ensemble"),
    "max_samples": Num(1.0, gt=0.0, le=1.0, doc="each member's resample size, as a fraction of the training split"),
}, doc="train an ensemble instead of one model (dlb train runs the members in parallel)")

class Distribution(Spec):
    """How a random sweep draws one key: ``{loguniform: [a, b]}``, ``{uniform: [a, b]}``, ``{randint: [a, b]}``
    (both ends included) or ``{choice: [v1, v2, ...]}``."""

    KINDS = ("loguniform", "uniform", "randint", "choice")

    def __init__(self, doc: str = ""):
        self.default, self.doc = REQUIRED, doc

    def describe(self) -> str:
        return "one of {loguniform: [a, b]}, {uniform: [a, b]}, {randint: [a, b]}, {choice: [values]}"

    def validate(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping) or len(value) != 1:
            raise ConfigError(f"expected {self.describe()}, got {show(value)}", path)
        (kind, args), = value.items()
        if kind not in self.KINDS:
            raise ConfigError(f"unknown distribution {show(kind)}{did_you_mean(str(kind), list(self.KINDS))} "
                              f"(allowed: {', '.join(self.KINDS)})", path)
        where = f"{path}.{kind}"
        if kind == "choice":
            return {kind: Seq(Anything(), min_len=1).validate(args, where)}
        low, high = Seq(Num(integer=kind == "randint"), length=2).validate(args, where)
        if kind == "loguniform" and low <= 0:
            raise ConfigError(f"loguniform needs bounds > 0 (it draws log-uniformly), got {low:g}", where)
        if low > high or (low == high and kind != "randint"):
            raise ConfigError(f"expected low < high, got [{low:g}, {high:g}]", where)
        return {kind: [low, high]}


def _check_sweep(values: dict) -> tuple[str, str] | None:
    lengths = {k: len(v) for k, v in values["zip"].items()}
    if len(set(lengths.values())) > 1:
        return "zip", ("zip lists must have the same length (they are stepped together), got "
                       + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
    random_keys = set((values["random"] or {}).get("params") or {})
    for a, b in (("grid", "zip"), ("grid", "random"), ("zip", "random")):
        keys_a = random_keys if a == "random" else set(values[a])
        keys_b = random_keys if b == "random" else set(values[b])
        both = sorted(keys_a & keys_b)
        if both:
            return b, f"{both[0]} is swept both in {a} and in {b}; sweep each key in one place"
    return None


SWEEP = Section({
    "grid": MapOf(Seq(Anything(), min_len=1), {}, doc="values per dotted key; every combination is a point, e.g. "
                                                       "{optimizer.lr: [1.0e-3, 1.0e-2], model.hidden: [[64], [128]]}"),
    "zip": MapOf(Seq(Anything(), min_len=1), {}, doc="lists of the same length stepped together (paired values), "
                                                      "crossed with the grid"),
    "random": Optional(Section({
        "n": Num(integer=True, ge=1, le=100_000, doc="points to draw"),
        "seed": Num(0, integer=True, ge=0, doc="seed of the draws (the runs keep the config's seed)"),
        "params": MapOf(Distribution(), doc="a distribution per dotted key, e.g. {optimizer.lr: {loguniform: "
                                            "[1.0e-4, 1.0e-1]}, train.batch_size: {choice: [32, 64]}}"),
    }), doc="random search: n points drawn from the distributions, crossed with the grid"),
    "metric": Choice(["auto", "val_acc", "val_loss", "test_acc", "test_loss", "train_loss"], "auto",
                     doc="what picks the best point; auto: val_acc (val_loss for regression), or the held-out "
                         "folds' test_acc/test_loss with --kfold"),
    "mode": Choice(["auto", "max", "min"], "auto", doc="auto: max for accuracies, min for losses"),
}, doc="a sweep (dlb sweep): grid x zip x random points, each trained with every seed and fold", check=_check_sweep)

#: every top-level section; add a section here and it is validated, defaulted and documented
SECTIONS: dict[str, Spec] = {
    "name": Optional(Str(), doc="run name (default: the config file's name)"),
    "seed": Num(0, integer=True, ge=0, doc="root seed of every random number in the run"),
    "data": DATA,
    "model": MODEL,
    "loss": LOSS,
    "optimizer": OPTIMIZER,
    "schedule": SCHEDULE,
    "regularization": REGULARIZATION,
    "train": TRAIN,
    "cv": CV,
    "ensemble": ENSEMBLE,
    "sweep": SWEEP,
}

ROOT = Section(SECTIONS, doc="a dlbasics experiment")


def fill_dependent_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Defaults that depend on another section: the loss follows the data set's task."""
    raw = dict(raw)
    data = DATA.validate(raw.get("data"), "data")  # first: the task of a csv or npz set depends on its keys
    task = DATASETS[data["name"]].task_for(data)
    loss = raw.get("loss")
    default_loss = "cross_entropy" if task == "classification" else "mse"
    if loss is None:
        raw["loss"] = {"name": default_loss}
    elif isinstance(loss, Mapping) and "name" not in loss:
        raw["loss"] = {"name": default_loss, **loss}
    return raw


def check_across_sections(cfg: dict[str, Any]) -> None:
    """Rules that tie sections together, on the validated config (raises ConfigError)."""
    task = DATASETS[cfg["data"]["name"]].task_for(cfg["data"])
    watched = [("regularization.early_stopping.monitor", (cfg["regularization"]["early_stopping"] or {}).get(
        "monitor")), ("schedule.monitor", cfg["schedule"].get("monitor"))]
    for key, metric in watched:
        if metric is None:
            continue
        if metric.endswith("acc") and task != "classification":
            raise ConfigError(f"{metric!r} is never measured: {cfg['data']['name']!r} is a regression data set "
                              "(use a loss)", key)
        if metric.startswith("val") and cfg["data"]["val_split"] == 0:
            raise ConfigError(f"{metric!r} is never measured with data.val_split 0; hold out a validation split "
                              "or watch a train_ metric", key)
    sched = cfg["schedule"]
    if sched["name"] == "plateau":  # also checked by the schedule itself; here the keys are named
        if sched["every"] != 1 and sched["interval"] != "step":
            raise ConfigError(f"{sched['every']} checks every N optimizer steps and needs schedule.interval: step "
                              "(per epoch, the metric is checked at every evaluated epoch)", "schedule.every")
        if sched["interval"] == "step" and sched["monitor"] == "train_acc":
            raise ConfigError("'train_acc' is not measured every N steps; with interval: step watch train_loss, "
                              "val_loss or val_acc", "schedule.monitor")
    if cfg["train"]["batch_schedule"] is not None and cfg["train"]["batch_size"] == "full":
        raise ConfigError("needs a number as train.batch_size (the size of the first epochs), not 'full'",
                          "train.batch_schedule")
    smoothing = cfg["regularization"]["label_smoothing"]
    if smoothing is not None:
        if cfg["loss"]["name"] != "cross_entropy":
            raise ConfigError(f"label smoothing needs the cross_entropy loss, not {cfg['loss']['name']!r}",
                              "regularization.label_smoothing")
        if cfg["loss"]["label_smoothing"] not in (0.0, smoothing):
            raise ConfigError(f"{smoothing} differs from loss.label_smoothing {cfg['loss']['label_smoothing']}; "
                              "set one of the two", "regularization.label_smoothing")
        cfg["loss"]["label_smoothing"] = smoothing
    loss_task = LOSSES[cfg["loss"]["name"]].task
    if loss_task != task:
        raise ConfigError(f"{cfg['loss']['name']!r} is a {loss_task} loss but data set {cfg['data']['name']!r} is "
                          f"{task}; use {'cross_entropy' if task == 'classification' else 'mse'}", "loss.name")


