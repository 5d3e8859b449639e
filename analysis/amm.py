"""Liquidity provision on an AMM: impermanent loss, loss-versus-rebalancing, fees and arbitrage.

Pure functions of numbers, arrays and block tables; nothing here imports the model or the
pools. A *block table* has one row per block, as `abm.market.amm.arbitrage.simulate_arbitrage`
writes it: ``time, price`` (the external price), the pool's holdings ``base_before,
quote_before`` when the block starts and ``base_after, quote_after`` when it ends (integer token
units), the fee paid in the block (``fee_base``, ``fee_quote``) and the arbitrageur's profit
valued at the external price (``arbitrage_profit``).

The block tables' columns (`BLOCK_TABLE_COLUMNS`) and `lp_pnl_decomposition` are
`abm.results.amm_summary`'s (the engine writes a run's AMM figures into its summary and must
not import this module, which loads scipy); they are re-exported here.

Closed forms and where they come from:

* impermanent loss of a constant-product pool, ``2 sqrt(r) / (1 + r) - 1`` for a price ratio
  ``r`` (Pintail 2019; Aigner & Dhaliwal 2021);
* the same for a position concentrated on ``[pa, pb]`` (Loesch, Hindman, Richardson & Welch
  2021, "Impermanent loss in Uniswap v3");
* loss-versus-rebalancing of a constant-product pool, ``sigma**2 / 8`` of the pool's value per
  unit time (Milionis, Moallemi, Roughgarden & Zhang 2022, "Automated market making and
  loss-versus-rebalancing", the constant-product example), and ``sigma**2 * L * sqrt(P) / 4``
  inside a concentrated range;
* the probability that a block holds an arbitrage trade when blocks arrive at rate ``lambda``
  and the fee is ``f``, ``1 / (1 + sqrt(2 lambda) f / sigma)``, and arbitrage profit = LVR times
  it (Milionis, Moallemi & Roughgarden 2023, "Automated market making and arbitrage profits in
  the presence of fees", the fast-block asymptotics);
* with blocks at fixed intervals ``dt`` instead, arbitrage profit = LVR /
  (1 + sqrt(2 pi) / |zeta(1/2)| * f / (sigma sqrt(dt))) (Nezlobin & Tassy 2025,
  "Loss-versus-rebalancing under deterministic and generalized block-times").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from abm.results.amm_summary import (
    BLOCK_TABLE_COLUMNS,
    check_block_table,
    lp_pnl_decomposition,
    positive_finite,
)

__all__ = [
    "BLOCK_TABLE_COLUMNS",
    "arbitrage_probability",
    "arbitrage_profit_rate",
    "arbitrage_rate",
    "concentrated_impermanent_loss",
    "concentrated_lvr_rate",
    "fixed_block_arbitrage_factor",
    "fixed_block_arbitrage_profit_rate",
    "impermanent_loss",
    "lp_pnl_decomposition",
    "lvr_rate",
]


def _scalar_or_array(array: np.ndarray) -> float | np.ndarray:
    return float(array) if array.ndim == 0 else array


def impermanent_loss(price_ratio: ArrayLike) -> float | np.ndarray:
    """Value of a constant-product position against holding its deposit, minus one.

    ``IL(r) = 2 sqrt(r) / (1 + r) - 1`` for ``r`` = new price / price at deposit (about
    -5.72% at ``r = 2``, -20% at ``r = 4``); fees left out.

    Raises:
        ValueError: For a ratio that is not positive and finite.
    """
    ratio = positive_finite(price_ratio, "price_ratio")
    return _scalar_or_array(2.0 * np.sqrt(ratio) / (1.0 + ratio) - 1.0)


def concentrated_impermanent_loss(
    price_ratio: ArrayLike, lower: float, upper: float, price: float = 1.0
) -> float | np.ndarray:
    """Impermanent loss of liquidity concentrated on prices ``[lower, upper]``.

    A position opened at ``price`` (inside the range) holds ``L (1/sqrt(p) - 1/sqrt(pb))`` base
    and ``L (sqrt(p) - sqrt(pa))`` quote at a price ``p`` clamped to the range. Against holding
    the deposit, after the price moves to ``r * price`` (Loesch et al. 2021, inside the
    range): ``(2 sqrt(r) - 1 - r) / (1 + r - sqrt(pa / price) - r sqrt(price / pb))``; outside
    the range the position is all one token and the loss follows from the clamped holdings.
    ``lower -> 0, upper -> inf`` gives `impermanent_loss`.

    Raises:
        ValueError: For a ratio or bound that is not positive and finite, or ``price`` not
            strictly inside ``(lower, upper)``.
    """
    ratio = positive_finite(price_ratio, "price_ratio")
    pa, pb, p0 = (
        float(positive_finite(value, name))
        for value, name in ((lower, "lower"), (upper, "upper"), (price, "price"))
    )
    if not pa < p0 < pb:
        raise ValueError(f"price {p0} must lie strictly inside (lower, upper) = ({pa}, {pb})")

    def holdings(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        clamped = np.clip(p, pa, pb)
        return 1.0 / np.sqrt(clamped) - 1.0 / math.sqrt(pb), np.sqrt(clamped) - math.sqrt(pa)

    new_price = ratio * p0
    base0, quote0 = holdings(np.asarray(p0))
    base1, quote1 = holdings(new_price)
    held = base0 * new_price + quote0
    return _scalar_or_array((base1 * new_price + quote1) / held - 1.0)


def lvr_rate(sigma: ArrayLike, pool_value: ArrayLike) -> float | np.ndarray:
    """Loss-versus-rebalancing per unit time of a constant-product pool: ``sigma**2 / 8 * V``.

    ``sigma`` is the volatility of the external price per square root of the time unit; the
    result is in the units of ``pool_value`` per time unit (Milionis et al. 2022).

    Raises:
        ValueError: For a negative or non-finite sigma or pool value.
    """
    vol = np.asarray(sigma, dtype=float)
    value = np.asarray(pool_value, dtype=float)
    if not (np.all(np.isfinite(vol) & (vol >= 0)) and np.all(np.isfinite(value) & (value >= 0))):
        raise ValueError("sigma and pool_value must be non-negative and finite")
    return _scalar_or_array(vol * vol / 8.0 * value)


def concentrated_lvr_rate(
    sigma: float, liquidity: float, price: float, lower: float, upper: float
) -> float:
    """LVR per unit time of liquidity ``L`` on ``[lower, upper]``: ``sigma**2 L sqrt(P) / 4``.

    From the general ``LVR = sigma**2 P**2 |x'(P)| / 2`` (Milionis et al. 2022) with
    the range's base holding ``x(P) = L (1/sqrt(P) - 1/sqrt(pb))``; zero outside the range.
    ``L`` is in ``sqrt(base * quote)`` units, the result in quote units per time unit.

    Raises:
        ValueError: For a negative sigma or liquidity, or bounds not ``0 < lower < upper``.
    """
    if not (sigma >= 0 and liquidity >= 0 and 0 < lower < upper and price > 0):
        raise ValueError("need sigma >= 0, liquidity >= 0, price > 0 and 0 < lower < upper")
    if not lower < price < upper:
        return 0.0
    return sigma * sigma * liquidity * math.sqrt(price) / 4.0


def arbitrage_probability(sigma: float, block_rate: float, fee: float) -> float:
    """Probability that a block holds an arbitrage trade: ``1 / (1 + sqrt(2 lambda) f / sigma)``.

    Blocks arrive as a Poisson process of rate ``block_rate`` (``lambda``, per time unit), the
    external price has volatility ``sigma`` and the pool charges ``fee`` (a fraction, 0.003 for
    30 bp). Milionis, Moallemi & Roughgarden (2023), the fast-block limit: the mispricing is
    uniform inside the no-trade band and has exponential tails of rate ``sqrt(2 lambda) /
    sigma`` outside it.

    Raises:
        ValueError: For a non-positive sigma or rate, or a fee outside ``[0, 1)``.
    """
    if not (sigma > 0 and block_rate > 0 and 0 <= fee < 1):
        raise ValueError("need sigma > 0, block_rate > 0 and 0 <= fee < 1")
    return 1.0 / (1.0 + math.sqrt(2.0 * block_rate) * fee / sigma)


def arbitrage_profit_rate(sigma: float, block_rate: float, fee: float, pool_value: float) -> float:
    """Arbitrage profit per unit time with fees and Poisson blocks: LVR times the trade probability.

    ``sigma**2 / 8 * V / (1 + sqrt(2 lambda) f / sigma)`` (Milionis, Moallemi & Roughgarden
    2023, for a constant-product pool of value ``V``).
    """
    return float(lvr_rate(sigma, pool_value)) * arbitrage_probability(sigma, block_rate, fee)


def fixed_block_arbitrage_factor(sigma: float, block_interval: float, fee: float) -> float:
    """Arbitrage profit over LVR when blocks come every ``block_interval``, not at Poisson times.

    Nezlobin & Tassy (2025) give the expected arbitrage per block as
    ``sigma_b**2 / (2 + sqrt(2 pi) gamma / (|zeta(1/2)| sigma_b))`` per unit of liquidity, with
    ``sigma_b = sigma * sqrt(block_interval)`` the volatility over a block and ``gamma`` the
    pool's spread, which is ``2 * fee`` (buy at ``P / (1 - f)``, sell at ``P (1 - f)``). Over
    its no-fee value ``sigma_b**2 / 2`` that is ``1 / (1 + sqrt(2 pi) / |zeta(1/2)| * fee /
    sigma_b)``, about ``1 / (1 + 1.7164 fee / sigma_b)``: less than with Poisson blocks of the
    same mean interval, ``1 / (1 + sqrt(2) fee / sigma_b)``.

    Raises:
        ValueError: For a non-positive sigma or interval, or a fee outside ``[0, 1)``.
    """
    if not (sigma > 0 and block_interval > 0 and 0 <= fee < 1):
        raise ValueError("need sigma > 0, block_interval > 0 and 0 <= fee < 1")
    coefficient = math.sqrt(2.0 * math.pi) / abs(float(special.zeta(0.5)))
    return 1.0 / (1.0 + coefficient * fee / (sigma * math.sqrt(block_interval)))


def fixed_block_arbitrage_profit_rate(
    sigma: float, block_interval: float, fee: float, pool_value: float
) -> float:
    """Arbitrage profit per unit time with fixed block intervals: LVR times the factor above."""
    factor = fixed_block_arbitrage_factor(sigma, block_interval, fee)
    return float(lvr_rate(sigma, pool_value)) * factor


def arbitrage_rate(blocks: pd.DataFrame) -> float:
    """Arbitrage profit per unit time per unit of pool value, as measured on a block table.

    ``sum(arbitrage_profit) / sum(V_i * (t_i - t_{i-1}))``, where ``V_i`` is the pool's value
    at the start of block ``i`` marked at its external price and ``t_0`` is 0: the quantity the
    LVR closed forms predict (``sigma**2 / 8`` without fee with frequent blocks).

    Raises:
        ValueError: For a table without the block columns or without rows.
    """
    check_block_table(blocks)
    price = blocks["price"].to_numpy(dtype=float)
    value = blocks["base_before"].to_numpy(dtype=float) * price + blocks["quote_before"].to_numpy(
        dtype=float
    )
    times = blocks["time"].to_numpy(dtype=float)
    exposure = float(np.sum(value * np.diff(np.concatenate([[0.0], times]))))
    return float(blocks["arbitrage_profit"].sum()) / exposure
