"""The batch-size study: one config trained at several batch sizes and seeds, then the generalization gap and
the sharpness of the training loss at each solution (Keskar et al. 2017, "On Large-Batch Training for Deep
Learning: Generalization Gap and Sharp Minima"), and the line between the smallest- and largest-batch solutions.

    study = batch_study(load_config("configs/quickstart.yaml"), [16, 256, "full"], seeds=3)
    study.rows           # one row per batch size: means and 95 % t-intervals over seeds
    study.runs           # one row per run: its metrics, lambda_max, epsilon-sharpness
    study.interpolation  # per seed and alpha: train/test loss and accuracy along (1 - a) theta_s + a theta_l

Every member is an ordinary run folder (the multi-run lifecycle of :mod:`.multirun`, the members' table and
curves of :mod:`.compare`); members with the same seed start from the same weights and differ only in the batch
size (``train.eval_train`` is switched on, so the gap uses a clean pass over the training split). After training,
each completed run is measured in float64 with :mod:`.sharpness`; the model is in eval mode (BatchNorm with its
running statistics, dropout off), and the loss is the config's data loss without penalties.

    runs/<stamp>-batch-study-<name>-<hex6>/
        00-batch-16/seed-0/ ...   run folders
        comparison.csv, replicates.csv, loss_vs_epoch.png, ...   as `dlb compare --seeds`
        sharpness.csv             one row per run: metrics (float64, eval mode), gap, lambda_max, epsilon-sharpness
        batch_study.csv           one row per batch size: means and 95 % t-intervals over seeds
        interpolation.csv, interpolation.png   Keskar's Figure 3 between the smallest and the largest batch
        sharpness.png             gap, lambda_max and epsilon-sharpness against the batch size
        summary.json              settings, rows, the paired difference largest - smallest batch
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError, resolve_config
from ..execution import Executor, Task, TaskResult
from ..nn.layers import leaves
from ..runs.folder import atomic_write
from ..runs.paths import run_path
from .compare import _row as member_row
from .compare import aggregate, default_sort, member_path, replicate, write_outputs
from .multirun import OnDone, OnProgress, OnStart, close_group, guard, open_group, run_group
from .replicates import interval_columns, paired_test

FULL = "full"
BatchSize = int | str
#: the interpolation's range of alpha (Keskar et al.'s Figure 3)
ALPHA_RANGE = (-0.5, 1.5)
#: per-run quantities aggregated over seeds
MEASURED = ("train_loss", "train_acc", "test_loss", "test_acc", "gap_loss", "gap_acc", "lambda_max",
            "eps_sharpness", "steps")


def parse_batch_sizes(text: str) -> list[BatchSize]:
    """ "16,64,full" -> [16, 64, "full"]: positive integers and ``full`` (the whole training split), each once,
    at least two, in increasing order (full last). ValueError with a one-line message otherwise."""
    items = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    example = "e.g. 16,64,256,1024,full"
    sizes: list[BatchSize] = []
    for item in items:
        if item == FULL:
            sizes.append(FULL)
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"--batch-sizes {text!r}: {item!r} is neither a positive integer nor 'full' "
                             f"({example})") from None
        if value < 1:
            raise ValueError(f"--batch-sizes {text!r}: batch sizes are >= 1 ({example})")
        sizes.append(value)
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"--batch-sizes {text!r}: a batch size is given twice ({example})")
    if len(sizes) < 2:
        raise ValueError(f"--batch-sizes {text!r}: give at least two batch sizes to compare ({example})")
    return sorted(sizes, key=lambda b: (b == FULL, 0 if b == FULL else b))


def label_of(batch_size: BatchSize) -> str:
    return f"batch-{batch_size}"


def parse_epochs_for(text: str | None, batch_sizes: Sequence[BatchSize]) -> dict[BatchSize, int]:
    """ "full=300,1024=40" -> {"full": 300, 1024: 40}: epochs of some of ``batch_sizes`` (the others keep
    ``train.epochs``). ValueError with a one-line message for anything else."""
    out: dict[BatchSize, int] = {}
    example = "e.g. full=300,1024=40"
    for item in [t.strip() for t in (text or "").split(",") if t.strip()]:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        try:
            b: BatchSize = key if key == FULL else int(key)
            epochs = int(value)
        except ValueError:
            raise ValueError(f"--epochs-for {text!r}: expected BATCH=EPOCHS pairs ({example})") from None
        if not sep or epochs < 1:
            raise ValueError(f"--epochs-for {text!r}: expected BATCH=EPOCHS pairs with EPOCHS >= 1 ({example})")
        if b not in batch_sizes:
            raise ValueError(f"--epochs-for {text!r}: {key} is not one of the batch sizes "
                             f"({', '.join(map(str, batch_sizes))})")
        out[b] = epochs
    return out


def batch_members(cfg: Mapping[str, Any], batch_sizes: Sequence[BatchSize], overrides: Sequence[str] = (),
                  source: str = "<config>", epochs: Mapping[BatchSize, int] | None = None
                  ) -> list[tuple[str, dict[str, Any]]]:
    """One resolved config per batch size: ``overrides``, then ``train.batch_size``, ``train.eval_train: true``
    and the batch size's own ``epochs`` where given; named ``<name>-batch-<b>``. ConfigError naming the member for
    an invalid one. ``overrides`` land on the resolved ``cfg``, whose defaults are filled in: to switch a named
    choice (``optimizer.name=sgd`` on an Adam config), resolve with it first, ``load_config(path, overrides)``."""
    members = []
    for b in batch_sizes:
        raw = copy.deepcopy(dict(cfg))
        raw["name"] = f"{cfg['name']}-{label_of(b)}"
        own = [f"train.epochs={epochs[b]}"] if epochs and b in epochs else []
        try:
            members.append((label_of(b), resolve_config(raw, source, [*overrides, f"train.batch_size={b}",
                                                                        "train.eval_train=true", *own],
                                                        name=raw["name"])))
        except ConfigError as err:
            err.source = f"member {label_of(b)}: {err.source}" if err.source else f"member {label_of(b)}"
            raise
    return members


@dataclass
class SharpnessSettings:
    """How the solutions are measured (see :mod:`dlbasics.experiments.sharpness`).

    samples: training samples the sharpness is measured on, a fixed random subset (the same for every batch size
    of a seed; None: the whole training split). power_iters / power_tol: power iteration's Hessian-vector
    products at most, and the relative change of the eigenvalue estimate that ends it. fd_step: r of the
    central difference. epsilon / ascent_steps: Keskar's box radius and the projected-ascent steps. alphas:
    points of the interpolation in [-0.5, 1.5]. seed: of the subset and the power iteration's start.
    """

    samples: int | None = 2000
    power_iters: int = 20
    power_tol: float = 1e-3
    fd_step: float = 1e-7
    epsilon: float = 1e-3
    ascent_steps: int = 10
    alphas: int = 21
    seed: int = 0

    def check(self) -> None:
        """ConfigError naming the option for a value that cannot work."""
        for key, value, low in (("--sharpness-samples", self.samples, 2), ("--power-iters", self.power_iters, 1),
                                ("--ascent-steps", self.ascent_steps, 1), ("--alphas", self.alphas, 2)):
            if value is not None and value < low:
                raise ConfigError(f"{key} {value}: must be >= {low}")
        for key, value in (("--power-tol", self.power_tol), ("--fd-step", self.fd_step),
                           ("--epsilon", self.epsilon)):
            if not (value > 0 and np.isfinite(value)):
                raise ConfigError(f"{key} {value}: must be a positive number")


@dataclass
class BatchStudy:
    """A finished study: its folder, one row per batch size, one per run, the interpolation rows and the
    summary as written to summary.json."""

    path: Path
    rows: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    interpolation: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def _float64(cfg: Mapping[str, Any]) -> Any:
    """The run's data split, loss and model, rebuilt from its config in float64 (same seed: same split)."""
    from ..runner import build

    c64 = copy.deepcopy(dict(cfg))
    c64["train"]["dtype"] = "float64"
    c64["train"]["max_memory"] = None
    return build(c64, progress=False)


def _weights(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / "model.npz", allow_pickle=False) as z:
        return {k: z[k].astype(np.float64) for k in z.files}


def eval_mode_note(model: Any) -> str | None:
    """What eval mode changes in this model, to state beside the sharpness (None when it changes nothing)."""
    names = {type(leaf).__name__.lower() for layer in model.layers for leaf in leaves(layer)}  # inside blocks too
    parts = [p for p, on in (("BatchNorm uses its running statistics", any("batchnorm" in n for n in names)),
                             ("dropout is off", any("dropout" in n for n in names))) if on]
    return f"sharpness in eval mode: {', '.join(parts)}" if parts else None


def measure_run(cfg: Mapping[str, Any], run_dir: Path, settings: SharpnessSettings) -> dict[str, Any]:
    """A finished run's solution in float64: training (whole split, eval mode) and test loss and accuracy, the
    gap (test - train loss; train - test accuracy), lambda_max by power iteration and Keskar's epsilon-sharpness
    (percent) of the training loss on ``settings.samples`` training samples."""
    from ..train.loop import evaluate
    from .sharpness import ModelObjective, epsilon_sharpness, largest_eigenvalue

    t0 = time.perf_counter()
    exp = _float64(cfg)
    exp.model.load_state_dict(_weights(run_dir))
    s, bs = exp.splits, cfg["train"]["eval_batch_size"]
    out: dict[str, Any] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for name, x, y in (("train", s.x_train, s.y_train), ("test", s.x_test, s.y_test)):
            out.update({f"{name}_{k}": v for k, v in evaluate(exp.model, exp.loss, x, y, bs).items()})
    if "test_loss" in out:
        out["gap_loss"] = out["test_loss"] - out["train_loss"]
    if "test_acc" in out:
        out["gap_acc"] = out["train_acc"] - out["test_acc"]
    n = len(s.x_train)
    idx = np.arange(n)
    if settings.samples is not None and settings.samples < n:
        idx = np.sort(np.random.default_rng(settings.seed).permutation(n)[:settings.samples])
    f = ModelObjective(exp.model, exp.loss, s.x_train[idx], s.y_train[idx], bs)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        eig = largest_eigenvalue(f.grad, f.theta0, iters=settings.power_iters, tol=settings.power_tol,
                             r=settings.fd_step, rng=np.random.default_rng(settings.seed))
        sharp = epsilon_sharpness(f.loss_grad, f.theta0, settings.epsilon, settings.ascent_steps,
                                  rng=np.random.default_rng(settings.seed), loss=f.loss)
    f.reset()
    change = abs(eig.history[-1] - eig.history[-2]) / abs(eig.history[-1]) if len(eig.history) > 1 and \
        eig.history[-1] else None
    out.update({"sharpness_samples": len(idx), "sharpness_loss": sharp.loss, "lambda_max": eig.value,
                "lambda_negative": eig.most_negative, "power_iters": eig.iterations,
                "power_converged": eig.converged, "power_last_change": change,
                "eps_sharpness": sharp.percent, "eps_max_loss": sharp.max_loss, "parameters": int(f.theta0.size),
                "measure_s": time.perf_counter() - t0})
    note = eval_mode_note(exp.model)
    if note:
        out["note"] = note
    return out


def interpolation_rows(cfg: Mapping[str, Any], small_dir: Path, large_dir: Path,
                       alphas: Sequence[float]) -> list[dict[str, Any]]:
    """Train (whole split, eval mode) and test loss and accuracy along (1 - alpha) theta_small + alpha
    theta_large, in float64 (``cfg``: either run's config; they share data and model)."""
    from .sharpness import interpolate

    exp = _float64(cfg)
    s = exp.splits
    sets = {"train": (s.x_train, s.y_train), **({"test": (s.x_test, s.y_test)} if len(s.x_test) else {})}
    return interpolate(exp.model, _weights(small_dir), _weights(large_dir), alphas, sets, exp.loss,
                       cfg["train"]["eval_batch_size"])


def _size_value(b: BatchSize, n_train: int | None) -> int | None:
    return n_train if b == FULL else int(b)


def batch_study(cfg: dict[str, Any], batch_sizes: Sequence[BatchSize], *, seeds: int = 1,
                overrides: Sequence[str] = (), source: str = "<config>", name: str | None = None,
                runs_dir: str | Path | None = None, executor: Executor | None = None,
                settings: SharpnessSettings | None = None, epochs: Mapping[BatchSize, int] | None = None,
                on_done: OnDone | None = None,
                on_progress: OnProgress | None = None, on_start: OnStart | None = None,
                on_measure: Callable[[str], None] | None = None) -> BatchStudy:
    """Train ``cfg`` at every batch size with seeds seed .. seed + seeds - 1, then measure and tabulate (module
    docstring). ``epochs``: epochs of particular batch sizes (e.g. ``{"full": 300}``: a full-batch run of the
    config's 10 epochs takes 10 steps and is nowhere near a minimum); the others keep ``train.epochs``.
    ``on_measure(text)`` reports the measuring stage (one call per run measured)."""
    from ..runner import cache_datasets

    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: give 1 or more seeds")
    sizes = parse_batch_sizes(",".join(map(str, batch_sizes)))
    settings = settings or SharpnessSettings()
    settings.check()
    epochs = {(b if b == FULL else int(b)): e for b, e in (epochs or {}).items()}
    stray = [b for b in epochs if b not in sizes]
    if stray:
        raise ConfigError(f"epochs given for batch sizes {stray} that the study does not train")
    members = batch_members(cfg, sizes, overrides, source, epochs)
    labels = [label for label, _ in members]
    sort_by = default_sort(members)
    group = open_group("batch-study", name or cfg["name"], runs_dir, members=labels, batch_sizes=sizes,
                       replicates="seeds", n_replicates=seeds, sort_by=sort_by, sharpness=asdict(settings),
                       epochs={str(b): m["train"]["epochs"] for b, (_, m) in zip(sizes, members)})
    tasks = []
    for i, (label, member) in enumerate(members):
        folder = member_path(group.path, i, label)
        tasks += [Task(f"{label} seed {r}", replicate(member, "seeds", r, seeds), run_path(folder, f"seed-{r}"),
                       {"member": label, "replicate": f"seed{r}", "batch_size": sizes[i], "seed_index": r})
                  for r in range(seeds)]
    outcomes = run_group(group, tasks, executor, on_done, on_progress, on_start=on_start)
    with guard(group):
        runs = []
        for o in outcomes:
            row = member_row(o.task.meta["member"], o)
            row["replicate"] = o.task.meta["replicate"]
            runs.append(row)
        write_outputs(group.folder, aggregate(runs, labels, "seeds", sort_by), outcomes, runs)
        cache_datasets()
        try:
            measured = _measure_all(outcomes, settings, on_measure)
            interpolation = _interpolate_all(outcomes, sizes, settings, on_measure)
        finally:
            cache_datasets(False)
        rows = _per_batch_size(measured, sizes, labels)
        verdict = _verdict(measured, sizes)
        notes = sorted({r["note"] for r in measured if r.get("note")})
        _write(group, rows, measured, interpolation, sizes, verdict)
        close_group(group, outcomes, statuses={r["member"]: r["status"] for r in rows}, rows=rows,
                    larger_vs_smallest=verdict, notes=notes,
                    files=["comparison.csv", "replicates.csv", "sharpness.csv", "batch_study.csv",
                           *(["interpolation.csv", "interpolation.png"] if interpolation else []), "sharpness.png"])
    return BatchStudy(group.path, rows, measured, interpolation, group.summary)


def _measure_all(outcomes: Sequence[TaskResult], settings: SharpnessSettings,
                 on_measure: Callable[[str], None] | None) -> list[dict[str, Any]]:
    rows = []
    for o in outcomes:
        meta, s = o.task.meta, o.summary or {}
        row: dict[str, Any] = {"member": meta["member"], "batch_size": meta["batch_size"],
                               "seed": o.task.config["seed"], "seed_index": meta["seed_index"], "status": o.status,
                               "epochs": s.get("epochs_completed"), "steps": s.get("steps"),
                               "n_train": (s.get("data") or {}).get("n_train"),
                               "final_val_acc": (s.get("final") or {}).get("val_acc"),
                               "final_val_loss": (s.get("final") or {}).get("val_loss"),
                               "run_dir": str(o.task.run_dir)}
        if o.status == "completed":
            if on_measure is not None:
                on_measure(f"measuring {o.task.name}")
            row.update(measure_run(o.task.config, o.task.run_dir, settings))
        rows.append(row)
    return rows


def _interpolate_all(outcomes: Sequence[TaskResult], sizes: Sequence[BatchSize], settings: SharpnessSettings,
                     on_measure: Callable[[str], None] | None) -> list[dict[str, Any]]:
    """Per seed whose smallest- and largest-batch runs both completed: the interpolation between them."""
    by = {(o.task.meta["batch_size"], o.task.meta["seed_index"]): o for o in outcomes}
    alphas = np.linspace(*ALPHA_RANGE, settings.alphas)
    rows = []
    for r in sorted({o.task.meta["seed_index"] for o in outcomes}):
        small, large = by.get((sizes[0], r)), by.get((sizes[-1], r))
        if small is None or large is None or small.status != "completed" or large.status != "completed":
            continue
        if on_measure is not None:
            on_measure(f"interpolating seed {small.task.config['seed']}: batch {sizes[0]} -> {sizes[-1]}")
        for row in interpolation_rows(small.task.config, small.task.run_dir, large.task.run_dir, alphas):
            rows.append({"seed": small.task.config["seed"], **row})
    return rows


def _per_batch_size(measured: list[dict[str, Any]], sizes: Sequence[BatchSize],
                    labels: Sequence[str]) -> list[dict[str, Any]]:
    """One row per batch size: completed runs, and each MEASURED quantity's mean, std and 95 % t-interval."""
    rows = []
    for b, label in zip(sizes, labels):
        runs = [r for r in measured if r["batch_size"] == b]
        done = [r for r in runs if r["status"] == "completed"]
        n_train = next((r["n_train"] for r in runs if r.get("n_train")), None)
        row: dict[str, Any] = {"member": label, "batch_size": b, "batch": _size_value(b, n_train),
                               "status": "completed" if len(done) == len(runs) else
                               f"{len(done)}/{len(runs)} completed", "completed": len(done), "seeds": len(runs),
                               "power_converged": sum(bool(r.get("power_converged")) for r in done)}
        row.update(interval_columns(runs, (*MEASURED, "final_val_acc")))
        rows.append(row)
    return rows


def _verdict(measured: list[dict[str, Any]], sizes: Sequence[BatchSize]) -> dict[str, Any]:
    """Every larger batch size against the smallest, paired by seed (``against_smallest``, one entry each): the
    differences of lambda_max, epsilon-sharpness, the gaps and the test accuracy (paired t over seeds; the plain
    difference with one seed), whether it came out sharper (``answer``: "yes" when both measures are larger and
    distinguishable at 5 %, "yes, but not distinguishable over these seeds", "no", "mixed"), and whether it is a
    fair comparison (``comparable``: its training accuracy within 2 points of the smallest batch's, or its
    training loss at most twice that; Keskar et al. compare minimizers that fit the training set alike).
    ``answer`` at the top: the largest batch's."""
    def seed(r: dict[str, Any]) -> int:
        return r["seed_index"]

    def mean(runs: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in runs if r["status"] == "completed" and r.get(key) is not None]
        return float(np.mean(values)) if values else None

    small = [r for r in measured if r["batch_size"] == sizes[0]]
    out: dict[str, Any] = {"smallest": sizes[0], "largest": sizes[-1], "against_smallest": []}
    for b in sizes[1:]:
        large = [r for r in measured if r["batch_size"] == b]
        entry: dict[str, Any] = {"batch_size": b}
        for key in ("lambda_max", "eps_sharpness", "gap_acc", "gap_loss", "test_acc"):
            test = paired_test(large, small, key, False, seed)
            if test is not None:
                entry[key] = test
                continue
            a = {seed(r): r.get(key) for r in large if r["status"] == "completed"}
            c = {seed(r): r.get(key) for r in small if r["status"] == "completed"}
            shared = [k for k in a if k in c and a[k] is not None and c[k] is not None]
            if shared:  # one seed: the plain difference
                entry[key] = {"diff": float(np.mean([a[k] - c[k] for k in shared])), "n": len(shared)}
        fit = {k: (mean(large, k), mean(small, k)) for k in ("train_acc", "train_loss")}
        entry.update({"train_acc": fit["train_acc"][0], "smallest_train_acc": fit["train_acc"][1],
                      "train_loss": fit["train_loss"][0], "smallest_train_loss": fit["train_loss"][1]})
        acc, loss = fit["train_acc"], fit["train_loss"]
        if None not in acc:
            entry["comparable"] = bool(acc[0] >= acc[1] - 0.02)
        elif None not in loss:
            entry["comparable"] = bool(loss[0] <= 2 * loss[1])
        measures = [entry.get(k) for k in ("lambda_max", "eps_sharpness")]
        if all(m is not None for m in measures):
            larger = all(m["diff"] > 0 for m in measures)
            sure = all(m.get("distinguishable", False) for m in measures)
            entry["answer"] = ("yes" if larger and sure else "yes, but not distinguishable over these seeds"
                               if larger else "no" if all(m["diff"] < 0 for m in measures) else "mixed")
        out["against_smallest"].append(entry)
    last = out["against_smallest"][-1]
    if "answer" in last:
        out["answer"], out["comparable"] = last["answer"], last.get("comparable")
    return out


def _write(group: Any, rows: list[dict[str, Any]], measured: list[dict[str, Any]],
           interpolation: list[dict[str, Any]], sizes: Sequence[BatchSize], verdict: dict[str, Any]) -> None:
    import pandas as pd

    from ..plots.batch_study import plot_interpolation, plot_sharpness

    path, folder = group.path, group.folder
    atomic_write(path / "sharpness.csv", pd.DataFrame(measured).to_csv(index=False).encode())
    atomic_write(path / "batch_study.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    folder.save_figure(plot_sharpness(rows, measured, title=f"{folder.run_id}\ngeneralization gap and sharpness "
                                                            "against the batch size (mean, 95 % t-interval)"),
                       "sharpness.png")
    if interpolation:
        atomic_write(path / "interpolation.csv", pd.DataFrame(interpolation).to_csv(index=False).encode())
        folder.save_figure(plot_interpolation(interpolation, str(sizes[0]), str(sizes[-1]),
                                              title=f"{folder.run_id}\n(1 - α) θ(batch {sizes[0]}) + α θ(batch "
                                                    f"{sizes[-1]}), same seed and initial weights"),
                           "interpolation.png")
