"""What every part of `make bench` shares: the data, the interleaved timing, PyTorch's training epoch.

Every timing here is a median over rounds in which the contenders take turns (the machine is shared and
noisy), reported as a ratio against a reference measured in the same run. Nothing asserts a time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONFIG = "configs/mnist_adam.yaml"
CNN_CONFIG = "configs/mnist_cnn.yaml"

#: the clock of the one-thread comparisons: "cpu" (this process's CPU seconds: on a shared machine the other
#: processes' load does not count) or "wall"; multi-thread figures always use the wall clock
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
_clock = {"name": "cpu"}


def set_clock(name: str) -> None:
    if name not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, got {name!r}")
    _clock["name"] = name


def clock_name() -> str:
    return _clock["name"]


@dataclass(frozen=True)
class Setup:
    """The network and step of the MLP benchmark (read from configs/mnist_adam.yaml when it exists)."""

    hidden: tuple[int, ...] = (256, 256)
    batch: int = 100
    lr: float = 1e-3

    @classmethod
    def from_config(cls, path: str) -> Setup:
        from .config import load_config

        if not Path(path).is_file():
            return cls()
        cfg = load_config(path)
        return cls(tuple(cfg["model"]["hidden"]), cfg["train"]["batch_size"], cfg["optimizer"]["lr"])


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """MNIST's training set split 54,000 / 6,000 if found on disk, else the bundled mnist-mini tiled to that size.

    Returns (x_train (N, 784) float32, y_train, x_val, y_val, a line naming the source). (Tiled real digits
    rather than random pixels: random inputs kill most ReLUs and the timings would measure float32 denormals
    in Adam's decaying moments instead of the network.)
    """
    from .data.datasets import Dataset, find_idx_dataset, load_dataset, make_splits

    if find_idx_dataset("mnist") is not None:
        ds = load_dataset("mnist", progress=False)
        source = f"MNIST from {ds.source}"
    else:
        mini = load_dataset("mnist-mini")
        ds = Dataset("mnist-mini x6", np.tile(mini.x_train, (6, 1, 1, 1)), np.tile(mini.y_train, 6),
                     mini.x_test, mini.y_test, "classification", 10)
        source = "mnist-mini tiled 6x to MNIST's size (MNIST not found: set DLB_DATA_DIR for the real thing)"
    s = make_splits(ds, 0.1, np.random.default_rng(seed), np.float32)
    return s.x_train.reshape(len(s.x_train), -1), s.y_train, s.x_val.reshape(len(s.x_val), -1), s.y_val, source


def median_epoch_times(contenders: dict[str, Callable[[], None]], epochs: int, rounds: int,
                       warmup: bool = True) -> dict[str, float]:
    """Interleave contenders round by round; return each one's median epoch time in seconds (on the chosen clock)."""
    times = all_epoch_times(contenders, epochs, rounds, warmup, CLOCKS[_clock["name"]])
    return {name: statistics.median(ts) for name, ts in times.items()}


def all_epoch_times(contenders: dict[str, Callable[[], None]], epochs: int, rounds: int, warmup: bool = True,
                    clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Every epoch time of every contender, contenders interleaved round by round (after one warm-up epoch each:
    allocations, caches, lazy imports)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    if warmup:
        for fn in contenders.values():
            fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            for _ in range(epochs):
                t0 = clock()
                fn()
                times[name].append(clock() - t0)
    return times


def torch_or_none():
    """The torch module, or None when PyTorch is not installed (its contenders are then left out)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_epoch(net, opt, lossf, tx, ty, txv, batch: int, eval_chunk: int, gen) -> None:
    """One epoch in PyTorch as dlbasics' fit does it: shuffled mini-batches, then a validation pass."""
    import torch

    net.train()
    order = torch.randperm(len(tx), generator=gen)
    for start in range(0, len(tx), batch):
        idx = order[start:start + batch]
        loss = lossf(net(tx[idx]), ty[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    net.eval()
    with torch.no_grad():
        for start in range(0, len(txv), eval_chunk):
            net(txv[start:start + eval_chunk])


def ratio_line(label: str, value: float, goal: str) -> str:
    """``label: 1.23  (goal <= 1.30: met)``, aligned like the other ratio lines."""
    op, target = goal.split()
    met = value <= float(target) if op == "<=" else value >= float(target)
    return f"{label:<44} {value:5.2f}  (goal {goal}: {'met' if met else 'NOT met'})"
