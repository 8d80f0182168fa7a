"""`make bench`, the MLP of configs/mnist_adam.yaml: seconds per epoch against the matmul floor and PyTorch.

Every contender does the same work per epoch: one permutation of the training set in mini-batches (forward,
softmax cross-entropy, backward, Adam step) and one forward pass over the validation split, on 1 BLAS /
intra-op thread:

- dlbasics as ``dlb train`` runs it (``fit``);
- a minimal hand-written NumPy loop of the same network (no classes, no callbacks);
- PyTorch on the CPU with ``torch.optim.Adam`` (default, for-each) and with ``Adam(fused=True)``;
- the matmul floor: only the matrix products of the same epoch (forward, weight gradients, input gradients
  except the first layer's, which ``Sequential`` skips, and the validation forward), into preallocated
  buffers. Nothing an MLP written on NumPy does can be faster; what dlbasics spends beyond it is the price
  of everything else (Adam, activations, the loss, the loop).

    python -m dlbasics.bench --only mlp [--epochs 2] [--rounds 3]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .bench_common import Setup, clock_name, median_epoch_times, ratio_line, torch_epoch, torch_or_none

EVAL_CHUNK = 2000  # fit's default eval_batch_size; every contender validates in chunks of this size


def dlbasics_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0) -> Callable[[], None]:
    """The library as `dlb train` runs it: NCHW images, Flatten + MLP, CrossEntropyLoss, Adam, ``fit``."""
    from .nn.losses import CrossEntropyLoss
    from .nn.model import Sequential
    from .nn.registry import mlp_layers
    from .optim.groups import build_param_groups
    from .optim.optimizers import Adam
    from .train.loop import fit

    images, val_images = x.reshape(-1, 1, 28, 28), xv.reshape(-1, 1, 28, 28)
    model = Sequential(mlp_layers(list(setup.hidden), 10)).build((1, 28, 28), np.random.default_rng(seed))
    # the groups of dlb train: weights, and biases without weight decay (each stepped as one flat array)
    loss, opt = CrossEntropyLoss(), Adam(build_param_groups(model), lr=setup.lr)
    rng = np.random.default_rng(seed)

    def epoch() -> None:
        fit(model, loss, opt, images, y, epochs=1, batch_size=setup.batch, rng=rng, x_val=val_images, y_val=yv,
            eval_batch_size=EVAL_CHUNK)

    return epoch


def _he(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    return [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32) for a, b in itertools.pairwise(sizes)]


def numpy_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0) -> Callable[[], None]:
    """A reference: the same network and Adam written as bare NumPy, in place wherever possible."""
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *setup.hidden, 10]
    Ws = _he(rng, sizes)
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
        for start in range(0, len(xv), EVAL_CHUNK):
            forward(xv[start:start + EVAL_CHUNK])

    return _flushed(epoch)


def matmul_floor_fn(x, xv, setup: Setup, seed: int = 0) -> Callable[[], None]:
    """Only the matrix products of one epoch, as dlbasics computes them, into preallocated buffers.

    Per mini-batch of B rows: forward h_i = a_{i-1} @ W_i (B, d_{i-1}) @ (d_{i-1}, d_i); weight gradients
    a_{i-1}^T @ delta_i (the transposed view, as ``Dense.backward``); input gradients delta_i @ W_i^T for every
    layer but the first. Then the validation forward in chunks of 2000. The values multiplied are real
    activations (the rows of ``x`` and the products before them) so no operand is subnormal.
    """
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *setup.hidden, 10]
    Ws = _he(rng, sizes)
    B, L = setup.batch, len(Ws)
    outs = [np.empty((B, d), np.float32) for d in sizes[1:]]
    grads = [np.empty_like(W) for W in Ws]
    dxs = [np.empty((B, d), np.float32) for d in sizes[1:-1]]
    vouts = [np.empty((EVAL_CHUNK, d), np.float32) for d in sizes[1:]]
    scale = [np.float32(1 / np.sqrt(d)) for d in sizes[1:]]  # keeps the stand-in deltas at a normal size

    def products(a: np.ndarray, out: list[np.ndarray], backward: bool) -> None:
        n = len(a)
        acts = [a]
        for i in range(L):
            h = np.matmul(acts[i], Ws[i], out=out[i][:n])
            h *= scale[i]
            acts.append(h)
        if backward:
            for i in reversed(range(L)):
                np.matmul(acts[i].T, acts[i + 1], out=grads[i])  # delta_i stands in as the layer's output
                if i > 0:
                    np.matmul(acts[i + 1], Ws[i].T, out=dxs[i - 1][:n])

    def epoch() -> None:
        for start in range(0, len(x), B):
            products(x[start:start + B], outs, True)
        for start in range(0, len(xv), EVAL_CHUNK):
            products(xv[start:start + EVAL_CHUNK], vouts, False)

    return _flushed(epoch)


def _flushed(fn: Callable[[], None]) -> Callable[[], None]:
    """The same epoch with subnormals flushed to zero, as dlbasics trains by default."""
    from .numerics import flush_denormals

    def epoch() -> None:
        with flush_denormals():
            fn()

    return epoch


def torch_epoch_fn(x, y, xv, yv, setup: Setup, seed: int = 0, fused: bool = False) -> Callable[[], None] | None:
    """PyTorch CPU, 1 intra-op thread: nn.Sequential + CrossEntropyLoss + torch.optim.Adam (``fused`` or not)."""
    torch = torch_or_none()
    if torch is None:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    sizes = [x.shape[1], *setup.hidden, 10]
    layers: list = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=setup.lr, fused=fused or None)
    lossf = torch.nn.CrossEntropyLoss()
    tx, ty, txv = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(xv)
    gen = torch.Generator().manual_seed(seed)

    def epoch() -> None:
        torch_epoch(net, opt, lossf, tx, ty, txv, setup.batch, EVAL_CHUNK, gen)

    return epoch


def mlp_contenders(x, y, xv, yv, setup: Setup, torch_too: bool = True) -> dict[str, Callable[[], None]]:
    """dlbasics, the matmul floor, the NumPy loop and (when installed) PyTorch with and without fused Adam."""
    contenders = {"dlbasics": dlbasics_epoch_fn(x, y, xv, yv, setup),
                  FLOOR: matmul_floor_fn(x, xv, setup),
                  NUMPY: numpy_epoch_fn(x, y, xv, yv, setup)}
    if torch_too and torch_or_none() is not None:
        contenders[TORCH] = torch_epoch_fn(x, y, xv, yv, setup)
        contenders[TORCH_FUSED] = torch_epoch_fn(x, y, xv, yv, setup, fused=True)
    return contenders


FLOOR, NUMPY = "matmul floor (products only)", "numpy (minimal loop)"
TORCH, TORCH_FUSED = "pytorch (cpu, 1 thread)", "pytorch, Adam(fused=True)"


def bench_mlp(x, y, xv, yv, source: str, setup: Setup, epochs: int, rounds: int) -> dict[str, float]:
    """Print the median epoch times and the ratios of item 2 of issue 14; return the ratios."""
    from threadpoolctl import threadpool_limits

    print(f"mnist_adam MLP {[x.shape[1], *setup.hidden, 10]}, batch {setup.batch}, Adam lr {setup.lr:g}; "
          f"{len(x)} train / {len(xv)} val; {source}")
    with threadpool_limits(limits=1, user_api="blas"):
        med = median_epoch_times(mlp_contenders(x, y, xv, yv, setup), epochs, rounds)
    print(f"median seconds per epoch ({clock_name()} time), 1 thread, {rounds} rounds x {epochs} epochs interleaved:")
    ours = med["dlbasics"]
    for name, t in med.items():
        print(f"  {name:<34} {t:7.3f} s   dlbasics / this = {ours / t:.2f}")
    ratios = {"floor": ours / med[FLOOR], "numpy": ours / med[NUMPY]}
    print(ratio_line("ratio dlbasics / matmul floor (MLP):", ratios["floor"], "<= 1.30"))
    print(ratio_line("ratio dlbasics / numpy minimal loop:", ratios["numpy"], "<= 1.20"))
    if TORCH in med:
        ratios["torch"], ratios["torch_fused"] = ours / med[TORCH], ours / med[TORCH_FUSED]
        print(ratio_line("ratio dlbasics / pytorch (default Adam):", ratios["torch"], "<= 0.70"))
        print(ratio_line("ratio dlbasics / pytorch Adam(fused=True):", ratios["torch_fused"], "<= 0.75"))
    else:
        print("pytorch not installed: no torch ratios (pip install torch==2.13.0+cpu to add them)")
    return ratios
