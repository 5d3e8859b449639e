"""Order routing between the book and the AMM pool: what a given size costs at each venue.

A taker with ``venue: best`` compares the all-in cost of its size now: walking the book's
levels (every lot at its level's price) against the pool's quote for the same size (the
swap formula, fee included: `abm.market.amm.venue.AmmVenue.quote`). A buy goes where it pays
less, a sale where it receives more; ties go to the book. The pool's quote is for its state
now, while the swap settles at the block's end, after the swaps queued before it: a router
bears that risk, as on chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from abm.agents.base import Market
    from abm.market.amm.venue import AmmVenue
    from abm.market.orderbook import OrderBook

__all__ = ["RouteVenue", "amm_venue", "book_cost_ticks", "choose_venue", "pool_cost_ticks"]

RouteVenue = Literal["book", "amm", "best"]
"""Where a taker sends its market orders: the book, the AMM pool, or the cheaper of the two."""

AMM_VENUE = "amm"
"""The AMM venue's name (`abm.market.venues.OPTIONAL_VENUES`)."""
_BOOK_LEVELS = 64  # levels a cost walk reads before it calls the book too thin


def amm_venue(market: Market) -> AmmVenue:
    """The run's AMM venue.

    Raises:
        KeyError: If the scenario has no ``amm`` section (its validation refuses that).
    """
    return market.exchange.venues[AMM_VENUE]  # type: ignore[return-value]


def book_cost_ticks(book: OrderBook, is_buy: bool, qty: int, tick_size: float) -> int | None:
    """Ticks paid (a buy) or received (a sale) for ``qty`` lots walking the book; None: too thin."""
    left = qty
    total = 0
    for price, level_qty in book.depth("sell" if is_buy else "buy", _BOOK_LEVELS):
        take = min(left, level_qty)
        total += round(price / tick_size) * take
        left -= take
        if not left:
            return total
    return None


def pool_cost_ticks(venue: AmmVenue, is_buy: bool, qty: int) -> int | None:
    """Ticks paid (a buy) or received (a sale) for ``qty`` lots at the pool now; None: refused."""
    result = venue.quote(is_buy, qty)
    if result is None:
        return None
    return result.amount_in if is_buy else result.amount_out


def choose_venue(market: Market, is_buy: bool, qty: int) -> Literal["book", "amm"]:
    """The venue where ``qty`` lots cost less now (receive more, for a sale); ties: the book."""
    book = book_cost_ticks(market.book, is_buy, qty, market.tick_size)
    pool = pool_cost_ticks(amm_venue(market), is_buy, qty)
    if pool is None:
        return "book"
    if book is None:
        return "amm"
    better = pool < book if is_buy else pool > book
    return "amm" if better else "book"
