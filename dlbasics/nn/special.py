"""The error function and the normal CDF for arrays (NumPy has none and SciPy is not a dependency).

Two algorithms, chosen by the input's dtype:

- float64 (and integers): W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations
  for the error function", Math. Comp. 23, 1969, pp. 631-638), the algorithm behind netlib's CALERF: three
  intervals of |x|, each a ratio of polynomials, accurate to about 1e-16 relative. Evaluated with NumPy on
  whole arrays, one interval at a time.
- float32 and float16: one ratio for the whole line, erf(x) = x P(x^2) / Q(x^2) with x clipped to [-4, 4]
  (beyond, erf rounds to +-1 in float32), P of degree 6 and Q of degree 5 in x^2, fitted here to minimise the
  largest relative error on [0, 4] (linearised least squares with Lawson re-weighting, Chebyshev nodes; the
  form of Eigen's and XLA's float erf, refitted one degree higher): 2.1e-9 relative at most. Evaluated in
  float64 (float32 Horner steps would add a few ulps) without masks or gathers, 28 passes over the array, then
  rounded: within 6.2e-8 relative of the exact erf of every float32 input (half an ulp of rounding included),
  tested against ``math.erf`` on a dense grid.

:func:`ndtr` is the standard normal CDF Phi with the same two algorithms (the 1/sqrt(2) and the halving folded
into the float32 coefficients). :func:`ndtr_float32` is the exact GELU's Phi in float32, to float32's absolute
precision in fewer passes: Phi(x) = (1 + tanh(g(x))) / 2 holds exactly for g(x) = atanh(erf(x / sqrt 2)), an odd
function fitted here as g(x) = x G(x^2), G of degree 6, on |x| <= 5.7 (weighted so the error of Phi, not of g,
is minimal: 2.9e-8 at most in exact arithmetic), evaluated in float32 with NumPy's SIMD tanh: 16 passes, within
1e-7 absolute of Phi (PyTorch's float32 ``(1 + erf(x / sqrt 2)) / 2`` is within 6e-8; both round the upper tail
to float32's 6e-8 steps near 1).
"""

from __future__ import annotations

import numpy as np

# |x| <= 0.46875: erf(x) = x * P(x^2) / Q(x^2)
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
# 0.46875 < |x| <= 4: erfc(x) = exp(-x^2) * P(|x|) / Q(|x|)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
# |x| > 4: erfc(x) = exp(-x^2) / |x| * (1/sqrt(pi) + 1/x^2 * P(1/x^2) / Q(1/x^2))
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_SQRT_PI_INV = 0.56418958354775628695

# float32: erf(x) = x * P(x^2) / Q(x^2) on |x| <= 4, lowest degree first (Q[0] = 1); 2.1e-9 relative at most
_P32 = (1.1283791693792338, 0.18520295793155223, 0.05431693058088505, 0.0038496077940876026,
        0.0003796109761045959, 4.684840211750977e-06, -1.3202537127340295e-08)
_Q32 = (1.0, 0.49746526186801837, 0.11395835509505331, 0.01546208965973454, 0.001307571942034245,
        6.31111714828846e-05)
_CLIP32 = 4.0  # erf(4) = 1 - 1.5e-8 rounds to 1 in float32
# Phi(x) - 1/2 = erf(x / sqrt 2) / 2 = x * P'(x^2) / Q'(x^2): the coefficients above with x^2 -> x^2 / 2
_SQRT_HALF = 0.70710678118654752440
_P_NDTR = tuple(c * 0.5**k * 0.5 * _SQRT_HALF for k, c in enumerate(_P32))
_Q_NDTR = tuple(c * 0.5**k for k, c in enumerate(_Q32))
_CLIP_NDTR = _CLIP32 / _SQRT_HALF
_FAST_DTYPES = (np.float32, np.float16)
# Phi(x) = (1 + tanh(x G(x^2))) / 2 on |x| <= 5.7 (Phi(5.7) = 1 - 6e-9); G's coefficients, lowest degree first
_G32 = (0.7978849414210459, 0.03633308463966776, -3.2594969707350185e-05, -5.530622349874391e-05,
        3.9647544838125815e-06, -1.322644967619665e-07, 1.756212942597499e-09)
_G32_F = tuple(np.float32(c) for c in _G32)


def _exp_neg_sq(y: np.ndarray) -> np.ndarray:
    """exp(-y^2) computed as exp(-t^2) exp(-(y-t)(y+t)) with t = y rounded down to 1/16 (Cody's accuracy trick)."""
    t = np.floor(y * 16.0) / 16.0
    return np.exp(-t * t) * np.exp(-(y - t) * (y + t))


def _erfc_small(y: np.ndarray) -> np.ndarray:
    """erfc(y) for 0.46875 < y <= 4."""
    num, den = _C[8] * y, y
    for c, d in zip(_C[:7], _D[:7]):
        num, den = (num + c) * y, (den + d) * y
    return _exp_neg_sq(y) * (num + _C[7]) / (den + _D[7])


def _erfc_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 4 (0 from y ~ 26.5 on, where it underflows)."""
    z = 1.0 / (y * y)
    num, den = _P[5] * z, z
    for p, q in zip(_P[:4], _Q[:4]):
        num, den = (num + p) * z, (den + q) * z
    r = z * (num + _P[4]) / (den + _Q[4])
    with np.errstate(under="ignore"):
        return _exp_neg_sq(y) * (_SQRT_PI_INV - r) / y


def _odd_rational(x: np.ndarray, p: tuple[float, ...], q: tuple[float, ...], clip: float,
                  work: np.ndarray | None = None) -> np.ndarray:
    """x P(x^2) / Q(x^2) for x clipped to [-clip, clip], in float64, in as few passes as NumPy allows.

    ``x``: a float32/float16 array. ``work``: three float64 arrays of x's shape, ``(3, *x.shape)``, reused
    across calls (fresh arrays of a few hundred kB each would cost a page fault per 4 kB); the result is
    ``work[2]``. NaN stays NaN (clipping keeps it)."""
    if work is None:
        work = np.empty((3, *x.shape))
    z, s, num = work
    np.copyto(z, x)
    np.clip(z, -clip, clip, out=z)
    np.multiply(z, z, out=s)
    np.multiply(s, p[-1], out=num)
    for c in p[-2:0:-1]:
        num += c
        num *= s
    num += p[0]
    num *= z
    den = np.multiply(s, q[-1], out=z)  # z is no longer needed
    for c in q[-2:0:-1]:
        den += c
        den *= s
    den += q[0]
    num /= den
    return num


def ndtr(x: np.ndarray, out: np.ndarray | None = None, work: np.ndarray | None = None) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF, element-wise, in x's float dtype.

    float32/float16: the float32 ratio of :func:`erf` with the scaling folded into its coefficients (the same
    relative error of erf), written into ``out`` when given, with ``work`` as in :func:`_odd_rational`;
    float64: ``(1 + erf(x / sqrt 2)) / 2`` with Cody's erf."""
    x = np.asarray(x)
    if x.dtype.type in _FAST_DTYPES:
        num = _odd_rational(x, _P_NDTR, _Q_NDTR, _CLIP_NDTR, work)
        return np.add(num, 0.5, out=np.empty_like(x) if out is None else out, casting="same_kind")
    cdf = erf(x * _SQRT_HALF)
    cdf += 1
    cdf *= 0.5
    if out is None:
        return cdf
    np.copyto(out, cdf)
    return out


def ndtr_float32(x: np.ndarray, out: np.ndarray | None = None, work: np.ndarray | None = None) -> np.ndarray:
    """Phi(x) for a float32 array as (1 + tanh(x G(x^2))) / 2, within 1e-7 absolute (see the module docstring).

    Beyond the fitted range (|x| > 5.7) x G(x^2) keeps growing (from 9.9 on: tanh is +-1 in float32), so nothing
    is clipped; for |x| > ~9e3 it overflows to +-inf, where tanh is still +-1. ``out``: a float32 array of x's
    shape for the result; ``work``: another, reused across calls, which holds x^2 afterwards (GELU's backward
    uses it)."""
    with np.errstate(over="ignore"):
        s = np.multiply(x, x, out=work)
        acc = np.multiply(s, _G32_F[-1], out=out)
        for c in _G32_F[-2:0:-1]:
            acc += c
            acc *= s
        acc += _G32_F[0]
        acc *= x
    np.tanh(acc, out=acc)
    acc *= np.float32(0.5)
    acc += np.float32(0.5)
    return acc


def erf(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, element-wise, in x's float dtype (float64 for integers).

    float32/float16: the single ratio (within 1e-7 relative in float32); otherwise Cody's, in float64."""
    x = np.asarray(x)
    if x.dtype.type in _FAST_DTYPES:
        return _odd_rational(x, _P32, _Q32, _CLIP32).astype(x.dtype)
    xd = x.astype(np.float64)
    y = np.abs(xd)
    out = np.empty_like(xd)
    small = y <= 0.46875
    mid = (y > 0.46875) & (y <= 4.0)
    big = y > 4.0
    if small.any():
        xs = xd[small]
        z = xs * xs
        num, den = _A[4] * z, z
        for a, b in zip(_A[:3], _B[:3]):
            num, den = (num + a) * z, (den + b) * z
        out[small] = xs * (num + _A[3]) / (den + _B[3])
    if mid.any():
        out[mid] = np.copysign(1.0 - _erfc_small(y[mid]), xd[mid])
    if big.any():
        out[big] = np.copysign(1.0 - _erfc_large(np.minimum(y[big], 27.0)), xd[big])  # erfc(27) = 0 in float64
    nan = np.isnan(xd)
    if nan.any():
        out[nan] = np.nan
    return out.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64, copy=False)
