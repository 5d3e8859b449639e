"""Lending analysis: numbers from a cascade's tables, against closed forms and the run's totals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from abm.market.lending import AmmVenue, CascadeSimulator, LinearBookVenue, borrower_ladder
from abm.market.lending.oracles import PushOracleSpec
from analysis.lending import (
    bad_debt_path,
    cascade_depth,
    cascade_figure,
    cascade_waves,
    collateral_sold_per_venue,
    health_factor_distribution,
    interest_rate_path,
    lending_summary,
    liquidation_price_impact,
    liquidations_over_time,
)

P0 = Fraction(2000)
CRASH = [P0 * (1 - Fraction(30, 100) * min(max(t - 10, 0), 10) / 10) for t in range(80)]
BOOK_DEPTH = 4 * 10**6


def _congested_run() -> CascadeSimulator:
    """The crash with one liquidation per block in blocks 10-29: bad debt and a deep cascade."""
    sim = CascadeSimulator(
        borrower_ladder(20, 10**5, P0, 5000, 7400),
        PushOracleSpec(kind="push", deviation_bps=0, heartbeat_s=1, source="amm"),
        [AmmVenue(2 * 10**7, 4 * 10**10)],
        P0,
        capacity=[None] * 10 + [1] * 20,
    )
    sim.run(CRASH)
    return sim


def _book_run() -> CascadeSimulator:
    """The crash sold into a linear book only, its oracle the book's price."""
    sim = CascadeSimulator(
        borrower_ladder(20, 10**5, P0, 5000, 7400),
        PushOracleSpec(kind="push", deviation_bps=0, heartbeat_s=1, source="book"),
        [LinearBookVenue(P0, BOOK_DEPTH)],
        P0,
    )
    sim.run(CRASH)
    return sim


@pytest.fixture(scope="module")
def congested() -> dict[str, pd.DataFrame]:
    sim = _congested_run()
    tables = sim.tables()
    tables["summary"] = pd.DataFrame([sim.summary()])
    return tables


def test_lending_summary_matches_the_simulator_totals(congested: dict[str, pd.DataFrame]) -> None:
    """The four contract keys from the tables equal the simulator's own running totals."""
    summary = lending_summary(congested["blocks"], congested["liquidations"])
    expected = congested["summary"].iloc[0]
    for key in ("liquidations", "liquidated_collateral", "bad_debt", "liquidation_rounds"):
        assert summary[key] == expected[key]
    assert summary["bad_debt"] > 0 and summary["liquidation_rounds"] > 1


def test_liquidations_over_time_accumulates(congested: dict[str, pd.DataFrame]) -> None:
    """Running totals end at the log's totals; congestion caps blocks 10-29 at one each."""
    over = liquidations_over_time(congested["blocks"])
    log = congested["liquidations"]
    assert over["cumulative_liquidations"].iloc[-1] == len(log)
    assert over["cumulative_collateral"].iloc[-1] == log["collateral_seized"].sum()
    assert over.loc[10:29, "liquidations"].max() == 1


def test_bad_debt_path_is_cumulative(congested: dict[str, pd.DataFrame]) -> None:
    """Non-decreasing, ending at the total written off."""
    path = bad_debt_path(congested["blocks"])
    assert np.all(np.diff(path.to_numpy()) >= 0)
    assert path.iloc[-1] == congested["liquidations"]["bad_debt"].sum()


def test_cascade_waves_and_depth(congested: dict[str, pd.DataFrame]) -> None:
    """Waves partition the liquidation blocks; the deepest wave's depth is the cascade depth."""
    blocks = congested["blocks"]
    waves = cascade_waves(blocks)
    assert waves["liquidations"].sum() == blocks["liquidations"].sum()
    assert waves["blocks"].sum() == (blocks["liquidations"] > 0).sum()
    assert waves["depth"].max() == cascade_depth(blocks) == blocks["round_index"].max()


def test_health_distribution_counts_the_unhealthy(congested: dict[str, pd.DataFrame]) -> None:
    """Share below one at each block equals the accounts left liquidatable over those with debt."""
    blocks, health = congested["blocks"], congested["health"]
    for block in (15, 25, 79):
        stats = health_factor_distribution(health, block)
        left = int(blocks.loc[blocks["block"] == block, "liquidatable_left"].iloc[0])
        assert stats["share_below_one"] * stats["count"] == pytest.approx(left)
    first = health_factor_distribution(health, 0)
    # the ladder at block 0: loan-to-values 50%..74% at threshold 80% give 1.6 down to 1.081
    assert first["max"] == pytest.approx(0.8 / 0.5, rel=1e-6)
    assert first["min"] == pytest.approx(0.8 / 0.74, rel=1e-6)


def test_interest_rate_path_is_the_kinked_curve(congested: dict[str, pd.DataFrame]) -> None:
    """Closed form: below the kink the default curve is 0.04 * U / 0.8 (no base rate)."""
    path = interest_rate_path(congested["blocks"])
    assert (path["utilisation"] < 0.8).all()
    np.testing.assert_allclose(path["borrow_rate"], 0.05 * path["utilisation"], rtol=1e-9)


def test_collateral_sold_and_impact_on_a_linear_book() -> None:
    """Closed form: a linear book's relative impact per base sold is exactly -1 / depth."""
    sim = _book_run()
    log = sim.tables()["liquidations"]
    sold = collateral_sold_per_venue(log)
    assert list(sold.index) == ["book"]
    assert sold.loc["book", "collateral_sold"] == log["collateral_seized"].sum() > 0
    assert sold.loc["book", "average_price"] < float(P0)
    impact = liquidation_price_impact(log)
    assert impact.loc["book", "impact_per_base"] == pytest.approx(-1 / BOOK_DEPTH, rel=1e-9)
    # the product of the sales' moves is the price the sales alone took the book to
    moves = np.prod(1 - log["collateral_seized"].to_numpy(dtype=float) / BOOK_DEPTH)
    assert impact.loc["book", "total_impact"] == pytest.approx(moves - 1, rel=1e-9)


def test_cascade_figure_draws_every_panel(congested: dict[str, pd.DataFrame]) -> None:
    """Four panels with data: price lines, liquidation bars, bad debt, health histograms."""
    figure = cascade_figure(congested["blocks"], congested["liquidations"], congested["health"])
    assert figure.empty_panels == []
    prices, counts, debt, spread = figure.axes[:4]
    assert len(prices.get_lines()) == 3
    heights = sum(patch.get_height() for patch in counts.patches)
    assert heights == congested["blocks"]["liquidations"].sum()
    assert max(debt.get_lines()[0].get_ydata()) == congested["blocks"]["bad_debt"].sum()
    assert sum(patch.get_height() for patch in spread.patches) > 0
    assert "depth" in counts.get_title()


def test_cascade_figure_without_liquidations_says_so() -> None:
    """A run with no liquidation leaves the bars panel empty and names it."""
    sim = CascadeSimulator(
        borrower_ladder(3, 10**5, P0, 5000, 6000),
        PushOracleSpec(kind="push", deviation_bps=0, heartbeat_s=1, source="amm"),
        [AmmVenue(2 * 10**7, 4 * 10**10)],
        P0,
    )
    sim.run([P0] * 5)
    tables = sim.tables()
    figure = cascade_figure(tables["blocks"], tables["liquidations"], tables["health"])
    assert [title for title, _ in figure.empty_panels] == ["Liquidations per block (depth 0)"]
    assert lending_summary(tables["blocks"], tables["liquidations"])["liquidations"] == 0
    assert liquidation_price_impact(tables["liquidations"]).empty


def test_lending_tables_missing_columns_raise() -> None:
    """A table without the columns names them."""
    with pytest.raises(ValueError, match="round_index"):
        cascade_depth(pd.DataFrame({"block": [0]}))
