"""Noise traders: zero-intelligence order flow (Gode & Sunder 1993; Farmer et al. 2005)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.routing import amm_venue, choose_venue
from abm.results.events import TradePurpose
from abm.scenario.schema import (
    DistanceSpec,
    ExponentialDistance,
    NoiseGroup,
    PowerLawDistance,
    SizeSpec,
    UniformDistance,
)

if TYPE_CHECKING:
    import numpy as np

    from abm.scenario.schema import ArrivalLaw


_PRUNE_AT = 16  # resting ids kept before finished orders are pruned from the list
# read once per limit order: module constants rather than attribute look-ups
_TAKER = TradePurpose.TAKER
_floor, _ceil = math.floor, math.ceil


def draw_distance_ticks(spec: DistanceSpec, rng: np.random.Generator) -> float:
    """Distance from the reference price, in ticks (not necessarily an integer).

    * exponential: ``Exp(mean_ticks)``;
    * uniform: an integer uniform on ``[low_ticks, high_ticks]``;
    * power_law: a Pareto law with density proportional to ``x**-alpha`` truncated to
      ``[min_ticks, max_ticks]``, drawn by inverting its CDF.
    """
    if isinstance(spec, ExponentialDistance):
        return float(rng.exponential(spec.mean_ticks))
    if isinstance(spec, UniformDistance):
        return float(rng.integers(spec.low_ticks, spec.high_ticks + 1))
    assert isinstance(spec, PowerLawDistance)
    a = spec.alpha - 1.0
    lo, hi = float(spec.min_ticks), float(spec.max_ticks)
    tail = 1.0 - (lo / hi) ** a
    return lo * (1.0 - rng.random() * tail) ** (-1.0 / a)


def draw_size(spec: SizeSpec, rng: np.random.Generator) -> int:
    """Order size in lots: fixed, or an integer uniform on ``[low, high]``."""
    if spec.kind == "fixed":
        return spec.qty
    return int(rng.integers(spec.low, spec.high + 1))


class NoiseTrader(Trader):
    """Random order flow around a reference price.

    On each arrival the trader picks an action from ``mix`` (market, limit, cancel)
    and a side (buy with probability ``buy_prob``, or the side of a per-side arrival):

    * market: a market order of a random size, at the book, or (``venue: amm``) a swap of that
      size queued at the AMM pool, or (``best``) at whichever costs less for the size now
      (`abm.agents.routing`);
    * limit: a limit order at the reference price (mid, or the fundamental) minus a
      random distance for a buy and plus it for a sell (``placement: passive``), or the
      other way round (``aggressive``); prices are rounded away from the reference for
      passive orders and towards it for aggressive ones, so a buy never bids above,
      nor a sell offers below, its drawn price. With probability ``ioc_prob`` the order
      is immediate-or-cancel;
    * cancel: cancel one of its own resting orders, chosen uniformly (nothing if none).
    """

    kind = "noise"

    def __init__(self, market: Market, group: str, spec: NoiseGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        mix = spec.mix
        self._p_market = mix.market
        self._p_limit = mix.market + mix.limit
        self.resting: list[int] = []
        self._prune_at = _PRUNE_AT
        # the spec's values an arrival reads, unpacked once (the size draw is `draw_size`'s)
        size = spec.size
        self._fixed_qty = size.qty if size.kind == "fixed" else None
        self._size_bounds = (0, 1) if size.kind == "fixed" else (size.low, size.high + 1)
        self._passive = spec.placement == "passive"
        self._route = spec.venue
        self._buy_prob = spec.buy_prob
        self._reference = spec.reference
        self._ioc_prob = spec.ioc_prob
        self._distance = spec.distance

    def act(self, rng: np.random.Generator, side: bool | None) -> None:
        """One arrival (see the class docstring)."""
        u = rng.random()
        if u >= self._p_limit:  # cancel one resting order, drawn uniformly (inline: hot path)
            market = self.market
            resting = market.book.still_resting(self.resting)
            self.resting = resting
            if resting:  # a numpy integer indexes the list as its int would
                market.book_venue.cancel(resting.pop(rng.integers(len(resting))))
            return
        # Generator.random() is a Python float: its comparison is a bool already
        is_buy = side if side is not None else rng.random() < self._buy_prob
        qty = self._fixed_qty
        if qty is None:
            qty = int(rng.integers(*self._size_bounds))
        market = self.market
        venue = market.book_venue
        if u < self._p_market:
            if self._route == "book" or (
                self._route == "best" and choose_venue(market, is_buy, qty) == "book"
            ):
                venue.market(self, is_buy, qty, purpose=TradePurpose.TAKER)
            else:
                amm_venue(market).swap(self, is_buy, qty, purpose=TradePurpose.TAKER)
            return
        ref_ticks = market.reference_price(self._reference) / market.tick_size
        distance = draw_distance_ticks(self._distance, rng)
        below = is_buy == self._passive
        target = ref_ticks - distance if below else ref_ticks + distance
        price_t = _floor(target + 1e-9) if is_buy else _ceil(target - 1e-9)
        ioc_prob = self._ioc_prob
        ioc = ioc_prob > 0 and rng.random() < ioc_prob
        result = venue.limit(
            self, is_buy, price_t if price_t > 1 else 1, qty, purpose=_TAKER, ioc=ioc
        )
        if result.resting_qty:
            resting = self.resting
            if len(resting) >= self._prune_at:
                book = market.book
                resting[:] = book.still_resting(resting)
                # prune again only once the list has doubled: amortised O(1) per order
                self._prune_at = max(_PRUNE_AT, 2 * len(resting))
            resting.append(result.order_id)


def build_noise(
    market: Market, name: str, spec: NoiseGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``noise`` group: ``spec.count`` noise traders (no draws from ``rng``)."""
    return BuiltGroup([NoiseTrader(market, name, spec) for _ in range(spec.count)])


def _arrival(spec: NoiseGroup, dt: float) -> ArrivalLaw:
    return spec.arrival


GROUP_KIND = GroupKind("noise", GroupRole.TAKER, build_noise, arrival=_arrival)
"""The ``noise`` group kind (`abm.agents.registry`)."""
