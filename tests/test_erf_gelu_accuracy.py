"""The hand-written erf and normal CDF against math.erf on dense grids, and the float32 exact GELU against float64."""

from __future__ import annotations

import math

import numpy as np

from dlbasics.nn.activations import GELU
from dlbasics.nn.special import erf, ndtr, ndtr_float32


def _grid32() -> np.ndarray:
    """Every region: a dense linear grid over [-6, 6], tiny magnitudes down to 1e-30 of both signs, the edges."""
    tiny = np.float32(10) ** np.linspace(-30, 0.7, 20001, dtype=np.float32)
    return np.unique(np.concatenate([np.linspace(-6, 6, 120001, dtype=np.float32), tiny, -tiny,
                                     np.array([0, 3.9, 4, 4.1, 1e4, -1e4, 3e38, -3e38], np.float32)]))


def test_float32_erf_is_within_1e7_relative_of_math_erf_everywhere():
    x = _grid32()
    got = erf(x)
    exact = np.array([math.erf(float(v)) for v in x])
    assert got.dtype == np.float32
    nonzero = exact != 0
    assert np.max(np.abs(got[nonzero] - exact[nonzero]) / np.abs(exact[nonzero])) < 1e-7
    assert np.all(got[~nonzero] == 0)


def test_float64_erf_is_within_1e15_relative_and_the_edges_hold():
    x = np.concatenate([np.linspace(-8, 8, 40001), 10.0 ** np.linspace(-300, 0.5, 2001), [30.0, -30.0]])
    x = x[x != 0]
    exact = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - exact) / np.abs(exact)) < 1e-15
    special = erf(np.array([np.inf, -np.inf, np.nan], np.float32))
    assert special[0] == 1 and special[1] == -1 and np.isnan(special[2])


def test_normal_cdf_float32_paths_against_math_erfc():
    x = _grid32()
    exact = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    assert np.max(np.abs(ndtr(x) - exact)) < 1e-7  # the erf-accurate ratio
    with np.errstate(over="raise", invalid="raise"):  # huge and infinite inputs saturate without a warning
        fast = ndtr_float32(np.concatenate([x, np.array([np.inf, -np.inf], np.float32)]))
    assert fast.dtype == np.float32 and fast[-2] == 1 and fast[-1] == 0
    assert np.max(np.abs(fast[:-2] - exact)) < 1e-7
    assert np.isnan(ndtr_float32(np.array([np.nan], np.float32)))[0]


def test_float32_exact_gelu_forward_and_backward_agree_with_float64():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(5000) * 3, np.linspace(-9, 9, 3001)]).reshape(-1, 1)
    dout = rng.standard_normal(x.shape)
    ref = GELU()
    out64, dx64 = ref.forward(x, True), ref.backward(dout)
    layer = GELU()
    for _ in range(2):  # the second call reuses the work arrays
        out32 = layer.forward(x.astype(np.float32), True)
        dx32 = layer.backward(dout.astype(np.float32))
    assert out32.dtype == dx32.dtype == np.float32
    assert np.max(np.abs(out32 - out64) / np.maximum(np.abs(out64), 1)) < 1e-6
    assert np.max(np.abs(dx32 - dx64) / np.maximum(np.abs(dx64), 1)) < 1e-6


def test_gelu_keeps_the_dtype_of_each_input_when_float32_and_float64_alternate():
    layer, x = GELU(), np.linspace(-3, 3, 12).reshape(3, 4)
    for dtype in (np.float32, np.float64, np.float32):
        out = layer.forward(x.astype(dtype), True)
        assert out.dtype == dtype and layer.backward(np.ones_like(out)).dtype == dtype
