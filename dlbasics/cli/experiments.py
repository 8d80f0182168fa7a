"""`dlb compare` and `dlb schedule`: commands over several runs or none (registered on the main app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, RunsDirOpt, SetOpt, fail, user_errors


def compare(
    configs: Annotated[list[Path], typer.Argument(help="One config (with --optimizers) or several configs.",
                                                  show_default=False)],
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
    runs_dir: RunsDirOpt = None,
) -> None:
    """Train several members side by side (same seed: same initial weights and batches) and compare them.

    Writes runs/<stamp>-compare-<name>-<hash6>/ with one run folder per member, comparison.csv and overlay
    plots of loss and accuracy against epoch and against wall-clock time.
    """
    from ..config import ConfigError, load_config
    from ..experiments.compare import COLUMNS, check_members, compare, config_members, optimizer_members
    from ..experiments.executor import LocalProcessExecutor

    overrides = list(set_ or [])
    with user_errors():
        if optimizers is not None:
            if len(configs) != 1:
                raise fail(f"--optimizers compares optimizers on ONE config; got {len(configs)}", EXIT_USAGE)
            base = load_config(configs[0])
            members = optimizer_members(base, [o.strip() for o in optimizers.split(",") if o.strip()],
                                        _parse_lrs(lrs), overrides, str(configs[0]))
            label = name or f"{base['name']}-optimizers"
        else:
            if len(configs) < 2:
                raise fail("give two or more configs, or one config with --optimizers", EXIT_USAGE)
            members = config_members([(str(p), load_config(p)) for p in configs], overrides)
            label = name or "-".join(m for m, _ in members)[:60]
        if sort is not None and sort not in COLUMNS:
            raise ConfigError(f"--sort {sort!r} is not a column (one of {', '.join(COLUMNS[4:16])})")
        check_members(members)
        console = Console(stderr=True)
        console.print(f"comparing {len(members)} members with {jobs or 'all'} parallel jobs ...")

        def done(member: str, outcome: Any) -> None:
            final = outcome.summary.get("final") or {}
            shown = "  ".join(f"{k} {final[k]:.4f}" for k in ("test_loss", "test_acc") if final.get(k) is not None)
            console.print(f"  {member}: {outcome.status} in {outcome.seconds:.1f} s  {shown}"
                          + (f"  ({outcome.error})" if outcome.error else ""), highlight=False)

        try:
            result = compare(members, name=label, runs_dir=runs_dir, executor=LocalProcessExecutor(jobs),
                             sort_by=sort, on_done=done)
        except KeyboardInterrupt:
            raise fail("interrupted; members that had started are marked interrupted", EXIT_INTERRUPTED) from None
    Console().print(comparison_table(result.rows, result.sort_by))
    print(f"comparison folder: {result.path}")
    if any(r["status"] != "completed" for r in result.rows):
        raise typer.Exit(EXIT_FAILED)

def schedule(
    config: Annotated[Path, typer.Argument(help="YAML config file.", show_default=False)],
    set_: SetOpt = None,
    out: Annotated[Path | None, typer.Option(help="PNG to write (default: schedule-<name>.png here).")] = None,
) -> None:
    """Plot the config's learning-rate schedule (and momentum / beta1) over the run, without training."""
    from ..config import load_config
    from ..optim.schedules import SCHEDULES, trace
    from ..plots.schedule import plot_schedule
    from ..runner import build_schedule, probe_optimizer, steps_per_epoch
    from ..runs.folder import RunFolder

    with user_errors(config):
        cfg = load_config(config, list(set_ or []))
        name = cfg["schedule"]["name"]
        per_step = (cfg["schedule"]["interval"] or SCHEDULES[name].default_interval) == "step"
        steps = steps_per_epoch(cfg, _n_train(cfg)) if per_step else 1
        optimizer = probe_optimizer(cfg)
        sched = build_schedule(cfg, optimizer, steps)
        if not sched.closed_form:
            raise fail(f"{config}: schedule.name: {name} reacts to the validation metric; it has no curve "
                       "before training", 2)
        seq = trace(sched, cfg["train"]["epochs"] * steps)
    path = out or Path(f"schedule-{cfg['name']}.png")
    RunFolder(path.parent).save_figure(plot_schedule(seq, steps, f"{cfg['name']}: {name}"), path.name)
    unit = "step" if per_step else "epoch"
    print(f"{name}: lr {seq['lr'][0]:.4g} -> max {max(seq['lr']):.4g} -> {seq['lr'][-1]:.4g} over "
          f"{len(seq['lr'])} {unit}s; plot: {path}")


def _n_train(cfg: dict[str, Any]) -> int:
    """Training samples after the validation split (what one epoch iterates over)."""
    from ..data.datasets import make_splits
    from ..rng import stream
    from ..runner import _dataset

    ds = _dataset(cfg, progress=False)
    return len(make_splits(ds, cfg["data"]["val_split"], stream(cfg["seed"], "split")).x_train)


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


def comparison_table(rows: list[dict[str, Any]], sort_by: str) -> Table:
    """The comparison as a rich table, best first; a diverged or failed member is shown, not dropped."""
    table = Table(title=f"comparison (sorted by {sort_by}; every column in comparison.csv)")
    cols = [("member", "member"), ("status", "status"), ("lr", "lr"), ("ep", "epochs"),
            ("train loss", "final_train_loss"), ("val loss", "final_val_loss"), ("val acc", "final_val_acc"),
            ("gap", "gap"), ("test loss", "test_loss"), ("test acc", "test_acc"), ("s", "duration_s")]
    if not any(r.get("final_val_acc") is not None for r in rows):
        cols = [c for c in cols if not c[1].endswith("acc") and c[1] != "gap"]
    elif sort_by != "test_loss":
        cols = [c for c in cols if c[1] != "test_loss"]
    for title, _ in cols:
        table.add_column(title, justify="left" if title in ("member", "status") else "right",
                         no_wrap=title in ("member", "status"))
    for r in rows:
        cells = []
        for _, key in cols:
            v = r.get(key)
            if v is None or (isinstance(v, float) and v != v):
                cells.append("")
            elif key == "status":
                cells.append(v if v == "completed" else f"[red]{v}")
            elif isinstance(v, float):
                cells.append(f"{v:.4g}" if key in ("lr",) else f"{v:.4f}" if "loss" in key or "acc" in key
                             or key == "gap" else f"{v:.2f}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    return table
