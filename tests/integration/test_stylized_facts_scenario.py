"""Tests for scenarios/stylized_facts.yaml: Cont's (2001) facts from a constant-volatility market.

The scenario's fundamental is an arithmetic Brownian motion (one constant sigma), so whatever
heavy tails and volatility clustering the mid shows must come from the traders. The default run
checks the shipped seed against `analysis.stylized_facts.scorecard` at its default thresholds, a
control on the same run's fundamental, the anchoring of the mid, and what the Hawkes bursts add;
the slow test repeats the scorecard over ten seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import FACTS
from _helpers import passed_by_fact as _passed

import abm
from abm.results.run_result import RunResult
from abm.scenario.schema import ArithmeticSpec, Scenario
from analysis.stylized_facts import autocorrelation, log_returns, scorecard

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "stylized_facts.yaml"
SWEEP_SEEDS = tuple(range(1, 11))
MIN_PASSES = 8  # of the ten sweep seeds, for every fact
MAX_MEAN_DEVIATION_TICKS = 10.0
# Same long-run arrival rate as the shipped law (0.15 / (1 - 0.95) = 3 per step), no excitation.
NO_BURSTS = {"agents.noise.arrival": {"kind": "hawkes", "mu": 3.0, "branching": 0.0, "beta": 0.3}}
PERSISTENCE_LAGS = (5, 10)


def _mean_abs_return_acf(result: RunResult, lags: tuple[int, int]) -> float:
    """Mean ACF of the mid's absolute 1-step log returns over lags ``lags[0]..lags[1]``."""
    returns = log_returns(result.market["mid"].to_numpy())
    returns = returns[np.isfinite(returns)]
    first, last = lags
    return float(np.mean(autocorrelation(np.abs(returns), last)[first : last + 1]))


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return abm.load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def shipped_run(scenario: Scenario) -> RunResult:
    return abm.run(scenario)


@pytest.fixture(scope="module")
def mid_card(shipped_run: RunResult) -> pd.DataFrame:
    return scorecard(shipped_run.market["mid"])


def test_stylized_facts_scenario_fundamental_has_constant_volatility(scenario: Scenario) -> None:
    """The premise: the fundamental is Bachelier's arithmetic Brownian motion, one fixed sigma."""
    fundamental = scenario.fundamental
    assert isinstance(fundamental, ArithmeticSpec)
    assert fundamental.step_kind == "gaussian"
    assert fundamental.sigma > 0


@pytest.mark.parametrize("fact", FACTS)
def test_stylized_facts_scenario_mid_passes_fact(mid_card: pd.DataFrame, fact: str) -> None:
    """The shipped seed's mid passes each Cont (2001) fact at the scorecard's default thresholds."""
    row = mid_card.set_index("fact").loc[fact]
    assert row["passed"], f"{fact}: {row['value']:.4g} vs {row['threshold']:g}; {row['note']}"


def test_stylized_facts_scenario_fundamental_lacks_tails_and_clustering(
    shipped_run: RunResult,
) -> None:
    """Control: the same run's Gaussian fundamental fails heavy tails and volatility clustering."""
    passed = _passed(scorecard(shipped_run.market["fundamental"]))
    assert not passed["heavy_tails"]
    assert not passed["volatility_clustering"]


def test_stylized_facts_scenario_mid_tracks_fundamental(
    scenario: Scenario, shipped_run: RunResult
) -> None:
    """Anchoring: informed traders keep the mid within 10 ticks of the fundamental on average."""
    market = shipped_run.market
    deviation_ticks = (market["mid"] - market["fundamental"]).abs() / scenario.tick_size
    assert deviation_ticks.mean() < MAX_MEAN_DEVIATION_TICKS


def test_stylized_facts_scenario_bursts_make_clustering_persist(
    scenario: Scenario, shipped_run: RunResult
) -> None:
    """Without self-excitation (same rate) the ACF of |returns| at lags 5-10 falls by over half."""
    without_bursts = abm.run(scenario.override(NO_BURSTS))
    with_bursts_acf = _mean_abs_return_acf(shipped_run, PERSISTENCE_LAGS)
    assert with_bursts_acf > 2.0 * _mean_abs_return_acf(without_bursts, PERSISTENCE_LAGS)


@pytest.mark.slow
def test_stylized_facts_scenario_passes_on_most_seeds(scenario: Scenario) -> None:
    """Robustness: over seeds 1-10 every fact passes on at least 8 of them."""
    passes = dict.fromkeys(FACTS, 0)
    for seed in SWEEP_SEEDS:
        for fact, ok in _passed(scorecard(abm.run(scenario, seed=seed).market["mid"])).items():
            passes[fact] += ok
    assert min(passes.values()) >= MIN_PASSES, passes
