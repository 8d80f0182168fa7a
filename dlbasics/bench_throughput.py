"""`make bench`, multi-run throughput: how well `--jobs 2` uses two cores, and what each member costs beyond
its training.

    python -m dlbasics.bench --only throughput [--rounds 3]

Contenders, interleaved round by round (the machine is shared and noisy; medians are reported):
- a 14-member sweep of the quickstart config (7 learning rates x 2 seeds) with ``--jobs 1`` and ``--jobs 2``;
- `dlb compare` of the 7 optimizers of the course on the quickstart config, ``--jobs 1`` and ``--jobs 2``.
Each contender is timed as its command runs it: from loading the config, through planning and checking every
member (while the workers boot), to the group's tables and figures. Per-member overhead = (wall time of the
``--jobs 1`` sweep - the sum of its members' training time) / 14: worker start-up, data loading, building,
writing the folders, reporting, the group's outputs. Not a test.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

CONFIG = "configs/quickstart.yaml"
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"]


def _sweep(jobs: int, config: str) -> tuple[float, float, int]:
    """(wall seconds, sum of the members' training seconds, members) of the 14-member sweep."""
    from .config import load_config
    from .execution import LocalProcessExecutor
    from .experiments.sweep import check_plan, plan_sweep, run_sweep

    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()  # as `dlb sweep` does it: the workers boot while the plan is made and checked
        with LocalProcessExecutor(jobs) as executor:
            plan = plan_sweep(load_config(config), {"optimizer.lr": [3e-4, 6e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]},
                              seeds=2)
            check_plan(plan)
            result = run_sweep(plan, runs_dir=runs, executor=executor)
        wall = time.perf_counter() - t0
        train = sum(_train_seconds(Path(r["run_dir"])) for r in result.rows)
    return wall, train, len(result.rows)


def _train_seconds(run_dir: Path) -> float:
    from .runs.summary import read_summary

    timing = read_summary(run_dir / "summary.json").get("timing") or {}
    return float(timing.get("train_s") or 0.0)


def _compare(jobs: int, config: str) -> float:
    from .config import load_config
    from .execution import LocalProcessExecutor
    from .experiments.compare import check_members, compare, optimizer_members

    with tempfile.TemporaryDirectory() as runs:
        t0 = time.perf_counter()
        with LocalProcessExecutor(jobs) as executor:
            members = optimizer_members(load_config(config), OPTIMIZERS)
            check_members(members)
            compare(members, name="bench", runs_dir=runs, executor=executor)
        return time.perf_counter() - t0


def bench_throughput(rounds: int = 3, config: str = CONFIG) -> dict[str, float]:
    """Run the contenders ``rounds`` times, interleaved; print and return the medians and ratios."""
    times: dict[str, list[float]] = {}
    overheads: list[float] = []
    print(f"multi-run throughput on {config}: a 14-member sweep and a 7-optimizer compare, --jobs 1 vs 2, "
          f"{rounds} rounds")
    for _ in range(rounds):
        for jobs in (1, 2):
            wall, train, n = _sweep(jobs, config)
            times.setdefault(f"sweep14 jobs={jobs}", []).append(wall)
            if jobs == 1:
                overheads.append((wall - train) / n)
            times.setdefault(f"compare7 jobs={jobs}", []).append(_compare(jobs, config))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, t in med.items():
        print(f"  {name:<22} {t:7.2f} s  (rounds: {', '.join(f'{x:.2f}' for x in times[name])})")
    out = {"sweep_speedup": med["sweep14 jobs=1"] / med["sweep14 jobs=2"],
           "compare_speedup": med["compare7 jobs=1"] / med["compare7 jobs=2"],
           "overhead_s": statistics.median(overheads)}
    print(f"sweep of 14, --jobs 2 vs 1:      {out['sweep_speedup']:.2f}x  (goal >= 1.85)")
    print(f"compare of 7, --jobs 2 vs 1:     {out['compare_speedup']:.2f}x  (goal >= 1.75; 7 members on 2 "
          "workers: 1.75 at most)")
    print(f"per-member overhead (jobs 1):    {out['overhead_s']:.3f} s  (goal <= 0.3; wall - training time, per "
          "member)")
    return out
