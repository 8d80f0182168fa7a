"""`dlb compare` and `dlb schedule`: commands over several runs or none (registered on the main app)."""

from __future__ import annotations

from dataclasses import replace
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
    wrap,
)
from .live import Board
from .tables import Col, FitTable, num, pm, status_text


def compare(
    configs: Annotated[list[Path], typer.Argument(
        metavar="CONFIG_OR_RUN...", show_default=False,
        help="One config (with --optimizers) or several configs; a run folder, run id or unique prefix of one joins "
             "as it is, without training again.")],
    optimizers: Annotated[str | None, typer.Option(help="Comma-separated optimizers to compare on one config, "
                                                        "e.g. sgd,momentum,nesterov,adagrad,adadelta,rmsprop,adam")]
    = None,
    lrs: Annotated[str | None, typer.Option(help="Per-optimizer learning rates, e.g. sgd=0.1,momentum=0.01 "
                                                 "(others keep their optimizer's default lr).")] = None,
    set_: SetOpt = None,
    jobs: Annotated[int | None, typer.Option(min=1, help="Members trained at once (default: CPU cores).")] = None,
    sort: Annotated[str | None, typer.Option(help="Column to sort by (default test_acc, or test_loss for "
                                                  "regression).")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the comparison folder.")] = None,
    seeds: Annotated[int, typer.Option(help="Repeat every member with this many seeds: mean, 95 % interval and "
                                            "the paired difference to the baseline.")] = 1,
    kfold: Annotated[int, typer.Option(help="Instead of seeds, run every member on k cross-validation folds "
                                            "(paired by fold, Nadeau-Bengio corrected t-test).")] = 0,
    baseline: Annotated[str | None, typer.Option(help="Member the others are compared with (default: the first).")]
    = None,
    executor: ExecutorOpt = "local",
    collect: CollectOpt = False,
    runs_dir: RunsDirOpt = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write report.html into the folder.")] = False,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Train several members side by side (same seed: same initial weights and batches) and compare them.

    Writes runs/<stamp>-compare-<name>-<hash6>/ with one run folder per member, comparison.csv and overlay
    plots of loss and accuracy against epoch and against wall-clock time. A finished run given instead of a
    config (its folder, id or a unique prefix of its id) is reused: its row and curves come from its own folder,
    which stays where it is; --set applies to the configs only. With only runs given, nothing trains.
    """
    from ..config import ConfigError, load_config
    from ..experiments.compare import (
        COLUMNS,
        check_members,
        compare,
        config_members,
        optimizer_members,
        reused_member,
    )
    from ..runs.find import RunNotFound, resolve_run

    out = Output(quiet, json_)
    overrides = list(set_ or [])
    if seeds < 1:
        raise fail(f"--seeds {seeds}: give 1 or more seeds", EXIT_USAGE)
    if kfold == 1 or kfold < 0 or (kfold and seeds > 1):
        raise fail(f"--kfold {kfold}: give k >= 2 (and not together with --seeds)", EXIT_USAGE)
    paths, reused = [], []  # configs to train, finished runs to reuse
    for arg in configs:
        if arg.is_dir():
            reused.append(arg)
        elif arg.is_file() or arg.suffix in (".yaml", ".yml"):
            paths.append(arg)
        else:
            try:
                reused.append(resolve_run(arg, runs_dir))
            except RunNotFound as err:
                raise fail(f"{arg}: no such config file, and {err}", EXIT_USAGE) from None
    if reused and (seeds > 1 or kfold):
        raise fail(f"--{'kfold' if kfold else 'seeds'} trains every member again; run folders "
                   f"({', '.join(map(str, reused))}) are reused only as single runs: give configs", EXIT_USAGE)
    with user_errors():
        olds = [str(reused_member(Path(p))[0]["name"]) for p in reused]  # finished single runs, checked now
        if optimizers is not None:
            if len(paths) != 1:
                raise fail(f"--optimizers compares optimizers on ONE config; got {len(paths)}", EXIT_USAGE)
            base = load_config(paths[0])
            names = [o.strip() for o in optimizers.split(",") if o.strip()]
            rates = _parse_lrs(lrs)
            stray = [k for k in rates if k not in names]
            if stray and names:
                raise fail(f"--lrs names {', '.join(stray)}, which --optimizers does not compare", EXIT_USAGE)
            members = optimizer_members(base, names, rates, overrides, str(paths[0]))
            label = name or f"{base['name']}-optimizers"
        else:
            if len(paths) + len(reused) < 2:
                raise fail("give two or more configs (or finished runs), or one config with --optimizers",
                           EXIT_USAGE)
            # --set applies to each file as written (set on a resolved config, optimizer.name=sgd would keep
            # Adam's filled-in betas and fail as an unknown key)
            members = config_members([(str(p), load_config(p, overrides)) for p in paths])
            label = name or "-".join([m for m, _ in members] + olds)[:60]
        if sort is not None and sort not in COLUMNS:
            raise ConfigError(f"--sort {sort!r} is not a column (one of {', '.join(COLUMNS[4:16])})")
        if baseline is not None and baseline not in dict(members):
            raise ConfigError(f"--baseline {baseline!r} is not a member (members: "
                              f"{', '.join(m for m, _ in members)})")
        terminate_as_interrupt()
        if not members:  # only finished runs: nothing trains, no worker starts
            result = compare([], name=label, runs_dir=runs_dir, sort_by=sort, reused=reused)
        else:
            with executor_for(executor, jobs, collect) as ex:  # the workers boot while the members are checked
                check_members(members, seeds=seeds, folds=kfold)
                console = Console(stderr=True, quiet=not out.human)
                kept = f" (and {len(reused)} finished run{'s' if len(reused) > 1 else ''} reused)" if reused else ""
                console.print(f"comparing {len(members)} members{kept} with {ex.jobs} parallel jobs ...",
                              highlight=False)
                try:
                    with Board([], console, ex.jobs, quiet=not out.human) as board:
                        result = compare(members, name=label, runs_dir=runs_dir, executor=ex, sort_by=sort,
                                         on_done=board.on_done, on_progress=board.on_progress,
                                 on_start=board.on_start, seeds=seeds,
                                         folds=kfold, baseline=baseline, reused=reused)
                except KeyboardInterrupt:
                    raise fail("interrupted; members that had started are marked interrupted",
                               EXIT_INTERRUPTED) from None
    if seeds > 1 or kfold:
        out.show(replicates_table(result.rows, result.sort_by, baseline or members[0][0],
                                  "folds" if kfold else "seeds"))
    else:
        out.show(comparison_table(result.rows, result.sort_by))
    out.show(f"comparison folder: {result.path}")
    out.folder(result.path, rows=result.rows)
    if not no_report:
        from .report_cmd import group_report

        group_report(result.path, quiet=not out.human)
    if any(r["status"] != "completed" for r in result.rows):
        raise typer.Exit(EXIT_FAILED)


def schedule(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="PNG file to write instead of a run folder.",
                                             show_default=False)] = None,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Plot the config's learning-rate schedule (and momentum / beta1) over the run, without training or data.

    Writes schedule.png and schedule.csv (lr and momentum per step or epoch) into a new run folder
    runs/<YYYYmmdd-HHMMSS>-schedule-<name>-<hex6>/, or only the PNG to -o FILE.
    """
    from ..config import load_config
    from ..optim.schedules import SCHEDULES, trace
    from ..plots.schedule import plot_schedule
    from ..runner import build_schedule_only, steps_by_epoch
    from ..runs.folder import RunFolder, atomic_write

    output = Output(quiet, json_)
    with user_errors(config):
        cfg = load_config(config, list(set_ or []))
        name = cfg["schedule"]["name"]
        if not SCHEDULES[name].closed_form:
            raise fail(f"{config}: schedule.name: {name} reacts to the validation metric; it has no curve "
                       "before training", EXIT_USAGE)
        exp = build_schedule_only(cfg)  # the run's exact steps per epoch (train_size, folds, batch size), offline
        per_step = exp.schedule.interval == "step"
        by_epoch = steps_by_epoch(cfg, exp.n_train) if per_step else [1]
        steps = by_epoch[0]
        seq = trace(exp.schedule, exp.schedule.total)  # epochs x steps, or the steps of a growing batch
        unit = "step" if per_step else "epoch"
        growing = len(set(by_epoch)) > 1  # train.batch_schedule: fewer steps in later epochs
        fig = plot_schedule(seq, by_epoch if growing else steps, f"{cfg['name']}: {name} schedule")
        result = {"status": "completed", "kind": "schedule", "schedule": name, "unit": unit, "steps_per_epoch": steps,
                  "lr_first": seq["lr"][0], "lr_max": max(seq["lr"]), "lr_last": seq["lr"][-1],
                  "points": len(seq["lr"])}
        if growing:
            result["steps_by_epoch"] = by_epoch
        if out is not None:
            RunFolder(out.parent).save_figure(fig, out.name)
            path = out
            result["path"] = str(out)
        else:
            folder = RunFolder.create(runs_dir, f"schedule-{cfg['name']}")
            folder.write_config(cfg)
            folder.save_figure(fig, "schedule.png")
            lines = [f"{unit},lr,momentum"] + [f"{i + 1},{lr!r},{m!r}"
                                                for i, (lr, m) in enumerate(zip(seq["lr"], seq["momentum"]))]
            atomic_write(folder.path / "schedule.csv", ("\n".join(lines) + "\n").encode())
            result = {"status": "completed", "run_id": folder.run_id, **result,
                      "files": ["config.yaml", "schedule.png", "schedule.csv"]}
            folder.write_summary(result)
            path = folder.path / "schedule.png"
            result["path"] = str(folder.path)
    output.show(f"{name}: lr {seq['lr'][0]:.4g} -> max {max(seq['lr']):.4g} -> {seq['lr'][-1]:.4g} over "
                f"{len(seq['lr'])} {unit}s; plot: {path}")
    output.result(result)


def cv(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    kfold: Annotated[int | None, typer.Option(help="Number of folds (sets cv.k).")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, kfold, stratified, holdout, timeseries, rolling or "
                                                      "nested (sets cv.strategy).")] = None,
    gap: Annotated[int | None, typer.Option(help="Time series: samples dropped between training and held-out "
                                                 "(sets cv.gap).")] = None,
    plot_folds: Annotated[bool, typer.Option("--plot-folds", help="Only draw which samples train, validate and are "
                                                                  "held out in each fold (fold_map.png); nothing "
                                                                  "trains.")] = False,
    set_: SetOpt = None,
    jobs: Annotated[int | None, typer.Option(min=1, help="Folds trained at once (default: CPU cores).")] = None,
    executor: ExecutorOpt = "local",
    collect: CollectOpt = False,
    runs_dir: RunsDirOpt = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write report.html into the folder.")] = False,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Cross-validate a config: one run per fold (in parallel), the folds' mean and 95 % t-interval.

    The held-out folds come from the training set; each fold's validation split (early stopping, plateau) and
    normalisation statistics come from its own training part; the test set is not used.
    """
    from ..config import ConfigError, load_config
    from ..experiments import cv as cvx

    out = Output(quiet, json_)
    if kfold is not None and kfold < 2:
        raise fail(f"--kfold {kfold}: cross-validation needs at least 2 folds", EXIT_USAGE)
    if gap is not None and gap < 0:
        raise fail(f"--gap {gap}: the gap is a number of samples >= 0", EXIT_USAGE)
    overrides = list(set_ or []) + [f"cv.{k}={v}" for k, v in (("k", kfold), ("strategy", strategy), ("gap", gap))
                                    if v is not None]
    typed = (("k", "kfold", kfold), ("strategy", "strategy", strategy), ("gap", "gap", gap))
    shortcuts = {f"--set cv.{k}={v}": f"--{option} {v}" for k, option, v in typed}
    with user_errors(config):
        try:
            cfg = load_config(config, overrides)
        except ConfigError as err:  # name the option the user typed, not the override it became
            err.source = shortcuts.get(err.source, err.source)
            raise
        if plot_folds:
            from .folds_cmd import plot_folds as draw_folds

            draw_folds(cfg, runs_dir, out)
            return
        terminate_as_interrupt()
        with executor_for(executor, jobs, collect) as ex:
            cvx.check(cfg)
            console = Console(stderr=True, quiet=not out.human)
            chosen = cvx.resolve_strategy(cfg, cfg["cv"]["strategy"])
            console.print(f"{chosen} cross-validation of {cfg['name']}: {cfg['cv']['k']} folds, "
                          f"{ex.jobs} parallel jobs ...", highlight=False)
            try:
                with Board([], console, ex.jobs, quiet=not out.human, held_out=True) as board:
                    result = cvx.cross_validate(cfg, runs_dir=runs_dir, executor=ex, on_done=board.on_done,
                                                on_progress=board.on_progress, on_start=board.on_start)
            except KeyboardInterrupt:
                raise fail("interrupted; folds that had started are marked interrupted", EXIT_INTERRUPTED) from None
    out.show(folds_table(result.rows, result.summary))
    for metric, st in result.summary["metrics"].items():
        if metric.startswith("test") and st.get("low") is not None:
            out.show(f"held-out {metric[5:]}: {st['mean']:.4f} ± {st['half_width']:.4f} (95 % t-interval "
                     f"[{st['low']:.4f}, {st['high']:.4f}], std {st['std']:.4f}, {st['n']} folds)")
    out.show(f"cv folder: {result.path}")
    out.folder(result.path, rows=result.rows)
    if not no_report:
        from .report_cmd import group_report

        group_report(result.path, quiet=not out.human)
    if result.summary["status"] != "completed":
        raise typer.Exit(EXIT_FAILED)


def folds_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> FitTable:
    """One row per fold and a mean row; the held-out fold plays the test set's part."""
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cols = [Col("fold", "fold"), Col("status", "status", "id", status_text), Col("train", "n_train", priority=2),
            Col("held out", "n_heldout", priority=1), Col("epochs", "epochs", priority=0),
            Col("val loss", "val_loss", fmt=cell, priority=3), Col("held-out loss", "test_loss", fmt=cell),
            Col("held-out acc", "test_acc", fmt=cell)]
    if "choice" in rows[0]:
        cols.insert(2, Col("choice", "choice", "text"))
    if not any(r.get("test_acc") is not None for r in rows):
        cols = cols[:-1]
    stats = summary["metrics"]
    mean = {"fold": "mean", **{k: stats[k]["mean"] for k in ("val_loss", "test_loss", "test_acc") if k in stats}}
    return FitTable(cols, [*rows, None, mean], title=f"{summary['strategy']} cross-validation of {summary['name']}",
                    more="every column in folds.csv, the means in summary.json")


def train_many(cfg: dict[str, Any], seeds: int, jobs: int | None, runs_dir: Path | None, out: Output,
               executor: str = "local", collect: bool = False) -> None:
    """`dlb train --seeds N` (N seeds of one config) or a bagging ensemble, run in parallel."""
    if seeds > 1 and cfg["ensemble"]["method"] != "none":
        raise fail(f"--seeds {seeds} with ensemble.method {cfg['ensemble']['method']}: the members already use "
                   "seeds seed .. seed + n_estimators - 1; run one or the other", EXIT_USAGE)
    terminate_as_interrupt()
    with executor_for(executor, jobs, collect) as ex:
        _train_many(cfg, seeds, ex, runs_dir, out)


def _train_many(cfg: dict[str, Any], seeds: int, executor: Any, runs_dir: Path | None, out: Output) -> None:
    from ..experiments.bagging import bag
    from ..experiments.compare import check_members, compare

    check_members([(cfg["name"], cfg)], seeds=seeds)
    board = Board([], Console(stderr=True), executor.jobs, quiet=not out.human)
    try:
        if cfg["ensemble"]["method"] == "bagging":
            with board:
                result = bag(cfg, runs_dir=runs_dir, executor=executor, on_done=board.on_done,
                             on_progress=board.on_progress, on_start=board.on_start)
            out.show(bagging_table(result.rows, f"bagging {cfg['name']}: {cfg['ensemble']['n_estimators']} members"),
                     f"bagging folder: {result.path}")
            out.folder(result.path, rows=result.rows)
            failed = result.summary["status"] != "completed"
        else:
            with board:
                result = compare([(cfg["name"], cfg)], name=f"seeds-{cfg['name']}", runs_dir=runs_dir,
                                 executor=executor, on_done=board.on_done, on_progress=board.on_progress,
                                 on_start=board.on_start, seeds=seeds)
            row = result.rows[0]
            out.folder(result.path, means=row)
            if out.human:
                n = row.get("completed", row["replicates"])
                for key in ("test_acc", "test_loss", "final_val_acc", "final_val_loss"):
                    if row.get(key) is not None:
                        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
                        ci = f"95 % t-interval [{low:.4f}, {high:.4f}]" if low is not None else "no interval"
                        print(wrap(f"{key}: {row[key]:.4f} ({ci} over {n} completed of {seeds} seeds)"))
                print(f"seeds folder: {result.path}")
            failed = result.rows[0]["status"] != "completed"
    except KeyboardInterrupt:
        raise fail("interrupted; runs that had started are marked interrupted", EXIT_INTERRUPTED) from None
    if failed:
        raise typer.Exit(EXIT_FAILED)


def _parse_lrs(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise fail(f"--lrs {text}: expected name=number pairs such as sgd=0.1,adam=0.001", EXIT_USAGE) from None
        if not sep or out[key.strip()] <= 0:
            raise fail(f"--lrs {text}: expected name=number pairs with positive numbers", EXIT_USAGE)
    return out


def replicates_table(rows: list[dict[str, Any]], key: str, baseline: str, kind: str) -> FitTable:
    """Members over seeds or folds: ``key`` as mean ± the half-width of its 95 % t-interval, and the paired difference
    to the baseline (the intervals' ends are in comparison.csv)."""
    test = "paired t over seeds" if kind == "seeds" else "corrected resampled t over folds"

    def difference(r: dict[str, Any]) -> str:
        if r["member"] == baseline:
            return "baseline"
        return pm(r.get("diff_vs_baseline"), r.get("diff_low"), r.get("diff_high"), sign=True)

    cols = [Col("member", "member", "id"), Col("status", "status", "text", status_text),
            Col("n", "replicates", priority=1),
            Col(key, lambda r: pm(r.get(key), r.get(f"{key}_low"), r.get(f"{key}_high"))),
            Col("difference", difference, priority=2), Col("p", "p_value", fmt=num(".3g"), priority=0)]
    return FitTable(cols, rows, title=f"{key}: mean ± 95 % half-width over {kind}; difference to {baseline} "
                                      f"({test})", caption="[low, high] of every interval in comparison.csv",
                    more="all in comparison.csv")


def comparison_table(rows: list[dict[str, Any]], sort_by: str) -> FitTable:
    """The comparison as a table, best first; a diverged or failed member is shown, not dropped. At a narrow width
    the columns left out first: duration, gap, train loss, lr, epochs, val loss, val acc, test loss."""
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cols = [Col("member", "member", "id"), Col("status", "status", "id", status_text),
            Col("lr", "lr", fmt=lambda v: f"{v:.4g}" if isinstance(v, float) else str(v), priority=3),
            Col("ep", "epochs", priority=4), Col("train loss", "final_train_loss", fmt=cell, priority=2),
            Col("val loss", "final_val_loss", fmt=cell, priority=5),
            Col("val acc", "final_val_acc", fmt=cell, priority=6),
            Col("gap", "gap", fmt=cell, priority=1), Col("test loss", "test_loss", fmt=cell, priority=7),
            Col("test acc", "test_acc", fmt=cell),
            Col("s", "duration_s", fmt=lambda v: f"{v:.2f}" if isinstance(v, float) else str(v), priority=0)]
    if not any(r.get("final_val_acc") is not None for r in rows):
        cols = [c for c in cols if not c.key.endswith("acc") and c.key != "gap"]
    elif sort_by != "test_loss":
        cols = [c for c in cols if c.key != "test_loss"]
    headline = "test_acc" if any(c.key == "test_acc" for c in cols) else "test_loss"
    cols = [replace(c, priority=None) if c.key in (sort_by, headline) else c for c in cols]
    return FitTable(cols, rows, title=f"comparison (sorted by {sort_by}; every column in comparison.csv)",
                    more="all in comparison.csv")


def bagging_table(rows: list[dict[str, Any]], title: str) -> FitTable:
    """The bagging members and their ensemble: training samples drawn, test loss and accuracy."""
    f4 = num(".4f")
    return FitTable([Col("model", "model", "id"), Col("status", "status", "id", status_text),
                     Col("train samples", "n_train"), Col("test loss", "test_loss", fmt=f4),
                     Col("test acc", "test_acc", fmt=f4)], rows, title=title)
