"""Monte Carlo of discretely monitored lookbacks, with the Broadie-Glasserman-Kou correction.

The price is simulated exactly at the monitoring dates under Black-Scholes-Merton
(log-normal increments; no time-stepping bias), so the plain estimate is an unbiased estimate
of the *discretely monitored* option, observed at time 0 and at ``monitoring_dates`` equally
spaced dates up to the expiry. With ``continuity_correction`` each path's extreme is shifted
by Broadie, Glasserman & Kou's (1997) factor - the maximum multiplied by e^{+beta sigma
sqrt(dt)}, the minimum by e^{-beta sigma sqrt(dt)}, beta = 0.5826 - which turns the same
simulation into an estimate of the *continuously monitored* option whose bias falls as o(sqrt
(dt)) instead of the plain estimate's O(sqrt(dt)) (tests/derivatives/test_lookback.py measures
both against the closed forms of `abm.derivatives.lookback`).

Randomness comes only from the ``rng`` argument (a `numpy.random.Generator` the caller owns):
paths are drawn in fixed blocks of `BLOCK_PATHS`, so the same generator state gives the same
estimate bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from abm.derivatives.errors import DerivativesError
from abm.derivatives.lookback import BGK_BETA

BLOCK_PATHS = 8192
"""Paths simulated per block (bounds the memory: BLOCK_PATHS x monitoring_dates floats)."""


class LookbackKind(StrEnum):
    """Which lookback payoff `lookback_monte_carlo` prices."""

    FLOATING_CALL = "floating_call"
    """S_T - min S."""
    FLOATING_PUT = "floating_put"
    """max S - S_T."""
    FIXED_CALL = "fixed_call"
    """(max S - K)^+."""
    FIXED_PUT = "fixed_put"
    """(K - min S)^+."""

    @property
    def uses_max(self) -> bool:
        """Whether the payoff depends on the path's maximum (else on its minimum)."""
        return self in (LookbackKind.FLOATING_PUT, LookbackKind.FIXED_CALL)


@dataclass(frozen=True, slots=True)
class MonteCarloEstimate:
    """A Monte Carlo price and its standard error (the sample sd over sqrt(n_paths))."""

    price: float
    std_error: float
    n_paths: int
    monitoring_dates: int
    continuity_correction: bool


def lookback_monte_carlo(
    kind: LookbackKind | str,
    spot: float,
    expiry: float,
    rate: float,
    dividend: float,
    vol: float,
    *,
    monitoring_dates: int,
    n_paths: int,
    rng: np.random.Generator,
    strike: float | None = None,
    running_extreme: float | None = None,
    continuity_correction: bool = False,
) -> MonteCarloEstimate:
    """Price a lookback by simulation at ``monitoring_dates`` equally spaced dates.

    Args:
        kind: The payoff (`LookbackKind` or its value, e.g. ``"floating_call"``).
        spot: The underlying's price now.
        expiry: Years to expiry.
        rate: Continuously compounded rate.
        dividend: Continuous dividend yield.
        vol: Annual volatility.
        monitoring_dates: Dates after time 0 at which the price is observed (the last at
            expiry), dt = expiry / monitoring_dates apart.
        n_paths: Simulated paths.
        strike: The fixed strike (required for a fixed-strike kind, refused otherwise).
        running_extreme: The extreme observed before time 0 (the spot when None): a maximum
            (>= spot) for a floating put or fixed call, a minimum (<= spot) otherwise.
        continuity_correction: Shift each path's extreme by e^{+-0.5826 sigma sqrt(dt)} to
            estimate the continuously monitored price instead of the discrete one.
        rng: The generator the normal draws come from.

    Raises:
        DerivativesError: Naming the argument that is out of range or missing.
    """
    try:
        kind = LookbackKind(kind)
    except ValueError as exc:
        choices = ", ".join(k.value for k in LookbackKind)
        raise DerivativesError(f"kind: must be one of {choices}, got {kind!r}") from exc
    for name, value in (("spot", spot), ("expiry", expiry), ("vol", vol)):
        if not np.isfinite(value) or value <= 0.0:
            raise DerivativesError(f"{name}: must be positive and finite, got {value!r}")
    for name, value in (("rate", rate), ("dividend", dividend)):
        if not np.isfinite(value):
            raise DerivativesError(f"{name}: must be finite, got {value!r}")
    for name, count in (("monitoring_dates", monitoring_dates), ("n_paths", n_paths)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise DerivativesError(f"{name}: must be a positive integer, got {count!r}")
    fixed = kind in (LookbackKind.FIXED_CALL, LookbackKind.FIXED_PUT)
    if fixed != (strike is not None):
        raise DerivativesError(
            f"strike: {'required' if fixed else 'not used'} for a {kind.value} lookback"
        )
    if strike is not None and (not np.isfinite(strike) or strike <= 0.0):
        raise DerivativesError(f"strike: must be positive and finite, got {strike!r}")
    extreme = spot if running_extreme is None else running_extreme
    if not np.isfinite(extreme) or (extreme < spot if kind.uses_max else extreme > spot):
        side = "a maximum >= spot" if kind.uses_max else "a minimum <= spot"
        raise DerivativesError(f"running_extreme: must be {side}, got {running_extreme!r}")

    dt = expiry / monitoring_dates
    drift = (rate - dividend - 0.5 * vol * vol) * dt
    shift = BGK_BETA * vol * np.sqrt(dt) if continuity_correction else 0.0
    payoffs = np.empty(n_paths)
    for start in range(0, n_paths, BLOCK_PATHS):
        size = min(BLOCK_PATHS, n_paths - start)
        log_paths = np.cumsum(
            drift + vol * np.sqrt(dt) * rng.standard_normal((size, monitoring_dates)), axis=1
        )
        final = spot * np.exp(log_paths[:, -1])
        if kind.uses_max:
            path_extreme = spot * np.exp(np.maximum(log_paths.max(axis=1), 0.0) + shift)
            observed = np.maximum(path_extreme, extreme)
        else:
            path_extreme = spot * np.exp(np.minimum(log_paths.min(axis=1), 0.0) - shift)
            observed = np.minimum(path_extreme, extreme)
        payoffs[start : start + size] = _payoff(kind, final, observed, strike)
    discounted = np.exp(-rate * expiry) * payoffs
    std_error = float(discounted.std(ddof=1) / np.sqrt(n_paths)) if n_paths > 1 else float("nan")
    return MonteCarloEstimate(
        price=float(discounted.mean()),
        std_error=std_error,
        n_paths=n_paths,
        monitoring_dates=monitoring_dates,
        continuity_correction=continuity_correction,
    )


def _payoff(
    kind: LookbackKind, final: np.ndarray, observed: np.ndarray, strike: float | None
) -> np.ndarray:
    if kind is LookbackKind.FLOATING_CALL:
        return final - observed
    if kind is LookbackKind.FLOATING_PUT:
        return observed - final
    assert strike is not None
    if kind is LookbackKind.FIXED_CALL:
        return np.maximum(observed - strike, 0.0)
    return np.maximum(strike - observed, 0.0)
