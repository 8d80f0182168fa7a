"""`dlb bootstrap`: confidence intervals for one finished run (registered on the main app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, fail, user_errors
from .tables import Col, FitTable, num


def bootstrap(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN", show_default=False,
                                            help="A run folder (runs/<stamp>-<name>-<hash6>), or its id or a unique "
                                                 "prefix of it in the runs dir.")],
    samples: Annotated[int, typer.Option("--samples", "-B", min=100, help="Bootstrap resamples of the test set.")]
    = 2000,
    confidence: Annotated[float, typer.Option(help="Confidence level of the intervals, between 0 and 1.")] = 0.95,
    method: Annotated[Literal["bca", "percentile"], typer.Option(
        help="Interval shown: bca (bias-corrected and accelerated) or percentile; bootstrap.json has both.")]
    = "bca",
    seed: Annotated[int, typer.Option(help="Seed of the resampling (same seed: same intervals).")] = 0,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Bootstrap confidence intervals for a finished run's test accuracy and loss (resampling its test predictions).

    Rebuilds each test sample's correctness and loss from the run's test_predictions.npz, checks that they
    reproduce the reported test_acc / test_loss, resamples the test set with replacement and writes
    bootstrap.json (percentile and BCa intervals) into the run folder. The intervals cover the luck of the
    test-set draw only, not the seed or the training data.
    """
    from ..experiments.bootstrap import bootstrap_run
    from ..runs.find import resolve_run

    out = Output(quiet, json_)
    if not 0.0 < confidence < 1.0:
        raise fail(f"--confidence {confidence}: must be between 0 and 1 (e.g. 0.95)", EXIT_USAGE)
    with user_errors(run_dir):
        run_dir = resolve_run(run_dir, runs_dir)
        try:
            result = bootstrap_run(run_dir, B=samples, confidence=confidence, method=method, seed=seed)
        except ValueError as err:
            raise fail(str(err), EXIT_USAGE) from None
    path = Path(run_dir) / "bootstrap.json"
    out.show(bootstrap_table(result, confidence), f"bootstrap.json: {path}")
    out.result({**result, "path": str(path)})


def bootstrap_table(result: dict[str, Any], confidence: float) -> FitTable:
    """Per metric: the estimate and the ends of its bootstrap interval ("undefined" where it has none)."""
    rows = [{"metric": name, **m, "B": result["B"]} for name, m in result["metrics"].items()]
    return FitTable([Col("metric", "metric", "id"), Col("estimate", "estimate", fmt=num(".4f")),
                     Col("low", lambda r: _num(r["low"])), Col("high", lambda r: _num(r["high"])),
                     Col("method", "method", "id"), Col("B", "B")], rows,
                    title=f"{result['run_id']}: {confidence:.0%} intervals from {result['n_test']} test samples")


def _num(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4f}"
