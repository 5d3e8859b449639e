"""The book venue (``"book"``): order entry at the limit order book, with its circuit breaker.

Accounts send limit and market orders and cancels here; the
:class:`~abm.market.orderbook.OrderBook` matches them at once, and every fill is settled by the
exchange (`abm.market.exchange.Exchange.settle_fills`) in the same call. Each order says why it
was sent (``purpose``, a `abm.results.events.TradePurpose`), which its fills carry into the
``trades`` table.

With a circuit breaker (`abm.market.circuit_breaker`) the venue halts matching after a fast
fall: while halted, an order that would trade is queued (and, at :meth:`BookVenue.open_trading`,
matched in a reopening auction at one price, or released in arrival order) or rejected;
resting orders and cancels go through as usual.
Each halt and reopening is an ``events`` row (``halt``, ``reopen``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from abm.market.auction import AuctionResult, clearing_price
from abm.market.circuit_breaker import HALTED_ORDER_ID, CircuitBreaker, CircuitBreakerSpec
from abm.market.orderbook import Fill, OrderBook, OrderResult
from abm.market.venue import (
    UNDERLYING,
    Account,
    Instrument,
    PlainVenue,
    Settlement,
    VenueContext,
)
from abm.results.events import EventKind

if TYPE_CHECKING:
    from abm.results.events import TradePurpose

_Queued = tuple[Account, bool, int | None, int, bool, "TradePurpose"]
"""An order held in a halt: (trader, is_buy, limit ticks or None for a market order, qty, ioc,
purpose)."""


class BookVenue(PlainVenue):
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
        self.holdings: dict[str, int] = {}  # no held instruments
        self.halted = False
        self.orders = 0
        self.cancels = 0
        self.queued_orders = 0
        self.rejected_orders = 0
        self._queue: list[_Queued] = []
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
        breaker = self.breaker
        if breaker is not None and not is_buy and breaker.spec.stop_logic:
            floor = self._stop_floor(is_buy)
            if floor is not None and price_ticks < floor and self._crosses(is_buy, price_ticks):
                return self._stop_logic_sell(trader, price_ticks, qty, ioc, purpose, floor)
        # `_limit`, inlined: this is the hot path of every limit order
        result = self.book.limit_ticks(
            trader.unique_id, "buy" if is_buy else "sell", price_ticks, qty, ioc=ioc
        )
        if result.fills:
            self._settle(self, result.fills, trader, is_buy, purpose)
            if breaker is not None and not self.halted:
                self._check_breaker(breaker, result.fills)
        return result

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
        floor = self._stop_floor(is_buy)
        if floor is not None:
            return self._stop_logic_sell(trader, None, qty, False, purpose, floor)
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
        """End a halt whose last step is before ``step``: reopen with the queued orders.

        With ``reopening: auction`` the queued orders that can trade at the auction's uniform
        price (`abm.market.auction.clearing_price`, over the queue and the resting book)
        execute at that price, unchecked by the breaker, whose next reference is that price;
        the rest of the queue follows as ordinary orders. With ``reopening: release``, or when
        nothing crosses, each queued order is submitted in arrival order as if it arrived now
        (it may trade, rest, or, if it triggers a new halt, be queued again). Each result goes
        to its sender's ``order_released``. Logs a ``reopen`` event whose amount is the number
        of queued orders, with the auction's ``price`` (NaN without an auction).
        """
        breaker = self.breaker
        if not self.halted or breaker is None or step <= breaker.halted_until:
            return
        self.halted = False
        queue, self._queue = self._queue, []
        cleared = None
        if breaker.spec.reopening == "auction" and queue:
            cleared = self._clearing(queue, breaker)
        breaker.reopen(step, None if cleared is None else cleared.price_ticks)
        self._exchange.recorder.event(
            step,
            EventKind.REOPEN,
            None,
            None,
            float(len(queue)),
            halted_until=breaker.halted_until,
            price=math.nan if cleared is None else self.book.to_price(cleared.price_ticks),
        )
        later = queue
        if cleared is not None:
            price = cleared.price_ticks
            later = []
            for order in queue:
                trader, is_buy, limit, qty, ioc, purpose = order
                if limit is not None and (limit < price if is_buy else limit > price):
                    later.append(order)
                    continue
                trader.order_released(
                    self._auction_fill(trader, is_buy, price, qty, purpose, ioc or limit is None)
                )
        for trader, is_buy, price_ticks, qty, ioc, purpose in later:
            if self.halted:
                result = self._hold(trader, is_buy, price_ticks, qty, ioc, purpose)
            elif price_ticks is None:
                result = self._market(trader, is_buy, qty, purpose)
            else:
                result = self._limit(trader, is_buy, price_ticks, qty, ioc, purpose)
            trader.order_released(result)

    def _clearing(self, queue: list[_Queued], breaker: CircuitBreaker) -> AuctionResult | None:
        """The reopening auction's price over the queued orders and the resting book."""
        book = self.book
        to_ticks = book.to_ticks
        bids: list[tuple[int | None, int]] = [
            (to_ticks(price), qty) for price, qty in book.depth("buy", len(book))
        ]
        asks: list[tuple[int | None, int]] = [
            (to_ticks(price), qty) for price, qty in book.depth("sell", len(book))
        ]
        reference = breaker.last_ticks
        if reference is None:
            bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
            reference = bid if ask is None else ask if bid is None else (bid + ask) // 2
        if reference is None:
            return None
        for _, is_buy, price_ticks, qty, _, _ in queue:
            (bids if is_buy else asks).append((price_ticks, qty))
        return clearing_price(bids, asks, reference)

    def _auction_fill(
        self,
        trader: Account,
        is_buy: bool,
        price_ticks: int,
        qty: int,
        purpose: TradePurpose,
        drop_rest: bool,
    ) -> OrderResult:
        """One queued order in the reopening auction: its fills all at ``price_ticks``.

        The order goes to the book as a limit at the auction price; every fill is settled at
        that price (the uniform price; a resting bid above it pays it, as in any call
        auction), without feeding the breaker. What does not execute rests at the auction
        price, unless the order was a market or IOC order (``drop_rest``): then it is
        cancelled and reported unfilled.
        """
        book = self.book
        result = book.limit_ticks(trader.unique_id, "buy" if is_buy else "sell", price_ticks, qty)
        fills = result.fills
        if fills:
            price = book.to_price(price_ticks)
            fills = [fill._replace(price=price, price_ticks=price_ticks) for fill in fills]
            self._settle(self, fills, trader, is_buy, purpose)
        if drop_rest and result.resting_qty:
            book.cancel(result.order_id)
            return result._replace(fills=fills, resting_qty=0, unfilled_qty=result.resting_qty)
        return result._replace(fills=fills)

    # ----- circuit breaker --------------------------------------------------------

    def _stop_floor(self, is_buy: bool) -> int | None:
        """With stop logic, the lowest price a sell may trade at now (None: no limit)."""
        breaker = self.breaker
        if is_buy or breaker is None or not breaker.spec.stop_logic:
            return None
        return breaker.floor_ticks(self._exchange.step)

    def _stop_logic_sell(
        self,
        trader: Account,
        price_ticks: int | None,
        qty: int,
        ioc: bool,
        purpose: TradePurpose,
        floor: int,
    ) -> OrderResult:
        """A sell that may trade below the stop-logic floor: down to the floor, then a halt.

        The order first executes against bids at or above ``floor`` (the lowest price that
        does not trip the breaker). If what is left would still trade (a market order, or a
        limit at or below the best bid), the breaker trips without that trade and the rest is
        held as in any halt (CME Globex Stop Logic); otherwise a limit's rest goes to the book
        and a market order's rest is unfilled, as without a breaker.

        Returns:
            The first part's result; when the rest is held, with order id `HALTED_ORDER_ID`,
            no resting quantity and, if the halt rejects orders, the rest as unfilled.
        """
        first = self._limit(trader, False, floor, qty, True, purpose)
        rest = first.unfilled_qty
        if not rest:
            return first
        bid = self.book.best_bid_ticks()
        if bid is None or (price_ticks is not None and bid < price_ticks):
            if price_ticks is None:
                return first
            second = self._limit(trader, False, price_ticks, rest, ioc, purpose)
            return second._replace(
                fills=(*first.fills, *second.fills),
                self_trade_cancels=(*first.self_trade_cancels, *second.self_trade_cancels),
            )
        breaker = self.breaker
        assert breaker is not None  # a floor comes from a breaker
        step = self._exchange.step
        reference = breaker.reference_ticks(step)
        breaker.trip(step)
        self._halt(breaker, step, reference, bid)
        held = self._hold(trader, False, price_ticks, rest, ioc, purpose)
        return OrderResult(
            HALTED_ORDER_ID, first.fills, 0, held.unfilled_qty, first.self_trade_cancels
        )

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
        self._halt(breaker, step, reference, fill.price_ticks)

    def _halt(self, breaker: CircuitBreaker, step: int, reference: int | None, price: int) -> None:
        """Halt the venue and log the ``halt`` event: the move from ``reference`` to ``price``."""
        self.halted = True
        to_price = self.book.to_price
        self._exchange.recorder.event(
            step,
            EventKind.HALT,
            None,
            None,
            math.nan if reference is None else (reference - price) / reference,
            reference=math.nan if reference is None else to_price(reference),
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
