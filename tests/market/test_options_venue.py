"""The options venue: series books, cash settlement at expiry, valuation, the options table.

Validated against conservation laws (cash ticks, lots and every series' positions sum to what
they were, checked after every step of a run with dealers, end users and expiries inside the
run), against the payoff formula max(S - K, 0) / max(K - S, 0) computed here from the
fundamental path, and against the Black-Scholes price of `abm.derivatives.black_scholes` (an
independent vectorised implementation) for the fallback mark and the implied volatilities.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from abm.derivatives.black_scholes import bsm_price
from abm.market.options import OptionsError, OptionsVenue, series_name
from abm.market.options.venue import bs_price_scalar
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.scenario.schema import Scenario, ScenarioError

IDLE = {"kind": "bernoulli", "rate": 0.0}


def _scenario(steps: int = 120, **changes: Any) -> Scenario:
    body: dict[str, Any] = {
        "name": "options_venue",
        "seed": 11,
        "steps": steps,
        "tick_size": 0.01,
        "mark": "mid",
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.05},
        "options": {"strikes": [99.5, 100.0, 100.5], "expiries": [40, 90, 500]},
        "agents": {
            "mm": {
                "kind": "market_maker",
                "count": 2,
                "policy": {"kind": "symmetric", "spread": 0.04},
                "quote_size": 10,
                "max_inventory": 200,
                "reference": "mid",
            },
            "noise": {
                "kind": "noise",
                "count": 60,
                "arrival": {"kind": "poisson", "rate": 0.1},
                "mix": {"market": 0.3, "limit": 0.35, "cancel": 0.35},
                "reference": "mid",
                "placement": "passive",
                "distance": {"kind": "exponential", "mean_ticks": 4.0},
                "size": {"kind": "uniform", "low": 1, "high": 4},
            },
            "dealers": {
                "kind": "option_market_maker",
                "count": 2,
                "volatility": {"kind": "realized", "halflife_steps": 50, "initial_sigma": 0.0005},
                "quote_size": 3,
            },
            "users": {
                "kind": "option_end_user",
                "count": 20,
                "arrival": {"kind": "bernoulli", "rate": 0.2},
                "size": {"kind": "uniform", "low": 1, "high": 3},
            },
        },
    }
    body.update(changes)
    return Scenario.from_dict(body)


def _venue(model: MarketModel) -> OptionsVenue:
    venue = model.exchange.venues["options"]
    assert isinstance(venue, OptionsVenue)
    return venue


def test_options_venue_conserves_cash_lots_and_every_series_every_step() -> None:
    """Cash ticks and lots never change in total and every series' positions sum to zero.

    Checked after each of 120 steps with two expiries (40, 90) inside the run, so settlement
    payments are inside the check; the run does trade options and hedge (else it proves
    nothing), and the expired series hold no positions afterwards.
    """
    model = MarketModel(_scenario())
    venue = _venue(model)
    start = model.totals()
    for _ in range(model.scenario.steps):
        model.step()
        assert model.totals() == start, model.step_index
        totals = model.holdings_totals()
        assert all(qty == 0 for qty in totals.values()), (model.step_index, totals)
    trades = model.exchange.recorder.table("trades")
    assert (trades["venue"] == "options").sum() > 50
    assert (trades["purpose"] == "hedge").sum() > 10
    assert [s for s, *_ in venue.settlements] == [40] * 6 + [90] * 6
    for series in venue.series:
        if series.expiry_step <= 90:
            held = [t.holdings.get(series.name, 0) for t in model.exchange.traders.values()]
            assert not any(held)
            assert len(venue.books[series.name].book) == 0  # resting orders cancelled


def test_options_venue_pays_each_holder_the_rounded_payoff_at_expiry() -> None:
    """At the expiry close each holder of q receives q * round(payoff / tick) ticks, exactly.

    The payoff is computed here from the fundamental at the expiry step (settlement:
    fundamental) and the strike; the settlement alone (close_trading of step 40, observed
    before and after) moves exactly that, closes the positions, and sums to zero.
    """
    model = MarketModel(_scenario(steps=40))
    venue = _venue(model)
    traders = model.exchange.traders
    seen: dict[int, tuple[dict[int, tuple[int, dict[str, int]]], dict[int, int]]] = {}
    close = venue.close_trading

    def spy(step: int) -> None:
        before = {i: (t.cash_ticks, dict(t.holdings)) for i, t in traders.items()}
        close(step)
        seen[step] = (before, {i: t.cash_ticks for i, t in traders.items()})

    venue.close_trading = spy  # type: ignore[method-assign]
    for _ in range(40):
        model.step()
    before, after = seen[40]
    price = model.fundamental_history[40]
    expiring = [s for s in venue.series if s.expiry_step == 40]
    payoff = {
        s.name: round(max(price - s.strike if s.is_call else s.strike - price, 0.0) / 0.01)
        for s in expiring
    }
    assert any(payoff.values()) and not all(payoff.values())  # in and out of the money
    paid = 0
    for trader_id, (cash, holdings) in before.items():
        expected = sum(holdings.get(name, 0) * ticks for name, ticks in payoff.items())
        assert after[trader_id] - cash == expected, trader_id
        assert not any(name in traders[trader_id].holdings for name in payoff)
        paid += abs(expected)
    assert paid > 0
    assert sum(after.values()) == sum(cash for cash, _ in before.values())


def test_options_venue_refuses_orders_on_expired_series_and_off_the_option_tick() -> None:
    """An expired series takes no order; a price off the option tick grid is refused."""
    scenario = _scenario(steps=41)
    scenario = scenario.override({"options.tick_size": 0.05})
    model = MarketModel(scenario)
    venue = _venue(model)
    for _ in range(41):
        model.step()
    trader = next(iter(model.exchange.traders.values()))
    expired = venue.books[series_name(True, 100.0, 40)]
    with pytest.raises(OptionsError, match="call_100_40: the series has expired"):
        expired.limit(trader, True, 50, 1, purpose=TradePurpose.TAKER)
    live = venue.books[series_name(True, 100.0, 90)]
    with pytest.raises(OptionsError, match="not a multiple of the option tick \\(5 ticks\\)"):
        live.limit(trader, True, 52, 1, purpose=TradePurpose.TAKER)
    live.limit(trader, True, 5, 1, purpose=TradePurpose.TAKER)  # on the grid: taken


def test_options_venue_marks_at_the_mid_else_black_scholes_at_the_mark_volatility() -> None:
    """A two-sided series is worth its mid; a one-sided one the Black-Scholes fallback.

    The fallback is checked against `bsm_price` at the venue's spot, and intrinsic value when
    no ``mark_volatility`` is set.
    """
    scenario = _scenario(steps=5).override({"options.mark_volatility": 0.001})
    model = MarketModel(scenario)
    for _ in range(5):
        model.step()
    venue = _venue(model)
    series = venue.books[series_name(False, 100.0, 90)].series
    book = venue.books[series.name]
    for order_id in list(book.resting_ids):
        book.cancel(order_id)
    spot = venue.spot()
    expected = float(bsm_price(spot, 100.0, 85.0, 0.0, 0.0, 0.001, False))
    assert venue.value_holdings({series.name: 3}) == pytest.approx(3 * expected, rel=1e-12)
    trader = next(iter(model.exchange.traders.values()))
    book.limit(trader, True, 40, 1, purpose=TradePurpose.QUOTE)
    book.limit(trader, False, 46, 1, purpose=TradePurpose.QUOTE)
    assert venue.value_holdings({series.name: -2}) == pytest.approx(-2 * 0.43)
    intrinsic = bs_price_scalar(spot, 100.0, 85.0, 0.0, 0.0, False)
    assert intrinsic == max(100.0 - spot, 0.0)


def test_bs_price_scalar_matches_the_vectorised_black_scholes() -> None:
    """The venue's scalar Black-Scholes price equals `bsm_price` across moneyness and type."""
    for strike in (80.0, 95.0, 100.0, 105.0, 130.0):
        for is_call in (True, False):
            ours = bs_price_scalar(100.0, strike, 0.5, 0.03, 0.25, is_call)
            reference = float(bsm_price(100.0, strike, 0.5, 0.03, 0.0, 0.25, is_call))
            assert ours == pytest.approx(reference, rel=1e-12, abs=1e-12)


def test_options_table_implied_vols_reprice_the_recorded_mids() -> None:
    """Each recorded implied volatility gives back the row's mid under Black-Scholes.

    Also: one row per series not expired before the step, every record_stride steps and at
    each expiry step; open interest is never negative.
    """
    scenario = _scenario(steps=100).override({"options.record_stride": 7})
    model = MarketModel(scenario)
    for _ in range(100):
        model.step()
    table = model.exchange.recorder.table("options")
    steps = sorted(set(table["step"]))
    assert steps == sorted(set(range(0, 101, 7)) | {40, 90})
    for step in steps:
        rows = table[table["step"] == step]
        assert set(rows["expiry"]) == {e for e in (40, 90, 500) if e >= step}
        assert len(rows) == 6 * len(set(rows["expiry"]))
    assert (table["open_interest"] >= 0).all()
    priced = table[np.isfinite(table["implied_vol"])]
    assert len(priced) > 20
    market = model.exchange.recorder.table("market").set_index("step")
    for row in priced.itertuples():
        spot = market.loc[row.step, "mid"]
        if not math.isfinite(spot):
            continue
        tau = float(row.expiry - row.step)
        again = float(
            bsm_price(spot, row.strike, tau, 0.0, 0.0, row.implied_vol, row.type == "call")
        )
        assert again == pytest.approx(row.mid, abs=1e-6)


def test_options_runs_are_deterministic() -> None:
    """Same scenario and seed: bit-identical options, greeks and trades tables."""
    first, second = MarketModel(_scenario(steps=50)), MarketModel(_scenario(steps=50))
    for model in (first, second):
        for _ in range(50):
            model.step()
    for table in ("options", "greeks", "trades"):
        a = first.exchange.recorder.table(table)
        b = second.exchange.recorder.table(table)
        assert a.equals(b), table


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"strikes": [100.0, 100.005]}, "options.strikes.1", "not a multiple of tick_size"),
        ({"tick_size": 0.015}, "options.tick_size", "whole multiple of tick_size"),
        ({"strikes": [100.0, 100.0]}, "options.strikes", "must not repeat"),
        ({"expiries": []}, "options.expiries", "at least 1"),
        ({"settlement": "close"}, "options.settlement", "fundamental"),
    ],
)
def test_options_spec_refuses_bad_input_naming_the_field(
    changes: dict[str, Any], field: str, problem: str
) -> None:
    """Bad ``options`` input raises ScenarioError naming the field and the problem."""
    options = {"strikes": [99.5, 100.0], "expiries": [40], **changes}
    with pytest.raises(ScenarioError, match=f"{field}.*{problem}"):
        _scenario(options=options)


def test_option_agents_need_an_options_section() -> None:
    """Option dealers in a scenario without ``options`` are refused, naming the group."""
    with pytest.raises(ScenarioError, match=r"agents\.dealers\.kind: option_market_maker agents"):
        _scenario(options=None)


def test_a_scenario_without_options_keeps_its_digest_and_yaml() -> None:
    """An absent options section is left out of the digest and the saved YAML."""
    scenario = _scenario(options=None, agents={"a": {"kind": "noise", "count": 1, "arrival": IDLE}})
    assert "\noptions:" not in scenario.to_yaml()
    with_options = _scenario()
    assert "\noptions:" in with_options.to_yaml()
    assert Scenario.from_yaml_text(with_options.to_yaml()).digest() == with_options.digest()
