"""Discrete delta hedging in a Black-Scholes world, and Derman & Kamal's error law.

`delta_hedging_errors` simulates a dealer that sells a European option at its Black-Scholes
price and hedges it by holding the Black-Scholes delta of the underlying, rebalanced at
``rebalances`` equally spaced dates, cash earning the money-market rate; the underlying
follows geometric Brownian motion with the option's own volatility (hedging at the true
volatility, so the only error is that the hedge is not continuous). At expiry the hedge
portfolio, less the payoff, is the hedging error: zero on average, and with a standard
deviation that Derman & Kamal (1999, "When you cannot hedge continuously: the corrections
of Black-Scholes", Risk 12(1)) give for an at-the-money option as

    std(error) ~= sqrt(pi / 4) * vega * sigma / sqrt(N)            (`derman_kamal_std`)

with ``vega`` per 1.00 of volatility: quadrupling the rebalances halves the error. The
underlying pays no dividend here, and the error is discounted to time 0.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from abm.derivatives._inputs import FloatArray, finite, positive
from abm.derivatives.black_scholes import bsm_delta, bsm_price, bsm_vega
from abm.derivatives.errors import DerivativesError


def delta_hedging_errors(
    spot: float,
    strike: float,
    expiry: float,
    rate: float,
    vol: float,
    *,
    rebalances: int,
    n_paths: int,
    rng: np.random.Generator,
    is_call: bool = True,
    drift: float | None = None,
) -> FloatArray:
    """Hedging errors of a short option delta-hedged ``rebalances`` times (module docstring).

    Args:
        spot: The underlying's price at time 0.
        strike: The option's strike.
        expiry: Years to expiry.
        rate: The money-market rate (continuously compounded, per year).
        vol: The underlying's annual volatility, at which the option is priced and hedged.
        rebalances: Hedge dates, ``N`` (>= 1): the hedge is set at 0, ``T/N``, ...,
            ``(N-1) T / N`` and the option settles at ``T``.
        n_paths: Simulated paths (>= 2).
        rng: The only source of randomness.
        is_call: A call (True) or a put.
        drift: The underlying's real-world drift (default: ``rate``). Discrete hedging's
            error does not depend on it to first order.

    Returns:
        ``n_paths`` errors at expiry, discounted to time 0: hedge portfolio minus payoff.

    Raises:
        DerivativesError: Naming an argument out of range.
    """
    s0, k, t, v = (
        float(positive(name, value))
        for name, value in (("spot", spot), ("strike", strike), ("expiry", expiry), ("vol", vol))
    )
    r = float(finite("rate", rate))
    mu = r if drift is None else float(finite("drift", drift))
    if isinstance(rebalances, bool) or not isinstance(rebalances, int) or rebalances < 1:
        raise DerivativesError(f"rebalances: must be an integer >= 1, got {rebalances!r}")
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 2:
        raise DerivativesError(f"n_paths: must be an integer >= 2, got {n_paths!r}")
    if not isinstance(rng, np.random.Generator):
        raise DerivativesError("rng: must be a numpy.random.Generator")
    step = t / rebalances
    growth = math.exp(r * step)
    shocks = rng.standard_normal((n_paths, rebalances))
    log_steps = (mu - 0.5 * v * v) * step + v * math.sqrt(step) * shocks
    path = s0 * np.exp(np.cumsum(log_steps, axis=1))  # the price at each date after 0
    price = np.full(n_paths, s0)
    held = np.zeros(n_paths)
    cash = np.full(n_paths, float(bsm_price(s0, k, t, r, 0.0, v, is_call)))
    for date in range(rebalances):
        left = t - date * step
        target = bsm_delta(price, k, left, r, 0.0, v, is_call)
        cash -= (target - held) * price  # buy or sell the difference at today's price
        held = target
        cash *= growth
        price = path[:, date]
    payoff = np.maximum(price - k, 0.0) if is_call else np.maximum(k - price, 0.0)
    return np.asarray((cash + held * price - payoff) * math.exp(-r * t), dtype=np.float64)


def derman_kamal_std(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
    rebalances: ArrayLike,
) -> FloatArray:
    """Derman & Kamal's hedging-error standard deviation, ``sqrt(pi/4) vega sigma / sqrt(N)``.

    ``vega`` is the option's Black-Scholes vega per 1.00 of volatility (no dividend); the
    approximation is for an option near the money.
    """
    n = positive("rebalances", rebalances)
    vega = bsm_vega(spot, strike, expiry, rate, 0.0, vol)
    return np.asarray(
        math.sqrt(math.pi / 4.0) * vega * positive("vol", vol) / np.sqrt(n), dtype=np.float64
    )


__all__ = ["delta_hedging_errors", "derman_kamal_std"]
