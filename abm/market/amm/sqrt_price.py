"""Fixed-point square-root prices for the concentrated-liquidity pool (Uniswap v3 arithmetic).

A price ``P`` (quote per base) is kept as ``sqrt(P) * 2**96`` in a Python int ("Q64.96", as the
v3 contracts store it; Adams, Zinsmeister, Salem, Keefer & Robinson 2021, the Uniswap v3 core
whitepaper, section 6). Price ticks are powers of 1.0001: tick ``i`` is price
``1.0001**i``. Python ints never overflow, so where the contract splits a product to stay in
256 bits, this module divides once, exactly, and rounds once.

Within one range of constant liquidity ``L`` (whitepaper, section 6):

* ``d(sqrt P) = d(quote) / L``: quote amount between two sqrt prices is ``L * (sb - sa)``;
* ``d(1/sqrt P) = d(base) / L``: base amount is ``L * (1/sa - 1/sb)``.

Every function rounds in the pool's favour: amounts the pool receives up, amounts it pays
down, and the next sqrt price so that the pool never gives more than it was paid for.

The sqrt price of a tick is computed in decimal arithmetic with 90 significant digits (Python's
`decimal`, deterministic on every platform) and rounded down; it is strictly increasing over
the whole tick range.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Final

__all__ = [
    "MAX_TICK",
    "MIN_TICK",
    "Q96",
    "Q128",
    "amount_base_delta",
    "amount_quote_delta",
    "next_sqrt_from_input",
    "next_sqrt_from_output",
    "sqrt_price_at_tick",
    "sqrt_price_from_price",
    "tick_at_sqrt_price",
]

Q96: Final = 1 << 96
"""One in Q64.96: a sqrt price ``s`` stands for ``(s / Q96) ** 2``."""
Q128: Final = 1 << 128
"""One in Q128, the fixed point of fee growth per unit of liquidity."""
MIN_TICK: Final = -887272
"""The lowest tick (price about 2.9e-39), as in the v3 contracts."""
MAX_TICK: Final = 887272
"""The highest tick (price about 3.4e38)."""

_PRECISION: Final = 90
_TICK_BASE: Final = Decimal(10001) / Decimal(10000)
_LOG_TICK_BASE: Final = math.log(1.0001)


def sqrt_price_at_tick(tick: int) -> int:
    """``floor(sqrt(1.0001 ** tick) * 2**96)``, for ``MIN_TICK <= tick <= MAX_TICK``."""
    context = Context(prec=_PRECISION)  # a fresh one: a Context records flags as it goes
    root = context.power(_TICK_BASE, tick).sqrt(context)
    return int(context.multiply(root, Decimal(Q96)).to_integral_value(rounding=ROUND_FLOOR))


def sqrt_price_from_price(price: Fraction, *, round_up: bool) -> int:
    """``sqrt(price) * 2**96`` for an exact price, rounded down or up."""
    context = Context(prec=_PRECISION)
    root = context.divide(Decimal(price.numerator), Decimal(price.denominator)).sqrt(context)
    scaled = context.multiply(root, Decimal(Q96))
    return int(scaled.to_integral_value(rounding=ROUND_CEILING if round_up else ROUND_FLOOR))


def tick_at_sqrt_price(sqrt_price: int) -> int:
    """The largest tick whose sqrt price is at most ``sqrt_price`` (the pool's current tick)."""
    estimate = math.floor(2.0 * (math.log(sqrt_price) - 96 * math.log(2.0)) / _LOG_TICK_BASE)
    tick = min(max(estimate, MIN_TICK), MAX_TICK)
    while tick > MIN_TICK and sqrt_price_at_tick(tick) > sqrt_price:
        tick -= 1
    while tick < MAX_TICK and sqrt_price_at_tick(tick + 1) <= sqrt_price:
        tick += 1
    return tick


def _div(numerator: int, denominator: int, round_up: bool) -> int:
    return -(-numerator // denominator) if round_up else numerator // denominator


def amount_base_delta(sqrt_a: int, sqrt_b: int, liquidity: int, *, round_up: bool) -> int:
    """Base units between two sqrt prices at liquidity ``L``: ``L * (1/sa - 1/sb)``."""
    low, high = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    return _div(liquidity * Q96 * (high - low), high * low, round_up)


def amount_quote_delta(sqrt_a: int, sqrt_b: int, liquidity: int, *, round_up: bool) -> int:
    """Quote units between two sqrt prices at liquidity ``L``: ``L * (sb - sa)``."""
    low, high = min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)
    return _div(liquidity * (high - low), Q96, round_up)


def next_sqrt_from_input(
    sqrt_price: int, liquidity: int, amount: int | Fraction, *, base_in: bool
) -> int:
    """The sqrt price after ``amount`` (net of fee; a whole or fractional amount) goes in.

    At liquidity ``L > 0``: base in lowers the price (``1/sqrt P`` rises by ``amount / L``;
    rounded up, so the price falls less); quote in raises it (``sqrt P`` rises by
    ``amount / L``; rounded down).
    """
    num, den = (
        (amount.numerator, amount.denominator)
        if isinstance(amount, Fraction)
        else (
            amount,
            1,
        )
    )
    if base_in:
        scaled = liquidity * Q96 * den
        return _div(scaled * sqrt_price, scaled + num * sqrt_price, True)
    return sqrt_price + num * Q96 // (liquidity * den)


def next_sqrt_from_output(sqrt_price: int, liquidity: int, amount: int, *, base_out: bool) -> int:
    """The sqrt price after ``amount`` comes out at liquidity ``L > 0``.

    Base out raises the price (rounded up, so the pool is paid more); quote out lowers it
    (rounded down). The caller makes sure the range holds ``amount``.
    """
    if base_out:
        scaled = liquidity * Q96
        return _div(scaled * sqrt_price, scaled - amount * sqrt_price, True)
    return sqrt_price - _div(amount * Q96, liquidity, True)
