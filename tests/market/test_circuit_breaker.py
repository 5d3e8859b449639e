"""Tests for the circuit breaker: its trigger (`abm.market.circuit_breaker`), exchange halts.

Markets are hand-built: idle noise traders (rate 0) serve as accounts whose orders the tests
send through ``model.exchange`` themselves, so every trade and every step is known. The rule
under test is the CME Stop Logic of May 6, 2010 (CFTC/SEC 2010, p. 4), as
`abm.market.circuit_breaker`
states it.
"""

from __future__ import annotations

from typing import Any

import pytest

from abm.agents.base import Trader
from abm.market.circuit_breaker import HALTED_ORDER_ID, CircuitBreaker, CircuitBreakerSpec
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario, ScenarioError

IDLE = {"kind": "bernoulli", "rate": 0.0}
TICK = 0.25


def _spec(**changes: Any) -> CircuitBreakerSpec:
    values: dict[str, Any] = {"fall_pct": 1.0, "window_steps": 10, "halt_steps": 3}
    return CircuitBreakerSpec(**{**values, **changes})


def _model(**breaker: Any) -> MarketModel:
    spec: dict[str, Any] = {"fall_pct": 1.0, "window_steps": 10, "halt_steps": 3}
    spec.update(breaker)
    scenario = Scenario.from_dict(
        {
            "name": "breaker",
            "seed": 5,
            "steps": 1000,
            "tick_size": TICK,
            "mark": "fundamental",
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
            "agents": {
                "a": {"kind": "noise", "count": 1, "arrival": IDLE},
                "b": {"kind": "noise", "count": 1, "arrival": IDLE},
                "c": {"kind": "noise", "count": 1, "arrival": IDLE},
            },
            "circuit_breaker": spec,
        }
    )
    return MarketModel(scenario)


def _trader(model: MarketModel, group: str) -> Trader:
    return next(t for t in model.exchange.traders.values() if t.group == group)


def _ticks(price: float) -> int:
    return round(price / TICK)


def _crash(model: MarketModel) -> None:
    """Rest bids at 100 (5 lots) and 98 (50 lots), an ask at 101; sell 6 lots at market.

    The sale prints at 100 then 98, 2% below the window's high: a 1% breaker trips.
    """
    model.step()
    a, b = _trader(model, "a"), _trader(model, "b")
    exchange = model.exchange
    exchange.limit(a, True, _ticks(100.0), 5, purpose=TradePurpose.TAKER)
    exchange.limit(a, True, _ticks(98.0), 50, purpose=TradePurpose.TAKER)
    exchange.limit(a, False, _ticks(101.0), 50, purpose=TradePurpose.TAKER)
    exchange.market(b, False, 6, purpose=TradePurpose.TAKER)


# ----- the trigger ---------------------------------------------------------------------------


def test_circuit_breaker_trips_at_fall_pct_below_window_high() -> None:
    """A trade exactly fall_pct below the window's high trips it; one tick above does not."""
    breaker = CircuitBreaker(_spec(fall_pct=1.0))
    assert breaker.observe(1, 1000) is None
    assert breaker.observe(2, 991) is None
    assert breaker.observe(3, 990) == 1000


def test_circuit_breaker_halt_lasts_halt_steps_after_the_trigger_step() -> None:
    """A trip at step s halts through step s + halt_steps and counts one halt."""
    breaker = CircuitBreaker(_spec(halt_steps=4))
    breaker.observe(7, 1000)
    breaker.observe(7, 900)
    assert (breaker.halted_until, breaker.halts, breaker.halted_steps) == (11, 1, 5)


def test_circuit_breaker_window_forgets_highs_older_than_window_steps() -> None:
    """A high printed window_steps steps ago no longer counts as the reference."""
    breaker = CircuitBreaker(_spec(window_steps=5))
    breaker.observe(1, 1000)
    breaker.observe(3, 995)
    assert breaker.reference_ticks(5) == 1000
    assert breaker.reference_ticks(6) == 995
    assert breaker.observe(6, 990) is None  # 990 > 995 * 0.99, though 990 <= 1000 * 0.99


def test_circuit_breaker_rising_prints_never_trip() -> None:
    """A buy walking up the book raises the reference; only a fall from it can trip."""
    breaker = CircuitBreaker(_spec())
    assert [breaker.observe(1, p) for p in (1000, 1005, 1010)] == [None, None, None]
    assert breaker.reference_ticks(1) == 1010


def test_circuit_breaker_reopen_makes_the_next_trade_the_reference() -> None:
    """After reopen the pre-halt highs are gone: a trade below them does not trip again."""
    breaker = CircuitBreaker(_spec())
    breaker.observe(1, 1000)
    breaker.observe(2, 980)
    breaker.reopen(6)
    assert breaker.reference_ticks(6) is None
    assert breaker.observe(6, 975) is None


def test_circuit_breaker_reopen_at_an_auction_price_makes_it_the_reference() -> None:
    """After an auction reopening, the auction price is the high a new fall is measured from."""
    breaker = CircuitBreaker(_spec())
    breaker.observe(1, 1000)
    breaker.reopen(6, 950)
    assert breaker.reference_ticks(6) == 950
    assert breaker.observe(7, 945) is None  # 0.5% below 950, not 1%
    assert breaker.observe(7, 940) == 950


@pytest.mark.parametrize(
    ("field", "value"),
    [("fall_pct", 0.0), ("fall_pct", 100.0), ("fall_pct", True), ("halt_steps", 0)],
)
def test_circuit_breaker_spec_rejects_bad_values(field: str, value: Any) -> None:
    """fall_pct lies strictly between 0 and 100, halt_steps is positive, no booleans."""
    with pytest.raises(ValueError, match=field):
        _spec(**{field: value})


def test_circuit_breaker_spec_unknown_on_halt_is_a_scenario_error() -> None:
    """on_halt is queue or reject; anything else names the field."""
    with pytest.raises(ScenarioError, match=r"circuit_breaker\.on_halt"):
        _model(on_halt="pause")


# ----- the exchange during a halt ------------------------------------------------------------


def test_exchange_disabled_breaker_builds_no_breaker() -> None:
    """enabled: false keeps the spec in the scenario but the exchange never halts."""
    model = _model(enabled=False)
    _crash(model)
    assert model.book_venue.breaker is None
    assert not model.book_venue.halted


def test_exchange_trip_halts_and_logs_the_fall() -> None:
    """The halt event's amount is (reference - low) / reference: 100 to 98 is 2%."""
    model = _model()
    _crash(model)
    assert model.book_venue.halted
    events = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).events
    halt = events.loc[events["kind"] == "halt"].iloc[0]
    assert halt["amount"] == pytest.approx(0.02)
    assert halt["until_step"] == 4


def test_exchange_halt_queues_an_order_that_would_trade() -> None:
    """A market order in a halt gets the sentinel id and no fills, and nothing trades."""
    model = _model()
    _crash(model)
    fills = model.exchange.fills
    result = model.exchange.market(_trader(model, "c"), True, 3, purpose=TradePurpose.TAKER)
    assert (result.order_id, result.fills, result.unfilled_qty) == (HALTED_ORDER_ID, (), 0)
    assert model.exchange.fills == fills
    assert model.exchange.queued_orders == 1


def test_exchange_halt_queues_a_crossing_limit_order() -> None:
    """A limit buy at the best ask would trade, so it waits too."""
    model = _model()
    _crash(model)
    result = model.exchange.limit(
        _trader(model, "c"), True, _ticks(101.0), 2, purpose=TradePurpose.TAKER
    )
    assert result.order_id == HALTED_ORDER_ID
    assert model.book.best_ask_ticks() == _ticks(101.0)


def test_exchange_halt_accepts_resting_orders_and_cancels() -> None:
    """A limit that would rest goes into the book during a halt, and can be cancelled."""
    model = _model()
    _crash(model)
    result = model.exchange.limit(
        _trader(model, "c"), True, _ticks(99.0), 4, purpose=TradePurpose.TAKER
    )
    assert result.order_id > 0 and result.resting_qty == 4
    assert model.exchange.cancel(result.order_id) == 4


def test_exchange_reopens_after_halt_steps_releasing_in_arrival_order() -> None:
    """reopening: release: queued orders trade first come first served, then a reopen event."""
    model = _model(reopening="release")
    _crash(model)  # trips at step 1, halted through step 4
    c, b = _trader(model, "c"), _trader(model, "b")
    model.exchange.market(
        c, False, 45, purpose=TradePurpose.TAKER
    )  # arrives first: takes the bid at 98
    model.exchange.market(
        b, False, 10, purpose=TradePurpose.TAKER
    )  # then only 4 lots are left at 98
    model.step()
    model.step()
    model.step()
    assert model.book_venue.halted
    model.step()  # step 5: reopening
    assert not model.book_venue.halted
    result = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={})
    released = result.trades.loc[result.trades["step"] == 5]
    assert released["seller"].tolist() == [c.unique_id, b.unique_id]
    assert released["qty"].tolist() == [45, 4]  # 49 lots left at 98 after the crash
    assert result.events["kind"].tolist() == ["halt", "reopen"]


def test_exchange_released_remainder_of_an_untracking_kind_is_cancelled() -> None:
    """A released limit that would rest is cancelled for a kind that does not track orders."""
    model = _model(halt_steps=1)
    _crash(model)
    c = _trader(model, "c")
    model.exchange.limit(
        c, True, _ticks(101.0), 60, purpose=TradePurpose.TAKER
    )  # crosses now; 50 fill at the reopening
    model.step()
    model.step()
    assert c.inventory == 50
    assert not [o for o in model.book.owner_orders(c.unique_id)]


def test_exchange_reject_mode_drops_orders_that_would_trade() -> None:
    """on_halt: reject reports the whole quantity unfilled and nothing trades at reopening."""
    model = _model(on_halt="reject")
    _crash(model)
    c = _trader(model, "c")
    result = model.exchange.market(c, False, 5, purpose=TradePurpose.TAKER)
    assert (result.order_id, result.unfilled_qty) == (HALTED_ORDER_ID, 5)
    for _ in range(4):
        model.step()
    assert c.inventory == 0
    assert model.exchange.rejected_orders == 1


def test_exchange_halt_conserves_cash_and_inventory() -> None:
    """Queued orders settle through the same exact accounting: totals are unchanged."""
    model = _model()
    _crash(model)
    model.exchange.market(_trader(model, "c"), False, 20, purpose=TradePurpose.TAKER)
    model.exchange.market(_trader(model, "b"), True, 7, purpose=TradePurpose.TAKER)
    for _ in range(5):
        model.step()
    assert model.totals() == model.initial_totals


def test_exchange_release_that_trips_again_queues_the_rest() -> None:
    """reopening: release: an order that trips a new halt leaves the later ones queued."""
    model = _model(window_steps=100, reopening="release")
    _crash(model)
    a, b, c = (_trader(model, g) for g in ("a", "b", "c"))
    model.exchange.market(
        c, False, 44, purpose=TradePurpose.TAKER
    )  # leaves 5 lots at 98 at the reopening
    model.exchange.limit(
        a, True, _ticks(96.0), 10, purpose=TradePurpose.TAKER
    )  # rests during the halt
    model.exchange.market(
        b, False, 10, purpose=TradePurpose.TAKER
    )  # 5 at 98, 5 at 96: 2% below the first print, trips
    model.exchange.market(c, False, 3, purpose=TradePurpose.TAKER)
    for _ in range(4):
        model.step()
    assert model.book_venue.halted
    assert model.book_venue.breaker is not None and model.book_venue.breaker.halts == 2
    assert c.inventory == -44


def _queue_a_sell_wave(model: MarketModel) -> tuple[Trader, Trader, Trader]:
    """The queue of the release re-trip test: 57 lots of sells and a bid at 96 resting."""
    a, b, c = (_trader(model, g) for g in ("a", "b", "c"))
    model.exchange.market(c, False, 44, purpose=TradePurpose.TAKER)
    model.exchange.limit(a, True, _ticks(96.0), 10, purpose=TradePurpose.TAKER)
    model.exchange.market(b, False, 10, purpose=TradePurpose.TAKER)
    model.exchange.market(c, False, 3, purpose=TradePurpose.TAKER)
    return a, b, c


def test_exchange_auction_reopening_does_not_trip_again() -> None:
    """The queue that re-trips a release reopens in one auction: one halt, one price."""
    model = _model(window_steps=100)
    _crash(model)
    _queue_a_sell_wave(model)
    for _ in range(4):
        model.step()
    breaker = model.book_venue.breaker
    assert breaker is not None and breaker.halts == 1 and not model.book_venue.halted
    result = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={})
    reopening = result.trades.loc[result.trades["step"] == 5]
    # bids: 49 at 98, 10 at 96; market sells 57: at 96 all 57 execute (the most lots)
    assert reopening["price"].unique().tolist() == [96.0]
    assert int(reopening["qty"].sum()) == 57
    reopen = result.events.loc[result.events["kind"] == "reopen"].iloc[0]
    assert reopen["price"] == 96.0
    assert breaker.reference_ticks(5) == _ticks(96.0)


def test_exchange_auction_reopening_conserves_cash_and_inventory() -> None:
    """Fills re-priced to the auction price still move the same cash to both sides."""
    model = _model(window_steps=100)
    _crash(model)
    _queue_a_sell_wave(model)
    model.exchange.limit(_trader(model, "b"), True, _ticks(101.0), 5, purpose=TradePurpose.TAKER)
    for _ in range(5):
        model.step()
    assert model.totals() == model.initial_totals


def test_exchange_auction_market_remainder_is_reported_unfilled() -> None:
    """A queued market order larger than the auction can fill is cut, not left resting."""
    model = _model(halt_steps=1)
    _crash(model)
    c = _trader(model, "c")
    model.exchange.market(c, False, 80, purpose=TradePurpose.TAKER)  # only 49 bid lots remain
    model.step()
    model.step()
    assert c.inventory == -49
    assert not model.book.owner_orders(c.unique_id)


# ----- stop logic: the breaker acts before the trade -----------------------------------------


def _sweep(stop_logic: bool) -> tuple[MarketModel, Any]:
    """A print at 100 sets the reference; then a 10-lot market sell meets bids 100 (5), 98 (50)."""
    model = _model(stop_logic=stop_logic)
    model.step()
    a, b = _trader(model, "a"), _trader(model, "b")
    exchange = model.exchange
    exchange.limit(a, True, _ticks(100.0), 6, purpose=TradePurpose.TAKER)
    exchange.limit(a, True, _ticks(98.0), 50, purpose=TradePurpose.TAKER)
    exchange.limit(a, False, _ticks(101.0), 50, purpose=TradePurpose.TAKER)
    exchange.market(b, False, 1, purpose=TradePurpose.TAKER)  # prints 100: the window's high
    return model, exchange.market(b, False, 10, purpose=TradePurpose.TAKER)


def test_exchange_without_stop_logic_the_tripping_order_sweeps_through_the_trigger() -> None:
    """After-trade breaker: the order prints at 98, 2% below the high, before the halt."""
    model, result = _sweep(stop_logic=False)
    assert model.book_venue.halted
    assert sorted({fill.price for fill in result.fills}) == [98.0, 100.0]


def test_exchange_stop_logic_halts_before_the_trade_through_the_trigger() -> None:
    """CME Stop Logic: 5 lots print at 100, the 5 that would print at 98 wait for the reopening."""
    model, result = _sweep(stop_logic=True)
    venue = model.book_venue
    assert venue.halted and venue.queued_orders == 1
    assert [fill.price for fill in result.fills] == [100.0]
    assert (result.order_id, result.filled_qty, result.unfilled_qty) == (HALTED_ORDER_ID, 5, 0)
    assert model.book.best_bid() == 98.0  # the bid beyond the trigger is untouched
    events = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).events
    halt = events.loc[events["kind"] == "halt"].iloc[0]
    assert (halt["amount"], halt["price"]) == (pytest.approx(0.02), 98.0)
    assert model.totals() == model.initial_totals


def test_exchange_stop_logic_lets_a_limit_above_the_trigger_rest() -> None:
    """A sell limit at 99.25 (the lowest untripping price) trades at 100 and rests; no halt."""
    model = _model(stop_logic=True)
    model.step()
    a, b = _trader(model, "a"), _trader(model, "b")
    exchange = model.exchange
    exchange.limit(a, True, _ticks(100.0), 6, purpose=TradePurpose.TAKER)
    exchange.limit(a, True, _ticks(98.0), 50, purpose=TradePurpose.TAKER)
    exchange.market(b, False, 1, purpose=TradePurpose.TAKER)
    result = exchange.limit(b, False, _ticks(99.25), 10, purpose=TradePurpose.TAKER)
    assert not model.book_venue.halted
    assert (result.filled_qty, result.resting_qty) == (5, 5)
    assert model.book.best_ask() == 99.25
