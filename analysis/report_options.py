"""The report's "Options" section, for runs with an options venue.

Numbers come from `analysis.options`: the implied volatility smile per expiry (the
out-of-the-money series' Black-Scholes implied volatility of the mid), the option market
makers' Greeks over time, and each dealer's P&L attribution (theta, gamma, vega, hedging cost
and the residual, summing to its equity change; `abm.agents.option_pnl`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from abm.results.run_result import RunResult
from analysis.formatting import format_value
from analysis.options import (
    PNL_TERMS,
    greeks_over_time,
    pnl_attribution,
    quoted_step,
    smile,
)
from analysis.report_document import (
    Block,
    Paragraph,
    Section,
    Table,
    attempt,
    figure_block,
)

OPTIONS_FIGURE = "options.png"
"""File name of `options_figure` in the report."""


def options_figure(result: RunResult) -> Figure:
    """The smile per expiry (left) and the dealers' summed gamma and net delta over time."""
    table = smile(result)
    greeks = greeks_over_time(result)
    figure = Figure(figsize=(10.0, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    for expiry in table.columns:
        left.plot(table.index, table[expiry], marker="o", label=f"expiry step {expiry}")
    left.set_xlabel("strike (price units)")
    left.set_ylabel("implied volatility (per sqrt(model time))")
    left.set_title(f"Smile at step {quoted_step(result)}")
    left.legend(fontsize=8)
    right.plot(greeks.index, greeks["gamma"], label="gamma (lots per price unit)")
    right.plot(greeks.index, greeks["delta"], label="net delta (lots)")
    right.axhline(0.0, color="grey", linewidth=0.5)
    right.set_xlabel("step")
    right.set_title("Option market makers, summed")
    right.legend(fontsize=8)
    return figure


def options_section(result: RunResult, *, figures: bool) -> Section:
    """The "Options" section: the smile, the dealers' P&L attribution, the figure."""
    title = "Options"
    blocks: list[Block] = [
        Paragraph(
            "Implied volatilities are Black-Scholes volatilities of the series' mids, per "
            "sqrt(unit of model time), of the put below the spot and the call above it. The "
            "attribution per option market maker: theta = Theta dt, gamma = 0.5 Gamma dS^2, "
            "vega = vega d(sigma), hedging = minus the spread and impact paid on hedges, and "
            "the residual, defined as the remainder (it holds the edge earned against the "
            "mids, the net delta's P&L and settlement), summed over the run; the five sum to "
            "the equity change."
        )
    ]
    table, error = attempt(lambda: smile(result))
    if table is None:
        blocks.append(Paragraph(f"Smile unavailable: {error}"))
    else:
        header = ("Strike", *(f"Expiry step {e}" for e in table.columns))
        rows = tuple(
            (format_value(float(strike)), *(_vol(v) for v in table.loc[strike].to_numpy()))
            for strike in table.index
        )
        caption = f"Implied volatility smile at step {quoted_step(result)}"
        blocks.append(Table(header, rows, caption))
    terms, terms_error = attempt(lambda: pnl_attribution(result))
    if terms is None:
        blocks.append(Paragraph(f"P&L attribution unavailable: {terms_error}"))
    else:
        names = (*PNL_TERMS, "total")
        header = ("Agent", *(n.removeprefix("pnl_") for n in names))
        rows = tuple(
            (str(agent_id), *(f"{float(row[n]):.3f}" for n in names))
            for agent_id, row in terms.iterrows()
        )
        blocks.append(Table(header, rows, "Option market makers' P&L (price units)"))
    if figures:
        caption = "Smile per expiry; option market makers' gamma and net delta"
        blocks.append(
            figure_block("Options", caption, OPTIONS_FIGURE, lambda: options_figure(result))
        )
    return Section(title, tuple(blocks))


def _vol(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else "-"
