"""Option market makers: quote every live option series from a model, hedge delta on the book.

Each step (an executor: after the book's market makers, before the takers), an
`OptionMarketMaker`

1. reads the spot (the book's mid; `abm.market.options.venue.OptionsVenue.spot`) and feeds it
   to its volatility estimate (`abm.agents.option_pnl.OptionPricer`);
2. prices every live series and sums its positions' Greeks;
3. **hedges delta on the spot book**: the target spot inventory is minus its options' delta
   (rounded to lots); by its ``hedge.rule`` (``full`` every step, ``band`` when the net delta
   exceeds ``band`` lots, ``time`` every ``every`` steps, ``none`` never) it sends an
   immediate-or-cancel limit (``max_slippage_ticks`` beyond the mid; null: a market order)
   at the book venue for the whole difference, purpose ``hedge``, noting the spread and
   impact it paid (each fill's distance from the mid when the order was sent);
4. quotes each live series a bid and an ask around its model price, a half spread of
   ``half_spread_ticks`` option ticks times ``1 + widen * usage`` (usage: the larger of
   |gamma| / gamma_limit and |vega| / vega_limit), rounded outward to the option tick; at a
   limit it drops the side that would add to it (a bid adds long gamma and vega, an ask
   short), and a bid below one option tick. Quotes are post only: a bid that would reach the
   best ask rests one option tick below it, an ask one tick above the best bid (dealers never
   take each other's quotes priced off a spot that has moved since). A side is replaced only
   when its price changes or it has traded away.

At each record (`BuiltGroup.on_record`) it writes its ``greeks`` row: net delta, its options'
gamma, vega and theta, and the step's P&L attribution (`abm.agents.option_pnl`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.option_pnl import BookGreeks, OptionPricer, PnLAttribution, SeriesGreeks
from abm.market.options.venue import OptionsVenue
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    from abm.market.options.series import OptionSeries
    from abm.scenario.option_groups import OptionMarketMakerGroup

_EPS = 1e-9


def options_venue(market: Market) -> OptionsVenue:
    """The market's options venue.

    Raises:
        TypeError: If the market has no options venue (the scenario has no ``options``).
    """
    venue = market.exchange.venues.get("options")
    if not isinstance(venue, OptionsVenue):
        raise TypeError("option agents need the options venue: the scenario has no options")
    return venue


class OptionMarketMaker(Trader):
    """Quotes every live series and delta hedges on the book (module docstring)."""

    kind = "option_market_maker"

    def __init__(self, market: Market, group: str, spec: OptionMarketMakerGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.venue = options_venue(market)
        self.pricer = OptionPricer(spec.volatility, self.venue.rate, market.dt)
        self.attribution = PnLAttribution(market.dt)
        self.hedge_cost = 0.0  # spread and impact paid on hedges since the last record
        self.hedge_volume = 0  # lots traded to hedge, run total
        self.hedges = 0  # hedge orders sent, run total
        # series name -> [bid id, bid ticks, ask id, ask ticks] of the resting quotes
        self._quotes: dict[str, list[int | None]] = {}
        self.last_book: BookGreeks | None = None

    # ----- the step -----------------------------------------------------------------

    def step(self) -> None:
        """One step: observe, price, hedge, quote (module docstring)."""
        market = self.market
        venue = self.venue
        step = market.step_index
        spot = venue.spot()
        self.pricer.observe(spot)
        live = venue.live_series(step)
        for name in [n for n in self._quotes if venue.books[n].expired]:
            del self._quotes[name]
        if live:
            greeks = self.pricer.greeks(live, spot, self._taus(live, step))
            book = BookGreeks.of(live, self._positions(live), greeks)
        else:
            greeks, book = None, BookGreeks.of([], np.zeros(0), _empty_greeks())
        self._hedge(step, book.delta)
        if greeks is not None:
            self._quote(live, greeks, book)

    def _taus(self, live: list[OptionSeries], step: int) -> np.ndarray:
        venue = self.venue
        return np.array([venue.time_to_expiry(s, step) for s in live])

    def _positions(self, live: list[OptionSeries]) -> np.ndarray:
        holdings = self.holdings
        return np.array([holdings.get(s.name, 0) for s in live], dtype=np.float64)

    def _hedge(self, step: int, options_delta: float) -> None:
        rule = self.spec.hedge
        if rule.rule == "none":
            return
        target = -round(options_delta)
        diff = target - self.inventory
        if not diff:
            return
        if rule.rule == "band" and abs(self.inventory + options_delta) <= rule.band + _EPS:
            return
        if rule.rule == "time" and step % rule.every:
            return
        is_buy = diff > 0
        book_venue = self.market.book_venue
        book = book_venue.book
        bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
        if bid is not None and ask is not None:
            mid_ticks = 0.5 * (bid + ask)
        else:
            mid_ticks = self.venue.spot() / self.market.tick_size
        slippage = rule.max_slippage_ticks
        if slippage is None:
            result = book_venue.market(self, is_buy, abs(diff), purpose=TradePurpose.HEDGE)
        else:
            limit = (
                math.floor(mid_ticks + slippage)
                if is_buy
                else max(1, math.ceil(mid_ticks - slippage))
            )
            result = book_venue.limit(
                self, is_buy, limit, abs(diff), purpose=TradePurpose.HEDGE, ioc=True
            )
        self.hedges += 1
        sign = 1.0 if is_buy else -1.0
        tick = self.market.tick_size
        for fill in result.fills:
            self.hedge_volume += fill.qty
            self.hedge_cost += sign * (fill.price_ticks - mid_ticks) * fill.qty * tick

    def _quote(self, live: list[OptionSeries], greeks: SeriesGreeks, book: BookGreeks) -> None:
        spec = self.spec
        venue = self.venue
        tick = self.market.tick_size
        grid = venue.price_step_ticks
        option_tick = grid * tick
        usage = 0.0
        if spec.gamma_limit is not None:
            usage = max(usage, abs(book.gamma) / spec.gamma_limit)
        if spec.vega_limit is not None:
            usage = max(usage, abs(book.vega) / spec.vega_limit)
        half = spec.half_spread_ticks * option_tick * (1.0 + spec.widen * usage)
        long_full = (spec.gamma_limit is not None and book.gamma >= spec.gamma_limit) or (
            spec.vega_limit is not None and book.vega >= spec.vega_limit
        )
        short_full = (spec.gamma_limit is not None and book.gamma <= -spec.gamma_limit) or (
            spec.vega_limit is not None and book.vega <= -spec.vega_limit
        )
        for series, price in zip(live, greeks.price, strict=True):
            bid_t = ask_t = None
            if math.isfinite(price):
                if not long_full:
                    bid_t = math.floor((price - half) / option_tick + _EPS) * grid
                    if bid_t <= 0:
                        bid_t = None
                if not short_full:
                    ask_t = math.ceil((price + half) / option_tick - _EPS) * grid
            self._place(series, bid_t, ask_t)

    def _place(self, series: OptionSeries, bid_t: int | None, ask_t: int | None) -> None:
        book_venue = self.venue.books[series.name]
        book = book_venue.book
        state = self._quotes.setdefault(series.name, [None, None, None, None])
        size = self.spec.quote_size
        grid = self.venue.price_step_ticks
        wanted = ((0, bid_t), (2, ask_t))
        for side, want in wanted:  # stale quotes leave first: never cross its own
            order_id, price_t = state[side], state[side + 1]
            live = order_id is not None and order_id in book
            if live and price_t == want:
                continue
            if live:
                book_venue.cancel(cast(int, order_id))
            state[side] = state[side + 1] = None
        for side, want in wanted:
            if want is None or state[side] is not None:
                continue
            # post only: a quote never takes another dealer's (priced off a spot that has
            # moved since): a bid stays below the best ask, an ask above the best bid
            if side == 0:
                best_ask = book.best_ask_ticks()
                if best_ask is not None and want >= best_ask:
                    want = best_ask - grid
                if want <= 0:
                    continue
            else:
                best_bid = book.best_bid_ticks()
                if best_bid is not None and want <= best_bid:
                    want = best_bid + grid
            result = book_venue.limit(self, side == 0, want, size, purpose=TradePurpose.QUOTE)
            if result.resting_qty:
                state[side], state[side + 1] = result.order_id, want

    # ----- the record ---------------------------------------------------------------

    def book_greeks(self, spot: float, step: int) -> tuple[BookGreeks, dict[str, float]]:
        """The Greeks of the positions held now at ``spot``, and each live series' volatility."""
        live = self.venue.live_series(step)
        if not live:
            return BookGreeks.of([], np.zeros(0), _empty_greeks()), {}
        greeks = self.pricer.greeks(live, spot, self._taus(live, step))
        vols = {s.name: float(v) for s, v in zip(live, greeks.vol, strict=True)}
        return BookGreeks.of(live, self._positions(live), greeks), vols

    def record_greeks(self) -> None:
        """Write this step's ``greeks`` row (Greeks now, the step's attribution)."""
        market = self.market
        step = market.step_index
        mark = market.mark_price()
        equity = self.equity(mark=mark, hedge_mark=market.hedge_price)
        book, vols = self.book_greeks(mark, step)
        terms = self.attribution.record(equity, mark, book, self.hedge_cost, vols)
        self.hedge_cost = 0.0
        self.last_book = book
        market.exchange.recorder.greeks(
            step,
            self.unique_id,
            book.delta + self.inventory,
            book.gamma,
            book.vega,
            book.theta,
            terms.theta,
            terms.gamma,
            terms.vega,
            terms.hedging,
            terms.residual,
        )


def _empty_greeks() -> SeriesGreeks:
    empty = np.zeros(0)
    return SeriesGreeks(empty, empty, empty, empty, empty, empty)


def build_option_market_makers(
    market: Market, name: str, spec: OptionMarketMakerGroup, rng: np.random.Generator
) -> BuiltGroup:
    """An ``option_market_maker`` group (no draws from ``rng``); records ``greeks`` rows."""
    makers = [OptionMarketMaker(market, name, spec) for _ in range(spec.count)]

    def record() -> None:
        for maker in makers:
            maker.record_greeks()

    return BuiltGroup(makers, on_record=record)


GROUP_KIND = GroupKind("option_market_maker", GroupRole.EXECUTOR, build_option_market_makers)
"""The ``option_market_maker`` group kind (`abm.agents.registry`)."""
