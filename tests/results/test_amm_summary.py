"""The ``amm_`` keys of ``summary.json`` (`abm.results.amm_summary`).

References: `analysis.amm_run.amm_summary` over the same run (the figures the report shows);
naive recomputations from the raw tables (fees valued at the fundamental row by row, the
arbitrageurs' cash and profit as plain float sums over their trades, swap counts); the LP
identity ``pnl == rebalancing_pnl + fees - lvr``; and the streamed path reading the trades a
few rows at a time, which must give the in-memory values bit for bit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _helpers import BASELINE

import abm
import abm.results.amm_summary as amm_summary_module
from abm.results.amm_summary import (
    AMM_SUMMARY_KEYS,
    MICRO,
    amm_summary_keys,
    amm_summary_keys_of_files,
)
from abm.streamed import run_to
from analysis.amm_run import amm_summary

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "amm"


@pytest.fixture(scope="module")
def result() -> abm.RunResult:
    return abm.run(abm.load_scenario(SCENARIOS / "lp_lvr.yaml").override({"steps": 200}))


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None


def test_summary_keys_equal_amm_summary_of_the_run(result: abm.RunResult) -> None:
    """Every amm_ key of summary.json is analysis.amm_run.amm_summary's figure (NaN as null)."""
    figures = amm_summary(result)
    keys = {key: result.summary[key] for key in AMM_SUMMARY_KEYS.values()}
    assert keys == {AMM_SUMMARY_KEYS[name]: _json(value) for name, value in figures.items()}


def test_summary_keys_match_naive_sums_of_the_tables(result: abm.RunResult) -> None:
    """Fees at the fundamental, arbitrage cash and profit, and swap counts, recomputed naively."""
    summary, tick = result.summary, result.scenario.tick_size
    pools = result.pools[result.pools["step"] > 0]
    fundamental = result.market.set_index("step")["fundamental"]
    fees = sum(
        (row.fees_base * fundamental[row.step] + row.fees_quote * tick) / MICRO
        for row in pools.itertuples()
    )
    assert summary["amm_fees"] == pytest.approx(fees, rel=1e-12)
    arb = result.trades[result.trades["purpose"].astype(str) == "arbitrage"]
    cash = profit = 0.0
    swaps = 0
    for row in arb.itertuples():
        side = 1.0 if row.aggressor == "buy" else -1.0
        cash -= side * row.price * row.qty
        if row.venue == "amm":
            profit += side * (fundamental[row.step] - row.price) * row.qty
            swaps += 1
    assert swaps > 0
    assert summary["amm_arbitrage_cash"] == pytest.approx(cash, rel=1e-12)
    assert summary["amm_arbitrage_profit"] == pytest.approx(profit, rel=1e-9)
    assert summary["amm_arbitrage_swaps"] == swaps
    assert summary["amm_swaps"] == int(pools["swaps"].sum())
    assert summary["amm_fees_minus_lvr"] == pytest.approx(summary["amm_fees"] - summary["amm_lvr"])
    identity = summary["amm_rebalancing_pnl"] + summary["amm_fees"] - summary["amm_lvr"]
    assert summary["amm_lp_pnl"] == pytest.approx(identity, abs=1e-9)


def test_rates_are_per_unit_time_and_pool_value(result: abm.RunResult) -> None:
    """lvr_rate = LVR / sum(V dt) with V = x S + y at block starts (1-step blocks, dt 1)."""
    summary, tick = result.summary, result.scenario.tick_size
    pools = result.pools[result.pools["step"] > 0]
    fundamental = result.market.set_index("step")["fundamental"].reindex(pools["step"])
    value = pools["base_before"].to_numpy() * fundamental.to_numpy() + (
        pools["quote_before"].to_numpy() * tick
    )
    assert summary["amm_pool_value_mean"] == pytest.approx(value.mean(), rel=1e-12)
    assert summary["amm_lvr_rate"] == pytest.approx(summary["amm_lvr"] / value.sum(), rel=1e-12)
    assert summary["amm_arbitrage_rate"] == pytest.approx(
        summary["amm_arbitrage_profit"] / value.sum(), rel=1e-12
    )


def test_a_run_without_a_pool_has_no_amm_keys() -> None:
    """No amm section: no amm_ key, and amm_summary_keys is empty."""
    plain = abm.run(abm.load_scenario(BASELINE).override({"steps": 20}))
    assert not [key for key in plain.summary if key.startswith("amm_")]
    assert amm_summary_keys(plain, plain.scenario) == {}


def test_streamed_figures_do_not_depend_on_the_trade_blocks(
    result: abm.RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the trades 7 rows at a time gives the in-memory values exactly."""
    saved = run_to(result.scenario, tmp_path / "run", flush_steps=13)
    monkeypatch.setattr(amm_summary_module, "_TRADE_BLOCK_ROWS", 7)
    assert len(result.trades) > 7 * 10
    again = amm_summary_keys_of_files(saved.path, result.scenario)
    expected = amm_summary_keys(result, result.scenario)
    assert again.keys() == expected.keys()
    for key, value in expected.items():
        assert again[key] == value or (np.isnan(again[key]) and np.isnan(value)), key
    assert {k: saved.summary[k] for k in expected} == {k: _json(v) for k, v in expected.items()}


def test_a_pool_without_a_block_gives_nan_figures() -> None:
    """Steps shorter than a block: no block to decompose, so the LP figures are NaN (null)."""
    scenario = abm.load_scenario(SCENARIOS / "amm_vs_book.yaml").override(
        {"steps": 1, "amm.block_steps": 5}
    )
    run = abm.run(scenario)
    assert run.summary["amm_fees"] is None and run.summary["amm_lvr_rate"] is None
    assert run.summary["amm_swaps"] == 0
    assert len(run.pools) == 1  # the step-0 row only


def test_cli_lines_show_the_pool_only_with_one(result: abm.RunResult) -> None:
    """``abm run`` prints the swaps and fees - LVR of a run with a pool, nothing for one without."""
    from analysis.summary import headline_lines

    lines = headline_lines(result.summary, result.scenario.tick_size)
    swaps = next(line for line in lines if line.startswith("amm pool:"))
    assert swaps.startswith(f"amm pool: {int(result.summary['amm_swaps'])} swaps")
    assert any(line.startswith("amm LPs: fees ") for line in lines)
    plain = abm.run(abm.load_scenario(BASELINE).override({"steps": 20}))
    assert not [line for line in headline_lines(plain.summary, 0.01) if line.startswith("amm")]
