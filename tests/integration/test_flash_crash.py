"""The flash-crash study (scenarios/crisis/flash_crash_*.yaml): the published shape of May 6, 2010.

Directions checked (CFTC/SEC 2010; Kirilenko, Kyle, Samadi and Tuzun 2017):

- calm twin: high-frequency traders carry a large share of the volume while their inventory
  mean-reverts quickly;
- with the program: during the fall HFTs still trade a large share of all volume while their
  net position changes by a few percent of what they trade (hot potato); bid depth falls to a
  small fraction of its earlier level; the price falls several percent, then recovers;
- a circuit breaker makes the fall smaller; a passive seller moves the price less than an
  aggressive one.

By default each direction is checked on the scenario's own seed, with a faster variant (0.25 s
steps, 50 minutes: the same classes, block and rates, about 3 s a run); under ``-m slow``, on
the full scenario for eight seeds. The thresholds sit well inside the ranges measured for the
scenario headers. Under ``-m slow`` the shipped files at their own seed are also checked
against the ranges their headers document.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from abm.model import MarketModel
from abm.run import check_determinism, run
from abm.scenario.schema import Scenario, load_scenario

CRISIS = Path(__file__).resolve().parents[2] / "scenarios" / "crisis"
SLOW_SEEDS = tuple(range(1, 9))
# 0.25 s steps resolve the 0.35 s HFTs too; step counts scale so that times are unchanged,
# and the program starts ten minutes in, leaving its five-minute "before" window clear of the
# opening.
FAST: dict[str, Any] = {
    "dt": 0.25,
    "steps": 12_000,
    "agents.seller.start_step": 2400,
    "agents.seller.window_steps": 240,
    "agents.seller.interval_steps": 4,
    "circuit_breaker.window_steps": 240,
    "circuit_breaker.halt_steps": 240,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "calm": {"agents.seller.count": 0},
    "aggressive": {},
    "passive": {"agents.seller.mode": "passive"},
    "breaker": {"circuit_breaker.enabled": True},
}


def _scenario(variant: str, *, fast: bool) -> Scenario:
    scenario = load_scenario(CRISIS / "flash_crash_2010.yaml")
    changes = {**(FAST if fast else {}), **VARIANTS[variant]}
    return scenario.override(changes) if changes else scenario


@cache
def _summary(variant: str, seed: int | None = None, *, fast: bool = True) -> dict[str, Any]:
    return run(_scenario(variant, fast=fast), seed=seed).summary


def _slow(variant: str) -> list[dict[str, Any]]:
    return [_summary(variant, seed, fast=False) for seed in SLOW_SEEDS]


# The "Expected outcome" ranges of scenarios/crisis/flash_crash_2010.yaml (aggressive, passive,
# breaker) and scenarios/crisis/flash_crash_calm.yaml (calm), measured on seeds 1-8 and the
# shipped seed. Copied by hand, not parsed: change them together with the headers. A header
# range is rounded to the digits it shows, so "3.9-5.7%" reads as [3.85, 5.75]; minutes are
# converted to seconds, percentages of volume and depth to fractions.
HEADER_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "calm": {
        "hft_volume_share": (0.295, 0.315),  # HFTs 30-31% of volume
        "hft_inventory_half_life_s": (4.5, 20.5),  # half-life 5-20 s
        "fall_pct": (0.0, 0.3),  # within 0.3% of its level
    },
    "aggressive": {
        "program_duration_s": (13.5 * 60, 16.5 * 60),  # done 14-16 minutes after it starts
        "fall_pct": (3.85, 5.75),  # falls 3.9-5.7%
        "fall_duration_s": (13.5 * 60, 17.5 * 60),  # a trough 14-17 minutes in
        "recovery_fraction": (0.645, 0.775),  # regains 65-77% of it
        "recovery_duration_s": (22.5 * 60, 28.5 * 60),  # 90% of that within 23-28 minutes
        "bid_depth_fall_min_ratio": (0.0485, 0.135),  # bid depth drops to 4.9-13%
        "hft_volume_share_fall": (0.285, 0.315),  # HFTs trade 29-31% of the volume
        "hft_net_to_gross_fall": (0.0, 0.005),  # net change at most 0.5% of what they trade
    },
    "passive": {
        "fall_pct": (1.15, 1.95),  # a fall of 1.2-1.9%
        "program_duration_s": (25.5 * 60, 28.5 * 60),  # the program takes 26-28 minutes
    },
    "breaker": {
        "halts": (4, 25),  # 4-25 halts
        "fall_pct": (2.15, 4.35),  # 2.2-4.3%
        "program_duration_s": (16.25 * 60, 27.75 * 60),  # 16.5-27.5 minutes
    },
}


@cache
def _shipped(variant: str) -> dict[str, Any]:
    """The summary of the shipped file (the calm twin's own file for "calm") at its own seed."""
    if variant == "calm":
        scenario = load_scenario(CRISIS / "flash_crash_calm.yaml")
    else:
        scenario = _scenario(variant, fast=False)
    summary = dict(run(scenario).summary)
    if summary["program_end_s"] is not None:
        summary["program_duration_s"] = summary["program_end_s"] - summary["program_start_s"]
    return summary


# ----- the scenario files --------------------------------------------------------------------


def test_flash_crash_calm_twin_is_the_crash_without_the_program() -> None:
    """The calm twin differs from the crash scenario only in its name, text and seller count."""
    crash = load_scenario(CRISIS / "flash_crash_2010.yaml").model_dump()
    calm = load_scenario(CRISIS / "flash_crash_calm.yaml").model_dump()
    crash["agents"]["seller"]["count"] = 0
    for key in ("name", "description"):
        crash.pop(key), calm.pop(key)
    assert crash == calm


def test_flash_crash_scenario_populations_are_paddrik_2012() -> None:
    """Counts 421, 84, 84, 19, 180, 7 (Paddrik et al. 2012, Table 1) and a 0.25 tick."""
    scenario = load_scenario(CRISIS / "flash_crash_2010.yaml")
    counts = {name: group.count for name, group in scenario.agents.items()}
    assert counts == {
        "small": 421,
        "fundamental_buyers": 84,
        "fundamental_sellers": 84,
        "mm": 19,
        "opportunistic": 180,
        "hft": 7,
        "seller": 1,
    }
    assert scenario.tick_size == 0.25


def test_flash_crash_run_is_deterministic() -> None:
    """Same seed, same tables and summary (a short run in this process)."""
    scenario = _scenario("breaker", fast=True).override({"agents.seller.start_step": 200})
    assert check_determinism(scenario, steps=600, other_process=False)


def test_flash_crash_conserves_cash_and_inventory_through_halts() -> None:
    """Cash and lots are conserved exactly at every step, halts and queued orders included."""
    scenario = _scenario("breaker", fast=True).override(
        {"agents.seller.start_step": 600, "circuit_breaker.fall_pct": 0.3}
    )
    model = MarketModel(scenario)
    halted = 0
    for _ in range(3600):
        model.step()
        halted += model.exchange.halted
        assert model.totals() == model.initial_totals
    assert halted > 0


# ----- the published shape, fast variant -----------------------------------------------------


def test_flash_crash_calm_hfts_carry_a_large_share_of_volume() -> None:
    """Kirilenko et al. (2017, Table II): HFTs about a third of E-mini volume on calm days."""
    assert _summary("calm")["hft_volume_share"] > 0.25


def test_flash_crash_calm_hft_inventory_mean_reverts_quickly() -> None:
    """HFT aggregate inventory half-life well under a minute (Kirilenko et al. 2017, III.C)."""
    assert _summary("calm")["hft_inventory_half_life_s"] < 60.0


def test_flash_crash_calm_price_holds() -> None:
    """Without the program the price stays within 1% of its level."""
    assert _summary("calm")["fall_pct"] < 1.0


def test_flash_crash_hfts_pass_the_potato_in_the_fall() -> None:
    """During the fall HFTs trade a large share of volume, net under 5% of what they trade."""
    summary = _summary("aggressive")
    assert summary["hft_volume_share_fall"] > 0.25
    assert summary["hft_net_to_gross_fall"] < 0.05


def test_flash_crash_bid_depth_drains_in_the_fall() -> None:
    """Bid depth falls to under a quarter of its level before the program (CFTC/SEC 2010)."""
    assert _summary("aggressive")["bid_depth_fall_min_ratio"] < 0.25


def test_flash_crash_price_falls_several_percent_then_recovers() -> None:
    """A fall of 3% or more, then at least half of it regained (CFTC/SEC 2010, p. 1)."""
    summary = _summary("aggressive")
    assert summary["fall_pct"] > 3.0
    assert summary["recovery_fraction"] > 0.5


def test_flash_crash_circuit_breaker_makes_the_fall_smaller() -> None:
    """With halts the price falls less than without (same seed: common random numbers)."""
    breaker = _summary("breaker")
    assert breaker["halts"] > 0
    assert breaker["fall_pct"] < _summary("aggressive")["fall_pct"]


def test_flash_crash_passive_seller_moves_the_price_less() -> None:
    """Resting at the ask moves the price less than half as much as market orders."""
    assert _summary("passive")["fall_pct"] < 0.5 * _summary("aggressive")["fall_pct"]


# ----- the published shape, full scenario across seeds ---------------------------------------


@pytest.mark.slow
def test_flash_crash_calm_shape_across_seeds() -> None:
    """Calm twin, eight seeds: HFT share above 25%, half-life under 60 s, no fall over 1%."""
    for summary in _slow("calm"):
        assert summary["hft_volume_share"] > 0.25
        assert summary["hft_inventory_half_life_s"] < 60.0
        assert summary["fall_pct"] < 1.0


@pytest.mark.slow
def test_flash_crash_fall_shape_across_seeds() -> None:
    """Program, eight seeds: hot potato, drained bids, a fall of 3%+ and half of it regained."""
    for summary in _slow("aggressive"):
        assert summary["hft_volume_share_fall"] > 0.25
        assert summary["hft_net_to_gross_fall"] < 0.05
        assert summary["bid_depth_fall_min_ratio"] < 0.25
        assert summary["fall_pct"] > 3.0
        assert summary["recovery_fraction"] > 0.5


@pytest.mark.slow
def test_flash_crash_breaker_across_seeds() -> None:
    """Breaker on, eight seeds: the fall is smaller than without in at least seven."""
    smaller = [
        with_halts["fall_pct"] < without["fall_pct"]
        for with_halts, without in zip(_slow("breaker"), _slow("aggressive"), strict=True)
    ]
    assert sum(smaller) >= 7


@pytest.mark.slow
def test_flash_crash_passive_across_seeds() -> None:
    """Passive seller, eight seeds: every fall under half the aggressive seller's."""
    for passive, aggressive in zip(_slow("passive"), _slow("aggressive"), strict=True):
        assert passive["fall_pct"] < 0.5 * aggressive["fall_pct"]


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(HEADER_RANGES))
def test_flash_crash_shipped_seed_lies_in_header_ranges(variant: str) -> None:
    """The shipped seed's measures lie inside the ranges the scenario headers document."""
    summary = _shipped(variant)
    outside = {
        key: (summary[key], bounds)
        for key, bounds in HEADER_RANGES[variant].items()
        if not bounds[0] <= summary[key] <= bounds[1]
    }
    assert not outside, outside
