"""Small, exact statistics for honest comparisons: t intervals, paired tests, the corrected CV t-test, bootstrap.

Everything is written out in NumPy and the standard library (no SciPy), with the formulas in the docstrings:

- ``norm_cdf``, ``norm_sf``, ``norm_ppf``: the standard normal distribution (``math.erfc``; Acklam's inverse
  refined by one Halley step).
- ``betainc``: the regularized incomplete beta function I_x(a, b) (continued fraction, modified Lentz).
- ``t_cdf``, ``t_sf``, ``t_ppf``: Student's t distribution through I_x(a, b).
- ``mean_ci``: mean +- t * s / sqrt(n), the t interval of a mean (e.g. of a metric over seeds).
- ``paired_difference``: the paired t-test and interval for a - b measured on the same seeds or folds.
- ``corrected_resampled_ttest``: Nadeau & Bengio's corrected t-test for cross-validation / resampling.
- ``bootstrap_ci``, ``bootstrap_mean_ci``: percentile and BCa bootstrap intervals (Efron 1987).

References:
    Abramowitz & Stegun (1964), Handbook of Mathematical Functions, 26.5 (incomplete beta), 26.7 (t).
    Press, Teukolsky, Vetterling & Flannery (2007), Numerical Recipes, 3rd ed., 6.4 (incomplete beta, Lentz).
    Acklam (2003), "An algorithm for computing the inverse normal cumulative distribution function".
    Nadeau & Bengio (2003), "Inference for the generalization error", Machine Learning 52:239-281.
    Bouckaert & Frank (2004), "Evaluating the replicability of significance tests for comparing learning
    algorithms", PAKDD.
    Efron (1987), "Better bootstrap confidence intervals", JASA 82:171-185.
    Efron & Tibshirani (1993), An Introduction to the Bootstrap, ch. 13-14.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["betainc", "bootstrap_ci", "bootstrap_mean_ci", "corrected_resampled_ttest", "mean_ci", "norm_cdf",
           "norm_ppf", "norm_sf", "paired_difference", "t_cdf", "t_ppf", "t_sf"]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------------------------
# The standard normal distribution
# ---------------------------------------------------------------------------------------------------------------

def norm_cdf(x: float) -> float:
    """Phi(x) = P(Z <= x) = erfc(-x / sqrt 2) / 2 (erfc keeps full relative precision in the lower tail)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def norm_sf(x: float) -> float:
    """1 - Phi(x) = P(Z > x) = erfc(x / sqrt 2) / 2, without cancellation in the upper tail."""
    return 0.5 * math.erfc(x / _SQRT2)


# Acklam's rational approximations (relative error < 1.15e-9 before refinement)
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
_P_LOW = 0.02425


def _acklam(p: float) -> float:
    """Acklam's approximation of Phi^-1(p) for 0 < p <= 1/2 (a lower-tail or central probability)."""
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        return ((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
                / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0))
    q = p - 0.5
    r = q * q
    return ((((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0))


def norm_ppf(p: float) -> float:
    """The standard normal quantile Phi^-1(p), accurate to about 1e-15 relative for 0 < p < 1.

    Acklam's rational approximation (relative error 1.15e-9), then one Halley step on Phi(x) - p, which
    triples the number of correct digits:  e = Phi(x) - p,  u = e sqrt(2 pi) exp(x^2 / 2),
    x <- x - u / (1 + x u / 2).  The upper half uses the symmetry Phi^-1(p) = -Phi^-1(1 - p) (1 - p is exact
    for p >= 1/2), so the step always works on the lower tail, where erfc has full relative precision.
    """
    p = float(p)
    if not 0.0 < p < 1.0:
        if p in (0.0, 1.0):
            return -math.inf if p == 0.0 else math.inf
        raise ValueError(f"norm_ppf: p must be in (0, 1), got {p}")
    if p > 0.5:
        return -norm_ppf(1.0 - p)
    x = _acklam(p)
    e = norm_cdf(x) - p
    try:
        u = e * math.exp(_LOG_SQRT_2PI + 0.5 * x * x)
    except OverflowError:  # p below ~1e-300: keep Acklam's value
        return x
    return x - u / (1.0 + 0.5 * x * u)


# ---------------------------------------------------------------------------------------------------------------
# The regularized incomplete beta function
# ---------------------------------------------------------------------------------------------------------------

def _stirling_correction(x: float) -> float:
    """lgamma(x) - [(x - 1/2) log x - x + log sqrt(2 pi)] for x >= 10 (the Stirling series; error < 1e-16)."""
    r = 1.0 / (x * x)
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r * (1.0 / 1188
            - r * (691.0 / 360360 - r / 156)))))) / x


def _lgamma_diff(big: float, s: float) -> float:
    """lgamma(big) - lgamma(big + s) for big >= 10 without cancellation (Stirling series for both).

    = -(big - 1/2) log1p(s / big) - s log(big + s) + s + corr(big) - corr(big + s). Subtracting two lgamma
    values instead would lose ~1e-9 for big = 5e5, where both are about 6e6 but differ by a few units.
    """
    return (-(big - 0.5) * math.log1p(s / big) - s * math.log(big + s) + s
            + _stirling_correction(big) - _stirling_correction(big + s))


def _lbeta(a: float, b: float) -> float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), accurate to ~1e-16 absolute when one is large."""
    s, big = min(a, b), max(a, b)
    if big < 10.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return math.lgamma(s) + _lgamma_diff(big, s)


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (A&S 26.5.8), evaluated from the top by the modified Lentz method.

    I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...))) with
    d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),  d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    Writing the j-th convergent as f_j = A_j / B_j, Lentz's method carries C_j = A_j / A_{j-1} and
    D_j = B_{j-1} / B_j, each from a two-term recurrence, and multiplies f_j = f_{j-1} C_j D_j: nothing
    overflows and no convergent is recomputed; a zero denominator is nudged to ``tiny``. It stops when a
    factor C_j D_j is 1 to machine precision, after tens of terms for x < (a + 1) / (a + b + 2) (the side
    _betainc_pair uses), even for a = 5e11; with x near 1 and a large, rounding grows like a * 1e-17.
    """
    tiny, eps = 1e-300, 4e-16

    def nudge(v: float) -> float:
        return tiny if abs(v) < tiny else v

    c = 1.0
    d = 1.0 / nudge(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for coeff in (m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
                      -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))):
            d = 1.0 / nudge(1.0 + coeff * d)
            c = nudge(1.0 + coeff / c)
            delta = c * d
            h *= delta
        if abs(delta - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")


def _betainc_pair(a: float, b: float, x: float, y: float, log_x: float, log_y: float) -> tuple[float, float]:
    """(I_x(a, b), I_y(b, a)) with y = 1 - x, the smaller one to ~1e-15 relative for moderate a and b.

    The two sum to 1. The prefactor x^a y^b / B(a, b) = exp(a log x + b log y - log B(a, b)) loses about
    (a + b) * 1e-16 relative when a and b are both large (3e-12 for a = b = 3000). Whichever side the
    continued fraction converges on (x < (a + 1) / (a + b + 2) or not) is computed directly and the other
    as 1 minus it. x, y and their logs are passed separately so that a caller who knows 1 - x or log x more
    precisely than the subtraction would give (t_cdf does) keeps it.
    """
    if log_x == -math.inf:
        return 0.0, 1.0
    if log_y == -math.inf:
        return 1.0, 0.0
    front = math.exp(a * log_x + b * log_y - _lbeta(a, b))  # x^a y^b / B(a, b)
    # x < (a + 1) / (a + b + 2), tested on whichever of x and y is not rounded against 1
    if (x < (a + 1.0) / (a + b + 2.0)) if a <= b else (y > (b + 1.0) / (a + b + 2.0)):
        ix = front * _beta_cf(a, b, x) / a
        return ix, 1.0 - ix
    iy = front * _beta_cf(b, a, y) / b
    return 1.0 - iy, iy


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0, 0 <= x <= 1.

    B(x; a, b) = int_0^x t^(a-1) (1 - t)^(b-1) dt. Uses the continued fraction of A&S 26.5.8 on whichever of
    I_x(a, b) and I_{1-x}(b, a) = 1 - I_x(a, b) converges (Numerical Recipes 6.4); accuracy as in
    _betainc_pair (~1e-15 relative for moderate a, b).
    """
    if not (a > 0 and b > 0):
        raise ValueError(f"betainc: a and b must be positive, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x must be in [0, 1], got {x}")
    y = 1.0 - x
    if x == 0.0 or y == 0.0:
        return float(x)
    return _betainc_pair(a, b, x, y, math.log(x), math.log1p(-x))[0]


# ---------------------------------------------------------------------------------------------------------------
# Student's t distribution
# ---------------------------------------------------------------------------------------------------------------

def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    return df


def _t_halves(t: float, df: float) -> tuple[float, float]:
    """(P(0 < T < |t|), P(T > |t|)) for T ~ t_df; they sum to 1/2 and each is accurate where it is small.

    With x = df / (df + t^2) and y = t^2 / (df + t^2) = 1 - x (A&S 26.7.1 / 26.5.27):
    P(T > |t|) = I_x(df/2, 1/2) / 2 and P(0 < T < |t|) = I_y(1/2, df/2) / 2.
    log x = -log1p(t^2 / df) and log y = -log1p(df / t^2) are computed without forming 1 - x. For df >= 100
    and x near 1 the continued fraction loses accuracy (about df * 1e-17 relative: 5e-5 at df = 1e12), so
    there the tail comes from the large-a asymptotic expansion instead (_t_tail_large_df).
    """
    t = abs(t)
    if t == 0.0:
        return 0.0, 0.5
    if math.isinf(t):
        return 0.5, 0.0
    if math.isinf(df):
        return 0.5 - norm_sf(t), norm_sf(t)
    t2 = t * t
    if math.isinf(t2):  # |t| > 1e154: stay in logs
        r = 2.0 * math.log(t) - math.log(df)  # log(t^2 / df)
        log_x, log_y = -(r + math.log1p(math.exp(-r))), -math.log1p(math.exp(-r))
    else:
        log_x, log_y = -math.log1p(t2 / df), -math.log1p(df / t2)
    a, y = 0.5 * df, math.exp(log_y)
    if df >= 100.0 and log_x >= -1.0 and y > 1.5 / (a + 2.5):  # the x side of I_x(a, 1/2), x near 1
        tail = 0.5 * _t_tail_large_df(log_x, df)
        return 0.5 - tail, tail
    tail2, central2 = _betainc_pair(a, 0.5, math.exp(log_x), y, log_x, log_y)
    return 0.5 * central2, 0.5 * tail2


def _t_tail_large_df(log_x: float, df: float) -> float:
    """I_x(a, 1/2) = 2 P(T > |t|) for a = df/2 >= 50: Temme's asymptotic expansion for large a, small b.

    This is the BGRAT expansion of DiDonato & Morris (1992, ACM TOMS 18:360-373, section 5), written out for
    b = 1/2, where the incomplete gamma function it needs is Q(1/2, z) = erfc(sqrt z). With nu = a + (b-1)/2,
    z = -nu log x and r = e^-z z^b / Gamma(b):

        I_x(a, b) = Gamma(a + b) / (Gamma(a) nu^b) * r * sum_{n >= 0} d_n J_n,
        J_0 = Q(b, z) / r,  J_n = [(b + 2n - 2)(b + 2n - 1) J_{n-1} + (z + b + 2n - 1) L^(n-1)] / (4 nu^2),
        L = (log x)^2 / 4,  c_n = c_{n-1} / (2n (2n + 1)),  c_0 = d_0 = 1,
        d_n = (b - 1) c_n + (1/n) sum_{i=1}^{n-1} (i b - n) c_i d_{n-i}.

    The leading term is Q(1/2, z): P(T > t) ~ P(Z > sqrt((df - 1/2) log1p(t^2 / df))), a classic normalizing
    transformation; the series corrects it in powers of 1 / df. Used for |log x| <= 1, where it converges in a
    few terms (checked against 40-digit arithmetic to ~1e-14 relative).
    """
    a, b = 0.5 * df, 0.5
    nu = a - 0.25
    z = -nu * log_x
    r = math.exp(-z) * math.sqrt(z / math.pi)
    if r == 0.0:
        return 0.0
    scale = math.exp(-_lgamma_diff(a, b) - b * math.log(nu))  # Gamma(a + b) / (Gamma(a) nu^b)
    j = math.erfc(math.sqrt(z)) / r
    total, v, ell, ell_pow = j, 0.25 / (nu * nu), 0.25 * log_x * log_x, 1.0
    c, d = [1.0], [1.0]
    for n in range(1, 60):
        bp = b + 2 * n - 2
        j = (bp * (bp + 1.0) * j + (z + bp + 1.0) * ell_pow) * v
        ell_pow *= ell
        c.append(c[-1] / ((2 * n) * (2 * n + 1)))
        d.append((b - 1.0) * c[n] + sum((i * b - n) * c[i] * d[n - i] for i in range(1, n)) / n)
        term = d[n] * j
        total += term
        if abs(term) <= 1e-17 * abs(total):
            break
    return scale * r * total


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with df degrees of freedom: I_x(df/2, 1/2) / 2 for t > 0, x = df / (df + t^2)."""
    df = _check_df(df)
    if math.isnan(t):
        return math.nan
    central, tail = _t_halves(t, df)
    return tail if t >= 0 else 0.5 + central


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom (df = inf: the standard normal).

    P(T <= t) = 1 - I_x(df/2, 1/2) / 2 for t >= 0 and I_x(df/2, 1/2) / 2 for t < 0, x = df / (df + t^2)
    (A&S 26.7.1 and 26.5.27).
    """
    df = _check_df(df)
    if math.isnan(t):
        return math.nan
    central, tail = _t_halves(t, df)
    return 0.5 + central if t >= 0 else tail


def _t_log_pdf(t: float, df: float) -> float:
    """log of the t density: -(df + 1)/2 log1p(t^2 / df) - log(sqrt(df) B(df/2, 1/2))."""
    return -0.5 * (df + 1.0) * math.log1p(t * t / df) - 0.5 * math.log(df) - _lbeta(0.5 * df, 0.5)


def t_ppf(q: float, df: float) -> float:
    """The Student-t quantile: the t with P(T <= t) = q, for 0 < q < 1 and df > 0 (df = inf: norm_ppf).

    Accurate to about 1e-13 relative (checked against 40-digit arithmetic for df from 1 to 1e20 and q from
    0.5 + 1e-12 to 1 - 1e-8; the tests ask for 1e-10). The equation is
    solved for u = log t (t > 0; negative quantiles by symmetry) by Newton's method on the logarithm of
    whichever probability is the smaller and so known to full relative precision:

    - q >= 3/4: the upper tail, log P(T > e^u) - log(1 - q) = 0; slope -t f(t) / P(T > t)
    - q <  3/4: the central part, log P(0 < T < e^u) - log(q - 1/2) = 0; slope t f(t) / P(0 < T < t)

    (f the density). Both are nearly straight lines in u (the t tail is a power law; near 0 the central part
    is proportional to t), so Newton converges in a handful of steps from the normal guess
    t0 = z (1 + (z^2 + 1) / (4 df)) (Fisher's first-order expansion, A&S 26.7.5). A step that leaves the
    bracket of the root known so far is replaced by bisection. 1 - q and q - 1/2 are exact floating-point
    subtractions here (Sterbenz), so no precision is lost before the solve.
    """
    df = _check_df(df)
    q = float(q)
    if not 0.0 < q < 1.0:
        raise ValueError(f"t_ppf: q must be in (0, 1), got {q}")
    if math.isinf(df):
        return norm_ppf(q)
    if q < 0.5:
        return -t_ppf(1.0 - q, df) if q >= 0.25 else -_t_upper(q, df)
    if q == 0.5:
        return 0.0
    return _t_upper(1.0 - q, df) if q >= 0.75 else _t_central(q - 0.5, df)


def _t_upper(p: float, df: float) -> float:
    """The t > 0 with P(T > t) = p (p <= 1/4)."""
    return _solve_log_t(p, df, tail=True)


def _t_central(c: float, df: float) -> float:
    """The t > 0 with P(0 < T < t) = c (0 < c < 1/4)."""
    return _solve_log_t(c, df, tail=False)


def _solve_log_t(target: float, df: float, tail: bool) -> float:
    """Safeguarded Newton on g(u) = log P(u) - log target, u = log t (see t_ppf)."""
    z = -norm_ppf(target) if tail else norm_ppf(0.5 + target)
    u = math.log(max(z * (1.0 + (z * z + 1.0) / (4.0 * df)), 1e-300))
    log_target = math.log(target)
    lo, hi = -math.inf, math.inf  # g(lo) has the sign of "t too small", g(hi) of "t too large"
    for _ in range(200):
        t = math.exp(u)
        central, upper = _t_halves(t, df)
        prob = upper if tail else central
        g = math.log(prob) - log_target if prob > 0.0 else -math.inf
        if (g > 0) == tail:  # t is too small (the tail still too heavy, or the central part too light)
            lo = u
        else:
            hi = u
        slope = (-1.0 if tail else 1.0) * math.exp(u + _t_log_pdf(t, df) - math.log(prob)) if prob > 0 else 0.0
        u_new = u - g / slope if slope != 0.0 else math.nan
        if not lo < u_new < hi:  # Newton left the bracket: bisect it, or widen a bracket still open
            bracketed = lo > -math.inf and hi < math.inf
            u_new = 0.5 * (lo + hi) if bracketed else u + (2.0 if hi == math.inf else -2.0)
        if abs(u_new - u) <= 1e-13:  # u = log t: a step in u is a relative change of t
            return math.exp(u_new)
        u = u_new
    raise ArithmeticError(f"t_ppf: no convergence for df={df}")


# ---------------------------------------------------------------------------------------------------------------
# t intervals and t-tests
# ---------------------------------------------------------------------------------------------------------------

def _vector(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError(f"{what}: no values")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: values must be finite (a diverged run has no metric to average)")
    return x


def _check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return confidence


def _mean_std(x: np.ndarray) -> tuple[float, float]:
    """The mean and the sample standard deviation (ddof = 1), by two passes over x."""
    mean = math.fsum(x) / x.size
    return mean, math.sqrt(math.fsum((x - mean) ** 2) / (x.size - 1))


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """The t confidence interval of a mean: mean +- t_{(1+c)/2, n-1} * s / sqrt(n).

    s is the sample standard deviation (ddof = 1): s^2 = sum (x_i - mean)^2 / (n - 1). The interval assumes
    the values are independent draws (e.g. one metric from runs with different seeds) and that their mean is
    roughly normal; with few values it is wide, as it should be (t_{0.975, 2} = 4.30).

    Returns dict(mean, std, n, low, high, half_width). With n = 1 there is no spread to estimate, so the
    interval is undefined: std, low, high and half_width are None.
    """
    c = _check_confidence(confidence)
    x = _vector(values, "mean_ci")
    n = int(x.size)
    if n == 1:
        return {"mean": float(x[0]), "std": None, "n": 1, "low": None, "high": None, "half_width": None}
    mean, std = _mean_std(x)
    half = t_ppf(0.5 * (1.0 + c), n - 1) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "n": n, "low": mean - half, "high": mean + half, "half_width": half}


def _t_test(mean: float, se: float, df: float, c: float) -> tuple[float, float, float]:
    """(t, two-sided p, half width of the interval) for an estimate with standard error se and df."""
    if se == 0.0:  # every difference equal: no spread; p is 1 for a zero difference, 0 otherwise
        return (0.0, 1.0, 0.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0, 0.0)
    t = mean / se
    return t, 2.0 * _t_halves(t, df)[1], t_ppf(0.5 * (1.0 + c), df) * se


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      confidence: float = 0.95) -> dict[str, Any]:
    """The paired t-test and interval for mean(a - b), a[i] and b[i] measured on the same seed or fold.

    d_i = a_i - b_i, mean_diff = mean(d), se = s_d / sqrt(n) (s_d with ddof = 1), t = mean_diff / se,
    p = 2 P(T_{n-1} > |t|) (two-sided), interval mean_diff +- t_{(1+c)/2, n-1} se. Pairing removes what the
    two share (the seed's data split and initialisation), which is why it is sharper than comparing two
    separate means. It assumes the n differences are independent: true for different seeds on fixed data,
    NOT for cross-validation folds (use corrected_resampled_ttest there).

    Returns dict(mean_diff, low, high, t, p_value, n, df, se). If every difference is the same, se = 0:
    t = 0 and p = 1 when they are all 0, t = +-inf and p = 0 otherwise.
    """
    c = _check_confidence(confidence)
    d = _paired(a, b, "paired_difference")
    n = d.size
    mean, sd = _mean_std(d)
    se = sd / math.sqrt(n)
    t, p, half = _t_test(mean, se, n - 1, c)
    return {"mean_diff": mean, "low": mean - half, "high": mean + half, "t": t, "p_value": p, "n": int(n),
            "df": int(n - 1), "se": se}


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    x, y = _vector(a, what), _vector(b, what)
    if x.shape != y.shape:
        raise ValueError(f"{what}: a and b must be paired (same length), got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"{what}: need at least 2 pairs to estimate a spread, got {x.size}")
    return x - y


def corrected_resampled_ttest(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_train: int,
                              n_test: int, confidence: float = 0.95) -> dict[str, Any]:
    """Nadeau & Bengio's (2003) corrected resampled t-test of mean(a - b) over k folds or resamples.

    In k-fold cross-validation (or repeated random train/test splits) any two training sets share most of
    their samples, so the k per-fold differences d_i are positively correlated. The plain paired t-test
    treats them as independent, estimating var(mean d) as s_d^2 / k; that is too small, the t statistic too
    large, and "significant" differences appear far more often than the nominal rate (Dietterich 1998;
    Bouckaert & Frank 2004). Nadeau & Bengio model the correlation as rho = n_test / (n_train + n_test), which
    turns the variance of the mean into

        var(mean d) = (1/k + n_test / n_train) * s_d^2          (s_d^2: sample variance of d, ddof = 1)

    t = mean(d) / sqrt(var), p = 2 P(T_{k-1} > |t|), interval mean(d) +- t_{(1+c)/2, k-1} sqrt(var).
    For k-fold CV n_test / n_train = 1 / (k - 1): with 5 folds the variance is (1/5 + 1/4) s^2 instead of
    s^2 / 5, 2.25 times larger. For r repetitions of k-fold CV pass all r * k differences (Bouckaert & Frank's
    "corrected repeated k-fold cv test"). n_train and n_test are the sizes of one fold's training and test
    sets. The correction is a heuristic: it makes the test conservative-to-honest, not exact.

    Returns dict(mean_diff, low, high, t, p_value, n, df, se, correction) with correction = 1/k + n_test/n_train.
    """
    c = _check_confidence(confidence)
    if not (n_train > 0 and n_test > 0):
        raise ValueError(f"corrected_resampled_ttest: n_train and n_test must be positive, got {n_train}, {n_test}")
    d = _paired(a, b, "corrected_resampled_ttest")
    k = d.size
    mean, sd = _mean_std(d)
    correction = 1.0 / k + n_test / n_train
    se = math.sqrt(correction) * sd
    t, p, half = _t_test(mean, se, k - 1, c)
    return {"mean_diff": mean, "low": mean - half, "high": mean + half, "t": t, "p_value": p, "n": int(k),
            "df": int(k - 1), "se": se, "correction": correction}


# ---------------------------------------------------------------------------------------------------------------
# The bootstrap
# ---------------------------------------------------------------------------------------------------------------

_CHUNK_ELEMENTS = 1 << 22  # indices drawn at once (32 MiB of int64): memory stays bounded for any B and n


def _resampled_stats(stat_fn: Callable[[np.ndarray], np.ndarray], n: int, B: int,
                     rng: np.random.Generator) -> np.ndarray:
    """stat_fn over B resamples of 0..n-1 with replacement, drawn as (rows, n) index matrices in chunks."""
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(B)
    for start in range(0, B, rows):
        m = min(rows, B - start)
        out[start:start + m] = stat_fn(rng.integers(0, n, size=(m, n)))
    return out


def _jackknife(stat_fn: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """The n leave-one-out values of a statistic: stat_fn on the rows of the (n, n - 1) index matrix."""
    out = np.empty(n)
    rows = max(1, _CHUNK_ELEMENTS // max(n - 1, 1))
    base = np.arange(n)
    for start in range(0, n, rows):
        left_out = np.arange(start, min(start + rows, n))
        keep = base[None, :] != left_out[:, None]
        out[start:start + left_out.size] = stat_fn(np.broadcast_to(base, keep.shape)[keep].reshape(-1, n - 1))
    return out


def bootstrap_ci(stat_fn: Callable[[np.ndarray], np.ndarray], n: int, B: int, rng: np.random.Generator,
                 confidence: float = 0.95, method: str = "percentile",
                 jackknife_fn: Callable[[], np.ndarray] | None = None) -> dict[str, Any]:
    """A bootstrap confidence interval of a statistic of n samples: percentile or BCa (Efron 1987).

    ``stat_fn(idx)`` takes an integer array of shape (m, n') whose rows index samples and returns the m
    statistics of those rows (vectorised; n' = n for resamples, n - 1 for the jackknife). The estimate is
    stat_fn of 0..n-1. B resamples are drawn with replacement (in chunks, so memory stays bounded); with
    alpha = 1 - confidence and theta*_b the resampled statistics:

    - percentile: the alpha/2 and 1 - alpha/2 quantiles of theta*_b.
    - bca (bias-corrected and accelerated): the quantiles at alpha_j = Phi(z0 + (z0 + z_j) / (1 - a (z0 + z_j)))
      for z_j = Phi^-1(alpha/2), Phi^-1(1 - alpha/2), with the bias correction
      z0 = Phi^-1(#{theta*_b < estimate} / B) (ties counted half, which matters for a discrete statistic such
      as an accuracy) and the acceleration a = sum (m - theta_(i))^3 / (6 [sum (m - theta_(i))^2]^(3/2)) from
      the jackknife values theta_(i) (the statistic without sample i) and their mean m. ``jackknife_fn()``
      returns them (n values); without it they are computed with stat_fn, O(n^2) work.

    BCa corrects the percentile interval for bias and skew and is second-order accurate; with a = z0 = 0 it
    is the percentile interval. Quantiles interpolate linearly between order statistics (np.quantile).
    Returns dict(estimate, low, high, method, B, confidence), plus z0 and acceleration for BCa.
    """
    c = _check_confidence(confidence)
    if method not in ("percentile", "bca"):
        raise ValueError(f"bootstrap method must be 'percentile' or 'bca', got {method!r}")
    if n < 2:
        raise ValueError(f"bootstrap: need at least 2 samples, got {n}")
    if B < 1:
        raise ValueError(f"bootstrap: B must be positive, got {B}")
    estimate = float(stat_fn(np.arange(n)[None, :])[0])
    stats = _resampled_stats(stat_fn, n, B, rng)
    alpha = 1.0 - c
    result: dict[str, Any] = {"estimate": estimate, "method": method, "B": int(B), "confidence": c}
    if method == "percentile":
        levels = [0.5 * alpha, 1.0 - 0.5 * alpha]
    else:
        below = (np.count_nonzero(stats < estimate) + 0.5 * np.count_nonzero(stats == estimate)) / B
        jack = np.asarray(jackknife_fn() if jackknife_fn is not None else _jackknife(stat_fn, n), dtype=np.float64)
        dev = jack.mean() - jack
        ss = float(np.sum(dev * dev))
        accel = float(np.sum(dev ** 3)) / (6.0 * ss ** 1.5) if ss > 0 else 0.0
        result.update(z0=None, acceleration=accel)
        if not 0.0 < below < 1.0:  # every resample on one side of the estimate: BCa is undefined
            return {**result, "low": None, "high": None}
        z0 = norm_ppf(below)
        result["z0"] = z0
        levels = []
        for zj in (norm_ppf(0.5 * alpha), norm_ppf(1.0 - 0.5 * alpha)):
            w = z0 + zj
            levels.append(norm_cdf(z0 + w / (1.0 - accel * w)))
    low, high = np.quantile(stats, levels)
    return {**result, "low": float(low), "high": float(high)}


def bootstrap_mean_ci(values: Sequence[float] | np.ndarray, B: int = 2000,
                      rng: np.random.Generator | int | None = None, confidence: float = 0.95,
                      method: str = "bca") -> dict[str, Any]:
    """Bootstrap interval of the mean of a per-sample vector: accuracy (0/1 correct flags) or mean loss.

    The statistic of resample idx is mean(values[idx]); its jackknife values are (sum - v_i) / (n - 1), all n
    at once. ``rng``: a numpy Generator or an int seed; None means seed 0, so results are reproducible (draw
    a fresh seed yourself for independent repetitions). The same seed gives the same resamples for any
    vector of the same length, so intervals of two metrics of one test set use identical resamples.
    See bootstrap_ci for the methods.
    """
    v = _vector(values, "bootstrap_mean_ci")
    n = v.size
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
    total = math.fsum(v)
    return bootstrap_ci(lambda idx: v[idx].mean(axis=-1), n, B, gen, confidence, method,
                        jackknife_fn=lambda: (total - v) / (n - 1))
