"""What both pool kinds share: the typed error, the swap record and input checks.

Tokens: a pool trades a *base* token (the instrument) against a *quote* token (cash). Amounts of
both are non-negative integers of base units (the smallest unit of a token, as on chain), and
a price is quote units per base unit. Sides are the book's: ``"buy"`` buys base from the pool
(quote goes in), ``"sell"`` sells base into it (base goes in).

Fees are integer *pips*, millionths of the input amount (3000 pips = 0.30%), so that a fee is
an exact rational and no float ever enters the accounting.
"""

from __future__ import annotations

import math
import numbers
import operator
from fractions import Fraction
from typing import Final, NamedTuple, SupportsIndex

from abm.errors import AbmError
from abm.market.orderbook import Side

__all__ = [
    "FEE_DENOMINATOR",
    "InvalidPoolActionError",
    "LiquidityChange",
    "SwapResult",
]

FEE_DENOMINATOR: Final = 1_000_000
"""Fees are in pips: ``fee_pips / FEE_DENOMINATOR`` is the fee as a fraction of the input."""


class InvalidPoolActionError(AbmError, ValueError):
    """A swap, deposit, withdrawal or query that a pool refuses; the pool is left untouched.

    The sibling of the book's `abm.market.orderbook.InvalidOrderError`; the message names the
    argument at fault and what is wrong with it.
    """


class SwapResult(NamedTuple):
    """One swap against a pool (or a quote for one: the same record, nothing applied).

    Attributes:
        side: ``buy`` (base out of the pool, quote in) or ``sell`` (base in, quote out).
        amount_in: Units of the input token the trader pays, fee included.
        amount_out: Units of the output token the trader receives.
        fee: The part of ``amount_in`` that is the fee (input-token units; stays with the
            liquidity providers).
        price_before: Pool price (quote per base, no fee) before the swap.
        price_after: Pool price after the swap.
    """

    side: Side
    amount_in: int
    amount_out: int
    fee: int
    price_before: float
    price_after: float

    @property
    def base_qty(self) -> int:
        """Base units that changed hands (out of the pool on a buy, into it on a sell)."""
        return self.amount_out if self.side is Side.BUY else self.amount_in

    @property
    def quote_qty(self) -> int:
        """Quote units that changed hands, fee included."""
        return self.amount_in if self.side is Side.BUY else self.amount_out


class LiquidityChange(NamedTuple):
    """A deposit or withdrawal: the liquidity (shares or L) and the token amounts moved."""

    liquidity: int
    base: int
    quote: int


def shown(value: object) -> str:
    """``repr(value)``, cut short: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_side(side: object) -> Side:
    """``side`` as a `Side`: the strings ``"buy"``/``"sell"`` (or a `Side`), else raise."""
    if isinstance(side, str) and side in ("buy", "sell"):
        return Side(side)
    raise InvalidPoolActionError(f"side: must be 'buy' or 'sell', got {shown(side)}")


def check_int(value: object, name: str, *, positive: bool = True) -> int:
    """``value`` as an int if it is an integer (not a bool or float), positive unless told."""
    if isinstance(value, bool) or not isinstance(value, int | SupportsIndex):
        raise InvalidPoolActionError(f"{name}: must be an integer, got {shown(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidPoolActionError(f"{name}: must be an integer, got {shown(value)}") from None
    if positive and number <= 0:
        raise InvalidPoolActionError(f"{name}: must be a positive integer, got {number}")
    return number


def check_fee_pips(fee_pips: object) -> int:
    """A fee in pips: an integer in ``[0, FEE_DENOMINATOR)``."""
    fee = check_int(fee_pips, "fee_pips", positive=False)
    if not 0 <= fee < FEE_DENOMINATOR:
        raise InvalidPoolActionError(
            f"fee_pips: must be in [0, {FEE_DENOMINATOR}) (3000 = 0.30%), got {fee}"
        )
    return fee


def check_price(
    price: object, name: str = "price", error: type[ValueError] = InvalidPoolActionError
) -> Fraction:
    """A positive finite price (an int, float, Fraction or numpy number) as an exact Fraction.

    ``error`` is the exception raised (a pool's by default; the lending pool passes its own).
    """
    if isinstance(price, bool) or not isinstance(price, numbers.Real):
        raise error(f"{name}: must be a positive number, got {shown(price)}")
    if isinstance(price, Fraction | int):
        exact = Fraction(price)
    elif isinstance(price, numbers.Integral):
        exact = Fraction(int(price))
    else:
        value = float(price)
        if not math.isfinite(value):
            raise error(f"{name}: must be a finite number, got {shown(price)}")
        exact = Fraction(value)
    if not exact > 0:
        raise error(f"{name}: must be a positive number, got {shown(price)}")
    return exact


def ceil_div(numerator: int, denominator: int) -> int:
    """``ceil(numerator / denominator)`` for a positive denominator, in exact integers."""
    return -(-numerator // denominator)
