"""Black-Scholes-Merton prices, Greeks and implied volatility of European options.

The underlying pays a continuous dividend yield ``dividend`` (q) and the money-market rate is
``rate`` (r), both continuously compounded per year; ``expiry`` (T) is in years and ``vol``
(sigma) is the annual volatility. Merton (1973) extends Black & Scholes (1973) to the yield:

    d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T),   d2 = d1 - sigma sqrt T
    call = S e^{-qT} N(d1) - K e^{-rT} N(d2),   put = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)

Every function takes arrays (or scalars) that broadcast against each other and returns a float
array of their broadcast shape; ``is_call`` is True for a call and False for a put. Greeks are
per unit of the variable: vega per 1.00 of volatility (not per vol point) and theta per year of
calendar time (the derivative with respect to t = -T, so usually negative for a long option).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from abm.derivatives._inputs import FloatArray, finite, flags, positive
from abm.derivatives.errors import ImpliedVolatilityError

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_VOL_CEILING = 100.0
"""The largest implied volatility searched (10,000% a year): beyond it a price is 'at the bound'."""
_MAX_ITERATIONS = 200


def _normal_pdf(x: FloatArray) -> FloatArray:
    return np.asarray(_INV_SQRT_2PI * np.exp(-0.5 * x * x), dtype=np.float64)


def _checked(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
) -> tuple[FloatArray, ...]:
    return (
        positive("spot", spot),
        positive("strike", strike),
        positive("expiry", expiry),
        finite("rate", rate),
        finite("dividend", dividend),
        positive("vol", vol),
    )


def _d1_d2(
    s: FloatArray, k: FloatArray, t: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """d1, d2 and sigma sqrt(T)."""
    total_vol = v * np.sqrt(t)
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / total_vol
    return d1, d1 - total_vol, total_vol


def bsm_price(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Black-Scholes-Merton price of a European call (``is_call``) or put.

    Raises:
        DerivativesError: If spot, strike, expiry or vol is not positive and finite, or rate
            or dividend is not finite.
    """
    s, k, t, r, q, v = _checked(spot, strike, expiry, rate, dividend, vol)
    call = flags("is_call", is_call)
    d1, d2, _ = _d1_d2(s, k, t, r, q, v)
    forward_leg = s * np.exp(-q * t)
    strike_leg = k * np.exp(-r * t)
    call_price = forward_leg * ndtr(d1) - strike_leg * ndtr(d2)
    put_price = strike_leg * ndtr(-d2) - forward_leg * ndtr(-d1)
    return np.asarray(np.where(call, call_price, put_price), dtype=np.float64)


def bsm_delta(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike = True,
) -> FloatArray:
    """dV/dS: e^{-qT} N(d1) for a call, -e^{-qT} N(-d1) for a put."""
    s, k, t, r, q, v = _checked(spot, strike, expiry, rate, dividend, vol)
    call = flags("is_call", is_call)
    d1, _, _ = _d1_d2(s, k, t, r, q, v)
    carry = np.exp(-q * t)
    return np.asarray(np.where(call, carry * ndtr(d1), -carry * ndtr(-d1)), dtype=np.float64)


def bsm_gamma(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
) -> FloatArray:
    """d2V/dS2, the same for a call and a put: e^{-qT} n(d1) / (S sigma sqrt T)."""
    s, k, t, r, q, v = _checked(spot, strike, expiry, rate, dividend, vol)
    d1, _, total_vol = _d1_d2(s, k, t, r, q, v)
    return np.asarray(np.exp(-q * t) * _normal_pdf(d1) / (s * total_vol), dtype=np.float64)


def bsm_vega(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
) -> FloatArray:
    """dV/dsigma, the same for a call and a put: S e^{-qT} n(d1) sqrt T (per 1.00 of vol)."""
    s, k, t, r, q, v = _checked(spot, strike, expiry, rate, dividend, vol)
    d1, _, _ = _d1_d2(s, k, t, r, q, v)
    return np.asarray(s * np.exp(-q * t) * _normal_pdf(d1) * np.sqrt(t), dtype=np.float64)


def bsm_theta(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike = True,
) -> FloatArray:
    """dV/dt = -dV/dT per year: the time decay of the option at fixed spot.

    call: -S e^{-qT} n(d1) sigma / (2 sqrt T) - r K e^{-rT} N(d2) + q S e^{-qT} N(d1);
    put:  -S e^{-qT} n(d1) sigma / (2 sqrt T) + r K e^{-rT} N(-d2) - q S e^{-qT} N(-d1).
    """
    s, k, t, r, q, v = _checked(spot, strike, expiry, rate, dividend, vol)
    call = flags("is_call", is_call)
    d1, d2, _ = _d1_d2(s, k, t, r, q, v)
    forward_leg = s * np.exp(-q * t)
    strike_leg = k * np.exp(-r * t)
    decay = -forward_leg * _normal_pdf(d1) * v / (2.0 * np.sqrt(t))
    call_theta = decay - r * strike_leg * ndtr(d2) + q * forward_leg * ndtr(d1)
    put_theta = decay + r * strike_leg * ndtr(-d2) - q * forward_leg * ndtr(-d1)
    return np.asarray(np.where(call, call_theta, put_theta), dtype=np.float64)


def implied_volatility(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    is_call: ArrayLike = True,
    *,
    raise_outside_bounds: bool = True,
) -> FloatArray:
    """The volatility at which `bsm_price` equals ``price`` (inverse of Black-Scholes-Merton).

    A European price is explained by exactly one volatility when it lies strictly between its
    no-arbitrage bounds: max(S e^{-qT} - K e^{-rT}, 0) < call < S e^{-qT}, and
    max(K e^{-rT} - S e^{-qT}, 0) < put < K e^{-rT} (prices explained only by a volatility above
    10,000% a year count as at the upper bound). The root is found for the out-of-the-money side
    (an in-the-money option is turned into its parity partner first, which keeps the
    time value accurate) by Newton's method on sigma inside a bracket that every step narrows,
    falling back to bisection when a Newton step would leave the bracket, to a relative
    bracket width of 1e-14. A time value below the formula's own rounding (about 1e-14 of the
    spot) pins no volatility: the result then reproduces the price only to that rounding, or
    is NaN when the search does not settle in 200 steps.

    Args:
        price: Option prices (finite).
        spot: The underlying's price (positive).
        strike: Strikes (positive).
        expiry: Times to expiry in years (positive).
        rate: Continuously compounded rate.
        dividend: Continuous dividend yield.
        is_call: True for a call, False for a put.
        raise_outside_bounds: With True (the default) a price on or outside its bounds raises;
            with False its volatility is NaN and the other entries are still solved.

    Raises:
        ImpliedVolatilityError: A price on or outside its bounds (naming the first one, its
            index and the bounds) when ``raise_outside_bounds``.
        DerivativesError: If an argument is not finite, or spot, strike or expiry is not
            positive.
    """
    target = finite("price", price)
    s, k, t, r, q, _ = _checked(spot, strike, expiry, rate, dividend, 1.0)
    call = flags("is_call", is_call)
    target, s, k, t, r, q, call = np.broadcast_arrays(target, s, k, t, r, q, call)
    forward_leg = s * np.exp(-q * t)
    strike_leg = k * np.exp(-r * t)
    lower = np.where(
        call, np.maximum(forward_leg - strike_leg, 0.0), np.maximum(strike_leg - forward_leg, 0.0)
    )
    upper = np.where(call, forward_leg, strike_leg)
    # the out-of-the-money side: a call struck above the forward, a put at or below it
    otm_call = strike_leg > forward_leg
    otm_target = np.where(
        call == otm_call,
        target,
        target + np.where(call, strike_leg - forward_leg, forward_leg - strike_leg),
    )
    ceiling = bsm_price(s, k, t, r, q, _VOL_CEILING, otm_call)
    inside = (target > lower) & (target < upper) & (otm_target > 0.0) & (otm_target < ceiling)
    if raise_outside_bounds and not np.all(inside):
        index = tuple(int(i) for i in np.argwhere(~inside)[0])
        shown = index[0] if len(index) == 1 else index
        raise ImpliedVolatilityError(
            f"price: {float(target[index])!r} at index {shown} is outside the no-arbitrage bounds "
            f"({float(lower[index])!r}, {float(upper[index])!r}) of a "
            f"{'call' if call[index] else 'put'}: no volatility reproduces it"
        )
    vol = np.full(target.shape, np.nan)
    if np.any(inside):
        vol[inside] = _solve(
            otm_target[inside],
            s[inside],
            k[inside],
            t[inside],
            r[inside],
            q[inside],
            otm_call[inside],
        )
    return vol


def _solve(
    target: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    call: NDArray[np.bool_],
) -> FloatArray:
    """Safeguarded Newton on sigma for prices known to lie strictly inside their bounds."""
    low = np.zeros(target.shape)
    high = np.full(target.shape, _VOL_CEILING)
    # Brenner & Subrahmanyam's at-the-money guess, clipped into the bracket
    vol = np.clip(np.sqrt(2.0 * np.pi / t) * target / (s * np.exp(-q * t)), 0.05, 2.0)
    active = np.ones(target.shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        if not np.any(active):
            break
        v = vol[active]
        args = (s[active], k[active], t[active], r[active], q[active])
        error = bsm_price(*args, v, call[active]) - target[active]
        vega = bsm_vega(*args, v)
        lo = np.where(error < 0.0, v, low[active])
        hi = np.where(error > 0.0, v, high[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = v - error / vega
        step = np.where(
            (newton > lo) & (newton < hi) & np.isfinite(newton), newton, 0.5 * (lo + hi)
        )
        done = (error == 0.0) | (hi - lo <= 1e-14 * hi) | (np.abs(step - v) <= 1e-15 * v)
        low[active], high[active] = lo, hi
        vol[active] = np.where(error == 0.0, v, step)
        active[np.flatnonzero(active)[done]] = False
    vol[active] = np.nan  # not converged in _MAX_ITERATIONS: no answer rather than a wrong one
    return vol
