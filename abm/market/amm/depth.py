"""Helpers both pools use: the depth view on a tick grid and an integer search.

A pool has no resting orders, yet a trader comparing venues wants the book's view: how much
can be traded at each price. `depth_levels` lays a pool's cumulative quantity (the base traded
while the marginal all-in price moves from the best price to a level) on the book's tick grid,
so that ``pool.depth(side, levels, tick_size=...)`` reads like ``OrderBook.depth(side, levels)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from abm.market.amm.common import InvalidPoolActionError, check_int, shown
from abm.market.orderbook import Side

__all__ = ["depth_levels", "largest_true"]


def depth_levels(
    side: Side,
    price: float,
    gamma: float,
    levels: object,
    tick_size: object,
    cumulative: Callable[[float], float],
) -> list[tuple[float, int]]:
    """``(price, qty)`` levels of one side, best first, from a cumulative quantity function.

    Args:
        side: ``sell`` for asks (all-in price ``price / gamma`` and up), ``buy`` for bids
            (``price * gamma`` and down).
        price: The pool price (no fee).
        gamma: ``1 - fee``.
        levels: How many ticks from the best all-in tick to show (empty ticks are left out).
        tick_size: The price grid, in the pool's price units.
        cumulative: Base units traded from the pool price to a marginal all-in price.

    Raises:
        InvalidPoolActionError: For a negative level count or a tick size that is not a
            positive finite number.
    """
    n_levels = check_int(levels, "levels", positive=False)
    if n_levels < 0:
        raise InvalidPoolActionError(f"levels: must be a non-negative integer, got {n_levels}")
    if isinstance(tick_size, bool) or not isinstance(tick_size, int | float):
        raise InvalidPoolActionError(
            f"tick_size: must be a positive number, got {shown(tick_size)}"
        )
    tick = float(tick_size)
    if not (math.isfinite(tick) and tick > 0):
        raise InvalidPoolActionError(
            f"tick_size: must be a positive number, got {shown(tick_size)}"
        )
    decimals = max(0, -math.floor(math.log10(tick)) + 2)  # as OrderBook prints its grid
    if side is Side.SELL:
        first, step = math.ceil(price / gamma / tick), 1
    else:
        first, step = math.floor(price * gamma / tick), -1
    out: list[tuple[float, int]] = []
    taken = 0
    for k in range(n_levels):
        index = first + step * k
        if index <= 0:
            break
        level_price = round(index * tick, decimals)
        total = math.floor(cumulative(level_price))
        if total > taken:
            out.append((level_price, total - taken))
            taken = total
    return out


def largest_true(holds: Callable[[int], bool], guess: int) -> int:
    """The largest ``n >= 0`` with ``holds(n)``, for ``holds`` true up to some point then false.

    ``holds(0)`` must be true. Gallops from ``guess`` (a near answer keeps it to a few calls)
    and then bisects.
    """
    guess = max(guess, 0)
    if holds(guess):
        low, step = guess, 1
        while holds(low + step):
            low += step
            step *= 2
        high = low + step
    else:
        high, step = guess, 1
        low = max(guess - step, 0)
        while low > 0 and not holds(low):
            high, step = low, step * 2
            low = max(guess - step, 0)
    while high - low > 1:
        middle = (low + high) // 2
        if holds(middle):
            low = middle
        else:
            high = middle
    return low
