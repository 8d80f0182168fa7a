"""`make bench`, exact GELU: forward + backward of a (100, 256) float32 batch against ReLU's plus Tanh's.

    python -m dlbasics.bench --only gelu

Each contender runs ``repeats`` forward+backward pairs per round on the same batch (N(0, 2^2) inputs, the
range where GELU bends); rounds interleave the contenders; the median over rounds of the time per pair is
reported (on the bench's clock). The erf itself (float32, accurate to 1e-7 relative) is timed beside.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from .bench_common import CLOCKS, clock_name, ratio_line


def _pair(layer, x: np.ndarray, dout: np.ndarray) -> Callable[[], None]:
    def run() -> None:
        layer.forward(x, True)
        layer.backward(dout)
    return run


def bench_gelu(rounds: int = 5, repeats: int = 300, shape: tuple[int, int] = (100, 256)) -> dict[str, float]:
    from .bench_common import _clock
    from .nn.activations import GELU, ReLU, Tanh
    from .nn.special import erf

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)
    relu, tanh = _pair(ReLU(), x, dout), _pair(Tanh(), x, dout)
    contenders: dict[str, Callable[[], object]] = {
        "gelu (exact)": _pair(GELU(), x, dout), "gelu (tanh)": _pair(GELU("tanh"), x, dout),
        "relu + tanh": lambda: (relu(), tanh()), "relu": relu, "tanh": tanh, "erf (float32)": lambda: erf(x)}
    clock = CLOCKS[_clock["name"]]
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            t0 = clock()
            for _ in range(repeats):
                fn()
            times[name].append((clock() - t0) / repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nactivations, forward + backward of a {shape} float32 batch ({clock_name()} time, medians of {rounds} "
          f"rounds x {repeats}):")
    for name, t in med.items():
        print(f"  {name:<34} {t * 1e6:7.1f} us")
    ratio = med["gelu (exact)"] / med["relu + tanh"]
    print(ratio_line("ratio gelu (exact) / (relu + tanh):", ratio, "<= 2.00"))
    return {"gelu": ratio}
