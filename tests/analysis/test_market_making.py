"""Tests for analysis.market_making: exact P&L attribution and quoting-efficiency metrics."""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import abm
from abm.results.events import EventKind
from abm.results.recorder import Recorder
from abm.results.run_result import RunResult
from analysis.market_making import (
    DECOMPOSITION_COLUMNS,
    EFFICIENCY_COLUMNS,
    ar1_half_life,
    efficiency_metrics,
    mark_prices,
    per_step_sharpe,
    pnl_decomposition,
)
from tests._helpers import scenario_text

SEED = 20260101
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
HEDGED = {
    "hedge_instrument": {"basis_sd": 0.005, "fee": 0.001, "impact": 0.0001},
    "agents.mm_symmetric.hedge": {"kind": "band", "band": 20},
    "agents.mm_symmetric.rebalance": {"kind": "threshold", "band": 30},
}

# A small crisis market (10 market makers, every contagion channel on) and variants of it.
CRISIS_YAML = (Path(__file__).parents[1] / "data" / "scenarios" / "crisis_small.yaml").read_text(
    encoding="utf-8"
)
# variant: (overrides, decomposition columns that must be non-zero somewhere)
CRISIS_VARIANTS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "defaults_fire_sale": ({}, ("forced_sales", "credit_losses", "external")),
    "defaults_off_book": (
        {"network.channels.fire_sale": None},
        ("forced_sales", "credit_losses", "external"),
    ),
    "hot_potato": (
        {"shocks": [{"kind": "inventory", "step": 150, "targets": [3], "qty": 200}]},
        ("interdealer", "forced_sales"),
    ),
    "margin_calls": (
        {
            "shocks": [
                {"kind": "margin_hike", "step": 100, "duration_steps": 100, "multiplier": 20.0},
                {"kind": "inventory", "step": 110, "targets": [1, 2], "qty": -60},
            ]
        },
        ("forced_sales",),
    ),
    "default_shock_off_tick_loss": (
        {
            "shocks": [
                {"kind": "default", "step": 150, "targets": [0]},
                {"kind": "loss", "step": 160, "targets": [4], "amount": 123.456},
            ]
        },
        ("forced_sales", "credit_losses", "external"),
    ),
    "fundamental_mark": ({"mark": "fundamental"}, ("forced_sales", "credit_losses", "external")),
}

# The hand-made run: steps 0..3, mids 100, 101, 99, 100 (two-sided book), hedge prices below.
MIDS = (100.0, 101.0, 99.0, 100.0)
HEDGE_PRICES = (100.0, 100.5, 99.0, 100.0)
HEDGE_FILL = 99.2  # three hedge units bought at step 2, hedge price 99.0: cost 0.6
_POLICY = {"kind": "symmetric", "spread": 1.0}
TINY_AGENTS = {
    "mm": {
        "kind": "market_maker",
        "count": 1,
        "policy": _POLICY,
        "quote_size": 2,
        "max_inventory": 2,
    },
    "idle": {"kind": "market_maker", "count": 1, "policy": _POLICY},
}
SCENARIO_YAML = scenario_text({"agents": TINY_AGENTS, "mark": "mid"})
# the trades columns the exchange records, in order (DESIGN.md section 8)
TRADES_COLUMNS = (
    "step", "time", "instrument", "venue", "price", "qty", "aggressor", "buyer", "seller",
    "purpose", "maker_order_id", "taker_order_id",
)  # fmt: skip


def _trades(fills: list[tuple[int, float, int, str, int, int, str]]) -> pd.DataFrame:
    """A trades table of ``(step, price, qty, aggressor, buyer, seller, purpose)`` fills.

    Inter-dealer fills (purpose ``interdealer``) have no order ids; the others a maker id
    ``100 + i`` and a taker id ``200 + i``.
    """
    rows = []
    for i, (step, price, qty, aggressor, buyer, seller, purpose) in enumerate(fills):
        direct = purpose == "interdealer"
        venue = "interdealer" if direct else "book"
        maker, taker = (pd.NA, pd.NA) if direct else (100 + i, 200 + i)
        fill = (step, float(step), "spot", venue, price, qty, aggressor, buyer, seller, purpose)
        rows.append((*fill, maker, taker))
    frame = pd.DataFrame(rows, columns=list(TRADES_COLUMNS))
    labels = ["instrument", "venue", "aggressor", "purpose"]
    return frame.astype({name: "category" for name in labels}).astype(
        {"maker_order_id": "Int64", "taker_order_id": "Int64"}
    )


def _tiny_run(scenario_yaml: str = SCENARIO_YAML) -> RunResult:
    """A hand-made run: market maker 1 trades, market maker 2 holds 5 lots and never trades.

    Market maker 1 buys 2 @ 99.5 (step 1), sells 1 @ 101.5 on its ask and rebalances 1 @ 98.5
    (step 2), and buys 3 hedge units @ 99.2 (step 2); trader 3 is every fill's counterparty.
    """
    rec = Recorder()
    for step, (mid, hedge_price) in enumerate(zip(MIDS, HEDGE_PRICES, strict=True)):
        rec.market(step, float(step), 100.0, mid - 0.5, mid + 0.5, 10, 10, None, 0, hedge_price)
    trades = _trades(
        [
            (1, 99.5, 2, "sell", 1, 3, "taker"),
            (2, 101.5, 1, "buy", 3, 1, "taker"),
            (2, 98.5, 1, "sell", 3, 1, "rebalance"),
        ]
    )
    rec.event(2, EventKind.REBALANCE, 1, None, -1.0, notional=98.5, mid=99.0, requested=-1)
    cost = (HEDGE_FILL - HEDGE_PRICES[2]) * 3
    rec.event(2, EventKind.HEDGE, 1, None, 3.0, price=HEDGE_FILL, cost=cost)
    cash_after_step_2 = -199.0 + 101.5 + 98.5 - 3 * HEDGE_FILL
    # step: (inventory, cash, hedge, bid, ask)
    states = {
        1: [(0, 0.0, 0, None, None), (2, -199.0, 0, None, 102.0)],
        2: [(0, 0.0, 0, None, None), (0, cash_after_step_2, 3, 98.0, None)],
        3: [(0, 0.0, 0, None, None), (0, cash_after_step_2, 3, 99.0, None)],
    }
    opening = {1: states[1][0], 2: (5, -500.0, 0, None, None)}
    for step, (mid, hedge_price) in enumerate(zip(MIDS, HEDGE_PRICES, strict=True)):
        rows = {1: opening[1] if step == 0 else states[step][1], 2: opening[2]}
        for agent_id, (inventory, cash, hedge, bid, ask) in rows.items():
            equity = cash + inventory * mid + hedge * hedge_price
            initial = opening[agent_id][1] + opening[agent_id][0] * MIDS[0]
            group = "mm" if agent_id == 1 else "idle"
            rec.agent(
                step,
                agent_id,
                "market_maker",
                inventory,
                cash,
                equity,
                equity - initial,
                bid,
                ask,
                "NORMAL",
                "ACTIVE",
                group,
                hedge,
            )
        if step in (0, 3):
            rec.agent(step, 3, "noise", 0, 0.0, 0.0, 0.0, None, None, "NORMAL", "ACTIVE", "noise")
    result = RunResult.from_recorder(rec, scenario_yaml=scenario_yaml, summary={}, meta={})
    return dataclasses.replace(result, trades=trades)


# The hand-made crisis run: steps 0..2, mids 100, 102, 101, tick 0.01. Market maker 1 lent 100 to
# market maker 2; trader 3 is the counterparty of every book fill.
CRISIS_MIDS = (100.0, 102.0, 101.0)
CRISIS_SCENARIO = scenario_text(
    {"mark": "mid", "agents": {"mm": {"kind": "market_maker", "count": 2, "policy": _POLICY}}}
)


def _crisis_tiny_run() -> RunResult:
    """Every contagion flow once, by hand.

    Step 1, market maker 1: a 10.004 loss shock (10.00 in whole ticks), an inventory shock of
    +5 for 501, a margin-call sale of 2 @ 99 on the book, a quoting buy of 1 @ 99.5, and a
    hot-potato sale of 3 @ 99.9 to market maker 2. Step 2: market maker 2 defaults, 1 writes
    down 40 and calls 20 of the line; 2's liquidation sells 2 for 203 outside the book.
    """
    rec = Recorder()
    for step, mid in enumerate(CRISIS_MIDS):
        rec.market(step, float(step), 100.0, mid - 0.5, mid + 0.5, 10, 10, None, 0)
    trades = _trades(
        [
            (1, 99.0, 2, "sell", 3, 1, "margin_call"),
            (1, 99.5, 1, "sell", 1, 3, "taker"),
            (1, 99.9, 3, "sell", 2, 1, "interdealer"),
        ]
    )
    rec.event(1, EventKind.LOSS, 1, None, 10.004)
    rec.event(1, EventKind.INVENTORY_SHOCK, 1, None, 5.0, notional=501.0)
    margin = {"notional": 198.0, "mid": 100.0, "venue": "book"}
    rec.event(1, EventKind.MARGIN_CALL, 1, None, -2.0, **margin)  # type: ignore[arg-type]
    rec.event(1, EventKind.HOT_POTATO, 1, 2, -3.0, hop=1)
    rec.event(2, EventKind.DEFAULT, 2, None, 0.0, wave=1)
    rec.event(2, EventKind.WRITEDOWN, 1, 2, 40.0, wave=1)
    rec.event(2, EventKind.CREDIT_CALL, 1, 2, 20.0)
    rec.event(2, EventKind.LIQUIDATION, 2, None, -2.0, notional=203.0, mid=102.0, venue="outside")
    # agent: step -> (inventory, cash, claims - debts, status)
    states = {
        1: {0: (0, 900.0, 100.0), 1: (1, 787.2, 100.0), 2: (1, 807.2, 40.0)},
        2: {0: (0, 1100.0, -100.0), 1: (3, 800.3, -100.0), 2: (1, 983.3, -80.0)},
    }
    for agent_id, path in states.items():
        for step, (inventory, cash, net_claims) in path.items():
            equity = cash + inventory * CRISIS_MIDS[step] + net_claims
            status = "DEFAULTED" if agent_id == 2 and step == 2 else "ACTIVE"
            state = (inventory, cash, equity, equity - 1000.0, None, None, "NORMAL", status, "mm")
            rec.agent(step, agent_id, "market_maker", *state)
    result = RunResult.from_recorder(rec, scenario_yaml=CRISIS_SCENARIO, summary={}, meta={})
    return dataclasses.replace(result, trades=trades)


def _row(frame: pd.DataFrame, agent_id: int) -> pd.Series:
    return frame.set_index("agent_id").loc[agent_id]


def _assert_sums_to_pnl(result: RunResult) -> pd.DataFrame:
    table = pnl_decomposition(result)
    agents = result.agents
    last = agents[agents["step"] == agents["step"].max()]
    final_pnl = last[last["kind"] == "market_maker"].set_index("agent_id")["pnl"]
    assert list(table["agent_id"]) == sorted(final_pnl.index)
    for agent_id, total in zip(table["agent_id"], table["total"], strict=True):
        pnl = float(final_pnl.loc[agent_id])
        assert abs(total - pnl) <= 1e-9 * max(1.0, abs(pnl)), (agent_id, total, pnl)
    return table


def _crisis_run(changes: dict[str, Any]) -> RunResult:
    return abm.run(abm.Scenario.from_yaml_text(CRISIS_YAML).override(changes))


@pytest.fixture(scope="module")
def tiny() -> RunResult:
    return _tiny_run()


@pytest.fixture(scope="module")
def hedged_run() -> RunResult:
    scenario = abm.load_scenario(SCENARIOS / "baseline.yaml").override({"steps": 300, **HEDGED})
    return abm.run(scenario)


# --- the identity on real runs -------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_pnl_decomposition_sums_to_final_pnl_on_shipped_scenarios(path: Path) -> None:
    """Conservation: the six components add up to each market maker's recorded final pnl."""
    result = abm.run(abm.load_scenario(path).override({"steps": 300}))
    assert len(result.trades) > 0
    _assert_sums_to_pnl(result)


def test_pnl_decomposition_sums_to_final_pnl_with_hedging_and_rebalancing(
    hedged_run: RunResult,
) -> None:
    """Conservation with rebalancing fills and hedge trades present in the run."""
    kinds = set(hedged_run.events["kind"])
    assert {"rebalance", "hedge"} <= kinds
    table = _assert_sums_to_pnl(hedged_run).set_index("group")
    assert (table.loc["mm_symmetric", "hedge_costs"] < 0).all()
    assert (table.loc["mm_symmetric", "rebalancing_cost"] != 0).any()
    assert (table.loc["mm", ["hedging_pnl", "hedge_costs", "rebalancing_cost"]] == 0).all(axis=None)


def test_pnl_decomposition_total_does_not_depend_on_horizon(hedged_run: RunResult) -> None:
    """The horizon only moves P&L between adverse selection and inventory P&L."""
    short = pnl_decomposition(hedged_run, horizon_steps=0)
    long = pnl_decomposition(hedged_run, horizon_steps=50)
    assert (short["adverse_selection"] == 0).all()
    np.testing.assert_allclose(long["total"], short["total"], rtol=0, atol=1e-9)
    moved = long["adverse_selection"] + long["inventory_pnl"] - short["inventory_pnl"]
    np.testing.assert_allclose(moved, 0.0, atol=1e-9)


def test_pnl_decomposition_market_maker_without_fills_has_zero_spread_capture() -> None:
    """Quotes 5.0 wide are never reached: no fills, so every quoting term is exactly zero."""
    spec = {"steps": 300, "agents.mm_symmetric.policy": {"kind": "symmetric", "spread": 5.0}}
    result = abm.run(abm.load_scenario(SCENARIOS / "baseline.yaml").override(spec))
    table = _assert_sums_to_pnl(result).set_index("group").loc["mm_symmetric"]
    assert (table[["spread_capture", "adverse_selection", "total"]] == 0.0).all(axis=None)
    assert (efficiency_metrics(result).set_index("group").loc["mm_symmetric", "n_fills"] == 0).all()


@pytest.mark.parametrize("variant", sorted(CRISIS_VARIANTS))
def test_pnl_decomposition_sums_to_final_pnl_on_crisis_runs(variant: str) -> None:
    """Conservation: the ten components add up to the pnl in every crisis variant.

    The variants cover defaults and write-downs, fire sales on and off the book, margin calls,
    hot-potato trades, default shocks, loss shocks (one not a whole number of ticks) and
    inventory shocks, marked at the mid and at the fundamental.
    """
    changes, active = CRISIS_VARIANTS[variant]
    result = _crisis_run(changes)
    table = _assert_sums_to_pnl(result)
    for column in active:
        assert (table[column] != 0.0).any(), column


def test_pnl_decomposition_contagion_columns_match_the_run_summary() -> None:
    """Write-downs and loss shocks are the losses summary.json books under default and loss."""
    result = _crisis_run({})
    table = _assert_sums_to_pnl(result)
    losses = result.summary["losses_by_channel"]
    assert table["credit_losses"].sum() == pytest.approx(-losses["default"], abs=1e-9)
    assert table["external"].sum() == pytest.approx(-losses["loss"], abs=1e-9)


def test_pnl_decomposition_interdealer_terms_cancel_between_dealers() -> None:
    """An inter-dealer trade moves the same edge from one market maker to the other: sum 0."""
    changes, _ = CRISIS_VARIANTS["hot_potato"]
    table = _assert_sums_to_pnl(_crisis_run(changes))
    assert (table["interdealer"] != 0.0).sum() >= 2
    assert table["interdealer"].sum() == pytest.approx(0.0, abs=1e-9)


# --- hand-computed components --------------------------------------------------------------------


def test_pnl_decomposition_hand_computed_components(tiny: RunResult) -> None:
    """Each component computed by hand for the tiny run at H=1 (sums to the pnl, 3.4).

    spread 2*0.5 + 1*0.5; adverse 2*(101-100) - (99-101); rebalancing -(101-98.5);
    inventory 2*1 - 4; hedge 3*(100-99); costs -3*0.2.
    """
    row = _row(pnl_decomposition(tiny, horizon_steps=1), 1)
    expected = {
        "spread_capture": 1.5,
        "adverse_selection": 4.0,
        "rebalancing_cost": -2.5,
        "inventory_pnl": -2.0,
        "hedging_pnl": 3.0,
        "hedge_costs": -0.6,
        "total": 3.4,
        "pnl": 3.4,
    }
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, abs=1e-12), column
    assert row["group"] == "mm"


@pytest.mark.parametrize(("horizon", "adverse"), [(0, 0.0), (2, -1.0), (10, 1.0)])
def test_pnl_decomposition_adverse_selection_at_horizon(
    tiny: RunResult, horizon: int, adverse: float
) -> None:
    """By hand: 2*(m_h - m_0) - (m_{1+h} - m_1), horizons capped at the last step (T=3)."""
    row = _row(pnl_decomposition(tiny, horizon_steps=horizon), 1)
    assert row["adverse_selection"] == pytest.approx(adverse, abs=1e-12)
    assert row["inventory_pnl"] == pytest.approx(2.0 - adverse, abs=1e-12)
    assert row["total"] == pytest.approx(3.4, abs=1e-12)


def test_pnl_decomposition_idle_holder_earns_only_inventory_pnl(tiny: RunResult) -> None:
    """A market maker holding 5 lots without trading: all its P&L is 5 * (m_T - m_0) = 0."""
    row = _row(pnl_decomposition(tiny), 2)
    assert row["spread_capture"] == 0.0
    assert row["rebalancing_cost"] == 0.0
    assert row["total"] == pytest.approx(row["pnl"], abs=1e-12)


def test_pnl_decomposition_marks_at_fundamental_when_the_scenario_says_so() -> None:
    """With mark: fundamental (constant 100) nothing moves: adverse and inventory terms vanish."""
    fundamental = scenario_text({"agents": TINY_AGENTS, "mark": "fundamental"})
    row = _row(pnl_decomposition(_tiny_run(fundamental)), 1)
    assert row["adverse_selection"] == 0.0
    assert row["inventory_pnl"] == 0.0
    assert row["spread_capture"] == pytest.approx(2 * 0.5 - (100 - 101.5), abs=1e-12)


def test_pnl_decomposition_columns_and_only_market_makers(tiny: RunResult) -> None:
    """One row per market maker (the noise trader is left out), in the documented columns."""
    table = pnl_decomposition(tiny)
    assert tuple(table.columns) == DECOMPOSITION_COLUMNS
    assert list(table["agent_id"]) == [1, 2]


def test_pnl_decomposition_rejects_negative_horizon(tiny: RunResult) -> None:
    """A negative horizon has no meaning."""
    with pytest.raises(ValueError, match="horizon_steps"):
        pnl_decomposition(tiny, horizon_steps=-1)


def test_pnl_decomposition_rejects_missing_market_maker_rows(tiny: RunResult) -> None:
    """Exactness needs a market maker's inventory at every step."""
    agents = tiny.agents
    gappy = agents[~((agents["agent_id"] == 1) & (agents["step"] == 2))]
    broken = dataclasses.replace(tiny, agents=gappy)
    with pytest.raises(ValueError, match="every step"):
        pnl_decomposition(broken)


def test_pnl_decomposition_rejects_unknown_mark() -> None:
    """Only the marks the model implements are accepted."""
    median = SCENARIO_YAML.replace("\nmark: mid\n", "\nmark: median\n")
    assert median != SCENARIO_YAML
    with pytest.raises(ValueError, match="mark"):
        pnl_decomposition(_tiny_run(median))


def test_pnl_decomposition_hand_computed_contagion_components() -> None:
    """Each contagion column by hand at H=1 (m = 100, 102, 101); totals -51.8 and 4.3.

    Dealer 1: spread 1*(100-99.5); adverse 1*(102-100); forced -2*(100-99); inter-dealer
    -3*(100-99.9); inventory 1*2 + 1*(-1) - 2; credit -40; external 5*(100-100.2) - 10.00.
    Dealer 2: forced -2*(102-101.5); inter-dealer +0.3; inventory 3*2 + 1*(-1).
    """
    table = pnl_decomposition(_crisis_tiny_run(), horizon_steps=1)
    expected = {
        1: {
            "spread_capture": 0.5,
            "adverse_selection": 2.0,
            "rebalancing_cost": 0.0,
            "forced_sales": -2.0,
            "interdealer": -0.3,
            "inventory_pnl": -1.0,
            "hedging_pnl": 0.0,
            "hedge_costs": 0.0,
            "credit_losses": -40.0,
            "external": -11.0,
            "total": -51.8,
            "pnl": -51.8,
        },
        2: {
            "spread_capture": 0.0,
            "adverse_selection": 0.0,
            "forced_sales": -1.0,
            "interdealer": 0.3,
            "inventory_pnl": 5.0,
            "credit_losses": 0.0,
            "external": 0.0,
            "total": 4.3,
            "pnl": 4.3,
        },
    }
    for agent_id, columns in expected.items():
        row = _row(table, agent_id)
        for column, value in columns.items():
            assert row[column] == pytest.approx(value, abs=1e-9), (agent_id, column)


def test_pnl_decomposition_contagion_columns_vanish_without_contagion(tiny: RunResult) -> None:
    """No forced sales, inter-dealer trades, write-downs or shocks: those columns are 0.0."""
    table = pnl_decomposition(tiny)
    columns = ["forced_sales", "interdealer", "credit_losses", "external"]
    assert (table[columns] == 0.0).all(axis=None)


def test_mark_prices_mid_falls_back_to_last_then_fundamental() -> None:
    """The model's rule: mid if two-sided, else last trade price, else fundamental."""
    market = pd.DataFrame(
        {
            "fundamental": [100.0, 101.0, 102.0],
            "mid": [math.nan, math.nan, 99.5],
            "last_price": [math.nan, 98.0, 98.0],
        }
    )
    np.testing.assert_array_equal(mark_prices(market), [100.0, 98.0, 99.5])
    np.testing.assert_array_equal(mark_prices(market, "fundamental"), [100.0, 101.0, 102.0])


# --- efficiency ----------------------------------------------------------------------------------


def test_efficiency_metrics_hand_computed(tiny: RunResult) -> None:
    """Each metric computed by hand for the tiny run's trading market maker.

    5 side-steps offered x 2 lots, 3 quoting lots filled; both sides 2 of 3 steps; |q| = 2 at
    1 of 3 steps; pnl path 0, 3, 0.4, 3.4 (drawdown 2.6); 4 lots in 3 fills.
    """
    row = _row(efficiency_metrics(tiny), 1)
    changes = [3.0, 0.4 - 3.0, 3.0]
    expected = {
        "fill_ratio": 0.3,
        "quote_uptime_both": 2 / 3,
        "quote_uptime_any": 1.0,
        "time_at_limit": 1 / 3,
        "pnl_per_volume": 3.4 / 4,
        "sharpe": statistics.mean(changes) / statistics.stdev(changes),
        "volume": 4,
        "n_fills": 3,
        "max_drawdown": 2.6,
    }
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, abs=1e-12), column


def test_efficiency_metrics_undefined_without_sizes_limits_or_volume(tiny: RunResult) -> None:
    """No quote size, no limit, no trades, constant inventory: the ratios are NaN."""
    table = efficiency_metrics(tiny)
    assert tuple(table.columns) == EFFICIENCY_COLUMNS
    row = _row(table, 2)
    for column in ("fill_ratio", "time_at_limit", "pnl_per_volume", "inventory_half_life"):
        assert math.isnan(row[column]), column
    assert row["quote_uptime_any"] == 0.0


def test_efficiency_metrics_on_a_run_are_in_range(hedged_run: RunResult) -> None:
    """Fractions lie in [0, 1], drawdowns are non-negative, volume covers the fills."""
    table = efficiency_metrics(hedged_run)
    for column in ("fill_ratio", "quote_uptime_both", "quote_uptime_any", "time_at_limit"):
        assert table[column].between(0.0, 1.0).all(), column
    assert (table["quote_uptime_both"] <= table["quote_uptime_any"]).all()
    assert (table["max_drawdown"] >= 0).all()
    assert (table["volume"] >= table["n_fills"]).all()


def test_efficiency_metrics_leave_out_forced_and_interdealer_fills() -> None:
    """Dealer 1's book fills are the margin sale (2) and a quote (1); inter-dealer 3 is not."""
    row = _row(efficiency_metrics(_crisis_tiny_run()), 1)
    assert row["volume"] == 3
    assert row["n_fills"] == 2
    assert _row(efficiency_metrics(_crisis_tiny_run()), 2)["volume"] == 0


def test_ar1_half_life_recovers_simulated_phi() -> None:
    """A simulated AR(1) with phi = 0.8 gives back phi = 0.5 ** (1 / half-life) within 0.02."""
    rng = np.random.default_rng(SEED)
    phi, n = 0.8, 20_000
    shocks = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = 0.0
    for t in range(1, n):
        x[t] = 3.0 + phi * x[t - 1] + shocks[t]
    half_life = ar1_half_life(x)
    assert 0.5 ** (1.0 / half_life) == pytest.approx(phi, abs=0.02)


def test_ar1_half_life_nan_without_decay() -> None:
    """A constant series, an alternating one (phi < 0) and a trend (phi = 1) have no half-life."""
    assert math.isnan(ar1_half_life(np.full(50, 7.0)))
    assert math.isnan(ar1_half_life(np.tile([1.0, -1.0], 25)))
    assert math.isnan(ar1_half_life(np.arange(50.0)))
    assert math.isnan(ar1_half_life([1.0, 2.0]))


def test_per_step_sharpe_constant_series_is_nan() -> None:
    """Zero dispersion of changes (flat or linear pnl) leaves the ratio undefined."""
    assert math.isnan(per_step_sharpe(np.full(10, 5.0)))
    assert math.isnan(per_step_sharpe(np.arange(10.0)))
    assert math.isnan(per_step_sharpe([0.0, 1.0]))


def test_per_step_sharpe_known_value() -> None:
    """Changes 1 and 3: mean 2, sample sd sqrt(2), ratio sqrt(2)."""
    assert per_step_sharpe([0.0, 1.0, 4.0]) == pytest.approx(math.sqrt(2.0), rel=1e-12)
