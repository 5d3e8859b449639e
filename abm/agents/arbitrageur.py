"""Arbitrageurs between the AMM pool and a reference price (the book's mid, or the fundamental).

The rule is `abm.scenario.amm_groups.ArbitrageurGroup`'s: at each block's last step, trade the
pool to the edge of its no-trade band around the reference (Milionis, Moallemi & Roughgarden
2023; `abm.market.amm.arbitrage`), when that pays more than ``min_profit``. With a book leg the
size is chosen level by level: for each level ``k`` of the book side it sells into (or buys
from), the pool swap that moves the pool's marginal all-in price to that level's price, cut to
the book's depth down to it; the most profitable of these, valued at the book's prices and the
pool's exact quote, is done.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.routing import amm_venue, book_cost_ticks
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.market.amm.venue import AmmVenue
    from abm.scenario.amm_groups import ArbitrageurGroup

__all__ = ["GROUP_KIND", "Arbitrageur"]


class Arbitrageur(Trader):
    """Trades the pool towards a reference price at each block's end (module docstring).

    Attributes:
        expected_profit: Sum of the expected profits (price units) of the trades it sent.
    """

    kind = "arbitrageur"

    def __init__(self, market: Market, group: str, spec: ArbitrageurGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.expected_profit = 0.0

    def step(self) -> None:
        """At a block's last step, arbitrage the pool if it pays."""
        market = self.market
        venue = amm_venue(market)
        if not venue.block_ends(market.step_index):
            return
        if self.spec.book_leg:
            self._between_venues(venue)
        else:
            self._to_reference(venue)

    def _to_reference(self, venue: AmmVenue) -> None:
        """Trade the pool to the band's edge around the reference; keep the position."""
        market, spec = self.market, self.spec
        tick = market.tick_size
        if spec.reference == "mid":
            reference = market.mid_price()
            if reference is None:
                return
        else:
            reference = market.fundamental_value
        target = Fraction(reference) / Fraction(tick)  # ticks per lot
        gamma = venue.gamma_fraction()
        price = Fraction(venue.price_ticks())
        if target * gamma > price:
            is_buy, limit = True, target * gamma
        elif target / gamma < price:
            is_buy, limit = False, target / gamma
        else:
            return
        reach = venue.quote_to_price(is_buy, limit)
        if reach is None:
            return
        # whole lots: a sale that reaching the edge would need a fraction of a lot for (rounded
        # up against the seller) stops a lot short of it
        qty = reach.base_qty
        if spec.max_qty is not None:
            qty = min(qty, spec.max_qty)
        result = venue.quote(is_buy, qty) if qty > 0 else None
        if result is not None and not is_buy and result.price_after < float(limit):
            qty -= 1
            result = venue.quote(is_buy, qty) if qty > 0 else None
        if result is None:
            return
        value = float(target) * qty
        profit = (value - result.quote_qty if is_buy else result.quote_qty - value) * tick
        if profit <= spec.min_profit or profit <= 0:
            return
        venue.swap(self, is_buy, qty, purpose=TradePurpose.ARBITRAGE, price_limit=limit)
        self.expected_profit += profit

    def _between_venues(self, venue: AmmVenue) -> None:
        """Buy from the pool and sell at the book (or the reverse), sized level by level."""
        market, spec = self.market, self.spec
        book, tick = market.book, market.tick_size
        bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
        gamma = venue.gamma_fraction()
        price = Fraction(venue.price_ticks())
        # one side of the book is enough: the side the book leg trades against
        if bid is not None and price / gamma < bid:  # pool cheap: buy there, sell to bids
            is_buy, levels = True, book.depth("buy", spec.book_levels)
        elif ask is not None and price * gamma > ask:  # pool dear: sell there, buy the asks
            is_buy, levels = False, book.depth("sell", spec.book_levels)
        else:
            return
        best: tuple[float, int, Fraction] | None = None
        depth = 0
        for level_price, level_qty in levels:
            depth += level_qty
            level_ticks = Fraction(round(level_price / tick))
            limit = level_ticks * gamma if is_buy else level_ticks / gamma
            reach = venue.quote_to_price(is_buy, limit)
            if reach is None:
                break
            qty = min(reach.base_qty, depth)
            if spec.max_qty is not None:
                qty = min(qty, spec.max_qty)
            if qty <= 0:
                continue
            quote = venue.quote(is_buy, qty)
            book_ticks = book_cost_ticks(book, not is_buy, qty, tick)
            if quote is None or book_ticks is None:
                continue
            pool_ticks = quote.amount_in if is_buy else quote.amount_out
            profit = (book_ticks - pool_ticks if is_buy else pool_ticks - book_ticks) * tick
            if best is None or profit > best[0]:
                best = (profit, qty, limit)
            if spec.max_qty is not None and qty >= spec.max_qty:
                break
        if best is None or best[0] <= spec.min_profit or best[0] <= 0:
            return
        profit, qty, limit = best
        market.book_venue.market(self, not is_buy, qty, purpose=TradePurpose.ARBITRAGE)
        venue.swap(self, is_buy, qty, purpose=TradePurpose.ARBITRAGE, price_limit=limit)
        self.expected_profit += profit


def build_arbitrageurs(
    market: Market, name: str, spec: ArbitrageurGroup, rng: np.random.Generator
) -> BuiltGroup:
    """An ``arbitrageur`` group: ``spec.count`` arbitrageurs (no draws from ``rng``)."""
    return BuiltGroup([Arbitrageur(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("arbitrageur", GroupRole.EXECUTOR, build_arbitrageurs)
"""The ``arbitrageur`` group kind (`abm.agents.registry`)."""
