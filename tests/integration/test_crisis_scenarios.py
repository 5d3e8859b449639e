"""Crisis scenarios (scenarios/crisis/): the directions their headers promise, across seeds.

Each direction is checked on a few seeds by default and on twelve under ``-m slow``. The
numbers quoted in the docstrings are the ones measured for the scenario headers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abm.bench.crisis import format_crisis_bench, run_crisis_bench
from abm.model import MarketModel
from abm.run import run
from abm.scenario.schema import Scenario, load_scenario

CRISIS = Path(__file__).resolve().parents[2] / "scenarios" / "crisis"
FAST_SEEDS = (1, 2, 3)
SLOW_SEEDS = tuple(range(1, 13))
NETWORKS = ("network_core_periphery", "network_erdos_renyi", "network_complete")
SMALL = (
    *NETWORKS,
    "fire_sale_spiral",
    "margin_spiral",
    "margin_spiral_vol_linked",
    "hot_potato",
    "toxic_flow",
)

# the scenarios' shock steps (their headers say why)
NETWORK_SHOCK = 50
FIRE_SALE_DEFAULT = 51
MARGIN_GAP = 51
POTATO_GAP = 60
TOXIC_START, TOXIC_STEPS = 50, 100


def _scenario(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    scenario = load_scenario(CRISIS / f"{name}.yaml")
    return scenario.override(overrides) if overrides else scenario


def _summaries(
    name: str, seeds: Sequence[int], steps: int, overrides: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    scenario = _scenario(name, overrides)
    return [run(scenario, seed=seed, steps=steps).summary for seed in seeds]


def _defaults(
    name: str, seeds: Sequence[int], steps: int, overrides: dict[str, Any] | None = None
) -> list[int]:
    return [s["defaults"] for s in _summaries(name, seeds, steps, overrides)]


def _window(market: pd.DataFrame, start: int, length: int) -> pd.DataFrame:
    return market[(market["step"] >= start) & (market["step"] < start + length)]


def _one_sided_share(name: str, seed: int, overrides: dict[str, Any] | None = None) -> float:
    """Share of the 100 steps after the margin scenarios' gap that close with a one-sided book."""
    scenario = _scenario(name, overrides)
    market = run(scenario, seed=seed, steps=MARGIN_GAP + 100).market
    spread = _window(market, MARGIN_GAP, 100)["spread"].to_numpy(dtype=float)
    return float(np.mean(~np.isfinite(spread)))


# ----- network topology --------------------------------------------------------------


def _check_core_periphery_spreads_further(seeds: Sequence[int]) -> None:
    steps = NETWORK_SHOCK + 50
    core_periphery = _defaults("network_core_periphery", seeds, steps)
    erdos_renyi = _defaults("network_erdos_renyi", seeds, steps)
    assert statistics.median(core_periphery) > statistics.median(erdos_renyi), (
        core_periphery,
        erdos_renyi,
    )


def test_network_core_periphery_spreads_a_core_default_further_than_erdos_renyi() -> None:
    """Header: median defaults 5 (core-periphery) vs 1 (Erdos-Renyi, same expected links)."""
    _check_core_periphery_spreads_further((1, 2, 3, 4, 5))


@pytest.mark.slow
def test_network_core_periphery_spreads_a_core_default_further_than_erdos_renyi_slow() -> None:
    """As the fast variant, on 12 seeds (median 5 vs 1 measured)."""
    _check_core_periphery_spreads_further(SLOW_SEEDS)


def _check_complete_contains(seeds: Sequence[int]) -> None:
    assert _defaults("network_complete", seeds, NETWORK_SHOCK + 50) == [1] * len(seeds)


def test_network_complete_contains_a_single_default() -> None:
    """Closed form: each of 19 creditors loses 400/19 = 21 < its 150 buffer; only node 0 fails."""
    _check_complete_contains(FAST_SEEDS)


@pytest.mark.slow
def test_network_complete_contains_a_single_default_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_complete_contains(SLOW_SEEDS)


def _check_more_capital(seeds: Sequence[int]) -> None:
    steps = NETWORK_SHOCK + 50
    thin = _defaults("network_core_periphery", seeds, steps)
    thick = _defaults("network_core_periphery", seeds, steps, {"agents.mm.cash": 800.0})
    assert all(t <= s for t, s in zip(thick, thin, strict=True)), (thick, thin)
    assert sum(thick) < sum(thin)


def test_network_more_capital_lowers_defaults() -> None:
    """Header: doubling capital (threshold fixed) cuts core-periphery defaults from 5.9 to 1.9."""
    _check_more_capital(FAST_SEEDS)


@pytest.mark.slow
def test_network_more_capital_lowers_defaults_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_more_capital(SLOW_SEEDS)


def _check_default_channel_off(seeds: Sequence[int]) -> None:
    steps = NETWORK_SHOCK + 50
    on = _defaults("network_core_periphery", seeds, steps)
    off = _defaults(
        "network_core_periphery", seeds, steps, {"network.channels.default.enabled": False}
    )
    assert all(o <= n for o, n in zip(off, on, strict=True)), (off, on)


def test_network_switching_off_default_channel_does_not_increase_defaults() -> None:
    """Without writedowns only the shocked dealer fails: never more defaults than with them."""
    _check_default_channel_off(FAST_SEEDS)


@pytest.mark.slow
def test_network_switching_off_default_channel_does_not_increase_defaults_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_default_channel_off(SLOW_SEEDS)


def test_network_scenarios_differ_only_in_topology() -> None:
    """The comparison is fair: same market, credit, channels and shock; only the graph differs."""
    documents = []
    for name in NETWORKS:
        document = _scenario(name).model_dump()
        for key in ("name", "description"):
            document.pop(key)
        document["network"].pop("topology")
        documents.append(document)
    assert documents[0] == documents[1] == documents[2]


# ----- fire sales --------------------------------------------------------------------


def _check_fire_sale_off(seeds: Sequence[int]) -> None:
    steps = FIRE_SALE_DEFAULT + 50
    on = _defaults("fire_sale_spiral", seeds, steps)
    off = _defaults("fire_sale_spiral", seeds, steps, {"network.channels.fire_sale": None})
    assert all(o <= n for o, n in zip(off, on, strict=True)), (off, on)
    assert off == [4] * len(seeds)  # only the four shocked dealers
    assert sum(on) > sum(off)


def test_fire_sale_switching_off_does_not_increase_defaults() -> None:
    """Header: 20 of 20 dealers fail with fire sales, only the 4 shocked ones without."""
    _check_fire_sale_off(FAST_SEEDS)


@pytest.mark.slow
def test_fire_sale_switching_off_does_not_increase_defaults_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_fire_sale_off(SLOW_SEEDS)


def _trough(seed: int, overrides: dict[str, Any] | None = None) -> float:
    """Lowest trade price minus the fundamental in the 50 steps after the failures."""
    scenario = _scenario("fire_sale_spiral", overrides)
    market = run(scenario, seed=seed, steps=FIRE_SALE_DEFAULT + 50).market
    window = _window(market, FIRE_SALE_DEFAULT, 50)
    return float((window["last_price"] - window["fundamental"]).min())


def test_fire_sale_pushes_prices_below_the_fundamental() -> None:
    """Header: trades print 28-38 below the fundamental with fire sales, under 0.5 without."""
    for seed in FAST_SEEDS:
        on = _trough(seed)
        off = _trough(seed, {"network.channels.fire_sale": None})
        assert on < off - 1.0, (seed, on, off)


# ----- margin spiral -----------------------------------------------------------------


def _check_vol_linked_margins(seeds: Sequence[int]) -> None:
    fixed = [_one_sided_share("margin_spiral", seed) for seed in seeds]
    linked = [_one_sided_share("margin_spiral_vol_linked", seed) for seed in seeds]
    assert all(v >= f for v, f in zip(linked, fixed, strict=True)), (linked, fixed)
    assert np.mean(linked) > np.mean(fixed) + 0.2, (linked, fixed)


def test_margin_vol_linked_margins_deepen_the_spread_blow_out() -> None:
    """Brunnermeier-Pedersen 2009; header: book one-sided 100% vs 30% of post-gap steps."""
    _check_vol_linked_margins(FAST_SEEDS)


@pytest.mark.slow
def test_margin_vol_linked_margins_deepen_the_spread_blow_out_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_vol_linked_margins(SLOW_SEEDS)


def test_margin_switching_off_the_channel_removes_the_blow_out() -> None:
    """Without margin calls nobody is forced to sell: the book stays two-sided after the gap."""
    for seed in FAST_SEEDS:
        assert _one_sided_share("margin_spiral", seed, {"network.channels.margin": None}) == 0.0


# ----- hot potato --------------------------------------------------------------------


def _inventory_before_gap(seed: int, overrides: dict[str, Any] | None = None) -> int:
    scenario = _scenario("hot_potato", overrides)
    model = MarketModel(scenario, seed=seed)
    for _ in range(POTATO_GAP - 1):
        model.step()
    return model.market_makers[0].inventory


def test_hot_potato_passes_the_block_on_before_the_news() -> None:
    """Header: the shocked dealer holds 10-24 of 300 lots at the gap, 238-258 without passing."""
    for seed in FAST_SEEDS:
        assert _inventory_before_gap(seed) <= 30
        assert _inventory_before_gap(seed, {"network.channels.hot_potato": None}) > 200


def _check_hot_potato_shares_risk(seeds: Sequence[int]) -> None:
    steps = POTATO_GAP + 20
    on = _defaults("hot_potato", seeds, steps)
    off = _defaults("hot_potato", seeds, steps, {"network.channels.hot_potato": None})
    assert on == [0] * len(seeds)
    assert off == [1] * len(seeds)  # ~250 lots x 2.0 > 400 of capital


def test_hot_potato_sharing_the_block_prevents_the_default() -> None:
    """Risk sharing: with passing no dealer fails; without it the shocked dealer always does."""
    _check_hot_potato_shares_risk(FAST_SEEDS)


@pytest.mark.slow
def test_hot_potato_sharing_the_block_prevents_the_default_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_hot_potato_shares_risk(SLOW_SEEDS)


# ----- toxic flow --------------------------------------------------------------------


def _check_toxic_pnl(seeds: Sequence[int]) -> None:
    steps = TOXIC_START + TOXIC_STEPS
    burst = [s["mm_pnl_mean"] for s in _summaries("toxic_flow", seeds, steps)]
    calm = [
        s["mm_pnl_mean"]
        for s in _summaries("toxic_flow", seeds, steps, {"shocks.1.multiplier": 1.0})
    ]
    assert all(b < c for b, c in zip(burst, calm, strict=True)), (burst, calm)


def test_toxic_flow_burst_costs_market_makers() -> None:
    """Adverse selection (Glosten-Milgrom 1985); header: P&L -33.8 with the burst vs +0.3."""
    _check_toxic_pnl(FAST_SEEDS)


@pytest.mark.slow
def test_toxic_flow_burst_costs_market_makers_slow() -> None:
    """As the fast variant, on 12 seeds."""
    _check_toxic_pnl(SLOW_SEEDS)


def test_toxic_flow_burst_widens_the_spread() -> None:
    """Header: quoted spread over the burst 0.19 on average vs 0.033 with normal informed flow."""

    def mean_spread(overrides: dict[str, Any] | None = None) -> float:
        scenario = _scenario("toxic_flow", overrides)
        values = []
        for seed in FAST_SEEDS:
            market = run(scenario, seed=seed, steps=TOXIC_START + TOXIC_STEPS).market
            spread = _window(market, TOXIC_START, TOXIC_STEPS)["spread"].to_numpy(dtype=float)
            values.append(np.nanmean(spread))
        return float(np.mean(values))

    assert mean_spread() > 1.5 * mean_spread({"shocks.1.multiplier": 1.0})


# ----- conservation, files, bench ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "steps"),
    [("fire_sale_spiral", 80), ("margin_spiral_vol_linked", 80), ("hot_potato", 80)],
)
def test_crisis_run_conserves_cash_and_inventory_every_step(name: str, steps: int) -> None:
    """Conservation: settlement, shocks, forced and inter-dealer trades move cash, never make it."""
    model = MarketModel(_scenario(name), seed=1)
    for _ in range(steps):
        model.step()
        assert model.totals() == model.initial_totals, model.step_index
    assert model.contagion.stats.forced_sale_volume + model.exchange.interdealer_volume > 0


@pytest.mark.parametrize("name", [*SMALL, "scale"])
def test_crisis_scenario_is_documented(name: str) -> None:
    """Each crisis scenario opens with a comment block: the question, the set-up, the outcome."""
    text = (CRISIS / f"{name}.yaml").read_text(encoding="utf-8")
    header = text[: text.index("\nname:")]
    assert all(line.startswith("#") for line in header.splitlines())
    for part in ("Question:", "Set-up", "Expected outcome"):
        assert part in header, part
    load_scenario(CRISIS / f"{name}.yaml")


def test_crisis_scenario_groups_use_the_shared_names() -> None:
    """Groups are named mm, informed and noise, so overrides carry across scenarios."""
    for name in (*SMALL, "scale"):
        assert set(_scenario(name).agents) == {"mm", "informed", "noise"}, name


def test_crisis_scale_has_100_market_makers_and_2000_other_traders() -> None:
    """The issue's scale: 100 market makers and 2,000 other traders, 5,000 steps."""
    scenario = _scenario("scale")
    counts = {name: group.count for name, group in scenario.agents.items()}
    assert counts["mm"] == 100
    assert counts["informed"] + counts["noise"] == 2000
    assert scenario.steps == 5000


def test_crisis_bench_reports_both_runs() -> None:
    """A short bench: both runs timed, the same steps, conservation held, the report readable."""
    result = run_crisis_bench(steps=10, seed=3)
    assert result.market_makers == 100
    assert result.other_traders == 2000
    assert result.links > 0
    assert result.crisis.steps == 10
    assert result.reference is not None
    assert result.reference.steps == 10
    assert result.crisis.conserved
    assert result.overhead is not None and result.overhead > 0
    assert result.wall_5000_s == pytest.approx(5000 / result.crisis.steps_per_s)
    report = format_crisis_bench(result)
    for text in ("steps/s", "5,000 steps in", "defaults", "overhead"):
        assert text in report


def test_crisis_bench_rejects_non_positive_steps() -> None:
    """Zero steps would time nothing: a ValueError that says so."""
    with pytest.raises(ValueError, match="steps must be at least 1"):
        run_crisis_bench(steps=0)
