"""An arbitrageur between a pool and an external price, and the exogenous paths it trades on.

Pure math for the published-results validation (Milionis, Moallemi, Roughgarden & Zhang 2022,
"Automated market making and loss-versus-rebalancing"; Milionis, Moallemi & Roughgarden 2023,
"Automated market making and arbitrage profits in the presence of fees"): an external market
("CEX") price follows a geometric Brownian motion; at each block the arbitrageur trades the
pool as far as it pays, and no further.

With fee ``f`` (``gamma = 1 - f``), buying base from a pool at price ``P`` costs ``P / gamma`` at
the margin and selling it fetches ``P * gamma``. An arbitrageur facing the external price ``S``
therefore buys while ``P / gamma < S`` and sells while ``P * gamma > S``: after a block the pool
price sits at the edge of the no-trade band, ``S * gamma`` or ``S / gamma``, the optimum of the
arbitrageur's problem (Milionis et al. 2023).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import pandas as pd

from abm.market.amm.common import FEE_DENOMINATOR, InvalidPoolActionError, SwapResult
from abm.market.orderbook import Side

__all__ = [
    "BLOCK_COLUMNS",
    "SwapPool",
    "arbitrage",
    "block_times",
    "gbm_prices",
    "simulate_arbitrage",
]

_UNBOUNDED: Final = 1 << 200  # an input no pool can absorb: the price limit decides the size
_INT64_MAX: Final = (1 << 63) - 1

BLOCK_COLUMNS: Final = (
    "time",
    "price",
    "base_before",
    "quote_before",
    "base_after",
    "quote_after",
    "fee_base",
    "fee_quote",
    "arbitrage_profit",
)
"""Columns of `simulate_arbitrage`'s table, one row per block (amounts in token units)."""


class SwapPool(Protocol):
    """What the arbitrageur needs of a pool; both pool kinds have it."""

    @property
    def fee_pips(self) -> int:
        """Swap fee in millionths of the input."""
        ...

    @property
    def reserve_base(self) -> int:
        """Base units held."""
        ...

    @property
    def reserve_quote(self) -> int:
        """Quote units held."""
        ...

    def price(self) -> float | None:
        """Pool price, quote per base."""
        ...

    def swap_exact_input(
        self, side: object, amount_in: object, *, price_limit: object = None
    ) -> SwapResult:
        """Swap an exact input, stopping at ``price_limit``."""
        ...


def arbitrage(pool: SwapPool, external_price: float) -> SwapResult | None:
    """Trade ``pool`` to the edge of its no-arbitrage band around ``external_price``.

    Returns:
        The swap, or None when the pool price is inside the band (no trade pays).

    Raises:
        InvalidPoolActionError: For an external price that is not positive and finite, or an
            empty pool.
    """
    if not (math.isfinite(external_price) and external_price > 0):
        raise InvalidPoolActionError(
            f"external_price: must be a positive finite number, got {external_price!r}"
        )
    price = pool.price()
    if price is None:
        raise InvalidPoolActionError("pool: has no liquidity to arbitrage")
    gamma = (FEE_DENOMINATOR - pool.fee_pips) / FEE_DENOMINATOR
    if external_price * gamma > price:
        result = pool.swap_exact_input(Side.BUY, _UNBOUNDED, price_limit=external_price * gamma)
    elif external_price / gamma < price:
        result = pool.swap_exact_input(Side.SELL, _UNBOUNDED, price_limit=external_price / gamma)
    else:
        return None
    return result if result.amount_in else None


def block_times(
    rng: np.random.Generator,
    horizon: float,
    *,
    interval: float | None = None,
    rate: float | None = None,
) -> np.ndarray:
    """Block times in ``(0, horizon]``: every ``interval``, or a Poisson process of ``rate``.

    Exactly one of ``interval`` and ``rate`` is given; ``rng`` is used only for Poisson blocks.

    Raises:
        InvalidPoolActionError: For a non-positive horizon, interval or rate, or both or neither.
    """
    if (interval is None) == (rate is None):
        raise InvalidPoolActionError("interval, rate: give exactly one of them")
    if not horizon > 0:
        raise InvalidPoolActionError(f"horizon: must be positive, got {horizon!r}")
    if interval is not None:
        if not interval > 0:
            raise InvalidPoolActionError(f"interval: must be positive, got {interval!r}")
        return np.arange(1, math.floor(horizon / interval + 1e-9) + 1) * interval
    assert rate is not None
    if not rate > 0:
        raise InvalidPoolActionError(f"rate: must be positive, got {rate!r}")
    # draw in chunks until the horizon is passed: the count is Poisson(rate * horizon)
    chunk = int(rate * horizon + 10 * math.sqrt(rate * horizon) + 10)
    times = np.cumsum(rng.exponential(1.0 / rate, size=chunk))
    while times[-1] <= horizon:
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate, chunk))])
    return times[times <= horizon]


def gbm_prices(
    rng: np.random.Generator,
    initial_price: float,
    sigma: float,
    times: Sequence[float] | np.ndarray,
    *,
    drift: float = 0.0,
) -> np.ndarray:
    """A geometric Brownian motion sampled exactly at ``times`` (increasing, after 0).

    ``dS / S = drift dt + sigma dW``: log-price increments are normal with mean
    ``(drift - sigma**2 / 2) dt`` and variance ``sigma**2 dt``; ``drift = 0`` makes the price a
    martingale, as the LVR results assume.
    """
    steps = np.diff(np.concatenate([[0.0], np.asarray(times, dtype=float)]))
    if np.any(steps < 0):
        raise InvalidPoolActionError("times: must be increasing and not negative")
    shocks = rng.standard_normal(steps.size)
    log_moves = (drift - 0.5 * sigma * sigma) * steps + sigma * np.sqrt(steps) * shocks
    return initial_price * np.exp(np.cumsum(log_moves))


def simulate_arbitrage(
    pool: SwapPool,
    times: Sequence[float] | np.ndarray,
    prices: Sequence[float] | np.ndarray,
) -> pd.DataFrame:
    """Arbitrage ``pool`` to each external price in turn; one row per block (`BLOCK_COLUMNS`).

    ``base_before``/``quote_before`` are the pool's holdings when the block starts,
    ``*_after`` when it ends; ``fee_base``/``fee_quote`` the fee the block's swap paid (in its
    input token); ``arbitrage_profit`` the arbitrageur's gain valued at the external price
    (``base out * price - quote in`` on a buy, ``quote out - base in * price`` on a sell; 0 when
    there is no trade). The pool is changed in place.

    Raises:
        InvalidPoolActionError: If times and prices differ in length, or the pool's holdings
            pass the int64 range of the table.
    """
    times_arr = np.asarray(times, dtype=float)
    prices_arr = np.asarray(prices, dtype=float)
    if times_arr.shape != prices_arr.shape or times_arr.ndim != 1:
        raise InvalidPoolActionError("times, prices: must be 1-D and of the same length")
    columns: dict[str, list[float | int]] = {name: [] for name in BLOCK_COLUMNS}
    for time, price in zip(times_arr.tolist(), prices_arr.tolist(), strict=True):
        base_before, quote_before = pool.reserve_base, pool.reserve_quote
        result = arbitrage(pool, price)
        fee_base = fee_quote = 0
        profit = 0.0
        if result is not None:
            if result.side is Side.BUY:
                fee_quote = result.fee
                profit = result.amount_out * price - result.amount_in
            else:
                fee_base = result.fee
                profit = result.amount_out - result.amount_in * price
        row = (
            time,
            price,
            base_before,
            quote_before,
            pool.reserve_base,
            pool.reserve_quote,
            fee_base,
            fee_quote,
            profit,
        )
        for name, value in zip(BLOCK_COLUMNS, row, strict=True):
            columns[name].append(value)
    largest = max((max(columns[name], default=0) for name in BLOCK_COLUMNS[2:8]), default=0)
    if largest > _INT64_MAX:
        raise InvalidPoolActionError("pool: holdings pass the int64 range of the block table")
    table = pd.DataFrame(columns)
    for name in BLOCK_COLUMNS[2:8]:
        table[name] = table[name].astype("int64")
    return table
