"""Evaluating a finished run's model: the confusion matrix and what it says, or the regression errors.

    cm = confusion_matrix(y_true, y_pred, n_classes=3)   # (K, K): rows true class, columns predicted
    per_class_report(cm)["macro avg"]["f1"]             # as scikit-learn's classification_report
    most_confused(cm, top=5)                            # [{"true": 3, "pred": 5, "count": 12, "share": 0.06}, ...]
    regression_report(y, yhat)                          # {"mae", "rmse", "r2", "n"}
    evaluate_run("runs/20240101-120000-quickstart-ab12cd", split="test")  # writes RUN/evaluation/

The functions on arrays know nothing of files; :func:`evaluate_run` rebuilds the run's exact data splits from
its config (same seed, same split, same scaling), loads ``model.npz``, predicts, and writes the results
atomically into ``RUN/evaluation/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import json
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..runs.folder import RunFolder, atomic_write, json_safe

SPLITS = ("test", "val", "train")
#: the most confidently wrong images drawn in the grid
MISTAKES_SHOWN = 16
#: how closely the recomputed test loss must match the run's summary (relative); the accuracy must be equal
LOSS_RTOL = 1e-6


# ---------------------------------------------------------------- classification


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts: ``cm[i, j]`` is the number of samples of true class i predicted as class j.

    y_true, y_pred: (N,) integer classes in [0, K). Row i sums to the support of class i, column j to the
    number of predictions of j, the trace to the correct predictions.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels, y_pred {y_pred.size}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} holds classes outside 0..{n_classes - 1}")
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def class_labels(n_classes: int, names: Sequence[str] | None = None) -> list[str]:
    """The data set's class names, or "0", "1", ... when it has none."""
    return list(names) if names is not None and len(names) == n_classes else [str(k) for k in range(n_classes)]


def per_class_report(cm: np.ndarray, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Precision, recall, F1 and support of every class, with macro and weighted averages.

    For class k with tp = cm[k, k], fp = column k minus tp, fn = row k minus tp:
    precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn) (the harmonic mean of
    the two), each 0 when its denominator is 0 (scikit-learn's ``zero_division=0``). The macro average is the
    plain mean over classes, the weighted average weights each class by its support; both include every class,
    as ``classification_report(y, yhat, labels=range(K))`` does.

    Returns ``{"classes": [{"class", "precision", "recall", "f1", "support"}, ...], "accuracy",
    "macro avg": {...}, "weighted avg": {...}}`` (averages hold precision, recall, f1 and the total support).
    """
    cm = np.asarray(cm)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, predicted + support)
    names = class_labels(len(cm), class_names)
    total = int(support.sum())
    weights = support / total if total else np.full(len(cm), np.nan)
    report: dict[str, Any] = {
        "classes": [{"class": names[k], "precision": float(precision[k]), "recall": float(recall[k]),
                     "f1": float(f1[k]), "support": int(support[k])} for k in range(len(cm))],
        "accuracy": float(tp.sum() / total) if total else float("nan"),
    }
    for label, w in (("macro avg", np.full(len(cm), 1 / len(cm))), ("weighted avg", weights)):
        report[label] = {"precision": float(w @ precision), "recall": float(w @ recall), "f1": float(w @ f1),
                         "support": total}
    return report


def most_confused(cm: np.ndarray, top: int = 5, class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The ``top`` largest off-diagonal cells: true -> predicted, count and share of the true class.

    share = cm[i, j] / (row i's sum). Ordered by count, then share, then (true, pred); empty cells are left out.
    """
    cm = np.asarray(cm)
    names = class_labels(len(cm), class_names)
    support = cm.sum(axis=1)
    cells = [(int(cm[i, j]), cm[i, j] / support[i], i, j) for i, j in zip(*np.nonzero(cm))
             if i != j]
    cells.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))
    return [{"true": int(i), "pred": int(j), "true_name": names[i], "pred_name": names[j], "count": count,
             "share": float(share)} for count, share, i, j in cells[:top]]


def class_probabilities(outputs: np.ndarray, loss_name: str) -> np.ndarray:
    """(N, K) class probabilities from the model's logits (:func:`dlbasics.nn.losses.probabilities`)."""
    from ..nn.losses import probabilities

    return probabilities(outputs, loss_name)


def predicted_classes(outputs: np.ndarray, loss_name: str) -> np.ndarray:
    """(N,) predicted classes, decided exactly as the loss's ``n_correct`` decides them (argmax; z > 0)."""
    if loss_name == "bce_with_logits":
        return (outputs[:, 0] > 0).astype(np.int64)
    return outputs.argmax(axis=1)


def confident_mistakes(y_true: np.ndarray, y_pred: np.ndarray, probs: np.ndarray, top: int = MISTAKES_SHOWN
                       ) -> np.ndarray:
    """Indices of up to ``top`` wrong predictions with the highest predicted-class probability, highest first."""
    wrong = np.flatnonzero(y_true != y_pred)
    confidence = probs[wrong, y_pred[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:top]]


# ---------------------------------------------------------------- regression


def regression_report(y: np.ndarray, yhat: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE and R² of predictions ``yhat`` against targets ``y``, both (N,) or (N, D).

    MAE = mean |y - yhat| and RMSE = sqrt(mean (y - yhat)^2) over all elements; R² = 1 - SS_res / SS_tot per
    output, with SS_res = sum (y - yhat)^2 and SS_tot = sum (y - mean y)^2, averaged over outputs
    (scikit-learn's ``r2_score`` default); NaN (null in JSON) when an output's targets are all equal.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    yhat = np.asarray(yhat, dtype=np.float64).reshape(y.shape)
    residual = y - yhat
    ss_res = (residual ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1 - _ratio(ss_res, ss_tot)
    r2[ss_tot == 0] = np.nan
    return {"mae": float(np.abs(residual).mean()), "rmse": float(np.sqrt((residual ** 2).mean())),
            "r2": float(r2.mean()), "n": len(y)}


# ---------------------------------------------------------------- a run folder


def _csv(rows: Sequence[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue().encode()


def _load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(summary, resolved config) of a single run whose model can be evaluated, else a one-line ValueError."""
    from ..config import ConfigError, resolve_config, yaml_io
    from ..runs.summary import read_summary

    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder")
    summary = read_summary(run_dir / "summary.json")  # CorruptRunError (a ValueError) for a damaged one
    kind = summary.get("kind")
    if kind not in (None, "train"):
        raise ValueError(f"{run_dir}: a {kind} folder, not a single run; evaluate one of its member runs")
    if summary["status"] == "running":
        raise ValueError(f"{run_dir}: the run is still running (or was killed without a trace); evaluate it "
                         "when it has finished")
    if not (run_dir / "model.npz").is_file():
        raise ValueError(f"{run_dir}: no model.npz (status {summary['status']}); nothing to evaluate")
    try:
        config = resolve_config(yaml_io.load_file(run_dir / "config.yaml"), str(run_dir / "config.yaml"))
    except ConfigError as err:
        err.source = ""  # named once, here
        raise ValueError(f"{run_dir / 'config.yaml'}: {' '.join(str(err).split())}") from None
    return summary, config


def _load_model(run_dir: Path) -> Any:
    from ..config import ConfigError
    from ..runner import Run

    if not zipfile.is_zipfile(run_dir / "model.npz"):
        raise ValueError(f"{run_dir / 'model.npz'}: not an .npz archive (damaged?)")
    try:
        return Run(run_dir).load_model()
    except ConfigError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise ValueError(f"{run_dir / 'model.npz'}: unusable ({' '.join(str(err).split())})") from None


def _describe(cfg: dict[str, Any], split: str, n: int) -> str:
    folds = cfg["data"]["fold"]
    if split == "val":
        return f"the validation split ({n} samples held out of the training data)"
    if split == "train":
        return f"the training split ({n} samples, without augmentation or other training-time regularizers)"
    if folds:
        f = folds[-1]
        return (f"the held-out fold {f['index'] + 1} of {f['k']} ({f['strategy']} cross-validation of the training "
                f"set): this fold run's test split, not the official test set")
    return f"the official test set of {cfg['data']['name']} ({n} samples)"


def _other_test_set(name: str, exp: Any, progress: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    """Another registered data set's official test split, scaled like the run's training data (the run's
    standardisation statistics, not the other set's), checked against the run's inputs and outputs."""
    from ..config.fields import did_you_mean
    from ..data.datasets import DATASETS, load_dataset
    from ..rng import stream

    cfg, own = exp.config, exp.splits.dataset
    if name not in DATASETS:
        raise ValueError(f"--data {name}: unknown data set{did_you_mean(name, list(DATASETS))} "
                         f"(allowed: {', '.join(DATASETS)})")
    needs = [p.name for p in inspect.signature(DATASETS[name].load).parameters.values()
             if p.default is inspect.Parameter.empty and p.name not in ("rng", "progress")
             and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if needs:
        raise ValueError(f"--data {name}: needs its own config keys ({', '.join(f'data.{k}' for k in needs)}), "
                         "which --data cannot give; choose a data set that loads by its name alone")
    other = load_dataset(name, stream(cfg["seed"], "data"), progress=progress)
    if other.task != own.task:
        raise ValueError(f"--data {name}: a {other.task} data set, but the run's model does {own.task}")
    if other.input_shape != own.input_shape:
        raise ValueError(f"--data {name}: samples of shape {other.input_shape}, but the run's model takes "
                         f"{own.input_shape} ({own.name})")
    if other.n_outputs != own.n_outputs:
        what = "classes" if own.task == "classification" else "targets"
        raise ValueError(f"--data {name}: {other.n_outputs} {what}, but the run's model was trained on "
                         f"{own.n_outputs} ({own.name})")
    dtype = np.dtype(cfg["train"]["dtype"])
    x = exp.splits.preprocessing.apply(other.x_test)  # the run's own scaling and training statistics
    y = other.y_test.astype(np.int64 if other.task == "classification" else dtype)
    return x, y, other


def _compare_reported(final: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
    """The run's reported test_loss / test_acc, and whether the evaluation reproduces them (the accuracy exactly,
    the loss to a relative 1e-6)."""
    reported = {f"test_{k}": final.get(f"test_{k}") for k in metrics if final.get(f"test_{k}") is not None}
    matches = [metrics[k[5:]] == v if k == "test_acc" else math.isclose(metrics[k[5:]], v, rel_tol=LOSS_RTOL)
               for k, v in reported.items()]
    return {**reported, "matches": all(matches) if matches else None}


class _Files:
    """The files of one evaluation, in ``RUN/evaluation/``: each name gets the evaluation's suffix ("", "_val",
    "_mnist"), each write is atomic, and ``names`` lists them relative to the run folder."""

    def __init__(self, run_dir: Path, suffix: str):
        self.folder, self.suffix, self.names = RunFolder(run_dir / "evaluation"), suffix, []
        self.folder.path.mkdir(exist_ok=True)

    def write(self, name: str, payload: bytes | Any) -> str:
        """Write bytes, or a matplotlib Figure as a PNG; return the path relative to the run folder."""
        stem, ext = name.rsplit(".", 1)
        filename = f"{stem}{self.suffix}.{ext}"
        if isinstance(payload, bytes):
            atomic_write(self.folder.path / filename, payload)
        else:
            self.folder.save_figure(payload, filename)
        self.names.append(f"evaluation/{filename}")
        return self.names[-1]


def _classification(files: _Files, x: np.ndarray, y: np.ndarray, outputs: np.ndarray, loss_name: str,
                    names: list[str], top: int, title: str) -> dict[str, Any]:
    """Confusion matrix, per-class report, most-confused pairs and (images) the confident mistakes, written."""
    from ..plots.evaluate import plot_confident_mistakes, plot_confusion_matrix

    pred, probs = predicted_classes(outputs, loss_name), class_probabilities(outputs, loss_name)
    cm = confusion_matrix(y, pred, len(names))
    report = per_class_report(cm, names)
    files.write("confusion_matrix.csv", _csv([["true \\ predicted", *names],
                                              *([names[i], *map(int, row)] for i, row in enumerate(cm))]))
    files.write("per_class.csv", _csv([["class", "precision", "recall", "f1", "support"],
                                       *([r["class"], r["precision"], r["recall"], r["f1"], r["support"]]
                                         for r in report["classes"]),
                                       *([avg, *(report[avg][k] for k in ("precision", "recall", "f1", "support"))]
                                         for avg in ("macro avg", "weighted avg"))]))
    files.write("confusion_matrix.png", plot_confusion_matrix(cm, names, title=title))
    worst = confident_mistakes(y, pred, probs) if x.ndim == 4 else np.zeros(0, dtype=np.int64)
    if len(worst):  # image data with at least one mistake
        files.write("confident_mistakes.png", plot_confident_mistakes(
            x[worst], [names[i] for i in y[worst]], [names[i] for i in pred[worst]], probs[worst, pred[worst]],
            title=f"{title}: the {len(worst)} most confidently wrong predictions"))
    return {"classes": names, "confusion_matrix": cm.tolist(), "per_class": report,
            "most_confused": most_confused(cm, top, names),
            "confident_mistakes": [{"index": int(i), "true": int(y[i]), "pred": int(pred[i]),
                                    "p": float(probs[i, pred[i]])} for i in worst]}


def evaluate_run(run_dir: str | Path, split: str = "test", data: str | None = None, top: int = 5,
                 progress: bool = False) -> dict[str, Any]:
    """Evaluate a finished run's model on one split and write the results into ``RUN/evaluation/``.

    The run's data splits are rebuilt from its config.yaml (:func:`dlbasics.runner.build`: the same seed gives
    the same split and scaling; a cross-validation fold run's test split is its held-out fold), model.npz is
    loaded (an early-stopped run holds its best epoch's weights) and the split predicted in eval mode. With
    ``data``, another registered data set's official test split is used instead (same input shape and number of
    classes or targets, else ValueError), scaled with the run's own training statistics.

    Classification writes confusion_matrix.csv / .png, per_class.csv and, for images, confident_mistakes.png
    (the most confidently wrong predictions); regression writes residuals.png. evaluation.json holds every
    number and the files; summary.json gets ``"evaluation": {key: {"file": ..., "n": ..., headline metrics}}``.
    The test split's files have these plain names and key "test"; another split's get a suffix
    (``evaluation_val.json``, key "val"), another data set's too (``evaluation_mnist.json``, key "mnist:test").

    Returns the contents of evaluation.json. Raises ValueError (one line) for a folder that is not a finished
    single run, a bad split, a mismatching data set; CorruptRunError for a damaged summary.json.
    """
    run_dir = Path(run_dir)
    if split not in SPLITS:
        raise ValueError(f"--split {split}: choose one of {', '.join(SPLITS)}")
    if data is not None and split != "test":
        raise ValueError(f"--data evaluates another data set's test split; --split {split} cannot go with it")
    if top < 1:
        raise ValueError(f"--top {top}: give 1 or more")
    summary, cfg = _load_run(run_dir)

    from threadpoolctl import threadpool_limits

    from ..runner import build, test_metrics
    from ..train.loop import predict

    with threadpool_limits(limits=cfg["train"]["threads"], user_api="blas"):  # as the run was tested
        exp = build(cfg, progress=progress)
        model = _load_model(run_dir)
        s, dataset = exp.splits, exp.splits.dataset
        if data is not None:
            x, y, dataset = _other_test_set(data, exp, progress)
            description = (f"the official test set of {data} ({len(x)} samples); the model was trained on "
                           f"{cfg['data']['name']}")
        else:
            x, y = {"test": (s.x_test, s.y_test), "val": (s.x_val, s.y_val), "train": (s.x_train, s.y_train)}[split]
            description = _describe(cfg, split, len(x))
        if len(x) == 0:
            raise ValueError(f"{run_dir}: the run has no {split} split" +
                             (" (data.val_split is 0)" if split == "val" else ""))
        with np.errstate(over="ignore", invalid="ignore"):
            outputs = predict(model, x, cfg["train"]["eval_batch_size"])
            if not np.all(np.isfinite(outputs)):
                raise ValueError(f"{run_dir}: the model's outputs on the {split} split are not all finite "
                                 f"(status {summary['status']}); there is nothing meaningful to evaluate")
            metrics = test_metrics(exp.loss, outputs, y)  # what the run reported, computed the same way

    key, suffix = (split, "" if split == "test" else f"_{split}") if data is None else (f"{data}:test", f"_{data}")
    files = _Files(run_dir, suffix)
    title = f"{summary.get('name') or run_dir.name}: " + (f"{split} split" if data is None else f"{data} test set")
    result: dict[str, Any] = {
        "run_id": run_dir.name, "run_status": summary["status"], "split": split, "data": data or cfg["data"]["name"],
        "description": description, "task": exp.loss.task, "loss_function": cfg["loss"]["name"], "n": len(x),
        "evaluated": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if exp.loss.task == "classification":
        names = class_labels(dataset.n_classes, dataset.classes or s.dataset.classes)
        found = _classification(files, x, y, outputs, cfg["loss"]["name"], names, top, title)
        headline = {"loss": metrics["loss"], "accuracy": metrics["acc"],
                    "macro_f1": found["per_class"]["macro avg"]["f1"]}
    else:
        from ..plots.evaluate import plot_residuals

        report = regression_report(y, outputs)
        headline = {"loss": metrics["loss"], **{k: report[k] for k in ("mae", "rmse", "r2")}}
        r2 = "undefined" if math.isnan(report["r2"]) else f"{report['r2']:.4f}"
        files.write("residuals.png", plot_residuals(y, outputs, title=f"{title}: RMSE {report['rmse']:.4g}, R² {r2}"))
        found = {}
    result.update({"metrics": headline, **found})
    if split == "test" and data is None:  # the same model on the same test set: the run's own numbers
        result["reported"] = _compare_reported(summary.get("final") or {}, metrics)
    result["files"] = [f"evaluation/evaluation{suffix}.json", *files.names]
    atomic_write(files.folder.path / f"evaluation{suffix}.json",
                 (json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n").encode())
    run_folder = RunFolder(run_dir)
    summary = run_folder.read_summary()  # read again: keep what changed meanwhile (another split's entry)
    entries = summary.get("evaluation") if isinstance(summary.get("evaluation"), dict) else {}
    summary["evaluation"] = {**entries, key: {"file": result["files"][0], "n": len(x), **headline}}
    run_folder.write_summary(summary)
    return result
