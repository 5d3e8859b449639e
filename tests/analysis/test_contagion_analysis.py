"""Tests for analysis.contagion and analysis.contagion_network: crisis metrics of a run."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import abm
from abm.network import debtrank
from abm.results.events import EventKind
from abm.results.recorder import Recorder
from abm.results.run_result import RunResult
from analysis.contagion import (
    CrisisWindow,
    cascade_depth,
    crisis_summary,
    default_waves,
    forced_sale_costs,
    infer_shock_step,
    liquidity_windows,
    losses_by_channel,
    max_dislocation,
    network_figure,
    recovery_steps,
)
from analysis.contagion_network import exposure_matrix, market_maker_ids, shock_debtrank
from tests._helpers import scenario_text

# A small crisis market: 10 market makers on a lending network with every channel on.
CRISIS_YAML = (Path(__file__).parents[1] / "data" / "scenarios" / "crisis_small.yaml").read_text(
    encoding="utf-8"
)
# A one-way ring (i lends 0.9 x 400 to i + 1) where a write-down of 360 breaches the threshold.
RING = {
    "network.topology": {"kind": "ring"},
    "network.channels.default.recovery_rate": 0.0,
    "network.channels.credit_lines": None,
    "agents.mm.default_threshold": 50.0,
    "shocks": [{"kind": "loss", "step": 150, "targets": [0], "amount": 420.0}],
}
POTATO = {"shocks": [{"kind": "inventory", "step": 150, "targets": [3], "qty": 200}]}

# --- the hand-made run -----------------------------------------------------------------------
# Steps 0..20, fundamental 100. Market makers 1..4 are network nodes 0..3; trader 5 is noise.
# Spread 0.02 and depth 100 except at steps 10..12 (spread 0.10, depth 20; step 11 has no ask);
# mids 100.5 at step 3 and 100.3 at step 15 (dislocations 0.5 and 0.3).
EventRow = tuple[int, EventKind, int | None, int | None, float, dict[str, Any]]
"""An event of the hand-made run: step, kind, agent, counterparty, amount and its fields."""
SCENARIO_YAML = scenario_text({"shocks": []})
NETWORK = [(1, 0, 40.0), (2, 1, 60.0), (3, 2, 20.0)]  # node 1 lent 40 to node 0, ...
EVENTS: list[EventRow] = [
    (
        3,
        EventKind.CONFIDENCE,
        2,
        None,
        0.5,
        {"confidence_from": "normal", "confidence_to": "stressed"},
    ),
    (10, EventKind.LOSS, 1, None, 150.0, {}),
    (10, EventKind.DEFAULT, 1, None, -50.0, {"wave": 1}),
    (10, EventKind.WRITEDOWN, 2, 1, 40.0, {"wave": 1}),
    (10, EventKind.DEFAULT, 2, None, -5.0, {"wave": 2}),
    (10, EventKind.WRITEDOWN, 3, 2, 30.0, {"wave": 2}),
    (11, EventKind.LIQUIDATION, 1, None, -4.0, {"notional": 396.0, "mid": 100.0, "venue": "book"}),
    (
        12,
        EventKind.MARGIN_CALL,
        3,
        None,
        -2.0,
        {"notional": 199.0, "mid": None, "venue": "outside"},
    ),
    (14, EventKind.INVENTORY_SHOCK, 3, None, 8.0, {"notional": 800.0}),
    (14, EventKind.HOT_POTATO, 3, 4, -6.0, {"hop": 1}),
    (15, EventKind.HOT_POTATO, 4, 3, -4.0, {"hop": 2}),
]


def _market_row(step: int) -> tuple[float | None, float | None, int, int]:
    """(best_bid, best_ask, bid_depth, ask_depth) of the hand-made run at ``step``."""
    mid = {3: 100.5, 15: 100.3}.get(step, 100.0)
    if step == 11:
        return mid - 0.05, None, 10, 0
    if 10 <= step <= 12:
        return mid - 0.05, mid + 0.05, 10, 10
    return mid - 0.01, mid + 0.01, 50, 50


def _hand_run(
    events: list[EventRow] | None = None,
    scenario_yaml: str = SCENARIO_YAML,
) -> RunResult:
    rec = Recorder()
    for step in range(21):
        bid, ask, bid_depth, ask_depth = _market_row(step)
        rec.market(step, float(step), 100.0, bid, ask, bid_depth, ask_depth, None, 0)
    rec.trade(
        14, 14.0, 100.0, 6, "sell", 4, 3, "interdealer", "underlying", "interdealer", None, None
    )
    rec.trade(
        15, 15.0, 100.0, 4, "sell", 3, 4, "interdealer", "underlying", "interdealer", None, None
    )
    rec.trade(15, 15.0, 100.0, 3, "buy", 5, 4, "book", "underlying", "taker", None, None)
    for step, kind, agent_id, counterparty, amount, fields in EVENTS if events is None else events:
        rec.event(step, kind, agent_id, counterparty, amount, **fields)
    for source, target, exposure in NETWORK:
        rec.network_edge(source, target, exposure, 10)
    for step in (0, 20):
        for agent_id in (1, 2, 3, 4):
            status = "DEFAULTED" if step == 20 and agent_id in (1, 2) else "ACTIVE"
            state = (0, 100.0, 100.0, 0.0, None, None, "NORMAL", status, "mm")
            rec.agent(step, agent_id, "market_maker", *state)
        rec.agent(step, 5, "noise", 0, 0.0, 0.0, 0.0, None, None, "NORMAL", "ACTIVE", "noise")
    return RunResult.from_recorder(rec, scenario_yaml=scenario_yaml, summary={}, meta={})


@pytest.fixture(scope="module")
def hand() -> RunResult:
    return _hand_run()


@pytest.fixture(scope="module")
def hand_summary(hand: RunResult) -> dict[str, Any]:
    return crisis_summary(hand, window=CrisisWindow(before=5, during=3, after=5), smooth_steps=1)


def _run(changes: dict[str, Any]) -> RunResult:
    return abm.run(abm.Scenario.from_yaml_text(CRISIS_YAML).override(changes))


@pytest.fixture(scope="module")
def crisis_run() -> RunResult:
    return _run({})


@pytest.fixture(scope="module")
def ring_run() -> RunResult:
    return _run(RING)


# --- defaults and losses, hand-made tables ---------------------------------------------------


def test_default_waves_counts_defaults_and_deepest_wave_per_step(hand: RunResult) -> None:
    """Two defaults at step 10, in waves 1 and 2 (hand-made events)."""
    table = default_waves(hand.events)
    assert table.to_dict("list") == {"step": [10], "defaults": [2], "max_wave": [2]}
    assert cascade_depth(hand.events) == 2


def test_cascade_depth_is_zero_without_defaults_or_with_default_shocks_only(
    hand: RunResult,
) -> None:
    """No default events gives depth 0, and so do defaults of wave 0 (default shocks)."""
    assert cascade_depth(hand.events.iloc[:0]) == 0
    assert len(default_waves(hand.events.iloc[:0])) == 0
    shocked = _hand_run([(5, EventKind.DEFAULT, 1, None, 10.0, {"wave": 0})]).events
    assert cascade_depth(shocked) == 0


def test_forced_sale_costs_against_mid_with_fundamental_fallback(hand: RunResult) -> None:
    """Sell 4 for 396 at mid 100 costs 4; sell 2 for 199 with no mid costs 1 (fundamental 100)."""
    np.testing.assert_allclose(forced_sale_costs(hand.events, hand.market), [4.0, 1.0])
    assert math.isnan(forced_sale_costs(hand.events)[1])


def test_losses_by_channel_hand_computed(hand: RunResult) -> None:
    """Write-downs 40 + 30, the loss shock 150, forced-sale costs 4 + 1."""
    losses = losses_by_channel(hand.events, hand.market)
    assert losses == pytest.approx({"writedown": 70.0, "loss_shock": 150.0, "forced_sale": 5.0})


# --- the shock step --------------------------------------------------------------------------


def test_infer_shock_step_takes_the_first_shock_event(hand: RunResult) -> None:
    """The step-3 confidence event is not a shock; the step-10 loss shock is the first."""
    assert infer_shock_step(hand) == 10


def test_infer_shock_step_counts_default_shocks_but_not_cascade_defaults() -> None:
    """A default of wave 0 is a default shock; one of wave 1 is contagion."""
    run = _hand_run(
        [
            (4, EventKind.DEFAULT, 2, None, 1.0, {"wave": 1}),
            (7, EventKind.DEFAULT, 1, None, 1.0, {"wave": 0}),
        ]
    )
    assert infer_shock_step(run) == 7


def test_infer_shock_step_falls_back_to_scheduled_shocks() -> None:
    """A volatility shock writes no event; its step comes from the scenario."""
    volatility = {"kind": "volatility", "step": 12, "until_step": 20, "multiplier": 3}
    yaml_text = scenario_text({"shocks": [volatility]})
    assert infer_shock_step(_hand_run([], yaml_text)) == 12


def test_infer_shock_step_raises_without_shocks() -> None:
    """Without shock events or scheduled shocks the caller must name the step."""
    with pytest.raises(ValueError, match="shock_step"):
        infer_shock_step(_hand_run([]))


# --- liquidity around the shock --------------------------------------------------------------


def test_liquidity_windows_hand_computed(hand: RunResult) -> None:
    """Steps 5-9, 10-12 and 13-17: spreads 0.02, 0.10 (step 11 one-sided), 0.02; depth 50/3."""
    stats = liquidity_windows(hand.market, 10, CrisisWindow(before=5, during=3, after=5))
    expected = {
        "spread_before": 0.02,
        "spread_during": 0.10,
        "spread_after": 0.02,
        "depth_before": 100.0,
        "depth_during": 50.0 / 3.0,
        "depth_after": 100.0,
    }
    assert stats == pytest.approx(expected, abs=1e-9)


def test_liquidity_windows_clip_to_the_run_and_skip_step_zero(hand: RunResult) -> None:
    """A before-window reaching past step 0 averages steps 1..2 only; one beyond T is NaN."""
    stats = liquidity_windows(hand.market, 3, CrisisWindow(before=10, during=1, after=1))
    assert stats["depth_before"] == pytest.approx(100.0)
    late = liquidity_windows(hand.market, 20, CrisisWindow(before=1, during=1, after=5))
    assert math.isnan(late["spread_after"]) and math.isnan(late["depth_after"])


def test_crisis_window_rejects_non_positive_lengths() -> None:
    """Windows are positive numbers of steps."""
    with pytest.raises(ValueError, match="during"):
        CrisisWindow(during=0)


def test_recovery_steps_hand_computed() -> None:
    """Baseline 1, tolerance 0.2: raw at index 5 (1.05); 2-step mean 1.175 at 4; exact at 6."""
    spread = [1.0, 1.0, 3.0, 3.0, 1.3, 1.05, 1.0, math.nan, 1.0]
    assert recovery_steps(spread, 2, 1.0, tolerance=0.2, smooth_steps=1) == 3.0
    assert recovery_steps(spread, 2, 1.0, tolerance=0.2, smooth_steps=2) == 2.0
    assert recovery_steps(spread, 2, 1.0, tolerance=0.0, smooth_steps=1) == 4.0


def test_recovery_steps_nan_when_never_recovered_or_without_baseline() -> None:
    """A spread stuck at 3x, a one-sided tail, or a NaN baseline has no recovery time."""
    assert math.isnan(recovery_steps([1.0, 3.0, 3.0, math.nan], 1, 1.0, smooth_steps=1))
    assert math.isnan(recovery_steps([1.0, 1.0], 0, math.nan))


def test_recovery_steps_rejects_bad_parameters() -> None:
    """A negative tolerance or an empty smoothing window has no meaning."""
    with pytest.raises(ValueError, match="tolerance"):
        recovery_steps([1.0], 0, 1.0, tolerance=-0.1)
    with pytest.raises(ValueError, match="smooth_steps"):
        recovery_steps([1.0], 0, 1.0, smooth_steps=0)


def test_max_dislocation_whole_run_and_from_a_step(hand: RunResult) -> None:
    """|mid - fundamental| is 0.5 at step 3 and 0.3 at step 15 (hand-made mids)."""
    assert max_dislocation(hand.market) == pytest.approx(0.5)
    assert max_dislocation(hand.market, 10) == pytest.approx(0.3)


# --- DebtRank --------------------------------------------------------------------------------


def test_shock_debtrank_chain_hand_computed(hand: RunResult) -> None:
    """Chain 0 <- 1 <- 2 <- 3, capital 100: h = 1, 0.4, 0.24, 0.048; v = (0, 1/3, 1/2, 1/6).

    Battiston et al. (2012): R = sum_j v_j (h_j(T) - h_j(1)) = 0.4/3 + 0.24/2 + 0.048/6.
    """
    rank = shock_debtrank(hand, 10)
    assert rank is not None
    np.testing.assert_allclose(rank.shock, [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(rank.result.h, [1.0, 0.4, 0.24, 0.048], atol=1e-12)
    np.testing.assert_allclose(rank.weights, [0.0, 1 / 3, 1 / 2, 1 / 6], atol=1e-12)
    assert rank.result.debtrank == pytest.approx(0.4 / 3 + 0.24 / 2 + 0.048 / 6, abs=1e-12)
    assert rank.initial_distress == 0.0


def test_shock_debtrank_default_shock_is_full_distress(hand: RunResult) -> None:
    """A default shock (wave 0) sets h(1) = 1 whatever the node's capital."""
    run = _hand_run([(6, EventKind.DEFAULT, 3, None, 1.0, {"wave": 0})])
    rank = shock_debtrank(run, 6)
    assert rank is not None
    np.testing.assert_allclose(rank.shock, [0.0, 0.0, 1.0, 0.0])


def test_exposure_matrix_and_node_order(hand: RunResult) -> None:
    """Node i is the i-th smallest market-maker id; [lender, borrower] holds the exposure."""
    assert market_maker_ids(hand.agents) == [1, 2, 3, 4]
    matrix = exposure_matrix(hand.network, 4)
    assert matrix[1, 0] == 40.0 and matrix[2, 1] == 60.0 and matrix[3, 2] == 20.0
    assert matrix.sum() == 120.0


# --- the summary -----------------------------------------------------------------------------


def test_crisis_summary_hand_computed(hand_summary: dict[str, Any]) -> None:
    """Every field of the hand-made run, computed by hand (see the module's table comments)."""
    expected = {
        "shock_step": 10,
        "defaults": 2,
        "cascade_depth": 2,
        "first_default_step": 10,
        "spread_recovery_steps": 3.0,
        "forced_sale_volume": 6,
        "liquidation_volume": 4,
        "margin_call_volume": 2,
        "interdealer_volume": 10,
        "inventory_shock_volume": 8,
        "interdealer_multiplier": 1.25,
        "hot_potato_passes": 2,
        "hot_potato_max_hops": 2,
    }
    for key, value in expected.items():
        assert hand_summary[key] == pytest.approx(value), key
    assert hand_summary["losses_by_channel"] == pytest.approx(
        {"writedown": 70.0, "loss_shock": 150.0, "forced_sale": 5.0}
    )
    assert hand_summary["max_dislocation"] == pytest.approx(0.5)
    assert hand_summary["max_dislocation_after"] == pytest.approx(0.3)
    assert hand_summary["debtrank"] == pytest.approx(0.4 / 3 + 0.24 / 2 + 0.048 / 6)


def test_crisis_summary_explicit_shock_step_overrides_inference(hand: RunResult) -> None:
    """A given shock step is used as is."""
    assert crisis_summary(hand, shock_step=14)["shock_step"] == 14


def test_crisis_summary_matches_the_run_summary(crisis_run: RunResult) -> None:
    """Defaults, waves, forced and inter-dealer volume and losses agree with summary.json."""
    run_summary = crisis_run.summary
    summary = crisis_summary(crisis_run)
    assert summary["shock_step"] == 150
    assert summary["defaults"] == run_summary["defaults"] > 0
    assert summary["cascade_depth"] == run_summary["cascade_waves"] >= 1
    assert summary["forced_sale_volume"] == run_summary["forced_sale_volume"]
    assert summary["interdealer_volume"] == run_summary["interdealer_volume"]
    assert summary["max_dislocation"] == pytest.approx(run_summary["max_dislocation"], abs=1e-12)
    losses = run_summary["losses_by_channel"]
    assert summary["losses_by_channel"]["writedown"] == pytest.approx(losses["default"])
    assert summary["losses_by_channel"]["loss_shock"] == pytest.approx(losses["loss"])


def test_crisis_summary_ring_cascade_defaults_one_node_per_wave(ring_run: RunResult) -> None:
    """On a one-way ring each write-down (360) breaks the next lender: 10 defaults in 10 waves."""
    summary = crisis_summary(ring_run)
    assert summary["defaults"] == 10
    assert summary["cascade_depth"] == 10
    assert default_waves(ring_run.events)["max_wave"].tolist() == [10]


def test_shock_debtrank_on_the_ring_matches_closed_form(ring_run: RunResult) -> None:
    """One-way ring, W = 0.9, node 0 fully distressed: h_k = 0.9^k, R = 0.9 (1 - 0.9^9)."""
    rank = shock_debtrank(ring_run, 150)
    assert rank is not None
    assert rank.result.debtrank == pytest.approx(0.9 * (1 - 0.9**9), rel=1e-9)
    assert rank.initial_distress == pytest.approx(0.1, rel=1e-9)


def test_shock_debtrank_weights_are_the_library_default(crisis_run: RunResult) -> None:
    """The weights passed on are Battiston et al.'s asset shares, debtrank's own default."""
    rank = shock_debtrank(crisis_run, 150)
    assert rank is not None
    default = debtrank(rank.exposures, rank.capital, rank.shock)
    assert rank.result.debtrank == pytest.approx(default.debtrank, abs=1e-12)
    assert rank.shock[:2].tolist() == [1.0, 1.0] and not rank.shock[2:].any()


def test_crisis_summary_hot_potato_volume_is_the_passed_inventory() -> None:
    """Every hot-potato pass is one inter-dealer trade: the volumes agree, hops >= 1."""
    run = _run(POTATO)
    summary = crisis_summary(run)
    passes = run.events[run.events["kind"] == "hot_potato"]
    assert summary["interdealer_volume"] == int(passes["amount"].abs().sum()) > 0
    assert summary["inventory_shock_volume"] == 200
    assert summary["interdealer_multiplier"] == summary["interdealer_volume"] / 200
    assert summary["hot_potato_max_hops"] >= 1


# --- the figure ------------------------------------------------------------------------------


def _node_colours(figure: Figure) -> np.ndarray:
    (nodes,) = [c for c in figure.axes[0].collections if isinstance(c, PathCollection)]
    return nodes.get_facecolors()


def test_network_figure_colours_defaults_by_wave(hand: RunResult) -> None:
    """Nodes 0 and 1 defaulted in waves 1 and 2 (distinct colours); 2 and 3 are grey."""
    colours = _node_colours(network_figure(hand))
    grey = mcolors.to_rgba("lightgrey")
    np.testing.assert_allclose(colours[2], grey)
    np.testing.assert_allclose(colours[3], grey)
    assert not np.allclose(colours[0], grey) and not np.allclose(colours[1], grey)
    assert not np.allclose(colours[0], colours[1])


def test_network_figure_layout_is_seeded(ring_run: RunResult) -> None:
    """The same run and seed draw the same node positions."""
    first = network_figure(ring_run).axes[0].collections
    second = network_figure(ring_run).axes[0].collections
    offsets = [c.get_offsets() for c in (*first, *second) if isinstance(c, PathCollection)]
    np.testing.assert_array_equal(offsets[0], offsets[1])


def test_network_figure_without_market_makers_says_so(hand: RunResult) -> None:
    """A run without market makers still gives a figure, with a note."""
    agents = hand.agents[hand.agents["kind"] != "market_maker"]
    empty = dataclasses.replace(hand, agents=agents, network=hand.network.iloc[:0])
    texts = [t.get_text() for t in network_figure(empty).axes[0].texts]
    assert texts == ["no market makers"]


def test_network_figure_leaves_pyplot_alone(hand: RunResult) -> None:
    """No pyplot figure is registered (plain Figure objects only)."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    network_figure(hand)
    assert plt.get_fignums() == before


def test_hand_run_tables_are_well_formed(hand: RunResult) -> None:
    """Sanity of the fixture: 21 market rows and the one-sided step 11."""
    assert len(hand.market) == 21
    assert pd.isna(hand.market.loc[11, "spread"])
