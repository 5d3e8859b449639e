"""Tests for abm.scenario.cross_checks: the constraints between scenario fields.

The expected messages are the ones `Scenario` gave before these checks left
abm/scenario/schema.py (commit 9f57518), word for word; the network boundaries are checked
against the run-time builder, `abm.contagion.graph.build_network`, which they stand in for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abm.contagion.graph import NetworkError, build_network
from abm.contagion.specs import NetworkSpec
from abm.scenario.cross_checks import (
    check_network,
    check_network_fits_the_market_makers,
    check_prices_fit_the_tick,
    check_programs_start_within_the_run,
    check_step_resolves_arrivals,
    edge_list_path,
    initial_prices,
)
from abm.scenario.errors import DocumentProblem
from abm.scenario.schema import Scenario, ScenarioError, load_scenario
from abm.scenario.types import MAX_PRICE_TICKS

SCENARIOS = Path(__file__).parents[2] / "scenarios"
FLASH_CRASH = SCENARIOS / "crisis" / "flash_crash_2010.yaml"
GLOSTEN_MILGROM = SCENARIOS / "glosten_milgrom.yaml"
FIRE_SALE = SCENARIOS / "crisis" / "fire_sale_spiral.yaml"


def _network(topology: dict[str, Any], exposure: dict[str, Any] | None = None) -> NetworkSpec:
    fields: dict[str, Any] = {"topology": topology}
    if exposure is not None:
        fields["exposure"] = exposure
    return NetworkSpec.model_validate(fields)


def _problem(exc: pytest.ExceptionInfo[DocumentProblem]) -> tuple[str, str]:
    return exc.value.path, exc.value.problem


# --- arrivals and programs ---------------------------------------------------------------


def test_check_step_resolves_arrivals_names_the_fastest_class() -> None:
    """A step of 0.5 s is longer than the hft class's 0.35 s gap: its field is named."""
    agents = load_scenario(FLASH_CRASH).agents
    with pytest.raises(DocumentProblem) as info:
        check_step_resolves_arrivals(agents, 0.5)
    assert _problem(info) == (
        "agents.hft.mean_interarrival_s",
        "0.35 s is shorter than dt (0.5 s); lower dt so that one step resolves the fastest traders",
    )


def test_check_step_resolves_arrivals_accepts_a_step_equal_to_the_gap() -> None:
    """One arrival per step on average is still resolved: only a shorter gap is refused."""
    check_step_resolves_arrivals(load_scenario(FLASH_CRASH).agents, 0.35)


def test_check_programs_start_within_the_run_names_the_program() -> None:
    """The seller starting at step 9000 of a 20-step run is named, with the run's length."""
    agents = load_scenario(FLASH_CRASH).agents
    with pytest.raises(DocumentProblem) as info:
        check_programs_start_within_the_run(agents, 20)
    assert _problem(info) == (
        "agents.seller.start_step",
        "9000 is after the run's last step (steps: 20); start the program earlier or run "
        "more steps",
    )


def test_check_programs_start_within_the_run_accepts_the_last_step() -> None:
    """A program starting at the last step (start_step == steps) is inside the run."""
    check_programs_start_within_the_run(load_scenario(FLASH_CRASH).agents, 9000)


# --- prices against the tick -------------------------------------------------------------


def test_check_prices_fit_the_tick_refuses_an_opening_below_one_tick() -> None:
    """A binary fundamental opens at ``high``: 11.0 is less than a tick of 100.0."""
    scenario = load_scenario(GLOSTEN_MILGROM)
    with pytest.raises(DocumentProblem) as info:
        check_prices_fit_the_tick(scenario.fundamental, scenario.agents, 100.0)
    assert _problem(info) == (
        "fundamental.high",
        "11.0 is less than one tick (100.0); lower tick_size",
    )


def test_check_prices_fit_the_tick_counts_a_policy_value_by_its_magnitude() -> None:
    """v_low = -1e13 is 1e15 ticks of 0.01, past MAX_PRICE_TICKS though it is negative."""
    scenario = load_scenario(GLOSTEN_MILGROM)
    maker = scenario.agents["mm"]
    policy = maker.policy.model_copy(update={"v_low": -1e13})  # past validation, on purpose
    agents = {"mm": maker.model_copy(update={"policy": policy})}
    with pytest.raises(DocumentProblem) as info:
        check_prices_fit_the_tick(scenario.fundamental, agents, 0.01)
    assert _problem(info) == (
        "agents.mm.policy.v_low",
        "10000000000000.0 is 1e+15 ticks of 0.01; prices may be at most 1e+12 ticks (raise "
        "tick_size or lower the price)",
    )


def test_check_prices_fit_the_tick_accepts_exactly_max_price_ticks() -> None:
    """An opening price of exactly MAX_PRICE_TICKS ticks (1e12 * 1.0) is allowed."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    fundamental = scenario.fundamental.model_copy(update={"s0": float(MAX_PRICE_TICKS)})
    check_prices_fit_the_tick(fundamental, scenario.agents, 1.0)


def test_initial_prices_lists_fundamental_then_policy_values_in_document_order() -> None:
    """glosten_milgrom.yaml: binary low 1.0 / high 11.0 and the mm's v_low 1.0 / v_high 11.0."""
    scenario = load_scenario(GLOSTEN_MILGROM)
    assert initial_prices(scenario.fundamental, scenario.agents) == [
        ("fundamental.low", 1.0),
        ("fundamental.high", 11.0),
        ("agents.mm.policy.v_low", 1.0),
        ("agents.mm.policy.v_high", 11.0),
    ]


# --- the network against the market makers -----------------------------------------------


@pytest.mark.parametrize(
    ("topology", "fits", "too_many", "expected"),
    [
        (
            {"kind": "erdos_renyi", "mean_degree": 4.0},
            5,
            4,
            (
                "network.topology.mean_degree",
                "4.0 exceeds 3, the most links a market maker can have among 4; lower it or "
                "add market makers",
            ),
        ),
        (
            {"kind": "barabasi_albert", "m": 4},
            5,
            4,
            ("network.topology.m", "4 must be below the number of market makers (4)"),
        ),
        (
            {"kind": "star", "center": 4},
            5,
            4,
            ("network.topology.center", "4 is not a market maker (nodes are 0..3)"),
        ),
        (
            {"kind": "core_periphery", "core": 5, "p_periphery": 0.5},
            5,
            4,
            ("network.topology.core", "5 exceeds the number of market makers (4)"),
        ),
    ],
)
def test_check_network_agrees_with_the_graph_builder_at_the_boundary(
    topology: dict[str, Any], fits: int, too_many: int, expected: tuple[str, str]
) -> None:
    """Accepted where build_network builds the graph; refused, by field, where it raises."""
    network = _network(topology)
    check_network(network, fits)
    build_network(network, fits, [1000.0] * fits, np.random.default_rng(0))
    with pytest.raises(DocumentProblem) as info:
        check_network(network, too_many)
    assert _problem(info) == expected
    with pytest.raises(NetworkError):
        build_network(network, too_many, [1000.0] * too_many, np.random.default_rng(0))


def test_check_network_refuses_a_network_without_market_makers() -> None:
    """No market maker to link: the whole ``network`` field is named."""
    with pytest.raises(DocumentProblem) as info:
        check_network(_network({"kind": "complete"}), 0)
    assert _problem(info) == (
        "network",
        "a network links market makers, but the market_maker groups have no agents (count 0); "
        "add market makers or remove the network",
    )


def test_check_network_refuses_given_exposure_without_an_edge_list() -> None:
    """'given' exposures are read from an edge list's column; a generated topology has none."""
    network = _network({"kind": "complete"}, {"kind": "given"})
    with pytest.raises(DocumentProblem) as info:
        check_network(network, 3)
    assert _problem(info) == (
        "network.exposure.kind",
        "'given' reads the exposure column of an edge list; use topology kind 'edge_list' or "
        "another exposure kind",
    )


def test_check_network_fits_the_market_makers_refuses_negative_capital() -> None:
    """With a network, a market maker's cash is its capital: -1.0 names agents.mm.cash."""
    scenario = load_scenario(FIRE_SALE)
    makers = scenario.override({"agents.mm.cash": -1.0, "network": None}).groups_of("market_maker")
    assert scenario.network is not None
    with pytest.raises(DocumentProblem) as info:
        check_network_fits_the_market_makers(scenario.network, makers)
    assert _problem(info) == (
        "agents.mm.cash",
        "-1.0 is negative; with a network, a market maker's cash is its capital and must be >= 0",
    )


def test_check_network_fits_the_market_makers_ignores_an_empty_group_with_negative_cash() -> None:
    """A group of count 0 lends nothing, so its cash is not capital; the others fill the net."""
    scenario = load_scenario(FIRE_SALE)
    document = scenario.model_dump(mode="json")
    document["agents"]["idle"] = {**document["agents"]["mm"], "count": 0, "cash": -1.0}
    widened = Scenario.from_dict(document)
    assert widened.network is not None
    check_network_fits_the_market_makers(widened.network, widened.groups_of("market_maker"))


# --- the edge list against the file system -----------------------------------------------


def test_edge_list_path_makes_a_relative_path_absolute(tmp_path: Path) -> None:
    """``./edges.csv`` beside the scenario file becomes that file's absolute path."""
    (tmp_path / "edges.csv").write_text("source,target\n0,1\n", encoding="utf-8")
    network = _network({"kind": "edge_list", "path": "./edges.csv"})
    assert edge_list_path(network, tmp_path, source="s.yaml") == str(tmp_path / "edges.csv")


def test_edge_list_path_leaves_an_absolute_path_and_other_topologies(tmp_path: Path) -> None:
    """Nothing to change (None) for an existing absolute path, a generated topology or no net."""
    (tmp_path / "edges.csv").write_text("source,target\n0,1\n", encoding="utf-8")
    absolute = _network({"kind": "edge_list", "path": str(tmp_path / "edges.csv")})
    assert edge_list_path(absolute, tmp_path, source="s.yaml") is None
    assert edge_list_path(_network({"kind": "ring"}), tmp_path, source="s.yaml") is None
    assert edge_list_path(None, tmp_path, source="s.yaml") is None


def test_edge_list_path_refuses_a_missing_file_in_one_line(tmp_path: Path) -> None:
    """A missing CSV is one ScenarioError line naming the source, the field and the full path."""
    network = _network({"kind": "edge_list", "path": "edges.csv"})
    with pytest.raises(ScenarioError) as info:
        edge_list_path(network, tmp_path, source="s.yaml")
    assert str(info.value) == (
        f"s.yaml: network.topology.path: {str(tmp_path.resolve() / 'edges.csv')!r} is not a "
        "file; give the edge-list CSV's path, relative to the scenario file"
    )


def test_edge_list_path_cuts_a_path_longer_than_any_system_takes(tmp_path: Path) -> None:
    """A 5,000-character name is shown cut (show's ``...``), keeping the message bounded."""
    network = _network({"kind": "edge_list", "path": "y" * 5000 + ".csv"})
    with pytest.raises(ScenarioError) as info:
        edge_list_path(network, tmp_path, source="s.yaml")
    message = str(info.value)
    assert "... is not a file;" in message
    assert len(message) < 1000
