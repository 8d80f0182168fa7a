"""`make bench`: dlbasics' speed and memory as ratios against references measured in the same run.

    python -m dlbasics.bench [--only mlp|cnn|threads|gelu|memory|curves|throughput] [--rounds 3] [--clock cpu]

Parts (one module each; all but throughput run by default, about 10 minutes on 2 cores):

- ``mlp`` (bench_mlp): the mnist_adam MLP per epoch against the matmul floor (only its matrix products), a minimal
  NumPy loop and PyTorch with default and ``fused=True`` Adam;
- ``cnn`` (bench_cnn): the mnist_cnn network against the same network in torch.nn, 1 thread;
- ``threads`` (bench_cnn): that CNN with train.threads 2 vs 1, PyTorch with 2 threads vs 1, per-layer times, and
  the workers and BLAS threads ``dlb train --threads 2`` really trains with;
- ``gelu`` (bench_gelu): exact GELU forward + backward against ReLU's plus Tanh's;
- ``memory`` (bench_memory): peak resident memory of one epoch of ``dlb train`` vs the same training in PyTorch,
  each in a fresh process;
- ``curves`` (bench_curves): seconds per epoch against batch size and width, dlbasics and PyTorch, and a PNG;
- ``throughput`` (bench_throughput, only with ``--only throughput`` or ``--all``: 5 minutes): ``--jobs 2`` vs 1
  for a sweep and a compare.

Contenders are interleaved round by round and medians reported, because this machine is shared and noisy.
One-thread figures use this process's CPU time by default (``--clock wall`` for the wall clock): other
processes' load then does not count; figures with 2 threads always use the wall clock. Not a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import time

from .bench_common import CONFIG, Setup, load_data, set_clock

PARTS = ("mlp", "cnn", "threads", "gelu", "memory", "curves", "throughput")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only this part (repeatable); default: all but throughput")
    parser.add_argument("--all", action="store_true", help="every part, throughput included")
    parser.add_argument("--epochs", type=int, default=2, help="MLP epochs per contender per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (contenders interleaved)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="clock of the one-thread figures")
    parser.add_argument("--config", default=CONFIG, help="take hidden widths, batch size and lr from this config")
    parser.add_argument("--cnn-samples", type=int, default=6000, help="training samples per CNN epoch")
    parser.add_argument("--threads-samples", type=int, default=3000,
                        help="training samples per CNN epoch of the two-core part")
    parser.add_argument("--memory-samples", type=int, default=12000,
                        help="train the memory children on a stratified subset of this many samples (0: all 54,000; "
                             "a full mnist_cnn epoch takes a minute per child)")
    parser.add_argument("--curve-samples", type=int, default=6000, help="training samples per cost-curve point")
    parser.add_argument("--out", default="runs/bench", help="folder for the cost-curve PNG")
    args = parser.parse_args(argv)
    parts = set(PARTS) if args.all else set(args.only or PARTS[:-1])
    set_clock(args.clock)
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    if parts & {"mlp", "cnn", "threads", "curves"}:
        setup = Setup.from_config(args.config)
        x, y, xv, yv, source = load_data()
        if "mlp" in parts:
            from .bench_mlp import bench_mlp

            results["mlp"] = bench_mlp(x, y, xv, yv, source, setup, args.epochs, args.rounds)
        if "cnn" in parts:
            from .bench_cnn import bench_cnn

            results["cnn"] = bench_cnn(x, y, xv, yv, args.cnn_samples, 1, args.rounds)
        if "threads" in parts:
            from .bench_cnn import bench_threads

            results["threads"] = bench_threads(x, y, xv, yv, args.threads_samples, args.rounds)
    if "gelu" in parts:
        from .bench_gelu import bench_gelu

        results["gelu"] = bench_gelu(max(args.rounds, 5))
    if "memory" in parts:
        from .bench_memory import bench_memory

        results["memory"] = bench_memory(args.memory_samples)
    if "curves" in parts:
        from .bench_curves import bench_curves

        bench_curves(x, y, xv, yv, setup, args.curve_samples, args.rounds, args.out)
    if "throughput" in parts:
        from .bench_throughput import bench_throughput

        bench_throughput(args.rounds)
    elif not args.only:
        print("\n(multi-run throughput, --jobs 2 vs 1: python -m dlbasics.bench --only throughput, ~5 min)")
    print(f"\nbench wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
