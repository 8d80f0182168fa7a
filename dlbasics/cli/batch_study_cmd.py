"""`dlb batch-study`: one config at several batch sizes; the gap and the sharpness of each solution (registered in
main.py)."""

from __future__ import annotations

import time
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
from .tables import Col, FitTable, status_text


def batch_study(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    batch_sizes: Annotated[str, typer.Option(
        help="Comma-separated batch sizes: positive integers and 'full' (the whole training split), at least two, "
             "e.g. 16,64,256,1024,full.", show_default=False)],
    seeds: Annotated[int, typer.Option(help="Train every batch size with this many seeds (seed, seed + 1, ...): "
                                            "means and 95 % t-intervals over them.")] = 1,
    set_: SetOpt = None,
    sharpness_samples: Annotated[int, typer.Option(
        help="Training samples the sharpness is measured on: a fixed random subset, the same for every batch size "
             "of a seed (0: the whole training split).")] = 2000,
    power_iters: Annotated[int, typer.Option(help="Power iteration: Hessian-vector products at most (each costs "
                                                  "two gradients).")] = 20,
    power_tol: Annotated[float, typer.Option(help="Power iteration stops when the eigenvalue estimate changes by "
                                                  "less than this fraction.")] = 1e-3,
    fd_step: Annotated[float, typer.Option(help="r of Hv ≈ (g(θ + rv) − g(θ − rv)) / 2r, ‖v‖ = 1, in float64; "
                                                "small, so that the step crosses no ReLU kink.")] = 1e-7,
    epsilon: Annotated[float, typer.Option(help="Keskar's ε: the box |y_i| ≤ ε(|θ_i| + 1) of the "
                                                "ε-sharpness.")] = 1e-3,
    ascent_steps: Annotated[int, typer.Option(help="Projected gradient-ascent steps of the ε-sharpness.")] = 10,
    epochs_for: Annotated[str | None, typer.Option(
        help="Epochs of particular batch sizes, e.g. full=300,1024=40 (the others keep train.epochs): with the "
             "same epochs a large batch takes far fewer steps and may stop far from a minimum.",
        show_default=False)] = None,
    alphas: Annotated[int, typer.Option(help="Points of the interpolation (1 − α) θ_small + α θ_large, α in "
                                             "[−0.5, 1.5].")] = 21,
    jobs: Annotated[int | None, typer.Option(min=1, help="Runs trained at once (default: CPU cores).")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the study folder (default: the config's name).")] = None,
    executor: ExecutorOpt = "local",
    collect: CollectOpt = False,
    runs_dir: RunsDirOpt = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write report.html into the folder.")] = False,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Train one config at several batch sizes and measure how sharp each solution is (Keskar et al. 2017).

    Every batch size is trained with every seed (same seed: same initial weights and data split) into one study
    folder. Each finished run is then measured in float64, the model in eval mode (BatchNorm with its running
    statistics, dropout off), on the config's data loss without penalties: training and test loss and accuracy
    and their gap; the largest Hessian eigenvalue of the training loss by power iteration on finite-difference
    Hessian-vector products; Keskar's ε-sharpness, 100 (max f(θ + y) − f(θ)) / (1 + f(θ)) over the box
    |y_i| ≤ ε(|θ_i| + 1), by projected gradient ascent. Then the loss and accuracy along the line from the
    smallest- to the largest-batch solution of each seed. Writes batch_study.csv, sharpness.csv,
    interpolation.csv/png, sharpness.png, the members' comparison.csv and curves, and summary.json.
    """
    from ..config import load_config
    from ..experiments.batch_study import SharpnessSettings, batch_members, parse_batch_sizes, parse_epochs_for
    from ..experiments.batch_study import batch_study as run_study
    from ..experiments.compare import check_members

    out = Output(quiet, json_)
    try:
        sizes = parse_batch_sizes(batch_sizes)
        epochs = parse_epochs_for(epochs_for, sizes)
    except ValueError as err:
        raise fail(str(err), EXIT_USAGE) from None
    if seeds < 1:
        raise fail(f"--seeds {seeds}: give 1 or more seeds", EXIT_USAGE)
    if sharpness_samples < 0:
        raise fail(f"--sharpness-samples {sharpness_samples}: a number of samples >= 2, or 0 for all", EXIT_USAGE)
    settings = SharpnessSettings(samples=sharpness_samples or None, power_iters=power_iters, power_tol=power_tol,
                                 fd_step=fd_step, epsilon=epsilon, ascent_steps=ascent_steps, alphas=alphas)
    t0 = time.perf_counter()
    with user_errors(config):
        settings.check()
        # --set applies to the file as written: set on the resolved config, optimizer.name=sgd would keep Adam's
        # filled-in betas and fail as an unknown key
        cfg = load_config(config, list(set_ or []))
        members = batch_members(cfg, sizes, (), str(config), epochs)
        terminate_as_interrupt()
        with executor_for(executor, jobs, collect) as ex:
            check_members(members, seeds=seeds)
            console = Console(stderr=True, quiet=not out.human)
            console.print(f"batch-size study of {cfg['name']}: batch sizes {', '.join(map(str, sizes))} x {seeds} "
                          f"seed{'s' if seeds > 1 else ''}, {ex.jobs} parallel jobs ...", highlight=False)
            try:
                with Board([], console, ex.jobs, quiet=not out.human) as board:
                    result = run_study(cfg, sizes, seeds=seeds, source=str(config),
                                       name=name, runs_dir=runs_dir, executor=ex, settings=settings, epochs=epochs,
                                       on_done=board.on_done, on_progress=board.on_progress,
                                       on_start=board.on_start,
                                       on_measure=lambda text: console.print(text, highlight=False))
            except KeyboardInterrupt:
                raise fail("interrupted; runs that had started are marked interrupted", EXIT_INTERRUPTED) from None
    seconds = time.perf_counter() - t0
    out.show(study_table(result.rows, seeds), *verdict_lines(result.summary, result.runs, settings), *[
        f"note: {n}" for n in result.summary.get("notes") or []], f"wall time: {seconds:.1f} s",
        f"study folder: {result.path}")
    out.folder(result.path, runs=result.runs, wall_time_s=seconds)
    if not no_report:
        from .report_cmd import group_report

        group_report(result.path, quiet=not out.human)
    if any(r["status"] != "completed" for r in result.rows):
        raise typer.Exit(EXIT_FAILED)


def _number(value: float, spec: str) -> str:
    """``format(value, spec)``; a "g" format keeps its significant zeros (1.00, not 1) but no bare point."""
    if spec.endswith("g"):
        return format(value, "#" + spec).rstrip(".") if "e" not in format(value, spec) else format(value, spec)
    return format(value, spec)


def _pm(spec: str, half_spec: str, scale: float = 1.0):
    """Cells ``mean ± half-width`` of the row's 95 % t-interval of a key (times ``scale``), the mean alone
    without one."""
    def cell(key: str):
        def fmt(row: dict[str, Any]) -> str:
            mean = row.get(key)
            if mean is None:
                return ""
            low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
            text = _number(mean * scale, spec)
            return text + (f" ± {_number((high - low) / 2 * scale, half_spec)}" if low is not None and
                           high is not None else "")
        return fmt
    return cell


def study_table(rows: list[dict[str, Any]], seeds: int) -> FitTable:
    """Per batch size: optimizer steps, training loss, test accuracy (%), the gap train − test accuracy (points;
    test − train loss for regression), λ_max and the ε-sharpness (%), each mean ± the half-width of its 95 %
    t-interval over seeds; the status only when a run did not complete."""
    acc = any(r.get("test_acc") is not None for r in rows)
    g, loss, pct = _pm(".3g", ".2g"), _pm(".3g", ".1g"), _pm(".2f", ".2f", 100.0)

    def batch(r: dict[str, Any]) -> str:
        return f"full={r['batch']}" if r["batch_size"] == "full" and r.get("batch") else str(r["batch_size"])

    def steps(r: dict[str, Any]) -> str:
        return "" if r.get("steps") is None else f"{r['steps']:.0f}"

    cols = [Col("batch", batch, "id"),
            *([Col("status", "status", "text", status_text)] if any(r["status"] != "completed" for r in rows)
              else []),
            Col("steps", steps, priority=0), Col("train loss", loss("train_loss"), priority=1),
            *([Col("test acc %", pct("test_acc"), priority=2), Col("gap %", pct("gap_acc"))] if acc else
              [Col("test loss", loss("test_loss"), priority=2), Col("gap", loss("gap_loss"))]),
            Col("λ_max", g("lambda_max")), Col("ε-sharp. %", g("eps_sharpness"))]
    over = f"mean ± 95 % half-width over {seeds} seeds" if seeds > 1 else "one seed: no intervals"
    gap = "gap = train − test accuracy (points)" if acc else "gap = test − train loss"
    return FitTable(cols, rows, title=f"batch-size study: {over}",
                    caption=f"{gap}; [low, high] in batch_study.csv, every run in sharpness.csv",
                    more="all in batch_study.csv")


def verdict_lines(summary: dict[str, Any], runs: list[dict[str, Any]], settings: Any) -> list[str]:
    """Whether the largest batch came out sharper than the smallest (paired by seed), and how it was measured."""
    v = summary.get("larger_vs_smallest") or {}
    lines = []
    done = [r for r in runs if r["status"] == "completed"]
    if done:
        n = done[0].get("sharpness_samples")
        conv = sum(bool(r.get("power_converged")) for r in done)
        others = f" (the others stopped at {settings.power_iters} products)" if conv < len(done) else ""
        lines.append(f"sharpness on {n} of {done[0].get('n_train')} training samples (float64, eval mode); power "
                     f"iteration met tolerance {settings.power_tol:g} in {conv} of {len(done)} runs{others}; "
                     f"ε = {settings.epsilon:g}, {settings.ascent_steps} ascent steps")
    for entry in v.get("against_smallest") or []:
        parts = []
        for key, label, scale, unit in (("lambda_max", "λ_max", 1, ""), ("eps_sharpness", "ε-sharpness", 1, " %"),
                                        ("gap_acc", "accuracy gap", 100, " points")):
            d = entry.get(key)
            if d is None:
                continue
            text = f"{label} {d['diff'] * scale:+.3g}{unit}"
            if d.get("low") is not None:
                text += f" [{d['low'] * scale:+.3g}, {d['high'] * scale:+.3g}], p = {d['p_value']:.2g}"
            parts.append(text)
        if not parts:
            continue
        line = f"batch {entry['batch_size']} minus batch {v['smallest']} (paired by seed): {'; '.join(parts)}"
        if "answer" in entry:
            line += f"; sharper: {entry['answer']}"
        if entry.get("comparable") is False:
            what = (f"training accuracy {100 * entry['train_acc']:.1f} % vs {100 * entry['smallest_train_acc']:.1f} %"
                    if entry.get("train_acc") is not None else
                    f"training loss {entry['train_loss']:.3g} vs {entry['smallest_train_loss']:.3g}")
            line += (f" (not comparable: {what}, not a minimum like the other; give it more epochs with "
                     f"--epochs-for {entry['batch_size']}=N)")
        lines.append(line)
    if "answer" in v:
        fair = "" if v.get("comparable") is not False else " (but its solution is not a comparable minimum)"
        lines.append(f"largest batch ({v['largest']}) sharper than the smallest ({v['smallest']}) here, as Keskar et "
                     f"al. report: {v['answer']}{fair}")
    return lines
