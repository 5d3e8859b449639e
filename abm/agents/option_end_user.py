"""Option end users: noise buyers and sellers of options, and informed volatility traders.

On each arrival an `OptionEndUser` picks one live series of its ``types`` (with more than
``min_steps_to_expiry`` steps left) uniformly, then
(`abm.scenario.option_groups.OptionEndUserGroup`):

- ``noise``: buys with probability ``buy_prob`` (or the side of a per-side arrival), else
  sells;
- ``informed``: knows the true volatility (`abm.agents.base.Market.fundamental_volatility`
  divided by the fundamental value: the lognormal volatility now) and prices the series by
  Black-Scholes at it; buys when the ask is more than ``threshold`` below that price (the
  ask's implied volatility is below the true one), sells when the bid is more than
  ``threshold`` above it, the larger edge first.

It trades ``size`` contracts (cut so that |position| stays within ``position_limit``) with an
immediate-or-cancel limit at the touch of the side it takes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.noise import draw_size
from abm.agents.option_market_maker import options_venue
from abm.market.options.venue import bs_price_scalar
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.scenario.option_groups import OptionEndUserGroup
    from abm.scenario.specs import ArrivalLaw


class OptionEndUser(Trader):
    """Buys or sells option series on arrival (module docstring)."""

    kind = "option_end_user"

    def __init__(self, market: Market, group: str, spec: OptionEndUserGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.venue = options_venue(market)
        self._types = frozenset(spec.types)

    def act(self, rng: np.random.Generator, side: bool | None) -> None:
        """One arrival (module docstring)."""
        spec = self.spec
        venue = self.venue
        step = self.market.step_index
        live = [
            s
            for s in venue.live_series(step)
            if s.type in self._types and s.expiry_step - step > spec.min_steps_to_expiry
        ]
        if not live:
            return
        series = live[int(rng.integers(len(live)))]
        qty = draw_size(spec.size, rng)
        book_venue = venue.books[series.name]
        book = book_venue.book
        bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
        if spec.style == "noise":
            is_buy = side if side is not None else bool(rng.random() < spec.buy_prob)
        else:
            choice = self._informed_side(series, bid, ask, side)
            if choice is None:
                return
            is_buy = choice
        touch = ask if is_buy else bid
        if touch is None:
            return
        position = self.holdings.get(series.name, 0)
        room = spec.position_limit - (position if is_buy else -position)
        qty = min(qty, room)
        if qty <= 0:
            return
        book_venue.limit(self, is_buy, touch, qty, purpose=TradePurpose.TAKER, ioc=True)

    def _informed_side(
        self, series: object, bid: int | None, ask: int | None, side: bool | None
    ) -> bool | None:
        """Buy (True), sell (False) or nothing (None), by the edge at the true volatility."""
        from abm.market.options.series import OptionSeries

        assert isinstance(series, OptionSeries)
        market, venue = self.market, self.venue
        value = market.fundamental_value
        if value <= 0.0:
            return None
        vol = market.fundamental_volatility() / value
        tau = venue.time_to_expiry(series, market.step_index)
        fair = bs_price_scalar(venue.spot(), series.strike, tau, venue.rate, vol, series.is_call)
        tick = market.tick_size
        threshold = self.spec.threshold + 1e-9
        buy_edge = fair - ask * tick if ask is not None and side is not False else -math.inf
        sell_edge = bid * tick - fair if bid is not None and side is not True else -math.inf
        if max(buy_edge, sell_edge) <= threshold:
            return None
        return buy_edge >= sell_edge


def build_option_end_users(
    market: Market, name: str, spec: OptionEndUserGroup, rng: np.random.Generator
) -> BuiltGroup:
    """An ``option_end_user`` group: ``spec.count`` end users (no draws from ``rng``)."""
    return BuiltGroup([OptionEndUser(market, name, spec) for _ in range(spec.count)])


def _arrival(spec: OptionEndUserGroup, dt: float) -> ArrivalLaw:
    return spec.arrival


GROUP_KIND = GroupKind("option_end_user", GroupRole.TAKER, build_option_end_users, arrival=_arrival)
"""The ``option_end_user`` group kind (`abm.agents.registry`)."""
