"""Sizing a concentrated position from token amounts, and price ranges in pool ticks.

`liquidity_for_amounts` inverts the range's holdings (Adams et al. 2021, the Uniswap v3 core
whitepaper, section 6.29-6.30): at sqrt price ``s`` inside ``[sa, sb)`` liquidity ``L`` holds
``L (1/s - 1/sb)`` base and ``L (s - sa)`` quote, so the largest ``L`` two budgets allow is the
smaller of the two ratios. The exact answer is the largest integer whose holdings, rounded up
as a deposit pays them, fit both budgets.
"""

from __future__ import annotations

import math

from abm.market.amm.common import InvalidPoolActionError
from abm.market.amm.concentrated import ConcentratedLiquidityPool
from abm.market.amm.depth import largest_true
from abm.market.amm.sqrt_price import (
    MAX_TICK,
    MIN_TICK,
    amount_base_delta,
    amount_quote_delta,
    sqrt_price_at_tick,
)

__all__ = ["liquidity_for_amounts", "range_holdings", "tick_for_price"]


def range_holdings(
    sqrt_price: int, lower: int, upper: int, liquidity: int, *, round_up: bool
) -> tuple[int, int]:
    """``(base, quote)`` that ``liquidity`` over ticks ``[lower, upper)`` holds at a sqrt price."""
    sqrt_low, sqrt_high = sqrt_price_at_tick(lower), sqrt_price_at_tick(upper)
    price = min(max(sqrt_price, sqrt_low), sqrt_high)
    base = amount_base_delta(price, sqrt_high, liquidity, round_up=round_up)
    quote = amount_quote_delta(sqrt_low, price, liquidity, round_up=round_up)
    return base, quote


def liquidity_for_amounts(
    pool: ConcentratedLiquidityPool, lower: int, upper: int, base_max: int, quote_max: int
) -> int:
    """The most liquidity over ``[lower, upper)`` a deposit of at most these amounts buys.

    Raises:
        InvalidPoolActionError: If the budgets do not buy one unit of liquidity.
    """
    sqrt_price = pool.sqrt_price_x96

    def fits(liquidity: int) -> bool:
        base, quote = range_holdings(sqrt_price, lower, upper, liquidity, round_up=True)
        return base <= base_max and quote <= quote_max

    # the float estimate: the smaller of the two budgets' ratios (an unused token: no limit)
    s = sqrt_price / 2**96
    sa, sb = sqrt_price_at_tick(lower) / 2**96, sqrt_price_at_tick(upper) / 2**96
    s = min(max(s, sa), sb)
    estimates = []
    if s < sb:
        estimates.append(base_max / (1.0 / s - 1.0 / sb))
    if s > sa:
        estimates.append(quote_max / (s - sa))
    guess = max(0, math.floor(min(estimates)))
    liquidity = largest_true(fits, guess)
    if liquidity <= 0:
        raise InvalidPoolActionError(
            f"base_max, quote_max: {base_max} and {quote_max} buy no liquidity over "
            f"[{lower}, {upper})"
        )
    return liquidity


def tick_for_price(price: float, spacing: int, *, round_up: bool) -> int:
    """The pool tick of ``price`` (quote per base) on the grid of ``spacing``.

    Rounded down (a lower bound) or up (an upper bound) to a multiple of ``spacing``, inside
    the tick range.
    """
    raw = math.log(price) / math.log(1.0001)
    steps = math.ceil(raw / spacing) if round_up else math.floor(raw / spacing)
    lowest, highest = -(-MIN_TICK // spacing) * spacing, MAX_TICK // spacing * spacing
    return min(max(steps * spacing, lowest), highest)
