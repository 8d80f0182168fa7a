"""y <- a x + b y by the BLAS routine NumPy loaded (one pass) agrees with NumPy's three passes to within the one
rounding the fused multiply-add saves, and falls back to NumPy wherever BLAS could differ in kind."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dlbasics.optim import blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 16, 1001])
def test_axpby_agrees_with_the_numpy_reference(dtype, n):
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    fast, slow = y.copy(), y.copy()
    blas.axpby(0.1, x, 0.9, fast)
    blas.axpby_numpy(0.1, x, 0.9, slow)
    scale = 0.1 * np.abs(x) + 0.9 * np.abs(y)  # the size of the terms: the error bound of either form
    assert np.all(np.abs(fast - slow) <= 2 * np.finfo(dtype).eps * scale)
    assert fast.dtype == dtype


def test_zero_coefficients_and_odd_layouts_keep_numpys_semantics():
    x, y = np.array([1.0, np.nan, 2.0]), np.array([np.nan, 1.0, 3.0])
    out = y.copy()
    blas.axpby(1.0, x, 0.0, out)  # NumPy: nan * 0 = nan; a BLAS may skip reading y
    np.testing.assert_array_equal(out, [np.nan, np.nan, 2.0])
    strided = np.zeros(6)[::2]
    blas.axpby(2.0, x[[0, 2, 2]], 1.0, strided)
    np.testing.assert_array_equal(strided, [2.0, 4.0, 4.0])
    mixed = np.zeros(3, np.float32)
    blas.axpby(1.0, np.ones(3), 1.0, mixed)
    np.testing.assert_array_equal(mixed, [1, 1, 1])


def test_aliased_and_overlapping_arrays_give_the_mathematical_result():
    y = np.array([1.0, 2.0])
    blas.axpby(0.5, y, 0.5, y)  # x is y
    np.testing.assert_array_equal(y, [1.0, 2.0])
    a = np.arange(10.0)
    blas.axpby(1.0, a[:-1], 2.0, a[1:])  # y_i <- x_i + 2 y_i with x the old values shifted by one
    np.testing.assert_array_equal(a, [0.0] + [i - 1 + 2 * i for i in range(1, 10)])


def test_the_backend_is_named_and_can_be_switched_off():
    from threadpoolctl import threadpool_info

    openblas = any(info.get("internal_api") == "openblas" for info in threadpool_info())
    assert ("axpby" in blas.backend()) == openblas  # NumPy's wheels bring OpenBLAS: it must be found and used
    code = "from dlbasics.optim import blas; print(blas.backend())"
    env = {**os.environ, "DLB_BLAS_AXPBY": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"
