"""`analysis.lending_run` and the report's "Lending pool" section.

References: the run's own ``summary.json`` keys (the section's four headline figures must be
those, `abm.results.lending_summary`), the ``trades`` table (lots sold per venue are a
recount of the liquidators' trades), and ordinary least squares by hand (the price-impact
slope of a synthetic run whose excess returns are a known linear function of the lots sold).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import abm
from analysis.lending_run import (
    has_lending,
    lending_figure,
    lending_measures,
    liquidation_impact,
    liquidation_sales,
)
from analysis.report_document import FigureBlock, Table
from analysis.report_lending import lending_section

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "defi" / "liquidation_cascade.yaml"


@pytest.fixture(scope="module")
def result() -> abm.RunResult:
    return abm.run(abm.load_scenario(SCENARIO).override({"steps": 700}))


def test_headline_figures_are_the_summary_keys(result: abm.RunResult) -> None:
    measures = lending_measures(result)
    assert has_lending(result)
    assert result.summary["liquidations"] > 0, "the shortened cascade must liquidate someone"
    for key in ("liquidations", "liquidated_collateral", "bad_debt", "liquidation_rounds"):
        assert measures[key] == pytest.approx(float(result.summary[key]))


def test_sales_per_venue_recount_the_liquidators_trades(result: abm.RunResult) -> None:
    sales = liquidation_sales(result.trades)
    trades = result.trades[result.trades["purpose"].astype(str) == "liquidation"]
    assert int(sales["lots"].sum()) == int(trades["qty"].sum()) > 0
    for venue, row in sales.iterrows():
        mine = trades[trades["venue"].astype(str) == venue]
        assert row["trades"] == len(mine)
        assert row["vwap"] == pytest.approx((mine["price"] * mine["qty"]).sum() / mine["qty"].sum())
    assert float(sales["share"].sum()) == pytest.approx(1.0)
    # nothing sold exceeds what was seized
    assert int(sales["lots"].sum()) <= int(result.liquidations["collateral_seized"].sum())


def test_section_has_table_sales_and_figure(result: abm.RunResult) -> None:
    section = lending_section(result)
    tables = [block for block in section.blocks if isinstance(block, Table)]
    assert [table.caption for table in tables] == [
        "Pool and liquidations",
        "Where liquidators sold seized collateral",
    ]
    headline = dict(tables[0].rows)
    assert headline["Liquidations settled (count)"] == str(result.summary["liquidations"])
    assert any(isinstance(block, FigureBlock) for block in section.blocks)
    figure = lending_figure(result)
    assert not figure.empty_panels


def test_no_pool_no_section() -> None:
    assert not has_lending(SimpleNamespace(lending=pd.DataFrame()))


def test_impact_slope_recovers_a_known_linear_relation() -> None:
    """Excess returns of -2 bps per lot plus a +1 bp drift: OLS by hand gives slope -2."""
    ends = np.arange(0, 110, 10)
    lots = np.array([0, 3, 0, 5, 1, 0, 0, 2, 4, 0])
    excess = 1.0 - 2.0 * lots  # bps per block
    fundamental = 100.0 * np.exp(np.cumsum(np.r_[0.0, np.full(10, -5e-4)]))
    mid = fundamental * np.exp(np.cumsum(np.r_[0.0, excess * 1e-4]))
    market = pd.DataFrame({"step": ends, "mid": mid, "fundamental": fundamental})
    lending = pd.DataFrame({"step": ends})
    sale_steps = [int(ends[i + 1]) - 2 for i, n in enumerate(lots) for _ in range(int(n))]
    trades = pd.DataFrame(
        {
            "step": sale_steps,
            "price": 100.0,
            "qty": 1,
            "venue": "book",
            "purpose": "liquidation",
        }
    )
    impact = liquidation_impact(lending, market, trades)
    x, y = lots.astype(float), excess
    by_hand = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert impact["slope_bps_per_lot"] == pytest.approx(by_hand) == pytest.approx(-2.0)
    assert impact["return_without_sales_bps"] == pytest.approx(1.0)
    assert impact["return_with_sales_bps"] == pytest.approx(1.0 - 2.0 * lots[lots > 0].mean())
    assert impact["blocks_with_sales"] == 5


def test_cli_summary_has_a_lending_line_only_with_a_pool(result: abm.RunResult) -> None:
    """`abm run` prints the four summary keys of a lending run, and no lending line otherwise."""
    from analysis.summary import headline_lines

    lines = headline_lines(result.summary, result.scenario.tick_size)
    line = next(line for line in lines if line.startswith("lending pool:"))
    assert line.startswith(f"lending pool: {result.summary['liquidations']} liquidations seized ")
    assert f"cascade depth {result.summary['liquidation_rounds']} rounds" in line
    plain = {"steps": 10, "fills": 0}
    assert not [line for line in headline_lines(plain, 0.01) if line.startswith("lending")]
