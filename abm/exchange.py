"""The exchange: the one place where orders reach the book and fills are settled.

Every order of every trader goes through :class:`Exchange`, which forwards it to the
:class:`~abm.orderbook.OrderBook`, settles both sides of each fill on the traders'
accounts in the same call (cash in integer tick units, inventory in lots, so that
both are conserved exactly), appends the fill to the run's trade tape, and keeps the
counters that ``summary.json`` reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from abm.orderbook import Fill, OrderBook, OrderResult

if TYPE_CHECKING:
    from abm.agents.base import Trader
    from abm.record import Recorder


class Exchange:
    """Order entry, settlement and the trade tape for one instrument.

    Args:
        book: The limit order book.
        recorder: Where each fill is written (one ``trades`` row per fill).

    Attributes:
        traders: Trader by ``unique_id`` (the book's order owners are these ids).
        tape: ``(aggressor_is_buy, price_ticks, qty)`` of every fill so far, in order;
            observers (e.g. a Glosten-Milgrom market maker) keep a cursor into it.
        last_price_ticks: Price of the most recent fill, or None before the first.
        step_volume: Lots traded in the current step (reset by :meth:`start_step`).
        orders, cancels, fills, volume: Run totals for the summary (fills include
            inter-dealer trades; ``volume`` is book volume only).
        interdealer_volume: Lots passed between dealers outside the book.
    """

    def __init__(self, book: OrderBook, recorder: Recorder) -> None:
        self.book = book
        self.recorder = recorder
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
        """Submit a limit order for ``trader`` and settle any fills."""
        self.orders += 1
        result = self.book.limit_ticks(
            trader.unique_id, "buy" if is_buy else "sell", price_ticks, qty, ioc=ioc
        )
        if result.fills:
            self._settle(result.fills, trader, is_buy)
        return result

    def market(self, trader: Trader, is_buy: bool, qty: int) -> OrderResult:
        """Submit a market order for ``trader`` and settle any fills."""
        self.orders += 1
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

    # ----- settlement -------------------------------------------------------------

    def _settle(self, fills: Sequence[Fill], taker: Trader, taker_is_buy: bool) -> None:
        """Move cash and inventory for both sides of every fill, and tape it."""
        traders = self.traders
        record = self.recorder.trade
        aggressor = "buy" if taker_is_buy else "sell"
        step, time = self._step, self._time
        taker_id = taker.unique_id
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
            self.step_volume += qty
            self.volume += qty
            self.fills += 1
        self.last_price_ticks = fills[-1].price_ticks
