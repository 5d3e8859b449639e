"""Tests for the percentage-of-volume execution program (kind ``pov``, `abm.agents.pov`).

The schedule is the CFTC/SEC (2010) description of the May 6 sell algorithm: a target rate set
to a share of the previous minute's volume, without regard to price. The market's volume
history (``model.cumulative_volume``) is set by hand so that every expected quantity is exact:
``participation * window volume * interval_steps / window_steps`` per activation.
"""

from __future__ import annotations

from typing import Any

import pytest

from abm.agents.pov import PovTrader
from abm.market.circuit_breaker import HALTED_ORDER_ID
from abm.market.orderbook import OrderResult
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario, ScenarioError

TICK = 0.25
IDLE = {"kind": "bernoulli", "rate": 0.0}


def _market(*, breaker: bool = False, **program: Any) -> MarketModel:
    spec = {
        "kind": "pov",
        "count": 1,
        "inventory": 1000,
        "target_qty": 50,
        "participation": 0.1,
        "window_steps": 10,
        "interval_steps": 2,
        "start_step": 20,
        **program,
    }
    document: dict[str, Any] = {
        "name": "pov",
        "tick_size": TICK,
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
        "agents": {"lp": {"kind": "noise", "count": 1, "arrival": IDLE}, "seller": spec},
    }
    if breaker:
        document["circuit_breaker"] = {"fall_pct": 50.0, "window_steps": 5, "halt_steps": 2}
    model = MarketModel(Scenario.from_dict(document))
    # a market that traded 100 lots in every step so far: 1000 lots per 10-step window
    model.cumulative_volume = [100 * n for n in range(200)]
    return model


def _program(model: MarketModel) -> PovTrader:
    (program,) = model.executors
    return program


def _book(model: MarketModel, bid: float = 99.75, ask: float = 100.25, qty: int = 10_000) -> None:
    lp = next(t for t in model.exchange.traders.values() if t.group == "lp")
    model.exchange.limit(lp, True, round(bid / TICK), qty, purpose=TradePurpose.TAKER)
    model.exchange.limit(lp, False, round(ask / TICK), qty, purpose=TradePurpose.TAKER)


def _at(model: MarketModel, step: int) -> None:
    """Let the program act as it would at ``step``."""
    model.step_index = step
    _program(model).step()


def test_pov_child_order_is_participation_of_window_volume() -> None:
    """0.1 x 1000 lots x 2/10 steps = 20 lots sold at the first activation."""
    model = _market()
    _book(model)
    _at(model, 20)
    assert _program(model).executed == 20
    assert _program(model).inventory == 980


def test_pov_acts_only_from_start_step_every_interval() -> None:
    """Nothing before start_step, nothing between activations."""
    model = _market()
    _book(model)
    for step in (18, 19, 21, 23):
        _at(model, step)
    assert _program(model).executed == 0
    _at(model, 22)
    assert _program(model).executed == 20


def test_pov_stops_at_target_and_logs_start_and_done() -> None:
    """The third child is cut to the 10 lots left; pov_start and pov_done are logged once."""
    model = _market()
    _book(model)
    for step in (20, 22, 24, 26):
        _at(model, step)
    program = _program(model)
    assert (program.executed, program.done) == (50, True)
    events = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).events
    assert events["kind"].tolist() == ["pov_start", "pov_done"]
    assert events["amount"].tolist() == [50.0, 50.0]


def test_pov_rate_follows_the_volume_of_the_previous_window() -> None:
    """A window in which the market traded half as much halves the child order."""
    model = _market()
    _book(model)
    model.cumulative_volume = [50 * n for n in range(200)]
    _at(model, 20)
    assert _program(model).executed == 10


def test_pov_volume_feedback_off_keeps_the_ex_ante_rate() -> None:
    """Without feedback a busier market does not speed the program up: V is pre-start volume."""
    for feedback, expected in ((True, 20 + 80), (False, 20 + 20)):
        model = _market(volume_feedback=feedback, target_qty=500)
        _book(model)
        _at(model, 20)
        # the market then trades four times as fast: 400 lots a step from step 20 on
        model.cumulative_volume = [100 * min(n, 20) + 400 * max(0, n - 20) for n in range(200)]
        _at(model, 32)  # the window 22-31 traded 4000 lots: 0.1 x 4000 x 2/10 = 80
        assert _program(model).executed == expected, feedback


def test_pov_buy_program_buys() -> None:
    """side: buy lifts the ask."""
    model = _market(side="buy", inventory=0)
    _book(model)
    _at(model, 20)
    assert _program(model).inventory == 20


def test_pov_passive_rests_its_schedule_at_the_best_ask() -> None:
    """Passive mode keeps one sell at the touch of its own side, sized to what it owes."""
    model = _market(mode="passive")
    _book(model)
    _at(model, 20)
    program = _program(model)
    assert program.resting_id is not None
    order = model.book.order(program.resting_id)
    assert order is not None and (order.price, order.qty) == (100.25, 20)
    assert program.executed == 0


def test_pov_passive_fills_count_and_the_rest_is_repegged() -> None:
    """A buyer lifting 15 of its 20 lots counts; the next order owes 20 + 20 - 15 = 25."""
    model = _market(mode="passive")
    _book(model, ask=100.5)
    _at(model, 20)  # joins the best ask at 100.50, behind the lp
    program = _program(model)
    lp = next(t for t in model.exchange.traders.values() if t.group == "lp")
    asks = [o.order_id for o in model.book.owner_orders(lp.unique_id) if o.side == "sell"]
    model.exchange.cancel(asks[0])  # the program's ask is now the only one
    buyer_result = model.exchange.limit(
        lp, True, round(100.5 / TICK), 15, purpose=TradePurpose.TAKER
    )
    assert buyer_result.filled_qty == 15
    _at(model, 22)
    order = model.book.order(program.resting_id)  # type: ignore[arg-type]
    assert program.executed == 15
    assert order is not None and order.qty == 25


def test_pov_passive_keeps_an_unchanged_order_in_place() -> None:
    """An order already at the touch with the wanted size keeps its id (and its priority)."""
    model = _market(mode="passive", participation=0.1)
    _book(model)
    _at(model, 20)
    program = _program(model)
    first = program.resting_id
    model.cumulative_volume = [0] * 200  # a window without volume: the schedule stays at 20
    _at(model, 22)
    assert program.resting_id == first


def test_pov_queued_child_is_pending_until_released() -> None:
    """In a halt the child order waits: it counts as pending, not as owed again."""
    model = _market(breaker=True)
    _book(model)
    model.book_venue.halted = True
    assert model.book_venue.breaker is not None
    model.book_venue.breaker.halted_until = 21
    _at(model, 20)
    program = _program(model)
    assert (program.pending, program.executed) == (20, 0)
    _at(model, 21)
    _at(model, 22)  # owes 40 but 20 are pending: sends 20 more, queued too
    assert program.pending == 40
    model.book_venue.open_trading(22)
    assert (program.pending, program.executed) == (0, 40)


def test_pov_rejected_child_is_owed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejected child order is not pending: the next activation sends it again."""
    model = _market()
    _book(model)
    program = _program(model)

    def reject(trader: object, is_buy: bool, qty: int, *, purpose: TradePurpose) -> OrderResult:
        return OrderResult(HALTED_ORDER_ID, (), 0, qty, ())

    with monkeypatch.context() as patch:
        patch.setattr(model.book_venue, "market", reject)
        _at(model, 20)
    assert (program.pending, program.executed) == (0, 0)
    _at(model, 22)
    assert program.executed == 40


def test_pov_interval_longer_than_window_is_rejected() -> None:
    """interval_steps may not exceed window_steps."""
    with pytest.raises(ScenarioError, match=r"agents\.seller\.interval_steps"):
        _market(interval_steps=20)


def test_pov_zero_participation_is_rejected() -> None:
    """Participation is a share in (0, 1]."""
    with pytest.raises(ScenarioError, match=r"agents\.seller\.participation"):
        _market(participation=0.0)
