"""Mark methodologies (`abm.market.mark`): specs, the pure computation, and how a run uses them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from abm.market.mark import (
    EmaMark,
    FundamentalMark,
    IndexMark,
    MarkInputs,
    VwapMark,
    describe_mark,
    mark_path,
    parse_mark,
)
from abm.model import MarketModel
from abm.results.run_result import RunResult
from abm.run import run
from abm.scenario.schema import Scenario, ScenarioError, load_scenario
from analysis.market_making import mark_prices

CRISIS = Path(__file__).resolve().parents[2] / "scenarios" / "crisis"
FIRE_SALE = CRISIS / "fire_sale_spiral.yaml"
NAN = math.nan
MARKS: dict[str, Any] = {
    "mid": "mid",
    "last": "last",
    "fundamental": "fundamental",
    "vwap": {"kind": "vwap", "window_steps": 5},
    "ema": {"kind": "ema", "halflife_steps": 5.0},
    "index": {"kind": "index", "basis_halflife_steps": 20.0},
}
DIRECTION_SEEDS = tuple(range(1, 9))
DEFAULT_MARGIN = 10  # dealers; measured: 20 defaults under last trade, 4-8 under the index


# --- the spec --------------------------------------------------------------------------------


def test_mark_plain_string_is_the_parameterless_spec_and_dumps_back() -> None:
    """``mark: fundamental`` reads as {kind: fundamental} and is written back as the string."""
    scenario = load_scenario(FIRE_SALE).override({"mark": "fundamental"})
    assert isinstance(scenario.mark, FundamentalMark)
    assert "\nmark: fundamental\n" in scenario.to_yaml()
    assert Scenario.from_yaml_text(scenario.to_yaml()) == scenario


def test_mark_spec_with_parameters_round_trips_through_yaml() -> None:
    """A parameterised mark survives the resolved scenario.yaml."""
    scenario = load_scenario(CRISIS / "mark_index.yaml")
    assert scenario.mark == IndexMark(kind="index", basis_halflife_steps=20.0)
    assert Scenario.from_yaml_text(scenario.to_yaml()).mark == scenario.mark


def test_mark_spec_rejects_a_nonpositive_half_life() -> None:
    """A half-life must be > 0; the error names the field."""
    with pytest.raises(ScenarioError, match="halflife_steps"):
        load_scenario(FIRE_SALE).override({"mark": {"kind": "ema", "halflife_steps": 0}})


def test_mark_spec_rejects_an_unknown_kind() -> None:
    """An unknown kind is a scenario error naming ``mark``."""
    with pytest.raises(ScenarioError, match="mark"):
        load_scenario(FIRE_SALE).override({"mark": "median"})


def test_mark_json_schema_accepts_strings_and_uses_standard_limits() -> None:
    """The schema takes plain strings and states limits as minimum / exclusiveMinimum."""
    schema = Scenario.model_json_schema()
    text = repr(schema)
    plain = schema["properties"]["mark"]["anyOf"][0]
    assert plain["enum"] == ["mid", "last", "fundamental"]
    defs = schema["$defs"]
    assert defs["VwapMark"]["properties"]["window_steps"]["minimum"] == 1
    assert defs["EmaMark"]["properties"]["halflife_steps"]["exclusiveMinimum"] == 0
    assert defs["IndexMark"]["properties"]["basis_halflife_steps"]["exclusiveMinimum"] == 0
    assert "description" in defs["IndexMark"]["properties"]["basis_halflife_steps"]
    assert "index" in text


def test_describe_mark_names_each_methodology() -> None:
    """Short descriptions for the report and summary.json."""
    assert describe_mark("mid") == "mid (last trade while one side is empty)"
    assert describe_mark({"kind": "index", "basis_halflife_steps": 20}) == (
        "index: fundamental + EMA basis, half-life 20 steps"
    )
    assert describe_mark(VwapMark(kind="vwap", window_steps=10)).startswith("VWAP")


def test_parse_mark_error_names_the_missing_parameter() -> None:
    """Vwap without a window is refused with the parameter's name."""
    with pytest.raises(ValueError, match="window_steps"):
        parse_mark({"kind": "vwap"})


# --- the pure computation (hand-computed paths) -------------------------------------------------


def _path(spec: Any, fundamental: list[float], mid: list[float], **kw: Any) -> list[float]:
    last = kw.pop("last", [NAN] * len(fundamental))
    return mark_path(spec, fundamental, mid, last, **kw).tolist()


def test_mark_mid_falls_back_to_last_trade_then_fundamental() -> None:
    """Mid where two-sided, else the last trade, else the fundamental."""
    assert _path("mid", [100, 100, 100], [NAN, NAN, 99.5], last=[NAN, 98, 98]) == [100, 98, 99.5]


def test_mark_last_is_the_last_trade_then_mid() -> None:
    """Last trade where there is one, else the mid, else the fundamental."""
    got = _path("last", [100, 100, 100], [NAN, 99.0, 99.5], last=[NAN, NAN, 98])
    assert got == [100, 99, 98]


def test_mark_ema_holds_while_one_side_is_empty() -> None:
    """Half-life 1 (weight 1/2): 100 (value), 100, 101, 101 (held), 102.5."""
    spec = EmaMark(kind="ema", halflife_steps=1.0)
    got = _path(spec, [100] * 5, [NAN, 100, 102, NAN, 104], last=[NAN, 100, 102, 70, 104])
    assert got == pytest.approx([100, 100, 101, 101, 102.5])


def test_mark_index_is_fundamental_plus_smoothed_basis() -> None:
    """Half-life 1: basis 0, 1, 1 (held), 1.5 on fundamentals 100, 100, 101, 101."""
    spec = IndexMark(kind="index", basis_halflife_steps=1.0)
    got = _path(spec, [100, 100, 101, 101], [NAN, 102, NAN, 103])
    assert got == pytest.approx([100, 101, 102, 102.5])


def test_mark_vwap_over_a_two_step_window() -> None:
    """99; (99+101)/2; 101; no trade -> mid 100.5; no trade, no mid -> held 100.5."""
    spec = VwapMark(kind="vwap", window_steps=2)
    got = _path(
        spec,
        [100] * 6,
        [NAN, NAN, NAN, NAN, 100.5, NAN],
        step_qty=[0, 1, 1, 0, 0, 0],
        step_notional=[0, 99, 101, 0, 0, 0],
    )
    assert got == pytest.approx([100, 99, 100, 101, 100.5, 100.5])


def test_mark_value_does_not_change_the_state() -> None:
    """Reading a mark within a step is idempotent; the commit returns the last reading."""
    method = IndexMark(kind="index", basis_halflife_steps=3.0).build()
    now = MarkInputs(fundamental=100.0, mid=101.0, last=101.0)
    first = method.value(now)
    assert method.value(now) == first == method.commit(now)
    assert method.value(now) > first  # the next step moves the basis further


# --- a run uses the mark ---------------------------------------------------------------------


def _book_flows(result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    book = result.trades[result.trades["venue"] == "book"]
    steps = result.market["step"].to_numpy()
    grouped = book.assign(notional=book["price"] * book["qty"]).groupby("step")
    qty = grouped["qty"].sum().reindex(steps, fill_value=0).to_numpy()
    return qty, grouped["notional"].sum().reindex(steps, fill_value=0.0).to_numpy()


@pytest.mark.parametrize("name", list(MARKS))
def test_model_records_the_mark_that_mark_path_rebuilds(name: str) -> None:
    """The market table's mark column is `mark_path` of the recorded columns, every kind."""
    scenario = load_scenario(FIRE_SALE).override({"mark": MARKS[name]})
    result = run(scenario, steps=80)
    market = result.market
    qty, notional = _book_flows(result)
    rebuilt = mark_path(
        MARKS[name], market["fundamental"], market["mid"], market["last_price"], qty, notional
    )
    assert np.isfinite(market["mark"]).all()
    np.testing.assert_allclose(market["mark"], rebuilt, rtol=0, atol=1e-9)


def test_model_mark_between_steps_is_the_recorded_mark() -> None:
    """After a step, mark_price() is the step's recorded mark (what the summary values at)."""
    scenario = load_scenario(FIRE_SALE).override({"mark": MARKS["index"]})
    model = MarketModel(scenario)
    for _ in range(60):
        model.step()
    recorded = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).market
    assert model.mark_price() == recorded["mark"].iloc[-1]
    model.release()


def test_model_agents_equity_uses_the_recorded_mark() -> None:
    """Every agents row's equity is cash + inventory x mark + hedge x hedge price + claims."""
    scenario = load_scenario(FIRE_SALE).override({"mark": MARKS["index"]})
    result = run(scenario, steps=40)
    agents = result.agents[result.agents["kind"] == "market_maker"]
    by_step = result.market.set_index("step")
    mark = agents["step"].map(by_step["mark"]).to_numpy()
    # claims - debts are not in the table, but constant before any default or credit call
    claims = (agents["equity"] - agents["cash"] - agents["inventory"] * mark).to_numpy()
    per_agent = pd.Series(claims).groupby(agents["agent_id"].to_numpy()).agg(np.ptp)
    assert per_agent.max() < 1e-6


def test_mark_prices_reads_the_column_and_rebuilds_missing_marks() -> None:
    """Where the mark column is empty, analysis rebuilds the same marks the model recorded."""
    result = run(load_scenario(FIRE_SALE), steps=80)
    unmarked = result.market.assign(mark=np.nan)
    rebuilt = mark_prices(unmarked, "mid", result.trades)
    np.testing.assert_allclose(rebuilt, result.market["mark"], rtol=0, atol=1e-9)
    assert np.array_equal(mark_prices(result.market, "mid"), result.market["mark"])


# --- the crisis pair: does the mark cause the cascade? -------------------------------------------


def _pair_defaults(seed: int) -> tuple[int, int]:
    last = run(load_scenario(CRISIS / "mark_last_trade.yaml"), seed=seed).summary["defaults"]
    index = run(load_scenario(CRISIS / "mark_index.yaml"), seed=seed).summary["defaults"]
    return last, index


def test_mark_index_stops_the_default_cascade_of_the_shipped_seed() -> None:
    """Shipped seed: all 20 dealers default marked to the last trade, far fewer on the index."""
    last, index = _pair_defaults(load_scenario(CRISIS / "mark_index.yaml").seed)
    assert last - index >= DEFAULT_MARGIN


@pytest.mark.slow
def test_mark_index_stops_the_default_cascade_across_seeds() -> None:
    """Seeds 1-8 (header: 20 defaults against 4-8): the index mark has >= 10 fewer each time."""
    for seed in DIRECTION_SEEDS:
        last, index = _pair_defaults(seed)
        assert last - index >= DEFAULT_MARGIN, seed


def test_mark_pair_differs_only_in_the_mark() -> None:
    """The two crisis files are the same market: only name, description and mark differ."""
    last = load_scenario(CRISIS / "mark_last_trade.yaml").model_dump(mode="json")
    index = load_scenario(CRISIS / "mark_index.yaml").model_dump(mode="json")
    differing = {key for key in last if last[key] != index[key]}
    assert differing == {"name", "description", "mark"}
