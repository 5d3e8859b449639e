"""The uniform price of a call auction: how an exchange reopens after a trading halt.

When CME Globex Stop Logic paused the E-mini for five seconds on May 6, 2010, trading
resumed through a reopening auction: orders collected during the pause were matched at one
price, chosen to execute as much as possible (CME Group 2010, "Globex Stop Logic
functionality"; CFTC/SEC 2010, p. 4). The rule is the standard equilibrium price of a call
market (Madhavan 1992, "Trading mechanisms in securities markets", J. Finance 47(2); the
same ordered criteria as Euronext's and Xetra's opening auctions):

1. the price that maximises the executable volume ``min(D(p), S(p))``, where ``D(p)`` is
   the quantity bid at ``p`` or higher (market buys at any price) and ``S(p)`` the quantity
   offered at ``p`` or lower (market sells at any price);
2. among those, the least surplus ``|D(p) - S(p)|``;
3. then the price nearest the reference (the last trade before the halt);
4. then the lower price.

This module is pure: integer tick prices and lots in, a price out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple


class AuctionResult(NamedTuple):
    """The uniform price of a call auction and the lots it executes."""

    price_ticks: int
    volume: int


def _totals(orders: Iterable[tuple[int | None, int]]) -> tuple[int, list[tuple[int, int]]]:
    market = 0
    priced: list[tuple[int, int]] = []
    for price, qty in orders:
        if price is None:
            market += qty
        else:
            priced.append((price, qty))
    return market, priced


def clearing_price(
    bids: Sequence[tuple[int | None, int]],
    asks: Sequence[tuple[int | None, int]],
    reference_ticks: int,
) -> AuctionResult | None:
    """The uniform price (ticks) at which the auction's bids and asks execute the most lots.

    Args:
        bids: Buy orders as ``(limit price in ticks, or None for a market order, lots)``.
        asks: Sell orders, the same way.
        reference_ticks: The price chosen when the criteria leave a tie that includes it (and
            the price when only market orders cross).

    Returns:
        The price and the executable volume, or None when nothing can execute (one side is
        empty, or every bid is below every ask).
    """
    market_buy, priced_bids = _totals(bids)
    market_sell, priced_asks = _totals(asks)
    limits = {p for p, _ in priced_bids} | {p for p, _ in priced_asks}
    # between two neighbouring limits D and S are constant, so a limit, its neighbours one
    # tick away and the reference cover every distinct outcome and the tie-break
    candidates = sorted(
        p
        for p in limits | {p + 1 for p in limits} | {p - 1 for p in limits} | {reference_ticks}
        if p >= 1
    )
    best: tuple[int, int, int, int] | None = None  # (-volume, surplus, distance, price)
    for price in candidates:
        demand = market_buy + sum(q for p, q in priced_bids if p >= price)
        supply = market_sell + sum(q for p, q in priced_asks if p <= price)
        volume = min(demand, supply)
        if volume == 0:
            continue
        key = (-volume, abs(demand - supply), abs(price - reference_ticks), price)
        if best is None or key < best:
            best = key
    if best is None:
        return None
    return AuctionResult(best[3], -best[0])
