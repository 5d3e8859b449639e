"""MarketModel follows Mesa's conventions: running, the step counter, a datacollector for plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import abm
from abm.model import MarketModel
from abm.results.recorder import MARKET_COLUMNS
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SHORT_STEPS = 60


@pytest.fixture(scope="module")
def short() -> Scenario:
    return abm.load_scenario(BASELINE).override({"steps": SHORT_STEPS})


def test_model_run_model_returns_after_scenario_steps(short: Scenario) -> None:
    """Mesa's run_model() loops while model.running: it stops after scenario.steps steps."""
    model = MarketModel(short)
    try:
        model.run_model()
        assert (model.step_index, model.running) == (SHORT_STEPS, False)
    finally:
        model.release()


def test_model_running_until_the_last_step(short: Scenario) -> None:
    """model.running is True at construction and after every step but the last."""
    model = MarketModel(short)
    try:
        seen = [model.running]
        for _ in range(SHORT_STEPS):
            model.step()
            seen.append(model.running)
        assert seen == [True] * SHORT_STEPS + [False]
    finally:
        model.release()


def test_model_run_model_tables_equal_abm_run(short: Scenario) -> None:
    """Stepping through Mesa's run_model() records exactly the tables abm.run records."""
    model = MarketModel(short)
    try:
        model.run_model()
        mine = RunResult.from_recorder(
            model.recorder, scenario_yaml=short.to_yaml(), summary={}, meta={}
        )
    finally:
        model.release()
    reference = abm.run(short)
    for name, table in reference.tables().items():
        other = mine.tables()[name]
        assert table.dtypes.equals(other.dtypes), name
        assert table.equals(other), name


def test_model_step_index_reads_mesa_step_counter(short: Scenario) -> None:
    """step_index is Mesa's own count of step() calls (Model.steps), not a second counter."""
    model = MarketModel(short)
    try:
        for _ in range(7):
            model.step()
        assert model.step_index == model.steps == 7
        model.step_index = 3  # tests place a model at a step; Mesa's counter follows
        assert model.steps == 3
    finally:
        model.release()


def test_model_datacollector_model_vars_are_the_market_table(short: Scenario) -> None:
    """get_model_vars_dataframe() is the market table so far, indexed by step."""
    model = MarketModel(short)
    try:
        for _ in range(5):
            model.step()
        frame = model.datacollector.get_model_vars_dataframe()
        assert list(frame.columns) == list(MARKET_COLUMNS)
        assert list(frame.index) == list(range(6))
        model.step()
        grown = model.datacollector.get_model_vars_dataframe()
        assert list(grown.index) == list(range(7))
        finished = RunResult.from_recorder(
            model.recorder, scenario_yaml="", summary={}, meta={}
        ).market
        assert grown.reset_index(drop=True).equals(finished)
    finally:
        model.release()


def test_model_datacollector_feeds_mesa_plot_component(short: Scenario) -> None:
    """Mesa's own matplotlib plot component draws a market column from model.datacollector."""
    solara = pytest.importorskip("solara")
    ipywidgets = pytest.importorskip("ipywidgets")
    components = pytest.importorskip("mesa.visualization.components.matplotlib_components")
    model = MarketModel(short)
    try:
        for _ in range(10):
            model.step()
        element = components.PlotMatplotlib(model, ["mid", "fundamental"])
        _, rc = solara.render(element, handle_error=False)
        (image,) = rc.find(ipywidgets.Image).widgets
        assert bytes(image.value).startswith(b"\x89PNG")
    finally:
        model.release()


def _datacollector_comparison(scenario: Scenario) -> dict[str, Any]:
    """Run ``scenario`` once, timing its steps, abm's recorder, and Mesa's DataCollector.

    The DataCollector collects seven agent reporters on every agent after every step; abm's
    recorder (``model._record`` each step, then ``Recorder.finish``) writes the agents table
    as it is (market makers every step, the others at a stride) and the other tables.
    """
    from mesa import DataCollector

    model = MarketModel(scenario)
    mark, hedge = model.mark_price, model.hedge_venue
    record, recorder_s = model._record, 0.0

    def timed_record(*, final: bool) -> None:
        nonlocal recorder_s
        started = time.perf_counter()
        record(final=final)
        recorder_s += time.perf_counter() - started

    def equity(agent: Any) -> float:
        return float(agent.equity(mark=mark(), hedge_mark=hedge.price))

    model._record = timed_record  # type: ignore[method-assign]
    collector = DataCollector(
        model_reporters={
            "mid": lambda m: m.mid_price(),
            "fundamental": lambda m: m.fundamental.value,
        },
        agent_reporters={
            "kind": "kind",
            "group": "group",
            "inventory": "inventory",
            "cash": "cash",
            "equity": equity,
            "regime": lambda a: a.regime.value,
            "status": lambda a: a.status.value,
        },
    )
    run_s = collect_s = 0.0
    try:
        for _ in range(scenario.steps):
            started = time.perf_counter()
            model.step()
            run_s += time.perf_counter() - started
            started = time.perf_counter()
            collector.collect(model)
            collect_s += time.perf_counter() - started
        started = time.perf_counter()
        recorded = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={})
        finish_s = time.perf_counter() - started
        started = time.perf_counter()
        collected = collector.get_agent_vars_dataframe()
        collect_s += time.perf_counter() - started
        n_agents = len(model.agents)
    finally:
        model.release()
    return {
        "run_s": run_s + finish_s,
        "recorder_s": recorder_s + finish_s,
        "collect_s": collect_s,
        "agents": n_agents,
        "recorded": recorded,
        "collected": collected,
    }


@pytest.mark.slow
def test_datacollector_records_the_agents_abm_records() -> None:
    """Mesa's DataCollector on every baseline agent, every step, sees the recorder's inventories.

    Also prints what each costs in the same run (README, "Running and outputs"):
    ``pytest tests/test_mesa_conventions.py -m slow -s``.
    """
    scenario = abm.load_scenario(BASELINE)
    measured = _datacollector_comparison(scenario)
    collected: pd.DataFrame = measured["collected"].reset_index()
    agents: pd.DataFrame = measured["recorded"].agents
    last = agents[agents["step"] == scenario.steps].set_index("agent_id")["inventory"]
    mine = collected[collected["Step"] == scenario.steps].set_index("AgentID")["inventory"]
    assert len(collected) == measured["agents"] * scenario.steps
    assert mine.sort_index().to_dict() == last.sort_index().to_dict()
    run_s, recorder_s, collect_s = measured["run_s"], measured["recorder_s"], measured["collect_s"]
    print(
        f"\nbaseline, {measured['agents']:,} agents, {scenario.steps:,} steps: the run "
        f"{run_s:.2f} s, of which abm's recorder {recorder_s:.2f} s "
        f"({len(agents):,} agents rows); DataCollector on every agent every step "
        f"{collect_s:.2f} s ({len(collected):,} rows): {collect_s / recorder_s:.0f}x the "
        f"recorder, {collect_s / run_s:.1f}x the whole run"
    )
