"""The scenario's input contract (issue 16), checked at load time.

Strict numbers, bounded quantities and prices, safe names, bounded messages, typed API
arguments, and the cross-field checks a run would otherwise make.

Each test holds an input that a shipped or minimal scenario accepted before, and that then
either ran with a silently coerced value or failed only at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import abm
from abm.scenario.errors import MAX_PROBLEMS, MAX_SHOWN_CHARS
from abm.scenario.schema import Scenario, ScenarioError, load_scenario
from abm.scenario.types import MAX_LOTS, MAX_PRICE_TICKS

SCENARIOS = Path(__file__).parents[2] / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
FIRE_SALE = SCENARIOS / "crisis" / "fire_sale_spiral.yaml"
MINIMAL = """\
name: minimal
steps: 20
fundamental: {kind: arithmetic, s0: 100.0, sigma: 0.5}
agents:
  mm:
    kind: market_maker
    count: 2
    policy: {kind: symmetric, spread: 0.1}
  noise:
    kind: noise
    count: 20
    arrival: {kind: poisson, rate: 0.2}
"""


def minimal(**fields: Any) -> dict[str, Any]:
    """The minimal document with top-level ``fields`` replaced."""
    return {**yaml.safe_load(MINIMAL), **fields}


def problem_of(data: dict[str, Any] | str, *, changes: dict[str, Any] | None = None) -> str:
    """The ScenarioError message of a document (YAML text or a mapping), after ``changes``."""
    with pytest.raises(ScenarioError) as info:
        if isinstance(data, str):
            Scenario.from_yaml_text(data).override(changes or {})
        else:
            Scenario.from_dict(data).override(changes or {})
    return str(info.value)


# --- class 13: strict numbers ---


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('steps: "30"', r"steps: must be a valid integer \(got '30'\)"),
        ('dt: "1.0"', r"dt: must be a valid number \(got '1.0'\)"),
        ("steps: 1:30", r"steps: must be a valid integer \(got '1:30'\)"),  # YAML 1.1: 90
        ("seed: 010", r"seed: must be a valid integer \(got '010'\)"),  # YAML 1.1: 8
        ("steps: 30.0", r"steps: must be a valid integer \(got 30.0\)"),
        ("steps: true", r"steps: must be a number, not a boolean"),
    ],
)
def test_scenario_numbers_are_strict(line: str, problem: str) -> None:
    """A string, a float for an integer, a base-60 or octal literal is refused, not coerced."""
    text = MINIMAL.replace("steps: 20\n", "") + line + "\n"
    with pytest.raises(ScenarioError, match=problem):
        Scenario.from_yaml_text(text)


def test_scenario_credit_freeze_factor_true_is_refused() -> None:
    """``CreditFreezeShock.factor: true`` is not read as 1.0."""
    shocks = [{"kind": "credit_freeze", "step": 5, "factor": True}]
    assert "shocks.0.factor: must be a number, not a boolean" in problem_of(minimal(shocks=shocks))


def test_scenario_binary_fundamental_with_a_negative_low_is_refused() -> None:
    """A two-point value is a price: ``low: -1`` is refused."""
    fundamental = {"kind": "binary", "low": -1.0, "high": 1.0}
    message = problem_of(minimal(fundamental=fundamental))
    assert "fundamental.low: must be greater than or equal to 0" in message


def test_scenario_numbers_from_numpy_and_ints_for_floats_are_accepted() -> None:
    """A numpy integer is an integer, and an int is a valid float (strict, not pedantic)."""
    scenario = Scenario.from_yaml_text(MINIMAL).override(
        {"steps": np.int64(30), "dt": 2, "agents.noise.count": np.int32(5)}
    )
    assert (scenario.steps, scenario.dt, scenario.agents["noise"].count) == (30, 2.0, 5)
    assert type(scenario.steps) is int


def test_scenario_exponent_without_sign_reads_as_a_number() -> None:
    """``rate: 2e-1`` and ``s0: 1e2`` are numbers (YAML 1.1 reads ``1e2`` as a string)."""
    text = MINIMAL.replace("s0: 100.0", "s0: 1e2")
    assert Scenario.from_yaml_text(text).fundamental.s0 == 100.0


# --- class 3: quantities and prices bounded ---


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"agents.mm.inventory": 10**30}, "agents.mm.inventory"),
        (
            {"agents.noise.size": {"kind": "uniform", "low": 1, "high": 10**18}},
            "agents.noise.size.high",
        ),
        (
            {"shocks": [{"kind": "inventory", "step": 2, "targets": [0], "qty": -(10**30)}]},
            "shocks.0.qty",
        ),
        ({"agents.mm.quote_size": MAX_LOTS + 1}, "agents.mm.quote_size"),
    ],
)
def test_scenario_quantities_past_max_lots_are_refused(changes: dict[str, Any], path: str) -> None:
    """Quantities over MAX_LOTS (10^9) are refused at load, not when int64 tables are built."""
    message = problem_of(MINIMAL, changes=changes)
    assert f"{path}: must be" in message
    assert f"{MAX_LOTS}" in message


def test_scenario_run_at_max_lots_builds_its_tables() -> None:
    """Orders of MAX_LOTS lots and a position of MAX_LOTS run and fit the int64 tables."""
    scenario = Scenario.from_yaml_text(MINIMAL).override(
        {
            "agents.noise.size": {"kind": "fixed", "qty": MAX_LOTS},
            "agents.mm.inventory": -MAX_LOTS,
            "agents.mm.quote_size": MAX_LOTS,
        }
    )
    result = abm.run(scenario)
    assert result.market["bid_depth"].dtype == np.int64
    assert result.trades["qty"].max() <= MAX_LOTS


def test_scenario_price_past_max_ticks_is_refused() -> None:
    """A price over MAX_PRICE_TICKS ticks (s0 100 with a 1e-20 tick) names the price."""
    message = problem_of(MINIMAL, changes={"tick_size": 100.0 / MAX_PRICE_TICKS / 10})
    assert "fundamental.s0: 100.0 is 1e+13 ticks" in message


# --- class 8: the name is a plain name ---


@pytest.mark.parametrize("name", ["../../x", "/abs/dir", ".hidden", "a/b", "x" * 101, "a b"])
def test_scenario_name_that_is_not_a_plain_name_is_refused(name: str) -> None:
    """A name names runs/<name>: a path, a leading dot or a long name is refused."""
    assert "name: " in problem_of(minimal(name=name))


def test_scenario_shipped_names_are_plain_names() -> None:
    """Every shipped scenario still loads under the name rule."""
    names = {load_scenario(path).name for path in SCENARIOS.rglob("*.yaml")}
    assert "baseline" in names


# --- class 10: messages stay bounded ---


def test_scenario_many_unknown_keys_give_a_bounded_message() -> None:
    """10^5 unknown keys give MAX_PROBLEMS lines and a count, not a 20 MB message."""
    document = minimal(**{f"junk{i}": i for i in range(100_000)})
    message = problem_of(document)
    assert len(message.splitlines()) == MAX_PROBLEMS + 1
    assert message.endswith(f"and {100_000 - MAX_PROBLEMS:,} more problems")
    assert len(message) < 20_000


def test_scenario_long_value_is_clipped_in_its_message() -> None:
    """A 1 MB string where a number belongs is shown cut, not echoed."""
    message = problem_of(minimal(steps="9" * 1_000_000))
    assert len(message) < 100 + MAX_SHOWN_CHARS
    assert "9..." in message


def test_load_scenario_of_a_text_file_does_not_echo_it(tmp_path: Path) -> None:
    """A file that parses as one long string (like /etc/passwd) is described, not echoed."""
    path = tmp_path / "passwd"
    secret = "root:x:0:0:root:/root:/bin/bash secret-token-123"
    path.write_text(f"{secret}\n{secret}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "secret-token-123" not in message
    assert "must be a mapping of scenario fields, got a string of" in message


def test_override_unknown_path_lists_a_bounded_number_of_keys() -> None:
    """An unknown path under 5,000 groups lists MAX_PROBLEMS of them and a count."""
    groups = {
        f"g{i}": {"kind": "noise", "count": 0, "arrival": {"kind": "poisson", "rate": 0}}
        for i in range(5000)
    }
    scenario = Scenario.from_dict(minimal(agents=groups))
    with pytest.raises(ScenarioError) as info:
        scenario.override({"agents.nope.count": 1})
    message = str(info.value)
    assert f"and {5000 - MAX_PROBLEMS:,} more" in message
    assert len(message) < 2_000


# --- class 12: API arguments ---


@pytest.mark.parametrize("path", [None, 3, b"baseline", ["baseline"]])
def test_load_scenario_argument_of_the_wrong_type_is_a_scenario_error(path: Any) -> None:
    """``load_scenario(None)`` raises a ScenarioError that is also a TypeError, naming path."""
    with pytest.raises(ScenarioError, match="load_scenario: path must be") as info:
        abm.load_scenario(path)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, abm.AbmError)


@pytest.mark.parametrize("changes", [[("steps", 10)], "steps=10", None, 5])
def test_override_argument_that_is_not_a_mapping_is_a_scenario_error(changes: Any) -> None:
    """``scenario.override([...])`` raises a ScenarioError (and TypeError) naming changes."""
    scenario = Scenario.from_yaml_text(MINIMAL)
    with pytest.raises(ScenarioError, match="override: changes must be a mapping") as info:
        scenario.override(changes)
    assert isinstance(info.value, TypeError)


# --- class 2: what the run would refuse, refused at load ---


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"agents.mm.count": 0}, "network: "),
        ({"agents.mm.count": 2}, "network.topology.mean_degree: 2.0 exceeds 1"),
        ({"agents.mm.cash": -1.0}, "agents.mm.cash: -1.0 is negative"),
        ({"network.topology": {"kind": "star", "center": 99}}, "network.topology.center: 99"),
        ({"network.topology": {"kind": "barabasi_albert", "m": 20}}, "network.topology.m: 20"),
        ({"network.topology": {"kind": "core_periphery", "core": 21}}, "network.topology.core"),
        ({"network.exposure": {"kind": "given"}}, "network.exposure.kind: 'given'"),
    ],
)
def test_scenario_network_that_cannot_be_built_is_refused_at_load(
    changes: dict[str, Any], path: str
) -> None:
    """A network the run's graph builder would refuse (NetworkError) names its field at load."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(FIRE_SALE).override(changes)
    assert path in str(info.value)


def test_scenario_program_after_the_last_step_names_its_field() -> None:
    """The flash-crash reproducer: --set steps=20 names agents.seller.start_step, not the top."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(SCENARIOS / "crisis" / "flash_crash_2010.yaml").override({"steps": 20})
    assert "<scenario>: agents.seller.start_step: 9000 is after the run's last step" in str(
        info.value
    )
    assert "<top level>" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"fundamental.sigma": 1e300}, "fundamental.sigma: must be less than or equal to 1000000"),
        (
            {"agents.mm.volatility": {"kind": "ewma", "initial_sigma": 1e300}},
            "agents.mm.volatility.initial_sigma: must be less than or equal to 1000000",
        ),
        ({"tick_size": 1e300}, "fundamental.s0: 100.0 is less than one tick"),
    ],
)
def test_scenario_values_that_overflow_the_quotes_are_refused(
    changes: dict[str, Any], expected: str
) -> None:
    """A sigma of 1e300 (squared by the quoting formulas) or a tick above the price is refused.

    Both loaded before and then failed in the run with OverflowError (infinite quotes).
    """
    assert expected in problem_of(MINIMAL, changes=changes)


def test_load_scenario_missing_edge_list_names_the_field(tmp_path: Path) -> None:
    """An edge_list topology whose CSV is missing is refused at load, naming its field.

    It loaded before and the run then failed building the network (NetworkError).
    """
    document = load_scenario(FIRE_SALE).model_dump(mode="json")
    document["network"]["topology"] = {"kind": "edge_list", "path": "edges.csv"}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"network\.topology\.path: '.*edges\.csv' is not a"):
        load_scenario(path)
    (tmp_path / "edges.csv").write_text("source,target\n0,1\n", encoding="utf-8")
    assert load_scenario(path).network.topology.path == str(tmp_path / "edges.csv")
