"""`make bench`, memory: peak resident memory of one epoch of training, dlbasics vs PyTorch, measured alike.

    python -m dlbasics.bench --only memory [--memory-samples N]

Each figure comes from a fresh child process (``python -m dlbasics.bench_memory <kind> <config> <samples>``) that
trains and then reports its own peak resident set (VmHWM of /proc/self/status, else ``ru_maxrss``):

- ``dlbasics``: ``dlb train CONFIG --set train.epochs=1`` as the CLI runs it (data loading, splits, training,
  validation, the test evaluation and the run folder), into a temporary runs folder;
- ``pytorch``: the same data read by the same IDX reader, split the same way, turned into float32 tensors once
  (x / 255, as torchvision's ToTensor), the same network (torch.nn, built from the config as the CNN bench does),
  Adam, batch 100, one epoch, validation and test passes in chunks of train.eval_batch_size; nothing else.
- ``... imports only``: a child that imports NumPy + dlbasics (or torch) and trains nothing: the floor each
  library starts from.

With ``samples`` > 0 both train on the same stratified subset (``data.train_size``) of that many samples.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_common import CNN_CONFIG, CONFIG


def peak_rss_mb() -> float:
    """This process's peak resident set in MB: VmHWM from /proc/self/status, else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / (1024 if sys.platform == "darwin" else 1)


def _overrides(samples: int, extra: list[str] | None = None) -> list[str]:
    return ["train.epochs=1"] + ([f"data.train_size={samples}"] if samples else []) + list(extra or [])


def _child_dlbasics(config: str, samples: int, extra: list[str]) -> None:
    from .cli.main import main

    with tempfile.TemporaryDirectory() as runs:
        sys.argv = ["dlb", "train", config, "--quiet", "--runs-dir", runs]
        for o in _overrides(samples, extra):
            sys.argv += ["--set", o]
        try:
            main()
        except SystemExit as err:
            if err.code:
                raise


def _child_torch(config: str, samples: int, extra: list[str]) -> None:
    import numpy as np
    import torch

    from .bench_cnn import torch_cnn
    from .bench_common import torch_epoch
    from .config import load_config
    from .data.datasets import load_dataset, split_indices

    torch.set_num_threads(1)
    cfg = load_config(config, _overrides(samples, extra))
    ds = load_dataset(cfg["data"]["name"], progress=False)
    tr, va, _ = split_indices(len(ds.x_train), ds.y_train, False, cfg["data"]["val_split"],
                              np.random.default_rng(cfg["seed"]), cfg["data"]["train_size"])

    def tensor(raw: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(raw).float()
        t /= 255
        return t.reshape(len(raw), 1, 28, 28)

    x, y = tensor(ds.x_train[tr]), torch.from_numpy(ds.y_train[tr].astype(np.int64))
    xv = tensor(ds.x_train[va])
    xt = tensor(ds.x_test)
    del ds
    model = cfg["model"]
    if model["type"] == "mlp":
        sizes = [784, *model["hidden"]]
        layers: list = [torch.nn.Flatten()]
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    else:
        net = torch_cnn(model["layers"], x[:2])
    opt, lossf = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"]), torch.nn.CrossEntropyLoss()
    chunk = cfg["train"]["eval_batch_size"]
    # one epoch as dlb train makes it: shuffled mini-batches, the validation pass, then the test pass
    torch_epoch(net, opt, lossf, x, y, xv, cfg["train"]["batch_size"], chunk, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for start in range(0, len(xt), chunk):
            net(xt[start:start + chunk])


def _child(kind: str, config: str, samples: int, extra: list[str]) -> None:
    t0 = time.perf_counter()
    if kind == "dlbasics":
        _child_dlbasics(config, samples, extra)
    elif kind == "pytorch":
        _child_torch(config, samples, extra)
    elif kind == "dlbasics-import":
        import numpy  # noqa: F401

        from . import runner  # noqa: F401
    elif kind == "pytorch-import":
        import torch  # noqa: F401
    print(json.dumps({"peak_mb": peak_rss_mb(), "seconds": time.perf_counter() - t0}))


def measure(kind: str, config: str, samples: int, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """Run one fresh child (``extra``: more --set overrides) and return its {"peak_mb", "seconds"}."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "dlbasics.bench_memory", kind, config, str(samples), *extra],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {kind} {config} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_memory(samples: int = 0, configs: tuple[str, ...] = (CONFIG, CNN_CONFIG)) -> dict[str, float]:
    from .bench_common import torch_or_none

    have_torch = torch_or_none() is not None
    what = f"a stratified subset of {samples} training samples" if samples else "the full training split"
    print(f"\nmemory: peak resident set (VmHWM) of a fresh process training 1 epoch on {what} (+ validation and test "
          "passes), 1 thread")
    floors = {k: measure(k, CONFIG, 0)["peak_mb"] for k in ("dlbasics-import", "pytorch-import")[:1 + have_torch]}
    print("  imports only: " + ", ".join(f"{k.split('-')[0]} {v:.0f} MB" for k, v in floors.items()))
    out = {}
    for config in configs:
        ours = measure("dlbasics", config, samples)
        line = f"  {config:<26} dlbasics {ours['peak_mb']:6.0f} MB ({ours['seconds']:.0f} s)"
        if have_torch:
            theirs = measure("pytorch", config, samples)
            out[config] = ours["peak_mb"] / theirs["peak_mb"]
            line += (f"   pytorch {theirs['peak_mb']:6.0f} MB ({theirs['seconds']:.0f} s)   dlbasics / pytorch "
                     f"{out[config]:.2f} (goal <= 1.00: {'met' if out[config] <= 1 else 'NOT met'})")
        print(line)
    return out


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:])
