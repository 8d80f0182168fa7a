"""``y <- a x + b y`` in one pass over memory: the level-1 BLAS routine ``?axpby`` of the BLAS NumPy has loaded.

Written in NumPy the same update is three passes and a temporary (``y *= b; t = a * x; y += t``); an optimizer
step makes several of them per parameter, and on an MNIST MLP they are a fifth of an epoch. OpenBLAS (the BLAS
of NumPy's wheels) exports ``cblas_saxpby`` / ``cblas_daxpby``, which read ``x`` and ``y`` once and write ``y``
once, with a fused multiply-add: the result differs from NumPy's three roundings by at most one unit in the
last place (``a x`` is not rounded on its own), and is the same from run to run.

The library is found through threadpoolctl (which already pins the BLAS threads): its file and the symbol
names OpenBLAS builds use (``scipy_cblas_saxpby64_`` in NumPy >= 2, ``cblas_saxpby64_`` or ``cblas_saxpby``
elsewhere). Any other BLAS (MKL, Accelerate), a non-contiguous array, another dtype, or ``a`` or ``b`` equal to
0 (where BLAS may skip reading ``x`` or ``y`` and so drop a NaN that NumPy would keep) takes :func:`axpby_numpy`,
the reference. ``DLB_BLAS_AXPBY=0`` in the environment switches the BLAS routine off.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

_ROUTINES: dict[np.dtype, Any] | None = None


def axpby_numpy(a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
    """The reference: y <- a x + b y in place, in NumPy (three passes: a x into a new array, b y, the sum; a x
    first, so ``x`` may be ``y`` or overlap it)."""
    ax = a * x
    y *= b
    y += ax


def axpby(a: float, x: np.ndarray, b: float, y: np.ndarray) -> None:
    """y <- a x + b y in place (x, y of one shape and dtype); BLAS ``?axpby`` when available, else NumPy."""
    routine = _routines().get(y.dtype) if a and b else None
    if (routine is None or x.dtype != y.dtype or x.shape != y.shape or not x.flags.c_contiguous
            or not y.flags.c_contiguous or not y.flags.writeable or y.size > routine.max_size
            or (x is not y and np.may_share_memory(x, y))):
        axpby_numpy(a, x, b, y)
        return
    routine(y.size, a, x.ctypes.data, 1, b, y.ctypes.data, 1)


def backend() -> str:
    """Which implementation :func:`axpby` uses for float32: the library file and symbol, or "numpy"."""
    routine = _routines().get(np.dtype(np.float32))
    return getattr(routine, "description", "numpy")


def _routines() -> dict[np.dtype, Any]:
    global _ROUTINES
    if _ROUTINES is None:
        _ROUTINES = _find() if os.environ.get("DLB_BLAS_AXPBY", "1") != "0" else {}
    return _ROUTINES


def _find() -> dict[np.dtype, Any]:
    """cblas_saxpby / cblas_daxpby of the OpenBLAS that NumPy loaded, typed for ctypes; {} if there is none."""
    try:
        from threadpoolctl import threadpool_info

        libraries = [info for info in threadpool_info()
                     if info.get("user_api") == "blas" and info.get("internal_api") == "openblas"]
    except Exception:  # threadpoolctl cannot inspect this process: keep NumPy
        return {}
    for info in libraries:
        try:
            lib = ctypes.CDLL(info["filepath"])
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                index = _index_type(lib, prefix, suffix)
                names = {np.dtype(np.float32): (f"{prefix}cblas_saxpby{suffix}", ctypes.c_float),
                         np.dtype(np.float64): (f"{prefix}cblas_daxpby{suffix}", ctypes.c_double)}
                if not all(hasattr(lib, name) for name, _ in names.values()):
                    continue
                found = {}
                for dtype, (name, scalar) in names.items():
                    routine = getattr(lib, name)
                    routine.argtypes = [index, scalar, ctypes.c_void_p, index, scalar, ctypes.c_void_p, index]
                    routine.restype = None
                    routine.max_size = np.iinfo(np.int64 if index is ctypes.c_int64 else np.int32).max
                    routine.description = f"{os.path.basename(info['filepath'])}:{names[np.dtype(np.float32)][0]}"
                    found[dtype] = routine
                if _agrees(found):
                    return found
    return {}


def _index_type(lib: Any, prefix: str, suffix: str) -> Any:
    """The C type of BLAS sizes in this build: 64-bit when OpenBLAS says it was built with USE64BITINT (its
    ``openblas_get_config``; NumPy's wheels are), else C int. Without the answer: 64-bit for the ``64_``
    symbols (the ILP64 naming convention), int otherwise."""
    for name in (f"{prefix}openblas_get_config{suffix}", f"{prefix}openblas_get_config"):
        config = getattr(lib, name, None)
        if config is not None:
            config.restype, config.argtypes = ctypes.c_char_p, []
            return ctypes.c_int64 if b"USE64BITINT" in (config() or b"") else ctypes.c_int
    return ctypes.c_int64 if suffix else ctypes.c_int


def _agrees(found: dict[np.dtype, Any]) -> bool:
    """The routines compute y <- a x + b y here (to within a unit in the last place), on a small case with a
    tail that is not a multiple of any vector width; a library that does not is not used."""
    rng = np.random.default_rng(0)
    for dtype, routine in found.items():
        x, y = rng.standard_normal(37).astype(dtype), rng.standard_normal(37).astype(dtype)
        expected = x.astype(np.float64) * 0.25 + y.astype(np.float64) * 0.75
        routine(37, 0.25, x.ctypes.data, 1, 0.75, y.ctypes.data, 1)
        if not np.allclose(y, expected, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps):
            return False
    return True
