"""Tests for abm.model, abm.market.exchange and abm.run: conservation, settlement, records, seeds.

The conservation law (DESIGN.md section 5): settlement moves ``price_ticks * qty`` cash ticks and
``qty`` lots between the two sides of each fill, so the sums over all traders of ``cash_ticks``
and of ``inventory`` never change. It is checked after every step of a long baseline run and of
a scenario that exercises every order path.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import abm
from abm.agents.base import Trader
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario

BASELINE = Path(__file__).parents[1] / "scenarios" / "baseline.yaml"
LONG_STEPS = 1_500
TICK = 0.01
IDLE = {"kind": "bernoulli", "rate": 0.0}


@dataclass
class Run:
    """A finished in-process run: the model, its tables, and what was checked along the way."""

    model: MarketModel
    result: RunResult
    totals: list[tuple[int, int]]  # model.totals() after each step, step 0 first
    start: dict[int, tuple[int, int]]  # agent id -> (cash_ticks, inventory) at step 0


def _run(scenario: Scenario, steps: int) -> Run:
    model = MarketModel(scenario.override({"steps": steps}))
    start = {i: (t.cash_ticks, t.inventory) for i, t in model.exchange.traders.items()}
    totals = [model.totals()]
    for _ in range(steps):
        model.step()
        totals.append(model.totals())
    result = RunResult.from_recorder(
        model.recorder, scenario_yaml=scenario.to_yaml(), summary={}, meta={}
    )
    return Run(model, result, totals, start)


@pytest.fixture(scope="module")
def baseline() -> Run:
    """The shipped baseline scenario, cut to LONG_STEPS steps (about 12 000 fills)."""
    return _run(abm.load_scenario(BASELINE), LONG_STEPS)


KITCHEN_SINK: dict[str, Any] = {
    "name": "kitchen_sink",
    "seed": 11,
    "steps": 600,
    "dt": 0.5,
    "tick_size": TICK,
    "mark": "fundamental",
    "fundamental": {"kind": "arithmetic", "s0": 50.0, "sigma": 0.05},
    "agents": {
        "mm": {
            "kind": "market_maker",
            "count": 3,
            "policy": {"kind": "ho_stoll", "spread": 0.06, "skew": 0.001},
            "quote_size": 5,
            "max_inventory": 40,
            "reference": "fundamental",
            "volatility": {"kind": "given", "sigma": 0.05},
            "cash": 1000.0,
            "inventory": 10,
        },
        "mm_mid": {
            "kind": "market_maker",
            "count": 2,
            "policy": {"kind": "avellaneda_stoikov", "gamma": 0.01, "k": 30.0, "T": 300.0},
            "quote_size": 3,
            "max_inventory": 30,
            "volatility": {"kind": "ewma", "halflife_steps": 50, "initial_sigma": 0.05},
        },
        "informed": {
            "kind": "informed",
            "count": 20,
            "arrival": {"kind": "bernoulli", "rate": 0.1, "per_side": True},
            "order_type": "marketable_limit",
            "limit_offset_ticks": 2,
            "noise_sd": 0.01,
            "lag_steps": 2,
            "threshold": 0.01,
            "size_per_edge": 100.0,
            "max_size": 8,
            "position_limit": 30,
            "cash": -50.5,
            "inventory": -3,
        },
        "informed_mkt": {
            "kind": "informed",
            "count": 5,
            "arrival": {"kind": "poisson", "rate": 0.1},
            "threshold": 0.02,
        },
        "noise_pl": {
            "kind": "noise",
            "count": 100,
            "arrival": {"kind": "poisson", "rate": 0.05, "per_side": True},
            "distance": {"kind": "power_law", "alpha": 1.5, "min_ticks": 1, "max_ticks": 50},
            "placement": "aggressive",
            "ioc_prob": 0.3,
            "size": {"kind": "uniform", "low": 1, "high": 7},
            "reference": "fundamental",
            "cash": 12.34,
        },
        "noise_mid": {
            "kind": "noise",
            "count": 100,
            "arrival": {"kind": "bernoulli", "rate": 0.05},
            "mix": {"market": 0.3, "limit": 0.4, "cancel": 0.3},
            "distance": {"kind": "uniform", "low_ticks": 0, "high_ticks": 6},
            "buy_prob": 0.6,
        },
    },
    "record": {"other_agents_stride": 100},
}


@pytest.fixture(scope="module")
def kitchen_sink() -> Run:
    """Every order path: per-side and Poisson arrivals, IOC, aggressive, marketable limits."""
    return _run(Scenario.from_dict(KITCHEN_SINK), 600)


SMALL: dict[str, Any] = {
    "name": "small",
    "seed": 5,
    "steps": 250,
    "dt": 2.0,
    "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.02},
    "agents": {
        "mm": {
            "kind": "market_maker",
            "count": 2,
            "policy": {"kind": "symmetric", "spread": 0.06},
            "quote_size": 5,
            "reference": "fundamental",
        },
        "informed": {"kind": "informed", "count": 5, "arrival": {"kind": "bernoulli", "rate": 0.1}},
        "noise": {"kind": "noise", "count": 40, "arrival": {"kind": "poisson", "rate": 0.1}},
    },
    "record": {"other_agents_stride": 100},
}


# ----- conservation ----------------------------------------------------------------------


def test_model_conserves_cash_and_inventory_every_step_baseline(baseline: Run) -> None:
    """Conservation law: total cash ticks and total lots equal their step-0 values every step."""
    assert baseline.model.exchange.fills > 2_000  # the law is exercised, not vacuous
    assert all(totals == baseline.model.initial_totals for totals in baseline.totals)


def test_model_conserves_cash_and_inventory_every_step_kitchen_sink(kitchen_sink: Run) -> None:
    """Conservation law with non-zero opening balances and every order type and arrival law."""
    initial = kitchen_sink.model.initial_totals
    assert initial != (0, 0)
    assert kitchen_sink.model.exchange.fills > 1_000
    assert all(totals == initial for totals in kitchen_sink.totals)


@pytest.mark.parametrize("which", ["baseline", "kitchen_sink"])
def test_model_trades_explain_inventory_changes(which: str, request: pytest.FixtureRequest) -> None:
    """Per agent: lots bought minus lots sold on the trade tape = inventory change."""
    run: Run = request.getfixturevalue(which)
    trades = run.result.trades
    bought = trades.groupby("buyer")["qty"].sum()
    sold = trades.groupby("seller")["qty"].sum()
    for agent_id, trader in run.model.exchange.traders.items():
        net = int(bought.get(agent_id, 0)) - int(sold.get(agent_id, 0))
        assert trader.inventory - run.start[agent_id][1] == net, agent_id


@pytest.mark.parametrize("which", ["baseline", "kitchen_sink"])
def test_model_trades_explain_cash_changes(which: str, request: pytest.FixtureRequest) -> None:
    """Per agent: notional received as seller minus paid as buyer (in ticks) = cash change."""
    run: Run = request.getfixturevalue(which)
    trades = run.result.trades
    price_ticks = np.rint(trades["price"].to_numpy() / TICK).astype(np.int64)
    notional = pd.Series(price_ticks * trades["qty"].to_numpy(), index=trades.index)
    paid = notional.groupby(trades["buyer"]).sum()
    received = notional.groupby(trades["seller"]).sum()
    for agent_id, trader in run.model.exchange.traders.items():
        net = int(received.get(agent_id, 0)) - int(paid.get(agent_id, 0))
        assert trader.cash_ticks - run.start[agent_id][0] == net, agent_id


def test_model_trades_never_match_a_trader_with_itself(kitchen_sink: Run) -> None:
    """Self-trade prevention: no trade row has buyer == seller."""
    trades = kitchen_sink.result.trades
    assert len(trades) > 0
    assert (trades["buyer"] != trades["seller"]).all()


def test_model_exchange_counters_match_trade_tape(baseline: Run) -> None:
    """The exchange's fill and volume counters equal the trades table's row count and qty sum."""
    exchange, trades = baseline.model.exchange, baseline.result.trades
    assert exchange.fills == len(trades) == exchange.tape_position
    assert exchange.volume == int(trades["qty"].sum())


# ----- exchange settlement ---------------------------------------------------------------


def _pair() -> tuple[MarketModel, Trader, Trader]:
    """A model with two idle traders, A and B, and an empty book."""
    lp = {"kind": "noise", "count": 1, "arrival": IDLE}
    scenario = Scenario.from_dict(
        {
            "name": "pair",
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
            "agents": {"a": lp, "b": {**lp, "cash": 5.0, "inventory": 2}},
        }
    )
    model = MarketModel(scenario)
    a, b = (next(t for t in model.exchange.traders.values() if t.group == g) for g in "ab")
    return model, a, b


def _trades(model: MarketModel) -> pd.DataFrame:
    return RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).trades


def test_exchange_buy_fill_moves_exact_cash_and_lots() -> None:
    """Market buy of 3 against a 5-lot ask at 100.07: 3 * 10007 ticks and 3 lots change hands."""
    model, a, b = _pair()
    a0, b0 = (a.cash_ticks, a.inventory), (b.cash_ticks, b.inventory)
    model.exchange.limit(a, False, 10_007, 5, purpose=TradePurpose.TAKER)
    model.exchange.market(b, True, 3, purpose=TradePurpose.TAKER)
    assert (a.cash_ticks - a0[0], a.inventory - a0[1]) == (3 * 10_007, -3)
    assert (b.cash_ticks - b0[0], b.inventory - b0[1]) == (-3 * 10_007, 3)


def test_exchange_buy_fill_trade_row() -> None:
    """A taker buy's row: aggressor "buy", taker buyer, maker seller, taker purpose, both ids."""
    model, a, b = _pair()
    model.exchange.start_step(4, 8.0)
    maker = model.exchange.limit(a, False, 10_007, 5, purpose=TradePurpose.QUOTE)
    taker = model.exchange.market(b, True, 3, purpose=TradePurpose.REBALANCE)
    row = _trades(model).iloc[0].to_dict()
    expected = {"step": 4, "time": 8.0, "price": 100.07, "qty": 3, "aggressor": "buy"}
    assert row == {
        **expected,
        "buyer": b.unique_id,
        "seller": a.unique_id,
        "venue": "book",
        "instrument": "underlying",
        "purpose": "rebalance",
        "maker_order_id": maker.order_id,
        "taker_order_id": taker.order_id,
    }


def test_exchange_sell_fill_trade_row_and_settlement() -> None:
    """A crossing limit sell: aggressor "sell", maker is buyer; cash and lots move exactly."""
    model, a, b = _pair()
    a0, b0 = (a.cash_ticks, a.inventory), (b.cash_ticks, b.inventory)
    model.exchange.limit(a, True, 9_995, 4, purpose=TradePurpose.TAKER)
    result = model.exchange.limit(b, False, 9_990, 6, purpose=TradePurpose.TAKER)
    assert result.resting_qty == 2  # the rest of the taker's limit order rests
    row = _trades(model).iloc[0]
    assert (row["aggressor"], row["buyer"], row["seller"]) == ("sell", a.unique_id, b.unique_id)
    assert (row["price"], row["qty"]) == (99.95, 4)  # at the maker's price
    assert (a.cash_ticks - a0[0], a.inventory - a0[1]) == (-4 * 9_995, 4)
    assert (b.cash_ticks - b0[0], b.inventory - b0[1]) == (4 * 9_995, -4)


def test_exchange_sweep_writes_one_row_per_fill() -> None:
    """A market order through two levels makes two trade rows, each at its level's price."""
    model, a, b = _pair()
    model.exchange.limit(a, False, 10_001, 2, purpose=TradePurpose.TAKER)
    model.exchange.limit(a, False, 10_003, 2, purpose=TradePurpose.TAKER)
    model.exchange.market(b, True, 3, purpose=TradePurpose.TAKER)
    trades = _trades(model)
    assert list(zip(trades["price"], trades["qty"], strict=True)) == [(100.01, 2), (100.03, 1)]
    assert b.cash_ticks - round(5.0 / TICK) == -(2 * 10_001 + 10_003)
    assert model.exchange.last_price_ticks == 10_003
    assert model.exchange.step_volume == 3


# ----- records ----------------------------------------------------------------------------


def test_model_market_table_has_one_row_per_step(baseline: Run) -> None:
    """Market rows for steps 0..N, in order, at time step * dt."""
    market = baseline.result.market
    assert market["step"].tolist() == list(range(LONG_STEPS + 1))
    assert np.allclose(market["time"], market["step"] * baseline.model.dt)


def test_model_market_fundamental_is_the_fundamental_path(baseline: Run) -> None:
    """The market table's fundamental column is the model's fundamental history."""
    market = baseline.result.market
    assert market["fundamental"].tolist() == list(baseline.model.fundamental_history)


def test_model_market_mid_and_spread_follow_bid_and_ask(baseline: Run) -> None:
    """Mid = (bid + ask) / 2 and spread = ask - bid > 0 when both sides exist, else NaN."""
    market = baseline.result.market
    both = market["best_bid"].notna() & market["best_ask"].notna()
    assert both.sum() > 0.9 * len(market)  # the baseline book is nearly always two-sided
    quoted = market[both]
    assert np.allclose(quoted["mid"], (quoted["best_bid"] + quoted["best_ask"]) / 2)
    assert np.allclose(quoted["spread"], quoted["best_ask"] - quoted["best_bid"])
    assert (quoted["spread"] > 0).all()
    assert market.loc[~both, ["mid", "spread"]].isna().all().all()


def test_model_market_volume_is_sum_of_trade_qty(baseline: Run) -> None:
    """Each step's volume equals the qty of that step's trade rows (0 when none)."""
    market, trades = baseline.result.market, baseline.result.trades
    per_step = trades.groupby("step")["qty"].sum().reindex(market["step"], fill_value=0)
    assert market["volume"].tolist() == per_step.tolist()


def test_model_step_zero_records_every_trader_with_zero_pnl(baseline: Run) -> None:
    """Step 0 (before trading) has one agents row per trader, each with pnl 0."""
    agents = baseline.result.agents
    first = agents[agents["step"] == 0]
    assert sorted(first["agent_id"]) == sorted(baseline.model.exchange.traders)
    assert (first["pnl"] == 0.0).all()


def test_model_market_makers_recorded_every_step(baseline: Run) -> None:
    """Every market maker has exactly one agents row at every step 0..N."""
    agents = baseline.result.agents
    mm_rows = agents[agents["kind"] == "market_maker"]
    mm_ids = sorted(mm.unique_id for mm in baseline.model.market_makers)
    counts = mm_rows.groupby("agent_id")["step"].agg(list)
    assert sorted(counts.index) == mm_ids
    assert all(steps == list(range(LONG_STEPS + 1)) for steps in counts)


@pytest.mark.parametrize(
    ("stride", "expected"),
    [(100, [0, 100, 200, 250]), (None, [0, 250]), (50, [0, 50, 100, 150, 200, 250])],
)
def test_model_other_traders_recorded_at_stride_and_end(
    stride: int | None, expected: list[int]
) -> None:
    """Non-market makers: rows at step 0, every ``stride`` steps and at the last step, once each."""
    scenario = Scenario.from_dict(SMALL).override({"record.other_agents_stride": stride})
    agents = abm.run(scenario).agents
    others = agents[agents["kind"] != "market_maker"]
    assert others["agent_id"].nunique() == 45
    for _, steps in others.groupby("agent_id")["step"]:
        assert steps.tolist() == expected


def test_model_pnl_is_equity_minus_initial_equity(kitchen_sink: Run) -> None:
    """Pnl = equity - equity at step 0, for every agents row."""
    agents = kitchen_sink.result.agents
    initial = agents[agents["step"] == 0].set_index("agent_id")["equity"]
    expected = agents["equity"] - agents["agent_id"].map(initial)
    assert np.allclose(agents["pnl"], expected, rtol=0, atol=1e-6)


def test_model_equity_is_cash_plus_inventory_at_mark(baseline: Run) -> None:
    """Equity = cash + inventory * mark + hedge * hedge price, at the step's recorded mark."""
    agents, market = baseline.result.agents, baseline.result.market
    by_step = market.set_index("step")
    mark = agents["step"].map(by_step["mark"])
    hedge_price = agents["step"].map(by_step["hedge_price"])
    expected = agents["cash"] + agents["inventory"] * mark + agents["hedge"] * hedge_price
    assert mark.notna().all()
    assert np.allclose(agents["equity"], expected, rtol=0, atol=1e-6)


def test_model_mid_mark_column_is_mid_then_last_then_fundamental(baseline: Run) -> None:
    """The recorded mid mark is the mid where two-sided, else the last trade, else the value."""
    market = baseline.result.market
    mid, last = market["mid"], market["last_price"]
    expected = mid.fillna(last).fillna(market["fundamental"])
    assert baseline.model.scenario.mark.kind == "mid"
    # the model's mid is (bid + ask) * tick / 2 in ticks, the table's from prices: rounding
    assert np.allclose(market["mark"], expected, rtol=0, atol=1e-9)


def test_model_market_maker_quotes_within_the_touch(baseline: Run) -> None:
    """A market maker's recorded bid/ask never improve on the book's best bid/ask."""
    agents, market = baseline.result.agents, baseline.result.market
    mm = agents[agents["kind"] == "market_maker"]
    best = market.set_index("step")
    bid_ok = mm["bid"].isna() | (mm["bid"] <= mm["step"].map(best["best_bid"]) + 1e-9)
    ask_ok = mm["ask"].isna() | (mm["ask"] >= mm["step"].map(best["best_ask"]) - 1e-9)
    assert bid_ok.all()
    assert ask_ok.all()


def test_runner_run_frees_its_model() -> None:
    """abm.run leaves no model alive: Mesa 3.3's Agent._ids would otherwise keep each one."""

    def alive() -> set[int]:
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, MarketModel)}

    before = alive()
    abm.run(abm.load_scenario(BASELINE), steps=20)
    assert alive() <= before


# ----- determinism and common random numbers ---------------------------------------------


def test_runner_check_determinism_across_processes() -> None:
    """check_determinism: a run and its re-run in a fresh spawned process are identical."""
    report = abm.check_determinism(abm.load_scenario(BASELINE), steps=200)
    assert report.identical, report.differences


def _timeless(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("wall_time_s", "steps_per_s")}


def test_model_same_seed_same_tables() -> None:
    """Two in-process runs of the same scenario and seed: equal tables, summary less timings."""
    scenario = Scenario.from_dict(KITCHEN_SINK)
    first, second = abm.run(scenario, steps=200), abm.run(scenario, steps=200)
    for name, table in first.tables().items():
        other = second.tables()[name]
        assert table.equals(other) and table.dtypes.equals(other.dtypes), name
    assert _timeless(first.summary) == _timeless(second.summary)
    assert len(first.trades) > 0


def test_runner_same_seed_results_are_equal() -> None:
    """RunResult.equals (ignore_wall_time=True) holds for two runs of one scenario and seed."""
    scenario = Scenario.from_dict(KITCHEN_SINK)
    assert abm.run(scenario, steps=50).equals(abm.run(scenario, steps=50))


def test_model_different_seed_different_tables() -> None:
    """Changing only the seed changes the fundamental path and the trade tape."""
    scenario = Scenario.from_dict(KITCHEN_SINK)
    first, second = abm.run(scenario, steps=200), abm.run(scenario, steps=200, seed=12)
    assert not first.market["fundamental"].equals(second.market["fundamental"])
    assert not first.trades.equals(second.trades)


def _fundamental_path(scenario: Scenario, steps: int) -> list[float]:
    model = MarketModel(scenario)
    for _ in range(steps):
        model.step()
    return list(model.fundamental_history)


@pytest.mark.parametrize("change", [{"agents.noise.count": 300}, {"agents.informed.count": 0}])
def test_model_fundamental_path_independent_of_population(change: dict[str, Any]) -> None:
    """Common random numbers: resizing a trader group leaves the fundamental path unchanged."""
    scenario = abm.load_scenario(BASELINE)
    assert _fundamental_path(scenario, 100) == _fundamental_path(scenario.override(change), 100)


def test_model_group_streams_independent_of_other_groups() -> None:
    """Common random numbers: a group's generator does not depend on another group's size."""
    scenario = abm.load_scenario(BASELINE)

    def informed_draws(s: Scenario) -> list[float]:
        group = next(g for g in MarketModel(s).takers if g.name == "informed")
        return group.rng.random(5).tolist()

    assert informed_draws(scenario) == informed_draws(scenario.override({"agents.noise.count": 7}))


# ----- why each trade happened -----------------------------------------------------------------

SCENARIOS = BASELINE.parent


def test_trades_baseline_purposes_are_quotes_and_takers(baseline: Run) -> None:
    """Baseline fills come from requotes through the touch and from taker orders, nothing else."""
    purposes = set(baseline.result.trades["purpose"].astype(str))
    assert purposes == {TradePurpose.QUOTE, TradePurpose.TAKER}


def test_trades_book_rows_name_both_orders(baseline: Run) -> None:
    """Every book fill names its resting and its incoming order; the incoming one is newer."""
    trades = baseline.result.trades
    maker, taker = trades["maker_order_id"], trades["taker_order_id"]
    assert not maker.isna().any() and not taker.isna().any()
    assert (taker > maker).all()
    assert set(trades["instrument"].astype(str)) == {"underlying"}


def test_trades_interdealer_rows_have_no_order_ids() -> None:
    """Hot-potato passes are interdealer-purpose rows without order ids."""
    trades = abm.run(abm.load_scenario(SCENARIOS / "crisis" / "hot_potato.yaml")).trades
    passed = trades[trades["venue"] == "interdealer"]
    assert len(passed) > 0
    assert set(passed["purpose"].astype(str)) == {TradePurpose.INTERDEALER}
    assert passed["maker_order_id"].isna().all() and passed["taker_order_id"].isna().all()


@pytest.mark.parametrize(
    ("scenario", "purpose"),
    [
        ("crisis/margin_spiral", TradePurpose.MARGIN_CALL),
        ("crisis/fire_sale_spiral", TradePurpose.LIQUIDATION),
        ("inventory_risk/rebalance_threshold", TradePurpose.REBALANCE),
    ],
)
def test_trades_forced_and_risk_orders_carry_their_purpose(
    scenario: str, purpose: TradePurpose
) -> None:
    """Margin-call and liquidation sales and rebalancing orders are labelled so in trades."""
    result = abm.run(abm.load_scenario(SCENARIOS / f"{scenario}.yaml"))
    rows = result.trades[result.trades["purpose"] == purpose]
    assert len(rows) > 0
    makers = set(result.agents.loc[result.agents["kind"] == "market_maker", "agent_id"])
    sender = np.where(rows["aggressor"] == "buy", rows["buyer"], rows["seller"])
    assert set(sender) <= makers  # the incoming order was a market maker's


@pytest.mark.parametrize("n", [2, 3, 7, 50])
def test_arrival_shuffle_is_the_order_numpys_permutation_gives(n: int) -> None:
    """The takers' random order: ``rng.shuffle`` of the list = indexing by ``rng.permutation``.

    `MarketModel` shuffles a step's arrivals in place with ``Generator.shuffle`` (cheaper);
    the reference is numpy's ``permutation`` of the same length from the same stream, which
    earlier runs and the golden digest used. The generators must end in the same state.
    """
    shuffled_rng, reference = np.random.default_rng(n), np.random.default_rng(n)
    for _ in range(200):
        items = [(i, i % 2 == 0) for i in range(n)]
        expected = [items[i] for i in reference.permutation(n).tolist()]
        shuffled = list(items)
        shuffled_rng.shuffle(shuffled)
        assert shuffled == expected
    assert shuffled_rng.random() == reference.random()
