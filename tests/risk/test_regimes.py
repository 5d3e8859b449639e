"""Tests for abm.risk.regimes.RegimeMachine: escalation, hysteresis, per-regime parameters, events.

Expected transitions follow the `RegimeSpec` contract: a trigger asks for the highest regime
whose threshold it reaches; the machine escalates at once to the highest regime asked for and
steps down one regime at a time, only after ``min_steps`` updates in the current regime and
when every trigger is below ``exit_fraction`` times the current regime's thresholds. The model
runs use a flat fundamental (``sigma`` 0) with price gaps, so that drawdowns, transition steps
and quote widths are hand-computable.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from abm.model import MarketModel
from abm.results.run_result import RunResult
from abm.risk.regimes import RegimeMachine, RegimeParams, RegimeSpec, RiskReading
from abm.scenario.schema import Scenario
from abm.states import Regime

NORMAL, STRESSED, CRISIS = Regime.NORMAL, Regime.STRESSED, Regime.CRISIS


def _machine(**overrides: Any) -> RegimeMachine:
    """Volatility trigger 1.0 / 2.0, drawdown 10 / 20; exit 0.8; min_steps 3 unless overridden."""
    spec: dict[str, Any] = {
        "volatility": {"stressed": 1.0, "crisis": 2.0},
        "drawdown": {"stressed": 10.0, "crisis": 20.0},
        "exit_fraction": 0.8,
        "min_steps": 3,
    }
    spec.update(overrides)
    return RegimeMachine(RegimeSpec.model_validate(spec))


def _vol(value: float) -> RiskReading:
    return RiskReading(volatility=value, drawdown=0.0, inventory_utilisation=0.0)


def _feed(machine: RegimeMachine, readings: list[RiskReading]) -> list[Regime]:
    """The regime after each reading."""
    out = []
    for reading in readings:
        machine.update(reading)
        out.append(machine.regime)
    return out


def _transitions(machine: RegimeMachine, readings: list[RiskReading]) -> int:
    return sum(machine.update(reading) is not None for reading in readings)


# --- escalation ---------------------------------------------------------------------------


def test_regime_machine_starts_normal() -> None:
    """A new machine is NORMAL with neutral quoting parameters."""
    machine = _machine()
    assert machine.regime is NORMAL
    assert machine.params() == RegimeParams()


def test_regime_machine_stays_normal_below_thresholds() -> None:
    """Readings below every stressed threshold keep NORMAL (no transition reported)."""
    machine = _machine()
    readings = [RiskReading(0.99, 9.99, 5.0)] * 20  # utilisation has no trigger configured
    assert _transitions(machine, readings) == 0
    assert machine.regime is NORMAL


def test_regime_machine_escalates_immediately_to_stressed() -> None:
    """A trigger reaching its stressed threshold (>=) moves NORMAL -> STRESSED at that update."""
    machine = _machine()
    assert machine.update(_vol(1.0)) is STRESSED
    assert machine.regime is STRESSED


def test_regime_machine_escalates_straight_to_crisis() -> None:
    """A reading at the crisis threshold skips STRESSED: NORMAL -> CRISIS at once."""
    machine = _machine()
    assert machine.update(_vol(2.5)) is CRISIS


def test_regime_machine_takes_highest_trigger() -> None:
    """Volatility asks STRESSED, drawdown asks CRISIS: the machine goes to CRISIS."""
    machine = _machine()
    assert machine.update(RiskReading(1.5, 25.0, 0.0)) is CRISIS


def test_regime_machine_escalates_from_stressed_without_waiting() -> None:
    """Escalation ignores ``min_steps``: STRESSED -> CRISIS on the next update that asks for it."""
    machine = _machine(min_steps=50)
    machine.update(_vol(1.2))
    assert machine.update(_vol(2.0)) is CRISIS


def test_regime_machine_update_reports_only_changes() -> None:
    """`update` returns the new regime on a transition and None otherwise."""
    machine = _machine()
    assert [machine.update(_vol(v)) for v in (0.5, 1.5, 1.5, 1.9)] == [None, STRESSED, None, None]


# --- de-escalation and hysteresis ----------------------------------------------------------


def test_regime_machine_waits_min_steps_before_stepping_down() -> None:
    """Entered at update 1 with min_steps 3: calm readings step down at update 4, not before."""
    machine = _machine(min_steps=3)
    regimes = _feed(machine, [_vol(1.5)] + [_vol(0.1)] * 4)
    assert regimes == [STRESSED, STRESSED, STRESSED, NORMAL, NORMAL]


def test_regime_machine_steps_down_one_level_at_a_time() -> None:
    """From CRISIS, calm readings give STRESSED after min_steps, NORMAL min_steps later."""
    machine = _machine(min_steps=2)
    regimes = _feed(machine, [_vol(3.0)] + [_vol(0.0)] * 5)
    assert regimes == [CRISIS, CRISIS, STRESSED, STRESSED, NORMAL, NORMAL]


def test_regime_machine_exit_level_is_exit_fraction_times_threshold() -> None:
    """STRESSED (threshold 1.0, exit 0.8): 0.81 keeps it, 0.79 steps down."""
    machine = _machine(min_steps=0)
    machine.update(_vol(1.0))
    assert _feed(machine, [_vol(0.81)] * 5) == [STRESSED] * 5
    assert machine.update(_vol(0.79)) is NORMAL


def test_regime_machine_crisis_exit_uses_crisis_thresholds() -> None:
    """CRISIS (threshold 2.0, exit 0.8) steps down once below 1.6, to STRESSED only."""
    machine = _machine(min_steps=0)
    machine.update(_vol(2.0))
    assert machine.update(_vol(1.61)) is None
    assert machine.update(_vol(1.59)) is STRESSED


def test_regime_machine_steps_down_only_when_every_trigger_is_below_exit() -> None:
    """Volatility calm but drawdown at 9 (>= 0.8 x 10): STRESSED holds however long."""
    machine = _machine(min_steps=1)
    machine.update(_vol(1.5))
    assert _transitions(machine, [RiskReading(0.0, 9.0, 0.0)] * 30) == 0
    assert machine.update(RiskReading(0.0, 7.9, 0.0)) is NORMAL


def test_regime_machine_ignores_unconfigured_triggers() -> None:
    """Only configured triggers count: a huge drawdown with only a volatility trigger is NORMAL."""
    machine = RegimeMachine(RegimeSpec.model_validate({"volatility": {"stressed": 1, "crisis": 2}}))
    assert machine.update(RiskReading(0.0, 1e9, 1e9)) is None


def test_regime_machine_does_not_flap_around_threshold() -> None:
    """A measure alternating 0.99 / 1.01 x threshold gives one transition in 200 updates."""
    machine = _machine(min_steps=0)
    readings = [_vol(1.01 if i % 2 == 0 else 0.99) for i in range(200)]
    assert _transitions(machine, readings) == 1


def test_regime_machine_without_hysteresis_flaps() -> None:
    """Control: exit_fraction 1 and min_steps 0 make the same measure flap every update."""
    machine = _machine(exit_fraction=1.0, min_steps=0)
    readings = [_vol(1.01 if i % 2 == 0 else 0.99) for i in range(200)]
    assert _transitions(machine, readings) == 200


def test_regime_machine_min_steps_bounds_time_in_regime() -> None:
    """A measure alternating far above / far below: every STRESSED spell lasts >= min_steps."""
    min_steps = 7
    machine = _machine(min_steps=min_steps)
    regimes = _feed(machine, [_vol(1.5 if i % 2 == 0 else 0.1) for i in range(300)])
    spells, run = [], 0
    for regime in regimes:
        if regime is STRESSED:
            run += 1
        elif run:
            spells.append(run)
            run = 0
    assert len(spells) > 10  # the measure does leave the regime repeatedly
    assert min(spells) >= min_steps


# --- parameters ---------------------------------------------------------------------------


def test_regime_machine_params_per_regime() -> None:
    """`params` is neutral in NORMAL and the spec's stressed / crisis parameters otherwise."""
    stressed = {"spread_mult": 1.5, "size_mult": 0.7, "max_inventory": 30}
    crisis = {"spread_mult": 5.0, "size_mult": 0.1, "max_inventory": 3, "withdraw": True}
    machine = _machine(stressed=stressed, crisis=crisis)
    assert machine.params() == RegimeParams()
    machine.update(_vol(1.0))
    assert machine.params() == RegimeParams(**stressed)
    machine.update(_vol(2.0))
    assert machine.params() == RegimeParams(**crisis)


def test_regime_spec_rejects_crisis_below_stressed() -> None:
    """A crisis threshold below the stressed one is a validation error naming both."""
    with pytest.raises(ValueError, match="crisis"):
        RegimeSpec.model_validate({"volatility": {"stressed": 2.0, "crisis": 1.0}})


# --- in a model run -----------------------------------------------------------------------

GAP_DOWN, GAP_UP, MIN_STEPS = 5, 20, 4


@pytest.fixture(scope="module")
def drawdown_run() -> RunResult:
    """One market maker long 10 at 100; gaps of -1 at step 5 and +1 at step 20; no takers.

    Drawdown is 10 x 1 = 10 (>= crisis 8) from step 5 and 0 from step 20.
    """
    model = _lone_maker(
        30,
        [(GAP_DOWN, -1.0), (GAP_UP, 1.0)],
        inventory=10,
        regimes={
            "drawdown": {"stressed": 4.0, "crisis": 8.0},
            "min_steps": MIN_STEPS,
            "stressed": {"spread_mult": 2.0},
            "crisis": {"spread_mult": 4.0},
        },
    )
    while not model.finished:
        model.step()
    scenario = model.scenario
    return RunResult.from_recorder(
        model.recorder, scenario_yaml=scenario.to_yaml(), summary={}, meta={}
    )


def test_regime_events_logged_at_transitions(drawdown_run: RunResult) -> None:
    """Events "NORMAL->CRISIS" at the gap down, "CRISIS->STRESSED" at the recovery, then NORMAL.

    The last step is ``min_steps`` after the recovery (one regime at a time).
    """
    events = drawdown_run.events
    regime = events[events["kind"] == "regime"]
    got = list(zip(regime["step"], regime["regime_from"], regime["regime_to"], strict=True))
    assert got == [
        (GAP_DOWN, "NORMAL", "CRISIS"),
        (GAP_UP, "CRISIS", "STRESSED"),
        (GAP_UP + MIN_STEPS, "STRESSED", "NORMAL"),
    ]
    assert (regime["amount"] == 10.0).all()  # the inventory at the transition
    assert regime["agent_id"].notna().all()


def test_regime_agents_table_follows_events(drawdown_run: RunResult) -> None:
    """The agents table's regime at each step is the target of the last regime event so far."""
    events = drawdown_run.events
    changes = {
        int(step): str(target)
        for step, target in zip(
            events.loc[events["kind"] == "regime", "step"],
            events.loc[events["kind"] == "regime", "regime_to"],
            strict=True,
        )
    }
    current = "NORMAL"
    for step, regime in zip(
        drawdown_run.agents["step"], drawdown_run.agents["regime"], strict=True
    ):
        current = changes.get(int(step), current)
        assert regime == current, step


def test_regime_quotes_widen_by_regime_spread_mult(drawdown_run: RunResult) -> None:
    """Quoted width is 0.1 x spread_mult: 0.1 in NORMAL, 0.2 in STRESSED, 0.4 in CRISIS."""
    agents = drawdown_run.agents[drawdown_run.agents["step"] > 0]
    width = (agents["ask"] - agents["bid"]).round(6)
    expected = agents["regime"].map({"NORMAL": 0.1, "STRESSED": 0.2, "CRISIS": 0.4})
    assert set(agents["regime"]) == {"NORMAL", "STRESSED", "CRISIS"}
    assert (width == expected).all()


def test_regime_volatility_shock_drives_regimes_up_and_back() -> None:
    """A volatility spike lifts the EWMA estimate into CRISIS and the machine comes back to NORMAL.

    Regime events form a chain (each starts where the previous ended) from NORMAL back to NORMAL.
    """
    scenario = Scenario.from_dict(
        {
            "name": "vol_regimes",
            "seed": 5,
            "steps": 250,
            "tick_size": 0.01,
            "mark": "fundamental",
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.05},
            "shocks": [{"kind": "volatility", "step": 80, "until_step": 120, "multiplier": 6.0}],
            "agents": {
                "mm": {
                    "kind": "market_maker",
                    "count": 1,
                    "policy": {"kind": "symmetric", "spread": 0.1},
                    "reference": "fundamental",
                    "volatility": {"kind": "ewma", "halflife_steps": 5, "initial_sigma": 0.05},
                    "regimes": {"volatility": {"stressed": 0.12, "crisis": 0.25}},
                },
                "noise": {
                    "kind": "noise",
                    "count": 20,
                    "arrival": {"kind": "poisson", "rate": 0.1},
                },
            },
        }
    )
    model = MarketModel(scenario)
    for _ in range(scenario.steps):
        model.step()
    events = RunResult.from_recorder(model.recorder, scenario_yaml="", summary={}, meta={}).events
    regime = events.loc[events["kind"] == "regime"]
    pairs = [
        (str(a), str(b)) for a, b in zip(regime["regime_from"], regime["regime_to"], strict=True)
    ]
    steps = list(regime["step"])
    assert ("NORMAL", "STRESSED") in pairs or ("NORMAL", "CRISIS") in pairs
    assert any(target == "CRISIS" for _, target in pairs)
    assert steps[0] >= 80  # nothing before the spike
    assert pairs[0][0] == "NORMAL"
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(pairs))
    assert pairs[-1][1] == "NORMAL"


# --- the way back, hand-computed ------------------------------------------------------------


def _lone_maker(steps: int, gaps: list[tuple[int, float]], **mm: Any) -> MarketModel:
    """One market maker on a flat fundamental (100, sigma 0) with price gaps; no takers."""
    return MarketModel(
        Scenario.from_dict(
            {
                "name": "way_back",
                "seed": 1,
                "steps": steps,
                "tick_size": 0.01,
                "mark": "fundamental",
                "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
                "shocks": [
                    {"kind": "price_gap", "step": step, "size": size} for step, size in gaps
                ],
                "agents": {
                    "mm": {
                        "kind": "market_maker",
                        "count": 1,
                        "policy": {"kind": "symmetric", "spread": 0.1},
                        "quote_size": 2,
                        "reference": "fundamental",
                        **mm,
                    }
                },
            }
        )
    )


def _regimes_by_step(model: MarketModel) -> list[Regime]:
    """Step the model to its end; the market maker's regime after each step (1, 2, ...)."""
    (maker,) = model.market_makers
    regimes = []
    while not model.finished:
        model.step()
        regimes.append(maker.regime)
    return regimes


def test_regime_volatility_trigger_clears_and_maker_returns_to_normal() -> None:
    """A 1.0 gap at step 5 lifts the EWMA sigma to CRISIS; as it decays, CRISIS -> NORMAL.

    Hand computation (halflife 1 step, so each calm step halves the variance; initial sigma
    0.01): variance 1e-4 at step 1, halved to 1.25e-5 by step 4; at the gap
    0.5 * 1.25e-5 + 0.5 * 1.0**2, so sigma 0.7071 at step 5, then 0.5000, 0.3536, 0.2500,
    0.1768, 0.1250 at steps 6-10. Thresholds 0.2 / 0.6, exit 0.8 (0.16 / 0.48), min_steps 2:
    CRISIS at 5 (>= 0.6) and 6 (0.5 >= 0.48, and one step only); STRESSED at 7 (0.354 <
    0.48, two steps in CRISIS); held at 8 and 9 (9: 0.177 is below the entry level 0.2 but
    not below the exit level 0.16); NORMAL at 10 (0.125 < 0.16, three steps in STRESSED).
    """
    model = _lone_maker(
        14,
        [(5, 1.0)],
        volatility={"kind": "ewma", "halflife_steps": 1, "initial_sigma": 0.01},
        regimes={
            "volatility": {"stressed": 0.2, "crisis": 0.6},
            "exit_fraction": 0.8,
            "min_steps": 2,
        },
    )
    (maker,) = model.market_makers
    sigmas, regimes = [], []
    while not model.finished:
        model.step()
        sigmas.append(maker.volatility.sigma)
        regimes.append(maker.regime)
    variance = [1e-4 / 2**k for k in range(4)]
    variance.append(variance[-1] / 2 + 1.0 / 2)
    variance += [variance[-1] / 2**k for k in range(1, 10)]
    assert sigmas == pytest.approx([v**0.5 for v in variance], rel=1e-12)
    assert regimes == [NORMAL] * 4 + [CRISIS] * 2 + [STRESSED] * 3 + [NORMAL] * 5


def test_regime_drawdown_holds_until_the_loss_is_earned_back() -> None:
    """Long 10 lots: a -1 gap (drawdown 10) then +0.5 (5) then +0.3 (2): CRISIS, STRESSED, NORMAL.

    Thresholds 4 / 8, exit 0.8 (3.2 / 6.4), min_steps 4; the peak stays the opening equity.
    Step 5: drawdown 10 >= 8, CRISIS. Steps 7 and 8: 5 < 6.4, but CRISIS has not yet lasted
    4 steps (5-8): held. Step 9: STRESSED. 5 >= 3.2 then holds STRESSED for as long as the
    loss stands (31 steps; there is no timeout). Step 40: 2 < 3.2, NORMAL.
    """
    model = _lone_maker(
        50,
        [(5, -1.0), (7, 0.5), (40, 0.3)],
        inventory=10,
        regimes={
            "drawdown": {"stressed": 4.0, "crisis": 8.0},
            "exit_fraction": 0.8,
            "min_steps": 4,
        },
    )
    regimes = _regimes_by_step(model)
    assert regimes == [NORMAL] * 4 + [CRISIS] * 4 + [STRESSED] * 31 + [NORMAL] * 11
