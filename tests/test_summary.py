"""The run summary (`abm.run.summarize`) agrees with the tables it summarises.

Every shipped scenario is run short: each group's summary P&L must be the mean final ``pnl``
of its ``agents`` rows, so no position (hedges included) can be valued differently in the two.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abm.results.run_result import RunResult
from abm.run import market_making_groups, run
from abm.scenario.schema import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED = sorted(ROOT.rglob("*.yaml"))
SHORT_STEPS = 120  # past every small crisis's shocks (steps 50-60) and its defaults
# scenarios whose short run must include defaults, so defaulted traders' P&L is checked too
DEFAULTING = {
    "fire_sale_spiral",
    "mark_index",
    "mark_last_trade",
    "network_complete",
    "network_core_periphery",
    "network_erdos_renyi",
}
SCALE_FIRST_SHOCK = 1000  # scenarios/crisis/scale.yaml's first shock step
PROGRAM_START = 60  # the flash-crash programs start here instead of at step 9000


def _short_run(path: Path, steps: int = SHORT_STEPS) -> RunResult:
    scenario = load_scenario(path)
    overrides: dict[str, Any] = {}
    if "seller" in scenario.agents:
        overrides["agents.seller.start_step"] = PROGRAM_START
    return run(scenario.override(overrides) if overrides else scenario, steps=steps)


def _final_agents(result: RunResult) -> Any:
    agents = result.agents
    return agents[agents["step"] == agents["step"].max()]


def _assert_group_pnl_matches_agents(result: RunResult) -> None:
    final = _final_agents(result)
    by_group = final.groupby("group", observed=True)["pnl"].mean()
    summary = result.summary["pnl_by_group"]
    assert set(summary) == set(by_group.index)
    for group, pnl in by_group.items():
        assert summary[group] == pytest.approx(pnl, rel=1e-12, abs=1e-9), group
    making = market_making_groups(Scenario.from_yaml_text(result.scenario_yaml))
    makers = final[final["group"].isin(making)]["pnl"]
    if len(makers):
        assert result.summary["mm_pnl_mean"] == pytest.approx(makers.mean(), rel=1e-12, abs=1e-9)
        assert result.summary["mm_count"] == len(makers)
    else:
        assert result.summary["mm_pnl_mean"] is None


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_summary_group_pnl_equals_agents_table_final_pnl(path: Path) -> None:
    """pnl_by_group and mm_pnl_mean are the agents table's final pnl, group by group."""
    result = _short_run(path)
    if path.stem in DEFAULTING:
        assert result.summary["defaults"] > 0
    _assert_group_pnl_matches_agents(result)


@pytest.mark.slow
def test_summary_group_pnl_equals_agents_table_final_pnl_through_scale_defaults() -> None:
    """The 100-dealer scale scenario past its first shock: the same agreement, with defaults."""
    result = _short_run(ROOT / "crisis" / "scale.yaml", SCALE_FIRST_SHOCK + 100)
    assert result.summary["defaults"] > 0
    _assert_group_pnl_matches_agents(result)


def test_summary_hedged_pnl_values_the_hedge() -> None:
    """hedge_full: the summary's market-maker pnl is the agents table's (was +1271.89 vs -10.26)."""
    result = run(load_scenario(ROOT / "inventory_risk" / "hedge_full.yaml"))
    final = _final_agents(result)
    mm = final[final["group"] == "mm"]
    assert (mm["hedge"] != 0).any()  # the check would be vacuous without a hedge position
    assert result.summary["mm_pnl_mean"] == pytest.approx(mm["pnl"].mean(), abs=1e-9)


def test_summary_market_maker_keys_cover_paddrik_market_makers() -> None:
    """flash_crash_2010's ``mm`` group (kind paddrik, role market_maker) is in the mm_* keys."""
    result = _short_run(ROOT / "crisis" / "flash_crash_2010.yaml", PROGRAM_START + 10)
    scenario = load_scenario(ROOT / "crisis" / "flash_crash_2010.yaml")
    assert market_making_groups(scenario) == ["mm"]
    assert result.summary["mm_count"] == scenario.agents["mm"].count
    assert math.isfinite(result.summary["mm_pnl_mean"])


def test_summary_max_dislocation_covers_trades_through_a_one_sided_book() -> None:
    """fire_sale_spiral: trades print ~29 below the fundamental while mids stray only ~0.3."""
    summary = run(load_scenario(ROOT / "crisis" / "fire_sale_spiral.yaml")).summary
    assert summary["max_trade_dislocation"] > 20.0
    assert summary["max_mid_dislocation"] < 1.0
    assert summary["max_dislocation"] == summary["max_trade_dislocation"]


def test_summary_max_dislocation_larger_with_the_fire_sale_than_in_its_control() -> None:
    """Selling into the book dislocates prices far more than selling outside it at the value."""
    scenario = load_scenario(ROOT / "crisis" / "fire_sale_spiral.yaml")
    on = run(scenario).summary["max_dislocation"]
    off = run(scenario.override({"network.channels.fire_sale": None})).summary["max_dislocation"]
    assert off < 1.0 < 20.0 < on


def test_summary_book_side_fractions_partition_the_steps() -> None:
    """two-sided, one-sided and empty fractions sum to 1 and match the market table."""
    result = run(load_scenario(ROOT / "crisis" / "fire_sale_spiral.yaml"))
    summary, market = result.summary, result.market
    fractions = [summary[k] for k in ("two_sided_fraction", "one_sided_fraction")]
    fractions.append(summary["empty_book_fraction"])
    assert sum(fractions) == pytest.approx(1.0)
    bid, ask = np.isfinite(market["best_bid"]), np.isfinite(market["best_ask"])
    assert summary["one_sided_fraction"] == pytest.approx(float((bid ^ ask).mean()))
    assert summary["one_sided_fraction"] > 0.5  # the bid side is empty for most of the run
    assert summary["two_sided_steps"] == int((bid & ask).sum())


def test_summary_mark_describes_the_methodology() -> None:
    """The summary names the mark every P&L of the run is valued at."""
    path = ROOT / "crisis" / "mark_index.yaml"
    assert run(load_scenario(path), steps=5).summary["mark"] == (
        "index: fundamental + EMA basis, half-life 20 steps"
    )
