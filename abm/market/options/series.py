"""One option series and its order book venue.

A series is a European call or put on the book's underlying with a strike and an expiry
step; its positions are a held instrument (`abm.market.venue.Instrument.holding`) named by
`series_name`. Each series trades in its own `SeriesBook`: a
`abm.market.book_venue.BookVenue` named ``"options"`` (the ``venue`` label of its trades)
whose fills the exchange settles like any book fill (cash in ticks, positions in
``holdings[name]``). The series books are not attached to the exchange one by one: the
`abm.market.options.venue.OptionsVenue` is, and lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from abm.market.book_venue import BookVenue
from abm.market.options.errors import OptionsError
from abm.market.orderbook import OrderBook, OrderResult
from abm.market.venue import Account, Instrument, Settlement

if TYPE_CHECKING:
    from abm.results.events import TradePurpose


def series_name(is_call: bool, strike: float, expiry_step: int) -> str:
    """The instrument name of a series: ``call_100_500`` (type, strike, expiry step)."""
    return f"{'call' if is_call else 'put'}_{strike:g}_{expiry_step}"


@dataclass(frozen=True, slots=True)
class OptionSeries:
    """A European option on one lot of the underlying.

    Attributes:
        name: The instrument name (`series_name`): the ``instrument`` of its trades and its key
            in ``holdings``.
        is_call: True for a call, False for a put.
        strike: Strike price, price units.
        expiry_step: The step at whose close the series is settled; it trades before it.
        instrument: Its held instrument.
    """

    name: str
    is_call: bool
    strike: float
    expiry_step: int
    instrument: Instrument

    @classmethod
    def of(cls, is_call: bool, strike: float, expiry_step: int) -> OptionSeries:
        """The series of that type, strike and expiry (its name and instrument derived)."""
        name = series_name(is_call, strike, expiry_step)
        return cls(name, is_call, float(strike), int(expiry_step), Instrument.holding(name))

    @property
    def type(self) -> str:
        """``"call"`` or ``"put"``."""
        return "call" if self.is_call else "put"

    def payoff(self, price: float) -> float:
        """The payoff at expiry when the underlying settles at ``price`` (price units)."""
        gain = price - self.strike if self.is_call else self.strike - price
        return gain if gain > 0.0 else 0.0


class SeriesBook(BookVenue):
    """The order book venue of one series: a `BookVenue` that also tracks who trades it.

    Order entry is the book venue's (`BookVenue.limit`, ``market``, ``cancel``); on top it
    keeps the ids of every account that has traded the series (the only ones that can hold
    it: settlement and open interest read just these), the lots traded since the last
    `take_volume`, and the ids of orders that rested (cancelled at expiry).

    Args:
        series: The series it trades.
        book: Its order book (on the scenario's tick grid, so that fills settle in whole ticks
            of cash).
        exchange: Where fills are settled.
        price_step_ticks: The option tick in book ticks: every limit price must be a multiple.
    """

    def __init__(
        self, series: OptionSeries, book: OrderBook, exchange: Settlement, price_step_ticks: int
    ) -> None:
        super().__init__("options", book, exchange, None, series.instrument)
        self.series = series
        self.price_step_ticks = price_step_ticks
        self.holder_ids: set[int] = set()
        self.volume = 0  # lots traded since the last take_volume
        self.total_volume = 0
        self.resting_ids: list[int] = []
        self.expired = False

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
        """A limit order for the series (price in book ticks, on the option tick grid).

        Raises:
            OptionsError: If the series has expired or the price is off the option tick grid.
        """
        self._check_open()
        if price_ticks % self.price_step_ticks:
            raise OptionsError(
                f"{self.series.name}: price {price_ticks} ticks is not a multiple of the "
                f"option tick ({self.price_step_ticks} ticks)"
            )
        result = super().limit(trader, is_buy, price_ticks, qty, purpose=purpose, ioc=ioc)
        self._note(trader, result)
        if result.resting_qty:
            self.resting_ids.append(result.order_id)
        return result

    def market(
        self, trader: Account, is_buy: bool, qty: int, *, purpose: TradePurpose
    ) -> OrderResult:
        """A market order for the series.

        Raises:
            OptionsError: If the series has expired.
        """
        self._check_open()
        result = super().market(trader, is_buy, qty, purpose=purpose)
        self._note(trader, result)
        return result

    def _check_open(self) -> None:
        if self.expired:
            raise OptionsError(f"{self.series.name}: the series has expired; it takes no orders")

    def _note(self, trader: Account, result: OrderResult) -> None:
        if not result.fills:
            return
        holders = self.holder_ids
        holders.add(trader.unique_id)
        traded = 0
        for fill in result.fills:
            holders.add(fill.maker_owner)  # type: ignore[arg-type]
            traded += fill.qty
        self.volume += traded
        self.total_volume += traded

    def take_volume(self) -> int:
        """Lots traded since the last call (the ``options`` table's ``volume``), reset to 0."""
        volume, self.volume = self.volume, 0
        return volume

    def cancel_all(self) -> int:
        """Cancel every resting order (at expiry); returns the lots cancelled."""
        cancelled = sum(self.cancel(order_id) for order_id in self.resting_ids)
        self.resting_ids.clear()
        return cancelled

    def prune(self) -> None:
        """Forget ids of orders no longer resting (keeps `resting_ids` short)."""
        book = self.book
        self.resting_ids = [oid for oid in self.resting_ids if oid in book]

    def mid_ticks(self) -> float | None:
        """The mid of the series' book in book ticks, or None unless both sides are quoted."""
        bid, ask = self.book.best_bid_ticks(), self.book.best_ask_ticks()
        if bid is None or ask is None:
            return None
        return 0.5 * (bid + ask)
