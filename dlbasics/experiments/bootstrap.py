"""Bootstrap confidence intervals for a finished run's test accuracy and loss, from its saved test predictions.

A run's test accuracy is one number measured on one finite test set: with 10 000 test images an accuracy of
0.98 is uncertain by about +-0.003 from the choice of test images alone. Resampling the test set with
replacement (the bootstrap) shows how much. Every completed run keeps its test-set outputs in
``test_predictions.npz`` (``outputs`` (N, K), ``targets`` (N,) or (N, D)); from them we rebuild each test
sample's correctness and loss, check that their means reproduce the run's reported test_acc / test_loss, and
resample them:

    result = bootstrap_run("runs/20240101-120000-mnist-ab12cd")
    result["metrics"]["test_acc"]  # {"estimate": 0.981, "low": 0.978, "high": 0.984, "method": "bca", ...}

This interval covers test-set sampling only: a different seed (initialisation, batches) or training set would
move the number too; for that, train several seeds and use :func:`dlbasics.stats.mean_ci`.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.losses import LOSSES
from ..runs.folder import atomic_write, json_safe
from ..stats import bootstrap_mean_ci

PREDICTIONS = "test_predictions.npz"
RESULT = "bootstrap.json"
METHODS = ("percentile", "bca")
#: how closely the mean of the rebuilt per-sample values must match the summary (relative)
MATCH_RTOL = 1e-6


def per_sample_metrics(loss_name: str, loss_params: dict[str, Any], outputs: np.ndarray,
                       targets: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """(correct, losses) per test sample: correct is a 0/1 vector (None for regression), losses a vector.

    Each mirrors the arithmetic of the loss in :mod:`dlbasics.nn.losses`, in the outputs' own dtype, so that
    their means reproduce the run's test metrics (which are means over samples, or over all elements, which
    is the same for equal-sized rows):

    - cross_entropy: -log softmax(out)[y] (with label smoothing eps: (1 - eps) nll - eps mean_k log softmax);
      correct when argmax(out) = y.
    - bce_with_logits: the row mean of max(z, 0) - z y + log(1 + e^-|z|); correct when every z > 0 matches y.
    - mse, mae, huber: the row mean of (out - y)^2, |out - y| or the Huber function.
    """
    loss = LOSSES[loss_name](**loss_params)
    out, y = outputs, targets
    if loss_name == "cross_entropy":
        n, k = out.shape
        shifted = out - out.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        eps = loss.label_smoothing
        if y.ndim == 1:
            nll = -log_probs[np.arange(n), y]
            losses = (1 - eps) * nll - eps * log_probs.mean(axis=1) if eps else nll
            labels = y
        else:
            q = (1 - eps) * y + eps / k if eps else y
            losses = -(q * log_probs).sum(axis=1)
            labels = y.argmax(axis=1)
        return (out.argmax(axis=1) == labels).astype(np.float64), losses
    if loss_name == "bce_with_logits":
        y = y.reshape(out.shape).astype(out.dtype) if y.ndim == 1 else y
        elementwise = np.maximum(out, 0) - out * y + np.log1p(np.exp(-np.abs(out)))
        return np.all((out > 0) == (y > 0.5), axis=1).astype(np.float64), elementwise.mean(axis=1)
    y = y.reshape(out.shape) if y.ndim == 1 and y.size == out.size else y
    d = out - y
    if loss_name == "mse":
        elementwise = d * d
    elif loss_name == "mae":
        elementwise = np.abs(d)
    elif loss_name == "huber":
        ad = np.abs(d)
        elementwise = np.where(ad < loss.delta, 0.5 * d * d, loss.delta * (ad - 0.5 * loss.delta))
    else:
        raise ValueError(f"no per-sample form for loss {loss_name!r}")
    return None, elementwise.reshape(len(d), -1).mean(axis=1)


def _why_no_predictions(summary: dict[str, Any]) -> str:
    status = summary.get("status")
    if status == "diverged":
        return "the run diverged, and a diverged run is not tested"
    if status != "completed":
        return f"the run is {status}; only a completed run is tested"
    if not (summary.get("data") or {}).get("n_test"):
        return "the run has no test set"
    return "the run predates saved test predictions; train it again"


def _load(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], np.ndarray, np.ndarray]:
    """(summary, config, outputs, targets) of a completed run, or a ValueError saying what is missing."""
    from ..config import ConfigError, resolve_config, yaml_io
    from ..runs.summary import read_summary

    summary = read_summary(run_dir / "summary.json")  # CorruptRunError is a ValueError
    path = run_dir / PREDICTIONS
    if not path.is_file():
        raise ValueError(f"{run_dir}: no {PREDICTIONS}: {_why_no_predictions(summary)}")
    try:
        with np.load(path, allow_pickle=False) as z:
            outputs, targets = z["outputs"], z["targets"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: unreadable ({' '.join(str(err).split())})") from None
    try:
        config = resolve_config(yaml_io.load_file(run_dir / "config.yaml"), str(run_dir / "config.yaml"))
    except ConfigError as err:  # a missing or damaged config.yaml: say which file, not a traceback
        raise ValueError(f"{run_dir / 'config.yaml'}: unreadable ({' '.join(str(err).split())})") from None
    if outputs.ndim != 2 or len(targets) != len(outputs):
        raise ValueError(f"{path}: expected outputs (N, K) and N targets, got {outputs.shape} and {targets.shape}")
    if len(outputs) < 2:
        raise ValueError(f"{path}: {len(outputs)} test sample(s); the bootstrap needs at least 2")
    if not np.all(np.isfinite(outputs)):
        raise ValueError(f"{path}: the test outputs are not all finite (the model overflowed on the test set)")
    return summary, config, outputs, targets


def _check_matches(name: str, estimate: float, reported: Any, path: Path) -> None:
    """The rebuilt mean must equal the run's reported metric: otherwise the file is not this run's."""
    if reported is None or not math.isclose(estimate, float(reported), rel_tol=MATCH_RTOL, abs_tol=1e-12):
        raise ValueError(f"{path}: the per-sample values give {name} {estimate!r}, but the run's summary says "
                         f"{reported!r}; the predictions do not belong to this run")


def bootstrap_run(run_dir: str | Path, B: int = 2000, confidence: float = 0.95, method: str = "bca",
                  seed: int = 0) -> dict[str, Any]:
    """Percentile and BCa bootstrap intervals of a completed run's test accuracy (classification) and loss.

    Loads ``test_predictions.npz`` and the run's config, rebuilds each test sample's correctness and loss
    (:func:`per_sample_metrics`), checks their means against the summary's final test_acc / test_loss
    (relative 1e-6), and resamples the N test samples B times with replacement. Every interval uses the
    same resamples (one seed), so the accuracy and loss intervals describe the same bootstrap test sets.
    ``method`` chooses the interval reported as low / high (both are kept under "percentile" and "bca").

    Writes ``bootstrap.json`` into the run folder (atomically) and returns the same dict:
    ``{"run", "run_id", "task", "loss", "n_test", "B", "confidence", "seed", "method",
    "metrics": {"test_acc": {"estimate", "low", "high", "method", "percentile": {...}, "bca": {...}},
    "test_loss": {...}}}``.

    Raises ValueError (a one-line message) for a folder without usable test predictions: an interrupted,
    failed or diverged run, a run without a test set, a run older than saved predictions, or a bad argument.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if B < 1:
        raise ValueError(f"B must be a positive number of resamples, got {B}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    run_dir = Path(run_dir)
    summary, config, outputs, targets = _load(run_dir)
    loss_cfg = config["loss"]
    loss_name = loss_cfg["name"]
    correct, losses = per_sample_metrics(loss_name, {k: v for k, v in loss_cfg.items() if k != "name"},
                                         outputs, targets)
    final = summary.get("final") or {}
    values = {"test_loss": losses.astype(np.float64)}
    if correct is not None:
        values = {"test_acc": correct, **values}
    for name, v in values.items():
        _check_matches(name, float(np.mean(v)), final.get(name), run_dir / PREDICTIONS)
    metrics: dict[str, Any] = {}
    for name, v in values.items():
        entry: dict[str, Any] = {}
        for m in METHODS:
            ci = bootstrap_mean_ci(v, B=B, rng=np.random.default_rng(seed), confidence=confidence, method=m)
            entry.setdefault("estimate", ci["estimate"])
            entry[m] = {k: ci[k] for k in ("low", "high", "z0", "acceleration") if k in ci}
        metrics[name] = {"estimate": entry["estimate"], "low": entry[method]["low"], "high": entry[method]["high"],
                         "method": method, "percentile": entry["percentile"], "bca": entry["bca"]}
    result = {"run": str(run_dir), "run_id": run_dir.name, "task": LOSSES[loss_name].task, "loss": loss_name,
              "n_test": len(outputs), "B": int(B), "confidence": float(confidence), "seed": int(seed),
              "method": method, "metrics": metrics}
    atomic_write(run_dir / RESULT, (json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n").encode())
    return result
