"""The trader classes of the E-mini flash-crash model of Paddrik et al. (2012).

Paddrik, Hayes, Todd, Yang, Beling and Scherer (2012), "An agent based model of the
E-Mini S&P 500 applied to flash crash analysis", IEEE CIFEr: six near-zero-intelligence
classes (small traders, fundamental buyers and sellers, market makers, opportunistic
traders, high-frequency traders) that differ in how often they trade, where they place
orders relative to the last trade, and how much inventory they may carry. One agent kind,
``paddrik``, covers them all; its ``role`` picks a class's defaults and every parameter
can be changed in the scenario (`abm.scenario.schema.PaddrikGroup` documents the rule).
"""

from __future__ import annotations

import bisect
import math
from itertools import accumulate
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.noise import draw_distance_ticks
from abm.agents.stress import RangeGauge, hill
from abm.results.events import TradePurpose
from abm.scenario.schema import ArrivalSpec

if TYPE_CHECKING:
    import numpy as np

    from abm.market.orderbook import OrderResult
    from abm.scenario.schema import ArrivalLaw, PaddrikGroup, PopulationSizeSpec

_EPS = 1e-9


class SizeDraw:
    """Order sizes (lots) from a fixed, uniform or discrete size spec.

    The discrete law is drawn by inverting its cumulative weights with one uniform, so
    every spec costs at most one random number per order.
    """

    __slots__ = ("_cumulative", "_sizes", "_spec")

    def __init__(self, spec: PopulationSizeSpec) -> None:
        self._spec = spec
        self._sizes: list[int] = []
        self._cumulative: list[float] = []
        if spec.kind == "discrete":
            total = sum(spec.weights)
            self._sizes = list(spec.sizes)
            self._cumulative = [w / total for w in accumulate(spec.weights)]

    def __call__(self, rng: np.random.Generator) -> int:
        """One order size in lots (>= 1)."""
        spec = self._spec
        if spec.kind == "fixed":
            return spec.qty
        if spec.kind == "uniform":
            return int(rng.integers(spec.low, spec.high + 1))
        index = bisect.bisect_right(self._cumulative, float(rng.random()))
        return self._sizes[min(index, len(self._sizes) - 1)]


class PaddrikTrader(Trader):
    """One trader of a Paddrik et al. (2012) class; the behaviour is `PaddrikGroup`'s.

    Attributes:
        gauge: The group's stress gauge (`abm.agents.stress`), or None if the class ignores
            stress.
        reducing: True from when ``|inventory|`` passes ``position_limit`` until it is back
            under half of it; meanwhile the trader only trades to reduce its position.
        anchor: Its inventory at the end of its last arrival: what its resting quotes took
            in since is ``inventory - anchor`` (the lots a stressed trader with
            ``pass_range_pct`` passes on).
        resting: Ids of its orders that may still rest in the book; all are cancelled at
            its next arrival, except that a two-sided trader keeps a quote whose price
            has not changed (keeping its place in the queue).
    """

    kind = "paddrik"

    def __init__(
        self, market: Market, group: str, spec: PaddrikGroup, gauge: RangeGauge | None = None
    ) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.gauge = gauge
        self._widen = 1.0
        self.spec = spec
        self.role = spec.role
        self.draw_size = SizeDraw(spec.size)
        self.reducing = False
        self.anchor = self.inventory
        self.resting: list[int] = []
        lifetime = spec.order_lifetime_s
        self._lifetime_steps = None if lifetime is None else max(1, math.ceil(lifetime / market.dt))

    # ----- one arrival ------------------------------------------------------------

    def act(self, rng: np.random.Generator, side: bool | None) -> None:
        """One arrival: read the stress, cancel resting orders, then reduce, quote, take or rest.

        With a stress gauge the trader first feeds it the last price (a halt restarts it),
        then may step back (``withdraw_range_pct``) or widen its quotes (``widen_range_pct``),
        as `abm.scenario.paddrik.PaddrikGroup` states.

        Args:
            rng: The group's generator.
            side: A side imposed by per-side arrivals (True: buy), or None.
        """
        spec = self.spec
        market = self.market
        gauge = self.gauge
        withdrawn = False
        passing = False
        if gauge is not None:
            if market.book_venue.halted:
                gauge.restart()  # a pause breaks the run of prices the traders react to
            read = gauge.range_pct if spec.stress_measure == "range" else gauge.drawdown_pct
            stress = read(market.step_index, market.reference_price("last"))
            if spec.withdraw_range_pct is not None:
                # no draw while calm: a stress-aware trader then acts exactly as one without
                p = hill(stress, spec.withdraw_range_pct, spec.stress_steepness)
                withdrawn = p > 0.0 and rng.random() < p
            if spec.widen_range_pct is not None:
                self._widen = 1.0 + (stress / spec.widen_range_pct) ** spec.stress_steepness
            if spec.pass_range_pct is not None:
                p = hill(stress, spec.pass_range_pct, spec.stress_steepness)
                passing = p > 0.0 and rng.random() < p
        if spec.side != "both":
            self._cancel_resting()
        q = self.inventory
        limit = spec.position_limit
        if limit is not None:
            if abs(q) > limit:
                self.reducing = True
            elif self.reducing and 2 * abs(q) < limit:
                self.reducing = False
        ref = market.reference_price(spec.reference) / market.tick_size
        if self.reducing:
            self._cancel_resting()
            self._reduce(rng, q, ref)
        elif withdrawn:
            self._cancel_resting()
            if spec.side != "both":
                self._one_sided(rng, q, ref, side, withdrawn=True)
            elif spec.stress_flatten and q:
                self._reduce(rng, q, ref)
        elif passing:
            if q != self.anchor:
                q = self._pass_on(q)
            self._two_sided(rng, q, ref, may_take=False)
        elif spec.side == "both":
            self._two_sided(rng, q, ref)
        else:
            self._one_sided(rng, q, ref, side)
        self.anchor = self.inventory

    def _pass_on(self, q: int) -> int:
        """The hot potato: trade back at market what the quotes took in since the last arrival.

        A stressed intermediary that was filled on its bid (ask) sells (buys) the same lots
        at once with a market order instead of holding them, so its inventory goes back to
        ``anchor`` (inventory-neutral taking; CFTC/SEC 2010, p. 3; Kirilenko et al. 2017,
        section 5); it then quotes again but takes nothing else. Returns the inventory
        after it.
        """
        moved = q - self.anchor
        self._cancel_resting()
        self.market.book_venue.market(self, moved < 0, abs(moved), purpose=TradePurpose.TAKER)
        return self.inventory

    def _one_sided(
        self,
        rng: np.random.Generator,
        q: int,
        ref: float,
        side: bool | None,
        withdrawn: bool = False,
    ) -> None:
        """Take or rest one order; a withdrawn trader only takes for value, and never rests.

        With ``value_limit_pct`` nothing rests while the reference is more than that far on
        the wrong side of the value (a seller below it, a buyer above it).
        """
        spec = self.spec
        if spec.side == "buy" or spec.side == "sell":
            is_buy = spec.side == "buy"
        elif side is not None:
            is_buy = side
        else:
            is_buy = bool(rng.random() < 0.5)
        qty = self.draw_size(rng)
        if spec.position_limit is not None:
            qty = min(qty, spec.position_limit - (q if is_buy else -q))
            if qty <= 0:
                return
        take = 0.0 if withdrawn else spec.take_prob
        if spec.value_sensitivity:
            value = self.market.fundamental_value
            discount = (value - ref * self.market.tick_size) / value
            take += spec.value_sensitivity * (discount if is_buy else -discount)
        if take > 0 and rng.random() < take:
            self.market.book_venue.market(self, is_buy, qty, purpose=TradePurpose.TAKER)
            return
        if withdrawn:
            return
        if spec.value_limit_pct is not None:
            value = self.market.fundamental_value
            discount = (value - ref * self.market.tick_size) / value
            if 100.0 * (-discount if is_buy else discount) > spec.value_limit_pct:
                return  # no resting order this far on the wrong side of value
        distance = draw_distance_ticks(spec.distance, rng)
        self._rest(is_buy, ref - distance if is_buy else ref + distance, qty)

    def _two_sided(
        self, rng: np.random.Generator, q: int, ref: float, may_take: bool = True
    ) -> None:
        """Take (``take_prob``, ``inventory_take``) or quote both sides around ``ref``."""
        spec = self.spec
        limit = spec.position_limit
        fraction = q / limit if limit else 0.0
        take = spec.take_prob + spec.inventory_take * abs(fraction) if may_take else 0.0
        if take > 0 and rng.random() < take:
            self._cancel_resting()
            reduce = q != 0 and (
                spec.take_direction == "reduce"
                or rng.random() * take < spec.inventory_take * abs(fraction)
            )
            is_buy = q < 0 if reduce else bool(rng.random() < 0.5)
            qty = self.draw_size(rng)
            if reduce:
                qty = min(qty, abs(q))  # taking to reduce never flips the position
            elif limit is not None:
                qty = min(qty, limit - (q if is_buy else -q))
                if qty <= 0:
                    return
            self.market.book_venue.market(self, is_buy, qty, purpose=TradePurpose.TAKER)
            return
        shift = spec.skew_ticks * fraction
        widen = self._widen
        bid = ref - widen * draw_distance_ticks(spec.distance, rng) - shift
        ask = ref + widen * draw_distance_ticks(spec.distance, rng) - shift
        bid_qty, ask_qty = self.draw_size(rng), self.draw_size(rng)
        if limit is not None:
            bid_qty, ask_qty = min(bid_qty, limit - q), min(ask_qty, limit + q)
        bid_ticks = self._price(True, bid) if bid_qty > 0 else None
        ask_ticks = self._price(False, ask) if ask_qty > 0 else None
        keep_bid, keep_ask = self._keep_quotes(bid_ticks, ask_ticks)
        if bid_qty > 0 and not keep_bid:
            self._rest(True, bid, bid_qty)
        if ask_qty > 0 and not keep_ask:
            self._rest(False, ask, ask_qty)

    def _keep_quotes(self, bid_ticks: int | None, ask_ticks: int | None) -> tuple[bool, bool]:
        """Cancel resting quotes except one per side already at the wanted price (None: none)."""
        book = self.market.book
        cancel = self.market.book_venue.cancel
        kept_bid = kept_ask = False
        kept: list[int] = []
        for order_id in self.resting:
            order = book.order(order_id)
            if order is None:
                continue
            is_buy = order.side == "buy"
            if is_buy and not kept_bid and order.price_ticks == bid_ticks:
                kept_bid = True
            elif not is_buy and not kept_ask and order.price_ticks == ask_ticks:
                kept_ask = True
            else:
                cancel(order_id)
                continue
            kept.append(order_id)
        self.resting = kept
        return kept_bid, kept_ask

    def _reduce(self, rng: np.random.Generator, q: int, ref: float) -> None:
        """Trade towards zero only: a market order, or a limit at the touch."""
        is_buy = q < 0
        qty = min(self.draw_size(rng), abs(q))
        if qty <= 0:
            return
        p = self.spec.reduce_take_prob
        if p >= 1.0 or (p > 0.0 and rng.random() < p):
            self.market.book_venue.market(self, is_buy, qty, purpose=TradePurpose.TAKER)
            return
        book = self.market.book
        touch = book.best_bid_ticks() if is_buy else book.best_ask_ticks()
        self._rest(is_buy, ref if touch is None else float(touch), qty)

    # ----- orders -----------------------------------------------------------------

    def _price(self, is_buy: bool, target_ticks: float) -> int:
        """``target_ticks`` on the grid, rounded away from the market, never crossing."""
        book = self.market.book
        if is_buy:
            price = math.floor(target_ticks + _EPS)
            ask = book.best_ask_ticks()
            return ask - 1 if ask is not None and price >= ask else price
        price = math.ceil(target_ticks - _EPS)
        bid = book.best_bid_ticks()
        return bid + 1 if bid is not None and price <= bid else price

    def _rest(self, is_buy: bool, target_ticks: float, qty: int) -> None:
        """Rest a limit at ``target_ticks`` (see `_price`); nothing below one tick."""
        price = self._price(is_buy, target_ticks)
        if price < 1:
            return
        result = self.market.book_venue.limit(self, is_buy, price, qty, purpose=TradePurpose.TAKER)
        if result.resting_qty:
            self._track(result.order_id)

    def _track(self, order_id: int) -> None:
        self.resting.append(order_id)
        if self._lifetime_steps is not None:
            market = self.market
            market.schedule_expiry(order_id, market.step_index + self._lifetime_steps)

    def _cancel_resting(self) -> None:
        if not self.resting:
            return
        cancel = self.market.book_venue.cancel
        for order_id in self.resting:
            cancel(order_id)
        self.resting.clear()

    def order_released(self, result: OrderResult) -> None:
        """Adopt what rests of an order released after a halt (cancelled at the next arrival)."""
        if result.resting_qty:
            self._track(result.order_id)


def build_paddrik(
    market: Market, name: str, spec: PaddrikGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``paddrik`` group: ``spec.count`` traders of one class (no draws from ``rng``).

    A group that reacts to stress shares one `RangeGauge` among its traders.
    """
    gauge = None
    if (
        spec.withdraw_range_pct is not None
        or spec.widen_range_pct is not None
        or spec.pass_range_pct is not None
    ):
        gauge = RangeGauge(max(1, round(spec.stress_window_s / market.dt)))
    return BuiltGroup([PaddrikTrader(market, name, spec, gauge) for _ in range(spec.count)])


def _arrival(spec: PaddrikGroup, dt: float) -> ArrivalLaw:
    # Bernoulli arrivals with a mean of mean_interarrival_s between orders; the scenario
    # guarantees dt <= mean_interarrival_s, so the rate is a probability
    return ArrivalSpec(kind="bernoulli", rate=dt / spec.mean_interarrival_s)


GROUP_KIND = GroupKind("paddrik", GroupRole.TAKER, build_paddrik, arrival=_arrival)
"""The ``paddrik`` group kind (`abm.agents.registry`)."""
