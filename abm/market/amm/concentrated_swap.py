"""The swap walk of a concentrated-liquidity pool, as a pure function of the pool's ranges.

`walk_swap` moves the price range by range (`abm.market.amm.swap_step`) and crosses each
initialized tick on the way, changing the active liquidity by the tick's net liquidity
(added going up, removed going down; Uniswap v3 core whitepaper, section 6). It changes
nothing: it returns where the pool would end and which ticks it would cross, and the pool
applies that only when the whole swap succeeds. `base_to_price` integrates the base amount
over the same ranges, for the depth view.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import NamedTuple

from abm.market.amm.common import InvalidPoolActionError
from abm.market.amm.sqrt_price import Q96, Q128, tick_at_sqrt_price
from abm.market.amm.swap_step import swap_step

__all__ = ["Walk", "base_to_price", "walk_swap"]


class Walk(NamedTuple):
    """The outcome of a swap walk, not yet applied to the pool."""

    sqrt_price: int
    tick: int
    liquidity: int
    amount_in: int  # fee included
    amount_out: int
    fee: int
    growth: int  # fee growth per unit of liquidity of the input token, after the swap
    crossed: list[tuple[int, int]]  # (tick, input-token growth when it was crossed)


def _next_tick(initialized: Sequence[int], tick: int, buying: bool) -> int | None:
    """The next initialized tick the price meets: above ``tick`` for a buy, at or below it else."""
    if buying:
        i = bisect_right(initialized, tick)
        return initialized[i] if i < len(initialized) else None
    i = bisect_right(initialized, tick) - 1
    return initialized[i] if i >= 0 else None


def walk_swap(
    *,
    sqrt_price: int,
    tick: int,
    liquidity: int,
    growth: int,
    initialized: Sequence[int],
    net_liquidity: Mapping[int, int],
    sqrt_at: Callable[[int], int],
    fee_pips: int,
    amount: int,
    exact_input: bool,
    buying: bool,
    sqrt_limit: int | None,
) -> Walk:
    """Walk a swap through the ranges until its amount or its price limit is used up.

    Args:
        sqrt_price: The pool's current sqrt price (Q64.96).
        tick: The pool's current tick.
        liquidity: The active liquidity.
        growth: Fee growth per unit of liquidity of the input token (Q128).
        initialized: Sorted initialized ticks.
        net_liquidity: Each initialized tick's net liquidity (added when crossed upwards).
        sqrt_at: Sqrt price (Q64.96) of a tick.
        fee_pips: Fee in millionths of the input.
        amount: The trader's input (exact input, fee included) or output (exact output).
        exact_input: Which of the two ``amount`` is.
        buying: Quote in and base out (price rises) if true; base in, quote out otherwise.
        sqrt_limit: Stop at this sqrt price if given (then the walk may cross empty ranges).

    Raises:
        InvalidPoolActionError: If the pool's liquidity runs out before the amount does and no
            limit stops the walk first.
    """
    # exact input: fractions of a unit within the walk (`abm.market.amm.swap_step`)
    remaining: int | Fraction = amount
    total_in: int | Fraction = 0
    total_fee: int | Fraction = 0
    total_out = 0
    crossed: list[tuple[int, int]] = []
    while remaining and sqrt_price != sqrt_limit:
        nxt = _next_tick(initialized, tick, buying)
        if nxt is None:
            if sqrt_limit is None:
                raise InvalidPoolActionError(
                    f"amount: the pool's liquidity runs out before the swap of {amount} is done"
                )
            target = sqrt_limit
        else:
            target = sqrt_at(nxt)
            if sqrt_limit is not None:
                target = min(target, sqrt_limit) if buying else max(target, sqrt_limit)
        step = swap_step(
            sqrt_price, target, liquidity, remaining, fee_pips, exact_input=exact_input
        )
        if exact_input:
            remaining -= step.amount_in + step.fee
        else:
            remaining -= step.amount_out
        total_in += step.amount_in + step.fee
        total_out += step.amount_out
        total_fee += step.fee
        if liquidity and step.fee:
            fee = Fraction(step.fee)
            growth += fee.numerator * Q128 // (fee.denominator * liquidity)
        if nxt is not None and step.sqrt_price == sqrt_at(nxt):
            crossed.append((nxt, growth))
            liquidity += net_liquidity[nxt] if buying else -net_liquidity[nxt]
            tick = nxt if buying else nxt - 1
        elif step.sqrt_price != sqrt_price:
            tick = tick_at_sqrt_price(step.sqrt_price)
        sqrt_price = step.sqrt_price
    # the trader pays whole units: a fraction left over by a price limit is rounded up (dust
    # in the pool's favour); the fee is labelled rounded up too
    return Walk(
        sqrt_price,
        tick,
        liquidity,
        math.ceil(total_in),
        total_out,
        math.ceil(total_fee),
        growth,
        crossed,
    )


def base_to_price(
    *,
    sqrt_price: int,
    tick: int,
    liquidity: int,
    initialized: Sequence[int],
    net_liquidity: Mapping[int, int],
    sqrt_at: Callable[[int], int],
    sqrt_target: float,
) -> float:
    """Base units between the pool price and ``sqrt_target`` (Q64.96, as a float), over ranges.

    In floating point, for views: ``sum L_range * (1/sa - 1/sb)`` (as within one range) over
    the part of each range between the two prices.
    """
    buying = sqrt_target >= sqrt_price
    total, current, active = 0.0, float(sqrt_price), liquidity
    if buying:
        start = bisect_right(initialized, tick)
        ticks: Sequence[int] = initialized[start:]
    else:
        end = bisect_left(initialized, tick + 1)
        ticks = initialized[:end][::-1]
    for crossing in [*ticks, None]:
        bound = sqrt_target if crossing is None else float(sqrt_at(crossing))
        bound = min(bound, sqrt_target) if buying else max(bound, sqrt_target)
        low, high = min(current, bound), max(current, bound)
        if high > low and active:
            total += active * float(Q96) * (high - low) / (high * low)
        current = bound
        if crossing is None or current == sqrt_target:
            break
        active += net_liquidity[crossing] if buying else -net_liquidity[crossing]
    return total if math.isfinite(total) else math.inf
