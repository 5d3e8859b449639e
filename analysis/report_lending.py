"""The report's "Lending pool" section, for runs whose scenario has a ``lending`` section.

Figures and tables come from `analysis.lending_run`: the four ``summary.json`` keys, the
pool's utilisation and rates, where liquidators sold the collateral they seized and at what
discount to the oracle price, the price impact of that flow block by block, and a four-panel
figure (prices and oracle, liquidations by cascade round, debt and rate, sales by venue).
"""

from __future__ import annotations

from abm.results.run_result import RunResult
from analysis.formatting import format_value
from analysis.lending_run import has_lending, lending_figure, lending_measures, liquidation_sales
from analysis.report_document import Block, Paragraph, Section, Table, attempt, figure_block

__all__ = ["has_lending", "lending_section"]

_ROWS = (
    ("liquidations", "Liquidations settled (count)"),
    ("liquidated_collateral", "Collateral seized (lots)"),
    ("bad_debt", "Bad debt written off (price units)"),
    ("liquidation_rounds", "Cascade depth: consecutive liquidation-induced rounds (count)"),
    ("refused_liquidations", "Liquidations sent but not settled (count)"),
    ("gas_paid", "Gas paid by liquidators (price units)"),
    ("sale_discount", "Liquidation sales' mean price / trigger oracle price - 1 (dimensionless)"),
    ("slope_bps_per_lot", "Book mid excess return per lot of liquidation sales in a block (bps)"),
    ("return_with_sales_bps", "Mean excess return, blocks with liquidation sales (bps)"),
    ("return_without_sales_bps", "Mean excess return, blocks without (bps)"),
    ("peak_utilisation", "Peak utilisation (dimensionless)"),
    ("peak_borrow_rate", "Peak borrow rate (per year)"),
    ("debt_peak", "Peak debt outstanding (price units)"),
    ("debt_end", "Debt outstanding at the end (price units)"),
)


def lending_section(result: RunResult, *, figures: bool = True) -> Section:
    """The "Lending pool" section: headline table, sales by venue, and its figure."""
    title = "Lending pool"
    measures, error = attempt(lambda: lending_measures(result))
    if measures is None:
        return Section(title, (Paragraph(f"Lending measures unavailable: {error}"),))
    intro = Paragraph(
        "Borrowers post the base asset as collateral and borrow cash from the pool; an account "
        "whose health factor at the pool's oracle falls below one is liquidated by a liquidator, "
        "who repays part of its debt, seizes collateral plus the bonus and sells it on the book "
        "or the AMM by best execution (analysis.lending_run). A cascade round is a block of "
        "liquidations that a fundamental-fed oracle would not have triggered: the price moves "
        "of trading, earlier liquidation sales included, caused them. Excess returns are the "
        "book mid's over a block minus the fundamental's."
    )
    rows = tuple((label, format_value(measures[key])) for key, label in _ROWS)
    blocks: list[Block] = [intro, Table(("Measure", "Value"), rows, "Pool and liquidations")]
    sales = liquidation_sales(result.trades)
    if len(sales):
        sale_rows = tuple(
            (
                str(venue),
                str(int(row.lots)),
                format_value(float(row.share)),
                format_value(float(row.vwap)),
                str(int(row.trades)),
            )
            for venue, row in sales.iterrows()
        )
        blocks.append(
            Table(
                ("Venue", "Lots sold", "Share of lots", "Mean price", "Trades"),
                sale_rows,
                "Where liquidators sold seized collateral",
            )
        )
    else:
        blocks.append(Paragraph("No liquidator sold collateral in this run."))
    if figures:
        blocks.append(
            figure_block(
                "Lending pool",
                "Lending pool: prices, liquidations by round, debt and sales by venue",
                "lending_pool.png",
                lambda: lending_figure(result),
            )
        )
    return Section(title, tuple(blocks))
