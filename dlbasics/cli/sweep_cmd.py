"""`dlb sweep`: a study over grids x seeds x folds, resumable (registered on the main app)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CollectOpt,
    ExecutorOpt,
    JsonOpt,
    Output,
    QuietOpt,
    RunsDirOpt,
    SetOpt,
    executor_for,
    fail,
    terminate_as_interrupt,
    user_errors,
)
from .live import Board
from .tables import Col, FitTable, pm

METRIC_CHOICES = ("auto", "val_acc", "val_loss", "test_acc", "test_loss", "train_loss")


def sweep(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", show_default=False,
                                           help="YAML config file (its sweep: section, if any, is swept).")],
    set_: SetOpt = None,
    seeds: Annotated[int, typer.Option(help="Train every point with this many seeds (seed, seed + 1, ...).")] = 1,
    kfold: Annotated[int, typer.Option(help="Train every point (and seed) on the k folds of a cross-validation of "
                                            "the training set; metrics on the held-out folds.")] = 0,
    jobs: Annotated[int | None, typer.Option(min=1, help="Members trained at once (default: CPU cores).")] = None,
    executor: ExecutorOpt = "local",
    collect: CollectOpt = False,
    metric: Annotated[str | None, typer.Option(help="What picks the best point: val_acc, val_loss, test_acc, "
                                                    "test_loss, train_loss (default: sweep.metric, auto).")] = None,
    mode: Annotated[str | None, typer.Option(help="max or min (default: max for accuracies).")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the sweep folder (default: the config's name).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this sweep folder (default: the newest folder of the "
                                                     "same sweep in --runs-dir).", show_default=False)] = None,
    new: Annotated[bool, typer.Option("--new", help="Start a new folder even if this sweep ran before.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the members and train nothing.")] = False,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write report.html into the folder.")] = False,
) -> None:
    """Sweep a config: every point of the grid (x zip x random draws) with every seed and fold.

    Values: --set optimizer.lr=1e-4,1e-3,1e-2 --set model.hidden=[64],[128,64] (a comma splits values outside
    brackets and quotes), range(a,b[,step]), or a sweep: section in the YAML. The same command again continues
    the sweep (finished members are kept); writes runs/<stamp>-sweep-<name>-<hash6>/ with results.csv,
    points.csv (mean and 95 % t-interval per point), summary.json (the best point) and plots.
    """
    from ..config import ConfigError, load_config
    from ..config.values import split_override
    from ..experiments.sweep import check_plan, plan_sweep, run_sweep

    out = Output(quiet, json_)
    if metric is not None and metric not in METRIC_CHOICES:
        raise fail(f"--metric {metric!r}: allowed: {', '.join(METRIC_CHOICES)}", EXIT_USAGE)
    if mode is not None and mode not in ("auto", "max", "min"):
        raise fail(f"--mode {mode!r}: allowed: max, min", EXIT_USAGE)
    if resume is not None and new:
        raise fail("--resume continues a folder and --new starts one; give one of them", EXIT_USAGE)
    with user_errors(config):
        axes: dict[str, list[Any]] = {}
        plain = []
        for text in set_ or []:
            key, values = split_override(text)
            if values is None:
                plain.append(text)
            else:
                axes[key] = values
        base = load_config(config, plain)
        plan = plan_sweep(base, axes, seeds=seeds, kfold=kfold, name=name, metric=metric, mode=mode)
        if dry_run:
            _print_members(plan, out)
            return
        if resume is not None and not (resume / "sweep.yaml").is_file():
            raise ConfigError(f"--resume {resume}: not a sweep folder (no sweep.yaml)")
        terminate_as_interrupt()
        console = Console(stderr=True, quiet=not out.human)
        with executor_for(executor, jobs, collect) as ex:  # the workers boot while the members are checked
            check_plan(plan)
            console.print(f"sweep {plan.name}: {len(plan.points)} points x {seeds} seeds"
                          + (f" x {kfold} folds" if kfold else "") + f" = {len(plan.members)} members, "
                          f"{ex.jobs} parallel jobs ({executor})", highlight=False)
            try:
                with Board([], console, ex.jobs, quiet=not out.human) as board:
                    result = run_sweep(plan, runs_dir=runs_dir, executor=ex, on_done=board.on_done,
                                       on_progress=board.on_progress, on_start=board.on_start, resume=resume,
                                       new=new,
                                       command=["dlb", *sys.argv[1:]])
            except KeyboardInterrupt:
                raise fail("interrupted; running members are marked interrupted; the same command continues the "
                           "sweep", EXIT_INTERRUPTED) from None
    if result.reused:
        out.show(f"kept {result.reused} completed members from before; trained {len(result.rows) - result.reused}")
    out.show(points_table(result.points, plan.metric, plan.mode), best_line(result.summary),
             f"sweep folder: {result.path}")
    out.result({**result.summary, "points": result.points, "path": str(result.path)})
    if not no_report:
        from .report_cmd import group_report

        group_report(result.path, quiet=not out.human)
    if result.summary["status"] != "completed":
        raise typer.Exit(EXIT_FAILED)


def _print_members(plan: Any, out: Output) -> None:
    cols = [Col("#", "index"), Col("point", "values", "text"), Col("seed", "seed"), Col("fold", "fold"),
            Col("member id", "id", "id")]
    rows = [{"index": m.index, "values": m.values, "seed": m.config["seed"], "fold": m.fold, "id": m.id}
            for m in plan.members]
    out.show(FitTable(cols, rows, title=f"sweep {plan.name}: {len(plan.members)} members (dry run, nothing trains)"))
    out.result(rows)


def points_table(points: list[dict[str, Any]], metric: str, mode: str) -> FitTable:
    """Points, best first by ``metric``: n, the metric as mean ± half-width of its 95 % t-interval."""
    ranked = sorted(points, key=lambda p: (p.get(metric) is None, -(p.get(metric) or 0) if mode == "max"
                                           else (p.get(metric) or 0)))
    extra = [k for k in ("test_acc", "test_loss") if k != metric and any(p.get(k) is not None for p in points)][:1]
    cols = [Col("point", "label", "id"), Col("n", lambda p: f"{p['n']}/{p['members']}"),
            *(Col(k, lambda p, k=k: pm(p.get(k), p.get(f"{k}_low"), p.get(f"{k}_high")), priority=None if k == metric
                  else 0) for k in (metric, *extra))]
    return FitTable(cols, ranked, title=f"points by {metric} ({mode}), mean ± 95 % half-width",
                    more="all in points.csv")


def best_line(summary: dict[str, Any]) -> str:
    """``best: lr=0.001 val_acc 0.9512 [0.9480, 0.9544] (n=3); vs runner-up ...: difference ..., p ...``."""
    best = summary.get("best")
    if not best:
        return "best: none (no member completed with the metric)"
    metric = summary.get("metric")
    ci = f" [{best['low']:.4f}, {best['high']:.4f}]" if best.get("low") is not None else ""
    text = f"best: {best['label']}  {metric} {best['mean']:.4f}{ci} (n={best['n']})"
    cmp = summary.get("best_vs_runner_up") or {}
    runner = summary.get("runner_up") or {}
    if cmp.get("test"):
        verdict = "distinguishable" if cmp["distinguishable"] else "not distinguishable"
        text += (f"; vs runner-up {runner['label']}: difference {cmp['diff']:+.4f} [{cmp['low']:+.4f}, "
                 f"{cmp['high']:+.4f}], p = {cmp['p_value']:.3g} ({cmp['test']}): {verdict} at 5 %")
    elif runner:
        text += f"; runner-up {runner['label']}: {cmp.get('note', '')}"
    return text
