"""`dlb lr-find`: the learning-rate range test of a config (registered in main.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .common import EXIT_USAGE, JsonOpt, Output, QuietOpt, RunsDirOpt, SetOpt, fail, user_errors
from .tables import Col, FitTable, num


def lr_find(
    config: Annotated[Path, typer.Argument(metavar="CONFIG", help="YAML config file.", show_default=False)],
    start: Annotated[float, typer.Option(help="First learning rate.")] = 1e-7,
    end: Annotated[float, typer.Option(help="Last learning rate (reached at the last step).")] = 10.0,
    steps: Annotated[int, typer.Option(min=2, max=10_000, help="Mini-batches at most; the lr grows by the same "
                                                               "factor at each.")] = 100,
    stop_factor: Annotated[float, typer.Option(help="Stop when the smoothed loss exceeds this many times its "
                                                    "minimum.")] = 4.0,
    beta: Annotated[float, typer.Option(help="Smoothing of the loss (0.98 averages over ~50 steps: with few steps the "
                                             "curve lags the batch losses; 0 = no smoothing).")] = 0.98,
    suggestion: Annotated[str, typer.Option(help="The suggestion --apply writes and the table heads with: valley, "
                                                 "steep or minimum.")] = "valley",
    apply: Annotated[bool, typer.Option("--apply", help="Write a copy of CONFIG with the suggested lr next to it "
                                                        "(<name>.lr.yaml, never over an existing file).")] = False,
    set_: SetOpt = None,
    runs_dir: RunsDirOpt = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """The learning-rate range test (Smith 2017): how 1cycle's maximum learning rate is chosen.

    From the config's initial weights, train at most --steps mini-batches while the lr grows exponentially from
    --start to --end; stop when the smoothed loss (moving average with bias correction, --beta 0.98) exceeds
    --stop-factor times its minimum. Suggestions: valley (fastai's default: half-way down the longest falling
    stretch), steep (the steepest fall per log lr) and minimum (the lowest loss's lr / 10). Writes lr_find.csv
    (step, lr, loss, smoothed) and lr_find.png into runs/<stamp>-lr-find-<name>-<hex6>/; the suggestion goes into
    optimizer.lr, or schedule.max_lr for a onecycle schedule that sets one. Nothing of the test is kept in the
    weights.
    """
    from ..config import apply_overrides, load_config, yaml_io
    from ..experiments.lr_find import SUGGESTIONS, applied_config, lr_key
    from ..experiments.lr_find import lr_find as run_lr_find
    from ..plots.lr_find import plot_lr_find
    from ..runs.folder import RunFolder, atomic_write

    out = Output(quiet, json_)
    if suggestion not in SUGGESTIONS:
        raise fail(f"--suggestion {suggestion!r}: one of {', '.join(SUGGESTIONS)}", EXIT_USAGE)
    if not 0 < start < end < math.inf:
        raise fail(f"--start {start:g} --end {end:g}: the lr range needs 0 < start < end", EXIT_USAGE)
    if not 0 <= beta < 1:
        raise fail(f"--beta {beta:g}: must be in [0, 1)", EXIT_USAGE)
    if not 1 < stop_factor < math.inf:
        raise fail(f"--stop-factor {stop_factor:g}: must be a number > 1", EXIT_USAGE)
    overrides = list(set_ or [])
    with user_errors(config):
        cfg = load_config(config, overrides)
        Console(stderr=True, quiet=not out.human).print(
            f"lr-find: {cfg['name']}, lr {start:g} -> {end:g} over at most {steps} steps ...", highlight=False)
        try:
            result = run_lr_find(cfg, start=start, end=end, steps=steps, stop_factor=stop_factor, beta=beta,
                                 progress=out.human)
        except ValueError as err:
            raise fail(f"{config}: {err}", EXIT_USAGE) from None
        key = lr_key(cfg)
        chosen = result.suggestions[suggestion]["lr"]
        folder = RunFolder.create(runs_dir, f"lr-find-{cfg['name']}")
        folder.write_config(cfg)
        lines = ["step,lr,loss,smoothed"] + [f"{r['step']},{r['lr']!r},{r['loss']!r},{r['smoothed']!r}"
                                             for r in result.rows()]
        atomic_write(folder.path / "lr_find.csv", ("\n".join(lines) + "\n").encode())
        folder.save_figure(plot_lr_find(result, suggestion, key, title=f"{folder.run_id}\nlearning-rate range test "
                                        f"of {cfg['name']} ({cfg['optimizer']['name']})"), "lr_find.png")
        applied = None
        if apply:
            raw, _ = apply_overrides(yaml_io.load_file(config), overrides)
            applied = _write_copy(Path(config), applied_config(raw, key, chosen, cfg["name"]))
            value = load_config(applied)  # the copy must load as it is
            chosen_written = value["schedule"]["max_lr"] if key == "schedule.max_lr" else value["optimizer"]["lr"]
        summary = {"status": "completed", "run_id": folder.run_id, "kind": "lr-find", "name": cfg["name"],
                   "config": str(config), "start": start, "end": end, "steps": steps, "steps_run": len(result.lrs),
                   "stopped": result.stopped, "stop_factor": stop_factor, "beta": beta,
                   "suggestions": result.suggestions,
                   "suggestion": suggestion, "lr": chosen, "key": key,
                   "applied_config": None if applied is None else str(applied),
                   "files": ["config.yaml", "lr_find.csv", "lr_find.png"]}
        folder.write_summary(summary)
    out.show(suggestions_table(result.suggestions, suggestion, key, _stopped(result)),
             f"suggested {key}: {chosen:.3g} ({suggestion}); curve: {folder.path / 'lr_find.png'}")
    if applied is not None:
        out.show(f"config with {key} = {chosen_written:g}: {applied} (dlb train {applied})")
    out.show(f"run folder: {folder.path}")
    out.folder(folder.path)


def _stopped(result: Any) -> str:
    last = f"step {len(result.lrs)} of {result.steps}, lr {result.lrs[-1]:.3g}"
    return {"diverged": f"stopped at {last}: smoothed loss above {result.stop_factor:g} x its minimum",
            "not finite": f"stopped at {last}: the loss was not finite",
            "end": f"ran all {result.steps} steps to lr {result.end:g}"}[result.stopped]


def _write_copy(config: Path, raw: dict[str, Any]) -> Path:
    """Write ``raw`` next to ``config`` as <stem>.lr.yaml (or .lr-2.yaml, ... if taken): created exclusively, so
    that no existing file, the user's config least of all, is ever overwritten."""
    from ..config import yaml_io

    text = f"# {config.name} with the learning rate suggested by `dlb lr-find`\n" + yaml_io.dumps(raw)
    for i in range(1, 1000):
        path = config.with_name(f"{config.stem}.lr{'' if i == 1 else f'-{i}'}.yaml")
        try:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except FileExistsError:
            continue
    raise fail(f"{config.parent}: {config.stem}.lr.yaml .. .lr-999.yaml all exist; remove some", EXIT_USAGE)


def suggestions_table(suggestions: dict[str, dict[str, float]], chosen: str, key: str, caption: str) -> FitTable:
    """One row per suggestion: the suggested lr, where on the curve it was read, the smoothed loss there."""
    names = {"valley": "valley (longest fall)", "steep": "steepest descent", "minimum": "minimum / 10"}
    rows = [{"name": names[n] + (" <- " + key if n == chosen else ""), **s}
            for n, s in sorted(suggestions.items(), key=lambda kv: kv[0] != chosen)]
    g3 = num(".3g")
    return FitTable([Col("suggestion", "name", "text"), Col("lr", "lr", fmt=g3), Col("read at lr", "at_lr", fmt=g3),
                     Col("smoothed loss", "loss", fmt=num(".4g"))], rows, title="learning-rate range test",
                    caption=caption)
