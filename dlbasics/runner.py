"""From a resolved config to a finished run folder: build the objects, train, test once, write everything.

    from dlbasics import load_config, train
    run = train(load_config("configs/quickstart.yaml", overrides=["optimizer.lr=0.01"]))
    run.summary["final"]["test_acc"], run.metrics  # a dict and a pandas DataFrame

The runner knows nothing of the terminal: progress display is a callback the caller passes in.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import platform
import statistics
import subprocess
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .config import ConfigError, config_hash, load_config, resolve_config, yaml_io
from .config.schema import DATA
from .data.datasets import DATASETS, Splits, load_dataset, make_splits
from .errors import describe_os_error, one_line
from .nn.losses import LOSSES, Loss
from .nn.model import LayerShapeError, Sequential
from .nn.registry import model_from_config
from .optim.groups import build_param_groups
from .optim.optimizers import OPTIMIZERS, Optimizer
from .optim.schedules import SCHEDULES, Schedule
from .rng import stream
from .runs.folder import METRIC_COLUMNS, RunFolder, atomic_write
from .signals import interrupt_message
from .train.callbacks import EarlyStopping
from .train.loop import Callback, FitSettings, History, fit, predict
from .train.regularization import Regularizer


@dataclass
class Experiment:
    """Everything a run trains with, built from a config."""

    config: dict[str, Any]
    splits: Splits
    model: Sequential
    loss: Loss
    optimizer: Optimizer
    schedule: Schedule | None

    @property
    def batch_size(self) -> int:
        bs = self.config["train"]["batch_size"]
        return len(self.splits.x_train) if bs == "full" else bs


def _kwargs(section: dict[str, Any], key: str = "name") -> dict[str, Any]:
    return {k: v for k, v in section.items() if k != key}


def _largest_batch(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config with train.batch_size the largest batch that goes forward and backward at once (what memory
    must hold): the largest of its batch-size schedule, or the diagnostics' probe batch when that is larger."""
    from .train.batch_schedule import from_config

    train = cfg["train"]
    sizes = from_config(train)
    largest = train["batch_size"] if sizes is None else max(sizes(e) for e in range(1, train["epochs"] + 1))
    if largest != "full" and train.get("diagnostics"):
        largest = max(largest, train["diagnostics_probe"])  # footprint caps both at the training set
    return cfg if largest == train["batch_size"] else {**cfg, "train": {**train, "batch_size": largest}}


def build_model(cfg: dict[str, Any], input_shape: tuple[int, ...], n_outputs: int,
                n_train: int | None = None) -> Sequential:
    """The config's model with fresh weights from the seed's "init" stream (shape errors are ConfigErrors).

    Everything is checked before the first weight is allocated: the shapes (``Sequential.plan``), and the memory
    estimate of weights, gradients, optimizer state and activations (:mod:`dlbasics.nn.footprint`) against
    ``train.max_memory`` (null: 80 % of the memory available now). ``n_train``, the training-set size, is the
    batch of ``batch_size: full``.
    """
    from .config.fields import size_bytes
    from .nn import footprint

    model = model_from_config(cfg["model"], input_shape, n_outputs)
    sequential = cfg["model"]["type"] == "sequential"
    try:
        need = footprint.from_config(_largest_batch(cfg), model, input_shape, n_train)  # shapes only
    except LayerShapeError as err:
        raise ConfigError(err.reason, f"model.layers.{err.index}" if sequential else "model") from None
    if not any(lf.plan.params for lf in need.layers):
        raise ConfigError("the model has no trainable parameters; add a dense or conv layer", "model")
    output_shape = need.layers[-1].plan.output_shape
    if output_shape != (n_outputs,):
        raise ConfigError(f"the last layer outputs {output_shape} per sample, but data set "
                          f"{cfg['data']['name']!r} needs ({n_outputs},)", "model.layers")
    max_memory = cfg["train"].get("max_memory")
    limit = size_bytes(max_memory) if max_memory is not None else footprint.default_limit()
    if limit is not None and need.total > limit:
        index, culprit = need.culprit()
        why = ("train.max_memory" if max_memory is not None
               else f"{round(100 * footprint.AVAILABLE_FRACTION)} % of available memory")
        raise ConfigError(f"the model needs about {footprint.format_bytes(need.total)} ({culprit}) but the limit is "
                          f"{footprint.format_bytes(limit)} ({why}); make it smaller or raise train.max_memory",
                          f"model.layers.{index}" if sequential else "model.hidden")
    model.build(input_shape, stream(cfg["seed"], "init"), np.dtype(cfg["train"]["dtype"]),
                noise_rng=stream(cfg["seed"], "noise"))
    return model


#: loaded data sets kept for the next run of this process (a persistent worker): None = no caching
_DATASETS: OrderedDict[str, Any] | None = None
DATASET_CACHE_SIZE = 4


def cache_datasets(on: bool = True) -> None:
    """Keep the last few loaded data sets in this process, so the runs of a sweep load each one once.

    The raw arrays are never modified by a run (splits copy them), so sharing them is safe."""
    global _DATASETS
    _DATASETS = OrderedDict() if on else None


def _dataset(cfg: dict[str, Any], progress: bool = True):
    name = cfg["data"]["name"]
    params = {k: v for k, v in cfg["data"].items() if k != "name" and k not in DATA.common}
    if _DATASETS is None:
        return load_dataset(name, stream(cfg["seed"], "data"), progress=progress, **params)
    seeded = DATASETS[name].generator is not None  # generated from the seed's "data" stream
    key = json.dumps([name, params, cfg["seed"] if seeded else None], sort_keys=True, default=str)
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(name, stream(cfg["seed"], "data"), progress=progress, **params)
        while len(_DATASETS) > DATASET_CACHE_SIZE:
            _DATASETS.popitem(last=False)
    _DATASETS.move_to_end(key)
    return _DATASETS[key]


def _n_outputs(dataset: Any, loss: Loss) -> int:
    try:
        return loss.n_outputs(dataset.n_classes) if dataset.task == "classification" else dataset.n_outputs
    except ValueError as err:
        raise ConfigError(str(err), "loss.name") from None


@dataclass
class DataShapes:
    """What a model needs to know of its data, without the data: shapes and split sizes."""

    input_shape: tuple[int, ...]
    n_outputs: int
    n_train: int
    n_val: int
    n_test: int


def _split_args(cfg: dict[str, Any]) -> dict[str, Any]:
    """The split settings and random streams of a config, as :func:`make_splits` and ``split_indices`` take them."""
    data_cfg = cfg["data"]
    folds, boot = data_cfg["fold"], data_cfg["bootstrap"]
    return {"val_split": data_cfg["val_split"], "rng": stream(cfg["seed"], "split"),
            "train_size": data_cfg["train_size"], "folds": folds,
            "fold_rngs": [stream(cfg["seed"], f"cv-{level}") for level in range(len(folds or []))],
            "bootstrap": boot["max_samples"] if boot else None,
            "bootstrap_rng": stream(cfg["seed"], f"bootstrap-{boot['index']}") if boot else None}


def _split_error(err: ValueError, cfg: dict[str, Any]) -> ConfigError:
    text = str(err)
    folds = cfg["data"]["fold"]
    key = ("data.train_size" if "training samples of" in text else "data.fold" if folds and (
        "fold" in text or "class" in text or "gap" in text or "window" in text) else "data.val_split")
    return ConfigError(text, key)


def model_inputs(cfg: dict[str, Any], progress: bool = True) -> tuple[tuple[int, ...], int]:
    """(per-sample input shape, number of outputs) of the config's model: what ``build_model`` needs (the
    splits are not made, so a ``train_size`` the data cannot give does not stop a model from being planned)."""
    facts = _data_facts(cfg, progress)
    return facts[2], facts[5]


def data_shapes(cfg: dict[str, Any], progress: bool = True) -> DataShapes:
    """The input shape, outputs and split sizes of a config's data without loading it (MNIST, Fashion-MNIST: no
    download for `dlb model`, `--dry-run`, `gradcheck`, `schedule`): a local copy's headers and training labels
    are read, of whatever size it is; with none, the data set's published counts stand in. Other data sets (built
    in, generated, your own files) are read, as they are at hand. The split sizes are exact: the same index
    arithmetic as training, on the labels."""
    from .data.datasets import split_indices

    labels, n, input_shape, n_official, ordered, n_outputs = _data_facts(cfg, progress)
    try:
        tr, va, test_idx = split_indices(n, labels, ordered, **_split_args(cfg))
    except ValueError as err:
        raise _split_error(err, cfg) from None
    return DataShapes(input_shape, n_outputs, len(tr), len(va), n_official if test_idx is None else len(test_idx))


def _data_facts(cfg: dict[str, Any], progress: bool) -> tuple[np.ndarray | None, int, tuple[int, ...], int, bool, int]:
    """(training labels or None, training samples, input shape, official test samples, ordered, model outputs),
    from the data set's metadata when it has some, else from the loaded data."""
    entry = DATASETS[cfg["data"]["name"]]
    loss = LOSSES[cfg["loss"]["name"]](**_kwargs(cfg["loss"]))
    if entry.meta is None:
        dataset = _dataset(cfg, progress)
        labels = dataset.y_train if dataset.task == "classification" else None
        return (labels, len(dataset.x_train), dataset.input_shape, len(dataset.x_test), dataset.ordered,
                _n_outputs(dataset, loss))
    from .data.datasets import local_idx_facts

    meta = entry.meta
    local = local_idx_facts(cfg["data"]["name"], cfg["data"].get("root"))
    if local is not None:  # a copy on disk, of whatever size: count it, as training will
        labels, n_test = local
    else:  # nothing here yet (it downloads on first use): the published counts; sorted, the counts are enough
        labels, n_test = np.repeat(np.arange(meta["n_classes"]), meta["train_counts"]), meta["n_test"]
    try:
        n_outputs = loss.n_outputs(meta["n_classes"])
    except ValueError as err:
        raise ConfigError(str(err), "loss.name") from None
    return labels, len(labels), tuple(meta["input_shape"]), n_test, False, n_outputs


def build(cfg: dict[str, Any], progress: bool = True) -> Experiment:
    """Load the data and build model, loss, optimizer and schedule from a resolved config."""
    dataset = _dataset(cfg, progress)
    dtype = np.dtype(cfg["train"]["dtype"])
    try:
        splits = make_splits(dataset, dtype=dtype, normalize=cfg["data"]["normalize"], **_split_args(cfg))
    except ValueError as err:
        raise _split_error(err, cfg) from None
    check_image_regularizers(cfg, dataset.input_shape)
    loss = LOSSES[cfg["loss"]["name"]](**_kwargs(cfg["loss"]))
    model = build_model(cfg, dataset.input_shape, _n_outputs(dataset, loss), n_train=len(splits.x_train))
    optimizer = build_optimizer(cfg, model)
    exp = Experiment(cfg, splits, model, loss, optimizer, None)
    exp.schedule = build_schedule(cfg, optimizer, steps_per_epoch(cfg, len(splits.x_train)), len(splits.x_train))
    return exp


@dataclass
class ScheduleOnly:
    """A config's optimizer and schedule over its model, with the training split's size: what `dlb schedule`
    traces, built from the data set's shapes (no data loaded)."""

    schedule: Schedule
    n_train: int


def build_schedule_only(cfg: dict[str, Any]) -> ScheduleOnly:
    shapes = data_shapes(cfg, progress=False)
    model = build_model(cfg, shapes.input_shape, shapes.n_outputs, n_train=shapes.n_train)
    optimizer = build_optimizer(cfg, model)
    return ScheduleOnly(build_schedule(cfg, optimizer, steps_per_epoch(cfg, shapes.n_train), shapes.n_train),
                        shapes.n_train)


def check_image_regularizers(cfg: dict[str, Any], input_shape: tuple[int, ...]) -> None:
    """Augmentation, cutout and cutmix need images; a cutout larger than the image is a mistake."""
    reg, aug = cfg["regularization"], cfg["data"]["augment"]
    wants = [k for k, on in (("data.augment", any(aug.values())), ("regularization.cutout", reg["cutout"]["size"]),
                             ("regularization.cutmix", reg["cutmix"]["alpha"])) if on]
    if wants and len(input_shape) != 3:
        raise ConfigError(f"needs image data (N, C, H, W); {cfg['data']['name']!r} has samples of shape "
                          f"{input_shape}", wants[0])
    size = reg["cutout"]["size"]
    if size and size > min(input_shape[1:]):
        raise ConfigError(f"{size} is bigger than the {input_shape[1]}x{input_shape[2]} images",
                          "regularization.cutout.size")


def build_regularizer(cfg: dict[str, Any], exp: Experiment) -> Regularizer:
    """The run's training-time regularizers, each with its own random stream from the seed."""
    seed = cfg["seed"]
    rngs = {name: stream(seed, name) for name in ("augment", "mix", "input_noise", "weight_noise")}
    return Regularizer(exp.model, cfg["regularization"], cfg["data"]["augment"], exp.loss.task,
                       exp.splits.dataset.n_classes, rngs, binary=exp.model.output_shape == (1,)
                       and exp.loss.task == "classification")


def build_optimizer(cfg: dict[str, Any], model: Sequential) -> Optimizer:
    """The config's optimizer over the model's parameter groups (per-layer overrides, no decay on biases/norms)."""
    opt_cfg = dict(_kwargs(cfg["optimizer"]))
    specs, no_decay = opt_cfg.pop("param_groups"), opt_cfg.pop("no_weight_decay")
    try:
        groups = build_param_groups(model, specs, no_decay)
    except ValueError as err:
        raise ConfigError(str(err), "optimizer") from None
    return OPTIMIZERS[cfg["optimizer"]["name"]](groups, **opt_cfg)


def steps_per_epoch(cfg: dict[str, Any], n_train: int) -> int:
    """Optimizer steps per epoch of a run with ``n_train`` training samples, as ``fit`` batches them."""
    from .train.loop import batches_per_epoch

    bs = cfg["train"]["batch_size"]
    return 1 if bs == "full" else batches_per_epoch(n_train, bs)


def steps_by_epoch(cfg: dict[str, Any], n_train: int) -> list[int]:
    """Optimizer steps of each epoch 1..train.epochs, as ``fit`` batches them: all ``steps_per_epoch`` alike,
    unless ``train.batch_schedule`` grows the batch (then fewer steps after each milestone)."""
    from .train.batch_schedule import from_config
    from .train.loop import batches_per_epoch

    sizes = from_config(cfg["train"])
    epochs = range(1, cfg["train"]["epochs"] + 1)
    if sizes is None:
        return [steps_per_epoch(cfg, n_train) for _ in epochs]
    return [batches_per_epoch(n_train, sizes(e)) for e in epochs]


def build_schedule(cfg: dict[str, Any], optimizer: Optimizer, steps_per_epoch: int,
                   n_train: int | None = None) -> Schedule:
    """The config's schedule; its length is the run's epochs, or its steps for a per-step schedule (with a
    batch-size schedule, the sum of each epoch's steps over ``n_train`` samples)."""
    name, params = cfg["schedule"]["name"], _kwargs(cfg["schedule"])
    interval = params.get("interval") or SCHEDULES[name].default_interval
    total = cfg["train"]["epochs"] * (steps_per_epoch if interval == "step" else 1)
    if interval == "step" and n_train:
        total = sum(steps_by_epoch(cfg, n_train))
    try:
        return SCHEDULES[name](optimizer, total=total, **params)
    except ValueError as err:
        raise ConfigError(str(err), "schedule") from None


class Run:
    """A run folder on disk: its config, summary, metrics and model."""

    def __init__(self, path: str | Path, last_summary: dict[str, Any] | None = None):
        self.path = Path(path)
        #: the summary as the run that just ended wrote it (None for a Run opened from disk)
        self.last_summary = last_summary

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        return yaml_io.load_file(self.path / "config.yaml")

    @property
    def summary(self) -> dict[str, Any]:
        """summary.json, read and shape-checked (CorruptRunError for a damaged one)."""
        return RunFolder(self.path).read_summary()

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def metrics(self):
        """metrics.csv as a pandas DataFrame (one row per epoch)."""
        import pandas as pd

        return pd.read_csv(self.path / "metrics.csv")

    def predict(self, x_raw: Any) -> Any:
        """Predictions for raw inputs (as the data set gives them: uint8 pixels, raw features), preprocessed as in
        training: a :class:`~dlbasics.inference.Prediction` (outputs, probabilities, labels, ``to_frame()``)."""
        from .inference import Predictor

        return Predictor.from_run(self.path).predict(x_raw)

    def load_model(self) -> Sequential:
        """The trained model: built from config.yaml, weights from model.npz."""
        data = self.summary["data"]
        model = build_model(self.config, tuple(data["input_shape"]), data["n_outputs"],
                            n_train=data.get("n_train"))  # batches were never larger than the training split
        with np.load(self.path / "model.npz", allow_pickle=False) as z:
            model.load_state_dict({k: z[k] for k in z.files})
        return model

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


class _ToFolder(Callback):
    """Appends each epoch's row to metrics.csv and refreshes summary.json."""

    def __init__(self, folder: RunFolder, summary: dict[str, Any]):
        self.folder, self.summary = folder, summary

    def on_epoch_end(self, row):
        self.folder.append_metrics(row)
        self.summary["epochs_completed"] = row["epoch"]
        self.summary["last"] = {k: v for k, v in row.items() if k not in ("epoch_time_s", "elapsed_s")}
        self.folder.write_summary(self.summary)


def test_metrics(loss: Loss, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of model outputs against targets."""
    result = {"loss": loss.forward(outputs, targets)}
    if loss.task == "classification":
        result["acc"] = loss.n_correct(outputs, targets) / len(targets)
    return result


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _versions(threads: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"dlbasics": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "blas": blas, "blas_threads": threads}


def _best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [r for r in rows if r.get("val_loss") is not None and np.isfinite(r["val_loss"])]
    if not scored:
        return None
    row = min(scored, key=lambda r: r["val_loss"])
    return {k: row[k] for k in ("epoch", "val_loss", "val_acc") if k in row}


def train(config: dict[str, Any] | str | Path, *, overrides: Sequence[str] = (), runs_dir: str | Path | None = None,
          callbacks: Sequence[Callback] = (), progress: bool = True, run_dir: str | Path | None = None,
          plots: bool = True) -> Run:
    """Train one config end to end and return its :class:`Run` (a new folder under ``runs_dir``, or ``run_dir``).

    ``config`` is a resolved config dict (from :func:`load_config`) or a path to a YAML file. Raises
    ConfigError before any work for a bad config; a diverged run returns normally with status
    "diverged"; KeyboardInterrupt is re-raised after the folder is marked "interrupted".
    ``plots=False`` skips loss.png and accuracy.png (members of a comparison, cross-validation or sweep: their
    group draws them all together, and rendering two figures would cost more than training a small member).
    """
    from .nn import parallel

    cfg = config if isinstance(config, dict) else load_config(config, overrides)
    threads = cfg["train"]["threads"]
    if run_dir is None:
        RunFolder.check_writable(runs_dir)  # fail before loading data
    with parallel.training_threads(threads):
        t0 = time.perf_counter()
        exp = build(cfg, progress=progress)
        load_s = time.perf_counter() - t0
        folder = RunFolder.create_at(run_dir) if run_dir else RunFolder.create(runs_dir, cfg["name"])
        with folder.lock("run"):
            run = _run(exp, folder, callbacks, load_s, threads, plots)
        return _evaluated(run)


def _evaluated(run: Run) -> Run:
    """``train.evaluate: true``: a completed run also gets its evaluation (RUN/evaluation/), as dlb evaluate."""
    if run.last_summary["status"] == "completed" and run.config["train"]["evaluate"]:
        from .experiments.evaluate import evaluate_run

        evaluate_run(run.path)
        run.last_summary = run.summary
    return run


def resume(run: str | Path, *, epochs: int | None = None, callbacks: Sequence[Callback] = (),
           progress: bool = True, plots: bool = True) -> Run:
    """Continue a run from its checkpoint.npz, in its own folder, to its configured epochs (or ``epochs``).

    The result is bit for bit the run that was never stopped (weights and every metrics column but times):
    the config is rebuilt from the folder's config.yaml, then the model, optimizer, schedule, early stopping
    and every random generator are restored to the end of the last checkpointed epoch. The summary's
    ``resumes`` lists each continuation. ConfigError when there is nothing to continue.
    """
    from .nn import parallel


    folder = RunFolder(run)
    with folder.lock("run"):  # not while it still trains, nor twice at once
        ckpt, old, cfg, rows = _resumable(folder, epochs)
        threads = cfg["train"]["threads"]
        with parallel.training_threads(threads):
            t0 = time.perf_counter()
            exp = build(cfg, progress=progress)
            seen = (old.get("data") or {}).get("fingerprint")
            if seen and seen != exp.splits.dataset.fingerprint:
                raise ConfigError(f"the data set changed since the run trained (fingerprint {seen}, now "
                                  f"{exp.splits.dataset.fingerprint}); train a new run on it", source=str(folder.path))
            load_s = time.perf_counter() - t0
            run = _run(exp, folder, callbacks, load_s, threads, plots, resume_from=(ckpt, old, rows))
    return _evaluated(run)


def _resumable(folder: RunFolder, epochs: int | None
               ) -> tuple[Any, dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(checkpoint, summary, config with the new epochs) of a run that can continue; ConfigError saying why not."""
    from .train.checkpoint import NAME, load

    where = str(folder.path)
    old = folder.read_summary()
    cfg = resolve_config(yaml_io.load_file(folder.path / "config.yaml"), str(folder.path / "config.yaml"))
    if epochs is not None:
        cfg["train"]["epochs"] = epochs
    path = folder.path / NAME
    if not path.is_file():
        raise ConfigError(f"no {NAME} to continue from (train.checkpoint_every was 0, or the run ended before its "
                          "first epoch)", source=where)
    try:
        ckpt = load(path)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    stopped = (old.get("early_stopping") or {}).get("stopped_epoch")
    if stopped:
        raise ConfigError(f"early stopping ended the run at epoch {stopped}: there is nothing more to train",
                          source=where)
    if old.get("status") == "diverged":
        raise ConfigError("the run diverged; continuing it would diverge again", source=where)
    if cfg["train"]["epochs"] < ckpt.epoch:
        raise ConfigError(f"train.epochs {cfg['train']['epochs']} is fewer than the {ckpt.epoch} epochs trained",
                          source=where)
    if ckpt.epoch >= cfg["train"]["epochs"] and old.get("status") == "completed":
        raise ConfigError(f"already trained {ckpt.epoch} of {cfg['train']['epochs']} epochs; train further with "
                          "--set train.epochs=N", source=where)
    try:
        rows = folder.read_metrics_rows()
    except (OSError, ValueError) as err:
        raise ConfigError(f"metrics.csv is unreadable ({one_line(err)})", source=where) from None
    if len(rows) < ckpt.epoch:
        raise ConfigError(f"metrics.csv has {len(rows)} rows, fewer than the {ckpt.epoch} epochs of checkpoint.npz",
                          source=where)
    return ckpt, old, cfg, rows


def extension_notes(cfg: dict[str, Any], planned: int) -> list[str]:
    """Why a run trained further than it planned differs from a run planned that long from the start."""
    notes = []
    sched = cfg["schedule"]
    if sched["name"] == "onecycle" or (sched["name"] == "cosine" and not sched.get("T_max")):
        notes.append(f"the {sched['name']} schedule is laid out over the run's length: over "
                     f"{cfg['train']['epochs']} epochs its course differs from the one planned for {planned}")
    if cfg["train"]["eval_every"] > 1 and planned % cfg["train"]["eval_every"]:
        notes.append(f"epoch {planned} was validated as the last one (train.eval_every {cfg['train']['eval_every']})")
    return notes


def _preprocessing(exp: Experiment) -> dict[str, Any]:
    """What turns raw inputs into what the model was trained on: saved so a model can predict on new data."""
    return exp.splits.preprocessing.to_dict()


class _Checkpoint(Callback):
    """Writes checkpoint.npz at the end of every ``every``-th epoch, of the last one, and where training stops."""

    def __init__(self, folder: RunFolder, every: int, epochs: int, parts: dict[str, Any]):
        self.folder, self.every, self.epochs, self.parts = folder, every, epochs, parts

    def on_epoch_complete(self, epoch: int) -> None:
        from .train.checkpoint import NAME, encode

        if epoch % self.every == 0 or epoch == self.epochs or self.history.stop:
            data = encode(epoch=epoch, history=self.history, **self.parts)
            atomic_write(self.folder.path / NAME, data, durable=False)


def _run(exp: Experiment, folder: RunFolder, callbacks: Sequence[Callback], load_s: float, threads: int,
         plots: bool = True, resume_from: tuple[Any, dict[str, Any], list[dict[str, Any]]] | None = None) -> Run:
    cfg, s = exp.config, exp.splits
    classify = exp.loss.task == "classification"
    summary: dict[str, Any] = {
        "status": "running", "kind": "train", "run_id": folder.run_id, "name": cfg["name"], "seed": cfg["seed"],
        "started": _now(), "finished": None, "duration_s": None,
        "epochs_planned": cfg["train"]["epochs"], "epochs_completed": 0, "steps": 0,
        "best": None, "final": None, "message": "",
        "data": {"name": s.dataset.name, "source": s.dataset.source, "task": s.dataset.task,
                 "test_set": "held-out cross-validation fold" if cfg["data"]["fold"] else "official test set",
                 "n_train": len(s.x_train), "n_val": len(s.x_val), "n_test": len(s.x_test),
                 "input_shape": list(s.dataset.input_shape), "n_outputs": int(exp.model.output_shape[0]),
                 "classes": s.dataset.classes, "features": s.dataset.features, "preprocessing": _preprocessing(exp),
                 "fingerprint": s.dataset.fingerprint},
        "model": {"parameters": exp.model.num_parameters(), "layers": len(exp.model.layers)},
        "config_hash": config_hash(cfg), "git_commit": _git_commit(), "versions": _versions(threads),
        "pid": os.getpid(),
    }
    if resume_from is not None:
        ckpt, old, _ = resume_from
        summary["started"] = old.get("started") or summary["started"]
        entry = {"at": _now(), "from_epoch": ckpt.epoch, "previous_status": old.get("status"),
                 "epochs": cfg["train"]["epochs"]}
        planned = old.get("epochs_planned")
        if planned and cfg["train"]["epochs"] > planned:
            entry["notes"] = extension_notes(cfg, planned)
        summary["resumes"] = [*(old.get("resumes") or []), entry]
    folder.write_config(cfg)
    folder.write_summary(summary)  # from here on, whatever happens, the summary's last word is not "running"
    t0 = time.perf_counter()
    history = History()
    test: dict[str, float] = {}
    ended = False
    try:
        regularizer = build_regularizer(cfg, exp)
        columns = [c for c in METRIC_COLUMNS if (classify or not c.endswith("_acc"))
                   and (regularizer.has_penalty or c != "train_penalty")
                   and (cfg["train"]["eval_train"] or not c.startswith("train_eval"))
                   and (cfg["train"]["batch_schedule"] is not None or c != "batch_size")]
        stopper = None
        if cfg["regularization"]["early_stopping"] is not None:
            stopper = EarlyStopping(exp.model, **cfg["regularization"]["early_stopping"])
        shuffle = stream(cfg["seed"], "shuffle")
        parts = {"model": exp.model, "optimizer": exp.optimizer, "schedule": exp.schedule, "stopper": stopper,
                 "rngs": {"shuffle": shuffle, **regularizer.rngs}}
        start = 1
        if resume_from is not None:
            from .train.checkpoint import restore

            start = restore(resume_from[0], history=history, rows=resume_from[2], **parts)
            if stopper is not None:
                stopper.history = history
        folder.open_metrics(columns, history.rows)  # a resumed run: the rows up to its checkpoint, no more
        every = cfg["train"]["checkpoint_every"]
        extra = [_Checkpoint(folder, every, cfg["train"]["epochs"], parts)] if every else []
        if cfg["train"]["diagnostics"]:
            extra.append(_diagnostics(exp, folder, start))
        fit(exp.model, exp.loss, exp.optimizer, s.x_train, s.y_train, settings=fit_settings(cfg, exp), rng=shuffle,
            x_val=s.x_val, y_val=s.y_val, schedule=exp.schedule, history=history, regularizer=regularizer,
            callbacks=[_ToFolder(folder, summary), *([stopper] if stopper else []), *extra, *callbacks],
            start_epoch=start)
        summary["status"] = "diverged" if history.status == "diverged" else "completed"
        summary["message"] = history.message
        if stopper is not None:
            summary["early_stopping"] = stopper.report()
        t_test = time.perf_counter()
        if summary["status"] == "completed" and len(s.x_test):  # the test set, once, after training
            with np.errstate(over="ignore", invalid="ignore"):
                outputs = predict(exp.model, s.x_test, cfg["train"]["eval_batch_size"])
                test = test_metrics(exp.loss, outputs, s.y_test)
            folder.save_arrays({"outputs": outputs, "targets": s.y_test}, "test_predictions.npz")
        summary["timing"] = {"test_s": time.perf_counter() - t_test}
        ended = True
    except KeyboardInterrupt as err:
        summary["status"], summary["message"] = "interrupted", interrupt_message(err)
        raise
    except Exception as err:
        summary["status"], summary["message"] = "failed", one_line(err)
        raise
    finally:
        _finish(exp, folder, summary, history, test, t0, load_s, raise_errors=ended, plots=plots)
    return Run(folder.path, summary)


def _diagnostics(exp: Experiment, folder: RunFolder, start: int) -> Callback:
    """``train.diagnostics``: the callback measuring a probe batch of the training split, its rows appended to
    diagnostics.csv as each epoch ends (a resumed run keeps the rows of the epochs before ``start``)."""
    from .train.diagnostics import COLUMNS, Diagnostics, probe_indices

    cfg, s = exp.config, exp.splits
    idx = probe_indices(len(s.x_train), cfg["train"]["diagnostics_probe"], stream(cfg["seed"], "diagnostics"))
    kept = [r for r in folder.read_rows("diagnostics.csv") if start > 1 and int(r["epoch"]) < start]
    (folder.path / "diagnostics.csv").unlink(missing_ok=True)
    if kept:
        folder.append_rows("diagnostics.csv", COLUMNS, kept)
    return Diagnostics(exp.model, exp.loss, s.x_train[idx], s.y_train[idx],
                       on_rows=lambda rows: folder.append_rows("diagnostics.csv", COLUMNS, rows))


def fit_settings(cfg: dict[str, Any], exp: Experiment) -> FitSettings:
    """The training loop's settings from a resolved config."""
    from .train import batch_schedule

    train, clip = cfg["train"], cfg["regularization"]["grad_clip"]
    return FitSettings(epochs=train["epochs"], batch_size=exp.batch_size, eval_batch_size=train["eval_batch_size"],
                       eval_every=train["eval_every"], eval_train=train["eval_train"],
                       flush_denormals=train["flush_denormals"], clip_norm=clip["max_norm"],
                       clip_value=clip["max_value"], divergence_threshold=train["divergence_threshold"],
                       batch_schedule=batch_schedule.from_config(train))


def _finish(exp: Experiment, folder: RunFolder, summary: dict[str, Any], history: History,
            test: dict[str, float], t0: float, load_s: float, raise_errors: bool = True, plots: bool = True) -> None:
    """Write weights, plots and the final summary, whatever ended the run.

    A file that cannot be written (a full disk, a read-only folder) makes the run "failed", with a message
    naming the file and the errno; the summary is written last, and if even that fails, its essentials are
    written over the old file in place (see ``RunFolder.write_summary``). With ``raise_errors`` the first
    such OSError is raised after the summary (otherwise an exception is already on its way).
    """
    rows = history.rows
    summary["steps"] = history.steps
    # a diverged run's last row is the epoch it broke in: not a completed epoch
    summary["epochs_completed"] = len(rows) - (summary["status"] == "diverged" and bool(rows))
    last = rows[-1] if rows else {}
    stopped = summary.get("early_stopping") or {}
    if stopped.get("restored"):  # the weights are the best epoch's: so are the final metrics
        last = rows[stopped["best_epoch"] - 1]
    final = {k: last.get(k) for k in ("epoch", "train_loss", "train_acc", "train_eval_loss", "train_eval_acc",
                                      "val_loss", "val_acc") if k in last}
    final.update({f"test_{k}": v for k, v in test.items()})
    summary["final"] = final or None
    summary["best"] = _best(rows)
    epoch_times = [r["epoch_time_s"] for r in rows]
    summary["timing"] = {"load_s": load_s, "train_s": time.perf_counter() - t0,
                         "test_s": (summary.get("timing") or {}).get("test_s"),
                         "median_epoch_s": statistics.median(epoch_times) if epoch_times else None}
    summary["finished"] = _now()
    summary["duration_s"] = load_s + time.perf_counter() - t0
    failure: OSError | None = None
    try:
        folder.save_weights(exp.model.state_dict())
        if rows and plots:
            from .plots.curves import plot_curves  # matplotlib: imported only when there is something to draw

            folder.save_figure(plot_curves(rows, "loss", title=f"{folder.run_id}: loss"), "loss.png")
            if "train_acc" in rows[0]:
                folder.save_figure(plot_curves(rows, "acc", title=f"{folder.run_id}: accuracy"), "accuracy.png")
        if exp.config["train"]["diagnostics"] and (folder.path / "diagnostics.csv").exists():
            from .plots.diagnostics import plot_diagnostics

            folder.save_figure(plot_diagnostics(folder.read_rows("diagnostics.csv"), title=folder.run_id),
                               "diagnostics.png")
    except OSError as err:
        failure = err
        if summary["status"] != "interrupted" and summary["status"] != "failed":
            summary["status"], summary["message"] = "failed", describe_os_error(err)
    try:
        folder.write_summary(summary)
    except OSError as err:
        failure = failure or err
        summary["status"] = "failed" if summary["status"] != "interrupted" else summary["status"]
    if failure is not None and raise_errors:
        raise failure
