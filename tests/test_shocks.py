"""Tests for abm.shocks: price gaps, volatility windows and gap windows, alone and in a model run.

Expected values follow the `PriceGapShock` / `VolatilityShock` contracts: an absolute gap adds
``size``, a relative one multiplies by ``exp(size)``, both at their step; a volatility shock
multiplies the fundamental's own move on steps ``step <= n < until_step``; an announced gap at
``g`` opens the window ``[g - before_steps, g + after_steps]``. Model runs use a flat
fundamental (``sigma`` 0) where exact values are needed, and the model's common random numbers
(the fundamental's own stream) where moves are compared between two runs.
"""

from __future__ import annotations

import math
from typing import Any, get_args

import numpy as np
import pytest

from abm.fundamental import FundamentalProcess, make_fundamental
from abm.model import MarketModel
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario, ScenarioError
from abm.shocks import SHOCKS, PriceGapShock, ShockSchedule, ShockSpec, VolatilityShock


def _gap(step: int, size: float, *, relative: bool = False, announced: bool = True):
    return PriceGapShock(
        kind="price_gap", step=step, size=size, relative=relative, announced=announced
    )


def _vol(step: int, until_step: int, multiplier: float) -> VolatilityShock:
    return VolatilityShock(
        kind="volatility", step=step, until_step=until_step, multiplier=multiplier
    )


def _flat(s0: float = 100.0) -> FundamentalProcess:
    return make_fundamental("arithmetic", np.random.default_rng(0), s0=s0, dt=1.0, sigma=0.0)


def _apply_path(schedule: ShockSchedule, process: FundamentalProcess, steps: int):
    """Fundamental values and returned gaps for steps 1..steps, as the model applies them."""
    values, gaps = [], []
    for step in range(1, steps + 1):
        previous = process.value
        process.step()
        gaps.append(schedule.apply(step, process, previous))
        values.append(process.value)
    return values, gaps


# --- price gaps -----------------------------------------------------------------------------


def test_shock_schedule_absolute_gap_applied_at_its_step() -> None:
    """A +2.5 gap at step 3 of a flat 100: values 100, 100, 102.5, 102.5, 102.5."""
    values, gaps = _apply_path(ShockSchedule([_gap(3, 2.5)]), _flat(), 5)
    assert values == [100.0, 100.0, 102.5, 102.5, 102.5]
    assert gaps == [0.0, 0.0, 2.5, 0.0, 0.0]


def test_shock_schedule_relative_gap_is_log_size() -> None:
    """A relative gap of -0.1 multiplies by exp(-0.1); the returned gap is the price change."""
    values, gaps = _apply_path(ShockSchedule([_gap(2, -0.1, relative=True)]), _flat(80.0), 3)
    expected = 80.0 * math.exp(-0.1)
    assert values[0] == 80.0
    assert values[1] == pytest.approx(expected, rel=1e-15)
    assert gaps[1] == pytest.approx(expected - 80.0, rel=1e-12)


def test_shock_schedule_gaps_at_one_step_compound_in_order() -> None:
    """Two gaps at one step apply in listing order: (100 + 1) * exp(0.1), total gap returned."""
    schedule = ShockSchedule([_gap(1, 1.0), _gap(1, 0.1, relative=True)])
    values, gaps = _apply_path(schedule, _flat(), 1)
    assert values[0] == pytest.approx(101.0 * math.exp(0.1), rel=1e-15)
    assert gaps[0] == pytest.approx(values[0] - 100.0, rel=1e-12)


def test_shock_schedule_lists_only_announced_gap_steps() -> None:
    """``announced_gap_steps`` are the sorted, distinct steps of announced gaps."""
    shocks: list[ShockSpec] = [
        _gap(30, 1.0),
        _gap(10, -1.0),
        _gap(10, 0.5),
        _gap(20, 2.0, announced=False),
        _vol(5, 9, 2.0),
    ]
    assert ShockSchedule(shocks).announced_gap_steps == [10, 30]


# --- volatility ---------------------------------------------------------------------------


def test_shock_schedule_volatility_multiplier_window() -> None:
    """Multiplier 3 on steps 5..9 (until_step 10 excluded), 1 elsewhere."""
    schedule = ShockSchedule([_vol(5, 10, 3.0)])
    got = {step: schedule.volatility_multiplier(step) for step in (4, 5, 9, 10)}
    assert got == {4: 1.0, 5: 3.0, 9: 3.0, 10: 1.0}


def test_shock_schedule_overlapping_volatility_shocks_multiply() -> None:
    """Overlapping windows multiply: 2 x 5 = 10 where both are active."""
    schedule = ShockSchedule([_vol(1, 10, 2.0), _vol(5, 20, 5.0)])
    assert [schedule.volatility_multiplier(s) for s in (3, 7, 15)] == [2.0, 10.0, 5.0]


def test_shock_schedule_volatility_scales_moves_only_within_window() -> None:
    """Same random stream: moves are 4x the baseline's on steps 6..10 and equal elsewhere."""
    base = make_fundamental("arithmetic", np.random.default_rng(9), s0=50.0, dt=1.0, sigma=0.3)
    shocked = make_fundamental("arithmetic", np.random.default_rng(9), s0=50.0, dt=1.0, sigma=0.3)
    schedule = ShockSchedule([_vol(6, 11, 4.0)])
    for step in range(1, 16):
        base_prev, shocked_prev = base.value, shocked.value
        base.step()
        shocked.step()
        schedule.apply(step, shocked, shocked_prev)
        factor = 4.0 if 6 <= step < 11 else 1.0
        assert shocked.value - shocked_prev == pytest.approx(
            factor * (base.value - base_prev), abs=1e-9
        )


def test_shock_schedule_gap_not_scaled_by_volatility() -> None:
    """A gap inside a volatility window is added after the scaled move, unscaled."""
    process = make_fundamental("arithmetic", np.random.default_rng(4), s0=100.0, dt=1.0, sigma=0.2)
    twin = make_fundamental("arithmetic", np.random.default_rng(4), s0=100.0, dt=1.0, sigma=0.2)
    schedule = ShockSchedule([_vol(1, 5, 3.0), _gap(1, -2.0)])
    previous = process.value
    process.step()
    gap = schedule.apply(1, process, previous)
    move = twin.step() - previous
    assert gap == -2.0
    assert process.value == pytest.approx(previous + 3.0 * move - 2.0, abs=1e-12)


def test_volatility_shock_requires_window_after_start() -> None:
    """``until_step`` must be after ``step``; the scenario error says so."""
    with pytest.raises(ScenarioError, match=r"shocks\.0: until_step \(5\) must be > step \(5\)"):
        Scenario.from_dict(
            _scenario([{"kind": "volatility", "step": 5, "until_step": 5, "multiplier": 2.0}])
        )


# --- gap windows ----------------------------------------------------------------------------


def test_shock_schedule_in_gap_window_boundaries() -> None:
    """Gap at 10, before 3, after 2: the window is steps 7..12 inclusive."""
    schedule = ShockSchedule([_gap(10, 1.0)])
    inside = [s for s in range(0, 20) if schedule.in_gap_window(s, 3, 2)]
    assert inside == list(range(7, 13))


def test_shock_schedule_zero_window_is_gap_step_only() -> None:
    """Before 0, after 0: only the gap's own step is in the window."""
    schedule = ShockSchedule([_gap(10, 1.0), _gap(14, 1.0)])
    assert [s for s in range(20) if schedule.in_gap_window(s, 0, 0)] == [10, 14]


def test_shock_schedule_unannounced_gap_has_no_window() -> None:
    """Unannounced gaps are not known in advance: no step is in their window."""
    schedule = ShockSchedule([_gap(10, 1.0, announced=False)])
    assert not any(schedule.in_gap_window(s, 5, 5) for s in range(25))


# --- in a model run -----------------------------------------------------------------------

GAP_STEP, GAP_SIZE = 6, -1.5


def _scenario(shocks: list[dict[str, Any]], *, sigma: float = 0.0) -> dict[str, Any]:
    """Flat fundamental at 100; three market makers: long 7, short 3 half-hedged, flat."""
    mm: dict[str, Any] = {
        "kind": "market_maker",
        "count": 1,
        "policy": {"kind": "symmetric", "spread": 0.2},
        "reference": "fundamental",
    }
    return {
        "name": "shocks",
        "seed": 2,
        "steps": 12,
        "tick_size": 0.01,
        "mark": "fundamental",
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": sigma},
        "shocks": shocks,
        "agents": {
            "long": {**mm, "inventory": 7},
            "short": {**mm, "inventory": -3, "hedge": {"kind": "partial", "fraction": 0.5}},
            "flat": {**mm, "inventory": 0},
        },
    }


def _run(document: dict[str, Any]) -> RunResult:
    scenario = Scenario.from_dict(document)
    model = MarketModel(scenario)
    for _ in range(scenario.steps):
        model.step()
    return RunResult.from_recorder(
        model.recorder, scenario_yaml=scenario.to_yaml(), summary={}, meta={}
    )


@pytest.fixture(scope="module")
def gap_run() -> RunResult:
    """An absolute gap of -1.5 at step 6."""
    return _run(_scenario([{"kind": "price_gap", "step": GAP_STEP, "size": GAP_SIZE}]))


def test_model_market_fundamental_jumps_at_gap_step(gap_run: RunResult) -> None:
    """The market table's fundamental is 100 up to step 5 and 98.5 from step 6."""
    fundamental = gap_run.market.set_index("step")["fundamental"]
    assert (fundamental.loc[: GAP_STEP - 1] == 100.0).all()
    assert (fundamental.loc[GAP_STEP:] == 100.0 + GAP_SIZE).all()


def test_model_hedge_price_follows_gap(gap_run: RunResult) -> None:
    """With no basis noise, the hedge price equals the fundamental, gap included."""
    market = gap_run.market
    assert (market["hedge_price"] == market["fundamental"]).all()


def test_model_relative_gap_in_market_fundamental() -> None:
    """A relative gap of 0.05 at step 3: the fundamental is 100 exp(0.05) from step 3."""
    run = _run(_scenario([{"kind": "price_gap", "step": 3, "size": 0.05, "relative": True}]))
    fundamental = run.market.set_index("step")["fundamental"]
    assert fundamental.loc[2] == 100.0
    assert fundamental.loc[3] == pytest.approx(100.0 * math.exp(0.05), rel=1e-15)


def test_model_logs_price_gap_event(gap_run: RunResult) -> None:
    """One "price_gap" event at the gap step, amount = gap, ``fundamental`` = new fundamental."""
    events = gap_run.events
    gaps = events[events["kind"] == "price_gap"]
    assert list(gaps["step"]) == [GAP_STEP]
    assert list(gaps["amount"]) == [GAP_SIZE]
    assert list(gaps["fundamental"]) == [100.0 + GAP_SIZE]
    assert gaps["agent_id"].isna().all()


def test_model_logs_gap_exposure_as_net_delta_times_gap(gap_run: RunResult) -> None:
    """Each market maker with a position logs amount = net delta x gap (net delta at step 5)."""
    events, agents = gap_run.events, gap_run.agents
    exposure = events[events["kind"] == "gap_exposure"].set_index("agent_id")
    before = agents[agents["step"] == GAP_STEP - 1].set_index("agent_id")
    positioned = before[(before["inventory"] != 0) | (before["hedge"] != 0)]
    assert sorted(exposure.index) == sorted(positioned.index)
    assert (exposure["step"] == GAP_STEP).all()
    for agent_id, row in positioned.iterrows():
        assert exposure.loc[agent_id, "amount"] == row["net_delta"] * GAP_SIZE
        assert exposure.loc[agent_id, "net_delta"] == row["net_delta"]


def test_model_gap_exposure_uses_hedged_net_delta(gap_run: RunResult) -> None:
    """The half-hedged short (inventory -3, hedge +2 after rounding) is exposed as -1 x gap."""
    events, agents = gap_run.events, gap_run.agents
    short_id = int(agents.loc[agents["group"] == "short", "agent_id"].iloc[0])
    row = events[(events["kind"] == "gap_exposure") & (events["agent_id"] == short_id)]
    assert list(row["amount"]) == [-1 * GAP_SIZE]


def test_model_volatility_shock_scales_fundamental_moves() -> None:
    """Same seed with and without a 3x shock on steps 4..7: moves 3x inside, equal outside."""
    shock = [{"kind": "volatility", "step": 4, "until_step": 8, "multiplier": 3.0}]
    plain = _run(_scenario([], sigma=0.1)).market["fundamental"].to_numpy()
    shocked = _run(_scenario(shock, sigma=0.1)).market["fundamental"].to_numpy()
    factor = np.array([3.0 if 4 <= step < 8 else 1.0 for step in range(1, len(plain))])
    np.testing.assert_allclose(np.diff(shocked), factor * np.diff(plain), atol=1e-9)
    assert np.abs(np.diff(plain)).min() > 0  # the comparison is not between zero moves


def test_shocks_registry_files_every_shock_kind() -> None:
    """Each shock kind the schema accepts has exactly one filing rule in SHOCKS."""
    kinds = {
        get_args(spec.model_fields["kind"].annotation)[0]
        for spec in get_args(get_args(ShockSpec)[0])
    }
    assert set(SHOCKS) == kinds
