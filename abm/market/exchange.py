"""The exchange: the one place where orders reach the book and fills are settled.

Every order of every trader goes through :class:`Exchange`, which forwards it to the
:class:`~abm.market.orderbook.OrderBook`, settles both sides of each fill on the traders'
accounts in the same call (cash in integer tick units, inventory in lots, so that
both are conserved exactly), appends the fill to the run's trade tape, and keeps the
counters that ``summary.json`` reports.

With a circuit breaker (`abm.market.circuit_breaker`) the exchange also halts matching after a
fast fall: while halted, an order that would trade is queued (and submitted in arrival
order by :meth:`Exchange.reopen_if_due`) or rejected; resting orders and cancels go
through as usual. Each halt and reopening is an ``events`` row (``halt``, ``reopen``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from abm.market.circuit_breaker import HALTED_ORDER_ID, CircuitBreaker
from abm.market.orderbook import Fill, OrderBook, OrderResult
from abm.results.events import EventKind

if TYPE_CHECKING:
    from abm.agents.base import Trader
    from abm.results.recorder import Recorder


class Exchange:
    """Order entry, settlement and the trade tape for one instrument.

    Args:
        book: The limit order book.
        recorder: Where each fill is written (one ``trades`` row per fill).
        breaker: The circuit breaker, or None for none.

    Attributes:
        traders: Trader by ``unique_id`` (the book's order owners are these ids).
        tape: ``(aggressor_is_buy, price_ticks, qty)`` of every fill so far, in order;
            observers (e.g. a Glosten-Milgrom market maker) keep a cursor into it.
        last_price_ticks: Price of the most recent fill, or None before the first.
        step_volume: Lots traded in the current step (reset by :meth:`start_step`).
        orders, cancels, fills, volume: Run totals for the summary (fills include
            inter-dealer trades; ``volume`` is book volume only).
        interdealer_volume: Lots passed between dealers outside the book.
        halted: Whether matching is halted now (always False without a breaker).
        queued_orders, rejected_orders: Orders held back by halts, run totals.
    """

    def __init__(
        self, book: OrderBook, recorder: Recorder, breaker: CircuitBreaker | None = None
    ) -> None:
        self.book = book
        self.recorder = recorder
        self.breaker = breaker
        self.halted = False
        self.queued_orders = 0
        self.rejected_orders = 0
        # (trader, is_buy, price_ticks or None for a market order, qty, ioc), arrival order
        self._queue: list[tuple[Trader, bool, int | None, int, bool]] = []
        self.traders: dict[int, Trader] = {}
        self.tape: list[tuple[bool, int, int]] = []
        self.last_price_ticks: int | None = None
        self.step_volume = 0
        self.orders = 0
        self.cancels = 0
        self.fills = 0
        self.volume = 0
        self.interdealer_volume = 0
        self._step = 0
        self._time = 0.0

    def register(self, trader: Trader) -> None:
        """Open an account for ``trader`` (its ``unique_id`` becomes its owner id)."""
        self.traders[trader.unique_id] = trader

    def start_step(self, step: int, time: float) -> None:
        """Stamp subsequent fills with ``step``/``time`` and reset the step's volume."""
        self._step = step
        self._time = time
        self.step_volume = 0

    # ----- order entry ------------------------------------------------------------

    def limit(
        self, trader: Trader, is_buy: bool, price_ticks: int, qty: int, *, ioc: bool = False
    ) -> OrderResult:
        """Submit a limit order for ``trader`` and settle any fills.

        During a halt, a limit order at or through the opposite touch is held back (see
        :meth:`_hold`); one that would rest goes to the book as usual.
        """
        self.orders += 1
        if self.halted and self._crosses(is_buy, price_ticks):
            return self._hold(trader, is_buy, price_ticks, qty, ioc)
        return self._limit(trader, is_buy, price_ticks, qty, ioc)

    def _limit(
        self, trader: Trader, is_buy: bool, price_ticks: int, qty: int, ioc: bool
    ) -> OrderResult:
        result = self.book.limit_ticks(
            trader.unique_id, "buy" if is_buy else "sell", price_ticks, qty, ioc=ioc
        )
        if result.fills:
            self._settle(result.fills, trader, is_buy)
        return result

    def market(self, trader: Trader, is_buy: bool, qty: int) -> OrderResult:
        """Submit a market order for ``trader`` and settle any fills (held back in a halt)."""
        self.orders += 1
        if self.halted:
            return self._hold(trader, is_buy, None, qty, False)
        return self._market(trader, is_buy, qty)

    def _market(self, trader: Trader, is_buy: bool, qty: int) -> OrderResult:
        result = self.book.market(trader.unique_id, "buy" if is_buy else "sell", qty)
        if result.fills:
            self._settle(result.fills, trader, is_buy)
        return result

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order; returns the quantity cancelled (0 if already gone)."""
        qty = self.book.cancel(order_id)
        if qty:
            self.cancels += 1
        return qty

    def interdealer(self, seller: Trader, buyer: Trader, price_ticks: int, qty: int) -> None:
        """Settle a bilateral trade between two dealers outside the book.

        It is taped like a book fill (the seller is the aggressor: it passes inventory
        on) with ``venue="interdealer"``, and settled with the same exact accounting.
        """
        notional = price_ticks * qty
        seller.cash_ticks += notional
        seller.inventory -= qty
        buyer.cash_ticks -= notional
        buyer.inventory += qty
        self.recorder.trade(
            self._step,
            self._time,
            self.book.to_price(price_ticks),
            qty,
            "sell",
            buyer.unique_id,
            seller.unique_id,
            "interdealer",
        )
        self.fills += 1
        self.interdealer_volume += qty

    # ----- circuit breaker --------------------------------------------------------

    def _crosses(self, is_buy: bool, price_ticks: int) -> bool:
        book = self.book
        touch = book.best_ask_ticks() if is_buy else book.best_bid_ticks()
        if touch is None:
            return False
        return price_ticks >= touch if is_buy else price_ticks <= touch

    def _hold(
        self, trader: Trader, is_buy: bool, price_ticks: int | None, qty: int, ioc: bool
    ) -> OrderResult:
        """Queue or reject an order that would trade during a halt.

        Returns:
            A result with order id `HALTED_ORDER_ID` and no fills: ``unfilled_qty == 0`` if
            the order was queued (its sender hears of it again through
            ``Trader.order_released``), ``unfilled_qty == qty`` if it was rejected.
        """
        assert self.breaker is not None  # only a breaker halts
        if self.breaker.spec.on_halt == "queue":
            self._queue.append((trader, is_buy, price_ticks, qty, ioc))
            self.queued_orders += 1
            return OrderResult(HALTED_ORDER_ID, (), 0, 0, ())
        self.rejected_orders += 1
        return OrderResult(HALTED_ORDER_ID, (), 0, qty, ())

    def reopen_if_due(self, step: int) -> None:
        """End a halt whose last step is before ``step``: release the queue in arrival order.

        Each queued order is submitted as if it arrived now (it may trade, rest, or, if it
        triggers a new halt, be queued again), and its result goes to its sender's
        ``order_released``. Logs a ``reopen`` event whose amount is the number released.
        """
        breaker = self.breaker
        if not self.halted or breaker is None or step <= breaker.halted_until:
            return
        self.halted = False
        breaker.reopen()
        queue, self._queue = self._queue, []
        self.recorder.event(
            step, EventKind.REOPEN, None, None, float(len(queue)), halted_until=breaker.halted_until
        )
        for trader, is_buy, price_ticks, qty, ioc in queue:
            if self.halted:
                result = self._hold(trader, is_buy, price_ticks, qty, ioc)
            elif price_ticks is None:
                result = self._market(trader, is_buy, qty)
            else:
                result = self._limit(trader, is_buy, price_ticks, qty, ioc)
            trader.order_released(result)

    def _check_breaker(self, breaker: CircuitBreaker, fills: Sequence[Fill]) -> None:
        """Feed an order's fills to the breaker; on a trip, halt and log a ``halt`` event."""
        for fill in fills:
            reference = breaker.observe(self._step, fill.price_ticks)
            if reference is not None:
                break
        else:
            return
        self.halted = True
        price = fill.price_ticks
        to_price = self.book.to_price
        self.recorder.event(
            self._step,
            EventKind.HALT,
            None,
            None,
            (reference - price) / reference,
            reference=to_price(reference),
            price=to_price(price),
            until_step=breaker.halted_until,
            on_halt=breaker.spec.on_halt,
        )

    # ----- settlement -------------------------------------------------------------

    def _settle(self, fills: Sequence[Fill], taker: Trader, taker_is_buy: bool) -> None:
        """Move cash and inventory for both sides of every fill, and tape it."""
        traders = self.traders
        record = self.recorder.trade
        aggressor = "buy" if taker_is_buy else "sell"
        step, time = self._step, self._time
        taker_id = taker.unique_id
        traded = 0
        for fill in fills:
            maker = traders[fill.maker_owner]  # type: ignore[index]
            qty = fill.qty
            notional = fill.price_ticks * qty
            if taker_is_buy:
                taker.cash_ticks -= notional
                taker.inventory += qty
                maker.cash_ticks += notional
                maker.inventory -= qty
                buyer, seller = taker_id, maker.unique_id
            else:
                taker.cash_ticks += notional
                taker.inventory -= qty
                maker.cash_ticks -= notional
                maker.inventory += qty
                buyer, seller = maker.unique_id, taker_id
            self.tape.append((taker_is_buy, fill.price_ticks, qty))
            record(step, time, fill.price, qty, aggressor, buyer, seller)
            traded += qty
        self.step_volume += traded
        self.volume += traded
        self.fills += len(fills)
        self.last_price_ticks = fills[-1].price_ticks
        if self.breaker is not None and not self.halted:
            self._check_breaker(self.breaker, fills)
