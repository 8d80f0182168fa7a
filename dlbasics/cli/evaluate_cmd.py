"""`dlb evaluate`: a finished run's model on its test (or validation, training) split (registered on the main app)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors, wrap
from .tables import Col, FitTable, num


def evaluate(
    run: Annotated[Path, typer.Argument(metavar="RUN", help="A run folder, its id or a unique prefix of it.",
                                        show_default=False)],
    data: Annotated[str | None, typer.Option(
        "--data", metavar="NAME", show_default=False,
        help="Evaluate on another registered data set's test split (same input shape and classes), e.g. mnist "
             "for a model trained on mnist-mini.")] = None,
    split: Annotated[Literal["test", "val", "train"], typer.Option(help="Which of the run's splits.")] = "test",
    top: Annotated[int, typer.Option(min=1, help="Most-confused pairs to show.")] = 5,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Evaluate a finished run's model: loss and accuracy, confusion matrix, per-class precision / recall / F1,
    the most-confused pairs and the most confidently wrong images; or MAE, RMSE, R² and residuals (regression).

    The run's splits are rebuilt from its config.yaml (same seed, same split and scaling); a cross-validation
    fold run's test split is its held-out fold. Writes RUN/evaluation/ (evaluation.json, CSVs, PNGs; another
    split's files end in _val / _train, another data set's in _NAME) and indexes it in summary.json.
    """
    from ..experiments.evaluate import evaluate_run
    from ..runs.find import resolve_run

    out = Output(quiet, json_)
    with user_errors(run):
        try:
            run = resolve_run(run, runs_dir)  # RunNotFound is a ValueError
            result = evaluate_run(run, split=split, data=data, top=top,
                                  progress=out.human and Console(stderr=True).is_terminal)
        except ValueError as err:
            raise fail(str(err), EXIT_USAGE) from None
    reported = result.get("reported") or {}
    if reported.get("matches") is False:
        said = ", ".join(f"{k} {v!r}" for k, v in reported.items() if k != "matches")
        print(f"warning: the run's summary reports {said}; this evaluation differs (was model.npz or the data "
              "replaced?)", file=sys.stderr)
    out.result({**result, "path": str(run)})
    if out.human:
        _show(run, result)


def _show(run: Path, result: dict[str, Any]) -> None:
    """The evaluation for people: the headline metrics, the per-class and most-confused tables, the files."""
    console = Console()
    print(wrap(f"{result['run_id']}: {result['description']}"))
    if result["run_status"] != "completed":
        print(f"note: the run is {result['run_status']}; these are the weights it ended with")
    metrics = result["metrics"]
    if result["task"] == "classification":
        print(wrap(f"{result['n']} samples: loss {_num(metrics['loss'], '.4f')}  accuracy {metrics['accuracy']:.4f}  "
                   f"macro F1 {metrics['macro_f1']:.4f}{_reported(result)}"))
        console.print(_per_class_table(result["per_class"]))
        pairs = result["most_confused"]
        if pairs:
            console.print(_pairs_table(pairs))
        else:
            print("no mistakes: the confusion matrix is diagonal")
    else:
        print(wrap(f"{result['n']} samples: loss {_num(metrics['loss'], '.4g')}  MAE {metrics['mae']:.4g}  "
                   f"RMSE {metrics['rmse']:.4g}  R² {_num(metrics['r2'], '.4f')}{_reported(result)}"))
    for name in result["files"]:
        print(f"wrote {run / name}")


def _reported(result: dict[str, Any]) -> str:
    """" (reproduces the run's reported test_loss, test_acc)" when it does, else nothing."""
    reported = result.get("reported") or {}
    if reported.get("matches"):
        return f" (reproduces the run's reported {', '.join(k for k in reported if k != 'matches')})"
    return ""


def _num(value: float | None, fmt: str) -> str:
    """A number in ``fmt`` (.4g when it is too large for that), "undefined" for None or NaN."""
    if value is None or value != value:
        return "undefined"
    return format(value, fmt if abs(value) < 1e4 else ".4g")


def _per_class_table(report: dict[str, Any]) -> FitTable:
    f4 = num(".4f")
    rows = [*report["classes"], None, *({**report[avg], "class": avg} for avg in ("macro avg", "weighted avg"))]
    return FitTable([Col("class", "class", "id"), Col("precision", "precision", fmt=f4),
                     Col("recall", "recall", fmt=f4), Col("F1", "f1", fmt=f4), Col("support", "support")], rows,
                    title="per class")


def _pairs_table(pairs: list[dict[str, Any]]) -> FitTable:
    return FitTable([Col("true", "true_name", "id"), Col("predicted", "pred_name", "id"), Col("count", "count"),
                     Col("share of true class", "share", fmt=num(".1%"))], pairs,
                    title=f"the {len(pairs)} most confused pairs")
