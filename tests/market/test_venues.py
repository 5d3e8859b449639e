"""Venues and instruments as parts: the registry, the exchange's settlement, a new venue.

Settlement is checked on hand-made accounts (cash in ticks, a position per instrument), so
every tick and lot that moves is known; the registry tests build a whole model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import abm.model
from abm.market.book_venue import BookVenue
from abm.market.exchange import Exchange, settle_dealer
from abm.market.hedge import HedgeInstrumentSpec, HedgeVenue
from abm.market.orderbook import OrderBook, OrderResult
from abm.market.venue import (
    HEDGE,
    UNDERLYING,
    Instrument,
    PlainVenue,
    VenueContext,
    add_position,
    position_of,
)
from abm.market.venues import SCENARIO_VENUES, VENUE_KINDS, scenario_venues
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.results.recorder import Recorder
from abm.scenario.schema import Scenario

IDLE = {"kind": "bernoulli", "rate": 0.0}


@dataclass
class _Account:
    """An account as settlement sees it (`abm.market.venue.Account`)."""

    unique_id: int
    cash_ticks: int = 0
    inventory: int = 0
    hedge: int = 0
    holdings: dict[str, int] = field(default_factory=dict)

    def order_released(self, result: OrderResult) -> None:
        """Not used: no halts here."""


def _scenario(**changes: Any) -> Scenario:
    return Scenario.from_dict(
        {
            "name": "venues",
            "seed": 3,
            "steps": 20,
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.1},
            "agents": {"a": {"kind": "noise", "count": 2, "arrival": IDLE}},
            **changes,
        }
    )


def _exchange_with_book(instrument: Instrument) -> tuple[Exchange[_Account], BookVenue]:
    exchange: Exchange[_Account] = Exchange(Recorder())
    venue = BookVenue("book", OrderBook(tick_size=0.01), exchange, instrument=instrument)
    exchange.attach_book(venue)
    return exchange, venue


# ----- the registry ----------------------------------------------------------------------------


def test_venue_registry_builds_book_and_hedge_in_order() -> None:
    """A run's venues are SCENARIO_VENUES: the book then the hedge venue, on their instruments."""
    model = MarketModel(_scenario())
    assert [name for name, _ in SCENARIO_VENUES] == list(model.exchange.venues) == ["book", "hedge"]
    assert isinstance(model.exchange.venues["book"], BookVenue)
    assert isinstance(model.exchange.venues["hedge"], HedgeVenue)
    assert model.book_venue.instrument is UNDERLYING
    assert model.hedge_venue.instrument is HEDGE
    model.release()


def test_venue_registry_book_owns_the_circuit_breaker() -> None:
    """The scenario's circuit breaker is the book venue's; without one the book has none."""
    breaker = {"fall_pct": 5.0, "window_steps": 10, "halt_steps": 2}
    with_breaker = MarketModel(_scenario(circuit_breaker=breaker))
    without = MarketModel(_scenario())
    assert with_breaker.book_venue.breaker is not None
    assert with_breaker.book_venue.breaker.spec.fall_pct == 5.0
    assert without.book_venue.breaker is None
    with_breaker.release()
    without.release()


@dataclass
class _Pool(PlainVenue):
    """A toy dealer venue: opens each step at the fundamental, trades the hedge instrument."""

    name: str
    instrument: Instrument = HEDGE
    cash_ticks: int = 0
    position: int = 0
    holdings: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    price_ticks: int = 0

    def open_step(self, step: int, fundamental: float) -> None:
        self.opened += 1
        self.price_ticks = round(fundamental / 0.01)

    def open_trading(self, step: int) -> None:
        """Nothing to do."""


def test_venue_registry_new_kind_is_built_opened_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A venue kind added by registry entries alone is built, opened each step, and counted."""
    pools: list[_Pool] = []

    def build_pool(name: str, context: VenueContext) -> _Pool:
        pools.append(pool := _Pool(name))
        return pool

    monkeypatch.setattr(abm.model, "VENUE_KINDS", {**VENUE_KINDS, "pool": build_pool})
    monkeypatch.setattr(abm.model, "SCENARIO_VENUES", (*SCENARIO_VENUES, ("amm", "pool")))
    model = MarketModel(_scenario())
    (pool,) = pools
    assert model.exchange.venues["amm"] is pool
    trader = next(iter(model.exchange.traders.values()))
    cash, hedge = model.totals()[0], model.hedge_totals()
    model.exchange.settle_dealer(trader, pool, pool.price_ticks, 3)
    assert (model.totals()[0], model.hedge_totals()) == (cash, hedge)
    for _ in range(4):
        model.step()
    assert pool.opened == 5  # at construction (step 0) and steps 1..4
    model.release()


SHARES = Instrument.holding("shares.clock")


@dataclass
class _Clocked(_Pool):
    """A toy venue with its own clock and a held instrument (its shares, worth 2.5 each).

    It trades its shares as a counterparty, settles at the last step of each block of 3
    steps, and writes one row per step into ``rows``.
    """

    instrument: Instrument = SHARES
    closed: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def close_trading(self, step: int) -> None:
        if step % 3 == 0:
            self.closed.append(step)

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        return 2.5 * holdings.get(SHARES.name, 0)

    def record(self, step: int) -> None:
        self.rows.append(step)


def test_scenario_venues_adds_a_venue_for_each_present_section() -> None:
    """An optional venue is listed (after the fixed ones) only when its section is not None."""
    scenario = _scenario()
    optional = {"network": ("links", "pool"), "circuit_breaker": ("halts", "pool")}
    assert scenario_venues(scenario, optional=optional) == SCENARIO_VENUES
    breaker = _scenario(circuit_breaker={"fall_pct": 5.0, "window_steps": 10, "halt_steps": 2})
    assert scenario_venues(breaker, optional=optional) == (*SCENARIO_VENUES, ("halts", "pool"))


def test_venue_with_a_clock_and_held_instrument_is_closed_recorded_and_valued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """close_trading and record run every step; held shares count in equity and sum to zero."""
    built: list[_Clocked] = []

    def build(name: str, context: VenueContext) -> _Clocked:
        built.append(venue := _Clocked(name))
        return venue

    monkeypatch.setattr(abm.model, "VENUE_KINDS", {**VENUE_KINDS, "clocked": build})
    monkeypatch.setattr(abm.model, "SCENARIO_VENUES", (*SCENARIO_VENUES, ("clock", "clocked")))
    model = MarketModel(_scenario())
    (venue,) = built
    trader = next(iter(model.exchange.traders.values()))
    mark, hedge_mark = model.mark_price(), model.hedge_price
    before = trader.equity(mark=mark, hedge_mark=hedge_mark)
    cash = model.totals()[0]
    model.exchange.settle_dealer(trader, venue, 250, 4)  # buys 4 shares at 2.50
    assert trader.holdings == {SHARES.name: 4} and venue.holdings == {SHARES.name: -4}
    assert model.holdings_totals() == {SHARES.name: 0}
    assert model.totals()[0] == cash
    # paid 10.00 for shares worth 10.00: equity unchanged, to float rounding of the cash
    assert trader.equity(mark=mark, hedge_mark=hedge_mark) == pytest.approx(before, abs=1e-9)
    for _ in range(7):
        model.step()
    assert venue.closed == [3, 6]
    assert venue.rows == list(range(8))  # step 0 at construction, then every step
    model.release()


def test_held_instrument_positions_move_in_holdings_only() -> None:
    """A held instrument's position is account.holdings[name]; attribute positions stay put."""
    account = _Account(1, inventory=5)
    assert position_of(account, SHARES) == 0
    add_position(account, SHARES, 3)
    add_position(account, SHARES, -1)
    add_position(account, UNDERLYING, -2)
    assert (account.holdings, account.inventory) == ({SHARES.name: 2}, 3)
    assert (position_of(account, SHARES), position_of(account, UNDERLYING)) == (2, 3)


# ----- settlement ------------------------------------------------------------------------------


def test_exchange_settle_dealer_conserves_cash_and_position() -> None:
    """A dealer trade moves price_ticks * qty cash ticks and qty lots, both summing to zero."""
    trader, venue = _Account(1), _Pool("pool")
    settle_dealer(trader, venue, 10_005, 3)
    settle_dealer(trader, venue, 9_990, -5)
    assert (trader.cash_ticks, trader.hedge) == (-10_005 * 3 + 9_990 * 5, -2)
    assert (trader.cash_ticks + venue.cash_ticks, trader.hedge + venue.position) == (0, 0)


def test_exchange_book_on_another_instrument_moves_that_position() -> None:
    """A book trading the hedge instrument moves ``hedge``, not ``inventory``, exactly."""
    exchange, venue = _exchange_with_book(HEDGE)
    maker, taker = _Account(1), _Account(2)
    for account in (maker, taker):
        exchange.register(account)
    rest = venue.limit(maker, False, 10_010, 4, purpose=TradePurpose.QUOTE)
    hit = venue.market(taker, True, 3, purpose=TradePurpose.HEDGE)
    assert (taker.cash_ticks, taker.hedge, taker.inventory) == (-30_030, 3, 0)
    assert (maker.cash_ticks, maker.hedge, maker.inventory) == (30_030, -3, 0)
    assert exchange.tape == [] and exchange.volume == 0  # the underlying's tape only
    row = exchange.recorder.table("trades").iloc[0]
    assert (row["instrument"], row["venue"], row["purpose"]) == ("hedge", "book", "hedge")
    assert (row["maker_order_id"], row["taker_order_id"]) == (rest.order_id, hit.order_id)


def test_exchange_attach_rejects_a_second_venue_of_a_name() -> None:
    """Two venues cannot share a name: trades are labelled by it."""
    exchange, venue = _exchange_with_book(UNDERLYING)
    with pytest.raises(ValueError, match="'book' is already attached"):
        exchange.attach(venue)


def test_exchange_order_entry_without_a_book_venue_raises() -> None:
    """The exchange's order entry needs a book venue; without one it says so."""
    exchange: Exchange[_Account] = Exchange(Recorder())
    with pytest.raises(RuntimeError, match="no book venue"):
        exchange.market(_Account(1), True, 1, purpose=TradePurpose.TAKER)


def test_hedge_venue_opens_each_step_at_the_fundamental() -> None:
    """open_step draws the step's hedge price from the fundamental (no basis: equal)."""
    venue = HedgeVenue(HedgeInstrumentSpec(), 0.01, np.random.default_rng(0))
    venue.open_step(7, 101.25)
    assert venue.price == 101.25


def test_exchange_book_on_a_held_instrument_moves_holdings_exactly() -> None:
    """A book on a held instrument (an option series) moves holdings[name] and cash only."""
    series = Instrument.holding("call.100")
    exchange, venue = _exchange_with_book(series)
    maker, taker = _Account(1), _Account(2)
    for account in (maker, taker):
        exchange.register(account)
    venue.limit(maker, True, 310, 5, purpose=TradePurpose.QUOTE)
    venue.market(taker, False, 2, purpose=TradePurpose.TAKER)
    assert (maker.holdings, taker.holdings) == ({"call.100": 2}, {"call.100": -2})
    assert (maker.cash_ticks, taker.cash_ticks) == (-620, 620)
    assert maker.inventory == taker.inventory == 0 and exchange.volume == 0
    row = exchange.recorder.table("trades").iloc[0]
    assert (row["instrument"], row["qty"], row["price"]) == ("call.100", 2, 3.10)
