"""The book venue (``"book"``): order entry at the limit order book, with its circuit breaker.

Accounts send limit and market orders and cancels here; the
:class:`~abm.market.orderbook.OrderBook` matches them at once, and every fill is settled by the
exchange (`abm.market.exchange.Exchange.settle_fills`) in the same call. Each order says why it
was sent (``purpose``, a `abm.results.events.TradePurpose`), which its fills carry into the
``trades`` table.

With a circuit breaker (`abm.market.circuit_breaker`) the venue halts matching after a fast
fall: while halted, an order that would trade is queued (and submitted in arrival order by
:meth:`BookVenue.open_trading`) or rejected; resting orders and cancels go through as usual.
Each halt and reopening is an ``events`` row (``halt``, ``reopen``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from abm.market.circuit_breaker import HALTED_ORDER_ID, CircuitBreaker, CircuitBreakerSpec
from abm.market.orderbook import Fill, OrderBook, OrderResult
from abm.market.venue import UNDERLYING, Account, Instrument, Settlement, VenueContext
from abm.results.events import EventKind

if TYPE_CHECKING:
    from abm.results.events import TradePurpose


class BookVenue:
    """Order entry, halts and counters of the limit order book.

    Args:
        name: The venue's name (the ``venue`` label of its trades).
        book: The limit order book.
        exchange: Where fills are settled and taped.
        breaker: The circuit breaker, or None for none.
        instrument: The instrument the book trades.

    Attributes:
        halted: Whether matching is halted now (always False without a breaker).
        orders, cancels: Run totals for the summary (orders sent, cancels that removed a
            resting order).
        queued_orders, rejected_orders: Orders held back by halts, run totals.
        cash_ticks, position: Always 0: the book matches traders and is never a counterparty.
    """

    def __init__(
        self,
        name: str,
        book: OrderBook,
        exchange: Settlement,
        breaker: CircuitBreaker | None = None,
        instrument: Instrument = UNDERLYING,
    ) -> None:
        self.name = name
        self.instrument = instrument
        self.book = book
        self.breaker = breaker
        self.cash_ticks = 0
        self.position = 0
        self.halted = False
        self.orders = 0
        self.cancels = 0
        self.queued_orders = 0
        self.rejected_orders = 0
        # (trader, is_buy, price_ticks or None for a market order, qty, ioc, purpose)
        self._queue: list[tuple[Account, bool, int | None, int, bool, TradePurpose]] = []
        self._exchange = exchange
        self._settle = exchange.settle_fills

    # ----- order entry ------------------------------------------------------------

    def limit(
        self,
        trader: Account,
        is_buy: bool,
        price_ticks: int,
        qty: int,
        *,
        purpose: TradePurpose,
        ioc: bool = False,
    ) -> OrderResult:
        """Submit a limit order for ``trader`` and settle any fills.

        During a halt, a limit order at or through the opposite touch is held back (see
        :meth:`_hold`); one that would rest goes to the book as usual.
        """
        self.orders += 1
        if self.halted and self._crosses(is_buy, price_ticks):
            return self._hold(trader, is_buy, price_ticks, qty, ioc, purpose)
        return self._limit(trader, is_buy, price_ticks, qty, ioc, purpose)

    def _limit(
        self,
        trader: Account,
        is_buy: bool,
        price_ticks: int,
        qty: int,
        ioc: bool,
        purpose: TradePurpose,
    ) -> OrderResult:
        result = self.book.limit_ticks(
            trader.unique_id, "buy" if is_buy else "sell", price_ticks, qty, ioc=ioc
        )
        if result.fills:
            self._settle(self, result.fills, trader, is_buy, purpose)
            if self.breaker is not None and not self.halted:
                self._check_breaker(self.breaker, result.fills)
        return result

    def market(
        self, trader: Account, is_buy: bool, qty: int, *, purpose: TradePurpose
    ) -> OrderResult:
        """Submit a market order for ``trader`` and settle any fills (held back in a halt)."""
        self.orders += 1
        if self.halted:
            return self._hold(trader, is_buy, None, qty, False, purpose)
        return self._market(trader, is_buy, qty, purpose)

    def _market(
        self, trader: Account, is_buy: bool, qty: int, purpose: TradePurpose
    ) -> OrderResult:
        result = self.book.market(trader.unique_id, "buy" if is_buy else "sell", qty)
        if result.fills:
            self._settle(self, result.fills, trader, is_buy, purpose)
            if self.breaker is not None and not self.halted:
                self._check_breaker(self.breaker, result.fills)
        return result

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order; returns the quantity cancelled (0 if already gone)."""
        qty = self.book.cancel(order_id)
        if qty:
            self.cancels += 1
        return qty

    # ----- the step ---------------------------------------------------------------

    def open_step(self, step: int, fundamental: float) -> None:
        """Nothing to prepare: the book carries its orders over (a halt ends in `open_trading`)."""

    def open_trading(self, step: int) -> None:
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
        self._exchange.recorder.event(
            step,
            EventKind.REOPEN,
            None,
            None,
            float(len(queue)),
            halted_until=breaker.halted_until,
        )
        for trader, is_buy, price_ticks, qty, ioc, purpose in queue:
            if self.halted:
                result = self._hold(trader, is_buy, price_ticks, qty, ioc, purpose)
            elif price_ticks is None:
                result = self._market(trader, is_buy, qty, purpose)
            else:
                result = self._limit(trader, is_buy, price_ticks, qty, ioc, purpose)
            trader.order_released(result)

    # ----- circuit breaker --------------------------------------------------------

    def _crosses(self, is_buy: bool, price_ticks: int) -> bool:
        book = self.book
        touch = book.best_ask_ticks() if is_buy else book.best_bid_ticks()
        if touch is None:
            return False
        return price_ticks >= touch if is_buy else price_ticks <= touch

    def _hold(
        self,
        trader: Account,
        is_buy: bool,
        price_ticks: int | None,
        qty: int,
        ioc: bool,
        purpose: TradePurpose,
    ) -> OrderResult:
        """Queue or reject an order that would trade during a halt.

        Returns:
            A result with order id `HALTED_ORDER_ID` and no fills: ``unfilled_qty == 0`` if
            the order was queued (its sender hears of it again through
            ``Account.order_released``), ``unfilled_qty == qty`` if it was rejected.
        """
        assert self.breaker is not None  # only a breaker halts
        if self.breaker.spec.on_halt == "queue":
            self._queue.append((trader, is_buy, price_ticks, qty, ioc, purpose))
            self.queued_orders += 1
            return OrderResult(HALTED_ORDER_ID, (), 0, 0, ())
        self.rejected_orders += 1
        return OrderResult(HALTED_ORDER_ID, (), 0, qty, ())

    def _check_breaker(self, breaker: CircuitBreaker, fills: Sequence[Fill]) -> None:
        """Feed an order's fills to the breaker; on a trip, halt and log a ``halt`` event."""
        step = self._exchange.step
        for fill in fills:
            reference = breaker.observe(step, fill.price_ticks)
            if reference is not None:
                break
        else:
            return
        self.halted = True
        price = fill.price_ticks
        to_price = self.book.to_price
        self._exchange.recorder.event(
            step,
            EventKind.HALT,
            None,
            None,
            (reference - price) / reference,
            reference=to_price(reference),
            price=to_price(price),
            until_step=breaker.halted_until,
            on_halt=breaker.spec.on_halt,
        )


def build_book_venue(name: str, context: VenueContext) -> BookVenue:
    """The scenario's book venue: an order book on its tick grid, with its circuit breaker."""
    spec: CircuitBreakerSpec | None = context.scenario.circuit_breaker
    tick_size: float = context.scenario.tick_size
    breaker = CircuitBreaker(spec) if spec is not None and spec.enabled else None
    return BookVenue(name, OrderBook(tick_size=tick_size), context.exchange, breaker)
