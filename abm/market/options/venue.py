"""`OptionsVenue`: the option series of a scenario's ``options:`` section, as one venue.

The exchange knows it as ``"options"`` (`abm.market.venues.OPTIONAL_VENUES`). It holds one
`abm.market.options.series.SeriesBook` per series (type x strike x expiry, in that nesting
order of the spec's lists), where traders send their option orders; the venue itself trades
nothing (its cash, position and holdings stay 0 and empty).

- **Settlement** (`close_trading`, at the close of each expiry step, after every trader has
  acted): the settlement price is the fundamental value (``settlement: fundamental``) or the
  book's mid (``mid``: the last trade, then the fundamental, when one side is empty); the
  payoff per contract is rounded once to whole ticks of the scenario's ``tick_size``; every
  holder of ``q`` contracts receives ``q * payoff_ticks`` ticks of cash (a short pays), its
  position is closed, and the series' resting orders are cancelled. Positions sum to zero, so
  the cash that moves sums to zero exactly.
- **Valuation** (`value_holdings`): a position is worth its size times the mid of the series'
  book; without a two-sided quote, the Black-Scholes price at ``mark_volatility`` (or the
  discounted intrinsic value without one), the spot being the book's mid (the last trade,
  then the fundamental, when one side is empty). An expired series is worth nothing (its
  positions are closed).
- **Record** (`record`): every ``record_stride`` steps (and at each expiry step) one
  ``options`` row per series not expired before that step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from abm.market.options.series import OptionSeries, SeriesBook
from abm.market.orderbook import OrderBook
from abm.market.venue import UNDERLYING, VenueContext

if TYPE_CHECKING:
    from abm.market.book_venue import BookVenue
    from abm.market.exchange import Exchange
    from abm.market.options.spec import OptionsSpec
    from abm.results.recorder import Recorder


def _ndtr(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def bs_price_scalar(
    spot: float, strike: float, tau: float, rate: float, vol: float, is_call: bool
) -> float:
    """Black-Scholes (1973) price of one European option, scalar (no dividend).

    ``tau`` and ``vol`` are in the same time unit; ``tau <= 0`` or ``vol <= 0`` gives the
    discounted intrinsic value (the price's limit).
    """
    discount = math.exp(-rate * max(tau, 0.0))
    if tau <= 0.0 or vol <= 0.0:
        gain = spot - strike * discount if is_call else strike * discount - spot
        return gain if gain > 0.0 else 0.0
    total = vol * math.sqrt(tau)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * tau) / total
    d2 = d1 - total
    if is_call:
        return spot * _ndtr(d1) - strike * discount * _ndtr(d2)
    return strike * discount * _ndtr(-d2) - spot * _ndtr(-d1)


class OptionsVenue:
    """The option series books, their settlement, valuation and record (module docstring).

    Args:
        name: The venue's name (``"options"``).
        spec: The scenario's ``options`` section.
        exchange: The run's exchange (its book venue gives the spot; its traders are paid at
            settlement).
        tick_size: The scenario's tick (cash and book prices are in these ticks).
        dt: Model time per step.

    Attributes:
        series: Every series, in listing order.
        books: The series' book venues by series name.
        settlements: ``(step, series name, settlement price, payoff ticks)`` of each series
            settled so far.
    """

    def __init__(
        self, name: str, spec: OptionsSpec, exchange: Exchange, tick_size: float, dt: float
    ) -> None:
        self.name = name
        self.instrument = UNDERLYING  # trades none itself: cash, position and holdings stay 0
        self.cash_ticks = 0
        self.position = 0
        self.holdings: dict[str, int] = {}
        self.spec = spec
        self.tick_size = tick_size
        self.dt = dt
        self.rate = spec.rate
        option_tick = spec.tick_size if spec.tick_size is not None else tick_size
        self.price_step_ticks = max(1, round(option_tick / tick_size))
        self._exchange = exchange
        self.series: list[OptionSeries] = [
            OptionSeries.of(kind == "call", strike, expiry)
            for kind in spec.types
            for strike in spec.strikes
            for expiry in spec.expiries
        ]
        self.books: dict[str, SeriesBook] = {
            s.name: SeriesBook(s, OrderBook(tick_size=tick_size), exchange, self.price_step_ticks)
            for s in self.series
        }
        self.settlements: list[tuple[int, str, float, int]] = []
        self.fundamental = math.nan
        self.step = 0
        self._expiring = {expiry for expiry in spec.expiries}

    # ----- what traders read ------------------------------------------------------

    @property
    def spot_venue(self) -> BookVenue:
        """The book venue of the underlying."""
        book = self._exchange.book_venue
        assert book is not None  # attached before any optional venue is built
        return book

    def spot(self) -> float:
        """The underlying's price now: the book's mid, else the last trade, else the fundamental."""
        book = self.spot_venue.book
        bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
        if bid is not None and ask is not None:
            return (bid + ask) * 0.5 * self.tick_size
        last = self._exchange.last_price_ticks
        return last * self.tick_size if last is not None else self.fundamental

    def live_series(self, step: int) -> list[OptionSeries]:
        """The series that trade at ``step`` (expiry step after it), in listing order."""
        return [s for s in self.series if s.expiry_step > step]

    def time_to_expiry(self, series: OptionSeries, step: int) -> float:
        """Model time left at ``step`` (0 at and after the expiry step)."""
        return max(series.expiry_step - step, 0) * self.dt

    def model_price(self, series: OptionSeries, spot: float, step: int) -> float:
        """The fallback mark of a series: Black-Scholes at ``mark_volatility``, or intrinsic."""
        vol = self.spec.mark_volatility or 0.0
        tau = self.time_to_expiry(series, step)
        return bs_price_scalar(spot, series.strike, tau, self.rate, vol, series.is_call)

    def mark(self, series: OptionSeries) -> float:
        """The value of one contract now (price units): see the module docstring."""
        book = self.books[series.name]
        if book.expired:
            return 0.0
        mid = book.mid_ticks()
        if mid is not None:
            return mid * self.tick_size
        return self.model_price(series, self.spot(), self.step)

    # ----- the Venue hooks ----------------------------------------------------------

    def open_step(self, step: int, fundamental: float) -> None:
        """Note the step and the fundamental (settlement and the fallback spot read them)."""
        self.step = step
        self.fundamental = fundamental
        for book in self.books.values():
            book.open_step(step, fundamental)
            if len(book.resting_ids) > 4 * len(book.book) + 64:
                book.prune()

    def open_trading(self, step: int) -> None:
        """Nothing to reopen: the series books have no circuit breaker."""

    def close_trading(self, step: int) -> None:
        """Settle every series whose expiry step is ``step`` (module docstring)."""
        if step not in self._expiring:
            return
        price = self.settlement_price()
        traders = self._exchange.traders
        for series in self.series:
            if series.expiry_step != step:
                continue
            book = self.books[series.name]
            payoff_ticks = round(series.payoff(price) / self.tick_size)
            name = series.name
            for trader_id in sorted(book.holder_ids):
                account = traders[trader_id]
                qty = account.holdings.pop(name, 0)
                if qty:
                    account.cash_ticks += qty * payoff_ticks
            book.cancel_all()
            book.expired = True
            self.settlements.append((step, name, price, payoff_ticks))

    def settlement_price(self) -> float:
        """The settlement price now: the fundamental, or the spot (``settlement: mid``)."""
        return self.fundamental if self.spec.settlement == "fundamental" else self.spot()

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        """Value of the series positions among ``holdings`` (price units; module docstring)."""
        value = 0.0
        books = self.books
        for name, qty in holdings.items():
            book = books.get(name)
            if book is not None and qty:
                value += qty * self.mark(book.series)
        return value

    def open_interest(self, series: OptionSeries) -> int:
        """Contracts held long (= held short) in ``series`` now."""
        traders = self._exchange.traders
        name = series.name
        total = 0
        for trader_id in self.books[name].holder_ids:
            qty = traders[trader_id].holdings.get(name, 0)
            if qty > 0:
                total += qty
        return total

    def record(self, step: int) -> None:
        """One ``options`` row per series not expired before ``step``, every record stride."""
        expiring = step in self._expiring
        if step % self.spec.record_stride and not expiring:
            return
        rows = [s for s in self.series if s.expiry_step >= step]
        if not rows:
            return
        recorder: Recorder = self._exchange.recorder
        spot = self.spot()
        tick = self.tick_size
        bids, asks, mids = [], [], []
        for series in rows:
            order_book = self.books[series.name].book
            bid, ask = order_book.best_bid_ticks(), order_book.best_ask_ticks()
            bids.append(math.nan if bid is None else bid * tick)
            asks.append(math.nan if ask is None else ask * tick)
            mids.append(math.nan if bid is None or ask is None else (bid + ask) * 0.5 * tick)
        ivs = self.implied_vols(rows, np.asarray(mids), spot, step)
        for series, bid_p, ask_p, mid, iv in zip(rows, bids, asks, mids, ivs, strict=True):
            book = self.books[series.name]
            recorder.option(
                step,
                series.name,
                series.type,
                series.strike,
                series.expiry_step,
                bid_p,
                ask_p,
                mid,
                float(iv),
                self.open_interest(series),
                book.take_volume(),
            )

    def implied_vols(
        self, series: list[OptionSeries], prices: np.ndarray, spot: float, step: int
    ) -> np.ndarray:
        """Black-Scholes implied volatilities of ``prices`` at ``spot`` (NaN where none).

        Per sqrt(unit of model time); NaN for a missing price, an expired series, or a price
        outside the no-arbitrage bounds.
        """
        from abm.derivatives.black_scholes import implied_volatility

        tau = np.array([self.time_to_expiry(s, step) for s in series])
        ok = np.isfinite(prices) & (tau > 0.0) & (prices > 0.0) & np.isfinite(spot) & (spot > 0)
        out = np.full(len(series), np.nan)
        if not np.any(ok):
            return out
        strikes = np.array([s.strike for s in series])
        calls = np.array([s.is_call for s in series])
        # a Newton step over a vanishing vega overflows on the way to NaN: no warning for it
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            out[ok] = implied_volatility(
                prices[ok],
                spot,
                strikes[ok],
                tau[ok],
                self.rate,
                0.0,
                calls[ok],
                raise_outside_bounds=False,
            )
        return out


def build_options_venue(name: str, context: VenueContext) -> OptionsVenue:
    """The scenario's options venue (its ``options`` section must be present)."""
    scenario = context.scenario
    spec = scenario.options
    assert spec is not None, "the options venue is built only for a scenario with options"
    return OptionsVenue(name, spec, context.exchange, scenario.tick_size, scenario.dt)  # type: ignore[arg-type]
