"""Heston calibration: weighted least squares on an option surface, with bounds and restarts.

`calibrate_heston` fits (kappa, theta, sigma, rho, v0) to European option quotes, either on
prices or on Black-Scholes implied volatilities (`CalibrationTarget`), minimising
sum_i (w_i (model_i - market_i))^2 with `scipy.optimize.least_squares` (trust-region
reflective, inside `DEFAULT_BOUNDS` or the caller's), from a heuristic start and ``n_starts - 1``
starts drawn from a seeded generator; the lowest cost wins.

**Standard errors** come from the Jacobian J of the weighted residuals at the optimum (the
Gauss-Newton approximation): cov = s^2 (J'J)^{-1}, s^2 = RSS / (n - 5). They are exact to
first order when the weights are the inverse standard deviations of independent quote errors
(then s is about 1); a parameter stuck on a bound has no standard error (NaN, and it is named
in `HestonFit.at_bounds`).

**Identification.** A surface with fewer than 6 quotes (more than the 5 parameters, for
s^2) or a single expiry (kappa and theta only act through the term structure) is refused
before fitting, and a fit whose column-normalised Jacobian has a condition number above
`MAX_CONDITION` (some combination of parameters leaves the fit unchanged) raises
`CalibrationError` naming the parameters in that direction. The Feller ratio 2 kappa theta /
sigma^2 is reported, not imposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from abm.derivatives._inputs import FloatArray, finite, flags, positive
from abm.derivatives.black_scholes import bsm_price, bsm_vega, implied_volatility
from abm.derivatives.errors import CalibrationError, DerivativesError
from abm.derivatives.heston import PARAMETER_NAMES, HestonParams, heston_price

DEFAULT_BOUNDS = ((1e-3, 1e-4, 1e-3, -0.999, 1e-4), (20.0, 4.0, 5.0, 0.999, 4.0))
"""Lower and upper bounds of (kappa, theta, sigma, rho, v0)."""
MAX_CONDITION = 1e7
"""The largest condition number of the column-normalised Jacobian accepted as identified."""
_MIN_POINTS = len(PARAMETER_NAMES) + 1


class CalibrationTarget(StrEnum):
    """What the residuals measure."""

    PRICE = "price"
    """Model price minus market price (in price units)."""
    IMPLIED_VOL = "implied_vol"
    """Implied volatility of the model price minus the market's implied volatility."""


@dataclass(frozen=True, slots=True)
class HestonFit:
    """The result of `calibrate_heston`.

    Attributes:
        params: The fitted parameters.
        std_errors: Standard errors in the order of `PARAMETER_NAMES` (NaN on a bound).
        rmse: Root mean square of the unweighted residuals, in target units.
        cost: Half the sum of squared weighted residuals at the optimum.
        n_points: Quotes fitted.
        n_expiries: Distinct expiries among them.
        target: What the residuals measured.
        condition_number: Of the column-normalised Jacobian at the optimum.
        at_bounds: Parameters that ended on a bound.
        n_starts: Starting points tried.
        message: The optimiser's message for the winning start.
    """

    params: HestonParams
    std_errors: tuple[float, float, float, float, float]
    rmse: float
    cost: float
    n_points: int
    n_expiries: int
    target: CalibrationTarget
    condition_number: float
    at_bounds: tuple[str, ...]
    n_starts: int
    message: str

    def std_error(self, name: str) -> float:
        """The standard error of parameter ``name`` (one of `PARAMETER_NAMES`)."""
        if name not in PARAMETER_NAMES:
            raise DerivativesError(
                f"name: must be one of {', '.join(PARAMETER_NAMES)}, got {name!r}"
            )
        return self.std_errors[PARAMETER_NAMES.index(name)]

    @property
    def feller_ratio(self) -> float:
        """2 kappa theta / sigma^2 of the fit."""
        return self.params.feller_ratio

    @property
    def satisfies_feller(self) -> bool:
        """Whether the fit satisfies Feller's condition 2 kappa theta > sigma^2."""
        return self.params.satisfies_feller


def calibrate_heston(
    spot: float,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: float,
    dividend: float,
    *,
    price: ArrayLike | None = None,
    implied_vol: ArrayLike | None = None,
    is_call: ArrayLike = True,
    weight: ArrayLike | None = None,
    target: CalibrationTarget | str = CalibrationTarget.PRICE,
    n_starts: int = 4,
    seed: int = 0,
    bounds: tuple[tuple[float, ...], tuple[float, ...]] = DEFAULT_BOUNDS,
) -> HestonFit:
    """Fit Heston's parameters to market quotes (give exactly one of ``price``, ``implied_vol``).

    Args:
        spot: The underlying's price (one for the surface).
        strike: One entry per quote.
        expiry: One entry per quote (or one for all), in years.
        rate: The continuously compounded rate (one for the surface).
        dividend: The continuous dividend yield (one for the surface).
        price: Market prices.
        implied_vol: Market Black-Scholes implied volatilities instead of prices (converted
            to prices, or used directly when ``target`` is implied_vol).
        is_call: True for a call, False for a put (one or per quote).
        weight: Multiplies each residual (default 1): e.g. 1 / quote standard deviation.
        target: Fit prices or implied volatilities (`CalibrationTarget`).
        n_starts: Starting points (the first a heuristic, the others seeded draws).
        seed: Seeds the generator of the extra starting points.
        bounds: (lower, upper) of (kappa, theta, sigma, rho, v0).

    Raises:
        CalibrationError: Too few quotes, a single expiry, or parameters the surface does not
            identify.
        DerivativesError: A quote or argument out of range (naming it).
    """
    try:
        target = CalibrationTarget(target)
    except ValueError as exc:
        raise DerivativesError(f"target: must be price or implied_vol, got {target!r}") from exc
    if (price is None) == (implied_vol is None):
        raise DerivativesError("price, implied_vol: give exactly one of them")
    if isinstance(n_starts, bool) or not isinstance(n_starts, int) or n_starts < 1:
        raise DerivativesError(f"n_starts: must be a positive integer, got {n_starts!r}")
    s = float(positive("spot", spot))
    r, q = float(finite("rate", rate)), float(finite("dividend", dividend))
    k, t = np.broadcast_arrays(positive("strike", strike), positive("expiry", expiry))
    k, t = k.ravel().astype(np.float64), t.ravel().astype(np.float64)
    call = np.broadcast_to(flags("is_call", is_call), k.shape).copy()
    w = (
        np.ones(k.shape)
        if weight is None
        else np.broadcast_to(positive("weight", weight), k.shape).copy()
    )
    lower, upper = _checked_bounds(bounds)
    if k.size < _MIN_POINTS:
        raise CalibrationError(
            f"surface: {k.size} quotes cannot identify Heston's 5 parameters; "
            f"give at least {_MIN_POINTS}"
        )
    n_expiries = int(np.unique(t).size)
    if n_expiries < 2:
        raise CalibrationError(
            "surface: all quotes share one expiry, which cannot separate kappa (mean reversion) "
            "from theta (long-run variance); give quotes at two expiries or more"
        )
    if price is not None:
        market_price = np.broadcast_to(positive("price", price), k.shape).astype(np.float64)
        market_iv = (
            implied_volatility(market_price, s, k, t, r, q, call)
            if target is CalibrationTarget.IMPLIED_VOL
            else None
        )
    else:
        assert implied_vol is not None
        market_iv = np.broadcast_to(positive("implied_vol", implied_vol), k.shape).astype(
            np.float64
        )
        market_price = bsm_price(s, k, t, r, q, market_iv, call)
    vega = bsm_vega(s, k, t, r, q, market_iv) if market_iv is not None else None

    # parameters the quadrature refuses (abm.derivatives.heston.MAX_NODES) get a flat, far
    # worse cost: the optimiser treats a step there as a failed step and shrinks its region
    refused = np.full(k.shape, 1e6 * (1.0 + float(np.max(np.abs(w * market_price)))))

    def residuals(x: FloatArray) -> FloatArray:
        try:
            model = heston_price(s, k, t, r, q, _params(x), call)
        except DerivativesError:
            return refused
        if market_iv is None or vega is None:
            return np.asarray(w * (model - market_price), dtype=np.float64)
        model_iv = implied_volatility(model, s, k, t, r, q, call, raise_outside_bounds=False)
        # a model price outside the bounds has no implied vol: first-order stand-in
        gap = np.where(np.isfinite(model_iv), model_iv - market_iv, (model - market_price) / vega)
        return np.asarray(w * gap, dtype=np.float64)

    starts = _starts(market_price, s, k, t, r, q, call, lower, upper, n_starts, seed)
    best = None
    for x0 in starts:
        if residuals(x0) is refused:
            continue
        result = least_squares(
            residuals,
            x0,
            bounds=(lower, upper),
            method="trf",
            x_scale="jac",
            ftol=1e-15,
            xtol=1e-15,
            gtol=1e-15,
            max_nfev=2000,
        )
        if best is None or result.cost < best.cost:
            best = result
    if best is None or residuals(best.x) is refused:
        raise CalibrationError(
            "surface: no starting point could be priced (the Heston integrand decays too "
            "slowly there); narrow the bounds"
        )
    return _summarise(best, w, lower, upper, k.size, n_expiries, target, n_starts)


def _params(x: FloatArray) -> HestonParams:
    return HestonParams(*(float(value) for value in x))


def _checked_bounds(
    bounds: tuple[tuple[float, ...], tuple[float, ...]],
) -> tuple[FloatArray, FloatArray]:
    lower, upper = (np.asarray(side, dtype=np.float64) for side in bounds)
    if lower.shape != (5,) or upper.shape != (5,) or not np.all(lower < upper):
        raise DerivativesError(
            "bounds: must be (lower, upper), five numbers each (kappa, theta, sigma, rho, v0), "
            "lower < upper"
        )
    try:
        _params(lower), _params(upper)
    except DerivativesError as exc:
        raise DerivativesError(f"bounds: outside the parameters' domain ({exc})") from exc
    return lower, upper


def _starts(
    price: FloatArray,
    s: float,
    k: FloatArray,
    t: FloatArray,
    r: float,
    q: float,
    call: np.ndarray,
    lower: FloatArray,
    upper: FloatArray,
    n_starts: int,
    seed: int,
) -> list[FloatArray]:
    """A start at the surface's at-the-money variance, then seeded draws inside the bounds."""
    near = np.abs(np.log(k / (s * np.exp((r - q) * t))))
    atm = int(np.argmin(near))
    atm_vol = implied_volatility(
        price[atm], s, k[atm], t[atm], r, q, call[atm], raise_outside_bounds=False
    )
    variance = float(atm_vol) ** 2 if np.isfinite(atm_vol) else 0.04
    first = np.clip(np.array([2.0, variance, 0.5, -0.5, variance]), lower, upper)
    rng = np.random.default_rng(seed)
    starts = [first]
    positive_lower = np.maximum(lower, 1e-12)
    for _ in range(n_starts - 1):
        log_draw = np.exp(rng.uniform(np.log(positive_lower), np.log(upper)))
        draw = np.where(np.arange(5) == 3, rng.uniform(lower[3], upper[3]), log_draw)
        starts.append(np.clip(draw, lower, upper))
    return starts


def _summarise(
    best: Any,
    w: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    n_points: int,
    n_expiries: int,
    target: CalibrationTarget,
    n_starts: int,
) -> HestonFit:
    x = np.asarray(best.x, dtype=np.float64)
    jac = np.asarray(best.jac, dtype=np.float64)
    fun = np.asarray(best.fun, dtype=np.float64)
    norms = np.linalg.norm(jac, axis=0)
    if np.any(norms == 0.0):
        flat = [PARAMETER_NAMES[i] for i in np.flatnonzero(norms == 0.0)]
        raise CalibrationError(
            f"surface: the quotes do not depend on {', '.join(flat)}: not identified"
        )
    _, singular, vt = np.linalg.svd(jac / norms, full_matrices=False)
    condition = float(singular[0] / singular[-1]) if singular[-1] > 0 else math.inf
    if condition > MAX_CONDITION:
        direction = vt[-1]
        involved = [PARAMETER_NAMES[i] for i in np.flatnonzero(np.abs(direction) > 0.3)]
        raise CalibrationError(
            f"surface: the fit does not identify {', '.join(involved)} (Jacobian condition number "
            f"{condition:.3g} > {MAX_CONDITION:.0e}): add strikes or expiries"
        )
    span = upper - lower
    on_bound = (x - lower <= 1e-8 * span) | (upper - x <= 1e-8 * span)
    dof = n_points - len(PARAMETER_NAMES)
    sigma2 = float(fun @ fun) / dof
    cov = sigma2 * np.linalg.pinv(jac.T @ jac)
    std = np.sqrt(np.maximum(np.diag(cov), 0.0))
    std = np.where(on_bound, np.nan, std)
    raw = fun / w
    return HestonFit(
        params=_params(x),
        std_errors=(float(std[0]), float(std[1]), float(std[2]), float(std[3]), float(std[4])),
        rmse=float(np.sqrt(np.mean(raw * raw))),
        cost=float(best.cost),
        n_points=n_points,
        n_expiries=n_expiries,
        target=target,
        condition_number=condition,
        at_bounds=tuple(PARAMETER_NAMES[i] for i in np.flatnonzero(on_bound)),
        n_starts=n_starts,
        message=str(best.message),
    )
