"""Heston parameters from a price path: the `heston` fundamental's scheme, inverted.

`fit_heston_path` estimates ``kappa, theta, sigma, rho`` (and the drift ``mu``) from a path
sampled every ``dt``, the way the `heston` fundamental (`abm.fundamental.heston.Heston`)
steps it: full-truncation Euler,

    log S[i+1] - log S[i] = (mu - v[i]/2) dt + sqrt(v[i] dt) Z_S,
    v[i+1] - v[i]         = kappa (theta - v[i]) dt + sigma sqrt(v[i] dt) Z_V,

with ``corr(Z_S, Z_V) = rho`` (``v`` is the variance's positive part). Dividing the variance
step by ``sqrt(v dt)`` leaves a linear regression with homoscedastic noise,

    dv / sqrt(v dt) = (kappa theta) sqrt(dt / v) - kappa sqrt(v dt) + sigma Z_V,

whose least-squares fit is the Gaussian quasi-maximum-likelihood estimate of the Euler
scheme (the estimator of, e.g., Kladivko 2007 for the CIR process): ``kappa theta`` and
``kappa`` are its coefficients, ``sigma`` its residual standard deviation. The drift is the
weighted mean of ``(r + v dt / 2) / dt`` (weights ``1 / v``), ``rho`` the correlation of the
two standardised residuals; standard errors are the regression's (the delta method for
``theta``), ``sigma / sqrt(2 n)`` and ``(1 - rho^2) / sqrt(n)``.

* ``variance`` given (the process's own state, e.g. ``Heston.variance`` recorded each step):
  the estimate above, consistent as the path lengthens.
* Prices only (``window`` returns per block, a run's ``fundamental`` column): each block's
  realised variance, ``sum(r^2) / (window dt)``, stands for the variance, but it carries its
  own sampling error (relative standard deviation about ``sqrt(2 / window)``), which would
  bias that regression. The fit is by moments instead (`_moments`): the error is independent
  from block to block, so the autocovariances at lags 1 and 2 of the realised variance give
  ``kappa`` and ``sigma``, its mean ``theta``, and the covariance of a block's return with the
  next block's realised variance ``rho``. Its standard errors are batch means: the spread of
  the estimates on `BATCHES` contiguous parts of the path (NaN if a part has no estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from abm.derivatives.errors import CalibrationError, DerivativesError
from abm.derivatives.heston import HestonParams

MIN_STEPS = 50
"""Fewest steps (or blocks) the regression is fitted on."""

PathMethod = Literal["variance", "realized_variance"]


@dataclass(frozen=True, slots=True)
class HestonPathFit:
    """The result of `fit_heston_path`.

    Attributes:
        params: ``kappa, theta, sigma, rho`` and ``v0`` (the first variance, or the first
            block's realised variance).
        mu: Drift of ``S`` per unit of time.
        std_errors: Standard errors of ``kappa``, ``theta``, ``sigma``, ``rho`` and ``mu``.
        n: Steps (or blocks) the regression was fitted on.
        dt: Their time step (``dt``, or ``window * dt``).
        method: ``"variance"`` (the variance path given) or ``"realized_variance"``.
    """

    params: HestonParams
    mu: float
    std_errors: dict[str, float]
    n: int
    dt: float
    method: PathMethod


def fit_heston_path(
    prices: ArrayLike,
    dt: float,
    *,
    variance: ArrayLike | None = None,
    window: int | None = None,
) -> HestonPathFit:
    """Estimate Heston's parameters from a path sampled every ``dt`` (module docstring).

    Args:
        prices: The price path, ``n + 1`` positive values.
        dt: Time between samples (> 0), in the unit the parameters are wanted in.
        variance: The variance at each sample (``n + 1`` values), if known.
        window: Without ``variance``: returns per realised-variance block (>= 2).

    Returns:
        The estimate with its standard errors.

    Raises:
        DerivativesError: Naming an input that is not a finite positive path, a ``dt`` or
            ``window`` out of range, ``variance`` of another length, or both or neither of
            ``variance`` and ``window``.
        CalibrationError: If fewer than `MIN_STEPS` steps (or blocks) have a positive
            variance, or the fit leaves ``kappa`` or ``theta`` non-positive (a path too short
            to show mean reversion).
    """
    path = _positive_path(prices, "prices")
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise DerivativesError(f"dt: must be a positive number, got {dt!r}")
    if (variance is None) == (window is None):
        raise DerivativesError("give exactly one of variance (the variance path) and window")
    returns = np.diff(np.log(path))
    if variance is not None:
        v = np.asarray(variance, dtype=np.float64)
        if v.shape != path.shape or not np.all(np.isfinite(v)):
            raise DerivativesError(
                f"variance: must be {path.size} finite values (one per price), got {v.shape}"
            )
        return _fit(returns, np.maximum(v, 0.0), float(dt), "variance")
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise DerivativesError(f"window: must be an integer >= 2, got {window!r}")
    blocks = returns.size // window
    if blocks < MIN_STEPS + 1:
        raise CalibrationError(
            f"prices: {returns.size} returns make {blocks} blocks of {window}; "
            f"at least {MIN_STEPS + 1} are needed"
        )
    shaped = returns[: blocks * window].reshape(blocks, window)
    block_returns = shaped.sum(axis=1)
    realized = (shaped**2).sum(axis=1) / (window * dt)
    delta = window * float(dt)
    estimate = _moments(block_returns, realized, delta)
    parts = [
        _moments(block_returns[part], realized[part], delta)
        for part in np.array_split(np.arange(blocks), BATCHES)
    ]
    batches = [part for part in parts if part is not None]
    errors = {
        name: float(np.std([b[name] for b in batches], ddof=1) / math.sqrt(BATCHES))
        if len(batches) == BATCHES
        else math.nan
        for name in _MOMENT_NAMES
    }
    if estimate is None:
        raise CalibrationError(
            "prices: the realised variance shows no mean reversion across blocks (its "
            "autocovariances do not decay): fit a longer path or change window"
        )
    params = HestonParams(
        kappa=estimate["kappa"],
        theta=estimate["theta"],
        sigma=estimate["sigma"],
        rho=estimate["rho"],
        v0=float(realized[0]) if realized[0] > 0 else estimate["theta"],
    )
    return HestonPathFit(params, estimate["mu"], errors, blocks, delta, "realized_variance")


BATCHES = 8
"""Contiguous batches whose estimates give the realised-variance method's standard errors."""
_MOMENT_NAMES = ("kappa", "theta", "sigma", "rho", "mu")


def _moments(returns: np.ndarray, realized: np.ndarray, delta: float) -> dict[str, float] | None:
    """The realised-variance moments estimate (module docstring), or None if it has none.

    Block means of a variance with autocorrelation ``exp(-kappa t)`` have autocovariances
    ``c(h) = Var(v) a^2 exp(-kappa delta (h - 1))`` for lags ``h >= 1``, with ``a = (1 -
    exp(-kappa delta)) / (kappa delta)``; the realised variance's sampling error adds to
    ``c(0)`` only. So ``exp(-kappa delta) = c(2) / c(1)``, ``Var(v) = c(1) / a^2``,
    ``sigma^2 = 2 kappa Var(v) / theta`` (the stationary variance of Heston's variance),
    and the covariance of a block's return with the next block's realised variance,
    ``rho sigma theta (1 - exp(-kappa delta))^2 / (kappa^2 delta)``, gives ``rho``.
    """
    if returns.size < MIN_STEPS:
        return None
    theta = float(realized.mean())
    centred = realized - theta
    c1 = float(centred[1:] @ centred[:-1]) / centred.size
    c2 = float(centred[2:] @ centred[:-2]) / centred.size
    if not (theta > 0 and c1 > 0 and 0 < c2 < c1):
        return None
    decay = c2 / c1
    kappa = -math.log(decay) / delta
    shrink = (1.0 - decay) / (kappa * delta)
    sigma = math.sqrt(2.0 * kappa * (c1 / shrink**2) / theta)
    lead = float((returns[:-1] - returns.mean()) @ centred[1:]) / (returns.size - 1)
    rho = lead * kappa**2 * delta / (sigma * theta * (1.0 - decay) ** 2)
    mu = float(returns.mean()) / delta + 0.5 * theta
    return {
        "kappa": kappa,
        "theta": theta,
        "sigma": sigma,
        "rho": max(-1.0, min(1.0, rho)),
        "mu": mu,
    }


def _positive_path(values: ArrayLike, name: str) -> np.ndarray:
    path = np.asarray(values, dtype=np.float64)
    if path.ndim != 1 or path.size < 2:
        raise DerivativesError(f"{name}: must be a 1-D path of at least 2 values")
    if not np.all(np.isfinite(path)) or np.any(path <= 0):
        raise DerivativesError(f"{name}: must be finite and positive")
    return path


def _fit(returns: np.ndarray, v: np.ndarray, dt: float, method: PathMethod) -> HestonPathFit:
    """The regression of the module docstring on steps ``v[i] -> v[i + 1]`` with returns."""
    start, dv, r = v[:-1], np.diff(v), returns[: v.size - 1]
    use = start > 0
    n = int(use.sum())
    if n < MIN_STEPS:
        raise CalibrationError(
            f"variance: {n} steps start at a positive variance; at least {MIN_STEPS} are needed"
        )
    start, dv, r = start[use], dv[use], r[use]
    root = np.sqrt(start * dt)
    design = np.column_stack([dt / root, -root])  # columns for kappa * theta and kappa
    y = dv / root
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    sigma = float(np.sqrt(residual @ residual / (n - 2)))
    cov = sigma**2 * np.linalg.inv(design.T @ design)
    kappa_theta, kappa = float(coef[0]), float(coef[1])
    if kappa <= 0 or kappa_theta <= 0:
        raise CalibrationError(
            f"the path shows no mean reversion (kappa {kappa:.4g}, kappa * theta "
            f"{kappa_theta:.4g}): fit a longer path"
        )
    theta = kappa_theta / kappa
    gradient = np.array([1.0 / kappa, -kappa_theta / kappa**2])  # d theta / d (kappa theta, kappa)
    weights = 1.0 / start
    mu = float(np.sum((r + 0.5 * start * dt) * weights) / (dt * np.sum(weights)))
    shock_s = (r - (mu - 0.5 * start) * dt) / root
    rho = float(np.clip(np.corrcoef(shock_s, residual)[0, 1], -1.0, 1.0))
    errors = {
        "kappa": float(np.sqrt(cov[1, 1])),
        "theta": float(np.sqrt(gradient @ cov @ gradient)),
        "sigma": sigma / math.sqrt(2 * n),
        "rho": (1.0 - rho**2) / math.sqrt(n),
        "mu": float(1.0 / np.sqrt(dt * np.sum(weights))),
    }
    v0 = float(v[0]) if v[0] > 0 else float(start[0])
    params = HestonParams(kappa=kappa, theta=theta, sigma=sigma, rho=rho, v0=v0)
    return HestonPathFit(params, mu, errors, n, dt, method)


__all__ = ["MIN_STEPS", "HestonPathFit", "PathMethod", "fit_heston_path"]
