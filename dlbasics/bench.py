"""`make bench`: seconds per epoch of the mnist_adam MLP, as ratios against references timed in the same run.

References: a minimal hand-written NumPy loop for the same network (no classes, no callbacks: the floor
for a NumPy implementation) and, when importable, PyTorch on the CPU. Every contender does the same work
per epoch: one permutation of the training set in mini-batches of 100 (forward, softmax cross-entropy,
backward, Adam step) and one forward pass over the validation split. All run with 1 BLAS / intra-op thread.
Implementations are interleaved round by round and the median epoch time is reported, because this machine
is shared and noisy. Not a test: nothing here asserts a time.

    python -m dlbasics.bench [--epochs 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONFIG = "configs/mnist_adam.yaml"


@dataclass(frozen=True)
class Setup:
    """The network and step of the benchmark (read from configs/mnist_adam.yaml when it exists)."""

    hidden: tuple[int, ...] = (256, 256)
    batch: int = 100
    lr: float = 1e-3

    @classmethod
    def from_config(cls, path: str) -> Setup:
        from pathlib import Path

        from .config import load_config

        if not Path(path).is_file():
            return cls()
        cfg = load_config(path)
        return cls(tuple(cfg["model"]["hidden"]), cfg["train"]["batch_size"], cfg["optimizer"]["lr"])


def load_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """MNIST's training set split 54,000 / 6,000 if found on disk, else the bundled mnist-mini tiled to that size.

    (Tiled real digits rather than random pixels: random inputs kill most ReLUs and the timings would measure
    float32 denormals in Adam's decaying moments instead of the network.)
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


# ----------------------------------------------------------------------------- contenders: each runs one epoch


def dlbasics_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0) -> Callable[[], None]:
    """The library as `dlb train` runs it: NCHW images, Flatten + MLP, CrossEntropyLoss, Adam, ``fit``."""
    from .nn.losses import CrossEntropyLoss
    from .nn.model import Sequential
    from .nn.registry import mlp_layers
    from .optim.optimizers import Adam
    from .train.loop import fit

    images, val_images = x.reshape(-1, 1, 28, 28), xv.reshape(-1, 1, 28, 28)
    model = Sequential(mlp_layers(list(setup.hidden), 10)).build((1, 28, 28), np.random.default_rng(seed))
    loss, opt = CrossEntropyLoss(), Adam(model.parameters(), lr=setup.lr)
    rng = np.random.default_rng(seed)

    def epoch() -> None:
        fit(model, loss, opt, images, y, epochs=1, batch_size=setup.batch, rng=rng, x_val=val_images, y_val=yv)

    return epoch


def numpy_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0) -> Callable[[], None]:
    """The floor: the same network and Adam written as bare NumPy, in place wherever possible."""
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *setup.hidden, 10]
    Ws = [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32) for a, b in itertools.pairwise(sizes)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = [p for pair in zip(Ws, bs) for p in pair]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    tmps = [np.empty_like(p) for p in params]
    b1, b2, eps, state = 0.9, 0.999, 1e-8, {"t": 0}
    L = len(Ws)

    def forward(xb):
        acts = [xb]
        h = xb
        for i in range(L):
            h = h @ Ws[i]
            h += bs[i]
            if i < L - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        return acts

    def epoch() -> None:
        order = rng.permutation(len(x))
        for start in range(0, len(x), setup.batch):
            idx = order[start:start + setup.batch]
            xb, yb = x[idx], y[idx]
            acts = forward(xb)
            z = acts[-1]
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(len(yb)), yb]))
            if not np.isfinite(loss):
                raise FloatingPointError("diverged")
            d = e / s
            d[np.arange(len(yb)), yb] -= 1
            d /= len(yb)
            grads = [None] * (2 * L)
            for i in reversed(range(L)):
                grads[2 * i] = acts[i].T @ d
                grads[2 * i + 1] = d.sum(axis=0)
                if i > 0:
                    d = (d @ Ws[i].T) * (acts[i] > 0)
            state["t"] += 1
            t = state["t"]
            step = setup.lr / (1 - b1**t)
            c2 = np.sqrt(1 - b2**t)
            for p, g, m, v, tmp in zip(params, grads, ms, vs, tmps):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                np.multiply(g, g, out=tmp)
                tmp *= 1 - b2
                v += tmp
                np.sqrt(v, out=tmp)
                tmp /= c2
                tmp += eps
                np.divide(m, tmp, out=tmp)
                tmp *= step
                p -= tmp
        for start in range(0, len(xv), 2000):
            forward(xv[start:start + 2000])

    return epoch


def with_flush(fn: Callable[[], None]) -> Callable[[], None]:
    """The same epoch with subnormals flushed to zero (as dlbasics trains by default)."""
    from .numerics import flush_denormals

    def epoch() -> None:
        with flush_denormals():
            fn()

    return epoch


def torch_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0, flush: bool = False) -> Callable[[], None] | None:
    """PyTorch CPU, 1 intra-op thread: nn.Sequential + CrossEntropyLoss + torch.optim.Adam."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    sizes = [x.shape[1], *setup.hidden, 10]
    layers: list = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=setup.lr)
    lossf = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    txv = torch.from_numpy(xv)
    gen = torch.Generator().manual_seed(seed)

    def epoch() -> None:
        torch.set_flush_denormal(flush)
        torch_epoch(net, opt, lossf, tx, ty, txv, setup.batch, 2000, gen)
        torch.set_flush_denormal(False)

    return epoch


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


def median_epoch_times(contenders: dict[str, Callable[[], None]], epochs: int, rounds: int) -> dict[str, float]:
    """Interleave contenders round by round; return each one's median epoch time in seconds."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():  # warm-up epoch: allocations, caches, lazy imports
        fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            for _ in range(epochs):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


# ----------------------------------------------------------------------------- the CNN of configs/mnist_cnn.yaml

CNN_CONFIG = "configs/mnist_cnn.yaml"


def cnn_layers() -> list[dict]:
    """The layer list of configs/mnist_cnn.yaml (or the same network if the file is not here)."""
    from pathlib import Path

    from .config import load_config

    if Path(CNN_CONFIG).is_file():
        return load_config(CNN_CONFIG)["model"]["layers"]
    conv = [{"type": "conv2d", "out_channels": c, "kernel_size": 3, "padding": "same"} for c in (32, 64)]
    block = [[c, {"type": "batchnorm2d"}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2}] for c in conv]
    return [*block[0], *block[1], {"type": "flatten"}, {"type": "dense", "units": 128}, {"type": "relu"},
            {"type": "dropout", "p": 0.3}, {"type": "dense", "units": 10}]


def dlbasics_cnn_fn(x, y, xv, yv, layers: list[dict], batch: int = 100) -> Callable[[], None]:
    from .nn.losses import CrossEntropyLoss
    from .nn.model import Sequential
    from .nn.registry import layer_from_config
    from .optim.optimizers import Adam
    from .train.loop import fit

    model = Sequential([layer_from_config(dict(spec)) for spec in layers])
    model.build((1, 28, 28), np.random.default_rng(0), np.float32, noise_rng=np.random.default_rng(1))
    loss, opt, rng = CrossEntropyLoss(), Adam(model.parameters()), np.random.default_rng(0)

    def epoch() -> None:
        fit(model, loss, opt, x, y, epochs=1, batch_size=batch, rng=rng, x_val=xv, y_val=yv, eval_batch_size=500)

    return epoch


def torch_cnn_fn(x, y, xv, yv, layers: list[dict], batch: int = 100) -> Callable[[], None] | None:
    """The same network in torch.nn (layer by layer from the config), trained the same way on 1 thread."""
    try:
        import torch
    except ImportError:
        return None
    nn = torch.nn
    torch.set_num_threads(1)
    torch.manual_seed(0)
    mods, channels, features = [], 1, None
    for spec in layers:
        kind = spec["type"]
        if kind == "conv2d":
            mods.append(nn.Conv2d(channels, spec["out_channels"], spec["kernel_size"], spec.get("stride", 1),
                                  spec.get("padding", 0)))
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
    tx, ty, txv = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xv)
    net(tx[:2])  # materialise the lazy layer
    opt, lossf = torch.optim.Adam(net.parameters()), nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        torch_epoch(net, opt, lossf, tx, ty, txv, batch, 500, gen)

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


def bench_cnn(x, y, xv, yv, samples: int, epochs: int, rounds: int) -> None:
    from threadpoolctl import threadpool_limits

    layers = cnn_layers()
    images, val_images = x[:samples].reshape(-1, 1, 28, 28), xv[:samples // 5].reshape(-1, 1, 28, 28)
    labels, val_labels = y[:samples], yv[:samples // 5]
    print(f"\nmnist_cnn ({CNN_CONFIG}), batch 100, Adam; epochs of {len(images)} train / {len(val_images)} val "
          "samples")
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
    if torch_fn is not None:
        print(f"ratio dlbasics / pytorch cpu (CNN):  {med['dlbasics'] / med['pytorch (cpu, 1 thread)']:.2f}"
              "  (goal <= 1.20)")
    print(f"im2col conv 32->64 3x3 vs the naive loops: forward {fwd:.0f}x, backward {bwd:.0f}x faster")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per contender per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (contenders interleaved)")
    parser.add_argument("--config", default=CONFIG, help="take hidden widths, batch size and lr from this config")
    parser.add_argument("--only", choices=["mlp", "cnn", "throughput"], help="run one of the benchmarks")
    parser.add_argument("--cnn-samples", type=int, default=6000, help="training samples per CNN epoch")
    args = parser.parse_args(argv)
    if args.only in (None, "mlp", "cnn"):
        setup = Setup.from_config(args.config)
        x, y, xv, yv, source = load_data()
        if args.only != "cnn":
            bench_mlp(x, y, xv, yv, source, setup, args.epochs, args.rounds)
        if args.only != "mlp":
            bench_cnn(x, y, xv, yv, args.cnn_samples, 1, args.rounds)
    if args.only in (None, "throughput"):
        from .bench_throughput import bench_throughput

        bench_throughput(args.rounds)


def bench_mlp(x, y, xv, yv, source: str, setup: Setup, epochs: int, rounds: int) -> None:
    from threadpoolctl import threadpool_limits

    print(f"mnist_adam MLP {[x.shape[1], *setup.hidden, 10]}, batch {setup.batch}, Adam lr {setup.lr:g}; "
          f"{len(x)} train / {len(xv)} val; {source}")
    numpy_ref, torch_ref = "numpy (minimal loop)", "pytorch (cpu, 1 thread)"
    with threadpool_limits(limits=1, user_api="blas"):
        contenders = {"dlbasics": dlbasics_epoch_fn(x, y, xv, yv, setup),
                      numpy_ref: numpy_epoch_fn(x, y, xv, yv, setup),
                      numpy_ref + " + flush": with_flush(numpy_epoch_fn(x, y, xv, yv, setup))}
        torch_fn = torch_epoch_fn(x, y, xv, yv, setup)
        if torch_fn is not None:
            contenders[torch_ref] = torch_fn
            contenders[torch_ref + " + flush"] = torch_epoch_fn(x, y, xv, yv, setup, flush=True)
        med = median_epoch_times(contenders, epochs, rounds)
    print(f"median seconds per epoch over {rounds} rounds x {epochs} epochs "
          "(+ flush: subnormals flushed to zero, as dlbasics trains by default):")
    ours = med["dlbasics"]
    for name, t in med.items():
        print(f"  {name:<34} {t:7.3f} s   dlbasics / this = {ours / t:.2f}")
    print(f"ratio dlbasics / numpy minimal loop: {ours / med[numpy_ref]:.2f}  (goal <= 1.20)")
    if torch_fn is not None:
        print(f"ratio dlbasics / pytorch cpu:        {ours / med[torch_ref]:.2f}  (goal <= 0.70)")
    else:
        print("pytorch not installed: no torch ratio (pip install torch==2.13.0+cpu to add it)")


if __name__ == "__main__":
    main()
