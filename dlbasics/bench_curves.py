"""`make bench`, cost curves: seconds per MNIST epoch of the mnist_adam MLP against batch size and hidden width,
dlbasics and PyTorch (1 thread, default Adam), printed and drawn into a PNG.

    python -m dlbasics.bench --only curves [--curve-samples 6000] [--out runs/bench]

Each point trains ``samples`` training samples (and validates on a tenth as many) and is extrapolated to a
54,000-sample epoch (x 54,000 / samples): a fixed amount of work per point keeps the run short. Widths vary
both hidden layers of [784, w, w, 10] at batch 100; batch sizes vary at the config's widths. The contenders
alternate point by point; each point is the median of ``rounds`` epochs after a warm-up.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .bench_common import Setup, median_epoch_times, torch_or_none

BATCHES = (16, 32, 64, 128, 256, 512, 1024)
WIDTHS = (64, 128, 256, 512, 1024)


def cost_curves(x, y, xv, yv, setup: Setup, samples: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """{"batch"|"width": {"dlbasics"|"pytorch": seconds per 54,000-sample epoch at each point}}."""
    from threadpoolctl import threadpool_limits

    from .bench_mlp import dlbasics_epoch_fn, torch_epoch_fn

    xs, ys, xvs, yvs = x[:samples], y[:samples], xv[:samples // 10], yv[:samples // 10]
    scale = 54000 / len(xs)
    have_torch = torch_or_none() is not None
    points = {"batch": [replace(setup, batch=b) for b in BATCHES],
              "width": [replace(setup, hidden=(w,) * len(setup.hidden), batch=100) for w in WIDTHS]}
    out: dict[str, dict[str, list[float]]] = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for axis, setups in points.items():
            curves: dict[str, list[float]] = {"dlbasics": [], "pytorch": []} if have_torch else {"dlbasics": []}
            for s in setups:
                contenders = {"dlbasics": dlbasics_epoch_fn(xs, ys, xvs, yvs, s)}
                if have_torch:
                    contenders["pytorch"] = torch_epoch_fn(xs, ys, xvs, yvs, s)
                for name, t in median_epoch_times(contenders, 1, rounds).items():
                    curves[name].append(t * scale)
            out[axis] = curves
    return out


def plot_cost_curves(curves: dict[str, dict[str, list[float]]], title: str):
    """Two log-log panels: seconds per epoch against batch size and against hidden width. Returns the Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, (axis, xs, label) in zip(fig.subplots(1, 2), (("batch", BATCHES, "batch size (widths 256, 256)"),
                                                         ("width", WIDTHS, "hidden width w of [784, w, w, 10] "
                                                                           "(batch 100)"))):
        for name, ys in curves[axis].items():
            ax.plot(xs, ys, marker="o", label=name if name == "dlbasics" else f"{name} (default Adam)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        values = [v for ys in curves[axis].values() for v in ys]
        wide = max(values) > 10 * min(values)  # a decade or more: the decades alone, else every tick
        ax.yaxis.set_minor_formatter(NullFormatter() if wide else FormatStrFormatter("%g"))
        ax.set_xticks(xs, [str(v) for v in xs])
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per 54,000-sample epoch")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def bench_curves(x, y, xv, yv, setup: Setup, samples: int, rounds: int, out_dir: str) -> dict:
    from .bench_common import clock_name

    print(f"\ncost curves: mnist_adam MLP, seconds per 54,000-sample epoch extrapolated from {samples} training "
          f"samples per point ({clock_name()} time, median of {rounds}), 1 thread")
    curves = cost_curves(x, y, xv, yv, setup, samples, rounds)
    for axis, xs in (("batch", BATCHES), ("width", WIDTHS)):
        print(f"  {axis:<6} " + "".join(f"{v:>8}" for v in xs))
        for name, ys in curves[axis].items():
            print(f"  {name:<8}" + "".join(f"{t:8.2f}" for t in ys))
        if "pytorch" in curves[axis]:
            ratios = [a / b for a, b in zip(curves[axis]["dlbasics"], curves[axis]["pytorch"])]
            print("  dlb/pt  " + "".join(f"{r:8.2f}" for r in ratios))
    path = Path(out_dir) / "cost_curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_cost_curves(curves, "mnist_adam MLP, 1 thread: seconds per epoch").savefig(path, dpi=110)
    print(f"  plot: {path}")
    return curves
