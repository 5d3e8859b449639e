"""Direction tests of the inventory-risk studies (scenarios/inventory_risk): what each tool buys.

Each study runs its scenarios on common replicate seeds (`abm.experiments.compare.compare_runs`)
and checks
the direction theory predicts, across seeds. The default runs use fewer seeds (and sometimes
fewer steps) than the shipped scenarios; their margins were checked over several root seeds.
The ``slow`` variants use more seeds and the scenarios' own lengths.

Sources of the predicted directions: Avellaneda & Stoikov (2008), section 3.3 (inventory-aware
quotes at the same average spread lower the dispersion of profit and of final inventory, at a
small cost in mean profit); Gueant, Lehalle & Fernandez-Tapia (2013) for the stationary skew;
hedging and rebalancing: a position's mark-to-market variance is proportional to its square,
so trading it down lowers P&L and inventory variance at the cost of the trades; a no-trade band
trades only on band exits (Whalley & Wilmott 1997); regimes and gap controls: adverse selection
grows with quote staleness and size (Glosten & Milgrom 1985), so wider, smaller quotes when
volatility is high, and a capped position into an announced gap, lose less.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abm
from abm.experiments.compare import compare_runs
from abm.experiments.studies import replicate_seeds

STUDIES = Path(__file__).resolve().parents[2] / "scenarios" / "inventory_risk"
HEDGE_BAND = 10  # hedge_band.yaml
QUOTE_SIZE = 5  # the dealer market's quote size
GAP_SIZE = 0.5  # gap_*.yaml
MAX_EXPOSURE = 5  # gap_controls.yaml


@dataclass(frozen=True)
class Budget:
    """How many seeds (from which root) and steps a study's test runs."""

    seeds: int
    root_seed: int = 7
    steps: int | None = None


def _study(names: list[str], budget: Budget) -> dict[str, pd.DataFrame]:
    """Per-seed measures of each scenario of a study, indexed by seed (common across them)."""
    scenarios = [abm.load_scenario(STUDIES / f"{name}.yaml") for name in names]
    runs = compare_runs(
        scenarios, seeds=budget.seeds, root_seed=budget.root_seed, steps=budget.steps
    )
    return {
        str(name): frame.set_index("seed") for name, frame in runs.groupby("scenario", sort=False)
    }


def _budgets(fast: Budget, slow: Budget) -> list[object]:
    return [pytest.param(fast, id="fast"), pytest.param(slow, id="slow", marks=pytest.mark.slow)]


def _paired_t(better: pd.Series, worse: pd.Series) -> float:
    """Student's t of the mean paired difference ``better - worse`` across common seeds."""
    return _t(better - worse)


def _t(values: pd.Series) -> float:
    """Student's t of the mean of ``values`` across seeds."""
    data = values.to_numpy(dtype=float)
    return float(data.mean() / (data.std(ddof=1) / np.sqrt(data.size)))


def _sd(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].std(ddof=1))


# --- quoting: symmetric vs Avellaneda-Stoikov vs GLFT under the AS 2008 flow -------------------

QUOTING = ["quoting_symmetric", "quoting_avellaneda_stoikov", "quoting_glft"]
INVENTORY_AWARE = ["quoting_avellaneda_stoikov", "quoting_glft"]


@pytest.fixture(scope="module", params=_budgets(Budget(24), Budget(400)))
def quoting(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _study(QUOTING, request.param)


@pytest.mark.parametrize("policy", INVENTORY_AWARE)
def test_quoting_policies_quote_the_same_average_spread(
    quoting: dict[str, pd.DataFrame], policy: str
) -> None:
    """The comparison's premise: each policy's average quoted spread is the symmetric one's."""
    symmetric = quoting["quoting_symmetric"]["quoted_spread"].mean()
    assert quoting[policy]["quoted_spread"].mean() == pytest.approx(symmetric, rel=0.005)


@pytest.mark.parametrize("policy", INVENTORY_AWARE)
def test_inventory_aware_quoting_lowers_pnl_variance(
    quoting: dict[str, pd.DataFrame], policy: str
) -> None:
    """AS (2008) Table 1: profit sd 6.6 with inventory-aware quotes against 12.7 symmetric."""
    assert _sd(quoting[policy], "pnl") < _sd(quoting["quoting_symmetric"], "pnl")


@pytest.mark.parametrize("policy", INVENTORY_AWARE)
def test_inventory_aware_quoting_lowers_final_inventory_variance(
    quoting: dict[str, pd.DataFrame], policy: str
) -> None:
    """AS (2008) Table 1: final inventory sd 2.9 with inventory-aware quotes against 8.4."""
    symmetric = _sd(quoting["quoting_symmetric"], "final_inventory")
    assert _sd(quoting[policy], "final_inventory") < symmetric / 2


@pytest.mark.parametrize("policy", INVENTORY_AWARE)
def test_inventory_aware_quoting_keeps_inventory_closer_to_zero(
    quoting: dict[str, pd.DataFrame], policy: str
) -> None:
    """The skew pulls inventory back: its path varies less than the symmetric maker's."""
    assert (
        _paired_t(quoting["quoting_symmetric"]["inventory_sd"], quoting[policy]["inventory_sd"]) > 4
    )


@pytest.mark.slow
def test_symmetric_quoting_earns_more_on_average(quoting: dict[str, pd.DataFrame]) -> None:
    """AS (2008) Table 1: symmetric mean profit 68.4 beats 65.0; lower risk costs a little."""
    symmetric = quoting["quoting_symmetric"]["pnl"]
    if len(symmetric) < 100:
        pytest.skip("a 2-3% difference in mean P&L needs the slow budget's seeds")
    assert _paired_t(symmetric, quoting["quoting_avellaneda_stoikov"]["pnl"]) > 2


# --- hedging: none / full / band / partial in the dealer market -------------------------------

HEDGES = ["hedge_none", "hedge_full", "hedge_band", "hedge_partial"]


@pytest.fixture(scope="module", params=_budgets(Budget(16, steps=400), Budget(100)))
def hedging(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _study(HEDGES, request.param)


@pytest.mark.parametrize("strategy", ["hedge_full", "hedge_band", "hedge_partial"])
def test_hedging_lowers_pnl_variance(hedging: dict[str, pd.DataFrame], strategy: str) -> None:
    """Hedging cancels part of the inventory's mark-to-market: P&L varies less across seeds."""
    assert _sd(hedging[strategy], "pnl") < 0.8 * _sd(hedging["hedge_none"], "pnl")


def test_band_hedging_trades_less_than_full(hedging: dict[str, pd.DataFrame]) -> None:
    """A no-trade band trades only when net delta leaves it: fewer trades in every seed."""
    band, full = hedging["hedge_band"], hedging["hedge_full"]
    assert (band["hedge_trades"] < full["hedge_trades"] / 2).all()


def test_band_hedging_costs_less_than_full(hedging: dict[str, pd.DataFrame]) -> None:
    """Fewer, larger trades pay less fee and rounding than re-hedging every lot."""
    band, full = hedging["hedge_band"], hedging["hedge_full"]
    assert (band["hedge_costs"] > full["hedge_costs"]).all()


def test_hedging_end_of_step_net_delta_is_bounded(hedging: dict[str, pd.DataFrame]) -> None:
    """Only a step's fills move net delta after its hedge: at most a quote size past target."""
    assert (hedging["hedge_full"]["net_delta_abs_max"] <= QUOTE_SIZE).all()
    assert (hedging["hedge_band"]["net_delta_abs_max"] <= HEDGE_BAND + QUOTE_SIZE).all()


@pytest.fixture(scope="module")
def band_hedged_runs() -> list[abm.RunResult]:
    scenario = abm.load_scenario(STUDIES / "hedge_band.yaml")
    return [abm.run(scenario, seed=seed, steps=300) for seed in replicate_seeds(3, 11)]


def test_band_hedging_leaves_net_delta_inside_the_band(
    band_hedged_runs: list[abm.RunResult],
) -> None:
    """After each hedge decision |inventory + hedge| <= band: hedge of t, inventory of t-1."""
    for result in band_hedged_runs:
        mm = result.agents[result.agents["group"] == "mm"].sort_values("step")
        after_hedge = mm["inventory"].to_numpy()[:-1] + mm["hedge"].to_numpy()[1:]
        assert np.abs(after_hedge).max() <= HEDGE_BAND
        assert np.abs(mm["net_delta"]).max() > HEDGE_BAND  # fills do push it out in between


# --- rebalancing: none / threshold / proportional / scheduled ----------------------------------

REBALANCES = [
    "rebalance_none",
    "rebalance_threshold",
    "rebalance_proportional",
    "rebalance_scheduled",
]
RULES = REBALANCES[1:]


@pytest.fixture(scope="module", params=_budgets(Budget(12, steps=400), Budget(100)))
def rebalancing(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _study(REBALANCES, request.param)


@pytest.mark.parametrize("rule", RULES)
def test_rebalancing_lowers_inventory_variance(
    rebalancing: dict[str, pd.DataFrame], rule: str
) -> None:
    """Trading inventory back towards flat shrinks its spread over time, in every seed."""
    none = rebalancing["rebalance_none"]["inventory_sd"]
    assert (rebalancing[rule]["inventory_sd"] < none).all()


@pytest.mark.parametrize("rule", RULES)
def test_rebalancing_lowers_final_inventory_variance(
    rebalancing: dict[str, pd.DataFrame], rule: str
) -> None:
    """Final inventory varies less across seeds with rebalancing."""
    none = _sd(rebalancing["rebalance_none"], "final_inventory")
    assert _sd(rebalancing[rule], "final_inventory") < 0.6 * none


@pytest.mark.parametrize("rule", RULES)
def test_rebalancing_keeps_quotes_off_the_limit(
    rebalancing: dict[str, pd.DataFrame], rule: str
) -> None:
    """Off its inventory limit the maker quotes both sides: uptime up, time at limit down."""
    none, ruled = rebalancing["rebalance_none"], rebalancing[rule]
    assert ruled["uptime"].mean() > none["uptime"].mean()
    assert ruled["time_at_limit"].mean() < none["time_at_limit"].mean()


@pytest.mark.parametrize("rule", RULES)
def test_rebalancing_cost_shows_in_the_decomposition(
    rebalancing: dict[str, pd.DataFrame], rule: str
) -> None:
    """Rebalancing crosses the spread: its cost is negative on average, and zero without it."""
    ruled = rebalancing[rule]
    assert (ruled["rebalance_volume"] > 0).all()
    assert _t(ruled["rebalancing_cost"]) < -3
    assert (rebalancing["rebalance_none"]["rebalancing_cost"] == 0).all()


# --- regimes through a volatility spike ------------------------------------------------------

REGIMES = ["regimes_off", "regimes_on"]


@pytest.fixture(scope="module", params=_budgets(Budget(24, steps=380), Budget(100)))
def regimes(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _study(REGIMES, request.param)


def test_regimes_reduce_losses_through_the_volatility_spike(
    regimes: dict[str, pd.DataFrame],
) -> None:
    """Wider, smaller quotes while volatility is high lose less to informed flow in the spike."""
    on, off = regimes["regimes_on"], regimes["regimes_off"]
    assert _paired_t(on["shock_window_pnl"], off["shock_window_pnl"]) > 2


def test_regimes_reduce_adverse_selection(regimes: dict[str, pd.DataFrame]) -> None:
    """Fewer lots are picked off: spread capture plus adverse selection is higher with regimes."""
    on, off = regimes["regimes_on"], regimes["regimes_off"]
    quoting_on = on["spread_capture"] + on["adverse_selection"]
    quoting_off = off["spread_capture"] + off["adverse_selection"]
    assert _paired_t(quoting_on, quoting_off) > 3


def test_regimes_cost_fills(regimes: dict[str, pd.DataFrame]) -> None:
    """The protection's price: a lower fill ratio, in every seed."""
    assert (regimes["regimes_on"]["fill_ratio"] < regimes["regimes_off"]["fill_ratio"]).all()


# --- an announced price gap with and without gap controls -------------------------------------

GAPS = ["gap_no_controls", "gap_controls"]


@pytest.fixture(scope="module", params=_budgets(Budget(16, steps=430), Budget(100)))
def gaps(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return _study(GAPS, request.param)


def test_gap_controls_cap_the_gap_hit(gaps: dict[str, pd.DataFrame]) -> None:
    """Net delta at the gap is capped: the hit is <= max_exposure * |gap|, well below open."""
    controlled, open_ = gaps["gap_controls"], gaps["gap_no_controls"]
    assert (controlled["gap_abs_pnl"] <= MAX_EXPOSURE * GAP_SIZE + 1e-9).all()
    assert controlled["gap_abs_pnl"].mean() < 0.5 * open_["gap_abs_pnl"].mean()


def test_gap_controls_reduce_losses_around_the_gap(gaps: dict[str, pd.DataFrame]) -> None:
    """Quotes left stale by the gap are picked off; wider, smaller, capped ones lose less."""
    controlled, open_ = gaps["gap_controls"], gaps["gap_no_controls"]
    stale_controlled = controlled["shock_window_pnl"] - controlled["gap_pnl"]
    stale_open = open_["shock_window_pnl"] - open_["gap_pnl"]
    assert _paired_t(stale_controlled, stale_open) > 2


def test_gap_controls_pay_to_cut_inventory(gaps: dict[str, pd.DataFrame]) -> None:
    """Cutting the position before the gap crosses the spread: a rebalancing cost."""
    controlled = gaps["gap_controls"]
    assert controlled["rebalancing_cost"].mean() < 0
    assert (gaps["gap_no_controls"]["rebalancing_cost"] == 0).all()
