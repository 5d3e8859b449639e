"""Where a liquidator sells seized collateral in a cascade: a Uniswap v2 pool or a thin book.

Each venue follows the exogenous price (`Venue.follow`, the return of the path) and is moved by
sales; it reports what it and its counterparties hold, so a cascade can check conservation.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final, Protocol

from abm.market.amm.constant_product import ConstantProductPool
from abm.market.lending.params import LendingError

__all__ = ["AmmVenue", "LinearBookVenue", "Venue"]

_UNBOUNDED: Final = 1 << 200  # an arbitrage input no pool absorbs: the price limit sizes it


class Venue(Protocol):
    """Where seized collateral is sold; its price moves with the exogenous path and the sales."""

    name: str
    kind: str  # "amm" or "book": the oracle source it answers for

    def price(self) -> Fraction:
        """Quote per base unit now."""
        ...

    def follow(self, ratio: Fraction) -> None:
        """Move the price by the exogenous return ``ratio``."""
        ...

    def quote_sell(self, base: int) -> int | None:
        """Quote a sale of ``base`` units would pay, or None if the venue cannot take it."""
        ...

    def sell(self, base: int) -> int:
        """Sell ``base`` units; returns the quote paid out."""
        ...

    def holdings(self) -> tuple[int, int]:
        """``(base, quote)`` held by the venue and its counterparties, net."""
        ...


class AmmVenue:
    """A constant-product pool (`ConstantProductPool`) and the arbitrageur who moves it.

    Args:
        base: Initial base reserve.
        quote: Initial quote reserve (the price is ``quote / base``).
        fee_pips: Swap fee, millionths.
    """

    kind = "amm"

    def __init__(self, base: int, quote: int, fee_pips: int = 3000, name: str = "amm") -> None:
        self.name = name
        self.pool = ConstantProductPool(fee_pips)
        self.pool.add_liquidity("lp", base, quote)
        self.arbitrageur = [0, 0]  # base, quote: net of outside capital

    def price(self) -> Fraction:
        """The pool price ``y / x``."""
        price = self.pool.price_fraction()
        assert price is not None
        return price

    def follow(self, ratio: Fraction) -> None:
        """Trade the pool to ``price * ratio`` (a swap up to that price limit)."""
        if ratio == 1:
            return
        target = self.price() * ratio
        side = "buy" if ratio > 1 else "sell"
        result = self.pool.swap_exact_input(side, _UNBOUNDED, price_limit=target)
        if side == "buy":  # the arbitrageur pays quote in and takes base out
            self.arbitrageur[0] += result.amount_out
            self.arbitrageur[1] -= result.amount_in
        else:
            self.arbitrageur[0] -= result.amount_in
            self.arbitrageur[1] += result.amount_out

    def quote_sell(self, base: int) -> int | None:
        """The v2 output of selling ``base``, rounded down."""
        result = self.pool.quote_exact_input("sell", base)
        return result.amount_out

    def sell(self, base: int) -> int:
        """Sell ``base`` into the pool."""
        return self.pool.swap_exact_input("sell", base).amount_out

    def holdings(self) -> tuple[int, int]:
        """Reserves plus the arbitrageur's net balances."""
        return (
            self.pool.reserve_base + self.arbitrageur[0],
            self.pool.reserve_quote + self.arbitrageur[1],
        )


class LinearBookVenue:
    """A book whose bids thin out linearly: selling ``q`` moves the price to ``p (1 - q / D)``.

    The bids hold ``D`` base units in all between ``p`` and zero, evenly spread over price
    (depth ``D / p`` base per unit of price), so a sale of ``q < D`` pays
    ``p (q - q**2 / (2 D))`` quote (rounded down), the area under the bids it fills. The makers
    requote after each exogenous move (the price is scaled, the depth ``D`` stays).

    Args:
        price: Initial price.
        depth_base: ``D``, base units that would take the price to zero.
    """

    kind = "book"

    def __init__(self, price: Fraction, depth_base: int, name: str = "book") -> None:
        if depth_base <= 0:
            raise LendingError(f"depth_base: must be a positive integer, got {depth_base}")
        self.name = name
        self._price = Fraction(price)
        self.depth_base = depth_base
        self.makers = [0, 0]

    def price(self) -> Fraction:
        """The best bid (the book's mid, for the oracle)."""
        return self._price

    def follow(self, ratio: Fraction) -> None:
        """Requote at ``price * ratio``."""
        self._price *= ratio

    def quote_sell(self, base: int) -> int | None:
        """``floor(p (q - q**2 / 2D))``, or None when ``q >= D``."""
        if base >= self.depth_base:
            return None
        paid = self._price * (base - Fraction(base * base, 2 * self.depth_base))
        return paid.numerator // paid.denominator

    def sell(self, base: int) -> int:
        """Sell ``base`` into the bids; the price drops to ``p (1 - q / D)``."""
        paid = self.quote_sell(base)
        if paid is None:
            raise LendingError(f"base: {base} is not below the book's depth {self.depth_base}")
        self._price *= 1 - Fraction(base, self.depth_base)
        self.makers[0] += base
        self.makers[1] -= paid
        return paid

    def holdings(self) -> tuple[int, int]:
        """The makers' net base and quote."""
        return self.makers[0], self.makers[1]
