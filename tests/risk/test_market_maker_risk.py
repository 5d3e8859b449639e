"""Market makers with inventory-risk tools inside small model runs (issue 4).

Sources of the expected values: the conservation law of DESIGN.md section 5 extended to the
hedge venue (`MarketModel.totals`, `MarketModel.hedge_totals`); the issue's validation that a
delta-neutral market maker's equity does not move with a price gap beyond fees and basis
(equity marked at the fundamental, so the change over a step is net delta x move, plus
trading P&L against the mark, minus hedge costs fee x |q| + impact x q**2); the quoting rules
of `MarketMaker` (gap windows, regimes, withdrawal); and the hedge / rebalance contracts in
`abm.market.hedge` and `abm.risk.rebalancing`. Where a test needs what the market maker sent to the
book venue, it wraps ``model.book_venue.limit`` / ``model.book_venue.market`` on that model only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abm.model import MarketModel
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario, load_scenario

TICK = 0.01
NOISE = {"kind": "noise", "count": 30, "arrival": {"kind": "poisson", "rate": 0.15}}
# Ten noise traders that only sell at market, each with probability 0.5 a step.
SELLERS = {
    "kind": "noise",
    "count": 10,
    "arrival": {"kind": "bernoulli", "rate": 0.5},
    "mix": {"market": 1.0, "limit": 0.0, "cancel": 0.0},
    "buy_prob": 0.0,
}


def _document(agents: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A flat fundamental at 100 marked at the fundamental, unless ``top`` says otherwise."""
    document: dict[str, Any] = {
        "name": "mm_risk",
        "seed": 7,
        "steps": 30,
        "tick_size": TICK,
        "mark": "fundamental",
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
        "agents": agents,
    }
    document.update(top)
    return document


def _mm(**fields: Any) -> dict[str, Any]:
    """One market maker quoting a symmetric 0.1 spread around the fundamental."""
    spec: dict[str, Any] = {
        "kind": "market_maker",
        "count": 1,
        "policy": {"kind": "symmetric", "spread": 0.1},
        "reference": "fundamental",
        "volatility": {"kind": "given", "sigma": 0.05},
    }
    spec.update(fields)
    return spec


def _finish(model: MarketModel) -> RunResult:
    return RunResult.from_recorder(
        model.recorder, scenario_yaml=model.scenario.to_yaml(), summary={}, meta={}
    )


def _run(document: dict[str, Any], each_step: Callable[[MarketModel], None] | None = None):
    """Run to the end; call ``each_step`` after every step; return the model and its tables."""
    model = MarketModel(Scenario.from_dict(document))
    for _ in range(model.scenario.steps):
        model.step()
        if each_step is not None:
            each_step(model)
    return model, _finish(model)


def _group(result: RunResult, group: str) -> pd.DataFrame:
    """The agents rows of one group's single market maker, indexed by step."""
    agents = result.agents
    return agents[agents["group"] == group].set_index("step")


def _events(result: RunResult, kind: str, agent_id: int | None = None) -> pd.DataFrame:
    events = result.events
    rows = events[events["kind"] == kind]
    return rows if agent_id is None else rows[rows["agent_id"] == agent_id]


# --- conservation -------------------------------------------------------------------------


def test_market_maker_risk_conserves_cash_and_positions_every_step() -> None:
    """Totals equal the initial ones and hedge positions sum to 0 after every step, all tools on.

    Hedging (full, band, partial), rebalancing (all three rules), regimes, gap controls, basis
    noise, fees, impact, price gaps and a volatility spike are all active.
    """
    mm = {
        "policy": {"kind": "ho_stoll", "spread": 0.08, "skew": 0.002},
        "quote_size": 3,
        "max_inventory": 25,
        "volatility": {"kind": "ewma", "halflife_steps": 10, "initial_sigma": 0.05},
        "regimes": {
            "volatility": {"stressed": 0.1, "crisis": 0.2},
            "inventory_utilisation": {"stressed": 0.6, "crisis": 0.9},
            "min_steps": 5,
            "crisis": {"spread_mult": 3.0, "size_mult": 0.5, "withdraw": True},
        },
        "gap_controls": {
            "before_steps": 4,
            "after_steps": 4,
            "spread_mult": 2.0,
            "max_exposure": 8,
        },
    }
    agents = {
        "full": _mm(
            **mm,
            cash=500.0,
            inventory=6,
            hedge={"kind": "full"},
            rebalance={"kind": "scheduled", "band": 5, "horizon_steps": 3},
        ),
        "band": _mm(
            **mm,
            count=2,
            hedge={"kind": "band", "band": 4.5},
            rebalance={"kind": "proportional", "band": 6, "fraction": 0.4},
        ),
        "partial": _mm(
            **mm,
            inventory=-5,
            hedge={"kind": "partial", "fraction": 0.6},
            rebalance={"kind": "threshold", "band": 8, "target": 2},
        ),
        "informed": {
            "kind": "informed",
            "count": 5,
            "arrival": {"kind": "bernoulli", "rate": 0.2},
            "threshold": 0.02,
            "cash": 3.21,
        },
        "noise": {**NOISE, "mix": {"market": 0.4, "limit": 0.4, "cancel": 0.2}},
    }
    document = _document(
        agents,
        steps=400,
        fundamental={"kind": "arithmetic", "s0": 100.0, "sigma": 0.04},
        hedge_instrument={"basis_sd": 0.03, "fee": 0.003, "impact": 0.0007},
        shocks=[
            {"kind": "price_gap", "step": 120, "size": -0.8},
            {"kind": "price_gap", "step": 300, "size": 0.05, "relative": True, "announced": False},
            {"kind": "volatility", "step": 200, "until_step": 260, "multiplier": 4.0},
        ],
    )
    broken: list[int] = []

    def check(model: MarketModel) -> None:
        if model.totals() != model.initial_totals or model.hedge_totals() != 0:
            broken.append(model.step_index)

    _, result = _run(document, check)
    assert broken == []
    kinds = set(result.events["kind"])
    assert {"hedge", "rebalance", "regime", "price_gap", "gap_exposure"} <= kinds


# --- a price gap under a full hedge -----------------------------------------------------------

GAP_STEP, GAP_SIZE, START_INVENTORY = 5, 2.0, 10


def _gap_run(hedge: str) -> RunResult:
    """One market maker long 10 at 100, hedged as ``hedge``; a +2 gap at step 5.

    No basis, fee or impact; no takers, so it never trades in the book (a second market
    maker would pick off its stale quotes after the gap).
    """
    document = _document(
        {"mm": _mm(inventory=START_INVENTORY, hedge={"kind": hedge})},
        steps=10,
        hedge_instrument={"basis_sd": 0.0, "fee": 0.0, "impact": 0.0},
        shocks=[{"kind": "price_gap", "step": GAP_STEP, "size": GAP_SIZE}],
    )
    return _run(document)[1]


@pytest.fixture(scope="module")
def hedged_gap_run() -> RunResult:
    return _gap_run("full")


@pytest.fixture(scope="module")
def naked_gap_run() -> RunResult:
    return _gap_run("none")


def _gap_step_equity_change(result: RunResult) -> float:
    equity = _group(result, "mm")["equity"]
    return float(equity.loc[GAP_STEP] - equity.loc[GAP_STEP - 1])


def test_market_maker_full_hedge_equity_flat_across_gap(hedged_gap_run: RunResult) -> None:
    """Delta neutral, zero fee/impact/basis: equity is the same before and after the gap step."""
    assert _group(hedged_gap_run, "mm").loc[GAP_STEP - 1, "net_delta"] == 0
    assert _gap_step_equity_change(hedged_gap_run) == pytest.approx(0.0, abs=1e-9)


def test_market_maker_full_hedge_costs_nothing_without_fee(hedged_gap_run: RunResult) -> None:
    """Zero fee and impact on a grid price: hedging 10 lots leaves equity at its start."""
    mm = _group(hedged_gap_run, "mm")
    assert mm.loc[1, "hedge"] == -START_INVENTORY
    assert (mm["pnl"].abs() < 1e-9).all()


def test_market_maker_unhedged_equity_moves_by_inventory_times_gap(
    naked_gap_run: RunResult,
) -> None:
    """Control: unhedged, equity moves by inventory x gap = 10 x 2 at the gap step."""
    assert _gap_step_equity_change(naked_gap_run) == pytest.approx(
        START_INVENTORY * GAP_SIZE, abs=1e-9
    )


def test_market_maker_gap_exposure_is_net_delta_times_gap(
    hedged_gap_run: RunResult, naked_gap_run: RunResult
) -> None:
    """Gap-exposure events: 0 for the hedged market maker, 10 x 2 for the unhedged one."""
    assert list(_events(hedged_gap_run, "gap_exposure")["amount"]) == [0.0]
    assert list(_events(naked_gap_run, "gap_exposure")["amount"]) == [START_INVENTORY * GAP_SIZE]


FEE, IMPACT, REBALANCE_GAP_STEP = 0.02, 0.01, 3


@pytest.fixture(scope="module")
def costly_gap_run() -> RunResult:
    """A fully hedged market maker long 12 unwinds 3 a step (TWAP) into a liquidity provider.

    Hedge fee 0.02 and impact 0.01 per lot (both on the tick grid), no basis; a +1 gap at
    step 3, while the rebalancing (and so the re-hedging) goes on.
    """
    agents = {
        "hedger": _mm(
            policy={"kind": "symmetric", "spread": 0.4},
            inventory=12,
            rebalance={"kind": "scheduled", "horizon_steps": 4},
            hedge={"kind": "full"},
        ),
        "lp": _mm(quote_size=10),
    }
    document = _document(
        agents,
        steps=6,
        hedge_instrument={"basis_sd": 0.0, "fee": FEE, "impact": IMPACT},
        shocks=[{"kind": "price_gap", "step": REBALANCE_GAP_STEP, "size": 1.0}],
    )
    return _run(document)[1]


def test_market_maker_full_hedge_gap_step_pnl_is_trading_minus_hedge_cost(
    costly_gap_run: RunResult,
) -> None:
    """Equity change over the gap step is trading P&L minus hedge cost; the gap adds nothing.

    Trading P&L is the sum over the step's fills of signed qty x (fundamental - price); the
    hedge cost of the step's hedge trade h is fee x |h| + impact x h**2.
    """
    run, step = costly_gap_run, REBALANCE_GAP_STEP
    hedger = _group(run, "hedger")
    agent_id = int(hedger["agent_id"].iloc[0])
    assert hedger.loc[step - 1, "net_delta"] == 0  # delta neutral when the gap hits
    fundamental = float(run.market.set_index("step").loc[step, "fundamental"])
    trades = run.trades[run.trades["step"] == step]
    signed = np.where(trades["buyer"] == agent_id, 1, 0) - np.where(
        trades["seller"] == agent_id, 1, 0
    )
    assert signed.any()  # the hedger did trade in the book at the gap step
    trading = float((signed * trades["qty"] * (fundamental - trades["price"])).sum())
    hedges = _events(run, "hedge", agent_id)
    (qty,) = hedges.loc[hedges["step"] == step, "amount"]
    hedge_cost = FEE * abs(qty) + IMPACT * qty * qty
    change = hedger.loc[step, "equity"] - hedger.loc[step - 1, "equity"]
    assert change == pytest.approx(trading - hedge_cost, abs=1e-9)


def test_market_maker_hedge_event_cost_is_fee_plus_impact(costly_gap_run: RunResult) -> None:
    """Every hedge event's reported cost is fee x |q| + impact x q**2 (grid prices, no basis)."""
    hedges = _events(costly_gap_run, "hedge")
    assert len(hedges) >= 3
    for qty, cost in zip(hedges["amount"], hedges["cost"], strict=True):
        assert cost == pytest.approx(FEE * abs(qty) + IMPACT * qty * qty, abs=1e-9)


# --- gap controls ---------------------------------------------------------------------------

WINDOW_GAP, BEFORE, AFTER, MAX_EXPOSURE = 6, 5, 4, 6
WINDOW = range(WINDOW_GAP - BEFORE, WINDOW_GAP + AFTER + 1)  # steps 1..10


@dataclass
class _Quotes:
    """A run's tables and the market maker's quotes as sent: (step, is_buy, price_ticks, qty)."""

    result: RunResult
    sent: list[tuple[int, bool, int, int]]


def _gap_controls_run(gap_controls: dict[str, Any] | None) -> _Quotes:
    """A market maker quoting 4 lots against noise sellers; an announced -1 gap at step 6."""
    mm = _mm(quote_size=4)
    if gap_controls is not None:
        mm["gap_controls"] = gap_controls
    document = _document(
        {"mm": mm, "sellers": SELLERS},
        shocks=[{"kind": "price_gap", "step": WINDOW_GAP, "size": -1.0}],
    )
    model = MarketModel(Scenario.from_dict(document))
    sent: list[tuple[int, bool, int, int]] = []
    original = model.book_venue.limit

    def spy(trader: Any, is_buy: bool, price_ticks: int, qty: int, **kw: Any) -> Any:
        if trader.kind == "market_maker":
            sent.append((model.step_index, is_buy, price_ticks, qty))
        return original(trader, is_buy, price_ticks, qty, **kw)

    model.book_venue.limit = spy  # type: ignore[method-assign]
    for _ in range(model.scenario.steps):
        model.step()
    return _Quotes(_finish(model), sent)


@pytest.fixture(scope="module")
def controlled() -> _Quotes:
    """Gap controls: spread x3, size x0.5, |inventory| <= 6 on steps 1..10."""
    controls = {
        "before_steps": BEFORE,
        "after_steps": AFTER,
        "spread_mult": 3.0,
        "size_mult": 0.5,
        "max_exposure": MAX_EXPOSURE,
    }
    return _gap_controls_run(controls)


def _half_spreads_ticks(quotes: _Quotes, inside: bool) -> set[int]:
    fundamental = quotes.result.market.set_index("step")["fundamental"]
    out = set()
    for step, is_buy, price_ticks, _ in quotes.sent:
        if (step in WINDOW) == inside:
            centre = round(fundamental.loc[step] / TICK)
            out.add(centre - price_ticks if is_buy else price_ticks - centre)
    return out


def test_market_maker_gap_controls_widen_quotes_inside_window(controlled: _Quotes) -> None:
    """Inside the window every quote sits 3 x 0.05 = 15 ticks from the fundamental; 5 outside."""
    assert _half_spreads_ticks(controlled, inside=True) == {15}
    assert _half_spreads_ticks(controlled, inside=False) == {5}


def test_market_maker_gap_controls_shrink_size_inside_window(controlled: _Quotes) -> None:
    """Inside the window every quote is 4 x 0.5 = 2 lots; outside it is 4."""
    inside = {qty for step, _, _, qty in controlled.sent if step in WINDOW}
    outside = {qty for step, _, _, qty in controlled.sent if step not in WINDOW}
    assert inside == {2}
    assert outside == {4}


def test_market_maker_gap_controls_cap_inventory_inside_window(controlled: _Quotes) -> None:
    """One-sided selling cannot push |inventory| above max_exposure inside the window."""
    inventory = _group(controlled.result, "mm")["inventory"]
    assert inventory.loc[list(WINDOW)].abs().max() <= MAX_EXPOSURE
    assert inventory.loc[list(WINDOW)].max() == MAX_EXPOSURE  # the cap binds
    assert inventory.loc[WINDOW.stop :].max() > MAX_EXPOSURE  # and only in the window


def test_market_maker_without_gap_controls_exceeds_cap() -> None:
    """Control: the same flow without gap controls takes inventory past 6 inside the window."""
    inventory = _group(_gap_controls_run(None).result, "mm")["inventory"]
    assert inventory.loc[list(WINDOW)].max() > MAX_EXPOSURE


def test_market_maker_gap_controls_bring_inventory_within_cap() -> None:
    """Entering the window long 31 with max_exposure 6, it sells the excess and stays within 6.

    A wider liquidity provider gives it bids to sell into; the window is steps 9..15.
    """
    mm = _mm(quote_size=4, gap_controls={"before_steps": 3, "after_steps": 3, "max_exposure": 6})
    agents = {
        "mm": mm,
        "lp": _mm(policy={"kind": "symmetric", "spread": 0.3}, quote_size=20),
        "sellers": SELLERS,
    }
    document = _document(agents, shocks=[{"kind": "price_gap", "step": 12, "size": -1.0}])
    result = _run(document)[1]
    inventory = _group(result, "mm")["inventory"]
    assert inventory.loc[8] > 6  # the window opens with too much inventory
    # on entering the window it sells the whole excess at once; what the book cannot absorb
    # (the liquidity provider's bid holds 18 lots then) is sold at the next step
    first = _events(result, "rebalance").set_index("step")
    assert first.loc[9, "requested"] == -(inventory.loc[8] - 6)
    assert inventory.loc[10:15].abs().max() <= 6


# --- withdrawal in CRISIS ---------------------------------------------------------------------


def _crisis_run(withdraw: bool) -> RunResult:
    """Long 10 at 100 with a drawdown trigger (crisis at 8); a -1 gap at step 5 -> CRISIS."""
    regimes = {"drawdown": {"stressed": 4.0, "crisis": 8.0}, "crisis": {"withdraw": withdraw}}
    document = _document(
        {"mm": _mm(inventory=10, quote_size=3, regimes=regimes)},
        steps=12,
        shocks=[{"kind": "price_gap", "step": 5, "size": -1.0}],
    )
    return _run(document)[1]


def test_market_maker_crisis_withdraw_cancels_both_quotes() -> None:
    """In CRISIS with withdraw, neither quote is in the book (both sides' depth is zero)."""
    result = _crisis_run(withdraw=True)
    mm = _group(result, "mm")
    market = result.market.set_index("step")
    crisis = mm.index[mm["regime"] == "CRISIS"]
    assert list(crisis) == list(range(5, 13))
    assert mm.loc[4, ["bid", "ask"]].notna().all()  # quoting before the crisis
    assert mm.loc[crisis, ["bid", "ask"]].isna().all().all()
    assert (market.loc[crisis, ["bid_depth", "ask_depth"]] == 0).all().all()


def test_market_maker_crisis_without_withdraw_keeps_quoting() -> None:
    """Control: in CRISIS without withdraw both quotes stay in the book."""
    result = _crisis_run(withdraw=False)
    mm = _group(result, "mm")
    crisis = mm.index[mm["regime"] == "CRISIS"]
    assert len(crisis) > 0
    assert mm.loc[crisis, ["bid", "ask"]].notna().all().all()


# --- band versus full hedging -------------------------------------------------------------

BAND, QUOTE_SIZE = 6.0, 3


def _hedging_run(hedge: dict[str, Any]) -> RunResult:
    """One inventory-skewed market maker against noise traders, 300 steps, random fundamental."""
    mm = _mm(
        policy={"kind": "ho_stoll", "spread": 0.06, "skew": 0.001},
        quote_size=QUOTE_SIZE,
        hedge=hedge,
    )
    document = _document(
        {"mm": mm, "noise": NOISE},
        steps=300,
        fundamental={"kind": "arithmetic", "s0": 100.0, "sigma": 0.03},
        hedge_instrument={"basis_sd": 0.01, "fee": 0.001},
    )
    return _run(document)[1]


@pytest.fixture(scope="module")
def band_run() -> RunResult:
    return _hedging_run({"kind": "band", "band": BAND})


@pytest.fixture(scope="module")
def full_run() -> RunResult:
    return _hedging_run({"kind": "full"})


def test_market_maker_hedging_leaves_book_trading_unchanged(
    band_run: RunResult, full_run: RunResult
) -> None:
    """Hedges trade off the book, so band and full runs have the same inventory path."""
    band, full = _group(band_run, "mm"), _group(full_run, "mm")
    pd.testing.assert_series_equal(band["inventory"], full["inventory"])
    assert band["inventory"].abs().max() > 2 * BAND  # inventory does leave the band


def test_market_maker_band_hedge_trades_less_often_than_full(
    band_run: RunResult, full_run: RunResult
) -> None:
    """The no-trade band gives fewer hedge events than hedging to zero every step."""
    band, full = len(_events(band_run, "hedge")), len(_events(full_run, "hedge"))
    assert 0 < band < full


def _post_hedge(result: RunResult) -> pd.DataFrame:
    """Net delta before and after each step's hedge (the market maker acts before the takers)."""
    mm = _group(result, "mm")
    hedges = _events(result, "hedge").groupby("step")["amount"].sum()
    steps = mm.index[mm.index > 0]
    before = mm["net_delta"].shift(1).loc[steps]
    qty = hedges.reindex(steps, fill_value=0.0)
    return pd.DataFrame({"before": before, "qty": qty, "after": before + qty})


def test_market_maker_band_hedge_keeps_post_hedge_net_delta_within_band(
    band_run: RunResult,
) -> None:
    """After each step's hedge |net delta| <= band; it trades iff outside, to the band's edge."""
    post = _post_hedge(band_run)
    assert (post["after"].abs() <= BAND).all()
    traded = post["qty"] != 0
    assert (traded == (post["before"].abs() > BAND)).all()
    assert (post.loc[traded, "after"].abs() == BAND).all()


def test_market_maker_band_hedge_recorded_net_delta_bounded(band_run: RunResult) -> None:
    """End-of-step net delta (after takers hit the quotes) is within band + quote size."""
    net_delta = _group(band_run, "mm")["net_delta"]
    assert net_delta.abs().max() <= BAND + QUOTE_SIZE


def test_market_maker_full_hedge_is_neutral_after_each_hedge(full_run: RunResult) -> None:
    """Full hedging: net delta is zero right after every step's hedge."""
    assert (_post_hedge(full_run)["after"] == 0).all()


# --- rebalancing events ---------------------------------------------------------------------


@dataclass
class _MarketOrder:
    """One market order sent by a market maker: inventory change and its rows in ``trades``."""

    step: int
    agent_id: int
    is_buy: bool
    requested: int
    inventory_change: int
    first_fill: int
    end_fill: int


_RebalanceRun = tuple[RunResult, list[_MarketOrder]]


@pytest.fixture(scope="module")
def rebalance_run() -> _RebalanceRun:
    """Three rebalancing market makers, a wider liquidity provider and noise traders, 250 steps.

    The rules are threshold, proportional and TWAP; every market order a market maker sends
    is recorded with its inventory change and its range of rows in ``trades``.
    """
    skewless = {"policy": {"kind": "symmetric", "spread": 0.08}, "quote_size": 2}
    agents = {
        "threshold": _mm(**skewless, rebalance={"kind": "threshold", "band": 4}),
        "proportional": _mm(
            **skewless, inventory=9, rebalance={"kind": "proportional", "band": 2, "fraction": 0.5}
        ),
        "scheduled": _mm(
            **skewless, rebalance={"kind": "scheduled", "band": 3, "horizon_steps": 3, "target": -2}
        ),
        "lp": _mm(policy={"kind": "symmetric", "spread": 0.12}, quote_size=6),
        "noise": {**NOISE, "mix": {"market": 0.8, "limit": 0.1, "cancel": 0.1}},
    }
    document = _document(
        agents, steps=250, fundamental={"kind": "arithmetic", "s0": 100.0, "sigma": 0.02}
    )
    model = MarketModel(Scenario.from_dict(document))
    exchange = model.exchange
    original = model.book_venue.market
    orders: list[_MarketOrder] = []

    def spy(trader: Any, is_buy: bool, qty: int, **kw: Any) -> Any:
        inventory, first = trader.inventory, exchange.fills
        result = original(trader, is_buy, qty, **kw)
        if trader.kind == "market_maker":
            signed = qty if is_buy else -qty
            change = trader.inventory - inventory
            orders.append(
                _MarketOrder(
                    model.step_index,
                    trader.unique_id,
                    is_buy,
                    signed,
                    change,
                    first,
                    exchange.fills,
                )
            )
        return result

    model.book_venue.market = spy  # type: ignore[method-assign]
    for _ in range(model.scenario.steps):
        model.step()
    return _finish(model), [o for o in orders if o.end_fill > o.first_fill]


def test_market_maker_rebalance_event_per_filled_market_order(rebalance_run: _RebalanceRun) -> None:
    """One "rebalance" event per filled market order, same step and agent, in order."""
    result, orders = rebalance_run
    events = _events(result, "rebalance")
    assert len(orders) >= 20
    assert list(events["step"]) == [o.step for o in orders]
    assert list(events["agent_id"]) == [o.agent_id for o in orders]
    rebalancers = result.agents.loc[
        result.agents["group"].isin(["threshold", "proportional", "scheduled"]), "agent_id"
    ]
    assert set(events["agent_id"]) == set(rebalancers)  # every rule traded, nobody else did


def test_market_maker_rebalance_amount_is_inventory_change(rebalance_run: _RebalanceRun) -> None:
    """A rebalance event's amount equals the inventory change its market order caused."""
    result, orders = rebalance_run
    events = _events(result, "rebalance")
    assert list(events["amount"]) == [float(o.inventory_change) for o in orders]
    requested = [int(r) for r in events["requested"]]
    assert requested == [o.requested for o in orders]
    assert all(abs(o.inventory_change) <= abs(o.requested) for o in orders)


def test_market_maker_rebalance_notional_matches_trades(rebalance_run: _RebalanceRun) -> None:
    """A rebalance's notional is sum(price x qty) over its own ``trades`` rows (it is the taker)."""
    result, orders = rebalance_run
    trades = result.trades
    events = _events(result, "rebalance")
    for order, logged in zip(orders, events["notional"], strict=True):
        rows = trades.iloc[order.first_fill : order.end_fill]
        side = "buy" if order.is_buy else "sell"
        taker = rows["buyer"] if order.is_buy else rows["seller"]
        assert (rows["step"] == order.step).all()
        assert (rows["aggressor"] == side).all()
        assert (taker == order.agent_id).all()
        assert int(rows["qty"].sum()) == abs(order.inventory_change)
        notional = float((rows["price"] * rows["qty"]).sum())
        assert logged == pytest.approx(notional, abs=1e-9)


# --- regimes: the way back for a Ho-Stoll maker ----------------------------------------------

REGIMES_ON = (
    Path(__file__).resolve().parents[2] / "scenarios" / "inventory_risk" / "regimes_on.yaml"
)


def test_market_maker_ho_stoll_regime_returns_to_normal_once_volatility_clears() -> None:
    """regimes_on.yaml with a Ho-Stoll maker: 20 calm steps (sigma < 0.8 x 0.05) mean NORMAL.

    The scenario's trigger is the EWMA volatility of the mid (STRESSED at 0.05, CRISIS at
    0.08, exit 0.8, min_steps 10). From CRISIS the way back takes two steps down, each after
    10 steps in the regime, so 20 consecutive steps below the STRESSED exit level 0.04 must
    end in NORMAL (reported: makers stuck in STRESSED to the end of a run).
    """
    scenario = load_scenario(REGIMES_ON).override(
        {"agents.mm.policy": {"kind": "ho_stoll", "spread": 0.04, "skew": 0.002}}
    )
    model = MarketModel(scenario)
    (maker,) = model.market_makers
    sigmas, regimes = [], []
    while not model.finished:
        model.step()
        sigmas.append(maker.volatility.sigma)
        regimes.append(maker.regime.value)
    assert {"STRESSED", "CRISIS"} <= set(regimes[200:350])  # the 5x volatility spike
    assert set(regimes[:200]) == {"NORMAL"}
    calm = 0
    for step, (sigma, regime) in enumerate(zip(sigmas, regimes, strict=True), start=1):
        calm = calm + 1 if sigma < 0.8 * 0.05 else 0
        if calm >= 20:
            assert regime == "NORMAL", step
    assert regimes[-1] == "NORMAL"
