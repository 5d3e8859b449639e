"""A percentage-of-volume (POV) execution program, as in the sale that set off May 6, 2010.

The CFTC/SEC (2010, pp. 2-3) report describes an automated sell program for 75,000 E-mini
contracts "to target an execution rate set to 9% of the trading volume calculated over the
previous minute, but without regard to price or time". `PovTrader` is that algorithm: a
schedule that grows with the market's own recent volume, executed with market orders
(``aggressive``) or with one order resting at the touch (``passive``); the record disputes
which of the two happened (Kirilenko et al. 2017, section 4; CME Group 2010).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.market.circuit_breaker import HALTED_ORDER_ID
from abm.results.events import EventKind, TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.market.orderbook import OrderResult
    from abm.scenario.schema import PovGroup

_EPS = 1e-9


class PovTrader(Trader):
    """Trades ``target_qty`` lots at ``participation`` of the previous window's volume.

    Every ``interval_steps`` steps from ``start_step`` (`PovGroup` documents the schedule)
    the trader adds ``participation * V * interval_steps / window_steps`` lots to its
    schedule, ``V`` being the book volume of the ``window_steps`` completed steps before
    this one (or, with ``volume_feedback`` off, before ``start_step``), and works the part
    of the schedule that is neither executed nor queued in a trading halt. Executed quantity
    is read from its position, so passive fills between activations count. Logs
    ``pov_start`` when it first acts and ``pov_done`` (amount: lots executed) when the block
    is done.

    Attributes:
        scheduled: Lots the schedule calls for so far (fractional).
        pending: Lots in orders queued by a trading halt, not yet released.
        done: True once ``target_qty`` lots are executed.
    """

    kind = "pov"

    def __init__(self, market: Market, group: str, spec: PovGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.is_buy = spec.side == "buy"
        self.start_inventory = self.inventory
        self.scheduled = 0.0
        self.pending = 0
        self.started = False
        self.done = False
        self.resting_id: int | None = None

    @property
    def executed(self) -> int:
        """Lots executed so far (on the program's side)."""
        moved = self.inventory - self.start_inventory
        return moved if self.is_buy else -moved

    def step(self) -> None:
        """Grow the schedule and work it, on the program's activation steps."""
        spec = self.spec
        market = self.market
        n = market.step_index
        if self.done or n < spec.start_step or (n - spec.start_step) % spec.interval_steps:
            return
        if not self.started:
            self.started = True
            market.log_event(
                EventKind.POV_START, self.unique_id, None, float(spec.target_qty), mode=spec.mode
            )
        volumes = market.cumulative_volume
        # the window is made of completed steps: the last one is n - 1, or, without volume
        # feedback, the step before the program started
        last = n - 1 if spec.volume_feedback else max(0, spec.start_step - 1)
        window_volume = volumes[last] - volumes[max(0, last - spec.window_steps)]
        self.scheduled += (
            spec.participation * window_volume * spec.interval_steps / spec.window_steps
        )
        if self._finish_if_done():
            return
        executed = self.executed
        remaining = spec.target_qty - executed - self.pending
        want = min(remaining, math.floor(self.scheduled + _EPS) - executed - self.pending)
        if spec.mode == "aggressive":
            if want > 0:
                result = market.book_venue.market(
                    self, self.is_buy, want, purpose=TradePurpose.EXECUTION
                )
                if result.order_id == HALTED_ORDER_ID and not result.unfilled_qty:
                    self.pending += want - result.filled_qty  # stop logic may fill a part
        else:
            self._peg(want)
        self._finish_if_done()

    def _peg(self, qty: int) -> None:
        """Keep one order of ``qty`` lots at the touch of the program's own side.

        The touch is read before the program's own order is cancelled, so an order that
        is itself the touch stays where it is (and keeps its priority if its size holds).
        """
        market = self.market
        book = market.book
        target = book.best_bid_ticks() if self.is_buy else book.best_ask_ticks()
        if target is None:
            other = book.best_ask_ticks() if self.is_buy else book.best_bid_ticks()
            if other is not None:
                target = other - 1 if self.is_buy else other + 1
            else:
                target = round(market.reference_price("last") / market.tick_size)
        current = self.resting_id
        if current is not None:
            order = book.order(current)
            if order is not None and order.price_ticks == target and order.qty == qty:
                return
            market.book_venue.cancel(current)
            self.resting_id = None
        if qty <= 0 or target < 1:
            return
        result = market.book_venue.limit(
            self, self.is_buy, target, qty, purpose=TradePurpose.EXECUTION
        )
        if result.resting_qty:
            self.resting_id = result.order_id

    def _finish_if_done(self) -> bool:
        if self.executed < self.spec.target_qty:
            return False
        self.done = True
        if self.resting_id is not None:
            self.market.book_venue.cancel(self.resting_id)
            self.resting_id = None
        self.market.log_event(EventKind.POV_DONE, self.unique_id, None, float(self.executed))
        return True

    def order_released(self, result: OrderResult) -> None:
        """A queued child order was submitted at the reopening: it is no longer pending."""
        if result.order_id == HALTED_ORDER_ID and not result.unfilled_qty:
            return  # queued again by a new halt: still pending
        self.pending -= result.filled_qty + result.resting_qty + result.unfilled_qty
        if result.resting_qty:
            self.market.book_venue.cancel(result.order_id)


def build_executors(
    market: Market, name: str, spec: PovGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``pov`` group: ``spec.count`` execution programs (no draws from ``rng``)."""
    return BuiltGroup([PovTrader(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("pov", GroupRole.EXECUTOR, build_executors)
"""The ``pov`` group kind (`abm.agents.registry`)."""
