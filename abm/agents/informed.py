"""Informed traders: trade on a (noisy, lagged) view of the fundamental value."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.routing import amm_venue, choose_venue
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.scenario.schema import ArrivalLaw, InformedGroup


_EPS = 1e-9


class InformedTrader(Trader):
    """Takes liquidity when its estimate of the value beats the quote by a threshold.

    On arrival the trader observes the fundamental ``lag_steps`` steps ago plus
    Gaussian noise of sd ``noise_sd``. Its edge on a buy is ``estimate - best_ask``,
    on a sell ``best_bid - estimate``; it trades the side with an edge above
    ``threshold`` (only the side its arrival allows, if arrivals are per side), with
    size ``min(max_size, base_size + floor(size_per_edge * edge))``, cut so that
    ``|inventory|`` never exceeds ``position_limit``. Orders are market orders, or
    with ``order_type: marketable_limit`` immediate-or-cancel limits at the touch
    plus ``limit_offset_ticks`` (so it never pays beyond that price). The number and
    intensity of informed traders set how toxic the flow is for market makers.

    ``venue: amm`` trades at the AMM pool instead, and ``best`` at whichever venue offers the
    larger edge (`_act_routed`).
    """

    kind = "informed"

    def __init__(self, market: Market, group: str, spec: InformedGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec

    def estimate(self, rng: np.random.Generator) -> float:
        """The trader's noisy, lagged view of the fundamental value."""
        history = self.market.fundamental_history
        value = history[max(0, len(history) - 1 - self.spec.lag_steps)]
        if self.spec.noise_sd > 0:
            value += self.spec.noise_sd * rng.standard_normal()
        return value

    def act(self, rng: np.random.Generator, side: bool | None) -> None:
        """One arrival: trade if the edge exceeds the threshold (see the class docstring)."""
        spec = self.spec
        book = self.market.book
        tick = self.market.tick_size
        estimate = self.estimate(rng)
        if spec.venue != "book":
            self._act_routed(estimate, side)
            return
        ask_t, bid_t = book.best_ask_ticks(), book.best_bid_ticks()
        buy_edge = -math.inf
        sell_edge = -math.inf
        if ask_t is not None and side is not False:
            buy_edge = estimate - ask_t * tick
        if bid_t is not None and side is not True:
            sell_edge = bid_t * tick - estimate
        is_buy = buy_edge >= sell_edge
        edge = buy_edge if is_buy else sell_edge
        # edges come from float prices: a hair of tolerance keeps exact grid cases exact
        if edge <= spec.threshold + _EPS:
            return
        size = self._size(edge, is_buy)
        if size <= 0:
            return
        venue = self.market.book_venue
        if spec.order_type == "market":
            venue.market(self, is_buy, size, purpose=TradePurpose.TAKER)
        else:
            offset = spec.limit_offset_ticks
            touch = ask_t if is_buy else bid_t
            assert touch is not None  # a finite edge implies a quote on that side
            price_t = touch + offset if is_buy else max(1, touch - offset)
            venue.limit(self, is_buy, price_t, size, purpose=TradePurpose.TAKER, ioc=True)

    def _size(self, edge: float, is_buy: bool) -> int:
        """Lots for an ``edge`` (price units): the size rule, capped by the position limit."""
        spec = self.spec
        size = min(spec.max_size, spec.base_size + math.floor(spec.size_per_edge * edge + _EPS))
        room = spec.position_limit - (self.inventory if is_buy else -self.inventory)
        return min(size, room)

    def _act_routed(self, estimate: float, side: bool | None) -> None:
        """An arrival trading at the AMM pool (``venue: amm``) or the better venue (``best``).

        The edge at the pool is against its marginal all-in price (``P / gamma`` to buy,
        ``P * gamma`` to sell: `abm.market.amm.venue.AmmVenue.gamma`); with ``best`` the
        book's touch competes, and the larger edge sets the side and the size (the book's
        size rule and position limit), and then the venue where that size costs less all in
        (`abm.agents.routing.choose_venue`) gets it. At the pool the order is a swap of that
        size, settled at the block's end; at the book a market order.
        """
        spec = self.spec
        market = self.market
        pool = amm_venue(market)
        price, gamma = pool.price(), pool.gamma()
        edges: list[tuple[float, bool, bool]] = []  # (edge, is_buy, at the pool)
        if spec.venue == "best":
            ask_t, bid_t = market.book.best_ask_ticks(), market.book.best_bid_ticks()
            if ask_t is not None and side is not False:
                edges.append((estimate - ask_t * market.tick_size, True, False))
            if bid_t is not None and side is not True:
                edges.append((bid_t * market.tick_size - estimate, False, False))
        if side is not False:
            edges.append((estimate - price / gamma, True, True))
        if side is not True:
            edges.append((price * gamma - estimate, False, True))
        edge, is_buy, at_pool = max(edges, key=lambda choice: choice[0])
        if edge <= spec.threshold + _EPS:
            return
        size = self._size(edge, is_buy)
        if size <= 0:
            return
        if spec.venue == "best":  # the size's all-in cost decides, not the margin
            at_pool = choose_venue(market, is_buy, size) == "amm"
        if at_pool:
            pool.swap(self, is_buy, size, purpose=TradePurpose.TAKER)
        else:
            market.book_venue.market(self, is_buy, size, purpose=TradePurpose.TAKER)


def build_informed(
    market: Market, name: str, spec: InformedGroup, rng: np.random.Generator
) -> BuiltGroup:
    """An ``informed`` group: ``spec.count`` informed traders (no draws from ``rng``)."""
    return BuiltGroup([InformedTrader(market, name, spec) for _ in range(spec.count)])


def _arrival(spec: InformedGroup, dt: float) -> ArrivalLaw:
    return spec.arrival


GROUP_KIND = GroupKind(
    "informed", GroupRole.TAKER, build_informed, arrival=_arrival, arrival_shock="toxic_flow"
)
"""The ``informed`` group kind: arrivals scaled by ``toxic_flow`` shocks (`abm.agents.registry`)."""
