"""Venues and instruments as parts: the registry, the exchange's settlement, a new venue.

Settlement is checked on hand-made accounts (cash in ticks, a position per instrument), so
every tick and lot that moves is known; the registry tests build a whole model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import abm.model
from abm.market.book_venue import BookVenue
from abm.market.exchange import Exchange, settle_dealer
from abm.market.hedge import HedgeInstrumentSpec, HedgeVenue
from abm.market.orderbook import OrderBook, OrderResult
from abm.market.venue import HEDGE, UNDERLYING, Instrument, VenueContext
from abm.market.venues import SCENARIO_VENUES, VENUE_KINDS
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
class _Pool:
    """A toy dealer venue: opens each step at the fundamental, trades the hedge instrument."""

    name: str
    instrument: Instrument = HEDGE
    cash_ticks: int = 0
    position: int = 0
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
