"""The report's "AMM pool" section, for runs whose scenario has an ``amm`` section.

The headline table shows the run's ``amm_`` summary keys (`abm.results.amm_summary`;
recomputed for an older run without them); figures and the other tables come from
`analysis.amm_run`: the liquidity providers' P&L split into rebalancing P&L + fees - LVR
(exact, `abm.results.amm_summary.lp_pnl_decomposition`), the takers' venue shares and costs
by size, and the pool price beside the book's mid and the fundamental. The liquidity
providers' table (and bar figure) splits the same terms by scenario group, each group one
range rule, from the summary's ``amm_lp_by_group`` (`abm.market.amm.lp_ledger`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from abm.market.amm.venue import PROTOCOL
from abm.results.amm_summary import AMM_SUMMARY_KEYS
from abm.results.run_result import RunResult
from abm.scenario.amm_groups import LiquidityProviderGroup
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

__all__ = ["amm_section", "has_pool", "lp_groups", "lp_rule"]

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


_LP_TERMS = (
    ("fees", "Fees"),
    ("lvr", "LVR"),
    ("fees_minus_lvr", "Fees - LVR"),
    ("rebalancing_pnl", "Rebalancing P&L"),
    ("pool_pnl", "Pool P&L"),
)


_LP_NOTE = (
    "Each owner's terms use its own holdings, block by block, at the fundamental; an owner's "
    "deposit, withdrawal or re-range, or an exploit's drain, starts a new segment for it, and "
    "what moves between segments (a drain's loss) is in no term: the equity P&L (the group's "
    "final agents rows, at the run's mark) has it. The groups need not add up to the pool's "
    "totals above: a concentrated pool credits fees to positions in whole token units, "
    "rounded down, so base-token fees smaller than a lot per position never reach the "
    "providers (they stay in the pool), which the pool's totals count as fees."
)


def lp_rule(result: RunResult, group: str) -> str:
    """How a liquidity-provider group places its liquidity, in words (the scenario's rule)."""
    spec = result.scenario.agents.get(group)
    if not isinstance(spec, LiquidityProviderGroup):
        return "protocol-owned liquidity" if group == PROTOCOL else "not a provider group"
    pool = result.scenario.amm
    if pool is not None and pool.pool == "constant_product":
        return "constant product (full range)"
    rule = spec.range_rule
    if rule == "fixed":
        return f"fixed, +/-{spec.width:.2%}"
    if rule == "band":
        return (
            f"band +/-{spec.width:.2%}, re-centred when left "
            f"(checked every {spec.check_steps} steps)"
        )
    if rule == "volatility":
        return (
            f"volatility-scaled, +/-{spec.width_sigmas:g} sigma over {spec.horizon_steps} steps "
            f"(checked every {spec.check_steps} steps)"
        )
    return str(rule)


def lp_groups(result: RunResult) -> list[tuple[str, dict[str, Any]]]:
    """``amm_lp_by_group`` of the summary: scenario groups in document order, the protocol last."""
    saved = result.summary.get("amm_lp_by_group") or {}
    order = [name for name in result.scenario.agents if name in saved]
    return [(name, saved[name]) for name in [*order, *(n for n in saved if n not in order)]]


def _lp_table(result: RunResult) -> Table | None:
    groups = lp_groups(result)
    if not groups:
        return None
    equity = result.summary.get("pnl_by_group") or {}

    def equity_pnl(name: str, count: Any) -> str:
        mean = equity.get(name)
        return format_value(None if mean is None or count is None else mean * count)

    rows = tuple(
        (
            name,
            lp_rule(result, name),
            format_value(row.get("agents")),
            *(format_value(row.get(key)) for key, _ in _LP_TERMS),
            equity_pnl(name, row.get("agents")),
        )
        for name, row in groups
    )
    header = ("Group", "Rule", "Owners", *(label for _, label in _LP_TERMS), "Equity P&L")
    return Table(
        header,
        rows,
        "Liquidity providers by group (price units, summed over the group; Pool P&L = "
        "Rebalancing P&L + Fees - LVR exactly; abm.market.amm.lp_ledger)",
    )


def _lp_figure(result: RunResult) -> FigureBlock:
    groups = lp_groups(result)
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    names = [name for name, _ in groups]
    positions = np.arange(len(names))
    width = 0.27
    for offset, (key, label) in zip((-1, 0, 1), _LP_TERMS[:3], strict=True):
        values = [float(row.get(key) or 0.0) for _, row in groups]
        ax.bar(positions + offset * width, values, width, label=label)
    ax.axhline(0.0, color="0.4", lw=0.6)
    ax.set_xticks(positions, names)
    ax.set_ylabel("price units (summed over the group)")
    ax.set_title("Liquidity providers by rule: fees, LVR (a cost) and fees - LVR")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return FigureBlock("AMM liquidity providers by rule", "amm_lp_groups.png", png_bytes(fig))


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
    lp_table = _lp_table(result)
    if lp_table is not None:
        blocks.append(lp_table)
        blocks.append(Paragraph(_LP_NOTE))
    if figures:
        figure, figure_error = attempt(lambda: _figure(result))
        blocks.append(figure if figure is not None else Paragraph(figure_error))
        if lp_table is not None and len(lp_groups(result)) > 1:
            lp_figure, lp_error = attempt(lambda: _lp_figure(result))
            blocks.append(lp_figure if lp_figure is not None else Paragraph(lp_error))
    return Section(title, tuple(blocks))
