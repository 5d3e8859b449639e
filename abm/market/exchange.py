"""The exchange: the one place where every trade, at every venue, is settled.

Traders hold accounts at the :class:`Exchange`; venues (`abm.market.venue`: the book venue,
the hedge venue, ...) are attached to it by name. Whatever the venue, a trade is settled here:
cash in integer tick units and the traded instrument's positions in lots move between the two
sides in the same call, so that cash and every instrument's positions are conserved exactly.
Book fills are also appended to the run's trade tape and written to the ``trades`` table (with
their venue, instrument, purpose and order ids); the exchange keeps the counters that
``summary.json`` reports.

Order entry is at the venues (`abm.market.book_venue.BookVenue.limit`, ``market``,
``cancel``); :meth:`Exchange.limit`, :meth:`Exchange.market` and :meth:`Exchange.cancel` send
to the book venue, for callers off the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from abm.market.venue import Account, add_position
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    from abm.market.book_venue import BookVenue
    from abm.market.circuit_breaker import CircuitBreaker
    from abm.market.orderbook import Fill, OrderResult
    from abm.market.venue import Instrument, Venue
    from abm.results.recorder import Recorder

AccountT = TypeVar("AccountT", bound=Account)
POOL_ACCOUNT_ID = -1
"""The ``buyer``/``seller`` id of an AMM pool in its swaps' ``trades`` rows (no agent has it)."""
INTERDEALER = "interdealer"
"""The ``venue`` label of trades passed between dealers outside any venue (hot potato)."""


TAPE_TRIM = 4096
"""Fills older than the previous step dropped from `Exchange.tape` at once (amortised)."""


class Exchange(Generic[AccountT]):
    """Accounts, settlement, the trade tape and the run's trading counters.

    Generic in the account type it holds (the model's is ``Exchange[Trader]``); settlement
    needs only the `abm.market.venue.Account` part of an account.

    Args:
        recorder: Where each book fill is written (one ``trades`` row per fill).

    Attributes:
        traders: Trader account by ``unique_id`` (the book's order owners are these ids).
        venues: The attached venues by name, in the order they were attached.
        book_venue: The book venue (set by :meth:`attach_book`; orders at the book go there).
        tape: ``(aggressor_is_buy, price_ticks, qty)`` of the recent book fills, in order:
            every fill of this step and the last, at least (older ones are dropped in
            blocks of `TAPE_TRIM` by :meth:`start_step`, so a long run's tape does not grow).
            ``tape[0]`` is fill number ``tape_base`` of the run; observers (a Glosten-Milgrom
            market maker, the mark) keep a cursor, a fill number, and read
            :meth:`tape_since` it.
        tape_base: The run's number of the fill at ``tape[0]`` (0 until the first trim).
        last_price_ticks: Price of the most recent book fill, or None before the first.
        step: The current step (stamped on trades and halt events; set by :meth:`start_step`).
        step_volume: Lots traded at the book in the current step (reset by :meth:`start_step`).
        fills, volume: Run totals for the summary (fills include inter-dealer trades;
            ``volume`` is book volume only).
        interdealer_volume: Lots passed between dealers outside the book.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.traders: dict[int, AccountT] = {}
        self.venues: dict[str, Venue] = {}
        self.book_venue: BookVenue | None = None
        self.tape: list[tuple[bool, int, int]] = []
        self.tape_base = 0
        self._step_tape_start = 0  # fill number of the current step's first fill
        self.last_price_ticks: int | None = None
        self.step = 0
        self.step_volume = 0
        self.fills = 0
        self.volume = 0
        self.interdealer_volume = 0
        self._time = 0.0

    def register(self, trader: AccountT) -> None:
        """Open an account for ``trader`` (its ``unique_id`` becomes its owner id)."""
        self.traders[trader.unique_id] = trader

    def attach(self, venue: Venue) -> None:
        """Attach ``venue`` under its name.

        Raises:
            ValueError: If a venue of that name is already attached.
        """
        if venue.name in self.venues:
            raise ValueError(f"venue {venue.name!r} is already attached to the exchange")
        self.venues[venue.name] = venue

    def attach_book(self, venue: BookVenue) -> None:
        """Attach the book venue: `attach`, and the target of the exchange's order entry."""
        self.attach(venue)
        self.book_venue = venue

    def start_step(self, step: int, time: float) -> None:
        """Stamp subsequent fills with ``step``/``time``, reset the step's volume, trim the tape.

        Fills before the previous step are dropped from the tape once there are `TAPE_TRIM`
        of them: every observer reads the tape each step, so none is further behind.
        """
        self.step = step
        self._time = time
        self.step_volume = 0
        stale = self._step_tape_start - self.tape_base  # fills before the previous step
        if stale >= TAPE_TRIM:
            del self.tape[:stale]
            self.tape_base += stale
        self._step_tape_start = self.tape_position

    @property
    def tape_position(self) -> int:
        """The run's number of the next book fill (fills so far): a cursor for `tape_since`."""
        return self.tape_base + len(self.tape)

    def tape_since(self, position: int) -> list[tuple[bool, int, int]]:
        """The tape's fills from fill number ``position`` on (a cursor from `tape_position`).

        A cursor older than the tape (an observer that stopped reading for more than a step)
        gets the fills the tape still holds.
        """
        return self.tape[max(0, position - self.tape_base) :]

    # ----- order entry at the book venue (off the hot path) --------------------------

    def _book(self) -> BookVenue:
        if self.book_venue is None:
            raise RuntimeError("no book venue is attached to the exchange")
        return self.book_venue

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
        """Submit a limit order at the book venue (`BookVenue.limit`)."""
        return self._book().limit(trader, is_buy, price_ticks, qty, purpose=purpose, ioc=ioc)

    def market(
        self, trader: Account, is_buy: bool, qty: int, *, purpose: TradePurpose
    ) -> OrderResult:
        """Submit a market order at the book venue (`BookVenue.market`)."""
        return self._book().market(trader, is_buy, qty, purpose=purpose)

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order at the book venue (`BookVenue.cancel`)."""
        return self._book().cancel(order_id)

    # ----- the book venue's state and counters, as the summary reads them ------------

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The book venue's circuit breaker, or None."""
        return self._book().breaker

    @property
    def halted(self) -> bool:
        """Whether the book venue is halted now."""
        return self._book().halted

    @property
    def orders(self) -> int:
        """Orders sent to the book venue so far."""
        return self._book().orders

    @property
    def cancels(self) -> int:
        """Cancels at the book venue that removed a resting order."""
        return self._book().cancels

    @property
    def queued_orders(self) -> int:
        """Orders the book venue queued in halts, run total."""
        return self._book().queued_orders

    @property
    def rejected_orders(self) -> int:
        """Orders the book venue rejected in halts, run total."""
        return self._book().rejected_orders

    # ----- settlement -------------------------------------------------------------

    def settle_fills(
        self,
        venue: Venue,
        fills: Sequence[Fill],
        taker: Account,
        taker_is_buy: bool,
        purpose: TradePurpose,
    ) -> None:
        """Settle one incoming order's fills against resting orders at ``venue``, and tape them.

        Moves cash (tick units) and the venue's instrument (lots) between both sides of every
        fill, appends each fill to the tape and writes one ``trades`` row per fill, with
        ``purpose`` (the incoming order's) and both order ids.
        """
        instrument = venue.instrument
        if instrument.position != "inventory":
            self._settle_other(venue.name, instrument, fills, taker, taker_is_buy, purpose)
            return
        traders = self.traders
        record = self.recorder.trade
        tape = self.tape
        aggressor = "buy" if taker_is_buy else "sell"
        step, time = self.step, self._time
        venue_name, instrument_name = venue.name, instrument.name
        # a plain str, not the enum member: rows of plain values are left alone by the
        # garbage collector (a tuple holding an enum member stays tracked forever)
        label = purpose.value  # shared by every row; str() would copy it per order
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
            tape.append((taker_is_buy, fill.price_ticks, qty))
            # positional: this is the per-fill hot path (Recorder.trade's parameter order)
            record(
                step,
                time,
                fill.price,
                qty,
                aggressor,
                buyer,
                seller,
                venue_name,
                instrument_name,
                label,
                fill.maker_order_id,
                fill.taker_order_id,
            )
            traded += qty
        self.step_volume += traded
        self.volume += traded
        self.fills += len(fills)
        self.last_price_ticks = fills[-1].price_ticks

    def _settle_other(
        self,
        venue_name: str,
        instrument: Instrument,
        fills: Sequence[Fill],
        taker: Account,
        taker_is_buy: bool,
        purpose: TradePurpose,
    ) -> None:
        """`settle_fills` for a book on an instrument other than the underlying.

        Such fills move that instrument's positions and cash exactly and are written to the
        ``trades`` table, but they are not the underlying's tape, last price or volume.
        """
        traders = self.traders
        aggressor = "buy" if taker_is_buy else "sell"
        sign = 1 if taker_is_buy else -1
        for fill in fills:
            maker = traders[fill.maker_owner]  # type: ignore[index]
            qty = fill.qty
            notional = fill.price_ticks * qty * sign
            taker.cash_ticks -= notional
            maker.cash_ticks += notional
            add_position(taker, instrument, sign * qty)
            add_position(maker, instrument, -sign * qty)
            buyer, seller = (taker, maker) if taker_is_buy else (maker, taker)
            self.recorder.trade(
                self.step,
                self._time,
                fill.price,
                qty,
                aggressor,
                buyer.unique_id,
                seller.unique_id,
                venue_name,
                instrument=instrument.name,
                purpose=str(purpose),
                maker_order_id=fill.maker_order_id,
                taker_order_id=fill.taker_order_id,
            )
        self.fills += len(fills)

    def settle_dealer(self, trader: Account, venue: Venue, price_ticks: int, qty: int) -> None:
        """Settle a trade in which ``venue`` itself is ``trader``'s counterparty.

        ``qty`` lots (signed: > 0 buys) of ``venue``'s instrument at ``price_ticks``. Not
        written to the ``trades`` table (a dealer venue, such as the hedge venue, keeps its
        own counts).
        """
        settle_dealer(trader, venue, price_ticks, qty)

    def settle_swap(
        self,
        trader: Account,
        venue: Venue,
        base_qty: int,
        quote_ticks: int,
        price: float,
        purpose: TradePurpose,
    ) -> None:
        """Settle an AMM swap between ``trader`` and the pool ``venue``, and write its trade.

        ``base_qty`` lots (signed: > 0 the trader buys) of the underlying against
        ``quote_ticks`` cash ticks (unsigned, the fee included): both move between the trader
        and the venue's own account exactly. One ``trades`` row at the average ``price``
        (price units) with the venue's name, the trader's side as aggressor, the pool as
        `abm.market.amm.venue.POOL_ACCOUNT_ID` and no order ids. Not the book's tape, last
        price or volume.
        """
        qty = abs(base_qty)
        buying = base_qty > 0
        notional = quote_ticks if buying else -quote_ticks
        trader.cash_ticks -= notional
        trader.inventory += base_qty
        venue.cash_ticks += notional
        venue.position -= base_qty
        trader_id = trader.unique_id
        self.recorder.trade(
            self.step,
            self._time,
            price,
            qty,
            "buy" if buying else "sell",
            trader_id if buying else POOL_ACCOUNT_ID,
            POOL_ACCOUNT_ID if buying else trader_id,
            venue.name,
            venue.instrument.name,
            purpose.value,
            None,
            None,
        )
        self.fills += 1

    def interdealer(self, seller: Account, buyer: Account, price_ticks: int, qty: int) -> None:
        """Settle a bilateral trade of the underlying between two dealers outside the book.

        It is written like a book fill (the seller is the aggressor: it passes inventory on)
        with ``venue="interdealer"``, purpose ``interdealer`` and no order ids, and settled with
        the same exact accounting. It is not on the tape.
        """
        notional = price_ticks * qty
        seller.cash_ticks += notional
        seller.inventory -= qty
        buyer.cash_ticks -= notional
        buyer.inventory += qty
        book = self._book().book
        self.recorder.trade(
            self.step,
            self._time,
            book.to_price(price_ticks),
            qty,
            "sell",
            buyer.unique_id,
            seller.unique_id,
            INTERDEALER,
            instrument=self._book().instrument.name,
            purpose=str(TradePurpose.INTERDEALER),
            maker_order_id=None,
            taker_order_id=None,
        )
        self.fills += 1
        self.interdealer_volume += qty


def settle_dealer(trader: Account, venue: Venue, price_ticks: int, qty: int) -> None:
    """Settle ``trader``'s trade of ``qty`` lots (> 0 buys) at ``price_ticks`` against ``venue``.

    Moves ``price_ticks * qty`` cash ticks and ``qty`` lots of ``venue``'s instrument between
    the two, conserved exactly. The settlement of `Exchange.settle_dealer`, as a function so
    that a dealer venue built without an exchange (in unit tests) settles the same way.
    """
    notional = price_ticks * qty
    trader.cash_ticks -= notional
    instrument = venue.instrument
    add_position(trader, instrument, qty)
    venue.cash_ticks += notional
    if instrument.held:  # the venue's side of a held instrument is in its own holdings
        add_position(venue, instrument, -qty)
    else:
        venue.position -= qty
