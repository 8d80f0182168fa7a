"""`dlb predict RUN INPUT`: a trained run's predictions for new inputs (registered on the main app)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors


def predict(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder, its id or a unique prefix of it.",
                                        show_default=False)],
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...", help="An IDX file (.gz or raw), .npy, .npz (key x), a CSV (tabular runs), or PNG images "
                                 "(files or folders).", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="CSV to write (default: standard output).")]
    = None,
    labels: Annotated[Path | None, typer.Option(help="True labels (IDX, .npy, .npz key y, CSV) to score the "
                                                     "predictions against.", show_default=False)] = None,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Predict with a trained run: the run's own preprocessing (pixel scaling, standardisation statistics) is
    applied to the raw inputs; writes id, predicted class and class probabilities (or regression outputs).
    --quiet and --json need -o FILE (the predictions go there); --json prints {"path", "rows"} and, with
    --labels, the accuracy (or MSE and MAE)."""
    from ..data.inputs import read_inputs, read_labels
    from ..inference import InputError, Predictor
    from ..runs.folder import atomic_write
    from .main import _find_run

    output = Output(quiet, json_)
    if out is None and not output.human:
        raise fail(f"{'--quiet' if quiet else '--json'} prints no predictions: give -o FILE to write them to",
                   EXIT_USAGE)
    with user_errors(run):
        try:
            run_dir = _find_run(run, runs_dir)
            predictor = Predictor.from_run(run_dir)
            from ..runner import Run

            run_info = Run(run_dir)
            data_cfg = run_info.config["data"]
            features = (run_info.summary.get("data") or {}).get("features") or data_cfg.get("features")
            delimiter = data_cfg.get("delimiter", ",")
            x = read_inputs(inputs, predictor.input_shape, features, delimiter,
                            data_cfg.get("size") if data_cfg["name"] == "images" else None)
            prediction = predictor.predict(x)
            truth = read_labels(labels, data_cfg.get("target"), delimiter) if labels is not None else None
            if truth is not None and len(truth) != len(x):
                raise InputError(f"{labels}: {len(truth)} labels for {len(x)} inputs")
        except InputError as err:
            raise fail(str(err), EXIT_USAGE) from None
        text = prediction.to_frame().to_csv(index=False)
        if out is not None:
            atomic_write(out, text.encode())
        else:
            sys.stdout.write(text)
    where = f"written to {out}" if out is not None else "on standard output"
    line = f"{len(x)} predictions {where}"
    result: dict[str, object] = {"path": str(out) if out is not None else None, "rows": len(x)}
    if truth is not None:
        if prediction.labels is not None:
            truth = _as_indices(truth, predictor.classes)
            result["accuracy"] = float(np.mean(prediction.labels == truth))
            line += f"; accuracy {result['accuracy']:.4f} against {labels}"
        else:
            err = prediction.outputs.reshape(len(x), -1) - truth.reshape(len(x), -1).astype(float)
            result["mse"], result["mae"] = float(np.mean(err ** 2)), float(np.mean(np.abs(err)))
            line += f"; MSE {result['mse']:.6g}, MAE {result['mae']:.6g} against {labels}"
    if output.human:
        print(line, file=sys.stderr)
    output.result(result)


def _as_indices(truth: np.ndarray, classes: list[str] | None) -> np.ndarray:
    """Labels as class indices: numbers as they are, class names through the run's class list."""
    if truth.dtype.kind in "iuf":
        return truth.astype(np.int64)
    if not classes:
        raise fail(f"labels are names ({truth[0]!r}) but the run has no class names", EXIT_USAGE)
    index = {name: k for k, name in enumerate(classes)}
    unknown = [t for t in truth if t not in index]
    if unknown:
        raise fail(f"label {unknown[0]!r} is not one of the run's classes ({', '.join(classes)})", EXIT_USAGE)
    return np.array([index[t] for t in truth])

