"""The report's "AMM pool" section, for runs whose scenario has an ``amm`` section.

The headline table shows the run's ``amm_`` summary keys (`abm.results.amm_summary`;
recomputed for an older run without them); figures and the other tables come from
`analysis.amm_run`: the liquidity providers' P&L split into rebalancing P&L + fees - LVR
(exact, `abm.results.amm_summary.lp_pnl_decomposition`), the takers' venue shares and costs
by size, and the pool price beside the book's mid and the fundamental.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from abm.results.amm_summary import AMM_SUMMARY_KEYS
from abm.results.run_result import RunResult
from analysis.amm_run import amm_summary, cost_by_size, lp_decomposition, pool_blocks
from analysis.formatting import format_value
from analysis.report_document import (
    Block,
    FigureBlock,
    Paragraph,
    Section,
    Table,
    attempt,
    png_bytes,
)

__all__ = ["amm_section", "has_pool"]

_ROWS = (
    ("swaps", "Swaps executed (count)"),
    ("amm_taker_share", "Pool share of the takers' lots (dimensionless)"),
    ("pool_mid_gap_median", "Median |pool price / mid - 1| at block ends (dimensionless)"),
    ("price_discovery_book", "Price discovery share of the book, Gonzalo-Granger (dimensionless)"),
    ("price_discovery_amm", "Price discovery share of the pool (dimensionless)"),
    ("fees", "LP fees (price units, gain)"),
    ("lvr", "LP loss-versus-rebalancing (price units, cost)"),
    ("fees_minus_lvr", "LP P&L against rebalancing, fees - LVR (price units)"),
    ("rebalancing_pnl", "Rebalancing P&L of the pool's holdings (price units)"),
    ("pool_pnl", "Pool value change over its blocks (price units)"),
    ("arbitrage_cash", "Arbitrageurs' net cash from their trades (price units)"),
    ("arbitrage_swaps", "Arbitrageurs' pool swaps (count)"),
    ("arbitrage_profit", "Arbitrageurs' pool swap profit at the fundamental (price units)"),
    ("pool_value_mean", "Mean pool value at the fundamental (price units)"),
    ("lvr_rate", "LVR per unit time per unit of pool value (1/time)"),
    ("arbitrage_rate", "Arbitrage profit per unit time per unit of pool value (1/time)"),
)


def has_pool(result: RunResult) -> bool:
    """Whether the run has an AMM pool (rows in its ``pools`` table)."""
    return len(result.pools) > 0


def _figures(result: RunResult) -> dict[str, Any]:
    """The run's ``amm_`` summary keys by `amm_summary` name; computed if the summary lacks one."""
    if not all(key in result.summary for key in AMM_SUMMARY_KEYS.values()):
        return dict(amm_summary(result))
    return {name: result.summary[key] for name, key in AMM_SUMMARY_KEYS.items()}


def _figure(result: RunResult) -> FigureBlock:
    tick = result.scenario.tick_size
    pools, market = result.pools, result.market
    decomposition = lp_decomposition(pool_blocks(pools, market, tick), tick)
    fig = Figure(figsize=(9, 6.5))
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(market["step"], market["mid"], lw=0.8, label="book mid")
    top.plot(market["step"], market["fundamental"], lw=0.8, color="0.5", label="fundamental")
    top.step(pools["step"], pools["price"], where="post", lw=1.0, label="pool price")
    top.set_ylabel("price (price units)")
    top.legend(loc="best", fontsize=8)
    top.set_title("Pool price beside the book")
    steps = decomposition["time"]
    bottom.plot(steps, decomposition["fees"].cumsum(), label="fees (gain)")
    bottom.plot(steps, decomposition["lvr"].cumsum(), label="LVR (cost)")
    net = (decomposition["fees"] - decomposition["lvr"]).cumsum()
    bottom.plot(steps, net, label="fees - LVR")
    bottom.axhline(0.0, color="0.6", lw=0.6)
    bottom.set_xlabel("step")
    bottom.set_ylabel("cumulative (price units)")
    bottom.legend(loc="best", fontsize=8)
    bottom.set_title("Liquidity providers: fees against loss-versus-rebalancing")
    fig.tight_layout()
    return FigureBlock("AMM pool: price and LP P&L", "amm_pool.png", png_bytes(fig))


def amm_section(result: RunResult, *, figures: bool = True) -> Section:
    """The "AMM pool" section: headline table, costs by venue and size, and its figure."""
    title = "AMM pool"
    summary, error = attempt(lambda: _figures(result))
    if summary is None:
        return Section(title, (Paragraph(f"AMM measures unavailable: {error}"),))
    intro = Paragraph(
        "The pool beside the book (analysis.amm_run). LVR and fees use the fundamental as "
        "the external price; the identity pnl = rebalancing P&L + fees - LVR holds exactly "
        "block by block. Sign convention: fees and P&L are gains when positive, LVR is a "
        "cost to the liquidity providers."
    )
    rows = tuple((label, format_value(summary[key])) for key, label in _ROWS)
    blocks: list[Block] = [intro, Table(("Measure", "Value"), rows, "Pool and LPs")]
    costs, cost_error = attempt(lambda: cost_by_size(result.trades, result.market))
    if costs is not None and len(costs):
        flat = costs.reset_index()
        cost_rows = tuple(
            (str(venue), str(size), format_value(float(mean)), str(int(count)))
            for venue, size, mean, count in zip(
                flat["venue"], flat["size"], flat["mean"], flat["count"], strict=True
            )
        )
        blocks.append(
            Table(
                ("Venue", "Size (lots)", "Mean cost vs fundamental (relative)", "Trades"),
                cost_rows,
                "Takers' cost by venue and size (positive: paid above the value)",
            )
        )
    elif cost_error:
        blocks.append(Paragraph(f"Costs by size unavailable: {cost_error}"))
    if figures:
        figure, figure_error = attempt(lambda: _figure(result))
        blocks.append(figure if figure is not None else Paragraph(figure_error))
    return Section(title, tuple(blocks))
