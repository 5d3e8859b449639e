"""Normal and Student-t distribution functions in numpy alone (the project does not ship scipy).

What the tail-risk measures of `analysis.risk_metrics` need: the standard normal pdf, cdf and
quantile, the Student-t pdf, cdf and quantile, and the regularized incomplete beta function
behind the t cdf. Quantiles are accurate to a relative error of about 1e-12 or better, in the
body and far into the tails (probabilities down to 1e-300 for the normal, 1e-12 for the t).

- Normal quantile: the rational approximation of Acklam (2003; relative error below 1.2e-9),
  polished by one Halley step on ``erfc``, which brings it to machine precision.
- Regularized incomplete beta ``I_x(a, b)``: its continued fraction evaluated by the modified
  Lentz method (Press et al., Numerical Recipes, 3rd ed., section 6.4; Lentz 1976), applied on
  whichever of ``x`` and ``1 - x`` makes the fraction converge fast.
- Student-t cdf: ``P(T > t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2`` for ``t >= 0``
  (Abramowitz & Stegun 26.7.1 and 26.5.27); the quantile solves it by safeguarded Newton steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
# Acklam's coefficients, highest power first (np.polyval order): central region numerator and
# denominator in r = (p - 1/2)^2, then the tail region in q = sqrt(-2 log p).
_A: tuple[float, ...] = (-39.69683028665376, 220.9460984245205, -275.9285104469687)
_A += (138.3577518672690, -30.66479806614716, 2.506628277459239)
_B: tuple[float, ...] = (-54.47609879822406, 161.5858368580409, -155.6989798598866)
_B += (66.80131188771972, -13.28068155288572, 1.0)
_C: tuple[float, ...] = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838)
_C += (-2.549732539343734, 4.374664141464968, 2.938163982698783)
_D: tuple[float, ...] = (0.007784695709041462, 0.3224671290700398, 2.445134137142996)
_D += (3.754408661907416, 1.0)
_P_LOW = 0.02425
_TINY = 1e-300
_EPS = 1e-15
_MAX_ITERATIONS = 500


class ConvergenceError(ArithmeticError):
    """An iterative evaluation did not converge; the message names the inputs."""


def _scalar_or_array(values: np.ndarray) -> Any:
    """A float for 0-d input, the array otherwise (the numpy ufunc convention)."""
    return float(values) if values.ndim == 0 else values


def normal_pdf(x: Any) -> Any:
    """Standard normal density at ``x``: a float for a scalar, an array for an array."""
    x = np.asarray(x, dtype=float)
    return _scalar_or_array(np.exp(-0.5 * x * x) / _SQRT2PI)


def normal_cdf(x: Any) -> Any:
    """Standard normal distribution function ``Phi(x) = erfc(-x / sqrt 2) / 2``.

    Computed from ``erfc``, so the lower tail keeps full relative precision. A float for a
    scalar, an array for an array.
    """
    erfc = np.frompyfunc(math.erfc, 1, 1)
    return _scalar_or_array(0.5 * np.asarray(erfc(-np.asarray(x, dtype=float) / _SQRT2), float))


def _normal_lower_ppf(p: np.ndarray) -> np.ndarray:
    """Quantile for ``0 < p <= 0.5`` (the lower half, where ``Phi`` is computed accurately)."""
    tail = p < _P_LOW
    q_tail = np.sqrt(-2.0 * np.log(np.where(tail, p, _P_LOW)))
    x_tail = np.polyval(_C, q_tail) / np.polyval(_D, q_tail)
    q = np.where(tail, 0.0, p - 0.5)
    r = q * q
    x_body = q * np.polyval(_A, r) / np.polyval(_B, r)
    x = np.where(tail, x_tail, x_body)
    # One Halley step on Phi(x) - p: the cubic convergence turns ~1e-9 into machine precision.
    error = normal_cdf(x) - p
    u = error * _SQRT2PI * np.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


def normal_ppf(p: Any) -> Any:
    """Standard normal quantile ``Phi^{-1}(p)`` for ``0 < p < 1`` (float or array, as `normal_cdf`).

    Raises:
        ValueError: If any ``p`` is outside the open interval (0, 1) or NaN.
    """
    p = np.asarray(p, dtype=float)
    if not np.all((p > 0.0) & (p < 1.0)):
        raise ValueError("normal_ppf needs probabilities strictly between 0 and 1")
    upper = p > 0.5
    # Upper half by symmetry, Phi^{-1}(p) = -Phi^{-1}(1 - p), so that Halley works on a small cdf.
    x = _normal_lower_ppf(np.where(upper, 1.0 - p, p))
    return _scalar_or_array(np.where(upper, -x, x))


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of ``I_x(a, b)`` by modified Lentz; fast for x < (a+1)/(a+b+2)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        for coefficient in (even, odd):
            d = 1.0 + coefficient * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + coefficient / c
            c = c if abs(c) > _TINY else _TINY
            h *= c * d
        if abs(c * d - 1.0) < _EPS:
            return h
    raise ConvergenceError(f"incomplete beta fraction did not converge for a={a}, b={b}, x={x}")


def incomplete_beta(x: float, a: float, b: float, *, complement: float | None = None) -> float:
    """Regularized incomplete beta function ``I_x(a, b)`` for ``0 <= x <= 1``, ``a, b > 0``.

    Args:
        x: The upper limit of integration.
        a: First shape parameter.
        b: Second shape parameter.
        complement: ``1 - x`` when the caller knows it more precisely than ``1 - x`` rounds
            (for example ``t^2 / (nu + t^2)``); defaults to ``1 - x``.

    Raises:
        ValueError: If ``x`` is outside [0, 1] or a shape parameter is not positive.
        ConvergenceError: If the continued fraction does not converge.
    """
    y = 1.0 - x if complement is None else complement
    if not (0.0 <= x <= 1.0 and a > 0 and b > 0):
        raise ValueError(f"incomplete_beta needs 0 <= x <= 1 and a, b > 0, got {x=}, {a=}, {b=}")
    if x == 0.0 or y == 0.0:
        return 0.0 if x == 0.0 else 1.0
    log_front = a * math.log(x) + b * math.log(y)
    log_front += math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    # symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast region
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def _check_dof(dof: float) -> None:
    if not dof > 0:
        raise ValueError(f"Student-t degrees of freedom must be positive, got {dof}")


def student_t_pdf(x: float, dof: float) -> float:
    """Density of the standard Student-t with ``dof`` degrees of freedom (inf: the normal)."""
    _check_dof(dof)
    if math.isinf(dof):
        return float(normal_pdf(x))
    log_norm = math.lgamma(0.5 * (dof + 1.0)) - math.lgamma(0.5 * dof)
    log_norm -= 0.5 * math.log(dof * math.pi)
    return math.exp(log_norm - 0.5 * (dof + 1.0) * math.log1p(x * x / dof))


def _t_upper_tail(x: float, dof: float) -> float:
    """``P(T > x)`` for ``x >= 0``."""
    denominator = dof + x * x
    return 0.5 * incomplete_beta(dof / denominator, 0.5 * dof, 0.5, complement=x * x / denominator)


def student_t_cdf(x: float, dof: float) -> float:
    """Distribution function of the standard Student-t with ``dof`` degrees of freedom.

    Raises:
        ValueError: If ``dof <= 0``.
    """
    _check_dof(dof)
    if math.isinf(dof):
        return float(normal_cdf(x))
    tail = _t_upper_tail(abs(x), dof)
    return 1.0 - tail if x > 0 else tail


def student_t_ppf(p: float, dof: float) -> float:
    """Quantile of the standard Student-t with ``dof`` degrees of freedom, ``0 < p < 1``.

    Solves ``P(T > x) = min(p, 1 - p)`` for ``x >= 0`` by Newton steps kept inside a shrinking
    bracket (bisection when a step leaves it), then applies the symmetry of the t.

    Raises:
        ValueError: If ``p`` is not in (0, 1) or ``dof <= 0``.
        ConvergenceError: If the root is not found to relative precision 1e-13.
    """
    _check_dof(dof)
    if not 0.0 < p < 1.0:
        raise ValueError(f"student_t_ppf needs 0 < p < 1, got {p}")
    if math.isinf(dof):
        return float(normal_ppf(p))
    if p == 0.5:
        return 0.0
    tail = min(p, 1.0 - p)
    # the t quantile lies beyond the normal one; double until the bracket holds the root
    low, high = 0.0, max(1.0, -float(normal_ppf(tail)))
    while _t_upper_tail(high, dof) > tail:
        low, high = high, 2.0 * high
        if high > 1e300:
            raise ConvergenceError(f"no finite t quantile found for p={p}, dof={dof}")
    x = 0.5 * (low + high)
    for _ in range(_MAX_ITERATIONS):
        excess = _t_upper_tail(x, dof) - tail
        if excess > 0:
            low = x
        else:
            high = x
        density = student_t_pdf(x, dof)
        step_x = x + excess / density if density > 0 else math.nan
        following = step_x if low < step_x < high else 0.5 * (low + high)
        if abs(following - x) <= 1e-14 * max(1.0, x) or high - low <= 1e-14 * max(1.0, x):
            return following if p > 0.5 else -following
        x = following
    raise ConvergenceError(f"student_t_ppf did not converge for p={p}, dof={dof}")
