"""The `dlb` command line: parse, call the library, print. Nothing here trains or computes by itself.

Exit codes: 0 done; 1 unexpected failure; 2 bad config or usage; 3 data unavailable; 4 run diverged;
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from .._version import __version__
from . import batch_study_cmd as batch_study_commands
from . import evaluate_cmd as evaluate_commands
from . import experiments as experiment_commands
from . import features_cmd as features_commands
from . import fit_study_cmd as fit_study_commands
from . import generalization_cmd as generalization_commands
from . import lr_find_cmd as lr_find_commands
from . import plain_help
from . import predict_cmd as predict_commands
from . import report_cmd as report_commands
from . import stats_cmd as stats_commands
from . import sweep_cmd as sweep_commands
from .common import (
    EXIT_DATA,
    EXIT_DIVERGED,
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
    fail,
    interruptible,
    terminate_as_interrupt,
    user_errors,
)
from .runs_cmd import runs_app
from .tables import Col, FitTable, num

plain_help.install()
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="dlbasics: run deep-learning-basics experiments from YAML configs.")
data_app = typer.Typer(no_args_is_help=True, help="List, locate and download data sets.")
app.add_typer(runs_app, name="runs")
app.add_typer(data_app, name="data")


def _print_version(value: bool) -> None:
    if value:
        version()
        raise typer.Exit()


@app.callback()
def _options(
    version_: Annotated[bool | None, typer.Option("--version", callback=_print_version, is_eager=True,
                                                  help="Print the versions of dlbasics, Python and NumPy.")] = None,
) -> None:
    """dlbasics: run deep-learning-basics experiments from YAML configs."""


@app.command(short_help="Train one config into a new run folder.")
def train(
    config: Annotated[Path | None, typer.Argument(metavar="CONFIG", help="YAML config file (not with --resume).",
                                                  show_default=False)] = None,
    set_: SetOpt = None,
    runs_dir: RunsDirOpt = None,
    threads: Annotated[int | None, typer.Option(
        min=1, help="Threads of the training loop (sets train.threads; default 1).")] = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, print the model table, train nothing.")] = False,
    seeds: Annotated[int, typer.Option(help="Train with this many seeds (seed, seed + 1, ...) in parallel and "
                                            "report the mean and 95 % t-interval.")] = 1,
    jobs: Annotated[int | None, typer.Option(min=1, help="With --seeds or an ensemble: runs trained at once "
                                                         "(default: CPU cores).")] = None,
    executor: ExecutorOpt = "local",
    collect: CollectOpt = False,
    resume: Annotated[Path | None, typer.Option(
        help="Continue this run (interrupted, killed or completed) from its checkpoint, bit for bit; with --set "
             "train.epochs=N, further.", show_default=False)] = None,
) -> None:
    """Train one config; the run goes to runs/<YYYYmmdd-HHMMSS>-<name>-<hash6>/.

    With --seeds N the N runs go to one folder with the mean and 95 % t-interval of each metric; a config with
    ensemble.method: bagging trains its members on bootstrap resamples and evaluates their average.
    """
    from ..config import load_config
    from ..runner import train as run_train
    from .progress import PlainProgress, RichProgress

    out = Output(quiet, json_)
    if seeds < 1:
        raise fail(f"--seeds {seeds}: give 1 or more seeds", EXIT_USAGE)
    if (config is None) == (resume is None):
        raise fail("give a CONFIG to train, or --resume RUN to continue a run (not both)", EXIT_USAGE)
    overrides = list(set_ or []) + ([f"train.threads={threads}"] if threads is not None else [])
    if resume is not None:
        if seeds > 1 or dry_run:
            raise fail("--resume continues one run: without --seeds or --dry-run", EXIT_USAGE)
        _resume(resume, overrides, runs_dir, out)
        return
    with user_errors(config):
        cfg = load_config(config, overrides)
        if dry_run:
            from ..runner import data_shapes, steps_by_epoch

            info = _model_info(cfg)
            shapes = data_shapes(cfg, progress=False)
            by_epoch = steps_by_epoch(cfg, shapes.n_train)
            steps, epochs = by_epoch[0], cfg["train"]["epochs"]
            plan = (f"{steps:,} steps per epoch x {epochs} epochs" if len(set(by_epoch)) == 1 else
                    f"{sum(by_epoch):,} steps in {epochs} epochs ({steps:,} per epoch, then fewer as the batch grows)")
            out.show(_model_table(cfg, info),
                     f"dry run: {shapes.n_train:,} training / {shapes.n_val:,} validation / {shapes.n_test:,} test "
                     f"samples, {plan}; nothing trained")
            out.result({**info, "n_train": shapes.n_train, "n_val": shapes.n_val, "n_test": shapes.n_test,
                        "steps_per_epoch": steps, "steps": sum(by_epoch), "epochs": epochs})
            return
        if seeds > 1 or cfg["ensemble"]["method"] != "none":
            from .experiments import train_many

            train_many(cfg, seeds, jobs, runs_dir, out, executor=executor, collect=collect)
            return
        show = out.human
        console = Console()
        display = (RichProgress(console) if console.is_terminal else PlainProgress()) if show else None
        terminate_as_interrupt()
        try:
            run = run_train(cfg, runs_dir=runs_dir, callbacks=[display] if display else [], progress=show)
        except KeyboardInterrupt:
            _close(display)
            raise fail("interrupted (a run folder already started keeps what was done, with status interrupted)",
                       EXIT_INTERRUPTED) from None
        finally:
            _close(display)
    summary = run.summary
    out.show(_result_line(summary, run.path))
    out.result({**summary, "path": str(run.path)})
    if summary["status"] == "diverged":
        print(f"error: run diverged: {summary['message']}", file=sys.stderr)
        raise typer.Exit(EXIT_DIVERGED)


def _resume(ref: Path, overrides: list[str], runs_dir: Path | None, out: Output) -> None:
    """`dlb train --resume RUN`: the run's own config; only train.epochs may change."""
    from ..config import ConfigError, apply_overrides, resolve_config, yaml_io
    from ..config.diff import config_diff
    from ..runner import resume
    from .progress import PlainProgress, RichProgress

    with user_errors(ref):
        run_dir = _find_run(ref, runs_dir)
        saved = yaml_io.load_file(run_dir / "config.yaml")
        changed, _ = apply_overrides(saved, overrides)
        cfg = resolve_config(changed, "--set")
        before = resolve_config(saved, str(run_dir / "config.yaml"))
        differ = [k for k in config_diff([before, cfg]) if k != "train.epochs"]
        if differ:
            raise ConfigError(f"a resumed run keeps its config; only train.epochs may change, not "
                              f"{', '.join(differ)}", source=f"--resume {ref}")
        show = out.human
        console = Console()
        display = (RichProgress(console) if console.is_terminal else PlainProgress()) if show else None
        terminate_as_interrupt()
        try:
            run = resume(run_dir, epochs=cfg["train"]["epochs"], callbacks=[display] if display else [],
                         progress=show)
        except KeyboardInterrupt:
            raise fail("interrupted (the run keeps its checkpoint; --resume continues it again)",
                       EXIT_INTERRUPTED) from None
        finally:
            _close(display)
    summary = run.summary
    for note in (summary.get("resumes") or [{}])[-1].get("notes") or []:
        print(f"note: {note}", file=sys.stderr)
    out.show(_result_line(summary, run.path))
    out.result({**summary, "path": str(run.path)})
    if summary["status"] == "diverged":
        raise typer.Exit(EXIT_DIVERGED)


def _find_run(ref: Path, runs_dir: Path | None) -> Path:
    """A run folder from a path, a bare id or a unique prefix (RunNotFound, one line, otherwise)."""
    from ..runs.find import resolve_run

    return resolve_run(ref, runs_dir)


def _close(display: Any) -> None:
    if display is not None and hasattr(display, "close"):
        display.close()


def _result_line(summary: dict[str, Any], path: Path) -> str:
    final = summary.get("final") or {}
    shown = "  ".join(f"{k} {final[k]:.4f}" for k in ("test_loss", "test_acc") if final.get(k) is not None)
    timing = summary.get("timing") or {}
    per_epoch = f", {timing['median_epoch_s']:.2f} s/epoch" if timing.get("median_epoch_s") else ""
    return (f"{summary['status']}: {summary['epochs_completed']} epochs in {summary['duration_s']:.1f} s"
            f"{per_epoch}  {shown}\nrun folder: {path}")


@app.command("config", short_help="Print the resolved config as YAML; nothing runs.")
def show_config(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    set_: SetOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print the fully resolved config (defaults filled in, overrides applied) as YAML, or as JSON with --json;
    nothing runs."""
    from ..config import load_config, yaml_io

    out = Output(json_=json_)
    with user_errors(config):
        cfg = load_config(config, list(set_ or []))
    out.show(yaml_io.dumps(cfg).rstrip())
    out.result(cfg)


def _model_info(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config's model, built as `dlb train` builds it (the same memory check, a full batch is the real
    training split), from the data set's shapes: offline, nothing loaded or downloaded for MNIST. ``layers``: one
    row per layer (index, layer, output shape per sample, params); ``parameters`` their total; ``memory_bytes``
    the estimate of what training needs."""
    from ..nn.footprint import from_config
    from ..runner import build_model, data_shapes

    shapes = data_shapes(cfg, progress=False)
    net = build_model(cfg, shapes.input_shape, shapes.n_outputs, n_train=shapes.n_train)
    return {"name": cfg["name"], "input_shape": list(shapes.input_shape),
            "layers": [{**row, "output_shape": list(row["output_shape"])} for row in net.summary()],
            "parameters": net.num_parameters(),
            "memory_bytes": from_config(cfg, net, shapes.input_shape, shapes.n_train).total,
            "runs_as": net.runs_as()}


def _model_table(cfg: dict[str, Any], info: dict[str, Any] | None = None) -> FitTable:
    """The config's model (:func:`_model_info`, unless given) as a rich table."""
    from ..nn.footprint import format_bytes

    info = info or _model_info(cfg)
    rows: list[dict[str, Any] | None] = [
        {"#": row["index"], "layer": row["layer"], "shape": f"(N, {', '.join(map(str, row['output_shape']))})",
         "params": f"{row['params']:,}"} for row in info["layers"]]
    rows += [None, {"layer": "total", "params": f"{info['parameters']:,}"},
             {"layer": "memory to train (estimate)", "params": format_bytes(info["memory_bytes"])}]
    if info.get("runs_as"):
        rows.append({"layer": "runs as: " + "; ".join(info["runs_as"])})
    return FitTable([Col("#", "#"), Col("layer", "layer", "text"), Col("output shape", "shape", "id"),
                     Col("parameters", "params")], rows,
                    title=f"{info['name']}: input (N, {', '.join(map(str, info['input_shape']))})")


@app.command(short_help="Print the config's model: layers, shapes, parameters.")
def model(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Print the config's model as a table: layer, output shape, parameters (no training). With --quiet, only
    checks that the model builds for the data's shapes (exit 2 if not)."""
    from ..config import load_config

    out = Output(quiet, json_)
    with user_errors(config):
        cfg = load_config(config, list(set_ or []))
        info = _model_info(cfg)
    out.show(_model_table(cfg, info))
    out.result(info)


@data_app.command("list", short_help="List the data sets and where each is found.")
def data_list(json_: JsonOpt = False) -> None:
    """List the registered data sets and where each is found on this machine."""
    from ..data.datasets import DATASETS, find_idx_dataset
    from ..data.download import SOURCES

    rows = []
    for name, entry in DATASETS.items():
        if name in SOURCES:
            found = find_idx_dataset(name)
            where = str(found) if found else "not found (downloaded on first use)"
        else:
            where = "your own files" if "path" in entry.section().fields else "built in"
        rows.append({"name": name, "task": entry.task, "description": entry.doc, "location": where})
    out = Output(json_=json_)
    out.show(data_sets_table(rows))
    out.result(rows)


def data_sets_table(rows: list[dict[str, str]]) -> FitTable:
    """`dlb data list`: name, task, description, location (a path whole: a word that never wraps)."""
    return FitTable([Col("name", "name", "id"), Col("task", "task", "id"), Col("description", "description", "text"),
                     Col("location", "location", "text")], rows, title="data sets")


@data_app.command("download", short_help="Download MNIST or Fashion-MNIST, checking MD5s.")
def data_download(
    name: Annotated[str, typer.Argument(metavar="NAME", help="mnist or fashion-mnist.", show_default=False)],
    root: Annotated[Path | None, typer.Option(help="Folder to put the files in (default: the cache).")] = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Download an IDX data set (MNIST, Fashion-MNIST) into the cache, checking every file's MD5.

    A copy already found where training looks (DLB_DATA_DIR, the cache, /usr/share/datasets) is not downloaded
    again: its .gz files are checked against their MD5s and the command says where it is. A damaged file in
    the cache is downloaded again; one elsewhere is an error naming it (exit 3: that folder is not ours to
    change). With --root, files there that pass their MD5 are kept.
    Ctrl-C, SIGTERM and SIGHUP stop it cleanly: the partial file is removed and the exit code is 130.
    """
    from ..config.fields import did_you_mean
    from ..data.datasets import cache_dir, find_idx_dataset
    from ..data.download import SOURCES, download_files, md5sum, mirrors_for

    out = Output(quiet, json_)
    if name not in SOURCES:
        raise fail(f"data set {name!r} is not downloadable{did_you_mean(name, list(SOURCES))} "
                   f"(allowed: {', '.join(SOURCES)})", EXIT_USAGE)
    present = find_idx_dataset(name) if root is None else None
    if present is not None:
        files = SOURCES[name]["files"]
        damaged = [f for f, md5 in files.items() if (present / f).is_file() and md5sum(present / f) != md5.lower()]
        checked = sum((present / f).is_file() for f in files)
        if not damaged:
            how = f"{checked} of {len(files)} files checked against their MD5s" + (
                "; uncompressed files are not" if checked < len(files) else "")
            out.show(f"{name}: already present at {present} ({how}; pass --root to download a copy elsewhere)")
            out.result({"name": name, "path": str(present), "already_present": True, "md5_checked": checked})
            return
        if present != cache_dir() / name:
            raise fail(f"{present / damaged[0]}: fails its MD5 check (a damaged or different file); delete it, "
                       "or pass --root to download a fresh copy elsewhere", EXIT_DATA)
        out.show(f"{name}: {', '.join(damaged)} in {present} failed the MD5 check: downloading again")
    dest = root or cache_dir() / name
    terminate_as_interrupt()
    try:
        with user_errors():
            download_files(SOURCES[name]["files"], mirrors_for(name), dest,
                           progress=out.human and Console(stderr=True).is_terminal)
    except KeyboardInterrupt:
        raise fail("interrupted; the partial download was removed (files already verified are kept)",
                   EXIT_INTERRUPTED) from None
    out.show(f"{name}: {dest}")
    out.result({"name": name, "path": str(dest), "already_present": False})


@app.command(short_help="Check backprop against finite differences (float64).")
def gradcheck(
    config: Annotated[Path | None, typer.Argument(metavar="CONFIG", help="YAML config whose model to check.",
                                                  show_default=False)] = None,
    set_: SetOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every registered layer, activation and loss.")] = False,
    batch: Annotated[int, typer.Option(min=2, help="Samples in the checked batch.")] = 8,
    coords: Annotated[int, typer.Option(min=1, help="Coordinates sampled per parameter tensor.")] = 30,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Compare backprop with central finite differences in float64; exit 1 if any gradient is off.

    Relative error ||a - n|| / (||a|| + ||n||) per tensor; tolerance 1e-7, or 1e-6 for functions with kinks
    (ReLU, max pooling, MAE, Huber), whose finite differences halve their step where it straddles a kink. A
    config's model is checked on random inputs of its data's shape: nothing is loaded or downloaded.
    """
    from ..config import load_config
    from ..experiments.checks import check_config, check_registered

    out = Output(quiet, json_)
    if (config is None) == (not all_):
        raise fail("give a CONFIG or --all (see dlb gradcheck --help)", EXIT_USAGE)
    if all_:
        rows = check_registered()
        title = "every registered layer and loss (float64, training mode)"
    else:
        with user_errors(config):
            cfg = load_config(config, list(set_ or []))
            rows = check_config(cfg, batch=batch, max_coords=coords)
        title = f"{cfg['name']}: model gradients on {batch} samples (float64, training mode)"
    failed = [r for r in rows if not r["passed"]]
    worst = max(r["error"] for r in rows)
    out.show(gradcheck_table(rows, title),
             f"{len(rows) - len(failed)}/{len(rows)} gradients within tolerance; worst {worst:.1e}")
    out.result({"rows": rows, "passed": len(rows) - len(failed), "failed": len(failed), "worst": worst})
    if failed:
        raise typer.Exit(EXIT_FAILED)


def gradcheck_table(rows: list[dict[str, Any]], title: str) -> FitTable:
    """One row per checked tensor: its relative error, the tolerance and pass / FAIL."""
    def tensor(r: dict[str, Any]) -> str:
        return r["tensor"] + (f" {tuple(r['shape'])}" if "shape" in r else "")

    def verdict(r: dict[str, Any]) -> Text:
        return Text("pass", style="green") if r["passed"] else Text("FAIL", style="red")

    return FitTable([Col("what", "name", "text"), Col("tensor", tensor, "id"),
                     Col("rel. error", "error", fmt=num(".1e")), Col("tolerance", "tolerance", fmt=num(".0e")),
                     Col("", verdict, "id")], rows, title=title)


@app.command("init-study", short_help="Initialisation study: activation and gradient histograms.")
def init_study(
    runs_dir: RunsDirOpt = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the inputs, weights and upstream gradient.")] = 0,
    layers: Annotated[int, typer.Option(min=1, help="Dense layers.")] = 5,
    width: Annotated[int, typer.Option(min=1, help="Units per layer.")] = 100,
    samples: Annotated[int, typer.Option(min=2, help="Standard-normal input samples.")] = 1000,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """The initialisation study: per-layer activation and gradient histograms for every init x activation.

    Inits: zeros, uniform(-1, 1), normal(std 1), small normal(std 0.01), xavier 1/sqrt(n) (the notes' Xavier:
    lecun_normal, N(0, 1/fan_in); Glorot's xavier_normal is the same only when fan_in = fan_out, as here), he
    (he_normal, N(0, 2/fan_in)); activations: sigmoid, tanh, relu. Writes init_study.csv (per-layer mean, std,
    fraction zero / saturated, gradient spread) and PNGs.
    """
    from ..experiments.init_study import STUDY_ACTIVATIONS, STUDY_INITS, STUDY_LEGEND, run_study, write_study
    from ..runs.folder import RunFolder

    out = Output(quiet, json_)
    rows, raw = run_study(STUDY_INITS, STUDY_ACTIVATIONS, layers, width, samples, seed)
    folder = RunFolder.create(runs_dir, "init-study")
    files = write_study(folder, rows, raw, list(STUDY_INITS), STUDY_ACTIVATIONS)
    folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "init-study", "seed": seed,
                          "layers": layers, "width": width, "samples": samples, "files": files})
    out.show(init_study_table(rows, layers), STUDY_LEGEND, f"run folder: {folder.path}")
    out.folder(folder.path, rows=rows)


def init_study_table(rows: list[dict[str, Any]], layers: int) -> FitTable:
    """Per init x activation: the activations' std from layer 1 to the last, saturated and zero fractions of the
    last layer, and its gradient's std."""
    def spread(r: dict[str, Any]) -> str:
        first = next(q for q in rows if q["init"] == r["init"] and q["activation"] == r["activation"])
        return f"{first['act_std']:.2g} -> {r['act_std']:.2g}"

    return FitTable([Col("init", "init", "id"), Col("act.", "activation", "id"), Col("std 1 -> last", spread),
                     Col("saturated", "frac_saturated", fmt=num(".0%")), Col("zero", "frac_zero", fmt=num(".0%")),
                     Col("grad std", "grad_std", fmt=num(".2g"))], [r for r in rows if r["layer"] == layers],
                    title=f"activations of layer 1 -> layer {layers}")


@app.command(short_help="Optimizers walking 2-D problems, drawn over contours.")
def playground(
    problems: Annotated[list[str] | None, typer.Argument(
        metavar="PROBLEM", show_default=False,
        help="rosenbrock, beale, saddle, ill_conditioned, regression, double_well, camel (default: all).")] = None,
    optimizers: Annotated[str, typer.Option(
        help="Comma-separated optimizers: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw, "
             "nadam, radam, adamp.")] = "sgd,momentum,nesterov,adagrad,rmsprop,adam",
    steps: Annotated[int, typer.Option(min=1, max=100_000, help="Steps of every run.")] = 500,
    lr: Annotated[str | None, typer.Option(
        help="Learning rates (default: each optimizer's own, PyTorch's): one number for every optimizer but "
             "adadelta (which has no learning rate and keeps 1), e.g. 0.05 to compare sgd and momentum on the "
             "regression; per optimizer, e.g. sgd=0.05,adam=0.1 (the others keep their defaults); or both, "
             "0.05,adam=0.1.", show_default=False)] = None,
    batch_size: Annotated[str | None, typer.Option(
        "--batch-size", help="Also walk the data-based problems (regression, double_well, camel) with mini-batch "
                             "gradients of this many samples (or several sizes, e.g. 1,16), from the same start: "
                             "<problem>_minibatch.png.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the mini-batches (the same for every optimizer).")] = 0,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """The optimizer playground: optimizers walking 2-D problems, drawn over the contours.

    Writes <problem>_trajectories.png and <problem>_loss.png into runs/<YYYYmmdd-HHMMSS>-playground-<hex6>/;
    with --batch-size also <problem>_minibatch.png: per optimizer, the mini-batch path against the full-batch one.

    playground.csv: every run's final loss, the steps it took to come within 1e-3 of the minimum, and the
    minimum it ended in.
    """
    from ..config.fields import did_you_mean
    from ..experiments.playground import PROBLEMS, STOCHASTIC, parse_lr, run_all, write_playground
    from ..optim.optimizers import OPTIMIZERS
    from ..runs.folder import RunFolder

    out = Output(quiet, json_)
    names = list(dict.fromkeys(problems or PROBLEMS))
    for name in names:
        if name not in PROBLEMS:
            raise fail(f"unknown problem {name!r}{did_you_mean(name, list(PROBLEMS))} "
                       f"(allowed: {', '.join(PROBLEMS)})", EXIT_USAGE)
    opts = list(dict.fromkeys(o.strip() for o in optimizers.split(",") if o.strip()))
    if not opts:
        raise fail(f"--optimizers is empty; give a comma-separated list of {', '.join(OPTIMIZERS)}", EXIT_USAGE)
    for opt in opts:
        if opt not in OPTIMIZERS:
            raise fail(f"unknown optimizer {opt!r}{did_you_mean(opt, list(OPTIMIZERS))} "
                       f"(allowed: {', '.join(OPTIMIZERS)})", EXIT_USAGE)
    try:
        rates = parse_lr(lr)
    except ValueError as err:
        raise fail(str(err), EXIT_USAGE) from None
    stray = [k for k in rates if k != "*" and k not in opts] if isinstance(rates, dict) else []
    if stray:
        raise fail(f"--lr names {', '.join(stray)}, which --optimizers does not run ({', '.join(opts)})", EXIT_USAGE)
    try:
        sizes = None if batch_size is None else [int(b) for b in batch_size.split(",") if b.strip()]
    except ValueError:
        raise fail(f"--batch-size {batch_size}: expected a positive integer or several, e.g. 4 or 1,16",
                   EXIT_USAGE) from None
    if sizes is not None and (not sizes or min(sizes) < 1):
        raise fail(f"--batch-size {batch_size}: batch sizes are integers >= 1, e.g. 4 or 1,16", EXIT_USAGE)
    if sizes is not None and problems and not set(names) & set(STOCHASTIC):
        raise fail(f"--batch-size: {', '.join(names)} {'has' if len(names) == 1 else 'have'} no data, only an exact "
                   f"gradient; mini-batches need one of {', '.join(STOCHASTIC)}", EXIT_USAGE)
    results, rows = run_all(names, opts, steps, rates, batch_size=sizes, seed=seed)
    with user_errors():
        folder = RunFolder.create(runs_dir, "playground")
        files = write_playground(folder, results, rows)
        folder.write_summary({"status": "completed", "run_id": folder.run_id, "kind": "playground",
                              "problems": names, "optimizers": opts, "steps": steps, "lr": rates,
                              "batch_size": sizes, "seed": seed, "files": files})
    out.show(playground_table(rows, steps), f"run folder: {folder.path}")
    out.folder(folder.path, rows=rows)


def playground_table(rows: list[dict[str, Any]], steps: int) -> FitTable:
    """Per problem x optimizer (x batch): lr, final and minimum loss, the steps to come within 1e-3 of the minimum,
    and the minimum it ended in (problems with several)."""
    def reached(r: dict[str, Any]) -> str:
        return (f"diverged at {r['diverged_step']}" if r["diverged_step"] else
                "-" if r["steps_to_target"] is None else str(r["steps_to_target"]))

    cols = [Col("problem", "problem", "id"), Col("optimizer", "optimizer", "id"),
            Col("lr", "lr", fmt=num("g")), Col("final loss", "final_loss", fmt=num(".6g")),
            Col("minimum", "min_loss", fmt=num(".6g")),
            Col("steps to target", reached, "text", justify="right")]
    if any(r.get("batch_size") for r in rows):
        cols.insert(2, Col("batch", lambda r: str(r.get("batch_size") or "full"), "id"))
    if any(r.get("end") for r in rows):
        cols.append(Col("ends in", lambda r: r.get("end") or "", "text", priority=1))
    return FitTable(cols, rows, title=f"{steps} steps; target: within 1e-3 of the minimum")


@app.command()
def version(json_: JsonOpt = False) -> None:
    """Print the versions of dlbasics, Python and NumPy."""
    import platform

    import numpy as np

    out = Output(json_=json_)
    out.show(f"dlbasics {__version__} (python {platform.python_version()}, numpy {np.__version__})")
    out.result({"dlbasics": __version__, "python": platform.python_version(), "numpy": np.__version__})


# commands defined in their own modules: (the function, its name when not the function's, its one-line summary)
for _command, _name, _summary in (
        (experiment_commands.compare, None, "Train several members side by side and compare them."),
        (experiment_commands.schedule, None, "Plot the config's learning-rate schedule; no training."),
        (experiment_commands.cv, None, "Cross-validate a config: the folds' mean and interval."),
        (sweep_commands.sweep, None, "Sweep a config over a grid of values, seeds and folds."),
        (report_commands.report, None, "Write a self-contained HTML report of run folders."),
        (predict_commands.predict, None, "Predict with a trained run on new inputs."),
        (generalization_commands.bias_variance, "bias-variance", "Bias-variance decomposition against model capacity."),
        (generalization_commands.boosting, None, "AdaBoost vs bagged stumps vs one stump on 2-D data."),
        (stats_commands.bootstrap, None, "Bootstrap confidence intervals of a run's test metrics."),
        (evaluate_commands.evaluate, None, "Evaluate a trained run: confusion and per-class metrics."),
        (lr_find_commands.lr_find, "lr-find", "Learning-rate range test: the loss against a growing lr."),
        (fit_study_commands.fit_study, "fit-study", "Under-, good and over-fitting: polynomial degree 1 / 3 / 12."),
        (batch_study_commands.batch_study, "batch-study", "Batch sizes vs generalization gap and sharpness (Keskar)."),
        (features_commands.features, None, "Draw a trained CNN's kernels and feature maps; classic filters."),
):
    app.command(_name, short_help=_summary)(_command)


for _typer in (app, runs_app, data_app):
    for _command in _typer.registered_commands:
        _command.callback = interruptible(_command.callback)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main() -> None:
    """Entry point of the `dlb` console script: usage errors are one line on stderr and exit code 2."""
    from ..runs import folder

    os.environ.setdefault("MPLBACKEND", "Agg")
    before, folder.COMMAND = folder.COMMAND, ["dlb", *sys.argv[1:]]
    try:
        sys.exit(_run_app())
    finally:
        folder.COMMAND = before  # (a caller in the same process, such as a test, gets its state back)


def _run_app() -> int:
    try:
        code = app(standalone_mode=False)
        sys.stdout.flush()
    except BrokenPipeError:  # `dlb runs list | head -1`: the reader has all it wanted; stop quietly, as Unix
        _drop_stdout()  # tools killed by SIGPIPE do (exit status 128 + 13)
        return 141
    except Exception as err:
        if not (hasattr(err, "format_message") and hasattr(err, "exit_code")):  # click's errors only
            raise
        if type(err).__name__ != "NoArgsIsHelpError":  # (that one has printed the help already)
            where = getattr(getattr(err, "ctx", None), "command_path", "dlb")
            print(f"error: {where}: {' '.join(err.format_message().split())} (see {where} --help)", file=sys.stderr)
        return err.exit_code
    return code if isinstance(code, int) else 0
