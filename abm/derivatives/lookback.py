"""Lookback options under Black-Scholes-Merton: continuous-monitoring closed forms and BGK shifts.

A lookback pays on the extreme of the price path (the underlying pays the yield q, the money
market r, b = r - q is the cost of carry; `running_extreme` is the minimum or maximum observed
so far, the spot when the option is new):

- floating strike (Goldman, Sosin & Gatto 1979, with the yield as in Haug 1998, eqs. on
  "floating strike lookback options"): call pays S_T - min, put pays max - S_T;
- fixed strike (Conze & Viswanathan 1991): call pays (max - K)^+, put pays (K - min)^+.

All four are a Black-Scholes-Merton option struck at the extreme (or the strike) plus the
premium of the extreme itself, S e^{-rT} sigma^2 / (2b) [...] (`_max_premium`,
`_min_premium`); at b = 0 that premium is its limit sigma sqrt(T) S e^{-rT} [n(d1) +- d1 N(+-d1)]
(used for |b| < 1e-8, where the general form loses its digits).

**Discrete monitoring.** Broadie, Glasserman & Kou (1997, 1999) show that a price observed at
m dates dt = T/m apart behaves as if continuously monitored with its extreme shifted by
e^{+-beta sigma sqrt(dt)}, beta = -zeta(1/2)/sqrt(2 pi) = 0.5826: the discrete maximum is
about e^{-beta sigma sqrt(dt)} times the continuous one. `discrete_fixed_strike_lookback` and
`discrete_floating_strike_lookback` apply the shift to the closed forms (error o(sqrt(dt))
instead of the continuous price's O(sqrt(dt))): writing E[(max - K)^+] as an integral of
P(max > h) over h > K and shifting h gives, with a = beta sigma sqrt(dt),

    call_m(K; M0) = e^{-rT} (M0 - K)^+ + e^{-a} call(K' = max(K, M0) e^{a}; running max S),

and for the minimum the mirror image (see the functions).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from abm.derivatives._inputs import FloatArray, finite, flags, positive
from abm.derivatives.black_scholes import bsm_price
from abm.derivatives.errors import DerivativesError

BGK_BETA = 0.5825971579390106
"""-zeta(1/2) / sqrt(2 pi): Broadie, Glasserman & Kou's continuity-correction constant."""
_ZERO_CARRY = 1e-8
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _premium(
    s: FloatArray,
    x: FloatArray,
    t: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    *,
    of_max: bool,
) -> FloatArray:
    """The extreme's premium over a vanilla struck at ``x`` (the bracketed Haug term)."""
    b = r - q
    root_t = np.sqrt(t)
    d1 = (np.log(s / x) + (b + 0.5 * v * v) * t) / (v * root_t)
    scale = s * np.exp(-r * t)
    zero = np.abs(b) < _ZERO_CARRY
    safe_b = np.where(zero, 1.0, b)
    power = (s / x) ** (-2.0 * safe_b / (v * v))
    shift = 2.0 * safe_b * root_t / v
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    if of_max:
        general = np.exp(safe_b * t) * ndtr(d1) - power * ndtr(d1 - shift)
        limit = v * root_t * (pdf + d1 * ndtr(d1))
    else:
        general = power * ndtr(-d1 + shift) - np.exp(safe_b * t) * ndtr(-d1)
        limit = v * root_t * (pdf - d1 * ndtr(-d1))
    return np.asarray(
        scale * np.where(zero, limit, v * v / (2.0 * safe_b) * general), dtype=np.float64
    )


def _extreme(name: str, value: ArrayLike | None, s: FloatArray, is_max: np.ndarray) -> FloatArray:
    """The running extreme (the spot when None), checked to be on the right side of the spot."""
    if value is None:
        return s
    extreme = positive(name, value)
    wrong = np.where(is_max, extreme < s, extreme > s)
    if np.any(wrong):
        raise DerivativesError(
            f"{name}: a running maximum must be >= spot and a running minimum <= spot "
            f"(got {np.broadcast_to(extreme, wrong.shape)[wrong].ravel()[0]!r})"
        )
    return extreme


def floating_strike_lookback(
    spot: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike = True,
    running_extreme: ArrayLike | None = None,
) -> FloatArray:
    """Continuously monitored floating-strike lookback (Goldman, Sosin & Gatto 1979).

    Call pays S_T - min_{[0,T]} S (``running_extreme`` the minimum so far, <= spot); put pays
    max S - S_T (``running_extreme`` the maximum so far, >= spot).

    Raises:
        DerivativesError: A non-positive spot, expiry, vol or extreme, a non-finite rate or
            dividend, or an extreme on the wrong side of the spot.
    """
    s, t, r, q, v = (
        positive("spot", spot),
        positive("expiry", expiry),
        finite("rate", rate),
        finite("dividend", dividend),
        positive("vol", vol),
    )
    call = flags("is_call", is_call)
    s, t, r, q, v, call = np.broadcast_arrays(s, t, r, q, v, call)
    x = np.broadcast_to(_extreme("running_extreme", running_extreme, s, ~call), s.shape)
    vanilla = bsm_price(s, x, t, r, q, v, call)
    with np.errstate(all="ignore"):  # each branch is computed for every entry, one is kept
        premium = np.where(
            call, _premium(s, x, t, r, q, v, of_max=False), _premium(s, x, t, r, q, v, of_max=True)
        )
    return np.asarray(vanilla + premium, dtype=np.float64)


def fixed_strike_lookback(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike = True,
    running_extreme: ArrayLike | None = None,
) -> FloatArray:
    """Continuously monitored fixed-strike lookback (Conze & Viswanathan 1991).

    Call pays (max S - K)^+ (``running_extreme`` the maximum so far, >= spot); put pays
    (K - min S)^+ (``running_extreme`` the minimum so far, <= spot). An extreme already past
    the strike locks in e^{-rT} |extreme - K| and the rest is the option struck at the extreme.

    Raises:
        DerivativesError: As `floating_strike_lookback`, or a non-positive strike.
    """
    s, k, t, r, q, v = (
        positive("spot", spot),
        positive("strike", strike),
        positive("expiry", expiry),
        finite("rate", rate),
        finite("dividend", dividend),
        positive("vol", vol),
    )
    call = flags("is_call", is_call)
    s, k, t, r, q, v, call = np.broadcast_arrays(s, k, t, r, q, v, call)
    m = np.broadcast_to(_extreme("running_extreme", running_extreme, s, call), s.shape)
    x = np.where(call, np.maximum(k, m), np.minimum(k, m))
    locked = np.exp(-r * t) * np.where(call, np.maximum(m - k, 0.0), np.maximum(k - m, 0.0))
    vanilla = bsm_price(s, x, t, r, q, v, call)
    with np.errstate(all="ignore"):
        premium = np.where(
            call, _premium(s, x, t, r, q, v, of_max=True), _premium(s, x, t, r, q, v, of_max=False)
        )
    return np.asarray(locked + vanilla + premium, dtype=np.float64)


def bgk_shift(vol: ArrayLike, expiry: ArrayLike, monitoring_dates: int) -> FloatArray:
    """The log shift a = beta sigma sqrt(T / m) of Broadie, Glasserman & Kou's correction.

    Raises:
        DerivativesError: If ``monitoring_dates`` is not a positive integer.
    """
    if isinstance(monitoring_dates, bool) or not isinstance(monitoring_dates, int | np.integer):
        raise DerivativesError(f"monitoring_dates: must be an integer, got {monitoring_dates!r}")
    if monitoring_dates < 1:
        raise DerivativesError(f"monitoring_dates: must be >= 1, got {monitoring_dates}")
    v, t = positive("vol", vol), positive("expiry", expiry)
    return np.asarray(BGK_BETA * v * np.sqrt(t / monitoring_dates), dtype=np.float64)


def discrete_fixed_strike_lookback(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    monitoring_dates: int,
    is_call: ArrayLike = True,
    running_extreme: ArrayLike | None = None,
) -> FloatArray:
    """Fixed-strike lookback on ``monitoring_dates`` equally spaced prices and time 0, BGK-shifted.

    call_m = e^{-rT} (M0 - K)^+ + e^{-a} call(max(K, M0) e^{a}), put_m = e^{-rT} (K - m0)^+ +
    e^{a} put(min(K, m0) e^{-a}), the continuous options on a new path (running extreme = spot),
    a = `bgk_shift`. An approximation whose error falls faster than sqrt(T / m).

    Raises:
        DerivativesError: As `fixed_strike_lookback`, or a bad ``monitoring_dates``.
    """
    s, k, t, r = (
        positive("spot", spot),
        positive("strike", strike),
        positive("expiry", expiry),
        finite("rate", rate),
    )
    call = flags("is_call", is_call)
    a = bgk_shift(vol, expiry, monitoring_dates)
    s, k, t, r, a, call = np.broadcast_arrays(s, k, t, r, a, call)
    m = np.broadcast_to(_extreme("running_extreme", running_extreme, s, call), s.shape)
    locked = np.exp(-r * t) * np.where(call, np.maximum(m - k, 0.0), np.maximum(k - m, 0.0))
    shifted = np.where(call, np.maximum(k, m) * np.exp(a), np.minimum(k, m) * np.exp(-a))
    continuous = fixed_strike_lookback(s, shifted, t, r, dividend, vol, call)
    return np.asarray(locked + np.exp(np.where(call, -a, a)) * continuous, dtype=np.float64)


def discrete_floating_strike_lookback(
    spot: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    vol: ArrayLike,
    monitoring_dates: int,
    is_call: ArrayLike = True,
    running_extreme: ArrayLike | None = None,
) -> FloatArray:
    """Floating-strike lookback on ``monitoring_dates`` prices (and time 0), BGK-shifted.

    S_T - min = (S_T - m0) + (m0 - min)^+ and max - S_T = (M0 - S_T) + (max - M0)^+: a forward
    plus the discretely monitored fixed-strike lookback struck at the running extreme.

    Raises:
        DerivativesError: As `floating_strike_lookback`, or a bad ``monitoring_dates``.
    """
    s, t, r, q = (
        positive("spot", spot),
        positive("expiry", expiry),
        finite("rate", rate),
        finite("dividend", dividend),
    )
    call = flags("is_call", is_call)
    s, t, r, q, call = np.broadcast_arrays(s, t, r, q, call)
    x = np.broadcast_to(_extreme("running_extreme", running_extreme, s, ~call), s.shape)
    forward = s * np.exp(-q * t) - x * np.exp(-r * t)
    lookback = discrete_fixed_strike_lookback(s, x, t, r, q, vol, monitoring_dates, ~call, x)
    return np.asarray(np.where(call, forward, -forward) + lookback, dtype=np.float64)
