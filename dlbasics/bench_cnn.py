"""`make bench`, the CNN of configs/mnist_cnn.yaml: against PyTorch on one thread, and with train.threads 2.

    python -m dlbasics.bench --only cnn      # 1 thread: dlbasics / PyTorch
    python -m dlbasics.bench --only threads  # train.threads 2 vs 1 (wall clock), PyTorch beside, per-layer times

Epochs are of ``--cnn-samples`` training samples (and a fifth of that for validation), extrapolated to MNIST's
54,000 where a full-epoch figure is printed. The same network is built layer by layer in ``torch.nn`` from the
config and trained the same way (Adam, batch 100, a validation pass in chunks of 500).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .bench_common import CNN_CONFIG, all_epoch_times, median_epoch_times, ratio_line, torch_epoch, torch_or_none


def cnn_layers() -> list[dict]:
    """The layer list of configs/mnist_cnn.yaml (or the same network if the file is not here)."""
    from .config import load_config

    if Path(CNN_CONFIG).is_file():
        return load_config(CNN_CONFIG)["model"]["layers"]
    conv = [{"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": "same"} for c in (32, 64)]
    block = [[c, {"type": "batchnorm2d"}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}] for c in conv]
    return [*block[0], *block[1], {"type": "flatten"}, {"type": "dense", "units": 128}, {"type": "relu"},
            {"type": "dropout", "p": 0.3}, {"type": "dense", "units": 10}]


def build_cnn(layers: list[dict]):
    """The config's network as a built dlbasics Sequential (float32, seed 0)."""
    from .nn.model import Sequential
    from .nn.registry import layer_from_config

    model = Sequential([layer_from_config(dict(spec)) for spec in layers])
    return model.build((1, 28, 28), np.random.default_rng(0), np.float32, noise_rng=np.random.default_rng(1))


def dlbasics_cnn_fn(x, y, xv, yv, layers: list[dict], batch: int = 100, model=None) -> Callable[[], None]:
    from .nn.losses import CrossEntropyLoss
    from .optim.optimizers import Adam
    from .train.loop import fit

    model = build_cnn(layers) if model is None else model
    loss, opt, rng = CrossEntropyLoss(), Adam(model.parameters()), np.random.default_rng(0)

    def epoch() -> None:
        fit(model, loss, opt, x, y, epochs=1, batch_size=batch, rng=rng, x_val=xv, y_val=yv, eval_batch_size=500)

    return epoch


def torch_cnn(layers: list[dict], sample):
    """The same network in torch.nn, layer by layer from the config (``sample``: a batch to size the lazy layer)."""
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    mods, channels, features = [], 1, None
    for spec in layers:
        kind = spec["type"]
        if kind == "conv2d":
            pad = spec.get("padding", 0)
            mods.append(nn.Conv2d(channels, spec["out_channels"], spec["kernel_size"], spec.get("stride", 1), pad))
            channels = spec["out_channels"]
        elif kind == "batchnorm2d":
            mods.append(nn.BatchNorm2d(channels))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "maxpool2d":
            mods.append(nn.MaxPool2d(spec["kernel_size"]))
        elif kind == "flatten":
            mods.append(nn.Flatten())
        elif kind == "dropout":
            mods.append(nn.Dropout(spec["p"]))
        elif kind == "dense":
            mods.append(nn.LazyLinear(spec["units"]) if features is None else nn.Linear(features, spec["units"]))
            features = spec["units"]
        else:
            raise ValueError(f"no torch translation for layer type {kind!r}")
    net = nn.Sequential(*mods)
    net(sample)  # materialise the lazy layer
    return net


def torch_cnn_fn(x, y, xv, yv, layers: list[dict], batch: int = 100, threads: int = 1) -> Callable[[], None] | None:
    """The same network in torch.nn trained the same way on ``threads`` intra-op threads."""
    torch = torch_or_none()
    if torch is None:
        return None
    tx, ty, txv = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xv)
    net = torch_cnn(layers, tx[:2])
    opt, lossf = torch.optim.Adam(net.parameters()), torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        torch.set_num_threads(threads)
        torch_epoch(net, opt, lossf, tx, ty, txv, batch, 500, gen)
        torch.set_num_threads(1)

    return epoch


def im2col_speedup(repeats: int = 3) -> tuple[float, float]:
    """(forward, backward) speed-up of Conv2D's im2col kernel over the naive loops: 32 -> 64, 3x3, (4, 32, 14, 14)."""
    from .nn.conv import Conv2D
    from .nn.naive import conv2d_naive, conv2d_naive_backward

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32, 14, 14)).astype(np.float32)
    conv = Conv2D(64, 3, padding=1, algorithm="im2col")  # (auto would pick Winograd for 32 channels)
    conv.build((32, 14, 14), rng, np.float32)
    dout = rng.standard_normal((4, 64, 14, 14)).astype(np.float32)
    w, b = conv.W.data, conv.b.data

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    fast_f = best(lambda: conv.forward(x, True))
    fast_b = best(lambda: conv.backward(dout))  # dx, dW, db from the last forward's columns
    naive_f = best(lambda: conv2d_naive(x, w, b, 1, 1))
    naive_b = best(lambda: conv2d_naive_backward(dout, x, w, 1, 1))  # dx, dw, db
    return naive_f / fast_f, naive_b / fast_b


def cnn_data(x, y, xv, yv, samples: int):
    """The first ``samples`` training and ``samples // 5`` validation images as (N, 1, 28, 28)."""
    return (x[:samples].reshape(-1, 1, 28, 28), y[:samples], xv[:samples // 5].reshape(-1, 1, 28, 28),
            yv[:samples // 5])


def bench_cnn(x, y, xv, yv, samples: int, epochs: int, rounds: int) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    from .bench_common import clock_name

    layers = cnn_layers()
    images, labels, val_images, val_labels = cnn_data(x, y, xv, yv, samples)
    print(f"\nmnist_cnn ({CNN_CONFIG}), batch 100, Adam, 1 thread; epochs of {len(images)} train / "
          f"{len(val_images)} val samples; {clock_name()} time, medians of {rounds} rounds")
    with threadpool_limits(limits=1, user_api="blas"):
        contenders = {"dlbasics": dlbasics_cnn_fn(images, labels, val_images, val_labels, layers)}
        torch_fn = torch_cnn_fn(images, labels, val_images, val_labels, layers)
        if torch_fn is not None:
            contenders["pytorch (cpu, 1 thread)"] = torch_fn
        med = median_epoch_times(contenders, epochs, rounds)
        fwd, bwd = im2col_speedup()
    full = 54000 / len(images)
    for name, t in med.items():
        print(f"  {name:<34} {t:7.3f} s  (~{t * full:.0f} s per full MNIST epoch)")
    out = {}
    if torch_fn is not None:
        out["torch"] = med["dlbasics"] / med["pytorch (cpu, 1 thread)"]
        print(ratio_line("ratio dlbasics / pytorch cpu (CNN):", out["torch"], "<= 1.00"))
    print(f"im2col conv 32->64 3x3 vs the naive loops: forward {fwd:.0f}x, backward {bwd:.0f}x faster")
    return out


class LayerTimer:
    """Wraps the forward and backward of every step a model runs (a layer, or a fused step: ``model.steps``) to
    add up their seconds (wall clock), by step. (Wrapping ``model.layers`` would time nothing of the layers that
    run inside fused steps.)"""

    def __init__(self, model):
        from .nn.layers import Layer

        self.seconds: dict[str, float] = {}
        index = {id(layer): i for i, layer in enumerate(model.layers)}
        for step in model.steps:
            inner = [step] if isinstance(step, Layer) else step.layers  # a fused step: its layers
            first = index[id(inner[0])]
            name = " + ".join(f"{index[id(layer)]} {type(layer).__name__.lower()}" for layer in inner) \
                if len(inner) > 1 else f"{first} {type(step).__name__.lower()}"
            self.seconds[name] = 0.0
            for method in ("forward", "backward"):
                setattr(step, method, self._timed(getattr(step, method), name))

    def _timed(self, fn, name):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
        return run

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.seconds, 0.0)


def threads_in_training(threads: int) -> tuple[int | None, int]:
    """The BLAS thread count and the kernels' workers (nn/parallel.py) that ``dlb train --threads N`` really
    runs its training loop with (read from inside ``fit`` by a callback on a tiny offline run); the BLAS count
    is None when threadpoolctl finds no BLAS."""
    import tempfile

    from threadpoolctl import threadpool_info

    from .config import load_config
    from .nn import parallel
    from .runner import train
    from .train.loop import Callback

    seen: list[int] = []
    workers: list[int] = []

    class Probe(Callback):
        def on_epoch_begin(self, epoch: int) -> None:
            seen.extend(i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas")
            workers.append(parallel.count())

    with tempfile.TemporaryDirectory() as runs:
        config = Path(runs) / "probe.yaml"
        config.write_text("name: probe\ndata: {name: spirals, n_train: 60, n_test: 20}\nmodel: {type: mlp, hidden: [4]}"
                          "\ntrain: {epochs: 1, batch_size: 30}\n")
        train(load_config(config, [f"train.threads={threads}"]), runs_dir=runs, progress=False, plots=False,
              callbacks=[Probe()])
    return (min(seen) if seen else None), min(workers)


def bench_threads(x, y, xv, yv, samples: int, rounds: int) -> dict[str, float]:
    """The CNN epoch with train.threads 2 vs 1 (nn/parallel.py: kernel workers, BLAS at one thread; wall clock:
    CPU time would add the threads up), PyTorch with 2 intra-op threads vs 1 beside, and which layers gain."""
    import os

    from .nn import parallel

    layers = cnn_layers()
    images, labels, val_images, val_labels = cnn_data(x, y, xv, yv, samples)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"
    print(f"\ntwo cores: mnist_cnn epochs of {len(images)} train / {len(val_images)} val samples, 1 vs 2 threads, "
          f"wall clock, medians of {rounds} rounds ({cores} cores; load average {load} at the start: other "
          "processes on the cores slow threads that wait for each other)")
    model = build_cnn(layers)
    timer = LayerTimer(model)
    ours = dlbasics_cnn_fn(images, labels, val_images, val_labels, layers, model=model)
    per_layer: dict[int, dict[str, float]] = {}

    def with_threads(n: int) -> Callable[[], None]:
        def epoch() -> None:
            timer.reset()
            with parallel.training_threads(n):  # as dlb train --threads n
                ours()
            per_layer.setdefault(n, dict.fromkeys(timer.seconds, 0.0))
            for k, v in timer.seconds.items():
                per_layer[n][k] += v
        return epoch

    contenders = {"dlbasics, train.threads 1": with_threads(1), "dlbasics, train.threads 2": with_threads(2)}
    t1 = torch_cnn_fn(images, labels, val_images, val_labels, layers, threads=1)
    if t1 is not None:
        contenders["pytorch, 1 thread"] = t1
        contenders["pytorch, 2 threads"] = torch_cnn_fn(images, labels, val_images, val_labels, layers, threads=2)
    for fn in contenders.values():  # warm-up, then per-layer sums over the timed rounds only
        fn()
    per_layer.clear()
    times = all_epoch_times(contenders, 1, rounds, warmup=False)
    med = {k: float(np.median(v)) for k, v in times.items()}
    for name, t in med.items():
        print(f"  {name:<34} {t:7.3f} s  (rounds: {', '.join(f'{v:.2f}' for v in times[name])})")
    out = {"dlbasics": med["dlbasics, train.threads 1"] / med["dlbasics, train.threads 2"]}
    print(ratio_line("dlbasics speed-up, 2 threads vs 1:", out["dlbasics"], ">= 1.50"))
    if t1 is not None:
        out["torch"] = med["pytorch, 1 thread"] / med["pytorch, 2 threads"]
        print(f"{'pytorch speed-up, 2 threads vs 1:':<44} {out['torch']:5.2f}")
        print(f"{'dlbasics 2 threads / pytorch 2 threads:':<44} "
              f"{med['dlbasics, train.threads 2'] / med['pytorch, 2 threads']:5.2f}")
    one, two = per_layer[1], per_layer[2]
    total1 = sum(one.values())
    print("  per layer (forward + backward, summed over the rounds): seconds at 1 thread -> 2 threads, share at 1:")
    for name in one:
        if one[name] >= 0.02 * total1:
            print(f"    {name:<18} {one[name]:7.2f} -> {two[name]:6.2f} s  ({one[name] / two[name]:.2f}x)  "
                  f"{100 * one[name] / total1:4.1f} %")
    blas, workers = threads_in_training(2)
    print(f"  dlb train --threads 2: the training loop runs with {workers} kernel workers (nn/parallel.py) and "
          f"{blas} BLAS thread{'s' if blas != 1 else ''} (threadpoolctl, inside fit)")
    return out
